"""The ``iec104-server`` conformance suite: its profile (the interoperability list), its citations, and
whole runs through ``wireproof certify`` against the reference server and a real c104 (lib60870) server.

Whole runs (``suite_run``) are subprocesses, as a user runs them:

(a) the built-in reference server (the default target, started with the default profile's short
    timers; the spontaneous clauses change its point through its handle): every clause passes;
(b) a c104 2.2.1 server (tests/peers/c104_server_suite.py, its database the reference server's,
    timers t1=4 t2=2 t3=5): every clause's verdict is pinned, each deviation with its reason.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import wireproof.conformance.iec104_server as suite_package
from wireproof.conformance.iec104_server.profile import default_profile, load_profile
from wireproof.errors import FixtureError
from wireproof.harness.commands.certify import pytest_args, run_pytest
from wireproof.harness.suites import suite_path

SUITE = "iec104-server"
PEER = Path(__file__).resolve().parents[1] / "peers" / "c104_server_suite.py"
CERTIFY_TIMEOUT = 300
_REFERENCE = re.compile(r"\bIEC 60870-5-(104|101) (\d+(?:\.\d+)*)")


def certify(report: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "certify", SUITE, "--report", str(report), *args],
        capture_output=True,
        text=True,
        timeout=CERTIFY_TIMEOUT,
        check=False,
    )
    path = report / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.returncode, json.loads(path.read_text()), proc.stdout + proc.stderr


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {case["clause"]: case["verdict"] for case in report["cases"]}


# --------------------------------------------------------------------------- the profile


def test_default_profile_is_the_reference_server() -> None:
    profile = default_profile()
    assert profile.common_address == 1 and (profile.k, profile.w) == (12, 8)
    assert profile.select_required == {5001} and profile.point("single_command_feedback") == 1001
    assert profile.monitor_points()[3201] == 13 and profile.end_of_initialisation


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        ({"stations": {}}, "unknown top-level key"),
        ({"station": {"commonaddress": 1}}, r"\[station\]: unknown key\(s\) commonaddress"),
        ({"station": {"common_address": "1"}}, "station.common_address must be an integer"),
        ({"station": {"end_of_initialisation": 1}}, "station.end_of_initialisation must be true or false"),
        ({"apci": {"t1": 0}}, "apci.t1 must be 0 < seconds"),
        ({"apci": {"t1": 2, "t2": 3}}, "apci.t2 .* must be less than apci.t1"),
        ({"apci": {"k": 4, "w": 8}}, r"apci.w \(8\) must not exceed apci.k"),
        ({"monitor": {"C_SC_NA_1": [1]}}, "monitor.C_SC_NA_1: 'C_SC_NA_1' is not a type identification M_"),
        ({"monitor": {"M_SP_NA_1": [1 << 24]}}, r"monitor.M_SP_NA_1\[\] must be an integer"),
        ({"control": {"types": ["C_XX_NA_1"]}}, r"control.types\[\]: 'C_XX_NA_1'"),
        (
            {"control": {"interrogation_groups": [17]}},
            r"control.interrogation_groups\[\] must be an integer in 1..16",
        ),
        ({"points": {"single_command": -1}}, "points.single_command must be an integer"),
        ({"points": {"feedback": 1}}, r"\[points\]: unknown key\(s\) feedback"),
    ],
)
def test_bad_profiles_are_fixture_errors(doc: dict[str, Any], says: str) -> None:
    with pytest.raises(FixtureError, match=says):
        load_profile(doc)


def test_bad_profile_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[apci]\nk = 'twelve'\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "wireproof",
            "certify",
            SUITE,
            "--profile",
            str(bad),
            "--target",
            "tcp://127.0.0.1:9",
            "--report",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "apci.k" in proc.stderr and not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- citations


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
    code, held = run_pytest(pytest_args(suite_path(SUITE), extra=["--collect-only", "-q"]), [collector])
    assert code == 0 and not collector.errors, "\n".join([held, *collector.errors])
    return collector.markers


def _table() -> dict[str, tuple[str, str]]:
    lines = (suite_package.__doc__ or "").splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("====="))
    rows: dict[str, tuple[str, str]] = {}
    for line in lines[rule + 3 :]:
        if line.startswith("====="):
            break
        rows[line[:12].strip()] = (line[14:20].strip(), line[22:32].strip())
    return rows


def test_at_least_30_clauses_each_citing_104_or_101(markers: dict[str, dict[str, Any]]) -> None:
    assert len(markers) >= 30
    problems = []
    for clause, kwargs in sorted(markers.items()):
        cites = str(kwargs.get("cites", ""))
        if not re.fullmatch(r"IEC104-S-\d{3}", clause):
            problems.append(f"{clause}: not an IEC104-S-NNN id")
        if not _REFERENCE.search(cites) or "604 topic:" not in cites:
            problems.append(f"{clause}: cites {cites!r} names no 104/101 clause or no 604 topic")
        if len(cites) > 220:
            problems.append(f"{clause}: cites is {len(cites)} characters")
    assert not problems, "\n".join(problems)


def test_clause_table_matches_markers(markers: dict[str, dict[str, Any]]) -> None:
    rows = _table()
    assert sorted(rows) == sorted(markers)
    for clause, (level, cites) in rows.items():
        found = _REFERENCE.search(str(markers[clause]["cites"]))
        assert found is not None and level == markers[clause]["level"], clause
        assert cites == f"{found.group(1)} {found.group(2)}", (clause, cites)


# --------------------------------------------------------------------------- whole runs


@pytest.mark.suite_run
def test_reference_server(tmp_path: Path) -> None:
    """The default target: the reference server started by the suite, judged by the default profile."""
    code, report, out = certify(tmp_path)
    assert "reference server, built in" in report["target"], out
    got = verdicts(report)
    assert len(got) >= 30
    not_passed = {c: v for c, v in got.items() if v != "pass"}  # every clause applies to it and passes
    assert not not_passed, f"{not_passed}\n{out}"
    assert code == 0, out


C104_PROFILE = """
[station]
name = "c104 2.2.1 (lib60870-C) server, tests/peers/c104_server_suite.py --t1 4 --t2 2 --t3 5"
common_address = 1
response_timeout = 2.0
max_connections = 2
end_of_initialisation = false   # c104 sends M_EI_NA_1 only when the application calls signal_initialized
[apci]
k = 12
w = 8
t1 = 4
t2 = 2
t3 = 5
[monitor]
M_SP_NA_1 = [1001, 1002, 1003, 1004]
M_DP_NA_1 = [2001, 2002]
M_ME_NA_1 = [3001, 3002]
M_ME_NB_1 = [3101]
M_ME_NC_1 = [3201, 3202]
M_IT_NA_1 = [4001, 4002]
[control]
types = ["C_SC_NA_1", "C_DC_NA_1", "C_SE_NC_1", "C_IC_NA_1", "C_CI_NA_1", "C_RD_NA_1", "C_CS_NA_1",
         "C_TS_TA_1"]
