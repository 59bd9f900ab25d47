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
frozen dataclasses to their users (equality, hash, repr,
``dataclasses.fields`` and ``replace``, ``FrozenInstanceError``). Each
writes its own keyword-only ``__init__`` (``init=False``; the same
parameters and defaults as the generated one, ``Point.values=None`` meaning
a new empty dict): compiled, a native call that stores into the instance
directly (the frozen ``__setattr__`` guards only the attribute protocol,
from outside), about ten times the generated ``__init__``'s speed; pure,
``object.__setattr__``, as the generated one does. The decoders build
messages with the ``new_*`` constructors below (positional, every field):
compiled, the class itself; pure, :func:`~wireproof.codecs._fast.fast_constructor`'s
slot setters. Native instances do not pickle (the frozen ``__setattr__``
refuses the state); nothing sends these messages to another process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs._fast import fast_constructor
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction, SecondaryFunction

COMPILED: Final = not __file__.endswith(".py")  # this module is a mypyc extension (the compiled wheel)

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


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class Point:
    """One object of an object header (4.3.4): its index (from the range or an index prefix;
    ``None`` when a count without prefix gives none) and its values by field name."""

    index: int | None = None
    values: dict[str, Any] = field(default_factory=dict)

    def __init__(self, *, index: int | None = None, values: dict[str, Any] | None = None) -> None:
        if values is None:
            values = {}
        if COMPILED:  # native stores (module docstring)
            self.index = index  # type: ignore[misc]
            self.values = values  # type: ignore[misc]
        else:
            object.__setattr__(self, "index", index)
            object.__setattr__(self, "values", values)


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
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

    def __init__(self, *, group: int, variation: int, qualifier: int, start: int | None = None,
                 stop: int | None = None, count: int | None = None, points: tuple[Point, ...] = ()) -> None:
        if COMPILED:  # native stores (module docstring)
            self.group = group  # type: ignore[misc]
            self.variation = variation  # type: ignore[misc]
            self.qualifier = qualifier  # type: ignore[misc]
            self.start = start  # type: ignore[misc]
            self.stop = stop  # type: ignore[misc]
            self.count = count  # type: ignore[misc]
            self.points = points  # type: ignore[misc]
        else:
            object.__setattr__(self, "group", group)
            object.__setattr__(self, "variation", variation)
            object.__setattr__(self, "qualifier", qualifier)
            object.__setattr__(self, "start", start)
            object.__setattr__(self, "stop", stop)
            object.__setattr__(self, "count", count)
            object.__setattr__(self, "points", points)


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class ApplicationRequest:
    """A request fragment: application control, function code, object headers (4.2.2.1)."""

    fir: bool = True
    fin: bool = True
    con: bool = False
    uns: bool = False
    seq: int = 0
    function: FunctionCode = FunctionCode.READ
    objects: tuple[ObjectHeader, ...] = ()

    def __init__(self, *, fir: bool = True, fin: bool = True, con: bool = False, uns: bool = False,
                 seq: int = 0, function: FunctionCode = FunctionCode.READ,
                 objects: tuple[ObjectHeader, ...] = ()) -> None:
        if COMPILED:  # native stores (module docstring)
            self.fir = fir  # type: ignore[misc]
            self.fin = fin  # type: ignore[misc]
            self.con = con  # type: ignore[misc]
            self.uns = uns  # type: ignore[misc]
            self.seq = seq  # type: ignore[misc]
            self.function = function  # type: ignore[misc]
            self.objects = objects  # type: ignore[misc]
        else:
            object.__setattr__(self, "fir", fir)
            object.__setattr__(self, "fin", fin)
            object.__setattr__(self, "con", con)
            object.__setattr__(self, "uns", uns)
            object.__setattr__(self, "seq", seq)
            object.__setattr__(self, "function", function)
            object.__setattr__(self, "objects", objects)


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
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

    def __init__(self, *, fir: bool = True, fin: bool = True, con: bool = False, uns: bool = False,
                 seq: int = 0, function: FunctionCode = FunctionCode.RESPONSE, iin: int = 0,
                 objects: tuple[ObjectHeader, ...] = ()) -> None:
        if COMPILED:  # native stores (module docstring)
            self.fir = fir  # type: ignore[misc]
            self.fin = fin  # type: ignore[misc]
            self.con = con  # type: ignore[misc]
            self.uns = uns  # type: ignore[misc]
            self.seq = seq  # type: ignore[misc]
            self.function = function  # type: ignore[misc]
            self.iin = iin  # type: ignore[misc]
            self.objects = objects  # type: ignore[misc]
        else:
            object.__setattr__(self, "fir", fir)
            object.__setattr__(self, "fin", fin)
            object.__setattr__(self, "con", con)
            object.__setattr__(self, "uns", uns)
            object.__setattr__(self, "seq", seq)
            object.__setattr__(self, "function", function)
            object.__setattr__(self, "iin", iin)
            object.__setattr__(self, "objects", objects)


