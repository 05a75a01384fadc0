"""``ruledex events ...`` and ``ruledex feasible``: thin commands over ruledex.analysis.events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ruledex.cli_common import console, db_option, handle_errors, resolve_db


@click.group("events")
def _events() -> None:
    """The event catalog: which concrete telemetry each rule needs."""


# Typed names for cli.py, which imports this module while it is being read.
events_command: click.Group = _events


@_events.command("coverage")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def coverage(db: Path | None, as_json: bool) -> None:
    """Per vendor: non-deprecated rules mapped to at least one concrete event."""
    from ruledex.analysis.events import events_coverage
    from ruledex.catalog.store import connect

    data = events_coverage(connect(resolve_db(db)))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    table = Table("vendor", "rules", "mapped", "%", title="Rules mapped to a concrete event")
    for vendor, row in data["vendors"].items():
        table.add_row(vendor, str(row["rules"]), str(row["mapped"]), f"{row['percent']:.1f}")
    console.print(table)
    for vendor, row in data["vendors"].items():
        for reason in row["reasons"]:
            console.print(f"{vendor}: {reason['rules']} unmapped: {reason['reason']}",
                          highlight=False)


@_events.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--limit", default=40, show_default=True, help="Rows in the terminal.")
@handle_errors
def list_command(db: Path | None, as_json: bool, limit: int) -> None:
    """Events of the catalog, most needed first."""
    from ruledex.analysis.events import list_events
    from ruledex.catalog.store import connect

    events = list_events(connect(resolve_db(db)))
    if as_json:
        click.echo(json.dumps(events, indent=2))
        return
    table = Table("id", "name", "title", "class", "rules by vendor")
    for event in events[:limit]:
        counts = ", ".join(f"{v} {n}" for v, n in event["rules"].items())
        table.add_row(event["id"], event["name"], event["title"], event["class"]["name"] or "",
                      counts or "-")
    console.print(table)


@_events.command("show")
@db_option
@click.argument("event")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "include_hidden", is_flag=True,
              help="Count deprecated rules, building blocks and hunting queries too.")
@click.option("--limit", default=15, show_default=True, help="Rows per table in the terminal.")
@handle_errors
def show(db: Path | None, event: str, as_json: bool, include_hidden: bool, limit: int) -> None:
    """One event, by id or name (sysmon:1, 'Security 4688'): its rules, techniques, fields."""
    from ruledex.analysis.events import event_page
    from ruledex.catalog.store import connect

    page = event_page(connect(resolve_db(db)), event, include_hidden)
    if as_json:
        click.echo(json.dumps(page, indent=2))
        return
    head = page["event"]
    console.print(f"[bold]{head['name']}[/] ({head['id']}) {head['title']}", highlight=False)
    console.print(f"class: {head['class'].get('name') or head['class']['id']} "
                  f"{head['class'].get('data_component') or ''}  "
                  f"ATT&CK log source: {head.get('attack_log_source') or '-'}", highlight=False)
    counts = ", ".join(f"{v} {len(r)}" for v, r in page["rules"].items())
    console.print(f"{page['rules_total']} rules ({counts or 'none'})", highlight=False)
    _rows(Table("technique", "name", "rules"),
          [(t["id"], t["name"], str(t["rules"])) for t in page["techniques"][:limit]])
    _rows(Table("field", "rules", "excluding"),
          [(f["label"], str(f["rules"]), str(f["exclusion_rules"]))
           for f in page["fields"][:limit]])


@click.command("feasible")
@db_option
@click.argument("events_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "include_hidden", is_flag=True,
              help="Count deprecated rules, building blocks and hunting queries too.")
@handle_errors
def _feasible(db: Path | None, events_file: Path, as_json: bool,
              include_hidden: bool) -> None:
    """Which rules run on the events listed in EVENTS_FILE, one id or name per line.

    A rule runs when each of its needs is met by a collected event: Sigma
    process_creation needs Sysmon 1 or Security 4688; an EQL sequence of a
    process start then a network connection needs both. Collecting a whole
    provider (sysmon) collects each of its events.
    """
    from ruledex.analysis.events import feasibility, read_events_file
    from ruledex.catalog.store import connect

    conn = connect(resolve_db(db))
    data = feasibility(conn, read_events_file(events_file, conn), include_hidden)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    console.print("collected: " + ", ".join(f"{e['name']} ({e['id']})"
                                            for e in data["collected"]), highlight=False)
    table = Table("vendor", "rules", "runnable", "%", "not runnable", "undecided",
                  "techniques", title="Rules runnable on the collected events")
    for vendor, row in data["vendors"].items():
        table.add_row(vendor, str(row["rules"]), str(row["runnable"]), f"{row['percent']:.1f}",
                      str(row["not_runnable"]), str(row["undecided"]),
                      str(len(row["techniques"])))
    console.print(table)
    console.print(f"ATT&CK techniques covered by runnable rules: {len(data['techniques'])}",
                  highlight=False)
    for vendor, row in data["vendors"].items():
        if row["missing"]:
            top = ", ".join(f"{m['name']} (+{m['rules']})" for m in row["missing"][:5])
            console.print(f"{vendor}: collecting one more event would run most with {top}",
                          highlight=False)


feasible_command: click.Command = _feasible


def _rows(table: Table, rows: list[tuple[Any, ...]]) -> None:
    for row in rows:
        table.add_row(*row)
    if rows:
        console.print(table)
