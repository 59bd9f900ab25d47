"""The replay analytics in a second process: the same numbers, on another core.

:class:`AnalyticsProcess` takes the feeding calls of
:class:`~wireproof.harness.replay.analytics.Analytics` (``frame_batch``,
``message_batch``, ``values``, ``value``, ``flush``) and :meth:`~AnalyticsProcess.finish`
returns the fed :class:`~.analytics.Analytics`::

    with AnalyticsProcess() as feed:      # or AnalyticsProcess(Analytics(...)) / (k_sigma=5, ...)
        ...feed.frame_batch(...); feed.values(...)...
        analytics = feed.finish()
    analytics.summary()

Theory of operation
-------------------
*Why a process.* The statistics are pure Python and take a large share of
a replay; a thread would share the interpreter lock, a process runs on
another core. The parent (the replay) only buffers and ships.

*What crosses the pipe.* A child process (``fork`` on Linux, else
``spawn``) holds a real :class:`~.analytics.Analytics`; one duplex
:func:`multiprocessing.Pipe` joins them. The parent records the feeding
calls, ``(method name, arguments)``, in an outgoing list and sends the list
(one pickle, one ``send``) every ``calls_per_send`` calls; the child runs
them in order. ``values`` is buffered in the parent, by the same
:class:`~.analytics.ValueBuffer` as in-process with the Analytics' own
``batch``, ``max_buffered`` and ``max_series``: a key it opens becomes an
``open_block`` call, a block it flushes a ``values_block`` call, so the
child receives a few large blocks rather than a call per message. The
lists a caller passes (``timestamps``, ``sizes``, a row of ``values``) are
handed over, not copied: the caller must not change them after the call
(the replay engine starts new lists after each batch; a register row is a
tuple). They must pickle (lists, tuples, ints, bools, floats do).

*Identical to in-process.* The child runs the very calls an in-process
Analytics would run on itself, in the same order: ``frame_batch``,
``message_batch`` and ``value`` as given, and for ``values`` the opens and
flushes of an identical buffer with identical triggers, interleaved with
the other calls exactly where the in-process buffer would have run them.
The pipe keeps order and every statistic is a deterministic function of
the call sequence, so :meth:`~.analytics.Analytics.summary`,
:meth:`~.analytics.Analytics.plots` and :meth:`~.analytics.Analytics.text`
are bit-identical. A non-finite ``values`` timestamp is forwarded as a
``values`` call (the child counts it).

*Memory.* The parent holds the value buffer (bounded as in-process), at
most ``calls_per_send`` calls, and what the pipe's kernel buffer holds:
when the child falls behind, ``send`` blocks (back-pressure) instead of
the parent queueing without bound. :meth:`~AnalyticsProcess.finish` sends
the rest and an end marker; the child flushes and sends the Analytics back
pickled, with its peak RSS (``ru_maxrss``, KiB on Linux; with ``fork`` it
includes what the child shares with the parent as it was at the start).

*Failure.* An exception in the child is sent back as its formatted
traceback and the child exits; the parent raises
:class:`~wireproof.errors.HarnessError` with that text at its next send
that fails or at :meth:`~AnalyticsProcess.finish`. A child that dies
without a word (killed) gives a HarnessError saying so: receiving polls
with a timeout and checks that the child is alive, a send to a dead child
fails with a broken pipe, so nothing hangs. The child ignores SIGINT
(Ctrl-C is the parent's to handle) and exits when the parent's end closes;
:meth:`~AnalyticsProcess.close` (also on leaving a ``with`` block)
terminates it if it still runs.

With ``on_failure="drop"`` (what a replay uses: a replay is worth finishing
without its analytics) a send that fails does not raise: it records the
reason in :attr:`~AnalyticsProcess.failure`, ends the child, and every later
feeding call is dropped; :meth:`~AnalyticsProcess.finish` then raises the
HarnessError, so the caller learns it once, at the end.
"""

from __future__ import annotations

import gc
import math
import multiprocessing
import signal
import sys
import traceback
from collections.abc import Sequence
from multiprocessing.connection import Connection
from types import TracebackType
from typing import Any, Literal

from wireproof.errors import HarnessError
from wireproof.harness.replay.analytics import Analytics, BlockKey, ValueBuffer

