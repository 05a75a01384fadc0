"""SigmaHQ/sigma checkouts: YAML rules, correlation rules and filter rules."""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path
from typing import Any

import yaml
from sigma.exceptions import SigmaError
from sigma.rule import SigmaDetections

from ruledex.model import (
    Node,
    Predicate,
    Rule,
    RuledexError,
    and_,
    leaf,
    not_,
    opaque,
    sequence,
    step,
)
from ruledex.sources.base import Source
from ruledex.sources.sigma_detection import condition_tree

log = logging.getLogger(__name__)

_TECHNIQUE_TAG = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.IGNORECASE)
_OTHER_ATTACK_TAG = re.compile(r"^attack\.[gsm]\d{4}$", re.IGNORECASE)
_DOC_SEPARATOR = re.compile(r"^---\s*$")
_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def split_tags(tags: list[Any]) -> tuple[list[str], list[str], list[str]]:
    """Split Sigma tags into technique ids, tactic short names and the rest."""
    techniques: list[str] = []
    tactics: list[str] = []
    others: list[str] = []
    for raw in tags or []:
        tag = str(raw).strip()
        match = _TECHNIQUE_TAG.match(tag)
        if match:
            techniques.append(match.group(1).upper())
        elif tag.lower().startswith("attack.") and not _OTHER_ATTACK_TAG.match(tag):
            tactics.append(tag[len("attack."):].lower().replace("_", "-"))
        else:
            others.append(tag)
    return techniques, tactics, others


def _documents(text: str) -> list[tuple[int, str]]:
    """Split a YAML stream into (first line, text) per document."""
    docs: list[tuple[int, str]] = []
    start, buf = 1, list[str]()
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        if _DOC_SEPARATOR.match(line):
            if "".join(buf).strip():
                docs.append((start, "".join(buf)))
            start, buf = number + 1, []
        else:
            buf.append(line)
    if "".join(buf).strip():
        docs.append((start, "".join(buf)))
    return docs


def _section(text: str, key: str) -> tuple[str, int | None]:
    """The text of a top-level key's block in a YAML document, and its line."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            end = index + 1
            while end < len(lines) and not _TOP_KEY.match(lines[end]):
                end += 1
            return "".join(lines[index:end]).rstrip() + "\n", index + 1
    return "", None


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _rule_folders(root: Path) -> list[Path]:
    """A checkout's rule folders: rules, rules-emerging-threats, ... and deprecated."""
    return sorted(folder for folder in root.iterdir() if folder.is_dir() and (
        folder.name.startswith("rules") or folder.name == "deprecated"))


_SIGMA_KEY = re.compile(r"^(?:detection|correlation|filter|logsource):", re.MULTILINE)


