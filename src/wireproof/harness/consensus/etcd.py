"""Debian's etcd-server (3.4) as an external subject: a 3-member cluster on loopback.

Normative references: etcd v3 API reference (api/etcdserverpb/rpc.proto:
``KV.Put``, ``KV.Range`` with ``serializable``, ``KV.Txn`` with ``Compare``)
and its gRPC gateway (JSON over HTTP: ``POST /v3/kv/put``, ``/v3/kv/range``,
``/v3/kv/txn``; ``bytes`` fields travel base64-encoded); etcd's
"Clustering Guide" (static bootstrap with ``--initial-cluster``) and "API
guarantees" (Range is linearizable by default; ``serializable`` reads are
served from the member's local state and may be stale).

Theory of operation
-------------------
Each member gets a client port and a peer port on 127.0.0.1 and a data
directory in the subject's temporary directory; all share one
``--initial-cluster`` and a per-run ``--initial-cluster-token``. A member
killed with SIGKILL restarts from its data directory (``--initial-*`` flags
are ignored once it has a WAL). Readiness is ``GET /health`` answering
``"health": "true"``, which etcd only does when the member sees a leader.

Operations map to the v3 API as: write = Put; read = Range (linearizable
unless the client was made ``serializable``); cas = Txn whose single compare
is ``value(key) == expected`` and whose success branch is a Put. Values are
decimal integers. Heartbeat and election timeouts are shortened
(50 ms / 500 ms) so a killed leader is replaced within a run.
"""

from __future__ import annotations

import base64
import json
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from wireproof.errors import TransportError, TransportTimeout
from wireproof.harness.consensus.subjects import ServerProcess, Subject, free_ports

__all__ = ["EtcdClient", "EtcdCluster", "etcd_binary"]


def etcd_binary() -> str | None:
    """Path of the ``etcd`` server binary, or None when etcd-server is not installed."""
    return shutil.which("etcd")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode()


class EtcdClient:
    """A v3 JSON-gateway client bound to one member (urllib only; see :class:`~.subjects.Client`)."""

    def __init__(self, port: int, *, timeout: float, serializable: bool = False) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.timeout = timeout
        self.serializable = serializable

    def _call(self, path: str, body: dict[str, Any], *, effect: bool) -> dict[str, Any]:
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:200].decode(errors="replace")
            exc.close()
            # "request timed out", "leader changed", ...: a Put may still commit.
            if effect:
                raise TransportTimeout(f"etcd {path}: HTTP {exc.code} {detail}") from None
            raise TransportError(f"etcd {path}: HTTP {exc.code} {detail}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                raise TransportError(f"etcd {path}: connection refused") from None
            if effect:
                raise TransportTimeout(f"etcd {path}: {exc.reason}") from None
            raise TransportError(f"etcd {path}: {exc.reason}") from None
        except TimeoutError as exc:
            raise TransportTimeout(f"etcd {path}: timed out after {self.timeout:g} s") from exc
        except (OSError, ValueError) as exc:  # reset mid-answer, or a broken JSON body
            if effect:
                raise TransportTimeout(f"etcd {path}: {exc!r}") from None
            raise TransportError(f"etcd {path}: {exc!r}") from None

    def read(self, key: str) -> int | None:
        body: dict[str, Any] = {"key": _b64(key)}
        if self.serializable:
            body["serializable"] = True
        kvs = self._call("/v3/kv/range", body, effect=False).get("kvs") or []
        return int(_unb64(kvs[0].get("value", ""))) if kvs else None

    def write(self, key: str, value: int) -> None:
        self._call("/v3/kv/put", {"key": _b64(key), "value": _b64(str(value))}, effect=True)

    def cas(self, key: str, expected: int, new: int) -> bool:
        body = {
            "compare": [{"key": _b64(key), "result": "EQUAL", "target": "VALUE",
                         "value": _b64(str(expected))}],
            "success": [{"request_put": {"key": _b64(key), "value": _b64(str(new))}}],
            "failure": [],
        }
        # The gateway leaves out false booleans: no "succeeded" means the compare failed.
        return bool(self._call("/v3/kv/txn", body, effect=True).get("succeeded", False))

    def close(self) -> None:
        pass


class EtcdCluster(Subject):
    """``size`` etcd members on 127.0.0.1 named ``m1..mN`` (3 by default)."""

    name = "etcd"

    def __init__(self, size: int = 3, *, binary: str | None = None, start_timeout: float = 30.0) -> None:
        super().__init__([f"m{i}" for i in range(1, size + 1)], start_timeout=start_timeout)
        found = binary or etcd_binary()
        if found is None:
            raise TransportError("etcd: the etcd binary (Debian package etcd-server) is not installed")
        self.binary = found
        ports = free_ports(2 * size)
        self.client_ports = dict(zip(self.members, ports[:size], strict=True))
        self.peer_ports = dict(zip(self.members, ports[size:], strict=True))
        self.token = f"wireproof-{uuid.uuid4().hex[:12]}"

    def _server(self, member: str, workdir: Path) -> ServerProcess:
        cluster = ",".join(f"{m}=http://127.0.0.1:{p}" for m, p in self.peer_ports.items())
        client = f"http://127.0.0.1:{self.client_ports[member]}"
        peer = f"http://127.0.0.1:{self.peer_ports[member]}"
        argv = [
            self.binary, "--name", member, "--data-dir", str(workdir / "data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", cluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", self.token,
            "--heartbeat-interval", "50", "--election-timeout", "500",
            "--logger", "zap", "--log-level", "warn",
        ]
        return ServerProcess(member, argv, log=workdir / "etcd.log")

    def _ready(self, member: str) -> bool:
        url = f"http://127.0.0.1:{self.client_ports[member]}/health"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                return bool(json.loads(response.read()).get("health") == "true")
        except (OSError, ValueError):
            return False

    def client(self, member: str, *, timeout: float, serializable: bool = False) -> EtcdClient:
        return EtcdClient(self.client_ports[member], timeout=timeout, serializable=serializable)
