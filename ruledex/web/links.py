"""URLs of every page, for the server (absolute paths) and the static site (relative files)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

ROUTES: dict[str, str] = {
    "home": "/",
    "technique": "/techniques/{id}",
    "rule": "/rules/{vendor}/{id}",
    "fields": "/fields",
    "field": "/fields/{field}",
    "indicator": "/indicators/{iid}",
    "vendor": "/vendors/{vendor}",
    "tactic": "/tactics/{shortname}",
    "events": "/events",
    "event": "/events/{id}",
    "search": "/search",
    "feasibility": "/feasibility",
}
"""Page name to its path; ``{name}`` parts are filled from the link's parameters."""

_FILE_SAFE = "-._~@+,="


def _fill(template: str, params: dict[str, Any], safe: str) -> tuple[str, dict[str, Any]]:
    """The path with its ``{name}`` parts filled (quoted, keeping ``safe``), and the rest."""
    rest = dict(params)
    path = template
    for key in list(rest):
        marker = "{" + key + "}"
        if marker in path:
            path = path.replace(marker, quote(str(rest.pop(key)), safe=safe))
    if "{" in path:
        raise KeyError(f"missing parameter for {template}")
    return path, rest


class Links:
    """Builds links on server pages: absolute paths with query strings."""

    static = False

    def __call__(self, name: str, **params: Any) -> str:
        path, rest = _fill(ROUTES[name], params, safe="")
        query = {k: v for k, v in rest.items() if v not in (None, False, "")}
        query = {k: 1 if v is True else v for k, v in query.items()}
        # A list value repeats its parameter (?event=a&event=b); an empty one adds nothing.
        encoded = urlencode(query, doseq=True)
        return path + ("?" + encoded if encoded else "")

    def asset(self, path: str) -> str:
        """A file of the packaged static folder."""
        return "/static/" + quote(path)

    def api(self, path: str, query: str = "") -> str | None:
        """The JSON twin of a page path."""
        return "/api" + (path if path != "/" else "") + (f"?{query}" if query else "")


class StaticLinks(Links):
    """Builds links between files of the exported site, relative to the page at ``depth``."""

    static = True

    def __init__(self, depth: int = 0):
        self.prefix = "../" * depth

    def __call__(self, name: str, **params: Any) -> str:
        target = quote(self.file(name, **params))
        if name == "search" and params.get("q"):
            target += "?" + urlencode({"q": params["q"]})
        return self.prefix + target

    def asset(self, path: str) -> str:
        return self.prefix + "static/" + quote(path)

    def api(self, path: str, query: str = "") -> str | None:
        return None

    @staticmethod
    def file(name: str, **params: Any) -> str:
        """The file, relative to the site root, holding a page.

        Query parameters the static site has no page for (hidden rules, page
        numbers) are dropped: it shows the default view of each page.
        """
        if name == "home":
            parts = [p for p in (params.get("vendor"), "multi" if params.get("multi") else None)
                     if p]
            return "-".join(["index", *parts]) + ".html"
        if name in ("fields", "events", "search"):
            return f"{name}.html"
        # Each parameter becomes one file-name-safe segment; a slash in an id stays inside.
        path, _ = _fill(ROUTES[name], params, safe=_FILE_SAFE)
        return path.strip("/") + ".html"

    @staticmethod
    def depth(file: str) -> int:
        """How many folders deep a site file lies."""
        return file.count("/")
