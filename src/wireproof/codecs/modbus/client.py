"""Modbus client machine (sans-I/O): requests out, bytes in, events out.

Normative references: MB-TCP 3.1.3 (transaction identifier: "used for
transaction pairing, the MODBUS server copies in the response the transaction
identifier of the request"), MB-TCP 4.4.1 (a client may send several requests
on one connection without waiting: pipelining); MB-SL 2.1 (the master
initiates only one transaction at a time; broadcast requests get no reply);
MB-AP 7 (exception responses).

Theory of operation
-------------------
Like h11, the client never touches a socket or a clock. The driver:

1. calls :meth:`ModbusClient.request` with a PDU, a unit id and ``now``; it
   gets back the transaction id and the bytes to send;
2. feeds whatever bytes arrive to :meth:`ModbusClient.receive_data` with
   ``now``; it gets back a list of events;
3. calls :meth:`ModbusClient.tick` with ``now`` whenever it likes (e.g. at
   :meth:`ModbusClient.next_deadline`); it gets back :class:`Timeout` events.

Time is a float the caller chooses (seconds on any monotonic scale); it is
only ever compared and subtracted.

Transaction ids are sequential from ``first_transaction_id``, wrap from 65535
to 0, and skip ids still outstanding. On TCP a response is paired with its
request by transaction id, and up to ``window`` requests may be outstanding at
once; one more is a :class:`~wireproof.errors.LocalProtocolError`. On RTU and
ASCII the master follows :data:`MASTER`, the serial master's state diagram
(MB-SL 2.4.1: Idle, Waiting for reply): one transaction at a time (MB-SL
2.1; a second request while waiting is a LocalProtocolError), and a reply
is paired with the one outstanding request by order; the ids still exist,
for the caller's benefit. A serial broadcast (unit id 0) is never
outstanding: no reply is expected.

Which request an answer answers — pending, already answered, timed out, or
none — is the shared pairing machine's rule
(:class:`~wireproof.codecs._pairing.Pairing`, the same the passive replay
analyzer and ``replay --send`` use); whether it *fits* its request is
:func:`mismatch`, Modbus's rule, also shared with the analyzer.

Every response becomes exactly one event:

- :class:`ResponseReceived` / :class:`ExceptionReceived` — paired, and fits;
- :class:`MismatchedResponse` — paired, but the function code, unit id or
  content does not fit the request (an echo that differs, a register count
  other than the quantity asked for, a response type of another function).
  The transaction is over: a later response for it is a duplicate;
- :class:`DuplicateResponse` — for a transaction already answered;
- :class:`LateResponse` — for a transaction that already timed out;
- :class:`UnexpectedResponse` — for no transaction this client knows of;
- :class:`MalformedResponse` — bytes that do not frame or decode; never an
  exception. The request it was meant to answer stays outstanding (it times
  out), since the bytes cannot be trusted to say which one it was.

The machine remembers the last ``history`` answered and timed-out transaction
ids (bounded memory); reusing an id after a wrap forgets its old history.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Final, Literal

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs._pairing import DUPLICATE, LATE, PAIR, Pairing
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import AsciiCodec, RtuCodec, TcpCodec
from wireproof.errors import DecodeError, LocalProtocolError

__all__ = [
    "DuplicateResponse",
    "Event",
    "ExceptionReceived",
    "LateResponse",
    "MASTER",
    "MalformedResponse",
    "MasterState",
    "MismatchedResponse",
    "ModbusClient",
    "ResponseReceived",
    "SerialMaster",
    "Timeout",
    "UnexpectedResponse",
]

Framing = Literal["tcp", "rtu", "ascii"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseReceived:
    """A normal response paired with its request."""

    transaction_id: int
    unit_id: int
    request: M.Pdu
    response: M.Pdu
    elapsed: float


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionReceived:
    """An exception response (MB-AP 7) paired with its request."""

    transaction_id: int
    unit_id: int
    request: M.Pdu
    response: M.ExceptionResponse
    elapsed: float

    @property
    def exception_code(self) -> int:
        return int(self.response.exception_code)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout:
    """No response arrived before the request's deadline."""

    transaction_id: int
    unit_id: int
    request: M.Pdu
    elapsed: float


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexpectedResponse:
    """A response for no transaction this client has open or remembers.

    ``transaction_id`` is the one on the wire (TCP), or ``None`` (serial).
    """

    transaction_id: int | None
    unit_id: int
    response: M.Pdu


