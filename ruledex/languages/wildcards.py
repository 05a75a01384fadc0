"""Classify a value by its wildcard structure into one predicate operator.

Every vendor writes wildcards differently (Sigma and KQL ``*``/``?``, SPL ``*``,
SQL-style ``%``/``_`` in ``like``), so parsers first split a value into literal
text and wildcard tokens, then call :func:`classify`. The operator follows from
where the wildcards are, not from how the rule author spelled the test: ``*x*``
is a contains whether it came from a Sigma ``|contains`` or an SPL ``=*x*``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence


class Wildcard(enum.Enum):
    """A wildcard token: ``MANY`` matches any run of characters, ``ONE`` one character."""

    MANY = "*"
    ONE = "?"


Part = str | Wildcard


def split_pattern(text: str, many: str = "*", one: str | None = "?",
                  escape: str | None = "\\", escapes_anything: bool = False) -> list[Part]:
    """Split ``text`` into literal strings and wildcards.

    ``escape`` before a wildcard character (or before itself) makes it literal;
    before any other character it is kept as written, since Windows paths are
    full of backslashes that escape nothing, unless ``escapes_anything`` says the
    language (Lucene) escapes every character that way.
    """
    parts: list[Part] = []
    buf: list[str] = []
    specials = {many} | ({one} if one else set())
    i = 0
    while i < len(text):
        char = text[i]
        if escape and char == escape and i + 1 < len(text) and \
                (escapes_anything or text[i + 1] in specials or text[i + 1] == escape):
            buf.append(text[i + 1])
            i += 2
            continue
        if char == many or (one and char == one):
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append(Wildcard.MANY if char == many else Wildcard.ONE)
        else:
            buf.append(char)
        i += 1
    if buf:
        parts.append("".join(buf))
    return parts


def render(parts: Sequence[Part]) -> str:
    """Write parts back as a ``*``/``?`` pattern (the catalog's wildcard notation)."""
    return "".join(p.value if isinstance(p, Wildcard) else p for p in parts)


def classify(parts: Sequence[Part]) -> tuple[str, str]:
    """Return ``(operator, value)`` for a value split into literal text and wildcards.

    ``*`` alone is ``exists``; no wildcard is ``eq``; one literal with ``*`` on
    one or both ends is ``starts_with``/``ends_with``/``contains``; anything
    else is ``wildcard`` with the pattern written with ``*`` and ``?``.
    """
    merged: list[Part] = []
    for part in parts:
        if part == "":
            continue
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + part
        elif part is Wildcard.MANY and merged and merged[-1] is Wildcard.MANY:
            continue
        else:
            merged.append(part)
    if not merged:
        return "eq", ""
    if all(p is Wildcard.MANY for p in merged):
        return "exists", ""
    literals = [p for p in merged if isinstance(p, str)]
    if len(literals) == len(merged):
        return "eq", literals[0]
    if Wildcard.ONE not in merged and len(literals) == 1:
        lead = merged[0] is Wildcard.MANY
        trail = merged[-1] is Wildcard.MANY
        if lead and trail:
            return "contains", literals[0]
        if lead:
            return "ends_with", literals[0]
        if trail:
            return "starts_with", literals[0]
    return "wildcard", render(merged)


def classify_text(text: str, many: str = "*", one: str | None = "?",
                  escape: str | None = "\\") -> tuple[str, str]:
    """Split and classify in one step."""
    return classify(split_pattern(text, many, one, escape))
