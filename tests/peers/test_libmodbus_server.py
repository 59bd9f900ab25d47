"""The libmodbus peer server itself (tests/peers/libmodbus_server.py): what the suite relies on.

It must serve several connections at once, survive a peer that sends an ADU
libmodbus cannot frame, and exit cleanly on SIGTERM even while a connection
holds half an ADU (libmodbus blocks in ``modbus_receive`` until the rest comes).
"""

from __future__ import annotations

import socket
import struct

import pytest
from tests.peers.libmodbus_server import LibmodbusPeer

pytestmark = pytest.mark.peer

TIMEOUT = 5.0


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def _read_holding(sock: socket.socket, tid: int, unit: int = 1) -> bytes:
    sock.sendall(struct.pack(">HHHBBHH", tid, 0, 6, unit, 0x03, 0, 1))
    return sock.recv(260)


def test_serves_connections_at_once(libmodbus_server: LibmodbusPeer) -> None:
    url = libmodbus_server.url
    with _connect(url) as a, _connect(url) as b:
        assert _read_holding(a, 1) == bytes.fromhex("0001 0000 0005 01 03 02 0000")
        assert _read_holding(b, 2, unit=7) == bytes.fromhex("0002 0000 0005 07 03 02 0000")
        assert _read_holding(a, 3) == bytes.fromhex("0003 0000 0005 01 03 02 0000")


def test_unframeable_adu_closes_only_its_connection(libmodbus_server: LibmodbusPeer) -> None:
    url = libmodbus_server.url
    with _connect(url) as good, _connect(url) as bad:
        # FC 16 with byte count 255: 7 + 6 + 255 > 260, modbus_receive fails (EMBBADDATA).
        bad.sendall(struct.pack(">HHHBBHHB", 9, 0, 7 + 255, 1, 0x10, 0, 127, 255) + bytes(255))
        try:
            rest = bad.recv(260)
        except ConnectionResetError:  # closed with our bytes unread: the kernel may send a reset
            rest = b""
        assert rest == b"", "libmodbus should have closed the connection"
        assert _read_holding(good, 4) == bytes.fromhex("0004 0000 0005 01 03 02 0000")


def test_sigterm_with_half_an_adu_pending(libmodbus_server: LibmodbusPeer) -> None:
    peer = libmodbus_server
    with _connect(peer.url) as sock:
        assert _read_holding(sock, 1)  # the server is inside the loop, serving this socket
        sock.sendall(bytes.fromhex("0005 0000 0006 01 03"))  # modbus_receive now blocks for the rest
        peer.process.terminate()
        assert peer.process.wait(timeout=TIMEOUT) == 0
