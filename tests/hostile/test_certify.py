"""Hostile targets for ``wireproof certify modbus-server`` (issue 9, "False verdicts").

Devices written here, each a loopback TCP server on 127.0.0.1:0 that does
one hostile thing on every connection:

- ``reset-on-accept``: accepts and resets at once (SO_LINGER 0, then close);
- ``close-on-accept``: accepts and closes cleanly (FIN first, then it reads
  and discards whatever comes, so the close stays clean: no RST);
- ``reset-after-request``: reads one whole request ADU, then resets;
- ``reset-after-half-answer``: reads one request, sends the first 5 bytes of
  an answer, then resets.

What must hold: a device's reset or close is the device's behaviour, so every
clause is ``fail`` (never ``error``) with a reason that says what the device
did; and the same device gives the same verdict *and the same reason* per
clause on every run, whichever call of the harness happened to notice the
reset (the race that made the split between fail and error change between
runs). A target that is not there is one error line and exit 2, not forty
verdicts. Then answers that are garbage (an MBAP length of 39,985, wrong
protocol or transaction id, length 0/1, trailing bytes, an answer that never
ends, endless streams): each gets a precise reason, "no response" only for
silence, and reading stays bounded. Last, Ctrl-C: a real subprocess gets
SIGINT once the device has seen a number of requests, and must write its
reports marked incomplete and exit 130.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from wireproof.codecs.modbus.messages import ReadHoldingRegistersRequest
from wireproof.conformance.modbus_server._connection import Connection, NoResponse
from wireproof.errors import RemoteProtocolError
from wireproof.harness.exitcodes import FAIL, INTERRUPTED, USAGE
from wireproof.harness.modbus_client import BlockingModbusClient
from wireproof.harness.simulators.modbus_server import running_server

RUN_TIMEOUT = 240
WAIT = 30.0  # seconds an event may take before the test gives up (never a sleep)

Behaviour = Callable[[socket.socket, "Device"], None]


# --------------------------------------------------------------------------- hostile devices

def _reset(conn: socket.socket) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _read_adu(conn: socket.socket) -> bytes:
    """One whole request ADU, by its MBAP length; b"" if the client goes first."""
    data = b""
    while len(data) < 6 or len(data) < 6 + int.from_bytes(data[4:6], "big"):
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        data += chunk
    return data


def _drain(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            pass


class Device:
    """A TCP server on 127.0.0.1:0 running ``behaviour`` on every accepted connection, on threads."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests = 0
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def counted(self, data: bytes) -> bytes:
        with self._lock:
            self.requests += 1
        return data

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behaviour(conn, self)
        with contextlib.suppress(OSError):
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() (Linux)
        self.listener.close()
        self._accepting.join(WAIT)


def reset_on_accept(conn: socket.socket, device: Device) -> None:
    _reset(conn)


def close_on_accept(conn: socket.socket, device: Device) -> None:
    conn.shutdown(socket.SHUT_WR)  # FIN now; reading on keeps unread bytes from turning close into RST
    _drain(conn)


def reset_after_request(conn: socket.socket, device: Device) -> None:
    device.counted(_read_adu(conn))
    _reset(conn)


def reset_after_half_answer(conn: socket.socket, device: Device) -> None:
    request = device.counted(_read_adu(conn))
    answer = request[:2] + bytes.fromhex("0000 0005 01 03 02 0000")
    conn.sendall(answer[:5])
    _reset(conn)


HOSTILE: dict[str, tuple[Behaviour, str]] = {
    # device -> (behaviour, the words every clause's reason must contain)
    "reset-on-accept": (reset_on_accept, "connection reset by the device after"),
    "close-on-accept": (close_on_accept, "connection closed by the device after"),
    "reset-after-request": (reset_after_request, "connection reset by the device after"),
    "reset-after-half-answer": (reset_after_half_answer, "after 5 bytes of an answer"),
}


@contextlib.contextmanager
def device(behaviour: Behaviour) -> Iterator[Device]:
    dev = Device(behaviour)
    try:
        yield dev
    finally:
        dev.close()


