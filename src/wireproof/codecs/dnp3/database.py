"""The outstation's point database and its event records (pure): IEEE 1815-2012 clauses 5.1, 11.

Theory of operation
-------------------
A :class:`Database` is one device's points, by kind (the point types of IEEE
1815 5.1.1 and their static groups): ``binary`` (g1), ``double_bit`` (g3),
``binary_output`` (g10), ``counter`` (g20), ``frozen_counter`` (g21),
``analog`` (g30), ``analog_output`` (g40) and ``octet_string`` (g110). Each
:class:`PointState` holds a value, its flags, its event class (0: no events,
1..3: IEEE 1815 5.1.3 event classes) and the device time of its last change.

:meth:`Database.change` sets a value at a time given by the caller (time is
an input: ``now`` in seconds of the driver's monotonic clock, turned into
DNP3 time, milliseconds since 1970 UTC (11.3.1.2), by the device clock the
database keeps, which a master sets by a time write). A change of a point
with an event class makes an :class:`Event`, handed to every subscriber (each
outstation session keeps its own event buffers; see :mod:`.outstation`).

:func:`values_for` renders a point in any object-library variation of its
group (the library's field codes say what a variation carries: flags, value
of some width, time, packed state), so a READ of any supported variation and
the default variations share one path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs.dnp3.library import lookup

__all__ = [
    "EVENT_GROUPS",
    "KINDS",
    "STATIC_GROUPS",
    "Database",
    "Event",
    "PointState",
    "flags_of",
    "values_for",
]

# Point kind -> (static group, default static variation, event group, default event variation).
# Defaults as opendnp3's and the DNP3 Subset Level 2 device profiles use (IEEE 1815 Table 14-3).
KINDS: Final[dict[str, tuple[int, int, int, int]]] = {
    "binary": (1, 2, 2, 2),
    "double_bit": (3, 2, 4, 2),
    "binary_output": (10, 2, 11, 2),
    "counter": (20, 1, 22, 1),
    "frozen_counter": (21, 1, 23, 5),
    "analog": (30, 1, 32, 3),
    "analog_output": (40, 1, 42, 3),
    "octet_string": (110, 0, 111, 0),  # variation = the string's length
}
STATIC_GROUPS: Final = {v[0]: k for k, v in KINDS.items()}
EVENT_GROUPS: Final = {v[2]: k for k, v in KINDS.items()}
ONLINE: Final = 0x01  # flag bit 0 of every point type (11.9)

# Double-bit states (11.9.3 g3v2, bits 7..6): 0 intermediate, 1 determined off, 2 on, 3 indeterminate.
DBI_INTERMEDIATE, DBI_OFF, DBI_ON, DBI_INDETERMINATE = 0, 1, 2, 3


@dataclass(slots=True)
class PointState:
    """One point: value, flag bits other than the state, event class (0..3), last change's DNP3 time."""

    value: Any
    event_class: int = 0
    flags: int = ONLINE
    time: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """One event (IEEE 1815 5.1.3): what changed, its new value and flags, when, in which class."""

    kind: str
    index: int
    value: Any
    flags: int
    time: int
    event_class: int
    serial: int = 0  # order of creation (events are reported oldest first, 5.1.3)


def flags_of(kind: str, point: PointState, value: Any = None) -> int:
    """The flags octet as sent: binary types carry their state in it (11.9.1 g1v2 bit 7, g3v2 bits 7..6)."""
    v = point.value if value is None else value
    if kind in ("binary", "binary_output"):
        return (point.flags & 0x7F) | (0x80 if v else 0)
    if kind == "double_bit":
        return (point.flags & 0x3F) | ((int(v) & 3) << 6)
    return point.flags


_INT_RANGE: Final = {"B": (0, 0xFF), "H": (0, 0xFFFF), "h": (-0x8000, 0x7FFF), "I": (0, 0xFFFFFFFF),
                     "i": (-0x80000000, 0x7FFFFFFF)}


def _numeric(code: str, value: Any) -> int | float:
    if code in ("f", "d"):
        return float(value)
    low, high = _INT_RANGE[code]
    number = float(value)
    if math.isnan(number):
        return 0
    # 11.9: a value out of the variation's range is clamped (the OVERRANGE flag is not kept)
    return max(low, min(high, round(number)))


def values_for(kind: str, group: int, variation: int, *, value: Any, flags: int,
               time: int) -> dict[str, Any]:
    """The field values of one object of ``group``/``variation`` for a point of ``kind``.

    ``flags`` is the octet as sent (:func:`flags_of`). Packed variations get ``state`` (bool, or the
    double-bit 0..3); octet strings ``value`` as bytes.
    """
    if kind == "octet_string":
        return {"value": bytes(value)}
    spec = lookup(group, variation)
    if spec is None:
        raise KeyError((group, variation))
    if spec.bits:
        return {"state": int(value) & 3 if spec.bits == 2 else bool(value)}
    out: dict[str, Any] = {}
    for name, code in spec.fields:
        if name == "flags":
            out[name] = flags
        elif name == "time":
            out[name] = time & ((1 << 48) - 1)
        elif name == "value":
            out[name] = _numeric(code, value)
        elif name == "status":
            out[name] = 0
        else:
            raise KeyError((group, variation, name))
    return out


Subscriber = Callable[[Event], None]