def _looks_like_sigma(path: Path) -> bool:
    try:
        return bool(_SIGMA_KEY.search(path.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


class SigmaSource(Source):
    """A SigmaHQ/sigma checkout (every ``rules*`` and ``deprecated`` folder), or any
    folder of Sigma rules; paths are relative to the folder given."""

    vendor = "sigma"

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        if (root / "detections").is_dir():
            return False
        if _rule_folders(root):
            return any(next(folder.rglob("*.yml"), None) for folder in _rule_folders(root))
        # A plain folder of Sigma rules, such as one folder of a checkout.
        first = next(root.rglob("*.yml"), None)
        return first is not None and _looks_like_sigma(first)

    def files(self) -> list[Path]:
        folders = _rule_folders(self.root) or [self.root]
        return sorted(path for folder in folders for path in folder.rglob("*.yml"))

    def load(self, path: Path) -> list[Rule]:
        relative, text = self.read(path)
        rules: list[Rule] = []
        global_part: dict[str, Any] = {}
        for first_line, doc_text in _documents(text):
            try:
                data = yaml.load(doc_text, Loader=yaml.CSafeLoader)
            except yaml.YAMLError as err:
                mark = getattr(err, "problem_mark", None)
                line = first_line + mark.line if mark is not None else first_line
                raise RuledexError(f"invalid YAML: {getattr(err, 'problem', err)}",
                                   relative, line) from err
            if not isinstance(data, dict):
                raise RuledexError("a Sigma document must be a mapping", relative, first_line)
            action = data.pop("action", None)
            if action == "global":
                global_part = data
                continue
            if action == "reset":
                global_part = {}
                continue
            if global_part:
                data = _merge(global_part, data)
            rules.append(self._rule(data, relative, first_line, doc_text))
        if len(rules) > 1:
            seen: set[str] = set()
            for rule in rules:
                if rule.id in seen:
                    rule.id = f"{rule.id}#{rule.line}"
                seen.add(rule.id)
        return rules

    def _rule(self, data: dict[str, Any], relative: str, first_line: int,
              doc_text: str) -> Rule:
        techniques, tactics, others = split_tags(data.get("tags") or [])
        status = str(data.get("status") or "")
        rule = Rule(
            vendor=self.vendor, path=relative,
            id=str(data.get("id") or data.get("name") or f"{relative}:{first_line}"),
            title=str(data.get("title") or ""),
            description=str(data.get("description") or "").strip(),
            author=str(data.get("author") or ""),
            references=[str(r) for r in data.get("references") or []],
            status=status, level=str(data.get("level") or ""),
            date=str(data.get("date") or ""), modified=str(data.get("modified") or ""),
            techniques=techniques, tactics=tactics, tags=others,
            logsource={k: str(v) for k, v in (data.get("logsource") or {}).items()},
            language="sigma", source_text=doc_text, line=first_line,
            deprecated=status == "deprecated" or relative.startswith("deprecated/"),
        )
        rule.extra = {k: data[k] for k in ("falsepositives", "fields", "name", "scope")
                      if data.get(k)}
        if "correlation" in data:
            rule.kind = "correlation"
            self._correlation(rule, data, doc_text)
        elif "filter" in data:
            rule.kind = "filter"
            self._filter(rule, data, doc_text)
        else:
            self._detection(rule, data.get("detection"), doc_text, "detection")
        return rule

    def _detection(self, rule: Rule, detection: Any, doc_text: str, key: str) -> None:
        query, line = _section(doc_text, key)
        rule.query = query
        line = rule.line + line - 1 if line else rule.line
        if not isinstance(detection, dict):
            rule.add_error(f"the rule has no '{key}' mapping", line)
            return
        try:
            rule.tree = condition_tree(SigmaDetections.from_dict(detection))
        except (SigmaError, RuledexError) as err:
            rule.add_error(str(err), line)
        except (TypeError, ValueError, AttributeError, KeyError) as err:
            rule.add_error(f"malformed detection: {err}", line)

    def _filter(self, rule: Rule, data: dict[str, Any], doc_text: str) -> None:
        section = data.get("filter")
        if not isinstance(section, dict):
            rule.add_error("the filter rule has no 'filter' mapping", rule.line)
            return
        targets = section.get("rules") or []
        rule.extra["filter_rules"] = [str(t) for t in
                                      (targets if isinstance(targets, list) else [targets])]
        detection = {k: v for k, v in section.items() if k != "rules"}
        self._detection(rule, detection, doc_text, "filter")
        if rule.tree is not None:
            # A filter rule describes events to drop from the rules it names.
            rule.tree = not_(rule.tree)

    def _correlation(self, rule: Rule, data: dict[str, Any], doc_text: str) -> None:
        rule.query, _ = _section(doc_text, "correlation")
        section = data.get("correlation")
        if not isinstance(section, dict):
            rule.add_error("the correlation rule has no 'correlation' mapping", rule.line)
            return
        kind = str(section.get("type") or "")
        refs = section.get("rules") or []
        refs = [str(r) for r in (refs if isinstance(refs, list) else [refs])]
        group_by = section.get("group-by") or []
        group_by = [str(g) for g in (group_by if isinstance(group_by, list) else [group_by])]
        timespan = str(section.get("timespan") or section.get("timeframe") or "")
        rule.extra["correlation"] = {"type": kind, "rules": refs, "group_by": group_by,
                                     "timespan": timespan}
        label = f"{kind} by {', '.join(group_by) or '-'} within {timespan or '-'}"
        thresholds = self._thresholds(section.get("condition"))
        if kind.startswith("temporal"):
            steps = [step(opaque(ref, "referenced rule"), label=ref) for ref in refs]
            body: Node = sequence(steps, label=label)
            rule.tree = and_(body, *thresholds) if thresholds else body
        else:
            rule.tree = Node("and", thresholds or [opaque(", ".join(refs), "referenced rules")],
                             label=label)
        if not refs:
            rule.add_error("the correlation names no rules", rule.line)

    @staticmethod
    def _thresholds(condition: Any) -> list[Node]:
        if not isinstance(condition, dict):
            return []
        field = str(condition.get("field") or "count")
        nodes = []
        for op in ("gt", "gte", "lt", "lte", "eq", "neq"):
            if op in condition:
                value = str(condition[op])
                pred = Predicate(field, "eq" if op == "neq" else op, value, stage="aggregate")
                nodes.append(not_(leaf(pred)) if op == "neq" else leaf(pred))
        return nodes
