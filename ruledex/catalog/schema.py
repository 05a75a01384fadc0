"""The catalog's SQLite schema."""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE sources (
    source_id INTEGER PRIMARY KEY,
    vendor TEXT NOT NULL,
    path TEXT NOT NULL,
    commit_id TEXT,
    files INTEGER NOT NULL DEFAULT 0,
    rules INTEGER NOT NULL DEFAULT 0,
    parsed INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    predicates INTEGER NOT NULL DEFAULT 0
);

-- Files that yielded no rule at all, and rules whose logic failed to parse.
CREATE TABLE failures (
    source_id INTEGER NOT NULL REFERENCES sources(source_id),
    path TEXT NOT NULL,
    line INTEGER,
    message TEXT NOT NULL
);

CREATE TABLE tactics (
    id TEXT PRIMARY KEY,
    shortname TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    ord INTEGER NOT NULL
);

CREATE TABLE techniques (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    parent TEXT,
    description TEXT NOT NULL,
    tactics TEXT NOT NULL,          -- JSON list of tactic short names
    platforms TEXT NOT NULL,        -- JSON list
    status TEXT NOT NULL,           -- active | revoked | deprecated
    revoked_by TEXT,
    citations TEXT NOT NULL         -- JSON list of [source name, url]
);

CREATE TABLE rules (
    rid INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(source_id),
    vendor TEXT NOT NULL,
    id TEXT NOT NULL,
    kind TEXT NOT NULL,             -- rule | building_block | hunting | correlation | filter
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    author TEXT NOT NULL,
    refs TEXT NOT NULL,             -- JSON list of references
    status TEXT NOT NULL,
    level TEXT NOT NULL,
    risk_score REAL,
    date TEXT NOT NULL,
    modified TEXT NOT NULL,
    language TEXT NOT NULL,
    rule_type TEXT NOT NULL,
    query TEXT NOT NULL,
    source_text TEXT NOT NULL,
    logsource TEXT NOT NULL,        -- JSON object
    tags TEXT NOT NULL,             -- JSON list
    extra TEXT NOT NULL,            -- JSON object, vendor-specific metadata
    deprecated INTEGER NOT NULL,
    building_block INTEGER NOT NULL,
    hidden INTEGER NOT NULL,        -- deprecated, building block or hunting query
    parse_status TEXT NOT NULL,     -- parsed | partial | failed
    errors TEXT NOT NULL,           -- JSON list of {message, path, line}
    tree TEXT,                      -- JSON of the boolean tree
    UNIQUE (vendor, id)
);
CREATE INDEX rules_vendor ON rules(vendor, hidden);

CREATE TABLE rule_techniques (
    rid INTEGER NOT NULL REFERENCES rules(rid),
    technique_id TEXT NOT NULL,
    status TEXT NOT NULL,           -- active | revoked | deprecated | unknown
    PRIMARY KEY (rid, technique_id)
) WITHOUT ROWID;
CREATE INDEX rule_techniques_technique ON rule_techniques(technique_id, rid);

CREATE TABLE rule_tactics (
    rid INTEGER NOT NULL REFERENCES rules(rid),
    tactic TEXT NOT NULL,
    PRIMARY KEY (rid, tactic)
) WITHOUT ROWID;
CREATE INDEX rule_tactics_tactic ON rule_tactics(tactic, rid);

-- One row per distinct canonical (field, op, value): the unit of corpus reach.
-- Counts are over visible rules (not deprecated, building blocks or hunting).
CREATE TABLE indicators (
    iid INTEGER PRIMARY KEY,
    field TEXT NOT NULL,
    op TEXT NOT NULL,
    value TEXT NOT NULL,
    rules INTEGER NOT NULL DEFAULT 0,           -- rules checking it (not negated)
    exclusion_rules INTEGER NOT NULL DEFAULT 0, -- rules excluding it (negated)
    sigma INTEGER NOT NULL DEFAULT 0,
    elastic INTEGER NOT NULL DEFAULT 0,
    splunk INTEGER NOT NULL DEFAULT 0,
    vendors INTEGER NOT NULL DEFAULT 0,         -- how many vendors check it
    UNIQUE (field, op, value)
);
CREATE INDEX indicators_reach ON indicators(vendors, rules);

