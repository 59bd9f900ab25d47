"""The replay report for people: one self-contained HTML page, inline SVG plots, no scripts.

``render_html(result, plots)`` takes the ``wireproof.replay/1`` JSON dict of
a replay (see ``wireproof replay --json``) and, optionally, the plot data of
:meth:`Analytics.plots <wireproof.harness.replay.analytics.Analytics.plots>`,
and returns the page: a header (file, format, frames, duration), traffic over
time, message and function counts per protocol, the findings with the hex
window around the offending byte highlighted, the flows (with their
analytics when the result carries them), and a chart per anomalous series
or flow timing, anomalies marked.

Every string from the capture (flow labels, messages, series keys, even the
file name) is escaped, and control characters are shown as ``\\xNN``: they
are device bytes and not ours to trust. The page is also well-formed XML, so
the SVG stays valid when cut out. Charts are drawn by :func:`svg_line_chart`,
a small line-chart writer (nice 1-2-5 ticks, legend, min/max band, markers
with ``<title>`` tooltips, which browsers show on hover without scripts).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from wireproof.harness.replay.analytics import Analytics

__all__ = ["Line", "nice_ticks", "render_html", "svg_line_chart", "write_html"]

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948",
            "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_MAX_ROWS = 1000  # findings / flows shown; the JSON has them all

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1150px;
 padding:0 1em;color:#222;line-height:1.35}
h1{font-size:1.5em;margin:.2em 0 .4em}
h2{font-size:1.15em;margin:1.6em 0 .5em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #d4d4d4;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}
td.nw{white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.kv{width:auto}
table.kv th{font-weight:normal;color:#555}
code,.hex,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.92em}
.hex{overflow-wrap:anywhere;max-width:26em}
td.hexcell{min-width:13em}
.hex mark{background:#e15759;color:#fff;border-radius:2px;padding:0 1px}
.hex mark.end{background:none;color:#e15759;font-weight:bold}
.flow{overflow-wrap:anywhere;min-width:11em}
.sev{font-weight:bold;padding:.05em .4em;border-radius:3px;white-space:nowrap}
.sev-error{background:#f6c6c6;color:#7a1010}
.sev-warning{background:#f2eeb0;color:#5c5400}
.sev-info{background:#dde8f6;color:#1d3f6e}
.chart{margin:.4em 0 1em}
.chart svg{width:100%;height:auto;display:block}
.muted{color:#777}
.damage{background:#f2eeb0;color:#5c5400;border:1px solid #d8cf6a;border-radius:4px;padding:.5em .8em}
details pre{white-space:pre-wrap;word-break:break-all;font-size:.85em}
"""


