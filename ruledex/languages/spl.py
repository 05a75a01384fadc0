"""Splunk SPL: expand macros, split the pipeline, and turn its filters into one tree.

The tree is the AND of every filtering step of the pipeline: the base search,
tstats ``where`` clauses, ``| search``, ``| where`` and ``| regex``. Each
predicate's stage follows from the column it tests at that point (see
:mod:`ruledex.languages.spl_fields`); ``append`` ORs a subsearch in, an inner
``join`` ANDs it in. Commands that neither filter nor shape columns are skipped.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ruledex.languages import spl_commands as cmd
from ruledex.languages.spl_expr import parse_where
from ruledex.languages.spl_fields import Columns, unescape
from ruledex.languages.spl_macros import Expanded, Macro, expand
from ruledex.languages.spl_scan import split_spans, top_level
from ruledex.languages.spl_search import SearchParser, matching_close
from ruledex.model import Node, Predicate, QueryParseError, and_, leaf, opaque, or_

log = logging.getLogger(__name__)

GENERATING = frozenset({
    "tstats", "mstats", "inputlookup", "from", "datamodel", "makeresults", "rest",
    "metadata", "loadjob", "savedsearch", "multisearch", "union", "search", "summary",
})
"""Commands that may open a pipeline without a leading pipe (inside a subsearch)."""

_RESHAPING = frozenset({
    "apply", "fit", "foreach", "xyseries", "untable", "anomalydetection", "predict",
    "cluster", "kmeans", "outlier", "transpose", "makeresults", "rest", "metadata",
    "loadjob", "savedsearch", "map", "summary",
})
"""Commands after which the query no longer tells which columns exist."""

_IGNORED = frozenset({
    "table", "fields", "dedup", "sort", "head", "tail", "fillnull", "bucket", "bin",
    "mvexpand", "makemv", "nomv", "mvcombine", "outputlookup", "collect", "convert",
    "xmlkv", "fromjson", "kvform", "extract", "kv", "multikv", "return", "format",
    "typer", "tags", "addinfo", "reverse", "uniq", "localize", "fieldformat", "sendemail",
    "replace", "abstract", "highlight", "iconify", "filldown", "tojson", "eventcount",
    "set", "invoke", "noop", "require", "delete",
})
"""Commands that keep rows and columns as they are, as far as filtering goes."""

_COMMAND = re.compile(r"\s*([A-Za-z_]\w*)")
_DATAMODEL = re.compile(r"datamodel\s*[=:]?\s*\"?([\w.]+)\"?", re.IGNORECASE)


@dataclass
class SplParse:
    """What the parser read from one query."""

    tree: Node | None
    errors: list[str] = field(default_factory=list)
    macros: list[str] = field(default_factory=list)
    datamodels: list[str] = field(default_factory=list)


def split_pipeline(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Offsets of the commands of a pipeline, split on ``|`` outside quotes and brackets.

    Only square brackets nest here: the pipes of a subsearch belong to it.
    """
    return split_spans(text, "|", start, end, brackets="[")


