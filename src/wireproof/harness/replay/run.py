"""Running a replay: the registry, the analytics (in this process or a second one), the file.

Theory of operation
-------------------
:func:`replay` builds the protocol table (the descriptors' protocols, with
the ``ports`` overrides), the result and its finding collector, the
analytics, and for a big capture (:data:`ANALYTICS_PROCESS_BYTES`, 8 MiB, on
a machine where this process may use a second core) a second process that
runs the analytics (:mod:`.analytics_process`: the engine's process only
buffers and ships batches, the statistics run on the other core, and the
numbers are identical); then it streams the file through the engine's loop
(:func:`.engine.run_loop`) and returns the :class:`~.result.ReplayResult`.
:func:`scan_flows` runs the same loop without analysing, to list the flows.

The loop allocates millions of short-lived objects, freed by reference
counting; the cyclic collector's default young pass (every 700 allocations)
would walk the values buffered for the analytics again and again (about 15%
of a replay). While the loop runs the young threshold is raised; the setting
is restored after.

If the analytics process dies (killed, or its analytics fail), the replay
goes on without it and finishes: ``ReplayResult.analytics`` is None and
``stats["analytics_failed"]`` says why, in one line.

A damaged capture (:mod:`.damage`: cut short, corrupt, or with an invalid
value) is replayed up to the damage; the damage is a ``capture.<kind>``
warning, ``ReplayResult.damage`` and ``ReplayResult.truncation``. A file
that is not a capture at all is a :class:`~wireproof.errors.FixtureError`.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from wireproof.errors import HarnessError
from wireproof.harness.replay.engine import Engine, FlowFilter, ProgressCallback, run_loop
from wireproof.harness.replay.events import FlowKey
from wireproof.harness.replay.findings import FindingCollector, FindingSink
from wireproof.harness.replay.registry import Registry, default_registry
from wireproof.harness.replay.result import FlowRecord, ReplayResult

if TYPE_CHECKING:
    from wireproof.harness.replay.analytics import Analytics
    from wireproof.harness.replay.analytics_process import AnalyticsProcess
    from wireproof.harness.replay.capture import CaptureReader
    from wireproof.harness.replay.dissector import Dissector

__all__ = ["ANALYTICS_PROCESS_BYTES", "default_workers", "replay", "scan_flows"]

_GC_YOUNG = 100_000  # allocations between young-generation passes of the cyclic GC, in the loop
# Captures from this size on feed their analytics in a second process (when there is a
# second core): below it, starting the process costs more than it saves.
ANALYTICS_PROCESS_BYTES = 8 * 1024 * 1024


def replay(path: str | Path, *, ports: Mapping[int, str] | None = None,
           on_progress: ProgressCallback | None = None, analytics: bool | Analytics = True,
           flow_filter: FlowFilter | None = None, sink: FindingSink | None = None,
           max_findings: int = 1000, max_flows: int = 10_000, timeout: float = 1.0,
           registry: Registry | None = None, capture_findings: bool | None = None,
           heuristics: bool = True, analytics_process: bool | None = None,
           workers: int | None = None) -> ReplayResult:
    """Replay the capture at ``path``; see the module docstring.

    ``ports`` maps a port to a protocol name (``{5020: "modbus-tcp"}``);
    ``on_progress(bytes_read, file_size, frames)`` is called every few
    thousand frames; ``analytics`` is True (a fresh
    :class:`~.analytics.Analytics`), False, or an instance to feed;
    ``sink`` gets every finding as it is found (the result keeps the first
    ``max_findings`` and counts them all); ``timeout`` is the capture time
    after which a response is late. ``heuristics=False`` skips flows on
    ports no protocol is registered for (the dissector then ignores them,
    which is faster) instead of recognising them by content.
    ``analytics_process``: feed the analytics in a second process
    (:mod:`.analytics_process`; the numbers are identical, the replay's
    own process is spared their cost); None (the default) does so for a
    capture of at least :data:`ANALYTICS_PROCESS_BYTES` on a machine with
    more than one core. ``workers``: analyse the flows in that many
    worker processes (:mod:`.workers`: the same numbers, merged); None (the
    default) is :func:`default_workers`; a ``flow_filter`` replays in this
    process. Raises
    :class:`~wireproof.errors.FixtureError` for an unreadable capture,
    ``KeyError`` for an unknown protocol name in ``ports``,
    :class:`~wireproof.errors.HarnessError` if a worker fails.
    """
    registry = (registry or default_registry()).with_ports(ports or {})
    fed: Analytics | None
    if analytics is True:
        from wireproof.harness.replay.analytics import Analytics as _Analytics
        fed = _Analytics()
    else:
        fed = analytics or None
    if workers is None:
        workers = default_workers(path)
    if workers > 1 and flow_filter is None:
        from wireproof.harness.replay.capture import iter_capture
        from wireproof.harness.replay.workers import replay_sharded

        iter_capture(path, on_damage="stop")  # no capture at all: a FixtureError here, not in a worker
        return replay_sharded(path, workers, registry=registry, analytics=fed, on_progress=on_progress,
                              sink=sink, max_findings=max_findings, max_flows=max_flows, timeout=timeout,
                              heuristics=heuristics)
    if fed is not None and analytics_process is None:
        analytics_process = _cores() > 1 and _size(path) >= ANALYTICS_PROCESS_BYTES
    process: AnalyticsProcess | None = None
    if fed is not None and analytics_process:
        from wireproof.harness.replay.analytics_process import AnalyticsProcess as _AnalyticsProcess
        process = _AnalyticsProcess(fed, on_failure="drop")
    result = ReplayResult(file=str(path), collector=FindingCollector(max_findings, also=sink), analytics=fed)
    engine = Engine(result, registry, result.collector, analytics=process or fed, flow_filter=flow_filter,
                     capture_findings=flow_filter is None if capture_findings is None else capture_findings,
                     max_flows=max_flows, timeout=timeout)
    try:
        _run(engine, path, ports_of_interest=None if heuristics else frozenset(registry.port_table()),
             on_progress=on_progress)
        if process is not None:
            try:
                result.analytics = process.finish()
                result.stats["analytics_process"] = {"peak_rss_kib": process.child_peak_rss_kib}
            except HarnessError as exc:  # the replay stands without its analytics (module docstring)
                result.analytics = None
                result.stats["analytics_failed"] = str(exc).splitlines()[0]
    finally:
        if process is not None:
            process.close()
    return result


def default_workers(path: str | Path) -> int:
    """Worker processes for :func:`replay` by default: one for a capture under
    :data:`ANALYTICS_PROCESS_BYTES` or on a machine with fewer than three usable cores, else one per
    usable core but one (the parent merges and runs the analytics: it needs a core of its own; on two
    cores the analytics' second process already keeps both busy)."""
    cores = _cores()
    return cores - 1 if cores >= 3 and _size(path) >= ANALYTICS_PROCESS_BYTES else 1


def _cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it, as in a container)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _size(path: str | Path) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0  # iter_capture reports the problem