@dataclass(frozen=True, slots=True, kw_only=True)
class DuplicateResponse:
    """A second response for a transaction already answered."""

    transaction_id: int
    unit_id: int
    request: M.Pdu
    response: M.Pdu


@dataclass(frozen=True, slots=True, kw_only=True)
class LateResponse:
    """A response for a transaction that had already timed out."""

    transaction_id: int
    unit_id: int
    request: M.Pdu
    response: M.Pdu
    elapsed: float


@dataclass(frozen=True, slots=True, kw_only=True)
class MismatchedResponse:
    """A response paired with a request it does not fit; ``reason`` says how."""

    transaction_id: int
    unit_id: int
    request: M.Pdu
    response: M.Pdu
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MalformedResponse:
    """Bytes that do not frame or decode as a response.

    ``frame`` is the whole frame when the framer found one (empty when the
    framer itself rejected the stream); ``transaction_id`` the MBAP's, when a
    TCP frame had a whole header.
    """

    error: DecodeError
    frame: bytes = b""
    transaction_id: int | None = None


Event = (ResponseReceived | ExceptionReceived | Timeout | UnexpectedResponse | DuplicateResponse
         | LateResponse | MismatchedResponse | MalformedResponse)


@dataclass(slots=True)
class _Pending:
    transaction_id: int
    unit_id: int
    request: M.Pdu
    sent_at: float
    deadline: float


# --- the serial master (MB-SL 2.4.1) ---------------------------------------------------------


class MasterState(enum.Enum):
    """The states of MB-SL 2.4.1's master state diagram that a sans-I/O master can be in."""

    IDLE = "Idle"
    WAITING_FOR_REPLY = "Waiting for reply"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRequest:
    """The master sends a request to one slave (unit id 1..247)."""

    unit_id: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class SendBroadcast:
    """The master sends a broadcast (address 0, MB-SL 2.1): no slave replies."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyReceived:
    """A frame that decodes as a reply arrived."""

    unit_id: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class GarbageReceived:
    """Bytes that do not frame or decode arrived (MB-SL 2.4.1: "error frame", ignored)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseTimeout:
    """The response time-out of the request awaiting its reply expired."""


_IDLE, _WAITING = MasterState.IDLE, MasterState.WAITING_FOR_REPLY

MASTER: Final = TransitionTable(
    name="Modbus serial master", protocol="modbus-rtu", states=MasterState,
    events=(SendRequest, SendBroadcast, ReplyReceived, GarbageReceived, ResponseTimeout),
    rules={
        (_IDLE, SendRequest): Transition(_WAITING, "send"),
        # MB-SL 2.1: no reply to a broadcast; the turnaround delay before the next request is the driver's.
        (_IDLE, SendBroadcast): Transition(_IDLE, "broadcast"),
        (_IDLE, ReplyReceived): Transition(_IDLE, "stray"),  # late, duplicate or unexpected
        (_WAITING, ReplyReceived): Transition(_IDLE, "reply"),
        (_IDLE, GarbageReceived): Transition(_IDLE, "malformed"),
        # MB-SL 2.4.1: an error frame is dropped; the request stays outstanding until its time-out.
        (_WAITING, GarbageReceived): Transition(_WAITING, "malformed"),
        (_WAITING, ResponseTimeout): Transition(_IDLE, "time-out"),
    },
    clause="MB-SL 2.1",  # "the master initiates only one MODBUS transaction at the same time"
    clauses={(None, ResponseTimeout): "MB-SL 2.4.1 (only a request awaiting its reply times out)"},
    local=(SendRequest, SendBroadcast, ResponseTimeout),
)


class SerialMaster(Machine[MasterState]):
    """The serial master's line state on :data:`MASTER` (used by :class:`ModbusClient` on RTU/ASCII)."""

    TABLE = MASTER

    def __init__(self) -> None:
        self.state = MasterState.IDLE

    @classmethod
    def in_state(cls, state: MasterState) -> SerialMaster:
        master = cls()
        master.state = state
        return master

    def handle(self, event: object, role: Role) -> str:
        return self._step(event, role).action


