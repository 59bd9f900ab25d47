"""UDP message transport (``udp://HOST:PORT``) and a bound endpoint for the serving side.

A UDP datagram is delivered whole or not at all (RFC 768), so UDP is a
:class:`~wireproof.harness.transports.message.MessageTransport`: one ``send``
is one datagram, one ``recv`` one datagram.

:meth:`UdpTransport.connect` ("open ``udp://HOST:PORT``") makes a *connected*
UDP socket: the kernel binds it to an ephemeral port on the address of the
route to the peer (``127.0.0.1:<ephemeral>`` for a loopback peer), sends
every datagram to the peer, and passes up only datagrams from the peer. If
the peer's port is closed, its ICMP port unreachable turns into
``ECONNREFUSED`` on a later ``recv`` or ``send`` (RFC 1122, 4.1.3.3), which
the transport reports as a TransportError; otherwise a silent peer is a
timeout, as UDP cannot tell gone from quiet. ``UdpTransport(sock)`` wraps any
connected datagram socket the caller built.

A reference device or a test that serves UDP uses :class:`UdpEndpoint`: a
bound, unconnected socket that receives ``(message, peer)`` from anyone and
answers to a given peer, with the same timeouts, tap, errors and closed state.

Sizes: a datagram carries at most 65,507 bytes over IPv4 (the 16-bit IPv4
total length less the 20-byte IPv4 and 8-byte UDP headers) and 65,527 over
IPv6 (the 16-bit payload length less the UDP header, RFC 8200 3; jumbograms
aside). Longer sends are refused with ``EMSGSIZE`` before reaching the
kernel; receives use a buffer of 65,536 bytes and report a truncated
datagram (``MSG_TRUNC``) as an error rather than returning part of it.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import SplitResult

from wireproof.errors import TransportError
from wireproof.harness.transports.base import (
    DEFAULT_TIMEOUT,
    Tap,
    TransportBase,
    TransportKind,
    check_timeout,
    parse_host_port,
    transport_error,
)
from wireproof.harness.transports.message import MessageTransport, message_too_long
from wireproof.harness.transports.registry import Scheme

__all__ = ["UDP_SCHEME", "Peer", "UdpAddress", "UdpEndpoint", "UdpTransport", "max_datagram"]

Peer = tuple[str, int]
"""A UDP peer: (host, port)."""

_RECV_BUFFER = 65536


@dataclass(frozen=True, slots=True, kw_only=True)
class UdpAddress:
    """A parsed ``udp://HOST:PORT``."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"udp://{host}:{self.port}"


def max_datagram(family: int) -> int:
    """The longest UDP payload over ``family`` (module docstring)."""
    return 65527 if family == socket.AF_INET6 else 65507


def _recv_datagram(sock: socket.socket, url: str, op: str) -> tuple[bytes, Peer]:
    data, _, flags, address = sock.recvmsg(_RECV_BUFFER)
    if flags & socket.MSG_TRUNC:
        raise TransportError(errno.EMSGSIZE, f"{url}: {op} failed: a datagram longer than "
                                             f"{_RECV_BUFFER} bytes was truncated")
    peer: Peer = (address[0], address[1]) if address else ("", 0)
    return data, peer


