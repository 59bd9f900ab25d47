"""A protocol's shipped fixtures, found from its descriptor and read for the pure parsers.

A descriptor's ``fixtures`` is ``"package:folder"`` (``"wireproof.fixtures:modbus"``):
the folder ``folder`` of the importable package ``package`` holds the
protocol's TOML vectors in ``vectors/*.toml`` and its recorded captures in
``captures/``. :mod:`importlib.resources` finds it whether the package is a
directory, a wheel or a zip, so a third-party protocol ships its fixtures the
same way. The vector format is :mod:`wireproof.codecs.vectors` (pure: it
parses text); this module adds the files around it (DESIGN.md, "Layers": only
the harness does I/O), and every error names the file. :func:`read_packaged_text`
reads any other file shipped in a package on behalf of a module that does no
I/O (a conformance suite's default device profile).
"""

from __future__ import annotations

import os
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from wireproof.codecs.vectors import Vector, parse_vectors
from wireproof.errors import FixtureError
from wireproof.protocol import ProtocolDescriptor

__all__ = ["fixtures_folder", "load_vectors", "read_fixture_text", "read_packaged_text", "vector_files"]

VECTORS = "vectors"


def read_fixture_text(path: str | os.PathLike[str] | Traversable) -> str:
    """The UTF-8 text of a fixture file; :class:`FixtureError` naming it if unreadable."""
    file = path if isinstance(path, Traversable) else Path(path)
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise FixtureError(f"{path}: cannot read: {err}") from None


def read_packaged_text(package: str, name: str) -> str:
    """The UTF-8 text of the file ``name`` shipped in ``package``; :class:`FixtureError` if unreadable."""
    try:
        file = resources.files(package).joinpath(name)
    except ImportError as err:
        raise FixtureError(f"{package}: cannot read the packaged file {name!r}: {err}") from None
    return read_fixture_text(file)


def load_vectors(path: str | os.PathLike[str] | Traversable) -> list[Vector]:
    """Every ``[[vector]]`` of a TOML vector file; :class:`FixtureError` on any defect."""
    return parse_vectors(read_fixture_text(path), str(path))


def fixtures_folder(descriptor: ProtocolDescriptor) -> Traversable | None:
    """The folder ``descriptor.fixtures`` names (None if it declares none).

    :class:`FixtureError` if the reference is malformed, its package cannot be
    imported, or the folder is not there: a declared folder that is missing is
    a packaging bug, not an absence of fixtures.
    """
    ref = descriptor.fixtures
    if ref is None:
        return None
    package, sep, folder = ref.partition(":")
    if not sep or not package or not folder:
        raise FixtureError(f"protocol {descriptor.name!r}: fixtures must be 'package:folder', not {ref!r}")
    try:
        found = resources.files(package).joinpath(folder)
    except (ImportError, TypeError) as err:  # TypeError: a module that is not a package
        raise FixtureError(f"protocol {descriptor.name!r}: fixtures {ref!r}: {err}") from None
    if not found.is_dir():
        raise FixtureError(f"protocol {descriptor.name!r}: fixtures {ref!r}: no such folder")
    return found


def vector_files(descriptor: ProtocolDescriptor) -> list[Traversable]:
    """The protocol's ``vectors/*.toml``, by name (empty if it declares no fixtures).

    :class:`FixtureError` if the fixtures folder or its ``vectors/`` folder is
    missing (see :func:`fixtures_folder`).
    """
    folder = fixtures_folder(descriptor)
    if folder is None:
        return []
    vectors = folder.joinpath(VECTORS)
    if not vectors.is_dir():
        raise FixtureError(f"protocol {descriptor.name!r}: fixtures {descriptor.fixtures!r} has no "
                           f"{VECTORS}/ folder")
    return sorted((f for f in vectors.iterdir() if f.is_file() and f.name.endswith(".toml")),
                  key=lambda f: f.name)