def _s(value: Any) -> str:
    """A value as escaped, XML-safe text."""
    text = value if isinstance(value, str) else str(value)
    return escape(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# -- number formatting -----------------------------------------------------------------------------

_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _si(x: float) -> str:
    """Compact number for axes and tables: 1.5k, 12M, 0.25, 3e-06."""
    a = abs(x)
    if a == 0:
        return "0"
    for scale, suffix in _SI:
        if a >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _s(value)


def _tick_label(x: float, step: float) -> str:
    if x == 0:
        return "0"
    if step >= 1000 or abs(x) >= 1e6:
        return _si(x)
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    if decimals > 6:
        return f"{x:.2g}"
    return f"{x:.{decimals}f}"


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """About ``target`` round tick values (1, 2 or 5 times a power of ten) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0]
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, target - 1)
    if not (math.isfinite(raw) and raw > 0):
        return [lo, hi]
    mag = 10.0 ** math.floor(math.log10(raw))
    step = next((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), 10 * mag)
    first = math.floor(lo / step) * step
    ticks = []
    k = 0
    while k < 100:
        t = first + k * step
        ticks.append(0.0 if abs(t) < step * 1e-9 else t)
        if t >= hi - step * 1e-9:
            break
        k += 1
    return ticks


# -- SVG line chart --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Line:
    """One series of a chart: points (x, y); optional (x, low, high) band; markers (x, y, tooltip)."""

    label: str
    points: Sequence[tuple[float, float]]
    band: Sequence[tuple[float, float, float]] = ()
    markers: Sequence[tuple[float, float, str]] = field(default_factory=tuple)


def svg_line_chart(lines: Sequence[Line], *, title: str, x_label: str, y_label: str,
                   width: int = 1100, height: int = 260, y_zero: bool = False,
                   y_format: Callable[[float], str] | None = None) -> str:
    """An inline ``<svg>`` line chart with axes, ticks, a legend, bands and markers.

    ``y_zero`` puts 0 on the y axis (rates); otherwise the axis fits the data.
    Each line is a ``<g class="series">``, each marker a ``<circle class="marker">``.
    """
    left, right, top, bottom = 72, 18, 30, 44
    per_row = max(1, (width - left - right) // 340)
    legend_rows = math.ceil(len(lines) / per_row) if lines else 0
    total_h = height + legend_rows * 18 + (6 if legend_rows else 0)
    pw, ph = width - left - right, height - top - bottom
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total_h}" '
           f'width="{width}" height="{total_h}" role="img" aria-label="{_s(title)}" '
           f'font-family="system-ui,sans-serif" font-size="12">',
           f"<title>{_s(title)}</title>",
           f'<text x="{left}" y="18" font-size="14" font-weight="600" fill="#222">{_s(title)}</text>']

    xs = [p[0] for ln in lines for p in ln.points] + [m[0] for ln in lines for m in ln.markers]
    ys = ([p[1] for ln in lines for p in ln.points] + [b[i] for ln in lines for b in ln.band for i in (1, 2)]
          + [m[1] for ln in lines for m in ln.markers])
    xs = [x for x in xs if math.isfinite(x)]
    ys = [y for y in ys if math.isfinite(y)]
    if not xs or not ys:
        out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafafa" stroke="#ccc"/>')
        out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph / 2:.1f}" text-anchor="middle" '
                   f'fill="#888">no data</text></svg>')
        return "".join(out)

    # x spans the data exactly (time has no natural padding); y is rounded out to its ticks
    xlo, xhi = min(xs), max(xs)
    xt = nice_ticks(xlo, xhi, 8)
    inside = [t for t in xt if xlo - 1e-9 * abs(xhi - xlo) <= t <= xhi + 1e-9 * abs(xhi - xlo)]
    if len(inside) >= 2:
        xt = inside
    ylo, yhi = min(ys), max(ys)
    if y_zero:
        ylo, yhi = min(0.0, ylo), max(0.0, yhi)
    yt = nice_ticks(ylo, yhi, 5)
    x0, x1 = (xlo, xhi) if len(inside) >= 2 else (min(xt[0], xlo), max(xt[-1], xhi))
    y0, y1 = min(yt[0], ylo), max(yt[-1], yhi)
    xspan = (x1 - x0) or 1.0
    yspan = (y1 - y0) or 1.0

    def px(x: float) -> float:
        return left + (x - x0) / xspan * pw

    def py(y: float) -> float:
        return top + ph - (y - y0) / yspan * ph

    fmt_y = y_format or _si
    ystep = yt[1] - yt[0] if len(yt) > 1 else 1.0
    xstep = xt[1] - xt[0] if len(xt) > 1 else 1.0
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#bbb"/>')
    grid, labels = [], []
    for t in yt:
        y = py(t)
        grid.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>')
        labels.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">'
                      f"{_s(fmt_y(t) if y_format else _tick_label(t, ystep))}</text>")
    for t in xt:
        x = px(t)
        grid.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#eee"/>')
        labels.append(f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" stroke="#888"/>'
                      f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" fill="#555">'
                      f"{_s(_tick_label(t, xstep))}</text>")
    out += grid + labels
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
    out.append(f'<text x="{left + pw / 2:.1f}" y="{top + ph + 34}" text-anchor="middle" fill="#333">'
               f"{_s(x_label)}</text>")
    out.append(f'<text transform="translate(16 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
               f'fill="#333">{_s(y_label)}</text>')

    for n, ln in enumerate(lines):
        color = _PALETTE[n % len(_PALETTE)]
        out.append(f'<g class="series" data-label="{_s(ln.label)}"><title>{_s(ln.label)}</title>')
        band = [b for b in ln.band if all(math.isfinite(v) for v in b)]
        if len(band) > 1:
            upper = " ".join(f"{px(x):.1f},{py(hi):.1f}" for x, _lo, hi in band)
            lower = " ".join(f"{px(x):.1f},{py(lo):.1f}" for x, lo, _hi in reversed(band))
            out.append(f'<polygon points="{upper} {lower}" fill="{color}" fill-opacity="0.15"/>')
        pts = [(x, y) for x, y in ln.points if math.isfinite(x) and math.isfinite(y)]
        if len(pts) == 1:
            out.append(f'<circle cx="{px(pts[0][0]):.1f}" cy="{py(pts[0][1]):.1f}" r="2.5" fill="{color}"/>')
        elif pts:
            coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.6" '
                       f'stroke-linejoin="round"/>')
        for x, y, tip in ln.markers:
            if math.isfinite(x) and math.isfinite(y):
                out.append(f'<circle class="marker" cx="{px(x):.1f}" cy="{py(y):.1f}" r="4.5" fill="#d62728" '
                           f'stroke="#fff" stroke-width="1.2"><title>{_s(tip)}</title></circle>')
        out.append("</g>")

    ly = height + 4
    col_w = (width - left - right) // per_row
    for n, ln in enumerate(lines):
        x = left + (n % per_row) * col_w
        y = ly + (n // per_row) * 18
        color = _PALETTE[n % len(_PALETTE)]
        text = ln.label if len(ln.label) <= 52 else ln.label[:50] + "\u2026"
        marks = f" ({len(ln.markers)} marked)" if ln.markers else ""
        out.append(f'<g class="legend"><rect x="{x}" y="{y}" width="14" height="4" fill="{color}"/>'
                   f'<text x="{x + 20}" y="{y + 6}" fill="#333">{_s(text + marks)}'
                   f"<title>{_s(ln.label)}</title></text></g>")
    out.append("</svg>")
    return "".join(out)


# -- page sections ---------------------------------------------------------------------------------

def _hex_window(hex_text: Any, offset: Any) -> str:
    """The window as spaced byte pairs, the byte at ``offset`` in a ``<mark>`` (past the end: a caret)."""
    text = hex_text if isinstance(hex_text, str) else ""
    if len(text) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", text):
        return f'<span class="hex">{_s(text)}</span>'
    pairs = [text[i:i + 2].lower() for i in range(0, len(text), 2)]
    at = offset if isinstance(offset, int) and not isinstance(offset, bool) else -1
    parts = [f"<mark>{p}</mark>" if i == at else p for i, p in enumerate(pairs)]
    if at == len(pairs):
        parts.append('<mark class="end" title="the message ends here">\u2038</mark>')
    return f'<span class="hex">{" ".join(parts)}</span>'


def _when(t: Any, origin: float | None) -> str:
    x = _num(t)
    if x is None:
        return ""
    if origin is None:
        return f"{x:.6f}"
    return f'<span title="{_s(_utc(x))}">{x - origin:+.6f}</span>'


def _utc(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{t}"


def _origin(result: dict[str, Any], plots: dict[str, Any] | None) -> float | None:
    candidates: list[Any] = []
    if plots:
        candidates.append(plots.get("origin"))
    analytics = result.get("analytics")
    if isinstance(analytics, dict):
        candidates.append(analytics.get("first_time"))
    candidates.append(result.get("first"))
    flows = result.get("flows")
    if isinstance(flows, list):
        firsts = [_num(f.get("first")) for f in flows if isinstance(f, dict)]
        candidates.append(min((x for x in firsts if x is not None), default=None))
    for c in candidates:
        x = _num(c)
        if x is not None:
            return x
    return None


def _header(result: dict[str, Any], origin: float | None) -> str:
    findings = result.get("findings") if isinstance(result.get("findings"), list) else []
    severities: dict[str, int] = {}
    for f in findings or []:
        if isinstance(f, dict):
            sev = str(f.get("severity", "?"))
            severities[sev] = severities.get(sev, 0) + 1
    errors = result.get("decode_errors", 0)
    n_errors = len(errors) if isinstance(errors, list) else errors
    duration = _num(result.get("duration"))
    messages = result.get("messages") if isinstance(result.get("messages"), dict) else {}
    rows = [
        ("file", f"<code>{_s(result.get('file', ''))}</code>"),
        ("format", _s(result.get("format", ""))),
        ("frames", _count(result.get("frames", 0))),
        ("bytes", _count(result.get("bytes", ""))),
        ("duration", "" if duration is None else f"{duration:.6f} s"),
        ("start", "" if origin is None else _s(_utc(origin))),
        ("messages", _count(sum(v for v in (messages or {}).values() if isinstance(v, int)))),
        ("findings", _count(len(findings or [])) + "".join(
            f' <span class="sev sev-{_s(k)}">{_s(k)} {v}</span>' for k, v in sorted(
                severities.items(), key=lambda kv: (_SEVERITY_ORDER.get(kv[0], 9), kv[0])))),
        ("decode errors", _count(n_errors)),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows if v != "")
    return f'<table class="kv">{body}</table>'


def _damage(result: dict[str, Any]) -> str:
    """The banner of a damaged capture (:mod:`.damage`): analysed up to the damage only."""
    damage = result.get("damage")
    if not isinstance(damage, dict):
        return ""
    before = damage.get("frames_before")
    frames = f"the {_count(before)} frame{'' if before == 1 else 's'} before it" \
        if isinstance(before, int) else "what came before it"
    return (f'<p class="damage"><strong>Damaged input</strong> ({_s(damage.get("kind", "damaged"))}): '
            f'{_s(damage.get("message") or damage.get("reason", ""))}. This report covers {frames}; '
            "there is no verdict for the rest of the file.</p>")


def _protocols(result: dict[str, Any]) -> str:
    messages = result.get("messages") if isinstance(result.get("messages"), dict) else {}
    functions = result.get("functions") if isinstance(result.get("functions"), dict) else {}
    names = list(dict.fromkeys([*(messages or {}), *(functions or {})]))
    if not names:
        return '<p class="muted">No protocol messages decoded.</p>'
    rows = []
    for name in names:
        funcs = (functions or {}).get(name)
        detail = ""
        if isinstance(funcs, dict):
            detail = ", ".join(f"<code>{_s(k)}</code>&#160;{_count(v)}"
                               for k, v in sorted(funcs.items(), key=lambda kv: str(kv[0])))
        rows.append(f"<tr><td>{_s(name)}</td><td class=\"n\">{_count((messages or {}).get(name, 0))}</td>"
                    f"<td>{detail}</td></tr>")
    return ("<table><thead><tr><th>protocol</th><th>messages</th><th>functions</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


def _findings(result: dict[str, Any], origin: float | None) -> str:
    findings = [f for f in result.get("findings") or [] if isinstance(f, dict)]
    if not findings:
        return '<p class="muted">No findings: the traffic breaks no rule wireproof checks.</p>'
    rows = []
    for f in findings[:_MAX_ROWS]:
        sev = _s(f.get("severity", ""))
        rule = f.get("rule")
        rule_html = f'<br/><code class="muted">{_s(rule)}</code>' if rule else ""
        rows.append(_tr(_td(_s(f.get("frame", "")), "n"), _td(_when(f.get("timestamp"), origin), "n"),
                        _td(f'<span class="sev sev-{sev}">{sev}</span>'),
                        _td(_s(f.get("flow", "")), "flow mono"),
                        _td(_s(f.get("protocol", "")), "nw"), _td(_s(f.get("clause", ""))),
                        _td(_s(f.get("message", "")) + rule_html),
                        _td(_hex_window(f.get("hex"), f.get("offset")), "hexcell")))
    more = (f'<p class="muted">{len(findings) - _MAX_ROWS:,} more findings in the JSON report.</p>'
            if len(findings) > _MAX_ROWS else "")
    return ("<table><thead><tr><th>frame</th><th>time (s)</th><th>severity</th><th>flow</th>"
            "<th>protocol</th><th>clause</th><th>message</th><th>hex window</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>{more}")


def _decode_errors(result: dict[str, Any], origin: float | None) -> str:
    errors = result.get("decode_errors")
    if not isinstance(errors, list) or not errors:
        return ""
    rows = []
    for e in errors[:_MAX_ROWS]:
        if not isinstance(e, dict):
            rows.append(f'<tr><td colspan="4">{_s(e)}</td></tr>')
            continue
        rows.append(_tr(_td(_s(e.get("frame", "")), "n"), _td(_when(e.get("timestamp"), origin), "n"),
                        _td(_s(e.get("flow", "")), "flow mono"),
                        _td(_s(e.get("message", e.get("reason", ""))))))
    return ("<h2>Decode errors</h2><table><thead><tr><th>frame</th><th>time (s)</th><th>flow</th>"
            f"<th>error</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _td(content: str, cls: str = "") -> str:
    return f'<td class="{cls}">{content}</td>' if cls else f"<td>{content}</td>"


def _tr(*cells: str) -> str:
    return f"<tr>{''.join(cells)}</tr>"


def _fmt(x: Any, unit: str = "") -> str:
    v = _num(x)
    return "" if v is None else f"{_si(v)}{unit}"


def _flows(result: dict[str, Any], origin: float | None) -> str:
    flows = [f for f in result.get("flows") or [] if isinstance(f, dict)]
    analytics = result.get("analytics") if isinstance(result.get("analytics"), dict) else None
    per_flow = (analytics or {}).get("flows") if isinstance((analytics or {}).get("flows"), dict) else {}
    if not flows:
        return '<p class="muted">No flows.</p>'
    rows = []
    for f in flows[:_MAX_ROWS]:
        a = (per_flow or {}).get(f.get("flow")) or {}
        ia = a.get("message_interarrival") or {}
        if not ia.get("count"):
            ia = a.get("interarrival") or {}
        interval = ""
        if _num(ia.get("mean")) is not None:
            interval = f"{_fmt(ia.get('mean'), ' s')} &#177; {_fmt(ia.get('std'), ' s')}"
        anomalies = a.get("anomaly_count") or ""
        rows.append(_tr(_td(_s(f.get("flow", "")), "flow mono"), _td(_s(f.get("protocol", "")), "nw"),
                        *(_td(_count(f.get(k, "")), "n") for k in ("frames", "bytes", "messages")),
                        _td(_when(f.get("first"), origin), "n"), _td(_when(f.get("last"), origin), "n"),
                        _td(_fmt(a.get("mean_bandwidth_bps"), "B/s"), "n"),
                        _td(_fmt(a.get("peak_bandwidth_bps"), "B/s"), "n"),
                        _td(interval, "n"), _td(_count(anomalies), "n")))
    more = (f'<p class="muted">{len(flows) - _MAX_ROWS:,} more flows in the JSON report.</p>'
            if len(flows) > _MAX_ROWS else "")
    return ("<table><thead><tr><th>flow</th><th>protocol</th><th>frames</th><th>bytes</th><th>messages</th>"
            "<th>first (s)</th><th>last (s)</th><th>mean rate</th><th>peak rate</th><th>interval</th>"
            f"<th>timing anomalies</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{more}")


def _series_table(result: dict[str, Any], origin: float | None) -> str:
    analytics = result.get("analytics") if isinstance(result.get("analytics"), dict) else None
    series = (analytics or {}).get("series")
    if not isinstance(series, dict):
        return ""
    anomalous = sorted(((k, s) for k, s in series.items() if isinstance(s, dict) and s.get("anomaly_count")),
                       key=lambda kv: -int(kv[1].get("anomaly_count") or 0))
    if not anomalous:
        return f'<p class="muted">No value anomalies in {len(series):,} series.</p>'
    rows = []
    for key, s in anomalous[:_MAX_ROWS]:
        first = s.get("first_anomaly") or {}
        z = _num(first.get("z"))
        ztext = "&#8734;" if first and z is None else ("" if z is None else f"{z:+.1f}")
        rows.append(f'<tr><td class="mono">{_s(key)}</td><td class="n">{_count(s.get("count", ""))}</td>'
                    f'<td class="n">{_fmt(s.get("mean"))}</td><td class="n">{_fmt(s.get("std"))}</td>'
                    f'<td class="n">{_fmt(s.get("min"))} &#8230; {_fmt(s.get("max"))}</td>'
                    f'<td class="n">{_fmt(s.get("trend_per_s"), "/s")}</td>'
                    f'<td class="n">{_count(s.get("anomaly_count"))}</td>'
                    f'<td class="n">{_when(first.get("timestamp"), origin)}</td>'
                    f'<td class="n">{_fmt(first.get("value"))}</td><td class="n">{ztext}</td></tr>')
    return ("<table><thead><tr><th>series</th><th>samples</th><th>mean</th><th>std</th><th>range</th>"
            "<th>trend</th><th>anomalies</th><th>first at (s)</th><th>value</th><th>z</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>")


_X_LABEL = "time since first frame (s)"


def _rows(points: Any, origin: float, width: int) -> list[list[float]]:
    """The well-formed ``width``-long numeric rows of ``points``, time made relative to ``origin``."""
    out: list[list[float]] = []
    for p in points or []:
        if isinstance(p, list | tuple) and len(p) >= width:
            vals = [v for v in (_num(x) for x in p[:width]) if v is not None]
            if len(vals) == width:
                vals[0] -= origin
                out.append(vals)
    return out


def _traffic_chart(entries: Any, origin: float, title: str) -> str:
    lines = [Line(label=str(e.get("label", "")),
                  points=[(r[0], r[1]) for r in _rows(e.get("points"), origin, 2)])
             for e in entries or [] if isinstance(e, dict)]
    if not lines:
        return ""
    svg = svg_line_chart(lines, title=title, x_label=_X_LABEL, y_label="bytes/s", y_zero=True)
    return f'<div class="chart">{svg}</div>'


def _value_chart(entry: dict[str, Any], origin: float, y_label: str) -> str:
    rows = _rows(entry.get("points"), origin, 4)
    label = str(entry.get("label", ""))
    markers = []
    for m in entry.get("anomalies") or []:
        if isinstance(m, list | tuple) and len(m) >= 2 and _num(m[0]) is not None and _num(m[1]) is not None:
            z = _num(m[2]) if len(m) > 2 else None
            ztext = "inf" if z is None else f"{z:+.2f}"
            x = float(m[0]) - origin
            markers.append((x, float(m[1]), f"t=+{x:.6f} s value={float(m[1]):.6g} z={ztext}"))
    line = Line(label=label, points=[(r[0], r[1]) for r in rows], band=[(r[0], r[2], r[3]) for r in rows],
                markers=markers)
    count = entry.get("anomaly_count", len(markers))
    title = f"{label}: {count} anomal{'y' if count == 1 else 'ies'}"
    svg = svg_line_chart([line], title=title, x_label=_X_LABEL, y_label=y_label, height=220)
    return f'<div class="chart">{svg}</div>'


def render_html(result: dict[str, Any], analytics_plots: dict[str, Any] | Analytics | None = None) -> str:
    """The replay report page for a ``wireproof.replay/1`` result and optional plot data.

    ``analytics_plots`` is :meth:`Analytics.plots` (or the :class:`Analytics` itself).
    """
    if isinstance(analytics_plots, Analytics):
        analytics_plots = analytics_plots.plots()
    plots = analytics_plots if isinstance(analytics_plots, dict) else None
    origin = _origin(result, plots)
    file_name = Path(str(result.get("file", ""))).name or "capture"
    title = _s(f"wireproof replay: {file_name}")
    sections = [f"<h1>{title}</h1>", _damage(result), _header(result, origin)]
    if plots:
        t0 = origin or 0.0
        charts = (_traffic_chart(plots.get("traffic"), t0, "Traffic by protocol")
                  + _traffic_chart(plots.get("flows"), t0, "Busiest flows"))
        if charts:
            sections += ["<h2>Traffic over time</h2>", charts]
    sections += ["<h2>Messages per protocol</h2>", _protocols(result),
                 "<h2>Findings</h2>", _findings(result, origin), _decode_errors(result, origin),
                 "<h2>Flows</h2>", _flows(result, origin)]
    series_table = _series_table(result, origin)
    value_charts = timing_charts = ""
    if plots:
        t0 = origin or 0.0
        value_charts = "".join(_value_chart(e, t0, "value") for e in plots.get("series") or []
                               if isinstance(e, dict))
        timing_charts = "".join(_value_chart(e, t0, "interval (s)") for e in plots.get("timing") or []
                                if isinstance(e, dict))
    if series_table or value_charts:
        sections += ["<h2>Anomalous series</h2>", series_table, value_charts]
    if timing_charts:
        sections += ["<h2>Timing anomalies</h2>",
                     '<p class="muted">Inter-arrival per bucket: mean (line), min&#8230;max (band); '
                     "anomalous intervals marked.</p>", timing_charts]
    stats = result.get("stats")
    if isinstance(stats, dict) and stats:
        dump = json.dumps(stats, indent=1, sort_keys=True, default=str)
        sections.append("<h2>Capture statistics</h2><details><summary>dissector counters</summary>"
                        f"<pre>{_s(dump)}</pre></details>")
    body = "\n".join(s for s in sections if s)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/><title>{title}</title>'
            f"<style>{_STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def write_html(result: dict[str, Any], analytics_plots: dict[str, Any] | Analytics | None,
               path: Path) -> Path:
    """Write :func:`render_html` to ``path`` (UTF-8); returns ``path``."""
    path.write_text(render_html(result, analytics_plots), encoding="utf-8")
    return path
