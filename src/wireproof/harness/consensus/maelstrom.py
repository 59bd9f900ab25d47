"""The Maelstrom protocol, both ways (issue 4, "Real mode and external subjects").

Normative reference: Maelstrom's protocol document (jepsen-io/maelstrom,
``doc/protocol.md``): every message is one JSON object on one line,
``{"src", "dest", "body": {"type", "msg_id", "in_reply_to", ...}}``; a node
reads stdin and writes stdout (logs go to stderr); the first message is
``init`` (``node_id``, ``node_ids``), answered by ``init_ok``. The lin-kv
workload (``doc/workloads.md``) sends ``read {key}``, ``write {key, value}``
and ``cas {key, from, to}``, answered by ``read_ok {value}``, ``write_ok``,
``cas_ok`` or ``error {code, text}``. Error codes (``doc/protocol.md``,
"Errors"): 0 timeout and 13 crash are *indefinite*; 1 node-not-found,
10 not-supported, 11 temporarily-unavailable, 12 malformed-request, 14 abort,
20 key-does-not-exist, 21 key-already-exists, 22 precondition-failed and
30 txn-conflict are *definite* (the operation did not happen).

Theory of operation
-------------------
- :class:`MaelstromNode` (``python -m wireproof.harness.consensus.maelstrom``)
  runs a wireproof node under Maelstrom: client requests become proposals
  built by a :class:`~wireproof.consensus.sim.clients.ClientAdapter`; node
  messages travel as ``{"type": "wireproof", "msg": base64(MessagePack)}``
  (:mod:`.wire`); ticks come from a real timer. A node that is not the
  leader answers error 11 with an extra ``"leader"`` hint field.
- :class:`MaelstromSubject` runs any executable that speaks the protocol N
  times and plays Maelstrom's part: it sends ``init``, carries node-to-node
  messages through its own network (:class:`NetFaults`: seeded drop, delay,
  partitions), and runs lin-kv clients that record a history.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import heapq
import itertools
import json
import os
import queue
import random
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

from wireproof.consensus.api import ClusterConfig, Envelope, Node, NotLeader, Ready
from wireproof.consensus.sim.clients import OpRecord
from wireproof.errors import DecodeError, HarnessError, TransportTimeout
from wireproof.harness.consensus.cluster import load_algorithm
from wireproof.harness.consensus.load import LoadResult, default_adapter
from wireproof.harness.consensus.wire import WireCodec, default_codec

__all__ = [
    "DEFINITE_ERRORS",
    "ERROR_NAMES",
    "MaelstromNode",
    "MaelstromSubject",
    "NetFaults",
    "main",
]

ERROR_NAMES: Final[dict[int, str]] = {
    0: "timeout", 1: "node-not-found", 10: "not-supported", 11: "temporarily-unavailable",
    12: "malformed-request", 13: "crash", 14: "abort", 20: "key-does-not-exist",
    21: "key-already-exists", 22: "precondition-failed", 30: "txn-conflict",
}
DEFINITE_ERRORS: Final = frozenset({1, 10, 11, 12, 14, 20, 21, 22, 30})


# -- a wireproof node under Maelstrom -------------------------------------------

class MaelstromNode:
    """A pure node driven by Maelstrom messages (see the module docstring)."""

    def __init__(self, *, algorithm: str = "multipaxos", out: TextIO | None = None,
                 codec: WireCodec | None = None, seed: int = 0) -> None:
        self.algorithm = algorithm
        self.out = out or sys.stdout
        self.codec = codec or default_codec()
        self.adapter = default_adapter(algorithm)
        self.seed = seed
        self.name = ""
        self.names: list[str] = []
        self.node: Node | None = None
        self.storage: list[Any] = []
        self.pending: dict[Hashable, tuple[str, int, str, Any]] = {}
        self.next_msg = itertools.count(1)
        self.next_request = itertools.count(1)

    def send(self, dest: str, body: dict[str, Any]) -> None:
        body = {**body, "msg_id": next(self.next_msg)}
        self.out.write(json.dumps({"src": self.name, "dest": dest, "body": body}) + "\n")
        self.out.flush()

    def reply(self, msg: dict[str, Any], body: dict[str, Any]) -> None:
        self.send(msg["src"], {**body, "in_reply_to": msg["body"].get("msg_id")})

    def error(self, msg: dict[str, Any], code: int, text: str, **extra: Any) -> None:
        self.reply(msg, {"type": "error", "code": code, "text": text, **extra})

    def handle(self, line: str) -> None:
        """One line from stdin."""
        try:
            msg = json.loads(line)
            body = msg["body"]
            kind = body["type"]
        except (ValueError, KeyError, TypeError):
            print(f"{self.name}: malformed line {line[:200]!r}", file=sys.stderr, flush=True)
            return
        if kind == "init":
            self.init(msg)
        elif self.node is None:
            self.error(msg, 11, "not initialised")
        elif kind == "wireproof":
            self.on_peer(msg)
        elif kind in ("read", "write", "cas"):
            self.on_client(msg, kind)
        elif "in_reply_to" not in body:
            self.error(msg, 10, f"unsupported message type {kind!r}")
        self.drain()

    def init(self, msg: dict[str, Any]) -> None:
        body = msg["body"]
        self.name = str(body["node_id"])
        self.names = [str(n) for n in body["node_ids"]]
        factory = load_algorithm(self.algorithm)
        self.codec.registry.register_module(sys.modules[type(factory).__module__])
        config = ClusterConfig(nodes=tuple(range(len(self.names))), seed=self.seed)
        self.node = factory.create(self.names.index(self.name), config)
        self.reply(msg, {"type": "init_ok"})

    def on_peer(self, msg: dict[str, Any]) -> None:
        assert self.node is not None
        try:
            message = self.codec.decode(base64.b64decode(msg["body"]["msg"], validate=True))
            src = self.names.index(msg["src"])
        except (DecodeError, ValueError, KeyError, TypeError) as err:
            print(f"{self.name}: dropped a bad peer message: {err}", file=sys.stderr, flush=True)
            return
        self.node.step(Envelope(src=src, dst=self.node.id, message=message))

    def on_client(self, msg: dict[str, Any], kind: str) -> None:
        assert self.node is not None
        body = msg["body"]
        value: Any = None
        if kind == "write":
            value = body.get("value")
        elif kind == "cas":
            value = (body.get("from"), body.get("to"))
        # unique across the cluster: the node's index in the low digits
        rid = next(self.next_request) * len(self.names) + self.node.id
        client = int(msg["src"][1:]) if str(msg["src"])[1:].isdigit() else 0
        command = self.adapter.command(request_id=rid, client=client, kind=kind, key=body.get("key"),
                                       value=value)
        try:
            self.node.propose(command)
        except NotLeader as err:
            hint = {} if err.leader is None else {"leader": self.names[err.leader]}
            self.error(msg, 11, f"not the leader (leader: {hint.get('leader')})", **hint)
            return
        self.pending[rid] = (msg["src"], body.get("msg_id", 0), kind, value)

    def drain(self) -> None:
        if self.node is None:
            return
        while True:
            rd: Ready = self.node.ready()
            if not rd:
                return
            self.storage.extend(rd.persist)  # Maelstrom never restarts a process: memory is durable here
            for env in rd.messages:
                payload = base64.b64encode(self.codec.encode(env.message)).decode("ascii")
                self.send(self.names[env.dst], {"type": "wireproof", "msg": payload})
            for reply in rd.replies:
                pending = self.pending.pop(reply.request_id, None)
                if pending is not None:
                    self._answer(*pending, reply.result)
            self.node.advance(rd)

    def _answer(self, client: str, msg_id: int, kind: str, value: Any, result: Any) -> None:
        outcome, got = self.adapter.outcome(kind=kind, value=value, result=result)
        body: dict[str, Any]
        if kind == "read":
            body = ({"type": "read_ok", "value": got} if got is not None
                    else {"type": "error", "code": 20, "text": "key does not exist"})
        elif outcome == "ok":
            body = {"type": f"{kind}_ok"}
        else:
            body = {"type": "error", "code": 22, "text": "precondition failed"}
        self.send(client, {**body, "in_reply_to": msg_id})

    def tick(self) -> None:
        if self.node is not None:
            self.node.tick()
            self.drain()

    def serve(self, stdin: Any, tick: float) -> None:
        """Read lines until EOF, ticking every ``tick`` seconds."""
        sel = selectors.DefaultSelector()
        sel.register(stdin, selectors.EVENT_READ)
        buf = b""
        fd = stdin.fileno()
        next_tick = time.monotonic() + tick
        os.set_blocking(fd, False)
        try:
            while True:
                if sel.select(max(0.0, next_tick - time.monotonic())):
                    chunk = os.read(fd, 1 << 16)
                    if not chunk:
                        return
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for line in lines:
                        if line.strip():
                            self.handle(line.decode())
                now = time.monotonic()
                if now >= next_tick:
                    self.tick()
                    next_tick = max(next_tick + tick, now)
        finally:
            sel.close()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m wireproof.harness.consensus.maelstrom",
                                description="a wireproof consensus node speaking the Maelstrom protocol")
    p.add_argument("--algorithm", default="multipaxos", help="multipaxos, or package.module:FactoryClass")
    p.add_argument("--tick", type=float, default=0.01, help="seconds per tick")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    MaelstromNode(algorithm=args.algorithm, seed=args.seed).serve(sys.stdin, args.tick)
    return 0


# -- external Maelstrom nodes under wireproof ----------------------------------------

@dataclass
class NetFaults:
    """Faults of the subject's network between nodes (client links are reliable, as in Maelstrom)."""

    drop: float = 0.0
    delay: tuple[float, float] = (0.0, 0.0)
    cut: set[tuple[str, str]] = field(default_factory=set)

    def partition(self, *groups: Sequence[str]) -> None:
        """Cut every link between nodes of different groups."""
        where = {n: i for i, g in enumerate(groups) for n in g}
        self.cut = {(a, b) for a in where for b in where if where[a] != where[b]}

    def heal(self) -> None:
        self.cut = set()


