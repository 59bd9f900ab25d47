"""The DNP3 reference outstation: drivers around the pure outstation session (sockets, clock, stdin).

    wireproof simulate dnp3-outstation [--bind HOST:PORT] [--config FILE] [--udp]
                                       [--idle-timeout S] [--frame-timeout S] [--max-garbage BYTES]
                                       [--max-connections N]

The first line on stdout is exactly ``listening on HOST:PORT`` (the real port
when 0 was asked for), flushed; exit status 0 after SIGINT/SIGTERM, 2 (usage) if the
device cannot start. Then one line for each thing the device does for a
master (``select crob index=0 code=LATCH_ON``, ``operate crob index=1
code=LATCH_ON type=DirectOperate``, ``operate analog index=0 value=1234
type=DirectOperate``, ``time written MS``, ``restart cold``, ``freeze
counters 0,1``) and for each line on stdin: ``step`` applies the next
scripted change (answered ``stepped N``), ``change KIND INDEX VALUE`` sets
one point (answered ``changed KIND INDEX``). End of stdin only stops the
reading; the device serves on.

Theory of operation
-------------------
One :class:`~wireproof.codecs.dnp3.database.Database` (points, device clock)
is shared by every master: a value one master commands, another reads.
Each TCP connection (each UDP peer address) is its own session — link
state, transport, event buffers, confirm waits, select, unsolicited state,
and restart IIN — so masters never confirm away each other's events (the
database hands each session a copy of each event). That is the choice the
outstation docstring (:mod:`wireproof.codecs.dnp3.outstation`) explains.

- TCP: :func:`~.streams.serve_stream` with timed connections (the sessions
  have confirm and unsolicited timers) and a :class:`~.streams.Wakeup` the
  device notifies after every database change, so unsolicited responses go
  out at once. :class:`~.streams.Limits` sheds abusive masters: idle and
  incomplete-frame timeouts, a garbage budget (bytes that frame as nothing,
  bad CRCs), per-turn budgets; the other masters keep being served.
- UDP (``--udp``, IEEE 1815 Annex E): one session per peer address, at most
  ``MAX_UDP_PEERS`` (the least recently heard is dropped), replies to the
  datagram's source.

Each session is a :class:`wireproof.codecs.dnp3.session.OutstationSession`
(link, transport and application machines, no I/O). Everything runs on the
event loop's thread; :func:`running_outstation`
(tests) applies ``step()`` and ``change()`` there too and waits for them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import threading
import time
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, cast

from wireproof.codecs.dnp3.database import KINDS, Database
from wireproof.codecs.dnp3.outstation import Effect, OutstationConfig
from wireproof.codecs.dnp3.session import OutstationSession
from wireproof.errors import FixtureError, HarnessError, WireproofError
from wireproof.harness.exitcodes import OK, USAGE
from wireproof.harness.fixtures import read_fixture_text
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

__all__ = [
    "DEFAULT_BIND",
    "Device",
    "DeviceConfig",
    "OutstationHandle",
    "add_arguments",
    "default_config_path",
    "load_config",
    "run",
    "running_outstation",
]

DEFAULT_BIND = "127.0.0.1:20000"
MAX_UDP_PEERS = 64
_START_TIMEOUT = 10.0
_LIMITS = Limits(idle_timeout=120.0)  # opendnp3 masters send a keep-alive every 60 s by default


def default_config_path() -> Path:
    """The packaged default configuration, ``fixtures/dnp3/outstation-default.toml``."""
    return Path(str(resources.files("wireproof.fixtures") / "dnp3" / "outstation-default.toml"))


@dataclass(frozen=True, slots=True)
class Change:
    """One scripted change: set ``kind`` point ``index`` to ``value``."""

    kind: str
    index: int
    value: Any


@dataclass(slots=True)
class DeviceConfig:
    """A parsed configuration file (see the packaged default for every key)."""

    points: dict[str, Any]
    outstation: OutstationConfig
    address: int = 10
    master: int = 1
    link_confirmed: bool = False
    link_timeout: float = 2.0
    link_retries: int = 2
    script: list[list[Change]] = field(default_factory=list)
    source: str = "config"

    def database(self) -> Database:
        return Database.from_mapping(self.points, source=self.source)


_OUTSTATION_KEYS = {"max_fragment_size": int, "confirm_timeout": float, "select_timeout": float,
                    "unsolicited": bool, "unsolicited_confirm_timeout": float, "unsolicited_retries": int,
                    "unsolicited_retry_delay": float, "need_time_period": float, "restart_delay": int,
                    "max_controls": int}


def load_config(path: str | Path | None = None, *, text: str | None = None) -> DeviceConfig:
    """Read a TOML configuration (``None``: the packaged default); FixtureError naming what is wrong."""
    source = str(path or default_config_path())
    raw = text if text is not None else read_fixture_text(path or default_config_path())
    try:
        doc = tomllib.loads(raw)
        return _parse(doc, source)
    except tomllib.TOMLDecodeError as err:
        raise FixtureError(f"{source}: not TOML: {err}") from None
    except (ValueError, TypeError, KeyError) as err:
        raise FixtureError(f"{source}: {err}") from None


def _parse(doc: Mapping[str, Any], source: str) -> DeviceConfig:
    unknown = set(doc) - {"link", "outstation", "event_buffer", "points", "script"}
    if unknown:
        raise ValueError(f"unknown tables {sorted(unknown)}")
    link = doc.get("link", {})
    options: dict[str, Any] = {}
    for key, value in doc.get("outstation", {}).items():
        kind = _OUTSTATION_KEYS.get(key)
        if kind is None:
            raise ValueError(f"outstation.{key}: unknown key")
        if (kind is bool) != isinstance(value, bool):
            raise ValueError(f"outstation.{key}: {value!r} is not a {kind.__name__}")
        options[key] = kind(value)
    buffers = doc.get("event_buffer", {})
    options["event_buffer"] = tuple(int(buffers.get(f"class{c}", 100)) for c in (1, 2, 3))
    outstation = OutstationConfig(**options)
    address, master = int(link.get("outstation", 10)), int(link.get("master", 1))
    for name, value in (("outstation", address), ("master", master)):
        if not 0 <= value <= 0xFFEF:
            raise ValueError(f"link.{name}: {value} is not a station address (0..65519, IEEE 1815 9.2.4.1.4)")
    points = doc.get("points", {})
    unknown = set(link) - {"outstation", "master", "confirmed", "response_timeout", "retries"}
    if unknown:
        raise ValueError(f"link: unknown keys {sorted(unknown)}")
    timeout, retries = float(link.get("response_timeout", 2.0)), int(link.get("retries", 2))
    if not 0 < timeout <= 3600 or not 0 <= retries <= 100:
        raise ValueError("link.response_timeout must be in (0, 3600] s, link.retries in 0..100")
    config = DeviceConfig(points=points, outstation=outstation, address=address, master=master,
                          link_confirmed=bool(link.get("confirmed", False)), link_timeout=timeout,
                          link_retries=retries, source=source)
    db = config.database()  # validates the points
    for n, step in enumerate(doc.get("script", [])):
        changes = []
        for k, change in enumerate(step.get("changes", [])):
            where = f"script[{n}].changes[{k}]"
            kind, index = change.get("kind"), change.get("index")
            if kind not in KINDS or not isinstance(index, int) or db.get(kind, index) is None:
                raise ValueError(f"{where}: no {kind} point {index}")
            changes.append(Change(kind, index, change.get("value")))
        config.script.append(changes)
    return config


class Device:
    """The shared database, the script, and the sessions' wake-up (runs on the loop's thread)."""

    def __init__(self, config: DeviceConfig, *, on_effect: Callable[[Effect], None] | None = None) -> None:
        self.config = config
        self.database = config.database()
        self.wakeup: Wakeup | None = None
        self.steps = 0
        self.effects: list[Effect] = []
        self._on_effect = on_effect
        self.sessions: list[OutstationSession] = []

    def bind_loop(self) -> None:
        self.wakeup = Wakeup()

    def session(self, now: float) -> OutstationSession:
        c = self.config
        session = _ReportingSession(self, self.database, c.outstation, address=c.address, master=c.master,
                                    now=now, link_confirmed=c.link_confirmed, link_timeout=c.link_timeout,
                                    link_retries=c.link_retries)
        return session

    def step(self, now: float) -> int:
        """Apply the next scripted step (the script starts over after its last); the step number."""
        if not self.config.script:
            raise HarnessError("the configuration has no [[script]] steps")
        changes = self.config.script[self.steps % len(self.config.script)]
        self.steps += 1
        for change in changes:
            self.database.change(change.kind, change.index, change.value, now)
        self._notify()
        return self.steps

    def change(self, kind: str, index: int, value: Any, now: float) -> None:
        try:
            self.database.change(kind, index, value, now)
        except (IndexError, ValueError, KeyError) as err:
            raise HarnessError(f"cannot change {kind} {index}: {err}") from None
        self._notify()

    def report(self, effects: list[Effect]) -> None:
        for effect in effects:
            self.effects.append(effect)
            if self._on_effect is not None:
                self._on_effect(effect)
        if effects:
            self._notify()  # a command changed points: other sessions may have events to send

    def _notify(self) -> None:
        if self.wakeup is not None:
            self.wakeup.notify()


class _ReportingSession(OutstationSession):
    """A session that reports its effects to the device (stream drivers only see replies)."""

    def __init__(self, device: Device, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.device = device

    @property
    def wakeup(self) -> Wakeup | None:
        return self.device.wakeup

    def tick(self, now: float) -> Any:
        out = super().tick(now)
        self.device.report(out.effects)
        return out

    def receive_data(self, data: bytes, *, max_frames: int | None = None) -> Any:
        out = super().receive_data(data, max_frames=max_frames)
        self.device.report(out.effects)
        return out


# --- serving ---------------------------------------------------------------------------------


async def serve(device: Device, host: str, port: int, *, stop: asyncio.Event, udp: bool = False,
                on_listening: Callable[[str, int], None] | None = None, limits: Limits | None = None) -> None:
    """Serve ``device`` on ``host:port`` (TCP, or UDP) until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    device.bind_loop()
    # The device clock starts at the host's time (not marked synchronised: NEED_TIME still asks),
    # so event times are plausible before any master sets it (IEEE 1815 11.3.1.2).
    device.database.utc_offset_ms = time.time() * 1000.0 - loop.time() * 1000.0
    if not udp:
        await serve_stream(lambda: device.session(loop.time()), host, port, stop=stop,
                           limits=limits or _LIMITS, on_listening=on_listening)
        return
    await _serve_udp(device, host, port, stop=stop, on_listening=on_listening)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, device: Device, kick: Callable[[], None]) -> None:
        self.device = device
        self.kick = kick
        self.peers: OrderedDict[Any, OutstationSession] = OrderedDict()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # 3.11's is not a subclass of it

    def datagram_received(self, data: bytes, addr: Any) -> None:
        now = asyncio.get_running_loop().time()
        session = self.peers.pop(addr, None)
        if session is None:
            session = self.device.session(now)
            while len(self.peers) >= MAX_UDP_PEERS:
                _, old = self.peers.popitem(last=False)
                old.close()
        self.peers[addr] = session
        self.send(addr, session.tick(now).replies)
        out = session.receive_data(data)
        self.send(addr, out.replies)
        if session.framer.buffered > 4096:  # a datagram stream is not a byte stream to wait on
            session.framer.clear()
        self.kick()

    def send(self, addr: Any, replies: list[bytes]) -> None:
        if self.transport is not None:
            for reply in replies:
                self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for one peer concerns that peer only


