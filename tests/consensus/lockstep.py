"""A tiny deterministic driver for the algorithm tests (the real simulator is wireproof.consensus.sim).

It follows the Ready contract exactly: persist, then send, then apply, then
advance; crash keeps only the persisted records; invariants are checked
(with a ChosenTracker) after every step.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from wireproof.consensus.api import ClusterConfig, Committed, Envelope, NodeFactory, NodeId, Reply
from wireproof.consensus.check.invariants import ChosenTracker, check_invariants


class Cluster:
    def __init__(self, factory: NodeFactory, config: ClusterConfig, extra: Iterable[NodeId] = ()) -> None:
        self.factory = factory
        self.config = config
        ids = (*config.nodes, *extra)
        self.nodes: dict[NodeId, Any] = {i: factory.create(i, config) for i in ids}
        self.disk: dict[NodeId, list[Any]] = {i: [] for i in ids}
        self.net: list[Envelope] = []
        self.committed: dict[NodeId, list[Committed]] = {i: [] for i in ids}
        self.replies: dict[NodeId, list[Reply]] = {i: [] for i in ids}
        self.proposed: set[Any] = set()
        self.tracker = ChosenTracker()
        self.violations: list[str] = []
        self.down: set[NodeId] = set()
        self.blocked: set[tuple[NodeId, NodeId]] = set()
        self.sent: Counter[str] = Counter()
        self.log: list[str] = []  # what happened, for failure messages

    # -- the Ready contract -----------------------------------------------------------------

    def pump(self, i: NodeId) -> None:
        node = self.nodes[i]
        ready = node.ready()
        self.disk[i].extend(ready.persist)  # persist before send (api.py)
        self.net.extend(ready.messages)
        for env in ready.messages:
            self.sent[type(env.message).__name__] += 1
        self.committed[i].extend(ready.committed)
        self.replies[i].extend(ready.replies)
        node.advance(ready)
        self.check()

    def check(self) -> None:
        views = {i: n.inspect() for i, n in self.nodes.items() if i not in self.down}
        found = check_invariants(views, self.proposed, tracker=self.tracker)
        self.violations.extend(v for v in found if v not in self.violations)

    def views(self) -> dict[NodeId, Any]:
        return {i: n.inspect() for i, n in self.nodes.items() if i not in self.down}

    # -- inputs -----------------------------------------------------------------------------

    def propose(self, i: NodeId, value: Any) -> None:
        self.proposed.add(value)
        self.log.append(f"propose {i} {value!r}")
        try:
            self.nodes[i].propose(value)
        finally:
            self.pump(i)

    def tick(self, *ids: NodeId) -> None:
        for i in ids or tuple(self.nodes):
            if i not in self.down:
                self.nodes[i].tick()
                self.pump(i)

    def deliver(self, k: int = 0) -> Envelope:
        env = self.net.pop(k)
        if env.dst in self.down or (env.src, env.dst) in self.blocked:
            self.log.append(f"drop {env}")
            return env
        self.log.append(f"deliver {env}")
        self.nodes[env.dst].step(env)
        self.pump(env.dst)
        return env

    def deliver_where(self, pred: Callable[[Envelope], bool]) -> Envelope:
        for k, env in enumerate(self.net):
            if pred(env):
                return self.deliver(k)
        raise AssertionError("no such message in flight")

    def drop_where(self, pred: Callable[[Envelope], bool]) -> int:
        before = len(self.net)
        self.net = [e for e in self.net if not pred(e)]
        return before - len(self.net)

    def run(self, limit: int = 100_000) -> None:
        """Deliver everything in flight, in FIFO order."""
        while self.net and limit:
            self.deliver(0)
            limit -= 1
        assert limit, "message storm"

    def settle(self, ticks: int) -> None:
        for _ in range(ticks):
            self.tick()
            self.run()

    def crash(self, i: NodeId) -> None:
        self.log.append(f"crash {i}")
        self.down.add(i)

    def restart(self, i: NodeId) -> None:
        self.log.append(f"restart {i}")
        self.nodes[i] = self.factory.restore(i, self.config, tuple(self.disk[i]))
        self.committed[i] = []
        self.down.discard(i)
        self.pump(i)

    def partition(self, *groups: Iterable[NodeId]) -> None:
        sets = [set(g) for g in groups]
        self.blocked = {(a, b) for a in self.nodes for b in self.nodes
                        if not any(a in s and b in s for s in sets)}

    def heal(self) -> None:
        self.blocked = set()

    def values(self, i: NodeId) -> list[Any]:
        return [c.value for c in self.committed[i]]
