"""Elastic rules: index patterns give the providers, the query gives the event.

The provider comes from the rule's index patterns (an ES|QL rule's FROM), or
failing that from ``event.dataset`` in the query, the rule's data-source tags
or its integrations. The event within a provider comes from what the query
pins: the provider's code field (``event.code``, ``event.action`` for cloud
APIs), an ECS action the table knows, or ``event.category`` with
``event.type``. Each step of an EQL sequence is its own group: a sequence of a
process start then a network connection needs both events.

Known shortcoming: endpoint products (Elastic Defend, Endgame, SentinelOne,
CrowdStrike, Defender XDR) have one event per category (process, file,
network...), not per action, since their agents collect by category.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from ruledex.events.catalog import EventCatalog
from ruledex.events.mapping import Group, Mapping, Pins, provider_events, unique
from ruledex.events.narrow import required, steps
from ruledex.model import Node, Rule

_FROM = re.compile(r"^\s*(?:from|ts)\s+(.+?)(?:\s+metadata\b|\||$)", re.IGNORECASE | re.DOTALL)
_DATASET_FIELDS = ("event.dataset", "data_stream.dataset")


@dataclass
class _Sources:
    """Providers a rule reads, with the category each index implies, and fixed events."""

    providers: list[str]
    hints: dict[str, set[str]]
    events: list[str]
    basis: str
    tagged: list[str]


def elastic_mapping(rule: Rule, catalog: EventCatalog) -> Mapping:
    """The events an Elastic rule or hunting query reads."""
    if rule.rule_type == "machine_learning":
        return _ml_mapping(rule, catalog)
    if rule.language in ("sql", "osquery"):
        return Mapping([Group(["osquery"], "osquery SQL query")])
    indices = _indices(rule)
    scopes = steps(rule.tree)
    parts: list[tuple[Node | None, int | None]] = (
        [(s, i) for i, s in enumerate(scopes)] if scopes else [(rule.tree, None)])
    groups: list[Group] = []
    unmapped: list[str] = []
    for scope, step_no in parts:
        sources = _sources(rule, catalog, indices, scope)
        if sources is None:
            where = ", ".join(indices) if indices else "no index"
            return Mapping.missing(f"no event provider for {where}")
        events, basis = _scope_events(catalog, sources, scope)
        if events:
            groups.append(Group(events, basis, step_no))
        else:
            unmapped.append(basis)
    if unmapped and not groups:
        return Mapping.missing(f"no event matches {unmapped[0]}")
    # A sequence with an unmapped step keeps the steps it has, marked incomplete.
    return Mapping(groups, f"no event matches {unmapped[0]}" if unmapped else None)


def _indices(rule: Rule) -> list[str]:
    raw = rule.logsource.get("index") or []
    indices = [str(i).strip() for i in (raw if isinstance(raw, list) else [raw]) if i]
    if not indices and rule.query:
        match = _FROM.match(rule.query)
        if match and rule.language in ("esql", "es|ql", ""):
            indices = [i.strip().strip('"') for i in match.group(1).split(",") if i.strip()]
    return indices


def _index_entry(catalog: EventCatalog, index: str) -> dict[str, Any] | None:
    lowered = index.lower()
    for entry in catalog.elastic.get("indices") or []:
        pattern = str(entry["index"]).lower()
        if fnmatchcase(lowered, pattern) or lowered == pattern:
            return dict(entry)
    return None


def _sources(rule: Rule, catalog: EventCatalog, indices: list[str],
             scope: Node | None) -> _Sources | None:
    entries = [(i, e) for i, e in ((i, _index_entry(catalog, i)) for i in indices) if e]
    specific = [(i, e) for i, e in entries
                if not e.get("ambiguous") and not e.get("generic")]
    named = {p for _, e in specific for p in e.get("providers") or ()}
    providers: list[str] = []
    hints: dict[str, set[str]] = {}
    events: list[str] = []
    used: list[str] = []
    for index, entry in entries:
        if entry.get("generic"):
            continue
        own = list(entry.get("providers") or ())
        if entry.get("ambiguous") and named & set(own):
            # Read as carrying what the rule's specific indices carry.
            continue
        providers.extend(own)
        events.extend(entry.get("events") or ())
        if entry.get("hint"):
            for provider in own:
                hints.setdefault(provider, set()).add(str(entry["hint"]))
        used.append(index)
    basis = "index " + ", ".join(used[:3]) + (" ..." if len(used) > 3 else "")

    # A dataset the query pins is exact: it picks the provider among the indices.
    datasets = required(scope, _DATASET_FIELDS) or required(rule.tree, _DATASET_FIELDS)
    by_dataset = _dataset_sources(catalog, datasets) if datasets else None
    if datasets and by_dataset:
        providers, events = by_dataset
        basis = "event.dataset " + ", ".join(sorted(datasets))
    found = _tagged(rule, catalog)
    tagged = found[0] if found else []
    if not providers and not events:
        if found is None:
            return None
        providers, basis = found
    return _Sources(unique(providers), hints, unique(events), basis, tagged)


def _dataset_sources(catalog: EventCatalog,
                     datasets: frozenset[str]) -> tuple[list[str], list[str]] | None:
    providers: list[str] = []
    events: list[str] = []
    for dataset in sorted(datasets):
        entry = _index_entry(catalog, f"logs-{dataset}-default")
        if entry and not entry.get("generic"):
            providers.extend(entry.get("providers") or ())
            events.extend(entry.get("events") or ())
    return (providers, events) if providers or events else None


def _tagged(rule: Rule, catalog: EventCatalog) -> tuple[list[str], str] | None:
    """Providers from the data-source tags, else the integrations; None when neither helps."""
    tags = rule.logsource.get("data_source") or []
    table = catalog.elastic.get("data_sources") or {}
    found = [p for tag in tags for p in table.get(str(tag).split(":", 1)[-1].strip(), ())]
    if found:
        return unique(found), "data source " + ", ".join(str(t) for t in tags[:3])
    integrations = rule.logsource.get("integration") or rule.extra.get("integration") or []
    table = catalog.elastic.get("integrations") or {}
    # A hunt may name the integration's dataset ("aws.cloudtrail"): try the dataset first.
    found = []
    for name in map(str, integrations):
        dataset = _dataset_sources(catalog, frozenset({name})) if "." in name else None
        found.extend(dataset[0] if dataset else table.get(name.split(".")[0], ()))
    if found:
        return unique(found), "integration " + ", ".join(str(i) for i in integrations[:3])
    return None


def _scope_events(catalog: EventCatalog, sources: _Sources,
                  scope: Node | None) -> tuple[list[str], str]:
    """Events of one query scope, first from what the query pins.

    With several candidate providers, only those the query's pins choose count
    (a network step does not read the Security log as a whole). When the pins
    choose none, the rule's data-source tags pick among the candidates, and
    the chosen providers are read whole.
    """
    pins = Pins(categories=required(scope, ["event.category"]),
                types=required(scope, ["event.type"]),
                actions=required(scope, ["event.action"]))
    several = len(sources.providers) > 1
    events = list(sources.events)
    for pid in sources.providers:
        hints = frozenset(sources.hints.get(pid, ()))
        events.extend(provider_events(catalog, catalog.providers[pid], scope, pins,
                                      hints or None, strict=several))
    if not events:
        chosen = [p for p in sources.providers if p in sources.tagged] or sources.providers
        for pid in chosen:
            hints = frozenset(sources.hints.get(pid, ()))
            events.extend(provider_events(catalog, catalog.providers[pid], scope, pins,
                                          hints or None, strict=False))
    what = sources.basis
    if pins.categories:
        what += ", event.category " + "/".join(sorted(pins.categories))
    return unique(events), what


def _ml_mapping(rule: Rule, catalog: EventCatalog) -> Mapping:
    """A machine-learning rule: providers from its tags, the category from its job id."""
    found = _tagged(rule, catalog)
    pins = ml_pins(rule, catalog)
    if found is None or pins is None:
        return Mapping.missing("machine-learning job whose events the rule does not say")
    providers, basis = found
    strict = len(providers) > 1 and pins.categories is not None
    events: list[str] = []
    for pid in providers:
        events.extend(provider_events(catalog, catalog.providers[pid], None, pins,
                                      strict=strict))
    if not events:
        return Mapping.missing("machine-learning job whose events the rule does not say")
    what = "/".join(sorted(pins.categories)) if pins.categories else "any event"
    return Mapping([Group(unique(events), f"machine-learning job on {basis}: {what}")])


def ml_pins(rule: Rule, catalog: EventCatalog) -> Pins | None:
    """The event category a machine-learning job reads, from the words of its id."""
    jobs = (rule.extra.get("machine_learning") or {}).get("job_ids") or rule.extra.get(
        "machine_learning_job_id") or []
    jobs = jobs if isinstance(jobs, list) else [jobs]
    words = catalog.elastic.get("ml_job_words") or {}
    categories = set()
    for job in jobs:
        for word, category in words.items():
            if word in str(job):
                categories.add(str(category))
                break
    if not categories:
        return None
    return Pins(categories=frozenset(categories - {"any"}) or None)
