"""Read from a rule's tree the values a field must take for the rule to match.

``EventID: 4624`` in every branch of a Sigma rule means the rule only ever
reads Security event 4624, so its event is narrowed from the whole channel to
that one event. The same holds for a CloudTrail ``eventName`` or an Elastic
``event.category``. A value is *required* only when every way the tree can
match fixes the field to one of a known set of exact values.
"""

from __future__ import annotations

from collections.abc import Iterable

from ruledex.model import Node

Values = frozenset[str] | None
"""The exact values a field must take, or None when the tree does not pin it."""


def required(tree: Node | None, fields: Iterable[str]) -> Values:
    """The exact values that ``fields`` (any of them, compared case-insensitively) must take.

    AND narrows (intersection of the children that pin the field); OR pins
    only when every branch does (union); NOT, opaque conditions, wildcards and
    sequences pin nothing. An empty set means the branches contradict.
    """
    names = frozenset(f.lower() for f in fields)
    return _required(tree, names) if tree is not None else None


def _required(node: Node, names: frozenset[str]) -> Values:
    if node.kind == "predicate" and node.predicate is not None:
        pred = node.predicate
        if pred.field is None or pred.field.lower() not in names:
            return None
        if pred.op != "eq" or pred.value is None or pred.negated:
            return None
        return frozenset({pred.value})
    if node.kind == "and":
        pinned = [v for v in (_required(c, names) for c in node.children) if v is not None]
        if not pinned:
            return None
        common = pinned[0]
        for more in pinned[1:]:
            common = _intersect(common, more)
        return common
    if node.kind == "or":
        union: frozenset[str] = frozenset()
        for child in node.children:
            branch = _required(child, names)
            if branch is None:
                return None
            union = union | branch
        return union if node.children else None
    if node.kind == "step" and node.children:
        return _required(node.children[0], names)
    return None


def _intersect(left: frozenset[str], right: frozenset[str]) -> frozenset[str]:
    """Intersection that ignores case, since event codes and categories are not case-bound."""
    lowered = {v.lower() for v in right}
    return frozenset(v for v in left if v.lower() in lowered)


def steps(tree: Node | None) -> list[Node] | None:
    """The step children of a top-level sequence, or None when the rule is no sequence.

    A sequence may sit under an AND with pipe filters or thresholds; those
    apply to the whole sequence and are ignored here.
    """
    if tree is None:
        return None
    if tree.kind == "sequence":
        return [c for c in tree.children if c.kind == "step"]
    if tree.kind == "and":
        found = [c for c in tree.children if c.kind == "sequence"]
        if len(found) == 1:
            return [c for c in found[0].children if c.kind == "step"]
    return None
