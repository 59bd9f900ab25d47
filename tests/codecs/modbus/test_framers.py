"""Framers (MB-TCP 3.1.3, MB-SL 2.5.1 / 2.5.1.1 / 2.5.2): invalid headers, resync, timing."""

from __future__ import annotations

import pytest

from wireproof.codecs._core import NEED_DATA, Framer
from wireproof.codecs.modbus import (
    ReadHoldingRegistersRequest,
    RtuAdu,
    ascii_codec,
    crc16,
    rtu_codec,
    tcp_codec,
)
from wireproof.codecs.modbus.framers import AsciiFramer, RtuFramer, RtuTimedFramer, TcpFramer, rtu_timing
from wireproof.codecs.testing import drain
from wireproof.errors import ChecksumError, DecodeError

REQ = bytes.fromhex("0001000000061103006B0003")


def test_framers_satisfy_the_protocol() -> None:
    for framer in (TcpFramer(), RtuFramer(), RtuTimedFramer(), AsciiFramer()):
        assert isinstance(framer, Framer)


@pytest.mark.parametrize("header", ["000100000000", "000100000001", "0001000000FF"])
def test_tcp_framer_raises_on_invalid_header_and_discards(header: str) -> None:
    framer = TcpFramer()
    framer.feed(bytes.fromhex(header))
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert info.value.path[0] == "mbap"
    assert framer.buffered == 0
    framer.feed(REQ)
    assert framer.next_frame() == REQ


def test_tcp_framer_needs_data() -> None:
    framer = TcpFramer()
    framer.feed(REQ[:5])
    assert framer.next_frame() is NEED_DATA
    framer.feed(REQ[5:])
    assert framer.next_frame() == REQ
    assert framer.next_frame() is NEED_DATA


def _rtu(address: int = 0x11) -> bytes:
    return rtu_codec().encode(RtuAdu(address=address, pdu=ReadHoldingRegistersRequest(start_address=107,
                                                                                       quantity=3)))


def test_rtu_framer_resyncs_after_garbage() -> None:
    framer = RtuFramer(direction="request")
    frame = _rtu()
    framer.feed(b"\x11\x03\xff" + frame)
    errors = 0
    frames = []
    for _ in range(10):
        try:
            f = framer.next_frame()
        except ChecksumError:
            errors += 1
            continue
        if f is NEED_DATA:
            break
        frames.append(f)
    # One error for the run of 3 garbage bytes (was one per byte: a flood raised per byte).
    assert frames == [frame] and errors == 1


def test_rtu_framer_response_lengths_from_byte_count() -> None:
    framer = rtu_codec().framer(direction="response")
    wire = bytes.fromhex("1103 06 022B 0000 0064".replace(" ", ""))
    from wireproof.codecs.modbus import crc16
    crc = crc16(wire)
    frame = wire + bytes([crc & 0xFF, crc >> 8])
    framer.feed(frame[:4])
    assert framer.next_frame() is NEED_DATA
    framer.feed(frame[4:] + frame)
    assert framer.next_frame() == frame
    assert framer.next_frame() == frame


def test_rtu_framer_rejects_bad_direction() -> None:
    with pytest.raises(ValueError, match="direction"):
        RtuFramer(direction="up")  # type: ignore[arg-type]


def test_rtu_timing_constants() -> None:
    # MB-SL 2.5.1.1: fixed above 19200 baud; 11-bit characters below.
    assert rtu_timing(38400) == (0.000750, 0.001750)
    t15, t35 = rtu_timing(9600)
    assert t15 == pytest.approx(1.5 * 11 / 9600) and t35 == pytest.approx(3.5 * 11 / 9600)


def test_rtu_timed_framer_splits_on_t35_and_rejects_t15_gaps() -> None:
    framer = RtuTimedFramer(9600)
    char = 11 / 9600
    frame = _rtu()
    t = 0.0
    for byte in frame:  # back to back
        t += char
        framer.feed(bytes([byte]), t)
    assert framer.next_frame() is NEED_DATA  # not yet ended by silence
    framer.tick(t + 4 * char)
    assert framer.next_frame() == frame
    # A 2-character gap inside a frame (> t1.5, < t3.5): the partial frame is discarded.
    t += 10 * char
    framer.feed(frame[:3], t)
    with pytest.raises(DecodeError) as info:
        framer.feed(frame[3:], t + 3 * char + (len(frame) - 3) * char)
    assert "t1.5" in info.value.reason
    # A new frame after t3.5 of silence is framed normally.
    t += 100 * char
    framer.feed(frame, t)
    framer.feed(frame, t + 5 * char + len(frame) * char)  # second frame closes the first
    assert framer.next_frame() == frame


