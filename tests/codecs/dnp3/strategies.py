"""Hypothesis strategies of DNP3 messages (IEEE 1815-2012): link frames, fragments, object headers."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from wireproof.codecs.dnp3 import (
    ApplicationRequest,
    ApplicationResponse,
    FunctionCode,
    LinkFrame,
    ObjectHeader,
    Point,
    PrimaryFunction,
    SecondaryFunction,
)
from wireproof.codecs.dnp3.constants import HEADER_ONLY_REQUESTS
from wireproof.codecs.dnp3.free_format import FREE_LAYOUTS
from wireproof.codecs.dnp3.library import LIBRARY, ObjectSpec, lookup

_INT = {"B": (0, 0xFF), "H": (0, 0xFFFF), "h": (-0x8000, 0x7FFF), "I": (0, 0xFFFFFFFF),
        "i": (-0x80000000, 0x7FFFFFFF), "T": (0, (1 << 48) - 1)}
SPECS = sorted(LIBRARY.values(), key=lambda s: (s.group, s.variation)) + \
    [s for g in (110, 111, 112, 113) for v in (1, 7, 255) if (s := lookup(g, v)) is not None]
# Qualifiers that carry values: start/stop (0x00-0x05), counts (0x07-0x09), index prefixes (0x17, 0x28,
# 0x39 and their kin), a size prefix with a count (0x5B and its kin).
START_STOP = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05)
COUNTS = (0x07, 0x08, 0x09)
INDEXED = (0x17, 0x18, 0x19, 0x27, 0x28, 0x29, 0x37, 0x38, 0x39)
SIZED = (0x4B, 0x5B, 0x6B)
_WIDTH = {0: 1, 1: 2, 2: 4, 3: 1, 4: 2, 5: 4, 7: 1, 8: 2, 9: 4, 0xB: 1}


def _value(code: str) -> st.SearchStrategy[Any]:
    if code.startswith("s"):
        return st.binary(min_size=int(code[1:]), max_size=int(code[1:]))
    if code == "f":
        return st.floats(allow_nan=False, width=32)
    if code == "d":
        return st.floats(allow_nan=False)
    lo, hi = _INT[code]
    return st.integers(lo, hi)


def _values(spec: ObjectSpec) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: _value(code if code != "s" else f"s{spec.octets}")
                                  for name, code in spec.fields})


@st.composite
def valued_header(draw: st.DrawFn) -> ObjectHeader:
    """An object header with its objects, as a response carries them."""
    spec = draw(st.sampled_from([*SPECS, lookup(0, 240)]))
    assert spec is not None
    group, variation = (0, draw(st.integers(1, 255))) if spec.variable else (spec.group, spec.variation)
    n = draw(st.integers(0, 4))
    if spec.size == 0 and not spec.bits and not spec.variable:  # class objects: no values
        q = draw(st.sampled_from((0x06, *START_STOP, *COUNTS)))
        n = 0 if q in (0x06, *COUNTS) else n
    elif spec.bits:
        q = draw(st.sampled_from(START_STOP + COUNTS))
    elif spec.variable:
        q = draw(st.sampled_from(START_STOP + COUNTS + INDEXED))
    else:
        q = draw(st.sampled_from(START_STOP + COUNTS + INDEXED + SIZED))
    rng, width = q & 0xF, _WIDTH.get(q & 0xF, 0)
    start = stop = count = None
    if q in START_STOP:
        n = max(n, 1)
        start = draw(st.integers(0, (1 << 8 * width) - n))
        stop = start + n - 1
    elif rng != 6:
        count = n
    prefix_width = {1: 1, 2: 2, 3: 4}.get(q >> 4, 0)
    points = []
    for k in range(n if not (spec.size == 0 and not spec.bits and not spec.variable) else 0):
        index = draw(st.integers(0, (1 << 8 * prefix_width) - 1)) if prefix_width else \
            (None if start is None else start + k)
        if spec.bits:
            state = draw(st.booleans()) if spec.bits == 1 else draw(st.integers(0, 3))
            values: dict[str, Any] = {"state": state}
        elif spec.variable:
            values = {"data_type": draw(st.integers(0, 255)), "value": draw(st.binary(max_size=12))}
        else:
            values = draw(_values(spec))
        points.append(Point(index=index, values=values))
    return ObjectHeader(group=group, variation=variation, qualifier=q, start=start, stop=stop, count=count,
                        points=tuple(points))


_FREE_WIDTH = {"B": 1, "H": 2, "I": 4, "T": 6}


@st.composite
def free_values(draw: st.DrawFn, group: int, variation: int) -> dict[str, Any]:
    """The fields of one free-format object (Annex A.36, A.41-A.43, A.45), as decoding gives them."""
    if (group, variation) == (70, 1):
        return {"value": draw(st.binary(max_size=20))}
    out: dict[str, Any] = {}
    derived = {n for _, code in FREE_LAYOUTS[group, variation] if isinstance(code, tuple) for n in code[1:]}
    for name, code in FREE_LAYOUTS[group, variation]:
        if name in derived:
            continue
        if isinstance(code, str) and code in _FREE_WIDTH:
            out[name] = draw(st.integers(0, (1 << 8 * _FREE_WIDTH[code]) - 1))
        elif code == "elements":
            out[name] = tuple(draw(st.lists(st.binary(max_size=12), max_size=3)))
        elif code == "descriptors":
            byte = st.integers(0, 255)
            out[name] = tuple(draw(st.lists(st.tuples(byte, byte, byte, st.binary(max_size=6)), max_size=3)))
        else:
            out[name] = draw(st.binary(max_size=12))
    return out


@st.composite
def free_format_header(draw: st.DrawFn) -> ObjectHeader:
    """A size-prefixed free-format header of groups 70, 86-88 or 120, its objects' fields decoded."""
    group, variation = draw(st.sampled_from(sorted((*FREE_LAYOUTS, (70, 1)))))
    values = draw(st.lists(free_values(group, variation), max_size=3))
    return ObjectHeader(group=group, variation=variation, qualifier=draw(st.sampled_from(SIZED)),
                        count=len(values), points=tuple(Point(values=v) for v in values))


