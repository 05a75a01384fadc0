"""Indicator pages: every rule that checks one canonical (field, operator, value)."""

from __future__ import annotations

import sqlite3
from typing import Any

from ruledex.analysis.vendors import VENDORS, level_rank
from ruledex.catalog.store import hidden_clause, select_in
from ruledex.model import RuledexError
from ruledex.normalize import field_label


class UnknownIndicator(RuledexError):
    """No indicator has this id."""


def indicator_page(conn: sqlite3.Connection, iid: int,
                   include_hidden: bool = False) -> dict[str, Any]:
    """The indicator, its reach per vendor and the rules checking or excluding it."""
    row = conn.execute("SELECT * FROM indicators WHERE iid = ?", (iid,)).fetchone()
    if row is None:
        raise UnknownIndicator(f"no indicator {iid}")
    visible = hidden_clause(include_hidden)
    hits = conn.execute(
        f"SELECT p.rid, p.negated, p.field_raw, p.value_raw, p.op_raw, p.selection, "
        f"r.vendor, r.id, r.title, r.level, r.hidden FROM predicates p "
        f"JOIN rules r ON r.rid = p.rid WHERE p.iid = ? AND {visible} "
        f"ORDER BY p.rid", (iid,)).fetchall()

    rules: dict[tuple[int, int], dict[str, Any]] = {}
    for h in hits:
        entry = rules.setdefault((h["rid"], h["negated"]), {
            "vendor": h["vendor"], "id": h["id"], "title": h["title"], "level": h["level"],
            "hidden": bool(h["hidden"]), "negated": bool(h["negated"]), "raw": [],
            "techniques": []})
        spelling = {"field": h["field_raw"], "value": h["value_raw"]}
        if spelling not in entry["raw"]:
            entry["raw"].append(spelling)
    rids = sorted({rid for rid, _ in rules})
    techniques: dict[int, list[str]] = {}
    for rid, technique_id in select_in(
            conn, "SELECT rid, technique_id FROM rule_techniques WHERE rid IN ({ids}) "
                  "ORDER BY technique_id", rids):
        techniques.setdefault(rid, []).append(technique_id)
    for (rid, _), entry in rules.items():
        entry["techniques"] = techniques.get(rid, [])
    ordered = sorted(rules.values(), key=lambda e: (
        e["negated"], VENDORS.index(e["vendor"]) if e["vendor"] in VENDORS else 9,
        level_rank(e["level"]), e["title"]))

    others = [dict(r) for r in conn.execute(
        "SELECT iid, op, value, rules, exclusion_rules FROM indicators "
        "WHERE field = ? AND value = ? AND iid != ? ORDER BY rules DESC",
        (row["field"], row["value"], iid))]
    return {
        "iid": iid, "field": row["field"], "label": field_label(row["field"]),
        "op": row["op"], "value": row["value"], "include_hidden": include_hidden,
        "reach": {"rules": row["rules"], "exclusion_rules": row["exclusion_rules"],
                  "vendors": row["vendors"], **{v: row[v] for v in VENDORS}},
        "rules": [e for e in ordered if not e["negated"]],
        "exclusions": [e for e in ordered if e["negated"]],
        "other_operators": others,
    }
