"""The passive Modbus/TCP analyzer, fed directly (no capture): one rule per test."""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field

import pytest

from wireproof.codecs._analysis import FlowContext
from wireproof.codecs.modbus import (
    ExceptionResponse,
    ReadCoilsRequest,
    ReadCoilsResponse,
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    TcpAdu,
    WriteMultipleRegistersRequest,
    tcp_codec,
)
from wireproof.codecs.modbus.analyzer import (
    ModbusTcpAnalyzer,
    function_clause,
    looks_like_modbus_tcp,
    plausible_header,
)
from wireproof.harness.replay.findings import Finding

CODEC = tcp_codec()


@dataclass
class FakeSink:
    findings: list[Finding] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)
    frames: list[int] = field(default_factory=list)
    errors: int = 0
    values: list[tuple[str, float, float]] = field(default_factory=list)
    stats: Counter[tuple[str, str]] = field(default_factory=Counter)

    def finding(self, finding: Finding) -> None:
        self.findings.append(finding)

    def message(self, protocol: str, function: str, frame: int, timestamp: float) -> None:
        assert protocol == "modbus-tcp"
        self.messages[function] += 1
        self.frames.append(frame)

    def decode_error(self, protocol: str) -> None:
        self.errors += 1

    def value(self, series: str, timestamp: float, value: float) -> None:
        self.values.append((series, timestamp, value))

    def statistic(self, protocol: str, table: str, key: str) -> None:
        self.stats[(table, key)] += 1

    def rules(self) -> set[tuple[str, int]]:
        return {(f.rule, f.frame) for f in self.findings}


def make(handshake: bool = True, timeout: float = 1.0) -> tuple[ModbusTcpAnalyzer, FakeSink]:
    flow = FlowContext(transport="tcp", client="10.0.0.9:3082", server="10.0.0.3:502",
                       label="10.0.0.9:3082 -> 10.0.0.3:502", protocol="modbus-tcp", handshake=handshake,
                       timeout=timeout)
    sink = FakeSink()
    return ModbusTcpAnalyzer(flow, sink), sink


def req(tid: int, pdu: object, unit: int = 1) -> bytes:
    return CODEC.encode(TcpAdu(transaction_id=tid, unit_id=unit, pdu=pdu))  # type: ignore[arg-type]


READ = ReadHoldingRegistersRequest(start_address=40, quantity=2)
ANSWER = ReadHoldingRegistersResponse(values=(7, 8))


def test_matched_transaction_counts_and_values() -> None:
    a, sink = make()
    a.on_data(True, req(1, READ), 4, 10.0)
    a.on_data(False, req(1, ANSWER), 5, 10.01)
    a.on_close(6, 10.02, "fin")
    assert sink.findings == []
    assert sink.messages == {"read_holding_registers request": 1, "read_holding_registers response": 1}
    assert sink.frames == [4, 5]
    assert sink.values == [("10.0.0.3:502 u1 hr[40]", 10.01, 7.0), ("10.0.0.3:502 u1 hr[41]", 10.01, 8.0)]


@dataclass
class BlockSink(FakeSink):
    """A sink that takes a register block per message (as the engine's does)."""

    blocks: list[tuple[str, int, float, tuple[int, ...]]] = field(default_factory=list)

    def values_block(self, series_base: str, start: int, timestamp: float, values: tuple[int, ...]) -> None:
        self.blocks.append((series_base, start, timestamp, tuple(values)))


