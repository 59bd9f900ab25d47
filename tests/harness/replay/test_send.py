"""``wireproof replay FILE --send tcp://HOST:PORT``: a recorded session replayed against live servers.

The capture is recorded for real: a session of requests is run against the
reference server (default data model) over TCP, and the bytes that went each
way are written as a pcap with the capture layer's frame builders (server
port 502, as a plant capture would show). Replayed against a fresh reference
server every answer is identical; against one whose holding registers hold
other values exactly the reads of those registers differ, in exactly the
fields that differ; against a closed port the error names the target.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from wireproof.codecs.modbus import (
    ReadCoilsRequest,
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    TcpAdu,
    WriteMultipleRegistersRequest,
    WriteSingleRegisterRequest,
    tcp_codec,
)
from wireproof.codecs.modbus.correlation import TcpCorrelation
from wireproof.harness.cli import main
from wireproof.harness.replay.pcap import build_tcp_frame, write_pcap
from wireproof.harness.replay.send import SCHEMA, compare_answers, render_send_text, run_send, send_replay
from wireproof.harness.simulators.modbus_server import default_config_path, running_server
from wireproof.harness.transports import TcpTransport

MODBUS = TcpCorrelation()
CODEC = tcp_codec()
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08
SERVER = ("10.0.0.3", 502)

# (request, reads registers whose value the "other" data model changes)
SESSION: list[tuple[Any, bool]] = [
    (ReadHoldingRegistersRequest(start_address=40, quantity=3), True),
    (ReadCoilsRequest(start_address=0, quantity=10), False),
    (WriteSingleRegisterRequest(address=200, value=7), False),
    (ReadHoldingRegistersRequest(start_address=200, quantity=1), False),  # reads what was just written
    (ReadInputRegistersRequest(start_address=5, quantity=2), False),
    (ReadHoldingRegistersRequest(start_address=5000, quantity=2), False),  # exception 02 on both servers
    (WriteMultipleRegistersRequest(start_address=300, values=(1, 2, 3)), False),
    (ReadHoldingRegistersRequest(start_address=10, quantity=2), True),
]


class Pcap:
    """Frames of TCP connections to SERVER, in capture order."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, bytes]] = []
        self.t = 1_700_000_000.0

    def add(self, src: tuple[str, int], dst: tuple[str, int], payload: bytes, seq: int, ack: int,
            flags: int) -> None:
        self.t += 0.001
        frame = build_tcp_frame(payload, src=src, dst=dst, seq=seq, ack=ack, flags=flags)
        self.frames.append((self.t, frame))

    def write(self, path: Path) -> Path:
        write_pcap(path, self.frames)
        return path