def certify(report: Path, *args: str) -> tuple[int, str, str]:
    argv = [sys.executable, "-m", "wireproof", "certify", "modbus-server", "--report", str(report), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    return proc.returncode, proc.stdout, proc.stderr


def outcomes(report: Path) -> dict[str, tuple[str, str]]:
    """Each clause's verdict and reason (no timings: those differ between runs)."""
    data = json.loads((report / "report.json").read_text())
    return {case["clause"]: (case["verdict"], case["message"]) for case in data["cases"]}


# --------------------------------------------------------------------------- resets and closes

@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_device_that_drops_every_connection_fails_every_clause_the_same_way_twice(
        name: str, tmp_path: Path) -> None:
    behaviour, words = HOSTILE[name]
    runs = []
    with device(behaviour) as dev:
        for i in (1, 2):
            code, out, err = certify(tmp_path / f"run{i}", "--target", dev.url)
            assert code == FAIL, f"{name}: exit {code}\n{out}\n{err}"
            runs.append(outcomes(tmp_path / f"run{i}"))
    first, second = runs
    assert len(first) >= 40
    # Closing the connection is an allowed way to reject a malformed ADU (the service clauses
    # after them fail: no new connection is served); a clause whose setup read the device drops
    # is inconclusive naming the step (its rule was never tested); every other clause fails.
    rejections = {"MB-TCP-005", "MB-TCP-006", "MB-TCP-007"}
    assert {c for c, (v, _) in first.items() if v == "pass"} == rejections, first
    setups = {c for c, (v, r) in first.items() if v == "inconclusive" and r.startswith("setup step failed")}
    assert setups == {"MB-AP-011", "MB-AP-012", "MB-AP-013", "MB-AP-016", "MB-AP-018", "MB-AP-021"}, first
    errors = {clause: reason for clause, (verdict, reason) in first.items()
              if verdict != "fail" and clause not in rejections | setups}
    assert not errors, f"{name}: a drop by the device is its behaviour, a fail: {errors}"
    vague = {clause: reason for clause, (_, reason) in first.items()
             if words not in reason and clause not in rejections}
    assert not vague, f"{name}: reasons must say what the device did ({words!r}): {vague}"
    differ = {clause: (first[clause], second.get(clause))
              for clause in first if first[clause] != second.get(clause)}
    assert not differ, f"{name}: the same device gave other verdicts or reasons on the second run: {differ}"


def test_the_reason_names_the_request_the_device_dropped(tmp_path: Path) -> None:
    with device(reset_after_request) as dev:
        code, _, _ = certify(tmp_path, "--target", dev.url, "-k", "MB-TCP-001")
    assert code == FAIL
    verdict, reason = outcomes(tmp_path)["MB-TCP-001"]
    assert verdict == "fail"
    assert reason == ("ConnectionClosed: [connection 1] connection reset by the device after 12 bytes of "
                      "request (000000000006010300000001), before any answer")


def test_a_target_that_is_not_there_is_one_error_not_forty_verdicts(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        url = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    # closed: connections to it are refused
    code, out, err = certify(tmp_path / "rep", "--target", url)
    assert code == USAGE, (out, err)
    assert err.strip().splitlines() == [
        f"wireproof certify: error: the target {url} is not reachable: {url}: connect failed: "
        "Connection refused; no clause was run"]
    assert not (tmp_path / "rep" / "report.json").exists()
    assert "FAIL" not in out


# --------------------------------------------------------------------------- garbage answers

def answering(reply: Callable[[bytes], bytes], *, then: str = "drain") -> Behaviour:
    """A device that answers each request with ``reply(request)``, then drains, hangs or streams."""
    def behaviour(conn: socket.socket, dev: Device) -> None:
        while True:
            request = _read_adu(conn)
            if not request:
                return
            dev.counted(request)
            conn.sendall(reply(request))
            if then == "stream-garbage":
                junk = bytes(range(256)) * 64
                while True:
                    conn.sendall(junk)
            if then == "stream-answers":
                stray = bytes.fromhex("7777 0000 0005 01 03 02 0000")
                while True:
                    conn.sendall(stray * 512)
    return behaviour


def _tid(request: bytes) -> bytes:
    return request[:2]


GARBAGE: dict[str, tuple[Behaviour, type[BaseException], str]] = {
    "length 39985": (answering(lambda r: _tid(r) + bytes.fromhex("0000 9c31 01 03") + b"\xaa" * 50),
                     RemoteProtocolError,
                     r"invalid MBAP header: length 39985 exceeds the maximum 254 \(MB-AP 4\.1.*\); "
                     r"at byte offset 4 of [0-9a-f]{4}00009c310103aa"),
    "length 0": (answering(lambda r: _tid(r) + bytes.fromhex("0000 0000 01")), RemoteProtocolError,
                 r"invalid MBAP header: length 0 is below the minimum 2 .*; at byte offset 4"),
    "length 1": (answering(lambda r: _tid(r) + bytes.fromhex("0000 0001 01")), RemoteProtocolError,
                 r"invalid MBAP header: length 1 is below the minimum 2 .*; at byte offset 4"),
    "protocol id 5": (answering(lambda r: _tid(r) + bytes.fromhex("0005 0005 01 03 02 0000")), AssertionError,
                      r"response protocol identifier 0x0005, expected 0 \(MB-TCP 3\.1\.3"),
    "transaction id + 1": (answering(lambda r: struct.pack(">H", (int.from_bytes(r[:2], "big") + 1) & 0xFFFF)
                                     + bytes.fromhex("0000 0005 01 03 02 0000")), AssertionError,
                           r"response transaction id 0x0002 != request's 0x0001"),
    "trailing bytes": (answering(lambda r: _tid(r) + bytes.fromhex("0000 0005 01 03 02 0000 dead")),
                       AssertionError,
                       r"2 bytes follow the answer its MBAP length announced \(length 5; MB-TCP 3\.1\.3\)"
                       r".*then dead"),
    "an answer that never ends": (answering(lambda r: _tid(r) + bytes.fromhex("000000fe0103fa") + bytes(20)),
                                  NoResponse,
                                  r"incomplete answer: its MBAP header announces 260 bytes, 29 received "
                                  r"within 0\.3 s, then silence"),
    "endless garbage": (answering(lambda r: b"", then="stream-garbage"), RemoteProtocolError,
                        r"invalid MBAP header: length 1029 exceeds the maximum 254"),
    "endless stray answers": (answering(lambda r: b"", then="stream-answers"), AssertionError,
                              r"response transaction id 0x7777 != request's 0x0001"),
    "silence": (answering(lambda r: b""), NoResponse, r"^\[connection 1\] no response within 0\.3 s$"),
}


@pytest.mark.parametrize("name", list(GARBAGE))
def test_a_garbage_answer_gets_a_precise_reason(name: str) -> None:
    behaviour, kind, pattern = GARBAGE[name]
    with device(behaviour) as dev:
        conn = Connection.connect(dev.url, unit=1, timeout=0.3, label="connection 1")
        try:
            with pytest.raises(kind) as info:
                conn.request(ReadHoldingRegistersRequest(start_address=0, quantity=1))
        finally:
            conn.close()
    message = str(info.value)
    assert re.search(pattern, message), message
    if name != "silence":
        assert "no response within" not in message, f"{name} is not silence: {message}"
    assert len(message) < 1000, "a reason quotes a window of the bytes, not all of them"


def test_a_stream_of_stray_answers_keeps_the_transaction_client_bounded() -> None:
    # The machine-driven path keeps answers that belong to no request as strays: a device
    # streaming them for the whole time-out must not fill memory, and the time-out says they came.
    with device(answering(lambda r: b"", then="stream-answers")) as dev:
        client = BlockingModbusClient.connect(dev.url, timeout=0.5)
        try:
            with pytest.raises(TimeoutError) as info:
                client.request(ReadHoldingRegistersRequest(start_address=0, quantity=1))
        finally:
            client.close()
    assert len(client.strays) <= 64 and client.strays_dropped > 0
    assert "answer(s) that belong to no outstanding request" in str(info.value), info.value


def test_certify_reports_the_39985_byte_header_as_what_it_is(tmp_path: Path) -> None:
    with device(GARBAGE["length 39985"][0]) as dev:
        code, out, err = certify(tmp_path, "--target", dev.url, "-k", "MB-AP-003")
    assert code == FAIL, (out, err)
    verdict, reason = outcomes(tmp_path)["MB-AP-003"]
    assert verdict == "fail"
    assert "invalid MBAP header: length 39985 exceeds the maximum 254" in reason, reason
    assert "no response" not in reason
    evidence = json.loads((tmp_path / "report.json").read_text())["cases"][0]["evidence"]
    assert any(e["direction"] == "received" and "00009c31" in e["hex"] for e in evidence)


# --------------------------------------------------------------------------- Ctrl-C

class CountingProxy:
    """A TCP proxy in front of the reference server that sets ``reached`` after ``n`` client chunks."""

    def __init__(self, upstream: tuple[str, int], n: int) -> None:
        self.upstream = upstream
        self.n = n
        self.count = 0
        self.reached = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self._sockets.append(client)
            try:
                server = socket.create_connection(self.upstream, timeout=WAIT)
            except OSError:
                continue
            self._sockets.append(server)
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, counts: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                if counts:
                    with self._lock:
                        self.count += 1
                        if self.count >= self.n:
                            self.reached.set()
                dst.sendall(chunk)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for sock in (self.listener, *self._sockets):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def test_ctrl_c_writes_reports_marked_incomplete_and_exits_130(tmp_path: Path) -> None:
    report = tmp_path / "rep"
    with running_server(bind="127.0.0.1:0") as server:
        host, port = server.url.removeprefix("tcp://").rsplit(":", 1)
        proxy = CountingProxy((host, int(port)), n=30)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "wireproof", "certify", "modbus-server", "--target", proxy.url,
                 "--report", str(report)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                assert proxy.reached.wait(WAIT), "the device never saw 30 requests"
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=RUN_TIMEOUT)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        finally:
            proxy.close()
    assert proc.returncode == INTERRUPTED, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    match = re.fullmatch(r"wireproof certify: interrupted after (\d+) of (\d+) clauses; the reports in (.+) "
                         r"are marked incomplete", lines[0])
    assert match, lines
    ran, total = int(match[1]), int(match[2])
    assert 0 < ran < total and total >= 40

    data = json.loads((report / "report.json").read_text())
    assert data["complete"] is False and data["interrupted"] is True
    assert len(data["cases"]) == ran and len(data["cases"]) + len(data["not_run"]) == total
    assert {c["clause"] for c in data["cases"]}.isdisjoint(n["clause"] for n in data["not_run"])
    assert all(n["clause"] and n["level"] for n in data["not_run"])

    suite = ET.parse(report / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or ()}
    assert props["complete"] == "false" and props["interrupted"] == "true"
    skipped = [tc for tc in suite.findall("testcase") if tc.find("skipped[@type='not_run']") is not None]
    assert len(skipped) == total - ran and suite.get("tests") == str(total)

    html = (report / "report.html").read_text()
    banner = f"Interrupted after {ran} of {total} clauses — this report is incomplete"
    assert banner in html and "INCOMPLETE" in html
