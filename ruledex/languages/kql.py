"""Parse Kibana query language (KQL, ``kuery``) into the rule model's boolean tree.

KQL is the language of most Elastic query rules. Its grammar has one lexical
twist: an unquoted value may contain spaces and runs until a special character
or a keyword (``or``/``and``/``not``) surrounded by whitespace, so
``message: hello world`` is one value. The unquoted-value terminal below encodes
that with a look-ahead instead of a hand-written lexer.
"""

from __future__ import annotations

import ipaddress
import logging
import re

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ruledex.languages.wildcards import Part, Wildcard, classify, render
from ruledex.model import Node, Predicate, QueryParseError, and_, leaf, not_, or_

log = logging.getLogger(__name__)

_GRAMMAR = r"""
?start: or_query

?or_query: and_query (_OR and_query)*
?and_query: not_query (_AND not_query)*
?not_query: _NOT not_query -> negation
          | sub_query
?sub_query: "(" or_query ")"
          | nested
          | field_range
          | field_value
          | bare_value

nested: field ":" "{" or_query "}"
field_range: field RANGE_OP value
field_value: field ":" value_list
bare_value: value

?value_list: "(" value_or ")"
           | value
?value_or: value_and (_OR value_and)*
?value_and: value_not (_AND value_not)*
?value_not: _NOT value_not -> negation
          | value_list

?field: value
?value: QUOTED | UNQUOTED

_OR.2: /or(?=[\s(])/i
_AND.2: /and(?=[\s(])/i
_NOT.2: /not(?=[\s(])/i
RANGE_OP: "<=" | ">=" | "<" | ">"
QUOTED: /"(?:\\.|[^"\\])*"/s
// Spaces inside an unquoted value belong to it unless a keyword follows them.
UNQUOTED: VALUE_CHAR+ (VALUE_GAP VALUE_CHAR+)*
VALUE_CHAR: /\\[\s\S]|[^\\():<>"{}\s]/
VALUE_GAP: /\s+(?!(?:or|and|not)(?:[\s(]|$))/i

%ignore /\s+/
"""

_PARSER = Lark(_GRAMMAR, parser="lalr", lexer="contextual")

_TERMINAL_NAMES = {
    "_OR": "'or'", "_AND": "'and'", "_NOT": "'not'", "RANGE_OP": "a comparison",
    "QUOTED": "a quoted value", "UNQUOTED": "a value", "LPAR": "'('", "RPAR": "')'",
    "LBRACE": "'{'", "RBRACE": "'}'", "COLON": "':'", "$END": "end of query",
}

# Characters that a backslash makes literal in an unquoted KQL value.
_SPECIAL = set('\\():<>"*{}')
_WHITESPACE_ESCAPES = {"t": "\t", "r": "\r", "n": "\n"}
_KEYWORDS = ("or", "and", "not")
_RANGE_OPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

# Fields that pick the log source rather than describe the activity; their tests feed the
# event catalog, not the indicator tables.
SELECTOR_FIELDS = frozenset({
    "event.category", "event.dataset", "event.module", "data_stream.dataset", "_index",
})


def parse_kql(text: str) -> Node:
    """Parse a KQL query into a boolean tree; match-all is an ``and`` with no children."""
    if not text.strip():
        return match_all()
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as err:
        raise _syntax_error(err, text) from None
    return _query(tree, "")


def match_all() -> Node:
    """The tree of a query that matches every event: an AND with no predicates."""
    return Node("and", [])


def is_match_all(node: Node) -> bool:
    """True for the tree :func:`match_all` returns."""
    return node.kind == "and" and not node.children


def all_of(children: list[Node]) -> Node:
    """AND of the children, where a match-all child adds nothing."""
    kept = [c for c in children if not is_match_all(c)]
    return and_(*kept) if kept else match_all()


