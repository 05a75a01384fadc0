"""Elastic detection rules and hunts into rules: every rule type, on small inline TOML files."""

from __future__ import annotations

from pathlib import Path

import pytest
from elastic_rules import KQL, METADATA, RULE_HEAD, load, only, triples, write

from ruledex.model import RuledexError, iter_nodes
from ruledex.sources.elastic import ElasticSource
from ruledex.sources.elastic_filters import filters_tree
from ruledex.sources.elastic_toml import locate

# --- metadata ------------------------------------------------------------------------------

def test_metadata_fields(tmp_path: Path) -> None:
    rule = load(tmp_path, KQL.format(query='process.name : "curl"') + """
references = ["https://example.com/a"]
setup = "Install the integration."

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1059"
name = "Command and Scripting Interpreter"
[[rule.threat.technique.subtechnique]]
id = "T1059.004"
name = "Unix Shell"
[rule.threat.tactic]
id = "TA0002"
name = "Execution"

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0011"
name = "Command and Control"
""")
    assert (rule.vendor, rule.id, rule.title) == \
        ("elastic", "11111111-2222-3333-4444-555555555555", "Curl Activity")
    assert rule.path == "rules/windows/r.toml"
    assert (rule.author, rule.level, rule.risk_score) == ("Elastic, Someone", "medium", 47.0)
    assert (rule.status, rule.date, rule.modified) == ("production", "2020-02-18", "2024-05-21")
    assert rule.references == ["https://example.com/a"]
    assert rule.techniques == ["T1059", "T1059.004"]
    assert rule.tactics == ["execution", "command-and-control"]
    assert "Data Source: Sysmon" in rule.tags
    assert (rule.kind, rule.rule_type, rule.language) == ("rule", "query", "kuery")
    assert rule.query.strip() == 'process.name : "curl"'
    assert rule.source_text.startswith("[metadata]")
    assert not rule.deprecated and not rule.building_block and not rule.errors
    assert rule.logsource == {
        "index": ["logs-endpoint.events.process-*"], "language": "kuery",
        "rule_type": "query", "data_source": ["Elastic Defend", "Sysmon"],
        "event_categories": [], "event_category_override": None, "integration": ["endpoint"],
    }
    assert rule.extra["setup"] == "Install the integration."
    assert rule.extra["index"] == ["logs-endpoint.events.process-*"]


def test_setup_is_cut_to_2000_characters(tmp_path: Path) -> None:
    rule = load(tmp_path, KQL.format(query="a : b") + f'setup = "{"x" * 3000}"\n')
    assert len(rule.extra["setup"]) == 2000


@pytest.mark.parametrize("name, maturity, deprecated", [
    ("rules/_deprecated/r.toml", "production", True),
    ("rules/windows/r.toml", "deprecated", True),
    ("rules/windows/r.toml", "production", False),
])
def test_deprecated_by_folder_or_maturity(tmp_path: Path, name: str, maturity: str,
                                          deprecated: bool) -> None:
    rule = load(tmp_path, KQL.format(query="a : b"), name=name,
                metadata=METADATA.replace('"production"', f'"{maturity}"'))
    assert rule.deprecated is deprecated
    assert rule.status == maturity


def test_building_block(tmp_path: Path) -> None:
    rule = load(tmp_path, 'building_block_type = "default"\n' + KQL.format(query="a : b"),
                name="rules_building_block/r.toml")
    assert rule.building_block and rule.kind == "building_block"
    assert rule.extra["building_block_type"] == "default"


# --- query languages -----------------------------------------------------------------------

@pytest.mark.parametrize("language, query, op, value", [
    ("kuery", 'process.name : "curl"', "eq", "curl"),
    ("kuery", "process.name : *curl*", "contains", "curl"),
    ("kuery", "process.name : curl*", "starts_with", "curl"),
    # Kibana matches a quoted KQL value literally, wildcards included.
    ("kuery", 'process.name : "*curl*"', "eq", "*curl*"),
    ("eql", 'any where process.name : "*curl*"', "contains", "curl"),
    ("eql", 'any where process.name : "curl"', "eq", "curl"),
])
def test_value_operators(tmp_path: Path, language: str, query: str, op: str,
                         value: str) -> None:
    rule = load(tmp_path, f'type = "{"eql" if language == "eql" else "query"}"\n'
                          f'language = "{language}"\nquery = \'\'\'\n{query}\n\'\'\'\n')
    pred = only(rule)
    assert (pred.field, pred.op, pred.value) == ("process.name", op, value)
    assert pred.stage == "event"


