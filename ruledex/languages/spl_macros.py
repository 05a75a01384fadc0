"""SPL search macros: loading their definitions and expanding backtick calls.

Splunk substitutes a macro's text where it is called, so the expansion here is
textual too. Every character of the expanded query remembers the innermost
macro whose definition wrote it, which lets the parser tag the predicates a
macro contributed (the ``sysmon`` macro's ``sourcetype=...`` test, say).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ruledex.languages.spl_scan import split_spans, top_level

log = logging.getLogger(__name__)

MAX_DEPTH = 12
"""Nesting depth at which expansion stops, so a macro calling itself cannot loop."""

_CALL = re.compile(r"\s*([\w.:-]+)\s*(?:\((.*)\))?\s*$", re.DOTALL)

# Common Information Model macros that ship with Splunk rather than with the
# rule repository; drop_dm_object_name strips a data-model node prefix.
DROP_PREFIX_MACRO = "drop_dm_object_name"


@dataclass(frozen=True)
class Macro:
    """One macro definition: its name, text and argument names."""

    name: str
    definition: str
    arguments: tuple[str, ...] = ()


@dataclass
class Expanded:
    """A query with its macros expanded; ``origin[i]`` names the macro that wrote ``text[i]``."""

    text: str
    origin: list[str | None]
    calls: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def macro_at(self, pos: int) -> str | None:
        """The macro whose definition wrote the character at ``pos``."""
        if 0 <= pos < len(self.origin):
            return self.origin[pos]
        return None


def load_macros(folder: Path) -> dict[str, Macro]:
    """Read every ``*.yml`` macro definition of a folder, keyed by name."""
    macros: dict[str, Macro] = {}
    for path in sorted(Path(folder).glob("*.yml")):
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except (OSError, yaml.YAMLError) as exc:
            log.warning("skipping macro file %s: %s", path, exc)
            continue
        if not isinstance(data, dict) or not data.get("name"):
            log.warning("skipping macro file %s: no name", path)
            continue
        definition = data.get("definition")
        args = tuple(str(a) for a in data.get("arguments") or ())
        # A YAML null definition means the macro expands to nothing.
        text = "" if definition is None else str(definition)
        macros[str(data["name"])] = Macro(str(data["name"]), text, args)
    return macros


def split_arguments(text: str) -> list[str]:
    """Split a macro call's argument text on top-level commas, honouring quotes.

    Outside quotes a backslash is kept as an ordinary character, so an unquoted
    Windows path such as ``C:\\Temp\\`` cannot hide the comma after it.
    """
    if not text:
        return []
    spans = split_spans(text, ",", escapes_outside_quotes=False)
    return [text[a:b].strip() for a, b in spans]


def _unquote(arg: str) -> str:
    if len(arg) >= 2 and arg[0] == arg[-1] == '"':
        return arg[1:-1]
    return arg


def _body(name: str, args: list[str], macros: Mapping[str, Macro]) -> str | None:
    """The text a call stands for, or None when it expands to nothing."""
    if name == DROP_PREFIX_MACRO and len(args) == 1:
        # The CIM app defines this macro as a wildcard rename of the node prefix.
        return f"rename {_unquote(args[0])}.* AS *"
    macro = macros.get(name)
    if macro is None or name.endswith("_filter"):
        return None
    if len(args) != len(macro.arguments):
        raise ValueError(f"macro `{name}` takes {len(macro.arguments)} argument(s), "
                         f"the call gives {len(args)}")
    text = macro.definition
    for arg_name, value in zip(macro.arguments, args, strict=True):
        text = text.replace(f"${arg_name}$", value)
    return text


def _next_backtick(text: str, start: int) -> int | None:
    """Offset of the next backtick outside quotes, which opens a macro call or a comment.

    A backtick inside a quoted string is left as written: macros called from a
    ``map search="..."`` string are not expanded or recorded. Brackets do not
    matter: a macro may be called inside a subsearch or a function call.
    """
    found = (i for i, char in top_level(text, start, brackets="") if char == "`")
    return next(found, None)


class _Expander:
    def __init__(self, macros: Mapping[str, Macro]):
        self.macros = macros
        self.out: list[str] = []
        self.origin: list[str | None] = []
        self.calls: list[str] = []
        self.errors: list[str] = []

    def emit(self, text: str, origin: str | None) -> None:
        self.out.append(text)
        self.origin.extend([origin] * len(text))

    def run(self, text: str, origin: str | None, depth: int) -> None:
        start = 0
        tick = _next_backtick(text, start)
        while tick is not None:
            if text.startswith("```", tick):
                self.emit(text[start:tick], origin)
                close = text.find("```", tick + 3)
                start = len(text) if close < 0 else close + 3
                # A comment stands between tokens, as whitespace does.
                self.emit(" ", origin)
            else:
                close = text.find("`", tick + 1)
                if close < 0:
                    self.errors.append("unterminated macro call (no closing backtick)")
                    break
                self.emit(text[start:tick], origin)
                self.call(text[tick + 1:close], depth)
                start = close + 1
            tick = _next_backtick(text, start)
        self.emit(text[start:], origin)

    def call(self, inner: str, depth: int) -> None:
        match = _CALL.match(inner)
        if not match:
            self.errors.append(f"unreadable macro call `{inner}`")
            return
        name = match.group(1)
        args = split_arguments(match.group(2)) if match.group(2) is not None else []
        if name not in self.calls:
            self.calls.append(name)
        try:
            body = _body(name, args, self.macros)
        except ValueError as exc:
            self.errors.append(str(exc))
            body = None
        if body is None:
            self.emit(" ", name)
            return
        if depth >= MAX_DEPTH:
            self.errors.append(f"macro `{name}` nests deeper than {MAX_DEPTH} levels")
            return
        self.run(body, name, depth + 1)


def expand(query: str, macros: Mapping[str, Macro] | None = None) -> Expanded:
    """Expand the backtick macros and drop the triple-backtick comments of a query.

    ``_filter`` macros and macros not in ``macros`` expand to nothing; all
    calls are listed in :attr:`Expanded.calls` in the order met.
    """
    expander = _Expander(macros or {})
    expander.run(query, None, 0)
    return Expanded("".join(expander.out), expander.origin, expander.calls, expander.errors)
