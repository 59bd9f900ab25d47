"""Interoperability with pymodbus, an independent Modbus implementation.

Two directions:

- wireproof's client (the sans-I/O machine driven by
  :class:`~wireproof.harness.modbus_client.BlockingModbusClient`) against
  pymodbus's ``ModbusTcpServer``: every function code pymodbus's server
  serves, values checked against its data blocks;
- pymodbus's client against wireproof's reference server: every function
  code pymodbus's client can send, values checked against the reference
  server's data model, exceptions seen by pymodbus as ``isError()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.errors import RemoteProtocolError
from wireproof.harness.modbus_client import BlockingModbusClient

from .conftest import (
    COILS,
    DISCRETE_INPUTS,
    HOLDING_REGISTERS,
    INPUT_REGISTERS,
    UNIT,
    PymodbusServer,
)

pytestmark = pytest.mark.peer
TIMEOUT = 3.0
ILLEGAL_FUNCTION = C.ExceptionCode.ILLEGAL_FUNCTION
ILLEGAL_DATA_ADDRESS = C.ExceptionCode.ILLEGAL_DATA_ADDRESS


# --- wireproof client -> pymodbus server ---------------------------------------------


@pytest.fixture
def wp_client(pymodbus_server: PymodbusServer) -> Iterator[BlockingModbusClient]:
    with BlockingModbusClient.connect(pymodbus_server.url, timeout=TIMEOUT) as client:
        yield client


def _padded(bits: list[bool], quantity: int) -> tuple[bool, ...]:
    """``quantity`` bits and the zero padding to a whole byte (MB-AP 6.1)."""
    return tuple(bits[:quantity]) + (False,) * (-quantity % 8)


def test_wp_reads_bits(wp_client: BlockingModbusClient) -> None:
    resp = wp_client.request(M.ReadCoilsRequest(start_address=3, quantity=19), UNIT)
    assert resp == M.ReadCoilsResponse(values=_padded(COILS[3:], 19))
    resp = wp_client.request(M.ReadDiscreteInputsRequest(start_address=0, quantity=8), UNIT)
    assert resp == M.ReadDiscreteInputsResponse(values=tuple(DISCRETE_INPUTS[:8]))


def test_wp_reads_registers(wp_client: BlockingModbusClient) -> None:
    resp = wp_client.request(M.ReadHoldingRegistersRequest(start_address=5, quantity=10), UNIT)
    assert resp == M.ReadHoldingRegistersResponse(values=tuple(HOLDING_REGISTERS[5:15]))
    resp = wp_client.request(M.ReadInputRegistersRequest(start_address=60, quantity=4), UNIT)
    assert resp == M.ReadInputRegistersResponse(values=tuple(INPUT_REGISTERS[60:64]))


def test_wp_writes_coils(wp_client: BlockingModbusClient, pymodbus_server: PymodbusServer) -> None:
    resp = wp_client.request(M.WriteSingleCoilRequest(address=1, value=C.COIL_ON), UNIT)
    assert resp == M.WriteSingleCoilResponse(address=1, value=C.COIL_ON)
    values = (True, False, True, True, False, False, True, False, True, True)
    resp = wp_client.request(M.WriteMultipleCoilsRequest(start_address=20, values=values), UNIT)
    assert resp == M.WriteMultipleCoilsResponse(start_address=20, quantity=len(values))
    assert pymodbus_server.get_values(1, 0, 3) == [True, True, False]
    assert pymodbus_server.get_values(1, 20, len(values))[:len(values)] == list(values)


def test_wp_writes_registers(wp_client: BlockingModbusClient, pymodbus_server: PymodbusServer) -> None:
    assert wp_client.request(M.WriteSingleRegisterRequest(address=2, value=0xBEEF), UNIT) == \
        M.WriteSingleRegisterResponse(address=2, value=0xBEEF)
    resp = wp_client.request(M.WriteMultipleRegistersRequest(start_address=10, values=(1, 2, 0xFFFF)), UNIT)
    assert resp == M.WriteMultipleRegistersResponse(start_address=10, quantity=3)
    assert pymodbus_server.get_values(3, 2, 1) == [0xBEEF]
    assert pymodbus_server.get_values(3, 10, 3) == [1, 2, 0xFFFF]


def test_wp_mask_write_register(wp_client: BlockingModbusClient, pymodbus_server: PymodbusServer) -> None:
    req = M.MaskWriteRegisterRequest(address=4, and_mask=0x00F2, or_mask=0x0025)
    assert wp_client.request(req, UNIT) == M.MaskWriteRegisterResponse(address=4, and_mask=0x00F2,
                                                                        or_mask=0x0025)
    # MB-AP 6.16: (current AND and_mask) OR (or_mask AND NOT and_mask)
    current = HOLDING_REGISTERS[4]
    assert pymodbus_server.get_values(3, 4, 1) == [(current & 0x00F2) | (0x0025 & ~0x00F2 & 0xFFFF)]


def test_wp_read_write_multiple_registers(wp_client: BlockingModbusClient,
                                          pymodbus_server: PymodbusServer) -> None:
    req = M.ReadWriteMultipleRegistersRequest(read_start_address=30, read_quantity=4, write_start_address=31,
                                              values=(7, 8))
    # MB-AP 6.17: the write happens before the read
    expected = (HOLDING_REGISTERS[30], 7, 8, HOLDING_REGISTERS[33])
    assert wp_client.request(req, UNIT) == M.ReadWriteMultipleRegistersResponse(values=expected)
    assert pymodbus_server.get_values(3, 30, 4) == list(expected)


def test_wp_serial_line_functions(wp_client: BlockingModbusClient) -> None:
    """FC 07, 08, 0B, 0C, 11: pymodbus serves them on TCP too."""
    assert isinstance(wp_client.request(M.ReadExceptionStatusRequest(), UNIT), M.ReadExceptionStatusResponse)
    echo = M.DiagnosticsRequest(sub_function=C.DiagnosticSubFunction.RETURN_QUERY_DATA, data=b"\x12\x34")
    assert wp_client.request(echo, UNIT) == M.DiagnosticsResponse(sub_function=echo.sub_function,
                                                                   data=b"\x12\x34")
    count = M.DiagnosticsRequest(sub_function=C.DiagnosticSubFunction.RETURN_BUS_MESSAGE_COUNT,
                                 data=b"\x00\x00")
    resp = wp_client.request(count, UNIT)
    assert isinstance(resp, M.DiagnosticsResponse) and len(resp.data) == 2
    assert isinstance(wp_client.request(M.GetCommEventCounterRequest(), UNIT), M.GetCommEventCounterResponse)
    assert isinstance(wp_client.request(M.GetCommEventLogRequest(), UNIT), M.GetCommEventLogResponse)
    resp = wp_client.request(M.ReportServerIdRequest(), UNIT)
    assert isinstance(resp, M.ReportServerIdResponse) and resp.data


def test_wp_fifo_and_device_identification(wp_client: BlockingModbusClient) -> None:
    assert isinstance(wp_client.request(M.ReadFifoQueueRequest(fifo_pointer_address=0), UNIT),
                      M.ReadFifoQueueResponse)
    req = M.ReadDeviceIdentificationRequest(read_device_id_code=C.ReadDeviceIdCode.BASIC, object_id=0)
    resp = wp_client.request(req, UNIT)
    assert isinstance(resp, M.ReadDeviceIdentificationResponse)
    assert dict(resp.objects) == {0: b"pymodbus-peer", 1: b"PMP", 2: b"3.16"}


def test_wp_write_file_record(wp_client: BlockingModbusClient) -> None:
    records = (M.FileRecord(file_number=4, record_number=1, values=(5, 6)),)
    assert wp_client.request(M.WriteFileRecordRequest(records=records), UNIT) == \
        M.WriteFileRecordResponse(records=records)


def test_wp_read_file_record_pymodbus_deviation(wp_client: BlockingModbusClient) -> None:
    """pymodbus 3.16 answers every FC 20 sub-request with one fixed 10-register record,
    whatever record length was asked (MB-AP 6.14 wants exactly that many); wireproof's
    client reports the mismatch instead of passing wrong data on."""
    sub = M.FileSubRequest(file_number=4, record_number=1, record_length=2)
    req = M.ReadFileRecordRequest(records=(sub,))
    try:
        resp = wp_client.request(req, UNIT)
    except RemoteProtocolError as err:
        assert "record lengths [10] differ" in str(err)
    else:  # a fixed pymodbus answers correctly
        assert isinstance(resp, M.ReadFileRecordResponse) and len(resp.records[0]) == 2


def test_wp_diagnostics_sub_functions(wp_client: BlockingModbusClient) -> None:
    for sub in (C.DiagnosticSubFunction.RETURN_DIAGNOSTIC_REGISTER,
                C.DiagnosticSubFunction.CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER,
                C.DiagnosticSubFunction.RETURN_SERVER_MESSAGE_COUNT):
        resp = wp_client.request(M.DiagnosticsRequest(sub_function=sub, data=b"\x00\x00"), UNIT)
        assert isinstance(resp, M.DiagnosticsResponse) and resp.sub_function == sub and len(resp.data) == 2


def test_wp_sees_exceptions(wp_client: BlockingModbusClient) -> None:
    resp = wp_client.request(M.ReadHoldingRegistersRequest(start_address=60, quantity=10), UNIT)
    assert resp == M.ExceptionResponse(function_code=0x03, exception_code=ILLEGAL_DATA_ADDRESS)
    resp = wp_client.request(M.WriteSingleRegisterRequest(address=64, value=1), UNIT)
    assert resp == M.ExceptionResponse(function_code=0x06, exception_code=ILLEGAL_DATA_ADDRESS)


def test_wp_unknown_function_code_pymodbus_deviation(wp_client: BlockingModbusClient) -> None:
    """MB-AP 7: the exception function code is the request's plus 0x80 (0xC1 for 0x41).
    pymodbus 3.16 answers an unknown function code with ``80 01`` (0x00 + 0x80);
    wireproof's client reports that as a mismatch."""
    try:
        resp = wp_client.request(M.UnknownPdu(function_code=0x41, data=b""), UNIT)
    except RemoteProtocolError as err:
        assert "function code 0x00 != 0x41" in str(err)
    else:
        assert resp == M.ExceptionResponse(function_code=0x41, exception_code=ILLEGAL_FUNCTION)