def _run(engine: Engine, path: str | Path, *, ports_of_interest: frozenset[int] | None,
         on_progress: ProgressCallback | None = None) -> None:
    from wireproof.harness.replay.capture import iter_capture
    from wireproof.harness.replay.dissector import Dissector

    reader = iter_capture(path, on_damage="stop")
    engine.result.format = reader.format
    # The reader fills interface_names as it meets them, before the frames naming them: flows keep the names.
    dissector = Dissector(ports_of_interest=ports_of_interest, interface_names=reader.interface_names)
    _loop(engine, reader, dissector, on_progress)


def _loop(engine: Engine, reader: CaptureReader, dissector: Dissector,
          on_progress: ProgressCallback | None = None) -> None:
    """:func:`.engine.run_loop`, with fewer cyclic-GC passes while it runs (see the module docstring)."""
    thresholds = gc.get_threshold()
    gc.set_threshold(max(thresholds[0], _GC_YOUNG), *thresholds[1:])
    try:
        run_loop(engine, reader, dissector, on_progress)
    finally:
        gc.set_threshold(*thresholds)


def scan_flows(path: str | Path, *, ports: Mapping[int, str] | None = None, registry: Registry | None = None,
               max_flows: int = 100_000, heuristics: bool = True) -> list[tuple[FlowKey, FlowRecord]]:
    """The flows :func:`replay` would analyse, in order of first appearance (dissection only).

    The protocol of each flow is decided exactly as :func:`replay` decides it;
    only flows whose protocol has an analyzer are listed.
    """
    registry = (registry or default_registry()).with_ports(ports or {})
    result = ReplayResult(file=str(path))
    engine = Engine(result, registry, result.collector, analytics=None, flow_filter=None,
                     capture_findings=False, max_flows=max_flows, timeout=1.0, analyze=False)
    _run(engine, path, ports_of_interest=None if heuristics else frozenset(registry.port_table()))
    return [(key, record) for key, record in engine.records.items() if record.status == "analysed"]
