"""What every ruledex command shares: consoles, the --db option and error handling."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from ruledex import settings
from ruledex.model import RuledexError

console = Console()
err_console = Console(stderr=True)

HINTS = {
    "CatalogMissing": "build a catalog first: ruledex build PATH...",
    "UnknownTechnique": "technique ids look like T1059 or T1059.001",
    "SyncFailed": "check the network and the repository URLs (see `ruledex --help`)",
}
"""A hint printed under an error, by the error's class name."""


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one red line with a hint; --debug shows the traceback."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RuledexError as err:
            if click.get_current_context().find_root().params.get("debug"):
                raise
            name = type(err).__name__
            err_console.print(f"[bold red]error[/] ({name}): {err}", highlight=False)
            hint = HINTS.get(name)
            if hint:
                err_console.print(f"[dim]hint: {hint}[/]", highlight=False)
            sys.exit(1)
    return wrapper


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The --db option every command reading a catalog takes."""
    return click.option("--db", type=click.Path(path_type=Path), default=None,
                        help=f"Catalog file [default: ${settings.DB.env} or "
                             f"{settings.DB.default}].")(func)


def resolve_db(db: Path | None) -> Path:
    """The catalog file: the --db option, else the setting."""
    return db if db is not None else Path(settings.DB.value())
