"""The byte-stream transport interface, the lifecycle every transport shares, and target URLs.

Theory of operation
-------------------
A :class:`Transport` is a synchronous, blocking-with-timeout byte stream. It
knows nothing about frames: ``recv`` returns whatever bytes have arrived (one
byte or many, part of a message or several messages), and the codecs' framers
reassemble. Conformance tests rely on that: a split or merged ADU is just a
different sequence of ``recv`` results.

- ``send(data)`` writes every byte or raises.
- ``recv(max_bytes, timeout)`` blocks until at least one byte has arrived and
  returns 1..max_bytes bytes; returns ``b""`` when the peer closed the stream
  cleanly (end of file; every later call returns ``b""`` again); raises
  :class:`~wireproof.errors.TransportTimeout` (also a ``TimeoutError``) when
  nothing arrived in time, and :class:`~wireproof.errors.TransportError`
  (also an ``OSError``) on a reset peer or any other failure. Error messages
  name the transport's URL.
- ``timeout`` is in seconds; ``None`` means the transport's default
  (``transport.timeout``, set when it was opened); ``0`` polls. There is no
  "wait forever": a harness that can hang is a harness bug.
- ``tap``: an optional ``Callable[[str, bytes], None]`` called with
  ``("sent", data)`` after a successful send and ``("received", data)`` for
  every non-empty receive, so conformance evidence can record the traffic.
  It runs on the calling thread and must not raise.

The URL, the default timeout, the tap, the closed state (any operation on a
closed transport is a TransportError; ``close`` is idempotent) and the context
manager live in :class:`TransportBase`, which the message transports
(:mod:`~wireproof.harness.transports.message`) share, so both kinds behave
alike everywhere but in what ``send`` and ``recv`` carry. Each transport says
which it is in ``kind``: ``"stream"`` or ``"message"``.

Target URLs are parsed and opened by the scheme registry
(:mod:`~wireproof.harness.transports.registry`); the parsed forms of the
built-in stream schemes live here:

- ``tcp://HOST:PORT`` (IPv6 hosts in brackets: ``tcp://[::1]:502``):
  :class:`TcpAddress`;
- ``serial://PATH?baudrate=19200&parity=E&bytesize=8&stopbits=1``, e.g.
  ``serial:///dev/ttyUSB0?baudrate=9600&parity=N&stopbits=2``:
  :class:`SerialSettings`. Missing parameters default to the Modbus serial
  line defaults: 19200 baud, even parity (MB-SL 2.5.1: "the default parity
  mode must be even parity"), 8 data bits, 1 stop bit.

Whose failure a :class:`~wireproof.errors.TransportError` is, for a verdict:
:func:`peer_dropped` (the peer reset or aborted the connection, or refused
our bytes after closing: the peer's doing) and :func:`local_failure` (this
side ran out of descriptors, buffers or memory, or was not permitted: the
harness's doing). A refused or unanswered connect is neither: whether it
means "the target is not there" or "the device stopped accepting" is the
caller's call (``wireproof certify`` probes the target once before any
clause runs, so the first reads as the former).
"""

from __future__ import annotations

import abc
import errno
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, Literal, Protocol, Self
from urllib.parse import SplitResult, parse_qsl

from wireproof.errors import HarnessError, TransportError, TransportTimeout

__all__ = [
    "DEFAULT_TIMEOUT",
    "SerialSettings",
    "Tap",
    "Target",
    "TcpAddress",
    "Transport",
    "TransportBase",
    "TransportKind",
    "check_timeout",
    "local_failure",
    "parse_host_port",
    "peer_dropped",
    "parse_serial_url",
    "transport_error",
]

DEFAULT_TIMEOUT = 5.0

Tap = Callable[[str, bytes], None]
"""Traffic hook: called with ("sent" | "received", data)."""

TransportKind = Literal["stream", "message"]
"""What a transport carries: a byte stream (framers reassemble) or whole messages."""

Parity = Literal["N", "E", "O", "M", "S"]


class Target(Protocol):
    """A parsed target URL: whatever a scheme's parser returns, with its canonical URL."""

    @property
    def url(self) -> str: ...


def transport_error(url: str, op: str, exc: BaseException) -> TransportError:
    """Map a low-level failure of ``op`` on ``url`` to the wireproof error tree.

    Timeouts (``TimeoutError``, and ``BlockingIOError`` from a zero-timeout
    poll) become :class:`TransportTimeout`; every other failure a
    :class:`TransportError` keeping the ``errno`` when there is one.
    """
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, TimeoutError | BlockingIOError):
        return TransportTimeout(f"{url}: {op} timed out")
    if isinstance(exc, OSError) and exc.errno is not None:
        return TransportError(exc.errno, f"{url}: {op} failed: {exc.strerror or exc}")
    return TransportError(f"{url}: {op} failed: {exc}")


