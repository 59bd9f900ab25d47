"""Every bound of the Modbus ADU codecs and framers at limit - 1, limit and limit + 1.

MB-TCP = MODBUS Messaging on TCP/IP Implementation Guide V1.0b; MB-SL = MODBUS over Serial Line
V1.02; MB-AP = MODBUS Application Protocol V1.1b3. The passing side decodes with the fast path and
the oracle to the same ADU and re-encodes to the same bytes; the failing side raises exactly the
error class, path and byte offset (offsets in the ADU, which is what a report shows).
"""

from __future__ import annotations

import binascii
import struct
from typing import Any

import pytest

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.modbus import ascii_codec, rtu_codec, tcp_codec
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import crc16, lrc
from wireproof.codecs.modbus.framers import AsciiFramer, RtuFramer, RtuTimedFramer, TcpFramer
from wireproof.errors import ChecksumError, DecodeError, EncodeError, TrailingDataError, TruncatedError

TCP, RTU, ASCII = tcp_codec(), rtu_codec(), ascii_codec()
# A 253-byte PDU (MB-AP 4.1), the largest an ADU carries, and the smallest (one byte, FC 07).
BIG = M.ReportServerIdResponse(data=bytes(range(251)))
SMALL = M.ReadExceptionStatusRequest()


def mbap(length: int, pdu: bytes, tid: int = 1, pid: int = 0, unit: int = 1) -> bytes:
    return struct.pack(">HHHB", tid, pid, length, unit) + pdu


def rtu(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16(body))


def ascii_frame(body: bytes) -> bytes:
    return b":" + binascii.hexlify(body + bytes((lrc(body),))).upper() + b"\r\n"


def round_trip(codec: Any, wire: bytes, direction: str) -> Any:
    adu = codec.decode(wire, direction)
    assert codec.decode_declarative(wire, direction) == adu
    assert codec.encode(adu) == wire
    assert codec.encode_declarative(adu) == wire
    return adu


def rejects(codec: Any, wire: bytes, cls: type[DecodeError], path: tuple[str | int, ...], offset: int,
            direction: str = "request") -> None:
    with pytest.raises(DecodeError) as info:
        codec.decode(wire, direction)
    err = info.value
    assert (type(err), err.path, err.offset) == (cls, path, offset), str(err)
    with pytest.raises(DecodeError) as oracle:
        codec.decode_declarative(wire, direction)
    assert type(oracle.value) is cls, str(oracle.value)


# --- Modbus TCP (MB-TCP 3.1.3: MBAP length 2..254; 4.2: ADU <= 260 bytes) ---------------------------

def test_mbap_length_2_is_unit_and_function_code() -> None:
    round_trip(TCP, mbap(2, b"\x07"), "request")
    rejects(TCP, mbap(1, b"") + b"\x07", DecodeError, ("mbap", "length"), 4)


def test_mbap_length_254_is_the_largest_pdu() -> None:
    pdu = TCP.encode_pdu(BIG)
    assert len(pdu) == 253
    adu = round_trip(TCP, mbap(254, pdu), "response")
    assert len(TCP.encode(adu)) == 260
    rejects(TCP, mbap(255, pdu + b"\x00"), DecodeError, ("mbap", "length"), 4, "response")
    rejects(TCP, mbap(253, pdu[:-1]), TruncatedError, ("pdu", "data"), 259, "response")


def test_mbap_header_is_seven_bytes() -> None:
    rejects(TCP, mbap(2, b"")[:6], TruncatedError, ("mbap",), 6)
    rejects(TCP, mbap(2, b""), TruncatedError, ("mbap", "length"), 7)


@pytest.mark.parametrize("pid", [1, 0xFFFF])
def test_mbap_protocol_id_is_0(pid: int) -> None:
    rejects(TCP, mbap(2, b"\x07", pid=pid), DecodeError, ("mbap", "protocol_id"), 2)
    adu = M.TcpAdu(transaction_id=1, unit_id=1, pdu=SMALL, protocol_id=pid)
    with pytest.raises(EncodeError) as info:
        TCP.encode(adu)
    assert info.value.path == ("mbap", "protocol_id")
    assert TCP.encode(adu, strict=False) == mbap(2, b"\x07", pid=pid)


