"""Event clauses (IEEE 1815-2012 4.4.1, 4.2.2.4.3, 4.2.2.7): event polls, confirm and clearing, IIN1.1-1.3.

Events come from a point change the device is made to produce: the
``event_trigger`` parameter (a shell command), or the reference
outstation's ``step()``. Every clause first reads and confirms what is
pending, so it starts from an empty event buffer; one without a trigger is
``inconclusive`` saying how to give one.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode, Iin
from wireproof.conformance.dnp3_outstation._checks import (
    EVENT_GROUPS,
    class_poll,
    clause,
    clear_events,
    event_groups,
    iin_text,
    make_events,
    require_events,
    require_trigger,
)
from wireproof.conformance.dnp3_outstation._connection import Connection
from wireproof.conformance.dnp3_outstation.profile import DeviceProfile
from wireproof.harness.clauses import setup_step
from wireproof.harness.plugin import not_applicable

Trigger = Callable[[], None] | None
EVENT_CLASSES = Iin.CLASS_1_EVENTS | Iin.CLASS_2_EVENTS | Iin.CLASS_3_EVENTS


def _events(station: Connection, trigger: Trigger) -> None:
    run = require_trigger(trigger)
    with setup_step(station, "clear pending events, then make the device produce a point change"):
        make_events(station, run)


@pytest.mark.parametrize(
    "kind",
    [
        clause(
            "DNP-EVT-001",
            "binary",
            title="A binary input change is reported as a g2 event in a class poll.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 2 (binary input event)",
        ),
        clause(
            "DNP-EVT-002",
            "double_bit",
            title="A double-bit input change is reported as a g4 event.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 4 (double-bit binary input event)",
        ),
        clause(
            "DNP-EVT-003",
            "analog",
            title="An analog input change is reported as a g32 event.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 32 (analog input event)",
        ),
        clause(
            "DNP-EVT-004",
            "counter",
            title="A counter change is reported as a g22 event.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 22 (counter event)",
        ),
    ],
)
def test_event_kinds(kind: str, station: Connection, trigger: Trigger, dnp3_profile: DeviceProfile) -> None:
    """A point change of this kind is reported as an event of its group in a class 1/2/3 poll."""
    require_events(dnp3_profile, kind)
    _events(station, trigger)
    fragments = station.request_all(FunctionCode.READ, class_poll(1, 2, 3))
    groups = set().union(*(event_groups(r) for r in fragments))
    assert EVENT_GROUPS[kind] in groups, (
        f"no g{EVENT_GROUPS[kind]} event after the trigger; event groups reported: {sorted(groups)}"
    )


@pytest.mark.conformance(
    clause="DNP-EVT-005",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.4.3: a response carrying events sets CON; 4.2.2.7.1: "
    "IIN1.1-1.3 say events of a class are available",
)
def test_event_response_asks_confirm(station: Connection, trigger: Trigger) -> None:
    """A response with events asks for confirmation (CON=1), and IIN1.1-1.3 said events were pending."""
    _events(station, trigger)
    before = station.request(FunctionCode.READ, ())
    assert before.iin & EVENT_CLASSES, f"events are pending but IIN1.1-1.3 are clear: {iin_text(before.iin)}"
    response = station.request(FunctionCode.READ, class_poll(1, 2, 3), confirm=False)
    assert event_groups(response), "the class poll after the trigger reports no event"
    assert response.fragment.con, "a response carrying events does not ask for confirmation (CON=0)"
    station.confirm(response.fragment.seq)


@pytest.mark.conformance(
    clause="DNP-EVT-006",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.4.3 and 4.5.1: events are removed from the buffer once the "
    "response that reported them is confirmed",
)
def test_events_cleared_after_confirm(station: Connection, trigger: Trigger) -> None:
    """After the confirm, the next class poll reports none of those events and IIN1.1-1.3 clear."""
    _events(station, trigger)
    first = station.request(FunctionCode.READ, class_poll(1, 2, 3))  # confirmed
    assert event_groups(first), "the class poll after the trigger reports no event"
    again = station.request(FunctionCode.READ, class_poll(1, 2, 3))
    assert not event_groups(again), (
        f"confirmed events reported again: groups {sorted(event_groups(again))} (4.2.2.4.3)"
    )
    assert not again.iin & EVENT_CLASSES, f"IIN1.1-1.3 still set after the confirm: {iin_text(again.iin)}"


@pytest.mark.conformance(
    clause="DNP-EVT-007",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.4.3: events of a response that is not confirmed stay in "
    "the buffer and are reported again",
)
def test_events_repeated_without_confirm(station: Connection, trigger: Trigger) -> None:
    """Without a confirm, the next class poll reports the same events again."""
    _events(station, trigger)
    first = station.request(FunctionCode.READ, class_poll(1, 2, 3), confirm=False)
    assert event_groups(first), "the class poll after the trigger reports no event"
    again = station.request(FunctionCode.READ, class_poll(1, 2, 3), confirm=False)
    assert event_groups(again) == event_groups(first), (
        f"unconfirmed events not reported again: first {sorted(event_groups(first))}, then "
        f"{sorted(event_groups(again))}"
    )
    station.confirm(again.fragment.seq)


@pytest.mark.conformance(
    clause="DNP-EVT-008",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.4.3: a confirm whose sequence number is not the "
    "response's does not confirm it",
)
def test_confirm_wrong_sequence(station: Connection, trigger: Trigger) -> None:
    """A confirm with the wrong sequence number does not clear the events."""
    _events(station, trigger)
    first = station.request(FunctionCode.READ, class_poll(1, 2, 3), confirm=False)
    assert event_groups(first), "the class poll after the trigger reports no event"
    station.confirm((first.fragment.seq + 5) % 16)
    again = station.request(FunctionCode.READ, class_poll(1, 2, 3), confirm=False)
    assert event_groups(again), "a confirm with another sequence number cleared the events"
    station.confirm(again.fragment.seq)


@pytest.mark.conformance(
    clause="DNP-EVT-009",
    level="shall",
    cites="IEEE 1815-2012 4.4.1 and Annex A g60v1: a class 0 read reports static data; "
    "pending events stay pending (IIN1.1-1.3 still set)",
)
def test_class0_with_events_pending(station: Connection, trigger: Trigger) -> None:
    """A class 0 read with events pending reports no event and leaves them pending."""
    _events(station, trigger)
    static = station.request(FunctionCode.READ, class_poll(0))
    assert not event_groups(static), f"a class 0 read reported events: {sorted(event_groups(static))}"
    assert static.iin & EVENT_CLASSES, f"events pending, IIN1.1-1.3 clear: {iin_text(static.iin)}"
    events = station.request(FunctionCode.READ, class_poll(1, 2, 3))
    assert event_groups(events), "the events were lost by the class 0 read"


@pytest.mark.conformance(
    clause="DNP-EVT-010",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.7.2: IIN2.3 EVENT_BUFFER_OVERFLOW is set when events were "
    "lost because the buffer was full",
)
def test_event_buffer_overflow(station: Connection, trigger: Trigger, dnp3_profile: DeviceProfile) -> None:
    """More point changes than the event buffer holds set IIN2.3 EVENT_BUFFER_OVERFLOW."""
    if dnp3_profile.event_buffer_size is None:
        not_applicable("the device profile gives no event buffer size (device.event_buffer_size)")
    run = require_trigger(trigger)
    with setup_step(station, "clear pending events"):
        clear_events(station)
    n = dnp3_profile.event_buffer_size + 1
    station.note(f"event_trigger {n} times (the buffer holds {n - 1} events of a type)")
    for _ in range(n):
        run()
    response = station.request(FunctionCode.READ, ())
    assert response.iin & Iin.EVENT_BUFFER_OVERFLOW, (
        f"IIN2.3 not set after {n} changes: {iin_text(response.iin)}"
    )
    with contextlib.suppress(AssertionError):  # leave the buffer empty for the next clause
        clear_events(station)


@pytest.mark.conformance(
    clause="DNP-EVT-011",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.4.1-4.2.2.4.5: FIR on the first fragment, FIN on the last, "
    "CON on each non-final fragment, sequence numbers incrementing mod 16",
)
def test_multi_fragment_response(station: Connection, trigger: Trigger, dnp3_profile: DeviceProfile) -> None:
    """A response too large for one fragment comes in fragments FIR..FIN, sequence numbers incrementing."""
    events = dnp3_profile.multi_fragment_events and dnp3_profile.event_buffer_size is not None
    if not events and not dnp3_profile.multi_fragment:
        not_applicable(
            "the device profile says no response of the device spans several fragments (multi_fragment "
            "for class 0; device.multi_fragment_events with event_buffer_size for a full event buffer)"
        )
    if dnp3_profile.multi_fragment:
        fragments = station.request_all(FunctionCode.READ, class_poll(0))
    else:
        run = require_trigger(trigger)
        with setup_step(station, "clear pending events"):
            clear_events(station)
        assert dnp3_profile.event_buffer_size is not None
        for _ in range(dnp3_profile.event_buffer_size):
            run()
        fragments = station.request_all(FunctionCode.READ, class_poll(1, 2, 3))
    assert len(fragments) > 1, (
        f"the response came in one fragment of {len(fragments[0].raw)} octets; the profile says it spans "
        "several"
    )
    assert fragments[0].fragment.fir and not fragments[0].fragment.fin, "the first fragment: FIR=1 FIN=0"
    assert fragments[-1].fragment.fin, "the last fragment lacks FIN"
    for a, b in itertools.pairwise(fragments):
        assert a.fragment.con, f"a non-final fragment (seq {a.fragment.seq}) does not ask for confirmation"
        assert b.fragment.seq == (a.fragment.seq + 1) % 16, (
            f"fragment sequence {a.fragment.seq} followed by {b.fragment.seq} (4.2.2.4.5: + 1 mod 16)"
        )
        assert not b.fragment.fir, "a fragment after the first has FIR"
