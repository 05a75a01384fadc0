"""What a rule needs to run, in events: groups of alternatives that must all be met."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ruledex.events.catalog import EventCatalog, Provider
from ruledex.events.narrow import required
from ruledex.model import Node


@dataclass
class Group:
    """Events that are alternatives: the rule's need is met when any one is collected.

    ``step`` is the sequence step the group stands for, so that a page can tell
    which predicates of a sequence read which event.
    """

    events: list[str]
    basis: str
    step: int | None = None


@dataclass
class Mapping:
    """A rule's needs: every group must be met. ``gap`` says what could not be mapped."""

    groups: list[Group] = field(default_factory=list)
    gap: str | None = None

    @classmethod
    def missing(cls, reason: str) -> Mapping:
        return cls([], reason)


@dataclass
class Pins:
    """What a query fixes about its events (ECS names; None when left open)."""

    categories: frozenset[str] | None = None
    types: frozenset[str] | None = None
    actions: frozenset[str] | None = None


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))


def narrowed(catalog: EventCatalog, provider: Provider, scope: Node | None,
             strict: bool = False) -> list[str] | None:
    """Events named by the provider's narrow fields in ``scope``; None when not pinned.

    With ``strict`` a code the provider cannot carry is dropped, for when the
    provider is only one of several a rule may read.
    """
    if not provider.narrow:
        return None
    values = required(scope, provider.narrow)
    if values is None:
        return None
    codes = unique(provider.code(v) for v in sorted(values) if v.strip())
    if strict:
        codes = [c for c in codes if provider.carries(c)]
    return [catalog.event_id(provider.id, c) for c in codes]


def provider_events(catalog: EventCatalog, provider: Provider, scope: Node | None,
                    pins: Pins, hints: frozenset[str] | None = None,
                    strict: bool = False) -> list[str]:
    """The events of one provider that a query scope reads.

    Codes pinned by the provider's narrow fields win; then ECS actions the
    provider knows; then the event category (or the index's hint) with its
    event type. Failing those, the provider's default events or the provider
    as a whole; but with ``strict`` (the provider is one of several the rule
    may read) nothing, since nothing in the query chose this provider.
    """
    codes = narrowed(catalog, provider, scope, strict)
    if codes is not None:
        return codes
    ids = [catalog.event_id(provider.id, c) for c in _action_codes(provider, pins)]
    if ids:
        return unique(ids)
    categories = pins.categories if pins.categories else hints
    if categories:
        found: list[str] = []
        for category in sorted(categories):
            found.extend(_category_codes(provider, category.lower(), pins.types))
        if found:
            return unique(catalog.event_id(provider.id, c) for c in found)
    if strict:
        return []
    if provider.default:
        return [catalog.event_id(provider.id, c) for c in provider.default]
    return [provider.id]


def _action_codes(provider: Provider, pins: Pins) -> list[str]:
    if not pins.actions or not provider.actions:
        return []
    out: list[str] = []
    for action in sorted(pins.actions):
        out.extend(provider.actions.get(action.lower(), ()))
    return out


def _category_codes(provider: Provider, category: str,
                    types: frozenset[str] | None) -> tuple[str, ...]:
    if types:
        specific: list[str] = []
        for kind in sorted(types):
            specific.extend(provider.categories.get(f"{category}/{kind.lower()}", ()))
        if specific:
            return tuple(specific)
    return provider.categories.get(category, ())
