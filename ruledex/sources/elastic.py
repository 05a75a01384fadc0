"""elastic/detection-rules checkouts: TOML detection rules, building blocks and hunts."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ruledex.languages.kql import all_of, match_all, parse_kql
from ruledex.languages.lucene import parse_lucene
from ruledex.model import Node, Predicate, QueryParseError, Rule, flatten, leaf
from ruledex.sources.base import Source
from ruledex.sources.elastic_filters import filters_tree
from ruledex.sources.elastic_hunting import hunt_rule
from ruledex.sources.elastic_queries import ParsedQuery, parse_into
from ruledex.sources.elastic_toml import Locations, iso_date, locate, parse_toml, strings

log = logging.getLogger(__name__)

FOLDERS = ("rules", "rules_building_block", "hunting")
"""Top-level folders of a checkout that hold rule and hunting files."""

_RULE_TABLE = re.compile(r"^\[(?:rule|hunt)\]", re.MULTILINE)

DATA_SOURCE_TAG = "Data Source: "

_SETUP_LIMIT = 2000
# The language of a rule that does not name one; other query-based types default to KQL.
_TYPE_LANGUAGE = {"eql": "eql", "esql": "esql", "machine_learning": ""}


def threat_ids(threat: Any) -> tuple[list[str], list[str]]:
    """Technique and sub-technique ids, and tactic short names, of ``[[rule.threat]]``."""
    techniques: list[str] = []
    tactics: list[str] = []
    for entry in threat if isinstance(threat, list) else []:
        if not isinstance(entry, dict):
            continue
        tactic = entry.get("tactic")
        if isinstance(tactic, dict) and tactic.get("name"):
            tactics.append(str(tactic["name"]).strip().lower().replace(" ", "-"))
        for technique in entry.get("technique") or []:
            if not isinstance(technique, dict):
                continue
            if technique.get("id"):
                techniques.append(str(technique["id"]).upper())
            for sub in technique.get("subtechnique") or []:
                if isinstance(sub, dict) and sub.get("id"):
                    techniques.append(str(sub["id"]).upper())
    return list(dict.fromkeys(techniques)), list(dict.fromkeys(tactics))


def data_sources(tags: list[str]) -> list[str]:
    """The ``X`` of every ``Data Source: X`` tag."""
    return [t[len(DATA_SOURCE_TAG):].strip() for t in tags if t.startswith(DATA_SOURCE_TAG)]


class ElasticSource(Source):
    """An elastic/detection-rules checkout: ``rules``, ``rules_building_block``, ``hunting``."""

    vendor = "elastic"

    @classmethod
    def detect(cls, root: Path) -> bool:
        rules = Path(root) / "rules"
        if rules.is_dir():
            return next(rules.rglob("*.toml"), None) is not None
        # A plain folder of rule files, such as one folder of a checkout.
        first = next(Path(root).rglob("*.toml"), None)
        return first is not None and _RULE_TABLE.search(
            first.read_text(encoding="utf-8", errors="replace")) is not None

    def files(self) -> list[Path]:
        folders = [self.root / name for name in FOLDERS if (self.root / name).is_dir()]
        return sorted(path for folder in folders or [self.root]
                      for path in folder.rglob("*.toml"))

    def load(self, path: Path) -> list[Rule]:
        relative, text = self.read(path)
        data = parse_toml(text, relative)
        where = locate(text)
        hunt = data.get("hunt")
        if isinstance(hunt, dict) and ("query" in hunt or "name" in hunt):
            return [hunt_rule(hunt, relative, text, where)]
        if isinstance(data.get("rule"), dict):
            return [self._rule(data, relative, text, where)]
        # Configuration TOMLs may sit beside the rules; a broken rule file still fails
        # above, in parse_toml, with its line.
        log.warning("%s: no [rule] or [hunt] table; not read as a rule", relative)
        return []

    def _rule(self, data: dict[str, Any], relative: str, text: str, where: Locations) -> Rule:
        body: dict[str, Any] = data["rule"]
        meta = data.get("metadata")
        if not isinstance(meta, dict):
            meta = {}
        rule_type = str(body.get("type") or "")
        language = str(body.get("language") or _TYPE_LANGUAGE.get(rule_type, "kuery"))
        techniques, tactics = threat_ids(body.get("threat"))
        tags = strings(body.get("tags"))
        maturity = str(meta.get("maturity") or "")
        bb_type = body.get("building_block_type")
        rule = Rule(
            vendor=self.vendor, path=relative,
            id=str(body.get("rule_id") or relative), title=str(body.get("name") or ""),
            description=str(body.get("description") or "").strip(),
            author=", ".join(strings(body.get("author"))),
            references=strings(body.get("references")), status=maturity,
            level=str(body.get("severity") or ""), risk_score=_number(body.get("risk_score")),
            date=iso_date(meta.get("creation_date")), modified=iso_date(meta.get("updated_date")),
            techniques=techniques, tactics=tactics, tags=tags, language=language,
            rule_type=rule_type, query=str(body.get("query") or ""), source_text=text,
            deprecated=maturity == "deprecated" or relative.startswith("rules/_deprecated/"),
            building_block=bb_type is not None,
        )
        if rule.building_block:
            rule.kind = "building_block"
        override = body.get("event_category_override")
        rule.logsource = {
            "index": strings(body.get("index")), "language": language, "rule_type": rule_type,
            "data_source": data_sources(tags), "event_categories": [],
            "event_category_override": str(override) if override else None,
            "integration": strings(meta.get("integration")),
        }
        rule.extra = _extra(body, meta)
        _logic(rule, body, where)
        return rule


def _number(value: Any) -> float | None:
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _extra(body: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Vendor details kept as they are, for display and later analysis."""
    extra: dict[str, Any] = {"index": strings(body.get("index"))}
    if body.get("building_block_type") is not None:
        extra["building_block_type"] = str(body["building_block_type"])
    if body.get("setup"):
        extra["setup"] = str(body["setup"]).strip()[:_SETUP_LIMIT]
    for key in ("false_positives", "alert_suppression", "timestamp_override"):
        if body.get(key):
            extra[key] = body[key]
    if meta.get("deprecated_reason"):
        extra["deprecated_reason"] = str(meta["deprecated_reason"])
    return extra


