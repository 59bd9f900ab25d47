"""Serving sans-I/O byte-stream connections over TCP, with limits that shed abusive clients.

A reference device gives :func:`serve_stream` a factory of connections (a
pure machine per client: bytes in, replies out, see :class:`StreamConnection`)
and :class:`Limits`; this module owns the sockets, the clock and the
fairness between clients. Nothing here names a protocol.

Theory of operation
-------------------
- Accepting: one task awaits ``loop.sock_accept``. When accept fails for
  lack of resources (EMFILE/ENFILE at the file-descriptor limit, ENOBUFS,
  ENOMEM) the loop backs off (10 ms doubling to 1 s), reports at most one
  line a second through ``log`` (with the count of failures since the last
  line, never a traceback), and tries again; open connections keep being
  served, and connections are accepted again as soon as descriptors free up.
  (asyncio's own ``start_server`` logs a traceback for each of up to 100
  attempts per loop turn in that case.)
- Fairness: each client is its own task. A turn reads at most
  ``Limits.read_size`` bytes and takes at most ``Limits.max_frames`` frames,
  then yields to the event loop before the rest, so a flooding client gets
  one turn like everybody else.
- Garbage: a client whose bytes since its last whole frame exceed
  ``Limits.max_garbage`` (discarded, unframeable input) is disconnected.
- Timeouts, from the loop's monotonic clock: ``idle_timeout`` closes a
  connection that has sent nothing for that long, and one whose answers it
  has not read for that long (its socket buffer stays full: we stop reading
  from it, so nothing piles up on our side beyond the transport's
  high-water mark); ``frame_timeout`` closes one that has held an
  incomplete frame for that long (half a header, then silence). 0 disables
  either.
- Devices that speak first (timers, pushed data): a connection that also has
  ``tick(now) -> StreamOutput`` and ``next_deadline`` (loop seconds, or
  None) is a :class:`TimedStreamConnection`. Its loop calls ``tick`` with
  the loop's monotonic clock before it feeds each read, when
  ``next_deadline`` comes, and whenever the device's :class:`Wakeup` is
  notified (its ``wakeup``: the device changed, every connection gets a
  look), and sends what it answers. ``close()`` on the connection, if it has one, is called
  when the connection ends.
- In the background: :func:`start_in_background` runs a device's serving
  coroutine on an event loop of its own thread (tests, and suites whose
  default target is a built-in reference device), returns once it listens,
  runs calls on that loop (:meth:`Background.call`) and stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import math
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from wireproof.errors import HarnessError

__all__ = ["Background", "Limits", "StreamConnection", "StreamOutput", "TimedStreamConnection", "Wakeup",
           "count_argument", "format_address", "parse_bind", "seconds_argument", "serve_stream",
           "start_in_background"]

_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What one client may take from a served device (0 disables a timeout or the garbage budget)."""

    idle_timeout: float = 60.0  # s without a byte from the client, or without it reading our answers
    frame_timeout: float = 5.0  # s holding an incomplete frame
    max_garbage: int = 64 * 1024  # bytes discarded since the client's last whole frame
    read_size: int = 4096  # bytes read in one turn
    max_frames: int = 64  # frames taken in one turn
    max_clients: int = 0  # connections served at once; one more is accepted and closed at once (0: no limit)

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "frame_timeout"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number of seconds >= 0, not {value!r}")
        if self.max_clients < 0:
            raise ValueError(f"max_clients must be >= 0, not {self.max_clients!r}")
        if self.max_garbage < 0 or self.read_size < 1 or self.max_frames < 1:
            raise ValueError("max_garbage must be >= 0, read_size and max_frames >= 1")


class StreamOutput(Protocol):
    """What a connection's ``receive_data`` answers (``ConnectionOutput`` of a device's machine)."""

    @property
    def replies(self) -> Sequence[bytes]: ...

    @property
    def close(self) -> bool: ...

    @property
    def frames(self) -> int: ...

    @property
    def more(self) -> bool: ...


class StreamConnection(Protocol):
    """One client's sans-I/O connection: bytes in, replies out; what it buffers and discarded."""

    def receive_data(self, data: bytes, *, max_frames: int | None = None) -> StreamOutput: ...

    @property
    def buffered(self) -> int: ...

    @property
    def garbage(self) -> int: ...


class TimedStreamConnection(StreamConnection, Protocol):
    """A connection with its own timers: ``tick(now)`` at ``next_deadline`` and on every wake-up."""

    def tick(self, now: float) -> StreamOutput: ...

    @property
    def next_deadline(self) -> float | None: ...

    @property
    def wakeup(self) -> Wakeup | None: ...


