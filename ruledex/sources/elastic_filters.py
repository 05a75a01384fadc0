"""Kibana filters of Elastic rules: Elasticsearch query objects into predicate trees.

A rule's ``filters`` (and a threat match rule's ``threat_filters``) are saved
Kibana filter pills: an Elasticsearch query object, under ``query`` or at the
top level, with ``meta.negate`` and ``meta.disabled`` flags. Enabled filters
are ANDed with the rule's query.
"""

from __future__ import annotations

import json
from typing import Any

from ruledex.languages.kql import all_of, field_predicate, match_all
from ruledex.languages.lucene import parse_lucene
from ruledex.languages.wildcards import Part, Wildcard, classify, split_pattern
from ruledex.model import Node, Predicate, QueryParseError, and_, leaf, not_, opaque, or_

_RANGE_OPS = {"gt": "gt", "gte": "gte", "lt": "lt", "lte": "lte", "from": "gte", "to": "lte"}
_FILTER_KEYS = {"meta", "$state", "query"}


def filters_tree(filters: Any) -> tuple[Node, list[tuple[int, str]]]:
    """AND of the enabled filters, and (0-based index, message) per unreadable filter."""
    if not isinstance(filters, list):
        filters = [filters] if filters else []
    nodes: list[Node] = []
    problems: list[tuple[int, str]] = []
    for index, entry in enumerate(filters):
        if not isinstance(entry, dict):
            problems.append((index, f"filter {index + 1} is not a table"))
            continue
        meta = entry.get("meta")
        if not isinstance(meta, dict):
            meta = {}
        if meta.get("disabled") is True:
            continue
        body = entry.get("query")
        if not isinstance(body, dict):
            body = {k: v for k, v in entry.items() if k not in _FILTER_KEYS}
        try:
            node = query_tree(body)
        except QueryParseError as err:
            problems.append((index, f"filter {index + 1}: {err.message}"))
            continue
        nodes.append(not_(node) if meta.get("negate") is True else node)
    return all_of(nodes), problems


def query_tree(body: Any) -> Node:
    """Turn one Elasticsearch query object into a tree; raise QueryParseError on bad input."""
    if not isinstance(body, dict) or not body:
        return match_all()
    parts = [_clause(kind, spec) for kind, spec in body.items()]
    return all_of(parts)


def _clause(kind: str, spec: Any) -> Node:
    handler = _HANDLERS.get(kind)
    if handler is None:
        # Rare query kinds (geo, script, nested...) say nothing the catalog can index.
        return opaque(_text({kind: spec}), f"unsupported Elasticsearch query {kind!r}")
    if not isinstance(spec, dict):
        raise QueryParseError(f"{kind}: expected a table, found {type(spec).__name__}")
    return handler(spec)


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _field_spec(kind: str, spec: dict[str, Any]) -> tuple[str, Any]:
    """The one field a leaf query names, with its value or options."""
    fields = [(k, v) for k, v in spec.items() if not k.startswith("_") and k != "boost"]
    if len(fields) != 1:
        raise QueryParseError(f"{kind}: expected one field, found {len(fields)}")
    return fields[0]


def _option(value: Any, *names: str) -> Any:
    """A query's value given either bare or inside an options table."""
    if isinstance(value, dict):
        for name in names:
            if name in value:
                return value[name]
        raise QueryParseError(f"expected one of {', '.join(names)} in {_text(value)}")
    return value


def _exact(field: str, value: Any, case_insensitive: bool = False) -> Predicate:
    pred = field_predicate(field, "eq", _scalar(value))
    if case_insensitive:
        pred.case_sensitive = False
    return pred


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        raise QueryParseError(f"expected a single value, found {_text(value)}")
    return str(value)


def _ignores_case(value: Any) -> bool:
    return isinstance(value, dict) and value.get("case_insensitive") is True


def _phrase(spec: dict[str, Any]) -> Node:
    # A phrase matches its text literally: `*` in it is not a wildcard.
    field, value = _field_spec("match_phrase", spec)
    return leaf(_exact(field, _option(value, "query")))


def _match(spec: dict[str, Any]) -> Node:
    field, value = _field_spec("match", spec)
    return leaf(_exact(field, _option(value, "query")))


def _term(spec: dict[str, Any]) -> Node:
    field, value = _field_spec("term", spec)
    return leaf(_exact(field, _option(value, "value"), _ignores_case(value)))


def _terms(spec: dict[str, Any]) -> Node:
    field, values = _field_spec("terms", spec)
    if not isinstance(values, list):
        raise QueryParseError(f"terms: expected a list of values for {field}")
    return or_(*[leaf(_exact(field, v)) for v in values])


def _pattern(kind: str, spec: dict[str, Any]) -> Node:
    field, value = _field_spec(kind, spec)
    raw = _scalar(_option(value, "value", "wildcard"))
    parts: list[Part] = [raw, Wildcard.MANY] if kind == "prefix" else split_pattern(raw)
    op, text = classify(parts)
    pred = field_predicate(field, op, text)
    if _ignores_case(value):
        pred.case_sensitive = False
    return leaf(pred)


def _wildcard(spec: dict[str, Any]) -> Node:
    return _pattern("wildcard", spec)


def _prefix(spec: dict[str, Any]) -> Node:
    return _pattern("prefix", spec)


def _regexp(spec: dict[str, Any]) -> Node:
    field, value = _field_spec("regexp", spec)
    pred = field_predicate(field, "regex_match", _scalar(_option(value, "value")))
    if _ignores_case(value):
        pred.case_sensitive = False
    return leaf(pred)


def _exists(spec: dict[str, Any]) -> Node:
    field = spec.get("field")
    if not isinstance(field, str) or not field:
        raise QueryParseError("exists: no field named")
    return leaf(field_predicate(field, "exists", None))


def _range(spec: dict[str, Any]) -> Node:
    field, bounds = _field_spec("range", spec)
    if not isinstance(bounds, dict):
        raise QueryParseError(f"range: expected bounds for {field}")
    nodes = [leaf(field_predicate(field, _RANGE_OPS[k], _scalar(v)))
             for k, v in bounds.items() if k in _RANGE_OPS and v is not None]
    if not nodes:
        raise QueryParseError(f"range: no bound given for {field}")
    return and_(*nodes)


def _query_string(spec: dict[str, Any]) -> Node:
    text = spec.get("query")
    if not isinstance(text, str):
        raise QueryParseError("query_string: no query text")
    # A default_field only matters for bare words, which stay field-less predicates.
    return parse_lucene(text)


def _clauses(value: Any) -> list[Node]:
    items = value if isinstance(value, list) else [value]
    return [query_tree(item) for item in items if item is not None]


def _bool(spec: dict[str, Any]) -> Node:
    required = _clauses(spec.get("must", [])) + _clauses(spec.get("filter", []))
    should = _clauses(spec.get("should", []))
    excluded = _clauses(spec.get("must_not", []))
    nodes = list(required)
    minimum = spec.get("minimum_should_match")
    # Beside must/filter clauses, should clauses only score unless a minimum is set.
    if should and (not required or (minimum not in (None, 0, "0", "0%"))):
        nodes.append(or_(*should))
    nodes.extend(not_(n) for n in excluded)
    return all_of(nodes)


def _match_all(spec: dict[str, Any]) -> Node:
    return match_all()


_HANDLERS = {
    "match_phrase": _phrase, "match": _match, "term": _term, "terms": _terms,
    "wildcard": _wildcard, "prefix": _prefix, "regexp": _regexp, "exists": _exists,
    "range": _range, "query_string": _query_string, "bool": _bool, "match_all": _match_all,
}