# --- pymodbus client -> wireproof reference server -----------------------------------
# Default data model (fixtures/modbus/server-default.toml): coils[a] = a odd,
# discrete_inputs[a] = a % 3 == 0, holding_registers[a] = a, input_registers[a] = 0x8000 + a.


def _unit(reference_server: Any) -> Any:
    return reference_server.server.datamodel.unit(1)


def _ok(resp: Any) -> Any:
    assert not resp.isError(), resp
    return resp


def test_pm_reads(pymodbus_client: Any) -> None:
    assert _ok(pymodbus_client.read_coils(10, count=12, device_id=1)).bits[:12] == \
        [a % 2 == 1 for a in range(10, 22)]
    assert _ok(pymodbus_client.read_discrete_inputs(0, count=9, device_id=1)).bits[:9] == \
        [a % 3 == 0 for a in range(9)]
    assert _ok(pymodbus_client.read_holding_registers(100, count=125, device_id=1)).registers == \
        list(range(100, 225))
    assert _ok(pymodbus_client.read_input_registers(7, count=3, device_id=1)).registers == \
        [0x8007, 0x8008, 0x8009]


def test_pm_writes(pymodbus_client: Any, reference_server: Any) -> None:
    unit = _unit(reference_server)
    _ok(pymodbus_client.write_coil(4, True, device_id=1))
    _ok(pymodbus_client.write_coils(40, [True, True, False, True, False, False, False, False, True],
                                    device_id=1))
    _ok(pymodbus_client.write_register(5, 0xCAFE, device_id=1))
    _ok(pymodbus_client.write_registers(50, [1, 2, 3, 0xFFFF], device_id=1))
    assert unit.coils.read(4, 1) == [True]
    assert unit.coils.read(40, 9) == [True, True, False, True, False, False, False, False, True]
    assert unit.holding_registers.read(5, 1) == [0xCAFE]
    assert unit.holding_registers.read(50, 4) == [1, 2, 3, 0xFFFF]


