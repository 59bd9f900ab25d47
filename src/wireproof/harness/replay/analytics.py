"""Traffic and value analytics of a replayed capture: streaming, bounded, deterministic.

The analyzers feed it as the capture streams past, and the replay asks for
:meth:`Analytics.summary` (JSON) and :meth:`Analytics.plots` (for the HTML
report) at the end::

    a = Analytics()
    a.frame("10.0.0.1:49152 > 10.0.0.5:502", "modbus-tcp", t, len(payload))
    a.message("10.0.0.1:49152 > 10.0.0.5:502", t)
    a.value("10.0.0.5:502 u1 hr[40]", t, 1234.0)
    a.values("10.0.0.5:502 u1 hr", 40, t, (1234, 1235, 7))   # hr[40], hr[41], hr[42]

Theory of operation
-------------------
Time is an input: every estimate runs on *capture* time (the frame
timestamps), never on the wall clock, so a replay gives the same numbers at
any speed, on any machine, every time. Nothing iterates a set or hashes a
float, so the output is deterministic.

*Batches.* A replay feeds millions of samples, so the statistics are
updated a batch at a time: :meth:`Analytics.frame_batch`,
:meth:`~Analytics.message_batch` (the engine buffers each flow's frames and
messages) and :meth:`~Analytics.values` (one register block of one message;
buffered here by a :class:`ValueBuffer`, per block, up to ``batch``
messages, and flushed by :meth:`~Analytics.flush`, which
:meth:`~Analytics.summary` and :meth:`~Analytics.plots` call first; a block's
series are created when the buffer first sees it, so series are in
first-seen order). A feeder that buffers elsewhere (the analytics process,
:mod:`.analytics_process`) hands the same blocks to
:meth:`~Analytics.open_block` and :meth:`~Analytics.values_block`, with
the same result. The single-sample methods
(:meth:`~Analytics.frame`, :meth:`~Analytics.message`,
:meth:`~Analytics.value`) are batches of one. A batch is reduced with
builtins over the whole column (``sum``, ``min``, ``max``, ``map``; integer
values, as registers and coils are, exactly in integers) and merged into
the running statistics with the parallel formulas of Chan, Golub and
LeVeque (1979). Memory stays bounded: a buffer holds at most ``batch``
messages per block and ``max_buffered`` values in all (beyond that
everything is flushed), at most ``max_series`` blocks are buffered.

*Moments* are the mean and population variance (ddof 0): Welford's update
for one sample, Chan's merge for a batch; O(1) state.

*Anomalies* are z-scores. A sample ``x`` is anomalous when, after a warm-up
of ``warmup`` samples, ``|x - mean| / std > k_sigma``, where ``mean`` and
``std`` are the statistics *as of the end of the previous batch*: the
samples of a batch are judged against what was known before it, then merged
(one sample is its own batch, so :meth:`~Analytics.value` judges every
sample against all the samples before it). A batch that completes the
warm-up is split: its first samples, up to the warm-up count, are merged
unjudged, the rest judged against the statistics including them. Young
statistics judge smaller batches: a batch holds at most an eighth as many
samples as the statistics it is judged against (batches are split to
that), so they are never more than 1/8 stale; from ``8 * batch`` samples on
a series takes whole batches. So a lasting step change gives a burst of
anomalies that starts exactly at the step (every sample after it in its
batch is judged against the old level) and fades once the batches merged
after it have absorbed the new level: the burst is longer than
sample-by-sample judging would give by up to a batch, and a slow drift
near ``k_sigma`` is flagged somewhat more often. The mean and std reported
with an anomaly are those it was judged against.
``std`` has a floor: ``time_resolution`` for timing (capture clocks tick in
microseconds, and a float epoch timestamp carries ~2e-7 s of rounding, so a
perfectly regular poll is not "anomalous" by a rounding error), and a
nonzero std is at least ``1e-9 * |mean|`` (float noise of a near-constant
series). A series constant until a change has std 0, and its z is infinite:
JSON ``null``. Per track only the ``max_anomalies`` most extreme samples are
kept (plus the first one and the total count). Batches of a series fed by
several register blocks (overlapping reads, or reads and writes of one
register) are merged in the order they are flushed; ``changes`` (a value
different from the one before) compares consecutive samples in that order.

*Bandwidth* is an exponentially weighted moving average on irregular
events, time constant ``tau`` (1 s and 60 s by default): the interval
``dt`` since the previous frame has the rate ``nbytes / dt`` and weighs
``1 - exp(-dt / tau)``, so a constant rate is measured exactly (the first
frame of a flow opens the first interval and is not counted; frames at the
same instant add the ``dt -> 0`` limit ``nbytes / tau``). The average starts
at 0, which would under-read the first ``tau`` seconds, so the reported
value is divided by ``1 - exp(-elapsed / tau)``, the weight the intervals
seen so far carry (Adam's bias correction in continuous time).
``peak_bandwidth_bps`` is the highest corrected 1 s value once a flow is
at least ``tau_short`` old (before that it is a fencepost artefact). These
run frame by frame, in order, within a batch too. The *rate trend* is the
least-squares line through the byte rate of consecutive ``rate_window``
windows (idle windows count as 0; the unfinished last window is left out).

*Trends* of values are least squares of value against capture time (the
co-moments merged like the moments; runs of identical points, such as idle
rate windows, in O(1)), slope in units per second and r^2; ``None`` where
undefined (fewer than two distinct times, or a constant series for r^2).
Within a batch of several samples times are taken in whole microseconds
from the batch's first one (exact integer sums; a capture clock ticks in
microseconds anyway).

*Plots* keep, per flow and per series, at most ``buckets`` time buckets of
(count, sum, min, max). Buckets start ``bucket_s`` wide; when a sample falls
beyond the last one, neighbouring buckets are merged pairwise and the width
doubles, so a series keeps O(``buckets``) memory however long the capture.
Only non-empty buckets are stored.

Bounds: at most ``max_flows`` flows and ``max_series`` series are tracked;
samples for others are counted in ``flows_dropped`` / ``series_dropped``
(samples, not distinct keys: counting distinct keys would be unbounded).
Non-finite inputs (NaN, infinities) are counted in ``non_finite`` and
otherwise ignored. Finite inputs can still overflow (``1e308 - -1e308``); any
non-finite number in the output is written as ``None`` (JSON ``null``).
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from itertools import compress
from operator import add as _add
from operator import le, mul, ne, sub
from typing import Any

from wireproof.errors import HarnessError

__all__ = ["Analytics", "BlockKey", "ValueBuffer", "summary_lines"]

_INF = math.inf
_isfinite = math.isfinite
_expm1 = math.expm1
_SQUARES = [i * i for i in range(65536)]  # a register's square by lookup: 3x faster than map(mul)
_SQUARE = _SQUARES.__getitem__
_TICKS = 1_000_000  # within a batch, times in whole microseconds (exact integer sums)
_EXACT = 2 ** 53  # integer sums beyond this are done in floats
_STALENESS = 8  # a batch has at most 1/_STALENESS as many samples as the statistics judging it


def _num(x: float) -> float | None:
    """``x`` if it is finite, else ``None`` (JSON has no NaN or infinities)."""
    return x if math.isfinite(x) else None


class _Moments:
    """Mean / population variance (Welford, Chan's merge for batches), with min and max."""

    __slots__ = ("count", "m2", "max", "mean", "min")

    def __init__(self) -> None:
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0
        self.min = _INF
        self.max = -_INF

    def add(self, x: float) -> None:
        self.count += 1
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)
        if x < self.min:
            self.min = x
        if x > self.max:
            self.max = x

    def merge(self, n: int, mean: float, m2: float, lo: float, hi: float) -> None:
        """Merge a batch of ``n`` samples with that mean, sum of squared deviations, min and max."""
        na = self.count
        total = na + n
        delta = mean - self.mean
        self.m2 += m2 + delta * delta * (na * n / total)
        self.mean += delta * (n / total)
        self.count = total
        if lo < self.min:
            self.min = lo
        if hi > self.max:
            self.max = hi

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count and self.m2 > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        if not self.count:
            return {"count": 0, "mean": None, "std": None, "min": None, "max": None}
        return {"count": self.count, "mean": _num(self.mean), "std": _num(self.std),
                "min": _num(self.min), "max": _num(self.max)}


