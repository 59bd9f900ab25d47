"""Every bound of the register data types and of the server's data model at limit - 1, limit and
limit + 1 (MB-AP = MODBUS Application Protocol V1.1b3).

A value spans at most 125 registers (one Read Holding Registers response, MB-AP 6.3); integers,
BCD digits, strings, bits and register values have their ranges; the TOML data model checks
addresses against the 65,536-entry tables (MB-AP 4.3/4.4), file records against 0..9999 (6.14),
device identification objects against the reserved ids and the response size (6.21).
"""

from __future__ import annotations

from typing import Any

import pytest

from wireproof.codecs.modbus.datamodel import DataModel, Table
from wireproof.codecs.modbus.datatypes import (
    MAX_REGISTERS,
    DataType,
    Kind,
    Order,
    decode_value,
    encode_value,
)
from wireproof.errors import DecodeError, EncodeError, FixtureError, TrailingDataError, TruncatedError

INT_RANGES = {
    Kind.INT16: (-(2**15), 2**15 - 1), Kind.UINT16: (0, 2**16 - 1),
    Kind.INT32: (-(2**31), 2**31 - 1), Kind.UINT32: (0, 2**32 - 1),
    Kind.INT64: (-(2**63), 2**63 - 1), Kind.UINT64: (0, 2**64 - 1),
    Kind.BCD16: (0, 9999), Kind.BCD32: (0, 99_999_999),
}


def round_trips(dt: DataType | str, value: Any) -> tuple[int, ...]:
    registers = encode_value(dt, value)
    assert decode_value(dt, registers) == value
    return registers


def encode_fails(dt: DataType | str, value: Any, path: tuple[str | int, ...] = ("value",)) -> None:
    with pytest.raises(EncodeError) as info:
        encode_value(dt, value)
    assert info.value.path == path, str(info.value)


@pytest.mark.parametrize("kind", list(INT_RANGES), ids=lambda k: k.value)
@pytest.mark.parametrize("order", list(Order), ids=lambda o: o.value)
def test_integer_ranges(kind: Kind, order: Order) -> None:
    dt = DataType(kind=kind, order=order)
    lo, hi = INT_RANGES[kind]
    for value in (lo, lo + 1, hi - 1, hi):
        assert len(round_trips(dt, value)) == dt.registers
    encode_fails(dt, lo - 1)
    encode_fails(dt, hi + 1)


def test_register_counts_of_the_fixed_kinds() -> None:
    counts = {Kind.INT16: 1, Kind.UINT16: 1, Kind.BCD16: 1, Kind.INT32: 2, Kind.UINT32: 2, Kind.FLOAT32: 2,
              Kind.BCD32: 2, Kind.INT64: 4, Kind.UINT64: 4, Kind.FLOAT64: 4}
    for kind, n in counts.items():
        assert DataType(kind=kind).registers == n


@pytest.mark.parametrize(("kind", "limit"), [(Kind.BITS, 16 * MAX_REGISTERS),
                                             (Kind.STRING, 2 * MAX_REGISTERS)])
def test_length_bounds(kind: Kind, limit: int) -> None:
    # MB-AP 6.3: a value is at most the 125 registers one response carries.
    assert MAX_REGISTERS == 125
    for length in (1, 2, limit - 1, limit):
        assert DataType(kind=kind, length=length).length == length
    for length in (0, limit + 1):
        with pytest.raises(EncodeError) as info:
            DataType(kind=kind, length=length)
        assert info.value.path == ("type", "length")
    with pytest.raises(EncodeError) as fixed:
        DataType(kind=Kind.UINT16, length=1)
    assert fixed.value.path == ("type", "length")