__all__ = ["AnalyticsProcess"]

_CALLS = frozenset({"frame_batch", "message_batch", "value", "values", "open_block", "values_block"})
_END = None  # the end marker: no more calls


def _peak_rss_kib() -> int | None:
    try:
        import resource
    except ImportError:  # not on Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


def _child(conn: Connection, analytics: Analytics, inherited: Connection | None) -> None:
    """The child process: run the calls it receives on ``analytics``, send it back at the end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Batches of short-lived objects, freed by reference counting: the cyclic collector's
    # default young pass (every 700 allocations) would walk the buffered values again and
    # again. This process does nothing else.
    gc.set_threshold(100_000, *gc.get_threshold()[1:])
    if inherited is not None:  # the parent's end, inherited by fork: let the parent's exit be EOF here
        inherited.close()
    try:
        methods = {name: getattr(analytics, name) for name in _CALLS}
        while True:
            try:
                calls = conn.recv()
            except EOFError:  # the parent went away without finishing
                return
            if calls is _END:
                break
            for name, args in calls:
                methods[name](*args)
        analytics.flush()
        reply: tuple[str, Any, int | None] = ("ok", analytics, _peak_rss_kib())
    except BaseException:  # every failure goes back to the parent as text
        reply = ("error", traceback.format_exc(), _peak_rss_kib())
    try:
        conn.send(reply)
    except (OSError, EOFError):
        pass  # the parent is gone: nobody to tell
    finally:
        conn.close()


class AnalyticsProcess:
    """Feed an :class:`~.analytics.Analytics` in a child process (see the module docstring).

    ``analytics`` is a fresh instance to feed (none fed yet; it is copied into
    the child: a subclass works), or else one is made from the keyword
    ``params`` of :class:`~.analytics.Analytics`. ``calls_per_send`` calls
    are sent at once; ``poll_s`` is how often a waiting :meth:`finish`
    checks that the child lives. The child starts at once.
    """

    def __init__(self, analytics: Analytics | None = None, *, calls_per_send: int = 32,
                 poll_s: float = 0.1, on_failure: Literal["raise", "drop"] = "raise", **params: Any) -> None:
        if analytics is not None and params:
            raise HarnessError("AnalyticsProcess: give an Analytics or its parameters, not both")
        if calls_per_send < 1 or not poll_s > 0:
            raise HarnessError("AnalyticsProcess: calls_per_send must be >= 1 and poll_s > 0")
        if analytics is None:
            analytics = Analytics(**params)
        self.calls_per_send = calls_per_send
        self.poll_s = poll_s
        self.child_peak_rss_kib: int | None = None
        self.on_failure = on_failure
        self.failure: str | None = None  # why the child is gone, once a send failed (on_failure="drop")
        self._calls: list[tuple[str, tuple[Any, ...]]] = []
        self._buffer = ValueBuffer(self._values_block, batch=analytics.batch,
                                   max_buffered=analytics.max_buffered, max_keys=analytics.max_series,
                                   opened=self._open_block)
        self._result: Analytics | None = None
        # fork is fast and needs nothing picklable but the pipe's traffic; elsewhere it is unsafe
        if sys.platform == "linux":
            context: Any = multiprocessing.get_context("fork")
            fork = True
        else:
            context = multiprocessing.get_context("spawn")
            fork = False
        self._conn, child_conn = context.Pipe(duplex=True)
        inherited = self._conn if fork else None
        self.process: multiprocessing.process.BaseProcess = context.Process(
            target=_child, args=(child_conn, analytics, inherited), name="wireproof-analytics", daemon=True)
        try:
            self.process.start()
        finally:
            child_conn.close()  # the child's end lives in the child only: its exit is EOF here

    # -- the feeding interface of Analytics ---------------------------------------------------

    def frame_batch(self, flow_label: str, protocol: str, timestamps: list[float], sizes: list[int]) -> None:
        """:meth:`.Analytics.frame_batch`; the lists are handed over (not to be changed after)."""
        self._call("frame_batch", (flow_label, protocol, timestamps, sizes))

    def message_batch(self, flow_label: str, timestamps: list[float]) -> None:
        """:meth:`.Analytics.message_batch`; the list is handed over (not to be changed after)."""
        self._call("message_batch", (flow_label, timestamps))

    def value(self, series: str, timestamp: float, value: float) -> None:
        """:meth:`.Analytics.value`."""
        self._call("value", (series, timestamp, value))

    def values(self, series_base: str, start: int, timestamp: float, values: Sequence[float]) -> None:
        """:meth:`.Analytics.values`, buffered here as there; ``values`` is kept (not to be changed)."""
        if not values:
            return
        if not math.isfinite(timestamp):  # the child counts it as non-finite
            self._call("values", (series_base, start, timestamp, values))
            return
        self._buffer.add(series_base, start, timestamp, values)

    def flush(self) -> None:
        """Hand every buffered value on and send what is pending (:meth:`.Analytics.flush`)."""
        self._buffer.flush()
        if self._calls:
            self._send(self._calls)
            self._calls = []

    def _open_block(self, key: BlockKey) -> None:
        self._call("open_block", key)

    def _values_block(self, key: BlockKey, times: list[float], rows: list[Sequence[float]]) -> None:
        self._call("values_block", (key[0], key[1], times, rows))

    def _call(self, name: str, args: tuple[Any, ...]) -> None:
        calls = self._calls
        calls.append((name, args))
        if len(calls) >= self.calls_per_send:
            self._calls = []
            self._send(calls)

    # -- the end -------------------------------------------------------------------------------

    def finish(self) -> Analytics:
        """Send the rest, wait for the child and return its fed Analytics.

        Raises :class:`~wireproof.errors.HarnessError` (with the child's
        traceback) if the child failed or died. The child is gone afterwards.
        """
        if self._result is not None:
            return self._result
        if self.failure is not None:
            raise HarnessError(self.failure)
        try:
            self.flush()
            self._send(_END)
            if self.failure is not None:  # the sends above found the child gone
                raise HarnessError(self.failure)
            status, payload, rss = self._receive()
            self.child_peak_rss_kib = rss
            if status != "ok":
                raise HarnessError(f"the analytics process failed:\n{payload}")
            if not isinstance(payload, Analytics):
                raise HarnessError(f"the analytics process sent {type(payload).__name__}, not Analytics")
            self.process.join(self.poll_s * 50)
            self._result = payload
            return payload
        finally:
            self.close()

    def _send(self, message: Any) -> None:
        if self.failure is not None:  # dropped: the child is gone (on_failure="drop")
            return
        try:
            self._conn.send(message)
        except (OSError, ValueError) as exc:  # a broken pipe (the child is gone), or closed here
            reply = self._reply_if_any()
            if reply is not None and reply[0] == "error":
                error = HarnessError(f"the analytics process failed:\n{reply[1]}")
            else:
                error = HarnessError(f"the analytics process is gone ({self._exit()}): {exc}")
            if self.on_failure == "raise":
                raise error from exc
            self.failure = str(error)
            self.close()

    def _reply_if_any(self) -> tuple[str, Any, int | None] | None:
        """A reply the child sent before it went away, if there is one (never blocks)."""
        try:
            if self._conn.poll(0):
                reply: tuple[str, Any, int | None] = self._conn.recv()
                return reply
        except (OSError, EOFError, ValueError):
            pass
        return None

    def _receive(self) -> tuple[str, Any, int | None]:
        conn = self._conn
        while True:
            try:
                if conn.poll(self.poll_s):
                    reply: tuple[str, Any, int | None] = conn.recv()
                    return reply
            except (OSError, EOFError) as exc:  # it died while (or before) sending
                raise HarnessError(f"the analytics process died without a result ({self._exit()})") from exc
            if not self.process.is_alive():
                reply_or_none = self._reply_if_any()  # it may have sent and exited since the poll
                if reply_or_none is not None:
                    return reply_or_none
                raise HarnessError(f"the analytics process died without a result ({self._exit()})")

    def _exit(self) -> str:
        self.process.join(self.poll_s)
        code = self.process.exitcode
        if code is None:
            return "still running"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def close(self) -> None:
        """Terminate the child if it still runs and release the pipe (idempotent)."""
        process = self.process
        if process.is_alive():
            process.terminate()
            process.join(5.0)
            if process.is_alive():
                process.kill()
                process.join(5.0)
        self._conn.close()

    def __enter__(self) -> AnalyticsProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
