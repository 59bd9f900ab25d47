"""Multi-Paxos: a replicated log with a stable leader.

Normative reference: Leslie Lamport, "Paxos Made Simple" (2001), section 3
"Implementing a State Machine" ("PMS 3"); the vocabulary of phases and ballots
is that of :mod:`wireproof.consensus.paxos`.

Theory of operation
-------------------
* Slots. The log is a sequence of single-decree Paxos instances ("slots",
  PMS 3). Every node is acceptor and learner for every slot; one node at a
  time is the leader (the distinguished proposer and learner).
* Election = phase 1 once for all future slots (PMS 3, "phase 1 for
  infinitely many instances"). A follower that has heard no leader for its
  election timeout (``election_ticks`` plus a SplitMix64 jitter) becomes a
  candidate with a higher ballot and sends ``Prepare(ballot, from_slot)`` where
  ``from_slot`` is its commit point (the first slot it has not learned). The
  acceptors answer ``Promise`` with all their votes at or above ``from_slot``.
* Gap filling. With promises from a quorum the candidate becomes leader. For
  every slot from its commit point up to the highest slot any promise
  reported, it re-proposes the vote with the highest ballot (P2c) or, for a
  hole nobody voted in, a ``NOOP`` (PMS 3: "fill the gaps ... with no-op
  commands"); then it proposes client commands in new slots.
* Phase 2 per command: ``Accept(ballot, slot, value, commit)`` to the slot's
  members, ``Accepted`` back to the leader only; the leader learns the slot
  from a quorum. The leader's commit point rides on the next ``Accept`` or
  ``Heartbeat``: a follower whose vote for a slot below that point is in the
  leader's ballot knows its vote is the chosen value (the leader proposed it,
  and everything below the leader's commit point is chosen). A follower that
  cannot tell (it missed the Accept) asks with ``CatchUp`` and any node that
  learned the slots answers ``Decided``. Steady state: 2(n-1) messages and 2
  message delays per command at the leader.
* Heartbeats every ``heartbeat_ticks`` when the leader sent no ``Accept``
  meanwhile keep followers from starting elections; with each heartbeat the
  leader resends the ``Accept`` (and ``Prepare``) messages not yet answered,
  since the network may lose them. There are no read leases:
  reads go through the log (:mod:`wireproof.consensus.kv`). A leader that
  meets a higher ballot (``Nack``) steps down.
* Window. At most ``config.window`` slots are outstanding: the leader never
  proposes slot ``s`` unless every slot below ``s - window + 1`` is chosen
  (``s < commit + window``). Commit (``Committed``) and application happen in
  slot order only.
* Reconfiguration through the log with the alpha rule (Lamport, Malkhi, Zhou,
  "Reconfiguring a State Machine", 2010, alpha = ``window``): a
  ``ConfigChange(members)`` chosen at slot ``s`` governs slots ``s + window``
  onward. Because of the window, the leader always knows the configuration of
  every slot it may propose. It proposes slot ``s`` only once a quorum of the
  members of slot ``s``'s configuration promised its ballot; when a new
  configuration brings new members it sends them ``Prepare`` too (same ballot,
  same ``from_slot``) and waits. A leader that is not a member at its commit
  point steps down.
* Proposals: ``propose`` on the leader queues the value; on any other node it
  raises :class:`~wireproof.consensus.api.NotLeader` with the best known
  leader, or — with ``("forward", True)`` in ``config.options`` — a follower
  that knows a leader forwards the value to it (a node that is no longer the
  leader when the ``Forward`` arrives drops it; clients time out and retry).
  A leader that steps down drops its queued proposals the same way.
* Restart. Only acceptor state (promise, votes) and the proposer's highest
  round are persisted; learned values are re-learned after a restart from the
  leader (``CatchUp``) or the node's own phase 1, so a restarted node emits
  ``Committed`` again from slot 0.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wireproof.consensus import mutants
from wireproof.consensus.algorithm import MessageFloor, RealMode, SimDefaults
from wireproof.consensus.api import ClusterConfig, Committed, Envelope, NodeId, NotLeader
from wireproof.consensus.paxos import (
    NO_BALLOT,
    NOOP,
    Ballot,
    Nack,
    NodeView,
    PaxosFamilyFactory,
    PromiseRecord,
    RoundRecord,
    Vote,
    VoteRecord,
    _Effects,
    node_rng,
)

if TYPE_CHECKING:
    from wireproof.consensus.sim.cost import Cost

__all__ = [
    "CATCHUP_BATCH",
    "Accept",
    "Accepted",
    "CatchUp",
    "ConfigChange",
    "Decided",
    "Forward",
    "Heartbeat",
    "LeaderView",
    "MultiPaxosFactory",
    "MultiPaxosNode",
    "Prepare",
    "Promise",
]

CATCHUP_BATCH = 64
"""Most entries one ``Decided`` carries (bounded messages)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigChange:
    """A command: from slot ``s + window`` on (``s`` its own slot), the members are ``members``."""

    members: tuple[NodeId, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepare:
    """Phase 1a for every slot at or above ``from_slot`` (PMS 3)."""

    ballot: Ballot
    from_slot: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Promise:
    """Phase 1b: the promise, with the acceptor's votes at or above ``from_slot``."""

    ballot: Ballot
    from_slot: int
    votes: tuple[Vote, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept:
    """Phase 2a for one slot; ``commit`` is the leader's commit point (all slots below are chosen)."""

    ballot: Ballot
    slot: int
    value: Any
    commit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """Phase 2b, to the leader only."""

    ballot: Ballot
    slot: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """The leader is alive; ``commit`` as in :class:`Accept`."""

    ballot: Ballot
    commit: int


@dataclass(frozen=True, slots=True, kw_only=True)
class CatchUp:
    """A learner that found a gap below the leader's commit point asks for slots from ``from_slot``."""

    from_slot: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Decided:
    """Chosen values ``(slot, value)`` for a learner that asked (at most :data:`CATCHUP_BATCH`)."""

    entries: tuple[tuple[int, Any], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Forward:
    """A follower passes a client's proposal to the leader (``("forward", True)`` option)."""

    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaderView:
    """The Multi-Paxos proposer / leader / timer state (part of :attr:`NodeView.state`)."""

    ballot: Ballot | None
    leader: NodeId | None
    max_round: int
    elapsed: int
    timeout: int
    heartbeat_elapsed: int
    catchup_wait: int
    from_slot: int
    promised_by: tuple[NodeId, ...]
    prepared: tuple[NodeId, ...]
    recovered: tuple[Vote, ...]
    next_slot: int
    inflight: tuple[tuple[int, Any, tuple[NodeId, ...]], ...]
    queue: tuple[Any, ...]
    leader_commit: int
    max_recovered: int
    rng: int
    app: Hashable = None


class MultiPaxosNode(_Effects):
    """A Multi-Paxos replica: acceptor and learner for every slot, leader when elected."""

    def __init__(self, node_id: NodeId, config: ClusterConfig) -> None:
        super().__init__()
        mutants.check_mutant(config)
        if config.window < 1:
            raise ValueError("window must be at least 1")
        self.id = node_id
        self.config = config
        self._rng = node_rng(config, node_id)
        self._forward = bool(dict(config.options).get("forward", False))
        # acceptor
        self.promised = NO_BALLOT
        self._votes: dict[int, Vote] = {}
        # learner: the applied log, and chosen slots above it
        self._log: list[Any] = []
        self._chosen: dict[int, Any] = {}
        self._configs: list[tuple[int, tuple[NodeId, ...]]] = [(0, tuple(config.nodes))]
        self._leader_commit = 0
        self._catchup_wait = 0
        # proposer / leader
        self.role = "follower"  # follower | candidate | leader
        self._ballot: Ballot | None = None
        self._leader: NodeId | None = None
        self._max_round = 0
        self._elapsed = 0
        self._timeout = self._new_timeout()
        self._heartbeat_elapsed = 0
        self._reset_leader_state()

    def _reset_leader_state(self) -> None:
        self._from_slot = self.commit
        self._promised_by: set[NodeId] = set()
        self._prepared: set[NodeId] = set()
        self._recovered: dict[int, Vote] = {}
        self._max_recovered = -1
        self._next_slot = self.commit
        self._inflight: dict[int, Any] = {}
        self._accepts: dict[int, set[NodeId]] = {}
        self._queue: list[Any] = []

    # -- Node API ----------------------------------------------------------------------------

    @property
    def commit(self) -> int:
        """The commit point: slots below it are chosen and applied."""
        return len(self._log)

    @property
    def leader(self) -> NodeId | None:
        """The best known leader (this node's id when it leads)."""
        return self._leader

    @property
    def log(self) -> tuple[Any, ...]:
        return tuple(self._log)

    def members_at(self, slot: int) -> tuple[NodeId, ...]:
        """The members governing ``slot`` as far as this node knows (exact below commit + window)."""
        members = self._configs[0][1]
        for first, nodes in self._configs:
            if first <= slot:
                members = nodes
        return members

    def step(self, envelope: Envelope) -> None:
        self._handle(envelope.src, envelope.message)
        self._drain()

    def tick(self) -> None:
        if self._catchup_wait:
            self._catchup_wait -= 1
        if self.role == "leader":
            self._heartbeat_elapsed += 1
            if self._heartbeat_elapsed >= self.config.heartbeat_ticks:
                self._send_heartbeats()
                self._retransmit()
        else:
            self._elapsed += 1
            if self._elapsed >= self._timeout and self.id in self.members_at(self.commit):
                self._start_election()
        self._drain()

    def propose(self, value: Any) -> None:
        """Queue ``value`` on the leader; forward or raise NotLeader elsewhere (module docstring)."""
        if self.role == "leader":
            self._queue.append(value)
            self._fill_window()
        elif self._forward and self._leader is not None and self._leader != self.id:
            self._send(self._leader, Forward(value=value))
        else:
            raise NotLeader(self._leader if self.role == "follower" else None)
        self._drain()

    def inspect(self) -> NodeView:
        learned = tuple(enumerate(self._log)) + tuple(sorted(self._chosen.items()))
        return NodeView(
            node=self.id, role=self.role, promised=self.promised,
            votes=tuple(v for _, v in sorted(self._votes.items())),
            learned=learned, applied=tuple(self._log), members=tuple(self._configs),
            state=LeaderView(
                ballot=self._ballot, leader=self._leader, max_round=self._max_round,
                elapsed=self._elapsed, timeout=self._timeout,
                heartbeat_elapsed=self._heartbeat_elapsed, catchup_wait=self._catchup_wait,
                from_slot=self._from_slot, promised_by=tuple(sorted(self._promised_by)),
                prepared=tuple(sorted(self._prepared)),
                recovered=tuple(v for _, v in sorted(self._recovered.items())),
                next_slot=self._next_slot,
                inflight=tuple((s, v, tuple(sorted(self._accepts.get(s, ()))))
                               for s, v in sorted(self._inflight.items())),
                queue=tuple(self._queue), leader_commit=self._leader_commit,
                max_recovered=self._max_recovered, rng=self._rng.state,
                app=self._app_state()))

    # -- hooks for state machines on top (kv.py) ----------------------------------------------

    def _on_apply(self, slot: int, value: Any) -> None:
        """Called once per slot, in slot order, when ``value`` is applied."""

    def _app_state(self) -> Hashable:
        return None

    # -- election: phase 1 for all slots from the commit point (PMS 3) -----------------------

    def _new_timeout(self) -> int:
        return self.config.election_ticks + self._rng.below(max(1, self.config.election_ticks))

    def _quorum_of(self, members: Sequence[NodeId], voters: set[NodeId]) -> bool:
        return len(voters.intersection(members)) >= mutants.quorum_size(self.config, members)

    def _start_election(self) -> None:
        self._max_round = max(self._max_round, self.promised.round) + 1
        self._ballot = Ballot(round=self._max_round, node=self.id)
        self._persist.append(RoundRecord(round=self._max_round))
        self.role = "candidate"
        self._leader = None
        self._elapsed = 0
        self._timeout = self._new_timeout()
        self._reset_leader_state()
        if mutants.skips_prepare(self.config):
            self._become_leader()
            return
        self._prepare_members(self.members_at(self.commit))

    def _prepare_members(self, members: Sequence[NodeId]) -> None:
        assert self._ballot is not None
        for node in members:
            if node not in self._prepared:
                self._prepared.add(node)
                self._send(node, Prepare(ballot=self._ballot, from_slot=self._from_slot))

    def _has_promises_for(self, slot: int) -> bool:
        if mutants.skips_prepare(self.config):
            return True
        return self._quorum_of(self.members_at(slot), self._promised_by)

    def _on_promise(self, src: NodeId, msg: Promise) -> None:
        if self.role == "follower" or msg.ballot != self._ballot or src in self._promised_by:
            return
        self._promised_by.add(src)
        for vote in msg.votes:
            best = self._recovered.get(vote.slot)
            if vote.slot >= self._from_slot and (best is None or vote.ballot > best.ballot):
                self._recovered[vote.slot] = vote
                self._max_recovered = max(self._max_recovered, vote.slot)
        if self.role == "candidate" and self._has_promises_for(self._from_slot):
            self._become_leader()
        elif self.role == "leader":
            self._fill_window()

    def _become_leader(self) -> None:
        self.role = "leader"
        self._leader = self.id
        self._next_slot = self.commit
        self._send_heartbeats()
        self._fill_window()

    def _step_down(self, higher: Ballot) -> None:
        self.role = "follower"
        self._leader = higher.node if higher.node >= 0 and higher.node != self.id else None
        self._elapsed = 0
        self._timeout = self._new_timeout()
        self._reset_leader_state()

    # -- phase 2 at the leader ---------------------------------------------------------------

    def _fill_window(self) -> None:
        """Propose in new slots while the window allows: recovered votes, no-ops for holes, then the queue."""
        # Slots below the commit point are chosen (perhaps learned from a Decided): never propose there,
        # for the same reason as in _on_decided.
        self._next_slot = max(self._next_slot, self.commit)
        while self.role == "leader" and self._next_slot < self.commit + self.config.window:
            slot = self._next_slot
            if not self._has_promises_for(slot):
                self._prepare_members(self.members_at(slot))
                return
            if slot in self._chosen:
                self._next_slot += 1
                continue
            if slot in self._recovered:
                value = self._recovered[slot].value
            elif slot <= self._max_recovered:
                value = NOOP
            elif self._queue:
                value = self._queue.pop(0)
            else:
                return
            self._next_slot += 1
            self._inflight[slot] = value
            self._accepts[slot] = set()
            self._broadcast_accept(slot, value)

    def _broadcast_accept(self, slot: int, value: Any) -> None:
        assert self._ballot is not None
        self._heartbeat_elapsed = 0
        for node in self.members_at(slot):
            self._send(node, Accept(ballot=self._ballot, slot=slot, value=value, commit=self.commit))

    def _send_heartbeats(self) -> None:
        assert self._ballot is not None
        self._heartbeat_elapsed = 0
        last = self.commit + self.config.window - 1
        targets = set(self.members_at(self.commit)) | set(self.members_at(last))
        for node in sorted(targets - {self.id}):
            self._send(node, Heartbeat(ballot=self._ballot, commit=self.commit))

    def _retransmit(self) -> None:
        """Messages may be lost: ask again whoever has not answered a Prepare or an Accept yet."""
        assert self._ballot is not None
        for node in sorted(self._prepared - self._promised_by - {self.id}):
            self._send(node, Prepare(ballot=self._ballot, from_slot=self._from_slot))
        for slot, value in sorted(self._inflight.items()):
            for node in self.members_at(slot):
                if node != self.id and node not in self._accepts[slot]:
                    self._send(node, Accept(ballot=self._ballot, slot=slot, value=value, commit=self.commit))

    def _on_accepted(self, src: NodeId, msg: Accepted) -> None:
        if self.role != "leader" or msg.ballot != self._ballot or msg.slot not in self._inflight:
            return
        members = self.members_at(msg.slot)
        if src not in members:
            return
        self._accepts[msg.slot].add(src)
        if self._quorum_of(members, self._accepts[msg.slot]):
            value = self._inflight.pop(msg.slot)
            del self._accepts[msg.slot]
            self._chosen.setdefault(msg.slot, value)
            self._apply_chosen()
            self._fill_window()

    # -- acceptor ------------------------------------------------------------------------------

    def _known_members(self) -> set[NodeId]:
        """Everyone a member at this node's commit point or in a configuration it knows comes later."""
        known = set(self.members_at(self.commit))
        for first, nodes in self._configs:
            if first > self.commit:
                known.update(nodes)
        return known

    def _on_prepare(self, src: NodeId, msg: Prepare) -> None:
        if src != self.id and src not in self._known_members():
            # A removed node that restarted does not know it was removed; ignoring it (always
            # safe for an acceptor) keeps it from deposing the real leader. Liveness only.
            return
        if msg.ballot < self.promised:
            self._send(src, Nack(ballot=msg.ballot, promised=self.promised))
            return
        if msg.ballot > self.promised:
            self.promised = msg.ballot
            if not mutants.forgets_promise(self.config):
                self._persist.append(PromiseRecord(ballot=msg.ballot))
        if src != self.id and self.role == "follower":
            self._elapsed = 0  # someone is trying to lead: give it a chance
        votes = tuple(v for s, v in sorted(self._votes.items()) if s >= msg.from_slot)
        self._send(src, Promise(ballot=msg.ballot, from_slot=msg.from_slot, votes=votes))

    def _on_accept(self, src: NodeId, msg: Accept) -> None:
        if msg.slot < self.commit and src != self.id:
            # Already decided here: say so instead of voting (not voting is always safe), so a
            # stale proposer learns the slot and does not raise this acceptor's promise.
            self._send(src, Decided(entries=((msg.slot, self._log[msg.slot]),)))
            return
        if msg.ballot < self.promised:
            self._send(src, Nack(ballot=msg.ballot, promised=self.promised))
            return
        self.promised = msg.ballot
        vote = Vote(slot=msg.slot, ballot=msg.ballot, value=msg.value)
        self._votes[msg.slot] = vote
        self._persist.append(VoteRecord(slot=msg.slot, ballot=msg.ballot, value=msg.value))
        self._send(src, Accepted(ballot=msg.ballot, slot=msg.slot))
        self._heard_leader(src, msg.ballot, msg.commit)

    def _on_heartbeat(self, src: NodeId, msg: Heartbeat) -> None:
        if msg.ballot < self.promised:
            self._send(src, Nack(ballot=msg.ballot, promised=self.promised))
            return
        self._heard_leader(src, msg.ballot, msg.commit)

    def _on_nack(self, msg: Nack) -> None:
        self._max_round = max(self._max_round, msg.promised.round)
        if self.role != "follower" and msg.ballot == self._ballot and msg.promised > msg.ballot:
            self._step_down(msg.promised)

    # -- learner -------------------------------------------------------------------------------

    def _heard_leader(self, src: NodeId, ballot: Ballot, leader_commit: int) -> None:
        if src == self.id:
            return
        if self.role != "follower" and self._ballot is not None and self._ballot < ballot:
            self._step_down(ballot)
        if self.role == "follower":
            self._leader = src
            self._elapsed = 0
        # Below the leader's commit point every slot is chosen; a vote in the leader's own
        # ballot is the leader's proposal, hence the chosen value.
        for slot in range(self.commit, leader_commit):
            vote = self._votes.get(slot)
            if slot not in self._chosen and vote is not None and vote.ballot == ballot:
                self._chosen[slot] = vote.value
        self._apply_chosen()
        self._leader_commit = max(self._leader_commit, leader_commit)
        if self.commit < leader_commit and not self._catchup_wait:
            self._catchup_wait = 2 * self.config.heartbeat_ticks
            self._send(src, CatchUp(from_slot=self.commit))

    def _on_catchup(self, src: NodeId, msg: CatchUp) -> None:
        end = min(self.commit, msg.from_slot + CATCHUP_BATCH)
        if msg.from_slot < end:
            self._send(src, Decided(entries=tuple((s, self._log[s]) for s in range(msg.from_slot, end))))

    def _on_decided(self, src: NodeId, msg: Decided) -> None:
        # A slot chosen with another value than this leader's own Accept for it was chosen in a
        # higher ballot: this ballot is stale. Leading on would be unsafe, because a follower
        # takes a vote in the leader's ballot below the leader's commit point as chosen
        # (_heard_leader), and it may hold this leader's losing vote for that slot.
        stale = self.role == "leader" and any(
            slot in self._inflight and self._inflight[slot] != value for slot, value in msg.entries)
        for slot, value in msg.entries:
            if slot >= self.commit:
                self._chosen.setdefault(slot, value)
        self._catchup_wait = 0
        self._apply_chosen()
        if stale:
            self._step_down(self.promised)
        for slot in [s for s in self._inflight if s < self.commit]:
            del self._inflight[slot], self._accepts[slot]
        if self.role == "leader":
            self._fill_window()
        if self.commit < self._leader_commit and msg.entries:
            self._catchup_wait = 2 * self.config.heartbeat_ticks
            self._send(src, CatchUp(from_slot=self.commit))

    def _apply_chosen(self) -> None:
        """Apply chosen slots in slot order only (PMS 3: "execute ... in order")."""
        while self.commit in self._chosen:
            slot = self.commit
            value = self._chosen.pop(slot)
            self._log.append(value)
            self._committed.append(Committed(slot=slot, value=value))
            if isinstance(value, ConfigChange):
                self._configs.append((slot + self.config.window, tuple(value.members)))
            self._on_apply(slot, value)
        if self.role == "leader" and self.id not in self.members_at(self.commit):
            self._step_down(NO_BALLOT)

    def _handle(self, src: NodeId, message: Any) -> None:
        ballot = getattr(message, "ballot", None)
        if isinstance(ballot, Ballot):
            self._max_round = max(self._max_round, ballot.round)
        match message:
            case Prepare():
                self._on_prepare(src, message)
            case Promise():
                self._on_promise(src, message)
            case Accept():
                self._on_accept(src, message)
            case Accepted():
                self._on_accepted(src, message)
            case Heartbeat():
                self._on_heartbeat(src, message)
            case Nack():
                self._on_nack(message)
            case CatchUp():
                self._on_catchup(src, message)
            case Decided():
                self._on_decided(src, message)
            case Forward():
                if self.role == "leader":
                    self._queue.append(message.value)
                    self._fill_window()
            case _:
                pass  # not ours: ignore rather than crash on a stray message

    # -- restart -------------------------------------------------------------------------------

    def _restore(self, records: Sequence[Any]) -> None:
        for record in records:
            match record:
                case PromiseRecord():
                    if not mutants.forgets_promise(self.config):
                        self.promised = max(self.promised, record.ballot)
                case VoteRecord():
                    vote = Vote(slot=record.slot, ballot=record.ballot, value=record.value)
                    self._votes[record.slot] = vote
                    self.promised = max(self.promised, record.ballot)
                case RoundRecord():
                    self._max_round = max(self._max_round, record.round)
                case _:
                    raise ValueError(f"not a Multi-Paxos record: {record!r}")


class MultiPaxosFactory(PaxosFamilyFactory):
    """:class:`~wireproof.consensus.api.NodeFactory` for Multi-Paxos."""

    name = "multipaxos"
    title = "Multi-Paxos"
    description = ("Multi-Paxos: a replicated log with a stable leader (Paxos Made Simple 3); "
                   "`consensus cluster` runs the key-value store on it")

    def create(self, node_id: NodeId, config: ClusterConfig) -> MultiPaxosNode:
        return MultiPaxosNode(node_id, config)

    def simulation(self) -> SimDefaults:
        # Replies carry log positions, not operation results: the invariants are the check.
        return SimDefaults(check_linearizability=False, check_always=False)

    def real_mode(self) -> RealMode:
        """A log alone answers no client: real mode runs the key-value store on it (:mod:`.kv`)."""
        from wireproof.consensus.kv import KvFactory

        return KvFactory().real_mode()

    def message_floor(self, nodes: int) -> MessageFloor:
        # Accept to and Accepted from n-1 followers; the commit point rides on the next Accept (PMS 3).
        return MessageFloor(label="Multi-Paxos minimum 2(n-1)", messages=2 * (nodes - 1), delays=2)

    def bench_cost(self, nodes: int, *, commands: int) -> Cost:
        """One command at a time at an elected leader, ticks stopped (no heartbeats counted)."""
        from wireproof.consensus.sim.cost import leader_cost

        return leader_cost(self, nodes, self.message_floor(nodes), commands=commands)