@dataclass(slots=True)
class Database:
    """A device's points, its clock and the sessions that want its events (module docstring)."""

    points: dict[str, list[PointState]] = field(default_factory=dict)
    variations: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind -> (static, event)
    deadbands: dict[str, float] = field(default_factory=dict)  # analog kinds: a change smaller is no event
    utc_offset_ms: float = 0.0  # device time = offset + now * 1000
    last_time_sync: float | None = None  # ``now`` of the last time write, None: never
    subscribers: list[Subscriber] = field(default_factory=list)
    serial: int = 0

    @classmethod
    def from_mapping(cls, spec: Mapping[str, Any], *, source: str = "database") -> Database:
        """Points from a mapping ``kind -> {values = [...], class = N | classes = [...],
        static_variation = N, event_variation = N, deadband = X}`` (the simulator's TOML ``[points]``).

        ``ValueError`` naming ``source`` and the key for anything it cannot use.
        """
        db = cls()
        for kind, table in spec.items():
            if kind not in KINDS:
                raise ValueError(f"{source}: points.{kind}: unknown point kind (one of {', '.join(KINDS)})")
            if not isinstance(table, Mapping) or not isinstance(table.get("values"), list):
                raise ValueError(f"{source}: points.{kind}: a table with a 'values' list")
            values = list(table["values"])
            classes = table.get("classes", [table.get("class", 0)] * len(values))
            if not isinstance(classes, list) or len(classes) != len(values) or \
                    any(not isinstance(c, int) or not 0 <= c <= 3 for c in classes):
                raise ValueError(f"{source}: points.{kind}: class/classes must be 0..3, one per value")
            for i, v in enumerate(values):
                _check_value(kind, v, f"{source}: points.{kind}.values[{i}]")
            static, event = KINDS[kind][1], KINDS[kind][3]
            static = int(table.get("static_variation", static))
            event = int(table.get("event_variation", event))
            group, _, egroup, _ = KINDS[kind]
            if kind != "octet_string" and (lookup(group, static) is None or lookup(egroup, event) is None):
                raise ValueError(f"{source}: points.{kind}: variation g{group}v{static} / g{egroup}v{event} "
                                 "is not in the object library")
            db.variations[kind] = (static, event)
            db.points[kind] = [PointState(value=_normal(kind, v), event_class=c)
                               for v, c in zip(values, classes, strict=True)]
            if "deadband" in table:
                db.deadbands[kind] = float(table["deadband"])
        if "counter" in db.points and "frozen_counter" not in db.points:
            # A counter that can be frozen has a frozen counter of the same index (11.9.11).
            db.points["frozen_counter"] = [PointState(value=0) for _ in db.points["counter"]]
            db.variations["frozen_counter"] = (KINDS["frozen_counter"][1], KINDS["frozen_counter"][3])
        return db

    def variation(self, kind: str, *, event: bool = False) -> int:
        static, ev = self.variations.get(kind, (KINDS[kind][1], KINDS[kind][3]))
        return ev if event else static

    def count(self, kind: str) -> int:
        return len(self.points.get(kind, ()))

    def time_ms(self, now: float) -> int:
        """Device time (DNP3 time, 11.3.1.2) at ``now``."""
        return max(0, int(self.utc_offset_ms + now * 1000.0))

    def set_time(self, utc_ms: int, now: float) -> None:
        """A master set the clock: ``utc_ms`` is the device time at ``now`` (IEEE 1815 4.4.14, 4.4.15)."""
        self.utc_offset_ms = utc_ms - now * 1000.0
        self.last_time_sync = now

    def get(self, kind: str, index: int) -> PointState | None:
        table = self.points.get(kind)
        return table[index] if table is not None and 0 <= index < len(table) else None

    def change(self, kind: str, index: int, value: Any, now: float, *, flags: int | None = None,
               force_event: bool = False) -> Event | None:
        """Set a point; the event it makes (also handed to every subscriber), or None.

        ``KeyError``/``IndexError`` for a point the database does not have, ``ValueError`` for a
        value its kind cannot hold.
        """
        point = self.get(kind, index)
        if point is None:
            raise IndexError(f"no {kind} point {index}")
        _check_value(kind, value, f"{kind}[{index}]")
        value = _normal(kind, value)
        old_value, old_flags = point.value, point.flags
        point.value = value
        if flags is not None:
            point.flags = flags
        point.time = self.time_ms(now)
        changed = force_event or old_flags != point.flags or self._differs(kind, old_value, value)
        if not changed or not point.event_class:
            return None
        self.serial += 1
        event = Event(kind=kind, index=index, value=value, flags=flags_of(kind, point), time=point.time,
                      event_class=point.event_class, serial=self.serial)
        for subscriber in list(self.subscribers):
            subscriber(event)
        return event

    def _differs(self, kind: str, old: Any, new: Any) -> bool:
        band = self.deadbands.get(kind, 0.0)
        if band and isinstance(old, int | float) and isinstance(new, int | float):
            return abs(float(new) - float(old)) > band  # 11.9.18: deadband
        return bool(old != new)


def _check_value(kind: str, value: Any, where: str) -> None:
    if kind in ("binary", "binary_output"):
        ok = isinstance(value, bool) or value in (0, 1)
    elif kind == "double_bit":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3
    elif kind in ("counter", "frozen_counter"):
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF
    elif kind == "octet_string":
        ok = isinstance(value, str | bytes) and 1 <= len(value) <= 255
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok:
        raise ValueError(f"{where}: {value!r} is not a {kind} value")


def _normal(kind: str, value: Any) -> Any:
    if kind in ("binary", "binary_output"):
        return bool(value)
    if kind == "octet_string":
        return value.encode() if isinstance(value, str) else bytes(value)
    return value
