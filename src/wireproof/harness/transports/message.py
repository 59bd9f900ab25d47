"""The message transport interface: whole messages, never split or merged.

Theory of operation
-------------------
Some targets do not speak a byte stream: a UDP datagram, a CAN frame, a
packet on a message bus each arrive whole or not at all, and the boundary
between two of them is part of the protocol (Modbus/UDP and DNP3 over UDP
put one frame in one datagram, CAN one frame in one message; there is no
byte stream for a framer to resynchronise on). A :class:`MessageTransport`
keeps that boundary:

- ``send(message)`` sends one message, as one unit, or raises. An empty
  message is a message (a zero-length UDP datagram is valid, RFC 768), not a
  no-op as on a stream. A message longer than ``max_message`` (when the
  transport has a limit) is a :class:`~wireproof.errors.TransportError` with
  errno ``EMSGSIZE`` before anything is sent.
- ``recv(timeout)`` returns exactly one whole message, the oldest not yet
  received; it never returns part of one or two joined together. It raises
  :class:`~wireproof.errors.TransportTimeout` (also a ``TimeoutError``) when
  none arrived in time, and :class:`~wireproof.errors.TransportError` (also
  an ``OSError``) on any failure, e.g. ``ECONNREFUSED`` when a UDP peer's
  port is closed (ICMP port unreachable, RFC 1122 4.1.3.3).
- There is no end of file: a datagram peer cannot tell "gone" from "quiet".
  Where the transport does know the peer left (the in-memory pair), ``recv``
  returns what was already queued and then raises TransportError with errno
  ``ECONNRESET``.
- ``timeout``, ``tap``, ``url``, ``closed``, ``close`` and the context manager
  are exactly those of a byte-stream :class:`~wireproof.harness.transports.base.Transport`
  (:class:`~wireproof.harness.transports.base.TransportBase`); the tap sees
  each message once, whole: ``("sent", message)`` and ``("received", message)``.

``kind`` is ``"message"`` (``"stream"`` on a Transport), so a caller handed
either by :func:`~wireproof.harness.transports.registry.open_target` can tell.
"""

from __future__ import annotations

import abc
import errno
from typing import ClassVar

from wireproof.errors import TransportError
from wireproof.harness.transports.base import DEFAULT_TIMEOUT, Tap, TransportBase, TransportKind

__all__ = ["MessageTransport", "message_too_long"]


def message_too_long(url: str, size: int, limit: int) -> TransportError:
    """The error for a ``size``-byte message where at most ``limit`` fit (errno EMSGSIZE)."""
    return TransportError(errno.EMSGSIZE, f"{url}: send failed: a {size}-byte message is longer than "
                                          f"the {limit} bytes one can carry")


class MessageTransport(TransportBase):
    """Whole messages with timeouts (see the module docstring).

    Subclasses implement ``_send``, ``_recv`` and ``_close``; this class does
    the argument checks, the size limit, the default timeout, the tap and the
    closed state. One sending and one receiving thread may use it at once.
    """

    kind: ClassVar[TransportKind] = "message"

    def __init__(self, *, url: str, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None,
                 max_message: int | None = None) -> None:
        super().__init__(url=url, timeout=timeout, tap=tap)
        self.max_message = max_message
        """The longest message ``send`` accepts, in bytes; ``None``: no limit of its own."""

    def send(self, message: bytes, *, timeout: float | None = None) -> None:
        """Send ``message`` as one message (empty included)."""
        self._ensure_open("send")
        payload = bytes(message)
        if self.max_message is not None and len(payload) > self.max_message:
            raise message_too_long(self.url, len(payload), self.max_message)
        self._send(payload, self._resolve(timeout))
        if self.tap is not None:
            self.tap("sent", payload)

    def recv(self, timeout: float | None = None) -> bytes:
        """The next whole message; TransportTimeout if none arrives within ``timeout``."""
        self._ensure_open("recv")
        message = self._recv(self._resolve(timeout))
        if self.tap is not None:
            self.tap("received", message)
        return message

    # -- for subclasses ------------------------------------------------------

    @abc.abstractmethod
    def _send(self, message: bytes, timeout: float) -> None:
        """Send ``message`` as one unit within ``timeout`` seconds."""

    @abc.abstractmethod
    def _recv(self, timeout: float) -> bytes:
        """One whole message; TransportTimeout after ``timeout`` seconds."""
