"""Classic (single-decree) Paxos, and the vocabulary every Paxos here shares.

Normative reference: Leslie Lamport, "Paxos Made Simple", ACM SIGACT News
32(4), 2001 ("PMS" below). Section numbers are that paper's.

Theory of operation
-------------------
Every node plays all three roles of PMS 2.1 — proposer, acceptor, learner.

* Ballots ("proposal numbers", PMS 2.2) are ``Ballot(round, node)``, totally
  ordered by round then node id, so two proposers never share one (PMS 2.5:
  "disjoint sets of numbers").
* Phase 1 (PMS 2.2): the proposer sends ``Prepare(ballot)`` to every acceptor;
  an acceptor whose promised ballot is not higher promises (``Promise``
  carries its accepted vote, if any) and otherwise answers ``Nack`` with what
  it promised (the optimisation of PMS 2.2's last paragraph).
* Phase 2: with promises from a quorum, the proposer sends ``Accept(ballot,
  value)`` where ``value`` is the vote with the highest ballot among the
  promises, or its own value if there is none (P2c). An acceptor accepts
  unless it promised a higher ballot.
* Learning (PMS 2.3): acceptors send ``Accepted`` to the ballot's owner, the
  distinguished learner, which learns the value from a quorum of Accepted in
  one ballot and tells the other learners with ``Chosen``.
* Persistence (PMS 2.2, last paragraph; PMS 2.5 for the proposer's number):
  the promised ballot, the vote and the proposer's highest round are returned
  in ``Ready.persist`` in the same ``Ready`` as the message they justify, and
  the driver writes them before it sends (:mod:`wireproof.consensus.api`).
* Progress (PMS 2.4): a node that has a value to propose (its own, or one it
  voted for and has not yet learned) starts a higher ballot when its timer
  of ``election_ticks`` plus a jitter in ``[0, election_ticks)`` expires; the
  jitter comes from :class:`~wireproof.consensus.api.SplitMix64` seeded from
  ``config.seed`` and the node id, so runs are reproducible.

Messages a node sends to itself are delivered at once, inside the same input.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from wireproof.consensus import mutants
from wireproof.consensus.algorithm import AlgorithmFactory, MessageFloor, SimDefaults
from wireproof.consensus.api import ClusterConfig, Committed, Envelope, Node, NodeId, Ready, Reply, SplitMix64
from wireproof.consensus.mutants import MUTANTS, Mutant

if TYPE_CHECKING:
    from wireproof.consensus.sim.cost import Cost
    from wireproof.consensus.sim.world import Invariant

__all__ = [
    "NO_BALLOT",
    "NOOP",
    "Accept",
    "Accepted",
    "Ballot",
    "Chosen",
    "Nack",
    "Noop",
    "NodeView",
    "PaxosFactory",
    "PaxosFamilyFactory",
    "PaxosNode",
    "PaxosProposerView",
    "Prepare",
    "Promise",
    "PromiseRecord",
    "RestorableNode",
    "RoundRecord",
    "Vote",
    "VoteRecord",
    "node_rng",
]


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class Ballot:
    """A proposal number (PMS 2.2): ordered by ``round``, ties broken by ``node``."""

    round: int
    node: NodeId

    def __str__(self) -> str:
        return f"{self.round}.{self.node}"


NO_BALLOT = Ballot(round=0, node=-1)
"""Below every real ballot (real rounds start at 1): "promised nothing yet"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Noop:
    """The no-op command a new leader chooses for a hole in the log (PMS 3)."""

    def __repr__(self) -> str:
        return "NOOP"


NOOP = Noop()


@dataclass(frozen=True, slots=True, kw_only=True)
class Vote:
    """An acceptor's accepted proposal for ``slot`` (PMS 2.2: "the proposal numbered n with value v")."""

    slot: int
    ballot: Ballot
    value: Any


# -- messages (PMS 2.2 phase 1a/1b/2a/2b, 2.3 learning) ----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Prepare:
    """Phase 1a (PMS 2.2): a prepare request numbered ``ballot``."""

    ballot: Ballot


