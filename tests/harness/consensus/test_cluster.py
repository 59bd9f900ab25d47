"""Real mode: node processes over TCP on loopback, clients, crashes, the linearizability verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wireproof.errors import HarnessError
from wireproof.harness.cli import main
from wireproof.harness.consensus.cluster import FileLog, LocalCluster, load_algorithm
from wireproof.harness.consensus.load import LoadSpec, percentile, run_cluster, run_load
from wireproof.harness.consensus.wire import default_codec

HERE = str(Path(__file__).parent)  # toy_nodes.py, imported by the node processes


def test_multipaxos_cluster_is_linearizable(tmp_path: Path) -> None:
    report, records = run_cluster("multipaxos", 3, LoadSpec(clients=3, ops=150, seed=1), tmp_path)
    assert report.linearizable is True, report.witness
    assert len(records) == 150
    assert report.counts["ok"] > 100
    # Multi-Paxos: at least 2(n-1) messages per committed entry at steady state.
    assert report.messages_per_command is not None and report.messages_per_command >= 4
    assert report.committed >= report.counts["ok"]


def test_leader_killed_and_restarted_mid_run_stays_linearizable(tmp_path: Path) -> None:
    report, _ = run_cluster("multipaxos", 3, LoadSpec(clients=3, ops=150, seed=2, timeout=1.5),
                                  tmp_path, kill="leader")
    assert report.killed, "the fault never fired"
    assert report.linearizable is True, report.witness
    assert report.counts["ok"] > 50
    assert (tmp_path / f"node-{report.killed[0]}.log").stat().st_size > 0


def test_the_check_can_fail_on_a_non_replicating_node(tmp_path: Path) -> None:
    report, _ = run_cluster("toy_nodes:LocalFactory", 3, LoadSpec(clients=6, ops=200, keys=("x",), seed=3),
                            tmp_path, pythonpath=[HERE])
    assert report.linearizable is False
    assert report.witness


def test_restarted_node_recovers_its_persisted_log(tmp_path: Path) -> None:
    with LocalCluster(3, tmp_path, algorithm="toy_nodes:SoloFactory", pythonpath=[HERE]) as cluster:
        def addresses() -> dict[int, tuple[str, int]]:
            return cluster.addresses

        # One client: its writes are sequential, so the last one to complete is
        # the last one applied (with two, completion order can differ from it).
        spec = LoadSpec(clients=1, ops=40, kinds=("write",), keys=("x",))
        first = run_load(addresses, load_adapter(), spec)
        assert first.counts()["ok"] == 40
        last_write = max((r for r in first.records), key=lambda r: r.complete or 0).value
        cluster.kill(0)
        cluster.restart(0)
        again = run_load(addresses, load_adapter(), LoadSpec(clients=1, ops=1, kinds=("read",), keys=("x",)))
        assert again.records[0].outcome == "ok"
        assert again.records[0].result == last_write
        assert cluster.stats()[0]["proposed"] == 1  # a fresh process


def load_adapter():  # type: ignore[no-untyped-def]
    from wireproof.consensus.sim.clients import PlainAdapter

    return PlainAdapter()


def test_file_log_drops_a_torn_tail(tmp_path: Path) -> None:
    codec = default_codec()
    log = FileLog(tmp_path / "n.log", codec)
    log.append([("a", 1), ("b", 2)])
    log.close()
    with (tmp_path / "n.log").open("ab") as f:
        f.write(codec.frame(("c", 3))[:-1])  # died mid-write
    again = FileLog(tmp_path / "n.log", codec)
    assert again.records == [("a", 1), ("b", 2)]
    again.append([("d", 4)])
    again.close()
    final = FileLog(tmp_path / "n.log", codec)
    final.close()
    assert final.records == [("a", 1), ("b", 2), ("d", 4)]


def test_unknown_algorithm_is_a_harness_error() -> None:
    with pytest.raises(HarnessError, match="unknown algorithm"):
        load_algorithm("raft")
    with pytest.raises(HarnessError, match="cannot load"):
        load_algorithm("wireproof.consensus.kv:NoSuchFactory")


def test_percentile() -> None:
    assert percentile([], 50) == 0.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0


def test_cli_cluster_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    history = tmp_path / "h.jsonl"
    code = main(["consensus", "cluster", "multipaxos", "--nodes", "3", "--ops", "40", "--json",
                 "--history", str(history), "--data-dir", str(tmp_path / "data")])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["linearizable"] is True
    assert sum(out["counts"].values()) == 40
    assert history.read_text().strip()

