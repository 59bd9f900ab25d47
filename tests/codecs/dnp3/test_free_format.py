"""Free-format objects decoded into fields: g70 file transfer, g86-g88 data sets, g120 secure
authentication (IEEE 1815-2012 A.36, A.41-A.43, A.45): round trips, the Construct oracle, layouts."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.codecs.dnp3.strategies import free_format_header, free_values

from wireproof.codecs.dnp3 import ApplicationResponse, ObjectHeader, Point, decode_fragment, encode_fragment
from wireproof.codecs.dnp3.free_format import (
    FREE_LAYOUTS,
    FreeFormatError,
    decode_free,
    encode_free,
    known_free,
)
from wireproof.codecs.dnp3.library import free_format, lookup
from wireproof.codecs.dnp3.library_formats import FREE_OBJECTS, decode_fragment_declarative


def test_the_issue_list_is_in_the_library() -> None:
    wanted = [(70, v) for v in range(2, 9)] + [(86, 1), (86, 3), (87, 1), (88, 1)] + \
        [(120, v) for v in range(1, 16) if v not in (3, 4)]
    assert [gv for gv in wanted if gv not in FREE_LAYOUTS] == []
    assert set(FREE_LAYOUTS) == set(FREE_OBJECTS)  # the two readings cover the same objects
    assert lookup(120, 3) is not None and lookup(120, 4) is not None and lookup(86, 2) is not None
    assert known_free(70, 1) and not known_free(70, 9) and not known_free(120, 16)
    assert free_format(120, 16) is None and free_format(70, 0) is None


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(FREE_LAYOUTS)).flatmap(lambda gv: st.tuples(st.just(gv), free_values(*gv))))
def test_fields_round_trip(case: tuple[tuple[int, int], dict[str, Any]]) -> None:
    (group, variation), values = case
    assert decode_free(group, variation, encode_free(group, variation, values)) == values


@settings(max_examples=300, deadline=None)
@given(st.lists(free_format_header(), min_size=1, max_size=3))
def test_fragments_round_trip_and_agree_with_construct(headers: list[ObjectHeader]) -> None:
    frag = ApplicationResponse(seq=1, objects=tuple(headers))
    data = encode_fragment(frag)
    assert decode_fragment(data) == frag
    assert decode_fragment_declarative(data) == frag


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(FREE_LAYOUTS)), st.binary(max_size=40))
def test_arbitrary_object_octets_agree_with_construct(gv: tuple[int, int], octets: bytes) -> None:
    """Any octets behind a correct size prefix: the same fields from both readings, or an error from both."""
    g, v = gv
    data = bytes((0xC0, 0x81, 0, 0, g, v, 0x5B, 1)) + len(octets).to_bytes(2, "little") + octets
    outcomes = []
    for decode in (decode_fragment, decode_fragment_declarative):
        try:
            outcomes.append(("value", decode(data)))
        except Exception as err:
            outcomes.append(("error", type(err).__name__))
    assert outcomes[0] == outcomes[1], data.hex()


@pytest.mark.parametrize(("group", "variation", "octets", "fields"), [
    # A.45.1: CSQ 1, user 1, MAC algorithm 4 (HMAC-SHA-256 truncated to 16), reason 1, challenge data.
    (120, 1, "01000000" "0100" "04" "01" "a1a2", {"csq": 1, "user": 1, "mac_algorithm": 4, "reason": 1,
                                                 "challenge_data": b"\xa1\xa2"}),
    # A.45.7: error 1 (authentication failed) at a time, text.
    (120, 7, "02000000" "0100" "0000" "01" "7b68e5cf8b01" "6e6f",
     {"csq": 2, "user": 1, "association_id": 0, "error_code": 1, "time_of_error": 1700000000123,
      "error_text": b"no"}),
    # A.36.5: file transport, the last block (bit 31), two octets of data.
    (70, 5, "34120000" "01000080" "abcd", {"file_handle": 0x1234, "block_number": 0x80000001,
                                           "file_data": b"\xab\xcd"}),
    # A.42.1: data set 3 at a time, two elements.
    (87, 1, "0300" "7b68e5cf8b01" "0101" "0210", None),
])
def test_layouts_read_as_the_annex_says(group: int, variation: int, octets: str,
                                        fields: dict[str, Any] | None) -> None:
    raw = bytes.fromhex(octets)
    if fields is None:  # the last element announces 2 octets and has 1
        with pytest.raises(FreeFormatError) as info:
            decode_free(group, variation, raw)
        assert info.value.field == "elements" and info.value.offset == 10
        return
    assert decode_free(group, variation, raw) == fields
    assert encode_free(group, variation, fields) == raw


def test_obsolete_file_identifier_stays_octets() -> None:
    frag = ApplicationResponse(objects=(ObjectHeader(group=70, variation=1, qualifier=0x5B, count=1,
                                                     points=(Point(values={"value": b"\x01\x02"}),)),))
    assert decode_fragment(encode_fragment(frag)) == frag
