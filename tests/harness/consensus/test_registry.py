"""The algorithm registry: entry points of ``wireproof.algorithms``, and a third-party algorithm.

The third-party algorithm is a module this test writes into a temporary
folder (nothing in wireproof names it). It is found three ways: given to
``register()``, through a stubbed ``importlib.metadata`` entry point, and as
``package.module:FactoryClass`` by the node processes of a real cluster.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import asdict
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

import pytest

from wireproof.consensus import FACTORIES
from wireproof.consensus.kv import KvAdapter, KvFactory
from wireproof.errors import HarnessError
from wireproof.harness import cli
from wireproof.harness.consensus import registry

MODULE = "wireproof_test_third_party_algorithm"
THIRD_PARTY = '''
"""A consensus algorithm that is not part of wireproof: one register served by node 1."""

from dataclasses import dataclass
from typing import Any

from wireproof.consensus.algorithm import AlgorithmFactory, RealMode, SimDefaults
from wireproof.consensus.api import Committed, NotLeader, Ready, Reply
from wireproof.consensus.mutants import Mutant
from wireproof.consensus.sim.clients import PlainAdapter

CHECKS: list[int] = []  # one entry per invariant check


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    slot: int
    command: Any


class RegisterNode:
    def __init__(self, node_id, config, entries=()):
        self.id, self.config = node_id, config
        self.data, self.log, self.out = {}, [], []
        for entry in entries:
            self._apply(entry.command)

    def _apply(self, cmd):
        self.log.append(cmd)
        if cmd.kind == "read":
            return None if self.config.mutant == "stale-read" else self.data.get(cmd.key)
        if cmd.kind == "write":
            self.data[cmd.key] = cmd.value
            return None
        old, new = cmd.value
        if self.data.get(cmd.key) != old:
            return False
        self.data[cmd.key] = new
        return True

    def propose(self, value):
        if self.id != 1:
            raise NotLeader(1)
        slot = len(self.log)
        self.out.append((Entry(slot=slot, command=value), self._apply(value)))

    def step(self, envelope):
        pass

    def tick(self):
        pass

    def ready(self):
        return Ready(persist=tuple(e for e, _ in self.out),
                     committed=tuple(Committed(slot=e.slot, value=e.command) for e, _ in self.out),
                     replies=tuple(Reply(request_id=e.command.request_id, result=r) for e, r in self.out))

    def advance(self, ready):
        del self.out[:len(ready.persist)]

    def inspect(self):
        return (tuple(self.log), tuple(sorted(self.data.items())))


class RegisterFactory(AlgorithmFactory):
    name = "toy-register"
    title = "Toy register"
    description = "one register served by node 1 (a third-party test algorithm)"
    mutants = (Mutant(name="stale-read", description="reads return the initial value",
                      exposed_by="a write, then a read"),)

    def create(self, node_id, config):
        return RegisterNode(node_id, config)

    def restore(self, node_id, config, records):
        return RegisterNode(node_id, config, records)

    def invariants(self, *, track=True):
        def only_node_1_serves(views, proposed):
            CHECKS.append(1)
            return [f"node {n} applied a command" for n, v in views.items() if n != 1 and v[0]]

        return [only_node_1_serves]

    def simulation(self):
        return SimDefaults(duration=300, faults="none", check_linearizability=True, lin_model="kv")

    def real_mode(self):
        return RealMode(factory=self, adapter=PlainAdapter())


class Misnamed(RegisterFactory):
    name = "not-its-entry-point-name"
'''


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The third-party module, importable (and the registry's caches restored afterwards)."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent(THIRD_PARTY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_loaded", {})
    monkeypatch.setattr(registry, "_registered", {})
    module = importlib.import_module(MODULE)
    yield module
    sys.modules.pop(MODULE, None)


def stub_entry_points(monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """importlib.metadata as if another distribution declared ``extra`` (name -> "module:Class")."""
    added = [EntryPoint(name=name, value=value, group=registry.GROUP) for name, value in extra.items()]

    def stub(*, group: str) -> list[EntryPoint]:
        return [*entry_points(group=group), *(added if group == registry.GROUP else [])]

    monkeypatch.setattr(registry, "entry_points", stub)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_built_ins_are_entry_points() -> None:
    declared = {ep.name: ep.value for ep in entry_points(group=registry.GROUP)}
    assert {"paxos", "multipaxos", "kv"} <= set(declared), \
        "no wireproof.algorithms entry points: reinstall (pip install -e .) after changing pyproject.toml"
    assert registry.names() == sorted(registry.names())
    for name, factory in FACTORIES.items():  # the compatibility name agrees with the registry
        assert type(registry.get(name)) is type(factory)
        assert registry.get(name) is registry.get(name)  # loaded once


def test_unknown_names_and_bad_classes_are_harness_errors() -> None:
    with pytest.raises(HarnessError, match=r"unknown algorithm 'raft'.*paxos"):
        registry.get("raft")
    with pytest.raises(HarnessError, match="cannot load"):
        registry.get("wireproof.consensus.kv:NoSuchFactory")
    with pytest.raises(HarnessError, match="not a node factory"):
        registry.get("wireproof.consensus.sim.clients:PlainAdapter")
    assert isinstance(registry.get("wireproof.consensus.kv:KvFactory"), KvFactory)


def test_real_mode_comes_from_the_factory() -> None:
    with pytest.raises(HarnessError, match=r"'paxos' does not run in `consensus cluster`.*kv, multipaxos"):
        registry.real_mode("paxos")
    algorithm, mode = registry.real_mode("multipaxos")
    assert algorithm.name == "multipaxos" and isinstance(mode.factory, KvFactory)
    assert isinstance(mode.adapter, KvAdapter)


def test_a_registered_algorithm_is_listed_by_run_help(third_party: ModuleType,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "consensus", "run", "--help")
    assert code == 0 and "toy-register" not in out
    registry.register(third_party.RegisterFactory)
    code, out, _ = run(capsys, "consensus", "run", "--help")
    assert code == 0
    assert "kv | multipaxos | paxos | toy-register" in out
    assert "one register served by node 1" in out and "mutants: stale-read" in out
    assert "--duration 300 --faults none" in out


def test_a_registered_algorithm_runs_with_its_own_invariants_and_mutants(
        third_party: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    registry.register(third_party.RegisterFactory())
    code, out, err = run(capsys, "consensus", "run", "toy-register", "--seeds", "2", "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["ok"] and summary["algorithm"] == "toy-register" and summary["faults"] == []
    assert summary["stats"]["operations"] > 10
    assert third_party.CHECKS, "the simulator did not check the algorithm's own invariant"
    code, out, _ = run(capsys, "consensus", "run", "toy-register", "--mutant", "stale-read", "--seeds", "3")
    assert code == 1 and "not linearizable" in out
    code, _, err = run(capsys, "consensus", "run", "toy-register", "--mutant", "half-quorum")
    assert code == 2 and "known: stale-read" in err


def test_an_entry_point_of_another_distribution_is_enough(
        third_party: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stub_entry_points(monkeypatch, **{"toy-register": f"{MODULE}:RegisterFactory"})
    assert "toy-register" in registry.names()
    code, out, _ = run(capsys, "consensus", "run", "--help")
    assert code == 0 and "toy-register" in out
    code, out, err = run(capsys, "consensus", "run", "toy-register", "--seeds", "1")
    assert code == 0, err
    assert out.startswith("toy-register: 3 nodes, faults none")
    # Its messages are known to the real-mode wire without naming them anywhere.
    from wireproof.harness.consensus.wire import default_codec

    codec = default_codec()
    entry = third_party.Entry(slot=3, command=("x", 1))
    assert codec.decode(codec.encode(entry)) == entry


def test_an_entry_point_that_does_not_load_is_reported(
        third_party: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stub_entry_points(monkeypatch, broken="wireproof_no_such_module:Factory",
                      alias=f"{MODULE}:Misnamed")
    assert set(registry.failures()) == {"alias", "broken"}
    assert "named 'not-its-entry-point-name'" in registry.failures()["alias"]
    assert set(registry.algorithms()) == {"kv", "multipaxos", "paxos"}
    code, out, _ = run(capsys, "consensus", "run", "--help")  # the others still work
    assert code == 0 and "broken      cannot load" in out
    code, _, err = run(capsys, "consensus", "run", "broken", "--seeds", "1")
    assert code == 2 and "cannot load wireproof_no_such_module:Factory" in err


def test_the_bench_reads_the_registry(third_party: ModuleType) -> None:
    from wireproof.consensus.sim.cost import Cost
    from wireproof.harness.bench import consensus as bench

    class Benched(third_party.RegisterFactory):  # type: ignore[name-defined,misc]
        bench_throughput = True

        def bench_cost(self, nodes: int, *, commands: int) -> Cost:
            return Cost(algorithm=self.name, nodes=nodes, commands=commands, messages_per_command=0.0,
                        delays_per_command=0.0, min_messages=0, min_delays=0, by_type={})

    registry.register(Benched())
    costs = bench.measure_costs(sizes=(3,), commands=2)
    assert [c.algorithm for c in costs] == ["multipaxos", "paxos", "toy-register"]
    tps = bench.sim_throughput(duration=200)
    assert [tp.algorithm for tp in tps] == ["kv", "toy-register"]
    assert all(tp.delivered >= 0 and tp.events > 0 for tp in tps)
    text = bench.render_text({"costs": [], "sim_throughput": [
        {**asdict(tp), "messages_per_second": 1.0} for tp in tps], "lincheck": None, "lincheck_note": "-"})
    assert "(KV, 3 nodes" in text and "(Toy register, 3 nodes" in text


def test_a_third_party_class_runs_in_a_real_cluster(third_party: ModuleType, tmp_path: Path) -> None:
    """The node processes load ``module:Class`` through the registry, from their own path."""
    from wireproof.harness.consensus.load import LoadSpec, run_cluster

    report, records = run_cluster(f"{MODULE}:RegisterFactory", 3, LoadSpec(clients=2, ops=30, seed=4),
                                  tmp_path / "data", pythonpath=[str(tmp_path)])
    assert report.linearizable is True, report.witness
    assert report.counts["ok"] + report.counts["fail"] == 30 and len(records) == 30
