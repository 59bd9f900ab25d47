"""The IEC 104 controlled station (the server): a point database, its application, one session a connection.

Normative references: IEC 60870-5-101:2003 7.4 (the application functions:
7.4.5 station interrogation, 7.4.6 clock synchronisation, 7.4.7 command
transmission, 7.4.8 transmission of integrated totals, 7.4.4 read, 7.4.9
test, 7.4.10 reset process, 7.4.2 end of initialisation) as 104 clause 9
selects them, and IEC 60870-5-104:2006 clause 5 (the APCI, :mod:`.apci_machine`).

- :class:`Database` — the station's points (monitor direction) and
  commands (control direction), shared by every connection; a change is
  kept in a bounded log that each session reads from its own cursor, so
  every started connection sends it spontaneously (cause 3; 11 when a
  remote command caused it), as the point's configured type (a point
  configured M_SP_TB_1 goes with its time tag; interrogated, without).
- :class:`StationApplication` — what the station answers to one ASDU: a
  list of ASDUs (confirmations, data, terminations) and the changes it
  made. Negative confirmations mirror the request with the P/N bit set and
  cause 44 (unknown type identification), 45 (unknown cause), 46 (unknown
  common address) or 47 (unknown information object address), 101 7.2.3.
  Commands follow 101 7.4.7: select then execute (the execute must name the
  selected value within the select timeout) or direct execute; ACT_CON,
  the return information (cause 11), ACT_TERM.
- :class:`StationSession` — one connection, all stacked: the framer, the
  decoder, a :class:`~.apci_machine.ControlledApci`, the application.
  Bytes in, bytes out, time as an input (``tick``). An APDU that does not
  decode, or an APCI violation, closes the connection (104 5.1: a station
  closes on a framing or sequence error); a session never raises on input.
"""

from __future__ import annotations

import datetime as _dt
import enum
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs.iec104.apci_machine import AsduReceived, Closed, ControlledApci, Started
from wireproof.codecs.iec104.codec import decode_apdu, encode_apdu, encode_asdu
from wireproof.codecs.iec104.constants import MAX_APDU_LENGTH, MIN_APDU_LENGTH, START, Cause, TypeId
from wireproof.codecs.iec104.framers import ApduFramer
from wireproof.codecs.iec104.messages import ELEMENTS, Asdu, Cp56Time2a, InformationObject, Quality
from wireproof.errors import DecodeError, EncodeError

__all__ = ["SELECT_TABLE", "CommandPoint", "CommandSpec", "Database", "PointSpec", "StationApplication",
           "StationOutput", "StationSession"]

T = TypeId
MONITOR_TYPES: Final = frozenset({1, 3, 5, 7, 9, 11, 13, 15, 20, 21, 30, 31, 32, 33, 34, 35, 36, 37})
# A time-tagged monitor type and the type without the tag (interrogated data carries none, 101 7.4.5).
UNTIMED: Final = {30: 1, 31: 3, 32: 5, 33: 7, 34: 9, 35: 11, 36: 13, 37: 15}
# A command type and its time-tagged twin (104 clause 9 adds 58-64).
COMMAND_TWINS: Final = {45: 58, 46: 59, 47: 60, 48: 61, 49: 62, 50: 63, 51: 64}
COMMAND_TYPES: Final = frozenset(COMMAND_TWINS) | frozenset(COMMAND_TWINS.values())
# The monitor type a command's feedback point has, per command family.
SYSTEM_TYPES: Final = frozenset({100, 101, 102, 103, 105, 107})
MAX_ASDU: Final = 249  # 253 - the four control octets
LOG_SIZE: Final = 4096  # changes kept for sessions that lag (older ones: a session re-syncs by interrogation)


