"""The Modbus reference server over real loopback sockets, the ``wireproof simulate`` command, and a pty."""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.client import Event, ExceptionReceived, ModbusClient, ResponseReceived
from wireproof.codecs.modbus.constants import ExceptionCode
from wireproof.harness.simulators import ServerHandle, running_server

TIMEOUT = 5.0


class Peer:
    """A blocking test client: a socket plus the client machine."""

    def __init__(self, handle: ServerHandle | tuple[str, int], framing: str = "tcp") -> None:
        address = (handle.host, handle.port) if isinstance(handle, ServerHandle) else handle
        self.sock = socket.create_connection(address, timeout=TIMEOUT)
        self.client = ModbusClient(framing, window=8 if framing == "tcp" else 1)  # type: ignore[arg-type]

    def ask(self, pdu: M.Pdu, unit_id: int = 1) -> Event:
        _, data = self.client.request(pdu, unit_id=unit_id, now=0.0)
        self.sock.sendall(data)
        return self.wait()

    def wait(self) -> Event:
        while True:
            data = self.sock.recv(4096)  # socket timeout: a hang fails the test
            assert data, "server closed the connection"
            events = self.client.receive_data(data, now=0.0)
            if events:
                assert len(events) == 1, events
                return events[0]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server() -> Iterator[ServerHandle]:
    with running_server() as handle:
        yield handle


def registers(event: Event) -> tuple[int, ...]:
    assert isinstance(event, ResponseReceived), event
    assert isinstance(event.response, M.ReadHoldingRegistersResponse)
    return event.response.values


def test_handle_is_bound(server: ServerHandle) -> None:
    assert server.host == "127.0.0.1" and server.port > 0
    assert server.url == f"tcp://127.0.0.1:{server.port}"


def test_concurrent_clients(server: ServerHandle) -> None:
    results: dict[int, list[tuple[int, ...]]] = {}
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            peer = Peer(server)
            got = [registers(peer.ask(M.ReadHoldingRegistersRequest(start_address=n * 10 + i, quantity=2)))
                   for i in range(20)]
            results[n] = got
            peer.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 4)
    assert not errors, errors
    for n in range(6):
        assert results[n] == [(n * 10 + i, n * 10 + i + 1) for i in range(20)]


def test_pipelined_requests_on_one_connection(server: ServerHandle) -> None:
    peer = Peer(server)
    data = b"".join(peer.client.request(M.ReadHoldingRegistersRequest(start_address=i, quantity=1),
                                        now=0.0)[1] for i in range(8))
    peer.sock.sendall(data)
    events: list[Event] = []
    while len(events) < 8:
        chunk = peer.sock.recv(4096)
        assert chunk
        events += peer.client.receive_data(chunk, now=0.0)
    assert sorted(registers(e)[0] for e in events) == list(range(8))
    peer.close()


def test_garbage_from_one_client_does_not_disturb_another(server: ServerHandle) -> None:
    good = Peer(server)
    bad = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    half = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    assert registers(good.ask(M.ReadHoldingRegistersRequest(start_address=1, quantity=1))) == (1,)
    half.sendall(bytes.fromhex("0001000000060103"))  # half an ADU ...
    bad.sendall(b"\x00\x01\x00\x00\xff\xff" + b"garbage" * 50)  # MBAP length 65535: cannot be framed
    assert registers(good.ask(M.ReadHoldingRegistersRequest(start_address=2, quantity=1))) == (2,)
    assert bad.recv(100) == b""  # the server closed only the offending connection
    half.close()  # ... and then gone
    bad.close()
    assert registers(good.ask(M.ReadHoldingRegistersRequest(start_address=3, quantity=1))) == (3,)
    good.close()


def test_protocol_id_not_zero_is_dropped_and_connection_kept(server: ServerHandle) -> None:
    peer = Peer(server)
    peer.sock.sendall(bytes.fromhex("1234 0005 0006 01 03 0000 0001".replace(" ", "")))
    assert registers(peer.ask(M.ReadHoldingRegistersRequest(start_address=7, quantity=1))) == (7,)
    peer.close()


def test_unknown_unit_and_write_visible_to_others(server: ServerHandle) -> None:
    a, b = Peer(server), Peer(server)
    event = a.ask(M.ReadHoldingRegistersRequest(start_address=0, quantity=1), unit_id=9)
    assert isinstance(event, ExceptionReceived)
    assert event.exception_code == ExceptionCode.GATEWAY_PATH_UNAVAILABLE
    assert isinstance(a.ask(M.WriteSingleRegisterRequest(address=100, value=0xCAFE), unit_id=255),
                      ResponseReceived)
    assert registers(b.ask(M.ReadHoldingRegistersRequest(start_address=100, quantity=1))) == (0xCAFE,)
    a.close()
    b.close()


@pytest.mark.parametrize("framing", ["rtu", "ascii"])
def test_serial_framing_over_tcp(framing: str) -> None:
    with running_server(framing=framing) as handle:  # type: ignore[arg-type]
        peer = Peer(handle, framing)
        assert registers(peer.ask(M.ReadHoldingRegistersRequest(start_address=5, quantity=2))) == (5, 6)
        peer.close()


def test_stop_with_clients_connected() -> None:
    with running_server() as handle:
        peer = Peer(handle)
        assert registers(peer.ask(M.ReadHoldingRegistersRequest(start_address=0, quantity=1))) == (0,)
        handle.stop()
        assert peer.sock.recv(10) == b""
        peer.close()


# --- the command line ------------------------------------------------------------------------


def readline(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no line from the simulator within {timeout} s")
    return proc.stdout.readline()


def test_wireproof_simulate_subprocess() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wireproof", "simulate", "modbus-server", "--bind", "127.0.0.1:0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = readline(proc, 20.0)
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.strip().rsplit(":", 1)[1])
        assert port > 0
        peer = Peer(("127.0.0.1", port))
        event = peer.ask(M.ReadDeviceIdentificationRequest(read_device_id_code=1, object_id=0))
        assert isinstance(event, ResponseReceived)
        assert isinstance(event.response, M.ReadDeviceIdentificationResponse)
        assert event.response.objects[1] == (1, b"WP-MB-REF")
        peer.close()
        proc.terminate()
        assert proc.wait(TIMEOUT * 2) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        proc.stderr.close()


def test_wireproof_simulate_bad_config() -> None:
    from wireproof.harness.cli import main

    assert main(["simulate", "modbus-server", "--bind", "127.0.0.1:0", "--config", "/nonexistent.toml"]) == 2


# --- RTU over a pseudo-terminal ---------------------------------------------------------------


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals: Linux only")
def test_rtu_over_pty() -> None:
    from wireproof.harness.simulators import running_serial_server
    from wireproof.harness.transports import pty_pair

    with pty_pair(timeout=TIMEOUT) as pair, \
            running_serial_server(pair.path, framing="rtu", parity="N"):
        client = ModbusClient("rtu")
        for start in (3, 40):
            _, data = client.request(M.ReadHoldingRegistersRequest(start_address=start, quantity=2),
                                     unit_id=1, now=0.0)
            pair.master.send(data)
            events: list[Event] = []
            while not events:
                events = client.receive_data(pair.master.recv(256, timeout=TIMEOUT), now=0.0)
            assert [registers(e) for e in events] == [(start, start + 1)]
