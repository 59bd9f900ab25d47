"""Safety invariants of Paxos, checked on node views after every step.

Normative reference: Leslie Lamport, "Paxos Made Simple" (2001), 2.1-2.2
("PMS"), and the TLA+ specification "Paxos.tla" whose ``votes`` history
variable is what :class:`ChosenTracker` keeps.

Theory of operation
-------------------
The checker reads :class:`~wireproof.consensus.paxos.NodeView` values (what
``node.inspect()`` returns for every node here) and never trusts a node's own
idea of a quorum: a value is *chosen* in ``(slot, ballot)`` when a strict
majority of the members governing ``slot`` voted for it in that ballot. So a
mutant with a wrong quorum size (``half-quorum``) cannot hide behind it.

Acceptors overwrite their votes, so a single snapshot can miss a value that
was chosen and later re-voted. :class:`ChosenTracker` keeps the monotone
record — every vote ever seen, who cast it, every value ever chosen or
learned — and must be updated after *every* step to be exact.

Invariants (each violation is one line of text):

* ``one-value-per-ballot``: two votes in the same slot and ballot agree.
* ``at-most-one-chosen``: at most one value is chosen per slot (PMS 2.1).
* ``chosen-was-proposed``: a chosen or learned value was proposed (PMS 2.1);
  a leader's ``NOOP`` counts as proposed.
* ``votes-safe``: if ``v`` is chosen in ballot ``b``, every vote in that slot
  with a higher ballot is ``v`` (PMS 2.2, P2b).
* ``same-prefix``: no two nodes applied or learned different values at a slot,
  and (with a tracker) nobody learned a value that was never chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from wireproof.consensus.api import NodeId
from wireproof.consensus.paxos import Ballot, NodeView, Noop

if TYPE_CHECKING:
    from wireproof.consensus.sim.world import Invariant

__all__ = ["ChosenTracker", "check_invariants", "members_function", "paxos_invariants"]

Members = Callable[[int], tuple[NodeId, ...]]
VoteTable = dict[tuple[int, Ballot], tuple[Any, frozenset[NodeId]]]
"""(slot, ballot) -> (the value voted, who voted it)."""


def members_function(views: Iterable[NodeView]) -> Members:
    """slot -> members, from the configuration history of the most advanced view.

    A configuration for slot ``s`` is fixed by the log below ``s`` (the alpha
    rule in :mod:`wireproof.consensus.multipaxos`), so the node that applied
    the most knows it best; with a safe log all nodes agree on what they know.
    """
    best = max(views, key=lambda v: (len(v.applied), len(v.members)), default=None)
    return _members_from_history(best.members if best is not None else ())


def _members_from_history(history: Iterable[tuple[int, tuple[NodeId, ...]]]) -> Members:
    """slot -> the members of the last configuration whose first slot is at or below it."""
    steps = tuple(history)

    def members_at(slot: int) -> tuple[NodeId, ...]:
        current: tuple[NodeId, ...] = ()
        for first, nodes in steps:
            if first <= slot:
                current = nodes
        return current

    return members_at


def _majority(members: tuple[NodeId, ...]) -> int:
    return len(members) // 2 + 1


def _was_proposed(value: Any, proposed: Container[Any]) -> bool:
    if isinstance(value, Noop):
        return True
    try:
        return value in proposed
    except TypeError:  # an unhashable value cannot be in a set of proposals
        return False


def _chosen(votes: Mapping[tuple[int, Ballot], tuple[Any, frozenset[NodeId]]],
            members_at: Members) -> dict[int, list[tuple[Ballot, Any]]]:
    chosen: dict[int, list[tuple[Ballot, Any]]] = {}
    for (slot, ballot), (value, voters) in sorted(votes.items(), key=lambda kv: kv[0]):
        members = members_at(slot)
        if members and len(voters.intersection(members)) >= _majority(members):
            chosen.setdefault(slot, []).append((ballot, value))
    return chosen


def _check_chosen(chosen: Mapping[int, list[tuple[Ballot, Any]]], views: Iterable[NodeView],
                  proposed: Container[Any], when: str) -> list[str]:
    problems: list[str] = []
    views = list(views)
    for slot, entries in sorted(chosen.items()):
        first_ballot, first_value = entries[0]
        for ballot, value in entries[1:]:
            if value != first_value:
                problems.append(f"at-most-one-chosen: slot {slot}: {first_value!r} chosen in ballot "
                                f"{first_ballot} and {value!r} in ballot {ballot}{when}")
        for ballot, value in entries:
            if not _was_proposed(value, proposed):
                problems.append(f"chosen-was-proposed: slot {slot}: {value!r} chosen in ballot {ballot}"
                                f"{when} was never proposed")
        low_ballot, low_value = min(entries, key=lambda e: e[0])
        for view in views:
            for vote in view.votes:
                if vote.slot == slot and vote.ballot > low_ballot and vote.value != low_value:
                    problems.append(f"votes-safe: slot {slot}: {low_value!r} chosen in ballot "
                                    f"{low_ballot}{when}, but node {view.node} voted {vote.value!r} "
                                    f"in ballot {vote.ballot}")
    return problems


def _snapshot_votes(views: Iterable[NodeView]) -> tuple[VoteTable, list[str]]:
    votes: VoteTable = {}
    problems: list[str] = []
    for view in views:
        for vote in view.votes:
            key = (vote.slot, vote.ballot)
            if key in votes:
                value, voters = votes[key]
                if value != vote.value:
                    problems.append(f"one-value-per-ballot: slot {vote.slot} ballot {vote.ballot}: "
                                    f"{value!r} and {vote.value!r} (node {view.node})")
                    continue
                votes[key] = (value, voters | {view.node})
            else:
                votes[key] = (vote.value, frozenset({view.node}))
    return votes, problems


def _check_prefixes(views: Iterable[NodeView], proposed: Container[Any]) -> list[str]:
    problems: list[str] = []
    applied: dict[int, tuple[NodeId, Any]] = {}
    learned: dict[int, tuple[NodeId, Any]] = {}
    for view in sorted(views, key=lambda v: v.node):
        for slot, value in enumerate(view.applied):
            other = applied.setdefault(slot, (view.node, value))
            if other[1] != value:
                problems.append(f"same-prefix: slot {slot}: node {other[0]} applied {other[1]!r}, "
                                f"node {view.node} applied {value!r}")
        for slot, value in view.learned:
            other = learned.setdefault(slot, (view.node, value))
            if other[1] != value:
                problems.append(f"same-prefix: slot {slot}: node {other[0]} learned {other[1]!r}, "
                                f"node {view.node} learned {value!r}")
            if not _was_proposed(value, proposed):
                problems.append(f"chosen-was-proposed: slot {slot}: node {view.node} learned {value!r}, "
                                "which was never proposed")
    return problems


def check_invariants(views: Mapping[NodeId, NodeView], proposed: Container[Any], *,
                     tracker: ChosenTracker | None = None) -> list[str]:
    """All invariant violations visible in ``views`` (empty list: all hold).

    ``proposed`` holds every value any client passed to ``propose``. With a
    ``tracker`` (updated here) the checks also cover everything ever voted,
    chosen and learned since the tracker was created.
    """
    snapshot = list(views.values())
    votes, problems = _snapshot_votes(snapshot)
    members_at = members_function(snapshot)
    problems += _check_chosen(_chosen(votes, members_at), snapshot, proposed, "")
    problems += _check_prefixes(snapshot, proposed)
    if tracker is not None:
        problems += tracker.update(views, proposed)
    return list(dict.fromkeys(problems))


class ChosenTracker:
    """The monotone record of a run: every vote ever cast, every value ever chosen or learned.

    Call :meth:`update` after every step (or pass it to :func:`check_invariants`).
    A tracker belongs to ONE run: an exhaustive search must not share it between
    branches (it would mix their votes); give each branch a :meth:`copy`, or
    check snapshots without a tracker.
    """

    def __init__(self) -> None:
        self.votes: dict[tuple[int, Ballot], tuple[Any, frozenset[NodeId]]] = {}
        self.learned: dict[int, tuple[NodeId, Any]] = {}
        self._members_history: tuple[tuple[int, tuple[NodeId, ...]], ...] = ()

    def copy(self) -> ChosenTracker:
        """An independent tracker with the same history (for branching searches)."""
        other = ChosenTracker()
        other.votes = dict(self.votes)
        other.learned = dict(self.learned)
        other._members_history = self._members_history
        return other

    def chosen(self) -> dict[int, list[tuple[Ballot, Any]]]:
        """slot -> every (ballot, value) ever chosen there, by ballot."""
        return _chosen(self.votes, _members_from_history(self._members_history))

    def update(self, views: Mapping[NodeId, NodeView], proposed: Container[Any]) -> list[str]:
        snapshot = list(views.values())
        problems: list[str] = []
        best = max(snapshot, key=lambda v: (len(v.applied), len(v.members)), default=None)
        if best is not None and len(best.members) >= len(self._members_history):
            self._members_history = best.members
        for view in snapshot:
            for vote in view.votes:
                key = (vote.slot, vote.ballot)
                if key in self.votes:
                    value, voters = self.votes[key]
                    if value != vote.value:
                        problems.append(f"one-value-per-ballot: slot {vote.slot} ballot {vote.ballot}: "
                                        f"{value!r} was voted before, node {view.node} votes {vote.value!r}")
                    elif view.node not in voters:
                        self.votes[key] = (value, voters | {view.node})
                else:
                    self.votes[key] = (vote.value, frozenset({view.node}))
        chosen = self.chosen()
        problems += _check_chosen(chosen, snapshot, proposed, " (ever)")
        for view in snapshot:
            for slot, value in view.learned:
                first = self.learned.setdefault(slot, (view.node, value))
                if first[1] != value:
                    problems.append(f"same-prefix: slot {slot}: node {first[0]} learned {first[1]!r} "
                                    f"earlier, node {view.node} learned {value!r}")
                if not any(v == value for _, v in chosen.get(slot, ())):
                    problems.append(f"same-prefix: slot {slot}: node {view.node} learned {value!r}, "
                                    "which no majority ever voted for")
        return problems


def paxos_invariants(*, track: bool = True) -> list[Invariant]:
    """Fresh invariants of this module for one simulation run (every Paxos factory's ``invariants()``).

    With ``track`` they include a :class:`ChosenTracker`, which remembers every
    vote of the run: never share them between runs, and never use them in
    :func:`~wireproof.consensus.sim.explore.explore`, whose states belong to
    different runs (``track=False`` checks each state alone).
    """
    tracker = ChosenTracker() if track else None

    def invariant(views: Mapping[int, Any], proposed: frozenset[Any]) -> list[str]:
        return check_invariants(views, proposed, tracker=tracker)

    return [invariant]