def test_pm_mask_write_and_read_write(pymodbus_client: Any, reference_server: Any) -> None:
    unit = _unit(reference_server)
    _ok(pymodbus_client.mask_write_register(address=0x12, and_mask=0x00F2, or_mask=0x0025, device_id=1))
    assert unit.holding_registers.read(0x12, 1) == [(0x12 & 0x00F2) | (0x0025 & ~0x00F2 & 0xFFFF)]
    resp = _ok(pymodbus_client.readwrite_registers(read_address=60, read_count=4, write_address=61,
                                                   values=[0xAAAA, 0xBBBB], device_id=1))
    assert resp.registers == [60, 0xAAAA, 0xBBBB, 63]  # MB-AP 6.17: write before read
    assert unit.holding_registers.read(60, 4) == [60, 0xAAAA, 0xBBBB, 63]


def test_pm_file_records(pymodbus_client: Any, reference_server: Any) -> None:
    from pymodbus.pdu.file_message import FileRecord

    # pymodbus's record_length is in bytes (it halves it): 6 bytes = 3 registers.
    resp = _ok(pymodbus_client.read_file_record([FileRecord(file_number=1, record_number=2, record_length=6),
                                                 FileRecord(file_number=2, record_number=0, record_length=4)],
                                                device_id=1))
    assert [r.record_data for r in resp.records] == [bytes.fromhex("100210031004"), bytes.fromhex("20002001")]
    _ok(pymodbus_client.write_file_record([FileRecord(file_number=1, record_number=2,
                                                      record_data=bytes.fromhex("00010002"))], device_id=1))
    assert _unit(reference_server).files[1].read(2, 3) == [1, 2, 0x1004]


