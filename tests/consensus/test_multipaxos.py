"""Multi-Paxos ("Paxos Made Simple" section 3, PMS 3): leader, slots, gaps, window, reconfiguration."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.consensus.api import ClusterConfig, Envelope, NotLeader
from wireproof.consensus.multipaxos import (
    Accept,
    Accepted,
    CatchUp,
    ConfigChange,
    Decided,
    Forward,
    Heartbeat,
    MultiPaxosFactory,
    MultiPaxosNode,
    Prepare,
    Promise,
)
from wireproof.consensus.paxos import NOOP, Ballot

from .lockstep import Cluster

CONFIG = ClusterConfig(nodes=(1, 2, 3), seed=3, election_ticks=10, heartbeat_ticks=2, window=4)


def elect(c: Cluster, node: int) -> None:
    """Let ``node``'s election timer fire (only it ticks), then deliver everything."""
    for _ in range(100):
        if c.nodes[node].role != "follower":
            break
        c.tick(node)
    c.run()
    assert c.nodes[node].role == "leader"


def test_a_leader_is_elected_and_followers_know_it() -> None:
    c = Cluster(MultiPaxosFactory(), CONFIG)
    for _ in range(60):
        c.settle(1)
    leaders = [i for i, n in c.nodes.items() if n.role == "leader"]
    assert len(leaders) == 1
    assert all(n.leader == leaders[0] for n in c.nodes.values())
    assert not c.violations


def test_commands_are_committed_in_slot_order_everywhere() -> None:
    c = Cluster(MultiPaxosFactory(), CONFIG)
    elect(c, 2)
    for k in range(10):
        c.propose(2, f"c{k}")
    # deliver in reverse order: Accepted may arrive out of slot order, application may not
    while c.net:
        c.deliver(len(c.net) - 1)
    c.settle(3)
    for i in (1, 2, 3):
        assert c.values(i) == [f"c{k}" for k in range(10)]
        assert [x.slot for x in c.committed[i]] == list(range(10))
    assert not c.violations


def test_followers_reject_with_a_leader_hint_or_forward() -> None:
    c = Cluster(MultiPaxosFactory(), CONFIG)
    with pytest.raises(NotLeader) as excinfo:
        c.propose(1, "x")
    assert excinfo.value.leader is None
    elect(c, 2)
    with pytest.raises(NotLeader) as excinfo:
        c.propose(1, "x")
    assert excinfo.value.leader == 2
    fwd = Cluster(MultiPaxosFactory(), ClusterConfig(nodes=(1, 2, 3), options=(("forward", True),)))
    elect(fwd, 2)
    fwd.propose(1, "y")
    assert [type(e.message) for e in fwd.net] == [Forward]
    fwd.run()
    fwd.settle(3)
    assert all(fwd.values(i) == ["y"] for i in (1, 2, 3))


def test_the_window_bounds_outstanding_slots() -> None:
    c = Cluster(MultiPaxosFactory(), CONFIG)  # window 4
    elect(c, 1)
    for k in range(10):
        c.propose(1, k)
    slots = {e.message.slot for e in c.net if isinstance(e.message, Accept)}
    assert slots == {0, 1, 2, 3}
    # slot 0 stays open: nothing beyond slot 3 may be proposed even when 1..3 are chosen
    c.drop_where(lambda e: isinstance(e.message, Accept) and e.message.slot == 0)
    c.run()
    assert c.nodes[1].commit == 0
    assert c.nodes[1].inspect().state.next_slot == 4  # type: ignore[union-attr]
    assert not c.violations


def test_new_leader_keeps_chosen_values_and_fills_holes_with_noops() -> None:
    # PMS 3: the new leader re-proposes what phase 1 reports and fills the gaps with no-ops.
    c = Cluster(MultiPaxosFactory(), CONFIG)
    elect(c, 1)
    for v in ("a", "b", "c"):
        c.propose(1, v)
    # slot 1's Accept reaches nobody but the leader itself; slots 0 and 2 reach node 2 only
    c.drop_where(lambda e: isinstance(e.message, Accept) and (e.message.slot == 1 or e.dst == 3))
    c.run()
    assert c.nodes[1].commit == 1  # slot 2 chosen too, but not applied across the hole
    c.crash(1)
    elect(c, 3)
    c.settle(3)
    assert c.values(3) == ["a", NOOP, "c"]
    assert c.values(2) == ["a", NOOP, "c"]
    c.propose(3, "d")
    c.settle(3)
    assert c.values(2) == ["a", NOOP, "c", "d"]
    c.restart(1)
    c.settle(5)
    assert c.values(1) == ["a", NOOP, "c", "d"]
    assert not c.violations


def test_lost_accepts_are_resent_with_the_heartbeat() -> None:
    c = Cluster(MultiPaxosFactory(), CONFIG)
    elect(c, 1)
    c.propose(1, "a")
    assert c.drop_where(lambda e: isinstance(e.message, Accept)) == 2
    c.run()
    assert c.nodes[1].commit == 0
    c.settle(CONFIG.heartbeat_ticks)
    assert c.values(1) == ["a"]
    assert not c.violations


