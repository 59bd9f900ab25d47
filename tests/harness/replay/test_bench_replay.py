"""``wireproof bench replay``: the JSON report's shape, the checks, and the capture it builds.

Speed is not asserted (it depends on the machine); what is asserted is that
each tool read the whole capture (the correctness checks), that the report
names the goals, and that the generated capture holds exactly what its
description says (frames, messages) as the replay engine counts them.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.bench import SCHEMA
from wireproof.harness.bench.replay import cached_capture, render_text, run, write_modbus_capture
from wireproof.harness.cli import main
from wireproof.harness.replay import engine
from wireproof.harness.replay.run import replay


@pytest.fixture(scope="module")
def quick_json() -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["bench", "replay", "--quick", "--json"])
    return code, json.loads(out.getvalue())


def test_quick_json_is_well_formed(quick_json: tuple[int, dict[str, Any]]) -> None:
    code, report = quick_json
    assert code == 0
    assert report["schema"] == SCHEMA
    assert report["suite"] == "replay" and report["operations"] == ["replay"]
    assert report["settings"]["quick"] is True and report["settings"]["frames"] == 50_000
    assert report["settings"]["build"] == ("python" if engine.__file__.endswith(".py") else "mypyc")
    assert report["libraries"]["wireproof"]["version"].endswith(f"({report['settings']['build']})")
    assert report["frames"]["frames"] == 50_000
    assert report["frames"]["requests"] + report["frames"]["responses"] < 50_000
    assert report["libraries"]["wireproof"]["available"] is True
    assert report["checks_ok"] is True
    results = {row["library"]: row for row in report["results"]}
    assert results["wireproof"]["frames_per_second"] > 0
    rows = {row["peer"]: row for row in report["ratios"]}
    assert {p: r["goal"] for p, r in rows.items()} == {"tshark": 1.0, "scapy": 10.0}
    for peer, row in rows.items():
        if report["libraries"][peer]["available"]:
            assert isinstance(row["ratio"], float) and isinstance(row["met"], bool)
        else:  # tshark or scapy absent: reported, not measured
            assert row["ratio"] is None and report["libraries"][peer]["reason"]


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_every_frame(quick_json: tuple[int, dict[str, Any]]) -> None:
    _, report = quick_json
    (check,) = [c for c in report["checks"] if c["library"] == "tshark"]
    assert check["ok"] and check["frames"] == 50_000


def test_scapy_is_sampled_and_says_so(quick_json: tuple[int, dict[str, Any]]) -> None:
    _, report = quick_json
    scapy = report["libraries"]["scapy"]
    if not scapy["available"]:
        pytest.skip(scapy["reason"])
    assert scapy["extrapolated"] is True and scapy["frames"] == report["settings"]["scapy_sample_frames"]
    assert [c["ok"] for c in report["checks"] if c["library"] == "scapy"] == [True]


def test_generated_capture_is_what_it_says(tmp_path: Path) -> None:
    capture = write_modbus_capture(tmp_path / "c.pcap", 30_011, concurrent=4, per_flow=1500)
    assert capture.frames == 30_011 and capture.path.stat().st_size == capture.bytes
    assert capture.exceptions and capture.orphan_responses and capture.retransmissions
    result = replay(capture.path, analytics=False)
    assert result.frames == capture.frames
    assert result.messages["modbus-tcp"] == capture.messages
    assert result.flows_total == capture.flows
    assert result.decode_errors == {} and result.malformed_frames == 0
    rules = {f.rule for f in result.findings}
    assert rules == {"modbus.exception-response", "modbus.response-without-request",
                     "modbus.unanswered-request", "tcp.retransmission"}


def test_capture_is_cached(tmp_path: Path) -> None:
    first = cached_capture(1000, tmp_path)
    stamp = first.path.stat().st_mtime_ns
    again = cached_capture(1000, tmp_path)
    assert again == first and again.path.stat().st_mtime_ns == stamp
    first.path.write_bytes(b"")  # damaged: written again
    assert cached_capture(1000, tmp_path).path.stat().st_size == first.bytes


def test_render_text_without_peers(tmp_path: Path) -> None:
    report = run(frames=2000, directory=tmp_path, libraries=("wireproof",))
    text = render_text(report)
    assert "2,000 frames of Modbus/TCP" in text and "wireproof/" not in text
    assert report.checks_ok


def test_rounds_alternate_and_keep_the_best(tmp_path: Path) -> None:
    said: list[str] = []
    report = run(frames=2_000, directory=tmp_path, libraries=("wireproof",), rounds=3, progress=said.append)
    timings = [t for t in said if t.startswith("timing")]
    assert timings == [f"timing wireproof (round {i} of 3)" for i in (1, 2, 3)]
    (timing,) = report.timings
    assert timing.samples == 3 and report.settings["runs"] == 3
    assert timing.frames_per_second >= timing.median_frames_per_second > 0
    assert "best of 3" in render_text(report)


def test_rounds_must_be_positive() -> None:
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["bench", "replay", "--rounds", "0"]) == 2
    assert "--rounds must be at least 1" in err.getvalue()


def test_profile_stages_and_layers(tmp_path: Path) -> None:
    from wireproof.harness.bench.replay import profile

    text = profile(frames=3_000, top=5, directory=tmp_path)
    for stage in ("reader only", "reader + dissector", "full replay, analytics off",
                  "full replay, analytics in this process", "full replay, analytics in a second process"):
        assert stage in text
    assert "cProfile own time per layer" in text and "passive analyzer" in text
