"""Modbus/TCP traffic for ``wireproof bench replay`` (:class:`wireproof.harness.bench.traffic.Traffic`).

Named by the Modbus descriptor (``AnalyzerEntry.traffic`` of ``modbus-tcp``).
The capture (:func:`write_modbus_capture`): ``flows`` connections to port
502, ``concurrent`` at a time, each with a handshake, polls of four holding
registers (every 16th transaction a single register write) and a FIN
close. Deliberate defects, at fixed intervals: an exception response (every
997th transaction), a response whose transaction id matches no request
(every 4999th: a ``modbus.response-without-request`` and an unanswered
request), a retransmitted request segment (every 7919th). The file stops at
exactly ``frames`` frames, wherever that falls.

Every ADU is one precompiled :class:`struct.Struct` over the record and TCP
headers (:class:`~wireproof.harness.bench.traffic.DataLayout`) and the MBAP
header and PDU (MB-TCP 3.1.3; MB-AP 6.3 read holding registers, 6.6 write
single register, 7 exception responses), so a million frames take a second
or two. tshark dissects these flows down to Modbus/TCP (``mbtcp``) and its
registers (``modbus``); Scapy does with ``scapy.contrib.modbus`` loaded
(which binds port 502).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from wireproof.harness.bench import Check
from wireproof.harness.bench.traffic import Clock, DataLayout, GeneratedCapture, TcpFlow, write_pcap

__all__ = ["TRAFFIC", "ModbusTcpTraffic", "write_modbus_capture"]

SERVER_PORT: Final = 502  # MB-TCP 4.4.1
EXCEPTION_EVERY: Final = 997
ORPHAN_EVERY: Final = 4999
RETRANSMIT_EVERY: Final = 7919
WRITE_EVERY: Final = 16

# The MBAP header (MB-TCP 3.1.3: transaction id, protocol 0, length, unit) and the PDU, after the TCP header.
_READ_REQ: Final = DataLayout("H10s")  # tid, then 00 00 00 06 u 03 aaaa 0004
_READ_RSP: Final = DataLayout("H7s4H")  # tid, 00 00 00 0b u 03 08, 4 registers
_WRITE: Final = DataLayout("H8sH")  # tid, 00 00 00 06 u 06 aaaa, value (request and echo)
_EXC_RSP: Final = DataLayout("H7s")  # tid, 00 00 00 03 u 83 02
_READ_PDU: Final = b"\x00\x00\x00\x06\x01\x03\x00\x64\x00\x04"  # unit 1, read 4 from 100
_READ_RSP_HEAD: Final = b"\x00\x00\x00\x0b\x01\x03\x08"
_WRITE_PDU: Final = b"\x00\x00\x00\x06\x01\x06\x00\xc8"  # unit 1, write register 200
_COUNTS: Final = ("requests", "responses", "exceptions", "orphan_responses", "retransmissions")


class _Flow(TcpFlow):
    """A connection and its next MBAP transaction id."""

    __slots__ = ("tid",)

    def __init__(self, index: int) -> None:
        super().__init__(index, SERVER_PORT)
        self.tid = index * 13 % 65536


def _records(*, flows: int, concurrent: int, per_flow: int, counts: dict[str, int]) -> Iterator[bytes]:
    """Pcap records of the capture, in capture order; each counted before it is yielded."""
    clock = Clock()
    transaction = 0
    for batch_start in range(0, flows, concurrent):
        batch = [_Flow(i) for i in range(batch_start, min(flows, batch_start + concurrent))]
        counts["flows"] += len(batch)
        for f in batch:
            yield from f.open(clock)
        for _ in range(per_flow):
            for f in batch:
                transaction += 1
                tid = f.tid = (f.tid + 1) & 0xFFFF
                write = transaction % WRITE_EVERY == 0
                if write:
                    value = transaction & 0xFFFF
                    request = f.data(clock, True, _WRITE, tid, _WRITE_PDU, value)
                else:
                    request = f.data(clock, True, _READ_REQ, tid, _READ_PDU)
                counts["requests"] += 1
                yield request
                if transaction % RETRANSMIT_EVERY == 0:
                    counts["retransmissions"] += 1
                    yield clock.again(request)
                rtid = tid
                if transaction % ORPHAN_EVERY == 0:
                    rtid ^= 0x8000
                    counts["orphan_responses"] += 1
                if transaction % EXCEPTION_EVERY == 0:
                    code = b"\x86\x02" if write else b"\x83\x02"  # ILLEGAL DATA ADDRESS (MB-AP 7)
                    response = f.data(clock, False, _EXC_RSP, rtid, b"\x00\x00\x00\x03\x01" + code)
                    counts["exceptions"] += 1
                elif write:
                    response = f.data(clock, False, _WRITE, rtid, _WRITE_PDU, value)
                else:
                    # Registers that move: a slow ramp, a counter, a constant and a square wave.
                    response = f.data(clock, False, _READ_RSP, rtid, _READ_RSP_HEAD,
                                      transaction // 1000 & 0xFFFF, transaction & 0xFFFF, 1234,
                                      500 if transaction // 5000 % 2 else 100)
                counts["responses"] += 1
                yield response
        for f in batch:
            yield from f.close(clock)


def write_modbus_capture(path: str | Path, frames: int = 1_000_000, *, concurrent: int = 32,
                         per_flow: int = 2000) -> GeneratedCapture:
    """Write a pcap of exactly ``frames`` frames of Modbus/TCP traffic (module docstring), streaming.

    ``concurrent`` connections are open at a time, each making ``per_flow``
    transactions; there are as many connections as it takes to reach ``frames``.
    """
    if frames < 1:
        raise ValueError("frames must be at least 1")
    per_batch = concurrent * (7 + 2 * per_flow)  # handshake and close, two frames a transaction
    flows = concurrent * (frames // per_batch + 1)
    counts = dict.fromkeys(("flows", *_COUNTS), 0)
    out_path = Path(path)
    written, total = write_pcap(out_path, _records(flows=flows, concurrent=concurrent, per_flow=per_flow,
                                                   counts=counts), frames)
    requests, responses, orphans = counts["requests"], counts["responses"], counts["orphan_responses"]
    findings = {
        "modbus.exception-response": counts["exceptions"],
        "modbus.response-without-request": orphans,
        # an orphan's request is never answered, nor is a last request the capture cuts off
        "modbus.unanswered-request": orphans + requests - responses,
        "tcp.retransmission": counts["retransmissions"],
    }
    return GeneratedCapture(path=out_path, protocol=TRAFFIC.name, frames=written, bytes=total,
                            flows=counts["flows"], messages=requests + responses,
                            counts={k: counts[k] for k in _COUNTS},
                            findings={rule: n for rule, n in sorted(findings.items()) if n})


class ModbusTcpTraffic:
    """The Modbus/TCP traffic (module docstring)."""

    name: Final = "modbus-tcp"
    title: Final = "Modbus/TCP"
    server_port: Final = SERVER_PORT
    headline: Final = ("requests",)
    analyzer_modules: Final = ("wireproof.codecs.modbus.analyzer", "wireproof.codecs.modbus.framers")

    def write(self, path: Path, frames: int) -> GeneratedCapture:
        return write_modbus_capture(path, frames)

    def check(self, capture: GeneratedCapture, document: Mapping[str, Any]) -> Check:
        frames = document["frames"]
        messages = document["messages"].get(self.name, 0)
        findings = dict(document.get("findings_by_rule", {}))
        ok = frames == capture.frames and messages == capture.messages and findings == capture.findings
        detail = (f"{frames} frames, {messages} Modbus messages "
                  f"(expected {capture.frames}, {capture.messages})")
        if findings != capture.findings:
            detail += f"; findings by rule {findings} (expected {dict(capture.findings)})"
        return Check(library="wireproof", operation="replay", ok=ok, frames=frames, detail=detail)

    def scapy_layers(self) -> tuple[Any, ...]:
        import scapy.contrib.modbus as modbus  # binds Modbus/TCP to port 502

        return modbus.ModbusADURequest, modbus.ModbusADUResponse

    def scapy_check(self, sample: GeneratedCapture, packets: int, layered: int) -> Check:
        # Scapy sees the retransmitted request as a Modbus packet too: one more than the messages.
        expected = sample.messages + sample.counts["retransmissions"]
        ok = packets == sample.frames and layered == expected
        return Check(library="scapy", operation="replay", ok=ok, frames=packets,
                     detail=(f"first {sample.frames} frames of the capture: {packets} packets, {layered} "
                             f"with a Modbus layer (expected {sample.frames}, {expected})"))


TRAFFIC: Final = ModbusTcpTraffic()
