"""Seeded runs and sweeps on toy nodes: determinism, clients, failure, shrinking."""

from __future__ import annotations

from wireproof.consensus.algorithm import AlgorithmFactory
from wireproof.consensus.paxos import PaxosFactory
from wireproof.consensus.sim.clients import Workload
from wireproof.consensus.sim.faults import KINDS, FaultPlan
from wireproof.consensus.sim.runner import fresh_invariants, run_simulation, sweep

from .conftest import PrimaryFactory

TOY = {"invariants": (), "check_linearizability": False, "duration": 1500}


def test_same_seed_same_trace_byte_for_byte(primary):
    a = run_simulation(primary, seed=11, faults="all", **TOY)
    b = run_simulation(primary, seed=11, faults="all", **TOY)
    c = run_simulation(primary, seed=12, faults="all", **TOY)
    assert a.ok and len(a.trace) > 500
    assert "\n".join(a.trace).encode() == "\n".join(b.trace).encode()
    assert a.history == b.history and a.stats == b.stats
    assert a.trace != c.trace


def test_every_fault_kind_shows_in_the_trace(primary):
    result = run_simulation(primary, seed=3, faults=",".join(KINDS), **TOY)
    text = "\n".join(result.trace)
    for kind in KINDS:
        if kind == "swizzle":
            assert "swizzle cut" in text and "swizzle restore" in text
        else:
            assert f"begin fault {kind}" in text and f"end fault {kind}" in text
    assert result.stats["crashes"] >= 1 and result.stats["restarts"] >= 1


def test_clients_retry_not_leader_and_complete(primary):
    result = run_simulation(primary, seed=5, clients=4, **TOY)
    assert result.ok and len(result.history) > 20
    assert {op.outcome for op in result.history} <= {"ok", "fail"}
    assert {op.kind for op in result.history} == {"read", "write", "cas"}
    assert result.stats["not_leader"] > 0
    assert result.stats["committed_slots"] > 20


def test_silent_nodes_make_indefinite_operations():
    result = run_simulation(PrimaryFactory(silent=True), seed=5, clients=2,
                            workload=Workload(clients=2, timeout=100), **TOY)
    assert result.ok and result.history
    assert {op.outcome for op in result.history} == {"info"}
    assert all(op.complete is None for op in result.history)
    processes = [op.process for op in result.history]
    assert len(set(processes)) == len(processes)  # a process with an indefinite op is retired


def test_a_failing_run_reports_seed_and_shrunk_plan(volatile_primary):
    result = run_simulation(volatile_primary, seed=0, faults="drop,delay,crash,partition,skew",
                            shrink_failures=True, **TOY)
    assert not result.ok and result.violation is not None
    assert "committed with two values" in result.violation.reason
    assert result.violation.seed == 0 and "VIOLATION" in result.trace[-1]
    assert result.shrunk_plan is not None
    assert len(result.shrunk_plan.faults) < len(result.plan.faults)
    assert [f.kind for f in result.shrunk_plan.faults] == ["crash"]
    assert result.shrunk_plan.faults[0].nodes == (1,)
    again = run_simulation(volatile_primary, seed=0, plan=result.shrunk_plan, **TOY)
    assert not again.ok
    assert "seed 0" in result.report() and "shrunk fault plan" in result.report()


def test_sweep_finds_the_first_failing_seed(volatile_primary, primary):
    bad = sweep(volatile_primary, range(50), faults="crash", **TOY)
    assert not bad.ok and bad.first_failure is not None
    assert bad.runs == bad.first_failure.seed + 1
    assert bad.first_failure.shrunk_plan is not None
    good = sweep(primary, range(10), faults="crash", **TOY)
    assert good.ok and good.runs == 10 and good.catch_rate == 0.0


def test_without_faults_the_plan_is_empty(primary):
    result = run_simulation(primary, seed=1, **TOY)
    assert result.plan == FaultPlan(duration=1500)


class _CheckedPrimary(AlgorithmFactory):
    """The toy primary as an algorithm with its own invariant: no node's log exceeds ``limit`` entries."""

    name = "checked-primary"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.runs = 0

    def create(self, node_id, config):
        return PrimaryFactory().create(node_id, config)

    def restore(self, node_id, config, records):
        return PrimaryFactory().restore(node_id, config, records)

    def invariants(self, *, track=True):
        self.runs += 1  # fresh invariants for every run

        def short_logs(views, proposed):
            long = {n: len(v[0]) for n, v in views.items() if len(v[0]) > self.limit}
            return [f"node {n} log has {k} entries" for n, k in long.items()]

        return [short_logs]


def test_the_simulator_checks_the_factorys_own_invariants():
    options = {"check_linearizability": False, "duration": 600, "clients": 2}
    bad = run_simulation(_CheckedPrimary(limit=2), seed=1, **options)
    assert not bad.ok and "log has 3 entries" in bad.violation.reason
    factory = _CheckedPrimary(limit=10_000)
    assert run_simulation(factory, seed=1, shrink_failures=True, **options).ok
    assert factory.runs == 1
    # Shrinking re-runs a failing seed, each run with fresh invariants from the factory.
    shrinking = _CheckedPrimary(limit=2)
    again = run_simulation(shrinking, seed=1, faults="drop", shrink_failures=True, **options)
    assert not again.ok and shrinking.runs > 1


def test_a_bare_factory_has_no_invariants_of_another_algorithm(primary):
    # Before the factory carried its invariants, Paxos's were applied to every node: these toy
    # views are not Paxos NodeViews, so that could not work.
    assert fresh_invariants(primary) == []
    assert run_simulation(primary, seed=2, check_linearizability=False, duration=600).ok
    assert len(fresh_invariants(PaxosFactory())) == 1
