"""The IEC 104 capture shipped in fixtures/iec104/captures: sidecar, tshark's numbers, and every finding.

TestDissectIec104.pcap (Wireshark's dissector test capture, via ITI/ICS-Security-Tools; the sidecar
gives repository, commit, licence and sha256) ships in the package. A replay of it counts tshark's
``104apci`` occurrences (69: several APDUs a segment, four starts claiming 1..3 octets) and gives
exactly the findings pinned here, each with the reason it is right:

- ``iec104.apdu-length`` (error; frames 11, 16, 18, 23): a start whose length is 1..3, below the 4 of
  104 5.1 (tshark: "APDU less than 4 bytes", malformed);
- ``iec104.malformed`` (error): frame 25 an I format of length 4 (no ASDU); 36 a U format of length 5;
  71 and 75 S formats of length 6 (104 5.1: S and U APDUs are 4 control octets; tshark tolerates these
  three); 41, 58, 83, 96 I frames whose ASDU is shorter than its data unit identifier (tshark:
  malformed). tshark's malformed frames are all among them;
- ``iec104.resync`` (info, 25): the garbage octets the dissector test puts before those starts;
- on the last connection (a real session, stream 5): ``iec104.t3`` (info) 32.5 s of silence before
  frame 107 and 25.4 s before 117, with no TESTFR act (t3 = 20 s); ``iec104.t2`` the controlling
  station acknowledges 17.4 s (109), 20.0 s (112, 115, 120, 131, 142) and 13.0 s (136) after the I frame
  it received (t2 = 10 s); ``iec104.t1`` six of those acknowledgements came more than 15 s after the I
  frame (136's 13.0 s did not); the station was configured with longer timers than 104's defaults,
  which is why these are warnings. ``iec104.negative-confirm``: 118 a C_DC_NA_1 ACT_CON with P/N set,
  134 a C_SC_NA_1 ACT_CON with P/N (and T) set, 136 a C_SC_NA_1 activation with P/N set (tshark:
  ``ActCon_NEGA``, ``Act_NEGA``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.replay.run import replay

CAPTURES = Path(str(resources.files("wireproof.fixtures") / "iec104" / "captures"))
PCAP = CAPTURES / "TestDissectIec104.pcap"
SHARED = Path(os.environ.get("WIREPROOF_SHARED", Path(__file__).resolve().parents[2].parent / "shared"))
SIDECAR_KEYS = {"capture", "description", "repository", "commit", "path_in_repository", "licence", "sha256",
                "server_port", "tshark_version", "tshark_packets", "tshark_iec104_packets", "tshark_apdus",
                "tshark_apdu_types", "tshark_asdus", "tshark_malformed", "replay_apdus", "replay_findings"}
FINDING_FRAMES = {
    "iec104.apdu-length": [11, 16, 18, 23],
    "iec104.malformed": [25, 36, 41, 58, 71, 75, 83, 96],
    "iec104.t3": [107, 117],
    "iec104.t2": [109, 112, 115, 120, 131, 136, 142],
    "iec104.t1": [109, 112, 115, 120, 131, 142],
    "iec104.negative-confirm": [118, 134, 136],
}


def sidecar() -> dict[str, Any]:
    return tomllib.loads(PCAP.with_suffix(".toml").read_text())


def test_sidecar_and_checksum() -> None:
    meta = sidecar()
    assert set(meta) >= SIDECAR_KEYS, SIDECAR_KEYS - set(meta)
    assert meta["capture"] == PCAP.name
    assert hashlib.sha256(PCAP.read_bytes()).hexdigest() == meta["sha256"]
    assert meta["replay_apdus"] == meta["tshark_apdus"]
    short = len(FINDING_FRAMES["iec104.apdu-length"])
    assert sum(meta["tshark_apdu_types"].values()) + short == meta["tshark_apdus"]
    provenance = SHARED / "captures" / "PROVENANCE.tsv"
    if provenance.is_file():  # the shared copy's record names the same file
        rows = [line.split("\t") for line in provenance.read_text().splitlines()]
        row = next(r for r in rows if r[0].endswith("/" + PCAP.name))
        assert (row[1], row[2], row[3], row[5]) == (meta["repository"], meta["commit"],
                                                    meta["path_in_repository"], meta["sha256"])


def test_replay_counts_and_every_finding() -> None:
    meta = sidecar()
    result = replay(PCAP, analytics=True, max_findings=100_000, workers=0)
    assert result.messages.get("iec104", 0) == meta["replay_apdus"] == 69
    by_rule = Counter(f.rule for f in result.findings)
    assert dict(by_rule) == meta["replay_findings"]
    for rule, frames in FINDING_FRAMES.items():
        assert sorted(f.frame for f in result.findings if f.rule == rule) == frames, rule
    assert {f.severity for f in result.findings if f.rule == "iec104.resync"} == {"info"}
    # the garbage is around the damaged APDUs (frames 56, 73, 94: octets before an APDU the next segment ends)
    assert sorted(f.frame for f in result.findings if f.rule == "iec104.resync") == [
        7, 9, 11, 16, 16, 18, 18, 23, 23, 25, 25, 36, 36, 41, 41, 56, 58, 71, 71, 73, 75, 83, 83, 94, 96]
    assert result.decode_errors.get("iec104", 0) == len(FINDING_FRAMES["iec104.apdu-length"]) + len(
        FINDING_FRAMES["iec104.malformed"])


def _tshark(*args: str) -> str:
    return subprocess.run(["tshark", "-r", str(PCAP), *args], capture_output=True, text=True, timeout=120,
                          check=True).stdout


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_gives_the_sidecar_numbers() -> None:
    meta = sidecar()
    counts: Counter[str] = Counter()

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        counts.update(key for key, _ in pairs if key in ("iec60870_104", "iec60870_asdu"))
        return dict(pairs)

    json.loads(_tshark("-T", "json"), object_pairs_hook=hook)
    assert counts["iec60870_104"] == meta["tshark_apdus"]
    assert counts["iec60870_asdu"] == meta["tshark_asdus"]
    assert len(_tshark("-T", "fields", "-e", "frame.number").split()) == meta["tshark_packets"]
    assert len(_tshark("-Y", "104apci", "-T", "fields", "-e", "frame.number").split()) == meta[
        "tshark_iec104_packets"]
    types = Counter(t for line in _tshark("-T", "fields", "-e", "iec60870_104.type").split()
                    for t in line.split(","))
    assert {"I": types["0x00000000"], "S": types["0x00000001"], "U": types["0x00000003"]} == meta[
        "tshark_apdu_types"]
    malformed = [int(n) for n in _tshark("-Y", "_ws.malformed", "-T", "fields", "-e", "frame.number").split()]
    assert len(malformed) == meta["tshark_malformed"]
    # every frame tshark calls malformed is one wireproof gives an error finding for
    assert set(malformed) <= set(FINDING_FRAMES["iec104.apdu-length"] + FINDING_FRAMES["iec104.malformed"])
