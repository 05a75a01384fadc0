"""The rule model shared by every vendor: rules, predicates and the boolean tree.

Each query-language parser turns a rule's logic into a tree of :class:`Node`
objects whose leaves hold :class:`Predicate` objects with the field and value
*as written* (escapes undone). Normalization to canonical fields and values
happens later, when the catalog stores the rule.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

OPERATORS = frozenset({
    "eq", "contains", "starts_with", "ends_with", "wildcard", "regex_match", "cidr",
    "exists", "is_null", "lt", "lte", "gt", "gte", "fieldref", "keyword",
})
"""The closed set of operators a parsed predicate may carry."""

STAGES = frozenset({"event", "derived", "aggregate", "selector"})
"""Where a predicate applies.

``event`` tests a field of the raw event and feeds the indicator tables;
``derived`` tests a column computed by the query (eval, rex, lookup);
``aggregate`` tests a value after aggregation (count > 5);
``selector`` picks the log source (index, sourcetype, EventCode) and feeds the
event catalog rather than the indicator tables.
"""

NODE_KINDS = frozenset({"and", "or", "not", "predicate", "opaque", "sequence", "step"})


class RuledexError(Exception):
    """Base error of ruledex; carries the file and line it is about when known."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = path
        self.line = line

    def __str__(self) -> str:
        where = self.path or ""
        if where and self.line:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}" if where else self.message


class QueryParseError(RuledexError):
    """A query could not be parsed; ``line`` is relative to the query text."""


@dataclass
class RuleError:
    """An error recorded on a rule instead of being raised."""

    message: str
    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else \
            f"{self.path}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"message": self.message, "path": self.path, "line": self.line}


