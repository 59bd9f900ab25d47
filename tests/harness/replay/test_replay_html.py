"""The replay HTML report: well-formed, self-contained, escaped, with the right plots."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, ClassVar

import pytest

from wireproof.harness.replay.analytics import Analytics
from wireproof.harness.replay.html import Line, nice_ticks, render_html, svg_line_chart, write_html

SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_700_000_000.0
HOSTILE = "<script>alert('x')</script>&\x00\"'"
FLOWS = ["10.0.0.1:49152 > 10.0.0.5:502", "10.0.0.2:49153 > 10.0.0.5:502", f"10.0.0.3:1 > {HOSTILE}"]


class _Collector(HTMLParser):
    """Tag and text census; fails on unbalanced tags (html.parser itself is lenient)."""

    VOID: ClassVar[set[str]] = {"meta", "br", "hr", "img", "input", "link"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Collector:
    p = _Collector()
    p.feed(page)
    p.close()
    assert p.stack == [], p.stack
    return p


def _xml(page: str) -> ET.Element:
    """The page minus its doctype parses as XML: every SVG is well-formed on its own."""
    return ET.fromstring(page.split("\n", 1)[1])


def _result(findings: list[dict[str, Any]] | None = None,
            analytics: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "schema": "wireproof.replay/1", "file": f"/captures/{HOSTILE}.pcapng", "format": "pcapng",
        "frames": 1200, "bytes": 54321, "duration": 60.0,
        "messages": {"modbus-tcp": 1100, HOSTILE: 3},
        "functions": {"modbus-tcp": {"read_holding_registers": 1000, HOSTILE: 100}},
        "findings": findings if findings is not None else [
            {"frame": 17, "timestamp": T0 + 1.5, "flow": FLOWS[0], "protocol": "modbus-tcp",
             "clause": "MB-TCP 3.1.3", "severity": "error", "rule": "modbus.response-without-request",
             "message": f"response without request {HOSTILE}", "offset": 4, "hex": "00420000ab06"},
            {"frame": 18, "timestamp": T0 + 2.0, "flow": FLOWS[2], "protocol": HOSTILE,
             "clause": HOSTILE, "severity": "warning", "rule": HOSTILE, "message": "truncated",
             "offset": 3, "hex": "0102ff"},
        ],
        "decode_errors": 2,
        "flows": [{"flow": f, "protocol": "modbus-tcp", "frames": 400, "bytes": 18000, "messages": 360,
                   "first": T0, "last": T0 + 60} for f in FLOWS],
        "analytics": analytics or {},
        "stats": {"frames": 1200, "note": HOSTILE},
    }


def _analytics() -> Analytics:
    a = Analytics()
    for i in range(1200):
        t = T0 + i * 0.05
        flow = FLOWS[i % 3]
        a.frame(flow, "modbus-tcp" if i % 3 != 2 else HOSTILE, t, 12 + i % 5)
        a.message(flow, t + (4.0 if i > 900 and flow == FLOWS[0] else 0.0))
        a.value("10.0.0.5:502 u1 hr[40]", t, 100.0 + (i % 7) * 0.1 + (50.0 if i == 600 else 0.0))
        a.value(f"10.0.0.5:502 u1 hr[41] {HOSTILE}", t, 3.0 if i < 1000 else 9.0)
        a.value("10.0.0.5:502 u1 hr[42]", t, float(i % 3))  # never anomalous: not plotted
    return a


def _svgs(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}svg"))


def _series_labels(svg: ET.Element) -> list[str]:
    return [g.get("data-label", "") for g in svg.iter(f"{SVG}g") if g.get("class") == "series"]


def _title(svg: ET.Element) -> str:
    t = svg.find(f"{SVG}title")
    assert t is not None and t.text is not None
    return t.text


def test_full_report_is_well_formed_and_has_the_plots(tmp_path: Path) -> None:
    a = _analytics()
    plots = a.plots()
    page = render_html(_result(analytics=a.summary()), plots)
    parsed = _parse(page)
    root = _xml(page)
    svgs = _svgs(root)
    titles = [_title(s) for s in svgs]
    assert titles[:2] == ["Traffic by protocol", "Busiest flows"]
    assert _series_labels(svgs[0]) == ["modbus-tcp", HOSTILE.replace("\x00", "\\x00")]
    assert _series_labels(svgs[1]) == [f.replace("\x00", "\\x00") for f in FLOWS]
    anomalous = [t for t in titles if "anomal" in t]
    assert len(anomalous) == len(plots["series"]) + len(plots["timing"]) == 3
    assert any(t.startswith("10.0.0.5:502 u1 hr[40]: ") for t in anomalous)
    assert not any("hr[42]" in t for t in titles)
    for svg in svgs[2:]:
        assert len(_series_labels(svg)) == 1
        assert any(c.get("class") == "marker" for c in svg.iter(f"{SVG}circle"))
    # self-contained: no scripts, no external resources
    assert not any(tag in ("script", "link", "img", "iframe") for tag, _ in parsed.tags)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "http://www.w3.org/2000/svg" in page  # the namespace is a name, not a fetch
    assert render_html(_result(), a) == render_html(_result(), plots)  # the Analytics itself will do
    out = write_html(_result(), plots, tmp_path / "replay.html")
    assert out.read_text(encoding="utf-8") == render_html(_result(), plots)


def test_hostile_strings_are_escaped() -> None:
    a = _analytics()
    page = render_html(_result(analytics=a.summary()), a.plots())
    parsed = _parse(page)
    assert "<script" not in page
    assert "\x00" not in page
    assert not any(tag == "script" for tag, _ in parsed.tags)
    text = "".join(parsed.text)
    assert "<script>alert('x')</script>&\\x00\"'" in text  # shown as text, control char visible
    _xml(page)


def test_hex_window_marks_the_offending_byte() -> None:
    page = render_html(_result(), None)
    assert ('<span class="hex"><span class="off">0</span>  00 42 00 00 <mark title="byte 4">ab</mark> 06'
            '</span><span class="at">byte 4 (0x4)</span>') in page
    # offset just past the window (a truncated message): a caret after the last byte
    assert re.search(r'<span class="hex"><span class="off">0</span>  01 02 ff <mark class="end"[^>]*>', page)
    assert '<span class="at">ends at byte 3</span>' in page


def test_hex_window_rows_carry_message_offsets() -> None:
    """A window cut from inside a long message: rows and the marked byte say where in the message."""
    finding = {"frame": 1, "timestamp": T0, "flow": "f", "protocol": "p", "clause": "c", "severity": "info",
               "rule": "r", "message": "m", "offset": 16, "hex": "00" * 33, "window_start": 100}
    page = render_html(_result(findings=[finding]), None)
    rows = re.findall(r'<span class="off">\s*(\d+)</span>', page)
    assert rows == ["100", "108", "116", "124", "132"]
    assert '<mark title="byte 116">00</mark>' in page and "byte 116 (0x74)" in page


@pytest.mark.parametrize("hex_text, offset, expected", [
    ("", 0, '<td class="hexcell"></td>'),
    ("zz<b>", 1, '<span class="hex">zz&lt;b&gt;</span>'),
    ("abc", 0, '<span class="hex">abc</span>'),
    ("0102", None, '<span class="hex"><span class="off">0</span>  01 02</span>'),
])
def test_hex_window_odd_inputs(hex_text: str, offset: Any, expected: str) -> None:
    finding = {"frame": 1, "timestamp": T0, "flow": "f", "protocol": "p", "clause": "c", "severity": "info",
               "rule": "r", "message": "m", "offset": offset, "hex": hex_text}
    page = render_html(_result(findings=[finding]), None)
    assert expected in page
    _parse(page)
    _xml(page)


def test_empty_result_renders() -> None:
    for result in ({}, {"schema": "wireproof.replay/1", "file": "empty.pcap", "format": "pcap", "frames": 0,
                        "messages": {}, "findings": [], "decode_errors": 0, "flows": []}):
        page = render_html(result, None)
        parsed = _parse(page)
        _xml(page)
        text = "".join(parsed.text)
        assert "No findings" in text and "No flows" in text
        assert "<svg" not in page
    page = render_html({}, Analytics().plots())
    _parse(page)
    assert "<svg" not in page


def test_decode_error_list_and_many_findings() -> None:
    findings = [{"frame": i, "timestamp": T0 + i, "flow": "f", "protocol": "p", "clause": "c",
                 "severity": "error", "rule": "r", "message": "m", "offset": 0, "hex": "00"}
                for i in range(1500)]
    result = _result(findings=findings)
    result["decode_errors"] = [{"frame": 3, "timestamp": T0, "flow": "f", "message": HOSTILE}]
    page = render_html(result, None)
    _parse(page)
    _xml(page)
    assert "500 more findings in the JSON report" in page
    assert "<h2>Decode errors</h2>" in page


def test_chart_axes_ticks_legend_and_markers() -> None:
    lines = [Line(label="a", points=[(0.0, 0.0), (10.0, 100.0)], markers=[(5.0, 50.0, "spike <1>")]),
             Line(label="b", points=[(0.0, 20.0), (10.0, 30.0)],
                  band=[(0.0, 10.0, 30.0), (10.0, 20.0, 40.0)])]
    svg = ET.fromstring(svg_line_chart(lines, title="t", x_label="time (s)", y_label="bytes/s", y_zero=True))
    assert _series_labels(svg) == ["a", "b"]
    texts = [t.text for t in svg.iter(f"{SVG}text") if t.text]
    assert {"0", "2", "4", "6", "8", "10"} <= set(texts)  # x ticks, data range exactly
    assert {"0", "25", "50", "75", "100"} <= set(texts)  # y ticks from 0
    assert "time (s)" in texts and "bytes/s" in texts and "a (1 marked)" in texts and "b" in texts
    markers = [c for c in svg.iter(f"{SVG}circle") if c.get("class") == "marker"]
    assert len(markers) == 1
    tip = markers[0].find(f"{SVG}title")
    assert tip is not None and tip.text == "spike <1>"
    assert len(list(svg.iter(f"{SVG}polygon"))) == 1  # b's band
    assert len(list(svg.iter(f"{SVG}polyline"))) == 2
    empty = ET.fromstring(svg_line_chart([], title="none", x_label="x", y_label="y"))
    assert any(t.text == "no data" for t in empty.iter(f"{SVG}text"))


_GEOMETRY = {"x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "width", "height", "points", "d"}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf", re.IGNORECASE)


def test_chart_survives_degenerate_data() -> None:
    for pts in ([(1.0, 5.0)], [(1.0, 5.0), (1.0, 5.0)], [(0.0, math.inf), (1.0, 1e300), (2.0, -1e300)],
                [(-1e-12, 1e-12), (1e-12, -1e-12)]):
        chart = svg_line_chart([Line(label="x", points=pts)], title="t", x_label="x", y_label="y")
        svg = ET.fromstring(chart)
        _, _, width, height = (float(v) for v in svg.get("viewBox", "").split())
        # Every coordinate drawn is a finite number inside the picture, whatever the data.
        coords = [float(n) for el in svg.iter() for k, v in el.attrib.items() if k in _GEOMETRY
                  for n in _NUMBER.findall(v)]
        assert coords, pts
        assert all(math.isfinite(c) and -1 <= c <= max(width, height) + 1 for c in coords), (pts, coords)


@pytest.mark.parametrize("lo, hi", [(0, 1), (0, 7.3), (-3, 1234), (1e-6, 3e-6), (5, 5), (0, 0),
                                    (1e9, 1e9 + 60)])
def test_nice_ticks_cover_the_range(lo: float, hi: float) -> None:
    ticks = nice_ticks(lo, hi)
    assert ticks[0] <= lo and ticks[-1] >= hi
    assert 2 <= len(ticks) <= 12
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
    step = steps.pop()
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)


def test_a_damaged_capture_has_a_banner() -> None:
    damage = {"kind": "truncated", "format": "pcap", "offset": 1024, "line": None, "column": None,
              "reason": "the last record is cut short <&>", "frames_before": 7,
              "message": "truncated capture at byte 1024: the last record is cut short <&>"}
    page = render_html({"file": "x.pcap", "frames": 7, "damage": damage}, None)
    _xml(page)
    assert '<p class="damage"><strong>Damaged input</strong> (truncated)' in page
    assert "truncated capture at byte 1024: the last record is cut short &lt;&amp;&gt;" in page
    assert "the 7 frames before it" in page
    assert 'class="damage"' not in render_html({"file": "x.pcap", "damage": None}, None)


# --- issue 10: what a person reads off the page ---------------------------------------------------

def _x_ticks(svg: str) -> list[tuple[float, float, str]]:
    """(data-value, x pixel, label) of each x tick of one chart."""
    return [(float(v), float(x), label) for v, x, label in re.findall(
        r'<g class="xtick" data-value="([^"]+)"><line x1="([\d.]+)"[^>]*/><text[^>]*>([^<]*)</text></g>',
        svg)]


@pytest.mark.parametrize("span", [17.5, 1.75, 0.35, 94.48, 4.2e-5, 2.5e6, 7.0])
def test_time_axis_labels_sit_at_their_values(span: float) -> None:
    """Each x tick label reads as the value at its pixel (a 2.5 step was labelled 0, 2, 5, 8)."""
    left, width = 72, 1100 - 72 - 18
    svg = svg_line_chart([Line(label="a", points=[(0.0, 1.0), (span, 2.0)])], title="t", x_label="s",
                         y_label="y", x_range=(0.0, span))
    ticks = _x_ticks(svg)
    assert len(ticks) >= 2
    for value, x, label in ticks:
        scale = {"k": 1e3, "M": 1e6, "G": 1e9}.get(label[-1:], 1.0)
        shown = float(label[:-1] if scale != 1.0 else label) * scale
        assert shown == pytest.approx(value, rel=1e-9, abs=span * 1e-9), (label, value)
        assert x == pytest.approx(left + value / span * width, abs=0.06), (label, x)
    assert ticks[0][2] == "0" and ticks[0][1] == left


def _capture_result() -> dict[str, Any]:
    """A replay whose first frame (T0) comes 12 s before the analytics' first message."""
    result = _result(findings=[
        {"frame": 30, "timestamp": T0 + 20.0, "flow": FLOWS[0], "direction": "server -> client",
         "protocol": "modbus-tcp", "clause": "MB-AP 7", "severity": "info",
         "rule": "modbus.exception-response",
         "message": "exception", "offset": 8, "hex": "000100000003018302"},
        {"frame": 12, "timestamp": T0 + 13.0, "flow": FLOWS[0], "direction": "client -> server",
         "protocol": "modbus-tcp", "clause": "MB-AP 6.3", "severity": "error", "rule": "modbus.bounds",
         "message": "quantity 0", "offset": 10, "hex": "0001000000060103000a0000", "malformed": True},
    ])
    result.update(first=T0, last=T0 + 60.0, duration=60.0, decode_errors=1,
                  decode_errors_by_protocol={"modbus-tcp": 1}, malformed_frames=0)
    result["analytics"] = {"first_time": T0 + 12.0, "parameters": {"rate_window_s": 1.0}, "flows": {}}
    return result


