"""Field pages: how the rules of every vendor test one canonical field."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from typing import Any

from ruledex.analysis.vendors import VENDORS
from ruledex.catalog.store import hidden_clause
from ruledex.model import RuledexError
from ruledex.normalize import KEYWORD_FIELD, field_label

KEYWORD_SLUG = "~"
"""Stands for the field-less keyword field in URLs, where an empty segment cannot."""

TOP_VALUES = 50
TOP_TECHNIQUES = 40


class UnknownField(RuledexError):
    """No predicate in the catalog tests this field."""


def field_slug(field: str) -> str:
    """The URL segment of a canonical field."""
    return KEYWORD_SLUG if field == KEYWORD_FIELD else field


def field_from_slug(slug: str) -> str:
    """The canonical field a URL segment names."""
    return KEYWORD_FIELD if slug == KEYWORD_SLUG else slug


def list_fields(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Every canonical field tested on events, with visible rules per vendor."""
    out = []
    for row in conn.execute("SELECT * FROM fields ORDER BY rules DESC, field"):
        vendors = {v: row[v] for v in ("sigma", "elastic", "splunk") if row[v]}
        out.append({"field": row["field"], "label": field_label(row["field"]),
                    "slug": field_slug(row["field"]), "rules": row["rules"],
                    "vendors": vendors, "indicators": row["indicators"]})
    return out


def field_page(conn: sqlite3.Connection, field: str,
               include_hidden: bool = False) -> dict[str, Any]:
    """Aliases per vendor, operators, top values and techniques of one canonical field."""
    visible = hidden_clause(include_hidden)
    rows = conn.execute(
        f"SELECT r.vendor, p.field_raw, p.op, p.stage, p.negated, p.rid FROM predicates p "
        f"JOIN rules r ON r.rid = p.rid WHERE p.field = ? AND {visible}", (field,)).fetchall()
    if not rows and conn.execute("SELECT 1 FROM predicates WHERE field = ? LIMIT 1",
                                 (field,)).fetchone() is None:
        raise UnknownField(f"no rule tests the field {field!r}")

    aliases: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    operators: dict[str, set[int]] = defaultdict(set)
    stages: dict[str, set[int]] = defaultdict(set)
    vendors: dict[str, set[int]] = defaultdict(set)
    for vendor, raw, op, stage, negated, rid in rows:
        aliases[vendor][raw if raw is not None else ""].add(rid)
        stages[stage].add(rid)
        if stage == "event" and not negated:
            operators[op].add(rid)
            vendors[vendor].add(rid)

    values = [dict(r) for r in conn.execute(
        "SELECT iid, op, value, rules, exclusion_rules, sigma, elastic, splunk, vendors "
        "FROM indicators WHERE field = ? AND (rules > 0 OR exclusion_rules > 0) "
        "ORDER BY rules DESC, exclusion_rules DESC, iid LIMIT ?", (field, TOP_VALUES))]
    techniques = [
        {"id": r[0], "name": r[1] or "", "rules": r[2]} for r in conn.execute(
            f"SELECT rt.technique_id, t.name, COUNT(DISTINCT rt.rid) FROM predicates p "
            f"JOIN rules r ON r.rid = p.rid JOIN rule_techniques rt ON rt.rid = p.rid "
            f"LEFT JOIN techniques t ON t.id = rt.technique_id "
            f"WHERE p.field = ? AND p.stage = 'event' AND p.negated = 0 AND {visible} "
            f"GROUP BY rt.technique_id ORDER BY 3 DESC, 1 LIMIT ?", (field, TOP_TECHNIQUES))]
    indicator_count = conn.execute(
        "SELECT COUNT(*) FROM indicators WHERE field = ?", (field,)).fetchone()[0]
    return {
        "field": field, "slug": field_slug(field), "label": field_label(field),
        "include_hidden": include_hidden,
        "rules": len({rid for rids in vendors.values() for rid in rids}),
        "vendors": {v: len(vendors[v]) for v in VENDORS if v in vendors},
        "aliases": {v: sorted(({"name": name, "rules": len(rids)}
                               for name, rids in aliases[v].items()),
                              key=lambda a: (-a["rules"], a["name"]))
                    for v in VENDORS if v in aliases},
        "stages": {s: len(rids) for s, rids in sorted(stages.items())},
        "operators": {op: len(rids) for op, rids in sorted(
            operators.items(), key=lambda kv: (-len(kv[1]), kv[0]))},
        "indicators": indicator_count, "values": values, "techniques": techniques,
    }
