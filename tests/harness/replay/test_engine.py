"""The replay engine on generated captures with known defects: exactly the expected findings.

Each capture is written with the capture layer's own writers; a finding is
compared as ``(rule, frame)``, frames numbered from 1 as Wireshark does.
"""

from __future__ import annotations

import re
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs.modbus import (
    ExceptionResponse,
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    TcpAdu,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
    tcp_codec,
)
from wireproof.errors import FixtureError
from wireproof.harness.replay.findings import Finding
from wireproof.harness.replay.pcap import build_tcp_frame, ethernet, write_pcap
from wireproof.harness.replay.registry import ProtocolSpec, Registry, default_registry, parse_port_override
from wireproof.harness.replay.result import ReplayResult
from wireproof.harness.replay.run import replay, scan_flows
from wireproof.harness.replay.summary import SCHEMA, render_text, to_json
from wireproof.protocol import AnalyzerEntry, ProtocolDescriptor, ProtocolRegistry

CODEC = tcp_codec()
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08
CLIENT, SERVER = ("10.0.0.9", 3082), ("10.0.0.3", 502)


def adu(tid: int, pdu: Any, unit: int = 1) -> bytes:
    return CODEC.encode(TcpAdu(transaction_id=tid, unit_id=unit, pdu=pdu))


READ = ReadHoldingRegistersRequest(start_address=40, quantity=2)
ANSWER = ReadHoldingRegistersResponse(values=(7, 8))


class Conversation:
    """One TCP connection, frame by frame; each method returns the frame's number."""

    def __init__(self, client: tuple[str, int] = CLIENT, server: tuple[str, int] = SERVER,
                 frames: list[tuple[float, bytes]] | None = None, t: float = 1000.0) -> None:
        self.client, self.server = client, server
        self.frames = [] if frames is None else frames
        self.seq = {True: 1000, False: 9000}
        self.t = t

    def send(self, from_client: bool, payload: bytes = b"", *, flags: int = PSH | ACK, seq: int | None = None,
             dt: float = 0.01) -> int:
        self.t += dt
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        s = self.seq[from_client] if seq is None else seq
        ack = self.seq[not from_client] if flags & ACK else 0
        self.frames.append((self.t, build_tcp_frame(payload, src=src, dst=dst, seq=s, ack=ack, flags=flags)))
        if seq is None:
            self.seq[from_client] += len(payload) + (1 if flags & (SYN | FIN) else 0)
        return len(self.frames)

    def c(self, payload: bytes, **kw: Any) -> int:
        return self.send(True, payload, **kw)

    def s(self, payload: bytes, **kw: Any) -> int:
        return self.send(False, payload, **kw)

    def handshake(self) -> None:
        self.send(True, flags=SYN)
        self.send(False, flags=SYN | ACK)
        self.send(True, flags=ACK)

    def close(self) -> None:
        self.send(True, flags=FIN | ACK)
        self.send(False, flags=FIN | ACK)
        self.send(True, flags=ACK)

    def skip(self, from_client: bool, payload: bytes) -> None:
        """Bytes sent but not captured."""
        self.seq[from_client] += len(payload)

    def write(self, path: Path) -> Path:
        write_pcap(path, self.frames)
        return path


def findings(result: ReplayResult) -> set[tuple[str, int]]:
    return {(f.rule, f.frame) for f in result.findings}


def run(tmp_path: Path, conv: Conversation, **kw: Any) -> ReplayResult:
    return replay(conv.write(tmp_path / "c.pcap"), **kw)


# --- one defect per capture ----------------------------------------------------------------------