@dataclass
class Predicate:
    """One test of one field against one value, as written in the rule."""

    field: str | None
    op: str
    value: str | None = None
    case_sensitive: bool = False
    stage: str = "event"
    selection: str | None = None
    modifiers: tuple[str, ...] = ()
    macro: str | None = None
    # Filled in by :func:`flatten` from the predicate's place in the tree.
    negated: bool = False
    path: str = ""
    not_path: str | None = None
    step: int | None = None

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ValueError(f"unknown operator {self.op!r}")
        if self.stage not in STAGES:
            raise ValueError(f"unknown stage {self.stage!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field, "op": self.op, "value": self.value,
            "case_sensitive": self.case_sensitive, "stage": self.stage,
            "selection": self.selection, "modifiers": list(self.modifiers),
            "macro": self.macro,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Predicate:
        return cls(
            field=data["field"], op=data["op"], value=data.get("value"),
            case_sensitive=data.get("case_sensitive", False),
            stage=data.get("stage", "event"), selection=data.get("selection"),
            modifiers=tuple(data.get("modifiers", ())), macro=data.get("macro"),
        )


@dataclass
class Node:
    """A node of a rule's boolean tree.

    ``and``/``or`` have children; ``not`` has one child; ``predicate`` holds a
    predicate; ``opaque`` keeps a condition the parser could not reduce as
    ``text`` with the reason in ``label``; ``sequence`` has ``step`` children in
    order, each with one child and its join keys in ``label``.
    """

    kind: str
    children: list[Node] = field(default_factory=list)
    predicate: Predicate | None = None
    label: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in NODE_KINDS:
            raise ValueError(f"unknown node kind {self.kind!r}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.children:
            data["children"] = [child.to_dict() for child in self.children]
        if self.predicate is not None:
            data["predicate"] = self.predicate.to_dict()
        if self.label is not None:
            data["label"] = self.label
        if self.text is not None:
            data["text"] = self.text
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        pred = data.get("predicate")
        return cls(
            kind=data["kind"],
            children=[cls.from_dict(c) for c in data.get("children", ())],
            predicate=Predicate.from_dict(pred) if pred else None,
            label=data.get("label"), text=data.get("text"),
        )

    def compact(self) -> str:
        """One-line form: ``field op 'value'``, ``opaque('text': label)``, ``kind(child, ...)``."""
        # Labels of and/or/sequence/step nodes are left out: the form shows the
        # tree's logic, and an opaque node's label is the reason it is opaque.
        if self.kind == "predicate" and self.predicate is not None:
            pred = self.predicate
            value = "" if pred.value is None else f" {pred.value!r}"
            return f"{pred.field} {pred.op}{value}"
        if self.kind == "opaque":
            return f"opaque({self.text!r}: {self.label})"
        return f"{self.kind}(" + ", ".join(c.compact() for c in self.children) + ")"


def and_(*children: Node, label: str | None = None) -> Node:
    """AND of the children; a single child is returned as is unless labelled."""
    kids = [c for c in children if c is not None]
    if len(kids) == 1 and label is None:
        return kids[0]
    return Node("and", kids, label=label)


def or_(*children: Node, label: str | None = None) -> Node:
    """OR of the children; a single child is returned as is unless labelled."""
    kids = [c for c in children if c is not None]
    if len(kids) == 1 and label is None:
        return kids[0]
    return Node("or", kids, label=label)


def not_(child: Node) -> Node:
    """Negation of one child."""
    return Node("not", [child])


def leaf(predicate: Predicate) -> Node:
    """A tree leaf holding one predicate."""
    return Node("predicate", predicate=predicate)


def opaque(text: str, reason: str) -> Node:
    """A condition kept as text because it cannot be reduced to predicates."""
    return Node("opaque", text=text, label=reason)


def sequence(steps: Sequence[Node], label: str | None = None) -> Node:
    """An ordered sequence of ``step`` nodes (EQL sequences, correlations)."""
    return Node("sequence", list(steps), label=label)


def step(child: Node, label: str | None = None) -> Node:
    """One step of a sequence; ``label`` names its event category and join keys."""
    return Node("step", [child], label=label)


def flatten(tree: Node | None) -> list[Predicate]:
    """Return the tree's predicates in order, with their place in the tree filled in.

    A predicate is negated when an odd number of NOT nodes lie above it;
    ``not_path`` is then the path of the outermost such NOT, so that
    ``NOT (A AND B)`` stays one exclusion group rather than two.
    """
    out: list[Predicate] = []
    if tree is None:
        return out

    def walk(node: Node, path: str, nots: list[str], step_no: int | None) -> None:
        if node.kind == "predicate" and node.predicate is not None:
            pred = node.predicate
            pred.path = path
            pred.negated = len(nots) % 2 == 1
            pred.not_path = nots[0] if pred.negated else None
            pred.step = step_no
            out.append(pred)
            return
        if node.kind == "not":
            nots = nots + [path]
        step_counter = 0
        for index, child in enumerate(node.children):
            child_step = step_no
            if child.kind == "step":
                child_step = step_counter
                step_counter += 1
            walk(child, f"{path}.{index}" if path else str(index), nots, child_step)

    walk(tree, "", [], None)
    return out


def iter_nodes(tree: Node | None) -> Iterator[Node]:
    """Yield every node of the tree, depth first."""
    if tree is None:
        return
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


@dataclass
class Rule:
    """One detection rule (or hunting query) of one vendor, with its parsed logic."""

    vendor: str
    path: str
    id: str
    title: str
    kind: str = "rule"
    description: str = ""
    author: str = ""
    references: list[str] = field(default_factory=list)
    status: str = ""
    level: str = ""
    risk_score: float | None = None
    date: str = ""
    modified: str = ""
    techniques: list[str] = field(default_factory=list)
    tactics: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    logsource: dict[str, Any] = field(default_factory=dict)
    language: str = ""
    rule_type: str = ""
    query: str = ""
    source_text: str = ""
    line: int = 1
    deprecated: bool = False
    building_block: bool = False
    tree: Node | None = None
    errors: list[RuleError] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def predicates(self) -> list[Predicate]:
        return flatten(self.tree)

    @property
    def parse_status(self) -> str:
        """``parsed``, ``partial`` (a tree and errors) or ``failed`` (no tree)."""
        if self.errors and self.tree is None:
            return "failed"
        if self.errors:
            return "partial"
        return "parsed"

    def add_error(self, message: str, line: int | None = None) -> None:
        self.errors.append(RuleError(message, self.path, line))
