"""Hostile captures for the DNP3 replay analyzer: random bytes on port 20000, over TCP and UDP.

No crash, no error escaping, bounded time, and the valid link frames planted in the noise are the
only messages counted (the framer believes a LENGTH only under a valid header CRC, 9.2.4.1.5).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.codecs.dnp3.link import encode_link
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.harness.replay.pcap import build_tcp_frame, build_udp_frame, write_pcap
from wireproof.harness.replay.run import replay

CLIENT = ("10.0.0.1", 40001)
SERVER = ("10.0.0.2", 20000)
PLANTED = 50
FRAME = encode_link(LinkFrame(dir=True, prm=True, function=PrimaryFunction.UNCONFIRMED_USER_DATA,
                              destination=10, source=1, user_data=b"\xc0\xc1\x01\x3c\x02\x06"))


def noise(rng: random.Random) -> bytes:
    """Random octets, often with start octets (and a plausible LENGTH) to make the framer hunt."""
    chunk = bytearray(rng.randbytes(rng.randrange(1, 600)))
    for _ in range(rng.randrange(4)):
        at = rng.randrange(len(chunk))
        chunk[at:at] = b"\x05\x64" + bytes([rng.randrange(256)])
    return bytes(chunk)


def payloads(seed: int) -> list[tuple[bool, bytes]]:
    rng = random.Random(seed)
    out = [(rng.random() < 0.5, noise(rng)) for _ in range(400)]
    for i in range(PLANTED):  # each planted frame after a noise chunk, in its own send
        out.insert(8 * i + 4, (True, FRAME))
    return out


def tcp_capture(path: Path, sends: list[tuple[bool, bytes]]) -> Path:
    seq = {True: 1000, False: 5000}
    frames = [build_tcp_frame(b"", src=CLIENT, dst=SERVER, seq=999, flags=0x02),
              build_tcp_frame(b"", src=SERVER, dst=CLIENT, seq=4999, ack=1000, flags=0x12),
              build_tcp_frame(b"", src=CLIENT, dst=SERVER, seq=1000, ack=5000, flags=0x10)]
    for from_client, data in sends:
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        frames.append(build_tcp_frame(data, src=src, dst=dst, seq=seq[from_client], ack=seq[not from_client]))
        seq[from_client] += len(data)
    write_pcap(path, [(1_700_000_000 + i * 0.001, f) for i, f in enumerate(frames)])
    return path


def udp_capture(path: Path, sends: list[tuple[bool, bytes]]) -> Path:
    frames = [build_udp_frame(data, src=CLIENT if c else SERVER, dst=SERVER if c else CLIENT)
              for c, data in sends]
    write_pcap(path, [(1_700_000_000 + i * 0.001, f) for i, f in enumerate(frames)])
    return path


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_bytes_on_port_20000(tmp_path: Path, transport: str, seed: int) -> None:
    sends = payloads(seed)
    build = tcp_capture if transport == "tcp" else udp_capture
    path = build(tmp_path / f"noise-{transport}.pcap", sends)
    began = time.perf_counter()
    result = replay(path, analytics=False, max_findings=100_000, workers=0)
    assert time.perf_counter() - began < 30
    # Noise ending in a partial start may join a planted frame's octets only by CRC collision
    # (2**-16 per candidate): with these seeds every planted frame is counted, and nothing else.
    assert result.messages.get("dnp3", 0) == PLANTED
    assert {f.protocol for f in result.findings} == {"dnp3"}
    assert result.findings_total <= 20 * len(sends)
