"""``wireproof simulate iec104-server``: the IEC 104 reference controlled station over TCP.

One :class:`~wireproof.codecs.iec104.station.Database` (the built-in
station of ``fixtures/iec104/server-default.toml``, or ``--config FILE``)
shared by every connection; one pure
:class:`~wireproof.codecs.iec104.station.StationSession` a connection,
served by :func:`~.streams.serve_stream` as a timed connection (the APCI's
t1, t2 and t3 run on the loop's clock; a point change wakes every session
to send it spontaneously). A connection that sends an APDU that does not
decode, or breaks the APCI's rules, is closed (104 5.1) and the others are
served on; the stream limits (idle, incomplete frame, garbage, connection
count) shed abusive clients as for the other reference devices.

The first line printed is ``listening on HOST:PORT``; then a line for each
thing the station does. Standard input takes ``change IOA VALUE`` (a
spontaneous transmission) and ``quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import signal
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from wireproof.codecs.iec104.station import Database, StationConfig, StationSession, parse_config
from wireproof.errors import HarnessError, WireproofError
from wireproof.harness.exitcodes import OK, USAGE
from wireproof.harness.simulators.streams import (
    Limits,
    Listening,
    Wakeup,
    count_argument,
    format_address,
    parse_bind,
    seconds_argument,
    serve_stream,
    start_in_background,
)

__all__ = ["DEFAULT_BIND", "ServerHandle", "StationDevice", "add_arguments", "load_config", "run",
           "running_server"]

DEFAULT_BIND = "127.0.0.1:2404"  # 104 clause 10: port 2404
_LIMITS = Limits()
_START_TIMEOUT = 10.0


def default_config_text() -> str:
    return resources.files("wireproof.fixtures").joinpath("iec104/server-default.toml").read_text("utf-8")


def load_config(path: str | Path | None = None, *, text: str | None = None) -> StationConfig:
    """A station configuration from a TOML file (default: the built-in station); HarnessError if bad."""
    source = str(path) if path is not None else "the built-in station"
    try:
        if text is None:
            text = Path(path).read_text("utf-8") if path is not None else default_config_text()
        return parse_config(tomllib.loads(text), source)
    except (OSError, tomllib.TOMLDecodeError, ValueError) as err:
        raise HarnessError(f"{source}: {err}") from None


def wall_clock(now: float) -> _dt.datetime:
    """The host's UTC time (naive), for the station's time tags."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


