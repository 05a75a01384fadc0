"""Tests for the ES|QL parser: one test per command and operator form, errors, the corpus."""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruledex.languages.esql import dissect_keys, grok_keys, parse_esql
from ruledex.model import Node, Predicate, QueryParseError, flatten, leaf

ELASTIC = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "elastic"

# Corpus queries that Elastic's own ES|QL rejects, with the reason; the corpus
# test checks they still fail so the list cannot go stale.
KNOWN_INVALID = {
    "hunting/okta/queries/credential_access_rapid_reset_password_requests_for_different_users"
    ".toml [0]": "STATS at line 13: unexpected 'okta'",
}


def where(condition: str) -> str:
    """The tree of one WHERE condition over a plain index, in compact form."""
    return parse_esql(f"FROM logs-* | WHERE {condition}").tree.compact()


def one(query: str) -> Predicate:
    """The single predicate of a query."""
    preds = flatten(parse_esql(query).tree)
    assert len(preds) == 1, preds
    return preds[0]


def stages(query: str) -> dict[str, str]:
    """Each tested field of a query mapped to its stage."""
    return {p.field or "": p.stage for p in flatten(parse_esql(query).tree)}


# FROM.

def test_from_index_list_and_metadata() -> None:
    query = parse_esql('from logs-endpoint.events.*, .alerts-security.*, "quoted-*"'
                       " metadata _id, _version, _index")
    assert query.indices == ["logs-endpoint.events.*", ".alerts-security.*", "quoted-*"]
    assert query.metadata == ["_id", "_version", "_index"]
    assert query.commands == ["from"]
    assert query.tree == Node("and")
    assert query.unparsed is None


def test_from_cross_cluster_pattern() -> None:
    assert parse_esql("FROM remote:logs-*,logs-*").indices == ["remote:logs-*", "logs-*"]


def test_error_empty_query() -> None:
    with pytest.raises(QueryParseError, match="expected FROM as the source command, found nothing"):
        parse_esql("  // only a comment\n")


def test_error_other_source_command() -> None:
    with pytest.raises(QueryParseError, match="expected FROM as the source command, found 'row'"):
        parse_esql("ROW a = 1")


def test_error_from_without_index() -> None:
    with pytest.raises(QueryParseError, match="FROM: unexpected end of command"):
        parse_esql("FROM | WHERE a == 1")


def test_error_broken_from_carries_line() -> None:
    with pytest.raises(QueryParseError, match="FROM: unexpected 'other'") as caught:
        parse_esql("\nFROM logs-*\n  other-* | WHERE a == 1")
    assert caught.value.line == 3


# Comparisons.

@pytest.mark.parametrize("op, expected", [
    ("<", "lt"), ("<=", "lte"), (">", "gt"), (">=", "gte"), ("==", "eq"),
])
def test_comparison_operators(op: str, expected: str) -> None:
    pred = one(f"FROM a | WHERE process.pid {op} 4")
    assert (pred.field, pred.op, pred.value, pred.case_sensitive) == \
        ("process.pid", expected, "4", True)


def test_not_equal_is_negated_eq() -> None:
    assert where('user.id != "S-1-5-18"') == "not(user.id eq 'S-1-5-18')"
    assert one('FROM a | WHERE user.id != "S-1-5-18"').negated


def test_literal_on_the_left_is_flipped() -> None:
    assert where("1000 < size") == "size gt '1000'"
    assert where('"x" == name') == "name eq 'x'"


def test_case_insensitive_equality_operator() -> None:
    pred = one('FROM a | WHERE user.name =~ "Admin"')
    assert (pred.op, pred.value, pred.case_sensitive) == ("eq", "Admin", False)


def test_negative_decimal_and_boolean_values() -> None:
    assert where("score > -1.5 and ok == false") == "and(score gt '-1.5', ok eq 'false')"


def test_field_against_field_is_fieldref() -> None:
    assert where("source.ip == destination.ip") == "source.ip fieldref 'destination.ip'"
    assert where("a != b") == "not(a fieldref 'b')"


def test_ordering_between_fields_is_opaque() -> None:
    assert where("a < b") == "opaque('a < b': ordering between two fields)"


def test_time_window_is_opaque() -> None:
    assert where("@timestamp > now() - 7 day") == \
        "opaque('@timestamp > now() - 7 day': time window relative to now())"


def test_computed_comparison_is_opaque() -> None:
    assert where("length(x) > 5") == \
        "opaque('length(x) > 5': comparison of computed values, not of a field)"


# Pattern tests.

