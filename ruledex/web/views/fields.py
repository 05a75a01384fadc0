"""The field index and the field pages."""

from __future__ import annotations

from ruledex.analysis.fields import (
    UnknownField,
    field_from_slug,
    field_page,
    field_slug,
    list_fields,
)
from ruledex.analysis.search import field_vocabulary
from ruledex.web.views import Moved, Page, ViewContext


def fields(ctx: ViewContext) -> Page:
    """Every canonical field tested on events."""
    conn = ctx.conn
    data = ctx.catalog.cached("fields", lambda: list_fields(conn))
    return Page("fields.html", "Fields", data)


def field(ctx: ViewContext) -> Page:
    """How the rules of every vendor test one canonical field; other names redirect to it."""
    conn = ctx.conn
    name = field_from_slug(ctx.params["field"])
    hidden = ctx.flag("all")
    try:
        # One entry per field and toggle at most: the catalog's fields bound the cache.
        data = ctx.catalog.cached(f"field:{name}:{hidden}", lambda: field_page(conn, name, hidden))
    except UnknownField:
        vocabulary = ctx.catalog.cached("vocabulary", lambda: field_vocabulary(conn))
        known = vocabulary.get(name.casefold(), set())
        if not known:
            raise
        # A name may stand for several canonical fields; the most tested one wins.
        rules = {f["field"]: f["rules"] for f in ctx.catalog.cached(
            "fields", lambda: list_fields(conn))}
        best = min(known, key=lambda f: (-rules.get(f, 0), len(f), f))
        raise Moved("field", field=field_slug(best)) from None
    return Page("field.html", f"Field {data['label']}", data)
