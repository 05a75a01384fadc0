"""The ``ruledex`` command line: a thin layer over the library."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ruledex import settings
from ruledex.cli_common import console, db_option, err_console, handle_errors, resolve_db
from ruledex.model import RuledexError


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="ruledex")
def main(debug: bool) -> None:
    """ruledex: a cross-vendor catalog of detection rules tied to MITRE ATT&CK."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@main.command()
@db_option
@click.option("--attack", "attack_path", type=click.Path(exists=True, path_type=Path),
              help="ATT&CK STIX bundle or snapshot [default: the packaged snapshot].")
@click.argument("paths", nargs=-1)
@handle_errors
def build(db: Path | None, attack_path: Path | None, paths: tuple[str, ...]) -> None:
    """Build the catalog from rule repository checkouts.

    Each PATH is a checkout of SigmaHQ/sigma, elastic/detection-rules or
    splunk/security_content, its vendor detected from its layout; VENDOR=PATH
    forces the vendor. Without PATH, the repositories `ruledex sync` fetched.
    """
    from ruledex.catalog.build import build as build_catalog
    from ruledex.sync import default_sources

    specs = list(paths) or default_sources(Path(settings.CACHE.value()))
    if not specs:
        raise RuledexError("no rule repositories given and none synced; "
                           "pass checkout paths or run `ruledex sync` first")
    columns = (TextColumn("{task.description:8}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def progress(vendor: str, done: int, total: int) -> None:
            if vendor not in tasks:
                tasks[vendor] = bar.add_task(vendor, total=total)
            bar.update(tasks[vendor], completed=done)

        summary = build_catalog(resolve_db(db), specs, attack_path, progress)
    from ruledex.render import build_summary
    console.print(build_summary(summary))


@main.command()
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def stats(db: Path | None, as_json: bool) -> None:
    """Rules, parse results and predicates per vendor."""
    from ruledex.analysis.stats import stats as catalog_stats
    from ruledex.catalog.store import connect

    data = catalog_stats(connect(resolve_db(db)))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from ruledex.render import stats_table
    console.print(stats_table(data))


@main.command()
@db_option
@click.argument("technique_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "include_hidden", is_flag=True,
              help="Count deprecated rules, building blocks and hunting queries too.")
@click.option("--limit", default=15, show_default=True, help="Rows per table in the terminal.")
@handle_errors
def technique(db: Path | None, technique_id: str, as_json: bool, include_hidden: bool,
              limit: int) -> None:
    """The authoring guide of one ATT&CK technique, e.g. T1543.002."""
    from ruledex.analysis.technique import technique_page
    from ruledex.catalog.store import connect

    page = technique_page(connect(resolve_db(db)), technique_id, include_hidden)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    from ruledex.render import technique_report
    technique_report(console, page, limit)


@main.command()
@db_option
@click.option("--host", default=None, help=f"[default: {settings.HOST.default}]")
@click.option("--port", type=int, default=None, help=f"[default: {settings.PORT.default}]")
@handle_errors
def serve(db: Path | None, host: str | None, port: int | None) -> None:
    """Serve the catalog's web pages (read-only)."""
    import uvicorn

    from ruledex.web.app import create_app

    app = create_app(resolve_db(db))
    uvicorn.run(app, host=host or settings.HOST.value(),
                port=port or int(settings.PORT.value()), log_level="warning")


@main.command("attack-snapshot")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Snapshot file [default: the one shipped in the package].")
@handle_errors
def attack_snapshot(bundle: Path, out: Path | None) -> None:
    """Make the compact ATT&CK snapshot from an Enterprise STIX bundle."""
    from ruledex import attack

    data = attack.load_bundle(bundle)
    target = out or Path(__file__).parent / "data" / attack.SNAPSHOT_NAME
    attack.write_snapshot(data, target)
    console.print(f"ATT&CK {data.version}: {len(data.tactics)} tactics, "
                  f"{len(data.techniques)} techniques, {len(data.data_components)} data "
                  f"components -> {target}")


@main.command()
@click.option("--cache", type=click.Path(path_type=Path), default=None,
              help=f"Cache folder [default: ${settings.CACHE.env} or ~/.cache/ruledex].")
@click.option("--url", "urls", multiple=True, metavar="VENDOR=URL",
              help="Clone from this URL instead of the upstream one (repeatable).")
@handle_errors
def sync(cache: Path | None, urls: tuple[str, ...]) -> None:
    """Clone or update the upstream rule repositories; `build` then uses them."""
    from ruledex.sync import sync as sync_repos

    chosen = None
    if urls:
        chosen = {}
        for spec in urls:
            vendor, sep, url = spec.partition("=")
            if not sep or vendor not in settings.UPSTREAM:
                raise RuledexError(f"--url wants VENDOR=URL with VENDOR in "
                                   f"{', '.join(settings.UPSTREAM)}, got {spec!r}")
            chosen[vendor] = url
    for repo in sync_repos(cache or Path(settings.CACHE.value()), chosen):
        console.print(f"{repo.vendor}: {repo.action} {repo.path} at {repo.commit[:12]}")



@main.command("export-site")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@db_option
@handle_errors
def export_site(out: Path, db: Path | None) -> None:
    """Write the whole catalog as a static site into the folder OUT."""
    from ruledex.export import export_site as write_site

    with Progress(BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("pages", total=None)
        summary = write_site(resolve_db(db), out,
                             lambda done, total: bar.update(task, completed=done, total=total))
    note = f", {summary.errors} shown as unavailable" if summary.errors else ""
    console.print(f"{summary.pages} pages{note} -> {summary.out}/index.html "
                  f"in {summary.seconds:.1f}s", highlight=False)


def _register() -> None:
    """Add the command groups that live next to the library code they drive."""
    from ruledex.events.commands import events_command, feasible_command
    from ruledex.normalize.commands import vocabulary_command

    for command in (events_command, feasible_command, vocabulary_command):
        main.add_command(command)


_register()
