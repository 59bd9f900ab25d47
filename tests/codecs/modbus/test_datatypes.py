"""Register data types (wireproof.codecs.modbus.datatypes; MB-AP 4.2, 4.3)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wireproof.codecs.modbus.datatypes import (
    MAX_REGISTERS,
    DataType,
    Kind,
    Order,
    decode_value,
    encode_value,
    parse_type,
)
from wireproof.errors import DecodeError, EncodeError, TrailingDataError, TruncatedError

ORDERS = list(Order)
NUMERIC = [Kind.INT16, Kind.UINT16, Kind.INT32, Kind.UINT32, Kind.INT64, Kind.UINT64,
           Kind.FLOAT32, Kind.FLOAT64]
NO_PYMODBUS = "pymodbus (extra 'peers') is not installed"

# --- known vectors -------------------------------------------------------------

# (spec, value, registers) — hand-computed from IEEE 754 / two's complement.
VECTORS = [
    ("float32", 123.456, (0x42F6, 0xE979)),
    ("float32:cdab", 123.456, (0xE979, 0x42F6)),
    ("float32:badc", 123.456, (0xF642, 0x79E9)),
    ("float32:dcba", 123.456, (0x79E9, 0xF642)),
    ("float32", -0.0, (0x8000, 0x0000)),
    ("float32", math.inf, (0x7F80, 0x0000)),
    ("int32", -2, (0xFFFF, 0xFFFE)),
    ("int32:cdab", -2, (0xFFFE, 0xFFFF)),
    ("int32:badc", -2, (0xFFFF, 0xFEFF)),
    ("uint32", 0x01020304, (0x0102, 0x0304)),
    ("uint32:dcba", 0x01020304, (0x0403, 0x0201)),
    ("int16", -1, (0xFFFF,)),
    ("int16", -32768, (0x8000,)),
    ("uint16", 0x1234, (0x1234,)),
    ("uint16:badc", 0x1234, (0x3412,)),
    ("uint16:cdab", 0x1234, (0x1234,)),  # one register: word order is moot
    ("uint16:dcba", 0x1234, (0x3412,)),
    ("uint64", 0x0102030405060708, (0x0102, 0x0304, 0x0506, 0x0708)),
    ("uint64:cdab", 0x0102030405060708, (0x0708, 0x0506, 0x0304, 0x0102)),
    ("uint64:badc", 0x0102030405060708, (0x0201, 0x0403, 0x0605, 0x0807)),
    ("uint64:dcba", 0x0102030405060708, (0x0807, 0x0605, 0x0403, 0x0201)),
    ("int64", -(1 << 63), (0x8000, 0, 0, 0)),
    ("float64", 1.0, (0x3FF0, 0, 0, 0)),
    ("float64:cdab", 1.0, (0, 0, 0, 0x3FF0)),
    ("float64:dcba", 1.0, (0, 0, 0, 0xF03F)),
    ("bcd16", 1234, (0x1234,)),
    ("bcd16", 9999, (0x9999,)),
    ("bcd32", 12345678, (0x1234, 0x5678)),
    ("bcd32:cdab", 12345678, (0x5678, 0x1234)),
    ("bcd32", 7, (0x0000, 0x0007)),
    ("bits:16", (True,) + (False,) * 15, (0x0001,)),
    ("bits:16", (False,) * 15 + (True,), (0x8000,)),
    ("bits:17", (False,) * 16 + (True,), (0x0000, 0x0001)),
    ("bits:3", (True, False, True), (0x0005,)),
    ("string:4", "ABC", (0x4142, 0x4300)),
    ("string:4:badc", "ABC", (0x4241, 0x0043)),
    ("string:3", "ABC", (0x4142, 0x4300)),  # odd length: spare byte NUL
    ("string:4:space:raw", "AB  ", (0x4142, 0x2020)),
    ("string:2:latin-1", "\xe9!", (0xE921,)),
]


@pytest.mark.parametrize(("spec", "value", "registers"), VECTORS, ids=[v[0] for v in VECTORS])
def test_known_vectors(spec: str, value: object, registers: tuple[int, ...]) -> None:
    assert encode_value(spec, value) == registers  # type: ignore[arg-type]
    decoded = decode_value(spec, registers)
    if isinstance(value, float) and spec.startswith("float32"):
        assert decoded == struct.unpack(">f", struct.pack(">f", value))[0]
        assert math.copysign(1, decoded) == math.copysign(1, value)  # type: ignore[arg-type]
    else:
        assert decoded == value


def test_float32_123_456_decodes_in_every_order() -> None:
    for order, regs in [(Order.ABCD, (0x42F6, 0xE979)), (Order.CDAB, (0xE979, 0x42F6)),
                        (Order.BADC, (0xF642, 0x79E9)), (Order.DCBA, (0x79E9, 0xF642))]:
        assert decode_value("float32", regs, order) == pytest.approx(123.456, rel=1e-7)


def test_explicit_order_overrides_spec() -> None:
    assert encode_value("float32:cdab", 123.456, Order.ABCD) == (0x42F6, 0xE979)
    assert encode_value(DataType(kind=Kind.INT32, order=Order.CDAB), -2) == (0xFFFE, 0xFFFF)


def test_string_decode_strips_padding_unless_raw() -> None:
    assert decode_value("string:6", (0x4142, 0x2000, 0x0000)) == "AB"
    assert decode_value("string:6:raw", (0x4142, 0x2000, 0x0000)) == "AB \x00\x00\x00"
    assert encode_value("string:4:space", "A") == (0x4120, 0x2020)


# --- spec strings --------------------------------------------------------------

def test_parse_type_examples() -> None:
    assert parse_type("float32:cdab") == DataType(kind=Kind.FLOAT32, order=Order.CDAB)
    assert parse_type("int64:badc") == DataType(kind=Kind.INT64, order=Order.BADC)
    assert parse_type("string:10") == DataType(kind=Kind.STRING, length=10)
    assert parse_type("string:10").registers == 5
    assert parse_type("bcd32").registers == 2
    assert parse_type("bits:16").registers == 1
    assert parse_type("bits:17").registers == 2
    assert parse_type(" Float64 : DCBA ") == DataType(kind=Kind.FLOAT64, order=Order.DCBA)
    assert parse_type("string:7:latin1:space:raw") == DataType(
        kind=Kind.STRING, length=7, encoding="latin-1", pad=" ", strip=False)
    assert [parse_type(k.value).registers for k in NUMERIC] == [1, 1, 2, 2, 4, 4, 2, 4]


@pytest.mark.parametrize(("spec", "offset"), [
    ("float", 0), ("", 0), ("int32:xyzw", 6), ("int32:4", 6), ("string", 0), ("bits", 0),
    ("string:0", 7), ("bits:2001", 5), (f"string:{2 * MAX_REGISTERS + 1}", 7),
    ("string:4:abcd:cdab", 14), ("float32:ascii", 8), ("string:4:utf-8", 9), ("bits:٣", 5),
])
def test_parse_type_rejects(spec: str, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        parse_type(spec)
    assert info.value.protocol == "modbus"
    assert info.value.path == ("type",)
    assert info.value.offset == offset


def test_datatype_validates_directly() -> None:
    with pytest.raises(EncodeError):
        DataType(kind=Kind.STRING, length=0)
    with pytest.raises(EncodeError):
        DataType(kind=Kind.INT16, length=2)
    with pytest.raises(EncodeError):
        DataType(kind=Kind.STRING, length=2, encoding="utf-8")
    with pytest.raises(EncodeError):
        DataType(kind=Kind.STRING, length=2, pad="x")


datatypes = st.one_of(
    st.builds(DataType, kind=st.sampled_from([*NUMERIC, Kind.BCD16, Kind.BCD32]),
              order=st.sampled_from(ORDERS)),
    st.builds(DataType, kind=st.just(Kind.BITS), order=st.sampled_from(ORDERS),
              length=st.integers(1, 16 * MAX_REGISTERS)),
    st.builds(DataType, kind=st.just(Kind.STRING), order=st.sampled_from(ORDERS),
              length=st.integers(1, 2 * MAX_REGISTERS), encoding=st.sampled_from(["ascii", "latin-1"]),
              pad=st.sampled_from(["\x00", " "]), strip=st.booleans()),
)


@given(datatypes)
def test_spec_string_round_trips(dt: DataType) -> None:
    assert parse_type(str(dt)) == dt


# --- round trips ---------------------------------------------------------------

def _int_range(kind: Kind) -> st.SearchStrategy[int]:
    bits = int(kind.value.removeprefix("u").removeprefix("int"))
    if kind.value.startswith("u"):
        return st.integers(0, (1 << bits) - 1)
    return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)


@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
@pytest.mark.parametrize("kind", [Kind.INT16, Kind.UINT16, Kind.INT32, Kind.UINT32, Kind.INT64, Kind.UINT64],
                         ids=lambda k: k.value)
def test_int_round_trip(kind: Kind, order: Order) -> None:
    dt = DataType(kind=kind, order=order)

    @given(_int_range(kind))
    def check(value: int) -> None:
        regs = encode_value(dt, value)
        assert len(regs) == dt.registers and all(0 <= r <= 0xFFFF for r in regs)
        assert decode_value(dt, regs) == value

    check()


@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
def test_float_round_trip(order: Order) -> None:
    @given(st.floats(width=32), st.floats())
    def check(f32: float, f64: float) -> None:
        for kind, value in ((Kind.FLOAT32, f32), (Kind.FLOAT64, f64)):
            dt = DataType(kind=kind, order=order)
            back = decode_value(dt, encode_value(dt, value))
            assert isinstance(back, float)
            assert math.isnan(back) if math.isnan(value) else back == value
            assert math.copysign(1, back) == math.copysign(1, value)

    check()


@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
def test_bcd_bits_string_round_trip(order: Order) -> None:
    @given(st.integers(0, 9999), st.integers(0, 99_999_999),
           st.lists(st.booleans(), min_size=1, max_size=300),
           st.text(st.characters(max_codepoint=0x7F), max_size=40), st.integers(0, 5))
    def check(b16: int, b32: int, bits: list[bool], text: str, extra: int) -> None:
        assert decode_value(DataType(kind=Kind.BCD16, order=order),
                            encode_value(DataType(kind=Kind.BCD16, order=order), b16)) == b16
        assert decode_value(DataType(kind=Kind.BCD32, order=order),
                            encode_value(DataType(kind=Kind.BCD32, order=order), b32)) == b32
        dt = DataType(kind=Kind.BITS, order=order, length=len(bits))
        assert decode_value(dt, encode_value(dt, bits)) == tuple(bits)
        raw = DataType(kind=Kind.STRING, order=order, length=max(1, len(text) + extra), strip=False)
        out = decode_value(raw, encode_value(raw, text))
        assert out == text + "\x00" * (raw.length - len(text))
        stripped = DataType(kind=Kind.STRING, order=order, length=raw.length)
        assert decode_value(stripped, encode_value(stripped, text)) == text.rstrip("\x00 ")

    check()


# --- arbitrary registers: a value or a DecodeError, and bit-exact re-encoding -----

@given(datatypes, st.data())
def test_arbitrary_registers(dt: DataType, data: st.DataObject) -> None:
    regs = tuple(data.draw(st.lists(st.integers(0, 0xFFFF), min_size=dt.registers, max_size=dt.registers)))
    try:
        value = decode_value(dt, regs)
    except DecodeError as err:
        assert err.protocol == "modbus"
        assert err.path == ("registers", err.offset // 2)
        assert 0 <= err.offset < 2 * dt.registers
        # Only BCD digits and ASCII text can be invalid; every bit pattern is some number.
        assert dt.kind in (Kind.BCD16, Kind.BCD32) or (dt.kind is Kind.STRING and dt.encoding == "ascii")
        return
    again = encode_value(dt, value)
    if dt.kind in NUMERIC or dt.kind in (Kind.BCD16, Kind.BCD32):
        assert again == regs  # bit-exact, NaN payloads included
    elif dt.kind is Kind.BITS:
        assert decode_value(dt, again) == value
        if dt.length % 16 == 0:
            assert again == regs
    elif not dt.strip and dt.length % 2 == 0:
        assert again == regs


@pytest.mark.parametrize("bits", [0x7F800001, 0xFF800001, 0x7FBFFFFF, 0x7FC00000, 0xFFFFFFFF, 0x7FA55A5A])
@pytest.mark.parametrize("order", ORDERS, ids=[o.value for o in ORDERS])
def test_float32_nan_bits_are_exact(bits: int, order: Order) -> None:
    regs = encode_value("uint32", bits, order)
    value = decode_value("float32", regs, order)
    assert isinstance(value, float) and math.isnan(value)
    assert encode_value("float32", value, order) == regs


@pytest.mark.parametrize("bits", [0x7FF0000000000001, 0xFFF8000000000000, 0x7FF4DEADBEEF0001])
def test_float64_nan_bits_are_exact(bits: int) -> None:
    regs = encode_value("uint64", bits)
    value = decode_value("float64", regs)
    assert isinstance(value, float) and math.isnan(value)
    assert encode_value("float64", value) == regs


def test_float64_nan_narrowed_to_float32_stays_nan() -> None:
    nan_low_payload = struct.unpack(">d", struct.pack(">Q", 0x7FF0000000000001))[0]
    assert encode_value("float32", nan_low_payload) == (0x7FC0, 0x0000)
    assert encode_value("float32", -math.nan) == (0xFFC0, 0x0000)


# --- errors --------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "registers", "cls", "offset"), [
    ("int32", (1,), TruncatedError, 2),
    ("int32", (), TruncatedError, 0),
    ("int32", (1, 2, 3), TrailingDataError, 4),
    ("float64", (0, 0, 0), TruncatedError, 6),
    ("uint16", (0, 0), TrailingDataError, 2),
])
def test_wrong_register_count(spec: str, registers: tuple[int, ...], cls: type[DecodeError],
                              offset: int) -> None:
    with pytest.raises(cls) as info:
        decode_value(spec, registers)
    assert (info.value.protocol, info.value.path, info.value.offset) == ("modbus", ("registers",), offset)


@pytest.mark.parametrize("bad", [-1, 0x10000, 1.0, True, "1", None])
def test_register_value_out_of_range(bad: object) -> None:
    with pytest.raises(DecodeError) as info:
        decode_value("uint32", (0, bad))  # type: ignore[arg-type]
    assert (info.value.path, info.value.offset) == (("registers", 1), 2)


@pytest.mark.parametrize(("spec", "registers", "register", "offset"), [
    ("bcd16", (0x12A4,), 0, 1),
    ("bcd16", (0xA234,), 0, 0),
    ("bcd16:badc", (0x34A2,), 0, 1),  # wire bytes 34 A2: A2 is image byte 0, wire byte 1
    ("bcd32", (0x1234, 0x567F), 1, 3),
    ("bcd32:cdab", (0x567F, 0x1234), 0, 1),
    ("bcd32:dcba", (0x7F56, 0x3412), 0, 0),
])
def test_bcd_bad_nibble(spec: str, registers: tuple[int, ...], register: int, offset: int) -> None:
    with pytest.raises(DecodeError) as info:
        decode_value(spec, registers)
    err = info.value
    assert (err.protocol, err.path, err.offset) == ("modbus", ("registers", register), offset)


def test_ascii_string_rejects_high_bytes_on_decode() -> None:
    with pytest.raises(DecodeError) as info:
        decode_value("string:4", (0x4142, 0x43C9))
    assert (info.value.path, info.value.offset) == (("registers", 1), 3)
    with pytest.raises(DecodeError) as info:
        decode_value("string:4:badc", (0x4142, 0xC943))
    assert (info.value.path, info.value.offset) == (("registers", 1), 2)
    assert decode_value("string:4:latin-1", (0x4142, 0x43C9)) == "ABC\xc9"


@pytest.mark.parametrize(("spec", "value", "path"), [
    ("int16", 32768, ("value",)),
    ("int16", -32769, ("value",)),
    ("uint16", -1, ("value",)),
    ("uint32", 1 << 32, ("value",)),
    ("int64", 1 << 63, ("value",)),
    ("uint64", 1 << 64, ("value",)),
    ("int32", 1.0, ("value",)),
    ("int32", True, ("value",)),
    ("int32", "1", ("value",)),
    ("bcd16", 10000, ("value",)),
    ("bcd16", -1, ("value",)),
    ("bcd32", 100_000_000, ("value",)),
    ("float32", 1e39, ("value",)),
    ("float32", 10**400, ("value",)),
    ("float32", "1.0", ("value",)),
    ("float64", False, ("value",)),
    ("bits:3", (True, False), ("value",)),
    ("bits:3", "101", ("value",)),
    ("bits:3", (True, 2, False), ("value", 1)),
    ("bits:3", (True, 1.0, False), ("value", 1)),
    ("string:2", "ABC", ("value",)),
    ("string:4", "AB\xe9", ("value", 2)),
    ("string:4:latin-1", "A\u20ac", ("value", 1)),
    ("string:4", b"AB", ("value",)),
])
def test_encode_errors(spec: str, value: object, path: tuple[str | int, ...]) -> None:
    with pytest.raises(EncodeError) as info:
        encode_value(spec, value)  # type: ignore[arg-type]
    assert (info.value.protocol, info.value.path) == ("modbus", path)


def test_float32_rounds_to_max_not_error() -> None:
    # Just above FLT_MAX still rounds to FLT_MAX: only true overflow is an error.
    assert encode_value("float32", 3.4028235e38) == (0x7F7F, 0xFFFF)


# --- an independent peer: pymodbus 3.x register conversion ------------------------

@pytest.mark.peer
@given(st.sampled_from([Kind.INT16, Kind.UINT16, Kind.INT32, Kind.UINT32, Kind.INT64, Kind.UINT64,
                        Kind.FLOAT32, Kind.FLOAT64]), st.data())
def test_agrees_with_pymodbus(kind: Kind, data: st.DataObject) -> None:
    mixin = pytest.importorskip("pymodbus.client.mixin", reason=NO_PYMODBUS).ModbusClientMixin
    if kind is Kind.FLOAT32:
        value: float = data.draw(st.floats(width=32, allow_nan=False))
    elif kind is Kind.FLOAT64:
        value = data.draw(st.floats(allow_nan=False))
    else:
        value = data.draw(_int_range(kind))
    peer_type = getattr(mixin.DATATYPE, kind.name)
    for order, word_order in ((Order.ABCD, "big"), (Order.CDAB, "little")):
        assert encode_value(DataType(kind=kind, order=order), value) == tuple(
            mixin.convert_to_registers(value, peer_type, word_order=word_order))


@pytest.mark.peer
def test_bits_agree_with_pymodbus_byte_swapped() -> None:
    # pymodbus packs bits LSB first per *byte* in wire order, i.e. our BADC.
    mixin = pytest.importorskip("pymodbus.client.mixin", reason=NO_PYMODBUS).ModbusClientMixin
    bits = [bool(int(c)) for c in "1001110001010001"]
    assert encode_value("bits:16:badc", bits) == tuple(mixin.convert_to_registers(bits, mixin.DATATYPE.BITS))
