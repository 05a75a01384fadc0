"""The web catalog in a real chromium: matrix to technique to rule, search, JS on and off.

Screenshots of the home, technique, rule and search pages go to ``screenshots/``.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1366, "height": 900}

if not CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
    pytest.skip("chromium or playwright is not installed (see .ci/browser-deps)",
                allow_module_level=True)

from playwright.sync_api import BrowserContext, Page, expect, sync_playwright  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _all_vendors() -> bool:
    return all(importlib.util.find_spec(f"ruledex.sources.{v}") for v in ("elastic", "splunk"))


@pytest.fixture(scope="module")
def base_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The web catalog of the corpus, served by uvicorn in a thread."""
    import uvicorn

    from ruledex.web.app import create_app

    db = request.getfixturevalue("corpus_db" if _all_vendors() else "sigma_db")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(db), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the web server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _context(playwright: Any, profile: Path, **options: Any) -> BrowserContext:
    context: BrowserContext = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport=VIEWPORT, **options)
    return context


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="module")
def browser(playwright: Any, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[BrowserContext]:
    context = _context(playwright, tmp_path_factory.mktemp("profile"))
    yield context
    context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    """A tab that fails the test on any console error (a blocked asset, a script error)."""
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    yield tab
    tab.close()
    assert not errors, errors


def _shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


def test_matrix_to_technique_to_rule(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    expect(page.locator("h1")).to_have_text("ATT&CK Enterprise coverage")
    _shot(page, "home")

    page.locator('a.cell-link[href="/techniques/T1059"]').first.click()
    expect(page).to_have_url(base_url + "/techniques/T1059")
    page.locator('a[href="/techniques/T1059.001"]').first.click()
    expect(page.locator("h1")).to_contain_text("PowerShell")
    _shot(page, "technique")

    row = page.locator("#indicators ~ div details.rules-here").first
    rule_link = row.locator("ul a").first
    expect(rule_link).to_be_hidden()
    row.locator("summary").click()
    expect(row).to_have_attribute("open", "")
    expect(rule_link).to_be_visible()
    title = rule_link.inner_text()
    rule_link.click()
    expect(page.locator("h1")).to_have_text(title)
    expect(page.locator(".outline")).to_be_visible()
    expect(page.locator(".source .highlight")).to_be_visible()
    _shot(page, "rule")


def test_search(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.fill("#q-header", "CommandLine contains vssadmin")
    page.press("#q-header", "Enter")
    expect(page).to_have_url(base_url + "/search?q=CommandLine+contains+vssadmin")
    expect(page.locator("ol.results li.result").first).to_be_visible()
    expect(page.locator("ul.matched mark").first).to_contain_text("vssadmin")
    _shot(page, "search")

    facet = page.locator(".facets a").first
    facet.click()
    expect(page.locator(".facets a.selected")).to_have_count(1)


def test_tables_sort_with_javascript(page: Page, base_url: str) -> None:
    page.goto(base_url + "/techniques/T1059.001")
    header = page.locator("#subs ~ table th, #fields ~ div th").filter(has_text="rules").first
    header.locator("button.sort-button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    header.locator("button.sort-button").click()
    expect(header).to_have_attribute("aria-sort", "ascending")


def test_phone_layout(browser: BrowserContext, base_url: str) -> None:
    tab = browser.new_page()
    tab.set_viewport_size({"width": 390, "height": 844})
    tab.goto(base_url + "/")
    # One column of tactics: no horizontal scrolling of the page itself.
    width = tab.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    _shot(tab, "home-phone")
    tab.close()


def test_pages_work_without_javascript(playwright: Any, base_url: str, tmp_path: Path) -> None:
    context = _context(playwright, tmp_path / "profile", java_script_enabled=False)
    tab = context.new_page()
    tab.goto(base_url + "/techniques/T1059.001")
    assert tab.locator("button.sort-button").count() == 0
    row = tab.locator("details.rules-here").first
    row.locator("summary").click()
    expect(row).to_have_attribute("open", "")
    tab.goto(base_url + "/?vendor=sigma&multi=1")
    expect(tab.locator('.segmented a[aria-current="page"]').first).to_have_text("Sigma")
    tab.fill("#q-header", "mimikatz")
    tab.press("#q-header", "Enter")
    expect(tab.locator("ol.results li.result").first).to_be_visible()
    context.close()


STATIC_RULES = {
    "ps.yml": "title: Encoded PowerShell\nid: ps\nstatus: test\nlevel: high\n"
              "logsource:\n    category: process_creation\n    product: windows\n"
              "tags:\n    - attack.t1059.001\n"
              "detection:\n    sel:\n        CommandLine|contains: ' -enc '\n"
              "    condition: sel\n",
}


@pytest.fixture(scope="module")
def static_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import write_sigma_repo

    from ruledex.catalog.build import build
    from ruledex.export import export_site

    root = write_sigma_repo(tmp_path_factory.mktemp("repo"), STATIC_RULES)
    build(root / "catalog.sqlite", [root])
    out = tmp_path_factory.mktemp("site")
    export_site(root / "catalog.sqlite", out)
    return out


def test_static_site_from_disk(page: Page, static_site: Path) -> None:
    page.goto((static_site / "index.html").as_uri())
    page.locator('a.cell-link[href="techniques/T1059.html"]').click()
    expect(page.locator("h1")).to_contain_text("Command and Scripting Interpreter")

    page.goto((static_site / "search.html").as_uri() + "?q=powershell%20level:high")
    result = page.locator("#static-search-results li.result a").first
    expect(result).to_have_text("Encoded PowerShell")
    expect(page.locator("#static-search-status")).to_have_text("1 rule")
    result.click()
    expect(page.locator("h1")).to_have_text("Encoded PowerShell")
    page.goto((static_site / "search.html").as_uri() + "?q=vendor:elastic")
    expect(page.locator("#static-search-status")).to_have_text("0 rules")


def test_browser_deps_script_is_executable() -> None:
    script = Path(__file__).resolve().parents[1] / ".ci" / "browser-deps"
    assert script.is_file() and shutil.which(str(script))


def test_feasibility(page: Page, base_url: str) -> None:
    page.goto(base_url + "/feasibility")
    page.check('input[name="event"][value="sysmon:1"]')
    page.check('input[name="event"][value="win-security:4688"]')
    # The filter opens the folded PowerShell group.
    page.fill("#event-filter", "PowerShell 4104")
    script_block = page.locator('input[name="event"][value="powershell:4104"]')
    expect(script_block).to_be_visible()
    expect(page.locator('input[name="event"][value="sysmon:1"]')).to_be_hidden()
    script_block.check()
    page.get_by_role("button", name="Count runnable rules").click()

    expect(page.locator("h2#result")).to_have_text("Runnable on 3 events")
    rows = page.locator("#feasibility-counts tbody tr")
    expect(rows).to_have_count(3 if _all_vendors() else 1)
    for index in range(rows.count()):
        runnable = rows.nth(index).locator("td.runnable").inner_text()
        assert int(runnable.replace(",", "")) > 0
    expect(page.locator('input[value="powershell:4104"]')).to_be_checked()
    _shot(page, "feasibility")