class ModbusClient:
    """A Modbus client (master) on one connection; see the module docstring."""

    def __init__(self, framing: Framing = "tcp", *, window: int | None = None, timeout: float = 1.0,
                 first_transaction_id: int = 1, history: int = 256) -> None:
        if framing not in ("tcp", "rtu", "ascii"):
            raise ValueError(f"framing must be tcp, rtu or ascii, not {framing!r}")
        window = (16 if framing == "tcp" else 1) if window is None else window
        if framing != "tcp" and window != 1:
            raise LocalProtocolError(f"a serial master has one transaction at a time, not {window}",
                                     clause="MB-SL 2.1", protocol=f"modbus-{framing}")
        if not 1 <= window <= 0x10000:
            raise ValueError(f"window must be 1..65536, not {window}")
        self.framing: Framing = framing
        self.window = window
        self.timeout = timeout
        self.history = history
        self._codec: TcpCodec | RtuCodec | AsciiCodec = (
            TcpCodec() if framing == "tcp" else RtuCodec() if framing == "rtu" else AsciiCodec())
        self._framer: Any = self._codec.framer("response") if framing == "rtu" else self._codec.framer()
        self._next_tid = first_transaction_id & 0xFFFF
        self._pairing: Pairing[int, _Pending] = Pairing(max_pending=0x10000, history=history)
        self._outstanding = self._pairing.pending  # transaction id -> request, oldest first
        self._line = SerialMaster() if framing != "tcp" else None
        self._last_serial: int | None = None  # serial: the transaction a stray response refers to

    @property
    def protocol(self) -> str:
        return self._codec.name

    @property
    def outstanding(self) -> tuple[int, ...]:
        """Transaction ids awaiting a response, oldest first."""
        return tuple(self._outstanding)

    def next_deadline(self) -> float | None:
        """The earliest deadline of an outstanding request (when to call :meth:`tick`)."""
        return min((p.deadline for p in self._outstanding.values()), default=None)

    # --- sending -----------------------------------------------------------------------

    def request(self, pdu: M.Pdu, *, unit_id: int = 1, now: float, timeout: float | None = None,
                strict: bool = True) -> tuple[int, bytes]:
        """Start a transaction: its id and the ADU to send.

        ``strict=False`` encodes PDUs outside the spec bounds (for conformance
        tests). Raises :class:`LocalProtocolError` when the window is full.
        """
        broadcast = self.framing != "tcp" and unit_id == C.BROADCAST_ADDRESS
        if self._line is None and len(self._outstanding) >= self.window:
            raise LocalProtocolError(
                f"{len(self._outstanding)} requests outstanding; window is {self.window}",
                clause="MB-TCP 4.4.1", protocol=self.protocol)
        if not 0 <= unit_id <= 0xFF:
            raise LocalProtocolError(f"unit id {unit_id} not in 0..255", protocol=self.protocol)
        line_event = SendBroadcast() if broadcast else SendRequest(unit_id=unit_id)
        if self._line is not None:  # MB-SL 2.1 / 2.4.1: the line's table decides (the move is made once sent)
            MASTER.step(self._line.state, line_event, Role.LOCAL)
        tid = self._allocate()
        adu: Any
        if self.framing == "tcp":
            adu = M.TcpAdu(transaction_id=tid, unit_id=unit_id, pdu=pdu)
        elif self.framing == "rtu":
            adu = M.RtuAdu(address=unit_id, pdu=pdu)
        else:
            adu = M.AsciiAdu(address=unit_id, pdu=pdu)
        data = self._codec.encode(adu, strict)
        if self._line is not None:
            self._line.handle(line_event, Role.LOCAL)
        if broadcast:
            self._last_serial = None  # MB-SL 2.1: no reply to a broadcast; any reply is unexpected
            self._pairing.answered.pop(tid, None)
            self._pairing.timed_out.pop(tid, None)
        else:
            limit = self.timeout if timeout is None else timeout
            self._pairing.open(tid, _Pending(tid, unit_id, pdu, now, now + limit))
        return tid, data

    def _allocate(self) -> int:
        tid = self._next_tid
        while tid in self._outstanding:  # cannot loop forever: the window is below 65536 ids
            tid = (tid + 1) & 0xFFFF
        self._next_tid = (tid + 1) & 0xFFFF
        return tid

    # --- receiving ---------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> list[Event]:
        """Feed received bytes; one event per whole frame (and per framing error)."""
        events: list[Event] = []
        try:
            self._framer.feed(bytes(data))
        except DecodeError as err:
            events.append(self._malformed(MalformedResponse(error=err)))
        while True:
            try:
                frame = self._framer.next_frame()
            except DecodeError as err:
                events.append(self._malformed(MalformedResponse(error=err)))
                continue
            if frame is NEED_DATA:
                return events
            events.append(self._receive_frame(bytes(frame), now))

    def _malformed(self, event: MalformedResponse) -> MalformedResponse:
        if self._line is not None:
            self._line.handle(GarbageReceived(), Role.REMOTE)
        return event

    def _receive_frame(self, frame: bytes, now: float) -> Event:
        try:
            adu = self._codec.decode_response(frame)
        except DecodeError as err:
            tid = frame[0] << 8 | frame[1] if self.framing == "tcp" and len(frame) >= 7 else None
            return self._malformed(MalformedResponse(error=err, frame=frame, transaction_id=tid))
        if isinstance(adu, M.TcpAdu):
            return self._pair(adu.transaction_id, adu.transaction_id, adu.unit_id, adu.pdu, now)
        assert self._line is not None
        # MB-SL 2.1: a reply answers the one outstanding request (if any), else the last one.
        serial_tid = next(iter(self._outstanding), self._last_serial)
        self._line.handle(ReplyReceived(unit_id=adu.address), Role.REMOTE)
        return self._pair(serial_tid, None, adu.address, adu.pdu, now)

    def _pair(self, tid: int | None, wire_tid: int | None, unit_id: int, response: M.Pdu,
              now: float) -> Event:
        action, pending = self._pairing.answer(tid) if tid is not None else ("unexpected", None)
        if self._line is not None and pending is not None:
            self._last_serial = pending.transaction_id
        if action == DUPLICATE and pending is not None:
            return DuplicateResponse(transaction_id=pending.transaction_id, unit_id=unit_id,
                                     request=pending.request, response=response)
        if action == LATE and pending is not None:
            return LateResponse(transaction_id=pending.transaction_id, unit_id=unit_id,
                                request=pending.request, response=response, elapsed=now - pending.sent_at)
        if action != PAIR or pending is None:
            return UnexpectedResponse(transaction_id=wire_tid, unit_id=unit_id, response=response)
        elapsed = now - pending.sent_at
        reason = mismatch(pending.request, pending.unit_id, response, unit_id)
        if reason is not None:
            return MismatchedResponse(transaction_id=pending.transaction_id, unit_id=unit_id,
                                      request=pending.request, response=response, reason=reason)
        if isinstance(response, M.ExceptionResponse):
            return ExceptionReceived(transaction_id=pending.transaction_id, unit_id=unit_id,
                                     request=pending.request, response=response, elapsed=elapsed)
        return ResponseReceived(transaction_id=pending.transaction_id, unit_id=unit_id,
                                request=pending.request, response=response, elapsed=elapsed)

    # --- time --------------------------------------------------------------------------

    def tick(self, now: float) -> list[Event]:
        """Time out every request whose deadline is at or before ``now``."""
        expired = sorted((p for p in self._outstanding.values() if p.deadline <= now),
                         key=lambda p: p.deadline)
        events: list[Event] = []
        for p in expired:
            self._pairing.expire(p.transaction_id)
            if self._line is not None:
                self._line.handle(ResponseTimeout(), Role.LOCAL)
                self._last_serial = p.transaction_id
            events.append(Timeout(transaction_id=p.transaction_id, unit_id=p.unit_id, request=p.request,
                                  elapsed=now - p.sent_at))
        return events


