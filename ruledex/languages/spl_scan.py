"""Walking SPL text at its top level: outside quoted strings and outside brackets.

Pipes, commas, ``by`` clauses and macro calls only count where they stand at
the top level, so every part of the SPL parser finds them the same way here.
"""

from __future__ import annotations

from collections.abc import Iterator

CLOSERS = {"(": ")", "[": "]"}
"""The closing bracket of each opening bracket that nests."""


def top_level(text: str, start: int = 0, end: int | None = None, brackets: str = "([", *,
              escapes_outside_quotes: bool = True) -> Iterator[tuple[int, str]]:
    """Offsets and characters of ``text[start:end]`` that stand outside quotes and brackets.

    A double quote opens or closes a string and a backslash hides the character
    after it; neither is yielded, nor is anything inside a string or inside a
    pair of ``brackets`` (opening brackets, nesting as one depth whatever their
    kind). The brackets of a top-level pair are yielded: the opening one, then
    the one that closes it. A closing bracket with nothing open is an ordinary
    character. ``escapes_outside_quotes=False`` makes an unquoted backslash an
    ordinary character too.
    """
    end = len(text) if end is None else end
    closers = "".join(CLOSERS[b] for b in brackets)
    depth = 0
    quoted = False
    i = start
    while i < end:
        char = text[i]
        if char == "\\" and i + 1 < end and (quoted or escapes_outside_quotes):
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif quoted:
            pass
        elif char in brackets:
            if depth == 0:
                yield i, char
            depth += 1
        elif char in closers and depth:
            depth -= 1
            if depth == 0:
                yield i, char
        elif depth == 0:
            yield i, char
        i += 1


def closing_bracket(text: str, pos: int, end: int | None = None) -> int | None:
    """Offset of the bracket closing the one at ``pos``, or None when it never closes.

    Only brackets of the kind at ``pos`` nest: a ``[`` inside parentheses is text.
    """
    walk = top_level(text, pos, end, text[pos])
    next(walk, None)  # the opening bracket itself
    found = next(walk, None)
    return found[0] if found else None


def split_spans(text: str, sep: str, start: int = 0, end: int | None = None,
                brackets: str = "([", *,
                escapes_outside_quotes: bool = True) -> list[tuple[int, int]]:
    """Offsets of the pieces of ``text[start:end]`` between top-level ``sep`` characters."""
    end = len(text) if end is None else end
    cuts = [i for i, char in top_level(text, start, end, brackets,
                                       escapes_outside_quotes=escapes_outside_quotes)
            if char == sep]
    return list(zip([start, *(c + 1 for c in cuts)], [*cuts, end], strict=True))
