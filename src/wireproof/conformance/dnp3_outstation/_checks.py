"""Helpers the clause files share: applicability, class polls, events, controls.

Applicability is decided here from the device profile, so every clause says
"not applicable" the same way; a clause that needs the device to produce
events and has no way to make it (no ``event_trigger``) is ``inconclusive``
saying how to give one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode, Iin
from wireproof.codecs.dnp3.messages import ObjectHeader, Point
from wireproof.conformance.dnp3_outstation._connection import Connection, Response
from wireproof.conformance.dnp3_outstation.profile import DeviceProfile
from wireproof.harness.plugin import inconclusive, not_applicable

__all__ = [
    "EVENT_GROUPS",
    "class_poll",
    "clause",
    "clear_events",
    "crob",
    "event_groups",
    "make_events",
    "require_events",
    "require_fc",
    "require_points",
    "require_trigger",
    "status_of",
]

# The event groups of each kind (IEEE 1815-2012 Annex A): binary g2, double-bit g4, counter g22, analog g32.
EVENT_GROUPS = {"binary": 2, "double_bit": 4, "counter": 22, "analog": 32}
ALL_EVENT_GROUPS = frozenset({2, 4, 11, 13, 22, 23, 32, 33, 42, 43})
LATCH_ON, LATCH_OFF = 0x03, 0x04  # CROB control codes (g12v1, 11.9.5: op type in bits 0..3)


def clause(clause_id: str, *values: object, title: str, level: str = "shall", cites: str = "") -> Any:
    """One row of a parametrized clause test, with its own stable id, level and one-line title."""
    marker = {"clause": clause_id, "level": level, "title": title} | ({"cites": cites} if cites else {})
    return pytest.param(*values, marks=pytest.mark.conformance(**marker), id=clause_id)


def require_fc(profile: DeviceProfile, *codes: int) -> None:
    missing = [c for c in codes if not profile.supports(c)]
    if missing:
        names = ", ".join(f"{FunctionCode(c).name} ({c})" for c in missing)
        not_applicable(f"the device profile does not list function code {names} (device.function_codes)")


def require_points(profile: DeviceProfile, kind: str, n: int = 1) -> None:
    if profile.count(kind) < n:
        not_applicable(
            f"the device profile declares {profile.count(kind)} {kind.replace('_', ' ')} "
            f"(points.{kind}); the clause needs {n}"
        )


def require_trigger(trigger: Callable[[], None] | None) -> Callable[[], None]:
    if trigger is None:
        inconclusive(
            "the clause needs the device to produce an event and no way to make it is given: set "
            "--param event_trigger='COMMAND' (a shell command after which the device has a point "
            "change, e.g. one that toggles an input through the device's own tooling)"
        )
    return trigger


def require_events(profile: DeviceProfile, kind: str) -> None:
    if not profile.events.get(kind, False):
        not_applicable(
            f"the device profile does not say the event trigger produces {kind.replace('_', ' ')} "
            f"events (events.{kind})"
        )


def class_header(n: int) -> ObjectHeader:
    """g60 variation n+1, all objects: class n data (Annex A, group 60)."""
    return ObjectHeader(group=60, variation=n + 1, qualifier=0x06)


def class_poll(*classes: int) -> tuple[ObjectHeader, ...]:
    return tuple(class_header(n) for n in classes)


def event_groups(response: Response) -> set[int]:
    return response.groups() & ALL_EVENT_GROUPS


def clear_events(station: Connection) -> None:
    """Read classes 1, 2 and 3 and confirm, until a poll reports no event (at most 8 rounds)."""
    for _ in range(8):
        fragments = station.request_all(FunctionCode.READ, class_poll(1, 2, 3))
        if not any(event_groups(r) for r in fragments):
            return
    raise AssertionError("the device still reports events after 8 confirmed class 1/2/3 polls")


def make_events(station: Connection, trigger: Callable[[], None]) -> None:
    """Clear what is pending, then have the device make a point change (the trigger)."""
    clear_events(station)
    station.note("event_trigger: make the device produce a point change")
    trigger()


def crob(index: int, code: int = LATCH_ON, *, on_time: int = 100, off_time: int = 100) -> ObjectHeader:
    """One g12v1 control relay output block, 2-octet index prefix (qualifier 0x28; 11.9.6)."""
    return ObjectHeader(
        group=12,
        variation=1,
        qualifier=0x28,
        count=1,
        points=(
            Point(
                index=index,
                values={
                    "control_code": code,
                    "count": 1,
                    "on_time": on_time,
                    "off_time": off_time,
                    "status": 0,
                },
            ),
        ),
    )


def analog_output(index: int, value: int) -> ObjectHeader:
    """One g41v2 16-bit analog output block, 2-octet index prefix (11.9.17)."""
    return ObjectHeader(
        group=41,
        variation=2,
        qualifier=0x28,
        count=1,
        points=(Point(index=index, values={"value": value, "status": 0}),),
    )


def status_of(response: Response, group: int, what: str) -> int:
    """The status of the (only) control object echoed in ``response`` (4.4.3-4.4.5: echo + status)."""
    points = response.points(group)
    assert points, (
        f"{what}: the response echoes no g{group} object (IEEE 1815 4.4.3: the response "
        f"echoes the request's objects with their status); objects: "
        f"{[f'g{h.group}v{h.variation}' for h in response.objects]}"
    )
    status: int = points[0].values.get("status", -1)
    return status


def iin_text(iin: int) -> str:
    names = [flag.name or "" for flag in Iin if iin & flag]
    return f"IIN {iin >> 8:02X} {iin & 0xFF:02X}" + (f" ({', '.join(names)})" if names else "")
