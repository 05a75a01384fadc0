"""Search over the catalog: full text over rules plus structured filters and conditions.

A query mixes free text with ``key:value`` filters and field conditions:

* free text is matched over titles, descriptions and queries (SQLite FTS5);
  ``"quoted words"`` form a phrase and ``word*`` a prefix;
* ``vendor:``, ``level:``, ``status:``, ``kind:``, ``technique:`` (a parent
  technique also finds its sub-techniques) and ``tactic:`` (short name or id)
  narrow the rules; the same key given twice means either value;
* ``CommandLine contains vssadmin`` is a condition: a field (its label, its
  canonical name or the name a vendor writes), an operator word and a value.
  It finds the rules whose test of that field guarantees the condition: a
  rule testing ``Image endswith \\rundll32.exe`` satisfies ``Image contains
  rundll32``, and one testing ``CommandLine contains vssadmin delete`` satisfies
  ``CommandLine contains vssadmin``. The condition is also normalized the way
  the catalog normalizes tests, so ``Image endswith \\x.exe`` finds the
  ``basename_eq x.exe`` the catalog stores;
* ``field:Image value:*\\rundll32.exe op:ends_with`` builds one condition from
  its parts. A value with wildcards is read like rule values are
  (``*\\rundll32.exe`` is ends_with ``\\rundll32.exe``); a value without
  wildcards and without ``op:`` finds every test whose value contains it.
  Without a field a value cannot be normalized (how depends on the field), so
  ``value:*\\x.exe`` alone misses the ``basename_eq x.exe`` that
  ``field:Image value:*\\x.exe`` finds.

Conditions compare values case-insensitively; a test of a rule negated by its
logic (an exclusion) matches too and is flagged in the result.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ruledex.analysis.vendors import VENDORS, level_rank
from ruledex.languages.wildcards import classify_text
from ruledex.model import OPERATORS, Predicate, RuledexError
from ruledex.normalize import NORMALIZED_OPERATORS, Normalizer, field_label

FILTER_KEYS = ("vendor", "level", "status", "kind", "technique", "tactic")
CONDITION_KEYS = ("field", "value", "op")

OPERATOR_WORDS = {
    "contains": "contains", "has": "contains",
    "startswith": "starts_with", "starts_with": "starts_with", "begins": "starts_with",
    "endswith": "ends_with", "ends_with": "ends_with",
    "is": "eq", "equals": "eq", "eq": "eq", "=": "eq", "==": "eq",
    "matches": "regex_match", "regex": "regex_match", "re": "regex_match",
    "like": "wildcard", "wildcard": "wildcard", "cidr": "cidr",
    "basename": "basename_eq", "basename_eq": "basename_eq",
}
"""Words a user may write between a field and a value, to catalog operators."""

PER_PAGE = 20
MAX_PER_PAGE = 100
MARK_START, MARK_END = "\ue000", "\ue001"
"""Private-use characters FTS5 wraps matches in; never part of rule text."""


class SearchError(RuledexError):
    """The query cannot be run (e.g. an unknown vendor)."""


@dataclass
class Condition:
    """A test on a field, an operator and a value; parts left out match anything."""

    field: str | None = None
    op: str | None = None
    value: str | None = None


@dataclass
class SearchQuery:
    """A parsed search: free-text terms, filters per key and field conditions."""

    terms: list[tuple[str, bool]] = field(default_factory=list)
    filters: dict[str, list[str]] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (self.terms or self.filters or self.conditions)


def tokenize(text: str) -> list[tuple[str, bool]]:
    """Split on spaces keeping ``"quoted parts"`` (also after ``key:``) whole.

    Each token comes with whether it starts with a quote (a phrase, never a
    filter); backslashes are literal so Windows paths need no escaping.
    """
    tokens: list[tuple[str, bool]] = []
    buf: list[str] = []
    quoted = False
    in_quotes = False
    for char in text:
        if char == '"':
            in_quotes = not in_quotes
            quoted = quoted or not buf
        elif char.isspace() and not in_quotes:
            if buf or quoted:
                tokens.append(("".join(buf), quoted))
            buf, quoted = [], False
        else:
            buf.append(char)
    if buf or quoted:
        tokens.append(("".join(buf), quoted))
    return tokens


def parse_query(text: str, known_field: Callable[[str], bool] | None = None) -> SearchQuery:
    """Parse a search box query.

    ``known_field`` decides whether a word may start a ``FIELD OPERATOR VALUE``
    condition; without it any word followed by an operator word does.
    """
    query = SearchQuery()
    tokens = tokenize(text)
    parts: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        token, quoted = tokens[i]
        key, sep, rest = token.partition(":")
        key = key.lower()
        if sep and not quoted and (key in FILTER_KEYS or key in CONDITION_KEYS):
            if rest:
                if key in FILTER_KEYS:
                    query.filters.setdefault(key, []).append(_filter_value(key, rest))
                else:
                    parts.setdefault(key, rest)
            i += 1
            continue
        if (not quoted and i + 2 < len(tokens) and not tokens[i + 1][1]
                and tokens[i + 1][0].lower() in OPERATOR_WORDS
                and (known_field is None or known_field(token))):
            query.conditions.append(Condition(
                token, OPERATOR_WORDS[tokens[i + 1][0].lower()], tokens[i + 2][0]))
            i += 3
            continue
        if token:
            query.terms.append((token, quoted))
        i += 1
    if parts:
        query.conditions.append(_condition_from_parts(parts))
    return query


def _filter_value(key: str, value: str) -> str:
    return value.upper() if key == "technique" else value.lower()


def _condition_from_parts(parts: dict[str, str]) -> Condition:
    op = parts.get("op")
    if op is not None:
        op = OPERATOR_WORDS.get(op.lower(), op.lower())
        if op not in NORMALIZED_OPERATORS:
            raise SearchError(f"unknown operator {parts['op']!r}; try one of "
                              f"{', '.join(sorted(set(OPERATOR_WORDS.values())))}")
    value = parts.get("value")
    if value is not None and op is None:
        # Backslashes stay literal: C:\Windows\* is a path prefix, not an escaped star.
        classified_op, literal = classify_text(value, escape=None)
        if classified_op != "eq":
            return Condition(parts.get("field"), classified_op, literal)
    return Condition(parts.get("field"), op, value)


def field_vocabulary(conn: sqlite3.Connection) -> dict[str, set[str]]:
    """Every name a field goes by (canonical, label, raw per vendor), folded, to canonical."""
    names: dict[str, set[str]] = {}
    for (canonical,) in conn.execute("SELECT DISTINCT field FROM indicators"):
        for name in (canonical, field_label(canonical)):
            names.setdefault(name.casefold(), set()).add(canonical)
    for raw, canonical in conn.execute("SELECT DISTINCT field_raw, field FROM field_aliases"):
        names.setdefault(raw.casefold(), set()).add(canonical)
    return names


def fts_expression(terms: list[tuple[str, bool]]) -> str | None:
    """An FTS5 expression requiring every term; None when no term has a word in it."""
    out = []
    for term, quoted in terms:
        prefix = not quoted and term.endswith("*")
        word = term.rstrip("*") if prefix else term
        if not any(ch.isalnum() for ch in word):
            continue
        phrase = '"' + word.replace('"', '""') + '"'
        out.append(phrase + ("*" if prefix else ""))
    return " ".join(out) or None


def normalized_keys(cond: Condition) -> set[tuple[str, str, str]]:
    """The canonical (field, op, value) the catalog stores a condition's test under.

    The test is normalized as each vendor would write it, so that
    ``Image endswith \\x.exe`` finds the ``basename_eq x.exe`` it became.
    """
    if cond.field is None or cond.op not in OPERATORS or cond.value is None:
        return set()
    keys = set()
    for vendor in VENDORS:
        try:
            norm = _normalizer().predicate(vendor, {}, Predicate(cond.field, cond.op,
                                                                 cond.value))
        except (ValueError, RuledexError):
            continue
        keys.add((norm.field, norm.op, norm.value))
    return keys


@cache
def _normalizer() -> Normalizer:
    return Normalizer()


IMPLIED_BY = {
    "contains": ("eq", "starts_with", "ends_with", "contains", "basename_eq"),
    "starts_with": ("eq", "starts_with"),
    "ends_with": ("eq", "ends_with", "basename_eq"),
    "eq": ("eq",),
    "basename_eq": ("basename_eq",),
}
"""Operators of rule tests that guarantee a condition's operator, given a fitting value."""

