"""IEC 60870-5-104 messages as frozen dataclasses: APDUs (I, S and U format), ASDUs, objects, times.

Normative references: IEC 60870-5-104:2006 clause 5 (APCI), IEC
60870-5-101:2003 7.2 (data unit identifier) and 7.3 (information elements),
IEC 60870-5-4 6.8 (CP56Time2a, CP24Time2a, CP16Time2a).

An APDU is one of :class:`IFrame`, :class:`SFrame`, :class:`UFrame`. An
:class:`IFrame` carries an :class:`Asdu`; to encode a crafted frame whose
ASDU would not decode (the conformance suites send those), its ``asdu`` may
be the ASDU's octets instead.

An :class:`Asdu` holds its information objects; each
:class:`InformationObject` has its address and its elements by name
(:data:`ELEMENTS` lists the names per type identification). With SQ=1
(``sequence=True``) the objects' addresses are consecutive and only the
first goes on the wire; decoding fills every object's address. An ASDU whose
type identification the codec does not know decodes with no objects, its
information-object octets kept in ``raw`` and the number of objects the
variable structure qualifier gave in ``raw_number``.

Element values: ``value`` is the object's main value: ``bool`` for a single
point / single command, ``int`` 0..3 for double point / double command /
regulating step, ``int`` -64..63 for a step position (with ``transient``),
``int`` 0..2**32-1 for a bitstring, ``float`` for a normalized value (the
16-bit two's complement over 32768, -1.0 .. 1-2**-15) and for a short floating
point value, ``int`` for a scaled value and for an integrated total (signed
32 bits, with ``sequence`` 0..31, ``carry``, ``adjusted``, ``invalid``).
``quality`` is a :class:`Quality` (the quality bits of SIQ, DIQ, QDS, QDP,
SEP; value bits masked out). ``time`` is a :class:`Cp56Time2a` (a
:class:`Cp24Time2a` for IEC 101's types 2..19 that carry one). Commands have
``qualifier`` (QU 0..31 or QL 0..127) and ``select`` (S/E, True = select).
Qualifier octets of system and parameter commands keep the standard's
mnemonics as names (``qoi``, ``qcc``, ``qrp``, ``qpm``, ``qpa``, ``fbp``,
``tsc``); file transfer elements likewise (``nof``, ``lof``, ``nos``,
``los``, ``frq``, ``srq``, ``scq``, ``lsq``, ``chs``, ``afq``, ``sof``,
``segment`` as bytes); CP16Time2a values are ``int`` milliseconds
(``elapsed``, ``duration``, ``operating``, ``delay``).
"""

from __future__ import annotations

import datetime as _dt
import enum
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs.iec104.constants import TypeId, UFunction

__all__ = [
    "ELEMENTS",
    "Apdu",
    "Asdu",
    "Cp24Time2a",
    "Cp56Time2a",
    "IFrame",
    "InformationObject",
    "Quality",
    "SFrame",
    "UFrame",
]


class Quality(enum.IntFlag):
    """Quality descriptor bits (101 7.2.6.1-7.2.6.4 SIQ, DIQ, QDS, QDP; 7.2.6.10 SEP):
    OV overflow, EI elapsed time invalid, BL blocked, SB substituted, NT not topical, IV invalid."""

    OV = 0x01
    EI = 0x08
    BL = 0x10
    SB = 0x20
    NT = 0x40
    IV = 0x80


@dataclass(frozen=True, slots=True, kw_only=True)
class Cp56Time2a:
    """Seven-octet binary time (IEC 60870-5-4 6.8; 101 7.2.6.18): milliseconds 0..59999
    (seconds included), minute 0..59, hour 0..23, day of month 1..31, day of week 1..7 (0: not
    used), month 1..12, year 0..99; IV invalid, SU summer time, RES1 ``substituted`` (104
    ed. 2: the time tag is substituted, not genuine). Reserved bits are 0 on encoding and
    ignored on decoding."""

    milliseconds: int
    minute: int
    hour: int
    day: int
    month: int
    year: int
    weekday: int = 0
    invalid: bool = False
    summer: bool = False
    substituted: bool = False

    def to_datetime(self) -> _dt.datetime:
        """The time as a naive :class:`datetime.datetime` (year 2000 + ``year``); ValueError when the
        fields name no date (day 31 of February)."""
        seconds, ms = divmod(self.milliseconds, 1000)
        return _dt.datetime(2000 + self.year, self.month, self.day, self.hour, self.minute, seconds,
                            ms * 1000)

    @classmethod
    def from_datetime(cls, when: _dt.datetime, *, invalid: bool = False, summer: bool = False,
                      substituted: bool = False, weekday: bool = True) -> Cp56Time2a:
        """``when`` (years 2000..2099) as a CP56Time2a; ``weekday`` fills the day of week (1 Monday)."""
        return cls(milliseconds=when.second * 1000 + when.microsecond // 1000, minute=when.minute,
                   hour=when.hour, day=when.day, month=when.month, year=when.year % 100,
                   weekday=when.isoweekday() if weekday else 0, invalid=invalid, summer=summer,
                   substituted=substituted)


