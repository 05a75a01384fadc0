"""The tactic pages."""

from __future__ import annotations

from ruledex.analysis.matrix import matrix
from ruledex.analysis.tactics import tactic_page
from ruledex.analysis.vendors import check_vendor
from ruledex.web.views import Page, ViewContext


def tactic(ctx: ViewContext) -> Page:
    """One matrix column with its techniques ranked by rules; ``?vendor=`` narrows counts."""
    vendor = ctx.query.get("vendor") or None
    if vendor is not None:
        check_vendor(vendor)
    conn = ctx.conn
    name = ctx.params["shortname"]
    columns = ctx.catalog.cached(f"matrix:{vendor}:False", lambda: matrix(conn, vendor))
    data = tactic_page(conn, name, vendor, columns)
    return Page("tactic.html", data["name"], data)
