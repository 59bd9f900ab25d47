"""The Modbus reference server: drivers around the pure :class:`~wireproof.codecs.modbus.server.ModbusServer`.

    wireproof simulate modbus-server [--bind HOST:PORT] [--config FILE]
                                     [--framing tcp|rtu|ascii] [--unknown-unit exception|drop|default]
                                     [--serial DEVICE] [--baudrate N] [--parity N|E|O]
                                     [--idle-timeout S] [--frame-timeout S] [--max-garbage BYTES]
                                     [--max-connections N]

The first line on stdout is exactly ``listening on HOST:PORT`` (the real port
when 0 was asked for) or ``listening on DEVICE`` with ``--serial``, flushed;
exit status 0 after SIGINT/SIGTERM, 1 if the device cannot start
(:func:`add_arguments` and :func:`run`, which the Modbus descriptor names).

Theory of operation
-------------------
One :class:`ModbusServer` (data model, counters) is shared by every
connection; each connection has its own
:class:`~wireproof.codecs.modbus.server.ServerConnection`, so bytes from one
client are framed alone: garbage, a half-sent ADU or a closed socket on one
connection never disturbs another (MB-TCP 4.2: a server handles several
connections at once). When a connection's machine asks to ``close`` (an MBAP
length that cannot be framed), only that socket is closed.

- TCP: an asyncio server (:mod:`.streams`); framing ``tcp`` (MBAP, MB-TCP
  3.1.3) or ``rtu`` / ``ascii`` carried over TCP as a serial gateway would.
  Abusive clients are shed by :class:`~.streams.Limits`: idle and
  incomplete-frame timeouts, a per-turn budget so a flooding client cannot
  hold the others up, a garbage budget (what a gateway that must stay
  usable does: a client whose bytes frame as nothing is disconnected; with
  MBAP one bad length already closes, MB-TCP 3.1.3), and an accept loop
  that backs off quietly at the file-descriptor limit.
- serial: a blocking pyserial loop on a tty (MB-SL), RTU framed by length
  and CRC (not by timing), or ASCII.

Everything the machines do runs on one thread (the event loop's or the
serial loop's), so the shared server needs no lock. Tests use
:func:`running_server` / :func:`running_serial_server`: they return once the
socket is bound / the port is open (a ``threading.Event``, never a sleep) and
stop the server on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import cast

import serial

from wireproof.codecs.modbus.datamodel import DataModel
from wireproof.codecs.modbus.server import Framing, ModbusServer, UnknownUnitPolicy
from wireproof.errors import HarnessError, WireproofError
from wireproof.harness.exitcodes import OK, USAGE
from wireproof.harness.fixtures import read_fixture_text
from wireproof.harness.simulators.streams import (
    Limits,
    Listening,
    count_argument,
    format_address,
    parse_bind,
    seconds_argument,
    serve_stream,
    start_in_background,
)

__all__ = [
    "DEFAULT_BIND",
    "ServerHandle",
    "add_arguments",
    "default_config_path",
    "load_datamodel",
    "load_server",
    "parse_bind",
    "run",
    "running_serial_server",
    "running_server",
    "serve_serial",
    "serve_tcp",
]

_START_TIMEOUT = 10.0


def default_config_path() -> Path:
    """The packaged default data model, ``fixtures/modbus/server-default.toml``."""
    return Path(str(resources.files("wireproof.fixtures") / "modbus" / "server-default.toml"))


def load_datamodel(path: str | Path) -> DataModel:
    """Read a TOML data model file (:meth:`DataModel.from_toml` parses it).

    :class:`~wireproof.errors.FixtureError` naming the file if it is unreadable or invalid.
    """
    return DataModel.from_toml(read_fixture_text(path), source=str(path))


def load_server(config: str | Path | DataModel | None = None, *, framing: Framing = "tcp",
                unknown_unit: UnknownUnitPolicy | None = None) -> ModbusServer:
    """A server over ``config`` (a TOML path, a :class:`DataModel`, or ``None`` for the default)."""
    model = config if isinstance(config, DataModel) else load_datamodel(config or default_config_path())
    return ModbusServer(model, framing=framing, unknown_unit=unknown_unit)


# --- TCP ------------------------------------------------------------------------------


async def serve_tcp(server: ModbusServer, host: str, port: int, *, stop: asyncio.Event,
                    on_listening: Callable[[str, int], None] | None = None,
                    limits: Limits | None = None, log: Callable[[str], None] | None = None) -> None:
    """Serve ``server`` on ``host:port`` until ``stop`` is set; ``on_listening(host, port)`` once bound.

    Each client gets its own connection machine; :func:`~.streams.serve_stream`
    applies ``limits`` (timeouts, per-turn budget, garbage budget) and survives
    the file-descriptor limit. On stop, open connections are closed.
    """
    await serve_stream(server.connection, host, port, stop=stop, limits=limits or Limits(),
                       on_listening=on_listening,
                       **({"log": log} if log is not None else {}))


@dataclass
class ServerHandle:
    """A running reference server: where it listens, the shared machine, and ``stop()``."""

    host: str
    port: int
    url: str
    server: ModbusServer
    _stop: Callable[[], None] = field(repr=False)

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end; idempotent."""
        self._stop()