def test_pm_fifo_and_identification(pymodbus_client: Any) -> None:
    assert _ok(pymodbus_client.read_fifo_queue(address=0x0400, device_id=1)).values == \
        [0x0101, 0x0102, 0x0103, 0x0104, 0x0105]
    basic = _ok(pymodbus_client.read_device_information(read_code=1, device_id=1))
    assert basic.information == {0: b"wireproof", 1: b"WP-MB-REF", 2: b"0.1"}
    extended = _ok(pymodbus_client.read_device_information(read_code=3, device_id=1))
    assert extended.information[0x80] == b"extended object 0x80"
    single = _ok(pymodbus_client.read_device_information(read_code=4, object_id=4, device_id=1))
    assert single.information == {4: b"wireproof reference Modbus server"}


def test_pm_serial_line_functions(pymodbus_client: Any) -> None:
    assert _ok(pymodbus_client.read_exception_status(device_id=1)).status == 0x5A
    assert _ok(pymodbus_client.diag_query_data(b"\x12\x34", device_id=1)).message == b"\x12\x34"
    _ok(pymodbus_client.diag_clear_counters(device_id=1))
    for name in ("diag_read_diagnostic_register", "diag_read_bus_message_count",
                 "diag_read_bus_comm_error_count", "diag_read_bus_exception_error_count",
                 "diag_read_device_message_count", "diag_read_device_no_response_count",
                 "diag_read_device_nak_count", "diag_read_device_busy_count",
                 "diag_read_bus_char_overrun_count", "diag_clear_overrun_counter"):
        assert isinstance(_ok(getattr(pymodbus_client, name)(device_id=1)).message, int), name
    # MB-SL 6.1 sub-function 03: the new delimiter is the high byte ("CHAR 00").
    _ok(pymodbus_client.diag_change_ascii_input_delimeter(delimiter=0x0D00, device_id=1))
    _ok(pymodbus_client.diag_restart_communication(toggle=False, device_id=1))
    counter = _ok(pymodbus_client.diag_get_comm_event_counter(device_id=1))
    assert counter.status is True and isinstance(counter.count, int)
    log = _ok(pymodbus_client.diag_get_comm_event_log(device_id=1))
    assert isinstance(log.events, list)


def test_pm_report_server_id(pymodbus_client: Any) -> None:
    """MB-AP 6.13 leaves the server id's length device specific; pymodbus 3.16 takes
    the *last* byte as the run indicator, so with additional data after it (as the
    spec lays out) it shows id + run indicator + data minus its last byte."""
    resp = _ok(pymodbus_client.report_device_id(device_id=1))
    wire = b"WP\xffwireproof reference server"
    assert resp.identifier == wire[:-1]


def test_pm_sees_exceptions(pymodbus_client: Any) -> None:
    cases = [
        (pymodbus_client.read_holding_registers(1990, count=20, device_id=1), 0x83, 2),
        (pymodbus_client.read_fifo_queue(address=0x0401, device_id=1), 0x98, 3),  # 32 entries > 31
        (pymodbus_client.diag_read_iop_overrun_count(device_id=1), 0x88, 1),  # 0x13: Modbus Plus only
        (pymodbus_client.diag_getclear_modbus_response(device_id=1), 0x88, 1),  # 0x15: Modbus Plus only
        (pymodbus_client.read_coils(0, count=1, device_id=7), 0x81, 0x0A),  # unit 7: gateway path
        # pymodbus sends its default delimiter 0x0A in the LOW byte (00 0A); MB-SL 6.1 wants CHAR 00.
        (pymodbus_client.diag_change_ascii_input_delimeter(device_id=1), 0x88, 3),
    ]
    for resp, fc, code in cases:
        assert resp.isError(), resp
        assert (resp.function_code, resp.exception_code) == (fc, code), resp
