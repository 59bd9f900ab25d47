"""A linearizability checker for register and key-value histories.

Theory of operation
-------------------
A history is linearizable (Herlihy & Wing, TOPLAS 1990) when every operation
can be given a point between its invocation and its completion such that the
operations, applied in the order of their points to the sequential model (a
register: read / write / cas), return what the clients saw.

The search is Wing & Gong's (J. Parallel Distrib. Comput. 1993) with Lowe's
memoisation ("Testing for linearizability", CCPE 2017), in the iterative form
of Porcupine (Athalye, MIT licence; read for the algorithm, not copied):

1. every operation becomes a *call* entry and a *return* entry; all entries
   are sorted by time (calls before returns at equal times: they overlap) in a
   doubly linked list;
2. scanning from the head, a call whose operation the model accepts in the
   current state is *linearized*: both its entries are lifted out of the list,
   the choice is pushed on a stack and the scan restarts at the head;
3. reaching a return entry means the operation it closes was not linearized
   though it has completed: backtrack — pop the last choice, put its entries
   back (unlift), and try the next call after it;
4. a cache of (linearized set, model state) prunes every configuration
   already explored: the rest of the search depends on nothing else. The
   history is linearizable when every definite operation is linearized, not
   linearizable when the stack runs empty.

The linearized set is the cache's key, so its representation decides the
memory: a bitset over all operations (Lowe's and Porcupine's) costs n bits
per cached state, and a search of a long history caches about one state per
operation — n²/8 bytes (1.4 GB for 100,000 operations). It is stored in a
canonical form whose size does not grow with the history instead:

* definite operations are ranked by their return entries. The scan stops at
  the first return entry left in the list (step 3), so every definite
  operation that returns before it — all ranks below the rank ``r`` of the
  first unlinearized one — is linearized, and nothing invoked after it is.
  The set is ``r`` plus a small bitset ``window`` of the linearized ranks
  above ``r``: operations concurrent with the one at ``r``, as many as the
  history has concurrent clients. A linearized rank :data:`NEAR` or more
  above ``r`` (a long-running operation, linearized early while many others
  return) goes to a frozenset ``far`` instead, moved into the window as ``r``
  comes near: the window stays a few words, and ``far``, which changes
  rarely, is one object shared by all the states between its changes;
* indefinite operations (which return at +infinity) may stay unlinearized,
  or be linearized, at any distance from ``r``. Up to :data:`FEW_INDEFINITE`
  of them, their subset is a bitset; beyond, a node of a hash-consed complete
  binary tree over them (:class:`_Subsets`): equal sets are the same node, and
  adding one operation makes at most log2(k) nodes.

So the cache holds a few machine words per state: memory linear in the states
explored, and each step costs O(1) besides the scan.

Outcomes (Jepsen's): ``fail`` operations did not take effect and are dropped;
``info`` operations are indefinite — their return entry is at +infinity, so
they may be linearized at any point after their invocation, and they are
optional (the search succeeds once the definite ones are all linearized, which
lets the indefinite rest take effect "never"). An indefinite read observes
nothing and is dropped; an indefinite cas is only worth linearizing when it
succeeds (a failing one is the same as never).

P-compositionality (Herlihy & Wing, Theorem 1; Horn & Kroening 2015): a
key-value history is linearizable iff each key's sub-history is, so the ``kv``
model checks each key as an independent register.

The witness of a violation is small and sound: the history is first cut at the
*frontier* — the furthest return entry any partial linearization reached —
(operations still running then become indefinite: a weakening, so the cut
history is non-linearizable too), then operations are removed, delta-debugging
style, while the remainder stays non-linearizable. Only sound removals are
tried: a read may always go; an operation that writes ``v`` may go only when
no remaining operation observes ``v`` (a read of ``v``, a cas expecting it).
So the witness is itself a non-linearizable history whose non-linearizability
implies the original's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wireproof.consensus.check.history import History, Operation, format_operation
from wireproof.errors import FixtureError

__all__ = ["DEFAULT_BUDGET", "KeyResult", "LinResult", "MODELS", "check_linearizable", "check_register"]

MODELS = ("register", "kv")
DEFAULT_BUDGET = 1_000_000
"""States explored (per check) before giving up with an unknown verdict."""
WITNESS_TESTS = 150
"""At most this many sub-histories are checked while shrinking a witness."""
WITNESS_BUDGET = 20_000
"""States explored per check while shrinking a witness."""
WITNESS_STATES = 100_000
"""States explored in all while shrinking a witness."""

Verdict = Literal["linearizable", "not-linearizable", "unknown"]
_READ, _WRITE, _CAS = 0, 1, 2
_KIND_CODE = {"read": _READ, "write": _WRITE, "cas": _CAS}
_INF = float("inf")
_HEAD = -1  # "scan from the head of the entry list", after a move
NEAR = 256
"""Linearized ranks this far above the lowest unlinearized one are kept in a set, not the window bitset."""
FEW_INDEFINITE = 256
"""Up to this many indefinite operations, their linearized subset is a bitset (at most 32 bytes a state)."""
_NO_RANKS: frozenset[int] = frozenset()


def _verdict(linearizable: bool | None) -> Verdict:
    if linearizable is None:
        return "unknown"
    return "linearizable" if linearizable else "not-linearizable"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyResult:
    """The verdict for one key's register sub-history (``linearizable`` None: budget exhausted)."""

    key: Hashable
    linearizable: bool | None
    explored: int
    operations: int
    witness: History = ()

    @property
    def verdict(self) -> Verdict:
        return _verdict(self.linearizable)