@dataclass
class PointSpec:
    """A monitor-direction point: its type, address, value, quality and interrogation group (0: none)."""

    type_id: int
    address: int
    value: Any
    quality: int = 0
    group: int = 0
    # integrated totals
    sequence: int = 0

    def elements(self, type_id: int, now: _dt.datetime | None = None) -> dict[str, Any]:
        """The point as the elements of ``type_id`` (its own type, or its twin with or without time)."""
        q = Quality(self.quality)
        base = UNTIMED.get(type_id, type_id)
        if base == T.M_IT_NA_1:
            e: dict[str, Any] = {"value": int(self.value), "sequence": self.sequence & 0x1F, "carry": False,
                                 "adjusted": False, "invalid": bool(self.quality & 0x80)}
        elif base == T.M_ST_NA_1:
            e = {"value": int(self.value), "transient": False, "quality": q}
        elif base == T.M_PS_NA_1:
            e = {"status": int(self.value), "change": 0, "quality": q}
        elif base == T.M_ME_ND_1:
            e = {"value": float(self.value)}
        elif base in (T.M_ME_NA_1, T.M_ME_NC_1):
            e = {"value": float(self.value), "quality": q}
        elif base == T.M_SP_NA_1:
            e = {"value": bool(self.value), "quality": Quality(self.quality & 0xF0)}
        elif base == T.M_DP_NA_1:
            e = {"value": int(self.value), "quality": Quality(self.quality & 0xF0)}
        else:
            e = {"value": int(self.value), "quality": q}
        if type_id in UNTIMED:
            e["time"] = Cp56Time2a.from_datetime(now or _dt.datetime(2000, 1, 1))
        return e


@dataclass
class CommandSpec:
    """A control-direction point: its command type (the time-tagged twin is accepted too), whether it
    must be selected before it is executed, and the monitor point its execution changes."""

    type_id: int
    address: int
    select_required: bool = False
    feedback: int | None = None


@dataclass
class Change:
    address: int
    cause: int


class Database:
    """Points and commands of one station (common address ``common_address``), shared by its sessions."""

    def __init__(self, *, common_address: int = 1, points: Iterable[PointSpec] = (),
                 commands: Iterable[CommandSpec] = (), select_timeout: float = 10.0) -> None:
        self.common_address = common_address
        self.points: dict[int, PointSpec] = {}
        self.commands: dict[int, CommandSpec] = {}
        self.select_timeout = select_timeout
        for p in points:
            if p.type_id not in MONITOR_TYPES:
                raise ValueError(f"point {p.address}: type {p.type_id} is not a monitor type of this station")
            if p.address in self.points:
                raise ValueError(f"point {p.address} is defined twice")
            if not 0 <= p.group <= 16:
                raise ValueError(f"point {p.address}: group {p.group} is outside 0..16")
            self.points[p.address] = p
        for c in commands:
            if c.type_id not in COMMAND_TWINS:
                raise ValueError(f"command {c.address}: type {c.type_id} is not a command type 45..51")
            if c.address in self.commands or c.address in self.points:
                raise ValueError(f"command {c.address}: the address is taken")
            if c.feedback is not None and c.feedback not in self.points:
                raise ValueError(f"command {c.address}: feedback point {c.feedback} does not exist")
            self.commands[c.address] = c
        self.log: deque[tuple[int, Change]] = deque(maxlen=LOG_SIZE)
        self.version = 0
        self.clock_offset = 0.0  # what clock synchronisation set, seconds relative to the host's clock

    def change(self, address: int, value: Any, *, cause: int = Cause.SPONTANEOUS,
               quality: int | None = None) -> None:
        """Set a point's value (and quality); every started session sends it with ``cause``."""
        point = self.points.get(address)
        if point is None:
            raise KeyError(f"no point {address}")
        point.value = _coerce(point.type_id, value)
        if quality is not None:
            point.quality = quality
        if UNTIMED.get(point.type_id, point.type_id) == T.M_IT_NA_1:
            point.sequence = (point.sequence + 1) & 0x1F
        self.version += 1
        self.log.append((self.version, Change(address, cause)))

    def changes_since(self, version: int) -> list[Change]:
        return [c for v, c in self.log if v > version]


_LIMITS: Final[dict[int, tuple[int, int]]] = {
    T.M_DP_NA_1: (0, 3), T.M_ST_NA_1: (-64, 63), T.M_ME_NB_1: (-32768, 32767), T.M_BO_NA_1: (0, 0xFFFFFFFF),
    T.M_IT_NA_1: (-(1 << 31), (1 << 31) - 1), T.M_PS_NA_1: (0, 0xFFFF)}


