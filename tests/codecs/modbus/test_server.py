"""The Modbus server machine: every function code, every exception path (MB-AP 4.4 figure 9, 6.x, 7)."""

from __future__ import annotations

import struct
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import AsciiCodec, RtuCodec, TcpCodec
from wireproof.codecs.modbus.constants import DiagnosticSubFunction as D
from wireproof.codecs.modbus.constants import ExceptionCode as E
from wireproof.codecs.modbus.datamodel import DataModel
from wireproof.codecs.modbus.pdu import encode_pdu
from wireproof.codecs.modbus.server import ModbusServer
from wireproof.errors import FixtureError
from wireproof.harness.simulators.modbus_server import load_datamodel

DEFAULT = Path(str(resources.files("wireproof.fixtures") / "modbus" / "server-default.toml"))


def model() -> DataModel:
    return load_datamodel(DEFAULT)


@pytest.fixture
def server() -> ModbusServer:
    return ModbusServer(model(), framing="tcp")


def exc(fc: int, code: E) -> M.ExceptionResponse:
    return M.ExceptionResponse(function_code=fc, exception_code=code)


def ask(server: ModbusServer, hex_pdu: str, unit: int = 1) -> M.Pdu | None:
    return server.handle_pdu(unit, bytes.fromhex(hex_pdu.replace(" ", "")))


# --- the data model -----------------------------------------------------------------------


def test_default_model_is_recognisable() -> None:
    m = model()
    unit = m.unit(1)
    assert unit is not None and m.unit(255) is unit  # MB-TCP 4.4.1.2: 0xFF reaches unit 1
    assert unit.coils.read(0, 4) == [False, True, False, True]
    assert unit.discrete_inputs.read(0, 4) == [True, False, False, True]
    assert unit.holding_registers.read(1998, 2) == [1998, 1999]
    assert unit.input_registers.read(0, 2) == [0x8000, 0x8001]
    assert unit.device_identification[0] == b"wireproof"
    assert unit.device_identification[1] == b"WP-MB-REF"
    assert unit.device_identification[2] == b"0.1"
    assert unit.holding_registers.read(1999, 2) is None


@pytest.mark.parametrize("text", [
    "not toml [",
    "x = 1",
    "[[unit]]\nid = 300",
    "[[unit]]\nid = 1\n[[unit]]\nid = 1",
    "[[unit]]\nid = 1\nbogus = 2",
    "[[unit]]\nid = 1\n[[unit.holding_registers]]\nstart = 0\ncount = 10\n"
    "[[unit.holding_registers]]\nstart = 5\ncount = 10",
    "[[unit]]\nid = 1\n[[unit.holding_registers]]\nstart = 65530\ncount = 10",
    "[[unit]]\nid = 1\n[[unit.holding_registers]]\nvalues = [70000]",
    "[[unit]]\nid = 1\n[unit.device_identification]\nVendorName = \"x\"",
    "[[unit]]\nid = 1\n[unit.device_identification]\n\"0x10\" = \"reserved\"",
    "[[unit]]\nid = 1\n[[unit.file]]\nnumber = 0\ncount = 1",
    "[[unit]]\nid = 1\n[unit.server_id]\nid = \"zz\"",
])
def test_bad_model_is_fixture_error(text: str) -> None:
    with pytest.raises(FixtureError):
        DataModel.from_toml(text)


def test_missing_file_is_fixture_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError):
        load_datamodel(tmp_path / "absent.toml")


# --- normal responses, one per function code -----------------------------------------------


def test_read_coils_and_discrete_inputs(server: ModbusServer) -> None:
    assert ask(server, "01 0000 000A") == M.ReadCoilsResponse(values=(False, True) * 5 + (False,) * 6)
    assert ask(server, "02 0000 0003") == M.ReadDiscreteInputsResponse(values=(True,) + (False,) * 7)


def test_read_registers(server: ModbusServer) -> None:
    assert ask(server, "03 006B 0003") == M.ReadHoldingRegistersResponse(values=(107, 108, 109))
    assert ask(server, "04 0008 0001") == M.ReadInputRegistersResponse(values=(0x8008,))


