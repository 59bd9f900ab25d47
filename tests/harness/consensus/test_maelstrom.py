"""The Maelstrom protocol both ways: our node under a Maelstrom-like network, external nodes under ours."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.consensus.load import to_history
from wireproof.harness.consensus.maelstrom import MaelstromNode, MaelstromSubject, NetFaults

HERE = Path(__file__).parent
OUR_NODE = [sys.executable, "-m", "wireproof.harness.consensus.maelstrom", "--algorithm", "multipaxos"]
BROKEN_NODE = [sys.executable, str(HERE / "broken_maelstrom_node.py")]


def check(records: Any) -> Any:
    from wireproof.consensus.check.lincheck import check_linearizable

    return check_linearizable(to_history(records), model="kv")


def test_our_multipaxos_nodes_under_maelstrom_are_linearizable(tmp_path: Path) -> None:
    with MaelstromSubject(OUR_NODE, nodes=3, seed=4, log_dir=tmp_path) as subject:
        result = subject.run_lin_kv(clients=3, ops=120, timeout=1.5)
    counts = result.counts()
    assert counts["ok"] > 60, counts
    assert subject.counts["node_messages"] > 0
    verdict = check(result.records)
    assert verdict.linearizable, verdict.witness


def test_our_nodes_with_reordering_network_are_linearizable(tmp_path: Path) -> None:
    # (No drops: Multi-Paxos does not re-send an Accept whose Accepted replies were all lost, so a
    # run with drops stalls until timeouts — safe, but slow.)
    faults = NetFaults(delay=(0.0, 0.003))
    with MaelstromSubject(OUR_NODE, nodes=3, faults=faults, seed=4, log_dir=tmp_path) as subject:
        result = subject.run_lin_kv(clients=3, ops=120, timeout=1.5)
    verdict = check(result.records)
    assert verdict.linearizable, verdict.witness


def test_a_partitioned_leader_still_gives_linearizable_history(tmp_path: Path) -> None:
    faults = NetFaults()
    with MaelstromSubject(OUR_NODE, nodes=3, faults=faults, seed=5, log_dir=tmp_path) as subject:
        first = subject.run_lin_kv(clients=2, ops=30, timeout=1.0)
        faults.partition(["n0"], ["n1", "n2"])
        second = subject.run_lin_kv(clients=2, ops=30, timeout=1.0)
        faults.heal()
    # Each run's times count from its own start: re-base the second onto the first's clock.
    records = first.records + second.records
    shift = second.started - first.started
    for r in second.records:
        r.invoke += shift
        if r.complete is not None:
            r.complete += shift
    assert check(records).linearizable


def test_a_non_replicating_external_node_is_caught() -> None:
    with MaelstromSubject(BROKEN_NODE, nodes=3, seed=6) as subject:
        result = subject.run_lin_kv(clients=3, ops=150, keys=(0,), timeout=1.0)
    assert result.counts()["ok"] > 100
    verdict = check(result.records)
    assert not verdict.linearizable
    assert verdict.witness


def run_node(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = io.StringIO()
    node = MaelstromNode(algorithm="multipaxos", out=out)
    for msg in lines:
        node.handle(json.dumps(msg))
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_init_and_errors_in_process() -> None:
    replies = run_node([
        {"src": "c1", "dest": "n0", "body": {"type": "read", "msg_id": 1, "key": 0}},
        {"src": "c0", "dest": "n0", "body": {"type": "init", "msg_id": 2, "node_id": "n0",
                                             "node_ids": ["n0", "n1", "n2"]}},
        {"src": "c1", "dest": "n0", "body": {"type": "echo", "msg_id": 3}},
        {"src": "c1", "dest": "n0", "body": {"type": "read", "msg_id": 4, "key": 0}},
        {"src": "n1", "dest": "n0", "body": {"type": "wireproof", "msg_id": 5, "msg": "not base64!"}},
    ])
    by_reply = {r["body"]["in_reply_to"]: r for r in replies if "in_reply_to" in r["body"]}
    assert by_reply[1]["body"]["code"] == 11
    assert by_reply[2]["body"]["type"] == "init_ok" and by_reply[2]["src"] == "n0"
    assert by_reply[3]["body"]["code"] == 10
    assert by_reply[4]["body"]["code"] == 11  # no leader yet: temporarily unavailable
    assert all(r["dest"] in ("c0", "c1") for r in replies)  # the bad peer message was dropped


def test_single_node_answers_reads_writes_and_cas() -> None:
    out = io.StringIO()
    node = MaelstromNode(algorithm="multipaxos", out=out)
    node.handle(json.dumps({"src": "c0", "dest": "n0", "body": {"type": "init", "msg_id": 1, "node_id": "n0",
                                                                "node_ids": ["n0"]}}))
    for _ in range(100):  # a lone node elects itself after its election timeout
        node.tick()
    cas = {"type": "cas", "key": 1, "from": 3, "to": 4}
    bodies = [{"type": "read", "key": 1}, cas, {"type": "write", "key": 1, "value": 3}, cas,
              {"type": "read", "key": 1}]
    for i, body in enumerate(bodies, start=10):
        node.handle(json.dumps({"src": "c1", "dest": "n0", "body": {**body, "msg_id": i}}))
        for _ in range(3):
            node.tick()
    replies = {r["body"]["in_reply_to"]: r["body"] for r in map(json.loads, out.getvalue().splitlines())}
    assert replies[10]["code"] == 20
    assert replies[11]["code"] == 22
    assert replies[12]["type"] == "write_ok"
    assert replies[13]["type"] == "cas_ok"
    assert replies[14] == {"type": "read_ok", "value": 4, "in_reply_to": 14, "msg_id": replies[14]["msg_id"]}


@pytest.mark.parametrize("command", [[sys.executable, "-c", "import sys; sys.stdin.read()"]])
def test_a_node_that_never_answers_init_times_out(command: list[str]) -> None:
    from wireproof.errors import TransportTimeout

    with pytest.raises(TransportTimeout, match="no init_ok"):
        MaelstromSubject(command, nodes=1, init_timeout=0.5).__enter__()