def test_kql_escapes_are_undone(tmp_path: Path) -> None:
    pred = only(load(tmp_path, KQL.format(query='process.executable : "C:\\\\Windows\\\\x"')))
    assert (pred.op, pred.value, pred.case_sensitive) == ("eq", "C:\\Windows\\x", True)


def test_lucene_query(tmp_path: Path) -> None:
    rule = load(tmp_path, 'type = "query"\nlanguage = "lucene"\n'
                          'query = "process.name:curl AND NOT user.name:root"\n')
    assert rule.language == "lucene"
    assert [(p.field, p.op, p.value, p.negated) for p in rule.predicates] == [
        ("process.name", "eq", "curl", False), ("user.name", "eq", "root", True)]


def test_eql_sequence(tmp_path: Path) -> None:
    rule = load(tmp_path, """type = "eql"
language = "eql"
query = '''
sequence by host.id with maxspan=1m
  [process where process.name == "curl"]
  [network where destination.port == 4444]
'''
""")
    assert rule.logsource["event_categories"] == ["process", "network"]
    assert rule.extra["eql"]["kind"] == "sequence"
    assert rule.extra["eql"]["join_keys"] == ["host.id"]
    assert rule.extra["eql"]["maxspan"] == "1m"
    assert rule.tree is not None and rule.tree.kind == "sequence"
    assert ("event.category", "eq", "process") in triples(rule)
    assert [p.step for p in rule.predicates] == [0, 0, 1, 1]


def test_event_category_override(tmp_path: Path) -> None:
    rule = load(tmp_path, """type = "eql"
language = "eql"
event_category_override = "event.type"
query = '''
info where event.provider == "rds.amazonaws.com"
'''
""")
    selector = rule.predicates[0]
    assert (selector.field, selector.op, selector.value, selector.stage) == \
        ("event.type", "eq", "info", "selector")
    assert rule.logsource["event_category_override"] == "event.type"
    assert rule.logsource["event_categories"] == ["info"]


def test_esql_rule(tmp_path: Path) -> None:
    rule = load(tmp_path, """type = "esql"
language = "esql"
query = '''
from logs-aws.cloudtrail-* metadata _id
| where event.action == "GetSecretValue"
| stats c = count() by user.name
| where c > 20
'''
""")
    assert rule.extra["esql"]["commands"] == ["from", "where", "stats", "where"]
    assert rule.extra["esql"]["unparsed"] is None
    assert [(p.field, p.op, p.value, p.stage) for p in rule.predicates] == [
        ("event.action", "eq", "GetSecretValue", "event"), ("c", "gt", "20", "aggregate")]


def test_esql_indices_fill_the_logsource_when_no_index(tmp_path: Path) -> None:
    path = write(tmp_path, METADATA + RULE_HEAD.replace('index = ["logs-endpoint'
                                                        '.events.process-*"]\n', "") +
                 'type = "esql"\nlanguage = "esql"\nquery = "from logs-okta* | where a == 1"\n')
    rule = ElasticSource(tmp_path).load(path)[0]
    assert rule.logsource["index"] == ["logs-okta*"]
    assert rule.extra["esql"]["indices"] == ["logs-okta*"]


def test_esql_where_it_cannot_read_is_an_error_on_a_kept_rule(tmp_path: Path) -> None:
    rule = load(tmp_path, 'type = "esql"\nlanguage = "esql"\n'
                          'query = \'\'\'\nfrom logs-*\n| where a = "x"\n\'\'\'\n')
    assert rule.parse_status == "partial"
    assert "WHERE kept as text, syntax error" in rule.errors[0].message


# --- rule types ----------------------------------------------------------------------------

def test_threshold(tmp_path: Path) -> None:
    rule = load(tmp_path, KQL.format(query='event.action : "logon-failed"').replace(
        '"query"', '"threshold"') + """
[rule.threshold]
field = ["source.ip", "user.name"]
value = 25
[[rule.threshold.cardinality]]
field = "user.name"
value = 5
""")
    assert rule.rule_type == "threshold"
    count, distinct = rule.predicates[1:]
    assert (count.field, count.op, count.value, count.stage) == ("count", "gte", "25", "aggregate")
    assert (distinct.field, distinct.op, distinct.value, distinct.modifiers) == \
        ("user.name", "gte", "5", ("cardinality",))
    assert rule.tree is not None
    labels = [n.label for n in iter_nodes(rule.tree) if n.label]
    assert labels == ["threshold by source.ip, user.name"]
    assert rule.extra["threshold"] == {"field": ["source.ip", "user.name"], "value": 25,
                                       "cardinality": [{"field": "user.name", "value": 5}]}


