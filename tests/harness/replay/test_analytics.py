"""Replay analytics: known data, bounded memory, JSON safety and determinism."""

from __future__ import annotations

import json
import math
import sys
import tracemalloc
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.errors import HarnessError
from wireproof.harness.replay.analytics import Analytics, ValueBuffer, _Regression, summary_lines

T0 = 1_700_000_000.0  # an epoch timestamp, as captures carry: its float rounding is ~2e-7 s
FLOW = "10.0.0.1:49152 > 10.0.0.5:502"
KEY = "10.0.0.5:502 u1 hr[40]"


def _no_nonfinite(obj: Any) -> None:
    if isinstance(obj, float):
        assert math.isfinite(obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            assert isinstance(k, str)
            _no_nonfinite(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            _no_nonfinite(v)
    else:
        assert obj is None or isinstance(obj, str | int | bool), type(obj)


def _strict_json(obj: Any) -> str:
    _no_nonfinite(obj)
    return json.dumps(obj, allow_nan=False)


# -- known data -----------------------------------------------------------------------------------

def test_constant_rate_has_zero_spread_and_no_anomalies() -> None:
    a = Analytics()
    for i in range(1000):
        t = i * 0.125  # exact in binary: inter-arrivals exactly 0.125
        a.frame(FLOW, "modbus-tcp", t, 12)
        a.message(FLOW, t)
        a.value(KEY, t, 42.0)
    s = a.summary()
    flow = s["flows"][FLOW]
    for kind in ("interarrival", "message_interarrival"):
        assert flow[kind]["count"] == 999
        assert flow[kind]["mean"] == 0.125
        assert flow[kind]["std"] == 0.0
        assert flow[kind]["min"] == flow[kind]["max"] == 0.125
    assert flow["anomaly_count"] == 0 and flow["anomalies"] == [] and flow["first_anomaly"] is None
    series = s["series"][KEY]
    assert (series["count"], series["mean"], series["std"], series["min"], series["max"], series["last"]) == (
        1000, 42.0, 0.0, 42.0, 42.0, 42.0)
    assert series["anomaly_count"] == 0 and series["changes"] == 0 and series["change_rate_per_s"] == 0.0
    assert series["trend_per_s"] == 0.0 and series["r2"] is None  # r^2 of a constant is undefined
    assert flow["rate_trend"]["slope_bps_per_s"] == pytest.approx(0.0, abs=1e-9)


def test_regular_poll_at_epoch_time_is_not_anomalous_by_rounding() -> None:
    a = Analytics()
    for i in range(2000):
        a.message(FLOW, T0 + i * 0.1)  # 0.1 is not exact and T0 + x rounds to ~2.4e-7 s
    m = a.summary()["flows"][FLOW]["message_interarrival"]
    assert m["anomaly_count"] == 0
    assert m["mean"] == pytest.approx(0.1, abs=1e-6)
    assert m["std"] < 1e-6


def test_value_step_is_an_anomaly_at_the_step() -> None:
    a = Analytics()
    for i in range(100):
        a.value(KEY, T0 + i, 10.0 + (i % 2) * 0.5)  # mean 10.25, std 0.25
    a.value(KEY, T0 + 100, 20.0)
    s = a.summary()["series"][KEY]
    first = s["first_anomaly"]
    assert first["timestamp"] == T0 + 100 and first["value"] == 20.0
    assert first["mean"] == pytest.approx(10.25) and first["std"] == pytest.approx(0.25)
    assert first["z"] == pytest.approx((20.0 - 10.25) / 0.25)
    assert s["anomaly_count"] == 1 and s["anomalies"] == [first]


def test_step_from_a_constant_has_infinite_z_as_null() -> None:
    a = Analytics()
    for i in range(50):
        a.value(KEY, float(i), 7.0)
    a.value(KEY, 50.0, 8.0)
    s = a.summary()["series"][KEY]
    assert s["first_anomaly"] == {"timestamp": 50.0, "value": 8.0, "z": None, "mean": 7.0, "std": 0.0}
    _strict_json(s)


def test_no_anomaly_during_warmup_and_stats_before_the_sample() -> None:
    a = Analytics(warmup=30)
    for i in range(29):
        a.value(KEY, float(i), float(i % 2))
    a.value(KEY, 29.0, 1e6)  # 30th sample: only 29 before it, still warming up
    assert a.summary()["series"][KEY]["anomaly_count"] == 0
    b = Analytics(warmup=30)
    for i in range(30):
        b.value(KEY, float(i), float(i % 2))
    b.value(KEY, 30.0, 1e6)
    assert b.summary()["series"][KEY]["anomaly_count"] == 1


def test_k_sigma_is_the_threshold() -> None:
    def run(k: float) -> int:
        a = Analytics(k_sigma=k, warmup=10)
        for i in range(100):
            a.value(KEY, float(i), float(i % 2))  # mean 0.5, std 0.5
        a.value(KEY, 100.0, 2.0)  # z = 3
        return int(a.summary()["series"][KEY]["anomaly_count"])

    assert run(2.9) == 1
    assert run(3.1) == 0


def test_timing_gap_is_an_anomaly_at_the_right_time() -> None:
    a = Analytics()
    t = T0
    times = []
    for i in range(200):
        t += 0.1 + (0.001 if i % 2 else -0.001)
        if i == 150:
            t += 5.0  # a stall
        times.append(t)
        a.frame(FLOW, "modbus-tcp", t, 12)
        a.message(FLOW, t)
    flow = a.summary()["flows"][FLOW]
    assert flow["interarrival"]["anomaly_count"] == 1
    assert flow["message_interarrival"]["anomaly_count"] == 1
    assert [r["kind"] for r in flow["anomalies"]] == ["frame_interarrival", "message_interarrival"]
    for r in flow["anomalies"]:
        assert r["timestamp"] == times[150]
        assert r["value"] == pytest.approx(5.1 - 0.001, abs=1e-5)
        assert r["z"] > 4


def test_linear_ramp_slope_and_r2() -> None:
    a = Analytics()
    for i in range(500):
        t = T0 + i * 0.2
        a.value(KEY, t, 3.5 * (t - T0) - 12.0)
    s = a.summary()["series"][KEY]
    assert s["trend_per_s"] == pytest.approx(3.5, rel=1e-9)
    assert s["r2"] == pytest.approx(1.0, abs=1e-12)
    assert s["changes"] == 499
    assert s["change_rate_per_s"] == pytest.approx(499 / (499 * 0.2))
    assert s["anomaly_count"] == 0


def test_noisy_ramp_r2_below_one() -> None:
    a = Analytics()
    for i in range(400):
        a.value(KEY, float(i), 0.1 * i + (5.0 if i % 2 else -5.0))
    s = a.summary()["series"][KEY]
    assert s["trend_per_s"] == pytest.approx(0.1, rel=0.05)
    assert 0.1 < s["r2"] < 0.9


@pytest.mark.parametrize("dt, nbytes", [(0.01, 60), (0.1, 12), (0.5, 300), (2.0, 1000)])
def test_ewma_converges_to_the_rate(dt: float, nbytes: int) -> None:
    a = Analytics()
    n = int(300 / dt)  # 300 s: five long time constants
    for i in range(n):
        a.frame(FLOW, "modbus-tcp", T0 + i * dt, nbytes)
    f = a.summary()["flows"][FLOW]
    rate = nbytes / dt
    assert f["ewma_bandwidth_bps"] == pytest.approx(rate, rel=1e-4)
    assert f["ewma_bandwidth_long_bps"] == pytest.approx(rate, rel=1e-4)
    assert f["peak_bandwidth_bps"] == pytest.approx(rate, rel=1e-4)
    assert f["rate_trend"]["slope_bps_per_s"] == pytest.approx(0.0, abs=rate * 1e-3)


def test_ewma_is_bias_corrected_early_and_follows_a_rate_change() -> None:
    a = Analytics()
    for i in range(50):  # 5 s at 1000 B/s: far shorter than the 60 s constant
        a.frame(FLOW, "p", i * 0.1, 100)
    f = a.summary()["flows"][FLOW]
    assert f["ewma_bandwidth_long_bps"] == pytest.approx(1000, rel=1e-6)
    for i in range(50, 150):  # then 10 s at 4000 B/s
        a.frame(FLOW, "p", i * 0.1, 400)
    f = a.summary()["flows"][FLOW]
    assert f["ewma_bandwidth_bps"] == pytest.approx(4000, rel=1e-3)  # tau 1 s: caught up
    assert 1000 < f["ewma_bandwidth_long_bps"] < 4000  # tau 60 s: still between
    assert f["peak_bandwidth_bps"] == pytest.approx(4000, rel=1e-3)


def test_single_frame_has_no_bandwidth() -> None:
    a = Analytics()
    a.frame(FLOW, "p", T0, 100)
    f = a.summary()["flows"][FLOW]
    for key in ("ewma_bandwidth_bps", "ewma_bandwidth_long_bps", "mean_bandwidth_bps", "peak_bandwidth_bps"):
        assert f[key] is None
    assert f["interarrival"]["count"] == 0 and f["interarrival"]["mean"] is None


def test_rate_trend_of_a_ramping_flow() -> None:
    a = Analytics()
    for second in range(100):  # second s carries 10 * second bytes/s: slope 10 B/s per s
        for k in range(10):
            a.frame(FLOW, "p", second + k * 0.1, second)
    trend = a.summary()["flows"][FLOW]["rate_trend"]
    assert trend["slope_bps_per_s"] == pytest.approx(10.0, rel=1e-9)
    assert trend["r2"] == pytest.approx(1.0)


def test_rate_trend_counts_idle_windows_as_zero() -> None:
    a = Analytics()
    for i in range(10):
        a.frame(FLOW, "p", float(i), 100)  # windows 0..9: 100 B/s
    a.frame(FLOW, "p", 1000.0, 100)  # 990 idle windows in between
    a.frame(FLOW, "p", 1001.5, 100)  # closes window 1000
    trend = a.summary()["flows"][FLOW]["rate_trend"]
    assert trend["slope_bps_per_s"] < 0  # traffic died down
    # the O(1) merge of the idle run equals adding every point
    reg = _Regression()
    for x, y in [(i + 0.5, 100.0) for i in range(10)] + [(i + 0.5, 0.0) for i in range(10, 1000)]:
        reg.add(x, y)
    reg.add(1000.5, 100.0)
    assert trend["slope_bps_per_s"] == pytest.approx(reg.cxy / reg.cxx, rel=1e-9)


def test_time_reversal_is_counted_not_learned() -> None:
    a = Analytics()
    for t in (10.0, 11.0, 9.0, 12.0):
        a.message(FLOW, t)
    m = a.summary()["flows"][FLOW]["message_interarrival"]
    assert m["time_reversals"] == 1
    assert m["count"] == 2 and m["mean"] == 1.0


def test_anomalies_kept_are_the_most_extreme() -> None:
    a = Analytics(max_anomalies=3, warmup=10)
    for i in range(1000):
        a.value(KEY, float(i), float(i % 2))
    spikes = [(1000.0, 5.0), (1001.0, 9.0), (1002.0, 6.0), (1003.0, 8.0), (1004.0, 7.0)]
    for t, v in spikes:
        a.value(KEY, t, v)
    s = a.summary()["series"][KEY]
    assert s["anomaly_count"] == 5
    assert [r["timestamp"] for r in s["anomalies"]] == [1001.0, 1003.0, 1004.0]  # time order
    assert s["first_anomaly"]["timestamp"] == 1000.0


def test_non_finite_inputs_are_counted_and_ignored() -> None:
    a = Analytics()
    a.value(KEY, 1.0, math.nan)
    a.value(KEY, math.inf, 1.0)
    a.frame(FLOW, "p", math.nan, 10)
    a.message(FLOW, -math.inf)
    s = a.summary()
    assert s["non_finite"] == 4 and s["series"] == {} and s["flows"] == {}
    _strict_json(s)


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(HarnessError):
        Analytics(k_sigma=0)
    with pytest.raises(HarnessError):
        Analytics(warmup=1)
    with pytest.raises(HarnessError):
        Analytics(tau_short=math.nan)


def test_protocol_totals_and_summary_lines() -> None:
    a = Analytics()
    for i in range(100):
        a.frame(FLOW, "modbus-tcp", T0 + i * 0.1, 12)
        a.frame("10.0.0.9:1 > 10.0.0.5:20000", "dnp3", T0 + i * 0.1, 30)
        a.value(KEY, T0 + i * 0.1, 1.0 if i != 80 else 100.0)
    s = a.summary()
    assert s["protocols"] == {"modbus-tcp": {"frames": 100, "bytes": 1200},
                              "dnp3": {"frames": 100, "bytes": 3000}}
    assert s["frames"] == 200 and s["bytes"] == 4200
    lines = summary_lines(s)
    assert lines[0] == "Top flows by bandwidth (2 of 2):"
    assert lines[1].startswith("  10.0.0.9:1 > 10.0.0.5:20000 [dnp3] 100 frames 3000 B")  # busiest first
    anomalous = lines.index("Anomalous series (1 of 1):")
    assert lines[anomalous + 1].startswith(f"  {KEY}: 1 anomaly,")
    assert "first at 8.000000 s: 100 (z=inf" in lines[anomalous + 1]
    assert summary_lines(json.loads(json.dumps(s))) == lines == a.text()
    assert summary_lines(Analytics().summary()) == []


def test_plots_shape() -> None:
    a = Analytics(buckets=16)
    for i in range(1000):
        t = T0 + i * 0.05
        a.frame(FLOW, "modbus-tcp", t, 12)
        a.message(FLOW, t + (3.0 if i >= 500 else 0.0))
        a.value(KEY, t, 5.0 if i != 700 else 50.0)
    a.value("quiet", T0, 1.0)
    p = a.plots()
    _strict_json(p)
    assert p["origin"] == T0
    assert [e["label"] for e in p["traffic"]] == ["modbus-tcp"]
    assert [e["label"] for e in p["flows"]] == [FLOW]
    traffic = p["flows"][0]["points"]
    assert 8 <= len(traffic) <= 16
    # the bytes/s per bucket integrate to the bytes sent
    width = traffic[1][0] - traffic[0][0]
    assert sum(r for _t, r in traffic[:-1]) * width == pytest.approx(12 * 1000, rel=0.05)
    assert [e["label"] for e in p["series"]] == [KEY]  # only anomalous series are plotted
    s = p["series"][0]
    assert all(len(row) == 4 and row[2] <= row[1] <= row[3] for row in s["points"])
    assert s["anomalies"] == [[T0 + 700 * 0.05, 50.0, None]]
    assert [e["label"] for e in p["timing"]] == [f"{FLOW} (messages)"]


def test_series_and_flow_caps() -> None:
    a = Analytics(max_series=3, max_flows=2)
    for i in range(5):
        a.value(f"s{i}", 0.0, 1.0)
        a.value(f"s{i}", 1.0, 1.0)
        a.frame(f"f{i}", "p", 0.0, 1)
    s = a.summary()
    assert list(s["series"]) == ["s0", "s1", "s2"] and s["series_dropped"] == 4
    assert list(s["flows"]) == ["f0", "f1"] and s["flows_dropped"] == 3
    assert summary_lines(s)[-1] == "Not tracked (tables full): 3 flows dropped, 4 series dropped samples"


# -- bounded memory ---------------------------------------------------------------------------------

def _series_footprint(a: Analytics, key: str) -> int:
    s = a._series[key]
    track = s.track
    return (sum(sys.getsizeof(x) for x in (track.index, track.counts, track.sums, track.mins, track.maxs))
            + sys.getsizeof(s.anomalies.heap)
            + len(s.anomalies.heap) * 100)


def test_one_series_memory_is_bounded_over_a_million_samples() -> None:
    a = Analytics(buckets=100, max_anomalies=10)
    sizes = []
    for i in range(1_000_000):
        # a noisy ramp with a spike every 10,000 samples: anomalies keep coming
        a.value(KEY, T0 + i * 0.01, (i % 97) * 0.1 + (1000.0 if i % 10_000 == 5_000 else 0.0))
        if i in (9_999, 99_999, 999_999):
            sizes.append(_series_footprint(a, KEY))
    s = a._series[KEY]
    assert len(s.track.index) <= 100
    track = s.track
    assert all(len(x) == len(track.index) for x in (track.counts, track.sums, track.mins, track.maxs))
    assert len(s.anomalies.heap) == 10
    assert a.summary()["series"][KEY]["anomaly_count"] == 100
    assert sizes[2] <= sizes[0] * 1.5 + 1024, sizes


def test_memory_stays_flat_beyond_the_series_cap() -> None:
    a = Analytics(max_series=10_000)
    tracemalloc.start()
    try:
        for i in range(10_000):
            a.value(f"10.0.0.5:502 u1 hr[{i}]", T0, float(i))
        at_cap = tracemalloc.get_traced_memory()[0]
        for i in range(10_000, 20_000):
            a.value(f"10.0.0.5:502 u1 hr[{i}]", T0 + 1, float(i))
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(a._series) == 10_000 and a.series_dropped == 10_000
    assert after - at_cap < 64 * 1024, (at_cap, after)  # the second 10,000 cost nothing
    assert at_cap < 10_000 * 4096  # and each tracked series is small


# -- JSON safety and determinism --------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
events = st.lists(
    st.one_of(
        st.tuples(st.just("frame"), st.sampled_from(["a", "b"]), finite, st.integers(0, 10_000)),
        st.tuples(st.just("message"), st.sampled_from(["a", "c"]), finite, st.just(0)),
        st.tuples(st.just("value"), st.sampled_from(["x", "y"]), finite, finite),
    ),
    max_size=80,
)


def _feed(evs: list[tuple[str, str, float, float]], **kw: Any) -> Analytics:
    a = Analytics(warmup=3, buckets=4, max_anomalies=2, **kw)
    for kind, key, t, v in evs:
        if kind == "frame":
            a.frame(key, "p", t, int(v))
        elif kind == "message":
            a.message(key, t)
        else:
            a.value(key, t, v)
    return a


@settings(max_examples=200, deadline=None)
@given(events)
def test_any_finite_input_gives_strict_json(evs: list[tuple[str, str, float, float]]) -> None:
    a = _feed(evs)
    text = _strict_json(a.summary())
    _strict_json(a.plots())
    summary_lines(json.loads(text))


@settings(max_examples=50, deadline=None)
@given(events)
def test_deterministic(evs: list[tuple[str, str, float, float]]) -> None:
    a, b = _feed(evs), _feed(evs)
    assert json.dumps(a.summary()) == json.dumps(b.summary())
    assert json.dumps(a.plots()) == json.dumps(b.plots())


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(-1e6, 1e6)), min_size=1, max_size=60))
def test_buckets_never_exceed_their_bound(samples: list[tuple[float, float]]) -> None:
    a = Analytics(buckets=4)
    for t, v in samples:
        a.value(KEY, t, v)
    s = a._series[KEY]
    assert len(s.track.index) <= 4
    assert list(s.track.index) == sorted(set(s.track.index))
    rows = s.track.buckets()
    assert sum(c for _i, c, _s, _lo, _hi in rows) == len(samples)
    assert min(lo for *_x, lo, _hi in rows) == min(v for _t, v in samples)
    assert max(hi for *_x, hi in rows) == max(v for _t, v in samples)


