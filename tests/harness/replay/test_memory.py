"""Streaming in flat memory: a replay of a million-frame capture peaks under 200 MB of RSS.

The capture (Modbus/TCP, 256 connections, polls and writes, deliberate
defects) is written frame by frame with precompiled structs
(:func:`wireproof.harness.bench.modbus_traffic.write_modbus_capture`), never held in
memory. ``wireproof replay FILE --json`` runs in a grandchild process,
forked by a small launcher; its peak resident set size is the kernel's own
account (``ru_maxrss`` of the launcher's children, KiB on Linux), so this
test process does not count. The replay's analytics process (a capture this
big uses one where there are two cores) reports its own peak in the JSON;
the two are added. The JSON must count every frame, every message
and exactly the defects that were written.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wireproof.harness.bench.modbus_traffic import write_modbus_capture

FRAMES = 1_000_000
LIMIT_MB = 200
CHILD_TIMEOUT = 900.0  # seconds: a hung replay is killed, and the test fails

_LAUNCHER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"launcher: {code} {peak}", file=sys.stderr)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="peak RSS in KiB from getrusage is Linux-specific")
def test_million_frame_replay_peak_rss_under_200_mb(tmp_path: Path) -> None:
    capture = write_modbus_capture(tmp_path / "million.pcap", FRAMES)
    assert capture.frames == FRAMES and capture.path.stat().st_size == capture.bytes
    out_path = tmp_path / "replay.json"
    started = time.monotonic()
    # Linux keeps a process's peak RSS across fork+exec (the kernel records the
    # old address space's high-water mark at exec), so a child forked straight
    # from this big pytest worker would report the worker's size. A small
    # launcher forks the replay instead and reports its child's peak.
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "wireproof", "replay",
                                 str(capture.path), "--json"], stdout=out, stderr=subprocess.PIPE)
        try:
            _, raw_stderr = proc.communicate(timeout=CHILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    stderr = raw_stderr.decode(errors="replace")
    seconds = time.monotonic() - started
    last = stderr.strip().splitlines()[-1]
    code_text, rss_kib = last.removeprefix("launcher: ").split()
    proc.returncode = int(code_text)
    peak_mb = int(rss_kib) / 1024  # KiB on Linux
    print(f"\nreplay of {FRAMES} frames: {seconds:.1f} s, peak RSS {peak_mb:.1f} MB")
    # Exit 1: the capture holds responses without request (severity error), on purpose.
    assert proc.returncode == 1, stderr
    document = json.loads(out_path.read_text())
    # A capture this big has its analytics fed in a second process (on a machine with two
    # cores): its own peak counts too. The launcher's figure is the largest of its
    # descendants, so the sum bounds the two processes' peaks from above.
    child_kib = (document["stats"].get("analytics_process") or {}).get("peak_rss_kib") or 0
    total_mb = peak_mb + child_kib / 1024
    print(f"analytics process peak RSS {child_kib / 1024:.1f} MB; together at most {total_mb:.1f} MB")
    assert total_mb < LIMIT_MB, f"peak RSS {peak_mb:.1f} + {child_kib / 1024:.1f} MB >= {LIMIT_MB} MB"

    assert document["schema"] == "wireproof.replay/1"
    assert document["frames"] == FRAMES
    assert document["messages"] == {"modbus-tcp": capture.messages}
    assert document["flows_total"] == capture.flows
    assert document["malformed_frames"] == 0 and document["decode_errors"] == 0
    counts = capture.counts
    unanswered = counts["orphan_responses"] + counts["requests"] - counts["responses"]
    assert document["findings_by_rule"] == capture.findings == {
        "modbus.exception-response": counts["exceptions"],
        "modbus.response-without-request": counts["orphan_responses"],
        "modbus.unanswered-request": unanswered,
        "tcp.retransmission": counts["retransmissions"],
    }
    assert len(document["findings"]) == document["findings_total"] <= 1000
