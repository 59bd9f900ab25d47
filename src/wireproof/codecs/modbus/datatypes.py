"""Typed values carried in Modbus registers (pure).

Normative references
--------------------
- MB-AP 4.3 (data model): a holding or input register is 16 bits; MB-AP 4.2
  puts every 16-bit quantity on the wire big-endian (high byte first).
- MB-AP 6.3: one Read Holding Registers request carries at most 125
  registers, which bounds the size of a single value (:data:`MAX_REGISTERS`).
- Nothing in MB-AP says how values wider than 16 bits, BCD, packed bits or text
  are laid out over several registers. Vendors differ; this module implements
  the four conventions every Modbus tool offers (see :class:`Order`).

Theory of operation
-------------------
Every type first has a *canonical image*: its big-endian bytes, 2 per
register (``struct`` ``>f`` for float32, the BCD nibbles high digit first, the
characters of a string in order, the bit-packed registers for bits). An
:class:`Order` then maps that image to wire registers with two independent
swaps — bytes within each register, and the order of the registers — so one
permutation serves all types and widths. Letters name the bytes of the image:
for a 4-byte value ``ABCD`` is the image itself; for 8 bytes read
``ABCD`` as ``ABCDEFGH``, ``CDAB`` as ``GHEFCDAB`` (registers reversed),
``BADC`` as ``BADCFEHG`` and ``DCBA`` as ``HGFEDCBA``. For a one-register type
only the byte swap matters (``BADC``/``DCBA`` swap its two bytes).

Errors: register values outside 0..65535, a wrong register count (too few:
:class:`~wireproof.errors.TruncatedError`, too many:
:class:`~wireproof.errors.TrailingDataError`), a BCD nibble above 9 or a
non-ASCII byte in an ASCII string raise :class:`~wireproof.errors.DecodeError`
with protocol ``"modbus"``, a path under ``("registers", ...)`` and the *wire*
byte offset (register index * 2, + 1 for its low byte). Values that do not fit
raise :class:`~wireproof.errors.EncodeError`. Float NaNs keep their exact bits
both ways (the float32 path does its own widening, because the C cast CPython
uses quiets signalling NaNs).
"""

from __future__ import annotations

import enum
import functools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from wireproof.errors import DecodeError, EncodeError, TrailingDataError, TruncatedError

__all__ = [
    "MAX_REGISTERS",
    "DataType",
    "Kind",
    "Order",
    "Value",
    "decode_value",
    "encode_value",
    "parse_type",
]

PROTOCOL: Final = "modbus"
#: Most registers one value may span: the Read Holding Registers limit (MB-AP 6.3).
MAX_REGISTERS: Final = 125

Value: TypeAlias = int | float | str | tuple[bool, ...]


class Order(enum.Enum):
    """Byte/word order of a value over registers, named by its bytes on the wire.

    ``ABCD``
        Big-endian, "high word first": the MB-AP byte order extended to every
        width. Modbus Poll "Big-endian"; pymodbus ``Endian.BIG`` words and
        bytes; Schneider/Modicon "MSW first".
    ``DCBA``
        Little-endian: every byte reversed. Modbus Poll "Little-endian".
    ``BADC``
        Byte swap within each register, registers high first. Modbus Poll
        "Big-endian byte swap"; also called "mid-big-endian".
    ``CDAB``
        Word swap: registers low first, bytes within each big-endian. Modbus
        Poll "Little-endian byte swap"; Kepware "first word low"; also
        "mid-little-endian". The common default of PLC floats.
    """

    ABCD = "abcd"
    DCBA = "dcba"
    BADC = "badc"
    CDAB = "cdab"

    @property
    def byte_swap(self) -> bool:
        """The two bytes of every register are swapped (``BADC``, ``DCBA``)."""
        return self in (Order.BADC, Order.DCBA)

    @property
    def word_swap(self) -> bool:
        """Registers come lowest-order first (``CDAB``, ``DCBA``)."""
        return self in (Order.CDAB, Order.DCBA)