def test_threshold_on_match_all_query_keeps_the_count(tmp_path: Path) -> None:
    rule = load(tmp_path, 'type = "threshold"\nquery = "*"\n[rule.threshold]\nfield = []\n'
                          'value = 100\n')
    assert triples(rule) == [("count", "gte", "100")]
    assert rule.tree is not None and rule.tree.label == "threshold over all events"


def test_threshold_details_survive_a_broken_query(tmp_path: Path) -> None:
    rule = load(tmp_path, 'type = "threshold"\nquery = "a : (b"\n[rule.threshold]\n'
                          'field = ["host.id"]\nvalue = 3\n')
    assert rule.parse_status == "failed"
    assert rule.extra["threshold"]["value"] == 3


def test_new_terms(tmp_path: Path) -> None:
    rule = load(tmp_path, KQL.format(query='event.action : "x"').replace(
        '"query"', '"new_terms"') + """
[rule.new_terms]
field = "new_terms_fields"
value = ["host.id", "process.command_line"]
[[rule.new_terms.history_window_start]]
field = "history_window_start"
value = "now-14d"
""")
    assert triples(rule) == [("event.action", "eq", "x")]
    assert rule.extra["new_terms"] == {"fields": ["host.id", "process.command_line"],
                                       "history_window_start": "now-14d"}


def test_threat_match_keeps_the_indicator_side_in_extra(tmp_path: Path) -> None:
    rule = load(tmp_path, """type = "threat_match"
language = "kuery"
query = "source.ip:* or destination.ip:*"
threat_index = ["filebeat-*"]
threat_indicator_path = "threat.indicator"
threat_language = "kuery"
threat_query = '@timestamp >= "now-30d" and threat.indicator.ip:*'

[[rule.threat_filters]]
[rule.threat_filters.meta]
negate = false
[rule.threat_filters.query.match_phrase]
"event.category" = "threat"

[[rule.threat_mapping]]
[[rule.threat_mapping.entries]]
field = "source.ip"
type = "mapping"
value = "threat.indicator.ip"
""")
    assert triples(rule) == [("source.ip", "exists", None), ("destination.ip", "exists", None)]
    threat = rule.extra["threat_match"]
    assert threat["index"] == ["filebeat-*"]
    assert threat["mapping"][0]["entries"][0]["value"] == "threat.indicator.ip"
    assert [(p["field"], p["op"], p["value"]) for p in threat["predicates"]] == [
        ("@timestamp", "gte", "now-30d"), ("threat.indicator.ip", "exists", None),
        ("event.category", "eq", "threat")]


def test_machine_learning_has_no_tree_and_no_error(tmp_path: Path) -> None:
    rule = load(tmp_path, 'type = "machine_learning"\nanomaly_threshold = 75\n'
                          'machine_learning_job_id = "rare_process_by_host"\n')
    assert rule.tree is None and not rule.errors and rule.parse_status == "parsed"
    assert rule.language == ""
    assert rule.extra["machine_learning"] == {"job_ids": ["rare_process_by_host"],
                                              "anomaly_threshold": 75}


def test_rule_without_query_is_kept_with_an_error(tmp_path: Path) -> None:
    rule = load(tmp_path, 'type = "query"\n')
    assert rule.parse_status == "failed"
    assert rule.errors[0].message == "the rule has no query"


# --- filters -------------------------------------------------------------------------------

def test_negated_wildcard_filter_is_anded_with_the_query(tmp_path: Path) -> None:
    rule = load(tmp_path, KQL.format(query='event.category : "file"') + """
[[rule.filters]]
[rule.filters.meta]
negate = true
[rule.filters.query.wildcard."file.path"]
case_insensitive = true
value = "?:\\\\\\\\Program Files\\\\\\\\*"
""")
    assert rule.extra["filters"][0]["meta"] == {"negate": True}
    selector, excluded = rule.predicates
    assert (selector.field, selector.stage) == ("event.category", "selector")
    assert (excluded.field, excluded.op, excluded.value) == \
        ("file.path", "wildcard", "?:\\Program Files\\*")
    assert excluded.negated and not excluded.case_sensitive


