"""The data a Modbus server serves, per unit id, parsed from TOML (MB-AP 4.3, 4.4).

Normative references:

- MB-AP 4.3 (data model: discrete inputs, coils, input registers, holding
  registers, each addressed 0..65535), 4.4 (addressing model: the PDU address
  is the 0-based data address), 6.13 (server id), 6.14/6.15 (files of
  10000 records, 0..9999, each record a 16-bit register), 6.18 (FIFO queues of
  at most 31 registers), 6.21 (device identification objects).

A table is a set of *blocks*: contiguous address ranges with values. A request
whose range is not wholly inside one block is an ILLEGAL DATA ADDRESS (MB-AP
7, code 02): "the combination of reference number and transfer length is
invalid". The model is mutable (the server writes into it); everything else
in ``codecs/`` is immutable. This module parses text
(:meth:`DataModel.from_toml`); the reference server's loader reads the file
(:func:`wireproof.harness.simulators.modbus_server.load_datamodel`), since
only the harness does I/O.

TOML layout (``fixtures/modbus/server-default.toml`` is the worked example)::

    [[unit]]
    id = 1
    aliases = [255]                   # more unit ids sharing the same data
    exception_status = 0x00           # FC 07 output (8 bits)
    [[unit.coils]]                    # also discrete_inputs, holding_registers,
    start = 0                         #   input_registers
    count = 2000
    values = [false, true]            # repeated cyclically to `count`
    [[unit.holding_registers]]
    start = 0
    count = 2000
    fill = "address"                  # value = (offset + address) & 0xFFFF
    offset = 0
    [unit.device_identification]      # MB-AP 6.21 object names or "0xNN" ids
    VendorName = "wireproof"
    [unit.server_id]                  # MB-AP 6.13
    id = "57"                         # hex
    run_indicator = true
    additional_data = "text"
    [[unit.fifo]]                     # MB-AP 6.18
    address = 0x0400
    values = [1, 2, 3]
    [[unit.file]]                     # MB-AP 6.14: one block of one file
    number = 1
    start = 0
    count = 100
    fill = "address"
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from wireproof.codecs.modbus.constants import (
    ADDRESS_SPACE,
    MAX_FILE_RECORD_NUMBER,
    DeviceIdObject,
)
from wireproof.errors import FixtureError

__all__ = [
    "DEVICE_ID_NAMES",
    "Block",
    "DataModel",
    "Table",
    "UnitData",
]

V = TypeVar("V", bool, int)

# MB-AP 6.21 table "Object ids": the spec's object names, as a TOML file spells them.
DEVICE_ID_NAMES: dict[str, int] = {
    "VendorName": int(DeviceIdObject.VENDOR_NAME),
    "ProductCode": int(DeviceIdObject.PRODUCT_CODE),
    "MajorMinorRevision": int(DeviceIdObject.MAJOR_MINOR_REVISION),
    "VendorUrl": int(DeviceIdObject.VENDOR_URL),
    "ProductName": int(DeviceIdObject.PRODUCT_NAME),
    "ModelName": int(DeviceIdObject.MODEL_NAME),
    "UserApplicationName": int(DeviceIdObject.USER_APPLICATION_NAME),
}


@dataclass(slots=True)
class Block(Generic[V]):
    """A contiguous range ``start .. start + len(values) - 1`` of one table."""

    start: int
    values: list[V]

    @property
    def end(self) -> int:
        """One past the last address."""
        return self.start + len(self.values)


@dataclass(slots=True)
class Table(Generic[V]):
    """One of the four primary tables (MB-AP 4.3), or one file's records: a list of blocks."""

    blocks: list[Block[V]] = field(default_factory=list)

    def _find(self, address: int, count: int) -> Block[V] | None:
        if count < 1:
            return None
        for block in self.blocks:
            if block.start <= address and address + count <= block.end:
                return block
        return None

    def contains(self, address: int, count: int) -> bool:
        """Whether ``count`` items from ``address`` lie inside one block."""
        return self._find(address, count) is not None

    def read(self, address: int, count: int) -> list[V] | None:
        """The values, or ``None`` if the range is not wholly in one block."""
        block = self._find(address, count)
        if block is None:
            return None
        i = address - block.start
        return block.values[i:i + count]

    def write(self, address: int, values: Sequence[V]) -> bool:
        """Write ``values`` from ``address``; ``False`` (nothing written) if out of range."""
        block = self._find(address, len(values))
        if block is None:
            return False
        i = address - block.start
        block.values[i:i + len(values)] = list(values)
        return True

    def add(self, block: Block[V], *, where: str) -> None:
        """Add a block; overlapping an existing one is a :class:`FixtureError`."""
        for other in self.blocks:
            if block.start < other.end and other.start < block.end:
                raise FixtureError(f"{where}: block {block.start}..{block.end - 1} overlaps "
                                   f"{other.start}..{other.end - 1}")
        self.blocks.append(block)
        self.blocks.sort(key=lambda b: b.start)