def test_mbap_length_one_byte_short_and_one_trailing() -> None:
    wire = mbap(6, b"\x03\x00\x00\x00\x01")
    round_trip(TCP, wire, "request")
    rejects(TCP, wire[:-1], TruncatedError, ("mbap", "length"), 11)
    with pytest.raises(TruncatedError, match="length 6 announces 1 more bytes than there are"):
        TCP.decode(wire[:-1])
    rejects(TCP, wire + b"\x00", TrailingDataError, ("mbap", "length"), 12)


def test_tcp_pdu_errors_are_at_their_adu_offset() -> None:
    # MB-AP 6.5 coil value at PDU offset 3 = ADU offset 7 + 3; MB-AP 6.3 quantity at 7 + 3.
    rejects(TCP, mbap(6, b"\x05\x00\x01\x00\x01"), DecodeError, ("pdu", "value"), 10)
    rejects(TCP, mbap(6, b"\x03\x00\x00\x00\x7E"), DecodeError, ("pdu", "quantity"), 10, "request")
    rejects(TCP, mbap(6, b"\x03\x00\x00\x00\x7E"), DecodeError, ("pdu", "quantity"), 10, None)  # type: ignore[arg-type]
    # MB-AP 6.15 at its largest byte count (251): offsets run past 256 in the ADU.
    record = struct.pack(">BHHH", 6, 4, 7, 122) + bytes(244)
    round_trip(TCP, mbap(254, b"\x15\xFB" + record), "request")
    longer = struct.pack(">BHHH", 6, 4, 7, 123) + bytes(244)
    rejects(TCP, mbap(254, b"\x15\xFB" + longer), TruncatedError, ("pdu", "records", 0, "values"), 260)


@pytest.mark.parametrize(("field", "value"), [("transaction_id", 0x10000), ("unit_id", 0x100)])
def test_mbap_fields_fit_their_width(field: str, value: int) -> None:
    fields: dict[str, Any] = {"transaction_id": 0xFFFF, "unit_id": 0xFF}
    round_trip(TCP, TCP.encode(M.TcpAdu(pdu=SMALL, **fields)), "request")
    fields[field] = value
    for strict in (True, False):
        with pytest.raises(EncodeError) as info:
            TCP.encode(M.TcpAdu(pdu=SMALL, **fields), strict=strict)
        assert info.value.path == ("mbap",)


def test_tcp_pdu_size_limit_on_encode() -> None:
    adu = M.TcpAdu(transaction_id=1, unit_id=1, pdu=M.ReportServerIdResponse(data=bytes(252)))
    with pytest.raises(EncodeError) as info:
        TCP.encode(adu)
    assert info.value.path == ("pdu",) and info.value.protocol == "modbus-tcp"
    assert len(TCP.encode(adu, strict=False)) == 261


# --- Modbus RTU (MB-SL 2.5.1: address, PDU, CRC; 4..256 bytes) --------------------------------------

def test_rtu_frame_sizes() -> None:
    round_trip(RTU, rtu(b"\x11\x07"), "request")
    rejects(RTU, rtu(b"\x11\x07")[:3], TruncatedError, ("adu",), 3)
    big = rtu(b"\x11" + RTU.encode_pdu(BIG))
    assert len(big) == 256
    round_trip(RTU, big, "response")
    rejects(RTU, big + b"\x00", DecodeError, ("adu",), 256, "response")


def test_rtu_crc_and_pdu_offsets() -> None:
    wire = rtu(b"\x11\x05\x00\x01\xFF\x00")
    round_trip(RTU, wire, "request")
    rejects(RTU, wire[:-1] + bytes((wire[-1] ^ 1,)), ChecksumError, ("crc",), 6)
    rejects(RTU, wire[:-2] + bytes((wire[-2] ^ 0x80, wire[-1])), ChecksumError, ("crc",), 6)
    # MB-AP 6.5 coil value: PDU offset 3 = frame offset 1 + 3.
    rejects(RTU, rtu(b"\x11\x05\x00\x01\xFF\x01"), DecodeError, ("pdu", "value"), 4)


