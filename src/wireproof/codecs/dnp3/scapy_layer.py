"""Scapy layers for DNP3 (the ``scapy`` extra): link frame with CRCs, transport, application, objects.

Normative references: IEEE 1815-2012 9.2.4 (FT3 frame: start 0x05 0x64,
LENGTH, control, destination, source, header CRC, user data in blocks of
16 octets each with its CRC-16/DNP), 8.2.1 (transport header: FIN, FIR,
sequence), 4.2.2 (application control, function code, IIN), 4.3.3 (object
header: group, variation, qualifier, range) and Annex E (port 20000 on TCP
and UDP). Scapy has no DNP3 layer of its own.

Theory of operation
-------------------
Four layers, written against Scapy's public Packet API (no Scapy code is
copied; Scapy is GPL), each a plain Scapy field list so that a user sees,
edits and builds every field the way Scapy users do:

- :class:`DNP3Link` — the 10-octet FT3 header as fields (``length`` and
  ``crc`` computed on build when left ``None``). Dissection cuts the frame
  as LENGTH says (:func:`~.link.frame_size`), takes the block CRCs out of
  the user data (``block_crc_errors`` lists the blocks whose CRC fails;
  ``header_crc_ok`` checks the header's) and dissects the user data as the
  payload; building puts the CRCs back. What follows the frame in a TCP
  segment (the next frame) is Scapy ``Padding``; :func:`link_frames` cuts a
  whole segment into frames.
- :class:`DNP3Transport` — FIN, FIR and the sequence number; its payload is
  a :class:`DNP3Application` when the segment is a whole fragment (FIR and
  FIN), else ``Raw`` (a piece of a fragment).
- :class:`DNP3Application` — control (FIR, FIN, CON, UNS, SEQ), function
  code, IIN (responses only) and a list of :class:`DNP3ObjectHeader`.
- :class:`DNP3ObjectHeader` — group, variation, the qualifier's prefix and
  range codes, the range fields the range code calls for, and ``objects``:
  the octets of the objects (index or size prefixes included), delimited
  by the object library (:mod:`.library`) exactly as the codec delimits
  them; a header the library cannot delimit takes the rest of the fragment
  and says so in ``undelimited``.

Values stay octets at this level (Scapy's view); :attr:`DNP3Link.message`
gives wireproof's typed :class:`~.messages.LinkFrame` of the same bytes.
The tests check every layer's fields against the Construct definitions
(:mod:`.formats`, :mod:`.library_formats`) on the vectors and captures.

Binding: importing this module binds :class:`DNP3Link` to TCP and UDP port
20000 (either way), so ``rdpcap(...)`` dissects DNP3 at once;
:func:`uninstall` takes the bindings off and :func:`install` puts them back.

    >>> from wireproof.codecs.dnp3.scapy_layer import DNP3Link
    >>> from scapy.all import rdpcap                      # doctest: +SKIP
    >>> rdpcap("dnp3.pcap")[3][DNP3Link].show()           # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from scapy.fields import (
    BitEnumField,
    BitField,
    ByteEnumField,
    ByteField,
    ConditionalField,
    LEIntField,
    LEShortField,
    PacketListField,
    StrLenField,
    XLEShortField,
    XShortField,
)
from scapy.layers.inet import TCP, UDP
from scapy.packet import Packet, Raw, bind_bottom_up, bind_top_down, split_bottom_up, split_top_down

from wireproof.codecs.dnp3 import constants as C
from wireproof.codecs.dnp3.constants import HEADER_ONLY_REQUESTS, FunctionCode, PrimaryFunction
from wireproof.codecs.dnp3.library import free_format, lookup
from wireproof.codecs.dnp3.link import crc16_dnp, frame_size
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.errors import DecodeError

__all__ = [
    "DNP3_PORT",
    "DNP3Application",
    "DNP3Link",
    "DNP3ObjectHeader",
    "DNP3Transport",
    "install",
    "installed",
    "link_frames",
    "object_octets",
    "uninstall",
]

DNP3_PORT = 20000  # IEEE 1815 Annex E (IANA "dnp")

_FUNCTIONS = {int(f): f.name for f in FunctionCode}
_USER_DATA = (int(PrimaryFunction.CONFIRMED_USER_DATA), int(PrimaryFunction.UNCONFIRMED_USER_DATA))
# 4.3.3.4.2, table 4-5: range code -> width of start/stop (start_stop) or count; 6 has none.
_START_STOP = {0: 1, 1: 2, 2: 4, 3: 1, 4: 2, 5: 4}
_COUNT = {7: 1, 8: 2, 9: 4, 0xB: 1}
_PREFIX = {1: 1, 2: 2, 3: 4, 4: 1, 5: 2, 6: 4}  # 4.3.3.4.1, table 4-4: prefix code -> octets


def _crc_bytes(data: bytes) -> bytes:
    crc = crc16_dnp(data)
    return bytes((crc & 0xFF, crc >> 8))


class DNP3Link(Packet):
    """FT3 link frame (IEEE 1815-2012 9.2.4): header fields; the user data (CRCs removed) as payload."""

    name = "DNP3 link (FT3)"
    fields_desc = [  # noqa: RUF012 - Scapy's API: a class-level list
        XShortField("start", 0x0564),
        ByteField("length", None),  # None: 5 + user data, computed on build
        BitField("dir", 0, 1),
        BitField("prm", 0, 1),
        BitField("fcb", 0, 1),
        BitField("fcv", 0, 1),
        BitField("function", 0, 4),
        LEShortField("destination", 0),
        LEShortField("source", 0),
        XLEShortField("crc", None),  # None: computed on build
    ]

    block_crc_errors: list[int]

    def do_dissect(self, s: bytes) -> bytes:
        if len(s) < C.LINK_HEADER_SIZE:
            # A cut header: no field is believed; the octets stay as padding (``decode_error`` says why).
            for f in self.fields_desc:
                self.fields[f.name] = None
            self.block_crc_errors = []
            return s
        return super().do_dissect(s)

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        # The frame is as long as LENGTH says (9.2.4.1.2): blocks of up to 16 octets and their CRCs.
        length = self.length if self.length is not None else C.MIN_LINK_LENGTH
        n = frame_size(max(length, C.MIN_LINK_LENGTH)) - C.LINK_HEADER_SIZE
        return s[:n], s[n:]

    def do_dissect_payload(self, s: bytes) -> None:
        user = bytearray()
        errors = []
        for block, i in enumerate(range(0, len(s), C.BLOCK_SIZE + C.CRC_SIZE)):
            chunk = s[i:i + C.BLOCK_SIZE + C.CRC_SIZE]
            data, crc = chunk[:-C.CRC_SIZE], chunk[-C.CRC_SIZE:]
            if len(chunk) <= C.CRC_SIZE or _crc_bytes(data) != crc:
                errors.append(block)
            user += data if len(chunk) > C.CRC_SIZE else chunk
        self.block_crc_errors = errors
        if not user:
            return
        cls: type[Packet] = DNP3Transport if self.prm and self.function in _USER_DATA else Raw
        try:
            payload = cls(bytes(user), _internal=1, _underlayer=self)
        except Exception:  # as Scapy does for a payload its class cannot dissect: keep the octets
            payload = Raw(bytes(user), _internal=1, _underlayer=self)
        self.add_payload(payload)

    def post_dissection(self, pkt: Packet) -> None:
        # Rebuilding must put the block CRCs back (post_build), which Scapy skips for a layer
        # whose dissected octets it kept: forget them (the fields keep the values).
        self.raw_packet_cache = None

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.length is None:
            pkt = pkt[:2] + bytes((C.MIN_LINK_LENGTH + len(pay),)) + pkt[3:]
        if self.crc is None:
            pkt = pkt[:8] + _crc_bytes(pkt[:8])
        out = bytearray(pkt)
        for i in range(0, len(pay), C.BLOCK_SIZE):
            chunk = pay[i:i + C.BLOCK_SIZE]
            out += chunk + _crc_bytes(chunk)
        return bytes(out)

    def octets(self) -> bytes:
        """The frame's octets as received (dissected) or built, without what follows it."""
        raw = bytes(self.original) if self.original else bytes(self)
        return raw[:frame_size(max(raw[2], C.MIN_LINK_LENGTH))] if len(raw) > 2 else raw

    @property
    def header_crc_ok(self) -> bool:
        """Whether the header CRC holds (9.2.4.1.5)."""
        head = self.octets()[:C.LINK_HEADER_SIZE]
        return len(head) == C.LINK_HEADER_SIZE and crc16_dnp(head[:8]) == head[8] | head[9] << 8

    @property
    def message(self) -> LinkFrame | None:
        """The frame decoded by wireproof's ``dnp3`` codec, or ``None`` (see :attr:`decode_error`)."""
        try:
            return self.decode_dnp3()
        except DecodeError:
            return None

    @property
    def decode_error(self) -> DecodeError | None:
        """Why the frame does not decode with wireproof's codec, or ``None`` when it does."""
        try:
            self.decode_dnp3()
        except DecodeError as err:
            return err
        return None

    def decode_dnp3(self) -> LinkFrame:
        """The frame's octets (without what follows it) decoded by the ``dnp3`` codec."""
        from wireproof.codecs.dnp3.codec import Dnp3Codec

        return Dnp3Codec().decode(self.octets())

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return DNP3Transport if self.prm and self.function in _USER_DATA else Raw

    def mysummary(self) -> str:
        return self.sprintf("DNP3 %DNP3Link.source% > %DNP3Link.destination% fn=%DNP3Link.function%")


