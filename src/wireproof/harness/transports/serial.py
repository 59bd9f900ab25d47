"""Serial-line transport over pyserial, and pseudo-terminal pairs for tests.

Modbus RTU and ASCII frame by silence on the line (MB-SL 2.5.1.1: t1.5
between characters, t3.5 between frames), so they are tested over a real
tty: :func:`pty_pair` opens a pseudo-terminal, puts it in raw mode (no echo,
no line editing, no CR/LF translation: every byte passes unchanged) and gives

- ``pair.path``: the slave device (``/dev/pts/N``), which pyserial, the
  reference server (``--serial``) or a Debian tool such as mbpoll opens like
  any serial port (``pair.slave_url()`` for :func:`open_transport`), and
- ``pair.master``: a :class:`Transport` on the master side, the "other end of
  the cable".

A pty has no baud rate: bytes move as fast as the kernel copies them, and the
gaps between chunks are the gaps the writer left (to scheduler resolution).
The pair keeps its own slave descriptor open, so devices can be opened and
closed on the slave path while the master stays usable. Some Linux kernels
refuse to set parity on a pty (``tcsetattr`` fails with EINVAL for PARENB),
so pty URLs default to ``parity=N``; the character format of a pty is only
recorded, never on a wire.

Receiving: :class:`SerialTransport` waits for the first byte, then takes
whatever else is already buffered, so each ``recv`` returns roughly one burst
of characters and :meth:`Transport.recv_timed` sees the gaps between bursts.
A serial line has no end of file: a vanished device is a TransportError.
"""

from __future__ import annotations

import errno
import os
import select
import termios
import time
import tty
from types import TracebackType

import serial

from wireproof.errors import TransportError, TransportTimeout
from wireproof.harness.transports.base import (
    DEFAULT_TIMEOUT,
    SerialSettings,
    Tap,
    Transport,
    check_timeout,
    parse_serial_url,
    transport_error,
)
from wireproof.harness.transports.registry import Scheme

__all__ = ["SERIAL_SCHEME", "PtyMasterTransport", "PtyPair", "SerialTransport", "pty_pair"]

# pyserial lets termios.error (not an OSError) and ValueError escape from port configuration.
_PORT_ERRORS = (serial.SerialException, OSError, termios.error, ValueError)


def _port_error(url: str, op: str, exc: BaseException) -> TransportError:
    if isinstance(exc, termios.error) and exc.args and isinstance(exc.args[0], int):
        exc = OSError(exc.args[0], str(exc.args[-1]))
    err = transport_error(url, op, exc)
    if op == "open" and err.errno == errno.EINVAL and "parity=N" not in url:
        err = TransportError(errno.EINVAL, f"{err.strerror or err} (a pseudo-terminal may refuse parity: "
                                           "try parity=N)")
    return err


class SerialTransport(Transport):
    """A pyserial port as a :class:`Transport`; the transport owns the port."""

    def __init__(self, port: serial.Serial, *, url: str, timeout: float = DEFAULT_TIMEOUT,
                 tap: Tap | None = None) -> None:
        super().__init__(url=url, timeout=timeout, tap=tap)
        self._port = port

    @classmethod
    def open(cls, settings: SerialSettings, *, timeout: float = DEFAULT_TIMEOUT,
             tap: Tap | None = None) -> SerialTransport:
        """Open ``settings.port`` with its character format (TransportError if it cannot)."""
        url = settings.url
        check_timeout(url, timeout)
        try:
            port = serial.serial_for_url(
                settings.port, baudrate=settings.baudrate, parity=settings.parity,
                bytesize=settings.bytesize, stopbits=settings.stopbits,
                timeout=timeout, write_timeout=timeout,
            )
        except _PORT_ERRORS as exc:
            raise _port_error(url, "open", exc) from exc
        return cls(port, url=url, timeout=timeout, tap=tap)

    @property
    def port(self) -> serial.Serial:
        """The underlying pyserial port."""
        return self._port

    def _send(self, data: bytes, timeout: float) -> None:
        try:
            if self._port.write_timeout != timeout:
                self._port.write_timeout = timeout
            self._port.write(data)
            self._port.flush()  # tcdrain: the bytes have left when send returns
        except serial.SerialTimeoutException as exc:
            raise TransportTimeout(f"{self.url}: send timed out after {timeout} s") from exc
        except _PORT_ERRORS as exc:
            raise _port_error(self.url, "send", exc) from exc

    def _recv(self, max_bytes: int, timeout: float) -> bytes:
        try:
            if self._port.timeout != timeout:  # pyserial reprograms the tty on every change
                self._port.timeout = timeout
            first = self._port.read(1)
            if not first:
                raise TransportTimeout(f"{self.url}: recv timed out after {timeout} s")
            waiting = min(self._port.in_waiting, max_bytes - 1)
            return first + (self._port.read(waiting) if waiting else b"")
        except _PORT_ERRORS as exc:
            raise _port_error(self.url, "recv", exc) from exc

    def _close(self) -> None:
        try:
            self._port.close()
        except _PORT_ERRORS as exc:
            raise _port_error(self.url, "close", exc) from exc


