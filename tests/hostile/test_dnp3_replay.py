"""Hostile captures for the DNP3 replay analyzer: random bytes on port 20000, over TCP and UDP, and
random application fragments inside valid link frames.

No crash, no error escaping, bounded time, and the valid link frames planted in the noise are the
only messages counted (the framer believes a LENGTH only under a valid header CRC, 9.2.4.1.5). Random
fragments reach the application analyzer (requests, responses with any IIN, objects with any range and
body): each link frame is counted, each fragment that fails to decode is one malformed finding.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.codecs.dnp3.link import encode_link
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.codecs.dnp3.transport import segment
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


# --- random application payloads in valid link frames -------------------------------------------------

_FUNCTIONS = [0, 1, 2, 3, 4, 5, 13, 20, 129, 130, 77]
_HEADERS = [(1, 2, 0x00), (2, 1, 0x17), (12, 1, 0x28), (30, 1, 0x01), (32, 3, 0x17), (50, 1, 0x07),
            (60, 1, 0x06), (80, 1, 0x00), (0, 254, 0x06), (70, 5, 0x5B), (120, 1, 0x5B), (110, 4, 0x00)]


def random_fragment(rng: random.Random) -> bytes:
    """A fragment that is random bytes, or a plausible head (control, a function code, an IIN with any
    bits, e.g. restart, need time, reserved) and object headers with random ranges and bodies."""
    if rng.random() < 0.2:
        return rng.randbytes(rng.randrange(0, 300))
    code = rng.choice(_FUNCTIONS)
    out = bytearray((rng.randrange(256), code))
    if code >= 129:
        out += rng.randbytes(2)
    for _ in range(rng.randrange(4)):
        group, variation, qualifier = rng.choice(_HEADERS)
        out += bytes((group, variation, qualifier if rng.random() < 0.9 else rng.randrange(256)))
        out += rng.randbytes(rng.choice((1, 2, 4)))  # a range field, right or wrong
        out += rng.randbytes(rng.randrange(0, 60))
    return bytes(out[:2048])


def application_sends(seed: int) -> tuple[list[tuple[bool, bytes]], int]:
    """Random fragments in valid link frames (several masters and outstations), and how many frames."""
    rng = random.Random(seed)
    sends: list[tuple[bool, bytes]] = []
    frames = 0
    tseq: dict[tuple[bool, int, int], int] = {}
    for _ in range(300):
        from_client = rng.random() < 0.5
        source, destination = rng.choice(((1, 10), (10, 1), (2, 10), (10, 2), (3, 0xFFFF)))
        key = (from_client, source, destination)
        segments = segment(random_fragment(rng), seq=tseq.get(key, 0))
        tseq[key] = (tseq.get(key, 0) + len(segments)) % 64
        if rng.random() < 0.05 and len(segments) > 1:
            segments.pop(rng.randrange(len(segments)))  # a lost segment
        data = b"".join(encode_link(LinkFrame(dir=from_client, prm=True,
                                              function=PrimaryFunction.UNCONFIRMED_USER_DATA,
                                              destination=destination, source=source, user_data=s))
                        for s in segments)
        frames += len(segments)
        sends.append((from_client, data))
    return sends, frames


@pytest.mark.parametrize("transport", ["tcp", "udp"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_random_application_payloads_in_valid_link_frames(tmp_path: Path, transport: str, seed: int) -> None:
    sends, frames = application_sends(seed)
    build = tcp_capture if transport == "tcp" else udp_capture
    path = build(tmp_path / f"app-{transport}.pcap", sends)
    began = time.perf_counter()
    for analytics in (False, True):
        result = replay(path, analytics=analytics, max_findings=100_000, workers=0)
        assert result.messages.get("dnp3", 0) == frames  # every link frame counted, whatever it carries
        assert {f.protocol for f in result.findings} <= {"dnp3"}
        malformed = sum(f.malformed for f in result.findings)
        assert result.decode_errors.get("dnp3", 0) == malformed  # one finding per fragment that fails
        assert all(f.rule.startswith("dnp3.") and f.clause.startswith("IEEE 1815") for f in result.findings)
    assert time.perf_counter() - began < 60
