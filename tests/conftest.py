"""Shared fixtures: the real corpora and catalogs built from them once per session."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from ruledex.catalog.build import build
from ruledex.catalog.store import connect

# The small hand-made catalog and client the web tests share.
pytest_plugins = ["web_catalog"]

CORPUS = Path(os.environ.get(
    "RULEDEX_CORPUS", Path(__file__).resolve().parents[1].parent / "shared" / "corpus"))
ATTACK_BUNDLE = CORPUS.parent / "attack" / "enterprise-attack-18.1.json.gz"


def corpus_path(vendor: str) -> Path:
    """The pinned checkout of a vendor's repository; skips the test when absent."""
    path = CORPUS / vendor
    if not path.is_dir():
        pytest.skip(f"corpus {path} is not available")
    return path


@pytest.fixture(scope="session")
def sigma_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog built from the Sigma corpus alone."""
    db = tmp_path_factory.mktemp("catalog") / "sigma.sqlite"
    build(db, [corpus_path("sigma")])
    return db


@pytest.fixture(scope="session")
def sigma_catalog(sigma_db: Path) -> sqlite3.Connection:
    return connect(sigma_db)


@pytest.fixture(scope="session")
def corpus_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog built from all three vendors' corpora."""
    db = tmp_path_factory.mktemp("catalog") / "all.sqlite"
    build(db, [corpus_path("sigma"), corpus_path("elastic"), corpus_path("splunk")])
    return db


@pytest.fixture(scope="session")
def corpus_catalog(corpus_db: Path) -> sqlite3.Connection:
    return connect(corpus_db)


def write_sigma_repo(root: Path, rules: dict[str, str]) -> Path:
    """A minimal Sigma checkout with the given ``rules/<name>.yml`` texts."""
    for name, text in rules.items():
        path = root / "rules" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root
