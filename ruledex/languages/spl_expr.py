"""SPL eval expressions as used by ``| where``: tokens, syntax tree, and conditions.

Eval expressions are case-sensitive, evaluate AND before OR, quote strings
with ``"`` and field names with ``'``, and treat ``*`` as a literal character.
Comparisons that reduce to one field against one literal become predicates;
the rest (arithmetic, time functions, field against field ordering) are kept
as opaque text with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ruledex.languages.spl_fields import TIME_FUNCTIONS, Columns, field_test, unescape
from ruledex.languages.spl_search import MacroAt, parse_search
from ruledex.languages.wildcards import classify_text
from ruledex.model import Node, Predicate, QueryParseError, and_, leaf, not_, opaque, or_

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<qfield>'(?:[^'\\]|\\.)*')
  | (?P<num>(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.]))
  | (?P<name>[A-Za-z_@$][\w.{}@$:]*|\d[\w.{}@$:]*)
  | (?P<op>==|!=|<=|>=|<>|[=<>+\-*/%.!(),])
""", re.VERBOSE | re.DOTALL)

_KEYWORDS = {"AND", "OR", "NOT", "XOR", "LIKE", "IN"}
_COMPARE = {"=": "eq", "==": "eq", "!=": "ne", "<>": "ne",
            "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_FLIP = {"eq": "eq", "ne": "ne", "lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}
_ARITHMETIC = {"+", "-", "*", "/", "%", "."}
_CASE_FOLD = {"lower", "upper"}
_LITERAL_WORDS = {"true", "false"}


@dataclass
class Token:
    kind: str
    text: str
    start: int
    end: int


@dataclass
class Expr:
    """A node of an eval expression: str, num, field, call, binary, not, neg or in."""

    kind: str
    value: str = ""
    args: list[Expr] = field(default_factory=list)
    start: int = 0
    end: int = 0


