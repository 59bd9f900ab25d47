"""Debian's zookeeper (3.8) as an external subject: a 3-server ensemble on loopback.

Normative references: the ZooKeeper Administrator's Guide ("Running
Replicated ZooKeeper": ``server.N=host:quorumPort:electionPort``, ``myid``,
``tickTime``/``initLimit``/``syncLimit``, ``4lw.commands.whitelist``,
``admin.enableServer``) and the Programmer's Guide, "Consistency
Guarantees": ZooKeeper promises sequential consistency and linearizable
*writes*; a read is served by the server the client is connected to and
"may be stale" — "if you need every client to see the same view, call
``sync()`` before reading".

Theory of operation
-------------------
Servers ``zk1..zk3`` run ``QuorumPeerMain`` from Debian's jars
(``/usr/share/java/zookeeper.jar``, whose manifest class path names its
dependencies). Each gets its own ``zoo.cfg`` and ``myid``. A server's own
``server.N`` line carries its real quorum port; the lines for the *other*
servers point their quorum port at a :class:`~.subjects.LinkProxy` owned
by that directed link, so every follower→leader connection (learners dial
the leader's quorum port) runs through a proxy the workbench controls.
Clogging the proxy between a follower and the leader holds back PROPOSAL
and COMMIT packets: the follower stays up and keeps serving its clients
from a data tree that no longer advances, while the leader and the other
follower still form a quorum and commit writes. That is the fault that
shows follower reads are not linearizable (:func:`stale_read_trial`); a
``sync()`` before each read makes the same trial linearizable, because the
sync's answer travels the clogged link behind the commits.

Clients are kazoo sessions bound to exactly one server
(``randomize_hosts=False``, one host). write = ``set`` (``create`` the
first time), read = ``get``, cas = ``get`` then ``set(version=...)`` — the
version check makes the cas atomic at the leader even when the ``get`` was
stale. Readiness is the ``srvr`` four-letter word answering
``Mode: leader`` or ``Mode: follower``.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from wireproof.consensus.check.history import History, Operation, Outcome
from wireproof.consensus.check.lincheck import LinResult, check_linearizable
from wireproof.errors import HarnessError, TransportError, TransportTimeout
from wireproof.harness.consensus.subjects import LinkProxy, ServerProcess, Subject, free_ports, wait_until

__all__ = ["StaleReadDemo", "ZkClient", "ZooKeeperEnsemble", "demonstrate_stale_reads",
           "stale_read_trial", "zookeeper_available"]

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
# A logging backend for slf4j so server logs land in each server's log file.
SLF4J_SIMPLE = Path("/usr/share/java/slf4j-simple.jar")
MAIN = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
TICK_MS = 500  # session timeouts are 2..20 ticks: 1..10 s


def zookeeper_available() -> str | None:
    """None when java, Debian's zookeeper jars and kazoo are all present, else what is missing."""
    if shutil.which("java") is None:
        return "java is not installed (Debian default-jre-headless)"
    if not ZOOKEEPER_JAR.exists():
        return f"{ZOOKEEPER_JAR} is absent (Debian package zookeeper)"
    try:
        import kazoo.client  # noqa: F401
    except ImportError:
        return "kazoo is not installed (pip install kazoo)"
    return None


