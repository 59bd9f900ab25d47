"""DNP3 object headers and the object library (IEEE 1815-2012 4.3, 11.9)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wireproof.codecs.dnp3 import attribute_value, decode_fragment, lookup
from wireproof.codecs.dnp3.formats import decode_transport_declarative
from wireproof.codecs.dnp3.library import LIBRARY
from wireproof.codecs.dnp3.transport import decode_transport_header, encode_transport_header


def test_the_issue_list_is_in_the_library() -> None:
    wanted = [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3), (10, 2), (12, 1), (20, 1), (20, 2), (20, 5), (20, 6),
              (22, 1), (22, 2), *((30, v) for v in range(1, 7)), *((32, v) for v in range(1, 9)),
              *((41, v) for v in range(1, 5)), (50, 1), (50, 4), (51, 1), (51, 2), (52, 1), (52, 2),
              *((60, v) for v in range(1, 5)), (80, 1)]
    assert [gv for gv in wanted if gv not in LIBRARY] == []
    assert lookup(0, 243) is not None and lookup(0, 0) is None
    assert lookup(110, 255) is not None and lookup(110, 0) is None and lookup(99, 1) is None


def test_sizes_of_a_few_layouts() -> None:
    # IEEE 1815-2012 11.9: CROB 11 octets, g32v3 flags+int32+time 11, g50v4 11, g2v3 3.
    sizes = {gv: LIBRARY[gv].size for gv in [(12, 1), (32, 3), (50, 4), (2, 3), (41, 4), (30, 6)]}
    assert sizes == {(12, 1): 11, (32, 3): 11, (50, 4): 11, (2, 3): 3, (41, 4): 9, (30, 6): 9}


def test_double_bit_packing_two_bits_an_object() -> None:
    frag = decode_fragment(bytes.fromhex("c0810000030100000439" + "02"))  # 5 objects: 01 10 11 00 10
    assert [p.values["state"] for p in frag.objects[0].points] == [1, 2, 3, 0, 2]


@pytest.mark.parametrize(("data_type", "value", "expected"), [
    (1, b"wireproof", "wireproof"), (2, b"\x01\x02", 0x0201), (3, b"\xff", -1), (4, b"\x00\x00\xc0\x3f", 1.5),
    (7, bytes(6), 0), (254, b"\xfa\x00\xfb\x01", ((250, 0), (251, 1))), (5, b"\x01", b"\x01"),
])
def test_device_attribute_values(data_type: int, value: bytes, expected: object) -> None:
    assert attribute_value(data_type, value) == expected


@pytest.mark.parametrize(("data_type", "value"), [(2, b""), (3, bytes(5)), (4, bytes(3)), (7, bytes(5)),
                                                  (255, b"\x01")])
def test_device_attribute_lengths_are_checked(data_type: int, value: bytes) -> None:
    with pytest.raises(ValueError):
        attribute_value(data_type, value)


@given(st.integers(0, 255))
def test_transport_header_agrees_with_construct_and_round_trips(octet: int) -> None:
    head = decode_transport_header(octet)
    assert decode_transport_declarative(octet) == head
    assert encode_transport_header(head) == octet