# --- does a response fit its request? --------------------------------------------------

_RESPONSE_FOR: dict[type[Any], type[Any]] = {
    M.ReadCoilsRequest: M.ReadCoilsResponse,
    M.ReadDiscreteInputsRequest: M.ReadDiscreteInputsResponse,
    M.ReadHoldingRegistersRequest: M.ReadHoldingRegistersResponse,
    M.ReadInputRegistersRequest: M.ReadInputRegistersResponse,
    M.WriteSingleCoilRequest: M.WriteSingleCoilResponse,
    M.WriteSingleRegisterRequest: M.WriteSingleRegisterResponse,
    M.ReadExceptionStatusRequest: M.ReadExceptionStatusResponse,
    M.DiagnosticsRequest: M.DiagnosticsResponse,
    M.GetCommEventCounterRequest: M.GetCommEventCounterResponse,
    M.GetCommEventLogRequest: M.GetCommEventLogResponse,
    M.WriteMultipleCoilsRequest: M.WriteMultipleCoilsResponse,
    M.WriteMultipleRegistersRequest: M.WriteMultipleRegistersResponse,
    M.ReportServerIdRequest: M.ReportServerIdResponse,
    M.ReadFileRecordRequest: M.ReadFileRecordResponse,
    M.WriteFileRecordRequest: M.WriteFileRecordResponse,
    M.MaskWriteRegisterRequest: M.MaskWriteRegisterResponse,
    M.ReadWriteMultipleRegistersRequest: M.ReadWriteMultipleRegistersResponse,
    M.ReadFifoQueueRequest: M.ReadFifoQueueResponse,
    M.CanopenGeneralReferenceRequest: M.CanopenGeneralReferenceResponse,
    M.ReadDeviceIdentificationRequest: M.ReadDeviceIdentificationResponse,
    M.UnknownPdu: M.UnknownPdu,
}


