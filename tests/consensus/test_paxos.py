"""Single-decree Paxos ("Paxos Made Simple", PMS below)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.consensus.api import ClusterConfig, Envelope
from wireproof.consensus.paxos import (
    NO_BALLOT,
    Accept,
    Ballot,
    Nack,
    PaxosFactory,
    PaxosNode,
    Prepare,
    Promise,
    PromiseRecord,
    RoundRecord,
    VoteRecord,
)

from .lockstep import Cluster

CONFIG = ClusterConfig(nodes=(1, 2, 3), seed=7)


def test_ballots_are_totally_ordered_round_then_node() -> None:
    # PMS 2.5: proposers use disjoint sets of numbers.
    assert NO_BALLOT < Ballot(round=1, node=0) < Ballot(round=1, node=2) < Ballot(round=2, node=1)
    assert Ballot(round=3, node=1) == Ballot(round=3, node=1)


def test_one_proposer_gets_its_value_chosen_and_learned_everywhere() -> None:
    c = Cluster(PaxosFactory(), CONFIG)
    c.propose(1, "a")
    c.run()
    for i in CONFIG.nodes:
        assert c.values(i) == ["a"]
        assert c.committed[i][0].slot == 0
    assert not c.violations


def test_a_later_proposer_adopts_the_accepted_value() -> None:
    # PMS 2.2 P2c: phase 1 reports the accepted value; the new proposer must propose it.
    c = Cluster(PaxosFactory(), CONFIG)
    c.propose(1, "a")
    c.run()
    c.propose(3, "b")  # node 3 already learned: a decided node ignores proposals
    c.run()
    assert all(c.values(i) == ["a"] for i in CONFIG.nodes)
    c2 = Cluster(PaxosFactory(), CONFIG)
    c2.propose(1, "a")
    # let node 2 accept "a" but nobody learn: deliver phase 1, then only the Accept to node 2
    c2.deliver_where(lambda e: isinstance(e.message, Prepare) and e.dst == 2)
    c2.deliver_where(lambda e: isinstance(e.message, Promise))
    c2.deliver_where(lambda e: isinstance(e.message, Accept) and e.dst == 2)
    c2.net.clear()
    c2.crash(1)
    c2.propose(3, "b")
    c2.run()
    assert c2.values(3) == ["a"] and c2.values(2) == ["a"]
    assert not c2.violations


@settings(max_examples=150)
@given(st.data())
def test_competing_proposers_choose_one_value_under_any_delivery_order(data: st.DataObject) -> None:
    c = Cluster(PaxosFactory(), ClusterConfig(nodes=(1, 2, 3), seed=data.draw(st.integers(0, 2**32))))
    proposers = data.draw(st.lists(st.sampled_from((1, 2, 3)), min_size=2, max_size=3, unique=True))
    for p in proposers:
        c.propose(p, f"v{p}")
    for _ in range(data.draw(st.integers(0, 60))):
        action = data.draw(st.sampled_from(("deliver", "deliver", "deliver", "drop", "dup", "tick")))
        if action == "tick":
            c.tick(data.draw(st.sampled_from((1, 2, 3))))
        elif c.net:
            k = data.draw(st.integers(0, len(c.net) - 1))
            if action == "drop":
                c.net.pop(k)
            elif action == "dup":
                c.net.append(c.net[k])
            else:
                c.deliver(k)
        assert not c.violations, (c.violations, c.log)
    # then a calm network, and every node asked to propose (a node that heard nothing has no
    # reason to act otherwise): everyone learns the same proposed value
    for i in (1, 2, 3):
        c.propose(i, "late")
    for _ in range(200):
        if all(c.values(i) for i in (1, 2, 3)):
            break
        c.settle(1)
    learned = {tuple(c.values(i)) for i in (1, 2, 3)}
    assert len(learned) == 1
    (value,) = learned.pop()
    assert value in {f"v{p}" for p in proposers} | {"late"}
    assert not c.violations


def test_promise_and_vote_are_persisted_in_the_ready_that_sends_them() -> None:
    # PMS 2.2: an acceptor remembers its promise and vote even if it fails and restarts.
    node = PaxosNode(2, CONFIG)
    node.step(Envelope(src=1, dst=2, message=Prepare(ballot=Ballot(round=1, node=1))))
    ready = node.ready()
    assert ready.persist == (PromiseRecord(ballot=Ballot(round=1, node=1)),)
    assert [type(e.message) for e in ready.messages] == [Promise]
    node.advance(ready)
    assert not node.ready()
    node.step(Envelope(src=1, dst=2, message=Accept(ballot=Ballot(round=1, node=1), value="a")))
    ready = node.ready()
    assert ready.persist == (VoteRecord(slot=0, ballot=Ballot(round=1, node=1), value="a"),)


def test_a_restored_acceptor_keeps_its_promise_and_vote() -> None:
    high, low = Ballot(round=2, node=3), Ballot(round=1, node=1)
    node = PaxosNode(2, CONFIG)
    node.step(Envelope(src=3, dst=2, message=Prepare(ballot=high)))
    records = node.ready().persist
    restored = PaxosFactory().restore(2, CONFIG, records)
    restored.step(Envelope(src=1, dst=2, message=Accept(ballot=low, value="x")))
    (env,) = restored.ready().messages
    assert env.message == Nack(ballot=low, promised=high)
    restored2 = PaxosFactory().restore(2, CONFIG, (VoteRecord(slot=0, ballot=low, value="x"),))
    restored2.step(Envelope(src=3, dst=2, message=Prepare(ballot=high)))
    (env,) = restored2.ready().messages
    assert env.message == Promise(ballot=high, vote=restored2.vote)
    assert restored2.vote is not None and restored2.vote.value == "x"


def test_a_restarted_proposer_never_reuses_a_round() -> None:
    # PMS 2.5: a proposer remembers the highest-numbered proposal it tried.
    node = PaxosNode(1, CONFIG)
    node.propose("a")
    records = node.ready().persist
    assert RoundRecord(round=1) in records
    again = PaxosFactory().restore(1, CONFIG, records)
    again.propose("b")
    prepares = [e.message for e in again.ready().messages if isinstance(e.message, Prepare)]
    assert prepares and prepares[0].ballot == Ballot(round=2, node=1)


def test_retry_timeouts_are_jittered_and_reproducible() -> None:
    def timeouts(node_id: int, seed: int) -> list[int]:
        node = PaxosNode(node_id, ClusterConfig(nodes=(1, 2, 3), seed=seed, election_ticks=10))
        node.propose("a")
        node.advance(node.ready())
        out = []
        for _ in range(6):
            n = 0
            before = node.inspect().state.ballot  # type: ignore[union-attr]
            while node.inspect().state.ballot == before:  # type: ignore[union-attr]
                node.tick()
                n += 1
            node.advance(node.ready())
            out.append(n)
        return out

    assert timeouts(1, 5) == timeouts(1, 5)
    assert all(10 <= t < 20 for t in timeouts(1, 5))
    assert timeouts(1, 5) != timeouts(2, 5) or timeouts(1, 5) != timeouts(1, 6)


def test_inspect_is_hashable_and_equal_for_equal_states() -> None:
    a, b = PaxosNode(2, CONFIG), PaxosNode(2, CONFIG)
    assert a.inspect() == b.inspect() and hash(a.inspect()) == hash(b.inspect())
    a.step(Envelope(src=1, dst=2, message=Prepare(ballot=Ballot(round=1, node=1))))
    assert a.inspect() != b.inspect()
    b.step(Envelope(src=1, dst=2, message=Prepare(ballot=Ballot(round=1, node=1))))
    assert a.inspect() == b.inspect()
    assert len({a.inspect(), b.inspect()}) == 1


def test_unknown_mutant_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown mutant"):
        PaxosNode(1, ClusterConfig(nodes=(1,), mutant="no-such-thing"))


@pytest.mark.parametrize("n", [3, 5])
def test_message_count_per_decision(n: int) -> None:
    # Prepare, Promise, Accept, Accepted: 4(n-1) (the proposer's own are local); plus n-1 Chosen.
    nodes = tuple(range(1, n + 1))
    c = Cluster(PaxosFactory(), ClusterConfig(nodes=nodes))
    c.propose(1, "a")
    c.run()
    assert c.sent == {"Prepare": n - 1, "Promise": n - 1, "Accept": n - 1, "Accepted": n - 1, "Chosen": n - 1}
