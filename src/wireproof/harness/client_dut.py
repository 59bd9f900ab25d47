"""A device under test that is a client: wireproof listens, the device connects (a master, a client).

Theory of operation. Most suites test a server: wireproof connects to the
``--target``. A suite whose descriptor entry says ``device_role="client"``
tests the other side, and the roles turn round:

- :class:`Listener` is one listening TCP socket for the whole run, bound to
  ``--bind HOST:PORT`` (default ``127.0.0.1:0``: a free port). A device
  started by hand is told that address once and reconnects to it for every
  clause (clients reconnect after a close: that is how a clause ends).
- :class:`ClientConnection` is the connection the device opened, as a suite
  uses it (suites do no I/O of their own): ``send``, ``recv(timeout)``,
  ``close``, both addresses, and the clocks a suite times things with.
- :class:`ClientUnderTest` is one clause's session. With a command
  (``--command``, or the suite's ``default_command``: its own reference
  client), :meth:`~ClientUnderTest.connect` starts the command with the
  listener's address substituted (:func:`expand`), then waits for its
  connection; :meth:`~ClientUnderTest.stop` ends the process (SIGTERM, then
  SIGKILL) and keeps the tail of what it printed for the evidence. Without
  a command it only waits for the device to connect.

Every wait is on the socket or the process with a deadline (``select``);
nothing sleeps. A device that does not connect in time is a
:class:`~wireproof.errors.TransportTimeout`: the suite decides whether that
is the device's fault or the run's.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from wireproof.errors import HarnessError, TransportTimeout

__all__ = ["DEFAULT_BIND", "PLACEHOLDERS", "ClientConnection", "ClientUnderTest", "Listener", "expand",
           "parse_bind", "reserve_port"]

DEFAULT_BIND: Final = "127.0.0.1:0"
PLACEHOLDERS: Final = ("{host}", "{port}", "{url}", "{python}")
STOP_TIMEOUT: Final = 5.0
_OUTPUT_KEPT: Final = 8192  # octets of the client's output kept for the evidence


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as (host, port); ``ValueError`` saying what is wrong."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT (port 0..65535; 0 picks a free one)")
    return host, int(port)


def reserve_port(bind: str) -> str:
    """``bind`` with port 0 replaced by a port free now (bound and released), so it can be printed
    before the run starts listening there; other addresses are returned as given."""
    host, port = parse_bind(bind)
    if port:
        return bind
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    return f"[{host}]:{port}" if family == socket.AF_INET6 else f"{host}:{port}"


def expand(command: str, host: str, port: int) -> list[str]:
    """``command`` split like a shell would, with ``{host}``, ``{port}``, ``{url}``
    (``tcp://HOST:PORT``) and ``{python}`` (this interpreter) replaced; other braces are left alone."""
    url = f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"
    values = {"{host}": host, "{port}": str(port), "{url}": url, "{python}": sys.executable}
    try:
        words = shlex.split(command)
    except ValueError as err:
        raise HarnessError(f"--command {command!r}: {err}") from None
    if not words:
        raise HarnessError("--command is empty")
    out = []
    for word in words:
        for key, value in values.items():
            word = word.replace(key, value)
        out.append(word)
    return out


class Listener:
    """One listening TCP socket for the whole run (see the module docstring)."""

    def __init__(self, bind: str = DEFAULT_BIND) -> None:
        try:
            host, port = parse_bind(bind)
        except ValueError as err:
            raise HarnessError(f"--bind {err}") from None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._sock.bind((host, port))
            self._sock.listen(4)
        except OSError as err:
            self._sock.close()
            raise HarnessError(f"cannot listen on {bind}: {err.strerror or err}") from None
        self.host = host
        self.port: int = self._sock.getsockname()[1]

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"tcp://{self.address}"

    def accept(self, timeout: float) -> socket.socket:
        """The next connection within ``timeout`` s, else :class:`TransportTimeout`."""
        with selectors.DefaultSelector() as sel:
            sel.register(self._sock, selectors.EVENT_READ)
            if not sel.select(max(0.0, timeout)):
                raise TransportTimeout(f"no client connected to {self.address} within {timeout:g} s")
        conn, _ = self._sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def drain(self) -> int:
        """Accept and close every connection already queued (a stopped client's last attempts)."""
        n = 0
        while True:
            try:
                conn = self.accept(0.0)
            except (TransportTimeout, OSError):
                return n
            conn.close()
            n += 1

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _address(addr: tuple[object, ...]) -> str:
    host, port = str(addr[0]), addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class ClientConnection:
    """One connection the device under test opened (see the module docstring)."""

    monotonic = staticmethod(time.monotonic)
    wall_clock = staticmethod(time.time)

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        sock.setblocking(False)
        self.local = _address(sock.getsockname())
        self.remote = _address(sock.getpeername())
        self.closed = False

    def send(self, data: bytes) -> bool:
        """Send all of ``data``; False if the connection failed (the device reset or closed it)."""
        try:
            self._sock.setblocking(True)
            self._sock.sendall(data)
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                self._sock.setblocking(False)
        return True

    def recv(self, timeout: float) -> bytes | None:
        """Octets within ``timeout`` s; ``b""`` when the device closed (or reset) the connection;
        None when nothing came."""
        with selectors.DefaultSelector() as sel:
            try:
                sel.register(self._sock, selectors.EVENT_READ)
            except (ValueError, OSError):
                return b""
            if not sel.select(max(0.0, timeout)):
                return None
        try:
            return self._sock.recv(65536)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self._sock.close()


@dataclass
class _Output:
    """What the client process prints (stdout and stderr merged), the last octets kept."""

    data: bytearray = field(default_factory=bytearray)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pump(self, fd: int) -> None:
        while chunk := os.read(fd, 65536):
            with self.lock:
                self.data += chunk
                del self.data[:-_OUTPUT_KEPT]

    def text(self) -> str:
        with self.lock:
            return self.data.decode(errors="replace")


class ClientUnderTest:
    """One clause's session with the device under test (see the module docstring)."""

    def __init__(self, listener: Listener, command: str | None = None) -> None:
        self.listener = listener
        self.command = command
        self.argv: Sequence[str] = expand(command, listener.host, listener.port) if command else ()
        self.process: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self._output = _Output()
        self._reader: threading.Thread | None = None
        self.connections: list[ClientConnection] = []

    def describe(self) -> str:
        """What is tested, for the report's target field."""
        if self.command:
            started = shlex.join(self.argv)  # as run: the placeholders filled in
            return f"{self.listener.url} (wireproof listening; the client is started by: {started})"
        return f"{self.listener.url} (wireproof listening; the client connects on its own)"

    def start(self) -> None:
        """Start the command (if any, and not yet started)."""
        if not self.argv or self.process is not None:
            return
        try:
            # stdin is a pipe held open and empty until stop(): a client that waits for a line (an
            # interactive step) waits for as long as the clause runs, not until an EOF ends it early.
            self.process = subprocess.Popen(list(self.argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as err:
            raise HarnessError(f"cannot start {self.argv[0]!r}: {err.strerror or err}") from None
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._output.pump, args=(self.process.stdout.fileno(),),
                                        daemon=True)
        self._reader.start()

    def connect(self, timeout: float) -> ClientConnection:
        """Start the command (if any) and wait at most ``timeout`` s for the client's connection.

        A command that exits before connecting is a :class:`HarnessError` with its output.
        """
        self.start()
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            step = remaining if self.process is None else min(remaining, 0.25)
            try:
                conn = self.listener.accept(max(0.0, step))
            except TransportTimeout:
                if self.process is not None and self.process.poll() is not None:
                    self.returncode = self.process.returncode
                    raise HarnessError(f"the client command exited ({self.returncode}) without connecting "
                                       f"to {self.listener.address}: {self.output()[-1000:]}") from None
                if time.monotonic() >= deadline:
                    raise
                continue
            connection = ClientConnection(conn)
            self.connections.append(connection)
            return connection

    def output(self) -> str:
        """The tail of what the client process printed so far."""
        return self._output.text()

    def stop(self) -> int | None:
        """End the process (SIGTERM, then SIGKILL), close the connections; its exit status, or None.

        The process goes first: a client whose connection is closed reconnects at once, and that
        connection, left in the listener's queue, would be the next clause's. Connections still
        queued once the process is gone are accepted and closed (:meth:`Listener.drain`).
        """
        process = self.process
        if process is None:
            for conn in self.connections:
                conn.close()
            return None
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(STOP_TIMEOUT)
        if self._reader is not None:
            self._reader.join(STOP_TIMEOUT)
        if process.stdout is not None:
            process.stdout.close()
        for conn in self.connections:
            conn.close()
        self.listener.drain()
        self.returncode = process.returncode
        return self.returncode
