"""Unsolicited response clauses (IEEE 1815-2012 4.6; Table 4-2 functions 20 and 21, enable / disable).

An outstation that reports unsolicited sends events on its own once the
master enabled the classes; the response has UNS=1 and CON=1 and is
repeated until confirmed (the application confirm timeout, ``confirm_timeout``).
Every clause ends by disabling unsolicited reporting again (best effort).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.conformance.dnp3_outstation._checks import (
    class_poll,
    clear_events,
    event_groups,
    require_fc,
    require_trigger,
)
from wireproof.conformance.dnp3_outstation._connection import Connection
from wireproof.conformance.dnp3_outstation.conftest import Timing
from wireproof.conformance.dnp3_outstation.profile import DeviceProfile
from wireproof.harness.clauses import setup_step
from wireproof.harness.plugin import not_applicable

Trigger = Callable[[], None] | None


def _require(dnp3_profile: DeviceProfile) -> None:
    if not dnp3_profile.unsolicited:
        not_applicable("the device profile says the device does not report unsolicited (device.unsolicited)")
    require_fc(dnp3_profile, FunctionCode.ENABLE_UNSOLICITED, FunctionCode.DISABLE_UNSOLICITED)


def _set(station: Connection, function: FunctionCode) -> None:
    station.request(function, class_poll(1, 2, 3))


def _disable(station: Connection) -> None:
    with contextlib.suppress(AssertionError):
        _set(station, FunctionCode.DISABLE_UNSOLICITED)


@pytest.mark.conformance(
    clause="DNP-UNS-001",
    level="shall",
    cites="IEEE 1815-2012 4.6 and Table 4-2 (ENABLE_UNSOLICITED, function 20): events of the enabled "
    "classes are reported in an unsolicited response, UNS=1, CON=1",
)
def test_unsolicited_enabled(
    station: Connection, trigger: Trigger, dnp3_profile: DeviceProfile, timing: Timing
) -> None:
    """After ENABLE_UNSOLICITED, a point change is reported unsolicited (UNS and CON set, with events)."""
    _require(dnp3_profile)
    run = require_trigger(trigger)
    try:
        with setup_step(station, "clear events, enable unsolicited for classes 1-3"):
            clear_events(station)
            _set(station, FunctionCode.ENABLE_UNSOLICITED)
            station.drain(0.2)
        station.note("event_trigger: make the device produce a point change")
        run()
        response = station.read_unsolicited(timing.confirm_timeout + timing.response_timeout)
        assert response is not None, "no unsolicited response after the point change"
        assert response.fragment.uns and response.fragment.con, "the unsolicited response lacks UNS or CON"
        assert event_groups(response), "the unsolicited response carries no event"
    finally:
        _disable(station)


@pytest.mark.conformance(
    clause="DNP-UNS-002",
    level="shall",
    cites="IEEE 1815-2012 4.6 and Table 4-2 (DISABLE_UNSOLICITED, function 21): events of disabled "
    "classes are not reported unsolicited; they stay for a poll",
)
def test_unsolicited_disabled(
    station: Connection, trigger: Trigger, dnp3_profile: DeviceProfile, timing: Timing
) -> None:
    """After DISABLE_UNSOLICITED, a point change is not reported unsolicited but read by a poll."""
    _require(dnp3_profile)
    run = require_trigger(trigger)
    with setup_step(station, "clear events, disable unsolicited for classes 1-3"):
        clear_events(station)
        _set(station, FunctionCode.DISABLE_UNSOLICITED)
        station.drain(0.2)
    station.note("event_trigger: make the device produce a point change")
    run()
    response = station.read_unsolicited(timing.confirm_timeout)
    assert response is None or not event_groups(response), (
        "an unsolicited response with events came although unsolicited reporting is disabled"
    )
    polled = station.request(FunctionCode.READ, class_poll(1, 2, 3))
    assert event_groups(polled), "the events are not in the class poll either"


@pytest.mark.conformance(
    clause="DNP-UNS-003",
    level="shall",
    cites="IEEE 1815-2012 4.6: an unsolicited response not confirmed within the confirm "
    "timeout is sent again",
)
def test_unsolicited_retry(
    station: Connection, trigger: Trigger, dnp3_profile: DeviceProfile, timing: Timing
) -> None:
    """An unconfirmed unsolicited response is repeated after the confirm timeout, with the same events."""
    _require(dnp3_profile)
    run = require_trigger(trigger)
    try:
        with setup_step(station, "clear events, enable unsolicited for classes 1-3"):
            clear_events(station)
            _set(station, FunctionCode.ENABLE_UNSOLICITED)
            station.drain(0.2)
        station.auto_confirm_unsolicited = False
        station.note("event_trigger: make the device produce a point change")
        run()
        first = station.read_unsolicited(timing.confirm_timeout + timing.response_timeout)
        assert first is not None and event_groups(first), (
            "no unsolicited response with events after the change"
        )
        station.note("no confirm: the device must repeat the response after its confirm timeout")
        second = station.read_unsolicited(timing.confirm_timeout * 2 + timing.response_timeout)
        assert second is not None, (
            f"the unconfirmed unsolicited response was not repeated within "
            f"{timing.confirm_timeout * 2 + timing.response_timeout:g} s"
        )
        assert event_groups(second) == event_groups(first), (
            f"the repeat carries other events: {sorted(event_groups(first))}, "
            f"then {sorted(event_groups(second))}"
        )
        station.confirm(second.fragment.seq, uns=True)
    finally:
        station.auto_confirm_unsolicited = True
        _disable(station)


@pytest.mark.conformance(
    clause="DNP-UNS-004",
    level="shall",
    cites="IEEE 1815-2012 4.6: once confirmed, the events of an unsolicited response are not reported again",
)
def test_unsolicited_confirmed_cleared(
    station: Connection, trigger: Trigger, dnp3_profile: DeviceProfile, timing: Timing
) -> None:
    """After the unsolicited response is confirmed, a class poll reports none of its events."""
    _require(dnp3_profile)
    run = require_trigger(trigger)
    try:
        with setup_step(station, "clear events, enable unsolicited for classes 1-3"):
            clear_events(station)
            _set(station, FunctionCode.ENABLE_UNSOLICITED)
            station.drain(0.2)
        station.note("event_trigger: make the device produce a point change")
        run()
        first = station.read_unsolicited(timing.confirm_timeout + timing.response_timeout)
        assert first is not None and event_groups(first), (
            "no unsolicited response with events after the change"
        )
        _disable(station)
        polled = station.request(FunctionCode.READ, class_poll(1, 2, 3))
        assert not event_groups(polled), (
            f"confirmed unsolicited events reported again by a poll: {sorted(event_groups(polled))}"
        )
    finally:
        _disable(station)
