"""The vocabulary: raw field names to canonical fields, and values to one form per meaning."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ruledex import attack as attack_module
from ruledex.analysis.crossvendor import shared_indicators, shared_summary
from ruledex.catalog import schema
from ruledex.catalog.build import CatalogWriter, SourceSummary
from ruledex.catalog.store import connect
from ruledex.cli import main
from ruledex.model import Predicate, Rule, RuledexError, and_, leaf, not_
from ruledex.normalize import (
    KEYWORD_FIELD,
    NORMALIZED_OPERATORS,
    Normalized,
    Normalizer,
    field_label,
)
from ruledex.normalize.coverage import coverage
from ruledex.normalize.fields import Vocabulary, VocabularyError, snake_case

PROC = {"product": "windows", "category": "process_creation"}
FILE = {"product": "windows", "category": "file_event"}
REG = {"product": "windows", "category": "registry_set"}
NORM = Normalizer()


def norm(vendor: str, context: dict[str, Any], field: str | None, op: str, value: str | None,
         cased: bool = False, stage: str = "event",
         modifiers: tuple[str, ...] = ()) -> tuple[str, str, str]:
    pred = Predicate(field, op, value, case_sensitive=cased, stage=stage, modifiers=modifiers)
    got = NORM.predicate(vendor, context, pred)
    return got.field, got.op, got.value


def sigma(field: str, op: str, value: str, context: dict[str, Any] = PROC,
          **kw: Any) -> tuple[str, str, str]:
    return norm("sigma", context, field, op, value, **kw)


def elastic(field: str, op: str, value: str, cased: bool = False) -> tuple[str, str, str]:
    return norm("elastic", {}, field, op, value, cased=cased)


def splunk(field: str, op: str, value: str, context: dict[str, Any] | None = None,
           cased: bool = False) -> tuple[str, str, str]:
    return norm("splunk", context or {}, field, op, value, cased=cased)


# -- field names ------------------------------------------------------------------------

def test_image_is_the_new_process_and_the_acting_process() -> None:
    assert sigma("Image", "eq", "a")[0] == "process.executable"
    assert sigma("Image", "eq", "a", FILE)[0] == "process.executable"
    assert field_label("process.executable") == "Image"


def test_meaning_follows_the_log_source() -> None:
    load = {"product": "windows", "category": "image_load"}
    assert sigma("OriginalFileName", "eq", "x")[0] == "process.pe.original_file_name"
    assert sigma("OriginalFileName", "eq", "x", load)[0] == "dll.pe.original_file_name"
    sysmon7 = {"data_source": ["Sysmon EventID 7"]}
    assert splunk("OriginalFileName", "eq", "x", sysmon7)[0] == "dll.pe.original_file_name"
    assert sigma("query", "eq", "x", {"product": "zeek", "service": "dns"})[0] == \
        "dns.question.name"
    assert sigma("name", "eq", "/etc/x", {"product": "linux", "service": "auditd"})[0] == \
        "file.path"
    # The security log's target user is not user.name: its meaning depends on the event id.
    security = {"product": "windows", "service": "security"}
    assert sigma("TargetUserName", "eq", "x", security)[0] == "winlog.event_data.TargetUserName"
    assert sigma("User", "eq", "x")[0] == "user.name"


def test_splunk_process_is_the_command_line() -> None:
    assert splunk("Processes.process", "contains", "-enc") == \
        ("process.command_line", "contains", "-enc")
    assert splunk("process", "contains", "-enc")[0] == "process.command_line"
    assert splunk("Processes.parent_process", "contains", "x")[0] == \
        "process.parent.command_line"
    assert splunk("EventCode", "eq", "4688")[0] == "winlog.event_id"


def test_elastic_names_subfields_and_raw_windows_fields() -> None:
    assert elastic("process.name.caseless", "eq", "x", cased=False)[0] == "process.executable"
    assert elastic("winlog.event_data.TargetImage", "eq", "x")[0] == "Target.process.executable"
    assert NORM.resolve("elastic", {}, "winlog.event_data.Whatever").mapped
    assert NORM.resolve("elastic", {}, "aws.cloudtrail.user_identity.arn").mapped


def test_cloud_names_meet_elastic_integrations() -> None:
    aws = {"product": "aws", "service": "cloudtrail"}
    assert sigma("eventName", "eq", "CreateUser", aws) == elastic("event.action", "eq",
                                                                  "CreateUser")
    assert sigma("userIdentity.sessionContext.sessionIssuer.type", "eq", "Role", aws)[0] == \
        "aws.cloudtrail.user_identity.session_context.session_issuer.type"
    assert splunk("user.groups{}", "eq", "admin")[0] == "kubernetes.audit.user.groups"
    assert snake_case("debugContext.debugData") == "debug_context.debug_data"


def test_unmapped_fields_keep_their_raw_name() -> None:
    resolution = NORM.resolve("sigma", PROC, "SomeNewField")
    assert (resolution.field.id, resolution.mapped) == ("SomeNewField", False)
    assert sigma("SomeNewField", "eq", "Value") == ("SomeNewField", "eq", "value")
    assert field_label("SomeNewField") == "SomeNewField"


def test_labels() -> None:
    assert field_label(KEYWORD_FIELD) == "(any field)"
    assert field_label("process.args") == "CommandLine argument"
    assert field_label("winlog.event_data.GrantedAccess") == "GrantedAccess"
    assert field_label("process.command_line|base64offset") == "CommandLine|base64offset"
    assert "basename_eq" in NORMALIZED_OPERATORS


def test_keywords_and_derived_columns_keep_their_names() -> None:
    assert norm("sigma", PROC, None, "keyword", "Mimikatz") == ("", "keyword", "mimikatz")
    assert norm("splunk", {}, "process_name", "eq", "X", stage="derived") == \
        ("process_name", "eq", "x")


# -- process images ---------------------------------------------------------------------

def test_image_suffix_name_and_exact_path_meet() -> None:
    want = ("process.executable", "basename_eq", "powershell.exe")
    assert sigma("Image", "ends_with", "\\powershell.exe") == want
    assert elastic("process.name", "eq", "powershell.exe") == want
    assert splunk("Processes.process_name", "eq", "powershell.exe") == want
    assert sigma("Image", "eq", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\"
                 "powershell.exe") == want
    assert elastic("process.executable", "ends_with", "\\PowerShell.EXE") == want
    assert sigma("Image", "ends_with", "/python3", {"category": "process_creation"}) == \
        ("process.executable", "basename_eq", "python3")


def test_parent_and_target_images_meet_the_same_way() -> None:
    want = ("process.parent.executable", "basename_eq", "winword.exe")
    assert sigma("ParentImage", "ends_with", "\\WINWORD.EXE") == want
    assert elastic("process.parent.name", "eq", "winword.exe") == want
    assert splunk("Processes.parent_process_name", "eq", "winword.exe") == want
    access = {"product": "windows", "category": "process_access"}
    assert sigma("TargetImage", "ends_with", "\\lsass.exe", access) == \
        elastic("winlog.event_data.TargetImage", "ends_with", "\\lsass.exe")


def test_image_pairs_that_must_not_collapse() -> None:
    # A bare suffix also matches xreg.exe.
    assert sigma("Image", "ends_with", "reg.exe") == ("process.executable", "ends_with", "reg.exe")
    assert sigma("Image", "ends_with", "reg.exe") != sigma("Image", "ends_with", "\\reg.exe")
    # A suffix of the name is the same suffix of the path.
    assert elastic("process.name", "ends_with", "reg.exe") == sigma("Image", "ends_with",
                                                                    "reg.exe")
    # A path suffix with a folder keeps the folder.
    assert sigma("Image", "ends_with", "\\System32\\reg.exe") == \
        ("process.executable", "ends_with", "\\system32\\reg.exe")
    assert sigma("Image", "contains", "/python3") == ("process.executable", "contains",
                                                      "/python3")
    assert elastic("process.name", "starts_with", "python") == ("process.name", "starts_with",
                                                                "python")
    # The PE's original name is a field of its own.
    assert sigma("OriginalFileName", "eq", "powershell.exe") == \
        ("process.pe.original_file_name", "eq", "powershell.exe")


# -- command lines ----------------------------------------------------------------------

def test_arguments_stay_apart_from_command_line_substrings() -> None:
    assert elastic("process.args", "eq", "-enc") == ("process.args", "eq", "-enc")
    assert sigma("CommandLine", "contains", "-enc") == ("process.command_line", "contains",
                                                        "-enc")
    assert elastic("process.command_line", "contains", "-enc", cased=False) == \
        sigma("CommandLine", "contains", "-enc")
    assert field_label("process.parent.args") == "ParentCommandLine argument"


def test_encoded_values_are_not_plain_ones() -> None:
    encoded = sigma("CommandLine", "contains", "Ping", modifiers=("base64offset", "contains"))
    assert encoded == ("process.command_line|base64offset", "contains", "Ping")
    assert encoded != sigma("CommandLine", "contains", "Ping")


# -- files ------------------------------------------------------------------------------

def test_file_path_name_and_extension_projections_meet() -> None:
    name = ("file.path", "basename_eq", "evil.dll")
    assert elastic("file.path", "ends_with", "\\evil.dll") == name
    assert elastic("file.name", "eq", "evil.dll") == name
    assert sigma("TargetFilename", "ends_with", "\\evil.dll", FILE) == name
    assert splunk("Filesystem.file_name", "eq", "evil.dll") == name
    extension = ("file.extension", "eq", "dll")
    assert elastic("file.extension", "eq", "dll") == extension
    assert sigma("TargetFilename", "ends_with", ".dll", FILE) == extension
    assert splunk("file_name", "ends_with", ".DLL") == extension
    assert splunk("file_extension", "eq", ".dll") == extension


def test_file_pairs_that_must_not_collapse() -> None:
    assert sigma("TargetFilename", "ends_with", "x.dll", FILE) == ("file.path", "ends_with",
                                                                   "x.dll")
    assert sigma("TargetFilename", "ends_with", ".tar.gz", FILE) == ("file.path", "ends_with",
                                                                     ".tar.gz")
    assert sigma("TargetFilename", "contains", ".dll", FILE) == ("file.path", "contains",
                                                                 ".dll")


# -- paths ------------------------------------------------------------------------------

@pytest.mark.parametrize(("op", "value", "want"), [
    ("starts_with", "C:\\Users\\Public\\", ("starts_with", "%drive%\\users\\public\\")),
    ("starts_with", "D:\\Users\\Public\\", ("starts_with", "%drive%\\users\\public\\")),
    ("wildcard", "?:\\Users\\Public\\*", ("starts_with", "%drive%\\users\\public\\")),
    ("contains", ":\\Users\\Public\\", ("starts_with", "%drive%\\users\\public\\")),
    ("starts_with", "\\Device\\HarddiskVolume3\\Users\\Public\\",
     ("starts_with", "%drive%\\users\\public\\")),
    ("wildcard", "C:\\Users\\*\\AppData\\*.exe",
     ("wildcard", "%drive%\\users\\*\\appdata\\*.exe")),
])
def test_drives_fold_to_one_token(op: str, value: str, want: tuple[str, str]) -> None:
    assert sigma("Image", op, value)[1:] == want


def test_slashes_and_literal_wildcards_are_left_alone() -> None:
    assert sigma("Image", "starts_with", "/usr/bin/") == ("process.executable", "starts_with",
                                                          "/usr/bin/")
    assert sigma("Image", "starts_with", "C:/Temp/") == ("process.executable", "starts_with",
                                                         "c:/temp/")
    # A literal * cannot be told from a wildcard once rewritten, so such values stay.
    assert sigma("Image", "starts_with", "C:\\a*b") == ("process.executable", "starts_with",
                                                        "c:\\a*b")
    assert sigma("CurrentDirectory", "starts_with", "C:\\Temp\\") == \
        ("process.working_directory", "starts_with", "%drive%\\temp\\")


# -- registry ---------------------------------------------------------------------------

RUN = "\\software\\microsoft\\windows\\currentversion\\run\\"


@pytest.mark.parametrize(("vendor", "op", "value"), [
    ("sigma", "contains", "\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\"),
    ("sigma", "starts_with", "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\"),
    ("sigma", "starts_with", "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\"),
    ("elastic", "starts_with", "HKEY_LOCAL_MACHINE\\Software\\Microsoft\\Windows\\"
                               "CurrentVersion\\Run\\"),
    ("elastic", "wildcard", "HKEY_USERS\\*\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\*"),
    ("elastic", "wildcard", "H*\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\*"),
    ("elastic", "starts_with", "\\REGISTRY\\MACHINE\\Software\\Microsoft\\Windows\\"
                               "CurrentVersion\\Run\\"),
    ("elastic", "starts_with", "MACHINE\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\"),
    ("elastic", "starts_with", "\\REGISTRY\\USER\\S-1-5-21-1-2-3-1001\\Software\\Microsoft\\"
                               "Windows\\CurrentVersion\\Run\\"),
    ("splunk", "contains", "\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\"),
])
def test_registry_keys_are_hive_agnostic(vendor: str, op: str, value: str) -> None:
    field = {"sigma": "TargetObject", "elastic": "registry.path",
             "splunk": "Registry.registry_path"}[vendor]
    got = norm(vendor, REG if vendor == "sigma" else {}, field, op, value)
    assert got == ("registry.path", "contains", RUN)


def test_case_sensitive_registry_keys_fold_their_hive_but_keep_their_case() -> None:
    got = elastic("registry.path", "starts_with",
                  "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\", cased=True)
    assert got == ("registry.path", "contains",
                   "\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Run\\")
    assert elastic("registry.path", "eq", "HKLM\\SYSTEM\\CurrentControlSet\\Services\\X",
                   cased=True) == ("registry.path", "ends_with", "\\%controlset%\\Services\\X")


def test_registry_control_sets_classes_and_anchors() -> None:
    services = ("registry.path", "ends_with", "\\%controlset%\\services\\x\\start")
    assert sigma("TargetObject", "eq", "HKLM\\System\\CurrentControlSet\\Services\\X\\Start",
                 REG) == services
    assert elastic("registry.path", "eq", "HKLM\\SYSTEM\\ControlSet001\\Services\\X\\Start") \
        == services
    assert sigma("TargetObject", "wildcard", "*\\ControlSet*\\Services\\X\\Start", REG) == \
        services
    classes = ("registry.path", "contains", "\\software\\classes\\clsid\\")
    assert sigma("TargetObject", "starts_with", "HKCR\\CLSID\\", REG) == classes
    assert elastic("registry.path", "wildcard", "HKEY_USERS\\*_Classes\\CLSID\\*") == classes
    # An anchored equality and an unanchored substring are different tests.
    assert sigma("TargetObject", "eq", "HKLM\\Software\\X", REG) != \
        sigma("TargetObject", "contains", "\\Software\\X", REG)
    # A hive with nothing below it stays as written.
    assert sigma("TargetObject", "starts_with", "HKLM\\", REG) == ("registry.path",
                                                                   "starts_with", "hklm\\")


@pytest.mark.parametrize(("vendor", "value"), [
    ("sigma", "DWORD (0x00000001)"), ("sigma", "DWORD (00000001)"),
    ("elastic", "0x00000001"), ("elastic", "1"), ("splunk", "0x00000001"),
])
def test_dword_data_has_one_form(vendor: str, value: str) -> None:
    field = {"sigma": "Details", "elastic": "registry.data.strings",
             "splunk": "Registry.registry_value_data"}[vendor]
    assert norm(vendor, REG if vendor == "sigma" else {}, field, "eq", value) == \
        ("registry.data.strings", "eq", "1")


def test_registry_data_that_must_not_collapse() -> None:
    assert sigma("Details", "eq", "DWORD (0x00000010)", REG)[2] == "16"
    assert sigma("Details", "eq", "QWORD (0x00000001-0x00000000)", REG)[2] == str(1 << 32)
    assert sigma("Details", "contains", "DWORD (0x00000001)", REG) == \
        ("registry.data.strings", "eq", "1")
    assert sigma("Details", "starts_with", "DWORD (0x0000", REG) == \
        ("registry.data.strings", "starts_with", "dword (0x0000")


# -- case, hashes, event ids ------------------------------------------------------------

def test_case_is_folded_only_where_the_test_ignores_it() -> None:
    # Free text compared case-sensitively keeps its case...
    assert elastic("powershell.file.script_block_text", "contains", "ConvertTo-SecureString",
                   cased=True) == \
        ("powershell.file.script_block_text", "contains", "ConvertTo-SecureString")
    assert elastic("process.command_line", "contains", "-R", cased=True) != \
        elastic("process.command_line", "contains", "-r", cased=True)
    # ...and is folded when the test ignores case.
    assert sigma("ScriptBlockText", "contains", "ConvertTo-SecureString",
                 {"category": "ps_script"})[2] == "convertto-securestring"
    # A case-sensitive check keeps its case whatever the field: it misses other spellings.
    assert elastic("event.action", "eq", "CreateUser", cased=True)[2] == "CreateUser"
    assert elastic("process.name", "eq", "PowerShell.exe", cased=True) == \
        ("process.executable", "basename_eq", "PowerShell.exe")
    # Written in lower case, it meets the case-insensitive check.
    assert elastic("process.name", "eq", "powershell.exe", cased=True) == \
        sigma("Image", "ends_with", "\\PowerShell.EXE")
    # A regular expression is never folded: \S and \s differ.
    assert sigma("CommandLine", "regex_match", "\\S+Foo")[2] == "\\S+Foo"


def test_sysmon_hashes_become_hash_fields() -> None:
    load = {"product": "windows", "category": "driver_load"}
    assert sigma("Hashes", "contains", "SHA256=ABCDEF01", load) == \
        ("dll.hash.sha256", "eq", "abcdef01")
    assert sigma("Hashes", "contains", "IMPHASH=ABCDEF01") == \
        ("process.pe.imphash", "eq", "abcdef01")
    assert sigma("Hashes", "contains", "SHA256=ABCDEF01") == \
        elastic("process.hash.sha256", "eq", "ABCDEF01")
    assert sigma("Hashes", "contains", "IMPHASH=") == ("process.hash", "contains", "imphash=")


def test_event_ids_meet() -> None:
    want = ("winlog.event_id", "eq", "4624")
    assert sigma("EventID", "eq", "4624", {"product": "windows", "service": "security"}) == want
    assert splunk("EventCode", "eq", "4624") == want
    assert elastic("event.code", "eq", "4624") == want
    assert elastic("event.code", "eq", "ExchangeItemAggregated") == \
        ("event.code", "eq", "exchangeitemaggregated")


def test_field_references_name_canonical_fields() -> None:
    assert sigma("Image", "fieldref", "ParentImage") == ("process.executable", "fieldref",
                                                         "process.parent.executable")


def test_normalized_is_cached_and_stable() -> None:
    pred = Predicate("Image", "ends_with", "\\cmd.exe")
    first = NORM.predicate("sigma", PROC, pred)
    assert NORM.predicate("sigma", dict(PROC), pred) is first
    assert first == Normalized("process.executable", "basename_eq", "cmd.exe")


# -- the data file ----------------------------------------------------------------------

def test_vocabulary_errors_are_pinned() -> None:
    with pytest.raises(VocabularyError, match="names two fields"):
        Vocabulary({"fields": {"a": {"sigma": ["X"]}, "b": {"sigma": ["X"]}}})
    with pytest.raises(VocabularyError, match="unknown log-source context 'nowhere'"):
        Vocabulary({"fields": {"a": {"sigma": ["X @ nowhere"]}}})
    with pytest.raises(VocabularyError, match="unknown kind 'blob'"):
        Vocabulary({"fields": {"a": {"kind": "blob"}}})
    with pytest.raises(VocabularyError, match="partner b is not listed"):
        Vocabulary({"fields": {"a": {"kind": "image", "name": "b"}}})
    assert issubclass(VocabularyError, RuledexError)


def test_qualified_aliases_win_and_globs_match() -> None:
    vocabulary = Vocabulary({
        "contexts": {"auditd": ["service=auditd", "data_source=linux auditd*"]},
        "fields": {"file.path": {"raw": ["name @ auditd"]},
                   "host.name": {"raw": ["name"]}}})
    assert vocabulary.resolve("sigma", {"service": "auditd"}, "name").field.id == "file.path"
    assert vocabulary.resolve("splunk", {"data_source": ["Linux Auditd Path"]},
                              "name").field.id == "file.path"
    assert vocabulary.resolve("splunk", {"data_source": ["Okta"]}, "name").field.id == \
        "host.name"


def test_shipped_vocabulary_loads() -> None:
    vocabulary = Vocabulary.load()
    assert vocabulary.fields["process.executable"].name == "process.name"
    assert vocabulary.fields["process.name"].path == "process.executable"
    assert vocabulary.fields["file.path"].extension == "file.extension"


# -- coverage and shared indicators on a hand-made catalog ------------------------------

def _rule(vendor: str, rule_id: str, logsource: dict[str, Any], *preds: Predicate) -> Rule:
    tree = and_(*(leaf(p) for p in preds)) if len(preds) > 1 else leaf(preds[0])
    return Rule(vendor=vendor, path=f"{rule_id}.x", id=rule_id, title=rule_id,
                logsource=logsource, tree=tree)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> sqlite3.Connection:
    db = tmp_path_factory.mktemp("vocabulary") / "catalog.sqlite"
    conn = sqlite3.connect(db)
    schema.create(conn)
    writer = CatalogWriter(conn, attack_module.load(None))
    rules = [
        _rule("sigma", "s1", PROC, Predicate("Image", "ends_with", "\\certutil.exe"),
              Predicate("CommandLine", "contains", "-urlcache")),
        _rule("sigma", "s2", PROC, Predicate("Image", "ends_with", "\\certutil.exe"),
              Predicate("OddField", "eq", "x")),
        _rule("elastic", "e1", {}, Predicate("process.name", "eq", "certutil.exe", True),
              Predicate("process.args", "eq", "-urlcache", True)),
        _rule("splunk", "k1", {}, Predicate("Processes.process_name", "eq", "certutil.exe"),
              Predicate("Processes.process", "contains", "-urlcache")),
    ]
    rules.append(Rule(vendor="splunk", path="k2.x", id="k2", title="k2", tree=not_(leaf(
        Predicate("Processes.process_name", "eq", "certutil.exe")))))
    for vendor in ("sigma", "elastic", "splunk"):
        cur = conn.execute("INSERT INTO sources (vendor, path) VALUES (?, ?)", (vendor, "x"))
        summary = SourceSummary(vendor, "x")
        for rule in rules:
            if rule.vendor == vendor:
                writer.add_rule(cur.lastrowid or 0, rule, summary)
    writer.finish()
    conn.commit()
    conn.close()
    return connect(db)


def test_coverage_counts_mapped_predicates_per_vendor(catalog: sqlite3.Connection) -> None:
    data = coverage(catalog)
    sigma_row = data["vendors"]["sigma"]
    assert (sigma_row["predicates"], sigma_row["mapped"], sigma_row["percent"]) == (4, 3, 75.0)
    assert sigma_row["top_unmapped"] == [{"field": "OddField", "predicates": 1, "rules": 1}]
    assert data["vendors"]["elastic"]["percent"] == 100.0
    assert list(data["vendors"]) == ["sigma", "elastic", "splunk"]


def test_shared_indicators_count_rules_per_vendor(catalog: sqlite3.Connection) -> None:
    rows = shared_indicators(catalog, min_vendors=3)
    assert [(r["label"], r["op"], r["value"]) for r in rows] == [
        ("Image", "basename_eq", "certutil.exe")]
    assert rows[0]["per_vendor"] == {"sigma": 2, "elastic": 1, "splunk": 1}
    assert rows[0]["exclusion_rules"] == 1
    two = shared_indicators(catalog, min_vendors=2)
    # Splunk's command-line substring meets Sigma's; Elastic's argument token does not.
    assert ("process.command_line", "contains", "-urlcache") in \
        [(r["field"], r["op"], r["value"]) for r in two]
    assert shared_summary(catalog)["indicators_by_vendor_count"]["3"] == 1
    with pytest.raises(RuledexError, match="min_vendors must be between 1 and 3"):
        shared_indicators(catalog, min_vendors=4)


def test_vocabulary_commands(catalog: sqlite3.Connection, tmp_path: Path) -> None:
    db = catalog.execute("PRAGMA database_list").fetchone()[2]
    runner = CliRunner()
    result = runner.invoke(main, ["vocabulary", "coverage", "--db", db])
    assert result.exit_code == 0, result.output
    assert "OddField" in result.output and "75.00" in result.output
    result = runner.invoke(main, ["vocabulary", "shared", "--db", db, "--min-vendors", "3"])
    assert result.exit_code == 0, result.output
    assert "certutil.exe" in result.output
    result = runner.invoke(main, ["vocabulary", "shared", "--db", db, "--json"])
    assert result.exit_code == 0 and '"basename_eq"' in result.output
    result = runner.invoke(main, ["vocabulary", "coverage", "--db", str(tmp_path / "no.db")])
    assert result.exit_code == 1 and "CatalogMissing" in result.output


def test_data_model_fields_stay_theirs_in_any_log_source() -> None:
    okta = {"data_source": ["Okta"]}
    assert splunk("All_Risk.risk_object_type", "eq", "user", okta)[0] == \
        "All_Risk.risk_object_type"
    assert splunk("eventType", "eq", "user.session.start", okta)[0] == "event.action"
