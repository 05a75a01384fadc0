"""ATT&CK: the STIX bundle, the packaged snapshot and technique status."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ATTACK_BUNDLE

from ruledex import attack
from ruledex.model import RuledexError

BUNDLE = {"type": "bundle", "objects": [
    {"type": "x-mitre-matrix", "id": "m", "tactic_refs": ["t1", "t2"]},
    {"type": "x-mitre-tactic", "id": "t1", "name": "Execution", "x_mitre_shortname": "execution",
     "external_references": [{"source_name": "mitre-attack", "external_id": "TA0002"}]},
    {"type": "x-mitre-tactic", "id": "t2", "name": "Stealth", "x_mitre_shortname": "stealth",
     "external_references": [{"source_name": "mitre-attack", "external_id": "TA0099"}]},
    {"type": "attack-pattern", "id": "a1", "name": "Command Interpreter",
     "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": "execution"}],
     "external_references": [{"source_name": "mitre-attack", "external_id": "T1059"},
                             {"source_name": "Some Blog", "url": "https://example.org"}]},
    {"type": "attack-pattern", "id": "a2", "name": "PowerShell",
     "x_mitre_is_subtechnique": True,
     "external_references": [{"source_name": "mitre-attack", "external_id": "T1059.001"}]},
    {"type": "attack-pattern", "id": "a3", "name": "Old", "revoked": True,
     "external_references": [{"source_name": "mitre-attack", "external_id": "T1000"}]},
    {"type": "attack-pattern", "id": "a4", "name": "Gone", "x_mitre_deprecated": True,
     "external_references": [{"source_name": "mitre-attack", "external_id": "T1001"}]},
    {"type": "relationship", "id": "r1", "relationship_type": "revoked-by",
     "source_ref": "a3", "target_ref": "a1"},
    {"type": "x-mitre-data-component", "id": "d1", "name": "Process Creation",
     "external_references": [{"source_name": "mitre-attack", "external_id": "DC0032"}],
     "x_mitre_log_sources": [{"name": "WinEventLog:Security", "channel": "EventCode=4688"}]},
]}


def test_from_bundle() -> None:
    data = attack.from_bundle(BUNDLE, "9.9")
    assert [t.shortname for t in data.tactics] == ["execution", "stealth"]
    assert data.techniques["T1059"].tactics == ("execution",)
    assert data.techniques["T1059.001"].parent == "T1059"
    assert data.techniques["T1059"].citations == (("Some Blog", "https://example.org"),)
    assert data.technique_status("T1000") == "revoked"
    assert data.techniques["T1000"].revoked_by == "T1059"
    assert data.technique_status("T1001") == "deprecated"
    assert data.technique_status("T1059") == "active"
    assert data.technique_status("T4242") == "unknown"
    assert data.data_components["DC0032"].log_sources == (("WinEventLog:Security",
                                                          "EventCode=4688"),)
    assert [t.id for t in data.subtechniques("T1059")] == ["T1059.001"]


def test_snapshot_round_trip(tmp_path: Path) -> None:
    data = attack.from_bundle(BUNDLE, "9.9")
    path = tmp_path / "snap.json.gz"
    attack.write_snapshot(data, path)
    assert attack.load(path) == data


def test_packaged_snapshot_is_v18_1() -> None:
    data = attack.load()
    assert data.version == "18.1"
    assert data.techniques["T1543.002"].name == "Systemd Service"
    assert data.tactics[0].shortname == "reconnaissance"


def test_packaged_snapshot_matches_the_bundle() -> None:
    if not ATTACK_BUNDLE.is_file():
        pytest.skip("no ATT&CK bundle")
    assert attack.load(ATTACK_BUNDLE) == attack.load()


def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(RuledexError, match="cannot read ATT&CK data"):
        attack.load(path)
