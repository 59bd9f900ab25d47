"""Hypothesis strategies for IEC 104 messages: every type identification's objects, ASDUs, APDUs."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from wireproof.codecs.iec104 import (
    ELEMENTS,
    IEC104_SIZES,
    Apdu,
    Asdu,
    Cp24Time2a,
    Cp56Time2a,
    FieldSizes,
    IFrame,
    InformationObject,
    Quality,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
)
from wireproof.codecs.iec104.constants import IEC101_ONLY

T = TypeId
SEQ = st.integers(0, 32767)


@st.composite
def cp56(draw: st.DrawFn) -> Cp56Time2a:
    return Cp56Time2a(milliseconds=draw(st.integers(0, 59999)), minute=draw(st.integers(0, 59)),
                      hour=draw(st.integers(0, 23)), day=draw(st.integers(1, 31)),
                      month=draw(st.integers(1, 12)), year=draw(st.integers(0, 99)),
                      weekday=draw(st.integers(0, 7)), invalid=draw(st.booleans()),
                      summer=draw(st.booleans()), substituted=draw(st.booleans()))


@st.composite
def cp24(draw: st.DrawFn) -> Cp24Time2a:
    return Cp24Time2a(milliseconds=draw(st.integers(0, 59999)), minute=draw(st.integers(0, 59)),
                      invalid=draw(st.booleans()), substituted=draw(st.booleans()))


def _quality(mask: int) -> st.SearchStrategy[Quality]:
    return st.integers(0, 255).map(lambda q: Quality(q & mask))


NORMALIZED = st.integers(-32768, 32767).map(lambda v: v / 32768)
FLOAT = st.floats(width=32, allow_nan=False)
U8 = st.integers(0, 255)
U16 = st.integers(0, 0xFFFF)

_VALUE: dict[int, st.SearchStrategy[Any]] = {
    T.M_SP_NA_1: st.booleans(), T.M_DP_NA_1: st.integers(0, 3), T.M_ST_NA_1: st.integers(-64, 63),
    T.M_BO_NA_1: st.integers(0, 0xFFFFFFFF), T.M_ME_NA_1: NORMALIZED, T.M_ME_NB_1: st.integers(-32768, 32767),
    T.M_ME_NC_1: FLOAT, T.M_IT_NA_1: st.integers(-(1 << 31), (1 << 31) - 1), T.M_ME_ND_1: NORMALIZED,
    T.C_SC_NA_1: st.booleans(), T.C_DC_NA_1: st.integers(0, 3), T.C_RC_NA_1: st.integers(0, 3),
    T.C_SE_NA_1: NORMALIZED, T.C_SE_NB_1: st.integers(-32768, 32767), T.C_SE_NC_1: FLOAT,
    T.C_BO_NA_1: st.integers(0, 0xFFFFFFFF), T.P_ME_NA_1: NORMALIZED, T.P_ME_NB_1: st.integers(-32768, 32767),
    T.P_ME_NC_1: FLOAT,
}
_BASE = {2: 1, 4: 3, 6: 5, 8: 7, 10: 9, 12: 11, 14: 13, 16: 15, 30: 1, 31: 3, 32: 5, 33: 7, 34: 9, 35: 11,
         36: 13, 37: 15, 58: 45, 59: 46, 60: 47, 61: 48, 62: 49, 63: 50, 64: 51}
_OTHER: dict[str, st.SearchStrategy[Any]] = {
    "transient": st.booleans(), "sequence": st.integers(0, 31), "carry": st.booleans(),
    "adjusted": st.booleans(),
    "invalid": st.booleans(), "status": U16, "change": U16, "event": st.integers(0, 3),
    "elapsed": st.integers(0, 59999), "start": U8, "duration": st.integers(0, 59999), "circuit": U8,
    "operating": st.integers(0, 59999), "select": st.booleans(), "coi": st.integers(0, 127),
    "parameters_changed": st.booleans(), "qoi": U8, "qcc": U8, "fbp": U16, "qrp": U8,
    "delay": st.integers(0, 59999), "tsc": U16, "qpm": U8, "qpa": U8, "nof": U16,
    "lof": st.integers(0, 0xFFFFFF),
    "frq": U8, "nos": U8, "los": st.integers(0, 0xFFFFFF), "srq": U8, "scq": U8, "lsq": U8, "chs": U8,
    "afq": U8, "sof": U8, "segment": st.binary(max_size=40),
}


@st.composite
def elements(draw: st.DrawFn, type_id: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ELEMENTS[type_id]:
        if name == "value":
            out[name] = draw(_VALUE[_BASE.get(type_id, type_id)])
        elif name == "quality":
            mask = (0xF0 if type_id in (1, 2, 3, 4, 30, 31) else 0xF8 if type_id in (17, 18, 19, 38, 39, 40)
                    else 0xF1)
            out[name] = draw(_quality(mask))
        elif name == "qualifier":
            hi = 127 if _BASE.get(type_id, type_id) in (48, 49, 50) else 31
            out[name] = draw(st.integers(0, hi))
        elif name == "time" and type_id in IEC101_ONLY:
            out[name] = draw(cp24())
        elif name in ("time", "stop") or (name == "start" and type_id == T.F_SC_NB_1):
            out[name] = draw(cp56())
        else:
            out[name] = draw(_OTHER[name])
    return out


ADDRESS = st.integers(0, 0xFFFFFF)


def information_objects(type_id: int, *, address: st.SearchStrategy[int] = ADDRESS
                        ) -> st.SearchStrategy[InformationObject]:
    return st.builds(lambda a, e: InformationObject(address=a, elements=e), address, elements(type_id))


@st.composite
def asdus(draw: st.DrawFn, sizes: FieldSizes = IEC104_SIZES, max_objects: int = 4) -> Asdu:
    type_id = draw(st.sampled_from(sorted(ELEMENTS)))
    ioa_max = (1 << (8 * sizes.ioa)) - 1
    n = draw(st.integers(1, max_objects))
    sequence = draw(st.booleans()) and type_id != T.F_SG_NA_1
    if sequence:
        first = draw(st.integers(0, ioa_max - n))
        objs = tuple(InformationObject(address=first + i, elements=draw(elements(type_id))) for i in range(n))
    else:
        objs = tuple(draw(st.lists(information_objects(type_id, address=st.integers(0, ioa_max)),
                                   min_size=n, max_size=n)))
    return Asdu(type_id=type_id, cause=draw(st.integers(0, 63)),
                common_address=draw(st.integers(0, 0xFFFF if sizes.common_address == 2 else 0xFF)),
                objects=objs, sequence=sequence, negative=draw(st.booleans()), test=draw(st.booleans()),
                originator=draw(U8) if sizes.cause == 2 else 0)


def apdus() -> st.SearchStrategy[Apdu]:
    return st.one_of(st.builds(lambda ns, nr, a: IFrame(send_seq=ns, recv_seq=nr, asdu=a), SEQ, SEQ, asdus()),
                     st.builds(lambda nr: SFrame(recv_seq=nr), SEQ),
                     st.sampled_from(list(UFunction)).map(lambda f: UFrame(function=f)))