def any_of(children: list[Node]) -> Node:
    """OR of the children, where a match-all child makes the whole OR match all."""
    if any(is_match_all(c) for c in children):
        return match_all()
    return or_(*children)


def case_sensitive(field: str | None) -> bool:
    """Whether Elastic compares this field's values case-sensitively."""
    # Keyword fields, the ECS default, compare exactly; `.caseless` sub-fields carry a
    # lowercasing normalizer and `.text` sub-fields are analyzed, so both ignore case.
    # A bare value has no field and is searched mostly in analyzed text, so it ignores case.
    if field is None:
        return False
    return not field.endswith((".caseless", ".text"))


def field_predicate(field: str, op: str, value: str | None) -> Predicate:
    """A predicate on an Elastic field, with its case sensitivity and stage filled in."""
    if op == "eq" and value is not None and _is_cidr(field, value):
        op = "cidr"
    stage = "selector" if field in SELECTOR_FIELDS else "event"
    return Predicate(field, op, value, case_sensitive=case_sensitive(field), stage=stage)


def _is_cidr(field: str, value: str) -> bool:
    """True when an ip-like field is compared with a network, which Elastic matches by range."""
    last = field.rsplit(".", 1)[-1].lower()
    if "/" not in value or not (last == "ip" or last.endswith("address")):
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def _query(tree: Tree | Token, prefix: str) -> Node:
    """Turn one query-level parse node into a tree node; ``prefix`` names the nested field."""
    assert isinstance(tree, Tree), tree
    kind = tree.data
    if kind == "or_query":
        return any_of([_query(c, prefix) for c in tree.children])
    if kind == "and_query":
        return all_of([_query(c, prefix) for c in tree.children])
    if kind == "negation":
        return not_(_query(tree.children[0], prefix))
    if kind == "nested":
        field_tok, inner = tree.children
        return _query(inner, prefix + _field_name(field_tok) + ".")
    if kind == "field_range":
        field_tok, op_tok, value_tok = tree.children
        field = prefix + _field_name(field_tok)
        return leaf(field_predicate(field, _RANGE_OPS[str(op_tok)], _plain_text(value_tok)))
    if kind == "field_value":
        field_tok, values = tree.children
        field = prefix + _field_name(field_tok)
        if field == "*":
            return _values(values, None)
        return _values(values, field)
    if kind == "bare_value":
        return _values(tree.children[0], None)
    raise AssertionError(f"unexpected KQL parse node {kind}")


def _values(tree: Tree | Token, field: str | None) -> Node:
    """Turn a value or a value list into predicates on ``field`` (keywords when None)."""
    if isinstance(tree, Token):
        return _value(tree, field)
    kind = tree.data
    if kind == "value_or":
        return any_of([_values(c, field) for c in tree.children])
    if kind == "value_and":
        return all_of([_values(c, field) for c in tree.children])
    if kind == "negation":
        return not_(_values(tree.children[0], field))
    raise AssertionError(f"unexpected KQL value node {kind}")


def _value(token: Token, field: str | None) -> Node:
    """One value tested against one field, classified by its wildcards."""
    if token.type == "QUOTED":
        op, value = "eq", _unquote(str(token))
    else:
        parts = _unquoted_parts(str(token), token.line)
        op, value = classify(parts)
    if field is None:
        if op == "exists":
            return match_all()
        # A bare value keeps its wildcards: it has no operator of its own to carry them.
        if token.type == "UNQUOTED":
            value = render(parts)
        return leaf(Predicate(None, "keyword", value, case_sensitive=case_sensitive(None)))
    if op == "exists":
        return leaf(field_predicate(field, "exists", None))
    return leaf(field_predicate(field, op, value))


def _field_name(token: Tree | Token) -> str:
    """A field name with escapes undone; an unquoted ``*`` stays as the wildcard it is."""
    assert isinstance(token, Token), token
    if token.type == "QUOTED":
        return _unquote(str(token))
    return render(_unquoted_parts(str(token), token.line))


