"""The technique page's aggregation, on hand-made catalogs with known answers."""

from __future__ import annotations

import shutil
from typing import Any

import pytest
from conftest import corpus_path, write_sigma_repo

from ruledex.analysis.technique import UnknownTechnique, technique_page
from ruledex.catalog.build import build
from ruledex.catalog.store import connect


def rule(rule_id: str, tags: list[str], detection: str, status: str = "test",
         category: str = "process_creation") -> str:
    tag_lines = "".join(f"    - {t}\n" for t in tags)
    return (f"title: Rule {rule_id}\nid: {rule_id}\nstatus: {status}\nlevel: high\n"
            f"logsource:\n    category: {category}\n    product: windows\n"
            f"tags:\n{tag_lines}detection:\n{detection}")


RULES = {
    # Two rules under T1059.001 share the powershell image; one excludes a parent.
    "a.yml": rule("a", ["attack.t1059.001"],
                  "    sel:\n        Image|endswith: '\\powershell.exe'\n"
                  "        CommandLine|contains|all:\n            - ' -enc '\n"
                  "            - ' -w hidden'\n"
                  "    filter:\n        ParentImage|endswith: '\\explorer.exe'\n"
                  "        User: SYSTEM\n"
                  "    condition: sel and not filter\n"),
    "b.yml": rule("b", ["attack.t1059.001", "attack.t1105"],
                  "    sel:\n        Image|endswith:\n            - '\\powershell.exe'\n"
                  "            - '\\pwsh.exe'\n        CommandLine|contains: ' -enc '\n"
                  "    condition: sel\n"),
    # Same image under another technique: raises the corpus reach, not the count here.
    "c.yml": rule("c", ["attack.t1105"],
                  "    sel:\n        Image|endswith: '\\powershell.exe'\n"
                  "    filter:\n        ParentImage|endswith: '\\explorer.exe'\n"
                  "    condition: sel and not filter\n"),
    # A deprecated rule under the technique is hidden unless asked for.
    "d.yml": rule("d", ["attack.t1059.001"],
                  "    sel:\n        CommandLine|contains: 'bypass'\n    condition: sel\n",
                  status="deprecated"),
    # An unknown technique tag is kept.
    "e.yml": rule("e", ["attack.t9999"],
                  "    sel:\n        Image: 'x.exe'\n    condition: sel\n"),
    # A parent technique with its own rule, and no tag at all.
    "f.yml": rule("f", ["attack.t1059"],
                  "    sel:\n        Image: 'y.exe'\n    condition: sel\n"),
    "g.yml": rule("g", [], "    sel:\n        Image: 'z.exe'\n    condition: sel\n"),
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = write_sigma_repo(tmp_path_factory.mktemp("repo"), RULES)
    db = root / "catalog.sqlite"
    build(db, [root])
    return connect(db)


def by(rows: list[dict[str, Any]], **match: Any) -> dict[str, Any]:
    found = [r for r in rows if all(r[k] == v for k, v in match.items())]
    assert len(found) == 1, (match, rows)
    return found[0]


def test_header_and_rules(catalog: Any) -> None:
    page = technique_page(catalog, "t1059.001")
    assert page["technique"]["id"] == "T1059.001"
    assert page["technique"]["name"] == "PowerShell"
    assert page["technique"]["parent"] == "T1059"
    assert page["technique"]["tactics"] == ["execution"]
    assert page["rules_total"] == 2
    assert [r["id"] for r in page["rules"]["sigma"]] == ["a", "b"]


def test_fields_count_each_rule_once_per_row(catalog: Any) -> None:
    page = technique_page(catalog, "T1059.001")
    image = by(page["fields"], label="Image")
    # Rule b has two image values but counts once.
    assert image["rules"] == 2
    assert sum(image["operators"].values()) >= 2
    cmd = by(page["fields"], label="CommandLine")
    assert cmd["rules"] == 2 and cmd["operators"] == {"contains": 2}
    assert cmd["samples"][0] == " -enc "
    # Exclusions do not make a field "filtered on".
    assert not [f for f in page["fields"] if f["label"] in ("ParentImage", "User")]


def test_indicators_rank_by_rules_and_carry_reach(catalog: Any) -> None:
    page = technique_page(catalog, "T1059.001")
    top = page["indicators"][0]
    assert top["rules"] == 2 and top["rule_ids"] == ["a", "b"]
    assert top["label"] == "Image" and top["value"].endswith("powershell.exe")
    assert top["reach"] == 3 and top["specific"] is False
    enc = by(page["indicators"], label="CommandLine", value=" -enc ")
    assert enc["rules"] == 2 and enc["reach"] == 2 and enc["specific"] is True
    hidden = by(page["indicators"], label="CommandLine", value=" -w hidden")
    assert hidden["rules"] == 1 and hidden["rule_ids"] == ["a"]
    assert len(page["indicators"]) == 4


def test_exclusions_are_their_own_table(catalog: Any) -> None:
    page = technique_page(catalog, "T1059.001")
    assert len(page["exclusions"]) == 2
    parent = by(page["exclusions"], label="ParentImage")
    assert parent["rules"] == 1 and parent["rule_ids"] == ["a"]
    assert parent["reach"] == 2  # rule c excludes it too
    user = by(page["exclusions"], label="User")
    assert user["value"] == "system" and user["reach"] == 1 and user["specific"]


def test_hidden_rules_only_on_request(catalog: Any) -> None:
    page = technique_page(catalog, "T1059.001", include_hidden=True)
    assert page["rules_total"] == 3
    bypass = by(page["indicators"], value="bypass")
    assert bypass["rules"] == 1 and bypass["reach"] == 1


def test_parent_lists_subtechniques_with_counts(catalog: Any) -> None:
    page = technique_page(catalog, "T1059")
    assert page["rules_total"] == 1
    assert by(page["subtechniques"], id="T1059.001")["rules"] == 2
    assert by(page["subtechniques"], id="T1059.003")["rules"] == 0


def test_unknown_technique_tag_is_kept(catalog: Any) -> None:
    page = technique_page(catalog, "T9999")
    assert page["technique"]["status"] == "unknown"
    assert page["rules_total"] == 1
    with pytest.raises(UnknownTechnique, match="T8888"):
        technique_page(catalog, "T8888")


def test_untagged_rules_are_in_the_catalog(catalog: Any) -> None:
    count = catalog.execute("SELECT COUNT(*) FROM rules").fetchone()[0]
    assert count == len(RULES)


def test_events_from_log_source(catalog: Any) -> None:
    page = technique_page(catalog, "T1059.001")
    assert page["events"] and sum(e["rules"] for e in page["events"]) >= 2


@pytest.fixture(scope="module")
def litellm(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = corpus_path("sigma") / "rules-emerging-threats" / "2026" / "TA" / "TeamPCP"
    root = tmp_path_factory.mktemp("litellm")
    (root / "rules").mkdir()
    for path in folder.glob("*litellm*.yml"):
        shutil.copy(path, root / "rules" / path.name)
    db = root / "catalog.sqlite"
    build(db, [root])
    return technique_page(connect(db), "T1543.002")


@pytest.mark.corpus
def test_litellm_systemd_page(litellm: dict[str, Any]) -> None:
    page = litellm
    assert page["technique"]["name"] == "Systemd Service"
    assert page["rules_total"] == 2
    assert sorted(r["title"] for r in page["rules"]["sigma"]) == [
        "LiteLLM / TeamPCP Supply Chain Attack Indicators",
        "TeamPCP LiteLLM Supply Chain Attack Persistence Indicators"]
    rules_per_label = {}
    for row in page["fields"]:
        rules_per_label[row["label"]] = rules_per_label.get(row["label"], 0) + row["rules"]
    # The python3 image is checked by both rules; every other field by one.
    assert by(page["indicators"], value="/python3", label="Image")["rules"] == 2
    assert rules_per_label["CommandLine"] == 1
    assert rules_per_label["ParentImage"] == 1
    assert rules_per_label["TargetFilename"] == 1
    python3 = page["indicators"][0]
    assert (python3["value"], python3["rules"], python3["reach"], python3["specific"]) == (
        "/python3", 2, 2, True)
    # 17 predicates; /python3 counted for two rules in one row: 16 distinct indicators.
    assert len(page["indicators"]) == 16
    assert all(i["rules"] == 1 and i["reach"] == 1 and i["specific"]
               for i in page["indicators"][1:])
    assert page["exclusions"] == []
    assert {e["rules"] for e in page["events"]} == {1}
    cmd = by(page["indicators"], value="x-filename: tpcp.tar.gz")
    assert cmd["op"] == "contains" and cmd["label"] == "CommandLine"
