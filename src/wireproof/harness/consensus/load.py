"""A real-time client load generator for :class:`~.cluster.LocalCluster` (issue 4, "Real mode").

Theory of operation
-------------------
``clients`` threads each run a closed loop of read/write/cas operations on a
small key space, as the simulator's clients do (:mod:`wireproof.consensus.sim.clients`,
whose :class:`ClientAdapter` builds the proposed value and reads the outcome):

- a request goes to the node the client believes leads; a ``not-leader``
  answer, a refused connection or a connection lost *before* the request was
  written means the command was not proposed, so the client retries at the
  hinted (or next) node after a short back-off, until the operation timeout;
- an answer completes the operation ("ok", or "fail" when a cas did not
  apply); a timeout or a connection lost *after* the request was written
  leaves it indefinite ("info"), and — as in Jepsen — the client retires that
  process number and continues under a fresh one.

Times in the history are seconds since the run started (monotonic clock).
Which adapter builds the commands, and which model checks the history, is
the algorithm's :class:`~wireproof.consensus.algorithm.RealMode`, from the
algorithm registry (:mod:`.registry`).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from wireproof.consensus.sim.clients import ClientAdapter, OpRecord, PlainAdapter
from wireproof.harness.consensus import registry
from wireproof.harness.consensus.cluster import ClientRequest, ClientResponse
from wireproof.harness.consensus.wire import FrameDecoder, WireCodec, default_codec

__all__ = ["ClusterReport", "LoadResult", "LoadSpec", "check_records", "default_adapter",
           "percentile", "run_cluster", "run_load", "to_history"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadSpec:
    """What the clients do; ``ops`` and ``seconds`` both bound the run (whichever comes first)."""

    clients: int = 3
    ops: int | None = 200
    seconds: float | None = None
    keys: tuple[str, ...] = ("x", "y")
    kinds: tuple[str, ...] = ("read", "write", "cas")
    values: int = 5
    timeout: float = 2.0
    backoff: float = 0.01
    seed: int = 0


@dataclass(slots=True, kw_only=True)
class LoadResult:
    """The recorded operations and timing of one run."""

    records: list[OpRecord] = field(default_factory=list)
    started: float = 0.0
    elapsed: float = 0.0
    retries: int = 0

    def counts(self) -> dict[str, int]:
        out = {"ok": 0, "fail": 0, "info": 0}
        for r in self.records:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        return out

    def latencies(self) -> list[float]:
        return sorted(r.complete - r.invoke for r in self.records
                      if r.outcome != "info" and r.complete is not None)


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


class _Link:
    """One client's blocking connection to one node."""

    def __init__(self, addr: tuple[str, int], codec: WireCodec, timeout: float) -> None:
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.codec = codec
        self.framer = FrameDecoder(max_frame=codec.max_frame)
        self.frames: list[bytes] = []

    def send(self, msg: Any) -> None:
        self.sock.sendall(self.codec.frame(msg))

    def receive(self, deadline: float) -> Any:
        """The next message; ``TimeoutError`` at ``deadline``, ``ConnectionError`` on EOF."""
        while not self.frames:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the node")
            self.frames.extend(self.framer.frames(data))
        return self.codec.decode(self.frames.pop(0))

    def close(self) -> None:
        self.sock.close()