@pytest.mark.parametrize("pattern, expected", [
    ('"*cmd*"', "f contains 'cmd'"),
    ('"cmd*"', "f starts_with 'cmd'"),
    ('"*.exe"', "f ends_with '.exe'"),
    ('"a?c"', "f wildcard 'a?c'"),
    ('"*"', "f exists"),
    ('"plain"', "f eq 'plain'"),
    ('"%literal%"', "f eq '%literal%'"),
])
def test_like_is_classified_by_wildcards(pattern: str, expected: str) -> None:
    assert where(f"f LIKE {pattern}") == expected


def test_like_escapes_and_windows_paths() -> None:
    # The string escape gives C:\\Temp\\*; the pattern escape then gives one backslash.
    assert where(r'f like "C:\\\\Temp\\\\*"') == r"f starts_with 'C:\\Temp\\'"
    assert where(r'f like """c:\\*"""') == r"f starts_with 'c:\\'"
    assert where(r'f like "a\\*b"') == "f eq 'a*b'"


def test_not_like_and_like_list() -> None:
    assert where('f NOT LIKE "x*"') == "not(f starts_with 'x')"
    assert where('f like ("a*", "*b")') == "or(f starts_with 'a', f ends_with 'b')"


def test_rlike_is_regex_match() -> None:
    assert where(r'f RLIKE """.*\.dll"""') == r"f regex_match '.*\\.dll'"
    assert where('f not rlike "a.+"') == "not(f regex_match 'a.+')"


def test_in_and_not_in() -> None:
    assert where('a in ("x", 2, b)') == "or(a eq 'x', a eq '2', a fieldref 'b')"
    assert where('a NOT IN ("x")') == "not(a eq 'x')"
    assert where('not a in ("x", "y")') == "not(or(a eq 'x', a eq 'y'))"


def test_true_in_conditions_is_or() -> None:
    assert where('true in (starts_with(a, "x"), ends_with(a, "y"))') == \
        "or(a starts_with 'x', a ends_with 'y')"


def test_null_tests() -> None:
    assert where("a IS NULL") == "a is_null"
    assert where("a is not null") == "a exists"


def test_match_operator_and_function() -> None:
    pred = one('FROM a | WHERE message : "mimikatz"')
    assert (pred.op, pred.value, pred.case_sensitive, pred.modifiers) == \
        ("eq", "mimikatz", False, ("match",))
    assert where('match(url.domain, "evil.com", {"fuzziness": "AUTO"})') == \
        "url.domain eq 'evil.com'"


def test_cidr_match_is_or_of_cidr() -> None:
    assert where('not cidr_match(destination.ip, "10.0.0.0/8", "::1")') == \
        "not(or(destination.ip cidr '10.0.0.0/8', destination.ip cidr '::1'))"


def test_string_functions() -> None:
    assert where('starts_with(f, "C:\\\\x")') == r"f starts_with 'C:\\x'"
    assert where('ends_with(f, ".ps1")') == "f ends_with '.ps1'"
    assert where('contains(f, "iex")') == "f contains 'iex'"
    assert where('mv_contains(f, "v")') == "f eq 'v'"


def test_unknown_function_is_opaque() -> None:
    assert where('locate(f, "x") > 0') == \
        "opaque('locate(f, \"x\") > 0': comparison of computed values, not of a field)"
    assert where("is_private(f)") == "opaque('is_private(f)': function is_private is not " \
        "reduced to predicates)"


def test_case_folding_functions() -> None:
    lower = one('FROM a | WHERE TO_LOWER(process.name) == "PowerShell.exe"')
    assert (lower.field, lower.value, lower.case_sensitive) == \
        ("process.name", "PowerShell.exe", False)
    upper = one('FROM a | WHERE to_upper(to_string(f)) like "*X*"')
    assert (upper.field, upper.op, upper.case_sensitive) == ("f", "contains", False)


def test_conversions_and_casts_keep_the_field() -> None:
    assert where("TO_INTEGER(event.severity) <= 3") == "event.severity lte '3'"
    assert where('code::long == "4104"::integer') == "code eq '4104'"


def test_boolean_structure_with_parentheses() -> None:
    assert where("a == 1 and (b == 2 or not c == 3) and d == 4") == \
        "and(a eq '1', or(b eq '2', not(c eq '3')), d eq '4')"
    assert where("a == 1 or b == 2 or c == 3") == "or(a eq '1', b eq '2', c eq '3')"


def test_bare_boolean_column_tests_true() -> None:
    assert where("not is_admin") == "not(is_admin eq 'true')"


# Strings and names.

def test_string_escapes() -> None:
    assert one(r'FROM a | WHERE f == "tab\there \"q\" back\\slash \d"').value == \
        'tab\there "q" back\\slash \\d'


def test_triple_quoted_string_is_raw() -> None:
    assert one(r'FROM a | WHERE f == """C:\Windows\"x"""""').value == r'C:\Windows\"x""'


