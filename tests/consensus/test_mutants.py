"""Each mutant breaks an invariant in a crafted schedule that the correct algorithm survives.

This is the proof that the checks can fail (issue 4, "Mutants").
"""

from __future__ import annotations

import pytest

from wireproof.consensus import multipaxos as mp
from wireproof.consensus.api import ClusterConfig, Envelope
from wireproof.consensus.multipaxos import MultiPaxosFactory
from wireproof.consensus.mutants import MUTANTS, check_mutant, quorum_size
from wireproof.consensus.paxos import Accept, PaxosFactory, Prepare, Promise

from .lockstep import Cluster


def is_(kind: type, src: int, dst: int) -> object:
    def pred(e: Envelope) -> bool:
        return isinstance(e.message, kind) and e.src == src and e.dst == dst
    return pred


def test_mutants_are_listed_with_descriptions() -> None:
    assert [m.name for m in MUTANTS] == ["forget-promise", "skip-prepare", "half-quorum"]
    assert all(m.description and m.exposed_by for m in MUTANTS)
    with pytest.raises(ValueError):
        check_mutant(ClusterConfig(nodes=(1,), mutant="forget-promises"))
    # n=4: two disjoint "quorums" of 2; n=3: a single node
    assert quorum_size(ClusterConfig(nodes=(1, 2, 3, 4), mutant="half-quorum"), (1, 2, 3, 4)) == 2
    assert quorum_size(ClusterConfig(nodes=(1, 2, 3), mutant="half-quorum"), (1, 2, 3)) == 1
    assert quorum_size(ClusterConfig(nodes=(1, 2, 3, 4)), (1, 2, 3, 4)) == 3


def forget_promise_schedule(mutant: str | None) -> Cluster:
    c = Cluster(PaxosFactory(), ClusterConfig(nodes=(1, 2, 3), mutant=mutant))
    c.propose(1, "a")
    c.drop_where(is_(Prepare, 1, 3))
    c.deliver_where(is_(Prepare, 1, 2))
    c.deliver_where(is_(Promise, 2, 1))  # node 1 has {1, 2}: Accept(1.1, a) now in flight
    c.propose(3, "b")
    c.drop_where(is_(Prepare, 3, 1))
    c.deliver_where(is_(Prepare, 3, 2))  # node 2 promises 1.3 ...
    c.deliver_where(is_(Promise, 2, 3))  # node 3 has {2, 3}: Accept(1.3, b) in flight
    c.crash(2)
    c.restart(2)  # ... and, as the mutant, forgets it
    c.deliver_where(is_(Accept, 1, 2))
    c.run()
    return c


def forget_promise_multipaxos_schedule(mutant: str | None) -> Cluster:
    c = Cluster(MultiPaxosFactory(), ClusterConfig(nodes=(1, 2, 3), seed=5, mutant=mutant))
    while c.nodes[1].role == "follower":
        c.tick(1)
    c.run()
    c.propose(1, "a")  # Accept(slot 0, "a") in flight to 2 and 3
    c.drop_where(is_(mp.Accept, 1, 3))
    while c.nodes[3].role == "follower":
        c.tick(3)
    c.drop_where(is_(mp.Prepare, 3, 1))
    c.deliver_where(is_(mp.Prepare, 3, 2))  # node 2 promises node 3's higher ballot ...
    c.deliver_where(is_(mp.Promise, 2, 3))
    c.propose(3, "b")  # node 3 leads: Accept(slot 0, "b") in flight to node 2
    c.crash(2)
    c.restart(2)  # ... and, as the mutant, forgets it
    c.deliver_where(is_(mp.Accept, 1, 2))  # the old leader's stale Accept
    c.run()
    return c


def skip_prepare_schedule(mutant: str | None) -> Cluster:
    c = Cluster(MultiPaxosFactory(), ClusterConfig(nodes=(1, 2, 3), seed=5, mutant=mutant))
    while c.nodes[1].role == "follower":
        c.tick(1)
    c.run()
    c.propose(1, "a")
    c.drop_where(lambda e: e.dst == 3)
    c.run()  # "a" chosen in slot 0 by {1, 2}; node 3 saw nothing
    assert c.nodes[1].commit == 1
    c.crash(1)
    while c.nodes[3].role == "follower":
        c.tick(3)
    c.run()
    c.propose(3, "b")
    c.run()
    return c


def half_quorum_schedule(mutant: str | None, factory: object) -> Cluster:
    c = Cluster(factory, ClusterConfig(nodes=(1, 2, 3, 4), seed=2, mutant=mutant))  # type: ignore[arg-type]
    c.partition((1, 2), (3, 4))
    if isinstance(factory, PaxosFactory):
        c.propose(1, "a")
        c.propose(3, "b")
        c.settle(50)
    else:
        for node, value in ((1, "a"), (3, "b")):
            while c.nodes[node].role == "follower":
                c.tick(node)
            c.run()
            if c.nodes[node].role == "leader":
                c.propose(node, value)
            c.run()
    return c


SCHEDULES = {
    "forget-promise": forget_promise_schedule,
    "forget-promise-multipaxos": forget_promise_multipaxos_schedule,
    "skip-prepare": skip_prepare_schedule,
    "half-quorum": lambda m: half_quorum_schedule(m, PaxosFactory()),
    "half-quorum-multipaxos": lambda m: half_quorum_schedule(m, MultiPaxosFactory()),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_the_correct_algorithm_survives_the_schedule(name: str) -> None:
    c = SCHEDULES[name](None)
    assert c.violations == [], c.log


@pytest.mark.parametrize(("name", "expected"), [
    ("forget-promise", {"at-most-one-chosen", "votes-safe", "same-prefix"}),
    ("forget-promise-multipaxos", {"at-most-one-chosen", "votes-safe"}),
    ("skip-prepare", {"at-most-one-chosen", "votes-safe", "same-prefix"}),
    ("half-quorum", {"same-prefix"}),
    ("half-quorum-multipaxos", {"same-prefix"}),
])
def test_the_mutant_is_caught(name: str, expected: set[str]) -> None:
    c = SCHEDULES[name](name.removesuffix("-multipaxos"))
    kinds = {v.split(":")[0] for v in c.violations}
    assert expected <= kinds, c.violations


def test_forget_promise_loses_the_promise_only() -> None:
    c = forget_promise_schedule("forget-promise")
    assert not any(type(r).__name__ == "PromiseRecord" for r in c.disk[2])
    assert c.values(1) == ["a"] and c.values(3) == ["b"]  # two learners, two decisions
    ok = forget_promise_schedule(None)
    assert any(type(r).__name__ == "PromiseRecord" for r in ok.disk[2])
    assert ok.values(1) == ok.values(3) == ["b"]  # node 2 refused the stale Accept
