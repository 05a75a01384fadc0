"""Parse Elastic's Lucene query-string syntax into the rule model's boolean tree.

The grammar is luqum's; this module maps its tree onto predicates with the same
field conventions as KQL (case sensitivity, selector fields, CIDR values).
"""

from __future__ import annotations

import logging
import re

from luqum import tree as lt
from luqum.exceptions import ParseError
from luqum.parser import parser as _luqum_parser

from ruledex.languages.kql import (
    all_of,
    any_of,
    case_sensitive,
    field_predicate,
    match_all,
)
from ruledex.languages.wildcards import Part, classify, render, split_pattern
from ruledex.model import Node, Predicate, QueryParseError, leaf, not_, opaque

log = logging.getLogger(__name__)

_POSITION = re.compile(r"position (\d+)")


def parse_lucene(text: str) -> Node:
    """Parse a Lucene query into a boolean tree; match-all is an ``and`` with no children."""
    if not text.strip():
        return match_all()
    try:
        parsed = _luqum_parser.parse(text)
    except ParseError as err:
        raise _syntax_error(err, text) from None
    return _node(parsed, None, text)


def _node(item: lt.Item, field: str | None, text: str) -> Node:
    """Turn one luqum item into a tree node; ``field`` is set inside ``field:(...)``."""
    if isinstance(item, lt.SearchField):
        if field is not None:
            raise _item_error(f"field {item.name!r} inside the value list of {field!r}",
                              item, text)
        return _field_test(_unescape(item.name), item.expr, text)
    if isinstance(item, (lt.Group, lt.FieldGroup)):
        return _node(item.expr, field, text)
    if isinstance(item, lt.BaseOperation):
        return _operation(item, field, text)
    if isinstance(item, (lt.Not, lt.Prohibit)):
        return not_(_node(item.a, field, text))
    if isinstance(item, lt.Plus):
        return _node(item.a, field, text)
    if isinstance(item, lt.Boost):
        # A boost changes scoring only, never which events match.
        return _node(item.expr, field, text)
    if isinstance(item, lt.Fuzzy):
        return opaque(str(item), "fuzzy match has no predicate operator")
    if isinstance(item, lt.Proximity):
        return opaque(str(item), "proximity match has no predicate operator")
    if isinstance(item, (lt.Range, lt.From, lt.To)):
        if field is None:
            raise _item_error(f"range {str(item).strip()!r} without a field", item, text)
        return _range(field, item)
    if isinstance(item, lt.Term):
        return _term(item, field)
    raise _item_error(f"unsupported Lucene construct {type(item).__name__}", item, text)


def _field_test(field: str, expr: lt.Item, text: str) -> Node:
    """A ``field:expr`` test, including the ``_exists_`` and ``*:*`` forms."""
    if field == "_exists_":
        if not isinstance(expr, lt.Word):
            raise _item_error("_exists_ needs a field name", expr, text)
        return leaf(field_predicate(_unescape(expr.value), "exists", None))
    if field == "*":
        return _node(expr, None, text)
    return _node(expr, field, text)


def _operation(item: lt.BaseOperation, field: str | None, text: str) -> Node:
    """Combine an operation's clauses the way a Lucene boolean query does."""
    # Each clause is required (+, or any AND operand), prohibited (-, NOT) or optional.
    # Optional clauses must match at least once only when nothing is required: next to
    # a required clause they affect scoring alone, so they add no condition here.
    default_required = isinstance(item, lt.AndOperation)
    conditions: list[Node] = []
    optional: list[Node] = []
    has_required = False
    for operand in item.operands:
        if isinstance(operand, (lt.Not, lt.Prohibit)):
            conditions.append(not_(_node(operand.a, field, text)))
        elif isinstance(operand, lt.Plus) or default_required:
            conditions.append(_node(operand, field, text))
            has_required = True
        else:
            optional.append(_node(operand, field, text))

    if has_required:
        if optional:
            log.debug("optional Lucene clauses next to required ones add no condition: %s",
                      item)
        return all_of(conditions)
    if optional:
        return all_of([any_of(optional)] + conditions)
    return all_of(conditions)


