"""One capture replayed by several worker processes, its flows sharded, the results merged exactly.

Theory of operation
-------------------
``wireproof replay FILE --workers N`` starts N worker processes (``fork``
on Linux, else ``spawn``). Each reads the whole capture and runs the whole
dissector (so TCP reassembly, IP fragments and the dissector's counters
are exactly those of one process), but its engine analyses only the flows
of its shard: a flow's shard is a CRC-32 of its transport and its two
endpoints (in a fixed order) modulo N, so both directions and every
connection on the same ports land in one worker. Framing, decoding, the
passive machines and the findings of a flow are therefore computed as in
one process. Capture-level findings (malformed frames, damage) and the
progress are worker 0's.

*The merge.* The parent holds the one :class:`~.analytics.Analytics` and
the one :class:`~.findings.FindingCollector`. A worker does not compute
statistics; it records what its engine would have fed them: every finding
and every analytics call (``frame_batch``, ``message_batch``, ``value``,
``values``), each with a key that places it in the order one process
would have made it:

- during the frames: (frame number, 0, worker, sequence); a frame belongs
  to one flow, so every call made while frame F is processed comes from
  one worker, in that worker's order;
- at the end, when the dissector closes what is still open (the same
  events, in the same order, in every worker): (end, event index, worker,
  sequence); then the engine's own finish and the damage finding.

The parent merges the workers' streams by key (:func:`heapq.merge`; each
stream is already in key order) and feeds the calls to its Analytics and
the findings to its collector, in that order: the analytics see the very
call sequence one process makes, so every statistic (counts, percentiles,
histograms, EWMAs, z-score anomalies, trends) is bit-identical, and the
findings, their counts and the first ``max_findings`` kept are the same
(the ``sink`` sees them in the same order too). Counters (messages per
protocol and function, statistics tables, decode errors) are sums; the
flows table is merged by the frame that created each record. Streams are
sent in chunks of :data:`_CHUNK` items and merged as they come: a worker
that runs ahead blocks on its pipe (back-pressure), memory stays flat.

*What is not exact.* Three bounds are applied per worker before they are
applied to the merge: (1) the engine flushes every flow's analytics
buffers early when more than ``max_flows`` flows hold some at once
(10,000 flows with frames buffered together), at a point that depends on
the worker's share, so with that many concurrent flows the order of
batches of different flows (not of one flow) can differ, and with it the
per-protocol traffic track of the analytics (whose origin is the first
batch's first time); (2) past ``max_flows`` records, one process counts a
later connection of an unlisted flow as a new flow in ``flows_total``, a
worker does so only past its own ``max_flows``; (3) the per-protocol
statistics tables keep at most 1,000 keys each, and the merge keeps
them all. Below those bounds the results are identical, which
``tests/harness/replay/test_workers.py`` checks, JSON against JSON.

If a worker fails (an exception, or killed), the replay raises
:class:`~wireproof.errors.HarnessError` naming the worker and the reason.
"""

from __future__ import annotations

import contextlib
import heapq
import multiprocessing
import resource
import signal
import sys
import traceback
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wireproof.errors import HarnessError
from wireproof.harness.replay.events import FlowKey
from wireproof.harness.replay.findings import Finding, FindingCollector, FindingSink
from wireproof.harness.replay.result import FlowRecord, ReplayResult

if TYPE_CHECKING:
    from wireproof.harness.replay.analytics import Analytics
    from wireproof.harness.replay.engine import ProgressCallback
    from wireproof.harness.replay.registry import Registry

__all__ = ["replay_sharded", "shard_of"]

_CHUNK = 2048  # items a worker sends at once
_END = 1 << 62  # the frame part of the keys after the last frame
_PROGRESS_EVERY = 4096  # frames between worker 0's progress items

# A stream item: (frame, phase, worker, sequence, (kind, payload)).
_Key = tuple[int, int, int, int]


def shard_of(flow: FlowKey, workers: int) -> int:
    """The worker (0 .. ``workers`` - 1) that analyses ``flow``: the same in every process."""
    a, b = sorted((flow.client, flow.server))
    return zlib.crc32(f"{flow.transport} {a[0]} {a[1]} {b[0]} {b[1]}".encode()) % workers


