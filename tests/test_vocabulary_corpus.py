"""The vocabulary over the three real corpora: coverage per vendor and checks all three share."""

from __future__ import annotations

import sqlite3

import pytest

from ruledex.analysis.crossvendor import shared_indicators
from ruledex.normalize.coverage import coverage

pytestmark = pytest.mark.corpus

MIN_COVERAGE = 95.0
SHARED_IMAGES = ("powershell.exe", "rundll32.exe", "certutil.exe", "cmd.exe", "mshta.exe",
                 "regsvr32.exe", "wmic.exe")


@pytest.fixture(scope="module")
def catalog(request: pytest.FixtureRequest) -> sqlite3.Connection:
    for vendor in ("elastic", "splunk"):
        pytest.importorskip(f"ruledex.sources.{vendor}")
    conn: sqlite3.Connection = request.getfixturevalue("corpus_catalog")
    return conn


def test_vocabulary_maps_95_percent_of_each_vendors_predicates(
        catalog: sqlite3.Connection) -> None:
    data = coverage(catalog)
    assert set(data["vendors"]) == {"sigma", "elastic", "splunk"}
    low = {vendor: (row["percent"], [u["field"] for u in row["top_unmapped"][:10]])
           for vendor, row in data["vendors"].items() if row["percent"] < MIN_COVERAGE}
    assert not low, f"vendors under {MIN_COVERAGE}% (percent, top unmapped): {low}"


def test_common_images_are_checked_by_all_three_vendors(catalog: sqlite3.Connection) -> None:
    rows = shared_indicators(catalog, min_vendors=3, field="process.executable",
                             op="basename_eq")
    found = {row["value"]: row["per_vendor"] for row in rows}
    missing = [name for name in SHARED_IMAGES if name not in found]
    assert not missing, f"not checked by all three vendors: {missing}"
    assert all(count > 0 for count in found["powershell.exe"].values())


def test_one_check_is_one_indicator_across_vendors(catalog: sqlite3.Connection) -> None:
    # Every spelling of the powershell image lands on the same indicator row.
    rows = catalog.execute(
        "SELECT DISTINCT r.vendor, p.field_raw FROM predicates p JOIN rules r ON r.rid = p.rid "
        "JOIN indicators i ON i.iid = p.iid WHERE i.field = 'process.executable' "
        "AND i.op = 'basename_eq' AND i.value = 'powershell.exe'").fetchall()
    spellings = {(vendor, raw) for vendor, raw in rows}
    assert ("sigma", "Image") in spellings
    assert ("elastic", "process.name") in spellings
    assert any(vendor == "splunk" and "process_name" in raw for vendor, raw in spellings)
