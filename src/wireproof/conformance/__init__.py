"""Conformance suites: the clause tests a certification run executes.

Each suite is a package of pytest test files installed with wireproof (so
``wireproof certify`` works from a wheel); :data:`SUITES` names them. A clause
test is marked ``@pytest.mark.conformance(clause=..., level=...)`` and gets
its target, device profile and options from the fixtures of
:mod:`wireproof.harness.plugin` (DESIGN.md, "Conformance").

This module is imported whenever a suite's tests are, so it stays light:
:func:`suite_path` finds a suite's directory without importing the suite.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from wireproof.errors import HarnessError

__all__ = ["SUITES", "SuiteInfo", "register_suite", "suite_path"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteInfo:
    """A registered suite: its CLI name, the package holding its test files, what it checks."""

    name: str
    package: str
    description: str
    protocol: str


SUITES: dict[str, SuiteInfo] = {}


def register_suite(info: SuiteInfo) -> None:
    """Register (or replace) a suite under ``info.name``."""
    SUITES[info.name] = info


register_suite(SuiteInfo(
    name="modbus-server",
    package="wireproof.conformance.modbus_server",
    description="a Modbus TCP server (MB-AP, MB-TCP): function codes, bounds, exceptions, MBAP, framing",
    protocol="modbus-tcp",
))


def suite_path(name: str) -> Path:
    """The directory of suite ``name``'s test files.

    ``KeyError`` (naming the known suites) for an unknown name; ``HarnessError``
    if the suite's package is not installed.
    """
    try:
        info = SUITES[name]
    except KeyError:
        raise KeyError(f"no suite named {name!r}; known: {', '.join(sorted(SUITES))}") from None
    try:
        spec = importlib.util.find_spec(info.package)
    except ImportError:
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise HarnessError(f"suite {name!r}: package {info.package} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))