# -- batches: values() per register block, frame_batch(), message_batch() --------------------------

BASE = "10.0.0.5:502 u1 hr"


def test_values_block_names_series_and_is_flushed_by_summary() -> None:
    a = Analytics()
    a.values(BASE, 40, T0, (1, 2, 3))
    assert a._series[f"{BASE}[40]"].moments.count == 0  # buffered
    s = a.summary()["series"]
    assert list(s) == [f"{BASE}[40]", f"{BASE}[41]", f"{BASE}[42]"]
    assert [(v["count"], v["last"], v["first_time"]) for v in s.values()] == [(1, 1.0, T0), (1, 2.0, T0),
                                                                            (1, 3.0, T0)]


def _per_sample_and_batched(samples: list[tuple[float, tuple[int, ...]]], **kw: Any) -> tuple[Any, Any]:
    one, block = Analytics(**kw), Analytics(**kw)
    for t, row in samples:
        for i, v in enumerate(row):
            one.value(f"{BASE}[{i}]", t, float(v))
        block.values(BASE, 0, t, row)
    return one.summary()["series"], block.summary()["series"]


def test_batched_statistics_equal_the_per_sample_ones() -> None:
    rows = [(T0 + i * 0.1, ((i * 7919) % 1000, 500 + (i % 3), 42, i)) for i in range(2000)]
    one, block = _per_sample_and_batched(rows)
    for key in one:
        a, b = one[key], block[key]
        assert (a["count"], a["min"], a["max"], a["last"], a["changes"]) == \
            (b["count"], b["min"], b["max"], b["last"], b["changes"])
        for field in ("mean", "std", "trend_per_s", "r2"):
            assert (a[field] is None) == (b[field] is None)
            if a[field] is not None:
                assert b[field] == pytest.approx(a[field], rel=1e-7, abs=1e-9), (key, field)
    assert block[f"{BASE}[3]"]["trend_per_s"] == pytest.approx(10.0, rel=1e-9)  # +1 per 0.1 s


