"""Exhaustive exploration: breadth-first over delivery orders, with state hashing.

Theory of operation
-------------------
A *state* is the tuple of every node's ``inspect()`` view (which must be
hashable), the multiset of messages in flight, and the multiset of client
proposals not yet made. Its successors are:

- make any one pending proposal (``propose(value)`` at its node; a
  ``NotLeader`` consumes it) — so proposals interleave with deliveries;
- deliver any one in-flight message (one copy of it), then drain the
  receiver's ``ready()``; what it sends joins the in-flight multiset;
- with ``drop=True``: remove one copy of any in-flight message undelivered;
- with ``duplicate=True``: deliver a message but keep it in flight (the
  network may deliver it again, as Stateright's duplicating network does);
- with ``tick=True``: tick any node (unbounded counters: bound the depth);
- with ``crashes=k``: up to ``k`` times in a path, crash any node and restart
  it at once from what it persisted (``factory.restore``); messages in flight
  to it are lost. While a crash may still come, the persisted records are
  part of the state.

Invariants must judge each state alone: a checker that accumulates history
across calls (such as ``ChosenTracker``) would mix states of different paths.
There is no clock and no randomness: the network may deliver in any order,
which is what distinguishes exploring from simulating. States are
deduplicated by their hash key, so each distinct state is expanded once.
Only the node a transition touches is copied (see ``_clone``).

Stateright comparison
---------------------
Stateright's Paxos example reports 16,668 states for 3 servers and 2
clients on an unordered non-duplicating network; its clients send a Put and
then a Get and its state includes the clients and the network. The count
:func:`explore` gives for Classic Paxos is a different (smaller) model; the
configuration we report is: 3 nodes (each proposer, acceptor and learner),
2 of them (nodes 1 and 2) each proposing one distinct value once, delivery
in any order, no drops, no duplicates, no ticks (so no timeouts and no
retries), invariants checked in every state. Result: 281,675 distinct
states, 1,270,801 transitions, 231 terminal states, depth 22, no violation
(``tests/consensus/sim/test_algorithms.py``, marked slow: about 2 minutes).
With one proposer (node 1 only) the same count is 217 states.
"""

from __future__ import annotations

import contextlib
import copy
from collections import Counter, deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from wireproof.consensus.api import ClusterConfig, Envelope, Node, NodeFactory, NotLeader, SplitMix64
from wireproof.consensus.sim.world import Invariant, drain

__all__ = ["ExploreResult", "explore"]

