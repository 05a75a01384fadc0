"""The server's read-only handle on a catalog file: one connection per thread, shared caches."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ruledex.catalog.store import connect

log = logging.getLogger(__name__)
T = TypeVar("T")


class CatalogHandle:
    """Read-only connections to a catalog, reopened when a new build replaces the file.

    Catalog-wide aggregates (the field index, the search vocabulary) are kept
    in :meth:`cached` until the file changes, so no request recomputes them.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        connect(self.path).close()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._generation = 0
        self._cache: dict[str, Any] = {}

    def _file_stamp(self) -> tuple[int, int, int]:
        st = self.path.stat()
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's read-only connection."""
        try:
            stamp = self._file_stamp()
        except OSError:
            stamp = self._stamp
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    log.info("catalog %s changed; reopening", self.path)
                    self._stamp = stamp
                    self._generation += 1
                    self._cache = {}
        local = self._local
        if getattr(local, "generation", None) != self._generation:
            conn = connect(self.path)
            conn.execute("PRAGMA query_only = ON")
            local.conn, local.generation = conn, self._generation
        conn_: sqlite3.Connection = local.conn
        return conn_

    def cached(self, key: str, factory: Callable[[], T]) -> T:
        """The value under ``key``, computed by ``factory`` the first time."""
        cache = self._cache
        if key not in cache:
            cache[key] = factory()
        value: T = cache[key]
        return value


class StaticCatalog:
    """One connection and a plain cache, for exporting pages outside the server."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self._cache: dict[str, Any] = {}

    def cached(self, key: str, factory: Callable[[], T]) -> T:
        if key not in self._cache:
            self._cache[key] = factory()
        value: T = self._cache[key]
        return value