async def _serve_udp(device: Device, host: str, port: int, *, stop: asyncio.Event,
                     on_listening: Callable[[str, int], None] | None) -> None:
    loop = asyncio.get_running_loop()
    kicked = asyncio.Event()
    protocol = _Datagrams(device, kicked.set)
    transport, _ = await loop.create_datagram_endpoint(lambda: protocol, local_addr=(host, port))
    try:
        bound = transport.get_extra_info("sockname")
        if on_listening is not None:
            on_listening(str(bound[0]), int(bound[1]))
        stopping = asyncio.ensure_future(stop.wait())
        while not stop.is_set():
            now = loop.time()
            for addr, session in list(protocol.peers.items()):
                protocol.send(addr, session.tick(now).replies)
            dues = [d for s in protocol.peers.values() if (d := s.next_deadline) is not None]
            wait = max(0.0, min(dues) - loop.time()) if dues else None
            assert device.wakeup is not None
            woken = asyncio.ensure_future(device.wakeup.wait())
            kick = asyncio.ensure_future(kicked.wait())
            await asyncio.wait({stopping, woken, kick}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            kicked.clear()
            for task in (woken, kick):
                task.cancel()
    finally:
        transport.close()
        for session in protocol.peers.values():
            session.close()


@dataclass
class OutstationHandle:
    """A running reference outstation: where it listens, its device, and ``step``/``change``/``stop``."""

    host: str
    port: int
    url: str
    device: Device
    _call: Callable[[Callable[[float], Any]], Any] = field(repr=False)
    _stop: Callable[[], None] = field(repr=False)

    @property
    def database(self) -> Database:
        return self.device.database

    @property
    def lines(self) -> list[str]:
        """What the device did, one line each (the simulator's stdout lines)."""
        return [e.line for e in list(self.device.effects)]

    def step(self) -> int:
        """Apply the next scripted change (events, and unsolicited responses if enabled); its number."""
        result: int = self._call(self.device.step)
        return result

    def change(self, kind: str, index: int, value: Any) -> None:
        """Set one point (an event if it has a class)."""
        self._call(lambda now: self.device.change(kind, index, value, now))

    def stop(self) -> None:
        self._stop()


@contextlib.contextmanager
def running_outstation(bind: str = "127.0.0.1:0", config: str | Path | DeviceConfig | None = None, *,
                       udp: bool = False, limits: Limits | None = None) -> Iterator[OutstationHandle]:
    """Run the reference outstation on a background thread for the ``with`` block (bound on entry)."""
    settings = config if isinstance(config, DeviceConfig) else load_config(config)
    device = Device(settings)
    host, port = parse_bind(bind)

    async def run(stop: asyncio.Event, listening: Listening) -> None:
        await serve(device, host, port, stop=stop, udp=udp, on_listening=listening, limits=limits)

    bg = start_in_background(run, name=f"dnp3 outstation on {bind}", timeout=_START_TIMEOUT)
    url = f"{'udp' if udp else 'tcp'}://{format_address(bg.host, bg.port)}"
    handle = OutstationHandle(host=bg.host, port=bg.port, url=url, device=device, _call=bg.call,
                              _stop=bg.stop)
    try:
        yield handle
    finally:
        bg.stop()


# --- the command line (wireproof simulate dnp3-outstation) ----------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bind", default=DEFAULT_BIND, metavar="HOST:PORT",
                        help=f"address to listen on (port 0: any free port; default {DEFAULT_BIND}, "
                             "IEEE 1815 Annex E)")
    parser.add_argument("--config", metavar="FILE",
                        help="TOML configuration: link addresses, points, event buffers, unsolicited, "
                             "need-time period, [[script]] (default: the packaged "
                             "fixtures/dnp3/outstation-default.toml)")
    parser.add_argument("--udp", action="store_true", help="serve UDP datagrams instead of TCP")
    limits = parser.add_argument_group("limits (TCP)", "how much one master may take; 0 disables a limit")
    limits.add_argument("--idle-timeout", type=seconds_argument, default=_LIMITS.idle_timeout,
                        metavar="SECONDS",
                        help="close a connection silent (or not reading) this long (default %(default)g)")
    limits.add_argument("--frame-timeout", type=seconds_argument, default=_LIMITS.frame_timeout,
                        metavar="SECONDS",
                        help="close a connection holding an incomplete frame this long (default %(default)g)")
    limits.add_argument("--max-connections", type=count_argument, default=_LIMITS.max_clients, metavar="N",
                        help="serve at most N connections at once (default 0: no limit)")
    limits.add_argument("--max-garbage", type=count_argument, default=_LIMITS.max_garbage, metavar="BYTES",
                        help="close a connection that sent this many octets that frame as nothing "
                             "(default %(default)d)")