class Kind(enum.Enum):
    """The register data types; the value is the name used in type specs."""

    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    BCD16 = "bcd16"  # 4 decimal digits, one per nibble, high digit first
    BCD32 = "bcd32"  # 8 decimal digits
    # ``length`` bits, bit i = bit (i % 16) of register i // 16 (LSB first). pymodbus
    # packs bits LSB first per byte in wire order instead: that is ``bits:N:badc``.
    BITS = "bits"
    STRING = "string"  # ``length`` characters, 2 per register, first in the high byte


# Canonical-image formats of the fixed-width kinds.
_NUMERIC: Final[dict[Kind, struct.Struct]] = {
    Kind.INT16: struct.Struct(">h"),
    Kind.UINT16: struct.Struct(">H"),
    Kind.INT32: struct.Struct(">i"),
    Kind.UINT32: struct.Struct(">I"),
    Kind.INT64: struct.Struct(">q"),
    Kind.UINT64: struct.Struct(">Q"),
    Kind.FLOAT32: struct.Struct(">I"),  # packed via its bits: see _f32_bits
    Kind.FLOAT64: struct.Struct(">d"),
}
_INT_RANGE: Final[dict[Kind, tuple[int, int]]] = {
    Kind.INT16: (-(1 << 15), (1 << 15) - 1),
    Kind.UINT16: (0, (1 << 16) - 1),
    Kind.INT32: (-(1 << 31), (1 << 31) - 1),
    Kind.UINT32: (0, (1 << 32) - 1),
    Kind.INT64: (-(1 << 63), (1 << 63) - 1),
    Kind.UINT64: (0, (1 << 64) - 1),
}
_BCD_DIGITS: Final = {Kind.BCD16: 4, Kind.BCD32: 8}
_ENCODINGS: Final = {"ascii": "ascii", "latin-1": "latin-1", "latin1": "latin-1", "iso-8859-1": "latin-1"}
_PADS: Final = {"nul": "\x00", "space": " "}
_ORDER_NAMES: Final = frozenset(o.value for o in Order)
_F32: Final = struct.Struct(">f")
_F64_BITS: Final = struct.Struct(">Q")
_F64: Final = struct.Struct(">d")


@functools.cache
def _regs_struct(count: int, byte_swap: bool) -> struct.Struct:
    # Reading the big-endian image as little-endian registers is the byte swap.
    return struct.Struct(f"{'<' if byte_swap else '>'}{count}H")


@dataclass(frozen=True, slots=True, kw_only=True)
class DataType:
    """A register data type: kind, order and, for bits/strings, a length.

    ``length`` counts bits for :attr:`Kind.BITS` and characters (bytes) for
    :attr:`Kind.STRING`, and is 0 for every other kind. ``encoding``
    (``"ascii"`` or ``"latin-1"``, strict both ways), ``pad`` (``"\\x00"`` or
    ``" "``, appended on encode) and ``strip`` (remove trailing NULs and
    spaces on decode) apply to strings only. ``str(dt)`` is its spec string.
    """

    kind: Kind
    order: Order = Order.ABCD
    length: int = 0
    encoding: str = "ascii"
    pad: str = "\x00"
    strip: bool = True

    def __post_init__(self) -> None:
        if self.kind in (Kind.BITS, Kind.STRING):
            limit = MAX_REGISTERS * (16 if self.kind is Kind.BITS else 2)
            if not 1 <= self.length <= limit:
                raise EncodeError(PROTOCOL, ("type", "length"),
                                  f"{self.kind.value} length must be 1..{limit}, not {self.length}")
        elif self.length != 0:
            raise EncodeError(PROTOCOL, ("type", "length"), f"{self.kind.value} takes no length")
        if self.encoding not in ("ascii", "latin-1"):
            raise EncodeError(PROTOCOL, ("type", "encoding"),
                              f"encoding must be 'ascii' or 'latin-1', not {self.encoding!r}")
        if self.pad not in ("\x00", " "):
            raise EncodeError(PROTOCOL, ("type", "pad"), f"pad must be NUL or space, not {self.pad!r}")

    @property
    def registers(self) -> int:
        """How many registers a value of this type spans."""
        if self.kind is Kind.BITS:
            return (self.length + 15) // 16
        if self.kind is Kind.STRING:
            return (self.length + 1) // 2
        if self.kind in _BCD_DIGITS:
            return _BCD_DIGITS[self.kind] // 4
        return _NUMERIC[self.kind].size // 2

    def __str__(self) -> str:
        parts = [self.kind.value]
        if self.length:
            parts.append(str(self.length))
        if self.order is not Order.ABCD:
            parts.append(self.order.value)
        if self.kind is Kind.STRING:
            if self.encoding != "ascii":
                parts.append(self.encoding)
            if self.pad != "\x00":
                parts.append("space")
            if not self.strip:
                parts.append("raw")
        return ":".join(parts)


