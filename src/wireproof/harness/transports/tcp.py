"""TCP transport (``tcp://HOST:PORT``).

Modbus/TCP runs over a TCP stream where an ADU may arrive in several segments
and several ADUs in one (MB-TCP 3.1.3, 4.3.2: the receiver must reassemble
using the MBAP length field). :meth:`TcpTransport.send_segments` lets a
conformance test produce both cases on purpose.

Every socket has ``TCP_NODELAY`` set, so a ``send`` is handed to the network
at once rather than held back by Nagle's algorithm to be coalesced with the
next one. TCP still gives no portable guarantee of segment boundaries, and the
receiving application may read two segments in one ``recv``: segment shaping
is best effort, and on loopback it is reliable enough for tests that check
the peer *copes* with splits and merges (the test never depends on the split
happening).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import sys
import time
from collections.abc import Iterable
from urllib.parse import SplitResult

from wireproof.harness.transports.base import (
    DEFAULT_TIMEOUT,
    Tap,
    TcpAddress,
    Transport,
    check_timeout,
    parse_host_port,
    transport_error,
)
from wireproof.harness.transports.registry import Scheme

__all__ = ["TCP_SCHEME", "TcpTransport"]

# How long send_segments waits at most for the peer to acknowledge a chunk.
_BARRIER_LIMIT = 0.2


class TcpTransport(Transport):
    """A connected TCP socket as a :class:`Transport`.

    Build one with :meth:`connect`, or wrap an accepted socket (a server's
    side) with ``TcpTransport(sock)``; the transport owns the socket.
    """

    def __init__(self, sock: socket.socket, *, url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> None:
        if url is None:
            try:
                host, port = sock.getpeername()[:2]
            except OSError:
                host, port = "unconnected", 0
            url = TcpAddress(host=host, port=port).url
        super().__init__(url=url, timeout=timeout, tap=tap)
        self._sock = sock
        with contextlib.suppress(OSError):  # not every stream socket is TCP
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    @classmethod
    def connect(cls, host: str, port: int, *, timeout: float = DEFAULT_TIMEOUT,
                tap: Tap | None = None) -> TcpTransport:
        """Connect within ``timeout`` seconds (TransportError, e.g. refused; TransportTimeout)."""
        url = TcpAddress(host=host, port=port).url
        check_timeout(url, timeout)
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as exc:
            raise transport_error(url, "connect", exc) from exc
        return cls(sock, url=url, timeout=timeout, tap=tap)

    @property
    def socket(self) -> socket.socket:
        """The underlying socket (for socket options a test needs)."""
        return self._sock

    def send_segments(self, chunks: Iterable[bytes], *, gap: float = 0.0,
                      timeout: float | None = None) -> None:
        """Send each chunk as its own TCP segment, best effort (module docstring).

        After each chunk but the last, waits (on Linux, up to 0.2 s) until the
        peer has acknowledged everything sent, then ``gap`` more seconds, so
        the chunks leave as separate segments. To put two ADUs in one segment,
        pass them as one chunk.
        """
        items = [bytes(c) for c in chunks]
        for i, chunk in enumerate(items):
            self.send(chunk, timeout=timeout)
            if i < len(items) - 1:
                self._barrier()
                if gap > 0:
                    time.sleep(gap)  # the gap is the traffic shape asked for, not a wait for an event

    def abort(self) -> None:
        """Close with a reset (RST) instead of an orderly FIN, as a crashed peer would."""
        if not self.closed:
            with contextlib.suppress(OSError):
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close()

    def _barrier(self) -> None:
        if not sys.platform.startswith("linux"):
            return
        import fcntl
        import termios

        deadline = time.monotonic() + _BARRIER_LIMIT
        buf = bytearray(4)
        while time.monotonic() < deadline:
            try:
                # SIOCOUTQ (== TIOCOUTQ): bytes sent but not yet acknowledged.
                fcntl.ioctl(self._sock.fileno(), termios.TIOCOUTQ, buf)
            except OSError:
                return
            if int.from_bytes(buf, sys.byteorder) == 0:
                return
            time.sleep(0.0002)  # the kernel offers no event for "acknowledged"

    def _send(self, data: bytes, timeout: float) -> None:
        try:
            self._sock.settimeout(timeout)
            self._sock.sendall(data)
        except OSError as exc:
            raise transport_error(self.url, "send", exc) from exc

    def _recv(self, max_bytes: int, timeout: float) -> bytes:
        try:
            self._sock.settimeout(timeout)
            return self._sock.recv(max_bytes)
        except OSError as exc:
            raise transport_error(self.url, "recv", exc) from exc

    def _close(self) -> None:
        self._sock.close()


def _parse(url: str, parts: SplitResult) -> TcpAddress:
    host, port = parse_host_port(url, parts)
    return TcpAddress(host=host, port=port)


def _open(target: TcpAddress, timeout: float, tap: Tap | None) -> TcpTransport:
    return TcpTransport.connect(target.host, target.port, timeout=timeout, tap=tap)


TCP_SCHEME = Scheme(name="tcp", kind="stream", parse=_parse, open=_open)
"""``tcp://HOST:PORT``: a byte stream, connected with :meth:`TcpTransport.connect`."""
