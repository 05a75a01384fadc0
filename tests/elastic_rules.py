"""Small Elastic rule files written by the Elastic tests, and helpers to read them."""

from __future__ import annotations

from pathlib import Path

from ruledex.model import Node, Predicate, Rule, iter_nodes
from ruledex.sources.elastic import ElasticSource

METADATA = """[metadata]
creation_date = "2020/02/18"
integration = ["endpoint"]
maturity = "production"
updated_date = "2024/05/21"

"""

RULE_HEAD = """[rule]
author = ["Elastic", "Someone"]
description = "Finds curl."
index = ["logs-endpoint.events.process-*"]
name = "Curl Activity"
risk_score = 47
rule_id = "11111111-2222-3333-4444-555555555555"
severity = "medium"
tags = ["Domain: Endpoint", "Data Source: Elastic Defend", "Data Source: Sysmon"]
"""


def write(root: Path, text: str, name: str = "rules/windows/r.toml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def load(root: Path, body: str, name: str = "rules/windows/r.toml",
         metadata: str = METADATA) -> Rule:
    path = write(root, metadata + RULE_HEAD + body, name)
    rules = ElasticSource(root).load(path)
    assert len(rules) == 1
    return rules[0]


def triples(rule_or_tree: Rule | Node) -> list[tuple[str | None, str, str | None]]:
    preds = rule_or_tree.predicates if isinstance(rule_or_tree, Rule) else \
        [n.predicate for n in iter_nodes(rule_or_tree) if n.predicate is not None]
    return [(p.field, p.op, p.value) for p in preds]


def only(rule: Rule) -> Predicate:
    preds = rule.predicates
    assert len(preds) == 1, preds
    return preds[0]


KQL = 'type = "query"\nlanguage = "kuery"\nquery = \'\'\'\n{query}\n\'\'\'\n'