@functools.lru_cache(maxsize=256)
def parse_type(spec: str) -> DataType:
    """Parse a type spec such as ``"float32:cdab"``, ``"string:10"``, ``"bits:16"``.

    Grammar: ``kind[:option]...``, case-insensitive. Options: a length (bits,
    string: required), an order (``abcd``, ``dcba``, ``badc``, ``cdab``), and
    for strings an encoding (``ascii``, ``latin-1``), ``nul``/``space`` padding
    and ``raw`` (keep padding on decode). A bad spec raises ``DecodeError``
    with path ``("type",)`` and the character offset of the offending part.
    """
    pieces = spec.split(":")
    starts = [0]
    for piece in pieces[:-1]:
        starts.append(starts[-1] + len(piece) + 1)

    def fail(i: int, reason: str) -> DecodeError:
        return DecodeError(PROTOCOL, ("type",), starts[i], f"{reason} in type spec {spec!r}")

    try:
        kind = Kind(pieces[0].strip().lower())
    except ValueError:
        raise fail(0, f"unknown type {pieces[0]!r} (known: {', '.join(k.value for k in Kind)})") from None
    length, order, encoding, pad, strip = 0, Order.ABCD, "ascii", "\x00", True
    seen: dict[str, int] = {}  # option -> index of the piece that gave it
    for i, raw in enumerate(pieces[1:], start=1):
        word = raw.strip().lower()
        if word.isdecimal() and word.isascii():
            key, length = "length", int(word)
        elif word in _ORDER_NAMES:
            key, order = "order", Order(word)
        elif word in _ENCODINGS and kind is Kind.STRING:
            key, encoding = "encoding", _ENCODINGS[word]
        elif word in _PADS and kind is Kind.STRING:
            key, pad = "pad", _PADS[word]
        elif word == "raw" and kind is Kind.STRING:
            key, strip = "strip", False
        else:
            raise fail(i, f"unknown option {raw!r} for {kind.value}")
        if key in seen:
            raise fail(i, f"{key} given twice")
        seen[key] = i
    if kind in (Kind.BITS, Kind.STRING) and "length" not in seen:
        raise fail(0, f"{kind.value} needs a length ({kind.value}:N)")
    try:
        return DataType(kind=kind, order=order, length=length, encoding=encoding, pad=pad, strip=strip)
    except EncodeError as err:
        raise fail(seen.get("length", 0), err.reason) from None


def _resolve(kind: str | DataType, order: Order | None) -> DataType:
    dt = parse_type(kind) if isinstance(kind, str) else kind
    if order is not None and order is not dt.order:
        # An explicit argument overrides the order in the spec.
        dt = DataType(kind=dt.kind, order=order, length=dt.length, encoding=dt.encoding,
                      pad=dt.pad, strip=dt.strip)
    return dt


# --- canonical image <-> wire registers --------------------------------------

