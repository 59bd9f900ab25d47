"""Request/answer pairing by key: the one copy of "which request does this answer answer?" (pure).

Theory of operation
-------------------
Request/response protocols pair an answer with its request by a key the
answer copies: the Modbus/TCP transaction identifier (MB-TCP 3.1.3), the
DNP3 application sequence number, an HL7 message control id, a DIMSE message
id. Each key goes through the states of :data:`PAIRING`:

- ``IDLE``: no request with this key is known (never seen, or forgotten);
- ``PENDING``: a request awaits its answer;
- ``ANSWERED``: it was answered (a second answer is a duplicate);
- ``TIMED_OUT``: its time ran out (an answer now is late).

Events: :class:`Open` (a request with this key was sent or seen),
:class:`Answer` (an answer carrying the key arrived) and :class:`Expire`
(the request's deadline passed). The table's actions tell the caller what
the answer is: ``"pair"`` (it answers a pending request), ``"duplicate"``,
``"late"``, ``"unexpected"`` (it answers nothing known); an :class:`Open`
of a key still pending is ``"reuse"`` (the earlier request can no longer be
told apart: it is displaced). Expiring a key that is not pending is a
violation (a driver bug).

:class:`Pairing` keeps the keys in bounded memory: at most ``max_pending``
pending (opening one more displaces the oldest: ``"evict"``), and the last
``history`` answered and timed-out keys. Its users are the client machines,
the passive analyzers and ``replay --send``; each keeps its own value per
request (the request message, frame number, deadline...). Whether an answer
*fits* its request (function code, echo, counts) is the protocol's rule, not
this module's.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from wireproof._compiled import mypyc_attr
from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable

__all__ = ["PAIRING", "Answer", "Expire", "Open", "Pairing", "TxState"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TxState(enum.Enum):
    """What is known of one key (see the module docstring)."""

    IDLE = "idle"
    PENDING = "pending"
    ANSWERED = "answered"
    TIMED_OUT = "timed-out"


@dataclass(frozen=True)  # not slots=True: mypyc compiles this module
class Open:
    """A request with ``key`` was sent (or, to an observer, seen)."""

    key: Hashable


@dataclass(frozen=True)  # not slots=True: mypyc compiles this module
class Answer:
    """An answer carrying ``key`` arrived."""

    key: Hashable


@dataclass(frozen=True)  # not slots=True: mypyc compiles this module
class Expire:
    """The deadline of the request with ``key`` passed."""

    key: Hashable


_I, _P, _A, _T = TxState.IDLE, TxState.PENDING, TxState.ANSWERED, TxState.TIMED_OUT

PAIRING: Final = TransitionTable(
    name="request/answer pairing", protocol="", states=TxState, events=(Open, Answer, Expire),
    rules={
        (_I, Open): Transition(_P, "open"),
        (_A, Open): Transition(_P, "open"),  # a key used again after its answer: a new transaction
        (_T, Open): Transition(_P, "open"),
        (_P, Open): Transition(_P, "reuse"),  # the earlier request is displaced
        (_P, Answer): Transition(_A, "pair"),
        (_A, Answer): Transition(_A, "duplicate"),
        (_T, Answer): Transition(_T, "late"),
        (_I, Answer): Transition(_I, "unexpected"),
        (_P, Expire): Transition(_T, "time-out"),
    },
    clause="only a pending request can time out",
    local=(Expire,),  # the driver's clock; Open and Answer are whoever's: the table allows them always
)

PAIR, DUPLICATE, LATE, UNEXPECTED = "pair", "duplicate", "late", "unexpected"

# The table's rules for the two hot events, by state (the same objects as in the table); the
# hot paths take two of them without a lookup: an answer to a pending key, and an Open of a
# key that is not pending (one rule for the three other states: checked here).
_ANSWER: Final = {s: PAIRING.rule(s, Answer) for s in TxState}
_OPEN: Final = {s: PAIRING.rule(s, Open) for s in TxState}
_PAIRED, _OPENED = _ANSWER[_P], _OPEN[_I]
if _PAIRED is None or _OPENED is None or _PAIRED.action != PAIR or \
        any(_OPEN[s] != _OPENED for s in TxState if s is not _P):
    raise AssertionError("the pairing hot paths no longer follow PAIRING")
_PENDING_STATE, _ANSWERED_STATE = _OPENED.target, _PAIRED.target


@mypyc_attr(allow_interpreted_subclasses=True)
class Pairing(Machine[TxState], Generic[K, V]):
    """Keys and their requests' values, in bounded memory (see the module docstring).

    One machine for many keys: :attr:`state` is that of the key last
    touched; the per-key states live in three ordered dicts, oldest first.
    """

    TABLE = PAIRING

    def __init__(self, *, max_pending: int = 1 << 16, history: int = 256) -> None:
        if max_pending < 1 or history < 0:
            raise ValueError("max_pending must be >= 1 and history >= 0")
        self.max_pending = max_pending
        self.history = history
        self.state = TxState.IDLE
        self.pending: dict[K, V] = {}
        self.answered: dict[K, V] = {}
        self.timed_out: dict[K, V] = {}

    def key_state(self, key: K) -> TxState:
        if key in self.pending:
            return TxState.PENDING
        if key in self.answered:
            return TxState.ANSWERED
        if key in self.timed_out:
            return TxState.TIMED_OUT
        return TxState.IDLE

    def __len__(self) -> int:
        """How many requests are pending."""
        return len(self.pending)

    def __iter__(self) -> Iterator[K]:
        """The pending keys, oldest first."""
        return iter(self.pending)

    def open(self, key: K, value: V) -> Sequence[tuple[str, K, V]]:
        """A request with ``key``: pending from now on. Returns what it displaced:
        ``("reuse", key, old)`` and/or ``("evict", oldest key, its value)``."""
        pending = self.pending
        if key not in pending and len(pending) < self.max_pending:  # the hot path: nothing displaced
            answered = self.answered
            if key in answered:
                del answered[key]
            if self.timed_out:
                self.timed_out.pop(key, None)
            pending[key] = value
            self.state = _PENDING_STATE
            return ()
        return self._open(key, value)

    def _open(self, key: K, value: V) -> list[tuple[str, K, V]]:
        state = self.key_state(key)
        rule = _OPEN[state]
        assert rule is not None  # the table allows Open in every state
        self.state = rule.target
        displaced: list[tuple[str, K, V]] = []
        if rule.action == "reuse":
            displaced.append(("reuse", key, self.pending.pop(key)))
        else:
            self.answered.pop(key, None)
            self.timed_out.pop(key, None)
        self.pending[key] = value
        if len(self.pending) > self.max_pending:
            oldest = next(iter(self.pending))
            displaced.append(("evict", oldest, self.pending.pop(oldest)))
        return displaced

    def answer(self, key: K) -> tuple[str, V | None]:
        """An answer with ``key``: the table's action (``"pair"`` ...) and the request's value, if known."""
        pending = self.pending
        if key in pending:  # the hot path: a key pending is in no other table (open() saw to it)
            value = pending.pop(key)
            self.state = _ANSWERED_STATE
            answered = self.answered
            answered[key] = value
            if len(answered) > self.history:
                del answered[next(iter(answered))]
            return PAIR, value
        state = self.key_state(key)
        other = _ANSWER[state]
        assert other is not None  # the table allows Answer in every state
        self.state = other.target
        if state is TxState.ANSWERED:
            return other.action, self.answered[key]
        if state is TxState.TIMED_OUT:
            return other.action, self.timed_out[key]
        return other.action, None

    def expire(self, key: K, role: Role = Role.LOCAL) -> V:
        """The pending request ``key`` timed out: its value. A violation if it is not pending."""
        self.state = self.key_state(key)
        self._step(Expire(key), role)
        value = self.pending.pop(key)
        self._remember(self.timed_out, key, value)
        return value

    def forget(self, key: K) -> V | None:
        """Drop a pending request without an outcome (the caller reports it); its value."""
        return self.pending.pop(key, None)

    def _remember(self, table: dict[K, V], key: K, value: V) -> None:
        table.pop(key, None)
        table[key] = value
        if len(table) > self.history:
            del table[next(iter(table))]

    # -- the machine contract -----------------------------------------------------------

    @classmethod
    def in_state(cls, state: TxState) -> Pairing[K, V]:
        """A pairing whose subject key (``0``) is in ``state``."""
        pairing: Pairing[Any, Any] = cls()
        if state is not TxState.IDLE:
            pairing.open(0, "request")
        if state is TxState.ANSWERED:
            pairing.answer(0)
        elif state is TxState.TIMED_OUT:
            pairing.expire(0)
        pairing.state = state
        return pairing

    def handle(self, event: object, role: Role) -> object:
        """The event applied to the subject key ``0`` (whatever key it carries)."""
        subject: K = 0  # type: ignore[assignment]
        if isinstance(event, Open):
            return self.open(subject, "request")  # type: ignore[arg-type]
        if isinstance(event, Answer):
            return self.answer(subject)
        if isinstance(event, Expire):
            return self.expire(subject, role)
        raise TypeError(f"not a pairing event: {event!r}")
