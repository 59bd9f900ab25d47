"""External consensus subjects: real server clusters on loopback, driven and checked.

Theory of operation
-------------------
A :class:`Subject` is a cluster of real server processes (etcd members,
ZooKeeper servers) on 127.0.0.1 that the workbench starts, stops with a
signal and restarts from outside: the faults are process faults (SIGKILL,
SIGTERM, SIGSTOP/SIGCONT) and link faults (a :class:`LinkProxy` in the
middle of a peer link that can be clogged: bytes are held back, not lost,
until it is released — a partition the process cannot tell from a slow
network).

:func:`run_workload` drives a subject Jepsen-style: ``clients`` threads,
each bound to one member, issue read / write / cas on a few keys with a
fixed per-operation timeout, while an optional nemesis thread injects
faults. Every operation becomes a
:class:`~wireproof.consensus.check.history.Operation` with invoke and
complete times from :func:`time.monotonic`; its outcome is

* ``ok`` — the subject answered and the operation took effect (a cas whose
  compare held);
* ``fail`` — it certainly did not take effect (the compare of a cas failed,
  the connection was refused before anything was sent);
* ``info`` — indefinite: a timeout or a connection lost after sending; the
  checker lets it take effect at any point after its invocation, or never.

The run is bounded both in operations and in wall-clock time and stops by
itself; the history then goes to
:func:`~wireproof.consensus.check.lincheck.check_linearizable`.

Processes never outlive the run: subjects are context managers, and every
process started here is also registered with an :mod:`atexit` hook that
kills what is still running when the interpreter exits. Ports are picked
free at run time on 127.0.0.1; data directories live in a temporary
directory removed on exit (kept, for reading the servers' logs, when the
environment variable ``WIREPROOF_KEEP_SUBJECT`` is set).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self

from wireproof.consensus.check.history import History, Operation, Outcome, dump_wireproof
from wireproof.consensus.check.lincheck import LinResult, check_linearizable
from wireproof.errors import HarnessError, TransportError, TransportTimeout

__all__ = [
    "Client",
    "Fault",
    "LinkProxy",
    "ServerProcess",
    "Subject",
    "WorkloadResult",
    "free_ports",
    "kill_restart_nemesis",
    "run_workload",
    "wait_until",
]

OpKind = Literal["read", "write", "cas"]

# ---------------------------------------------------------------- processes

_LIVE: set[ServerProcess] = set()
_TMPDIRS: set[Path] = set()
_LIVE_LOCK = threading.Lock()


@atexit.register
def _kill_leftovers() -> None:
    with _LIVE_LOCK:
        procs, dirs = list(_LIVE), list(_TMPDIRS)
    for proc in procs:
        proc.kill(signal.SIGKILL)
    if not os.environ.get("WIREPROOF_KEEP_SUBJECT"):
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now.

    The sockets are held until all are picked, so the ports are distinct; a
    server must still bind them after they are closed, a small race that
    shows as a start failure quoting the server's log, never as a hang.
    """
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str, poll: float = 0.05) -> None:
    """Poll ``predicate`` until it holds; :class:`TransportTimeout` naming ``what`` after ``timeout`` s.

    A readiness probe, not a sleep: it returns as soon as the condition holds.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise TransportTimeout(f"{what}: not ready after {timeout:g} s")
        pause.wait(poll)


def port_open(port: int, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


class ServerProcess:
    """One server process: its command line, its log file, and signals sent to it."""

    def __init__(self, name: str, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> None:
        if self.running:
            return
        with self.log.open("ab") as out:
            # A new session: a signal meant for the test runner's process
            # group never reaches the servers, and ours reach only them.
            self._proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                          stderr=subprocess.STDOUT, env=self.env, cwd=self.cwd,
                                          start_new_session=True)
        with _LIVE_LOCK:
            _LIVE.add(self)

    def send(self, sig: signal.Signals) -> None:
        """Send ``sig`` (SIGSTOP/SIGCONT included) if the process runs."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(sig)

    def kill(self, sig: signal.Signals = signal.SIGKILL, *, timeout: float = 10.0) -> None:
        """Stop the process with ``sig`` and reap it (SIGKILL if it outlives ``timeout``)."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            if sig != signal.SIGKILL:
                proc.send_signal(signal.SIGCONT)  # a stopped process must run to exit
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with _LIVE_LOCK:
            _LIVE.discard(self)

    def tail(self, lines: int = 30) -> str:
        """The end of the process log, for error messages."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# -------------------------------------------------------------- link proxy