def test_write_single_coil_and_register(server: ModbusServer) -> None:
    assert ask(server, "05 00AC FF00") == M.WriteSingleCoilResponse(address=0xAC, value=0xFF00)
    assert ask(server, "01 00AC 0001") == M.ReadCoilsResponse(values=(True,) + (False,) * 7)
    assert ask(server, "05 00AD 0000") == M.WriteSingleCoilResponse(address=0xAD, value=0)
    assert ask(server, "06 0001 0003") == M.WriteSingleRegisterResponse(address=1, value=3)
    assert ask(server, "03 0001 0001") == M.ReadHoldingRegistersResponse(values=(3,))


def test_write_multiple(server: ModbusServer) -> None:
    # MB-AP 6.11 example: 10 coils from 19, bits CD 01.
    assert ask(server, "0F 0013 000A 02 CD01") == M.WriteMultipleCoilsResponse(start_address=0x13,
                                                                                quantity=10)
    read = ask(server, "01 0013 000A")
    assert isinstance(read, M.ReadCoilsResponse)
    assert read.values[:10] == (True, False, True, True, False, False, True, True, True, False)
    assert ask(server, "10 0001 0002 04 000A 0102") == M.WriteMultipleRegistersResponse(
        start_address=1, quantity=2)
    assert ask(server, "03 0001 0002") == M.ReadHoldingRegistersResponse(values=(0x000A, 0x0102))


def test_mask_write_register_spec_example(server: ModbusServer) -> None:
    ask(server, "06 0004 0012")
    assert ask(server, "16 0004 00F2 0025") == M.MaskWriteRegisterResponse(address=4, and_mask=0xF2,
                                                                          or_mask=0x25)
    assert ask(server, "03 0004 0001") == M.ReadHoldingRegistersResponse(values=(0x17,))  # MB-AP 6.16


def test_read_write_multiple_writes_first(server: ModbusServer) -> None:
    resp = ask(server, "17 0003 0002 0004 0001 02 ABCD")
    assert resp == M.ReadWriteMultipleRegistersResponse(values=(3, 0xABCD))


def test_read_exception_status_and_report_server_id(server: ModbusServer) -> None:
    assert ask(server, "07") == M.ReadExceptionStatusResponse(status=0x5A)
    assert ask(server, "11") == M.ReportServerIdResponse(data=b"WP\xffwireproof reference server")


def test_fifo(server: ModbusServer) -> None:
    assert ask(server, "18 0400") == M.ReadFifoQueueResponse(values=(0x101, 0x102, 0x103, 0x104, 0x105))
    assert ask(server, "18 0401") == exc(0x18, E.ILLEGAL_DATA_VALUE)  # 32 queued > 31 (MB-AP 6.18)
    assert ask(server, "18 0402") == exc(0x18, E.ILLEGAL_DATA_ADDRESS)


def test_file_records(server: ModbusServer) -> None:
    req = M.ReadFileRecordRequest(records=(M.FileSubRequest(file_number=1, record_number=2, record_length=2),
                                           M.FileSubRequest(file_number=2, record_number=9, record_length=1)))
    assert server.handle_pdu(1, req) == M.ReadFileRecordResponse(records=((0x1002, 0x1003), (0x2009,)))
    write = M.WriteFileRecordRequest(records=(M.FileRecord(file_number=1, record_number=2, values=(7, 8)),))
    assert server.handle_pdu(1, encode_pdu(write)) == M.WriteFileRecordResponse(records=write.records)
    assert server.handle_pdu(1, req) == M.ReadFileRecordResponse(records=((7, 8), (0x2009,)))


