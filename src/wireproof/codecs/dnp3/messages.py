"""DNP3 messages as frozen dataclasses: link frames, transport headers, application fragments.

Normative reference: IEEE 1815-2012 (DNP3), clauses 4 (application layer),
8 (transport function) and 9 (data link layer). Field names are the
standard's words; each class names its clause.

A :class:`LinkFrame`'s ``user_data`` is what goes on the wire (encoding uses
it); ``transport`` and ``application`` are what decoding found in it, a view
filled only when the frame carries user data (and, for the application, only
when that one segment is a whole fragment: FIR and FIN both set).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction, SecondaryFunction

__all__ = [
    "ApplicationRequest",
    "ApplicationResponse",
    "Fragment",
    "LinkFrame",
    "ObjectHeader",
    "Point",
    "TransportHeader",
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
