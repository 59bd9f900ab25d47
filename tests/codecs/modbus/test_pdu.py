"""Unit tests of the Modbus PDU/ADU codec: bounds, strictness, direction, errors (MB-AP 6, 7)."""

from __future__ import annotations

import pytest

from wireproof.codecs import get
from wireproof.codecs.modbus import (
    DiagnosticsRequest,
    DiagnosticSubFunction,
    ExceptionCode,
    ExceptionResponse,
    ReadCoilsRequest,
    ReadCoilsResponse,
    ReadFifoQueueResponse,
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    RtuAdu,
    TcpAdu,
    UnknownPdu,
    WriteMultipleCoilsRequest,
    WriteMultipleRegistersRequest,
    WriteSingleCoilRequest,
    WriteSingleCoilResponse,
    decode_request_pdu,
    decode_response_pdu,
    encode_pdu,
    tcp_codec,
)
from wireproof.codecs.modbus import constants as C
from wireproof.errors import DecodeError, EncodeError, TrailingDataError, TruncatedError


def test_registry_names() -> None:
    for name in ("modbus-tcp", "modbus-rtu", "modbus-ascii"):
        codec = get(name)
        assert codec.name == name
        assert hasattr(codec, "decode_declarative") and hasattr(codec, "encode_declarative")


@pytest.mark.parametrize(("pdu", "path"), [
    (ReadCoilsRequest(start_address=0, quantity=0), ("pdu", "quantity")),
    (ReadCoilsRequest(start_address=0, quantity=C.MAX_READ_COILS + 1), ("pdu", "quantity")),
    (ReadCoilsRequest(start_address=0xFFFF, quantity=2), ("pdu", "start_address")),
    (ReadHoldingRegistersRequest(start_address=0, quantity=126), ("pdu", "quantity")),
    (WriteMultipleCoilsRequest(start_address=0, values=(True,) * 1969), ("pdu", "values")),
    (WriteMultipleRegistersRequest(start_address=0, values=(0,) * 124), ("pdu", "values")),
    (WriteMultipleRegistersRequest(start_address=0, values=()), ("pdu", "values")),
    (WriteSingleCoilRequest(address=1, value=0x1234), ("pdu", "value")),
    (ReadFifoQueueResponse(values=(0,) * 32), ("pdu", "values")),
])
def test_encode_rejects_out_of_bounds(pdu: object, path: tuple[str, ...]) -> None:
    with pytest.raises(EncodeError) as info:
        encode_pdu(pdu)  # type: ignore[arg-type]
    assert info.value.path == path


def test_strict_false_builds_invalid_requests() -> None:
    # Conformance tests send these on purpose (MB-AP 6.3: quantity 0 -> exception 03).
    zero = ReadHoldingRegistersRequest(start_address=0, quantity=0)
    assert encode_pdu(zero, strict=False) == bytes.fromhex("0300000000")
    bad_coil = WriteSingleCoilRequest(address=1, value=0x1234)
    assert encode_pdu(bad_coil, strict=False) == bytes.fromhex("0500011234")
    tcp = tcp_codec()
    adu = TcpAdu(transaction_id=1, unit_id=1, pdu=ReadCoilsRequest(start_address=0, quantity=2001))
    wire = tcp.encode(adu, strict=False)
    with pytest.raises(DecodeError) as info:
        tcp.decode_request(wire)
    assert info.value.path == ("pdu", "quantity") and info.value.offset == 10
    with pytest.raises(EncodeError):
        tcp.encode(adu)


def test_values_that_do_not_fit_are_encode_errors_even_when_not_strict() -> None:
    with pytest.raises(EncodeError):
        encode_pdu(ReadCoilsRequest(start_address=0x10000, quantity=1), strict=False)
    with pytest.raises(EncodeError):
        encode_pdu(ExceptionResponse(function_code=0x80, exception_code=1))


