"""A deterministic discrete-event world for pure consensus nodes.

Theory of operation
-------------------
Time is an integer count of abstract units. Every effect is an event in one
priority queue ordered by ``(time, seq)``; ``seq`` is a global counter, so
ties are broken by scheduling order and a run is a pure function of the seed
and of the calls made on the world (a fault plan, a client workload).

Nodes follow the driver contract of :mod:`wireproof.consensus.api`: after
every input (a delivered message, a tick, a proposal) the world drains
``ready()``: it appends ``ready.persist`` to the node's durable storage
FIRST, then hands ``ready.messages`` to the network, records
``ready.committed``, routes ``ready.replies`` to the clients, and only then
calls ``advance(ready)``.

The network samples, per message and always in the same order, five numbers
from its own stream (drop, duplicate, delay, reorder, extra delay), whatever
the faults in force: removing a fault from a plan therefore perturbs the
rest of the run as little as possible, which is what makes shrinking work.
A message is lost when its link is cut when it is sent or when it would be
delivered, and when its destination crashed after it was sent (the
destination's *incarnation* changed).

A crash throws the node object away; a restart builds a new one with
``factory.restore`` from exactly the records persisted so far. While a node
is down, invariants see the view of a node restored from its storage — what
it durably knows.

After every event the world checks that no slot was committed with two
values (by any node, in any incarnation), that each incarnation commits
slots in increasing order, and then the pluggable invariants
``invariant(views, proposed) -> list[str]``; the first complaint raises
:class:`~wireproof.errors.InvariantViolation` carrying the seed and trace.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from wireproof.consensus.api import (
    ClusterConfig,
    Envelope,
    Node,
    NodeFactory,
    NotLeader,
    Ready,
    Reply,
    SplitMix64,
)
from wireproof.errors import InvariantViolation

__all__ = [
    "Invariant",
    "LinkFaults",
    "Stats",
    "World",
    "drain",
]

NodeId = int
Invariant = Callable[[Mapping[NodeId, Any], frozenset[Any]], Sequence[str]]

# A node whose ready() never quiesces is a bug in the node, not a long run.
MAX_READY_ROUNDS = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkFaults:
    """Fault rates of a link: probabilities per message, delays in time units."""

    drop: float = 0.0
    duplicate: float = 0.0
    delay: tuple[int, int] = (1, 3)
    reorder: float = 0.0
    reorder_delay: int = 20

    def combine(self, other: LinkFaults) -> LinkFaults:
        """Both faults at once: independent losses, the larger delays."""
        return LinkFaults(
            drop=1 - (1 - self.drop) * (1 - other.drop),
            duplicate=1 - (1 - self.duplicate) * (1 - other.duplicate),
            delay=(max(self.delay[0], other.delay[0]), max(self.delay[1], other.delay[1])),
            reorder=1 - (1 - self.reorder) * (1 - other.reorder),
            reorder_delay=max(self.reorder_delay, other.reorder_delay),
        )


@dataclass(slots=True)
class Stats:
    """Counters of one run (message counts are per message type name)."""

    sent: Counter[str] = field(default_factory=Counter)
    delivered: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    duplicated: Counter[str] = field(default_factory=Counter)
    events: int = 0
    ticks: int = 0
    crashes: int = 0
    restarts: int = 0
    committed_slots: int = 0
    proposals: int = 0
    not_leader: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": dict(sorted(self.sent.items())),
            "delivered": dict(sorted(self.delivered.items())),
            "dropped": dict(sorted(self.dropped.items())),
            "duplicated": dict(sorted(self.duplicated.items())),
            "events": self.events,
            "ticks": self.ticks,
            "crashes": self.crashes,
            "restarts": self.restarts,
            "committed_slots": self.committed_slots,
            "proposals": self.proposals,
            "not_leader": self.not_leader,
        }


def drain(node: Node, storage: list[Any]) -> Iterator[Ready]:
    """Drive one node's Ready loop: persist, yield (the caller sends/applies), advance."""
    for _ in range(MAX_READY_ROUNDS):
        rd = node.ready()
        if not rd:
            return
        storage.extend(rd.persist)
        yield rd
        node.advance(rd)
    raise InvariantViolation(f"node {node.id}: ready() did not quiesce after {MAX_READY_ROUNDS} rounds")


def _type_name(message: Any) -> str:
    return type(message).__name__


