"""IEC 104 traffic for ``wireproof bench replay`` (:class:`wireproof.harness.bench.traffic.Traffic`).

Named by the IEC 104 descriptor (``AnalyzerEntry.traffic`` of ``iec104``).
The capture (:func:`write_iec104_capture`): ``flows`` connections to port
2404 (104 clause 10), ``concurrent`` at a time, each a controlling station
(the client) and a controlled station (common address 1) with a handshake
first and a FIN close last. On each connection, in turn (one APDU a TCP
segment; the sequence numbers start at 0 on the connection, 104 5.1):

- STARTDT act / con (104 5.3); the controlled station's end of
  initialisation (M_EI_NA_1, COT 4; 101 7.4.1 ... 104 7.2);
- a station interrogation (C_IC_NA_1 QOI 20, COT 6) answered by ACT_CON
  (COT 7), four single points (M_SP_NA_1, SQ=1) and four short floats
  (M_ME_NC_1) with COT 20, then ACT_TERM (COT 10);
- transactions: a spontaneous measurand (M_ME_NC_1, COT 3, one of four
  IOAs; every :data:`SINGLE_EVERY`-th a single point M_SP_NA_1 instead),
  with moving values; every :data:`COMMAND_EVERY`-th a direct single command
  (C_SC_NA_1, IOA 5001) confirmed (ACT_CON) and terminated (ACT_TERM); every
  :data:`TESTFR_EVERY`-th a TESTFR act / con pair from the controlling station;
- the controlling station acknowledges with an S frame after w = 8 I frames
  received (104 5.2, 5.6), and its own I frames carry N(R) as well; the
  controlled station's I frames acknowledge the controlling station's;
- at the end: an S frame for what is still unacknowledged, STOPDT act / con.

Deliberate defects: every :data:`REFUSED_EVERY`-th command names an IOA
the station does not have and is answered by a negative ACT_CON (P/N set,
COT 47, 101 7.2.3: ``iec104.negative-confirm``). Capture time moves 100 µs a
frame, so no timer of 104 5.5 is ever near. The file stops at exactly
``frames`` frames, wherever that falls (a cut leaves I frames
unacknowledged for microseconds only: no finding).

Every ASDU is encoded by the codec itself (:func:`~wireproof.codecs.iec104.codec.encode_asdu`)
once per (kind, value step) and cached; a frame is then one
:class:`~wireproof.harness.bench.traffic.DataLayout` pack with the APCI's
sequence numbers as two fields, so a million frames take a few seconds.
tshark dissects every data segment as ``104apci`` (and the I frames'
ASDUs as ``104asdu``); Scapy does with ``scapy.contrib.scada.iec104``
loaded (which binds port 2404).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from wireproof.harness.bench import Check
from wireproof.harness.bench.traffic import Clock, DataLayout, GeneratedCapture, TcpFlow, write_pcap

__all__ = ["TRAFFIC", "Iec104Traffic", "write_iec104_capture"]

SERVER_PORT: Final = 2404  # 104 clause 10
COMMON_ADDRESS: Final = 1
W: Final = 8  # 104 5.6: acknowledge after at most w I frames received
SINGLE_EVERY: Final = 4
COMMAND_EVERY: Final = 40
TESTFR_EVERY: Final = 100
REFUSED_EVERY: Final = 7  # commands
_VALUE_STEPS: Final = 64
_COUNTS: Final = ("i_frames", "s_frames", "u_frames", "spontaneous", "interrogations", "commands",
                  "negative_confirms", "test_frames")
# The control field's octets are little-endian (104 5.1); the record struct is big-endian: N << 1 swapped.
_SWAPPED: Final = tuple(((n << 1) & 0xFF) << 8 | (n << 1) >> 8 for n in range(32768))


def _asdu(kind: str, step: int) -> bytes:
    """The ASDU of ``kind``, values moved by ``step`` (0.._VALUE_STEPS-1), encoded by the codec."""
    from wireproof.codecs.iec104.codec import encode_asdu
    from wireproof.codecs.iec104.constants import Cause, TypeId
    from wireproof.codecs.iec104.messages import Asdu, InformationObject, Quality

    ok = Quality(0)

    def asdu(type_id: int, cause: int, *objects: InformationObject, sequence: bool = False,
             negative: bool = False) -> bytes:
        return encode_asdu(Asdu(type_id=type_id, cause=cause, common_address=COMMON_ADDRESS, objects=objects,
                                sequence=sequence, negative=negative))

    def obj(address: int, **elements: Any) -> InformationObject:
        return InformationObject(address=address, elements=elements)

    if kind == "end_of_init":
        return asdu(TypeId.M_EI_NA_1, Cause.INITIALIZED, obj(0, coi=0, parameters_changed=False))
    if kind in ("interrogation", "interrogation_con", "interrogation_term"):
        cause = {"interrogation": Cause.ACTIVATION, "interrogation_con": Cause.ACTIVATION_CON,
                 "interrogation_term": Cause.ACTIVATION_TERMINATION}[kind]
        return asdu(TypeId.C_IC_NA_1, cause, obj(0, qoi=20))
    if kind == "singles_interrogated":
        return asdu(TypeId.M_SP_NA_1, Cause.INTERROGATED_BY_STATION,
                    *(obj(1001 + i, value=bool((i + step) % 2), quality=ok) for i in range(4)), sequence=True)
    if kind == "floats_interrogated":
        return asdu(TypeId.M_ME_NC_1, Cause.INTERROGATED_BY_STATION,
                    *(obj(3201 + i, value=50.0 + i * 10 + step * 0.25, quality=ok) for i in range(4)))
    if kind == "float_spontaneous":
        return asdu(TypeId.M_ME_NC_1, Cause.SPONTANEOUS,
                    obj(3201 + step % 4, value=50.0 + step * 0.25, quality=ok))
    if kind == "single_spontaneous":
        return asdu(TypeId.M_SP_NA_1, Cause.SPONTANEOUS,
                    obj(1001 + step % 4, value=bool(step % 2), quality=ok))
    if kind in ("command", "command_con", "command_term", "refused_command", "refused_con"):
        cause = {"command": Cause.ACTIVATION, "command_con": Cause.ACTIVATION_CON,
                 "command_term": Cause.ACTIVATION_TERMINATION, "refused_command": Cause.ACTIVATION,
                 "refused_con": Cause.UNKNOWN_IOA}[kind]
        address = 5999 if kind.startswith("refused") else 5001
        return asdu(TypeId.C_SC_NA_1, cause, obj(address, value=bool(step % 2), qualifier=0, select=False),
                    negative=kind == "refused_con")
    raise ValueError(f"no IEC 104 ASDU kind {kind!r}")


class _Frames:
    """The layout and ASDU of each (kind, value step), built once; the APCI numbers are pack fields."""

    def __init__(self) -> None:
        self._frames: dict[tuple[str, int], tuple[DataLayout, bytes, bytes]] = {}
        self._layouts: dict[int, DataLayout] = {}

    def get(self, kind: str, step: int) -> tuple[DataLayout, bytes, bytes]:
        """(layout, start and length octets, ASDU) of an I frame of ``kind``."""
        key = (kind, step)
        got = self._frames.get(key)
        if got is None:
            asdu = _asdu(kind, step)
            layout = self._layouts.get(len(asdu))
            if layout is None:
                layout = self._layouts[len(asdu)] = DataLayout(f"2sHH{len(asdu)}s")
            got = self._frames[key] = (layout, bytes((0x68, 4 + len(asdu))), asdu)
        return got


_S: Final = DataLayout("4sH")  # 68 04 01 00, N(R)
_U: Final = DataLayout("6s")
_S_HEAD: Final = b"\x68\x04\x01\x00"
_U_FRAMES: Final = {name: bytes((0x68, 4, code, 0, 0, 0)) for name, code in (
    ("STARTDT_ACT", 0x07), ("STARTDT_CON", 0x0B), ("STOPDT_ACT", 0x13), ("STOPDT_CON", 0x23),
    ("TESTFR_ACT", 0x43), ("TESTFR_CON", 0x83))}


class _Flow(TcpFlow):
    """A connection and its APCI state: V(S) each way, I frames the client has received unacknowledged."""

    __slots__ = ("c_vs", "s_vs", "unacked")

    def __init__(self, index: int) -> None:
        super().__init__(index, SERVER_PORT)
        self.c_vs = 0  # the controlling station's next N(S), and the controlled station's V(R)
        self.s_vs = 0
        self.unacked = 0  # I frames the controlling station has received and not acknowledged


def _records(*, flows: int, concurrent: int, per_flow: int, counts: dict[str, int]) -> Iterator[bytes]:
    """Pcap records of the capture, in capture order; each counted before it is yielded."""
    clock = Clock()
    frames = _Frames()
    transaction = 0
    commands = 0

    def i_frame(f: _Flow, client: bool, kind: str, step: int = 0) -> bytes:
        layout, head, asdu = frames.get(kind, step)
        counts["i_frames"] += 1
        if client:
            ns, nr = f.c_vs, f.s_vs
            f.c_vs = (ns + 1) & 0x7FFF
            f.unacked = 0  # its N(R) acknowledges everything received
        else:
            ns, nr = f.s_vs, f.c_vs
            f.s_vs = (ns + 1) & 0x7FFF
            f.unacked += 1
        return f.data(clock, client, layout, head, _SWAPPED[ns], _SWAPPED[nr], asdu)

    def s_frame(f: _Flow) -> bytes:
        counts["s_frames"] += 1
        f.unacked = 0
        return f.data(clock, True, _S, _S_HEAD, _SWAPPED[f.s_vs])

    def u_frame(f: _Flow, client: bool, name: str) -> bytes:
        counts["u_frames"] += 1
        return f.data(clock, client, _U, _U_FRAMES[name])

    def server(f: _Flow, kind: str, step: int = 0) -> Iterator[bytes]:
        yield i_frame(f, False, kind, step)
        if f.unacked >= W:
            yield s_frame(f)

    for batch_start in range(0, flows, concurrent):
        batch = [_Flow(i) for i in range(batch_start, min(flows, batch_start + concurrent))]
        counts["flows"] += len(batch)
        for f in batch:
            yield from f.open(clock)
        for f in batch:
            yield u_frame(f, True, "STARTDT_ACT")
            yield u_frame(f, False, "STARTDT_CON")
            yield from server(f, "end_of_init")
        for f in batch:
            counts["interrogations"] += 1
            yield i_frame(f, True, "interrogation")
            for kind in ("interrogation_con", "singles_interrogated", "floats_interrogated",
                         "interrogation_term"):
                yield from server(f, kind, f.c_vs % _VALUE_STEPS)
        for _ in range(per_flow):
            for f in batch:
                transaction += 1
                step = transaction % _VALUE_STEPS
                if transaction % TESTFR_EVERY == 0:
                    counts["test_frames"] += 1
                    yield u_frame(f, True, "TESTFR_ACT")
                    yield u_frame(f, False, "TESTFR_CON")
                if transaction % COMMAND_EVERY == 0:
                    commands += 1
                    counts["commands"] += 1
                    if commands % REFUSED_EVERY == 0:
                        yield i_frame(f, True, "refused_command", step)
                        counts["negative_confirms"] += 1  # counted as its frame is: a cut may fall between
                        yield from server(f, "refused_con", step)
                        continue
                    yield i_frame(f, True, "command", step)
                    yield from server(f, "command_con", step)
                    yield from server(f, "command_term", step)
                    continue
                counts["spontaneous"] += 1
                kind = "single_spontaneous" if transaction % SINGLE_EVERY == 0 else "float_spontaneous"
                yield from server(f, kind, step)
        for f in batch:
            if f.unacked:
                yield s_frame(f)
            yield u_frame(f, True, "STOPDT_ACT")
            yield u_frame(f, False, "STOPDT_CON")
            yield from f.close(clock)


def write_iec104_capture(path: str | Path, frames: int = 1_000_000, *, concurrent: int = 32,
                         per_flow: int = 2000) -> GeneratedCapture:
    """Write a pcap of exactly ``frames`` frames of IEC 104 traffic (module docstring), streaming.

    ``concurrent`` connections are open at a time, each making ``per_flow``
    transactions; there are as many connections as it takes to reach ``frames``.
    """
    if frames < 1:
        raise ValueError("frames must be at least 1")
    per_batch = concurrent * (7 + per_flow)  # at least one frame a transaction
    flows = concurrent * (frames // per_batch + 1)
    counts = dict.fromkeys(("flows", *_COUNTS), 0)
    out_path = Path(path)
    written, total = write_pcap(out_path, _records(flows=flows, concurrent=concurrent, per_flow=per_flow,
                                                   counts=counts), frames)
    messages = counts["i_frames"] + counts["s_frames"] + counts["u_frames"]
    findings = {"iec104.negative-confirm": counts["negative_confirms"]}
    return GeneratedCapture(path=out_path, protocol=TRAFFIC.name, frames=written, bytes=total,
                            flows=counts["flows"], messages=messages,
                            counts={k: counts[k] for k in _COUNTS},
                            findings={rule: n for rule, n in sorted(findings.items()) if n})


class Iec104Traffic:
    """The IEC 104 traffic (module docstring)."""

    name: Final = "iec104"
    title: Final = "IEC 60870-5-104"
    server_port: Final = SERVER_PORT
    headline: Final = ("spontaneous", "commands")
    analyzer_modules: Final = ("wireproof.codecs.iec104.analyzer", "wireproof.codecs.iec104.framers",
                               "wireproof.codecs.iec104.codec", "wireproof.codecs.iec104.objects")

    def write(self, path: Path, frames: int) -> GeneratedCapture:
        return write_iec104_capture(path, frames)

    def check(self, capture: GeneratedCapture, document: Mapping[str, Any]) -> Check:
        frames = document["frames"]
        messages = document["messages"].get(self.name, 0)
        findings = dict(document.get("findings_by_rule", {}))
        ok = frames == capture.frames and messages == capture.messages and findings == capture.findings
        detail = f"{frames} frames, {messages} IEC 104 APDUs (expected {capture.frames}, {capture.messages})"
        if findings != capture.findings:
            detail += f"; findings by rule {findings} (expected {dict(capture.findings)})"
        return Check(library="wireproof", operation="replay", ok=ok, frames=frames, detail=detail)

    def scapy_layers(self) -> tuple[Any, ...]:
        import scapy.contrib.scada.iec104 as iec104  # binds TCP port 2404

        return (iec104.IEC104_I_Message_SeqIOA, iec104.IEC104_I_Message_SingleIOA, iec104.IEC104_S_Message,
                iec104.IEC104_U_Message)

    def scapy_check(self, sample: GeneratedCapture, packets: int, layered: int) -> Check:
        # Every data segment carries one APDU.
        expected = sample.messages
        ok = packets == sample.frames and layered == expected
        return Check(library="scapy", operation="replay", ok=ok, frames=packets,
                     detail=(f"first {sample.frames} frames of the capture: {packets} packets, {layered} "
                             f"with an IEC 104 layer (expected {sample.frames}, {expected})"))


TRAFFIC: Final = Iec104Traffic()
