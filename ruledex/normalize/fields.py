"""The field vocabulary: canonical fields, their labels, and each vendor's raw names for them.

The table lives in ``ruledex/data/fields.yaml``; its header explains the alias
groups, the log-source conditions and the value kinds. :meth:`Vocabulary.resolve`
turns a raw field name read by one vendor's rule into its canonical field and says
whether the table knew the name; a name it does not know is its own canonical field.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ruledex.model import RuledexError

VALUE_KINDS = frozenset({
    "keyword", "text", "args", "image", "file", "path", "name", "extension",
    "registry_path", "registry_data", "hashes", "ip", "domain", "event_code",
})
"""How a field's values are normalized; see the header of ``fields.yaml``."""

ALIAS_GROUPS = ("sigma", "elastic", "splunk", "raw", "windows")

VENDOR_GROUPS: dict[str, tuple[str, ...]] = {
    "sigma": ("sigma", "raw", "windows"),
    "splunk": ("splunk", "raw", "windows"),
    "elastic": ("elastic",),
}
"""Alias groups each vendor reads, most specific first."""

WINDOWS_PREFIX = "winlog.event_data."
ELASTIC_SUBFIELDS = (".caseless", ".text", ".keyword")
DATA_FILE = "fields.yaml"

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_CONDITION = re.compile(r"([A-Za-z_]+)=(.*?)(?=\s+[A-Za-z_]+=|\s*$)")

_Test = tuple[str, frozenset[str], tuple[str, ...]]
Condition = tuple[tuple[_Test, ...], ...]
"""Alternatives, each a conjunction of (log-source key, exact values, glob values)."""
ContextKey = tuple[frozenset[str], ...]


class VocabularyError(RuledexError):
    """The vocabulary data file is inconsistent."""


@dataclass(frozen=True)
class CanonicalField:
    """One canonical field: its id, label, value kind and partner fields."""

    id: str
    label: str
    kind: str = "keyword"
    name: str | None = None
    path: str | None = None
    extension: str | None = None
    listed: bool = True


@dataclass(frozen=True)
class Resolution:
    """A raw field name's canonical field, and whether the vocabulary knew the name."""

    field: CanonicalField
    mapped: bool


@dataclass(frozen=True)
class _Prefix:
    raw: str
    canonical: str
    snake: bool
    when: Condition
    groups: tuple[str, ...]


def snake_case(name: str) -> str:
    """``debugContext.debugData`` -> ``debug_context.debug_data``."""
    return ".".join(_CAMEL.sub("_", part).lower() for part in name.split("."))


def parse_condition(spec: str, contexts: Mapping[str, list[str]]) -> Condition:
    """Read ``"key=v1,v2 key2=v3"`` or a context name into alternatives of key tests."""
    spec = spec.strip()
    if not spec:
        return ()
    if "=" not in spec:
        if spec not in contexts:
            raise VocabularyError(f"unknown log-source context {spec!r}")
        return tuple(alt for text in contexts[spec] for alt in parse_condition(text, {}))
    tests = []
    for key, values in _CONDITION.findall(spec):
        wanted = [v.strip().lower() for v in values.split(",") if v.strip()]
        exact = frozenset(v for v in wanted if not _is_glob(v))
        globs = tuple(v for v in wanted if _is_glob(v))
        tests.append((key, exact, globs))
    if not tests or _CONDITION.sub("", spec).strip():
        raise VocabularyError(f"condition {spec!r}: write key=v1,v2 key2=v3 or a context name")
    return (tuple(sorted(tests)),)


def parse_alias(text: str, contexts: Mapping[str, list[str]]) -> tuple[str, Condition]:
    """Split ``"Name @ category=a,b product=c"`` (or ``"Name @ context"``) in two."""
    name, _, spec = str(text).partition("@")
    name = name.strip()
    if not name:
        raise VocabularyError(f"alias {text!r} has no field name")
    return name, parse_condition(spec, contexts)


def _is_glob(value: str) -> bool:
    return "*" in value or "?" in value