@dataclass(frozen=True, slots=True, kw_only=True)
class Promise:
    """Phase 1b: a promise not to accept below ``ballot``, with the acceptor's vote (if any)."""

    ballot: Ballot
    vote: Vote | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Nack:
    """A refusal of ``ballot`` because the acceptor ``promised`` a higher one (PMS 2.2, last paragraph)."""

    ballot: Ballot
    promised: Ballot


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept:
    """Phase 2a (PMS 2.2): an accept request for ``value`` in ``ballot``."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    """Phase 2b, sent to the distinguished learner (PMS 2.3)."""

    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Chosen:
    """The distinguished learner tells the other learners the chosen value (PMS 2.3)."""

    value: Any


# -- persisted records (written before the messages of the same Ready are sent) ----------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PromiseRecord:
    """The acceptor promised ``ballot`` (PMS 2.2: remembered across restarts)."""

    ballot: Ballot


@dataclass(frozen=True, slots=True, kw_only=True)
class VoteRecord:
    """The acceptor accepted ``value`` in ``ballot`` for ``slot``; implies a promise of ``ballot``."""

    slot: int
    ballot: Ballot
    value: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundRecord:
    """The proposer used ``round``; it must never reuse it after a restart (PMS 2.5)."""

    round: int


# -- inspection -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeView:
    """A frozen, hashable view of one node's whole state (every Paxos node here returns one).

    The first fields are common to all algorithms and are what the invariant
    checker reads; ``state`` holds the algorithm's remaining state (proposer or
    leader bookkeeping, timers, the PRNG state, the state machine) so that two
    nodes compare equal exactly when they would behave the same.
    """

    node: NodeId
    role: str
    promised: Ballot
    votes: tuple[Vote, ...]
    """The acceptor's current vote per slot, ordered by slot."""
    learned: tuple[tuple[int, Any], ...]
    """``(slot, value)`` the node knows chosen, ordered by slot (may have gaps)."""
    applied: tuple[Any, ...]
    """The committed prefix: ``applied[i]`` is the value of slot ``i``."""
    members: tuple[tuple[int, tuple[NodeId, ...]], ...]
    """Configuration history: ``(first slot, members)``, ordered by first slot."""
    state: Hashable = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PaxosProposerView:
    """The single-decree proposer's state (part of :attr:`NodeView.state`)."""

    proposal: tuple[Any, ...]
    ballot: Ballot | None
    phase: str
    promises: tuple[tuple[NodeId, Vote | None], ...]
    accepts: tuple[NodeId, ...]
    max_round: int
    elapsed: int
    timeout: int
    rng: int


def node_rng(config: ClusterConfig, node_id: NodeId) -> SplitMix64:
    """The node's own PRNG stream: from the cluster seed and its id (no shared or global state)."""
    return SplitMix64(config.seed).fork(node_id + 1)


def _sorted_items(items: Any) -> tuple[Any, ...]:
    return tuple(sorted(items, key=repr))


class _Effects:
    """The Ready plumbing shared by the Paxos nodes: buffers for persist/send/commit/reply."""

    id: NodeId

    def __init__(self) -> None:
        self._persist: list[Any] = []
        self._out: list[Envelope] = []
        self._committed: list[Committed] = []
        self._replies: list[Reply] = []
        self._local: list[Any] = []

    def _send(self, dst: NodeId, message: Any) -> None:
        if dst == self.id:
            self._local.append(message)
        else:
            self._out.append(Envelope(src=self.id, dst=dst, message=message))

    def _drain(self) -> None:
        """Deliver self-addressed messages (after the input that produced them, in order)."""
        while self._local:
            self._handle(self.id, self._local.pop(0))

    def _handle(self, src: NodeId, message: Any) -> None:
        raise NotImplementedError

    def ready(self) -> Ready:
        return Ready(persist=tuple(self._persist), messages=tuple(self._out),
                     committed=tuple(self._committed), replies=tuple(self._replies))

    def advance(self, ready: Ready) -> None:
        del self._persist[:len(ready.persist)]
        del self._out[:len(ready.messages)]
        del self._committed[:len(ready.committed)]
        del self._replies[:len(ready.replies)]


