"""Parse ES|QL queries (Elastic's piped query language) into predicate trees.

A query is split on ``|`` into commands; each command body is parsed with the
Lark grammar in ``esql.lark``. The conditions of every WHERE become one AND in
pipeline order. Their stage follows the columns the pipeline has built so far:
tests on raw fields are ``event``, tests on columns made by EVAL, DISSECT,
GROK, RENAME, ENRICH or COMPLETION are ``derived``, and tests after the first
STATS (or on INLINE STATS aggregates) are ``aggregate``. Raw fields that pick
the log source (``event.category``, ``event.dataset``...) are ``selector``, as
in KQL.

ENRICH without WITH and LOOKUP JOIN add columns whose names the query does not
show; tests on them are only seen as ``derived`` when a KEEP earlier in the
pipeline shows which columns existed before. Conditions written elsewhere than
in a WHERE (per-aggregation ``STATS ... WHERE`` filters, CASE in EVAL) are not
part of the tree.

An unknown command, or a known one whose syntax the grammar rejects, ends the
parse: what came before is kept and ``EsqlQuery.unparsed`` says why the rest
was not read. A WHERE the grammar rejects becomes one opaque condition and the
parse goes on, since a WHERE builds no column later commands depend on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from ruledex.languages.esql_where import ConditionReducer, qname_text, unquote
from ruledex.model import Node, QueryParseError, and_, opaque

log = logging.getLogger(__name__)

SOURCE_COMMANDS = ("from", "ts")
"""Commands a query may start with; both read indices."""

_COMMAND_HEAD = re.compile(r"\s*([A-Za-z_]+)(?:\s+([A-Za-z_]+))?")
_TWO_WORD = {("inline", "stats"): "inline stats", ("lookup", "join"): "lookup join"}
_ALIASES = {"inlinestats": "inline stats"}


@dataclass
class EsqlQuery:
    """An ES|QL query taken apart: its conditions, indices and commands."""

    tree: Node
    indices: list[str] = field(default_factory=list)
    metadata: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    unparsed: str | None = None


@dataclass
class _Segment:
    """One command of the pipeline: its text and where it starts in the query."""

    text: str
    start: int
    line: int


@dataclass
class _Columns:
    """What the pipeline has computed so far, to tell the stage of a test."""

    computed: set[str] = field(default_factory=set)
    aggregates: set[str] = field(default_factory=set)
    after_stats: bool = False
    kept: list[str] | None = None

    def stage_of(self, name: str) -> str:
        """Return the stage of a test on the named column at this point of the pipeline."""
        if self.after_stats or name in self.aggregates:
            return "aggregate"
        if name in self.computed:
            return "derived"
        # After KEEP only the kept columns exist, so any other name was
        # brought in later by ENRICH or LOOKUP JOIN, whose columns are unknown.
        if self.kept is not None and not any(fnmatchcase(name, p) for p in self.kept):
            return "derived"
        return "selector" if name in _selector_fields() else "event"


@cache
def _selector_fields() -> frozenset[str]:
    """Fields that pick the log source, shared with KQL so both languages agree."""
    try:
        from ruledex.languages.kql import SELECTOR_FIELDS
    except ImportError:
        return frozenset()
    return frozenset(SELECTOR_FIELDS)


@cache
def _parser() -> Lark:
    grammar = resources.files("ruledex.languages").joinpath("esql.lark").read_text("utf-8")
    starts = sorted({_start_rule(name) for name in _HANDLERS} | {"where_body", "from_body"})
    return Lark(grammar, parser="lalr", start=starts, propagate_positions=True,
                maybe_placeholders=True)


def _start_rule(command: str) -> str:
    """Return the grammar rule that parses a command's body."""
    if command == "inline stats":
        return "stats_body"
    return f"{command.replace(' ', '_')}_body"