def _coerce(type_id: int, value: Any) -> Any:
    base = UNTIMED.get(type_id, type_id)
    if base == T.M_SP_NA_1:
        if isinstance(value, str):
            if value.lower() not in ("true", "false", "1", "0", "on", "off"):
                raise ValueError(f"{value!r} is not a single-point value (true/false)")
            return value.lower() in ("true", "1", "on")
        return bool(value)
    if base in (T.M_ME_NA_1, T.M_ME_NC_1, T.M_ME_ND_1):
        v = float(value)
        if base != T.M_ME_NC_1 and not -1.0 <= v < 1.0:
            raise ValueError(f"a normalized value is in -1.0..1.0, not {v}")
        return round(v * 32768) / 32768 if base != T.M_ME_NC_1 else v
    v = int(value)
    limits = _LIMITS.get(base)
    if limits and not limits[0] <= v <= limits[1]:
        raise ValueError(f"{v} is outside {limits[0]}..{limits[1]} for type {TypeId(base).name}")
    return v


Clock = Callable[[float], _dt.datetime]
"""The host's wall-clock time at a machine time (the driver's; this module reads no clock)."""


def _epoch_clock(now: float) -> _dt.datetime:
    """A clock for tests and replays: 2000-01-01 plus ``now`` seconds."""
    return _dt.datetime(2000, 1, 1) + _dt.timedelta(seconds=now)


class SelectState(enum.Enum):
    IDLE = "idle"
    SELECTED = "selected"  # a select confirmed; its execute awaited until the select timeout


@dataclass(frozen=True)
class SelectCommand:
    """Received: an activation with S/E = 1 (select, 101 7.2.6.26)."""

    value: Any = None
    until: float = 0.0


@dataclass(frozen=True)
class ExecuteCommand:
    """Received: an activation with S/E = 0 (execute, or a direct command)."""

    value: Any = None
    now: float = 0.0


@dataclass(frozen=True)
class CancelCommand:
    """Received: a deactivation (break off a select, 101 7.4.7)."""


@dataclass(frozen=True)
class SelectExpired:
    """Local: the select timeout ran out without an execute."""


IDLE_, SELECTED_ = SelectState.IDLE, SelectState.SELECTED
SELECT_TABLE: Final = TransitionTable(
    name="IEC 104 command point (select and execute)", protocol="iec104", states=SelectState,
    events=(SelectCommand, ExecuteCommand, CancelCommand, SelectExpired), local=(SelectExpired,),
    clause="101 7.4.7",
    rules={
        (IDLE_, SelectCommand): Transition(SELECTED_, "arm"),
        (SELECTED_, SelectCommand): Transition(SELECTED_, "arm"),
        (IDLE_, ExecuteCommand): Transition(IDLE_, "execute"),
        (SELECTED_, ExecuteCommand): Transition(IDLE_, "execute"),
        (IDLE_, CancelCommand): Transition(IDLE_, "cancel"),
        (SELECTED_, CancelCommand): Transition(IDLE_, "cancel"),
        (SELECTED_, SelectExpired): Transition(IDLE_, "expire"),
    },
    clauses={(IDLE_, SelectExpired): "101 7.4.7: a select timeout with no select armed"},
)


class CommandPoint(Machine[SelectState]):
    """One command point's select-before-operate state (101 7.4.7), on :data:`SELECT_TABLE`.

    ``handle`` returns, for an execute, ``None`` when it may run, else why it is refused: a point
    that requires a select refuses an execute without one, after the select timed out, or of another
    value than the one selected.
    """

    TABLE: ClassVar[TransitionTable[SelectState]] = SELECT_TABLE

    def __init__(self, *, select_required: bool = False) -> None:
        self.state = SelectState.IDLE
        self.select_required = select_required
        self.selected: Any = None
        self.until = 0.0

    @classmethod
    def in_state(cls, state: SelectState) -> CommandPoint:
        point = cls(select_required=True)
        point.state = state
        return point

    def handle(self, event: object, role: Role) -> str | None:
        armed, selected, until = self.state is SelectState.SELECTED, self.selected, self.until
        rule = self._step(event, role)
        if rule.action == "arm":
            assert isinstance(event, SelectCommand)
            self.selected, self.until = event.value, event.until
            return None
        if rule.action != "execute":
            self.selected = None
            return None
        assert isinstance(event, ExecuteCommand)
        self.selected = None
        if not self.select_required:
            return None
        if not armed:
            return "not selected"
        if until < event.now:
            return "select timed out"
        if selected != event.value:
            return f"selected {selected!r}, not {event.value!r}"
        return None


