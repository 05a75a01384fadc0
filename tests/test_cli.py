"""The command line, through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import write_sigma_repo

from ruledex.cli import main

RULE = """title: PowerShell encoded
id: ps-enc
logsource:
    category: process_creation
    product: windows
tags:
    - attack.t1059.001
detection:
    sel:
        Image|endswith: '\\\\powershell.exe'
        CommandLine|contains: ' -enc '
    condition: sel
level: high
"""


def built(tmp_path: Path) -> Path:
    root = write_sigma_repo(tmp_path / "repo", {"r.yml": RULE})
    db = tmp_path / "c.sqlite"
    result = CliRunner().invoke(main, ["build", "--db", str(db), str(root)])
    assert result.exit_code == 0, result.output
    assert "sigma" in result.output and "predicates" in result.output
    return db


def test_build_stats_and_technique(tmp_path: Path) -> None:
    db = built(tmp_path)
    runner = CliRunner()
    stats = json.loads(runner.invoke(main, ["stats", "--db", str(db), "--json"]).output)
    assert stats == {"vendors": {"sigma": {"files": 1, "rules": 1, "parsed": 1, "failed": 0,
                                           "predicates": 2}}, "techniques": 1}
    page = json.loads(runner.invoke(main, ["technique", "--db", str(db), "T1059.001",
                                           "--json"]).output)
    assert set(page) >= {"technique", "rules_total", "events", "fields", "indicators",
                         "exclusions", "rules"}
    assert set(page["technique"]) >= {"id", "name", "tactics", "parent"}
    assert page["rules"]["sigma"][0] == {"id": "ps-enc", "title": "PowerShell encoded",
                                         "level": "high", "path": "rules/r.yml",
                                         "kind": "rule", "hidden": False}
    assert set(page["indicators"][0]) >= {"field", "op", "value", "rules", "reach", "rule_ids"}
    assert set(page["fields"][0]) >= {"field", "aliases", "rules", "operators", "samples"}
    text = runner.invoke(main, ["technique", "--db", str(db), "T1059.001"]).output
    assert "PowerShell" in text and "fields filtered most" in text


def test_errors_are_one_line_with_a_hint(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["stats", "--db", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 1
    assert "error (CatalogMissing)" in result.output and "hint:" in result.output
    assert "Traceback" not in result.output


def test_unknown_technique(tmp_path: Path) -> None:
    db = built(tmp_path)
    result = CliRunner().invoke(main, ["technique", "--db", str(db), "T8888"])
    assert result.exit_code == 1 and "T8888" in result.output


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--debug", "stats", "--db", str(tmp_path / "x")])
    assert result.exit_code == 1 and result.exception is not None


def test_attack_snapshot(tmp_path: Path) -> None:
    from conftest import ATTACK_BUNDLE
    if not ATTACK_BUNDLE.is_file():
        return
    out = tmp_path / "attack.json.gz"
    result = CliRunner().invoke(main, ["attack-snapshot", str(ATTACK_BUNDLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "835 techniques" in result.output and out.is_file()


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    missing = [name for name in main.commands if f"ruledex {name}" not in readme]
    assert not missing, f"commands missing from the README: {missing}"


def test_readme_settings_table_is_made_from_the_declarations() -> None:
    from ruledex.settings import markdown_table
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert markdown_table() in readme
