"""Reduce the condition of an ES|QL WHERE command to a predicate tree.

The ES|QL grammar (``esql.lark``) hands over a Lark tree; this module turns
the field tests in it into :class:`~ruledex.model.Predicate` leaves and keeps
anything else as an opaque node with the reason it could not be reduced.

The match operator ``field : "text"`` (and the ``match()`` function) is a
full-text match on analysed text, close to a case-insensitive equality for
keyword fields; it is recorded as ``eq`` with ``case_sensitive=False`` and the
modifier ``match`` so that later stages can tell it apart from ``==``.

Other comparisons are case-sensitive, as in ES|QL, unless the field is wrapped
in TO_LOWER/TO_UPPER or compared with ``=~``; the value is kept as written.
LIKE knows only ``*`` and ``?`` as wildcards, so a ``%`` in a LIKE pattern is
literal text, exactly as ES|QL reads it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from lark import Token, Tree

from ruledex.languages.wildcards import classify_text
from ruledex.model import Node, Predicate, and_, iter_nodes, leaf, not_, opaque, or_

log = logging.getLogger(__name__)

StageOf = Callable[[str], str]
"""Tell the stage (event, selector, derived, aggregate) of a test on a column name."""

_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", '"': '"', "\\": "\\"}
_ORDERED_OPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!=", "=~": "=~"}
# Type conversions change neither the field tested nor the case of its value.
_TRANSPARENT = {
    "to_string", "to_str", "to_ip", "to_double", "to_dbl", "to_integer", "to_int",
    "to_long", "to_unsigned_long", "to_ul", "to_boolean", "to_bool", "to_version",
}
_CASE_FOLDING = {"to_lower", "to_upper"}
# A multi-valued field holds a constant exactly when it equals it in the
# catalog's terms, so mv_contains with a constant is an equality.
_STRING_TESTS = {
    "starts_with": "starts_with", "ends_with": "ends_with", "contains": "contains",
    "mv_contains": "eq",
}


def unquote(token: Tree | Token) -> str:
    """Return the text of a string literal with ES|QL escaping undone."""
    if not isinstance(token, Token):
        raise TypeError(f"not a string literal: {token!r}")
    raw = str(token)
    if token.type == "TRIPLE_STRING":
        # Triple-quoted strings take no escapes; quotes past the closing
        # three belong to the text.
        return raw[3:-3]
    # ES|QL knows only these escapes; any other backslash is kept as written
    # rather than rejected, since the value is what the author meant to match.
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw[1:-1])


def unquote_id(token: Token) -> str:
    """Return an identifier with backtick quoting undone."""
    raw = str(token)
    if token.type == "QUOTED_ID":
        return raw[1:-1].replace("``", "`")
    return raw


def qname_text(tree: Tree) -> str:
    """Return the dotted name a ``qname`` tree spells."""
    return ".".join(unquote_id(part) for part in tree.children if isinstance(part, Token))


def _children(tree: Tree) -> list[Tree | Token]:
    """Children without keyword tokens and absent optional parts."""
    return [c for c in tree.children if c is not None and not _is_keyword(c)]


def _is_keyword(child: object) -> bool:
    return isinstance(child, Token) and child.type in {
        "AND", "OR", "NOT", "LIKE", "RLIKE", "IN", "IS", "NULL"}


def _negated(tree: Tree) -> bool:
    return any(isinstance(c, Token) and c.type == "NOT" for c in tree.children)


class ConditionReducer:
    """Turn the Lark tree of one WHERE condition into a predicate tree."""

    def __init__(self, source: str, stage_of: StageOf):
        self.source = source
        self.stage_of = stage_of

    def reduce(self, node: Tree | Token) -> Node:
        """Return the predicate tree of a condition."""
        if isinstance(node, Token):
            return opaque(str(node), "a constant is not a field test")
        handler = _HANDLERS.get(node.data)
        if handler is not None:
            return handler(self, node)
        if node.data == "qname":
            # A boolean column used on its own tests for true.
            return self._leaf(qname_text(node), "eq", "true", False)
        return opaque(self.text(node), "expression is not a field test")

    def text(self, node: Tree | Token) -> str:
        """Return the source text of a subtree."""
        if isinstance(node, Token):
            return str(node)
        if getattr(node.meta, "empty", True):
            return ""
        return self.source[node.meta.start_pos:node.meta.end_pos]

    # Boolean structure.

    def _or_op(self, tree: Tree) -> Node:
        return or_(*self._flat(tree, "or_op"))

    def _and_op(self, tree: Tree) -> Node:
        return and_(*self._flat(tree, "and_op"))

    def _flat(self, tree: Tree, kind: str) -> list[Node]:
        out: list[Node] = []
        for child in _children(tree):
            if isinstance(child, Tree) and child.data == kind:
                out.extend(self._flat(child, kind))
            else:
                out.append(self.reduce(child))
        return out

    def _not_op(self, tree: Tree) -> Node:
        return not_(self.reduce(_children(tree)[0]))

    # Field tests.

    def _compare(self, tree: Tree) -> Node:
        left, op_token, right = _children(tree)
        op = str(op_token)
        left_field, right_field = self.field(left), self.field(right)
        left_value, right_value = literal(left), literal(right)
        if left_field is None and right_field is not None and left_value is not None:
            left_field, right_value, op = right_field, left_value, _FLIPPED[op]
        if left_field is not None and right_value is not None:
            name, folded = left_field
            if op in _ORDERED_OPS:
                return self._leaf(name, _ORDERED_OPS[op], right_value, folded)
            node = self._leaf(name, "eq", right_value, folded or op == "=~")
            return not_(node) if op == "!=" else node
        if left_field is not None and right_field is not None:
            if op in _ORDERED_OPS:
                return opaque(self.text(tree), "ordering between two fields")
            node = self._fieldref(left_field[0], right_field[0])
            return not_(node) if op == "!=" else node
        if _calls(tree, "now"):
            return opaque(self.text(tree), "time window relative to now()")
        if left_field is None and right_field is None:
            return opaque(self.text(tree), "comparison of computed values, not of a field")
        return opaque(self.text(tree), "comparison with a computed value")

    def _like(self, tree: Tree) -> Node:
        return self._pattern_test(tree, "like")

    def _rlike(self, tree: Tree) -> Node:
        return self._pattern_test(tree, "rlike")

    def _pattern_test(self, tree: Tree, kind: str) -> Node:
        subject, patterns = _children(tree)
        found = self.field(subject)
        if found is None:
            return opaque(self.text(tree), f"{kind} on an expression, not a field")
        name, folded = found
        tokens = patterns.children if isinstance(patterns, Tree) else [patterns]
        tests = []
        for token in tokens:
            value = unquote(token)
            if kind == "rlike":
                tests.append(self._leaf(name, "regex_match", value, folded))
                continue
            op, text = classify_text(value)
            tests.append(self._leaf(name, op, text if op != "exists" else None, folded))
        node = or_(*tests)
        return not_(node) if _negated(tree) else node

    def _in_list(self, tree: Tree) -> Node:
        subject, *items = _children(tree)
        if literal(subject) == "true" and not _negated(tree):
            # `true in (a, b)` holds when any of the conditions holds.
            return or_(*(self.reduce(item) for item in items))
        found = self.field(subject)
        if found is None:
            return opaque(self.text(tree), "in on an expression, not a field")
        name, folded = found
        tests = []
        for item in items:
            value, other = literal(item), self.field(item)
            if value is not None:
                tests.append(self._leaf(name, "eq", value, folded))
            elif other is not None:
                tests.append(self._fieldref(name, other[0]))
            else:
                tests.append(opaque(self.text(item), "list item is not a constant"))
        node = or_(*tests)
        return not_(node) if _negated(tree) else node

    def _is_null(self, tree: Tree) -> Node:
        found = self.field(_children(tree)[0])
        if found is None:
            return opaque(self.text(tree), "null test on an expression, not a field")
        op = "exists" if _negated(tree) else "is_null"
        return self._leaf(found[0], op, None, True)

    def _match_op(self, tree: Tree) -> Node:
        subject, query = _children(tree)
        return self._match(tree, subject, query)

    def _match(self, tree: Tree, subject: Tree | Token, query: Tree | Token) -> Node:
        found, value = self.field(subject), literal(query)
        if found is None or value is None:
            return opaque(self.text(tree), "match is not between a field and a constant")
        return self._leaf(found[0], "eq", value, True, ("match",))

    # Functions used as conditions.

    def _call(self, tree: Tree) -> Node:
        name_token, *args = _children(tree)
        name = str(name_token).lower()
        if name == "kql" and len(args) == 1 and _is_string(args[0]):
            return self._kql(tree, unquote(args[0]))
        if name == "match" and len(args) in (2, 3):
            return self._match(tree, args[0], args[1])
        if name == "cidr_match" and len(args) >= 2:
            return self._cidr(tree, args)
        if name in _STRING_TESTS and len(args) == 2:
            found, value = self.field(args[0]), literal(args[1])
            if found is not None and value is not None:
                return self._leaf(found[0], _STRING_TESTS[name], value, found[1])
        return opaque(self.text(tree), f"function {name} is not reduced to predicates")

    def _cidr(self, tree: Tree, args: list[Tree | Token]) -> Node:
        found = self.field(args[0])
        values = [literal(arg) for arg in args[1:]]
        if found is None or any(v is None for v in values):
            return opaque(self.text(tree), "cidr_match is not on a field with constant ranges")
        return or_(*(self._leaf(found[0], "cidr", v, True) for v in values))

    def _kql(self, tree: Tree, query: str) -> Node:
        try:
            from ruledex.languages.kql import parse_kql
        except ImportError:
            return opaque(self.text(tree), "kql parser is not available")
        try:
            node = parse_kql(query)
        # A failure of the embedded language must not lose the ES|QL query
        # around it, whatever the KQL parser raises.
        except Exception as exc:  # noqa: BLE001
            log.debug("kql inside ES|QL not parsed: %s", exc)
            return opaque(self.text(tree), f"kql: {exc}")
        for inner in iter_nodes(node):
            pred = inner.predicate
            if pred is not None and pred.field and pred.stage == "event":
                pred.stage = self.stage_of(pred.field)
        return node

    # Building blocks.

    def field(self, node: Tree | Token) -> tuple[str, bool] | None:
        """Return ``(field, case_folded)`` when the node is a field, maybe wrapped."""
        if not isinstance(node, Tree):
            return None
        if node.data == "qname":
            return qname_text(node), False
        if node.data == "cast":
            return self.field(node.children[0])
        if node.data == "call":
            name_token, *args = _children(node)
            name = str(name_token).lower()
            if len(args) == 1 and name in _TRANSPARENT | _CASE_FOLDING:
                inner = self.field(args[0])
                if inner is not None:
                    return inner[0], inner[1] or name in _CASE_FOLDING
        return None

    def _leaf(self, name: str, op: str, value: str | None, folded: bool,
              modifiers: tuple[str, ...] = ()) -> Node:
        return leaf(Predicate(field=name, op=op, value=value, case_sensitive=not folded,
                              stage=self.stage_of(name), modifiers=modifiers))

    def _fieldref(self, name: str, other: str) -> Node:
        stages = {self.stage_of(name), self.stage_of(other)}
        stage = next(s for s in ("aggregate", "derived", "event") if s in stages)
        return leaf(Predicate(field=name, op="fieldref", value=other,
                              case_sensitive=True, stage=stage))


def _calls(tree: Tree, function: str) -> bool:
    """Tell whether the subtree calls the named function."""
    return any(sub.data == "call" and str(sub.children[0]).lower() == function
               for sub in tree.iter_subtrees())


def _is_string(node: Tree | Token) -> bool:
    return isinstance(node, Token) and node.type in ("STRING", "TRIPLE_STRING")


def literal(node: Tree | Token) -> str | None:
    """Return a constant's value as written (strings unquoted), else None."""
    if isinstance(node, Token):
        if _is_string(node):
            return unquote(node)
        if node.type in ("INT", "DECIMAL"):
            return str(node)
        return None
    if node.data == "boolean":
        return str(node.children[0]).lower()
    if node.data == "negate":
        inner = node.children[0]
        if isinstance(inner, Token) and inner.type in ("INT", "DECIMAL"):
            return f"-{inner}"
        return None
    if node.data == "cast":
        return literal(node.children[0])
    return None


_HANDLERS: dict[str, Callable[[ConditionReducer, Tree], Node]] = {
    "or_op": ConditionReducer._or_op,
    "and_op": ConditionReducer._and_op,
    "not_op": ConditionReducer._not_op,
    "compare": ConditionReducer._compare,
    "like": ConditionReducer._like,
    "rlike": ConditionReducer._rlike,
    "in_list": ConditionReducer._in_list,
    "is_null": ConditionReducer._is_null,
    "match_op": ConditionReducer._match_op,
    "call": ConditionReducer._call,
}