class Vocabulary:
    """The canonical fields and the alias index built from the data file."""

    def __init__(self, data: Mapping[str, Any]):
        self.fields: dict[str, CanonicalField] = {}
        # group -> raw name -> [(condition, canonical id)]
        self.aliases: dict[str, dict[str, list[tuple[Condition, str]]]] = {
            group: {} for group in ALIAS_GROUPS}
        self.prefixes: list[_Prefix] = []
        self.namespaces: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {}
        self.contexts: dict[str, list[str]] = {
            str(k): [str(c) for c in v] for k, v in (data.get("contexts") or {}).items()}
        self._load_fields(data.get("fields") or {})
        self._load_windows(data.get("windows_event_data") or [])
        self._load_prefixes(data.get("prefixes") or [])
        for vendor, names in (data.get("namespaces") or {}).items():
            names = [str(n) for n in names]
            self.namespaces[vendor] = (tuple(n for n in names if n.endswith(".")),
                                       frozenset(n for n in names if not n.endswith(".")))
        self._check()
        conditions = [c for group in self.aliases.values() for entries in group.values()
                      for c, _ in entries] + [prefix.when for prefix in self.prefixes]
        keys = {test[0] for condition in conditions for alt in condition for test in alt}
        self.context_keys = tuple(sorted(keys))
        self._key_index = {key: i for i, key in enumerate(self.context_keys)}
        self._cache: dict[tuple[str, ContextKey, str], Resolution] = {}

    @classmethod
    def load(cls, path: Path | str | None = None) -> Vocabulary:
        """Read the vocabulary from ``path``, or the one shipped in the package."""
        if path is None:
            text = resources.files("ruledex").joinpath("data", DATA_FILE).read_text("utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        try:
            data = yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError as err:
            raise VocabularyError(f"invalid YAML: {err}", str(path or DATA_FILE)) from err
        return cls(data or {})

    # -- loading ----------------------------------------------------------------------

    def _load_fields(self, fields: Mapping[str, Any]) -> None:
        for field_id, spec in fields.items():
            spec = spec or {}
            kind = spec.get("kind", "keyword")
            if kind not in VALUE_KINDS:
                raise VocabularyError(f"field {field_id}: unknown kind {kind!r}")
            self.fields[field_id] = CanonicalField(
                field_id, str(spec.get("label") or field_id), kind, spec.get("name"),
                spec.get("path"), spec.get("extension"))
            for group in ALIAS_GROUPS:
                for alias in spec.get(group) or []:
                    self._add_alias(group, alias, field_id)

    def _load_windows(self, names: list[str]) -> None:
        for name in names:
            field_id = WINDOWS_PREFIX + str(name)
            self.fields.setdefault(field_id, CanonicalField(field_id, str(name)))
            self._add_alias("windows", str(name), field_id)

    def _load_prefixes(self, prefixes: list[Mapping[str, Any]]) -> None:
        for spec in prefixes:
            when = parse_condition(str(spec.get("when") or ""), self.contexts)
            groups = tuple(spec.get("groups") or ("raw",))
            self.prefixes.append(_Prefix(str(spec["raw"]), str(spec["canonical"]),
                                         bool(spec.get("snake")), when, groups))
        # Conditional rules are tried before unconditional ones.
        self.prefixes.sort(key=lambda p: not p.when)

    def _add_alias(self, group: str, alias: str, field_id: str) -> None:
        name, condition = parse_alias(alias, self.contexts)
        entries = self.aliases[group].setdefault(name, [])
        if any(c == condition and f != field_id for c, f in entries):
            raise VocabularyError(f"{group} alias {alias!r} names two fields")
        entries.append((condition, field_id))
        # Qualified aliases first so the first match is the most specific.
        entries.sort(key=lambda entry: not entry[0])

    def _check(self) -> None:
        for field in self.fields.values():
            for partner in (field.name, field.path, field.extension):
                if partner is not None and partner not in self.fields:
                    raise VocabularyError(f"field {field.id}: partner {partner} is not listed")
            if field.kind in ("image", "file") and field.name is None:
                raise VocabularyError(f"field {field.id}: an {field.kind} field needs a name")
            if field.kind == "name" and field.path is None:
                raise VocabularyError(f"field {field.id}: a name field needs a path")

    # -- lookups ----------------------------------------------------------------------

    def field(self, field_id: str) -> CanonicalField:
        """The canonical field of an id; an id the table does not list is free text."""
        found = self.fields.get(field_id)
        if found is not None:
            return found
        label = field_id.removeprefix(WINDOWS_PREFIX) if field_id.startswith(WINDOWS_PREFIX) \
            else field_id
        return CanonicalField(field_id, label, "text", listed=False)

    def label(self, field_id: str) -> str:
        """The name detection engineers know a canonical field by."""
        if not field_id:
            return "(any field)"
        base, sep, encoding = field_id.partition("|")
        return self.field(base).label + sep + encoding

    def context_key(self, context: Mapping[str, Any] | None) -> ContextKey:
        """The parts of a rule's log source that the vocabulary's conditions look at."""
        if not context:
            return tuple(frozenset() for _ in self.context_keys)
        key: list[frozenset[str]] = []
        for name in self.context_keys:
            value = context.get(name)
            if value is None:
                key.append(frozenset())
            elif isinstance(value, (list, tuple, set, frozenset)):
                key.append(frozenset(str(v).lower() for v in value))
            else:
                key.append(frozenset((str(value).lower(),)))
        return tuple(key)

    def resolve(self, vendor: str, context: Mapping[str, Any] | None, raw: str) -> Resolution:
        """The canonical field of ``raw`` in a ``vendor`` rule with log source ``context``."""
        ctx = self.context_key(context)
        cache_key = (vendor, ctx, raw)
        found = self._cache.get(cache_key)
        if found is None:
            found = self._resolve(vendor, ctx, raw)
            self._cache[cache_key] = found
        return found

    def _matches(self, condition: Condition, ctx: ContextKey) -> bool:
        if not condition:
            return True
        return any(all(self._test(test, ctx) for test in alt) for alt in condition)

    def _test(self, test: _Test, ctx: ContextKey) -> bool:
        key, exact, globs = test
        have = ctx[self._key_index[key]]
        if exact & have:
            return True
        return any(fnmatchcase(value, glob) for glob in globs for value in have)

    def _alias(self, groups: tuple[str, ...], name: str, ctx: ContextKey) -> str | None:
        best: str | None = None
        for qualified in (True, False):
            for group in groups:
                for condition, field_id in self.aliases[group].get(name, ()):
                    if bool(condition) == qualified and self._matches(condition, ctx):
                        best = field_id
                        break
                if best is not None:
                    return best
        return None

    def _resolve(self, vendor: str, ctx: ContextKey, raw: str) -> Resolution:
        name = raw
        if vendor == "elastic":
            for suffix in ELASTIC_SUBFIELDS:
                if name.endswith(suffix):
                    name = name[:-len(suffix)]
                    break
        elif vendor == "splunk" and "{}" in name:
            # spath's array marker: Elastic flattens arrays without one.
            name = name.replace("{}", "")
        groups = VENDOR_GROUPS.get(vendor, ALIAS_GROUPS)
        field_id = self._alias(groups, name, ctx)
        if field_id is not None:
            return Resolution(self.fields[field_id], True)
        if name in self.fields:
            return Resolution(self.fields[name], True)
        if vendor == "elastic" and name.startswith(WINDOWS_PREFIX):
            field_id = self._alias(("windows",), name[len(WINDOWS_PREFIX):], ctx)
            return Resolution(self.field(field_id or name), True)
        prefixes, exact = self.namespaces.get(vendor, ((), frozenset()))
        owned = name in exact or name.startswith(prefixes)
        for prefix in self.prefixes:
            # A log source's catch-all prefix (raw "") must not claim a name the vendor's
            # schema owns: a Splunk search on Okta data may still read the Risk data model.
            if (name.startswith(prefix.raw) and name != prefix.raw
                    and not (owned and not prefix.raw)
                    and any(g in groups for g in prefix.groups)
                    and self._matches(prefix.when, ctx)):
                rest = name[len(prefix.raw):]
                return Resolution(self.field(
                    prefix.canonical + (snake_case(rest) if prefix.snake else rest)), True)
        if owned:
            return Resolution(self.field(name), True)
        return Resolution(self.field(raw), False)


@functools.cache
def default_vocabulary() -> Vocabulary:
    """The vocabulary shipped in the package, read once per process."""
    return Vocabulary.load()
