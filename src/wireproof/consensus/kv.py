"""A replicated key-value store (read, write, cas) on Multi-Paxos.

Theory of operation
-------------------
The store is a deterministic state machine (:class:`KvStateMachine`) fed with
the Multi-Paxos log in slot order (:mod:`wireproof.consensus.multipaxos`,
"Paxos Made Simple" 3). Every operation, reads included, is a
:class:`KvCommand` chosen in the log, so each takes effect at one point
between its invocation and its completion: the store is linearizable (Herlihy
and Wing 1990) without leases or clocks.

Results: read -> the value or ``None``; write -> ``"ok"``; cas -> ``"ok"`` when
the current value equals ``expected`` (then it becomes ``value``), else
``"fail"``. A missing key reads as ``None`` (a register's initial value), so a
cas expecting ``None`` on a missing key succeeds. Commands that are not
KvCommands (no-ops, configuration changes) change nothing.

A client retries a request under the same ``request_id``, so one request may
be chosen in several slots; the client table (per client, request id ->
result; Ongaro's thesis 6.3) applies it once and answers duplicates with the
first result.

The node that received the client's proposal (directly, or to forward it)
answers with ``Reply(request_id, result)`` when the command is applied there;
every replica applies it, only that node replies.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Literal, cast

from wireproof.consensus.algorithm import MessageFloor, RealMode, SimDefaults
from wireproof.consensus.api import ClusterConfig, NodeId, Reply
from wireproof.consensus.multipaxos import MultiPaxosFactory, MultiPaxosNode
from wireproof.consensus.paxos import PaxosFamilyFactory

__all__ = ["KvAdapter", "KvCommand", "KvFactory", "KvNode", "KvStateMachine"]

KvOp = Literal["read", "write", "cas"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KvCommand:
    """One client operation; ``value`` is the new value (write, cas), ``expected`` the cas precondition."""

    request_id: Hashable
    client: Hashable
    op: KvOp
    key: Hashable
    value: Any = None
    expected: Any = None


class KvStateMachine:
    """The deterministic key-value state machine with a client table (reusable on its own)."""

    def __init__(self) -> None:
        self.data: dict[Hashable, Any] = {}
        self.sessions: dict[Hashable, dict[Hashable, Any]] = {}

    def apply(self, command: Any) -> Any:
        """Apply one log entry; returns the result (``None`` for entries that are not KvCommands)."""
        if not isinstance(command, KvCommand):
            return None
        session = self.sessions.setdefault(command.client, {})
        if command.request_id in session:
            return session[command.request_id]
        result: Any
        if command.op == "read":
            result = self.data.get(command.key)
        elif command.op == "write":
            self.data[command.key] = command.value
            result = "ok"
        elif command.op == "cas":
            if self.data.get(command.key) == command.expected:
                self.data[command.key] = command.value
                result = "ok"
            else:
                result = "fail"
        else:
            result = "fail"  # an unknown op is chosen like any value but changes nothing
        session[command.request_id] = result
        return result

    def snapshot(self) -> Hashable:
        """A frozen, hashable copy of the whole state (data and client table)."""
        data = tuple(sorted(self.data.items(), key=repr))
        sessions = tuple(sorted(((c, tuple(sorted(s.items(), key=repr))) for c, s in self.sessions.items()),
                                key=repr))
        return (data, sessions)


class KvNode(MultiPaxosNode):
    """A Multi-Paxos replica running :class:`KvStateMachine`; replies to the commands it received."""

    def __init__(self, node_id: NodeId, config: ClusterConfig) -> None:
        super().__init__(node_id, config)
        self.machine = KvStateMachine()
        self._awaiting: set[Hashable] = set()

    def propose(self, value: Any) -> None:
        """Propose a :class:`KvCommand` (or a ConfigChange); its Reply comes once applied here.

        Raises NotLeader like :meth:`MultiPaxosNode.propose`.
        """
        if not isinstance(value, KvCommand):
            super().propose(value)
            return
        fresh = value.request_id not in self._awaiting
        self._awaiting.add(value.request_id)
        try:
            super().propose(value)
        except BaseException:
            if fresh:
                self._awaiting.discard(value.request_id)
            raise

    def _on_apply(self, slot: int, value: Any) -> None:
        result = self.machine.apply(value)
        if isinstance(value, KvCommand) and value.request_id in self._awaiting:
            self._awaiting.discard(value.request_id)
            self._replies.append(Reply(request_id=value.request_id, result=result))

    def _app_state(self) -> Hashable:
        return (self.machine.snapshot(), tuple(sorted(self._awaiting, key=repr)))


class KvAdapter:
    """The clients' :class:`~wireproof.consensus.sim.clients.ClientAdapter` for the store.

    A cas ``(expected, new)`` becomes ``KvCommand(op="cas", expected=..., value=...)``;
    the store answers a read with the value, a write with ``"ok"`` and a cas with
    ``"ok"`` or ``"fail"``. The simulator and the real-mode load generator both use it.
    """

    def command(self, *, request_id: int, client: int, kind: str, key: str, value: Any) -> Hashable:
        if kind == "cas":
            expected, new = value
            return KvCommand(request_id=request_id, client=client, op="cas", key=key, value=new,
                             expected=expected)
        return KvCommand(request_id=request_id, client=client, op=cast(KvOp, kind), key=key, value=value)

    def outcome(self, *, kind: str, value: Any, result: Any) -> tuple[str, Any]:
        if kind == "cas" and result != "ok":
            return "fail", None
        return "ok", result if kind == "read" else None


class KvFactory(PaxosFamilyFactory):
    """:class:`~wireproof.consensus.api.NodeFactory` for the key-value store on Multi-Paxos."""

    name = "kv"
    title = "KV"
    description = "a replicated key-value store (read, write, cas) on Multi-Paxos"
    bench_throughput = True

    def create(self, node_id: NodeId, config: ClusterConfig) -> KvNode:
        return KvNode(node_id, config)

    def simulation(self) -> SimDefaults:
        return SimDefaults(check_linearizability=True, lin_model="kv", check_always=False)

    def client_adapter(self) -> KvAdapter:
        return KvAdapter()

    def real_mode(self) -> RealMode:
        return RealMode(factory=self, adapter=KvAdapter(), lin_model="kv")

    def message_floor(self, nodes: int) -> MessageFloor:
        return MultiPaxosFactory().message_floor(nodes)

    def wire_modules(self) -> tuple[str, ...]:
        return (*MultiPaxosFactory().wire_modules(), __name__)
