"""Hypothesis properties of the IEC 104 codec: round trips of every type identification, any octets."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.codecs.iec104.strategies import apdus, asdus

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.iec104 import (
    ApduFramer,
    FieldSizes,
    IFrame,
    decode_apdu,
    decode_asdu,
    encode_apdu,
    encode_asdu,
)
from wireproof.errors import DecodeError, EncodeError

IEC101 = [FieldSizes(cause=1, common_address=1, ioa=1), FieldSizes(cause=1, common_address=2, ioa=2),
          FieldSizes(cause=2, common_address=1, ioa=3)]


@settings(max_examples=300, deadline=None)
@given(apdus())
def test_apdus_round_trip(apdu: object) -> None:
    try:
        octets = encode_apdu(apdu)  # type: ignore[arg-type]
    except EncodeError as err:  # an ASDU too long for one APDU: refused, nothing else
        assert "249" in err.reason or "127" in err.reason
        return
    assert encode_apdu(decode_apdu(octets)) == octets
    back = decode_apdu(octets)
    assert type(back) is type(apdu)
    if isinstance(apdu, IFrame):
        assert isinstance(back, IFrame) and (back.send_seq, back.recv_seq) == (apdu.send_seq, apdu.recv_seq)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(IEC101), st.data())
def test_iec101_field_sizes_round_trip(sizes: FieldSizes, data: st.DataObject) -> None:
    asdu = data.draw(asdus(sizes=sizes))
    octets = encode_asdu(asdu, sizes=sizes)
    assert encode_asdu(decode_asdu(octets, sizes=sizes), sizes=sizes) == octets


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_any_octets_decode_or_raise_decode_error(data: bytes) -> None:
    for decode in (decode_apdu, decode_asdu):
        try:
            decode(data)
        except DecodeError as err:
            assert err.protocol == "iec104" and 0 <= err.offset <= len(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=12))
def test_the_framer_never_raises_anything_but_decode_errors(chunks: list[bytes]) -> None:
    framer = ApduFramer(max_buffer=1024)
    for chunk in chunks:
        framer.feed(chunk)
        for _ in range(100):
            try:
                frame = framer.next_frame()
            except DecodeError:
                continue
            if frame is NEED_DATA:
                break
            assert frame[0] == 0x68 and len(frame) == frame[1] + 2