@pytest.mark.parametrize("file_number,record,length,code", [
    (3, 0, 1, E.ILLEGAL_DATA_ADDRESS),      # no such file
    (1, 99, 2, E.ILLEGAL_DATA_ADDRESS),     # runs past the file's records
    (1, 9999, 2, E.ILLEGAL_DATA_ADDRESS),   # past record 9999 (MB-AP 6.14)
    (1, 0, 0, E.ILLEGAL_DATA_VALUE),        # zero registers
    (1, 0, 125, E.ILLEGAL_DATA_VALUE),      # the response would not fit a PDU
])
def test_file_record_exceptions(server: ModbusServer, file_number: int, record: int, length: int,
                                code: E) -> None:
    req = M.ReadFileRecordRequest(records=(M.FileSubRequest(file_number=file_number, record_number=record,
                                                            record_length=length),))
    assert server.handle_pdu(1, encode_pdu(req, False)) == exc(0x14, code)
    write = M.WriteFileRecordRequest(records=(M.FileRecord(file_number=3, record_number=0, values=(1,)),))
    assert server.handle_pdu(1, write) == exc(0x15, E.ILLEGAL_DATA_ADDRESS)


# --- exceptions in figure 9 order ----------------------------------------------------------


@pytest.mark.parametrize("pdu,expected", [
    ("09", exc(0x09, E.ILLEGAL_FUNCTION)),
    ("00", exc(0x00, E.ILLEGAL_FUNCTION)),
    ("41 0000", exc(0x41, E.ILLEGAL_FUNCTION)),
    ("83 02", exc(0x03, E.ILLEGAL_FUNCTION)),              # an exception is no request
    ("2B 0D 0102", exc(0x2B, E.ILLEGAL_FUNCTION)),         # CANopen General Reference not served
    ("2B 99", exc(0x2B, E.ILLEGAL_FUNCTION)),              # unknown MEI type
    ("03 0000 0000", exc(0x03, E.ILLEGAL_DATA_VALUE)),     # quantity 0
    ("03 0000 007E", exc(0x03, E.ILLEGAL_DATA_VALUE)),     # quantity 126 > 125
    ("01 0000 07D1", exc(0x01, E.ILLEGAL_DATA_VALUE)),     # 2001 coils
    ("05 0000 1234", exc(0x05, E.ILLEGAL_DATA_VALUE)),     # MB-AP 6.5: 0x0000 or 0xFF00 only
    ("10 0000 0002 03 000102", exc(0x10, E.ILLEGAL_DATA_VALUE)),  # byte count != 2N
    ("03 00", exc(0x03, E.ILLEGAL_DATA_VALUE)),            # truncated PDU
    ("2B 0E 05 00", exc(0x2B, E.ILLEGAL_DATA_VALUE)),      # read device id code 5
    ("03 FFFF 0002", exc(0x03, E.ILLEGAL_DATA_ADDRESS)),   # start + quantity > 65536
    ("03 07CF 0002", exc(0x03, E.ILLEGAL_DATA_ADDRESS)),   # 1999..2000: past the model
    ("04 07D0 0001", exc(0x04, E.ILLEGAL_DATA_ADDRESS)),
    ("02 4E20 0001", exc(0x02, E.ILLEGAL_DATA_ADDRESS)),
    ("06 1388 0001", exc(0x06, E.ILLEGAL_DATA_ADDRESS)),
    ("05 1388 FF00", exc(0x05, E.ILLEGAL_DATA_ADDRESS)),
    ("0F 07CF 0002 01 03", exc(0x0F, E.ILLEGAL_DATA_ADDRESS)),
    ("16 1388 FFFF 0000", exc(0x16, E.ILLEGAL_DATA_ADDRESS)),
    ("17 0000 0001 07D0 0001 02 0000", exc(0x17, E.ILLEGAL_DATA_ADDRESS)),
    ("17 FFFF 0002 0000 0001 02 0000", exc(0x17, E.ILLEGAL_DATA_ADDRESS)),
])
def test_exception_paths(server: ModbusServer, pdu: str, expected: M.ExceptionResponse) -> None:
    assert ask(server, pdu) == expected


def test_failed_rw_changes_nothing(server: ModbusServer) -> None:
    ask(server, "17 07D0 0001 0000 0001 02 ABCD")
    assert ask(server, "03 0000 0001") == M.ReadHoldingRegistersResponse(values=(0,))


def test_server_device_failure() -> None:
    m = model()
    unit = m.unit(1)
    assert unit is not None
    unit.holding_registers.blocks[0].values[0] = 0x10000  # a value no register can hold
    assert ModbusServer(m).handle_pdu(1, bytes.fromhex("0300000001")) == exc(3, E.SERVER_DEVICE_FAILURE)


