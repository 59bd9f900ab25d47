"""The pytest plugin: marker validation, verdicts, user_properties, evidence, reports (also under xdist)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.plugin import (
    PROP_CLAUSE,
    PROP_EVIDENCE,
    PROP_LEVEL,
    PROP_MESSAGE,
    PROP_VERDICT,
    EvidenceRecorder,
)

FAKE_SUITE = '''
import pytest
from wireproof.errors import DecodeError, LocalProtocolError, ProtocolViolation
from wireproof.harness.plugin import inconclusive, not_applicable

@pytest.fixture
def broken_fixture():
    raise AssertionError("fixture could not connect")

@pytest.mark.conformance(clause="FAKE-001", level="shall")
def test_pass(evidence, wireproof_target, wireproof_unit, wireproof_options, wireproof_profile):
    evidence.sent(b"\\x00\\x01", note="request <b>")
    evidence.tap("rx", b"\\xff")
    evidence.note("done & dusted")
    evidence.tap("sideways", b"")

@pytest.mark.conformance(clause="FAKE-002", level="shall")
def test_fail_assert():
    """The device echoes
    the request.

    Details that are not the title."""
    assert 1 == 2, "device said <script>"

@pytest.mark.conformance(clause="FAKE-003", level="should")
def test_fail_violation():
    raise ProtocolViolation("transaction id not echoed", clause="FAKE-003")

@pytest.mark.conformance(clause="FAKE-004", level="shall")
def test_fail_decode():
    raise DecodeError("modbus-tcp", ("pdu",), 3, "bad function code")

@pytest.mark.conformance(clause="FAKE-005", level="shall")
def test_error():
    raise RuntimeError("harness bug")

@pytest.mark.conformance(clause="FAKE-006", level="may")
def test_not_applicable():
    not_applicable("profile excludes FC 23")

@pytest.mark.conformance(clause="FAKE-007", level="should")
def test_inconclusive():
    inconclusive("no answer to compare")

@pytest.mark.conformance(clause="FAKE-008", level="shall")
def test_setup_error(broken_fixture):
    pass

@pytest.mark.conformance(clause="FAKE-009", level="shall")
def test_plain_skip():
    pytest.skip("peer absent")

@pytest.mark.conformance(clause="FAKE-010", level="shall")
def test_local_violation():
    raise LocalProtocolError("we may not send that")

def test_unmarked():
    pass
'''

EXPECTED = {
    "FAKE-001": "pass", "FAKE-002": "fail", "FAKE-003": "fail", "FAKE-004": "fail", "FAKE-005": "error",
    "FAKE-006": "not_applicable", "FAKE-007": "inconclusive", "FAKE-008": "error", "FAKE-009": "inconclusive",
    "FAKE-010": "error",
}
SUMMARY = {"pass": 1, "fail": 3, "error": 3, "not_applicable": 1, "inconclusive": 2, "total": 10}


@pytest.fixture(autouse=True)
def _fast_inner_runs(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hypothesis' plugin costs about a second per pytest session; these inner runs never need it.
    monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:hypothesispytest")


def final_properties(reprec: Any) -> dict[str, dict[str, Any]]:
    """clause -> the wireproof properties on each test's teardown report."""
    out = {}
    for rep in reprec.getreports("pytest_runtest_logreport"):
        props = dict(rep.user_properties)
        if rep.when == "teardown" and PROP_CLAUSE in props:
            out[props[PROP_CLAUSE]] = props
    return out


