"""The DNP3 application-layer outstation (sans-I/O): request fragments in, response fragments out.

Normative reference: IEEE 1815-2012 clause 4 (application layer: 4.2 fragment
structure, 4.4 function codes and their procedures, 4.5 confirmations, 4.6
unsolicited responses, 4.7 sequence numbers), clause 5 (5.1.3 event classes
and buffers, 5.2 IIN), clause 11 (object library).

Theory of operation
-------------------
:class:`Outstation` is one master's session with a device: its event buffers,
its confirm waits, its select, its unsolicited state. The points live in a
shared :class:`~.database.Database` (a device has one set of values however
many masters talk to it); each session subscribes to the database's events
and keeps its own copy in per-class buffers, so each master confirms (and so
clears) only what it was sent. IIN1.7 (device restart) is per session too:
every new session starts as a device just restarted would, so each master
runs its start-up sequence (clear restart, integrity poll) the same way.
The device clock (and so NEED_TIME, IIN1.4) is the database's: a time write
by any master sets it.

Nothing here reads a clock: every entry point takes ``now`` (seconds, the
driver's monotonic clock) and :attr:`Outstation.next_deadline` says when the
driver must call :meth:`Outstation.tick` next. Each call returns an
:class:`AppOutput`: the fragments to send (whole application fragments; the
transport and link layers are the session's business) and :class:`Effect`
lines saying what the device did (a control executed, the time written).

The confirm rules are ONE :data:`OUTSTATION` transition table over four
states: ``IDLE``, ``SOLICITED_CONFIRM_WAIT`` (a response fragment with CON
set was sent, 4.5.1), ``UNSOLICITED_CONFIRM_WAIT`` (an unsolicited response
was sent: it always asks a confirm, 4.6.2) and both at once (a READ while an
unsolicited confirm is pending is answered, 4.6.2.4). What a received
fragment is (a request answered with or without CON, a confirm of the
awaited solicited or unsolicited fragment, a stray confirm) and what the
clock did (a confirm timeout, an unsolicited retry or give-up) are
classified from the session's context first; the table then decides the
next state by the event's type alone.

- Responses: a READ's objects are packed into fragments of at most
  ``max_fragment_size`` octets (4.2.1); a header that does not fit is split.
  Every non-final fragment and every fragment carrying events sets CON
  (4.5.1); the next fragment is sent when the confirm of the previous one
  arrives, with the sequence number incremented (4.7.2). Events are cleared
  only when the fragment that carried them is confirmed (5.1.3); a confirm
  timeout or a new request abandons the response, and its events are
  reported again later.
- Event buffers: one a class, of ``event_buffer`` events each. A full buffer
  drops its oldest unreported event and sets IIN2.3 until a confirm makes
  room (5.2, IIN2.3).
- Controls: SELECT stores the objects; OPERATE must come next, with the
  sequence number after the select's, the same objects, within
  ``select_timeout``; otherwise each object is answered NO_SELECT (2) or
  TIMEOUT (1) (4.4.3, 4.4.4, g12v1 status codes 11.9.5). DIRECT_OPERATE
  executes at once; DIRECT_OPERATE_NR without an answer (4.4.5, 4.4.6).
  Binary outputs latch: ON/CLOSE set the output status, OFF/TRIP clear it.
- Unsolicited: with ``unsolicited`` allowed, a session starts by sending a
  null unsolicited response and retries it until confirmed (4.6.1); events
  of the classes ENABLE_UNSOLICITED enabled (none at start) are then sent
  unsolicited, each retried ``unsolicited_retries`` times on a confirm
  timeout, then again ``unsolicited_retry_delay`` later.
- IIN2.0 for a function not supported, IIN2.1 for an object not supported,
  IIN2.2 for a qualifier, range or value it cannot use (4.2.2.7, 5.2).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import ClassVar, Final

from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import CommandStatus, FunctionCode, Iin
from wireproof.codecs.dnp3.database import (
    EVENT_GROUPS,
    KINDS,
    STATIC_GROUPS,
    Database,
    Event,
)
from wireproof.codecs.dnp3.library import lookup
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, ObjectHeader, Point
from wireproof.codecs.dnp3.responses import HEAD, Block, OutFragment, event_blocks, pack, static_blocks
from wireproof.errors import DecodeError

__all__ = [
    "OUTSTATION",
    "AppOutput",
    "AppState",
    "CommandStatus",
    "ConfirmTimeout",
    "Effect",
    "Outstation",
    "OutstationConfig",
    "RequestAnswered",
    "RequestAnsweredConfirm",
    "RequestUnanswered",
    "SolicitedConfirm",
    "SolicitedConfirmNext",
    "UnexpectedConfirm",
    "UnsolicitedConfirm",
    "UnsolicitedRetry",
    "UnsolicitedSent",
    "UnsolicitedTimeout",
]

PROTOCOL: Final = "dnp3-app"




@dataclass(frozen=True, slots=True, kw_only=True)
class OutstationConfig:
    """What a device chooses (IEEE 1815 4.2.1 fragment size, 4.5 and 4.6 timers, 5.1.3 buffer sizes)."""

    max_fragment_size: int = 2048
    confirm_timeout: float = 5.0  # s for an application confirm of a solicited fragment (4.5.1)
    select_timeout: float = 5.0  # s between SELECT and OPERATE (4.4.3)
    unsolicited: bool = False  # whether unsolicited responses are allowed at all
    unsolicited_confirm_timeout: float = 5.0
    unsolicited_retries: int = 3  # retransmissions of one unsolicited fragment before it waits
    unsolicited_retry_delay: float = 5.0  # s before an unconfirmed unsolicited response is tried anew
    need_time_period: float = 0.0  # s; > 0: IIN1.4 at start and that long after each time write
    restart_delay: int = 1  # s, the g52v1 answer to COLD/WARM_RESTART (4.4.11)
    max_controls: int = 16  # objects in one control request (more: TOO_MANY_OBJS)
    event_buffer: tuple[int, int, int] = (100, 100, 100)  # events a class (1, 2, 3)

    def __post_init__(self) -> None:
        if not 2 * HEAD + 16 <= self.max_fragment_size <= 65535:
            raise ValueError(f"max_fragment_size {self.max_fragment_size} not in 24..65535")
        if len(self.event_buffer) != 3 or any(n < 1 for n in self.event_buffer):
            raise ValueError("event_buffer: three sizes >= 1 (classes 1, 2, 3)")
        for name in ("confirm_timeout", "select_timeout", "unsolicited_confirm_timeout",
                     "unsolicited_retry_delay"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0")
        if self.need_time_period < 0 or self.unsolicited_retries < 0 or self.max_controls < 1 \
                or not 0 <= self.restart_delay <= 0xFFFF:
            raise ValueError("need_time_period, unsolicited_retries >= 0; max_controls >= 1; "
                             "restart_delay 0..65535")


@dataclass(frozen=True, slots=True)
class Effect:
    """Something the device did for a master, as one line (``operate crob index=1 code=LATCH_ON ...``)."""

    name: str
    line: str


@dataclass(slots=True)
class AppOutput:
    """What a call asks the driver to do: send these fragments (in order), report these effects."""

    fragments: list[bytes] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)


class AppState(enum.Enum):
    """The outstation's confirm waits (IEEE 1815 4.5.1, 4.6.2)."""

    IDLE = "idle"
    SOLICITED_CONFIRM_WAIT = "solicited confirm wait"
    UNSOLICITED_CONFIRM_WAIT = "unsolicited confirm wait"
    BOTH_CONFIRM_WAIT = "solicited and unsolicited confirm wait"


