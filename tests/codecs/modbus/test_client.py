"""The Modbus client machine: pairing, pipelining, transaction ids, timeouts and every anomaly event."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import AsciiCodec, RtuCodec, TcpCodec
from wireproof.codecs.modbus.client import (
    DuplicateResponse,
    Event,
    ExceptionReceived,
    LateResponse,
    MalformedResponse,
    MismatchedResponse,
    ModbusClient,
    ResponseReceived,
    Timeout,
    UnexpectedResponse,
)
from wireproof.codecs.modbus.constants import ExceptionCode
from wireproof.codecs.modbus.server import ModbusServer
from wireproof.errors import LocalProtocolError
from wireproof.harness.simulators.modbus_server import load_datamodel

TCP = TcpCodec()
READ3 = M.ReadHoldingRegistersRequest(start_address=0, quantity=3)
REGS3 = M.ReadHoldingRegistersResponse(values=(1, 2, 3))


def tcp_response(tid: int, pdu: M.Pdu, unit: int = 1) -> bytes:
    return TCP.encode(M.TcpAdu(transaction_id=tid, unit_id=unit, pdu=pdu))


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


def test_request_bytes_and_sequential_ids() -> None:
    client = ModbusClient("tcp")
    tid, data = client.request(READ3, unit_id=17, now=0.0)
    assert tid == 1 and data == bytes.fromhex("000100000006110300000003")
    assert client.request(READ3, now=0.0)[0] == 2
    assert client.outstanding == (1, 2)


def test_response_received_with_elapsed() -> None:
    client = ModbusClient()
    tid, _ = client.request(READ3, now=10.0)
    event = only(client.receive_data(tcp_response(tid, REGS3), now=10.25))
    assert event == ResponseReceived(transaction_id=tid, unit_id=1, request=READ3, response=REGS3,
                                     elapsed=0.25)
    assert client.outstanding == ()


def test_exception_received() -> None:
    client = ModbusClient()
    tid, _ = client.request(READ3, now=0.0)
    exc = M.ExceptionResponse(function_code=3, exception_code=ExceptionCode.ILLEGAL_DATA_ADDRESS)
    event = only(client.receive_data(tcp_response(tid, exc), now=1.0))
    assert isinstance(event, ExceptionReceived) and event.exception_code == 2


def test_pipelining_out_of_order() -> None:
    client = ModbusClient(window=3)
    reqs = [M.ReadHoldingRegistersRequest(start_address=i, quantity=1) for i in range(3)]
    tids = [client.request(r, now=0.0)[0] for r in reqs]
    with pytest.raises(LocalProtocolError):
        client.request(READ3, now=0.0)
    data = b"".join(tcp_response(t, M.ReadHoldingRegistersResponse(values=(t,))) for t in reversed(tids))
    events = client.receive_data(data, now=1.0)
    assert [type(e) for e in events] == [ResponseReceived] * 3
    for e in events:
        assert isinstance(e, ResponseReceived)
        assert e.request == reqs[tids.index(e.transaction_id)]
    client.request(READ3, now=1.0)  # room again


def test_byte_by_byte_feeding() -> None:
    client = ModbusClient()
    tid, _ = client.request(READ3, now=0.0)
    events: list[Event] = []
    for b in tcp_response(tid, REGS3):
        events += client.receive_data(bytes([b]), now=0.0)
    assert [type(e) for e in events] == [ResponseReceived]


def test_transaction_id_wraps_and_skips_outstanding() -> None:
    client = ModbusClient(window=8, first_transaction_id=65534)
    assert [client.request(READ3, now=0.0)[0] for _ in range(3)] == [65534, 65535, 0]
    client2 = ModbusClient(window=8, first_transaction_id=5)
    assert client2.request(READ3, now=0.0)[0] == 5
    client2._next_tid = 4  # as if 65535 ids had been used since: 5 is still outstanding
    assert [client2.request(READ3, now=0.0)[0] for _ in range(2)] == [4, 6]


def test_timeout_via_tick_then_late_response() -> None:
    client = ModbusClient(timeout=2.0)
    tid, _ = client.request(READ3, now=100.0)
    other, _ = client.request(READ3, now=101.0, timeout=10.0)
    assert client.next_deadline() == 102.0
    assert client.tick(101.9) == []
    assert client.tick(102.0) == [Timeout(transaction_id=tid, unit_id=1, request=READ3, elapsed=2.0)]
    assert client.tick(103.0) == []
    assert client.outstanding == (other,)
    late = only(client.receive_data(tcp_response(tid, REGS3), now=104.0))
    assert late == LateResponse(transaction_id=tid, unit_id=1, request=READ3, response=REGS3, elapsed=4.0)


def test_duplicate_response() -> None:
    client = ModbusClient()
    tid, _ = client.request(READ3, now=0.0)
    client.receive_data(tcp_response(tid, REGS3), now=0.0)
    dup = only(client.receive_data(tcp_response(tid, REGS3), now=0.0))
    assert dup == DuplicateResponse(transaction_id=tid, unit_id=1, request=READ3, response=REGS3)


def test_unexpected_response() -> None:
    client = ModbusClient()
    event = only(client.receive_data(tcp_response(77, REGS3), now=0.0))
    assert event == UnexpectedResponse(transaction_id=77, unit_id=1, response=REGS3)


@pytest.mark.parametrize("request_pdu,response,unit,why", [
    (READ3, M.ReadInputRegistersResponse(values=(1, 2, 3)), 1, "function code"),
    (READ3, REGS3, 2, "unit id"),
    (READ3, M.ReadHoldingRegistersResponse(values=(1, 2)), 1, "2 registers"),
    (READ3, M.ExceptionResponse(function_code=4, exception_code=2), 1, "function code"),
    (M.ReadCoilsRequest(start_address=0, quantity=9), M.ReadCoilsResponse(values=(True,) * 8), 1, "bits"),
    (M.WriteSingleRegisterRequest(address=1, value=2), M.WriteSingleRegisterResponse(address=1, value=3), 1,
     "echo"),
    (M.WriteSingleCoilRequest(address=1, value=0xFF00), M.WriteSingleCoilResponse(address=2, value=0xFF00), 1,
     "echo"),
    (M.WriteMultipleRegistersRequest(start_address=1, values=(1, 2)),
     M.WriteMultipleRegistersResponse(start_address=1, quantity=3), 1, "quantity"),
    (M.MaskWriteRegisterRequest(address=1, and_mask=2, or_mask=3),
     M.MaskWriteRegisterResponse(address=1, and_mask=2, or_mask=4), 1, "echo"),
    (M.ReadWriteMultipleRegistersRequest(read_start_address=0, read_quantity=2, write_start_address=0,
                                         values=(1,)), M.ReadWriteMultipleRegistersResponse(values=(1,)), 1,
     "read quantity"),
    (M.ReadFileRecordRequest(records=(M.FileSubRequest(file_number=1, record_number=0, record_length=2),)),
     M.ReadFileRecordResponse(records=((1,),)), 1, "record lengths"),
    (M.DiagnosticsRequest(sub_function=0, data=b"\x01\x02"),
     M.DiagnosticsResponse(sub_function=0, data=b"\x01"), 1, "echo"),
    (M.DiagnosticsRequest(sub_function=0x0B, data=b"\0\0"),
     M.DiagnosticsResponse(sub_function=0x0C, data=b"\0\0"), 1, "sub-function"),
    (M.ReadDeviceIdentificationRequest(read_device_id_code=1, object_id=0),
     M.ReadDeviceIdentificationResponse(read_device_id_code=2, conformity_level=0x81, more_follows=False,
                                        next_object_id=0, objects=()), 1, "read device id code"),
])
def test_mismatched_response(request_pdu: M.Pdu, response: M.Pdu, unit: int, why: str) -> None:
    client = ModbusClient()
    tid, _ = client.request(request_pdu, now=0.0)
    event = only(client.receive_data(tcp_response(tid, response, unit), now=0.0))
    assert isinstance(event, MismatchedResponse), event
    assert why in event.reason
    # The transaction is over: a second response is a duplicate.
    again = client.receive_data(tcp_response(tid, response, unit), now=0.0)
    assert isinstance(only(again), DuplicateResponse)


def test_malformed_pdu_keeps_request_outstanding() -> None:
    client = ModbusClient()
    tid, _ = client.request(READ3, now=0.0)
    bad = bytes.fromhex("0001000000040103 0300".replace(" ", ""))  # byte count 3: odd
    event = only(client.receive_data(bad, now=0.0))
    assert isinstance(event, MalformedResponse) and event.transaction_id == tid and event.frame == bad
    assert client.outstanding == (tid,)
    assert isinstance(only(client.receive_data(tcp_response(tid, REGS3), now=0.0)), ResponseReceived)


def test_malformed_stream_is_an_event_not_an_exception() -> None:
    client = ModbusClient()
    client.request(READ3, now=0.0)
    event = only(client.receive_data(bytes.fromhex("0001 0000 0000 0103".replace(" ", "")), now=0.0))
    assert isinstance(event, MalformedResponse) and event.frame == b""  # MBAP length 0: the framer refuses
    foreign = bytes.fromhex("0001 0007 0005 01 03 02 0000".replace(" ", ""))
    event = only(client.receive_data(foreign, now=0.0))
    # protocol id 7: framed by its length, then rejected by the decoder
    assert isinstance(event, MalformedResponse) and event.frame == foreign
    assert event.error.path == ("mbap", "protocol_id")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_events_never_exceptions(data: bytes) -> None:
    for framing in ("tcp", "rtu", "ascii"):
        client = ModbusClient(framing)
        client.request(READ3, now=0.0)
        for event in client.receive_data(data, now=0.0):
            assert isinstance(event, Event)


# --- serial: one outstanding, pairing by order -------------------------------------------------


def rtu_response(pdu: M.Pdu, address: int = 1) -> bytes:
    return RtuCodec().encode(M.RtuAdu(address=address, pdu=pdu))


def test_serial_window_is_one() -> None:
    with pytest.raises(LocalProtocolError) as info:
        ModbusClient("rtu", window=2)
    assert info.value.clause == "MB-SL 2.1"
    client = ModbusClient("rtu")
    client.request(READ3, now=0.0)
    with pytest.raises(LocalProtocolError):
        client.request(READ3, now=0.0)


def test_rtu_pairing_by_order_late_duplicate_unexpected() -> None:
    client = ModbusClient("rtu", timeout=1.0)
    tid, data = client.request(READ3, unit_id=17, now=0.0)
    assert data == bytes.fromhex("110300000003") + data[-2:]
    event = only(client.receive_data(rtu_response(REGS3, 17), now=0.5))
    assert isinstance(event, ResponseReceived) and event.transaction_id == tid
    assert isinstance(only(client.receive_data(rtu_response(REGS3, 17), now=0.6)), DuplicateResponse)
    tid2, _ = client.request(READ3, unit_id=17, now=1.0)
    assert tid2 == tid + 1
    assert [type(e) for e in client.tick(2.0)] == [Timeout]
    assert isinstance(only(client.receive_data(rtu_response(REGS3, 17), now=2.5)), LateResponse)
    client.request(READ3, unit_id=17, now=3.0)
    mismatched = only(client.receive_data(rtu_response(REGS3, 18), now=3.1))
    assert isinstance(mismatched, MismatchedResponse) and "unit id" in mismatched.reason


def test_rtu_broadcast_expects_no_reply() -> None:
    client = ModbusClient("rtu")
    client.request(M.WriteSingleRegisterRequest(address=0, value=1), unit_id=0, now=0.0)
    assert client.outstanding == ()
    reply = rtu_response(M.WriteSingleRegisterResponse(address=0, value=1), 0)
    assert isinstance(only(client.receive_data(reply, now=0.1)), UnexpectedResponse)
    assert isinstance(only(ModbusClient("rtu").receive_data(reply, now=0.1)), UnexpectedResponse)


def test_ascii_round_trip() -> None:
    client = ModbusClient("ascii")
    _, data = client.request(READ3, unit_id=1, now=0.0)
    assert data.startswith(b":010300000003") and data.endswith(b"\r\n")
    reply = AsciiCodec().encode(M.AsciiAdu(address=1, pdu=REGS3))
    assert isinstance(only(client.receive_data(reply, now=0.0)), ResponseReceived)


# --- against the server machine, every function code, every framing ---------------------------

DEFAULT = Path(str(resources.files("wireproof.fixtures") / "modbus" / "server-default.toml"))

EVERY_REQUEST: list[Any] = [
    M.ReadCoilsRequest(start_address=1, quantity=13),
    M.ReadDiscreteInputsRequest(start_address=2, quantity=3),
    M.ReadHoldingRegistersRequest(start_address=3, quantity=4),
    M.ReadInputRegistersRequest(start_address=4, quantity=5),
    M.WriteSingleCoilRequest(address=5, value=0xFF00),
    M.WriteSingleRegisterRequest(address=6, value=0x1234),
    M.ReadExceptionStatusRequest(),
    M.DiagnosticsRequest(sub_function=0, data=b"\x12\x34"),
    M.GetCommEventCounterRequest(),
    M.GetCommEventLogRequest(),
    M.WriteMultipleCoilsRequest(start_address=7, values=(True, False, True)),
    M.WriteMultipleRegistersRequest(start_address=8, values=(1, 2)),
    M.ReportServerIdRequest(),
    M.ReadFileRecordRequest(records=(M.FileSubRequest(file_number=1, record_number=0, record_length=3),)),
    M.WriteFileRecordRequest(records=(M.FileRecord(file_number=1, record_number=0, values=(9,)),)),
    M.MaskWriteRegisterRequest(address=9, and_mask=0xF0F0, or_mask=0x0F0F),
    M.ReadWriteMultipleRegistersRequest(read_start_address=10, read_quantity=2, write_start_address=10,
                                        values=(5,)),
    M.ReadFifoQueueRequest(fifo_pointer_address=0x400),
    M.ReadDeviceIdentificationRequest(read_device_id_code=1, object_id=0),
]


@pytest.mark.parametrize("framing", ["tcp", "rtu", "ascii"])
def test_client_against_server_machine(framing: str) -> None:
    server = ModbusServer(load_datamodel(DEFAULT), framing=framing)  # type: ignore[arg-type]
    conn = server.connection()
    client = ModbusClient(framing)  # type: ignore[arg-type]
    for i, pdu in enumerate(EVERY_REQUEST):
        _, data = client.request(pdu, unit_id=1, now=float(i))
        replies = conn.receive_data(data).replies
        assert len(replies) == 1, pdu
        event = only(client.receive_data(replies[0], now=i + 0.5))
        assert isinstance(event, ResponseReceived), event
        assert event.response.function_code == pdu.function_code
