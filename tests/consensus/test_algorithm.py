"""The factory base class: each built-in algorithm carries its own invariants, defaults and real mode."""

from __future__ import annotations

from typing import Any

import pytest

from wireproof.consensus import FACTORIES, MUTANTS
from wireproof.consensus.algorithm import AlgorithmFactory, PlainAlgorithm, SimDefaults
from wireproof.consensus.api import ClusterConfig
from wireproof.consensus.kv import KvAdapter, KvCommand, KvFactory, KvNode
from wireproof.consensus.multipaxos import MultiPaxosFactory, MultiPaxosNode
from wireproof.consensus.paxos import (
    Ballot,
    NodeView,
    PaxosFactory,
    PaxosFamilyFactory,
    PaxosNode,
    PromiseRecord,
    Vote,
    VoteRecord,
)
from wireproof.consensus.sim.clients import PlainAdapter, Workload

CONFIG = ClusterConfig(nodes=(1, 2, 3))


def test_create_and_restore_are_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        AlgorithmFactory()  # type: ignore[abstract]

    class NoRestore(AlgorithmFactory):
        name = "half"

        def create(self, node_id: int, config: ClusterConfig) -> Any:
            return PaxosNode(node_id, config)

    with pytest.raises(TypeError, match="restore"):
        NoRestore()  # type: ignore[abstract]


@pytest.mark.parametrize(("factory", "node_class"), [
    (PaxosFactory(), PaxosNode), (MultiPaxosFactory(), MultiPaxosNode), (KvFactory(), KvNode)])
def test_the_family_restores_from_records(factory: PaxosFamilyFactory, node_class: type) -> None:
    assert isinstance(factory, PaxosFamilyFactory) and FACTORIES[factory.name].name == factory.name
    ballot = Ballot(round=3, node=2)
    records = [PromiseRecord(ballot=ballot), VoteRecord(slot=0, ballot=ballot, value="v")]
    node = factory.restore(1, CONFIG, records)
    assert type(node) is node_class and type(factory.create(1, CONFIG)) is node_class
    view = node.inspect()
    assert view.promised == ballot and [v.value for v in view.votes] == ["v"]
    with pytest.raises(ValueError, match="record"):
        factory.restore(1, CONFIG, ["junk"])


def test_simulation_defaults_per_algorithm() -> None:
    """The defaults `consensus run` had per algorithm, now carried by the factories."""
    paxos = PaxosFactory().sim_options()
    assert paxos["duration"] == 60 and paxos["episodes"] == 3
    assert paxos["workload"] == Workload(clients=3, think=(1, 10))
    assert paxos["check_linearizability"] is False and paxos["check_always"] is False
    assert isinstance(paxos["adapter"], PlainAdapter)
    multi = MultiPaxosFactory().sim_options(duration=77)
    assert multi["duration"] == 77 and multi["episodes"] == 2 and "workload" not in multi
    assert multi["check_linearizability"] is False and isinstance(multi["adapter"], PlainAdapter)
    kv = KvFactory().sim_options()
    assert kv["duration"] == 2000 and kv["check_linearizability"] is True and kv["lin_model"] == "kv"
    assert isinstance(kv["adapter"], KvAdapter) and kv["check_always"] is False
    for factory in FACTORIES.values():
        assert factory.simulation().faults == "all"
        assert factory.mutants == MUTANTS and factory.description


def test_invariants_are_fresh_for_each_run_and_catch_a_split_decision() -> None:
    def view(node: int, value: str) -> NodeView:
        b = Ballot(round=1, node=node)
        return NodeView(node=node, role="idle", promised=b, votes=(Vote(slot=0, ballot=b, value=value),),
                        learned=((0, value),), applied=(value,), members=((0, (1, 2, 3)),))

    a, b = PaxosFactory().invariants(), PaxosFactory().invariants()
    assert a[0] is not b[0]
    split = {1: view(1, "x"), 2: view(2, "y"), 3: view(3, "y")}
    assert a[0](split, frozenset({"x", "y"}))  # two nodes learned different values for slot 0
    assert not PaxosFactory().invariants(track=False)[0]({1: view(1, "x")}, frozenset({"x"}))


def test_real_mode() -> None:
    assert PaxosFactory().real_mode() is None
    multi = MultiPaxosFactory().real_mode()
    assert isinstance(multi.factory, KvFactory) and isinstance(multi.adapter, KvAdapter)  # the KV store
    assert KvFactory().real_mode().lin_model == "kv"
    assert "wireproof.consensus.kv" in KvFactory().wire_modules()
    paxos_modules = {"wireproof.consensus.paxos", "wireproof.consensus.multipaxos"}
    assert set(MultiPaxosFactory().wire_modules()) == paxos_modules


def test_message_floors() -> None:
    floor = MultiPaxosFactory().message_floor(5)
    assert (floor.messages, floor.delays) == (8, 2)
    assert KvFactory().message_floor(3) == MultiPaxosFactory().message_floor(3)
    assert PaxosFactory().message_floor(3).messages == 8
    assert MultiPaxosFactory().message_floor(3).label == "Multi-Paxos minimum 2(n-1)"
    assert KvFactory().bench_cost(3, commands=1) is None


@pytest.mark.parametrize(("kind", "value", "result", "outcome"), [
    ("read", None, 4, ("ok", 4)),
    ("read", None, None, ("ok", None)),
    ("write", 3, "ok", ("ok", None)),
    ("cas", (1, 2), "ok", ("ok", None)),
    ("cas", (1, 2), "fail", ("fail", None)),
])
def test_kv_adapter(kind: str, value: Any, result: Any, outcome: tuple[str, Any]) -> None:
    adapter = KvAdapter()
    assert adapter.outcome(kind=kind, value=value, result=result) == outcome
    command = adapter.command(request_id=7, client=1, kind=kind, key="x", value=value)
    assert isinstance(command, KvCommand) and command.op == kind and command.request_id == 7
    if kind == "cas":
        assert (command.expected, command.value) == value


def test_a_bare_factory_is_wrapped_with_plain_defaults() -> None:
    class Bare:
        name = "bare"

        def create(self, node_id: int, config: ClusterConfig) -> PaxosNode:
            return PaxosNode(node_id, config)

        def restore(self, node_id: int, config: ClusterConfig, records: Any) -> PaxosNode:
            return PaxosNode(node_id, config)

    wrapped = PlainAlgorithm(Bare())
    assert wrapped.name == "bare" and wrapped.invariants() == [] and wrapped.mutants == ()
    assert wrapped.simulation() == SimDefaults()
    assert wrapped.real_mode() is not None and isinstance(wrapped.real_mode().adapter, PlainAdapter)
    assert isinstance(wrapped.create(1, CONFIG), PaxosNode)