@dataclass(frozen=True, slots=True, kw_only=True)
class LinResult:
    """A linearizability verdict: ``linearizable`` is None when the search budget ran out.

    ``witness`` (for a violation) is a small non-linearizable sub-history of the
    first failing key, in invocation order; ``explored`` counts search states.
    """

    linearizable: bool | None
    explored: int
    per_key: dict[Hashable, KeyResult] = field(default_factory=dict)
    witness: History = ()
    key: Hashable = None

    @property
    def verdict(self) -> Verdict:
        return _verdict(self.linearizable)

    def describe(self) -> str:
        """The verdict for people, with the witness of a violation one operation a line."""
        head = f"{self.verdict} ({self.explored} states explored, {len(self.per_key)} key(s))"
        if self.linearizable is not False:
            return head
        where = "" if self.key is None else f" on key {self.key!r}"
        lines = [head, f"witness{where}: these {len(self.witness)} operations have no linearization "
                       "(an operation shown pending was still running when the search got stuck):"]
        lines += ["  " + format_operation(op) for op in self.witness]
        return "\n".join(lines)


# --- the search ------------------------------------------------------------------------------------

class _Subsets:
    """Canonical ids of subsets of ``range(size)``: a hash-consed complete binary tree.

    Id 0 is the empty set (of any height), id 1 a present leaf; every other id
    is an interior node, interned by its (left, right) children, so two equal
    sets always have the same id however they were built.
    """

    __slots__ = ("children", "depth", "ids")

    def __init__(self, size: int) -> None:
        self.depth = max(size - 1, 0).bit_length()
        self.children: list[tuple[int, int]] = [(0, 0), (0, 0)]
        self.ids: dict[tuple[int, int], int] = {}

    def add(self, root: int, index: int) -> int:
        """The id of the set ``root`` with ``index`` added."""
        path: list[int] = []
        node = root
        for level in range(self.depth - 1, -1, -1):
            path.append(node)
            left, right = self.children[node]
            node = right if index >> level & 1 else left
        node = 1
        for level in range(self.depth):
            left, right = self.children[path.pop()]
            pair = (left, node) if index >> level & 1 else (node, right)
            found = self.ids.get(pair)
            if found is None:
                found = self.ids[pair] = len(self.children)
                self.children.append(pair)
            node = found
        return node


