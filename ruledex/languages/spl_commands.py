"""Reading the arguments of SPL commands that compute, rename or aggregate columns."""

from __future__ import annotations

import re

from ruledex.languages.spl_fields import Column, Columns, unescape
from ruledex.languages.spl_scan import split_spans, top_level

_WORDS = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s,]+')
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_]\w*)>")
_FIELD_NAME = re.compile(r"^[A-Za-z_@][\w.{}@:]*$")
_OPTION = re.compile(r"^(\w+)\s*=\s*(.*)$", re.DOTALL)
_LETTERS = re.compile(r"[A-Za-z]+")
_SPACE = frozenset(" \t\r\n")

VALUE_FUNCTIONS = frozenset({
    "values", "list", "first", "last", "earliest", "latest", "mode",
})
"""Aggregations whose result is a raw value of their field, not a statistic about it.

A later test on such a column (or on a group-by field) keeps the stage of the
field it came from, so ``values(process) AS p | search p=*enc*`` stays an event
test although it runs after aggregation.
"""


def words(text: str) -> list[str]:
    """Split command arguments on white space and commas, keeping quoted strings whole."""
    return _WORDS.findall(text)


def strip_quotes(word: str) -> str:
    """A word without its surrounding double or single quotes."""
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "\"'":
        return unescape(word[1:-1])
    return word