class LinkProxy:
    """A TCP forwarder on 127.0.0.1 standing in one peer link, that can be clogged.

    Each accepted connection is joined to a fresh connection to
    ``127.0.0.1:target``. While :meth:`clog` holds, bytes travelling in the
    clogged direction are read and queued but not delivered (so neither end
    sees an error or a closed socket); :meth:`release` delivers them in
    order. ``"down"`` is target → client (e.g. leader → follower), ``"up"``
    is client → target.
    """

    def __init__(self, target: int, *, name: str = "") -> None:
        self.target = target
        self.name = name or f"proxy->{target}"
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._clogged: set[str] = set()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def clog(self, direction: Literal["down", "up", "both"] = "down") -> None:
        with self._lock:
            self._clogged |= {"down", "up"} if direction == "both" else {direction}
        self._wake()

    def release(self) -> None:
        with self._lock:
            self._clogged.clear()
        self._wake()

    def close(self) -> None:
        self._stop.set()
        self._wake()
        self._thread.join(5)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, ("accept", None))
        sel.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        # per socket: (peer socket, direction of bytes read from it, queue towards peer)
        pairs: dict[socket.socket, tuple[socket.socket, str, bytearray]] = {}

        def drop(s: socket.socket) -> None:
            peer = pairs.pop(s, (None, "", b""))[0]
            for x in (s, peer):
                if x is None:
                    continue
                pairs.pop(x, None)
                with contextlib.suppress(KeyError, ValueError):
                    sel.unregister(x)
                x.close()

        def flush() -> None:
            with self._lock:
                clogged = set(self._clogged)
            for _src, (dst, direction, queue) in list(pairs.items()):
                if queue and direction not in clogged:
                    try:
                        dst.sendall(bytes(queue))
                    except OSError:
                        drop(dst)
                        continue
                    queue.clear()

        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.5):
                    kind, _ = key.data
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if kind == "accept":
                        down, _addr = self._listener.accept()
                        try:
                            up = socket.create_connection(("127.0.0.1", self.target), timeout=2)
                        except OSError:
                            down.close()
                            continue
                        up.settimeout(None)
                        # no Nagle: ZooKeeper's quorum packets are small and latency-bound
                        for s in (down, up):
                            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        # blocking sends: a queued burst is delivered whole, in order
                        pairs[down] = (up, "up", bytearray())
                        pairs[up] = (down, "down", bytearray())
                        sel.register(down, selectors.EVENT_READ, ("data", None))
                        sel.register(up, selectors.EVENT_READ, ("data", None))
                    elif kind == "wake":
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    elif sock in pairs:
                        try:
                            data = sock.recv(65536)
                        except OSError:
                            data = b""
                        if not data:
                            drop(sock)
                            continue
                        pairs[sock][2].extend(data)
                flush()
        finally:
            for s in list(pairs):
                s.close()
            self._listener.close()
            self._wake_r.close()
            self._wake_w.close()
            sel.close()


# ------------------------------------------------------------------ subject

class Client(Protocol):
    """A client bound to one member of a subject.

    Each call either returns (the operation completed), raises
    :class:`~wireproof.errors.TransportTimeout` (indefinite: it may or may
    not have taken effect) or raises
    :class:`~wireproof.errors.TransportError` (it certainly did not).
    ``cas`` returns whether the compare held and the write happened.
    """

    def read(self, key: str) -> int | None: ...

    def write(self, key: str, value: int) -> None: ...

    def cas(self, key: str, expected: int, new: int) -> bool: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Fault:
    """A fault the nemesis injected: ``action`` on ``member`` at monotonic time ``at``."""

    at: float
    action: str
    member: str


