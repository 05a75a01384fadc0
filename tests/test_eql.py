"""Tests of the EQL parser: one per syntax form and operator form, plus the Elastic corpus."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ruledex.languages.eql import EqlQuery, parse_eql
from ruledex.model import Node, Predicate, QueryParseError, flatten, iter_nodes

ELASTIC = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "elastic"
CORPUS_FOLDERS = ("rules", "rules_building_block", "hunting")


def cond(text: str) -> list[Predicate]:
    """Predicates of ``any where <text>`` (no category selector)."""
    return flatten(parse_eql(f"any where {text}").tree)


def one(text: str) -> Predicate:
    preds = cond(text)
    assert len(preds) == 1, preds
    return preds[0]


def shape(pred: Predicate) -> tuple[str | None, str, str | None, bool]:
    return pred.field, pred.op, pred.value, pred.case_sensitive


def opaques(tree: Node) -> list[Node]:
    return [n for n in iter_nodes(tree) if n.kind == "opaque"]


# --- event queries and the category selector ---------------------------------------------

def test_category_becomes_selector_anded_with_condition() -> None:
    query = parse_eql('process where process.name == "cmd.exe"')
    assert query.kind == "event" and query.categories == ["process"]
    assert query.tree.kind == "and"
    selector, test = flatten(query.tree)
    assert (selector.field, selector.op, selector.value, selector.stage) == \
        ("event.category", "eq", "process", "selector")
    assert shape(test) == ("process.name", "eq", "cmd.exe", True)
    assert test.stage == "event"


def test_any_where_adds_no_selector() -> None:
    query = parse_eql('any where a == "x"')
    assert query.categories == ["any"]
    assert query.tree.kind == "predicate"


def test_category_field_is_configurable() -> None:
    preds = flatten(parse_eql('file where a == 1', category_field="kind").tree)
    assert (preds[0].field, preds[0].value) == ("kind", "file")


def test_quoted_category() -> None:
    assert parse_eql('"my-cat" where a == 1').categories == ["my-cat"]


def test_where_true_leaves_only_the_selector() -> None:
    pred, = flatten(parse_eql("process where true").tree)
    assert pred.stage == "selector"


def test_tests_of_category_field_are_selectors() -> None:
    assert one('event.category == "process"').stage == "selector"


# --- comparison operators and case sensitivity ------------------------------------------

def test_colon_is_case_insensitive_and_classified() -> None:
    assert shape(one('f : "a*"')) == ("f", "starts_with", "a", False)


def test_double_equals_is_case_sensitive_and_literal() -> None:
    assert shape(one('f == "a*"')) == ("f", "eq", "a*", True)


def test_not_equals_is_negated_equality() -> None:
    query = parse_eql('any where f != "a"')
    assert query.tree.kind == "not"
    pred, = flatten(query.tree)
    assert shape(pred) == ("f", "eq", "a", True) and pred.negated


def test_like_is_case_sensitive() -> None:
    assert shape(one('f like "*a*"')) == ("f", "contains", "a", True)


def test_like_tilde_is_case_insensitive() -> None:
    assert shape(one('f like~ "*a"')) == ("f", "ends_with", "a", False)


def test_like_with_list() -> None:
    preds = cond('f like~ ("a*", "b")')
    assert [shape(p) for p in preds] == [("f", "starts_with", "a", False), ("f", "eq", "b", False)]


def test_in_is_case_sensitive_or_of_literals() -> None:
    query = parse_eql('any where f in ("a", "b*")')
    assert query.tree.kind == "or"
    assert [shape(p) for p in flatten(query.tree)] == \
        [("f", "eq", "a", True), ("f", "eq", "b*", True)]


def test_in_tilde_is_case_insensitive() -> None:
    assert shape(one('f in~ ("A")')) == ("f", "eq", "A", False)


def test_not_in_is_negated() -> None:
    query = parse_eql('any where f not in ("a", "b")')
    assert query.tree.kind == "not" and query.tree.children[0].kind == "or"
    assert all(p.negated for p in flatten(query.tree))


def test_regex_is_case_sensitive() -> None:
    assert shape(one('f regex "a.*b"')) == ("f", "regex_match", "a.*b", True)


def test_regex_tilde_is_case_insensitive() -> None:
    assert shape(one('f regex~ "a.*b"')) == ("f", "regex_match", "a.*b", False)


def test_colon_list_classifies_each_value() -> None:
    preds = cond('f : ("a", "*b*", "c?d", 4)')
    assert [(p.op, p.value) for p in preds] == \
        [("eq", "a"), ("contains", "b"), ("wildcard", "c?d"), ("eq", "4")]


def test_colon_star_alone_is_exists() -> None:
    assert shape(one('f : "*"')) == ("f", "exists", None, False)


@pytest.mark.parametrize("op, expected", [("<", "lt"), ("<=", "lte"), (">", "gt"), (">=", "gte")])
def test_ordering_operators(op: str, expected: str) -> None:
    assert shape(one(f"f {op} 5"))[:3] == ("f", expected, "5")


def test_literal_on_the_left_is_flipped() -> None:
    assert shape(one("5 < f"))[:3] == ("f", "gt", "5")


def test_equals_null_is_is_null() -> None:
    assert one("f == null").op == "is_null"


def test_not_equals_null_is_exists() -> None:
    pred = one("f != null")
    assert pred.op == "exists" and not pred.negated


def test_field_to_field_is_fieldref() -> None:
    assert shape(one("a.b == c.d")) == ("a.b", "fieldref", "c.d", True)


def test_negative_number_and_booleans() -> None:
    assert one("f == -1").value == "-1"
    assert one("f == true").value == "true"
    assert one("f : false").value == "false"


# --- functions ---------------------------------------------------------------------------

@pytest.mark.parametrize("call, op, value", [
    ('startsWith(f, "ab")', "starts_with", "ab"),
    ('endsWith(f, "ab")', "ends_with", "ab"),
    ('stringContains(f, "ab")', "contains", "ab"),
    ('wildcard(f, "a*b")', "wildcard", "a*b"),
    ('match(f, "a+")', "regex_match", "a+"),
])
def test_plain_functions_are_case_sensitive(call: str, op: str, value: str) -> None:
    assert shape(one(call)) == ("f", op, value, True)


@pytest.mark.parametrize("call, op", [
    ('startsWith~(f, "ab")', "starts_with"),
    ('endswith~(f, "ab")', "ends_with"),
    ('STRINGCONTAINS~(f, "ab")', "contains"),
    ('wildcard~(f, "a*")', "starts_with"),
    ('match~(f, "a+")', "regex_match"),
])
def test_tilde_functions_are_case_insensitive(call: str, op: str) -> None:
    pred = one(call)
    assert pred.op == op and not pred.case_sensitive


def test_function_with_several_values_is_or() -> None:
    query = parse_eql('any where startswith(f, "a", "b")')
    assert query.tree.kind == "or" and len(query.tree.children) == 2


def test_startswith_value_star_is_literal_text() -> None:
    assert one('startsWith(f, "a*b")').value == "a*b"


def test_cidrmatch_is_or_of_cidr() -> None:
    preds = cond('cidrMatch(ip, "10.0.0.0/8", "::1")')
    assert [(p.field, p.op, p.value) for p in preds] == \
        [("ip", "cidr", "10.0.0.0/8"), ("ip", "cidr", "::1")]


def test_not_function_is_negated() -> None:
    assert one('not cidrmatch(ip, "10.0.0.0/8")').negated


@pytest.mark.parametrize("text, reason", [
    ("length(f) > 3", "compares a computed value"),
    ("f + 1 == 3", "compares a computed value"),
    ('startsWith(f, g)', "against another field"),
    ('startsWith(f, substring(g, 0, 1))', "computed argument"),
    ('endswith(string(a), "x")', "over a computed value"),
    ('between(f, "a", "b")', "is not reduced"),
    ("f == length(g)", "not reducible"),
    ("f", "field used as a boolean"),
    ('"a" : f', "no field on the left"),
    ("true", "constant true inside a condition"),
])
def test_irreducible_conditions_are_opaque(text: str, reason: str) -> None:
    tree = parse_eql(f'any where a == 1 and {text}').tree
    node, = opaques(tree)
    assert reason in (node.label or "") and node.text == text


# --- syntax forms: boolean logic, strings, fields ----------------------------------------

def test_boolean_logic_and_parentheses() -> None:
    tree = parse_eql('any where a == 1 and (b == 2 or not c == 3)').tree
    assert tree.kind == "and" and tree.children[1].kind == "or"
    assert tree.children[1].children[1].kind == "not"


def test_escaped_string_is_unescaped() -> None:
    assert one(r'f == "C:\\Windows\\x \"q\" \t"').value == 'C:\\Windows\\x "q" \t'


def test_unicode_escape() -> None:
    assert one(r'f == "\u{41}"').value == "A"


def test_backslash_before_wildcard_is_a_path_separator() -> None:
    assert shape(one(r'f : "C:\\Users\\*\\x.dll"')) == \
        ("f", "wildcard", "C:\\Users\\*\\x.dll", False)


def test_raw_string_keeps_backslashes() -> None:
    assert one(r'f == ?"C:\Windows\n"').value == "C:\\Windows\\n"


def test_triple_quoted_string_is_raw() -> None:
    assert one(r'f : """a\b "c"*"""').value == 'a\\b "c"'


def test_single_quoted_string() -> None:
    assert one("f == 'a'").value == "a"


def test_backtick_fields_and_at_sign() -> None:
    assert one("`a.b/c-d` == 1").field == "a.b/c-d"
    assert one("x.`0`.y == 1").field == "x.0.y"
    assert one('@timestamp > "2020"').field == "@timestamp"


def test_optional_field_mark() -> None:
    pred = one('?process.parent.name == "x"')
    assert pred.field == "process.parent.name" and pred.modifiers == ("optional",)


def test_comments_are_ignored() -> None:
    text = "process where /* block */ a == 1 // line\n and b == 2"
    assert len(flatten(parse_eql(text).tree)) == 3


# --- sequences, samples, pipes -----------------------------------------------------------

SEQUENCE = """
sequence by host.id, user.id with maxspan=5m
  [process where a == 1] by process.entity_id
  [network where b == 2] by process.entity_id with runs=3
  ![file where c == 3]