class PtyMasterTransport(Transport):
    """The master side of a pseudo-terminal (a raw file descriptor) as a :class:`Transport`.

    ``recv`` returns ``b""`` when the slave side hung up (every slave
    descriptor closed; Linux reports EIO), the pty's end of file.
    """

    def __init__(self, fd: int, *, url: str, timeout: float = DEFAULT_TIMEOUT,
                 tap: Tap | None = None) -> None:
        super().__init__(url=url, timeout=timeout, tap=tap)
        self._fd = fd

    def _send(self, data: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        try:
            while view:
                _, ready, _ = select.select([], [self._fd], [], max(0.0, deadline - time.monotonic()))
                if not ready:
                    raise TransportTimeout(f"{self.url}: send timed out after {timeout} s")
                view = view[os.write(self._fd, view):]
        except TransportError:
            raise
        except OSError as exc:
            raise transport_error(self.url, "send", exc) from exc

    def _recv(self, max_bytes: int, timeout: float) -> bytes:
        try:
            ready, _, _ = select.select([self._fd], [], [], timeout)
            if not ready:
                raise TransportTimeout(f"{self.url}: recv timed out after {timeout} s")
            return os.read(self._fd, max_bytes)
        except TransportError:
            raise
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise transport_error(self.url, "recv", exc) from exc

    def _close(self) -> None:
        os.close(self._fd)


class PtyPair:
    """A raw pseudo-terminal: ``path`` (slave device) and ``master`` (a Transport)."""

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> None:
        master_fd, slave_fd = os.openpty()
        try:
            tty.setraw(slave_fd, termios.TCSANOW)
            self.path: str = os.ttyname(slave_fd)
        except BaseException:
            os.close(master_fd)
            os.close(slave_fd)
            raise
        self._slave_fd: int | None = slave_fd
        self.master = PtyMasterTransport(master_fd, url=f"pty-master://{self.path}", timeout=timeout, tap=tap)

    def slave_url(self, *, baudrate: int = 19200, parity: str = "N", bytesize: int = 8,
                  stopbits: float = 1) -> str:
        """A ``serial://`` URL for the slave device (the format is only recorded: a pty has no line)."""
        stop = 1.5 if stopbits == 1.5 else int(stopbits)
        return f"serial://{self.path}?baudrate={baudrate}&parity={parity}&bytesize={bytesize}&stopbits={stop}"

    def open_slave(self, *, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> SerialTransport:
        """Open the slave device through pyserial (the caller closes it)."""
        return SerialTransport.open(SerialSettings(port=self.path, parity="N"), timeout=timeout, tap=tap)

    def close(self) -> None:
        """Close the master transport and the pair's slave descriptor; idempotent."""
        self.master.close()
        if self._slave_fd is not None:
            fd, self._slave_fd = self._slave_fd, None
            os.close(fd)

    def __enter__(self) -> PtyPair:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PtyPair {self.path}>"


def pty_pair(*, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> PtyPair:
    """Open a raw pseudo-terminal pair; use it as a context manager (``with pty_pair() as pair:``).

    ``timeout`` and ``tap`` apply to ``pair.master``.
    """
    return PtyPair(timeout=timeout, tap=tap)


def _open(target: SerialSettings, timeout: float, tap: Tap | None) -> SerialTransport:
    return SerialTransport.open(target, timeout=timeout, tap=tap)


SERIAL_SCHEME = Scheme(name="serial", kind="stream", parse=parse_serial_url, open=_open)
"""``serial://PATH?baudrate=...``: a byte stream over pyserial (:meth:`SerialTransport.open`)."""
