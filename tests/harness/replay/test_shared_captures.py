"""The public Modbus captures in ../shared/captures/modbus, against tshark.

What is compared, per capture (skipped when the folder or tshark is absent):

- *Modbus frames*: the frames tshark's ``-Y mbtcp`` shows, and the frames in
  which wireproof completes at least one Modbus/TCP ADU with a valid MBAP
  header (protocol id 0, length 2..254), whether or not its PDU decodes.
  The two sets of frame numbers must be equal (so their counts are too).
- *Modbus ADUs*: tshark's transaction ids (one per PDU, several per frame
  when a segment carries several), and wireproof's ``messages["modbus-tcp"]``.
- *Malformed*: every frame tshark flags ``_ws.malformed`` carries a
  wireproof finding of severity error.

wireproof is stricter than tshark, which dissects fields without checking
their bounds: the frames where wireproof finds errors that tshark does not
flag are pinned below, each with the reason wireproof is right.

The folder is ``$WIREPROOF_SHARED/captures/modbus`` or, by default,
``../shared/captures/modbus`` next to the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from wireproof.harness.replay import engine
from wireproof.harness.replay.result import ReplayResult
from wireproof.harness.replay.run import replay

SHARED = Path(os.environ.get("WIREPROOF_SHARED", Path(__file__).resolve().parents[3].parent / "shared"))
FOLDER = SHARED / "captures" / "modbus"
CAPTURES = sorted(FOLDER.glob("*/*.pcap*")) if FOLDER.is_dir() else []

# Frames with error findings that tshark does not flag, and why wireproof is right.
QUANTITY_ZERO = "quantity 0: MB-AP 6.1-6.4, 6.11, 6.12, 6.17 require 1..N"
TRAILING = "bytes after the PDU's fields, inside the MBAP length (MB-AP 6.x layouts)"
FILE_BYTE_COUNT_ZERO = "byte count 0: MB-AP 6.14 requires 0x07..0xF5, MB-AP 6.15 0x09..0xFB"
PINNED: dict[str, dict[int, str]] = {
    "modbus_test_data_part2.pcap": {
        11: QUANTITY_ZERO, 14: QUANTITY_ZERO, 16: QUANTITY_ZERO, 18: QUANTITY_ZERO,
        22: TRAILING + " (FC 06, 2 extra)", 35: TRAILING + " (FC 11, 4 extra)",
        37: TRAILING + " (FC 12, 4 extra)", 45: QUANTITY_ZERO, 47: QUANTITY_ZERO,
        50: TRAILING + " (FC 17, 4 extra)", 57: FILE_BYTE_COUNT_ZERO, 60: FILE_BYTE_COUNT_ZERO,
        66: TRAILING + " (FC 24, 2 extra)",
    },
    "modbus_example.pcap": {64: FILE_BYTE_COUNT_ZERO, 68: FILE_BYTE_COUNT_ZERO,
                            70: FILE_BYTE_COUNT_ZERO + " (the response echoes the bad request)"},
    "4SICS-GeekLounge-151022-min.pcap": {1: QUANTITY_ZERO + " (FC 23 read quantity)"},
    "modbus-eit.pcap": {2: "FC 43/14 More Follows 0x4D: MB-AP 6.21 allows only 0x00 and 0xFF"},
    # Non-Modbus traffic on port 502 (scanners: DCE/RPC, RPC, TLS, a cookie probe). tshark's
    # heuristic refuses a header whose protocol id is not 0 and does not call these frames
    # Modbus at all; wireproof frames by the MBAP length as a server does and reports them
    # (MB-TCP 3.1.3), without counting them as Modbus ADUs.
    "modbus-and-non-modbus-p502.pcap": {
        29: "MBAP length 4096 > 254", 31: "protocol id 2819", 39: "MBAP length 32390 > 254",
        41: "protocol id 40", 49: "MBAP length 34049 > 254 (TLS ClientHello)", 51: "protocol id 256",
        70: "MBAP length 17476 > 254", 72: "protocol id 19534", 80: "MBAP length 9952 > 254",
        82: "protocol id 43",
    },
}

# The counts matched, for the closing note (tshark frames == wireproof frames; ADUs).
EXPECTED_COUNTS = {
    "modbus_test_data_part2.pcap": (281, 281),
    "modbus_example.pcap": (48, 48),
    "4SICS-GeekLounge-151022-min.pcap": (2, 2),
    "modbus-and-non-modbus-p502.pcap": (12, 12),
    "modbus-eit.pcap": (4, 4),
}


def tshark_view(path: Path) -> tuple[set[int], int, set[int]]:
    """(frames shown as mbtcp, Modbus PDUs, frames flagged malformed) according to tshark."""
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "mbtcp", "-T", "fields", "-e", "frame.number",
                          "-e", "mbtcp.trans_id", "-e", "_ws.malformed"],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    frames: set[int] = set()
    malformed: set[int] = set()
    pdus = 0
    for line in out.splitlines():
        number, tids, bad = [*line.split("\t"), "", ""][:3]
        frames.add(int(number))
        pdus += len([t for t in tids.split(",") if t])
        if bad:
            malformed.add(int(number))
    return frames, pdus, malformed


def wireproof_view(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[set[int], ReplayResult]:
    """(frames in which a Modbus ADU ends, the replay result)."""
    frames: set[int] = set()
    original = engine._FlowSink.message

    def message(self: engine._FlowSink, protocol: str, function: str, frame: int, timestamp: float) -> None:
        if protocol == "modbus-tcp":
            frames.add(frame)
        original(self, protocol, function, frame, timestamp)

    monkeypatch.setattr(engine._FlowSink, "message", message)
    return frames, replay(path, analytics=False, max_findings=100_000)


@pytest.mark.skipif(not CAPTURES, reason=f"no shared captures in {FOLDER}")
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_modbus_frames_match_tshark(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    t_frames, t_pdus, t_malformed = tshark_view(path)
    w_frames, result = wireproof_view(path, monkeypatch)

    assert w_frames == t_frames, (f"only tshark: {sorted(t_frames - w_frames)}; "
                                  f"only wireproof: {sorted(w_frames - t_frames)}")
    assert result.message_frames["modbus-tcp"] == len(t_frames)
    assert result.messages["modbus-tcp"] == t_pdus
    if path.name in EXPECTED_COUNTS:
        assert (len(t_frames), t_pdus) == EXPECTED_COUNTS[path.name]

    error_frames = {f.frame for f in result.findings if f.severity == "error"}
    missed = sorted(t_malformed - error_frames)
    assert not missed, f"malformed for tshark, fine for wireproof: {missed}"
    assert error_frames - t_malformed == set(PINNED.get(path.name, {})), \
        "an error finding tshark does not flag must be investigated and pinned in PINNED"
