"""The event catalog: which concrete telemetry events each rule reads.

A concrete event is a provider (a log channel or sensor stream) plus a code
within it: Sysmon 1, Windows Security 4688, PowerShell 4104, an AWS CloudTrail
eventName. Each belongs to an abstract class lined up with an ATT&CK data
component. ``ruledex/data/events.yaml`` holds the catalog and the per-vendor
tables; :mod:`ruledex.events.sigma`, :mod:`~ruledex.events.elastic` and
:mod:`~ruledex.events.splunk` read a rule's log source with them.

A rule's needs are groups of alternative events, all of which must be met:
a Sigma process_creation rule has one group (Sysmon 1 or Security 4688); an
EQL sequence of a process start then a network connection has two. A rule
whose events cannot be told gets a recorded reason instead; none is dropped.
"""

from __future__ import annotations

import logging
import sqlite3

from ruledex.events.catalog import Event, EventCatalog, UnknownEvent, load
from ruledex.events.mapping import Group, Mapping
from ruledex.model import Rule

__all__ = ["Event", "EventCatalog", "Group", "Mapping", "UnknownEvent", "load",
           "map_rule", "record", "write_catalog"]

log = logging.getLogger(__name__)


def map_rule(rule: Rule, catalog: EventCatalog | None = None,
             conn: sqlite3.Connection | None = None) -> Mapping:
    """The events one rule needs; ``conn`` lets a correlation find the rules it names."""
    from ruledex.events.elastic import elastic_mapping
    from ruledex.events.sigma import sigma_mapping
    from ruledex.events.splunk import splunk_mapping

    catalog = catalog or load()
    if rule.vendor == "sigma":
        return sigma_mapping(rule, catalog, conn)
    if rule.vendor == "elastic":
        return elastic_mapping(rule, catalog)
    if rule.vendor == "splunk":
        return splunk_mapping(rule, catalog)
    return Mapping.missing(f"no event mapping for vendor {rule.vendor}")


def write_catalog(conn: sqlite3.Connection, catalog: EventCatalog) -> None:
    """Write the classes and every event the data file names."""
    conn.executemany("INSERT OR IGNORE INTO event_classes VALUES (?, ?, ?)",
                     [(c.id, c.name, c.data_component) for c in catalog.classes.values()])
    for event in catalog.listed():
        _write_event(conn, event)


def _write_event(conn: sqlite3.Connection, event: Event) -> None:
    attack = " ".join(p for p in event.attack if p) if event.attack else None
    conn.execute("INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (event.id, event.name, event.title, event.provider, event.code,
                  event.parent, event.class_id, event.platform, attack))


def record(conn: sqlite3.Connection, rid: int, rule: Rule) -> None:
    """Store the events of one rule, or the reason they are unknown.

    The catalog's classes and events must have been written with :func:`write_catalog`.
    """
    catalog = load()
    mapping = map_rule(rule, catalog, conn)
    rows = []
    for index, group in enumerate(mapping.groups):
        for event_id in group.events:
            try:
                event = catalog.event(event_id)
            except UnknownEvent as err:
                # A table entry naming no catalog event is a data-file mistake.
                log.warning("%s: %s", rule.path, err)
                continue
            _write_event(conn, event)
            rows.append((rid, index, event.id, group.step, group.basis))
    conn.executemany("INSERT OR IGNORE INTO rule_events VALUES (?, ?, ?, ?, ?)", rows)
    gap = mapping.gap if rows or mapping.gap else "no event could be named"
    if gap:
        conn.execute("INSERT OR REPLACE INTO rule_event_gaps VALUES (?, ?)", (rid, gap))
