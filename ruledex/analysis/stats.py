"""Catalog totals per vendor."""

from __future__ import annotations

import sqlite3
from typing import Any


def stats(conn: sqlite3.Connection) -> dict[str, Any]:
    """Files, rules, parsed, failed and predicates per vendor, and the techniques covered."""
    vendors: dict[str, dict[str, int]] = {}
    for row in conn.execute(
            "SELECT vendor, SUM(files), SUM(rules), SUM(parsed), SUM(failed), SUM(predicates) "
            "FROM sources GROUP BY vendor ORDER BY vendor"):
        vendors[row[0]] = {"files": row[1], "rules": row[2], "parsed": row[3],
                           "failed": row[4], "predicates": row[5]}
    techniques = conn.execute(
        "SELECT COUNT(DISTINCT rt.technique_id) FROM rule_techniques rt "
        "JOIN rules r ON r.rid = rt.rid WHERE r.hidden = 0").fetchone()[0]
    return {"vendors": vendors, "techniques": techniques}


def sources(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The repositories the catalog was built from, with their commits."""
    return [dict(row) for row in conn.execute(
        "SELECT vendor, path, commit_id AS 'commit', files, rules, parsed, failed, predicates "
        "FROM sources ORDER BY source_id")]