select_required = [5001]
[points]
single_command = 5001
single_command_feedback = 1001
double_command = 5002
double_command_feedback = 2001
setpoint_float = 6001
setpoint_float_feedback = 3201
unused_ioa = 9999
unused_common_address = 2
spontaneous = 1001   # the peer's `change` toggles it
"""

# Where c104 2.2.1 (lib60870-C) deviates, found by this suite, with what it does.
C104_VERDICTS = {
    # An APDU with length octet 3 ("68 03 43 00 00") is taken as a TESTFR act and confirmed: the
    # length below 4 is not refused (104 5.1).
    "IEC104-S-002": "fail",
    # U format control octet 0x03 (no function) is ignored, 0x47 (STARTDT act + TESTFR act) is
    # answered as a TESTFR act (TESTFR con); the connection stays open (104 5.3: exactly one function).
    "IEC104-S-004": "fail",
    "IEC104-S-005": "fail",
    # A direct C_DC_NA_1 / C_SE_NC_1 is confirmed (ACT_CON) but never terminated (no ACT_TERM),
    # though a select/execute C_SC_NA_1 is.
    "IEC104-S-036": "fail",
    "IEC104-S-037": "fail",
    # An ASDU of type id 99 is answered by a negative ACT_CON and then COT 47 (unknown IOA), not by
    # COT 44 (unknown type identification).
    "IEC104-S-038": "fail",
    # COT 46 (unknown common address) and COT 47 (unknown IOA) come with P/N=0: not marked negative.
    "IEC104-S-040": "fail",
    "IEC104-S-041": "fail",
    # The ACT_TERM of an execute (S/E=0) after a select carries S/E=1: it mirrors the select,
    # not the execute it terminates (the ACT_CON of the execute is right).
    "IEC104-S-046": "fail",
    # The list names no interrogation group; c104 sends no end of initialisation on its own.
    "IEC104-S-029": "not_applicable",
    "IEC104-S-042": "not_applicable",
}


class C104Peer:
    """tests/peers/c104_server_suite.py as a subprocess, with a change trigger: a TCP control port on
    127.0.0.1 whose ``change`` line is forwarded to the peer's standard input; the answer is written back
    once the peer said ``changed N`` (the change was sent), so the trigger returns after it, no sleep."""

    def __init__(self, *flags: str) -> None:
        import socket
        import threading

        self.proc = subprocess.Popen(
            [sys.executable, str(PEER), *flags], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None and self.proc.stdin is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout
        line = self.stdout.readline()
        assert line.startswith("listening on "), line
        self.url = "tcp://" + line.split()[-1]
        self.control = socket.create_server(("127.0.0.1", 0))
        self.lock = threading.Lock()
        self.changes = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.control.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                if stream.readline().strip() == b"change":
                    with self.lock:
                        self.stdin.write("change\n")
                        self.stdin.flush()
                        answer = self.stdout.readline()
                        self.changes += 1
                    stream.write(answer.encode())
                    stream.flush()

    def trigger(self, folder: Path) -> str:
        script = folder / "change.py"
        script.write_text(
            "import socket\n"
            f"s = socket.create_connection(('127.0.0.1', {self.control.getsockname()[1]}))\n"
            "s.sendall(b'change\\n')\n"
            "assert s.makefile().readline().startswith('changed')\n"
        )
        return f"{sys.executable} {script}"

    def stop(self) -> None:
        self.control.close()
        self.stdin.write("quit\n")
        self.stdin.close()
        assert self.proc.wait(timeout=30) == 0
        self.stdout.close()


@pytest.fixture
def c104_server() -> Any:
    pytest.importorskip("c104", reason="c104 (lib60870) is not installed")
    peer = C104Peer("--t1", "4", "--t2", "2", "--t3", "5")
    yield peer
    peer.stop()


@pytest.mark.suite_run
def test_c104_server(c104_server: C104Peer, tmp_path: Path) -> None:
    profile = tmp_path / "c104.toml"
    profile.write_text(C104_PROFILE)
    code, report, out = certify(
        tmp_path / "report",
        "--target",
        c104_server.url,
        "--profile",
        str(profile),
        "--param",
        f"change_trigger={c104_server.trigger(tmp_path)}",
    )
    got = verdicts(report)
    assert len(got) >= 30
    moved = {c: v for c, v in got.items() if v != C104_VERDICTS.get(c, "pass")}
    assert not moved, f"verdicts moved: {moved}\n{out}"
    assert code == 1, out
    assert c104_server.changes == 2  # IEC104-S-047 and -048
    for case in report["cases"]:
        if case["verdict"] in ("pass", "fail") and case["clause"] != "IEC104-S-010":  # S-010 only listens
            assert any(e["direction"] == "sent" and e["decoded"] for e in case["evidence"]), case["clause"]


# --------------------------------------------------------------------------- the probe connection


class _Scripted:
    """A loopback TCP peer that sends ``script`` once connected and keeps what it receives until closed."""

    def __init__(self, script: bytes, *, close: bool = False) -> None:
        import socket
        import threading

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.received = bytearray()
        self.done = threading.Event()

        def serve() -> None:
            conn, _ = self.sock.accept()
            self.sock.close()
            with conn:
                conn.sendall(script)
                if close:
                    self.done.set()
                    return
                while chunk := conn.recv(4096):
                    self.received += chunk
            self.done.set()

        threading.Thread(target=serve, daemon=True).start()


def _i(ns: int, nr: int, asdu: bytes) -> bytes:
    return bytes((0x68, len(asdu) + 4, (ns << 1) & 0xFE, ns >> 7, (nr << 1) & 0xFE, nr >> 7)) + asdu


SP_1001 = bytes((1, 1, 3, 0, 1, 0, 0xE9, 0x03, 0, 1))  # M_SP_NA_1 spontaneous CA 1 IOA 1001 ON


def test_connection_acknowledges_after_w_and_answers_testfr() -> None:
    from wireproof.conformance.iec104_server._connection import Connection

    peer = _Scripted(b"".join(_i(n, 0, SP_1001) for n in range(3)) + bytes((0x68, 4, 0x43, 0, 0, 0)))
    conn = Connection(peer.url, timeout=2.0, w=2)
    assert conn.wait_for(lambda: conn.iframes_received == 3 and len(conn.uframes) == 1)
    conn.close()
    assert peer.done.wait(5)
    # one S frame N(R)=2 after w=2 I frames, then TESTFR con
    assert bytes(peer.received) == bytes((0x68, 4, 1, 0, 4, 0)) + bytes((0x68, 4, 0x83, 0, 0, 0))
    assert not conn.sequence_errors and conn.unacknowledged == 1
    assert [a.objects[0].address for _, a in conn.asdus] == [1001] * 3


def test_connection_records_sequence_and_acknowledgement_errors() -> None:
    from wireproof.conformance.iec104_server._connection import Connection, ConnectionClosed, describe

    peer = _Scripted(_i(0, 0, SP_1001) + _i(2, 5, SP_1001), close=True)
    conn = Connection(peer.url, timeout=2.0)
    with pytest.raises(ConnectionClosed):
        conn.listen(2.0)
    assert conn.closed and conn.closes_within(0.1)
    assert conn.sequence_errors == ["I frame N(S)=2, expected 1"]
    assert conn.ack_errors and "N(R)=5" in conn.ack_errors[0]
    want = "I N(S)=2 N(R)=5 | M_SP_NA_1 SPONTANEOUS CA 1: IOA 1001 value=True, quality=0"
    assert describe(_i(2, 5, SP_1001)) == want
    assert "not a valid APDU" in describe(bytes((0x68, 4, 0x03, 0, 0, 0)))


def test_connection_acknowledges_within_its_t2() -> None:
    from wireproof.conformance.iec104_server._connection import Connection

    peer = _Scripted(_i(0, 0, SP_1001))
    conn = Connection(peer.url, timeout=2.0)
    conn.ack_delay = 0.2
    conn.listen(0.6)
    assert conn.unacknowledged == 0
    conn.close()
    assert peer.done.wait(5)
    assert bytes(peer.received) == bytes((0x68, 4, 1, 0, 2, 0))  # one S frame, N(R)=1