@pytest.mark.parametrize(("length", "registers"), [(1, 1), (15, 1), (16, 1), (17, 2), (2000, 125)])
def test_bits_span(length: int, registers: int) -> None:
    dt = DataType(kind=Kind.BITS, length=length)
    assert dt.registers == registers
    value = tuple(i % 3 == 0 for i in range(length))
    regs = round_trips(dt, value)
    assert len(regs) == registers
    # Bit i is bit i % 16 of register i // 16: the last bit is where the length says.
    last = encode_value(dt, tuple(i == length - 1 for i in range(length)))
    assert last[(length - 1) // 16] == 1 << ((length - 1) % 16)
    encode_fails(dt, (*value, True))
    encode_fails(dt, value[:-1])


@pytest.mark.parametrize(("length", "registers"), [(1, 1), (2, 1), (3, 2), (250, 125)])
def test_string_span(length: int, registers: int) -> None:
    dt = DataType(kind=Kind.STRING, length=length)
    assert dt.registers == registers
    text = "".join(chr(0x41 + i % 26) for i in range(length))
    assert len(round_trips(dt, text)) == registers
    round_trips(dt, text[:-1])  # shorter is padded
    encode_fails(dt, text + "A")


@pytest.mark.parametrize("kind", [Kind.UINT16, Kind.UINT32, Kind.FLOAT64, Kind.BCD32])
def test_register_count_and_values(kind: Kind) -> None:
    dt = DataType(kind=kind)
    n = dt.registers
    registers = (0x1234,) * n if kind is not Kind.FLOAT64 else (0x4000,) + (0,) * (n - 1)
    decode_value(dt, registers)
    with pytest.raises(TruncatedError) as short:
        decode_value(dt, registers[:-1])
    assert (short.value.path, short.value.offset) == (("registers",), 2 * (n - 1))
    with pytest.raises(TrailingDataError) as long:
        decode_value(dt, (*registers, 0))
    assert (long.value.path, long.value.offset) == (("registers",), 2 * n)
    for bad in (-1, 0x10000):
        with pytest.raises(DecodeError) as info:
            decode_value(dt, (*registers[:-1], bad))
        assert (type(info.value), info.value.path, info.value.offset) == (
            DecodeError, ("registers", n - 1), 2 * (n - 1))
    assert decode_value(DataType(kind=Kind.UINT16), (0xFFFF,)) == 0xFFFF


def test_float32_largest_finite() -> None:
    dt = DataType(kind=Kind.FLOAT32)
    assert encode_value(dt, 3.4028234663852886e38) == (0x7F7F, 0xFFFF)
    encode_fails(dt, 3.5e38)


# --- the data model (the reference server's TOML fixture) --------------------------------------------

def model(unit: str) -> DataModel:
    return DataModel.from_toml("[[unit]]\nid = 1\n" + unit)


def fails(unit: str, needle: str) -> None:
    with pytest.raises(FixtureError) as info:
        model(unit)
    assert needle in str(info.value), str(info.value)


@pytest.mark.parametrize(("uid", "ok"), [(-1, False), (0, True), (255, True), (256, False)])
def test_unit_id_bounds(uid: int, ok: bool) -> None:
    text = f"[[unit]]\nid = {uid}\n"
    if ok:
        assert DataModel.from_toml(text).unit(uid) is not None
    else:
        with pytest.raises(FixtureError, match=r"\.id: "):
            DataModel.from_toml(text)


def test_block_addresses_run_to_65535() -> None:
    # MB-AP 4.4: addresses 0..65535; a block's last address is start + count - 1.
    unit = model("[[unit.holding_registers]]\nstart = 65535\ncount = 1\n").unit(1)
    assert unit is not None and unit.holding_registers.read(65535, 1) == [0]
    assert unit.holding_registers.read(65535, 2) is None
    model("[[unit.coils]]\nstart = 65534\ncount = 2\n")
    fails("[[unit.coils]]\nstart = 65534\ncount = 3\n", ".count: 3 is outside 1..2")
    fails("[[unit.coils]]\nstart = 65536\ncount = 1\n", ".start: 65536 is outside 0..65535")
    fails("[[unit.coils]]\nstart = 0\ncount = 0\n", ".count: 0 is outside 1..65536")
    model("[[unit.coils]]\nstart = 0\ncount = 65536\n")


@pytest.mark.parametrize(("value", "ok"), [(-1, False), (0, True), (65535, True), (65536, False)])
def test_register_values_are_16_bit(value: int, ok: bool) -> None:
    text = f"[[unit.input_registers]]\nstart = 0\nvalues = [{value}]\n"
    if ok:
        unit = model(text).unit(1)
        assert unit is not None and unit.input_registers.read(0, 1) == [value]
    else:
        fails(text, f"{value} is outside 0..65535")


def test_blocks_touching_do_not_overlap() -> None:
    unit = model("[[unit.holding_registers]]\nstart = 0\ncount = 10\n"
                 "[[unit.holding_registers]]\nstart = 10\ncount = 10\n").unit(1)
    assert unit is not None
    assert unit.holding_registers.read(9, 1) == [0] and unit.holding_registers.read(10, 1) == [0]
    assert unit.holding_registers.read(9, 2) is None  # one block each side
    fails("[[unit.holding_registers]]\nstart = 0\ncount = 10\n"
          "[[unit.holding_registers]]\nstart = 9\ncount = 10\n", "block 9..18 overlaps 0..9")


def test_table_ranges_at_the_block_edges() -> None:
    model_unit = model("[[unit.holding_registers]]\nstart = 100\nvalues = [1, 2, 3]\n").unit(1)
    assert model_unit is not None
    table: Table[int] = model_unit.holding_registers
    assert table.read(100, 3) == [1, 2, 3] and table.read(102, 1) == [3]
    assert table.read(99, 1) is None and table.read(100, 4) is None and table.read(103, 1) is None
    assert table.read(100, 0) is None
    assert table.write(102, [9]) and not table.write(102, [9, 9]) and not table.write(99, [9])
    assert table.contains(100, 3) and not table.contains(101, 3)


@pytest.mark.parametrize(("number", "ok"), [(0, False), (1, True), (65535, True), (65536, False)])
def test_file_numbers(number: int, ok: bool) -> None:
    # MB-AP 6.14: file number 0x0001..0xFFFF, record number 0..0x270F.
    text = f"[[unit.file]]\nnumber = {number}\nstart = 0\ncount = 1\n"
    if ok:
        model(text)
    else:
        fails(text, f".number: {number} is outside 1..65535")


def test_file_record_numbers() -> None:
    model("[[unit.file]]\nnumber = 1\nstart = 9999\ncount = 1\n")
    fails("[[unit.file]]\nnumber = 1\nstart = 9999\ncount = 2\n", ".count: 2 is outside 1..1")
    fails("[[unit.file]]\nnumber = 1\nstart = 10000\ncount = 1\n", ".start: 10000 is outside 0..9999")


@pytest.mark.parametrize(("oid", "ok"), [("0x06", True), ("0x07", False), ("0x7F", False), ("0x80", True),
                                         ("0xFF", True), ("0x100", False)])
def test_device_id_object_ids(oid: str, ok: bool) -> None:
    # MB-AP 6.21: objects 0x07..0x7F are reserved; 0x80..0xFF are private.
    text = ("[unit.device_identification]\nVendorName = \"v\"\nProductCode = \"p\"\n"
            f"MajorMinorRevision = \"1\"\n\"{oid}\" = \"x\"\n")
    if ok:
        unit = model(text).unit(1)
        assert unit is not None and unit.device_identification[int(oid, 16)] == b"x"
    else:
        fails(text, "reserved or out of range")


@pytest.mark.parametrize(("size", "ok"), [(244, True), (245, True), (246, False)])
def test_device_id_value_size(size: int, ok: bool) -> None:
    text = ("[unit.device_identification]\nProductCode = \"p\"\nMajorMinorRevision = \"1\"\n"
            f"VendorName = \"{'v' * size}\"\n")
    if ok:
        unit = model(text).unit(1)
        assert unit is not None and len(unit.device_identification[0]) == size
    else:
        fails(text, "value longer than 245 bytes")


@pytest.mark.parametrize(("status", "ok"), [(-1, False), (0, True), (255, True), (256, False)])
def test_exception_status_is_one_byte(status: int, ok: bool) -> None:
    # MB-AP 6.7: eight exception status outputs.
    text = f"exception_status = {status}\n"
    if ok:
        unit = model(text).unit(1)
        assert unit is not None and unit.exception_status == status
    else:
        fails(text, f"{status} is outside 0..255")


def test_fill_by_address_wraps_at_16_bits() -> None:
    unit = model("[[unit.holding_registers]]\nstart = 65533\ncount = 3\nfill = \"address\"\noffset = 1\n"
                 "[[unit.coils]]\nstart = 3\ncount = 4\nfill = \"address\"\n"
                 "[[unit.discrete_inputs]]\nstart = 3\ncount = 3\nfill = \"address\"\noffset = 1\n"
                 "[[unit.input_registers]]\nstart = 0\ncount = 5\nvalues = [1, 2]\n").unit(1)
    assert unit is not None
    assert unit.holding_registers.read(65533, 3) == [65534, 65535, 0]
    assert unit.coils.read(3, 4) == [True, False, True, False]  # the address's parity
    assert unit.discrete_inputs.read(3, 3) == [False, True, False]
    assert unit.input_registers.read(0, 5) == [1, 2, 1, 2, 1]  # values repeat to the count
    model("[[unit.coils]]\ncount = 1\nfill = \"address\"\noffset = 65535\n")
    fails("[[unit.coils]]\ncount = 1\nfill = \"address\"\noffset = 65536\n", "65536 is outside 0..65535")
    fails("[[unit.coils]]\nvalues = [true]\nfill = \"address\"\n", "fill must be")


def test_defaults_of_a_unit() -> None:
    # A block without start begins at address 0; a unit without them has status 0, server id 00.
    unit = model("[[unit.coils]]\ncount = 1\n").unit(1)
    assert unit is not None and unit.coils.read(0, 1) == [False]
    assert (unit.exception_status, unit.server_id, unit.run_indicator) == (0, b"\x00", True)
    assert unit.fifos == {} and unit.files == {} and unit.device_identification == {}


@pytest.mark.parametrize(("address", "ok"), [(-1, False), (0, True), (65535, True), (65536, False)])
def test_fifo_address_and_values(address: int, ok: bool) -> None:
    # MB-AP 6.18: a FIFO pointer address is a register address; its values are registers.
    text = f"[[unit.fifo]]\naddress = {address}\nvalues = [0, 65535]\n"
    if ok:
        unit = model(text).unit(1)
        assert unit is not None and unit.fifos == {address: [0, 65535]}
    else:
        fails(text, f".address: {address} is outside 0..65535")
    fails("[[unit.fifo]]\naddress = 0\nvalues = [65536]\n", ".values: 65536 is outside 0..65535")


def test_bcd_range_is_named_in_the_error() -> None:
    for spec, top in (("bcd16", 9999), ("bcd32", 99_999_999)):
        with pytest.raises(EncodeError) as info:
            encode_value(spec, top + 1)
        assert info.value.reason == f"{top + 1} is outside {spec} range 0..{top}"


@pytest.mark.parametrize(("alias", "ok"), [(-1, False), (0, True), (255, True), (256, False)])
def test_alias_bounds(alias: int, ok: bool) -> None:
    text = f"aliases = [{alias}]\n"
    if ok:
        built = model(text)
        assert built.unit(alias) is built.unit(1) is not None
    else:
        fails(text, f".aliases: {alias} is outside 0..255")


def test_coil_values_are_booleans_or_0_and_1() -> None:
    unit = model("[[unit.coils]]\nvalues = [true, 0, 1, false]\n").unit(1)
    assert unit is not None and unit.coils.read(0, 4) == [True, False, True, False]
    for bad in ("2", "-1", "\"on\""):
        fails(f"[[unit.coils]]\nvalues = [{bad}]\n", "expected a boolean")


def test_device_id_keys_are_names_or_numbers() -> None:
    fails("[unit.device_identification]\nVendorName = \"v\"\nFoo = \"x\"\n", "unknown object 'Foo'")


def test_data_model_shapes() -> None:
    # Slotted records (house style); the TOML source name is given by keyword.
    from wireproof.codecs.modbus.datamodel import Block, UnitData
    for cls in (Block, Table, UnitData, DataModel):
        assert "__slots__" in cls.__dict__, cls
    with pytest.raises(TypeError):
        DataModel.from_toml("[[unit]]\nid = 1\n", "name")  # type: ignore[misc]
    assert DataModel.from_toml("[[unit]]\nid = 1\n", source="name").unit(1) is not None
