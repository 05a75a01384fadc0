"""`ruledex sync` against a local git repository, never the internet."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner
from conftest import write_sigma_repo

from ruledex.cli import main
from ruledex.sync import default_sources, sync

RULE = "title: t\nid: s-1\nlogsource:\n    product: windows\ndetection:\n    sel:\n" \
       "        Image: a.exe\n    condition: sel\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.email=t@example.org",
                           "-c", "user.name=t", *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def upstream(tmp_path: Path) -> Path:
    root = write_sigma_repo(tmp_path / "upstream", {"a.yml": RULE})
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    return root


def test_clone_then_update(tmp_path: Path) -> None:
    origin = upstream(tmp_path)
    cache = tmp_path / "cache"
    (first,) = sync(cache, {"sigma": origin.as_uri()})
    assert first.action == "cloned" and first.commit == git(origin, "rev-parse", "HEAD")

    (origin / "rules" / "b.yml").write_text(RULE.replace("s-1", "s-2"), encoding="utf-8")
    git(origin, "add", ".")
    git(origin, "commit", "-qm", "second")
    (second,) = sync(cache, {"sigma": origin.as_uri()})
    assert second.action == "updated" and second.commit == git(origin, "rev-parse", "HEAD")
    assert (second.path / "rules" / "b.yml").is_file()
    assert default_sources(cache) == [f"sigma={second.path}"]


def test_build_uses_synced_repositories_by_default(tmp_path: Path, monkeypatch) -> None:
    origin = upstream(tmp_path)
    cache = tmp_path / "cache"
    monkeypatch.setenv("RULEDEX_CACHE", str(cache))
    runner = CliRunner()
    result = runner.invoke(main, ["sync", "--url", f"sigma={origin.as_uri()}"])
    assert result.exit_code == 0, result.output
    db = tmp_path / "c.sqlite"
    result = runner.invoke(main, ["build", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "sigma" in result.output


def test_sync_failure_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sync", "--cache", str(tmp_path),
                                       "--url", f"sigma={(tmp_path / 'nothing').as_uri()}"])
    assert result.exit_code == 1 and "error (SyncFailed)" in result.output
