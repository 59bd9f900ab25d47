"""The linearizability checker: classic examples, and agreement with a brute-force checker.

The brute-force checker below is the definition (Herlihy & Wing 1990) applied
literally: try every order of the definite operations plus every subset of
the indefinite ones, keep the orders that respect real time, run each on a
sequential register. On tiny histories the search must agree with it exactly.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wireproof.consensus.check import lincheck
from wireproof.consensus.check.history import Operation
from wireproof.consensus.check.lincheck import check_linearizable, check_register
from wireproof.errors import FixtureError


def op(process: Hashable, kind: str, invoke: float, complete: float | None, *, value: Any = None,
       result: Any = None, outcome: str = "ok", key: Any = None) -> Operation:
    if complete is None and outcome == "ok":
        outcome = "info"
    return Operation(process=process, kind=kind, key=key, value=value, invoke=invoke,  # type: ignore[arg-type]
                     complete=complete, outcome=outcome, result=result)  # type: ignore[arg-type]


def w(p: Hashable, v: Any, t0: float, t1: float | None, **kw: Any) -> Operation:
    return op(p, "write", t0, t1, value=v, **kw)


def r(p: Hashable, v: Any, t0: float, t1: float | None, **kw: Any) -> Operation:
    return op(p, "read", t0, t1, result=v, **kw)


def cas(p: Hashable, old: Any, new: Any, t0: float, t1: float | None, **kw: Any) -> Operation:
    return op(p, "cas", t0, t1, value=(old, new), **kw)


def brute_force(history: Sequence[Operation], initial: Any = None) -> bool:
    live = [o for o in history if o.outcome != "fail"]
    definite = [o for o in live if o.outcome == "ok"]
    maybe = [o for o in live if o.outcome == "info"]

    def precedes(a: Operation, b: Operation) -> bool:  # a returned before b was invoked
        return a.outcome == "ok" and a.complete is not None and a.complete < b.invoke

    for k in range(len(maybe) + 1):
        for extra in itertools.combinations(maybe, k):
            for order in itertools.permutations(definite + list(extra)):
                if any(precedes(order[j], order[i]) for i in range(len(order))
                       for j in range(i + 1, len(order))):
                    continue
                state, good = initial, True
                for o in order:
                    if o.kind == "read":
                        good = o.outcome != "ok" or o.result == state
                    elif o.kind == "write":
                        state = o.value
                    elif state == o.value[0]:
                        state = o.value[1]
                    else:
                        good = o.outcome != "ok"
                    if not good:
                        break
                if good:
                    return True
    return False


def lin(*ops: Operation) -> bool | None:
    return check_linearizable(ops).linearizable


# --- classic examples ------------------------------------------------------------------------------

def test_empty_history_is_linearizable() -> None:
    result = check_linearizable(())
    assert result.linearizable is True and result.verdict == "linearizable"


def test_sequential_reads_and_writes() -> None:
    assert lin(r(0, None, 0, 1), w(0, 1, 2, 3), r(1, 1, 4, 5), w(1, 2, 6, 7), r(0, 2, 8, 9))


def test_stale_read_after_a_completed_write_is_not_linearizable() -> None:
    result = check_linearizable([w(0, 1, 0, 1), w(0, 2, 2, 3), r(1, 1, 4, 5)])
    assert result.linearizable is False and result.verdict == "not-linearizable"
    assert [o.kind for o in result.witness] == ["write", "write", "read"]
    assert "stale" not in result.describe() and "p1 read -> 1 ok" in result.describe()


def test_read_of_a_value_never_written() -> None:
    assert lin(w(0, 1, 0, 1), r(1, 7, 2, 3)) is False


def test_concurrent_write_and_read_may_see_either_value() -> None:
    assert lin(w(0, 1, 0, 1), w(0, 2, 2, 6), r(1, 1, 3, 4))
    assert lin(w(0, 1, 0, 1), w(0, 2, 2, 6), r(1, 2, 3, 4))


def test_reads_must_agree_on_the_order_of_concurrent_writes() -> None:
    # two readers see the two concurrent writes in opposite orders: no single order explains both
    history = [w(0, 1, 0, 10), w(1, 2, 0, 10),
               r(2, 1, 1, 2), r(2, 2, 3, 4), r(3, 2, 1, 2), r(3, 1, 3, 4)]
    assert lin(*history) is False
    assert lin(*history[:5])


def test_equal_times_overlap() -> None:
    # the read is invoked at the instant the write completes: they overlap, either order is fine
    assert lin(w(0, 1, 0, 5), r(1, None, 5, 6))
    assert lin(w(0, 1, 0, 5), r(1, None, 5.5, 6)) is False


def test_cas_semantics() -> None:
    assert lin(w(0, 1, 0, 1), cas(0, 1, 2, 2, 3), r(1, 2, 4, 5))
    assert lin(w(0, 1, 0, 1), cas(0, 3, 2, 2, 3)) is False  # an ok cas saw 3, but it was 1
    assert lin(w(0, 1, 0, 1), cas(0, 1, 2, 2, 3), r(1, 1, 4, 5)) is False


def test_failed_operations_are_ignored() -> None:
    assert lin(w(0, 1, 0, 1), w(0, 9, 2, 3, outcome="fail"), r(1, 1, 4, 5))
    assert lin(w(0, 1, 0, 1), cas(0, 1, 2, 2, 3, outcome="fail"), r(1, 1, 4, 5))
    assert lin(w(0, 1, 0, 1), r(1, 9, 2, 3, outcome="fail"))
    assert lin(w(0, 9, 2, 3, outcome="fail"), r(1, 9, 4, 5)) is False  # it did not take effect


def test_indefinite_operations_may_or_may_not_take_effect() -> None:
    lost = w(0, 2, 1, None)
    assert lin(w(1, 1, 0, 0.5), lost, r(1, 1, 5, 6))  # never took effect
    assert lin(w(1, 1, 0, 0.5), lost, r(1, 2, 5, 6))  # took effect before the read
    assert lin(w(1, 1, 0, 0.5), lost, r(1, 2, 5, 6), r(1, 1, 7, 8), r(1, 2, 9, 10)) is False
    # ... at any point after its invocation, however late
    assert lin(w(1, 1, 0, 0.5), lost, r(1, 1, 5, 6), r(1, 2, 100, 101))
    # but not before it
    assert lin(r(1, 2, 0, 0.5), lost) is False
    # an indefinite cas applies only if it matches; an indefinite read says nothing
    assert lin(w(1, 1, 0, 1), cas(0, 1, 3, 2, None), r(1, 3, 5, 6))
    assert lin(w(1, 1, 0, 1), cas(0, 4, 3, 2, None), r(1, 3, 5, 6)) is False
    assert lin(w(1, 1, 0, 1), r(0, 5, 2, None, outcome="info"))


def test_kv_checks_each_key_as_its_own_register() -> None:
    history = [w(0, 1, 0, 1, key="a"), w(1, 1, 0, 1, key="b"), r(0, 1, 2, 3, key="a"),
               r(1, None, 2, 3, key="c"), w(2, 2, 4, 5, key="b"), r(2, 1, 6, 7, key="b")]
    result = check_linearizable(history, model="kv")
    assert result.linearizable is False and result.key == "b"
    assert {k: v.verdict for k, v in result.per_key.items()} == {
        "a": "linearizable", "b": "not-linearizable", "c": "linearizable"}
    assert all(o.key == "b" for o in result.witness)
    assert check_linearizable(history[:4], model="kv").linearizable is True
    with pytest.raises(FixtureError, match="model='kv'"):
        check_linearizable(history, model="register")
    with pytest.raises(FixtureError, match="unknown model"):
        check_linearizable(history, model="queue")


def test_budget_gives_unknown_rather_than_hanging() -> None:
    # ten concurrent writes, then two reads that no order of them explains: a large space to explore
    history = [w(p, p, 0, 10) for p in range(10)] + [r(10, 3, 11, 12), r(11, 5, 13, 14)]
    result = check_linearizable(history, budget=50)
    assert result.linearizable is None and result.verdict == "unknown" and result.explored <= 51
    assert check_linearizable(history).linearizable is False  # with the default budget: decided
    assert result.describe().startswith("unknown")


def test_a_value_never_written_is_decided_without_search() -> None:
    # The search space would be large (concurrent indefinite writes); the read of 99 alone decides it.
    history = [w(p, p, 0, None, outcome="info") for p in range(30)] + [r(30, 99, 1, 2)]
    result = check_linearizable(history, budget=10)
    assert result.linearizable is False and result.explored == 0
    assert [(o.kind, o.result) for o in result.witness] == [("read", 99)]
    assert check_linearizable([cas(0, 7, 1, 0, 1)]).linearizable is False  # a cas that saw 7, never written


def test_initial_value() -> None:
    assert check_register([r(0, 0, 0, 1)], initial=0).linearizable is True
    assert check_register([r(0, 0, 0, 1)]).linearizable is False


def test_witness_is_minimal_for_a_stale_read_amid_noise() -> None:
    noise = [r(5 + i, None, 0.1 * i, 0.1 * i + 0.05) for i in range(5)]
    history = [*noise, w(0, 1, 1, 2), r(1, 1, 2.5, 3), w(0, 2, 3, 4), r(2, 2, 5, 6),
               r(3, 1, 7, 8), w(4, 3, 9, 10), r(4, 3, 11, 12)]
    result = check_linearizable(history)
    assert result.linearizable is False
    assert [(o.kind, o.value, o.result) for o in result.witness] == [
        ("write", 1, None), ("write", 2, None), ("read", None, 1)]
    assert brute_force(result.witness) is False


# --- agreement with the definition -------------------------------------------------------------------

VALUES = st.sampled_from([None, 0, 1, 2])


@st.composite
def tiny_histories(draw: st.DrawFn, max_ops: int = 6) -> list[Operation]:
    ops = []
    for p in range(draw(st.integers(0, max_ops))):
        kind = draw(st.sampled_from(["read", "write", "cas"]))
        outcome = draw(st.sampled_from(["ok", "ok", "ok", "fail", "info"]))
        t0 = draw(st.integers(0, 8))
        t1 = None if outcome == "info" else t0 + draw(st.integers(0, 4))
        value = (draw(VALUES), draw(VALUES)) if kind == "cas" else draw(VALUES) if kind == "write" else None
        result = draw(VALUES) if kind == "read" and outcome == "ok" else None
        ops.append(op(p, kind, t0, t1, value=value, result=result, outcome=outcome))
    return ops


@settings(max_examples=400)
@given(tiny_histories())
def test_agrees_with_brute_force(history: list[Operation]) -> None:
    result = check_linearizable(history)
    assert result.linearizable is brute_force(history)
    if result.linearizable is False:
        # the witness is a sub-history that is itself not linearizable
        assert result.witness and brute_force(result.witness) is False
        assert check_linearizable(result.witness).linearizable is False


@st.composite
def sequential_runs(draw: st.DrawFn, max_ops: int = 30) -> list[Operation]:
    """Operations executed one at a time at points 10, 20, ...; each interval spans its point."""
    state: Any = None
    ops = []
    for i in range(draw(st.integers(1, max_ops))):
        point = 10 * (i + 1)
        t0 = point - draw(st.integers(0, 30))
        t1 = point + draw(st.integers(0, 30))
        kind = draw(st.sampled_from(["read", "write", "cas"]))
        fate = draw(st.sampled_from(["ok", "ok", "ok", "info-applied", "info-lost"]))
        if kind == "read":
            ops.append(r(i, state, t0, t1) if fate == "ok" else r(i, None, t0, None, outcome="info"))
            continue
        value = draw(st.integers(0, 3))
        expected = draw(st.sampled_from([state, value, None]))
        applies = fate != "info-lost" and (kind == "write" or expected == state)
        outcome = "info" if fate.startswith("info") else "ok" if applies else "fail"
        end = None if outcome == "info" else t1
        ops.append(w(i, value, t0, end, outcome=outcome) if kind == "write"
                   else cas(i, expected, value, t0, end, outcome=outcome))
        if applies:
            state = value
    return ops


@given(sequential_runs())
def test_histories_of_a_sequential_execution_are_linearizable(history: list[Operation]) -> None:
    assert check_linearizable(history).linearizable is True


@settings(max_examples=300)
@given(sequential_runs(max_ops=6), st.data())
def test_one_mutated_read_agrees_with_brute_force(history: list[Operation], data: st.DataObject) -> None:
    reads = [i for i, o in enumerate(history) if o.kind == "read" and o.outcome == "ok"]
    assume(reads)
    i = data.draw(st.sampled_from(reads))
    wrong = data.draw(st.sampled_from([v for v in (None, 0, 1, 2, 3, 7) if v != history[i].result]))
    history[i] = r(history[i].process, wrong, history[i].invoke, history[i].complete)
    assert check_linearizable(history).linearizable is brute_force(history)


@given(sequential_runs(max_ops=40), st.data())
def test_a_read_of_a_value_never_written_is_always_caught(history: list[Operation],
                                                          data: st.DataObject) -> None:
    reads = [i for i, o in enumerate(history) if o.kind == "read" and o.outcome == "ok"]
    assume(reads)
    i = data.draw(st.sampled_from(reads))
    history[i] = r(history[i].process, 99, history[i].invoke, history[i].complete)
    result = check_linearizable(history)
    assert result.linearizable is False
    assert any(o.kind == "read" and o.result == 99 for o in result.witness)


# --- the cache's canonical form of a linearized set (issue 9: memory linear in the history) ---------

@settings(max_examples=300)
@given(tiny_histories(max_ops=7), st.integers(1, 3))
def test_agrees_with_brute_force_when_ranks_go_far(history: list[Operation], near: int) -> None:
    """With NEAR tiny, linearized ranks move between the window and the far set at every step;
    with FEW_INDEFINITE 0, indefinite operations go to the hash-consed tree."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lincheck, "NEAR", near)
        patch.setattr(lincheck, "FEW_INDEFINITE", 0)
        assert check_linearizable(history, witness=False).linearizable is brute_force(history)


