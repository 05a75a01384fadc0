"""The web catalog: every page and its JSON twin, errors, escaping and read-only access."""

from __future__ import annotations

import hashlib
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from web_catalog import EVIL_TITLE, ODD_ID

from ruledex.analysis.matrix import heat, matrix
from ruledex.analysis.rules import outline, upstream_url
from ruledex.analysis.technique import technique_page
from ruledex.catalog.store import connect
from ruledex.web import app as web_app
from ruledex.web.app import create_app
from ruledex.web.links import Links, StaticLinks
from ruledex.web.markup import attack_markdown, highlight_source


def iid_of(db: Path, field_raw: str, value_raw: str) -> int:
    row = connect(db).execute("SELECT iid FROM predicates WHERE field_raw = ? AND value_raw = ?",
                              (field_raw, value_raw)).fetchone()
    assert row is not None
    return int(row[0])


def page_paths(db: Path) -> list[str]:
    image = iid_of(db, "Image", "\\powershell.exe")
    event = connect(db).execute("SELECT event_id FROM rule_events LIMIT 1").fetchone()[0]
    return [
        f"/events/{quote(event, safe='')}",
        "/", "/?vendor=sigma", "/?multi=1", "/techniques/T1059.001",
        "/techniques/T1059.001?all=1", "/techniques/T9999", "/techniques/T1059",
        f"/rules/sigma/{quote(ODD_ID, safe='')}", "/rules/sigma/a", "/fields",
        "/fields/process.executable", f"/indicators/{image}", "/vendors/sigma",
        "/vendors/elastic", "/tactics/execution", "/search?q=powershell",
        "/search?q=Image+endswith+%5Cpowershell.exe", "/search", "/events",
    ]


def test_every_page_and_its_json_twin(client: TestClient, small_db: Path) -> None:
    for path in page_paths(small_db):
        page = client.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert "<main id=\"main\"" in page.text
        twin = client.get("/api" + path if path != "/" else "/api")
        assert twin.status_code == 200, path
        assert twin.headers["content-type"] == "application/json"
        twin.json()


def test_home_matrix(client: TestClient) -> None:
    html = client.get("/").text
    tactics = re.findall(r'<h2 id="tactic-([a-z-]+)"', html)
    assert tactics[:3] == ["reconnaissance", "resource-development", "initial-access"]
    assert len(tactics) == 14
    # T1059 counts its sub-technique's rules; shades follow the counts.
    assert re.search(r'class="cell heat-(\d)">\s*<a href="/techniques/T1059"', html)
    data = client.get("/api").json()
    execution = next(t for t in data["matrix"]["tactics"] if t["shortname"] == "execution")
    t1059 = next(c for c in execution["techniques"] if c["id"] == "T1059")
    assert t1059["rules"] == 2 and t1059["own"] == 0
    assert next(s for s in t1059["subtechniques"] if s["id"] == "T1059.001")["rules"] == 2
    assert [t["id"] for t in data["matrix"]["outside"]] == ["T9999"]
    assert data["sources"][0]["vendor"] == "sigma"


def test_matrix_per_vendor_and_multi(client: TestClient) -> None:
    def t1059(query: str) -> int:
        data = client.get(f"/api?{query}").json()
        execution = next(t for t in data["matrix"]["tactics"] if t["shortname"] == "execution")
        return int(next(c for c in execution["techniques"] if c["id"] == "T1059")["rules"])

    assert t1059("vendor=sigma") == 2
    assert t1059("vendor=elastic") == 0
    assert t1059("multi=1") == 0  # one vendor only in this catalog
    assert 'aria-current="page">Sigma</a>' in client.get("/?vendor=sigma").text
    assert client.get("/?vendor=acme").status_code == 404