class _Anomalies:
    """The most extreme anomalies of one track, the first one, and how many there were."""

    __slots__ = ("count", "first", "heap")

    def __init__(self) -> None:
        self.count = 0
        self.first: tuple[float, float, float, float, float] | None = None
        # (|z|, -sequence, t, value, z, mean, std): a min-heap, so the least extreme is
        # replaced; on equal |z| the earlier anomaly wins (deterministic).
        self.heap: list[tuple[float, int, float, float, float, float, float]] = []

    def add(self, keep: int, t: float, value: float, z: float, mean: float, std: float) -> None:
        self.count += 1
        if self.first is None or t < self.first[0]:
            self.first = (t, value, z, mean, std)
        entry = (abs(z), -self.count, t, value, z, mean, std)
        if len(self.heap) < keep:
            heapq.heappush(self.heap, entry)
        elif keep and entry > self.heap[0]:
            heapq.heapreplace(self.heap, entry)

    def first_record(self, **extra: str) -> dict[str, Any] | None:
        if self.first is None:
            return None
        t, value, z, mean, std = self.first
        return _record(t, value, z, mean, std, **extra)

    def records(self, **extra: str) -> list[dict[str, Any]]:
        """Kept anomalies in time order (then in arrival order)."""
        kept = sorted(self.heap, key=lambda e: (e[2], -e[1]))
        return [_record(e[2], e[3], e[4], e[5], e[6], **extra) for e in kept]


def _record(t: float, value: float, z: float, mean: float, std: float, **extra: str) -> dict[str, Any]:
    return {**extra, "timestamp": _num(t), "value": _num(value), "z": _num(z),
            "mean": _num(mean), "std": _num(std)}