def four_letter_word(port: int, word: str, timeout: float = 1.0) -> str:
    """Send a four-letter-word command and return the answer ('' when none)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            chunks = []
            while chunk := s.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return ""


class ZkClient:
    """A kazoo session bound to one server (a :class:`~.subjects.Client`); ``sync`` before reads if asked."""

    def __init__(self, port: int, *, timeout: float, sync: bool = False,
                 session_timeout: float = 5.0) -> None:
        from kazoo.client import KazooClient

        self.timeout = timeout
        self.sync = sync
        self._zk = KazooClient(hosts=f"127.0.0.1:{port}", timeout=session_timeout, randomize_hosts=False)
        try:
            self._zk.start(timeout=max(timeout, session_timeout))
        except Exception as exc:
            self._zk.close()
            raise TransportError(f"zookeeper 127.0.0.1:{port}: no session: {exc!r}") from None

    @staticmethod
    def path(key: str) -> str:
        return f"/wireproof/{key}"

    def _wait(self, async_result: Any, *, effect: bool) -> Any:
        from kazoo.exceptions import (
            BadVersionError,
            ConnectionLoss,
            NodeExistsError,
            NoNodeError,
            SessionExpiredError,
            ZookeeperError,
        )
        from kazoo.handlers.threading import KazooTimeoutError

        try:
            return async_result.get(timeout=self.timeout)
        except (NoNodeError, BadVersionError, NodeExistsError):
            raise
        except KazooTimeoutError:
            raise TransportTimeout(f"zookeeper: no answer in {self.timeout:g} s") from None
        except (ConnectionLoss, SessionExpiredError, ZookeeperError, OSError) as exc:
            if effect:
                raise TransportTimeout(f"zookeeper: {exc!r}") from None
            raise TransportError(f"zookeeper: {exc!r}") from None
        except Exception as exc:  # kazoo raises its own classes for a closing client
            if effect:
                raise TransportTimeout(f"zookeeper: {exc!r}") from None
            raise TransportError(f"zookeeper: {exc!r}") from None

    def _get(self, key: str) -> tuple[int | None, int]:
        from kazoo.exceptions import NoNodeError

        path = self.path(key)
        if self.sync:
            self._wait(self._zk.sync_async(path), effect=False)
        try:
            data, stat = self._wait(self._zk.get_async(path), effect=False)
        except NoNodeError:
            return None, -1
        return (int(data) if data else None), int(stat.version)

    def read(self, key: str) -> int | None:
        return self._get(key)[0]

    def write(self, key: str, value: int) -> None:
        from kazoo.exceptions import NodeExistsError, NoNodeError

        path, data = self.path(key), str(value).encode()
        try:
            self._wait(self._zk.set_async(path, data), effect=True)
        except NoNodeError:
            try:
                self._wait(self._zk.create_async(path, data, makepath=True), effect=True)
            except NodeExistsError:
                self._wait(self._zk.set_async(path, data), effect=True)

    def cas(self, key: str, expected: int, new: int) -> bool:
        from kazoo.exceptions import BadVersionError, NoNodeError

        current, version = self._get(key)
        if current != expected:
            return False
        try:
            self._wait(self._zk.set_async(self.path(key), str(new).encode(), version=version), effect=True)
        except (BadVersionError, NoNodeError):
            return False
        return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._zk.stop()
        with contextlib.suppress(Exception):
            self._zk.close()


class ZooKeeperEnsemble(Subject):
    """``size`` ZooKeeper servers ``zk1..zkN`` on 127.0.0.1 whose peer links run through proxies."""

    name = "zookeeper"

    def __init__(self, size: int = 3, *, java: str | None = None, start_timeout: float = 40.0) -> None:
        super().__init__([f"zk{i}" for i in range(1, size + 1)], start_timeout=start_timeout)
        missing = zookeeper_available()
        if missing is not None:
            raise TransportError(f"zookeeper: {missing}")
        self.java = java or shutil.which("java") or "java"
        ports = free_ports(3 * size)
        self.client_ports = dict(zip(self.members, ports[:size], strict=True))
        self.quorum_ports = dict(zip(self.members, ports[size:2 * size], strict=True))
        self.election_ports = dict(zip(self.members, ports[2 * size:], strict=True))
        self.proxies: dict[tuple[str, str], LinkProxy] = {}
        self.sync_reads = False
        """The default for :meth:`client`: whether its reads call ``sync()`` first."""

    def myid(self, member: str) -> int:
        return self.members.index(member) + 1

    def _server(self, member: str, workdir: Path) -> ServerProcess:
        lines = [
            f"tickTime={TICK_MS}", "initLimit=20", "syncLimit=10",
            f"dataDir={workdir / 'data'}",
            "clientPortAddress=127.0.0.1", f"clientPort={self.client_ports[member]}",
            "4lw.commands.whitelist=srvr,ruok,mntr", "admin.enableServer=false",
            "standaloneEnabled=false", "reconfigEnabled=false",
            # The transaction log is still written, only not fsync'ed: a SIGKILL loses
            # nothing the kernel holds, and a write costs ~1 ms instead of ~40 ms.
            "forceSync=no",
        ]
        for other in self.members:
            quorum = self.quorum_ports[other]
            if other != member:
                proxy = LinkProxy(quorum, name=f"zk-link-{member}-{other}")
                self.proxies[member, other] = proxy
                quorum = proxy.port
            lines.append(f"server.{self.myid(other)}=127.0.0.1:{quorum}:{self.election_ports[other]}")
        (workdir / "data").mkdir(exist_ok=True)
        (workdir / "data" / "myid").write_text(f"{self.myid(member)}\n")
        cfg = workdir / "zoo.cfg"
        cfg.write_text("\n".join(lines) + "\n")
        classpath = str(ZOOKEEPER_JAR)
        if SLF4J_SIMPLE.exists():
            classpath += f":{SLF4J_SIMPLE}"
        argv = [self.java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto",
                "-Dzookeeper.admin.enableServer=false", "-Djava.net.preferIPv4Stack=true",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
                "-cp", classpath, MAIN, str(cfg)]
        return ServerProcess(member, argv, log=workdir / "zookeeper.log", cwd=workdir)

    def mode(self, member: str) -> str:
        """``leader``, ``follower`` or ``''`` (not serving), from the ``srvr`` four-letter word."""
        for line in four_letter_word(self.client_ports[member], "srvr").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return ""

    def _ready(self, member: str) -> bool:
        return self.mode(member) in ("leader", "follower")

    def leader(self, timeout: float = 10.0) -> str:
        """The member that answers ``Mode: leader`` (waits for one)."""
        found: list[str] = []

        def probe() -> bool:
            found[:] = [m for m in self.members if self.servers[m].running and self.mode(m) == "leader"]
            return len(found) == 1

        wait_until(probe, timeout=timeout, what="zookeeper leader")
        return found[0]

    def clog(self, follower: str, leader: str, direction: Literal["down", "up", "both"] = "down") -> None:
        """Hold back what ``leader`` sends to ``follower`` (``down``) on their quorum link."""
        self.proxies[follower, leader].clog(direction)

    def release(self) -> None:
        """Deliver everything held back on every link."""
        for proxy in self.proxies.values():
            proxy.release()

    def stop(self) -> None:
        super().stop()
        for proxy in self.proxies.values():
            proxy.close()
        self.proxies.clear()

    def client(self, member: str, *, timeout: float, sync: bool | None = None) -> ZkClient:
        return ZkClient(self.client_ports[member], timeout=timeout,
                        sync=self.sync_reads if sync is None else sync)


# --------------------------------------------------------- the demonstration

@dataclass(frozen=True, slots=True, kw_only=True)
class StaleReadDemo:
    """Outcome of :func:`demonstrate_stale_reads`: the last trial's history and verdict."""

    sync: bool
    tries: int
    history: History
    verdict: LinResult
    duration: float

    @property
    def linearizable(self) -> bool:
        return self.verdict.linearizable is True


