"""The home page: the ATT&CK matrix shaded by rule counts, catalog totals and sources."""

from __future__ import annotations

from ruledex.analysis.matrix import catalog_meta, matrix
from ruledex.analysis.stats import sources, stats
from ruledex.analysis.vendors import check_vendor
from ruledex.web.views import Page, ViewContext


def home(ctx: ViewContext) -> Page:
    """Matrix for ``?vendor=`` (all when absent) and ``?multi=1`` (two or more vendors)."""
    vendor = ctx.query.get("vendor") or None
    if vendor == "all":
        vendor = None
    if vendor is not None:
        check_vendor(vendor)
    multi = ctx.flag("multi")
    conn = ctx.conn
    data = {
        "catalog": ctx.catalog.cached("meta", lambda: catalog_meta(conn)),
        "stats": ctx.catalog.cached("stats", lambda: stats(conn)),
        "sources": sources(conn),
        "matrix": ctx.catalog.cached(f"matrix:{vendor}:{multi}",
                                     lambda: matrix(conn, vendor, multi)),
    }
    return Page("home.html", "ATT&CK coverage", data)
