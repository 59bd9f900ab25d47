"""The recorded IEC 104 peer sessions (fixtures/iec104/captures): true sidecars, clean replays, counts.

Recorded by tools/record_iec104_captures.py: c104's client against the reference server, the
reference client against a c104 server. Each sidecar names the capture's SHA-256, the server port and
tshark's APDU count (decoded as IEC 104 on that port); wireproof's replay must count the same APDUs
and find nothing wrong (both peers keep the rules on these sessions).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from wireproof.harness.replay.run import replay

FOLDER = Path(str(resources.files("wireproof.fixtures") / "iec104" / "captures"))
# the recorded peer sessions (their sidecars name the client's exit); the shared ITI capture beside
# them has a test of its own (tests/harness/test_iec104_capture_fixtures.py)
SIDECARS = sorted(p for p in FOLDER.glob("*.toml") if "client_exit" in tomllib.loads(p.read_text("utf-8")))


def test_there_are_recorded_sessions() -> None:
    assert len(SIDECARS) == 2


@pytest.mark.parametrize("sidecar", SIDECARS, ids=[p.stem for p in SIDECARS])
def test_sidecar_is_true_and_replay_is_clean(sidecar: Path) -> None:
    meta = tomllib.loads(sidecar.read_text(encoding="utf-8"))
    pcap = FOLDER / meta["capture"]
    assert hashlib.sha256(pcap.read_bytes()).hexdigest() == meta["sha256"]
    assert pcap.stat().st_size < 64 * 1024, "captures are committed: keep them small"
    result = replay(pcap, ports={meta["server_port"]: "iec104"}, analytics=False, workers=0)
    assert result.messages.get("iec104") == meta["tshark_apdus"] > 20
    assert list(result.findings) == []
    if shutil.which("tshark") is not None:
        command = ["tshark", "-r", str(pcap), "-d", meta["tshark_decode_as"], "-T", "fields", "-e",
                   "iec60870_104.type"]
        out = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
        counted = sum(len([v for v in line.split(",") if v]) for line in out.splitlines())
        assert counted == meta["tshark_apdus"]
