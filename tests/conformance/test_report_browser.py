"""report.html as a person sees it: a real run against pymodbus, rendered by headless Chromium.

The page is printed to PDF by the browser and read back as text
(:mod:`tests.browser`), so what is checked is what is drawn: the heading
and the counts, what judged the device (the profile and its hash) and what
the device said it is, and a failing clause's evidence opened, decoded, with
its bytes.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from tests.browser import render_text, screenshot
from tests.conformance.test_modbus_server_suite import (  # noqa: F401  (pymodbus_server is a fixture)
    PYMODBUS_PROFILE,
    certify,
    pymodbus_server,
    write_profile,
)

pytestmark = [pytest.mark.browser, pytest.mark.peer]


def test_report_html_against_pymodbus_as_rendered(tmp_path: Path, pymodbus_server: str) -> None:  # noqa: F811
    profile = write_profile(tmp_path / "pymodbus.toml", PYMODBUS_PROFILE)
    code, _report, out = certify(tmp_path / "report", "--target", pymodbus_server, "--profile", str(profile),
                                "--option", "response_timeout=0.5",
                                "-k", "MB-AP-003 or MB-TCP-001 or MB-TCP-005 or MB-TCP-015")
    assert code == 1, out
    page = tmp_path / "report" / "report.html"
    text = render_text(page)
    flat = " ".join(text.split())
    assert "wireproof: modbus-server: NOT PASSED" in flat, text
    assert re.search(r"4 clauses: pass 2 fail 2 error 0 not_applicable 0 inconclusive 0", flat), text
    # What judged the device, and what it says it is.
    assert "What was tested and how" in flat
    assert f"target {pymodbus_server}" in flat
    digest = hashlib.sha256(profile.read_bytes()).hexdigest()
    assert digest[:40] in flat.replace(" ", ""), text  # long words may wrap in print
    assert "VendorName pymodbus" in flat and "ProductCode PM" in flat, text
    assert "response_timeout = 0.5" in flat and "attempts = 5 (default)" in flat, text
    # The failing clause: its rule, its citation-free message and its evidence, decoded, with bytes.
    assert "MB-AP-003" in flat and "expected exception 03 (function code 0x83), got exception 01" in flat
    # The codec's view of the answer, read in the order it is drawn (cells wrap beside each other).
    drawn = " ".join(render_text(page, layout=False).split())
    assert "tid 0x0001 length 3 unit 1: exception 01 ILLEGAL_FUNCTION to FC 00" in drawn, drawn
    assert "00 01 00 00 00 03 01 80 01" in drawn, drawn  # and its bytes
    assert "lost this stream's framing" in flat, text  # MB-TCP-015's reason, whole
    # Passing clauses keep their evidence folded: its rows are not drawn.
    assert flat.count("evidence:") == 4
    screenshot(page, tmp_path / "report.png")
