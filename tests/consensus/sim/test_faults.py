"""Fault plans: parsing the fault list, seeded generation, shrinking."""

from __future__ import annotations

import pytest

from wireproof.consensus.sim.faults import KINDS, Fault, FaultPlan, generate_plan, parse_kinds, shrink
from wireproof.errors import FixtureError


def test_parse_kinds():
    assert parse_kinds("drop, dup,drop") == ("drop", "dup")
    assert parse_kinds("all") == KINDS
    assert parse_kinds("") == () == parse_kinds("none")
    with pytest.raises(FixtureError, match="bogus"):
        parse_kinds("drop,bogus")


def test_generation_is_seeded_and_complete():
    a = generate_plan(5, "all", nodes=(1, 2, 3), duration=1000)
    assert a == generate_plan(5, "all", nodes=(1, 2, 3), duration=1000)
    assert a != generate_plan(6, "all", nodes=(1, 2, 3), duration=1000)
    assert sorted({f.kind for f in a.faults}) == sorted(KINDS)
    assert len(a.faults) == 2 * len(KINDS)
    for f in a.faults:
        assert 0 <= f.start <= f.end <= 1000
        if f.kind == "partition":
            assert 0 < len(f.nodes) < 3
        if f.kind == "swizzle":
            assert sorted(f.restore) == list(range(len(f.links)))
    assert "swizzle" in a.describe()


def test_shrink_keeps_only_what_the_failure_needs():
    culprit = Fault(kind="crash", start=100, end=900, nodes=(1,))
    noise = tuple(Fault(kind="drop", start=10 * i, end=10 * i + 50, rate=0.3) for i in range(6))
    plan = FaultPlan(duration=4000, faults=(*noise[:3], culprit, *noise[3:]))
    calls = []

    def fails(p: FaultPlan) -> bool:  # fails while node 1 is down for at least 100 units
        calls.append(p)
        return any(f.kind == "crash" and f.end - f.start >= 100 for f in p.faults)

    small = shrink(plan, fails)
    assert small.faults == (Fault(kind="crash", start=100, end=200, nodes=(1,)),)
    assert small.duration == 250
    assert fails(small)


def test_shrink_respects_its_budget():
    plan = FaultPlan(duration=100, faults=tuple(Fault(kind="drop", start=0, end=10, rate=0.1)
                                                for _ in range(10)))
    runs = []
    shrink(plan, lambda p: runs.append(p) is None, max_runs=3)
    assert len(runs) == 3


def test_partition_shapes_and_short_crashes():
    shapes, crash_lengths = set(), []
    for seed in range(40):
        for f in generate_plan(seed, "partition,crash", nodes=(1, 2, 3), duration=1000).faults:
            if f.kind == "partition":
                shapes.add("bridge" if f.other else "one-way" if f.one_way else "side")
                if f.other:  # the bridge node talks to both sides
                    assert len(set(f.nodes) | set(f.other)) == 2 and not set(f.nodes) & set(f.other)
            else:
                crash_lengths.append(f.end - f.start)
    assert shapes == {"bridge", "one-way", "side"}
    assert min(crash_lengths) < 50 < max(crash_lengths)
