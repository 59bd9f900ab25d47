"""DNP3 transport function (IEEE 1815-2012 clause 8): segments and reassembly (pure).

A segment is one transport header octet — FIN (bit 7), FIR (bit 6),
sequence number 0..63 (bits 5..0) — and at most 249 octets of an
application fragment (8.2.1), so that it fits one link frame's 250 octets
of user data. :func:`segment` cuts a fragment into segments; a
:class:`Reassembler` glues received segments back together under the rules
of 8.2.2: a segment with FIR starts a fragment (whatever was in progress is
dropped), a segment without FIR must follow its predecessor's sequence
number (mod 64), and a fragment larger than ``max_fragment`` is refused.
A segment that breaks a rule is a :class:`TransportSequenceError` (or a
:class:`~wireproof.errors.DecodeError` for the size limits), raised after the
reassembler has dropped what the rule says to drop, so the caller may go on;
a fragment abandoned because a new FIR came first is counted in
:attr:`Reassembler.abandoned` (the new segment itself is fine).
"""

from __future__ import annotations

from typing import Final

from wireproof.codecs.dnp3 import constants as C
from wireproof.codecs.dnp3.messages import TransportHeader
from wireproof.errors import DecodeError, EncodeError, TruncatedError

__all__ = ["DEFAULT_MAX_FRAGMENT", "Reassembler", "TransportSequenceError", "decode_transport_header",
           "encode_transport_header", "segment"]

PROTOCOL: Final = "dnp3"
DEFAULT_MAX_FRAGMENT: Final = 2048  # 4.2.1 recommends fragments of at most 2048 octets by default


class TransportSequenceError(DecodeError):
    """A segment out of order: no FIR while no fragment is in progress, or a sequence gap (8.2.2)."""


_HEADERS: Final = tuple(TransportHeader(fin=bool(o & 0x80), fir=bool(o & 0x40), seq=o & 0x3F)
                        for o in range(256))


def decode_transport_header(octet: int) -> TransportHeader:
    """The header in transport header octet ``octet`` (8.2.1); one shared immutable value per octet."""
    return _HEADERS[octet]


def encode_transport_header(header: TransportHeader, protocol: str = PROTOCOL) -> int:
    if not 0 <= header.seq <= 63:
        raise EncodeError(protocol, ("transport", "seq"), f"sequence {header.seq} not in 0..63 (8.2.1)")
    return (header.fin << 7) | (header.fir << 6) | header.seq


def segment(fragment: bytes, *, seq: int = 0, size: int = C.MAX_SEGMENT_PAYLOAD) -> list[bytes]:
    """``fragment`` as transport segments (header octet + payload) of at most ``size`` payload octets,
    numbered from ``seq`` mod 64. An empty fragment is one segment with FIR and FIN."""
    if not 1 <= size <= C.MAX_SEGMENT_PAYLOAD:
        raise EncodeError(PROTOCOL, ("transport",), f"segment size {size} not in 1..{C.MAX_SEGMENT_PAYLOAD}")
    pieces = [fragment[i:i + size] for i in range(0, len(fragment), size)] or [b""]
    out = []
    for i, piece in enumerate(pieces):
        head = TransportHeader(fir=i == 0, fin=i == len(pieces) - 1, seq=(seq + i) % 64)
        out.append(bytes((encode_transport_header(head),)) + piece)
    return out


class Reassembler:
    """Transport segments in, whole application fragments out (8.2.2)."""

    def __init__(self, *, max_fragment: int = DEFAULT_MAX_FRAGMENT, protocol: str = PROTOCOL) -> None:
        self.max_fragment = max_fragment
        self.protocol = protocol
        self._parts = bytearray()
        self._next_seq: int | None = None  # None: no fragment in progress
        self.abandoned = 0  # fragments dropped because a FIR segment came before their FIN
        self.abandoned_octets = 0

    @property
    def in_progress(self) -> bool:
        return self._next_seq is not None

    def reset(self) -> None:
        self._parts.clear()
        self._next_seq = None

    def feed(self, data: bytes) -> bytes | None:
        """One segment (transport header + payload); the whole fragment when it ends, else ``None``."""
        if not data:
            raise TruncatedError(self.protocol, ("transport",), 0, "a segment has at least its header octet")
        if len(data) - 1 > C.MAX_SEGMENT_PAYLOAD:
            raise DecodeError(self.protocol, ("transport",), C.MAX_SEGMENT_PAYLOAD + 1,
                              f"{len(data) - 1} payload octets; a segment carries at most "
                              f"{C.MAX_SEGMENT_PAYLOAD} (8.2.1)")
        head = decode_transport_header(data[0])
        if head.fir:
            if self.in_progress:
                # 8.2.2: a FIR segment always starts a fragment; the one in progress is abandoned.
                # That is not this segment's fault, so it is counted, not raised.
                self.abandoned += 1
                self.abandoned_octets += len(self._parts)
            self.reset()
            self._next_seq = head.seq
        elif not self.in_progress:
            raise TransportSequenceError(self.protocol, ("transport", "fir"), 0,
                                         f"segment seq {head.seq} without FIR and no fragment in progress; "
                                         "dropped (8.2.2)")
        elif head.seq != self._next_seq:
            want = self._next_seq
            self.reset()
            raise TransportSequenceError(self.protocol, ("transport", "seq"), 0,
                                         f"sequence {head.seq}, expected {want}; fragment dropped (8.2.2)")
        return self._accept(head, data)

    def _accept(self, head: TransportHeader, data: bytes) -> bytes | None:
        if len(self._parts) + len(data) - 1 > self.max_fragment:
            size = len(self._parts) + len(data) - 1
            self.reset()
            raise DecodeError(self.protocol, ("transport",), 0,
                              f"fragment of {size}+ octets passes the limit of {self.max_fragment}; dropped")
        self._parts += data[1:]
        self._next_seq = (head.seq + 1) % 64
        if head.fin:
            out = bytes(self._parts)
            self.reset()
            return out
        return None
