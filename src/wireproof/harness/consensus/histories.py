"""History files: read them for :mod:`wireproof.consensus.check` (which parses text, never files).

The formats (Jepsen's ``jepsen.util`` log, wireproof JSON lines) are
:mod:`wireproof.consensus.check.history`; this module adds the file around
them, and names the file in every error.
"""

from __future__ import annotations

from pathlib import Path

from wireproof.consensus.check.history import FORMATS, History, parse_history
from wireproof.errors import FixtureError

__all__ = ["load_history"]


def load_history(path: str | Path, format: str = "jepsen") -> History:
    """Read a history file; :class:`~wireproof.errors.FixtureError` if unreadable or malformed."""
    if format not in FORMATS:
        raise FixtureError(f"unknown history format {format!r}; known: {', '.join(FORMATS)}")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    try:
        return parse_history(text, format)
    except FixtureError as exc:
        raise FixtureError(f"{path}: {exc}") from None
