"""The technique page: an authoring guide built from the rules tagged with a technique."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from typing import Any

from ruledex.catalog.store import hidden_clause, select_in
from ruledex.model import RuledexError
from ruledex.normalize import field_label

SAMPLES_PER_FIELD = 5
VENDOR_ORDER = ("sigma", "elastic", "splunk")


class UnknownTechnique(RuledexError):
    """Neither ATT&CK nor any rule knows this technique id."""


def technique_header(conn: sqlite3.Connection, technique_id: str) -> dict[str, Any]:
    """Id, name, tactics, parent, description, status and ATT&CK link of a technique."""
    row = conn.execute("SELECT * FROM techniques WHERE id = ?", (technique_id,)).fetchone()
    if row is None:
        return {"id": technique_id, "name": "", "tactics": [], "parent":
                technique_id.split(".")[0] if "." in technique_id else None,
                "description": "", "status": "unknown", "url": None, "revoked_by": None,
                "citations": []}
    return {
        "id": row["id"], "name": row["name"], "tactics": json.loads(row["tactics"]),
        "parent": row["parent"], "description": row["description"], "status": row["status"],
        "url": "https://attack.mitre.org/techniques/" + row["id"].replace(".", "/") + "/",
        "revoked_by": row["revoked_by"], "citations": json.loads(row["citations"]),
    }


def technique_page(conn: sqlite3.Connection, technique_id: str,
                   include_hidden: bool = False) -> dict[str, Any]:
    """Everything the technique page shows, in the shape of ``ruledex technique --json``.

    Counts are over the rules tagged with exactly this technique id; deprecated
    rules, building blocks and hunting queries count only with ``include_hidden``.
    Fields and indicators come from event-stage predicates that are not negated;
    negated ones form the exclusions table. A rule counts once per row however
    many of its predicates fall in that row.
    """
    technique_id = technique_id.strip().upper()
    header = technique_header(conn, technique_id)
    visible = hidden_clause(include_hidden)
    rules = conn.execute(
        f"SELECT r.rid, r.vendor, r.id, r.title, r.level, r.path, r.kind, r.hidden "
        f"FROM rule_techniques rt JOIN rules r ON r.rid = rt.rid "
        f"WHERE rt.technique_id = ? AND {visible} ORDER BY r.vendor, r.title",
        (technique_id,)).fetchall()
    if header["status"] == "unknown" and not rules:
        tagged = conn.execute("SELECT 1 FROM rule_techniques WHERE technique_id = ? LIMIT 1",
                              (technique_id,)).fetchone()
        if tagged is None:
            raise UnknownTechnique(f"no ATT&CK technique or rule tag {technique_id}")
    by_rid = {row["rid"]: row for row in rules}

    predicates = _event_predicates(conn, list(by_rid))
    positives = [p for p in predicates if not p["negated"]]
    negatives = [p for p in predicates if p["negated"]]
    return {
        "technique": header,
        "rules_total": len(rules),
        "include_hidden": include_hidden,
        "subtechniques": _subtechniques(conn, technique_id, visible),
        "events": _events(conn, list(by_rid)),
        "fields": _fields(positives, by_rid),
        "indicators": _indicators(conn, positives, by_rid, negated=False, visible=visible),
        "exclusions": _indicators(conn, negatives, by_rid, negated=True, visible=visible),
        "rules": _rules_by_vendor(rules),
    }


def _event_predicates(conn: sqlite3.Connection, rids: list[int]) -> list[sqlite3.Row]:
    return list(select_in(
        conn, "SELECT rid, field_raw, field, op, value, value_raw, negated, iid "
              "FROM predicates WHERE rid IN ({ids}) AND iid IS NOT NULL", rids))


def _fields(predicates: list[sqlite3.Row], by_rid: dict[int, sqlite3.Row]) -> list[dict[str, Any]]:
    rules: dict[str, set[int]] = defaultdict(set)
    operators: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    aliases: dict[str, Counter[str]] = defaultdict(Counter)
    values: dict[str, dict[tuple[str, str], set[int]]] = defaultdict(lambda: defaultdict(set))
    for p in predicates:
        field = p["field"]
        rules[field].add(p["rid"])
        operators[field][p["op"]].add(p["rid"])
        if p["field_raw"]:
            aliases[field][p["field_raw"]] += 1
        if p["op"] not in ("exists", "is_null"):
            values[field][(p["op"], p["value"])].add(p["rid"])
    out: list[dict[str, Any]] = []
    for field, rids in rules.items():
        ranked = sorted(values[field].items(), key=lambda kv: (-len(kv[1]), kv[0]))
        out.append({
            "field": field,
            "label": field_label(field),
            "aliases": [name for name, _ in aliases[field].most_common()],
            "rules": len(rids),
            "operators": {op: len(r) for op, r in sorted(
                operators[field].items(), key=lambda kv: (-len(kv[1]), kv[0]))},
            "samples": [value for (_, value), _ in ranked[:SAMPLES_PER_FIELD]],
        })
    out.sort(key=lambda f: (-f["rules"], f["field"]))
    return out


def _indicators(conn: sqlite3.Connection, predicates: list[sqlite3.Row],
                by_rid: dict[int, sqlite3.Row], negated: bool,
                visible: str) -> list[dict[str, Any]]:
    groups: dict[int, set[int]] = defaultdict(set)
    keys: dict[int, tuple[str, str, str]] = {}
    for p in predicates:
        groups[p["iid"]].add(p["rid"])
        keys[p["iid"]] = (p["field"], p["op"], p["value"])
    reach = _reach(conn, list(groups), negated, visible)
    out: list[dict[str, Any]] = []
    for iid, rids in groups.items():
        field, op, value = keys[iid]
        here = len(rids)
        corpus = reach.get(iid, here)
        out.append({
            "iid": iid, "field": field, "label": field_label(field), "op": op, "value": value,
            "rules": here,            "reach": corpus, "specific": corpus == here,
            "rule_ids": sorted(by_rid[rid]["id"] for rid in rids),
        })
    out.sort(key=lambda i: (-i["rules"], -i["reach"], i["field"], i["op"], i["value"]))
    return out


def _reach(conn: sqlite3.Connection, iids: list[int], negated: bool,
           visible: str) -> dict[int, int]:
    """How many rules in the whole catalog check each indicator, with the same polarity."""
    return {row[0]: row[1] for row in select_in(
        conn, "SELECT p.iid, COUNT(DISTINCT p.rid) FROM predicates p "
              "JOIN rules r ON r.rid = p.rid "
              f"WHERE p.iid IN ({{ids}}) AND p.negated = ? AND {visible} GROUP BY p.iid",
        iids, int(negated))}


def _subtechniques(conn: sqlite3.Connection, technique_id: str,
                   visible: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        f"SELECT t.id, t.name, t.status, "
        f"(SELECT COUNT(*) FROM rule_techniques rt JOIN rules r ON r.rid = rt.rid "
        f" WHERE rt.technique_id = t.id AND {visible}) AS rules "
        f"FROM techniques t WHERE t.parent = ? ORDER BY t.id", (technique_id,)).fetchall()
    return [{"id": r["id"], "name": r["name"], "status": r["status"], "rules": r["rules"]}
            for r in rows if r["status"] == "active" or r["rules"]]


def _events(conn: sqlite3.Connection, rids: list[int]) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}
    for row in select_in(
            conn, "SELECT e.id, e.name, COUNT(DISTINCT re.rid) FROM rule_events re "
                  "JOIN events e ON e.id = re.event_id WHERE re.rid IN ({ids}) "
                  "GROUP BY e.id", rids):
        counts[row[0]] += row[2]
        names[row[0]] = row[1]
    return [{"id": e, "name": names[e], "rules": n}
            for e, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _rules_by_vendor(rules: list[sqlite3.Row]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict]] = {}
    for vendor in sorted({r["vendor"] for r in rules},
                         key=lambda v: (VENDOR_ORDER.index(v) if v in VENDOR_ORDER else 9, v)):
        grouped[vendor] = [
            {"id": r["id"], "title": r["title"], "level": r["level"], "path": r["path"],
             "kind": r["kind"], "hidden": bool(r["hidden"])}
            for r in rules if r["vendor"] == vendor]
    return grouped
