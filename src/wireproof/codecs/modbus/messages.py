"""Modbus PDUs and ADUs as frozen dataclasses (MB-AP 6, 7; MB-TCP 3.1.3; MB-SL 2.5).

Each function code has a request and a response class named after the
spec's function name. Quantities and byte counts that the wire carries but
that follow from the data are *derived*, not stored: ``WriteMultipleRegistersRequest``
holds ``values``; its quantity is ``len(values)`` and its byte count
``2 * len(values)``. Values are kept as the wire gives them (a coil value is
``0xFF00``/``0x0000``, not a bool) so that a conformance test can build a
deliberately invalid request with ``encode_pdu(pdu, strict=False)``.

Read-bits responses (FC 01/02) carry ``byte_count * 8`` bits: the wire does
not say how many were asked for, so all of them — padding included — are kept,
which makes ``encode(decode(x)) == x`` exact. Trim with the request's quantity.

Function codes not listed decode to :class:`UnknownPdu`; any function code
with the high bit set decodes to :class:`ExceptionResponse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wireproof.codecs.modbus.constants import (
    COIL_ON,
    EXCEPTION_FLAG,
    DiagnosticSubFunction,
    ExceptionCode,
)

__all__ = [
    "AsciiAdu",
    "CanopenGeneralReferenceRequest",
    "CanopenGeneralReferenceResponse",
    "DiagnosticsRequest",
    "DiagnosticsResponse",
    "ExceptionResponse",
    "FileRecord",
    "FileSubRequest",
    "GetCommEventCounterRequest",
    "GetCommEventCounterResponse",
    "GetCommEventLogRequest",
    "GetCommEventLogResponse",
    "MaskWriteRegisterRequest",
    "MaskWriteRegisterResponse",
    "Pdu",
    "ReadCoilsRequest",
    "ReadCoilsResponse",
    "ReadDeviceIdentificationRequest",
    "ReadDeviceIdentificationResponse",
    "ReadDiscreteInputsRequest",
    "ReadDiscreteInputsResponse",
    "ReadExceptionStatusRequest",
    "ReadExceptionStatusResponse",
    "ReadFifoQueueRequest",
    "ReadFifoQueueResponse",
    "ReadFileRecordRequest",
    "ReadFileRecordResponse",
    "ReadHoldingRegistersRequest",
    "ReadHoldingRegistersResponse",
    "ReadInputRegistersRequest",
    "ReadInputRegistersResponse",
    "ReadWriteMultipleRegistersRequest",
    "ReadWriteMultipleRegistersResponse",
    "ReportServerIdRequest",
    "ReportServerIdResponse",
    "Request",
    "Response",
    "RtuAdu",
    "TcpAdu",
    "UnknownPdu",
    "WriteFileRecordRequest",
    "WriteFileRecordResponse",
    "WriteMultipleCoilsRequest",
    "WriteMultipleCoilsResponse",
    "WriteMultipleRegistersRequest",
    "WriteMultipleRegistersResponse",
    "WriteSingleCoilRequest",
    "WriteSingleCoilResponse",
    "WriteSingleRegisterRequest",
    "WriteSingleRegisterResponse",
]


# --- 01..04: reads (MB-AP 6.1-6.4) -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadCoilsRequest:
    """Read Coils request (MB-AP 6.1): quantity 1..2000."""

    function_code: ClassVar[int] = 0x01
    start_address: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadCoilsResponse:
    """Read Coils response (MB-AP 6.1): all ``byte_count * 8`` bits, LSB of byte 0 first."""

    function_code: ClassVar[int] = 0x01
    values: tuple[bool, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDiscreteInputsRequest:
    """Read Discrete Inputs request (MB-AP 6.2): quantity 1..2000."""

    function_code: ClassVar[int] = 0x02
    start_address: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDiscreteInputsResponse:
    """Read Discrete Inputs response (MB-AP 6.2): all ``byte_count * 8`` bits."""

    function_code: ClassVar[int] = 0x02
    values: tuple[bool, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadHoldingRegistersRequest:
    """Read Holding Registers request (MB-AP 6.3): quantity 1..125."""

    function_code: ClassVar[int] = 0x03
    start_address: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadHoldingRegistersResponse:
    """Read Holding Registers response (MB-AP 6.3): byte count = 2 x N."""

    function_code: ClassVar[int] = 0x03
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadInputRegistersRequest:
    """Read Input Registers request (MB-AP 6.4): quantity 1..125."""

    function_code: ClassVar[int] = 0x04
    start_address: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadInputRegistersResponse:
    """Read Input Registers response (MB-AP 6.4): byte count = 2 x N."""

    function_code: ClassVar[int] = 0x04
    values: tuple[int, ...]


# --- 05, 06: single writes (MB-AP 6.5, 6.6); the response echoes the request ---------


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteSingleCoilRequest:
    """Write Single Coil request (MB-AP 6.5): value 0xFF00 (ON) or 0x0000 (OFF)."""

    function_code: ClassVar[int] = 0x05
    address: int
    value: int

    @property
    def is_on(self) -> bool:
        return self.value == COIL_ON


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteSingleCoilResponse:
    """Write Single Coil response (MB-AP 6.5): an echo of the request."""

    function_code: ClassVar[int] = 0x05
    address: int
    value: int

    @property
    def is_on(self) -> bool:
        return self.value == COIL_ON


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteSingleRegisterRequest:
    """Write Single Register request (MB-AP 6.6)."""

    function_code: ClassVar[int] = 0x06
    address: int
    value: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteSingleRegisterResponse:
    """Write Single Register response (MB-AP 6.6): an echo of the request."""

    function_code: ClassVar[int] = 0x06
    address: int
    value: int


# --- 07, 08, 11, 12, 17: serial-line diagnostics (MB-AP 6.7-6.10, 6.13) -------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadExceptionStatusRequest:
    """Read Exception Status request (MB-AP 6.7): function code only."""

    function_code: ClassVar[int] = 0x07


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadExceptionStatusResponse:
    """Read Exception Status response (MB-AP 6.7): one byte of output data."""

    function_code: ClassVar[int] = 0x07
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosticsRequest:
    """Diagnostics request (MB-AP 6.8; sub-functions MB-SL 6.1).

    ``data`` is everything after the sub-function: 2 bytes for most
    sub-functions, any number for Return Query Data (00).
    """

    function_code: ClassVar[int] = 0x08
    sub_function: DiagnosticSubFunction | int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class DiagnosticsResponse:
    """Diagnostics response (MB-AP 6.8): sub-function echoed, data per sub-function."""

    function_code: ClassVar[int] = 0x08
    sub_function: DiagnosticSubFunction | int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCommEventCounterRequest:
    """Get Comm Event Counter request (MB-AP 6.9): function code only."""

    function_code: ClassVar[int] = 0x0B


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCommEventCounterResponse:
    """Get Comm Event Counter response (MB-AP 6.9): status word (0xFFFF busy) and count."""

    function_code: ClassVar[int] = 0x0B
    status: int
    event_count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCommEventLogRequest:
    """Get Comm Event Log request (MB-AP 6.10): function code only."""

    function_code: ClassVar[int] = 0x0C


@dataclass(frozen=True, slots=True, kw_only=True)
class GetCommEventLogResponse:
    """Get Comm Event Log response (MB-AP 6.10): byte count = 6 + events (0..64)."""

    function_code: ClassVar[int] = 0x0C
    status: int
    event_count: int
    message_count: int
    events: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportServerIdRequest:
    """Report Server ID request (MB-AP 6.13): function code only."""

    function_code: ClassVar[int] = 0x11


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportServerIdResponse:
    """Report Server ID response (MB-AP 6.13).

    ``data`` is server id, run indicator status (0x00 OFF / 0xFF ON) and
    additional data; the split is device specific, so it is kept whole.
    """

    function_code: ClassVar[int] = 0x11
    data: bytes


# --- 15, 16: multiple writes (MB-AP 6.11, 6.12) ---------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteMultipleCoilsRequest:
    """Write Multiple Coils request (MB-AP 6.11): quantity = len(values), 1..1968.

    Byte count is ceil(N / 8). Unused bits of the last byte are ignored on
    decode and written as zero.
    """

    function_code: ClassVar[int] = 0x0F
    start_address: int
    values: tuple[bool, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteMultipleCoilsResponse:
    """Write Multiple Coils response (MB-AP 6.11)."""

    function_code: ClassVar[int] = 0x0F
    start_address: int
    quantity: int


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteMultipleRegistersRequest:
    """Write Multiple Registers request (MB-AP 6.12): quantity = len(values), 1..123."""

    function_code: ClassVar[int] = 0x10
    start_address: int
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteMultipleRegistersResponse:
    """Write Multiple Registers response (MB-AP 6.12)."""

    function_code: ClassVar[int] = 0x10
    start_address: int
    quantity: int


# --- 20, 21: file records (MB-AP 6.14, 6.15); reference type is always 6 --------------


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSubRequest:
    """One sub-request of Read File Record (MB-AP 6.14)."""

    file_number: int
    record_number: int
    record_length: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FileRecord:
    """One record of Write File Record (MB-AP 6.15): record length = len(values)."""

    file_number: int
    record_number: int
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadFileRecordRequest:
    """Read File Record request (MB-AP 6.14): byte count 0x07..0xF5, 7 per sub-request."""

    function_code: ClassVar[int] = 0x14
    records: tuple[FileSubRequest, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadFileRecordResponse:
    """Read File Record response (MB-AP 6.14): one register tuple per sub-request."""

    function_code: ClassVar[int] = 0x14
    records: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteFileRecordRequest:
    """Write File Record request (MB-AP 6.15): byte count 0x09..0xFB."""

    function_code: ClassVar[int] = 0x15
    records: tuple[FileRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteFileRecordResponse:
    """Write File Record response (MB-AP 6.15): an echo of the request."""

    function_code: ClassVar[int] = 0x15
    records: tuple[FileRecord, ...]


# --- 22, 23, 24 (MB-AP 6.16-6.18) ------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MaskWriteRegisterRequest:
    """Mask Write Register request (MB-AP 6.16): (reg AND and_mask) OR (or_mask AND NOT and_mask)."""

    function_code: ClassVar[int] = 0x16
    address: int
    and_mask: int
    or_mask: int


@dataclass(frozen=True, slots=True, kw_only=True)
class MaskWriteRegisterResponse:
    """Mask Write Register response (MB-AP 6.16): an echo of the request."""

    function_code: ClassVar[int] = 0x16
    address: int
    and_mask: int
    or_mask: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadWriteMultipleRegistersRequest:
    """Read/Write Multiple Registers request (MB-AP 6.17).

    Read quantity 1..125; write quantity = len(values), 1..121; the write is
    performed before the read.
    """

    function_code: ClassVar[int] = 0x17
    read_start_address: int
    read_quantity: int
    write_start_address: int
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadWriteMultipleRegistersResponse:
    """Read/Write Multiple Registers response (MB-AP 6.17): the registers read."""

    function_code: ClassVar[int] = 0x17
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadFifoQueueRequest:
    """Read FIFO Queue request (MB-AP 6.18)."""

    function_code: ClassVar[int] = 0x18
    fifo_pointer_address: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadFifoQueueResponse:
    """Read FIFO Queue response (MB-AP 6.18): FIFO count = len(values) <= 31."""

    function_code: ClassVar[int] = 0x18
    values: tuple[int, ...]


# --- 43: encapsulated interface transport (MB-AP 6.19-6.21) ----------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CanopenGeneralReferenceRequest:
    """CANopen General Reference request, FC 43 / MEI 13 (MB-AP 6.20): opaque data."""

    function_code: ClassVar[int] = 0x2B
    mei_type: ClassVar[int] = 0x0D
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class CanopenGeneralReferenceResponse:
    """CANopen General Reference response, FC 43 / MEI 13 (MB-AP 6.20): opaque data."""

    function_code: ClassVar[int] = 0x2B
    mei_type: ClassVar[int] = 0x0D
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDeviceIdentificationRequest:
    """Read Device Identification request, FC 43 / MEI 14 (MB-AP 6.21).

    ``read_device_id_code`` 1..4 (:class:`ReadDeviceIdCode`), ``object_id`` where to start.
    """

    function_code: ClassVar[int] = 0x2B
    mei_type: ClassVar[int] = 0x0E
    read_device_id_code: int
    object_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadDeviceIdentificationResponse:
    """Read Device Identification response, FC 43 / MEI 14 (MB-AP 6.21).

    ``more_follows`` is the wire's 0xFF/0x00; ``objects`` is (object id, value) pairs.
    """

    function_code: ClassVar[int] = 0x2B
    mei_type: ClassVar[int] = 0x0E
    read_device_id_code: int
    conformity_level: int
    more_follows: bool
    next_object_id: int
    objects: tuple[tuple[int, bytes], ...]


# --- exceptions and unknown function codes ---------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExceptionResponse:
    """Exception response (MB-AP 7): wire function code is ``function_code | 0x80``.

    ``function_code`` is the original request's function code (0x00..0x7F).
    """

    function_code: int
    exception_code: ExceptionCode | int

    @property
    def wire_function_code(self) -> int:
        return self.function_code | EXCEPTION_FLAG


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownPdu:
    """A PDU whose function code this codec does not know (0x00..0x7F): kept opaque.

    A server answers it with exception 01 ILLEGAL FUNCTION (MB-AP 7).
    """

    function_code: int
    data: bytes


Request = (
    ReadCoilsRequest | ReadDiscreteInputsRequest | ReadHoldingRegistersRequest
    | ReadInputRegistersRequest | WriteSingleCoilRequest | WriteSingleRegisterRequest
    | ReadExceptionStatusRequest | DiagnosticsRequest | GetCommEventCounterRequest
    | GetCommEventLogRequest | WriteMultipleCoilsRequest | WriteMultipleRegistersRequest
    | ReportServerIdRequest | ReadFileRecordRequest | WriteFileRecordRequest
    | MaskWriteRegisterRequest | ReadWriteMultipleRegistersRequest | ReadFifoQueueRequest
    | CanopenGeneralReferenceRequest | ReadDeviceIdentificationRequest
)
Response = (
    ReadCoilsResponse | ReadDiscreteInputsResponse | ReadHoldingRegistersResponse
    | ReadInputRegistersResponse | WriteSingleCoilResponse | WriteSingleRegisterResponse
    | ReadExceptionStatusResponse | DiagnosticsResponse | GetCommEventCounterResponse
    | GetCommEventLogResponse | WriteMultipleCoilsResponse | WriteMultipleRegistersResponse
    | ReportServerIdResponse | ReadFileRecordResponse | WriteFileRecordResponse
    | MaskWriteRegisterResponse | ReadWriteMultipleRegistersResponse | ReadFifoQueueResponse
    | CanopenGeneralReferenceResponse | ReadDeviceIdentificationResponse | ExceptionResponse
)
Pdu = Request | Response | UnknownPdu


# --- ADUs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpAdu:
    """Modbus TCP ADU: MBAP header + PDU (MB-TCP 3.1.3).

    The MBAP length field (unit id + PDU) is derived; ``protocol_id`` must be 0.
    """

    transaction_id: int
    unit_id: int
    pdu: Pdu
    protocol_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class RtuAdu:
    """Modbus RTU ADU: address, PDU, CRC-16 low byte first (MB-SL 2.5.1); CRC derived."""

    address: int
    pdu: Pdu


@dataclass(frozen=True, slots=True, kw_only=True)
class AsciiAdu:
    """Modbus ASCII ADU: ':' address PDU LRC CR LF in hex (MB-SL 2.5.2); LRC derived."""

    address: int
    pdu: Pdu