def test_decoded_message_with_bad_coil_value(server: ModbusServer) -> None:
    assert server.handle_pdu(1, M.WriteSingleCoilRequest(address=0, value=1)) == exc(5, E.ILLEGAL_DATA_VALUE)


# --- unit ids and broadcast ------------------------------------------------------------------


def test_tcp_unknown_unit_gets_gateway_path_unavailable(server: ModbusServer) -> None:
    assert ask(server, "03 0000 0001", unit=7) == exc(3, E.GATEWAY_PATH_UNAVAILABLE)
    assert ask(server, "03 0000 0001", unit=0) == exc(3, E.GATEWAY_PATH_UNAVAILABLE)  # not broadcast on TCP
    assert ask(server, "03 0000 0001", unit=255) == M.ReadHoldingRegistersResponse(values=(0,))


def test_unknown_unit_policies() -> None:
    assert ModbusServer(model(), unknown_unit="drop").handle_pdu(7, b"\x07") is None
    assert ModbusServer(model(), unknown_unit="default").handle_pdu(7, b"\x07") == \
        M.ReadExceptionStatusResponse(status=0x5A)
    assert ModbusServer(model(), framing="rtu").handle_pdu(7, b"\x07") is None


@pytest.mark.parametrize("framing", ["rtu", "ascii"])
def test_serial_broadcast_is_executed_without_reply(framing: str) -> None:
    server = ModbusServer(model(), framing=framing)  # type: ignore[arg-type]
    assert server.handle_pdu(0, bytes.fromhex("06 0002 BEEF")) is None
    read = server.handle_pdu(1, bytes.fromhex("03 0002 0001"))
    assert read == M.ReadHoldingRegistersResponse(values=(0xBEEF,))
    no_response = server.handle_pdu(1, M.DiagnosticsRequest(sub_function=D.RETURN_SERVER_NO_RESPONSE_COUNT,
                                                            data=b"\0\0"))
    assert no_response == M.DiagnosticsResponse(sub_function=D.RETURN_SERVER_NO_RESPONSE_COUNT, data=b"\0\1")


# --- device identification (MB-AP 6.21) ------------------------------------------------------


def ids(resp: M.Pdu | None) -> list[int]:
    assert isinstance(resp, M.ReadDeviceIdentificationResponse)
    return [oid for oid, _ in resp.objects]


def test_device_id_categories(server: ModbusServer) -> None:
    basic = ask(server, "2B 0E 01 00")
    assert ids(basic) == [0, 1, 2]
    assert isinstance(basic, M.ReadDeviceIdentificationResponse)
    assert basic.conformity_level == 0x83 and not basic.more_follows
    assert basic.objects[0] == (0, b"wireproof")
    assert ids(ask(server, "2B 0E 02 00")) == [0, 1, 2, 3, 4, 5, 6]
    assert ids(ask(server, "2B 0E 03 00")) == [0, 1, 2, 3, 4, 5, 6, 0x80, 0x81]
    assert ids(ask(server, "2B 0E 02 03")) == [3, 4, 5, 6]
    assert ids(ask(server, "2B 0E 01 05")) == [0, 1, 2]  # not in the category: restart at 0
    assert ids(ask(server, "2B 0E 04 81")) == [0x81]
    assert ask(server, "2B 0E 04 90") == exc(0x2B, E.ILLEGAL_DATA_ADDRESS)


def test_device_id_more_follows() -> None:
    long = "x" * 100
    m = DataModel.from_toml(
        "[[unit]]\nid = 1\n[unit.device_identification]\n"
        f'VendorName = "{long}"\nProductCode = "{long}"\nMajorMinorRevision = "{long}"\n')
    server = ModbusServer(m)
    first = server.handle_pdu(1, bytes.fromhex("2B0E0100"))
    assert isinstance(first, M.ReadDeviceIdentificationResponse)
    assert first.more_follows and first.next_object_id == 2 and ids(first) == [0, 1]
    assert first.conformity_level == 0x81
    rest = server.handle_pdu(1, bytes.fromhex("2B0E0102"))
    assert isinstance(rest, M.ReadDeviceIdentificationResponse)
    assert not rest.more_follows and ids(rest) == [2]