def test_batched_step_is_detected_at_the_step() -> None:
    # 5000 polls of a noisy register; at poll 3000 it steps up by 100 std and stays there.
    rows = [(T0 + i * 0.1, (1000 + (i % 5) + (500 if i >= 3000 else 0), 7)) for i in range(5000)]
    one, block = _per_sample_and_batched(rows)
    a, b = one[f"{BASE}[0]"], block[f"{BASE}[0]"]
    step = T0 + 3000 * 0.1
    assert a["first_anomaly"]["timestamp"] == b["first_anomaly"]["timestamp"] == step
    assert b["first_anomaly"]["value"] == 1500.0
    assert b["first_anomaly"]["mean"] == pytest.approx(1002.0, abs=0.01)  # the old level judged it
    # the burst: at least as long as sample by sample, longer by at most a batch of 128
    assert a["anomaly_count"] <= b["anomaly_count"] <= a["anomaly_count"] + 128
    assert all(r["timestamp"] >= step for r in b["anomalies"])
    assert block[f"{BASE}[1]"]["anomaly_count"] == 0


def test_young_statistics_judge_small_batches() -> None:
    # A slow ramp: judged against stale statistics it would look anomalous; batches of at
    # most 1/8 of the history keep it within k sigma, as sample by sample.
    rows = [(T0 + i * 0.1, (1000 + i // 10 + (i % 2),)) for i in range(1000)]
    one, block = _per_sample_and_batched(rows)
    assert one[f"{BASE}[0]"]["anomaly_count"] == block[f"{BASE}[0]"]["anomaly_count"] == 0


def test_value_buffers_are_bounded() -> None:
    a = Analytics(batch=16, max_buffered=100, max_series=50)
    for i in range(1000):
        a.values(BASE, 10 * (i % 9), T0 + i, tuple(range(10)))
        assert a._buffered <= 100 + 10
        assert all(len(b.times) < 16 for b in a._blocks.values())
    assert len(a._blocks) <= 50
    s = a.summary()
    assert sum(v["count"] for v in s["series"].values()) + s["series_dropped"] == 10_000
    assert a._buffered == 0


def test_non_finite_values_in_a_block_are_counted() -> None:
    a = Analytics()
    a.values(BASE, 0, T0, (1.0, math.nan, 3.0))
    a.values(BASE, 0, T0 + 1, (1.0, 2.0, math.inf))
    a.values(BASE, 0, math.nan, (1.0, 2.0, 3.0))
    s = a.summary()
    assert s["non_finite"] == 2 + 3
    assert [v["count"] for v in s["series"].values()] == [2, 1, 1]
    _strict_json(s)


def test_frame_and_message_batches_equal_single_frames() -> None:
    one, batch = Analytics(), Analytics()
    times = [T0 + i * 0.05 + (4.0 if i >= 700 else 0.0) for i in range(1000)]
    sizes = [12 + i % 7 for i in range(1000)]
    for t, n in zip(times, sizes, strict=True):
        one.frame(FLOW, "modbus-tcp", t, n)
        one.message(FLOW, t)
    for k in range(0, 1000, 256):
        batch.frame_batch(FLOW, "modbus-tcp", times[k:k + 256], sizes[k:k + 256])
        batch.message_batch(FLOW, times[k:k + 256])
    a, b = one.summary()["flows"][FLOW], batch.summary()["flows"][FLOW]
    for key in ("frames", "bytes", "ewma_bandwidth_bps", "ewma_bandwidth_long_bps", "peak_bandwidth_bps"):
        assert b[key] == pytest.approx(a[key], rel=1e-12)
    assert b["rate_trend"] == a["rate_trend"]
    for kind in ("interarrival", "message_interarrival"):
        for key in ("count", "mean", "std", "min", "max"):
            assert b[kind][key] == pytest.approx(a[kind][key], rel=1e-9)
        assert b[kind]["anomaly_count"] == a[kind]["anomaly_count"] == 1  # the 4 s stall
    assert b["first_anomaly"]["timestamp"] == a["first_anomaly"]["timestamp"] == times[700]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.lists(st.integers(0, 65535), min_size=3, max_size=3)),
                min_size=1, max_size=300))
