"""The time axis of the replay analytics: a batch's times, and plot tracks that coarsen.

:class:`_Times` holds the sample times of one batch, reduced once for every
series the batch feeds (a register block feeds one series per register):
whether they are in order, the latest, their whole-microsecond ticks for
the trends of :mod:`.stats`, their runs per bucket for the tracks here.
:class:`_Buckets` is a track (a flow's or a protocol's traffic, a flow's
inter-arrival times, a series' values): per time bucket (count, sum, min,
max), enough for the HTML report to draw a mean line with a min-max band
(:func:`.render._value_plot`) or a byte rate (:func:`.render._traffic_plot`).

Theory of operation
-------------------
*Plots* keep, per flow and per series, at most ``buckets`` time buckets of
(count, sum, min, max). Buckets start ``bucket_s`` wide; when a sample falls
beyond the last one, neighbouring buckets are merged pairwise and the width
doubles, so a series keeps O(``buckets``) memory however long the capture.
Only non-empty buckets are stored.

A batch in time order is added a bucket at a time: the coarsening is done
once, for its latest sample, then the runs of samples that share a bucket
(:meth:`_Times.segments`, computed once for every series of a register
block) are reduced with builtins and appended. A batch that goes back in
time is added sample by sample (into earlier buckets, inserted where
needed).

*Batch times.* Within a batch of several samples times are taken in whole
microseconds from the batch's first one (exact integer sums; a capture
clock ticks in microseconds anyway).
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress
from operator import add as _add
from operator import le, mul

_INF = math.inf
_TICKS = 1_000_000  # within a batch, times in whole microseconds (exact integer sums)


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

