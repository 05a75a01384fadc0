"""Fold each vendor's field names and values into one vocabulary.

:class:`Normalizer` is the single entry point the catalog uses: it maps a
predicate as written to its canonical ``(field, op, value)``, the key under
which the same check made by different rules and vendors counts once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ruledex.model import Predicate

KEYWORD_FIELD = ""
"""The canonical field of field-less full-text terms (Sigma keywords, SPL free text)."""


@dataclass(frozen=True)
class Normalized:
    """A predicate's canonical field, operator and value."""

    field: str
    op: str
    value: str


class Normalizer:
    """Maps raw predicates to canonical ones for one catalog build."""

    def predicate(self, vendor: str, context: dict[str, Any], pred: Predicate) -> Normalized:
        """Canonical form of ``pred`` read by a ``vendor`` rule with log-source ``context``."""
        field = pred.field if pred.field is not None else KEYWORD_FIELD
        value = pred.value if pred.value is not None else ""
        if not pred.case_sensitive and pred.op != "regex_match":
            value = value.casefold()
        return Normalized(field, pred.op, value)

    def label(self, field: str) -> str:
        """The name detection engineers know a canonical field by."""
        return field_label(field)


def field_label(field: str) -> str:
    """The name detection engineers know a canonical field by."""
    return field or "(any field)"
