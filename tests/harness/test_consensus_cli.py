"""``wireproof consensus run`` and ``wireproof bench consensus`` end to end (in process)."""

from __future__ import annotations

import json

import pytest

from wireproof.harness import cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_paxos_passes_three_seeds(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "consensus", "run", "paxos", "--seeds", "3")
    assert code == 0, out
    assert "seeds 0..2 (3 runs)" in out
    assert "verdict: ok" in out
    assert "delivered messages/s" in out


def test_kv_passes_with_json_stats(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "consensus", "run", "kv", "--seeds", "2", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["ok"] is True and summary["runs"] == 2
    assert summary["stats"]["committed_slots"] > 0 and summary["stats"]["delivered"] > 0
    assert summary["delivered_per_second"] > 0


@pytest.mark.parametrize("algorithm", ["kv", "multipaxos"])
def test_half_quorum_mutant_fails_with_a_seed(capsys: pytest.CaptureFixture[str], algorithm: str) -> None:
    code, out, _ = run(capsys, "consensus", "run", algorithm, "--mutant", "half-quorum", "--seeds", "20")
    assert code == 1
    assert "verdict: FAILED at seed " in out
    assert "fault plan:" in out and "trace (last" in out
    assert "reproduce: wireproof consensus run" in out


def test_the_same_mutant_fails_the_same_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "consensus", "run", "kv", "--mutant", "half-quorum", "--seeds", "20", "--json")
    assert code == 1
    failure = json.loads(out)["failure"]
    assert isinstance(failure["seed"], int) and failure["violation"] and failure["trace_tail"]


@pytest.mark.parametrize("argv", [["--mutant", "no-such"], ["--faults", "bogus"], ["--seeds", "0"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, _, err = run(capsys, "consensus", "run", "paxos", *argv)
    assert code == 2 and err


def test_bench_consensus_quick_json_meets_the_multipaxos_minimum(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bench", "consensus", "--quick", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["schema"] == "wireproof.bench.consensus/1"
    costs = {(c["algorithm"], c["nodes"]): c for c in report["costs"]}
    assert set(costs) == {("multipaxos", 3), ("multipaxos", 5), ("paxos", 3), ("paxos", 5)}
    for n in (3, 5):
        mp = costs[("multipaxos", n)]
        assert mp["messages_per_command"] == mp["min_messages"] == 2 * (n - 1)
        assert mp["delays_per_command"] == mp["min_delays"] == 2
        assert mp["by_type"] == {"Accept": n - 1, "Accepted": n - 1}
        px = costs[("paxos", n)]
        assert px["messages_per_command"] == px["min_messages"] == 4 * (n - 1)
        assert px["delays_per_command"] == px["min_delays"] == 4
    assert all(tp["delivered"] > 0 and tp["messages_per_second"] > 0 for tp in report["sim_throughput"])
    assert report["lincheck"] is None and report["lincheck_note"]


def test_bench_consensus_text(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bench", "consensus", "--quick")
    assert code == 0
    assert "multipaxos    3      4.00        4    2.00        2" in out
    assert "delivered messages/s" in out


def test_bench_consensus_reports_lincheck_scaling(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "bench", "consensus", "--quick", "--json")
    assert code == 0
    [row] = json.loads(out)["lincheck_scaling"]  # --quick: the smallest size only
    assert row["operations"] == 10_000 and row["verdict"] == "linearizable"
    assert row["seconds"] > 0 and row["explored"] > 0 and row["peak_rss_growth_mb"] >= 0
    code, out, _ = run(capsys, "bench", "consensus", "--quick")
    assert "lincheck: 10,000 operations (generated, one key) linearizable in " in out
