"""Modbus, declaratively: Construct formats for every PDU and ADU (the oracle).

This module *is* the specification in executable form — one Struct per PDU
layout of MB-AP 6.1-6.21 and 7, a Switch on the function code, the MBAP
header of MB-TCP 3.1.3, the RTU frame with its CRC Checksum (MB-SL 2.5.1,
6.2.2) and the ASCII frame with its LRC (MB-SL 2.5.2, 6.2.1). The fast path
(:mod:`.pdu`, :mod:`.adu`) must agree with it on every input: same message,
or same error class. Bounds are ``Check``s placed after the fixed part of
each layout, which gives the error order the fast path documents.

Construct ``Container``s never leave this module: :func:`decode_adu` and
:func:`encode_adu` speak messages.
"""

from __future__ import annotations

import binascii
from typing import Any

import construct as cs
from construct import (
    Array,
    BitsSwapped,
    Bitwise,
    Byte,
    Bytes,
    Check,
    Checksum,
    Computed,
    Const,
    Flag,
    GreedyBytes,
    Int16ub,
    Int16ul,
    Prefixed,
    Struct,
    Switch,
    this,
)

from wireproof.codecs._core import construct_parse
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import Direction, crc16, lrc
from wireproof.errors import ChecksumError, DecodeError, EncodeError

__all__ = ["ASCII_FRAME", "MBAP", "MBAP_FRAME", "REQUEST_PDU", "RESPONSE_PDU", "RTU_FRAME", "decode_adu",
           "encode_adu", "frames_declarative"]

U16 = Int16ub


def _stream_size(ctx: Any) -> int:
    stream = ctx._io
    pos = stream.tell()
    end: int = stream.seek(0, 2)
    stream.seek(pos)
    return end


def _remaining(ctx: Any) -> int:
    return _stream_size(ctx) - int(ctx._io.tell())


def _all_but(n: int, minimum: int, field: str, scale: int = 1) -> Any:
    """Length of a field that runs to ``n`` bytes before the end of the input."""
    def length(ctx: Any) -> int:
        if ctx._parsing:
            return max(minimum, _remaining(ctx) - n)
        return scale * len(ctx[field])
    return length


class _UntilEnd(cs.Subconstruct):  # type: ignore[misc]
    """Zero or more ``subcon`` up to the end of the (sub)stream; errors propagate."""

    def _parse(self, stream: Any, context: Any, path: str) -> Any:
        items = cs.ListContainer()
        while True:
            pos = stream.tell()
            end = stream.seek(0, 2)
            stream.seek(pos)
            if pos >= end:
                return items
            items.append(self.subcon._parsereport(stream, context, path))

    def _build(self, obj: Any, stream: Any, context: Any, path: str) -> Any:
        for item in obj:
            self.subcon._build(item, stream, context, path)
        return obj


class _AsciiHex(cs.Adapter):  # type: ignore[misc]
    """Uppercase hex characters <-> bytes (MB-SL 2.5.2)."""

    def _decode(self, obj: bytes, context: Any, path: str) -> bytes:
        if len(obj) % 2 or not set(obj) <= set(b"0123456789ABCDEF"):
            raise cs.ValidationError("not an even number of uppercase hex digits", path=path)
        return binascii.unhexlify(obj)

    def _encode(self, obj: bytes, context: Any, path: str) -> bytes:
        return binascii.hexlify(obj).upper()


# One byte of coils/inputs: bit 0 (LSB) is the first (MB-AP 6.1).
BitsByte = BitsSwapped(Bitwise(Array(8, Flag)))


def _in_range(field: str, lo: int, hi: int) -> Check:
    return Check(lambda c: lo <= c[field] <= hi)


def _within_space(start: str, qty: str) -> Check:
    return Check(lambda c: c[start] + c[qty] <= C.ADDRESS_SPACE)


def _read_request(limit: int) -> Struct:
    return Struct("start_address" / U16, "quantity" / U16,
                  _in_range("quantity", 1, limit), _within_space("start_address", "quantity"))


SingleCoil = Struct("address" / U16, "value" / U16,
                    Check(lambda c: c.value in (C.COIL_ON, C.COIL_OFF)))
