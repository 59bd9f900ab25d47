"""The DNP3 data link layer stations (sans-I/O): IEEE 1815-2012 clause 9.2.6.

Theory of operation
-------------------
A link is two stations in each device: the *primary* station starts
transactions (RESET_LINK_STATES, CONFIRMED_USER_DATA, UNCONFIRMED_USER_DATA,
REQUEST_LINK_STATUS, TEST_LINK_STATES; PRM=1) and the *secondary* station
answers them (ACK, NACK, LINK_STATUS, NOT_SUPPORTED; PRM=0) (9.2.6.1,
9.2.6.2). Each station is a machine on one total transition table:

- :class:`SecondaryStation` (:data:`SECONDARY`): ``UNRESET`` until a
  RESET_LINK_STATES, answered by ACK, sets the expected frame count bit to 1
  (9.2.6.3.1); then ``RESET``. In ``RESET`` a CONFIRMED_USER_DATA or
  TEST_LINK_STATES whose FCB is the expected one is acknowledged (the user
  data delivered) and the expected FCB toggles; one with the other FCB is a
  retransmission of a frame already taken: acknowledged again, nothing
  delivered (9.2.6.3.3). In ``UNRESET`` those two are not answered (the
  secondary has no FCB to check against; opendnp3 does the same).
  UNCONFIRMED_USER_DATA is delivered in either state, REQUEST_LINK_STATUS
  answered with LINK_STATUS. A frame for another destination is ignored;
  the broadcast addresses 0xFFFD-0xFFFF are accepted and never acknowledged
  (9.2.4.1.4, 9.2.6.3: a broadcast confirmed frame gets no ACK).
- :class:`PrimaryStation` (:data:`PRIMARY`): ``IDLE``, or waiting for the
  answer to one transaction — ``RESET_WAIT``, ``CONFIRM_WAIT``,
  ``STATUS_WAIT``. CONFIRMED_USER_DATA needs a reset link: the station
  resets it first. A response timeout (time is an input: :meth:`tick`)
  retransmits the same frame (same FCB) up to ``retries`` times, then gives
  up; a NACK to user data means the peer lost its link state: reset again
  and resend (9.2.6.2). UNCONFIRMED_USER_DATA may go at any time.

Which event a received frame is (a repeat or a new frame, for another
address or not, the awaited answer or not) is decided from the station's
context first; the table then decides the transition by the event's type.
:class:`LinkLayer` puts both stations of one end together: link frames in,
frames to send and delivered user data out.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import ClassVar, Final

from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs.dnp3.constants import PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.messages import LinkFrame

__all__ = [
    "BROADCAST",
    "PRIMARY",
    "SECONDARY",
    "Ack",
    "ConfirmedUserData",
    "ConfirmedUserDataRepeat",
    "LinkLayer",
    "LinkOutput",
    "LinkStatus",
    "Nack",
    "NotAddressed",
    "NotSupported",
    "PrimaryState",
    "PrimaryStation",
    "RequestLinkStatus",
    "ResetLinkStates",
    "ResponseTimeout",
    "RetriesExhausted",
    "SecondaryState",
    "SecondaryStation",
    "SendConfirmed",
    "SendLinkStatusRequest",
    "SendReset",
    "SendUnconfirmed",
    "TestLinkStates",
    "TestLinkStatesRepeat",
    "UnconfirmedUserData",
    "UnexpectedAnswer",
]

BROADCAST: Final = frozenset({0xFFFD, 0xFFFE, 0xFFFF})  # 9.2.4.1.4: broadcast destinations


# --- secondary station -------------------------------------------------------------------------

class SecondaryState(enum.Enum):
    """Secondary station link states (IEEE 1815-2012 9.2.6.3)."""

    UNRESET = "unreset"
    RESET = "reset"


@dataclass(frozen=True, slots=True, kw_only=True)
class ResetLinkStates:
    """RESET_LINK_STATES (primary function 0) for this station."""

    source: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TestLinkStates:
    """TEST_LINK_STATES (function 2) with the expected FCB."""

    source: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TestLinkStatesRepeat:
    """TEST_LINK_STATES with the other FCB: the previous one again (9.2.6.3.3)."""

    source: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmedUserData:
    """CONFIRMED_USER_DATA (function 3) with the expected FCB (or to a broadcast address)."""

    source: int = 1
    data: bytes = b""
    broadcast: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmedUserDataRepeat:
    """CONFIRMED_USER_DATA with the other FCB: a retransmission of data already taken (9.2.6.3.3)."""

    source: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class UnconfirmedUserData:
    """UNCONFIRMED_USER_DATA (function 4)."""

    source: int = 1
    data: bytes = b""
    broadcast: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestLinkStatus:
    """REQUEST_LINK_STATUS (function 9)."""

    source: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class NotAddressed:
    """A primary frame for another destination: not ours, ignored (9.2.4.1.4)."""

    destination: int = 0


_UN, _RE = SecondaryState.UNRESET, SecondaryState.RESET
_SECONDARY_EVENTS: Final = (ResetLinkStates, TestLinkStates, TestLinkStatesRepeat, ConfirmedUserData,
                            ConfirmedUserDataRepeat, UnconfirmedUserData, RequestLinkStatus, NotAddressed)

SECONDARY: Final = TransitionTable(
    name="DNP3 secondary link station", protocol="dnp3", states=SecondaryState, events=_SECONDARY_EVENTS,
    rules={
        (_UN, ResetLinkStates): Transition(_RE, "ack"),
        (_RE, ResetLinkStates): Transition(_RE, "ack"),
        (_UN, TestLinkStates): Transition(_UN, "ignore"),
        (_UN, TestLinkStatesRepeat): Transition(_UN, "ignore"),
        (_RE, TestLinkStates): Transition(_RE, "ack"),
        (_RE, TestLinkStatesRepeat): Transition(_RE, "ack again"),
        (_UN, ConfirmedUserData): Transition(_UN, "ignore"),
        (_UN, ConfirmedUserDataRepeat): Transition(_UN, "ignore"),
        (_RE, ConfirmedUserData): Transition(_RE, "ack, deliver"),
        (_RE, ConfirmedUserDataRepeat): Transition(_RE, "ack again"),
        (_UN, UnconfirmedUserData): Transition(_UN, "deliver"),
        (_RE, UnconfirmedUserData): Transition(_RE, "deliver"),
        (_UN, RequestLinkStatus): Transition(_UN, "link status"),
        (_RE, RequestLinkStatus): Transition(_RE, "link status"),
        (_UN, NotAddressed): Transition(_UN, "ignore"),
        (_RE, NotAddressed): Transition(_RE, "ignore"),
    },
    clause="IEEE 1815-2012 9.2.6.3",
)


@dataclass(slots=True)
class LinkOutput:
    """Frames to send (in order) and user data delivered up (with whether it came by broadcast)."""

    frames: list[LinkFrame] = field(default_factory=list)
    delivered: list[tuple[bytes, bool]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # primary transactions given up


class SecondaryStation(Machine[SecondaryState]):
    """The answering half of a link end (module docstring)."""

    TABLE: ClassVar[TransitionTable[SecondaryState]] = SECONDARY

    def __init__(self, address: int, *, is_master: bool = False) -> None:
        self.address = address
        self.dir = is_master  # DIR: 1 from the master (9.2.4.1.3.1)
        self.state = SecondaryState.UNRESET
        self.expected_fcb = True

    @classmethod
    def in_state(cls, state: SecondaryState) -> SecondaryStation:
        station = cls(10)
        station.state = state
        return station

    def classify(self, frame: LinkFrame) -> object:
        """The event a primary frame (PRM=1) is to this station."""
        d = frame.destination
        broadcast = d in BROADCAST
        if d != self.address and not broadcast:
            return NotAddressed(destination=d)
        f = frame.function
        if f == PrimaryFunction.RESET_LINK_STATES:
            return ResetLinkStates(source=frame.source)
        if f == PrimaryFunction.REQUEST_LINK_STATUS:
            return RequestLinkStatus(source=frame.source)
        if f == PrimaryFunction.UNCONFIRMED_USER_DATA:
            return UnconfirmedUserData(source=frame.source, data=frame.user_data, broadcast=broadcast)
        repeat = self.state is _RE and frame.fcb != self.expected_fcb
        if f == PrimaryFunction.TEST_LINK_STATES:
            kind = TestLinkStatesRepeat if repeat else TestLinkStates
            return kind(source=frame.source)
        if repeat and not broadcast:
            return ConfirmedUserDataRepeat(source=frame.source)
        return ConfirmedUserData(source=frame.source, data=frame.user_data, broadcast=broadcast)

    def handle(self, event: object, role: Role) -> LinkOutput:
        out = LinkOutput()
        rule = self._step(event, role)
        source = getattr(event, "source", 0)
        broadcast = bool(getattr(event, "broadcast", False))
        if isinstance(event, ResetLinkStates):
            self.expected_fcb = True  # 9.2.6.3.1: the next FCB expected after a reset is 1
        if rule.action.startswith("ack") and not broadcast:
            out.frames.append(self._answer(SecondaryFunction.ACK, source))
        if rule.action == "ack" and isinstance(event, TestLinkStates):
            self.expected_fcb = not self.expected_fcb
        if "deliver" in rule.action:
            if isinstance(event, ConfirmedUserData) and self.state is _RE:
                self.expected_fcb = not self.expected_fcb
            data = getattr(event, "data", b"")
            out.delivered.append((data, broadcast))
        if rule.action == "link status":
            out.frames.append(self._answer(SecondaryFunction.LINK_STATUS, source))
        return out

    def _answer(self, function: SecondaryFunction, destination: int) -> LinkFrame:
        return LinkFrame(dir=self.dir, prm=False, function=function, destination=destination,
                         source=self.address)


# --- primary station ---------------------------------------------------------------------------

class PrimaryState(enum.Enum):
    """Primary station states (IEEE 1815-2012 9.2.6.2): idle, or awaiting one answer."""

    IDLE = "idle"
    RESET_WAIT = "reset wait"
    CONFIRM_WAIT = "confirm wait"
    STATUS_WAIT = "status wait"


@dataclass(frozen=True, slots=True, kw_only=True)
class SendReset:
    """The station sends RESET_LINK_STATES."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendConfirmed:
    """The station sends CONFIRMED_USER_DATA (the link is reset)."""

    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendUnconfirmed:
    """The station sends UNCONFIRMED_USER_DATA (needs no answer, allowed in every state)."""

    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendLinkStatusRequest:
    """The station sends REQUEST_LINK_STATUS."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseTimeout:
    """No answer within the response timeout, retries left: the same frame again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetriesExhausted:
    """No answer within the response timeout and no retry left: the transaction fails."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ack:
    """ACK (secondary function 0) for this station."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Nack:
    """NACK (secondary function 1) for this station."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkStatus:
    """LINK_STATUS (secondary function 11) for this station."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NotSupported:
    """NOT_SUPPORTED (secondary function 15) for this station."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexpectedAnswer:
    """A secondary frame for another address, or from another station than the one asked: ignored."""


_ID, _RW, _CW, _SW = (PrimaryState.IDLE, PrimaryState.RESET_WAIT, PrimaryState.CONFIRM_WAIT,
                      PrimaryState.STATUS_WAIT)
_WAITS: Final = (_RW, _CW, _SW)
_prim_rules: dict[tuple[PrimaryState, type], Transition | PrimaryState] = {
    (_ID, SendReset): Transition(_RW, "send"),
    (_ID, SendConfirmed): Transition(_CW, "send"),
    (_ID, SendLinkStatusRequest): Transition(_SW, "send"),
    (_RW, Ack): Transition(_ID, "reset"),
    (_RW, Nack): Transition(_ID, "fail"),
    (_RW, LinkStatus): Transition(_RW, "ignore"),
    (_CW, Ack): Transition(_ID, "confirmed"),
    (_CW, Nack): Transition(_RW, "reset, resend"),  # 9.2.6.2: the secondary lost its link state
    (_CW, LinkStatus): Transition(_CW, "ignore"),
    (_SW, LinkStatus): Transition(_ID, "status"),
    (_SW, Ack): Transition(_SW, "ignore"),
    (_SW, Nack): Transition(_SW, "ignore"),
}
for _s in PrimaryState:
    _prim_rules[(_s, SendUnconfirmed)] = Transition(_s, "send")
    _prim_rules[(_s, UnexpectedAnswer)] = Transition(_s, "ignore")
for _s in _WAITS:
    _prim_rules[(_s, ResponseTimeout)] = Transition(_s, "resend")
    _prim_rules[(_s, RetriesExhausted)] = Transition(_ID, "fail")
    _prim_rules[(_s, NotSupported)] = Transition(_ID, "fail")
for _e in (Ack, Nack, LinkStatus, NotSupported):
    _prim_rules[(_ID, _e)] = Transition(_ID, "ignore")  # 9.2.6.2: an answer nobody awaits is discarded

PRIMARY: Final = TransitionTable(
    name="DNP3 primary link station", protocol="dnp3", states=PrimaryState,
    events=(SendReset, SendConfirmed, SendUnconfirmed, SendLinkStatusRequest, ResponseTimeout,
            RetriesExhausted, Ack, Nack, LinkStatus, NotSupported, UnexpectedAnswer),
    local=(SendReset, SendConfirmed, SendUnconfirmed, SendLinkStatusRequest, ResponseTimeout,
           RetriesExhausted),
    rules=_prim_rules,
    clause="IEEE 1815-2012 9.2.6.2",
    clauses={
        (None, SendReset): "IEEE 1815-2012 9.2.6.2: one primary transaction at a time",
        (None, SendConfirmed): "IEEE 1815-2012 9.2.6.2: one primary transaction at a time",
        (None, SendLinkStatusRequest): "IEEE 1815-2012 9.2.6.2: one primary transaction at a time",
        (None, ResponseTimeout): "IEEE 1815-2012 9.2.6.2: the response timer runs only while an answer is "
                                 "awaited",
        (None, RetriesExhausted): "IEEE 1815-2012 9.2.6.2: the response timer runs only while an answer is "
                                  "awaited",
    },
)


class PrimaryStation(Machine[PrimaryState]):
    """The initiating half of a link end (module docstring). Queues confirmed data while busy."""

    TABLE: ClassVar[TransitionTable[PrimaryState]] = PRIMARY

    def __init__(self, address: int, remote: int, *, is_master: bool = False, response_timeout: float = 2.0,
                 retries: int = 2, flush_on_failure: bool = False) -> None:
        self.address = address
        # When user data fails, drop what is queued behind it too (the rest of the same fragment,
        # which the remote transport function could not reassemble anyway, 8.2.2).
        self.flush_on_failure = flush_on_failure
        self.remote = remote
        self.dir = is_master
        self.response_timeout = response_timeout
        self.retries = retries
        self.state = PrimaryState.IDLE
        self.link_reset = False
        self.fcb = True  # 9.2.6.2: the first FCB after a reset is 1
        self.queue: deque[bytes] = deque()
        self.deadline: float | None = None
        self._attempts = 0
        self._pending: LinkFrame | None = None
        self.now = 0.0

    @classmethod
    def in_state(cls, state: PrimaryState) -> PrimaryStation:
        station = cls(10, 1)
        station.state = state
        if state is not _ID:
            station._pending = station._frame(PrimaryFunction.RESET_LINK_STATES)
            station.deadline = 1.0
        return station

    def _frame(self, function: PrimaryFunction, data: bytes = b"", *, fcv: bool = False) -> LinkFrame:
        return LinkFrame(dir=self.dir, prm=True, fcb=self.fcb if fcv else False, fcv=fcv, function=function,
                         destination=self.remote, source=self.address, user_data=data)

    # the driver's entry points

    def send_user_data(self, data: bytes, now: float, *, confirmed: bool = False) -> LinkOutput:
        """User data to the remote station: at once when unconfirmed, else after the queued ones."""
        self.now = now
        out = LinkOutput()
        if not confirmed:
            self._apply(SendUnconfirmed(data=data), Role.LOCAL, out)
            return out
        self.queue.append(data)
        self._pump(out)
        return out

    def request_link_status(self, now: float) -> LinkOutput:
        self.now = now
        out = LinkOutput()
        if self.state is _ID:
            self._apply(SendLinkStatusRequest(), Role.LOCAL, out)
        return out

    def reset_link(self, now: float) -> LinkOutput:
        self.now = now
        out = LinkOutput()
        if self.state is _ID:
            self._apply(SendReset(), Role.LOCAL, out)
        return out

    def receive(self, frame: LinkFrame, now: float) -> LinkOutput:
        """A secondary frame (PRM=0)."""
        self.now = now
        out = LinkOutput()
        if frame.destination != self.address or frame.source != self.remote:
            self._apply(UnexpectedAnswer(), Role.REMOTE, out)
            return out
        kinds: dict[int, type] = {SecondaryFunction.ACK: Ack, SecondaryFunction.NACK: Nack,
                                  SecondaryFunction.LINK_STATUS: LinkStatus}
        event = kinds.get(int(frame.function), NotSupported)()
        self._apply(event, Role.REMOTE, out)
        self._pump(out)
        return out

    def tick(self, now: float) -> LinkOutput:
        self.now = now
        out = LinkOutput()
        if self.deadline is not None and now >= self.deadline:
            event = ResponseTimeout() if self._attempts < self.retries else RetriesExhausted()
            self._apply(event, Role.LOCAL, out)
            self._pump(out)
        return out

    @property
    def busy(self) -> bool:
        """Whether a transaction is under way or user data waits to be confirmed."""
        return self.state is not _ID or bool(self.queue)

    def _pump(self, out: LinkOutput) -> None:
        if self.state is not _ID or not self.queue:
            return
        if not self.link_reset:
            self._apply(SendReset(), Role.LOCAL, out)
        else:
            self._apply(SendConfirmed(data=self.queue[0]), Role.LOCAL, out)

    def handle(self, event: object, role: Role) -> LinkOutput:
        out = LinkOutput()
        self._apply(event, role, out)
        return out

    def _apply(self, event: object, role: Role, out: LinkOutput) -> None:
        rule = self._step(event, role)
        action = rule.action
        if isinstance(event, SendUnconfirmed):
            out.frames.append(self._frame(PrimaryFunction.UNCONFIRMED_USER_DATA, event.data))
            return
        if action == "send":
            if isinstance(event, SendReset):
                frame = self._frame(PrimaryFunction.RESET_LINK_STATES)
            elif isinstance(event, SendConfirmed):
                frame = self._frame(PrimaryFunction.CONFIRMED_USER_DATA, event.data, fcv=True)
            else:
                frame = self._frame(PrimaryFunction.REQUEST_LINK_STATUS)
            self._pending, self._attempts = frame, 0
            self.deadline = self.now + self.response_timeout
            out.frames.append(frame)
        elif action == "resend":
            self._attempts += 1
            self.deadline = self.now + self.response_timeout
            if self._pending is not None:
                out.frames.append(self._pending)  # 9.2.6.2: a retry repeats the frame, FCB unchanged
        elif action in ("reset", "confirmed", "status", "fail"):
            pending, self._pending, self.deadline = self._pending, None, None
            if action == "reset":
                self.link_reset, self.fcb = True, True
            elif action == "confirmed":
                self.fcb = not self.fcb
                if self.queue:
                    self.queue.popleft()
            elif action == "fail":
                self.link_reset = False
                # The user data the failed transaction was for (its own frame, or the reset it
                # waited on) cannot be delivered: it leaves the queue, the next item's turn comes.
                user_data = pending is not None and pending.function in (PrimaryFunction.CONFIRMED_USER_DATA,
                                                                         PrimaryFunction.RESET_LINK_STATES)
                if user_data and self.queue:
                    self.queue.popleft()
                    if self.flush_on_failure:
                        self.queue.clear()
                what = pending.function.name if pending else "a request"
                if isinstance(event, RetriesExhausted):
                    why = f"no answer to {what} after {self.retries} retries"
                elif isinstance(event, NotSupported):
                    why = f"{what} answered NOT_SUPPORTED"
                else:
                    why = f"{what} answered NACK"
                out.failures.append(why)
        elif action == "reset, resend":
            self.link_reset = False
            frame = self._frame(PrimaryFunction.RESET_LINK_STATES)
            self._pending, self._attempts = frame, 0
            self.deadline = self.now + self.response_timeout
            out.frames.append(frame)


class LinkLayer:
    """Both stations of one link end: frames in, frames out, user data delivered (module docstring)."""

    def __init__(self, address: int, remote: int, *, is_master: bool = False, confirmed: bool = False,
                 response_timeout: float = 2.0, retries: int = 2, flush_on_failure: bool = False) -> None:
        self.address = address
        self.remote = remote
        self.confirmed = confirmed
        self.secondary = SecondaryStation(address, is_master=is_master)
        self.primary = PrimaryStation(address, remote, is_master=is_master, response_timeout=response_timeout,
                                      retries=retries, flush_on_failure=flush_on_failure)
        self.ignored = 0  # frames for another destination

    def receive(self, frame: LinkFrame, now: float) -> LinkOutput:
        if frame.prm:
            event = self.secondary.classify(frame)
            if isinstance(event, NotAddressed):
                self.ignored += 1
            return self.secondary.handle(event, Role.REMOTE)
        return self.primary.receive(frame, now)

    def send(self, data: bytes, now: float) -> LinkOutput:
        return self.primary.send_user_data(data, now, confirmed=self.confirmed)

    def tick(self, now: float) -> LinkOutput:
        return self.primary.tick(now)

    def request_link_status(self, now: float) -> LinkOutput:
        """REQUEST_LINK_STATUS (the keep-alive, 9.2.6.2) when the primary station is idle."""
        return self.primary.request_link_status(now)

    @property
    def next_deadline(self) -> float | None:
        return self.primary.deadline
