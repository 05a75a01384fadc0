"""The web application: every catalog page as HTML and as JSON under ``/api``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ruledex.analysis.matrix import catalog_meta, technique_ids
from ruledex.catalog.store import CatalogMissing
from ruledex.model import RuledexError
from ruledex.web.database import CatalogHandle
from ruledex.web.links import ROUTES, Links
from ruledex.web.templating import make_environment, render_page
from ruledex.web.views import Moved, PageNotFound, View, ViewContext
from ruledex.web.views.events import event, events
from ruledex.web.views.feasibility import feasibility_page
from ruledex.web.views.fields import field, fields
from ruledex.web.views.home import home
from ruledex.web.views.indicators import indicator
from ruledex.web.views.rules import rule
from ruledex.web.views.search import search_page
from ruledex.web.views.tactics import tactic
from ruledex.web.views.technique import technique
from ruledex.web.views.vendors import vendor

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

VIEWS: dict[str, View] = {
    "home": home, "technique": technique, "rule": rule, "fields": fields, "field": field,
    "indicator": indicator, "vendor": vendor, "tactic": tactic, "events": events,
    "event": event, "search": search_page, "feasibility": feasibility_page,
}
"""Page name (see :data:`ruledex.web.links.ROUTES`) to the view that makes it."""

# Path parameters that may hold slashes once decoded (rule ids, fields, event ids).
_PATH_PARAMS = {"rule": "id", "field": "field", "event": "id"}

SECURITY_HEADERS = [
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
     b"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]

LINKS = Links()


class SecurityHeaders:
    """Adds a strict content security policy: pages load nothing from elsewhere."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error_status(err: RuledexError) -> int:
    """The HTTP status a library error stands for."""
    if isinstance(err, PageNotFound) or type(err).__name__.startswith("Unknown"):
        return 404
    if isinstance(err, CatalogMissing):
        return 503
    return 400


def _route_path(name: str) -> str:
    path = ROUTES[name]
    if name in _PATH_PARAMS:
        key = _PATH_PARAMS[name]
        path = path.replace("{" + key + "}", "{" + key + ":path}")
    return path


class Site:
    """Turns views into HTML and JSON endpoints, errors into helpful pages."""

    def __init__(self, catalog: CatalogHandle, env: Environment):
        self.catalog = catalog
        self.env = env

    def _shared(self, request: Request) -> dict[str, Any]:
        conn = self.catalog.conn
        return {"catalog": self.catalog.cached("meta", lambda: catalog_meta(conn)),
                "technique_ids": self.catalog.cached("technique_ids",
                                                     lambda: technique_ids(conn)),
                "api_url": LINKS.api(request.url.path, request.url.query), "q": ""}

    def html(self, view: View) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            started = time.perf_counter()
            ctx = ViewContext(self.catalog, request.path_params, request.query_params)
            try:
                page = view(ctx)
                html = render_page(self.env, page, LINKS, **self._shared(request))
            except Moved as moved:
                return RedirectResponse(LINKS(moved.name, **moved.params), status_code=302)
            except RuledexError as err:
                return self.error_html(request, error_status(err), str(err), err)
            except Exception:
                log.exception("error rendering %s", request.url.path)
                return self.error_html(request, 500, "something went wrong on our side; "
                                       "the error is in the server log")
            log.debug("%s in %.1f ms", request.url.path, (time.perf_counter() - started) * 1e3)
            return HTMLResponse(html)
        return endpoint

    def json(self, view: View) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            ctx = ViewContext(self.catalog, request.path_params, request.query_params)
            try:
                return JSONResponse(view(ctx).data)
            except Moved as moved:
                return RedirectResponse("/api" + LINKS(moved.name, **moved.params),
                                        status_code=302)
            except RuledexError as err:
                return self.error_json(error_status(err), str(err), type(err).__name__)
            except Exception:
                log.exception("error answering %s", request.url.path)
                return self.error_json(500, "internal error; see the server log", "Internal")
        return endpoint

    def error_html(self, request: Request, status: int, message: str,
                   err: Exception | None = None) -> Response:
        try:
            shared = self._shared(request)
        except Exception:  # the catalog itself may be what failed
            shared = {"catalog": None, "technique_ids": set(), "api_url": None, "q": ""}
        template = self.env.get_template("error.html")
        html = template.render(status=status, message=message, url=LINKS, asset=LINKS.asset,
                               static=False, title=_STATUS_TITLES.get(status, "Error"),
                               path=request.url.path, kind=type(err).__name__ if err else None,
                               **shared)
        return HTMLResponse(html, status_code=status)

    @staticmethod
    def error_json(status: int, message: str, kind: str) -> Response:
        return JSONResponse({"error": {"status": status, "type": kind, "message": message}},
                            status_code=status)

    def http_error(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        message = {404: "there is no page at this address",
                   405: "this address only answers GET"}.get(status, "the request failed")
        if request.url.path.startswith("/api"):
            return self.error_json(status, message, "HTTPError")
        return self.error_html(request, status, message)

    def server_error(self, request: Request, exc: Exception) -> Response:
        log.error("unhandled error on %s: %r", request.url.path, exc)
        if request.url.path.startswith("/api"):
            return self.error_json(500, "internal error; see the server log", "Internal")
        return self.error_html(request, 500, "something went wrong on our side")


_STATUS_TITLES = {400: "Bad request", 404: "Not found", 405: "Method not allowed",
                  500: "Server error", 503: "Catalog unavailable"}


def create_app(db: Path, debug: bool = False) -> Starlette:
    """The web catalog serving the catalog file ``db``, opened read-only."""
    catalog = CatalogHandle(Path(db))
    site = Site(catalog, make_environment())
    routes: list[Route | Mount] = []
    for name, view in VIEWS.items():
        path = _route_path(name)
        routes.append(Route(path, site.html(view), name=name))
        routes.append(Route("/api" + path if path != "/" else "/api", site.json(view)))
    routes.append(Route("/api/", site.json(home)))
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))
    app = Starlette(
        debug=debug, routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(GZipMiddleware, minimum_size=2048)],
        exception_handlers={HTTPException: site.http_error, Exception: site.server_error})
    app.state.catalog = catalog
    return app

