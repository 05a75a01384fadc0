"""Where things are in an Elastic TOML file: key, string and table lines for error reports.

``tomllib`` returns values without positions, so a query error would otherwise
point at the file alone. A small scanner walks the text once and notes, for each
dotted key (``rule.query``), the line of the key and the line on which each of
its string values starts.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from ruledex.model import RuledexError

_ERROR_LINE = re.compile(r"\(at line (\d+)(?:, column \d+)?\)")
_ERROR_END = re.compile(r"\(at end of document\)")


@dataclass
class Locations:
    """Lines of one TOML file: keys, string values and table headers, 1-based."""

    keys: dict[str, int] = field(default_factory=dict)
    strings: dict[str, list[int]] = field(default_factory=dict)
    tables: dict[str, list[int]] = field(default_factory=dict)

    def string_line(self, key: str, index: int = 0) -> int | None:
        """The line where the ``index``-th string of ``key`` starts its content."""
        lines = self.strings.get(key) or []
        if index < len(lines):
            return lines[index]
        return self.keys.get(key)

    def table_line(self, table: str, index: int = 0) -> int | None:
        """The header line of the ``index``-th ``[[table]]`` (or ``[table]``)."""
        lines = self.tables.get(table) or []
        return lines[index] if index < len(lines) else None


def parse_toml(text: str, path: str) -> dict[str, object]:
    """Parse TOML text; a syntax error becomes a RuledexError with the file line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raw = str(err)
        found = _ERROR_LINE.search(raw)
        if found:
            line: int | None = int(found.group(1))
        elif _ERROR_END.search(raw):
            line = text.count("\n") + 1
        else:
            line = None
        message = _ERROR_LINE.sub("", _ERROR_END.sub("", raw)).strip()
        raise RuledexError(f"invalid TOML: {message}", path, line) from err


def strings(value: Any) -> list[str]:
    """A TOML value that may be one string or a list of them, as a list of strings."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def iso_date(value: Any) -> str:
    """Elastic's ``2020/02/18`` dates written the ISO way, as the other vendors have them."""
    return str(value or "").strip().replace("/", "-")


def _key_name(raw: str) -> str:
    """A dotted key as written, without quotes or spaces around its parts."""
    parts, buf, quote = [], [], ""
    for char in raw.strip():
        if quote:
            if char == quote:
                quote = ""
            else:
                buf.append(char)
        elif char in "\"'":
            quote = char
        elif char == ".":
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(char)
    parts.append("".join(buf).strip())
    return ".".join(parts)


class _Scanner:
    """One pass over the text, tracking the current table, key and nesting depth."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.line = 1
        self.out = Locations()
        self.table = ""
        self.key: str | None = None
        self.depth = 0

    def run(self) -> Locations:
        while self.pos < len(self.text):
            if self.depth == 0 and self.key is None:
                self._statement()
            else:
                self._value_char()
        return self.out

    def _advance(self, count: int = 1) -> None:
        self.line += self.text.count("\n", self.pos, self.pos + count)
        self.pos += count

    def _rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        return self.text[self.pos:] if end < 0 else self.text[self.pos:end]

    def _statement(self) -> None:
        char = self.text[self.pos]
        if char in " \t\r\n":
            self._advance()
        elif char == "#":
            self._advance(len(self._rest_of_line()))
        elif char == "[":
            header = self._rest_of_line()
            double = header.startswith("[[")
            end = header.find("]]" if double else "]")
            name = _key_name(header[2 if double else 1:end if end > 0 else len(header)])
            self.table = name
            self.out.tables.setdefault(name, []).append(self.line)
            self._advance(len(header))
        else:
            rest = self._rest_of_line()
            equals = rest.find("=")
            if equals < 0:
                self._advance(max(len(rest), 1))
                return
            name = _key_name(rest[:equals])
            self.key = f"{self.table}.{name}" if self.table else name
            self.out.keys.setdefault(self.key, self.line)
            self._advance(equals + 1)

    def _value_char(self) -> None:
        char = self.text[self.pos]
        if char in "\"'":
            self._string(char)
        elif char in "[{":
            self.depth += 1
            self._advance()
        elif char in "]}":
            self.depth = max(self.depth - 1, 0)
            self._advance()
        elif char == "#":
            self._advance(len(self._rest_of_line()))
        elif char == "\n":
            if self.depth == 0:
                self.key = None
            self._advance()
        else:
            ordinary = _ORDINARY.match(self.text, self.pos)
            self._advance(ordinary.end() - self.pos if ordinary else 1)

    def _string(self, quote: str) -> None:
        triple = self.text.startswith(quote * 3, self.pos)
        delimiter = quote * 3 if triple else quote
        start = self.pos + len(delimiter)
        line = self.line
        # The newline right after an opening triple quote is not part of the string.
        if triple and self.text.startswith(("\n", "\r\n"), start):
            line += 1
        assert self.key is not None
        self.out.strings.setdefault(self.key, []).append(line)
        match = _STRING_END[delimiter].match(self.text, start)
        self._advance((match.end() if match else len(self.text)) - self.pos)


# The rest of a string after its opening delimiter: basic strings skip backslash
# escapes; a triple-quoted string may end with up to two extra quotes of content;
# a one-line string also stops at the end of its line.
_STRING_END = {
    '"': re.compile(r'(?:[^"\\\n]|\\.)*(?:"|(?=\n)|$)'),
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*(?:"""\"{0,2}|$)', re.DOTALL),
    "'": re.compile(r"[^'\n]*(?:'|(?=\n)|$)"),
    "'''": re.compile(r"(?:[^']|'(?!''))*(?:'''\'{0,2}|$)", re.DOTALL),
}
_ORDINARY = re.compile(r"[^\"'\[\]{}#\n]+")


def locate(text: str) -> Locations:
    """Scan TOML text for the lines of its keys, string values and table headers."""
    return _Scanner(text).run()

