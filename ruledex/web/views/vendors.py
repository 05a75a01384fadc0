"""The vendor pages."""

from __future__ import annotations

from ruledex.analysis.vendors import vendor_page
from ruledex.web.views import Page, ViewContext


def vendor(ctx: ViewContext) -> Page:
    """What one vendor's repository contributes to the catalog."""
    conn = ctx.conn
    name = ctx.params["vendor"]
    data = ctx.catalog.cached(f"vendor:{name}", lambda: vendor_page(conn, name))
    return Page("vendor.html", data["name"], data)
