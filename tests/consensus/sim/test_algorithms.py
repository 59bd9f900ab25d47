"""The simulator on the real algorithms: correct runs pass, mutants are caught, states counted.

Catch-rate sweeps over 200 seeds are marked slow; the default run only checks that
each mutant is found within a bounded number of seeds (the sweep stops at the first).
"""

from __future__ import annotations

import pytest

from wireproof.consensus.api import ClusterConfig
from wireproof.consensus.kv import KvFactory
from wireproof.consensus.paxos import PaxosFactory
from wireproof.consensus.sim.clients import Workload
from wireproof.consensus.sim.explore import explore
from wireproof.consensus.sim.runner import run_simulation, sweep

KV = {"adapter": KvFactory().client_adapter(), "check_always": False}
PAXOS = {"check_linearizability": False, "check_always": False}
STATELESS = PaxosFactory().invariants  # track=False: for the explorer, whose states belong to different runs


def test_kv_same_seed_same_trace():
    a = run_simulation(KvFactory(), seed=4, faults="all", **KV)
    b = run_simulation(KvFactory(), seed=4, faults="all", **KV)
    assert a.ok and a.linearizable
    assert a.trace == b.trace and a.history == b.history


@pytest.mark.parametrize("seed", range(3))
def test_kv_passes_under_all_faults(seed):
    result = run_simulation(KvFactory(), seed=seed, faults="all", **KV)
    assert result.ok, result.report()
    assert result.linearizable is True
    assert result.stats["committed_slots"] > 0
    assert any(op.outcome == "ok" for op in result.history)


def test_kv_every_step_checked_without_faults():
    result = run_simulation(KvFactory(), seed=1, duration=600, check_always=True, adapter=KV["adapter"])
    assert result.ok and result.linearizable and result.stats["committed_slots"] > 20


@pytest.mark.parametrize("seed", range(3))
def test_paxos_passes_under_all_faults(seed):
    result = run_simulation(PaxosFactory(), seed=seed, faults="all", **PAXOS)
    assert result.ok, result.report()


# Single-decree Paxos decides within a few dozen time units: short runs with clients that
# propose at once put the faults where the contention is.
PAXOS_RACE = {"duration": 60, "episodes": 3, "workload": Workload(clients=3, think=(1, 10))}

# (algorithm, mutant, faults, seeds): the first failure must come within `seeds`.
MUTANT_SWEEPS = [
    ("kv", "half-quorum", "all", 20),
    ("kv", "skip-prepare", "all", 20),
    ("paxos", "forget-promise", "delay,reorder,crash", 300),
]


def _sweep(algo, mutant, faults, seeds, **kw):
    factory, options = (KvFactory(), KV) if algo == "kv" else (PaxosFactory(), {**PAXOS, **PAXOS_RACE})
    return sweep(factory, range(seeds), mutant=mutant, faults=faults, **options, **kw)


@pytest.mark.parametrize(("algo", "mutant", "faults", "seeds"), MUTANT_SWEEPS)
def test_sweep_catches_mutant(algo, mutant, faults, seeds):
    result = _sweep(algo, mutant, faults, seeds)
    assert not result.ok, f"{mutant} survived {seeds} seeds"
    first = result.first_failure
    assert first is not None and first.shrunk_plan is not None
    assert len(first.shrunk_plan.faults) <= len(first.plan.faults)
    assert f"seed {first.seed}" in first.report()
    options = KV if algo == "kv" else {**PAXOS, "workload": PAXOS_RACE["workload"]}
    again = run_simulation(KvFactory() if algo == "kv" else PaxosFactory(), seed=first.seed,
                           plan=first.shrunk_plan, mutant=mutant, **options)
    assert not again.ok  # the shrunk schedule still fails
    correct = _sweep(algo, None, faults, first.seed + 1, shrink_failures=False)
    assert correct.ok, correct.first_failure.report()  # the correct algorithm passes the same seeds


def test_explore_paxos_one_proposer():
    """3 nodes, node 1 proposes once, any delivery order, no drops/dups/ticks: 217 states."""
    result = explore(PaxosFactory(), ClusterConfig(nodes=(1, 2, 3)), proposals=[(1, "a")],
                     invariants=STATELESS(track=False))
    assert result.complete and result.violation is None
    assert result.states == 217


def test_explore_finds_forget_promise_with_one_crash():
    """BFS with at most one crash-restart finds the mutant; the correct algorithm passes as many states."""
    bad = explore(PaxosFactory(), ClusterConfig(nodes=(1, 2, 3), mutant="forget-promise"),
                  proposals=[(1, "a"), (3, "b")], crashes=1, invariants=STATELESS(track=False))
    assert bad.violation is not None and "crash-restart 2" in bad.trace
    good = explore(PaxosFactory(), ClusterConfig(nodes=(1, 2, 3)), proposals=[(1, "a"), (3, "b")], crashes=1,
                   invariants=STATELESS(track=False), max_states=bad.states + 500)
    assert good.violation is None and good.states == bad.states + 500


def test_explore_finds_skip_prepare():
    config = ClusterConfig(nodes=(1, 2, 3), mutant="skip-prepare")
    result = explore(PaxosFactory(), config, proposals=[(1, "a"), (2, "b")],
                     invariants=STATELESS(track=False))
    assert result.violation is not None and "chosen" in result.violation
    assert result.trace[0] == "init"


@pytest.mark.slow
def test_explore_paxos_two_proposers_state_count():
    """The configuration reported beside Stateright's 16,668 (see explore's docstring)."""
    result = explore(PaxosFactory(), ClusterConfig(nodes=(1, 2, 3)), proposals=[(1, "a"), (2, "b")],
                     invariants=STATELESS(track=False))
    assert result.complete and result.violation is None
    assert result.states == 281_675


@pytest.mark.slow
@pytest.mark.parametrize(("algo", "faults", "mutant", "least"), [
    ("kv", "all", None, 0.0),
    ("kv", "all", "half-quorum", 0.9),
    ("kv", "all", "skip-prepare", 0.5),
    ("paxos", "delay,reorder,crash", None, 0.0),
    ("paxos", "delay,reorder,crash", "half-quorum", 0.9),
    ("paxos", "delay,reorder,crash", "skip-prepare", 0.3),
    ("paxos", "delay,reorder,crash", "forget-promise", 0.005),
])
def test_catch_rate_over_200_seeds(algo, faults, mutant, least, record_property):
    result = _sweep(algo, mutant, faults, 200, stop_on_failure=False, shrink_failures=False)
    record_property("catch_rate", result.catch_rate)
    if mutant is None:
        assert result.ok, result.first_failure.report()
    else:
        assert result.catch_rate >= least
