"""What every vendor source provides: layout detection, file discovery, loading."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from ruledex.model import Rule, RuledexError


class Source(ABC):
    """A checkout of one vendor's rule repository.

    ``load`` turns one file into rules. Problems inside a rule are recorded on
    the rule (:meth:`Rule.add_error`) and the rule is still returned; only a
    file that yields no rule at all (unreadable, not YAML/TOML) raises
    :class:`ruledex.model.RuledexError` with the file and line.
    """

    vendor: ClassVar[str]

    def __init__(self, root: Path):
        self.root = Path(root)

    @classmethod
    @abstractmethod
    def detect(cls, root: Path) -> bool:
        """Whether ``root`` looks like a checkout of this vendor's repository."""

    @abstractmethod
    def files(self) -> list[Path]:
        """The rule files of the checkout, sorted, as absolute paths."""

    @abstractmethod
    def load(self, path: Path) -> list[Rule]:
        """Read one file into rules; ``Rule.path`` is relative to the root."""

    def relative(self, path: Path) -> str:
        """``path`` relative to the checkout root, with forward slashes."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            # One side may be absolute or go through a symbolic link.
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()

    def read(self, path: Path) -> tuple[str, str]:
        """A rule file's path relative to the root and its text, or an error naming it."""
        full = Path(path)
        try:
            relative = self.relative(full)
        except ValueError:
            relative = full.as_posix()  # a file given outside the checkout
        try:
            return relative, full.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise RuledexError(f"cannot read file: {err}", relative) from err
