"""``wireproof suites``: the registered conformance suites and their clause counts.

The suites are those the installed protocol descriptors declare
(:mod:`wireproof.protocol`); a descriptor that cannot be loaded is named in
a warning on stderr.

Clauses are counted by collecting each suite (pytest ``--collect-only``, in
process, isolated as ``certify`` runs it): the number of distinct clause ids
among its tests. Exit 1 if a suite is missing or does not collect.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

__all__ = ["ClauseCounter", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No arguments."""


class ClauseCounter:
    """Counts the distinct clause ids among the collected items."""

    def __init__(self) -> None:
        self.clauses: set[str] = set()
        self.tests = 0
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(report.longreprtext.strip().splitlines()[-1] if report.longreprtext else "")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            marker = item.get_closest_marker("conformance")
            if marker is not None:
                self.tests += 1
                self.clauses.add(str(marker.kwargs.get("clause", "")))


def run(args: argparse.Namespace) -> int:
    from wireproof.errors import HarnessError
    from wireproof.harness.commands.certify import missing_runner, pytest_args, run_pytest
    from wireproof.harness.suites import suite_path
    from wireproof.protocol import REGISTRY

    missing = missing_runner()
    if missing is not None:
        print(f"wireproof suites: error: {missing}", file=sys.stderr)
        return 2
    ok = True
    suites = REGISTRY.suites()
    width = max((len(info.name) for info in suites), default=0)
    for info in suites:
        name = info.name
        try:
            directory = suite_path(info)
        except HarnessError as exc:
            print(f"{name:<{width}}  (not installed: {exc})")
            ok = False
            continue
        counter = ClauseCounter()
        code, held = run_pytest(pytest_args(directory, extra=["--collect-only"]), [counter])
        if counter.errors or code not in (0, 5):
            detail = "; ".join(e for e in counter.errors if e) or held.strip().splitlines()[-1:]
            print(f"{name:<{width}}  (does not collect: {detail})")
            ok = False
            continue
        print(f"{name:<{width}}  {len(counter.clauses):>4} clauses  {info.protocol:<12} {info.description}")
    sys.stdout.flush()
    return 0 if ok else 1