class Wakeup:
    """Tells every timed connection of a device to look again (``notify`` from the loop's thread)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self) -> None:
        await self._event.wait()


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def serve_stream(new_connection: Callable[[], StreamConnection], host: str, port: int, *,
                       stop: asyncio.Event, limits: Limits = Limits(),
                       on_listening: Callable[[str, int], None] | None = None,
                       log: Callable[[str], None] = _stderr) -> None:
    """Serve on ``host:port`` until ``stop`` is set; ``on_listening(host, port)`` once bound.

    On stop, the listening socket and every open connection are closed.
    """
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(128)
        listener.setblocking(False)
        bound = listener.getsockname()
        if on_listening is not None:
            on_listening(str(bound[0]), int(bound[1]))
        clients: set[asyncio.Task[None]] = set()
        writers: set[asyncio.StreamWriter] = set()
        acceptor = asyncio.create_task(_accept(listener, new_connection, limits, clients, writers, log))
        await stop.wait()
        acceptor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await acceptor
    finally:
        listener.close()
    for writer in list(writers):
        writer.close()
    if clients:
        await asyncio.wait(list(clients), timeout=_STOP_TIMEOUT)


async def _accept(listener: socket.socket, new_connection: Callable[[], StreamConnection], limits: Limits,
                  clients: set[asyncio.Task[None]], writers: set[asyncio.StreamWriter],
                  log: Callable[[str], None]) -> None:
    loop = asyncio.get_running_loop()
    delay, last_log, failed = 0.0, -math.inf, 0
    while True:
        try:
            sock, _ = await loop.sock_accept(listener)
        except OSError as err:
            if err.errno not in _OUT_OF_RESOURCES:
                if isinstance(err, ConnectionError):
                    continue  # the client gave up before we accepted it
                raise
            failed += 1
            now = loop.time()
            if now - last_log >= 1.0:
                more = f" ({failed - 1} more since the last message)" if failed > 1 and last_log > -math.inf \
                    else ""
                log(f"wireproof simulate: cannot accept a connection: {err.strerror or err}{more}; "
                    "serving the open ones and retrying")
                last_log, failed = now, 0
            delay = min(1.0, max(0.01, delay * 2))
            await asyncio.sleep(delay)
            continue
        delay = 0.0
        if limits.max_clients and len(clients) >= limits.max_clients:
            # A device at its connection limit, as many PLCs are: the connection is taken
            # and closed at once (a client sees its first read end), the others go on.
            sock.close()
            continue
        task = asyncio.create_task(_client(sock, new_connection(), limits, writers))
        clients.add(task)
        task.add_done_callback(clients.discard)


async def _client(sock: socket.socket, conn: StreamConnection, limits: Limits,
                  writers: set[asyncio.StreamWriter]) -> None:
    try:
        reader, writer = await asyncio.open_connection(sock=sock)
    except OSError:
        sock.close()
        return
    writers.add(writer)
    try:
        if hasattr(conn, "tick") and hasattr(conn, "next_deadline") and hasattr(conn, "wakeup"):
            await _serve_timed(cast(TimedStreamConnection, conn), reader, writer, limits)
        else:
            await _serve(conn, reader, writer, limits)
    except (ConnectionError, OSError, TimeoutError):
        pass  # a reset or a timeout concerns only this client
    finally:
        closer = getattr(conn, "close", None)
        if callable(closer):
            closer()
        writers.discard(writer)
        if writer.transport.get_write_buffer_size():
            writer.transport.abort()  # answers the client did not read: dropped, not kept for it
        else:
            writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await writer.wait_closed()


async def _serve(conn: StreamConnection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 limits: Limits) -> None:
    loop = asyncio.get_running_loop()
    idle, frame = limits.idle_timeout or math.inf, limits.frame_timeout or math.inf
    last_byte = loop.time()
    partial_since = math.inf  # when the incomplete frame now buffered began
    while True:
        deadline = min(last_byte + idle, partial_since + frame)
        wait = deadline - loop.time()
        if wait <= 0:
            return  # idle, or an incomplete frame held too long
        try:
            data = await asyncio.wait_for(reader.read(limits.read_size), None if math.isinf(wait) else wait)
        except TimeoutError:
            return
        if not data:
            return  # the client closed, possibly mid-frame: nothing to answer
        last_byte = loop.time()
        out = conn.receive_data(data, max_frames=limits.max_frames)
        taken = out.frames
        while True:
            if out.replies:
                for reply in out.replies:
                    writer.write(reply)
                # A client that does not read its answers: we wait here (not reading it
                # either) until it does, at most the idle timeout.
                await asyncio.wait_for(writer.drain(), None if math.isinf(idle) else idle)
            if out.close or not out.more:
                break
            await asyncio.sleep(0)  # the frame budget is spent: let the other clients have a turn
            out = conn.receive_data(b"", max_frames=limits.max_frames)
            taken += out.frames
        if out.close or (limits.max_garbage and conn.garbage > limits.max_garbage):
            return
        if not conn.buffered:
            partial_since = math.inf
        elif taken or math.isinf(partial_since):
            partial_since = last_byte  # a new incomplete frame began with these bytes


async def _serve_timed(conn: TimedStreamConnection, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter, limits: Limits) -> None:
    """``_serve`` for a connection with timers: reads, deadlines and wake-ups, whichever comes first."""
    wakeup = conn.wakeup
    loop = asyncio.get_running_loop()
    idle, frame = limits.idle_timeout or math.inf, limits.frame_timeout or math.inf
    last_byte = loop.time()
    partial_since = math.inf
    read: asyncio.Task[bytes] | None = None
    woken: asyncio.Task[None] | None = None

    async def send(out: StreamOutput) -> bool:
        for reply in out.replies:
            writer.write(reply)
        if out.replies:
            await asyncio.wait_for(writer.drain(), None if math.isinf(idle) else idle)
        return bool(out.close)

    try:
        while True:
            if await send(conn.tick(loop.time())):
                return
            now = loop.time()
            deadline = min(last_byte + idle, partial_since + frame)
            if deadline <= now:
                return  # idle, or an incomplete frame held too long
            due = conn.next_deadline
            wait = min(deadline, due if due is not None else math.inf) - now
            if read is None:
                read = asyncio.ensure_future(reader.read(limits.read_size))
            if woken is None and wakeup is not None:
                woken = asyncio.ensure_future(wakeup.wait())
            waiting: set[asyncio.Future[object]] = {cast("asyncio.Future[object]", read)}
            if woken is not None:
                waiting.add(cast("asyncio.Future[object]", woken))
            done, _ = await asyncio.wait(waiting, timeout=None if math.isinf(wait) else max(0.0, wait),
                                         return_when=asyncio.FIRST_COMPLETED)
            if woken is not None and woken in done:
                woken = None
            if read not in done:
                continue
            data, read = read.result(), None
            if not data:
                return
            last_byte = loop.time()
            if await send(conn.tick(last_byte)):
                return
            out = conn.receive_data(data, max_frames=limits.max_frames)
            taken = out.frames
            while True:
                if await send(out) or not out.more:
                    break
                await asyncio.sleep(0)
                out = conn.receive_data(b"", max_frames=limits.max_frames)
                taken += out.frames
            if out.close or (limits.max_garbage and conn.garbage > limits.max_garbage):
                return
            if not conn.buffered:
                partial_since = math.inf
            elif taken or math.isinf(partial_since):
                partial_since = last_byte
    finally:
        for task in (read, woken):
            if task is not None:
                task.cancel()


# --- addresses, and serving in the background ---------------------------------------------


def parse_bind(bind: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT`` for IPv6) -> (host, port); ``HarnessError`` if malformed."""
    host, sep, port = bind.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 0xFFFF:
        raise HarnessError(f"bind address must be HOST:PORT, not {bind!r}")
    return host.strip("[]"), int(port)


