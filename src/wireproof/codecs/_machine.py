"""The machine contract: states, events and one total transition table per machine (pure).

Theory of operation (DESIGN.md, layer 3; h11's ``_state.py``, h2's ``stream.py``)
-------------------------------------------------------------------------------
A protocol machine is sans-I/O: the driver tells it what the local side does
(``send``), what the peer did (``receive``) and what time it is (``tick``),
and each call returns the effects the driver must carry out (bytes to send,
events to report). Time is an input, never read.

The rules of a machine are ONE :class:`TransitionTable`: for each (state,
event type) pair it allows, the :class:`Transition` it makes — the next state
and the action the machine performs (``"pair"``, ``"duplicate"``, ...).
A pair the table does not list is a :class:`~wireproof.errors.ProtocolViolation`
naming its clause: :class:`~wireproof.errors.LocalProtocolError` when the
local side asked for it (a driver bug, or a test that breaks the rule on
purpose), :class:`~wireproof.errors.RemoteProtocolError` when the peer did
it. There is no third answer: the table is total over the states and event
types it declares, and a machine changes state only through
:meth:`TransitionTable.step`. So the rule lives in one place, which the
client, the reference device, the passive replay analyzer and ``replay
--send`` share, and ``tests/codecs/test_machines.py`` drives every (state,
event) pair of every machine a protocol descriptor declares.

A machine class declares ``TABLE`` and implements :meth:`Machine.in_state`
(a machine whose subject — the connection, the transaction, the key — is in
a given state, for that test) and :meth:`Machine.handle` (one event applied
to that subject: sent when the role is ``LOCAL``, received when ``REMOTE``).
The transition an event makes depends on its type alone; its fields only
shape the action (what is reported, what is answered), so the test may fill
them at random.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from wireproof._compiled import mypyc_attr
from wireproof.errors import LocalProtocolError, ProtocolViolation, RemoteProtocolError

__all__ = ["Machine", "Role", "Transition", "TransitionTable"]

S = TypeVar("S", bound=enum.Enum)


class Role(enum.Enum):
    """Who caused an event: this side (``LOCAL``: a send, or our own clock) or the peer (``REMOTE``)."""

    LOCAL = "local"
    REMOTE = "remote"


@dataclass(frozen=True)  # neither slots nor generic: mypyc compiles this module, and refuses both here
class Transition:
    """Where an allowed (state, event) pair leads, and what the machine does on the way."""

    target: Any  # a state of the table's enum
    action: str = ""


class TransitionTable(Generic[S]):
    """One machine's rules (see the module docstring).

    ``rules`` maps ``(state, event type)`` to a :class:`Transition` (or just
    the target state). ``clauses`` says which clause an unlisted pair breaks:
    keys ``(state, event type)``, ``(None, event type)``, ``(state, None)``,
    the most specific first; ``clause`` is the fallback. ``local`` lists the
    event types this side causes (its sends, its own clock); the others come
    from the peer. Every state and event type in ``rules`` and ``clauses``
    must be among those declared.
    """

    def __init__(self, *, name: str, protocol: str, states: type[S], events: tuple[type, ...],
                 rules: Mapping[tuple[S, type], Transition | S], clause: str,
                 clauses: Mapping[tuple[S | None, type | None], str] | None = None,
                 local: tuple[type, ...] = ()) -> None:
        self.name = name
        self.protocol = protocol
        self.states: tuple[S, ...] = tuple(states)
        self.events = events
        self.local = local
        self.clause = clause
        self.clauses = dict(clauses or {})
        self.rules: dict[tuple[S, type], Transition] = {
            key: rule if isinstance(rule, Transition) else Transition(rule) for key, rule in rules.items()}
        for (state, event), rule in self.rules.items():
            if state not in self.states or event not in events or rule.target not in self.states:
                raise ValueError(f"{name}: rule {state!r}, {event.__name__} -> {rule.target!r} uses an "
                                 "undeclared state or event type")
        if any(e not in events for e in local):
            raise ValueError(f"{name}: a local event type is not declared")
        for state_key, event_key in self.clauses:
            if (state_key is not None and state_key not in self.states) or \
                    (event_key is not None and event_key not in events):
                raise ValueError(f"{name}: clause key ({state_key!r}, {event_key!r}) is not declared")

    def role_of(self, event: type) -> Role:
        """Who causes events of this type: ``LOCAL`` (declared in ``local``) or ``REMOTE``."""
        return Role.LOCAL if event in self.local else Role.REMOTE

    def rule(self, state: S, event: type) -> Transition | None:
        """The transition for ``(state, event)``, or None when the pair is not allowed."""
        return self.rules.get((state, event))

    def clause_for(self, state: S, event: type) -> str:
        """The clause an unlisted ``(state, event)`` pair breaks."""
        for key in ((state, event), (None, event), (state, None)):
            found = self.clauses.get(key)
            if found:
                return found
        return self.clause

    def step(self, state: S, event: object, role: Role) -> Transition:
        """The transition ``event`` makes from ``state``; a :class:`ProtocolViolation` if it makes none."""
        kind = type(event)
        rule = self.rules.get((state, kind))
        if rule is None:
            raise self.violation(state, kind, role)
        return rule

    def violation(self, state: S, event: type, role: Role) -> ProtocolViolation:
        cls = LocalProtocolError if role is Role.LOCAL else RemoteProtocolError
        who = "asked for" if role is Role.LOCAL else "received"
        return cls(f"{self.name}: {event.__name__} {who} in state {state.name}, which allows "
                   f"{self._allowed(state)}", clause=self.clause_for(state, event), protocol=self.protocol)

    def _allowed(self, state: S) -> str:
        names = [e.__name__ for (s, e) in self.rules if s is state]
        return ", ".join(names) if names else "nothing"

    def pairs(self) -> Iterator[tuple[S, type, Transition | None]]:
        """Every (state, event type) pair with its transition (None: a violation)."""
        for state in self.states:
            for event in self.events:
                yield state, event, self.rules.get((state, event))

    def render(self) -> str:
        """The table as text: one line a pair, for documentation and golden files."""
        lines = []
        for state, event, rule in self.pairs():
            outcome = (f"-> {rule.target.name}" + (f" ({rule.action})" if rule.action else "")
                       if rule is not None else f"violation [{self.clause_for(state, event)}]")
            lines.append(f"{state.name:<20} {event.__name__:<28} {outcome}")
        return "\n".join(lines)


@mypyc_attr(allow_interpreted_subclasses=True)
class Machine(Generic[S]):
    """A machine on a :class:`TransitionTable` (see the module docstring)."""

    TABLE: ClassVar[TransitionTable[Any]]
    state: S

    def _step(self, event: object, role: Role) -> Transition:
        """Move by ``event`` (the table decides); the transition made."""
        rule: Transition = self.TABLE.step(self.state, event, role)
        self.state = rule.target
        return rule

    @classmethod
    def in_state(cls, state: S) -> Machine[S]:
        """A machine of this class in ``state`` (for the table's totality test)."""
        raise NotImplementedError

    def handle(self, event: object, role: Role) -> Any:
        """Send (``Role.LOCAL``) or receive (``Role.REMOTE``) one event of the table's types."""
        raise NotImplementedError
