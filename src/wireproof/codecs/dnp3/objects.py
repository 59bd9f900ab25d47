"""DNP3 object headers and their objects (IEEE 1815-2012 4.3.3-4.3.4), hand-written fast path.

An object header is GROUP, VARIATION, QUALIFIER and a range field. The
qualifier's bits 6..4 are the object prefix code (0 none; 1, 2, 3 an index
of 1, 2, 4 octets; 4, 5, 6 an object size of 1, 2, 4 octets; 7 reserved)
and bits 3..0 the range specifier code (0..2 start/stop indexes of 1, 2, 4
octets; 3..5 start/stop virtual addresses of 1, 2, 4 octets; 6 no range
field, all objects; 7..9 a count of 1, 2, 4 octets; 0xB a 1-octet count of
variable-sized objects, each with a size prefix; others reserved); bit 7 is
reserved (4.3.3.4, tables 4-4 and 4-5). Qualifiers 0x00-0x08, 0x17, 0x28,
0x39 and 0x5B are the ones in use.

Headers in a request that names points without values (:data:`HEADER_ONLY_REQUESTS`)
carry only their range and index prefixes; every other header is followed
by its objects, laid out as the object library says (:mod:`.library`). No
count is believed further than the bytes at hand: every allocation is
bounded by the input's length. Free-format objects (size prefix, groups
70, 86-88, 120) are decoded into fields by :mod:`.free_format`.

Speed: each header is read by a plan cached per (group, variation,
qualifier) octets (:func:`_plan`: the range layout, the prefix, a
``struct`` of one prefix and object, whether values are packed), which
reads a whole run of fixed-size objects with one ``iter_unpack``; a plan
only reads what is well-formed, and anything else (an error, device
attributes, size prefixes, octet strings) goes to the general reader,
:func:`_decode_header`, which says exactly what is wrong.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from wireproof.codecs.dnp3.free_format import FreeFormatError, decode_free, encode_free
from wireproof.codecs.dnp3.library import ObjectSpec, free_format, lookup
from wireproof.codecs.dnp3.messages import ObjectHeader, Point, new_header, new_point
from wireproof.errors import DecodeError, EncodeError, TruncatedError

__all__ = ["PREFIX_WIDTH", "RANGE_WIDTH", "decode_objects", "encode_objects"]

# Range specifier code -> (kind, octets) (4.3.3.4.2, table 4-5).
RANGE_WIDTH: Final[dict[int, tuple[str, int]]] = {
    0: ("start_stop", 1), 1: ("start_stop", 2), 2: ("start_stop", 4),
    3: ("start_stop", 1), 4: ("start_stop", 2), 5: ("start_stop", 4),
    6: ("all", 0), 7: ("count", 1), 8: ("count", 2), 9: ("count", 4), 0xB: ("count", 1),
}
# Object prefix code -> (kind, octets) (4.3.3.4.1, table 4-4).
PREFIX_WIDTH: Final[dict[int, tuple[str, int]]] = {
    0: ("none", 0), 1: ("index", 1), 2: ("index", 2), 3: ("index", 4),
    4: ("size", 1), 5: ("size", 2), 6: ("size", 4),
}


def _uint(data: bytes, pos: int, width: int) -> int:
    return int.from_bytes(data[pos:pos + width], "little")


_U: Final = {1: struct.Struct("<B"), 2: struct.Struct("<H"), 4: struct.Struct("<I")}
_START_STOP: Final = {1: struct.Struct("<BB"), 2: struct.Struct("<HH"), 4: struct.Struct("<II")}
# (prefix code, range code) of each valid qualifier octet, None for the invalid ones (see _qualifier).
_QUALIFIERS: Final[tuple[tuple[int, int] | None, ...]] = tuple(
    (q >> 4 & 7, q & 0x0F) if not q & 0x80 and q >> 4 & 7 in PREFIX_WIDTH and q & 0x0F in RANGE_WIDTH
    and (q & 0x0F != 0xB or PREFIX_WIDTH[q >> 4 & 7][0] == "size") and (q & 0x0F != 6 or not q >> 4 & 7)
    else None for q in range(256))
# Packed objects: for each octet, its 8 (1 bit) or 4 (2 bits) object values, lowest first (4.3.4.3).
# Any: bools must stay bools in a compiled (mypyc) build, which would store them as native ints.
_UNPACKED: Final[dict[int, tuple[tuple[Any, ...], ...]]] = {
    1: tuple(tuple(bool(o >> i & 1) for i in range(8)) for o in range(256)),
    2: tuple(tuple(o >> i & 3 for i in range(0, 8, 2)) for o in range(256)),
}
_ROWS: dict[tuple[int, int, int], tuple[struct.Struct, tuple[Any, ...], int]] = {}


def _rows(spec: ObjectSpec, pwidth: int) -> tuple[struct.Struct, tuple[Any, ...], int]:
    """(struct of one prefix + object, field names, how time fields are joined) for ``spec``: 0 none,
    2 one time field, the last (its two words end the row), 1 any other way (:meth:`ObjectSpec.unpack`)."""
    key = (spec.group, spec.variation, pwidth)
    row = _ROWS.get(key)
    if row is None:
        fmt = spec.codec.format[1:]
        prefix = {0: "", 1: "B", 2: "H", 4: "I"}[pwidth]
        codes = [code for _, code in spec.fields]
        timed = 0 if "T" not in codes else 2 if codes.count("T") == 1 and codes[-1] == "T" else 1
        names: tuple[Any, ...] = tuple(name for name, _ in spec.fields)
        if timed == 1:  # (field, its item in the row, a time of two items?), the prefix counted
            triples = []
            item = 1 if pwidth else 0
            for name, code in spec.fields:
                triples.append((name, item, code == "T"))
                item += 2 if code == "T" else 1
            names = tuple(triples)
        row = (struct.Struct("<" + prefix + fmt), names, timed)
        if len(_ROWS) < 4096:
            _ROWS[key] = row
    return row


def _qualifier(protocol: str, q: int, path: tuple[str | int, ...], offset: int) -> tuple[int, int]:
    """(prefix code, range code) of qualifier ``q``; DecodeError for reserved codes and bad pairs."""
    if q & 0x80:
        raise DecodeError(protocol, path, offset, f"qualifier 0x{q:02x}: reserved bit 7 is set (4.3.3.4)")
    prefix, rng = q >> 4 & 7, q & 0x0F
    if prefix not in PREFIX_WIDTH:
        raise DecodeError(protocol, path, offset, f"qualifier 0x{q:02x}: object prefix code 7 is reserved")
    if rng not in RANGE_WIDTH:
        raise DecodeError(protocol, path, offset, f"qualifier 0x{q:02x}: range specifier code {rng} is "
                                                  "reserved (4.3.3.4.2)")
    if rng == 0xB and PREFIX_WIDTH[prefix][0] != "size":
        raise DecodeError(protocol, path, offset,
                          f"qualifier 0x{q:02x}: range code 0xB needs an object size prefix (4..6)")
    if rng == 6 and prefix:
        raise DecodeError(protocol, path, offset,
                          f"qualifier 0x{q:02x}: range code 6 (all objects) takes no object prefix")
    return prefix, rng


def _decode_header(protocol: str, data: bytes, pos: int, values: bool, i: int) -> tuple[ObjectHeader, int]:
    """Object header ``i`` at ``data[pos:]`` and its objects, every case and every error (4.3.3, 4.3.4);
    the position after it."""
    n = len(data)
    hpos = pos
    if n - pos < 3:
        raise TruncatedError(protocol, ("objects", i), n, "input ends inside an object header (group, "
                             "variation, qualifier)")
    group, variation, q = data[pos], data[pos + 1], data[pos + 2]
    codes = _QUALIFIERS[q]
    if codes is None:
        codes = _qualifier(protocol, q, ("objects", i, "qualifier"), pos + 2)
    prefix, rng = codes
    pos += 3
    kind, width = RANGE_WIDTH[rng]
    start = stop = count = None
    if kind == "start_stop":
        if n - pos < 2 * width:
            raise TruncatedError(protocol, ("objects", i, "range"), n, "input ends inside the range field")
        start, stop = _START_STOP[width].unpack_from(data, pos)
        if start > stop:
            raise DecodeError(protocol, ("objects", i, "range"), pos,
                              f"start {start} is greater than stop {stop} (4.3.3.4.2)")
        pos += 2 * width
        number = stop - start + 1
    elif kind == "count":
        if n - pos < width:
            raise TruncatedError(protocol, ("objects", i, "range"), n, "input ends inside the range field")
        count = number = _U[width].unpack_from(data, pos)[0]
        pos += width
    else:
        number = 0
    pkind, pwidth = PREFIX_WIDTH[prefix]
    spec = lookup(group, variation) if values else None
    if values and spec is None and pkind == "size":
        spec = free_format(group, variation)
    if values and spec is None:
        raise DecodeError(protocol, ("objects", i, "variation"), hpos + 1,
                          f"group {group} variation {variation} is not in the object library: "
                          "its objects cannot be delimited")
    points: tuple[Point, ...] | list[Point] = ()
    if spec is None or (spec.size == 0 and not spec.bits and not spec.variable and not spec.free):
        # No object values: only index prefixes (a read by index list) follow.
        if pkind == "size":
            raise DecodeError(protocol, ("objects", i, "qualifier"), hpos + 2,
                              f"qualifier 0x{q:02x}: a size prefix in a header without object values")
        if pkind == "index":
            if number * pwidth > n - pos:
                raise TruncatedError(protocol, ("objects", i, "points"), n,
                                     f"{number} index prefixes of {pwidth} octets announced, "
                                     f"{n - pos} octets left")
            points = tuple(Point(index=_uint(data, pos + k * pwidth, pwidth)) for k in range(number))
            pos += number * pwidth
    elif spec.bits:
        if pkind != "none":
            raise DecodeError(protocol, ("objects", i, "qualifier"), hpos + 2,
                              f"qualifier 0x{q:02x}: packed objects take no prefix (4.3.4.3)")
        bits = spec.bits
        size = -(-number * bits // 8)
        if size > n - pos:
            raise TruncatedError(protocol, ("objects", i, "points"), n,
                                 f"{number} packed objects need {size} octets, {n - pos} left")
        table = _UNPACKED[bits]
        states: list[Any] = [v for o in data[pos:pos + size] for v in table[o]]
        first = 0 if start is None else start
        if start is None:
            points = [new_point(None, {"state": states[k]}) for k in range(number)]
        else:
            points = [new_point(first + k, {"state": states[k]}) for k in range(number)]
        pos += size
    elif pkind != "size" and not spec.variable and not spec.free:
        least = pwidth + spec.size
        if number * least > n - pos:
            raise TruncatedError(protocol, ("objects", i, "points"), n,
                                 f"{number} objects of at least {least} octets announced, "
                                 f"{n - pos} octets left")
        row, names, timed = _rows(spec, pwidth)
        end = pos + number * least
        raws = row.iter_unpack(data[pos:end]) if number else ()
        if timed:
            points = [new_point(r[0] if pwidth else (None if start is None else start + k),
                           spec.unpack(data, pos + k * least + pwidth)) for k, r in enumerate(raws)]
        elif pwidth:
            points = [new_point(r[0], dict(zip(names, r[1:], strict=True))) for r in raws]
        elif start is None:
            points = [new_point(None, dict(zip(names, r, strict=True))) for r in raws]
        else:
            points = [new_point(start + k, dict(zip(names, r, strict=True))) for k, r in enumerate(raws)]
        pos = end
    else:
        points, pos = _decode_points(protocol, data, pos, spec, number, start, pkind, pwidth, ("objects", i))
    return new_header(group, variation, q, start, stop, count, tuple(points)), pos


_NONE, _INDEX, _PACKED, _FIXED = range(4)
# Plans by the header's first three octets as one integer: one table for headers with object
# values, one for those without (a read and its kin).
_PLANS: Final[dict[bool, dict[int, tuple[Any, ...] | None]]] = {True: {}, False: {}}
_MAX_PLANS: Final = 8192
_RANGE_STRUCT: Final = {1: struct.Struct("<BB"), 2: struct.Struct("<HH"), 4: struct.Struct("<II")}


def _plan(key: bytes, values: bool) -> tuple[Any, ...] | None:
    """How to read a header that starts with ``key`` (group, variation, qualifier) when all is well:
    None when the general path must (an error, device attributes, size prefixes, octet strings)."""
    group, variation, q = key
    codes = _QUALIFIERS[q]
    if codes is None:
        return None
    prefix, rng = codes
    kind, width = RANGE_WIDTH[rng]
    rk = 1 if kind == "start_stop" else 2 if kind == "count" else 0
    rs = _RANGE_STRUCT[width] if rk == 1 else _U[width] if rk == 2 else None
    rw = 2 * width if rk == 1 else width
    pkind, pwidth = PREFIX_WIDTH[prefix]
    if pkind == "size":
        return None
    spec = lookup(group, variation) if values else None
    if values and spec is None:
        return None
    mode: int
    row: Any = None
    names: tuple[str, ...] = ()
    timed = 0
    if spec is None or (spec.size == 0 and not spec.bits and not spec.variable and not spec.free):
        mode = _INDEX if pkind == "index" else _NONE
    elif spec.bits:
        if pkind != "none":
            return None
        mode = _PACKED
    elif spec.variable or spec.free:
        return None
    else:
        mode = _FIXED
        row, names, timed = _rows(spec, pwidth)
    constant = new_header(group, variation, q, None, None, None, ()) if mode == _NONE and rk == 0 else None
    return (constant, mode, group, variation, q, rk, rs, rw, pwidth, spec, row, names, timed,
            pwidth + (spec.size if spec is not None else 0))


_MISSING: Final[Any] = object()


def decode_objects(protocol: str, data: bytes, pos: int, *, values: bool) -> tuple[ObjectHeader, ...]:
    """The object headers from ``data[pos:]`` to its end. ``values``: headers carry their objects.

    Offsets in errors are offsets in ``data``. Each header is read by a plan cached for its
    group, variation and qualifier (:func:`_plan`) while all is well; anything else (an error, a
    layout the plans leave out) goes to the general reader, :func:`_decode_header`.
    """
    n = len(data)
    out: list[ObjectHeader] = []
    i = 0
    plans = _PLANS[values]
    while pos < n:
        if n - pos < 3:
            plan = None
        else:
            key = data[pos] << 16 | data[pos + 1] << 8 | data[pos + 2]
            plan = plans.get(key, _MISSING)
            if plan is _MISSING:
                plan = _plan(data[pos:pos + 3], values)
                if len(plans) < _MAX_PLANS:
                    plans[key] = plan
        if plan is None:
            header, pos = _decode_header(protocol, data, pos, values, i)
            out.append(header)
            i += 1
            continue
        constant = plan[0]
        if constant is not None:  # no range, no objects: the same header every time (immutable)
            out.append(constant)
            pos += 3
            i += 1
            continue
        _, mode, group, variation, q, rk, rs, rw, pwidth, spec, row, names, timed, least = plan
        p = pos + 3
        start = stop = count = None
        number = 0
        if rk:
            if n - p < rw:
                break
            if rk == 1:
                start, stop = rs.unpack_from(data, p)
                if start > stop:
                    break
                number = stop - start + 1
            else:
                count = number = rs.unpack_from(data, p)[0]
            p += rw
        points: Any = ()
        if mode == _FIXED:
            end = p + number * least
            if end > n:
                break
            raws = row.iter_unpack(data[p:end]) if number else ()
            if timed == 2:  # the time is the last field: its two words are the row's last two items
                *first, last = names
                o = 1 if pwidth else 0
                points = tuple([new_point(r[0] if pwidth else (None if start is None else start + k),
                                     {**dict(zip(first, r[o:-2], strict=True)), last: r[-2] | r[-1] << 32})
                                for k, r in enumerate(raws)])
            elif timed:  # names: (field, item in the row, a time?) triples (see _rows)
                points = tuple([new_point(r[0] if pwidth else (None if start is None else start + k),
                                     {name: r[i] | r[i + 1] << 32 if t else r[i] for name, i, t in names})
                                for k, r in enumerate(raws)])
            elif len(names) == 1:  # the common shapes as dict displays: several times dict(zip())'s speed
                n0 = names[0]
                if pwidth:
                    points = tuple([new_point(i, {n0: a}) for i, a in raws])
                elif start is None:
                    points = tuple([new_point(None, {n0: a}) for (a,) in raws])
                else:
                    points = tuple([new_point(start + k, {n0: a}) for k, (a,) in enumerate(raws)])
            elif len(names) == 2:
                n0, n1 = names
                if pwidth:
                    points = tuple([new_point(i, {n0: a, n1: b}) for i, a, b in raws])
                elif start is None:
                    points = tuple([new_point(None, {n0: a, n1: b}) for a, b in raws])
                else:
                    points = tuple([new_point(start + k, {n0: a, n1: b}) for k, (a, b) in enumerate(raws)])
            elif pwidth:
                points = tuple([new_point(r[0], dict(zip(names, r[1:], strict=True))) for r in raws])
            elif start is None:
                points = tuple([new_point(None, dict(zip(names, r, strict=True))) for r in raws])
            else:
                points = tuple([new_point(start + k, dict(zip(names, r, strict=True)))
                                for k, r in enumerate(raws)])
            p = end
        elif mode == _PACKED:
            bits = spec.bits
            size = -(-number * bits // 8)
            if size > n - p:
                break
            table = _UNPACKED[bits]
            # Any: a compiled (mypyc) build would otherwise store bools as native ints (False -> 0).
            states: list[Any] = [v for o in data[p:p + size] for v in table[o]]
            if start is None:
                points = tuple([new_point(None, {"state": states[k]}) for k in range(number)])
            else:
                points = tuple([new_point(start + k, {"state": states[k]}) for k in range(number)])
            p += size
        elif mode == _INDEX:
            end = p + number * pwidth
            if end > n:
                break
            points = tuple([new_point(x, {}) for (x,) in _U[pwidth].iter_unpack(data[p:end])]) \
                if number else ()
            p = end
        out.append(new_header(group, variation, q, start, stop, count, points))
        pos = p
        i += 1
    else:
        return tuple(out)
    # The plan met something wrong: the general reader says what, with its offset.
    _decode_header(protocol, data, pos, values, i)
    raise AssertionError("unreachable: the general reader accepted what the plan refused")  # pragma: no cover


def _bit(v: int, bits: int) -> bool | int:
    return bool(v) if bits == 1 else v


def _decode_points(protocol: str, data: bytes, pos: int, spec: ObjectSpec, number: int, start: int | None,
                   pkind: str, pwidth: int, path: tuple[str | int, ...]) -> tuple[tuple[Point, ...], int]:
    n = len(data)
    least = pwidth + (2 if spec.variable else spec.size)
    if number * least > n - pos:
        raise TruncatedError(protocol, (*path, "points"), n,
                             f"{number} objects of at least {least} octets announced, {n - pos} octets left")
    points: list[Point] = []
    for k in range(number):
        index = None if start is None else start + k
        if pkind == "index":
            index = _uint(data, pos, pwidth)
        elif pkind == "size":
            size = _uint(data, pos, pwidth)
            if spec.free:  # free-format: the prefix is the size
                if size > n - pos - pwidth:
                    raise TruncatedError(protocol, (*path, "points", k, "size"), n,
                                         f"size prefix {size}, {n - pos - pwidth} octets left")
                pos += pwidth
                try:
                    values = decode_free(spec.group, spec.variation, data[pos:pos + size])
                except FreeFormatError as err:
                    raise DecodeError(protocol, (*path, "points", k, err.field), pos + err.offset,
                                      err.reason) from None
                points.append(Point(index=index, values=values))
                pos += size
                continue
            if spec.variable or size != spec.size:
                raise DecodeError(protocol, (*path, "points", k, "size"), pos,
                                  f"size prefix {size}; group {spec.group} variation {spec.variation} "
                                  f"objects are {spec.size if not spec.variable else 'not size-prefixed'}")
        pos += pwidth
        if spec.variable:
            if n - pos < 2:
                raise TruncatedError(protocol, (*path, "points", k), n,
                                     "input ends inside a device attribute")
            dtype, length = data[pos], data[pos + 1]
            if n - pos - 2 < length:
                raise TruncatedError(protocol, (*path, "points", k, "value"), n,
                                     f"attribute length {length}, {n - pos - 2} octets left")
            points.append(Point(index=index, values={"data_type": dtype,
                                                     "value": bytes(data[pos + 2:pos + 2 + length])}))
            pos += 2 + length
        else:
            points.append(Point(index=index, values=spec.unpack(data, pos)))
            pos += spec.size
    return tuple(points), pos


def encode_objects(protocol: str, headers: tuple[ObjectHeader, ...], *, values: bool) -> bytes:
    """The octets of ``headers`` (the inverse of :func:`decode_objects`)."""
    out = bytearray()
    for i, h in enumerate(headers):
        path: tuple[str | int, ...] = ("objects", i)
        try:
            prefix, rng = _qualifier(protocol, h.qualifier, (*path, "qualifier"), 0)
        except DecodeError as err:
            raise EncodeError(protocol, err.path, err.reason) from None
        if not (0 <= h.group <= 255 and 0 <= h.variation <= 255):
            raise EncodeError(protocol, path, f"group {h.group} / variation {h.variation} not in 0..255")
        out += bytes((h.group, h.variation, h.qualifier))
        kind, width = RANGE_WIDTH[rng]
        try:
            if kind == "start_stop":
                if h.start is None or h.stop is None or h.start > h.stop:
                    raise EncodeError(protocol, (*path, "range"), "start/stop range needs start <= stop")
                out += h.start.to_bytes(width, "little") + h.stop.to_bytes(width, "little")
                number = h.stop - h.start + 1
            elif kind == "count":
                if h.count is None:
                    raise EncodeError(protocol, (*path, "range"), "count range needs a count")
                out += h.count.to_bytes(width, "little")
                number = h.count
            else:
                number = 0
        except OverflowError:
            raise EncodeError(protocol, (*path, "range"), f"range does not fit {width} octets") from None
        pkind, pwidth = PREFIX_WIDTH[prefix]
        spec = lookup(h.group, h.variation) if values else None
        if values and spec is None and pkind == "size":
            spec = free_format(h.group, h.variation)
        if values and spec is None:
            raise EncodeError(protocol, (*path, "variation"),
                              f"group {h.group} variation {h.variation} is not in the object library")
        bodiless = spec is None or (spec.size == 0 and not spec.bits and not spec.variable and not spec.free)
        want = number if (not bodiless or pkind == "index") else 0
        if len(h.points) != want:
            raise EncodeError(protocol, (*path, "points"), f"{len(h.points)} points; the range says {want}")
        try:
            if bodiless:
                if pkind == "size":
                    raise EncodeError(protocol, (*path, "qualifier"), "a size prefix without object values")
                for p in h.points:
                    out += _index(p).to_bytes(pwidth, "little")
            elif spec is not None and spec.bits:
                if pkind != "none":
                    raise EncodeError(protocol, (*path, "qualifier"), "packed objects take no prefix")
                packed = bytearray(-(-number * spec.bits // 8))
                for k, p in enumerate(h.points):
                    v = int(p.values["state"])
                    if not 0 <= v < 1 << spec.bits:
                        raise EncodeError(protocol, (*path, "points", k), f"state {v} does not fit")
                    packed[k * spec.bits // 8] |= v << (k * spec.bits % 8)
                out += packed
            elif spec is not None:
                for k, p in enumerate(h.points):
                    if pkind == "index":
                        out += _index(p).to_bytes(pwidth, "little")
                    elif pkind == "size" and spec.free:
                        value = encode_free(spec.group, spec.variation, p.values)
                        out += len(value).to_bytes(pwidth, "little") + value
                        continue
                    elif pkind == "size":
                        if spec.variable:
                            raise EncodeError(protocol, (*path, "points", k),
                                              "device attributes take no size")
                        out += spec.size.to_bytes(pwidth, "little")
                    if spec.variable:
                        value = bytes(p.values["value"])
                        if len(value) > 255:
                            raise EncodeError(protocol, (*path, "points", k), "attribute longer than 255")
                        out += bytes((int(p.values["data_type"]), len(value))) + value
                    else:
                        out += spec.pack(p.values)
        except (KeyError, struct.error, OverflowError, TypeError, ValueError) as bad:
            # its own name: mypyc types an except variable once per function (mypyc/mypyc#620)
            if isinstance(bad, EncodeError):
                raise
            raise EncodeError(protocol, (*path, "points"), f"{type(bad).__name__}: {bad}") from None
    return bytes(out)


def _index(p: Point) -> int:
    if p.index is None:
        raise ValueError("an index prefix needs each point's index")
    return p.index
