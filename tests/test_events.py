"""The event catalog: the data file, each vendor's mapping, pages, coverage and feasibility."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ruledex import attack
from ruledex.analysis.events import (
    event_page,
    events_coverage,
    feasibility,
    list_events,
    read_events_file,
)
from ruledex.catalog import schema
from ruledex.catalog.build import CatalogWriter, SourceSummary
from ruledex.catalog.store import connect
from ruledex.cli import main
from ruledex.events import map_rule
from ruledex.events.catalog import UnknownEvent, load
from ruledex.events.splunk import resolve_data_source
from ruledex.languages.eql import parse_eql
from ruledex.languages.esql import parse_esql
from ruledex.languages.kql import parse_kql
from ruledex.model import Node, Predicate, Rule, and_, leaf
from ruledex.sources.sigma import SigmaSource

CATALOG = load()


def events(rule: Rule) -> list[list[str]]:
    mapping = map_rule(rule, CATALOG)
    assert mapping.gap is None, mapping.gap
    return [sorted(group.events) for group in mapping.groups]


# -- the data file ---------------------------------------------------------------


def _referenced() -> list[str]:
    """Every event id the vendor tables name."""
    ids: list[str] = []
    sigma = CATALOG.sigma
    for table in ("categories", "services", "products"):
        for target in (sigma.get(table) or {}).values():
            ids.extend([target] if isinstance(target, str) else target)
    for entry in CATALOG.elastic["indices"]:
        ids.extend(entry.get("providers") or ())
        ids.extend(entry.get("events") or ())
    for table in ("data_sources", "integrations"):
        for providers in CATALOG.elastic[table].values():
            ids.extend(providers)
    for table in ("data_sources", "macros", "datamodels"):
        for target in CATALOG.splunk[table].values():
            ids.extend([target] if isinstance(target, str) else target)
    return ids


def test_every_table_entry_is_a_catalog_event() -> None:
    bad = []
    for event_id in _referenced():
        try:
            CATALOG.event(event_id)
        except UnknownEvent as err:
            bad.append(f"{event_id}: {err}")
    assert not bad, bad


def test_provider_tables_name_listed_codes_and_known_classes() -> None:
    bad = []
    for provider in CATALOG.providers.values():
        codes = [c for table in (provider.categories, provider.actions)
                 for cs in table.values() for c in cs] + list(provider.default)
        bad += [f"{provider.id}:{c}" for c in codes if not provider.accepts(c)]
        classes = [provider.class_id] + [spec[1] for spec in provider.events.values()]
        bad += [f"{provider.id} class {c}" for c in classes if c not in CATALOG.classes]
    assert not bad, bad


def test_classes_line_up_with_attack_data_components() -> None:
    components = attack.load().data_components
    unknown = [c.id for c in CATALOG.classes.values()
               if c.data_component and c.data_component not in components]
    assert not unknown
    # Where ATT&CK lists the exact event under a component, our class agrees.
    for event_id, component in [("sysmon:1", "DC0032"), ("win-security:4688", "DC0032"),
                                ("powershell:4104", "DC0029"), ("sysmon:3", "DC0082"),
                                ("sysmon:10", "DC0035"), ("sysmon:11", "DC0039"),
                                ("win-security:4624", "DC0067"), ("sysmon:7", "DC0016")]:
        event = CATALOG.event(event_id)
        assert CATALOG.classes[event.class_id].data_component == component, event_id
        assert event.attack is not None and event.code is not None
        listed = [re.findall(r"\d+", channel) for name, channel
                  in components[component].log_sources if name == event.attack[0]]
        assert any(event.code in codes for codes in listed), event_id


def test_names_resolve_to_event_ids() -> None:
    assert CATALOG.resolve("Sysmon 1") == "sysmon:1"
    assert CATALOG.resolve("Security 4688") == "win-security:4688"
    assert CATALOG.resolve("PowerShell 4104") == "powershell:4104"
    assert CATALOG.resolve("Windows Event Log Security 4624") == "win-security:4624"
    assert CATALOG.resolve("Sysmon EventID 11") == "sysmon:11"
    assert CATALOG.resolve("sysmon:3") == "sysmon:3"
    assert CATALOG.resolve("Sysmon") == "sysmon"
    assert CATALOG.resolve("AWS CloudTrail ConsoleLogin") == "aws-cloudtrail:ConsoleLogin"
    with pytest.raises(UnknownEvent, match="no event named 'Sysmon 4688'"):
        CATALOG.resolve("Sysmon 4688")
    with pytest.raises(UnknownEvent, match="Sysmon has no event .x1."):
        CATALOG.event("sysmon:x1")


def test_narrowable_providers_make_up_events() -> None:
    event = CATALOG.event("aws-cloudtrail:StopLogging")
    assert (event.name, event.parent, event.class_id) == (
        "AWS CloudTrail StopLogging", "aws-cloudtrail", "cloud_audit")
    assert CATALOG.event("auditd:EXECVE").id == "auditd:execve"
    assert CATALOG.event("win-security:4720").attack == ("WinEventLog:Security",
                                                         "EventCode=4720")


# -- Sigma -----------------------------------------------------------------------


def sigma_rule(tmp_path: Path, logsource: str, detection: str) -> Rule:
    path = tmp_path / "rules" / "r.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"title: t\nid: r\nlogsource:\n{logsource}detection:\n{detection}",
                    encoding="utf-8")
    return SigmaSource(tmp_path).load(path)[0]


SEL = "    sel:\n        Image|endswith: '\\\\x.exe'\n    condition: sel\n"


@pytest.mark.parametrize("logsource, expected", [
    ("    product: windows\n    category: process_creation\n",
     ["sysmon:1", "win-security:4688"]),
    ("    product: linux\n    category: process_creation\n",
     ["auditd:execve", "sysmon-linux:1"]),
    ("    product: macos\n    category: process_creation\n", ["macos-es:exec"]),
    ("    product: windows\n    category: registry_set\n", ["sysmon:13"]),
    ("    product: windows\n    category: file_event\n", ["sysmon:11"]),
    ("    product: windows\n    category: ps_script\n", ["powershell:4104"]),
    ("    product: windows\n    category: network_connection\n", ["sysmon:3"]),
    ("    category: proxy\n", ["web-proxy"]),
    ("    product: windows\n    service: security\n", ["win-security"]),
])
def test_sigma_log_sources(tmp_path: Path, logsource: str, expected: list[str]) -> None:
    assert events(sigma_rule(tmp_path, logsource, SEL)) == [expected]


def test_sigma_service_narrowed_by_event_id(tmp_path: Path) -> None:
    security = "    product: windows\n    service: security\n"
    one = "    sel:\n        EventID: 4624\n        LogonType: 10\n    condition: sel\n"
    assert events(sigma_rule(tmp_path, security, one)) == [["win-security:4624"]]
    either = ("    a:\n        EventID: 4624\n    b:\n        EventID:\n"
              "            - 4625\n            - 4771\n    condition: a or b\n")
    assert events(sigma_rule(tmp_path, security, either)) == [
        ["win-security:4624", "win-security:4625", "win-security:4771"]]
    # An event id that only some branches fix, or only excludes, leaves the channel.
    partial = ("    a:\n        EventID: 4624\n    b:\n        LogonType: 3\n"
               "    condition: a or b\n")
    assert events(sigma_rule(tmp_path, security, partial)) == [["win-security"]]
    negated = "    a:\n        EventID: 4624\n    condition: not a\n"
    assert events(sigma_rule(tmp_path, security, negated)) == [["win-security"]]


def test_sigma_cloudtrail_narrowed_by_event_name(tmp_path: Path) -> None:
    cloudtrail = "    product: aws\n    service: cloudtrail\n"
    named = ("    sel:\n        eventSource: cloudtrail.amazonaws.com\n"
             "        eventName:\n            - StopLogging\n            - DeleteTrail\n"
             "    condition: sel\n")
    assert events(sigma_rule(tmp_path, cloudtrail, named)) == [
        ["aws-cloudtrail:DeleteTrail", "aws-cloudtrail:StopLogging"]]
    prefix = "    sel:\n        eventName|startswith: Delete\n    condition: sel\n"
    assert events(sigma_rule(tmp_path, cloudtrail, prefix)) == [["aws-cloudtrail"]]


def test_sigma_unknown_log_source_is_a_gap(tmp_path: Path) -> None:
    rule = sigma_rule(tmp_path, "    product: windows\n    category: teleport\n", SEL)
    mapping = map_rule(rule, CATALOG)
    assert mapping.groups == []
    assert mapping.gap == "no event for Sigma log source windows/teleport/-"


# -- Elastic ---------------------------------------------------------------------


def elastic_rule(query: str, language: str, index: list[str] | None = None,
                 **logsource: Any) -> Rule:
    rule = Rule("elastic", "rules/x.toml", "x", "x", language=language, query=query,
                rule_type="eql" if language == "eql" else "query")
    if language == "eql":
        rule.tree = parse_eql(query).tree
    elif language == "esql":
        rule.tree = parse_esql(query).tree
        rule.rule_type = "esql"
    else:
        rule.tree = parse_kql(query)
    rule.logsource = {"language": language, **logsource}
    if index is not None:
        rule.logsource["index"] = index
    return rule


PROCESS = 'process where event.type == "start" and process.name == "x.exe"'


@pytest.mark.parametrize("index, expected", [
    (["logs-endpoint.events.process-*"], ["elastic-endpoint:process"]),
    (["logs-windows.sysmon_operational-*"], ["sysmon:1"]),
    (["logs-system.security*"], ["win-security:4688"]),
    (["endgame-*"], ["endgame:process"]),
    (["logs-crowdstrike.fdr*"], ["crowdstrike:ProcessRollup2"]),
    (["logs-m365_defender.event-*"], ["m365-defender:DeviceProcessEvents"]),
    (["auditbeat-*", "logs-auditd_manager.auditd-*"], ["auditd:execve"]),
    # winlogbeat-* may hold Sysmon or Security logs: both, but not PowerShell.
    (["winlogbeat-*"], ["sysmon:1", "win-security:4688"]),
    # Beside a specific index, winlogbeat-* is read as carrying the same logs.
    (["winlogbeat-*", "logs-windows.sysmon_operational-*"], ["sysmon:1"]),
])
def test_elastic_process_start_by_index(index: list[str], expected: list[str]) -> None:
    assert events(elastic_rule(PROCESS, "eql", index)) == [expected]


def test_elastic_event_code_and_action_pick_the_event() -> None:
    rule = elastic_rule("event.code:4624 and winlog.logon.type:RemoteInteractive", "kuery",
                        ["winlogbeat-*", "logs-windows.forwarded*"])
    assert events(rule) == [["win-security:4624"]]
    access = elastic_rule("event.category:process and event.code:10", "kuery",
                          ["winlogbeat-*", "logs-windows.sysmon_operational-*"])
    assert events(access) == [["sysmon:10"]]
    logon = elastic_rule('authentication where event.action == "logged-in"', "eql",
                         ["logs-system.security*"])
    assert events(logon) == [["win-security:4624"]]
    script = elastic_rule('event.category:process and powershell.file.script_block_text:x',
                          "kuery", ["winlogbeat-*", "logs-windows.powershell*"])
    assert events(script) == [["powershell:4104"]]


def test_elastic_cloud_action_narrows_the_provider() -> None:
    rule = elastic_rule('event.dataset:aws.cloudtrail and event.action:(StopLogging or '
                        'DeleteTrail)', "kuery", ["filebeat-*", "logs-aws.cloudtrail-*"])
    assert events(rule) == [["aws-cloudtrail:DeleteTrail", "aws-cloudtrail:StopLogging"]]
    # A generic index alone: the dataset in the query names the provider.
    okta = elastic_rule('event.dataset:okta.system and event.action:user.session.start',
                        "kuery", ["filebeat-*"])
    assert events(okta) == [["okta:user.session.start"]]


def test_elastic_sequence_needs_every_step() -> None:
    query = ('sequence by process.entity_id [process where event.type == "start"] '
             '[network where destination.port == 443]')
    rule = elastic_rule(query, "eql", ["logs-endpoint.events.process-*",
                                       "logs-endpoint.events.network-*"])
    mapping = map_rule(rule, CATALOG)
    assert [(g.events, g.step) for g in mapping.groups] == [
        (["elastic-endpoint:process"], 0), (["elastic-endpoint:network"], 1)]


def test_elastic_esql_reads_its_from_clause() -> None:
    rule = elastic_rule('FROM logs-windows.sysmon_operational-* | WHERE event.code == "22"',
                        "esql")
    assert events(rule) == [["sysmon:22"]]


def test_elastic_ml_job_uses_tags_and_job_words() -> None:
    rule = Rule("elastic", "rules/ml.toml", "ml", "ml", rule_type="machine_learning",
                logsource={"data_source": ["Elastic Defend", "Windows Security Event Logs"]},
                extra={"machine_learning": {"job_ids": ["v3_windows_anomalous_process_creation"]}})
    assert events(rule) == [["elastic-endpoint:process", "win-security:4688"]]


def test_elastic_unknown_index_is_a_gap() -> None:
    rule = elastic_rule("x:1", "kuery", ["logs-mystery.events-*"])
    assert map_rule(rule, CATALOG).gap == "no event provider for logs-mystery.events-*"


# -- Splunk ----------------------------------------------------------------------


def splunk_rule(data_source: list[str], tree: Node | None = None, text: str = "",
                **extra: Any) -> Rule:
    return Rule("splunk", "detections/x.yml", "x", "x", language="spl",
                logsource={"data_source": data_source}, tree=tree, source_text=text,
                extra=dict(extra))


@pytest.mark.parametrize("name, expected", [
    ("Sysmon EventID 1", ["sysmon:1"]),
    ("Windows Event Log Security 4688", ["win-security:4688"]),
    ("Windows Security 5136", ["win-security:5136"]),
    ("Powershell Script Block Logging 4104", ["powershell:4104"]),
    ("CrowdStrike ProcessRollup2", ["crowdstrike:ProcessRollup2"]),
    ("Sysmon for Linux EventID 1", ["sysmon-linux:1"]),
    ("AWS CloudTrail ConsoleLogin", ["aws-cloudtrail:ConsoleLogin"]),
    ("O365 Add member to role.", ["m365-audit:Add member to role"]),
    ("NTLM Operational 8004,8005,8006", ["win-ntlm:8004", "win-ntlm:8005", "win-ntlm:8006"]),
    # The upstream file puts Security event 4720 under the System log; ours decides.
    ("Windows Event Log System 4720", ["win-security:4720"]),
    ("Windows Event Log System 7045", ["win-system:7045"]),
])
def test_splunk_data_source_names(name: str, expected: list[str]) -> None:
    assert resolve_data_source(CATALOG, name) == expected


def test_splunk_data_sources_are_alternatives_unless_joined_by_and() -> None:
    rule = splunk_rule(["Sysmon EventID 1", "Windows Event Log Security 4688",
                        "CrowdStrike ProcessRollup2"])
    assert events(rule) == [["crowdstrike:ProcessRollup2", "sysmon:1", "win-security:4688"]]
    text = "name: x\ndata_source:\n- Sysmon EventID 1 AND Sysmon EventID 11\nsearch: x\n"
    joined = splunk_rule(["Sysmon EventID 1", "Sysmon EventID 11"], text=text)
    assert events(joined) == [["sysmon:1"], ["sysmon:11"]]
    # (1 and 13) or (1 and 12) needs Sysmon 1 and one of 12 or 13.
    text = ("data_source:\n- Sysmon EventID 1 AND Sysmon EventID 13\n"
            "- Sysmon EventID 1 AND Sysmon EventID 12\n")
    either = splunk_rule(["Sysmon EventID 1", "Sysmon EventID 13"], text=text)
    assert events(either) == [["sysmon:1"], ["sysmon:12", "sysmon:13"]]


def test_splunk_macro_and_data_model_without_data_source() -> None:
    code = leaf(Predicate("EventCode", "eq", "4769", stage="selector"))
    rule = splunk_rule([], and_(code, leaf(Predicate("ServiceName", "eq", "krbtgt"))),
                       macros=["wineventlog_security", "security_content_ctime"])
    assert events(rule) == [["win-security:4769"]]
    model = leaf(Predicate("datamodel", "eq", "Endpoint.Processes", stage="selector"))
    assert events(splunk_rule([], model)) == [
        ["crowdstrike:ProcessRollup2", "sysmon-linux:1", "sysmon:1", "win-security:4688"]]
    risk = leaf(Predicate("datamodel", "eq", "Risk.All_Risk", stage="selector"))
    assert map_rule(splunk_rule([], risk), CATALOG).gap == (
        "reads the Risk data model (findings of other detections)")
    assert map_rule(splunk_rule(["Teleporter Logs"]), CATALOG).gap == (
        "unknown data source Teleporter Logs")


# -- pages, coverage and feasibility on a hand-made catalog ---------------------


def _catalog_rules(tmp_path: Path) -> list[Rule]:
    security = "    product: windows\n    service: security\n"
    sigma = [
        sigma_rule(tmp_path / "a", "    product: windows\n    category: process_creation\n",
                   SEL),
        sigma_rule(tmp_path / "b", security,
                   "    sel:\n        EventID: 4624\n        LogonType: 10\n"
                   "    filter:\n        IpAddress: '-'\n    condition: sel and not filter\n"),
        sigma_rule(tmp_path / "c", "    product: windows\n    category: teleport\n", SEL),
    ]
    for rule, rule_id, technique in zip(sigma, ("a", "b", "c"), ("T1059", "T1021", "T1105"),
                                        strict=True):
        rule.id, rule.techniques = rule_id, [technique]
    sequence = elastic_rule(
        'sequence by host.id [process where event.type == "start" and process.name == "a"] '
        '[network where destination.port == 443]', "eql",
        ["logs-windows.sysmon_operational-*"])
    sequence.id, sequence.techniques = "seq", ["T1071"]
    kql = elastic_rule("event.category:process and process.name:b", "kuery",
                       ["logs-windows.sysmon_operational-*", "logs-system.security*"])
    kql.id, kql.techniques = "kql", ["T1059"]
    return [*sigma, sequence, kql]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    tmp = tmp_path_factory.mktemp("events")
    db = tmp / "c.sqlite"
    conn = sqlite3.connect(db)
    schema.create(conn)
    writer = CatalogWriter(conn, attack.load())
    for vendor in ("sigma", "elastic"):
        source_id = conn.execute("INSERT INTO sources (vendor, path) VALUES (?, ?)",
                                 (vendor, vendor)).lastrowid
        assert source_id is not None
        for rule in _catalog_rules(tmp):
            if rule.vendor == vendor:
                writer.add_rule(source_id, rule, SourceSummary(vendor, vendor))
    writer.finish()
    conn.commit()
    conn.close()
    return connect(db)


def test_event_page(catalog: sqlite3.Connection) -> None:
    page = event_page(catalog, "Security 4624")
    assert page["event"]["id"] == "win-security:4624"
    assert page["event"]["class"] == {"id": "logon", "name": "Logon session creation",
                                      "data_component": "DC0067"}
    assert [r["id"] for r in page["rules"]["sigma"]] == ["b"]
    assert page["techniques"] == [{"id": "T1021", "name": "Remote Services", "rules": 1}]
    fields = {f["label"]: (f["rules"], f["exclusion_rules"]) for f in page["fields"]}
    assert fields["LogonType"] == (1, 0) and fields["SourceIp"] == (0, 1)


def test_event_page_counts_sequence_fields_per_step(catalog: sqlite3.Connection) -> None:
    page = event_page(catalog, "sysmon:3")
    assert [r["id"] for r in page["rules"]["elastic"]] == ["seq"]
    labels = {f["field"] for f in page["fields"]}
    assert "destination.port" in labels and "process.name" not in labels
    sysmon1 = event_page(catalog, "sysmon:1")
    assert {r["id"] for r in sysmon1["rules"]["elastic"]} == {"seq", "kql"}
    assert sysmon1["rules"]["sigma"][0]["alternatives"] == ["win-security:4688"]
    with pytest.raises(UnknownEvent, match="no event named 'nothing here'"):
        event_page(catalog, "nothing here")
    unnamed = event_page(catalog, "aws-cloudtrail:StopLogging")
    assert unnamed["rules_total"] == 0 and unnamed["event"]["parent"] == "aws-cloudtrail"
    assert unnamed["event"]["class"]["name"] == "Cloud or SaaS audit event"


def test_list_events_and_coverage(catalog: sqlite3.Connection) -> None:
    listed = {e["id"]: e for e in list_events(catalog)}
    assert listed["sysmon:1"]["rules"] == {"sigma": 1, "elastic": 2}
    assert listed["sysmon:22"]["rules_total"] == 0
    coverage = events_coverage(catalog)["vendors"]
    assert coverage["sigma"]["rules"] == 3 and coverage["sigma"]["mapped"] == 2
    assert coverage["sigma"]["reasons"] == [
        {"reason": "no event for Sigma log source windows/teleport/-", "rules": 1}]
    assert coverage["elastic"]["percent"] == 100.0


def test_feasibility_alternatives_and_sequences(catalog: sqlite3.Connection) -> None:
    result = feasibility(catalog, ["sysmon:1", "win-security:4688", "powershell:4104"])
    sigma, elastic = result["vendors"]["sigma"], result["vendors"]["elastic"]
    assert (sigma["runnable"], sigma["not_runnable"], sigma["undecided"]) == (1, 1, 1)
    assert sigma["not_runnable_rules"][0]["missing"] == [["win-security:4624"]]
    # The sequence needs the network step too; the KQL rule runs on Sysmon 1 alone.
    assert [r["id"] for r in elastic["runnable_rules"]] == ["kql"]
    assert elastic["not_runnable_rules"][0]["missing"] == [["sysmon:3"]]
    assert elastic["missing"] == [{"event": "sysmon:3", "name": "Sysmon 3", "rules": 1}]
    assert result["techniques"] == ["T1059"]
    # Collecting the whole provider collects each of its events.
    wide = feasibility(catalog, ["sysmon", "win-security"])
    assert wide["vendors"]["elastic"]["runnable"] == 2
    assert wide["vendors"]["sigma"]["runnable"] == 2
    assert wide["techniques"] == ["T1021", "T1059", "T1071"]


def test_events_file(catalog: sqlite3.Connection, tmp_path: Path) -> None:
    good = tmp_path / "team.txt"
    good.write_text("# what we collect\nSysmon 1\nSecurity 4688\n\npowershell:4104\n"
                    "Windows Event Log Security 4688  # twice\n", encoding="utf-8")
    assert read_events_file(good, catalog) == ["sysmon:1", "win-security:4688",
                                               "powershell:4104"]
    bad = tmp_path / "bad.txt"
    bad.write_text("Sysmon 1\nTelemetry 42\n", encoding="utf-8")
    with pytest.raises(UnknownEvent, match="line 2: 'Telemetry 42'"):
        read_events_file(bad, catalog)


def test_cli_coverage_and_feasible(catalog: sqlite3.Connection, tmp_path: Path) -> None:
    db = catalog.execute("PRAGMA database_list").fetchone()[2]
    runner = CliRunner()
    result = runner.invoke(main, ["events", "coverage", "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["vendors"]["sigma"]["mapped"] == 2
    result = runner.invoke(main, ["events", "coverage", "--db", db])
    assert result.exit_code == 0 and "windows/teleport" in result.output
    team = tmp_path / "team.txt"
    team.write_text("Sysmon 1\nSecurity 4688\nPowerShell 4104\n", encoding="utf-8")
    result = runner.invoke(main, ["feasible", str(team), "--db", db, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["vendors"]["elastic"]["runnable"] == 1
    result = runner.invoke(main, ["feasible", str(team), "--db", db])
    assert result.exit_code == 0 and "techniques covered by runnable rules: 1" in result.output
    result = runner.invoke(main, ["events", "show", "sysmon:3", "--db", db])
    assert result.exit_code == 0 and "Network connection" in result.output
    team.write_text("Sysmon 1\nnot an event\n", encoding="utf-8")
    result = runner.invoke(main, ["feasible", str(team), "--db", db])
    assert result.exit_code == 1 and "line 2: 'not an event'" in result.output
