"""The base class of consensus algorithms: one factory that says everything about its algorithm.

Theory of operation
-------------------
A :class:`~wireproof.consensus.api.NodeFactory` builds nodes (``create``,
``restore``). An :class:`AlgorithmFactory` is a node factory that also
carries what every neutral tool needs to know about its algorithm, so that
the tools name no algorithm and a new one is a module plus one entry point
(group ``wireproof.algorithms``, read by
:mod:`wireproof.harness.consensus.registry`):

* ``name``, ``title``, ``description``: the CLI name, the name for people,
  one line for ``--help``;
* :meth:`~AlgorithmFactory.invariants`: fresh safety invariants for one
  simulation run (the simulator checks the factory's own, never another
  algorithm's);
* :meth:`~AlgorithmFactory.simulation`: the simulation defaults
  (:class:`SimDefaults`: duration, fault episodes and kinds, workload,
  whether and how linearizability is checked) and
  :meth:`~AlgorithmFactory.client_adapter`, which turns client operations
  into proposals; :meth:`~AlgorithmFactory.sim_options` combines them into
  :func:`~wireproof.consensus.sim.runner.run_simulation` arguments;
* ``mutants``: the known-bad variants (:mod:`wireproof.consensus.mutants`) the
  algorithm's nodes implement;
* :meth:`~AlgorithmFactory.real_mode`: whether ``wireproof consensus cluster``
  can run it, with which nodes and client adapter (:class:`RealMode`);
* :meth:`~AlgorithmFactory.message_floor` and
  :meth:`~AlgorithmFactory.bench_cost`: the theoretical and measured cost of
  a committed command, for ``wireproof bench consensus``;
* :meth:`~AlgorithmFactory.wire_modules`: the modules whose dataclasses
  cross the wire in real mode.

``create`` and ``restore`` stay abstract: building nodes is the algorithm's
own business. Everything else has a default that is right for a plain
algorithm: no invariants, plain client commands, no real mode, no bench.
:class:`PlainAlgorithm` wraps a bare node factory (``package.module:Class``
on the command line) in these defaults, with real mode on, as
``consensus cluster`` always allowed for such a class.

Pure: the simulator's types are imported lazily (the simulator imports this
module, and the algorithms import it before the simulator exists).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from wireproof.consensus.api import ClusterConfig, Node, NodeFactory, NodeId
from wireproof.consensus.mutants import Mutant

if TYPE_CHECKING:
    from wireproof.consensus.sim.clients import ClientAdapter, Workload
    from wireproof.consensus.sim.cost import Cost
    from wireproof.consensus.sim.world import Invariant

__all__ = ["AlgorithmFactory", "MessageFloor", "PlainAlgorithm", "RealMode", "SimDefaults"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SimDefaults:
    """How ``wireproof consensus run`` simulates an algorithm unless told otherwise."""

    duration: int = 2000
    """Time units per run (faults happen within them; a grace period follows)."""
    episodes: int = 2
    """Fault episodes per kind in a generated fault plan."""
    faults: str = "all"
    """Fault kinds (``all``, ``none`` or a comma-separated list; :data:`~wireproof.consensus.sim.KINDS`)."""
    workload: Workload | None = None
    """The clients; None: the simulator's default workload (3 clients)."""
    check_linearizability: bool = True
    """Check the clients' history (only meaningful when replies carry the operations' results)."""
    lin_model: str = "kv"
    """The linearizability model (:data:`~wireproof.consensus.check.lincheck.MODELS`)."""
    check_always: bool = True
    """Invariants after every event (True), or only after events that persisted or committed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RealMode:
    """What ``wireproof consensus cluster`` runs for an algorithm."""

    factory: NodeFactory
    """The factory of the nodes the processes run (may differ: Multi-Paxos runs its KV store)."""
    adapter: ClientAdapter
    """Turns the load generator's operations into commands, and replies into outcomes."""
    lin_model: str = "kv"
    """The linearizability model the recorded history is checked against."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFloor:
    """The theoretical minimum cost of one committed command at steady state."""

    label: str
    """How it is named in reports, e.g. ``"Multi-Paxos minimum 2(n-1)"``."""
    messages: int
    delays: int


class AlgorithmFactory(ABC):
    """A node factory carrying its algorithm's defaults (see the module docstring)."""

    name: str
    """The name on the command line and in the registry (``paxos``)."""
    title: str = ""
    """The name for people (``Classic Paxos``); the name when empty."""
    description: str = ""
    """One line for ``--help``."""
    mutants: ClassVar[tuple[Mutant, ...]] = ()
    """The known-bad variants the nodes implement (selected by ``ClusterConfig.mutant``)."""
    bench_throughput: ClassVar[bool] = False
    """Whether ``wireproof bench consensus`` measures the simulator's throughput on this algorithm."""

    @abstractmethod
    def create(self, node_id: NodeId, config: ClusterConfig) -> Node:
        """A fresh node."""

    @abstractmethod
    def restore(self, node_id: NodeId, config: ClusterConfig, records: Sequence[Any]) -> Node:
        """A node rebuilt from exactly the records it had persisted."""

    # -- simulation ---------------------------------------------------------------------------

    def invariants(self, *, track: bool = True) -> list[Invariant]:
        """Fresh safety invariants for one run (none by default).

        ``track`` False asks for invariants that keep no state between checks,
        for the explorer, whose successive states belong to different runs.
        """
        return []

    def simulation(self) -> SimDefaults:
        """The simulation defaults of ``wireproof consensus run``."""
        return SimDefaults()

    def client_adapter(self) -> ClientAdapter:
        """The simulated clients' adapter (by default plain ``ClientCommand`` values)."""
        from wireproof.consensus.sim.clients import PlainAdapter

        return PlainAdapter()

    def sim_options(self, *, duration: int | None = None) -> dict[str, Any]:
        """Keyword arguments of ``run_simulation`` for this algorithm (fault kinds excepted).

        Invariants are not among them: ``run_simulation`` asks the factory for
        fresh ones on every run, shrinking runs included.
        """
        d = self.simulation()
        options: dict[str, Any] = {
            "duration": duration or d.duration, "episodes": d.episodes, "adapter": self.client_adapter(),
            "check_linearizability": d.check_linearizability, "lin_model": d.lin_model,
            "check_always": d.check_always,
        }
        if d.workload is not None:
            options["workload"] = d.workload
        return options

    def mutant_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.mutants)

    # -- real mode and bench --------------------------------------------------------------------

    def real_mode(self) -> RealMode | None:
        """What ``consensus cluster`` runs; None when the algorithm cannot serve clients there."""
        return None

    def message_floor(self, nodes: int) -> MessageFloor | None:
        """The theoretical minimum cost per committed command for ``nodes`` nodes, if known."""
        return None

    def bench_cost(self, nodes: int, *, commands: int) -> Cost | None:
        """The measured steady-state cost per command (by simulation), or None: not benchmarked."""
        return None

    def wire_modules(self) -> tuple[str, ...]:
        """Modules whose dataclasses (messages, records, commands) cross the wire in real mode."""
        return (type(self).__module__,)

    def display(self) -> str:
        return self.title or self.name


class PlainAlgorithm(AlgorithmFactory):
    """A bare :class:`~wireproof.consensus.api.NodeFactory` with the default algorithm traits.

    Real mode runs its nodes with plain client commands; it has no invariants.
    """

    def __init__(self, factory: NodeFactory, name: str | None = None) -> None:
        self.factory = factory
        self.name = name or str(getattr(factory, "name", type(factory).__name__))

    def create(self, node_id: NodeId, config: ClusterConfig) -> Node:
        return self.factory.create(node_id, config)

    def restore(self, node_id: NodeId, config: ClusterConfig, records: Sequence[Any]) -> Node:
        return self.factory.restore(node_id, config, records)

    def real_mode(self) -> RealMode | None:
        return RealMode(factory=self.factory, adapter=self.client_adapter())

    def wire_modules(self) -> tuple[str, ...]:
        return (type(self.factory).__module__,)
