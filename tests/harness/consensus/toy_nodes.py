"""Toy nodes for real-mode plumbing tests (imported by node subprocesses through PYTHONPATH).

``SoloFactory``: node 0 serves every command from its own log (persisted, so
it survives a restart); the others answer ``NotLeader(0)``. Linearizable as
long as only node 0 serves, which is what the plumbing tests need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wireproof.consensus.api import ClusterConfig, Committed, NotLeader, Ready, Reply


@dataclass(frozen=True, slots=True, kw_only=True)
class SoloEntry:
    slot: int
    value: Any


class SoloNode:
    def __init__(self, node_id: int, entries: Sequence[SoloEntry] = ()) -> None:
        self.id = node_id
        self.data: dict[Any, Any] = {}
        self.slot = 0
        for e in entries:
            self._apply(e.value)
            self.slot = e.slot + 1
        self.out: list[tuple[SoloEntry, Any]] = []

    def _apply(self, cmd: Any) -> Any:
        if cmd.kind == "read":
            return self.data.get(cmd.key)
        if cmd.kind == "write":
            self.data[cmd.key] = cmd.value
            return None
        old, new = cmd.value
        if self.data.get(cmd.key) != old:
            return False
        self.data[cmd.key] = new
        return True

    def step(self, envelope: Any) -> None:
        pass

    def tick(self) -> None:
        pass

    def propose(self, value: Any) -> None:
        if self.id != 0:
            raise NotLeader(0)
        entry = SoloEntry(slot=self.slot, value=value)
        self.slot += 1
        self.out.append((entry, self._apply(value)))

    def ready(self) -> Ready:
        return Ready(persist=tuple(e for e, _ in self.out),
                     committed=tuple(Committed(slot=e.slot, value=e.value) for e, _ in self.out),
                     replies=tuple(Reply(request_id=e.value.request_id, result=r) for e, r in self.out))

    def advance(self, ready: Ready) -> None:
        del self.out[:len(ready.persist)]

    def inspect(self) -> Any:
        return (self.slot, tuple(sorted(self.data.items())))


class SoloFactory:
    name = "solo"

    def create(self, node_id: int, config: ClusterConfig) -> SoloNode:
        return SoloNode(node_id)

    def restore(self, node_id: int, config: ClusterConfig, records: Sequence[Any]) -> SoloNode:
        return SoloNode(node_id, records)


class LocalNode(SoloNode):
    """Broken on purpose: every node serves from its own log, with no replication."""

    def propose(self, value: Any) -> None:
        entry = SoloEntry(slot=self.slot, value=value)
        self.slot += 1
        self.out.append((entry, self._apply(value)))


class LocalFactory(SoloFactory):
    name = "local"

    def create(self, node_id: int, config: ClusterConfig) -> LocalNode:
        return LocalNode(node_id)

    def restore(self, node_id: int, config: ClusterConfig, records: Sequence[Any]) -> LocalNode:
        return LocalNode(node_id, records)
