"""Event pages, event coverage per vendor, and which rules a set of collected events runs.

A rule's needs are groups of alternative events (see :mod:`ruledex.events`).
A rule is *runnable* when every group has at least one collected event; an
event counts as collected when it, or its provider as a whole, is collected
(collecting Sysmon collects Sysmon 1). A rule whose events are unknown or
incomplete (a reason in ``rule_event_gaps``) is *undecided*, never runnable.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from ruledex.analysis.technique import VENDOR_ORDER
from ruledex.catalog.store import hidden_clause, select_in
from ruledex.events.catalog import EventCatalog, UnknownEvent, load
from ruledex.events.splunk import resolve_data_source
from ruledex.normalize import field_label

TOP_REASONS = 5
TOP_MISSING = 10


def _vendor_key(vendor: str) -> tuple[int, str]:
    return (VENDOR_ORDER.index(vendor) if vendor in VENDOR_ORDER else 9, vendor)


def _event_row(conn: sqlite3.Connection, event_id: str) -> sqlite3.Row | None:
    return conn.execute("SELECT e.*, c.name AS class_name, c.data_component FROM events e "
                        "LEFT JOIN event_classes c ON c.id = e.class WHERE e.id = ?",
                        (event_id,)).fetchone()


def _event_dict(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "title": row["title"],
            "provider": row["provider"], "code": row["code"], "parent": row["parent"],
            "class": {"id": row["class"], "name": row["class_name"],
                      "data_component": row["data_component"]},
            "platform": row["platform"], "attack_log_source": row["attack_log_source"]}


def resolve_event(conn: sqlite3.Connection, text: str,
                  catalog: EventCatalog | None = None) -> str:
    """The event id meant by an id or a name; Splunk data-source names are accepted too."""
    catalog = catalog or load()
    if _event_row(conn, text.strip()) is not None:
        return text.strip()
    try:
        return catalog.resolve(text)
    except UnknownEvent:
        events = resolve_data_source(catalog, text)
        if events and len(events) == 1:
            return events[0]
        raise


def list_events(conn: sqlite3.Connection, include_hidden: bool = False) -> list[dict[str, Any]]:
    """Every event of the catalog with the rules that need it, per vendor."""
    visible = hidden_clause(include_hidden)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for event_id, vendor, rules in conn.execute(
            f"SELECT re.event_id, r.vendor, COUNT(DISTINCT re.rid) FROM rule_events re "
            f"JOIN rules r ON r.rid = re.rid WHERE {visible} GROUP BY 1, 2"):
        counts[event_id][vendor] = rules
    out = []
    for row in conn.execute("SELECT e.*, c.name AS class_name, c.data_component FROM events e "
                            "LEFT JOIN event_classes c ON c.id = e.class"):
        item = _event_dict(row)
        item["rules"] = dict(sorted(counts[row["id"]].items(), key=lambda kv: _vendor_key(kv[0])))
        item["rules_total"] = sum(counts[row["id"]].values())
        out.append(item)
    out.sort(key=lambda e: (-e["rules_total"], e["id"]))
    return out


def event_page(conn: sqlite3.Connection, event_id: str,
               include_hidden: bool = False) -> dict[str, Any]:
    """One event: what it is, the rules and techniques that need it, the fields they test.

    Fields come from the event-stage predicates of those rules; in a sequence,
    only the predicates of the steps that read this event count.
    """
    event_id = resolve_event(conn, event_id)
    row = _event_row(conn, event_id)
    if row is None:
        # A code no rule names yet: described from the catalog alone.
        catalog = load()
        event = catalog.event(event_id)
        known = catalog.classes.get(event.class_id)
        header: dict[str, Any] = {**event.to_dict(), "class": {
            "id": event.class_id, "name": known.name if known else None,
            "data_component": known.data_component if known else None}}
    else:
        header = _event_dict(row)
    visible = hidden_clause(include_hidden)
    rules = conn.execute(
        f"SELECT r.rid, r.vendor, r.id, r.title, r.level, r.path, r.kind, r.hidden, "
        f"re.grp, re.step, re.basis FROM rule_events re JOIN rules r ON r.rid = re.rid "
        f"WHERE re.event_id = ? AND {visible} ORDER BY r.vendor, r.title",
        (event_id,)).fetchall()
    header["narrower"] = [
        {"id": r[0], "name": r[1], "title": r[2], "rules": r[3]} for r in conn.execute(
            f"SELECT e.id, e.name, e.title, COUNT(DISTINCT r.rid) FROM events e "
            f"LEFT JOIN rule_events re ON re.event_id = e.id "
            f"LEFT JOIN rules r ON r.rid = re.rid AND {visible} "
            f"WHERE e.parent = ? GROUP BY e.id ORDER BY 4 DESC, e.id", (event_id,))]
    rids = sorted({r["rid"] for r in rules})
    return {
        "event": header,
        "rules_total": len(rids),
        "include_hidden": include_hidden,
        "techniques": _techniques(conn, rids),
        "rules": _rules(conn, rules, event_id),
        "fields": _fields(conn, rules),
    }


def _techniques(conn: sqlite3.Connection, rids: list[int]) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    for technique, n in select_in(
            conn, "SELECT technique_id, COUNT(DISTINCT rid) FROM rule_techniques "
                  "WHERE rid IN ({ids}) GROUP BY 1", rids):
        counts[technique] += n
    names = dict(conn.execute("SELECT id, name FROM techniques").fetchall())
    return [{"id": t, "name": names.get(t, ""), "rules": n}
            for t, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _rules(conn: sqlite3.Connection, rows: list[sqlite3.Row],
           event_id: str) -> dict[str, list[dict[str, Any]]]:
    """Rules per vendor, each with the other events that would do instead of this one."""
    groups: dict[tuple[int, int], list[str]] = defaultdict(list)
    for rid, grp, other in select_in(
            conn, "SELECT rid, grp, event_id FROM rule_events WHERE rid IN ({ids})",
            sorted({r["rid"] for r in rows})):
        groups[(rid, grp)].append(other)
    out: dict[str, list[dict[str, Any]]] = {}
    seen: set[int] = set()
    for r in rows:
        if r["rid"] in seen:
            continue
        seen.add(r["rid"])
        out.setdefault(r["vendor"], []).append({
            "id": r["id"], "title": r["title"], "level": r["level"], "path": r["path"],
            "kind": r["kind"], "hidden": bool(r["hidden"]), "basis": r["basis"],
            "alternatives": [e for e in groups[(r["rid"], r["grp"])] if e != event_id],
        })
    return dict(sorted(out.items(), key=lambda kv: _vendor_key(kv[0])))


def _fields(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict[str, Any]]:
    steps: dict[int, set[int | None]] = defaultdict(set)
    for r in rows:
        steps[r["rid"]].add(r["step"])
    rules: dict[str, set[int]] = defaultdict(set)
    excluded: dict[str, set[int]] = defaultdict(set)
    aliases: dict[str, Counter[str]] = defaultdict(Counter)
    for rid, field, raw, negated, step in select_in(
            conn, "SELECT rid, field, field_raw, negated, step FROM predicates "
                  "WHERE rid IN ({ids}) AND stage = 'event'", sorted(steps)):
        wanted = steps[rid]
        if None not in wanted and step not in wanted:
            continue
        (excluded if negated else rules)[field].add(rid)
        if raw:
            aliases[field][raw] += 1
    out: list[dict[str, Any]] = [{"field": f, "label": field_label(f),
            "aliases": [a for a, _ in aliases[f].most_common(3)],
            "rules": len(rules.get(f, ())), "exclusion_rules": len(excluded.get(f, ()))}
           for f in set(rules) | set(excluded)]
    out.sort(key=lambda f: (-f["rules"], -f["exclusion_rules"], f["field"]))
    return out


def events_coverage(conn: sqlite3.Connection) -> dict[str, Any]:
    """Per vendor: non-deprecated rules, how many map to a concrete event, why the rest not."""
    vendors: dict[str, Any] = {}
    rows = conn.execute(
        "SELECT r.vendor, r.rid, EXISTS (SELECT 1 FROM rule_events re WHERE re.rid = r.rid), "
        "g.reason FROM rules r LEFT JOIN rule_event_gaps g ON g.rid = r.rid "
        "WHERE r.deprecated = 0").fetchall()
    for vendor in sorted({r[0] for r in rows}, key=_vendor_key):
        mine = [r for r in rows if r[0] == vendor]
        mapped = sum(1 for r in mine if r[2])
        reasons = Counter(r[3] or "no reason recorded" for r in mine if not r[2])
        vendors[vendor] = {
            "rules": len(mine), "mapped": mapped,
            "percent": round(100.0 * mapped / len(mine), 1) if mine else 0.0,
            "incomplete": sum(1 for r in mine if r[2] and r[3]),
            "reasons": [{"reason": k, "rules": v} for k, v in reasons.most_common(TOP_REASONS)],
        }
    return {"vendors": vendors}


def read_events_file(path: Path, conn: sqlite3.Connection) -> list[str]:
    """Event ids from a file listing one id or name per line; ``#`` starts a comment."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UnknownEvent(f"cannot read the events file: {err}", str(path)) from err
    ids: list[str] = []
    bad: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            ids.append(resolve_event(conn, text))
        except UnknownEvent:
            bad.append(f"line {number}: {text!r}")
    if bad:
        raise UnknownEvent("unknown events: " + "; ".join(bad[:10]), str(path))
    return list(dict.fromkeys(ids))


