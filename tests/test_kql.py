"""Tests for the KQL parser: one test per syntax form, errors, and the Elastic corpus."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ruledex.languages.kql import parse_kql
from ruledex.model import Node, Predicate, QueryParseError, flatten

ELASTIC = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "elastic"
HUNT_KQL_NAMES = {"kql", "kuery"}


def one(text: str) -> Predicate:
    """The single predicate of a query."""
    preds = flatten(parse_kql(text))
    assert len(preds) == 1, preds
    return preds[0]


def test_field_value_unquoted_is_eq() -> None:
    assert parse_kql("process.name : curl").compact() == "process.name eq 'curl'"


def test_quoted_value_keeps_spaces_and_star() -> None:
    assert parse_kql('process.name:"my app.exe"').compact() == "process.name eq 'my app.exe'"
    assert parse_kql('process.name:"*"').compact() == "process.name eq '*'"


@pytest.mark.parametrize("text, op, value", [
    ("*curl*", "contains", "curl"),
    ("curl*", "starts_with", "curl"),
    ("*curl", "ends_with", "curl"),
    ("a*b", "wildcard", "a*b"),
    ("a?b", "eq", "a?b"),
])
def test_unquoted_wildcards_are_classified(text: str, op: str, value: str) -> None:
    pred = one(f"process.name:{text}")
    assert (pred.op, pred.value) == (op, value)


def test_unquoted_value_runs_over_spaces_until_a_keyword() -> None:
    assert parse_kql("message: hello world and a:b").compact() == \
        "and(message eq 'hello world', a eq 'b')"


def test_field_star_is_exists() -> None:
    pred = one("process.parent.name:*")
    assert (pred.op, pred.value) == ("exists", None)


def test_value_list_keeps_its_structure() -> None:
    tree = parse_kql("process.name:(a or b and not c)")
    assert tree.compact() == \
        "or(process.name eq 'a', and(process.name eq 'b', not(process.name eq 'c')))"


def test_value_list_with_exists_and_exclusions() -> None:
    tree = parse_kql("process.args:(* and not (*x or y*))")
    assert tree.compact() == "and(process.args exists, not(or(process.args ends_with 'x', " \
        "process.args starts_with 'y')))"


@pytest.mark.parametrize("text, op", [
    ("a > 5", "gt"), ("a >= 5", "gte"), ("a < 5", "lt"), ("a <= 5", "lte"),
])
def test_ranges(text: str, op: str) -> None:
    pred = one(text)
    assert (pred.field, pred.op, pred.value) == ("a", op, "5")


def test_range_with_quoted_date_math() -> None:
    pred = one('@timestamp >= "now-30d/d"')
    assert (pred.op, pred.value) == ("gte", "now-30d/d")


def test_precedence_not_over_and_over_or() -> None:
    tree = parse_kql("a:1 or not b:2 and c:3")
    assert tree.compact() == "or(a eq '1', and(not(b eq '2'), c eq '3'))"


def test_keywords_in_any_letter_case() -> None:
    tree = parse_kql("a:1 OR NoT b:2 And c:3")
    assert tree.compact() == "or(a eq '1', and(not(b eq '2'), c eq '3'))"


def test_keyword_lookalikes_are_values() -> None:
    assert parse_kql("order:notice").compact() == "order eq 'notice'"


def test_parentheses_override_precedence() -> None:
    tree = parse_kql("(a:1 or b:2) and not(c:3)")
    assert tree.compact() == "and(or(a eq '1', b eq '2'), not(c eq '3'))"


def test_nested_query_prefixes_inner_fields() -> None:
    tree = parse_kql('deltas:{ action: "ADD" and role: (x or y) }')
    assert tree.compact() == \
        "and(deltas.action eq 'ADD', or(deltas.role eq 'x', deltas.role eq 'y'))"


def test_unquoted_escapes_are_undone() -> None:
    pred = one(r"file.path:C\:\\Windows\\\*\(x86\)\<\>\"\{\}")
    assert (pred.op, pred.value) == ("eq", 'C:\\Windows\\*(x86)<>"{}')


def test_escaped_star_is_literal_and_bare_star_a_wildcard() -> None:
    pred = one(r"process.args:*\\")
    assert (pred.op, pred.value) == ("ends_with", "\\")
    pred = one(r"a:\*x*")
    assert (pred.op, pred.value) == ("starts_with", "*x")


def test_escaped_keyword_is_a_value() -> None:
    assert parse_kql(r"a:x \or y").compact() == "a eq 'x or y'"


def test_quoted_escapes_are_undone() -> None:
    assert one(r'a:"C:\\Windows\\"').value == "C:\\Windows\\"
    assert one(r'a:"\"Global Admin\""').value == '"Global Admin"'
    assert one(r'a:"C:\Users\x"').value == "C:\\Users\\x"


def test_quoted_whitespace_and_unicode_escapes_follow_kibana() -> None:
    assert one(r'a:"\u0000"').value == "\x00"
    assert one(r'a:"x\ty"').value == "x\ty"


def test_wildcard_field_name() -> None:
    assert parse_kql("process.*: x").compact() == "process.* eq 'x'"


def test_bare_value_is_keyword() -> None:
    pred = one("mimikatz")
    assert (pred.field, pred.op, pred.value, pred.case_sensitive) == \
        (None, "keyword", "mimikatz", False)
    assert one('"two words"').value == "two words"
    assert one("mimi*").value == "mimi*"


@pytest.mark.parametrize("text", ["", "  \n", "*", "*:*"])
def test_match_all_has_no_predicates(text: str) -> None:
    assert parse_kql(text) == Node("and", [])


def test_match_all_inside_and_adds_nothing() -> None:
    assert parse_kql("* and a:b").compact() == "a eq 'b'"


def test_case_sensitivity_by_field() -> None:
    assert one("process.name:X").case_sensitive is True
    assert one("process.name.caseless:X").case_sensitive is False
    assert one("message.text:X").case_sensitive is False


def test_selector_fields_get_selector_stage() -> None:
    assert one("event.dataset:aws.cloudtrail").stage == "selector"
    assert one("event.action:x").stage == "event"


@pytest.mark.parametrize("text, op", [
    ("source.ip:10.0.0.0/8", "cidr"),
    ('destination.ip:"fe80::/10"', "cidr"),
    ("server.address:192.168.0.0/16", "cidr"),
    ("source.ip:1.2.3.4", "eq"),
    ("url.path:10.0.0.0/8", "eq"),
    ("source.ip:10.0.*/8", "wildcard"),
])
def test_cidr_on_ip_fields(text: str, op: str) -> None:
    assert one(text).op == op


def test_error_unbalanced_parenthesis() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected end of query; expected "):
        parse_kql("a:(b or c")


def test_error_missing_operator_names_line_and_column() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected ':' at line 2, column 2") as err:
        parse_kql("a:b\nc:d")
    assert err.value.line == 2


def test_error_unterminated_quote() -> None:
    with pytest.raises(QueryParseError, match=r"unterminated quoted value at line 1, column 3"):
        parse_kql('a:"b')


def test_error_stray_closing_parenthesis() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected '\)' at line 1, column 4"):
        parse_kql("a:b)")


def test_error_unknown_unquoted_escape() -> None:
    with pytest.raises(QueryParseError, match=r"unknown escape '\\q' in unquoted value"):
        parse_kql(r"a:x\q")


def elastic_kql_queries() -> list[tuple[str, str]]:
    """Every KQL query of the Elastic corpus as (label, query)."""
    queries: list[tuple[str, str]] = []
    for folder in ("rules", "rules_building_block"):
        for path in sorted((ELASTIC / folder).rglob("*.toml")):
            rule = tomllib.loads(path.read_text(encoding="utf-8")).get("rule", {})
            label = str(path.relative_to(ELASTIC))
            if rule.get("language") == "kuery":
                queries.append((label, rule.get("query", "")))
            if "threat_query" in rule and rule.get("threat_language", "kuery") == "kuery":
                queries.append((f"{label} (threat_query)", rule["threat_query"]))
    for path in sorted((ELASTIC / "hunting").rglob("*.toml")):
        hunt = tomllib.loads(path.read_text(encoding="utf-8")).get("hunt", {})
        languages = {str(name).lower() for name in hunt.get("language", [])}
        # A hunt lists several languages for several queries without saying which is
        # which, so only hunts written in KQL alone can be read as KQL.
        if languages and languages <= HUNT_KQL_NAMES:
            label = str(path.relative_to(ELASTIC))
            queries.extend((f"{label} [{i}]", q) for i, q in enumerate(hunt.get("query", [])))
    return queries


@pytest.mark.corpus
def test_every_elastic_kql_query_parses() -> None:
    if not (ELASTIC / "rules").is_dir():
        pytest.skip("Elastic corpus not present")
    queries = elastic_kql_queries()
    assert len(queries) > 700
    failures = []
    for label, query in queries:
        try:
            parse_kql(query)
        except QueryParseError as err:
            failures.append(f"{label}: {err}")
    assert not failures, f"{len(failures)} of {len(queries)} KQL queries failed:\n" + \
        "\n".join(failures)
