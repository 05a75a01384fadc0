"""A small hand-made catalog and a client for the web tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_sigma_repo
from starlette.testclient import TestClient

from ruledex.catalog.build import build
from ruledex.web.app import create_app

ODD_ID = "odd id/with?chars#&"
EVIL_TITLE = "<script>alert('x')</script> & friends"


def rule(rule_id: str, title: str, tags: list[str], detection: str, status: str = "test",
         extra: str = "") -> str:
    tag_lines = "".join(f"    - {t}\n" for t in tags)
    return (f"title: \"{title}\"\nid: \"{rule_id}\"\nstatus: {status}\nlevel: high\n{extra}"
            f"logsource:\n    category: process_creation\n    product: windows\n"
            f"tags:\n{tag_lines}detection:\n{detection}")


RULES = {
    "a.yml": rule("a", "Encoded PowerShell", ["attack.t1059.001"],
                  "    sel:\n        Image|endswith: '\\powershell.exe'\n"
                  "        CommandLine|contains: ' -enc '\n"
                  "    filter:\n        ParentImage|endswith: '\\explorer.exe'\n"
                  "        User: SYSTEM\n"
                  "    condition: sel and not filter\n",
                  extra="references:\n    - 'javascript:alert(1)'\n"
                        "    - 'https://example.com/ref'\n"),
    "b.yml": rule(ODD_ID, EVIL_TITLE, ["attack.t1059.001", "attack.t1105"],
                  "    sel:\n        Image|endswith:\n            - '\\powershell.exe'\n"
                  "            - '\\pwsh.exe'\n        CommandLine|contains: '<img src=x>'\n"
                  "    condition: sel\n",
                  extra="description: \"<b>bold</b> claims\"\n"),
    "c.yml": rule("c", "Download cradle", ["attack.t1105"],
                  "    sel:\n        Image|endswith: '\\powershell.exe'\n    condition: sel\n"),
    "d.yml": rule("d", "Old bypass", ["attack.t1059.001"],
                  "    sel:\n        CommandLine|contains: 'bypass'\n    condition: sel\n",
                  status="deprecated"),
    "e.yml": rule("e", "Future technique", ["attack.t9999"],
                  "    keywords:\n        - 'mimikatz'\n    condition: keywords\n"),
}


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_sigma_repo(tmp_path_factory.mktemp("repo"), RULES)
    db = root / "catalog.sqlite"
    build(db, [root])
    return db


@pytest.fixture(scope="module")
def client(small_db: Path) -> Iterator[TestClient]:
    with TestClient(create_app(small_db)) as test_client:
        yield test_client