SingleRegister = Struct("address" / U16, "value" / U16)
Empty = Struct()
Diagnostics = Struct("sub_function" / U16, "data" / GreedyBytes)
WriteMultipleCoilsRequest = Struct(
    "start_address" / U16, "quantity" / U16, "byte_count" / Byte,
    _in_range("quantity", 1, C.MAX_WRITE_COILS), _within_space("start_address", "quantity"),
    Check(this.byte_count == (this.quantity + 7) // 8),
    "values" / Array(this.byte_count, BitsByte))
WriteMultipleRegistersRequest = Struct(
    "start_address" / U16, "quantity" / U16, "byte_count" / Byte,
    _in_range("quantity", 1, C.MAX_WRITE_REGISTERS), _within_space("start_address", "quantity"),
    Check(this.byte_count == 2 * this.quantity),
    "values" / Array(this.quantity, U16))
FileSubRequest = Struct("reference_type" / Byte, "file_number" / U16, "record_number" / U16,
                        "record_length" / U16, Check(this.reference_type == C.FILE_RECORD_REFERENCE_TYPE))
ReadFileRecordRequest = Struct(
    "byte_count" / Byte,
    Check(lambda c: C.MIN_READ_FILE_BYTE_COUNT <= c.byte_count <= C.MAX_READ_FILE_BYTE_COUNT
          and c.byte_count % 7 == 0),
    "records" / cs.FixedSized(this.byte_count, Array(this.byte_count // 7, FileSubRequest)))
FileRecord = Struct("reference_type" / Byte, "file_number" / U16, "record_number" / U16,
                    "record_length" / U16, Check(this.reference_type == C.FILE_RECORD_REFERENCE_TYPE),
                    "values" / Array(this.record_length, U16))
WriteFileRecord = Struct(
    "byte_count" / Byte,
    _in_range("byte_count", C.MIN_WRITE_FILE_BYTE_COUNT, C.MAX_WRITE_FILE_BYTE_COUNT),
    "records" / cs.FixedSized(this.byte_count, Struct("entries" / _UntilEnd(FileRecord))))
MaskWrite = Struct("address" / U16, "and_mask" / U16, "or_mask" / U16)
ReadWriteMultipleRegistersRequest = Struct(
    "read_start_address" / U16, "read_quantity" / U16, "write_start_address" / U16,
    "write_quantity" / U16, "byte_count" / Byte,
    _in_range("read_quantity", 1, C.MAX_RW_READ), _within_space("read_start_address", "read_quantity"),
    _in_range("write_quantity", 1, C.MAX_RW_WRITE), _within_space("write_start_address", "write_quantity"),
    Check(this.byte_count == 2 * this.write_quantity),
    "values" / Array(this.write_quantity, U16))
ReadFifoQueueRequest = Struct("fifo_pointer_address" / U16)
Opaque = Struct("data" / GreedyBytes)
ReadDeviceIdentificationRequest = Struct("read_device_id_code" / Byte, "object_id" / Byte,
                                         _in_range("read_device_id_code", 1, 4))
MeiRequest = Struct("mei_type" / Byte, "body" / Switch(this.mei_type, {
    C.MeiType.READ_DEVICE_IDENTIFICATION: ReadDeviceIdentificationRequest,
    C.MeiType.CANOPEN_GENERAL_REFERENCE: Opaque,
}, default=Opaque))


def _read_bits_response() -> Struct:
    return Struct("byte_count" / Byte, _in_range("byte_count", 1, 250),
                  "values" / Array(this.byte_count, BitsByte))


def _registers_response(limit: int) -> Struct:
    return Struct("byte_count" / Byte,
                  Check(lambda c: c.byte_count % 2 == 0 and 2 <= c.byte_count <= 2 * limit),
                  "values" / Array(this.byte_count // 2, U16))


def _write_multiple_response(limit: int) -> Struct:
    return Struct("start_address" / U16, "quantity" / U16,
                  _in_range("quantity", 1, limit), _within_space("start_address", "quantity"))


GetCommEventCounterResponse = Struct("status" / U16, "event_count" / U16)
GetCommEventLogResponse = Struct(
    "byte_count" / Byte, _in_range("byte_count", 6, 6 + C.MAX_COMM_EVENTS),
    "status" / U16, "event_count" / U16, "message_count" / U16, "events" / Bytes(this.byte_count - 6))
ReportServerIdResponse = Struct("byte_count" / Byte, "data" / Bytes(this.byte_count))
FileSubResponse = Struct(
    "file_response_length" / Byte, "reference_type" / Byte,
    Check(lambda c: c.file_response_length % 2 == 1),
    Check(this.reference_type == C.FILE_RECORD_REFERENCE_TYPE),
    "values" / Array(this.file_response_length // 2, U16))
ReadFileRecordResponse = Struct(
    "byte_count" / Byte, _in_range("byte_count", 0, C.MAX_READ_FILE_BYTE_COUNT),
    "records" / cs.FixedSized(this.byte_count, Struct("entries" / _UntilEnd(FileSubResponse))))
ReadFifoQueueResponse = Struct(
    "byte_count" / U16, "fifo_count" / U16, _in_range("fifo_count", 0, C.MAX_FIFO_COUNT),
    Check(this.byte_count == 2 + 2 * this.fifo_count), "values" / Array(this.fifo_count, U16))
DeviceIdObject = Struct("object_id" / Byte, "value" / Prefixed(Byte, GreedyBytes))
ReadDeviceIdentificationResponse = Struct(
    "read_device_id_code" / Byte, "conformity_level" / Byte, "more_follows" / Byte,
    "next_object_id" / Byte, "number_of_objects" / Byte,
    _in_range("read_device_id_code", 1, 4), Check(lambda c: c.more_follows in (0x00, 0xFF)),
    "objects" / Array(this.number_of_objects, DeviceIdObject))
MeiResponse = Struct("mei_type" / Byte, "body" / Switch(this.mei_type, {
    C.MeiType.READ_DEVICE_IDENTIFICATION: ReadDeviceIdentificationResponse,
    C.MeiType.CANOPEN_GENERAL_REFERENCE: Opaque,
}, default=Opaque))
ExceptionBody = Struct("exception_code" / Byte)

REQUEST_BODIES: dict[int, Struct] = {
    0x01: _read_request(C.MAX_READ_COILS), 0x02: _read_request(C.MAX_READ_DISCRETE_INPUTS),
    0x03: _read_request(C.MAX_READ_REGISTERS), 0x04: _read_request(C.MAX_READ_REGISTERS),
    0x05: SingleCoil, 0x06: SingleRegister, 0x07: Empty, 0x08: Diagnostics, 0x0B: Empty,
    0x0C: Empty, 0x0F: WriteMultipleCoilsRequest, 0x10: WriteMultipleRegistersRequest,
    0x11: Empty, 0x14: ReadFileRecordRequest, 0x15: WriteFileRecord, 0x16: MaskWrite,
    0x17: ReadWriteMultipleRegistersRequest, 0x18: ReadFifoQueueRequest, 0x2B: MeiRequest,
}
RESPONSE_BODIES: dict[int, Struct] = {
    0x01: _read_bits_response(), 0x02: _read_bits_response(),
    0x03: _registers_response(C.MAX_READ_REGISTERS), 0x04: _registers_response(C.MAX_READ_REGISTERS),
    0x05: SingleCoil, 0x06: SingleRegister, 0x07: Struct("status" / Byte), 0x08: Diagnostics,
    0x0B: GetCommEventCounterResponse, 0x0C: GetCommEventLogResponse,
    0x0F: _write_multiple_response(C.MAX_WRITE_COILS),
    0x10: _write_multiple_response(C.MAX_WRITE_REGISTERS),
    0x11: ReportServerIdResponse, 0x14: ReadFileRecordResponse, 0x15: WriteFileRecord,
    0x16: MaskWrite, 0x17: _registers_response(C.MAX_RW_READ), 0x18: ReadFifoQueueResponse,
    0x2B: MeiResponse,
}


def _pdu(bodies: dict[int, Struct]) -> Struct:
    def key(c: Any) -> Any:
        fc = c.function_code
        return fc if fc in bodies else ("exception" if fc & C.EXCEPTION_FLAG else "unknown")
    cases: dict[Any, Struct] = {**bodies, "exception": ExceptionBody, "unknown": Opaque}
    return Struct("function_code" / Byte, "body" / Switch(key, cases))


REQUEST_PDU = _pdu(REQUEST_BODIES)
UNKNOWN_PDU = Struct("function_code" / Byte, "data" / GreedyBytes)
RESPONSE_PDU = _pdu(RESPONSE_BODIES)

# MB-TCP 3.1.3: checks follow the whole 7-byte header.
MBAP = Struct(
    "transaction_id" / U16, "protocol_id" / U16, "length" / U16, "unit_id" / Byte,
    Check(this.protocol_id == C.MODBUS_PROTOCOL_ID),
    _in_range("length", C.MIN_MBAP_LENGTH, C.MAX_MBAP_LENGTH),
    "pdu" / Bytes(this.length - 1))
# MB-TCP 3.1.3 framing alone: the length delimits the ADU whatever the protocol id says.
MBAP_FRAME = Struct(
    "transaction_id" / U16, "protocol_id" / U16, "length" / U16,
    _in_range("length", C.MIN_MBAP_LENGTH, C.MAX_MBAP_LENGTH),
    "body" / Bytes(this.length))
# MB-SL 2.5.1: address, PDU (all but the last two bytes), CRC low byte first.
RTU_FRAME = Struct(
    "size" / Computed(_stream_size), Check(this.size <= C.MAX_RTU_ADU_SIZE),
    "address" / Byte, "pdu" / Bytes(_all_but(2, 1, "pdu")),
    "crc" / Checksum(Int16ul, crc16, lambda c: bytes([c.address]) + c.pdu))
# MB-SL 2.5.2: ':' hex CR LF, and inside the hex: address, PDU, LRC.
ASCII_FRAME = Struct(
    "size" / Computed(_stream_size), Check(this.size <= C.MAX_ASCII_ADU_CHARS),
    Const(b":"), "body" / _AsciiHex(Bytes(_all_but(2, 0, "body", 2))), Const(b"\r\n"))
ASCII_BODY = Struct(
    "address" / Byte, "pdu" / Bytes(_all_but(1, 1, "pdu")),
    "lrc" / Checksum(Byte, lrc, lambda c: bytes([c.address]) + c.pdu))


# --- Container <-> message ----------------------------------------------------------------

_DIAG = {m.value: m for m in C.DiagnosticSubFunction}
_EXC = {m.value: m for m in C.ExceptionCode}


def _bits(groups: Any) -> tuple[bool, ...]:
    return tuple(bool(b) for group in groups for b in group)


def _groups(values: tuple[bool, ...]) -> list[list[bool]]:
    padded = [bool(v) for v in values] + [False] * (-len(values) % 8)
    return [padded[i:i + 8] for i in range(0, len(padded), 8)]


def _to_message(request: bool, c: Any) -> Any:
    fc, b = c.function_code, c.body
    if fc not in (REQUEST_BODIES if request else RESPONSE_BODIES):
        if fc & C.EXCEPTION_FLAG:
            return M.ExceptionResponse(function_code=fc & 0x7F,
                                       exception_code=_EXC.get(b.exception_code, b.exception_code))
        return M.UnknownPdu(function_code=fc, data=b.data)
    if fc in (0x05, 0x06):
        cls = {(True, 5): M.WriteSingleCoilRequest, (False, 5): M.WriteSingleCoilResponse,
               (True, 6): M.WriteSingleRegisterRequest, (False, 6): M.WriteSingleRegisterResponse}
        return cls[request, fc](address=b.address, value=b.value)
    if fc == 0x08:
        cls8 = M.DiagnosticsRequest if request else M.DiagnosticsResponse
        return cls8(sub_function=_DIAG.get(b.sub_function, b.sub_function), data=b.data)
    if fc == 0x15:
        cls15 = M.WriteFileRecordRequest if request else M.WriteFileRecordResponse
        return cls15(records=tuple(M.FileRecord(file_number=r.file_number, record_number=r.record_number,
                                                values=tuple(r["values"])) for r in b.records.entries))
    if fc == 0x16:
        cls16 = M.MaskWriteRegisterRequest if request else M.MaskWriteRegisterResponse
        return cls16(address=b.address, and_mask=b.and_mask, or_mask=b.or_mask)
    if fc == 0x2B:
        mei = b.mei_type
        body = b.body
        if mei == C.MeiType.READ_DEVICE_IDENTIFICATION:
            if request:
                return M.ReadDeviceIdentificationRequest(read_device_id_code=body.read_device_id_code,
                                                         object_id=body.object_id)
            return M.ReadDeviceIdentificationResponse(
                read_device_id_code=body.read_device_id_code, conformity_level=body.conformity_level,
                more_follows=body.more_follows == 0xFF, next_object_id=body.next_object_id,
                objects=tuple((o.object_id, o.value) for o in body.objects))
        if mei == C.MeiType.CANOPEN_GENERAL_REFERENCE:
            cls43 = M.CanopenGeneralReferenceRequest if request else M.CanopenGeneralReferenceResponse
            return cls43(data=body.data)
        return M.UnknownPdu(function_code=fc, data=bytes([mei]) + body.data)
    if request:
        if fc in (0x01, 0x02, 0x03, 0x04):
            rcls = {1: M.ReadCoilsRequest, 2: M.ReadDiscreteInputsRequest,
                    3: M.ReadHoldingRegistersRequest, 4: M.ReadInputRegistersRequest}[fc]
            return rcls(start_address=b.start_address, quantity=b.quantity)
        if fc in (0x07, 0x0B, 0x0C, 0x11):
            return {7: M.ReadExceptionStatusRequest, 0x0B: M.GetCommEventCounterRequest,
                    0x0C: M.GetCommEventLogRequest, 0x11: M.ReportServerIdRequest}[fc]()
        if fc == 0x0F:
            return M.WriteMultipleCoilsRequest(start_address=b.start_address,
                                               values=_bits(b["values"])[:b.quantity])
        if fc == 0x10:
            return M.WriteMultipleRegistersRequest(start_address=b.start_address, values=tuple(b["values"]))
        if fc == 0x14:
            return M.ReadFileRecordRequest(records=tuple(
                M.FileSubRequest(file_number=r.file_number, record_number=r.record_number,
                                 record_length=r.record_length) for r in b.records))
        if fc == 0x17:
            return M.ReadWriteMultipleRegistersRequest(
                read_start_address=b.read_start_address, read_quantity=b.read_quantity,
                write_start_address=b.write_start_address, values=tuple(b["values"]))
        return M.ReadFifoQueueRequest(fifo_pointer_address=b.fifo_pointer_address)
    if fc in (0x01, 0x02):
        bcls = M.ReadCoilsResponse if fc == 1 else M.ReadDiscreteInputsResponse
        return bcls(values=_bits(b["values"]))
    if fc in (0x03, 0x04, 0x17):
        vcls = {3: M.ReadHoldingRegistersResponse, 4: M.ReadInputRegistersResponse,
                0x17: M.ReadWriteMultipleRegistersResponse}[fc]
        return vcls(values=tuple(b["values"]))
    if fc == 0x07:
        return M.ReadExceptionStatusResponse(status=b.status)
    if fc == 0x0B:
        return M.GetCommEventCounterResponse(status=b.status, event_count=b.event_count)
    if fc == 0x0C:
        return M.GetCommEventLogResponse(status=b.status, event_count=b.event_count,
                                         message_count=b.message_count, events=b.events)
    if fc in (0x0F, 0x10):
        wcls = M.WriteMultipleCoilsResponse if fc == 0x0F else M.WriteMultipleRegistersResponse
        return wcls(start_address=b.start_address, quantity=b.quantity)
    if fc == 0x11:
        return M.ReportServerIdResponse(data=b.data)
    if fc == 0x14:
        return M.ReadFileRecordResponse(records=tuple(tuple(r["values"]) for r in b.records.entries))
    return M.ReadFifoQueueResponse(values=tuple(b["values"]))


def _to_container(pdu: Any) -> tuple[Struct, dict[str, Any]]:
    """The format and the Container fields (derived counts computed) for ``pdu``."""
    if isinstance(pdu, M.ExceptionResponse):
        return RESPONSE_PDU, {"function_code": pdu.function_code | C.EXCEPTION_FLAG,
                              "body": {"exception_code": int(pdu.exception_code)}}
    if isinstance(pdu, M.UnknownPdu):
        return UNKNOWN_PDU, {"function_code": pdu.function_code, "data": pdu.data}
    name = type(pdu).__name__
    fmt = REQUEST_PDU if name.endswith("Request") else RESPONSE_PDU
    fc = pdu.function_code
    f: dict[str, Any]
    if isinstance(pdu, M.WriteMultipleCoilsRequest):
        n = len(pdu.values)
        f = {"start_address": pdu.start_address, "quantity": n, "byte_count": (n + 7) // 8,
             "values": _groups(pdu.values)}
    elif isinstance(pdu, M.WriteMultipleRegistersRequest):
        n = len(pdu.values)
        f = {"start_address": pdu.start_address, "quantity": n, "byte_count": 2 * n,
             "values": list(pdu.values)}
    elif isinstance(pdu, M.ReadWriteMultipleRegistersRequest):
        n = len(pdu.values)
        f = {"read_start_address": pdu.read_start_address, "read_quantity": pdu.read_quantity,
             "write_start_address": pdu.write_start_address, "write_quantity": n, "byte_count": 2 * n,
             "values": list(pdu.values)}
    elif isinstance(pdu, M.ReadFileRecordRequest):
        f = {"byte_count": 7 * len(pdu.records), "records": [
            {"reference_type": 6, "file_number": r.file_number, "record_number": r.record_number,
             "record_length": r.record_length} for r in pdu.records]}
    elif isinstance(pdu, M.WriteFileRecordRequest | M.WriteFileRecordResponse):
        f = {"byte_count": sum(7 + 2 * len(r.values) for r in pdu.records), "records": {"entries": [
            {"reference_type": 6, "file_number": r.file_number, "record_number": r.record_number,
             "record_length": len(r.values), "values": list(r.values)} for r in pdu.records]}}
    elif isinstance(pdu, M.ReadCoilsResponse | M.ReadDiscreteInputsResponse):
        groups = _groups(pdu.values)
        f = {"byte_count": len(groups), "values": groups}
    elif isinstance(pdu, M.ReadHoldingRegistersResponse | M.ReadInputRegistersResponse
                    | M.ReadWriteMultipleRegistersResponse):
        f = {"byte_count": 2 * len(pdu.values), "values": list(pdu.values)}
    elif isinstance(pdu, M.GetCommEventLogResponse):
        f = {"byte_count": 6 + len(pdu.events), "status": pdu.status, "event_count": pdu.event_count,
             "message_count": pdu.message_count, "events": pdu.events}
    elif isinstance(pdu, M.ReportServerIdResponse):
        f = {"byte_count": len(pdu.data), "data": pdu.data}
    elif isinstance(pdu, M.ReadFileRecordResponse):
        f = {"byte_count": sum(2 + 2 * len(r) for r in pdu.records), "records": {"entries": [
            {"file_response_length": 1 + 2 * len(r), "reference_type": 6, "values": list(r)}
            for r in pdu.records]}}
    elif isinstance(pdu, M.ReadFifoQueueResponse):
        f = {"byte_count": 2 + 2 * len(pdu.values), "fifo_count": len(pdu.values), "values": list(pdu.values)}
    elif isinstance(pdu, M.ReadDeviceIdentificationRequest):
        f = {"mei_type": 0x0E, "body": {"read_device_id_code": pdu.read_device_id_code,
                                        "object_id": pdu.object_id}}
    elif isinstance(pdu, M.ReadDeviceIdentificationResponse):
        f = {"mei_type": 0x0E, "body": {
            "read_device_id_code": pdu.read_device_id_code, "conformity_level": pdu.conformity_level,
            "more_follows": 0xFF if pdu.more_follows else 0x00, "next_object_id": pdu.next_object_id,
            "number_of_objects": len(pdu.objects),
            "objects": [{"object_id": i, "value": v} for i, v in pdu.objects]}}
    elif isinstance(pdu, M.CanopenGeneralReferenceRequest | M.CanopenGeneralReferenceResponse):
        f = {"mei_type": 0x0D, "body": {"data": pdu.data}}
    elif isinstance(pdu, M.DiagnosticsRequest | M.DiagnosticsResponse):
        f = {"sub_function": int(pdu.sub_function), "data": pdu.data}
    else:  # layouts whose fields are the message's fields
        f = {k: getattr(pdu, k) for k in pdu.__dataclass_fields__}
    return fmt, {"function_code": fc, "body": f}


# --- entry points --------------------------------------------------------------------------


def _parse(protocol: str, fmt: Any, data: bytes, base: int = 0) -> Any:
    try:
        return construct_parse(protocol, fmt, data, base_offset=base)
    except DecodeError as err:
        if "wrong checksum" in err.reason:  # Construct's ChecksumError
            raise ChecksumError(err.protocol, err.path, err.offset, err.reason) from None
        raise


def decode_pdu(protocol: str, data: bytes, direction: Direction = None, base: int = 0) -> Any:
    """Decode a PDU with the formats; with no direction, request first then response."""
    first: DecodeError | None = None
    for request in (True, False):
        if direction == ("response" if request else "request"):
            continue
        try:
            return _to_message(request, _parse(protocol, REQUEST_PDU if request else RESPONSE_PDU,
                                               data, base))
        except DecodeError as err:
            first = first or err
    assert first is not None
    raise first


def frames_declarative(stream: bytes) -> tuple[list[bytes], int | None, int]:
    """Frame a Modbus/TCP byte stream with :data:`MBAP_FRAME` (the oracle of the TCP framer).

    Returns the whole ADUs in order, the offset of the first header whose
    length is outside 2..254 (None if there is none), and how many bytes after
    the last ADU are an incomplete one (0 after an error: framing stops there).
    """
    frames: list[bytes] = []
    pos = 0
    while pos < len(stream):
        try:
            c = MBAP_FRAME.parse(stream[pos:])
        except cs.StreamError:
            if len(stream) - pos < 6:  # the header is not whole: nothing proves it wrong yet
                return frames, None, len(stream) - pos
            length = stream[pos + 4] << 8 | stream[pos + 5]
            if C.MIN_MBAP_LENGTH <= length <= C.MAX_MBAP_LENGTH:
                return frames, None, len(stream) - pos
            return frames, pos, 0
        except cs.CheckError:
            return frames, pos, 0
        frames.append(stream[pos:pos + 6 + c.length])
        pos += 6 + c.length
    return frames, None, 0


def decode_adu(protocol: str, data: bytes, direction: Direction = None) -> Any:
    """Decode a whole ADU of codec ``protocol`` with the declarative formats."""
    if protocol == "modbus-tcp":
        c = _parse(protocol, MBAP, data)
        return M.TcpAdu(transaction_id=c.transaction_id, unit_id=c.unit_id, protocol_id=c.protocol_id,
                        pdu=decode_pdu(protocol, c.pdu, direction, 7))
    if protocol == "modbus-rtu":
        c = _parse(protocol, RTU_FRAME, data)
        return M.RtuAdu(address=c.address, pdu=decode_pdu(protocol, c.pdu, direction, 1))
    if protocol == "modbus-ascii":
        raw = _parse(protocol, ASCII_FRAME, data).body
        c = _parse(protocol, ASCII_BODY, raw)
        return M.AsciiAdu(address=c.address, pdu=decode_pdu(protocol, c.pdu, direction))
    raise ValueError(f"unknown Modbus codec {protocol!r}")


def encode_pdu(protocol: str, pdu: Any) -> bytes:
    """Encode a PDU with the formats (bounds enforced by the same Checks)."""
    fmt, fields = _to_container(pdu)
    try:
        return bytes(fmt.build(fields))
    except (cs.ConstructError, ValueError, TypeError, KeyError, OverflowError) as err:
        raise EncodeError(protocol, ("pdu",), str(err).split("\n", 1)[-1]) from None


def encode_adu(protocol: str, adu: Any) -> bytes:
    """Encode a whole ADU with the declarative formats."""
    pdu = encode_pdu(protocol, adu.pdu)
    try:
        if isinstance(adu, M.TcpAdu):
            return bytes(MBAP.build({"transaction_id": adu.transaction_id, "protocol_id": adu.protocol_id,
                                     "length": len(pdu) + 1, "unit_id": adu.unit_id, "pdu": pdu}))
        if isinstance(adu, M.RtuAdu):
            return bytes(RTU_FRAME.build({"address": adu.address, "pdu": pdu, "crc": None}))
        if isinstance(adu, M.AsciiAdu):
            body = bytes(ASCII_BODY.build({"address": adu.address, "pdu": pdu, "lrc": None}))
            return bytes(ASCII_FRAME.build({"body": body}))
    except cs.ConstructError as err:
        raise EncodeError(protocol, (), str(err).split("\n", 1)[-1]) from None
    raise EncodeError(protocol, (), f"not a Modbus ADU: {type(adu).__name__}")
