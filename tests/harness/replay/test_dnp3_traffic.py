"""The DNP3 traffic of ``wireproof bench replay --protocol dnp3``: what its capture holds, a replay finds.

The replay is the real one (``wireproof replay FILE --json``'s document); the
capture is cut at many frame counts, so a cut inside a transaction (a
response left unconfirmed) is counted the way the replay counts it. tshark,
when installed, must count every frame and every DNP3 link frame.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from wireproof.harness.bench.dnp3_traffic import TRAFFIC, write_dnp3_capture
from wireproof.harness.bench.replay import load_traffic
from wireproof.harness.replay.run import replay
from wireproof.harness.replay.summary import to_json


def test_the_descriptor_names_it() -> None:
    assert load_traffic("dnp3") is TRAFFIC


@pytest.mark.parametrize("frames", [1, 4, 9, 3001, 3002, 3003, 3004, 3005, 12_000])
def test_a_replay_finds_what_the_capture_holds(tmp_path: Path, frames: int) -> None:
    capture = write_dnp3_capture(tmp_path / "dnp3.pcap", frames)
    assert capture.frames == frames and capture.path.stat().st_size == capture.bytes
    document = to_json(replay(capture.path))
    check = TRAFFIC.check(capture, document)
    assert check.ok, check.detail


def test_the_mix_has_every_kind_and_every_defect(tmp_path: Path) -> None:
    capture = write_dnp3_capture(tmp_path / "dnp3.pcap", 30_000)
    counts = capture.counts
    for kind in ("requests", "responses", "unsolicited", "confirms", "controls", "integrity_polls",
                 "refused_selects", "unconfirmed_responses", "corrupt_frames"):
        assert counts[kind] > 0, kind
    assert set(capture.findings) >= {"dnp3.control-status", "dnp3.unconfirmed-response",
                                     "dnp3.link-block-crc"}
    document = to_json(replay(capture.path))
    assert document["findings_by_rule"] == dict(capture.findings)
    # a wrong expectation fails the check
    wrong = capture.__class__(**{**{f: getattr(capture, f) for f in ("path", "protocol", "frames", "bytes",
                                                                      "flows", "counts", "findings")},
                                 "messages": capture.messages + 1})
    assert not TRAFFIC.check(wrong, document).ok


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_every_frame_as_dnp3(tmp_path: Path) -> None:
    capture = write_dnp3_capture(tmp_path / "dnp3.pcap", 2_000)
    def count(*args: str) -> int:
        done = subprocess.run(["tshark", "-r", str(capture.path), "-q", "-z", ",".join(("io,stat,0", *args))],
                              capture_output=True, text=True, timeout=120, check=True)
        rows = re.findall(r"\|\s*[\d.]+\s*<>\s*[\d.]+\s*\|\s*(\d+)\s*\|", done.stdout)
        assert rows, done.stdout
        return int(rows[-1])

    assert count() == capture.frames
    # tshark counts the frames with a DNP3 layer: every data segment (one link frame each)
    assert count("dnp3") == capture.messages
