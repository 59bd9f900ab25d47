"""Simulated clients: a closed-loop workload whose operations form a history.

Theory of operation
-------------------
Each client process issues one operation at a time (read, write or cas on a
small key space, values from a small range so that cas sometimes succeeds),
waits a seeded think time, and issues the next. An operation is proposed to
the node the client believes leads; ``NotLeader`` (the proposal was *not*
taken) is retried at the hinted node, or a random one, until the operation's
timeout. Once a node took the proposal the client never re-proposes it: a
reply completes it ("ok", or "fail" when a cas did not apply), and no reply
within the timeout leaves it indefinite ("info" — it may take effect at any
later point). As in Jepsen, a process whose operation is indefinite is
retired and the client continues under a fresh process number.

The value proposed is built by a :class:`ClientAdapter`, so the same clients
drive any algorithm: each factory names its adapter
(:meth:`~wireproof.consensus.algorithm.AlgorithmFactory.client_adapter`; the
key-value store's is :class:`wireproof.consensus.kv.KvAdapter`).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from wireproof.consensus.api import NotLeader, Reply
from wireproof.consensus.check.history import Kind, Operation, Outcome
from wireproof.consensus.sim.world import World

__all__ = ["ClientAdapter", "ClientCommand", "Clients", "OpRecord", "PlainAdapter", "Workload"]

NodeId = int


@dataclass(frozen=True, slots=True, kw_only=True)
class Workload:
    """What the clients do; times are in world time units."""

    clients: int = 3
    keys: tuple[str, ...] = ("x", "y")
    kinds: tuple[str, ...] = ("read", "write", "cas")
    values: int = 5  # written values are 0..values-1
    think: tuple[int, int] = (5, 60)
    timeout: int = 400
    retry_delay: int = 15
    stop_at: int | None = None  # no new operation is invoked at or after this time


class ClientAdapter(Protocol):
    """Turns a client operation into a proposal value, and a Reply result into an outcome."""

    def command(self, *, request_id: int, client: int, kind: str, key: str, value: Any) -> Hashable: ...

    def outcome(self, *, kind: str, value: Any, result: Any) -> tuple[str, Any]:
        """``("ok" | "fail", result)`` for the history."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientCommand:
    """The value :class:`PlainAdapter` proposes (toy nodes apply it as they like)."""

    request_id: int
    client: int
    kind: str
    key: str
    value: Any


class PlainAdapter:
    """Proposes :class:`ClientCommand`; a cas result is a bool (False -> "fail")."""

    def command(self, *, request_id: int, client: int, kind: str, key: str, value: Any) -> Hashable:
        return ClientCommand(request_id=request_id, client=client, kind=kind, key=key, value=value)

    def outcome(self, *, kind: str, value: Any, result: Any) -> tuple[str, Any]:
        if kind == "cas" and result is False:
            return "fail", None
        return "ok", result


@dataclass(slots=True, kw_only=True)
class OpRecord:
    """One operation as the history sees it (converted to the checker's Operation)."""

    process: int
    kind: str
    key: str
    value: Any
    invoke: float
    complete: float | None = None
    outcome: str = "info"
    result: Any = None
    node: NodeId | None = None
    attempts: int = 0


@dataclass(slots=True, kw_only=True)
class _Client:
    index: int
    process: int
    leader: NodeId
    current: OpRecord | None = None
    request_id: int = -1
    command: Any = None


class Clients:
    """Clients driving ``world`` (they install themselves as its reply handler)."""

    def __init__(self, world: World, workload: Workload, adapter: ClientAdapter) -> None:
        self.world = world
        self.workload = workload
        self.adapter = adapter
        self.rng = world.rng.fork(0xC11E)
        self.records: list[OpRecord] = []
        self.pending: dict[int, _Client] = {}
        self._next_request = 0
        nodes = world.config.nodes
        self.clients = [
            _Client(index=i, process=i, leader=nodes[self.rng.below(len(nodes))])
            for i in range(workload.clients)
        ]
        world.reply_handler = self._on_reply
        for c in self.clients:
            self._think(c)

    def _think(self, c: _Client) -> None:
        lo, hi = self.workload.think
        at = self.world.now + lo + self.rng.below(hi - lo + 1)
        if self.workload.stop_at is not None and at >= self.workload.stop_at:
            return
        self.world.at(at, f"client {c.process} invoke", lambda: self._invoke(c))

    def _invoke(self, c: _Client) -> None:
        w = self.workload
        kind = w.kinds[self.rng.below(len(w.kinds))]
        key = w.keys[self.rng.below(len(w.keys))]
        value: Any = None
        if kind == "write":
            value = self.rng.below(w.values)
        elif kind == "cas":
            value = (self.rng.below(w.values), self.rng.below(w.values))
        self._next_request += 1
        c.request_id = self._next_request
        c.command = self.adapter.command(
            request_id=c.request_id, client=c.process, kind=kind, key=key, value=value
        )
        c.current = OpRecord(process=c.process, kind=kind, key=key, value=value, invoke=self.world.now)
        self.records.append(c.current)
        self._attempt(c)

    def _attempt(self, c: _Client) -> None:
        op = c.current
        if op is None:
            return
        if self.world.now - op.invoke >= self.workload.timeout:
            # Every attempt was refused with NotLeader: no node took it, it definitely failed.
            op.outcome, op.complete = "fail", self.world.now
            c.current = None
            self._think(c)
            return
        op.attempts += 1
        op.node = c.leader
        self.pending[c.request_id] = c
        try:
            self.world.propose(c.leader, c.command)
        except NotLeader as e:
            self.pending.pop(c.request_id, None)
            nodes = self.world.config.nodes
            if e.leader is not None and e.leader != c.leader and e.leader in nodes:
                c.leader = e.leader
            else:
                c.leader = nodes[self.rng.below(len(nodes))]
            self.world.at(self.world.now + self.workload.retry_delay, f"client {c.process} retry",
                          lambda: self._attempt(c))
            return
        if c.current is op:  # not already answered while proposing
            rid = c.request_id
            self.world.at(int(op.invoke) + self.workload.timeout, f"client {c.process} timeout?",
                          lambda: self._timeout(c, rid))

    def _on_reply(self, node: NodeId, reply: Reply) -> None:
        if not isinstance(reply.request_id, int):
            return
        c = self.pending.pop(reply.request_id, None)
        if c is None or c.current is None:
            return  # a duplicate reply, or one for an operation already timed out
        op = c.current
        op.outcome, op.result = self.adapter.outcome(kind=op.kind, value=op.value, result=reply.result)
        op.complete = self.world.now
        c.current = None
        c.leader = node
        self._think(c)

    def _timeout(self, c: _Client, request_id: int) -> None:
        if c.request_id == request_id and c.current is not None and request_id in self.pending:
            self.pending.pop(request_id)
            self._indefinite(c)

    def _indefinite(self, c: _Client) -> None:
        op = c.current
        if op is None:
            return
        op.outcome, op.complete = "info", None
        c.current = None
        c.process += len(self.clients)  # Jepsen: a process with an indefinite op is retired
        self._think(c)

    def history(self) -> tuple[Operation, ...]:
        """The operations as :class:`wireproof.consensus.check.history.Operation`, invoke order."""
        return tuple(
            Operation(process=r.process, kind=cast(Kind, r.kind), key=r.key, value=r.value,
                      invoke=float(r.invoke), complete=None if r.complete is None else float(r.complete),
                      outcome=cast(Outcome, r.outcome), result=r.result)
            for r in self.records
        )