def _say(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_config(args.config)
        host, port = parse_bind(args.bind)
        limits = Limits(idle_timeout=args.idle_timeout, frame_timeout=args.frame_timeout,
                        max_garbage=args.max_garbage, max_clients=args.max_connections)
        asyncio.run(_run(Device(settings, on_effect=lambda e: _say(e.line)), host, port, limits, args.udp))
    except (WireproofError, OSError) as err:
        print(f"wireproof simulate: error: {err}", file=sys.stderr)
        return USAGE
    return OK


async def _run(device: Device, host: str, port: int, limits: Limits, udp: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    reader = threading.Thread(target=_read_stdin, args=(device, loop), name="dnp3-outstation-stdin",
                              daemon=True)

    def listening(h: str, p: int) -> None:
        _say(f"listening on {format_address(h, p)}")
        reader.start()
    await serve(device, host, port, stop=stop, udp=udp, on_listening=listening, limits=limits)


def _read_stdin(device: Device, loop: asyncio.AbstractEventLoop) -> None:
    """``step`` / ``change KIND INDEX VALUE`` lines, applied on the loop's thread; EOF ends the reading."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue

        def apply(words: list[str] = words) -> None:
            now = loop.time()
            try:
                if words == ["step"]:
                    _say(f"stepped {device.step(now)}")
                elif words[0] == "change" and len(words) == 4 and words[2].isdigit():
                    device.change(words[1], int(words[2]), _value(words[1], words[3]), now)
                    _say(f"changed {words[1]} {words[2]}")
                else:
                    _say(f"error: unknown command {' '.join(words)!r} (step | change KIND INDEX VALUE)")
            except (HarnessError, ValueError) as err:
                _say(f"error: {err}")
        try:
            loop.call_soon_threadsafe(apply)
        except RuntimeError:
            return  # the loop has ended


def _value(kind: str, text: str) -> Any:
    if kind in ("binary", "binary_output"):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"{text!r} is not a boolean")
        return text.lower() in ("true", "1")
    if kind in ("double_bit", "counter", "frozen_counter"):
        return int(text)
    if kind == "octet_string":
        return text
    number = float(text)
    return int(number) if number.is_integer() else number