_DROPPED: frozenset[int] = frozenset({errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE})
_LOCAL: frozenset[int] = frozenset({
    errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM, errno.EADDRNOTAVAIL, errno.EADDRINUSE,
    errno.EACCES, errno.EPERM, errno.EBADF, errno.ENOTSOCK, errno.EINVAL,
})


def peer_dropped(err: BaseException) -> bool:
    """Whether ``err`` says the peer reset or aborted the connection (its doing, not ours)."""
    return isinstance(err, OSError) and err.errno in _DROPPED


def local_failure(err: BaseException) -> bool:
    """Whether ``err`` is this side's failure: out of descriptors, buffers or memory; not permitted."""
    return isinstance(err, OSError) and err.errno in _LOCAL


def check_timeout(url: str, timeout: float) -> None:
    """:class:`HarnessError` unless ``timeout`` is a usable default (a positive, finite number)."""
    if not (timeout > 0 and math.isfinite(timeout)):
        raise HarnessError(f"{url}: default timeout must be a positive number of seconds: {timeout!r}")


class TransportBase(abc.ABC):
    """What every transport has, whatever it carries (see the module docstring).

    Subclasses implement ``_close`` and their own ``send``/``recv`` on top of
    ``_ensure_open`` and ``_resolve``.
    """

    kind: ClassVar[TransportKind]

    def __init__(self, *, url: str, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> None:
        check_timeout(url, timeout)
        self._url = url
        self.timeout = timeout
        self.tap = tap
        self._closed = False

    @property
    def url(self) -> str:
        """Where this transport goes, as a URL (used in every error message)."""
        return self._url

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the transport; idempotent. A stream's peer sees end of file."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} {self._url}{state}>"

    @abc.abstractmethod
    def _close(self) -> None:
        """Release resources (called once)."""

    def _ensure_open(self, op: str) -> None:
        if self._closed:
            raise TransportError(f"{self._url}: {op} on a closed transport")

    def _resolve(self, timeout: float | None) -> float:
        if timeout is None:
            return self.timeout
        if not timeout >= 0:  # also rejects NaN
            raise HarnessError(f"{self._url}: timeout must be >= 0 seconds, not {timeout!r}")
        return timeout


class Transport(TransportBase):
    """A synchronous byte stream with timeouts (see the module docstring).

    Subclasses implement ``_send``, ``_recv`` and ``_close``; this class does
    the argument checks, the default timeout, the tap and the closed state.
    A transport may be used by one sending and one receiving thread at once.
    """

    kind: ClassVar[TransportKind] = "stream"

    # -- the interface -------------------------------------------------------

    def send(self, data: bytes, *, timeout: float | None = None) -> None:
        """Write all of ``data``; an empty ``data`` is a no-op."""
        self._ensure_open("send")
        payload = bytes(data)
        if not payload:
            return
        self._send(payload, self._resolve(timeout))
        if self.tap is not None:
            self.tap("sent", payload)

    def recv(self, max_bytes: int = 65536, timeout: float | None = None) -> bytes:
        """1..``max_bytes`` bytes as soon as any arrive; ``b""`` on clean EOF."""
        self._ensure_open("recv")
        if max_bytes < 1:
            raise HarnessError(f"{self._url}: recv max_bytes must be >= 1, not {max_bytes}")
        data = self._recv(max_bytes, self._resolve(timeout))
        if data and self.tap is not None:
            self.tap("received", data)
        return data

    def recv_exactly(self, n: int, timeout: float | None = None) -> bytes:
        """Exactly ``n`` bytes, all within ``timeout`` seconds in total.

        Raises :class:`TransportTimeout` if they do not all arrive in time and
        :class:`TransportError` if the peer closes first; bytes received until
        then are consumed (the tap has seen them).
        """
        deadline = time.monotonic() + self._resolve(timeout)
        buf = bytearray()
        while len(buf) < n:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                chunk = self.recv(n - len(buf), remaining)
            except TransportTimeout as exc:
                raise TransportTimeout(f"{self._url}: {len(buf)} of {n} bytes before the timeout") from exc
            if not chunk:
                raise TransportError(f"{self._url}: peer closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def recv_timed(
        self, *, idle: float, timeout: float | None = None, max_bytes: int = 65536
    ) -> list[tuple[float, bytes]]:
        """Chunks with their arrival times (``time.monotonic()``), for gap checks.

        Waits up to ``timeout`` for the first chunk (:class:`TransportTimeout`
        if none), then keeps receiving until ``idle`` seconds pass without a
        byte, the peer closes, or ``timeout`` has elapsed since the call. On a
        serial line the gaps between chunks approximate the line's silent
        intervals (MB-SL 2.5.1.1, t1.5 and t3.5) to the resolution of the OS
        scheduler; an empty list means the peer closed before sending.
        """
        if not (idle > 0 and math.isfinite(idle)):
            raise HarnessError(f"{self._url}: recv_timed idle must be a positive number of seconds")
        deadline = time.monotonic() + self._resolve(timeout)
        chunks: list[tuple[float, bytes]] = []
        chunk = self.recv(max_bytes, max(0.0, deadline - time.monotonic()))
        while chunk:
            chunks.append((time.monotonic(), chunk))
            wait = min(idle, deadline - time.monotonic())
            if wait <= 0:
                break
            try:
                chunk = self.recv(max_bytes, wait)
            except TransportTimeout:
                break
        return chunks

    # -- for subclasses ------------------------------------------------------

    @abc.abstractmethod
    def _send(self, data: bytes, timeout: float) -> None:
        """Write all of non-empty ``data`` within ``timeout`` seconds."""

    @abc.abstractmethod
    def _recv(self, max_bytes: int, timeout: float) -> bytes:
        """1..max_bytes bytes, ``b""`` on clean EOF, TransportTimeout after ``timeout``."""


# -- URLs ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpAddress:
    """A parsed ``tcp://HOST:PORT``."""

    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


@dataclass(frozen=True, slots=True, kw_only=True)
class SerialSettings:
    """A parsed ``serial://PATH?...``: the device and its character format."""

    port: str
    baudrate: int = 19200
    parity: Parity = "E"
    bytesize: int = 8
    stopbits: float = 1

    @property
    def url(self) -> str:
        stop = int(self.stopbits) if self.stopbits != 1.5 else 1.5
        return (f"serial://{self.port}?baudrate={self.baudrate}&parity={self.parity}"
                f"&bytesize={self.bytesize}&stopbits={stop}")

    @property
    def character_time(self) -> float:
        """Seconds one character takes on the line: start bit, data bits,
        parity bit if any, stop bits (MB-SL 2.5.1 counts 11 bits for 8E1)."""
        bits = 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits
        return bits / self.baudrate


def parse_host_port(url: str, parts: SplitResult) -> tuple[str, int]:
    """HOST and PORT of ``SCHEME://HOST:PORT`` (tcp://, udp://); :class:`HarnessError` naming the problem."""
    scheme = parts.scheme
    host = parts.hostname
    try:
        port = parts.port
    except ValueError as exc:
        raise HarnessError(f"{url!r}: bad port: {exc}") from exc
    if not host:
        raise HarnessError(f"{url!r}: {scheme}:// needs a host")
    if port is None:
        raise HarnessError(f"{url!r}: {scheme}:// needs a port ({scheme}://HOST:PORT)")
    if not 0 < port < 65536:
        raise HarnessError(f"{url!r}: port {port} is not in 1..65535")
    if parts.path or parts.query or parts.fragment or parts.username is not None:
        raise HarnessError(f"{url!r}: {scheme}:// takes only HOST:PORT (no user, path, query or fragment)")
    return host, port


_SERIAL_KEYS = {"baudrate", "parity", "bytesize", "stopbits"}


def parse_serial_url(url: str, parts: SplitResult) -> SerialSettings:
    """The device and character format of ``serial://PATH?...``; :class:`HarnessError` naming the problem."""
    path, query = parts.netloc + parts.path, parts.query
    if not path:
        raise HarnessError(f"{url!r}: serial:// needs a device path (serial:///dev/ttyS0)")
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise HarnessError(f"{url!r}: bad query: {exc}") from exc
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in _SERIAL_KEYS:
            raise HarnessError(f"{url!r}: unknown serial parameter {key!r}; known: {sorted(_SERIAL_KEYS)}")
        if key in params:
            raise HarnessError(f"{url!r}: serial parameter {key!r} given twice")
        params[key] = value
    settings = SerialSettings(port=path)
    baudrate, bytesize, stopbits = settings.baudrate, settings.bytesize, settings.stopbits
    parity: str = settings.parity
    if "baudrate" in params:
        if not params["baudrate"].isdigit() or int(params["baudrate"]) <= 0:
            raise HarnessError(f"{url!r}: baudrate must be a positive integer, not {params['baudrate']!r}")
        baudrate = int(params["baudrate"])
    if "parity" in params:
        parity = params["parity"].upper()
        if parity not in ("N", "E", "O", "M", "S"):
            raise HarnessError(f"{url!r}: parity must be one of N, E, O, M, S, not {params['parity']!r}")
    if "bytesize" in params:
        if params["bytesize"] not in ("5", "6", "7", "8"):
            raise HarnessError(f"{url!r}: bytesize must be 5, 6, 7 or 8, not {params['bytesize']!r}")
        bytesize = int(params["bytesize"])
    if "stopbits" in params:
        if params["stopbits"] not in ("1", "1.5", "2"):
            raise HarnessError(f"{url!r}: stopbits must be 1, 1.5 or 2, not {params['stopbits']!r}")
        stopbits = float(params["stopbits"])
    return SerialSettings(port=path, baudrate=baudrate, parity=parity,  # type: ignore[arg-type]
                          bytesize=bytesize, stopbits=stopbits)