@dataclass(frozen=True, slots=True)
class _Deliver:
    envelope: Envelope
    incarnation: int


@dataclass(frozen=True, slots=True)
class _Tick:
    node: NodeId
    incarnation: int


@dataclass(frozen=True, slots=True)
class _Call:
    label: str
    fn: Callable[[], None]


_Event = _Deliver | _Tick | _Call


class World:
    """Nodes of one algorithm, a faulty network, durable storage and a clock."""

    def __init__(
        self,
        factory: NodeFactory,
        config: ClusterConfig,
        *,
        seed: int,
        network: LinkFaults | None = None,
        tick_period: int = 10,
        invariants: Sequence[Invariant] = (),
        check_always: bool = True,
        record_trace: bool = True,
    ) -> None:
        self.factory = factory
        self.config = config
        self.seed = seed
        root = SplitMix64(seed)
        self.net_rng = root.fork(1)
        self.rng = root.fork(2)  # for whoever drives the world (clients, fault timing)
        self.network = network or LinkFaults()
        self.links: dict[tuple[NodeId, NodeId], LinkFaults] = {}
        self.overlays: dict[object, tuple[LinkFaults, frozenset[tuple[NodeId, NodeId]] | None]] = {}
        self.cuts: Counter[tuple[NodeId, NodeId]] = Counter()
        self.tick_period = tick_period
        self.tick_periods: dict[NodeId, int] = {}
        self.invariants = list(invariants)
        # check_always=False: check only after an event that persisted or committed something,
        # or crashed / restarted a node — enough for invariants over votes, promises and what was
        # learned when the algorithm persists each vote before sending it (the API's contract).
        self.check_always = check_always
        self._dirty = True
        self.record_trace = record_trace
        self.now = 0
        self.trace: list[str] = []
        self.stats = Stats()
        self.storage: dict[NodeId, list[Any]] = {n: [] for n in config.nodes}
        self.nodes: dict[NodeId, Node | None] = {}
        self.incarnation: dict[NodeId, int] = {n: 0 for n in config.nodes}
        self.down_views: dict[NodeId, Any] = {}
        self.crash_depth: Counter[NodeId] = Counter()
        self.proposed: set[Any] = set()
        self.chosen: dict[int, Any] = {}
        self.last_slot: dict[NodeId, int] = {}
        self.reply_handler: Callable[[NodeId, Reply], None] | None = None
        self._queue: list[tuple[int, int, _Event]] = []
        self._seq = 0
        for n in config.nodes:
            self.nodes[n] = factory.create(n, config)
            self._schedule_tick(n, first=True)
        for n in config.nodes:
            self._flush(n)

    # -- scheduling -----------------------------------------------------

    def _push(self, at: int, event: _Event) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, event))

    def at(self, time: int, label: str, fn: Callable[[], None]) -> None:
        """Run ``fn`` at ``time`` (clamped to now); ``label`` goes into the trace."""
        self._push(max(time, self.now), _Call(label, fn))

    def _schedule_tick(self, n: NodeId, *, first: bool = False) -> None:
        period = self.tick_periods.get(n, self.tick_period)
        # The first tick of each node lands at a seeded phase so nodes do not tick in lockstep.
        delay = 1 + self.rng.below(period) if first else period
        self._push(self.now + delay, _Tick(n, self.incarnation[n]))

    def log(self, line: str) -> None:
        if self.record_trace:
            self.trace.append(f"{self.now} {line}")

    def pending(self) -> int:
        return len(self._queue)

    # -- running --------------------------------------------------------

    def step(self) -> bool:
        """Process the next event; False when nothing is left to do."""
        if not self._queue:
            return False
        at, _, event = heapq.heappop(self._queue)
        self.now = at
        self.stats.events += 1
        if isinstance(event, _Deliver):
            self._deliver(event)
        elif isinstance(event, _Tick):
            self._tick(event)
        else:
            self.log(event.label)
            event.fn()
        self.check()
        return True

    def run(self, until: int) -> None:
        """Process every event due at or before ``until``."""
        while self._queue and self._queue[0][0] <= until:
            self.step()
        self.now = max(self.now, until)

    def _deliver(self, event: _Deliver) -> None:
        env = event.envelope
        kind = _type_name(env.message)
        node = self.nodes.get(env.dst)
        if node is None or event.incarnation != self.incarnation[env.dst]:
            self.stats.dropped[kind] += 1
            self.log(f"lost {env.src}->{env.dst} {env.message!r} (destination crashed)")
            return
        if self.cuts[(env.src, env.dst)]:
            self.stats.dropped[kind] += 1
            self.log(f"cut {env.src}->{env.dst} {env.message!r}")
            return
        self.stats.delivered[kind] += 1
        self.log(f"deliver {env.src}->{env.dst} {env.message!r}")
        node.step(env)
        self._flush(env.dst)

    def _tick(self, event: _Tick) -> None:
        node = self.nodes.get(event.node)
        if node is None or event.incarnation != self.incarnation[event.node]:
            return
        self.stats.ticks += 1
        node.tick()
        self._flush(event.node)
        self._schedule_tick(event.node)

    def _flush(self, n: NodeId) -> None:
        node = self.nodes[n]
        if node is None:
            return
        for rd in drain(node, self.storage[n]):
            if rd.persist or rd.committed:
                self._dirty = True
            for record in rd.persist:
                self.log(f"persist {n} {record!r}")
            for env in rd.messages:
                self.send(env)
            for c in rd.committed:
                self._commit(n, c.slot, c.value)
            for reply in rd.replies:
                self.log(f"reply {n} {reply.request_id!r} {reply.result!r}")
                if self.reply_handler is not None:
                    self.reply_handler(n, reply)

    def _commit(self, n: NodeId, slot: int, value: Any) -> None:
        self.log(f"commit {n} slot={slot} {value!r}")
        last = self.last_slot.get(n, -1)
        if slot <= last:
            self.violation(f"node {n} committed slot {slot} after slot {last} (apply order)")
        self.last_slot[n] = slot
        if slot in self.chosen:
            if self.chosen[slot] != value:
                self.violation(
                    f"slot {slot} committed with two values: {self.chosen[slot]!r} and {value!r} (node {n})"
                )
        else:
            self.chosen[slot] = value
            self.stats.committed_slots += 1

    # -- the network ----------------------------------------------------

    def link_faults(self, src: NodeId, dst: NodeId) -> LinkFaults:
        lf = self.links.get((src, dst), self.network)
        for overlay, links in self.overlays.values():
            if links is None or (src, dst) in links:
                lf = lf.combine(overlay)
        return lf

    def send(self, env: Envelope) -> None:
        kind = _type_name(env.message)
        self.stats.sent[kind] += 1
        r = self.net_rng
        r_drop, r_dup, r_delay, r_reorder, r_extra = r.random(), r.random(), r.next(), r.random(), r.next()
        if env.src == env.dst:  # local delivery: no network in between
            self._push(self.now + 1, _Deliver(env, self.incarnation[env.dst]))
            return
        if env.dst not in self.incarnation:
            self.stats.dropped[kind] += 1
            self.log(f"unknown destination {env.src}->{env.dst} {env.message!r}")
            return
        lf = self.link_faults(env.src, env.dst)
        if self.cuts[(env.src, env.dst)] or r_drop < lf.drop:
            self.stats.dropped[kind] += 1
            self.log(f"drop {env.src}->{env.dst} {env.message!r}")
            return
        lo, hi = lf.delay
        delay = lo + r_delay % (hi - lo + 1)
        if r_reorder < lf.reorder:
            delay += 1 + r_extra % lf.reorder_delay
        self.log(f"send {env.src}->{env.dst} +{delay} {env.message!r}")
        incarnation = self.incarnation[env.dst]
        self._push(self.now + delay, _Deliver(env, incarnation))
        if r_dup < lf.duplicate:
            self.stats.duplicated[kind] += 1
            self._push(self.now + delay + 1 + r_extra % (hi + 1), _Deliver(env, incarnation))

    def set_link(self, src: NodeId, dst: NodeId, faults: LinkFaults | None) -> None:
        """Give one directed link its own fault rates (None: back to the network's)."""
        if faults is None:
            self.links.pop((src, dst), None)
        else:
            self.links[(src, dst)] = faults

    def add_overlay(
        self, key: object, faults: LinkFaults, links: Sequence[tuple[NodeId, NodeId]] | None = None
    ) -> None:
        """Combine ``faults`` into every link (or the given ones) until ``remove_overlay(key)``."""
        self.overlays[key] = (faults, None if links is None else frozenset(links))

    def remove_overlay(self, key: object) -> None:
        self.overlays.pop(key, None)

    def cut(self, src: NodeId, dst: NodeId) -> None:
        """Cut one directed link (cuts nest: each needs its own ``uncut``)."""
        self.cuts[(src, dst)] += 1

    def uncut(self, src: NodeId, dst: NodeId) -> None:
        if self.cuts[(src, dst)] > 0:
            self.cuts[(src, dst)] -= 1

    def partition_links(
        self, side: Sequence[NodeId], other: Sequence[NodeId] | None = None, *, one_way: bool = False
    ) -> list[tuple[NodeId, NodeId]]:
        """The links a partition ``side | other`` cuts (``other``: everyone else)."""
        rest = [n for n in self.config.nodes if n not in side] if other is None else list(other)
        links = [(a, b) for a in side for b in rest if a != b]
        if not one_way:
            links += [(b, a) for a, b in links]
        return links

    def partition(self, side: Sequence[NodeId], other: Sequence[NodeId] | None = None,
                  *, one_way: bool = False) -> list[tuple[NodeId, NodeId]]:
        """Cut every link between ``side`` and ``other`` (one way: only side -> other)."""
        links = self.partition_links(side, other, one_way=one_way)
        for a, b in links:
            self.cut(a, b)
        return links

    def heal(self) -> None:
        """Restore every cut link."""
        self.cuts.clear()

    def connected(self, src: NodeId, dst: NodeId) -> bool:
        return not self.cuts[(src, dst)]

    # -- nodes ------------------------------------------------------------

    def crash(self, n: NodeId) -> None:
        """Crash ``n`` (crashes nest; the node returns when every crash is restarted)."""
        self.crash_depth[n] += 1
        if self.nodes[n] is None:
            return
        self.stats.crashes += 1
        self.log(f"crash {n}")
        self.nodes[n] = None
        self._dirty = True
        self.incarnation[n] += 1
        self.last_slot.pop(n, None)
        self.down_views[n] = self.factory.restore(n, self.config, list(self.storage[n])).inspect()

    def restart(self, n: NodeId) -> None:
        """Undo one crash of ``n``; on the last, restore it from its storage."""
        if self.crash_depth[n] > 0:
            self.crash_depth[n] -= 1
        if self.crash_depth[n] or self.nodes[n] is not None:
            return
        self.stats.restarts += 1
        self.log(f"restart {n} from {len(self.storage[n])} records")
        self.nodes[n] = self.factory.restore(n, self.config, list(self.storage[n]))
        self.down_views.pop(n, None)
        self._dirty = True
        self._schedule_tick(n, first=True)
        self._flush(n)

    def is_up(self, n: NodeId) -> bool:
        return self.nodes.get(n) is not None

    def set_tick_period(self, n: NodeId, period: int | None) -> None:
        """Skew ``n``'s clock: it ticks every ``period`` units (None: the default)."""
        if period is None:
            self.tick_periods.pop(n, None)
        else:
            self.tick_periods[n] = max(1, period)

    def propose(self, n: NodeId, value: Any) -> None:
        """Ask node ``n`` to propose ``value``; NotLeader if it cannot (or is down)."""
        self.stats.proposals += 1
        node = self.nodes.get(n)
        if node is None:
            self.stats.not_leader += 1
            raise NotLeader(None)
        self.proposed.add(value)
        try:
            node.propose(value)
        except NotLeader:
            self.stats.not_leader += 1
            self.log(f"propose {n} {value!r}: not leader")
            raise
        self.log(f"propose {n} {value!r}")
        self._flush(n)

    # -- checking ---------------------------------------------------------

    def views(self) -> dict[NodeId, Any]:
        """Each node's ``inspect()``; a crashed node's is its restored-from-storage view."""
        out: dict[NodeId, Any] = {}
        for n in self.config.nodes:
            node = self.nodes[n]
            out[n] = node.inspect() if node is not None else self.down_views[n]
        return out

    def check(self) -> None:
        if not self.invariants or not (self.check_always or self._dirty):
            return
        self._dirty = False
        views = self.views()
        proposed = frozenset(self.proposed)
        for invariant in self.invariants:
            problems = list(invariant(views, proposed))
            if problems:
                self.violation("; ".join(problems))

    def violation(self, reason: str) -> None:
        self.log(f"VIOLATION {reason}")
        raise InvariantViolation(reason, seed=self.seed, trace=self.trace)
