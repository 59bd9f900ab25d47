"""The DNP3 reference master: a blocking driver around the sans-I/O :class:`~.dnp3.master.Dnp3Master`.

    wireproof simulate dnp3-master --target tcp://HOST:PORT [--udp udp://HOST:PORT]
                                   [--master 1] [--outstation 10] [--poll-interval S] [--count N]
                                   [--operate crob:INDEX:CODE ...] [--time-sync] [--non-lan]
                                   [--unsolicited] [--timeout S] [--json]
                                   [--link-confirmed] [--link-retries N] [--link-timeout S]
                                   [--keep-alive S]

It connects, runs the startup sequence (disable unsolicited, integrity poll,
and with ``--unsolicited`` enable unsolicited for classes 1-3), runs the
``--time-sync`` and ``--operate`` tasks, then polls classes 1, 2, 3 every
``--poll-interval`` seconds ``--count`` times (0: until SIGINT/SIGTERM),
answering unsolicited responses in between. Every point update is one
line (``binary[0] = True flags=0x01 (g1v2)``), every task result and
notice too; with ``--json`` each is one JSON object a line (``{"type":
"point", "kind": "binary", "index": 0, "value": true, ...}``).

The link layer sends UNCONFIRMED_USER_DATA by default (as opendnp3 masters do);
``--link-confirmed`` sends CONFIRMED_USER_DATA (the link reset first, FCB,
``--link-retries`` retransmissions after ``--link-timeout`` seconds each;
IEEE 1815-2012 9.2.6.2), ``--keep-alive S`` a REQUEST_LINK_STATUS after S
seconds of silence. A task whose frames the link could not deliver fails
(``task ...: FAILED: link layer: ...``).

Exit status: 0 when every task succeeded, 1 when one failed (a timeout, a
command refused, an IIN2 error), 2 when the target cannot be reached or
the arguments are wrong (a one-line message, no traceback), 130 on Ctrl-C
before the end of a ``--count`` run.

Theory of operation
-------------------
:class:`MasterSession` owns one transport (a TCP stream, or UDP datagrams,
opened by :func:`~wireproof.harness.transports.registry.open_target`) and one
:class:`~wireproof.codecs.dnp3.master.MasterLink`. Everything runs on the
caller's thread: :meth:`MasterSession.pump` reads with a timeout no longer
than the master's next deadline, feeds what arrives to the link, calls
``tick`` with the monotonic clock, writes what the master asks to send and
records what it reports (:attr:`MasterSession.points`, the latest value of
each point, at most :data:`MAX_POINTS` of them; :attr:`MasterSession.results`;
:attr:`MasterSession.effects`, the last :data:`MAX_EFFECTS`). Every wait is
on the socket, with a deadline; nothing sleeps. The link options
(``link_confirmed``, ``link_retries``, ``link_timeout``, ``keep_alive``) go to
the MasterLink; ``on_wire`` sees every octet written and read. Tests (and the outstation
suite) use :func:`connect` and the task methods
(:meth:`~MasterSession.integrity_poll`, :meth:`~MasterSession.operate`,
:meth:`~MasterSession.time_sync`, :meth:`~MasterSession.wait_for`).
:class:`AsyncMasterSession` is the same over asyncio streams (TCP), for a
caller that runs an event loop (``await AsyncMasterSession.open(url)``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from wireproof.codecs.dnp3 import master as M
from wireproof.errors import HarnessError, TransportError, TransportTimeout, WireproofError
from wireproof.harness.exitcodes import FAIL, INTERRUPTED, OK, USAGE
from wireproof.harness.transports.base import TcpAddress, Transport, transport_error
from wireproof.harness.transports.message import MessageTransport
from wireproof.harness.transports.registry import open_target, parse_url

__all__ = ["CROB_CODES", "AsyncMasterSession", "MasterSession", "add_arguments", "connect", "effect_json",
           "effect_line", "run"]

CROB_CODES: dict[str, int] = {  # 11.9.7 table: operation type + trip/close (the common codes)
    "NUL": 0x00, "PULSE_ON": 0x01, "PULSE_OFF": 0x02, "LATCH_ON": 0x03, "LATCH_OFF": 0x04,
    "CLOSE_PULSE_ON": 0x41, "TRIP_PULSE_ON": 0x81,
}
MAX_EFFECTS = 10_000  # effects kept in MasterSession.effects (the oldest are dropped)
MAX_POINTS = 100_000  # distinct (type, index) pairs kept in MasterSession.points
MAX_RESULTS = 1_000  # task results kept in MasterSession.results (the oldest are dropped)


class _Recorder:
    """What both drivers share: the master on its link, and what it reported (bounded)."""

    def __init__(self, *, address: int, outstation: int, config: M.MasterConfig | None,
                 on_effect: Callable[[M.Effect], None] | None, clock: Callable[[], float],
                 link_confirmed: bool = False, link_retries: int = 2, link_timeout: float = 2.0,
                 keep_alive: float | None = None) -> None:
        self.clock = clock
        base = config or M.MasterConfig()
        utc_offset = time.time() - clock()  # the master sees one clock; its UTC is this far away
        self.master = M.Dnp3Master(M.MasterConfig(
            response_timeout=base.response_timeout, utc_offset=utc_offset, lan=base.lan,
            unsolicited_classes=base.unsolicited_classes,
            disable_unsolicited_at_startup=base.disable_unsolicited_at_startup,
            integrity_on_restart=base.integrity_on_restart, max_queue=base.max_queue))
        self.link = M.MasterLink(master=self.master, address=address, outstation=outstation,
                                 confirmed=link_confirmed, link_retries=link_retries,
                                 link_timeout=link_timeout, keep_alive=keep_alive)
        self.points: dict[tuple[str, int], M.PointUpdate] = {}
        self.results: dict[int, M.TaskResult] = {}
        self.effects: deque[M.Effect] = deque(maxlen=MAX_EFFECTS)
        self.on_effect = on_effect
        self.closed_by_peer = False
        self.points_dropped = 0  # updates of new points not kept: MAX_POINTS reached

    def _record(self, effect: M.Effect) -> None:
        if isinstance(effect, M.PointUpdate):
            key = (effect.kind, effect.index)
            if key in self.points or len(self.points) < MAX_POINTS:
                self.points[key] = effect
            else:
                self.points_dropped += 1
        elif isinstance(effect, M.TaskResult):
            self.results[effect.id] = effect
            if len(self.results) > MAX_RESULTS:
                del self.results[next(iter(self.results))]
        self.effects.append(effect)
        if self.on_effect is not None:
            self.on_effect(effect)

    def _wait(self, end: float) -> float:
        """How long to wait for input: until ``end`` or the master's next deadline."""
        deadline = self.link.next_deadline()
        return max(0.0, min(end, deadline if deadline is not None else end) - self.clock())

    def values(self, kind: str) -> dict[int, Any]:
        """The latest value of each point of ``kind``, by index."""
        return {i: p.value for (k, i), p in sorted(self.points.items()) if k == kind}