@contextlib.contextmanager
def running_server(bind: str = "127.0.0.1:0", config: str | Path | DataModel | None = None,
                   framing: Framing = "tcp", *, unknown_unit: UnknownUnitPolicy | None = None,
                   limits: Limits | None = None,
                   log: Callable[[str], None] | None = None) -> Iterator[ServerHandle]:
    """Run a TCP reference server on a background thread for the ``with`` block."""
    server = load_server(config, framing=framing, unknown_unit=unknown_unit)
    host, port = parse_bind(bind)

    async def serve(stop: asyncio.Event, listening: Listening) -> None:
        await serve_tcp(server, host, port, stop=stop, on_listening=listening, limits=limits, log=log)

    bg = start_in_background(serve, name=f"modbus server on {bind}", timeout=_START_TIMEOUT)
    handle = ServerHandle(host=bg.host, port=bg.port, url=f"tcp://{format_address(bg.host, bg.port)}",
                          server=server, _stop=bg.stop)
    try:
        yield handle
    finally:
        bg.stop()


# --- serial ---------------------------------------------------------------------------


def open_serial(device: str, *, baudrate: int = 19200, parity: str = "E", stopbits: float = 1,
                timeout: float = 0.05) -> serial.Serial:
    """Open ``device`` with the MB-SL 2.5.1 defaults (19200 baud, 8 bits, even parity, 1 stop bit)."""
    try:
        return serial.Serial(device, baudrate=baudrate, bytesize=8, parity=parity, stopbits=stopbits,
                             timeout=timeout)
    except (serial.SerialException, OSError, ValueError) as err:
        raise HarnessError(f"cannot open serial device {device}: {err}") from err


def serve_serial(server: ModbusServer, port: serial.Serial, *, stop: threading.Event) -> None:
    """Serve ``server`` on an open serial port until ``stop`` is set (polls every read timeout)."""
    conn = server.connection()
    while not stop.is_set():
        try:
            data = port.read(max(1, min(port.in_waiting, 4096)))
        except (serial.SerialException, OSError) as err:
            if stop.is_set():
                return
            raise HarnessError(f"serial device {port.port}: {err}") from err
        if not data:
            conn.line_idle()  # a read timeout (>= t3.5 at the usual rates) ends any partial frame
            continue
        out = conn.receive_data(data)
        for reply in out.replies:
            port.write(reply)
        if out.replies:
            port.flush()


