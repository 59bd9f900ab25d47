"""junit.xml: the run for CI dashboards, in the common JUnit XML dialect.

One ``<testcase>`` per clause test, named by its clause id; ``clause``,
``level``, ``verdict`` and ``nodeid`` are ``<property>`` elements inside it.
``fail`` becomes ``<failure>``, ``error`` ``<error>``, ``not_applicable`` and
``inconclusive`` ``<skipped>`` (with ``type`` naming the verdict); the evidence
is the case's ``<system-out>``, one line per step.

An incomplete run (interrupted) says so twice: the suite's properties
``complete`` (false) and ``interrupted``, and one ``<testcase>`` per clause
that did not run, ``<skipped type="not_run">`` with the reason, so a CI
dashboard counts them instead of showing a shorter, green-looking suite.

XML 1.0 cannot carry most control characters, and device bytes end up in
messages, so text is sanitised (``\\xNN``) before it reaches the tree.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from wireproof.harness.report.model import CaseResult, NotRun, RunResult

__all__ = ["junit_tree", "write_junit"]

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _x(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def _evidence_text(case: CaseResult) -> str:
    lines = []
    for e in case.evidence:
        note = f"  # {e.note}" if e.note else ""
        lines.append(f"{e.t:9.6f} {e.direction:<8} {e.hex}{note}".rstrip())
    return "\n".join(lines)


def _testcase(suite: str, case: CaseResult) -> ET.Element:
    tc = ET.Element("testcase", {"classname": _x(suite), "name": _x(case.clause or case.nodeid),
                                 "time": f"{case.duration:.6f}"})
    props = ET.SubElement(tc, "properties")
    for name, value in (("clause", case.clause), ("level", case.level), ("verdict", case.verdict),
                        ("nodeid", case.nodeid), ("title", case.title), ("cites", case.cites)):
        ET.SubElement(props, "property", {"name": name, "value": _x(value)})
    tag = {"fail": "failure", "error": "error", "not_applicable": "skipped",
           "inconclusive": "skipped"}.get(case.verdict)
    if tag is not None:
        child = ET.SubElement(tc, tag, {"type": case.verdict, "message": _x(_first_line(case.message))})
        if tag != "skipped":
            child.text = _x(case.message)
    if case.evidence:
        ET.SubElement(tc, "system-out").text = _x(_evidence_text(case))
    return tc


def _not_run(suite: str, item: NotRun, reason: str) -> ET.Element:
    tc = ET.Element("testcase", {"classname": _x(suite), "name": _x(item.clause or item.nodeid), "time": "0"})
    props = ET.SubElement(tc, "properties")
    for name, value in (("clause", item.clause), ("level", item.level), ("verdict", "not_run"),
                        ("nodeid", item.nodeid), ("title", item.title)):
        ET.SubElement(props, "property", {"name": name, "value": _x(value)})
    ET.SubElement(tc, "skipped", {"type": "not_run", "message": _x(f"not run: {reason}")})
    return tc


def junit_tree(result: RunResult) -> ET.ElementTree:
    """The JUnit XML document for ``result``."""
    s = result.summary
    tests = str(s["total"] + len(result.not_run))
    root = ET.Element("testsuites", {"name": "wireproof", "tests": tests,
                                      "failures": str(s["fail"]), "errors": str(s["error"]),
                                      "time": f"{result.duration:.3f}"})
    suite = ET.SubElement(root, "testsuite", {
        "name": _x(result.suite), "tests": tests, "failures": str(s["fail"]),
        "errors": str(s["error"]),
        "skipped": str(s["not_applicable"] + s["inconclusive"] + len(result.not_run)),
        "time": f"{result.duration:.3f}", "timestamp": _x(result.started),
    })
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", {"name": "target", "value": _x(result.target or "")})
    ET.SubElement(props, "property", {"name": "complete", "value": str(result.complete).lower()})
    ET.SubElement(props, "property", {"name": "interrupted", "value": str(result.interrupted).lower()})
    if not result.complete:
        ET.SubElement(props, "property", {"name": "incomplete", "value": _x(result.incomplete_note)})
    context = [("profile", result.profile.text), ("profile_sha256", result.profile.sha256),
               ("finished", result.finished),
               *((f"param.{p.name}", p.value or p.default) for p in result.parameters),
               *((f"device.{k}", v) for k, v in result.device.fields),
               *((("device.problem", result.device.problem),) if result.device.problem else ()),
               *((f"env.{k}", v) for k, v in result.environment.items())]
    for name, value in context:
        ET.SubElement(props, "property", {"name": _x(name), "value": _x(value)})
    for case in result.cases:
        suite.append(_testcase(result.suite, case))
    for item in result.not_run:
        suite.append(_not_run(result.suite, item, result.incomplete_note))
    tree = ET.ElementTree(root)
    ET.indent(tree)
    return tree


def write_junit(result: RunResult, path: Path) -> Path:
    """Write ``result`` to ``path`` as JUnit XML; returns ``path``."""
    junit_tree(result).write(path, encoding="utf-8", xml_declaration=True)
    return path
