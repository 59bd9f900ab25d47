"""The pure consensus node API (etcd-raft shaped; DESIGN.md, layer 4).

Theory of operation
-------------------
A node is a deterministic state machine with no clock, socket or randomness
of its own. Its driver (the simulator in :mod:`wireproof.consensus.sim`, or
the real-mode harness) owns time, the network and durable storage:

1. inputs: ``step(envelope)`` (a message arrived), ``tick()`` (one unit of
   logical time passed), ``propose(value)`` (a client asks for ``value`` to
   be chosen / appended);
2. ``ready()`` returns a :class:`Ready`: what to persist, what to send, what
   was committed, what to answer clients;
3. the driver writes ``ready.persist`` to durable storage FIRST, then sends
   ``ready.messages``, applies ``ready.committed`` and delivers
   ``ready.replies``, and finally calls ``advance(ready)``;
4. after a crash the node object is gone; the driver restarts it with
   ``NodeFactory.restore(node_id, config, records)`` from exactly the
   records it had persisted (anything not persisted is lost).

Randomness a node needs (e.g. randomized timeouts) comes from its
configuration (a seed) through :class:`SplitMix64`, never from ``random``.
Messages and every value in a ``Ready`` are frozen dataclasses or other
immutable values, so a simulation can record, hash and replay them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "ClusterConfig",
    "Committed",
    "Envelope",
    "Node",
    "NodeFactory",
    "NotLeader",
    "Ready",
    "Reply",
    "SplitMix64",
]

NodeId = int


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """A message in flight from ``src`` to ``dst`` (``message`` is a frozen dataclass)."""

    src: NodeId
    dst: NodeId
    message: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Committed:
    """``value`` was chosen for ``slot`` (slot 0 for single-decree Paxos); apply in slot order."""

    slot: int
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """An answer to a client request handled by this node (``request_id`` from the value)."""

    request_id: Hashable
    result: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Ready:
    """What the node asks its driver to do, in this order: persist, send, apply, reply."""

    persist: tuple[Any, ...] = ()
    messages: tuple[Envelope, ...] = ()
    committed: tuple[Committed, ...] = ()
    replies: tuple[Reply, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.persist or self.messages or self.committed or self.replies)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterConfig:
    """Static configuration: members, timing in ticks, a seed, an optional mutant name."""

    nodes: tuple[NodeId, ...]
    seed: int = 0
    election_ticks: int = 10
    heartbeat_ticks: int = 2
    window: int = 8
    mutant: str | None = None
    options: tuple[tuple[str, Any], ...] = field(default=())

    @property
    def quorum(self) -> int:
        return len(self.nodes) // 2 + 1


class NotLeader(Exception):
    """``propose`` on a node that cannot propose now; ``leader`` is its best guess."""

    def __init__(self, leader: NodeId | None) -> None:
        self.leader = leader
        super().__init__(f"not the leader (leader: {leader})")


@runtime_checkable
class Node(Protocol):
    """A pure consensus node (see the module docstring)."""

    id: NodeId

    def step(self, envelope: Envelope) -> None: ...

    def tick(self) -> None: ...

    def propose(self, value: Any) -> None: ...

    def ready(self) -> Ready: ...

    def advance(self, ready: Ready) -> None: ...

    def inspect(self) -> Any:
        """A frozen, hashable view of the whole state (for invariants and state hashing)."""
        ...


class NodeFactory(Protocol):
    """Builds nodes of one algorithm: fresh, or restored from persisted records."""

    name: str

    def create(self, node_id: NodeId, config: ClusterConfig) -> Node: ...

    def restore(self, node_id: NodeId, config: ClusterConfig, records: Sequence[Any]) -> Node: ...


class SplitMix64:
    """A tiny seeded PRNG (SplitMix64): deterministic on every platform and Python.

    Pure code may not import ``random`` (DESIGN.md); this is the one source of
    randomness for nodes and the simulator, always seeded explicitly.
    """

    __slots__ = ("state",)
    _MASK = (1 << 64) - 1

    def __init__(self, seed: int) -> None:
        self.state = seed & self._MASK

    def next(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & self._MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self._MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self._MASK
        return z ^ (z >> 31)

    def below(self, n: int) -> int:
        """Uniform integer in ``0..n-1`` (``n`` > 0)."""
        if n <= 0:
            raise ValueError("n must be positive")
        return self.next() % n

    def random(self) -> float:
        """Uniform float in [0, 1)."""
        return (self.next() >> 11) / float(1 << 53)

    def chance(self, p: float) -> bool:
        return p > 0 and self.random() < p

    def fork(self, salt: int) -> SplitMix64:
        """An independent stream derived from this one and ``salt``."""
        return SplitMix64(self.next() ^ (salt * 0xD1B54A32D192ED03))