class _Regression:
    """Online least squares y = a + b x (co-moments, Welford / Chan updates)."""

    __slots__ = ("cxx", "cxy", "cyy", "mx", "my", "n")

    def __init__(self) -> None:
        self.n = 0.0
        self.mx = self.my = self.cxx = self.cxy = self.cyy = 0.0

    def add(self, x: float, y: float) -> None:
        self.n += 1
        dx = x - self.mx
        self.mx += dx / self.n
        dy = y - self.my
        self.my += dy / self.n
        self.cxx += dx * (x - self.mx)
        self.cxy += dx * (y - self.my)
        self.cyy += dy * (y - self.my)

    def merge(self, k: float, mx: float, my: float, cxx: float, cxy: float, cyy: float) -> None:
        """Merge ``k`` points with these means and co-moments (Chan et al.)."""
        n = self.n + k
        dx = mx - self.mx
        dy = my - self.my
        w = self.n * k / n
        self.cxx += cxx + dx * dx * w
        self.cxy += cxy + dx * dy * w
        self.cyy += cyy + dy * dy * w
        self.mx += dx * k / n
        self.my += dy * k / n
        self.n = n

    def add_run(self, x0: float, step: float, k: float, y: float) -> None:
        """Add the ``k`` points (x0 + i*step, y), i = 0..k-1, in O(1) (Chan et al. merge)."""
        if k <= 0:
            return
        self.merge(k, x0 + step * (k - 1) / 2, y, step * step * k * (k * k - 1) / 12, 0.0, 0.0)

    def as_dict(self, slope_key: str) -> dict[str, Any]:
        slope = self.cxy / self.cxx if self.cxx > 0 else None
        den = self.cxx * self.cyy  # may underflow to 0 although both are positive
        r2 = self.cxy * self.cxy / den if self.cxx > 0 and den > 0 else None
        return {slope_key: None if slope is None else _num(slope),
                "r2": None if r2 is None else _num(min(r2, 1.0))}


class _Buckets:
    """Downsampled track: at most ``nbuckets`` time buckets of (count, sum, min, max).

    Only non-empty buckets are stored, column-wise: ``index`` holds their
    bucket numbers (sorted), ``counts``, ``sums``, ``mins``, ``maxs`` their
    statistics, so a batch appends and a coarsening merges with builtins.
    """

    __slots__ = ("counts", "index", "maxs", "mins", "origin", "sums", "width")

    def __init__(self, origin: float, width: float) -> None:
        self.origin = origin
        self.width = width
        self.index = array("q")
        self.counts = array("d")
        self.sums = array("d")
        self.mins = array("d")
        self.maxs = array("d")

    def _bucket(self, t: float, nbuckets: int) -> int:
        """The bucket of time ``t``, coarsening first if it lies beyond the last one."""
        d = t - self.origin
        pos = d / self.width if d > 0 else 0.0  # earlier than the origin: clamp to bucket 0
        if pos >= nbuckets and math.isfinite(self.width):
            width, doublings = self.width, 0
            while pos >= nbuckets and math.isfinite(width):
                width *= 2
                doublings += 1
                pos = d / width
            self._coarsen(doublings)
        return int(pos) if pos < nbuckets else nbuckets - 1  # only an overflowed (infinite) span

    def add(self, t: float, v: float, nbuckets: int) -> None:
        self._merge(self._bucket(t, nbuckets), 1.0, v, v, v)

    def add_batch(self, times: _Times, vs: Sequence[float], nbuckets: int,
                  total: float | None = None, lo: float = 0.0, hi: float = 0.0) -> None:
        """Add the samples ``(times.ts[i], vs[i])``.

        ``total``, ``lo`` and ``hi`` are ``sum(vs)``, ``min(vs)`` and
        ``max(vs)`` when the caller already has them.
        """
        ts = times.ts
        if not times.ordered:
            for t, v in zip(ts, vs, strict=True):
                self.add(t, v, nbuckets)
            return
        last = self._bucket(ts[-1], nbuckets)  # coarsen for the latest sample first
        first = self._bucket(ts[0], nbuckets)
        if first == last:  # the common case: the whole batch in one bucket
            if total is None:
                total, lo, hi = sum(vs), min(vs), max(vs)
            self._merge(first, float(len(vs)), total, lo, hi)
            return
        ids, bounds = times.segments(self.origin, self.width, nbuckets)
        parts = [vs[i:j] for i, j in bounds]
        counts = [float(j - i) for i, j in bounds]
        sums, mins, maxs = list(map(sum, parts)), list(map(min, parts)), list(map(max, parts))
        index = self.index
        k = 0
        if index and index[-1] >= ids[0]:  # the first bucket continues (or time went back)
            while k < len(ids) and ids[k] <= index[-1]:
                self._merge(ids[k], counts[k], sums[k], mins[k], maxs[k])
                k += 1
        index.extend(ids[k:])
        self.counts.extend(counts[k:])
        self.sums.extend(sums[k:])
        self.mins.extend(mins[k:])
        self.maxs.extend(maxs[k:])

    def _merge(self, i: int, count: float, total: float, lo: float, hi: float) -> None:
        index = self.index
        if index and index[-1] == i:
            j = len(index) - 1
        else:
            j = len(index) if not index or index[-1] < i else bisect_left(index, i)
            if j == len(index) or index[j] != i:  # a new bucket (inserted: time went backwards)
                index.insert(j, i)
                self.counts.insert(j, 0.0)
                self.sums.insert(j, 0.0)
                self.mins.insert(j, _INF)
                self.maxs.insert(j, -_INF)
        self.counts[j] += count
        self.sums[j] += total
        if lo < self.mins[j]:
            self.mins[j] = lo
        if hi > self.maxs[j]:
            self.maxs[j] = hi

    def _coarsen(self, doublings: int = 1) -> None:
        """Merge buckets pairwise ``doublings`` times; the width doubles as often (to infinity
        at worst: then all is bucket 0)."""
        for _ in range(doublings):
            self.width *= 2
            index = self.index
            if not index:
                continue
            if index[0] & 1:  # pair from an even bucket: an empty one in front
                index.insert(0, index[0] - 1)
                self._pad(0)
            if len(index) & 1:
                index.append(index[-1] + 1)
                self._pad(len(index) - 1)
            if index[-1] - index[0] == len(index) - 1:  # contiguous (a busy track): in bulk
                self.counts = array("d", map(_add, self.counts[0::2], self.counts[1::2]))
                self.sums = array("d", map(_add, self.sums[0::2], self.sums[1::2]))
                self.mins = array("d", map(min, self.mins[0::2], self.mins[1::2]))
                self.maxs = array("d", map(max, self.maxs[0::2], self.maxs[1::2]))
                self.index = array("q", range(index[0] >> 1, (index[-1] >> 1) + 1))
            else:
                self._coarsen_sparse()
            self._drop_empty()

    def _pad(self, j: int) -> None:
        self.counts.insert(j, 0.0)
        self.sums.insert(j, 0.0)
        self.mins.insert(j, _INF)
        self.maxs.insert(j, -_INF)

    def _coarsen_sparse(self) -> None:
        index, counts, sums, mins, maxs = array("q"), array("d"), array("d"), array("d"), array("d")
        for i, c, s, lo, hi in zip(self.index, self.counts, self.sums, self.mins, self.maxs, strict=True):
            i >>= 1
            if index and index[-1] == i:
                counts[-1] += c
                sums[-1] += s
                mins[-1] = min(mins[-1], lo)
                maxs[-1] = max(maxs[-1], hi)
            else:
                index.append(i)
                counts.append(c)
                sums.append(s)
                mins.append(lo)
                maxs.append(hi)
        self.index, self.counts, self.sums, self.mins, self.maxs = index, counts, sums, mins, maxs

    def _drop_empty(self) -> None:
        """Remove the padding buckets that stayed empty (only non-empty buckets are stored)."""
        if 0.0 not in self.counts:
            return
        keep = [c > 0 for c in self.counts]
        self.index = array("q", compress(self.index, keep))
        self.counts = array("d", compress(self.counts, keep))
        self.sums = array("d", compress(self.sums, keep))
        self.mins = array("d", compress(self.mins, keep))
        self.maxs = array("d", compress(self.maxs, keep))

    def buckets(self) -> list[tuple[int, float, float, float, float]]:
        """(bucket number, count, sum, min, max) of the non-empty buckets, in time order."""
        return list(zip(self.index, self.counts, self.sums, self.mins, self.maxs, strict=True))

    def midpoint(self, i: int) -> float:
        return self.origin + (i + 0.5) * self.width


