"""The rule page: one rule's metadata, tags, logic, indicators and source."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from typing import Any

from ruledex import settings
from ruledex.model import RuledexError
from ruledex.normalize import field_label

DEFAULT_BRANCHES = {"sigma": "master", "elastic": "main", "splunk": "develop"}
"""Branch linked to when the catalog does not know the commit a rule was read at."""

SOURCE_LEXERS = {"sigma": "yaml", "splunk": "yaml", "elastic": "toml"}
"""The syntax each vendor writes its rule files in."""

OP_WORDS = {
    "eq": "is", "contains": "contains", "starts_with": "starts with",
    "ends_with": "ends with", "wildcard": "matches", "regex_match": "matches regex",
    "cidr": "is in network", "exists": "exists", "is_null": "is empty", "lt": "<",
    "lte": "≤", "gt": ">", "gte": "≥", "fieldref": "equals field", "keyword": "has keyword",
    "basename_eq": "has file name",
}
"""How each operator reads in a sentence."""


class UnknownRule(RuledexError):
    """No rule of this vendor has this id."""


def upstream_url(vendor: str, path: str, commit: str | None) -> str | None:
    """The rule file on GitHub at ``commit``, or on the default branch when it is unknown."""
    setting = settings.UPSTREAM.get(vendor)
    if setting is None or not setting.default.startswith("https://github.com/"):
        return None
    base = setting.default.removesuffix(".git")
    return f"{base}/blob/{commit or DEFAULT_BRANCHES.get(vendor, 'main')}/{path}"


def rule_page(conn: sqlite3.Connection, vendor: str, rule_id: str) -> dict[str, Any]:
    """Everything the rule page shows: metadata, tags, events, logic and indicators."""
    row = conn.execute(
        "SELECT r.*, s.commit_id FROM rules r JOIN sources s ON s.source_id = r.source_id "
        "WHERE r.vendor = ? AND r.id = ?", (vendor, rule_id)).fetchone()
    if row is None:
        raise UnknownRule(f"no {vendor} rule with id {rule_id!r}")
    rid = row["rid"]
    rule = {key: row[key] for key in (
        "vendor", "id", "title", "description", "author", "status", "level", "risk_score",
        "date", "modified", "language", "rule_type", "kind", "path", "line", "query",
        "parse_status")}
    for key in ("refs", "logsource", "tags", "extra", "errors"):
        rule["references" if key == "refs" else key] = json.loads(row[key])
    for key in ("deprecated", "building_block", "hidden"):
        rule[key] = bool(row[key])

    techniques = [
        {"id": r[0], "status": r[1], "name": r[2] or "",
         "tactics": json.loads(r[3]) if r[3] else []}
        for r in conn.execute(
            "SELECT rt.technique_id, rt.status, t.name, t.tactics FROM rule_techniques rt "
            "LEFT JOIN techniques t ON t.id = rt.technique_id WHERE rt.rid = ? "
            "ORDER BY rt.technique_id", (rid,))]
    tactics = [{"shortname": r[0], "name": r[1] or r[0]} for r in conn.execute(
        "SELECT rt.tactic, t.name FROM rule_tactics rt LEFT JOIN tactics t "
        "ON t.shortname = rt.tactic WHERE rt.rid = ? ORDER BY t.ord", (rid,))]
    groups: dict[int, dict[str, Any]] = {}
    for r in conn.execute(
            "SELECT re.grp, re.step, re.basis, e.id, e.name, e.title FROM rule_events re "
            "JOIN events e ON e.id = re.event_id WHERE re.rid = ? ORDER BY re.grp, e.id",
            (rid,)):
        group = groups.setdefault(r["grp"], {"step": r["step"], "basis": r["basis"],
                                             "events": []})
        group["events"].append({"id": r["id"], "name": r["name"], "title": r["title"]})
    gap = conn.execute("SELECT reason FROM rule_event_gaps WHERE rid = ?", (rid,)).fetchone()

    predicates = _predicates(conn, rid)
    tree = json.loads(row["tree"]) if row["tree"] else None
    by_path = {p["path"]: p for p in predicates}
    return {
        "rule": rule,
        "source": {"text": row["source_text"], "lexer": SOURCE_LEXERS.get(vendor, "text")},
        "upstream": {"commit": row["commit_id"],
                     "url": upstream_url(vendor, row["path"], row["commit_id"])},
        "techniques": techniques, "tactics": tactics,
        "events": {"groups": list(groups.values()), "gap": gap[0] if gap else None},
        "tree": tree, "outline": outline(tree, by_path),
        "indicators": _grouped(predicates, negated=False),
        "exclusions": _grouped(predicates, negated=True),
        "other_predicates": [p for p in predicates if p["iid"] is None],
    }


def _predicates(conn: sqlite3.Connection, rid: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT p.*, i.rules AS reach, i.exclusion_rules AS exclusion_reach, "
        "i.vendors AS reach_vendors FROM predicates p "
        "LEFT JOIN indicators i ON i.iid = p.iid WHERE p.rid = ? ORDER BY p.pid",
        (rid,)).fetchall()
    out = []
    for r in rows:
        item = {key: r[key] for key in (
            "path", "field_raw", "field", "op_raw", "op", "value_raw", "value", "stage",
            "selection", "step", "not_path", "macro", "iid", "reach", "exclusion_reach",
            "reach_vendors")}
        item["label"] = field_label(r["field"])
        item["negated"] = bool(r["negated"])
        item["case_sensitive"] = bool(r["case_sensitive"])
        item["modifiers"] = json.loads(r["modifiers"])
        out.append(item)
    return out


def _grouped(predicates: list[dict[str, Any]], negated: bool) -> list[dict[str, Any]]:
    """One row per indicator, listing every raw spelling this rule used for it."""
    groups: dict[int, dict[str, Any]] = {}
    spellings: dict[int, list[tuple[str | None, str | None]]] = defaultdict(list)
    for p in predicates:
        if p["iid"] is None or p["negated"] != negated:
            continue
        groups.setdefault(p["iid"], {
            "iid": p["iid"], "field": p["field"], "label": p["label"], "op": p["op"],
            "value": p["value"],
            "reach": p["exclusion_reach"] if negated else p["reach"],
            "reach_vendors": p["reach_vendors"], "selections": []})
        spelling = (p["field_raw"], p["value_raw"])
        if spelling not in spellings[p["iid"]]:
            spellings[p["iid"]].append(spelling)
        if p["selection"] and p["selection"] not in groups[p["iid"]]["selections"]:
            groups[p["iid"]]["selections"].append(p["selection"])
    for iid, group in groups.items():
        group["raw"] = [{"field": f, "value": v} for f, v in spellings[iid]
                        if f != group["field"] or v != group["value"]]
    return list(groups.values())


def outline(tree: dict[str, Any] | None,
            by_path: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The rule's boolean tree as a readable outline.

    Nodes are ``all``/``any`` (with the selection name as ``label``), ``not``,
    ``sequence`` of ``step`` nodes, ``opaque`` text, ``check`` (one predicate as
    written, with the catalog's ``field``, ``norm_op`` and ``value``) and ``checks``: an
    ``all``/``any`` whose children all test one field with one operator, read as
    one line with a list of values.
    """
    if tree is None:
        return None
    return _outline(tree, "", by_path, False)