def _term(item: lt.Term, field: str | None) -> Node:
    """A word, phrase or regex tested against ``field`` (a keyword when None)."""
    if isinstance(item, lt.Regex):
        pattern = item.value[1:-1]
        if field is None:
            return leaf(Predicate(None, "regex_match", pattern,
                                  case_sensitive=case_sensitive(None)))
        return leaf(field_predicate(field, "regex_match", pattern))
    phrase = isinstance(item, lt.Phrase)
    parts = [] if phrase else _word_parts(item.value)
    op, value = ("eq", _unescape(item.value[1:-1])) if phrase else classify(parts)
    if field is None:
        if op == "exists":
            return match_all()
        # A bare word keeps its wildcards: it has no operator of its own to carry them.
        if not phrase:
            value = render(parts)
        return leaf(Predicate(None, "keyword", value, case_sensitive=case_sensitive(None)))
    if op == "exists":
        return leaf(field_predicate(field, "exists", None))
    return leaf(field_predicate(field, op, value))


def _range(field: str, item: lt.Range | lt.From | lt.To) -> Node:
    """A range as one or two comparisons; an open ``*`` bound adds none."""
    bounds: list[tuple[str, lt.Item]] = []
    if isinstance(item, lt.Range):
        bounds.append(("gte" if item.include_low else "gt", item.low))
        bounds.append(("lte" if item.include_high else "lt", item.high))
    elif isinstance(item, lt.From):
        bounds.append(("gte" if item.include else "gt", item.a))
    else:
        bounds.append(("lte" if item.include else "lt", item.a))

    tests: list[Node] = []
    for op, bound in bounds:
        value = _bound_text(bound)
        if value != "*":
            tests.append(leaf(field_predicate(field, op, value)))
    if not tests:
        return leaf(field_predicate(field, "exists", None))
    return all_of(tests)


def _bound_text(bound: lt.Item) -> str:
    """The text of a range bound with its quoting and escapes undone."""
    if isinstance(bound, lt.Phrase):
        return _unescape(bound.value[1:-1])
    if isinstance(bound, lt.Word):
        return bound.value if bound.value == "*" else _unescape(bound.value)
    return str(bound).strip()


def _word_parts(raw: str) -> list[Part]:
    """Split a Lucene word into literal text and ``*``/``?`` wildcards, undoing escapes."""
    # Lucene's backslash makes any next character literal, Windows paths included.
    return split_pattern(raw, escapes_anything=True)


def _unescape(raw: str) -> str:
    """Undo Lucene's backslash escapes in a field name or a phrase."""
    return re.sub(r"\\(.)", r"\1", raw, flags=re.DOTALL)


def _line_of(text: str, pos: int | None) -> int | None:
    """The 1-based line of a character offset, when the offset is known."""
    return text.count("\n", 0, pos) + 1 if pos is not None else None


def _item_error(message: str, item: lt.Item, text: str) -> QueryParseError:
    """An error about a construct the model has no place for."""
    return QueryParseError(message, line=_line_of(text, getattr(item, "pos", None)))


def _syntax_error(err: ParseError, text: str) -> QueryParseError:
    """Turn a luqum error into a one-line message with the line it happened on."""
    raw = str(err)
    match = _POSITION.search(raw)
    pos = int(match.group(1)) if match else None
    line: int | None = None
    if "end of expression" in raw:
        message = "unexpected end of query (unbalanced parenthesis or quote?)"
        line = text.count("\n") + 1
    elif pos is not None:
        line = _line_of(text, pos)
        column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        kind = "character" if "Illegal character" in raw else "token"
        found = re.search(r"(?:character|unexpected)\s+'(.*?)'", raw, flags=re.DOTALL)
        shown = found.group(1)[:20] if found else text[pos:pos + 20]
        message = f"unexpected {kind} {shown!r} at line {line}, column {column}"
    else:
        message = raw.replace("Syntax error in input : ", "").rstrip("!")
    log.debug("Lucene syntax error: %s", message)
    return QueryParseError(message, line=line)
