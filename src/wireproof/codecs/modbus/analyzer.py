"""Passive Modbus/TCP analyzer: both directions of a flow in, findings out.

Normative references: MB-TCP 3.1.3 (MBAP header: transaction id "used for
transaction pairing, the MODBUS server copies in the response the
transaction identifier of the request"; protocol id 0; length counts the
unit id and the PDU, 2..254 since an ADU is at most 260 bytes, MB-TCP 4.2),
MB-TCP 4.4.1 (the client manages response timeouts; several requests may be
outstanding on one connection), MB-TCP 4.4.2 (the server answers every
request it accepts), MB-AP 4.1 (a response carries the request's function
code), MB-AP 6.x (each function's layout and bounds), MB-AP 7 (exception
responses and codes).

Theory of operation
-------------------
A pure machine in the Modbus codec package, driven by the replay engine
(:mod:`wireproof.codecs._analysis` is the contract). Each direction is
framed by the codec's one MBAP framer,
:class:`~wireproof.codecs.modbus.framers.TcpFramer` (length 2..254; a
foreign protocol id still frames by length and is then rejected; a rejected
header's bytes stay in the framer for the finding's hex window). Most
captures carry one ADU per segment: such a segment, met with the framer in
sync and empty, skips the framer (the framer's rule inlined in this hot
loop; ``tests/codecs/modbus/test_mbap_framing.py`` holds the two, and the
declarative MBAP definition, to one answer on any stream in any chunks). Whole ADUs go to the codec's
``decode_request`` (client side) and ``decode_response`` (server side); a
``DecodeError`` is a finding whose offset is the codec's.

Requests and their responses are paired by transaction id by the shared
pairing machine (:class:`~wireproof.codecs._pairing.Pairing`, bounded:
``max_pending``, the oldest is given up as unanswered beyond it) that the
Modbus client machine and ``replay --send`` use too; whether a response fits
its request is the client machine's own rule
(:func:`wireproof.codecs.modbus.client.mismatch`). A response for an id
already answered is a duplicate, for an id never seen a response without
request, one after ``flow.timeout`` seconds of capture time a late response.
What is still outstanding when the flow ends is unanswered.

After a TCP gap, or when the capture starts mid-flow, a direction is out of
sync: the replay engine skips segments until one starts with an ADU
(:meth:`ModbusTcpAnalyzer.plausible_header`, :mod:`wireproof.codecs._resync`),
and the framer, out of sync, skips bytes up to the first offset that looks
like an MBAP header (protocol id 0, length 2..254, a public function code;
or a vendor header the bytes confirm). An MBAP length beyond 254 is
believed when the bytes confirm it (the ADU ends where a segment ends or
another header starts: the oversize rule of :mod:`wireproof.codecs._resync`):
vendor extensions such as Schneider's UMAS (function code 90) send such
ADUs; their PDU is decoded alone (an unknown function code is an opaque
``UnknownPdu`` with its bytes) and the first of a flow is reported.
Requests whose response may have fallen into a gap on the server side,
and responses that may answer a request lost in a gap (or sent before the
capture began), are reported as ``info`` rather than as violations.

Rules (``rule`` — clause — severity):

- ``modbus.mbap-length`` — MB-TCP 3.1.3 — error: length outside 2..254 (and,
  beyond 254, not confirmed by the bytes); the direction resyncs;
- ``modbus.oversized-adu`` — MB-AP 4.1 (PDU at most 253 bytes) — warning, once
  per flow: a length beyond 254 that the bytes confirm, framed by it;
- ``modbus.protocol-id`` — MB-TCP 3.1.3 — error: protocol id != 0;
- ``modbus.bounds`` — MB-AP 6.x of the function — error: a field outside the
  bounds of its function (the codec's ``DecodeError`` path names it);
- ``modbus.malformed`` — MB-AP 6.x — error: a PDU truncated, or followed by
  bytes, inside a well-framed ADU;
- ``modbus.response-without-request``, ``modbus.duplicate-response`` —
  MB-TCP 3.1.3 — error;
- ``modbus.mismatched-response`` — MB-TCP 3.1.3 (unit id), MB-AP 4.1
  (function code) or MB-AP 6.x (content) — error;
- ``modbus.late-response`` — MB-TCP 4.4.1 — warning;
- ``modbus.unanswered-request`` — MB-TCP 4.4.2 — warning (info when the
  capture ends before the response was due, or a gap may hold it);
- ``modbus.transaction-id-reuse`` — MB-TCP 3.1.3 — warning: a request
  reuses the id of one still outstanding;
- ``modbus.exception-from-client`` — MB-AP 7 — error;
- ``modbus.exception-response`` — MB-AP 7 — info (also counted per function
  and exception code);
- ``modbus.incomplete-adu`` — MB-TCP 3.1.3 — warning: the connection closed
  inside an ADU (info when only the capture ended);
- ``modbus.resync`` — MB-TCP 3.1.3 — info: bytes skipped to find a header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

from wireproof.codecs._analysis import FlowContext, Severity, Sink, make_finding
from wireproof.codecs._core import NEED_DATA
from wireproof.codecs._pairing import DUPLICATE, PAIR, Pairing
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import TcpCodec
from wireproof.codecs.modbus.client import mismatch
from wireproof.codecs.modbus.framers import TcpFramer, plausible_header, segment_starts_adu
from wireproof.codecs.modbus.pdu import REQUEST_TABLE, RESPONSE_TABLE, decode_pdu_at
from wireproof.errors import DecodeError, TrailingDataError, TruncatedError

__all__ = ["ModbusTcpAnalyzer", "function_clause", "looks_like_modbus_tcp", "plausible_header"]

PROTOCOL: Final = "modbus-tcp"
_MBAP = struct.Struct(">HHHB").unpack_from
_FEED_CHUNK: Final = 4096  # a big reassembled segment is framed piecewise (the framer's buffer is bounded)
_OVERSIZE_LIMIT: Final = 32 * 1024  # the framer's: half its 64 KiB buffer

# MB-AP 6.x: the clause of each public function code.
_CLAUSES: Final = {1: "6.1", 2: "6.2", 3: "6.3", 4: "6.4", 5: "6.5", 6: "6.6", 7: "6.7", 8: "6.8",
                   11: "6.9", 12: "6.10", 15: "6.11", 16: "6.12", 17: "6.13", 20: "6.14", 21: "6.15",
                   22: "6.16", 23: "6.17", 24: "6.18", 43: "6.19"}


def function_clause(fc: int) -> str:
    """The MB-AP clause of function code ``fc`` (MB-AP 5.1 for codes it does not define)."""
    number = _CLAUSES.get(fc & 0x7F)
    return f"MB-AP {number}" if number else "MB-AP 5.1"


def function_name(fc: int) -> str:
    """``read_holding_registers`` for 0x03; ``fc 0x41`` for codes MB-AP does not name."""
    try:
        return C.FunctionCode(fc & 0x7F).name.lower()
    except ValueError:
        return f"fc 0x{fc & 0x7F:02X}"


_NAMES: Final = [function_name(fc) for fc in range(256)]
_REQUEST_KEYS: Final = [f"{name} request" for name in _NAMES]
_RESPONSE_KEYS: Final = [f"{name} response" for name in _NAMES]
_EXCEPTION_KEYS: Final = [f"{name} exception" for name in _NAMES]


# MB-AP 6.3, 6.4: the response that answers a register read (content: one register per quantity).
_READ_ANSWERS: Final[dict[type[Any], type[Any]]] = {
    M.ReadHoldingRegistersRequest: M.ReadHoldingRegistersResponse,
    M.ReadInputRegistersRequest: M.ReadInputRegistersResponse,
}


def exception_name(code: int) -> str:
    try:
        return C.ExceptionCode(code).name
    except ValueError:
        return f"0x{code:02X}"


_EXCEPTION_NAMES: Final = [exception_name(code) for code in range(256)]
_KNOWN_EXCEPTIONS: Final = frozenset(int(code) for code in C.ExceptionCode)


def looks_like_modbus_tcp(data: bytes, from_client: bool) -> bool | None:
    """Content heuristic for a flow on an unknown port: its first bytes are whole MBAP ADUs.

    The first header must be plausible (:func:`plausible_header`) and its ADU
    complete in ``data``; if more bytes follow, they must start another
    plausible header. A client's first ADU must be a request (no 0x80 bit).
    None (need more bytes) while the bytes so far could still begin such an ADU.
    """
    n = len(data)
    if (n > 2 and data[2]) or (n > 3 and data[3]) or (n > 4 and data[4]):
        return False  # protocol id 0 and a length below 256 (MB-TCP 3.1.3)
    if n > 5 and not C.MIN_MBAP_LENGTH <= data[5] <= C.MAX_MBAP_LENGTH:
        return False
    if n < 8:
        return None
    if not plausible_header(data):
        return False
    if from_client and data[7] & C.EXCEPTION_FLAG:
        return False
    end = 6 + data[5]
    if n < end:
        return None
    if n == end or n - end >= 8:
        return n == end or plausible_header(data, end)
    follow = looks_like_modbus_tcp(data[end:], from_client)  # the next ADU's first bytes
    return None if follow is None else follow


@dataclass(slots=True)
class _Pending:
    unit: int
    fc: int
    pdu: Any  # None when the request did not decode (its bounds were broken)
    frame: int
    ts: float
    in_gap: bool = False  # the server side lost bytes since: the response may be there
    # A read whose answer feeds the analytics: (series base, start, how many of the
    # answer's values; None: all), worked out with the request.
    read: tuple[str, int, int | None] | None = None
    adu: bytes = b""  # the request itself, shown when it goes unanswered


# Which registers a request writes, and which a read answers: (table, start, values) and
# (table, start, how many of the answer's values; None: all), by message type.
_WRITTEN: Final[dict[type, Any]] = {
    M.WriteSingleRegisterRequest: lambda q: ("hr", q.address, (q.value,)),
    M.WriteSingleCoilRequest: lambda q: ("co", q.address, (q.value == C.COIL_ON,)),
    M.WriteMultipleRegistersRequest: lambda q: ("hr", q.start_address, q.values),
    M.WriteMultipleCoilsRequest: lambda q: ("co", q.start_address, q.values),
    M.ReadWriteMultipleRegistersRequest: lambda q: ("hr", q.write_start_address, q.values),
}
_READ: Final[dict[type, Any]] = {
    M.ReadHoldingRegistersRequest: lambda q: ("hr", q.start_address, None),
    M.ReadInputRegistersRequest: lambda q: ("ir", q.start_address, None),
    M.ReadCoilsRequest: lambda q: ("co", q.start_address, q.quantity),
    M.ReadDiscreteInputsRequest: lambda q: ("di", q.start_address, q.quantity),
    M.ReadWriteMultipleRegistersRequest: lambda q: ("hr", q.read_start_address, None),
}


class ModbusTcpAnalyzer:
    """One Modbus/TCP flow's passive machine (see the module docstring)."""

    def __init__(self, flow: FlowContext, sink: Sink, *, max_pending: int = 1024, history: int = 256) -> None:
        self.flow = flow
        self.sink = sink
        self.max_pending = max_pending
        self.history = history
        self._codec = TcpCodec()
        self._framers = {True: TcpFramer(sync=flow.handshake, oversize=True),
                         False: TcpFramer(sync=flow.handshake, oversize=True)}
        self._oversized = False  # an oversized ADU was reported (once per flow)
        self._pairing: Pairing[int, _Pending] = Pairing(max_pending=max_pending, history=history)
        self._pending = self._pairing.pending  # transaction id -> request, oldest first
        self._requests_seen = False
        self._client_gap = not flow.handshake  # requests may be missing from the capture
        self._timeout = flow.timeout
        # Values go to the analytics a register block (one message) at a time; series
        # names are "<server> u<unit> <table>[<address>]", the prefix cached per unit and table.
        self._values: Any = None
        if flow.values:
            block = getattr(sink, "values", None)  # optional in the Sink protocol
            self._values = block if callable(block) else self._values_one_by_one
        self._prefixes: dict[tuple[int, str], str] = {}

    # --- findings ----------------------------------------------------------------------

    def _report(self, *, frame: int, ts: float, rule: str, clause: str, severity: Severity, message: str,
                from_client: bool, data: bytes = b"", at: int = 0, malformed: bool = False) -> None:
        self.sink.finding(make_finding(self.flow, frame=frame, ts=ts, rule=rule, clause=clause,
                                       severity=severity, message=message, data=data, at=at,
                                       from_client=from_client, malformed=malformed))

    # --- FlowAnalyzer --------------------------------------------------------------------

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        framer = self._framers[from_client]
        n = len(data)
        # The fast path: in sync, nothing buffered, exactly one ADU (length 2..254, MB-TCP 3.1.3).
        if framer.sync and not framer._buf and 8 <= n <= 260 and n == 6 + (data[4] << 8 | data[5]):
            tid, pid, _length, unit = _MBAP(data)
            if pid:
                self._adu(from_client, data, frame, ts)  # reports the protocol id
            elif from_client:
                self._request(tid, unit, data, frame, ts)
            else:
                self._response(tid, unit, data, frame, ts)
            return
        for i in range(0, n, _FEED_CHUNK):
            framer.feed(data[i:i + _FEED_CHUNK], segment_end=i + _FEED_CHUNK >= n)
            self._drain(from_client, framer, frame, ts)

    def plausible_header(self, from_client: bool, data: bytes) -> bool:
        """Whether a segment starts with an ADU: the engine resumes decoding there after a gap
        (:mod:`wireproof.codecs._resync`; :func:`~.framers.segment_starts_adu`)."""
        return segment_starts_adu(data, _OVERSIZE_LIMIT)

    def on_datagram(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        # A datagram is self-contained: frame it alone, then report what is left over.
        framer = self._framers[from_client]
        framer.clear()
        framer.sync = True
        self.on_data(from_client, data, frame, ts)
        self._incomplete(from_client, frame, ts, "a datagram ended")

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None:
        self._framers[from_client].desync()
        if from_client:
            self._client_gap = True
        else:
            for pending in self._pending.values():
                pending.in_gap = True

    def on_close(self, frame: int, ts: float, how: str) -> None:
        for from_client in (True, False):
            self._incomplete(from_client, frame, ts, "the capture ended" if how in ("end", "idle")
                             else "the connection closed")
        closed = how in ("fin", "rst")
        for tid, p in self._pending.items():
            self._unanswered(tid, p, ts, closed)
        self._pending.clear()

    # --- framing ---------------------------------------------------------------------------

    def _drain(self, from_client: bool, framer: TcpFramer, frame: int, ts: float) -> None:
        """Every whole ADU the framer holds. The bytes skipped in one out-of-sync episode make
        one ``modbus.resync`` finding, when sync is regained (or at the end, by :meth:`_incomplete`)."""
        while True:
            try:
                adu = framer.next_frame()
            except DecodeError:  # an MBAP length out of 2..254: the framer discarded its buffer
                seen = framer.discarded
                self._report(frame=frame, ts=ts, rule="modbus.mbap-length", clause="MB-TCP 3.1.3",
                             severity="error", from_client=from_client,
                             message=f"MBAP length {seen[4] << 8 | seen[5]} not in 2..254; "
                             f"{framer.discarded_count} bytes skipped", data=seen, at=4, malformed=True)
                self.sink.decode_error(PROTOCOL)
                framer.sync = False  # skip to the next plausible header in what the framer kept
                continue
            if framer.resynced is not None:
                skipped, window, at = framer.resynced
                framer.resynced = None
                self._report(frame=frame, ts=ts, rule="modbus.resync", clause="MB-TCP 3.1.3", severity="info",
                             from_client=from_client,
                             message=f"{skipped} bytes skipped to the next plausible MBAP header",
                             data=window, at=at)
            if adu is NEED_DATA:
                return
            assert isinstance(adu, bytes)
            if framer.oversized and not self._oversized:
                self._oversized = True
                self._report(frame=frame, ts=ts, rule="modbus.oversized-adu", clause="MB-AP 4.1",
                             severity="warning", from_client=from_client,
                             message=f"MBAP length {framer.oversized} > 254 (function code 0x{adu[7]:02X}), "
                             "consistent with the bytes that follow: framed by its length "
                             "(a vendor extension?); reported once per flow", data=adu, at=4)
            self._adu(from_client, adu, frame, ts)

    def _incomplete(self, from_client: bool, frame: int, ts: float, why: str) -> None:
        framer = self._framers[from_client]
        who = "client" if from_client else "server"
        held = framer.buffered
        if held and framer.sync:
            self._report(frame=frame, ts=ts, rule="modbus.incomplete-adu", clause="MB-TCP 3.1.3",
                         from_client=from_client, severity="info" if "capture" in why else "warning",
                         message=f"{why} inside a {who} ADU ({held} bytes buffered)",
                         data=framer.peek(64), at=min(held, 64))
        elif not framer.sync and framer.skipped + held:
            self._report(frame=frame, ts=ts, rule="modbus.resync", clause="MB-TCP 3.1.3", severity="info",
                         from_client=from_client,
                         message=f"{framer.skipped + held} {who} bytes skipped without finding "
                         "a plausible MBAP header", data=framer.peek(32), at=0)
        framer.clear()

    # --- one ADU ---------------------------------------------------------------------------

    def _adu(self, from_client: bool, adu: bytes, frame: int, ts: float) -> None:
        tid, pid, _length, unit = _MBAP(adu)
        if pid != C.MODBUS_PROTOCOL_ID:
            self._report(frame=frame, ts=ts, rule="modbus.protocol-id", clause="MB-TCP 3.1.3",
                         severity="error", from_client=from_client,
                         message=f"protocol id {pid} != 0 (transaction {tid})",
                         data=adu, at=2, malformed=True)
            self.sink.decode_error(PROTOCOL)
            return
        if from_client:
            self._request(tid, unit, adu, frame, ts)
        else:
            self._response(tid, unit, adu, frame, ts)

    def _decode_failed(self, err: DecodeError, adu: bytes, kind: str, frame: int, ts: float) -> None:
        fc = adu[7]
        bounds = not isinstance(err, TruncatedError | TrailingDataError) and err.path[:1] == ("pdu",)
        path = ".".join(str(p) for p in err.path)
        self._report(frame=frame, ts=ts, rule="modbus.bounds" if bounds else "modbus.malformed",
                     clause=function_clause(fc), severity="error", from_client=kind == "request",
                     message=f"{function_name(fc)} {kind}: {path}: {err.reason}", data=adu, at=err.offset,
                     malformed=True)
        self.sink.decode_error(PROTOCOL)
        self.sink.message(PROTOCOL, f"{function_name(fc)} {kind} (malformed)", frame, ts)

    def _request(self, tid: int, unit: int, adu: bytes, frame: int, ts: float) -> None:
        self._requests_seen = True
        fc = adu[7]
        read: tuple[str, int, int | None] | None = None
        try:
            try:  # the PDU decoder of the function code straight away (the framer checked the MBAP)
                pdu = REQUEST_TABLE[fc](adu, 8, len(adu))
            except (KeyError, DecodeError):  # unknown code, or an error: the codec's exact answer
                pdu = self._codec.decode_request(adu).pdu if len(adu) <= C.MAX_TCP_ADU_SIZE \
                    else decode_pdu_at(REQUEST_TABLE, adu, 7, len(adu))  # oversized: the PDU alone
        except DecodeError as err:
            self._decode_failed(err, adu, "request", frame, ts)
            pdu = None
        else:
            if isinstance(pdu, M.ExceptionResponse):
                self._report(frame=frame, ts=ts, rule="modbus.exception-from-client", clause="MB-AP 7",
                             severity="error", from_client=True,
                             message=f"the client sent an exception response "
                             f"(function 0x{fc:02X})", data=adu, at=7)
                self.sink.message(PROTOCOL, _EXCEPTION_KEYS[fc], frame, ts)
                return
            self.sink.message(PROTOCOL, _REQUEST_KEYS[fc], frame, ts)
            if self._values is not None:
                read = self._values_of_request(unit, pdu, ts)
        for why, key, old in self._pairing.open(tid, _Pending(unit, fc, pdu, frame, ts, False, read, adu)):
            if why == "reuse":
                self._report(frame=frame, ts=ts, rule="modbus.transaction-id-reuse", clause="MB-TCP 3.1.3",
                             severity="warning", from_client=True,
                             message=f"transaction {tid} reused while the request of "
                             f"frame {old.frame} is outstanding", data=adu, at=0)
            else:  # evicted: more than max_pending outstanding
                self._unanswered(key, old, ts, False, note=f" (more than {self.max_pending} outstanding)")

    def _response(self, tid: int, unit: int, adu: bytes, frame: int, ts: float) -> None:
        fc = adu[7]
        action, pending = self._pairing.answer(tid)  # remembered, to tell a duplicate from an orphan
        try:
            try:  # the PDU decoder of the function code straight away (the framer checked the MBAP)
                pdu = RESPONSE_TABLE[fc](adu, 8, len(adu))
            except (KeyError, DecodeError):  # unknown code, or an error: the codec's exact answer
                pdu = self._codec.decode_response(adu).pdu if len(adu) <= C.MAX_TCP_ADU_SIZE \
                    else decode_pdu_at(RESPONSE_TABLE, adu, 7, len(adu))  # oversized: the PDU alone
        except DecodeError as err:
            self._decode_failed(err, adu, "response", frame, ts)
            return
        is_exception = isinstance(pdu, M.ExceptionResponse)
        self.sink.message(PROTOCOL, (_EXCEPTION_KEYS if is_exception else _RESPONSE_KEYS)[fc], frame, ts)
        if is_exception:
            self._exception(pdu, adu, frame, ts)
        if action != PAIR or pending is None:
            self._unpaired(tid, action, pending, adu, frame, ts)
            return
        elapsed = ts - pending.ts
        if elapsed > self._timeout:
            self._report(frame=frame, ts=ts, rule="modbus.late-response", clause="MB-TCP 4.4.1",
                         severity="warning", from_client=False,
                         message=f"response to the request of frame {pending.frame} "
                         f"after {elapsed:.3f} s (timeout {self._timeout:g} s)", data=adu, at=0)
        req = pending.pdu
        if req is not None and type(pdu) is _READ_ANSWERS.get(type(req)) and unit == pending.unit \
                and len(pdu.values) == req.quantity:
            reason = None  # what mismatch() concludes for a fitting read, without its checks
        else:
            reason = self._mismatch(pending, unit, pdu)
        if reason is not None:
            clause, at = (("MB-TCP 3.1.3", 6) if reason.startswith("unit id") else
                          ("MB-AP 4.1", 7) if reason.startswith("function code") else
                          (function_clause(fc), 8))
            self._report(frame=frame, ts=ts, rule="modbus.mismatched-response", clause=clause,
                         severity="error", from_client=False,
                         message=f"response to the request of frame {pending.frame}: "
                         f"{reason}", data=adu, at=at)
        elif not is_exception and pending.read is not None:
            base, start, count = pending.read
            self._values(base, start, ts, pdu.values if count is None else pdu.values[:count])

    @staticmethod
    def _mismatch(pending: _Pending, unit: int, pdu: Any) -> str | None:
        req = pending.pdu
        if req is not None:
            return mismatch(req, pending.unit, pdu, unit)
        if unit != pending.unit:
            return f"unit id {unit} != {pending.unit} of the request"
        if pdu.function_code != pending.fc & 0x7F:
            return f"function code 0x{pdu.function_code:02X} != 0x{pending.fc:02X} of the request"
        return None

    def _unpaired(self, tid: int, action: str, p: _Pending | None, adu: bytes, frame: int, ts: float) -> None:
        if action == DUPLICATE and p is not None:
            self._report(frame=frame, ts=ts, rule="modbus.duplicate-response", clause="MB-TCP 3.1.3",
                         severity="error", from_client=False,
                         message=f"second response to transaction {tid} (request in frame "
                         f"{p.frame})", data=adu, at=0)
            return
        doubtful = self._client_gap or not self._requests_seen
        why = " (its request may precede the capture or be in a gap)" if doubtful else ""
        self._report(frame=frame, ts=ts, rule="modbus.response-without-request", clause="MB-TCP 3.1.3",
                     severity="info" if doubtful else "error", from_client=False,
                     message=f"response with transaction {tid}, for which no request was seen{why}",
                     data=adu, at=0)

    def _exception(self, pdu: M.ExceptionResponse, adu: bytes, frame: int, ts: float) -> None:
        code = int(pdu.exception_code)
        name = _EXCEPTION_NAMES[code & 0xFF]  # one byte (MB-AP 7): the tables, not an enum lookup each
        function = _NAMES[pdu.function_code & 0xFF]
        self.sink.statistic(PROTOCOL, "exceptions", f"{function}: {name}")
        known = code in _KNOWN_EXCEPTIONS
        self._report(frame=frame, ts=ts, rule="modbus.exception-response", clause="MB-AP 7",
                     severity="info" if known else "warning", from_client=False,
                     message=f"exception {name} ({code}) to {function}"
                     + ("" if known else ": not an MB-AP 7 exception code"), data=adu, at=8)

    def _unanswered(self, tid: int, p: _Pending, now: float, closed: bool, note: str = "") -> None:
        due = now - p.ts > self.flow.timeout or closed
        severity: Severity = "warning" if due and not p.in_gap else "info"
        why = (" (the response may be in a capture gap)" if p.in_gap else
               "" if due else " (the capture ends before it was due)")
        self._report(frame=p.frame, ts=p.ts, rule="modbus.unanswered-request", clause="MB-TCP 4.4.2",
                     severity=severity, from_client=True, data=p.adu, at=0,  # its transaction id
                     message=f"{function_name(p.fc)} request, transaction {tid}, never answered{why}{note}")

    # --- values for the analytics -------------------------------------------------------------

    def _values_one_by_one(self, base: str, start: int, ts: float, values: Any) -> None:
        """For a sink without ``values``: each register by :meth:`Sink.value`."""
        value = self.sink.value
        for i, v in enumerate(values, start):
            value(f"{base}[{i}]", ts, float(v))

    def _base(self, unit: int, table: str) -> str:
        base = self._prefixes.get((unit, table))
        if base is None:
            base = self._prefixes[(unit, table)] = f"{self.flow.server} u{unit} {table}"
        return base

    def _values_of_request(self, unit: int, pdu: Any, ts: float) -> tuple[str, int, int | None] | None:
        """Hand the values a request writes to the analytics; what its answer will read, if any."""
        kind = type(pdu)
        how = _WRITTEN.get(kind)
        if how is not None:
            table, start, values = how(pdu)
            self._values(self._base(unit, table), start, ts, values)
        how = _READ.get(kind)  # a read-write request both writes and reads
        if how is None:
            return None
        table, start, count = how(pdu)
        return self._base(unit, table), start, count
