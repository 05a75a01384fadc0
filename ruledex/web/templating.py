"""The Jinja2 environment shared by the server and the static export."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup

from ruledex.analysis.fields import field_slug
from ruledex.analysis.rules import OP_WORDS
from ruledex.analysis.vendors import LEVELS, VENDOR_NAMES, VENDORS
from ruledex.normalize import field_label
from ruledex.web.links import Links
from ruledex.web.markup import attack_markdown
from ruledex.web.views import Page


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _plain(value: Any) -> str:
    """A metadata value as text: lists joined by commas, mappings as key=value."""
    if isinstance(value, list | tuple):
        return ", ".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _short_commit(commit: str | None) -> str:
    return commit[:12] if commit else "unknown"


@pass_context
def _attack_text(context: Context, text: str, citations: list[list[str]] | None = None
                 ) -> tuple[Markup, list[dict[str, Any]]]:
    """ATT&CK markdown with links to the techniques this site has pages for."""
    links = context["url"]
    known = context.get("technique_ids") or set()
    return attack_markdown(text, citations,
                           lambda tid: links("technique", id=tid) if tid in known else None)


def make_environment() -> Environment:
    """Templates from the package, autoescaped, with the catalog's filters."""
    env = Environment(
        loader=PackageLoader("ruledex.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update({
        "op_word": lambda op: OP_WORDS.get(op, op), "vendor_name":
        lambda v: VENDOR_NAMES.get(v, v), "number": _number, "field_label": field_label,
        "field_slug": field_slug, "short_commit": _short_commit, "plain": _plain,
    })
    env.globals.update({"VENDORS": VENDORS, "VENDOR_NAMES": VENDOR_NAMES, "LEVELS": LEVELS,
                        "attack_text": _attack_text})
    return env


def render_page(env: Environment, page: Page, links: Links, **context: Any) -> str:
    """The HTML of a page: its data as ``data``, shared context overridden by its extras."""
    values = {**context, **page.context}
    return env.get_template(page.template).render(
        data=page.data, title=page.title, url=links, asset=links.asset, static=links.static,
        **values)
