"""The invariant checker catches hand-made bad views and passes good ones."""

from __future__ import annotations

from typing import Any

from wireproof.consensus.check.invariants import ChosenTracker, check_invariants, members_function
from wireproof.consensus.paxos import NO_BALLOT, NOOP, Ballot, NodeView, Vote

B1, B2, B3 = Ballot(round=1, node=1), Ballot(round=2, node=2), Ballot(round=3, node=3)
MEMBERS = ((0, (1, 2, 3)),)


def view(node: int, votes: tuple[Vote, ...] = (), applied: tuple[Any, ...] = (),
         learned: tuple[tuple[int, Any], ...] | None = None, members: Any = MEMBERS) -> NodeView:
    promised = max((v.ballot for v in votes), default=NO_BALLOT)
    return NodeView(node=node, role="follower", promised=promised, votes=votes,
                    learned=tuple(enumerate(applied)) if learned is None else learned,
                    applied=applied, members=members)


def v(slot: int, ballot: Ballot, value: Any) -> Vote:
    return Vote(slot=slot, ballot=ballot, value=value)


def kinds(problems: list[str]) -> set[str]:
    return {p.split(":")[0] for p in problems}


def test_a_consistent_state_passes() -> None:
    views = {1: view(1, (v(0, B1, "a"), v(1, B1, NOOP)), applied=("a", NOOP)),
             2: view(2, (v(0, B1, "a"), v(1, B1, NOOP)), applied=("a",)),
             3: view(3, (v(0, B2, "a"),))}
    assert check_invariants(views, {"a"}) == []
    assert check_invariants(views, {"a"}, tracker=ChosenTracker()) == []


def test_two_values_in_one_ballot() -> None:
    views = {1: view(1, (v(0, B1, "a"),)), 2: view(2, (v(0, B1, "b"),))}
    assert kinds(check_invariants(views, {"a", "b"})) == {"one-value-per-ballot"}


def test_two_values_chosen_in_one_slot() -> None:
    # a majority voted "a" in B1 and, in a separate snapshot, "b" in B2: only the tracker sees both
    tracker = ChosenTracker()
    first = {1: view(1, (v(0, B1, "a"),)), 2: view(2, (v(0, B1, "a"),)), 3: view(3)}
    assert check_invariants(first, {"a", "b"}, tracker=tracker) == []
    later = {1: view(1, (v(0, B1, "a"),)), 2: view(2, (v(0, B2, "b"),)), 3: view(3, (v(0, B2, "b"),))}
    assert check_invariants(later, {"a", "b"}) == []  # the snapshot alone looks fine
    assert kinds(check_invariants(later, {"a", "b"}, tracker=tracker)) >= {"at-most-one-chosen", "votes-safe"}
    assert {s: [val for _, val in e] for s, e in tracker.chosen().items()} == {0: ["a", "b"]}


def test_a_chosen_value_that_nobody_proposed() -> None:
    views = {1: view(1, (v(0, B1, "x"),)), 2: view(2, (v(0, B1, "x"),))}
    assert kinds(check_invariants(views, {"a"})) == {"chosen-was-proposed"}
    assert check_invariants(views, {"x"}) == []
    noop = {1: view(1, (v(0, B1, NOOP),)), 2: view(2, (v(0, B1, NOOP),))}
    assert check_invariants(noop, set()) == []  # a leader's no-op is always allowed


def test_unsafe_vote_above_a_chosen_ballot() -> None:
    views = {1: view(1, (v(0, B1, "a"),)), 2: view(2, (v(0, B1, "a"),)), 3: view(3, (v(0, B3, "b"),))}
    assert kinds(check_invariants(views, {"a", "b"})) == {"votes-safe"}


def test_replicas_applying_different_prefixes() -> None:
    views = {1: view(1, applied=("a", "b")), 2: view(2, applied=("a", "c")), 3: view(3, applied=("a",))}
    problems = check_invariants(views, {"a", "b", "c"})
    assert kinds(problems) == {"same-prefix"}
    assert any("slot 1" in p for p in problems)


def test_the_tracker_flags_a_learned_value_no_majority_voted_for() -> None:
    # the half-quorum mutant's signature: a node learns from too few votes
    views = {1: view(1, (v(0, B1, "a"),), applied=("a",)), 2: view(2), 3: view(3)}
    assert check_invariants(views, {"a"}) == []
    assert kinds(check_invariants(views, {"a"}, tracker=ChosenTracker())) == {"same-prefix"}


def test_quorums_follow_the_configuration_history() -> None:
    history = ((0, (1, 2, 3)), (5, (3, 4, 5, 6, 7)))
    members_at = members_function([view(1, members=history)])
    assert members_at(4) == (1, 2, 3) and members_at(5) == (3, 4, 5, 6, 7)
    # two votes of five members are not a majority: nothing chosen, so nothing unsafe
    views = {i: view(i, (v(5, B1, "a"),), members=history) for i in (3, 4)}
    views[5] = view(5, (v(5, B2, "b"),), members=history)
    assert check_invariants(views, {"a", "b"}) == []
    views[6] = view(6, (v(5, B1, "a"),), members=history)
    assert kinds(check_invariants(views, {"a", "b"})) == {"votes-safe"}


def test_a_copied_tracker_is_independent() -> None:
    tracker = ChosenTracker()
    chosen_a = {1: view(1, (v(0, B1, "a"),)), 2: view(2, (v(0, B1, "a"),)), 3: view(3)}
    branch = tracker.copy()
    assert check_invariants(chosen_a, {"a", "b"}, tracker=branch) == []
    chosen_b = {1: view(1), 2: view(2, (v(0, B2, "b"),)), 3: view(3, (v(0, B2, "b"),))}
    assert check_invariants(chosen_b, {"a", "b"}, tracker=tracker) == []  # another branch: fine
    assert check_invariants(chosen_b, {"a", "b"}, tracker=branch) != []  # same run: two chosen
