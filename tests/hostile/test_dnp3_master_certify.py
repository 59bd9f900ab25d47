"""Hostile masters under ``wireproof certify dnp3-master``: garbage, a bad CRC, a silent connection, a
master that hangs up at once. Each is judged (fail or inconclusive), never an ``error``, a traceback or
a hang."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Each hostile master connects to {host}:{port} and does one bad thing, then holds on until stopped.
MASTERS = {
    "garbage": "s.sendall(bytes(range(256)) * 4)",
    "bad-crc": "s.sendall(bytes.fromhex('05640bc40a000100ffff') + bytes(20))",
    "silent": "pass",
    "hang-up": "s.close(); raise SystemExit(0)",
}
HOLD = "import sys; sys.stdin.read()"
CLAUSES = ("DNP3-M-001", "DNP3-M-005", "DNP3-M-010", "DNP3-M-015", "DNP3-M-022")


@pytest.mark.suite_run
@pytest.mark.parametrize("kind", sorted(MASTERS))
def test_hostile_master_is_judged(kind: str, tmp_path: Path) -> None:
    script = tmp_path / "master.py"
    script.write_text("import socket, sys\n"
                      "s = socket.create_connection((sys.argv[1], int(sys.argv[2])))\n"
                      f"{MASTERS[kind]}\n{HOLD}\n")
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "certify", "dnp3-master", "--report", str(tmp_path / "rep"),
         "--command", f"{{python}} {script} {{host}} {{port}}", "--param", "poll_timeout=1",
         "--param", "response_timeout=0.5", "--param", "connect_timeout=10", "-k", " or ".join(CLAUSES)],
        capture_output=True, text=True, timeout=240, check=False)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    got = {c["clause"]: c["verdict"] for c in report["cases"]}
    assert set(got) == set(CLAUSES), out
    assert set(got.values()) <= {"fail", "inconclusive"}, got
    assert got["DNP3-M-001"] == "fail", got  # no integrity poll, whatever else happened
    if kind in ("garbage", "bad-crc"):
        failed = {c["clause"]: c["message"] for c in report["cases"] if c["verdict"] == "fail"}
        assert any("CRC" in m or "0564" in m for m in failed.values()), failed
    assert proc.returncode == 1, out