Fragment = ApplicationRequest | ApplicationResponse


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
class TransportHeader:
    """The transport header octet: FIN, FIR, sequence 0..63 (IEEE 1815-2012 8.2.1)."""

    fin: bool = True
    fir: bool = True
    seq: int = 0

    def __init__(self, *, fin: bool = True, fir: bool = True, seq: int = 0) -> None:
        if COMPILED:  # native stores (module docstring)
            self.fin = fin  # type: ignore[misc]
            self.fir = fir  # type: ignore[misc]
            self.seq = seq  # type: ignore[misc]
        else:
            object.__setattr__(self, "fin", fin)
            object.__setattr__(self, "fir", fir)
            object.__setattr__(self, "seq", seq)


@dataclass(frozen=True, slots=True, kw_only=True, init=False)
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


    def __init__(self, *, dir: bool, prm: bool, fcb: bool = False, fcv: bool = False,
                 function: PrimaryFunction | SecondaryFunction, destination: int, source: int,
                 user_data: bytes = b"", transport: TransportHeader | None = None,
                 application: ApplicationRequest | ApplicationResponse | None = None) -> None:
        if COMPILED:  # native stores (module docstring)
            self.dir = dir  # type: ignore[misc]
            self.prm = prm  # type: ignore[misc]
            self.fcb = fcb  # type: ignore[misc]
            self.fcv = fcv  # type: ignore[misc]
            self.function = function  # type: ignore[misc]
            self.destination = destination  # type: ignore[misc]
            self.source = source  # type: ignore[misc]
            self.user_data = user_data  # type: ignore[misc]
            self.transport = transport  # type: ignore[misc]
            self.application = application  # type: ignore[misc]
        else:
            object.__setattr__(self, "dir", dir)
            object.__setattr__(self, "prm", prm)
            object.__setattr__(self, "fcb", fcb)
            object.__setattr__(self, "fcv", fcv)
            object.__setattr__(self, "function", function)
            object.__setattr__(self, "destination", destination)
            object.__setattr__(self, "source", source)
            object.__setattr__(self, "user_data", user_data)
            object.__setattr__(self, "transport", transport)
            object.__setattr__(self, "application", application)

    @property
    def dfc(self) -> bool:
        """Data flow control (secondary frames): the same bit as ``fcv``."""
        return self.fcv


# --- the decoders' constructors (module docstring) ---------------------------------------------

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
    return Point(index=index, values=values)


def new_header(group: int, variation: int, qualifier: int, start: int | None, stop: int | None,
               count: int | None, points: tuple[Point, ...]) -> ObjectHeader:
    """``ObjectHeader(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: ObjectHeader = _header(group, variation, qualifier, start, stop, count, points)
        return made
    return ObjectHeader(group=group, variation=variation, qualifier=qualifier, start=start, stop=stop,
                        count=count, points=points)


def new_request(fir: bool, fin: bool, con: bool, uns: bool, seq: int, function: FunctionCode,
                objects: tuple[ObjectHeader, ...]) -> ApplicationRequest:
    """``ApplicationRequest(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: ApplicationRequest = _request(fir, fin, con, uns, seq, function, objects)
        return made
    return ApplicationRequest(fir=fir, fin=fin, con=con, uns=uns, seq=seq, function=function, objects=objects)


def new_response(fir: bool, fin: bool, con: bool, uns: bool, seq: int, function: FunctionCode, iin: int,
                 objects: tuple[ObjectHeader, ...]) -> ApplicationResponse:
    """``ApplicationResponse(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: ApplicationResponse = _response(fir, fin, con, uns, seq, function, iin, objects)
        return made
    return ApplicationResponse(fir=fir, fin=fin, con=con, uns=uns, seq=seq, function=function, iin=iin,
                               objects=objects)


def new_link_frame(dir: bool, prm: bool, fcb: bool, fcv: bool, function: PrimaryFunction | SecondaryFunction,
                   destination: int, source: int, user_data: bytes, transport: TransportHeader | None,
                   application: ApplicationRequest | ApplicationResponse | None) -> LinkFrame:
    """``LinkFrame(...)`` with every field, in order, fast."""
    if not COMPILED:
        made: LinkFrame = _frame(dir, prm, fcb, fcv, function, destination, source, user_data, transport,
                                 application)
        return made
    return LinkFrame(dir=dir, prm=prm, fcb=fcb, fcv=fcv, function=function, destination=destination,
                     source=source, user_data=user_data, transport=transport, application=application)