NodeId = int
_Multiset = frozenset[tuple[Any, int]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExploreResult:
    """``states`` distinct states reached (the initial one included)."""

    states: int
    transitions: int
    depth: int  # the deepest level expanded
    terminal: int  # states with no successor
    complete: bool  # False when max_states or max_depth cut the search short
    violation: str | None = None
    trace: tuple[str, ...] = ()  # actions from the initial state to the violating one


@dataclass(slots=True)
class _State:
    nodes: dict[NodeId, Node]
    inflight: Counter[Envelope]
    pending: Counter[tuple[NodeId, Any]]
    views: dict[NodeId, Any]
    storage: dict[NodeId, tuple[Any, ...]]
    crashes: int  # crash-restarts still allowed


def _multiset(c: Counter[Any]) -> _Multiset:
    return frozenset((k, v) for k, v in c.items() if v > 0)


def _key(s: _State) -> Hashable:
    base = (tuple(sorted(s.views.items())), _multiset(s.inflight), _multiset(s.pending))
    if s.crashes <= 0:
        return base
    # A crash may still come: what each node persisted decides what it restarts with.
    return (*base, tuple(sorted(s.storage.items())), s.crashes)


def _clone(x: Any, memo: dict[int, Any]) -> Any:
    """A copy of a node's mutable state that shares its immutable parts.

    Much cheaper than :func:`copy.deepcopy`, which rebuilds every frozen
    message and ballot. Assumes what the API promises: node state is made of
    builtin containers, plain objects, and immutable values (numbers, text,
    tuples, frozensets, frozen dataclasses); anything else is deep-copied.
    """
    if isinstance(x, _IMMUTABLE) or x is None:
        return x
    if id(x) in memo:
        return memo[id(x)]
    params = getattr(type(x), "__dataclass_params__", None)
    if params is not None and params.frozen:
        return x
    out: Any
    if isinstance(x, list):
        out = memo[id(x)] = [_clone(v, memo) for v in x]
    elif isinstance(x, dict):
        out = memo[id(x)] = type(x)()
        for k, v in x.items():
            out[k] = _clone(v, memo)
    elif isinstance(x, set):
        out = memo[id(x)] = set(x)
    elif isinstance(x, SplitMix64):
        out = memo[id(x)] = SplitMix64(x.state)
    elif hasattr(x, "__dict__") and not callable(x):
        out = memo[id(x)] = copy.copy(x)
        for name, value in vars(x).items():
            setattr(out, name, _clone(value, memo))
    else:
        out = memo[id(x)] = copy.deepcopy(x)
    return out


_IMMUTABLE = (int, float, str, bytes, bool, tuple, frozenset, type)


def _fork(s: _State, n: NodeId, inflight: Counter[Envelope] | None = None,
          pending: Counter[tuple[NodeId, Any]] | None = None) -> _State:
    """A successor of ``s`` in which only node ``n`` may change."""
    nodes = dict(s.nodes)
    nodes[n] = _clone(s.nodes[n], {})
    return _State(nodes, s.inflight.copy() if inflight is None else inflight,
                  s.pending if pending is None else pending, dict(s.views), dict(s.storage), s.crashes)


def _run_ready(s: _State, n: NodeId) -> None:
    persisted: list[Any] = []
    for rd in drain(s.nodes[n], persisted):
        for env in rd.messages:
            s.inflight[env] += 1
    if persisted:
        s.storage[n] = s.storage.get(n, ()) + tuple(persisted)
    s.views[n] = s.nodes[n].inspect()


def _successors(s: _State, factory: NodeFactory, config: ClusterConfig, *, drop: bool, duplicate: bool,
                tick: bool) -> list[tuple[str, _State]]:
    out: list[tuple[str, _State]] = []
    for n, value in s.pending:
        pending = s.pending.copy()
        pending[(n, value)] -= 1
        t = _fork(s, n, pending=+pending)
        with contextlib.suppress(NotLeader):  # a refused proposal is consumed all the same
            t.nodes[n].propose(value)
        _run_ready(t, n)
        out.append((f"propose {n} {value!r}", t))
    for env in s.inflight:
        for keep in (False, True) if duplicate else (False,):
            inflight = s.inflight.copy()
            if not keep:
                inflight[env] -= 1
            t = _fork(s, env.dst, inflight=+inflight)
            t.nodes[env.dst].step(env)
            _run_ready(t, env.dst)
            verb = "deliver-keep" if keep else "deliver"
            out.append((f"{verb} {env.src}->{env.dst} {env.message!r}", t))
        if drop:
            inflight = s.inflight.copy()
            inflight[env] -= 1
            out.append((f"drop {env.src}->{env.dst} {env.message!r}",
                        _State(s.nodes, +inflight, s.pending, s.views, s.storage, s.crashes)))
    if s.crashes > 0:
        for n in sorted(s.nodes):
            # Crash and restart from storage; messages in flight to the node are lost.
            inflight = Counter({e: c for e, c in s.inflight.items() if e.dst != n})
            t = _State(dict(s.nodes), inflight, s.pending, dict(s.views), dict(s.storage), s.crashes - 1)
            t.nodes[n] = factory.restore(n, config, list(s.storage.get(n, ())))
            _run_ready(t, n)
            out.append((f"crash-restart {n}", t))
    if tick:
        for n in sorted(s.nodes):
            t = _fork(s, n)
            t.nodes[n].tick()
            _run_ready(t, n)
            out.append((f"tick {n}", t))
    return out


def explore(
    factory: NodeFactory,
    config: ClusterConfig,
    *,
    proposals: Sequence[tuple[NodeId, Any]] = (),
    invariants: Sequence[Invariant] = (),
    max_states: int = 1_000_000,
    max_depth: int | None = None,
    drop: bool = False,
    duplicate: bool = False,
    tick: bool = False,
    crashes: int = 0,
) -> ExploreResult:
    """Breadth-first search of every interleaving (see the module docstring)."""
    proposed = frozenset(v for _, v in proposals)
    init = _State({n: factory.create(n, config) for n in config.nodes}, Counter(), Counter(proposals), {}, {},
                  crashes)
    for n in config.nodes:
        _run_ready(init, n)
    parents: dict[Hashable, tuple[Hashable | None, str]] = {_key(init): (None, "init")}
    frontier: deque[tuple[_State, Hashable, int]] = deque([(init, _key(init), 0)])
    transitions = terminal = depth = 0
    complete = True

    def path(key: Hashable) -> tuple[str, ...]:
        steps: list[str] = []
        at: Hashable | None = key
        while at is not None:
            parent, action = parents[at]
            steps.append(action)
            at = parent
        return tuple(reversed(steps))

    def violated(s: _State) -> str | None:
        problems = [p for inv in invariants for p in inv(s.views, proposed)]
        return "; ".join(problems) if problems else None

    bad = violated(init)
    if bad:
        return ExploreResult(states=1, transitions=0, depth=0, terminal=0, complete=False,
                             violation=bad, trace=("init",))
    while frontier:
        state, key, level = frontier.popleft()
        depth = max(depth, level)
        if max_depth is not None and level >= max_depth:
            complete = False
            continue
        succ = _successors(state, factory, config, drop=drop, duplicate=duplicate, tick=tick)
        if not succ:
            terminal += 1
        for action, t in succ:
            transitions += 1
            k = _key(t)
            if k in parents:
                continue
            if len(parents) >= max_states:
                complete = False
                continue
            parents[k] = (key, action)
            bad = violated(t)
            if bad:
                return ExploreResult(states=len(parents), transitions=transitions, depth=level + 1,
                                     terminal=terminal, complete=False, violation=bad, trace=path(k))
            frontier.append((t, k, level + 1))
    return ExploreResult(states=len(parents), transitions=transitions, depth=depth, terminal=terminal,
                         complete=complete)
