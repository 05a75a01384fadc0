"""Open a built catalog for reading."""

from __future__ import annotations

import sqlite3
from pathlib import Path

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
