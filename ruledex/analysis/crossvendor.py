"""Indicators that rules of several vendors check: where Sigma, Elastic and Splunk agree."""

from __future__ import annotations

import sqlite3
from typing import Any

from ruledex.model import RuledexError
from ruledex.normalize import field_label

VENDORS = ("sigma", "elastic", "splunk")


def shared_indicators(conn: sqlite3.Connection, min_vendors: int = 2,
                      limit: int | None = None, field: str | None = None,
                      op: str | None = None) -> list[dict[str, Any]]:
    """Indicators checked (not excluded) by visible rules of at least ``min_vendors`` vendors.

    Ranked by vendor count, then by the rules of the vendor that checks it least,
    then by rules overall, so broadly shared checks come first. ``field`` and ``op``
    narrow the list to one canonical field or operator.
    """
    if not 1 <= min_vendors <= len(VENDORS):
        raise RuledexError(f"min_vendors must be between 1 and {len(VENDORS)}, got {min_vendors}")
    sql = ("SELECT iid, field, op, value, rules, exclusion_rules, sigma, elastic, splunk, "
           "vendors FROM indicators WHERE vendors >= ?")
    params: list[Any] = [min_vendors]
    if field is not None:
        sql += " AND field = ?"
        params.append(field)
    if op is not None:
        sql += " AND op = ?"
        params.append(op)
    sql += (" ORDER BY vendors DESC, MIN(CASE WHEN sigma > 0 THEN sigma ELSE 1e9 END,"
            " CASE WHEN elastic > 0 THEN elastic ELSE 1e9 END,"
            " CASE WHEN splunk > 0 THEN splunk ELSE 1e9 END) DESC, rules DESC,"
            " field, op, value")
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [{
        "iid": row[0], "field": row[1], "label": field_label(row[1]), "op": row[2],
        "value": row[3], "rules": row[4], "exclusion_rules": row[5],
        "per_vendor": {"sigma": row[6], "elastic": row[7], "splunk": row[8]},
        "vendors": row[9],
    } for row in conn.execute(sql, params)]


def shared_summary(conn: sqlite3.Connection) -> dict[str, Any]:
    """How many indicators each number of vendors checks, and each vendor pair shares."""
    by_count = {str(n): 0 for n in range(1, len(VENDORS) + 1)}
    for vendors, count in conn.execute(
            "SELECT vendors, COUNT(*) FROM indicators WHERE vendors > 0 GROUP BY vendors"):
        by_count[str(vendors)] = count
    pairs = {}
    for i, first in enumerate(VENDORS):
        for second in VENDORS[i + 1:]:
            pairs[f"{first}+{second}"] = conn.execute(
                f"SELECT COUNT(*) FROM indicators WHERE {first} > 0 AND {second} > 0"
            ).fetchone()[0]
    return {"indicators_by_vendor_count": by_count, "pairs": pairs}
