"""The ``dnp3-master`` conformance suite, run end to end through ``wireproof certify --command``.

wireproof plays the outstation; the master under test is a real peer
started by the suite for each clause (tests/peers/dnp3_master.py, the
yadnp3 = opendnp3 master and the dnp3py master). Each run is a subprocess
(``python -m wireproof certify dnp3-master ...``) as a user runs it, so the
suite's pytest session is isolated from this one. Every verdict is pinned
per clause and per peer; each deviation has a comment saying what the peer
does (found by this suite, checked against the evidence), so a change in a
peer or in a clause is noticed. The peers' runs also prove the clauses can
fail. The default (no ``--command``, no ``--bind``) is the built-in
reference master, pinned the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.peers import dnp3_peers

CERTIFY_TIMEOUT = 600
RUNNER = str(dnp3_peers.MASTER)
ALL = {f"DNP3-M-{n:03d}" for n in range(1, 32)}


def certify(report: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run ``wireproof certify dnp3-master``; (exit code, report.json, stdout and stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "certify", "dnp3-master", "--report", str(report), *args],
        capture_output=True, text=True, timeout=CERTIFY_TIMEOUT, check=False)
    path = report / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.returncode, json.loads(path.read_text()), proc.stdout + proc.stderr


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {case["clause"]: case["verdict"] for case in report["cases"]}


def messages(report: dict[str, Any]) -> dict[str, str]:
    return {case["clause"]: case["message"] for case in report["cases"]}


def need(impl: str) -> None:
    reason = dnp3_peers.missing(impl)
    if reason is not None:
        pytest.skip(reason)


# --------------------------------------------------------------------------- yadnp3 (opendnp3 3.x master)

# The runner keeps the master connected (its last step, `wait`, reads a line from the stdin the suite
# holds open) and configures start-up unsolicited handling and non-LAN time sync.
YADNP3_COMMAND = (f"{{python}} {RUNNER} --impl yadnp3 --target {{url}} --script integrity,events,wait "
                  "--unsolicited --timesync nonlan")
YADNP3_FAIL = {
    # opendnp3's MasterParams.eventScanOnEventsAvailableClassMask defaults to ClassField::None() (and
    # the yadnp3 binding does not expose it): IIN1.1 in a response starts no event poll. The master
    # confirms the unsolicited response and reads nothing.
    "DNP3-M-017",
}
YADNP3_NA = {
    "DNP3-M-024",  # no RESET LINK STATES: opendnp3 masters send UNCONFIRMED USER DATA by default
    "DNP3-M-025",  # ... so no CONFIRMED USER DATA either
    "DNP3-M-026",  # the runner's script operates no control (crob-sbo would: see the dnp3py run)
}


@pytest.mark.peer
@pytest.mark.suite_run
def test_yadnp3_master_verdicts_are_pinned(tmp_path: Path) -> None:
    need("yadnp3")
    code, report, out = certify(tmp_path / "report", "--command", YADNP3_COMMAND)
    got = verdicts(report)
    assert set(got) == ALL, out
    assert {c for c, v in got.items() if v == "fail"} == YADNP3_FAIL, out
    assert {c for c, v in got.items() if v == "not_applicable"} == YADNP3_NA, out
    assert {c for c, v in got.items() if v == "pass"} == ALL - YADNP3_FAIL - YADNP3_NA, out
    assert code == 1, out
    assert "did not read class 1" in messages(report)["DNP3-M-017"]
    assert report["target"].startswith("tcp://127.0.0.1:") and "--impl yadnp3" in report["target"]
    # One evidence entry per link frame, each with the decoded view; the master's output as a note.
    case = next(c for c in report["cases"] if c["clause"] == "DNP3-M-010")
    frames = [e for e in case["evidence"] if e["direction"] in ("sent", "received")]
    assert frames and all(e["hex"].startswith("0564") and e.get("decoded") for e in frames)
    assert any("CONFIRM seq" in e["decoded"] for e in frames)
    assert any(e["direction"] == "note" and "master process ended" in e["note"] for e in case["evidence"])
    for name in ("report.json", "junit.xml", "report.html", "manifest.json"):
        assert (tmp_path / "report" / name).is_file(), name


# --------------------------------------------------------------------------- dnp3py (pure Python master)

# dnp3py's MasterTcpRunner does nothing on connect; the runner enables unsolicited responses, polls,
# operates a CROB by select-before-operate, listens for unsolicited responses (`unsol`) and then waits.
DNP3PY_COMMAND = (f"{{python}} {RUNNER} --impl dnp3py --target {{url}} "
                  "--script integrity,events,crob-sbo,unsol,wait --unsolicited")
DNP3PY_FAIL = {
    # The runner sends ENABLE UNSOLICITED first, with no DISABLE before and before any integrity poll:
    # dnp3py has no start-up sequence of its own (the runner's order is the library's only one).
    "DNP3-M-003",
    "DNP3-M-004",
    # dnp3py never writes g80v1: IIN1.7 stays set (it reports the IIN, it does not act on it), at
    # start-up and when a later unsolicited response carries it.
    "DNP3-M-005",
    "DNP3-M-006",
    # No time write on IIN1.4: dnp3py builds DELAY MEASURE only, never a g50 write.
    "DNP3-M-007",
    # IIN1.1 starts no event poll; IIN2.3 (event buffer overflow) no integrity poll.
    "DNP3-M-017",
    "DNP3-M-028",
    # dnp3py reads the connection only while a request or listen_unsolicited() is awaited: once the
    # runner's `unsol` step has had its one unsolicited response nobody reads, so the same response sent
    # again (as after a lost confirm) is never confirmed.
    "DNP3-M-027",
    # A withheld answer: MasterTcpRunner.request raises ResponseTimeoutError and does not ask again
    # (the runner then ends).
    "DNP3-M-020",
}
DNP3PY_NA = {
    "DNP3-M-008",  # no time written (DNP3-M-007)
    "DNP3-M-009",
    "DNP3-M-030",
    "DNP3-M-025",  # RESET LINK STATES, then UNCONFIRMED USER DATA: no CONFIRMED USER DATA
}


@pytest.mark.peer
@pytest.mark.suite_run
def test_dnp3py_master_verdicts_are_pinned(tmp_path: Path) -> None:
    need("dnp3py")
    # poll_timeout 6: the clauses dnp3py fails wait for something it never does.
    code, report, out = certify(tmp_path / "report", "--command", DNP3PY_COMMAND, "--param", "poll_timeout=6")
    got = verdicts(report)
    assert set(got) == ALL, out
    assert {c for c, v in got.items() if v == "fail"} == DNP3PY_FAIL, out
    assert {c for c, v in got.items() if v == "not_applicable"} == DNP3PY_NA, out
    assert {c for c, v in got.items() if v == "pass"} == ALL - DNP3PY_FAIL - DNP3PY_NA, out
    assert code == 1, out
    said = messages(report)
    assert "never wrote g80v1" in said["DNP3-M-005"]
    assert "sent no DISABLE UNSOLICITED" in said["DNP3-M-003"]
    # dnp3py drops the wrong-sequence answer ("Dropping response fragment with sequence ...") and
    # neither confirms it nor goes on: DNP3-M-019 passes, with that in the evidence.
    case = next(c for c in report["cases"] if c["clause"] == "DNP3-M-019")
    assert any("discarded it" in e.get("note", "") for e in case["evidence"])


# --------------------------------------------------------------------------- the default: reference master

# wireproof's own master (wireproof.codecs.dnp3.master driven by `simulate dnp3-master --unsolicited
# --operate crob:0:LATCH_ON`, the suite's default command).
REFERENCE_FAIL: set[str] = set()  # 020 (re-issue after a timeout) and 028 (integrity poll on IIN2.3)
# failed until the master learnt both (Dnp3Master._retry_integrity, _indications)
REFERENCE_NA = {
    "DNP3-M-024",  # UNCONFIRMED USER DATA only: no link reset
    "DNP3-M-025",  # ... and no CONFIRMED USER DATA
}


@pytest.mark.suite_run
def test_default_is_the_reference_master(tmp_path: Path) -> None:
    code, report, out = certify(tmp_path / "report")
    assert "the built-in reference client" in out
    got = verdicts(report)
    assert set(got) == ALL, out
    assert {c for c, v in got.items() if v == "fail"} == REFERENCE_FAIL, out
    assert {c for c, v in got.items() if v == "not_applicable"} == REFERENCE_NA, out
    assert {c for c, v in got.items() if v == "pass"} == ALL - REFERENCE_FAIL - REFERENCE_NA, out
    assert code == 0, out
    assert "simulate dnp3-master" in report["target"], report["target"]


def test_reference_master_on_a_confirmed_link(tmp_path: Path) -> None:
    """With ``--link-confirmed`` the reference master resets the link and sends CONFIRMED USER DATA:
    the link clauses apply, and the station's link ACKs keep the application clauses working."""
    link = ("DNP3-M-022", "DNP3-M-023", "DNP3-M-024", "DNP3-M-025", "DNP3-M-010", "DNP3-M-015")
    code, report, out = certify(tmp_path / "report", "--command",
                                "{python} -m wireproof simulate dnp3-master --target {url} --unsolicited "
                                "--link-confirmed", "-k", " or ".join(link))
    assert verdicts(report) == dict.fromkeys(link, "pass"), out
    assert code == 0, out