def test_technique_page(client: TestClient, small_db: Path) -> None:
    html = client.get("/techniques/T1059.001").text
    assert "<h1><span class=\"tid\">T1059.001</span> PowerShell</h1>" in html
    assert '<a href="/tactics/execution" class="badge tactic">execution</a>' in html
    # ATT&CK markdown: citations become numbered references, links stay links.
    assert re.search(r'<sup class="cite"><a href="#ref-1">\[1\]</a></sup>', html)
    assert '<li id="ref-1">' in html
    assert "<code>Start-Process</code>" in html
    # Indicator rows expand in place to their rules, without JavaScript.
    assert re.search(r'<details class="rules-here">\s*<summary><span class="n">2</span>', html)
    assert 'href="/rules/sigma/a"' in html
    assert '<svg viewBox="0 0' in html and 'class="seg level-high"' in html
    assert "Show deprecated / building blocks / hunting" in html
    assert client.get("/api/techniques/T1059.001").json() == technique_page(
        connect(small_db), "T1059.001")


def test_technique_hidden_toggle(client: TestClient) -> None:
    assert client.get("/api/techniques/T1059.001").json()["rules_total"] == 2
    shown = client.get("/techniques/T1059.001?all=1")
    assert "Showing deprecated / building blocks / hunting" in shown.text
    assert client.get("/api/techniques/T1059.001?all=1").json()["rules_total"] == 3
    assert 'href="/rules/sigma/d"' in shown.text


def test_unknown_technique_tag_has_a_page(client: TestClient) -> None:
    html = client.get("/techniques/T9999").text
    assert "Unknown technique" in html and 'href="/rules/sigma/e"' in html


def test_rule_page(client: TestClient) -> None:
    html = client.get("/rules/sigma/a").text
    assert "<h1>Encoded PowerShell</h1>" in html
    assert '<a href="/techniques/T1059.001"><span class="tid">T1059.001</span> PowerShell</a>' \
        in html
    # The outline: the selection, the NOT and the filter's tests.
    assert '<span class="op">all of</span> <span class="selection">sel</span>' in html
    assert '<span class="op">not</span>' in html
    # Raw value next to the normalized one where they differ.
    assert "<code class=\"value\">SYSTEM</code>" in html and "<code>system</code>" in html
    # Pygments highlighting with classes, and the upstream link on the default branch.
    assert '<div class="highlight"><pre>' in html and 'class="nt"' in html
    assert "https://github.com/SigmaHQ/sigma/blob/master/rules/a.yml" in html
    # Only http(s) references become links.
    assert '<a href="https://example.com/ref"' in html
    assert 'href="javascript:' not in html
    data = client.get("/api/rules/sigma/a").json()
    assert data["rule"]["id"] == "a" and data["source"]["lexer"] == "yaml"
    assert [(e["label"], e["op"], e["value"], e["raw"]) for e in data["exclusions"]] == [
        ("ParentImage", "basename_eq", "explorer.exe",
         [{"field": "ParentImage", "value": "\\explorer.exe"}]),
        ("User", "eq", "system", [{"field": "User", "value": "SYSTEM"}])]
    assert "ends with</span> <a href=\"/indicators/" in html
    assert re.search(r"→\s+has file name <code>powershell.exe</code>", html)


def test_rule_with_odd_id_and_unknown_tag(client: TestClient) -> None:
    assert client.get(f"/rules/sigma/{quote(ODD_ID, safe='')}").status_code == 200
    html = client.get("/rules/sigma/e").text
    assert 'class="badge status-unknown">unknown' in html
    assert "has keyword" in html


def test_rule_title_is_escaped_everywhere(client: TestClient) -> None:
    rule_path = f"/rules/sigma/{quote(ODD_ID, safe='')}"
    for path in (rule_path, "/techniques/T1059.001", "/search?q=friends",
                 "/techniques/T1105"):
        html = client.get(path).text
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; " in html, path
    html = client.get(rule_path).text
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<img src=x>" not in html
    assert client.get("/api" + rule_path).json()["rule"]["title"] == EVIL_TITLE