class MaelstromSubject:
    """N processes of an external Maelstrom node under wireproof's network and lin-kv clients."""

    def __init__(self, command: Sequence[str], *, nodes: int = 3, faults: NetFaults | None = None,
                 seed: int = 0, log_dir: Path | None = None, init_timeout: float = 10.0) -> None:
        self.command = list(command)
        self.names = [f"n{i}" for i in range(nodes)]
        self.faults = faults or NetFaults()
        self.rng = random.Random(seed)
        self.seed = seed
        self.log_dir = log_dir
        self.init_timeout = init_timeout
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.inbox: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self.waiters: dict[tuple[str, int], queue.Queue[dict[str, Any]]] = {}
        self.lock = threading.Lock()
        self.delayed: list[tuple[float, int, str, bytes]] = []
        self.seq = itertools.count()
        self.counts = {"node_messages": 0, "dropped": 0, "client_messages": 0}
        self.router: threading.Thread | None = None
        self.running = False

    def __enter__(self) -> MaelstromSubject:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        timeout = self.init_timeout
        for name in self.names:
            err: Any = subprocess.DEVNULL
            if self.log_dir is not None:
                self.log_dir.mkdir(parents=True, exist_ok=True)
                err = (self.log_dir / f"{name}.stderr").open("ab")
            proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
            if self.log_dir is not None:
                err.close()
            self.procs[name] = proc
            threading.Thread(target=self._pump, args=(name, proc), daemon=True).start()
        self.running = True
        self.router = threading.Thread(target=self._route, daemon=True)
        self.router.start()
        waits = [self.request("c0", name, {"type": "init", "node_id": name, "node_ids": self.names})
                 for name in self.names]
        deadline = time.monotonic() + timeout
        for name, (_, q) in zip(self.names, waits, strict=True):
            try:
                reply = q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TransportTimeout(f"{name}: no init_ok in {timeout} s") from None
            if reply["body"].get("type") != "init_ok":
                raise HarnessError(f"{name}: answered init with {reply['body']}")

    def _pump(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        with contextlib.suppress(ValueError, OSError):
            for raw in proc.stdout:
                self.inbox.put((name, raw.decode(errors="replace")))

    def request(self, client: str, dest: str,
                body: dict[str, Any]) -> tuple[int, queue.Queue[dict[str, Any]]]:
        """Send ``body`` from ``client`` to node ``dest``; returns the msg_id and the reply queue."""
        with self.lock:
            msg_id = next(self.seq) + 1
            q: queue.Queue[dict[str, Any]] = queue.Queue()
            self.waiters[(client, msg_id)] = q
            self.counts["client_messages"] += 1
        line = json.dumps({"src": client, "dest": dest, "body": {**body, "msg_id": msg_id}})
        self.inbox.put(("", line))  # through the router: it is the only writer of the nodes' stdin
        return msg_id, q

    def _deliver(self, dest: str, data: bytes) -> None:
        proc = self.procs.get(dest)
        if proc is None or proc.stdin is None or proc.poll() is not None:
            return
        with contextlib.suppress(OSError, ValueError):
            proc.stdin.write(data)
            proc.stdin.flush()

    def _route(self) -> None:
        while self.running:
            timeout = max(0.0, self.delayed[0][0] - time.monotonic()) if self.delayed else 0.1
            try:
                item = self.inbox.get(timeout=timeout)
            except queue.Empty:
                item = ("", "")
            if item is None:
                return
            now = time.monotonic()
            while self.delayed and self.delayed[0][0] <= now:
                _, _, dest, data = heapq.heappop(self.delayed)
                self._deliver(dest, data)
            src, line = item
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
                dest = str(msg["dest"])
                body = msg["body"]
            except (ValueError, KeyError, TypeError):
                continue  # a node that prints garbage on stdout breaks only its own messages
            if dest in self.procs:
                if src in self.procs:  # node to node: through the faulty network
                    self.counts["node_messages"] += 1
                    if (src, dest) in self.faults.cut or self.rng.random() < self.faults.drop:
                        self.counts["dropped"] += 1
                        continue
                    lo, hi = self.faults.delay
                    if hi > 0:
                        due = now + self.rng.uniform(lo, hi)
                        heapq.heappush(self.delayed, (due, next(self.seq), dest, line.encode()))
                        continue
                self._deliver(dest, (line.rstrip("\n") + "\n").encode())
            else:
                with self.lock:
                    q = self.waiters.pop((dest, body.get("in_reply_to", -1)), None)
                if q is not None:
                    q.put(msg)

    def run_lin_kv(self, *, clients: int = 3, ops: int = 100, keys: Sequence[Any] = (0, 1), values: int = 5,
                   timeout: float = 1.0, backoff: float = 0.01) -> LoadResult:
        """Run lin-kv clients (random node per operation, seeded) and record their operations."""
        result = LoadResult(started=time.monotonic())
        lock = threading.Lock()
        issued = itertools.count(1)
        processes = itertools.count(clients)

        def now() -> float:
            return time.monotonic() - result.started

        def client(index: int) -> None:
            rng = random.Random(self.seed * 7919 + index)
            name = f"c{index + 1}"
            process = index
            while True:
                with lock:
                    if next(issued) > ops:
                        return
                kind = rng.choice(("read", "write", "cas"))
                key = rng.choice(list(keys))
                value: Any = None
                body: dict[str, Any] = {"type": kind, "key": key}
                if kind == "write":
                    value = body["value"] = rng.randrange(values)
                elif kind == "cas":
                    value = (rng.randrange(values), rng.randrange(values))
                    body["from"], body["to"] = value
                rec = OpRecord(process=process, kind=kind, key=key, value=value, invoke=now())
                with lock:
                    result.records.append(rec)
                target = rng.choice(self.names)
                deadline = time.monotonic() + timeout
                while True:
                    _, q = self.request(name, target, body)
                    try:
                        reply = q.get(timeout=max(0.0, deadline - time.monotonic()))["body"]
                    except queue.Empty:
                        break  # indefinite
                    rtype, code = reply.get("type"), reply.get("code")
                    rec.node = self.names.index(target)
                    if rtype == f"{kind}_ok":
                        rec.outcome, rec.result = "ok", reply.get("value") if kind == "read" else None
                    elif rtype == "error" and code == 20 and kind == "read":
                        rec.outcome, rec.result = "ok", None  # lin-kv: an absent key reads as nil
                    elif rtype == "error" and code == 11 and time.monotonic() < deadline:
                        rec.attempts += 1
                        with lock:
                            result.retries += 1
                        hint = reply.get("leader")
                        target = hint if hint in self.procs and hint != target else rng.choice(self.names)
                        time.sleep(backoff)  # back-off before a retry, not a wait for an event
                        continue
                    elif rtype == "error" and code in DEFINITE_ERRORS:
                        rec.outcome = "fail"
                    else:
                        break  # indefinite (timeout, crash, or an answer we cannot read)
                    rec.complete = now()
                    break
                if rec.complete is None:
                    with lock:
                        process = next(processes)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result.elapsed = time.monotonic() - result.started
        return result

    def close(self) -> None:
        self.running = False
        self.inbox.put(None)
        if self.router is not None:
            self.router.join(timeout=5.0)
        for proc in self.procs.values():
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                with contextlib.suppress(OSError):
                    proc.stdout.close()


if __name__ == "__main__":
    from wireproof.harness.consensus.maelstrom import main as _main

    raise SystemExit(_main())
