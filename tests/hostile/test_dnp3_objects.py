"""Hostile free-format objects (file transfer g70, data sets g86-g88, secure authentication g120) and
unknown groups/variations: a value or a precise DecodeError (path, offset, group and variation).

The fragments are the vectors' (tools/dnp3_vectors.py), damaged every way tests/hostile/damage.py knows,
with the size prefix and the inner offset/size/length fields crafted; then hand-made cases whose error
must name the field and its offset in the fragment.
"""

from __future__ import annotations

import pytest
from tests.hostile.damage import everything

from wireproof.codecs import get
from wireproof.codecs.dnp3 import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.library_formats import decode_fragment_declarative
from wireproof.errors import DecodeError, TruncatedError

VECTORS = {
    "g70v3": "c31946035b0129001a000f007b68e5cf8b01a401efbeadde0010000001000004"
             "07002f6c6f672f6576656e74732e637376",
    "g70v2": "c31d46025b011a000c00080014000600efbeadde6f70657261746f72736563726574",
    "g120v5": "c383000078055b011900030000000300030303040004050607a0a1a2a3a4a5a6a7a8a9",
    "g120v10": "c320780a5b012800030303000000030003000800080008006f70657261746f72"
               "707172737475767778797a7b7c7d7e7f",
    "g87v1": "c381000057015b010f0003007b68e5cf8b0101010410270000",
    "g86v1": "c381000056015b010c00030003010204050501086b57",
}
# (offset, size, byte order) of the length-like fields: the count, the size prefix, the first inner field.
FIELDS = {
    "g70v3": [(5, 1, "little"), (6, 2, "little"), (8, 2, "little"), (10, 2, "little")],
    "g70v2": [(6, 2, "little"), (8, 2, "little"), (10, 2, "little"), (12, 2, "little"), (14, 2, "little")],
    "g120v5": [(8, 2, "little"), (19, 2, "little")],
    "g120v10": [(6, 2, "little"), (18, 2, "little"), (20, 2, "little"), (22, 2, "little")],
    "g87v1": [(8, 2, "little"), (18, 1, "little")],
    "g86v1": [(8, 2, "little"), (12, 1, "little")],
}
DECODERS = [decode_fragment, decode_fragment_declarative, get("dnp3-app").decode]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_damaged_free_format_objects_give_a_value_or_a_decode_error(name: str) -> None:
    frag = bytes.fromhex(VECTORS[name])
    assert encode_fragment(decode_fragment(frag)) == frag
    for label, data in everything(frag, FIELDS[name], seed=len(name)):
        outcomes = []
        for decode in DECODERS:
            try:
                outcomes.append(("value", decode(data)))
            except DecodeError as err:
                outcomes.append(("error", type(err)))
            except Exception as exc:  # pragma: no cover - the failure message is the point
                raise AssertionError(f"{name} {label}: {decode.__qualname__} raised {exc!r} on "
                                     f"{data.hex()}") from exc
        # The hand-written decoder and the Construct definitions agree on every damaged input.
        assert repr(outcomes[0]) == repr(outcomes[1]), (name, label, data.hex())


def _error(hex_text: str) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_fragment(bytes.fromhex(hex_text))
    with pytest.raises(type(info.value)):
        decode_fragment_declarative(bytes.fromhex(hex_text))
    return info.value


@pytest.mark.parametrize(("hex_text", "group", "variation", "offset"), [
    ("c1817800" + "78635b0100000000", 120, 99, 5),  # g120v99: not in A.45
    ("c18100006301000000" + "00", 99, 1, 5),  # g99v1: no such group
    ("c1020a0900000000", 10, 9, 3),  # a WRITE of g10v9
    ("c181000046095b010000", 70, 9, 5),  # g70v9 (A.36 ends at 8)
    ("c181000059015b010000", 89, 1, 5),  # g89: no data set group 89
])
def test_an_unknown_group_or_variation_stops_with_its_offset(hex_text: str, group: int, variation: int,
                                                              offset: int) -> None:
    err = _error(hex_text)
    assert err.path[-1] == "variation" and err.offset == offset
    assert f"group {group} variation {variation}" in err.reason


def test_a_g70_name_elsewhere_than_where_it_comes_is_refused() -> None:
    frag = bytearray(bytes.fromhex(VECTORS["g70v3"]))
    frag[8] = 27  # file name offset 27: one octet after the fixed part (A.36.3: the name follows it)
    err = _error(frag.hex())
    assert err.path == ("objects", 0, "points", 0, "file_name_offset")
    assert err.offset == 8 + 26 and "A.36.3" in err.reason and type(err) is DecodeError


def test_a_g120_length_past_the_object_is_refused() -> None:
    frag = bytearray(bytes.fromhex(VECTORS["g120v5"]))
    frag[19] = 0x40  # challenge data length 64, 14 octets left in the object
    err = _error(frag.hex())
    assert err.path == ("objects", 0, "points", 0, "challenge_data") and err.offset == 21
    assert "A.45.5" in err.reason


def test_a_data_set_element_past_the_object_is_refused() -> None:
    frag = bytearray(bytes.fromhex(VECTORS["g87v1"]))
    frag[18] = 9  # the first element says 9 octets; 6 are left
    err = _error(frag.hex())
    assert err.path == ("objects", 0, "points", 0, "elements") and err.offset == 18


def test_octets_after_the_last_field_are_refused() -> None:
    # g120v10 with one more octet than its three lengths account for (the size prefix says so too).
    frag = bytearray(bytes.fromhex(VECTORS["g120v10"]) + b"\x00")
    frag[6] += 1
    err = _error(frag.hex())
    assert err.path == ("objects", 0, "points", 0, "size") and "after the last field" in err.reason


def test_a_size_prefix_past_the_fragment_is_truncation() -> None:
    frag = bytearray(bytes.fromhex(VECTORS["g86v1"]))
    frag[8] = 0xFF
    err = _error(frag.hex())
    assert isinstance(err, TruncatedError) and err.path == ("objects", 0, "points", 0, "size")
