"""In-memory transport pair and seeded FaultPlan (wireproof.harness.transports.memory)."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from wireproof.errors import HarnessError, TransportError, TransportTimeout
from wireproof.harness.transports import FaultAction, FaultPlan, Transport, memory_pair

SEGMENTS = [bytes(range(i, i + 12)) for i in range(0, 240, 12)]


def drain(end: Transport) -> list[bytes]:
    """Every delivery until end of file (the sender must have closed)."""
    out = []
    while chunk := end.recv(timeout=1.0):
        out.append(chunk)
    return out


def run(plan: FaultPlan | None, segments: list[bytes] = SEGMENTS) -> list[bytes]:
    a, b = memory_pair(faults=plan)
    for s in segments:
        a.send(s)
    a.close()
    return drain(b)


def test_round_trip_both_directions_and_eof() -> None:
    a, b = memory_pair()
    a.send(b"ping")
    assert b.recv() == b"ping"
    b.send(b"pong")
    assert a.recv() == b"pong"
    a.close()
    assert b.recv() == b""
    assert b.recv() == b""  # end of file stays end of file
    with pytest.raises(TransportError):
        b.send(b"late")  # the reader is gone: like EPIPE
    with pytest.raises(TransportError):
        a.recv()  # closed locally


def test_recv_respects_max_bytes_and_keeps_the_rest() -> None:
    a, b = memory_pair()
    a.send(b"abcdef")
    assert b.recv(4) == b"abcd"
    assert b.recv(4) == b"ef"


def test_timeout_is_transport_timeout_and_timeout_error() -> None:
    _, b = memory_pair(timeout=0.05)
    with pytest.raises(TransportTimeout) as info:
        b.recv()
    assert isinstance(info.value, TimeoutError)
    assert b.url in str(info.value)
    with pytest.raises(TransportTimeout):
        b.recv(timeout=0)


def test_recv_from_another_thread_wakes_on_send() -> None:
    a, b = memory_pair()
    got: list[bytes] = []
    done = threading.Event()

    def reader() -> None:
        got.append(b.recv(timeout=5.0))
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    a.send(b"hello")
    assert done.wait(5.0)
    assert got == [b"hello"]


def test_tap_records_traffic() -> None:
    log: list[tuple[str, bytes]] = []
    a, b = memory_pair()
    a.tap = lambda d, data: log.append(("a-" + d, data))
    b.tap = lambda d, data: log.append(("b-" + d, data))
    a.send(b"\x01\x02")
    b.recv()
    b.send(b"\x03")
    a.recv()
    a.send(b"")  # nothing sent, nothing recorded
    assert log == [("a-sent", b"\x01\x02"), ("b-received", b"\x01\x02"), ("b-sent", b"\x03"),
                   ("a-received", b"\x03")]


def test_recv_exactly_and_recv_timed() -> None:
    a, b = memory_pair(faults=FaultPlan(1, split=1.0))
    a.send(b"0123456789")
    assert b.recv_exactly(10) == b"0123456789"
    with pytest.raises(TransportTimeout):
        b.recv_exactly(1, timeout=0.01)
    a.send(b"xy")
    a.close()
    with pytest.raises(TransportError):
        b.recv_exactly(3)


def test_recv_timed_stamps_each_chunk_in_order() -> None:
    a, b = memory_pair()
    first_seen = threading.Event()
    b.tap = lambda d, data: first_seen.set()

    def sender() -> None:
        a.send(b"first")
        if first_seen.wait(5.0):  # the second chunk leaves only after the first arrived
            a.send(b"second")
        a.close()

    threading.Thread(target=sender, daemon=True).start()
    chunks = b.recv_timed(idle=5.0, timeout=10.0)
    assert [c for _, c in chunks] == [b"first", b"second"]
    assert chunks[0][0] <= chunks[1][0]


def test_no_faults_delivers_each_segment() -> None:
    plan = FaultPlan(7)
    assert run(plan) == SEGMENTS
    assert [a.kind for a in plan.actions] == ["deliver"] * len(SEGMENTS)


@pytest.mark.parametrize("rates", [dict(split=0.3), dict(merge=0.3), dict(drop=0.3), dict(corrupt=0.3),
                                   dict(split=0.2, merge=0.2, drop=0.2, corrupt=0.2)])
def test_same_seed_same_actions_different_seed_differs(rates: dict[str, Any]) -> None:
    p1, p2, p3 = FaultPlan(42, **rates), FaultPlan(42, **rates), FaultPlan(43, **rates)
    out1, out2 = run(p1), run(p2)
    run(p3)
    assert p1.actions == p2.actions
    assert out1 == out2
    assert p1.actions != p3.actions
    assert any(a.kind != "deliver" for a in p1.actions)


def test_split_delivers_the_same_bytes_in_pieces() -> None:
    plan = FaultPlan(3, split=1.0, max_split=3)
    out = run(plan)
    assert b"".join(out) == b"".join(SEGMENTS)
    assert len(out) > len(SEGMENTS)
    assert all(a.kind == "split" for a in plan.actions)
    pieces = iter(out)
    for action, seg in zip(plan.actions, SEGMENTS, strict=True):
        assert 1 <= len(action.cuts) <= 2
        got = [next(pieces) for _ in range(len(action.cuts) + 1)]
        assert b"".join(got) == seg
        assert [len(p) for p in got[:-1]] == [b - a for a, b in itertools.pairwise((0, *action.cuts))]


def test_one_byte_segment_is_not_split() -> None:
    plan = FaultPlan(3, split=1.0)
    assert run(plan, [b"x"]) == [b"x"]
    assert plan.actions == [FaultAction(segment=0, kind="deliver", size=1)]


def test_merge_joins_a_segment_with_the_next() -> None:
    plan = FaultPlan(5, merge=0.5)
    out = run(plan)
    assert b"".join(out) == b"".join(SEGMENTS)
    merges = [a.segment for a in plan.actions if a.kind == "merge"]
    assert merges
    assert len(out) == len(SEGMENTS) - len(merges) + (plan.actions[-1].kind == "merge")


def test_merge_of_the_last_segment_is_flushed_on_close() -> None:
    plan = FaultPlan(5, merge=1.0)
    assert run(plan, [b"ab", b"cd", b"ef"]) == [b"abcdef"]
    assert [(a.kind, a.size) for a in plan.actions] == [("merge", 2), ("merge", 4), ("merge", 6)]


def test_drop_loses_whole_segments() -> None:
    plan = FaultPlan(11, drop=0.4)
    out = run(plan)
    dropped = {a.segment for a in plan.actions if a.kind == "drop"}
    assert dropped
    assert out == [s for i, s in enumerate(SEGMENTS) if i not in dropped]


def test_corrupt_changes_exactly_one_byte() -> None:
    plan = FaultPlan(13, corrupt=1.0)
    out = run(plan)
    assert len(out) == len(SEGMENTS)
    for action, sent, got in zip(plan.actions, SEGMENTS, out, strict=True):
        assert action.kind == "corrupt"
        diffs = [i for i in range(len(sent)) if sent[i] != got[i]]
        assert diffs == [action.offset]
        assert got[action.offset] == sent[action.offset] ^ action.mask


def test_each_direction_has_its_own_plan() -> None:
    fwd, rev = FaultPlan(1, drop=1.0), FaultPlan(1)
    a, b = memory_pair(faults=fwd, reverse_faults=rev)
    a.send(b"lost")
    b.send(b"kept")
    assert a.recv() == b"kept"
    with pytest.raises(TransportTimeout):
        b.recv(timeout=0)
    assert [x.kind for x in fwd.actions] == ["drop"]
    assert [x.kind for x in rev.actions] == ["deliver"]
    with pytest.raises(HarnessError):
        memory_pair(faults=fwd, reverse_faults=fwd)


@pytest.mark.parametrize("kwargs", [dict(split=1.5), dict(drop=-0.1), dict(split=0.6, merge=0.6),
                                    dict(max_split=1)])
def test_bad_fault_plans(kwargs: dict[str, Any]) -> None:
    with pytest.raises(HarnessError):
        FaultPlan(0, **kwargs)


def test_fault_plan_repr_names_the_seed() -> None:
    assert "seed=99" in repr(FaultPlan(99, drop=0.1))