class Pipeline:
    """Walk one expanded query, command by command."""

    def __init__(self, expanded: Expanded, result: SplParse):
        self.exp = expanded
        self.text = expanded.text
        self.result = result

    # -- driving ----------------------------------------------------------

    def run(self, start: int, end: int) -> tuple[Node | None, Columns]:
        """The tree and final columns of the pipeline in ``text[start:end]``."""
        columns = Columns()
        parts: list[Node] = []
        segments = split_pipeline(self.text, start, end)
        leading_pipe = not self.text[segments[0][0]:segments[0][1]].strip()
        if leading_pipe:
            segments = segments[1:]
        for index, (s, e) in enumerate(segments):
            if not self.text[s:e].strip():
                continue
            match = _COMMAND.match(self.text, s, e)
            name = match.group(1).lower() if match else ""
            body = match.end() if match else s
            if index == 0 and not leading_pipe and name not in GENERATING:
                name, body = "search", s
            try:
                parts = self.command(name, body, e, columns, parts)
            except QueryParseError as exc:
                self.result.errors.append(f"{name or 'command'}: {exc.message}")
        return conjunction(parts), columns

    def command(self, name: str, s: int, e: int, columns: Columns,
                parts: list[Node]) -> list[Node]:
        """Apply one command; return the filters of the pipeline so far."""
        body = self.text[s:e]
        node: Node | None = None
        if name == "search":
            node = self.search(s, e, columns)
        elif name == "where":
            node = parse_where(self.text, columns, self.exp.macro_at, s, e)
        elif name == "regex":
            node = self.regex(s, e, columns)
        elif name in ("tstats", "mstats"):
            node = self.tstats(s, e, columns)
        elif name == "from" or name == "datamodel":
            node = self.datamodel_source(name, s, e)
        elif name == "inputlookup":
            node = self.inputlookup(s, e, columns)
        elif name in ("append", "union", "multisearch"):
            subs = [self.subsearch(a, b, columns) for a, b in self.brackets(s, e)]
            if name == "append":
                return union([conjunction(parts), *subs])
            return parts + union(subs)
        elif name == "join":
            return self.join(s, e, columns, parts)
        elif name in ("appendcols", "appendpipe"):
            # Their rows come from the current results, so they filter nothing.
            for a, b in self.brackets(s, e):
                self.subsearch(a, b, columns)
        elif name == "map":
            # The templated search runs once per row; its conditions are kept as text.
            node = opaque(body.strip(), "map")
        elif name == "eval":
            cmd.apply_eval(columns, body)
        elif name == "rename":
            cmd.apply_rename(columns, body)
        elif name == "lookup":
            cmd.apply_lookup(columns, body)
        elif name == "rex":
            cmd.apply_rex(columns, body)
        elif name == "spath":
            cmd.apply_spath(columns, body)
        elif name == "iplocation":
            cmd.apply_iplocation(columns, body)
        elif name in ("stats", "chart", "timechart", "sistats"):
            cmd.apply_stats(columns, body)
        elif name in ("eventstats", "streamstats"):
            cmd.apply_stats(columns, body, keep_rows=True)
        elif name in ("top", "rare"):
            cmd.apply_top(columns, body)
        elif name == "transaction":
            columns.compute("duration", "aggregate")
            columns.compute("eventcount", "aggregate")
            columns.aggregated = True
        elif name == "addtotals":
            columns.compute(cmd.options(body).get("fieldname", "Total"))
        elif name == "strcat":
            targets = cmd.words(body)
            if targets:
                columns.compute(cmd.strip_quotes(targets[-1]))
        elif name == "rangemap":
            columns.compute("range")
        elif name in _RESHAPING:
            columns.closed = True
        elif name not in _IGNORED:
            log.debug("SPL command %r does not filter as far as ruledex knows", name)
        if node is not None:
            parts = parts + [node]
        return parts

    # -- filters ----------------------------------------------------------

    def parser(self, columns: Columns, stops: tuple[str, ...] = ()) -> SearchParser:
        return SearchParser(self.text, columns, self.exp.macro_at, self.search_subsearch, stops)

    def search(self, s: int, e: int, columns: Columns) -> Node | None:
        node, _ = self.parser(columns).parse(s, e)
        return node

    def search_subsearch(self, s: int, e: int) -> Node:
        """A subsearch inside search syntax: it writes conditions only known at run time.

        The opaque text is the subsearch after macro expansion, not as the rule wrote it.
        """
        self.run(s, e)
        return opaque(self.text[s - 1:e + 1], "subsearch")

    def regex(self, s: int, e: int, columns: Columns) -> Node | None:
        body = self.text[s:e]
        match = re.match(r'\s*(?:("[^"]*"|[^\s=!"]+)\s*(!=|=)\s*)?(.*?)\s*$', body, re.DOTALL)
        if not match or not match.group(3):
            raise QueryParseError("regex needs a pattern")
        name = cmd.strip_quotes(match.group(1)) if match.group(1) else "_raw"
        pattern = match.group(3)
        if len(pattern) >= 2 and pattern[0] == pattern[-1] == '"':
            pattern = unescape(pattern[1:-1])
        field_name, stage = columns.resolve(name).raw or name, columns.resolve(name).stage
        pred = Predicate(field_name, "regex_match", pattern,
                         case_sensitive=not pattern.startswith("(?i)"), stage=stage,
                         macro=self.exp.macro_at(s + match.start(3)))
        node = leaf(pred)
        return Node("not", [node]) if match.group(2) == "!=" else node

    def tstats(self, s: int, e: int, columns: Columns) -> Node | None:
        """``tstats aggs [from datamodel=X] [where search] [by fields]``."""
        body = self.text[s:e]
        fresh = Columns()
        nodes: list[Node] = []
        where = cmd.find_word(body, {"where"})
        head_end = where[0] if where else len(body)
        from_at = cmd.find_word(body[:head_end], {"from"})
        by_at = cmd.find_word(body[:head_end], {"by"})
        aggs_end = min(x[0] for x in (from_at, by_at, where) if x) if (from_at or by_at or
                                                                       where) else len(body)
        if from_at:
            match = _DATAMODEL.search(body, from_at[0], head_end)
            if match:
                nodes.append(self.datamodel(match.group(1), s + match.start(1)))
        by_text = body[by_at[0] + 2:] if by_at and not where else ""
        if where:
            node, stop = self.parser(fresh, ("by",)).parse(s + where[0] + 5, e)
            if node is not None:
                nodes.append(node)
            rest = self.text[stop:e].strip()
            by_text = rest[2:] if rest[:2].lower() == "by" else ""
        outputs = cmd.aggregations(fresh, body[:aggs_end])
        fresh.aggregate(outputs, cmd.group_fields(by_text))
        columns.named, columns.patterns = fresh.named, fresh.patterns
        columns.closed, columns.aggregated = True, True
        return and_(*nodes) if nodes else None

    def datamodel(self, name: str, pos: int) -> Node:
        if name not in self.result.datamodels:
            self.result.datamodels.append(name)
        return leaf(Predicate("datamodel", "eq", name, stage="selector",
                              macro=self.exp.macro_at(pos)))

    def datamodel_source(self, name: str, s: int, e: int) -> Node | None:
        """``from datamodel X.Y`` and ``datamodel X Y search``."""
        tokens = cmd.words(self.text[s:e])
        if name == "from":
            match = _DATAMODEL.search(self.text, s, e)
            return self.datamodel(match.group(1), match.start(1)) if match else None
        names = [t for t in tokens if "=" not in t and t.lower() not in ("search", "flat")]
        return self.datamodel(".".join(names[:2]), s) if names else None

    def inputlookup(self, s: int, e: int, columns: Columns) -> Node | None:
        columns.named, columns.patterns, columns.closed = {}, [], True
        where = cmd.find_word(self.text[s:e], {"where"})
        if not where:
            return None
        return self.search(s + where[0] + 5, e, columns)

    # -- subsearches ------------------------------------------------------

    def brackets(self, s: int, e: int) -> list[tuple[int, int]]:
        """Offsets inside each top-level ``[...]`` of a command."""
        return [(i + 1, matching_close(self.text, i, e))
                for i, char in top_level(self.text, s, e, brackets="[") if char == "["]

    def subsearch(self, s: int, e: int, columns: Columns) -> Node | None:
        tree, sub_columns = self.run(s, e)
        for name, column in sub_columns.named.items():
            columns.named.setdefault(name, column)
        return tree

    def join(self, s: int, e: int, columns: Columns, parts: list[Node]) -> list[Node]:
        spans = self.brackets(s, e)
        head = self.text[s:spans[0][0] - 1] if spans else self.text[s:e]
        kind = cmd.options(head).get("type", "inner").lower()
        subs = [self.subsearch(a, b, columns) for a, b in spans]
        if kind == "inner":
            return parts + [n for n in subs if n is not None]
        # An outer join keeps every row of the left side; the right side only adds columns.
        return parts


def conjunction(parts: list[Node]) -> Node | None:
    """The AND of a pipeline's filters, with unlabelled nested ANDs spliced in."""
    flat: list[Node] = []
    for part in parts:
        if part.kind == "and" and part.label is None:
            spliced = conjunction(part.children)
            if spliced is not None:
                flat.extend(spliced.children if spliced.kind == "and" else [spliced])
        else:
            flat.append(part)
    return and_(*flat) if flat else None


def union(branches: list[Node | None]) -> list[Node]:
    """The OR of result sets as a filter list: empty when one branch matches everything."""
    kept = [b for b in branches if b is not None]
    if not kept or len(kept) < len(branches):
        return []
    return [or_(*kept)]


def parse_spl(query: str, macros: Mapping[str, Macro] | None = None) -> SplParse:
    """Expand the macros of ``query`` and parse its pipeline into a tree of predicates."""
    expanded = expand(query, macros)
    result = SplParse(None, list(expanded.errors), list(expanded.calls))
    pipeline = Pipeline(expanded, result)
    try:
        result.tree, _ = pipeline.run(0, len(expanded.text))
    except QueryParseError as exc:
        result.errors.append(exc.message)
    return result
