"""Passive DNP3 analyzer: link frames of both directions of a flow in, findings out (pure).

Normative references: IEEE 1815-2012 9.2.4 (FT3 frame: start octets 0x05
0x64, LENGTH, control, destination, source, header CRC), 9.2.4.1.5 and
9.2.4.2 (the header CRC and the CRC of each user-data block of up to 16
octets), 9.3 (a station discards a frame whose CRC fails), 8.2.2 (transport
reassembly: FIR starts a fragment, the sequence number counts up mod 64).

Theory of operation
-------------------
A pure machine in the DNP3 codec package, driven by the replay engine
(:mod:`wireproof.codecs._analysis` is the contract), over TCP and UDP
(IEEE 1815 Annex E: port 20000 for both). Each direction has the codec's
:class:`~.framers.LinkFramer`, which believes a LENGTH only under a valid
header CRC and otherwise drops the start octets and hunts for the next
0x05 0x64. Every frame the framer delimits is one message (``dnp3``, named
by its link function): that is what tshark counts as a ``dnp3.start``,
whether or not its user-data CRCs hold. The frame then goes to
:func:`~.link.decode_link`; a failing block CRC (or an undefined link
function) is the frame's one malformed finding. The user data of primary
USER_DATA frames goes to a transport :class:`~.transport.Reassembler`, one
per (direction, source, destination) — on UDP several stations may share a
flow — and a segment out of sequence is a finding (an ``info`` when the
capture may have lost its predecessor: the flow started mid-stream, or a
gap came since). Every whole fragment a reassembler gives goes to the
flow's :class:`~.app_analyzer.ApplicationAnalyzer` (application-layer rules:
confirmations, request/response sequence numbers, IIN, select-before-operate,
fragments that do not decode; point values into the analytics; see its module).

Bytes are fed to the framer in slices of at most :data:`_SLICE` octets and
drained between them, so the framer's buffer stays below its bound whatever
the segment size. After a TCP gap the engine resynchronises on the next
segment that :meth:`Dnp3Analyzer.plausible_header` accepts
(:mod:`wireproof.codecs._resync`). A datagram is framed alone: octets left
at its end are a finding.
"""

from __future__ import annotations

from typing import Final

from wireproof.codecs._analysis import FlowContext, Severity, Sink, make_finding
from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.dnp3 import constants as C
from wireproof.codecs.dnp3.app_analyzer import ApplicationAnalyzer
from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link, link_header_crc_ok
from wireproof.codecs.dnp3.transport import Reassembler, TransportSequenceError
from wireproof.errors import ChecksumError, DecodeError

__all__ = ["Dnp3Analyzer", "looks_like_dnp3", "plausible_header"]

PROTOCOL: Final = "dnp3"
_SLICE: Final = 4096  # octets fed to a framer between drains (its buffer stays bounded)
_MAX_REASSEMBLERS: Final = 256  # (direction, source, destination) pairs kept per flow
_USER_DATA = (PrimaryFunction.CONFIRMED_USER_DATA, PrimaryFunction.UNCONFIRMED_USER_DATA)


def plausible_header(data: bytes | bytearray, at: int = 0) -> bool:
    """Whether an FT3 header starts at ``data[at]``: start octets, LENGTH >= 5, header CRC (9.2.4.1)."""
    head = data[at:at + C.LINK_HEADER_SIZE]
    return (len(head) == C.LINK_HEADER_SIZE and head[0] == 0x05 and head[1] == 0x64
            and head[2] >= C.MIN_LINK_LENGTH and link_header_crc_ok(head))


def looks_like_dnp3(data: bytes, from_client: bool) -> bool | None:
    """Content heuristic for a flow (or datagram) on an unknown port: it starts with an FT3 header
    whose CRC holds. None (need more bytes) while the first bytes could still begin one."""
    n = len(data)
    if (n > 0 and data[0] != 0x05) or (n > 1 and data[1] != 0x64) or (n > 2 and data[2] < C.MIN_LINK_LENGTH):
        return False
    if n < C.LINK_HEADER_SIZE:
        return None
    return link_header_crc_ok(data[:C.LINK_HEADER_SIZE])