@pytest.mark.parametrize("codec", [RTU, ASCII], ids=["rtu", "ascii"])
def test_serial_address_is_one_byte(codec: Any) -> None:
    # MB-SL 2.2: address 0..255 on the wire (248..255 reserved, still encodable for tests).
    for address in (0, 255):
        adu = type(codec.decode(codec.encode(
            (M.RtuAdu if codec is RTU else M.AsciiAdu)(address=address, pdu=SMALL)), "request"))
        assert adu in (M.RtuAdu, M.AsciiAdu)
    for address in (-1, 256):
        cls = M.RtuAdu if codec is RTU else M.AsciiAdu
        for strict in (True, False):
            with pytest.raises(EncodeError) as info:
                codec.encode(cls(address=address, pdu=SMALL), strict=strict)
            assert info.value.path == ("address",)


# --- Modbus ASCII (MB-SL 2.5.2: ':' hex CR LF, <= 513 characters; 6.2.1 LRC) ------------------------

def test_ascii_frame_sizes() -> None:
    big = ascii_frame(b"\x11" + ASCII.encode_pdu(BIG))
    assert len(big) == 513
    round_trip(ASCII, big, "response")
    rejects(ASCII, big[:-2] + b"00\r\n", DecodeError, ("adu",), 513, "response")
    round_trip(ASCII, ascii_frame(b"\x11\x07"), "request")


@pytest.mark.parametrize(("wire", "cls", "path", "offset"), [
    (b"", TruncatedError, ("start",), 0),
    (b":\r", TruncatedError, ("end",), 2),
    (b":\r\n", TruncatedError, ("adu",), 1),
    (b":11EF\r\n", TruncatedError, ("adu",), 5),
    (b";1107E8\r\n", DecodeError, ("start",), 0),
    (b":1107E\r\n", DecodeError, ("adu",), 6),
    (b":1107e8\r\n", DecodeError, ("adu",), 5),
    (b":1107E8\r\r", DecodeError, ("end",), 7),
    (b":1107E9\r\n", ChecksumError, ("lrc",), 5),
    (b":1105000100FFEA\r\n", DecodeError, ("pdu", "value"), 9),
], ids=["empty", "two-chars", "three-chars", "two-bytes", "no-colon", "odd-hex", "lowercase", "no-lf",
        "lrc", "coil-value-offset"])
def test_ascii_rejects(wire: bytes, cls: type[DecodeError], path: tuple[str, ...], offset: int) -> None:
    rejects(ASCII, wire, cls, path, offset)


def test_ascii_smallest_frame() -> None:
    assert ascii_frame(b"\x11\x07") == b":1107E8\r\n"
    round_trip(ASCII, b":1107E8\r\n", "request")


# --- framers --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("length", "ok"), [(1, False), (2, True), (3, True), (254, True), (255, False)])
def test_tcp_framer_length_bounds(length: int, ok: bool) -> None:
    framer = TcpFramer()
    wire = mbap(length, bytes(length - 1))
    framer.feed(wire[:5])
    assert framer.next_frame() is NEED_DATA
    framer.feed(wire[5:6])
    if not ok:
        with pytest.raises(DecodeError) as info:
            framer.next_frame()
        assert (info.value.path, info.value.offset) == (("mbap", "length"), 4)
        return
    framer.feed(wire[6:-1])
    assert framer.next_frame() is NEED_DATA
    framer.feed(wire[-1:] + b"\x00")
    assert framer.next_frame() == wire
    assert framer.buffered == 1


@pytest.mark.parametrize(("size", "ok"), [(3, False), (4, True), (5, True), (256, True), (257, False)])
def test_rtu_timed_framer_size_bounds(size: int, ok: bool) -> None:
    framer = RtuTimedFramer(baudrate=19200)
    frame = rtu(bytes(size - 2)) if size >= 2 else bytes(size)
    framer.feed(frame, timestamp=1.0)
    assert framer.next_frame() is NEED_DATA
    framer.tick(1.0 + framer.t3_5)  # not yet quiet for more than t3.5
    assert framer.next_frame() is NEED_DATA
    if not ok:
        with pytest.raises(DecodeError) as info:
            framer.tick(1.0 + 2 * framer.t3_5)
        assert (info.value.path, info.value.offset) == (("adu",), size)
        return
    framer.tick(1.0 + 2 * framer.t3_5)
    assert framer.next_frame() == frame


def test_rtu_timing_at_19200() -> None:
    # MB-SL 2.5.1.1: above 19200 bit/s fixed 750 us / 1.75 ms; at and below, 1.5 / 3.5 characters.
    from wireproof.codecs.modbus.framers import rtu_timing
    assert rtu_timing(19201) == (0.000750, 0.001750)
    assert rtu_timing(19200) == pytest.approx((1.5 * 11 / 19200, 3.5 * 11 / 19200))


