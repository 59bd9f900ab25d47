"""``wireproof simulate DEVICE``: run a reference device until SIGINT or SIGTERM.

    wireproof simulate modbus-server [--bind HOST:PORT] [--config FILE]
                                     [--framing tcp|rtu|ascii] [--unknown-unit exception|drop|default]
                                     [--serial DEVICE] [--baudrate N] [--parity N|E|O]

The first line on stdout is exactly ``listening on HOST:PORT`` (the real port
when 0 was asked for) or ``listening on DEVICE`` with ``--serial``, flushed,
so a script can start the simulator and read one line to know it is ready.
Exit status 0 after a signal; 1 if the device cannot start.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading
from types import FrameType
from typing import cast

from wireproof.codecs.modbus.server import Framing, ModbusServer
from wireproof.errors import WireproofError
from wireproof.harness.simulators import modbus_server as sim

__all__ = ["add_arguments", "run"]

DEVICES = ("modbus-server",)
DEFAULT_BIND = "127.0.0.1:5020"  # 502 needs privileges; pass --bind 0.0.0.0:502 to use it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("device", choices=DEVICES, help="the reference device to run")
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


def _say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    framing = cast(Framing, args.framing or ("rtu" if args.serial else "tcp"))
    try:
        server = sim.load_server(args.config, framing=framing, unknown_unit=args.unknown_unit)
        if args.serial:
            return _run_serial(server, args)
        host, port = sim.parse_bind(args.bind)
        asyncio.run(_run_tcp(server, host, port))
    except (WireproofError, OSError) as err:
        print(f"wireproof simulate: {err}", file=sys.stderr)
        return 1
    return 0


async def _run_tcp(server: ModbusServer, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await sim.serve_tcp(server, host, port, stop=stop,
                        on_listening=lambda h, p: _say(f"listening on {sim.format_address(h, p)}"))


def _run_serial(server: ModbusServer, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    port = sim.open_serial(args.serial, baudrate=args.baudrate, parity=args.parity)
    try:
        _say(f"listening on {args.serial}")
        sim.serve_serial(server, port, stop=stop)
    finally:
        port.close()
    return 0
