"""Where the conformance suites are: the protocol descriptors' suite entries, found on disk.

A suite is declared by its protocol's descriptor (:class:`~wireproof.protocol.SuiteEntry`);
its clause test files are the package the entry names, run by pytest from
that package's directory (``wireproof certify``, ``wireproof suites``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wireproof.errors import HarnessError
from wireproof.protocol import REGISTRY, SuiteEntry

__all__ = ["suite", "suite_names", "suite_params", "suite_path"]


def suite_names() -> list[str]:
    """Every registered suite, sorted."""
    return [s.name for s in REGISTRY.suites()]


def suite(name: str) -> SuiteEntry:
    """The suite called ``name``; ``KeyError`` naming the known suites if there is none."""
    try:
        return REGISTRY.suite(name)
    except KeyError:
        raise KeyError(f"no suite named {name!r}; known: {', '.join(suite_names())}") from None


def suite_path(name: str | SuiteEntry) -> Path:
    """The directory of a suite's test files.

    ``KeyError`` (naming the known suites) for an unknown name; ``HarnessError``
    if the suite's package is not installed.
    """
    entry = suite(name) if isinstance(name, str) else name
    try:
        spec = importlib.util.find_spec(entry.package)
    except ImportError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"suite {entry.name!r}: package {entry.package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def suite_params(name: str, given: Mapping[str, str]) -> dict[str, Any]:
    """Suite ``name``'s parameters: each given one parsed, the others their declared default.

    For a suite's fixtures (``given`` is the plugin's ``wireproof_params``). A
    value that does not parse, or a name the suite does not declare, is a
    :class:`HarnessError` (``wireproof certify`` has checked them already).
    """
    entry = suite(name)
    values: dict[str, Any] = {p.name: p.default for p in entry.params}
    for key, text in given.items():
        try:
            values[key] = entry.parse_param(key, text)
        except ValueError as err:
            raise HarnessError(f"parameter {key}={text}: {err}") from None
    return values