def stale_read_trial(ensemble: ZooKeeperEnsemble, *, sync: bool, key: str = "x", writes: int = 5,
                     max_reads: int = 40, op_timeout: float = 4.0,
                     base: int = 0) -> tuple[History, LinResult]:
    """One trial: a writer on the leader and a reader on a follower whose leader link is clogged.

    Process 0 (on the leader) writes ``base``, then — after the follower's
    link from the leader is clogged — ``base+1 .. base+writes``, one after
    the other; concurrently process 1 (on the follower) reads in a loop
    until the writer is done (at most ``max_reads`` reads, which keeps the
    history small for the checker). Then the link is released and the
    reader makes a last read. Without ``sync`` the follower answers from its
    frozen data tree, so a read that starts after ``write(base+1)`` has
    completed still returns ``base``: not linearizable. With ``sync`` the
    read waits for the release and returns the last write.
    """
    leader = ensemble.leader()
    follower = next(m for m in ensemble.members if m != leader)
    writer = ensemble.client(leader, timeout=op_timeout)
    reader = ensemble.client(follower, timeout=op_timeout, sync=sync)
    ops: list[Operation] = []
    lock = threading.Lock()
    writer_done = threading.Event()
    problems: list[BaseException] = []

    def record(client: ZkClient, process: int, kind: Literal["read", "write"], value: int | None) -> None:
        invoke = time.monotonic()
        result: int | None = None
        outcome: Outcome
        try:
            if kind == "write":
                assert value is not None
                client.write(key, value)
            else:
                result = client.read(key)
            outcome = "ok"
        except TransportTimeout:
            outcome = "info"
        except TransportError:
            outcome = "fail"
        complete = time.monotonic()
        with lock:
            ops.append(Operation(process=process, kind=kind, key=key, value=value, invoke=invoke,
                                 complete=None if outcome == "info" else complete, outcome=outcome,
                                 result=result))

    def write_all() -> None:
        try:
            for v in range(base + 1, base + writes + 1):
                record(writer, 0, "write", v)
        except BaseException as exc:
            problems.append(exc)
        finally:
            writer_done.set()

    def read_until_done() -> None:
        try:
            for _ in range(max_reads):
                if writer_done.is_set():
                    break
                record(reader, 1, "read", None)
        except BaseException as exc:
            problems.append(exc)

    try:
        record(writer, 0, "write", base)
        record(reader, 1, "read", None)
        ensemble.clog(follower, leader)
        try:
            reading = threading.Thread(target=read_until_done, name="zk-reader", daemon=True)
            writing = threading.Thread(target=write_all, name="zk-writer", daemon=True)
            reading.start()
            writing.start()
            writing.join(writes * op_timeout + 5)
        finally:
            ensemble.release()
        reading.join(op_timeout + 5)
        record(reader, 1, "read", None)
    finally:
        writer.close()
        reader.close()
    if problems:
        raise HarnessError(f"zookeeper trial: {problems[0]!r}") from problems[0]
    history: History = tuple(sorted(ops, key=lambda o: o.invoke))
    return history, check_linearizable(history, model="kv")


def demonstrate_stale_reads(ensemble: ZooKeeperEnsemble, *, sync: bool, max_tries: int = 5,
                            time_budget: float = 30.0, **trial: Any) -> StaleReadDemo:
    """Repeat :func:`stale_read_trial` until it finds a non-linearizable history (at most ``max_tries``).

    With ``sync=False`` the expected answer is "not linearizable", and
    :attr:`StaleReadDemo.tries` says how many trials it took. With
    ``sync=True`` every trial should be linearizable, so all ``max_tries``
    run (bounded by ``time_budget`` seconds) and the last one is returned
    unless one of them was not.
    """
    started = time.monotonic()
    tries = 0
    history: History = ()
    verdict: LinResult | None = None
    while tries < max_tries and (tries == 0 or time.monotonic() - started < time_budget):
        history, verdict = stale_read_trial(ensemble, sync=sync, base=100 * tries, **trial)
        tries += 1
        if not verdict.linearizable:
            break
    assert verdict is not None
    return StaleReadDemo(sync=sync, tries=tries, history=history, verdict=verdict,
                         duration=time.monotonic() - started)
