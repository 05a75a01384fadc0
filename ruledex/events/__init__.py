"""The telemetry events each rule reads.

Until the event catalog maps log sources to concrete event types, a rule's
events are its declared log source (Sigma ``product/category/service``).
"""

from __future__ import annotations

import sqlite3

from ruledex.model import Predicate, Rule


def logsource_events(rule: Rule) -> list[tuple[str, str]]:
    """``(event id, name)`` pairs for a rule, from its declared log source."""
    parts = [str(rule.logsource.get(k)) for k in ("product", "category", "service")
             if rule.logsource.get(k)]
    if not parts:
        return []
    key = "/".join(parts)
    return [(f"logsource:{key}", " ".join(parts))]


def record(conn: sqlite3.Connection, rid: int, rule: Rule,
           predicates: list[Predicate]) -> None:
    """Store the events of one rule."""
    for event_id, name in logsource_events(rule):
        conn.execute("INSERT OR IGNORE INTO events (id, name) VALUES (?, ?)", (event_id, name))
        conn.execute("INSERT OR IGNORE INTO rule_events VALUES (?, ?)", (rid, event_id))
