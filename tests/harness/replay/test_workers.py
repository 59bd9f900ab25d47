"""A replay sharded over worker processes (wireproof.harness.replay.workers): the numbers of one process.

Everything the replay reports is compared as JSON (the summary with its
analytics, the plots, the text, the findings in the order a sink sees them)
between one process and several workers.
"""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from wireproof.errors import FixtureError, HarnessError
from wireproof.harness.bench.modbus_traffic import write_modbus_capture
from wireproof.harness.replay import run as run_module
from wireproof.harness.replay import workers as workers_module
from wireproof.harness.replay.events import FlowKey
from wireproof.harness.replay.findings import Finding
from wireproof.harness.replay.run import default_workers, replay
from wireproof.harness.replay.summary import to_json
from wireproof.harness.replay.workers import shard_of

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "captures"


def _everything(path: Path, workers: int, **kw: Any) -> dict[str, Any]:
    seen: list[Finding] = []
    result = replay(path, workers=workers, analytics_process=False, sink=seen.append, **kw)
    document = to_json(result)
    stats = document["stats"]
    assert ("workers" in stats) is (workers > 1)
    stats.pop("workers", None)
    analytics = result.analytics
    return {"json": json.dumps(document, sort_keys=True, default=str),
            "plots": json.dumps(analytics.plots(), sort_keys=True) if analytics is not None else None,
            "text": analytics.text() if analytics is not None else None,
            "sink": [repr(f) for f in seen]}


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 20,000 frames over many connections: exceptions, an orphan response, retransmissions, moving registers
    return write_modbus_capture(tmp_path_factory.mktemp("cap") / "modbus.pcap", 20_000).path


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_give_exactly_the_numbers_of_one_process(capture: Path, workers: int) -> None:
    one = _everything(capture, 1)
    document = json.loads(one["json"])
    # there is something to compare: findings, flows in several shards, value series, anomalies
    assert document["findings_total"] > 0 and document["analytics"]["series"]
    assert len({shard_of(_key(f["flow"]), workers) for f in document["flows"]}) == workers
    assert _everything(capture, workers) == one
    assert not multiprocessing.active_children()


def _key(label: str) -> FlowKey:
    client, server = label.split(" -> ")
    a, b = client.rsplit(":", 1), server.rsplit(":", 1)
    return FlowKey(transport="tcp", client=(a[0], int(a[1])), server=(b[0], int(b[1])))


def test_the_flows_table_and_findings_limits_apply_to_the_merge(capture: Path) -> None:
    kw: dict[str, Any] = {"max_findings": 7}
    assert _everything(capture, 3, **kw) == _everything(capture, 1, **kw)
    # max_flows also makes the engine flush the analytics' buffers early when more flows than that hold
    # some (all 32 flows here): a per-worker point (the module docstring), so this part is without analytics
    kw = {"max_findings": 7, "max_flows": 3, "analytics": False}
    one = _everything(capture, 1, **kw)
    assert json.loads(one["json"])["flows_dropped"] == 29
    assert _everything(capture, 3, **kw) == one


def test_without_analytics_and_without_heuristics(capture: Path) -> None:
    kw = {"analytics": False, "heuristics": False}
    assert _everything(capture, 2, **kw) == _everything(capture, 1, **kw)


def test_a_damaged_capture_gives_the_same_damage_and_findings(tmp_path: Path, capture: Path) -> None:
    broken = tmp_path / "cut.pcap"
    broken.write_bytes(capture.read_bytes()[: 24 + 5_000 * 80 + 7])  # cut inside a record
    one = _everything(broken, 1)
    assert json.loads(one["json"])["damage"]["kind"] == "truncated"
    assert _everything(broken, 3) == one


@pytest.mark.parametrize("name", ["modbus/ITI/modbus_test_data_part2.pcap",
                                  "modbus/zeek/modbus-and-non-modbus-p502.pcap",
                                  "opcua/icsnpp-opcua-binary/pcaps/opcua_with-gap.pcap"])
def test_public_captures_give_the_same_numbers(name: str) -> None:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the project's shared folder)")
    assert _everything(path, 3) == _everything(path, 1)


def test_progress_is_reported_once_to_the_end(capture: Path) -> None:
    calls: list[tuple[int, int, int]] = []
    replay(capture, workers=2, on_progress=lambda done, size, frames: calls.append((done, size, frames)))
    assert calls and calls[-1] == (capture.stat().st_size, capture.stat().st_size, 20_000)
    assert [c[2] for c in calls] == sorted(c[2] for c in calls)


def test_a_shard_holds_both_directions_of_a_flow() -> None:
    a, b = ("10.0.0.1", 49152), ("10.0.0.5", 502)
    for n in (2, 3, 7):
        assert shard_of(FlowKey(transport="tcp", client=a, server=b), n) == \
            shard_of(FlowKey(transport="tcp", client=b, server=a), n)
    assert {shard_of(FlowKey(transport="tcp", client=("10.0.0.1", p), server=b), 4) for p in range(100)} == \
        {0, 1, 2, 3}


def test_a_failing_worker_is_a_harness_error_naming_it(capture: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: Any) -> dict[str, Any]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(workers_module, "_replay_shard", broken)  # the forked workers inherit it
    with pytest.raises(HarnessError, match=r"replay worker \d failed: RuntimeError: disk on fire"):
        replay(capture, workers=2)
    assert not multiprocessing.active_children()


def test_a_file_that_is_no_capture_is_a_fixture_error(tmp_path: Path) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(b"not a capture at all" * 10)
    with pytest.raises(FixtureError):
        replay(path, workers=2)
    assert not multiprocessing.active_children()


def test_default_workers(capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_module, "ANALYTICS_PROCESS_BYTES", capture.stat().st_size)
    for cores, expected in ((1, 1), (2, 1), (3, 2), (8, 7)):
        monkeypatch.setattr(run_module, "_cores", lambda cores=cores: cores)
        assert default_workers(capture) == expected
    monkeypatch.setattr(run_module, "ANALYTICS_PROCESS_BYTES", capture.stat().st_size + 1)
    assert default_workers(capture) == 1  # a small capture: one process


def test_the_command_line_option(capture: Path) -> None:
    import contextlib
    import io

    from wireproof.harness.cli import main

    outputs = []
    for workers in ("1", "2"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["replay", str(capture), "--json", "--workers", workers])
        document = json.loads(out.getvalue())
        document["stats"].pop("workers", None)
        outputs.append((code, document))
    assert outputs[0] == outputs[1] and outputs[0][0] == 1  # the capture has error findings: exit 1
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["replay", str(capture), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in err.getvalue()
