"""The feasibility page: which rules run on the events a site collects.

The form lists the catalog's events by provider; the answer comes from
:func:`ruledex.analysis.events.feasibility`. It needs the server: the static
export has no page for it.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from ruledex.analysis.events import feasibility, list_events, resolve_event
from ruledex.analysis.technique import VENDOR_ORDER
from ruledex.events.catalog import UnknownEvent, load
from ruledex.web.views import BadRequest, Page, PageNotFound, ViewContext

MAX_EVENTS = 500
"""Events one request may name; more is a mistake or a scan, not a site's collection."""

MAX_TEXT = 20_000
UNKNOWN_SHOWN = 10


def _values(query: Mapping[str, str], name: str) -> list[str]:
    """Every value of a repeated query parameter (``?event=a&event=b``)."""
    getlist = getattr(query, "getlist", None)
    values = list(getlist(name)) if getlist is not None else [query.get(name, "")]
    return [v.strip() for v in values if v and v.strip()]


def text_lines(text: str) -> list[str]:
    """Event ids or names typed one per line; ``#`` starts a comment."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def resolve_events(conn: sqlite3.Connection, items: list[str]) -> list[str]:
    """The event id meant by each id or name, in order; BadRequest names every unknown one."""
    if len(items) > MAX_EVENTS:
        raise BadRequest(f"{len(items)} events asked for; the page takes at most {MAX_EVENTS}")
    catalog = load()
    ids: list[str] = []
    unknown: list[str] = []
    for item in items:
        try:
            ids.append(resolve_event(conn, item, catalog))
        except UnknownEvent:
            unknown.append(repr(item))
    if unknown:
        shown = ", ".join(unknown[:UNKNOWN_SHOWN])
        more = f" and {len(unknown) - UNKNOWN_SHOWN} more" if len(unknown) > UNKNOWN_SHOWN else ""
        raise BadRequest(f"unknown event{'s' if len(unknown) > 1 else ''}: {shown}{more}; "
                         "use ids such as sysmon:1 or names such as 'Sysmon 1', "
                         "'Security 4688', 'PowerShell 4104' (the Events page lists them)")
    return ids


def event_choices(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The form's events grouped by provider, the provider with the most-needed event first.

    Events no visible rule needs are left out (the text box still takes them),
    except a provider's own entry, which collects every event of the provider.
    """
    catalog = load()
    groups: dict[str, dict[str, Any]] = {}
    for event in events:  # list_events gives the most-needed first
        provider = event["provider"]
        known = catalog.providers.get(provider)
        group = groups.setdefault(provider, {
            "provider": provider, "name": known.name if known else provider,
            "top": 0, "whole": None, "events": []})
        item = {"id": event["id"], "name": event["name"], "title": event["title"],
                "class": event["class"]["name"], "rules": event["rules_total"]}
        group["top"] = max(group["top"], event["rules_total"])
        if event["code"] is None:
            group["whole"] = item
        elif event["rules_total"]:
            group["events"].append(item)
    kept = [g for g in groups.values() if g["top"]]
    kept.sort(key=lambda g: (-g["top"], g["name"].lower()))
    return kept


