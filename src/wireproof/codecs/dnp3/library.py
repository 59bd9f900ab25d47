"""The DNP3 object library: group/variation layouts (IEEE 1815-2012 clause 11, Annex A tables).

Each entry is a fixed layout — fields of little-endian integers, floats and
48-bit times (DNP3 time: milliseconds since 1970-01-01 UTC, 11.3.1.2) — a
packed-bit layout (1 or 2 bits an object, 4.3.4.3), no body at all (class
data, group 60), or the variable device-attribute layout of group 0
(data type, length, value; 11.9.1). An object header whose group and
variation are not here cannot be delimited, so the decoder stops at it with
an error naming both (never a guess).

Free-format objects (groups 70, 86-88 and 120, behind a size prefix) have
layouts of their own in :mod:`.free_format`; :func:`free_format` knows
which variations exist.

Field codes: ``B`` UINT8, ``H`` UINT16, ``h`` INT16, ``I`` UINT32, ``i``
INT32, ``f`` FLT32, ``d`` FLT64, ``T`` DNP3 time (UINT48), ``s`` an octet
string (groups 110-113: as long as the variation says). Groups 1, 3, 10 and
80 variation 1 and group 12 variation 3 are packed; the flags octet of the
others is 4.3.4 / 11.3's, kept as an integer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs.dnp3.free_format import FREE_LAYOUTS

__all__ = ["ATTRIBUTE_TYPES", "FREE_FORMAT_GROUPS", "LIBRARY", "OCTET_STRING_GROUPS", "ObjectSpec",
           "attribute_value", "free_format", "lookup"]

_STRUCT_CODE: Final = {"B": "B", "H": "H", "h": "h", "I": "I", "i": "i", "f": "f", "d": "d", "T": "IH"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectSpec:
    """One group/variation: its name and layout (see the module docstring)."""

    group: int
    variation: int
    name: str
    fields: tuple[tuple[str, str], ...] = ()
    bits: int = 0  # packed: bits an object (1 or 2); fields empty
    variable: bool = False  # group 0: data type, length, value
    octets: int = 0  # groups 110-113: an octet string as long as the variation number
    free: bool = False  # groups 70, 120 with a size prefix: octets as long as the prefix says
    codec: struct.Struct = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fmt = "<" + "".join(_STRUCT_CODE[code] if code != "s" else f"{self.octets}s"
                            for _, code in self.fields)
        object.__setattr__(self, "codec", struct.Struct(fmt))

    @property
    def size(self) -> int:
        """Octets an object (0 for packed, variable and bodiless objects)."""
        return self.codec.size

    def unpack(self, data: bytes, pos: int) -> dict[str, Any]:
        raw = self.codec.unpack_from(data, pos)
        out: dict[str, Any] = {}
        i = 0
        for name, code in self.fields:
            if code == "T":
                out[name] = raw[i] | raw[i + 1] << 32
                i += 2
            else:
                out[name] = raw[i]
                i += 1
        return out

    def pack(self, values: dict[str, Any]) -> bytes:
        raw: list[Any] = []
        for name, code in self.fields:
            v = values[name]
            if code == "s" and len(v) != self.octets:
                raise struct.error(f"{name} is {len(v)} octets; variation {self.variation} says "
                                   f"{self.octets}")
            if code == "T":
                t = int(v)
                if not 0 <= t < 1 << 48:
                    raise struct.error(f"{name} {t} not in 0..2**48-1")
                raw += [t & 0xFFFFFFFF, t >> 32]
            else:
                raw.append(v)
        return self.codec.pack(*raw)


def _spec(g: int, v: int, name: str, layout: str = "", names: str = "", *, bits: int = 0,
          variable: bool = False) -> ObjectSpec:
    fields = tuple(zip(names.split(), layout, strict=True)) if layout else ()
    return ObjectSpec(group=g, variation=v, name=name, fields=fields, bits=bits, variable=variable)


_FV = "flags value"
_FVT = "flags value time"
_SPECS: Final = (
    # Binary input (11.9.2-11.9.3): static g1, events g2.
    _spec(1, 1, "binary input, packed format", bits=1),
    _spec(1, 2, "binary input with flags", "B", "flags"),
    _spec(2, 1, "binary input event without time", "B", "flags"),
    _spec(2, 2, "binary input event with absolute time", "BT", "flags time"),
    _spec(2, 3, "binary input event with relative time", "BH", "flags time"),
    # Double-bit binary input (11.9.4-11.9.5).
    _spec(3, 1, "double-bit binary input, packed format", bits=2),
    _spec(3, 2, "double-bit binary input with flags", "B", "flags"),
    _spec(4, 1, "double-bit binary input event without time", "B", "flags"),
    _spec(4, 2, "double-bit binary input event with absolute time", "BT", "flags time"),
    _spec(4, 3, "double-bit binary input event with relative time", "BH", "flags time"),
    # Binary output (11.9.6-11.9.9).
    _spec(10, 1, "binary output, packed format", bits=1),
    _spec(10, 2, "binary output status with flags", "B", "flags"),
    _spec(11, 1, "binary output event status without time", "B", "flags"),
    _spec(11, 2, "binary output event status with time", "BT", "flags time"),
    _spec(12, 1, "control relay output block", "BBIIB", "control_code count on_time off_time status"),
    _spec(12, 2, "pattern control block", "BBIIB", "control_code count on_time off_time status"),
    _spec(12, 3, "pattern mask", bits=1),
    _spec(13, 1, "binary output command event without time", "B", "flags"),
    _spec(13, 2, "binary output command event with time", "BT", "flags time"),
    # Counters (11.9.10-11.9.13).
    _spec(20, 1, "counter, 32-bit with flag", "BI", _FV),
    _spec(20, 2, "counter, 16-bit with flag", "BH", _FV),
    _spec(20, 5, "counter, 32-bit without flag", "I", "value"),
    _spec(20, 6, "counter, 16-bit without flag", "H", "value"),
    _spec(21, 1, "frozen counter, 32-bit with flag", "BI", _FV),
    _spec(21, 2, "frozen counter, 16-bit with flag", "BH", _FV),
    _spec(21, 5, "frozen counter, 32-bit with flag and time", "BIT", _FVT),
    _spec(21, 6, "frozen counter, 16-bit with flag and time", "BHT", _FVT),
    _spec(21, 9, "frozen counter, 32-bit without flag", "I", "value"),
    _spec(21, 10, "frozen counter, 16-bit without flag", "H", "value"),
    _spec(22, 1, "counter event, 32-bit with flag", "BI", _FV),
    _spec(22, 2, "counter event, 16-bit with flag", "BH", _FV),
    _spec(22, 5, "counter event, 32-bit with flag and time", "BIT", _FVT),
    _spec(22, 6, "counter event, 16-bit with flag and time", "BHT", _FVT),
    _spec(23, 1, "frozen counter event, 32-bit with flag", "BI", _FV),
    _spec(23, 2, "frozen counter event, 16-bit with flag", "BH", _FV),
    _spec(23, 5, "frozen counter event, 32-bit with flag and time", "BIT", _FVT),
    _spec(23, 6, "frozen counter event, 16-bit with flag and time", "BHT", _FVT),
    # Analog input (11.9.14-11.9.17).
    _spec(30, 1, "analog input, 32-bit with flag", "Bi", _FV),
    _spec(30, 2, "analog input, 16-bit with flag", "Bh", _FV),
    _spec(30, 3, "analog input, 32-bit without flag", "i", "value"),
    _spec(30, 4, "analog input, 16-bit without flag", "h", "value"),
    _spec(30, 5, "analog input, single-precision float with flag", "Bf", _FV),
    _spec(30, 6, "analog input, double-precision float with flag", "Bd", _FV),
    _spec(31, 1, "frozen analog input, 32-bit with flag", "Bi", _FV),
    _spec(31, 2, "frozen analog input, 16-bit with flag", "Bh", _FV),
    _spec(31, 3, "frozen analog input, 32-bit with time of freeze", "BiT", _FVT),
    _spec(31, 4, "frozen analog input, 16-bit with time of freeze", "BhT", _FVT),
    _spec(31, 5, "frozen analog input, 32-bit without flag", "i", "value"),
    _spec(31, 6, "frozen analog input, 16-bit without flag", "h", "value"),
    _spec(31, 7, "frozen analog input, single-precision float with flag", "Bf", _FV),
    _spec(31, 8, "frozen analog input, double-precision float with flag", "Bd", _FV),
    _spec(32, 1, "analog input event, 32-bit without time", "Bi", _FV),
    _spec(32, 2, "analog input event, 16-bit without time", "Bh", _FV),
    _spec(32, 3, "analog input event, 32-bit with time", "BiT", _FVT),
    _spec(32, 4, "analog input event, 16-bit with time", "BhT", _FVT),
    _spec(32, 5, "analog input event, single-precision float without time", "Bf", _FV),
    _spec(32, 6, "analog input event, double-precision float without time", "Bd", _FV),
    _spec(32, 7, "analog input event, single-precision float with time", "BfT", _FVT),
    _spec(32, 8, "analog input event, double-precision float with time", "BdT", _FVT),
    _spec(33, 1, "frozen analog input event, 32-bit without time", "Bi", _FV),
    _spec(33, 2, "frozen analog input event, 16-bit without time", "Bh", _FV),
    _spec(33, 3, "frozen analog input event, 32-bit with time", "BiT", _FVT),
    _spec(33, 4, "frozen analog input event, 16-bit with time", "BhT", _FVT),
    _spec(33, 5, "frozen analog input event, single-precision float without time", "Bf", _FV),
    _spec(33, 6, "frozen analog input event, double-precision float without time", "Bd", _FV),
    _spec(33, 7, "frozen analog input event, single-precision float with time", "BfT", _FVT),
    _spec(33, 8, "frozen analog input event, double-precision float with time", "BdT", _FVT),
    _spec(34, 1, "analog input deadband, 16-bit", "H", "value"),
    _spec(34, 2, "analog input deadband, 32-bit", "I", "value"),
    _spec(34, 3, "analog input deadband, single-precision float", "f", "value"),
    # Analog output (11.9.20-11.9.23).
    _spec(40, 1, "analog output status, 32-bit with flag", "Bi", _FV),
    _spec(40, 2, "analog output status, 16-bit with flag", "Bh", _FV),
    _spec(40, 3, "analog output status, single-precision float with flag", "Bf", _FV),
    _spec(40, 4, "analog output status, double-precision float with flag", "Bd", _FV),
    _spec(41, 1, "analog output, 32-bit", "iB", "value status"),
    _spec(41, 2, "analog output, 16-bit", "hB", "value status"),
    _spec(41, 3, "analog output, single-precision float", "fB", "value status"),
    _spec(41, 4, "analog output, double-precision float", "dB", "value status"),
    _spec(42, 1, "analog output event, 32-bit without time", "Bi", _FV),
    _spec(42, 2, "analog output event, 16-bit without time", "Bh", _FV),
    _spec(42, 3, "analog output event, 32-bit with time", "BiT", _FVT),
    _spec(42, 4, "analog output event, 16-bit with time", "BhT", _FVT),
    _spec(42, 5, "analog output event, single-precision float without time", "Bf", _FV),
    _spec(42, 6, "analog output event, double-precision float without time", "Bd", _FV),
    _spec(42, 7, "analog output event, single-precision float with time", "BfT", _FVT),
    _spec(42, 8, "analog output event, double-precision float with time", "BdT", _FVT),
    _spec(43, 1, "analog output command event, 32-bit", "Bi", "status value"),
    _spec(43, 2, "analog output command event, 16-bit", "Bh", "status value"),
    _spec(43, 3, "analog output command event, 32-bit with time", "BiT", "status value time"),
    _spec(43, 4, "analog output command event, 16-bit with time", "BhT", "status value time"),
    _spec(43, 5, "analog output command event, single-precision float", "Bf", "status value"),
    _spec(43, 6, "analog output command event, double-precision float", "Bd", "status value"),
    _spec(43, 7, "analog output command event, single-precision float with time", "BfT",
          "status value time"),
    _spec(43, 8, "analog output command event, double-precision float with time", "BdT",
          "status value time"),
    # Time and date (11.9.24-11.9.26).
    _spec(50, 1, "time and date, absolute time", "T", "time"),
    _spec(50, 2, "time and date, absolute time and interval", "TI", "time interval"),
    _spec(50, 3, "time and date, absolute time at last recorded time", "T", "time"),
    _spec(50, 4, "time and date, indexed absolute time and long interval", "TIB", "time interval units"),
    _spec(51, 1, "time and date CTO, absolute time, synchronized", "T", "time"),
    _spec(51, 2, "time and date CTO, absolute time, unsynchronized", "T", "time"),
    _spec(52, 1, "time delay, coarse (seconds)", "H", "delay"),
    _spec(52, 2, "time delay, fine (milliseconds)", "H", "delay"),
    # Class objects (11.9.27): object headers with no bodies.
    _spec(60, 1, "class 0 data"),
    _spec(60, 2, "class 1 data"),
    _spec(60, 3, "class 2 data"),
    _spec(60, 4, "class 3 data"),
    # Internal indications (11.9.35): one bit an IIN, index 0 = IIN1.0.
    _spec(80, 1, "internal indications, packed format", bits=1),
    # Data set characteristics (A.41.2): one octet of flags, by data set identifier (the index).
    _spec(86, 2, "data set descriptor, characteristics", "B", "characteristics"),
    # Secure authentication's fixed-size objects (A.45.3, A.45.4), sent with a count (0x07).
    _spec(120, 3, "authentication, aggressive mode request", "IH", "csq user"),
    _spec(120, 4, "authentication, session key status request", "H", "user"),
)

LIBRARY: Final[dict[tuple[int, int], ObjectSpec]] = {(s.group, s.variation): s for s in _SPECS}

_DEVICE_ATTRIBUTE: Final = ObjectSpec(group=0, variation=0, name="device attribute", variable=True)
# 11.9.30-11.9.33: octet strings (static g110, events g111) and virtual terminal output/event
# blocks (g112, g113): the variation is the length in octets, 1..255.
OCTET_STRING_GROUPS: Final = {110: "octet string", 111: "octet string event",
                              112: "virtual terminal output block", 113: "virtual terminal event data"}
_OCTETS: Final = {(g, v): ObjectSpec(group=g, variation=v, name=f"{name}, {v} octets",
                                     fields=(("value", "s"),), octets=v)
                  for g, name in OCTET_STRING_GROUPS.items() for v in range(1, 256)}


# Annex A.36 (file-control, group 70), A.41-A.43 (data sets, groups 86-88) and A.45 (secure
# authentication, group 120): free-format objects, each preceded by a size prefix (qualifier 0x5B),
# which delimits them; :mod:`.free_format` decodes their fields.
FREE_FORMAT_GROUPS: Final = {70: "file-control", 86: "data set descriptor", 87: "data set",
                             88: "data set event", 120: "authentication"}
_FREE: Final = {(g, v): ObjectSpec(group=g, variation=v, name=f"{FREE_FORMAT_GROUPS[g]}, free-format",
                                   free=True) for g, v in (*FREE_LAYOUTS, (70, 1))}


def free_format(group: int, variation: int) -> ObjectSpec | None:
    """The size-prefixed free-format layout of ``group``/``variation`` (:mod:`.free_format`), or ``None``."""
    return _FREE.get((group, variation))


def lookup(group: int, variation: int) -> ObjectSpec | None:
    """The layout of ``group``/``variation``, or ``None`` if the library does not have it.

    Every group 0 variation but 0 is a device attribute (11.9.1): data type, length, value.
    Groups 110-113 variation N are octet strings of N octets.
    """
    if group == 0:
        return _DEVICE_ATTRIBUTE if variation else None
    return LIBRARY.get((group, variation)) or _OCTETS.get((group, variation))


# 11.9.1: device attribute data type codes: what an attribute's octets mean.
ATTRIBUTE_TYPES: Final = {1: "VSTR", 2: "UINT", 3: "INT", 4: "FLT", 5: "OSTR", 6: "BSTR", 7: "TIME",
                          254: "U8BS8LIST", 255: "U8BS8EXLIST"}


def attribute_value(data_type: int, value: bytes) -> str | int | float | bytes | tuple[tuple[int, int], ...]:
    """The value of a device attribute (group 0) as its data type says (IEEE 1815-2012 11.9.1).

    VSTR is text (decoded as UTF-8 with replacement: the standard says visible ASCII, devices vary),
    UINT/INT little-endian integers of 1..4 octets, FLT a 4- or 8-octet float, TIME a DNP3 time, the
    lists (variation 255's answer) (attribute variation, properties) pairs; OSTR, BSTR and unknown
    types stay octets. ``ValueError`` if the length does not fit the type.
    """
    n = len(value)
    if data_type == 1:
        return value.decode("utf-8", "replace")
    if data_type in (2, 3):
        if not 1 <= n <= 4:
            raise ValueError(f"{ATTRIBUTE_TYPES[data_type]} of {n} octets (1..4)")
        return int.from_bytes(value, "little", signed=data_type == 3)
    if data_type == 4:
        if n not in (4, 8):
            raise ValueError(f"FLT of {n} octets (4 or 8)")
        result: float = struct.unpack("<f" if n == 4 else "<d", value)[0]
        return result
    if data_type == 7:
        if n != 6:
            raise ValueError(f"TIME of {n} octets (6)")
        return int.from_bytes(value, "little")
    if data_type in (254, 255):
        if n % 2:
            raise ValueError(f"{ATTRIBUTE_TYPES[data_type]} of an odd number of octets ({n})")
        return tuple((value[i], value[i + 1]) for i in range(0, n, 2))
    return bytes(value)