def run_load(addresses: Callable[[], dict[int, tuple[str, int]]], adapter: ClientAdapter, spec: LoadSpec,
             *, on_complete: Callable[[int], None] | None = None,
             result: LoadResult | None = None, codec: WireCodec | None = None) -> LoadResult:
    """Drive the nodes at ``addresses()`` (re-read on every reconnect) and record a history.

    ``on_complete(n)`` is called (from client threads) after the n-th operation completes.
    ``codec`` must know the adapter's commands (default: :func:`.wire.default_codec`).
    """
    codec = codec or default_codec()
    result = result if result is not None else LoadResult()
    result.started = time.monotonic()
    lock = threading.Lock()
    request_ids = itertools.count(1)
    processes = itertools.count(spec.clients)
    issued = itertools.count(1)
    done = itertools.count(1)
    stop_at = result.started + spec.seconds if spec.seconds is not None else None

    def now() -> float:
        return time.monotonic() - result.started

    def client(index: int) -> None:
        rng = random.Random(spec.seed * 7919 + index)
        nodes = sorted(addresses())
        target = nodes[index % len(nodes)]
        process = index
        link: _Link | None = None
        try:
            while True:
                if stop_at is not None and time.monotonic() >= stop_at:
                    return
                with lock:
                    n = next(issued)
                if spec.ops is not None and n > spec.ops:
                    return
                kind = rng.choice(spec.kinds)
                key = rng.choice(spec.keys)
                value: Any = None
                if kind == "write":
                    value = rng.randrange(spec.values)
                elif kind == "cas":
                    value = (rng.randrange(spec.values), rng.randrange(spec.values))
                with lock:
                    rid = next(request_ids)
                command = adapter.command(request_id=rid, client=process, kind=kind, key=key, value=value)
                rec = OpRecord(process=process, kind=kind, key=key, value=value, invoke=now())
                with lock:
                    result.records.append(rec)
                deadline = time.monotonic() + spec.timeout
                while True:
                    sent = False
                    try:
                        if link is None:
                            link = _Link(addresses()[target], codec, spec.timeout)
                        link.send(ClientRequest(request_id=rid, command=command))
                        sent = True
                        while True:
                            answer = link.receive(deadline)
                            if isinstance(answer, ClientResponse) and answer.request_id == rid:
                                break
                    except (TimeoutError, OSError) as err:
                        if link is not None:
                            link.close()
                            link = None
                        if sent or isinstance(err, TimeoutError) or time.monotonic() >= deadline:
                            break  # indefinite: it may have been proposed
                        target = nodes[(nodes.index(target) + 1) % len(nodes)]
                        time.sleep(spec.backoff)  # back-off before retrying, not a wait for an event
                        continue
                    if answer.error == "not-leader":
                        rec.attempts += 1
                        with lock:
                            result.retries += 1
                        if answer.leader is not None and answer.leader in nodes and answer.leader != target:
                            target = answer.leader
                            link.close()
                            link = None
                        else:
                            if answer.leader is None or answer.leader == target:
                                time.sleep(spec.backoff)
                            if answer.leader is None:
                                target = nodes[(nodes.index(target) + 1) % len(nodes)]
                                link.close()
                                link = None
                        if time.monotonic() >= deadline:
                            rec.outcome, rec.complete = "fail", now()  # never proposed anywhere
                            break
                        continue
                    rec.outcome, rec.result = adapter.outcome(kind=kind, value=value, result=answer.result)
                    rec.complete = now()
                    rec.node = target
                    break
                if rec.complete is None:  # indefinite: retire the process (Jepsen semantics)
                    with lock:
                        process = next(processes)
                if on_complete is not None:
                    with lock:
                        k = next(done)
                    on_complete(k)
        finally:
            if link is not None:
                with contextlib.suppress(OSError):
                    link.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(spec.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.elapsed = time.monotonic() - result.started
    return result



# -- a whole real-mode run: cluster, load, optional crash, check --------------------

@dataclass(slots=True, kw_only=True)
class ClusterReport:
    """The summary of :func:`run_cluster` (what ``wireproof consensus cluster`` prints)."""

    algorithm: str
    nodes: int
    clients: int
    counts: dict[str, int]
    elapsed: float
    throughput: float  # completed (ok + fail) operations per second
    latency_p50: float
    latency_p99: float
    retries: int
    messages: int  # node-to-node messages sent by the nodes alive at the end
    committed: int  # the longest committed log among them
    messages_per_command: float | None
    killed: list[int] = field(default_factory=list)
    linearizable: bool | None = None
    check_seconds: float = 0.0
    explored: int = 0
    witness: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def to_history(records: list[OpRecord]) -> tuple[Any, ...]:
    """The records as the checker's History (:mod:`wireproof.consensus.check.history`)."""
    from wireproof.consensus.check.history import Operation

    def op(r: OpRecord) -> Any:
        return Operation(process=r.process, kind=cast(Any, r.kind), key=r.key, value=r.value,
                         invoke=r.invoke, complete=r.complete, outcome=cast(Any, r.outcome), result=r.result)

    return tuple(op(r) for r in records)


def check_records(records: list[OpRecord], report: ClusterReport, *, model: str = "kv") -> None:
    """Run the linearizability checker (``model``, a register per key by default) and fill in ``report``."""
    from wireproof.consensus.check.lincheck import check_linearizable

    t0 = time.monotonic()
    verdict = check_linearizable(to_history(records), model=model)
    report.check_seconds = time.monotonic() - t0
    report.linearizable = bool(verdict.linearizable)
    report.explored = int(getattr(verdict, "explored", 0))
    report.witness = "" if verdict.linearizable else str(getattr(verdict, "witness", ""))


def run_cluster(algorithm: str, nodes: int, spec: LoadSpec, data_dir: Any, *,
                kill: str | None = None, adapter: ClientAdapter | None = None, check: bool = True,
                **cluster_kwargs: Any) -> tuple[ClusterReport, list[OpRecord]]:
    """Start ``nodes`` processes, drive them with ``spec``, optionally crash one, check the history.

    ``kill``: ``"leader"`` (the node that answered the latest operation) or a
    node id: that node is SIGKILLed after a third of the run and restarted at
    once from its file (a fault from outside). The client adapter and the
    linearizability model are the algorithm's (:func:`.registry.real_mode`),
    except for a ``package.module:FactoryClass`` that lives on the nodes' own
    ``pythonpath``: this process does not import it, and its clients propose
    plain commands unless ``adapter`` says otherwise.
    """
    from pathlib import Path

    from wireproof.harness.consensus.cluster import LocalCluster

    lin_model = "kv"
    codec = None
    if ":" in algorithm and cluster_kwargs.get("pythonpath"):
        adapter = adapter or PlainAdapter()
    else:
        chosen, mode = registry.real_mode(algorithm)  # fails here, before any process starts
        adapter = adapter or mode.adapter
        lin_model = mode.lin_model
        codec = default_codec(modules=(*chosen.wire_modules(), type(mode.factory).__module__))
    killed: list[int] = []
    third = threading.Event()
    cluster = LocalCluster(nodes, Path(data_dir), algorithm=algorithm, seed=spec.seed, **cluster_kwargs)
    with cluster:
        current: dict[int, tuple[str, int]] = dict(cluster.addresses)
        records_box: list[LoadResult] = []
        at = max(1, (spec.ops or 0) // 3)

        def on_complete(n: int) -> None:
            if n >= at:
                third.set()

        def fault() -> None:
            third.wait(timeout=spec.seconds / 3 if spec.seconds else None)
            if done.is_set():
                return
            recent = [r.node for r in (records_box[0].records if records_box else []) if r.node is not None]
            victim = (recent[-1] if recent else 0) if kill == "leader" else int(kill or 0)
            cluster.kill(victim)
            killed.append(victim)
            cluster.restart(victim)
            current.update(cluster.addresses)

        done = threading.Event()
        faulter = threading.Thread(target=fault, daemon=True) if kill is not None else None
        result = LoadResult()
        records_box.append(result)
        if faulter is not None:
            faulter.start()
        loaded = run_load(lambda: dict(current), adapter, spec, on_complete=on_complete, result=result,
                          codec=codec)
        done.set()
        third.set()
        if faulter is not None:
            faulter.join(timeout=30)
        stats = cluster.stats()
    lat = loaded.latencies()
    counts = loaded.counts()
    messages = sum(s.get("sent", 0) for s in stats.values())
    committed = max((s.get("committed", 0) for s in stats.values()), default=0)
    report = ClusterReport(
        algorithm=algorithm, nodes=nodes, clients=spec.clients, counts=counts, elapsed=loaded.elapsed,
        throughput=(counts["ok"] + counts["fail"]) / loaded.elapsed if loaded.elapsed else 0.0,
        latency_p50=percentile(lat, 50), latency_p99=percentile(lat, 99), retries=loaded.retries,
        messages=messages, committed=committed,
        messages_per_command=messages / committed if committed else None, killed=killed)
    if check:
        check_records(loaded.records, report, model=lin_model)
    return report, loaded.records


def default_adapter(algorithm: str) -> ClientAdapter:
    """The real-mode client adapter of ``algorithm`` (registered name or ``module:FactoryClass``)."""
    return registry.real_mode(algorithm)[1].adapter