def test_device_id_absent_is_illegal_function() -> None:
    server = ModbusServer(DataModel.from_toml("[[unit]]\nid = 1"))
    assert server.handle_pdu(1, bytes.fromhex("2B0E0100")) == exc(0x2B, E.ILLEGAL_FUNCTION)


# --- diagnostics, event counter and log (MB-AP 6.8-6.10, MB-SL 6.1) ------------------------------


def diag(server: ModbusServer, sub: int, data: bytes = b"\0\0") -> M.Pdu | None:
    return server.handle_pdu(1, struct.pack(">BH", 8, sub) + data)


def counter(resp: M.Pdu | None) -> int:
    assert isinstance(resp, M.DiagnosticsResponse)
    return int.from_bytes(resp.data, "big")


def test_diagnostic_counters(server: ModbusServer) -> None:
    assert diag(server, D.RETURN_QUERY_DATA, b"\xa5\x37\x42") == M.DiagnosticsResponse(
        sub_function=D.RETURN_QUERY_DATA, data=b"\xa5\x37\x42")
    ask(server, "03 FFFF 0002")  # one exception
    ask(server, "03 0000 0001", unit=9)  # gateway exception: counted as a bus message
    assert counter(diag(server, D.RETURN_BUS_MESSAGE_COUNT)) == 4
    assert counter(diag(server, D.RETURN_BUS_EXCEPTION_ERROR_COUNT)) == 1
    assert counter(diag(server, D.RETURN_SERVER_MESSAGE_COUNT)) == 5
    assert counter(diag(server, D.RETURN_BUS_COMMUNICATION_ERROR_COUNT)) == 0
    assert counter(diag(server, D.RETURN_DIAGNOSTIC_REGISTER)) == 0
    for sub in (D.RETURN_SERVER_NAK_COUNT, D.RETURN_SERVER_BUSY_COUNT, D.RETURN_BUS_CHARACTER_OVERRUN_COUNT):
        assert counter(diag(server, sub)) == 0
    assert diag(server, D.CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER) is not None
    assert counter(diag(server, D.RETURN_BUS_MESSAGE_COUNT)) == 1
    assert diag(server, D.CLEAR_OVERRUN_COUNTER_AND_FLAG) is not None
    assert diag(server, D.CHANGE_ASCII_INPUT_DELIMITER, b"\x0d\x00") is not None
    assert server.ascii_delimiter == 0x0D


@pytest.mark.parametrize("sub,data,code", [
    (D.RETURN_BUS_MESSAGE_COUNT, b"\x00\x01", E.ILLEGAL_DATA_VALUE),
    (D.RESTART_COMMUNICATIONS_OPTION, b"\x12\x34", E.ILLEGAL_DATA_VALUE),
    (D.CHANGE_ASCII_INPUT_DELIMITER, b"\x0d\x01", E.ILLEGAL_DATA_VALUE),
    (0x15, b"\x00\x00", E.ILLEGAL_FUNCTION),
    (0x99, b"\x00\x00", E.ILLEGAL_FUNCTION),
])
def test_diagnostic_exceptions(server: ModbusServer, sub: int, data: bytes, code: E) -> None:
    assert diag(server, sub, data) == exc(8, code)


def test_listen_only_mode(server: ModbusServer) -> None:
    assert diag(server, D.FORCE_LISTEN_ONLY_MODE) is None
    assert ask(server, "03 0000 0001") is None  # MB-SL 6.1: no response in listen only mode
    assert ask(server, "03 FFFF 0002") is None
    assert diag(server, D.RESTART_COMMUNICATIONS_OPTION) is None  # leaves the mode, no response
    assert not server.listen_only
    assert ask(server, "03 0000 0001") == M.ReadHoldingRegistersResponse(values=(0,))
    assert diag(server, D.RESTART_COMMUNICATIONS_OPTION, b"\xff\x00") == M.DiagnosticsResponse(
        sub_function=D.RESTART_COMMUNICATIONS_OPTION, data=b"\xff\x00")


