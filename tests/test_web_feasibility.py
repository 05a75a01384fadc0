"""The feasibility page: which rules run on the events a team collects."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient
from web_catalog import ODD_ID

from ruledex.catalog.store import connect
from ruledex.web import app as web_app
from ruledex.web.links import Links, StaticLinks


def test_feasibility_form(client: TestClient) -> None:
    html = client.get("/feasibility").text
    assert '<a href="/feasibility">Feasibility</a>' in html  # the site navigation
    assert 'name="event" value="sysmon:1">' in html
    assert 'name="event" value="win-security:4688">' in html
    assert 'name="event" value="sysmon"> every Sysmon event' in html
    assert '<textarea id="events-text" name="events"' in html
    assert "Runnable on" not in html
    assert 'href="/feasibility"' in client.get("/events").text
    data = client.get("/api/feasibility").json()
    assert data["collected"] == [] and data["choices"][0]["events"][0]["rules"] == 4
    empty = client.get("/feasibility?events=").text
    assert "No event was ticked or typed" in empty


def test_feasibility_runs_rules_on_collected_events(client: TestClient) -> None:
    data = client.get("/api/feasibility?event=sysmon:1").json()
    sigma = data["vendors"]["sigma"]
    assert (sigma["rules"], sigma["runnable"], sigma["not_runnable"]) == (4, 4, 0)
    assert data["techniques"] == ["T1059.001", "T1105", "T9999"]
    assert [(t["id"], t["rules"]) for t in data["coverage"]][:2] == [
        ("T1059.001", 2), ("T1105", 2)]
    html = client.get("/feasibility?event=sysmon:1").text
    assert re.search(r'<td class="num runnable">4</td>', html)
    assert '<a href="/techniques/T1059.001"><span class="tid">T1059.001</span> PowerShell</a>' \
        in html
    assert f'href="/rules/sigma/{quote(ODD_ID, safe="")}"' in html
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)" in html
    assert 'value="sysmon:1" checked>' in html
    # Hidden rules count on request only.
    assert client.get("/api/feasibility?event=sysmon:1&all=1").json()[
        "vendors"]["sigma"]["rules"] == 5


def test_feasibility_says_what_is_missing(client: TestClient) -> None:
    data = client.get("/api/feasibility?events=PowerShell+4104").json()
    sigma = data["vendors"]["sigma"]
    assert (sigma["runnable"], sigma["not_runnable"]) == (0, 4)
    assert sigma["not_runnable_rules"][0]["missing"] == [["sysmon:1", "win-security:4688"]]
    assert [(n["event"], n["rules"], n["vendors"]) for n in data["next"]] == [
        ("sysmon:1", 4, {"sigma": 4}), ("win-security:4688", 4, {"sigma": 4})]
    html = client.get("/feasibility?events=PowerShell+4104").text
    assert 'href="/feasibility?event=powershell%3A4104&amp;event=sysmon%3A1"' in html
    assert re.search(r'<a href="/events/sysmon%3A1">Sysmon 1</a> or\s*'
                     r'<a href="/events/win-security%3A4688">Windows Security 4688</a>', html)


def test_feasibility_reads_typed_names(client: TestClient) -> None:
    typed = quote("Sysmon 1\n# a comment\nSecurity 4688\nsysmon:1\npowershell:4104")
    data = client.get(f"/api/feasibility?events={typed}").json()
    assert [e["id"] for e in data["collected"]] == [
        "powershell:4104", "sysmon:1", "win-security:4688"]
    html = client.get(f"/feasibility?events={typed}").text
    # Typed events with a checkbox come back ticked; the rest stays typed.
    assert 'value="win-security:4688" checked>' in html
    assert re.search(r'name="events"[^>]*>powershell:4104</textarea>', html)


def test_feasibility_unknown_events_are_a_bad_request(client: TestClient) -> None:
    page = client.get("/feasibility?event=sysmon:1&events=Nope+1%0A%3Cb%3Ex")
    assert page.status_code == 400
    assert "unknown events: &#39;Nope 1&#39;, &#39;&lt;b&gt;x&#39;; use ids such as" in page.text
    api = client.get("/api/feasibility?events=Nope")
    assert api.status_code == 400
    assert api.json()["error"]["message"].startswith("unknown event: 'Nope'; use ids")
    many = "&".join(["event=sysmon:1"] * 501)
    assert "at most 500" in client.get(f"/api/feasibility?{many}").json()["error"]["message"]


def test_feasibility_is_not_in_the_static_site(small_db: Path) -> None:
    from ruledex.web.database import StaticCatalog
    from ruledex.web.templating import make_environment, render_page
    from ruledex.web.views import PageNotFound, ViewContext

    catalog = StaticCatalog(connect(small_db))
    page = web_app.VIEWS["events"](ViewContext(catalog, static=True))
    html = render_page(make_environment(), page, StaticLinks(0), catalog=None,
                       technique_ids=set(), api_url=None, q="")
    assert "<h1>Events</h1>" in html and "feasibility" not in html.lower()
    with pytest.raises(PageNotFound, match="needs the server"):
        web_app.VIEWS["feasibility"](ViewContext(catalog, static=True))


def test_feasibility_helpers() -> None:
    from ruledex.web.views.feasibility import next_events, text_lines

    assert text_lines("Sysmon 1\n\n  # note\nSecurity 4688 # process\n") == [
        "Sysmon 1", "Security 4688"]
    result = {"vendors": {
        "sigma": {"not_runnable_rules": [{"missing": [["a", "b"]]}, {"missing": [["a"], ["c"]]}]},
        "splunk": {"not_runnable_rules": [{"missing": [["a"]]}]}}}
    assert next_events(result, {"a": "Event A"}) == [
        {"event": "a", "name": "Event A", "rules": 2, "vendors": {"sigma": 1, "splunk": 1}},
        {"event": "b", "name": "b", "rules": 1, "vendors": {"sigma": 1}}]
    links = Links()
    assert links("feasibility", event=["sysmon:1", "a b"], all=True) == \
        "/feasibility?event=sysmon%3A1&event=a+b&all=1"
    assert links("feasibility", event=[]) == "/feasibility"
