"""Turn a pySigma rule's detection and condition into the ruledex boolean tree."""

from __future__ import annotations

import fnmatch
from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionFieldEqualsValueExpression,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
    ConditionValueExpression,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaDetections
from sigma.types import (
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SpecialChars,
)

from ruledex.languages.wildcards import Part, Wildcard, classify
from ruledex.model import Node, Predicate, RuledexError, and_, leaf, not_, opaque, or_

# Modifiers that change the bytes searched for; the indicator keeps them so that
# a base64-encoded "ping" is not the same check as a plain "ping".
ENCODING_MODIFIERS = ("base64", "base64offset", "wide", "utf16", "utf16le", "utf16be")

_COMPARE_OPS = {"LT": "lt", "LTE": "lte", "GT": "gt", "GTE": "gte"}


def modifier_names(item: SigmaDetectionItem) -> tuple[str, ...]:
    """The item's modifiers by their Sigma names (contains, all, re, windash...)."""
    names = []
    for modifier in item.modifiers:
        name = modifier.__name__.removeprefix("Sigma").removesuffix("Modifier")
        names.append(_MODIFIER_NAMES.get(name, name.lower()))
    return tuple(names)


_MODIFIER_NAMES = {
    "Contains": "contains", "Startswith": "startswith", "Endswith": "endswith",
    "All": "all", "Base64": "base64", "Base64Offset": "base64offset", "Wide": "wide",
    "WindowsDash": "windash", "RegularExpression": "re",
    "RegularExpressionIgnoreCaseFlag": "i", "RegularExpressionMultilineFlag": "m",
    "RegularExpressionDotAllFlag": "s", "CIDR": "cidr", "FieldReference": "fieldref",
    "Exists": "exists", "Expand": "expand", "CaseSensitive": "cased",
    "GreaterThan": "gt", "GreaterThanEqual": "gte", "LessThan": "lt", "LessThanEqual": "lte",
    "NotEqual": "neq", "Utf16": "utf16", "Utf16le": "utf16le", "Utf16be": "utf16be",
}


def string_parts(value: SigmaString) -> list[Part]:
    """A SigmaString's parts as literal text and wildcards; placeholders stay as %name%."""
    parts: list[Part] = []
    for part in value.s:
        if isinstance(part, str):
            parts.append(part)
        elif part is SpecialChars.WILDCARD_MULTI:
            parts.append(Wildcard.MANY)
        elif part is SpecialChars.WILDCARD_SINGLE:
            parts.append(Wildcard.ONE)
        elif isinstance(part, Placeholder):
            parts.append(f"%{part.name}%")
    return parts


def _original_text(item: SigmaDetectionItem, index: int) -> str | None:
    """The value as written in the rule, before any modifier rewrote it."""
    originals = getattr(item, "original_value", None) or []
    if index < len(originals):
        original = originals[index]
        if isinstance(original, SigmaString):
            return original.to_plain()
        return str(original)
    return None