def _to_registers(image: bytes, order: Order) -> tuple[int, ...]:
    regs: tuple[int, ...] = _regs_struct(len(image) // 2, order.byte_swap).unpack(image)
    return regs[::-1] if order.word_swap else regs


def _wire_offset(index: int, count: int, order: Order) -> int:
    """Wire byte offset of byte ``index`` of a ``count``-register canonical image."""
    word, byte = divmod(index, 2)
    if order.word_swap:
        word = count - 1 - word
    if order.byte_swap:
        byte = 1 - byte
    return 2 * word + byte


def _to_image(dt: DataType, registers: Sequence[int]) -> bytes:
    count = dt.registers
    if len(registers) < count:
        raise TruncatedError(PROTOCOL, ("registers",), 2 * len(registers),
                             f"{dt} needs {count} registers, got {len(registers)}")
    if len(registers) > count:
        raise TrailingDataError(PROTOCOL, ("registers",), 2 * count,
                                f"{dt} needs {count} registers, got {len(registers)}")
    for i, reg in enumerate(registers):
        if not isinstance(reg, int) or isinstance(reg, bool) or not 0 <= reg <= 0xFFFF:
            raise DecodeError(PROTOCOL, ("registers", i), 2 * i,
                              f"register value must be an int 0..65535, not {reg!r}")
    regs = registers[::-1] if dt.order.word_swap else registers
    return _regs_struct(count, dt.order.byte_swap).pack(*regs)


# --- float32 with exact NaN bits ---------------------------------------------
# struct's 'f' widens/narrows with a C cast, which sets the quiet bit of a
# signalling NaN; NaNs therefore go through their bit patterns by hand
# (IEEE 754 binary32 -> binary64: the 23-bit payload becomes the top of the 52).

def _f32_bits(value: float) -> int:
    if math.isnan(value):
        bits64: int = _F64_BITS.unpack(_F64.pack(value))[0]
        payload = (bits64 >> 29) & 0x7FFFFF
        if payload == 0:  # the payload lived only in bits binary32 drops: stay a NaN
            payload = 0x400000
        return ((bits64 >> 32) & 0x80000000) | 0x7F800000 | payload
    bits32: int = struct.unpack(">I", _F32.pack(value))[0]
    return bits32


def _f32_value(bits: int) -> float:
    if bits & 0x7F800000 == 0x7F800000 and bits & 0x7FFFFF:
        bits64 = ((bits & 0x80000000) << 32) | 0x7FF0000000000000 | ((bits & 0x7FFFFF) << 29)
        nan: float = _F64.unpack(_F64_BITS.pack(bits64))[0]
        return nan
    value: float = _F32.unpack(struct.pack(">I", bits))[0]
    return value


# --- encode -------------------------------------------------------------------

def encode_value(kind: str | DataType, value: Value | Sequence[bool],
                 order: Order | None = None) -> tuple[int, ...]:
    """Encode ``value`` as registers of type ``kind`` (a spec string or DataType).

    ``order``, when given, overrides the order of ``kind``. Raises
    ``EncodeError`` (path ``("value", ...)``) for a value of the wrong Python
    type or outside the range of the type.
    """
    dt = _resolve(kind, order)
    return _to_registers(_encode_image(dt, value), dt.order)


def _bad(reason: str, *path: str | int) -> EncodeError:
    return EncodeError(PROTOCOL, ("value", *path), reason)


def _encode_image(dt: DataType, value: Value | Sequence[bool]) -> bytes:
    k = dt.kind
    if k in _INT_RANGE or k in _BCD_DIGITS:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _bad(f"{dt} needs an int, not {type(value).__name__}")
        if k in _INT_RANGE:
            lo, hi = _INT_RANGE[k]
            if not lo <= value <= hi:
                raise _bad(f"{value} is outside {dt} range {lo}..{hi}")
            return _NUMERIC[k].pack(value)
        digits = _BCD_DIGITS[k]
        if not 0 <= value < 10**digits:
            raise _bad(f"{value} is outside {dt} range 0..{10**digits - 1}")
        # The decimal digits read as hex digits are exactly the BCD nibbles.
        return int(str(value), 16).to_bytes(digits // 2, "big")
    if k in (Kind.FLOAT32, Kind.FLOAT64):
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise _bad(f"{dt} needs a float, not {type(value).__name__}")
        try:
            f = float(value)
            return _NUMERIC[k].pack(_f32_bits(f)) if k is Kind.FLOAT32 else _F64.pack(f)
        except (OverflowError, struct.error):
            raise _bad(f"{value!r} is too large for {dt}") from None
    if k is Kind.BITS:
        return _encode_bits(dt, value)
    return _encode_string(dt, value)


def _encode_bits(dt: DataType, value: Value | Sequence[bool]) -> bytes:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _bad(f"{dt} needs a sequence of {dt.length} bools, not {type(value).__name__}")
    if len(value) != dt.length:
        raise _bad(f"{dt} needs exactly {dt.length} bits, got {len(value)}")
    regs = [0] * dt.registers
    for i, bit in enumerate(value):
        if bit not in (0, 1) or not isinstance(bit, int):
            raise _bad(f"bit must be a bool (or 0/1), not {bit!r}", i)
        if bit:
            regs[i >> 4] |= 1 << (i & 15)
    return _regs_struct(len(regs), False).pack(*regs)


def _encode_string(dt: DataType, value: Value | Sequence[bool]) -> bytes:
    if not isinstance(value, str):
        raise _bad(f"{dt} needs a str, not {type(value).__name__}")
    if len(value) > dt.length:
        raise _bad(f"{len(value)} characters do not fit {dt}")
    try:
        raw = value.encode(dt.encoding)
    except UnicodeEncodeError as err:
        raise _bad(f"{value[err.start]!r} is not {dt.encoding}", err.start) from None
    # Pad to the declared length; an odd length leaves one spare byte, sent as NUL.
    raw += dt.pad.encode("ascii") * (dt.length - len(raw))
    return raw + b"\x00" * (2 * dt.registers - len(raw))


# --- decode -------------------------------------------------------------------

def decode_value(kind: str | DataType, registers: Sequence[int], order: Order | None = None) -> Value:
    """Decode ``registers`` (wire order, each 0..65535) as a value of type ``kind``.

    ``order``, when given, overrides the order of ``kind``. Returns an int
    (integers, BCD), float, str (strings) or tuple of bools (bits). Raises
    ``DecodeError`` (see the module docstring) and nothing else.
    """
    dt = _resolve(kind, order)
    image = _to_image(dt, registers)
    k = dt.kind
    if k is Kind.FLOAT32:
        return _f32_value(_NUMERIC[k].unpack(image)[0])
    if k in _NUMERIC:
        number: int | float = _NUMERIC[k].unpack(image)[0]
        return number
    if k in _BCD_DIGITS:
        return _decode_bcd(dt, image)
    if k is Kind.BITS:
        words = _regs_struct(dt.registers, False).unpack(image)
        return tuple(bool(words[i >> 4] >> (i & 15) & 1) for i in range(dt.length))
    return _decode_string(dt, image)


def _decode_bcd(dt: DataType, image: bytes) -> int:
    digits = image.hex()
    if not digits.isdecimal():
        bad = next(i for i, c in enumerate(digits) if not c.isdecimal())
        offset = _wire_offset(bad // 2, dt.registers, dt.order)
        raise DecodeError(PROTOCOL, ("registers", offset // 2), offset,
                          f"BCD nibble 0x{digits[bad]} is not a decimal digit")
    return int(digits)


def _decode_string(dt: DataType, image: bytes) -> str:
    raw = image[:dt.length]  # an odd length's spare byte is ignored
    try:
        text = raw.decode(dt.encoding)
    except UnicodeDecodeError as err:
        offset = _wire_offset(err.start, dt.registers, dt.order)
        raise DecodeError(PROTOCOL, ("registers", offset // 2), offset,
                          f"byte 0x{raw[err.start]:02x} is not {dt.encoding}") from None
    return text.rstrip("\x00 ") if dt.strip else text
