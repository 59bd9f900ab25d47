"""The DNP3 object library as Construct definitions (IEEE 1815-2012 clause 11), and the declarative
decoder of whole application fragments built on them: the oracle for :mod:`.objects`.

The layouts below are spelled out again from the clause-11 tables, one Struct a
group/variation, rather than generated from :mod:`.library`'s table, so that the
differential test compares two readings of the standard. Packed objects (1 or 2 bits an
object, 4.3.4.3), device attributes (11.9.1), octet strings (11.9.30-11.9.33) and
size-prefixed free-format objects (groups 70 and 120) are layouts of their own.

Free-format objects (A.36, A.41-A.43, A.45; :data:`FREE_OBJECTS`) read their offset, size and
length fields and check them; building computes them (``Rebuild``), so that
:func:`encode_fragment_declarative` is the oracle of :func:`~.application.encode_fragment` as
:func:`decode_fragment_declarative` is that of the decoder.

Bounds are the fast path's: before any object is read, the octets the range announces
(at least one prefix and one fixed body an object) must be there, so that nothing is
allocated on the word of a count.
"""

from __future__ import annotations

import io
from typing import Any, Final

import construct as cs
from construct import (
    Bytes,
    BytesInteger,
    Check,
    Float32l,
    Float64l,
    GreedyBytes,
    GreedyRange,
    Int8ub,
    Int16sl,
    Int16ul,
    Int32sl,
    Int32ul,
    Prefixed,
    Rebuild,
    Struct,
    Terminated,
    len_,
    this,
)

from wireproof.codecs.dnp3.constants import HEADER_ONLY_REQUESTS, FunctionCode
from wireproof.codecs.dnp3.formats import APPLICATION_HEADER, OBJECT_HEADER_FIELDS, _run
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    Fragment,
    ObjectHeader,
    Point,
)
from wireproof.errors import DecodeError, EncodeError, TruncatedError

__all__ = ["FREE_OBJECTS", "OBJECTS", "PACKED", "decode_fragment_declarative", "encode_fragment_declarative"]

TIME: Final = BytesInteger(6, swapped=True)  # DNP3 time: UINT48, ms since 1970-01-01 UTC (11.3.1.2)
FLAGS: Final = "flags" / Int8ub


def _fv(value: cs.Construct) -> Struct:
    return Struct(FLAGS, "value" / value)


def _fvt(value: cs.Construct) -> Struct:
    return Struct(FLAGS, "value" / value, "time" / TIME)


def _v(value: cs.Construct) -> Struct:
    return Struct("value" / value)


_CROB: Final = Struct("control_code" / Int8ub, "count" / Int8ub, "on_time" / Int32ul, "off_time" / Int32ul,
                      "status" / Int8ub)  # 11.9.8
_STATUS_V = {1: Int32sl, 2: Int16sl, 5: Float32l, 6: Float64l}

