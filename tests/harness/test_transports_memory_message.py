"""In-memory message pair and seeded MessageFaultPlan (wireproof.harness.transports.memory_message)."""

from __future__ import annotations

import errno
import threading

import pytest

from wireproof.errors import HarnessError, TransportError, TransportTimeout
from wireproof.harness.transports import (
    MessageFaultAction,
    MessageFaultPlan,
    MessageTransport,
    memory_message_pair,
)

MESSAGES = [bytes([i]) * (i % 7) for i in range(40)]  # lengths 0..6, empty ones included


def drain(end: MessageTransport) -> list[bytes]:
    """Every message until the peer's close is reported (the sender must have closed)."""
    out = []
    while True:
        try:
            out.append(end.recv(timeout=1.0))
        except TransportTimeout:
            raise
        except TransportError as exc:
            assert exc.errno == errno.ECONNRESET
            return out


def run(plan: MessageFaultPlan | None, messages: list[bytes] = MESSAGES) -> list[bytes]:
    a, b = memory_message_pair(faults=plan)
    for m in messages:
        a.send(m)
    a.close()
    return drain(b)


def test_round_trip_keeps_boundaries_both_ways() -> None:
    a, b = memory_message_pair()
    assert isinstance(a, MessageTransport) and a.kind == "message"
    for m in (b"one", b"", b"three"):
        a.send(m)
    assert [b.recv(), b.recv(), b.recv()] == [b"one", b"", b"three"]
    b.send(b"back")
    assert a.recv() == b"back"
    assert a.url.startswith("memory-message://") and a.url.endswith("/a") and b.url.endswith("/b")


def test_peer_close_after_queued_messages_is_connection_reset() -> None:
    a, b = memory_message_pair()
    a.send(b"last words")
    a.close()
    assert b.recv() == b"last words"
    for _ in range(2):  # and stays so
        with pytest.raises(TransportError) as info:
            b.recv()
        assert info.value.errno == errno.ECONNRESET
        assert not isinstance(info.value, TransportTimeout)
        assert b.url in str(info.value)
    with pytest.raises(TransportError) as info:
        b.send(b"late")  # the reader is gone: like EPIPE
    assert info.value.errno == errno.EPIPE
    with pytest.raises(TransportError, match="closed transport"):
        a.recv()


def test_timeout_is_transport_timeout_and_timeout_error() -> None:
    _, b = memory_message_pair(timeout=0.05)
    with pytest.raises(TransportTimeout) as info:
        b.recv()
    assert isinstance(info.value, TimeoutError)
    assert b.url in str(info.value)
    with pytest.raises(TransportTimeout):
        b.recv(timeout=0)
    with pytest.raises(HarnessError):
        b.recv(timeout=float("nan"))


def test_max_message_is_emsgsize_and_nothing_is_sent() -> None:
    a, b = memory_message_pair(max_message=4)
    a.send(b"four")
    with pytest.raises(TransportError) as info:
        a.send(b"fives")
    assert info.value.errno == errno.EMSGSIZE and a.url in str(info.value)
    assert b.recv() == b"four"
    with pytest.raises(TransportTimeout):
        b.recv(timeout=0)


def test_tap_sees_each_message() -> None:
    log: list[tuple[str, bytes]] = []
    a, b = memory_message_pair()
    a.tap = lambda d, m: log.append((d, m))
    a.send(b"q")
    a.send(b"")
    b.send(b"r")
    assert a.recv() == b"r"
    assert log == [("sent", b"q"), ("sent", b""), ("received", b"r")]


def test_no_plan_and_an_all_deliver_plan_change_nothing() -> None:
    assert run(None) == MESSAGES
    plan = MessageFaultPlan(1)
    assert run(plan) == MESSAGES
    assert {a.kind for a in plan.actions} == {"deliver"}


def test_drop_all() -> None:
    plan = MessageFaultPlan(2, drop=1.0)
    assert run(plan) == []
    assert len(plan.actions) == len(MESSAGES)


def test_duplicate_all() -> None:
    assert run(MessageFaultPlan(3, duplicate=1.0)) == [m for m in MESSAGES for _ in range(2)]