def top_level_split(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quotes and brackets."""
    return [text[a:b] for a, b in split_spans(text, sep)]


def find_word(text: str, wanted: set[str], start: int = 0) -> tuple[int, str] | None:
    """Offset and lower-cased form of the first top-level word in ``wanted``."""
    for i, _char in top_level(text, start):
        if i == 0 or text[i - 1] in _SPACE:
            match = _LETTERS.match(text, i)
            if match and match.group().lower() in wanted:
                if match.end() >= len(text) or text[match.end()] in _SPACE:
                    return i, match.group().lower()
    return None


def apply_eval(columns: Columns, body: str) -> None:
    """``eval a=expr, b=expr``: an assignment of a bare field copies it, any other computes.

    Conditions inside an eval (``if(match(...), 1, 0)``) do not become predicates;
    a later test of the computed column is a derived predicate.
    """
    for part in top_level_split(body):
        match = re.match(r"\s*('[^']*'|\"[^\"]*\"|[^\s=]+)\s*=(?!=)\s*(.*?)\s*$", part, re.DOTALL)
        if not match:
            continue
        name = strip_quotes(match.group(1))
        value = match.group(2)
        if _FIELD_NAME.match(value) and value.lower() not in ("true", "false", "null"):
            columns.alias(name, value)
        elif len(value) >= 2 and value[0] == value[-1] == "'":
            columns.alias(name, value[1:-1])
        else:
            columns.compute(name)


def apply_rename(columns: Columns, body: str) -> None:
    """``rename a AS b, c* AS d*``."""
    tokens = [strip_quotes(w) for w in words(body)]
    i = 0
    while i + 2 < len(tokens):
        if tokens[i + 1].lower() == "as":
            columns.rename(tokens[i], tokens[i + 2])
            i += 3
        else:
            i += 1


def apply_lookup(columns: Columns, body: str) -> None:
    """``lookup table in AS f OUTPUT out AS g``: the output columns are computed."""
    tokens = words(body)
    marks = [i for i, w in enumerate(tokens) if w.lower() in ("output", "outputnew")]
    if not marks:
        return
    outputs = tokens[marks[0] + 1:]
    i = 0
    while i < len(outputs):
        if i + 2 < len(outputs) and outputs[i + 1].lower() == "as":
            columns.compute(strip_quotes(outputs[i + 2]))
            i += 3
        else:
            columns.compute(strip_quotes(outputs[i]))
            i += 1


def options(body: str) -> dict[str, str]:
    """The ``name=value`` options among a command's arguments, names lower-cased."""
    found: dict[str, str] = {}
    for word in words(body):
        match = _OPTION.match(word)
        if match:
            found[match.group(1).lower()] = strip_quotes(match.group(2))
    return found


def apply_rex(columns: Columns, body: str) -> None:
    """``rex field=f "(?<name>...)"`` computes each named group; ``mode=sed`` rewrites f."""
    opts = options(body)
    if opts.get("mode") == "sed":
        columns.compute(opts.get("field", "_raw"))
        return
    for name in _NAMED_GROUP.findall(body):
        columns.compute(name)


def apply_spath(columns: Columns, body: str) -> None:
    """``spath output=o path=p``: the extracted column is computed."""
    opts = options(body)
    positional = [w for w in words(body) if "=" not in w]
    output = opts.get("output") or opts.get("path") or (positional[0] if positional else None)
    if output:
        columns.compute(strip_quotes(output))


def apply_iplocation(columns: Columns, body: str) -> None:
    """``iplocation [prefix=p] field`` computes the location columns."""
    prefix = options(body).get("prefix", "")
    for name in ("City", "Country", "Region", "lat", "lon", "Continent", "MetroCode",
                 "Timezone"):
        columns.compute(prefix + name)


def aggregations(columns: Columns, text: str) -> dict[str, Column]:
    """The output columns of stats-style aggregations such as ``count dc(x) AS n``."""
    outputs: dict[str, Column] = {}
    i = 0
    while i < len(text):
        match = re.compile(r"[\s,]*").match(text, i)
        i = match.end() if match else i
        if i >= len(text):
            break
        option = re.compile(r"\w+\s*=\s*(\"[^\"]*\"|[^\s,]*)").match(text, i)
        if option:
            i = option.end()
            continue
        func = re.compile(r"[\w.{}@:]+|\"[^\"]*\"|'[^']*'").match(text, i)
        if not func:
            i += 1
            continue
        name = func.group()
        i = func.end()
        arg = ""
        if i < len(text) and text[i] == "(":
            depth, j = 0, i
            while j < len(text):
                depth += {"(": 1, ")": -1}.get(text[j], 0)
                if depth == 0:
                    break
                j += 1
            arg = text[i + 1:j]
            i = j + 1
        out = f"{name}({arg})" if arg else name
        alias = re.compile(r"\s+as\s+(\"[^\"]*\"|'[^']*'|[^\s,]+)", re.IGNORECASE).match(text, i)
        if alias:
            out = strip_quotes(alias.group(1))
            i = alias.end()
        outputs[strip_quotes(out)] = aggregate_column(columns, name.lower(), arg)
    return outputs


def aggregate_column(columns: Columns, func: str, arg: str) -> Column:
    """What one aggregation yields: a raw value of its field, or a statistic."""
    plain = strip_quotes(arg.strip())
    if func in VALUE_FUNCTIONS:
        if _FIELD_NAME.match(plain) or (arg.strip()[:1] == "'" and plain):
            return columns.resolve(plain)
        return Column(None, "derived")
    return Column(None, "aggregate")


def group_fields(text: str) -> list[str]:
    """The fields of a ``by`` clause, without ``span=`` style options."""
    return [strip_quotes(w) for w in words(text) if "=" not in w and w.lower() != "over"]


def apply_stats(columns: Columns, body: str, keep_rows: bool = False) -> None:
    """``stats aggs by fields``; eventstats and streamstats (``keep_rows``) add columns."""
    found = find_word(body, {"by"})
    aggs, by = (body[:found[0]], body[found[0] + 2:]) if found else (body, "")
    outputs = aggregations(columns, aggs)
    if keep_rows:
        columns.named.update({name: Column(None, "aggregate") for name in outputs})
        columns.aggregated = True
        return
    columns.aggregate(outputs, group_fields(by))


def apply_top(columns: Columns, body: str) -> None:
    """``top``/``rare``: count and percent per value of the listed fields."""
    fields = [w for w in group_fields(body) if w.lower() != "by"]
    columns.aggregate({"count": Column(None, "aggregate"),
                       "percent": Column(None, "aggregate")}, fields)
