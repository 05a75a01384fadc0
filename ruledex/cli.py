"""The ``ruledex`` command line: a thin layer over the library."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ruledex import settings
from ruledex.model import RuledexError

console = Console()
err_console = Console(stderr=True)

HINTS = {
    "CatalogMissing": "build a catalog first: ruledex build PATH...",
    "UnknownTechnique": "technique ids look like T1059 or T1059.001",
    "SyncFailed": "check the network and the repository URLs (see `ruledex --help`)",
}


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one red line with a hint; --debug shows the traceback."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RuledexError as err:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            name = type(err).__name__
            err_console.print(f"[bold red]error[/] ({name}): {err}", highlight=False)
            hint = HINTS.get(name)
            if hint:
                err_console.print(f"[dim]hint: {hint}[/]", highlight=False)
            sys.exit(1)
    return wrapper


def _db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--db", type=click.Path(path_type=Path), default=None,
                        help=f"Catalog file [default: ${settings.DB.env} or "
                             f"{settings.DB.default}].")(func)


def _db(db: Path | None) -> Path:
    return db if db is not None else Path(settings.DB.value())


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="ruledex")
def main(debug: bool) -> None:
    """ruledex: a cross-vendor catalog of detection rules tied to MITRE ATT&CK."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@main.command()
@_db_option
@click.option("--attack", "attack_path", type=click.Path(exists=True, path_type=Path),
              help="ATT&CK STIX bundle or snapshot [default: the packaged snapshot].")
@click.argument("paths", nargs=-1)
@_handle_errors
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

        summary = build_catalog(_db(db), specs, attack_path, progress)
    from ruledex.render import build_summary
    console.print(build_summary(summary))


@main.command()
@_db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_handle_errors
def stats(db: Path | None, as_json: bool) -> None:
    """Rules, parse results and predicates per vendor."""
    from ruledex.analysis.stats import stats as catalog_stats
    from ruledex.catalog.store import connect

    data = catalog_stats(connect(_db(db)))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from ruledex.render import stats_table
    console.print(stats_table(data))


@main.command()
@_db_option
@click.argument("technique_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "include_hidden", is_flag=True,
              help="Count deprecated rules, building blocks and hunting queries too.")
@click.option("--limit", default=15, show_default=True, help="Rows per table in the terminal.")
@_handle_errors
def technique(db: Path | None, technique_id: str, as_json: bool, include_hidden: bool,
              limit: int) -> None:
    """The authoring guide of one ATT&CK technique, e.g. T1543.002."""
    from ruledex.analysis.technique import technique_page
    from ruledex.catalog.store import connect

    page = technique_page(connect(_db(db)), technique_id, include_hidden)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    from ruledex.render import technique_report
    technique_report(console, page, limit)


@main.command()
@_db_option
@click.option("--host", default=None, help=f"[default: {settings.HOST.default}]")
@click.option("--port", type=int, default=None, help=f"[default: {settings.PORT.default}]")
@_handle_errors
def serve(db: Path | None, host: str | None, port: int | None) -> None:
    """Serve the catalog's web pages (read-only)."""
    import uvicorn

    from ruledex.web.app import create_app

    app = create_app(_db(db))
    uvicorn.run(app, host=host or settings.HOST.value(),
                port=port or int(settings.PORT.value()), log_level="warning")


@main.command("attack-snapshot")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Snapshot file [default: the one shipped in the package].")
@_handle_errors
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
@_handle_errors
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


from ruledex.export import export_site_command  # noqa: E402

main.add_command(export_site_command)


from ruledex.events.commands import events_command, feasible_command  # noqa: E402

main.add_command(events_command)
main.add_command(feasible_command)


from ruledex.normalize.commands import vocabulary_command  # noqa: E402

main.add_command(vocabulary_command)
