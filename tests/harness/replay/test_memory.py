"""Streaming in flat memory: a replay of a million-frame capture peaks under 200 MB of RSS.

The capture (Modbus/TCP, 256 connections, polls and writes, deliberate
defects) is written frame by frame with precompiled structs
(:func:`wireproof.harness.bench.replay.write_modbus_capture`), never held in
memory. ``wireproof replay FILE --json`` runs in a child process; its peak
resident set size is the kernel's own account for that child
(``os.wait4``: ``ru_maxrss``, KiB on Linux), so neither this test process
nor any other child counts. The JSON must count every frame, every message
and exactly the defects that were written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from wireproof.harness.bench.replay import write_modbus_capture

FRAMES = 1_000_000
LIMIT_MB = 200
CHILD_TIMEOUT = 900.0  # seconds: a hung replay is killed, and the test fails


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="needs os.wait4 (POSIX) for the child's peak RSS")
def test_million_frame_replay_peak_rss_under_200_mb(tmp_path: Path) -> None:
    capture = write_modbus_capture(tmp_path / "million.pcap", FRAMES)
    assert capture.frames == FRAMES and capture.path.stat().st_size == capture.bytes
    out_path = tmp_path / "replay.json"
    started = time.monotonic()
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wireproof", "replay", str(capture.path), "--json"],
                                stdout=out, stderr=subprocess.PIPE)
    watchdog = threading.Timer(CHILD_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    seconds = time.monotonic() - started
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux
    print(f"\nreplay of {FRAMES} frames: {seconds:.1f} s, peak RSS {peak_mb:.1f} MB")
    # Exit 1: the capture holds responses without request (severity error), on purpose.
    assert proc.returncode == 1, stderr
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb:.1f} MB >= {LIMIT_MB} MB"

    document = json.loads(out_path.read_text())
    assert document["schema"] == "wireproof.replay/1"
    assert document["frames"] == FRAMES
    assert document["messages"] == {"modbus-tcp": capture.messages}
    assert document["flows_total"] == capture.flows
    assert document["malformed_frames"] == 0 and document["decode_errors"] == 0
    unanswered = capture.orphan_responses + capture.requests - capture.responses
    assert document["findings_by_rule"] == {
        "modbus.exception-response": capture.exceptions,
        "modbus.response-without-request": capture.orphan_responses,
        "modbus.unanswered-request": unanswered,
        "tcp.retransmission": capture.retransmissions,
    }
    assert len(document["findings"]) == document["findings_total"] <= 1000
