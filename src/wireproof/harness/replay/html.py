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

from wireproof.codecs._analysis import route
from wireproof.harness.replay.analytics import Analytics
from wireproof.harness.replay.summary import function_table

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
.hex{white-space:pre;display:block}
.hex .off{color:#999}
.at{display:block;color:#a01818;font-size:.85em}
td.hexcell{min-width:17em}
.dir{color:#555;font-size:.9em;font-family:system-ui,sans-serif}
.tag{background:#eee;color:#333;border:1px solid #ccc;border-radius:3px;padding:0 .3em;font-size:.85em}
.origin{color:#333;margin:.4em 0}
h3{font-size:1em;margin:1.1em 0 .3em}
table.functions{width:auto;min-width:40em}
.hex mark{background:#e15759;color:#fff;border-radius:2px;padding:0 1px}
.hex mark.end{background:none;color:#e15759;font-weight:bold}
.flow{overflow-wrap:anywhere;min-width:11em}
.nw{white-space:nowrap}
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
    """The label of tick ``x`` on a grid of ``step``: as many digits as it takes to say ``x`` itself.

    A 2.5 step needs a decimal (2.5, 7.5), a 0.25 step two; a label rounded to
    the step's magnitude alone ("2" for 2.5) would sit where its value is not.
    """
    tol = abs(step) * 1e-6 if step > 0 else abs(x) * 1e-9
    if abs(x) <= tol:
        return "0"
    if step >= 1000 or abs(x) >= 1e6:
        scale, suffix = next(((m, u) for m, u in _SI if abs(x) >= m), (1.0, ""))
        d = next((d for d in range(10) if abs(round(x / scale, d) * scale - x) <= tol), 9)
        return f"{x / scale:.{d}f}{suffix}"
    decimals = next((d for d in range(7) if abs(round(x, d) - x) <= tol), None)
    if decimals is None:  # a tiny step: the shortest exact scientific form
        return next((f"{x:.{p}g}" for p in range(1, 17) if abs(float(f"{x:.{p}g}") - x) <= tol), repr(x))
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
                   y_format: Callable[[float], str] | None = None,
                   x_range: tuple[float, float] | None = None) -> str:
    """An inline ``<svg>`` line chart with axes, ticks, a legend, bands and markers.

    ``y_zero`` puts 0 on the y axis (rates); otherwise the axis fits the data.
    ``x_range`` fixes the x axis (widened if data falls outside), so that charts
    of one capture share it (0 to its duration). Every tick (its line and its
    label, ``<g class="xtick" data-value=...>``) sits at the pixel of its value.
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

    # x spans the data exactly (time has no natural padding), or the range asked for;
    # y is rounded out to its ticks
    xlo, xhi = min(xs), max(xs)
    if x_range is not None and all(math.isfinite(v) for v in x_range) and x_range[1] > x_range[0]:
        xlo, xhi = min(xlo, x_range[0]), max(xhi, x_range[1])
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
        labels.append(f'<g class="xtick" data-value="{t!r}">'
                      f'<line x1="{x:.1f}" y1="{top + ph}" x2="{x:.1f}" y2="{top + ph + 4}" stroke="#888"/>'
                      f'<text x="{x:.1f}" y="{top + ph + 16}" text-anchor="middle" fill="#555">'
                      f"{_s(_tick_label(t, xstep))}</text></g>")
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

_HEX_ROW = 8  # bytes per line of a hex window


def _hex_window(hex_text: Any, offset: Any, start: Any = 0) -> str:
    """The window as lines of spaced byte pairs, each line led by the message offset of its first
    byte; the byte at ``offset`` in a ``<mark>`` (past the end: a caret), its offset said below."""
    text = hex_text if isinstance(hex_text, str) else ""
    if len(text) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", text):
        return f'<span class="hex">{_s(text)}</span>'
    if not text:
        return ""
    pairs = [text[i:i + 2].lower() for i in range(0, len(text), 2)]
    at = offset if isinstance(offset, int) and not isinstance(offset, bool) else -1
    base = start if isinstance(start, int) and not isinstance(start, bool) and start >= 0 else 0
    parts = [f'<mark title="byte {base + i}">{p}</mark>' if i == at else p for i, p in enumerate(pairs)]
    if at == len(pairs):
        parts.append('<mark class="end" title="the message ends here">\u2038</mark>')
    width = len(str(base + len(pairs)))
    rows = [f'<span class="off">{base + i:>{width}}</span>  ' + " ".join(parts[i:i + _HEX_ROW])
            for i in range(0, len(parts), _HEX_ROW)]
    where = ""
    if 0 <= at < len(pairs):
        where = f'<span class="at">byte {base + at} (0x{base + at:X})</span>'
    elif at == len(pairs):
        where = f'<span class="at">ends at byte {base + at}</span>'
    return f'<span class="hex">{"<br/>".join(rows)}</span>{where}'


def _when(t: Any, origin: float | None) -> str:
    x = _num(t)
    if x is None:
        return ""
    if origin is None:
        return f"{x:.6f}"
    return f'<span title="{_s(_utc(x))}">{x - origin:.6f}</span>'


def _utc(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{t}"


def _origin(result: dict[str, Any], plots: dict[str, Any] | None) -> float | None:
    """The page's one time origin: the capture's first frame (else the earliest time known)."""
    candidates: list[Any] = [result.get("first")]
    flows = result.get("flows")
    if isinstance(flows, list):
        firsts = [_num(f.get("first")) for f in flows if isinstance(f, dict)]
        candidates.append(min((x for x in firsts if x is not None), default=None))
    analytics = result.get("analytics")
    if isinstance(analytics, dict):
        candidates.append(analytics.get("first_time"))
    if plots:
        candidates.append(plots.get("origin"))
    known = [x for x in (_num(c) for c in candidates) if x is not None]
    return known[0] if known else None


def _malformed_counts(result: dict[str, Any]) -> tuple[dict[str, int], int]:
    """Malformed messages per protocol (did not decode) and malformed frames (below the protocols)."""
    by_protocol = result.get("decode_errors_by_protocol")
    counts = {str(k): v for k, v in by_protocol.items() if isinstance(v, int)} \
        if isinstance(by_protocol, dict) else {}
    frames = result.get("malformed_frames")
    return counts, frames if isinstance(frames, int) and not isinstance(frames, bool) else 0


_MALFORMED_DEFINITION = ("malformed: a message that did not decode (a protocol's rules broken in its "
                         "framing or fields) or a frame the capture layers (link, IP, TCP, UDP) could not "
                         "take apart; each gets exactly one finding")


def _header(result: dict[str, Any], origin: float | None) -> str:
    findings = result.get("findings") if isinstance(result.get("findings"), list) else []
    severities: dict[str, int] = {}
    by_severity = result.get("findings_by_severity")
    if isinstance(by_severity, dict) and by_severity:
        severities = {str(k): v for k, v in by_severity.items() if isinstance(v, int) and v}
    else:
        for f in findings or []:
            if isinstance(f, dict):
                sev = str(f.get("severity", "?"))
                severities[sev] = severities.get(sev, 0) + 1
    total = result.get("findings_total")
    n_findings = total if isinstance(total, int) else len(findings or [])
    errors = result.get("decode_errors", 0)
    n_errors = len(errors) if isinstance(errors, list) else errors
    by_protocol, malformed_frames = _malformed_counts(result)
    malformed = sum(by_protocol.values()) + malformed_frames
    parts = [f"{_count(n)} {_s(p)} message{'' if n == 1 else 's'}" for p, n in sorted(by_protocol.items())]
    if malformed_frames or not parts:
        parts.append(f"{_count(malformed_frames)} frame{'' if malformed_frames == 1 else 's'} "
                     "below the protocols")
    duration = _num(result.get("duration"))
    messages = result.get("messages") if isinstance(result.get("messages"), dict) else {}
    rows = [
        ("file", f"<code>{_s(result.get('file', ''))}</code>"),
        ("format", _s(result.get("format", ""))),
        ("frames", _count(result.get("frames", 0))),
        ("bytes", _count(result.get("bytes", ""))),
        ("duration", "" if duration is None else f"{duration:.6f} s"),
        ("first frame", "" if origin is None else _s(_utc(origin))),
        ("messages", _count(sum(v for v in (messages or {}).values() if isinstance(v, int)))),
        ("findings", _count(n_findings) + "".join(
            f' <span class="sev sev-{_s(k)}">{_s(k)} {v}</span>' for k, v in sorted(
                severities.items(), key=lambda kv: (_SEVERITY_ORDER.get(kv[0], 9), kv[0])))),
        ("malformed", f'{_count(malformed)} <span class="muted">({", ".join(parts)})</span>'
         if isinstance(n_errors, int) else _count(n_errors)),
    ]
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows if v != "")
    return f'<table class="kv">{body}</table>'


def _origin_note(origin: float | None) -> str:
    if origin is None:
        return ""
    return (f'<p class="origin">Times on this page are seconds since the first frame of the capture, '
            f"{_s(_utc(origin))}.</p>")


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


_KINDS = ("request", "response", "exception")
_FUNCTION_ROWS = 20  # functions listed before the rest is folded away


def _protocols(result: dict[str, Any]) -> str:
    messages = result.get("messages") if isinstance(result.get("messages"), dict) else {}
    functions = result.get("functions") if isinstance(result.get("functions"), dict) else {}
    message_frames = result.get("message_frames") if isinstance(result.get("message_frames"), dict) else {}
    by_protocol, malformed_frames = _malformed_counts(result)
    names = list(dict.fromkeys([*(messages or {}), *(functions or {}), *by_protocol]))
    if not names and not malformed_frames:
        return '<p class="muted">No protocol messages decoded.</p>'
    rows = [_tr(_td(_s(name), "nw"), _td(_count((messages or {}).get(name, 0)), "n"),
                _td(_count((message_frames or {}).get(name, "")), "n"),
                _td(_count(by_protocol.get(name, 0)), "n")) for name in names]
    if malformed_frames:
        rows.append(_tr(_td("capture layers (link, IP, TCP, UDP)", "nw"), _td("", "n"), _td("", "n"),
                        _td(_count(malformed_frames), "n")))
    out = ["<table><thead><tr><th>protocol</th><th>messages</th><th>frames with messages</th>"
           f"<th>malformed</th></tr></thead><tbody>{''.join(rows)}</tbody></table>",
           f'<p class="muted">{_s(_MALFORMED_DEFINITION)}.</p>']
    for name in names:
        funcs = (functions or {}).get(name)
        if not isinstance(funcs, dict) or not funcs:
            continue
        columns, frows = function_table(funcs)
        head = "".join(f'<th class="n">{c}{"s" if c in _KINDS else ""}</th>' for c in columns)
        body = [_tr(_td(f"<code>{_s(fn)}</code>"), *(_td(_count(v) if v else "", "n") for v in vals))
                for fn, vals in frows[:_MAX_ROWS]]
        totals = [sum(v[i] for _fn, v in frows) for i in range(len(columns))]
        foot = _tr(_td(f"<strong>all {_count(len(frows))}</strong>"),
                   *(_td(f"<strong>{_count(v)}</strong>", "n") for v in totals))
        thead = f'<table class="functions"><thead><tr><th>function</th>{head}</tr></thead><tbody>'
        tfoot = f"{foot}</tbody></table>"
        unknown = by_protocol.get(name, 0) - totals[columns.index("malformed")] \
            if "malformed" in columns else by_protocol.get(name, 0)
        note = (f'<p class="muted">{_count(unknown)} more malformed {_s(name)} message'
                f"{'' if unknown == 1 else 's'} with no function to count (a broken header).</p>"
                if unknown > 0 else "")
        out.append(f"<h3>Functions of {_s(name)}</h3>" + thead + "".join(body[:_FUNCTION_ROWS]) + tfoot)
        if len(body) > _FUNCTION_ROWS:  # the rest folded: a fuzzing capture tries every code
            out.append(f"<details><summary>{_count(len(frows) - _FUNCTION_ROWS)} more functions, fewer "
                       "messages each</summary>" + thead + "".join(body[_FUNCTION_ROWS:]) + tfoot
                       + "</details>")
        out.append(note)
    return "".join(out)


def _flow_cell(f: dict[str, Any]) -> str:
    """The finding's flow in the order of its frame's addresses, and who sent that frame."""
    flow, direction = str(f.get("flow", "")), str(f.get("direction") or "")
    src, sep, dst = route(flow, direction).partition(" -> ")
    text = f'<span class="nw">{_s(src)} -&gt;</span> <span class="nw">{_s(dst)}</span>' if sep else _s(src)
    return text + (f'<br/><span class="dir">{_s(direction)}</span>' if direction else "")


def _frame_key(f: dict[str, Any]) -> tuple[float, float]:
    frame, ts = _num(f.get("frame")), _num(f.get("timestamp"))
    return (math.inf if frame is None else frame, math.inf if ts is None else ts)


def _findings(result: dict[str, Any], origin: float | None) -> str:
    findings = sorted((f for f in result.get("findings") or [] if isinstance(f, dict)), key=_frame_key)
    if not findings:
        return '<p class="muted">No findings: the traffic breaks no rule wireproof checks.</p>'
    rows = []
    for f in findings[:_MAX_ROWS]:
        sev = _s(f.get("severity", ""))
        rule = f.get("rule")
        rule_html = f'<br/><code class="muted">{_s(rule)}</code>' if rule else ""
        tag = ' <span class="tag">malformed</span>' if f.get("malformed") is True else ""
        rows.append(_tr(_td(_s(f.get("frame", "")), "n"), _td(_when(f.get("timestamp"), origin), "n"),
                        _td(f'<span class="sev sev-{sev}">{sev}</span>{tag}'),
                        _td(_flow_cell(f), "flow mono"),
                        _td(_s(f.get("protocol", "")), "nw"), _td(_s(f.get("clause", ""))),
                        _td(_s(f.get("message", "")) + rule_html),
                        _td(_hex_window(f.get("hex"), f.get("offset"), f.get("window_start", 0)), "hexcell")))
    kept = result.get("findings_total")
    total = kept if isinstance(kept, int) and kept >= len(findings) else len(findings)
    shown = min(len(findings), _MAX_ROWS)
    more = (f'<p class="muted">{total - shown:,} more findings in the JSON report.</p>'
            if total > shown else "")
    marked = sum(1 for f in findings[:_MAX_ROWS] if f.get("malformed") is True)
    lead = (f'<p class="muted">In frame order. {_count(marked)} of the {_count(shown)} shown '
            'are marked <span class="tag">malformed</span>: one per malformed message or frame.</p>')
    return (f"{lead}<table><thead><tr><th>frame</th><th>time (s)</th><th>severity</th><th>flow</th>"
            "<th>protocol</th><th>clause</th><th>message</th><th>bytes</th></tr></thead>"
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
    window = _rate_window(result)
    rows = []
    short = 0
    for f in flows[:_MAX_ROWS]:
        a = (per_flow or {}).get(f.get("flow")) or {}
        ia = a.get("message_interarrival") or {}
        if not ia.get("count"):
            ia = a.get("interarrival") or {}
        interval = ""
        if _num(ia.get("mean")) is not None:
            interval = f"{_fmt(ia.get('mean'), ' s')} &#177; {_fmt(ia.get('std'), ' s')}"
        anomalies = a.get("anomaly_count") or ""
        rates = [_fmt(a.get("mean_bandwidth_bps"), "B/s"), _fmt(a.get("peak_bandwidth_bps"), "B/s")]
        if a and _shorter_than(a.get("duration"), window):
            short += 1
            rates = ["&#8212;*", "&#8212;*"]
        rows.append(_tr(_td(_s(f.get("flow", "")), "flow mono"), _td(_s(f.get("protocol", "")), "nw"),
                        *(_td(_count(f.get(k, "")), "n") for k in ("frames", "bytes", "messages")),
                        _td(_when(f.get("first"), origin), "n"), _td(_when(f.get("last"), origin), "n"),
                        *(_td(r, "n") for r in rates), _td(interval, "n"), _td(_count(anomalies), "n")))
    more = (f'<p class="muted">{len(flows) - _MAX_ROWS:,} more flows in the JSON report.</p>'
            if len(flows) > _MAX_ROWS else "")
    if short:
        more += (f'<p class="muted">* {_count(short)} flow{"" if short == 1 else "s"} shorter than the '
                 f"{window:g} s rate window: no rate is given for {'it' if short == 1 else 'them'}.</p>")
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


_X_LABEL = "time since the first frame (s)"


def _rate_window(result: dict[str, Any]) -> float:
    """The analytics' rate window (s): rates of a shorter flow are not shown."""
    analytics = result.get("analytics") if isinstance(result.get("analytics"), dict) else {}
    params = (analytics or {}).get("parameters")
    w = _num(params.get("rate_window_s")) if isinstance(params, dict) else None
    return w if w is not None and w > 0 else 1.0


def _shorter_than(duration: Any, window: float) -> bool:
    d = _num(duration)
    return d is not None and d < window


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


def _traffic_lines(entries: Any, origin: float) -> list[Line]:
    return [Line(label=str(e.get("label", "")),
                 points=[(r[0], r[1]) for r in _rows(e.get("points"), origin, 2)])
            for e in entries or [] if isinstance(e, dict)]


def _traffic_chart(lines: list[Line], title: str, x_range: tuple[float, float] | None) -> str:
    if not lines:
        return ""
    svg = svg_line_chart(lines, title=title, x_label=_X_LABEL, y_label="bytes/s", y_zero=True,
                         x_range=x_range)
    return f'<div class="chart">{svg}</div>'


def _traffic(result: dict[str, Any], plots: dict[str, Any], t0: float,
             x_range: tuple[float, float] | None) -> str:
    """Traffic by protocol, and by flow unless that would draw the same lines again. A line is a
    rate: none is drawn for a flow (or capture) shorter than the rate window; a sentence says so."""
    window = _rate_window(result)
    analytics = result.get("analytics") if isinstance(result.get("analytics"), dict) else {}
    per_flow = (analytics or {}).get("flows") if isinstance((analytics or {}).get("flows"), dict) else {}
    notes = []
    protocols = _traffic_lines(plots.get("traffic"), t0)
    if x_range is not None and x_range[1] - x_range[0] < window:
        notes.append(f"The capture is shorter than the {window:g} s rate window: no rate is drawn.")
        protocols = []
    flows = _traffic_lines(plots.get("flows"), t0)
    short = [ln for ln in flows
             if _shorter_than(((per_flow or {}).get(ln.label) or {}).get("duration"), window)]
    flows = [ln for ln in flows if ln not in short]
    if short and protocols:
        names = ", ".join(ln.label for ln in short[:5]) + (", ..." if len(short) > 5 else "")
        notes.append(f"{len(short)} of the busiest flows {'is' if len(short) == 1 else 'are'} shorter than "
                     f"the {window:g} s rate window: no rate is drawn for {names}.")
    same = {tuple(ln.points) for ln in protocols}
    if flows and all(tuple(ln.points) in same for ln in flows):
        notes.append("Busiest flows: not drawn, each flow's line is its protocol's line above "
                     f"({'one flow' if len(flows) == 1 else 'one flow per protocol'}).")
        flows = []
    out = (_traffic_chart(protocols, "Traffic by protocol", x_range)
           + _traffic_chart(flows, "Busiest flows", x_range))
    return out + "".join(f'<p class="muted">{_s(n)}</p>' for n in notes)


def _value_chart(entry: dict[str, Any], origin: float, y_label: str,
                 x_range: tuple[float, float] | None) -> str:
    rows = _rows(entry.get("points"), origin, 4)
    label = str(entry.get("label", ""))
    markers = []
    for m in entry.get("anomalies") or []:
        if isinstance(m, list | tuple) and len(m) >= 2 and _num(m[0]) is not None and _num(m[1]) is not None:
            z = _num(m[2]) if len(m) > 2 else None
            ztext = "inf" if z is None else f"{z:+.2f}"
            x = float(m[0]) - origin
            markers.append((x, float(m[1]), f"t={x:.6f} s value={float(m[1]):.6g} z={ztext}"))
    line = Line(label=label, points=[(r[0], r[1]) for r in rows], band=[(r[0], r[2], r[3]) for r in rows],
                markers=markers)
    count = entry.get("anomaly_count", len(markers))
    title = f"{label}: {count} anomal{'y' if count == 1 else 'ies'}"
    svg = svg_line_chart([line], title=title, x_label=_X_LABEL, y_label=y_label, height=220, x_range=x_range)
    return f'<div class="chart">{svg}</div>'


def render_html(result: dict[str, Any], analytics_plots: dict[str, Any] | Analytics | None = None) -> str:
    """The replay report page for a ``wireproof.replay/1`` result and optional plot data.

    ``analytics_plots`` is :meth:`Analytics.plots` (or the :class:`Analytics` itself). Every time on
    the page (tables and chart axes) is seconds since one origin, the capture's first frame; the
    charts share one x axis, 0 to the capture's duration.
    """
    if isinstance(analytics_plots, Analytics):
        analytics_plots = analytics_plots.plots()
    plots = analytics_plots if isinstance(analytics_plots, dict) else None
    origin = _origin(result, plots)
    t0 = origin or 0.0
    last = _num(result.get("last"))
    duration = _num(result.get("duration"))
    end = last - t0 if last is not None else duration
    x_range = (0.0, end) if end is not None and end > 0 else None
    file_name = Path(str(result.get("file", ""))).name or "capture"
    title = _s(f"wireproof replay: {file_name}")
    sections = [f"<h1>{title}</h1>", _damage(result), _header(result, origin), _origin_note(origin)]
    if plots:
        charts = _traffic(result, plots, t0, x_range)
        if charts:
            sections += ["<h2>Traffic over time</h2>", charts]
    sections += ["<h2>Messages per protocol</h2>", _protocols(result),
                 "<h2>Findings</h2>", _findings(result, origin), _decode_errors(result, origin),
                 "<h2>Flows</h2>", _flows(result, origin)]
    series_table = _series_table(result, origin)
    value_charts = timing_charts = ""
    if plots:
        value_charts = "".join(_value_chart(e, t0, "value", x_range) for e in plots.get("series") or []
                               if isinstance(e, dict))
        timing_charts = "".join(_value_chart(e, t0, "interval (s)", x_range)
                                for e in plots.get("timing") or []
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
