"""The whole Elastic corpus: every rule loads, every query parses, every rule has predicates."""

from __future__ import annotations

import pytest
from conftest import corpus_path

from ruledex.model import RuledexError
from ruledex.sources.elastic import ElasticSource


@pytest.mark.corpus
def test_every_corpus_rule_loads_and_parses() -> None:
    source = ElasticSource(corpus_path("elastic"))
    problems: list[str] = []
    for path in source.files():
        relative = source.relative(path)
        try:
            rules = source.load(path)
        except RuledexError as err:
            problems.append(f"{err} (not loaded)")
            continue
        if relative.startswith("hunting/"):
            continue
        for rule in rules:
            problems.extend(f"{e} ({rule.language})" for e in rule.errors)
            if rule.rule_type != "machine_learning" and not rule.predicates:
                problems.append(f"{rule.path}: no predicates ({rule.rule_type})")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