def test_register_blocks_go_to_a_sink_that_takes_them() -> None:
    flow = FlowContext(transport="tcp", client="10.0.0.9:3082", server="10.0.0.3:502",
                       label="10.0.0.9:3082 -> 10.0.0.3:502", protocol="modbus-tcp")
    sink = BlockSink()
    sink.values = sink.values_block  # type: ignore[assignment]  # the engine's sink has a values method
    a = ModbusTcpAnalyzer(flow, sink)
    a.on_data(True, req(1, READ, unit=2), 4, 10.0)
    a.on_data(False, req(1, ANSWER, unit=2), 5, 10.01)
    a.on_data(True, req(2, WriteMultipleRegistersRequest(start_address=3, values=(1, 2))), 6, 10.1)
    assert sink.blocks == [("10.0.0.3:502 u2 hr", 40, 10.01, (7, 8)), ("10.0.0.3:502 u1 hr", 3, 10.1, (1, 2))]


def test_written_values_and_coils() -> None:
    a, sink = make()
    a.on_data(True, req(1, WriteMultipleRegistersRequest(start_address=3, values=(1, 2))), 1, 1.0)
    a.on_data(True, req(2, ReadCoilsRequest(start_address=0, quantity=3)), 2, 1.0)
    a.on_data(False, req(2, ReadCoilsResponse(values=(True, False, True) + (False,) * 5)), 3, 1.1)
    assert [v[0] for v in sink.values] == ["10.0.0.3:502 u1 hr[3]", "10.0.0.3:502 u1 hr[4]",
                                           "10.0.0.3:502 u1 co[0]", "10.0.0.3:502 u1 co[1]",
                                           "10.0.0.3:502 u1 co[2]"]
    assert [v[2] for v in sink.values] == [1.0, 2.0, 1.0, 0.0, 1.0]


def test_response_without_request_duplicate_and_late() -> None:
    a, sink = make(timeout=0.5)
    a.on_data(True, req(1, READ), 1, 0.0)
    a.on_data(False, req(1, ANSWER), 2, 0.1)
    a.on_data(False, req(1, ANSWER), 3, 0.2)  # duplicate
    a.on_data(False, req(9, ANSWER), 4, 0.3)  # never asked
    a.on_data(True, req(2, READ), 5, 1.0)
    a.on_data(False, req(2, ANSWER), 6, 2.0)  # 1 s > 0.5 s
    assert sink.rules() == {("modbus.duplicate-response", 3), ("modbus.response-without-request", 4),
                            ("modbus.late-response", 6)}
    severities = {f.rule: f.severity for f in sink.findings}
    assert severities == {"modbus.duplicate-response": "error", "modbus.response-without-request": "error",
                          "modbus.late-response": "warning"}
    assert all(f.clause for f in sink.findings)


def test_unanswered_requests_at_close() -> None:
    a, sink = make(timeout=1.0)
    a.on_data(True, req(1, READ), 1, 0.0)
    a.on_data(True, req(2, READ), 2, 5.0)
    a.on_close(3, 5.5, "end")  # the capture ends: request 2 was not yet due
    found = {f.frame: f.severity for f in sink.findings if f.rule == "modbus.unanswered-request"}
    assert found == {1: "warning", 2: "info"}


def test_mismatched_responses() -> None:
    a, sink = make()
    a.on_data(True, req(1, READ), 1, 0.0)
    a.on_data(False, req(1, ReadHoldingRegistersResponse(values=(1,))), 2, 0.1)  # 1 register for 2
    a.on_data(True, req(2, READ), 3, 0.2)
    a.on_data(False, req(2, ANSWER, unit=7), 4, 0.3)
    a.on_data(True, req(3, READ), 5, 0.4)
    a.on_data(False, req(3, ReadCoilsResponse(values=(True,) + (False,) * 7)), 6, 0.5)
    got = {f.frame: f.clause for f in sink.findings if f.rule == "modbus.mismatched-response"}
    assert got == {2: "MB-AP 6.3", 4: "MB-TCP 3.1.3", 6: "MB-AP 4.1"}
    assert sink.values == []  # a response that does not fit says nothing about the registers


