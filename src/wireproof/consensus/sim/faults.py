"""Fault plans: timed fault episodes as data, generated from a seed, shrunk on failure.

Theory of operation
-------------------
A :class:`FaultPlan` is a run length plus a tuple of :class:`Fault`
episodes. Each episode starts at ``start`` and is undone at ``end`` (a
crashed node restarts, a partition heals, a loss rate goes back to the
network's), so removing one episode from a plan always leaves a valid plan —
the property greedy shrinking needs.

Kinds (the ``--faults`` list): ``drop``, ``dup`` (duplicate), ``delay``,
``reorder`` (random extra delay, so later messages overtake earlier ones) —
rates combined into every link while in force; ``partition`` (one side
against the rest, symmetric or one way, or a "bridge": two sides that cannot
talk to each other but both talk to the one remaining node); ``swizzle``
(swizzle-clog, after FoundationDB's simulation: cut the links of a subset of
nodes one by one, then restore them in a different random order);
``crash`` (crash, then restart from durable storage); ``skew`` (one node's
tick period differs from the others').

:func:`shrink` takes a failing plan and a predicate that re-runs the
simulation, and greedily removes episodes, then shortens the run and each
remaining episode, keeping every change after which the run still fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from wireproof.consensus.api import SplitMix64
from wireproof.consensus.sim.world import LinkFaults, World
from wireproof.errors import FixtureError

__all__ = ["KINDS", "Fault", "FaultPlan", "generate_plan", "parse_kinds", "schedule", "shrink"]

NodeId = int
KINDS = ("drop", "dup", "delay", "reorder", "partition", "swizzle", "crash", "skew")


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """One fault episode in force from ``start`` until ``end`` (time units)."""

    kind: str
    start: int
    end: int
    nodes: tuple[NodeId, ...] = ()  # crash / skew: the node; partition: one side
    other: tuple[NodeId, ...] = ()  # partition: the other side (empty: everyone else)
    one_way: bool = False  # partition: only nodes -> other is cut
    links: tuple[tuple[NodeId, NodeId], ...] = ()  # swizzle: links in cut order
    restore: tuple[int, ...] = ()  # swizzle: indices into links, in restore order
    step: int = 1  # swizzle: time between two cuts / two restores
    rate: float = 0.0  # drop / dup / reorder probability
    delay: tuple[int, int] = (0, 0)  # delay: min and max transit time
    period: int = 0  # skew: the node's tick period

    def describe(self) -> str:
        span = f"{self.kind} @{self.start}..{self.end}"
        if self.kind in ("drop", "dup", "reorder"):
            return f"{span} rate={self.rate:.2f}"
        if self.kind == "delay":
            return f"{span} delay={self.delay[0]}..{self.delay[1]}"
        if self.kind == "partition":
            other = " ".join(map(str, self.other)) or "rest"
            arrow = "->" if self.one_way else "|"
            return f"{span} {' '.join(map(str, self.nodes))} {arrow} {other}"
        if self.kind == "swizzle":
            cut = " ".join(f"{a}->{b}" for a, b in self.links)
            return f"{span} cut {cut} restore {list(self.restore)} step={self.step}"
        if self.kind == "crash":
            return f"{span} node {self.nodes[0]}"
        if self.kind == "skew":
            return f"{span} node {self.nodes[0]} period={self.period}"
        return span


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultPlan:
    """A run of ``duration`` time units with these fault episodes."""

    duration: int = 2000
    faults: tuple[Fault, ...] = ()

    def describe(self) -> str:
        lines = [f"duration {self.duration}, {len(self.faults)} faults"]
        lines += [f"  {f.describe()}" for f in self.faults]
        return "\n".join(lines)


def parse_kinds(spec: str | Sequence[str]) -> tuple[str, ...]:
    """``"drop,crash"`` -> ``("drop", "crash")``; ``"all"`` is every kind; ``""`` none."""
    items = [s.strip() for s in spec.split(",")] if isinstance(spec, str) else [s.strip() for s in spec]
    items = [s for s in items if s and s != "none"]
    if items == ["all"]:
        return KINDS
    unknown = [s for s in items if s not in KINDS]
    if unknown:
        raise FixtureError(f"unknown fault kind(s) {unknown}; known: {', '.join(KINDS)}")
    return tuple(dict.fromkeys(items))


def _shuffled(rng: SplitMix64, items: list[NodeId]) -> list[NodeId]:
    items = list(items)
    for i in range(len(items) - 1, 0, -1):  # Fisher-Yates
        j = rng.below(i + 1)
        items[i], items[j] = items[j], items[i]
    return items


def generate_plan(
    seed: int,
    kinds: str | Sequence[str],
    *,
    nodes: Sequence[NodeId],
    duration: int = 2000,
    episodes: int = 2,
    tick_period: int = 10,
) -> FaultPlan:
    """A plan with ``episodes`` episodes of each kind, at seeded times, with seeded parameters."""
    rng = SplitMix64(seed).fork(0xFA17)
    faults: list[Fault] = []
    members = list(nodes)
    for kind in parse_kinds(kinds):
        for _ in range(episodes):
            start = rng.below(max(1, duration * 7 // 10))
            length = duration // 20 + rng.below(max(1, duration // 4))
            end = min(start + length, duration)
            base = Fault(kind=kind, start=start, end=end)
            if kind in ("drop", "dup"):
                faults.append(replace(base, rate=0.1 + 0.4 * rng.random()))
            elif kind == "reorder":
                faults.append(replace(base, rate=0.2 + 0.5 * rng.random()))
            elif kind == "delay":
                lo = 5 + rng.below(20)
                faults.append(replace(base, delay=(lo, lo + 10 + rng.below(50))))
            elif kind == "partition":
                order = _shuffled(rng, members)
                shape = rng.below(3)
                if shape == 2 and len(members) >= 3:
                    # Jepsen's "bridge": order[0] talks to both sides, which cannot talk to each other.
                    rest = order[1:]
                    cut = 1 + rng.below(len(rest) - 1)
                    faults.append(replace(base, nodes=tuple(sorted(rest[:cut])),
                                          other=tuple(sorted(rest[cut:]))))
                else:
                    side = tuple(sorted(order[: 1 + rng.below(max(1, len(members) - 1))]))
                    faults.append(replace(base, nodes=side, one_way=shape == 1))
            elif kind == "swizzle":
                subset = _shuffled(rng, members)[: 1 + rng.below(len(members))]
                links = [(a, b) for a in subset for b in members if a != b]
                links += [(b, a) for a, b in links if b not in subset]
                idx = list(range(len(links)))
                cut_order = [links[i] for i in _shuffled(rng, idx)]
                step = max(1, (end - start) // (2 * max(1, len(links))))
                faults.append(
                    replace(base, links=tuple(cut_order), restore=tuple(_shuffled(rng, idx)), step=step)
                )
            elif kind == "crash":
                # Short crashes too: a quick restart is what exposes state that was not persisted.
                end = min(start + 5 + rng.below(max(1, length)), duration)
                faults.append(replace(base, end=end, nodes=(members[rng.below(len(members))],)))
            elif kind == "skew":
                period = max(2, tick_period * (2 + rng.below(5)) // 4)  # 0.5x .. 1.5x
                faults.append(replace(base, nodes=(members[rng.below(len(members))],), period=period))
    faults.sort(key=lambda f: (f.start, f.kind, f.end))
    return FaultPlan(duration=duration, faults=tuple(faults))


def schedule(world: World, plan: FaultPlan) -> None:
    """Install every episode of ``plan`` as timed events in ``world``."""
    for i, f in enumerate(plan.faults):
        _schedule_one(world, i, f)


def _schedule_one(world: World, i: int, f: Fault) -> None:
    key = ("fault", i)
    label = f"fault {f.describe()}"
    if f.kind in ("drop", "dup", "reorder", "delay"):
        overlay = {
            "drop": LinkFaults(drop=f.rate, delay=(0, 0)),
            "dup": LinkFaults(duplicate=f.rate, delay=(0, 0)),
            "reorder": LinkFaults(reorder=f.rate, delay=(0, 0)),
            "delay": LinkFaults(delay=f.delay),
        }[f.kind]
        world.at(f.start, f"begin {label}", lambda: world.add_overlay(key, overlay))
        world.at(f.end, f"end {label}", lambda: world.remove_overlay(key))
    elif f.kind == "partition":
        links = world.partition_links(f.nodes, f.other or None, one_way=f.one_way)

        def cut() -> None:
            for a, b in links:
                world.cut(a, b)

        def heal() -> None:
            for a, b in links:
                world.uncut(a, b)

        world.at(f.start, f"begin {label}", cut)
        world.at(f.end, f"end {label}", heal)
    elif f.kind == "swizzle":
        for j, (a, b) in enumerate(f.links):
            world.at(f.start + j * f.step, f"swizzle cut {a}->{b}", _bind(world.cut, a, b))
        for j, idx in enumerate(f.restore):
            a, b = f.links[idx]
            world.at(f.end + j * f.step, f"swizzle restore {a}->{b}", _bind(world.uncut, a, b))
    elif f.kind == "crash":
        n = f.nodes[0]
        world.at(f.start, f"begin {label}", lambda: world.crash(n))
        world.at(f.end, f"end {label}", lambda: world.restart(n))
    elif f.kind == "skew":
        n, period = f.nodes[0], f.period
        world.at(f.start, f"begin {label}", lambda: world.set_tick_period(n, period))
        world.at(f.end, f"end {label}", lambda: world.set_tick_period(n, None))
    else:
        raise FixtureError(f"unknown fault kind {f.kind!r}")


def _bind(fn: Callable[[NodeId, NodeId], None], a: NodeId, b: NodeId) -> Callable[[], None]:
    return lambda: fn(a, b)


def shrink(plan: FaultPlan, fails: Callable[[FaultPlan], bool], *, max_runs: int = 200) -> FaultPlan:
    """The smallest plan greedy search finds for which ``fails(plan)`` still holds.

    ``plan`` itself must fail. Passes, each repeated until nothing changes:
    remove one episode; halve the run (never cutting an episode off); halve
    each episode's length. At most ``max_runs`` calls of ``fails``.
    """
    runs = 0

    def still_fails(candidate: FaultPlan) -> bool:
        nonlocal runs
        if runs >= max_runs:
            return False
        runs += 1
        return fails(candidate)

    current = plan
    changed = True
    while changed and runs < max_runs:
        changed = False
        i = 0
        while i < len(current.faults):
            candidate = replace(current, faults=current.faults[:i] + current.faults[i + 1 :])
            if still_fails(candidate):
                current, changed = candidate, True
            else:
                i += 1
        floor = max((f.end for f in current.faults), default=0)
        while current.duration // 2 >= max(floor, 1):
            candidate = replace(current, duration=current.duration // 2)
            if not still_fails(candidate):
                break
            current, changed = candidate, True
        for i, f in enumerate(current.faults):
            if f.end - f.start < 2:
                continue
            shorter = replace(f, end=f.start + (f.end - f.start) // 2)
            candidate = replace(current, faults=(*current.faults[:i], shorter, *current.faults[i + 1 :]))
            if still_fails(candidate):
                current, changed = candidate, True
    return current
