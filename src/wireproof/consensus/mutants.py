"""Known-bad variants of the algorithms, selectable by name (``ClusterConfig.mutant``).

A checker that never fails proves nothing. Each mutant below breaks exactly one
rule of Paxos (Lamport, "Paxos Made Simple", 2001 — "PMS" below) and must be
caught by :mod:`wireproof.consensus.check.invariants` under the faults named
in its description; ``tests/consensus/test_mutants.py`` shows each one with a
crafted schedule while the correct algorithm passes the same schedule.

The nodes ask this module, never the other way round, so a mutant is a small
conditional at the one place it bites.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wireproof.consensus.api import ClusterConfig

__all__ = ["MUTANTS", "Mutant", "check_mutant", "forgets_promise", "quorum_size", "skips_prepare"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutant:
    """A named known-bad variant: what it breaks and which fault exposes it."""

    name: str
    description: str
    exposed_by: str


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        name="forget-promise",
        description=(
            "an acceptor does not persist the ballot it promised in phase 1 (PMS 2.2, 'an acceptor must "
            "remember ... even if it fails and then restarts'), so after a restart it accepts a lower "
            "ballot it had promised to ignore"),
        exposed_by="crash and restart of an acceptor between two competing proposers' phase 1 and phase 2",
    ),
    Mutant(
        name="skip-prepare",
        description=(
            "a new proposer / leader skips phase 1 and sends Accept with its own value at once, without "
            "learning the values already accepted (PMS 2.2, P2c)"),
        exposed_by="a leader change after a value was chosen without the new leader's acceptor seeing it",
    ),
    Mutant(
        name="half-quorum",
        description=(
            "quorums of n//2 (at least 1) instead of a majority (PMS 2.1): for n=4 the halves {1,2} and "
            "{3,4} are disjoint 'quorums', and for n=3 one node alone decides"),
        exposed_by="a partition into two halves (n=4), or two proposers that do not hear each other (n=3)",
    ),
)

_NAMES = frozenset(m.name for m in MUTANTS)


def check_mutant(config: ClusterConfig) -> None:
    """Reject an unknown mutant name early (a typo must not silently run the correct algorithm)."""
    if config.mutant is not None and config.mutant not in _NAMES:
        raise ValueError(f"unknown mutant {config.mutant!r}; known: {sorted(_NAMES)}")


def forgets_promise(config: ClusterConfig) -> bool:
    return config.mutant == "forget-promise"


def skips_prepare(config: ClusterConfig) -> bool:
    return config.mutant == "skip-prepare"


def quorum_size(config: ClusterConfig, members: Sequence[int]) -> int:
    """Votes needed among ``members``: a majority (PMS 2.1), or n//2 under "half-quorum"."""
    if config.mutant == "half-quorum":
        return max(1, len(members) // 2)
    return len(members) // 2 + 1