def test_exception_statistics() -> None:
    a, sink = make()
    a.on_data(True, req(1, READ), 1, 0.0)
    a.on_data(False, req(1, ExceptionResponse(function_code=3, exception_code=2)), 2, 0.1)
    a.on_data(True, req(2, READ), 3, 0.2)
    a.on_data(False, bytes.fromhex("000200000003018309"), 4, 0.3)  # code 9 is not in MB-AP 7
    assert [(f.rule, f.severity) for f in sink.findings] == [("modbus.exception-response", "info"),
                                                             ("modbus.exception-response", "warning")]
    assert sink.stats == {("exceptions", "read_holding_registers: ILLEGAL_DATA_ADDRESS"): 1,
                          ("exceptions", "read_holding_registers: 0x09"): 1}
    assert sink.messages["read_holding_registers exception"] == 2


def test_bounds_violation_cites_the_clause_and_the_byte() -> None:
    a, sink = make()
    adu = bytes.fromhex("0001000000060103000a0000")  # quantity 0: MB-AP 6.3 says 1..125
    a.on_data(True, adu, 7, 1.0)
    a.on_data(False, req(1, ExceptionResponse(function_code=3, exception_code=3)), 8, 1.1)
    bounds = [f for f in sink.findings if f.rule == "modbus.bounds"]
    assert len(bounds) == 1
    f = bounds[0]
    assert (f.frame, f.clause, f.severity) == (7, "MB-AP 6.3", "error")
    assert f.hex == adu.hex() and f.offset == 10  # the quantity field
    assert "quantity" in f.message
    assert sink.errors == 1
    # the exception answers it: no response-without-request, no unanswered request
    assert {f.rule for f in sink.findings} == {"modbus.bounds", "modbus.exception-response"}


def test_malformed_pdu_and_protocol_id() -> None:
    a, sink = make()
    a.on_data(True, bytes.fromhex("000000000006011600000000"), 1, 0.0)  # FC 22 cut short
    a.on_data(True, bytes.fromhex("000100010006010300000001"), 2, 0.1)  # protocol id 1
    assert sink.rules() == {("modbus.malformed", 1), ("modbus.protocol-id", 2)}
    pid = next(f for f in sink.findings if f.rule == "modbus.protocol-id")
    assert pid.offset == 2 and pid.clause == "MB-TCP 3.1.3"
    assert sink.errors == 2
    assert sink.frames == [1]  # a malformed PDU is still a Modbus ADU; a foreign protocol id is not


def test_split_and_coalesced_segments() -> None:
    a, sink = make()
    both = req(1, READ) + req(2, READ)
    a.on_data(True, both, 1, 0.0)  # two ADUs in one segment
    answer = req(1, ANSWER) + req(2, ANSWER)
    for i, byte in enumerate(answer):  # one byte per segment
        a.on_data(False, bytes([byte]), 2 + i, 0.1)
    assert sink.findings == []
    assert sink.frames == [1, 1, 2 + len(req(1, ANSWER)) - 1, 2 + len(answer) - 1]


def test_mbap_length_error_then_resync() -> None:
    a, sink = make()
    a.on_data(True, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 0.0)
    # junk that almost looks like a header (length 255), then a real request
    a.on_data(True, bytes.fromhex("0100000000ff0103") + req(5, READ), 2, 0.1)
    a.on_data(False, req(5, ANSWER), 3, 0.2)
    assert sink.rules() == {("modbus.mbap-length", 1), ("modbus.resync", 2)}
    resync = next(f for f in sink.findings if f.rule == "modbus.resync")
    assert resync.message.startswith("8 bytes skipped")
    assert bytes.fromhex(resync.hex)[resync.offset:] == req(5, READ)
    assert sink.messages["read_holding_registers response"] == 1