_VALUE_TEST = {
    "contains": ("instr(lower(value), ?) > 0", lambda v: [v]),
    "starts_with": ("substr(lower(value), 1, ?) = ?", lambda v: [len(v), v]),
    "ends_with": ("substr(lower(value), -?) = ?", lambda v: [len(v), v]),
    "eq": ("lower(value) = ?", lambda v: [v]),
    "basename_eq": ("lower(value) = ?", lambda v: [v]),
}


def _condition_sql(cond: Condition, vocabulary: dict[str, set[str]]) -> tuple[str, list[Any]]:
    """SQL selecting the iids of the indicators a condition matches."""
    where: list[str] = []
    params: list[Any] = []
    if cond.field is not None:
        fields = sorted(vocabulary.get(cond.field.casefold(), set()))
        if not fields:
            return "SELECT NULL WHERE 0", []
        where.append(f"field IN ({','.join('?' * len(fields))})")
        params.extend(fields)
    value = cond.value.casefold() if cond.value is not None else None
    if cond.op in IMPLIED_BY and value is not None:
        ops = IMPLIED_BY[cond.op]
        test, args = _VALUE_TEST[cond.op]
        where.append(f"op IN ({','.join('?' * len(ops))}) AND {test}")
        params.extend([*ops, *args(value)])
    else:
        # Patterns, regexes and networks are compared as text: the value must appear in them.
        if cond.op is not None:
            where.append("op = ?")
            params.append(cond.op)
        if value is not None:
            where.append("instr(lower(value), ?) > 0")
            params.append(value)
    ors = ["(" + (" AND ".join(where) or "1") + ")"]
    for key in sorted(normalized_keys(cond)):
        ors.append("(field = ? AND op = ? AND value = ?)")
        params.extend(key)
    return f"SELECT iid FROM indicators WHERE {' OR '.join(ors)}", params