def _search(ops: Sequence[Operation], initial: Any, budget: int) -> tuple[bool | None, int, float]:
    """Wing-Gong-Lowe search over one register: (verdict, states explored, frontier time)."""
    live = [op for op in ops
            if op.outcome != "fail" and not (op.outcome == "info" and op.kind == "read")]
    n = len(live)
    kinds: list[int] = []
    arg_a: list[Any] = []
    arg_b: list[Any] = []
    required: list[bool] = []
    events: list[tuple[float, int, int]] = []
    for i, op in enumerate(live):
        code = _KIND_CODE[op.kind]
        kinds.append(code)
        if code == _READ:
            arg_a.append(op.result)
            arg_b.append(None)
        elif code == _WRITE:
            arg_a.append(op.value)
            arg_b.append(None)
        else:
            arg_a.append(op.value[0])
            arg_b.append(op.value[1])
        definite = op.outcome == "ok"
        required.append(definite)
        ret = op.complete if definite and op.complete is not None else _INF
        events.append((op.invoke, 0, 2 * i + 1))
        events.append((ret, 1, 2 * i + 2))
    events.sort()
    # Node 0 is the head; op i has call node 2i+1 and return node 2i+2; 2n+1 the tail.
    tail = 2 * n + 1
    nxt = [0] * (tail + 1)
    prv = [0] * (tail + 1)
    position = [0] * (tail + 1)
    times = [e[0] for e in events]
    last = 0
    for pos, (_t, _r, node) in enumerate(events):
        nxt[last], prv[node], position[node] = node, last, pos
        last = node
    nxt[last], prv[tail] = tail, last
    # rank[i]: a definite op's place in return order (the order of its return entry);
    # an indefinite op's place among the indefinite ones (see the module docstring).
    rank = [0] * n
    definite_count = 0
    for _t, _r, node in events:
        if not node & 1 and required[(node >> 1) - 1]:
            rank[(node >> 1) - 1] = definite_count
            definite_count += 1
    indefinite = [i for i in range(n) if not required[i]]
    for k, i in enumerate(indefinite):
        rank[i] = k
    # Few indefinite ops (a Jepsen test's timeouts): a bitset of them is small and
    # cheapest; many: the hash-consed tree, whose states cost O(1) each however many.
    add_indefinite = (_Subsets(len(indefinite)).add if len(indefinite) > FEW_INDEFINITE
                      else _add_bit)
    del events, indefinite  # a long search needs its memory for the cache

    left = definite_count
    if not left:
        return True, 0, _INF
    low = 0  # every definite op of rank < low is linearized, the one of rank low is not
    window = 0  # bit j: the definite op of rank low + j is linearized (j < NEAR)
    far = _NO_RANKS  # the linearized definite ranks >= low + NEAR
    extra = 0  # the linearized indefinite ops: a bitset of their ranks, or a _Subsets id
    state = initial
    # (call entry, state, low, window, far, extra before it, forced)
    stack: list[tuple[int, Any, int, int, frozenset[int], int, bool]] = []
    cache: set[tuple[int, int, frozenset[int], int, Any]] = set()
    explored = 0
    frontier = -1
    entry = _HEAD
    while True:
        stuck = False
        if entry == _HEAD:
            # Forced moves: a definite read (or a cas x->x, which only reads) that the
            # model accepts now is linearized now, with no alternative tried — any
            # linearization from here can be reordered to put it first: it is invoked,
            # so nothing pending must precede it, and it changes no state wherever it
            # stands. (Not so a write of the current value: later it might not be a no-op.)
            entry = nxt[0]
            while entry & 1:
                i = entry >> 1
                kind = kinds[i]
                if required[i] and state == arg_a[i] and (
                        kind == _READ or (kind == _CAS and arg_b[i] == state)):
                    new_low, new_window, new_far = _with(low, window, far, rank[i])
                    memo = (new_low, new_window, new_far, extra, state)
                    if memo in cache:  # explored before, and the search is still running: it failed
                        stuck = True
                        break
                    cache.add(memo)
                    explored += 1
                    if explored > budget:
                        return None, explored, _INF
                    stack.append((entry, state, low, window, far, extra, True))
                    low, window, far = new_low, new_window, new_far
                    p, q = prv[entry], nxt[entry]
                    nxt[p], prv[q] = q, p
                    ret = entry + 1
                    p, q = prv[ret], nxt[ret]
                    nxt[p], prv[q] = q, p
                    left -= 1
                    if not left:
                        return True, explored, _INF
                    entry = nxt[0]
                else:
                    entry = nxt[entry]
            entry = nxt[0]
        if not stuck and entry & 1:  # a call: try to linearize its operation here
            i = entry >> 1
            kind = kinds[i]
            if kind == _READ:
                ok, new = state == arg_a[i], state
            elif kind == _WRITE:
                ok, new = True, arg_a[i]
            else:
                ok, new = state == arg_a[i], arg_b[i]
            if ok:
                if required[i]:
                    new_low, new_window, new_far = _with(low, window, far, rank[i])
                    new_extra = extra
                else:
                    new_low, new_window, new_far = low, window, far
                    new_extra = add_indefinite(extra, rank[i])
                memo = (new_low, new_window, new_far, new_extra, new)
                if memo not in cache:
                    cache.add(memo)
                    explored += 1
                    if explored > budget:
                        return None, explored, _INF
                    stack.append((entry, state, low, window, far, extra, False))
                    low, window, far, extra, state = memo
                    p, q = prv[entry], nxt[entry]
                    nxt[p], prv[q] = q, p
                    ret = entry + 1
                    p, q = prv[ret], nxt[ret]
                    nxt[p], prv[q] = q, p
                    if required[i]:
                        left -= 1
                        if not left:
                            return True, explored, _INF
                    entry = _HEAD
                    continue
            entry = nxt[entry]
            continue
        # A return (its operation completed unlinearized) or a failed configuration:
        # backtrack to the last choice that was not forced, and try the next call after it.
        if not stuck and position[entry] > frontier:
            frontier = position[entry]
        forced = True
        while forced:
            if not stack:
                return False, explored, times[frontier] if frontier >= 0 else _INF
            entry, state, low, window, far, extra, forced = stack.pop()
            ret = entry + 1
            nxt[prv[ret]] = ret
            prv[nxt[ret]] = ret
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            if required[entry >> 1]:
                left += 1
        entry = nxt[entry]


