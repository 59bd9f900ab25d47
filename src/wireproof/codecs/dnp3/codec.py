"""The DNP3 codecs: ``dnp3`` (an FT3 link frame) and ``dnp3-app`` (an application fragment).

``dnp3`` decodes the link frame (:mod:`.link`); when the frame carries user
data (a primary CONFIRMED or UNCONFIRMED USER DATA frame, IEEE 1815-2012
9.2.4.1.3.6) its first octet is decoded as the transport header (8.2.1), and
when that segment is a whole fragment (FIR and FIN) the rest is decoded as
the application fragment (4.2). An application error inside a link frame is
reported with the path prefixed by ``application`` and the offset in the
frame as received (block CRCs counted). Encoding uses the frame's
``user_data``; :func:`link_frames` builds the frames that carry a fragment.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Final

from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.codecs.dnp3.framers import FragmentFramer, LinkFramer
from wireproof.codecs.dnp3.link import (
    encode_link,
    link_parts,
    user_data_frame_offset,
)
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    TransportHeader,
    new_link_frame,
)
from wireproof.codecs.dnp3.transport import decode_transport_header, segment
from wireproof.errors import DecodeError

__all__ = ["Dnp3AppCodec", "Dnp3Codec", "link_frames"]

_USER_DATA = (PrimaryFunction.CONFIRMED_USER_DATA, PrimaryFunction.UNCONFIRMED_USER_DATA)
# Control octet -> (DIR, PRM, FCB, FCV, whether the frame carries a transport segment: a primary
# CONFIRMED or UNCONFIRMED USER DATA; 9.2.4.1.3).
_CONTROL: Final = tuple((bool(c & 0x80), bool(c & 0x40), bool(c & 0x20), bool(c & 0x10),
                         bool(c & 0x40) and c & 0x0F in (3, 4)) for c in range(256))


class Dnp3Codec:
    """``dnp3``: an FT3 link frame, with transport and application decoded when complete."""

    name = "dnp3"

    def decode(self, data: bytes) -> LinkFrame:
        if type(data) is not bytes:
            data = bytes(data)
        control, function, destination, source, user = link_parts(data, self.name)
        transport = application = None
        dir_, prm, fcb, fcv, carries = _CONTROL[control]
        if user and carries:
            octet = user[0]
            transport = decode_transport_header(octet)
            if octet & 0xC0 == 0xC0:  # FIR and FIN: a whole fragment
                try:
                    application = decode_fragment(user[1:], self.name)
                except DecodeError as err:
                    raise self._moved(err, data, user) from None
        return new_link_frame(dir_, prm, fcb, fcv, function, destination, source, user, transport,
                              application)

    def _moved(self, err: DecodeError, data: bytes, user: bytes) -> DecodeError:
        """``err`` (offsets in the fragment) with its path under ``application`` and its offset in the
        frame as received (block CRCs counted)."""
        k = err.offset + 1  # the transport header octet comes first
        offset = len(data) if k >= len(user) else user_data_frame_offset(k)
        return type(err)(self.name, ("application", *err.path), offset, err.reason)

    def decode_declarative(self, data: bytes) -> LinkFrame:
        """The same by the Construct definitions (:mod:`.formats`, :mod:`.library_formats`): the oracle."""
        from wireproof.codecs.dnp3.formats import decode_link_declarative, decode_transport_declarative
        from wireproof.codecs.dnp3.library_formats import decode_fragment_declarative

        return self._decode(bytes(data), decode_link_declarative, decode_transport_declarative,
                            decode_fragment_declarative)

    def _decode(self, data: bytes, link: Callable[[bytes, str], LinkFrame],
                transport_header: Callable[[int], TransportHeader],
                fragment: Callable[[bytes, str], ApplicationRequest | ApplicationResponse]) -> LinkFrame:
        frame = link(data, self.name)
        user = frame.user_data
        if not (user and frame.prm and frame.function in _USER_DATA):
            return frame
        transport = transport_header(user[0])
        application = None
        if transport.fir and transport.fin:
            try:
                application = fragment(user[1:], self.name)
            except DecodeError as err:
                raise self._moved(err, data, user) from None
        return dataclasses.replace(frame, transport=transport, application=application)

    def encode(self, message: LinkFrame) -> bytes:
        return encode_link(message, self.name)

    def encode_declarative(self, message: LinkFrame) -> bytes:
        """The same by the Construct definitions (:mod:`.formats`): the oracle of :meth:`encode`."""
        from wireproof.codecs.dnp3.formats import encode_link_declarative

        return encode_link_declarative(message, self.name)

    def framer(self) -> LinkFramer:
        return LinkFramer()


class Dnp3AppCodec:
    """``dnp3-app``: an application fragment (4.2); its framer reassembles link frames' segments."""

    name = "dnp3-app"

    def decode(self, data: bytes) -> ApplicationRequest | ApplicationResponse:
        return decode_fragment(bytes(data), self.name)

    def decode_declarative(self, data: bytes) -> ApplicationRequest | ApplicationResponse:
        """The same by the Construct definitions (:mod:`.library_formats`): the oracle."""
        from wireproof.codecs.dnp3.library_formats import decode_fragment_declarative

        return decode_fragment_declarative(bytes(data), self.name)

    def encode(self, message: ApplicationRequest | ApplicationResponse) -> bytes:
        return encode_fragment(message, self.name)

    def encode_declarative(self, message: ApplicationRequest | ApplicationResponse) -> bytes:
        """The same by the Construct definitions (:mod:`.library_formats`): the oracle of :meth:`encode`."""
        from wireproof.codecs.dnp3.library_formats import encode_fragment_declarative

        return encode_fragment_declarative(message, self.name)

    def framer(self) -> FragmentFramer:
        return FragmentFramer()


def link_frames(fragment: ApplicationRequest | ApplicationResponse | bytes, *, destination: int, source: int,
                master: bool, confirmed: bool = False, fcb: bool = False, transport_seq: int = 0,
                segment_size: int = 249) -> list[LinkFrame]:
    """The primary link frames that carry ``fragment`` (a message or its octets): segmented (8.2),
    DIR set when ``master`` sends (9.2.4.1.3.1), CONFIRMED USER DATA with FCV when ``confirmed``.

    Each frame's ``transport`` view is set; its ``application`` view is ``fragment`` itself when it
    is a message that fits one segment (nothing is decoded here, so a fragment that would not
    decode can be sent: the conformance suites need to).
    """
    octets = fragment if isinstance(fragment, bytes) else encode_fragment(fragment, "dnp3")
    function = PrimaryFunction.CONFIRMED_USER_DATA if confirmed else PrimaryFunction.UNCONFIRMED_USER_DATA
    segments = segment(octets, seq=transport_seq, size=segment_size)
    whole = None if isinstance(fragment, bytes) or len(segments) > 1 else fragment
    return [LinkFrame(dir=master, prm=True, fcb=fcb and confirmed, fcv=confirmed, function=function,
                      destination=destination, source=source, user_data=seg,
                      transport=decode_transport_header(seg[0]), application=whole)
            for seg in segments]