# --- events (classified from the session's context; see the module docstring) -------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class RequestAnswered:
    """A request answered by a fragment that asks no confirm (or by a final one after confirmed ones)."""

    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestAnsweredConfirm:
    """A request answered by a fragment with CON set: events in it, or more fragments to come (4.5.1)."""

    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestUnanswered:
    """A request that gets no answer: *_NR function codes, broadcasts, fragments to ignore (4.4.6)."""

    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SolicitedConfirm:
    """CONFIRM (UNS=0) of the awaited solicited fragment, after which none awaits a confirm."""

    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class SolicitedConfirmNext:
    """CONFIRM of a non-final solicited fragment; the next one asks a confirm again (4.5.1)."""

    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsolicitedConfirm:
    """CONFIRM (UNS=1) of the awaited unsolicited fragment (4.6.2)."""

    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexpectedConfirm:
    """A CONFIRM that matches nothing awaited (wrong sequence or UNS bit): discarded (4.5.2)."""

    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmTimeout:
    """The application confirm timer of a solicited fragment expired (4.5.1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsolicitedSent:
    """The outstation sends an unsolicited response (null or with events) (4.6)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsolicitedRetry:
    """The unsolicited confirm timer expired with retries left: the same fragment again (4.6.2)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsolicitedTimeout:
    """The unsolicited confirm timer expired with no retry left: wait, try anew later (4.6.2)."""


_I, _S, _U, _B = (AppState.IDLE, AppState.SOLICITED_CONFIRM_WAIT, AppState.UNSOLICITED_CONFIRM_WAIT,
                  AppState.BOTH_CONFIRM_WAIT)

_NO_SOLICITED: Final = (
    "IEEE 1815-2012 4.5.2: a confirm with no solicited fragment awaiting it")

OUTSTATION: Final = TransitionTable(
    name="DNP3 outstation application", protocol="dnp3", states=AppState,
    events=(RequestAnswered, RequestAnsweredConfirm, RequestUnanswered, SolicitedConfirm,
            SolicitedConfirmNext, UnsolicitedConfirm, UnexpectedConfirm, ConfirmTimeout, UnsolicitedSent,
            UnsolicitedRetry, UnsolicitedTimeout),
    local=(ConfirmTimeout, UnsolicitedSent, UnsolicitedRetry, UnsolicitedTimeout),
    rules={
        # A new request ends a solicited confirm wait: the response is abandoned (4.5.1).
        (_I, RequestAnswered): Transition(_I, "answer"),
        (_S, RequestAnswered): Transition(_I, "abandon, answer"),
        (_U, RequestAnswered): Transition(_U, "answer"),
        (_B, RequestAnswered): Transition(_U, "abandon, answer"),
        (_I, RequestAnsweredConfirm): Transition(_S, "answer"),
        (_S, RequestAnsweredConfirm): Transition(_S, "abandon, answer"),
        (_U, RequestAnsweredConfirm): Transition(_B, "answer"),
        (_B, RequestAnsweredConfirm): Transition(_B, "abandon, answer"),
        (_I, RequestUnanswered): _I,
        (_S, RequestUnanswered): _S,
        (_U, RequestUnanswered): _U,
        (_B, RequestUnanswered): _B,
        (_S, SolicitedConfirm): Transition(_I, "clear events"),
        (_B, SolicitedConfirm): Transition(_U, "clear events"),
        (_S, SolicitedConfirmNext): Transition(_S, "clear events, next fragment"),
        (_B, SolicitedConfirmNext): Transition(_B, "clear events, next fragment"),
        (_U, UnsolicitedConfirm): Transition(_I, "clear events"),
        (_B, UnsolicitedConfirm): Transition(_S, "clear events"),
        (_I, UnexpectedConfirm): Transition(_I, "discard"),
        (_S, UnexpectedConfirm): Transition(_S, "discard"),
        (_U, UnexpectedConfirm): Transition(_U, "discard"),
        (_B, UnexpectedConfirm): Transition(_B, "discard"),
        (_S, ConfirmTimeout): Transition(_I, "release events"),
        (_B, ConfirmTimeout): Transition(_U, "release events"),
        (_I, UnsolicitedSent): Transition(_U, "send"),
        (_U, UnsolicitedRetry): Transition(_U, "resend"),
        (_B, UnsolicitedRetry): Transition(_B, "resend"),
        (_U, UnsolicitedTimeout): Transition(_I, "release events"),
        (_B, UnsolicitedTimeout): Transition(_S, "release events"),
    },
    clause="IEEE 1815-2012 4.5, 4.6: confirm procedures",
    clauses={
        (None, SolicitedConfirm): _NO_SOLICITED,
        (None, SolicitedConfirmNext): _NO_SOLICITED,
        (None, UnsolicitedConfirm): "IEEE 1815-2012 4.6.2: a confirm with no unsolicited fragment awaiting "
                                    "it",
        (None, ConfirmTimeout): "IEEE 1815-2012 4.5.1: the confirm timer runs only while a confirm is "
                                "awaited",
        (None, UnsolicitedRetry): "IEEE 1815-2012 4.6.2: the unsolicited timer runs only while a confirm "
                                  "is awaited",
        (None, UnsolicitedTimeout): "IEEE 1815-2012 4.6.2: the unsolicited timer runs only while a confirm "
                                    "is awaited",
        (_S, UnsolicitedSent): "IEEE 1815-2012 4.6.2: no unsolicited response while a solicited response "
                               "awaits its confirm",
        (None, UnsolicitedSent): "IEEE 1815-2012 4.6.2: one unsolicited response outstanding at a time",
    },
)


class _Refuse(Exception):
    """Internal: the request is answered with this IIN2 bit and no objects."""

    def __init__(self, iin: int) -> None:
        self.iin = iin


_STATIC_ORDER: Final = tuple(KINDS)  # class 0 data in group order (g1, g3, g10, g20, g21, g30, g40, g110)
_NO_RESPONSE: Final = frozenset({FunctionCode.DIRECT_OPERATE_NR, FunctionCode.IMMED_FREEZE_NR,
                                 FunctionCode.FREEZE_CLEAR_NR, FunctionCode.FREEZE_AT_TIME_NR,
                                 FunctionCode.AUTH_REQ_NO_ACK})
_CROB_ON: Final = {1: "PULSE_ON", 3: "LATCH_ON"}
_CROB_OFF: Final = {2: "PULSE_OFF", 4: "LATCH_OFF"}


class Outstation(Machine[AppState]):
    """One master's session with the device (theory of operation in the module docstring)."""

    TABLE: ClassVar[TransitionTable[AppState]] = OUTSTATION

    def __init__(self, database: Database, config: OutstationConfig | None = None, *,
                 now: float = 0.0) -> None:
        self.database = database
        self.config = config or OutstationConfig()
        self.state = AppState.IDLE
        self.restart = True  # IIN1.7 until a master clears it (4.4.2, g80v1 index 7)
        self.broadcast_seen = False  # IIN1.0 in the next response
        self.overflow = False  # IIN2.3
        self._events: list[Event] = []
        self._owner: dict[int, str] = {}  # event serial -> "sol" | "uns": in a fragment awaiting confirm
        self._sol_queue: list[OutFragment] = []  # fragments of the current response not yet sent
        self._sol_awaiting: OutFragment | None = None
        self._sol_deadline: float | None = None
        self._uns_awaiting: OutFragment | None = None
        self._uns_deadline: float | None = None
        self._uns_retries = 0
        self._uns_seq = 0
        self._uns_next: float = now  # earliest time for a new unsolicited response
        self._null_confirmed = False
        self.unsolicited_classes: set[int] = set()
        self._select: tuple[int, bytes, float] | None = None  # (seq, objects, expiry)
        self._last_request: tuple[int, bytes] | None = None
        self._last_response: list[bytes] = []
        self._recorded: float | None = None  # RECORD_CURRENT_TIME (4.4.15)
        self.closed = False
        self._now = now  # the time of the request being answered (a g50v1 read answers it)
        self._pending_response: list[OutFragment] | None = None  # computed, about to be sent
        database.subscribers.append(self._on_event)

    def close(self) -> None:
        """Stop taking the database's events (the connection is gone)."""
        self.closed = True
        if self._on_event in self.database.subscribers:
            self.database.subscribers.remove(self._on_event)

    # --- the table's totality test --------------------------------------------------------------

    @classmethod
    def in_state(cls, state: AppState) -> Outstation:
        db = Database.from_mapping({"binary": {"values": [True, False], "class": 1}})
        machine = cls(db, OutstationConfig(unsolicited=True))
        if state in (_S, _B):
            machine._sol_awaiting = OutFragment([], fir=True, fin=False, seq=0)
            machine._sol_deadline = 1.0
        if state in (_U, _B):
            machine._uns_awaiting = OutFragment([], fir=True, fin=True, seq=0,
                                              function=FunctionCode.UNSOLICITED_RESPONSE)
            machine._uns_deadline = 1.0
        machine.state = state
        return machine

    def handle(self, event: object, role: Role) -> AppOutput:
        """Apply one classified event (its transition and the action), at the session's last time."""
        out = AppOutput()
        self._apply(event, role, out, now=self._now)
        return out

    # --- the driver's entry points --------------------------------------------------------------

    @property
    def next_deadline(self) -> float | None:
        """When :meth:`tick` must be called next (None: only after a receive or a database change)."""
        times = [t for t in (self._sol_deadline, self._uns_deadline) if t is not None]
        if self._wants_unsolicited():
            times.append(self._uns_next)
        return min(times) if times else None

    def tick(self, now: float) -> AppOutput:
        """Confirm timeouts, unsolicited retries, and a new unsolicited response when one is due."""
        out = AppOutput()
        if self._sol_deadline is not None and now >= self._sol_deadline:
            self._apply(ConfirmTimeout(), Role.LOCAL, out, now)
        if self._uns_deadline is not None and now >= self._uns_deadline:
            retry = self._uns_retries < self.config.unsolicited_retries
            self._apply(UnsolicitedRetry() if retry else UnsolicitedTimeout(), Role.LOCAL, out, now)
        if self._wants_unsolicited() and now >= self._uns_next and self.state is _I:
            fragment = self._unsolicited_fragment()
            if fragment is not None:
                self._uns_awaiting = fragment
                self._apply(UnsolicitedSent(), Role.LOCAL, out, now)
        return out

    def receive(self, data: bytes, now: float, *, broadcast: bool = False) -> AppOutput:
        """One whole request fragment from the master (after transport reassembly)."""
        out = AppOutput()
        self._now = now
        if len(data) < 2:
            return out  # 4.2.2: not a fragment; nothing to answer with
        control, code = data[0], data[1]
        seq, uns = control & 0x0F, bool(control & 0x10)
        if code == FunctionCode.CONFIRM:
            self._apply(self._classify_confirm(seq, uns), Role.REMOTE, out, now)
            return out
        if code >= 129 or not control & 0x80 or not control & 0x40 or uns:
            # A response from the "master", a multi-fragment request, a request with UNS set: discarded
            # (4.2.2.4: requests are single fragments; UNS is only for unsolicited traffic).
            self._apply(RequestUnanswered(seq=seq), Role.REMOTE, out, now)
            return out
        if broadcast:
            self.broadcast_seen = True  # IIN1.0 in the next response (4.2.2.7)
        if (not broadcast and self._last_request == (seq, data) and code != FunctionCode.READ
                and self._last_response):
            # 4.7.1: the same request again (same sequence, same octets): answer again, execute nothing.
            out.fragments.extend(self._last_response)
            self._apply(RequestUnanswered(seq=seq), Role.REMOTE, out, now)
            return out
        fragments = self._answer(data, seq, code, now, out)
        if fragments is None or broadcast:
            self._apply(RequestUnanswered(seq=seq), Role.REMOTE, out, now)
            return out
        self._last_request = (seq, data)
        first = fragments[0]
        self._pending_response = fragments
        event = RequestAnsweredConfirm(seq=seq) if first.con else RequestAnswered(seq=seq)
        self._apply(event, Role.REMOTE, out, now)
        self._last_response = out.fragments[-1:] if out.fragments else []
        return out

    # --- the table and its actions ----------------------------------------------------------------

    def _apply(self, event: object, role: Role, out: AppOutput, now: float) -> None:
        before = self.state
        rule = self._step(event, role)
        action = rule.action
        if "abandon" in action and before in (_S, _B):
            self._abandon_solicited()
        if isinstance(event, RequestAnswered | RequestAnsweredConfirm):
            fragments, self._pending_response = self._pending_response or [], None
            if fragments:
                self._sol_queue = fragments[1:]
                self._send_solicited(fragments[0], out, now)
        elif isinstance(event, SolicitedConfirm | SolicitedConfirmNext):
            self._confirmed(self._sol_awaiting, "sol")
            self._sol_awaiting, self._sol_deadline = None, None
            if self._sol_queue:
                self._send_solicited(self._sol_queue.pop(0), out, now)
        elif isinstance(event, UnsolicitedConfirm):
            self._confirmed(self._uns_awaiting, "uns")
            if self._uns_awaiting is not None and not self._uns_awaiting.blocks:
                self._null_confirmed = True
            self._uns_awaiting, self._uns_deadline = None, None
            self._uns_seq = (self._uns_seq + 1) % 16
            self._uns_next = now
        elif isinstance(event, ConfirmTimeout):
            self._abandon_solicited()
        elif isinstance(event, UnsolicitedSent):
            fragment = self._uns_awaiting
            if fragment is not None:
                fragment.seq = self._uns_seq
                for e in fragment.events:
                    self._owner[e.serial] = "uns"
                out.fragments.append(self._encode(fragment, now))
            self._uns_retries = 0
            self._uns_deadline = now + self.config.unsolicited_confirm_timeout
        elif isinstance(event, UnsolicitedRetry):
            if self._uns_awaiting is not None:
                out.fragments.append(self._encode(self._uns_awaiting, now))
            self._uns_retries += 1
            self._uns_deadline = now + self.config.unsolicited_confirm_timeout
        elif isinstance(event, UnsolicitedTimeout):
            self._release(self._uns_awaiting)
            self._uns_awaiting, self._uns_deadline = None, None
            self._uns_next = now + self.config.unsolicited_retry_delay

    def _send_solicited(self, fragment: OutFragment, out: AppOutput, now: float) -> None:
        out.fragments.append(self._encode(fragment, now))
        if fragment.con:
            for e in fragment.events:
                self._owner[e.serial] = "sol"
            self._sol_awaiting = fragment
            self._sol_deadline = now + self.config.confirm_timeout
        else:  # only a final fragment asks no confirm, so nothing of this response is left
            self._sol_awaiting, self._sol_deadline = None, None

    def _classify_confirm(self, seq: int, uns: bool) -> object:
        if uns:
            f = self._uns_awaiting
            if f is not None and f.seq == seq:
                return UnsolicitedConfirm(seq=seq)
            return UnexpectedConfirm(seq=seq)
        f = self._sol_awaiting
        if f is None or f.seq != seq:
            return UnexpectedConfirm(seq=seq)
        if self._sol_queue and self._sol_queue[0].con:
            return SolicitedConfirmNext(seq=seq)
        return SolicitedConfirm(seq=seq)

    def _abandon_solicited(self) -> None:
        self._release(self._sol_awaiting)
        for f in self._sol_queue:
            self._release(f)
        self._sol_awaiting, self._sol_deadline, self._sol_queue = None, None, []

    def _release(self, fragment: OutFragment | None) -> None:
        if fragment is not None:
            for e in fragment.events:
                self._owner.pop(e.serial, None)

    def _confirmed(self, fragment: OutFragment | None, owner: str) -> None:
        """5.1.3: events leave the buffer when the fragment that carried them is confirmed."""
        if fragment is None:
            return
        gone = {e.serial for e in fragment.events}
        if gone:
            self._events = [e for e in self._events if e.serial not in gone]
            for s in gone:
                self._owner.pop(s, None)
            if self.overflow and all(self._count(c) < self.config.event_buffer[c - 1] for c in (1, 2, 3)):
                self.overflow = False

    # --- events ---------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        cls = event.event_class
        if not 1 <= cls <= 3:
            return
        if self._count(cls) >= self.config.event_buffer[cls - 1]:
            self.overflow = True  # 5.2 IIN2.3: an event was lost
            victim = next((e for e in self._events if e.event_class == cls and e.serial not in self._owner),
                          None)
            if victim is None:
                return
            self._events.remove(victim)
        self._events.append(event)

    def _count(self, cls: int) -> int:
        return sum(1 for e in self._events if e.event_class == cls)

    def pending_events(self, cls: int | None = None) -> list[Event]:
        """Events in the buffers (not yet confirmed), oldest first."""
        return [e for e in self._events if cls is None or e.event_class == cls]

    def _free(self, classes: Iterable[int], kind: str | None = None, *,
              solicited: bool = False) -> list[Event]:
        """Events not in a fragment awaiting confirm. For a new solicited response (``solicited``) the
        events of the solicited response it replaces count as free: answering abandons that one (4.5.1)."""
        wanted = set(classes)
        return [e for e in self._events if e.event_class in wanted and (kind is None or e.kind == kind)
                and (e.serial not in self._owner or (solicited and self._owner[e.serial] == "sol"))]

    # --- unsolicited ----------------------------------------------------------------------------

    def _wants_unsolicited(self) -> bool:
        if not self.config.unsolicited or self._uns_awaiting is not None or self.closed:
            return False
        return not self._null_confirmed or bool(self._free(self.unsolicited_classes))

    def _unsolicited_fragment(self) -> OutFragment | None:
        if not self._null_confirmed:
            return OutFragment([], fir=True, fin=True, seq=self._uns_seq,
                             function=FunctionCode.UNSOLICITED_RESPONSE)  # 4.6.1: the null response
        events = self._free(self.unsolicited_classes)
        if not events:
            return None
        fragments = self._packed(self._events_of(events), seq=self._uns_seq)
        first = fragments[0]  # 4.6.2: one fragment at a time; the rest goes in the next one
        return OutFragment(first.blocks, fir=True, fin=True, seq=self._uns_seq,
                         function=FunctionCode.UNSOLICITED_RESPONSE)

    # --- encoding ------------------------------------------------------------------------------

    def iin(self, now: float) -> int:
        """The IIN bits this session reports now, without the per-request IIN2.0-2.2 (5.2)."""
        bits = 0
        if self.broadcast_seen:
            bits |= Iin.BROADCAST
        for cls, flag in ((1, Iin.CLASS_1_EVENTS), (2, Iin.CLASS_2_EVENTS), (3, Iin.CLASS_3_EVENTS)):
            if self._free((cls,)):
                bits |= flag
        period = self.config.need_time_period
        last = self.database.last_time_sync
        if period > 0 and (last is None or now - last >= period):
            bits |= Iin.NEED_TIME
        if self.restart:
            bits |= Iin.DEVICE_RESTART
        if self.overflow:
            bits |= Iin.EVENT_BUFFER_OVERFLOW
        return int(bits)

    def _encode(self, f: OutFragment, now: float) -> bytes:
        iin = self.iin(now) | f.iin_extra
        if f.function is FunctionCode.RESPONSE:
            self.broadcast_seen = False
        response = ApplicationResponse(fir=f.fir, fin=f.fin, con=f.con,
                                       uns=f.function is not FunctionCode.RESPONSE,
                                       seq=f.seq, function=f.function, iin=iin,
                                       objects=tuple(b.header for b in f.blocks))
        return encode_fragment(response)

    def _packed(self, blocks: list[Block], *, seq: int, iin_extra: int = 0) -> list[OutFragment]:
        return pack(blocks, max_fragment_size=self.config.max_fragment_size, seq=seq, iin_extra=iin_extra)

    def _static(self, kind: str, variation: int, indexes: list[int], *, ranged: bool) -> list[Block]:
        try:
            return static_blocks(self.database, kind, variation, indexes, ranged=ranged)
        except LookupError:
            raise _Refuse(Iin.OBJECT_UNKNOWN) from None

    def _events_of(self, events: list[Event], *, variation: int = 0) -> list[Block]:
        return event_blocks(self.database, events, variation=variation)

    # --- requests -------------------------------------------------------------------------------

    def _answer(self, data: bytes, seq: int, code: int, now: float,
                out: AppOutput) -> list[OutFragment] | None:
        """Execute a request; its response fragments, or None when none is sent."""
        if code not in (FunctionCode.OPERATE, FunctionCode.SELECT):
            self._select = None  # 4.4.4: the OPERATE must be the next request after its SELECT
        try:
            function = FunctionCode(code)
        except ValueError:
            return self._packed([], seq=seq, iin_extra=Iin.NO_FUNC_CODE_SUPPORT)
        try:
            request = decode_fragment(data)
        except DecodeError as err:
            if function in _NO_RESPONSE:
                return None
            unknown = err.path[-1:] == ("variation",) or "not in the object library" in err.reason
            return self._packed([], seq=seq, iin_extra=Iin.OBJECT_UNKNOWN if unknown else Iin.PARAMETER_ERROR)
        assert isinstance(request, ApplicationRequest)
        try:
            blocks, extra = self._execute(request, data, now, out)
        except _Refuse as refused:
            blocks, extra = [], refused.iin
        if function in _NO_RESPONSE:
            return None
        return self._packed(blocks, seq=seq, iin_extra=extra)

    def _execute(self, req: ApplicationRequest, data: bytes, now: float,
                 out: AppOutput) -> tuple[list[Block], int]:
        f = req.function
        if f is FunctionCode.READ:
            return self._read(req)
        if f in (FunctionCode.SELECT, FunctionCode.OPERATE, FunctionCode.DIRECT_OPERATE,
                 FunctionCode.DIRECT_OPERATE_NR):
            return self._control(req, data, now, out)
        if f in (FunctionCode.IMMED_FREEZE, FunctionCode.IMMED_FREEZE_NR, FunctionCode.FREEZE_CLEAR,
                 FunctionCode.FREEZE_CLEAR_NR):
            return self._freeze(req, now, out)
        if f is FunctionCode.WRITE:
            return self._write(req, now, out)
        if f in (FunctionCode.ENABLE_UNSOLICITED, FunctionCode.DISABLE_UNSOLICITED):
            if not self.config.unsolicited:
                raise _Refuse(Iin.NO_FUNC_CODE_SUPPORT)
            classes = set()
            for h in req.objects:
                if h.group != 60 or not 2 <= h.variation <= 4 or h.qualifier != 0x06:
                    raise _Refuse(Iin.OBJECT_UNKNOWN if h.group != 60 else Iin.PARAMETER_ERROR)
                classes.add(h.variation - 1)
            if f is FunctionCode.ENABLE_UNSOLICITED:
                self.unsolicited_classes |= classes
            else:
                self.unsolicited_classes -= classes
            return [], 0
        if f is FunctionCode.DELAY_MEASURE:
            # 4.4.14: the time from receipt to answer; a sans-I/O machine answers in the same instant.
            return [Block(ObjectHeader(group=52, variation=2, qualifier=0x07, count=1,
                                        points=(Point(values={"delay": 0}),)))], 0
        if f is FunctionCode.RECORD_CURRENT_TIME:
            self._recorded = now  # 4.4.15: the LAN procedure's reference instant
            return [], 0
        if f in (FunctionCode.COLD_RESTART, FunctionCode.WARM_RESTART):
            self._restart(cold=f is FunctionCode.COLD_RESTART, now=now)
            which = "cold" if f is FunctionCode.COLD_RESTART else "warm"
            out.effects.append(Effect("restart", f"restart {which}"))
            return [Block(ObjectHeader(group=52, variation=1, qualifier=0x07, count=1,
                                        points=(Point(values={"delay": self.config.restart_delay}),)))], 0
        raise _Refuse(Iin.NO_FUNC_CODE_SUPPORT)

    def _restart(self, *, cold: bool, now: float) -> None:
        """4.4.11/4.4.12: the session begins again (restart IIN, unsolicited disabled, null response)."""
        self.restart = True
        self._select = None
        self.unsolicited_classes.clear()
        self._null_confirmed = False
        self._uns_next = now + self.config.restart_delay
        if cold:
            self._events = [e for e in self._events if e.serial in self._owner]

    # READ (4.4.1) ---------------------------------------------------------------------------------

    def _read(self, req: ApplicationRequest) -> tuple[list[Block], int]:
        blocks: list[Block] = []
        extra = 0
        taken: set[int] = set()
        for h in req.objects:
            try:
                if h.group == 60:
                    if h.variation == 1:
                        if h.qualifier != 0x06:
                            raise _Refuse(Iin.PARAMETER_ERROR)
                        for kind in _STATIC_ORDER:
                            if self.database.count(kind):
                                every = list(range(self.database.count(kind)))
                                blocks += self._static(kind, 0, every, ranged=True)
                    elif 2 <= h.variation <= 4:
                        events = [e for e in self._free((h.variation - 1,), solicited=True)
                                  if e.serial not in taken]
                        events = events[:_limit(h)]
                        taken |= {e.serial for e in events}
                        blocks += self._events_of(events)
                    else:
                        raise _Refuse(Iin.OBJECT_UNKNOWN)
                elif h.group in STATIC_GROUPS:
                    kind = STATIC_GROUPS[h.group]
                    indexes, ranged = self._selection(kind, h)
                    blocks += self._static(kind, h.variation, indexes, ranged=ranged)
                elif h.group in EVENT_GROUPS and (h.variation == 0 or lookup(h.group, h.variation)):
                    kind = EVENT_GROUPS[h.group]
                    events = [e for e in self._free((1, 2, 3), kind, solicited=True)
                              if e.serial not in taken][:_limit(h)]
                    taken |= {e.serial for e in events}
                    blocks += self._events_of(events, variation=h.variation)
                elif h.group == 50 and h.variation == 1:
                    blocks.append(Block(ObjectHeader(group=50, variation=1, qualifier=0x07, count=1, points=(
                        Point(values={"time": self.database.time_ms(self._now)}),))))
                else:
                    raise _Refuse(Iin.OBJECT_UNKNOWN)
            except _Refuse as refused:
                extra |= refused.iin  # 4.4.1: answer what can be answered, flag the rest
        return blocks, extra

    def _selection(self, kind: str, h: ObjectHeader) -> tuple[list[int], bool]:
        """The indexes a header names (qualifiers 0x00-0x02, 0x06, 0x07-0x09, 0x17, 0x28) and whether
        they form one range; IIN2.2 for an index the device does not have."""
        n = self.database.count(kind)
        q = h.qualifier
        if q == 0x06:
            return list(range(n)), True
        if h.start is not None and h.stop is not None and q & 0x0F <= 2:
            if h.stop >= n:
                raise _Refuse(Iin.PARAMETER_ERROR)
            return list(range(h.start, h.stop + 1)), True
        if h.count is not None and q in (0x07, 0x08, 0x09):
            if h.count > n:
                raise _Refuse(Iin.PARAMETER_ERROR)
            return list(range(h.count)), True
        if h.count is not None and q in (0x17, 0x28, 0x39):
            indexes = [p.index for p in h.points if p.index is not None]
            if any(i >= n for i in indexes):
                raise _Refuse(Iin.PARAMETER_ERROR)
            return indexes, False
        raise _Refuse(Iin.PARAMETER_ERROR)

    # Controls (4.4.3-4.4.6) ---------------------------------------------------------------------

    def _control(self, req: ApplicationRequest, data: bytes, now: float,
                 out: AppOutput) -> tuple[list[Block], int]:
        f = req.function
        objects = data[2:]
        total = sum(len(h.points) for h in req.objects)
        for h in req.objects:
            if not ((h.group == 12 and h.variation == 1) or (h.group == 41 and 1 <= h.variation <= 4)):
                raise _Refuse(Iin.OBJECT_UNKNOWN)
        if not req.objects:
            raise _Refuse(Iin.PARAMETER_ERROR)
        common: CommandStatus | None = None
        if total > self.config.max_controls:
            common = CommandStatus.TOO_MANY_OBJS
        elif f is FunctionCode.OPERATE:
            selected = self._select
            self._select = None
            if selected is None or selected[0] != (req.seq - 1) % 16 or selected[1] != objects:
                common = CommandStatus.NO_SELECT
            elif now > selected[2]:
                common = CommandStatus.TIMEOUT
        execute = f is not FunctionCode.SELECT and common is None
        blocks = []
        all_ok = True
        for h in req.objects:
            points = []
            for p in h.points:
                status = common if common is not None else self._check(h, p)
                if status is CommandStatus.SUCCESS and execute:
                    self._operate(h, p, f, now, out)
                elif status is CommandStatus.SUCCESS:
                    out.effects.append(Effect("select", "select " + _describe(h, p)))
                all_ok = all_ok and status is CommandStatus.SUCCESS
                points.append(Point(index=p.index, values={**p.values, "status": int(status)}))
            blocks.append(Block(replace(h, points=tuple(points))))
        if f is FunctionCode.SELECT and all_ok:
            self._select = (req.seq, objects, now + self.config.select_timeout)
        return blocks, 0

    def _check(self, h: ObjectHeader, p: Point) -> CommandStatus:
        kind = "binary_output" if h.group == 12 else "analog_output"
        if p.index is None or self.database.get(kind, p.index) is None:
            return CommandStatus.NOT_SUPPORTED
        if h.group == 12:
            code = int(p.values.get("control_code", 0))
            op, tcc = code & 0x0F, code >> 6
            if op > 4 or tcc == 3:
                return CommandStatus.NOT_SUPPORTED
        return CommandStatus.SUCCESS

    def _operate(self, h: ObjectHeader, p: Point, f: FunctionCode, now: float, out: AppOutput) -> None:
        kind = {FunctionCode.OPERATE: "SelectBeforeOperate", FunctionCode.DIRECT_OPERATE: "DirectOperate",
                FunctionCode.DIRECT_OPERATE_NR: "DirectOperateNoAck"}[f]
        index = int(p.index or 0)
        if h.group == 12:
            code = int(p.values.get("control_code", 0))
            op, tcc = code & 0x0F, code >> 6
            # The trip/close code decides when set (CLOSE: on, TRIP: off), else the operation type.
            on = tcc == 1 if tcc else (True if op in _CROB_ON else False if op in _CROB_OFF else None)
            if on is not None:
                self.database.change("binary_output", index, on, now)
        else:
            self.database.change("analog_output", index, p.values["value"], now)
        out.effects.append(Effect("operate", f"operate {_describe(h, p)} type={kind}"))

    # Freeze (4.4.7-4.4.10) ----------------------------------------------------------------------

    def _freeze(self, req: ApplicationRequest, now: float, out: AppOutput) -> tuple[list[Block], int]:
        clear = req.function in (FunctionCode.FREEZE_CLEAR, FunctionCode.FREEZE_CLEAR_NR)
        if not req.objects:
            raise _Refuse(Iin.PARAMETER_ERROR)
        chosen: list[int] = []
        for h in req.objects:
            if h.group != 20:
                raise _Refuse(Iin.OBJECT_UNKNOWN)
            chosen += self._selection("counter", h)[0]
        db = self.database
        for i in chosen:
            counter = db.points["counter"][i]
            if db.get("frozen_counter", i) is not None:
                db.change("frozen_counter", i, counter.value, now, force_event=True)
            if clear:
                db.change("counter", i, 0, now)
        out.effects.append(Effect("freeze", f"{'freeze-clear' if clear else 'freeze'} counters "
                                  f"{','.join(map(str, chosen))}"))
        return [], 0

    # WRITE (4.4.2) ------------------------------------------------------------------------------

    def _write(self, req: ApplicationRequest, now: float, out: AppOutput) -> tuple[list[Block], int]:
        if not req.objects:
            raise _Refuse(Iin.PARAMETER_ERROR)
        for h in req.objects:
            if h.group == 80 and h.variation == 1:
                for p in h.points:
                    if p.index != 7 or p.values.get("state"):
                        raise _Refuse(Iin.PARAMETER_ERROR)  # only IIN1.7 may be written, and only to 0
                    self.restart = False
            elif h.group == 50 and h.variation in (1, 3):
                if len(h.points) != 1 or h.qualifier not in (0x07, 0x08):
                    raise _Refuse(Iin.PARAMETER_ERROR)
                value = int(h.points[0].values["time"])
                if h.variation == 3:  # 4.4.15: the time at the RECORD_CURRENT_TIME instant
                    if self._recorded is None:
                        raise _Refuse(Iin.PARAMETER_ERROR)
                    value += int((now - self._recorded) * 1000)
                    self._recorded = None
                self.database.set_time(value, now)
                out.effects.append(Effect("time", f"time written {value}"))
            else:
                raise _Refuse(Iin.OBJECT_UNKNOWN)
        return [], 0


def _limit(h: ObjectHeader) -> int:
    """Events a class/event read may return: all (0x06) or the header's count (0x07, 0x08; 4.4.1)."""
    if h.qualifier == 0x06:
        return 1 << 30
    if h.qualifier in (0x07, 0x08) and h.count is not None:
        return h.count
    raise _Refuse(Iin.PARAMETER_ERROR)


def _describe(h: ObjectHeader, p: Point) -> str:
    if h.group == 12:
        code = int(p.values.get("control_code", 0))
        op, tcc = code & 0x0F, code >> 6
        name = {1: "PULSE_ON", 2: "PULSE_OFF", 3: "LATCH_ON", 4: "LATCH_OFF"}.get(op, "NUL")
        if tcc:
            name = {1: "CLOSE_PULSE_ON", 2: "TRIP_PULSE_ON"}.get(tcc, f"TCC{tcc}") if op in (0, 1) else \
                f"{name}_TCC{tcc}"
        return f"crob index={p.index} code={name}"
    value = p.values.get("value")
    shown = int(value) if isinstance(value, float) and value.is_integer() else value
    return f"analog index={p.index} value={shown}"
