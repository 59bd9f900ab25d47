"""Hypothesis properties of the DNP3 codec: round trips, totality, and the declarative oracle.

- every fragment and link frame the strategies build encodes and decodes back to itself;
- arbitrary bytes into every decoder give a value or a DecodeError (nothing else escapes);
- the hand-written link and fragment decoders agree with the Construct definitions (formats.py,
  library_formats.py) on valid, damaged and arbitrary input: the same value, or an error of the
  same class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import assume, example, given
from hypothesis import strategies as st
from tests.codecs.dnp3.strategies import fragments, link_frame, reads

from wireproof.codecs import NEED_DATA, get
from wireproof.codecs.dnp3 import LinkFrame, decode_fragment, decode_link, encode_fragment, encode_link
from wireproof.codecs.dnp3.constants import HEADER_ONLY_REQUESTS
from wireproof.codecs.dnp3.formats import decode_link_declarative, decode_request_declarative
from wireproof.codecs.dnp3.framers import FragmentFramer, LinkFramer
from wireproof.codecs.dnp3.library_formats import decode_fragment_declarative
from wireproof.errors import DecodeError


@given(fragments)
def test_fragment_round_trip(fragment: Any) -> None:
    data = encode_fragment(fragment)
    again = decode_fragment(data)
    assert again == fragment
    assert encode_fragment(again) == data


@given(link_frame())
def test_link_round_trip(frame: LinkFrame) -> None:
    data = encode_link(frame)
    assert decode_link(data) == frame
    decoded = get("dnp3").decode(data) if not frame.user_data or data[3] & 0x40 == 0 else None
    if decoded is not None:
        assert encode_link(decoded) == data


def _outcome(fn: Callable[[bytes], Any], data: bytes) -> tuple[str, Any]:
    try:
        return "value", fn(data)
    except DecodeError as err:
        return "error", type(err)


ARBITRARY = st.binary(max_size=300)
CRAFTED = st.builds(lambda f, cut, flip: _damage(encode_link(f), cut, flip), link_frame(),
                    st.integers(0, 400), st.integers(0, 8 * 400))


def _damage(data: bytes, cut: int, flip: int) -> bytes:
    out = bytearray(data[:cut] if cut < len(data) else data)
    if out and flip < 8 * len(out) * 2:
        out[flip // 8 % len(out)] ^= 1 << flip % 8
    return bytes(out)


@given(st.one_of(ARBITRARY, CRAFTED))
def test_every_decoder_is_total(data: bytes) -> None:
    for fn in (decode_link, decode_fragment, get("dnp3").decode, get("dnp3-app").decode,
               decode_link_declarative, decode_request_declarative):
        _outcome(fn, data)
    for framer in (LinkFramer(), FragmentFramer()):
        framer.feed(data)
        for _ in range(len(data) + 1):
            try:
                if framer.next_frame() is NEED_DATA:
                    break
            except DecodeError:
                continue
        else:
            raise AssertionError("framer neither consumed its buffer nor asked for data")


@given(st.one_of(link_frame().map(encode_link), CRAFTED, ARBITRARY))
@example(bytes.fromhex("0564"))
@example(bytes.fromhex("05640400"))
def test_link_decoder_agrees_with_construct(data: bytes) -> None:
    fast, slow = _outcome(decode_link, data), _outcome(decode_link_declarative, data)
    assert fast == slow, (data.hex(), fast, slow)


READ_BYTES = reads.map(encode_fragment)


@given(st.one_of(READ_BYTES, st.builds(_damage, READ_BYTES, st.integers(0, 60), st.integers(0, 8 * 60)),
                 st.binary(max_size=40).map(lambda b: b"\xc0\x01" + b)))
@example(b"\xc0\x01\x01\x02\x5b\x01")
def test_request_decoder_agrees_with_construct(data: bytes) -> None:
    # The declarative definition covers requests whose headers carry no values (READ and its kin).
    assume(len(data) < 2 or data[1] in HEADER_ONLY_REQUESTS)
    fast, slow = _outcome(decode_fragment, data), _outcome(decode_request_declarative, data)
    assert fast == slow, (data.hex(), fast, slow)


FRAGMENT_BYTES = fragments.map(encode_fragment)


@given(st.one_of(FRAGMENT_BYTES,
                 st.builds(_damage, FRAGMENT_BYTES, st.integers(0, 300), st.integers(0, 8 * 300)),
                 st.binary(max_size=60).map(lambda b: b"\xc0\x81\x00\x00" + b),
                 st.binary(max_size=60).map(lambda b: b"\xc0\x02" + b), st.binary(max_size=40)))
@example(bytes.fromhex("c08100001e0107030100000000"))
@example(bytes.fromhex("000046014b020100"))  # a free-format size prefix missing at the end
def test_fragment_decoder_agrees_with_the_construct_library(data: bytes) -> None:
    """Every fragment, the object values included: the same message (floats compared by repr, so that
    a NaN equals itself) or an error of the same class."""
    fast, slow = _outcome(decode_fragment, data), _outcome(decode_fragment_declarative, data)
    assert (fast[0], repr(fast[1])) == (slow[0], repr(slow[1])), data.hex()
