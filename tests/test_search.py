"""Search: the query parser on its own, then searches over a small hand-made catalog."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import write_sigma_repo

from ruledex.analysis.search import (
    Condition,
    SearchError,
    field_vocabulary,
    fts_expression,
    marked,
    normalized_keys,
    parse_query,
    search,
    tokenize,
)
from ruledex.catalog.build import build
from ruledex.catalog.store import connect


def test_tokenize_keeps_quotes_and_backslashes() -> None:
    assert tokenize('a "b c"  vendor:"x y" value:*\\rundll32.exe') == [
        ("a", False), ("b c", True), ("vendor:x y", False), ("value:*\\rundll32.exe", False)]
    assert tokenize('""') == [("", True)]
    assert tokenize("") == []


def test_filters_are_folded_and_repeatable() -> None:
    query = parse_query("powershell vendor:Sigma vendor:elastic technique:t1059.001 "
                        "level:HIGH tactic:execution status:test kind:rule")
    assert query.terms == [("powershell", False)]
    assert query.filters == {"vendor": ["sigma", "elastic"], "technique": ["T1059.001"],
                             "level": ["high"], "tactic": ["execution"], "status": ["test"],
                             "kind": ["rule"]}
    assert not query.conditions


def test_natural_condition() -> None:
    query = parse_query("CommandLine contains vssadmin shadow")
    assert query.conditions == [Condition("CommandLine", "contains", "vssadmin")]
    assert query.terms == [("shadow", False)]
    assert parse_query("Image endswith \\x.exe").conditions == [
        Condition("Image", "ends_with", "\\x.exe")]
    assert parse_query('Image is "C:\\a b.exe"').conditions == [
        Condition("Image", "eq", "C:\\a b.exe")]


def test_natural_condition_needs_a_known_field() -> None:
    known = {"commandline"}
    query = parse_query("what is this", known_field=lambda name: name.lower() in known)
    assert not query.conditions
    assert [t for t, _ in query.terms] == ["what", "is", "this"]
    query = parse_query("commandline has x", known_field=lambda name: name.lower() in known)
    assert query.conditions == [Condition("commandline", "contains", "x")]


def test_quoted_words_are_never_filters_or_operators() -> None:
    query = parse_query('"vendor:sigma" a "contains" b')
    assert query.filters == {} and not query.conditions
    assert query.terms == [("vendor:sigma", True), ("a", False), ("contains", True),
                           ("b", False)]


@pytest.mark.parametrize("text, expected", [
    ("field:Image value:*\\rundll32.exe", Condition("Image", "ends_with", "\\rundll32.exe")),
    ("field:Image value:C:\\Windows\\*", Condition("Image", "starts_with", "C:\\Windows\\")),
    ("field:Image value:*evil*", Condition("Image", "contains", "evil")),
    ("field:Image value:a?c", Condition("Image", "wildcard", "a?c")),
    ("field:Image value:rundll32", Condition("Image", None, "rundll32")),
    ("value:*\\rundll32.exe", Condition(None, "ends_with", "\\rundll32.exe")),
    ("field:Image", Condition("Image", None, None)),
    ("field:Image op:endswith value:*.exe", Condition("Image", "ends_with", "*.exe")),
])
def test_condition_from_parts(text: str, expected: Condition) -> None:
    assert parse_query(text).conditions == [expected]


def test_unknown_operator_is_an_error() -> None:
    with pytest.raises(SearchError, match="unknown operator 'near'"):
        parse_query("field:Image op:near value:x")


def test_fts_expression_quotes_every_term() -> None:
    assert fts_expression([("power*", False), ("-enc", False), ('say "hi"', True)]) == \
        '"power"* "-enc" "say ""hi"""'
    assert fts_expression([("--", False), ("*", False)]) is None
    assert fts_expression([("a*", True)]) == '"a*"'


def test_marked_splits_highlights() -> None:
    assert marked("a \ue000b\ue001 c") == [("a ", False), ("b", True), (" c", False)]
    assert marked("\ue000x\ue001") == [("x", True)]
    assert marked("plain") == [("plain", False)]


def test_normalized_keys_follow_the_catalog() -> None:
    keys = normalized_keys(Condition("Image", "ends_with", "\\Rundll32.exe"))
    assert ("process.executable", "basename_eq", "rundll32.exe") in keys
    assert normalized_keys(Condition("Image", None, "x")) == set()


def rule(rule_id: str, title: str, tags: list[str], detection: str, level: str = "high",
         status: str = "test", description: str = "") -> str:
    tag_lines = "".join(f"    - {t}\n" for t in tags)
    return (f"title: '{title}'\nid: {rule_id}\nstatus: {status}\nlevel: {level}\n"
            f"description: '{description}'\n"
            f"logsource:\n    category: process_creation\n    product: windows\n"
            f"tags:\n{tag_lines}detection:\n{detection}")


