"""Fold each vendor's field names and values into one vocabulary.

:class:`Normalizer` is the single entry point the catalog uses: it maps a
predicate as written to its canonical ``(field, op, value)``, the key under
which the same check made by different rules and vendors counts once. Field
names come from the table in ``ruledex/data/fields.yaml``
(:mod:`ruledex.normalize.fields`); values are rewritten by
:mod:`ruledex.normalize.values`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ruledex.model import OPERATORS, Predicate
from ruledex.normalize import values as value_rules
from ruledex.normalize.fields import (
    CanonicalField,
    Resolution,
    Vocabulary,
    default_vocabulary,
)

KEYWORD_FIELD = ""
"""The canonical field of field-less full-text terms (Sigma keywords, SPL free text)."""

NORMALIZED_OPERATORS = OPERATORS | {value_rules.BASENAME_EQ}
"""Operators of normalized predicates: the model's, plus ``basename_eq``.

``basename_eq`` says the part of a path after its last separator equals the
value: ``Image|endswith: '\\x.exe'``, ``process.name: x.exe`` and
``Image: 'C:\\Windows\\x.exe'`` all normalize to
``(process.executable, basename_eq, x.exe)``.
"""

ENCODING_MODIFIERS = ("base64", "base64offset", "wide", "utf16", "utf16le", "utf16be")
"""Sigma modifiers that change the bytes searched for; they stay on the canonical field."""

INDICATOR_STAGES = frozenset({"event", "selector"})
"""Stages whose fields are raw event fields, mapped through the vocabulary."""

SELECTOR_FIELDS = frozenset({
    "winlog.event_id", "winlog.channel", "winlog.provider_name",
    "event.category", "event.type", "event.kind", "event.dataset", "event.module",
    "data_stream.dataset", "data_stream.type", "data_stream.namespace", "_index",
    "host.os.type", "host.os.family", "host.os.platform",
    "splunk.index", "splunk.source", "splunk.sourcetype", "splunk.eventtype",
    "splunk.datamodel", "splunk.tag",
})
"""Canonical fields that say which log or kind of event a rule reads, not what is in it.

A test on them is a log-source selector whatever the vendor: it feeds the event
catalog, not the indicator tables, so Sigma's ``EventID: 4688``, Splunk's
``EventCode=4688`` and Elastic's ``event.type: start`` or ``host.os.type: windows``
narrow the events a rule reads instead of crowding the authoring guide.
"""


@dataclass(frozen=True)
class Normalized:
    """A predicate's canonical field, operator and value."""

    field: str
    op: str
    value: str


class Normalizer:
    """Maps raw predicates to canonical ones for one catalog build."""

    @staticmethod
    def stage(pred: Predicate, canonical_field: str) -> str:
        """The predicate's stage, with tests on :data:`SELECTOR_FIELDS` made selectors."""
        if pred.stage == "event" and canonical_field in SELECTOR_FIELDS:
            return "selector"
        return pred.stage

    def __init__(self, vocabulary: Vocabulary | None = None):
        self.vocabulary = vocabulary or default_vocabulary()
        self._values: dict[tuple[str, str, str, bool, str], Normalized] = {}

    def predicate(self, vendor: str, context: Mapping[str, Any], pred: Predicate) -> Normalized:
        """Canonical form of ``pred`` read by a ``vendor`` rule with log-source ``context``."""
        value = pred.value if pred.value is not None else ""
        if not pred.field:
            return Normalized(KEYWORD_FIELD, pred.op, _fold(value, pred.case_sensitive, pred.op))
        if pred.stage not in INDICATOR_STAGES:
            # Columns the query computed are named by the query, not by any log source.
            return Normalized(pred.field, pred.op, _fold(value, pred.case_sensitive, pred.op))
        field = self.vocabulary.resolve(vendor, context, pred.field).field
        if pred.op == "fieldref":
            other = self.vocabulary.resolve(vendor, context, value).field.id
            return Normalized(field.id, pred.op, other)
        encoding = "|".join(m for m in pred.modifiers if m in ENCODING_MODIFIERS)
        key = (field.id, pred.op, value, pred.case_sensitive, encoding)
        found = self._values.get(key)
        if found is None:
            found = self._value(field, pred.op, value, pred.case_sensitive, encoding)
            self._values[key] = found
        return found

    def resolve(self, vendor: str, context: Mapping[str, Any] | None, raw: str) -> Resolution:
        """The canonical field of a raw field name, and whether the vocabulary knew it."""
        return self.vocabulary.resolve(vendor, context, raw)

    def label(self, field: str) -> str:
        """The name detection engineers know a canonical field by."""
        return self.vocabulary.label(field)

    def _value(self, field: CanonicalField, op: str, value: str, case_sensitive: bool,
               encoding: str) -> Normalized:
        if encoding:
            # The bytes searched for depend on the plain text's exact case.
            return Normalized(f"{field.id}|{encoding}", op, value)
        value = _fold(value, case_sensitive, op)
        if op not in value_rules.PATTERN_OPS:
            return Normalized(field.id, op, value)
        fid, kind = field.id, field.kind
        if kind in ("image", "file") and field.name is not None:
            return Normalized(*value_rules.project_path(
                fid, op, value, field.name, field.extension if kind == "file" else None))
        if kind == "name" and field.path is not None:
            path = self.vocabulary.field(field.path)
            return Normalized(*value_rules.project_name(
                fid, op, value, path.id, path.extension if path.kind == "file" else None))
        if kind == "path":
            return Normalized(fid, *value_rules.fold_drive(op, value))
        if kind == "extension":
            return Normalized(fid, op, value_rules.extension_value(op, value))
        if kind == "registry_path":
            return Normalized(fid, *value_rules.registry_key(op, value))
        if kind == "registry_data":
            return Normalized(fid, *value_rules.registry_data(op, value))
        if kind == "hashes":
            return Normalized(*value_rules.project_hashes(fid, op, value))
        if kind == "event_code" and op == "eq" and value.isdigit():
            # Elastic copies the Windows event id into event.code.
            return Normalized("winlog.event_id", op, value)
        return Normalized(fid, op, value)


def _fold(value: str, case_sensitive: bool, op: str) -> str:
    """Case-fold unless the test is case-sensitive or a regex.

    A case-sensitive check keeps its case: Elastic's ``process.name == "PowerShell.exe"``
    misses events spelled ``powershell.exe``, so it is not the same indicator as a
    case-insensitive check for either spelling. A case-sensitive check written in lower
    case still meets the case-insensitive one.
    """
    if op == "regex_match" or case_sensitive:
        return value
    return value.casefold()


def field_label(field: str) -> str:
    """The name detection engineers know a canonical field by."""
    return default_vocabulary().label(field)