class StationApplication:
    """The station's answers to one connection's ASDUs (see the module docstring)."""

    def __init__(self, database: Database, *, clock: Clock | None = None) -> None:
        self.db = database
        self._points: dict[int, CommandPoint] = {}
        self.lines: list[str] = []  # what the station did, for people (the simulator prints them)
        self._clock: Clock = clock or _epoch_clock

    def time(self, now: float) -> _dt.datetime:
        """The station's time at ``now``: the host's (the clock given) plus what synchronisation set."""
        return self._clock(now) + _dt.timedelta(seconds=self.db.clock_offset)

    def handle(self, asdu: Asdu | bytes, now: float) -> list[Asdu]:
        """The ASDUs answering ``asdu``."""
        if isinstance(asdu, bytes):
            return []
        db = self.db
        t = asdu.type_id
        if asdu.common_address not in (db.common_address, 0xFFFF):
            return [self._negative(asdu, Cause.UNKNOWN_COMMON_ADDRESS)]
        if t not in ELEMENTS or (t not in COMMAND_TYPES and t not in SYSTEM_TYPES):
            return [self._negative(asdu, Cause.UNKNOWN_TYPE_ID)]
        if t == T.C_IC_NA_1:
            return self._interrogation(asdu, now)
        if t == T.C_CI_NA_1:
            return self._counter_interrogation(asdu, now)
        if t == T.C_RD_NA_1:
            return self._read(asdu, now)
        if t == T.C_CS_NA_1:
            return self._clock_sync(asdu, now)
        if t in (T.C_TS_TA_1, T.C_RP_NA_1):
            if asdu.cause != Cause.ACTIVATION:
                return [self._negative(asdu, Cause.UNKNOWN_CAUSE)]
            if not self._one_object_at_zero(asdu):
                return [self._negative(asdu, Cause.UNKNOWN_IOA)]
            self.lines.append("test command" if t == T.C_TS_TA_1 else "reset process")
            return [self._mirror(asdu, Cause.ACTIVATION_CON)]
        return self._command(asdu, now)

    # --- helpers ------------------------------------------------------------------------------

    def _mirror(self, asdu: Asdu, cause: int, *, negative: bool = False) -> Asdu:
        # a broadcast (common address 65535) is answered with the station's own address (101 7.2.4)
        ca = self.db.common_address if asdu.common_address == 0xFFFF and not negative else asdu.common_address
        return Asdu(type_id=asdu.type_id, cause=cause, common_address=ca,
                    objects=asdu.objects, sequence=asdu.sequence, negative=negative, test=asdu.test,
                    originator=asdu.originator, raw=asdu.raw, raw_number=asdu.raw_number)

    def _negative(self, asdu: Asdu, cause: int) -> Asdu:
        return self._mirror(asdu, cause, negative=True)

    @staticmethod
    def _one_object_at_zero(asdu: Asdu) -> bool:
        return len(asdu.objects) == 1 and asdu.objects[0].address == 0

    def _data(self, points: list[PointSpec], cause: int, originator: int, now: float, *,
              configured: bool = False) -> list[Asdu]:
        """``points`` as ASDUs (SQ=0), as many objects an ASDU as fit: of their configured types
        (spontaneous data), or without time tag (interrogated data, 101 7.4.5)."""
        out: list[Asdu] = []
        stamp = self.time(now)
        by_type: dict[int, list[PointSpec]] = {}
        for p in points:
            t = p.type_id if configured else UNTIMED.get(p.type_id, p.type_id)
            by_type.setdefault(t, []).append(p)
        for t, ps in by_type.items():
            objects: list[InformationObject] = []
            for p in ps:
                objects.append(InformationObject(address=p.address, elements=p.elements(t, stamp)))
                candidate = Asdu(type_id=t, cause=cause, common_address=self.db.common_address,
                                 objects=tuple(objects), originator=originator)
                if len(objects) > 127 or len(encode_asdu(candidate)) > MAX_ASDU:
                    objects.pop()
                    out.append(Asdu(type_id=t, cause=cause, common_address=self.db.common_address,
                                    objects=tuple(objects), originator=originator))
                    objects = [InformationObject(address=p.address, elements=p.elements(t, stamp))]
            if objects:
                out.append(Asdu(type_id=t, cause=cause, common_address=self.db.common_address,
                                objects=tuple(objects), originator=originator))
        return out

    # --- the functions ------------------------------------------------------------------------

    def _interrogation(self, asdu: Asdu, now: float) -> list[Asdu]:
        if asdu.cause not in (Cause.ACTIVATION, Cause.DEACTIVATION):
            return [self._negative(asdu, Cause.UNKNOWN_CAUSE)]
        if not self._one_object_at_zero(asdu):
            return [self._negative(asdu, Cause.UNKNOWN_IOA)]
        if asdu.cause == Cause.DEACTIVATION:
            return [self._mirror(asdu, Cause.DEACTIVATION_CON)]
        qoi = asdu.objects[0].elements.get("qoi", 0)
        if not 20 <= qoi <= 36:
            return [self._negative(asdu, Cause.ACTIVATION_CON)]
        group = qoi - 20
        points = [p for p in self.db.points.values() if UNTIMED.get(p.type_id, p.type_id) != T.M_IT_NA_1
                  and (group == 0 or p.group == group)]
        self.lines.append(f"interrogation QOI {qoi}: {len(points)} points")
        return [self._mirror(asdu, Cause.ACTIVATION_CON),
                *self._data(points, qoi, asdu.originator, now),
                self._mirror(asdu, Cause.ACTIVATION_TERMINATION)]

    def _counter_interrogation(self, asdu: Asdu, now: float) -> list[Asdu]:
        if asdu.cause != Cause.ACTIVATION:
            return [self._negative(asdu, Cause.UNKNOWN_CAUSE)]
        if not self._one_object_at_zero(asdu):
            return [self._negative(asdu, Cause.UNKNOWN_IOA)]
        qcc = asdu.objects[0].elements.get("qcc", 0)
        rqt = qcc & 0x3F
        if not 1 <= rqt <= 5:
            return [self._negative(asdu, Cause.ACTIVATION_CON)]
        group = 0 if rqt == 5 else rqt
        points = [p for p in self.db.points.values() if UNTIMED.get(p.type_id, p.type_id) == T.M_IT_NA_1
                  and (group == 0 or p.group == group)]
        cause = Cause.REQUESTED_BY_GENERAL_COUNTER if rqt == 5 else 37 + rqt
        self.lines.append(f"counter interrogation QCC 0x{qcc:02x}: {len(points)} counters")
        return [self._mirror(asdu, Cause.ACTIVATION_CON), *self._data(points, cause, asdu.originator, now),
                self._mirror(asdu, Cause.ACTIVATION_TERMINATION)]

    def _read(self, asdu: Asdu, now: float) -> list[Asdu]:
        if asdu.cause != Cause.REQUEST:
            return [self._negative(asdu, Cause.UNKNOWN_CAUSE)]
        if len(asdu.objects) != 1 or asdu.objects[0].address not in self.db.points:
            return [self._negative(asdu, Cause.UNKNOWN_IOA)]
        point = self.db.points[asdu.objects[0].address]
        return self._data([point], Cause.REQUEST, asdu.originator, now)

    def _clock_sync(self, asdu: Asdu, now: float) -> list[Asdu]:
        if asdu.cause != Cause.ACTIVATION:
            return [self._negative(asdu, Cause.UNKNOWN_CAUSE)]
        if not self._one_object_at_zero(asdu):
            return [self._negative(asdu, Cause.UNKNOWN_IOA)]
        stamp = asdu.objects[0].elements.get("time")
        try:
            wanted = stamp.to_datetime() if isinstance(stamp, Cp56Time2a) else None
        except ValueError:
            wanted = None
        if wanted is None:
            return [self._negative(asdu, Cause.ACTIVATION_CON)]
        self.db.clock_offset = (wanted - self._clock(now)).total_seconds()
        self.lines.append(f"clock set to {wanted.isoformat(timespec='milliseconds')}")
        return [self._mirror(asdu, Cause.ACTIVATION_CON)]

    def _command(self, asdu: Asdu, now: float) -> list[Asdu]:
        if asdu.cause not in (Cause.ACTIVATION, Cause.DEACTIVATION):
            return [self._negative(asdu, Cause.UNKNOWN_CAUSE)]
        if len(asdu.objects) != 1:
            return [self._negative(asdu, Cause.UNKNOWN_IOA)]
        obj = asdu.objects[0]
        spec = self.db.commands.get(obj.address)
        if spec is None or asdu.type_id not in (spec.type_id, COMMAND_TWINS[spec.type_id]):
            return [self._negative(asdu, Cause.UNKNOWN_IOA)]
        select = bool(obj.elements.get("select", False))
        value = obj.elements.get("value")
        point = self._points.get(obj.address)
        if point is None:
            point = self._points[obj.address] = CommandPoint(select_required=spec.select_required)
        if point.state is SelectState.SELECTED and point.until < now:
            point.handle(SelectExpired(), Role.LOCAL)
        if asdu.cause == Cause.DEACTIVATION:
            point.handle(CancelCommand(), Role.REMOTE)
            self.lines.append(f"command {obj.address}: select cancelled")
            return [self._mirror(asdu, Cause.DEACTIVATION_CON)]
        if select:
            point.handle(SelectCommand(value, now + self.db.select_timeout), Role.REMOTE)
            self.lines.append(f"command {obj.address}: selected {value!r}")
            return [self._mirror(asdu, Cause.ACTIVATION_CON)]
        why = point.handle(ExecuteCommand(value, now), Role.REMOTE)
        if why is not None:
            self.lines.append(f"command {obj.address}: execute refused ({why})")
            return [self._negative(asdu, Cause.ACTIVATION_CON)]
        self.lines.append(f"command {obj.address}: executed {value!r}")
        if spec.feedback is not None:
            try:
                self.db.change(spec.feedback, _feedback_value(spec.type_id, value), cause=Cause.RETURN_REMOTE)
            except (ValueError, TypeError):
                return [self._negative(asdu, Cause.ACTIVATION_CON)]
        return [self._mirror(asdu, Cause.ACTIVATION_CON), self._mirror(asdu, Cause.ACTIVATION_TERMINATION)]


