"""The harness's blocking Modbus client: transactions through the machine, raw ADUs, one framer for both.

Most cases play the device on the other end of an in-memory pair, writing
its bytes before the client reads, so nothing races; the rest talk to the
reference server over loopback TCP.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import RtuCodec, TcpCodec
from wireproof.errors import HarnessError, RemoteProtocolError, TransportError, TransportTimeout
from wireproof.harness.modbus_client import BlockingModbusClient, Framing, PeerDropped
from wireproof.harness.simulators import ServerHandle, running_server
from wireproof.harness.transports import MemoryTransport, memory_pair

CODEC = TcpCodec()
READ_ONE = M.ReadHoldingRegistersRequest(start_address=0, quantity=1)
SHORT = 0.05  # seconds to wait for what must not come


def answer(tid: int, value: int = 7, unit: int = 1) -> bytes:
    return CODEC.encode(M.TcpAdu(transaction_id=tid, unit_id=unit,
                                 pdu=M.ReadHoldingRegistersResponse(values=(value,))))


@pytest.fixture
def pair() -> Iterator[tuple[BlockingModbusClient, MemoryTransport]]:
    ours, device = memory_pair(timeout=2.0)
    client = BlockingModbusClient(ours, timeout=2.0)
    yield client, device
    client.close()
    device.close()


def test_request_and_raw_reads_share_one_framer(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, device = pair
    # The answer to transaction 1 and a second ADU arrive in one chunk: the machine takes
    # the first, the second waits in the framer for a raw read (the device sends nothing more).
    device.send(answer(1, 0x1234) + answer(0x0BAD, 0x5678))
    assert client.request(READ_ONE) == M.ReadHoldingRegistersResponse(values=(0x1234,))
    assert device.recv(timeout=1.0) == CODEC.encode(M.TcpAdu(transaction_id=1, unit_id=1, pdu=READ_ONE))
    assert client.read_frame(timeout=SHORT) == answer(0x0BAD, 0x5678)
    assert client.silence(SHORT) is None
    assert client.strays == []


def test_a_raw_read_leaves_the_rest_to_the_next_transaction(
        pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, device = pair
    device.send(answer(9) + answer(1, 42))
    assert client.read_frame() == answer(9)
    assert client.request(READ_ONE) == M.ReadHoldingRegistersResponse(values=(42,))


def test_raw_bytes_go_out_exactly_as_given(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, device = pair
    wrong = bytes.fromhex("0001 0001 0006 01 03 0000 0001")  # protocol id 1
    device.send(answer(1))
    exchange = client.exchange(wrong)
    assert device.recv(timeout=1.0) == wrong
    assert (exchange.sent, exchange.frame) == (wrong, answer(1))
    assert 0 <= exchange.elapsed < 2.0


def test_frame_arriving_in_pieces_is_read_whole(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, device = pair
    adu = answer(5)
    for piece in (adu[:3], adu[3:7], adu[7:8], adu[8:]):
        device.send(piece)
    assert client.read_frame() == adu
    assert client.unframed == b""


def test_part_of_an_adu_is_no_answer_but_is_kept(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, device = pair
    adu = answer(6)
    device.send(adu[:5])
    partial = re.escape(f"no whole ADU within 0.05 s (5 bytes of one: {adu[:5].hex()})")
    with pytest.raises(TransportTimeout, match=partial):
        client.read_frame(timeout=SHORT)
    assert client.unframed == adu[:5]
    assert client.silence(SHORT) is None
    device.send(adu[5:])
    assert client.read_frame() == adu


def test_no_answer_at_all(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, _ = pair
    with pytest.raises(TransportTimeout, match=r"memory://\d+/a: no whole ADU within 0.05 s$"):
        client.read_frame(timeout=SHORT)
    with pytest.raises(TransportTimeout, match="no response to transaction 1"):
        client.request(READ_ONE, timeout=SHORT)


def test_peer_closing_is_not_a_timeout(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, device = pair
    device.send(answer(3)[:4])
    device.close()
    with pytest.raises(PeerDropped, match=re.escape(
            f"connection closed by the device with no request outstanding, after 4 bytes of an answer "
            f"({answer(3)[:4].hex()}) (while listening for an ADU)")) as info:
        client.silence(1.0)
    assert not isinstance(info.value, TransportTimeout) and not info.value.reset
    with pytest.raises(PeerDropped, match=r"connection closed by the device .* \(while an ADU was awaited\)"):
        client.read_frame()
    with pytest.raises(TransportError) as info:
        client.request(READ_ONE)
    assert not isinstance(info.value, TransportTimeout)


@pytest.mark.parametrize("length", [0, 1, 255, 0xFFFF])
def test_mbap_length_outside_2_to_254_is_the_peers_fault(
        pair: tuple[BlockingModbusClient, MemoryTransport], length: int) -> None:
    client, device = pair
    bad = bytes.fromhex("0001 0000") + length.to_bytes(2, "big") + bytes.fromhex("01 03 02")
    device.send(bad)
    limit = "exceeds the maximum 254" if length > 254 else "is below the minimum 2"
    named = re.escape(f"invalid MBAP header: length {length} {limit}") + ".*" + re.escape(
        f"; at byte offset 4 of {bad.hex()}")
    with pytest.raises(RemoteProtocolError, match=named) as info:
        client.read_frame()
    assert info.value.clause == "MB-TCP 3.1.3"
    assert client.unframed == b""
    device.send(answer(4))  # the framer dropped what it could not frame and goes on
    assert client.read_frame() == answer(4)


def test_unframeable_answer_to_a_transaction(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, device = pair
    device.send(bytes.fromhex("0001 0000 0000 01"))
    with pytest.raises(RemoteProtocolError, match=r"length 0 is below the minimum 2"):
        client.request(READ_ONE)


def test_segments_need_tcp(pair: tuple[BlockingModbusClient, MemoryTransport]) -> None:
    client, _ = pair
    with pytest.raises(HarnessError, match="segment shaping needs a TCP transport"):
        client.send_segments([b"\x00", b"\x01"])


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    with running_server() as handle:
        yield handle


def test_raw_and_machine_on_one_tcp_connection(server: ServerHandle) -> None:
    sent: list[tuple[str, bytes]] = []
    with BlockingModbusClient.connect(server.url, timeout=2.0,
                                      tap=lambda d, data: sent.append((d, data))) as client:
        request = CODEC.encode(M.TcpAdu(transaction_id=0x5301, unit_id=1, pdu=READ_ONE))
        client.send_segments([request[:3], request[3:7], request[7:8], request[8:]])
        frame = client.read_frame()
        assert frame[:2] == b"\x53\x01"
        assert CODEC.decode_response(frame).pdu == M.ReadHoldingRegistersResponse(values=(0,))
        # MB-TCP 3.1.3: a protocol id other than 0 is not answered; the connection goes on.
        client.send(bytes.fromhex("0009 0001 0006 01") + CODEC.encode_pdu(READ_ONE))
        assert client.silence(0.2) is None
        assert client.request(READ_ONE) == M.ReadHoldingRegistersResponse(values=(0,))
    assert [d for d, _ in sent].count("sent") == 6
    assert b"".join(data for d, data in sent if d == "received")[:len(frame)] == frame


@pytest.mark.parametrize("framing", ["rtu", "ascii"])
def test_serial_framings_go_through_their_framer(framing: Framing) -> None:
    with running_server(framing=framing) as handle, \
            BlockingModbusClient.connect(handle.url, framing=framing, timeout=2.0) as client:
        assert client.request(READ_ONE) == M.ReadHoldingRegistersResponse(values=(0,))
        coils = client.request(M.ReadCoilsRequest(start_address=1, quantity=1))
        assert isinstance(coils, M.ReadCoilsResponse) and coils.values[0] is True


def test_rtu_answer_in_pieces() -> None:
    ours, device = memory_pair(timeout=2.0)
    rtu = RtuCodec()
    frame = rtu.encode(M.RtuAdu(address=1, pdu=M.ReadHoldingRegistersResponse(values=(9,))))
    with BlockingModbusClient(ours, framing="rtu", timeout=2.0) as client:
        device.send(frame[:2])
        device.send(frame[2:])
        assert client.request(READ_ONE) == M.ReadHoldingRegistersResponse(values=(9,))
        assert device.recv(timeout=1.0) == rtu.encode(M.RtuAdu(address=1, pdu=READ_ONE))
        client.broadcast(M.WriteSingleRegisterRequest(address=1, value=2))
        assert device.recv(timeout=1.0)[0] == 0
    device.close()