OBJECTS: Final[dict[tuple[int, int], Struct]] = {
    (1, 2): Struct(FLAGS),
    (2, 1): Struct(FLAGS), (2, 2): Struct(FLAGS, "time" / TIME), (2, 3): Struct(FLAGS, "time" / Int16ul),
    (3, 2): Struct(FLAGS),
    (4, 1): Struct(FLAGS), (4, 2): Struct(FLAGS, "time" / TIME), (4, 3): Struct(FLAGS, "time" / Int16ul),
    (10, 2): Struct(FLAGS),
    (11, 1): Struct(FLAGS), (11, 2): Struct(FLAGS, "time" / TIME),
    (12, 1): _CROB, (12, 2): _CROB,
    (13, 1): Struct(FLAGS), (13, 2): Struct(FLAGS, "time" / TIME),
    (20, 1): _fv(Int32ul), (20, 2): _fv(Int16ul), (20, 5): _v(Int32ul), (20, 6): _v(Int16ul),
    (21, 1): _fv(Int32ul), (21, 2): _fv(Int16ul), (21, 5): _fvt(Int32ul), (21, 6): _fvt(Int16ul),
    (21, 9): _v(Int32ul), (21, 10): _v(Int16ul),
    (22, 1): _fv(Int32ul), (22, 2): _fv(Int16ul), (22, 5): _fvt(Int32ul), (22, 6): _fvt(Int16ul),
    (23, 1): _fv(Int32ul), (23, 2): _fv(Int16ul), (23, 5): _fvt(Int32ul), (23, 6): _fvt(Int16ul),
    (30, 1): _fv(Int32sl), (30, 2): _fv(Int16sl), (30, 3): _v(Int32sl), (30, 4): _v(Int16sl),
    (30, 5): _fv(Float32l), (30, 6): _fv(Float64l),
    (31, 1): _fv(Int32sl), (31, 2): _fv(Int16sl), (31, 3): _fvt(Int32sl), (31, 4): _fvt(Int16sl),
    (31, 5): _v(Int32sl), (31, 6): _v(Int16sl), (31, 7): _fv(Float32l), (31, 8): _fv(Float64l),
    (34, 1): _v(Int16ul), (34, 2): _v(Int32ul), (34, 3): _v(Float32l),
    (40, 1): _fv(Int32sl), (40, 2): _fv(Int16sl), (40, 3): _fv(Float32l), (40, 4): _fv(Float64l),
    (41, 1): Struct("value" / Int32sl, "status" / Int8ub),
    (41, 2): Struct("value" / Int16sl, "status" / Int8ub),
    (41, 3): Struct("value" / Float32l, "status" / Int8ub),
    (41, 4): Struct("value" / Float64l, "status" / Int8ub),
    (50, 1): Struct("time" / TIME), (50, 2): Struct("time" / TIME, "interval" / Int32ul),
    (50, 3): Struct("time" / TIME),
    (50, 4): Struct("time" / TIME, "interval" / Int32ul, "units" / Int8ub),
    (51, 1): Struct("time" / TIME), (51, 2): Struct("time" / TIME),
    (52, 1): Struct("delay" / Int16ul), (52, 2): Struct("delay" / Int16ul),
    # Events of analog inputs (32), frozen analog inputs (33) and analog outputs (42): v1-v8 alike.
    **{(g, v): s for g in (32, 33, 42) for v, s in {
        1: _fv(Int32sl), 2: _fv(Int16sl), 3: _fvt(Int32sl), 4: _fvt(Int16sl), 5: _fv(Float32l),
        6: _fv(Float64l), 7: _fvt(Float32l), 8: _fvt(Float64l)}.items()},
    # Analog output command events (43, 11.9.23): the command status octet first; variations
    # 1, 2, 5, 6 without time, 3, 4, 7, 8 (the same two steps on) with it.
    **{(43, v): Struct("status" / Int8ub, "value" / t) for v, t in _STATUS_V.items()},
    **{(43, v + 2): Struct("status" / Int8ub, "value" / t, "time" / TIME) for v, t in _STATUS_V.items()},
}
OBJECTS.update({
    (86, 2): Struct("characteristics" / Int8ub),  # A.41.2
    (120, 3): Struct("csq" / Int32ul, "user" / Int16ul),  # A.45.3 aggressive mode request
    (120, 4): Struct("user" / Int16ul),  # A.45.4 session key status request
})

# Free-format objects (Annex A.36, A.41-A.43, A.45), read from the octets their size prefix delimits.
# A string that an offset field places must come right where it is placed: after the fixed fields
# (or the string before it); nothing may follow the last field.
_ELEMENTS: Final = GreedyRange(Prefixed(Int8ub, GreedyBytes))  # 1-octet length, value
_DESCRIPTORS: Final = GreedyRange(Prefixed(Int8ub, Struct(  # A.41.1 descriptor element
    "code" / Int8ub, "data_type" / Int8ub, "maximum" / Int8ub, "ancillary" / GreedyBytes)))
_U16: Final = Int16ul


def _length_of(name: str) -> Rebuild:
    """A 2-octet length of field ``name``: read on parsing, computed on building."""
    return Rebuild(_U16, len_(this[name]))