def test_a_restarted_follower_catches_up() -> None:
    c = Cluster(MultiPaxosFactory(), CONFIG)
    elect(c, 1)
    c.crash(3)
    for k in range(100):
        c.propose(1, k)
        c.run()
    c.restart(3)
    assert c.values(3) == []
    c.sent.clear()
    c.settle(10)
    assert c.values(3) == list(range(100))
    assert c.sent["CatchUp"] >= 2 and c.sent["Decided"] >= 2  # batches of at most 64
    assert not c.violations


def test_a_deposed_leader_steps_down_when_it_meets_a_higher_ballot() -> None:
    c = Cluster(MultiPaxosFactory(), CONFIG)
    elect(c, 1)
    c.partition((1,), (2, 3))
    elect(c, 2)
    c.propose(1, "lost")  # the old leader still thinks it leads
    c.run()
    c.propose(2, "kept")
    c.run()
    c.heal()
    c.settle(5)
    assert c.nodes[1].role == "follower" and c.nodes[1].leader == 2
    assert all(c.values(i) == ["kept"] for i in (1, 2, 3))
    assert not c.violations


def test_reconfiguration_takes_effect_window_slots_later() -> None:
    config = ClusterConfig(nodes=(1, 2, 3), seed=1, window=2)
    c = Cluster(MultiPaxosFactory(), config, extra=(4, 5))
    elect(c, 1)
    change = ConfigChange(members=(1, 4, 5))
    c.propose(1, change)  # slot 0: governs slots 2 onward (alpha = window = 2)
    c.run()
    c.propose(1, "x")  # slot 1: still the old members
    assert {e.dst for e in c.net if isinstance(e.message, Accept)} == {2, 3}
    c.deliver_where(lambda e: e.dst == 2)
    c.deliver_where(lambda e: e.dst == 1)  # slot 1 chosen: slot 2's members are now known ...
    # ... and no quorum of them promised the leader's ballot yet: it asks the new members first
    assert sorted((e.dst, type(e.message)) for e in c.net if e.dst in (4, 5)) == [(4, Prepare), (5, Prepare)]
    c.run()
    c.propose(1, "y")  # slot 2: the new members
    assert {e.dst for e in c.net if isinstance(e.message, Accept)} == {4, 5}
    c.crash(2)
    c.crash(3)
    c.run()
    c.propose(1, "z")
    c.settle(5)
    assert c.values(4) == [change, "x", "y", "z"]
    assert c.values(5) == c.values(4) == c.values(1)
    assert c.nodes[4].members_at(2) == (1, 4, 5)
    # removed nodes that restart do not know they are out; the members ignore their
    # campaigns, so they cannot depose the leader
    c.restart(2)
    c.restart(3)
    c.settle(60)
    assert c.nodes[1].role == "leader"
    c.propose(1, "after")
    c.settle(3)
    assert c.values(4)[-1] == c.values(5)[-1] == "after"
    assert not c.violations


def test_a_leader_removed_by_reconfiguration_steps_down() -> None:
    config = ClusterConfig(nodes=(1, 2, 3), seed=1, window=1)
    c = Cluster(MultiPaxosFactory(), config)
    elect(c, 1)
    c.propose(1, ConfigChange(members=(2, 3)))
    c.settle(2)
    assert c.nodes[1].role == "follower"
    c.settle(60)
    assert c.nodes[2].role == "leader" or c.nodes[3].role == "leader"
    assert not c.violations


@pytest.mark.parametrize("n", [3, 5])
def test_steady_state_costs_two_n_minus_one_messages_per_command(n: int) -> None:
    c = Cluster(MultiPaxosFactory(), ClusterConfig(nodes=tuple(range(1, n + 1)), window=8))
    elect(c, 1)
    c.sent.clear()
    commands = 50
    for k in range(commands):
        c.propose(1, k)
        c.run()
    # Accept to n-1 followers + Accepted from n-1; the commit point rides on the next Accept
    assert c.sent == {"Accept": commands * (n - 1), "Accepted": commands * (n - 1)}


def test_restore_keeps_promises_and_votes() -> None:
    node = MultiPaxosNode(2, CONFIG)
    b = Ballot(round=5, node=3)
    node.step(Envelope(src=3, dst=2, message=Prepare(ballot=b, from_slot=0)))
    node.step(Envelope(src=3, dst=2, message=Accept(ballot=b, slot=0, value="v", commit=0)))
    records = node.ready().persist
    again = MultiPaxosFactory().restore(2, CONFIG, records)
    assert again.inspect().promised == b
    assert [v.value for v in again.inspect().votes] == ["v"]
    assert again.inspect() == MultiPaxosFactory().restore(2, CONFIG, records).inspect()


