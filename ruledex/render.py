"""Rich renderings of build summaries, statistics and technique pages for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from ruledex.catalog.build import BuildSummary


def build_summary(summary: BuildSummary) -> Group:
    """The per-vendor table printed at the end of a build, then the first failures."""
    table = Table(title=f"catalog {summary.db} built in {summary.seconds:.1f}s")
    for column in ("vendor", "files", "rules", "parsed", "failed", "predicates"):
        table.add_column(column, justify="left" if column == "vendor" else "right")
    parts: list[Any] = [table]
    for s in summary.sources:
        table.add_row(s.vendor, str(s.files), str(s.rules), str(s.parsed), str(s.failed),
                      str(s.predicates))
        for failure in s.failures[:10]:
            parts.append(Text(f"  {s.vendor}: {failure}", style="red"))
        if len(s.failures) > 10:
            parts.append(Text(f"  {s.vendor}: {len(s.failures) - 10} more failures "
                              "(see the failures table)", style="red"))
    return Group(*parts)


def stats_table(data: dict[str, Any]) -> Table:
    table = Table(title=f"{data['techniques']} techniques covered")
    for column in ("vendor", "files", "rules", "parsed", "failed", "predicates"):
        table.add_column(column, justify="left" if column == "vendor" else "right")
    for vendor, row in data["vendors"].items():
        table.add_row(vendor, *(str(row[k]) for k in
                                ("files", "rules", "parsed", "failed", "predicates")))
    return table


def technique_report(console: Console, page: dict[str, Any], limit: int) -> None:
    """Print a technique page as a header and rich tables."""
    tech = page["technique"]
    console.print(f"[bold]{tech['id']} {tech['name']}[/]  "
                  f"tactics: {', '.join(tech['tactics']) or '-'}  status: {tech['status']}")
    if tech.get("url"):
        console.print(tech["url"], style="blue")
    console.print(f"{page['rules_total']} rules: " + ", ".join(
        f"{vendor} {len(rules)}" for vendor, rules in page["rules"].items()))
    if page["subtechniques"]:
        sub = Table(title="sub-techniques")
        for column in ("id", "name", "rules"):
            sub.add_column(column)
        for s in page["subtechniques"]:
            sub.add_row(s["id"], s["name"], str(s["rules"]))
        console.print(sub)

    events = Table(title=f"events covered ({len(page['events'])})")
    events.add_column("event")
    events.add_column("rules", justify="right")
    for e in page["events"][:limit]:
        events.add_row(e["name"], str(e["rules"]))
    console.print(events)

    fields = Table(title=f"fields filtered most ({len(page['fields'])} distinct)")
    for column in ("field", "rules", "how", "sample values"):
        fields.add_column(column, justify="right" if column == "rules" else "left")
    for f in page["fields"][:limit]:
        how = ", ".join(f"{op} {n}" for op, n in f["operators"].items())
        fields.add_row(f.get("label") or f["field"], str(f["rules"]), how,
                       Text(" | ".join(f["samples"])))
    console.print(fields)

    for key, title in (("indicators", "top indicator values"), ("exclusions", "exclusions")):
        table = Table(title=f"{title} ({len(page[key])} distinct)")
        for column in ("field", "op", "value", "rules", "reach"):
            table.add_column(column, justify="right" if column in ("rules", "reach") else "left")
        for i in page[key][:limit]:
            reach = f"{i['reach']} (specific)" if i["specific"] else str(i["reach"])
            table.add_row(i.get("label") or i["field"], i["op"], Text(i["value"]),
                          str(i["rules"]), reach)
        console.print(table)

    for vendor, rules in page["rules"].items():
        table = Table(title=f"{vendor} rules ({len(rules)})")
        for column in ("title", "level", "path"):
            table.add_column(column)
        for r in rules:
            table.add_row(Text(r["title"]), r["level"], r["path"])
        console.print(table)