def record_session(url: str, pcap: Pcap, client: tuple[str, int], requests: Sequence[Any], *,
                   unit: int = 1, first_tid: int = 1, drop_answers: frozenset[int] = frozenset()) -> None:
    """Run ``requests`` against the server at ``url``; add the connection's frames to ``pcap``.

    Answers whose index is in ``drop_answers`` are left out of the capture
    (as if the device had not answered).
    """
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    c, s = 1000, 50000
    pcap.add(client, SERVER, b"", c, 0, SYN)
    pcap.add(SERVER, client, b"", s, c + 1, SYN | ACK)
    c, s = c + 1, s + 1
    pcap.add(client, SERVER, b"", c, s, ACK)
    with TcpTransport.connect(host, int(port), timeout=5.0) as t:
        for i, pdu in enumerate(requests):
            request = CODEC.encode(TcpAdu(transaction_id=first_tid + i, unit_id=unit, pdu=pdu))
            t.send(request)
            head = t.recv_exactly(6)
            answer = head + t.recv_exactly(int.from_bytes(head[4:6], "big"))
            pcap.add(client, SERVER, request, c, s, PSH | ACK)
            c += len(request)
            if i not in drop_answers:
                pcap.add(SERVER, client, answer, s, c, PSH | ACK)
                s += len(answer)
    pcap.add(client, SERVER, b"", c, s, FIN | ACK)
    pcap.add(SERVER, client, b"", s, c + 1, FIN | ACK)
    pcap.add(client, SERVER, b"", c + 1, s + 1, ACK)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two recorded connections (the same session twice, different transaction ids)."""
    pcap = Pcap()
    with running_server() as server:
        record_session(server.url, pcap, ("10.0.0.9", 3082), [r for r, _ in SESSION])
        record_session(server.url, pcap, ("10.0.0.9", 3083), [r for r, _ in SESSION], first_tid=500)
    return pcap.write(tmp_path_factory.mktemp("send") / "session.pcap")


@pytest.fixture
def other_config(tmp_path: Path) -> Path:
    """The default data model with holding registers 0..99 holding 1000 + address."""
    text = default_config_path().read_text()
    block = '[[unit.holding_registers]]\nstart = 0\ncount = 2000\nfill = "address"\n'
    assert block in text
    other = text.replace(block, '[[unit.holding_registers]]\nstart = 0\ncount = 100\nfill = "address"\n'
                                 'offset = 1000\n\n[[unit.holding_registers]]\nstart = 100\ncount = 1900\n'
                                 'fill = "address"\n')
    path = tmp_path / "other.toml"
    path.write_text(other)
    return path


@pytest.fixture
def closed_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connect is refused
    yield port


def test_replay_against_a_fresh_server_is_identical(recorded: Path) -> None:
    with running_server() as server:
        result = run_send(recorded, server.url, timeout=2.0)
    assert result.flows == 2
    assert result.requests == 2 * len(SESSION)
    assert result.counts["identical"] == 2 * len(SESSION)
    assert result.ok and result.exit_code == 0
    assert result.exchanges == [] and result.notes == []
    assert "all answers identical" in render_send_text(result)


def test_other_data_model_differences_are_precise(recorded: Path, other_config: Path) -> None:
    with running_server(config=other_config) as server:
        result = run_send(recorded, server.url, timeout=2.0)
    changed = [i + 1 for i, (_, changes) in enumerate(SESSION) if changes]
    assert result.counts["differs"] == 2 * len(changed)
    assert result.counts["identical"] == 2 * (len(SESSION) - len(changed))
    assert result.exit_code == 1
    got = {(ex.flow, ex.index): ex for ex in result.exchanges}
    assert set(got) == {(f"10.0.0.9:{port} -> 10.0.0.3:502", i) for port in (3082, 3083) for i in changed}
    first = got[("10.0.0.9:3082 -> 10.0.0.3:502", 1)]
    assert first.verdict == "differs"
    assert first.recorded_tid == 1 and first.sent_tid == 1
    assert [(d.path, d.recorded, d.device) for d in first.differences] == [
        ("pdu.values[0]", 40, 1040), ("pdu.values[1]", 41, 1041), ("pdu.values[2]", 42, 1042)]
    assert "ReadHoldingRegistersRequest(start_address=40, quantity=3)" in first.request
    second = got[("10.0.0.9:3083 -> 10.0.0.3:502", 8)]
    assert second.recorded_tid == 507 and second.sent_tid == 8  # transaction ids re-sequenced
    assert [d.path for d in second.differences] == ["pdu.values[0]", "pdu.values[1]"]
    text = render_send_text(result)
    assert "DIFFERS: 10.0.0.9:3082 -> 10.0.0.3:502: request #1" in text
    assert "pdu.values[0]: recorded 40, device 1040" in text


def test_missing_and_unexpected_answers(tmp_path: Path) -> None:
    pcap = Pcap()
    requests = [r for r, _ in SESSION[:3]]
    with running_server() as server:
        record_session(server.url, pcap, ("10.0.0.9", 3082), requests, drop_answers=frozenset({1}))
        record_session(server.url, pcap, ("10.0.0.9", 3090), requests, unit=7)
    path = pcap.write(tmp_path / "partial.pcap")
    # The replay target answers nothing for unit 7 ("drop"), everything else as recorded.
    with running_server(unknown_unit="drop") as server:
        result = run_send(path, server.url, timeout=0.3)
    assert dict(result.counts) == {"identical": 2, "unexpected": 1, "missing": 3}
    unexpected = [ex for ex in result.exchanges if ex.verdict == "unexpected"]
    assert [(ex.flow, ex.index) for ex in unexpected] == [("10.0.0.9:3082 -> 10.0.0.3:502", 2)]
    missing = [ex for ex in result.exchanges if ex.verdict == "missing"]
    assert [(ex.flow, ex.index) for ex in missing] == [("10.0.0.9:3090 -> 10.0.0.3:502", i)
                                                        for i in (1, 2, 3)]
    assert all("no answer within 0.3 s" in ex.detail for ex in missing)


def test_port_override_and_cli_json(tmp_path: Path) -> None:
    pcap = Pcap()
    with running_server() as server:
        record_session(server.url, pcap, ("10.0.0.9", 3082), [r for r, _ in SESSION])
    # The same frames with the server on port 5020: only --port 5020=modbus-tcp finds the flow.
    port = (5020).to_bytes(2, "big")  # TCP source port at byte 34 of the frame, destination at 36
    moved = [(t, f[:34] + port + f[36:]) if f[34:36] == (502).to_bytes(2, "big")
             else (t, f[:36] + port + f[38:]) for t, f in pcap.frames]
    path = tmp_path / "moved.pcap"
    write_pcap(path, moved)
    out = io.StringIO()
    with running_server() as server:
        assert send_replay(path, server.url, out=out) == 0
        assert "0 flows, 0 requests" in out.getvalue()
        code, printed = _cli(["replay", str(path), "--send", server.url, "--port", "5020=modbus-tcp",
                              "--json"])
    assert code == 0
    document = json.loads(printed)
    assert document["schema"] == SCHEMA
    assert document["flows"] == 1 and document["requests"] == len(SESSION)
    assert document["verdicts"] == {"identical": len(SESSION), "differs": 0, "missing": 0, "unexpected": 0}


def test_cli_reports_differences_with_exit_1(recorded: Path, other_config: Path) -> None:
    with running_server(config=other_config) as server:
        code, printed = _cli(["replay", str(recorded), "--send", server.url])
    assert code == 1
    assert "4 differ" in printed and "pdu.values[1]: recorded 11, device 1011" in printed


def test_closed_port_is_a_clear_error(recorded: Path, closed_port: int) -> None:
    err = io.StringIO()
    code = send_replay(recorded, f"tcp://127.0.0.1:{closed_port}", out=io.StringIO(), err=err)
    assert code == 2
    message = err.getvalue()
    assert f"tcp://127.0.0.1:{closed_port}" in message and "connect" in message
    assert "refused" in message.lower()


def test_not_a_tcp_target(recorded: Path) -> None:
    err = io.StringIO()
    assert send_replay(recorded, "serial:///dev/ttyS0", out=io.StringIO(), err=err) == 2
    assert "tcp://HOST:PORT" in err.getvalue()


def test_compare_answers_ignores_the_transaction_id() -> None:
    a = bytes.fromhex("0001 0000 0007 01 03 04 0001 0002".replace(" ", ""))
    b = bytes.fromhex("0099 0000 0007 01 03 04 0001 0003".replace(" ", ""))
    assert compare_answers(a, a[:1] + b"\x77" + a[2:], MODBUS) == ()
    (diff,) = compare_answers(a, b, MODBUS)
    assert (diff.path, diff.recorded, diff.device) == ("pdu.values[1]", 2, 3)
    exc = bytes.fromhex("0001 0000 0003 01 83 02".replace(" ", ""))
    paths = [d.path for d in compare_answers(a, exc, MODBUS)]
    assert "pdu.type" in paths and "pdu.exception_code" in paths
    assert [d.path for d in compare_answers(a, a[:6] + b"\x02" + a[7:], MODBUS)] == ["unit_id"]
    garbage = bytes.fromhex("0001 0000 0003 01 03 ff".replace(" ", ""))
    (raw,) = compare_answers(a, garbage, MODBUS)
    assert raw.path == "adu" and raw.device == garbage[2:].hex()


def _cli(argv: list[str]) -> tuple[int, str]:
    import contextlib

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


@contextlib.contextmanager
def hostile_device(answer: bytes) -> Iterator[str]:
    """A device that answers every connection's first bytes with ``answer``, then closes."""
    server = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    if conn.recv(4096):
                        conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        done.set()
        with contextlib.suppress(OSError):
            server.shutdown(socket.SHUT_RDWR)  # wakes the accept() the thread waits in
        server.close()
        thread.join(5)
        assert not thread.is_alive()