def test_corrupt_flips_exactly_the_recorded_byte() -> None:
    plan = MessageFaultPlan(4, corrupt=1.0)
    got = run(plan)
    assert len(got) == len(MESSAGES)
    for sent, received, action in zip(MESSAGES, got, plan.actions, strict=True):
        if not sent:  # nothing to corrupt in an empty message
            assert action.kind == "deliver" and received == b""
            continue
        assert action.kind == "corrupt" and action.mask != 0
        expected = bytearray(sent)
        expected[action.offset] ^= action.mask
        assert received == bytes(expected)


def test_reorder_swaps_neighbours_and_close_releases_the_held_one() -> None:
    plan = MessageFaultPlan(5, reorder=1.0)
    assert run(plan, [b"0", b"1", b"2", b"3", b"4"]) == [b"1", b"0", b"3", b"2", b"4"]
    assert [a.kind for a in plan.actions] == ["reorder", "deliver", "reorder", "deliver", "reorder"]


def test_a_held_message_is_released_even_when_the_next_is_dropped() -> None:
    messages = [b"m%d" % i for i in range(40)]
    plan = MessageFaultPlan(6, drop=0.5, reorder=0.5)
    got = run(plan, messages)
    kinds = [a.kind for a in plan.actions]
    cases = [i for i in range(len(kinds) - 1) if kinds[i] == "reorder" and kinds[i + 1] == "drop"]
    assert cases  # the seed produces the case under test
    for i in cases:
        assert messages[i] in got and messages[i + 1] not in got
    assert got == replay(plan.actions, messages)


def replay(actions: list[MessageFaultAction], messages: list[bytes], *, closed: bool = True) -> list[bytes]:
    """What the receiver must see, rebuilt from the recorded decisions alone.

    ``closed``: the sender has closed, which releases a message held for reordering.
    """
    out: list[bytes] = []
    held: bytes | None = None
    for action, m in zip(actions, messages, strict=True):
        assert action.size == len(m)
        release, held = held, None
        if action.kind == "deliver":
            out.append(m)
        elif action.kind == "duplicate":
            out += [m, m]
        elif action.kind == "corrupt":
            flipped = bytearray(m)
            flipped[action.offset] ^= action.mask
            out.append(bytes(flipped))
        elif action.kind == "reorder":
            held = m
        if release is not None:
            out.append(release)
    if held is not None and closed:
        out.append(held)
    return out


@pytest.mark.parametrize("seed", range(20))
def test_mixed_faults_are_reproducible_from_the_seed(seed: int) -> None:
    rates = {"drop": 0.15, "duplicate": 0.15, "corrupt": 0.15, "reorder": 0.2}
    first, second = MessageFaultPlan(seed, **rates), MessageFaultPlan(seed, **rates)
    got = run(first)
    assert got == run(second)
    assert first.actions == second.actions
    assert got == replay(first.actions, MESSAGES)


def test_receiver_thread_sees_what_the_plan_decided() -> None:
    plan = MessageFaultPlan(7, drop=0.2, duplicate=0.2, reorder=0.3)
    a, b = memory_message_pair(faults=plan)
    got: list[bytes] = []
    receiver = threading.Thread(target=lambda: got.extend(drain(b)))
    receiver.start()
    for m in MESSAGES:
        a.send(m)
    a.close()
    receiver.join(10.0)
    assert not receiver.is_alive()
    assert got == replay(plan.actions, MESSAGES)


def test_plans_act_per_direction_whatever_the_interleaving() -> None:
    forward, backward = MessageFaultPlan(8, drop=0.3, reorder=0.3), MessageFaultPlan(9, duplicate=0.5)
    a, b = memory_message_pair(faults=forward, reverse_faults=backward)
    senders = [threading.Thread(target=lambda end=end: [end.send(m) for m in MESSAGES]) for end in (a, b)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(10.0)
        assert not t.is_alive()
    # Every send has returned, so everything not held for reordering is queued: poll it out.
    for end, plan in ((b, forward), (a, backward)):
        queued = []
        while True:
            try:
                queued.append(end.recv(timeout=0))
            except TransportTimeout:
                break
        assert queued == replay(plan.actions, MESSAGES, closed=False)


def test_plan_arguments_are_checked() -> None:
    with pytest.raises(HarnessError):
        MessageFaultPlan(0, drop=1.5)
    with pytest.raises(HarnessError):
        MessageFaultPlan(0, drop=0.6, reorder=0.6)
    plan = MessageFaultPlan(0)
    with pytest.raises(HarnessError):
        memory_message_pair(faults=plan, reverse_faults=plan)
    assert "seed=0" in repr(plan)
