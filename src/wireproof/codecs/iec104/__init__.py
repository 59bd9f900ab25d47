"""IEC 60870-5-104 codec: APDUs (I, S, U format), ASDUs of IEC 60870-5-101, information objects (pure).

Normative references: IEC 60870-5-104:2006 (APCI, the 104 selection of
ASDUs), IEC 60870-5-101:2003 (the ASDU, its data unit identifier and
information elements), IEC 60870-5-4 (time formats).

- :mod:`.constants` — type identifications, causes, U functions, field sizes;
- :mod:`.messages` — APDUs, ASDUs, information objects, CP56Time2a/CP24Time2a;
- :mod:`.codec` — the hand-written fast path (:func:`~.codec.decode_apdu`, ...) and the codecs
  ``iec104`` (an APDU) and ``iec104-asdu`` (an ASDU alone, any field sizes);
  :mod:`.objects` — the information elements of each type identification;
- :mod:`.framers` — APDUs out of a TCP byte stream.

    >>> from wireproof.codecs.iec104 import apdu_codec
    >>> apdu_codec().decode(bytes.fromhex("680e0000000064010600010000000014")).asdu.type_id
    100
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wireproof import _lazy

if TYPE_CHECKING:
    from wireproof.codecs.iec104.codec import (
        Iec104AsduCodec,
        Iec104Codec,
        decode_apdu,
        decode_asdu,
        encode_apdu,
        encode_asdu,
    )
    from wireproof.codecs.iec104.constants import IEC104_SIZES, Cause, FieldSizes, TypeId, UFunction
    from wireproof.codecs.iec104.framers import ApduFramer
    from wireproof.codecs.iec104.messages import (
        ELEMENTS,
        Apdu,
        Asdu,
        Cp24Time2a,
        Cp56Time2a,
        IFrame,
        InformationObject,
        Quality,
        SFrame,
        UFrame,
    )
else:
    # The codec is imported on first use: loading the descriptor (protocol.py) must stay cheap.
    __getattr__ = _lazy.exports(__name__, ("codec", "constants", "framers", "messages", "objects"))

__all__ = [
    "ELEMENTS",
    "IEC104_SIZES",
    "Apdu",
    "ApduFramer",
    "Asdu",
    "Cause",
    "Cp24Time2a",
    "Cp56Time2a",
    "FieldSizes",
    "IFrame",
    "Iec104AsduCodec",
    "Iec104Codec",
    "InformationObject",
    "Quality",
    "SFrame",
    "TypeId",
    "UFrame",
    "UFunction",
    "apdu_codec",
    "asdu_codec",
    "decode_apdu",
    "decode_asdu",
    "encode_apdu",
    "encode_asdu",
]


def apdu_codec() -> Iec104Codec:
    """The ``iec104`` codec (one APDU, 104 field sizes)."""
    from wireproof.codecs.iec104.codec import Iec104Codec
    return Iec104Codec()


def asdu_codec() -> Iec104AsduCodec:
    """The ``iec104-asdu`` codec (an ASDU alone, 104 field sizes)."""
    from wireproof.codecs.iec104.codec import Iec104AsduCodec
    return Iec104AsduCodec()
