"""The replay report as a person sees it: rendered by headless Chromium, read back as text.

One page, printed once, from a 12 s capture made here (two Modbus clients
polling one server; one sends a request out of bounds, the server answers
with an exception): its title, the one time origin, the charts' axis labels,
the direction of the server's exception, the functions table, the malformed
count said the same way in the header, the protocol table and the findings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.browser import render_text, screenshot
from tests.harness.replay.test_engine import READ, Conversation, adu

from wireproof.codecs.modbus import ExceptionResponse, ReadHoldingRegistersResponse
from wireproof.harness.replay.html import write_html
from wireproof.harness.replay.run import replay
from wireproof.harness.replay.summary import to_json

pytestmark = pytest.mark.browser


def _capture(path: Path) -> Path:
    frames: list[tuple[float, bytes]] = []
    one = Conversation(client=("10.0.0.9", 3082), frames=frames, t=1000.0)
    two = Conversation(client=("10.0.0.7", 4000), frames=frames, t=1000.005)
    one.handshake()
    two.handshake()
    for i in range(60):  # one poll each per 0.2 s
        for conv, tid in ((one, i), (two, 1000 + i)):
            conv.t = 1000.0 + i * 0.2 + (0.1 if conv is two else 0.0)
            if conv is one and i == 30:
                conv.c(bytes.fromhex(f"{tid:04x}000000060103000a0000"))  # quantity 0
                conv.s(adu(tid, ExceptionResponse(function_code=3, exception_code=3)))
                continue
            conv.c(adu(tid, READ))
            conv.s(adu(tid, ReadHoldingRegistersResponse(values=(i, 8))))
    frames.sort(key=lambda f: f[0])
    return one.write(path)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("page")
    result = replay(_capture(tmp / "two-clients.pcap"))
    html = write_html(to_json(result), result.analytics, tmp / "replay.html")
    return html, render_text(html)


def test_the_page_reads_as_the_capture_says(page: tuple[Path, str]) -> None:
    _html, text = page
    flat = re.sub(r"\s+", " ", text)
    assert "wireproof replay: two-clients.pcap" in text
    assert flat.count("Times on this page are seconds since the first frame of the capture, "
                      "1970-01-01T00:16:40.") == 1
    # two charts (protocol, busiest flows), each x axis labelled and ticked from 0 s to the end
    assert text.count("time since the first frame (s)") == 2
    ticks = [ln.split() for ln in text.splitlines() if re.fullmatch(r"\s*0(\s+\d+(\.\d+)?)+\s*", ln)]
    assert len(ticks) == 2 and all(float(t[-1]) <= 12 and float(t[-1]) >= 10 for t in ticks), ticks
    # findings in frame order; the server's exception shown server first, said so
    assert re.search(r"10\.0\.0\.3:502 ->\s.*\n.*10\.0\.0\.9:3082\s.*\n.*server -> client", text)
    assert flat.index("quantity 0 not in 1..125") < flat.index("ILLEGAL_DATA_VALUE")
    # the functions table, with its column headings
    assert re.search(r"function\s+requests\s+responses\s+exceptions\s+malformed", text)
    assert re.search(r"read_holding_registers\s+119\s+119\s+1\s+1", text)
    # malformed: the same 1 in the header, the protocol table and the findings
    assert "malformed 1 (1 modbus-tcp message)" in flat
    assert re.search(r"modbus-tcp\s+240\s+240\s+1\n", text)
    assert "1 of the 2 shown are marked malformed" in flat


def test_the_page_draws(page: tuple[Path, str], tmp_path: Path) -> None:
    html, _text = page
    png = screenshot(html, tmp_path / "replay.png", height=900)
    assert png.stat().st_size > 10_000  # a blank page is a few kB
