"""DNP3 over TCP traffic for ``wireproof bench replay`` (:class:`wireproof.harness.bench.traffic.Traffic`).

Named by the DNP3 descriptor (``AnalyzerEntry.traffic`` of ``dnp3``). The
capture (:func:`write_dnp3_capture`): ``flows`` connections to port 20000
(IEEE 1815-2012 Annex E), ``concurrent`` at a time, each a master (address
1, the client) polling an outstation (address 10) with a handshake first and
a FIN close last. Each link frame carries one whole application fragment in
one transport segment (FIR, FIN; the transport sequence counts up per
direction, 8.2.1) in an UNCONFIRMED USER DATA frame (9.2.4.1.3.6). The
transactions, in turn:

- a class 1, 2, 3 event poll (READ g60v2, g60v3, g60v4, qualifier 0x06;
  4.4.1) answered by a response with CON set and two binary events (g2v2,
  qualifier 0x17) and an analog event (g32v1), which the master confirms
  (CONFIRM, 4.2.2.4.3);
- every :data:`INTEGRITY_EVERY`-th, an integrity poll (READ g60v1) answered
  by the static data: eight binary inputs (g1v2), four analog inputs (g30v1),
  four counters (g20v1), no CON;
- every :data:`CONTROL_EVERY`-th, a control: SELECT then OPERATE of one CROB
  (g12v1, qualifier 0x28; 4.4.4), each echoed by the outstation with status
  SUCCESS;
- every :data:`UNSOLICITED_EVERY`-th, first an unsolicited response (UNS, CON;
  g2v2 events; 4.2.2.4.4, its own sequence numbers) that the master confirms
  with UNS set.

The application sequence numbers are the standard's: a request's SEQ counts
up mod 16, its response carries it, a CONFIRM carries its response's; the
point values move with them. Deliberate defects, at fixed intervals: a
SELECT refused (status NOT_SUPPORTED, every :data:`REFUSED_EVERY`-th
control; the master does not operate: ``dnp3.control-status``), an event
response the master does not confirm (every :data:`UNCONFIRMED_EVERY`-th:
``dnp3.unconfirmed-response``), a copy of a request with one user-data octet
flipped sent before it (every :data:`CORRUPT_EVERY`-th transaction: its
block CRC fails, ``dnp3.link-block-crc``; the copy is a link frame, so a
message, but no fragment). The file stops at exactly ``frames`` frames,
wherever that falls; a response the cut leaves unconfirmed counts as the
replay counts it (an info finding of the same rule).

Every frame is built once per (kind, transport sequence, application
sequence) by the codec itself (:func:`~wireproof.codecs.dnp3.link_frames`,
:func:`~wireproof.codecs.dnp3.encode_link`) and cached; writing a frame is then
one :class:`~wireproof.harness.bench.traffic.DataLayout` pack, so a million
frames take a few seconds. tshark dissects these flows down to DNP3's
application layer (``dnp3``); Scapy has no DNP3 layer of its own (the
package's Scapy layer, :mod:`wireproof.codecs.dnp3.scapy_layer`, binds port
20000 when imported).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from wireproof.harness.bench import Check
from wireproof.harness.bench.traffic import Clock, DataLayout, GeneratedCapture, TcpFlow, write_pcap

__all__ = ["TRAFFIC", "Dnp3TcpTraffic", "write_dnp3_capture"]

SERVER_PORT: Final = 20000  # IEEE 1815-2012 Annex E
MASTER, OUTSTATION = 1, 10
INTEGRITY_EVERY: Final = 20
CONTROL_EVERY: Final = 50
UNSOLICITED_EVERY: Final = 30
REFUSED_EVERY: Final = 7  # controls
UNCONFIRMED_EVERY: Final = 997  # transactions
CORRUPT_EVERY: Final = 4999  # transactions
_COUNTS: Final = ("requests", "responses", "unsolicited", "confirms", "controls", "integrity_polls",
                  "refused_selects", "unconfirmed_responses", "corrupt_frames")
_T0_MS: Final = 1_700_000_000_000


def _fragment(kind: str, seq: int) -> Any:
    """The application fragment of ``kind`` with application sequence ``seq`` (values move with it)."""
    from wireproof.codecs.dnp3 import FunctionCode
    from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, ObjectHeader, Point

    def req(function: FunctionCode, *objects: ObjectHeader, uns: bool = False) -> ApplicationRequest:
        return ApplicationRequest(seq=seq, function=function, uns=uns, objects=objects)

    def crob(status: int) -> ObjectHeader:
        return ObjectHeader(group=12, variation=1, qualifier=0x28, count=1, points=(Point(index=3, values={
            "control_code": 0x41, "count": 1, "on_time": 1000, "off_time": 0, "status": status}),))

    def events() -> tuple[ObjectHeader, ...]:
        t = _T0_MS + seq * 1000
        return (ObjectHeader(group=2, variation=2, qualifier=0x17, count=2, points=(
                    Point(index=1, values={"flags": 0x81, "time": t}),
                    Point(index=5, values={"flags": 0x01, "time": t + 7}))),
                ObjectHeader(group=32, variation=1, qualifier=0x17, count=1, points=(
                    Point(index=2, values={"flags": 0x01, "value": 100 + seq * 3}),)))

    if kind == "class_poll":
        classes = (ObjectHeader(group=60, variation=v, qualifier=0x06) for v in (2, 3, 4))
        return req(FunctionCode.READ, *classes)
    if kind == "integrity_poll":
        return req(FunctionCode.READ, ObjectHeader(group=60, variation=1, qualifier=0x06))
    if kind in ("confirm", "unsolicited_confirm"):
        return req(FunctionCode.CONFIRM, uns=kind == "unsolicited_confirm")
    if kind in ("select", "operate"):
        return req(FunctionCode.SELECT if kind == "select" else FunctionCode.OPERATE, crob(0))
    if kind in ("select_echo", "operate_echo", "refused_echo"):
        return ApplicationResponse(seq=seq, objects=(crob(4 if kind == "refused_echo" else 0),))
    if kind == "event_response":
        return ApplicationResponse(seq=seq, con=True, objects=events())
    if kind == "unsolicited":
        return ApplicationResponse(seq=seq, con=True, uns=True, function=FunctionCode.UNSOLICITED_RESPONSE,
                                   objects=events())
    if kind == "static_response":
        return ApplicationResponse(seq=seq, objects=(
            ObjectHeader(group=1, variation=2, qualifier=0x00, start=0, stop=7, points=tuple(
                Point(index=i, values={"flags": 0x81 if (i + seq) % 3 else 0x01}) for i in range(8))),
            ObjectHeader(group=30, variation=1, qualifier=0x00, start=0, stop=3, points=tuple(
                Point(index=i, values={"flags": 0x01, "value": i * 1000 + seq * 17 - 50}) for i in range(4))),
            ObjectHeader(group=20, variation=1, qualifier=0x00, start=0, stop=3, points=tuple(
                Point(index=i, values={"flags": 0x01, "value": seq * 100 + i}) for i in range(4)))))
    raise ValueError(f"no DNP3 fragment kind {kind!r}")


_MASTER_KINDS: Final = frozenset({"class_poll", "integrity_poll", "confirm", "unsolicited_confirm", "select",
                                  "operate"})


class _Frames:
    """The TCP payload (one FT3 link frame) of each (kind, transport seq, application seq), built once."""

    def __init__(self) -> None:
        self._frames: dict[tuple[str, int, int], tuple[DataLayout, bytes]] = {}
        self._layouts: dict[int, DataLayout] = {}

    def get(self, kind: str, tseq: int, aseq: int) -> tuple[DataLayout, bytes]:
        key = (kind, tseq, aseq)
        got = self._frames.get(key)
        if got is None:
            from wireproof.codecs.dnp3 import encode_link
            from wireproof.codecs.dnp3.codec import link_frames

            master = kind in _MASTER_KINDS
            (frame,) = link_frames(_fragment(kind, aseq), destination=OUTSTATION if master else MASTER,
                                   source=MASTER if master else OUTSTATION, master=master, transport_seq=tseq)
            octets = encode_link(frame)
            layout = self._layouts.get(len(octets))
            if layout is None:
                layout = self._layouts[len(octets)] = DataLayout(f"{len(octets)}s")
            got = self._frames[key] = (layout, octets)
        return got

    @staticmethod
    def corrupt(octets: bytes) -> bytes:
        """``octets`` with its first user-data octet flipped (its block CRC then fails; 9.2.4.2)."""
        return octets[:10] + bytes((octets[10] ^ 0x01,)) + octets[11:]


class _Flow(TcpFlow):
    """A connection and its sequence numbers: transport per direction, application per kind (4.2.2.4.5)."""

    __slots__ = ("m_tseq", "o_tseq", "seq", "uns_seq")

    def __init__(self, index: int) -> None:
        super().__init__(index, SERVER_PORT)
        self.m_tseq = index % 64
        self.o_tseq = index * 7 % 64
        self.seq = index % 16
        self.uns_seq = index * 3 % 16


def _records(*, flows: int, concurrent: int, per_flow: int, counts: dict[str, int]) -> Iterator[bytes]:
    """Pcap records of the capture, in capture order; each counted before it is yielded."""
    clock = Clock()
    frames = _Frames()
    transaction = 0
    controls = 0

    def send(f: _Flow, kind: str, aseq: int) -> bytes:
        if kind in _MASTER_KINDS:
            layout, octets = frames.get(kind, f.m_tseq, aseq)
            f.m_tseq = (f.m_tseq + 1) % 64
            return f.data(clock, True, layout, octets)
        layout, octets = frames.get(kind, f.o_tseq, aseq)
        f.o_tseq = (f.o_tseq + 1) % 64
        return f.data(clock, False, layout, octets)

    for batch_start in range(0, flows, concurrent):
        batch = [_Flow(i) for i in range(batch_start, min(flows, batch_start + concurrent))]
        counts["flows"] += len(batch)
        for f in batch:
            yield from f.open(clock)
        for _ in range(per_flow):
            for f in batch:
                transaction += 1
                if transaction % UNSOLICITED_EVERY == 0:
                    counts["unsolicited"] += 1
                    counts["pending_unsolicited"] += 1
                    yield send(f, "unsolicited", f.uns_seq)
                    counts["confirms"] += 1
                    counts["pending_unsolicited"] -= 1
                    yield send(f, "unsolicited_confirm", f.uns_seq)
                    f.uns_seq = (f.uns_seq + 1) % 16
                seq = f.seq
                if transaction % CONTROL_EVERY == 0:
                    controls += 1
                    counts["controls"] += 1
                    counts["requests"] += 1
                    yield send(f, "select", seq)
                    counts["responses"] += 1
                    if controls % REFUSED_EVERY == 0:
                        counts["refused_selects"] += 1
                        yield send(f, "refused_echo", seq)
                        f.seq = (seq + 1) % 16
                        continue
                    yield send(f, "select_echo", seq)
                    seq = (seq + 1) % 16
                    counts["requests"] += 1
                    yield send(f, "operate", seq)
                    counts["responses"] += 1
                    yield send(f, "operate_echo", seq)
                    f.seq = (seq + 1) % 16
                    continue
                f.seq = (seq + 1) % 16
                integrity = transaction % INTEGRITY_EVERY == 0
                kind = "integrity_poll" if integrity else "class_poll"
                if transaction % CORRUPT_EVERY == 0:
                    layout, octets = frames.get(kind, f.m_tseq, seq)
                    counts["corrupt_frames"] += 1
                    yield f.data(clock, True, layout, frames.corrupt(octets))
                counts["requests"] += 1
                yield send(f, kind, seq)
                counts["responses"] += 1
                if integrity:
                    counts["integrity_polls"] += 1
                    yield send(f, "static_response", seq)
                    continue
                if transaction % UNCONFIRMED_EVERY == 0:
                    counts["unconfirmed_responses"] += 1
                    yield send(f, "event_response", seq)
                    continue
                counts["pending_response"] += 1
                yield send(f, "event_response", seq)
                counts["confirms"] += 1
                counts["pending_response"] -= 1
                yield send(f, "confirm", seq)
        for f in batch:
            yield from f.close(clock)


def write_dnp3_capture(path: str | Path, frames: int = 1_000_000, *, concurrent: int = 32,
                       per_flow: int = 2000) -> GeneratedCapture:
    """Write a pcap of exactly ``frames`` frames of DNP3 over TCP (module docstring), streaming.

    ``concurrent`` connections are open at a time, each making ``per_flow``
    transactions; there are as many connections as it takes to reach ``frames``.
    """
    if frames < 1:
        raise ValueError("frames must be at least 1")
    per_batch = concurrent * (7 + 2 * per_flow)  # at least two frames a transaction
    flows = concurrent * (frames // per_batch + 1)
    counts = dict.fromkeys(("flows", "pending_response", "pending_unsolicited", *_COUNTS), 0)
    out_path = Path(path)
    written, total = write_pcap(out_path, _records(flows=flows, concurrent=concurrent, per_flow=per_flow,
                                                   counts=counts), frames)
    messages = (counts["requests"] + counts["responses"] + counts["unsolicited"] + counts["confirms"]
                + counts["corrupt_frames"])
    findings = {
        "dnp3.control-status": counts["refused_selects"],
        # the deliberate ones, and one the cut may leave (an info finding of the same rule)
        "dnp3.unconfirmed-response": counts["unconfirmed_responses"] + counts["pending_response"],
        "dnp3.unconfirmed-unsolicited": counts["pending_unsolicited"],
        "dnp3.link-block-crc": counts["corrupt_frames"],
    }
    return GeneratedCapture(path=out_path, protocol=TRAFFIC.name, frames=written, bytes=total,
                            flows=counts["flows"], messages=messages,
                            counts={k: counts[k] for k in _COUNTS},
                            findings={rule: n for rule, n in sorted(findings.items()) if n})


class Dnp3TcpTraffic:
    """The DNP3 over TCP traffic (module docstring)."""

    name: Final = "dnp3"
    title: Final = "DNP3 over TCP"
    server_port: Final = SERVER_PORT
    headline: Final = ("requests", "unsolicited")
    analyzer_modules: Final = ("wireproof.codecs.dnp3.analyzer", "wireproof.codecs.dnp3.app_analyzer",
                               "wireproof.codecs.dnp3.framers", "wireproof.codecs.dnp3.link",
                               "wireproof.codecs.dnp3.transport")

    def write(self, path: Path, frames: int) -> GeneratedCapture:
        return write_dnp3_capture(path, frames)

    def check(self, capture: GeneratedCapture, document: Mapping[str, Any]) -> Check:
        frames = document["frames"]
        messages = document["messages"].get(self.name, 0)
        findings = dict(document.get("findings_by_rule", {}))
        ok = frames == capture.frames and messages == capture.messages and findings == capture.findings
        detail = (f"{frames} frames, {messages} DNP3 link frames "
                  f"(expected {capture.frames}, {capture.messages})")
        if findings != capture.findings:
            detail += f"; findings by rule {findings} (expected {dict(capture.findings)})"
        return Check(library="wireproof", operation="replay", ok=ok, frames=frames, detail=detail)

    def scapy_layers(self) -> tuple[Any, ...]:
        from wireproof.codecs.dnp3.scapy_layer import DNP3Link  # binds TCP/UDP port 20000

        return (DNP3Link,)

    def scapy_check(self, sample: GeneratedCapture, packets: int, layered: int) -> Check:
        # Every data segment carries one link frame; Scapy layers the corrupt copies too.
        expected = sample.messages
        ok = packets == sample.frames and layered == expected
        return Check(library="scapy", operation="replay", ok=ok, frames=packets,
                     detail=(f"first {sample.frames} frames of the capture: {packets} packets, {layered} "
                             f"with a DNP3 link layer (expected {sample.frames}, {expected})"))


TRAFFIC: Final = Dnp3TcpTraffic()
