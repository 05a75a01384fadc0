"""The rule page: metadata, ATT&CK tags, logic outline, indicators and source."""

from __future__ import annotations

from ruledex.analysis.rules import rule_page
from ruledex.analysis.vendors import check_vendor
from ruledex.web.markup import highlight_source
from ruledex.web.views import Page, ViewContext


def rule(ctx: ViewContext) -> Page:
    """One rule by vendor and id."""
    vendor = check_vendor(ctx.params["vendor"])
    data = rule_page(ctx.conn, vendor, ctx.params["id"])
    source = highlight_source(data["source"]["text"], data["source"]["lexer"])
    return Page("rule.html", data["rule"]["title"], data, {"source_html": source})