FREE_OBJECTS: Final[dict[tuple[int, int], Struct]] = {
    (70, 2): Struct("username_offset" / Rebuild(_U16, 12), "username_size" / _length_of("username"),
                    "password_offset" / Rebuild(_U16, lambda ctx: 12 + len(ctx.username)),
                    "password_size" / _length_of("password"), "authentication_key" / Int32ul,
                    Check(this.username_offset == 12), "username" / Bytes(this.username_size),
                    Check(this.password_offset == 12 + this.username_size),
                    "password" / Bytes(this.password_size), Terminated),
    (70, 3): Struct("file_name_offset" / Rebuild(_U16, 26), "file_name_size" / _length_of("file_name"),
                    "created" / TIME, "permissions" / _U16, "authentication_key" / Int32ul,
                    "file_size" / Int32ul,
                    "operational_mode" / _U16, "maximum_block_size" / _U16, "request_id" / _U16,
                    Check(this.file_name_offset == 26), "file_name" / Bytes(this.file_name_size), Terminated),
    (70, 4): Struct("file_handle" / Int32ul, "file_size" / Int32ul, "maximum_block_size" / _U16,
                    "request_id" / _U16, "status_code" / Int8ub, "optional_text" / GreedyBytes),
    (70, 5): Struct("file_handle" / Int32ul, "block_number" / Int32ul, "file_data" / GreedyBytes),
    (70, 6): Struct("file_handle" / Int32ul, "block_number" / Int32ul, "status_code" / Int8ub,
                    "optional_text" / GreedyBytes),
    (70, 7): Struct("file_name_offset" / Rebuild(_U16, 20), "file_name_size" / _length_of("file_name"),
                    "file_type" / _U16, "file_size" / Int32ul, "created" / TIME, "permissions" / _U16,
                    "request_id" / _U16,
                    Check(this.file_name_offset == 20), "file_name" / Bytes(this.file_name_size), Terminated),
    (70, 8): Struct("file_specification" / GreedyBytes),
    (86, 1): Struct("dsid" / _U16, "elements" / _DESCRIPTORS, Terminated),
    (86, 3): Struct("dsid" / _U16, "elements" / _ELEMENTS, Terminated),
    (87, 1): Struct("dsid" / _U16, "time" / TIME, "elements" / _ELEMENTS, Terminated),
    (88, 1): Struct("dsid" / _U16, "time" / TIME, "elements" / _ELEMENTS, Terminated),
    (120, 1): Struct("csq" / Int32ul, "user" / _U16, "mac_algorithm" / Int8ub, "reason" / Int8ub,
                     "challenge_data" / GreedyBytes),
    (120, 2): Struct("csq" / Int32ul, "user" / _U16, "mac" / GreedyBytes),
    (120, 5): Struct("ksq" / Int32ul, "user" / _U16, "key_wrap_algorithm" / Int8ub, "key_status" / Int8ub,
                     "mac_algorithm" / Int8ub, "challenge_data_length" / _length_of("challenge_data"),
                     "challenge_data" / Bytes(this.challenge_data_length), "mac" / GreedyBytes),
    (120, 6): Struct("ksq" / Int32ul, "user" / _U16, "key_wrap_data" / GreedyBytes),
    (120, 7): Struct("csq" / Int32ul, "user" / _U16, "association_id" / _U16, "error_code" / Int8ub,
                     "time_of_error" / TIME, "error_text" / GreedyBytes),
    (120, 8): Struct("key_change_method" / Int8ub, "certificate_type" / Int8ub, "certificate" / GreedyBytes),
    (120, 9): Struct("mac" / GreedyBytes),
    (120, 10): Struct("key_change_method" / Int8ub, "operation" / Int8ub, "scs" / Int32ul, "user_role" / _U16,
                      "user_role_expiry_interval" / _U16, "username_length" / _length_of("username"),
                      "user_public_key_length" / _length_of("user_public_key"),
                      "certification_data_length" / _length_of("certification_data"),
                      "username" / Bytes(this.username_length),
                      "user_public_key" / Bytes(this.user_public_key_length),
                      "certification_data" / Bytes(this.certification_data_length), Terminated),
    (120, 11): Struct("key_change_method" / Int8ub, "username_length" / _length_of("username"),
                      "master_challenge_data_length" / _length_of("master_challenge_data"),
                      "username" / Bytes(this.username_length),
                      "master_challenge_data" / Bytes(this.master_challenge_data_length), Terminated),
    (120, 12): Struct("ksq" / Int32ul, "user" / _U16,
                      "outstation_challenge_data_length" / _length_of("outstation_challenge_data"),
                      "outstation_challenge_data" / Bytes(this.outstation_challenge_data_length), Terminated),
    (120, 13): Struct("ksq" / Int32ul, "user" / _U16,
                      "encrypted_update_key_data_length" / _length_of("encrypted_update_key_data"),
                      "encrypted_update_key_data" / Bytes(this.encrypted_update_key_data_length), Terminated),
    (120, 14): Struct("digital_signature" / GreedyBytes),
    (120, 15): Struct("mac" / GreedyBytes),
}
RAW_FREE: Final = frozenset({(70, 1)})  # the obsolete file identifier: kept as octets
# Offsets, sizes and lengths the octets carry twice: not among a decoded object's values.
DERIVED: Final = frozenset({
    "username_offset", "username_size", "password_offset", "password_size", "file_name_offset",
    "file_name_size", "challenge_data_length", "username_length", "user_public_key_length",
    "certification_data_length", "master_challenge_data_length", "outstation_challenge_data_length",
    "encrypted_update_key_data_length"})