def test_rtu_timed_framer_checks_crc() -> None:
    framer = RtuTimedFramer(115200)
    bad = _rtu()[:-1] + b"\x00"
    framer.feed(bad, 0.0)
    with pytest.raises(ChecksumError):
        framer.tick(1.0)
    assert framer.next_frame() is NEED_DATA


def test_ascii_framer_discards_junk_and_partial_frames() -> None:
    codec = ascii_codec()
    frame = b":1103006B00037E\r\n"
    framer = codec.framer()
    framer.feed(b"xx:1103" + frame)
    with pytest.raises(DecodeError):
        framer.next_frame()  # junk before ':'
    with pytest.raises(DecodeError):
        framer.next_frame()  # ':' inside a frame restarts it
    assert framer.next_frame() == frame
    framer.feed(b":1103006B00037F\r\n")
    with pytest.raises(ChecksumError):
        framer.next_frame()
    assert framer.buffered == 0


def test_ascii_framer_bounds_the_frame() -> None:
    framer = AsciiFramer()
    framer.feed(b":" + b"0" * 600)
    with pytest.raises(DecodeError):
        framer.next_frame()
    assert framer.buffered == 0


def test_tcp_codec_framer_type() -> None:
    assert isinstance(tcp_codec().framer(), TcpFramer)


def test_tcp_framer_frames_foreign_protocol_id_and_decoder_rejects_it() -> None:
    """Protocol id != 0 is framed by its length (so the stream stays in sync) and
    the decoder, not the framer, rejects it (MB-TCP 3.1.3)."""
    foreign = bytes.fromhex("000100010006" "0103006B0003")
    good = bytes.fromhex("000200000006" "0103006B0003")
    framer = TcpFramer()
    framer.feed(foreign + good)
    assert framer.next_frame() == foreign
    assert framer.next_frame() == good
    with pytest.raises(DecodeError) as info:
        tcp_codec().decode(foreign)
    assert info.value.path == ("mbap", "protocol_id")


# --- RTU resynchronisation (issue 9: linear hunt, one error per garbage run) ------------------

def _frames_of(framer: RtuFramer, data: bytes, chunks: list[int]) -> tuple[list[bytes], int]:
    frames: list[bytes] = []
    errors, pos = 0, 0
    for size in [*chunks, len(data)]:
        framer.feed(data[pos:pos + size])
        pos += size
        while True:
            try:
                f = framer.next_frame()
            except ChecksumError:
                errors += 1
                continue
            if f is NEED_DATA:
                break
            assert isinstance(f, bytes)
            frames.append(f)
    return frames, errors


_GARBAGE = {
    "random": lambda rng, n: rng.randbytes(n),
    # headers whose byte count makes the framer wait for up to 255 bytes
    "waiting": lambda rng, n: (bytes([0x11, 0x10, 0, 0, 0, 0x7B, 0xF6]) * n)[:n],
    "every-offset": lambda rng, n: b"\x11" * n,
    "fc17": lambda rng, n: (bytes([0x11, 0x17, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF]) * n)[:n],
}