def feasibility(conn: sqlite3.Connection, collected_event_ids: list[str],
                include_hidden: bool = False) -> dict[str, Any]:
    """Which rules the collected events run, per vendor, with what the others miss.

    Counts are over visible rules (deprecated rules, building blocks and
    hunting queries only with ``include_hidden``). ``missing`` ranks the events
    that would make the most not-runnable rules runnable on their own.
    """
    collected = set(collected_event_ids)
    visible = hidden_clause(include_hidden)
    needs: dict[int, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    for rid, grp, event_id in conn.execute(
            f"SELECT re.rid, re.grp, re.event_id FROM rule_events re JOIN rules r "
            f"ON r.rid = re.rid WHERE {visible}"):
        needs[rid][grp].append(event_id)
    gaps = dict(conn.execute("SELECT rid, reason FROM rule_event_gaps").fetchall())
    rules = conn.execute(f"SELECT r.rid, r.vendor, r.id, r.title FROM rules r WHERE {visible} "
                         f"ORDER BY r.vendor, r.title").fetchall()
    techniques: dict[int, list[str]] = defaultdict(list)
    for rid, technique in conn.execute("SELECT rid, technique_id FROM rule_techniques"):
        techniques[rid].append(technique)

    vendors: dict[str, Any] = {}
    for rid, vendor, rule_id, title in rules:
        v = vendors.setdefault(vendor, {"rules": 0, "runnable": 0, "not_runnable": 0,
                                        "undecided": 0, "techniques": set(),
                                        "missing": Counter(), "runnable_rules": [],
                                        "not_runnable_rules": [], "undecided_rules": []})
        v["rules"] += 1
        item = {"id": rule_id, "title": title}
        if rid in gaps or rid not in needs:
            v["undecided"] += 1
            v["undecided_rules"].append({**item, "reason": gaps.get(rid, "no events")})
            continue
        unmet = [events for _, events in sorted(needs[rid].items())
                 if not any(_collected(e, collected) for e in events)]
        if not unmet:
            v["runnable"] += 1
            v["techniques"].update(techniques[rid])
            v["runnable_rules"].append(item)
            continue
        v["not_runnable"] += 1
        v["not_runnable_rules"].append({**item, "missing": unmet})
        if len(unmet) == 1:
            v["missing"].update(unmet[0])
    return _feasibility_result(conn, sorted(collected), vendors)


def _collected(event_id: str, collected: set[str]) -> bool:
    return event_id in collected or event_id.split(":", 1)[0] in collected


def _feasibility_result(conn: sqlite3.Connection, collected: list[str],
                        vendors: dict[str, Any]) -> dict[str, Any]:
    names = dict(conn.execute("SELECT id, name FROM events").fetchall())
    all_techniques: set[str] = set()
    out: dict[str, Any] = {}
    for vendor in sorted(vendors, key=_vendor_key):
        v = vendors[vendor]
        all_techniques |= v["techniques"]
        out[vendor] = {
            "rules": v["rules"], "runnable": v["runnable"], "not_runnable": v["not_runnable"],
            "undecided": v["undecided"],
            "percent": round(100.0 * v["runnable"] / v["rules"], 1) if v["rules"] else 0.0,
            "techniques": sorted(v["techniques"]),
            "missing": [{"event": e, "name": names.get(e, e), "rules": n}
                        for e, n in v["missing"].most_common(TOP_MISSING)],
            "runnable_rules": v["runnable_rules"],
            "not_runnable_rules": v["not_runnable_rules"],
            "undecided_rules": v["undecided_rules"],
        }
    return {"collected": [{"id": e, "name": names.get(e, e)} for e in collected],
            "vendors": out, "techniques": sorted(all_techniques)}
