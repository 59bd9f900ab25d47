"""Toy nodes for the simulator's own tests (the real algorithms have their own tests).

- ``PrimaryNode``: node 1 is a fixed primary holding a key-value register; it
  persists each command (unless ``volatile``), broadcasts it to the backups,
  commits it and replies at once; the others answer NotLeader(1). Correct
  (linearizable) while it persists; with ``volatile`` a restart forgets.
- ``GossipNode``: on propose, a node appends the value to its log and sends
  it to every peer; on receipt it appends it too. The log order depends on
  the delivery order, which makes it good for counting explored states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from wireproof.consensus.api import ClusterConfig, Committed, Envelope, NotLeader, Ready, Reply
from wireproof.consensus.sim.clients import ClientCommand


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    slot: int
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Volatile:
    """A record kept only in memory (the volatile mutant 'persists' nothing)."""


class PrimaryNode:
    PRIMARY = 1

    def __init__(self, node_id: int, config: ClusterConfig, log: Sequence[Any] = (), *,
                 volatile: bool = False, silent: bool = False):
        self.id = node_id
        self.config = config
        self.volatile = volatile
        self.silent = silent
        self.log: list[Any] = list(log)
        self.kv: dict[str, Any] = {}
        self.ticks = 0
        self.received = 0
        self._ready = Ready()
        self._persist: list[Any] = []
        self._msgs: list[Envelope] = []
        self._committed: list[Committed] = []
        self._replies: list[Reply] = []
        for value in self.log:
            self._apply(value)

    def _apply(self, value: Any) -> Any:
        if not isinstance(value, ClientCommand):
            return None
        if value.kind == "read":
            return self.kv.get(value.key)
        if value.kind == "write":
            self.kv[value.key] = value.value
            return None
        old, new = value.value
        if self.kv.get(value.key) == old:
            self.kv[value.key] = new
            return True
        return False

    def _append(self, value: Any) -> Any:
        slot = len(self.log)
        self.log.append(value)
        if not self.volatile:
            self._persist.append(Entry(slot=slot, value=value))
        self._committed.append(Committed(slot=slot, value=value))
        return slot, self._apply(value)

    def propose(self, value: Any) -> None:
        if self.id != self.PRIMARY:
            raise NotLeader(self.PRIMARY)
        slot, result = self._append(value)
        for peer in self.config.nodes:
            if peer != self.id:
                self._msgs.append(Envelope(src=self.id, dst=peer, message=Entry(slot=slot, value=value)))
        if isinstance(value, ClientCommand) and not self.silent:
            self._replies.append(Reply(request_id=value.request_id, result=result))

    def step(self, envelope: Envelope) -> None:
        self.received += 1
        msg = envelope.message
        if isinstance(msg, Entry) and msg.slot == len(self.log):
            self._append(msg.value)

    def tick(self) -> None:
        self.ticks += 1

    def ready(self) -> Ready:
        return Ready(persist=tuple(self._persist), messages=tuple(self._msgs),
                     committed=tuple(self._committed), replies=tuple(self._replies))

    def advance(self, ready: Ready) -> None:
        self._persist, self._msgs, self._committed, self._replies = [], [], [], []

    def inspect(self) -> Any:
        return (tuple(self.log), self.received)


class PrimaryFactory:
    name = "toy-primary"

    def __init__(self, *, volatile: bool = False, silent: bool = False) -> None:
        self.volatile = volatile
        self.silent = silent

    def create(self, node_id: int, config: ClusterConfig) -> PrimaryNode:
        return PrimaryNode(node_id, config, volatile=self.volatile, silent=self.silent)

    def restore(self, node_id: int, config: ClusterConfig, records: Sequence[Any]) -> PrimaryNode:
        entries = sorted((r for r in records if isinstance(r, Entry)), key=lambda e: e.slot)
        return PrimaryNode(node_id, config, [e.value for e in entries], volatile=self.volatile,
                           silent=self.silent)


class GossipNode:
    def __init__(self, node_id: int, config: ClusterConfig, log: Sequence[Any] = ()):
        self.id = node_id
        self.config = config
        self.log = tuple(log)
        self._out: list[Envelope] = []
        self._persist: list[Any] = []

    def propose(self, value: Any) -> None:
        self.log += (value,)
        self._persist.append(value)
        self._out += [Envelope(src=self.id, dst=p, message=value) for p in self.config.nodes if p != self.id]

    def step(self, envelope: Envelope) -> None:
        self.log += (envelope.message,)
        self._persist.append(envelope.message)

    def tick(self) -> None:
        pass

    def ready(self) -> Ready:
        return Ready(persist=tuple(self._persist), messages=tuple(self._out))

    def advance(self, ready: Ready) -> None:
        self._out, self._persist = [], []

    def inspect(self) -> Any:
        return self.log


class GossipFactory:
    name = "toy-gossip"

    def create(self, node_id: int, config: ClusterConfig) -> GossipNode:
        return GossipNode(node_id, config)

    def restore(self, node_id: int, config: ClusterConfig, records: Sequence[Any]) -> GossipNode:
        return GossipNode(node_id, config, records)


@pytest.fixture
def primary() -> PrimaryFactory:
    return PrimaryFactory()


@pytest.fixture
def volatile_primary() -> PrimaryFactory:
    return PrimaryFactory(volatile=True)


@pytest.fixture
def gossip() -> GossipFactory:
    return GossipFactory()
