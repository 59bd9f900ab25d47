"""Pure consensus: node API, Paxos, Multi-Paxos, a replicated KV store, mutants.

See :mod:`wireproof.consensus.api` for the node contract and
:mod:`wireproof.consensus.algorithm` for the factory base class that carries an
algorithm's invariants and defaults. Nothing here performs I/O; drivers (the
simulator in :mod:`wireproof.consensus.sim`, the real-mode harness) own time,
network and storage. The tools find algorithms through the
``wireproof.algorithms`` entry points (:mod:`wireproof.harness.consensus.registry`).
"""

from __future__ import annotations

from wireproof.consensus.algorithm import (
    AlgorithmFactory,
    MessageFloor,
    PlainAlgorithm,
    RealMode,
    SimDefaults,
)
from wireproof.consensus.api import (
    ClusterConfig,
    Committed,
    Envelope,
    Node,
    NodeFactory,
    NotLeader,
    Ready,
    Reply,
    SplitMix64,
)
from wireproof.consensus.kv import KvAdapter, KvCommand, KvFactory, KvNode, KvStateMachine
from wireproof.consensus.multipaxos import ConfigChange, MultiPaxosFactory, MultiPaxosNode
from wireproof.consensus.mutants import MUTANTS, Mutant
from wireproof.consensus.paxos import (
    NO_BALLOT,
    NOOP,
    Ballot,
    NodeView,
    Noop,
    PaxosFactory,
    PaxosFamilyFactory,
    PaxosNode,
    Vote,
)

FACTORIES: dict[str, NodeFactory] = {
    f.name: f for f in (PaxosFactory(), MultiPaxosFactory(), KvFactory())
}
"""The built-in algorithms, name -> factory ("paxos", "multipaxos", "kv"): a compatibility name.

The tools read the entry-point registry (:mod:`wireproof.harness.consensus.registry`),
which lists these three and any algorithm another package registers.
"""

__all__ = [
    "FACTORIES",
    "MUTANTS",
    "NOOP",
    "NO_BALLOT",
    "AlgorithmFactory",
    "Ballot",
    "ClusterConfig",
    "Committed",
    "ConfigChange",
    "Envelope",
    "KvAdapter",
    "KvCommand",
    "KvFactory",
    "KvNode",
    "KvStateMachine",
    "MessageFloor",
    "MultiPaxosFactory",
    "MultiPaxosNode",
    "Mutant",
    "Node",
    "NodeFactory",
    "NodeView",
    "Noop",
    "NotLeader",
    "PaxosFactory",
    "PaxosFamilyFactory",
    "PaxosNode",
    "PlainAlgorithm",
    "Ready",
    "RealMode",
    "Reply",
    "SimDefaults",
    "SplitMix64",
    "Vote",
]
