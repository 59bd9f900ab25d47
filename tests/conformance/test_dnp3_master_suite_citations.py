"""Every clause of the ``dnp3-master`` suite cites IEEE 1815-2012 and agrees with the suite's clause table.

The suite is collected as ``wireproof certify`` collects it (pytest
``--collect-only`` through the wireproof plugin, isolated from this
session); each clause's ``conformance`` marker must cite "IEEE 1815-2012"
with section numbers, keep the citation short, carry a title, and agree
with the table in the suite package's docstring (level and sections),
which must list exactly the collected clauses.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import wireproof.conformance.dnp3_master as suite_package
from wireproof.harness.commands.certify import pytest_args, run_pytest
from wireproof.harness.suites import suite_path

MAX_CITES = 230
_SECTION = re.compile(r"\b(?:\d+\.\d+(?:\.\d+)*|A\.\d+)\b")


def sections(cites: str) -> list[str]:
    return list(dict.fromkeys(_SECTION.findall(cites)))


def table() -> dict[str, tuple[str, list[str]]]:
    """The clause table of the package docstring: clause -> (level, sections)."""
    lines = (suite_package.__doc__ or "").splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("====="))
    rows: dict[str, tuple[str, list[str]]] = {}
    for line in lines[rule + 3:]:
        if line.startswith("====="):
            break
        clause, level, rest = line.split(None, 2)
        assert clause not in rows, f"the clause table lists {clause} twice"
        rows[clause] = (level, [s.strip() for s in rest.split(",")])
    return rows


class _Markers:
    def __init__(self) -> None:
        self.markers: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(report.longreprtext)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        for item in session.items:
            marker = item.get_closest_marker("conformance")
            if marker is not None:
                self.markers[str(marker.kwargs["clause"])] = dict(marker.kwargs)


@pytest.fixture(scope="module")
def markers() -> dict[str, dict[str, Any]]:
    collector = _Markers()
    code, held = run_pytest(pytest_args(suite_path("dnp3-master"), extra=["--collect-only", "-q"]),
                            [collector])
    assert code == 0 and not collector.errors, "\n".join([held, *collector.errors])
    return collector.markers


def test_at_least_twenty_clauses(markers: dict[str, dict[str, Any]]) -> None:
    assert len(markers) >= 20, sorted(markers)
    assert all(re.fullmatch(r"DNP3-M-\d{3}", c) for c in markers), sorted(markers)


def test_every_clause_cites_the_standard(markers: dict[str, dict[str, Any]]) -> None:
    for clause, kw in markers.items():
        cites = kw.get("cites", "")
        assert cites.startswith("IEEE 1815-2012 "), (clause, cites)
        assert sections(cites), (clause, cites)
        assert len(cites) <= MAX_CITES, (clause, len(cites))
        assert kw.get("title"), clause


def test_table_agrees_with_the_markers(markers: dict[str, dict[str, Any]]) -> None:
    rows = table()
    assert set(rows) == set(markers)
    for clause, kw in markers.items():
        level, listed = rows[clause]
        assert level == kw["level"], clause
        assert listed == sections(kw["cites"]), clause
