"""The feeder of the replay analytics: the :class:`Analytics` the replay feeds, and what it keeps.

The analyzers feed it as the capture streams past: frames and messages of
each flow (traffic, bandwidth, timing) and the values of points and
registers (value statistics); it keeps a :class:`_Flow` per flow and a
:class:`_Series` per value series, made of the building blocks of
:mod:`.stats` and :mod:`.buckets`, and hands the rendering of its state
to :mod:`.render`.

Theory of operation
-------------------
*Batches.* A replay feeds millions of samples, so the statistics are
updated a batch at a time: :meth:`Analytics.frame_batch`,
:meth:`~Analytics.message_batch` (the engine buffers each flow's frames and
messages) and :meth:`~Analytics.values` (one register block of one message;
buffered here by a :class:`.ValueBuffer`, per block, up to ``batch``
messages, and flushed by :meth:`~Analytics.flush`, which
:meth:`~Analytics.summary` and :meth:`~Analytics.plots` call first; a block's
series are created when the buffer first sees it, so series are in
first-seen order). A feeder that buffers elsewhere (the analytics process,
:mod:`..analytics_process`) hands the same blocks to
:meth:`~Analytics.open_block` and :meth:`~Analytics.values_block`, with
the same result. The single-sample methods
(:meth:`~Analytics.frame`, :meth:`~Analytics.message`,
:meth:`~Analytics.value`) are batches of one. A batch is reduced with
builtins over the whole column (``sum``, ``min``, ``max``, ``map``; integer
values, as registers and coils are, exactly in integers) and merged into
the running statistics with the parallel formulas of Chan, Golub and
LeVeque (1979) (:mod:`.stats`, which also says how a batch is judged for
anomalies and split for that). Batches of a series fed by several
register blocks (overlapping reads, or reads and writes of one register)
are merged in the order they are flushed; ``changes`` (a value different
from the one before) compares consecutive samples in that order.

*Bounds.* At most ``max_flows`` flows and ``max_series`` series are
tracked; samples for others are counted in ``flows_dropped`` /
``series_dropped`` (samples, not distinct keys: counting distinct keys
would be unbounded). Non-finite inputs (NaN, infinities) are counted in
``non_finite`` and otherwise ignored. The value buffer is bounded too
(:mod:`.buffer`), and every track (:mod:`.buckets`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import compress
from operator import mul, ne
from typing import Any

from wireproof.errors import HarnessError
from wireproof.harness.replay.analytics.buckets import _TICKS, _Buckets, _Times
from wireproof.harness.replay.analytics.buffer import BlockKey, ValueBuffer, _Block
from wireproof.harness.replay.analytics.render import plots_of, summary_lines, summary_of
from wireproof.harness.replay.analytics.stats import (
    _INF,
    _Anomalies,
    _Bandwidth,
    _isfinite,
    _Moments,
    _Regression,
    _Timing,
    _ZScores,
)

__all__ = ["Analytics"]

_SQUARES = [i * i for i in range(65536)]  # a register's square by lookup: 3x faster than map(mul)
_SQUARE = _SQUARES.__getitem__
_EXACT = 2 ** 53  # integer sums beyond this are done in floats


class _Flow:
    """What is kept of one flow: totals, bandwidth, frame and message timing, its traffic track."""

    __slots__ = ("bandwidth", "bytes", "first", "frame_timing", "frames", "last", "message_timing",
                 "protocol", "traffic")

    def __init__(self, protocol: str, t: float, bucket_s: float) -> None:
        self.protocol = protocol
        self.frames = 0
        self.bytes = 0
        self.first = self.last = t
        self.bandwidth = _Bandwidth(t)
        self.frame_timing = _Timing()
        self.message_timing = _Timing()
        self.traffic = _Buckets(t, bucket_s)


class _Series:
    """What is kept of one value series: moments, anomalies, trend, changes, the latest value, its track."""

    __slots__ = ("anomalies", "changes", "first", "last", "last_time", "moments", "track", "trend")

    def __init__(self, t: float, bucket_s: float) -> None:
        self.first = self.last_time = t
        self.last = 0.0
        self.changes = 0
        self.moments = _Moments()
        self.anomalies = _Anomalies()
        self.trend = _Regression()
        self.track = _Buckets(t, bucket_s)


class Analytics:
    """Per-flow traffic and per-series value statistics of a capture (see the module docstring).

    Parameters (keyword only): ``k_sigma`` (4) and ``warmup`` (30) of the
    z-score rule; ``tau_short`` (1 s) and ``tau_long`` (60 s), the EWMA time
    constants; ``rate_window`` (1 s), the window of the rate trend;
    ``time_resolution`` (1e-6 s), the floor of the inter-arrival std;
    ``max_flows`` and ``max_series`` (10,000 each); ``max_anomalies`` (10)
    kept per track; ``buckets`` (100) per plotted track, initially
    ``bucket_s`` (1 ms) wide; ``batch`` (128) messages buffered per register
    block of :meth:`values`, ``max_buffered`` (500,000) values in all.
    """

    def __init__(self, *, k_sigma: float = 4.0, warmup: int = 30, tau_short: float = 1.0,
                 tau_long: float = 60.0, rate_window: float = 1.0, time_resolution: float = 1e-6,
                 max_flows: int = 10_000, max_series: int = 10_000, max_anomalies: int = 10,
                 buckets: int = 100, bucket_s: float = 1e-3, max_protocols: int = 64,
                 batch: int = 128, max_buffered: int = 500_000) -> None:
        positive = {"k_sigma": k_sigma, "tau_short": tau_short, "tau_long": tau_long,
                    "rate_window": rate_window, "bucket_s": bucket_s}
        for name, x in positive.items():
            if not (math.isfinite(x) and x > 0):
                raise HarnessError(f"Analytics: {name} must be a positive finite number, not {x!r}")
        if warmup < 2 or buckets < 2 or max_anomalies < 0 or max_flows < 0 or max_series < 0:
            raise HarnessError("Analytics: warmup and buckets must be >= 2, the maxima >= 0")
        if batch < 1 or max_buffered < 1:
            raise HarnessError("Analytics: batch and max_buffered must be >= 1")
        if not (math.isfinite(time_resolution) and time_resolution >= 0):
            raise HarnessError(f"Analytics: time_resolution must be >= 0, not {time_resolution!r}")
        self.k_sigma = float(k_sigma)
        self.warmup = warmup
        self.tau_short = float(tau_short)
        self.tau_long = float(tau_long)
        self.rate_window = float(rate_window)
        self.time_resolution = float(time_resolution)
        self.max_flows = max_flows
        self.max_series = max_series
        self.max_anomalies = max_anomalies
        self.buckets = buckets
        self.bucket_s = float(bucket_s)
        self.max_protocols = max_protocols
        self.batch = batch
        self.max_buffered = max_buffered
        self._zscores = _ZScores(self.k_sigma, warmup, max_anomalies)
        self._flows: dict[str, _Flow] = {}
        self._series: dict[str, _Series] = {}
        self._protocols: dict[str, _Buckets] = {}
        self._protocol_totals: dict[str, list[int]] = {}
        self._buffer = ValueBuffer(self._flush_block, batch=batch, max_buffered=max_buffered,
                                   max_keys=max_series, opened=self._open_block)
        # the series of each block the buffer holds (it tells of keys it opens; same bound)
        self._block_series: dict[BlockKey, list[_Series | None]] = {}
        self.flows_dropped = 0
        self.series_dropped = 0
        self.non_finite = 0
        self.frames = 0
        self.bytes = 0
        self.first: float | None = None
        self.last: float | None = None

    # -- flows -------------------------------------------------------------------------------

    def _flow(self, flow_label: str, protocol: str | None, t: float, n: int) -> _Flow | None:
        flow = self._flows.get(flow_label)
        if flow is None:
            if len(self._flows) >= self.max_flows:
                self.flows_dropped += n
                return None
            flow = self._flows[flow_label] = _Flow(protocol or "", t, self.bucket_s)
        return flow

    def frame(self, flow_label: str, protocol: str, timestamp: float, nbytes: int) -> None:
        """One frame (a TCP segment, a datagram, a CAN frame) of ``nbytes`` payload bytes."""
        self.frame_batch(flow_label, protocol, [timestamp], [nbytes])

    def frame_batch(self, flow_label: str, protocol: str, timestamps: list[float], sizes: list[int]) -> None:
        """Frames of one flow, in capture order: ``sizes[i]`` payload bytes at ``timestamps[i]``."""
        ts, sizes = self._finite(timestamps, sizes)
        if not ts:
            return
        flow = self._flow(flow_label, protocol, ts[0], len(ts))
        if flow is None:
            return
        flow.protocol = protocol
        times = _Times(ts)
        n, total = len(ts), sum(sizes)
        lo, hi = min(sizes), max(sizes)
        tmin = ts[0] if times.ordered else min(ts)
        self.frames += n
        self.bytes += total
        self.first = tmin if self.first is None else min(self.first, tmin)
        self.last = times.tmax if self.last is None else max(self.last, times.tmax)
        self._protocol_traffic(protocol, times, sizes, total, lo, hi)
        new = not flow.frames
        flow.frames += n
        flow.bytes += total
        flow.last = max(flow.last, times.tmax)
        flow.bandwidth.add_batch(ts, sizes, new, self.tau_short, self.tau_long, self.rate_window)
        flow.frame_timing.add_batch(ts, self._zscores, self.time_resolution, self.bucket_s, self.buckets)
        flow.traffic.add_batch(times, sizes, self.buckets, total, lo, hi)

    def _protocol_traffic(self, protocol: str, times: _Times, sizes: list[int], total: int, lo: int,
                          hi: int) -> None:
        track = self._protocols.get(protocol)
        if track is None:
            if len(self._protocols) >= self.max_protocols:
                protocol = "(other)"
                track = self._protocols.get(protocol)
            if track is None:
                track = self._protocols[protocol] = _Buckets(times.t0, self.bucket_s)
                self._protocol_totals[protocol] = [0, 0]
        track.add_batch(times, sizes, self.buckets, total, lo, hi)
        totals = self._protocol_totals[protocol]
        totals[0] += len(sizes)
        totals[1] += total

    def message(self, flow_label: str, timestamp: float) -> None:
        """One decoded protocol message (either direction) of a flow: message timing."""
        self.message_batch(flow_label, [timestamp])

    def message_batch(self, flow_label: str, timestamps: list[float]) -> None:
        """Messages of one flow (either direction), in capture order: message timing."""
        ts, _ = self._finite(timestamps, None)
        if ts:
            flow = self._flow(flow_label, None, ts[0], len(ts))
            if flow is not None:
                flow.message_timing.add_batch(ts, self._zscores, self.time_resolution, self.bucket_s,
                                              self.buckets)

    def _finite(self, ts: list[float], other: list[int] | None) -> tuple[list[float], list[int]]:
        if all(map(_isfinite, ts)):
            return ts, other or []
        keep = list(map(_isfinite, ts))
        self.non_finite += len(ts) - sum(keep)
        return list(compress(ts, keep)), list(compress(other, keep)) if other else []

    # -- values ------------------------------------------------------------------------------

    def value(self, series: str, timestamp: float, value: float) -> None:
        """One observed value of a point or register, e.g. ``"10.0.0.5:502 u1 hr[40]"``."""
        t, v = timestamp, float(value)
        if not (math.isfinite(t) and math.isfinite(v)):
            self.non_finite += 1
            return
        s = self._series.get(series)
        if s is None:
            if len(self._series) >= self.max_series:
                self.series_dropped += 1
                return
            s = self._series[series] = _Series(t, self.bucket_s)
        self._series_batch(s, _Times([t]), [v])

    def values(self, series_base: str, start: int, timestamp: float, values: Sequence[float]) -> None:
        """The values of registers ``start``, ``start + 1``, ... in one message, at one time.

        The series are ``f"{series_base}[{start + i}]"`` (``"10.0.0.5:502 u1 hr"``,
        40 -> ``"10.0.0.5:502 u1 hr[40]"``). Buffered: see :meth:`flush`.
        """
        if not values:
            return
        if not math.isfinite(timestamp):
            self.non_finite += len(values)
            return
        self._buffer.add(series_base, start, timestamp, values)

    @property
    def _blocks(self) -> dict[BlockKey, _Block]:
        """The buffered blocks (for tests)."""
        return self._buffer.blocks

    @property
    def _buffered(self) -> int:
        """How many values are buffered (for tests)."""
        return self._buffer.buffered

    def open_block(self, series_base: str, start: int, count: int) -> None:
        """A register block is first seen: create its series now (series are in first-seen order).

        :meth:`values` does this through its buffer; a feeder buffering
        elsewhere (:class:`~..analytics_process.AnalyticsProcess`) calls it
        where the buffer opens a key, then :meth:`values_block` for its flushes.
        """
        self._open_block((series_base, start, count))

    def _open_block(self, key: BlockKey) -> list[_Series | None]:
        base, start, count = key
        series: list[_Series | None] = []
        for address in range(start, start + count):
            name = f"{base}[{address}]"
            s = self._series.get(name)
            if s is None and len(self._series) < self.max_series:
                # created empty; its first batch sets its first time and track origin
                s = self._series[name] = _Series(_INF, self.bucket_s)
            series.append(s)
        cache = self._block_series
        cache.pop(key, None)
        cache[key] = series
        if len(cache) > max(self.max_series, 1):  # the buffer forgot the oldest key too
            del cache[next(iter(cache))]
        return series

    def values_block(self, series_base: str, start: int, times: list[float],
                     rows: list[Sequence[float]]) -> None:
        """Process a buffered block at once, as a flush of :meth:`values` does.

        ``rows[i]`` are the values of registers ``start``, ``start + 1``, ...
        at ``times[i]`` (finite); all rows have the same length. The lists are
        kept only for the call.
        """
        if times:
            self._flush_block((series_base, start, len(rows[0])), times, rows)

    def flush(self) -> None:
        """Process every buffered value (:meth:`summary` and :meth:`plots` call this first)."""
        self._buffer.flush()

    def _flush_block(self, key: BlockKey, ts: list[float], rows: list[Sequence[float]]) -> None:
        series = self._block_series.get(key)
        if series is None:
            series = self._open_block(key)
        times = _Times(ts)
        for s, column in zip(series, zip(*rows, strict=True), strict=True):
            if s is None:
                self.series_dropped += times.n
            else:
                self._series_batch(s, times, column)

    def _series_batch(self, s: _Series, times: _Times, xs: Sequence[float]) -> None:
        n = times.n
        times.regression()
        if s.first == _INF:  # created by a block, first samples now
            s.first = s.last_time = times.ts[0] if times.ordered else min(times.ts)
            s.track.origin = s.first
        m = s.moments
        head = self._zscores.head(m.count, n)
        if head:
            a, b = times.split(head)
            self._series_batch(s, a, xs[:head])
            self._series_batch(s, b, xs[head:])
            return
        total = sum(xs)
        if type(total) is int:  # all integers (registers, coils): exact integer sums
            lo, hi = min(xs), max(xs)
            if lo > -_EXACT and hi < _EXACT:
                self._series_ints(s, times, xs, total, lo, hi, m.count >= self.warmup)
                return
            xs = [float(x) for x in xs]
            total = sum(xs)
        if not _isfinite(total):  # a NaN or an infinity among them (or an overflow): one by one
            for t, x in zip(times.ts, xs, strict=True):
                if _isfinite(x):
                    self._series_batch(s, _Times([t]), [float(x)])
                else:
                    self.non_finite += 1
            return
        lo, hi = min(xs), max(xs)
        if m.count >= self.warmup:
            self._zscores.judge(m, s.anomalies, times.ts, xs, lo, hi, 0.0)
        mean = total / n
        if n == 1:
            m2 = cxy = 0.0
        else:
            d = [x - mean for x in xs]
            m2 = sum(map(mul, d, d))
            cxy = sum(map(mul, times.ticks, d)) / _TICKS
        self._merge_series(s, times, xs, mean, m2, cxy, float(lo), float(hi), sum(map(ne, xs, xs[1:])))

    def _series_ints(self, s: _Series, times: _Times, xs: Sequence[int], total: int, lo: int, hi: int,
                     judge: bool) -> None:
        n = times.n
        if judge:
            self._zscores.judge(s.moments, s.anomalies, times.ts, xs, lo, hi, 0.0)
        if lo == hi:  # a constant batch: nothing varies, nothing to sum
            self._merge_series(s, times, xs, float(lo), 0.0, 0.0, float(lo), float(hi), 0)
            return
        squares = sum(map(_SQUARE, xs)) if lo >= 0 and hi < 65536 else sum(map(mul, xs, xs))
        m2 = (n * squares - total * total) / n
        cxy = (n * sum(map(mul, times.ticks, xs)) - times.sum_ticks * total) / n / _TICKS
        self._merge_series(s, times, xs, total / n, m2, cxy, float(lo), float(hi), sum(map(ne, xs, xs[1:])))

    def _merge_series(self, s: _Series, times: _Times, xs: Sequence[float], mean: float, m2: float,
                      cxy: float, lo: float, hi: float, changes: int) -> None:
        n = times.n
        m = s.moments
        if m.count and xs[0] != s.last:
            changes += 1
        s.changes += changes
        m.merge(n, mean, m2, lo, hi)
        s.trend.merge(n, times.mean - s.first, mean, times.cxx, cxy, m2)
        if times.ts[-1] >= s.last_time:  # the latest value (a series fed by several blocks)
            s.last = float(xs[-1])
        if times.tmax > s.last_time:
            s.last_time = times.tmax
        s.track.add_batch(times, xs, self.buckets, mean * n, lo, hi)

    # -- results -------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """JSON-able statistics; every float finite or ``None``. Keys:

        ``parameters``; ``frames``, ``bytes``, ``first_time``, ``last_time``;
        ``protocols``: {name: {frames, bytes}};
        ``flows``: {label: {protocol, frames, bytes, first_time, last_time,
        duration, mean_bandwidth_bps, ewma_bandwidth_bps (tau_short),
        ewma_bandwidth_long_bps (tau_long), peak_bandwidth_bps,
        rate_trend {slope_bps_per_s, r2}, interarrival and
        message_interarrival {count, mean, std, min, max, anomaly_count,
        time_reversals}, anomaly_count, first_anomaly, anomalies [{kind,
        timestamp, value, z, mean, std}]}} where ``kind`` is ``frame_interarrival`` or
        ``message_interarrival`` and ``value`` the interval in seconds;
        ``series``: {key: {count, mean, std, min, max, last, first_time,
        last_time, trend_per_s, r2, changes, change_rate_per_s,
        anomaly_count, first_anomaly, anomalies [{timestamp, value, z, mean,
        std}]}}; ``first_anomaly`` is the earliest (kept or not) or None;
        ``flows_dropped``, ``series_dropped`` (samples not tracked because
        the table was full), ``non_finite`` (samples ignored).
        Flows and series are in first-seen order; anomalies in time order.
        """
        self.flush()
        return summary_of(self)

    def plots(self, *, max_lines: int = 8, max_series: int = 12) -> dict[str, Any]:
        """Plot data for :func:`wireproof.harness.replay.html.render_html` (JSON-able).

        ``{"origin": first capture time or None,
           "traffic": [{"label", "points": [[t, bytes_per_s], ...]}]}``   per protocol;
        ``"flows": [...same...]``   the ``max_lines`` flows with most bytes;
        ``"timing": [{"label", "points": [[t, mean, min, max]], "anomalies": [[t, value, z]]}]``
            message (else frame) inter-arrival of the flows with timing anomalies;
        ``"series": [...same as timing...]``   the ``max_series`` series with most anomalies.
        Times are absolute capture times (bucket midpoints); traffic is bytes per second
        per bucket, idle buckets included as 0 (the last bucket's rate is over the part of
        it the capture covers); ``z`` may be ``None`` (infinite).
        """
        self.flush()
        return plots_of(self, max_lines=max_lines, max_series=max_series)

    def text(self, *, top: int = 5, origin: float | None = None) -> list[str]:
        """The human summary lines of :func:`summary_lines` for this run (times since ``origin``)."""
        return summary_lines(self.summary(), top=top, origin=origin)