class _Recorder:
    """A worker's analytics feed and finding sink: every call becomes a keyed stream item."""

    __slots__ = ("conn", "frame", "out", "phase", "seq", "worker")

    def __init__(self, conn: Connection, worker: int) -> None:
        self.conn = conn
        self.worker = worker
        self.frame = 0
        self.phase = 0
        self.seq = 0
        self.out: list[tuple[int, int, int, int, tuple[str, Any]]] = []

    def put(self, kind: str, payload: Any) -> None:
        self.seq += 1
        out = self.out
        out.append((self.frame, self.phase, self.worker, self.seq, (kind, payload)))
        if len(out) >= _CHUNK:
            self.conn.send(out)
            self.out = []

    def __call__(self, finding: Finding) -> None:
        if self.frame == _END and finding.rule.startswith("capture."):
            self.phase = 1 << 40  # the damage finding: after everything else, as in one process
        self.put("finding", finding)

    def frame_batch(self, flow_label: str, protocol: str, timestamps: list[float], sizes: list[int]) -> None:
        self.put("frame_batch", (flow_label, protocol, timestamps, sizes))

    def message_batch(self, flow_label: str, timestamps: list[float]) -> None:
        self.put("message_batch", (flow_label, timestamps))

    def value(self, series: str, timestamp: float, value: float) -> None:
        self.put("value", (series, timestamp, value))

    def values(self, series_base: str, start: int, timestamp: float, values: Any) -> None:
        self.put("values", (series_base, start, timestamp, values if type(values) in (tuple, list)
                            else tuple(values)))

    def flush(self) -> None:
        """The engine's last call: the parent's Analytics flushes its own buffer at the end."""


def _worker(conn: Connection, path: str, worker: int, workers: int, registry: Registry,
            options: dict[str, Any]) -> None:
    """A worker process: replay ``path``, analysing shard ``worker`` of ``workers``; stream, then totals."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        conn.send(("done", _replay_shard(conn, path, worker, workers, registry, options)))
    except BaseException:  # everything goes back to the parent, which names the worker
        with contextlib.suppress(OSError):
            conn.send(("failed", traceback.format_exc()))
    finally:
        conn.close()


def _replay_shard(conn: Connection, path: str, worker: int, workers: int, registry: Registry,
                  options: dict[str, Any]) -> dict[str, Any]:
    from wireproof.harness.replay import run
    from wireproof.harness.replay.capture import iter_capture
    from wireproof.harness.replay.dissector import Dissector
    from wireproof.harness.replay.engine import Engine

    recorder = _Recorder(conn, worker)
    result = ReplayResult(file=path)
    engine = Engine(result, registry, recorder, analytics=recorder if options["analytics"] else None,
                    flow_filter=lambda flow: shard_of(flow, workers) == worker, capture_findings=worker == 0,
                    max_flows=options["max_flows"], timeout=options["timeout"])
    reader = iter_capture(path, on_damage="stop")
    result.format = reader.format
    records = reader.records
    created: list[tuple[int, int]] = []  # (frame, index in result.flows) of each record created

    def keyed() -> Iterator[Any]:
        """The reader's records, the recorder's key kept on the frame being processed."""
        flows = result.flows
        listed = 0
        progress = worker == 0 and options["progress"]
        for record in records():
            number = record[0]
            recorder.frame = number
            yield record
            if len(flows) != listed:
                created.extend((number, i) for i in range(listed, len(flows)))
                listed = len(flows)
            if progress and number % _PROGRESS_EVERY == 0:
                recorder.put("progress", (reader.bytes_read, reader.size, number))
        # The end: what the dissector closes comes as events, the same list in every worker.
        recorder.frame = _END
        handlers = engine.handlers
        for kind, handler in list(handlers.items()):
            handlers[kind] = _counted(recorder, handler)

    reader.records = keyed  # type: ignore[method-assign]
    dissector = Dissector(ports_of_interest=None if options["heuristics"]
                          else frozenset(registry.port_table()), interface_names=reader.interface_names)
    run._loop(engine, reader, dissector)
    created += [(_END, i) for i in range(len(created), len(result.flows))]
    if recorder.out:
        conn.send(recorder.out)
        recorder.out = []
    if worker == 0 and options["progress"]:
        recorder.put("progress", (reader.bytes_read, reader.size, result.frames))
        conn.send(recorder.out)
    flows = [((frame, i, worker), _record_fields(result.flows[i])) for frame, i in created]
    return {
        "flows": flows, "flows_total": result.flows_total,
        "messages": result.messages, "message_frames": result.message_frames, "functions": result.functions,
        "statistics": result.statistics, "decode_errors": result.decode_errors,
        # the same in every worker (all read every frame): worker 0's are taken
        "format": result.format, "frames": result.frames, "bytes": result.bytes, "first": result.first,
        "last": result.last, "malformed_frames": result.malformed_frames, "stats": result.stats,
        "truncation": result.truncation, "damage": result.damage,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }


def _counted(recorder: _Recorder, handler: Any) -> Any:
    """An end-phase event handler that gives the calls it causes the event's place (module docstring)."""
    def counted(event: Any) -> None:
        recorder.phase += 2
        handler(event)
        recorder.phase += 1  # what follows the last event (the engine's finish) comes after it
    return counted


