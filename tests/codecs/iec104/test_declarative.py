"""The IEC 104 fast path against its Construct oracle (:mod:`wireproof.codecs.iec104.formats`), both ways."""

from __future__ import annotations

import math
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.codecs.iec104.strategies import apdus, asdus

from wireproof.codecs.iec104 import FieldSizes, Iec104Codec, decode_asdu, encode_apdu, encode_asdu
from wireproof.codecs.iec104.formats import decode_asdu_declarative, encode_asdu_declarative
from wireproof.errors import DecodeError, EncodeError
from wireproof.harness.fixtures import load_vectors

CODEC = Iec104Codec()
VECTORS = [v for name in ("asdu.toml", "asdu_iec101.toml", "apci.toml", "apci_errors.toml")
           for v in load_vectors(resources.files("wireproof.fixtures") / "iec104" / "vectors" / name)]


def same(a: object, b: object) -> bool:
    """Equality that takes NaN as equal to NaN (a short float may be NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


@pytest.mark.parametrize("vec", VECTORS, ids=lambda v: v.name)
def test_vectors_agree(vec: object) -> None:
    data = vec.data  # type: ignore[attr-defined]
    try:
        fast = CODEC.decode(data)
    except DecodeError as err:
        with pytest.raises(DecodeError):
            CODEC.decode_declarative(data)
        assert vec.error is not None, err  # type: ignore[attr-defined]
        return
    assert CODEC.decode_declarative(data) == fast
    assert CODEC.encode_declarative(fast) == data == CODEC.encode(fast)


@settings(max_examples=200, deadline=None)
@given(apdus())
def test_messages_agree_both_ways(apdu: object) -> None:
    try:
        octets = CODEC.encode(apdu)  # type: ignore[arg-type]
    except EncodeError:
        with pytest.raises(EncodeError):
            CODEC.encode_declarative(apdu)  # type: ignore[arg-type]
        return
    assert CODEC.encode_declarative(apdu) == octets  # type: ignore[arg-type]
    assert encode_apdu(CODEC.decode_declarative(octets)) == octets


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([FieldSizes(cause=1, common_address=1, ioa=1), FieldSizes(cause=1, common_address=2,
                                                                               ioa=2)]), st.data())
def test_iec101_sizes_agree(sizes: FieldSizes, data: st.DataObject) -> None:
    asdu = data.draw(asdus(sizes=sizes))
    octets = encode_asdu(asdu, sizes=sizes)
    assert encode_asdu_declarative(asdu, sizes=sizes) == octets
    assert encode_asdu(decode_asdu_declarative(octets, sizes=sizes), sizes=sizes) == octets


@settings(max_examples=400, deadline=None)
@given(apdus(), st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), min_size=1, max_size=3),
       st.integers(0, 300))
def test_damaged_input_is_refused_by_both_or_decoded_alike(apdu: object, edits: list[tuple[int, int]],
                                                           cut: int) -> None:
    try:
        data = bytearray(CODEC.encode(apdu))  # type: ignore[arg-type]
    except EncodeError:
        return
    for at, value in edits:
        if at < len(data):
            data[at] = value
    data = data[:max(cut, 2)] if cut < len(data) else data
    try:
        fast = CODEC.decode(bytes(data))
    except DecodeError:
        with pytest.raises(DecodeError):
            CODEC.decode_declarative(bytes(data))
        return
    slow = CODEC.decode_declarative(bytes(data))
    assert encode_apdu(slow) == encode_apdu(fast)


def test_an_unknown_type_keeps_its_octets_in_both() -> None:
    octets = bytes.fromhex("fa820300" "0100" "0102030405")
    assert decode_asdu_declarative(octets) == decode_asdu(octets)