def test_batched_buckets_hold_every_sample(samples: list[tuple[float, list[int]]]) -> None:
    a = Analytics(buckets=4, batch=7)
    for t, row in samples:
        a.values(BASE, 0, t, tuple(row))
    a.flush()
    for j in range(3):
        track = a._series[f"{BASE}[{j}]"].track
        rows = track.buckets()
        assert len(rows) <= 4 and list(track.index) == sorted(set(track.index))
        assert sum(c for _i, c, _s, _lo, _hi in rows) == len(samples)
        assert sum(s for _i, _c, s, _lo, _hi in rows) == sum(r[j] for _t, r in samples)
        assert min(lo for *_x, lo, _hi in rows) == min(r[j] for _t, r in samples)
    _strict_json(a.summary())
    _strict_json(a.plots())


# -- the value buffer, values_block() and pickling (for the analytics process) ---------------------

def _block_rows(n: int) -> list[tuple[float, tuple[int, ...]]]:
    return [(T0 + i * 0.1, (1000 + i % 5 + (300 if i > 700 else 0), i % 3, 7)) for i in range(n)]


def test_value_buffer_flush_triggers() -> None:
    flushed: list[tuple[tuple[str, int, int], list[float], list[Any]]] = []
    opened: list[tuple[str, int, int]] = []
    buf = ValueBuffer(lambda key, times, rows: flushed.append((key, times, rows)), batch=3, max_buffered=10,
                      max_keys=2, opened=opened.append)
    buf.add("a", 0, 1.0, (1, 2))
    buf.add("a", 0, 2.0, (3, 4))
    assert flushed == [] and buf.buffered == 4 and opened == [("a", 0, 2)]
    buf.add("a", 0, 3.0, (5, 6))  # the block reaches batch
    assert flushed == [(("a", 0, 2), [1.0, 2.0, 3.0], [(1, 2), (3, 4), (5, 6)])] and buf.buffered == 0
    buf.add("a", 0, 4.0, (7, 8))
    buf.add("b", 5, 4.0, (1,))
    buf.add("c", 0, 4.0, (1, 1, 1))  # a third key: the oldest ("a") is flushed and forgotten
    assert flushed[-1] == (("a", 0, 2), [4.0], [(7, 8)]) and list(buf.blocks) == [("b", 5, 1), ("c", 0, 3)]
    assert opened == [("a", 0, 2), ("b", 5, 1), ("c", 0, 3)]
    buf.add("c", 0, 5.0, (2, 2, 2))
    buf.add("b", 5, 5.0, (2,))  # 8 values: below max_buffered, below batch
    assert len(flushed) == 2
    buf.add("b", 5, 6.0, (3,))  # "b" reaches batch: flushed alone
    buf.add("c", 0, 6.0, (3, 3, 3))  # "c" reaches batch too
    buf.add("b", 5, 7.0, (4,))
    for t in (8.0, 9.0):
        buf.add("b", 5, t, (5,))
    assert [k for k, _t, _r in flushed] == [("a", 0, 2), ("a", 0, 2), ("b", 5, 1), ("c", 0, 3), ("b", 5, 1)]
    big = ValueBuffer(lambda key, times, rows: flushed.append((key, times, rows)), batch=100, max_buffered=10,
                      max_keys=5)
    flushed.clear()
    big.add("x", 0, 1.0, (1, 2, 3, 4))
    big.add("y", 0, 1.0, (1, 2, 3, 4))
    big.add("x", 0, 2.0, (1, 2, 3, 4))  # 12 >= max_buffered: every block, in first-seen order
    assert [(k, t) for k, t, _r in flushed] == [(("x", 0, 4), [1.0, 2.0]), (("y", 0, 4), [1.0])]
    assert big.buffered == 0 and list(big.blocks) == [("x", 0, 4), ("y", 0, 4)]