def _feedback_value(command_type: int, value: Any) -> Any:
    if command_type == T.C_DC_NA_1:
        return 2 if value == 2 else 1  # DCS ON -> DPI ON, else OFF
    return value


# --- one connection ---------------------------------------------------------------------------------


@dataclass(slots=True)
class StationOutput:
    """What the driver must do: send ``replies``, ``close`` the connection; what happened (``lines``)."""

    replies: list[bytes] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    close: bool = False
    frames: int = 0
    more: bool = False
    errors: list[str] = field(default_factory=list)


class StationSession:
    """One controlling station's connection to the station (see the module docstring)."""

    def __init__(self, database: Database, *, k: int = 12, w: int = 8, t1: float = 15.0, t2: float = 10.0,
                 t3: float = 20.0, now: float = 0.0, end_of_init: bool = True, clock: Clock | None = None,
                 max_buffer: int = 64 * 1024) -> None:
        self.db = database
        self.apci = ControlledApci(k=k, w=w, t1=t1, t2=t2, t3=t3, now=now)
        self.app = StationApplication(database, clock=clock)
        self.framer = ApduFramer(max_buffer=max_buffer)
        self.now = now
        self.garbage = 0
        self.end_of_init = end_of_init
        self._initialised = False
        self._version = database.version
        self.close_reason = ""

    @property
    def buffered(self) -> int:
        return self.framer.buffered

    @property
    def next_deadline(self) -> float | None:
        return self.apci.next_deadline()

    def tick(self, now: float) -> StationOutput:
        out = StationOutput()
        self.now = now
        if not self.apci.closed:
            due = self.apci.next_deadline()
            if due is not None and now >= due:
                self._events(self.apci.timeout(now), out)
            self._spontaneous(out)
        self._flush(out)
        return out

    def receive_data(self, data: bytes, *, max_frames: int | None = None) -> StationOutput:
        out = StationOutput()
        if self.apci.closed:
            out.close = True
            return out
        if data:
            try:
                self.framer.feed(data)
            except DecodeError as err:
                return self._fail(out, str(err))
        while max_frames is None or out.frames < max_frames:
            head = self.framer.peek(2)
            if len(head) == 2 and head[0] == START and not MIN_APDU_LENGTH <= head[1] <= MAX_APDU_LENGTH:
                # a bad length closes at once (104 5.1), without waiting for the octets it claims
                return self._fail(out, f"iec104: length {head[1]} is outside {MIN_APDU_LENGTH}.."
                                       f"{MAX_APDU_LENGTH} (104 5.1)")
            try:
                raw = self.framer.next_frame()
            except DecodeError as err:  # a bad start or length: 104 5.1, the connection is closed
                self.garbage += max(1, self.framer.discarded_count)
                return self._fail(out, str(err))
            if raw is NEED_DATA:
                break
            out.frames += 1
            try:
                apdu = decode_apdu(bytes(raw))
            except DecodeError as err:
                return self._fail(out, str(err))
            self.garbage = 0
            self._events(self.apci.receive(apdu, self.now), out)
            if self.apci.closed:
                break
        else:
            out.more = True
        self._spontaneous(out)
        self._flush(out)
        return out

    def close(self) -> None:
        """The connection ended (the driver's call)."""

    # --- the work -------------------------------------------------------------------------------

    def _fail(self, out: StationOutput, reason: str) -> StationOutput:
        out.errors.append(reason)
        self._events(self.apci.close(reason, "104 5.1"), out)
        self._flush(out)
        return out

    def _events(self, events: list[Any], out: StationOutput) -> None:
        for event in events:
            if isinstance(event, AsduReceived):
                answers = self.app.handle(event.asdu, self.now)
                last = answers[-1] if answers else None
                if last is not None and last.cause == Cause.ACTIVATION_TERMINATION and \
                        self.db.version != self._version:
                    # a command's return information (cause 11) comes before its ACT_TERM (101 7.4.7)
                    for answer in answers[:-1]:
                        self.apci.send_asdu(answer, self.now)
                    self._spontaneous(out)
                    self.apci.send_asdu(last, self.now)
                else:
                    for answer in answers:
                        self.apci.send_asdu(answer, self.now)
                out.lines += self.app.lines
                self.app.lines.clear()
            elif isinstance(event, Started):
                out.lines.append("STARTDT")
                if self.end_of_init and not self._initialised:
                    self._initialised = True
                    self.apci.send_asdu(Asdu(type_id=T.M_EI_NA_1, cause=Cause.INITIALIZED,
                                             common_address=self.db.common_address,
                                             objects=(InformationObject(address=0, elements={
                                                 "coi": 0, "parameters_changed": False}),)), self.now)
            elif isinstance(event, Closed):
                self.close_reason = f"{event.reason} [{event.clause}]"
                out.lines.append(f"closing the connection: {self.close_reason}")
                out.close = True

    def _spontaneous(self, out: StationOutput) -> None:
        if self.db.version == self._version:
            return
        changes = self.db.changes_since(self._version)
        self._version = self.db.version
        by_cause: dict[int, list[PointSpec]] = {}
        for change in changes:
            by_cause.setdefault(change.cause, []).append(self.db.points[change.address])
        for cause, points in by_cause.items():
            for asdu in self.app._data(points, cause, 0, self.now, configured=True):
                self.apci.send_asdu(asdu, self.now)

    def _flush(self, out: StationOutput) -> None:
        for apdu in self.apci.outgoing():
            try:
                out.replies.append(encode_apdu(apdu))
            except EncodeError as err:  # a point value the configuration let through: say so, go on
                out.errors.append(str(err))
        if self.apci.closed:
            out.close = True


