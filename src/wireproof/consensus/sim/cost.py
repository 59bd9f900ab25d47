"""The message cost of a committed command, measured by simulation (``wireproof bench consensus``).

Theory of operation
-------------------
Costs are measured without faults, on a network whose every link delays
every message by exactly :data:`DELAY` time units, so the time from a
proposal to the commit at the proposer divided by :data:`DELAY` is the
number of message delays on its critical path. Two procedures, one per
shape of algorithm; an algorithm's factory picks one in its
:meth:`~wireproof.consensus.algorithm.AlgorithmFactory.bench_cost` and gives
its theoretical floor (:class:`~wireproof.consensus.algorithm.MessageFloor`):

* :func:`leader_cost` — a stable leader (a node whose ``role`` attribute is
  ``"leader"``): the cluster elects one with ticks; then ticks stop (every
  node's period becomes huge and the ticks already queued are run out), so no
  heartbeat or retransmission is counted, and ``commands`` commands are
  proposed one at a time at the leader. Messages per command is every
  message sent while they were proposed and committed, divided by their
  number.
* :func:`instance_cost` — one instance per command: each command is proposed
  at node 1 of a fresh cluster; message types in ``learn_only`` (sent after
  the decision, to tell the other learners) are reported apart.

Everything is a function of the factory and the arguments; timing the
simulator in wall-clock time is the harness's job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from wireproof.consensus.algorithm import MessageFloor
from wireproof.consensus.api import ClusterConfig, NodeFactory
from wireproof.consensus.sim.world import LinkFaults, World

__all__ = ["COMMANDS", "DELAY", "Cost", "instance_cost", "leader_cost"]

DELAY: Final = 10  # time units per message on every link
COMMANDS: Final = 50
_NEVER: Final = 10**12  # a tick period that never comes due


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """Measured steady-state cost per committed command, beside the theoretical minimum."""

    algorithm: str
    nodes: int
    commands: int
    messages_per_command: float
    delays_per_command: float
    min_messages: int
    min_delays: int
    by_type: dict[str, float]
    learn_messages: float = 0.0  # sent after the decision to the other learners (not counted above)


def _network() -> LinkFaults:
    return LinkFaults(delay=(DELAY, DELAY))


def _committed_at(world: World, node: int) -> int:
    return world.last_slot.get(node, -1)


def _run_until_commit(world: World, node: int, before: int, limit: int) -> int:
    """Step until ``node`` commits a slot above ``before``; the time it did."""
    deadline = world.now + limit
    while _committed_at(world, node) <= before:
        if not world.step() or world.now > deadline:
            raise RuntimeError(f"node {node} committed nothing within {limit} time units")
    return world.now


def leader_cost(factory: NodeFactory, nodes: int, floor: MessageFloor, *, commands: int = COMMANDS) -> Cost:
    """Steady state of a stable-leader algorithm: one command at a time at the elected leader, no ticks."""
    config = ClusterConfig(nodes=tuple(range(1, nodes + 1)), seed=1)
    world = World(factory, config, seed=1, network=_network(), tick_period=10)
    leader = None
    for _ in range(100_000):
        if not world.step():
            break
        leaders = [k for k, v in world.nodes.items() if getattr(v, "role", None) == "leader"]
        if leaders:
            leader = leaders[0]
            break
    if leader is None:
        raise RuntimeError("no leader elected")
    for k in config.nodes:
        world.set_tick_period(k, _NEVER)
    world.run(world.now + 20 * DELAY)  # ticks already queued, and the election's last messages
    sent = Counter(world.stats.sent)
    elapsed = 0
    for k in range(commands):
        before = _committed_at(world, leader)
        start = world.now
        world.propose(leader, ("bench", k))
        elapsed += _run_until_commit(world, leader, before, 100 * DELAY) - start
        world.run(world.now + 4 * DELAY)  # let the last messages land before the next command
    spent = Counter(world.stats.sent)
    spent.subtract(sent)
    by_type = {t: c / commands for t, c in sorted(spent.items()) if c}
    return Cost(algorithm=factory.name, nodes=nodes, commands=commands,
                messages_per_command=sum(spent.values()) / commands,
                delays_per_command=elapsed / commands / DELAY,
                min_messages=floor.messages, min_delays=floor.delays, by_type=by_type)


def instance_cost(factory: NodeFactory, nodes: int, floor: MessageFloor, *, commands: int = COMMANDS,
                  learn_only: Sequence[str] = ()) -> Cost:
    """One instance per command: each command is proposed at node 1 of a fresh cluster."""
    total: Counter[str] = Counter()
    elapsed = 0
    for k in range(commands):
        config = ClusterConfig(nodes=tuple(range(1, nodes + 1)), seed=k)
        # Ticks far apart: the proposer is alone, no timer fires during one decision.
        world = World(factory, config, seed=k, network=_network(), tick_period=_NEVER)
        start = world.now
        world.propose(1, ("bench", k))
        elapsed += _run_until_commit(world, 1, -1, 100 * DELAY) - start
        world.run(world.now + 4 * DELAY)
        total.update(world.stats.sent)
    learn = sum(total[t] for t in learn_only)
    by_type = {t: c / commands for t, c in sorted(total.items()) if c}
    return Cost(algorithm=factory.name, nodes=nodes, commands=commands,
                messages_per_command=(sum(total.values()) - learn) / commands,
                delays_per_command=elapsed / commands / DELAY,
                min_messages=floor.messages, min_delays=floor.delays, by_type=by_type,
                learn_messages=learn / commands)
