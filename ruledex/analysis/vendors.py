"""Vendor pages: what each rule repository contributes to the catalog."""

from __future__ import annotations

import sqlite3
from typing import Any

from ruledex.model import RuledexError

VENDORS = ("sigma", "elastic", "splunk")
"""Every vendor the catalog knows, in display order; also the indicators table's columns."""

VENDOR_NAMES = {"sigma": "Sigma", "elastic": "Elastic", "splunk": "Splunk"}
LEVELS = ("critical", "high", "medium", "low", "informational")
"""Rule levels from the most to the least severe; other values sort after these."""

TOP = 25


class UnknownVendor(RuledexError):
    """The vendor is not one the catalog knows."""


def check_vendor(vendor: str) -> str:
    """Return ``vendor`` if known, else raise :class:`UnknownVendor`."""
    if vendor not in VENDORS:
        raise UnknownVendor(f"unknown vendor {vendor!r}; known: {', '.join(VENDORS)}")
    return vendor


def level_rank(level: str) -> int:
    """Sort key putting the most severe level first."""
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def _counts(conn: sqlite3.Connection, column: str, vendor: str) -> dict[str, int]:
    # column names come from this module only, never from a request
    return {str(row[0]): row[1] for row in conn.execute(
        f"SELECT {column}, COUNT(*) FROM rules WHERE vendor = ? GROUP BY {column} "
        f"ORDER BY COUNT(*) DESC", (vendor,))}


def vendor_page(conn: sqlite3.Connection, vendor: str) -> dict[str, Any]:
    """Sources, rule breakdowns, top techniques, fields and shared indicators of a vendor."""
    check_vendor(vendor)
    sources = [dict(row) for row in conn.execute(
        "SELECT source_id, path, commit_id AS 'commit', files, rules, parsed, failed, predicates "
        "FROM sources WHERE vendor = ? ORDER BY source_id", (vendor,))]
    totals = conn.execute(
        "SELECT COUNT(*), SUM(hidden = 0), SUM(deprecated), SUM(building_block), "
        "SUM(kind = 'hunting') FROM rules WHERE vendor = ?", (vendor,)).fetchone()
    levels = _counts(conn, "level", vendor)
    techniques = [
        {"id": r[0], "name": r[1] or "", "status": r[2], "rules": r[3]}
        for r in conn.execute(
            "SELECT rt.technique_id, t.name, rt.status, COUNT(*) FROM rules r "
            "JOIN rule_techniques rt ON rt.rid = r.rid "
            "LEFT JOIN techniques t ON t.id = rt.technique_id "
            "WHERE r.vendor = ? AND r.hidden = 0 GROUP BY rt.technique_id "
            "ORDER BY COUNT(*) DESC, rt.technique_id LIMIT ?", (vendor, TOP))]
    tactics = [
        {"shortname": r[0], "name": r[1], "rules": r[2]}
        for r in conn.execute(
            "SELECT t.shortname, t.name, COUNT(rt.rid) FROM tactics t "
            "LEFT JOIN rule_tactics rt ON rt.tactic = t.shortname AND rt.rid IN "
            "(SELECT rid FROM rules WHERE vendor = ? AND hidden = 0) "
            "GROUP BY t.shortname ORDER BY t.ord", (vendor,))]
    fields = [
        {"field": r[0], "rules": r[1]}
        for r in conn.execute(
            f"SELECT field, {vendor} FROM fields WHERE {vendor} > 0 "
            f"ORDER BY {vendor} DESC, field LIMIT ?", (TOP,))]
    shared = [
        dict(r) for r in conn.execute(
            f"SELECT iid, field, op, value, rules, sigma, elastic, splunk, vendors "
            f"FROM indicators WHERE {vendor} > 0 AND vendors >= 2 "
            f"ORDER BY vendors DESC, rules DESC, iid LIMIT ?", (TOP,))]
    failures = [dict(r) for r in conn.execute(
        "SELECT f.path, f.line, f.message FROM failures f JOIN sources s "
        "ON s.source_id = f.source_id WHERE s.vendor = ? ORDER BY f.path LIMIT 100",
        (vendor,))]
    return {
        "vendor": vendor, "name": VENDOR_NAMES[vendor], "sources": sources,
        "rules": totals[0], "visible": totals[1] or 0, "deprecated": totals[2] or 0,
        "building_blocks": totals[3] or 0, "hunting": totals[4] or 0,
        "levels": dict(sorted(levels.items(), key=lambda kv: level_rank(kv[0]))),
        "statuses": _counts(conn, "status", vendor), "kinds": _counts(conn, "kind", vendor),
        "languages": _counts(conn, "language", vendor),
        "parse_status": _counts(conn, "parse_status", vendor),
        "techniques": techniques, "tactics": tactics, "fields": fields,
        "shared_indicators": shared, "failures": failures,
    }