def _tactic_names(conn: sqlite3.Connection, values: list[str]) -> list[str]:
    out = []
    for value in values:
        row = conn.execute("SELECT shortname FROM tactics WHERE shortname = ? OR id = ? "
                           "OR lower(name) = ?",
                           (value, value.upper(), value.replace("-", " "))).fetchone()
        out.append(row[0] if row else value)
    return out


def search(conn: sqlite3.Connection, text: str, page: int = 1, per_page: int = PER_PAGE,
           vocabulary: dict[str, set[str]] | None = None) -> dict[str, Any]:
    """Rules matching a query, one page of them, with facet counts over all matches."""
    vocab = vocabulary if vocabulary is not None else field_vocabulary(conn)
    query = parse_query(text, known_field=lambda name: name.casefold() in vocab)
    page = max(1, page)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    result: dict[str, Any] = {
        "query": text, "parsed": _describe(query), "page": page, "per_page": per_page,
        "total": 0, "pages": 0, "results": [], "facets": {}, "notices": []}
    if query.is_empty():
        return result
    for vendor in query.filters.get("vendor", []):
        if vendor not in VENDORS:
            raise SearchError(f"unknown vendor {vendor!r}; known: {', '.join(VENDORS)}")
    for cond in query.conditions:
        if cond.field is not None and cond.field.casefold() not in vocab:
            result["notices"].append(f"no rule tests a field named {cond.field!r}")

    source, where, params = "rules r", [], []
    fts = fts_expression(query.terms)
    if fts is not None:
        source = "rules_fts JOIN rules r ON r.rid = rules_fts.rowid"
        where.append("rules_fts MATCH ?")
        params.append(fts)
    elif query.terms:
        result["notices"].append("the free text has no words to search for")
        if not (query.filters or query.conditions):
            return result
    for key in ("vendor", "level", "status", "kind"):
        if key in query.filters:
            values = query.filters[key]
            where.append(f"r.{key} IN ({','.join('?' * len(values))})")
            params.extend(values)
    if "technique" in query.filters:
        ors = []
        for tid in query.filters["technique"]:
            ors.append("technique_id = ? OR (technique_id > ? AND technique_id < ?)")
            params.extend([tid, tid + ".", tid + "/"])
        where.append(f"r.rid IN (SELECT rid FROM rule_techniques WHERE {' OR '.join(ors)})")
    if "tactic" in query.filters:
        names = _tactic_names(conn, query.filters["tactic"])
        where.append(f"r.rid IN (SELECT rid FROM rule_tactics WHERE tactic IN "
                     f"({','.join('?' * len(names))}))")
        params.extend(names)
    cond_sql = []
    for cond in query.conditions:
        sql, cond_params = _condition_sql(cond, vocab)
        cond_sql.append((sql, cond_params))
        where.append(f"r.rid IN (SELECT p.rid FROM predicates p WHERE p.iid IN ({sql}))")
        params.extend(cond_params)
    clause = " AND ".join(where) or "1"

    try:
        total = conn.execute(f"SELECT COUNT(*) FROM {source} WHERE {clause}",
                             params).fetchone()[0]
        result["facets"] = _facets(conn, source, clause, params, query)
        order = "r.hidden, " + ("rules_fts.rank" if fts else "r.vendor, r.title")
        columns = ("r.rid, r.vendor, r.id, r.title, r.level, r.status, r.kind, r.hidden, "
                   "r.description")
        if fts:
            columns += (f", highlight(rules_fts, 0, '{MARK_START}', '{MARK_END}') AS hl_title"
                        f", snippet(rules_fts, -1, '{MARK_START}', '{MARK_END}', '…', 24) "
                        f"AS hl_snippet")
        rows = conn.execute(
            f"SELECT {columns} FROM {source} WHERE {clause} ORDER BY {order} "
            f"LIMIT ? OFFSET ?", [*params, per_page, (page - 1) * per_page]).fetchall()
    except sqlite3.OperationalError as err:
        raise SearchError(f"the search could not run: {err}") from err
    result["total"] = total
    result["pages"] = (total + per_page - 1) // per_page
    result["results"] = _results(conn, rows, bool(fts), cond_sql)
    return result


