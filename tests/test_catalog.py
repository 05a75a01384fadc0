"""Building the catalog: atomic replacement, bad input, sources and statistics."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import write_sigma_repo

from ruledex.analysis.stats import stats
from ruledex.catalog import build as build_module
from ruledex.catalog.build import build
from ruledex.catalog.store import CatalogMissing, connect
from ruledex.model import RuledexError

GOOD = """title: Good
id: good-1
logsource:
    category: process_creation
    product: windows
tags:
    - attack.t1059.001
detection:
    sel:
        Image|endswith: '\\\\powershell.exe'
    condition: sel
"""
BROKEN_YAML = "title: Broken\ndetection: [\n  sel: {\n"
BROKEN_LOGIC = GOOD.replace("good-1", "bad-2").replace("condition: sel", "condition: nope")


def repo(tmp_path: Path, **extra: str) -> Path:
    return write_sigma_repo(tmp_path / "repo", {"good.yml": GOOD, **extra})


def test_build_writes_rules_predicates_and_sources(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    summary = build(db, [repo(tmp_path)])
    (source,) = summary.sources
    assert (source.vendor, source.files, source.rules, source.parsed, source.failed,
            source.predicates) == ("sigma", 1, 1, 1, 0, 1)
    conn = connect(db)
    row = conn.execute("SELECT * FROM rules").fetchone()
    assert (row["vendor"], row["id"], row["path"]) == ("sigma", "good-1", "rules/good.yml")
    assert stats(conn) == {"vendors": {"sigma": {"files": 1, "rules": 1, "parsed": 1,
                                                 "failed": 0, "predicates": 1}},
                           "techniques": 1}


def test_bad_input_is_reported_with_file_and_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    summary = build(db, [repo(tmp_path, **{"broken.yml": BROKEN_YAML,
                                           "logic.yml": BROKEN_LOGIC})])
    (source,) = summary.sources
    assert (source.files, source.rules, source.parsed, source.failed) == (3, 2, 1, 1)
    assert [str(f) for f in source.failures][0].startswith("rules/broken.yml:")
    conn = connect(db)
    failures = conn.execute("SELECT path, line, message FROM failures ORDER BY path").fetchall()
    assert [(f["path"], f["line"] is not None) for f in failures] == [
        ("rules/broken.yml", True), ("rules/logic.yml", True)]
    bad = conn.execute("SELECT parse_status, errors FROM rules WHERE id='bad-2'").fetchone()
    assert bad["parse_status"] == "failed" and "nope" in bad["errors"]


def test_failed_build_leaves_the_previous_catalog(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "c.sqlite"
    build(db, [repo(tmp_path)])
    before = db.read_bytes()

    def explode(self: object, *args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(build_module.CatalogWriter, "finish", explode)
    with pytest.raises(KeyboardInterrupt):
        build(db, [repo(tmp_path)])
    assert db.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_unknown_layout_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(RuledexError, match="no known rule repository layout"):
        build(tmp_path / "c.sqlite", [tmp_path / "empty"])
    assert not (tmp_path / "c.sqlite").exists()


def test_vendor_can_be_forced(tmp_path: Path) -> None:
    root = repo(tmp_path)
    summary = build(tmp_path / "c.sqlite", [f"sigma={root}"])
    assert summary.sources[0].vendor == "sigma"


def test_git_commit_is_recorded(tmp_path: Path) -> None:
    root = repo(tmp_path)
    for args in (["init", "-q"], ["add", "."],
                 ["-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "x"]):
        subprocess.run(["git", "-C", str(root), *args], check=True)
    head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    db = tmp_path / "c.sqlite"
    build(db, [root])
    assert connect(db).execute("SELECT commit_id FROM sources").fetchone()[0] == head


def test_catalog_is_opened_read_only(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    build(db, [repo(tmp_path)])
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        connect(db).execute("DELETE FROM rules")


def test_missing_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogMissing, match="build one"):
        connect(tmp_path / "nope.sqlite")


def test_indicator_reach_counts_each_rule_once(tmp_path: Path) -> None:
    twice = GOOD.replace("good-1", "twice").replace(
        "condition: sel", "sel2:\n        Image|endswith: '\\\\powershell.exe'\n"
        "    condition: sel or sel2")
    db = tmp_path / "c.sqlite"
    build(db, [repo(tmp_path, **{"twice.yml": twice})])
    (row,) = connect(db).execute("SELECT rules, sigma, vendors FROM indicators").fetchall()
    assert tuple(row) == (2, 2, 1)


def test_log_source_tests_are_selectors_not_indicators(tmp_path: Path) -> None:
    rule = GOOD.replace("good-1", "ev").replace(
        "Image|endswith: '\\\\powershell.exe'", "EventID: 4688\n        Image: a.exe")
    db = tmp_path / "c.sqlite"
    build(db, [write_sigma_repo(tmp_path / "r", {"ev.yml": rule})])
    conn = connect(db)
    rows = {r["field_raw"]: (r["field"], r["stage"], r["iid"] is None)
            for r in conn.execute("SELECT field_raw, field, stage, iid FROM predicates")}
    assert rows["EventID"] == ("winlog.event_id", "selector", True)
    assert rows["Image"][1:] == ("event", False)
    assert [r[0] for r in conn.execute("SELECT field FROM indicators")] == [rows["Image"][0]]


def test_broken_files_of_every_vendor_are_reported_and_the_build_goes_on(
        tmp_path: Path) -> None:
    elastic = tmp_path / "elastic" / "rules"
    elastic.mkdir(parents=True)
    (elastic / "ok.toml").write_text(
        '[rule]\nname = "ok"\nrule_id = "e1"\ntype = "query"\nlanguage = "kuery"\n'
        'query = "process.name : curl"\n', encoding="utf-8")
    (elastic / "broken.toml").write_text("[rule\nname = 1\n", encoding="utf-8")
    (elastic / "config.toml").write_text("[settings]\nx = 1\n", encoding="utf-8")
    splunk = tmp_path / "splunk"
    (splunk / "detections").mkdir(parents=True)
    (splunk / "macros").mkdir()
    (splunk / "detections" / "ok.yml").write_text(
        "name: ok\nid: s1\ntype: TTP\nsearch: process_name=cmd.exe\n", encoding="utf-8")
    (splunk / "detections" / "broken.yml").write_text("name: b\n id: [\n", encoding="utf-8")

    summary = build(tmp_path / "c.sqlite", [tmp_path / "elastic", splunk])
    failures = {s.vendor: [str(f) for f in s.failures] for s in summary.sources}
    assert [s.rules for s in summary.sources] == [1, 1]
    assert len(failures["elastic"]) == 1 and failures["elastic"][0].startswith(
        "rules/broken.toml:1: ")
    assert len(failures["splunk"]) == 1 and failures["splunk"][0].startswith(
        "detections/broken.yml:2: not valid YAML")
    assert "\n" not in failures["splunk"][0]


def test_field_summaries_are_built_with_the_catalog(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    build(db, [repo(tmp_path, **{"logic.yml": BROKEN_LOGIC.replace("condition: nope",
                                                                   "condition: sel")})])
    conn = connect(db)
    (row,) = conn.execute("SELECT * FROM fields").fetchall()
    assert (row["field"], row["rules"], row["sigma"], row["elastic"], row["indicators"]) == (
        "process.executable", 2, 2, 0, 1)
    assert [tuple(r) for r in conn.execute("SELECT * FROM field_aliases")] == [
        ("Image", "process.executable", "sigma", 2)]


def test_layouts_are_told_apart(tmp_path: Path) -> None:
    from ruledex.sources import detect

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "one.yml").write_text(GOOD, encoding="utf-8")
    assert detect(plain) == "sigma"
    summary = build(tmp_path / "c.sqlite", [plain])
    assert summary.sources[0].rules == 1
    assert connect(tmp_path / "c.sqlite").execute("SELECT path FROM rules").fetchone()[0] == \
        "one.yml"

    elastic = tmp_path / "elastic"
    (elastic / "rules").mkdir(parents=True)
    (elastic / "rules" / "r.toml").write_text("[rule]\nname = 'x'\n", encoding="utf-8")
    (elastic / "rules" / "notes.yml").write_text("detection: {}\n", encoding="utf-8")
    assert detect(elastic) == "elastic"

    splunk = tmp_path / "splunk"
    (splunk / "detections").mkdir(parents=True)
    (splunk / "macros").mkdir()
    (splunk / "detections" / "d.yml").write_text("name: d\nsearch: a=1\n", encoding="utf-8")
    assert detect(splunk) == "splunk"


def test_rule_paths_are_relative_to_the_checkout_however_it_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for vendor, name, text in (
            ("sigma", "rules/a.yml", GOOD),
            ("elastic", "rules/a.toml", "[rule]\nname = 'x'\nrule_id = 'e'\ntype = 'query'\n"
                                        "language = 'kuery'\nquery = 'a : b'\n"),
            ("splunk", "detections/a.yml", "name: d\nid: s\nsearch: a=1\n")):
        path = tmp_path / vendor / name
        path.parent.mkdir(parents=True)
        path.write_text(text, encoding="utf-8")
    (tmp_path / "splunk" / "macros").mkdir()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    build(tmp_path / "c.sqlite", ["../sigma", f"elastic={tmp_path / 'elastic'}", "../splunk"])
    paths = dict(connect(tmp_path / "c.sqlite").execute("SELECT vendor, path FROM rules"))
    assert paths == {"sigma": "rules/a.yml", "elastic": "rules/a.toml",
                     "splunk": "detections/a.yml"}


def test_a_plain_folder_of_elastic_rules(tmp_path: Path) -> None:
    from ruledex.sources import detect

    folder = tmp_path / "windows"
    folder.mkdir()
    (folder / "a.toml").write_text("[rule]\nname = 'x'\nrule_id = 'e'\ntype = 'query'\n"
                                   "language = 'kuery'\nquery = 'a : b'\n", encoding="utf-8")
    assert detect(folder) == "elastic"
    assert build(tmp_path / "c.sqlite", [folder]).sources[0].rules == 1


def test_a_plain_folder_of_splunk_detections(tmp_path: Path) -> None:
    from ruledex.sources import detect

    folder = tmp_path / "endpoint"
    folder.mkdir()
    (folder / "d.yml").write_text("name: d\nid: s1\nsearch: '`sysmon` process_name=cmd.exe'\n",
                                  encoding="utf-8")
    assert detect(folder) == "splunk"
    conn = connect(build(tmp_path / "c.sqlite", [folder]).db)
    assert [tuple(r) for r in conn.execute("SELECT field_raw, value_raw FROM predicates")] == [
        ("process_name", "cmd.exe")]
