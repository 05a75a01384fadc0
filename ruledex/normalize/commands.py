"""``ruledex vocabulary ...``: how far the field vocabulary reaches, and what vendors share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ruledex.cli_common import console, db_option, handle_errors, resolve_db

# Built as an annotated object rather than with @click.group so that mypy knows its type
# where ruledex.cli imports it back.
vocabulary_command: click.Group = click.Group(
    "vocabulary", help="The field vocabulary shared by Sigma, Elastic and Splunk.")


@vocabulary_command.command("coverage")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def coverage(db: Path | None, as_json: bool) -> None:
    """Per vendor: share of field predicates the vocabulary maps, top unmapped raw fields."""
    from ruledex.catalog.store import connect
    from ruledex.normalize.coverage import coverage as field_coverage

    data = field_coverage(connect(resolve_db(db)))
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    summary = Table("vendor", "predicates", "mapped", "%", "unmapped fields",
                    title="Event and selector predicates whose field the vocabulary maps")
    for vendor, row in data["vendors"].items():
        summary.add_row(vendor, str(row["predicates"]), str(row["mapped"]),
                        f"{row['percent']:.2f}", str(row["unmapped_fields"]))
    console.print(summary)
    for vendor, row in data["vendors"].items():
        if not row["top_unmapped"]:
            continue
        table = Table("raw field", "predicates", "rules", title=f"{vendor}: top unmapped")
        for item in row["top_unmapped"]:
            table.add_row(item["field"], str(item["predicates"]), str(item["rules"]))
        console.print(table)


@vocabulary_command.command("shared")
@db_option
@click.option("--min-vendors", type=click.IntRange(1, 3), default=2, show_default=True,
              help="Only indicators checked by rules of at least this many vendors.")
@click.option("--field", default=None, help="Only this canonical field, e.g. process.executable.")
@click.option("--limit", default=50, show_default=True,
              help="Rows in the terminal; --json lists every indicator.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def shared(db: Path | None, min_vendors: int, field: str | None, limit: int,
           as_json: bool) -> None:
    """Indicators that rules of two or three vendors check, with rule counts per vendor."""
    from ruledex.analysis.crossvendor import shared_indicators, shared_summary
    from ruledex.catalog.store import connect

    conn = connect(resolve_db(db))
    rows = shared_indicators(conn, min_vendors, None if as_json else limit, field)
    if as_json:
        data: dict[str, Any] = {"min_vendors": min_vendors, **shared_summary(conn),
                                "indicators": rows}
        click.echo(json.dumps(data, indent=2))
        return
    summary = shared_summary(conn)
    counts = summary["indicators_by_vendor_count"]
    console.print(f"indicators checked by 3 vendors: {counts['3']}, by 2: {counts['2']}, "
                  f"by 1: {counts['1']}; pairs: " + ", ".join(
                      f"{pair} {n}" for pair, n in summary["pairs"].items()), highlight=False)
    table = Table("field", "op", "value", "sigma", "elastic", "splunk", "vendors",
                  title=f"indicators checked by {min_vendors}+ vendors (first {limit})")
    for row in rows:
        per = row["per_vendor"]
        table.add_row(row["label"], row["op"], row["value"], str(per["sigma"]),
                      str(per["elastic"]), str(per["splunk"]), str(row["vendors"]))
    console.print(table)
