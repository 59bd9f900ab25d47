"""DNP3 numbers: link, transport and application codes and sizes (IEEE 1815-2012).

Each table cites the clause it comes from; the names are the standard's.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "APP_CONTROL_SIZE",
    "BLOCK_SIZE",
    "CRC_SIZE",
    "HEADER_ONLY_REQUESTS",
    "LINK_HEADER_SIZE",
    "LINK_START",
    "MAX_LINK_LENGTH",
    "MAX_SEGMENT_PAYLOAD",
    "MAX_USER_DATA",
    "MIN_LINK_LENGTH",
    "FunctionCode",
    "Iin",
    "PrimaryFunction",
    "SecondaryFunction",
]

LINK_START: Final = b"\x05\x64"  # 9.2.4.1.1: the two start octets
LINK_HEADER_SIZE: Final = 10  # start (2), length, control, destination (2), source (2), CRC (2)
CRC_SIZE: Final = 2
BLOCK_SIZE: Final = 16  # 9.2.4.2: user data travels in blocks of at most 16 octets, each with a CRC
MIN_LINK_LENGTH: Final = 5  # 9.2.4.1.2: LENGTH counts control, destination, source and user data
MAX_LINK_LENGTH: Final = 255
MAX_USER_DATA: Final = MAX_LINK_LENGTH - MIN_LINK_LENGTH  # 250 octets of user data a frame
MAX_SEGMENT_PAYLOAD: Final = MAX_USER_DATA - 1  # 8.2.1: one transport header octet, 249 octets of data
APP_CONTROL_SIZE: Final = 1


class PrimaryFunction(enum.IntEnum):
    """Link function codes from a primary station, PRM=1 (IEEE 1815-2012 9.2.4.1.3.6, table 9-1)."""

    RESET_LINK_STATES = 0
    TEST_LINK_STATES = 2
    CONFIRMED_USER_DATA = 3
    UNCONFIRMED_USER_DATA = 4
    REQUEST_LINK_STATUS = 9


class SecondaryFunction(enum.IntEnum):
    """Link function codes from a secondary station, PRM=0 (IEEE 1815-2012 9.2.4.1.3.6, table 9-2)."""

    ACK = 0
    NACK = 1
    LINK_STATUS = 11
    NOT_SUPPORTED = 15


class FunctionCode(enum.IntEnum):
    """Application function codes (IEEE 1815-2012 4.2.2.5, table 4-2)."""

    CONFIRM = 0
    READ = 1
    WRITE = 2
    SELECT = 3
    OPERATE = 4
    DIRECT_OPERATE = 5
    DIRECT_OPERATE_NR = 6
    IMMED_FREEZE = 7
    IMMED_FREEZE_NR = 8
    FREEZE_CLEAR = 9
    FREEZE_CLEAR_NR = 10
    FREEZE_AT_TIME = 11
    FREEZE_AT_TIME_NR = 12
    COLD_RESTART = 13
    WARM_RESTART = 14
    INITIALIZE_DATA = 15
    INITIALIZE_APPL = 16
    START_APPL = 17
    STOP_APPL = 18
    SAVE_CONFIG = 19
    ENABLE_UNSOLICITED = 20
    DISABLE_UNSOLICITED = 21
    ASSIGN_CLASS = 22
    DELAY_MEASURE = 23
    RECORD_CURRENT_TIME = 24
    OPEN_FILE = 25
    CLOSE_FILE = 26
    DELETE_FILE = 27
    GET_FILE_INFO = 28
    AUTHENTICATE_FILE = 29
    ABORT_FILE = 30
    ACTIVATE_CONFIG = 31
    AUTHENTICATE_REQ = 32
    AUTH_REQ_NO_ACK = 33
    RESPONSE = 129
    UNSOLICITED_RESPONSE = 130
    AUTHENTICATE_RESP = 131

    @property
    def is_response(self) -> bool:
        """Responses (129..131) carry the two IIN octets after the function code (4.2.2.2)."""
        return self >= 129


# Requests whose object headers name points but carry no object values: a read names what to
# read (4.4.1), a freeze what to freeze (4.4.7-4.4.10), an unsolicited enable/disable and a class
# assignment name classes and points (4.4.12, 4.4.13). Every other request's headers carry values.
HEADER_ONLY_REQUESTS: Final = frozenset({
    FunctionCode.READ, FunctionCode.IMMED_FREEZE, FunctionCode.IMMED_FREEZE_NR, FunctionCode.FREEZE_CLEAR,
    FunctionCode.FREEZE_CLEAR_NR, FunctionCode.ENABLE_UNSOLICITED, FunctionCode.DISABLE_UNSOLICITED,
    FunctionCode.ASSIGN_CLASS, FunctionCode.INITIALIZE_DATA,
})


class Iin(enum.IntFlag):
    """Internal indications, IIN1 in the high octet as on the wire first (IEEE 1815-2012 4.2.2.7)."""

    BROADCAST = 0x0100  # IIN1.0
    CLASS_1_EVENTS = 0x0200
    CLASS_2_EVENTS = 0x0400
    CLASS_3_EVENTS = 0x0800
    NEED_TIME = 0x1000
    LOCAL_CONTROL = 0x2000
    DEVICE_TROUBLE = 0x4000
    DEVICE_RESTART = 0x8000  # IIN1.7
    NO_FUNC_CODE_SUPPORT = 0x0001  # IIN2.0
    OBJECT_UNKNOWN = 0x0002
    PARAMETER_ERROR = 0x0004
    EVENT_BUFFER_OVERFLOW = 0x0008
    ALREADY_EXECUTING = 0x0010
    CONFIG_CORRUPT = 0x0020
    RESERVED_2 = 0x0040  # IIN2.6: reserved, always 0
    RESERVED_1 = 0x0080  # IIN2.7: reserved, always 0


class CommandStatus(enum.IntEnum):
    """Control status codes: bits 6..0 of the status octet of control relay output blocks (g12) and
    analog output blocks (g41), IEEE 1815-2012 11.9.8 and 11.9.21; 0 is SUCCESS."""

    SUCCESS = 0
    TIMEOUT = 1
    NO_SELECT = 2
    FORMAT_ERROR = 3
    NOT_SUPPORTED = 4
    ALREADY_ACTIVE = 5
    HARDWARE_ERROR = 6
    LOCAL = 7
    TOO_MANY_OBJS = 8
    NOT_AUTHORIZED = 9
    AUTOMATION_INHIBIT = 10
    PROCESSING_LIMITED = 11
    OUT_OF_RANGE = 12
    DOWNSTREAM_LOCAL = 13
    ALREADY_COMPLETE = 14
    BLOCKED = 15
    CANCELLED = 16
    BLOCKED_OTHER_MASTER = 17
    DOWNSTREAM_FAIL = 18
    NON_PARTICIPATING = 126
    UNDEFINED = 127