class StationDevice:
    """The shared database and the sessions' wake-up (runs on the loop's thread)."""

    def __init__(self, config: StationConfig, *, on_line: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.database: Database = config.database()
        self.wakeup: Wakeup | None = None
        self.lines: list[str] = []
        self._on_line = on_line

    def bind_loop(self) -> None:
        self.wakeup = Wakeup()

    def session(self, now: float) -> _Session:
        c = self.config
        return _Session(self, self.database, k=c.k, w=c.w, t1=c.t1, t2=c.t2, t3=c.t3, now=now,
                        end_of_init=c.end_of_initialisation, clock=wall_clock)

    def change(self, address: int, value: Any) -> None:
        try:
            self.database.change(address, value)
        except (KeyError, ValueError, TypeError) as err:
            raise HarnessError(f"cannot change point {address}: {err}") from None
        self.say(f"changed {address} to {self.database.points[address].value!r}")
        self._notify()

    def say(self, line: str) -> None:
        self.lines.append(line)
        if self._on_line is not None:
            self._on_line(line)

    def _notify(self) -> None:
        if self.wakeup is not None:
            self.wakeup.notify()


class _Session(StationSession):
    """A session that reports what it did and wakes the others when a command changed a point."""

    def __init__(self, device: StationDevice, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    @property
    def wakeup(self) -> Wakeup | None:
        return self.device.wakeup

    def _report(self, out: Any) -> Any:
        for line in out.lines:
            self.device.say(line)
        if self.db.version != self._version:
            self.device._notify()
        return out

    def tick(self, now: float) -> Any:
        return self._report(super().tick(now))

    def receive_data(self, data: bytes, *, max_frames: int | None = None) -> Any:
        return self._report(super().receive_data(data, max_frames=max_frames))


async def serve(device: StationDevice, host: str, port: int, *, stop: asyncio.Event,
                on_listening: Listening | None = None, limits: Limits | None = None) -> None:
    device.bind_loop()
    loop = asyncio.get_running_loop()
    await serve_stream(lambda: device.session(loop.time()), host, port, stop=stop,
                       limits=limits or _LIMITS, on_listening=on_listening)


@dataclass
class ServerHandle:
    """A running reference server: where it listens, its device, ``change`` and ``stop``."""

    host: str
    port: int
    url: str
    device: StationDevice
    _call: Callable[[Callable[[float], Any]], Any] = field(repr=False)
    _stop: Callable[[], None] = field(repr=False)

    @property
    def database(self) -> Database:
        return self.device.database

    def change(self, address: int, value: Any) -> None:
        """Set one point: every started connection gets it spontaneously."""
        self._call(lambda now: self.device.change(address, value))

    def stop(self) -> None:
        self._stop()


@contextlib.contextmanager
def running_server(bind: str = "127.0.0.1:0", config: str | Path | StationConfig | None = None, *,
                   limits: Limits | None = None) -> Iterator[ServerHandle]:
    """Run the reference server on a background thread for the ``with`` block (bound on entry)."""
    settings = config if isinstance(config, StationConfig) else load_config(config)
    device = StationDevice(settings)
    host, port = parse_bind(bind)

    async def run_it(stop: asyncio.Event, listening: Listening) -> None:
        await serve(device, host, port, stop=stop, on_listening=listening, limits=limits)

    bg = start_in_background(run_it, name=f"iec104 server on {bind}", timeout=_START_TIMEOUT)
    handle = ServerHandle(host=bg.host, port=bg.port, url=f"tcp://{format_address(bg.host, bg.port)}",
                          device=device, _call=bg.call, _stop=bg.stop)
    try:
        yield handle
    finally:
        bg.stop()


# --- the command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default=DEFAULT_BIND, metavar="HOST:PORT",
                        help=f"address to listen on (port 0: any free port; default {DEFAULT_BIND}, "
                             "104 clause 10)")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML station: common address, [[point]]s, [[command]]s, k, w, t1-t3 (default: "
                             "the packaged fixtures/iec104/server-default.toml)")
    apci = parser.add_argument_group("APCI parameters (104 5.5, 5.6; default: the configuration's)")
    apci.add_argument("--k", type=int, metavar="N", help="unacknowledged I frames sent at most")
    apci.add_argument("--w", type=int, metavar="N", help="acknowledge after this many I frames received")
    for name, what in (("t1", "acknowledgement timeout"), ("t2", "acknowledgement delay"),
                       ("t3", "idle time before a TESTFR")):
        apci.add_argument(f"--{name}", type=float, metavar="SECONDS", help=what)
    limits = parser.add_argument_group("limits", "how much one client may take; 0 disables a limit")
    limits.add_argument("--idle-timeout", type=seconds_argument, default=_LIMITS.idle_timeout,
                        metavar="SECONDS",
                        help="close a connection silent (or not reading) this long (default %(default)g)")
    limits.add_argument("--frame-timeout", type=seconds_argument, default=_LIMITS.frame_timeout,
                        metavar="SECONDS",
                        help="close a connection holding an incomplete APDU this long (default %(default)g)")
    limits.add_argument("--max-connections", type=count_argument, default=_LIMITS.max_clients, metavar="N",
                        help="serve at most N connections at once (default 0: no limit)")


def _say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
        for name in ("k", "w", "t1", "t2", "t3"):
            if getattr(args, name) is not None:
                setattr(settings, name, getattr(args, name))
        if not 1 <= settings.k <= 32767 or not 1 <= settings.w <= 32767:
            raise HarnessError("--k and --w must be in 1..32767")
        if not 0 < settings.t2 < settings.t1 or settings.t3 <= 0:
            raise HarnessError("timeouts must be > 0 with t2 < t1 (104 5.5)")
        host, port = parse_bind(args.bind)
        limits = Limits(idle_timeout=args.idle_timeout, frame_timeout=args.frame_timeout,
                        max_clients=args.max_connections)
        asyncio.run(_run(StationDevice(settings, on_line=_say), host, port, limits))
    except (WireproofError, OSError) as err:
        print(f"wireproof simulate: error: {err}", file=sys.stderr)
        return USAGE
    return OK


async def _run(device: StationDevice, host: str, port: int, limits: Limits) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = threading.Thread(target=_read_stdin, args=(device, loop, stop), name="iec104-server-stdin",
                              daemon=True)

    def listening(h: str, p: int) -> None:
        _say(f"listening on {format_address(h, p)}")
        reader.start()
    await serve(device, host, port, stop=stop, on_listening=listening, limits=limits)


def _read_stdin(device: StationDevice, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """``change IOA VALUE`` and ``quit`` lines, applied on the loop's thread; EOF ends the reading."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue

        def apply(words: list[str] = words) -> None:
            try:
                if words == ["quit"]:
                    stop.set()
                elif words[0] == "change" and len(words) == 3 and words[1].isdigit():
                    device.change(int(words[1]), words[2])
                else:
                    _say(f"error: unknown command {' '.join(words)!r} (change IOA VALUE | quit)")
            except HarnessError as err:
                _say(f"error: {err}")
        try:
            loop.call_soon_threadsafe(apply)
        except RuntimeError:
            return  # the loop has ended