def next_events(result: dict[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Events that alone would make the most not-runnable rules runnable, over all vendors.

    A rule short of two or more needs counts for none of them: no single
    event runs it.
    """
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for vendor, row in result["vendors"].items():
        for rule in row["not_runnable_rules"]:
            if len(rule["missing"]) == 1:
                for event_id in rule["missing"][0]:
                    counts[event_id][vendor] += 1
    return _ranked(counts, "event", {e: names.get(e, e) for e in counts})


def technique_coverage(result: dict[str, Any],
                       rule_techniques: Mapping[tuple[str, str], list[str]],
                       technique_names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Each technique the runnable rules cover, with its runnable rules per vendor."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for vendor, row in result["vendors"].items():
        for rule in row["runnable_rules"]:
            for technique in rule_techniques.get((vendor, rule["id"]), ()):
                counts[technique][vendor] += 1
    return _ranked(counts, "id", technique_names)


def _ranked(counts: Mapping[str, Counter[str]], key: str,
            names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Rule counts per vendor as rows, the largest total first."""
    out: list[dict[str, Any]] = [{key: k, "name": names.get(k, ""), "rules": sum(c.values()),
            "vendors": {v: c[v] for v in VENDOR_ORDER if c[v]}} for k, c in counts.items()]
    out.sort(key=lambda item: (-item["rules"], item[key]))
    return out


def _rule_techniques(conn: sqlite3.Connection) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = defaultdict(list)
    for vendor, rule_id, technique in conn.execute(
            "SELECT r.vendor, r.id, rt.technique_id FROM rule_techniques rt "
            "JOIN rules r ON r.rid = rt.rid ORDER BY rt.technique_id"):
        out[(vendor, rule_id)].append(technique)
    return dict(out)


def feasibility_page(ctx: ViewContext) -> Page:
    """The form, and with ``?event=`` or ``?events=`` which rules those events run."""
    if ctx.static:
        raise PageNotFound("the feasibility page needs the server (`ruledex serve`)")
    conn = ctx.conn
    include_hidden = ctx.flag("all")
    text = ctx.query.get("events", "")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"the events text is longer than {MAX_TEXT:,} characters")

    # Ids from the checkboxes and whatever was typed, resolved alike.
    boxes, lines = _values(ctx.query, "event"), text_lines(text)
    ids = resolve_events(conn, boxes + lines)
    collected = list(dict.fromkeys(ids))
    events = ctx.catalog.cached("events", lambda: list_events(conn))
    choices = ctx.catalog.cached("feasibility_choices", lambda: event_choices(events))
    names = ctx.catalog.cached("event_names", lambda: {e["id"]: e["name"] for e in events})

    # The form comes back with typed events that have a checkbox ticked instead.
    offered = ctx.catalog.cached("feasibility_offered", lambda: _offered(choices))
    typed = ids[len(boxes):]
    chosen = set(ids[:len(boxes)]) | {i for i in typed if i in offered}
    kept = [line for line, i in zip(lines, typed, strict=True) if i not in offered]
    context: dict[str, Any] = {
        "choices": choices, "chosen": chosen, "text": "\n".join(kept), "event_names": names,
        "open_groups": {i.split(":", 1)[0] for i in chosen},
        "asked": "event" in ctx.query or "events" in ctx.query}
    if not collected:
        data = {"collected": [], "include_hidden": include_hidden, "choices": choices}
        return Page("feasibility.html", "Feasibility", data, context)

    # The answer, with what the library leaves for the page to rank.
    result = feasibility(conn, collected, include_hidden)
    rule_techniques = ctx.catalog.cached("rule_techniques", lambda: _rule_techniques(conn))
    technique_names = ctx.catalog.cached(
        "technique_names", lambda: dict(conn.execute("SELECT id, name FROM techniques")))
    catalog = load()
    for item in result["collected"]:
        if item["name"] == item["id"]:  # a code no rule names yet has no row of its own
            item["name"] = catalog.event(item["id"]).name
    data = {**result, "include_hidden": include_hidden, "next": next_events(result, names),
            "coverage": technique_coverage(result, rule_techniques, technique_names)}
    title = "Feasibility: " + ", ".join(e["name"] for e in result["collected"][:3])
    if len(result["collected"]) > 3:
        title += f" and {len(result['collected']) - 3} more"
    return Page("feasibility.html", title, data, context)


def _offered(choices: list[dict[str, Any]]) -> set[str]:
    """Ids of the events the form has a checkbox for."""
    out: set[str] = set()
    for group in choices:
        if group["whole"]:
            out.add(group["whole"]["id"])
        out.update(e["id"] for e in group["events"])
    return out
