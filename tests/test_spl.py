"""Tests for the SPL parser: macros, search syntax, where expressions and the pipeline."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruledex.languages.spl import parse_spl, split_pipeline
from ruledex.languages.spl_expr import parse_where
from ruledex.languages.spl_fields import Columns
from ruledex.languages.spl_macros import Macro, expand, split_arguments
from ruledex.languages.spl_scan import closing_bracket, split_spans, top_level
from ruledex.languages.spl_search import parse_search
from ruledex.model import Node, Predicate, QueryParseError, flatten

MACROS = {
    "sysmon": Macro("sysmon", "sourcetype=xmlwineventlog OR source=XmlWinEventLog:Sysmon"),
    "process_cmd": Macro(
        "process_cmd",
        "(Processes.process_name=cmd.exe OR Processes.original_file_name=Cmd.Exe)"),
    "ctime": Macro("ctime", 'convert timeformat="%Y" ctime($field$)', ("field",)),
    "pair": Macro("pair", "$a$=$b$", ("a", "b")),
    "outer": Macro("outer", "`pair(user, admin)` host=dc1"),
    "loop": Macro("loop", "`loop`"),
}


def show(node: Node | None) -> str:
    """The compact form of a tree, or "None" when a parse gave none."""
    return "None" if node is None else node.compact()


def spl(query: str) -> Node | None:
    result = parse_spl(query, MACROS)
    assert result.errors == [], result.errors
    return result.tree


def search(text: str) -> str:
    node, _ = parse_search(text)
    return show(node)


def where(text: str, columns: Columns | None = None) -> str:
    return show(parse_where(text, columns))


def one(query: str) -> Predicate:
    preds = flatten(spl(query))
    assert len(preds) == 1, preds
    return preds[0]


# -- search syntax ------------------------------------------------------------


def test_pinned_tstats_forms() -> None:
    tree = spl("| tstats count from datamodel=Endpoint.Processes where "
               "Processes.process_name=powershell.exe Processes.process=*-enc* "
               "NOT Processes.parent_process_name=explorer.exe by Processes.dest")
    assert show(tree) == (
        "and(datamodel eq 'Endpoint.Processes', Processes.process_name eq 'powershell.exe', "
        "Processes.process contains '-enc', not(Processes.parent_process_name eq 'explorer.exe'))")
    preds = flatten(tree)
    assert [p.stage for p in preds] == ["selector", "event", "event", "event"]
    assert preds[3].negated and not preds[1].case_sensitive


@pytest.mark.parametrize("text, expected", [
    ("f=abc", "f eq 'abc'"),
    ("f=*abc*", "f contains 'abc'"),
    ("f=abc*", "f starts_with 'abc'"),
    ("f=*abc", "f ends_with 'abc'"),
    ("f=*", "f exists"),
    ("f=a*b", "f wildcard 'a*b'"),
    ("f=a?b", "f eq 'a?b'"),
    ('f="C:\\\\Windows\\\\*"', "f starts_with 'C:\\\\Windows\\\\'"),
    ('f="*\\Temp\\*"', "f contains '\\\\Temp\\\\'"),
    ('f="say \\"hi\\""', "f eq 'say \"hi\"'"),
    ("f = abc", "f eq 'abc'"),
    ('f= "a b"', "f eq 'a b'"),
    ("dest_ip=10.0.0.0/8", "dest_ip cidr '10.0.0.0/8'"),
    ("path=/tmp/x", "path eq '/tmp/x'"),
    ("f>5", "f gt '5'"),
    ("f >= 5", "f gte '5'"),
    ("f<5", "f lt '5'"),
    ("f<=5", "f lte '5'"),
    ('"columns.cmdline"="*x*"', "columns.cmdline contains 'x'"),
    ("mimikatz", "None keyword 'mimikatz'"),
    ('"a shell was spawned"', "None keyword 'a shell was spawned'"),
    ("TERM(10.0.0.1)", "None keyword '10.0.0.1'"),
])
def test_search_terms(text: str, expected: str) -> None:
    assert search(text) == expected


def test_not_equal_is_negated_eq() -> None:
    assert search("f!=abc") == "not(f eq 'abc')"
    assert search("NOT f=*") == "not(f exists)"


def test_or_binds_tighter_than_implicit_and() -> None:
    assert search("a=1 b=2 OR c=3") == "and(a eq '1', or(b eq '2', c eq '3'))"
    assert search("a=1 AND b=2 OR c=3") == "and(a eq '1', or(b eq '2', c eq '3'))"
    assert search("(a=1 b=2) OR c=3") == "or(and(a eq '1', b eq '2'), c eq '3')"


def test_not_applies_to_next_term_only() -> None:
    assert search("NOT a=1 OR b=2") == "or(not(a eq '1'), b eq '2')"
    assert search("NOT (a=1 OR b=2)") == "not(or(a eq '1', b eq '2'))"


def test_lowercase_boolean_words_are_terms() -> None:
    assert search("a=1 or b=2") == "and(a eq '1', None keyword 'or', b eq '2')"


def test_in_list_classifies_each_value() -> None:
    assert search('f IN ("cmd.exe", *ps*, "x*")') == \
        "or(f eq 'cmd.exe', f contains 'ps', f starts_with 'x')"
    assert search('NOT f IN(a,b)') == "not(or(f eq 'a', f eq 'b'))"


def test_time_bounds_and_match_all_are_dropped() -> None:
    assert search("earliest=-24h latest=now f=1") == "f eq '1'"
    assert search("*") == "None"


def test_search_selector_stage() -> None:
    node, _ = parse_search("index=main sourcetype=x EventCode=4688 eventType=y")
    assert [p.stage for p in flatten(node)] == ["selector", "selector", "selector", "event"]


def test_search_function_value_is_opaque() -> None:
    assert search('_time >= relative_time(now(), "-1d")') == \
        """opaque('_time >= relative_time(now(), "-1d")': time function)"""


def test_subsearch_in_search_is_opaque() -> None:
    assert show(spl("index=a NOT [| inputlookup x | fields domain]")) == \
        "and(index eq 'a', not(opaque('[| inputlookup x | fields domain]': subsearch)))"


@pytest.mark.parametrize("text, message", [
    ("(a=1", "unbalanced '\\('"),
    ('f="abc', "unterminated quoted string"),
    ("a=1 )", "unexpected '\\)'"),
    ("NOT", "search ends where a term was expected"),
])
def test_search_errors(text: str, message: str) -> None:
    with pytest.raises(QueryParseError, match=message):
        parse_search(text)


# -- where expressions ----------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ('f="x"', "f eq 'x'"),
    ('f=="x"', "f eq 'x'"),
    ('"x"==f', "f eq 'x'"),
    ('f!="x"', "not(f eq 'x')"),
    ('f="*x*"', "f eq '*x*'"),
    ("count > 5", "count gt '5'"),
    ("5 < count", "count gt '5'"),
    ("f >= -1", "f gte '-1'"),
    ('like(f, "%x%")', "f contains 'x'"),
    ('f LIKE "x%"', "f starts_with 'x'"),
    ('like(f, "%a_b%")', "f wildcard '*a?b*'"),
    ('match(f, "^a.*b$")', "f regex_match '^a.*b$'"),
    ('cidrmatch("10.0.0.0/8", ip)', "ip cidr '10.0.0.0/8'"),
    ("isnull(f)", "f is_null"),
    ("isnotnull(f)", "f exists"),
    ('in(f, "a", "b")', "or(f eq 'a', f eq 'b')"),
    ('f IN ("a", "b")', "or(f eq 'a', f eq 'b')"),
    ('f NOT IN ("a")', "not(f eq 'a')"),
    ('a="1" AND b="2" OR c="3"', "or(and(a eq '1', b eq '2'), c eq '3')"),
    ('a="1" and NOT b="2"', "and(a eq '1', not(b eq '2'))"),
    ("'odd name'=\"v\"", "odd name eq 'v'"),
    ("flag=true", "flag eq 'true'"),
    ("src_user=user_name", "src_user fieldref 'user_name'"),
    ("src_user!=user_name", "not(src_user fieldref 'user_name')"),
    ('searchmatch("f=*x*")', "f contains 'x'"),
])
def test_where_forms(text: str, expected: str) -> None:
    assert where(text) == expected


def test_where_case_sensitivity() -> None:
    eq = flatten(parse_where('f="X"'))[0]
    folded = flatten(parse_where('lower(f)="x"'))[0]
    regex = flatten(parse_where('match(f, "(?i)abc")'))[0]
    assert (eq.case_sensitive, folded.case_sensitive, regex.case_sensitive) == \
        (True, False, False)
    assert folded.field == "f"


@pytest.mark.parametrize("text, reason", [
    ("bytes > avg + stdev*3", "arithmetic"),
    ('_time > relative_time(now(), "-1d")', "time function"),
    ("failed > succeeded", "field comparison"),
    ("len(process) > 200", "function"),
    ("weekday=Saturday", "field comparison"),
    ("isOutlier", "expression"),
])
def test_where_irreducible_is_opaque(text: str, reason: str) -> None:
    assert where(text) == f"opaque({text!r}: {reason})"


def test_where_errors() -> None:
    with pytest.raises(QueryParseError, match="expected '\\)'"):
        parse_where("like(f, \"x\"")
    with pytest.raises(QueryParseError, match="unexpected '#'"):
        parse_where("f # 1")


# -- scanning -------------------------------------------------------------------


def test_top_level_skips_quotes_escapes_and_bracket_insides() -> None:
    text = 'a "b|c" \\| (d [e]) f'
    assert "".join(char for _, char in top_level(text)) == "a   () f"
    assert "".join(char for _, char in top_level(text, brackets="[")) == "a   (d []) f"
    assert [i for i, char in top_level(text, 7, 12) if char != " "] == [11]


def test_closing_bracket_nests_one_kind_and_honours_quotes() -> None:
    assert closing_bracket('(a [ ")" (b))', 0) == 12
    assert closing_bracket("[a (]", 0) == 4
    assert closing_bracket("(a", 0) is None


def test_a_closing_bracket_with_nothing_open_is_ordinary() -> None:
    assert [(i, char) for i, char in top_level("a)b")] == [(0, "a"), (1, ")"), (2, "b")]
    assert split_spans("x=y), z=w", ",") == [(0, 4), (5, 9)]


def test_backslashes_outside_quotes_hide_only_when_escapes_count_there() -> None:
    assert split_spans("a\\,b", ",") == [(0, 4)]
    assert split_spans("a\\,b", ",", escapes_outside_quotes=False) == [(0, 2), (3, 4)]
    assert split_arguments('C:\\Temp\\, "x\\",y"') == ["C:\\Temp\\", '"x\\",y"']


@given(st.text(alphabet='ab,|()[]"\\ ', max_size=30))
@settings(max_examples=200, deadline=None)
def test_split_spans_cover_the_text_between_separators(text: str) -> None:
    spans = split_spans(text, ",")
    assert ",".join(text[a:b] for a, b in spans) == text


# -- macros ---------------------------------------------------------------------


def test_macro_arguments_split_on_top_level_commas() -> None:
    assert split_arguments('a, "b,c", f(x, y)') == ["a", '"b,c"', "f(x, y)"]


def test_macro_expansion_with_arguments_and_nesting() -> None:
    expanded = expand("`outer` | `ctime(firstTime)`", MACROS)
    assert expanded.text.strip() == 'user=admin host=dc1 | convert timeformat="%Y" ctime(firstTime)'
    assert expanded.calls == ["outer", "pair", "ctime"]
    assert expanded.macro_at(expanded.text.index("user")) == "pair"
    assert expanded.macro_at(expanded.text.index("host")) == "outer"


def test_filter_and_unknown_macros_expand_to_nothing_but_are_recorded() -> None:
    result = parse_spl("f=1 | `x_filter` | `security_content_summariesonly_unknown`", MACROS)
    assert show(result.tree) == "f eq '1'"
    assert result.macros == ["x_filter", "security_content_summariesonly_unknown"]


def test_comments_and_quoted_backticks_are_not_macros() -> None:
    expanded = expand('a=1 ```note | `sysmon` ``` b="`x`"', MACROS)
    assert expanded.calls == []
    assert "note" not in expanded.text


def test_macro_errors_are_reported() -> None:
    assert parse_spl("`loop`", MACROS).errors == ["macro `loop` nests deeper than 12 levels"]
    assert parse_spl("`ctime(a, b)`", MACROS).errors == \
        ["macro `ctime` takes 1 argument(s), the call gives 2"]
    assert parse_spl("a=1 `open", MACROS).errors == \
        ["unterminated macro call (no closing backtick)"]


def test_macro_predicates_carry_the_macro_name() -> None:
    preds = flatten(spl("`sysmon` EventCode=1"))
    assert [(p.field, p.macro, p.stage) for p in preds] == [
        ("sourcetype", "sysmon", "selector"), ("source", "sysmon", "selector"),
        ("EventCode", None, "selector")]


def test_macro_inside_tstats_where() -> None:
    preds = flatten(spl("| tstats count from datamodel=Endpoint.Processes where `process_cmd` "
                        "Processes.process=*/c* by Processes.dest"))
    assert [(p.field, p.macro) for p in preds] == [
        ("datamodel", None), ("Processes.process_name", "process_cmd"),
        ("Processes.original_file_name", "process_cmd"), ("Processes.process", None)]


# -- pipeline -------------------------------------------------------------------


def test_split_pipeline_honours_quotes_and_brackets() -> None:
    text = 'a="x|y" | join k [search b=1 | stats count] | where c="|"'
    parts = [text[s:e].strip() for s, e in split_pipeline(text)]
    assert parts == ['a="x|y"', "join k [search b=1 | stats count]", 'where c="|"']


def test_drop_dm_object_name_maps_back_to_the_prefixed_field() -> None:
    tree = spl("| tstats count from datamodel=Endpoint.Processes by Processes.process_name "
               "Processes.dest | `drop_dm_object_name(Processes)` "
               '| search process_name="cmd.exe" | where count > 5')
    preds = flatten(tree)
    assert [(p.field, p.op, p.stage) for p in preds] == [
        ("datamodel", "eq", "selector"), ("Processes.process_name", "eq", "event"),
        ("count", "gt", "aggregate")]


def test_rename_and_value_aggregations_keep_the_raw_field() -> None:
    preds = flatten(spl("index=a | rename Image AS process | stats values(process) AS procs "
                        "dc(host) AS hosts by user | search procs=*x* hosts>3 user=bob"))
    assert [(p.field, p.stage) for p in preds] == [
        ("index", "selector"), ("Image", "event"), ("hosts", "aggregate"), ("user", "event")]


def test_wildcard_rename_in_open_columns() -> None:
    assert [p.field for p in flatten(spl("index=a | rename properties.* AS * | search x=1"))] == \
        ["index", "properties.x"]


def test_computed_columns_are_derived() -> None:
    preds = flatten(spl('index=a | eval n=len(cmd) | rex field=cmd "(?<tool>\\w+)" '
                        "| lookup t k OUTPUT flag AS hit | spath output=o path=a.b "
                        "| where n > 3 AND tool=\"x\" AND hit=\"1\" AND o=\"2\" AND cmd=\"y\""))
    assert [(p.field, p.stage) for p in preds] == [
        ("index", "selector"), ("n", "derived"), ("tool", "derived"), ("hit", "derived"),
        ("o", "derived"), ("cmd", "event")]


def test_eval_copy_is_an_alias() -> None:
    assert [p.field for p in flatten(spl(
        "| tstats count from datamodel=X by X.a | eval b='X.a' | where b=\"1\""))] == \
        ["datamodel", "X.a"]
    preds = flatten(spl("index=a | eval dest=host | search dest=dc1"))
    assert [p.field for p in preds] == ["index", "host"]


def test_regex_command() -> None:
    assert show(spl('index=a | regex cmd="(?i)enc"')) == \
        "and(index eq 'a', cmd regex_match '(?i)enc')"
    assert show(spl('index=a | regex cmd!="^x"')) == \
        "and(index eq 'a', not(cmd regex_match '^x'))"
    assert one('| regex "abc"').field == "_raw"


def test_append_is_or_and_inner_join_is_and() -> None:
    assert show(spl("a=1 | append [search b=2] | search c=3")) == \
        "and(or(a eq '1', b eq '2'), c eq '3')"
    assert show(spl("a=1 | join k [search b=2]")) == "and(a eq '1', b eq '2')"
    assert show(spl("a=1 | join type=outer k [search b=2]")) == "a eq '1'"


def test_inputlookup_columns_are_derived() -> None:
    preds = flatten(spl("| inputlookup users where role=admin | search name=x"))
    assert [(p.field, p.stage) for p in preds] == [("role", "derived"), ("name", "derived")]


def test_from_datamodel_is_a_selector() -> None:
    result = parse_spl("| from datamodel Risk.All_Risk | search risk_score>50")
    assert show(result.tree) == "and(datamodel eq 'Risk.All_Risk', risk_score gt '50')"
    assert result.datamodels == ["Risk.All_Risk"]


def test_map_is_opaque() -> None:
    assert show(spl('a=1 | map search="search b=$x$"')) == \
        """and(a eq '1', opaque('search="search b=$x$"': map))"""


def test_error_in_one_command_keeps_the_rest() -> None:
    result = parse_spl("a=1 | where (b=2 | search c=3")
    assert result.errors == ["where: expected ')' in expression, found the end"]
    assert show(result.tree) == "and(a eq '1', c eq '3')"


SPL_PIECES = st.sampled_from([
    "a", "X.y", "*", "=", "!=", "<", ">", "(", ")", "[", "]", "|", '"', "'", "`", ",", "\\",
    " ", "1", "-", "%", "AND ", "OR ", "NOT ", " IN ", "where ", "search ", "tstats ",
    "stats ", " by ", "rename ", " as ", "eval ", "like(", "match(", "from datamodel=",
    "join ", "append ", "```", "lower(", "regex ", "lookup ", " OUTPUT ", "rex ", "(?<g>",
    "`pair(a,b)`", "`sysmon`", "TERM(", "searchmatch(\"", "inputlookup ", "map ",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(SPL_PIECES, max_size=30).map("".join))
def test_any_text_gives_a_result_not_an_exception(query: str) -> None:
    result = parse_spl(query, MACROS)
    assert result.tree is None or result.tree.kind in {"and", "or", "not", "predicate", "opaque"}
