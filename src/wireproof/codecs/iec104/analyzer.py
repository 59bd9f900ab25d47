"""Passive IEC 104 analyzer: the APDUs of both directions of a TCP flow in, findings out (pure).

Normative references: IEC 60870-5-104:2006 clause 5 (5.1 APCI and the
numbering, 5.2 acknowledgement, 5.3 STARTDT/STOPDT/TESTFR, 5.5 the timeouts
t1, t2, t3 and 5.6 the parameters k and w), IEC 60870-5-101:2003 7.2.3
(causes of transmission: P/N, 44..47).

Theory of operation
-------------------
Driven by the replay engine (:mod:`wireproof.codecs._analysis`), on TCP
port 2404 (104 clause 10) and on any port whose first octets look like an
APDU (:func:`looks_like_iec104`). Each direction has an
:class:`~.framers.ApduFramer`; every APDU it delimits is one message
(``iec104``, named I, S or a U function), and so is a start whose length
is outside 4..253 (one malformed APDU of the length it claims): that is
what tshark counts as an ``iec60870_104`` occurrence, on clean streams and
on the damaged ones of the shared captures alike. Octets before a start
are skipped with an ``info`` finding.

Each direction keeps the APCI's numbers from the frames themselves: V(S)
(the N(S) of the next I frame expected from it) and the I frames it sent
and the other side has not acknowledged, with their times. So the rules of
clause 5 are judged from the timestamps, with 104's default parameters
(k = 12, w = 8, t1 = 15 s, t2 = 10 s, t3 = 20 s; a device may be
configured otherwise, so the timer rules are warnings): an N(S) out of
sequence, an N(R) acknowledging frames never sent, more than k frames
unacknowledged, an acknowledgement later than t1 after the frame (or no
acknowledgement for longer than t1 where the capture goes on), a receiver
acknowledging later than t2 after it received, more than t3 of silence not
followed by TESTFR act, an I frame while data transfer is stopped (before
STARTDT con, after STOPDT con), a U act without its con within t1.
A flow that starts mid-stream, or after a gap, learns its numbers from the
first frames (no sequence finding before that).

ASDUs: a negative confirmation (P/N set) is a warning naming its cause
(44..47: unknown type identification, cause, common address, object
address). Monitor-direction values (single, double and step positions,
measured values, integrated totals) go to the analytics, one series a
point: ``"<endpoint> ca<common address> ioa<address>"``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Final

from wireproof.codecs._analysis import FlowContext, Severity, Sink, make_finding
from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.iec104.codec import decode_apdu
from wireproof.codecs.iec104.constants import (
    MAX_APDU_LENGTH,
    MIN_APDU_LENGTH,
    SEQ_MODULO,
    START,
    Cause,
    UFunction,
)
from wireproof.codecs.iec104.framers import ApduFramer
from wireproof.codecs.iec104.messages import Asdu, IFrame, SFrame, UFrame
from wireproof.errors import DecodeError

__all__ = ["Iec104Analyzer", "looks_like_iec104", "plausible_header"]

PROTOCOL: Final = "iec104"
_SLICE: Final = 4096
K: Final = 12
W: Final = 8
T1: Final = 15.0
T2: Final = 10.0
T3: Final = 20.0
_MAX_SERIES: Final = 4096
_NEGATIVE: Final = {44: "unknown type identification", 45: "unknown cause of transmission",
                    46: "unknown common address", 47: "unknown information object address"}
_U_NAMES: Final = {f: f.name for f in UFunction}
_CAUSE_NAMES: Final[dict[int, str]] = {int(c): c.name for c in Cause}
_VALUE_TYPES: Final = frozenset({1, 3, 5, 7, 9, 11, 13, 15, 21, 30, 31, 32, 33, 34, 35, 36, 37})


def plausible_header(data: bytes | bytearray, at: int = 0) -> bool:
    """Whether an APDU starts at ``data[at]``: 0x68, a length in 4..253 and a control field that
    names a format (an S or U format's other control octets as 104 fixes them)."""
    head = data[at:at + 6]
    if len(head) < 6 or head[0] != START or not MIN_APDU_LENGTH <= head[1] <= MAX_APDU_LENGTH:
        return False
    c1 = head[2]
    if not c1 & 1:
        return head[1] > 4 and not head[4] & 1
    if c1 & 3 == 1:
        return head[1] == 4 and c1 == 1 and head[3] == 0 and not head[4] & 1
    return head[1] == 4 and c1 in _U_NAMES and head[3] == head[4] == head[5] == 0


def looks_like_iec104(data: bytes, from_client: bool) -> bool | None:
    """Content heuristic for a flow on an unknown port: it starts with a plausible APDU. None
    (need more octets) while the first octets could still begin one."""
    n = len(data)
    if (n > 0 and data[0] != START) or (n > 1 and not MIN_APDU_LENGTH <= data[1] <= MAX_APDU_LENGTH):
        return False
    if n < 6:
        return None
    return plausible_header(data)


class _Side:
    """What one direction has sent, as the frames show it."""

    __slots__ = ("acked", "known", "last_ack_at", "next_send", "received_since", "started", "u_pending",
                 "unacked", "window_reported")

    def __init__(self) -> None:
        self.next_send: int | None = None  # the N(S) expected next from this side (None: not learnt)
        self.unacked: deque[tuple[int, float, int]] = deque()  # (N(S), ts, frame) sent, not acknowledged
        self.known = False
        self.acked = 0
        self.received_since: float | None = None  # when this side first received an I frame it has not acked
        self.last_ack_at = 0.0
        self.started: bool | None = None  # data transfer (as seen): None unknown
        self.u_pending: tuple[str, float, int] | None = None  # a U act sent: (name, ts, frame)
        self.window_reported = False


class Iec104Analyzer:
    """One IEC 104 flow's passive analyzer (see the module docstring)."""

    def __init__(self, flow: FlowContext, sink: Sink) -> None:
        self.flow = flow
        self.sink = sink
        self._framers = {True: ApduFramer(), False: ApduFramer()}
        self._sides = {True: _Side(), False: _Side()}
        self._doubtful = not flow.handshake
        self._last_ts: float | None = None
        self._started: bool | None = None if not flow.handshake else False
        self._series: dict[tuple[bool, int, int], str] = {}

    def _report(self, *, frame: int, ts: float, rule: str, clause: str, severity: Severity, message: str,
                from_client: bool | None, data: bytes = b"", at: int = 0, malformed: bool = False) -> None:
        self.sink.finding(make_finding(self.flow, frame=frame, ts=ts, rule=rule, clause=clause,
                                       severity=severity, message=message, data=data, at=at,
                                       from_client=from_client, malformed=malformed))

    # --- FlowAnalyzer ----------------------------------------------------------------------

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        framer = self._framers[from_client]
        for i in range(0, len(data), _SLICE):
            framer.feed(data[i:i + _SLICE])
            self._drain(from_client, framer, frame, ts)

    def plausible_header(self, from_client: bool, data: bytes) -> bool:
        return plausible_header(data)

    def on_datagram(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        self.on_data(from_client, data, frame, ts)

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None:
        self._framers[from_client].clear()
        self._doubtful = True
        for side in self._sides.values():
            side.next_send = None
            side.unacked.clear()
            side.received_since = None
            side.u_pending = None

    def on_close(self, frame: int, ts: float, how: str) -> None:
        for from_client in (True, False):
            held = self._framers[from_client].buffered
            if held:
                who = "client" if from_client else "server"
                why = "the capture ended" if how in ("end", "idle") else "the connection closed"
                self._report(frame=frame, ts=ts, rule="iec104.incomplete-apdu", clause="104 5.1",
                             severity="info" if "capture" in why else "warning", from_client=from_client,
                             message=f"{why} inside a {who} APDU ({held} octets buffered)",
                             data=self._framers[from_client].peek(64), at=0)
                self._framers[from_client].clear()
            side = self._sides[from_client]
            if side.unacked and ts - side.unacked[0][1] > T1:
                n, sent, at_frame = side.unacked[0]
                self._report(frame=at_frame, ts=sent, rule="iec104.t1", clause="104 5.5 (t1)",
                             severity="warning", from_client=from_client,
                             message=f"I frame N(S)={n} was never acknowledged ({ts - sent:.1f} s until "
                                     f"the flow ended; t1 = {T1:g} s)")

    # --- framing -----------------------------------------------------------------------------

    def _drain(self, from_client: bool, framer: ApduFramer, frame: int, ts: float) -> None:
        while True:
            try:
                raw = framer.next_frame()
            except DecodeError as err:
                if err.path == ("start",):
                    self._report(frame=frame, ts=ts, rule="iec104.resync", clause="104 5.1", severity="info",
                                 from_client=from_client, message=err.reason, data=framer.discarded, at=0)
                else:  # a length outside 4..253: one malformed APDU (tshark counts it too)
                    self.sink.message(PROTOCOL, "malformed", frame, ts)
                    self._report(frame=frame, ts=ts, rule="iec104.apdu-length", clause="104 5.1",
                                 severity="error", from_client=from_client, message=err.reason,
                                 data=framer.discarded, at=1, malformed=True)
                    self.sink.decode_error(PROTOCOL)
                continue
            if raw is NEED_DATA:
                return
            assert isinstance(raw, bytes)
            self._apdu(from_client, raw, frame, ts)

    # --- one APDU ------------------------------------------------------------------------------

    def _apdu(self, from_client: bool, raw: bytes, frame: int, ts: float) -> None:
        try:
            apdu = decode_apdu(raw)
        except DecodeError as bad:  # its own name: mypyc/mypyc#620
            c1 = raw[2] if len(raw) > 2 else 0
            kind = "I" if not c1 & 1 else "S" if c1 & 3 == 1 else "U"
            self.sink.message(PROTOCOL, f"{kind} (malformed)", frame, ts)
            self._report(frame=frame, ts=ts, rule="iec104.malformed", clause="104 5.1", severity="error",
                         from_client=from_client, message=str(bad), data=raw, at=bad.offset, malformed=True)
            self.sink.decode_error(PROTOCOL)
            return
        self._idle(from_client, apdu, raw, frame, ts)
        me, peer = self._sides[from_client], self._sides[not from_client]
        if isinstance(apdu, IFrame):
            self.sink.message(PROTOCOL, "I", frame, ts)
            self._i_frame(from_client, apdu, raw, me, peer, frame, ts)
        elif isinstance(apdu, SFrame):
            self.sink.message(PROTOCOL, "S", frame, ts)
            self._ack(from_client, apdu.recv_seq, raw, peer, me, frame, ts)
        else:
            self.sink.message(PROTOCOL, _U_NAMES[apdu.function], frame, ts)
            self._u_frame(from_client, apdu, raw, me, peer, frame, ts)

    def _idle(self, from_client: bool, apdu: Any, raw: bytes, frame: int, ts: float) -> None:
        last, self._last_ts = self._last_ts, ts
        if last is None or ts - last <= T3 + 1.0:
            return
        if isinstance(apdu, UFrame) and apdu.function is UFunction.TESTFR_ACT:
            return
        self._report(frame=frame, ts=ts, rule="iec104.t3", clause="104 5.5 (t3)", severity="info",
                     from_client=from_client, data=raw,
                     message=f"{ts - last:.1f} s without a frame, then no TESTFR act (t3 = {T3:g} s)")

    def _i_frame(self, from_client: bool, apdu: IFrame, raw: bytes, me: _Side, peer: _Side, frame: int,
                 ts: float) -> None:
        if self._started is False or me.started is False:
            self._report(frame=frame, ts=ts, rule="iec104.data-stopped", clause="104 5.3", severity="error",
                         from_client=from_client, data=raw, at=2,
                         message="an I frame while data transfer is stopped (no STARTDT con, or after "
                                 "STOPDT con)")
        ns = apdu.send_seq
        if me.next_send is not None and ns != me.next_send:
            self._report(frame=frame, ts=ts, rule="iec104.sequence", clause="104 5.1",
                         severity="info" if self._doubtful else "error", from_client=from_client, data=raw,
                         at=2, message=f"I frame N(S)={ns}, expected {me.next_send}"
                         + (" (the capture may have lost frames)" if self._doubtful else ""))
            me.unacked.clear()
        me.next_send = (ns + 1) % SEQ_MODULO
        me.unacked.append((ns, ts, frame))
        if len(me.unacked) > K and not me.window_reported:
            me.window_reported = True
            self._report(frame=frame, ts=ts, rule="iec104.window", clause="104 5.6 (k)", severity="warning",
                         from_client=from_client, data=raw, at=2,
                         message=f"{len(me.unacked)} I frames unacknowledged (k = {K})")
        if peer.received_since is None:
            peer.received_since = ts
        self._ack(from_client, apdu.recv_seq, raw, peer, me, frame, ts)
        if apdu.asdu is not None and isinstance(apdu.asdu, Asdu):
            self._asdu(from_client, apdu.asdu, raw, frame, ts)

    def _ack(self, from_client: bool, nr: int, raw: bytes, sender_of_data: _Side, acker: _Side, frame: int,
             ts: float) -> None:
        """``acker`` (direction ``from_client``) acknowledges ``sender_of_data``'s I frames before N(R)."""
        if acker.received_since is not None:
            late = ts - acker.received_since
            if late > T2 + 1.0:
                self._report(frame=frame, ts=ts, rule="iec104.t2", clause="104 5.5 (t2)", severity="warning",
                             from_client=from_client, data=raw, at=4,
                             message=f"acknowledged {late:.1f} s after the first unacknowledged I frame came "
                                     f"(t2 = {T2:g} s)")
            acker.received_since = None
        pending = sender_of_data.unacked
        if not pending:
            if sender_of_data.next_send is not None and nr != sender_of_data.next_send and not self._doubtful:
                self._unsent(from_client, nr, sender_of_data, raw, frame, ts)
            return
        first = pending[0][0]
        span = (sender_of_data.next_send - first) % SEQ_MODULO if sender_of_data.next_send is not None else 0
        covered = (nr - first) % SEQ_MODULO
        if covered > span:
            if not self._doubtful:
                self._unsent(from_client, nr, sender_of_data, raw, frame, ts)
            return
        overdue = []
        for _ in range(covered):
            n, sent, at_frame = pending.popleft()
            if ts - sent > T1:
                overdue.append((n, sent, at_frame))
        if overdue:  # one finding an acknowledgement, for the oldest frame it came late for
            n, sent, at_frame = overdue[0]
            more = f" (and {len(overdue) - 1} later I frames)" if len(overdue) > 1 else ""
            self._report(frame=frame, ts=ts, rule="iec104.t1", clause="104 5.5 (t1)", severity="warning",
                         from_client=from_client, data=raw, at=4,
                         message=f"I frame N(S)={n} (frame {at_frame}){more} acknowledged {ts - sent:.1f} s "
                                 f"after it was sent (t1 = {T1:g} s)")
        if len(pending) <= K:
            sender_of_data.window_reported = False

    def _unsent(self, from_client: bool, nr: int, side: _Side, raw: bytes, frame: int, ts: float) -> None:
        self._report(frame=frame, ts=ts, rule="iec104.ack-unsent", clause="104 5.1", severity="error",
                     from_client=from_client, data=raw, at=4,
                     message=f"N(R)={nr} acknowledges I frames never sent (next N(S) {side.next_send})")

    def _u_frame(self, from_client: bool, apdu: UFrame, raw: bytes, me: _Side, peer: _Side, frame: int,
                 ts: float) -> None:
        f = apdu.function
        if f in (UFunction.STARTDT_ACT, UFunction.STOPDT_ACT, UFunction.TESTFR_ACT):
            me.u_pending = (f.name, ts, frame)
            return
        act = peer.u_pending
        want = f.name.replace("_CON", "_ACT")
        if act is not None and act[0] == want:
            peer.u_pending = None
            if ts - act[1] > T1:
                self._report(frame=frame, ts=ts, rule="iec104.t1", clause="104 5.5 (t1)", severity="warning",
                             from_client=from_client, data=raw,
                             message=f"{f.name} came {ts - act[1]:.1f} s after its act (t1 = {T1:g} s)")
        elif not self._doubtful:
            self._report(frame=frame, ts=ts, rule="iec104.u-unexpected", clause="104 5.3",
                         severity="warning", from_client=from_client, data=raw, at=2,
                         message=f"{f.name} without a {want} before it")
        if f is UFunction.STARTDT_CON:
            self._started = True
            for side in self._sides.values():
                side.started = True
        elif f is UFunction.STOPDT_CON:
            self._started = False
            for side in self._sides.values():
                side.started = False

    # --- the ASDU ------------------------------------------------------------------------------

    def _asdu(self, from_client: bool, asdu: Asdu, raw: bytes, frame: int, ts: float) -> None:
        cause = int(asdu.cause)
        if asdu.negative:
            name = _CAUSE_NAMES.get(cause, "")
            why = _NEGATIVE.get(cause, f"cause {cause}" + (f" {name}" if name else ""))
            what = "negative confirmation" if cause not in (6, 8) else "activation with the P/N bit set"
            self.sink.statistic(PROTOCOL, "negative confirmations", why)
            self._report(frame=frame, ts=ts, rule="iec104.negative-confirm", clause="101 7.2.3",
                         severity="warning", from_client=from_client, data=raw, at=8,
                         message=f"{what} of type {int(asdu.type_id)} ({why}), common address "
                                 f"{asdu.common_address}")
        if not asdu.known:
            self._report(frame=frame, ts=ts, rule="iec104.unknown-type", clause="101 7.2.1.1",
                         severity="warning", from_client=from_client, data=raw, at=6,
                         message=f"type identification {int(asdu.type_id)} is not one 104 uses; "
                                 f"{asdu.raw_number} objects kept undecoded")
            return
        if not self.flow.values or int(asdu.type_id) not in _VALUE_TYPES:
            return
        value = self.sink.value
        for obj in asdu.objects:
            v = obj.elements.get("value")
            if v is None:
                continue
            key = (from_client, asdu.common_address, obj.address)
            series = self._series.get(key)
            if series is None:
                if len(self._series) >= _MAX_SERIES:
                    self._series.clear()
                endpoint = self.flow.client if from_client else self.flow.server
                series = self._series[key] = f"{endpoint} ca{asdu.common_address} ioa{obj.address}"
            value(series, ts, float(v))