class PaxosNode(_Effects):
    """One single-decree Paxos node: proposer, acceptor and learner (PMS 2.1)."""

    def __init__(self, node_id: NodeId, config: ClusterConfig) -> None:
        super().__init__()
        mutants.check_mutant(config)
        self.id = node_id
        self.config = config
        self._rng = node_rng(config, node_id)
        # acceptor (PMS 2.2)
        self.promised = NO_BALLOT
        self.vote: Vote | None = None
        # proposer
        self._proposal: tuple[Any, ...] = ()
        self._ballot: Ballot | None = None
        self._phase = "idle"  # idle | prepare | accept
        self._promises: dict[NodeId, Vote | None] = {}
        self._accepts: set[NodeId] = set()
        self._max_round = 0
        self._elapsed = 0
        self._timeout = self._new_timeout()
        # learner
        self._learned: tuple[Any, ...] = ()

    # -- Node API ----------------------------------------------------------------------------

    def step(self, envelope: Envelope) -> None:
        self._handle(envelope.src, envelope.message)
        self._drain()

    def tick(self) -> None:
        if self._learned:
            return
        self._elapsed += 1
        if self._elapsed >= self._timeout and (self._proposal or self.vote is not None):
            self._start_ballot()
        self._drain()

    def propose(self, value: Any) -> None:
        """Propose ``value`` (only the first proposal of a node counts; a decided node ignores it)."""
        if self._learned or self._proposal:
            return
        self._proposal = (value,)
        self._start_ballot()
        self._drain()

    def inspect(self) -> NodeView:
        learned = ((0, self._learned[0]),) if self._learned else ()
        return NodeView(
            node=self.id, role=self._phase, promised=self.promised,
            votes=(self.vote,) if self.vote is not None else (),
            learned=learned, applied=self._learned,
            members=((0, tuple(self.config.nodes)),),
            state=PaxosProposerView(
                proposal=self._proposal, ballot=self._ballot, phase=self._phase,
                promises=_sorted_items(self._promises.items()), accepts=tuple(sorted(self._accepts)),
                max_round=self._max_round, elapsed=self._elapsed, timeout=self._timeout,
                rng=self._rng.state))

    @property
    def learned(self) -> tuple[Any, ...]:
        """``(value,)`` once this node learned the chosen value, else ``()``."""
        return self._learned

    # -- proposer (PMS 2.2, 2.4) -------------------------------------------------------------

    def _new_timeout(self) -> int:
        return self.config.election_ticks + self._rng.below(max(1, self.config.election_ticks))

    def _quorum(self) -> int:
        return mutants.quorum_size(self.config, self.config.nodes)

    def _start_ballot(self) -> None:
        self._max_round = max(self._max_round, self.promised.round) + 1
        self._ballot = Ballot(round=self._max_round, node=self.id)
        self._persist.append(RoundRecord(round=self._max_round))
        self._elapsed = 0
        self._timeout = self._new_timeout()
        self._promises = {}
        self._accepts = set()
        if mutants.skips_prepare(self.config):
            value = self._proposal[0] if self._proposal else self.vote.value if self.vote else None
            self._phase = "accept"
            for node in self.config.nodes:
                self._send(node, Accept(ballot=self._ballot, value=value))
            return
        self._phase = "prepare"
        for node in self.config.nodes:
            self._send(node, Prepare(ballot=self._ballot))

    def _on_promise(self, src: NodeId, msg: Promise) -> None:
        if self._phase != "prepare" or msg.ballot != self._ballot:
            return
        self._promises[src] = msg.vote
        if len(self._promises) < self._quorum():
            return
        votes = [v for v in self._promises.values() if v is not None]
        if votes:  # P2c: the value of the highest-numbered proposal accepted by the quorum
            value = max(votes, key=lambda v: v.ballot).value
        elif self._proposal:
            value = self._proposal[0]
        else:
            self._phase = "idle"
            return
        self._phase = "accept"
        for node in self.config.nodes:
            self._send(node, Accept(ballot=msg.ballot, value=value))

    def _on_accepted(self, src: NodeId, msg: Accepted) -> None:
        # The distinguished learner (PMS 2.3) counts Accepted within one ballot only.
        if self._phase != "accept" or msg.ballot != self._ballot:
            return
        self._accepts.add(src)
        if len(self._accepts) >= self._quorum():
            self._learn(msg.value)
            for node in self.config.nodes:
                if node != self.id:
                    self._send(node, Chosen(value=msg.value))

    def _learn(self, value: Any) -> None:
        if self._learned:
            return
        self._learned = (value,)
        self._phase = "idle"
        self._committed.append(Committed(slot=0, value=value))

    # -- acceptor (PMS 2.2) ------------------------------------------------------------------

    def _on_prepare(self, src: NodeId, msg: Prepare) -> None:
        # ">=": a duplicated Prepare of the ballot already promised gets the same answer again.
        if msg.ballot >= self.promised:
            if msg.ballot > self.promised:
                self.promised = msg.ballot
                if not mutants.forgets_promise(self.config):
                    self._persist.append(PromiseRecord(ballot=msg.ballot))
            self._send(src, Promise(ballot=msg.ballot, vote=self.vote))
        else:
            self._send(src, Nack(ballot=msg.ballot, promised=self.promised))

    def _on_accept(self, src: NodeId, msg: Accept) -> None:
        if msg.ballot >= self.promised:
            self.promised = msg.ballot
            self.vote = Vote(slot=0, ballot=msg.ballot, value=msg.value)
            self._persist.append(VoteRecord(slot=0, ballot=msg.ballot, value=msg.value))
            self._send(msg.ballot.node, Accepted(ballot=msg.ballot, value=msg.value))
        else:
            self._send(src, Nack(ballot=msg.ballot, promised=self.promised))

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
            case Nack():
                self._max_round = max(self._max_round, message.promised.round)
            case Chosen():
                self._learn(message.value)
            case _:
                pass  # not ours: ignore rather than crash on a stray message

    # -- restart --------------------------------------------------------------------------------

    def _restore(self, records: Sequence[Any]) -> None:
        for record in records:
            match record:
                case PromiseRecord():
                    if not mutants.forgets_promise(self.config):
                        self.promised = max(self.promised, record.ballot)
                case VoteRecord():
                    self.vote = Vote(slot=0, ballot=record.ballot, value=record.value)
                    self.promised = max(self.promised, record.ballot)
                case RoundRecord():
                    self._max_round = max(self._max_round, record.round)
                case _:
                    raise ValueError(f"not a Paxos record: {record!r}")