@dataclass(frozen=True, slots=True, kw_only=True)
class Cp24Time2a:
    """Three-octet binary time (IEC 60870-5-4 6.8; 101 7.2.6.19): milliseconds 0..59999, minute
    0..59, IV, RES1 (``substituted``)."""

    milliseconds: int
    minute: int
    invalid: bool = False
    substituted: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class InformationObject:
    """One information object: its address (IOA) and its elements by name (:data:`ELEMENTS`)."""

    address: int
    elements: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> Any:
        return self.elements.get("value")

    @property
    def quality(self) -> Quality | None:
        q = self.elements.get("quality")
        return None if q is None else Quality(q)

    @property
    def time(self) -> Cp56Time2a | Cp24Time2a | None:
        t = self.elements.get("time")
        return t if isinstance(t, Cp56Time2a | Cp24Time2a) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Asdu:
    """An application service data unit (101 7.1, 7.2): the data unit identifier and the objects.

    ``cause`` is the 6-bit cause of transmission, ``negative`` the P/N bit (a negative
    confirm), ``test`` the T bit; ``originator`` the originator address (0 when the cause
    field is one octet); ``sequence`` the SQ bit. The number of objects is ``len(objects)``
    (``raw_number`` for an unknown type identification, whose objects stay in ``raw``).
    """

    type_id: int
    cause: int
    common_address: int
    objects: tuple[InformationObject, ...] = ()
    sequence: bool = False
    negative: bool = False
    test: bool = False
    originator: int = 0
    raw: bytes = b""
    raw_number: int = 0

    @property
    def known(self) -> bool:
        """Whether the codec knows the type identification (else the objects are in ``raw``)."""
        return self.type_id in ELEMENTS


@dataclass(frozen=True, slots=True, kw_only=True)
class IFrame:
    """I format (104 5.1, figure 6): numbered information transfer, N(S) and N(R) 0..32767."""

    send_seq: int
    recv_seq: int
    asdu: Asdu | bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class SFrame:
    """S format (104 5.2, figure 7): numbered supervisory function, acknowledges up to N(R) - 1."""

    recv_seq: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UFrame:
    """U format (104 5.3, figure 8): STARTDT, STOPDT or TESTFR, act or con."""

    function: UFunction


Apdu = IFrame | SFrame | UFrame

_Q: Final = ("quality",)
_TIME: Final = ("time",)
_CMD: Final = ("value", "qualifier", "select")