def test_values_block_equals_buffered_values() -> None:
    buffered, direct = Analytics(batch=50), Analytics(batch=50)
    rows = _block_rows(1000)
    for t, row in rows:
        buffered.values(BASE, 0, t, row)
    direct.open_block(BASE, 0, 3)
    for k in range(0, 1000, 50):
        direct.values_block(BASE, 0, [t for t, _r in rows[k:k + 50]], [r for _t, r in rows[k:k + 50]])
    direct.values_block(BASE, 0, [], [])
    assert json.dumps(buffered.summary()) == json.dumps(direct.summary())
    assert buffered.summary()["series"][f"{BASE}[0]"]["anomaly_count"] > 0


def test_analytics_pickles_with_buffered_values_and_goes_on() -> None:
    import pickle

    a, b = Analytics(batch=64), Analytics(batch=64)
    rows = _block_rows(1000)
    for i, (t, row) in enumerate(rows[:500]):
        for x in (a, b):
            x.values(BASE, 0, t, row)
            x.frame(FLOW, "modbus-tcp", t, 12 + i % 3)
            x.message(FLOW, t)
            x.value(KEY, t, float(i % 7))
    assert a._buffered > 0
    c = pickle.loads(pickle.dumps(a))
    for t, row in rows[500:]:
        b.values(BASE, 0, t, row)
        c.values(BASE, 0, t, row)
    assert a._buffered == 500 % 64 * 3  # the copy's buffer is its own
    assert json.dumps(c.summary()) == json.dumps(b.summary())
    assert c.plots() == b.plots() and c.text() == b.text()


@given(st.lists(st.floats(min_value=-10.0, max_value=1e4, allow_nan=False), min_size=1, max_size=60),
       st.floats(min_value=-5.0, max_value=50.0), st.sampled_from([1e-3, 0.37, 1.0, 64.0, math.inf]),
       st.integers(min_value=2, max_value=12))
def test_segments_are_the_runs_of_per_sample_buckets(ts: list[float], origin: float, width: float,
                                                     nbuckets: int) -> None:
    from wireproof.harness.replay.analytics import _Times

    ts = sorted(ts)
    ids = [min(int((t - origin) / width), nbuckets - 1) if t > origin else 0 for t in ts]
    runs: list[tuple[int, int, int]] = []
    for i, b in enumerate(ids):
        if runs and runs[-1][0] == b:
            runs[-1] = (b, runs[-1][1], i + 1)
        else:
            runs.append((b, i, i + 1))
    got_ids, bounds = _Times(ts, True).segments(origin, width, nbuckets)
    assert [(b, i, j) for b, (i, j) in zip(got_ids, bounds, strict=True)] == runs