-- Canonical fields tested on events, with visible rules per vendor, and the raw names
-- each vendor wrote for them: summaries of the predicates table made once per build.
CREATE TABLE fields (
    field TEXT PRIMARY KEY,
    rules INTEGER NOT NULL,
    sigma INTEGER NOT NULL,
    elastic INTEGER NOT NULL,
    splunk INTEGER NOT NULL,
    indicators INTEGER NOT NULL     -- distinct indicators on it that visible rules check
);

CREATE TABLE field_aliases (
    field_raw TEXT NOT NULL,
    field TEXT NOT NULL,
    vendor TEXT NOT NULL,
    predicates INTEGER NOT NULL,
    PRIMARY KEY (field_raw, field, vendor)
) WITHOUT ROWID;
CREATE INDEX field_aliases_field ON field_aliases(field);

CREATE TABLE predicates (
    pid INTEGER PRIMARY KEY,
    rid INTEGER NOT NULL REFERENCES rules(rid),
    field_raw TEXT,
    field TEXT NOT NULL,
    op_raw TEXT NOT NULL,
    op TEXT NOT NULL,
    value_raw TEXT,
    value TEXT NOT NULL,
    case_sensitive INTEGER NOT NULL,
    negated INTEGER NOT NULL,
    stage TEXT NOT NULL,
    selection TEXT,
    step INTEGER,
    path TEXT NOT NULL,
    not_path TEXT,
    macro TEXT,
    modifiers TEXT NOT NULL,        -- JSON list
    iid INTEGER REFERENCES indicators(iid)  -- set for event-stage predicates
);
CREATE INDEX predicates_rid ON predicates(rid);
CREATE INDEX predicates_iid ON predicates(iid, negated, rid);
CREATE INDEX predicates_field ON predicates(field, stage, rid);

-- The event catalog (ruledex/data/events.yaml): abstract classes lined up with
-- ATT&CK data components, and concrete events. An event with a code narrows
-- the provider-wide event named by its parent; collecting the parent collects it.
CREATE TABLE event_classes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    data_component TEXT             -- ATT&CK data component id, e.g. DC0032
);

CREATE TABLE events (
    id TEXT PRIMARY KEY,            -- provider or provider:code, e.g. sysmon:1
    name TEXT NOT NULL,             -- e.g. Sysmon 1
    title TEXT NOT NULL,            -- e.g. Process creation
    provider TEXT NOT NULL,
    code TEXT,                      -- NULL for the provider-wide event
    parent TEXT,                    -- the provider-wide event this one narrows
    class TEXT NOT NULL REFERENCES event_classes(id),
    platform TEXT NOT NULL,
    attack_log_source TEXT          -- ATT&CK log source as "name channel"
);
CREATE INDEX events_provider ON events(provider, code);

-- A rule runs when every group (grp) has at least one of its events collected.
CREATE TABLE rule_events (
    rid INTEGER NOT NULL REFERENCES rules(rid),
    grp INTEGER NOT NULL,
    event_id TEXT NOT NULL REFERENCES events(id),
    step INTEGER,                   -- the sequence step the group stands for
    basis TEXT NOT NULL,            -- what in the rule named the event
    PRIMARY KEY (rid, grp, event_id)
) WITHOUT ROWID;
CREATE INDEX rule_events_event ON rule_events(event_id, rid);

-- Why a rule's events are unknown or incomplete; such a rule is never runnable.
CREATE TABLE rule_event_gaps (
    rid INTEGER PRIMARY KEY REFERENCES rules(rid),
    reason TEXT NOT NULL
);

CREATE VIRTUAL TABLE rules_fts USING fts5(
    title, description, query, content='rules', content_rowid='rid',
    tokenize='unicode61 remove_diacritics 2'
);
"""


def create(conn: sqlite3.Connection) -> None:
    """Create every table of an empty catalog."""
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