def test_one_time_origin_the_first_frame() -> None:
    a = _analytics()  # its first frame is T0; the capture's is 12 s earlier
    result = _capture_result()
    result["first"] = T0 - 12.0
    page = render_html(result, a)
    assert page.count("Times on this page are seconds since the first frame of the capture, ") == 1
    assert "2023-11-14T22:13:08.000000Z" in page  # T0 - 12 s
    assert ">25.000000</span>" in page  # the finding at T0 + 13 s
    svgs = re.findall(r"<svg.*?</svg>", page)
    assert svgs
    for svg in svgs:  # every chart: one x axis from 0 to the capture's end (72 s), data from 12 s
        ticks = _x_ticks(svg)
        assert ticks[0][0] == 0.0 and ticks[-1][0] <= 72.0
        first_x = float(re.search(r'points="([\d.]+),', svg).group(1))  # type: ignore[union-attr]
        assert first_x > 72 + 11.9 / 72 * (1100 - 90)


def test_findings_in_frame_order_with_their_direction() -> None:
    page = render_html(_capture_result(), None)
    assert page.index('<td class="n">12</td>') < page.index('<td class="n">30</td>')
    server, client = FLOWS[0].split(" > ")[1], FLOWS[0].split(" > ")[0]
    assert server and client
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("<h2>Findings</h2>")[1].split("</table>")[0])
    assert "client -&gt; server" in rows[1] and "server -&gt; client" in rows[2]


