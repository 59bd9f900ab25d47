"""The results of the replay analytics: the state of an Analytics turned into JSON, plots and text.

Three readers, three shapes: :func:`summary_of` is the ``analytics`` object of
the ``wireproof.replay/1`` JSON document (:meth:`.Analytics.summary` lists its
keys), :func:`plots_of` the data the HTML report draws
(:meth:`.Analytics.plots`), :func:`summary_lines` the lines the CLI prints,
made from a summary dict alone (so from a saved JSON document too).

Nothing here changes the state or computes a statistic anew: it reads
what :mod:`.feeder` kept (a caller flushes the value buffer first, as the
Analytics methods do) and only arranges it. Finite inputs can still
overflow (``1e308 - -1e308``), so every float goes through
:func:`.stats._num`: a non-finite number in the output is written as
``None`` (JSON ``null``), and a plot point that is not finite is left out.
Flows and series are in first-seen order (dicts keep it), anomalies in time
order, and every sort has a deterministic tie-break (Python's sort is
stable), so the output is the same every run.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from wireproof.harness.replay.analytics.buckets import _Buckets
from wireproof.harness.replay.analytics.stats import _Anomalies, _corrected, _num

if TYPE_CHECKING:
    from wireproof.harness.replay.analytics.feeder import Analytics, _Flow, _Series

__all__ = ["plots_of", "summary_of", "summary_lines"]


def summary_of(a: Analytics) -> dict[str, Any]:
    """The JSON-able statistics of ``a`` (keys: :meth:`.Analytics.summary`); flushed by the caller."""
    return {
        "parameters": {"k_sigma": a.k_sigma, "warmup": a.warmup, "tau_short_s": a.tau_short,
                       "tau_long_s": a.tau_long, "rate_window_s": a.rate_window,
                       "time_resolution_s": a.time_resolution, "max_flows": a.max_flows,
                       "max_series": a.max_series, "max_anomalies": a.max_anomalies,
                       "buckets": a.buckets},
        "frames": a.frames,
        "bytes": a.bytes,
        "first_time": None if a.first is None else _num(a.first),
        "last_time": None if a.last is None else _num(a.last),
        "protocols": {p: {"frames": f, "bytes": b} for p, (f, b) in a._protocol_totals.items()},
        "flows": {label: _flow_dict(a, f) for label, f in a._flows.items()},
        "series": {key: _series_dict(s) for key, s in a._series.items()},
        "flows_dropped": a.flows_dropped,
        "series_dropped": a.series_dropped,
        "non_finite": a.non_finite,
    }


def _flow_dict(a: Analytics, f: _Flow) -> dict[str, Any]:
    duration = f.last - f.first
    bw = f.bandwidth
    elapsed = bw.ew_t - f.first
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
        "ewma_bandwidth_bps": _corrected(bw.ew_short, a.tau_short, elapsed),
        "ewma_bandwidth_long_bps": _corrected(bw.ew_long, a.tau_long, elapsed),
        "peak_bandwidth_bps": None if bw.peak is None else _num(bw.peak),
        "rate_trend": bw.rate.as_dict("slope_bps_per_s"),
        "interarrival": f.frame_timing.as_dict(),
        "message_interarrival": f.message_timing.as_dict(),
        "anomaly_count": f.frame_timing.anomalies.count + f.message_timing.anomalies.count,
        "first_anomaly": firsts[0] if firsts else None,
        "anomalies": anomalies,
    }


def _series_dict(s: _Series) -> dict[str, Any]:
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


def plots_of(a: Analytics, *, max_lines: int, max_series: int) -> dict[str, Any]:
    """The plot data of ``a`` (shape: :meth:`.Analytics.plots`); flushed by the caller."""
    flows = sorted(a._flows.items(), key=lambda kv: -kv[1].bytes)[:max_lines]
    timing: list[dict[str, Any]] = []
    anomalous = [(label, f) for label, f in a._flows.items()
                 if f.message_timing.anomalies.count or f.frame_timing.anomalies.count]
    anomalous.sort(key=lambda kv: -(kv[1].message_timing.anomalies.count
                                    + kv[1].frame_timing.anomalies.count))
    for label, f in anomalous[:max_series]:
        tm = f.message_timing if f.message_timing.anomalies.count else f.frame_timing
        kind = "messages" if tm is f.message_timing else "frames"
        if tm.track is not None:
            timing.append(_value_plot(f"{label} ({kind})", tm.track, tm.anomalies))
    series = [(k, s) for k, s in a._series.items() if s.anomalies.count]
    series.sort(key=lambda kv: -kv[1].anomalies.count)
    return {
        "origin": None if a.first is None else _num(a.first),
        "traffic": [_traffic_plot(p, b, a.last) for p, b in a._protocols.items()],
        "flows": [_traffic_plot(label, f.traffic, f.last) for label, f in flows],
        "timing": timing,
        "series": [_value_plot(k, s.track, s.anomalies) for k, s in series[:max_series]],
    }


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


def summary_lines(summary: dict[str, Any], *, top: int = 5, origin: float | None = None) -> list[str]:
    """Lines of text for the CLI from a :meth:`Analytics.summary` dict (or its JSON).

    Times are seconds since ``origin``: the capture's first frame, which the
    replay passes (the analytics' own first time, the default, is the first
    frame of a flow it tracked, which may come later). The ``top`` flows by bandwidth,
    then the flows with timing anomalies and the series with value anomalies
    (most anomalies first), each with its first anomaly.
    """
    lines: list[str] = []
    flows: dict[str, Any] = summary.get("flows", {})
    series: dict[str, Any] = summary.get("series", {})
    if origin is None:
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
    at = "?" if t is None else f"{t - origin:.6f} s"
    return (f"; first at {at}: {_fmt(a.get('value'))} (z={z}, "
            f"mean {_fmt(a.get('mean'))}, std {_fmt(a.get('std'))})")
