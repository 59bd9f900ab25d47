"""The IEC 104 traffic of ``wireproof bench replay --protocol iec104``: what its capture holds, replays find.

The replay is the real one (``wireproof replay FILE --json``'s document); the
capture is cut at many frame counts (inside the STARTDT, the interrogation, a
refused command, the STOPDT and close), so every cut is counted the way the
replay counts it. tshark and Scapy, when installed, must see every APDU.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from wireproof.harness.bench.iec104_traffic import TRAFFIC, write_iec104_capture
from wireproof.harness.bench.replay import load_traffic
from wireproof.harness.replay.run import replay
from wireproof.harness.replay.summary import to_json


def test_the_descriptor_names_it() -> None:
    assert load_traffic("iec104") is TRAFFIC


@pytest.mark.parametrize("frames", [1, 4, 9, 40, 100, 101, 102, 103, 7000])
def test_a_replay_finds_what_the_capture_holds(tmp_path: Path, frames: int) -> None:
    capture = write_iec104_capture(tmp_path / "iec104.pcap", frames)
    assert capture.frames == frames and capture.path.stat().st_size == capture.bytes
    document = to_json(replay(capture.path))
    check = TRAFFIC.check(capture, document)
    assert check.ok, check.detail


@pytest.mark.parametrize("frames", range(150, 420, 13))
def test_cuts_around_the_close_of_short_flows(tmp_path: Path, frames: int) -> None:
    capture = write_iec104_capture(tmp_path / "iec104.pcap", frames, concurrent=3, per_flow=45)
    document = to_json(replay(capture.path))
    check = TRAFFIC.check(capture, document)
    assert check.ok, check.detail


def test_the_mix_has_every_kind_and_every_defect(tmp_path: Path) -> None:
    capture = write_iec104_capture(tmp_path / "iec104.pcap", 12_000)
    for kind, n in capture.counts.items():
        assert n > 0, kind
    assert capture.findings == {"iec104.negative-confirm": capture.counts["negative_confirms"]}
    document = to_json(replay(capture.path))
    assert document["findings_by_rule"] == dict(capture.findings)
    assert document["messages"]["iec104"] == capture.messages
    # a wrong expectation fails the check
    wrong = capture.__class__(**{**{f: getattr(capture, f) for f in ("path", "protocol", "frames", "bytes",
                                                                      "flows", "counts", "findings")},
                                 "messages": capture.messages + 1})
    assert not TRAFFIC.check(wrong, document).ok


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_every_data_segment_as_iec104(tmp_path: Path) -> None:
    capture = write_iec104_capture(tmp_path / "iec104.pcap", 2_000)

    def count(*args: str) -> int:
        done = subprocess.run(["tshark", "-r", str(capture.path), "-q", "-z", ",".join(("io,stat,0", *args))],
                              capture_output=True, text=True, timeout=120, check=True)
        rows = re.findall(r"\|\s*[\d.]+\s*<>\s*[\d.]+\s*\|\s*(\d+)\s*\|", done.stdout)
        assert rows, done.stdout
        return int(rows[-1])

    assert count() == capture.frames
    assert count("104apci") == capture.messages  # one APDU a data segment
    assert count("104asdu") == capture.counts["i_frames"]
    malformed = count("_ws.malformed")
    assert malformed == 0


def test_scapy_reads_every_apdu(tmp_path: Path) -> None:
    pytest.importorskip("scapy.contrib.scada.iec104", reason="Scapy is not installed")
    from scapy.utils import PcapReader

    capture = write_iec104_capture(tmp_path / "iec104.pcap", 600)
    layers = TRAFFIC.scapy_layers()
    packets = layered = 0
    with PcapReader(str(capture.path)) as reader:
        for packet in reader:
            packets += 1
            layered += any(packet.haslayer(layer) for layer in layers)
    check = TRAFFIC.scapy_check(capture, packets, layered)
    assert check.ok, check.detail
