"""The replay with its analytics in a second process: the same result, and no process left behind.

:func:`wireproof.harness.replay.run.replay` hands the analytics to an
:class:`~wireproof.harness.replay.analytics_process.AnalyticsProcess` for big
captures (or when asked); everything it reports must be exactly what the
in-process analytics report, and the child must be gone however the replay
ends.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
from pathlib import Path

import pytest

from wireproof.harness.bench.modbus_traffic import write_modbus_capture
from wireproof.harness.replay import run as engine
from wireproof.harness.replay.run import replay
from wireproof.harness.replay.summary import to_json


def _document(path: Path, process: bool) -> tuple[str, str, list[str]]:
    result = replay(path, analytics_process=process)
    document = to_json(result)
    stats = document["stats"]
    assert ("analytics_process" in stats) is process
    stats.pop("analytics_process", None)
    assert result.analytics is not None
    return (json.dumps(document, sort_keys=True, default=str),
            json.dumps(result.analytics.plots(), sort_keys=True), result.analytics.text())


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 30,000 frames: exceptions, an orphan response, retransmissions, moving registers
    return write_modbus_capture(tmp_path_factory.mktemp("cap") / "modbus.pcap", 30_000).path


def test_same_result_with_the_analytics_in_a_process(capture: Path) -> None:
    in_process = _document(capture, False)
    assert json.loads(in_process[0])["analytics"]["series"]  # the registers are there to compare
    assert _document(capture, True) == in_process
    assert not multiprocessing.active_children()


def test_big_captures_use_a_process_by_default(capture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert "analytics_process" not in replay(capture).stats  # 2.4 MB: below the threshold
    monkeypatch.setattr(engine, "ANALYTICS_PROCESS_BYTES", capture.stat().st_size)
    stats = replay(capture).stats
    assert stats["analytics_process"]["peak_rss_kib"] > 0
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda pid: {0}, raising=False)  # one core
    assert "analytics_process" not in replay(capture).stats
    assert "analytics_process" not in replay(capture, analytics=False, analytics_process=True).stats


def test_the_process_is_gone_when_the_replay_fails(tmp_path: Path, capture: Path) -> None:
    before = gc.get_threshold()

    def fail(done: int, size: int, frames: int) -> None:
        raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError, match="gave up"):
        replay(capture, analytics_process=True, on_progress=fail)
    assert not multiprocessing.active_children()
    assert gc.get_threshold() == before  # the loop's collector setting is undone, even so


def test_a_damaged_capture_keeps_its_analytics(tmp_path: Path, capture: Path) -> None:
    broken = tmp_path / "broken.pcap"
    data = capture.read_bytes()
    # a record that claims 300 MB, after 10,000 good frames' worth of bytes: damage mid-file
    cut = 24 + 10_000 * 80
    pos, frames = 24, 0
    while pos < cut:
        pos += 16 + int.from_bytes(data[pos + 8:pos + 12], "big")
        frames += 1
    broken.write_bytes(data[:pos + 8] + (300_000_000).to_bytes(4, "big") + data[pos + 12:pos + 4096])
    result = replay(broken, analytics_process=True)
    assert result.damage is not None and result.damage.kind == "corrupt" and "claims" in result.damage.reason
    assert (result.damage.offset, result.frames) == (pos, frames)
    assert result.analytics is not None and "analytics_process" in result.stats
    assert not multiprocessing.active_children()


def test_the_collector_setting_is_restored(capture: Path) -> None:
    original = gc.get_threshold()
    gc.set_threshold(1234, 11, 12)
    try:
        replay(capture, analytics_process=False)
        assert gc.get_threshold() == (1234, 11, 12)
    finally:
        gc.set_threshold(*original)
