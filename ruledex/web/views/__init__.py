"""Page views: each turns a request's parameters into page data, its template and title.

A view never sees the HTTP request: it gets a :class:`ViewContext`, so the same
view serves the web page, its JSON twin under ``/api`` and the static export.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ruledex.model import RuledexError

T = TypeVar("T")


class PageNotFound(RuledexError):
    """The address names nothing in the catalog."""


class BadRequest(RuledexError):
    """A query parameter has a value the page cannot use."""


class Moved(Exception):
    """The page lives at another address (a field asked for by one of its other names)."""

    def __init__(self, name: str, **params: Any):
        super().__init__(name)
        self.name = name
        self.params = params


class Catalog(Protocol):
    """What views need from the catalog: a connection and a cache of aggregates."""

    @property
    def conn(self) -> sqlite3.Connection: ...

    def cached(self, key: str, factory: Callable[[], T]) -> T: ...


@dataclass
class Page:
    """A rendered view: ``data`` is the JSON twin, ``context`` extra template values."""

    template: str
    title: str
    data: Any
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class ViewContext:
    """The catalog, path parameters and query parameters of one page request."""

    catalog: Catalog
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    static: bool = False

    @property
    def conn(self) -> sqlite3.Connection:
        return self.catalog.conn

    def flag(self, name: str) -> bool:
        """Whether a query parameter is set to a true value (``?all=1``)."""
        return self.query.get(name, "").lower() in ("1", "true", "yes", "on")

    def number(self, name: str, default: int) -> int:
        """A positive whole-number query parameter."""
        raw = self.query.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, not {raw!r}") from None
        if value < 1:
            raise BadRequest(f"{name} must be 1 or more")
        return value


View = Callable[[ViewContext], Page]
