"""Debian's zookeeper as an external subject: follower reads are stale without sync.

ZooKeeper Programmer's Guide, "Consistency Guarantees": writes are
linearizable, reads are served by the client's own server and may be stale
unless the client calls ``sync()`` first. With a follower's link from the
leader clogged (it keeps serving its clients; the leader and the other
follower still commit), the checker must find the follower-read history
non-linearizable and print the witness; with ``sync()`` before each read the
same scenario must be linearizable.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from wireproof.consensus.check.history import Operation, format_operation
from wireproof.harness.consensus.subjects import kill_restart_nemesis, run_workload
from wireproof.harness.consensus.zookeeper import (
    ZooKeeperEnsemble,
    demonstrate_stale_reads,
    zookeeper_available,
)

MISSING = zookeeper_available()
pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(MISSING is not None, reason=f"ZooKeeper subject unavailable: {MISSING} "
                       "(apt-get install zookeeper; pip install kazoo)"),
]


@pytest.fixture(scope="module")
def ensemble() -> Iterator[ZooKeeperEnsemble]:
    with ZooKeeperEnsemble(3) as z:
        yield z


def test_one_leader_and_kazoo_operations(ensemble: ZooKeeperEnsemble) -> None:
    modes = sorted(ensemble.mode(m) for m in ensemble.members)
    assert modes == ["follower", "follower", "leader"]
    client = ensemble.client(ensemble.leader(), timeout=5)
    try:
        assert client.read("basic") is None
        client.write("basic", 1)
        assert client.read("basic") == 1
        assert client.cas("basic", 1, 2) is True
        assert client.cas("basic", 1, 3) is False
        assert client.read("basic") == 2
    finally:
        client.close()


def stale_reads(history: tuple[Operation, ...]) -> list[Operation]:
    """Reads of a value older than the last write completed before they began (writes are sequential)."""
    writes = sorted((op for op in history if op.kind == "write" and op.outcome == "ok"),
                    key=lambda op: op.invoke)
    stale = []
    for read in (op for op in history if op.kind == "read" and op.outcome == "ok"):
        done = [i for i, w in enumerate(writes) if w.complete is not None and w.complete < read.invoke]
        if done and read.result not in {w.value for w in writes[done[-1]:]}:
            stale.append(read)
    return stale


def test_follower_reads_without_sync_are_not_linearizable(
        ensemble: ZooKeeperEnsemble, record_property: pytest.RecordProperty) -> None:
    demo = demonstrate_stale_reads(ensemble, sync=False, max_tries=5)
    record_property("zookeeper_stale_read_tries", demo.tries)
    print(f"zookeeper without sync: {demo.tries} trial(s), {demo.duration:.2f} s; {demo.verdict.describe()}")
    assert not demo.linearizable, "\n".join(format_operation(op) for op in demo.history)
    assert demo.verdict.witness
    assert stale_reads(demo.history), "the violation should come from a follower read of an old value"


def test_follower_reads_with_sync_are_linearizable(ensemble: ZooKeeperEnsemble) -> None:
    demo = demonstrate_stale_reads(ensemble, sync=True, max_tries=3)
    print(f"zookeeper with sync: {demo.tries} trial(s), {demo.duration:.2f} s; {demo.verdict.describe()}")
    assert demo.tries == 3
    assert demo.linearizable, demo.verdict.describe()
    assert not stale_reads(demo.history)
    reads = [op for op in demo.history if op.kind == "read"]
    assert reads[-1].result == max(op.value for op in demo.history if op.kind == "write")


def test_synced_reads_under_follower_kills_are_linearizable(ensemble: ZooKeeperEnsemble,
                                                            tmp_path: Path) -> None:
    leader = ensemble.leader()
    followers = [m for m in ensemble.members if m != leader]
    ensemble.sync_reads = True
    try:
        result = run_workload(ensemble, clients=[leader, *followers, *followers], keys=("p", "q"),
                              max_ops=4000, duration=3.0, op_timeout=2.0, seed=7,  # 3 s: time for kills
                              save=tmp_path / "zookeeper.jsonl",
                              nemesis=kill_restart_nemesis(members=followers[:1], interval=0.6,
                                                           sig=signal.SIGKILL, seed=7))
    finally:
        ensemble.sync_reads = False
    print(f"zookeeper synced: {len(result.history)} ops {dict(result.counts)} in {result.duration:.2f} s, "
          f"faults: {[(f.action, f.member) for f in result.faults]}; {result.verdict.describe()}")
    assert any(f.action.startswith("kill") for f in result.faults)
    assert result.counts["ok"] > 20
    assert result.linearizable, result.verdict.describe()
