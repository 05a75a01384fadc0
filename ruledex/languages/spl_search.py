"""The search-syntax part of SPL: base searches, ``| search`` and tstats ``where`` clauses.

Search syntax evaluates NOT first, then OR, then AND (implicit or written), and
its boolean operators must be capitalized. ``field=value`` compares without
regard to case and ``*`` is a wildcard; a bare word is a free-text term.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from ruledex.languages.spl_fields import (
    TIME_FIELDS,
    TIME_FUNCTIONS,
    Columns,
    field_test,
    search_match,
    unescape,
)
from ruledex.languages.spl_scan import CLOSERS, closing_bracket
from ruledex.model import Node, Predicate, QueryParseError, and_, leaf, not_, opaque, or_

MacroAt = Callable[[int], "str | None"]
Subsearch = Callable[[int, int], "Node | None"]

_WORD_END = frozenset(' \t\r\n()"=<>[]')
_SPACE = frozenset(" \t\r\n")
_CALL = re.compile(r"^([A-Za-z_]\w*)\(.*\)$", re.DOTALL)
_COMPARE = {"=": "eq", "==": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def matching_close(text: str, pos: int, end: int) -> int:
    """Index of the bracket closing the one at ``pos``, honouring quotes and nesting."""
    close = closing_bracket(text, pos, end)
    if close is None:
        closing = CLOSERS[text[pos]]
        raise QueryParseError(f"unbalanced {text[pos]!r}: no matching {closing!r}")
    return close


class SearchParser:
    """Parse search syntax between two offsets of an expanded query."""

    def __init__(self, text: str, columns: Columns, macro_at: MacroAt,
                 subsearch: Subsearch | None = None, stops: Collection[str] = ()):
        self.text = text
        self.columns = columns
        self.macro_at = macro_at
        self.subsearch = subsearch
        self.stops = {s.lower() for s in stops}
        self.pos = 0
        self.end = len(text)

    def parse(self, start: int = 0, end: int | None = None) -> tuple[Node | None, int]:
        """Parse from ``start``; return the tree and where parsing stopped."""
        self.pos = start
        self.end = len(self.text) if end is None else end
        node = self.parse_and(top=True)
        self.skip_space()
        if self.pos < self.end and not self.at_stop():
            raise QueryParseError(f"unexpected {self.text[self.pos]!r} in search")
        return node, self.pos

    # -- scanning ---------------------------------------------------------

    def skip_space(self) -> None:
        while self.pos < self.end and self.text[self.pos] in _SPACE:
            self.pos += 1

    def peek_word(self) -> str:
        """The unquoted word at the current position, without consuming it."""
        i = self.pos
        while i < self.end:
            char = self.text[i]
            if char == "\\" and i + 1 < self.end:
                i += 2
                continue
            if char in _WORD_END or (char == "!" and self.text.startswith("!=", i)):
                break
            i += 1
        return self.text[self.pos:i]

    def take_word(self) -> str:
        word = self.peek_word()
        self.pos += len(word)
        return word

    def at_stop(self) -> bool:
        word = self.peek_word()
        after = self.pos + len(word)
        return bool(word) and word.lower() in self.stops and \
            (after >= self.end or self.text[after] in _SPACE)

    def at_keyword(self, keyword: str) -> bool:
        word = self.peek_word()
        after = self.pos + len(word)
        return word == keyword and (after >= self.end or self.text[after] in _SPACE | {"(", '"'})

    def take_quoted(self) -> str:
        """Consume a double-quoted string and return its raw inside."""
        i = self.pos + 1
        while i < self.end:
            if self.text[i] == "\\" and i + 1 < self.end:
                i += 2
                continue
            if self.text[i] == '"':
                inside = self.text[self.pos + 1:i]
                self.pos = i + 1
                return inside
            i += 1
        raise QueryParseError("unterminated quoted string in search")

    def take_operator(self) -> str | None:
        """Consume a comparison operator after optional spaces, or leave the position."""
        save = self.pos
        self.skip_space()
        for op in ("!=", "<=", ">=", "==", "=", "<", ">"):
            if self.text.startswith(op, self.pos) and self.pos < self.end:
                self.pos += len(op)
                return op
        self.pos = save
        return None

    def take_value(self, in_list: bool = False) -> tuple[str, bool]:
        """Consume a value: quoted, or up to white space or an unmatched ``)``.

        Parentheses opened inside an unquoted value hold spaces and quotes until
        they close, so ``relative_time(now(), "-1d")`` stays one value.
        """
        self.skip_space()
        if self.pos < self.end and self.text[self.pos] == '"':
            return unescape(self.take_quoted()), True
        # Outside parentheses a double quote is part of the value (``a"b``), so the
        # top-level walk, which would open a string there, serves only inside them.
        i = self.pos
        while i < self.end:
            char = self.text[i]
            if char == "\\" and i + 1 < self.end:
                i += 2
                continue
            if char in _SPACE or (in_list and char == ",") or char == ")":
                break
            if char == "(":
                close = closing_bracket(self.text, i, self.end)
                if close is None:
                    i = self.end
                    break
                i = close
            i += 1
        raw = self.text[self.pos:i]
        self.pos = i
        return unescape(raw), False

    # -- grammar ----------------------------------------------------------

    def parse_and(self, top: bool = False) -> Node | None:
        items: list[Node] = []
        while True:
            self.skip_space()
            if self.pos >= self.end or self.text[self.pos] == ")":
                break
            if top and self.at_stop():
                break
            if self.at_keyword("AND"):
                self.pos += 3
                continue
            node = self.parse_or()
            if node is not None:
                items.append(node)
        return and_(*items) if items else None

    def parse_or(self) -> Node | None:
        items = [self.parse_not()]
        while True:
            save = self.pos
            self.skip_space()
            if not self.at_keyword("OR"):
                self.pos = save
                break
            self.pos += 2
            items.append(self.parse_not())
        kept = [n for n in items if n is not None]
        if len(kept) < len(items):
            # A branch that matches everything (``*``, a time bound) makes the OR true.
            return None
        return or_(*kept) if kept else None

    def parse_not(self) -> Node | None:
        self.skip_space()
        if self.at_keyword("NOT"):
            self.pos += 3
            inner = self.parse_not()
            return not_(inner) if inner is not None else None
        return self.parse_atom()

    def parse_atom(self) -> Node | None:
        self.skip_space()
        if self.pos >= self.end:
            raise QueryParseError("search ends where a term was expected")
        start = self.pos
        char = self.text[start]
        if char == "(":
            close = matching_close(self.text, start, self.end)
            outer_end, self.end = self.end, close
            self.pos = start + 1
            node = self.parse_and()
            self.skip_space()
            if self.pos != close:
                raise QueryParseError(f"unexpected {self.text[self.pos]!r} in parentheses")
            self.end = outer_end
            self.pos = close + 1
            return node
        if char == "[":
            close = matching_close(self.text, start, self.end)
            self.pos = close + 1
            if self.subsearch is not None:
                return self.subsearch(start + 1, close)
            return opaque(self.text[start:close + 1], "subsearch")
        if char == '"':
            name = unescape(self.take_quoted())
            quoted = True
        else:
            name = self.take_word()
            quoted = False
            if not name:
                raise QueryParseError(f"unexpected {char!r} in search")
        if not quoted and name.upper() in ("TERM", "CASE") and self.text.startswith("(", self.pos):
            return self.directive(name.upper(), start)
        op = self.take_operator()
        if op is not None:
            return self.comparison(name, op, start)
        save = self.pos
        self.skip_space()
        if self.at_keyword("IN") or self.at_keyword("in") and \
                self.text.startswith("(", self.pos + 2 + self._spaces(self.pos + 2)):
            self.pos += 2
            return self.in_list(name, start)
        self.pos = save
        if name == "*" and not quoted:
            return None
        return leaf(Predicate(None, "keyword", name, stage="event", macro=self.macro_at(start)))

    def _spaces(self, pos: int) -> int:
        count = 0
        while pos + count < self.end and self.text[pos + count] in _SPACE:
            count += 1
        return count

    def directive(self, name: str, start: int) -> Node | None:
        close = matching_close(self.text, self.pos, self.end)
        inner = self.text[self.pos + 1:close].strip()
        self.pos = close + 1
        if len(inner) >= 2 and inner[0] == inner[-1] == '"':
            inner = inner[1:-1]
        return leaf(Predicate(None, "keyword", unescape(inner), case_sensitive=name == "CASE",
                              stage="event", macro=self.macro_at(start)))

    def comparison(self, name: str, op: str, start: int) -> Node | None:
        value, quoted = self.take_value()
        if name.lower() in TIME_FIELDS:
            return None
        call = None if quoted else _CALL.match(value)
        if call:
            # Search syntax would compare with the text itself; the author meant a call.
            function = call.group(1).lower()
            return opaque(self.text[start:self.pos],
                          "time function" if function in TIME_FUNCTIONS else "function")
        macro = self.macro_at(start)
        kind = _COMPARE[op]
        if kind in ("eq", "ne"):
            return search_match(self.columns, name, value, kind == "ne", macro)
        field_name, stage = field_test(self.columns, name)
        return leaf(Predicate(field_name, kind, value, stage=stage, macro=macro))

    def in_list(self, name: str, start: int) -> Node | None:
        self.skip_space()
        if not self.text.startswith("(", self.pos):
            raise QueryParseError(f"IN after {name!r} needs a parenthesised list")
        close = matching_close(self.text, self.pos, self.end)
        self.pos += 1
        items: list[Node] = []
        while True:
            while self.pos < close and self.text[self.pos] in _SPACE | {","}:
                self.pos += 1
            if self.pos >= close:
                break
            item_start = self.pos
            value, _ = self.take_value(in_list=True)
            if self.pos == item_start:
                raise QueryParseError(f"unexpected {self.text[self.pos]!r} in IN list")
            items.append(search_match(self.columns, name, value, False,
                                      self.macro_at(item_start) or self.macro_at(start)))
        self.pos = close + 1
        return or_(*items) if items else None


def parse_search(text: str, columns: Columns | None = None,
                 macro_at: MacroAt | None = None, start: int = 0, end: int | None = None,
                 subsearch: Subsearch | None = None,
                 stops: Collection[str] = ()) -> tuple[Node | None, int]:
    """Parse search syntax in ``text[start:end]``; return the tree and the stop offset."""
    parser = SearchParser(text, columns or Columns(), macro_at or (lambda _pos: None),
                          subsearch, stops)
    return parser.parse(start, end)
