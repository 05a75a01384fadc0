"""splunk/security_content checkouts: YAML detections whose logic is an SPL search."""

from __future__ import annotations

import logging
import re
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from ruledex.languages.spl import parse_spl
from ruledex.languages.spl_macros import Macro, load_macros
from ruledex.model import Rule, RuledexError
from ruledex.sources.base import Source

log = logging.getLogger(__name__)

LEVELS = ((20, "informational"), (40, "low"), (60, "medium"), (80, "high"))
"""Upper bounds of the risk-score bands; above the last one a rule is ``critical``.

These are the severity bands Splunk Enterprise Security draws over the 0-100
risk score: 0-20 informational, 21-40 low, 41-60 medium, 61-80 high, 81-100
critical.
"""

_TAG_KEYS = ("asset_type", "security_domain", "cve", "group")
_SERIES = re.compile(r"^(.*?\D)(\d+(?:\s*,\s*\d+)+)$")
_SEARCH_KEY = re.compile(r"^search\s*:", re.MULTILINE)


def level_for(score: float | None) -> str:
    """The severity band of a 0-100 risk score, or ``""`` without one."""
    if score is None:
        return ""
    for bound, name in LEVELS:
        if score <= bound:
            return name
    return "critical"


def split_data_sources(entries: list[Any]) -> list[str]:
    """Data source names with compound entries split into their parts.

    ``Sysmon EventID 1 AND Sysmon EventID 11`` names two sources, and
    ``NTLM Operational 8004,8005,8006`` names three event codes of one log.
    """
    names: list[str] = []
    for entry in entries or []:
        for part in re.split(r"\s+AND\s+", str(entry).strip()):
            series = _SERIES.match(part)
            if series:
                prefix = series.group(1)
                parts = [prefix + n.strip() for n in series.group(2).split(",")]
            else:
                parts = [part.strip()]
            names.extend(p for p in parts if p and p not in names)
    return names


def risk_block(data: dict[str, Any], tags: dict[str, Any]) -> dict[str, Any]:
    """Risk-based alerting settings: the ``rba`` block, or one built from the older tags.

    Older detections list ``observable`` entries with a role; a victim is a
    risk object scored with the rule's risk score, an attacker a threat object.
    """
    rba = data.get("rba")
    if isinstance(rba, dict):
        return dict(rba)
    score = tags.get("risk_score")
    risk_objects: list[dict[str, Any]] = []
    threat_objects: list[dict[str, Any]] = []
    for item in tags.get("observable") or []:
        if not isinstance(item, dict):
            continue
        roles = [str(r).lower() for r in item.get("role") or []]
        entry = {"field": item.get("name"), "type": item.get("type")}
        if "victim" in roles:
            risk_objects.append({**entry, "score": score})
        if "attacker" in roles:
            threat_objects.append(entry)
    block: dict[str, Any] = {"message": tags.get("message", "")}
    if risk_objects:
        block["risk_objects"] = risk_objects
    if threat_objects:
        block["threat_objects"] = threat_objects
    return block


def risk_score(rba: dict[str, Any], tags: dict[str, Any]) -> float | None:
    """The highest risk-object score of the rule, else its ``risk_score`` tag."""
    scores = [o.get("score") for o in rba.get("risk_objects") or [] if isinstance(o, dict)]
    numbers = [float(s) for s in scores if isinstance(s, (int, float))]
    if numbers:
        return max(numbers)
    value = tags.get("risk_score")
    return float(value) if isinstance(value, (int, float)) else None


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return [str(value)]


_SEARCH_KEY = re.compile(r"^search:", re.MULTILINE)


