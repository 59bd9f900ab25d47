"""DNP3, declaratively: Construct definitions of the link frame and the transport, application and
object headers (the oracle the hand-written decoders are differentially tested against).

This module is the layout of IEEE 1815-2012 in executable form: the FT3
frame of 9.2.4 (:data:`LINK_HEADER`, :data:`LINK_BODY`: a header whose CRC
covers its first 8 octets, then user data in CRC-checked blocks of 16), the
transport header of 8.2.1 (:data:`TRANSPORT_HEADER`), the application
header of 4.2.2 (:data:`APPLICATION_HEADER`) and the object header of
4.3.3 with every range specifier and index prefix (:data:`OBJECT_HEADER`).
Each check sits right after the field it judges, which fixes the error
order the fast path follows. The same definitions build:
:func:`encode_link_declarative` lets the ``Checksum`` fields compute the
header and block CRCs, the oracle of :func:`~.link.encode_link`. The object *values* (the library, clause 11)
and whole fragments are in :mod:`.library_formats`;
:func:`decode_request_declarative` here covers the requests whose headers
carry none.

Construct ``Container``s never leave this module; its functions speak messages.
"""

from __future__ import annotations

import io
from typing import Any, Final

import construct as cs
from construct import (
    Array,
    BitsInteger,
    BitStruct,
    Bytes,
    Check,
    Checksum,
    Const,
    Flag,
    If,
    Int8ub,
    Int16ub,
    Int16ul,
    Int32ul,
    RawCopy,
    Struct,
    Switch,
    this,
)

from wireproof.codecs.dnp3 import constants as C
from wireproof.codecs.dnp3.constants import (
    HEADER_ONLY_REQUESTS,
    FunctionCode,
    PrimaryFunction,
    SecondaryFunction,
)
from wireproof.codecs.dnp3.link import crc16_dnp, frame_size
from wireproof.codecs.dnp3.messages import ApplicationRequest, LinkFrame, ObjectHeader, Point, TransportHeader
from wireproof.errors import ChecksumError, DecodeError, EncodeError, TrailingDataError, TruncatedError

__all__ = ["APPLICATION_HEADER", "LINK_BODY", "LINK_HEADER", "OBJECT_HEADER", "OBJECT_HEADER_FIELDS",
           "TRANSPORT_HEADER",
           "decode_link_declarative", "decode_request_declarative", "encode_link_declarative"]

LINK_FIELDS: Final = Struct(
    "start0" / Const(b"\x05"),  # 9.2.4.1.1
    "start1" / Const(b"\x64"),
    "length" / Int8ub,
    Check(this.length >= C.MIN_LINK_LENGTH),  # 9.2.4.1.2
    "control" / BitStruct("dir" / Flag, "prm" / Flag, "fcb" / Flag, "fcv" / Flag,
                          "function" / BitsInteger(4)),
    "destination" / Int16ul,
    "source" / Int16ul,
)
LINK_HEADER: Final = Struct(
    "fields" / RawCopy(LINK_FIELDS),
    "crc" / Checksum(Int16ul, crc16_dnp, this.fields.data),  # 9.2.4.1.5: CRC-16/DNP, low octet first
)


def _up(ctx: Any, name: str) -> Any:
    """``name`` from the nearest enclosing context that has it (the header's length, the block index)."""
    while name not in ctx:
        ctx = ctx._
    return ctx[name]


def _block_size(ctx: Any) -> int:
    data: int = _up(ctx, "length") - C.MIN_LINK_LENGTH
    index: int = _up(ctx, "_index")
    return min(C.BLOCK_SIZE, data - C.BLOCK_SIZE * index)