def _outline(node: dict[str, Any], path: str, by_path: dict[str, dict[str, Any]],
             negated: bool) -> dict[str, Any]:
    kind = node["kind"]
    if kind == "predicate":
        return _check(node, path, by_path, negated)
    if kind == "opaque":
        return {"kind": "opaque", "text": node.get("text") or "", "reason": node.get("label")}
    children = []
    step_no = 0
    for index, child in enumerate(node.get("children", [])):
        child_path = f"{path}.{index}" if path else str(index)
        item = _outline(child, child_path, by_path, negated != (kind == "not"))
        if child["kind"] == "step":
            item["number"] = step_no + 1
            step_no += 1
        children.append(item)
    if kind in ("and", "or"):
        mode = "all" if kind == "and" else "any"
        # An unnamed ALL inside an ALL (ANY inside ANY) says nothing more: lift its children.
        children = [grand for c in children for grand in (
            c["children"] if c["kind"] == mode and not c.get("label") else [c])]
        checks = [c for c in children if c["kind"] == "check"]
        if len(children) > 1 and len(checks) == len(children) and len(
                {(c["field_raw"], c["op"], c["negated"], c["stage"]) for c in checks}) == 1:
            first = checks[0]
            return {"kind": "checks", "mode": mode, "label": node.get("label"),
                    "field_raw": first["field_raw"], "field": first["field"],
                    "field_label": first["field_label"], "op": first["op"],
                    "negated": first["negated"], "stage": first["stage"],
                    "values": [{k: c[k] for k in ("value_raw", "value", "norm_op", "iid",
                                                  "reach")} for c in checks]}
        if len(children) == 1 and children[0].get("label") is None and "label" in children[0]:
            # A selection holding one test or one list reads best as that line, named.
            return {**children[0], "label": node.get("label")}
        return {"kind": mode, "label": node.get("label"), "children": children}
    return {"kind": kind, "label": node.get("label"), "children": children}


def _check(node: dict[str, Any], path: str, by_path: dict[str, dict[str, Any]],
           negated: bool) -> dict[str, Any]:
    raw = node.get("predicate") or {}
    row = by_path.get(path)
    field = row["field"] if row else (raw.get("field") or "")
    return {
        "kind": "check", "path": path, "label": None,
        "field_raw": raw.get("field"), "field": field, "field_label": field_label(field),
        "op": raw.get("op"), "norm_op": row["op"] if row else raw.get("op"),
        "value_raw": raw.get("value"), "value": row["value"] if row else raw.get("value"),
        "negated": negated,
        "stage": raw.get("stage", "event"), "case_sensitive": raw.get("case_sensitive", False),
        "macro": raw.get("macro"), "iid": row["iid"] if row else None,
        "reach": (row["exclusion_reach"] if negated else row["reach"]) if row else None,
    }