def _add_bit(bits: int, rank: int) -> int:
    return bits | 1 << rank


def _with(low: int, window: int, far: frozenset[int], rank: int) -> tuple[int, int, frozenset[int]]:
    """(low, window, far) with the definite op of ``rank`` linearized (see the module docstring)."""
    if rank - low >= NEAR:
        return low, window, far | {rank}
    window |= 1 << (rank - low)
    while window & 1:  # slide past the ranks that are now all linearized
        run = (window ^ (window + 1)).bit_length() - 1
        low += run
        window >>= run
        if far:
            near = [r for r in far if r - low < NEAR]
            if near:
                far = far.difference(near)
                for r in near:
                    window |= 1 << (r - low)
    return low, window, far


# --- witness shrinking -----------------------------------------------------------------------------

def _cut(ops: Sequence[Operation], t: float) -> list[Operation]:
    """The history as it stood at time ``t``: later invocations dropped, running operations indefinite."""
    out: list[Operation] = []
    for op in ops:
        if op.invoke > t or op.outcome == "fail":
            continue
        if op.outcome == "ok" and op.complete is not None and op.complete <= t:
            out.append(op)
        elif op.kind != "read":  # an indefinite read observes nothing: leave it out
            out.append(dataclasses.replace(op, outcome="info", complete=None, result=None))
    return out


def _written(op: Operation) -> Any:
    return op.value if op.kind == "write" else op.value[1]


def _impossible(ops: Sequence[Operation], initial: Any) -> Operation | None:
    """A definite read (or successful cas) of a value the register never held nor could hold.

    No write of that value exists (a failed one wrote nothing), and it is not
    the initial value: no linearization can explain the operation, which is
    alone a non-linearizable history (its own witness).
    """
    values: list[Any] = [initial, *(_written(op) for op in ops if op.kind != "read" and op.outcome != "fail")]
    try:
        possible: set[Any] | list[Any] = set(values)
    except TypeError:  # unhashable values: compare by equality
        possible = values
    for op in ops:
        if op.outcome != "ok":
            continue
        seen = op.result if op.kind == "read" else op.value[0] if op.kind == "cas" else None
        if op.kind != "write" and seen not in possible:
            return op
    return None


