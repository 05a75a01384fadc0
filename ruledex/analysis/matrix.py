"""The ATT&CK Enterprise matrix with rule counts per technique, and catalog totals."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any

from ruledex.analysis.vendors import VENDORS, check_vendor

HEAT_STEPS = (1, 3, 6, 16, 41)
"""Lowest rule count of each shade above zero; fixed so that shades compare across views."""


def heat(count: int) -> int:
    """The shade (0 to 5) of a matrix cell with ``count`` rules."""
    return sum(count >= step for step in HEAT_STEPS)


def _base(technique_id: str) -> str:
    return technique_id.split(".")[0]


def technique_counts(conn: sqlite3.Connection) -> dict[str, dict[str, dict[str, int]]]:
    """Visible rules per technique and vendor: ``{"own": ..., "with_subs": ...}`` maps.

    ``own`` counts rules tagged with exactly the id; ``with_subs`` counts each
    rule once under a parent technique however many of its sub-techniques it tags.
    """
    own: dict[str, dict[str, int]] = defaultdict(dict)
    with_subs: dict[str, dict[str, int]] = defaultdict(dict)
    rows = conn.execute(
        "SELECT rt.technique_id, r.vendor, r.rid FROM rule_techniques rt "
        "JOIN rules r ON r.rid = rt.rid WHERE r.hidden = 0").fetchall()
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for technique_id, vendor, rid in rows:
        own[technique_id][vendor] = own[technique_id].get(vendor, 0) + 1
        seen[(_base(technique_id), vendor)].add(rid)
    for (base, vendor), rids in seen.items():
        with_subs[base][vendor] = len(rids)
    return {"own": dict(own), "with_subs": dict(with_subs)}


def _cell(tid: str, name: str, counts: dict[str, int], vendor: str | None,
          multi: bool) -> dict[str, Any]:
    covered = sum(1 for v in VENDORS if counts.get(v))
    rules = counts.get(vendor, 0) if vendor else sum(counts.values())
    if multi and covered < 2:
        rules = 0
    return {"id": tid, "name": name, "rules": rules, "vendors": dict(counts),
            "covered_by": covered, "heat": heat(rules)}


def matrix(conn: sqlite3.Connection, vendor: str | None = None,
           multi: bool = False) -> dict[str, Any]:
    """Tactics in matrix order, each with its techniques and their sub-techniques.

    A cell's ``rules`` counts visible rules of ``vendor`` (all vendors when None)
    tagged with the technique or one of its sub-techniques; with ``multi`` a
    cell covered by fewer than two vendors counts zero.
    """
    if vendor is not None:
        check_vendor(vendor)
    counts = technique_counts(conn)
    techniques = conn.execute(
        "SELECT id, name, parent, tactics FROM techniques WHERE status = 'active' "
        "ORDER BY name").fetchall()
    subs: dict[str, list[sqlite3.Row]] = defaultdict(list)
    for row in techniques:
        if row["parent"]:
            subs[row["parent"]].append(row)

    columns = []
    for tactic in conn.execute("SELECT id, shortname, name FROM tactics ORDER BY ord"):
        cells = []
        for row in techniques:
            if row["parent"] or tactic["shortname"] not in json.loads(row["tactics"]):
                continue
            cell = _cell(row["id"], row["name"], counts["with_subs"].get(row["id"], {}),
                         vendor, multi)
            cell["own"] = _cell(row["id"], row["name"], counts["own"].get(row["id"], {}),
                                vendor, multi)["rules"]
            cell["subtechniques"] = [
                _cell(s["id"], s["name"], counts["own"].get(s["id"], {}), vendor, multi)
                for s in sorted(subs.get(row["id"], []), key=lambda s: s["id"])]
            cells.append(cell)
        columns.append({"id": tactic["id"], "shortname": tactic["shortname"],
                        "name": tactic["name"], "techniques": cells,
                        "covered": sum(1 for c in cells if c["rules"])})
    return {"vendor": vendor, "multi": multi, "tactics": columns,
            "heat_steps": list(HEAT_STEPS), "outside": outside_tags(conn)}


def outside_tags(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Technique tags that are not active ATT&CK techniques, with their visible rules."""
    rows = conn.execute(
        "SELECT rt.technique_id, rt.status, COUNT(*) FROM rule_techniques rt "
        "JOIN rules r ON r.rid = rt.rid WHERE rt.status != 'active' AND r.hidden = 0 "
        "GROUP BY rt.technique_id, rt.status ORDER BY rt.technique_id").fetchall()
    return [{"id": r[0], "status": r[1], "rules": r[2]} for r in rows]


def catalog_meta(conn: sqlite3.Connection) -> dict[str, Any]:
    """ATT&CK version, build time and catalog-wide totals for page headers."""
    meta = {row[0]: row[1] for row in conn.execute("SELECT key, value FROM meta")}
    rules = conn.execute(
        "SELECT COUNT(*), SUM(hidden = 0) FROM rules").fetchone()
    per_vendor = {row[0]: {"rules": row[1], "visible": row[2]} for row in conn.execute(
        "SELECT vendor, COUNT(*), SUM(hidden = 0) FROM rules GROUP BY vendor")}
    return {
        "attack_version": meta.get("attack_version"), "built_at": meta.get("built_at"),
        "schema_version": meta.get("schema_version"),
        "rules": rules[0], "visible_rules": rules[1] or 0, "vendors": per_vendor,
        "indicators": conn.execute(
            "SELECT COUNT(*) FROM indicators WHERE rules > 0").fetchone()[0],
    }


def technique_ids(conn: sqlite3.Connection) -> set[str]:
    """Every technique id with a page: ATT&CK's, and those only rules tag."""
    return {row[0] for row in conn.execute(
        "SELECT id FROM techniques UNION SELECT technique_id FROM rule_techniques")}
