"""How much of each vendor's field vocabulary the canonical table knows, read from a catalog."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from typing import Any

from ruledex.normalize import Normalizer

TOP_UNMAPPED = 20
COUNTED_STAGES = ("event", "selector")
"""Predicates on raw event fields; derived and aggregate columns are the query's own."""


def coverage(conn: sqlite3.Connection, normalizer: Normalizer | None = None,
             top: int = TOP_UNMAPPED) -> dict[str, Any]:
    """Per vendor: predicates with a field, how many the vocabulary maps, top unmapped names.

    Counts every rule in the catalog, hidden ones included, since the question is
    which raw names the vocabulary knows. A predicate is mapped when its raw field,
    read with its rule's log source, has an entry in the vocabulary. Names under the
    declared namespaces (ECS and Elastic integration field sets, Splunk CIM datasets)
    are mapped by declaration, so most of Elastic's figure holds by construction.
    """
    normalizer = normalizer or Normalizer()
    marks = ",".join("?" * len(COUNTED_STAGES))
    rows = conn.execute(
        f"SELECT r.vendor, r.logsource, p.field_raw, COUNT(*), COUNT(DISTINCT p.rid) "
        f"FROM predicates p JOIN rules r ON r.rid = p.rid "
        f"WHERE p.stage IN ({marks}) AND p.field_raw IS NOT NULL AND p.field_raw != '' "
        f"GROUP BY r.vendor, r.logsource, p.field_raw", COUNTED_STAGES).fetchall()

    totals: Counter[str] = Counter()
    mapped: Counter[str] = Counter()
    missing: dict[str, Counter[str]] = defaultdict(Counter)
    missing_rules: dict[str, Counter[str]] = defaultdict(Counter)
    contexts: dict[str, dict[str, Any]] = {}
    for vendor, logsource, raw, count, rules in rows:
        if logsource not in contexts:
            contexts[logsource] = json.loads(logsource) if logsource else {}
        totals[vendor] += count
        if normalizer.resolve(vendor, contexts[logsource], raw).mapped:
            mapped[vendor] += count
        else:
            missing[vendor][raw] += count
            # A rule may sit under several log sources only in theory; summing is an upper bound.
            missing_rules[vendor][raw] += rules

    vendors = {}
    for vendor in sorted(totals, key=_vendor_order):
        total = totals[vendor]
        vendors[vendor] = {
            "predicates": total,
            "mapped": mapped[vendor],
            "percent": round(100.0 * mapped[vendor] / total, 2) if total else 100.0,
            "unmapped_fields": len(missing[vendor]),
            "top_unmapped": [
                {"field": raw, "predicates": count, "rules": missing_rules[vendor][raw]}
                for raw, count in sorted(missing[vendor].items(),
                                         key=lambda kv: (-kv[1], kv[0]))[:top]],
        }
    return {"stages": list(COUNTED_STAGES), "vendors": vendors}


def _vendor_order(vendor: str) -> tuple[int, str]:
    order = ("sigma", "elastic", "splunk")
    return (order.index(vendor) if vendor in order else len(order), vendor)
