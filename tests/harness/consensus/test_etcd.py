"""Debian's etcd-server as an external subject: a 3-member loopback cluster under member kills.

etcd documents Range as linearizable by default ("API guarantees"); the
workbench drives it with concurrent clients while SIGKILL-ing and restarting
members, and the linearizability checker must accept the history. The
checker is also shown to reject the same history once one read is made
stale, so the verdict is not vacuous.
"""

from __future__ import annotations

import dataclasses
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from wireproof.consensus.check.history import format_operation
from wireproof.consensus.check.lincheck import check_linearizable
from wireproof.errors import TransportError
from wireproof.harness.consensus.etcd import EtcdCluster, etcd_binary
from wireproof.harness.consensus.histories import load_history
from wireproof.harness.consensus.subjects import kill_restart_nemesis, run_workload

pytestmark = [
    pytest.mark.peer,
    pytest.mark.skipif(etcd_binary() is None, reason="etcd binary absent (apt-get install etcd-server)"),
]


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    with EtcdCluster(3) as c:
        yield c


def test_put_range_txn_through_the_json_gateway(cluster: EtcdCluster) -> None:
    client = cluster.client("m1", timeout=5)
    assert client.read("basic") is None
    client.write("basic", 3)
    assert cluster.client("m2", timeout=5).read("basic") == 3
    assert client.cas("basic", 3, 4) is True
    assert client.cas("basic", 3, 5) is False
    assert cluster.client("m3", timeout=5, serializable=True).read("basic") in (3, 4)
    assert client.read("basic") == 4


def test_concurrent_clients_with_member_kills_are_linearizable(
        cluster: EtcdCluster, record_property: pytest.RecordProperty, tmp_path: Path) -> None:
    result = run_workload(cluster, clients=["m1", "m2", "m3"] * 2, keys=("a", "b", "c"),
                          max_ops=3000, duration=3.0, op_timeout=1.0, seed=4, save=tmp_path / "etcd.jsonl",
                          nemesis=kill_restart_nemesis(interval=0.4, sig=signal.SIGKILL, seed=4))
    assert load_history(tmp_path / "etcd.jsonl", format="wireproof") == result.history
    record_property("etcd_ops", len(result.history))
    record_property("etcd_faults", len(result.faults))
    print(f"etcd: {len(result.history)} ops {dict(result.counts)} in {result.duration:.2f} s, "
          f"faults: {[(f.action, f.member) for f in result.faults]}")
    assert any(f.action.startswith("kill") for f in result.faults)
    assert result.counts["ok"] > 50
    assert all(cluster.servers[m].running for m in cluster.members)
    print(result.verdict.describe())
    assert result.linearizable, result.verdict.describe()

    # The same history with one read of a value nobody wrote must be rejected: the check can fail.
    i = max(i for i, op in enumerate(result.history) if op.kind == "read" and op.outcome == "ok")
    bad = list(result.history)
    bad[i] = dataclasses.replace(bad[i], result=-1)
    verdict = check_linearizable(tuple(bad), model="kv")
    print(verdict.describe())
    assert verdict.linearizable is False
    assert bad[i] in verdict.witness, [format_operation(op) for op in verdict.witness]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_processes_and_data_are_gone_after_the_run() -> None:
    with EtcdCluster(3) as c:
        pids = [c.servers[m].pid for m in c.members]
        workdir = c.workdir
        assert all(pid is not None and _alive(pid) for pid in pids)
    assert not any(pid is not None and _alive(pid) for pid in pids)
    assert not workdir.exists()


def test_a_server_that_exits_fails_the_start_with_its_log() -> None:
    cluster = EtcdCluster(3, binary="/bin/false", start_timeout=5)
    with pytest.raises(TransportError, match="m1 exited"):
        cluster.start()
    assert not cluster.workdir.exists()
    assert not any(s.running for s in cluster.servers.values())
