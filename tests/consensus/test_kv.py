"""The replicated key-value store on Multi-Paxos: semantics, replies, deduplication."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.consensus.api import ClusterConfig, NotLeader, Reply
from wireproof.consensus.kv import KvCommand, KvFactory, KvStateMachine
from wireproof.consensus.paxos import NOOP

from .lockstep import Cluster

CONFIG = ClusterConfig(nodes=(1, 2, 3), seed=11, window=4)


def cmd(rid: int, op: str, key: str = "k", value: object = None, expected: object = None,
        client: str = "c1") -> KvCommand:
    return KvCommand(request_id=rid, client=client, op=op, key=key, value=value,  # type: ignore[arg-type]
                     expected=expected)


def test_state_machine_read_write_cas() -> None:
    sm = KvStateMachine()
    assert sm.apply(cmd(1, "read")) is None
    assert sm.apply(cmd(2, "write", value=5)) == "ok"
    assert sm.apply(cmd(3, "read")) == 5
    assert sm.apply(cmd(4, "cas", value=6, expected=4)) == "fail"
    assert sm.apply(cmd(5, "cas", value=6, expected=5)) == "ok"
    assert sm.apply(cmd(6, "read")) == 6
    assert sm.apply(cmd(7, "read", key="other")) is None
    assert sm.apply(NOOP) is None
    assert sm.data == {"k": 6}


def test_state_machine_applies_a_request_once() -> None:
    sm = KvStateMachine()
    assert sm.apply(cmd(1, "write", value="a")) == "ok"
    assert sm.apply(cmd(2, "cas", value="b", expected="a")) == "ok"
    assert sm.apply(cmd(3, "write", value="c", client="c2")) == "ok"
    # a retried request chosen again later: same result, no second effect
    assert sm.apply(cmd(2, "cas", value="b", expected="a")) == "ok"
    assert sm.apply(cmd(1, "write", value="a")) == "ok"
    assert sm.data == {"k": "c"}
    # the same request id from another client is another request
    assert sm.apply(cmd(1, "read", client="c2")) == "c"
    again = KvStateMachine()
    for c in (cmd(1, "write", value="a"), cmd(2, "cas", value="b", expected="a"),
              cmd(3, "write", value="c", client="c2"), cmd(1, "read", client="c2")):
        again.apply(c)
    assert again.snapshot() == sm.snapshot() and hash(again.snapshot()) == hash(sm.snapshot())
    assert KvStateMachine().snapshot() != sm.snapshot()


def elected(config: ClusterConfig = CONFIG) -> Cluster:
    c = Cluster(KvFactory(), config)
    for _ in range(100):
        if c.nodes[1].role != "follower":
            break
        c.tick(1)
    c.run()
    assert c.nodes[1].role == "leader"
    return c


def test_only_the_receiving_node_replies_after_apply() -> None:
    c = elected()
    c.propose(1, cmd(1, "write", value="x"))
    assert c.replies[1] == []  # not before it is chosen and applied
    c.run()
    c.propose(1, cmd(2, "read"))
    c.propose(1, cmd(3, "cas", value="y", expected="nope"))
    c.run()
    assert c.replies[1] == [Reply(request_id=1, result="ok"), Reply(request_id=2, result="x"),
                            Reply(request_id=3, result="fail")]
    c.settle(3)
    assert c.replies[2] == c.replies[3] == []
    assert all(c.nodes[i].machine.data == {"k": "x"} for i in (1, 2, 3))
    with pytest.raises(NotLeader) as excinfo:
        c.propose(2, cmd(4, "read"))
    assert excinfo.value.leader == 1
    assert 4 not in c.nodes[2].inspect().state.app[1]  # type: ignore[union-attr]


def test_a_forwarding_follower_answers_its_client() -> None:
    c = elected(ClusterConfig(nodes=(1, 2, 3), seed=11, options=(("forward", True),)))
    c.propose(2, cmd(1, "write", value="v"))
    c.run()
    c.settle(3)
    assert c.replies[2] == [Reply(request_id=1, result="ok")]
    assert c.replies[1] == []


def test_a_duplicate_request_is_applied_once() -> None:
    c = elected()
    c.propose(1, cmd(1, "write", value="a"))
    c.propose(1, cmd(2, "write", value="b", client="c2"))
    c.propose(1, cmd(1, "write", value="a"))  # the client's retry, chosen in a later slot
    c.settle(3)
    assert c.nodes[2].machine.data == {"k": "b"}
    assert len(c.nodes[2].log) == 3


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(("read", "write", "cas")), st.sampled_from("ab"),
                          st.integers(0, 3), st.integers(0, 3)), max_size=25))
def test_sequential_clients_see_a_register_per_key(ops: list[tuple[str, str, int, int]]) -> None:
    # One operation at a time: every reply must match a plain dict applying them in order.
    c = elected()
    model: dict[str, int] = {}
    for rid, (op, key, value, expected) in enumerate(ops):
        c.propose(1, cmd(rid, op, key=key, value=value, expected=expected))
        c.run()
        if op == "read":
            want: object = model.get(key)
        elif op == "write" or model.get(key) == expected:
            model[key] = value
            want = "ok"
        else:
            want = "fail"
        assert c.replies[1][-1] == Reply(request_id=rid, result=want)
    assert not c.violations