@st.composite
def bare_header(draw: st.DrawFn) -> ObjectHeader:
    """An object header without values (a read): any group and variation."""
    group, variation = draw(st.integers(0, 255)), draw(st.integers(0, 255))
    q = draw(st.sampled_from((0x06, *START_STOP, *COUNTS, *INDEXED)))
    n = draw(st.integers(0, 4))
    width = _WIDTH.get(q & 0xF, 0)
    start = stop = count = None
    if q in START_STOP:
        n = max(n, 1)
        start = draw(st.integers(0, (1 << 8 * width) - n))
        stop = start + n - 1
    elif q != 0x06:
        count = n
    prefix_width = {1: 1, 2: 2, 3: 4}.get(q >> 4, 0)
    points = tuple(Point(index=draw(st.integers(0, (1 << 8 * prefix_width) - 1))) for _ in range(n)) \
        if prefix_width else ()
    return ObjectHeader(group=group, variation=variation, qualifier=q, start=start, stop=stop, count=count,
                        points=points)


def _control() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"fir": st.booleans(), "fin": st.booleans(), "con": st.booleans(),
                                  "uns": st.booleans(), "seq": st.integers(0, 15)})


_valued = st.one_of(valued_header(), free_format_header())
responses = st.builds(lambda c, f, iin, objs: ApplicationResponse(**c, function=f, iin=iin,
                                                                  objects=tuple(objs)),
                      _control(), st.sampled_from([f for f in FunctionCode if f.is_response]),
                      st.integers(0, 0xFFFF), st.lists(_valued, max_size=3))
reads = st.builds(lambda c, f, objs: ApplicationRequest(**c, function=f, objects=tuple(objs)),
                  _control(), st.sampled_from(sorted(HEADER_ONLY_REQUESTS)),
                  st.lists(bare_header(), max_size=4))
writes = st.builds(lambda c, f, objs: ApplicationRequest(**c, function=f, objects=tuple(objs)),
                   _control(), st.sampled_from([f for f in FunctionCode
                                                if not f.is_response and f not in HEADER_ONLY_REQUESTS]),
                   st.lists(_valued, max_size=3))
fragments = st.one_of(responses, reads, writes)


@st.composite
def link_frame(draw: st.DrawFn) -> LinkFrame:
    prm = draw(st.booleans())
    function = draw(st.sampled_from(list(PrimaryFunction) if prm else list(SecondaryFunction)))
    return LinkFrame(dir=draw(st.booleans()), prm=prm, fcb=draw(st.booleans()), fcv=draw(st.booleans()),
                     function=function, destination=draw(st.integers(0, 0xFFFF)),
                     source=draw(st.integers(0, 0xFFFF)), user_data=draw(st.binary(max_size=250)))
