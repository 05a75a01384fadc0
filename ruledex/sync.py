"""Clone or update the upstream rule repositories into a cache folder."""

from __future__ import annotations

import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ruledex import settings
from ruledex.model import RuledexError

log = logging.getLogger(__name__)


class SyncFailed(RuledexError):
    """git could not clone or update a repository."""


@dataclass
class Synced:
    """One repository after a sync."""

    vendor: str
    path: Path
    commit: str
    action: str  # cloned | updated


def _git(*args: str, cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=1800)
    except FileNotFoundError as err:
        raise SyncFailed("git is not installed") from err
    except subprocess.CalledProcessError as err:
        raise SyncFailed(f"git {' '.join(args)} failed: {err.stderr.strip()}") from err
    return out.stdout.strip()


def repo_path(cache: Path, vendor: str) -> Path:
    """Where the clone of a vendor's repository lives in the cache."""
    return Path(cache) / "repos" / vendor


def sync(cache: Path, urls: dict[str, str] | None = None) -> list[Synced]:
    """Clone each upstream repository, or fast-forward an existing clone."""
    urls = urls or {vendor: s.value() for vendor, s in settings.UPSTREAM.items()}
    done = []
    for vendor, url in urls.items():
        path = repo_path(cache, vendor)
        if (path / ".git").is_dir():
            _git("fetch", "--depth", "1", "origin", cwd=path)
            _git("reset", "--hard", "FETCH_HEAD", cwd=path)
            action = "updated"
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            _git("clone", "--depth", "1", url, str(path))
            action = "cloned"
        commit = _git("rev-parse", "HEAD", cwd=path)
        log.info("%s %s at %s", action, vendor, commit)
        done.append(Synced(vendor, path, commit, action))
    return done


def default_sources(cache: Path) -> list[str]:
    """``VENDOR=PATH`` specs of the repositories synced into the cache."""
    return [f"{vendor}={repo_path(cache, vendor)}" for vendor in settings.UPSTREAM
            if (repo_path(cache, vendor) / ".git").is_dir()]
