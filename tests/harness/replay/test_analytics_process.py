"""The analytics in a child process: identical results, failures reported, never a hang."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wireproof.errors import HarnessError
from wireproof.harness.bench.modbus_traffic import write_modbus_capture
from wireproof.harness.replay.analytics import Analytics, BlockKey, ValueBuffer
from wireproof.harness.replay.analytics_process import AnalyticsProcess
from wireproof.harness.replay.run import replay

T0 = 1_700_000_000.0
BASE = "10.0.0.5:502 u1 hr"
Call = tuple[str, tuple[Any, ...]]


def _synthetic() -> Iterator[Call]:
    """Several flows, overlapping register blocks, a step change, a non-finite sample."""
    def at(i: int) -> float:
        return T0 + i * 0.01 + (2.0 if i >= 2500 else 0.0)  # a stall: timing anomalies

    for i in range(3000):
        t = at(i)
        level = 1000 if i < 1800 else 1400  # a step: value anomalies
        if i % 40 == 39:
            for f in range(3):
                ts = [at(i - 39 + k) + f * 1e-3 for k in range(40)]
                yield "frame_batch", (f"flow{f}", "modbus-tcp", ts, [12 + (k + f) % 5 for k in range(40)])
                yield "message_batch", (f"flow{f}", ts[::2])
        yield "values", (BASE, 40, t, (level + i % 5, 7, i % 3))
        if i % 3 == 0:
            yield "values", (BASE, 41, t, (7, i % 3, 500 + i % 11, 0))  # overlaps hr[41], hr[42]
        if i % 7 == 0:
            yield "values", (f"10.0.0.{6 + i % 4}:502 u1 ir", i % 5, t, tuple(range(i % 2, 9)))
        if i % 50 == 0:
            yield "value", ("10.0.0.5:502 u1 co[3]", t, float(i % 2))
    yield "values", (BASE, 40, math.nan, (1, 2, 3))
    yield "values", (BASE, 40, T0 + 40.0, (1.0, math.inf, 3.0))
    yield "value", ("x", T0 + 40.0, math.nan)
    yield "values", (BASE, 40, T0 + 41.0, ())


def _feed(target: Any, calls: Iterator[Call] | list[Call]) -> None:
    for name, args in calls:
        getattr(target, name)(*args)


def _results(a: Analytics) -> tuple[str, Any, list[str]]:
    return json.dumps(a.summary(), sort_keys=True), a.plots(), a.text()


PARAMS: dict[str, Any] = {"batch": 16, "max_buffered": 100, "max_series": 12, "warmup": 10}


class _CountingBuffer(ValueBuffer):
    flushes_of_all = 0

    def flush(self) -> None:
        self.flushes_of_all += 1
        super().flush()


def test_the_synthetic_feed_triggers_every_flush() -> None:
    flushed: list[int] = []
    opened: list[BlockKey] = []
    buffer = _CountingBuffer(lambda _key, times, _rows: flushed.append(len(times)), batch=16,
                             max_buffered=100, max_keys=12, opened=opened.append)
    rows = [args for name, args in _synthetic() if name == "values" and args[3] and math.isfinite(args[2])]
    for args in rows:
        buffer.add(*args)
    assert buffer.flushes_of_all > 10  # max_buffered reached
    assert 16 in flushed  # a block reached batch
    assert len(opened) > len(set(opened)) > 12  # keys forgotten (beyond max_keys) and seen again
    buffer.flush()
    assert sum(flushed) == len(rows)


@pytest.mark.parametrize("calls_per_send", [1, 32])
def test_results_are_identical_to_in_process(calls_per_send: int) -> None:
    local = Analytics(**PARAMS)
    _feed(local, _synthetic())
    with AnalyticsProcess(calls_per_send=calls_per_send, **PARAMS) as feed:
        _feed(feed, _synthetic())
        feed.flush()
        remote = feed.finish()
    assert feed.child_peak_rss_kib is None or feed.child_peak_rss_kib > 0
    assert not feed.process.is_alive()
    summary = local.summary()
    # the sequence exercises what it should: anomalies, drops, non-finite samples, many series
    assert summary["series_dropped"] > 0 and summary["non_finite"] == 3 + 1 + 1
    assert any(s["anomaly_count"] for s in summary["series"].values())
    assert any(f["anomaly_count"] for f in summary["flows"].values())
    assert _results(remote) == _results(local)


def test_an_analytics_instance_is_fed_in_the_child() -> None:
    local = Analytics(k_sigma=3.0, batch=5)
    _feed(local, _synthetic())
    feed = AnalyticsProcess(Analytics(k_sigma=3.0, batch=5))
    _feed(feed, _synthetic())
    remote = feed.finish()
    assert feed.finish() is remote  # finishing twice gives the same result
    assert _results(remote) == _results(local)
    with pytest.raises(HarnessError, match="not both"):
        AnalyticsProcess(Analytics(), batch=3)


class _Recorder(Analytics):
    """An Analytics that records the feeding calls the replay engine makes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[Call] = []

    def frame_batch(self, flow_label: str, protocol: str, timestamps: list[float], sizes: list[int]) -> None:
        self.calls.append(("frame_batch", (flow_label, protocol, list(timestamps), list(sizes))))
        super().frame_batch(flow_label, protocol, timestamps, sizes)

    def message_batch(self, flow_label: str, timestamps: list[float]) -> None:
        self.calls.append(("message_batch", (flow_label, list(timestamps))))
        super().message_batch(flow_label, timestamps)

    def values(self, series_base: str, start: int, timestamp: float, values: Any) -> None:
        self.calls.append(("values", (series_base, start, timestamp, tuple(values))))
        super().values(series_base, start, timestamp, values)

    def value(self, series: str, timestamp: float, value: float) -> None:
        self.calls.append(("value", (series, timestamp, value)))
        super().value(series, timestamp, value)


