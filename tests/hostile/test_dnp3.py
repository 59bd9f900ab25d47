"""Hostile input into every DNP3 decoder: a value or a typed DecodeError, in bounded time and memory.

The inputs are real frames (the shared captures' and the vectors') cut, bit-flipped and with every
length-like field crafted (tests/hostile/damage.py), plus large and adversarial streams for the
framers and the reassembler. Nothing but a DecodeError may escape; no input may make a decoder
allocate on the word of a count (a 4-octet count of 2**32 objects) or loop.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from tests.hostile.damage import everything

from wireproof.codecs import NEED_DATA, get
from wireproof.codecs.dnp3 import FragmentFramer, LinkFramer, Reassembler, decode_fragment, decode_link
from wireproof.codecs.dnp3.formats import decode_link_declarative, decode_request_declarative
from wireproof.errors import DecodeError

FRAMES = [bytes.fromhex(h) for h in (
    "056411c40a0001000615c0c0153c02063c03063c04061a55",  # disable unsolicited (ITI)
    "05641ac404000300c2e6d2c3030c012801009f86030164000000ec416400000000005b",  # CROB select (ITI)
    "05641c4401000a007636c6c08100000c01280100000003016400c39600006400000000005b",  # its response (ITI)
    "056412c4040003001e7cc9ca02320307019f0d83524c01eb2c",  # write g50v3 (ITI)
)]
FRAGMENTS = [bytes.fromhex(h) for h in (
    "c181000000fa00000001097769726570726f6f66",  # device attribute
    "c10232015b0106007b68e5cf8b01",  # q5B size prefix
    "c1011e01390100000070110100",  # q39 index prefix, 4-octet count
    "c281011001010000094902",  # g1v1 packed
)]
# (offset, size, byte order) of the length-like fields: LENGTH, and in fragments the count/range fields.
LINK_FIELDS = [(2, 1, "little")]
FRAGMENT_FIELDS = [(6, 1, "little"), (5, 2, "little"), (5, 4, "little")]
DECODERS: list[Callable[[bytes], Any]] = [
    decode_link, decode_link_declarative, decode_fragment, decode_request_declarative, get("dnp3").decode,
    get("dnp3-app").decode, get("dnp3").decode_declarative, get("dnp3-app").decode_declarative]


def _cases() -> list[tuple[str, bytes]]:
    out = []
    for i, frame in enumerate(FRAMES):
        out += [(f"frame {i}: {label}", data) for label, data in everything(frame, LINK_FIELDS, seed=i)]
    for i, frag in enumerate(FRAGMENTS):
        out += [(f"fragment {i}: {label}", data) for label, data in everything(frag, FRAGMENT_FIELDS, seed=i)]
    return out


CASES = _cases()


def test_damaged_inputs_give_a_value_or_a_decode_error() -> None:
    for label, data in CASES:
        for decode in DECODERS:
            try:
                decode(data)
            except DecodeError:
                pass
            except Exception as exc:  # pragma: no cover - the failure message is the point
                raise AssertionError(f"{label}: {decode.__qualname__} raised {exc!r} on {data.hex()}") \
                    from exc


def test_huge_counts_allocate_nothing_and_take_no_time() -> None:
    """A 4-octet count or stop index near 2**32, with few octets behind it, is refused at once."""
    hostile = [
        bytes.fromhex("c08100001e0109ffffffff"),  # g30v1 count 2**32-1, no objects
        bytes.fromhex("c08100001e0102" + "00000000" + "feffffff"),  # g30v1 start 0 stop 2**32-2
        bytes.fromhex("c0810000010102" + "00000000" + "feffffff"),  # packed: ceil(2**32/8) octets announced
        bytes.fromhex("c0810000000100" + "0000"),  # g0 device attribute without data type and length
        bytes.fromhex("c0011e0139ffffffff"),  # a read with 2**32-1 index prefixes announced
        bytes.fromhex("c0013c0109ffffffff"),  # class data, count 2**32-1: no objects are made
        bytes.fromhex("c0813c0109ffffffff"),
    ]
    tracemalloc.start()
    began = time.perf_counter()
    try:
        for data in hostile:
            for decode in (decode_fragment, decode_request_declarative):
                try:
                    msg = decode(data)
                except DecodeError:
                    continue
                assert all(len(h.points) == 0 for h in msg.objects), data.hex()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - began < 2.0
    assert peak < 1 << 20, f"peak {peak} bytes"


def test_link_framer_on_a_hostile_stream_stays_bounded() -> None:
    """Garbage, false starts (0x05 0x64 with bad header CRCs) and a good frame at the end."""
    framer = LinkFramer(max_buffer=4096)
    stream = (b"\x05\x64\xff\xc4\x00\x00\x00\x00\x00\x00" * 100 + bytes(range(256)) * 4 + b"\x05" * 50
              + FRAMES[0])
    frames = []
    errors = 0
    for k in range(0, len(stream), 97):
        framer.feed(stream[k:k + 97])
        while True:
            try:
                frame = framer.next_frame()
            except DecodeError:
                errors += 1
                continue
            if frame is NEED_DATA:
                break
            assert isinstance(frame, bytes)
            frames.append(frame)
        assert framer.buffered <= 4096
    assert frames == [FRAMES[0]] and errors >= 100


def test_reassembler_refuses_an_endless_fragment() -> None:
    r = Reassembler(max_fragment=4096)
    seq = 0
    refused = False
    for k in range(100):
        head = (0x40 if k == 0 else 0) | seq  # FIR once, never FIN
        try:
            assert r.feed(bytes((head,)) + bytes(249)) is None
        except DecodeError:
            refused = True
            break
        seq = (seq + 1) % 64
    assert refused and not r.in_progress


@pytest.mark.parametrize("size", [1, 7, 250])
def test_fragment_framer_on_random_link_frames(size: int) -> None:
    import random

    rng = random.Random(size)
    framer = FragmentFramer()
    for _ in range(200):
        framer.feed(bytes(rng.randrange(256) for _ in range(size)) + rng.choice(FRAMES))
        for _ in range(1000):
            try:
                if framer.next_frame() is NEED_DATA:
                    break
            except DecodeError:
                continue
        else:
            raise AssertionError("fragment framer loops")