_FIELDS = ("flow", "transport", "protocol", "status", "first", "last", "handshake", "frames", "bytes",
           "messages", "findings", "errors", "connections", "closed")


def _record_fields(record: FlowRecord) -> tuple[Any, ...]:
    return tuple(getattr(record, name) for name in _FIELDS)


def _stream(conn: Connection, worker: int, process: multiprocessing.process.BaseProcess,
            done: dict[int, dict[str, Any]]) -> Iterator[tuple[int, int, int, int, tuple[str, Any]]]:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            process.join(5)
            raise HarnessError(f"replay worker {worker} ended without its results "
                               f"(exit code {process.exitcode})") from None
        if type(message) is list:
            yield from message
            continue
        tag, payload = message
        if tag == "failed":
            last = payload.strip().splitlines()[-1] if payload.strip() else "unknown error"
            raise HarnessError(f"replay worker {worker} failed: {last}\n{payload}")
        done[worker] = payload
        return


def replay_sharded(path: str | Path, workers: int, *, registry: Registry, analytics: Analytics | None,
                   on_progress: ProgressCallback | None, sink: FindingSink | None, max_findings: int,
                   max_flows: int, timeout: float, heuristics: bool) -> ReplayResult:
    """Replay ``path`` with ``workers`` processes (module docstring); ``analytics`` is fed here."""
    if workers < 2:
        raise HarnessError("replay_sharded: workers must be at least 2")
    fork = sys.platform == "linux"
    context: Any = multiprocessing.get_context("fork" if fork else "spawn")
    options = {"analytics": analytics is not None, "max_flows": max_flows, "timeout": timeout,
               "heuristics": heuristics, "progress": on_progress is not None}
    conns: list[Connection] = []
    processes: list[multiprocessing.process.BaseProcess] = []
    result = ReplayResult(file=str(path), collector=FindingCollector(max_findings, also=sink),
                          analytics=analytics)
    try:
        for worker in range(workers):
            mine, theirs = context.Pipe(duplex=False)
            process = context.Process(target=_worker, name=f"wireproof-replay-{worker}", daemon=True,
                                      args=(theirs, str(path), worker, workers, registry, options))
            process.start()
            theirs.close()  # the worker's end lives in the worker only: its exit is EOF here
            conns.append(mine)
            processes.append(process)
        done: dict[int, dict[str, Any]] = {}
        collector = result.collector
        feed: Any = analytics
        streams = [_stream(conn, i, processes[i], done) for i, conn in enumerate(conns)]
        for _frame, _phase, _who, _seq, (kind, payload) in heapq.merge(*streams):
            if kind == "finding":
                collector(payload)
            elif kind == "progress":
                if on_progress is not None:
                    on_progress(*payload)
            else:
                getattr(feed, kind)(*payload)
        for process in processes:
            process.join(30)
    finally:
        for conn in conns:
            conn.close()
        for process in processes:
            if process.is_alive():
                process.terminate()
                process.join(5)
    _merge(result, [done[i] for i in range(workers)], max_flows)
    if analytics is not None:
        analytics.flush()
    result.stats["workers"] = {"count": workers,
                               "peak_rss_kib": max(d["peak_rss_kib"] for d in done.values())}
    return result


def _merge(result: ReplayResult, parts: list[dict[str, Any]], max_flows: int) -> None:
    first = parts[0]
    for name in ("format", "frames", "bytes", "first", "last", "malformed_frames", "truncation", "damage"):
        setattr(result, name, first[name])
    result.stats = dict(first["stats"])
    flows: list[tuple[tuple[int, int, int], tuple[Any, ...]]] = []
    for part in parts:
        result.flows_total += part["flows_total"]
        _add(result.messages, part["messages"])
        _add(result.message_frames, part["message_frames"])
        _add(result.decode_errors, part["decode_errors"])
        for protocol, counts in part["functions"].items():
            _add(result.functions.setdefault(protocol, Counter()), counts)
        for protocol, tables in part["statistics"].items():
            mine = result.statistics.setdefault(protocol, {})
            for table, counts in tables.items():
                _add(mine.setdefault(table, Counter()), counts)
        flows += part["flows"]
    flows.sort(key=lambda item: item[0])
    for _key, fields in flows[:max_flows]:
        values = dict(zip(_FIELDS, fields, strict=True))
        result.flows.append(FlowRecord(**values))
    result.flows_dropped = result.flows_total - len(result.flows)


def _add(into: Counter[str], counts: Mapping[str, int]) -> None:
    for key, n in counts.items():
        into[key] += n
