"""Information elements and objects of the type identifications used with 104 (101 7.3, 104 clause 9).

Each type identification's object is a run of *fields* (101 7.2.6: SIQ,
DIQ, QDS, NVA, ...); a field is one or more octets and gives one or more of
the object's elements (:data:`~.messages.ELEMENTS`). :data:`LAYOUTS` maps a
type identification to its fields; :func:`decode_objects` and
:func:`encode_objects` run them. A field's decoder reads ``data`` at an
offset and returns its values in its names' order; its encoder takes the
element values and returns its octets, raising :class:`ValueError` with a
sentence for a value out of its range (the caller adds protocol and path).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from wireproof.codecs.iec104.constants import TypeId
from wireproof.codecs.iec104.messages import Cp24Time2a, Cp56Time2a, InformationObject, Quality

__all__ = ["LAYOUTS", "Field", "decode_cp16", "decode_cp56", "encode_cp56", "object_size"]

Decoder = Callable[[bytes, int], tuple[Any, ...]]
Encoder = Callable[[dict[str, Any]], bytes]

# Quality values by octet, made once (an IntFlag call per object costs more than the object).
_QUALITY: Final = tuple(Quality(q & 0xF9) for q in range(256))

_OCTET: Final = tuple(bytes((i,)) for i in range(256))
_U16 = struct.Struct("<H")
_I16 = struct.Struct("<h")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_F32 = struct.Struct("<f")


class Field:
    """One information element (or a few packed into one octet): size, names, decoder, encoder."""

    __slots__ = ("decode", "encode", "names", "size")

    def __init__(self, size: int, names: tuple[str, ...], decode: Decoder, encode: Encoder) -> None:
        self.size = size
        self.names = names
        self.decode = decode
        self.encode = encode


def _int_range(name: str, value: Any, lo: int, hi: int) -> int:
    if type(value) is int and lo <= value <= hi:
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int in {lo}..{hi}, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} {value} is outside {lo}..{hi}")
    return value


def _flag(name: str, value: Any) -> int:
    if value is True:
        return 1
    if value is False:
        return 0
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise ValueError(f"{name} must be a bool, not {value!r}")
    return int(value)


def _quality_octet(value: Any, allowed: int) -> int:
    if type(value) is Quality or type(value) is int:
        q = int(value)
        if 0 <= q <= 255 and not q & ~allowed:
            return q
    q = _int_range("quality", int(value) if isinstance(value, Quality) else value, 0, 255)
    if q & ~allowed:
        raise ValueError(f"quality 0x{q:02x} has bits this descriptor does not define "
                         f"(allowed 0x{allowed:02x})")
    return q


# --- the fields --------------------------------------------------------------------------------

def _siq_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o]
    return bool(b & 1), _QUALITY[b & 0xF0]


def _siq_enc(e: dict[str, Any]) -> bytes:
    return _OCTET[_flag("value", e["value"]) | _quality_octet(e["quality"], 0xF0)]


def _diq_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o]
    return b & 3, _QUALITY[b & 0xF0]


def _diq_enc(e: dict[str, Any]) -> bytes:
    return _OCTET[_int_range("value", e["value"], 0, 3) | _quality_octet(e["quality"], 0xF0)]


def _qds_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (_QUALITY[d[o] & 0xF1],)


def _qds_enc(e: dict[str, Any]) -> bytes:
    return _OCTET[_quality_octet(e["quality"], 0xF1)]


def _qdp_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (_QUALITY[d[o] & 0xF8],)


def _qdp_enc(e: dict[str, Any]) -> bytes:
    return _OCTET[_quality_octet(e["quality"], 0xF8)]


def _vti_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o]
    value = b & 0x7F
    return (value - 128 if value & 0x40 else value), bool(b & 0x80)


def _vti_enc(e: dict[str, Any]) -> bytes:
    return _OCTET[(_int_range("value", e["value"], -64, 63) & 0x7F) | _flag("transient", e["transient"]) << 7]


def _u32_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (_U32.unpack_from(d, o)[0],)


def _u32_enc(e: dict[str, Any]) -> bytes:
    return _U32.pack(_int_range("value", e["value"], 0, 0xFFFFFFFF))


def _nva_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (_I16.unpack_from(d, o)[0] / 32768.0,)


def _nva_enc(e: dict[str, Any]) -> bytes:
    x = e["value"]
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ValueError(f"value must be a float in -1.0..1-2**-15, not {x!r}")
    raw = round(x * 32768.0)
    if not -32768 <= raw <= 32767 or raw / 32768.0 != x:
        raise ValueError(f"normalized value {x!r} is not a multiple of 2**-15 in -1.0..1-2**-15")
    return _I16.pack(raw)


def _sva_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (_I16.unpack_from(d, o)[0],)


def _sva_enc(e: dict[str, Any]) -> bytes:
    return _I16.pack(_int_range("value", e["value"], -32768, 32767))


def _r32_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (_F32.unpack_from(d, o)[0],)


def _r32_enc(e: dict[str, Any]) -> bytes:
    x = e["value"]
    if isinstance(x, bool) or not isinstance(x, int | float):
        raise ValueError(f"value must be a float, not {x!r}")
    try:
        return _F32.pack(x)
    except OverflowError:
        raise ValueError(f"value {x!r} does not fit a short floating point number") from None


def _bcr_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o + 4]
    return _I32.unpack_from(d, o)[0], b & 0x1F, bool(b & 0x20), bool(b & 0x40), bool(b & 0x80)


def _bcr_enc(e: dict[str, Any]) -> bytes:
    return _I32.pack(_int_range("value", e["value"], -(1 << 31), (1 << 31) - 1)) + _OCTET[
        _int_range("sequence", e["sequence"], 0, 31) | _flag("carry", e["carry"]) << 5
        | _flag("adjusted", e["adjusted"]) << 6 | _flag("invalid", e["invalid"]) << 7]


def _scd_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return _U16.unpack_from(d, o)[0], _U16.unpack_from(d, o + 2)[0]


def _scd_enc(e: dict[str, Any]) -> bytes:
    return (_U16.pack(_int_range("status", e["status"], 0, 0xFFFF))
            + _U16.pack(_int_range("change", e["change"], 0, 0xFFFF)))


def decode_cp56(d: bytes, o: int) -> Cp56Time2a:
    """CP56Time2a at ``o`` (IEC 60870-5-4 6.8); reserved bits ignored."""
    ms = d[o] | d[o + 1] << 8
    b2, b3, b4, b5, b6 = d[o + 2], d[o + 3], d[o + 4], d[o + 5], d[o + 6]
    return Cp56Time2a(milliseconds=ms, minute=b2 & 0x3F, hour=b3 & 0x1F, day=b4 & 0x1F, month=b5 & 0x0F,
                      year=b6 & 0x7F, weekday=b4 >> 5, invalid=bool(b2 & 0x80), summer=bool(b3 & 0x80),
                      substituted=bool(b2 & 0x40))


def encode_cp56(t: Any) -> bytes:
    """The seven octets of a :class:`Cp56Time2a`; ValueError for a field out of its range."""
    if not isinstance(t, Cp56Time2a):
        raise ValueError(f"time must be a Cp56Time2a, not {type(t).__name__}")
    ms = _int_range("milliseconds", t.milliseconds, 0, 59999)
    return bytes((ms & 0xFF, ms >> 8,
                  _int_range("minute", t.minute, 0, 59) | _flag("substituted", t.substituted) << 6
                  | _flag("invalid", t.invalid) << 7,
                  _int_range("hour", t.hour, 0, 23) | _flag("summer", t.summer) << 7,
                  _int_range("day", t.day, 1, 31) | _int_range("weekday", t.weekday, 0, 7) << 5,
                  _int_range("month", t.month, 1, 12),
                  _int_range("year", t.year, 0, 99)))


def _cp24_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b2 = d[o + 2]
    return (Cp24Time2a(milliseconds=d[o] | d[o + 1] << 8, minute=b2 & 0x3F, invalid=bool(b2 & 0x80),
                       substituted=bool(b2 & 0x40)),)


def _cp24_enc(e: dict[str, Any]) -> bytes:
    t = e["time"]
    if not isinstance(t, Cp24Time2a):
        raise ValueError(f"time must be a Cp24Time2a, not {type(t).__name__}")
    ms = _int_range("milliseconds", t.milliseconds, 0, 59999)
    return bytes((ms & 0xFF, ms >> 8, _int_range("minute", t.minute, 0, 59)
                  | _flag("substituted", t.substituted) << 6 | _flag("invalid", t.invalid) << 7))


def _cp56_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (decode_cp56(d, o),)


def _cp56_enc(e: dict[str, Any]) -> bytes:
    return encode_cp56(e["time"])


def decode_cp16(d: bytes, o: int) -> int:
    """CP16Time2a at ``o``: milliseconds 0..59999 (IEC 60870-5-4 6.8)."""
    return d[o] | d[o + 1] << 8


def _cp16_dec(d: bytes, o: int) -> tuple[Any, ...]:
    return (d[o] | d[o + 1] << 8,)


def _cp16_enc(name: str) -> Encoder:
    def enc(e: dict[str, Any]) -> bytes:
        return _U16.pack(_int_range(name, e[name], 0, 59999))
    return enc


def _sep_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o]
    return b & 3, _QUALITY[b & 0xF8]


def _sep_enc(e: dict[str, Any]) -> bytes:
    return _OCTET[_int_range("event", e["event"], 0, 3) | _quality_octet(e["quality"], 0xF8)]


def _sco_dec(d: bytes, o: int) -> tuple[Any, ...]:
    # (no `bool(...) if ... else int`: compiled, mypyc joins the two to an int and True arrives as 1)
    b = d[o]
    return bool(b & 1), (b >> 2) & 0x1F, bool(b & 0x80)


def _dco_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o]
    return b & 3, (b >> 2) & 0x1F, bool(b & 0x80)


def _cmd_enc(mask: int) -> Encoder:
    def enc(e: dict[str, Any]) -> bytes:
        value = _flag("value", e["value"]) if mask == 1 else _int_range("value", e["value"], 0, 3)
        qualifier = _int_range("qualifier", e["qualifier"], 0, 31)
        return _OCTET[value | qualifier << 2 | _flag("select", e["select"]) << 7]
    return enc


def _qos_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o]
    return b & 0x7F, bool(b & 0x80)


def _qos_enc(e: dict[str, Any]) -> bytes:
    return _OCTET[_int_range("qualifier", e["qualifier"], 0, 127) | _flag("select", e["select"]) << 7]


def _coi_dec(d: bytes, o: int) -> tuple[Any, ...]:
    b = d[o]
    return b & 0x7F, bool(b & 0x80)


def _coi_enc(e: dict[str, Any]) -> bytes:
    changed = _flag("parameters_changed", e["parameters_changed"])
    return _OCTET[_int_range("coi", e["coi"], 0, 127) | changed << 7]


def _octet(name: str) -> Field:
    def dec(d: bytes, o: int) -> tuple[Any, ...]:
        return (d[o],)

    def enc(e: dict[str, Any]) -> bytes:
        return _OCTET[_int_range(name, e[name], 0, 255)]
    return Field(1, (name,), dec, enc)


def _u16(name: str) -> Field:
    def dec(d: bytes, o: int) -> tuple[Any, ...]:
        return (d[o] | d[o + 1] << 8,)

    def enc(e: dict[str, Any]) -> bytes:
        return _U16.pack(_int_range(name, e[name], 0, 0xFFFF))
    return Field(2, (name,), dec, enc)


def _u24(name: str) -> Field:
    def dec(d: bytes, o: int) -> tuple[Any, ...]:
        return (d[o] | d[o + 1] << 8 | d[o + 2] << 16,)

    def enc(e: dict[str, Any]) -> bytes:
        return _int_range(name, e[name], 0, 0xFFFFFF).to_bytes(3, "little")
    return Field(3, (name,), dec, enc)


SIQ: Final = Field(1, ("value", "quality"), _siq_dec, _siq_enc)
DIQ: Final = Field(1, ("value", "quality"), _diq_dec, _diq_enc)
QDS: Final = Field(1, ("quality",), _qds_dec, _qds_enc)
QDP: Final = Field(1, ("quality",), _qdp_dec, _qdp_enc)
VTI: Final = Field(1, ("value", "transient"), _vti_dec, _vti_enc)
BSI: Final = Field(4, ("value",), _u32_dec, _u32_enc)
NVA: Final = Field(2, ("value",), _nva_dec, _nva_enc)
SVA: Final = Field(2, ("value",), _sva_dec, _sva_enc)
R32: Final = Field(4, ("value",), _r32_dec, _r32_enc)
BCR: Final = Field(5, ("value", "sequence", "carry", "adjusted", "invalid"), _bcr_dec, _bcr_enc)
SCD: Final = Field(4, ("status", "change"), _scd_dec, _scd_enc)
TIME: Final = Field(7, ("time",), _cp56_dec, _cp56_enc)
TIME24: Final = Field(3, ("time",), _cp24_dec, _cp24_enc)
SEP: Final = Field(1, ("event", "quality"), _sep_dec, _sep_enc)
SCO: Final = Field(1, ("value", "qualifier", "select"), _sco_dec, _cmd_enc(1))
DCO: Final = Field(1, ("value", "qualifier", "select"), _dco_dec, _cmd_enc(3))
QOS: Final = Field(1, ("qualifier", "select"), _qos_dec, _qos_enc)
COI: Final = Field(1, ("coi", "parameters_changed"), _coi_dec, _coi_enc)


def _cp16(name: str) -> Field:
    return Field(2, (name,), _cp16_dec, _cp16_enc(name))


def _time(name: str) -> Field:
    def enc(e: dict[str, Any]) -> bytes:
        return encode_cp56(e[name])
    return Field(7, (name,), _cp56_dec, enc)


_T = TypeId
# Each type identification's fields in wire order (101 7.3.1-7.3.4, 104 clause 9). F_SG_NA_1's
# segment is the one variable-size element (decode_objects handles it).
LAYOUTS: Final[dict[int, tuple[Field, ...]]] = {
    _T.M_SP_NA_1: (SIQ,), _T.M_DP_NA_1: (DIQ,), _T.M_ST_NA_1: (VTI, QDS), _T.M_BO_NA_1: (BSI, QDS),
    _T.M_ME_NA_1: (NVA, QDS), _T.M_ME_NB_1: (SVA, QDS), _T.M_ME_NC_1: (R32, QDS),
    _T.M_IT_NA_1: (BCR,), _T.M_PS_NA_1: (SCD, QDS), _T.M_ME_ND_1: (NVA,),
    _T.M_SP_TB_1: (SIQ, TIME), _T.M_DP_TB_1: (DIQ, TIME), _T.M_ST_TB_1: (VTI, QDS, TIME),
    _T.M_BO_TB_1: (BSI, QDS, TIME), _T.M_ME_TD_1: (NVA, QDS, TIME), _T.M_ME_TE_1: (SVA, QDS, TIME),
    _T.M_ME_TF_1: (R32, QDS, TIME), _T.M_IT_TB_1: (BCR, TIME),
    _T.M_EP_TD_1: (SEP, _cp16("elapsed"), TIME),
    _T.M_EP_TE_1: (_octet("start"), QDP, _cp16("duration"), TIME),
    _T.M_EP_TF_1: (_octet("circuit"), QDP, _cp16("operating"), TIME),
    _T.C_SC_NA_1: (SCO,), _T.C_DC_NA_1: (DCO,), _T.C_RC_NA_1: (DCO,),
    _T.C_SE_NA_1: (NVA, QOS), _T.C_SE_NB_1: (SVA, QOS), _T.C_SE_NC_1: (R32, QOS), _T.C_BO_NA_1: (BSI,),
    _T.C_SC_TA_1: (SCO, TIME), _T.C_DC_TA_1: (DCO, TIME), _T.C_RC_TA_1: (DCO, TIME),
    _T.C_SE_TA_1: (NVA, QOS, TIME), _T.C_SE_TB_1: (SVA, QOS, TIME), _T.C_SE_TC_1: (R32, QOS, TIME),
    _T.C_BO_TA_1: (BSI, TIME),
    _T.M_SP_TA_1: (SIQ, TIME24), _T.M_DP_TA_1: (DIQ, TIME24), _T.M_ST_TA_1: (VTI, QDS, TIME24),
    _T.M_BO_TA_1: (BSI, QDS, TIME24), _T.M_ME_TA_1: (NVA, QDS, TIME24), _T.M_ME_TB_1: (SVA, QDS, TIME24),
    _T.M_ME_TC_1: (R32, QDS, TIME24), _T.M_IT_TA_1: (BCR, TIME24),
    _T.M_EP_TA_1: (SEP, _cp16("elapsed"), TIME24),
    _T.M_EP_TB_1: (_octet("start"), QDP, _cp16("duration"), TIME24),
    _T.M_EP_TC_1: (_octet("circuit"), QDP, _cp16("operating"), TIME24),
    _T.M_EI_NA_1: (COI,), _T.C_IC_NA_1: (_octet("qoi"),), _T.C_CI_NA_1: (_octet("qcc"),),
    _T.C_RD_NA_1: (), _T.C_CS_NA_1: (TIME,), _T.C_TS_NA_1: (_u16("fbp"),), _T.C_RP_NA_1: (_octet("qrp"),),
    _T.C_CD_NA_1: (_cp16("delay"),), _T.C_TS_TA_1: (_u16("tsc"), TIME),
    _T.P_ME_NA_1: (NVA, _octet("qpm")), _T.P_ME_NB_1: (SVA, _octet("qpm")),
    _T.P_ME_NC_1: (R32, _octet("qpm")), _T.P_AC_NA_1: (_octet("qpa"),),
    _T.F_FR_NA_1: (_u16("nof"), _u24("lof"), _octet("frq")),
    _T.F_SR_NA_1: (_u16("nof"), _octet("nos"), _u24("los"), _octet("srq")),
    _T.F_SC_NA_1: (_u16("nof"), _octet("nos"), _octet("scq")),
    _T.F_LS_NA_1: (_u16("nof"), _octet("nos"), _octet("lsq"), _octet("chs")),
    _T.F_AF_NA_1: (_u16("nof"), _octet("nos"), _octet("afq")),
    _T.F_SG_NA_1: (_u16("nof"), _octet("nos")),  # then LOS (1) and LOS octets of segment
    _T.F_DR_TA_1: (_u16("nof"), _u24("lof"), _octet("sof"), TIME),
    _T.F_SC_NB_1: (_u16("nof"), _time("start"), _time("stop")),
}

SIZES: Final[dict[int, int]] = {t: sum(f.size for f in fields) for t, fields in LAYOUTS.items()}
SEGMENT_TYPE: Final = int(TypeId.F_SG_NA_1)


def object_size(type_id: int) -> int:
    """The octets of one object's elements (without its address); F_SG_NA_1's fixed part only."""
    return SIZES[type_id]


def decode_elements(fields: tuple[Field, ...], data: bytes, offset: int) -> dict[str, Any]:
    """One object's elements from ``data`` at ``offset`` (the caller checked the length)."""
    elements: dict[str, Any] = {}
    for f in fields:
        values = f.decode(data, offset)
        names = f.names
        if len(names) == 1:
            elements[names[0]] = values[0]
        else:
            for i in range(len(names)):
                elements[names[i]] = values[i]
        offset += f.size
    return elements


def encode_elements(type_id: int, obj: InformationObject) -> bytes:
    """One object's element octets; ValueError naming the element for a missing or bad value."""
    elements = obj.elements
    try:
        fields = LAYOUTS[type_id]
        if len(fields) == 1:
            first = fields[0].encode(elements)
            if type_id != SEGMENT_TYPE:
                return first
            out = bytearray(first)
        else:
            out = bytearray()
            for f in fields:
                out += f.encode(elements)
    except KeyError as missing:
        raise ValueError(f"element {missing.args[0]!r} is missing") from None
    if type_id == SEGMENT_TYPE:
        segment = elements.get("segment")
        if not isinstance(segment, bytes | bytearray):
            raise ValueError("element 'segment' must be bytes")
        if len(segment) > 240:
            raise ValueError(f"segment of {len(segment)} octets is longer than 240")
        out.append(len(segment))
        out += segment
    return bytes(out)
