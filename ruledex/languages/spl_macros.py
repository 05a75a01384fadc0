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
    """Split a macro call's argument text on top-level commas, honouring quotes."""
    args: list[str] = []
    buf: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(text):
        char = text[i]
        if quoted and char == "\\" and i + 1 < len(text):
            buf.append(text[i:i + 2])
            i += 2
            continue
        if char == '"':
            quoted = not quoted
        elif not quoted and char in "([":
            depth += 1
        elif not quoted and char in ")]":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            args.append("".join(buf).strip())
            buf = []
            i += 1
            continue
        buf.append(char)
        i += 1
    if buf or args:
        args.append("".join(buf).strip())
    return args


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
        i = 0
        start = 0
        quoted = False
        while i < len(text):
            char = text[i]
            if char == "\\" and i + 1 < len(text):
                i += 2
                continue
            if char == '"':
                quoted = not quoted
            elif not quoted and text.startswith("```", i):
                self.emit(text[start:i], origin)
                end = text.find("```", i + 3)
                i = len(text) if end < 0 else end + 3
                start = i
                # A comment stands between tokens, as whitespace does.
                self.emit(" ", origin)
                continue
            # A backtick inside a quoted string is left as written: macros called
            # from a ``map search="..."`` string are not expanded or recorded.
            elif not quoted and char == "`":
                end = text.find("`", i + 1)
                if end < 0:
                    self.errors.append("unterminated macro call (no closing backtick)")
                    break
                self.emit(text[start:i], origin)
                self.call(text[i + 1:end], depth)
                i = end + 1
                start = i
                continue
            i += 1
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