def parse_esql(text: str) -> EsqlQuery:
    """Parse an ES|QL query; raise QueryParseError only when its FROM is broken."""
    segments = _split_pipeline(_blank_comments(text))
    source = segments[0]
    head = _COMMAND_HEAD.match(source.text)
    word = head.group(1).lower() if head else ""
    if word not in SOURCE_COMMANDS:
        found = f"found {word!r}" if word else "found nothing"
        raise QueryParseError(f"expected FROM as the source command, {found}",
                              line=_first_line(source))
    assert head is not None
    body = source.text[head.end(1):]
    try:
        from_tree = _parser().parse(body, start="from_body")
    except LarkError as exc:
        message, line = _describe(exc, body)
        line = _first_line(source) + line - 1
        raise QueryParseError(f"FROM: {message}", line=line) from None

    query = EsqlQuery(tree=and_(), commands=[word])
    for child in from_tree.children:
        if isinstance(child, Token) and child.type != "METADATA":
            query.indices.append(unquote(child) if "STRING" in child.type else str(child))
        elif isinstance(child, Tree):
            query.metadata.append(str(child.children[0]))

    conditions: list[Node] = []
    columns = _Columns()
    for segment in segments[1:]:
        reason = _run_command(segment, query, columns, conditions)
        if reason is not None:
            log.debug("ES|QL left unparsed: %s", reason)
            query.unparsed = reason
            break
    query.tree = and_(*conditions)
    return query


def _run_command(segment: _Segment, query: EsqlQuery, columns: _Columns,
                 conditions: list[Node]) -> str | None:
    """Read one command into the query; return why it could not be read, if so."""
    head = _COMMAND_HEAD.match(segment.text)
    if head is None:
        return f"empty command at line {_first_line(segment)}"
    name = _TWO_WORD.get((head.group(1).lower(), (head.group(2) or "").lower()))
    end = head.end(2) if name else head.end(1)
    if name is None:
        name = _ALIASES.get(head.group(1).lower(), head.group(1).lower())
    line = _first_line(segment)
    if name != "where" and name not in _HANDLERS:
        return f"unknown command {name.upper()!r} at line {line}"

    body = segment.text[end:]
    try:
        tree = _parser().parse(body, start=_start_rule(name))
    except LarkError as exc:
        message, offset = _describe(exc, body)
        if name != "where":
            return f"{name.upper()} at line {line + offset - 1}: {message}"
        conditions.append(opaque(body.strip(), f"syntax error: {message}"))
    else:
        if name == "where":
            reducer = ConditionReducer(body, columns.stage_of)
            conditions.extend(_and_parts(reducer.reduce(tree.children[0])))
        else:
            _HANDLERS[name](tree, body, columns)
    query.commands.append(name)
    return None


def _and_parts(node: Node) -> list[Node]:
    return node.children if node.kind == "and" and node.label is None else [node]


# Commands that build columns; the others only need to parse.

def _eval(tree: Tree, body: str, columns: _Columns) -> None:
    columns.computed.update(_assigned(tree.children, body))


def _stats(tree: Tree, body: str, columns: _Columns) -> None:
    columns.after_stats = True


def _inline_stats(tree: Tree, body: str, columns: _Columns) -> None:
    aggregates = [c.children[0] for c in tree.children
                  if isinstance(c, Tree) and c.data == "aggregate"]
    columns.aggregates.update(_assigned(aggregates, body))


def _keep(tree: Tree, body: str, columns: _Columns) -> None:
    columns.kept = [qname_text(c) for c in tree.children]


def _rename(tree: Tree, body: str, columns: _Columns) -> None:
    for rename in tree.children:
        first, second = (qname_text(n) for n in rename.children if isinstance(n, Tree))
        # RENAME old AS new, or the newer spelling RENAME new = old.
        columns.computed.add(second if rename.data == "rename_as" else first)


def _dissect(tree: Tree, body: str, columns: _Columns) -> None:
    columns.computed.update(dissect_keys(unquote(tree.children[1])))


def _grok(tree: Tree, body: str, columns: _Columns) -> None:
    for pattern in tree.children[1:]:
        columns.computed.update(grok_keys(unquote(pattern)))


def _enrich(tree: Tree, body: str, columns: _Columns) -> None:
    for child in tree.children:
        if isinstance(child, Tree) and child.data == "enrich_field":
            columns.computed.add(qname_text(child.children[0]))


def _completion(tree: Tree, body: str, columns: _Columns) -> None:
    target = tree.children[-1] if tree.data == "completion_legacy" else tree.children[0]
    columns.computed.add(qname_text(target) if isinstance(target, Tree) else "completion")


def _nothing(tree: Tree, body: str, columns: _Columns) -> None:
    """Read a command that builds no column a WHERE could test."""


