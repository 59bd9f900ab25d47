"""Modbus constants: function codes, exception codes, sub-functions and spec bounds.

Normative references:

- MODBUS Application Protocol Specification V1.1b3 ("MB-AP"): 5.1 (function
  code categories), 6.x (one clause per function code, each with its bounds),
  7 (exception codes), Annex A (MEI types).
- MODBUS over Serial Line Specification V1.02 ("MB-SL"): 2.2 (addresses),
  2.5 (RTU/ASCII frames), 6.1 (diagnostic sub-functions).
- MODBUS Messaging on TCP/IP Implementation Guide V1.0b ("MB-TCP"): 3.1.3
  (MBAP header), 4.2 (ADU size).

Names are the spec's words in constant case. Nothing here is ever renamed;
only additions.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "ADDRESS_SPACE",
    "ASCII_END",
    "ASCII_START",
    "BROADCAST_ADDRESS",
    "COIL_OFF",
    "COIL_ON",
    "EXCEPTION_FLAG",
    "FILE_RECORD_REFERENCE_TYPE",
    "MAX_ASCII_ADU_CHARS",
    "MAX_COMM_EVENTS",
    "MAX_FIFO_COUNT",
    "MAX_FILE_RECORD_NUMBER",
    "MAX_MBAP_LENGTH",
    "MAX_PDU_SIZE",
    "MAX_READ_COILS",
    "MAX_READ_DISCRETE_INPUTS",
    "MAX_READ_FILE_BYTE_COUNT",
    "MAX_READ_REGISTERS",
    "MAX_RTU_ADU_SIZE",
    "MAX_RW_READ",
    "MAX_RW_WRITE",
    "MAX_TCP_ADU_SIZE",
    "MAX_UNICAST_ADDRESS",
    "MAX_WRITE_COILS",
    "MAX_WRITE_FILE_BYTE_COUNT",
    "MAX_WRITE_REGISTERS",
    "MBAP_HEADER_SIZE",
    "MIN_MBAP_LENGTH",
    "MIN_READ_FILE_BYTE_COUNT",
    "MIN_WRITE_FILE_BYTE_COUNT",
    "MODBUS_PROTOCOL_ID",
    "MODBUS_TCP_PORT",
    "ConformityLevel",
    "DeviceIdObject",
    "DiagnosticSubFunction",
    "ExceptionCode",
    "FunctionCode",
    "MeiType",
    "ReadDeviceIdCode",
]


class FunctionCode(enum.IntEnum):
    """Public function codes (MB-AP 5.1, table "Public Function Code Definition")."""

    READ_COILS = 0x01
    READ_DISCRETE_INPUTS = 0x02
    READ_HOLDING_REGISTERS = 0x03
    READ_INPUT_REGISTERS = 0x04
    WRITE_SINGLE_COIL = 0x05
    WRITE_SINGLE_REGISTER = 0x06
    READ_EXCEPTION_STATUS = 0x07  # serial line only
    DIAGNOSTICS = 0x08  # serial line only
    GET_COMM_EVENT_COUNTER = 0x0B  # serial line only
    GET_COMM_EVENT_LOG = 0x0C  # serial line only
    WRITE_MULTIPLE_COILS = 0x0F
    WRITE_MULTIPLE_REGISTERS = 0x10
    REPORT_SERVER_ID = 0x11  # serial line only
    READ_FILE_RECORD = 0x14
    WRITE_FILE_RECORD = 0x15
    MASK_WRITE_REGISTER = 0x16
    READ_WRITE_MULTIPLE_REGISTERS = 0x17
    READ_FIFO_QUEUE = 0x18
    ENCAPSULATED_INTERFACE_TRANSPORT = 0x2B


class MeiType(enum.IntEnum):
    """MODBUS Encapsulated Interface types carried by FC 0x2B (MB-AP 6.19-6.21, Annex A)."""

    CANOPEN_GENERAL_REFERENCE = 0x0D
    READ_DEVICE_IDENTIFICATION = 0x0E


class ExceptionCode(enum.IntEnum):
    """Exception codes (MB-AP 7, table "MODBUS Exception Codes").

    07 is not in MB-AP's table; it is NEGATIVE ACKNOWLEDGE of the original
    Modicon specification (PI-MBUS-300 rev. J, Appendix A), still counted by
    diagnostic sub-function 0x10 (MB-SL 6.1). 09 is undefined.
    """

    ILLEGAL_FUNCTION = 0x01
    ILLEGAL_DATA_ADDRESS = 0x02
    ILLEGAL_DATA_VALUE = 0x03
    SERVER_DEVICE_FAILURE = 0x04
    ACKNOWLEDGE = 0x05
    SERVER_DEVICE_BUSY = 0x06
    NEGATIVE_ACKNOWLEDGE = 0x07
    MEMORY_PARITY_ERROR = 0x08
    GATEWAY_PATH_UNAVAILABLE = 0x0A
    GATEWAY_TARGET_DEVICE_FAILED_TO_RESPOND = 0x0B


class DiagnosticSubFunction(enum.IntEnum):
    """Diagnostics (FC 08) sub-function codes (MB-AP 6.8.1; MB-SL 6.1)."""

    RETURN_QUERY_DATA = 0x00
    RESTART_COMMUNICATIONS_OPTION = 0x01
    RETURN_DIAGNOSTIC_REGISTER = 0x02
    CHANGE_ASCII_INPUT_DELIMITER = 0x03
    FORCE_LISTEN_ONLY_MODE = 0x04
    CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER = 0x0A
    RETURN_BUS_MESSAGE_COUNT = 0x0B
    RETURN_BUS_COMMUNICATION_ERROR_COUNT = 0x0C
    RETURN_BUS_EXCEPTION_ERROR_COUNT = 0x0D
    RETURN_SERVER_MESSAGE_COUNT = 0x0E
    RETURN_SERVER_NO_RESPONSE_COUNT = 0x0F
    RETURN_SERVER_NAK_COUNT = 0x10
    RETURN_SERVER_BUSY_COUNT = 0x11
    RETURN_BUS_CHARACTER_OVERRUN_COUNT = 0x12
    CLEAR_OVERRUN_COUNTER_AND_FLAG = 0x14


class ReadDeviceIdCode(enum.IntEnum):
    """Read Device ID code of FC 43/14 (MB-AP 6.21)."""

    BASIC = 0x01
    REGULAR = 0x02
    EXTENDED = 0x03
    SPECIFIC = 0x04


class ConformityLevel(enum.IntEnum):
    """Conformity level of FC 43/14 responses (MB-AP 6.21)."""

    BASIC_STREAM = 0x01
    REGULAR_STREAM = 0x02
    EXTENDED_STREAM = 0x03
    BASIC_STREAM_AND_INDIVIDUAL = 0x81
    REGULAR_STREAM_AND_INDIVIDUAL = 0x82
    EXTENDED_STREAM_AND_INDIVIDUAL = 0x83


class DeviceIdObject(enum.IntEnum):
    """Object ids of FC 43/14 (MB-AP 6.21): 0x00-0x02 basic, 0x03-0x06 regular."""

    VENDOR_NAME = 0x00
    PRODUCT_CODE = 0x01
    MAJOR_MINOR_REVISION = 0x02
    VENDOR_URL = 0x03
    PRODUCT_NAME = 0x04
    MODEL_NAME = 0x05
    USER_APPLICATION_NAME = 0x06


# MB-AP 6.1 / 6.2: quantity of coils / inputs 1..2000 (0x7D0).
MAX_READ_COILS: Final = 2000
MAX_READ_DISCRETE_INPUTS: Final = 2000
# MB-AP 6.3 / 6.4: quantity of registers 1..125 (0x7D).
MAX_READ_REGISTERS: Final = 125
# MB-AP 6.11: quantity of outputs 1..1968 (0x7B0), byte count = ceil(N / 8).
MAX_WRITE_COILS: Final = 1968
# MB-AP 6.12: quantity of registers 1..123 (0x7B), byte count = 2 x N.
MAX_WRITE_REGISTERS: Final = 123
# MB-AP 6.17: quantity to read 1..125 (0x7D), quantity to write 1..121 (0x79).
MAX_RW_READ: Final = 125
MAX_RW_WRITE: Final = 121
# MB-AP 6.18: FIFO count <= 31.
MAX_FIFO_COUNT: Final = 31
# MB-AP 6.9: the event log holds 0..64 events.
MAX_COMM_EVENTS: Final = 64
# MB-AP 6.14 / 6.15: reference type is always 6; records 0..9999 (0x270F).
FILE_RECORD_REFERENCE_TYPE: Final = 6
MAX_FILE_RECORD_NUMBER: Final = 0x270F
MIN_READ_FILE_BYTE_COUNT: Final = 0x07
MAX_READ_FILE_BYTE_COUNT: Final = 0xF5
MIN_WRITE_FILE_BYTE_COUNT: Final = 0x09
MAX_WRITE_FILE_BYTE_COUNT: Final = 0xFB
# MB-AP 6.5: the only two values of a single coil.
COIL_ON: Final = 0xFF00
COIL_OFF: Final = 0x0000
# MB-AP 4.4: data addresses 0..65535; a range must not run past the end.
ADDRESS_SPACE: Final = 0x10000
# MB-AP 7: an exception response sets the high bit of the function code.
EXCEPTION_FLAG: Final = 0x80
# MB-AP 4.1: PDU size <= 253 bytes (RS-485 ADU 256 - address - CRC).
MAX_PDU_SIZE: Final = 253
# MB-TCP 3.1.3 / 4.2: MBAP header 7 bytes, ADU <= 260, length = unit id + PDU.
MBAP_HEADER_SIZE: Final = 7
MAX_TCP_ADU_SIZE: Final = 260
MAX_MBAP_LENGTH: Final = MAX_PDU_SIZE + 1
MIN_MBAP_LENGTH: Final = 2
MODBUS_PROTOCOL_ID: Final = 0
MODBUS_TCP_PORT: Final = 502
# MB-SL 2.2: 0 broadcast, 1..247 unicast, 248..255 reserved.
BROADCAST_ADDRESS: Final = 0
MAX_UNICAST_ADDRESS: Final = 247
# MB-SL 2.5.1: RTU ADU <= 256 bytes; MB-SL 2.5.2: ASCII frame <= 513 characters.
MAX_RTU_ADU_SIZE: Final = 256
MAX_ASCII_ADU_CHARS: Final = 513
ASCII_START: Final = b":"
ASCII_END: Final = b"\r\n"
