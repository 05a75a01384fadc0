"""Splunk detections: the declared data sources, else the leading macro or data model.

A detection lists its data sources by name ("Sysmon EventID 1", "Windows
Event Log Security 4688"); the names resolve through the table learned from
the repository's data_sources files. Entries are alternatives (a CIM data
model fed by any of them); an entry written "A AND B" needs both. Without a
data source that resolves, the first macro the table knows (``sysmon``,
``wineventlog_security``) names the provider, narrowed by EventCode tests,
and failing that the CIM data model the search reads.

Known shortcomings: a data model stands for the events that commonly feed it
(our table), not for what a given Splunk deployment maps into it; and when a
detection's YAML text is not at hand, an "A AND B" entry split by the source
reads as two alternatives.
"""

from __future__ import annotations

import itertools
import re

from ruledex.events.catalog import EventCatalog, UnknownEvent
from ruledex.events.mapping import Group, Mapping, narrowed, unique
from ruledex.events.narrow import required
from ruledex.model import Rule

_AND = re.compile(r"\s+AND\s+")
_DATA_SOURCE_BLOCK = re.compile(r"^data_source:[ \t]*\n((?:[ \t]*-[^\n]*\n?)+)", re.MULTILINE)
_LIST_ITEM = re.compile(r"^[ \t]*-[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_NO_EVENTS_MODELS = {"Risk": "reads the Risk data model (findings of other detections)",
                     "Alerts": "reads the Alerts data model (findings of other products)"}


def splunk_mapping(rule: Rule, catalog: EventCatalog) -> Mapping:
    """The events a Splunk detection reads."""
    names = rule.logsource.get("data_source") or []
    names = [str(n) for n in (names if isinstance(names, list) else [names]) if n]
    written = _written_data_sources(rule.source_text)
    if any(_AND.search(n) for n in written):
        # The source may split "A AND B" into two entries; the text keeps the AND.
        names = written
    unknown: list[str] = []
    if names:
        groups = _data_source_groups(catalog, names, unknown)
        if groups:
            return Mapping(groups)
    by_macro = _macro_mapping(rule, catalog)
    if by_macro is not None:
        return by_macro
    by_model = _datamodel_mapping(rule, catalog)
    if by_model is not None:
        return by_model
    if unknown:
        return Mapping.missing("unknown data source " + ", ".join(unknown[:3]))
    return Mapping.missing("no data source, known macro or data model")


def _written_data_sources(text: str) -> list[str]:
    """The data_source list as written in the detection's YAML text."""
    match = _DATA_SOURCE_BLOCK.search(text or "")
    if match is None:
        return []
    return [item.strip().strip("'\"") for item in _LIST_ITEM.findall(match.group(1))]


def resolve_data_source(catalog: EventCatalog, name: str) -> list[str] | None:
    """The events of one data-source name, or None when the table does not know it."""
    name = name.strip()
    table = catalog.splunk.get("data_sources") or {}
    if name in table:
        return list(table[name])
    for pattern, template in catalog.splunk.get("data_source_patterns") or []:
        match = re.match(pattern, name)
        if match is None:
            continue
        out: list[str] = []
        for code in re.split(r"\s*,\s*", match.group(1).strip()):
            try:
                out.append(catalog.event(template.replace("{1}", code)).id)
            except UnknownEvent:
                return None
        return out
    return None


def _data_source_groups(catalog: EventCatalog, names: list[str],
                        unknown: list[str]) -> list[Group]:
    """Entries are alternatives; "A AND B" entries are conjunctions, so the need is
    the OR of ANDs turned into groups that must all be met."""
    conjunctions: list[list[tuple[str, list[str]]]] = []
    for entry in names:
        parts: list[tuple[str, list[str]]] = []
        for part in _AND.split(entry.strip()):
            events = resolve_data_source(catalog, part)
            if events is None:
                unknown.append(part)
            else:
                parts.append((part, events))
        if parts:
            conjunctions.append(parts)
    if not conjunctions:
        return []
    if all(len(parts) == 1 for parts in conjunctions):
        events = unique(e for parts in conjunctions for e in parts[0][1])
        label = ", ".join(parts[0][0] for parts in conjunctions[:3])
        return [Group(events, f"data source {label}" + (" ..." if len(conjunctions) > 3
                                                        else ""))]
    found: dict[frozenset[str], Group] = {}
    for choice in itertools.product(*conjunctions):
        events = unique(e for _, evs in choice for e in evs)
        label = " or ".join(unique(name for name, _ in choice))
        found.setdefault(frozenset(events), Group(events, f"data source {label}"))
    # A group that contains another is met whenever that one is: drop it.
    return [group for key, group in found.items()
            if not any(other < key for other in found)]


def _macro_mapping(rule: Rule, catalog: EventCatalog) -> Mapping | None:
    table = catalog.splunk.get("macros") or {}
    macros = rule.extra.get("macros") or []
    macros = unique([str(m) for m in macros] + [p.macro for p in rule.predicates if p.macro])
    for macro in macros:
        target = table.get(macro)
        if target is None:
            continue
        basis = f"macro {macro}"
        if isinstance(target, list):
            return Mapping([Group(list(target), basis)])
        events: list[str] = []
        for pid in [target] if isinstance(target, str) else target:
            provider = catalog.providers[pid]
            found = narrowed(catalog, provider, rule.tree)
            if found:
                basis = f"macro {macro}, narrowed by {'/'.join(provider.narrow[:2])}"
                events.extend(found)
            elif provider.default:
                events.extend(catalog.event_id(pid, c) for c in provider.default)
            else:
                events.append(pid)
        return Mapping([Group(unique(events), basis)])
    return None


def _datamodel_mapping(rule: Rule, catalog: EventCatalog) -> Mapping | None:
    models = rule.extra.get("datamodel") or []
    models = [models] if isinstance(models, str) else list(models)
    pinned = required(rule.tree, ["datamodel"])
    models = unique([str(m) for m in models] + sorted(pinned or ()))
    table = catalog.splunk.get("datamodels") or {}
    for model in models:
        root = model.split(".")[0]
        if root in _NO_EVENTS_MODELS:
            return Mapping.missing(_NO_EVENTS_MODELS[root])
        events = table.get(model) or table.get(root)
        if events:
            return Mapping([Group(list(events), f"data model {model}")])
    return None
