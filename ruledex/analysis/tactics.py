"""Tactic pages: one column of the matrix with its rules per vendor."""

from __future__ import annotations

import sqlite3
from typing import Any

from ruledex.analysis.matrix import matrix
from ruledex.model import RuledexError


class UnknownTactic(RuledexError):
    """No ATT&CK tactic has this short name or id."""


def tactic_page(conn: sqlite3.Connection, tactic: str, vendor: str | None = None,
                matrix_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A tactic's description, rules per vendor and its techniques with counts.

    ``matrix_data`` is ``matrix(conn, vendor)`` when the caller already has it.
    """
    row = conn.execute("SELECT * FROM tactics WHERE shortname = ? OR id = ?",
                       (tactic.lower(), tactic.upper())).fetchone()
    if row is None:
        raise UnknownTactic(f"no ATT&CK tactic {tactic!r}")
    vendors = {r[0]: r[1] for r in conn.execute(
        "SELECT r.vendor, COUNT(*) FROM rule_tactics rt JOIN rules r ON r.rid = rt.rid "
        "WHERE rt.tactic = ? AND r.hidden = 0 GROUP BY r.vendor ORDER BY r.vendor",
        (row["shortname"],))}
    if matrix_data is None:
        matrix_data = matrix(conn, vendor)
    column = next(c for c in matrix_data["tactics"] if c["id"] == row["id"])
    techniques = sorted(column["techniques"], key=lambda c: (-c["rules"], c["id"]))
    return {
        "id": row["id"], "shortname": row["shortname"], "name": row["name"],
        "description": row["description"], "vendor": vendor,
        "url": f"https://attack.mitre.org/tactics/{row['id']}/",
        "rules": sum(vendors.values()), "vendors": vendors,
        "techniques": techniques,
        "uncovered": [c["id"] for c in techniques if not c["rules"]],
    }