def mismatch(request: M.Pdu, request_unit: int, response: M.Pdu, response_unit: int) -> str | None:
    """Why ``response`` does not answer ``request``, or ``None`` if it fits."""
    if response_unit != request_unit:
        return f"unit id {response_unit} != {request_unit} of the request"
    if response.function_code != request.function_code:
        return f"function code 0x{response.function_code:02X} != 0x{request.function_code:02X} of the request"
    if isinstance(response, M.ExceptionResponse):
        return None
    expected = _RESPONSE_FOR.get(type(request))
    if expected is None or not isinstance(response, expected):
        return f"{type(response).__name__} does not answer {type(request).__name__}"
    return _content_mismatch(request, response)


def _content_mismatch(req: Any, resp: Any) -> str | None:
    if isinstance(req, M.ReadCoilsRequest | M.ReadDiscreteInputsRequest):
        want = 8 * ((req.quantity + 7) // 8)  # MB-AP 6.1: byte count = ceil(N / 8)
        if len(resp.values) != want:
            return f"{len(resp.values) // 8} data bytes for {req.quantity} bits"
    elif isinstance(req, M.ReadHoldingRegistersRequest | M.ReadInputRegistersRequest):
        if len(resp.values) != req.quantity:
            return f"{len(resp.values)} registers for a quantity of {req.quantity}"
    elif isinstance(req, M.ReadWriteMultipleRegistersRequest):
        if len(resp.values) != req.read_quantity:
            return f"{len(resp.values)} registers for a read quantity of {req.read_quantity}"
    elif isinstance(req, M.WriteSingleCoilRequest | M.WriteSingleRegisterRequest):
        if (resp.address, resp.value) != (req.address, req.value):
            return "the response is not an echo of the request"
    elif isinstance(req, M.MaskWriteRegisterRequest):
        if (resp.address, resp.and_mask, resp.or_mask) != (req.address, req.and_mask, req.or_mask):
            return "the response is not an echo of the request"
    elif isinstance(req, M.WriteMultipleCoilsRequest | M.WriteMultipleRegistersRequest):
        if (resp.start_address, resp.quantity) != (req.start_address, len(req.values)):
            return "start address or quantity differs from the request"
    elif isinstance(req, M.WriteFileRecordRequest):
        if resp.records != req.records:
            return "the response is not an echo of the request"
    elif isinstance(req, M.ReadFileRecordRequest):
        got = [len(r) for r in resp.records]
        if got != [r.record_length for r in req.records]:
            return f"record lengths {got} differ from those requested"
    elif isinstance(req, M.DiagnosticsRequest):
        if int(resp.sub_function) != int(req.sub_function):
            return f"sub-function {int(resp.sub_function)} != {int(req.sub_function)} of the request"
        if int(req.sub_function) == C.DiagnosticSubFunction.RETURN_QUERY_DATA and resp.data != req.data:
            return "Return Query Data did not echo the data"
    elif isinstance(req, M.ReadDeviceIdentificationRequest):
        if resp.read_device_id_code != req.read_device_id_code:
            return "read device id code differs from the request"
    elif isinstance(req, M.ReadFifoQueueRequest) and len(resp.values) > C.MAX_FIFO_COUNT:
        return f"FIFO count {len(resp.values)} > 31"
    return None