@dataclass(slots=True)
class UnitData:
    """Everything one unit id serves."""

    coils: Table[bool] = field(default_factory=Table)
    discrete_inputs: Table[bool] = field(default_factory=Table)
    holding_registers: Table[int] = field(default_factory=Table)
    input_registers: Table[int] = field(default_factory=Table)
    # MB-AP 6.21: object id -> value.
    device_identification: dict[int, bytes] = field(default_factory=dict)
    # MB-AP 6.13: server id bytes, run indicator, additional data.
    server_id: bytes = b"\x00"
    run_indicator: bool = True
    additional_data: bytes = b""
    # MB-AP 6.7: eight device-specific exception status outputs.
    exception_status: int = 0
    # MB-AP 6.18: FIFO pointer address -> queued registers (oldest first).
    fifos: dict[int, list[int]] = field(default_factory=dict)
    # MB-AP 6.14: file number -> its records (record number = address).
    files: dict[int, Table[int]] = field(default_factory=dict)


@dataclass(slots=True)
class DataModel:
    """Unit id -> :class:`UnitData`; aliases map several ids to one object."""

    units: dict[int, UnitData] = field(default_factory=dict)

    def unit(self, unit_id: int) -> UnitData | None:
        return self.units.get(unit_id)

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>") -> DataModel:
        """Parse a TOML data model (layout in the module docstring); :class:`FixtureError` if invalid."""
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise FixtureError(f"{source}: not valid TOML: {err}") from None
        return cls.from_mapping(doc, source=source)

    @classmethod
    def from_mapping(cls, doc: Mapping[str, Any], *, source: str = "<mapping>") -> DataModel:
        """Build from an already-parsed document (same layout as the TOML)."""
        model = cls()
        units = doc.get("unit", [])
        if not isinstance(units, list) or not units:
            raise FixtureError(f"{source}: needs at least one [[unit]] table")
        for i, spec in enumerate(units):
            where = f"{source}: unit[{i}]"
            if not isinstance(spec, dict):
                raise FixtureError(f"{where}: not a table")
            data = _unit(spec, where)
            ids = [_int(spec.get("id"), f"{where}.id", 0, 255)]
            ids += [_int(a, f"{where}.aliases", 0, 255) for a in _list(spec.get("aliases", []), where)]
            for uid in ids:
                if uid in model.units:
                    raise FixtureError(f"{where}: unit id {uid} defined twice")
                model.units[uid] = data
        return model


# --- parsing helpers ------------------------------------------------------------------

_KNOWN_UNIT_KEYS = {"id", "aliases", "exception_status", "coils", "discrete_inputs", "holding_registers",
                    "input_registers", "device_identification", "server_id", "fifo", "file"}


def _unit(spec: dict[str, Any], where: str) -> UnitData:
    unknown = set(spec) - _KNOWN_UNIT_KEYS
    if unknown:
        raise FixtureError(f"{where}: unknown keys {sorted(unknown)}")
    status = _int(spec.get("exception_status", 0), f"{where}.exception_status", 0, 255)
    data = UnitData(exception_status=status)
    for name in ("coils", "discrete_inputs", "holding_registers", "input_registers"):
        table: Table[Any] = getattr(data, name)
        bits = name in ("coils", "discrete_inputs")
        for j, b in enumerate(_list(spec.get(name, []), f"{where}.{name}")):
            block = _block(b, f"{where}.{name}[{j}]", bits=bits, limit=ADDRESS_SPACE)
            table.add(block, where=f"{where}.{name}")
    data.device_identification = _device_id(spec.get("device_identification", {}),
                                            f"{where}.device_identification")
    sid = spec.get("server_id", {})
    if not isinstance(sid, dict):
        raise FixtureError(f"{where}.server_id: not a table")
    data.server_id = _hex(sid.get("id", "00"), f"{where}.server_id.id")
    data.run_indicator = bool(sid.get("run_indicator", True))
    data.additional_data = str(sid.get("additional_data", "")).encode("utf-8")
    for j, f in enumerate(_list(spec.get("fifo", []), f"{where}.fifo")):
        w = f"{where}.fifo[{j}]"
        if not isinstance(f, dict):
            raise FixtureError(f"{w}: not a table")
        addr = _int(f.get("address"), f"{w}.address", 0, ADDRESS_SPACE - 1)
        values = [_int(v, f"{w}.values", 0, 0xFFFF) for v in _list(f.get("values", []), w)]
        # A queue longer than MAX_FIFO_COUNT is allowed on purpose: reading it is
        # answered with 03 ILLEGAL DATA VALUE (MB-AP 6.18), a path worth testing.
        data.fifos[addr] = values
    for j, f in enumerate(_list(spec.get("file", []), f"{where}.file")):
        w = f"{where}.file[{j}]"
        if not isinstance(f, dict):
            raise FixtureError(f"{w}: not a table")
        number = _int(f.get("number"), f"{w}.number", 1, 0xFFFF)  # MB-AP 6.14: file 0x0001..0xFFFF
        block = _block({k: v for k, v in f.items() if k != "number"}, w, bits=False,
                       limit=MAX_FILE_RECORD_NUMBER + 1)
        data.files.setdefault(number, Table()).add(block, where=w)
    return data


