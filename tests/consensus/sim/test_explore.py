"""Exhaustive exploration: exact state counts on a hand-countable toy, bounds, violations."""

from __future__ import annotations

from wireproof.consensus.api import ClusterConfig
from wireproof.consensus.sim.explore import explore

TWO = ClusterConfig(nodes=(1, 2))


def test_gossip_two_nodes_two_proposals_has_13_states(gossip):
    """Counted by hand. Events: P1 (1 logs a, sends a to 2), P2 (2 logs b, sends b to 1),
    D1 (2 receives a, needs P1), D2 (1 receives b, needs P2). A state is the set of events
    that happened plus the order of each log:
    {} 1, {P1} 1, {P2} 1, {P1,P2} 1, {P1,D1} 1, {P2,D2} 1,
    {P1,P2,D1} 2 (log2 = ba or ab), {P1,P2,D2} 2 (log1 = ab or ba),
    all four 3 (logs ab/ab, ab/ba, ba/ba; ba/ab would need D2<P1<D1<P2<D2, a cycle) = 13.
    The 3 complete states are the terminal ones. Transitions: every state with k enabled
    events has k out-edges: {}:2 {P1}:2 {P2}:2 {P1,P2}:2 {P1,D1}:1 {P2,D2}:1, the 4 three-event
    states 1 each, terminal 0 -> 2+2+2+2+1+1+4 = 14.
    """
    result = explore(gossip, TWO, proposals=[(1, "a"), (2, "b")])
    assert (result.states, result.terminal, result.transitions) == (13, 3, 14)
    assert result.complete and result.violation is None and result.depth == 4


def test_drop_and_duplicate_add_states(gossip):
    base = explore(gossip, TWO, proposals=[(1, "a")]).states
    assert base == 3  # {}, {P1}, {P1, D1}
    assert explore(gossip, TWO, proposals=[(1, "a")], drop=True).states == 4  # + {P1, dropped}
    # Duplicating network: a delivered message may stay in flight, so log2 = a, aa, aaa, ...
    # each with the message gone or still in flight: depth 0 and 1 one state each, then two
    # per level (depth 2..5) -> 1 + 1 + 2 * 4 = 10 states within depth 5.
    dup = explore(gossip, TWO, proposals=[(1, "a")], duplicate=True, max_depth=5)
    assert dup.states == 10 and not dup.complete


def test_max_states_bounds_the_search(gossip):
    result = explore(gossip, ClusterConfig(nodes=(1, 2, 3)), proposals=[(1, "a"), (2, "b"), (3, "c")],
                     max_states=50)
    assert result.states == 50 and not result.complete


def test_a_violation_comes_with_its_path(gossip):
    def no_ab(views, proposed):
        return ["node 1 saw a then b"] if views[1] == ("a", "b") else []

    result = explore(gossip, TWO, proposals=[(1, "a"), (2, "b")], invariants=[no_ab])
    assert result.violation == "node 1 saw a then b"
    assert result.trace[0] == "init" and result.trace[-1].startswith("deliver 2->1")
    assert len(result.trace) == 4


def test_crash_restart_states(gossip):
    """One proposal, 2 nodes, at most one crash-restart (gossip persists all it logs).
    With a crash still allowed (c=1): {} ; {P1} ; {P1,D1}. After the crash (c=0):
    {} ; {P1} (message kept: node 1 crashed, or the crash came before P1) ;
    {P1} with the message lost (node 2 crashed) ; {P1,D1}. 3 + 4 = 7; terminal: the last two.
    """
    result = explore(gossip, TWO, proposals=[(1, "a")], crashes=1)
    assert (result.states, result.terminal) == (7, 2) and result.complete


def test_crash_restart_restores_only_what_was_persisted(volatile_primary, primary):
    def log_lost(views, proposed):
        return ["node 1 lost its log"] if views[1][0] == () and views[2][0] else []

    lost = explore(volatile_primary, TWO, proposals=[(1, "a")], crashes=1, invariants=[log_lost])
    assert lost.violation == "node 1 lost its log"
    assert any(step.startswith("crash-restart 1") for step in lost.trace)
    kept = explore(primary, TWO, proposals=[(1, "a")], crashes=1, invariants=[log_lost])
    assert kept.violation is None and kept.complete