def test_backtick_field_names() -> None:
    assert where('`my field` == 1 and source.`as`.number == 2') == \
        "and(my field eq '1', source.as.number eq '2')"


def test_comments_and_pipes_inside_strings() -> None:
    query = parse_esql('FROM a // first | not a command\n'
                       '/* block | with pipe */ | WHERE u == "http://x|y" /* end */')
    assert query.commands == ["from", "where"]
    assert query.tree.compact() == "u eq 'http://x|y'"


def test_where_conditions_are_anded_in_order() -> None:
    query = parse_esql("FROM a | WHERE x == 1 | WHERE y == 2 and z == 3")
    assert query.tree.compact() == "and(x eq '1', y eq '2', z eq '3')"


def test_selector_fields_match_kql() -> None:
    assert stages('FROM a | WHERE event.category == "process" and process.name == "x"') == \
        {"event.category": "selector", "process.name": "event"}


# KQL inside ES|QL.

def test_kql_function_uses_the_kql_parser() -> None:
    assert where('KQL("""process.name : curl""")') == "process.name eq 'curl'"


def test_kql_function_without_kql_parser_is_opaque(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ruledex.languages.kql", None)
    assert where('kql("a:b")') == "opaque('kql(\"a:b\")': kql parser is not available)"


def test_kql_function_failure_is_opaque(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("ruledex.languages.kql")

    def parse_kql(text: str) -> Node:
        raise QueryParseError(f"bad kql {text}")

    fake.parse_kql = parse_kql  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ruledex.languages.kql", fake)
    assert where('kql("a:")') == "opaque('kql(\"a:\")': kql: bad kql a:)"


def test_kql_predicates_take_the_pipeline_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("ruledex.languages.kql")
    fake.parse_kql = lambda text: leaf(Predicate("x", "eq", text))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ruledex.languages.kql", fake)
    assert stages('FROM a | EVAL x = 1 | WHERE kql("v")') == {"x": "derived"}


# Commands and the stages they give.

def test_eval_columns_are_derived() -> None:
    query = 'FROM a | EVAL n = length(f), g = to_lower(h), f + 1 | WHERE n > 5 and h == "x"'
    assert stages(query) == {"n": "derived", "h": "event"}
    assert parse_esql(query).commands == ["from", "eval", "where"]


def test_stats_makes_later_tests_aggregate() -> None:
    query = ('FROM a | WHERE x == 1 | STATS c = count(*), count_distinct(u) WHERE u != "" '
             "BY host.name, DATE_TRUNC(5 minutes, @timestamp) "
             '| WHERE c >= 3 and host.name == "h"')
    assert [(p.field, p.stage) for p in flatten(parse_esql(query).tree)] == \
        [("x", "event"), ("c", "aggregate"), ("host.name", "aggregate")]


@pytest.mark.parametrize("command", ["INLINE STATS", "inlinestats"])
def test_inline_stats_aggregates_only(command: str) -> None:
    query = f"FROM a | {command} c = count(*) BY h | WHERE c > 3 and h == \"x\""
    assert stages(query) == {"c": "aggregate", "h": "event"}
    assert parse_esql(query).commands == ["from", "inline stats", "where"]


def test_keep_drop_sort_limit_mv_expand() -> None:
    query = parse_esql("FROM a | KEEP @timestamp, host.*, `odd name`, * | DROP x* | "
                       "SORT c DESC NULLS LAST, d ASC, e | LIMIT 10 | MV_EXPAND event.action | "
                       'WHERE event.action == "creation"')
    assert query.commands == ["from", "keep", "drop", "sort", "limit", "mv_expand", "where"]
    assert query.unparsed is None
    assert flatten(query.tree)[0].stage == "event"


def test_rename_makes_the_new_name_derived() -> None:
    assert stages('FROM a | RENAME x AS y, old = new | WHERE y == 1 and old == 2') == \
        {"y": "derived", "old": "derived"}


def test_dissect_keys_are_derived() -> None:
    query = 'FROM a | DISSECT msg "%{user} %{?skip} %{+user} %{port->}" APPEND_SEPARATOR=" "' \
        ' | WHERE user == "x" and port == "1" and skip == "y"'
    assert stages(query) == {"user": "derived", "port": "derived", "skip": "event"}
    assert dissect_keys("%{a} %{} %{*k} %{&k} %{b/2}") == ["a", "b"]


def test_grok_keys_are_derived() -> None:
    query = r'FROM a | GROK msg """%{IP:client.ip} (?<Esql.id>\d+)""" | ' \
        'WHERE client.ip == "1" and Esql.id == "2"'
    assert stages(query) == {"client.ip": "derived", "Esql.id": "derived"}
    assert grok_keys("%{NUMBER:n:int} (?'q'x)") == ["n", "q"]


def test_enrich_columns_are_derived() -> None:
    query = "FROM a | ENRICH hosts-policy ON host.name WITH owner = team, site " \
        '| WHERE owner == "x" and site == "y" and host.name == "z"'
    assert stages(query) == {"owner": "derived", "site": "derived", "host.name": "event"}


def test_columns_not_kept_come_from_enrich() -> None:
    query = 'FROM a | KEEP dll.* | ENRICH libs | WHERE native == "yes" and dll.path == "p"'
    assert stages(query) == {"native": "derived", "dll.path": "event"}


def test_lookup_join() -> None:
    query = parse_esql("FROM a | LOOKUP JOIN threat_list ON source.ip | WHERE source.ip == 1")
    assert query.commands == ["from", "lookup join", "where"]


def test_completion_target_is_derived() -> None:
    query = 'FROM a | COMPLETION verdict = prompt WITH { "inference_id": "x" } ' \
        '| WHERE verdict like "*malicious*"'
    assert stages(query) == {"verdict": "derived"}


# Partial parses.

def test_unknown_command_leaves_the_tail_unparsed() -> None:
    query = parse_esql('FROM a | WHERE x == 1\n| FORK (WHERE y == 2) | WHERE z == 3')
    assert query.unparsed == "unknown command 'FORK' at line 2"
    assert query.commands == ["from", "where"]
    assert query.tree.compact() == "x eq '1'"


def test_broken_command_leaves_the_tail_unparsed() -> None:
    query = parse_esql("FROM a\n| STATS c = BY h\n| WHERE c > 1")
    assert query.unparsed == "STATS at line 2: unexpected 'h'"
    assert query.commands == ["from"]


def test_empty_command_leaves_the_tail_unparsed() -> None:
    assert parse_esql("FROM a | | WHERE x == 1").unparsed == "empty command at line 1"


def test_broken_where_is_opaque_and_parsing_goes_on() -> None:
    query = parse_esql('FROM a | WHERE b = "x" | WHERE c == 1')
    assert query.tree.compact() == \
        "and(opaque('b = \"x\"': syntax error: unexpected '='), c eq '1')"
    assert query.unparsed is None


_PIECES = list('ab."`|/*=<>!~:,()[]{}-+ \n\\?%1') + [
    "where ", "eval ", "stats ", " by ", "keep ", "rename ", " as ", "dissect ", "grok ",
    "enrich ", " with ", " on ", "inline stats ", "lookup join ", " like ", " in ", " is ",
    " null", " not ", " and ", " or ", '"""', "kql(", "cidr_match(", "to_lower(", "match(",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_any_tail_after_a_good_from_never_raises(tail: str) -> None:
    query = parse_esql("FROM a | " + tail)
    assert query.indices == ["a"]


# The corpus.

def elastic_esql_queries() -> list[tuple[str, str]]:
    """Every ES|QL query of the Elastic corpus as (label, query)."""
    queries: list[tuple[str, str]] = []
    for folder in ("rules", "rules_building_block"):
        for path in sorted((ELASTIC / folder).rglob("*.toml")):
            text = path.read_text(encoding="utf-8")
            if "esql" not in text:
                continue
            rule = tomllib.loads(text).get("rule", {})
            if rule.get("language") == "esql":
                queries.append((str(path.relative_to(ELASTIC)), rule.get("query", "")))
    for path in sorted((ELASTIC / "hunting").rglob("*.toml")):
        hunt = tomllib.loads(path.read_text(encoding="utf-8")).get("hunt", {})
        label = str(path.relative_to(ELASTIC))
        for index, query in enumerate(hunt.get("query", [])):
            # Hunts mix languages without saying which query is which; ES|QL
            # is the one that starts with its FROM source command.
            if query.lstrip()[:5].lower() == "from ":
                queries.append((f"{label} [{index}]", query))
    return queries


@pytest.mark.corpus
def test_every_elastic_esql_query_parses() -> None:
    if not (ELASTIC / "rules").is_dir():
        pytest.skip("Elastic corpus not present")
    queries = elastic_esql_queries()
    assert len(queries) > 300
    failures, known = [], {}
    for label, text in queries:
        try:
            query = parse_esql(text)
        except QueryParseError as err:
            failures.append(f"{label}: {err}")
            continue
        if query.unparsed is None:
            continue
        if label in KNOWN_INVALID:
            known[label] = query.unparsed
        else:
            failures.append(f"{label}: unparsed: {query.unparsed}")
    assert not failures, f"{len(failures)} of {len(queries)} ES|QL queries failed:\n" + \
        "\n".join(failures)
    assert known == KNOWN_INVALID