def test_verdicts_and_user_properties(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fake=FAKE_SUITE)
    reprec = pytester.inline_run()
    props = final_properties(reprec)
    assert {clause: p[PROP_VERDICT] for clause, p in props.items()} == EXPECTED
    assert props["FAKE-003"][PROP_LEVEL] == "should"
    assert props["FAKE-002"]["wireproof.title"] == "The device echoes the request."
    assert props["FAKE-003"]["wireproof.title"] == ""
    assert "transaction id not echoed" in props["FAKE-003"][PROP_MESSAGE]
    assert props["FAKE-002"][PROP_MESSAGE].startswith("AssertionError: device said <script>")
    assert props["FAKE-006"][PROP_MESSAGE] == "profile excludes FC 23"
    assert props["FAKE-008"][PROP_MESSAGE].startswith("setup: AssertionError: fixture could not connect")
    assert props["FAKE-009"][PROP_MESSAGE] == "skipped: peer absent"
    recorded = json.loads(props["FAKE-001"][PROP_EVIDENCE])
    assert recorded["started"] > 1.7e9  # the wall clock the entries' t count from
    evidence = recorded["entries"]
    assert [(e["direction"], e["hex"], e["note"]) for e in evidence] == [
        ("sent", "0001", "request <b>"), ("received", "ff", ""), ("note", "", "done & dusted"),
        ("sideways", "", ""),
    ]
    assert all(isinstance(e["t"], float) and e["t"] >= 0 for e in evidence)
    assert PROP_EVIDENCE not in props["FAKE-002"]
    # The call report already carries the verdict (pytest's --junitxml reads the teardown one).
    call = [r for r in reprec.getreports("pytest_runtest_logreport")
            if r.when == "call" and r.nodeid.endswith("test_fail_assert")]
    assert dict(call[0].user_properties)[PROP_VERDICT] == "fail"
    unmarked = [r for r in reprec.getreports("pytest_runtest_logreport")
                if r.nodeid.endswith("test_unmarked")]
    assert unmarked and all(r.user_properties == [] for r in unmarked)


def test_teardown_failure_turns_pass_into_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_td='''
import pytest

@pytest.fixture
def leaky():
    yield
    raise OSError("socket would not close")

@pytest.mark.conformance(clause="TD-1", level="shall")
def test_ok(leaky):
    pass

@pytest.mark.conformance(clause="TD-2", level="shall")
def test_fails(leaky):
    assert False, "device wrong"
''')
    props = final_properties(pytester.inline_run())
    assert props["TD-1"][PROP_VERDICT] == "error"
    assert props["TD-1"][PROP_MESSAGE].startswith("teardown: OSError: socket would not close")
    assert props["TD-2"][PROP_VERDICT] == "fail"
    assert "device wrong" in props["TD-2"][PROP_MESSAGE]
    assert "socket would not close" in props["TD-2"][PROP_MESSAGE]


@pytest.mark.parametrize(("marker", "problem"), [
    ('clause="", level="shall"', "clause must be a non-empty string"),
    ('clause=7, level="shall"', "clause must be a non-empty string"),
    ('clause="X-1", level="must"', "level must be one of shall, should, may"),
    ('clause="X-1"', "level must be one of"),
    ('"X-1", "shall"', "takes keyword arguments only"),
    ('clause="X-1", level="may", lvl="x"', "unknown argument(s) lvl"),
    ('clause="X-1", level="may", title=""', "title must be a non-empty string"),
    ('clause="X-1", level="may", title=3', "title must be a non-empty string"),
])
def test_bad_marker_is_a_collection_error(pytester: pytest.Pytester, marker: str, problem: str) -> None:
    pytester.makepyfile(test_bad=f'''
import pytest

@pytest.mark.conformance({marker})
def test_x():
    pass

def test_other():
    pass
''')
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*ERROR collecting test_bad.py*",
                                 f"*test_bad.py::test_x: invalid @pytest.mark.conformance: {problem}*"])


def test_class_marker_applies_and_is_validated(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cls='''
import pytest

@pytest.mark.conformance(clause="C-1", level="should")
class TestC:
    def test_a(self):
        pass

@pytest.mark.conformance(clause="C-2", level="often")
class TestBad:
    def test_b(self):
        pass
''')
    result = pytester.runpytest()
    result.stdout.fnmatch_lines(["*TestBad::test_b: invalid @pytest.mark.conformance: level must be*"])
    assert result.ret == pytest.ExitCode.INTERRUPTED


PARAMETRIZED_CLAUSES = '''
import pytest

@pytest.mark.parametrize("n", [
    pytest.param(1, marks=pytest.mark.conformance(clause="P-001", level="shall", title="One is odd."),
                 id="P-001"),
    pytest.param(2, marks=pytest.mark.conformance(clause="P-002", level="should", title="Two is odd."),
                 id="P-002"),
    pytest.param(3, marks=pytest.mark.conformance(clause="P-003", level="may"), id="P-003"),
])
def test_odd(n):
    """The docstring's summary, for a clause whose marker has no title.

    Not part of the title."""
    assert n % 2, f"{n} is even"
'''