_BLOCK: Final = Struct("data" / Bytes(_block_size), "crc" / Checksum(Int16ul, crc16_dnp, this.data))
LINK_BODY: Final = Struct(  # parsed with the header's length in the context ("length")
    # 9.2.4.2: one block a started 16 octets of user data
    "blocks" / Array(lambda ctx: -(-(_up(ctx, "length") - C.MIN_LINK_LENGTH) // C.BLOCK_SIZE), _BLOCK),
)

TRANSPORT_HEADER: Final = BitStruct("fin" / Flag, "fir" / Flag, "seq" / BitsInteger(6))  # 8.2.1

APPLICATION_HEADER: Final = Struct(  # 4.2.2.1, 4.2.2.2
    "control" / BitStruct("fir" / Flag, "fin" / Flag, "con" / Flag, "uns" / Flag, "seq" / BitsInteger(4)),
    "function" / Int8ub,
    Check(lambda ctx: ctx.function in FunctionCode._value2member_map_),  # 4.2.2.5
    "iin" / If(this.function >= 129, Int16ub),  # 4.2.2.7
)

_START_STOP = {1: Int8ub, 2: Int16ul, 4: Int32ul}


def _start_stop(width: int) -> Struct:
    return Struct("start" / _START_STOP[width], "stop" / _START_STOP[width], Check(this.start <= this.stop))


_PREFIX: Final = Switch(lambda ctx: _up(ctx, "qualifier").prefix, {1: Int8ub, 2: Int16ul, 3: Int32ul})
OBJECT_HEADER_FIELDS: Final = Struct(  # 4.3.3, tables 4-4 and 4-5: group, variation, qualifier, range
    "group" / Int8ub,
    "variation" / Int8ub,
    "qualifier" / BitStruct("reserved" / Flag, "prefix" / BitsInteger(3), "range" / BitsInteger(4)),
    Check(lambda ctx: not ctx.qualifier.reserved and ctx.qualifier.prefix != 7
          and ctx.qualifier.range in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xB)
          and (ctx.qualifier.range != 0xB or ctx.qualifier.prefix in (4, 5, 6))
          and (ctx.qualifier.range != 6 or ctx.qualifier.prefix == 0)),
    "range" / Switch(this.qualifier.range, {
        0: _start_stop(1), 1: _start_stop(2), 2: _start_stop(4),
        3: _start_stop(1), 4: _start_stop(2), 5: _start_stop(4),
        7: Struct("count" / Int8ub), 8: Struct("count" / Int16ul), 9: Struct("count" / Int32ul),
        0xB: Struct("count" / Int8ub),
    }),
)
OBJECT_HEADER: Final = Struct(  # a header without object values: the fields, then the index prefixes
    *OBJECT_HEADER_FIELDS.subcons,
    Check(lambda ctx: ctx.qualifier.prefix not in (4, 5, 6)),  # a size prefix needs object values
    "indexes" / If(lambda ctx: ctx.qualifier.prefix in (1, 2, 3),
                   Array(lambda ctx: ctx.range.count if "count" in ctx.range
                         else ctx.range.stop - ctx.range.start + 1, _PREFIX)),
)


def _run(protocol: str, fmt: cs.Construct, stream: io.BytesIO, path: tuple[str | int, ...],
         **ctx: Any) -> Any:
    """Parse from ``stream``; every failure the DecodeError class the fast path gives for it."""
    start = stream.tell()
    try:
        return fmt.parse_stream(stream, **ctx)
    except cs.ChecksumError as err:
        raise ChecksumError(protocol, path, stream.tell(), str(err).split("\n", 1)[-1]) from None
    except cs.StreamError:
        raise TruncatedError(protocol, path, len(stream.getbuffer()), "input ends inside it") from None
    except cs.ConstructError as err:
        raise DecodeError(protocol, path, start, str(err).split("\n", 1)[-1]) from None


def decode_link_declarative(data: bytes, protocol: str = "dnp3") -> LinkFrame:
    """One FT3 frame, by the Construct definition (transport and application left undecoded)."""
    stream = io.BytesIO(bytes(data))
    head = _run(protocol, LINK_HEADER, stream, ("link",))
    f, ctl = head.fields.value, head.fields.value.control
    kind = PrimaryFunction if ctl.prm else SecondaryFunction
    if ctl.function not in kind._value2member_map_:
        raise DecodeError(protocol, ("link", "function"), 3, f"function code {ctl.function} is not defined")
    if len(data) < frame_size(f.length):
        raise TruncatedError(protocol, ("link", "user_data"), len(data), "input ends inside the user data")
    body = _run(protocol, LINK_BODY, stream, ("link", "block"), length=f.length)
    if stream.tell() != len(data):
        raise TrailingDataError(protocol, ("link",), stream.tell(), "octets after the frame")
    return LinkFrame(dir=ctl.dir, prm=ctl.prm, fcb=ctl.fcb, fcv=ctl.fcv, function=kind(ctl.function),
                     destination=f.destination, source=f.source,
                     user_data=b"".join(b.data for b in body.blocks))


def encode_link_declarative(frame: LinkFrame, protocol: str = "dnp3") -> bytes:
    """The FT3 octets of ``frame`` (its ``user_data``), built by :data:`LINK_HEADER` and :data:`LINK_BODY`:
    the CRCs computed by their ``Checksum`` fields. ``EncodeError`` for what they cannot build."""
    user = bytes(frame.user_data)
    kind = PrimaryFunction if frame.prm else SecondaryFunction
    if int(frame.function) not in kind._value2member_map_:
        raise EncodeError(protocol, ("link", "function"), f"{frame.function!r} is not a "
                          f"{'primary' if frame.prm else 'secondary'} function (9.2.4.1.3.6)")
    length = C.MIN_LINK_LENGTH + len(user)
    try:
        head = LINK_HEADER.build({"fields": {"value": {
            "length": length, "destination": frame.destination, "source": frame.source,
            "control": {"dir": frame.dir, "prm": frame.prm, "fcb": frame.fcb, "fcv": frame.fcv,
                        "function": int(frame.function)}}}})
        body = LINK_BODY.build({"blocks": [{"data": user[i:i + C.BLOCK_SIZE]}
                                           for i in range(0, len(user), C.BLOCK_SIZE)]}, length=length)
    except (cs.ConstructError, ValueError, TypeError, OverflowError) as err:
        raise EncodeError(protocol, ("link",), str(err).split("\n", 1)[-1]) from None
    out: bytes = head + body
    return out


def decode_transport_declarative(octet: int) -> TransportHeader:
    t = TRANSPORT_HEADER.parse(bytes((octet,)))
    return TransportHeader(fin=t.fin, fir=t.fir, seq=t.seq)


def decode_request_declarative(data: bytes, protocol: str = "dnp3-app") -> ApplicationRequest:
    """A request whose object headers carry no values (:data:`~.constants.HEADER_ONLY_REQUESTS`),
    by the Construct definition; ``DecodeError`` for any other fragment."""
    stream = io.BytesIO(bytes(data))
    head = _run(protocol, APPLICATION_HEADER, stream, ("function",) if len(data) else ("control",))
    function = FunctionCode(head.function)
    if function not in HEADER_ONLY_REQUESTS:
        raise DecodeError(protocol, ("function",), 1, f"{function.name}: object values are not defined here")
    headers = []
    i = 0
    while stream.tell() < len(data):
        h = _run(protocol, OBJECT_HEADER, stream, ("objects", i))
        rng = h.range or {}
        points = tuple(Point(index=x) for x in h.indexes) if h.indexes is not None else ()
        q = h.qualifier
        headers.append(ObjectHeader(group=h.group, variation=h.variation,
                                    qualifier=q.prefix << 4 | q.range, start=rng.get("start"),
                                    stop=rng.get("stop"), count=rng.get("count"), points=points))
        i += 1
    c = head.control
    return ApplicationRequest(fir=c.fir, fin=c.fin, con=c.con, uns=c.uns, seq=c.seq, function=function,
                              objects=tuple(headers))
