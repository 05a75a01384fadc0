"""The search page."""

from __future__ import annotations

from ruledex.analysis.search import PER_PAGE, field_vocabulary, search
from ruledex.web.views import Page, ViewContext


def search_page(ctx: ViewContext) -> Page:
    """Full text and structured search with facets; ``?q=`` and ``?page=``."""
    conn = ctx.conn
    text = ctx.query.get("q", "").strip()
    if ctx.static:
        # The exported site searches in the browser over a prebuilt index.
        return Page("search.html", "Search", {"query": ""}, {"q": ""})
    vocabulary = ctx.catalog.cached("vocabulary", lambda: field_vocabulary(conn))
    data = search(conn, text, ctx.number("page", 1), ctx.number("per_page", PER_PAGE),
                  vocabulary=vocabulary)
    return Page("search.html", f"Search: {text}" if text else "Search", data, {"q": text})