def _free_values(gv: tuple[int, int], octets: bytes) -> dict[str, object]:
    if gv in RAW_FREE:
        return {"value": octets}
    parsed = FREE_OBJECTS[gv].parse(octets)
    out: dict[str, object] = {}
    for name, value in parsed.items():
        if name.startswith("_") or name in DERIVED:
            continue
        if name == "elements":
            value = tuple(tuple((e.code, e.data_type, e.maximum, e.ancillary)) if gv == (86, 1) else e
                          for e in value)
        out[name] = value
    return out


CLASS_OBJECTS: Final = frozenset((60, v) for v in range(1, 5))  # 11.9.27: headers without bodies
PACKED: Final = {(1, 1): 1, (3, 1): 2, (10, 1): 1, (12, 3): 1, (80, 1): 1}  # bits an object
ATTRIBUTE: Final = Struct("data_type" / Int8ub, "value" / cs.Prefixed(Int8ub, cs.GreedyBytes))  # 11.9.1
_PREFIXES = {1: (1, "index"), 2: (2, "index"), 3: (4, "index"),  # 4.3.3.4.1, table 4-4
             4: (1, "size"), 5: (2, "size"), 6: (4, "size")}


def _uint(stream: io.BytesIO, width: int, protocol: str, path: tuple[str | int, ...]) -> int:
    raw = stream.read(width)
    if len(raw) < width:
        raise TruncatedError(protocol, path, stream.tell(), "input ends inside an object prefix")
    return int.from_bytes(raw, "little")


