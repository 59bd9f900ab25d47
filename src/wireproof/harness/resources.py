"""Files shipped inside wireproof's packages, read on behalf of modules that do no I/O.

A conformance suite's default device profile is data packaged next to its
clause tests (so ``wireproof certify`` works from a wheel); the suite asks
this module for the text instead of opening it, so that nothing under
``wireproof.conformance`` opens a file (DESIGN.md, "Layers": only the
harness does I/O). :mod:`importlib.resources` finds the file whether the
package is a directory, a wheel or a zip.
"""

from __future__ import annotations

from importlib import resources

from wireproof.errors import FixtureError

__all__ = ["read_text"]


def read_text(package: str, name: str) -> str:
    """The UTF-8 text of the file ``name`` shipped in ``package``; :class:`FixtureError` if unreadable."""
    try:
        return resources.files(package).joinpath(name).read_text(encoding="utf-8")
    except (OSError, ImportError, UnicodeDecodeError) as err:
        raise FixtureError(f"{package}: cannot read the packaged file {name!r}: {err}") from None