class _Times:
    """The sample times of one batch, reduced once for every series the batch feeds."""

    __slots__ = ("_segments", "_split", "cxx", "mean", "n", "ordered", "sum_ticks", "t0", "ticks", "tmax",
                 "ts")

    def __init__(self, ts: list[float], ordered: bool | None = None) -> None:
        self.ts = ts
        self._segments: tuple[tuple[float, float], list[int], list[tuple[int, int]]] | None = None
        self._split: tuple[int, _Times, _Times] | None = None
        n = self.n = len(ts)
        self.t0 = ts[0]
        self.ordered = n < 2 or all(map(le, ts, ts[1:])) if ordered is None else ordered
        self.tmax = ts[-1] if self.ordered else max(ts)
        self.ticks: list[int] = []  # the rest when a series asks (regression())

    def regression(self) -> None:
        """Times in whole microseconds from the first: their sum, mean and co-moment."""
        if self.ticks:
            return
        ts, n, t0 = self.ts, self.n, self.t0
        if n == 1:
            self.ticks = [0]
            self.sum_ticks = 0
            self.mean = t0
            self.cxx = 0.0
            return
        ticks = self.ticks = [round((t - t0) * _TICKS) for t in ts]
        sw = self.sum_ticks = sum(ticks)
        self.mean = t0 + sw / n / _TICKS
        self.cxx = (n * sum(map(mul, ticks, ticks)) - sw * sw) / n / (_TICKS * _TICKS)

    def split(self, k: int) -> tuple[_Times, _Times]:
        """The first ``k`` times and the rest; cached (the block's series split alike)."""
        if self._split is None or self._split[0] != k:
            ordered = self.ordered or None
            self._split = (k, _Times(self.ts[:k], ordered), _Times(self.ts[k:], ordered))
        return self._split[1], self._split[2]

    def segments(self, origin: float, width: float, nbuckets: int) -> tuple[list[int], list[tuple[int, int]]]:
        """The buckets of ordered times on the grid ``origin + i * width`` and the
        ``(start, end)`` of each bucket's run of samples; cached for the block's other series."""
        key = (origin, width)
        if self._segments is not None and self._segments[0] == key:
            return self._segments[1], self._segments[2]
        last = nbuckets - 1  # only an overflowed (infinite) span reaches past it

        def bucket(t: float) -> int:
            return min(int((t - origin) / width), last) if t > origin else 0

        # The times are ordered and bucket() is monotone (subtraction and division round
        # monotonically), so each bucket's run ends where bisection says: a few calls per
        # bucket instead of one per sample, and the same runs.
        ts = self.ts
        ids: list[int] = []
        bounds: list[tuple[int, int]] = []
        i, n = 0, len(ts)
        while i < n:
            b = bucket(ts[i])
            j = bisect_right(ts, b, lo=i + 1, key=bucket)
            ids.append(b)
            bounds.append((i, j))
            i = j
        self._segments = (key, ids, bounds)
        return ids, bounds


