"""One Elastic query in any of its languages, parsed into a tree with its side details."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from ruledex.languages.eql import parse_eql
from ruledex.languages.esql import parse_esql
from ruledex.languages.kql import parse_kql
from ruledex.languages.lucene import parse_lucene
from ruledex.model import Node, QueryParseError, Rule, iter_nodes, opaque

log = logging.getLogger(__name__)

_AT_LINE = re.compile(r"\bat line (\d+)")

LANGUAGE_NAMES = {"kuery": "KQL", "lucene": "Lucene", "eql": "EQL", "esql": "ES|QL",
                  "sql": "SQL"}
"""Language keys as Elastic rules write them, to the names people know them by."""


@dataclass
class ParsedQuery:
    """A query's tree with what the event mapper and the catalog's extra data need."""

    tree: Node
    categories: list[str] = field(default_factory=list)
    indices: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    # Parts the parser read past without failing: (message, line in the query or None).
    problems: list[tuple[str, int | None]] = field(default_factory=list)


def parse_query(language: str, text: str,
                category_field: str = "event.category") -> ParsedQuery:
    """Parse ``text`` written in ``language``; raise QueryParseError on a syntax error."""
    if language == "kuery":
        return ParsedQuery(parse_kql(text))
    if language == "lucene":
        return ParsedQuery(parse_lucene(text))
    if language == "eql":
        eql = parse_eql(text, category_field=category_field)
        details = {"kind": eql.kind, "join_keys": eql.join_keys, "step_keys": eql.step_keys,
                   "maxspan": eql.maxspan, "pipes": eql.pipes}
        return ParsedQuery(eql.tree, categories=list(eql.categories), details=details)
    if language == "esql":
        esql = parse_esql(text)
        details = {"commands": esql.commands, "indices": esql.indices,
                   "metadata": esql.metadata, "unparsed": esql.unparsed}
        parsed = ParsedQuery(esql.tree, indices=list(esql.indices), details=details)
        _esql_problems(parsed, esql.unparsed)
        return parsed
    if language == "sql":
        # Hunting SQL is osquery run on hosts, not a search over events: no indicators.
        return ParsedQuery(opaque(text.strip(), "osquery SQL is not parsed"))
    raise QueryParseError(f"unknown query language {language!r}")


def _esql_problems(parsed: ParsedQuery, unparsed: str | None) -> None:
    """Note the parts of an ES|QL query its parser kept as text because of a syntax error."""
    # The ES|QL parser goes on past a WHERE it cannot read, keeping it as an opaque
    # condition labelled "syntax error: ...", and stops at any other unreadable command.
    for node in iter_nodes(parsed.tree):
        if node.kind == "opaque" and (node.label or "").startswith("syntax error"):
            parsed.problems.append((f"WHERE kept as text, {node.label}", None))
    if unparsed:
        found = _AT_LINE.search(unparsed)
        parsed.problems.append((f"rest of the query not read: {unparsed}",
                                int(found.group(1)) if found else None))


def parse_into(rule: Rule, language: str, text: str, line: int | None,
               category_field: str = "event.category", what: str = "query"
               ) -> ParsedQuery | None:
    """Parse a query of ``rule``; on failure record the error at its file line and return None.

    ``line`` is the file line on which the query text starts.
    """
    name = LANGUAGE_NAMES.get(language, language)
    try:
        parsed = parse_query(language, text, category_field)
    except QueryParseError as err:
        where = line + err.line - 1 if line is not None and err.line else line
        rule.add_error(f"{what} ({name}): {err.message}", where)
    except RecursionError:
        rule.add_error(f"{what} ({name}): nested too deeply to parse", line)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError) as err:
        # A parser fault must cost one rule, not the whole file or build.
        log.warning("%s: %s parser failed: %r", rule.path, name, err)
        rule.add_error(f"{what} ({name}): parser failure: {err!r}", line)
    else:
        for message, offset in parsed.problems:
            where = line + offset - 1 if line is not None and offset else line
            rule.add_error(f"{what} ({name}): {message}", where)
        return parsed
    return None