def clean(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    conv.c(adu(1, READ))
    conv.s(adu(1, ANSWER))
    conv.c(adu(2, WriteSingleRegisterRequest(address=3, value=9)))
    conv.s(adu(2, WriteSingleRegisterResponse(address=3, value=9)))
    conv.close()
    return set()


def segments(conv: Conversation) -> set[tuple[str, int]]:
    """Split, coalesced, reordered and retransmitted segments: TCP findings only."""
    conv.handshake()
    one = adu(1, READ)
    conv.c(one[:5])
    conv.c(one[5:])  # split
    conv.s(adu(1, ANSWER))
    conv.c(adu(2, READ) + adu(3, READ))  # coalesced
    two_three = adu(2, ANSWER) + adu(3, ANSWER)
    first, second = two_three[:10], two_three[10:]
    base = conv.seq[False]
    early = conv.s(second, seq=base + len(first))  # reordered: the second half first
    conv.s(first, seq=base)
    conv.seq[False] += len(two_three)
    again = conv.s(two_three, seq=base)  # retransmitted
    conv.close()
    return {("tcp.out-of-order", early), ("tcp.retransmission", again)}


def gap(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    conv.c(adu(1, READ))
    conv.s(adu(1, ANSWER))
    conv.skip(True, adu(2, READ))  # request 2 never captured
    ahead = conv.c(adu(3, READ))
    proof = conv.s(adu(2, ANSWER))  # acknowledges past the hole: request 2 is lost
    conv.s(adu(3, ANSWER))
    conv.close()
    # the response to the lost request is no violation: it is only info
    return {("tcp.out-of-order", ahead), ("tcp.gap", proof), ("modbus.response-without-request", proof)}


def response_without_request(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    conv.c(adu(1, READ))
    conv.s(adu(1, ANSWER))
    stray = conv.s(adu(77, ANSWER))
    conv.close()
    return {("modbus.response-without-request", stray)}


def duplicate_response(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    conv.c(adu(1, READ))
    conv.s(adu(1, ANSWER))
    dup = conv.s(adu(1, ANSWER))
    conv.close()
    return {("modbus.duplicate-response", dup)}


def late_response(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    conv.c(adu(1, READ))
    late = conv.s(adu(1, ANSWER), dt=2.5)
    conv.close()
    return {("modbus.late-response", late)}


def exceptions(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    conv.c(adu(1, READ))
    e1 = conv.s(adu(1, ExceptionResponse(function_code=3, exception_code=2)))
    conv.c(adu(2, READ))
    e2 = conv.s(adu(2, ExceptionResponse(function_code=3, exception_code=4)))
    conv.close()
    return {("modbus.exception-response", e1), ("modbus.exception-response", e2)}


def bounds(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    bad = conv.c(bytes.fromhex("0001000000060103000a0000"))  # quantity 0
    answer = conv.s(adu(1, ExceptionResponse(function_code=3, exception_code=3)))
    conv.close()
    return {("modbus.bounds", bad), ("modbus.exception-response", answer)}


def protocol_id(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    foreign = conv.c(bytes.fromhex("000100010006010300000001"))
    conv.c(adu(2, READ))
    conv.s(adu(2, ANSWER))
    conv.close()
    return {("modbus.protocol-id", foreign)}


def not_modbus(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    get = conv.c(b"GET / HTTP/1.1\r\nHost: plc\r\n\r\n")
    reply = conv.s(b"HTTP/1.0 400 Bad Request\r\n\r\n")
    conv.close()
    return {("modbus.mbap-length", get), ("modbus.mbap-length", reply)}


def unanswered(conv: Conversation) -> set[tuple[str, int]]:
    conv.handshake()
    lost = conv.c(adu(1, READ))
    conv.c(adu(2, READ), dt=3.0)
    conv.s(adu(2, ANSWER))
    conv.close()
    return {("modbus.unanswered-request", lost)}


def midstream(conv: Conversation) -> set[tuple[str, int]]:
    first = conv.s(adu(1, ANSWER))  # the capture starts after request 1
    second = conv.c(adu(2, READ))
    conv.s(adu(2, ANSWER))
    return {("tcp.midstream-start", first), ("tcp.midstream-start", second),
            ("modbus.response-without-request", first)}


CASES: dict[str, Callable[[Conversation], set[tuple[str, int]]]] = {
    f.__name__: f for f in (clean, segments, gap, response_without_request, duplicate_response, late_response,
                            exceptions, bounds, protocol_id, not_modbus, unanswered, midstream)}
ERRORS = {"response_without_request": 1, "duplicate_response": 1, "bounds": 1, "protocol_id": 1,
          "not_modbus": 2}


@pytest.mark.parametrize("case", CASES)
def test_known_defects_give_exactly_the_expected_findings(tmp_path: Path, case: str) -> None:
    conv = Conversation()
    expected = CASES[case](conv)
    result = run(tmp_path, conv)
    assert findings(result) == expected
    assert result.errors == ERRORS.get(case, 0)
    assert result.frames == len(conv.frames)
    assert [r.protocol for r in result.flows] == ["modbus-tcp"]


def test_clean_capture_counts(tmp_path: Path) -> None:
    conv = Conversation()
    clean(conv)
    result = run(tmp_path, conv)
    assert result.messages == {"modbus-tcp": 4}
    assert result.message_frames == {"modbus-tcp": 4}
    assert result.functions["modbus-tcp"] == {"read_holding_registers request": 1,
                                              "read_holding_registers response": 1,
                                              "write_single_register request": 1,
                                              "write_single_register response": 1}
    (flow,) = result.flows
    assert (flow.flow, flow.status, flow.messages, flow.closed, flow.handshake) == (
        "10.0.0.9:3082 -> 10.0.0.3:502", "analysed", 4, "fin", True)
    summary = result.analytics.summary() if result.analytics else {}
    assert "10.0.0.3:502 u1 hr[40]" in summary["series"]
    assert "10.0.0.3:502 u1 hr[3]" in summary["series"]


def test_segments_still_decode_every_adu(tmp_path: Path) -> None:
    conv = Conversation()
    segments(conv)
    result = run(tmp_path, conv)
    assert result.messages == {"modbus-tcp": 6}
    assert result.decode_errors == {}


def test_finding_fields(tmp_path: Path) -> None:
    conv = Conversation()
    bounds(conv)
    result = run(tmp_path, conv)
    f = next(f for f in result.findings if f.rule == "modbus.bounds")
    assert f.to_json() == {
        "frame": 4, "timestamp": pytest.approx(1000.04), "flow": "10.0.0.9:3082 -> 10.0.0.3:502",
        "protocol": "modbus-tcp", "clause": "MB-AP 6.3", "severity": "error", "rule": "modbus.bounds",
        "message": "read_holding_registers request: pdu.quantity: quantity 0 not in 1..125",
        "offset": 10, "hex": "0001000000060103000a0000",
        "direction": "client -> server", "window_start": 0, "malformed": True}


# A protocol a third-party package declares on port 20001, with no analyzer (yet). (Port 20000 was
# used until DNP3's analyzer took it.)
PORT_ONLY = ProtocolDescriptor(name="portonly", title="a protocol known by its port only", analyzers=(
    AnalyzerEntry(name="portonly", ports=(20001,), transports=("tcp", "udp"), description="port only"),))


def test_port_override_and_content_heuristic(tmp_path: Path, protocol_registry: ProtocolRegistry) -> None:
    protocol_registry.register(PORT_ONLY)
    frames: list[tuple[float, bytes]] = []
    # FC 0x41 (user-defined) first: the heuristic does not claim this flow on port 5020
    odd = Conversation(server=("10.0.0.3", 5020), frames=frames)
    odd.handshake()
    odd.c(bytes.fromhex("000100000003014100"))
    odd.s(bytes.fromhex("000100000003014100"))
    # an ordinary Modbus flow on port 1502: recognised by content
    plain = Conversation(client=("10.0.0.8", 40000), server=("10.0.0.4", 1502), frames=frames)
    plain.c(adu(1, READ))
    plain.s(adu(1, ANSWER))
    # the port of a registered protocol without an analyzer
    dnp3 = Conversation(client=("10.0.0.7", 40001), server=("10.0.0.5", 20001), frames=frames)
    dnp3.handshake()
    dnp3.c(bytes.fromhex("056405c001000000e47b"))
    path = tmp_path / "mixed.pcap"
    write_pcap(path, frames)

    result = replay(path)
    by_flow = {r.flow: (r.protocol, r.status, r.messages) for r in result.flows}
    assert by_flow == {
        "10.0.0.9:3082 -> 10.0.0.3:5020": ("unknown", "unknown", 0),
        "10.0.0.8:40000 -> 10.0.0.4:1502": ("modbus-tcp", "analysed", 2),
        "10.0.0.7:40001 -> 10.0.0.5:20001": ("portonly", "not yet available", 0),
    }
    result = replay(path, ports={5020: "modbus-tcp"})
    assert result.flows[0].protocol == "modbus-tcp" and result.flows[0].messages == 2
    assert result.functions["modbus-tcp"]["fc 0x41 request"] == 1
    # without heuristics, only registered ports are looked at
    result = replay(path, heuristics=False)
    assert [r.flow for r in result.flows] == ["10.0.0.7:40001 -> 10.0.0.5:20001"]
    result = replay(path, heuristics=False, ports={5020: "modbus-tcp"})
    assert [r.flow for r in result.flows] == ["10.0.0.9:3082 -> 10.0.0.3:5020",
                                              "10.0.0.7:40001 -> 10.0.0.5:20001"]


def test_sides_swapped_when_the_port_says_so(tmp_path: Path) -> None:
    # no handshake, and the server's port (502) is above the client's (100): the dissector guesses
    # the lower port is the server; the registry knows better
    conv = Conversation(client=("10.0.0.9", 100))
    conv.c(adu(1, READ))
    conv.s(adu(1, ANSWER))
    result = run(tmp_path, conv)
    assert result.flows[0].flow == "10.0.0.9:100 -> 10.0.0.3:502"
    assert {r for r, _ in findings(result)} == {"tcp.midstream-start"}
    assert result.messages == {"modbus-tcp": 2}


def test_flow_filter_sink_and_cap(tmp_path: Path) -> None:
    frames: list[tuple[float, bytes]] = []
    a = Conversation(frames=frames)
    a.handshake()
    for tid in (1, 2, 3):
        a.s(adu(tid, ANSWER))  # three responses without request
    b = Conversation(client=("10.0.0.8", 4000), frames=frames)
    b.handshake()
    b.s(adu(9, ANSWER))
    path = tmp_path / "two.pcap"
    write_pcap(path, frames)

    seen: list[Finding] = []
    result = replay(path, sink=seen.append, max_findings=2)
    assert result.findings_total == len(seen) == 4
    assert len(result.findings) == 2 and result.collector.dropped == 2

    flows = scan_flows(path)
    assert [record.flow for _, record in flows] == ["10.0.0.9:3082 -> 10.0.0.3:502",
                                                    "10.0.0.8:4000 -> 10.0.0.3:502"]
    only_b = replay(path, flow_filter=lambda key: key == flows[1][0])
    assert [r.flow for r in only_b.flows] == ["10.0.0.8:4000 -> 10.0.0.3:502"]
    assert findings(only_b) == {("modbus.response-without-request", 10)}


def test_analyzer_bug_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    class Boom:
        def __init__(self, flow: Any, sink: Any) -> None:
            pass

        def on_data(self, *args: Any) -> None:
            raise ZeroDivisionError("bug")

    registry = Registry([ProtocolSpec(name="boom", ports=(502,), analyzer="unused:unused",
                                      _cache={"factory": Boom})])
    conv = Conversation()
    conv.handshake()
    conv.c(adu(1, READ))
    conv.c(adu(2, READ))
    result = run(tmp_path, conv, registry=registry)
    assert findings(result) == {("replay.analyzer-error", 4)}


def test_json_and_text_summary(tmp_path: Path) -> None:
    conv = Conversation()
    bounds(conv)
    result = run(tmp_path, conv)
    doc = to_json(result)
    assert doc["schema"] == SCHEMA
    assert {"file", "format", "frames", "messages", "findings", "decode_errors", "flows"} <= set(doc)
    assert doc["messages"] == {"modbus-tcp": 2} and doc["decode_errors"] == 1
    assert doc["findings_by_severity"] == {"error": 1, "warning": 0, "info": 1}
    exceptions = {"read_holding_registers: ILLEGAL_DATA_VALUE": 1}
    assert doc["statistics"] == {"modbus-tcp": {"exceptions": exceptions}}
    text = render_text(result)
    assert "modbus-tcp: 2 messages in 2 frames" in text
    assert "#4 error modbus.bounds [MB-AP 6.3]" in text
    assert "00 01 00 00 00 06 01 03 00 0a 00 00\n" + " " * 36 + "^^" in text


def test_heuristic_waits_for_a_whole_adu_and_loses_nothing(tmp_path: Path) -> None:
    # On an unknown port the first client segment holds 5 bytes of an ADU: the heuristic
    # answers "need more", the engine holds the segment, and once the ADU is whole the
    # flow is Modbus and the analyzer gets every byte (both transactions are counted).
    conv = Conversation(server=("10.0.0.3", 5020))
    conv.handshake()
    one = adu(1, READ)
    conv.c(one[:5])
    conv.c(one[5:])
    conv.s(adu(1, ANSWER))
    conv.c(adu(2, READ))
    conv.s(adu(2, ANSWER))
    conv.close()
    result = run(tmp_path, conv)
    assert [(r.protocol, r.status, r.messages) for r in result.flows] == [("modbus-tcp", "analysed", 4)]
    assert result.errors == 0


def test_heuristic_holds_little_on_a_hostile_flow(tmp_path: Path) -> None:
    # A plausible MBAP header, then a byte at a time that never completes the ADU, on a port
    # no protocol claims: the engine holds at most a few events, then calls the flow unknown
    # and drops them (a flow cannot make it buffer without bound), and nothing is lost later.
    conv = Conversation(server=("10.0.0.3", 5020))
    conv.handshake()
    conv.c(bytes.fromhex("00010000003001"))
    for _ in range(2000):
        conv.c(b"\x03")
    conv.close()
    result = run(tmp_path, conv)
    assert [(r.protocol, r.status, r.frames) for r in result.flows] == [("unknown", "unknown", 2001)]
    assert not any(f.rule == "replay.analyzer-error" for f in result.findings)


def test_heuristic_gives_up_on_other_traffic(tmp_path: Path) -> None:
    conv = Conversation(server=("10.0.0.3", 5020))
    conv.handshake()
    for _ in range(3):
        conv.c(b"GET / HTTP/1.1\r\n\r\n")
        conv.s(b"HTTP/1.1 200 OK\r\n\r\n")
    conv.close()
    result = run(tmp_path, conv)
    assert [(r.protocol, r.status, r.messages) for r in result.flows] == [("unknown", "unknown", 0)]


def test_registry(protocol_registry: ProtocolRegistry) -> None:
    protocol_registry.register(PORT_ONLY)
    registry = default_registry()
    assert registry.names() == ["dnp3", "iec104", "modbus-tcp", "portonly"]
    available = {p: registry.get(n).available for p, n in registry.port_table().items()}
    assert available == {502: True, 2404: True, 20000: True, 20001: False}
    found = registry.by_port("tcp", 502, 40000)
    assert found is not None and found[0].name == "modbus-tcp" and found[1] is True
    assert registry.by_port("udp", 40000, 502) is None  # Modbus/TCP is TCP only
    assert registry.with_ports({502: "portonly"}).for_port("tcp", 502) == registry.get("portonly")
    with pytest.raises(KeyError):
        registry.with_ports({5020: "nope"})
    assert parse_port_override("5020=modbus-tcp") == (5020, "modbus-tcp")
    for bad in ("5020", "x=modbus-tcp", "70000=modbus-tcp", "5020="):
        with pytest.raises(ValueError):
            parse_port_override(bad)


def test_unreadable_capture(tmp_path: Path) -> None:
    path = tmp_path / "junk.pcap"
    path.write_bytes(b"not a capture at all")
    with pytest.raises(FixtureError):
        replay(path)


PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


@settings(max_examples=60)
@given(st.binary(max_size=600), st.booleans())
def test_arbitrary_bytes_give_a_fixture_error_or_a_result(data: bytes, with_header: bool) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.pcap"
        path.write_bytes((PCAP_HEADER if with_header else b"") + data)
        try:
            result = replay(path, analytics=False)
        except FixtureError:
            return
        assert result.frames >= 0
        assert result.collector.by_rule["replay.analyzer-error"] == 0  # an analyzer crash is a bug
        to_json(result)


def test_malformed_frame_is_a_capture_level_finding(tmp_path: Path) -> None:
    conv = Conversation()
    clean(conv)
    conv.frames.append((2000.0, ethernet(b"\x43" + bytes(39), ethertype=0x0800)))  # IPv4, header length 12
    path = conv.write(tmp_path / "m.pcap")
    result = replay(path)
    assert result.malformed_frames == 1
    (f,) = result.findings
    assert (f.rule, f.frame, f.protocol, f.clause, f.severity, f.flow) == (
        "ipv4.malformed", 11, "ipv4", "RFC 791 3.1", "warning", "")
    assert bytes.fromhex(f.hex)[f.offset] == 0x43  # the window points at the offending byte
    assert replay(path, flow_filter=lambda key: True).findings == []  # a filtered run leaves them out


def test_analytics_see_every_frame_message_and_value_through_the_buffers(tmp_path: Path) -> None:
    # Two connections on the same ports (one flow label) and more polls than a batch: the
    # engine's per-flow buffers are flushed when full, when a connection closes and at the end.
    frames: list[tuple[float, bytes]] = []
    polls = 0
    for k in range(2):
        conv = Conversation(frames=frames, t=1000.0 + 100 * k)
        conv.handshake()
        for i in range(300):
            conv.c(adu(i, READ))
            conv.s(adu(i, ANSWER))
            polls += 1
        if k == 0:
            conv.close()
    result = run(tmp_path, conv)
    assert result.messages == {"modbus-tcp": 2 * polls} and result.message_frames == {"modbus-tcp": 2 * polls}
    assert result.functions["modbus-tcp"] == {"read_holding_registers request": polls,
                                              "read_holding_registers response": polls}
    (record,) = result.flows
    assert record.connections == 2 and record.messages == 2 * polls
    summary = result.analytics.summary() if result.analytics else {}
    (label,) = summary["flows"]
    flow = summary["flows"][label]
    assert (label, flow["frames"], flow["bytes"]) == (record.flow, record.frames, record.bytes)
    assert flow["message_interarrival"]["count"] == 2 * polls - 1
    for address, value in zip((40, 41), ANSWER.values, strict=True):
        series = summary["series"][f"10.0.0.3:502 u1 hr[{address}]"]
        assert (series["count"], series["mean"], series["std"]) == (polls, float(value), 0.0)


# --- issue 10: the summaries' counts, origin and directions ---------------------------------------

def test_findings_carry_their_frames_direction(tmp_path: Path) -> None:
    conv = Conversation()
    bounds(conv)
    result = run(tmp_path, conv)
    by_rule = {f.rule: f for f in result.findings}
    assert by_rule["modbus.bounds"].direction == "client -> server"
    exception = by_rule["modbus.exception-response"]
    assert exception.direction == "server -> client"
    assert exception.route() == "10.0.0.3:502 -> 10.0.0.9:3082"
    assert "10.0.0.3:502 -> 10.0.0.9:3082 (server -> client): exception" in render_text(result)


def test_an_unanswered_request_shows_its_bytes(tmp_path: Path) -> None:
    conv = Conversation()
    conv.handshake()
    conv.c(adu(7, READ))
    conv.close()
    (f,) = [f for f in run(tmp_path, conv).findings if f.rule == "modbus.unanswered-request"]
    assert f.hex == adu(7, READ).hex() and f.offset == 0 and f.direction == "client -> server"


def test_malformed_counted_once_everywhere(tmp_path: Path) -> None:
    """Messages that did not decode (decode_errors) and frames below the protocols (malformed_frames)
    are "malformed": each has exactly one finding marked so, and the text says the same number."""
    conv = Conversation()
    conv.handshake()
    conv.c(bytes.fromhex("0001000000060103000a0000"))  # quantity 0: out of bounds
    conv.s(adu(1, ExceptionResponse(function_code=3, exception_code=3)))
    conv.c(bytes.fromhex("000200000008010600000000ffff"))  # 2 bytes after the PDU
    conv.c(bytes.fromhex("000300010006010300000001"))  # protocol id 1
    conv.close()
    conv.frames.append((conv.t + 0.01, ethernet(b"\x45\x00", ethertype=0x0800)))  # cut IP
    result = run(tmp_path, conv)
    marked = [f for f in result.findings if f.malformed]
    assert sum(result.decode_errors.values()) == 3 and result.malformed_frames == 1
    assert len(marked) == 4 == len({(f.frame, f.protocol) for f in marked})
    text = render_text(result)
    assert "malformed: 4 (3 modbus-tcp messages, 1 frame below the protocols)" in text
    assert "modbus-tcp: 3 messages in 3 frames, 3 malformed" in text or ", 3 malformed" in text
    assert text.count("[malformed]") == 4


def test_text_summary_one_origin_frame_order_and_function_table(tmp_path: Path) -> None:
    conv = Conversation()
    bounds(conv)
    result = run(tmp_path, conv)
    text = render_text(result)
    assert "times: seconds since the first frame, 1970-01-01T00:16:40.010000Z" in text
    lines = text.splitlines()
    shown = [ln for ln in lines if ln.startswith("  #")]
    assert [ln.split()[0] for ln in shown] == ["#4", "#5"]  # frame order (the error is not moved first)
    assert "t=0.030000 s" in shown[0]
    assert re.search(r"function\s+exceptions\s+malformed", text)
    assert re.search(r"read_holding_registers\s+1\s+1\n", text)
