"""IEC 60870-5-104 codec: APDUs (I, S, U format), ASDUs of IEC 60870-5-101, information objects (pure).

Normative references: IEC 60870-5-104:2006 (APCI, the 104 selection of
ASDUs), IEC 60870-5-101:2003 (the ASDU, its data unit identifier and
information elements), IEC 60870-5-4 (time formats).

- :mod:`.constants` — type identifications, causes, U functions, field sizes;
- :mod:`.messages` — APDUs, ASDUs, information objects, CP56Time2a/CP24Time2a.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wireproof import _lazy

if TYPE_CHECKING:
    from wireproof.codecs.iec104.constants import IEC104_SIZES, Cause, FieldSizes, TypeId, UFunction
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
    __getattr__ = _lazy.exports(__name__, ("constants", "messages"))

__all__ = [
    "ELEMENTS",
    "IEC104_SIZES",
    "Apdu",
    "Asdu",
    "Cause",
    "Cp24Time2a",
    "Cp56Time2a",
    "FieldSizes",
    "IFrame",
    "InformationObject",
    "Quality",
    "SFrame",
    "TypeId",
    "UFrame",
    "UFunction",
]