@pytest.mark.parametrize(("chars", "ok"), [(512, True), (513, False)])
def test_ascii_framer_waits_up_to_513_characters(chars: int, ok: bool) -> None:
    framer = AsciiFramer()
    framer.feed(b":" + b"0" * (chars - 1))
    if ok:
        assert framer.next_frame() is NEED_DATA
        return
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert (info.value.path, info.value.offset) == (("adu",), 513)


def test_ascii_framer_takes_a_513_character_frame() -> None:
    big = ascii_frame(b"\x11" + ASCII.encode_pdu(BIG))
    framer = AsciiFramer()
    framer.feed(big + b":")
    assert framer.next_frame() == big
    assert framer.next_frame() is NEED_DATA


# --- RTU length rules: every function code, each direction (MB-AP 6.x layouts, MB-SL 2.5.1) --------

@pytest.mark.parametrize("direction", ["request", "response", None])
def test_rtu_framer_scans_where_the_layout_does_not_fix_the_length(direction: str | None) -> None:
    # MB-AP 6.8 (FC 08) and 6.19-6.21 (FC 43 responses) carry no length: the shortest prefix
    # whose CRC matches is the frame, and a frame not whole yet is waited on.
    frame = rtu(b"\x11\x08\x00\x00\xA5\x37")
    framer = RtuFramer(direction=direction)  # type: ignore[arg-type]
    framer.feed(frame[:-1])
    assert framer.next_frame() is NEED_DATA
    framer.feed(frame[-1:] + frame)
    assert framer.next_frame() == frame and framer.next_frame() == frame
    # MB-AP 7: an exception response is 5 bytes whatever the FC.
    exception = rtu(b"\x11\x83\x02")
    framer.feed(exception)
    assert framer.next_frame() == exception


def test_rtu_framer_skips_garbage_to_the_next_frame() -> None:
    frame = rtu(b"\x11\x03\x00\x6B\x00\x03")
    framer = RtuFramer(direction="request")
    framer.feed(b"\x11\x10\x00" + frame)  # an FC 16 header that never completes, then a frame
    with pytest.raises(ChecksumError) as info:
        framer.next_frame()
    assert "3 bytes without a valid frame" in info.value.reason
    assert framer.next_frame() == frame
    framer.feed(b"\x11\x10\x00" + frame)  # the same again, after a frame: found the same way
    with pytest.raises(ChecksumError):
        framer.next_frame()
    assert framer.next_frame() == frame


# --- the MBAP header heuristic and TCP resynchronisation (MB-TCP 3.1.3) ----------------------------

HEADER = mbap(6, b"\x03\x00\x00\x00\x01")


@pytest.mark.parametrize(("at", "value", "ok"), [
    (2, 0, True), (2, 1, False), (3, 1, False), (4, 1, False),  # protocol id 0, length < 256
    (5, 1, False), (5, 2, True), (5, 254, True), (5, 255, False),  # MBAP length 2..254
    (7, 0x03, True), (7, 0x83, True), (7, 0x2B, True), (7, 0x41, False), (7, 0x00, False),  # a public FC
])
def test_plausible_header(at: int, value: int, ok: bool) -> None:
    from wireproof.codecs.modbus.framers import plausible_header
    header = bytearray(HEADER)
    header[at] = value
    assert plausible_header(header) is ok
    assert plausible_header(b"\xFF" * 5 + header, 5) is ok
    assert not plausible_header(header[:7])
    assert not plausible_header(b"\xFF" * 5 + header[:7], 5)


