"""Tests for the rule model: the compact tree form, flatten's negation and serialization."""

from __future__ import annotations

import json

import pytest

from ruledex.model import (
    Node,
    Predicate,
    and_,
    flatten,
    leaf,
    not_,
    opaque,
    or_,
    sequence,
    step,
)


def pred(name: str, value: str | None = "1", op: str = "eq") -> Node:
    """A leaf testing one field, small enough to write many in one line."""
    return leaf(Predicate(name, op, value))


# --- compact --------------------------------------------------------------------------------

def test_compact_predicate_with_and_without_value() -> None:
    assert pred("process.name", "cmd.exe").compact() == "process.name eq 'cmd.exe'"
    assert pred("user", None, "exists").compact() == "user exists"


def test_compact_value_is_quoted_as_python_repr() -> None:
    assert pred("path", "C:\\Windows").compact() == "path eq 'C:\\\\Windows'"
    assert pred("msg", "it's").compact() == "msg eq \"it's\""


def test_compact_opaque_shows_text_and_reason() -> None:
    assert opaque("a < b", "ordering between two fields").compact() == \
        "opaque('a < b': ordering between two fields)"


def test_compact_nests_boolean_nodes() -> None:
    tree = and_(pred("a"), or_(pred("b"), not_(pred("c"))))
    assert tree.compact() == "and(a eq '1', or(b eq '1', not(c eq '1')))"


def test_compact_leaves_out_labels_of_boolean_and_step_nodes() -> None:
    tree = sequence([step(pred("a"), label="process by host.id"), step(pred("b"))],
                    label="by host.id with maxspan=5m")
    assert tree.compact() == "sequence(step(a eq '1'), step(b eq '1'))"
    assert and_(pred("a"), label="selection").compact() == "and(a eq '1')"


def test_compact_empty_node() -> None:
    assert Node("and", []).compact() == "and()"


# --- flatten --------------------------------------------------------------------------------

def test_flatten_not_of_and_is_one_exclusion_group() -> None:
    tree = and_(pred("c"), not_(and_(pred("a"), pred("b"))))
    kept, first, second = flatten(tree)
    assert (kept.negated, kept.not_path, kept.path) == (False, None, "0")
    assert (first.negated, first.not_path, first.path) == (True, "1", "1.0.0")
    assert (second.negated, second.not_path, second.path) == (True, "1", "1.0.1")


def test_flatten_double_negation_is_not_negated() -> None:
    (pred_a,) = flatten(not_(not_(pred("a"))))
    assert (pred_a.negated, pred_a.not_path) == (False, None)


def test_flatten_not_path_is_the_outermost_not() -> None:
    tree = and_(pred("z"), not_(and_(pred("x"), not_(not_(pred("y"))))))
    _, x, y = flatten(tree)
    assert (x.negated, x.not_path) == (True, "1")
    assert (y.negated, y.not_path, y.path) == (True, "1", "1.0.1.0.0")


def test_flatten_numbers_sequence_steps() -> None:
    tree = sequence([step(pred("a")), step(and_(pred("b"), pred("c")))])
    assert [p.step for p in flatten(tree)] == [0, 1, 1]
    assert flatten(None) == []


# --- serialization --------------------------------------------------------------------------

def test_node_dict_round_trip_keeps_every_kind_and_field() -> None:
    full = Predicate("CommandLine", "contains", "-enc", case_sensitive=True, stage="selector",
                     selection="sel", modifiers=("contains", "all"), macro="sysmon")
    tree = and_(
        leaf(full),
        or_(pred("a"), not_(pred("b", None, "exists")), label="filter"),
        opaque("x > y", "field comparison"),
        sequence([step(pred("c"), label="process")], label="by host.id"),
    )
    data = json.loads(json.dumps(tree.to_dict()))
    again = Node.from_dict(data)
    assert again == tree
    assert again.compact() == tree.compact()


def test_to_dict_leaves_out_place_in_tree() -> None:
    tree = not_(pred("a"))
    flatten(tree)
    again = Node.from_dict(tree.to_dict())
    assert again.children[0].predicate is not None
    assert again.children[0].predicate.negated is False
    assert [p.negated for p in flatten(again)] == [True]


def test_unknown_kind_and_operator_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown node kind 'xor'"):
        Node("xor")
    with pytest.raises(ValueError, match="unknown operator 'like'"):
        Predicate("a", "like", "x")
    with pytest.raises(ValueError, match="unknown stage 'raw'"):
        Predicate("a", "eq", "x", stage="raw")
