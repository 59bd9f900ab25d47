"""Real mode: consensus nodes as processes over TCP on loopback (issue 4, "Real mode").

Theory of operation
-------------------
Each node is one OS process (``python -m wireproof.harness.consensus.cluster
--node-id I ...``) running the pure node (:mod:`wireproof.consensus.api`) with
a real driver, :class:`NodeServer`: one ``selectors`` loop that

- ticks the node every ``tick`` seconds of monotonic time;
- accepts TCP connections on 127.0.0.1; every frame (:mod:`.wire`) on them is
  an :class:`~wireproof.consensus.api.Envelope` from a peer or a
  :class:`ClientRequest` from a client;
- after every input drains ``ready()`` in the API's order: append
  ``persist`` to the node's file (:class:`FileLog`, fsync optional) BEFORE
  sending ``messages`` (one outbound connection per peer; a peer that is down
  loses the messages, as on a real network), applies ``committed`` to the
  replicated state machine and answers the clients whose requests it holds;
- is controlled by JSON lines on stdin (``{"peers": {...}}``, ``{"stats": 1}``)
  and reports on stdout (``READY <port>``, ``STATS {...}``).

A restarted process rebuilds its node with ``NodeFactory.restore`` from the
records in its file and re-binds the port it had, so peers reconnect. Which
nodes a process runs comes from the algorithm registry (:mod:`.registry`):
the algorithm's :class:`~wireproof.consensus.algorithm.RealMode` names the
factory (Multi-Paxos, for one, runs its key-value store).

The parent side, :class:`LocalCluster`, starts the processes (ports
127.0.0.1:0, announced by the READY line, then distributed on stdin), kills
and restarts them (faults from outside), and always reaps them. The client
load generator lives in :mod:`.load`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import selectors
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from wireproof.consensus.api import ClusterConfig, Envelope, Node, NodeFactory, NotLeader, Ready
from wireproof.errors import DecodeError, HarnessError, TransportTimeout
from wireproof.harness.consensus import registry
from wireproof.harness.consensus.wire import FrameDecoder, WireCodec, default_codec

__all__ = [
    "ClientRequest",
    "ClientResponse",
    "FileLog",
    "LocalCluster",
    "NodeServer",
    "load_algorithm",
    "main",
]

READY_TIMEOUT: Final = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientRequest:
    """A client asks a node to propose ``command`` (e.g. a ``KvCommand``) and answer when applied."""

    request_id: Hashable
    command: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientResponse:
    """The answer: ``result`` once applied, or ``error`` ("not-leader" with a ``leader`` hint)."""

    request_id: Hashable
    result: Any = None
    error: str | None = None
    leader: int | None = None


def load_algorithm(name: str) -> NodeFactory:
    """The factory of the nodes ``consensus cluster`` runs for ``name`` (a registered algorithm or
    ``"module:FactoryClass"``); the nodes answer their clients through ``Ready.replies``."""
    return registry.real_mode(name)[1].factory


# -- durable storage ---------------------------------------------------------

class FileLog:
    """Persisted records of one node: length-prefixed wire frames appended to a file.

    A torn record at the end (the process died mid-write) was never
    acknowledged by ``persist``-before-send, so it is dropped on load.
    """

    def __init__(self, path: Path, codec: WireCodec, *, fsync: bool = False) -> None:
        self.path = path
        self.codec = codec
        self.fsync = fsync
        self.records: list[Any] = []
        good = 0
        if path.exists():
            data = path.read_bytes()
            framer = FrameDecoder(max_frame=codec.max_frame)
            try:
                for payload in framer.frames(data):
                    self.records.append(codec.decode(payload))
                    good += 4 + len(payload)
            except DecodeError:
                pass
        self._file = path.open("ab")
        self._file.truncate(good)

    def append(self, records: Sequence[Any]) -> None:
        if not records:
            return
        self._file.write(b"".join(self.codec.frame(r) for r in records))
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self.records.extend(records)

    def close(self) -> None:
        self._file.close()


# -- the node process ----------------------------------------------------------

class _Conn:
    __slots__ = ("framer", "out", "peer", "sock")

    def __init__(self, sock: socket.socket, codec: WireCodec, peer: int | None) -> None:
        self.sock = sock
        self.framer = FrameDecoder(max_frame=codec.max_frame)
        self.out = bytearray()
        self.peer = peer  # the peer id of an outbound connection; None for inbound


class NodeServer:
    """The real driver of one pure node (see the module docstring)."""

    OUT_LIMIT: Final = 4 << 20

    def __init__(self, *, node_id: int, config: ClusterConfig, factory: NodeFactory,
                 data_dir: Path, port: int = 0,
                 tick: float = 0.01, fsync: bool = False, codec: WireCodec | None = None) -> None:
        self.id = node_id
        self.codec = codec or default_codec()
        self.tick_period = tick
        self.log = FileLog(data_dir / f"node-{node_id}.log", self.codec, fsync=fsync)
        node: Node = (factory.restore(node_id, config, tuple(self.log.records)) if self.log.records
                      else factory.create(node_id, config))
        self.node = node
        self.peers: dict[int, tuple[str, int]] = {}
        self.outbound: dict[int, _Conn] = {}
        self.pending: dict[Hashable, _Conn] = {}
        self.stats = {"sent": 0, "received": 0, "committed": 0, "replies": 0, "proposed": 0, "dropped": 0}
        self.sel = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", port))
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.port: int = self.listener.getsockname()[1]
        self.sel.register(self.listener, selectors.EVENT_READ, "listen")
        self.running = True

    # inputs --------------------------------------------------------------
    def on_frame(self, conn: _Conn, payload: bytes) -> None:
        msg = self.codec.decode(payload)
        if isinstance(msg, Envelope):
            if msg.dst == self.id:
                self.stats["received"] += 1
                self.node.step(msg)
        elif isinstance(msg, ClientRequest):
            try:
                self.node.propose(msg.command)
            except NotLeader as err:
                self._send_to(conn, ClientResponse(request_id=msg.request_id, error="not-leader",
                                                   leader=err.leader))
                return
            self.stats["proposed"] += 1
            self.pending[msg.request_id] = conn
        else:
            raise DecodeError(self.codec.name, (type(msg).__name__,), 0, "not an Envelope or ClientRequest")

    def drain(self) -> None:
        """Run ``ready()``/``advance()`` until the node has nothing more to say."""
        while True:
            rd: Ready = self.node.ready()
            if not rd:
                return
            self.log.append(rd.persist)  # persist before send (api.py, step 3)
            for env in rd.messages:
                self._send_peer(env)
            self.stats["committed"] += len(rd.committed)
            for reply in rd.replies:
                self.stats["replies"] += 1
                self._answer(reply.request_id, reply.result)
            self.node.advance(rd)

    def _answer(self, request_id: Hashable, result: Any) -> None:
        conn = self.pending.pop(request_id, None)
        if conn is not None:
            self._send_to(conn, ClientResponse(request_id=request_id, result=result))

    # outputs -------------------------------------------------------------
    def _send_peer(self, env: Envelope) -> None:
        conn = self.outbound.get(env.dst)
        if conn is None:
            addr = self.peers.get(env.dst)
            if addr is None:
                self.stats["dropped"] += 1
                return
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = sock.connect_ex(addr)
            if err not in (0, 115, 36):  # EINPROGRESS (Linux 115, BSD 36)
                sock.close()
                self.stats["dropped"] += 1
                return
            conn = _Conn(sock, self.codec, env.dst)
            self.outbound[env.dst] = conn
            self.sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)
        self.stats["sent"] += 1
        self._send_to(conn, env)

    def _send_to(self, conn: _Conn, msg: Any) -> None:
        if conn.sock.fileno() < 0:
            return
        conn.out += self.codec.frame(msg)
        if len(conn.out) > self.OUT_LIMIT:
            self._close(conn)
            return
        with contextlib.suppress(KeyError, ValueError):
            self.sel.modify(conn.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, conn)

    def _close(self, conn: _Conn) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.sel.unregister(conn.sock)
        conn.sock.close()
        if conn.peer is not None and self.outbound.get(conn.peer) is conn:
            del self.outbound[conn.peer]
        for rid in [r for r, c in self.pending.items() if c is conn]:
            del self.pending[rid]

    # the loop --------------------------------------------------------------
    def on_control(self, line: str) -> None:
        cmd = json.loads(line)
        if "peers" in cmd:
            self.peers = {int(k): (str(v[0]), int(v[1])) for k, v in cmd["peers"].items()}
            for conn in list(self.outbound.values()):
                self._close(conn)
        if "stats" in cmd:
            print("STATS " + json.dumps(self.stats), flush=True)
        if "stop" in cmd:
            self.running = False

    def serve(self, control: Any = None) -> None:
        """Run until stopped (a ``{"stop": 1}`` line) or stdin closes."""
        if control is not None:
            os.set_blocking(control.fileno(), False)
            self.sel.register(control, selectors.EVENT_READ, "control")
        ctl_buf = b""
        next_tick = time.monotonic() + self.tick_period
        while self.running:
            timeout = max(0.0, next_tick - time.monotonic())
            for key, events in self.sel.select(timeout):
                if key.data == "listen":
                    with contextlib.suppress(BlockingIOError):
                        sock, _ = self.listener.accept()
                        sock.setblocking(False)
                        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        self.sel.register(sock, selectors.EVENT_READ, _Conn(sock, self.codec, None))
                elif key.data == "control":
                    chunk = os.read(control.fileno(), 65536)
                    if not chunk:
                        self.running = False
                        break
                    ctl_buf += chunk
                    *lines, ctl_buf = ctl_buf.split(b"\n")
                    for line in lines:
                        if line.strip():
                            self.on_control(line.decode())
                else:
                    self._on_socket(key.data, events)
                self.drain()
            now = time.monotonic()
            if now >= next_tick:
                self.node.tick()
                next_tick = max(next_tick + self.tick_period, now)
                self.drain()
        self.close()

    def _on_socket(self, conn: _Conn, events: int) -> None:
        if events & selectors.EVENT_WRITE and conn.out:
            try:
                n = conn.sock.send(conn.out)
                del conn.out[:n]
            except BlockingIOError:
                pass
            except OSError:
                self._close(conn)
                return
        if not conn.out and conn.sock.fileno() >= 0:
            with contextlib.suppress(KeyError, ValueError):
                self.sel.modify(conn.sock, selectors.EVENT_READ, conn)
        if events & selectors.EVENT_READ:
            try:
                data = conn.sock.recv(65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close(conn)
                return
            try:
                for payload in conn.framer.frames(data):
                    self.on_frame(conn, payload)
            except DecodeError as err:  # a peer that breaks framing loses its connection, not the node
                print(f"node {self.id}: {err}", file=sys.stderr, flush=True)
                self._close(conn)

    def close(self) -> None:
        for key in list(self.sel.get_map().values()):
            if isinstance(key.data, _Conn):
                key.fileobj.close()  # type: ignore[union-attr]
        self.listener.close()
        self.sel.close()
        self.log.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of one node process."""
    p = argparse.ArgumentParser(prog="python -m wireproof.harness.consensus.cluster")
    p.add_argument("--algorithm", required=True,
                   help="a registered algorithm, or package.module:FactoryClass")
    p.add_argument("--node-id", type=int, required=True)
    p.add_argument("--nodes", type=int, required=True, help="cluster size (ids 0..N-1)")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tick", type=float, default=0.01, help="seconds per tick")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--election-ticks", type=int, default=10)
    p.add_argument("--heartbeat-ticks", type=int, default=2)
    p.add_argument("--fsync", action="store_true")
    args = p.parse_args(argv)
    algorithm, mode = registry.real_mode(args.algorithm)
    factory = mode.factory
    codec = default_codec(modules=(*algorithm.wire_modules(), type(factory).__module__))
    config = ClusterConfig(nodes=tuple(range(args.nodes)), seed=args.seed,
                           election_ticks=args.election_ticks, heartbeat_ticks=args.heartbeat_ticks)
    server = NodeServer(node_id=args.node_id, config=config, factory=factory,
                        data_dir=args.data_dir,
                        port=args.port, tick=args.tick, fsync=args.fsync, codec=codec)
    print(f"READY {server.port}", flush=True)
    server.serve(sys.stdin)
    return 0


