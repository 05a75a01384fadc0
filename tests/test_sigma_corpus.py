"""The whole Sigma corpus: every rule in the catalog, parsed, every value a predicate."""

from __future__ import annotations

import fnmatch
import sqlite3
from collections import Counter
from typing import Any

import pytest
import yaml
from conftest import corpus_path
from sigma.conditions import ConditionIdentifier, ConditionSelector
from sigma.rule import SigmaDetections

FOLDERS = ("rules", "rules-emerging-threats", "rules-threat-hunting")


def count_values(node: Any) -> int:
    """How many detection values a selection holds, counted independently of the parser."""
    if isinstance(node, dict):
        return sum(count_values(v) if isinstance(v, dict) else
                   (max(len(v), 1) if isinstance(v, list) and not
                    any(isinstance(x, dict) for x in v) else count_values(v))
                   for v in node.values())
    if isinstance(node, list):
        return sum(count_values(x) if isinstance(x, dict | list) else 1 for x in node)
    return 1


def references(detection: dict[str, Any]) -> Counter[str]:
    """How many times the condition names each detection (a selection may appear twice)."""
    names = [k for k in detection if k not in ("condition", "timeframe")]
    counts: Counter[str] = Counter()

    def walk(item: Any) -> None:
        if isinstance(item, ConditionIdentifier):
            counts[item.identifier] += 1
        elif isinstance(item, ConditionSelector):
            pattern = item.args[1]
            counts.update(n for n in names if (pattern == "them" and not n.startswith("_"))
                          or fnmatch.fnmatchcase(n, pattern))
        else:
            for arg in getattr(item, "args", []):
                walk(arg)

    for condition in SigmaDetections.from_dict(detection).parsed_condition:
        walk(condition.parse(postprocess=False))
    return counts


def expected_values(detection: dict[str, Any]) -> int:
    """Values of each detection times the number of times the condition uses it."""
    refs = references(detection)
    unused = [k for k in detection if k not in ("condition", "timeframe") and not refs[k]]
    assert not unused, f"detections the condition never uses: {unused}"
    return sum((count_values(v) if isinstance(v, dict | list) else 1) * refs[k]
               for k, v in detection.items() if k not in ("condition", "timeframe"))


@pytest.mark.corpus
def test_every_rule_is_parsed_and_every_value_is_a_predicate(
        sigma_catalog: sqlite3.Connection) -> None:
    root = corpus_path("sigma")
    expected: dict[str, int] = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.yml")):
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            expected[path.relative_to(root).as_posix()] = expected_values(data["detection"])
    rows = {row["path"]: row for row in sigma_catalog.execute(
        "SELECT r.path, r.parse_status, COUNT(p.pid) AS predicates FROM rules r "
        "LEFT JOIN predicates p ON p.rid = r.rid WHERE r.vendor = 'sigma' GROUP BY r.rid")}

    missing = sorted(set(expected) - set(rows))
    unparsed = sorted(p for p in expected if p in rows and rows[p]["parse_status"] != "parsed")
    miscounted = sorted(f"{p}: {rows[p]['predicates']} predicates for {n} values"
                        for p, n in expected.items()
                        if p in rows and rows[p]["predicates"] != n)
    assert len(expected) == 3754
    assert not missing, f"{len(missing)} rules not in the catalog: {missing}"
    assert not unparsed, f"{len(unparsed)} rules not parsed: {unparsed}"
    assert not miscounted, f"{len(miscounted)} rules lost values:\n" + "\n".join(miscounted)
    assert sum(r["predicates"] for r in rows.values() if r["path"] in expected) == \
        sum(expected.values())


@pytest.mark.corpus
def test_other_sigma_folders_are_read_too(sigma_catalog: sqlite3.Connection) -> None:
    folders = {row[0] for row in sigma_catalog.execute(
        "SELECT DISTINCT substr(path, 1, instr(path, '/') - 1) FROM rules WHERE vendor='sigma'")}
    assert {"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-placeholder",
            "rules-compliance"} <= folders
