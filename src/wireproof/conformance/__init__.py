"""Conformance suites: the clause tests a certification run executes.

Each suite is a package of pytest test files installed with wireproof (so
``wireproof certify`` works from a wheel), declared by its protocol's
descriptor (:class:`wireproof.protocol.SuiteEntry`: name, package,
parameters); :mod:`wireproof.harness.suites` finds them. A clause test is
marked ``@pytest.mark.conformance(clause=..., level=...)`` and gets its
target, device profile and parameters from the fixtures of
:mod:`wireproof.harness.plugin` (DESIGN.md, "Conformance"). Suites do I/O
only through the harness.
"""

from __future__ import annotations

__all__: list[str] = []
