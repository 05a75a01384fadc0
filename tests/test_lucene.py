"""Tests for the Lucene query parser: one test per syntax form, errors, and the corpus."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ruledex.languages.lucene import parse_lucene
from ruledex.model import Node, Predicate, QueryParseError, flatten

ELASTIC = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "elastic"


def one(text: str) -> Predicate:
    """The single predicate of a query."""
    preds = flatten(parse_lucene(text))
    assert len(preds) == 1, preds
    return preds[0]


def test_field_value() -> None:
    pred = one("process.name:chmod")
    assert (pred.field, pred.op, pred.value, pred.case_sensitive) == \
        ("process.name", "eq", "chmod", True)


@pytest.mark.parametrize("text, op, value", [
    ("*curl*", "contains", "curl"),
    ("curl*", "starts_with", "curl"),
    ("*curl", "ends_with", "curl"),
    ("cu?l", "wildcard", "cu?l"),
    ("a*b", "wildcard", "a*b"),
])
def test_wildcards_are_classified(text: str, op: str, value: str) -> None:
    pred = one(f"process.name:{text}")
    assert (pred.op, pred.value) == (op, value)


def test_escapes_are_undone() -> None:
    pred = one(r"file.path:C\:\\Windows\\\*x")
    assert (pred.op, pred.value) == ("eq", "C:\\Windows\\*x")


def test_phrase_is_eq_and_keeps_star() -> None:
    assert parse_lucene('a:"two words *"').compact() == "a eq 'two words *'"
    assert one(r'a:"say \"hi\""').value == 'say "hi"'


@pytest.mark.parametrize("text, expected", [
    ("a:[1 TO 5]", "and(a gte '1', a lte '5')"),
    ("a:{1 TO 5}", "and(a gt '1', a lt '5')"),
    ("a:[1 TO 5}", "and(a gte '1', a lt '5')"),
    ("a:[* TO 5]", "a lte '5'"),
    ("a:[* TO *]", "a exists"),
    ("a:>=5", "a gte '5'"),
    ("a:<5", "a lt '5'"),
])
def test_ranges(text: str, expected: str) -> None:
    assert parse_lucene(text).compact() == expected


def test_and_or_not_with_and_binding_tighter() -> None:
    tree = parse_lucene("a:1 OR b:2 AND NOT c:3")
    assert tree.compact() == "or(a eq '1', and(b eq '2', not(c eq '3')))"


def test_minus_prohibits_and_plus_requires() -> None:
    assert parse_lucene("+a:1 -b:2").compact() == "and(a eq '1', not(b eq '2'))"
    assert parse_lucene("-b:2").compact() == "not(b eq '2')"


def test_optional_clauses_must_match_once_without_a_required_one() -> None:
    assert parse_lucene("a:1 b:2 -c:3").compact() == "and(or(a eq '1', b eq '2'), not(c eq '3'))"


def test_optional_clause_next_to_required_adds_nothing() -> None:
    assert parse_lucene("+a:1 b:2").compact() == "a eq '1'"


def test_groups() -> None:
    tree = parse_lucene("(a:1 OR b:2) AND c:3")
    assert tree.compact() == "and(or(a eq '1', b eq '2'), c eq '3')"


def test_field_group() -> None:
    tree = parse_lucene("process.name:(sudo OR sudoedit)")
    assert tree.compact() == "or(process.name eq 'sudo', process.name eq 'sudoedit')"


def test_lowercase_or_is_a_term() -> None:
    tree = parse_lucene("event.type:(start or process_started)")
    assert tree.compact() == "or(event.type eq 'start', event.type eq 'or', " \
        "event.type eq 'process_started')"


def test_exists() -> None:
    assert parse_lucene("_exists_:process.parent.name").compact() == "process.parent.name exists"
    assert parse_lucene("process.parent.name:*").compact() == "process.parent.name exists"


def test_regex() -> None:
    pred = one("process.args:/2[0-9]{3}/")
    assert (pred.op, pred.value) == ("regex_match", "2[0-9]{3}")


def test_bare_word_is_keyword() -> None:
    pred = one("mimi*")
    assert (pred.field, pred.op, pred.value, pred.case_sensitive) == \
        (None, "keyword", "mimi*", False)


@pytest.mark.parametrize("text", ["", "*", "*:*"])
def test_match_all_has_no_predicates(text: str) -> None:
    assert parse_lucene(text) == Node("and", [])


def test_boost_is_ignored_and_fuzzy_kept_as_text() -> None:
    assert parse_lucene("a:x^2").compact() == "a eq 'x'"
    assert parse_lucene("a:foo~2").compact() == \
        "opaque('foo~2': fuzzy match has no predicate operator)"


def test_cidr_and_selector_conventions_match_kql() -> None:
    assert one('source.ip:"10.0.0.0/8"').op == "cidr"
    assert one("event.category:process").stage == "selector"
    assert one("a.caseless:X").case_sensitive is False


def test_error_unbalanced_parenthesis() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected end of query \(unbalanced"):
        parse_lucene("a:(b OR c")


def test_error_names_line_and_column() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected token 'AND' at line 2, column 9"):
        parse_lucene("a:b\nc:d AND AND e:f")


def test_error_unterminated_phrase() -> None:
    with pytest.raises(QueryParseError, match=r"unexpected character '\"b' at line 1, column 3"):
        parse_lucene('a:"b')


def test_error_field_inside_field_group() -> None:
    with pytest.raises(QueryParseError, match=r"field 'b' inside the value list of 'a'"):
        parse_lucene("a:(b:c)")


def elastic_lucene_queries() -> list[tuple[str, str]]:
    """Every Lucene query of the Elastic corpus as (label, query)."""
    queries: list[tuple[str, str]] = []
    for folder in ("rules", "rules_building_block"):
        for path in sorted((ELASTIC / folder).rglob("*.toml")):
            text = path.read_text(encoding="utf-8")
            if "lucene" not in text:
                continue
            rule = tomllib.loads(text).get("rule", {})
            label = str(path.relative_to(ELASTIC))
            if rule.get("language") == "lucene":
                queries.append((label, rule.get("query", "")))
            if rule.get("threat_language") == "lucene" and "threat_query" in rule:
                queries.append((f"{label} (threat_query)", rule["threat_query"]))
    # Hunting queries name no Lucene language, so the hunting folder adds none.
    return queries


@pytest.mark.corpus
def test_every_elastic_lucene_query_parses() -> None:
    if not (ELASTIC / "rules").is_dir():
        pytest.skip("Elastic corpus not present")
    queries = elastic_lucene_queries()
    assert queries
    failures = []
    for label, query in queries:
        try:
            parse_lucene(query)
        except QueryParseError as err:
            failures.append(f"{label}: {err}")
    assert not failures, f"{len(failures)} of {len(queries)} Lucene queries failed:\n" + \
        "\n".join(failures)