def _removable(keep: Sequence[Operation], drop: Iterable[Operation]) -> bool:
    """Removing ``drop`` keeps non-linearizability sound: no kept operation observes a dropped write."""
    observed: set[Any] = set()
    for op in keep:
        if op.kind == "read":
            if op.outcome == "ok":
                observed.add(op.result)
        elif op.kind == "cas":
            observed.add(op.value[0])
    return all(op.kind == "read" or _written(op) not in observed for op in drop)


def _shrink(ops: Sequence[Operation], initial: Any, frontier: float) -> History:
    """A small non-linearizable sub-history (see the module docstring); bounded work."""
    spent = 0

    def fails(candidate: Sequence[Operation]) -> bool:
        nonlocal spent
        verdict, explored, _ = _search(candidate, initial, min(WITNESS_BUDGET, WITNESS_STATES - spent))
        spent += explored
        return verdict is False

    witness = _cut(ops, frontier)
    if not fails(witness):
        witness = [op for op in ops if op.outcome != "fail"]  # defensive: keep the whole history
    tests = 0
    parts = 2
    while len(witness) >= 2 and tests < WITNESS_TESTS and spent < WITNESS_STATES:
        size = -(-len(witness) // parts)
        for start in range(0, len(witness), size):
            candidate = witness[:start] + witness[start + size:]
            if not _removable(candidate, witness[start:start + size]):
                continue
            tests += 1
            if fails(candidate):
                witness = candidate
                parts = max(parts - 1, 2)
                break
            if tests >= WITNESS_TESTS or spent >= WITNESS_STATES:
                break
        else:
            if parts >= len(witness):
                break
            parts = min(len(witness), parts * 2)
    return tuple(sorted(witness, key=lambda op: op.invoke))


# --- public API ------------------------------------------------------------------------------------

def check_register(history: Sequence[Operation], *, initial: Any = None, budget: int | None = None,
                   key: Hashable = None, witness: bool = True) -> KeyResult:
    """Check ``history`` as one register starting at ``initial`` (keys ignored)."""
    limit = DEFAULT_BUDGET if budget is None else budget
    ops = sorted(history, key=lambda op: op.invoke)
    impossible = _impossible(ops, initial)
    if impossible is not None:  # no search needed (and none that a budget could cut short)
        return KeyResult(key=key, linearizable=False, explored=0, operations=len(ops),
                         witness=(impossible,) if witness else ())
    verdict, explored, frontier = _search(ops, initial, limit)
    shown: History = ()
    if verdict is False and witness:
        shown = _shrink(ops, initial, frontier)
    return KeyResult(key=key, linearizable=verdict, explored=explored, operations=len(ops), witness=shown)


def check_linearizable(history: Iterable[Operation], model: str = "register", *, initial: Any = None,
                       budget: int | None = None, witness: bool = True) -> LinResult:
    """Is ``history`` linearizable for ``model`` ("register": one register; "kv": a register per key)?

    ``budget`` bounds the states explored per key (default :data:`DEFAULT_BUDGET`);
    when it runs out the verdict is unknown (``linearizable`` None) rather than a hang.
    """
    ops = list(history)
    if model == "register":
        keys = {op.key for op in ops}
        if len(keys) > 1:
            raise FixtureError(f"a register history has one key, this one has {len(keys)}; use model='kv'")
        groups: dict[Hashable, list[Operation]] = {next(iter(keys)) if keys else None: ops}
    elif model == "kv":
        groups = {}
        for op in ops:
            groups.setdefault(op.key, []).append(op)
    else:
        raise FixtureError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    per_key: dict[Hashable, KeyResult] = {}
    for key, group in groups.items():
        per_key[key] = check_register(group, initial=initial, budget=budget, key=key, witness=witness)
    explored = sum(r.explored for r in per_key.values())
    failed = next((r for r in per_key.values() if r.linearizable is False), None)
    if failed is not None:
        return LinResult(linearizable=False, explored=explored, per_key=per_key,
                         witness=failed.witness, key=failed.key)
    unknown = any(r.linearizable is None for r in per_key.values())
    return LinResult(linearizable=None if unknown else True, explored=explored, per_key=per_key)