def test_gap_resyncs_on_the_next_header() -> None:
    a, sink = make()
    first = req(1, READ)
    a.on_data(True, first[:5], 1, 0.0)
    a.on_gap(True, 100, 2, 0.1)
    a.on_data(True, b"\x00\x07" + req(2, READ), 2, 0.1)  # tail of a lost ADU, then a whole one
    a.on_data(False, req(2, ANSWER), 3, 0.2)
    a.on_data(False, req(3, ANSWER), 4, 0.3)  # its request may have been in the gap
    rules = {(f.rule, f.frame, f.severity) for f in sink.findings}
    assert rules == {("modbus.resync", 2, "info"), ("modbus.response-without-request", 4, "info")}


def test_server_gap_makes_unanswered_requests_info() -> None:
    a, sink = make()
    a.on_data(True, req(1, READ), 1, 0.0)
    a.on_gap(False, 50, 2, 0.1)
    a.on_close(3, 9.0, "fin")
    assert [(f.rule, f.severity) for f in sink.findings] == [("modbus.unanswered-request", "info")]


def test_midstream_start() -> None:
    a, sink = make(handshake=False)
    a.on_data(False, req(1, ANSWER), 1, 0.0)  # its request precedes the capture
    a.on_data(True, req(2, READ), 2, 0.1)
    a.on_data(False, req(2, ANSWER), 3, 0.2)
    assert [(f.rule, f.severity) for f in sink.findings] == [("modbus.response-without-request", "info")]


def test_incomplete_adu_at_close() -> None:
    a, sink = make()
    a.on_data(True, req(1, READ)[:9], 1, 0.0)
    a.on_close(2, 0.1, "fin")
    assert [(f.rule, f.severity) for f in sink.findings] == [("modbus.incomplete-adu", "warning")]


def test_transaction_id_reuse_and_exception_from_client() -> None:
    a, sink = make()
    a.on_data(True, req(1, READ), 1, 0.0)
    a.on_data(True, req(1, READ), 2, 0.1)
    a.on_data(True, req(3, ExceptionResponse(function_code=3, exception_code=1)), 3, 0.2)
    assert sink.rules() == {("modbus.transaction-id-reuse", 2), ("modbus.exception-from-client", 3)}


def test_datagram_is_framed_alone() -> None:
    a, sink = make()
    a.on_datagram(True, req(1, READ) + b"\x00\x01", 1, 0.0)
    a.on_datagram(False, req(1, ANSWER), 2, 0.1)
    assert sink.rules() == {("modbus.incomplete-adu", 1)}


@pytest.mark.parametrize(("data", "from_client", "verdict"), [
    (bytes.fromhex("0001000000060103000a0002"), True, True),
    (bytes.fromhex("0001000000060103000a0002") * 2, True, True),
    (bytes.fromhex("000100000006010300"), True, None),  # the ADU is not complete yet
    (bytes.fromhex("0001000000"), True, None),  # nor the header
    (bytes.fromhex("00010001"), True, False),  # protocol id 1 already
    (bytes.fromhex("0001000000030183"), True, False),  # a client does not send exceptions
    (bytes.fromhex("000100000003018302"), False, True),
    (bytes.fromhex("000100010006010300000001"), True, False),  # protocol id 1
    (bytes.fromhex("0001000000060141000a0002"), True, False),  # FC 0x41: not public
    (b"GET / HTTP/1.1\r\n", True, False),
    (bytes.fromhex("0001000000060103000a0002") + b"GET / HTTP/1.1", True, False),
])
def test_content_heuristic(data: bytes, from_client: bool, verdict: bool | None) -> None:
    assert looks_like_modbus_tcp(data, from_client) is verdict


def test_plausible_header_and_clauses() -> None:
    assert plausible_header(struct.pack(">HHHBB", 1, 0, 254, 1, 3))
    assert not plausible_header(struct.pack(">HHHBB", 1, 0, 255, 1, 3))
    assert not plausible_header(struct.pack(">HHHBB", 1, 0, 1, 1, 3))
    assert function_clause(0x10) == "MB-AP 6.12"
    assert function_clause(0x83) == "MB-AP 6.3"
    assert function_clause(0x41) == "MB-AP 5.1"
