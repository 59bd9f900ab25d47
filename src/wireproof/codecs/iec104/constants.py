"""IEC 60870-5-104 numbers: APCI, type identifications, causes of transmission, field sizes.

Normative references: IEC 60870-5-104:2006 (clause 5, APCI; clause 9, the
104 selection of ASDUs), IEC 60870-5-101:2003 (7.2, the data unit
identifier; 7.3, the information elements; 7.2.1, the type identifications)
and IEC 60870-5-4 (the time formats). The names are the standard's
mnemonics (``M_SP_NA_1``) and words.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "APCI_SIZE",
    "IEC101_ONLY",
    "IEC104_TYPES",
    "MAX_APDU_LENGTH",
    "MIN_APDU_LENGTH",
    "START",
    "Cause",
    "FieldSizes",
    "TypeId",
    "UFunction",
]

START: Final = 0x68  # 104 5.1: the start character
APCI_SIZE: Final = 6  # start, length, four control octets
MIN_APDU_LENGTH: Final = 4  # 104 5.1: the length octet counts the control field (4) and the ASDU
MAX_APDU_LENGTH: Final = 253  # 104 5.1: at most 253 (so an APDU is at most 255 octets)
SEQ_MODULO: Final = 1 << 15  # 104 5.1: N(S) and N(R) are 15-bit numbers, modulo 32768


class UFunction(enum.IntEnum):
    """U-format control field octet 1 (104 5.3, figure 8): one of the six functions, bits 0..1 = 0b11."""

    STARTDT_ACT = 0x07
    STARTDT_CON = 0x0B
    STOPDT_ACT = 0x13
    STOPDT_CON = 0x23
    TESTFR_ACT = 0x43
    TESTFR_CON = 0x83


class TypeId(enum.IntEnum):
    """Type identifications used with 104 (101 7.2.1.1, 104 clause 9), and the IEC 101 types with a
    CP24Time2a time tag (decoded for IEC 101 profiles; :data:`IEC104_TYPES` lists 104's)."""

    # process information in monitor direction
    M_SP_NA_1 = 1  # single-point information
    M_DP_NA_1 = 3  # double-point information
    M_ST_NA_1 = 5  # step position information
    M_BO_NA_1 = 7  # bitstring of 32 bit
    M_ME_NA_1 = 9  # measured value, normalized
    M_ME_NB_1 = 11  # measured value, scaled
    M_ME_NC_1 = 13  # measured value, short floating point
    M_IT_NA_1 = 15  # integrated totals
    M_PS_NA_1 = 20  # packed single-point information with status change detection
    M_ME_ND_1 = 21  # measured value, normalized without quality descriptor
    # IEC 101 only (104 clause 9 leaves them out): the same with time tag CP24Time2a
    M_SP_TA_1 = 2
    M_DP_TA_1 = 4
    M_ST_TA_1 = 6
    M_BO_TA_1 = 8
    M_ME_TA_1 = 10
    M_ME_TB_1 = 12
    M_ME_TC_1 = 14
    M_IT_TA_1 = 16
    M_EP_TA_1 = 17
    M_EP_TB_1 = 18
    M_EP_TC_1 = 19
    M_SP_TB_1 = 30  # ... with time tag CP56Time2a
    M_DP_TB_1 = 31
    M_ST_TB_1 = 32
    M_BO_TB_1 = 33
    M_ME_TD_1 = 34
    M_ME_TE_1 = 35
    M_ME_TF_1 = 36
    M_IT_TB_1 = 37
    M_EP_TD_1 = 38  # event of protection equipment with time tag
    M_EP_TE_1 = 39  # packed start events of protection equipment with time tag
    M_EP_TF_1 = 40  # packed output circuit information of protection equipment with time tag
    # process information in control direction
    C_SC_NA_1 = 45  # single command
    C_DC_NA_1 = 46  # double command
    C_RC_NA_1 = 47  # regulating step command
    C_SE_NA_1 = 48  # set point command, normalized value
    C_SE_NB_1 = 49  # set point command, scaled value
    C_SE_NC_1 = 50  # set point command, short floating point value
    C_BO_NA_1 = 51  # bitstring of 32 bit
    C_SC_TA_1 = 58  # ... with time tag CP56Time2a (104 only)
    C_DC_TA_1 = 59
    C_RC_TA_1 = 60
    C_SE_TA_1 = 61
    C_SE_TB_1 = 62
    C_SE_TC_1 = 63
    C_BO_TA_1 = 64
    # system information in monitor direction
    M_EI_NA_1 = 70  # end of initialization
    # system information in control direction
    C_IC_NA_1 = 100  # interrogation command
    C_CI_NA_1 = 101  # counter interrogation command
    C_RD_NA_1 = 102  # read command
    C_CS_NA_1 = 103  # clock synchronization command
    C_TS_NA_1 = 104  # test command (101 only; 104 uses 107, but it decodes)
    C_RP_NA_1 = 105  # reset process command
    C_CD_NA_1 = 106  # delay acquisition command (101 only; decodes)
    C_TS_TA_1 = 107  # test command with time tag CP56Time2a
    # parameter in control direction
    P_ME_NA_1 = 110  # parameter of measured value, normalized
    P_ME_NB_1 = 111  # parameter of measured value, scaled
    P_ME_NC_1 = 112  # parameter of measured value, short floating point
    P_AC_NA_1 = 113  # parameter activation
    # file transfer
    F_FR_NA_1 = 120  # file ready
    F_SR_NA_1 = 121  # section ready
    F_SC_NA_1 = 122  # call directory, select file, call file, call section
    F_LS_NA_1 = 123  # last section, last segment
    F_AF_NA_1 = 124  # ack file, ack section
    F_SG_NA_1 = 125  # segment
    F_DR_TA_1 = 126  # directory
    F_SC_NB_1 = 127  # query log: request archive file


class Cause(enum.IntEnum):
    """Cause of transmission, 6 bits (101 7.2.3)."""

    PERIODIC = 1
    BACKGROUND = 2
    SPONTANEOUS = 3
    INITIALIZED = 4
    REQUEST = 5
    ACTIVATION = 6
    ACTIVATION_CON = 7
    DEACTIVATION = 8
    DEACTIVATION_CON = 9
    ACTIVATION_TERMINATION = 10
    RETURN_REMOTE = 11
    RETURN_LOCAL = 12
    FILE_TRANSFER = 13
    INTERROGATED_BY_STATION = 20
    INTERROGATED_BY_GROUP_1 = 21
    INTERROGATED_BY_GROUP_2 = 22
    INTERROGATED_BY_GROUP_3 = 23
    INTERROGATED_BY_GROUP_4 = 24
    INTERROGATED_BY_GROUP_5 = 25
    INTERROGATED_BY_GROUP_6 = 26
    INTERROGATED_BY_GROUP_7 = 27
    INTERROGATED_BY_GROUP_8 = 28
    INTERROGATED_BY_GROUP_9 = 29
    INTERROGATED_BY_GROUP_10 = 30
    INTERROGATED_BY_GROUP_11 = 31
    INTERROGATED_BY_GROUP_12 = 32
    INTERROGATED_BY_GROUP_13 = 33
    INTERROGATED_BY_GROUP_14 = 34
    INTERROGATED_BY_GROUP_15 = 35
    INTERROGATED_BY_GROUP_16 = 36
    REQUESTED_BY_GENERAL_COUNTER = 37
    REQUESTED_BY_GROUP_1_COUNTER = 38
    REQUESTED_BY_GROUP_2_COUNTER = 39
    REQUESTED_BY_GROUP_3_COUNTER = 40
    REQUESTED_BY_GROUP_4_COUNTER = 41
    UNKNOWN_TYPE_ID = 44
    UNKNOWN_CAUSE = 45
    UNKNOWN_COMMON_ADDRESS = 46
    UNKNOWN_IOA = 47


class FieldSizes:
    """The sizes of the data unit identifier's fields and of the information object address
    (101 7.1, a system parameter each). 104 fixes them: cause 2 octets (with the originator
    address), common address 2, information object address 3 (104 clause 9). IEC 101 profiles
    choose cause 1 or 2, common address 1 or 2, object address 1, 2 or 3.
    """

    __slots__ = ("cause", "common_address", "ioa")

    def __init__(self, *, cause: int = 2, common_address: int = 2, ioa: int = 3) -> None:
        if cause not in (1, 2) or common_address not in (1, 2) or ioa not in (1, 2, 3):
            raise ValueError(f"field sizes: cause 1|2, common_address 1|2, ioa 1|2|3 "
                             f"(not {cause}, {common_address}, {ioa})")
        self.cause = cause
        self.common_address = common_address
        self.ioa = ioa

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FieldSizes) and (self.cause, self.common_address, self.ioa)
                == (other.cause, other.common_address, other.ioa))

    def __hash__(self) -> int:
        return hash((self.cause, self.common_address, self.ioa))

    def __repr__(self) -> str:
        return f"FieldSizes(cause={self.cause}, common_address={self.common_address}, ioa={self.ioa})"


IEC104_SIZES: Final = FieldSizes()
IEC101_ONLY: Final = frozenset({2, 4, 6, 8, 10, 12, 14, 16, 17, 18, 19})
IEC104_TYPES: Final = frozenset(int(t) for t in TypeId) - IEC101_ONLY