def decode_fragment_declarative(data: bytes,
                                protocol: str = "dnp3-app") -> ApplicationRequest | ApplicationResponse:
    """A whole application fragment by the Construct definitions (4.2, 4.3, clause 11)."""
    data = bytes(data)
    n = len(data)
    stream = io.BytesIO(data)
    head = _run(protocol, APPLICATION_HEADER, stream, ("function",) if n else ("control",))
    function = FunctionCode(head.function)
    values = function.is_response or function not in HEADER_ONLY_REQUESTS
    headers = []
    i = 0
    while stream.tell() < n:
        path: tuple[str | int, ...] = ("objects", i)
        hpos = stream.tell()
        h = _run(protocol, OBJECT_HEADER_FIELDS, stream, path)
        g, v, q = h.group, h.variation, h.qualifier
        rng = h.range or {}
        start, stop, count = rng.get("start"), rng.get("stop"), rng.get("count")
        number = count if count is not None else (stop - start + 1 if start is not None else 0)
        pwidth, pkind = _PREFIXES.get(q.prefix, (0, "none"))
        gv = (g, v)
        known = gv in OBJECTS or gv in PACKED or gv in CLASS_OBJECTS or (g == 0 and v) or \
            (g in (110, 111, 112, 113) and v) or ((gv in FREE_OBJECTS or gv in RAW_FREE) and pkind == "size")
        if values and not known:
            raise DecodeError(protocol, (*path, "variation"), hpos + 1,
                              f"group {g} variation {v} is unknown")
        left = n - stream.tell()
        points: list[Point] = []
        if not values or gv in CLASS_OBJECTS:
            if pkind == "size":
                raise DecodeError(protocol, (*path, "qualifier"), hpos + 2, "a size prefix without values")
            if pkind == "index":
                if number * pwidth > left:
                    raise TruncatedError(protocol, (*path, "points"), n, "index prefixes announced")
                points = [Point(index=_uint(stream, pwidth, protocol, (*path, "points")))
                          for _ in range(number)]
        elif gv in PACKED:
            if pkind != "none":
                raise DecodeError(protocol, (*path, "qualifier"), hpos + 2, "packed objects take no prefix")
            bits = PACKED[gv]
            octets = stream.read(-(-number * bits // 8))
            if len(octets) * 8 < number * bits:
                raise TruncatedError(protocol, (*path, "points"), n, "packed objects announced")
            for k in range(number):
                raw = octets[k * bits // 8] >> (k * bits % 8) & ((1 << bits) - 1)
                points.append(Point(index=None if start is None else start + k,
                                    values={"state": bool(raw) if bits == 1 else raw}))
        else:
            body = OBJECTS.get(gv)
            least = pwidth + (body.sizeof() if body is not None else 0) + (2 if g == 0 else 0) + \
                (v if g in (110, 111, 112, 113) else 0)
            if number * least > left:
                raise TruncatedError(protocol, (*path, "points"), n, "objects announced")
            for k in range(number):
                index = None if start is None else start + k
                if pkind == "index":
                    index = _uint(stream, pwidth, protocol, (*path, "points", k))
                elif pkind == "size":
                    size = _uint(stream, pwidth, protocol, (*path, "points", k, "size"))
                    if gv in FREE_OBJECTS or gv in RAW_FREE:
                        at = stream.tell()
                        value = stream.read(size)
                        if len(value) < size:
                            raise TruncatedError(protocol, (*path, "points", k, "size"), n, "size prefix")
                        try:
                            points.append(Point(index=index, values=_free_values(gv, value)))
                        except cs.ConstructError as err:
                            raise DecodeError(protocol, (*path, "points", k), at,
                                              str(err).split("\n", 1)[-1]) from None
                        continue
                    want = body.sizeof() if body is not None else (v if g in (110, 111, 112, 113) else -1)
                    if size != want:
                        raise DecodeError(protocol, (*path, "points", k, "size"), stream.tell() - pwidth,
                                          f"size prefix {size}, object size {want}")
                if g == 0:
                    a = _run(protocol, ATTRIBUTE, stream, (*path, "points", k, "value"))
                    points.append(Point(index=index, values={"data_type": a.data_type, "value": a.value}))
                elif g in (110, 111, 112, 113):
                    points.append(Point(index=index, values={"value": stream.read(v)}))
                else:
                    assert body is not None
                    parsed = body.parse_stream(stream)
                    points.append(Point(index=index, values={k2: v2 for k2, v2 in parsed.items()
                                                             if not k2.startswith("_")}))
        headers.append(ObjectHeader(group=g, variation=v, qualifier=q.prefix << 4 | q.range, start=start,
                                    stop=stop, count=count, points=tuple(points)))
        i += 1
    c = head.control
    if function.is_response:
        return ApplicationResponse(fir=c.fir, fin=c.fin, con=c.con, uns=c.uns, seq=c.seq, function=function,
                                   iin=head.iin, objects=tuple(headers))
    return ApplicationRequest(fir=c.fir, fin=c.fin, con=c.con, uns=c.uns, seq=c.seq, function=function,
                              objects=tuple(headers))


# --- building: the same definitions, the other way ------------------------------------------------

_PREFIX_INT: Final = {1: Int8ub, 2: Int16ul, 3: Int32ul, 4: Int8ub, 5: Int16ul, 6: Int32ul}


def _range_value(h: ObjectHeader, rng: int) -> tuple[dict[str, int] | None, int]:
    """The header's range field as the Construct definition takes it, and how many objects it names."""
    if rng <= 5:
        if h.start is None or h.stop is None or h.start > h.stop:
            raise ValueError("a start/stop range needs start <= stop")
        return {"start": h.start, "stop": h.stop}, h.stop - h.start + 1
    if rng == 6:
        return None, 0
    if h.count is None:
        raise ValueError("a count range needs a count")
    return {"count": h.count}, h.count


def _object_octets(gv: tuple[int, int], values: dict[str, Any]) -> bytes:
    g, v = gv
    built: bytes
    if gv in RAW_FREE:
        return bytes(values["value"])
    if gv in FREE_OBJECTS:
        given = dict(values)
        if gv == (86, 1):
            given["elements"] = [{"code": c, "data_type": t, "maximum": m, "ancillary": a}
                                 for c, t, m, a in values["elements"]]
        built = FREE_OBJECTS[gv].build(given)
        return built
    if g == 0:
        built = ATTRIBUTE.build(values)
        return built
    if g in (110, 111, 112, 113):
        octets = bytes(values["value"])
        if len(octets) != v:
            raise ValueError(f"{len(octets)} octets; variation {v} says {v}")
        return octets
    built = OBJECTS[gv].build(values)
    return built


def _known(gv: tuple[int, int], prefix: int) -> bool:
    g, v = gv
    free = (gv in FREE_OBJECTS or gv in RAW_FREE) and prefix in (4, 5, 6)
    return gv in OBJECTS or gv in PACKED or gv in CLASS_OBJECTS or (g == 0 and v != 0) or \
        (g in (110, 111, 112, 113) and v != 0) or free


def encode_fragment_declarative(fragment: Fragment, protocol: str = "dnp3-app") -> bytes:
    """The octets of ``fragment``, built by the Construct definitions (the oracle of
    :func:`~.application.encode_fragment`): ``EncodeError`` for what they cannot build."""
    f = fragment
    response = isinstance(f, ApplicationResponse)
    function = int(f.function)
    if response != (function >= 129):
        raise EncodeError(protocol, ("function",), f"function {function} in an {type(f).__name__}")
    try:
        out = bytearray(APPLICATION_HEADER.build({
            "control": {"fir": f.fir, "fin": f.fin, "con": f.con, "uns": f.uns, "seq": f.seq},
            "function": function, "iin": f.iin if isinstance(f, ApplicationResponse) else None}))
    except (cs.ConstructError, ValueError, TypeError) as err:
        raise EncodeError(protocol, ("header",), str(err).split("\n", 1)[-1]) from None
    values = response or FunctionCode(function) not in HEADER_ONLY_REQUESTS
    for i, h in enumerate(f.objects):
        path: tuple[str | int, ...] = ("objects", i)
        try:
            out += _build_header(h, values)
        except (cs.ConstructError, ValueError, TypeError, KeyError, OverflowError) as err:
            raise EncodeError(protocol, path, f"{type(err).__name__}: {str(err).split(chr(10), 1)[-1]}") \
                from None
    return bytes(out)


def _build_header(h: ObjectHeader, values: bool) -> bytes:
    q = h.qualifier
    prefix, rng = q >> 4 & 7, q & 0x0F
    range_value, number = _range_value(h, rng) if rng in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xB) else (None, 0)
    out = bytearray(OBJECT_HEADER_FIELDS.build({
        "group": h.group, "variation": h.variation,
        "qualifier": {"reserved": bool(q & 0x80), "prefix": prefix, "range": rng}, "range": range_value}))
    gv = (h.group, h.variation)
    if values and not _known(gv, prefix):
        raise ValueError(f"group {h.group} variation {h.variation} is not in the object library")
    bodiless = not values or gv in CLASS_OBJECTS
    want = number if (not bodiless or prefix in (1, 2, 3)) else 0
    if len(h.points) != want:
        raise ValueError(f"{len(h.points)} points; the range says {want}")
    if bodiless:
        if prefix in (4, 5, 6):
            raise ValueError("a size prefix without object values")
        for p in h.points:
            out += _PREFIX_INT[prefix].build(p.index) if prefix else b""
        return bytes(out)
    if gv in PACKED:
        if prefix:
            raise ValueError("packed objects take no prefix")
        bits = PACKED[gv]
        packed = bytearray(-(-number * bits // 8))
        for k, p in enumerate(h.points):
            state = int(p.values["state"])
            if not 0 <= state < 1 << bits:
                raise ValueError(f"state {state} does not fit {bits} bits")
            packed[k * bits // 8] |= state << (k * bits % 8)
        return bytes(out + packed)
    for p in h.points:
        body = _object_octets(gv, p.values)
        if prefix in (1, 2, 3):
            if p.index is None:
                raise ValueError("an index prefix needs each point's index")
            out += _PREFIX_INT[prefix].build(p.index)
        elif prefix:
            if h.group == 0:
                raise ValueError("device attributes take no size")
            out += _PREFIX_INT[prefix].build(len(body))
        out += body
    return bytes(out)