_HANDLERS: dict[str, Callable[[Tree, str, _Columns], None]] = {
    "eval": _eval, "stats": _stats, "inline stats": _inline_stats, "keep": _keep,
    "drop": _nothing, "sort": _nothing, "limit": _nothing, "rename": _rename,
    "dissect": _dissect, "grok": _grok, "mv_expand": _nothing, "enrich": _enrich,
    "lookup join": _nothing, "completion": _completion,
}


def _assigned(assignments: list[Tree | Token | None], body: str) -> list[str]:
    """Return the column names that EVAL or STATS assignments create."""
    names = []
    for item in assignments:
        if not isinstance(item, Tree):
            continue
        if item.data == "named":
            names.append(qname_text(item.children[0]))
        elif item.data == "unnamed":
            # An unnamed expression gets a column named by its own text.
            names.append(body[item.meta.start_pos:item.meta.end_pos])
    return names


def dissect_keys(pattern: str) -> list[str]:
    """Return the columns a DISSECT pattern creates."""
    keys = []
    for key in re.findall(r"%\{([^}]*)\}", pattern):
        # Named skips (?) and reference keys (* and &) create no column of
        # a name known before the data is read.
        if not key or key[0] in "?*&":
            continue
        name = re.sub(r"(->|/\d+)$", "", key.lstrip("+"))
        if name:
            keys.append(name)
    return keys


def grok_keys(pattern: str) -> list[str]:
    """Return the columns a GROK pattern creates."""
    keys = re.findall(r"%\{\w+:([^:}]+)(?::\w+)?\}", pattern)
    keys += re.findall(r"\(\?<([A-Za-z_@][\w.@]*)>", pattern)
    keys += re.findall(r"\(\?'([A-Za-z_@][\w.@]*)'", pattern)
    return keys


# Splitting the query text.

def _literal_end(text: str, i: int) -> int | None:
    """Return where the string or quoted name starting at ``i`` ends, if one starts there."""
    n = len(text)
    if text.startswith('"""', i):
        end = text.find('"""', i + 3)
        if end < 0:
            return n
        # Up to two more quotes still belong to a triple-quoted string.
        end += 3
        for _ in range(2):
            if end < n and text[end] == '"':
                end += 1
        return end
    if text[i] == '"':
        i += 1
        while i < n and text[i] not in '"\n':
            i += 2 if text[i] == "\\" else 1
        return min(i + 1, n)
    if text[i] == "`":
        end = text.find("`", i + 1)
        return n if end < 0 else end + 1
    return None


def _blank_comments(text: str) -> str:
    """Replace comments with spaces, keeping every offset and line break in place."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        literal_end = _literal_end(text, i)
        if literal_end is not None:
            i = literal_end
        elif text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out[i:end] = " " * (end - i)
            i = end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            out[i:end] = [c if c == "\n" else " " for c in text[i:end]]
            i = end
        else:
            i += 1
    return "".join(out)


def _split_pipeline(text: str) -> list[_Segment]:
    """Split comment-free query text on the pipes that stand outside strings."""
    segments = []
    start = i = 0
    n = len(text)
    while i < n:
        literal_end = _literal_end(text, i)
        if literal_end is not None:
            i = literal_end
            continue
        if text[i] == "|":
            segments.append(_Segment(text[start:i], start, text.count("\n", 0, start) + 1))
            start = i + 1
        i += 1
    segments.append(_Segment(text[start:], start, text.count("\n", 0, start) + 1))
    return segments


def _first_line(segment: _Segment) -> int:
    """Return the line where the segment's first word stands."""
    stripped = len(segment.text) - len(segment.text.lstrip())
    return segment.line + segment.text.count("\n", 0, stripped)


def _describe(exc: LarkError, body: str) -> tuple[str, int]:
    """Return a one-line message for a Lark error and its line within the body."""
    if isinstance(exc, UnexpectedEOF):
        return "unexpected end of command", body.count("\n") + 1
    if isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            return "unexpected end of command", body.count("\n") + 1
        return f"unexpected {str(exc.token)!r}", exc.line
    if isinstance(exc, UnexpectedCharacters):
        return f"unexpected character {exc.char!r}", exc.line
    return str(exc).splitlines()[0], 1