def test_a_replayed_capture_gives_the_same_summary(tmp_path: Path) -> None:
    path = tmp_path / "modbus.pcap"
    write_modbus_capture(path, 20_000)
    recorder = _Recorder()
    replay(path, analytics=recorder)
    assert {name for name, _ in recorder.calls} >= {"frame_batch", "message_batch", "values"}
    local = Analytics()
    _feed(local, recorder.calls)
    feed = AnalyticsProcess()
    _feed(feed, recorder.calls)
    remote = feed.finish()
    expected = json.dumps(recorder.summary(), sort_keys=True)
    assert json.dumps(local.summary(), sort_keys=True) == expected
    assert json.dumps(remote.summary(), sort_keys=True) == expected
    assert remote.plots() == recorder.plots()


class _Failing(Analytics):
    """Raises in the child on the message batch of one flow (fork: the class is there)."""

    def message_batch(self, flow_label: str, timestamps: list[float]) -> None:
        if flow_label == "flow2":
            raise ValueError("boom in the child")
        super().message_batch(flow_label, timestamps)


def test_an_exception_in_the_child_is_a_harness_error_with_its_traceback() -> None:
    feed = AnalyticsProcess(_Failing(), calls_per_send=1)
    with pytest.raises(HarnessError, match="boom in the child") as info:
        _feed(feed, _synthetic())  # a send after the child exited fails; else finish() reports
        feed.finish()
    assert "Traceback" in str(info.value) and "ValueError" in str(info.value)
    feed.close()
    assert not feed.process.is_alive()


def test_a_killed_child_is_a_harness_error_not_a_hang() -> None:
    feed = AnalyticsProcess(poll_s=0.05)
    feed.value("x", T0, 1.0)
    feed.process.kill()
    feed.process.join(10.0)
    with pytest.raises(HarnessError, match=r"died without a result|is gone"):
        feed.finish()
    assert not feed.process.is_alive()


def test_sending_to_a_killed_child_is_a_harness_error() -> None:
    feed = AnalyticsProcess(calls_per_send=1)
    feed.process.kill()
    feed.process.join(10.0)
    with pytest.raises(HarnessError, match=r"gone .*killed by signal"):
        for i in range(100_000):  # the pipe's buffer takes a few; then the broken pipe shows
            feed.value("x", T0 + i, 1.0)
    feed.close()


def test_close_terminates_the_child() -> None:
    feed = AnalyticsProcess()
    feed.value("x", T0, 1.0)
    assert feed.process.is_alive()
    feed.close()
    assert not feed.process.is_alive()
    feed.close()  # idempotent
    with pytest.raises(KeyError), AnalyticsProcess() as other:
        raise KeyError("an error in the parent")
    assert not other.process.is_alive()


def test_bad_parameters_fail_in_the_parent() -> None:
    with pytest.raises(HarnessError, match="batch"):
        AnalyticsProcess(batch=0)
    with pytest.raises(HarnessError, match="calls_per_send"):
        AnalyticsProcess(calls_per_send=0)


def test_on_failure_drop_keeps_feeding_and_reports_once_at_the_end() -> None:
    feed = AnalyticsProcess(calls_per_send=1, on_failure="drop")
    feed.process.kill()
    feed.process.join(10.0)
    for i in range(100_000):  # no error while feeding: the calls are dropped once a send fails
        feed.value("x", T0 + i, 1.0)
    assert feed.failure is not None and "killed by signal" in feed.failure
    with pytest.raises(HarnessError, match="killed by signal"):
        feed.finish()
    assert not feed.process.is_alive()