def test_comm_event_counter_and_log(server: ModbusServer) -> None:
    ask(server, "03 0000 0001")           # success: counted
    ask(server, "03 0000 0000")           # exception: not counted (MB-AP 6.9)
    assert ask(server, "0B") == M.GetCommEventCounterResponse(status=0, event_count=1)
    assert ask(server, "0B") == M.GetCommEventCounterResponse(status=0, event_count=1)
    log = ask(server, "0C")
    assert isinstance(log, M.GetCommEventLogResponse)
    assert log.event_count == 1 and log.message_count == 5
    # Most recent first: receive of this 0C, then the two 0B (send, receive each), the exception...
    assert log.events[0] == 0x80
    assert log.events[1:5] == bytes([0x40, 0x80, 0x40, 0x80])
    assert log.events[5:7] == bytes([0x41, 0x80])  # read exception sent (bit 0)


# --- connections: framing, protocol id, close -----------------------------------------------


def test_tcp_connection_protocol_id_dropped_then_served(server: ModbusServer) -> None:
    conn = server.connection()
    foreign = bytes.fromhex("0001 0001 0006 01 03 0000 0001".replace(" ", ""))
    good = bytes.fromhex("0002 0000 0006 01 03 0000 0001".replace(" ", ""))
    out = conn.receive_data(foreign + good)
    assert not out.close
    assert out.replies == (TcpCodec().encode(M.TcpAdu(transaction_id=2, unit_id=1,
                                                      pdu=M.ReadHoldingRegistersResponse(values=(0,)))),)


def test_tcp_connection_bad_length_closes(server: ModbusServer) -> None:
    conn = server.connection()
    good = bytes.fromhex("000200000006010300000001")
    out = conn.receive_data(good + bytes.fromhex("0003 0000 0400 01".replace(" ", "")))
    assert out.close and len(out.replies) == 1 and out.errors
    assert conn.receive_data(good).close
    assert server.connection().receive_data(good).replies  # another connection is unaffected


def test_tcp_connection_byte_by_byte(server: ModbusServer) -> None:
    conn = server.connection()
    replies: list[bytes] = []
    for b in bytes.fromhex("000700000006010300050002"):
        replies += conn.receive_data(bytes([b])).replies
    assert [TcpCodec().decode_response(r).pdu for r in replies] == [
        M.ReadHoldingRegistersResponse(values=(5, 6))]


def test_rtu_connection_crc_error_counted_and_line_kept() -> None:
    server = ModbusServer(model(), framing="rtu")
    conn = server.connection()
    rtu = RtuCodec()
    good = rtu.encode(M.RtuAdu(address=1, pdu=M.ReadHoldingRegistersRequest(start_address=0, quantity=1)))
    bad = good[:-1] + bytes([good[-1] ^ 0xFF])
    out = conn.receive_data(bad)
    assert not out.close and not out.replies
    # The bad frame and the 3 bytes after it that cannot start one are dropped at once; the
    # last 4 could still begin a frame, until silence ends the garbage (MB-SL 2.5.1.1).
    assert conn.line_idle() == 4
    assert conn.line_idle() == 0
    out = conn.receive_data(good)
    assert [rtu.decode_response(r).pdu for r in out.replies] == [M.ReadHoldingRegistersResponse(values=(0,))]
    assert server.counters.bus_communication_error >= 1
    # Broadcast: executed, not answered.
    write = rtu.encode(M.RtuAdu(address=0, pdu=M.WriteSingleRegisterRequest(address=9, value=0x99)))
    assert conn.receive_data(write).replies == ()
    assert server.datamodel.units[1].holding_registers.read(9, 1) == [0x99]
    # Another device's address: silence.
    other = rtu.encode(M.RtuAdu(address=17, pdu=M.ReadHoldingRegistersRequest(start_address=0, quantity=1)))
    assert conn.receive_data(other).replies == ()


def test_ascii_connection() -> None:
    server = ModbusServer(model(), framing="ascii")
    conn = server.connection()
    codec = AsciiCodec()
    req = codec.encode(M.AsciiAdu(address=1, pdu=M.ReadInputRegistersRequest(start_address=1, quantity=1)))
    out = conn.receive_data(b"garbage" + req)
    got = [codec.decode_response(r).pdu for r in out.replies]
    assert got == [M.ReadInputRegistersResponse(values=(0x8001,))]
    assert out.errors and not out.close