class _Timing:
    """Inter-arrival statistics and timing anomalies of one kind of event in one flow."""

    __slots__ = ("anomalies", "last", "moments", "reversals", "track")

    def __init__(self) -> None:
        self.moments = _Moments()
        self.anomalies = _Anomalies()
        self.last: float | None = None
        self.reversals = 0
        self.track: _Buckets | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**self.moments.as_dict(), "anomaly_count": self.anomalies.count,
                "time_reversals": self.reversals}


class _Flow:
    __slots__ = ("bytes", "ew_long", "ew_short", "ew_t", "first", "frame_timing", "frames", "last",
                 "message_timing", "peak", "protocol", "rate", "rw_bytes", "rw_index", "traffic")

    def __init__(self, protocol: str, t: float, bucket_s: float) -> None:
        self.protocol = protocol
        self.frames = 0
        self.bytes = 0
        self.first = self.last = self.ew_t = t
        self.ew_short = self.ew_long = 0.0
        self.peak: float | None = None
        self.frame_timing = _Timing()
        self.message_timing = _Timing()
        self.rate = _Regression()
        self.rw_index = 0.0
        self.rw_bytes = 0.0
        self.traffic = _Buckets(t, bucket_s)


class _Series:
    __slots__ = ("anomalies", "changes", "first", "last", "last_time", "moments", "track", "trend")

    def __init__(self, t: float, bucket_s: float) -> None:
        self.first = self.last_time = t
        self.last = 0.0
        self.changes = 0
        self.moments = _Moments()
        self.anomalies = _Anomalies()
        self.trend = _Regression()
        self.track = _Buckets(t, bucket_s)


BlockKey = tuple[str, int, int]
"""A register block of :meth:`Analytics.values`: ``(series_base, start, count)``."""


