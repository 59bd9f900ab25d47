"""DNP3 messages as frozen dataclasses: link frames, transport headers, application fragments.

Normative reference: IEEE 1815-2012 (DNP3), clauses 4 (application layer),
8 (transport function) and 9 (data link layer). Field names are the
standard's words; each class names its clause.

A :class:`LinkFrame`'s ``user_data`` is what goes on the wire (encoding uses
it); ``transport`` and ``application`` are what decoding found in it, a view
filled only when the frame carries user data (and, for the application, only
when that one segment is a whole fragment: FIR and FIN both set).

Speed: the compiled wheel compiles this module (the descriptor's
``compiled``), so these classes are mypyc native classes there, still
frozen dataclasses to their users (equality, repr, ``dataclasses.replace``,
``FrozenInstanceError``). The decoders build them with the ``new_*``
constructors below, positional and unchecked (trusted callers): compiled,
an allocation and native stores into the instance (the frozen
``__setattr__`` guards the attribute protocol, which native stores do not
go through); pure, :func:`~wireproof.codecs._fast.fast_constructor`'s
slot setters. Native instances do not pickle (the frozen ``__setattr__``
refuses the state); nothing sends these messages to another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs._fast import fast_constructor
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction, SecondaryFunction

__all__ = [
    "ApplicationRequest",
    "ApplicationResponse",
    "Fragment",
    "LinkFrame",
    "ObjectHeader",
    "Point",
    "TransportHeader",
    "new_header",
    "new_link_frame",
    "new_point",
    "new_request",
    "new_response",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Point:
    """One object of an object header (4.3.4): its index (from the range or an index prefix;
    ``None`` when a count without prefix gives none) and its values by field name."""

    index: int | None = None
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class ObjectHeader:
    """An object header and the objects after it (IEEE 1815-2012 4.3.3, 4.3.4).

    ``qualifier`` is the whole qualifier octet (object prefix code in bits 6..4,
    range specifier code in bits 3..0). ``start``/``stop`` are set for range
    codes 0..5, ``count`` for 7..9 and 0xB, neither for 6 (all objects).
    ``points`` holds one :class:`Point` per object, or per index prefix when
    the header carries no values (a read by index list); it is empty for a
    header without values and without prefixes.
    """

    group: int
    variation: int
    qualifier: int
    start: int | None = None
    stop: int | None = None
    count: int | None = None
    points: tuple[Point, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationRequest:
    """A request fragment: application control, function code, object headers (4.2.2.1)."""

    fir: bool = True
    fin: bool = True
    con: bool = False
    uns: bool = False
    seq: int = 0
    function: FunctionCode = FunctionCode.READ
    objects: tuple[ObjectHeader, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationResponse:
    """A response fragment: control, function code (129..131), IIN, object headers (4.2.2.2).

    ``iin`` is the 16 IIN bits with IIN1 in the high octet (see :class:`~.constants.Iin`).
    """

    fir: bool = True
    fin: bool = True
    con: bool = False
    uns: bool = False
    seq: int = 0
    function: FunctionCode = FunctionCode.RESPONSE
    iin: int = 0
    objects: tuple[ObjectHeader, ...] = ()


Fragment = ApplicationRequest | ApplicationResponse


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportHeader:
    """The transport header octet: FIN, FIR, sequence 0..63 (IEEE 1815-2012 8.2.1)."""

    fin: bool = True
    fir: bool = True
    seq: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkFrame:
    """An FT3 link frame (IEEE 1815-2012 9.2.4): header, user data (without its block CRCs).

    ``fcv`` is bit 4 of the control octet: FCV from a primary station, DFC
    (data flow control) from a secondary one (9.2.4.1.3.4, 9.2.4.1.3.5);
    ``fcb`` is reserved (0) in a secondary frame. ``function`` is a
    :class:`~.constants.PrimaryFunction` when ``prm`` is set, else a
    :class:`~.constants.SecondaryFunction`.
    """

    dir: bool
    prm: bool
    fcb: bool = False
    fcv: bool = False
    function: PrimaryFunction | SecondaryFunction
    destination: int
    source: int
    user_data: bytes = b""
    transport: TransportHeader | None = None
    application: ApplicationRequest | ApplicationResponse | None = None

    @property
    def dfc(self) -> bool:
        """Data flow control (secondary frames): the same bit as ``fcv``."""
        return self.fcv


# --- the decoders' constructors (module docstring) ---------------------------------------------

COMPILED: Final = not __file__.endswith(".py")  # this module is a mypyc extension (the compiled wheel)
if not COMPILED:  # pure: the slot setters (a native class has no slots to set)
    _point: Final[Any] = fast_constructor(Point)
    _header: Final[Any] = fast_constructor(ObjectHeader)
    _request: Final[Any] = fast_constructor(ApplicationRequest)
    _response: Final[Any] = fast_constructor(ApplicationResponse)
    _frame: Final[Any] = fast_constructor(LinkFrame)


def new_point(index: int | None, values: dict[str, Any]) -> Point:
    """``Point(index=index, values=values)``, fast."""
    if not COMPILED:
        made: Point = _point(index, values)
        return made
    p = Point.__new__(Point)
    p.index = index  # type: ignore[misc]  # native store: the instance is not yet anyone's
    p.values = values  # type: ignore[misc]
    return p


def new_header(group: int, variation: int, qualifier: int, start: int | None, stop: int | None,
               count: int | None, points: tuple[Point, ...]) -> ObjectHeader:
    """``ObjectHeader(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: ObjectHeader = _header(group, variation, qualifier, start, stop, count, points)
        return made
    h = ObjectHeader.__new__(ObjectHeader)
    h.group = group  # type: ignore[misc]
    h.variation = variation  # type: ignore[misc]
    h.qualifier = qualifier  # type: ignore[misc]
    h.start = start  # type: ignore[misc]
    h.stop = stop  # type: ignore[misc]
    h.count = count  # type: ignore[misc]
    h.points = points  # type: ignore[misc]
    return h


def new_request(fir: bool, fin: bool, con: bool, uns: bool, seq: int, function: FunctionCode,
                objects: tuple[ObjectHeader, ...]) -> ApplicationRequest:
    """``ApplicationRequest(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: ApplicationRequest = _request(fir, fin, con, uns, seq, function, objects)
        return made
    r = ApplicationRequest.__new__(ApplicationRequest)
    r.fir = fir  # type: ignore[misc]
    r.fin = fin  # type: ignore[misc]
    r.con = con  # type: ignore[misc]
    r.uns = uns  # type: ignore[misc]
    r.seq = seq  # type: ignore[misc]
    r.function = function  # type: ignore[misc]
    r.objects = objects  # type: ignore[misc]
    return r


def new_response(fir: bool, fin: bool, con: bool, uns: bool, seq: int, function: FunctionCode, iin: int,
                 objects: tuple[ObjectHeader, ...]) -> ApplicationResponse:
    """``ApplicationResponse(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: ApplicationResponse = _response(fir, fin, con, uns, seq, function, iin, objects)
        return made
    r = ApplicationResponse.__new__(ApplicationResponse)
    r.fir = fir  # type: ignore[misc]
    r.fin = fin  # type: ignore[misc]
    r.con = con  # type: ignore[misc]
    r.uns = uns  # type: ignore[misc]
    r.seq = seq  # type: ignore[misc]
    r.function = function  # type: ignore[misc]
    r.iin = iin  # type: ignore[misc]
    r.objects = objects  # type: ignore[misc]
    return r


def new_link_frame(dir: bool, prm: bool, fcb: bool, fcv: bool, function: PrimaryFunction | SecondaryFunction,
                   destination: int, source: int, user_data: bytes, transport: TransportHeader | None,
                   application: ApplicationRequest | ApplicationResponse | None) -> LinkFrame:
    """``LinkFrame(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: LinkFrame = _frame(dir, prm, fcb, fcv, function, destination, source, user_data, transport,
                                 application)
        return made
    f = LinkFrame.__new__(LinkFrame)
    f.dir = dir  # type: ignore[misc]
    f.prm = prm  # type: ignore[misc]
    f.fcb = fcb  # type: ignore[misc]
    f.fcv = fcv  # type: ignore[misc]
    f.function = function  # type: ignore[misc]
    f.destination = destination  # type: ignore[misc]
    f.source = source  # type: ignore[misc]
    f.user_data = user_data  # type: ignore[misc]
    f.transport = transport  # type: ignore[misc]
    f.application = application  # type: ignore[misc]
    return f
