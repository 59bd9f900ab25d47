"""Seeded simulation runs and seed sweeps, with shrinking of failing fault plans.

Theory of operation
-------------------
:func:`run_simulation` builds a :class:`~wireproof.consensus.sim.world.World`
for ``nodes`` nodes of one algorithm, a fault plan (given, or generated from
the seed and a fault list), and a closed-loop client workload; it runs the
world for ``plan.duration`` time units plus a grace period in which no new
operation starts and every fault has ended, so pending operations complete
or time out. The algorithm's own invariants (its factory's,
:meth:`~wireproof.consensus.algorithm.AlgorithmFactory.invariants`) are
checked after every event; at the end the clients' history is checked for
linearizability. Everything is a function of
``(factory, seed, plan, options)``: the same seed gives the same trace, byte
for byte.

On failure, with ``shrink=True``, the plan is shrunk
(:func:`wireproof.consensus.sim.faults.shrink`) by re-running the same seed
with smaller plans; :meth:`SimResult.report` prints the seed and the shrunk
schedule. :func:`sweep` runs many seeds and stops at the first failure.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from wireproof.consensus.api import ClusterConfig, NodeFactory
from wireproof.consensus.check.history import Operation
from wireproof.consensus.sim.clients import ClientAdapter, Clients, PlainAdapter, Workload
from wireproof.consensus.sim.faults import FaultPlan, generate_plan, schedule, shrink
from wireproof.consensus.sim.world import Invariant, LinkFaults, World
from wireproof.errors import InvariantViolation

__all__ = ["SimResult", "SweepResult", "fresh_invariants", "run_simulation", "sweep"]


def fresh_invariants(factory: NodeFactory, *, track: bool = True) -> list[Invariant]:
    """The factory's own invariants for one run (``AlgorithmFactory.invariants``); none for a bare factory.

    With ``track`` they may remember the run (every vote seen, say): never
    share them between runs, and never use them in
    :func:`~wireproof.consensus.sim.explore.explore`, whose states belong to
    different runs (``track=False`` checks each state alone).
    """
    from wireproof.consensus.algorithm import AlgorithmFactory

    return factory.invariants(track=track) if isinstance(factory, AlgorithmFactory) else []


@dataclass(frozen=True, slots=True, kw_only=True)
class SimResult:
    """The outcome of one seeded run."""

    ok: bool
    seed: int
    plan: FaultPlan
    violation: InvariantViolation | None = None
    trace: tuple[str, ...] = ()
    history: tuple[Operation, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)
    shrunk_plan: FaultPlan | None = None
    linearizable: bool | None = None

    def report(self) -> str:
        if self.ok:
            return f"seed {self.seed}: ok ({self.stats.get('events', 0)} events)"
        lines = [f"seed {self.seed}: FAILED: {self.violation.reason if self.violation else '?'}",
                 "fault plan:", self.plan.describe()]
        if self.shrunk_plan is not None:
            lines += ["shrunk fault plan:", self.shrunk_plan.describe()]
        return "\n".join(lines)


def run_simulation(
    factory: NodeFactory,
    *,
    nodes: int = 3,
    seed: int = 0,
    faults: str | Sequence[str] = "",
    plan: FaultPlan | None = None,
    duration: int = 2000,
    grace: int | None = None,
    clients: int = 3,
    workload: Workload | None = None,
    adapter: ClientAdapter | None = None,
    mutant: str | None = None,
    invariants: Sequence[Invariant] | None = None,
    check_linearizability: bool = True,
    lin_model: str = "kv",
    network: LinkFaults | None = None,
    tick_period: int = 10,
    episodes: int = 2,
    config: ClusterConfig | None = None,
    shrink_failures: bool = False,
    shrink_runs: int = 60,
    record_trace: bool = True,
    check_always: bool = True,
) -> SimResult:
    """One reproducible run (see the module docstring); never raises on a violation.

    ``invariants`` None means the factory's own (:func:`fresh_invariants`, fresh
    for each run); invariants given explicitly are reused by the shrinking runs,
    so they must not keep state between runs.
    """
    config = config or ClusterConfig(nodes=tuple(range(1, nodes + 1)), seed=seed, mutant=mutant)
    if plan is None:
        plan = generate_plan(seed, faults, nodes=config.nodes, duration=duration, episodes=episodes,
                             tick_period=tick_period)
    workload = workload or Workload(clients=clients)
    grace = workload.timeout + 50 if grace is None else grace
    workload = Workload(**{**_fields(workload), "stop_at": plan.duration})
    # Stateful default invariants are built afresh for every run (shrinking re-runs too).
    checks = fresh_invariants(factory) if invariants is None else list(invariants)
    world = World(factory, config, seed=seed, network=network, tick_period=tick_period,
                  invariants=checks, check_always=check_always, record_trace=record_trace)
    schedule(world, plan)
    driver = Clients(world, workload, adapter or PlainAdapter()) if workload.clients else None
    violation: InvariantViolation | None = None
    try:
        world.run(plan.duration + grace)
    except InvariantViolation as v:
        violation = v
    history = driver.history() if driver is not None else ()
    linearizable: bool | None = None
    if violation is None and check_linearizability and history:
        from wireproof.consensus.check.lincheck import check_linearizable

        lin = check_linearizable(history, model=lin_model)
        linearizable = lin.linearizable  # None: the checker's budget ran out (no verdict)
        if linearizable is False:
            world.log(f"NOT LINEARIZABLE {lin.describe()}")
            violation = InvariantViolation(f"history is not linearizable: {lin.describe()}", seed=seed,
                                           trace=world.trace)
    shrunk: FaultPlan | None = None
    if violation is not None and shrink_failures and plan.faults:

        def fails(candidate: FaultPlan) -> bool:
            return not run_simulation(
                factory, seed=seed, plan=candidate, grace=grace, workload=workload, adapter=adapter,
                invariants=invariants, check_linearizability=check_linearizability, lin_model=lin_model,
                network=network, tick_period=tick_period, config=config, record_trace=False,
                check_always=check_always).ok

        shrunk = shrink(plan, fails, max_runs=shrink_runs)
    return SimResult(ok=violation is None, seed=seed, plan=plan, violation=violation,
                     trace=tuple(world.trace), history=history, stats=world.stats.as_dict(),
                     shrunk_plan=shrunk, linearizable=linearizable)


def _fields(workload: Workload) -> dict[str, Any]:
    return {name: getattr(workload, name) for name in Workload.__dataclass_fields__}


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepResult:
    """Runs over many seeds; ``first_failure`` carries its seed and shrunk plan."""

    runs: int
    failures: tuple[SimResult, ...]
    first_failure: SimResult | None

    @property
    def ok(self) -> bool:
        return not self.failures

    @property
    def catch_rate(self) -> float:
        return len(self.failures) / self.runs if self.runs else 0.0


def sweep(factory: NodeFactory, seeds: Iterable[int] = range(100), *, stop_on_failure: bool = True,
          shrink_failures: bool = True, **options: Any) -> SweepResult:
    """Run ``run_simulation`` for each seed; stop at the first failure unless told not to.

    Only the first failure is shrunk. ``options`` are passed to ``run_simulation``.
    """
    runs = 0
    failures: list[SimResult] = []
    for seed in seeds:
        runs += 1
        result = run_simulation(factory, seed=seed, shrink_failures=shrink_failures and not failures,
                                record_trace=not failures, **options)
        if not result.ok:
            failures.append(result)
            if stop_on_failure:
                break
    return SweepResult(runs=runs, failures=tuple(failures), first_failure=failures[0] if failures else None)