@contextlib.contextmanager
def running_serial_server(device: str, config: str | Path | DataModel | None = None,
                          framing: Framing = "rtu", *, baudrate: int = 19200, parity: str = "E",
                          unknown_unit: UnknownUnitPolicy | None = None) -> Iterator[ModbusServer]:
    """Serve a serial device on a background thread for the ``with`` block (port open on entry)."""
    server = load_server(config, framing=framing, unknown_unit=unknown_unit)
    port = open_serial(device, baudrate=baudrate, parity=parity)
    stop = threading.Event()
    thread = threading.Thread(target=serve_serial, args=(server, port), kwargs={"stop": stop},
                              name=f"modbus-serial-{device}", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        stop.set()
        thread.join(_START_TIMEOUT)
        port.close()


# --- the command line (wireproof simulate modbus-server) ------------------------------

DEFAULT_BIND = "127.0.0.1:5020"  # 502 needs privileges; pass --bind 0.0.0.0:502 to use it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default=DEFAULT_BIND, metavar="HOST:PORT",
                        help=f"TCP address to listen on (port 0: any free port; default {DEFAULT_BIND})")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML data model (default: the packaged fixtures/modbus/server-default.toml)")
    parser.add_argument("--framing", choices=("tcp", "rtu", "ascii"), default=None,
                        help="ADU framing (default: tcp on TCP, rtu with --serial)")
    parser.add_argument("--unknown-unit", choices=("exception", "drop", "default"), default=None,
                        help="answer for a unit id not in the model (default: exception 0A on TCP, "
                             "no answer on serial)")
    parser.add_argument("--serial", metavar="DEVICE", help="serve a serial line instead of TCP")
    parser.add_argument("--baudrate", type=int, default=19200, help="serial baud rate (default 19200)")
    parser.add_argument("--parity", choices=("N", "E", "O"), default="E",
                        help="serial parity (default E, MB-SL 2.5.1)")
    limits = parser.add_argument_group(
        "limits (TCP)", "how much one client may take; 0 disables a limit. Each client is served in "
        f"turns of at most {Limits().read_size} bytes and {Limits().max_frames} frames.")
    limits.add_argument("--idle-timeout", type=seconds_argument, default=Limits().idle_timeout,
                        metavar="SECONDS",
                        help="close a connection that sends nothing, or does not read its answers, for "
                             "this long (default %(default)g)")
    limits.add_argument("--frame-timeout", type=seconds_argument, default=Limits().frame_timeout,
                        metavar="SECONDS",
                        help="close a connection that holds an incomplete frame this long, e.g. half a "
                             "header and then silence (default %(default)g)")
    limits.add_argument("--max-connections", type=count_argument, default=Limits().max_clients, metavar="N",
                        help="serve at most N connections at once; one more is accepted and closed at once, "
                             "as a device at its limit does (default 0: no limit)")
    limits.add_argument("--max-garbage", type=count_argument, default=Limits().max_garbage, metavar="BYTES",
                        help="close a connection that sent this many bytes that frame as nothing since "
                             "its last whole frame (default %(default)d; with tcp framing a bad MBAP "
                             "length closes at once, MB-TCP 3.1.3)")


def _say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    framing = cast(Framing, args.framing or ("rtu" if args.serial else "tcp"))
    try:
        server = load_server(args.config, framing=framing, unknown_unit=args.unknown_unit)
        if args.serial:
            return _run_serial(server, args)
        host, port = parse_bind(args.bind)
        limits = Limits(idle_timeout=args.idle_timeout, frame_timeout=args.frame_timeout,
                        max_garbage=args.max_garbage, max_clients=args.max_connections)
        asyncio.run(_run_tcp(server, host, port, limits))
    except (WireproofError, OSError) as err:
        # The device could not start (a bad address or model, a port in use): the
        # command was given something it cannot run, not a verdict (exitcodes).
        print(f"wireproof simulate: error: {err}", file=sys.stderr)
        return USAGE
    return OK


async def _run_tcp(server: ModbusServer, host: str, port: int, limits: Limits) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_tcp(server, host, port, stop=stop, limits=limits,
                    on_listening=lambda h, p: _say(f"listening on {format_address(h, p)}"))


def _run_serial(server: ModbusServer, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    port = open_serial(args.serial, baudrate=args.baudrate, parity=args.parity)
    try:
        _say(f"listening on {args.serial}")
        serve_serial(server, port, stop=stop)
    finally:
        port.close()
    return 0