def test_stray_and_stale_messages_are_harmless() -> None:
    node = MultiPaxosNode(2, CONFIG)
    node.step(Envelope(src=1, dst=2, message="garbage"))
    node.step(Envelope(src=1, dst=2, message=Decided(entries=((0, "a"),))))
    node.step(Envelope(src=1, dst=2, message=CatchUp(from_slot=5)))
    assert node.log == ("a",)
    node.step(Envelope(src=1, dst=2, message=Prepare(ballot=Ballot(round=3, node=1), from_slot=0)))
    node.advance(node.ready())
    node.step(Envelope(src=3, dst=2, message=Heartbeat(ballot=Ballot(round=1, node=3), commit=9)))
    (env,) = node.ready().messages
    assert type(env.message).__name__ == "Nack"


ACTIONS = ("deliver", "deliver", "deliver", "deliver", "drop", "dup", "tick", "propose", "crash", "restart")


@settings(max_examples=60)
@given(st.data())
def test_random_schedules_with_crashes_never_violate_safety(data: st.DataObject) -> None:
    nodes = data.draw(st.sampled_from(((1, 2, 3), (1, 2, 3, 4, 5))))
    config = ClusterConfig(nodes=nodes, seed=data.draw(st.integers(0, 2**32)), election_ticks=4,
                           heartbeat_ticks=1, window=data.draw(st.integers(1, 3)))
    c = Cluster(MultiPaxosFactory(), config)
    counter = 0
    for _ in range(data.draw(st.integers(10, 150))):
        action = data.draw(st.sampled_from(ACTIONS))
        node = data.draw(st.sampled_from(nodes))
        if action == "tick":
            c.tick(node)
        elif action == "propose" and node not in c.down:
            counter += 1
            with contextlib.suppress(NotLeader):
                c.propose(node, f"v{counter}")
        elif action == "crash" and len(c.down) < len(nodes) // 2:
            c.crash(node)
        elif action == "restart" and node in c.down:
            c.restart(node)
        elif action in ("deliver", "drop", "dup") and c.net:
            k = data.draw(st.integers(0, len(c.net) - 1))
            if action == "drop":
                c.net.pop(k)
            elif action == "dup":
                c.net.append(c.net[k])
            else:
                c.deliver(k)
        assert not c.violations, (c.violations, c.log[-30:])


def _to(dst: int, kind: type, src: int) -> Callable[[Envelope], bool]:
    return lambda e: e.dst == dst and e.src == src and isinstance(e.message, kind)


def test_a_leader_that_learns_a_higher_ballot_chose_its_slot_steps_down() -> None:
    # Leader 1 (ballot b1) sends Accept(b1, 0, x); only node 5 gets it. Node 2 is elected by
    # {2, 3, 4} (b2 > b1) and chooses y for slot 0. Node 3's answer to the late Accept(b1, 0, x)
    # is Decided(0, y), not a Nack, so leader 1 learns slot 0 without meeting b2. Had it kept
    # leading, its next heartbeat (b1, commit 1) would make node 5 take its vote (b1, 0, x) for
    # the chosen value: a split log (same-prefix).
    c = Cluster(MultiPaxosFactory(), ClusterConfig(nodes=(1, 2, 3, 4, 5), seed=3, window=4))
    elect(c, 1)
    c.propose(1, "x")
    while c.nodes[2].role == "follower":
        c.tick(2)
    for n in (3, 4):
        c.deliver_where(_to(n, Prepare, 2))
        c.deliver_where(_to(2, Promise, n))
    assert c.nodes[2].role == "leader"
    c.propose(2, "y")
    for n in (3, 4):
        c.deliver_where(_to(n, Accept, 2))
        c.deliver_where(_to(2, Accepted, n))
    c.tick(2)
    c.tick(2)
    while any(_to(3, Heartbeat, 2)(e) for e in c.net):
        c.deliver_where(_to(3, Heartbeat, 2))
    assert c.values(2) == c.values(3) == ["y"]
    c.deliver_where(_to(5, Accept, 1))  # node 5 votes (b1, 0, x)
    c.deliver_where(_to(3, Accept, 1))  # node 3 has decided slot 0: Decided(0, y) to node 1
    c.deliver_where(_to(1, Decided, 3))
    assert c.values(1) == ["y"]
    assert c.nodes[1].role == "follower"
    c.tick(1)
    c.tick(1)
    while any(_to(5, Heartbeat, 1)(e) for e in c.net):
        c.deliver_where(_to(5, Heartbeat, 1))
    assert c.values(5) == []
    assert not c.violations, c.violations


def test_a_leader_never_proposes_below_its_commit_point() -> None:
    # A Decided can move a leader's commit point past its next free slot.
    c = Cluster(MultiPaxosFactory(), CONFIG)
    elect(c, 1)
    c.nodes[1].step(Envelope(src=2, dst=1, message=Decided(entries=((0, "a"), (1, "b")))))
    c.pump(1)
    assert c.nodes[1].commit == 2
    c.propose(1, "z")
    assert {e.message.slot for e in c.net if isinstance(e.message, Accept)} == {2}