class MasterSession(_Recorder):
    """A DNP3 master on one connection to an outstation, blocking (module docstring).

    ``link_confirmed``: CONFIRMED_USER_DATA on the link (``link_retries`` retransmissions,
    ``link_timeout`` seconds each); ``keep_alive``: seconds of silence before a REQUEST_LINK_STATUS
    (None: never). ``on_wire`` is called with ``("tx", octets)`` for what is written and
    ``("rx", octets)`` for what is read (a trace, for tests and debugging)."""

    def __init__(self, url: str, *, address: int = 1, outstation: int = 10,
                 config: M.MasterConfig | None = None, connect_timeout: float = 5.0,
                 on_effect: Callable[[M.Effect], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, link_confirmed: bool = False,
                 link_retries: int = 2, link_timeout: float = 2.0, keep_alive: float | None = None,
                 on_wire: Callable[[str, bytes], None] | None = None) -> None:
        super().__init__(address=address, outstation=outstation, config=config, on_effect=on_effect,
                         clock=clock, link_confirmed=link_confirmed, link_retries=link_retries,
                         link_timeout=link_timeout, keep_alive=keep_alive)
        self.on_wire = on_wire
        self.url = url
        self.transport = open_target(url, timeout=connect_timeout)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> MasterSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the loop -----------------------------------------------------------------------

    def _apply(self, effects: list[M.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, M.SendBytes):
                if effect.data:  # empty: a confirmed link holds the frames until the previous ACK
                    if self.on_wire is not None:
                        self.on_wire("tx", effect.data)
                    self.transport.send(effect.data)
            else:
                self._record(effect)

    def pump(self, timeout: float, until: Callable[[], bool] = lambda: False) -> bool:
        """Serve the connection until ``until()`` holds (True) or ``timeout`` seconds pass (False)."""
        end = self.clock() + timeout
        self._apply(self.link.tick(self.clock()))
        while not until():
            now = self.clock()
            if now >= end:
                return False
            data = self._recv(self._wait(end))
            if data:
                if self.on_wire is not None:
                    self.on_wire("rx", data)
                self._apply(self.link.receive_data(data, self.clock()))
            self._apply(self.link.tick(self.clock()))
        return True

    def _recv(self, timeout: float) -> bytes:
        if self.closed_by_peer:
            raise TransportError(f"{self.url}: the outstation closed the connection")
        try:
            if isinstance(self.transport, MessageTransport):
                return self.transport.recv(timeout=timeout)
            assert isinstance(self.transport, Transport)
            data = self.transport.recv(65536, timeout=timeout)
        except TransportTimeout:
            return b""
        if not data:
            self.closed_by_peer = True
            raise TransportError(f"{self.url}: the outstation closed the connection")
        return data

    # --- tasks --------------------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> list[M.TaskResult]:
        """The startup sequence, to its end; the results of its tasks (and of what IIN bits added)."""
        before = set(self.results)
        self._apply(self.link.start(self.clock()))
        self.pump(timeout, lambda: not self.master.busy)
        return [r for tid, r in self.results.items() if tid not in before]

    def run(self, task: M.Task, timeout: float = 30.0) -> M.TaskResult:
        """Queue ``task`` and serve until its result (a failed result if ``timeout`` passes first)."""
        self._apply(self.link.send(task, self.clock()))
        tid = self.master.last_id
        if not self.pump(timeout, lambda: tid in self.results):
            return M.TaskResult(id=tid, task=task, ok=False, reason=f"no result within {timeout:g} s",
                                cause=M.FailureCause.TIMEOUT)
        return self.results[tid]

    def settle(self, timeout: float = 30.0) -> bool:
        """Serve until the master has nothing left to do (tasks the IIN bits queued included, and
        link frames still awaiting their ACK)."""
        return self.pump(timeout, lambda: not self.link.busy)

    def integrity_poll(self, timeout: float = 30.0) -> M.TaskResult:
        return self.run(M.integrity_poll(), timeout)

    def class_poll(self, *classes: int, timeout: float = 30.0) -> M.TaskResult:
        return self.run(M.class_poll(*classes), timeout)

    def event_poll(self, timeout: float = 30.0) -> M.TaskResult:
        return self.run(M.event_poll(), timeout)

    def operate(self, *objects: Any, select: bool = True, timeout: float = 30.0) -> M.TaskResult:
        """SELECT/OPERATE (``select``) or DIRECT_OPERATE the command objects (:func:`~.master.crob`,
        :func:`~.master.analog_output`)."""
        task = M.select_operate(*objects) if select else M.direct_operate(*objects)
        return self.run(task, timeout)

    def time_sync(self, *, lan: bool = True, timeout: float = 30.0) -> M.TaskResult:
        return self.run(M.time_sync(lan=lan), timeout)

    def wait_for(self, predicate: Callable[[M.Effect], bool], timeout: float = 30.0) -> M.Effect | None:
        """Serve until an effect (after now) satisfies ``predicate``; it, or None at the timeout."""
        found: list[M.Effect] = []
        previous = self.on_effect

        def watch(effect: M.Effect) -> None:
            if previous is not None:
                previous(effect)
            if not found and predicate(effect):
                found.append(effect)
        self.on_effect = watch
        try:
            self.pump(timeout, lambda: bool(found))
        finally:
            self.on_effect = previous
        return found[0] if found else None

@contextmanager
def connect(url: str, **kwargs: Any) -> Iterator[MasterSession]:
    """A :class:`MasterSession` to ``url``, closed on exit (``kwargs`` as the class takes)."""
    session = MasterSession(url, **kwargs)
    try:
        yield session
    finally:
        session.close()


class AsyncMasterSession(_Recorder):
    """The asyncio twin of :class:`MasterSession` (TCP targets): ``await AsyncMasterSession.open(url)``."""

    def __init__(self, url: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 address: int = 1, outstation: int = 10, config: M.MasterConfig | None = None,
                 on_effect: Callable[[M.Effect], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, link_confirmed: bool = False,
                 link_retries: int = 2, link_timeout: float = 2.0, keep_alive: float | None = None) -> None:
        super().__init__(address=address, outstation=outstation, config=config, on_effect=on_effect,
                         clock=clock, link_confirmed=link_confirmed, link_retries=link_retries,
                         link_timeout=link_timeout, keep_alive=keep_alive)
        self.url, self.reader, self.writer = url, reader, writer

    @classmethod
    async def open(cls, url: str, *, connect_timeout: float = 5.0, **kwargs: Any) -> AsyncMasterSession:
        """Connect to a ``tcp://`` target; :class:`TransportError` when it cannot be reached."""
        target = parse_url(url)
        if not isinstance(target, TcpAddress):
            raise HarnessError(f"{url}: the asyncio master session takes tcp:// targets")
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(target.host, target.port),
                                                    connect_timeout)
        except (OSError, TimeoutError) as err:
            raise transport_error(url, "connect", err) from None
        return cls(url, reader, writer, **kwargs)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()

    async def _apply(self, effects: list[M.Effect]) -> None:
        for effect in effects:
            if isinstance(effect, M.SendBytes):
                if effect.data:
                    self.writer.write(effect.data)
                    await self.writer.drain()
            else:
                self._record(effect)

    async def pump(self, timeout: float, until: Callable[[], bool] = lambda: False) -> bool:
        """As :meth:`MasterSession.pump`."""
        end = self.clock() + timeout
        await self._apply(self.link.tick(self.clock()))
        while not until():
            if self.clock() >= end:
                return False
            if self.closed_by_peer:
                raise TransportError(f"{self.url}: the outstation closed the connection")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), self._wait(end))
            except TimeoutError:
                data = None
            except OSError as err:
                raise transport_error(self.url, "recv", err) from None
            if data == b"":
                self.closed_by_peer = True
                raise TransportError(f"{self.url}: the outstation closed the connection")
            if data:
                await self._apply(self.link.receive_data(data, self.clock()))
            await self._apply(self.link.tick(self.clock()))
        return True

    async def start(self, timeout: float = 30.0) -> list[M.TaskResult]:
        before = set(self.results)
        await self._apply(self.link.start(self.clock()))
        await self.pump(timeout, lambda: not self.master.busy)
        return [r for tid, r in self.results.items() if tid not in before]

    async def run(self, task: M.Task, timeout: float = 30.0) -> M.TaskResult:
        await self._apply(self.link.send(task, self.clock()))
        tid = self.master.last_id
        if not await self.pump(timeout, lambda: tid in self.results):
            return M.TaskResult(id=tid, task=task, ok=False, reason=f"no result within {timeout:g} s",
                                cause=M.FailureCause.TIMEOUT)
        return self.results[tid]


