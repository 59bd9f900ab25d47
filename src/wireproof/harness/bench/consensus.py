"""``wireproof bench consensus``: message costs, simulator throughput, checker time.

Theory of operation
-------------------
*Message costs* are measured by simulation without faults, on a network whose
every link delays every message by exactly :data:`DELAY` time units, so the
time from a proposal to the commit at the proposer divided by :data:`DELAY`
is the number of message delays on the critical path.

* Multi-Paxos (PMS 3; :mod:`wireproof.consensus.multipaxos`): the cluster
  elects a leader with ticks; then ticks stop (every node's period becomes
  huge and the ticks already queued are run out), so no heartbeat or
  retransmission is counted, and :data:`COMMANDS` commands are proposed one
  at a time at the leader. Messages per command is every message sent while
  they were proposed and committed, divided by their number; the theoretical
  minimum is ``Accept`` to and ``Accepted`` from n-1 followers = 2(n-1) and
  2 delays (the commit point rides on the next ``Accept``).
* Classic Paxos (PMS 2; :mod:`wireproof.consensus.paxos`): each command is one
  single-decree instance in a fresh cluster; node 1 proposes at once.
  Messages to the decision at the proposer are ``Prepare``, ``Promise``,
  ``Accept``, ``Accepted`` = 4(n-1) and 4 delays; the ``Chosen`` that tells the
  other learners afterwards is reported apart (``learn_messages``).

*Simulator throughput* is delivered messages per wall-clock second of one
fixed seeded key-value run under all fault kinds
(:func:`wireproof.consensus.sim.run_simulation`); time is taken here, in the
harness, because the simulator is pure.

*Checker time* is :func:`wireproof.consensus.check.lincheck.check_linearizable`
over the Jepsen etcd histories (``$WIREPROOF_SHARED/histories/jepsen-etcd``,
else ``../shared/histories/jepsen-etcd`` beside the repository), with the
number of verdicts that match ``verdicts.tsv``.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from wireproof.consensus.api import ClusterConfig, NodeFactory
from wireproof.consensus.sim.world import LinkFaults, World

__all__ = [
    "COMMANDS",
    "DELAY",
    "Cost",
    "LincheckTiming",
    "SimThroughput",
    "jepsen_folder",
    "measure_costs",
    "multipaxos_cost",
    "paxos_cost",
    "render_text",
    "run",
    "sim_throughput",
    "time_lincheck",
]

SCHEMA: Final = "wireproof.bench.consensus/1"
DELAY: Final = 10  # time units per message on every link
COMMANDS: Final = 50
_NEVER: Final = 10**12  # a tick period that never comes due
_LEARN_ONLY: Final = ("Chosen",)  # Classic Paxos: sent after the decision, to the other learners


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
    learn_messages: float = 0.0  # Classic Paxos: Chosen to the other learners, after the decision


@dataclass(frozen=True, slots=True, kw_only=True)
class SimThroughput:
    seed: int
    invariants: bool  # safety invariants checked after events (as ``consensus run`` does)
    delivered: int
    events: int
    seconds: float

    @property
    def messages_per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LincheckTiming:
    folder: str
    histories: int
    right: int
    seconds: float


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


def multipaxos_cost(n: int, *, commands: int = COMMANDS, factory: NodeFactory | None = None) -> Cost:
    """Multi-Paxos steady state: one command at a time at an elected leader, no ticks."""
    from wireproof.consensus.multipaxos import MultiPaxosFactory

    config = ClusterConfig(nodes=tuple(range(1, n + 1)), seed=1)
    world = World(factory or MultiPaxosFactory(), config, seed=1, network=_network(), tick_period=10)
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
    return Cost(algorithm="multipaxos", nodes=n, commands=commands,
                messages_per_command=sum(spent.values()) / commands,
                delays_per_command=elapsed / commands / DELAY,
                min_messages=2 * (n - 1), min_delays=2, by_type=by_type)


def paxos_cost(n: int, *, commands: int = COMMANDS, factory: NodeFactory | None = None) -> Cost:
    """Classic Paxos: each command is a fresh single-decree instance proposed at node 1."""
    from wireproof.consensus.paxos import PaxosFactory

    total: Counter[str] = Counter()
    elapsed = 0
    for k in range(commands):
        config = ClusterConfig(nodes=tuple(range(1, n + 1)), seed=k)
        # Ticks far apart: the proposer is alone, no timer fires during one decision.
        world = World(factory or PaxosFactory(), config, seed=k, network=_network(), tick_period=_NEVER)
        start = world.now
        world.propose(1, ("bench", k))
        elapsed += _run_until_commit(world, 1, -1, 100 * DELAY) - start
        world.run(world.now + 4 * DELAY)
        total.update(world.stats.sent)
    learn = sum(total[t] for t in _LEARN_ONLY)
    by_type = {t: c / commands for t, c in sorted(total.items()) if c}
    return Cost(algorithm="paxos", nodes=n, commands=commands,
                messages_per_command=(sum(total.values()) - learn) / commands,
                delays_per_command=elapsed / commands / DELAY,
                min_messages=4 * (n - 1), min_delays=4, by_type=by_type,
                learn_messages=learn / commands)


def measure_costs(*, sizes: tuple[int, ...] = (3, 5), commands: int = COMMANDS) -> list[Cost]:
    return [fn(n, commands=commands) for fn in (multipaxos_cost, paxos_cost) for n in sizes]


def sim_throughput(*, seed: int = 7, duration: int = 2000, nodes: int = 3,
                   invariants: bool = True) -> SimThroughput:
    """Delivered messages per wall-clock second of one fixed seeded KV run under all faults.

    With ``invariants`` False the run checks nothing: the simulator's own speed.
    """
    from wireproof.consensus.kv import KvFactory
    from wireproof.consensus.sim.runner import kv_adapter, run_simulation

    start = time.perf_counter()
    result = run_simulation(KvFactory(), nodes=nodes, seed=seed, faults="all", duration=duration,
                            adapter=kv_adapter(), check_linearizability=False, record_trace=False,
                            check_always=False, invariants=None if invariants else ())
    seconds = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError(f"throughput run failed: {result.report()}")
    return SimThroughput(seed=seed, invariants=invariants, delivered=sum(result.stats["delivered"].values()),
                         events=result.stats["events"], seconds=seconds)


def jepsen_folder() -> Path:
    """Where the Jepsen etcd histories live (as tests/consensus/check/test_jepsen_etcd.py finds them)."""
    default = Path(__file__).resolve().parents[4].parent / "shared"
    return Path(os.environ.get("WIREPROOF_SHARED", default)) / "histories" / "jepsen-etcd"


def time_lincheck(folder: Path | None = None) -> LincheckTiming | None:
    """Check every history of the Jepsen etcd set; None when the set is absent."""
    from wireproof.consensus.check.history import load_history
    from wireproof.consensus.check.lincheck import check_linearizable

    folder = folder or jepsen_folder()
    verdicts_file = folder / "verdicts.tsv"
    if not verdicts_file.is_file():
        return None
    verdicts = dict(line.split("\t") for line in verdicts_file.read_text().splitlines() if line.strip())
    histories = {name: load_history(folder / name) for name in sorted(verdicts)}
    start = time.perf_counter()
    right = sum(check_linearizable(h, witness=False).verdict == verdicts[name]
                for name, h in histories.items())
    return LincheckTiming(folder=str(folder), histories=len(histories), right=right,
                          seconds=time.perf_counter() - start)


def run(*, quick: bool = False) -> dict[str, Any]:
    """Everything ``wireproof bench consensus`` reports, as JSON-ready data."""
    commands = 10 if quick else COMMANDS
    costs = measure_costs(commands=commands)
    duration = 600 if quick else 4000
    tps = [sim_throughput(duration=duration, invariants=checked) for checked in (True, False)]
    lin = None if quick else time_lincheck()
    return {
        "schema": SCHEMA,
        "delay_units": DELAY,
        "costs": [asdict(c) for c in costs],
        "sim_throughput": [{**asdict(tp), "messages_per_second": tp.messages_per_second} for tp in tps],
        "lincheck": asdict(lin) if lin is not None else None,
        "lincheck_note": ("skipped with --quick" if quick else
                          None if lin is not None else f"no Jepsen etcd histories in {jepsen_folder()}"),
    }


def render_text(report: dict[str, Any]) -> str:
    lines = ["steady-state cost per committed command (no faults; at the leader/proposer)",
             f"{'algorithm':<12}{'n':>3}{'messages':>10}{'minimum':>9}{'delays':>8}{'minimum':>9}  by type"]
    for c in report["costs"]:
        types = ", ".join(f"{t} {v:g}" for t, v in c["by_type"].items())
        if c["learn_messages"]:
            types += f" (Chosen after the decision, not counted: {c['learn_messages']:g})"
        lines.append(f"{c['algorithm']:<12}{c['nodes']:>3}{c['messages_per_command']:>10.2f}"
                     f"{c['min_messages']:>9}{c['delays_per_command']:>8.2f}{c['min_delays']:>9}  {types}")
    lines.append("")
    for tp in report["sim_throughput"]:
        checked = "with invariants" if tp["invariants"] else "no checks"
        lines.append(f"simulator ({checked}): {tp['delivered']} messages delivered ({tp['events']} events) "
                     f"in {tp['seconds']:.2f} s = {tp['messages_per_second']:,.0f} delivered messages/s "
                     f"(KV, 3 nodes, all faults, seed {tp['seed']})")
    lin = report["lincheck"]
    if lin is not None:
        lines.append(f"lincheck: Jepsen etcd set {lin['right']}/{lin['histories']} verdicts right "
                     f"in {lin['seconds']:.2f} s")
    else:
        lines.append(f"lincheck: {report['lincheck_note']}")
    return "\n".join(lines)
