"""Golden transcript files: read, check, and regenerate on request (:mod:`wireproof.transcript`).

The format and the comparison are pure (:mod:`wireproof.transcript`); this
module does the I/O around them: it reads a transcript file, runs it through
a fresh driver, and with ``rewrite`` writes the actual output back when it
differs. Tests turn ``rewrite`` on from the environment
(``WIREPROOF_REWRITE=1 pytest ...``), then the diff of the regenerated files
is what a reviewer reads.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

from wireproof.errors import FixtureError
from wireproof.transcript import Driver, TranscriptResult, run_script

__all__ = ["REWRITE_VARIABLE", "check_transcript", "rewrite_requested"]

REWRITE_VARIABLE = "WIREPROOF_REWRITE"


def rewrite_requested(environ: Mapping[str, str] | None = None) -> bool:
    """True when the environment asks to regenerate transcripts (``WIREPROOF_REWRITE`` set, not ``0``)."""
    env = os.environ if environ is None else environ
    return env.get(REWRITE_VARIABLE, "") not in ("", "0")


def check_transcript(path: Path, driver_factory: Callable[[], Driver], *,
                     rewrite: bool | None = None) -> TranscriptResult:
    """Run the transcript file at ``path`` through ``driver_factory()`` and compare.

    ``rewrite`` None reads the flag from the environment (:func:`rewrite_requested`);
    with it on, a file whose output differs is rewritten and the result passes.
    An unreadable file is a :class:`~wireproof.errors.FixtureError`.
    """
    if rewrite is None:
        rewrite = rewrite_requested()
    try:
        expected = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    actual = run_script(expected, driver_factory())
    if rewrite and actual != expected:
        path.write_text(actual, encoding="utf-8")
    return TranscriptResult(name=str(path), expected=expected, actual=actual, rewritten=rewrite)