def test_a_server_frame_is_shown_server_first() -> None:
    finding = {"frame": 5, "timestamp": T0, "flow": "10.0.0.9:3082 -> 10.0.0.3:502",
               "direction": "server -> client", "protocol": "modbus-tcp", "clause": "MB-AP 7",
               "severity": "info", "rule": "r", "message": "m", "offset": 0, "hex": "00"}
    page = render_html(_result(findings=[finding]), None)
    assert ('<span class="nw">10.0.0.3:502 -&gt;</span> <span class="nw">10.0.0.9:3082</span>'
            '<br/><span class="dir">server -&gt; client</span>') in page


def test_malformed_is_one_number_everywhere() -> None:
    page = render_html(_capture_result(), None)
    assert "<th>malformed</th><td>1 " in page  # the header
    assert re.search(r'<td class="nw">modbus-tcp</td>.*?<td class="n">1</td></tr>', page)  # protocol table
    assert "1 of the 2 shown are marked" in page and page.count('<span class="tag">malformed</span>') == 2


def test_functions_are_a_table() -> None:
    result = _result()
    result["functions"] = {"modbus-tcp": {"read_coils request": 13, "read_coils response": 4,
                                          "read_coils exception": 9, "read_coils request (malformed)": 1,
                                          "fc 0x41 request": 1, "odd": 2}}
    result["decode_errors_by_protocol"] = {"modbus-tcp": 1}
    page = render_html(result, None)
    table = page.split('<table class="functions">')[1].split("</table>")[0]
    heads = re.findall(r"<th[^>]*>([^<]*)</th>", table)
    assert heads == ["function", "requests", "responses", "exceptions", "malformed", "other"]
    assert re.search(r"<code>read_coils</code></td>" + "".join(
        rf'<td class="n">{n}</td>' for n in (13, 4, 9, 1, "")), table)
    assert "<strong>all 3</strong>" in table


def test_busiest_flows_not_drawn_when_they_repeat_the_protocols() -> None:
    a = Analytics()
    for i in range(400):
        a.frame(FLOWS[0], "modbus-tcp", T0 + i * 0.05, 12)
    result = _capture_result()
    page = render_html(result, a)
    assert page.count("<svg") == 1 and "Busiest flows: not drawn" in page


def test_no_rate_for_a_flow_shorter_than_the_rate_window() -> None:
    a = Analytics()
    for i in range(400):
        a.frame(FLOWS[0], "modbus-tcp", T0 + i * 0.05, 12)
    for i in range(5):  # 20 ms of traffic: its "rate" per 1 ms bucket would be a spike
        a.frame(FLOWS[1], "modbus-tcp", T0 + 3 + i * 0.005, 200)
    result = _capture_result()
    result["analytics"] = a.summary()
    page = render_html(result, a)
    labels = re.findall(r'<g class="series" data-label="([^"]*)"', page)
    assert FLOWS[1].replace(">", "&gt;") not in labels
    assert "shorter than the 1 s rate window: no rate is drawn for " in page
    assert "shorter than the 1 s rate window: no rate is given" in page  # the flows table
