"""Vendor sources: one module per rule repository layout."""

from __future__ import annotations

import importlib
from pathlib import Path

from ruledex.model import RuledexError
from ruledex.sources.base import Source

VENDORS: dict[str, str] = {
    "sigma": "ruledex.sources.sigma:SigmaSource",
    "elastic": "ruledex.sources.elastic:ElasticSource",
    "splunk": "ruledex.sources.splunk:SplunkSource",
}
"""Vendor name to the class reading its repository, as ``module:Class``."""

DETECTION_ORDER = ("splunk", "elastic", "sigma")


def source_class(vendor: str) -> type[Source]:
    """The :class:`Source` subclass of a vendor."""
    if vendor not in VENDORS:
        raise RuledexError(f"unknown vendor {vendor!r}; known: {', '.join(VENDORS)}")
    module, name = VENDORS[vendor].split(":")
    cls: type[Source] = getattr(importlib.import_module(module), name)
    return cls


def detect(root: Path) -> str:
    """The vendor whose repository layout ``root`` has."""
    root = Path(root)
    if not root.is_dir():
        raise RuledexError("not a folder", str(root))
    # Most specific layout first: a Sigma source also accepts any folder of rules.
    for vendor in DETECTION_ORDER:
        try:
            cls = source_class(vendor)
        except ImportError:
            continue
        if cls.detect(root):
            return vendor
    raise RuledexError(
        "no known rule repository layout here (Sigma: rules/*.yml; Elastic: rules/*.toml; "
        "Splunk: detections/ and macros/); force one with VENDOR=PATH", str(root))


def open_source(spec: str | Path) -> Source:
    """Open ``PATH`` (vendor detected from the layout) or ``VENDOR=PATH``."""
    text = str(spec)
    vendor, _, path = text.partition("=")
    if path and vendor in VENDORS:
        return source_class(vendor)(Path(path))
    return source_class(detect(Path(text)))(Path(text))