def test_field_pages(client: TestClient) -> None:
    html = client.get("/fields").text
    assert 'href="/fields/process.executable"' in html
    page = client.get("/api/fields/process.executable").json()
    assert page["label"] == "Image" and page["rules"] == 3
    assert page["aliases"]["sigma"][0]["name"] == "Image"
    # Other names of a field lead to its page.
    moved = client.get("/fields/Image", follow_redirects=False)
    assert moved.status_code == 302 and moved.headers["location"] == "/fields/process.executable"
    assert client.get("/api/fields/Image", follow_redirects=False).headers["location"] == \
        "/api/fields/process.executable"
    assert client.get("/fields/~").status_code == 200  # field-less keywords
    assert client.get("/fields/NoSuchField").status_code == 404


def test_indicator_page_flags_exclusions(client: TestClient, small_db: Path) -> None:
    explorer = iid_of(small_db, "ParentImage", "\\explorer.exe")
    data = client.get(f"/api/indicators/{explorer}").json()
    assert data["rules"] == [] and [r["id"] for r in data["exclusions"]] == ["a"]
    assert 'class="badge negated">excludes' in client.get(f"/indicators/{explorer}").text
    image = iid_of(small_db, "Image", "\\powershell.exe")
    assert {r["id"] for r in client.get(f"/api/indicators/{image}").json()["rules"]} == {
        "a", ODD_ID, "c"}
    assert client.get("/indicators/999999").status_code == 404
    assert client.get("/indicators/abc").status_code == 404


def test_vendor_and_tactic_pages(client: TestClient) -> None:
    vendor = client.get("/api/vendors/sigma").json()
    assert vendor["rules"] == 5 and vendor["deprecated"] == 1
    assert "browse its rules" in client.get("/vendors/sigma").text
    assert client.get("/vendors/acme").status_code == 404
    tactic = client.get("/api/tactics/execution").json()
    assert tactic["id"] == "TA0002" and tactic["rules"] >= 1
    assert client.get("/api/tactics/TA0002").json()["shortname"] == "execution"
    assert client.get("/tactics/nothing").status_code == 404


def test_search_page(client: TestClient) -> None:
    html = client.get("/search?q=powershell").text
    assert "<mark>PowerShell</mark>" in html
    assert 'href="/search?q=powershell+vendor%3Asigma"' in html  # a facet narrows the query
    paged = client.get("/search?q=vendor:sigma&per_page=2&page=2").text
    assert 'rel="prev"' in paged and 'rel="next"' in paged
    structured = client.get("/search?q=Image+endswith+%5Cpwsh.exe").text
    assert "1 rule" in structured and "<mark><code>\\pwsh.exe</code></mark>" in structured
    empty = client.get("/search").text
    assert "What you can type" in empty
    assert client.get("/search?q=vendor:acme").status_code == 400
    assert client.get("/search?q=x&page=0").status_code == 400
    assert client.get("/api/search?q=x&page=zero").json()["error"]["status"] == 400


def test_not_found_pages_help(client: TestClient) -> None:
    page = client.get("/no/such/page")
    assert page.status_code == 404
    assert 'role="search"' in page.text and 'href="/fields"' in page.text
    technique = client.get("/techniques/T8888")
    assert technique.status_code == 404 and "T8888" in technique.text
    api = client.get("/api/techniques/T8888")
    assert api.status_code == 404
    assert api.json()["error"] == {"status": 404, "type": "UnknownTechnique",
                                   "message": "no ATT&CK technique or rule tag T8888"}
    assert client.get("/api/no/such").json()["error"]["status"] == 404
    assert client.post("/").status_code == 405


