"""Elastic hunting queries (several per file, each parsed) and which files a checkout holds."""

from __future__ import annotations

from pathlib import Path

from elastic_rules import KQL, METADATA, RULE_HEAD, triples, write

from ruledex.sources.elastic import ElasticSource

# --- hunting -------------------------------------------------------------------------------

HUNT = """[hunt]
author = "Elastic"
description = "Rare things."
integration = ["endpoint"]
uuid = "aaaaaaaa-0000-0000-0000-000000000000"
name = "Rare Network Connections"
language = ["ES|QL", "SQL"]
license = "Elastic License v2"
notes = ["Look at agents."]
mitre = ["T1071.001", "AML.T0051"]
query = [
'''sql
from logs-endpoint.events.network-*
| where process.name == "curl"
''',
'''
SELECT * FROM processes WHERE name = 'curl'
''',
'''
process where process.name : "nc"
'''
]
"""


def test_hunting_queries_are_alternatives(tmp_path: Path) -> None:
    path = write(tmp_path, HUNT, "hunting/linux/queries/h.toml")
    (rule,) = ElasticSource(tmp_path).load(path)
    assert (rule.kind, rule.id, rule.rule_type) == \
        ("hunting", "aaaaaaaa-0000-0000-0000-000000000000", "hunting")
    assert rule.techniques == ["T1071.001"]
    assert rule.extra["other_techniques"] == ["AML.T0051"]
    assert rule.language == "esql,sql,eql"
    assert not rule.errors
    assert rule.tree is not None and rule.tree.kind == "or"
    assert [c.label for c in rule.tree.children] == ["query 1", "query 2", "query 3"]
    assert rule.tree.children[1].children[0].kind == "opaque"
    assert triples(rule) == [("process.name", "eq", "curl"), ("event.category", "eq", "process"),
                             ("process.name", "eq", "nc")]
    assert rule.logsource["index"] == ["logs-endpoint.events.network-*"]
    assert rule.logsource["event_categories"] == ["process"]
    assert [q["line"] for q in rule.extra["queries"]] == [13, 17, 20]


def test_hunting_query_error_points_into_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, HUNT.replace('process where process.name : "nc"',
                                        "process where =="), "hunting/h.toml")
    (rule,) = ElasticSource(tmp_path).load(path)
    assert rule.parse_status == "partial"
    assert [(e.line, e.message.split(":")[0]) for e in rule.errors] == [(20, "query 3 (EQL)")]


def test_files_and_detect(tmp_path: Path) -> None:
    assert not ElasticSource.detect(tmp_path)
    write(tmp_path, METADATA + RULE_HEAD + KQL.format(query="a : b"))
    write(tmp_path, METADATA + RULE_HEAD + KQL.format(query="a : b"),
          "rules_building_block/b.toml")
    write(tmp_path, HUNT, "hunting/linux/queries/h.toml")
    write(tmp_path, "[hunt.index]\nlinux = []\n", "hunting/index.toml")
    write(tmp_path, "[config]\nx = 1\n", "rules/config.toml")
    assert ElasticSource.detect(tmp_path)
    source = ElasticSource(tmp_path)
    found = {p.relative_to(tmp_path).as_posix(): [r.kind for r in source.load(p)]
             for p in source.files()}
    assert found == {"hunting/index.toml": [], "hunting/linux/queries/h.toml": ["hunting"],
                     "rules/config.toml": [], "rules/windows/r.toml": ["rule"],
                     "rules_building_block/b.toml": ["rule"]}