# -- the parent side -------------------------------------------------------------

@dataclass
class _Proc:
    node_id: int
    popen: subprocess.Popen[bytes]
    lines: queue.Queue[str | None]
    port: int = 0
    restarts: int = 0


class LocalCluster:
    """N node processes on loopback; a context manager that always reaps them."""

    def __init__(self, n: int, data_dir: Path, *, algorithm: str, tick: float = 0.01,
                 seed: int = 0, fsync: bool = False, election_ticks: int = 10,
                 heartbeat_ticks: int = 2, pythonpath: Sequence[str] = ()) -> None:
        self.n = n
        self.env = dict(os.environ)
        if pythonpath:
            self.env["PYTHONPATH"] = os.pathsep.join([*pythonpath, self.env.get("PYTHONPATH", "")])
        self.data_dir = data_dir
        self.algorithm = algorithm
        self.tick = tick
        self.seed = seed
        self.fsync = fsync
        self.election_ticks = election_ticks
        self.heartbeat_ticks = heartbeat_ticks
        self.procs: dict[int, _Proc] = {}

    @property
    def addresses(self) -> dict[int, tuple[str, int]]:
        return {i: ("127.0.0.1", p.port) for i, p in self.procs.items()}

    def __enter__(self) -> LocalCluster:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.n):
            self.procs[i] = self._spawn(i, 0)
        for proc in self.procs.values():
            proc.port = self._await_ready(proc)
        self._announce_peers()

    def _spawn(self, i: int, port: int) -> _Proc:
        cmd = [sys.executable, "-m", "wireproof.harness.consensus.cluster", "--algorithm", self.algorithm,
               "--node-id", str(i), "--nodes", str(self.n), "--data-dir", str(self.data_dir),
               "--port", str(port), "--tick", str(self.tick), "--seed", str(self.seed),
               "--election-ticks", str(self.election_ticks), "--heartbeat-ticks", str(self.heartbeat_ticks)]
        if self.fsync:
            cmd.append("--fsync")
        stderr = (self.data_dir / f"node-{i}.stderr").open("ab")
        popen = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                 env=self.env)
        stderr.close()
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(popen, lines), daemon=True).start()
        return _Proc(node_id=i, popen=popen, lines=lines, port=port)

    def _await_line(self, proc: _Proc, prefix: str, timeout: float = READY_TIMEOUT) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = proc.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TransportTimeout(f"node {proc.node_id}: no {prefix} line in {timeout} s") from None
            if line is None:
                err = (self.data_dir / f"node-{proc.node_id}.stderr").read_text(errors="replace")[-2000:]
                raise HarnessError(f"node {proc.node_id} exited before {prefix}: {err}")
            if line.startswith(prefix + " "):
                return line[len(prefix) + 1:]

    def _await_ready(self, proc: _Proc) -> int:
        return int(self._await_line(proc, "READY"))

    def _control(self, proc: _Proc, cmd: dict[str, Any]) -> None:
        stdin = proc.popen.stdin
        if stdin is None or proc.popen.poll() is not None:
            return
        with contextlib.suppress(OSError):
            stdin.write(json.dumps(cmd).encode() + b"\n")
            stdin.flush()

    def _announce_peers(self) -> None:
        peers = {str(i): list(a) for i, a in self.addresses.items()}
        for proc in self.procs.values():
            self._control(proc, {"peers": peers})

    def kill(self, i: int) -> None:
        """SIGKILL node ``i`` (a crash: only what it persisted survives)."""
        proc = self.procs[i]
        proc.popen.kill()
        proc.popen.wait()
        _close_pipes(proc.popen)

    def restart(self, i: int) -> None:
        """Start node ``i`` again on its old port, from its file; waits for READY."""
        old = self.procs[i]
        proc = self._spawn(i, old.port)
        proc.restarts = old.restarts + 1
        self.procs[i] = proc
        port = self._await_ready(proc)
        if port != old.port:
            proc.port = port
            self._announce_peers()
        else:
            self._control(proc, {"peers": {str(k): list(a) for k, a in self.addresses.items()}})

    def stats(self, timeout: float = 5.0) -> dict[int, dict[str, int]]:
        """Each live node's counters (messages sent/received, entries committed, commands applied)."""
        out: dict[int, dict[str, int]] = {}
        for i, proc in self.procs.items():
            if proc.popen.poll() is None:
                self._control(proc, {"stats": 1})
                with contextlib.suppress(HarnessError):
                    out[i] = json.loads(self._await_line(proc, "STATS", timeout))
        return out

    def close(self) -> None:
        for proc in self.procs.values():
            self._control(proc, {"stop": 1})
        for proc in self.procs.values():
            try:
                proc.popen.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()
            _close_pipes(proc.popen)


def _pump(popen: subprocess.Popen[bytes], lines: queue.Queue[str | None]) -> None:
    assert popen.stdout is not None
    with contextlib.suppress(ValueError, OSError):
        for raw in popen.stdout:
            lines.put(raw.decode(errors="replace").rstrip("\n"))
    lines.put(None)


def _close_pipes(popen: subprocess.Popen[bytes]) -> None:
    for pipe in (popen.stdin, popen.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


@contextlib.contextmanager
def local_cluster(n: int, data_dir: Path, **kwargs: Any) -> Iterator[LocalCluster]:
    """``with local_cluster(3, tmp, algorithm="kv") as c:`` — started, and always reaped."""
    cluster = LocalCluster(n, data_dir, **kwargs)
    with cluster:
        yield cluster


if __name__ == "__main__":
    # Run the imported module's main, not __main__'s: the wire registry holds
    # wireproof.harness.consensus.cluster.ClientRequest, a different class.
    from wireproof.harness.consensus.cluster import main as _main

    raise SystemExit(_main())