class UdpTransport(MessageTransport):
    """A connected UDP socket as a :class:`MessageTransport`; the transport owns the socket."""

    def __init__(self, sock: socket.socket, *, url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> None:
        if url is None:
            try:
                host, port = sock.getpeername()[:2]
            except OSError:
                host, port = "unconnected", 0
            url = UdpAddress(host=host, port=port).url
        super().__init__(url=url, timeout=timeout, tap=tap, max_message=max_datagram(sock.family))
        self._sock = sock

    @classmethod
    def connect(cls, host: str, port: int, *, timeout: float = DEFAULT_TIMEOUT,
                tap: Tap | None = None) -> UdpTransport:
        """A UDP socket connected to ``host:port`` (no packet is sent: UDP has no handshake)."""
        url = UdpAddress(host=host, port=port).url
        check_timeout(url, timeout)
        return cls(_datagram_socket(host, port, url, "connect"), url=url, timeout=timeout, tap=tap)

    @property
    def socket(self) -> socket.socket:
        """The underlying socket (for socket options a test needs)."""
        return self._sock

    @property
    def local_address(self) -> Peer:
        """Where the peer sees this transport's datagrams come from."""
        host, port = self._sock.getsockname()[:2]
        return host, port

    def _send(self, message: bytes, timeout: float) -> None:
        try:
            self._sock.settimeout(timeout)
            self._sock.send(message)
        except OSError as exc:
            raise transport_error(self.url, "send", exc) from exc

    def _recv(self, timeout: float) -> bytes:
        try:
            self._sock.settimeout(timeout)
            return _recv_datagram(self._sock, self.url, "recv")[0]
        except OSError as exc:
            raise transport_error(self.url, "recv", exc) from exc

    def _close(self) -> None:
        self._sock.close()


def _datagram_socket(host: str, port: int, url: str, op: str) -> socket.socket:
    """A UDP socket for ``host:port``, connected (``op="connect"``) or bound (``"bind"``)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
        try:
            getattr(sock, op)(address)
        except BaseException:
            sock.close()
            raise
    except OSError as exc:
        raise transport_error(url, op, exc) from exc
    return sock


class UdpEndpoint(TransportBase):
    """A bound, unconnected UDP socket: receives from any peer, answers to one.

    Build one with :meth:`bind`, or wrap a bound datagram socket. ``url`` is
    the URL a client opens to reach it. The tap sees each message sent or
    received (not the peer).
    """

    kind: ClassVar[TransportKind] = "message"

    def __init__(self, sock: socket.socket, *, url: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> None:
        if url is None:
            host, port = sock.getsockname()[:2]
            url = UdpAddress(host=host, port=port).url
        super().__init__(url=url, timeout=timeout, tap=tap)
        self._sock = sock
        self.max_message = max_datagram(sock.family)

    @classmethod
    def bind(cls, host: str = "127.0.0.1", port: int = 0, *, timeout: float = DEFAULT_TIMEOUT,
             tap: Tap | None = None) -> UdpEndpoint:
        """Bind a UDP socket to ``host:port`` (port 0: an ephemeral port; see :attr:`address`)."""
        url = UdpAddress(host=host, port=port).url
        check_timeout(url, timeout)
        return cls(_datagram_socket(host, port, url, "bind"), timeout=timeout, tap=tap)

    @property
    def socket(self) -> socket.socket:
        """The underlying socket."""
        return self._sock

    @property
    def address(self) -> Peer:
        """The bound (host, port)."""
        host, port = self._sock.getsockname()[:2]
        return host, port

    def recv_from(self, timeout: float | None = None) -> tuple[bytes, Peer]:
        """The next datagram from any peer, and that peer; TransportTimeout if none in time."""
        self._ensure_open("recv")
        try:
            self._sock.settimeout(self._resolve(timeout))
            message, peer = _recv_datagram(self._sock, self.url, "recv")
        except OSError as exc:
            raise transport_error(self.url, "recv", exc) from exc
        if self.tap is not None:
            self.tap("received", message)
        return message, peer

    def send_to(self, message: bytes, peer: Peer, *, timeout: float | None = None) -> None:
        """Send ``message`` as one datagram to ``peer``."""
        self._ensure_open("send")
        payload = bytes(message)
        if len(payload) > self.max_message:
            raise message_too_long(self.url, len(payload), self.max_message)
        try:
            self._sock.settimeout(self._resolve(timeout))
            self._sock.sendto(payload, peer)
        except OSError as exc:
            raise transport_error(self.url, "send", exc) from exc
        if self.tap is not None:
            self.tap("sent", payload)

    def _close(self) -> None:
        self._sock.close()


def _parse(url: str, parts: SplitResult) -> UdpAddress:
    host, port = parse_host_port(url, parts)
    return UdpAddress(host=host, port=port)


def _open(target: UdpAddress, timeout: float, tap: Tap | None) -> UdpTransport:
    return UdpTransport.connect(target.host, target.port, timeout=timeout, tap=tap)


UDP_SCHEME = Scheme(name="udp", kind="message", parse=_parse, open=_open)
"""``udp://HOST:PORT``: messages, one datagram each, over :meth:`UdpTransport.connect`."""
