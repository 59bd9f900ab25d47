"""Pure consensus: node API, Paxos, Multi-Paxos, a replicated KV store, mutants.

See :mod:`wireproof.consensus.api` for the node contract. Nothing here performs
I/O; drivers (the simulator in :mod:`wireproof.consensus.sim`, the real-mode
harness) own time, network and storage.
"""

from __future__ import annotations

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
from wireproof.consensus.kv import KvCommand, KvFactory, KvNode, KvStateMachine
from wireproof.consensus.multipaxos import ConfigChange, MultiPaxosFactory, MultiPaxosNode
from wireproof.consensus.mutants import MUTANTS, Mutant
from wireproof.consensus.paxos import NO_BALLOT, NOOP, Ballot, NodeView, Noop, PaxosFactory, PaxosNode, Vote

FACTORIES: dict[str, NodeFactory] = {
    f.name: f for f in (PaxosFactory(), MultiPaxosFactory(), KvFactory())
}
"""Algorithm name -> factory ("paxos", "multipaxos", "kv")."""

__all__ = [
    "FACTORIES",
    "MUTANTS",
    "NOOP",
    "NO_BALLOT",
    "Ballot",
    "ClusterConfig",
    "Committed",
    "ConfigChange",
    "Envelope",
    "KvCommand",
    "KvFactory",
    "KvNode",
    "KvStateMachine",
    "MultiPaxosFactory",
    "MultiPaxosNode",
    "Mutant",
    "Node",
    "NodeFactory",
    "NodeView",
    "Noop",
    "NotLeader",
    "PaxosFactory",
    "PaxosNode",
    "Ready",
    "Reply",
    "SplitMix64",
    "Vote",
]