class _Block:
    """The buffered samples of one register block: one row of values per message."""

    __slots__ = ("rows", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.rows: list[Sequence[float]] = []


class ValueBuffer:
    """The buffer of :meth:`Analytics.values`: rows of register blocks, flushed a block at a time.

    Per block key ``(series_base, start, count)`` it holds the times and rows
    not yet processed. Flush triggers (the bounds of the module docstring): a
    block reaching ``batch`` rows is flushed; when ``max_buffered`` values are
    buffered in all, every block is (in first-seen order); at most
    ``max_keys`` keys are held (at least one): a new key beyond that flushes
    and forgets the oldest. A flush hands ``(key, times, rows)`` to ``flush``
    (the lists are handed over: the buffer starts new ones); ``opened(key)``
    is told of a key when it is first seen (again, after it was forgotten),
    before its first row. Both callbacks run after the buffer's state is
    updated, so an exception in one leaves the buffer consistent.
    """

    __slots__ = ("_flush", "_opened", "batch", "blocks", "buffered", "max_buffered", "max_keys")

    def __init__(self, flush: Callable[[BlockKey, list[float], list[Sequence[float]]], None], *,
                 batch: int, max_buffered: int, max_keys: int,
                 opened: Callable[[BlockKey], object] | None = None) -> None:
        self._flush = flush
        self._opened = opened
        self.batch = batch
        self.max_buffered = max_buffered
        self.max_keys = max_keys
        self.blocks: dict[BlockKey, _Block] = {}
        self.buffered = 0  # values (rows times count) held

    def add(self, series_base: str, start: int, timestamp: float, values: Sequence[float]) -> None:
        """Buffer one row (the caller has checked it is non-empty with a finite timestamp)."""
        key = (series_base, start, len(values))
        block = self.blocks.get(key)
        if block is None:
            block = self._open(key)
        block.times.append(timestamp)
        block.rows.append(values)
        self.buffered += len(values)
        if len(block.times) >= self.batch:
            self._flush_block(key, block)
        elif self.buffered >= self.max_buffered:
            self.flush()

    def _open(self, key: BlockKey) -> _Block:
        blocks = self.blocks
        if blocks and len(blocks) >= self.max_keys:  # bounded: give the oldest block up
            oldest = next(iter(blocks))
            self._flush_block(oldest, blocks.pop(oldest))
        if self._opened is not None:
            self._opened(key)
        block = blocks[key] = _Block()
        return block

    def flush(self) -> None:
        """Flush every block holding rows, in first-seen order of the keys."""
        for key, block in list(self.blocks.items()):
            self._flush_block(key, block)

    def _flush_block(self, key: BlockKey, block: _Block) -> None:
        times, rows = block.times, block.rows
        if not times:
            return
        block.times, block.rows = [], []
        self.buffered -= len(times) * key[2]
        self._flush(key, times, rows)


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

    # -- z-scores --------------------------------------------------------------------------------

    def _scale(self, m: _Moments, floor: float) -> float:
        """The std a sample is judged against (see the module docstring)."""
        std = m.std
        # The relative floor absorbs float noise of a near-constant series; an exactly
        # constant one (std 0) keeps std 0, and any change from it is infinitely unusual.
        return max(std, floor, 1e-9 * abs(m.mean)) if std > 0 else floor

    def _head(self, count: int, n: int) -> int:
        """Where to split a batch of ``n`` samples that follows ``count`` samples (0: don't).

        A batch that completes the warm-up is split there. After it, a batch
        holds at most an eighth as many samples as the statistics it is judged
        against (30 -> 3, then 33 -> 4, ...; full batches from 8 * ``batch``
        samples on): young statistics are never stale by more than 1/8.
        """
        head = self.warmup - count if count < self.warmup else max(count // _STALENESS, 1)
        return head if head < n else 0

    def _judge(self, m: _Moments, anomalies: _Anomalies, ts: Sequence[float], xs: Sequence[float],
               lo: float, hi: float, floor: float) -> None:
        """Record the samples of a batch anomalous against ``m`` (not yet merged), if any."""
        mean, k = m.mean, self.k_sigma
        scale = self._scale(m, floor)
        # The batch's min and max clear it in O(1) in the common case; the margin keeps the
        # bounds conservative, the exact z below decides.
        margin = k * scale * (1 - 1e-9)
        if mean - margin <= lo and hi <= mean + margin:
            return
        std = m.std
        for t, x in zip(ts, xs, strict=True):
            dev = x - mean
            z = dev / scale if scale > 0 else (0.0 if dev == 0 else math.copysign(_INF, dev))
            if abs(z) > k:
                anomalies.add(self.max_anomalies, t, x, z, mean, std)

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
        self._bandwidth(flow, ts, sizes, new)
        self._timing(flow.frame_timing, ts)
        flow.traffic.add_batch(times, sizes, self.buckets, total, lo, hi)

    def _bandwidth(self, flow: _Flow, ts: list[float], sizes: list[int], new: bool) -> None:
        """EWMA, peak and rate windows: a recurrence, run frame by frame."""
        tau_s, tau_l = self.tau_short, self.tau_long
        first, w = flow.first, self.rate_window
        ew_t, es, el, peak = flow.ew_t, flow.ew_short, flow.ew_long, flow.peak
        rw_index, rw_bytes, rate = flow.rw_index, flow.rw_bytes, flow.rate
        for t, nbytes in zip(ts, sizes, strict=True):
            dt = t - ew_t
            if dt > 0:
                weight = -_expm1(-dt / tau_s)
                es = es * (1.0 - weight) + nbytes / dt * weight
                weight = -_expm1(-dt / tau_l)
                el = el * (1.0 - weight) + nbytes / dt * weight
                ew_t = t
            elif not new:  # same instant (or earlier): the dt -> 0 limit, an impulse
                es += nbytes / tau_s
                el += nbytes / tau_l
            new = False
            elapsed = ew_t - first
            if elapsed >= tau_s:
                # past 40 tau the correction is 1 to the last bit: spare the exponential
                bw = es if elapsed > 40 * tau_s else es / -_expm1(-elapsed / tau_s)
                if _isfinite(bw) and (peak is None or bw > peak):
                    peak = bw
            q = (t - first) / w
            i = float(math.floor(q)) if q > 0 and _isfinite(q) else 0.0
            if i <= rw_index:
                rw_bytes += nbytes  # same window (or time went backwards: keep it in the current one)
            else:
                rate.add((rw_index + 0.5) * w, rw_bytes / w)
                rate.add_run((rw_index + 1.5) * w, w, i - rw_index - 1, 0.0)
                rw_index, rw_bytes = i, float(nbytes)
        flow.ew_t, flow.ew_short, flow.ew_long, flow.peak = ew_t, es, el, peak
        flow.rw_index, flow.rw_bytes = rw_index, rw_bytes

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
                self._timing(flow.message_timing, ts)

    def _finite(self, ts: list[float], other: list[int] | None) -> tuple[list[float], list[int]]:
        if all(map(_isfinite, ts)):
            return ts, other or []
        keep = list(map(_isfinite, ts))
        self.non_finite += len(ts) - sum(keep)
        return list(compress(ts, keep)), list(compress(other, keep)) if other else []

    def _timing(self, timing: _Timing, ts: list[float]) -> None:
        last = timing.last
        if last is None:
            timing.last = ts[0]
            ts = ts[1:]
            if not ts:
                return
            last = timing.last
        prev = [last]
        prev += ts[:-1]
        gaps = list(map(sub, ts, prev))
        lo = min(gaps)
        if lo < 0:  # a clock step or a merged capture: no interval to learn from; one by one
            for t in ts:
                if t < last:
                    timing.reversals += 1
                else:
                    self._timing_batch(timing, [t], [t - last])
                    last = t
            timing.last = last
            return
        self._timing_batch(timing, ts, gaps)
        timing.last = ts[-1]

    def _timing_batch(self, timing: _Timing, ts: list[float], gaps: list[float]) -> None:
        m = timing.moments
        head = self._head(m.count, len(gaps))
        if head:
            self._timing_batch(timing, ts[:head], gaps[:head])
            self._timing_batch(timing, ts[head:], gaps[head:])
            return
        n = len(gaps)
        lo, hi = min(gaps), max(gaps)
        if m.count >= self.warmup:
            self._judge(m, timing.anomalies, ts, gaps, lo, hi, self.time_resolution)
        mean = sum(gaps) / n
        if n == 1:
            m2 = 0.0
        else:
            d = [g - mean for g in gaps]
            m2 = sum(map(mul, d, d))
        m.merge(n, mean, m2, lo, hi)
        if timing.track is None:
            timing.track = _Buckets(ts[0], self.bucket_s)
        timing.track.add_batch(_Times(ts, True), gaps, self.buckets, mean * n, lo, hi)

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
        elsewhere (:class:`~.analytics_process.AnalyticsProcess`) calls it
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
        head = self._head(m.count, n)
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
            self._judge(m, s.anomalies, times.ts, xs, lo, hi, 0.0)
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
            self._judge(s.moments, s.anomalies, times.ts, xs, lo, hi, 0.0)
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
        return {
            "parameters": {"k_sigma": self.k_sigma, "warmup": self.warmup, "tau_short_s": self.tau_short,
                           "tau_long_s": self.tau_long, "rate_window_s": self.rate_window,
                           "time_resolution_s": self.time_resolution, "max_flows": self.max_flows,
                           "max_series": self.max_series, "max_anomalies": self.max_anomalies,
                           "buckets": self.buckets},
            "frames": self.frames,
            "bytes": self.bytes,
            "first_time": None if self.first is None else _num(self.first),
            "last_time": None if self.last is None else _num(self.last),
            "protocols": {p: {"frames": f, "bytes": b} for p, (f, b) in self._protocol_totals.items()},
            "flows": {label: self._flow_dict(f) for label, f in self._flows.items()},
            "series": {key: self._series_dict(s) for key, s in self._series.items()},
            "flows_dropped": self.flows_dropped,
            "series_dropped": self.series_dropped,
            "non_finite": self.non_finite,
        }

    def _flow_dict(self, f: _Flow) -> dict[str, Any]:
        duration = f.last - f.first
        elapsed = f.ew_t - f.first
        anomalies = (f.frame_timing.anomalies.records(kind="frame_interarrival")
                     + f.message_timing.anomalies.records(kind="message_interarrival"))
        anomalies.sort(key=lambda r: (r["timestamp"] is None, r["timestamp"] or 0.0))
        firsts = [r for r in (f.frame_timing.anomalies.first_record(kind="frame_interarrival"),
                              f.message_timing.anomalies.first_record(kind="message_interarrival"))
                  if r is not None]
        firsts.sort(key=lambda r: (r["timestamp"] is None, r["timestamp"] or 0.0))
        return {
            "protocol": f.protocol,
            "frames": f.frames,
            "bytes": f.bytes,
            "first_time": _num(f.first),
            "last_time": _num(f.last),
            "duration": _num(duration),
            "mean_bandwidth_bps": _num(f.bytes / duration) if duration > 0 else None,
            "ewma_bandwidth_bps": _corrected(f.ew_short, self.tau_short, elapsed),
            "ewma_bandwidth_long_bps": _corrected(f.ew_long, self.tau_long, elapsed),
            "peak_bandwidth_bps": None if f.peak is None else _num(f.peak),
            "rate_trend": f.rate.as_dict("slope_bps_per_s"),
            "interarrival": f.frame_timing.as_dict(),
            "message_interarrival": f.message_timing.as_dict(),
            "anomaly_count": f.frame_timing.anomalies.count + f.message_timing.anomalies.count,
            "first_anomaly": firsts[0] if firsts else None,
            "anomalies": anomalies,
        }

    def _series_dict(self, s: _Series) -> dict[str, Any]:
        span = s.last_time - s.first
        trend = s.trend.as_dict("trend_per_s")
        return {
            **s.moments.as_dict(),
            "last": _num(s.last),
            "first_time": _num(s.first),
            "last_time": _num(s.last_time),
            **trend,
            "changes": s.changes,
            "change_rate_per_s": _num(s.changes / span) if span > 0 else None,
            "anomaly_count": s.anomalies.count,
            "first_anomaly": s.anomalies.first_record(),
            "anomalies": s.anomalies.records(),
        }

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
        flows = sorted(self._flows.items(), key=lambda kv: -kv[1].bytes)[:max_lines]
        timing: list[dict[str, Any]] = []
        anomalous = [(label, f) for label, f in self._flows.items()
                     if f.message_timing.anomalies.count or f.frame_timing.anomalies.count]
        anomalous.sort(key=lambda kv: -(kv[1].message_timing.anomalies.count
                                        + kv[1].frame_timing.anomalies.count))
        for label, f in anomalous[:max_series]:
            tm = f.message_timing if f.message_timing.anomalies.count else f.frame_timing
            kind = "messages" if tm is f.message_timing else "frames"
            if tm.track is not None:
                timing.append(_value_plot(f"{label} ({kind})", tm.track, tm.anomalies))
        series = [(k, s) for k, s in self._series.items() if s.anomalies.count]
        series.sort(key=lambda kv: -kv[1].anomalies.count)
        return {
            "origin": None if self.first is None else _num(self.first),
            "traffic": [_traffic_plot(p, b, self.last) for p, b in self._protocols.items()],
            "flows": [_traffic_plot(label, f.traffic, f.last) for label, f in flows],
            "timing": timing,
            "series": [_value_plot(k, s.track, s.anomalies) for k, s in series[:max_series]],
        }

    def text(self, *, top: int = 5) -> list[str]:
        """The human summary lines of :func:`summary_lines` for this run."""
        return summary_lines(self.summary(), top=top)


def _ewma(rate: float, nbytes: int, dt: float, tau: float) -> float:
    """One step of the interval-weighted EWMA: rate ``nbytes / dt`` weighing ``1 - e^(-dt/tau)``."""
    weight = -math.expm1(-dt / tau)
    return rate * (1.0 - weight) + nbytes / dt * weight


def _corrected(ewma: float, tau: float, elapsed: float) -> float | None:
    """Bias-corrected EWMA rate (see the module docstring); None before any time has passed."""
    if not elapsed > 0:
        return None
    return _num(ewma / -math.expm1(-elapsed / tau))


def _traffic_plot(label: str, track: _Buckets, end: float | None) -> dict[str, Any]:
    buckets = track.buckets()
    points: list[list[float]] = []
    if buckets:
        by_index = {i: total for i, _c, total, _lo, _hi in buckets}
        last = buckets[-1][0]
        for i in range(buckets[0][0], last + 1):
            width = track.width
            if i == last and end is not None:
                # the capture ends inside the last bucket: its rate is over the part it covers
                # (at least half a bucket, lest one frame at its start look like a burst)
                width = min(width, max(end - (track.origin + i * width), width / 2))
            t, rate = track.midpoint(i), by_index.get(i, 0.0) / width
            if math.isfinite(t) and math.isfinite(rate):
                points.append([t, rate])
    return {"label": label, "points": points}


def _value_plot(label: str, track: _Buckets, anomalies: _Anomalies) -> dict[str, Any]:
    points = []
    for i, c, total, lo, hi in track.buckets():
        row = [track.midpoint(i), total / c, lo, hi]
        if all(math.isfinite(x) for x in row):
            points.append(row)
    marks = [[r["timestamp"], r["value"], r["z"]] for r in anomalies.records()
             if r["timestamp"] is not None and r["value"] is not None]
    return {"label": label, "points": points, "anomalies": marks, "anomaly_count": anomalies.count}


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x}{unit}"
    return f"{x:.6g}{unit}"


def summary_lines(summary: dict[str, Any], *, top: int = 5) -> list[str]:
    """Lines of text for the CLI from a :meth:`Analytics.summary` dict (or its JSON).

    Times are seconds since the first frame. The ``top`` flows by bandwidth,
    then the flows with timing anomalies and the series with value anomalies
    (most anomalies first), each with its first anomaly.
    """
    lines: list[str] = []
    flows: dict[str, Any] = summary.get("flows", {})
    series: dict[str, Any] = summary.get("series", {})
    origin = summary.get("first_time") or 0.0

    def bw(item: tuple[str, dict[str, Any]]) -> tuple[float, int]:
        f = item[1]
        return -(f.get("mean_bandwidth_bps") or 0.0), -int(f.get("bytes", 0))

    if flows:
        lines.append(f"Top flows by bandwidth ({min(top, len(flows))} of {len(flows)}):")
        for label, f in sorted(flows.items(), key=bw)[:top]:
            ia = f.get("message_interarrival") or {}
            if not ia.get("count"):
                ia = f.get("interarrival") or {}
            trend = (f.get("rate_trend") or {}).get("slope_bps_per_s")
            lines.append(f"  {label} [{f.get('protocol') or '?'}] {f.get('frames', 0)} frames "
                         f"{f.get('bytes', 0)} B, mean {_fmt(f.get('mean_bandwidth_bps'), ' B/s')}, "
                         f"ewma {_fmt(f.get('ewma_bandwidth_bps'), ' B/s')}, "
                         f"peak {_fmt(f.get('peak_bandwidth_bps'), ' B/s')}, trend {_fmt(trend, ' B/s/s')}, "
                         f"interval {_fmt(ia.get('mean'), ' s')} +- {_fmt(ia.get('std'), ' s')}")
    timing = sorted(((k, f) for k, f in flows.items() if f.get("anomaly_count")),
                    key=lambda kv: -kv[1]["anomaly_count"])
    if timing:
        lines.append(f"Timing anomalies in {len(timing)} flow(s):")
        for label, f in timing[:top]:
            lines.append(f"  {label}: {f['anomaly_count']} anomalous interval(s)" + _first(f, origin))
    anomalous = sorted(((k, s) for k, s in series.items() if s.get("anomaly_count")),
                       key=lambda kv: -kv[1]["anomaly_count"])
    if anomalous:
        lines.append(f"Anomalous series ({len(anomalous)} of {len(series)}):")
        for key, s in anomalous[:top]:
            lines.append(f"  {key}: {s['anomaly_count']} anomal{'y' if s['anomaly_count'] == 1 else 'ies'}, "
                         f"mean {_fmt(s.get('mean'))} std {_fmt(s.get('std'))} "
                         f"range [{_fmt(s.get('min'))}, {_fmt(s.get('max'))}] "
                         f"trend {_fmt(s.get('trend_per_s'), '/s')}" + _first(s, origin))
    elif series:
        lines.append(f"No anomalies in {len(series)} series.")
    dropped = [f"{summary[k]} {k.replace('_', ' ')}" for k in ("flows_dropped", "series_dropped")
               if summary.get(k)]
    if dropped:
        lines.append("Not tracked (tables full): " + ", ".join(dropped) + " samples")
    return lines


def _first(item: dict[str, Any], origin: float) -> str:
    anomalies = item.get("anomalies") or []
    if not anomalies and not item.get("first_anomaly"):
        return ""
    a = item.get("first_anomaly") or anomalies[0]
    z = "inf" if a.get("z") is None else f"{a['z']:+.1f}"
    t = a.get("timestamp")
    at = "?" if t is None else f"+{t - origin:.6f}s"
    return (f"; first at {at}: {_fmt(a.get('value'))} (z={z}, "
            f"mean {_fmt(a.get('mean'))}, std {_fmt(a.get('std'))})")
