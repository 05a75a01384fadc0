"""The event catalog over the real corpora: coverage, the main log sources, feasibility."""

from __future__ import annotations

import importlib.util
import sqlite3
from typing import Any

import pytest

from ruledex.analysis.events import event_page, events_coverage, feasibility

pytestmark = pytest.mark.corpus

MIN_PERCENT = 90.0


def _all_vendors(request: pytest.FixtureRequest) -> sqlite3.Connection:
    """The three-vendor catalog; skipped while a vendor's source is not installed."""
    for vendor in ("elastic", "splunk"):
        if importlib.util.find_spec(f"ruledex.sources.{vendor}") is None:
            pytest.skip(f"ruledex.sources.{vendor} is not available")
    conn: sqlite3.Connection = request.getfixturevalue("corpus_catalog")
    return conn


@pytest.fixture(scope="module")
def catalog(request: pytest.FixtureRequest) -> sqlite3.Connection:
    return _all_vendors(request)


def _unmapped(conn: sqlite3.Connection, vendor: str) -> list[str]:
    return [f"{path}: {reason}" for path, reason in conn.execute(
        "SELECT r.path, COALESCE(g.reason, '-') FROM rules r "
        "LEFT JOIN rule_event_gaps g ON g.rid = r.rid WHERE r.vendor = ? AND r.deprecated = 0 "
        "AND NOT EXISTS (SELECT 1 FROM rule_events re WHERE re.rid = r.rid)", (vendor,))]


def test_sigma_rules_map_to_events(sigma_catalog: sqlite3.Connection) -> None:
    coverage = events_coverage(sigma_catalog)["vendors"]["sigma"]
    assert coverage["percent"] >= MIN_PERCENT, _unmapped(sigma_catalog, "sigma")
    # Every Windows process_creation rule reads Sysmon 1 or Security 4688, nothing else.
    groups = sigma_catalog.execute(
        "SELECT GROUP_CONCAT(re.event_id) FROM rules r JOIN rule_events re ON re.rid = r.rid "
        "WHERE r.logsource LIKE '%\"process_creation\"%' AND r.logsource LIKE '%\"windows\"%' "
        "GROUP BY r.rid").fetchall()
    assert len(groups) > 1000
    assert {tuple(sorted(g[0].split(","))) for g in groups} == {
        ("sysmon:1", "win-security:4688")}


def test_sigma_security_rules_are_narrowed(sigma_catalog: sqlite3.Connection) -> None:
    page = event_page(sigma_catalog, "Security 4624")
    assert page["rules_total"] >= 10
    assert page["fields"] and page["techniques"]
    wide = sigma_catalog.execute(
        "SELECT COUNT(DISTINCT rid) FROM rule_events WHERE event_id = 'win-security'"
    ).fetchone()[0]
    narrow = sigma_catalog.execute(
        "SELECT COUNT(DISTINCT rid) FROM rule_events WHERE event_id LIKE 'win-security:%' "
        "AND event_id != 'win-security:4688'").fetchone()[0]
    # Most Security-channel rules name their event ids.
    assert narrow > 3 * wide


def test_every_vendor_maps_at_least_90_percent(catalog: sqlite3.Connection) -> None:
    coverage = events_coverage(catalog)["vendors"]
    assert set(coverage) == {"sigma", "elastic", "splunk"}
    low = {v: (c["percent"], _unmapped(catalog, v)[:20]) for v, c in coverage.items()
           if c["percent"] < MIN_PERCENT}
    assert not low, low


@pytest.mark.parametrize("event_id, vendors", [
    ("sysmon:1", {"sigma", "elastic", "splunk"}),
    ("win-security:4688", {"sigma", "elastic", "splunk"}),
    ("powershell:4104", {"sigma", "elastic", "splunk"}),
    ("elastic-endpoint:process", {"elastic"}),
    ("crowdstrike:ProcessRollup2", {"elastic", "splunk"}),
    ("sysmon:13", {"sigma", "elastic", "splunk"}),
])
def test_main_log_sources_have_rules(catalog: sqlite3.Connection, event_id: str,
                                     vendors: set[str]) -> None:
    page = event_page(catalog, event_id)
    assert vendors <= set(page["rules"]), sorted(page["rules"])


def test_feasibility_for_sysmon_security_and_powershell(catalog: sqlite3.Connection) -> None:
    result: dict[str, Any] = feasibility(
        catalog, ["sysmon:1", "win-security:4688", "powershell:4104"])
    for vendor, row in result["vendors"].items():
        assert row["runnable"] > 50, vendor
        assert len(row["techniques"]) > 20, vendor
        assert row["runnable"] + row["not_runnable"] + row["undecided"] == row["rules"]
    assert len(result["techniques"]) > 100
