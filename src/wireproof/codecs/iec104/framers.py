"""IEC 104 stream framer: APDUs out of a TCP byte stream (pure).

An APDU is delimited by its start character 0x68 and its length octet
(104 5.1). The standard has no resynchronisation: a station that sees a bad
start character or length closes the connection. A passive reader goes on:
:class:`ApduFramer` drops the octets before the next 0x68 with a
:class:`~wireproof.errors.DecodeError` (path ``start``) saying how many, and
takes a start whose length is outside 4..253 as one malformed APDU of the
length it claims (its 2 + length octets dropped, a DecodeError with path
``length``), as Wireshark's dissector does, so that APDU counts agree with
tshark's on damaged streams.
"""

from __future__ import annotations

from wireproof.codecs._core import NEED_DATA, BufferedFramer, NeedData
from wireproof.codecs.iec104.constants import MAX_APDU_LENGTH, MIN_APDU_LENGTH, START
from wireproof.errors import DecodeError

__all__ = ["ApduFramer"]

_EVIDENCE = 32  # octets of discarded input kept for a report


class ApduFramer(BufferedFramer):
    """APDUs from a byte stream (see the module docstring)."""

    protocol = "iec104"

    def __init__(self, *, max_buffer: int = 64 * 1024) -> None:
        super().__init__(max_buffer=max_buffer)
        self.discarded = b""  # the first octets the last framing error discarded
        self.discarded_count = 0

    def _discard(self, n: int) -> None:
        self.discarded, self.discarded_count = bytes(self._buf[:min(n, _EVIDENCE)]), n
        del self._buf[:n]

    def next_frame(self) -> bytes | NeedData:
        buf = self._buf
        if not buf:
            return NEED_DATA
        if buf[0] != START:
            at = buf.find(START, 1)
            skip = at if at >= 0 else len(buf)
            self._discard(skip)
            raise DecodeError(self.protocol, ("start",), 0,
                              f"{skip} octets before a 0x68 start character discarded (104 5.1)")
        if len(buf) < 2:
            return NEED_DATA
        length = buf[1]
        if len(buf) < 2 + length:
            return NEED_DATA
        if length < MIN_APDU_LENGTH or length > MAX_APDU_LENGTH:
            self._discard(2 + length)
            raise DecodeError(self.protocol, ("length",), 1,
                              f"length {length} is outside {MIN_APDU_LENGTH}..{MAX_APDU_LENGTH}; the "
                              f"{2 + length} octets it delimits dropped (104 5.1)")
        return self._take(2 + length)
