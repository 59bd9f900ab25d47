"""The recorded DNP3 peer captures (fixtures/dnp3/captures), before any DNP3 codec exists.

Each capture ships in the package (importlib.resources finds it), has a TOML
sidecar naming both peers, their versions, the commands and tshark's own
numbers, and its TCP streams on the outstation port reassemble cleanly.
Walking each stream by the FT3 link frame lengths alone (0x05 0x64, LENGTH
counts control + addresses + user data, one CRC after the 8-octet header
and after every 16-octet user data block: IEEE 1815-2012 9.2.1) consumes it
exactly and gives tshark's count of ``dnp3.start``: the number the replay
tests of the DNP3 codec must reproduce.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.dissector import tcp_streams

CAPTURES = Path(str(resources.files("wireproof.fixtures") / "dnp3" / "captures"))
PCAPS = sorted(CAPTURES.glob("*.pcapng"))
SIDECAR_KEYS = {
    "capture",
    "description",
    "outstation",
    "outstation_version",
    "master",
    "master_version",
    "server_port",
    "script",
    "command",
    "recorded_with",
    "date",
    "wireproof_version",
    "tshark_version",
    "tshark_decode_as",
    "tshark_dnp3_packets",
    "tshark_link_frames",
    "tshark_malformed",
}


def _link_frames(data: bytes) -> int:
    """FT3 frames in ``data``, by their lengths only; fails on anything that is not a whole frame."""
    offset = frames = 0
    while offset < len(data):
        assert data[offset : offset + 2] == b"\x05\x64", f"no start octets at {offset}"
        length = data[offset + 2]
        assert length >= 5, f"LENGTH {length} at {offset}"
        user = length - 5
        offset += 10 + user + 2 * ((user + 15) // 16)
        frames += 1
    assert offset == len(data), "a partial frame at the end"
    return frames


def _sidecar(pcap: Path) -> dict[str, Any]:
    side = pcap.with_suffix(".toml")
    assert side.is_file(), f"{pcap.name} has no sidecar {side.name}"
    return tomllib.loads(side.read_text())


def test_the_peer_sessions_are_there() -> None:
    names = {p.stem for p in PCAPS}
    for kind in ("integrity", "events", "controls", "timesync-nonlan", "timesync-lan", "unsolicited"):
        assert f"yadnp3-master_yadnp3-outstation_{kind}" in names
    assert {"dnp3py-master_yadnp3-outstation", "yadnp3-master_dnp3py-outstation"} <= names


@pytest.mark.parametrize("pcap", PCAPS, ids=[p.stem for p in PCAPS])
def test_sidecar_and_link_frames(pcap: Path) -> None:
    meta = _sidecar(pcap)
    assert set(meta) >= SIDECAR_KEYS, SIDECAR_KEYS - set(meta)
    assert meta["capture"] == pcap.name
    assert pcap.stat().st_size < 64 * 1024, "captures are committed: keep them small"
    streams = tcp_streams(iter_capture(pcap), port=meta["server_port"])
    assert len(streams) == 2, "one TCP connection, both directions"
    assert sum(_link_frames(s.data) for s in streams) == meta["tshark_link_frames"]
    # One link frame a TCP segment in every session here, so tshark's packet count agrees.
    assert meta["tshark_dnp3_packets"] == meta["tshark_link_frames"]
