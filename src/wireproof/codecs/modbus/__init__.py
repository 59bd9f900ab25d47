"""Modbus codec: TCP, RTU and ASCII ADUs, every public function code (pure).

Normative references: MODBUS Application Protocol Specification V1.1b3
(MB-AP), MODBUS Messaging on TCP/IP Implementation Guide V1.0b (MB-TCP),
MODBUS over Serial Line Specification V1.02 (MB-SL).

- :mod:`.messages` — PDUs and ADUs as frozen dataclasses;
- :mod:`.pdu` and :mod:`.adu` — the fast hand-written codec;
- :mod:`.formats` — the declarative Construct definition, the oracle;
- :mod:`.framers` — TCP, RTU (byte stream and timed) and ASCII framers.

    >>> from wireproof.codecs.modbus import tcp_codec, ReadHoldingRegistersRequest
    >>> tcp_codec().decode(bytes.fromhex("000100000006110300 6b0003".replace(" ", ""))).pdu
    ReadHoldingRegistersRequest(start_address=107, quantity=3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wireproof import _lazy

if TYPE_CHECKING:
    from wireproof.codecs.modbus.adu import AsciiCodec, Direction, RtuCodec, TcpCodec, crc16, lrc
    from wireproof.codecs.modbus.constants import (
        ConformityLevel,
        DeviceIdObject,
        DiagnosticSubFunction,
        ExceptionCode,
        FunctionCode,
        MeiType,
        ReadDeviceIdCode,
    )
    from wireproof.codecs.modbus.datatypes import DataType, Order, decode_value, encode_value, parse_type
    from wireproof.codecs.modbus.messages import (
        AsciiAdu,
        CanopenGeneralReferenceRequest,
        CanopenGeneralReferenceResponse,
        DiagnosticsRequest,
        DiagnosticsResponse,
        ExceptionResponse,
        FileRecord,
        FileSubRequest,
        GetCommEventCounterRequest,
        GetCommEventCounterResponse,
        GetCommEventLogRequest,
        GetCommEventLogResponse,
        MaskWriteRegisterRequest,
        MaskWriteRegisterResponse,
        Pdu,
        ReadCoilsRequest,
        ReadCoilsResponse,
        ReadDeviceIdentificationRequest,
        ReadDeviceIdentificationResponse,
        ReadDiscreteInputsRequest,
        ReadDiscreteInputsResponse,
        ReadExceptionStatusRequest,
        ReadExceptionStatusResponse,
        ReadFifoQueueRequest,
        ReadFifoQueueResponse,
        ReadFileRecordRequest,
        ReadFileRecordResponse,
        ReadHoldingRegistersRequest,
        ReadHoldingRegistersResponse,
        ReadInputRegistersRequest,
        ReadInputRegistersResponse,
        ReadWriteMultipleRegistersRequest,
        ReadWriteMultipleRegistersResponse,
        ReportServerIdRequest,
        ReportServerIdResponse,
        Request,
        Response,
        RtuAdu,
        TcpAdu,
        UnknownPdu,
        WriteFileRecordRequest,
        WriteFileRecordResponse,
        WriteMultipleCoilsRequest,
        WriteMultipleCoilsResponse,
        WriteMultipleRegistersRequest,
        WriteMultipleRegistersResponse,
        WriteSingleCoilRequest,
        WriteSingleCoilResponse,
        WriteSingleRegisterRequest,
        WriteSingleRegisterResponse,
    )
    from wireproof.codecs.modbus.pdu import decode_request_pdu, decode_response_pdu, encode_pdu
else:
    # The codec is imported on first use: loading the descriptor (protocol.py) must stay cheap.
    __getattr__ = _lazy.exports(__name__, ("adu", "constants", "datatypes", "messages", "pdu"))

__all__ = [
    "DataType",
    "Order",
    "decode_value",
    "encode_value",
    "parse_type",
    "AsciiAdu",
    "AsciiCodec",
    "CanopenGeneralReferenceRequest",
    "CanopenGeneralReferenceResponse",
    "ConformityLevel",
    "DeviceIdObject",
    "DiagnosticSubFunction",
    "DiagnosticsRequest",
    "DiagnosticsResponse",
    "Direction",
    "ExceptionCode",
    "ExceptionResponse",
    "FileRecord",
    "FileSubRequest",
    "FunctionCode",
    "GetCommEventCounterRequest",
    "GetCommEventCounterResponse",
    "GetCommEventLogRequest",
    "GetCommEventLogResponse",
    "MaskWriteRegisterRequest",
    "MaskWriteRegisterResponse",
    "MeiType",
    "Pdu",
    "ReadCoilsRequest",
    "ReadCoilsResponse",
    "ReadDeviceIdCode",
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
    "RtuCodec",
    "TcpAdu",
    "TcpCodec",
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
    "ascii_codec",
    "crc16",
    "decode_request_pdu",
    "decode_response_pdu",
    "encode_pdu",
    "lrc",
    "rtu_codec",
    "tcp_codec",
]


def tcp_codec() -> TcpCodec:
    """The ``modbus-tcp`` codec (MBAP + PDU)."""
    from wireproof.codecs.modbus.adu import TcpCodec
    return TcpCodec()


def rtu_codec() -> RtuCodec:
    """The ``modbus-rtu`` codec (address + PDU + CRC-16)."""
    from wireproof.codecs.modbus.adu import RtuCodec
    return RtuCodec()


def ascii_codec() -> AsciiCodec:
    """The ``modbus-ascii`` codec (':' hex LRC CR LF)."""
    from wireproof.codecs.modbus.adu import AsciiCodec
    return AsciiCodec()