def _facets(conn: sqlite3.Connection, source: str, clause: str, params: list[Any],
            query: SearchQuery) -> dict[str, list[dict[str, Any]]]:
    facets: dict[str, list[dict[str, Any]]] = {}
    for key in ("vendor", "level", "status"):
        rows = conn.execute(f"SELECT r.{key}, COUNT(*) FROM {source} WHERE {clause} "
                            f"GROUP BY r.{key}", params).fetchall()
        facets[key] = [{"value": v, "count": n} for v, n in rows if v]
    facets["level"].sort(key=lambda f: level_rank(f["value"]))
    facets["vendor"].sort(key=lambda f: VENDORS.index(f["value"]) if f["value"] in VENDORS
                          else 9)
    rows = conn.execute(
        f"SELECT rt.tactic, COUNT(*) FROM {source} JOIN rule_tactics rt ON rt.rid = r.rid "
        f"LEFT JOIN tactics t ON t.shortname = rt.tactic WHERE {clause} "
        f"GROUP BY rt.tactic ORDER BY MIN(t.ord) IS NULL, MIN(t.ord), rt.tactic",
        params).fetchall()
    facets["tactic"] = [{"value": v, "count": n} for v, n in rows]
    for key, values in facets.items():
        chosen = query.filters.get(key, [])
        for item in values:
            item["selected"] = item["value"] in chosen
    return facets


def marked(text: str) -> list[tuple[str, bool]]:
    """Split FTS5-highlighted text into ``(text, is_match)`` parts."""
    parts: list[tuple[str, bool]] = []
    rest = text
    while rest:
        start = rest.find(MARK_START)
        if start < 0:
            parts.append((rest, False))
            break
        end = rest.find(MARK_END, start)
        end = len(rest) if end < 0 else end
        if start:
            parts.append((rest[:start], False))
        parts.append((rest[start + 1:end], True))
        rest = rest[end + 1:]
    return parts


def _results(conn: sqlite3.Connection, rows: list[sqlite3.Row], fts: bool,
             cond_sql: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    rids = [r["rid"] for r in rows]
    marks = ",".join("?" * len(rids))
    techniques: dict[int, list[str]] = {}
    matched: dict[int, list[dict[str, Any]]] = {}
    if rids:
        for rid, tid in conn.execute(f"SELECT rid, technique_id FROM rule_techniques "
                                     f"WHERE rid IN ({marks}) ORDER BY technique_id", rids):
            techniques.setdefault(rid, []).append(tid)
        for sql, params in cond_sql:
            for p in conn.execute(
                    f"SELECT rid, iid, field_raw, field, op_raw, value_raw, negated "
                    f"FROM predicates "
                    f"WHERE rid IN ({marks}) AND iid IN ({sql}) ORDER BY pid",
                    [*rids, *params]):
                hit = {"iid": p["iid"], "field": p["field_raw"] or p["field"], "op": p["op_raw"],
                       "value": p["value_raw"], "negated": bool(p["negated"])}
                if hit not in matched.setdefault(p["rid"], []):
                    matched[p["rid"]].append(hit)
    out = []
    for r in rows:
        description = r["description"]
        snippet = description[:240] + ("…" if len(description) > 240 else "")
        out.append({
            "vendor": r["vendor"], "id": r["id"], "title": r["title"], "level": r["level"],
            "status": r["status"], "kind": r["kind"], "hidden": bool(r["hidden"]),
            "title_parts": marked(r["hl_title"]) if fts else [(r["title"], False)],
            "snippet_parts": marked(r["hl_snippet"]) if fts else [(snippet, False)],
            "techniques": techniques.get(r["rid"], []),
            "matched": matched.get(r["rid"], [])[:10],
        })
    return out


def _describe(query: SearchQuery) -> dict[str, Any]:
    return {"terms": [t for t, _ in query.terms], "filters": query.filters,
            "conditions": [vars(c) for c in query.conditions]}