until [process where d == 4]
"""


def test_sequence_steps_and_labels() -> None:
    query = parse_eql(SEQUENCE)
    assert query.kind == "sequence"
    assert query.categories == ["process", "network", "file", "process"]
    assert query.tree.kind == "sequence"
    assert query.tree.label == "by host.id, user.id with maxspan=5m"
    assert [s.label for s in query.tree.children] == [
        "process by process.entity_id", "network by process.entity_id with runs=3",
        "missing file", "until"]
    assert query.join_keys == ["host.id", "user.id"] and query.maxspan == "5m"
    assert query.step_keys[0] == ["process.entity_id"]


def test_sequence_predicates_carry_their_step() -> None:
    preds = [p for p in flatten(parse_eql(SEQUENCE).tree) if p.stage == "event"]
    assert [(p.field, p.step) for p in preds] == [("a", 0), ("b", 1), ("c", 2), ("d", 3)]


def test_missing_step_reads_as_exclusion() -> None:
    preds = flatten(parse_eql(SEQUENCE).tree)
    assert [p.negated for p in preds if p.field == "c"] == [True]


def test_sequence_without_keys() -> None:
    query = parse_eql("sequence [any where a == 1] [any where b == 2]")
    assert query.tree.label is None and query.join_keys == []


def test_sample() -> None:
    query = parse_eql("sample by host.id [process where a == 1] [file where b == 2]")
    assert query.kind == "sample" and query.tree.label == "sample by host.id"
    assert query.categories == ["process", "file"]


def test_pipes_are_listed_and_filter_is_anded() -> None:
    query = parse_eql('process where a == 1 | unique host.id, user.id | filter b == 2 | head 5')
    assert query.pipes == ["unique host.id, user.id", "filter b == 2", "head 5"]
    assert [p.field for p in flatten(query.tree)] == ["event.category", "a", "b"]


def test_sequence_pipe_tail() -> None:
    assert parse_eql("sequence [any where a == 1] [any where b == 2] | tail 1").pipes == \
        ["tail 1"]


# --- errors ------------------------------------------------------------------------------

def test_syntax_error_carries_the_line() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected '==' at line 2, column 6") as info:
        parse_eql('process where\na == == "x"')
    assert info.value.line == 2


def test_unexpected_character() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected character '#' at line 1"):
        parse_eql("process where a == #")


def test_unexpected_end() -> None:
    with pytest.raises(QueryParseError, match="unexpected end of query"):
        parse_eql("process where a ==")


# --- the Elastic corpus -----------------------------------------------------------------

def corpus_queries() -> list[tuple[str, str]]:
    """Every EQL query of the Elastic corpus as (file, query)."""
    out: list[tuple[str, str]] = []
    for path in sorted(ELASTIC.rglob("*.toml")):
        if path.relative_to(ELASTIC).parts[0] not in CORPUS_FOLDERS:
            continue
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        rule = data.get("rule", {})
        if rule.get("language") == "eql":
            out.append((str(path.relative_to(ELASTIC)), rule["query"]))
        hunt = data.get("hunt", {})
        if any(lang.lower() == "eql" for lang in hunt.get("language", [])):
            for index, query in enumerate(hunt.get("query", [])):
                out.append((f"{path.relative_to(ELASTIC)}#{index}", query))
    return out


@pytest.mark.corpus
def test_every_corpus_query_parses() -> None:
    if not ELASTIC.is_dir():
        pytest.skip("the Elastic corpus is not present")
    queries = corpus_queries()
    assert queries, "no EQL query found in the Elastic corpus"
    failures = []
    for name, text in queries:
        try:
            result = parse_eql(text)
        except QueryParseError as exc:
            failures.append(f"{name}: {exc}")
            continue
        assert isinstance(result, EqlQuery)
    assert not failures, f"{len(failures)} of {len(queries)} EQL queries fail:\n" + \
        "\n".join(failures)
