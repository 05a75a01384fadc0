"""Build a catalog file from rule repository checkouts, atomically."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ruledex import attack as attack_module
from ruledex import events as events_module
from ruledex.catalog import schema
from ruledex.model import Rule, RuledexError
from ruledex.normalize import Normalizer
from ruledex.sources import open_source
from ruledex.sources.base import Source

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""Called as ``progress(vendor, files_done, files_total)`` while a source is read."""


@dataclass
class SourceSummary:
    """What one source contributed to a build."""

    vendor: str
    path: str
    commit: str | None = None
    files: int = 0
    rules: int = 0
    parsed: int = 0
    failed: int = 0
    predicates: int = 0
    failures: list[RuledexError] = field(default_factory=list)


@dataclass
class BuildSummary:
    """The outcome of a build, per source."""

    db: Path
    sources: list[SourceSummary]
    seconds: float


def git_commit(path: Path) -> str | None:
    """The commit checked out at ``path``, or None when it is not a git checkout."""
    if not (Path(path) / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def build(db: Path, specs: Iterable[str | Path], attack_path: Path | None = None,
          progress: Progress | None = None) -> BuildSummary:
    """Build the catalog ``db`` from repository checkouts.

    Each spec is a path (vendor detected from its layout) or ``VENDOR=PATH``.
    The catalog is written to a temporary file next to ``db`` and moved over it
    only when complete, so a failed or interrupted build leaves the previous
    catalog untouched. Problems in single rules or files are recorded and the
    build goes on; a bad source path raises before anything is written.
    """
    started = time.perf_counter()
    sources = [open_source(spec) for spec in specs]
    if not sources:
        raise RuledexError("give at least one rule repository to build from")
    attack = attack_module.load(attack_path)
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    tmp = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            schema.create(conn)
            writer = CatalogWriter(conn, attack)
            summaries = [writer.add_source(source, progress) for source in sources]
            writer.finish()
            conn.commit()
        finally:
            conn.close()
        os.replace(tmp, db)
    finally:
        tmp.unlink(missing_ok=True)
    seconds = time.perf_counter() - started
    log.info("built %s in %.1fs", db, seconds)
    return BuildSummary(db, summaries, seconds)


class CatalogWriter:
    """Writes sources, rules and predicates into an empty catalog connection."""

    def __init__(self, conn: sqlite3.Connection, attack: attack_module.Attack):
        self.conn = conn
        self.attack = attack
        self.normalizer = Normalizer()
        self.indicators: dict[tuple[str, str, str], int] = {}
        self.rule_keys: set[tuple[str, str]] = set()
        self._write_attack()
        events_module.write_catalog(conn, events_module.load())

    def _write_attack(self) -> None:
        self.conn.execute("INSERT INTO meta VALUES ('attack_version', ?)",
                          (self.attack.version,))
        self.conn.executemany(
            "INSERT INTO tactics VALUES (?, ?, ?, ?, ?)",
            [(t.id, t.shortname, t.name, t.description, t.order) for t in self.attack.tactics])
        self.conn.executemany(
            "INSERT INTO techniques VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(t.id, t.name, t.parent, t.description, json.dumps(list(t.tactics)),
              json.dumps(list(t.platforms)), t.status, t.revoked_by,
              json.dumps([list(c) for c in t.citations]))
             for t in self.attack.techniques.values()])

    def add_source(self, source: Source, progress: Progress | None = None) -> SourceSummary:
        """Read every file of ``source`` into the catalog."""
        summary = SourceSummary(source.vendor, str(source.root), git_commit(source.root))
        cur = self.conn.execute(
            "INSERT INTO sources (vendor, path, commit_id) VALUES (?, ?, ?)",
            (summary.vendor, summary.path, summary.commit))
        source_id = cur.lastrowid
        assert source_id is not None
        files = source.files()
        summary.files = len(files)
        log.info("reading %d %s files from %s", len(files), source.vendor, source.root)
        for done, path in enumerate(files, start=1):
            try:
                rules = source.load(path)
            except RuledexError as err:
                summary.failures.append(err)
                self._failure(source_id, err.path or str(path), err.line, err.message)
                log.warning("skipped %s", err)
                rules = []
            for rule in rules:
                self.add_rule(source_id, rule, summary)
            if progress is not None:
                progress(source.vendor, done, len(files))
        self.conn.execute(
            "UPDATE sources SET files=?, rules=?, parsed=?, failed=?, predicates=? "
            "WHERE source_id=?",
            (summary.files, summary.rules, summary.parsed, summary.failed,
             summary.predicates, source_id))
        return summary

    def _failure(self, source_id: int, path: str, line: int | None, message: str) -> None:
        self.conn.execute("INSERT INTO failures VALUES (?, ?, ?, ?)",
                          (source_id, path, line, message))

    def add_rule(self, source_id: int, rule: Rule, summary: SourceSummary) -> None:
        """Insert one rule with its techniques, tactics, events and predicates."""
        rule_id = rule.id
        if (rule.vendor, rule_id) in self.rule_keys:
            # Ids are meant to be unique; a copied rule keeps its place under its path.
            rule_id = f"{rule.id}@{rule.path}"
            log.warning("%s: duplicate rule id %s", rule.path, rule.id)
        self.rule_keys.add((rule.vendor, rule_id))
        predicates = rule.predicates
        hidden = rule.deprecated or rule.building_block or rule.kind == "hunting"
        cur = self.conn.execute(
            "INSERT INTO rules (source_id, vendor, id, kind, path, line, title, description,"
            " author, refs, status, level, risk_score, date, modified, language, rule_type,"
            " query, source_text, logsource, tags, extra, deprecated, building_block, hidden,"
            " parse_status, errors, tree) VALUES "
            "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (source_id, rule.vendor, rule_id, rule.kind, rule.path, rule.line, rule.title,
             rule.description, rule.author, json.dumps(rule.references), rule.status,
             rule.level, rule.risk_score, rule.date, rule.modified, rule.language,
             rule.rule_type, rule.query, rule.source_text, json.dumps(rule.logsource),
             json.dumps(rule.tags), json.dumps(rule.extra, default=str), int(rule.deprecated),
             int(rule.building_block), int(hidden), rule.parse_status,
             json.dumps([e.to_dict() for e in rule.errors]),
             json.dumps(rule.tree.to_dict()) if rule.tree is not None else None))
        rid = cur.lastrowid
        assert rid is not None

        techniques = list(dict.fromkeys(t.upper() for t in rule.techniques))
        self.conn.executemany(
            "INSERT INTO rule_techniques VALUES (?, ?, ?)",
            [(rid, t, self.attack.technique_status(t)) for t in techniques])
        tactics = list(dict.fromkeys(rule.tactics))
        if not tactics:
            tactics = list(dict.fromkeys(
                tactic for t in techniques if t in self.attack.techniques
                for tactic in self.attack.techniques[t].tactics))
        self.conn.executemany("INSERT INTO rule_tactics VALUES (?, ?)",
                              [(rid, t) for t in tactics])
        events_module.record(self.conn, rid, rule)

        context = dict(rule.logsource)
        rows = []
        for pred in predicates:
            norm = self.normalizer.predicate(rule.vendor, context, pred)
            stage = self.normalizer.stage(pred, norm.field)
            iid = None
            if stage == "event":
                key = (norm.field, norm.op, norm.value)
                iid = self.indicators.get(key)
                if iid is None:
                    iid = len(self.indicators) + 1
                    self.indicators[key] = iid
            rows.append((rid, pred.field, norm.field, pred.op, norm.op, pred.value, norm.value,
                         int(pred.case_sensitive), int(pred.negated), stage,
                         pred.selection, pred.step, pred.path, pred.not_path, pred.macro,
                         json.dumps(list(pred.modifiers)), iid))
        self.conn.executemany(
            "INSERT INTO predicates (rid, field_raw, field, op_raw, op, value_raw, value,"
            " case_sensitive, negated, stage, selection, step, path, not_path, macro,"
            " modifiers, iid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

        summary.rules += 1
        summary.predicates += len(predicates)
        if rule.parse_status == "failed":
            summary.failed += 1
            for error in rule.errors:
                self._failure(source_id, error.path, error.line, error.message)
        else:
            summary.parsed += 1

    def finish(self) -> None:
        """Write the indicator and field summaries, the search index and statistics."""
        self.conn.executemany(
            "INSERT INTO indicators (iid, field, op, value) VALUES (?, ?, ?, ?)",
            [(iid, f, o, v) for (f, o, v), iid in self.indicators.items()])
        self.conn.execute("""
            UPDATE indicators SET
              rules = c.pos, exclusion_rules = c.neg, sigma = c.sigma, elastic = c.elastic,
              splunk = c.splunk,
              vendors = (c.sigma > 0) + (c.elastic > 0) + (c.splunk > 0)
            FROM (
              SELECT p.iid AS iid,
                COUNT(DISTINCT CASE WHEN p.negated = 0 THEN p.rid END) AS pos,
                COUNT(DISTINCT CASE WHEN p.negated = 1 THEN p.rid END) AS neg,
                COUNT(DISTINCT CASE WHEN p.negated = 0 AND r.vendor = 'sigma' THEN p.rid END)
                  AS sigma,
                COUNT(DISTINCT CASE WHEN p.negated = 0 AND r.vendor = 'elastic' THEN p.rid END)
                  AS elastic,
                COUNT(DISTINCT CASE WHEN p.negated = 0 AND r.vendor = 'splunk' THEN p.rid END)
                  AS splunk
              FROM predicates p JOIN rules r ON r.rid = p.rid
              WHERE p.iid IS NOT NULL AND r.hidden = 0
              GROUP BY p.iid
            ) AS c
            WHERE indicators.iid = c.iid
        """)
        self.conn.execute("""
            INSERT INTO fields
            SELECT p.field, COUNT(DISTINCT p.rid),
              COUNT(DISTINCT CASE WHEN r.vendor = 'sigma' THEN p.rid END),
              COUNT(DISTINCT CASE WHEN r.vendor = 'elastic' THEN p.rid END),
              COUNT(DISTINCT CASE WHEN r.vendor = 'splunk' THEN p.rid END),
              (SELECT COUNT(*) FROM indicators i WHERE i.field = p.field AND i.rules > 0)
            FROM predicates p JOIN rules r ON r.rid = p.rid
            WHERE p.iid IS NOT NULL AND r.hidden = 0
            GROUP BY p.field
        """)
        self.conn.execute("""
            INSERT INTO field_aliases
            SELECT p.field_raw, p.field, r.vendor, COUNT(*)
            FROM predicates p JOIN rules r ON r.rid = p.rid
            WHERE p.iid IS NOT NULL AND p.field_raw IS NOT NULL
            GROUP BY p.field_raw, p.field, r.vendor
        """)
        self.conn.execute("INSERT INTO rules_fts(rules_fts) VALUES ('rebuild')")
        self.conn.execute("INSERT INTO meta VALUES ('built_at', ?)",
                          (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),))
        self.conn.execute("ANALYZE")