def test_direction() -> None:
    tcp = tcp_codec()
    wire = bytes.fromhex("0001000000061105 00AC FF00".replace(" ", ""))
    assert tcp.decode(wire).pdu == WriteSingleCoilRequest(address=0xAC, value=0xFF00)
    assert tcp.decode_response(wire).pdu == WriteSingleCoilResponse(address=0xAC, value=0xFF00)
    assert tcp.decode_response(wire).pdu.is_on
    # Only the response layout fits: found with direction None too.
    wire = bytes.fromhex("000100000009110306022B00000064")
    assert tcp.decode(wire).pdu == ReadHoldingRegistersResponse(values=(0x022B, 0, 0x64))
    with pytest.raises(DecodeError):
        tcp.decode_request(wire)
    with pytest.raises(ValueError, match="direction"):
        tcp.decode(wire, "sideways")  # type: ignore[arg-type]


def test_exception_responses_in_every_direction() -> None:
    for decode in (decode_request_pdu, decode_response_pdu):
        msg = decode(b"\x83\x02")
        assert msg == ExceptionResponse(function_code=3, exception_code=ExceptionCode.ILLEGAL_DATA_ADDRESS)
        assert decode(b"\x83\x09") == ExceptionResponse(function_code=3, exception_code=9)
        with pytest.raises(TruncatedError):
            decode(b"\x83")
        with pytest.raises(TrailingDataError):
            decode(b"\x83\x02\x00")
    assert ExceptionResponse(function_code=3, exception_code=2).wire_function_code == 0x83


def test_unknown_function_codes() -> None:
    assert decode_request_pdu(b"\x41\x01") == UnknownPdu(function_code=0x41, data=b"\x01")
    assert decode_response_pdu(b"\x00") == UnknownPdu(function_code=0, data=b"")
    assert decode_request_pdu(b"\x2b\x0f\x01") == UnknownPdu(function_code=0x2B, data=b"\x0f\x01")
    with pytest.raises(TruncatedError):
        decode_request_pdu(b"")


def test_diagnostics_sub_function_is_typed() -> None:
    msg = decode_request_pdu(bytes.fromhex("08000A0000"))
    clear = DiagnosticSubFunction.CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER
    assert msg == DiagnosticsRequest(sub_function=clear, data=b"\x00\x00")
    assert decode_request_pdu(bytes.fromhex("0800990000")).sub_function == 0x99  # type: ignore[union-attr]


def test_read_bits_response_keeps_all_bits() -> None:
    # MB-AP 6.1 example: 19 coils, padded to 24.
    msg = decode_response_pdu(bytes.fromhex("0103CD6B05"))
    assert isinstance(msg, ReadCoilsResponse) and len(msg.values) == 24
    assert msg.values[:8] == (True, False, True, True, False, False, True, True)
    assert encode_pdu(msg) == bytes.fromhex("0103CD6B05")


def test_write_multiple_coils_padding() -> None:
    # Unused bits of the last byte are ignored on decode, written as zero.
    msg = decode_request_pdu(bytes.fromhex("0F0013000A02CDFF"))
    assert isinstance(msg, WriteMultipleCoilsRequest) and len(msg.values) == 10
    assert encode_pdu(msg) == bytes.fromhex("0F0013000A02CD03")


def test_fifo_response_bounds() -> None:
    with pytest.raises(DecodeError) as info:
        decode_response_pdu(bytes.fromhex("180042 0020".replace(" ", "")) + b"\x00" * 64)
    assert info.value.path == ("pdu", "fifo_count")
    with pytest.raises(DecodeError) as info:
        decode_response_pdu(bytes.fromhex("1800060001AAAA"))
    assert info.value.path == ("pdu", "byte_count")


def test_byte_count_past_the_end_is_truncated_before_allocation() -> None:
    with pytest.raises(TruncatedError):
        decode_response_pdu(bytes.fromhex("03FA0001"))


def test_errors_name_the_codec() -> None:
    rtu = get("modbus-rtu")
    wire = rtu.encode(RtuAdu(address=1, pdu=ReadCoilsRequest(start_address=0, quantity=1)))
    with pytest.raises(DecodeError) as info:
        rtu.decode(wire[:-1] + bytes([wire[-1] ^ 1]))
    assert info.value.protocol == "modbus-rtu"
    with pytest.raises(DecodeError) as info:
        get("modbus-ascii").decode(b":01030000000\r\n")
    assert info.value.protocol == "modbus-ascii"