def _plain_text(token: Tree | Token) -> str:
    """A value whose wildcards mean nothing (a range bound), with escapes undone."""
    assert isinstance(token, Token), token
    if token.type == "QUOTED":
        return _unquote(str(token))
    parts = _unquoted_parts(str(token), token.line)
    return "".join(p.value if isinstance(p, Wildcard) else p for p in parts)


def _unquote(raw: str) -> str:
    """Undo the escapes of a quoted KQL string; a backslash before anything else stays."""
    body = raw[1:-1]
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        nxt = body[i + 1:i + 2]
        if char != "\\" or not nxt:
            out.append(char)
            i += 1
        elif nxt in _WHITESPACE_ESCAPES:
            # Kibana reads these as control characters even where the author meant a
            # Windows path ("C:\temp"); the value keeps what Kibana would search for.
            out.append(_WHITESPACE_ESCAPES[nxt])
            i += 2
        elif _unicode_at(body, i) is not None:
            out.append(_unicode_at(body, i) or "")
            i += 6
        elif nxt in '\\"':
            out.append(nxt)
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _unquoted_parts(raw: str, line: int | None) -> list[Part]:
    """Split an unquoted KQL value into literal text and ``*`` wildcards, undoing escapes.

    KQL has no single-character wildcard, so ``?`` is plain text; and its escapes differ
    from :func:`wildcards.split_pattern`'s (a lone backslash is an error, not a literal).
    """
    parts: list[Part] = []
    buf: list[str] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "*":
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Wildcard.MANY)
            i += 1
            continue
        if char != "\\":
            buf.append(char)
            i += 1
            continue
        nxt = raw[i + 1:i + 2]
        unicode = _unicode_at(raw, i)
        if nxt in _WHITESPACE_ESCAPES:
            buf.append(_WHITESPACE_ESCAPES[nxt])
            i += 2
        elif nxt in _SPECIAL:
            buf.append(nxt)
            i += 2
        elif unicode is not None:
            buf.append(unicode)
            i += 6
        elif raw[i + 1:].lower().startswith(_KEYWORDS):
            i += 1
        else:
            raise QueryParseError(
                f"unknown escape '\\{nxt}' in unquoted value {raw!r}; "
                "quote the value or escape the backslash", line=line)
    if buf:
        parts.append("".join(buf))
    return parts


def _unicode_at(text: str, i: int) -> str | None:
    """The character of a ``\\uXXXX`` escape starting at ``i``, if there is one."""
    match = re.match(r"\\u([0-9a-fA-F]{4})", text[i:i + 6])
    return chr(int(match.group(1), 16)) if match else None


def _syntax_error(err: UnexpectedInput, text: str) -> QueryParseError:
    """Turn a Lark error into a one-line message with the line it happened on."""
    line = getattr(err, "line", None)
    column = getattr(err, "column", None)
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream or 0
        char = text[pos] if pos < len(text) else ""
        if char == '"':
            message = f"unterminated quoted value at line {line}, column {column}"
        else:
            message = f"unexpected character {char!r} at line {line}, column {column}"
    elif isinstance(err, UnexpectedEOF) or (
            isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        line = text.count("\n") + 1
        message = "unexpected end of query" + _expected(err)
    elif isinstance(err, UnexpectedToken):
        message = f"unexpected {str(err.token)!r} at line {line}, column {column}" + \
            _expected(err)
    else:
        message = str(err).splitlines()[0]
    log.debug("KQL syntax error: %s", message)
    return QueryParseError(message, line=line if isinstance(line, int) and line > 0 else None)


def _expected(err: UnexpectedInput) -> str:
    """A readable list of what the parser would have accepted."""
    names = sorted({_TERMINAL_NAMES.get(t, t) for t in getattr(err, "expected", ()) or ()})
    return f"; expected {', '.join(names)}" if names else ""
