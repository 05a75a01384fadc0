"""Sigma rules into predicates: every modifier and condition form, on small inline rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from ruledex.model import Predicate, Rule, RuledexError
from ruledex.sources.sigma import SigmaSource, split_tags

HEADER = """title: Test rule
id: 11111111-2222-3333-4444-555555555555
status: test
logsource:
    category: process_creation
    product: windows
level: high
tags:
    - attack.execution
    - attack.t1059.001
"""


def load(tmp_path: Path, detection: str, header: str = HEADER) -> Rule:
    path = tmp_path / "rules" / "r.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + detection, encoding="utf-8")
    rules = SigmaSource(tmp_path).load(path)
    assert len(rules) == 1
    return rules[0]


def triples(rule: Rule) -> list[tuple[str | None, str, str | None]]:
    return [(p.field, p.op, p.value) for p in rule.predicates]


def only(rule: Rule) -> Predicate:
    preds = rule.predicates
    assert len(preds) == 1, preds
    return preds[0]


@pytest.mark.parametrize("modifier, value, op, expected", [
    ("", "cmd.exe", "eq", "cmd.exe"),
    ("|contains", "vssadmin", "contains", "vssadmin"),
    ("|startswith", "C:\\Windows\\", "starts_with", "C:\\Windows\\"),
    ("|endswith", "\\rundll32.exe", "ends_with", "\\rundll32.exe"),
    ("", "*\\rundll32.exe", "ends_with", "\\rundll32.exe"),
    ("", "C:\\Users\\\\*\\evil.exe", "wildcard", "C:\\Users\\*\\evil.exe"),
    ("", "a?c", "wildcard", "a?c"),
    ("|contains", "a*b", "wildcard", "*a*b*"),
    ("", "*", "exists", ""),
])
def test_value_is_classified_by_wildcard_structure(tmp_path: Path, modifier: str, value: str,
                                                   op: str, expected: str) -> None:
    rule = load(tmp_path, f"detection:\n    sel:\n        Image{modifier}: '{value}'\n"
                          "    condition: sel\n")
    pred = only(rule)
    assert (pred.field, pred.op, pred.value) == ("Image", op, expected)
    assert pred.case_sensitive is False
    assert pred.selection == "sel"


def test_escaped_wildcard_is_literal(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        CommandLine: 'a\\*b'\n"
                          "    condition: sel\n")
    assert triples(rule) == [("CommandLine", "eq", "a*b")]


def test_all_links_values_by_and(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        CommandLine|contains|all:\n"
                          "            - ' -w hidden'\n            - ' -enc'\n"
                          "    condition: sel\n")
    assert rule.tree is not None and rule.tree.kind == "and"
    assert triples(rule) == [("CommandLine", "contains", " -w hidden"),
                             ("CommandLine", "contains", " -enc")]


def test_list_without_all_is_or(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        Image|endswith:\n"
                          "            - '\\a.exe'\n            - '\\b.exe'\n"
                          "    condition: sel\n")
    assert rule.tree is not None
    assert rule.tree.children[0].kind == "or"


def test_regex_keeps_case_and_flags(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        CommandLine|re: 'Foo.*Bar'\n"
                          "        ParentImage|re|i: 'X+Y'\n    condition: sel\n")
    first, second = rule.predicates
    assert (first.op, first.value, first.case_sensitive) == ("regex_match", "Foo.*Bar", True)
    assert (second.op, second.value, second.case_sensitive) == ("regex_match", "X+Y", False)
    assert second.modifiers == ("re", "i")


def test_regex_multiline_and_dotall_flags(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        CommandLine|re|m|s: '^a.b'\n"
                          "    condition: sel\n")
    assert only(rule).modifiers == ("re", "m", "s")


def test_cidr(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        DestinationIp|cidr:\n"
                          "            - '10.0.0.0/8'\n            - '192.168.0.0/16'\n"
                          "    condition: sel\n")
    assert triples(rule) == [("DestinationIp", "cidr", "10.0.0.0/8"),
                             ("DestinationIp", "cidr", "192.168.0.0/16")]


def test_windash_stays_one_predicate(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        CommandLine|windash|contains: ' -enc '\n"
                          "    condition: sel\n")
    pred = only(rule)
    assert (pred.op, pred.value) == ("contains", " -enc ")
    assert "windash" in pred.modifiers


@pytest.mark.parametrize("modifiers", ["base64offset|contains", "base64|contains",
                                       "wide|base64offset|contains", "utf16|base64offset|contains"])
def test_encodings_stay_one_predicate_with_the_written_value(tmp_path: Path,
                                                             modifiers: str) -> None:
    rule = load(tmp_path, f"detection:\n    sel:\n        CommandLine|{modifiers}: 'http://'\n"
                          "    condition: sel\n")
    pred = only(rule)
    assert (pred.op, pred.value) == ("contains", "http://")
    assert pred.modifiers == tuple(modifiers.split("|"))


def test_fieldref(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        TargetUserName|fieldref: SubjectUserName\n"
                          "    condition: sel\n")
    assert triples(rule) == [("TargetUserName", "fieldref", "SubjectUserName")]


def test_exists_and_null(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        A|exists: true\n        B|exists: false\n"
                          "        C: null\n    condition: sel\n")
    assert triples(rule) == [("A", "exists", None), ("B", "is_null", None),
                             ("C", "is_null", None)]


@pytest.mark.parametrize("modifier, op", [("gt", "gt"), ("gte", "gte"), ("lt", "lt"),
                                          ("lte", "lte")])
def test_numeric_comparisons(tmp_path: Path, modifier: str, op: str) -> None:
    rule = load(tmp_path, f"detection:\n    sel:\n        Count|{modifier}: 10\n"
                          "    condition: sel\n")
    assert triples(rule) == [("Count", op, "10")]


def test_number_and_bool_values(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        EventID: 4688\n        Flag: true\n"
                          "    condition: sel\n")
    assert triples(rule) == [("EventID", "eq", "4688"), ("Flag", "eq", "true")]


def test_cased_is_case_sensitive(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        CommandLine|cased|contains: 'AbC'\n"
                          "    condition: sel\n")
    pred = only(rule)
    assert (pred.op, pred.value, pred.case_sensitive) == ("contains", "AbC", True)


def test_expand_placeholder_is_kept(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        User|expand: '%admins%'\n"
                          "    condition: sel\n")
    pred = only(rule)
    assert (pred.op, pred.value, pred.modifiers) == ("eq", "%admins%", ("expand",))


def test_keywords_are_fieldless(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    keywords:\n        - 'mimikatz'\n"
                          "        - '*sekurlsa*'\n    condition: keywords\n")
    assert triples(rule) == [(None, "keyword", "mimikatz"), (None, "keyword", "sekurlsa")]


def test_list_of_maps_is_or_of_ands(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        - Image: a.exe\n          User: x\n"
                          "        - Image: b.exe\n    condition: sel\n")
    assert rule.tree is not None and rule.tree.kind == "or"
    assert [c.kind for c in rule.tree.children] == ["and", "and"]
    assert len(rule.predicates) == 3


def test_not_marks_exclusions_and_keeps_the_group(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        Image|endswith: '\\a.exe'\n"
                          "    filter:\n        ParentImage: 'C:\\x.exe'\n        User: SYSTEM\n"
                          "    condition: sel and not filter\n")
    sel, parent, user = rule.predicates
    assert not sel.negated
    assert parent.negated and user.negated
    # NOT (A AND B) is one exclusion group, not two separate exclusions.
    assert parent.not_path == user.not_path is not None
    assert rule.tree is not None
    not_node = rule.tree.children[1]
    assert not_node.kind == "not" and not_node.children[0].kind == "and"


def test_double_negation_is_not_an_exclusion(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        Image: a.exe\n"
                          "    condition: not (not sel)\n")
    assert only(rule).negated is False


@pytest.mark.parametrize("condition, kind, count", [
    ("1 of selection_*", "or", 2),
    ("all of selection_*", "and", 2),
    ("1 of them", "or", 3),
    ("all of them", "and", 3),
    ("selection_a or (selection_b and other)", "or", 3),
])
def test_condition_forms(tmp_path: Path, condition: str, kind: str, count: int) -> None:
    rule = load(tmp_path, "detection:\n    selection_a:\n        A: 1\n    selection_b:\n"
                          f"        B: 2\n    other:\n        C: 3\n    condition: {condition}\n")
    assert rule.tree is not None and rule.tree.kind == kind
    assert len(rule.predicates) == count


def test_selector_with_negation(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    selection:\n        A: 1\n    filter_main_a:\n"
                          "        B: 2\n    filter_main_b:\n        C: 3\n"
                          "    condition: selection and not 1 of filter_main_*\n")
    assert [p.negated for p in rule.predicates] == [False, True, True]


def test_multiple_conditions_are_ored(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    a:\n        A: 1\n    b:\n        B: 2\n"
                          "    condition:\n        - a\n        - b\n")
    assert rule.tree is not None and rule.tree.kind == "or"


def test_metadata_and_tags(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        A: 1\n    condition: sel\n")
    assert rule.vendor == "sigma" and rule.path == "rules/r.yml"
    assert rule.id == "11111111-2222-3333-4444-555555555555"
    assert rule.techniques == ["T1059.001"] and rule.tactics == ["execution"]
    assert rule.logsource == {"category": "process_creation", "product": "windows"}
    assert rule.level == "high" and rule.status == "test" and rule.language == "sigma"
    assert rule.query.startswith("detection:")


def test_split_tags() -> None:
    assert split_tags(["attack.t1003", "attack.credential_access", "attack.g0007",
                       "cve.2021-44228", "attack.stealth"]) == (
        ["T1003"], ["credential-access", "stealth"], ["attack.g0007", "cve.2021-44228"])


def test_broken_detection_is_recorded_with_its_line(tmp_path: Path) -> None:
    rule = load(tmp_path, "detection:\n    sel:\n        Image|nosuchmodifier: a\n"
                          "    condition: sel\n")
    assert rule.parse_status == "failed"
    assert rule.errors[0].line == HEADER.count("\n") + 1
    assert "nosuchmodifier" in rule.errors[0].message


def test_invalid_yaml_raises_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "rules" / "bad.yml"
    path.parent.mkdir(parents=True)
    path.write_text("title: x\ndetection: [\n  a: b\n", encoding="utf-8")
    with pytest.raises(RuledexError, match=r"invalid YAML") as info:
        SigmaSource(tmp_path).load(path)
    assert info.value.path == "rules/bad.yml" and info.value.line is not None


def test_correlation_rule(tmp_path: Path) -> None:
    text = (HEADER + "detection:\n    sel:\n        EventID: 4625\n    condition: sel\n"
            "---\ntitle: Many failed logons\nid: corr-1\nstatus: test\n"
            "correlation:\n    type: event_count\n    rules:\n"
            "        - 11111111-2222-3333-4444-555555555555\n"
            "    group-by:\n        - TargetUserName\n    timespan: 5m\n"
            "    condition:\n        gte: 10\nlevel: high\n")
    path = tmp_path / "rules" / "c.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    base, corr = SigmaSource(tmp_path).load(path)
    assert base.kind == "rule" and corr.kind == "correlation"
    assert corr.extra["correlation"] == {
        "type": "event_count", "rules": ["11111111-2222-3333-4444-555555555555"],
        "group_by": ["TargetUserName"], "timespan": "5m"}
    pred = only(corr)
    assert (pred.field, pred.op, pred.value, pred.stage) == ("count", "gte", "10", "aggregate")
    assert corr.line == HEADER.count("\n") + 6


def test_temporal_correlation_keeps_rule_order(tmp_path: Path) -> None:
    text = ("title: t\nid: corr-2\ncorrelation:\n    type: temporal_ordered\n"
            "    rules:\n        - first\n        - second\n    group-by:\n        - Host\n"
            "    timespan: 1h\n")
    path = tmp_path / "rules" / "t.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    (rule,) = SigmaSource(tmp_path).load(path)
    assert rule.tree is not None and rule.tree.kind == "sequence"
    assert [s.label for s in rule.tree.children] == ["first", "second"]


def test_filter_rule_is_an_exclusion(tmp_path: Path) -> None:
    text = ("title: f\nid: filter-1\nlogsource:\n    product: windows\n"
            "filter:\n    rules:\n        - 11111111-2222-3333-4444-555555555555\n"
            "    selection:\n        User: svc_backup\n    condition: not selection\n")
    path = tmp_path / "rules" / "f.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    (rule,) = SigmaSource(tmp_path).load(path)
    assert rule.kind == "filter"
    assert rule.extra["filter_rules"] == ["11111111-2222-3333-4444-555555555555"]
    assert triples(rule) == [("User", "eq", "svc_backup")]


def test_global_action_merges_into_following_documents(tmp_path: Path) -> None:
    text = ("action: global\ntitle: g\nlogsource:\n    product: windows\n"
            "detection:\n    condition: sel\n---\nid: one\nlogsource:\n"
            "    category: process_creation\ndetection:\n    sel:\n        Image: a.exe\n")
    path = tmp_path / "rules" / "g.yml"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    (rule,) = SigmaSource(tmp_path).load(path)
    assert rule.title == "g" and rule.logsource == {"product": "windows",
                                                    "category": "process_creation"}
    assert triples(rule) == [("Image", "eq", "a.exe")]