@given(st.lists(st.integers(0, 40), unique=True), st.randoms(use_true_random=False), st.integers(1, 8))
def test_a_linearized_set_has_one_form_whatever_the_order(ranks: list[int], rng: Any, near: int) -> None:
    def build(order: list[int]) -> tuple[int, int, frozenset[int]]:
        form = (0, 0, frozenset[int]())
        for r in order:
            form = lincheck._with(*form, r)
        return form

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lincheck, "NEAR", near)
        shuffled = list(ranks)
        rng.shuffle(shuffled)
        low, window, far = build(ranks)
        assert build(shuffled) == (low, window, far)
    back = set(range(low)) | {low + j for j in range(window.bit_length()) if window >> j & 1} | far
    assert back == set(ranks)
    assert window < 1 << near and all(r >= low + near for r in far)


@given(st.lists(st.integers(0, 99), unique=True, max_size=30), st.randoms(use_true_random=False))
def test_subsets_are_hash_consed(members: list[int], rng: Any) -> None:
    subsets = lincheck._Subsets(100)
    ids: dict[frozenset[int], int] = {}
    root = 0
    seen: frozenset[int] = frozenset()
    for m in members:
        root = subsets.add(root, m)
        seen |= {m}
        ids[seen] = root
    again = 0
    shuffled = list(members)
    rng.shuffle(shuffled)
    for m in shuffled:
        again = subsets.add(again, m)
    assert again == root
    assert len(set(ids.values())) == len(ids)  # every prefix a different set, a different id