class SplunkSource(Source):
    """A checkout of splunk/security_content."""

    vendor = "splunk"

    @classmethod
    def detect(cls, root: Path) -> bool:
        root = Path(root)
        if (root / "detections").is_dir():
            return (root / "macros").is_dir()
        # A plain folder of detections, such as one folder of a checkout: its macros are
        # then unknown and expand to nothing, recorded on each rule.
        first = next(root.rglob("*.yml"), None)
        if first is None:
            return False
        text = first.read_text(encoding="utf-8", errors="replace")
        return _SEARCH_KEY.search(text) is not None and "\ndetection:" not in "\n" + text

    def files(self) -> list[Path]:
        folder = self.root / "detections"
        return sorted((folder if folder.is_dir() else self.root).glob("**/*.yml"))

    @cached_property
    def macros(self) -> dict[str, Macro]:
        """The repository's macro definitions, read once."""
        macros = load_macros(self.root / "macros")
        log.info("read %d Splunk macros from %s", len(macros), self.root / "macros")
        return macros

    def _named_files(self, folder: str) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for path in sorted((self.root / folder).glob("*.yml")):
            try:
                data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
            except (OSError, yaml.YAMLError) as exc:
                log.warning("skipping %s: %s", path, exc)
                continue
            if isinstance(data, dict) and data.get("name"):
                found[str(data["name"])] = data
        return found

    @cached_property
    def data_sources(self) -> dict[str, dict[str, Any]]:
        """Data source definitions (source, sourcetype, fields) by name."""
        return self._named_files("data_sources")

    @cached_property
    def stories(self) -> dict[str, dict[str, Any]]:
        """Analytic stories by name."""
        return self._named_files("stories")

    def load(self, path: Path) -> list[Rule]:
        rel, text = self.read(path)
        try:
            data = yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise RuledexError(f"not valid YAML: {problem}", rel,
                               mark.line + 1 if mark else None) from exc
        if not isinstance(data, dict):
            raise RuledexError("detection file does not hold a YAML mapping", rel, 1)
        return [self.rule(data, text, rel)]

    def rule(self, data: dict[str, Any], text: str, rel: str) -> Rule:
        """Build one rule from a parsed detection file."""
        raw_tags = data.get("tags")
        tags: dict[str, Any] = raw_tags if isinstance(raw_tags, dict) else {}
        stories = _strings(tags.get("analytic_story"))
        status = str(data.get("status") or "")
        sources = split_data_sources(data.get("data_source") or data.get("data_sources") or [])
        rba = risk_block(data, tags)
        score = risk_score(rba, tags)
        query = str(data.get("search") or "")
        techniques: list[str] = []
        for technique in _strings(tags.get("mitre_attack_id")):
            if technique.strip().upper() not in techniques:
                techniques.append(technique.strip().upper())
        other_tags = [f"{key}:{value}" for key in _TAG_KEYS for value in _strings(tags.get(key))]

        rule = Rule(
            vendor=self.vendor, path=rel, id=str(data.get("id") or ""),
            title=str(data.get("name") or ""), kind="rule",
            description=str(data.get("description") or "").strip(),
            author=str(data.get("author") or ""), references=_strings(data.get("references")),
            status=status, level=level_for(score), risk_score=score,
            date=str(data.get("date") or ""), techniques=techniques,
            tags=[f"analytic_story:{s}" for s in stories] + other_tags,
            logsource={"data_source": sources}, language="spl",
            rule_type=str(data.get("type") or ""), query=query, source_text=text,
            deprecated=status == "deprecated" or rel.startswith("detections/deprecated/"),
        )

        parsed = parse_spl(query, self.macros)
        rule.tree = parsed.tree
        search_line = _line_of_search(text)
        for message in parsed.errors:
            rule.add_error(message, search_line)
        datamodels = list(parsed.datamodels)
        for name in _strings(data.get("datamodel")):
            if name not in datamodels:
                datamodels.append(name)
        rule.extra = {
            "data_source": sources, "analytic_story": stories, "version": data.get("version"),
            "known_false_positives": str(data.get("known_false_positives") or ""),
            "confidence": tags.get("confidence"), "impact": tags.get("impact"), "rba": rba,
            "macros": parsed.macros, "datamodel": datamodels,
            "how_to_implement": str(data.get("how_to_implement") or ""),
        }
        return rule


def _line_of_search(text: str) -> int | None:
    """The file line where the ``search:`` key starts (its SPL is folded by YAML)."""
    match = _SEARCH_KEY.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None
