"""Every clause of the ``modbus-server`` suite cites the specification sentence it rests on (issue 10).

The suite is collected as ``wireproof certify`` collects it (pytest
``--collect-only`` through the wireproof plugin, isolated from this session),
and each clause's ``conformance`` marker is read: its ``cites`` must name the
document ("MB-AP" or "MB-TCP") and section, keep its quotations short and
closed, and agree with the clause table in the suite package's docstring
(level and sections), which must list exactly the collected clauses.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import wireproof.conformance.modbus_server as suite_package
from wireproof.harness.commands.certify import pytest_args, run_pytest
from wireproof.harness.suites import suite_path

MAX_CITES = 220  # "one or two sentences": a citation, not the specification
_REFERENCE = re.compile(r"\b(MB-AP|MB-TCP) (\d+(?:\.\d+)*(?:, \d+(?:\.\d+)*)*)")
_QUOTED = re.compile(r'"[^"]*"')


def sections(cites: str) -> set[str]:
    """The sections a citation names, as "DOC N.N": every "MB-AP 6.1, 6.2" outside its quotations."""
    found: set[str] = set()
    for doc, numbers in _REFERENCE.findall(_QUOTED.sub('""', cites)):
        found.update(f"{doc} {n}" for n in numbers.split(", "))
    return found


def table() -> dict[str, tuple[str, str]]:
    """The clause table of the suite's docstring: clause -> (level, cites column)."""
    lines = (suite_package.__doc__ or "").splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("====="))
    spans = [m.span() for m in re.finditer(r"=+", lines[rule])]
    rows: dict[str, tuple[str, str]] = {}
    for line in lines[rule + 3:]:
        if line.startswith("====="):
            break
        clause, level, cites = (line[a:b if i < len(spans) - 1 else None].strip()
                                for i, (a, b) in enumerate(spans[:3]))
        assert clause not in rows, f"clause table lists {clause} twice"
        rows[clause] = (level, cites)
    return rows


class _Markers:
    """Records the ``conformance`` marker of every collected clause test (and collection errors)."""

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
    code, held = run_pytest(pytest_args(suite_path("modbus-server"), extra=["--collect-only", "-q"]),
                            [collector])
    assert code == 0 and not collector.errors, "\n".join([held, *collector.errors])
    assert collector.markers, held
    return collector.markers


def test_sections_reads_references_outside_quotations() -> None:
    cites = 'MB-TCP 3.1.2: "see MB-AP 9.9"; MB-AP 6.1, 6.2 state diagram (Figure 11): "0x0001 <= N"'
    assert sections(cites) == {"MB-TCP 3.1.2", "MB-AP 6.1", "MB-AP 6.2"}
    assert sections("the rule in words, no section") == set()


def test_every_clause_cites_a_section(markers: dict[str, dict[str, Any]]) -> None:
    problems = []
    for clause, kwargs in sorted(markers.items()):
        cites = str(kwargs.get("cites", "")).strip()
        if not sections(cites):
            problems.append(f"{clause}: cites {cites!r} names no MB-AP / MB-TCP section")
        elif len(cites) > MAX_CITES:
            problems.append(f"{clause}: cites is {len(cites)} characters (at most {MAX_CITES})")
        elif cites.count('"') % 2:
            problems.append(f"{clause}: cites {cites!r} leaves a quotation open")
    assert not problems, "\n".join(problems)


def test_clause_table_matches_markers(markers: dict[str, dict[str, Any]]) -> None:
    rows = table()
    assert sorted(rows) == sorted(markers), (
        f"in the table only: {sorted(set(rows) - set(markers))}; "
        f"collected only: {sorted(set(markers) - set(rows))}")
    problems = []
    for clause, (level, cites) in sorted(rows.items()):
        marker = markers[clause]
        if level != marker["level"]:
            problems.append(f"{clause}: table says {level!r}, marker says {marker['level']!r}")
        if sections(cites) != sections(str(marker.get("cites", ""))):
            problems.append(f"{clause}: table cites {cites!r}, marker cites {marker.get('cites')!r}")
    assert not problems, "\n".join(problems)