class DNP3Transport(Packet):
    """Transport header (IEEE 1815-2012 8.2.1): FIN, FIR, sequence 0..63; then the segment's data."""

    name = "DNP3 transport"
    fields_desc = [  # noqa: RUF012
        BitField("fin", 1, 1),
        BitField("fir", 1, 1),
        BitField("seq", 0, 6),
    ]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return DNP3Application if self.fir and self.fin else Raw


def _values(app: Any) -> bool:
    """Whether the object headers of ``app``'s fragment carry object values (4.3.3)."""
    function = getattr(app, "function", None)
    if function is None:
        return True
    return function >= 129 or function not in {int(f) for f in HEADER_ONLY_REQUESTS}


def object_octets(group: int, variation: int, qualifier: int, number: int, data: bytes, pos: int,
                  values: bool) -> int | None:
    """Octets of the objects after an object header at ``data[pos:]`` (prefixes included): the
    library's layouts (IEEE 1815-2012 4.3.4, clause 11); ``None`` when they cannot be delimited
    (unknown group/variation, or the input ends first)."""
    prefix = qualifier >> 4 & 7
    pwidth = _PREFIX.get(prefix, 0)
    spec = lookup(group, variation) if values else None
    if values and spec is None and 4 <= prefix <= 6:
        spec = free_format(group, variation)
    if values and spec is None:
        return None
    n = len(data)
    if spec is None or (spec.size == 0 and not spec.bits and not spec.variable and not spec.free):
        return number * pwidth if 1 <= prefix <= 3 else 0
    if spec.bits:
        return -(-number * spec.bits // 8)
    at = pos
    for _ in range(number):
        if spec.free or spec.variable:
            if spec.free:
                if at + pwidth > n:
                    return None
                at += pwidth + int.from_bytes(data[at:at + pwidth], "little")
            else:
                at += pwidth
                if at + 2 > n:
                    return None
                at += 2 + data[at + 1]
        else:
            at += pwidth + spec.size
        if at > n:
            return None
    return at - pos


class DNP3ObjectHeader(Packet):
    """Object header (IEEE 1815-2012 4.3.3) and the octets of its objects."""

    name = "DNP3 object header"
    fields_desc = [  # noqa: RUF012
        ByteField("group", 60),
        ByteField("variation", 1),
        BitField("reserved", 0, 1),
        BitField("prefix", 0, 3),
        BitEnumField("range", 6, 4, {0: "start-stop 8", 1: "start-stop 16", 2: "start-stop 32",
                                    3: "virtual 8", 4: "virtual 16", 5: "virtual 32", 6: "all",
                                    7: "count 8", 8: "count 16", 9: "count 32", 0xB: "variable count 8"}),
        ConditionalField(ByteField("start8", 0), lambda p: _START_STOP.get(p.range) == 1),
        ConditionalField(ByteField("stop8", 0), lambda p: _START_STOP.get(p.range) == 1),
        ConditionalField(LEShortField("start16", 0), lambda p: _START_STOP.get(p.range) == 2),
        ConditionalField(LEShortField("stop16", 0), lambda p: _START_STOP.get(p.range) == 2),
        ConditionalField(LEIntField("start32", 0), lambda p: _START_STOP.get(p.range) == 4),
        ConditionalField(LEIntField("stop32", 0), lambda p: _START_STOP.get(p.range) == 4),
        ConditionalField(ByteField("count8", 0), lambda p: _COUNT.get(p.range) == 1),
        ConditionalField(LEShortField("count16", 0), lambda p: _COUNT.get(p.range) == 2),
        ConditionalField(LEIntField("count32", 0), lambda p: _COUNT.get(p.range) == 4),
        StrLenField("objects", b"", length_from=lambda p: p._objects_length()),
    ]

    undelimited: bool = False

    @property
    def qualifier(self) -> int:
        return int(self.reserved) << 7 | int(self.prefix) << 4 | int(self.range)

    @property
    def start(self) -> int | None:
        width = _START_STOP.get(self.range)
        return None if width is None else int(getattr(self, f"start{width * 8}"))

    @property
    def stop(self) -> int | None:
        width = _START_STOP.get(self.range)
        return None if width is None else int(getattr(self, f"stop{width * 8}"))

    @property
    def count(self) -> int | None:
        width = _COUNT.get(self.range)
        return None if width is None else int(getattr(self, f"count{width * 8}"))

    @property
    def number(self) -> int:
        """How many objects (or index prefixes) the range announces."""
        if self.count is not None:
            return self.count
        start, stop = self.start, self.stop
        return stop - start + 1 if start is not None and stop is not None and stop >= start else 0

    def pre_dissect(self, s: bytes) -> bytes:
        # The objects' length depends on the octets after the range field: keep them at hand.
        self._octets = s
        return s

    def _objects_length(self) -> int:
        whole = getattr(self, "_octets", b"")
        rng = int(self.range)
        rest = whole[3 + 2 * _START_STOP.get(rng, 0) + _COUNT.get(rng, 0):]
        n = object_octets(self.group, self.variation, self.qualifier, self.number, rest, 0,
                          _values(self.parent))
        if n is None:
            self.undelimited = True
            return len(rest)
        return n

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return b"", s


class DNP3Application(Packet):
    """Application header (IEEE 1815-2012 4.2.2): control, function code, IIN; object headers."""

    name = "DNP3 application"
    fields_desc = [  # noqa: RUF012
        BitField("fir", 1, 1),
        BitField("fin", 1, 1),
        BitField("con", 0, 1),
        BitField("uns", 0, 1),
        BitField("seq", 0, 4),
        ByteEnumField("function", 1, _FUNCTIONS),
        ConditionalField(XShortField("iin", 0), lambda p: p.function in (129, 130, 131)),
        PacketListField("headers", [], DNP3ObjectHeader),
    ]


def link_frames(segment: bytes) -> list[DNP3Link]:
    """Every FT3 frame in ``segment`` (a TCP segment or UDP datagram may carry several), dissected."""
    out: list[DNP3Link] = []
    rest = bytes(segment)
    while len(rest) >= C.LINK_HEADER_SIZE and rest[:2] == C.LINK_START:
        size = frame_size(max(rest[2], C.MIN_LINK_LENGTH))
        out.append(DNP3Link(rest[:size]))
        rest = rest[size:]
    return out


_BINDINGS = ((TCP, "dport"), (TCP, "sport"), (UDP, "dport"), (UDP, "sport"))


def installed() -> bool:
    """Are the layers bound on TCP and UDP port 20000?"""
    return any(cls is DNP3Link for _, cls in TCP.payload_guess) and \
        any(cls is DNP3Link for _, cls in UDP.payload_guess)


def install() -> None:
    """Dissect TCP and UDP port 20000 (either way) as :class:`DNP3Link` (idempotent).

    Building ``TCP()/DNP3Link()`` sets ``dport=20000`` (a master's request).
    """
    uninstall()
    for layer, field in _BINDINGS:
        bind_bottom_up(layer, DNP3Link, **{field: DNP3_PORT})
    bind_top_down(TCP, DNP3Link, dport=DNP3_PORT)
    bind_top_down(UDP, DNP3Link, dport=DNP3_PORT)


def uninstall() -> None:
    """Undo :func:`install` (idempotent)."""
    for layer, field in _BINDINGS:
        split_bottom_up(layer, DNP3Link, **{field: DNP3_PORT})
    split_top_down(TCP, DNP3Link, dport=DNP3_PORT)
    split_top_down(UDP, DNP3Link, dport=DNP3_PORT)


install()