@pytest.mark.parametrize("answer", [
    bytes.fromhex("0001 0000 0000 01".replace(" ", "")),  # MBAP length 0: unframeable
    b"\xff" * 4096,  # garbage, and a great deal of it
    bytes.fromhex("0001 0000 00fe 01") + bytes(10),  # a length announcing more than ever comes
    b"",  # closes without a word
])
def test_a_hostile_device_gets_verdicts_not_a_traceback(recorded: Path, answer: bytes) -> None:
    with hostile_device(answer) as url:
        result = run_send(recorded, url, timeout=0.1)
    assert result.requests == 2 * len(SESSION)
    assert sum(result.counts.values()) >= result.requests and result.counts["identical"] == 0
    assert result.exit_code == 1
    judged = result.counts["missing"] + result.counts["differs"] + result.counts["unexpected"]
    assert judged >= result.requests


def test_a_damaged_capture_is_sent_up_to_the_damage(recorded: Path, tmp_path: Path) -> None:
    """The one policy for damaged input (replay/damage.py): before, the error lost the whole run (exit 2)."""
    data = recorded.read_bytes()
    ends, pos = [], 24
    while pos < len(data):
        pos += 16 + int.from_bytes(data[pos + 8:pos + 12], "little")
        ends.append(pos)
    half = ends[len(ends) // 2]
    damaged = tmp_path / "damaged.pcap"
    damaged.write_bytes(data[:half] + b"\xff" * 40)
    with running_server() as server:
        whole = run_send(recorded, server.url, timeout=2.0)
        result = run_send(damaged, server.url, timeout=2.0)
        code, printed = _cli(["replay", str(damaged), "--send", server.url, "--json"])
    assert result.damage is not None and result.damage.offset == half and result.damage.kind == "corrupt"
    assert 0 < result.requests < whole.requests and result.counts["identical"] == result.requests
    assert result.exit_code == 3 and code == 3
    document = json.loads(printed)
    assert document["damage"]["offset"] == half and any("damaged input" in n for n in document["notes"])
