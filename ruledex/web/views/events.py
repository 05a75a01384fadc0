"""The event catalog pages, shown once the event library is part of the package."""

from __future__ import annotations

import importlib
from types import ModuleType

from ruledex.web.views import Page, PageNotFound, ViewContext

EVENTS_MODULE = "ruledex.analysis.events"


def _library() -> ModuleType:
    try:
        return importlib.import_module(EVENTS_MODULE)
    except ImportError:
        raise PageNotFound("the event catalog is not part of this version of ruledex; "
                           "technique and rule pages list the events each rule reads") from None


def events(ctx: ViewContext) -> Page:
    """Every event the catalog's rules read."""
    library = _library()
    conn = ctx.conn
    data = ctx.catalog.cached("events", lambda: library.list_events(conn))
    return Page("events.html", "Events", data)


def event(ctx: ViewContext) -> Page:
    """One event: the rules reading it and what they test."""
    library = _library()
    data = library.event_page(ctx.conn, ctx.params["id"], ctx.flag("all"))
    return Page("event.html", f"Event {ctx.params['id']}", data)