class RestorableNode(Node, Protocol):
    """A node of the Paxos family: rebuilt from its persisted records by ``_restore``."""

    def _restore(self, records: Sequence[Any]) -> None: ...


class PaxosFamilyFactory(AlgorithmFactory):
    """What the Paxos factories here share: restart from records, Paxos's invariants and mutants.

    Every node of the family persists a vote before it sends it (the API's
    contract), so the simulator checks the invariants only after events that
    persisted or committed something (``check_always=False``): no vote, promise
    or learned value can change in between.
    """

    mutants: ClassVar[tuple[Mutant, ...]] = MUTANTS

    @abstractmethod
    def create(self, node_id: NodeId, config: ClusterConfig) -> RestorableNode: ...

    def restore(self, node_id: NodeId, config: ClusterConfig, records: Sequence[Any]) -> RestorableNode:
        node = self.create(node_id, config)
        node._restore(records)
        return node

    def invariants(self, *, track: bool = True) -> list[Invariant]:
        from wireproof.consensus.check.invariants import paxos_invariants

        return paxos_invariants(track=track)

    def simulation(self) -> SimDefaults:
        return SimDefaults(check_always=False)

    def wire_modules(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((__name__, type(self).__module__)))


class PaxosFactory(PaxosFamilyFactory):
    """:class:`~wireproof.consensus.api.NodeFactory` for single-decree Paxos."""

    name = "paxos"
    title = "Classic Paxos"
    description = "Classic single-decree Paxos (Paxos Made Simple 2): every node proposes, accepts, learns"

    def create(self, node_id: NodeId, config: ClusterConfig) -> PaxosNode:
        return PaxosNode(node_id, config)

    def simulation(self) -> SimDefaults:
        """Short runs with clients that propose at once, to put the faults where the contention is.

        Single-decree Paxos decides in a few dozen time units. Its nodes answer no
        client (no ``Reply``), so there is no history to check: the invariants are the check.
        """
        from wireproof.consensus.sim.clients import Workload

        return SimDefaults(duration=60, episodes=3, workload=Workload(clients=3, think=(1, 10)),
                           check_linearizability=False, check_always=False)

    def message_floor(self, nodes: int) -> MessageFloor:
        # Prepare, Promise, Accept, Accepted with n-1 acceptors each (PMS 2.2); Chosen comes after.
        return MessageFloor(label="Classic Paxos minimum 4(n-1)", messages=4 * (nodes - 1), delays=4)

    def bench_cost(self, nodes: int, *, commands: int) -> Cost:
        """Each command is one fresh instance; ``Chosen`` (to the other learners) is reported apart."""
        from wireproof.consensus.sim.cost import instance_cost

        floor = self.message_floor(nodes)
        return instance_cost(self, nodes, floor, commands=commands, learn_only=("Chosen",))
