"""Open a built catalog for reading."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ruledex.model import RuledexError


class CatalogMissing(RuledexError):
    """The catalog file does not exist or is not a ruledex catalog."""


def connect(db: Path | str, readonly: bool = True) -> sqlite3.Connection:
    """Open a catalog; read-only by default, rows addressable by column name."""
    path = Path(db)
    if not path.is_file():
        raise CatalogMissing("no catalog here; build one with `ruledex build PATH...`",
                             str(path))
    uri = f"{path.resolve().as_uri()}?mode=ro" if readonly else str(path)
    conn = sqlite3.connect(uri, uri=readonly, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.DatabaseError as err:
        conn.close()
        raise CatalogMissing(f"not a ruledex catalog ({err})", str(path)) from err
    return conn


def hidden_clause(include_hidden: bool, alias: str = "r") -> str:
    """SQL condition keeping deprecated rules, building blocks and hunting queries out."""
    return "1" if include_hidden else f"{alias}.hidden = 0"


def select_in(conn: sqlite3.Connection, sql: str, ids: Sequence[Any],
              *params: Any, size: int = 900) -> Iterator[Any]:
    """Rows of ``sql`` whose ``{ids}`` stands for the list ``ids``, bound before ``params``.

    SQLite caps the number of bound variables, so long lists are queried in chunks;
    a GROUP BY over the listed column stays correct, since chunks do not overlap.
    """
    for start in range(0, len(ids), size):
        chunk = list(ids[start:start + size])
        yield from conn.execute(sql.replace("{ids}", ",".join("?" * len(chunk))),
                                [*chunk, *params])