def tokenize(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Split ``text[start:end]`` into eval tokens with absolute offsets."""
    end = len(text) if end is None else end
    tokens: list[Token] = []
    pos = start
    while pos < end:
        match = _TOKEN.match(text, pos, end)
        if not match:
            raise QueryParseError(f"unexpected {text[pos]!r} in expression")
        kind = match.lastgroup or ""
        if kind != "space":
            word = match.group()
            if kind == "name" and word.upper() in _KEYWORDS:
                kind = "kw"
            tokens.append(Token(kind, word, pos, match.end()))
        pos = match.end()
    tokens.append(Token("end", "", end, end))
    return tokens


class ExprParser:
    """Recursive descent over eval tokens."""

    def __init__(self, tokens: list[Token]):
        self.tokens = tokens
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_kw(self, word: str) -> bool:
        return self.tok.kind == "kw" and self.tok.text.upper() == word

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind == "op" and self.tok.text in ops

    def expect(self, op: str) -> Token:
        if not self.is_op(op):
            found = repr(self.tok.text) if self.tok.text else "the end"
            raise QueryParseError(f"expected {op!r} in expression, found {found}")
        return self.take()

    def binary(self, kind: str, left: Expr, right: Expr) -> Expr:
        return Expr("binary", kind, [left, right], left.start, right.end)

    def parse_or(self) -> Expr:
        left = self.parse_xor()
        while self.is_kw("OR"):
            self.take()
            left = self.binary("OR", left, self.parse_xor())
        return left

    def parse_xor(self) -> Expr:
        left = self.parse_and()
        while self.is_kw("XOR"):
            self.take()
            left = self.binary("XOR", left, self.parse_and())
        return left

    def parse_and(self) -> Expr:
        left = self.parse_not()
        while self.is_kw("AND"):
            self.take()
            left = self.binary("AND", left, self.parse_not())
        return left

    def parse_not(self) -> Expr:
        if self.is_kw("NOT") or self.is_op("!"):
            start = self.take().start
            inner = self.parse_not()
            return Expr("not", args=[inner], start=start, end=inner.end)
        return self.parse_compare()

    def parse_compare(self) -> Expr:
        left = self.parse_sum()
        if self.is_op(*_COMPARE):
            op = self.take().text
            return self.binary(op, left, self.parse_sum())
        negate = False
        if self.is_kw("NOT") and self.tokens[self.i + 1].kind == "kw" and \
                self.tokens[self.i + 1].text.upper() in ("LIKE", "IN"):
            self.take()
            negate = True
        if self.is_kw("LIKE"):
            self.take()
            node = self.binary("LIKE", left, self.parse_sum())
        elif self.is_kw("IN"):
            self.take()
            self.expect("(")
            items = self.arguments()
            close = self.tokens[self.i - 1]
            node = Expr("in", args=[left, *items], start=left.start, end=close.end)
        else:
            return left
        return Expr("not", args=[node], start=node.start, end=node.end) if negate else node

    def parse_sum(self) -> Expr:
        left = self.parse_product()
        while self.is_op("+", "-", "."):
            op = self.take().text
            left = self.binary(op, left, self.parse_product())
        return left

    def parse_product(self) -> Expr:
        left = self.parse_unary()
        while self.is_op("*", "/", "%"):
            op = self.take().text
            left = self.binary(op, left, self.parse_unary())
        return left

    def parse_unary(self) -> Expr:
        if self.is_op("-", "+"):
            sign = self.take()
            inner = self.parse_unary()
            if inner.kind == "num":
                value = inner.value if sign.text == "+" else "-" + inner.value
                return Expr("num", value, start=sign.start, end=inner.end)
            return Expr("neg", args=[inner], start=sign.start, end=inner.end)
        return self.parse_primary()

    def arguments(self) -> list[Expr]:
        """Comma-separated expressions up to and including the closing parenthesis."""
        items: list[Expr] = []
        if self.is_op(")"):
            self.take()
            return items
        while True:
            items.append(self.parse_or())
            if self.is_op(","):
                self.take()
                continue
            self.expect(")")
            return items

    def parse_primary(self) -> Expr:
        token = self.tok
        if token.kind == "op" and token.text == "(":
            self.take()
            inner = self.parse_or()
            close = self.expect(")")
            inner.start, inner.end = token.start, close.end
            return inner
        if token.kind in ("name", "kw") and self.tokens[self.i + 1].text == "(" and \
                token.text.upper() not in ("AND", "OR", "NOT", "XOR"):
            self.take()
            self.take()
            args = self.arguments()
            return Expr("call", token.text.lower(), args, token.start, self.tokens[self.i - 1].end)
        if token.kind == "str":
            self.take()
            return Expr("str", unescape(token.text[1:-1]), start=token.start, end=token.end)
        if token.kind == "qfield":
            self.take()
            return Expr("field", unescape(token.text[1:-1]), start=token.start, end=token.end)
        if token.kind == "num":
            self.take()
            return Expr("num", token.text, start=token.start, end=token.end)
        if token.kind == "name":
            self.take()
            return Expr("field", token.text, start=token.start, end=token.end)
        what = token.text or "end of expression"
        raise QueryParseError(f"unexpected {what!r} in expression")


def parse_expression(text: str, start: int = 0, end: int | None = None) -> Expr:
    """Parse one eval expression in ``text[start:end]``."""
    parser = ExprParser(tokenize(text, start, end))
    expr = parser.parse_or()
    if parser.tok.kind != "end":
        raise QueryParseError(f"unexpected {parser.tok.text!r} after expression")
    return expr


@dataclass
class Reducer:
    """Turn a where-expression tree into predicates over the pipeline's columns."""

    text: str
    columns: Columns
    macro_at: MacroAt

    def condition(self, expr: Expr) -> Node | None:
        """The boolean tree an expression stands for."""
        if expr.kind == "binary" and expr.value in ("AND", "OR"):
            parts = [self.condition(arg) for arg in expr.args]
            kept = [p for p in parts if p is not None]
            if expr.value == "AND":
                return and_(*kept) if kept else None
            if len(kept) < len(parts):
                return None
            return or_(*kept)
        if expr.kind == "not":
            inner = self.condition(expr.args[0])
            return not_(inner) if inner is not None else None
        if expr.kind == "binary" and expr.value in _COMPARE:
            return self.compare(expr.args[0], _COMPARE[expr.value], expr.args[1], expr)
        if expr.kind == "binary" and expr.value == "LIKE":
            return self.like(expr.args[0], expr.args[1], expr)
        if expr.kind == "in":
            return self.members(expr.args[0], expr.args[1:], expr)
        if expr.kind == "call":
            return self.call(expr)
        return self.opaque(expr)

    # -- pieces -----------------------------------------------------------

    def source(self, expr: Expr) -> str:
        return self.text[expr.start:expr.end]

    def opaque(self, expr: Expr) -> Node:
        return opaque(self.source(expr), reason(expr))

    def target(self, expr: Expr) -> tuple[str, bool] | None:
        """The field an operand tests and whether the test keeps case."""
        if expr.kind == "field" and expr.value.lower() not in _LITERAL_WORDS:
            return expr.value, True
        if expr.kind == "call" and expr.value in _CASE_FOLD and len(expr.args) == 1:
            inner = self.target(expr.args[0])
            return (inner[0], False) if inner else None
        return None

    def clearly_field(self, name: str) -> bool:
        """Whether a bare word is surely a field: a known column or a name like ``a_b``, ``a.b``."""
        if name in self.columns.named or any(c in name for c in "._{"):
            return True
        return self.columns.resolve(name).raw not in (None, name)

    def predicate(self, name: str, op: str, value: str | None, case: bool,
                  expr: Expr) -> Node:
        field_name, stage = field_test(self.columns, name)
        return leaf(Predicate(field_name, op, value, case_sensitive=case, stage=stage,
                              macro=self.macro_at(expr.start)))

    def compare(self, left: Expr, op: str, right: Expr, whole: Expr) -> Node | None:
        target, value = self.target(left), literal(right)
        if target is None or value is None:
            flipped_target, flipped_value = self.target(right), literal(left)
            if flipped_target is not None and flipped_value is not None:
                target, value, op = flipped_target, flipped_value, _FLIP[op]
        if target is not None and value is not None:
            node = self.predicate(target[0], "eq" if op == "ne" else op, value, target[1], whole)
            return not_(node) if op == "ne" else node
        other = self.target(right)
        if target is not None and other is not None and op in ("eq", "ne") and \
                self.clearly_field(other[0]):
            ref, _ = field_test(self.columns, other[0])
            node = self.predicate(target[0], "fieldref", ref, target[1] and other[1], whole)
            return not_(node) if op == "ne" else node
        if self.target(left) is not None and other is not None:
            return opaque(self.source(whole), "field comparison")
        return self.opaque(whole)

    def like(self, subject: Expr, pattern: Expr, whole: Expr) -> Node:
        target, text = self.target(subject), literal(pattern)
        if target is None or text is None:
            return self.opaque(whole)
        # ``_`` matches one character, so ``%LD_PRELOAD%`` is a wildcard, not a contains;
        # a backslash is kept as a literal character, not read as an escape.
        op, value = classify_text(text, many="%", one="_", escape=None)
        return self.predicate(target[0], op, None if op == "exists" else value, target[1], whole)

    def members(self, subject: Expr, items: list[Expr], whole: Expr) -> Node:
        target = self.target(subject)
        if target is None:
            return self.opaque(whole)
        nodes: list[Node] = []
        for item in items:
            node = self.compare(subject, "eq", item, item)
            if node is None or node.kind == "opaque":
                return self.opaque(whole)
            nodes.append(node)
        return or_(*nodes) if nodes else self.opaque(whole)

    def call(self, expr: Expr) -> Node | None:
        name, args = expr.value, expr.args
        if name == "like" and len(args) == 2:
            return self.like(args[0], args[1], expr)
        if name == "in" and args:
            return self.members(args[0], args[1:], expr)
        if name == "match" and len(args) == 2:
            target, pattern = self.target(args[0]), literal(args[1])
            if target is not None and pattern is not None:
                case = target[1] and not pattern.startswith("(?i)")
                return self.predicate(target[0], "regex_match", pattern, case, expr)
        if name == "cidrmatch" and len(args) == 2:
            target, network = self.target(args[1]), literal(args[0])
            if target is not None and network is not None:
                return self.predicate(target[0], "cidr", network, False, expr)
        if name in ("isnull", "isnotnull") and len(args) == 1:
            target = self.target(args[0])
            if target is not None:
                op = "is_null" if name == "isnull" else "exists"
                return self.predicate(target[0], op, None, False, expr)
        if name == "searchmatch" and len(args) == 1 and args[0].kind == "str":
            macro = self.macro_at(expr.start)
            node, _ = parse_search(args[0].value, self.columns, lambda _pos: macro)
            return node
        if name == "true" and not args:
            return None
        return self.opaque(expr)


def literal(expr: Expr) -> str | None:
    """The value of a literal operand (string, number, bare true/false), else None."""
    if expr.kind in ("str", "num"):
        return expr.value
    if expr.kind == "field" and expr.value.lower() in _LITERAL_WORDS:
        return expr.value
    return None


def _walk(expr: Expr) -> list[Expr]:
    out = [expr]
    for arg in expr.args:
        out.extend(_walk(arg))
    return out


def reason(expr: Expr) -> str:
    """Why an expression cannot be reduced to predicates, in a few words."""
    nodes = _walk(expr)
    if any(n.kind == "call" and n.value in TIME_FUNCTIONS for n in nodes):
        return "time function"
    if any(n.kind == "binary" and n.value in _ARITHMETIC for n in nodes) or \
            any(n.kind == "neg" for n in nodes):
        return "arithmetic"
    if any(n.kind == "call" for n in nodes):
        return "function"
    return "expression"


def parse_where(text: str, columns: Columns | None = None, macro_at: MacroAt | None = None,
                start: int = 0, end: int | None = None) -> Node | None:
    """Parse a ``where`` condition in ``text[start:end]`` into a boolean tree."""
    expr = parse_expression(text, start, end)
    reducer = Reducer(text, columns or Columns(), macro_at or (lambda _pos: None))
    return reducer.condition(expr)