@pytest.mark.parametrize("garbage", [5, 16, 20, 300])
def test_tcp_framer_resync_reports_a_window(garbage: int) -> None:
    junk = bytes(range(0x90, 0x90 + min(garbage, 100))) * (garbage // 100 + 1)
    junk = junk[:garbage]
    framer = TcpFramer()
    framer.desync()
    framer.feed(junk + HEADER + HEADER)
    assert framer.next_frame() == HEADER
    assert framer.resynced is not None
    skipped, window, at = framer.resynced
    lo = max(0, garbage - 16)
    assert (skipped, window, at) == (garbage, (junk + HEADER + HEADER)[lo:garbage + 16], garbage - lo)
    assert framer.next_frame() == HEADER


def test_tcp_framer_keeps_evidence_of_what_it_discards() -> None:
    framer = TcpFramer()
    assert (framer.discarded, framer.discarded_count, framer.skipped) == (b"", 0, 0)
    bad = mbap(255, bytes(100))
    framer.feed(bad)
    with pytest.raises(DecodeError):
        framer.next_frame()
    assert (framer.discarded, framer.discarded_count) == (bad[:64], len(bad))


def test_framer_buffers_are_bounded_at_64_kib() -> None:
    for framer in (TcpFramer(), RtuFramer(), RtuTimedFramer(), AsciiFramer()):
        assert framer.max_buffer == 65536
        framer.feed(b":" * 65536)
        with pytest.raises(DecodeError):
            framer.feed(b":")


def test_rtu_timed_framer_reports_the_silence() -> None:
    # MB-SL 2.5.1.1 at 19200 bit/s: t1.5 = 859 us; a gap of 1000 us inside a frame is an error.
    framer = RtuTimedFramer(baudrate=19200)
    framer.feed(b"\x11", timestamp=1.0)
    with pytest.raises(DecodeError) as info:
        framer.feed(b"\x03", timestamp=1.0 + framer.char_time + 0.001)
    assert info.value.reason.startswith("1000 us silence inside a frame")


def test_ascii_framer_drops_an_endless_frame_up_to_the_next_colon() -> None:
    framer = AsciiFramer()
    frame = b":1107E8\r\n"
    framer.feed(b":" + b"0" * 600 + frame)
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert info.value.offset == 513
    assert framer.next_frame() == frame


@pytest.mark.parametrize(("stream", "chunks", "delivered"), [
    ("0301ff020011074c221106000100039a9b", [3, 4, 5, 3, 1, 1],
     [(12, "11074c22"), (17, "1106000100039a9b")]),
    ("6b03ff39d203011103006b00037687ff03ffbb6511074c22", [6, 4, 2, 4, 3, 3, 2],
     [(16, "1103006b00037687"), (24, "11074c22")]),
    ("01020101110011100001000102000aea46", [1, 4, 4, 4, 4], [(17, "11100001000102000aea46")]),
], ids=["after-short-garbage", "between-garbage", "after-a-pending-header"])
def test_rtu_framer_delivers_each_frame_once_whole(stream: str, chunks: list[int],
                                                    delivered: list[tuple[int, str]]) -> None:
    # Garbage before a frame costs errors, never the frame: each valid frame is handed out by the
    # time its last byte is fed (found with a seeded search against mutants of the resync
    # bookkeeping, which lost these frames).
    data, framer, out, pos = bytes.fromhex(stream), RtuFramer(direction="request"), [], 0
    for n in chunks:
        framer.feed(data[pos:pos + n])
        pos += n
        for _ in range(len(data)):
            try:
                frame = framer.next_frame()
            except DecodeError:
                continue
            if frame is NEED_DATA:
                break
            out.append((pos, bytes(frame).hex()))
    assert out == delivered


def test_tcp_framer_resync_skips_zeros_that_are_no_header() -> None:
    # Bytes 2..4 of a header are zero, but three zeros followed by a length of 255 are not one.
    junk = b"\x90\x91\x92\x93\x94\x95\x00\x00\x00" + b"\xFF" * 10
    framer = TcpFramer()
    framer.desync()
    framer.feed(junk + HEADER + HEADER)
    assert framer.next_frame() == HEADER
    assert framer.resynced is not None and framer.resynced[0] == len(junk)


def test_declarative_tcp_framing_after_a_frame() -> None:
    # The oracle of the TCP framer, with the second header at offset 12, not 0.
    from wireproof.codecs.modbus.formats import frames_declarative
    assert frames_declarative(HEADER * 2) == ([HEADER, HEADER], None, 0)
    assert frames_declarative(HEADER + HEADER[:5]) == ([HEADER], None, 5)
    assert frames_declarative(HEADER + HEADER[:9]) == ([HEADER], None, 9)
    assert frames_declarative(HEADER + mbap(255, b"")[:6]) == ([HEADER], 12, 0)
    assert frames_declarative(HEADER + mbap(1, b"")[:6]) == ([HEADER], 12, 0)
