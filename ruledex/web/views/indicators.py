"""The indicator pages."""

from __future__ import annotations

from ruledex.analysis.indicators import indicator_page
from ruledex.web.views import Page, PageNotFound, ViewContext


def indicator(ctx: ViewContext) -> Page:
    """Every rule checking (or excluding) one canonical field, operator and value."""
    raw = ctx.params["iid"]
    if not raw.isdigit():
        raise PageNotFound(f"indicator ids are numbers, not {raw!r}")
    data = indicator_page(ctx.conn, int(raw), ctx.flag("all"))
    return Page("indicator.html", f"{data['label']} {data['op']} {data['value']}", data)
