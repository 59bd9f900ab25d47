"""DNP3 codec: FT3 link frames, transport segments, application fragments, objects (pure).

Normative reference: IEEE 1815-2012, Standard for Electric Power Systems
Communications — Distributed Network Protocol (DNP3): clause 9 (data link
layer, FT3 frame format), clause 8 (transport function), clause 4
(application layer) and clause 11 / Annex A (object library).

- :mod:`.messages` — link frames, transport headers, fragments, object headers;
- :mod:`.link`, :mod:`.transport`, :mod:`.application`, :mod:`.objects` — the
  hand-written fast path; :mod:`.library` — the group/variation layouts;
- :mod:`.free_format` — the free-format objects (file transfer g70, data sets g86-g88, secure
  authentication g120) decoded into fields;
- :mod:`.formats` and :mod:`.library_formats` — the declarative Construct definitions of the
  link frame, the headers and the object library: the oracle (``decode_declarative`` and
  ``encode_declarative`` on both codecs, differentially tested against the fast path both ways);
- :mod:`.framers` — the link framer and the fragment framer (link + transport);
- :mod:`.scapy_layer` — Scapy layers (the ``scapy`` extra), bound to TCP and UDP port 20000.

    >>> from wireproof.codecs.dnp3 import link_codec
    >>> link_codec().decode(bytes.fromhex("05640a4401000a006e25c0f08280006b7d")).application.function
    <FunctionCode.RESPONSE: 129>
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wireproof import _lazy

if TYPE_CHECKING:
    from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
    from wireproof.codecs.dnp3.codec import Dnp3AppCodec, Dnp3Codec, link_frames
    from wireproof.codecs.dnp3.constants import FunctionCode, Iin, PrimaryFunction, SecondaryFunction
    from wireproof.codecs.dnp3.framers import FragmentFramer, LinkFramer
    from wireproof.codecs.dnp3.library import ObjectSpec, attribute_value, lookup
    from wireproof.codecs.dnp3.link import crc16_dnp, decode_link, encode_link
    from wireproof.codecs.dnp3.messages import (
        ApplicationRequest,
        ApplicationResponse,
        Fragment,
        LinkFrame,
        ObjectHeader,
        Point,
        TransportHeader,
    )
    from wireproof.codecs.dnp3.transport import Reassembler, TransportSequenceError, segment
else:
    # The codec is imported on first use: loading the descriptor (protocol.py) must stay cheap.
    __getattr__ = _lazy.exports(__name__, ("application", "codec", "constants", "framers", "library", "link",
                                           "messages", "transport"))

__all__ = [
    "ApplicationRequest",
    "ApplicationResponse",
    "Dnp3AppCodec",
    "Dnp3Codec",
    "Fragment",
    "FragmentFramer",
    "FunctionCode",
    "Iin",
    "LinkFrame",
    "LinkFramer",
    "ObjectHeader",
    "ObjectSpec",
    "Point",
    "PrimaryFunction",
    "Reassembler",
    "SecondaryFunction",
    "TransportHeader",
    "TransportSequenceError",
    "app_codec",
    "attribute_value",
    "crc16_dnp",
    "decode_fragment",
    "decode_link",
    "encode_fragment",
    "encode_link",
    "link_codec",
    "link_frames",
    "lookup",
    "segment",
]


def link_codec() -> Dnp3Codec:
    """The ``dnp3`` codec (an FT3 link frame)."""
    from wireproof.codecs.dnp3.codec import Dnp3Codec
    return Dnp3Codec()


def app_codec() -> Dnp3AppCodec:
    """The ``dnp3-app`` codec (an application fragment)."""
    from wireproof.codecs.dnp3.codec import Dnp3AppCodec
    return Dnp3AppCodec()
