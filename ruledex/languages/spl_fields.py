"""What a column of an SPL pipeline holds, so tests on it get the right field and stage.

A pipeline renames, computes and aggregates columns as it goes. A later test on
``process_name`` after ``drop_dm_object_name(Processes)`` is a test of the raw
field ``Processes.process_name``; a test on ``count`` after ``stats`` is an
aggregate threshold; a test on a column made by ``eval`` is a derived one.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ruledex.languages.wildcards import classify_text
from ruledex.model import Node, Predicate, leaf, not_

SELECTOR_FIELDS = frozenset({
    "index", "source", "sourcetype", "eventtype", "tag", "EventCode", "EventID", "Channel",
    "datamodel", "nodename", "metric_name",
})
"""Fields that pick the log source rather than test an event.

Splunk field names are case-sensitive: ``eventType`` of Okta or ``eventID`` of
CloudTrail are event fields, not the selectors spelled alike.
"""

TIME_FIELDS = frozenset({
    "earliest", "latest", "earliest_time", "latest_time", "starttime", "endtime",
    "starthoursago", "endhoursago", "startdaysago", "enddaysago", "startminutesago",
    "endminutesago", "timeformat",
})
"""Search-time modifiers: they bound the time range and test no field."""

TIME_FUNCTIONS = frozenset({"now", "relative_time", "strptime", "strftime", "time"})
"""Eval functions whose result depends on the clock or a time format."""


@dataclass(frozen=True)
class Column:
    """A column: the raw event field it carries (None when computed) and its stage."""

    raw: str | None
    stage: str


@dataclass
class Columns:
    """The columns of a pipeline at one point, as far as the query text tells."""

    named: dict[str, Column] = field(default_factory=dict)
    # Wildcard renames met while the column set was still open: (old prefix,
    # old suffix, new prefix, new suffix).
    patterns: list[tuple[str, str, str, str]] = field(default_factory=list)
    closed: bool = False
    aggregated: bool = False

    def copy(self) -> Columns:
        return Columns(dict(self.named), list(self.patterns), self.closed, self.aggregated)

    def resolve(self, name: str) -> Column:
        """The column a name refers to at this point of the pipeline."""
        if name in self.named:
            return self.named[name]
        return self._through_patterns(name, len(self.patterns))

    def _through_patterns(self, name: str, upto: int) -> Column:
        # Each wildcard rename only sees the names that existed before it.
        for index in range(upto - 1, -1, -1):
            old_pre, old_suf, new_pre, new_suf = self.patterns[index]
            if name.startswith(new_pre) and name.endswith(new_suf) and \
                    len(name) >= len(new_pre) + len(new_suf):
                middle = name[len(new_pre):len(name) - len(new_suf)]
                return self._through_patterns(old_pre + middle + old_suf, index)
        if self.closed:
            return Column(None, "derived")
        stage = "selector" if name in SELECTOR_FIELDS else "event"
        return Column(name, stage)

    def compute(self, name: str, stage: str = "derived") -> None:
        """Record that a command computed column ``name``."""
        self.named[name] = Column(None, stage)

    def alias(self, name: str, source: str) -> None:
        """Record that column ``name`` now carries what ``source`` carried."""
        self.named[name] = self.resolve(source)

    def rename(self, old: str, new: str) -> None:
        """Apply ``rename old AS new``, with ``*`` wildcards on both sides."""
        if "*" not in old or new.count("*") != 1 or old.count("*") != 1:
            column = self.resolve(old)
            self.named.pop(old, None)
            self.named[new] = column
            return
        old_pre, old_suf = old.split("*")
        new_pre, new_suf = new.split("*")
        moved = {}
        for name in list(self.named):
            if name.startswith(old_pre) and name.endswith(old_suf) and \
                    len(name) >= len(old_pre) + len(old_suf):
                middle = name[len(old_pre):len(name) - len(old_suf)]
                moved[new_pre + middle + new_suf] = self.named.pop(name)
        self.named.update(moved)
        if not self.closed:
            self.patterns.append((old_pre, old_suf, new_pre, new_suf))

    def aggregate(self, outputs: dict[str, Column], by: list[str]) -> None:
        """Replace the columns with the outputs and group-by columns of stats-like commands."""
        kept = {name: self.resolve(name) for name in by}
        self.named = {**kept, **outputs}
        self.patterns = []
        self.closed = True
        self.aggregated = True


def unescape(text: str) -> str:
    """Undo SPL string escapes: ``\\\\`` and ``\\"``; other backslashes stay as written."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in '\\"':
            out.append(text[i + 1])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def is_cidr(value: str) -> bool:
    """Whether a value is an IP network written with a prefix length."""
    if "/" not in value or "*" in value:
        return False
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True


def field_test(columns: Columns, name: str) -> tuple[str, str]:
    """The predicate field and stage for a test on column ``name``."""
    column = columns.resolve(name)
    return column.raw or name, column.stage


def search_match(columns: Columns, name: str, value: str, negate: bool,
                 macro: str | None) -> Node:
    """A search-syntax ``name=value`` (or ``!=``) test, classified by its wildcards."""
    field_name, stage = field_test(columns, name)
    if is_cidr(value):
        op, text = "cidr", value
    else:
        # In search syntax only ``*`` is a wildcard and it cannot be escaped.
        op, text = classify_text(value, many="*", one=None, escape=None)
    pred = Predicate(field_name, op, None if op == "exists" else text,
                     case_sensitive=False, stage=stage, macro=macro)
    node = leaf(pred)
    return not_(node) if negate else node