RULES = {
    "vss.yml": rule("vss", "Shadow copies deleted", ["attack.impact", "attack.t1490"],
                    "    sel:\n        Image|endswith: '\\vssadmin.exe'\n"
                    "        CommandLine|contains: 'delete shadows'\n    condition: sel\n",
                    description="Deletion of volume shadow copies with vssadmin"),
    "rundll.yml": rule("rundll", "Rundll32 without arguments", ["attack.t1218.011"],
                       "    sel:\n        Image|endswith: '\\rundll32.exe'\n"
                       "    filter:\n        ParentImage|endswith: '\\msiexec.exe'\n"
                       "    condition: sel and not filter\n", level="medium"),
    "ps.yml": rule("ps", "Encoded PowerShell", ["attack.t1059.001"],
                   "    sel:\n        Image|endswith: '\\powershell.exe'\n"
                   "        CommandLine|contains: ' -enc '\n    condition: sel\n",
                   status="stable", description="PowerShell started with an encoded command"),
    "cmd.yml": rule("cmd", "Cmd spawned by rundll32", ["attack.t1059.003"],
                    "    sel:\n        ParentImage|endswith: '\\rundll32.exe'\n"
                    "        Image|endswith: '\\cmd.exe'\n    condition: sel\n", level="low"),
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    root = write_sigma_repo(tmp_path_factory.mktemp("repo"), RULES)
    db = root / "catalog.sqlite"
    build(db, [root])
    return connect(db)


def ids(result: dict[str, Any]) -> list[str]:
    return sorted(r["id"] for r in result["results"])


def test_full_text_with_highlights(catalog: sqlite3.Connection) -> None:
    result = search(catalog, "shadow")
    assert ids(result) == ["vss"]
    assert ("Shadow", True) in result["results"][0]["title_parts"]
    assert result["facets"]["vendor"] == [{"value": "sigma", "count": 1, "selected": False}]
    assert ids(search(catalog, "power*")) == ["ps"]
    assert ids(search(catalog, '"encoded command"')) == ["ps"]


def test_filters(catalog: sqlite3.Connection) -> None:
    assert ids(search(catalog, "technique:T1059")) == ["cmd", "ps"]
    assert ids(search(catalog, "technique:T1059.001")) == ["ps"]
    assert ids(search(catalog, "level:low level:medium")) == ["cmd", "rundll"]
    assert ids(search(catalog, "status:stable")) == ["ps"]
    assert ids(search(catalog, "tactic:impact")) == ["vss"]
    assert ids(search(catalog, "tactic:TA0040")) == ["vss"]
    assert ids(search(catalog, "vendor:elastic")) == []
    level = search(catalog, "vendor:sigma level:low")["facets"]["level"]
    assert level == [{"value": "low", "count": 1, "selected": True}]


def test_conditions(catalog: sqlite3.Connection) -> None:
    assert ids(search(catalog, "CommandLine contains shadows")) == ["vss"]
    found = search(catalog, "Image endswith \\rundll32.exe")
    assert ids(found) == ["rundll"]
    assert found["results"][0]["matched"] == [
        {"iid": found["results"][0]["matched"][0]["iid"], "field": "Image", "op": "ends_with",
         "value": "\\rundll32.exe", "negated": False}]
    # A wildcard value is read as its operator, then normalized for the field.
    assert ids(search(catalog, "field:ParentImage value:*\\rundll32.exe")) == ["cmd"]
    assert ids(search(catalog, "field:Image value:*\\rundll32.exe")) == ["rundll"]
    # Without a field the value is matched as the catalog stores it.
    assert ids(search(catalog, 'value:"*delete shadows*"')) == ["vss"]
    assert ids(search(catalog, "value:*\\rundll32.exe")) == []
    # Exclusions match too, flagged.
    excluded = search(catalog, "ParentImage endswith \\msiexec.exe")
    assert ids(excluded) == ["rundll"] and excluded["results"][0]["matched"][0]["negated"]
    assert ids(search(catalog, "field:ParentImage")) == ["cmd", "rundll"]


def test_conditions_combine_with_text_and_filters(catalog: sqlite3.Connection) -> None:
    assert ids(search(catalog, "Image contains rundll32 level:medium")) == ["rundll"]
    assert ids(search(catalog, "Image contains exe without")) == ["rundll"]


def test_unknown_field_says_so(catalog: sqlite3.Connection) -> None:
    result = search(catalog, "field:NoSuchField value:x")
    assert result["total"] == 0
    assert result["notices"] == ["no rule tests a field named 'NoSuchField'"]


def test_pagination(catalog: sqlite3.Connection) -> None:
    first = search(catalog, "vendor:sigma", page=1, per_page=3)
    second = search(catalog, "vendor:sigma", page=2, per_page=3)
    assert (first["total"], first["pages"], len(first["results"])) == (4, 2, 3)
    assert len(second["results"]) == 1
    assert not set(ids(first)) & set(ids(second))


def test_empty_and_wordless_queries(catalog: sqlite3.Connection) -> None:
    assert search(catalog, "")["total"] == 0
    wordless = search(catalog, "--")
    assert wordless["total"] == 0 and wordless["notices"]


def test_unknown_vendor_is_an_error(catalog: sqlite3.Connection) -> None:
    with pytest.raises(SearchError, match="unknown vendor 'acme'"):
        search(catalog, "vendor:acme")


def test_vocabulary_knows_raw_and_canonical_names(catalog: sqlite3.Connection) -> None:
    vocabulary = field_vocabulary(catalog)
    assert "process.executable" in vocabulary["image"]
    assert vocabulary["process.executable"] == {"process.executable"}


@pytest.mark.corpus
def test_corpus_searches(sigma_db: Path) -> None:
    conn = connect(sigma_db)
    vocabulary = field_vocabulary(conn)
    assert search(conn, "CommandLine contains vssadmin", vocabulary=vocabulary)["total"] > 0
    rundll = search(conn, "field:Image value:*\\rundll32.exe", vocabulary=vocabulary)
    assert rundll["total"] > 20
    assert search(conn, "technique:T1059.001 level:high", vocabulary=vocabulary)["total"] > 10
