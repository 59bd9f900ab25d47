"""DNP3 link layer (IEEE 1815-2012 9.2): CRC, frame decode/encode, the link framer."""

from __future__ import annotations

import pytest

from wireproof.codecs import NEED_DATA, get
from wireproof.codecs.dnp3 import LinkFrame, LinkFramer, PrimaryFunction, crc16_dnp, decode_link, encode_link
from wireproof.codecs.dnp3.link import frame_size, user_data_frame_offset
from wireproof.codecs.testing import drain
from wireproof.errors import ChecksumError, DecodeError, EncodeError, TrailingDataError, TruncatedError

# ITI full_exchange.pcap (see fixtures/dnp3/vectors/link.toml): a frame whose CRCs a real device computed.
CAPTURED = bytes.fromhex("056411c40a0001000615c0c0153c02063c03063c04061a55")


def test_crc_check_value_and_a_captured_frame() -> None:
    assert crc16_dnp(b"123456789") == 0xEA82  # CRC-16/DNP's catalogue check value
    assert crc16_dnp(CAPTURED[:8]) == CAPTURED[8] | CAPTURED[9] << 8
    assert crc16_dnp(CAPTURED[10:22]) == CAPTURED[22] | CAPTURED[23] << 8


def test_frame_size_counts_one_crc_a_block() -> None:
    assert frame_size(5) == 10
    assert frame_size(5 + 16) == 10 + 16 + 2
    assert frame_size(5 + 17) == 10 + 17 + 4
    assert frame_size(255) == 10 + 250 + 2 * 16
    assert [user_data_frame_offset(k) for k in (0, 15, 16, 32)] == [10, 25, 28, 46]


def test_every_block_crc_error_names_its_block() -> None:
    user = bytes(range(40))  # three blocks: 16, 16, 8
    frame = encode_link(LinkFrame(dir=True, prm=True, function=PrimaryFunction.UNCONFIRMED_USER_DATA,
                                  destination=10, source=1, user_data=user))
    assert decode_link(frame).user_data == user
    for block, crc_at in enumerate((26, 44, 54)):
        bad = bytearray(frame)
        bad[crc_at] ^= 0xFF
        with pytest.raises(ChecksumError) as info:
            decode_link(bytes(bad))
        assert info.value.path == ("link", "block", block, "crc") and info.value.offset == crc_at
        assert f"block {block}" in info.value.reason


def test_short_input_already_wrong_is_invalid_not_truncated() -> None:
    with pytest.raises(DecodeError) as info:
        decode_link(b"\x06")
    assert not isinstance(info.value, TruncatedError)
    with pytest.raises(DecodeError) as info:
        decode_link(b"\x05\x64\x04")
    assert info.value.path == ("link", "length") and not isinstance(info.value, TruncatedError)
    with pytest.raises(TruncatedError):
        decode_link(b"\x05\x64\x05")


def test_trailing_data_after_a_good_frame() -> None:
    with pytest.raises(TrailingDataError):
        decode_link(CAPTURED + b"\x05")


@pytest.mark.parametrize("change", [{"destination": 70000}, {"source": -1}, {"user_data": bytes(251)},
                                    {"prm": False}])  # function 4 is not a secondary function
def test_encode_refuses_out_of_range_fields(change: dict[str, object]) -> None:
    base = {"dir": True, "prm": True, "function": PrimaryFunction.UNCONFIRMED_USER_DATA, "destination": 1,
            "source": 2}
    with pytest.raises(EncodeError):
        encode_link(LinkFrame(**{**base, **change}))  # type: ignore[arg-type]


def test_framer_resynchronises_after_garbage_and_a_bad_header_crc() -> None:
    framer = LinkFramer()
    bad_header = bytearray(CAPTURED)
    bad_header[8] ^= 1
    framer.feed(b"\x00\x05\xff" + bytes(bad_header) + CAPTURED + b"\x05")
    with pytest.raises(DecodeError) as info:
        framer.next_frame()
    assert info.value.path == ("link", "start") and framer.discarded_count == 3
    with pytest.raises(ChecksumError):
        framer.next_frame()
    frames, errors = drain(framer)  # the rest of the damaged frame is skipped up to the next start
    assert frames == [CAPTURED] and errors == 1
    assert framer.next_frame() is NEED_DATA and framer.buffered == 1  # a lone 0x05 may start a frame


def test_framer_byte_at_a_time_and_bounded() -> None:
    framer = LinkFramer(max_buffer=64)
    out = []
    for b in CAPTURED * 2:
        framer.feed(bytes((b,)))
        while (f := framer.next_frame()) is not NEED_DATA:
            out.append(f)
    assert out == [CAPTURED, CAPTURED]
    with pytest.raises(DecodeError):
        framer.feed(bytes(65))
    assert framer.buffered == 0


def test_framer_leaves_block_crcs_to_the_decoder() -> None:
    bad = bytearray(CAPTURED)
    bad[-1] ^= 1
    framer = get("dnp3").framer()
    framer.feed(bytes(bad))
    frame = framer.next_frame()
    assert frame == bytes(bad)
    with pytest.raises(ChecksumError):
        get("dnp3").decode(frame)
