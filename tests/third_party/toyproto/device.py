"""The TOY reference server (a thread per connection) and its ``toy://`` transport scheme."""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import SplitResult

from toyproto.codec import ToyFramer
from wireproof.harness.transports import Scheme, TcpTransport
from wireproof.harness.transports.base import Tap
from wireproof.harness.transports.tcp import TCP_SCHEME, TcpAddress


@dataclass(frozen=True, slots=True, kw_only=True)
class ToyAddress:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"toy://{self.host}:{self.port}"


def _parse(url: str, parts: SplitResult) -> ToyAddress:
    tcp = TCP_SCHEME.parse(url.replace("toy://", "tcp://", 1), parts)
    return ToyAddress(host=tcp.host, port=tcp.port)


def _open(target: ToyAddress, timeout: float, tap: Tap | None) -> TcpTransport:
    return TcpTransport.connect(target.host, target.port, timeout=timeout, tap=tap)


SCHEME = Scheme(name="toy", kind="stream", parse=_parse, open=_open)


def _serve_connection(conn: socket.socket) -> None:
    framer = ToyFramer()
    with conn:
        while data := conn.recv(4096):
            framer.feed(data)
            while isinstance(message := framer.next_frame(), bytes):
                conn.sendall(message[:3] + message[3:].upper())


@contextlib.contextmanager
def running(host: str = "127.0.0.1", port: int = 0) -> Iterator[TcpAddress]:
    listener = socket.create_server((host, port))
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=_serve_connection, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield TcpAddress(host=host, port=listener.getsockname()[1])
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default="127.0.0.1:0", help="HOST:PORT to listen on")


def run(args: argparse.Namespace) -> int:
    host, _, port = args.bind.rpartition(":")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with running(host, int(port)) as address:
        print(f"listening on {address.host}:{address.port}", flush=True)
        done.wait()
    return 0