# The element names of each type identification's information object, in wire order
# (the module docstring gives their value types).
ELEMENTS: Final[dict[int, tuple[str, ...]]] = {
    TypeId.M_SP_NA_1: ("value", *_Q),
    TypeId.M_DP_NA_1: ("value", *_Q),
    TypeId.M_ST_NA_1: ("value", "transient", *_Q),
    TypeId.M_BO_NA_1: ("value", *_Q),
    TypeId.M_ME_NA_1: ("value", *_Q),
    TypeId.M_ME_NB_1: ("value", *_Q),
    TypeId.M_ME_NC_1: ("value", *_Q),
    TypeId.M_IT_NA_1: ("value", "sequence", "carry", "adjusted", "invalid"),
    TypeId.M_PS_NA_1: ("status", "change", *_Q),
    TypeId.M_ME_ND_1: ("value",),
    TypeId.M_SP_TB_1: ("value", *_Q, *_TIME),
    TypeId.M_DP_TB_1: ("value", *_Q, *_TIME),
    TypeId.M_ST_TB_1: ("value", "transient", *_Q, *_TIME),
    TypeId.M_BO_TB_1: ("value", *_Q, *_TIME),
    TypeId.M_ME_TD_1: ("value", *_Q, *_TIME),
    TypeId.M_ME_TE_1: ("value", *_Q, *_TIME),
    TypeId.M_ME_TF_1: ("value", *_Q, *_TIME),
    TypeId.M_IT_TB_1: ("value", "sequence", "carry", "adjusted", "invalid", *_TIME),
    TypeId.M_EP_TD_1: ("event", *_Q, "elapsed", *_TIME),  # SEP (ES 0..3 + quality), CP16, CP56
    TypeId.M_EP_TE_1: ("start", *_Q, "duration", *_TIME),  # SPE octet, QDP, CP16, CP56
    TypeId.M_EP_TF_1: ("circuit", *_Q, "operating", *_TIME),  # OCI octet, QDP, CP16, CP56
    TypeId.C_SC_NA_1: _CMD,
    TypeId.C_DC_NA_1: _CMD,
    TypeId.C_RC_NA_1: _CMD,
    TypeId.C_SE_NA_1: _CMD,
    TypeId.C_SE_NB_1: _CMD,
    TypeId.C_SE_NC_1: _CMD,
    TypeId.C_BO_NA_1: ("value",),
    TypeId.C_SC_TA_1: (*_CMD, *_TIME),
    TypeId.C_DC_TA_1: (*_CMD, *_TIME),
    TypeId.C_RC_TA_1: (*_CMD, *_TIME),
    TypeId.C_SE_TA_1: (*_CMD, *_TIME),
    TypeId.C_SE_TB_1: (*_CMD, *_TIME),
    TypeId.C_SE_TC_1: (*_CMD, *_TIME),
    TypeId.C_BO_TA_1: ("value", *_TIME),
    # IEC 101 only: CP24Time2a time tags
    TypeId.M_SP_TA_1: ("value", *_Q, *_TIME), TypeId.M_DP_TA_1: ("value", *_Q, *_TIME),
    TypeId.M_ST_TA_1: ("value", "transient", *_Q, *_TIME), TypeId.M_BO_TA_1: ("value", *_Q, *_TIME),
    TypeId.M_ME_TA_1: ("value", *_Q, *_TIME), TypeId.M_ME_TB_1: ("value", *_Q, *_TIME),
    TypeId.M_ME_TC_1: ("value", *_Q, *_TIME),
    TypeId.M_IT_TA_1: ("value", "sequence", "carry", "adjusted", "invalid", *_TIME),
    TypeId.M_EP_TA_1: ("event", *_Q, "elapsed", *_TIME), TypeId.M_EP_TB_1: ("start", *_Q, "duration", *_TIME),
    TypeId.M_EP_TC_1: ("circuit", *_Q, "operating", *_TIME),
    TypeId.M_EI_NA_1: ("coi", "parameters_changed"),  # COI: cause 0..127, BS1 local change
    TypeId.C_IC_NA_1: ("qoi",),
    TypeId.C_CI_NA_1: ("qcc",),  # the whole octet: RQT bits 0..5, FRZ bits 6..7
    TypeId.C_RD_NA_1: (),
    TypeId.C_CS_NA_1: _TIME,
    TypeId.C_TS_NA_1: ("fbp",),  # fixed test bit pattern, 0x55AA
    TypeId.C_RP_NA_1: ("qrp",),
    TypeId.C_CD_NA_1: ("delay",),  # CP16Time2a
    TypeId.C_TS_TA_1: ("tsc", *_TIME),
    TypeId.P_ME_NA_1: ("value", "qpm"),
    TypeId.P_ME_NB_1: ("value", "qpm"),
    TypeId.P_ME_NC_1: ("value", "qpm"),
    TypeId.P_AC_NA_1: ("qpa",),
    TypeId.F_FR_NA_1: ("nof", "lof", "frq"),
    TypeId.F_SR_NA_1: ("nof", "nos", "los", "srq"),
    TypeId.F_SC_NA_1: ("nof", "nos", "scq"),
    TypeId.F_LS_NA_1: ("nof", "nos", "lsq", "chs"),
    TypeId.F_AF_NA_1: ("nof", "nos", "afq"),
    TypeId.F_SG_NA_1: ("nof", "nos", "segment"),  # LOS is len(segment)
    TypeId.F_DR_TA_1: ("nof", "lof", "sof", *_TIME),
    TypeId.F_SC_NB_1: ("nof", "start", "stop"),  # two CP56Time2a
}
