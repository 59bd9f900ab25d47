"""DNP3 stream framers: FT3 link frames out of a byte stream, fragments out of link frames (pure).

:class:`LinkFramer` delimits frames by the start octets and LENGTH
(IEEE 1815-2012 9.2.4.1) and checks the header CRC before it believes a
LENGTH: a header that fails it proves nothing about where the next frame
starts, so the framer drops the two start octets and resynchronises on the
next 0x05 0x64 (9.2.4.1.1 and 9.3: a secondary station discards a frame
whose header CRC fails). Bytes before a start are discarded with a
:class:`~wireproof.errors.DecodeError` saying how many. User-data block
CRCs are the decoder's business (:func:`~.link.decode_link`): the header
alone says where the frame ends.

:class:`FragmentFramer` stacks a :class:`LinkFramer`, the link decoder and
a transport :class:`~.transport.Reassembler`: bytes of one direction of a
link in, whole application fragments out.
"""

from __future__ import annotations

from wireproof.codecs._core import NEED_DATA, BufferedFramer, NeedData
from wireproof.codecs.dnp3 import constants as C
from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.codecs.dnp3.link import crc16_dnp, decode_link, frame_size
from wireproof.codecs.dnp3.transport import DEFAULT_MAX_FRAGMENT, Reassembler
from wireproof.errors import ChecksumError, DecodeError

__all__ = ["FragmentFramer", "LinkFramer"]

_USER_DATA = (PrimaryFunction.CONFIRMED_USER_DATA, PrimaryFunction.UNCONFIRMED_USER_DATA)
_EVIDENCE = 32  # octets of discarded input kept for a report


class LinkFramer(BufferedFramer):
    """FT3 frames from a byte stream (see the module docstring)."""

    protocol = "dnp3"

    def __init__(self, *, max_buffer: int = 64 * 1024) -> None:
        super().__init__(max_buffer=max_buffer)
        self.discarded = b""  # the first octets the last framing error discarded
        self.discarded_count = 0

    def _discard(self, n: int) -> None:
        self.discarded, self.discarded_count = bytes(self._buf[:min(n, _EVIDENCE)]), n
        del self._buf[:n]

    def next_frame(self) -> bytes | NeedData:
        buf = self._buf
        if len(buf) < 2:
            if buf and buf[0] != 0x05:
                self._discard(1)
                raise DecodeError(self.protocol, ("link", "start"), 0,
                                  "1 octet before a 0564 start discarded (9.2.4.1.1)")
            return NEED_DATA
        if buf[0] != 0x05 or buf[1] != 0x64:
            at = buf.find(C.LINK_START, 1)
            skip = at if at >= 0 else len(buf) - (buf[-1] == 0x05)
            self._discard(skip)
            raise DecodeError(self.protocol, ("link", "start"), 0,
                              f"{skip} octets before a 0564 start discarded (9.2.4.1.1)")
        if len(buf) < C.LINK_HEADER_SIZE:
            return NEED_DATA
        crc, want = buf[8] | buf[9] << 8, crc16_dnp(buf[:8])
        if crc != want:
            self._discard(2)
            raise ChecksumError(self.protocol, ("link", "header_crc"), 8,
                                f"header CRC is 0x{crc:04x}, computed 0x{want:04x}; start octets "
                                "discarded (9.2.4.1.5)")
        length = buf[2]
        if length < C.MIN_LINK_LENGTH:
            self._discard(2)
            raise DecodeError(self.protocol, ("link", "length"), 2,
                              f"LENGTH {length} is less than 5; start octets discarded (9.2.4.1.2)")
        size = frame_size(length)
        if len(buf) < size:
            return NEED_DATA
        return self._take(size)


class FragmentFramer:
    """Whole application fragments from the link frames of one direction of a link.

    Link frames without user data (link services) are consumed silently; a
    frame that does not decode, or a segment out of sequence, raises its
    DecodeError after being dropped, so the caller may go on.
    """

    protocol = "dnp3-app"

    def __init__(self, *, max_buffer: int = 64 * 1024, max_fragment: int = DEFAULT_MAX_FRAGMENT) -> None:
        self.links = LinkFramer(max_buffer=max_buffer)
        self.transport = Reassembler(max_fragment=max_fragment, protocol=self.protocol)
        self.max_buffer = max_buffer

    @property
    def buffered(self) -> int:
        return self.links.buffered

    def feed(self, data: bytes) -> None:
        self.links.feed(data)

    def next_frame(self) -> bytes | NeedData:
        while True:
            raw = self.links.next_frame()
            if raw is NEED_DATA:
                return NEED_DATA
            frame = decode_link(raw)
            if frame.prm and frame.function in _USER_DATA and frame.user_data:
                fragment = self.transport.feed(frame.user_data)
                if fragment is not None:
                    return fragment
