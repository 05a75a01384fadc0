"""Tests for the Splunk security_content source, and the whole Splunk corpus."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from ruledex.model import RuledexError, flatten, iter_nodes
from ruledex.sources.splunk import SplunkSource, level_for, split_data_sources

SPLUNK = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "splunk"

DETECTION = """\
name: Suspicious Cmd
id: 11111111-2222-3333-4444-555555555555
version: 4
date: '2024-10-17'
author: Someone, Splunk
status: production
type: TTP
data_source:
- Sysmon EventID 1 AND Sysmon EventID 11
- NTLM Operational 8004,8005
description: Detects cmd.
search: '| tstats `security_content_summariesonly` count from datamodel=Endpoint.Processes
  where `process_cmd` Processes.process="*\\\\Temp\\\\*" by Processes.dest Processes.process_name
  | `drop_dm_object_name(Processes)` | where process_name!="x.exe" | `suspicious_cmd_filter`'
how_to_implement: Ingest EDR data.
known_false_positives: Admins.
references:
- https://example.org/a
tags:
  analytic_story:
  - Story One
  asset_type: Endpoint
  confidence: 80
  impact: 90
  message: cmd on $dest$
  mitre_attack_id:
  - t1059.003
  - T1059
  observable:
  - name: dest
    type: Endpoint
    role:
    - Victim
  - name: process_name
    type: Process
    role:
    - Attacker
  risk_score: 72
  security_domain: endpoint
