"""Sigma rules: the log source (product, category, service) names the events.

A category maps to fixed events (``windows/process_creation`` is Sysmon 1 or
Security 4688). A service names a provider, narrowed by the rule's own tests
on the provider's code field: ``windows/security`` with ``EventID: 4624`` in
every branch reads Security 4624 only. A correlation rule needs the events of
every rule it names, taken from the catalog rows of those rules.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ruledex.events.catalog import EventCatalog
from ruledex.events.mapping import Group, Mapping, narrowed
from ruledex.model import Rule


def sigma_mapping(rule: Rule, catalog: EventCatalog,
                  conn: sqlite3.Connection | None = None) -> Mapping:
    """The events a Sigma rule reads."""
    if rule.kind == "correlation":
        return _correlation(rule, conn)
    source = {k: str(v).strip().lower() for k, v in rule.logsource.items()
              if k in ("product", "category", "service") and v}
    product = source.get("product", "")
    category = source.get("category")
    service = source.get("service")
    table = catalog.sigma

    if category:
        events = _lookup(table.get("categories") or {}, product, category)
        if isinstance(events, list):
            return Mapping([Group(list(events), f"logsource {product or '*'}/{category}")])
    if service:
        target = _lookup(table.get("services") or {}, product, service)
        basis = f"logsource {product or '*'}/{service}"
        if isinstance(target, list):
            return Mapping([Group(list(target), basis)])
        if isinstance(target, str):
            provider = catalog.providers[target]
            events = narrowed(catalog, provider, rule.tree)
            if events:
                fields = "/".join(provider.narrow[:2])
                return Mapping([Group(events, f"{basis}, {fields}")])
            return Mapping([Group([provider.id], basis)])
    if product and not category and not service:
        target = (table.get("products") or {}).get(product)
        if isinstance(target, str):
            return Mapping([Group([target], f"logsource {product}")])
        if isinstance(target, list):
            return Mapping([Group(list(target), f"logsource {product}")])
    if not source:
        return Mapping.missing("the rule declares no log source")
    written = "/".join(source.get(k, "-") for k in ("product", "category", "service"))
    return Mapping.missing(f"no event for Sigma log source {written}")


def _lookup(table: dict[str, Any], product: str, name: str) -> Any:
    """A ``product/name`` entry, else the ``*/name`` one."""
    found = table.get(f"{product}/{name}")
    return found if found is not None else table.get(f"*/{name}")


def _correlation(rule: Rule, conn: sqlite3.Connection | None) -> Mapping:
    """The groups of every referenced rule, all needed: a correlation joins their events."""
    refs = (rule.extra.get("correlation") or {}).get("rules") or []
    if conn is None or not refs:
        return Mapping.missing("correlation rule naming no rules it could be resolved to")
    groups: list[Group] = []
    missing: list[str] = []
    for index, ref in enumerate(refs):
        rid = _referenced_rid(conn, str(ref))
        rows = conn.execute("SELECT grp, event_id FROM rule_events WHERE rid = ? "
                            "ORDER BY grp", (rid,)).fetchall() if rid is not None else []
        if not rows:
            missing.append(str(ref))
            continue
        by_group: dict[int, list[str]] = {}
        for grp, event_id in rows:
            by_group.setdefault(grp, []).append(event_id)
        step = index if len(refs) > 1 else None
        groups.extend(Group(events, f"correlated rule {ref}", step)
                      for events in by_group.values())
    if missing:
        # A correlation with an unresolved part cannot be judged runnable.
        return Mapping(groups, "correlation names rules without mapped events: "
                       + ", ".join(missing))
    return Mapping(groups)


def _referenced_rid(conn: sqlite3.Connection, ref: str) -> int | None:
    row = conn.execute("SELECT rid FROM rules WHERE vendor = 'sigma' AND id = ?",
                       (ref,)).fetchone()
    if row is not None:
        return int(row[0])
    for rid, extra in conn.execute(
            "SELECT rid, extra FROM rules WHERE vendor = 'sigma' AND extra LIKE ?",
            (f"%{ref}%",)):
        if json.loads(extra).get("name") == ref:
            return int(rid)
    return None
