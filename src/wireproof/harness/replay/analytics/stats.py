"""The streaming statistics of the replay analytics: bounded state, merged a batch at a time.

The numeric building blocks the feeder (:mod:`.feeder`) keeps per flow and
per series: moments, the anomalies and the z-score rule that finds them,
least-squares trends, inter-arrival timing and the bandwidth estimator
(the time axis they share, a batch's times and the plot tracks, is
:mod:`.buckets`). Each keeps O(1) state (the anomalies
O(``max_anomalies``)). A batch is reduced with builtins over the whole
column and merged with the parallel formulas of Chan, Golub and LeVeque
(1979); what runs sample by sample is only the z-score test (and only when
the batch's extremes say it must) and the bandwidth recurrence.

Theory of operation
-------------------
*Moments* are the mean and population variance (ddof 0): Welford's update
for one sample, Chan's merge for a batch; O(1) state.

*Anomalies* are z-scores. A sample ``x`` is anomalous when, after a warm-up
of ``warmup`` samples, ``|x - mean| / std > k_sigma``, where ``mean`` and
``std`` are the statistics *as of the end of the previous batch*: the
samples of a batch are judged against what was known before it, then merged
(one sample is its own batch, so :meth:`.Analytics.value` judges every
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
kept (plus the first one and the total count).

*Trends* of values are least squares of value against capture time (the
co-moments merged like the moments; runs of identical points, such as idle
rate windows, in O(1)), slope in units per second and r^2; ``None`` where
undefined (fewer than two distinct times, or a constant series for r^2).
Within a batch of several samples times are taken in whole microseconds
from the batch's first one (:class:`.buckets._Times`: exact integer sums; a
capture clock ticks in microseconds anyway).

*Bandwidth* is an exponentially weighted moving average on irregular
events, time constant ``tau`` (1 s and 60 s by default): the interval
``dt`` since the previous frame has the rate ``nbytes / dt`` and weighs
``1 - exp(-dt / tau)`` (:func:`_ewma`), so a constant rate is measured
exactly (the first frame of a flow opens the first interval and is not
counted; frames at the same instant add the ``dt -> 0`` limit
``nbytes / tau``). The average starts at 0, which would under-read the
first ``tau`` seconds, so the reported value is divided by
``1 - exp(-elapsed / tau)``, the weight the intervals seen so far carry
(Adam's bias correction in continuous time, :func:`_corrected`).
``peak_bandwidth_bps`` is the highest corrected 1 s value once a flow is
at least ``tau_short`` old (before that it is a fencepost artefact). These
run frame by frame, in order, within a batch too. The *rate trend* is the
least-squares line through the byte rate of consecutive ``rate_window``
windows (idle windows count as 0; the unfinished last window is left out).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from operator import mul, sub
from typing import Any

from wireproof.harness.replay.analytics.buckets import _Buckets, _Times

_INF = math.inf
_isfinite = math.isfinite
_expm1 = math.expm1
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


class _ZScores:
    """The anomaly rule of the module docstring: ``|x - mean| / std > k_sigma`` after ``warmup``."""

    __slots__ = ("k_sigma", "keep", "warmup")

    def __init__(self, k_sigma: float, warmup: int, keep: int) -> None:
        self.k_sigma = k_sigma
        self.warmup = warmup
        self.keep = keep  # anomalies kept per track (max_anomalies)

    @staticmethod
    def scale(m: _Moments, floor: float) -> float:
        """The std a sample is judged against (see the module docstring)."""
        std = m.std
        # The relative floor absorbs float noise of a near-constant series; an exactly
        # constant one (std 0) keeps std 0, and any change from it is infinitely unusual.
        return max(std, floor, 1e-9 * abs(m.mean)) if std > 0 else floor

    def head(self, count: int, n: int) -> int:
        """Where to split a batch of ``n`` samples that follows ``count`` samples (0: don't).

        A batch that completes the warm-up is split there. After it, a batch
        holds at most an eighth as many samples as the statistics it is judged
        against (30 -> 3, then 33 -> 4, ...; full batches from 8 * ``batch``
        samples on): young statistics are never stale by more than 1/8.
        """
        head = self.warmup - count if count < self.warmup else max(count // _STALENESS, 1)
        return head if head < n else 0

    def judge(self, m: _Moments, anomalies: _Anomalies, ts: Sequence[float], xs: Sequence[float],
              lo: float, hi: float, floor: float) -> None:
        """Record the samples of a batch anomalous against ``m`` (not yet merged), if any."""
        mean, k = m.mean, self.k_sigma
        scale = self.scale(m, floor)
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
                anomalies.add(self.keep, t, x, z, mean, std)


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


class _Timing:
    """Inter-arrival statistics and timing anomalies of one kind of event in one flow."""

    __slots__ = ("anomalies", "last", "moments", "reversals", "track")

    def __init__(self) -> None:
        self.moments = _Moments()
        self.anomalies = _Anomalies()
        self.last: float | None = None
        self.reversals = 0
        self.track: _Buckets | None = None

    def add_batch(self, ts: list[float], rule: _ZScores, floor: float, bucket_s: float,
                  nbuckets: int) -> None:
        """Events at ``ts`` (capture order): their intervals judged by ``rule`` (std ``floor``),
        merged, and added to the track (``nbuckets`` buckets, first ``bucket_s`` wide)."""
        last = self.last
        if last is None:
            self.last = ts[0]
            ts = ts[1:]
            if not ts:
                return
            last = self.last
        prev = [last]
        prev += ts[:-1]
        gaps = list(map(sub, ts, prev))
        lo = min(gaps)
        if lo < 0:  # a clock step or a merged capture: no interval to learn from; one by one
            for t in ts:
                if t < last:
                    self.reversals += 1
                else:
                    self._merge(rule, floor, bucket_s, nbuckets, [t], [t - last])
                    last = t
            self.last = last
            return
        self._merge(rule, floor, bucket_s, nbuckets, ts, gaps)
        self.last = ts[-1]

    def _merge(self, rule: _ZScores, floor: float, bucket_s: float, nbuckets: int, ts: list[float],
               gaps: list[float]) -> None:
        m = self.moments
        head = rule.head(m.count, len(gaps))
        if head:
            self._merge(rule, floor, bucket_s, nbuckets, ts[:head], gaps[:head])
            self._merge(rule, floor, bucket_s, nbuckets, ts[head:], gaps[head:])
            return
        n = len(gaps)
        lo, hi = min(gaps), max(gaps)
        if m.count >= rule.warmup:
            rule.judge(m, self.anomalies, ts, gaps, lo, hi, floor)
        mean = sum(gaps) / n
        if n == 1:
            m2 = 0.0
        else:
            d = [g - mean for g in gaps]
            m2 = sum(map(mul, d, d))
        m.merge(n, mean, m2, lo, hi)
        if self.track is None:
            self.track = _Buckets(ts[0], bucket_s)
        self.track.add_batch(_Times(ts, True), gaps, nbuckets, mean * n, lo, hi)

    def as_dict(self) -> dict[str, Any]:
        return {**self.moments.as_dict(), "anomaly_count": self.anomalies.count,
                "time_reversals": self.reversals}


class _Bandwidth:
    """The bandwidth of one flow: EWMAs over ``tau_short`` and ``tau_long``, their peak, and the
    rate trend over ``rate_window`` windows (see the module docstring)."""

    __slots__ = ("ew_long", "ew_short", "ew_t", "first", "peak", "rate", "rw_bytes", "rw_index")

    def __init__(self, t: float) -> None:
        self.first = self.ew_t = t  # the flow's first time: the origin of the windows and of elapsed
        self.ew_short = self.ew_long = 0.0
        self.peak: float | None = None
        self.rate = _Regression()
        self.rw_index = 0.0
        self.rw_bytes = 0.0

    def add_batch(self, ts: list[float], sizes: list[int], new: bool, tau_s: float, tau_l: float,
                  w: float) -> None:
        """Frames of ``sizes[i]`` bytes at ``ts[i]``: a recurrence, run frame by frame.

        ``new``: the first frame of the flow (it opens the first interval);
        ``tau_s``, ``tau_l`` the EWMAs' time constants, ``w`` the rate window.
        """
        first = self.first
        ew_t, es, el, peak = self.ew_t, self.ew_short, self.ew_long, self.peak
        rw_index, rw_bytes, rate = self.rw_index, self.rw_bytes, self.rate
        for t, nbytes in zip(ts, sizes, strict=True):
            dt = t - ew_t
            if dt > 0:  # _ewma() twice, inlined
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
        self.ew_t, self.ew_short, self.ew_long, self.peak = ew_t, es, el, peak
        self.rw_index, self.rw_bytes = rw_index, rw_bytes


def _ewma(rate: float, nbytes: int, dt: float, tau: float) -> float:
    """One step of the interval-weighted EWMA: rate ``nbytes / dt`` weighing ``1 - e^(-dt/tau)``."""
    weight = -math.expm1(-dt / tau)
    return rate * (1.0 - weight) + nbytes / dt * weight


def _corrected(ewma: float, tau: float, elapsed: float) -> float | None:
    """Bias-corrected EWMA rate (see the module docstring); None before any time has passed."""
    if not elapsed > 0:
        return None
    return _num(ewma / -math.expm1(-elapsed / tau))

