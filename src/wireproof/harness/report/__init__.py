"""Reports of a conformance run: a format-free model and one pure writer per format.

``write_reports(result, directory)`` writes ``report.json`` (schema
``wireproof.report/1``), ``junit.xml`` and ``report.html`` (:data:`REPORT_FILES`),
then the evidence bundle (:mod:`.bundle`: per clause a capture and a step log
under ``evidence/``) and, last, ``manifest.json`` hashing every file; it
returns the reports' paths and the manifest's. The pytest plugin calls it on
the xdist controller only.
"""

from __future__ import annotations

from pathlib import Path

from wireproof.harness.report.bundle import MANIFEST, MANIFEST_SCHEMA, write_bundle
from wireproof.harness.report.html import render_html, write_html
from wireproof.harness.report.json_report import read_json, write_json
from wireproof.harness.report.junit import junit_tree, write_junit
from wireproof.harness.report.model import (
    OK_VERDICTS,
    SCHEMA,
    VERDICTS,
    CaseResult,
    DeviceInfo,
    EvidenceEntry,
    NotRun,
    ParameterInfo,
    ProfileInfo,
    RunResult,
)

__all__ = [
    "MANIFEST",
    "MANIFEST_SCHEMA",
    "OK_VERDICTS",
    "REPORT_FILES",
    "SCHEMA",
    "VERDICTS",
    "CaseResult",
    "DeviceInfo",
    "EvidenceEntry",
    "NotRun",
    "ParameterInfo",
    "ProfileInfo",
    "RunResult",
    "junit_tree",
    "read_json",
    "render_html",
    "write_bundle",
    "write_html",
    "write_json",
    "write_junit",
    "write_reports",
]

REPORT_FILES = ("report.json", "junit.xml", "report.html")


def write_reports(result: RunResult, directory: Path) -> list[Path]:
    """Write the three reports, the evidence bundle and the manifest into ``directory`` (created if needed).

    Returns the reports' paths, then the manifest's (which lists the evidence files).
    """
    directory.mkdir(parents=True, exist_ok=True)
    reports = [
        write_json(result, directory / "report.json"),
        write_junit(result, directory / "junit.xml"),
        write_html(result, directory / "report.html"),
    ]
    return [*reports, write_bundle(result, directory, reports=reports)]
