"""The static site export, on a small hand-made catalog."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from click.testing import CliRunner
from conftest import write_sigma_repo

from ruledex.catalog.build import build
from ruledex.catalog.store import connect
from ruledex.cli import main
from ruledex.export import MARKER, export_site, search_index
from ruledex.model import RuledexError

RULES = {
    "a.yml": "title: Encoded PowerShell\nid: a\nstatus: test\nlevel: high\n"
             "logsource:\n    category: process_creation\n    product: windows\n"
             "tags:\n    - attack.t1059.001\n"
             "detection:\n    sel:\n        Image|endswith: '\\powershell.exe'\n"
             "    filter:\n        User: SYSTEM\n    condition: sel and not filter\n",
    "b.yml": "title: \"<script>alert(1)</script>\"\nid: \"odd/id %41?\"\nstatus: test\n"
             "level: low\nlogsource:\n    category: process_creation\n    product: windows\n"
             "tags:\n    - attack.t1105\n"
             "detection:\n    sel:\n        CommandLine|contains: 'curl'\n    condition: sel\n",
}

LINK = re.compile(r'(?:href|src|data-index)="([^"]*)"')


@pytest.fixture(scope="module")
def export_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_sigma_repo(tmp_path_factory.mktemp("repo"), RULES)
    db = root / "catalog.sqlite"
    build(db, [root])
    return db


@pytest.fixture(scope="module")
def site(export_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "out"
    summary = export_site(export_db, out)
    assert summary.pages > 800  # every ATT&CK technique has a page
    return out


def test_pages_are_files(site: Path) -> None:
    for name in ("index.html", "index-sigma.html", "index-multi.html", "fields.html",
                 "search.html", "404.html", "techniques/T1059.001.html", "rules/sigma/a.html",
                 "rules/sigma/odd%2Fid%20%2541%3F.html", "tactics/execution.html",
                 "vendors/elastic.html", "static/style.css", "static/app.js", MARKER):
        assert (site / name).is_file(), name
    html = (site / "techniques" / "T1059.001.html").read_text()
    assert 'href="../rules/sigma/a.html"' in html
    assert 'href="../static/style.css"' in html
    assert "Show deprecated" not in html  # the static site has no hidden-rule toggle


def test_every_link_resolves(site: Path) -> None:
    broken = []
    for page in site.rglob("*.html"):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            parts = urlsplit(target)
            if parts.scheme or target.startswith(("#", "data:")) or not parts.path:
                continue
            assert not target.startswith("/"), f"{page}: absolute link {target}"
            if not (page.parent / unquote(parts.path)).exists():
                broken.append(f"{page.relative_to(site)} -> {target}")
    assert not broken, broken[:20]


def test_rule_text_is_escaped(site: Path) -> None:
    html = (site / "rules" / "sigma" / "odd%2Fid%20%2541%3F.html").read_text()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_search_index(site: Path, export_db: Path) -> None:
    text = (site / "static" / "search-index.js").read_text()
    prefix = "window.RULEDEX_INDEX = "
    assert text.startswith(prefix)
    entries = json.loads(text[len(prefix):].rstrip().rstrip(";"))
    assert entries == search_index(connect(export_db))
    odd = next(e for e in entries if e["id"] == "odd/id %41?")
    assert (site / unquote(odd["href"])).is_file()
    assert odd["techniques"] == ["T1105"] and odd["level"] == "low"
    search = (site / "search.html").read_text()
    assert 'src="static/search-index.js"' in search and "<noscript>" in search


def test_refuses_a_folder_with_other_files(export_db: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RuledexError, match="not empty and holds no earlier ruledex export"):
        export_site(export_db, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_cli_export_overwrites_its_own_site(export_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "site"
    runner = CliRunner()
    for _ in range(2):
        result = runner.invoke(main, ["export-site", str(out), "--db", str(export_db)])
        assert result.exit_code == 0, result.output
    assert (out / "index.html").is_file()
    missing = runner.invoke(main, ["export-site", str(tmp_path / "x"), "--db",
                                   str(tmp_path / "none.sqlite")])
    assert missing.exit_code != 0 and "CatalogMissing" in missing.output