def _logic(rule: Rule, body: dict[str, Any], where: Locations) -> None:
    """Parse the rule's query, filters and type-specific parts into its tree and extra."""
    if rule.rule_type == "machine_learning":
        rule.extra["machine_learning"] = {
            "job_ids": strings(body.get("machine_learning_job_id")),
            "anomaly_threshold": body.get("anomaly_threshold"),
        }
        return
    # The type-specific parts reach extra even when the query cannot be parsed.
    aggregate = match_all()
    if rule.rule_type == "threshold":
        aggregate = _threshold(rule, body.get("threshold"))
    elif rule.rule_type == "new_terms":
        _new_terms(rule, body.get("new_terms"))
    elif rule.rule_type == "threat_match":
        _threat_match(rule, body, where)
    filters = _filters(rule, body, where)

    query = body.get("query")
    if not isinstance(query, str):
        rule.add_error("the rule has no query", where.table_line("rule"))
        return
    category_field = rule.logsource["event_category_override"] or "event.category"
    parsed = parse_into(rule, rule.language, query, where.string_line("rule.query"),
                        category_field=category_field)
    if parsed is None:
        return
    _record_details(rule, parsed)
    rule.tree = all_of([parsed.tree, filters, aggregate])


def _record_details(rule: Rule, parsed: ParsedQuery) -> None:
    if rule.language in ("eql", "esql"):
        rule.extra[rule.language] = parsed.details
    rule.logsource["event_categories"] = list(dict.fromkeys(parsed.categories))
    if parsed.indices and not rule.logsource["index"]:
        rule.logsource["index"] = list(parsed.indices)


def _filters(rule: Rule, body: dict[str, Any], where: Locations) -> Node:
    """The rule's enabled Kibana filters ANDed; match-all when it has none."""
    if not body.get("filters"):
        return match_all()
    rule.extra["filters"] = body["filters"]
    node, problems = filters_tree(body["filters"])
    for index, message in problems:
        rule.add_error(message, where.table_line("rule.filters", index)
                       or where.keys.get("rule.filters"))
    return node


def _threshold(rule: Rule, spec: Any) -> Node:
    """The aggregate predicates of a threshold rule, labelled with its group fields."""
    spec = spec if isinstance(spec, dict) else {}
    fields = strings(spec.get("field"))
    cardinality = [c for c in spec.get("cardinality") or [] if isinstance(c, dict)]
    rule.extra["threshold"] = {
        "field": fields, "value": spec.get("value"),
        "cardinality": [{"field": str(c.get("field")), "value": c.get("value")}
                        for c in cardinality],
    }
    nodes = [leaf(Predicate("count", "gte", str(spec.get("value", 1)), stage="aggregate"))]
    # Distinct values of a field within the group, as Elastic's cardinality clause counts.
    nodes += [leaf(Predicate(str(c.get("field")), "gte", str(c.get("value")),
                             stage="aggregate", modifiers=("cardinality",)))
              for c in cardinality]
    label = f"threshold by {', '.join(fields)}" if fields else "threshold over all events"
    return Node("and", nodes, label=label)


def _new_terms(rule: Rule, spec: Any) -> None:
    spec = spec if isinstance(spec, dict) else {}
    window = [w.get("value") for w in spec.get("history_window_start") or []
              if isinstance(w, dict)]
    rule.extra["new_terms"] = {"fields": strings(spec.get("value")),
                               "history_window_start": str(window[0]) if window else None}


def _threat_match(rule: Rule, body: dict[str, Any], where: Locations) -> None:
    """Keep the indicator side of a threat match rule in extra, parsed to predicates.

    The threat query and threat filters select documents of the indicator index,
    not events, so they stay out of the rule's tree.
    """
    text = str(body.get("threat_query") or "")
    language = str(body.get("threat_language") or "kuery")
    nodes: list[Node] = []
    try:
        nodes.append(parse_lucene(text) if language == "lucene" else parse_kql(text))
    except QueryParseError as err:
        start = where.string_line("rule.threat_query")
        rule.add_error(f"threat query: {err.message}",
                       start + err.line - 1 if start is not None and err.line else start)
    filters, problems = filters_tree(body.get("threat_filters") or [])
    nodes.append(filters)
    for index, message in problems:
        rule.add_error(f"threat {message}", where.table_line("rule.threat_filters", index))
    rule.extra["threat_match"] = {
        "index": strings(body.get("threat_index")), "query": text, "language": language,
        "indicator_path": body.get("threat_indicator_path"),
        "mapping": body.get("threat_mapping") or [],
        "filters": body.get("threat_filters") or [],
        "predicates": [{"field": p.field, "op": p.op, "value": p.value, "negated": p.negated}
                       for p in flatten(all_of(nodes))],
    }