def test_errors_never_show_a_traceback(small_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ctx: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(web_app.VIEWS, "vendor", broken)
    with TestClient(create_app(small_db), raise_server_exceptions=False) as test_client:
        page = test_client.get("/vendors/sigma")
        assert page.status_code == 500
        assert "Traceback" not in page.text and "boom" not in page.text
        assert 'role="search"' in page.text
        api = test_client.get("/api/vendors/sigma")
        assert api.status_code == 500 and "boom" not in api.text


def test_catalog_is_read_only(small_db: Path, client: TestClient) -> None:
    before = hashlib.sha256(small_db.read_bytes()).hexdigest()
    for path in page_paths(small_db):
        client.get(path)
    conn = client.app.state.catalog.conn  # type: ignore[attr-defined]
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
        conn.execute("CREATE TABLE intruder (x)")
    with pytest.raises(sqlite3.OperationalError, match="readonly|read-only"):
        conn.execute("DELETE FROM rules")
    assert hashlib.sha256(small_db.read_bytes()).hexdigest() == before


def test_static_files_and_headers(client: TestClient) -> None:
    css = client.get("/static/style.css")
    assert css.status_code == 200 and "prefers-color-scheme: dark" in css.text
    assert "@media print" in css.text
    assert client.get("/static/pygments.css").status_code == 200
    assert client.get("/static/../app.py").status_code == 404
    assert client.get("/static/%2e%2e/app.py").status_code == 404
    home = client.get("/")
    assert "default-src 'self'" in home.headers["content-security-policy"]
    assert home.headers["x-content-type-options"] == "nosniff"
    # No asset comes from elsewhere.
    assert not re.search(r'(src|href)="(https?:)?//(?!attack\.mitre\.org)', home.text)


def test_links() -> None:
    links = Links()
    assert links("rule", vendor="sigma", id="a/b c") == "/rules/sigma/a%2Fb%20c"
    assert links("home", vendor="sigma", multi=True) == "/?vendor=sigma&multi=1"
    assert links("home", vendor=None, multi=False) == "/"
    assert links("search", q="a b") == "/search?q=a+b"
    assert StaticLinks.file("rule", vendor="sigma", id="a/b c") == "rules/sigma/a%2Fb%20c.html"
    assert StaticLinks(2)("rule", vendor="sigma", id="a/b") == "../../rules/sigma/a%252Fb.html"
    assert StaticLinks.file("home", vendor="elastic", multi=True) == "index-elastic-multi.html"
    assert StaticLinks(1)("search", q="x y") == "../search.html?q=x+y"


@pytest.mark.corpus
def test_corpus_pages(sigma_db: Path) -> None:
    with TestClient(create_app(sigma_db)) as test_client:
        conn = test_client.app.state.catalog.conn  # type: ignore[attr-defined]
        rule_ids = [r[0] for r in conn.execute("SELECT id FROM rules ORDER BY rid LIMIT 40")]
        paths = ["/", "/techniques/T1059.001", "/fields", "/vendors/sigma",
                 "/tactics/defense-evasion", "/search?q=CommandLine+contains+vssadmin",
                 "/fields/CommandLine", "/events"]
        paths += [f"/rules/sigma/{quote(i, safe='')}" for i in rule_ids]
        for path in paths:
            assert test_client.get(path).status_code == 200, path


def test_outline_reads_like_the_rule() -> None:
    def pred(field: str, op: str, value: str) -> dict[str, Any]:
        return {"kind": "predicate", "predicate": {"field": field, "op": op, "value": value}}

    tree = {"kind": "sequence", "label": "by host.id", "children": [
        {"kind": "step", "label": "process", "children": [{"kind": "and", "children": [
            {"kind": "and", "label": "sel", "children": [pred("Image", "ends_with", "\\a.exe")]},
            {"kind": "or", "children": [pred("CommandLine", "contains", "x"),
                                        pred("CommandLine", "contains", "y")]},
            {"kind": "and", "children": [{"kind": "opaque", "text": "length(x) > 3",
                                          "label": "function"}]}]}]},
        {"kind": "step", "label": "network", "children": [{"kind": "not", "children": [
            pred("DestinationIp", "cidr", "10.0.0.0/8")]}]}]}
    rows = {"0.0.0.0": {"field": "process.executable", "op": "basename_eq", "value": "a.exe",
                        "iid": 7, "reach": 3, "exclusion_reach": 0}}
    out = outline(tree, rows)
    assert out is not None and out["kind"] == "sequence" and out["label"] == "by host.id"
    first, second = out["children"]
    assert (first["kind"], first["number"], second["number"]) == ("step", 1, 2)
    sel, either, opaque = first["children"][0]["children"]
    # A one-test selection is that test, named; the catalog's form sits next to the raw one.
    assert (sel["kind"], sel["label"], sel["op"], sel["norm_op"], sel["value_raw"],
            sel["value"], sel["iid"]) == ("check", "sel", "ends_with", "basename_eq",
                                          "\\a.exe", "a.exe", 7)
    # An ANY of one field and operator reads as one line with its values.
    assert either["kind"] == "checks" and either["mode"] == "any"
    assert [v["value_raw"] for v in either["values"]] == ["x", "y"]
    assert opaque == {"kind": "opaque", "text": "length(x) > 3", "reason": "function"}
    negated = second["children"][0]["children"][0]
    assert negated["negated"] is True and negated["path"] == "1.0.0"
    assert outline(None, {}) is None


def test_matrix_and_heat(small_db: Path) -> None:
    assert [heat(n) for n in (0, 1, 2, 3, 6, 16, 41, 500)] == [0, 1, 1, 2, 3, 4, 5, 5]
    data = matrix(connect(small_db), "sigma")
    execution = next(t for t in data["tactics"] if t["shortname"] == "execution")
    assert execution["covered"] == 1
    assert all(c["heat"] == heat(c["rules"]) for c in execution["techniques"])


def test_upstream_urls() -> None:
    assert upstream_url("sigma", "rules/a.yml", None) == \
        "https://github.com/SigmaHQ/sigma/blob/master/rules/a.yml"
    assert upstream_url("elastic", "rules/x.toml", "abc123") == \
        "https://github.com/elastic/detection-rules/blob/abc123/rules/x.toml"
    assert upstream_url("splunk", "detections/x.yml", None) == \
        "https://github.com/splunk/security_content/blob/develop/detections/x.yml"


def test_attack_markdown_is_safe_and_numbers_citations() -> None:
    text = ("Uses <code>a`b</code> and <b>this</b>.(Citation: One) "
            "[evil](javascript:alert(1)) <script>x()</script> "
            "[Scripts](https://attack.mitre.org/techniques/T1037/001) "
            "[Gone](https://attack.mitre.org/techniques/T1999)(Citation: Two)(Citation: One)")
    html, references = attack_markdown(
        text, [["One", "https://one.example/"], ["Two", "javascript:bad()"]],
        lambda tid: f"/techniques/{tid}" if tid != "T1999" else None)
    assert "<code>a`b</code>" in html and "<strong>this</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript:' not in html
    assert '<a href="/techniques/T1037.001">Scripts</a>' in html
    assert '<a href="https://attack.mitre.org/techniques/T1999">Gone</a>' in html
    assert html.count('href="#ref-1"') == 2 and html.count('href="#ref-2"') == 1
    assert references == [{"number": 1, "name": "One", "url": "https://one.example/"},
                          {"number": 2, "name": "Two", "url": None}]


def test_highlight_source_escapes() -> None:
    html = highlight_source("title: '<script>'\n", "yaml")
    assert html.startswith('<div class="highlight"><pre>') and "<script>" not in html
    assert "&lt;script&gt;" in highlight_source("<script>", "no-such-lexer")


def test_technique_links_in_descriptions_stay_on_site(client: TestClient) -> None:
    html = client.get("/techniques/T1543.002").text
    assert '<a href="/techniques/T1037">Boot or Logon Initialization Scripts</a>' in html


def test_packaged_pygments_stylesheet_is_current() -> None:
    from ruledex.web.markup import pygments_css
    static = Path(__file__).resolve().parents[1] / "ruledex" / "web" / "static"
    assert (static / "pygments.css").read_text(encoding="utf-8") == pygments_css()
