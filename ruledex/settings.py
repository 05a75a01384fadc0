"""Settings, declared once with their default and help; the README's table comes from here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, default and meaning."""

    name: str
    env: str
    default: str
    help: str

    def value(self) -> str:
        return os.environ.get(self.env, self.default)


DB = Setting("db", "RULEDEX_DB", "ruledex.sqlite",
             "Catalog file that build writes and the other commands read.")
CACHE = Setting("cache", "RULEDEX_CACHE", str(Path.home() / ".cache" / "ruledex"),
                "Folder where `ruledex sync` keeps its clones of the upstream repositories.")
HOST = Setting("host", "RULEDEX_HOST", "127.0.0.1", "Address `ruledex serve` binds to.")
PORT = Setting("port", "RULEDEX_PORT", "8000", "Port `ruledex serve` listens on.")
SIGMA_URL = Setting("sigma_url", "RULEDEX_SIGMA_URL", "https://github.com/SigmaHQ/sigma.git",
                    "Upstream repository `ruledex sync` clones for Sigma.")
ELASTIC_URL = Setting("elastic_url", "RULEDEX_ELASTIC_URL",
                      "https://github.com/elastic/detection-rules.git",
                      "Upstream repository `ruledex sync` clones for Elastic.")
SPLUNK_URL = Setting("splunk_url", "RULEDEX_SPLUNK_URL",
                     "https://github.com/splunk/security_content.git",
                     "Upstream repository `ruledex sync` clones for Splunk.")

ALL = (DB, CACHE, HOST, PORT, SIGMA_URL, ELASTIC_URL, SPLUNK_URL)
UPSTREAM = {"sigma": SIGMA_URL, "elastic": ELASTIC_URL, "splunk": SPLUNK_URL}


def markdown_table() -> str:
    """The settings as a Markdown table, for the README."""
    lines = ["| setting | environment variable | default | meaning |", "|---|---|---|---|"]
    for s in ALL:
        default = s.default.replace(str(Path.home()), "~")
        lines.append(f"| {s.name} | `{s.env}` | `{default}` | {s.help} |")
    return "\n".join(lines)