class Dnp3Analyzer:
    """One DNP3 flow's passive analyzer (see the module docstring)."""

    def __init__(self, flow: FlowContext, sink: Sink) -> None:
        self.flow = flow
        self.sink = sink
        self._framers = {True: LinkFramer(), False: LinkFramer()}
        self._reassemblers: dict[tuple[bool, int, int], Reassembler] = {}
        self._doubtful = {True: not flow.handshake, False: not flow.handshake}  # predecessors may be lost
        self._app = ApplicationAnalyzer(flow, sink, self._report)

    def _report(self, *, frame: int, ts: float, rule: str, clause: str, severity: Severity, message: str,
                from_client: bool | None, data: bytes = b"", at: int = 0, malformed: bool = False) -> None:
        self.sink.finding(make_finding(self.flow, frame=frame, ts=ts, rule=rule, clause=clause,
                                       severity=severity, message=message, data=data, at=at,
                                       from_client=from_client, malformed=malformed))

    # --- FlowAnalyzer --------------------------------------------------------------------

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        framer = self._framers[from_client]
        for i in range(0, len(data), _SLICE):
            framer.feed(data[i:i + _SLICE])
            self._drain(from_client, framer, frame, ts)

    def plausible_header(self, from_client: bool, data: bytes) -> bool:
        """Whether a segment starts with an FT3 header: the engine resumes decoding there after a gap
        (:mod:`wireproof.codecs._resync`)."""
        return plausible_header(data)

    def on_datagram(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        framer = self._framers[from_client]
        framer.clear()
        self.on_data(from_client, data, frame, ts)
        self._incomplete(from_client, frame, ts, "a datagram ended")

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None:
        self._framers[from_client].clear()
        self._doubtful[from_client] = True
        self._app.gap()
        for key, reassembler in self._reassemblers.items():
            if key[0] == from_client:
                reassembler.reset()

    def on_close(self, frame: int, ts: float, how: str) -> None:
        for from_client in (True, False):
            self._incomplete(from_client, frame, ts, "the capture ended" if how in ("end", "idle")
                             else "the connection closed")
        self._app.close(frame, ts, how)

    # --- framing ---------------------------------------------------------------------------

    def _drain(self, from_client: bool, framer: LinkFramer, frame: int, ts: float) -> None:
        while True:
            try:
                raw = framer.next_frame()
            except ChecksumError as crc:  # a header CRC: the two start octets are gone
                # each except variable its own name: mypyc types one once per function (mypyc/mypyc#620)
                self._report(frame=frame, ts=ts, rule="dnp3.link-header-crc", clause="IEEE 1815 9.2.4.1.5",
                             severity="error", from_client=from_client, message=f"link header: {crc.reason}",
                             data=framer.discarded + framer.peek(8), at=crc.offset, malformed=True)
                self.sink.decode_error(PROTOCOL)
                continue
            except DecodeError as err:
                if err.path == ("link", "start"):  # octets before a start: skipped, not a frame
                    self._report(frame=frame, ts=ts, rule="dnp3.resync", clause="IEEE 1815 9.2.4.1.1",
                                 severity="info", from_client=from_client, message=err.reason,
                                 data=framer.discarded, at=0)
                else:  # LENGTH < 5 under a valid CRC
                    self._report(frame=frame, ts=ts, rule="dnp3.link-length", clause="IEEE 1815 9.2.4.1.2",
                                 severity="error", from_client=from_client, message=err.reason,
                                 data=framer.discarded + framer.peek(8), at=err.offset, malformed=True)
                    self.sink.decode_error(PROTOCOL)
                continue
            if raw is NEED_DATA:
                return
            assert isinstance(raw, bytes)
            self._frame(from_client, raw, frame, ts)

    def _incomplete(self, from_client: bool, frame: int, ts: float, why: str) -> None:
        framer = self._framers[from_client]
        held = framer.buffered
        if held:
            who = "client" if from_client else "server"
            self._report(frame=frame, ts=ts, rule="dnp3.incomplete-frame", clause="IEEE 1815 9.2.4",
                         severity="info" if "capture" in why else "warning", from_client=from_client,
                         message=f"{why} inside a {who} link frame ({held} octets buffered)",
                         data=framer.peek(64), at=min(held, 64))
        framer.clear()

    # --- one link frame --------------------------------------------------------------------

    def _frame(self, from_client: bool, raw: bytes, frame: int, ts: float) -> None:
        control = raw[3]
        prm = bool(control & 0x40)
        code = control & 0x0F
        try:
            link = decode_link(raw)
        except DecodeError as err:
            self.sink.message(PROTOCOL, f"{'primary' if prm else 'secondary'} function {code} (malformed)",
                              frame, ts)
            block = isinstance(err, ChecksumError) and err.path[1:2] == ("block",)
            what = f"user-data block {err.path[2]} CRC" if block else "link frame"
            self._report(frame=frame, ts=ts, rule="dnp3.link-block-crc" if block else "dnp3.link-malformed",
                         clause="IEEE 1815 9.2.4.2" if block else "IEEE 1815 9.2.4.1.3.6",
                         severity="error", from_client=from_client, message=f"{what}: {err.reason}",
                         data=raw, at=err.offset, malformed=True)
            self.sink.decode_error(PROTOCOL)
            return
        self.sink.message(PROTOCOL, link.function.name, frame, ts)
        if link.prm and link.function in _USER_DATA and link.user_data:
            self._segment(from_client, link.source, link.destination, link.user_data, raw, frame, ts)

    def _segment(self, from_client: bool, source: int, destination: int, segment: bytes, raw: bytes,
                 frame: int, ts: float) -> None:
        key = (from_client, source, destination)
        reassembler = self._reassemblers.get(key)
        if reassembler is None:
            if len(self._reassemblers) >= _MAX_REASSEMBLERS:
                del self._reassemblers[next(iter(self._reassemblers))]
            reassembler = self._reassemblers[key] = Reassembler(protocol=PROTOCOL)
            fresh = True
        else:
            fresh = False
        abandoned = reassembler.abandoned
        fragment = None
        try:
            fragment = reassembler.feed(segment)
        except TransportSequenceError as out_of_sequence:  # its own name: mypyc/mypyc#620 (see _drain)
            doubtful = fresh or self._doubtful[from_client]
            why = " (its predecessor may precede the capture or be in a gap)" if doubtful else ""
            self._report(frame=frame, ts=ts, rule="dnp3.transport-sequence", clause="IEEE 1815 8.2.2",
                         severity="info" if doubtful else "error", from_client=from_client,
                         message=f"link {source} -> {destination}: {out_of_sequence.reason}{why}",
                         data=raw, at=C.LINK_HEADER_SIZE)
        except DecodeError as err:
            self._report(frame=frame, ts=ts, rule="dnp3.transport-fragment", clause="IEEE 1815 8.2.2",
                         severity="error", from_client=from_client,
                         message=f"link {source} -> {destination}: {err.reason}", data=raw,
                         at=C.LINK_HEADER_SIZE)
        else:
            if reassembler.abandoned != abandoned:
                self._report(frame=frame, ts=ts, rule="dnp3.transport-abandoned", clause="IEEE 1815 8.2.2",
                             severity="warning", from_client=from_client,
                             message=f"link {source} -> {destination}: a FIR segment came before the "
                             "fragment in progress ended; that fragment is dropped", data=raw,
                             at=C.LINK_HEADER_SIZE)
            if fragment is not None:
                self._app.fragment(from_client, source, destination, fragment, frame, ts)
