"""Geometry of the small inline SVG charts; templates only draw what is computed here."""

from __future__ import annotations

from typing import Any

from ruledex.analysis.vendors import LEVELS, VENDOR_NAMES

BAR_WIDTH = 300
"""Width in SVG units of the longest bar."""


def level_bars(rules_by_vendor: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Stacked bars of rules per vendor, one segment per level, scaled to the longest bar."""
    bars: list[dict[str, Any]] = []
    longest = max((len(rules) for rules in rules_by_vendor.values()), default=0)
    for vendor, rules in rules_by_vendor.items():
        counts: dict[str, int] = {}
        for rule in rules:
            level = rule["level"] if rule["level"] in LEVELS else "other"
            counts[level] = counts.get(level, 0) + 1
        x = 0.0
        segments: list[dict[str, Any]] = []
        for level in (*LEVELS, "other"):
            if not counts.get(level):
                continue
            width = BAR_WIDTH * counts[level] / longest
            segments.append({"level": level, "count": counts[level], "x": round(x, 2),
                             "width": round(width, 2)})
            x += width
        bars.append({"vendor": vendor, "name": VENDOR_NAMES.get(vendor, vendor),
                     "total": len(rules), "segments": segments, "end": round(x, 2)})
    return {"bars": bars, "width": BAR_WIDTH, "levels": [
        lv for lv in (*LEVELS, "other") if any(s["level"] == lv for b in bars
                                                for s in b["segments"])]}