"""

MACROS = {
    "process_cmd.yml": "name: process_cmd\ndefinition: (Processes.process_name=cmd.exe)\n",
    "security_content_summariesonly.yml":
        "name: security_content_summariesonly\ndefinition: summariesonly=false\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "detections" / "endpoint").mkdir(parents=True)
    (tmp_path / "detections" / "deprecated").mkdir()
    (tmp_path / "macros").mkdir()
    (tmp_path / "detections" / "endpoint" / "suspicious_cmd.yml").write_text(DETECTION)
    old = DETECTION.replace("status: production", "status: experimental")
    (tmp_path / "detections" / "deprecated" / "old_cmd.yml").write_text(old)
    for name, text in MACROS.items():
        (tmp_path / "macros" / name).write_text(text)
    return tmp_path


def test_detect_needs_detections_and_macros(repo: Path, tmp_path_factory: pytest.TempPathFactory
                                            ) -> None:
    assert SplunkSource.detect(repo)
    empty = tmp_path_factory.mktemp("empty")
    (empty / "detections").mkdir()
    assert not SplunkSource.detect(empty)


def test_files_are_sorted_detections(repo: Path) -> None:
    source = SplunkSource(repo)
    assert [source.relative(p) for p in source.files()] == [
        "detections/deprecated/old_cmd.yml", "detections/endpoint/suspicious_cmd.yml"]


def test_load_maps_the_detection_fields(repo: Path) -> None:
    source = SplunkSource(repo)
    [rule] = source.load(repo / "detections" / "endpoint" / "suspicious_cmd.yml")
    assert (rule.vendor, rule.path, rule.id, rule.title) == (
        "splunk", "detections/endpoint/suspicious_cmd.yml",
        "11111111-2222-3333-4444-555555555555", "Suspicious Cmd")
    assert (rule.kind, rule.rule_type, rule.language, rule.status) == (
        "rule", "TTP", "spl", "production")
    assert (rule.date, rule.author, rule.deprecated) == ("2024-10-17", "Someone, Splunk", False)
    assert rule.techniques == ["T1059.003", "T1059"] and rule.tactics == []
    assert rule.tags == ["analytic_story:Story One", "asset_type:Endpoint",
                         "security_domain:endpoint"]
    assert (rule.risk_score, rule.level) == (72.0, "high")
    assert rule.references == ["https://example.org/a"]
    sources = ["Sysmon EventID 1", "Sysmon EventID 11", "NTLM Operational 8004",
               "NTLM Operational 8005"]
    assert rule.logsource == {"data_source": sources}
    assert rule.extra["data_source"] == sources
    assert rule.extra["analytic_story"] == ["Story One"]
    assert (rule.extra["version"], rule.extra["confidence"], rule.extra["impact"]) == (4, 80, 90)
    assert rule.extra["macros"] == ["security_content_summariesonly", "process_cmd",
                                    "drop_dm_object_name", "suspicious_cmd_filter"]
    assert rule.extra["datamodel"] == ["Endpoint.Processes"]
    assert rule.extra["rba"] == {
        "message": "cmd on $dest$",
        "risk_objects": [{"field": "dest", "type": "Endpoint", "score": 72}],
        "threat_objects": [{"field": "process_name", "type": "Process"}]}
    assert rule.extra["how_to_implement"] == "Ingest EDR data."
    assert rule.extra["known_false_positives"] == "Admins."
    assert rule.source_text == DETECTION


def test_load_parses_the_search_with_repository_macros(repo: Path) -> None:
    [rule] = SplunkSource(repo).load(repo / "detections" / "endpoint" / "suspicious_cmd.yml")
    preds = flatten(rule.tree)
    assert [(p.field, p.op, p.value, p.macro, p.negated) for p in preds] == [
        ("datamodel", "eq", "Endpoint.Processes", None, False),
        ("Processes.process_name", "eq", "cmd.exe", "process_cmd", False),
        ("Processes.process", "contains", "\\Temp\\", None, False),
        ("Processes.process_name", "eq", "x.exe", None, True)]
    assert rule.errors == []


def test_deprecated_folder_marks_rule_deprecated(repo: Path) -> None:
    [rule] = SplunkSource(repo).load(repo / "detections" / "deprecated" / "old_cmd.yml")
    assert rule.deprecated and rule.status == "experimental"


def test_parse_error_is_recorded_and_rule_kept(repo: Path) -> None:
    path = repo / "detections" / "endpoint" / "broken.yml"
    path.write_text(DETECTION.replace("where process_name", "where (process_name"))
    [rule] = SplunkSource(repo).load(path)
    assert [(e.message, e.line) for e in rule.errors] == [
        ("where: expected ')' in expression, found the end", 12)]
    assert rule.parse_status == "partial"
    assert len(flatten(rule.tree)) == 3


def test_rba_block_gives_the_risk_score(repo: Path) -> None:
    path = repo / "detections" / "endpoint" / "rba.yml"
    path.write_text(DETECTION + "rba:\n  message: m\n  risk_objects:\n  - field: dest\n"
                    "    type: system\n    score: 90\n")
    [rule] = SplunkSource(repo).load(path)
    assert (rule.risk_score, rule.level) == (90.0, "critical")
    assert rule.extra["rba"]["message"] == "m"


def test_unreadable_yaml_raises_with_line(repo: Path) -> None:
    path = repo / "detections" / "endpoint" / "bad.yml"
    path.write_text("name: x\nsearch: [unclosed\n")
    with pytest.raises(RuledexError, match="not valid YAML") as info:
        SplunkSource(repo).load(path)
    assert info.value.path == "detections/endpoint/bad.yml" and info.value.line == 3
    path.write_text("- a list\n")
    with pytest.raises(RuledexError, match="does not hold a YAML mapping"):
        SplunkSource(repo).load(path)


@pytest.mark.parametrize("score, level", [
    (None, ""), (0, "informational"), (20, "informational"), (21, "low"), (40, "low"),
    (56, "medium"), (64, "high"), (80, "high"), (81, "critical"), (100, "critical"),
])
def test_level_bands(score: float | None, level: str) -> None:
    assert level_for(score) == level


def test_split_data_sources() -> None:
    assert split_data_sources(["A AND B", "B", "Log 1,2, 3", "Sysmon EventID 1"]) == \
        ["A", "B", "Log 1", "Log 2", "Log 3", "Sysmon EventID 1"]


@pytest.mark.corpus
def test_corpus_every_detection_parses() -> None:
    if not (SPLUNK / "detections").is_dir():
        pytest.skip("no Splunk corpus at ../shared/corpus/splunk")
    source = SplunkSource(SPLUNK)
    files = source.files()
    rules = [rule for path in files for rule in source.load(path)]
    assert len(rules) == len(files)

    errors = [f"{rule.path}: {[str(e) for e in rule.errors]}" for rule in rules if rule.errors]
    assert not errors, f"{len(errors)} detections with parse errors:\n" + "\n".join(errors)

    active = [rule for rule in rules if not rule.deprecated]
    short = [rule.path for rule in active if not flatten(rule.tree)]
    assert len(short) <= 0.01 * len(active), \
        f"{len(short)} of {len(active)} detections without a predicate:\n" + "\n".join(short)

    opaque = collections.Counter(node.label for rule in rules for node in iter_nodes(rule.tree)
                                 if node.kind == "opaque")
    assert set(opaque) <= {"subsearch", "time function", "field comparison", "arithmetic",
                           "function", "expression", "map"}, opaque