# --- garbage in: the server answers or closes, and keeps serving (issue: "Bad input") ---

_CODECS: dict[str, Any] = {"tcp": TcpCodec(), "rtu": RtuCodec(), "ascii": AsciiCodec()}


@settings(max_examples=150, deadline=None)
@given(framing=st.sampled_from(["tcp", "rtu", "ascii"]),
       chunks=st.lists(st.binary(max_size=80), max_size=6))
def test_garbage_never_escapes_and_other_connections_keep_working(framing: str, chunks: list[bytes]) -> None:
    srv = ModbusServer(load_datamodel(DEFAULT), framing=framing)  # type: ignore[arg-type]
    conn = srv.connection()
    for chunk in chunks:
        if conn.closed:
            break
        out = conn.receive_data(chunk)
        for reply in out.replies:
            _CODECS[framing].decode_response(reply)  # whatever it answers is a valid response ADU
    codec = _CODECS[framing]
    pdu = M.ReadHoldingRegistersRequest(start_address=0, quantity=1)
    adu: M.TcpAdu | M.RtuAdu | M.AsciiAdu = (
        M.TcpAdu(transaction_id=7, unit_id=1, pdu=pdu) if framing == "tcp"
        else M.RtuAdu(address=1, pdu=pdu) if framing == "rtu" else M.AsciiAdu(address=1, pdu=pdu))
    fresh = srv.connection().receive_data(codec.encode(adu))
    assert len(fresh.replies) == 1 and not fresh.close
    assert isinstance(codec.decode_response(fresh.replies[0]).pdu, M.ReadHoldingRegistersResponse)


# --- what a driver's limits read (issue 9): frame budget, buffered and garbage bytes ---------

def test_frame_budget_leaves_the_rest_for_the_next_turn() -> None:
    conn = ModbusServer(model(), framing="tcp").connection()
    codec = TcpCodec()
    wire = b"".join(codec.encode(M.TcpAdu(transaction_id=i, unit_id=1,
                                          pdu=M.ReadHoldingRegistersRequest(start_address=i, quantity=1)))
                    for i in range(5))
    out = conn.receive_data(wire, max_frames=2)
    assert (len(out.replies), out.frames, out.more) == (2, 2, True)
    out = conn.receive_data(b"", max_frames=2)
    assert (len(out.replies), out.frames, out.more) == (2, 2, True)
    out = conn.receive_data(b"", max_frames=2)
    assert (len(out.replies), out.frames, out.more) == (1, 1, False)
    assert [codec.decode_response(r).transaction_id for r in out.replies] == [4]
    assert conn.receive_data(wire[:5]).frames == 0 and conn.buffered == 5 and conn.garbage == 0


@pytest.mark.parametrize("framing", ["rtu", "ascii"])
def test_garbage_counts_discarded_bytes_since_the_last_frame(framing: str) -> None:
    conn = ModbusServer(model(), framing=framing).connection()  # type: ignore[arg-type]
    codec: Any = RtuCodec() if framing == "rtu" else AsciiCodec()
    adu = M.RtuAdu if framing == "rtu" else M.AsciiAdu
    good = codec.encode(adu(address=1, pdu=M.ReadHoldingRegistersRequest(start_address=0, quantity=1)))
    junk = b"\x00\x2e" * 600  # no ':' and no frame start for either framing
    out = conn.receive_data(junk)
    assert out.frames == 0 and conn.garbage + conn.buffered == len(junk) and conn.garbage >= len(junk) - 8
    out = conn.receive_data(good)
    assert out.frames == 1 and len(out.replies) == 1
    assert conn.garbage == 0 and conn.buffered == 0  # a whole frame resets the count


def test_answered_addresses() -> None:
    assert ModbusServer(model(), framing="tcp").answered_addresses() is None
    assert ModbusServer(model(), framing="rtu", unknown_unit="exception").answered_addresses() is None
    served = ModbusServer(model(), framing="rtu").answered_addresses()
    assert served is not None and 0 in served and 1 in served and 17 not in served