def seconds_argument(text: str) -> float:
    """An argparse ``type`` for a limit in seconds: a finite number >= 0 (0 disables the limit)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, not {text!r}")
    return value


def count_argument(text: str) -> int:
    """An argparse ``type`` for a limit in units: a whole number >= 0 (0 disables the limit)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, not {text!r}")
    return int(text)


def format_address(host: str, port: int) -> str:
    """``HOST:PORT``, with an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


Listening = Callable[[str, int], None]
"""Called by a serving coroutine once it listens, with the address it got."""


@dataclass
class Background:
    """A device served on an event loop of its own thread (:func:`start_in_background`)."""

    host: str
    port: int
    loop: asyncio.AbstractEventLoop
    _stopping: asyncio.Event = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _timeout: float = field(repr=False)

    def call(self, fn: Callable[[float], Any]) -> Any:
        """``fn(now)`` run on the device's loop (``now``: the loop's clock); its result or its exception."""
        async def run_it() -> Any:
            return fn(self.loop.time())
        return asyncio.run_coroutine_threadsafe(run_it(), self.loop).result(self._timeout)

    def stop(self) -> None:
        """Stop serving and wait for the thread to end; idempotent."""
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                self.loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(self._timeout)


def start_in_background(serve: Callable[[asyncio.Event, Listening], Awaitable[None]], *, name: str,
                        timeout: float = 10.0) -> Background:
    """Run ``serve(stop, on_listening)`` on a new thread's event loop; return once it listens.

    ``serve`` must call ``on_listening(host, port)`` when bound and return when
    ``stop`` is set. If it fails or does not listen within ``timeout`` seconds, a
    :class:`HarnessError` names ``name`` and the reason (the exception is never lost).
    """
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        state["loop"], state["stop"] = asyncio.get_running_loop(), stop

        def listening(h: str, p: int) -> None:
            state["address"] = (h, p)
            ready.set()
        await serve(stop, listening)

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # reported to the starting thread, never lost
            state["error"] = exc
        finally:
            ready.set()

    thread = threading.Thread(target=thread_main, name=name, daemon=True)
    thread.start()
    if not ready.wait(timeout) or "address" not in state:
        thread.join(timeout)
        raise HarnessError(f"{name} did not start: {state.get('error')!r}")
    host, port = state["address"]
    return Background(host=host, port=port, loop=state["loop"], _stopping=state["stop"], _thread=thread,
                      _timeout=timeout)