class Subject:
    """A cluster of server processes on loopback; subclasses fill in how to run them.

    Subclasses set :attr:`name` and implement :meth:`_server`,
    :meth:`_ready` and :meth:`client`. ``with subject:`` starts it and
    always stops it, removing its temporary directory.
    """

    name = "subject"

    def __init__(self, members: Sequence[str], *, start_timeout: float = 30.0) -> None:
        self.members = list(members)
        self.start_timeout = start_timeout
        self._tmp: Path | None = None
        self.servers: dict[str, ServerProcess] = {}

    # subclass hooks -----------------------------------------------------
    def _server(self, member: str, workdir: Path) -> ServerProcess:
        raise NotImplementedError

    def _ready(self, member: str) -> bool:
        raise NotImplementedError

    def client(self, member: str, *, timeout: float) -> Client:
        raise NotImplementedError

    # lifecycle -----------------------------------------------------------
    @property
    def workdir(self) -> Path:
        if self._tmp is None:
            raise HarnessError(f"{self.name}: not started")
        return self._tmp

    def start(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix=f"wireproof-{self.name}-"))
        with _LIVE_LOCK:
            _TMPDIRS.add(self._tmp)
        try:
            for member in self.members:
                d = self._tmp / member
                d.mkdir()
                self.servers[member] = self._server(member, d)
            for member in self.members:
                self.servers[member].start()
            self.wait_ready(self.members)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, members: Sequence[str], timeout: float | None = None) -> None:
        for member in members:
            server = self.servers[member]

            def ready(m: str = member, s: ServerProcess = server) -> bool:
                if not s.running:
                    raise TransportError(f"{self.name} {m} exited:\n{s.tail()}")
                return self._ready(m)

            try:
                wait_until(ready, timeout=timeout or self.start_timeout, what=f"{self.name} {member}")
            except TransportTimeout as exc:
                raise TransportTimeout(f"{exc}\n{server.tail()}") from None

    def stop(self) -> None:
        for server in self.servers.values():
            server.kill(signal.SIGKILL)
        if self._tmp is not None and not os.environ.get("WIREPROOF_KEEP_SUBJECT"):
            shutil.rmtree(self._tmp, ignore_errors=True)
            with _LIVE_LOCK:
                _TMPDIRS.discard(self._tmp)

    def kill(self, member: str, sig: signal.Signals = signal.SIGKILL) -> None:
        self.servers[member].kill(sig)

    def pause(self, member: str) -> None:
        """SIGSTOP ``member``: it holds its sockets open but answers nothing."""
        self.servers[member].send(signal.SIGSTOP)

    def resume(self, member: str) -> None:
        """SIGCONT ``member``."""
        self.servers[member].send(signal.SIGCONT)

    def restart(self, member: str, *, wait: bool = True) -> None:
        self.servers[member].start()
        if wait:
            self.wait_ready([member])

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# ----------------------------------------------------------------- workload

@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadResult:
    """What :func:`run_workload` recorded and what the checker said of it."""

    history: History
    verdict: LinResult
    faults: tuple[Fault, ...]
    duration: float
    counts: Mapping[str, int] = field(default_factory=dict)  # outcome -> operations

    @property
    def linearizable(self) -> bool:
        """True only for a definite "linearizable" (not for an exhausted search budget)."""
        return self.verdict.linearizable is True


Nemesis = Callable[[Subject, threading.Event, list[Fault]], None]


def kill_restart_nemesis(*, members: Sequence[str] | None = None, interval: float = 0.5,
                         sig: signal.Signals = signal.SIGKILL, seed: int = 0) -> Nemesis:
    """A nemesis that kills one member with ``sig``, waits ``interval``, restarts it, repeatedly."""
    rng = random.Random(seed)

    def nemesis(subject: Subject, stop: threading.Event, faults: list[Fault]) -> None:
        pool = list(members or subject.members)
        while not stop.wait(interval):
            victim = rng.choice(pool)
            faults.append(Fault(at=time.monotonic(), action=f"kill {sig.name}", member=victim))
            subject.kill(victim, sig)
            if stop.wait(interval):
                break
            faults.append(Fault(at=time.monotonic(), action="restart", member=victim))
            subject.restart(victim)
        # leave the cluster whole for the next user
        for m in pool:
            if not subject.servers[m].running:
                faults.append(Fault(at=time.monotonic(), action="restart", member=m))
                subject.restart(m)

    return nemesis


_TRANSPORT = object()  # marks a result lost to a transport failure