class DetectionConverter:
    """Converts one rule's detections; ``selection`` labels come from detection names."""

    def __init__(self, detections: SigmaDetections):
        self.detections = detections

    def condition(self, item: Any) -> Node:
        """Convert a parsed (not post-processed) condition item."""
        if isinstance(item, ConditionIdentifier):
            name = item.identifier
            if name not in self.detections.detections:
                raise RuledexError(f"the condition names an undefined detection {name!r}")
            return self.detection(self.detections.detections[name], name)
        if isinstance(item, ConditionSelector):
            return self.selector(item)
        if isinstance(item, ConditionNOT):
            return not_(self.condition(item.args[0]))
        if isinstance(item, ConditionAND):
            return Node("and", [self.condition(arg) for arg in item.args])
        if isinstance(item, ConditionOR):
            return Node("or", [self.condition(arg) for arg in item.args])
        if isinstance(item, ConditionFieldEqualsValueExpression):
            return self.values(item.field, [item.value], ConditionOR, (), None, None)
        if isinstance(item, ConditionValueExpression):
            return self.values(None, [item.value], ConditionOR, (), None, None)
        return opaque(str(item), f"unsupported condition element {type(item).__name__}")

    def selector(self, item: ConditionSelector) -> Node:
        """``1 of pattern`` / ``all of them``: an OR or AND over the matching detections."""
        quantifier, pattern = item.args[0], item.args[1]
        names = [
            name for name in self.detections.detections
            if pattern == "them" and not name.startswith("_") or
            pattern != "them" and fnmatch.fnmatchcase(name, pattern)
        ]
        if not names:
            raise RuledexError(f"'{quantifier} of {pattern}' matches no detection")
        kids = [self.detection(self.detections.detections[n], n) for n in names]
        kind = "and" if str(quantifier) == "all" else "or"
        if len(kids) == 1:
            return kids[0]
        return Node(kind, kids, label=f"{quantifier} of {pattern}")

    def detection(self, detection: SigmaDetection, name: str) -> Node:
        """A named detection: its items linked by AND (a map) or OR (a list)."""
        kids: list[Node] = []
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                kids.append(self.detection(item, name))
            else:
                kids.append(self.item(item, name))
        kind = "and" if detection.item_linking is ConditionAND else "or"
        return Node(kind, kids, label=name)

    def item(self, item: SigmaDetectionItem, selection: str) -> Node:
        """One field with its values; ``|all`` links the values by AND."""
        modifiers = modifier_names(item)
        return self.values(item.field, item.value, item.value_linking, modifiers,
                           selection, item)

    def values(self, field: str | None, values: list[Any], linking: Any,
               modifiers: tuple[str, ...], selection: str | None,
               item: SigmaDetectionItem | None) -> Node:
        kids = []
        for index, value in enumerate(values):
            written = _original_text(item, index) if item is not None else None
            kids.append(self.value(field, value, modifiers, selection, written))
        if linking is ConditionAND:
            return and_(*kids) if len(kids) != 1 else kids[0]
        return or_(*kids) if len(kids) != 1 else kids[0]

    def value(self, field: str | None, value: Any, modifiers: tuple[str, ...],
              selection: str | None, written: str | None) -> Node:
        """One value of one field as a predicate leaf."""
        def pred(op: str, text: str | None, cased: bool = False,
                 mods: tuple[str, ...] = modifiers) -> Node:
            if field is None and op not in ("keyword",):
                op = "keyword"
            return leaf(Predicate(field, op, text, case_sensitive=cased, selection=selection,
                                  modifiers=mods))

        encoded = any(m in ENCODING_MODIFIERS for m in modifiers)
        if isinstance(value, SigmaExpansion) or encoded:
            # An expansion (windash, base64offset) or an encoding stays one check:
            # the value as written, its operator from the wildcard modifiers.
            op = _written_op(modifiers)
            return pred(op, written if written is not None else str(value))
        if isinstance(value, SigmaCasedString):
            op, text = classify(string_parts(value))
            return pred(op, text, cased=True)
        if isinstance(value, SigmaString):
            op, text = classify(string_parts(value))
            if field is None:
                return pred("keyword", text)
            return pred(op, text)
        if isinstance(value, SigmaRegularExpression):
            cased = SigmaRegularExpressionFlag.IGNORECASE not in value.flags
            return pred("regex_match", value.regexp.original or value.regexp.to_plain(),
                        cased=cased)
        if isinstance(value, SigmaCIDRExpression):
            return pred("cidr", str(value.cidr))
        if isinstance(value, SigmaCompareExpression):
            return pred(_COMPARE_OPS[value.op.name], str(value.number.number))
        if isinstance(value, SigmaFieldReference):
            return pred("fieldref", value.field)
        if isinstance(value, SigmaExists):
            return pred("exists" if value.exists else "is_null", None)
        if isinstance(value, SigmaNull):
            return pred("is_null", None)
        if isinstance(value, SigmaBool):
            return pred("eq", "true" if value.boolean else "false")
        if isinstance(value, SigmaNumber):
            return pred("eq", str(value.number))
        return opaque(str(value), f"unsupported value type {type(value).__name__}")


def _written_op(modifiers: tuple[str, ...]) -> str:
    if "contains" in modifiers:
        return "contains"
    if "startswith" in modifiers:
        return "starts_with"
    if "endswith" in modifiers:
        return "ends_with"
    if "base64offset" in modifiers:
        return "contains"
    return "eq"


def condition_tree(detections: SigmaDetections) -> Node:
    """The whole rule's tree: its conditions, ORed when there are several."""
    converter = DetectionConverter(detections)
    trees = []
    for condition in detections.parsed_condition:
        parsed = condition.parse(postprocess=False)
        trees.append(converter.condition(parsed))
    if len(trees) == 1:
        return trees[0]
    return Node("or", trees, label="conditions")
