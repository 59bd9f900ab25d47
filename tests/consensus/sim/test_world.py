"""The discrete-event world: ordering, network faults, crash/restart, skew, invariants."""

from __future__ import annotations

import pytest

from wireproof.consensus.api import ClusterConfig, Envelope, NotLeader
from wireproof.consensus.sim.faults import Fault, FaultPlan, schedule
from wireproof.consensus.sim.world import LinkFaults, World
from wireproof.errors import InvariantViolation

CONFIG = ClusterConfig(nodes=(1, 2, 3))


def blast(world: World, count: int = 200, src: int = 1, dst: int = 2) -> None:
    for i in range(count):
        world.send(Envelope(src=src, dst=dst, message=i))


def test_fifo_without_faults(gossip):
    world = World(gossip, CONFIG, seed=1, network=LinkFaults(delay=(2, 2)))
    blast(world)
    world.run(1000)
    assert world.nodes[2].log == tuple(range(200))
    assert world.stats.delivered["int"] == 200 and not world.stats.dropped


def test_reorder_lets_later_messages_overtake(gossip):
    world = World(gossip, CONFIG, seed=1, network=LinkFaults(delay=(2, 2), reorder=0.5))
    blast(world)
    world.run(1000)
    log = world.nodes[2].log
    assert sorted(log) == list(range(200)) and list(log) != sorted(log)


def test_drop_loses_some_messages(gossip):
    world = World(gossip, CONFIG, seed=1, network=LinkFaults(drop=0.5))
    blast(world)
    world.run(1000)
    assert 50 < len(world.nodes[2].log) < 150
    assert world.stats.dropped["int"] == 200 - len(world.nodes[2].log)


def test_duplicate_delivers_some_messages_twice(gossip):
    world = World(gossip, CONFIG, seed=1, network=LinkFaults(duplicate=0.5))
    blast(world)
    world.run(1000)
    assert set(world.nodes[2].log) == set(range(200))
    assert 250 < len(world.nodes[2].log) < 350
    assert world.stats.duplicated["int"] == len(world.nodes[2].log) - 200


def test_delay_bounds_transit_time(gossip):
    world = World(gossip, CONFIG, seed=1, network=LinkFaults(delay=(30, 40)))
    blast(world, 50)
    world.run(29)
    assert world.nodes[2].log == ()
    world.run(40)
    assert len(world.nodes[2].log) == 50


def test_overlay_combines_and_is_removed(gossip):
    world = World(gossip, CONFIG, seed=1)
    world.add_overlay("f", LinkFaults(drop=1.0))
    blast(world, 10)
    world.remove_overlay("f")
    blast(world, 10)
    world.run(100)
    assert len(world.nodes[2].log) == 10


def test_partition_cuts_both_ways_and_heals(gossip):
    world = World(gossip, CONFIG, seed=1)
    world.partition([1])
    blast(world, 5, 1, 2)
    blast(world, 5, 2, 1)
    blast(world, 5, 2, 3)
    world.run(100)
    assert world.nodes[2].log == () and world.nodes[1].log == ()
    assert len(world.nodes[3].log) == 5
    world.heal()
    blast(world, 5, 1, 2)
    world.run(200)
    assert len(world.nodes[2].log) == 5


def test_one_way_partition(gossip):
    world = World(gossip, CONFIG, seed=1)
    world.partition([1], [2], one_way=True)
    blast(world, 5, 1, 2)
    blast(world, 5, 2, 1)
    world.run(100)
    assert world.nodes[2].log == () and len(world.nodes[1].log) == 5


def test_messages_in_flight_when_cut_are_lost(gossip):
    world = World(gossip, CONFIG, seed=1, network=LinkFaults(delay=(10, 10)))
    blast(world, 5)
    world.run(5)
    world.cut(1, 2)
    world.run(100)
    assert world.nodes[2].log == ()


def test_swizzle_clog_cuts_one_by_one_and_restores_all(gossip):
    links = ((1, 2), (2, 3), (3, 1), (1, 3))
    fault = Fault(kind="swizzle", start=100, end=300, links=links, restore=(2, 0, 3, 1), step=10)
    world = World(gossip, CONFIG, seed=1)
    schedule(world, FaultPlan(duration=500, faults=(fault,)))
    seen = []
    for t in (105, 115, 125, 135, 200):
        world.run(t)
        seen.append(sum(1 for c in world.cuts.values() if c))
    assert seen == [1, 2, 3, 4, 4]
    assert world.cuts[(1, 2)] and world.cuts[(1, 3)]
    world.run(305)
    assert not world.cuts[(3, 1)] and world.cuts[(1, 2)]  # restored in the given (shuffled) order
    world.run(340)
    assert not any(world.cuts.values())


def test_crash_restart_keeps_only_persisted_state(primary, volatile_primary):
    for factory, kept in ((primary, 3), (volatile_primary, 0)):
        world = World(factory, CONFIG, seed=1)
        for v in "abc":
            world.propose(1, v)
        world.crash(1)
        with pytest.raises(NotLeader):
            world.propose(1, "d")
        world.restart(1)
        assert len(world.nodes[1].log) == kept
        assert world.nodes[1].received == 0  # volatile counters start over


def test_messages_to_a_crashed_node_are_lost_even_if_it_restarts_first(gossip):
    world = World(gossip, CONFIG, seed=1, network=LinkFaults(delay=(50, 50)))
    blast(world, 3)
    world.run(10)
    world.crash(2)
    world.restart(2)
    world.run(200)
    assert world.nodes[2].log == ()
    assert world.stats.dropped["int"] == 3


def test_crashes_nest(primary):
    world = World(primary, CONFIG, seed=1)
    world.crash(2)
    world.crash(2)
    world.restart(2)
    assert not world.is_up(2)
    world.restart(2)
    assert world.is_up(2)


def test_tick_skew(primary):
    world = World(primary, CONFIG, seed=1, tick_period=10)
    world.set_tick_period(1, 3)
    world.run(3000)
    assert 990 <= world.nodes[1].ticks <= 1001
    assert 295 <= world.nodes[2].ticks <= 300


def test_crashed_node_view_is_its_storage(volatile_primary, primary):
    for factory, logged in ((primary, ("a",)), (volatile_primary, ())):
        world = World(factory, CONFIG, seed=1)
        world.propose(1, "a")
        world.crash(1)
        assert world.views()[1] == (logged, 0)


def test_pluggable_invariant_raises_with_seed_and_trace(primary):
    def at_most_two(views, proposed):
        return [f"node {n} has {len(v[0])} entries" for n, v in views.items() if len(v[0]) > 2]

    world = World(primary, CONFIG, seed=42, invariants=[at_most_two])
    world.propose(1, "a")
    world.propose(1, "b")
    world.run(50)
    world.at(60, "propose c", lambda: world.propose(1, "c"))
    with pytest.raises(InvariantViolation) as info:
        world.run(100)
    assert info.value.seed == 42 and "node 1 has 3 entries" in info.value.reason
    assert info.value.trace[-1].endswith("node 1 has 3 entries")


def test_invariant_gets_proposed_values(primary):
    got = []
    world = World(primary, CONFIG, seed=1, invariants=[lambda views, proposed: got.append(proposed) or []])
    world.propose(1, "a")
    world.run(20)
    assert got and got[-1] == frozenset({"a"})


def test_conflicting_commit_is_a_violation(volatile_primary):
    world = World(volatile_primary, CONFIG, seed=3)
    world.propose(1, "a")
    world.crash(1)
    world.restart(1)
    with pytest.raises(InvariantViolation, match="slot 0 committed with two values"):
        world.propose(1, "b")
