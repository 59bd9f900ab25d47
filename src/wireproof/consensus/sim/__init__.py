"""The deterministic simulator for pure consensus nodes (DESIGN.md, layer 4).

- :mod:`.world`: the discrete-event world (network faults, partitions,
  crash/restart from durable storage, tick skew, invariants after every event);
- :mod:`.faults`: fault plans as data, generated from a seed, and shrinking;
- :mod:`.clients`: closed-loop clients whose operations form a history;
- :mod:`.runner`: ``run_simulation`` and ``sweep``;
- :mod:`.transcript`: the driver of golden interaction transcripts (etcd-raft
  style; the format is :mod:`wireproof.transcript`);
- :mod:`.explore`: exhaustive breadth-first exploration of delivery orders;
- :mod:`.cost`: the message cost of a committed command, for the bench.

``default_invariants`` and ``kv_adapter`` are kept for compatibility: the
simulator asks each algorithm's factory for its invariants and adapter
(:class:`wireproof.consensus.algorithm.AlgorithmFactory`).
"""

from __future__ import annotations

from wireproof.consensus.check.invariants import paxos_invariants
from wireproof.consensus.kv import KvAdapter
from wireproof.consensus.sim.clients import (
    ClientAdapter,
    ClientCommand,
    Clients,
    PlainAdapter,
    Workload,
)
from wireproof.consensus.sim.explore import ExploreResult, explore
from wireproof.consensus.sim.faults import (
    KINDS,
    Fault,
    FaultPlan,
    generate_plan,
    parse_kinds,
    schedule,
    shrink,
)
from wireproof.consensus.sim.runner import SimResult, SweepResult, fresh_invariants, run_simulation, sweep
from wireproof.consensus.sim.transcript import run_script
from wireproof.consensus.sim.world import Invariant, LinkFaults, Stats, World
from wireproof.transcript import TranscriptResult

__all__ = [
    "KINDS",
    "ClientAdapter",
    "ClientCommand",
    "Clients",
    "ExploreResult",
    "Fault",
    "FaultPlan",
    "Invariant",
    "KvAdapter",
    "LinkFaults",
    "PlainAdapter",
    "SimResult",
    "Stats",
    "SweepResult",
    "TranscriptResult",
    "Workload",
    "World",
    "default_invariants",
    "explore",
    "fresh_invariants",
    "generate_plan",
    "kv_adapter",
    "parse_kinds",
    "run_script",
    "run_simulation",
    "schedule",
    "shrink",
    "sweep",
]


# Compatibility names: the simulator asks each algorithm's factory for its invariants and adapter.
default_invariants = paxos_invariants
"""Paxos's invariants (``PaxosFamilyFactory.invariants``): kept for compatibility."""


def kv_adapter() -> ClientAdapter:
    """The key-value store's client adapter (``KvFactory().client_adapter()``): kept for compatibility."""
    return KvAdapter()
