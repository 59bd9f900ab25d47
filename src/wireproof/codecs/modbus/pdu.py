"""Modbus PDU fast path: hand-written ``struct`` code (MB-AP 6, 7).

This is the path production code runs; :mod:`.formats` is the declarative
specification it is differentially tested against (same message for valid
input, same error class for invalid input).

Decoders take ``(data, pos, end)`` — ``pos`` is the byte after the function
code, ``end`` the end of the PDU — so ADU decoders need not copy the PDU and
error offsets are offsets in the caller's buffer. Errors are checked in one
order, which the declarative formats follow too:

1. the fixed part of the PDU is there (else ``TruncatedError``);
2. the fixed part's values (quantities, byte counts; ``DecodeError``);
3. the variable part the byte count announces is there (``TruncatedError``,
   checked before anything is allocated for it);
4. the variable part's values;
5. nothing follows (``TrailingDataError``).

Errors raised here name the protocol ``"modbus"``; ADU codecs rename them.
A ``start_address + quantity`` past 65536 is reported on the path
``("pdu", "start_address")`` (a server answers ILLEGAL DATA ADDRESS, MB-AP
6.x state diagrams); every other bound on the field itself (ILLEGAL DATA VALUE).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from itertools import chain
from typing import Any

from wireproof.codecs._fast import fast_constructor
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.errors import DecodeError, EncodeError, TrailingDataError, TruncatedError

__all__ = [
    "decode_request_pdu",
    "decode_response_pdu",
    "encode_pdu",
    "pack_bits",
    "unpack_bits",
]

PROTOCOL = "modbus"

_H = struct.Struct(">H").unpack_from
_HH = struct.Struct(">HH").unpack_from
_HHB = struct.Struct(">HHB").unpack_from
_HHH = struct.Struct(">HHH").unpack_from
_HHHHB = struct.Struct(">HHHHB").unpack_from
_BHHH = struct.Struct(">BHHH").unpack_from
_pack_BHH = struct.Struct(">BHH").pack
_pack_BHHH = struct.Struct(">BHHH").pack
_pack_BHHB = struct.Struct(">BHHB").pack
_pack_BH = struct.Struct(">BH").pack
_pack_BB = struct.Struct(">BB").pack
_pack_BHHHHB = struct.Struct(">BHHHHB").pack

_REGS = [struct.Struct(f">{n}H") for n in range(128)]
# Function code, byte count and N registers in one pack (register responses).
_FC_COUNT_REGS = [struct.Struct(f">BB{n}H") for n in range(128)]
# Bit i of a byte is coil i of that byte: LSB first (MB-AP 6.1).
_BITS: list[tuple[bool, ...]] = [tuple(bool(b >> i & 1) for i in range(8)) for b in range(256)]
_PACK: dict[tuple[bool, ...], int] = {bits: b for b, bits in enumerate(_BITS)}
_DIAG = {m.value: m for m in C.DiagnosticSubFunction}
_EXC = {m.value: m for m in C.ExceptionCode}

Decoder = Callable[[bytes, int, int], Any]


# --- helpers ----------------------------------------------------------------------------


def _truncated(field: str, end: int) -> TruncatedError:
    return TruncatedError(PROTOCOL, ("pdu", field), end, "input ends before the PDU does")


def _trailing(at: int, end: int) -> TrailingDataError:
    return TrailingDataError(PROTOCOL, ("pdu",), at, f"{end - at} bytes after the end of the PDU")


def _bad(field: str | tuple[str | int, ...], at: int, reason: str) -> DecodeError:
    path = ("pdu", field) if isinstance(field, str) else ("pdu", *field)
    return DecodeError(PROTOCOL, path, at, reason)


def _regs(data: bytes, pos: int, n: int) -> tuple[int, ...]:
    fmt = _REGS[n] if n < 128 else struct.Struct(f">{n}H")
    return fmt.unpack_from(data, pos)


def unpack_bits(data: bytes) -> tuple[bool, ...]:
    """Bytes -> bits, LSB of the first byte first (MB-AP 6.1, 6.11)."""
    return tuple(chain.from_iterable(map(_BITS.__getitem__, data)))


def pack_bits(values: tuple[bool, ...] | list[bool]) -> bytes:
    """Bits -> bytes, LSB first; the unused bits of the last byte are zero."""
    vals = tuple(values)
    try:
        out = bytes([_PACK[vals[i:i + 8]] for i in range(0, len(vals) - 7, 8)])
        rest = len(vals) % 8
        if rest:
            out += bytes([_PACK[vals[-rest:] + (False,) * (8 - rest)]])
        return out
    except KeyError:  # values that are truthy but not bools / 0 / 1
        return pack_bits(tuple(bool(v) for v in vals))


def _check_range(start: int, qty: int, at: int) -> None:
    if start + qty > C.ADDRESS_SPACE:
        raise _bad("start_address", at, f"start_address {start} + quantity {qty} exceeds 65536")


# --- request decoders -------------------------------------------------------------------


def _read_request(cls: type[Any], limit: int) -> Decoder:
    make = fast_constructor(cls)
    space = C.ADDRESS_SPACE

    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 4:
            raise _truncated("quantity", end)
        start, qty = _HH(data, pos)
        if not 1 <= qty <= limit:
            raise _bad("quantity", pos + 2, f"quantity {qty} not in 1..{limit}")
        if start + qty > space:
            _check_range(start, qty, pos)
        if end - pos > 4:
            raise _trailing(pos + 4, end)
        return make(start, qty)
    return decode


def _write_single(cls: type[Any], coil: bool) -> Decoder:
    make = fast_constructor(cls)

    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 4:
            raise _truncated("value", end)
        address, value = _HH(data, pos)
        if coil and value != C.COIL_ON and value != C.COIL_OFF:
            raise _bad("value", pos + 2, f"coil value 0x{value:04X} is neither 0xFF00 nor 0x0000")
        if end - pos > 4:
            raise _trailing(pos + 4, end)
        return make(address, value)
    return decode


def _empty(cls: type[Any]) -> Decoder:
    instance = cls()

    def decode(data: bytes, pos: int, end: int) -> Any:
        if end > pos:
            raise _trailing(pos, end)
        return instance
    return decode


def _diagnostics(cls: type[Any]) -> Decoder:
    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 2:
            raise _truncated("sub_function", end)
        sub = _H(data, pos)[0]
        return cls(sub_function=_DIAG.get(sub, sub), data=data[pos + 2:end])
    return decode


def _write_multiple_coils_request(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 5:
        raise _truncated("byte_count", end)
    start, qty, count = _HHB(data, pos)
    if not 1 <= qty <= C.MAX_WRITE_COILS:
        raise _bad("quantity", pos + 2, f"quantity {qty} not in 1..{C.MAX_WRITE_COILS}")
    _check_range(start, qty, pos)
    if count != (qty + 7) >> 3:
        raise _bad("byte_count", pos + 4, f"byte count {count} != ceil({qty} / 8)")
    body = pos + 5
    if end - body < count:
        raise _truncated("values", end)
    if end - body > count:
        raise _trailing(body + count, end)
    return M.WriteMultipleCoilsRequest(start_address=start,
                                       values=unpack_bits(data[body:body + count])[:qty])


def _write_multiple_registers_request(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 5:
        raise _truncated("byte_count", end)
    start, qty, count = _HHB(data, pos)
    if not 1 <= qty <= C.MAX_WRITE_REGISTERS:
        raise _bad("quantity", pos + 2, f"quantity {qty} not in 1..{C.MAX_WRITE_REGISTERS}")
    _check_range(start, qty, pos)
    if count != 2 * qty:
        raise _bad("byte_count", pos + 4, f"byte count {count} != 2 x {qty}")
    body = pos + 5
    if end - body < count:
        raise _truncated("values", end)
    if end - body > count:
        raise _trailing(body + count, end)
    return M.WriteMultipleRegistersRequest(start_address=start, values=_regs(data, body, qty))


def _read_file_record_request(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 1:
        raise _truncated("byte_count", end)
    count = data[pos]
    if not C.MIN_READ_FILE_BYTE_COUNT <= count <= C.MAX_READ_FILE_BYTE_COUNT or count % 7:
        raise _bad("byte_count", pos, f"byte count {count} not a multiple of 7 in 0x07..0xF5")
    body = pos + 1
    if end - body < count:
        raise _truncated("records", end)
    records = []
    for i, at in enumerate(range(body, body + count, 7)):
        ref, file_number, record_number, length = _BHHH(data, at)
        if ref != C.FILE_RECORD_REFERENCE_TYPE:
            raise _bad(("records", i, "reference_type"), at, f"reference type {ref} != 6")
        records.append(M.FileSubRequest(file_number=file_number, record_number=record_number,
                                        record_length=length))
    if end - body > count:
        raise _trailing(body + count, end)
    return M.ReadFileRecordRequest(records=tuple(records))


def _write_file_record(cls: type[Any]) -> Decoder:
    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 1:
            raise _truncated("byte_count", end)
        count = data[pos]
        if not C.MIN_WRITE_FILE_BYTE_COUNT <= count <= C.MAX_WRITE_FILE_BYTE_COUNT:
            raise _bad("byte_count", pos, f"byte count {count} not in 0x09..0xFB")
        body = pos + 1
        stop = body + count
        if end < stop:
            raise _truncated("records", end)
        records = []
        at = body
        i = 0
        while at < stop:
            if stop - at < 7:
                raise TruncatedError(PROTOCOL, ("pdu", "records", i), stop,
                                     "sub-request runs past the byte count")
            ref, file_number, record_number, length = _BHHH(data, at)
            if ref != C.FILE_RECORD_REFERENCE_TYPE:
                raise _bad(("records", i, "reference_type"), at, f"reference type {ref} != 6")
            at += 7
            if stop - at < 2 * length:
                raise TruncatedError(PROTOCOL, ("pdu", "records", i, "values"), stop,
                                     "record data runs past the byte count")
            records.append(M.FileRecord(file_number=file_number, record_number=record_number,
                                        values=_regs(data, at, length)))
            at += 2 * length
            i += 1
        if end > stop:
            raise _trailing(stop, end)
        return cls(records=tuple(records))
    return decode


def _mask_write(cls: type[Any]) -> Decoder:
    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 6:
            raise _truncated("or_mask", end)
        address, and_mask, or_mask = _HHH(data, pos)
        if end - pos > 6:
            raise _trailing(pos + 6, end)
        return cls(address=address, and_mask=and_mask, or_mask=or_mask)
    return decode


def _read_write_registers_request(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 9:
        raise _truncated("byte_count", end)
    rstart, rqty, wstart, wqty, count = _HHHHB(data, pos)
    if not 1 <= rqty <= C.MAX_RW_READ:
        raise _bad("read_quantity", pos + 2, f"read quantity {rqty} not in 1..{C.MAX_RW_READ}")
    if rstart + rqty > C.ADDRESS_SPACE:
        raise _bad("read_start_address", pos, "read_start_address + read_quantity exceeds 65536")
    if not 1 <= wqty <= C.MAX_RW_WRITE:
        raise _bad("write_quantity", pos + 6, f"write quantity {wqty} not in 1..{C.MAX_RW_WRITE}")
    if wstart + wqty > C.ADDRESS_SPACE:
        raise _bad("write_start_address", pos + 4, "write_start_address + write_quantity exceeds 65536")
    if count != 2 * wqty:
        raise _bad("byte_count", pos + 8, f"byte count {count} != 2 x {wqty}")
    body = pos + 9
    if end - body < count:
        raise _truncated("values", end)
    if end - body > count:
        raise _trailing(body + count, end)
    return M.ReadWriteMultipleRegistersRequest(read_start_address=rstart, read_quantity=rqty,
                                               write_start_address=wstart,
                                               values=_regs(data, body, wqty))


def _read_fifo_request(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 2:
        raise _truncated("fifo_pointer_address", end)
    if end - pos > 2:
        raise _trailing(pos + 2, end)
    return M.ReadFifoQueueRequest(fifo_pointer_address=_H(data, pos)[0])


def _mei_request(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 1:
        raise _truncated("mei_type", end)
    mei = data[pos]
    if mei == C.MeiType.READ_DEVICE_IDENTIFICATION:
        if end - pos < 3:
            raise _truncated("object_id", end)
        code, object_id = data[pos + 1], data[pos + 2]
        if not 1 <= code <= 4:
            raise _bad("read_device_id_code", pos + 1, f"read device id code {code} not in 1..4")
        if end - pos > 3:
            raise _trailing(pos + 3, end)
        return M.ReadDeviceIdentificationRequest(read_device_id_code=code, object_id=object_id)
    if mei == C.MeiType.CANOPEN_GENERAL_REFERENCE:
        return M.CanopenGeneralReferenceRequest(data=data[pos + 1:end])
    return M.UnknownPdu(function_code=C.FunctionCode.ENCAPSULATED_INTERFACE_TRANSPORT,
                        data=data[pos:end])


# --- response decoders ------------------------------------------------------------------


def _read_bits_response(cls: type[Any]) -> Decoder:
    make = fast_constructor(cls)

    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 1:
            raise _truncated("byte_count", end)
        count = data[pos]
        if not 1 <= count <= 250:
            raise _bad("byte_count", pos, f"byte count {count} not in 1..250")
        if end - pos - 1 < count:
            raise _truncated("values", end)
        if end - pos - 1 > count:
            raise _trailing(pos + 1 + count, end)
        return make(unpack_bits(data[pos + 1:end]))
    return decode


def _registers_response(cls: type[Any], limit: int) -> Decoder:
    make = fast_constructor(cls)

    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 1:
            raise _truncated("byte_count", end)
        count = data[pos]
        if count & 1 or not 2 <= count <= 2 * limit:
            raise _bad("byte_count", pos, f"byte count {count} not even in 2..{2 * limit}")
        if end - pos - 1 < count:
            raise _truncated("values", end)
        if end - pos - 1 > count:
            raise _trailing(pos + 1 + count, end)
        return make(_REGS[count >> 1].unpack_from(data, pos + 1))
    return decode


def _exception_status_response(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 1:
        raise _truncated("status", end)
    if end - pos > 1:
        raise _trailing(pos + 1, end)
    return M.ReadExceptionStatusResponse(status=data[pos])


def _comm_event_counter_response(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 4:
        raise _truncated("event_count", end)
    if end - pos > 4:
        raise _trailing(pos + 4, end)
    status, count = _HH(data, pos)
    return M.GetCommEventCounterResponse(status=status, event_count=count)


def _comm_event_log_response(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 1:
        raise _truncated("byte_count", end)
    count = data[pos]
    if not 6 <= count <= 6 + C.MAX_COMM_EVENTS:
        raise _bad("byte_count", pos, f"byte count {count} not in 6..70")
    body = pos + 1
    if end - body < count:
        raise _truncated("events", end)
    if end - body > count:
        raise _trailing(body + count, end)
    status, events, messages = _HHH(data, body)
    return M.GetCommEventLogResponse(status=status, event_count=events, message_count=messages,
                                     events=data[body + 6:end])


def _write_multiple_response(cls: type[Any], limit: int) -> Decoder:
    make = fast_constructor(cls)

    def decode(data: bytes, pos: int, end: int) -> Any:
        if end - pos < 4:
            raise _truncated("quantity", end)
        start, qty = _HH(data, pos)
        if not 1 <= qty <= limit:
            raise _bad("quantity", pos + 2, f"quantity {qty} not in 1..{limit}")
        _check_range(start, qty, pos)
        if end - pos > 4:
            raise _trailing(pos + 4, end)
        return make(start, qty)
    return decode


def _report_server_id_response(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 1:
        raise _truncated("byte_count", end)
    count = data[pos]
    if end - pos - 1 < count:
        raise _truncated("data", end)
    if end - pos - 1 > count:
        raise _trailing(pos + 1 + count, end)
    return M.ReportServerIdResponse(data=data[pos + 1:end])


def _read_file_record_response(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 1:
        raise _truncated("byte_count", end)
    count = data[pos]
    if count > C.MAX_READ_FILE_BYTE_COUNT:
        raise _bad("byte_count", pos, f"byte count {count} > 0xF5")
    body = pos + 1
    stop = body + count
    if end < stop:
        raise _truncated("records", end)
    records = []
    at = body
    i = 0
    while at < stop:
        if stop - at < 2:
            raise TruncatedError(PROTOCOL, ("pdu", "records", i), stop,
                                 "sub-response runs past the byte count")
        length, ref = data[at], data[at + 1]
        if length < 1 or not length & 1:
            raise _bad(("records", i, "file_response_length"), at, f"length {length} is not 1 + 2N")
        if ref != C.FILE_RECORD_REFERENCE_TYPE:
            raise _bad(("records", i, "reference_type"), at + 1, f"reference type {ref} != 6")
        if stop - at - 1 < length:
            raise TruncatedError(PROTOCOL, ("pdu", "records", i, "values"), stop,
                                 "record data runs past the byte count")
        records.append(_regs(data, at + 2, length >> 1))
        at += 1 + length
        i += 1
    if end > stop:
        raise _trailing(stop, end)
    return M.ReadFileRecordResponse(records=tuple(records))


def _read_fifo_response(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 4:
        raise _truncated("fifo_count", end)
    count, fifo_count = _HH(data, pos)
    if fifo_count > C.MAX_FIFO_COUNT:
        raise _bad("fifo_count", pos + 2, f"FIFO count {fifo_count} > {C.MAX_FIFO_COUNT}")
    if count != 2 + 2 * fifo_count:
        raise _bad("byte_count", pos, f"byte count {count} != 2 + 2 x {fifo_count}")
    body = pos + 4
    if end - body < 2 * fifo_count:
        raise _truncated("values", end)
    if end - body > 2 * fifo_count:
        raise _trailing(body + 2 * fifo_count, end)
    return M.ReadFifoQueueResponse(values=_regs(data, body, fifo_count))


def _read_write_registers_response(data: bytes, pos: int, end: int) -> Any:
    return _rw_response(data, pos, end)


_rw_response = _registers_response(M.ReadWriteMultipleRegistersResponse, C.MAX_RW_READ)


def _mei_response(data: bytes, pos: int, end: int) -> Any:
    if end - pos < 1:
        raise _truncated("mei_type", end)
    mei = data[pos]
    if mei == C.MeiType.READ_DEVICE_IDENTIFICATION:
        if end - pos < 6:
            raise _truncated("number_of_objects", end)
        code, level, more, next_id, number = data[pos + 1:pos + 6]
        if not 1 <= code <= 4:
            raise _bad("read_device_id_code", pos + 1, f"read device id code {code} not in 1..4")
        if more != 0x00 and more != 0xFF:
            raise _bad("more_follows", pos + 3, f"more follows 0x{more:02X} is neither 0x00 nor 0xFF")
        objects = []
        at = pos + 6
        for i in range(number):
            if end - at < 2:
                raise TruncatedError(PROTOCOL, ("pdu", "objects", i), end, "input ends before the PDU does")
            object_id, length = data[at], data[at + 1]
            at += 2
            if end - at < length:
                raise TruncatedError(PROTOCOL, ("pdu", "objects", i, "value"), end,
                                     "input ends before the PDU does")
            objects.append((object_id, data[at:at + length]))
            at += length
        if end > at:
            raise _trailing(at, end)
        return M.ReadDeviceIdentificationResponse(
            read_device_id_code=code, conformity_level=level, more_follows=more == 0xFF,
            next_object_id=next_id, objects=tuple(objects))
    if mei == C.MeiType.CANOPEN_GENERAL_REFERENCE:
        return M.CanopenGeneralReferenceResponse(data=data[pos + 1:end])
    return M.UnknownPdu(function_code=C.FunctionCode.ENCAPSULATED_INTERFACE_TRANSPORT,
                        data=data[pos:end])


_REQUEST: dict[int, Decoder] = {
    0x01: _read_request(M.ReadCoilsRequest, C.MAX_READ_COILS),
    0x02: _read_request(M.ReadDiscreteInputsRequest, C.MAX_READ_DISCRETE_INPUTS),
    0x03: _read_request(M.ReadHoldingRegistersRequest, C.MAX_READ_REGISTERS),
    0x04: _read_request(M.ReadInputRegistersRequest, C.MAX_READ_REGISTERS),
    0x05: _write_single(M.WriteSingleCoilRequest, True),
    0x06: _write_single(M.WriteSingleRegisterRequest, False),
    0x07: _empty(M.ReadExceptionStatusRequest),
    0x08: _diagnostics(M.DiagnosticsRequest),
    0x0B: _empty(M.GetCommEventCounterRequest),
    0x0C: _empty(M.GetCommEventLogRequest),
    0x0F: _write_multiple_coils_request,
    0x10: _write_multiple_registers_request,
    0x11: _empty(M.ReportServerIdRequest),
    0x14: _read_file_record_request,
    0x15: _write_file_record(M.WriteFileRecordRequest),
    0x16: _mask_write(M.MaskWriteRegisterRequest),
    0x17: _read_write_registers_request,
    0x18: _read_fifo_request,
    0x2B: _mei_request,
}

_RESPONSE: dict[int, Decoder] = {
    0x01: _read_bits_response(M.ReadCoilsResponse),
    0x02: _read_bits_response(M.ReadDiscreteInputsResponse),
    0x03: _registers_response(M.ReadHoldingRegistersResponse, C.MAX_READ_REGISTERS),
    0x04: _registers_response(M.ReadInputRegistersResponse, C.MAX_READ_REGISTERS),
    0x05: _write_single(M.WriteSingleCoilResponse, True),
    0x06: _write_single(M.WriteSingleRegisterResponse, False),
    0x07: _exception_status_response,
    0x08: _diagnostics(M.DiagnosticsResponse),
    0x0B: _comm_event_counter_response,
    0x0C: _comm_event_log_response,
    0x0F: _write_multiple_response(M.WriteMultipleCoilsResponse, C.MAX_WRITE_COILS),
    0x10: _write_multiple_response(M.WriteMultipleRegistersResponse, C.MAX_WRITE_REGISTERS),
    0x11: _report_server_id_response,
    0x14: _read_file_record_response,
    0x15: _write_file_record(M.WriteFileRecordResponse),
    0x16: _mask_write(M.MaskWriteRegisterResponse),
    0x17: _read_write_registers_response,
    0x18: _read_fifo_response,
    0x2B: _mei_response,
}


def _exception(data: bytes, fc: int, pos: int, end: int) -> M.ExceptionResponse:
    if end - pos < 1:
        raise _truncated("exception_code", end)
    if end - pos > 1:
        raise _trailing(pos + 1, end)
    code = data[pos]
    # Two returns, not _EXC.get(code, code): the join of ExceptionCode and int is int, and
    # the compiled build (mypyc, setup.py) would keep the member as a plain int, losing its name.
    known: C.ExceptionCode | None = _EXC.get(code)
    if known is not None:
        return M.ExceptionResponse(function_code=fc & 0x7F, exception_code=known)
    return M.ExceptionResponse(function_code=fc & 0x7F, exception_code=code)


def decode_pdu_at(table: dict[int, Decoder], data: bytes, pos: int, end: int) -> Any:
    """Decode the PDU ``data[pos:end]`` with a request or response table."""
    if end <= pos:
        raise TruncatedError(PROTOCOL, ("pdu", "function_code"), end, "empty PDU")
    fc = data[pos]
    decoder = table.get(fc)
    if decoder is not None:
        return decoder(data, pos + 1, end)
    if fc & C.EXCEPTION_FLAG:
        return _exception(data, fc, pos + 1, end)
    return M.UnknownPdu(function_code=fc, data=data[pos + 1:end])


REQUEST_TABLE = _REQUEST
RESPONSE_TABLE = _RESPONSE


def decode_request_pdu(data: bytes) -> M.Request | M.ExceptionResponse | M.UnknownPdu:
    """Decode a request PDU (function code + data); an FC with 0x80 set is an exception."""
    return decode_pdu_at(_REQUEST, data, 0, len(data))  # type: ignore[no-any-return]


def decode_response_pdu(data: bytes) -> M.Response | M.UnknownPdu:
    """Decode a response PDU (function code + data)."""
    return decode_pdu_at(_RESPONSE, data, 0, len(data))  # type: ignore[no-any-return]


# --- encoders ---------------------------------------------------------------------------

Encoder = Callable[[Any, bool], bytes]


def _fail(field: str | tuple[str | int, ...], reason: str) -> EncodeError:
    path = ("pdu", field) if isinstance(field, str) else ("pdu", *field)
    return EncodeError(PROTOCOL, path, reason)


def _enc_read(limit: int) -> Encoder:
    def encode(pdu: Any, strict: bool) -> bytes:
        if strict:
            if not 1 <= pdu.quantity <= limit:
                raise _fail("quantity", f"quantity {pdu.quantity} not in 1..{limit}")
            if pdu.start_address + pdu.quantity > C.ADDRESS_SPACE:
                raise _fail("start_address", "start_address + quantity exceeds 65536")
        return _pack_BHH(pdu.function_code, pdu.start_address, pdu.quantity)
    return encode


def _enc_single(coil: bool) -> Encoder:
    def encode(pdu: Any, strict: bool) -> bytes:
        if strict and coil and pdu.value not in (C.COIL_ON, C.COIL_OFF):
            raise _fail("value", f"coil value {pdu.value!r} is neither 0xFF00 nor 0x0000")
        return _pack_BHH(pdu.function_code, pdu.address, pdu.value)
    return encode


def _enc_empty(pdu: Any, strict: bool) -> bytes:
    return bytes((pdu.function_code,))


def _enc_diagnostics(pdu: Any, strict: bool) -> bytes:
    return _pack_BH(pdu.function_code, pdu.sub_function) + bytes(pdu.data)


def _enc_write_coils(pdu: M.WriteMultipleCoilsRequest, strict: bool) -> bytes:
    qty = len(pdu.values)
    if strict:
        if not 1 <= qty <= C.MAX_WRITE_COILS:
            raise _fail("values", f"quantity {qty} not in 1..{C.MAX_WRITE_COILS}")
        if pdu.start_address + qty > C.ADDRESS_SPACE:
            raise _fail("start_address", "start_address + quantity exceeds 65536")
    body = pack_bits(pdu.values)
    return _pack_BHHB(0x0F, pdu.start_address, qty, len(body)) + body


def _enc_write_registers(pdu: M.WriteMultipleRegistersRequest, strict: bool) -> bytes:
    qty = len(pdu.values)
    if strict:
        if not 1 <= qty <= C.MAX_WRITE_REGISTERS:
            raise _fail("values", f"quantity {qty} not in 1..{C.MAX_WRITE_REGISTERS}")
        if pdu.start_address + qty > C.ADDRESS_SPACE:
            raise _fail("start_address", "start_address + quantity exceeds 65536")
    return _pack_BHHB(0x10, pdu.start_address, qty, 2 * qty) + struct.pack(f">{qty}H", *pdu.values)


def _enc_read_file_request(pdu: M.ReadFileRecordRequest, strict: bool) -> bytes:
    count = 7 * len(pdu.records)
    if strict and not C.MIN_READ_FILE_BYTE_COUNT <= count <= C.MAX_READ_FILE_BYTE_COUNT:
        raise _fail("records", f"{len(pdu.records)} sub-requests: byte count {count} not in 0x07..0xF5")
    return bytes((0x14, count)) + b"".join(
        _pack_BHHH(6, r.file_number, r.record_number, r.record_length) for r in pdu.records)


def _enc_write_file(pdu: M.WriteFileRecordRequest | M.WriteFileRecordResponse, strict: bool) -> bytes:
    body = b"".join(_pack_BHHH(6, r.file_number, r.record_number, len(r.values))
                    + struct.pack(f">{len(r.values)}H", *r.values) for r in pdu.records)
    if strict and not C.MIN_WRITE_FILE_BYTE_COUNT <= len(body) <= C.MAX_WRITE_FILE_BYTE_COUNT:
        raise _fail("records", f"byte count {len(body)} not in 0x09..0xFB")
    return bytes((0x15, len(body))) + body


def _enc_mask(pdu: Any, strict: bool) -> bytes:
    return _pack_BHHH(0x16, pdu.address, pdu.and_mask, pdu.or_mask)


def _enc_rw_request(pdu: M.ReadWriteMultipleRegistersRequest, strict: bool) -> bytes:
    wqty = len(pdu.values)
    if strict:
        if not 1 <= pdu.read_quantity <= C.MAX_RW_READ:
            raise _fail("read_quantity", f"read quantity {pdu.read_quantity} not in 1..{C.MAX_RW_READ}")
        if pdu.read_start_address + pdu.read_quantity > C.ADDRESS_SPACE:
            raise _fail("read_start_address", "read_start_address + read_quantity exceeds 65536")
        if not 1 <= wqty <= C.MAX_RW_WRITE:
            raise _fail("values", f"write quantity {wqty} not in 1..{C.MAX_RW_WRITE}")
        if pdu.write_start_address + wqty > C.ADDRESS_SPACE:
            raise _fail("write_start_address", "write_start_address + write quantity exceeds 65536")
    return (_pack_BHHHHB(0x17, pdu.read_start_address, pdu.read_quantity, pdu.write_start_address,
                         wqty, 2 * wqty) + struct.pack(f">{wqty}H", *pdu.values))


def _enc_fifo_request(pdu: M.ReadFifoQueueRequest, strict: bool) -> bytes:
    return _pack_BH(0x18, pdu.fifo_pointer_address)


def _enc_device_id_request(pdu: M.ReadDeviceIdentificationRequest, strict: bool) -> bytes:
    if strict and not 1 <= pdu.read_device_id_code <= 4:
        raise _fail("read_device_id_code", f"read device id code {pdu.read_device_id_code} not in 1..4")
    return bytes((0x2B, 0x0E, pdu.read_device_id_code, pdu.object_id))


def _enc_canopen(pdu: Any, strict: bool) -> bytes:
    return b"\x2b\x0d" + bytes(pdu.data)


def _enc_read_bits_response(pdu: Any, strict: bool) -> bytes:
    body = pack_bits(pdu.values)
    if strict and not 1 <= len(body) <= 250:
        raise _fail("values", f"{len(pdu.values)} bits: byte count {len(body)} not in 1..250")
    return bytes((pdu.function_code, len(body))) + body


def _enc_registers_response(limit: int) -> Encoder:
    def encode(pdu: Any, strict: bool) -> bytes:
        values = pdu.values
        n = len(values)
        if strict and not 1 <= n <= limit:
            raise _fail("values", f"{n} registers not in 1..{limit}")
        fmt = _FC_COUNT_REGS[n] if n < 128 else struct.Struct(f">BB{n}H")
        return fmt.pack(pdu.function_code, 2 * n, *values)
    return encode


def _enc_exception_status(pdu: M.ReadExceptionStatusResponse, strict: bool) -> bytes:
    return bytes((0x07, pdu.status))


def _enc_event_counter(pdu: M.GetCommEventCounterResponse, strict: bool) -> bytes:
    return _pack_BHH(0x0B, pdu.status, pdu.event_count)


def _enc_event_log(pdu: M.GetCommEventLogResponse, strict: bool) -> bytes:
    if strict and len(pdu.events) > C.MAX_COMM_EVENTS:
        raise _fail("events", f"{len(pdu.events)} events > {C.MAX_COMM_EVENTS}")
    return (bytes((0x0C, 6 + len(pdu.events))) + struct.pack(">HHH", pdu.status, pdu.event_count,
                                                             pdu.message_count) + bytes(pdu.events))


def _enc_write_multiple_response(limit: int) -> Encoder:
    def encode(pdu: Any, strict: bool) -> bytes:
        if strict:
            if not 1 <= pdu.quantity <= limit:
                raise _fail("quantity", f"quantity {pdu.quantity} not in 1..{limit}")
            if pdu.start_address + pdu.quantity > C.ADDRESS_SPACE:
                raise _fail("start_address", "start_address + quantity exceeds 65536")
        return _pack_BHH(pdu.function_code, pdu.start_address, pdu.quantity)
    return encode


def _enc_report_server_id(pdu: M.ReportServerIdResponse, strict: bool) -> bytes:
    return bytes((0x11, len(pdu.data))) + bytes(pdu.data)


def _enc_read_file_response(pdu: M.ReadFileRecordResponse, strict: bool) -> bytes:
    body = b"".join(bytes((1 + 2 * len(r), 6)) + struct.pack(f">{len(r)}H", *r) for r in pdu.records)
    if strict and len(body) > C.MAX_READ_FILE_BYTE_COUNT:
        raise _fail("records", f"byte count {len(body)} > 0xF5")
    return bytes((0x14, len(body))) + body


def _enc_fifo_response(pdu: M.ReadFifoQueueResponse, strict: bool) -> bytes:
    n = len(pdu.values)
    if strict and n > C.MAX_FIFO_COUNT:
        raise _fail("values", f"FIFO count {n} > {C.MAX_FIFO_COUNT}")
    return _pack_BHH(0x18, 2 + 2 * n, n) + struct.pack(f">{n}H", *pdu.values)


def _enc_device_id_response(pdu: M.ReadDeviceIdentificationResponse, strict: bool) -> bytes:
    if strict and not 1 <= pdu.read_device_id_code <= 4:
        raise _fail("read_device_id_code", f"read device id code {pdu.read_device_id_code} not in 1..4")
    parts = [bytes((0x2B, 0x0E, pdu.read_device_id_code, pdu.conformity_level,
                    0xFF if pdu.more_follows else 0x00, pdu.next_object_id, len(pdu.objects)))]
    for object_id, value in pdu.objects:
        parts.append(bytes((object_id, len(value))))
        parts.append(bytes(value))
    return b"".join(parts)


def _enc_exception(pdu: M.ExceptionResponse, strict: bool) -> bytes:
    if not 0 <= pdu.function_code <= 0x7F:
        raise _fail("function_code", f"function code {pdu.function_code} not in 0..0x7F")
    return bytes((pdu.function_code | C.EXCEPTION_FLAG, pdu.exception_code))


def _enc_unknown(pdu: M.UnknownPdu, strict: bool) -> bytes:
    return bytes((pdu.function_code,)) + bytes(pdu.data)


ENCODERS: dict[type[Any], Encoder] = {
    M.ReadCoilsRequest: _enc_read(C.MAX_READ_COILS),
    M.ReadDiscreteInputsRequest: _enc_read(C.MAX_READ_DISCRETE_INPUTS),
    M.ReadHoldingRegistersRequest: _enc_read(C.MAX_READ_REGISTERS),
    M.ReadInputRegistersRequest: _enc_read(C.MAX_READ_REGISTERS),
    M.WriteSingleCoilRequest: _enc_single(True),
    M.WriteSingleCoilResponse: _enc_single(True),
    M.WriteSingleRegisterRequest: _enc_single(False),
    M.WriteSingleRegisterResponse: _enc_single(False),
    M.ReadExceptionStatusRequest: _enc_empty,
    M.GetCommEventCounterRequest: _enc_empty,
    M.GetCommEventLogRequest: _enc_empty,
    M.ReportServerIdRequest: _enc_empty,
    M.DiagnosticsRequest: _enc_diagnostics,
    M.DiagnosticsResponse: _enc_diagnostics,
    M.WriteMultipleCoilsRequest: _enc_write_coils,
    M.WriteMultipleRegistersRequest: _enc_write_registers,
    M.ReadFileRecordRequest: _enc_read_file_request,
    M.WriteFileRecordRequest: _enc_write_file,
    M.WriteFileRecordResponse: _enc_write_file,
    M.MaskWriteRegisterRequest: _enc_mask,
    M.MaskWriteRegisterResponse: _enc_mask,
    M.ReadWriteMultipleRegistersRequest: _enc_rw_request,
    M.ReadFifoQueueRequest: _enc_fifo_request,
    M.ReadDeviceIdentificationRequest: _enc_device_id_request,
    M.CanopenGeneralReferenceRequest: _enc_canopen,
    M.CanopenGeneralReferenceResponse: _enc_canopen,
    M.ReadCoilsResponse: _enc_read_bits_response,
    M.ReadDiscreteInputsResponse: _enc_read_bits_response,
    M.ReadHoldingRegistersResponse: _enc_registers_response(C.MAX_READ_REGISTERS),
    M.ReadInputRegistersResponse: _enc_registers_response(C.MAX_READ_REGISTERS),
    M.ReadWriteMultipleRegistersResponse: _enc_registers_response(C.MAX_RW_READ),
    M.ReadExceptionStatusResponse: _enc_exception_status,
    M.GetCommEventCounterResponse: _enc_event_counter,
    M.GetCommEventLogResponse: _enc_event_log,
    M.WriteMultipleCoilsResponse: _enc_write_multiple_response(C.MAX_WRITE_COILS),
    M.WriteMultipleRegistersResponse: _enc_write_multiple_response(C.MAX_WRITE_REGISTERS),
    M.ReportServerIdResponse: _enc_report_server_id,
    M.ReadFileRecordResponse: _enc_read_file_response,
    M.ReadFifoQueueResponse: _enc_fifo_response,
    M.ReadDeviceIdentificationResponse: _enc_device_id_response,
    M.ExceptionResponse: _enc_exception,
    M.UnknownPdu: _enc_unknown,
}


def encode_pdu(pdu: M.Pdu, strict: bool = True) -> bytes:
    """Encode a PDU (function code + data).

    With ``strict`` (the default) every spec bound is checked and a violation is
    an ``EncodeError``; ``strict=False`` skips the bounds so a conformance test
    can send a deliberately invalid request. Values that do not fit their wire
    field are an ``EncodeError`` either way.
    """
    encoder = ENCODERS.get(type(pdu))
    if encoder is None:
        raise EncodeError(PROTOCOL, ("pdu",), f"not a Modbus PDU: {type(pdu).__name__}")
    try:
        out = encoder(pdu, strict)
    except (struct.error, ValueError, TypeError, OverflowError) as err:
        if isinstance(err, EncodeError):
            raise
        raise EncodeError(PROTOCOL, ("pdu",), f"{type(err).__name__}: {err}") from None
    if strict and len(out) > C.MAX_PDU_SIZE:
        raise EncodeError(PROTOCOL, ("pdu",), f"PDU of {len(out)} bytes > {C.MAX_PDU_SIZE}")
    return out
