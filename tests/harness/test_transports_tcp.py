"""TCP transport against a real loopback server (wireproof.harness.transports.tcp)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from wireproof.errors import HarnessError, TransportError, TransportTimeout
from wireproof.harness.transports import TcpTransport, Transport, open_transport


@dataclass
class Server:
    """A one-connection loopback server: echoes (or just records) what it reads, until EOF."""

    port: int
    echo: bool
    received: list[bytes] = field(default_factory=list)
    accepted: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    peer_error: list[OSError] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"


def serve(listener: socket.socket, server: Server) -> None:
    try:
        conn, _ = listener.accept()
    except OSError:
        server.finished.set()
        return
    server.accepted.set()
    with conn:
        conn.settimeout(10.0)
        try:
            while data := conn.recv(65536):
                server.received.append(data)
                if server.echo:
                    conn.sendall(data)
        except OSError as exc:
            server.peer_error.append(exc)
    server.finished.set()


def start(echo: bool) -> Iterator[Server]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    server = Server(port=listener.getsockname()[1], echo=echo)
    thread = threading.Thread(target=serve, args=(listener, server), daemon=True)
    thread.start()
    yield server
    listener.close()
    thread.join(5.0)


@pytest.fixture
def echo_server() -> Iterator[Server]:
    yield from start(echo=True)


@pytest.fixture
def silent_server() -> Iterator[Server]:
    yield from start(echo=False)


def test_round_trip_with_tap(echo_server: Server) -> None:
    log: list[tuple[str, bytes]] = []
    with open_transport(echo_server.url, timeout=5.0, tap=lambda d, b: log.append((d, b))) as t:
        assert isinstance(t, TcpTransport)
        assert t.url == echo_server.url
        assert t.socket.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        t.send(b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x01")
        assert t.recv_exactly(12) == b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x01"
    assert t.closed
    assert echo_server.finished.wait(5.0)
    assert log[0] == ("sent", b"\x00\x01\x00\x00\x00\x06\x01\x03\x00\x00\x00\x01")
    assert b"".join(b for d, b in log if d == "received") == log[0][1]
    with pytest.raises(TransportError):
        t.send(b"x")


def test_recv_timeout_is_transport_timeout_and_timeout_error(silent_server: Server) -> None:
    with open_transport(silent_server.url, timeout=5.0) as t:
        with pytest.raises(TransportTimeout) as info:
            t.recv(timeout=0.05)
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, OSError)
        assert silent_server.url in str(info.value)
        with pytest.raises(TransportTimeout):
            t.recv(timeout=0)  # a poll


def test_clean_eof_is_empty_bytes(silent_server: Server) -> None:
    with open_transport(silent_server.url) as t:
        assert isinstance(t, TcpTransport)
        assert silent_server.accepted.wait(5.0)
        t.socket.shutdown(socket.SHUT_WR)  # the server sees EOF and closes its side
        assert silent_server.finished.wait(5.0)
        assert t.recv(timeout=5.0) == b""


def test_connection_refused_is_transport_error_and_os_error() -> None:
    # A bound socket that does not listen: connecting to it is refused.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        with pytest.raises(TransportError) as info:
            open_transport(f"tcp://127.0.0.1:{port}", timeout=2.0)
    assert isinstance(info.value, OSError)
    assert not isinstance(info.value, TransportTimeout)
    assert f"tcp://127.0.0.1:{port}" in str(info.value)
    assert info.value.errno is not None


def test_reset_by_peer_is_transport_error() -> None:
    # Our side aborts (RST); a wrapped server-side socket then fails to read.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    with listener:
        client = TcpTransport.connect("127.0.0.1", listener.getsockname()[1])
        conn, _ = listener.accept()
        with TcpTransport(conn) as server_side:
            assert server_side.url.startswith("tcp://127.0.0.1:")
            client.send(b"unread")  # unread data makes close() send RST, as does abort()
            assert server_side.recv(timeout=5.0) == b"unread"
            client.abort()
            assert client.closed
            with pytest.raises(TransportError) as info:
                server_side.recv(timeout=5.0)
    assert not isinstance(info.value, TransportTimeout)


def test_send_segments_delivers_all_bytes_in_order(echo_server: Server) -> None:
    adu = bytes.fromhex("000100000006010300000001")
    with open_transport(echo_server.url) as t:
        assert isinstance(t, TcpTransport)
        t.send_segments([adu[:3], adu[3:7], adu[7:]])  # one ADU over three segments
        t.send_segments([adu + adu])  # two ADUs in one segment
        assert t.recv_exactly(36, timeout=5.0) == adu * 3
    assert echo_server.finished.wait(5.0)
    assert b"".join(echo_server.received) == adu * 3


def test_bad_timeouts_are_harness_errors(silent_server: Server) -> None:
    with open_transport(silent_server.url) as t:
        with pytest.raises(HarnessError):
            t.recv(timeout=-1)
        with pytest.raises(HarnessError):
            t.recv(0)
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(HarnessError) as info:
            open_transport(silent_server.url, timeout=bad)
        assert not isinstance(info.value, TransportError)


def test_transport_is_the_one_interface(echo_server: Server) -> None:
    with open_transport(echo_server.url) as t:
        assert isinstance(t, Transport)
        assert "TcpTransport" in repr(t)