# ------------------------------------------------------------------------------- output


def effect_json(effect: M.Effect) -> dict[str, Any]:
    """One effect as a JSON-ready object."""
    if isinstance(effect, M.PointUpdate):
        value = effect.value.hex() if isinstance(effect.value, bytes) else effect.value
        return {"type": "point", "kind": effect.kind, "index": effect.index, "value": value,
                "flags": effect.flags, "time": effect.time, "group": effect.group,
                "variation": effect.variation, "event": effect.event, "unsolicited": effect.unsolicited}
    if isinstance(effect, M.TaskResult):
        return {"type": "task", "id": effect.id, "task": effect.task.name, "ok": effect.ok,
                "reason": effect.reason, "iin": f"0x{effect.iin:04x}", "statuses": list(effect.statuses),
                "cause": effect.cause.value if effect.cause is not None else None}
    if isinstance(effect, M.Notice):
        return {"type": "notice", "kind": effect.kind, "message": effect.message, "clause": effect.clause}
    return {"type": type(effect).__name__}


def effect_line(effect: M.Effect) -> str:
    """One effect as a readable line."""
    if isinstance(effect, M.PointUpdate):
        return effect.line()
    if isinstance(effect, M.TaskResult):
        what = "ok" if effect.ok else f"FAILED: {effect.reason}"
        statuses = f" statuses={list(effect.statuses)}" if effect.statuses else ""
        return f"task {effect.task.name}: {what} (IIN 0x{effect.iin:04x}){statuses}"
    if isinstance(effect, M.Notice):
        return f"notice {effect.kind}: {effect.message}" + (f" [{effect.clause}]" if effect.clause else "")
    return repr(effect)


