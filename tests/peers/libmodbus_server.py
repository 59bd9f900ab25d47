"""A libmodbus (libmodbus.so.5, 3.1.x) Modbus TCP server, driven through ctypes: a peer target.

Run as a script: ``python libmodbus_server.py --profile libmodbus.toml``. It
binds 127.0.0.1:0 itself (libmodbus's own ``modbus_tcp_listen`` binds the port
given to ``modbus_new_tcp`` and offers no way to learn a kernel-chosen one),
prints one line ``listening on 127.0.0.1:PORT`` when ready, and serves until
SIGTERM or SIGINT.

Theory of operation. Everything Modbus is libmodbus's own code: one
``modbus_t`` TCP context, a ``modbus_mapping_new_start_address`` mapping whose
four tables are the ``[tables.*]`` of the device profile (so the profile and
the server cannot disagree), ``modbus_tcp_accept`` on our listening socket,
and per readable connection ``modbus_set_socket`` + ``modbus_receive`` +
``modbus_reply`` — the loop of libmodbus's tests/bandwidth-server-many-up.c,
over a selector instead of ``select``. libmodbus defaults are kept: no
``modbus_set_slave`` (in TCP mode 3.1.6 answers every unit identifier and
echoes it), no indication timeout (``modbus_receive`` waits for a whole ADU,
framing it by function code, not by the MBAP length), and a 0.5 s response
timeout, which ``modbus_reply`` sleeps before flushing the socket when it
answers ILLEGAL DATA VALUE to a bad quantity or ILLEGAL FUNCTION.

``modbus_receive`` returning -1 (peer closed, or an ADU longer than 260 bytes)
closes that connection only; the server goes on. ``modbus_reply`` returning -1
(3.1.6 answers nothing to FC 07; a send to a closed peer) is ignored, as the
libmodbus example does.

Signals: ``modbus_receive`` blocks inside C and libmodbus retries ``select``
on EINTR, so a Python signal handler could wait for ever behind a half-sent
ADU. SIGTERM/SIGINT are therefore blocked in every thread and the main thread
``sigwait``s for them while a worker thread serves; on a signal the main thread
shuts the sockets down (waking any blocked ``recv``), joins the worker and
frees the libmodbus objects.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LIBRARY = "libmodbus.so.5"
MAX_ADU = 260  # MODBUS_TCP_MAX_ADU_LENGTH: modbus_receive never writes more
BACKLOG = 16
JOIN_TIMEOUT = 10.0
STOP = (signal.SIGTERM, signal.SIGINT)


@dataclass(frozen=True, slots=True, kw_only=True)
class LibmodbusPeer:
    """A running server (the ``libmodbus_server`` fixture): its target URL and the profile it serves."""

    url: str
    profile: Path
    process: subprocess.Popen[str]


def library_path() -> str | None:
    """The libmodbus shared library to load, or None when it is not installed."""
    name = ctypes.util.find_library("modbus")
    for candidate in (name, LIBRARY):
        if candidate is None:
            continue
        try:
            ctypes.CDLL(candidate)
        except OSError:
            continue
        return candidate
    return None


def load(path: str) -> ctypes.CDLL:
    """libmodbus with the prototypes this server calls (modbus.h, modbus-tcp.h of 3.1.6)."""
    lib = ctypes.CDLL(path, use_errno=True)
    ptr, c_int, c_uint = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint
    lib.modbus_new_tcp.argtypes, lib.modbus_new_tcp.restype = [ctypes.c_char_p, c_int], ptr
    lib.modbus_mapping_new_start_address.argtypes = [c_uint] * 8
    lib.modbus_mapping_new_start_address.restype = ptr
    lib.modbus_tcp_accept.argtypes, lib.modbus_tcp_accept.restype = [ptr, ctypes.POINTER(c_int)], c_int
    lib.modbus_set_socket.argtypes, lib.modbus_set_socket.restype = [ptr, c_int], c_int
    lib.modbus_receive.argtypes, lib.modbus_receive.restype = [ptr, ctypes.c_char_p], c_int
    lib.modbus_reply.argtypes, lib.modbus_reply.restype = [ptr, ctypes.c_char_p, c_int, ptr], c_int
    lib.modbus_free.argtypes, lib.modbus_free.restype = [ptr], None
    lib.modbus_mapping_free.argtypes, lib.modbus_mapping_free.restype = [ptr], None
    return lib


def mapping_args(profile: dict[str, Any]) -> list[int]:
    """(start, count) of bits, input bits, registers, input registers: the profile's tables.

    A table the profile leaves out gets count 0, which libmodbus answers with
    ILLEGAL DATA ADDRESS for every address.
    """
    tables = profile.get("tables", {})
    args: list[int] = []
    for name in ("coils", "discrete_inputs", "holding_registers", "input_registers"):
        table = tables.get(name)
        args += [0, 0] if table is None else [int(table.get("start", 0)), int(table["count"])]
    return args


class Server:
    """libmodbus serving every connection accepted on ``listener`` (one worker thread)."""

    def __init__(self, lib: ctypes.CDLL, profile: dict[str, Any]) -> None:
        self.lib = lib
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=BACKLOG)
        self.listener.setblocking(False)  # a connection reset before accept must not block us
        # The address only names the context; modbus_tcp_listen is never called.
        self.ctx = lib.modbus_new_tcp(b"127.0.0.1", self.listener.getsockname()[1])
        self.mapping = lib.modbus_mapping_new_start_address(*mapping_args(profile))
        if not self.ctx or not self.mapping:
            raise OSError(ctypes.get_errno(), "libmodbus: modbus_new_tcp/modbus_mapping_new failed")
        self.connections: set[int] = set()
        self.stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()

    @property
    def port(self) -> int:
        return int(self.listener.getsockname()[1])

    def serve(self) -> None:
        """The select loop: accept, or receive one ADU and reply, until stopped."""
        query = ctypes.create_string_buffer(MAX_ADU)
        listen_fd = ctypes.c_int(self.listener.fileno())
        with selectors.DefaultSelector() as sel:
            sel.register(self.listener, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while not self.stopping.is_set():
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r or self.stopping.is_set():
                        return
                    if key.fileobj is self.listener:
                        fd = self.lib.modbus_tcp_accept(self.ctx, ctypes.byref(listen_fd))
                        if fd >= 0:
                            self.connections.add(fd)
                            sel.register(fd, selectors.EVENT_READ)
                        continue
                    fd = key.fd
                    self.lib.modbus_set_socket(self.ctx, fd)
                    n = self.lib.modbus_receive(self.ctx, query)
                    if n > 0:
                        self.lib.modbus_reply(self.ctx, query, n, self.mapping)
                    elif n == -1:  # closed by the peer, or an ADU libmodbus cannot frame
                        sel.unregister(fd)
                        self.connections.discard(fd)
                        os.close(fd)

    def stop(self, worker: threading.Thread) -> bool:
        """Wake and join the worker, then release everything; False if it would not stop."""
        self.stopping.set()
        self._wake_w.send(b"x")
        for fd in list(self.connections):  # wakes a modbus_receive blocked on a half ADU
            try:
                with socket.socket(fileno=os.dup(fd)) as sock:
                    sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        worker.join(JOIN_TIMEOUT)
        if worker.is_alive():
            return False  # libmodbus may still use ctx: do not free it under the worker
        for fd in self.connections:
            os.close(fd)
        self.lib.modbus_mapping_free(self.mapping)
        self.lib.modbus_free(self.ctx)
        for sock in (self.listener, self._wake_r, self._wake_w):
            sock.close()
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, required=True,
                        help="device profile TOML whose [tables.*] become the libmodbus mapping")
    args = parser.parse_args(argv)
    path = library_path()
    if path is None:
        print(f"libmodbus_server: {LIBRARY} not found", file=sys.stderr)
        return 2
    server = Server(load(path), tomllib.loads(args.profile.read_text(encoding="utf-8")))
    # Blocked before the worker starts, so it inherits the mask: only sigwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP)
    main_thread = threading.get_ident()
    failed = threading.Event()

    def work() -> None:
        try:
            server.serve()
        except BaseException:
            failed.set()
            raise
        finally:  # a worker that dies must not leave the process waiting for ever
            if not server.stopping.is_set():
                signal.pthread_kill(main_thread, signal.SIGTERM)

    worker = threading.Thread(target=work, name="libmodbus-server")
    worker.start()
    print(f"listening on 127.0.0.1:{server.port}", flush=True)
    signal.sigwait(STOP)
    stopped = server.stop(worker)
    return 0 if stopped and not failed.is_set() else 1


if __name__ == "__main__":
    sys.exit(main())
