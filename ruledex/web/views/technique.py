"""The technique page: the authoring guide of one ATT&CK technique."""

from __future__ import annotations

from typing import Any

from ruledex.analysis.technique import technique_page
from ruledex.web.charts import level_bars
from ruledex.web.views import Page, ViewContext

ROWS = 200
"""Indicator and exclusion rows shown before a "show all" link; the JSON has them all.

The static site has no "show all" page: its long tail is on the rule pages."""


def technique(ctx: ViewContext) -> Page:
    """The technique's guide; ``?all=1`` counts hidden rules, ``?rows=all`` lists every row."""
    include_hidden = ctx.flag("all")
    data = technique_page(ctx.conn, ctx.params["id"], include_hidden)
    header = data["technique"]

    # Indicator rows list rule ids; the template links them through this index.
    rule_index: dict[str, list[dict[str, Any]]] = {}
    for vendor, rules in data["rules"].items():
        for rule in rules:
            rule_index.setdefault(rule["id"], []).append({"vendor": vendor, **rule})
    rows = None if ctx.query.get("rows") == "all" and not ctx.static else ROWS
    title = f"{header['id']} {header['name']}".strip()
    return Page("technique.html", title, data, {
        "chart": level_bars(data["rules"]), "rule_index": rule_index, "rows": rows,
        "include_hidden": include_hidden,
    })
