"""Write the whole catalog as a static site: the server's pages as files with relative links.

The site opens from disk or any static host. Its search page runs in the
browser over a prebuilt index of rule titles, descriptions and tags; field
conditions (``CommandLine contains x``) need the server. Pages show their
default view only: no hidden-rule toggle, no per-vendor tactic pages.
"""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ruledex.analysis.matrix import technique_ids
from ruledex.analysis.vendors import VENDORS
from ruledex.catalog.store import connect
from ruledex.model import RuledexError
from ruledex.web.links import StaticLinks

log = logging.getLogger(__name__)

MARKER = ".ruledex-site"
"""File marking a folder as an exported site, so a second export may overwrite it."""

INDEX_FILE = "search-index.js"
DESCRIPTION_CHARS = 200

Progress = Callable[[int, int], None]
"""Called as ``progress(pages_done, pages_total)`` while the site is written."""


@dataclass
class ExportSummary:
    """What an export wrote."""

    out: Path
    pages: int
    errors: int
    seconds: float


PageSpec = tuple[str, dict[str, str], dict[str, str]]
"""A page to write: view name, path parameters, query parameters."""


def site_pages(conn: sqlite3.Connection) -> Iterator[PageSpec]:
    """Every page of the static site."""
    for vendor in (None, *VENDORS):
        for multi in (False, True):
            query = {k: v for k, v in (("vendor", vendor), ("multi", "1" if multi else None))
                     if v}
            yield "home", {}, query
    yield "fields", {}, {}
    yield "events", {}, {}
    yield "search", {}, {}
    for vendor in VENDORS:
        yield "vendor", {"vendor": vendor}, {}
    for (shortname,) in conn.execute("SELECT shortname FROM tactics ORDER BY ord"):
        yield "tactic", {"shortname": shortname}, {}
    for tid in sorted(technique_ids(conn)):
        yield "technique", {"id": tid}, {}
    for (field,) in conn.execute("SELECT DISTINCT field FROM predicates ORDER BY 1"):
        yield "field", {"field": field or "~"}, {}
    for (event_id,) in conn.execute("SELECT id FROM events ORDER BY id"):
        yield "event", {"id": event_id}, {}
    for vendor, rule_id in conn.execute("SELECT vendor, id FROM rules ORDER BY rid"):
        yield "rule", {"vendor": vendor, "id": rule_id}, {}
    for (iid,) in conn.execute("SELECT iid FROM indicators ORDER BY iid"):
        yield "indicator", {"iid": str(iid)}, {}


def search_index(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """One entry per rule for the browser-side search of the static site."""
    techniques: dict[int, list[str]] = {}
    for rid, tid in conn.execute("SELECT rid, technique_id FROM rule_techniques "
                                 "ORDER BY technique_id"):
        techniques.setdefault(rid, []).append(tid)
    tactics: dict[int, list[str]] = {}
    for rid, tactic in conn.execute("SELECT rid, tactic FROM rule_tactics"):
        tactics.setdefault(rid, []).append(tactic)
    out = []
    for r in conn.execute("SELECT rid, vendor, id, title, level, status, kind, description "
                          "FROM rules ORDER BY hidden, vendor, title"):
        description = r["description"]
        if len(description) > DESCRIPTION_CHARS:
            description = description[:DESCRIPTION_CHARS].rsplit(" ", 1)[0] + " …"
        out.append({
            "vendor": r["vendor"], "id": r["id"], "title": r["title"], "level": r["level"],
            "status": r["status"], "kind": r["kind"], "description": description,
            "techniques": techniques.get(r["rid"], []), "tactics": tactics.get(r["rid"], []),
            "href": quote(StaticLinks.file("rule", vendor=r["vendor"], id=r["id"])),
        })
    return out


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise RuledexError("the export target is a file, not a folder", str(out))
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise RuledexError("the folder is not empty and holds no earlier ruledex export; "
                           "choose an empty or new folder", str(out))
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("written by `ruledex export-site`\n", encoding="utf-8")


def export_site(db: Path, out: Path, progress: Progress | None = None) -> ExportSummary:
    """Write every page of the catalog ``db`` under ``out`` with the server's templates."""
    # Imported here: the CLI loads this module on every command, the web stack only now.
    from ruledex.analysis.matrix import catalog_meta
    from ruledex.web.app import STATIC_DIR, VIEWS
    from ruledex.web.database import StaticCatalog
    from ruledex.web.templating import make_environment, render_page
    from ruledex.web.views import ViewContext

    started = time.perf_counter()
    out = Path(out)
    conn = connect(db)
    _prepare(out)
    env = make_environment()
    catalog = StaticCatalog(conn)
    meta = catalog_meta(conn)
    known = technique_ids(conn)
    pages = list(site_pages(conn))
    errors = 0
    for done, (name, params, query) in enumerate(pages, start=1):
        file = StaticLinks.file(name, **params, **query)
        links = StaticLinks(StaticLinks.depth(file))
        shared = {"catalog": meta, "technique_ids": known, "api_url": None, "q": ""}
        try:
            page = VIEWS[name](ViewContext(catalog, params, query, static=True))
            html = render_page(env, page, links, **shared)
        except RuledexError as err:
            # Keep the link target alive with a page that says what is missing
            # (event pages, until the event library is installed).
            log.debug("%s %s: %s", name, params, err)
            errors += 1
            html = env.get_template("error.html").render(
                status=404, message=str(err), url=links, asset=links.asset, static=True,
                title="Not available", path=file, kind=type(err).__name__, **shared)
        target = out / file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(html, encoding="utf-8")
        if progress is not None:
            progress(done, len(pages))

    not_found = env.get_template("error.html").render(
        status=404, message="there is no page at this address", url=StaticLinks(0),
        asset=StaticLinks(0).asset, static=True, title="Not found", path="", kind=None,
        catalog=meta, api_url=None, q="")
    (out / "404.html").write_text(not_found, encoding="utf-8")
    static = out / "static"
    static.mkdir(exist_ok=True)
    for asset in STATIC_DIR.iterdir():
        if asset.is_file():
            shutil.copyfile(asset, static / asset.name)
    index = json.dumps(search_index(conn), ensure_ascii=False, separators=(",", ":"))
    (static / INDEX_FILE).write_text(f"window.RULEDEX_INDEX = {index};\n", encoding="utf-8")
    conn.close()
    seconds = time.perf_counter() - started
    log.info("exported %d pages to %s in %.1fs", len(pages), out, seconds)
    return ExportSummary(out, len(pages), errors, seconds)
