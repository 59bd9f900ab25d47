"""Report writers: pure functions of the model; JSON schema, JUnit properties, HTML escaping."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from wireproof.errors import FixtureError
from wireproof.harness.report import (
    REPORT_FILES,
    SCHEMA,
    CaseResult,
    EvidenceEntry,
    NotRun,
    RunResult,
    read_json,
    render_html,
    write_json,
    write_junit,
    write_reports,
)
from wireproof.harness.report.model import clause_sort_key

EVIDENCE = (EvidenceEntry(direction="sent", hex="000100000006010300000001", note="read <1>", t=0.001),
            EvidenceEntry(direction="received", hex="0001", t=0.25))
CASES = (
    CaseResult(nodeid="t.py::test_a", clause="MB-1", level="shall", verdict="pass", duration=0.5,
               evidence=EVIDENCE),
    CaseResult(nodeid="t.py::test_b", clause="MB-2", level="shall", verdict="fail", duration=0.1,
               message="AssertionError: got <script>alert(1)</script>\nsecond line & more"),
    CaseResult(nodeid="t.py::test_c", clause="MB-3", level="should", verdict="error",
               message="RuntimeError: bytes \x00\x1b[31m here"),
    CaseResult(nodeid="t.py::test_d", clause="MB-4", level="may", verdict="not_applicable",
               message="FC 23 off"),
    CaseResult(nodeid="t.py::test_e", clause="MB-5", level="should", verdict="inconclusive",
               message="no reply"),
)
RUN = RunResult(suite="modbus-server", target="tcp://127.0.0.1:1502", started="2024-01-01T00:00:00+00:00",
                duration=1.5, cases=CASES)


def test_summary_counts_and_passed() -> None:
    assert RUN.summary == {"pass": 1, "fail": 1, "error": 1, "not_applicable": 1, "inconclusive": 1,
                           "total": 5}
    assert not RUN.passed
    ok = RunResult(suite="s", target=None, started="", duration=0, cases=(CASES[0], CASES[3]))
    assert ok.passed
    assert not RunResult(suite="s", target=None, started="", duration=0).passed  # nothing ran: no pass
    assert not RunResult(suite="s", target=None, started="", duration=0, cases=(CASES[0], CASES[4])).passed


def test_unknown_verdict_rejected() -> None:
    with pytest.raises(FixtureError, match="unknown verdict 'skipped'"):
        CaseResult(nodeid="x", clause="c", level="shall", verdict="skipped")


def test_clause_sort_key_is_numeric() -> None:
    cases = [CaseResult(nodeid=n, clause=c, level="shall", verdict="pass")
             for n, c in [("a", "MB-10"), ("b", "MB-2"), ("c", ""), ("d", "MB-2.1"), ("e", "AA-1")]]
    assert [c.clause for c in sorted(cases, key=clause_sort_key)] == ["AA-1", "MB-2", "MB-2.1", "MB-10", ""]


def test_json_schema_and_round_trip(tmp_path: Path) -> None:
    path = write_json(RUN, tmp_path / "report.json")
    data = json.loads(path.read_text())
    assert list(data) == ["schema", "suite", "target", "started", "duration", "complete", "interrupted",
                          "summary", "cases", "not_run", "finished", "profile", "parameters", "environment",
                          "device"]
    assert data["complete"] is True and data["interrupted"] is False and data["not_run"] == []
    assert data["schema"] == SCHEMA == "wireproof.report/1"
    assert data["summary"]["total"] == 5
    assert data["cases"][0]["evidence"][0] == {"direction": "sent", "hex": "000100000006010300000001",
                                                "note": "read <1>", "t": 0.001, "connection": "",
                                                "decoded": "", "local": "", "remote": ""}
    assert read_json(path) == RUN


def test_read_json_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "other/9"}')
    with pytest.raises(FixtureError, match=r"not a wireproof\.report/1 report"):
        read_json(bad)
    bad.write_text("[1, 2")
    with pytest.raises(FixtureError, match="unreadable"):
        read_json(bad)


def test_junit_one_testcase_per_clause_with_properties(tmp_path: Path) -> None:
    root = ET.parse(write_junit(RUN, tmp_path / "junit.xml")).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    counts = tuple(suite.get(a) for a in ("tests", "failures", "errors", "skipped"))
    assert counts == ("5", "1", "1", "2")
    cases = {tc.get("name"): tc for tc in suite.findall("testcase")}
    assert list(cases) == ["MB-1", "MB-2", "MB-3", "MB-4", "MB-5"]
    props = {p.get("name"): p.get("value") for p in cases["MB-2"].iter("property")}
    assert props == {"clause": "MB-2", "level": "shall", "verdict": "fail", "nodeid": "t.py::test_b",
                     "title": "", "cites": ""}
    failure = cases["MB-2"].find("failure")
    assert failure is not None and failure.get("message") == "AssertionError: got <script>alert(1)</script>"
    assert failure.text is not None and "second line & more" in failure.text
    error = cases["MB-3"].find("error")
    assert error is not None and error.text == "RuntimeError: bytes \\x00\\x1b[31m here"
    skipped = [cases[c].find("skipped") for c in ("MB-4", "MB-5")]
    assert [s.get("type") for s in skipped if s is not None] == ["not_applicable", "inconclusive"]
    assert cases["MB-1"].find("failure") is None and cases["MB-1"].find("skipped") is None
    out = cases["MB-1"].find("system-out")
    assert out is not None and out.text is not None and "000100000006010300000001" in out.text


def test_html_escapes_everything_and_is_self_contained() -> None:
    hostile = RunResult(suite="<b>suite</b>", target='tcp://"x"', started="now", duration=0.0, cases=(
        CaseResult(nodeid="n<1>", clause="<i>C</i>", level="shall", verdict="fail",
                   message="<script>x</script>",
                   evidence=(EvidenceEntry(direction="note", note="<img src=x>"),)),
    ))
    page = render_html(hostile)
    for raw in ("<script>", "<b>suite", "<i>C", "<img", '"x"'):
        assert raw not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page and "&lt;img src=x&gt;" in page
    assert "http" not in page.replace("tcp://", "")  # nothing fetched from elsewhere
    # A clause that did not pass shows its evidence open.
    assert '<span class="v v-fail">fail</span>' in page and "<details open>" in page


def test_html_table_has_every_case() -> None:
    page = render_html(RUN)
    for case in CASES:
        assert f">{case.clause}<" in page
        assert f'class="v v-{case.verdict}">{case.verdict}<' in page
    assert "NOT PASSED" in page


def test_write_reports(tmp_path: Path) -> None:
    paths = write_reports(RUN, tmp_path / "new" / "dir")
    assert [p.name for p in paths] == [*REPORT_FILES, "manifest.json"]  # the evidence bundle's (issue 10)
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)


def test_an_interrupted_run_says_so_in_every_report(tmp_path: Path) -> None:
    not_run = (NotRun(nodeid="t.py::test_f", clause="MB-6", level="shall", title="the sixth rule"),
               NotRun(nodeid="t.py::test_g"))
    run = RunResult(suite="modbus-server", target=None, started="", duration=0.2, cases=CASES[:1],
                    interrupted=True, not_run=not_run)
    assert not run.complete and not run.passed  # one pass of three selected is not a pass
    assert run.incomplete_note == "Interrupted after 1 of 3 clauses — this report is incomplete"
    write_reports(run, tmp_path)

    data = json.loads((tmp_path / "report.json").read_text())
    assert data["complete"] is False and data["interrupted"] is True
    assert data["not_run"][0] == {"nodeid": "t.py::test_f", "clause": "MB-6", "title": "the sixth rule",
                                  "level": "shall"}
    assert read_json(tmp_path / "report.json") == run

    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("skipped") == "2"
    props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
    assert props["complete"] == "false" and props["interrupted"] == "true"
    assert props["incomplete"] == run.incomplete_note
    skipped = suite.findall("testcase/skipped[@type='not_run']")
    assert [s.get("message") for s in skipped] == [f"not run: {run.incomplete_note}"] * 2

    html = (tmp_path / "report.html").read_text()
    assert f'<div class="incomplete" role="alert">{run.incomplete_note}</div>' in html
    assert "modbus-server: INCOMPLETE</h1>" in html and html.count('class="not-run"') == 2


def test_a_report_from_before_the_complete_field_reads_as_complete() -> None:
    data = RUN.to_json_dict()
    for key in ("complete", "interrupted", "not_run"):
        del data[key]
    assert RunResult.from_json_dict(data) == RUN and RUN.complete and RUN.incomplete_note == ""


def test_reports_say_what_was_tested_and_how(tmp_path: Path) -> None:
    from wireproof.harness.report import DeviceInfo, ParameterInfo, ProfileInfo, junit_tree

    run = RunResult(
        suite="modbus-server", target="tcp://192.0.2.7:502", started="2026-12-02T10:00:00+00:00",
        finished="2026-12-02T10:00:20+00:00", duration=20.0,
        cases=(CaseResult(nodeid="t.py::a", clause="MB-1", level="shall", verdict="fail",
                          cites='MB-TCP 3.1.3: "Recopied by the server"',
                          evidence=(EvidenceEntry(direction="sent", hex="0001", connection="connection 1",
                                                  decoded="tid 0x0001: FC 03 <read>"),)),),
        profile=ProfileInfo(source="built-in", path="/x/default-profile.toml", sha256="ab" * 32),
        parameters=(ParameterInfo(name="unit", value="7", default="1", given=True),
                    ParameterInfo(name="response_timeout", value="", default="the profile's", given=False)),
        environment={"wireproof": "0.1.0", "python": "3.11.7", "command": "wireproof certify x"},
        device=DeviceInfo(method="FC 43/14", fields=(("VendorName", "ACME <PLC>"),)))
    write_json(run, tmp_path / "report.json")
    assert read_json(tmp_path / "report.json") == run
    page = render_html(run)
    assert "What was tested and how" in page
    assert "built-in reference profile" in page and "ab" * 32 in page  # said plainly, hashed
    assert '<span class="warn">built-in reference profile, which describes wireproof' in page
    builtin = ProfileInfo(source="built-in", path="/x/default-profile.toml", sha256="ab" * 32,
                          describes_target=True)
    assert ProfileInfo.from_json_dict(builtin.to_json_dict()) == builtin
    own = render_html(dataclasses.replace(run, target="", profile=builtin))
    assert "describes the built-in reference device under test" in own and 'class="warn">built-in' not in own
    assert "unit = 7" in page and "response_timeout: <i>the profile&#x27;s</i>" in page
    assert "ACME &lt;PLC&gt;" in page and "wireproof certify x" in page
    assert "MB-TCP 3.1.3: &quot;Recopied by the server&quot;" in page
    assert "tid 0x0001: FC 03 &lt;read&gt;" in page and "00 01" in page
    props = {p.get("name"): p.get("value") for p in junit_tree(run).getroot().iter("property")}
    assert props["profile_sha256"] == "ab" * 32 and props["device.VendorName"] == "ACME <PLC>"
    assert props["param.unit"] == "7" and props["param.response_timeout"] == "the profile's"