def test_filter_shapes() -> None:
    tree, problems = filters_tree([
        {"meta": {"negate": True}, "exists": {"field": "user_agent.original"}},
        {"meta": {"disabled": True}, "query": {"match_phrase": {"a": "never"}}},
        {"query": {"match_phrase": {"event.dataset": "ti_*"}}},
        {"query": {"match": {"message": {"query": "hello"}}}},
        {"query": {"term": {"user.name": {"value": "Root", "case_insensitive": True}}}},
        {"query": {"terms": {"destination.port": [22, 3389]}}},
        {"query": {"prefix": {"file.name": "a*b"}}},
        {"query": {"regexp": {"host.name": "web[0-9]+"}}},
        {"query": {"range": {"event.risk_score": {"gte": 50, "lt": 90}}}},
        {"query": {"query_string": {"query": "process.name:cmd.exe"}}},
        {"query": {"bool": {"must": [{"term": {"x": 1}}], "should": [{"term": {"y": 2}}],
                            "must_not": [{"term": {"z": 3}}]}}},
        {"query": {"bool": {"should": [{"term": {"s": "a"}}, {"term": {"s": "b"}}]}}},
        {"query": {"geo_distance": {"distance": "10km"}}},
    ])
    assert problems == []
    assert triples(tree) == [
        ("user_agent.original", "exists", None), ("event.dataset", "eq", "ti_*"),
        ("message", "eq", "hello"), ("user.name", "eq", "Root"),
        ("destination.port", "eq", "22"), ("destination.port", "eq", "3389"),
        ("file.name", "starts_with", "a*b"), ("host.name", "regex_match", "web[0-9]+"),
        ("event.risk_score", "gte", "50"), ("event.risk_score", "lt", "90"),
        ("process.name", "eq", "cmd.exe"), ("x", "eq", "1"), ("z", "eq", "3"),
        ("s", "eq", "a"), ("s", "eq", "b"),
    ]
    assert tree.children[0].kind == "not"
    term = next(n.predicate for n in iter_nodes(tree)
                if n.predicate is not None and n.predicate.field == "user.name")
    assert term is not None and not term.case_sensitive
    assert [n.label for n in iter_nodes(tree) if n.kind == "opaque"] == \
        ["unsupported Elasticsearch query 'geo_distance'"]


def test_unreadable_filter_is_an_error_with_its_table_line(tmp_path: Path) -> None:
    rule = load(tmp_path, KQL.format(query="a : b") + """
[[rule.filters]]
[rule.filters.query.query_string]
query = "a:(b"
""")
    assert rule.parse_status == "partial"
    assert triples(rule) == [("a", "eq", "b")]
    error = rule.errors[0]
    assert error.message.startswith("filter 1: unexpected end of query")
    line = rule.source_text.splitlines().index("[[rule.filters]]") + 1
    assert error.line == line


# --- errors and lines ----------------------------------------------------------------------

def test_broken_query_keeps_the_rule_with_the_file_line(tmp_path: Path) -> None:
    rule = load(tmp_path, KQL.format(query='process.name : "curl" and\n'
                                           '  user.name : : "root"'))
    assert rule.tree is None and rule.parse_status == "failed"
    assert rule.title == "Curl Activity"
    key_line = rule.source_text.splitlines().index("query = '''") + 1
    (error,) = rule.errors
    assert error.line == key_line + 2
    assert error.message.startswith("query (KQL): unexpected ':' at line 2")


def test_broken_eql_on_a_single_line_string(tmp_path: Path) -> None:
    rule = load(tmp_path, 'type = "eql"\nlanguage = "eql"\nquery = "process where =="\n')
    key_line = rule.source_text.splitlines().index('query = "process where =="') + 1
    assert rule.errors[0].line == key_line
    assert rule.errors[0].message.startswith("query (EQL):")


def test_invalid_toml_raises_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[rule]\nname = "x"\nquery = "unterminated\n')
    with pytest.raises(RuledexError, match=r"invalid TOML: Illegal character") as info:
        ElasticSource(tmp_path).load(path)
    assert info.value.line == 3 and info.value.path == "rules/windows/r.toml"


def test_toml_without_rule_or_hunt_table_is_not_a_rule(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, '[other]\nname = "x"\n')
    assert ElasticSource(tmp_path).load(path) == []
    assert "no [rule] or [hunt] table" in caplog.text


def test_broken_toml_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[rule]\nname = "x"\nquery = \n')
    with pytest.raises(RuledexError) as info:
        ElasticSource(tmp_path).load(path)
    assert info.value.line == 3


def test_locate_lines() -> None:
    where = locate("[rule]\n# query = 'no'\nname = \"a = b\"\nquery = '''\nx\n'''\n"
                   "[[rule.filters]]\n[rule.filters.\"$state\"]\nstore = 'app'\n"
                   "[[rule.filters]]\n")
    assert where.keys["rule.name"] == 3
    assert where.keys["rule.query"] == 4 and where.string_line("rule.query") == 5
    assert where.tables["rule.filters"] == [7, 10]
    assert where.keys["rule.filters.$state.store"] == 9