def test_parametrized_clauses_keep_their_own_id_title_and_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_param=PARAMETRIZED_CLAUSES)
    props = final_properties(pytester.inline_run())
    assert {c: (p[PROP_LEVEL], p["wireproof.title"], p[PROP_VERDICT]) for c, p in props.items()} == {
        "P-001": ("shall", "One is odd.", "pass"),
        "P-002": ("should", "Two is odd.", "fail"),
        "P-003": ("may", "The docstring's summary, for a clause whose marker has no title.", "pass"),
    }
    assert "2 is even" in props["P-002"][PROP_MESSAGE]
    assert set(final_properties(pytester.inline_run("-k", "P-002"))) == {"P-002"}


def test_fixtures_see_the_options(pytester: pytest.Pytester) -> None:
    profile = pytester.path / "profile.toml"
    profile.write_text('supported_fcs = [1, 3]\n[ranges]\nholding = [0, 99]\n')
    pytester.makepyfile(test_opts='''
def test_opts(wireproof_target, wireproof_profile, wireproof_options, wireproof_unit):
    assert wireproof_target == "tcp://127.0.0.1:1502"
    assert wireproof_profile == {"supported_fcs": [1, 3], "ranges": {"holding": [0, 99]}}
    assert wireproof_options == {"framing": "rtu", "x": "a=b"}
    assert wireproof_unit == 17

def test_defaults_only_when_unset(pytestconfig):
    assert pytestconfig.getoption("wireproof_report") is None
''')
    result = pytester.runpytest("--wireproof-target", "tcp://127.0.0.1:1502", "--wireproof-profile",
                                str(profile), "--wireproof-option", "framing=rtu", "--wireproof-option",
                                "x=a=b", "--wireproof-unit", "17")
    result.assert_outcomes(passed=2)


def test_fixture_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_defaults='''
def test_defaults(wireproof_target, wireproof_profile, wireproof_options, wireproof_unit):
    assert (wireproof_target, wireproof_profile, wireproof_options, wireproof_unit) == (None, None, {}, 1)
''')
    pytester.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(("args", "message"), [
    (["--wireproof-option", "novalue"], "*--wireproof-option 'novalue': expected KEY=VALUE*"),
    (["--wireproof-unit", "256"], "*--wireproof-unit 256: a unit identifier is 0..255*"),
    (["--wireproof-profile", "missing.toml"], "*--wireproof-profile missing.toml:*"),
])
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    pytester.makepyfile(test_nothing="def test_n():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_profile_toml_is_a_usage_error(pytester: pytest.Pytester) -> None:
    (pytester.path / "p.toml").write_text("this is = = not toml\n")
    result = pytester.runpytest("--wireproof-profile", "p.toml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--wireproof-profile p.toml: not valid TOML*"])


def check_reports(directory: Path, *, suite: str) -> dict[str, Any]:
    report = json.loads((directory / "report.json").read_text())
    assert report["schema"] == "wireproof.report/1"
    assert report["suite"] == suite
    assert report["summary"] == SUMMARY
    assert report["complete"] is True and report["not_run"] == [], report["not_run"]
    assert {c["clause"]: c["verdict"] for c in report["cases"]} == EXPECTED
    assert [c["clause"] for c in report["cases"]] == sorted(EXPECTED)
    case = next(c for c in report["cases"] if c["clause"] == "FAKE-001")
    assert set(case) == {"nodeid", "clause", "title", "level", "verdict", "duration", "message", "evidence",
                         "started", "cites"}
    assert case["nodeid"] == "test_fake.py::test_pass"
    assert case["evidence"][0] == {"direction": "sent", "hex": "0001", "note": "request <b>",
                                   "t": case["evidence"][0]["t"], "connection": "", "decoded": "",
                                   "local": "", "remote": ""}
    suite_el = ET.parse(directory / "junit.xml").getroot().find("testsuite")
    assert suite_el is not None and suite_el.get("tests") == "10" and suite_el.get("failures") == "3"
    assert len(suite_el.findall("testcase")) == 10
    html = (directory / "report.html").read_text()
    assert "device said &lt;script&gt;" in html and "<script>" not in html
    return report