def _one_op(client: Client, process: int, kind: OpKind, key: str, value: Any) -> tuple[Operation, bool]:
    """Run one operation; also say whether the transport failed (timeout, refused, lost)."""
    invoke = time.monotonic()
    result: Any = None
    outcome: Outcome
    try:
        if kind == "read":
            result = client.read(key)
            outcome = "ok"
        elif kind == "write":
            client.write(key, value)
            outcome = "ok"
        else:
            outcome = "ok" if client.cas(key, value[0], value[1]) else "fail"
    except TransportTimeout:
        outcome = "info"
    except TransportError:
        outcome = "fail"
        result = _TRANSPORT
    complete = time.monotonic()
    transport_failed = outcome == "info" or result is _TRANSPORT
    return Operation(process=process, kind=kind, key=key, value=value, invoke=invoke,
                     complete=None if outcome == "info" else complete, outcome=outcome,
                     result=None if result is _TRANSPORT else result), transport_failed


def run_workload(subject: Subject, *, clients: Sequence[str], keys: Sequence[str] = ("x", "y"),
                 max_ops: int = 300, duration: float = 5.0, op_timeout: float = 2.0,
                 mix: Mapping[OpKind, float] | None = None, values: int = 5, seed: int = 0,
                 nemesis: Nemesis | None = None, model: str = "kv",
                 retry_backoff: float = 0.05, save: str | Path | None = None) -> WorkloadResult:
    """Drive ``subject`` with one client thread per entry of ``clients`` (a member name each).

    Stops after ``max_ops`` operations in all or ``duration`` seconds,
    whichever comes first (plus at most one ``op_timeout`` for operations in
    flight), then checks the history. Values are small integers
    (``0..values-1``) so cas succeeds often enough to matter. A process whose
    operation is indefinite retires and a fresh process number takes its
    place, as in Jepsen (an indefinite operation stays open forever). A
    client whose operation failed in transport waits ``retry_backoff``
    seconds (or until the run stops) before its next operation. ``save``
    names a file to write the history to, in the wireproof JSON-lines
    format (``wireproof lincheck FILE --format wireproof`` reads it).
    """
    weights: dict[OpKind, float] = dict(mix or {"read": 0.5, "write": 0.3, "cas": 0.2})
    kinds: list[OpKind] = list(weights)
    ops: list[Operation] = []
    lock = threading.Lock()
    stop = threading.Event()
    budget = [max_ops]
    next_process = [len(clients)]
    faults: list[Fault] = []
    errors: list[BaseException] = []

    def worker(index: int, member: str) -> None:
        rng = random.Random(seed * 1_000_003 + index)
        process = index
        try:
            client = subject.client(member, timeout=op_timeout)
        except BaseException as exc:  # recorded and re-raised after the run
            errors.append(exc)
            return
        try:
            while not stop.is_set():
                with lock:
                    if budget[0] <= 0:
                        return
                    budget[0] -= 1
                kind = rng.choices(kinds, [weights[k] for k in kinds])[0]
                key = rng.choice(list(keys))
                value: Any = None
                if kind == "write":
                    value = rng.randrange(values)
                elif kind == "cas":
                    value = (rng.randrange(values), rng.randrange(values))
                op, transport_failed = _one_op(client, process, kind, key, value)
                with lock:
                    ops.append(op)
                    if op.outcome == "info":
                        process = next_process[0]
                        next_process[0] += 1
                if transport_failed:
                    # A dead member refuses at once: back off rather than spend the
                    # whole operation budget on refusals.
                    stop.wait(retry_backoff)
        except BaseException as exc:
            errors.append(exc)
        finally:
            client.close()

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i, m), name=f"client-{i}", daemon=True)
               for i, m in enumerate(clients)]
    nemesis_thread = None
    if nemesis is not None:
        nemesis_thread = threading.Thread(target=nemesis, args=(subject, stop, faults),
                                          name="nemesis", daemon=True)
        nemesis_thread.start()
    for t in threads:
        t.start()
    deadline = started + duration
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stop.set()
    for t in threads:
        t.join(op_timeout + 5)
    if nemesis_thread is not None:
        nemesis_thread.join(subject.start_timeout + 5)
    elapsed = time.monotonic() - started
    if errors:
        raise HarnessError(f"{subject.name}: a client failed: {errors[0]!r}") from errors[0]
    history: History = tuple(sorted(ops, key=lambda o: o.invoke))
    counts = {k: sum(1 for o in history if o.outcome == k) for k in ("ok", "fail", "info")}
    if save is not None:  # before checking, so a checker failure still leaves the evidence
        Path(save).write_text(dump_wireproof(history), encoding="utf-8")
    verdict = check_linearizable(history, model=model)
    return WorkloadResult(history=history, verdict=verdict, faults=tuple(faults), duration=elapsed,
                          counts=counts)