@pytest.mark.parametrize("addresses", [None, frozenset({0, 0x11})], ids=["any", "served"])
@pytest.mark.parametrize("kind", sorted(_GARBAGE))
@pytest.mark.parametrize("seed", range(6))
def test_rtu_hunt_finds_every_frame_after_garbage_whatever_the_chunks(
        kind: str, seed: int, addresses: frozenset[int] | None) -> None:
    import random

    rng = random.Random(seed)
    codec = rtu_codec()
    wanted = [codec.encode(RtuAdu(address=0x11, pdu=ReadHoldingRegistersRequest(start_address=i, quantity=2)))
              for i in range(3)]
    data = b"".join(_GARBAGE[kind](rng, rng.randrange(1, 700)) + w for w in wanted)
    whole, _ = _frames_of(RtuFramer(direction="request", addresses=addresses), data, [])
    for chunking in ([1] * len(data), [rng.randrange(1, 40) for _ in range(len(data) // 10)]):
        got, errors = _frames_of(RtuFramer(direction="request", addresses=addresses), data, chunking)
        assert got == whole, f"seed {seed}: chunking changed the frames"
    # Garbage may hold a frame by chance (1 in 65,536 per candidate); the real ones all come out.
    assert [f for f in whole if f in wanted] == wanted, f"seed {seed}"
    assert errors <= len(chunking) + 3 * len(wanted) + 3


def test_rtu_hunt_drops_a_garbage_run_with_one_error() -> None:
    framer = RtuFramer(direction="request")
    frame = _rtu()
    framer.feed(b"\x11" * 5000 + frame)
    with pytest.raises(ChecksumError, match="bytes without a valid frame skipped"):
        framer.next_frame()
    assert framer.next_frame() == frame
    assert framer.next_frame() is NEED_DATA


def test_rtu_frame_of_unknown_length_is_found_at_the_front_in_sync() -> None:
    """An unknown FC (answered with exception 01 by a server) is framed by the shortest CRC
    match at the start of the stream, after a frame, and after clear() (a line silence)."""
    from wireproof.codecs.modbus import crc16

    body = bytes([0x11, 0x41, 1, 2, 3])
    crc = crc16(body)
    odd = body + bytes([crc & 0xFF, crc >> 8])
    framer = RtuFramer(direction="request")
    framer.feed(odd + _rtu() + odd + b"\x00" * 300)
    assert framer.next_frame() == odd
    assert framer.next_frame() == _rtu()
    assert framer.next_frame() == odd
    framer.clear()
    framer.feed(odd)
    assert framer.next_frame() == odd


def test_rtu_request_framer_does_not_take_bit_7_as_an_exception_frame() -> None:
    """MB-AP 4.1: function codes are 1..127; an exception response is 5 bytes, a request is not."""
    from wireproof.codecs.modbus import crc16

    body = bytes([0x11, 0x83, 0x02])
    crc = crc16(body)
    exc = body + bytes([crc & 0xFF, crc >> 8])
    response = RtuFramer(direction="response")
    response.feed(exc)
    assert response.next_frame() == exc
    request = RtuFramer(direction="request")
    request.feed(exc)
    assert request.next_frame() == exc  # at the front: scanned for a CRC, as an unknown FC would be
    request.feed(b"\x00" + exc + _rtu())
    with pytest.raises(ChecksumError):
        request.next_frame()  # inside garbage only lengths the header fixes are hunted
    assert request.next_frame() == _rtu()


def test_ascii_framer_drops_a_run_of_colons_with_one_error() -> None:
    framer = AsciiFramer()
    frame = b":1103006B00037E\r\n"
    framer.feed(b":" * 500 + frame)
    with pytest.raises(DecodeError):
        framer.next_frame()
    assert framer.next_frame() == frame


def test_rtu_hunt_for_served_addresses_only() -> None:
    """A server hunts only for frames to its addresses; at the front any frame is framed."""
    other, mine = _rtu(address=0x22), _rtu(address=0x11)
    framer = RtuFramer(direction="request", addresses=frozenset({0, 0x11}))
    framer.feed(other + mine)
    assert framer.next_frame() == other  # in sync: framed, the server then ignores it
    assert framer.next_frame() == mine
    framer.feed(b"\xff" + other + mine)
    with pytest.raises(ChecksumError, match="9 bytes"):  # the garbage byte and the frame to 0x22
        framer.next_frame()
    assert framer.next_frame() == mine


def test_untimed_rtu_framer_ends_a_scanned_frame_at_the_first_agreeing_crc() -> None:
    """FC 08's length is not in its header: without silence (MB-SL 2.5.1.1) the first CRC match wins.

    ``62 08 0001 cf9e 6c00`` is a whole diagnostics request, but its first
    seven bytes also end in a valid CRC; the untimed framer can only take
    that shorter frame (the property test leaves such rare ADUs out). The
    trailing byte is then garbage, said as such, never part of a frame.
    """
    wire = bytes.fromhex("62080001cf9e6c00")
    framer = RtuFramer(direction="request")
    framer.feed(wire)
    assert framer.next_frame() == wire[:7]


def test_tcp_resync_keeps_a_header_start_that_garbage_without_zeros_ends_with() -> None:
    """Out of sync, garbage with no ``00 00 00`` keeps its last 7 bytes: they may begin a header.

    (MB-TCP 3.1.3: a header's protocol id and the length's high byte are zero.)
    """
    frame = bytes.fromhex("000100000006010300000002")
    framer = TcpFramer(sync=False)
    framer.feed(b"\xff" * 20 + frame[:2])  # a transaction id, and nothing yet that says "header"
    assert framer.next_frame() is NEED_DATA
    framer.feed(frame[2:])
    assert framer.next_frame() == frame
    assert framer.resynced is not None and framer.resynced[0] == 20


@pytest.mark.parametrize("garbage", [b"", b"\xff", b"\xff\xff", b"\xff\xff\xff", b"\xff" * 6])
def test_rtu_read_device_id_request_after_garbage_fed_byte_by_byte(garbage: bytes) -> None:
    """FC 43 / MEI 14 requests have a fixed 7-byte frame (MB-AP 6.21) wherever they start in the buffer."""
    body = bytes.fromhex("112b0e0100")  # unit 0x11, FC 43, MEI 14, basic, object 0
    frame = body + crc16(body).to_bytes(2, "little")
    framer = RtuFramer(direction="request")
    frames, errors = [], 0
    for byte in garbage + frame:
        framer.feed(bytes([byte]))
        got, bad = drain(framer)
        frames += got
        errors += bad
    assert frames == [frame]
    assert errors == (1 if garbage else 0)


def test_rtu_frame_waiting_for_its_byte_count_after_garbage_is_delivered_at_its_last_byte() -> None:
    """A write-multiple request whose byte count has not arrived when the hunt reaches it is judged again.

    Fed one byte at a time, the hunt meets the FC 16 header (MB-AP 6.12)
    before its byte count (offset 6): the framer must come back to it as soon
    as more bytes arrive, so the frame comes out with its last byte.
    """
    garbage = bytes.fromhex("ffff0103dbf23e")  # an FC 03 header whose CRC is wrong
    frame = bytes.fromhex("f710d4d2d559041ac09c076ba4")  # unit 247, FC 16, one register, CRC right
    framer = RtuFramer(direction="request")
    seen: list[tuple[str, int]] = []
    for at, byte in enumerate(garbage + frame, 1):
        framer.feed(bytes([byte]))
        while True:
            try:
                got = framer.next_frame()
            except DecodeError:
                seen.append(("garbage", at))
                continue
            if got is NEED_DATA:
                break
            seen.append((got.hex(), at))
    total = len(garbage) + len(frame)
    assert seen == [("garbage", total), (frame.hex(), total)]


def test_rtu_fifo_response_byte_count_high_byte_counts() -> None:
    """FC 24's byte count is 16 bits (MB-AP 6.18): a high byte of 1 means 256 more, not a short frame.

    ``01 18 0104 ...`` announces 266 bytes, beyond an RTU frame (MB-SL
    2.5.1): even with a CRC that agrees after 10 bytes it is not a frame.
    """
    body = bytes.fromhex("011801040001000200")[:8]
    fake = body + crc16(body).to_bytes(2, "little")
    good = bytes.fromhex("0106000100030000")[:6]
    good += crc16(good).to_bytes(2, "little")
    framer = RtuFramer(direction="response")
    framer.feed(fake + good)
    assert drain(framer) == ([good], 1)


def test_rtu_hunt_through_dense_garbage_computes_each_crc_state_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resynchronisation is linear (issue 9): the running CRC states are extended, never rebuilt.

    ``01 01 01 ...`` makes every offset a candidate, so the hunt checks
    windows against running CRC states (:mod:`~wireproof.codecs.modbus.rtuscan`);
    fed in small chunks, the bytes those states cover in all stay within a
    small multiple of the bytes received.
    """
    from wireproof.codecs.modbus import framers

    covered = 0
    real = framers.extend_states

    def counting(states: list[int], buf: bytes | bytearray, lo: int) -> None:
        nonlocal covered
        covered += len(buf) - lo
        real(states, buf, lo)

    monkeypatch.setattr(framers, "extend_states", counting)
    framer = RtuFramer(direction="request")
    garbage = b"\x01" * 64
    for _ in range(200):  # 12,800 bytes, 64 at a time
        framer.feed(garbage)
        drain(framer)
    assert 0 < covered <= 2 * 200 * len(garbage)


def test_rtu_frames_after_clear_are_found_whatever_was_fed_before() -> None:
    """``clear()`` (a new connection, a line reset) starts the hunt afresh at the new stream position.

    Found by a seeded differential search against a mutant that restarted
    the hunt one offset too early after an odd number of bytes.
    """
    first, second = bytes.fromhex("0117163dbbcd68d653c000743c"), bytes.fromhex("0210aa4006b9041de6c050b490")
    stream = bytes.fromhex("0101010101" "0217ab308aeb1092dd8e04e8d17e7e9125") + first + second + b"\x38"
    framer = RtuFramer(direction="request")
    framer.feed(stream[:8])
    frames = drain(framer)[0]
    framer.clear()
    for chunk in (stream[8:11], stream[11:]):
        framer.feed(chunk)
        frames += drain(framer)[0]
    assert frames == [first, second]
