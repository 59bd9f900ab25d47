"""The IEC 104 APCI machine: data transfer control, sequence numbers, acknowledgement, timers (sans-I/O).

Normative reference: IEC 60870-5-104:2006 clause 5 (5.1 I format and the
numbering, 5.2 S format and the acknowledgement, 5.3 U format: STARTDT,
STOPDT, TESTFR; 5.5 and 5.6, the timeouts t0..t3 and the parameters k and w).

One machine per TCP connection, for either end: :class:`ControlledApci`
(the controlled station, the server) or :class:`ControllingApci` (the
controlling station, the client). The driver feeds it the APDUs the peer
sent (:meth:`ApciMachine.receive`), the ASDUs to send
(:meth:`ApciMachine.send_asdu`), start and stop (controlling station) and
the time (:meth:`ApciMachine.timeout` when :meth:`ApciMachine.next_deadline`
has come); it writes the APDUs :meth:`ApciMachine.outgoing` hands out and
acts on the returned events (:class:`AsduReceived`, :class:`Started`,
:class:`Stopped`, :class:`TestConfirmed`, :class:`Closed`). Time is an
input; nothing here reads a clock or touches a socket.

The rules are one :class:`~wireproof.codecs._machine.TransitionTable` per
end. An received APDU is first classified by its fields into an event type
(an I frame in sequence or not, an N(R) that acknowledges what was never
sent); the table then decides by the type alone. A violation closes the
connection, as 104 5.1 and 5.3 prescribe: :meth:`ApciMachine.receive`
returns a :class:`Closed` event naming the rule, and the driver closes
the socket.

What the machine does on its own: it acknowledges received I frames with
an S frame after ``w`` of them or when ``t2`` runs out, and on every I
frame it sends (N(R) piggy-backed); it never has more than ``k`` of its own
I frames unacknowledged (the rest wait in a queue); it sends TESTFR act
after ``t3`` without a frame from the peer; an I frame or a U act that
stays unacknowledged for ``t1`` closes the connection. The controlled
station sends I frames only while started and confirms STOPDT once its
sent I frames are acknowledged (5.3); ASDUs given to it while stopped wait.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs.iec104.constants import SEQ_MODULO, UFunction
from wireproof.codecs.iec104.messages import Apdu, Asdu, IFrame, SFrame, UFrame
from wireproof.errors import RemoteProtocolError

__all__ = [
    "CONTROLLED",
    "CONTROLLING",
    "AckInvalid",
    "ApciMachine",
    "ApciState",
    "AsduReceived",
    "Closed",
    "ControlledApci",
    "ControllingApci",
    "IOutOfSequence",
    "IReceived",
    "SReceived",
    "SendAsdu",
    "Start",
    "StartAct",
    "StartCon",
    "Started",
    "Stop",
    "StopAct",
    "StopCon",
    "Stopped",
    "T1Expired",
    "T2Expired",
    "T3Expired",
    "TestAct",
    "TestCon",
    "TestConfirmed",
]


class ApciState(enum.Enum):
    STOPPED = "stopped"  # connected, data transfer not started (or stopped)
    PENDING_START = "pending_start"  # controlling: STARTDT act sent, con awaited
    STARTED = "started"
    PENDING_STOP = "pending_stop"  # controlling: STOPDT act sent, con awaited
    CLOSED = "closed"


# --- the table's event types ---------------------------------------------------------------------
# Received (the peer's APDUs, classified by their fields) ...

@dataclass(frozen=True)
class IReceived:
    """An I frame whose N(S) is the one expected and whose N(R) acknowledges only sent frames."""

    frame: IFrame | None = None


@dataclass(frozen=True)
class IOutOfSequence:
    """An I frame whose N(S) is not the one expected (104 5.1: the connection is closed)."""

    frame: IFrame | None = None
    expected: int = 0


@dataclass(frozen=True)
class AckInvalid:
    """An I or S frame whose N(R) acknowledges I frames never sent (104 5.1)."""

    recv_seq: int = 0


@dataclass(frozen=True)
class SReceived:
    recv_seq: int = 0


@dataclass(frozen=True)
class StartAct:
    pass


@dataclass(frozen=True)
class StartCon:
    pass


@dataclass(frozen=True)
class StopAct:
    pass


@dataclass(frozen=True)
class StopCon:
    pass


@dataclass(frozen=True)
class TestAct:
    pass


@dataclass(frozen=True)
class TestCon:
    pass


# ... and local (what this end asks for, and its clock).

@dataclass(frozen=True)
class SendAsdu:
    asdu: Asdu | None = None


@dataclass(frozen=True)
class Start:
    pass


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class T1Expired:
    what: str = ""


@dataclass(frozen=True)
class T2Expired:
    pass


@dataclass(frozen=True)
class T3Expired:
    pass


# --- what the machine reports ---------------------------------------------------------------------

@dataclass(frozen=True)
class AsduReceived:
    asdu: Asdu | bytes
    send_seq: int


@dataclass(frozen=True)
class Started:
    pass


@dataclass(frozen=True)
class Stopped:
    pass


@dataclass(frozen=True)
class TestConfirmed:
    pass


@dataclass(frozen=True)
class Closed:
    """The machine closed the connection: the driver closes the socket."""

    reason: str
    clause: str


_RECEIVED: Final = (IReceived, IOutOfSequence, AckInvalid, SReceived, StartAct, StartCon, StopAct, StopCon,
                    TestAct, TestCon)
_LOCAL: Final = (SendAsdu, Start, Stop, T1Expired, T2Expired, T3Expired)
_EVENTS: Final = _RECEIVED + _LOCAL

S_, P_, ST, PS, C_ = (ApciState.STOPPED, ApciState.PENDING_START, ApciState.STARTED, ApciState.PENDING_STOP,
                      ApciState.CLOSED)


def _stay(states: tuple[ApciState, ...], event: type, action: str) -> dict[tuple[ApciState, type], Any]:
    return {(s, event): Transition(s, action) for s in states}


_CLOSE_CLAUSES: Final = {
    (None, IOutOfSequence): "104 5.1: an I frame out of sequence closes the connection",
    (None, AckInvalid): "104 5.1: an N(R) acknowledging unsent I frames closes the connection",
    (None, T1Expired): "104 5.5: t1 expired, the connection is closed",
    (C_, None): "104 5.3: the connection is closed",
}

CONTROLLED: Final = TransitionTable(
    name="IEC 104 controlled station APCI", protocol="iec104", states=ApciState, events=_EVENTS,
    local=_LOCAL, clause="104 5.3",
    rules={
        **_stay((S_, ST), SReceived, "ack"),
        **_stay((S_,), TestAct, "test_con"), **_stay((ST,), TestAct, "test_con"),
        **_stay((S_, ST), TestCon, "test_done"),
        (S_, StartAct): Transition(ST, "start_con"), (ST, StartAct): Transition(ST, "start_con"),
        (S_, StopAct): Transition(S_, "stop_con"), (ST, StopAct): Transition(S_, "stop_con"),
        (ST, IReceived): Transition(ST, "deliver"),
        **{(s, e): Transition(C_, "close") for s in (S_, ST) for e in (IOutOfSequence, AckInvalid)},
        **_stay((S_, ST), SendAsdu, "queue"),
        **{(s, T1Expired): Transition(C_, "close") for s in (S_, ST)},
        **_stay((S_, ST), T2Expired, "ack_now"), **_stay((S_, ST), T3Expired, "test_act"),
    },
    clauses={
        **_CLOSE_CLAUSES,
        (S_, IReceived): "104 5.3: no I frame before STARTDT (the connection is closed)",
        (None, StartCon): "104 5.3: the controlled station sends no STARTDT act, so expects no con",
        (None, StopCon): "104 5.3: the controlled station sends no STOPDT act, so expects no con",
        (None, Start): "104 5.3: only the controlling station starts data transfer",
        (None, Stop): "104 5.3: only the controlling station stops data transfer",
    },
)

CONTROLLING: Final = TransitionTable(
    name="IEC 104 controlling station APCI", protocol="iec104", states=ApciState, events=_EVENTS,
    local=_LOCAL, clause="104 5.3",
    rules={
        **_stay((S_, P_, ST, PS), SReceived, "ack"),
        **_stay((S_, P_, ST, PS), TestAct, "test_con"),
        **_stay((S_, P_, ST, PS), TestCon, "test_done"),
        (S_, Start): Transition(P_, "start_act"),
        (P_, StartCon): Transition(ST, "started"),
        (ST, Stop): Transition(PS, "stop_act"),
        (PS, StopCon): Transition(S_, "stopped"),
        (ST, IReceived): Transition(ST, "deliver"), (PS, IReceived): Transition(PS, "deliver"),
        **{(s, e): Transition(C_, "close") for s in (S_, P_, ST, PS) for e in (IOutOfSequence, AckInvalid)},
        **_stay((S_, P_, ST), SendAsdu, "queue"),
        **{(s, T1Expired): Transition(C_, "close") for s in (S_, P_, ST, PS)},
        **_stay((S_, P_, ST, PS), T2Expired, "ack_now"), **_stay((S_, P_, ST, PS), T3Expired, "test_act"),
    },
    clauses={
        **_CLOSE_CLAUSES,
        (S_, IReceived): "104 5.3: no I frame before STARTDT con (the connection is closed)",
        (P_, IReceived): "104 5.3: no I frame before STARTDT con (the connection is closed)",
        (None, StartAct): "104 5.3: the controlling station sends STARTDT act; it does not receive one",
        (None, StopAct): "104 5.3: the controlling station sends STOPDT act; it does not receive one",
        (None, StartCon): "104 5.3: STARTDT con without a STARTDT act outstanding",
        (None, StopCon): "104 5.3: STOPDT con without a STOPDT act outstanding",
        (PS, SendAsdu): "104 5.3: no I frame after STOPDT act",
        (None, Start): "104 5.3: STARTDT act only when stopped",
        (None, Stop): "104 5.3: STOPDT act only when started",
    },
)


def _seq_distance(a: int, b: int) -> int:
    """How far ``b`` is after ``a``, modulo 32768."""
    return (b - a) % SEQ_MODULO


class ApciMachine(Machine[ApciState]):
    """The APCI of one connection (see the module docstring); use :class:`ControlledApci` or
    :class:`ControllingApci`."""

    TABLE: ClassVar[TransitionTable[ApciState]]
    ROLE: ClassVar[str] = ""

    def __init__(self, *, k: int = 12, w: int = 8, t1: float = 15.0, t2: float = 10.0, t3: float = 20.0,
                 now: float = 0.0) -> None:
        if not 1 <= k <= 32767 or not 1 <= w <= 32767:
            raise ValueError(f"k and w must be in 1..32767 (not {k}, {w})")
        if not t2 < t1:
            raise ValueError(f"t2 ({t2}) must be less than t1 ({t1}) (104 5.5)")
        self.k, self.w, self.t1, self.t2, self.t3 = k, w, t1, t2, t3
        self.state = ApciState.STOPPED
        self.now = now
        self.send_seq = 0  # V(S): the N(S) of the next I frame sent
        self.recv_seq = 0  # V(R): the N(S) expected next
        self.acked = 0  # the oldest of our I frames not yet acknowledged
        self._unacked: deque[tuple[int, float]] = deque()  # (N(S), when sent)
        self._queue: deque[Asdu | bytes] = deque()
        self._out: list[Apdu] = []
        self._events: list[Any] = []
        self._received_unacked = 0
        self._t2_since: float | None = None
        self._u_pending: tuple[str, float] | None = None  # ("STARTDT"|"STOPDT", when the act went out)
        self._test_since: float | None = None
        self._stop_con_due = False
        self._last_heard = now
        self.close_reason = ""
        self.close_clause = ""

    # --- what the driver calls -----------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is ApciState.CLOSED

    @property
    def unacknowledged(self) -> int:
        """Our I frames sent and not yet acknowledged."""
        return len(self._unacked)

    @property
    def queued(self) -> int:
        """ASDUs waiting to be sent (stopped, or the k window full)."""
        return len(self._queue)

    def receive(self, apdu: Apdu, now: float) -> list[Any]:
        """The peer sent ``apdu``: the events it makes (a :class:`Closed` for a violation)."""
        self.now = now
        self._last_heard = now
        event = self._classify(apdu)
        try:
            return self._apply(event, Role.REMOTE)
        except RemoteProtocolError as err:
            return self.close(err.reason, err.clause)

    def send_asdu(self, asdu: Asdu | bytes, now: float) -> list[Any]:
        """Queue ``asdu``; it goes out now if the window and the state allow."""
        self.now = now
        return self._apply(SendAsdu(asdu if isinstance(asdu, Asdu) else None), Role.LOCAL,
                           raw=asdu if isinstance(asdu, bytes) else None)

    def start(self, now: float) -> list[Any]:
        self.now = now
        return self._apply(Start(), Role.LOCAL)

    def stop(self, now: float) -> list[Any]:
        self.now = now
        return self._apply(Stop(), Role.LOCAL)

    def next_deadline(self) -> float | None:
        """When :meth:`timeout` has something to do (None: nothing pending)."""
        if self.closed:
            return None
        times = [self._last_heard + self.t3]
        t1 = self._t1_deadline()
        if t1 is not None:
            times.append(t1)
        if self._t2_since is not None:
            times.append(self._t2_since + self.t2)
        return min(times)

    def timeout(self, now: float) -> list[Any]:
        """Fire the timers that have run out by ``now``."""
        self.now = now
        events: list[Any] = []
        t1 = self._t1_deadline()
        if t1 is not None and now >= t1:
            return self._apply(T1Expired(self._t1_what()), Role.LOCAL)
        if self._t2_since is not None and now >= self._t2_since + self.t2:
            events += self._apply(T2Expired(), Role.LOCAL)
        if self._test_since is None and now >= self._last_heard + self.t3:
            events += self._apply(T3Expired(), Role.LOCAL)
        return events

    def outgoing(self) -> list[Apdu]:
        """The APDUs to write now, in order (drained)."""
        out, self._out = self._out, []
        return out

    def close(self, reason: str, clause: str = "") -> list[Any]:
        """Close from outside (the driver saw a frame that does not decode, for one)."""
        if self.closed:
            return []
        self.state = ApciState.CLOSED
        self.close_reason, self.close_clause = reason, clause
        return [Closed(reason, clause)]

    # --- the table's hooks ---------------------------------------------------------------------

    @classmethod
    def in_state(cls, state: ApciState) -> ApciMachine:
        machine = cls()
        machine.state = state
        return machine

    def handle(self, event: object, role: Role) -> Any:
        return self._apply(event, role)

    # --- the work ------------------------------------------------------------------------------

    def _classify(self, apdu: Apdu) -> object:
        if isinstance(apdu, IFrame):
            if apdu.send_seq != self.recv_seq:
                return IOutOfSequence(apdu, self.recv_seq)
            if not self._ack_valid(apdu.recv_seq):
                return AckInvalid(apdu.recv_seq)
            return IReceived(apdu)
        if isinstance(apdu, SFrame):
            return SReceived(apdu.recv_seq) if self._ack_valid(apdu.recv_seq) else AckInvalid(apdu.recv_seq)
        return _U_EVENTS[apdu.function]()

    def _ack_valid(self, nr: int) -> bool:
        return _seq_distance(self.acked, nr) <= _seq_distance(self.acked, self.send_seq)

    def _apply(self, event: object, role: Role, raw: bytes | None = None) -> list[Any]:
        rule = self._step(event, role)
        self._events = []
        getattr(self, "_do_" + rule.action)(event, raw)
        self._pump()
        events, self._events = self._events, []
        return events

    def _do_ack(self, event: object, raw: bytes | None) -> None:
        assert isinstance(event, SReceived)
        self._acknowledge(event.recv_seq)

    def _acknowledge(self, nr: int) -> None:
        while self._unacked and _seq_distance(self._unacked[0][0], nr) > 0 and \
                _seq_distance(self.acked, nr) <= _seq_distance(self.acked, self.send_seq):
            self._unacked.popleft()
            self.acked = (self.acked + 1) % SEQ_MODULO
        if self._stop_con_due and not self._unacked:
            self._stop_con_due = False
            self._ack_received()
            self._out.append(UFrame(function=UFunction.STOPDT_CON))

    def _do_deliver(self, event: object, raw: bytes | None) -> None:
        assert isinstance(event, IReceived)
        frame = event.frame
        if frame is None:  # (the table test's events carry none)
            return
        self.recv_seq = (self.recv_seq + 1) % SEQ_MODULO
        self._acknowledge(frame.recv_seq)
        self._received_unacked += 1
        if self._t2_since is None:
            self._t2_since = self.now
        self._events.append(AsduReceived(frame.asdu, frame.send_seq))
        if self._received_unacked >= self.w:
            self._ack_received()

    def _ack_received(self) -> None:
        """An S frame acknowledging every I frame received (5.2)."""
        if self._received_unacked:
            self._out.append(SFrame(recv_seq=self.recv_seq))
        self._received_unacked = 0
        self._t2_since = None

    def _do_ack_now(self, event: object, raw: bytes | None) -> None:
        self._ack_received()

    def _do_test_con(self, event: object, raw: bytes | None) -> None:
        self._out.append(UFrame(function=UFunction.TESTFR_CON))

    def _do_test_done(self, event: object, raw: bytes | None) -> None:
        if self._test_since is not None:
            self._test_since = None
            self._events.append(TestConfirmed())

    def _do_test_act(self, event: object, raw: bytes | None) -> None:
        self._test_since = self.now
        self._out.append(UFrame(function=UFunction.TESTFR_ACT))

    def _do_start_con(self, event: object, raw: bytes | None) -> None:
        self._stop_con_due = False
        self._out.append(UFrame(function=UFunction.STARTDT_CON))
        self._events.append(Started())

    def _do_stop_con(self, event: object, raw: bytes | None) -> None:
        self._events.append(Stopped())
        if self._unacked:
            self._stop_con_due = True  # confirmed once our I frames are acknowledged (5.3)
        else:
            self._ack_received()
            self._out.append(UFrame(function=UFunction.STOPDT_CON))

    def _do_start_act(self, event: object, raw: bytes | None) -> None:
        self._u_pending = ("STARTDT", self.now)
        self._out.append(UFrame(function=UFunction.STARTDT_ACT))

    def _do_started(self, event: object, raw: bytes | None) -> None:
        self._u_pending = None
        self._events.append(Started())

    def _do_stop_act(self, event: object, raw: bytes | None) -> None:
        self._ack_received()  # acknowledge what came before stopping (5.3)
        self._u_pending = ("STOPDT", self.now)
        self._out.append(UFrame(function=UFunction.STOPDT_ACT))

    def _do_stopped(self, event: object, raw: bytes | None) -> None:
        self._u_pending = None
        self._ack_received()
        self._events.append(Stopped())

    def _do_queue(self, event: object, raw: bytes | None) -> None:
        assert isinstance(event, SendAsdu)
        asdu = raw if raw is not None else event.asdu
        if asdu is not None:
            self._queue.append(asdu)

    def _do_close(self, event: object, raw: bytes | None) -> None:
        if isinstance(event, IOutOfSequence):
            got = event.frame.send_seq if event.frame is not None else "?"
            reason = f"I frame N(S)={got}, expected {event.expected}"
        elif isinstance(event, AckInvalid):
            last_sent, last_acked = (self.send_seq - 1) % SEQ_MODULO, (self.acked - 1) % SEQ_MODULO
            reason = (f"N(R)={event.recv_seq} acknowledges I frames never sent (sent up to {last_sent}, "
                      f"acknowledged up to {last_acked})")
        elif isinstance(event, T1Expired):
            reason = f"t1 ({self.t1:g} s) expired: {event.what or 'no acknowledgement'}"
        else:
            reason = type(event).__name__
        self.close_reason = reason
        self.close_clause = self.TABLE.clause_for(ApciState.STARTED, type(event))
        self._queue.clear()
        self._events.append(Closed(reason, self.close_clause))

    def _pump(self) -> None:
        """Send queued ASDUs while started and the k window allows."""
        if self.state is not ApciState.STARTED or self._stop_con_due:
            return
        while self._queue and len(self._unacked) < self.k:
            asdu = self._queue.popleft()
            self._out.append(IFrame(send_seq=self.send_seq, recv_seq=self.recv_seq, asdu=asdu))
            self._unacked.append((self.send_seq, self.now))
            self.send_seq = (self.send_seq + 1) % SEQ_MODULO
            self._received_unacked = 0  # N(R) piggy-backed
            self._t2_since = None

    def _t1_deadline(self) -> float | None:
        times = []
        if self._unacked:
            times.append(self._unacked[0][1] + self.t1)
        if self._u_pending is not None:
            times.append(self._u_pending[1] + self.t1)
        if self._test_since is not None:
            times.append(self._test_since + self.t1)
        return min(times) if times else None

    def _t1_what(self) -> str:
        if self._unacked and self._unacked[0][1] + self.t1 <= self.now:
            return f"I frame N(S)={self._unacked[0][0]} not acknowledged"
        if self._u_pending is not None and self._u_pending[1] + self.t1 <= self.now:
            return f"{self._u_pending[0]} act not confirmed"
        return "TESTFR act not confirmed"


_U_EVENTS: Final[dict[UFunction, type]] = {
    UFunction.STARTDT_ACT: StartAct, UFunction.STARTDT_CON: StartCon, UFunction.STOPDT_ACT: StopAct,
    UFunction.STOPDT_CON: StopCon, UFunction.TESTFR_ACT: TestAct, UFunction.TESTFR_CON: TestCon,
}


class ControlledApci(ApciMachine):
    """The controlled station's end (the server, 104 5.3)."""

    TABLE: ClassVar[TransitionTable[ApciState]] = CONTROLLED
    ROLE: ClassVar[str] = "controlled"


class ControllingApci(ApciMachine):
    """The controlling station's end (the client, 104 5.3)."""

    TABLE: ClassVar[TransitionTable[ApciState]] = CONTROLLING
    ROLE: ClassVar[str] = "controlling"