def _block(spec: Any, where: str, *, bits: bool, limit: int) -> Block[Any]:
    if not isinstance(spec, dict):
        raise FixtureError(f"{where}: not a table")
    unknown = set(spec) - {"start", "count", "values", "fill", "offset"}
    if unknown:
        raise FixtureError(f"{where}: unknown keys {sorted(unknown)}")
    start = _int(spec.get("start", 0), f"{where}.start", 0, limit - 1)
    fill = spec.get("fill")
    raw = _list(spec.get("values", []), f"{where}.values")
    values: list[Any]
    if bits:
        values = [_bool(v, f"{where}.values") for v in raw]
    else:
        values = [_int(v, f"{where}.values", 0, 0xFFFF) for v in raw]
    count = _int(spec.get("count", len(values)), f"{where}.count", 1, limit - start)
    if fill is not None:
        if fill != "address" or values:
            raise FixtureError(f"{where}: fill must be \"address\" and exclude values")
        offset = _int(spec.get("offset", 0), f"{where}.offset", 0, 0xFFFF)
        if bits:
            values = [((start + i + offset) & 1) == 1 for i in range(count)]
        else:
            values = [(offset + start + i) & 0xFFFF for i in range(count)]
    elif not values:
        values = [False if bits else 0] * count
    else:
        values = [values[i % len(values)] for i in range(count)]
    return Block(start=start, values=values)


def _device_id(spec: Any, where: str) -> dict[int, bytes]:
    if not isinstance(spec, dict):
        raise FixtureError(f"{where}: not a table")
    out: dict[int, bytes] = {}
    for key, value in spec.items():
        if key in DEVICE_ID_NAMES:
            oid = DEVICE_ID_NAMES[key]
        else:
            try:
                oid = int(key, 0)
            except ValueError:
                raise FixtureError(f"{where}: unknown object {key!r}; use a spec name or 0xNN") from None
            if not 0 <= oid <= 0xFF or 0x07 <= oid <= 0x7F:
                # MB-AP 6.21: 0x07..0x7F are reserved.
                raise FixtureError(f"{where}: object id {key} is reserved or out of range")
        encoded = str(value).encode("utf-8")
        if len(encoded) > 245:  # must fit one response PDU with its headers
            raise FixtureError(f"{where}.{key}: value longer than 245 bytes")
        out[oid] = encoded
    for oid in (DeviceIdObject.VENDOR_NAME, DeviceIdObject.PRODUCT_CODE, DeviceIdObject.MAJOR_MINOR_REVISION):
        if out and oid not in out:
            raise FixtureError(f"{where}: basic object {DeviceIdObject(oid).name} is mandatory (MB-AP 6.21)")
    return out


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise FixtureError(f"{where}: expected an array")
    return value


def _int(value: Any, where: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FixtureError(f"{where}: expected an integer, got {value!r}")
    if not lo <= value <= hi:
        raise FixtureError(f"{where}: {value} is outside {lo}..{hi}")
    return value


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise FixtureError(f"{where}: expected a boolean, got {value!r}")


def _hex(value: Any, where: str) -> bytes:
    try:
        return bytes.fromhex(str(value))
    except ValueError:
        raise FixtureError(f"{where}: not a hex string: {value!r}") from None