# ------------------------------------------------------------------------------- the command


def _operation(text: str) -> tuple[str, int, int]:
    parts = text.split(":")
    if len(parts) != 3 or parts[0] not in ("crob", "analog"):
        raise argparse.ArgumentTypeError(f"expected crob:INDEX:CODE or analog:INDEX:VALUE, not {text!r}")
    kind, index, code = parts
    if not index.isdigit() or int(index) > 0xFFFF:
        raise argparse.ArgumentTypeError(f"index must be 0..65535, not {index!r}")
    if kind == "crob":
        if code.upper() in CROB_CODES:
            return kind, int(index), CROB_CODES[code.upper()]
        try:
            value = int(code, 0)
        except ValueError:
            value = -1
        if not 0 <= value <= 0xFF:
            raise argparse.ArgumentTypeError(f"CROB code must be 0..255 or one of {', '.join(CROB_CODES)}")
        return kind, int(index), value
    try:
        return kind, int(index), int(code, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"analog value must be an integer, not {code!r}") from None


def _address(text: str) -> int:
    if not text.isdigit() or int(text) > 0xFFEF:
        raise argparse.ArgumentTypeError(f"must be a link address 0..65519, not {text!r}")
    return int(text)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text!r}")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) > 255:
        raise argparse.ArgumentTypeError(f"must be a number of retries 0..255, not {text!r}")
    return int(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", metavar="URL", help="the outstation: tcp://HOST:PORT (or udp://HOST:PORT)")
    parser.add_argument("--udp", metavar="URL", help="talk to the outstation over UDP at this udp:// URL "
                                                     "(instead of --target)")
    parser.add_argument("--master", type=_address, default=1, help="this master's link address (default 1)")
    parser.add_argument("--outstation", type=_address, default=10,
                        help="the outstation's link address (default 10)")
    parser.add_argument("--poll-interval", type=_positive, default=5.0, metavar="S",
                        help="seconds between class 1/2/3 polls (default 5)")
    parser.add_argument("--count", type=int, default=0, metavar="N",
                        help="class polls after startup, then exit (default 0: poll until interrupted)")
    parser.add_argument("--operate", type=_operation, action="append", default=[],
                        metavar="crob:INDEX:CODE",
                        help="SELECT then OPERATE a CROB (code LATCH_ON, PULSE_ON, ... or a number) or "
                             "analog:INDEX:VALUE (g41v1); repeatable")
    parser.add_argument("--direct", action="store_true", help="--operate with DIRECT_OPERATE instead")
    parser.add_argument("--time-sync", action="store_true", help="synchronize the outstation's clock")
    parser.add_argument("--non-lan", action="store_true",
                        help="time sync by DELAY_MEASURE + g50v1 (default: the LAN procedure, "
                             "RECORD_CURRENT_TIME + g50v3)")
    parser.add_argument("--unsolicited", action="store_true",
                        help="enable unsolicited responses for classes 1-3 at startup")
    parser.add_argument("--timeout", type=_positive, default=5.0, metavar="S",
                        help="response timeout in seconds (default 5)")
    parser.add_argument("--link-confirmed", action="store_true",
                        help="send CONFIRMED_USER_DATA on the link (reset first, FCB, retries; "
                             "default: UNCONFIRMED_USER_DATA, as opendnp3 masters)")
    parser.add_argument("--link-retries", type=_count, default=2, metavar="N",
                        help="link retransmissions of an unacknowledged frame (default 2)")
    parser.add_argument("--link-timeout", type=_positive, default=2.0, metavar="S",
                        help="link response timeout in seconds (default 2)")
    parser.add_argument("--keep-alive", type=_positive, default=None, metavar="S",
                        help="REQUEST_LINK_STATUS after S seconds without a frame (default: never)")
    parser.add_argument("--json", action="store_true", help="one JSON object a line")


def run(args: argparse.Namespace) -> int:
    url = args.udp or args.target
    if not url:
        print("wireproof simulate dnp3-master: error: --target URL (or --udp URL) is required",
              file=sys.stderr)
        return USAGE
    if args.count < 0:
        print("wireproof simulate dnp3-master: error: --count must be >= 0", file=sys.stderr)
        return USAGE
    emit: Callable[[M.Effect], None]
    if args.json:
        def emit(effect: M.Effect) -> None:
            print(json.dumps(effect_json(effect)), flush=True)
    else:
        def emit(effect: M.Effect) -> None:
            print(effect_line(effect), flush=True)
    config = M.MasterConfig(response_timeout=args.timeout, lan=not args.non_lan,
                            unsolicited_classes=(1, 2, 3) if args.unsolicited else ())
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        raise KeyboardInterrupt
    try:
        session = MasterSession(url, address=args.master, outstation=args.outstation, config=config,
                                connect_timeout=args.timeout, on_effect=emit,
                                link_confirmed=args.link_confirmed, link_retries=args.link_retries,
                                link_timeout=args.link_timeout,
                                keep_alive=args.keep_alive)
    except (HarnessError, OSError) as err:
        print(f"wireproof simulate dnp3-master: error: target not reachable: {err}", file=sys.stderr)
        return USAGE
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    failed = False
    try:
        with session:
            failed |= any(not r.ok for r in session.start(timeout=args.timeout * 10))
            if args.time_sync:
                failed |= not session.time_sync(lan=not args.non_lan, timeout=args.timeout * 4).ok
            for kind, index, value in args.operate:
                obj = M.crob(index, value) if kind == "crob" else M.analog_output(index, value)
                failed |= not session.operate(obj, select=not args.direct, timeout=args.timeout * 4).ok
            polls = 0
            while args.count == 0 or polls < args.count:
                session.pump(args.poll_interval if polls else 0.0)
                failed |= not session.class_poll(1, 2, 3, timeout=args.timeout * 4).ok
                polls += 1
            session.settle(args.timeout * 4)
    except KeyboardInterrupt:
        return OK if args.count == 0 else INTERRUPTED
    except (TransportError, WireproofError, OSError) as err:
        print(f"wireproof simulate dnp3-master: error: {err}", file=sys.stderr)
        return FAIL
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return FAIL if failed else OK
