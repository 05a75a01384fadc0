"""The event catalog read from ``ruledex/data/events.yaml``: classes, providers, events.

A provider is a log channel or sensor stream (Sysmon, the Windows Security
log, CloudTrail, Elastic Defend). Its events are ``<provider>:<code>``; the
bare ``<provider>`` id stands for any event of it. A provider with ``narrow``
fields accepts codes the table does not list (a CloudTrail eventName, a
Security event id), so ``aws-cloudtrail:ConsoleLogin`` is an event although
the file never names it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ruledex.model import RuledexError

DATA_NAME = "events.yaml"


class UnknownEvent(RuledexError):
    """An event id or name that the event catalog does not know."""


@dataclass(frozen=True)
class EventClass:
    """An abstract kind of event, lined up with an ATT&CK data component."""

    id: str
    name: str
    data_component: str | None


@dataclass(frozen=True)
class Event:
    """One concrete event type, or a whole provider when ``code`` is None."""

    id: str
    name: str
    title: str
    provider: str
    code: str | None
    class_id: str
    platform: str
    attack: tuple[str, str] | None = None

    @property
    def parent(self) -> str | None:
        """The provider-wide event this one narrows."""
        return self.provider if self.code is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "title": self.title,
                "provider": self.provider, "code": self.code, "class": self.class_id,
                "platform": self.platform, "parent": self.parent,
                "attack_log_source": " ".join(p for p in self.attack if p) if self.attack
                else None}


@dataclass
class Provider:
    """A log channel or sensor stream and the events it carries."""

    id: str
    name: str
    platform: str
    class_id: str
    narrow: tuple[str, ...] = ()
    fold: bool = False
    codes: tuple[tuple[int, int], ...] = ()
    names: tuple[str, ...] = ()
    attack: str | None = None
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)
    actions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    default: tuple[str, ...] = ()
    events: dict[str, tuple[str, str, tuple[str, str] | None]] = field(default_factory=dict)

    def code(self, value: str) -> str:
        """A code as stored: trimmed, lower-cased for providers that fold."""
        value = value.strip()
        return value.lower() if self.fold else value

    def carries(self, code: str) -> bool:
        """Whether the provider can carry ``code`` (always, when it declares no ranges)."""
        if code in self.events or not self.codes:
            return True
        if not code.isdigit():
            return False
        number = int(code)
        return any(low <= number <= high for low, high in self.codes)

    def accepts(self, code: str) -> bool:
        """Whether ``<provider>:<code>`` is a catalog event.

        Ranges only tell providers apart: a rule that names its provider (a
        Sigma service) may use any number, such as a pre-Vista Security id.
        """
        if code in self.events:
            return True
        return bool(self.narrow) and (not self.codes or code.isdigit())


class EventCatalog:
    """Classes, providers and the vendor tables of the event catalog."""

    def __init__(self, data: dict[str, Any]):
        self.classes = {cid: EventClass(cid, spec[0], spec[1])
                        for cid, spec in (data.get("classes") or {}).items()}
        self.providers = {pid: _provider(pid, spec)
                          for pid, spec in (data.get("providers") or {}).items()}
        self.sigma: dict[str, Any] = data.get("sigma") or {}
        self.elastic: dict[str, Any] = data.get("elastic") or {}
        self.splunk: dict[str, Any] = data.get("splunk") or {}
        self._names: dict[str, str] | None = None

    def split(self, event_id: str) -> tuple[Provider, str | None]:
        """The provider and code of an event id; raise UnknownEvent when unknown."""
        pid, sep, code = event_id.partition(":")
        provider = self.providers.get(pid)
        if provider is None:
            raise UnknownEvent(f"no event provider {pid!r} in the event catalog")
        if not sep:
            return provider, None
        code = provider.code(code)
        if not code or not provider.accepts(code):
            raise UnknownEvent(f"{provider.name} has no event {code!r}")
        return provider, code

    def event_id(self, provider: str, code: str | None = None) -> str:
        """The id of a provider's event, its code normalized the provider's way."""
        if code is None:
            return provider
        return f"{provider}:{self.providers[provider].code(code)}"

    def event(self, event_id: str) -> Event:
        """The event with this id, made up for codes a narrowable provider accepts."""
        provider, code = self.split(event_id)
        if code is None:
            attack = (provider.attack, "") if provider.attack else None
            return Event(provider.id, provider.name, "any event", provider.id, None,
                         provider.class_id, provider.platform, attack)
        title, class_id, attack = provider.events.get(code, ("", provider.class_id, None))
        if attack is None and provider.attack and code.isdigit():
            attack = (provider.attack, f"EventCode={code}")
        return Event(f"{provider.id}:{code}", f"{provider.name} {code}", title,
                     provider.id, code, class_id, provider.platform, attack)

    def listed(self) -> list[Event]:
        """Every event the data file names, providers first."""
        out = []
        for provider in self.providers.values():
            out.append(self.event(provider.id))
            out.extend(self.event(f"{provider.id}:{code}") for code in provider.events)
        return out

    def resolve(self, text: str) -> str:
        """The event id meant by an id or a name such as ``Sysmon 1`` or ``Security 4688``."""
        raw = text.strip()
        try:
            return self.event(raw).id
        except UnknownEvent:
            pass
        try:
            return self.event(raw.lower()).id
        except UnknownEvent:
            pass
        key = name_key(raw)
        names = self._name_index()
        if key in names:
            return names[key]
        # "<provider name> <code>", the code as written since some codes keep case.
        head, _, code = raw.rpartition(" ")
        provider = names.get(name_key(head)) if head else None
        if provider is not None and ":" not in provider:
            try:
                event = self.event(f"{provider}:{code}")
            except UnknownEvent:
                event = None
            # A person's list is checked against the codes the provider carries.
            if event is not None and self.providers[provider].carries(event.code or ""):
                return event.id
        raise UnknownEvent(f"no event named {raw!r}; use an id such as sysmon:1 or a name "
                           "such as 'Sysmon 1', 'Security 4688', 'PowerShell 4104'")

    def _name_index(self) -> dict[str, str]:
        if self._names is None:
            names: dict[str, str] = {}
            for event in self.listed():
                names.setdefault(name_key(event.name), event.id)
            for provider in self.providers.values():
                for name in (provider.name, *provider.names):
                    names.setdefault(name_key(name), provider.id)
            self._names = names
        return self._names


_STOP_WORDS = frozenset({"event", "eventid", "eventcode", "id", "code", "log", "logs"})


def name_key(text: str) -> str:
    """A name reduced for lookup: lower case, words only, filler words dropped."""
    words = re.sub(r"[^a-z0-9]+", " ", text.lower()).split()
    return " ".join(w for w in words if w not in _STOP_WORDS)


def _ranges(text: str | None) -> tuple[tuple[int, int], ...]:
    out = []
    for part in str(text or "").split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        out.append((int(low), int(high or low)))
    return tuple(out)


def _provider(pid: str, spec: dict[str, Any]) -> Provider:
    events = {}
    for code, entry in (spec.get("events") or {}).items():
        attack = tuple(entry[2]) if len(entry) > 2 else None
        events[str(code)] = (str(entry[0]), str(entry[1]), attack)
    fold = spec.get("fold") == "lower"
    if fold:
        events = {code.lower(): value for code, value in events.items()}
    return Provider(
        id=pid, name=str(spec.get("name") or pid), platform=str(spec.get("platform") or "any"),
        class_id=str(spec.get("class") or "application_log"),
        narrow=tuple(spec.get("narrow") or ()), fold=fold, codes=_ranges(spec.get("codes")),
        names=tuple(spec.get("names") or ()), attack=spec.get("attack"),
        categories={k.lower(): tuple(str(c) for c in v)
                    for k, v in (spec.get("categories") or {}).items()},
        actions={k.lower(): tuple(str(c) for c in v)
                 for k, v in (spec.get("actions") or {}).items()},
        default=tuple(str(c) for c in spec.get("default") or ()), events=events)


def read(path: Path) -> EventCatalog:
    """Read an event catalog file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise RuledexError(f"cannot read the event catalog: {err}", str(path)) from err
    return EventCatalog(data or {})


@cache
def load() -> EventCatalog:
    """The event catalog shipped in the package."""
    text = (resources.files("ruledex") / "data" / DATA_NAME).read_text(encoding="utf-8")
    return EventCatalog(yaml.safe_load(text) or {})
