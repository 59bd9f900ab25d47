"""The deterministic simulator for pure consensus nodes (DESIGN.md, layer 4).

- :mod:`.world`: the discrete-event world (network faults, partitions,
  crash/restart from durable storage, tick skew, invariants after every event);
- :mod:`.faults`: fault plans as data, generated from a seed, and shrinking;
- :mod:`.clients`: closed-loop clients whose operations form a history;
- :mod:`.runner`: ``run_simulation`` and ``sweep``;
- :mod:`.transcript`: golden interaction transcripts (etcd-raft style);
- :mod:`.explore`: exhaustive breadth-first exploration of delivery orders.
"""

from __future__ import annotations

from wireproof.consensus.sim.clients import (
    ClientAdapter,
    ClientCommand,
    Clients,
    KvAdapter,
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
from wireproof.consensus.sim.runner import (
    SimResult,
    SweepResult,
    default_invariants,
    kv_adapter,
    run_simulation,
    sweep,
)
from wireproof.consensus.sim.transcript import TranscriptResult, run_script, run_transcript
from wireproof.consensus.sim.world import Invariant, LinkFaults, Stats, World

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
    "generate_plan",
    "kv_adapter",
    "parse_kinds",
    "run_script",
    "run_simulation",
    "run_transcript",
    "schedule",
    "shrink",
    "sweep",
]
