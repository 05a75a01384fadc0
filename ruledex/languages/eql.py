"""Parse EQL (Elastic's Event Query Language) into the rule model's boolean tree.

``process where cond`` becomes a selector predicate on the event category
ANDed with the condition; sequences and samples become ``sequence`` nodes with
one ``step`` per bracketed query. Anything the model cannot express (arithmetic,
``length(x) > 3``, functions over computed values) is kept as an ``opaque``
node with its source text, never as an error.

String values in ``:``, ``like`` and ``wildcard()`` are split on ``*`` and
``?`` with no escape character: after the string escapes are undone, rule
authors write ``C:\\Users\\*\\x.dll`` with a backslash before the wildcard, and
that backslash is a path separator, not a wildcard escape.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ruledex.languages import eql_grammar
from ruledex.languages.wildcards import Part, Wildcard, classify, split_pattern
from ruledex.model import (
    Node,
    Predicate,
    QueryParseError,
    and_,
    leaf,
    not_,
    opaque,
    or_,
    sequence,
    step,
)


@dataclass
class EqlQuery:
    """A parsed EQL query: its tree, event categories in order, pipes and join keys."""

    tree: Node
    categories: list[str]
    pipes: list[str]
    kind: str
    join_keys: list[str] = field(default_factory=list)
    step_keys: list[list[str]] = field(default_factory=list)
    maxspan: str | None = None


@dataclass
class _Field:
    name: str
    optional: bool


@dataclass
class _Literal:
    kind: str  # string, number, bool or null
    value: str | None


@dataclass
class _Computed:
    reason: str


@dataclass
class _List:
    items: list[_Operand]


_Operand = _Field | _Literal | _Computed | _List

# Operator as written -> case sensitivity. Ordering operators compare the way
# ``==`` does.
_CASE_SENSITIVE = {
    "==": True, "!=": True, "in": True, "like": True, "regex": True,
    ":": False, "in~": False, "like~": False, "regex~": False,
    "<": True, "<=": True, ">": True, ">=": True,
}
_ORDERING = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_PATTERN_OPS = {":", "like", "like~"}
_EQUALITY_OPS = {"==", "!=", ":", "in", "in~"}

# Function name (lower case, no ``~``) -> how each literal argument becomes
# wildcard parts; regex and cidr functions are handled apart.
_AFFIX_FUNCTIONS: dict[str, Callable[[str], list[Part]]] = {
    "startswith": lambda v: [v, Wildcard.MANY],
    "endswith": lambda v: [Wildcard.MANY, v],
    "stringcontains": lambda v: [Wildcard.MANY, v, Wildcard.MANY],
    "wildcard": lambda v: split_pattern(v, escape=None),
}

_SPACES = re.compile(r"\s+")


def parse_eql(text: str, category_field: str = "event.category") -> EqlQuery:
    """Parse one EQL query; raise QueryParseError with the line on a syntax error."""
    try:
        tree = eql_grammar.parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    return _Builder(text, category_field).build(tree)


def _syntax_error(text: str, exc: UnexpectedInput) -> QueryParseError:
    """Turn a Lark error into a one-line QueryParseError."""
    if isinstance(exc, UnexpectedEOF) or (
            isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return QueryParseError("unexpected end of query", line=text.count("\n") + 1)
    if isinstance(exc, UnexpectedCharacters):
        where = f"line {exc.line}, column {exc.column}"
        return QueryParseError(f"unexpected character {exc.char!r} at {where}",
                               line=exc.line)
    if isinstance(exc, UnexpectedToken):
        where = f"line {exc.line}, column {exc.column}"
        return QueryParseError(f"unexpected {str(exc.token)!r} at {where}", line=exc.line)
    return QueryParseError(str(exc), line=getattr(exc, "line", None))


class _Builder:
    """Walk a Lark parse tree of one query and build the rule model's tree."""

    def __init__(self, text: str, category_field: str):
        self.text = text
        self.category_field = category_field
        self.categories: list[str] = []

    def source(self, item: Tree | Token) -> str:
        """Return the query text an item was parsed from, whitespace collapsed."""
        if isinstance(item, Token):
            start, end = item.start_pos, item.end_pos
        else:
            start, end = item.meta.start_pos, item.meta.end_pos
        return _SPACES.sub(" ", self.text[start:end]).strip()

    def build(self, tree: Tree) -> EqlQuery:
        query, *pipes = tree.children
        assert isinstance(query, Tree)
        result = EqlQuery(tree=Node("and"), categories=self.categories, pipes=[],
                          kind="event")
        if query.data == "event_query":
            result.tree = self.event_query(query)
        else:
            result.kind = str(query.data)
            result.tree = self.sequence(query, result)

        for pipe in pipes:
            assert isinstance(pipe, Tree)
            name, *args = [c for c in pipe.children if c is not None]
            result.pipes.append(self.source(pipe).lstrip("|").strip())
            if str(name).lower() == "filter":
                conditions = [self.condition(arg) for arg in args]
                result.tree = and_(result.tree, *[c for c in conditions if c is not None])
        return result

    def event_query(self, tree: Tree) -> Node:
        """``category where cond``: a selector on the category ANDed with the condition."""
        category_tree, expr = tree.children
        assert isinstance(category_tree, Tree)
        token = category_tree.children[0]
        assert isinstance(token, Token)
        if token.type == "FIELD":
            category = eql_grammar.field_name(token)
        elif token.type == "ANY":
            category = "any"
        else:
            category = eql_grammar.string_value(token)
        self.categories.append(category)

        nodes = []
        if category != "any":
            nodes.append(leaf(Predicate(self.category_field, "eq", category,
                                        case_sensitive=True, stage="selector")))
        condition = self.condition(expr)
        if condition is not None:
            nodes.append(condition)
        return Node("and") if not nodes else and_(*nodes)

    def sequence(self, tree: Tree, result: EqlQuery) -> Node:
        """A sequence or sample: one step per bracketed query, join keys in the labels."""
        by_clause, with_clause, *rest = tree.children
        result.join_keys = self.keys(by_clause)
        params = self.params(with_clause)
        result.maxspan = next((p.split("=", 1)[1] for p in params
                               if p.startswith("maxspan=")), None)

        steps = []
        for item in rest:
            if item is None:
                continue
            assert isinstance(item, Tree)
            if item.data == "until_step":
                query, by_keys = item.children
                keys = self.keys(by_keys)
                result.step_keys.append(keys)
                assert isinstance(query, Tree)
                steps.append(step(self.event_query(query), label="until"))
                continue
            missing, query, by_keys, step_with = item.children
            assert isinstance(query, Tree)
            node = self.event_query(query)
            keys = self.keys(by_keys)
            result.step_keys.append(keys)
            label = self.categories[-1]
            if keys:
                label += " by " + ", ".join(keys)
            step_params = self.params(step_with)
            if step_params:
                label += " with " + ", ".join(step_params)
            if missing is not None:
                # A missing-event step matches when no such event follows, so its
                # conditions read as exclusions.
                node = not_(node)
                label = "missing " + label
            steps.append(step(node, label=label))

        words = ["sample"] if tree.data == "sample" else []
        if result.join_keys:
            words.append("by " + ", ".join(result.join_keys))
        if params:
            words.append("with " + ", ".join(params))
        return sequence(steps, label=" ".join(words) or None)

    def keys(self, by_clause: Tree | Token | None) -> list[str]:
        """The join keys of a ``by`` clause, field names without quoting."""
        if by_clause is None:
            return []
        assert isinstance(by_clause, Tree)
        keys = []
        for key in by_clause.children:
            if isinstance(key, Tree) and key.data == "field":
                token = key.children[0]
                assert isinstance(token, Token)
                keys.append(eql_grammar.field_name(token))
            else:
                keys.append(self.source(key))
        return keys

    def params(self, with_clause: Tree | Token | None) -> list[str]:
        """The ``name=value`` parameters of a ``with`` clause (maxspan, runs)."""
        if with_clause is None:
            return []
        assert isinstance(with_clause, Tree)
        out = []
        for param in with_clause.children:
            assert isinstance(param, Tree)
            name, value = param.children
            out.append(f"{str(name).lower()}={value}")
        return out

    def condition(self, item: Tree | Token) -> Node | None:
        """Reduce a boolean expression; None for a bare ``true`` (no condition)."""
        if isinstance(item, Token):
            return opaque(self.source(item), "token used as a condition")
        kind = item.data
        if kind in ("or_expr", "and_expr"):
            combine = or_ if kind == "or_expr" else and_
            return combine(*[self.nested(child) for child in item.children])
        if kind == "not_op":
            return not_(self.nested(item.children[1]))
        if kind == "compare":
            left, op, right = item.children
            return self.compare(item, left, str(op), right)
        if kind == "not_in":
            left, _, op, right = item.children
            return not_(self.compare(item, left, str(op), right))
        if kind == "func":
            return self.function(item)
        if kind == "literal":
            token = item.children[0]
            if isinstance(token, Token) and token.type == "TRUE":
                return None
            return opaque(self.source(item), "literal used as a condition")
        if kind == "field":
            return opaque(self.source(item), "field used as a boolean")
        return opaque(self.source(item), f"{kind} used as a condition")

    def nested(self, item: Tree | Token) -> Node:
        """A condition inside and/or/not, where a bare ``true`` is kept visible, not dropped."""
        node = self.condition(item)
        if node is None:
            return opaque(self.source(item), "constant true inside a condition")
        return node

    def operand(self, item: Tree | Token) -> _Operand:
        """Classify one side of a comparison or one function argument."""
        if isinstance(item, Token):
            return _Computed(f"token {item.type}")
        if item.data == "field":
            token = item.children[0]
            assert isinstance(token, Token)
            return _Field(eql_grammar.field_name(token), token.startswith("?"))
        if item.data == "literal":
            token = item.children[0]
            assert isinstance(token, Token)
            if token.type == "NUMBER":
                return _Literal("number", str(token))
            if token.type in ("TRUE", "FALSE"):
                return _Literal("bool", str(token))
            if token.type == "NULL":
                return _Literal("null", None)
            return _Literal("string", eql_grammar.string_value(token))
        if item.data == "neg":
            inner = self.operand(item.children[1])
            if isinstance(inner, _Literal) and inner.kind == "number":
                return _Literal("number", "-" + str(inner.value))
            return _Computed("arithmetic")
        if item.data == "tuple":
            return _List([self.operand(child) for child in item.children])
        if item.data == "func":
            name = item.children[0]
            return _Computed(f"result of {str(name).lower()}()")
        if item.data == "arith":
            return _Computed("arithmetic")
        return _Computed(f"{item.data} as a value")

    def compare(self, item: Tree, left: Tree | Token, op: str,
                right: Tree | Token) -> Node:
        """``left op right`` as predicates; ``!=`` is a NOT over the ``==`` form."""
        lhs, rhs = self.operand(left), self.operand(right)
        if isinstance(lhs, _Literal) and isinstance(rhs, _Field) and op not in _PATTERN_OPS:
            lhs, rhs, op = rhs, lhs, _FLIPPED.get(op, op)
        if not isinstance(lhs, _Field):
            if isinstance(lhs, _Computed):
                return opaque(self.source(item), f"compares a computed value ({lhs.reason})")
            return opaque(self.source(item), "no field on the left of the operator")

        if op == "!=" and isinstance(rhs, _Literal) and rhs.kind == "null":
            return leaf(self.predicate(lhs, "exists", None, op))
        values = rhs.items if isinstance(rhs, _List) else [rhs]
        nodes = []
        for value in values:
            node = self.one_value(lhs, "==" if op == "!=" else op, value)
            if node is None:
                reason = value.reason if isinstance(value, _Computed) else \
                    f"{op} against {type(value).__name__.strip('_').lower()}"
                return opaque(self.source(item), f"not reducible ({reason})")
            nodes.append(node)
        node = or_(*nodes)
        return not_(node) if op == "!=" else node

    def one_value(self, lhs: _Field, op: str, value: _Operand) -> Node | None:
        """The predicate for one field against one value, or None when not reducible."""
        if isinstance(value, _Field):
            if op not in _EQUALITY_OPS:
                return None
            return leaf(self.predicate(lhs, "fieldref", value.name, op))
        if not isinstance(value, _Literal):
            return None
        if value.kind == "null":
            return leaf(self.predicate(lhs, "is_null", None, op)) if op in _EQUALITY_OPS \
                else None
        text = value.value or ""
        if op in _ORDERING:
            return leaf(self.predicate(lhs, _ORDERING[op], text, op))
        if op.startswith("regex"):
            return leaf(self.predicate(lhs, "regex_match", text, op))
        if op in _PATTERN_OPS and value.kind == "string":
            operator, pattern = classify(split_pattern(text, escape=None))
            return leaf(self.predicate(lhs, operator,
                                       None if operator == "exists" else pattern, op))
        return leaf(self.predicate(lhs, "eq", text, op))

    def predicate(self, lhs: _Field, operator: str, value: str | None, op: str,
                  case_sensitive: bool | None = None) -> Predicate:
        """One predicate on a field, case sensitivity taken from the EQL operator."""
        if case_sensitive is None:
            case_sensitive = _CASE_SENSITIVE.get(op, True)
        # Tests of the category field pick the event kind even outside ``process where``.
        stage = "selector" if lhs.name == self.category_field else "event"
        return Predicate(lhs.name, operator, value, case_sensitive=case_sensitive,
                         stage=stage, modifiers=("optional",) if lhs.optional else ())

    def function(self, item: Tree) -> Node:
        """A boolean function call (startsWith, cidrMatch, ...) as an OR of predicates."""
        name_token, tilde, *args = item.children
        name = str(name_token).lower()
        insensitive = tilde is not None
        text = self.source(item)
        operands = [self.operand(arg) for arg in args if arg is not None]
        known = name in _AFFIX_FUNCTIONS or name in ("match", "cidrmatch")
        if not known:
            return opaque(text, f"function {name}() is not reduced")
        if len(operands) < 2 or not isinstance(operands[0], _Field):
            return opaque(text, f"{name}() over a computed value")
        target = operands[0]
        values = []
        for operand in operands[1:]:
            if isinstance(operand, _Field):
                # A prefix or substring test between two fields has no predicate
                # form (fieldref means equality), so it stays opaque.
                return opaque(text, f"{name}() against another field")
            if not isinstance(operand, _Literal) or operand.kind == "null":
                return opaque(text, f"{name}() with a computed argument")
            values.append(operand.value or "")

        nodes = []
        for value in values:
            if name == "cidrmatch":
                pred = self.predicate(target, "cidr", value, "", case_sensitive=False)
            elif name == "match":
                pred = self.predicate(target, "regex_match", value, "",
                                      case_sensitive=not insensitive)
            else:
                parts: list[Part] = _AFFIX_FUNCTIONS[name](value)
                operator, pattern = classify(parts)
                pred = self.predicate(target, operator,
                                      None if operator == "exists" else pattern, "",
                                      case_sensitive=not insensitive)
            nodes.append(leaf(pred))
        return or_(*nodes)
