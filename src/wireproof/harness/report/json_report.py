"""report.json: the machine-readable report, schema ``wireproof.report/1``.

The layout is defined once, by :meth:`RunResult.to_json_dict
<wireproof.harness.report.model.RunResult.to_json_dict>`; this module only
writes it (UTF-8, indented, keys in schema order) and reads it back.
"""

from __future__ import annotations

import json
from pathlib import Path

from wireproof.errors import FixtureError
from wireproof.harness.report.model import RunResult

__all__ = ["read_json", "write_json"]


def write_json(result: RunResult, path: Path) -> Path:
    """Write ``result`` to ``path`` as JSON; returns ``path``."""
    path.write_text(json.dumps(result.to_json_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def read_json(path: Path) -> RunResult:
    """Read a report written by :func:`write_json` (``FixtureError`` if it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise FixtureError(f"{path}: unreadable report: {err}") from None
    if not isinstance(data, dict):
        raise FixtureError(f"{path}: not a report object")
    try:
        return RunResult.from_json_dict(data)
    except (KeyError, TypeError) as err:
        raise FixtureError(f"{path}: malformed report: {err!r}") from None
