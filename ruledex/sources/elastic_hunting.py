"""Elastic hunting files: one ``[hunt]`` table with a list of alternative queries."""

from __future__ import annotations

import re
from typing import Any

from ruledex.model import Node, Rule, and_, or_
from ruledex.sources.elastic_queries import parse_into
from ruledex.sources.elastic_toml import Locations, strings

_ATTACK_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$", re.IGNORECASE)
_DECLARED = {"es|ql": "esql", "esql": "esql", "eql": "eql", "sql": "sql", "kql": "kuery",
             "kuery": "kuery", "lucene": "lucene"}
# A first line naming a language is left over from a Markdown code fence.
_FENCE_WORDS = frozenset(_DECLARED)
_EQL_STARTS = re.compile(r"^(?:sequence|sample|[a-z_]+\s+where)\b", re.IGNORECASE)


def split_mitre(ids: list[str]) -> tuple[list[str], list[str]]:
    """ATT&CK technique ids apart from other framework ids (ATLAS ``AML.T...``)."""
    attack = [i.upper() for i in ids if _ATTACK_ID.match(i)]
    return attack, [i for i in ids if not _ATTACK_ID.match(i)]


def query_language(text: str, declared: list[str]) -> str:
    """The language of one hunting query, from how it starts and the file's language list."""
    first = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(("//", "--")):
            first = stripped
            break
    word = first.split(None, 1)[0].lower() if first else ""
    if word in ("from", "ts", "row", "show"):
        return "esql"
    if word in ("select", "with"):
        return "sql"
    if _EQL_STARTS.match(first):
        return "eql"
    known = [_DECLARED[d.lower()] for d in declared if d.lower() in _DECLARED]
    return known[0] if known else "esql"


def strip_fence(text: str) -> tuple[str, int]:
    """Drop a first line that only names a language; return the text and lines dropped."""
    head, newline, rest = text.partition("\n")
    if newline and head.strip().lower() in _FENCE_WORDS and rest.strip():
        return rest, 1
    return text, 0


def hunt_rule(hunt: dict[str, Any], relative: str, text: str, where: Locations) -> Rule:
    """One rule for a hunting file: its queries are alternatives, ORed."""
    techniques, others = split_mitre(strings(hunt.get("mitre")))
    declared = strings(hunt.get("language"))
    raw_queries = hunt.get("query")
    queries = raw_queries if isinstance(raw_queries, list) else strings(raw_queries)
    rule = Rule(
        vendor="elastic", path=relative, id=str(hunt.get("uuid") or relative),
        title=str(hunt.get("name") or ""), kind="hunting",
        description=str(hunt.get("description") or "").strip(),
        author=", ".join(strings(hunt.get("author"))),
        references=strings(hunt.get("references")), techniques=techniques,
        rule_type="hunting", query="\n\n".join(str(q).strip() for q in queries),
        source_text=text,
    )
    details: list[dict[str, Any]] = []
    children: list[Node] = []
    languages: list[str] = []
    indices: list[str] = []
    categories: list[str] = []
    for index, raw in enumerate(queries):
        label = f"query {index + 1}"
        if not isinstance(raw, str):
            rule.add_error(f"{label} is not a string", where.string_line("hunt.query", index))
            continue
        body, dropped = strip_fence(raw)
        start = where.string_line("hunt.query", index)
        line = start + dropped if start is not None else None
        language = query_language(body, declared)
        languages.append(language)
        parsed = parse_into(rule, language, body, line, what=label)
        details.append({"language": language, "line": line,
                        **(parsed.details if parsed is not None else {})})
        if parsed is not None:
            children.append(and_(parsed.tree, label=label))
            indices.extend(parsed.indices)
            categories.extend(parsed.categories)
    if not queries:
        rule.add_error("the hunt has no query", where.keys.get("hunt.query"))

    rule.tree = or_(*children) if children else None
    rule.language = ",".join(dict.fromkeys(languages))
    rule.logsource = {
        "index": list(dict.fromkeys(indices)), "language": rule.language,
        "rule_type": "hunting", "data_source": [],
        "event_categories": list(dict.fromkeys(categories)),
        "event_category_override": None, "integration": strings(hunt.get("integration")),
    }
    rule.extra = {"queries": details, "notes": strings(hunt.get("notes")),
                  "integration": strings(hunt.get("integration"))}
    if others:
        rule.extra["other_techniques"] = others
    return rule
