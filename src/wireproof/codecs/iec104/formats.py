"""IEC 104 as declarative Construct definitions: the oracle of the hand-written codec (:mod:`.codec`).

The wire layout of the APCI (104 5.1-5.3), the data unit identifier (101
7.2, field sizes from :class:`~.constants.FieldSizes`) and every
information element (101 7.2.6) is written here as Construct structures,
independently of :mod:`.objects`; a little glue turns their containers into
the shared messages and back. :func:`decode_apdu_declarative` and
:func:`encode_apdu_declarative` are what the differential tests compare the
fast path with (values, octets, and that both refuse the same input), and
what ``Iec104Codec.decode_declarative`` runs. Slow by design: correctness,
not speed.

Reserved bits are skipped on parsing and written as 0 (``Padding``), as the
fast path does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import construct as c

from wireproof.codecs._core import construct_parse
from wireproof.codecs.iec104.constants import IEC104_SIZES, Cause, FieldSizes, TypeId, UFunction
from wireproof.codecs.iec104.messages import (
    Apdu,
    Asdu,
    Cp24Time2a,
    Cp56Time2a,
    IFrame,
    InformationObject,
    Quality,
    SFrame,
    UFrame,
)
from wireproof.errors import DecodeError, EncodeError

__all__ = ["decode_apdu_declarative", "decode_asdu_declarative", "encode_apdu_declarative",
           "encode_asdu_declarative"]

PROTOCOL: Final = "iec104"

# --- information elements (101 7.2.6), bit fields most significant first -----------------------------

SIQ = c.BitStruct("q" / c.BitsInteger(4), c.Padding(3), "spi" / c.Flag)
DIQ = c.BitStruct("q" / c.BitsInteger(4), c.Padding(2), "dpi" / c.BitsInteger(2))
QDS = c.BitStruct("q" / c.BitsInteger(4), c.Padding(3), "ov" / c.Flag)
QDP = c.BitStruct("q" / c.BitsInteger(4), "ei" / c.Flag, c.Padding(3))
SEP = c.BitStruct("q" / c.BitsInteger(4), "ei" / c.Flag, c.Padding(1), "es" / c.BitsInteger(2))
VTI = c.BitStruct("transient" / c.Flag, "value" / c.BitsInteger(7, signed=True))
BCR = c.Struct("value" / c.Int32sl, "f" / c.BitStruct("iv" / c.Flag, "ca" / c.Flag, "cy" / c.Flag,
                                                    "sq" / c.BitsInteger(5)))
SCO = c.BitStruct("se" / c.Flag, "qu" / c.BitsInteger(5), c.Padding(1), "scs" / c.Flag)
DCO = c.BitStruct("se" / c.Flag, "qu" / c.BitsInteger(5), "dcs" / c.BitsInteger(2))
QOS = c.BitStruct("se" / c.Flag, "ql" / c.BitsInteger(7))
COI = c.BitStruct("bs1" / c.Flag, "coi" / c.BitsInteger(7))
CP56 = c.Struct(
    "ms" / c.Int16ul,
    "m" / c.BitStruct("iv" / c.Flag, "res1" / c.Flag, "minute" / c.BitsInteger(6)),
    "h" / c.BitStruct("su" / c.Flag, c.Padding(2), "hour" / c.BitsInteger(5)),
    "d" / c.BitStruct("weekday" / c.BitsInteger(3), "day" / c.BitsInteger(5)),
    "mo" / c.BitStruct(c.Padding(4), "month" / c.BitsInteger(4)),
    "y" / c.BitStruct(c.Padding(1), "year" / c.BitsInteger(7)),
)


CP24 = c.Struct("ms" / c.Int16ul,
                "m" / c.BitStruct("iv" / c.Flag, "res1" / c.Flag, "minute" / c.BitsInteger(6)))


def _cp24_build(t: Any) -> dict[str, Any]:
    if not isinstance(t, Cp24Time2a):
        raise EncodeError(PROTOCOL, ("time",), f"time must be a Cp24Time2a, not {type(t).__name__}")
    if not 0 <= t.milliseconds <= 59999 or not 0 <= t.minute <= 59:
        raise EncodeError(PROTOCOL, ("time",), "milliseconds 0..59999, minute 0..59")
    return {"ms": t.milliseconds, "m": {"iv": t.invalid, "res1": t.substituted, "minute": t.minute}}


def _cp56_value(x: Any) -> Cp56Time2a:
    return Cp56Time2a(milliseconds=x.ms, minute=x.m.minute, hour=x.h.hour, day=x.d.day, month=x.mo.month,
                      year=x.y.year, weekday=x.d.weekday, invalid=x.m.iv, summer=x.h.su, substituted=x.m.res1)


def _cp56_build(t: Cp56Time2a) -> dict[str, Any]:
    if not isinstance(t, Cp56Time2a):
        raise EncodeError(PROTOCOL, ("time",), f"time must be a Cp56Time2a, not {type(t).__name__}")
    for name, v, lo, hi in (("milliseconds", t.milliseconds, 0, 59999), ("minute", t.minute, 0, 59),
                            ("hour", t.hour, 0, 23), ("day", t.day, 1, 31), ("month", t.month, 1, 12),
                            ("year", t.year, 0, 99), ("weekday", t.weekday, 0, 7)):
        if not lo <= v <= hi:
            raise EncodeError(PROTOCOL, ("time", name), f"{v} is outside {lo}..{hi}")
    return {"ms": t.milliseconds, "m": {"iv": t.invalid, "res1": t.substituted, "minute": t.minute},
            "h": {"su": t.summer, "hour": t.hour}, "d": {"weekday": t.weekday, "day": t.day},
            "mo": {"month": t.month}, "y": {"year": t.year}}


class _E:
    """One element group: its Construct, container -> elements, elements -> container."""

    def __init__(self, con: c.Construct, parse: Callable[[Any], dict[str, Any]],
                 build: Callable[[dict[str, Any]], Any]) -> None:
        self.con, self.parse, self.build = con, parse, build


def _q(x: Any, low: int = 0) -> Quality:
    return Quality(x.q << 4 | low)


def _plain(name: str, con: c.Construct) -> _E:
    return _E(con, lambda x: {name: x}, lambda e: e[name])


def _time(name: str) -> _E:
    return _E(CP56, lambda x: {name: _cp56_value(x)}, lambda e: _cp56_build(e[name]))


def _nva(x: int) -> float:
    return x / 32768.0


def _nva_raw(v: float) -> int:
    raw = round(v * 32768.0)
    if not -32768 <= raw <= 32767 or raw / 32768.0 != v:
        raise EncodeError(PROTOCOL, ("value",), f"normalized value {v!r} is not a multiple of 2**-15 in "
                                                "range")
    return raw


E_SIQ = _E(SIQ, lambda x: {"value": x.spi, "quality": _q(x)},
           lambda e: {"q": int(e["quality"]) >> 4, "spi": e["value"]})
E_DIQ = _E(DIQ, lambda x: {"value": x.dpi, "quality": _q(x)},
           lambda e: {"q": int(e["quality"]) >> 4, "dpi": e["value"]})
E_QDS = _E(QDS, lambda x: {"quality": _q(x, int(x.ov))},
           lambda e: {"q": int(e["quality"]) >> 4, "ov": bool(int(e["quality"]) & 1)})
E_QDP = _E(QDP, lambda x: {"quality": _q(x, 8 if x.ei else 0)},
           lambda e: {"q": int(e["quality"]) >> 4, "ei": bool(int(e["quality"]) & 8)})
E_SEP = _E(SEP, lambda x: {"event": x.es, "quality": _q(x, 8 if x.ei else 0)},
           lambda e: {"q": int(e["quality"]) >> 4, "ei": bool(int(e["quality"]) & 8), "es": e["event"]})
E_VTI = _E(VTI, lambda x: {"value": x.value, "transient": x.transient},
           lambda e: {"value": e["value"], "transient": e["transient"]})
E_BSI = _plain("value", c.Int32ul)
E_NVA = _E(c.Int16sl, lambda x: {"value": _nva(x)}, lambda e: _nva_raw(e["value"]))
E_SVA = _plain("value", c.Int16sl)
E_R32 = _plain("value", c.Float32l)
E_BCR = _E(BCR, lambda x: {"value": x.value, "sequence": x.f.sq, "carry": x.f.cy, "adjusted": x.f.ca,
                           "invalid": x.f.iv},
           lambda e: {"value": e["value"], "f": {"iv": e["invalid"], "ca": e["adjusted"], "cy": e["carry"],
                                                  "sq": e["sequence"]}})
E_SCD = _E(c.Struct("status" / c.Int16ul, "change" / c.Int16ul),
           lambda x: {"status": x.status, "change": x.change}, lambda e: {"status": e["status"],
                                                                          "change": e["change"]})
E_TIME = _time("time")
E_TIME24 = _E(CP24, lambda x: {"time": Cp24Time2a(milliseconds=x.ms, minute=x.m.minute, invalid=x.m.iv,
                                                  substituted=x.m.res1)},
              lambda e: _cp24_build(e["time"]))
E_SCO = _E(SCO, lambda x: {"value": x.scs, "qualifier": x.qu, "select": x.se},
           lambda e: {"scs": e["value"], "qu": e["qualifier"], "se": e["select"]})
E_DCO = _E(DCO, lambda x: {"value": x.dcs, "qualifier": x.qu, "select": x.se},
           lambda e: {"dcs": e["value"], "qu": e["qualifier"], "se": e["select"]})
E_QOS = _E(QOS, lambda x: {"qualifier": x.ql, "select": x.se},
           lambda e: {"ql": e["qualifier"], "se": e["select"]})
E_COI = _E(COI, lambda x: {"coi": x.coi, "parameters_changed": x.bs1},
           lambda e: {"coi": e["coi"], "bs1": e["parameters_changed"]})


def _u8(name: str) -> _E:
    return _plain(name, c.Int8ul)


def _u16(name: str) -> _E:
    return _plain(name, c.Int16ul)


def _u24(name: str) -> _E:
    return _plain(name, c.Int24ul)


E_SEGMENT = _E(c.Prefixed(c.Int8ul, c.GreedyBytes), lambda x: {"segment": bytes(x)},
               lambda e: bytes(e["segment"]))

T = TypeId
LAYOUTS: Final[dict[int, tuple[_E, ...]]] = {
    T.M_SP_NA_1: (E_SIQ,), T.M_DP_NA_1: (E_DIQ,), T.M_ST_NA_1: (E_VTI, E_QDS), T.M_BO_NA_1: (E_BSI, E_QDS),
    T.M_ME_NA_1: (E_NVA, E_QDS), T.M_ME_NB_1: (E_SVA, E_QDS), T.M_ME_NC_1: (E_R32, E_QDS),
    T.M_IT_NA_1: (E_BCR,), T.M_PS_NA_1: (E_SCD, E_QDS), T.M_ME_ND_1: (E_NVA,),
    T.M_SP_TB_1: (E_SIQ, E_TIME), T.M_DP_TB_1: (E_DIQ, E_TIME), T.M_ST_TB_1: (E_VTI, E_QDS, E_TIME),
    T.M_BO_TB_1: (E_BSI, E_QDS, E_TIME), T.M_ME_TD_1: (E_NVA, E_QDS, E_TIME),
    T.M_ME_TE_1: (E_SVA, E_QDS, E_TIME), T.M_ME_TF_1: (E_R32, E_QDS, E_TIME), T.M_IT_TB_1: (E_BCR, E_TIME),
    T.M_EP_TD_1: (E_SEP, _u16("elapsed"), E_TIME),
    T.M_EP_TE_1: (_u8("start"), E_QDP, _u16("duration"), E_TIME),
    T.M_EP_TF_1: (_u8("circuit"), E_QDP, _u16("operating"), E_TIME),
    T.C_SC_NA_1: (E_SCO,), T.C_DC_NA_1: (E_DCO,), T.C_RC_NA_1: (E_DCO,), T.C_SE_NA_1: (E_NVA, E_QOS),
    T.C_SE_NB_1: (E_SVA, E_QOS), T.C_SE_NC_1: (E_R32, E_QOS), T.C_BO_NA_1: (E_BSI,),
    T.C_SC_TA_1: (E_SCO, E_TIME), T.C_DC_TA_1: (E_DCO, E_TIME), T.C_RC_TA_1: (E_DCO, E_TIME),
    T.C_SE_TA_1: (E_NVA, E_QOS, E_TIME), T.C_SE_TB_1: (E_SVA, E_QOS, E_TIME),
    T.C_SE_TC_1: (E_R32, E_QOS, E_TIME), T.C_BO_TA_1: (E_BSI, E_TIME),
    T.M_SP_TA_1: (E_SIQ, E_TIME24), T.M_DP_TA_1: (E_DIQ, E_TIME24), T.M_ST_TA_1: (E_VTI, E_QDS, E_TIME24),
    T.M_BO_TA_1: (E_BSI, E_QDS, E_TIME24), T.M_ME_TA_1: (E_NVA, E_QDS, E_TIME24),
    T.M_ME_TB_1: (E_SVA, E_QDS, E_TIME24), T.M_ME_TC_1: (E_R32, E_QDS, E_TIME24),
    T.M_IT_TA_1: (E_BCR, E_TIME24),
    T.M_EP_TA_1: (E_SEP, _u16("elapsed"), E_TIME24),
    T.M_EP_TB_1: (_u8("start"), E_QDP, _u16("duration"), E_TIME24),
    T.M_EP_TC_1: (_u8("circuit"), E_QDP, _u16("operating"), E_TIME24),
    T.M_EI_NA_1: (E_COI,), T.C_IC_NA_1: (_u8("qoi"),), T.C_CI_NA_1: (_u8("qcc"),), T.C_RD_NA_1: (),
    T.C_CS_NA_1: (E_TIME,), T.C_TS_NA_1: (_u16("fbp"),), T.C_RP_NA_1: (_u8("qrp"),),
    T.C_CD_NA_1: (_u16("delay"),), T.C_TS_TA_1: (_u16("tsc"), E_TIME),
    T.P_ME_NA_1: (E_NVA, _u8("qpm")), T.P_ME_NB_1: (E_SVA, _u8("qpm")), T.P_ME_NC_1: (E_R32, _u8("qpm")),
    T.P_AC_NA_1: (_u8("qpa"),),
    T.F_FR_NA_1: (_u16("nof"), _u24("lof"), _u8("frq")),
    T.F_SR_NA_1: (_u16("nof"), _u8("nos"), _u24("los"), _u8("srq")),
    T.F_SC_NA_1: (_u16("nof"), _u8("nos"), _u8("scq")),
    T.F_LS_NA_1: (_u16("nof"), _u8("nos"), _u8("lsq"), _u8("chs")),
    T.F_AF_NA_1: (_u16("nof"), _u8("nos"), _u8("afq")),
    T.F_SG_NA_1: (_u16("nof"), _u8("nos"), E_SEGMENT),
    T.F_DR_TA_1: (_u16("nof"), _u24("lof"), _u8("sof"), E_TIME),
    T.F_SC_NB_1: (_u16("nof"), _time("start"), _time("stop")),
}


def _object_format(type_id: int) -> c.Construct:
    return c.Struct(*(f"e{i}" / e.con for i, e in enumerate(LAYOUTS[type_id])))


def _ioa(sizes: FieldSizes) -> c.Construct:
    return {1: c.Int8ul, 2: c.Int16ul, 3: c.Int24ul}[sizes.ioa]


def _dui(sizes: FieldSizes) -> c.Construct:
    return c.Struct(
        "type_id" / c.Int8ul,
        "vsq" / c.BitStruct("sq" / c.Flag, "n" / c.BitsInteger(7)),
        "cot" / c.BitStruct("t" / c.Flag, "pn" / c.Flag, "cause" / c.BitsInteger(6)),
        "originator" / (c.Int8ul if sizes.cause == 2 else c.Computed(0)),
        "ca" / (c.Int16ul if sizes.common_address == 2 else c.Int8ul),
    )


def _objects_format(type_id: int, sizes: FieldSizes, sq: bool, n: int) -> c.Construct:
    obj = _object_format(type_id)
    if sq:
        return c.If(n > 0, c.Struct("ioa" / _ioa(sizes), "objects" / c.Array(n, obj)))
    return c.Array(n, c.Struct("ioa" / _ioa(sizes), "o" / obj))


def _elements(type_id: int, x: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, e in enumerate(LAYOUTS[type_id]):
        out.update(e.parse(x[f"e{i}"]))
    return out


def decode_asdu_declarative(data: bytes, *, sizes: FieldSizes = IEC104_SIZES, base: int = 0,
                            path: tuple[str | int, ...] = ()) -> Asdu:
    """The ASDU in ``data`` (all of it), by the Construct definitions."""
    dui_format = _dui(sizes)
    dui = construct_parse(PROTOCOL, dui_format, data, whole=False,
                          path_prefix=(*path, "data_unit_identifier"), base_offset=base)
    at = dui_format.sizeof()
    rest = data[at:]
    type_id = dui.type_id
    cause = Cause(dui.cot.cause) if dui.cot.cause in Cause._value2member_map_ else dui.cot.cause
    tid = TypeId(type_id) if type_id in TypeId._value2member_map_ else type_id
    common = {"cause": cause, "common_address": dui.ca, "sequence": dui.vsq.sq, "negative": dui.cot.pn,
              "test": dui.cot.t, "originator": dui.originator}
    if type_id not in LAYOUTS:
        return Asdu(type_id=tid, objects=(), raw=bytes(rest), raw_number=dui.vsq.n, **common)
    parsed = construct_parse(PROTOCOL, _objects_format(type_id, sizes, dui.vsq.sq, dui.vsq.n), rest,
                             path_prefix=(*path, "objects"), base_offset=base + at)
    objects: list[InformationObject] = []
    if dui.vsq.sq:
        if parsed is not None:
            objects = [InformationObject(address=parsed.ioa + i, elements=_elements(type_id, x))
                       for i, x in enumerate(parsed.objects)]
    else:
        objects = [InformationObject(address=x.ioa, elements=_elements(type_id, x.o)) for x in parsed]
    return Asdu(type_id=tid, objects=tuple(objects), **common)


def encode_asdu_declarative(asdu: Asdu, *, sizes: FieldSizes = IEC104_SIZES) -> bytes:
    """The octets of ``asdu``, by the Construct definitions."""
    try:
        head = _dui(sizes).build({"type_id": asdu.type_id,
                                  "vsq": {"sq": asdu.sequence,
                                          "n": asdu.raw_number if asdu.type_id not in LAYOUTS
                                          else len(asdu.objects)},
                                  "cot": {"t": asdu.test, "pn": asdu.negative, "cause": asdu.cause},
                                  "originator": asdu.originator, "ca": asdu.common_address})
        if asdu.type_id not in LAYOUTS:
            return bytes(head) + asdu.raw
        layout = LAYOUTS[asdu.type_id]

        def obj(o: InformationObject) -> dict[str, Any]:
            return {f"e{i}": e.build(o.elements) for i, e in enumerate(layout)}
        n = len(asdu.objects)
        fmt = _objects_format(asdu.type_id, sizes, asdu.sequence, n)
        if asdu.sequence:
            first = asdu.objects[0].address if n else 0
            if any(o.address != first + i for i, o in enumerate(asdu.objects)):
                raise EncodeError(PROTOCOL, ("asdu", "objects"), "SQ=1 needs consecutive addresses")
            body = fmt.build({"ioa": first, "objects": [obj(o) for o in asdu.objects]} if n else None)
        else:
            body = fmt.build([{"ioa": o.address, "o": obj(o)} for o in asdu.objects])
        return bytes(head) + bytes(body)
    except (c.ConstructError, KeyError, TypeError, ValueError, OverflowError) as err:
        if isinstance(err, EncodeError):
            raise
        raise EncodeError(PROTOCOL, ("asdu",), f"{type(err).__name__}: {err}") from None


_U_CODES: Final = {int(f): f for f in UFunction}
APCI = c.Struct(
    "start" / c.Const(b"\x68"),
    "length" / c.Int8ul,
    c.Check(lambda ctx: 4 <= ctx.length <= 253),
    "control" / c.Bytes(4),
    "asdu" / c.Bytes(c.this.length - 4),
)


def decode_apdu_declarative(data: bytes, *, sizes: FieldSizes = IEC104_SIZES) -> Apdu:
    """Exactly one APDU, by the Construct definitions."""
    x = construct_parse(PROTOCOL, APCI, data)
    ctl = x.control
    if not ctl[0] & 1:
        if ctl[2] & 1:
            raise DecodeError(PROTOCOL, ("control", "recv_seq"), 4, "I format: bit 1 of control octet 3 is 1")
        if not x.asdu:
            raise DecodeError(PROTOCOL, ("asdu",), 6, "an I-format APDU without an ASDU")
        ns, nr = c.Int16ul.parse(ctl[:2]) >> 1, c.Int16ul.parse(ctl[2:]) >> 1
        return IFrame(send_seq=ns, recv_seq=nr,
                      asdu=decode_asdu_declarative(x.asdu, sizes=sizes, base=6, path=("asdu",)))
    if x.length != 4:
        raise DecodeError(PROTOCOL, ("length",), 1, "an S or U format APDU has length 4")
    if ctl[0] & 3 == 1:
        if ctl[0] != 1 or ctl[1] or ctl[2] & 1:
            raise DecodeError(PROTOCOL, ("control",), 2, "S format reserved bits")
        return SFrame(recv_seq=c.Int16ul.parse(ctl[2:]) >> 1)
    if ctl[0] not in _U_CODES or any(ctl[1:]):
        raise DecodeError(PROTOCOL, ("control", "function"), 2, "not one U function")
    return UFrame(function=_U_CODES[ctl[0]])


def encode_apdu_declarative(apdu: Apdu, *, sizes: FieldSizes = IEC104_SIZES) -> bytes:
    """The octets of one APDU, by the Construct definitions."""
    if isinstance(apdu, IFrame):
        body = apdu.asdu if isinstance(apdu.asdu, bytes) else encode_asdu_declarative(apdu.asdu, sizes=sizes)
        control = c.Int16ul.build(apdu.send_seq << 1) + c.Int16ul.build(apdu.recv_seq << 1)
    elif isinstance(apdu, SFrame):
        body, control = b"", b"\x01\x00" + c.Int16ul.build(apdu.recv_seq << 1)
    else:
        body, control = b"", bytes((int(apdu.function), 0, 0, 0))
    try:
        return bytes(APCI.build({"length": 4 + len(body), "control": control, "asdu": body}))
    except c.ConstructError as err:
        raise EncodeError(PROTOCOL, (), str(err)) from None