def test_reports_written(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fake=FAKE_SUITE)
    out = pytester.path / "out"
    result = pytester.runpytest("--wireproof-report", str(out), "--wireproof-suite", "fake",
                                "--wireproof-target", "tcp://127.0.0.1:9")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    report = check_reports(out, suite="fake")
    assert report["target"] == "tcp://127.0.0.1:9"
    assert report["duration"] > 0 and report["started"].endswith("+00:00")


def test_reports_under_xdist_written_once_by_the_controller(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fake=FAKE_SUITE)
    # A conftest that fails loudly if a worker ever gets the report writer.
    pytester.makeconftest('''
def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        assert not session.config.pluginmanager.has_plugin("wireproof-report")
''')
    out = pytester.path / "out"
    result = pytester.runpytest("-n", "2", "--wireproof-report", str(out), "--junitxml", "pytest-junit.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    report = check_reports(out, suite=pytester.path.name)
    assert report["target"] is None
    # The properties also reach pytest's own JUnit XML through xdist.
    junit = ET.parse(pytester.path / "pytest-junit.xml").getroot()
    case = junit.find(".//testcase[@name='test_fail_violation']")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert (props[PROP_CLAUSE], props[PROP_LEVEL], props[PROP_VERDICT]) == ("FAKE-003", "should", "fail")


def test_collect_only_writes_no_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fake=FAKE_SUITE)
    out = pytester.path / "out"
    pytester.runpytest("--collect-only", "--wireproof-report", str(out))
    assert not out.exists()


def test_collection_error_is_an_error_case(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken="import nonexistent_module_xyz\n")
    out = pytester.path / "out"
    pytester.runpytest("--wireproof-report", str(out))
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["error"] == 1
    assert "nonexistent_module_xyz" in report["cases"][0]["message"]


def test_evidence_recorder_tap_and_clock() -> None:
    ticks = iter([10.0, 10.5, 11.25])
    rec = EvidenceRecorder(clock=lambda: next(ticks), wall_clock=lambda: 1.8e9)
    rec.tap("TX", b"\x01\x02")
    rec.received(b"\x03", note="reply", connection="connection 1", decoded="FC 03 response")
    assert rec.entries == [{"direction": "sent", "hex": "0102", "note": "", "t": 0.5},
                           {"direction": "received", "hex": "03", "note": "reply", "t": 1.25,
                            "connection": "connection 1", "decoded": "FC 03 response"}]
    assert json.loads(rec.to_json()) == {"started": 1.8e9, "entries": rec.entries}


def test_plugin_module_is_import_light() -> None:
    import subprocess
    import sys

    code = ("import sys; import wireproof.harness.plugin; "
            "heavy = [m for m in ('wireproof.harness.report', 'xml.etree.ElementTree', 'tomllib', "
            "'wireproof.codecs', 'construct') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_k_selects_by_clause_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fake=FAKE_SUITE)
    reprec = pytester.inline_run("-k", "FAKE-003 or FAKE-006")
    assert sorted(final_properties(reprec)) == ["FAKE-003", "FAKE-006"]


NOISY = '''
import pytest

@pytest.mark.conformance(clause="N-1", level="shall")
def test_msg():
    assert [1, 2, 3] == [1, 2, 4], "device answered the wrong registers"

@pytest.mark.conformance(clause="N-2", level="shall")
def test_nomsg():
    assert [1, 2, 3] == [1, 2, 4]
'''


def test_pytest_assertion_noise_never_reaches_a_report(pytester: pytest.Pytester) -> None:
    """Issue 10: a clause's own message is its reason; pytest's rewrite and terminal advice are left out."""
    pytester.makepyfile(test_noisy=NOISY)
    out = pytester.path / "out"
    pytester.runpytest("--wireproof-report", str(out)).assert_outcomes(failed=2)
    messages = {c["clause"]: c["message"] for c in json.loads((out / "report.json").read_text())["cases"]}
    assert messages["N-1"] == "AssertionError: device answered the wrong registers"
    assert messages["N-2"].startswith("AssertionError: assert [1, 2, 3] == [1, 2, 4]")
    assert "At index 2 diff: 3 != 4" in messages["N-2"]  # a bare assert keeps the comparison
    assert not any("Use -v" in m or "Full diff" in m for m in messages.values())