# --- the station's configuration (TOML) ----------------------------------------------------------------


@dataclass
class StationConfig:
    """A station's points, commands and APCI parameters (the reference server's ``--config``)."""

    common_address: int = 1
    points: list[PointSpec] = field(default_factory=list)
    commands: list[CommandSpec] = field(default_factory=list)
    k: int = 12
    w: int = 8
    t0: float = 30.0
    t1: float = 15.0
    t2: float = 10.0
    t3: float = 20.0
    select_timeout: float = 10.0
    end_of_initialisation: bool = True

    def database(self) -> Database:
        return Database(common_address=self.common_address, points=[_copy_point(p) for p in self.points],
                        commands=self.commands, select_timeout=self.select_timeout)


def _copy_point(p: PointSpec) -> PointSpec:
    return PointSpec(p.type_id, p.address, p.value, p.quality, p.group, p.sequence)


_NUMBER: Final = (int, float)
_KEYS: Final[dict[str, type | tuple[type, ...]]] = {
    "common_address": int, "k": int, "w": int, "t0": _NUMBER, "t1": _NUMBER, "t2": _NUMBER, "t3": _NUMBER,
    "select_timeout": _NUMBER, "end_of_initialisation": bool, "point": list, "command": list}


def parse_config(doc: dict[str, Any], source: str = "configuration") -> StationConfig:
    """A :class:`StationConfig` from a parsed TOML document; ValueError naming the key that is wrong."""
    for key, value in doc.items():
        kind = _KEYS.get(key)
        if kind is None:
            raise ValueError(f"{source}: unknown key {key!r} (known: {', '.join(sorted(_KEYS))})")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ValueError(f"{source}: {key} has the wrong type ({type(value).__name__})")
    config = StationConfig(**{k: doc[k] for k in _KEYS if k in doc and k not in ("point", "command")})
    if not 0 <= config.common_address <= 0xFFFE:
        raise ValueError(f"{source}: common_address {config.common_address} is outside 0..65534")
    if not 1 <= config.k <= 32767 or not 1 <= config.w <= 32767:
        raise ValueError(f"{source}: k and w are in 1..32767")
    if not 0 < config.t2 < config.t1 or config.t3 <= 0 or config.t0 <= 0 or config.select_timeout <= 0:
        raise ValueError(f"{source}: timeouts must be > 0 with t2 < t1 (104 5.5)")
    for i, entry in enumerate(doc.get("point", [])):
        where = f"{source}: point[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not a table")
        extra = set(entry) - {"address", "type", "value", "quality", "group"}
        if extra:
            raise ValueError(f"{where}: unknown key {sorted(extra)[0]!r}")
        address, type_name = entry.get("address"), entry.get("type")
        if not isinstance(address, int) or not 0 < address <= 0xFFFFFF:
            raise ValueError(f"{where}: address must be an int in 1..16777215")
        type_id = TypeId.__members__.get(str(type_name))
        if type_id is None or type_id not in MONITOR_TYPES:
            raise ValueError(f"{where}: type {type_name!r} is not a monitor type "
                             f"({', '.join(TypeId(t).name for t in sorted(MONITOR_TYPES))})")
        try:
            value = _coerce(type_id, entry.get("value", 0))
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: value: {err}") from None
        quality, group = entry.get("quality", 0), entry.get("group", 0)
        if not isinstance(quality, int) or not 0 <= quality <= 255:
            raise ValueError(f"{where}: quality must be an int 0..255 (the quality bits)")
        if not isinstance(group, int) or not 0 <= group <= 16:
            raise ValueError(f"{where}: group must be an int 0..16")
        config.points.append(PointSpec(type_id, address, value, quality, group))
    for i, entry in enumerate(doc.get("command", [])):
        where = f"{source}: command[{i}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not a table")
        extra = set(entry) - {"address", "type", "select", "feedback"}
        if extra:
            raise ValueError(f"{where}: unknown key {sorted(extra)[0]!r}")
        address, type_name = entry.get("address"), entry.get("type")
        if not isinstance(address, int) or not 0 < address <= 0xFFFFFF:
            raise ValueError(f"{where}: address must be an int in 1..16777215")
        type_id = TypeId.__members__.get(str(type_name))
        if type_id is None or type_id not in COMMAND_TWINS:
            raise ValueError(f"{where}: type {type_name!r} is not a command type "
                             f"({', '.join(TypeId(t).name for t in sorted(COMMAND_TWINS))})")
        select, feedback = entry.get("select", False), entry.get("feedback")
        if not isinstance(select, bool) or (feedback is not None and not isinstance(feedback, int)):
            raise ValueError(f"{where}: select is a bool, feedback a point address")
        config.commands.append(CommandSpec(type_id, address, select, feedback))
    config.database()  # duplicate addresses, feedback points that do not exist
    return config
