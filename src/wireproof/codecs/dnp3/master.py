"""The DNP3 application-layer master (IEEE 1815-2012 clauses 4 and 5, master side), sans-I/O.

Theory of operation
-------------------
A DNP3 master has one solicited request outstanding at a time (IEEE 1815
4.2.2.4.5: SEQ pairs a response with the request it answers; a master
issues its next request once the last one is answered or has timed out),
and everything it does is a *task*: an integrity poll (a read of class
1, 2, 3 and 0 data, 4.4.1), a class or event poll, SELECT then
OPERATE, DIRECT_OPERATE, a freeze, a time synchronization, a write of
IIN1.7 to clear the restart indication, enabling or disabling unsolicited
responses. Tasks wait in a queue ordered by priority (clearing the restart
bit first, then disabling unsolicited, the integrity poll, enabling
unsolicited, time sync, commands, polls; first come first served within a
priority) and :class:`Dnp3Master` runs them one request at a time.

The request/response exchange is ONE :class:`~wireproof.codecs._machine.TransitionTable`
(:data:`EXCHANGE`): ``IDLE``, ``AWAITING_FIRST`` (a request sent, no
fragment of its response yet), ``AWAITING_MORE`` (a response of several
fragments under way). A request that takes no response (DIRECT_OPERATE_NR
and the _NR freezes, 4.4.6) is a :class:`SubmitNoAck`, which leaves the
exchange idle and ends its task once sent. A received fragment is
classified before the table sees it:

- :class:`MoreFragment` / :class:`LastFragment`: a solicited response
  (function 129) whose FIR and SEQ are what is expected — FIR on the first
  fragment, its SEQ the request's, each later fragment's SEQ one more mod
  16 (4.2.2.4.3-4.2.2.4.5) — without or with FIN;
- :class:`UnexpectedResponse`: a solicited response with the wrong FIR or
  SEQ while a request is outstanding: discarded, the master keeps waiting;
- :class:`Unsolicited`: function 130 (4.2.2.5), accepted in every state;
- :class:`Malformed`: a fragment that does not decode, or a request from
  the outstation: reported, nothing else.

A solicited response while nothing is outstanding is a violation of the
table (a :class:`~wireproof.errors.RemoteProtocolError` naming 4.2.2.4.5),
which :meth:`Dnp3Master.receive` reports as a :class:`Notice` instead of
raising: a master never crashes on what an outstation sends.

Effects. :meth:`Dnp3Master.send` (queue a task), :meth:`~Dnp3Master.receive`
(a whole application fragment from the outstation) and
:meth:`~Dnp3Master.tick` (the time now: the response timeout) return a
list of effects: :class:`Transmit` (a fragment to send), :class:`PointUpdate`
(one point value with its flags and time, by type and index),
:class:`TaskResult` (a task ended: ok, or the reason it failed) and
:class:`Notice` (something the outstation did that deserves a line: a stray
or duplicate fragment, IIN2 bits...). Time is an input, in seconds;
``utc_offset`` turns it into UTC for the time synchronization write.

Confirms (4.2.2.4.4; function CONFIRM, 4.2.2.5): whenever a response carries CON, the master
answers CONFIRM with that response's SEQ (and UNS for an unsolicited one);
a multi-fragment response waits for the confirm of each fragment, so the
response timeout restarts at every fragment.

IIN (4.2.2.7.1-4.2.2.7.2), looked at in every response: IIN1.7
DEVICE_RESTART queues a write of g80v1 index 7 := 0 and an integrity
poll; IIN1.4 NEED_TIME a time synchronization; IIN1.1-1.3 an event poll of
the classes that have events. A task is queued once (an automatic task
already waiting is not queued twice) and at most :data:`AUTO_STREAK` times
in a row for the same bit, so an outstation that never clears a bit cannot
make the master loop. IIN2.0-2.2 and 2.4 (function or object not
supported, parameter error, already executing) in the response to a task's
request fail the task with that reason; IIN2.3 (event buffer overflow)
queues an integrity poll (the events lost are recovered from the static
data) and is reported as a notice, as 2.5 (configuration corrupt) is.

Integrity poll retries: an integrity poll that gets no response within the
response timeout is asked again (a new sequence number; a :class:`Notice`
each time), up to ``integrity_retries`` times in a row before its task fails:
the data it reads is what the master starts from, and a read is idempotent.
Other tasks are not repeated: a control must never execute twice.

Time synchronization: over a LAN (RECORD_CURRENT_TIME, then a write of
g50v3 with the time the record request was sent) or not (DELAY_MEASURE,
the g52 turnaround time subtracted from the round trip, half of what is
left added to the g50v1 time written), the two procedures of IEEE 1815
for LAN and serial time synchronization.

Startup (:meth:`Dnp3Master.start`): disable unsolicited, integrity poll,
enable unsolicited for the configured classes (what a master does when it
first talks to an outstation).

:class:`MasterLink` puts the master on the wire: application fragments are
segmented by the transport function (8.2, :func:`~.transport.segment`) and
handed to a :class:`~.link_machine.LinkLayer` (the primary and secondary
stations of IEEE 1815-2012 9.2.6, one transition table each; this module
has no link rules of its own). By default the primary station sends
UNCONFIRMED_USER_DATA (9.2.4.1.3.6; what opendnp3 masters send). With
``confirmed=True`` it sends CONFIRMED_USER_DATA: RESET_LINK_STATES first,
the FCB toggled by every acknowledged frame, a frame not answered within
``link_timeout`` repeated with the same FCB up to ``link_retries`` times,
a NACK answered by a new reset and the frame again (9.2.6.2). While a
request's frames wait for their ACKs, the master's response timer does not
run; it starts when the last one is acknowledged (:meth:`Dnp3Master.transmitted`).
When the link gives up, the task outstanding fails at once with
:attr:`FailureCause.LINK` (:meth:`Dnp3Master.link_failed`) and the frames
of the request still queued are dropped. ``keep_alive`` (seconds) sends
REQUEST_LINK_STATUS when nothing was heard for that long and the link is
idle; an unanswered one is a notice.

Received octets are framed and checked (:class:`~.framers.LinkFramer`); a
frame for another address, from another station or with DIR set is dropped
with a notice; the others go to the link layer: answers (ACK, NACK,
LINK_STATUS) to the primary station, primary frames of the outstation
(RESET_LINK_STATES, TEST_LINK_STATES, REQUEST_LINK_STATUS, user data
confirmed or not) to the secondary station, which answers them, checks the
FCB of confirmed data (a repeat is acknowledged again, not delivered twice,
9.2.6.3.3; confirmed data before a reset is not answered, 9.2.6.3.1) and
delivers user data to the transport :class:`~.transport.Reassembler`.
"""

from __future__ import annotations

import enum
import heapq
import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Final

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import (
    CommandStatus,
    FunctionCode,
    Iin,
)
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.link_machine import (
    ConfirmedUserData,
    ConfirmedUserDataRepeat,
    LinkLayer,
    LinkOutput,
    SecondaryState,
    TestLinkStates,
    TestLinkStatesRepeat,
)
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    ObjectHeader,
    Point,
)
from wireproof.codecs.dnp3.transport import DEFAULT_MAX_FRAGMENT, Reassembler, segment
from wireproof.errors import DecodeError, EncodeError, LocalProtocolError, ProtocolViolation

__all__ = [
    "AUTO_STREAK",
    "EXCHANGE",
    "NO_RESPONSE",
    "CommandStatus",
    "Dnp3Master",
    "Effect",
    "ExchangeState",
    "FailureCause",
    "LastFragment",
    "LinkFailure",
    "Malformed",
    "MasterConfig",
    "MasterLink",
    "MoreFragment",
    "Notice",
    "PointUpdate",
    "SendBytes",
    "Submit",
    "SubmitNoAck",
    "Task",
    "TaskKind",
    "TaskResult",
    "Timeout",
    "Transmit",
    "UnexpectedResponse",
    "Unsolicited",
    "analog_output",
    "class_poll",
    "clear_restart",
    "crob",
    "direct_operate",
    "disable_unsolicited",
    "enable_unsolicited",
    "event_poll",
    "freeze",
    "integrity_poll",
    "points_of",
    "read",
    "select_operate",
    "time_sync",
]

PROTOCOL: Final = "dnp3-app"
AUTO_STREAK: Final = 3  # automatic tasks queued in a row for one IIN bit before the master stops trying
MAX_QUEUE: Final = 256
CLASS_OBJECTS: Final = {0: 1, 1: 2, 2: 3, 3: 4}  # class n -> g60 variation (11.9.27)
# Requests the outstation does not answer (4.4.6, 4.4.8, 4.4.10, 4.4.11: the "no acknowledgment" forms).
NO_RESPONSE: Final = frozenset({FunctionCode.DIRECT_OPERATE_NR, FunctionCode.IMMED_FREEZE_NR,
                                FunctionCode.FREEZE_CLEAR_NR, FunctionCode.FREEZE_AT_TIME_NR})


# ----------------------------------------------------------------------------- tasks


class TaskKind(enum.IntEnum):
    """What a task does; the value is its priority (lower runs first)."""

    CLEAR_RESTART = 0
    DISABLE_UNSOLICITED = 1
    INTEGRITY = 2
    ENABLE_UNSOLICITED = 3
    TIME_SYNC = 4
    SELECT_OPERATE = 5
    DIRECT_OPERATE = 6
    FREEZE = 7
    WRITE = 8
    READ = 9
    EVENT_POLL = 10
    CLASS_POLL = 11




@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    """One thing for the master to do (build them with the functions below)."""

    kind: TaskKind = TaskKind.INTEGRITY
    function: FunctionCode = FunctionCode.READ  # the first request's function code
    objects: tuple[ObjectHeader, ...] = ()
    lan: bool = True  # time sync: the LAN procedure (else delay measurement)
    auto: bool = False  # queued by the master itself (startup, IIN)
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or self.kind.name.lower().replace("_", "-")


def _class_headers(classes: tuple[int, ...]) -> tuple[ObjectHeader, ...]:
    for c in classes:
        if c not in CLASS_OBJECTS:
            raise LocalProtocolError(f"class {c} is not 0..3 (4.4.1)", protocol=PROTOCOL)
    return tuple(ObjectHeader(group=60, variation=CLASS_OBJECTS[c], qualifier=0x06) for c in classes)


def integrity_poll(*, auto: bool = False) -> Task:
    """READ class 1, 2, 3 then class 0: the integrity poll (IEEE 1815 4.4.1, g60 11.9.27)."""
    return Task(kind=TaskKind.INTEGRITY, objects=_class_headers((1, 2, 3, 0)), auto=auto, label="integrity")


def class_poll(*classes: int) -> Task:
    """READ the given classes (0..3), in the order given."""
    return Task(kind=TaskKind.CLASS_POLL, objects=_class_headers(classes or (1, 2, 3)),
                label="class-poll " + ",".join(map(str, classes or (1, 2, 3))))


def event_poll(classes: tuple[int, ...] = (1, 2, 3), *, auto: bool = False) -> Task:
    """READ the event classes (1..3)."""
    return Task(kind=TaskKind.EVENT_POLL, objects=_class_headers(classes), auto=auto,
                label="event-poll " + ",".join(map(str, classes)))


def read(*objects: ObjectHeader, label: str = "read") -> Task:
    """READ what the headers name (without values)."""
    return Task(kind=TaskKind.READ, objects=objects, label=label)


def crob(index: int, code: int, *, count: int = 1, on_ms: int = 0, off_ms: int = 0) -> ObjectHeader:
    """A g12v1 control relay output block for ``index`` (qualifier 0x28: 2-octet count and index)."""
    return ObjectHeader(group=12, variation=1, qualifier=0x28, count=1, points=(Point(index=index, values={
        "control_code": code, "count": count, "on_time": on_ms, "off_time": off_ms, "status": 0}),))


def analog_output(index: int, value: float, *, variation: int = 1) -> ObjectHeader:
    """A g41 analog output block (variation 1 int32, 2 int16, 3 float32, 4 float64) for ``index``."""
    if variation not in (1, 2, 3, 4):
        raise LocalProtocolError(f"g41 variation {variation} is not 1..4 (11.9.21)", protocol=PROTOCOL)
    v: float = value if variation >= 3 else int(value)
    return ObjectHeader(group=41, variation=variation, qualifier=0x28, count=1,
                        points=(Point(index=index, values={"value": v, "status": 0}),))


def select_operate(*objects: ObjectHeader) -> Task:
    """SELECT, then OPERATE the same objects if every status is SUCCESS (4.4.3, 4.4.4)."""
    return Task(kind=TaskKind.SELECT_OPERATE, function=FunctionCode.SELECT, objects=objects,
                label="select-operate")


def direct_operate(*objects: ObjectHeader, ack: bool = True) -> Task:
    """DIRECT_OPERATE (4.4.5), or DIRECT_OPERATE_NR (``ack=False``, 4.4.6: no response; the task
    ends once the request is sent)."""
    if not ack:
        return Task(kind=TaskKind.DIRECT_OPERATE, function=FunctionCode.DIRECT_OPERATE_NR, objects=objects,
                    label="direct-operate-no-ack")
    return Task(kind=TaskKind.DIRECT_OPERATE, function=FunctionCode.DIRECT_OPERATE, objects=objects,
                label="direct-operate")


def freeze(*objects: ObjectHeader, clear: bool = False, ack: bool = True) -> Task:
    """IMMED_FREEZE (or FREEZE_CLEAR) of the headers, all counters (g20v0, qualifier 0x06) by default;
    ``ack=False``: the _NR form, which takes no response (4.4.7-4.4.10)."""
    objs = objects or (ObjectHeader(group=20, variation=0, qualifier=0x06),)
    function = {(False, True): FunctionCode.IMMED_FREEZE, (True, True): FunctionCode.FREEZE_CLEAR,
                (False, False): FunctionCode.IMMED_FREEZE_NR, (True, False): FunctionCode.FREEZE_CLEAR_NR}[
        (clear, ack)]
    label = ("freeze-clear" if clear else "freeze") + ("" if ack else "-no-ack")
    return Task(kind=TaskKind.FREEZE, function=function, objects=objs, label=label)


def time_sync(*, lan: bool = True, auto: bool = False) -> Task:
    """Set the outstation's clock: LAN (RECORD_CURRENT_TIME + g50v3) or non-LAN (DELAY_MEASURE + g50v1)."""
    return Task(kind=TaskKind.TIME_SYNC,
                function=FunctionCode.RECORD_CURRENT_TIME if lan else FunctionCode.DELAY_MEASURE,
                lan=lan, auto=auto, label="time-sync " + ("lan" if lan else "non-lan"))


def clear_restart(*, auto: bool = False) -> Task:
    """WRITE g80v1 index 7 := 0: clear IIN1.7 DEVICE_RESTART (4.2.2.7.1, 11.9.35)."""
    header = ObjectHeader(group=80, variation=1, qualifier=0x00, start=7, stop=7,
                          points=(Point(index=7, values={"state": False}),))
    return Task(kind=TaskKind.CLEAR_RESTART, function=FunctionCode.WRITE, objects=(header,), auto=auto,
                label="clear-restart")


def enable_unsolicited(classes: tuple[int, ...] = (1, 2, 3), *, auto: bool = False) -> Task:
    """ENABLE_UNSOLICITED for the event classes (4.4.12)."""
    return Task(kind=TaskKind.ENABLE_UNSOLICITED, function=FunctionCode.ENABLE_UNSOLICITED,
                objects=_class_headers(classes), auto=auto, label="enable-unsolicited")


def disable_unsolicited(classes: tuple[int, ...] = (1, 2, 3), *, auto: bool = False) -> Task:
    """DISABLE_UNSOLICITED for the event classes (4.4.13)."""
    return Task(kind=TaskKind.DISABLE_UNSOLICITED, function=FunctionCode.DISABLE_UNSOLICITED,
                objects=_class_headers(classes), auto=auto, label="disable-unsolicited")


# ----------------------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True, kw_only=True)
class Transmit:
    """An application fragment to send (its octets and the message)."""

    data: bytes
    fragment: ApplicationRequest


@dataclass(frozen=True, slots=True, kw_only=True)
class SendBytes:
    """Octets to write on the link (:class:`MasterLink`): link frames carrying a fragment, or a link reply."""

    data: bytes
    fragment: ApplicationRequest | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PointUpdate:
    """One point's value as a response reported it.

    ``kind`` is the point type (``binary``, ``double_bit``, ``binary_output``,
    ``counter``, ``frozen_counter``, ``analog``, ``frozen_analog``,
    ``analog_output``, ``octet_string``, ``time``, ...); ``event`` whether it
    came as an event object; ``time`` the DNP3 time (ms since 1970 UTC) when
    the object carries one; ``flags`` the flags octet when it carries one.
    """

    kind: str
    index: int
    value: Any
    flags: int | None = None
    time: int | None = None
    group: int = 0
    variation: int = 0
    event: bool = False
    unsolicited: bool = False

    def line(self) -> str:
        """One readable line."""
        out = f"{self.kind}[{self.index}] = {self.value!r}"
        if self.flags is not None:
            out += f" flags=0x{self.flags:02x}"
        if self.time is not None:
            out += f" time={self.time}"
        return out + f" (g{self.group}v{self.variation}{' event' if self.event else ''}" \
                     f"{' unsolicited' if self.unsolicited else ''})"


class FailureCause(enum.Enum):
    """Why a task failed, for a caller that must tell the cases apart without parsing ``reason``."""

    TIMEOUT = "timeout"  # no (complete) response within the response timeout (4.2.2.4.5)
    LINK = "link"  # the link layer gave up delivering the request (9.2.6.2: retries exhausted, NACK...)
    IIN = "iin"  # the response's IIN2 bits refuse the request (4.2.2.7.2), or IIN1.7 stays set
    STATUS = "status"  # a command answered with a status other than SUCCESS, or not echoed (4.4.3)
    RESPONSE = "response"  # the response lacks what the task needs (no g52 in a DELAY_MEASURE response)
    ENCODE = "encode"  # the request itself does not encode (nothing was sent)
    QUEUE = "queue"  # the task queue was full


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskResult:
    """A task ended: ``ok``, or ``reason`` says why not and ``cause`` what kind of failure it is.
    ``statuses``: the command status of each control object in the (last) response; ``iin`` the
    last response's IIN."""

    id: int
    task: Task
    ok: bool
    reason: str = ""
    iin: int = 0
    statuses: tuple[int, ...] = ()
    cause: FailureCause | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """Something worth reporting that is not a task's end: ``kind`` is a short tag
    (``stray``, ``unexpected``, ``duplicate``, ``malformed``, ``iin``, ``link``, ``transport``)."""

    kind: str
    message: str
    clause: str = ""


Effect = Transmit | SendBytes | PointUpdate | TaskResult | Notice


# ----------------------------------------------------------------------------- the exchange table


class ExchangeState(enum.Enum):
    """Where the master's one request/response exchange stands."""

    IDLE = "idle"
    AWAITING_FIRST = "awaiting first fragment"
    AWAITING_MORE = "awaiting more fragments"


@dataclass(frozen=True, slots=True, kw_only=True)
class Submit:
    """The master sends a request (local)."""

    request: ApplicationRequest = field(default_factory=ApplicationRequest)


@dataclass(frozen=True, slots=True, kw_only=True)
class SubmitNoAck:
    """The master sends a request that takes no response (DIRECT_OPERATE_NR, the _NR freezes; 4.4.6)."""

    request: ApplicationRequest = field(default_factory=lambda: ApplicationRequest(
        function=FunctionCode.DIRECT_OPERATE_NR))


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout:
    """The response timeout passed (local: our clock)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkFailure:
    """The link layer gave up delivering what the master sent (local: IEEE 1815-2012 9.2.6.2,
    retries exhausted or the request refused); ``reason`` says how."""

    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MoreFragment:
    """A solicited response fragment as expected, without FIN."""

    response: ApplicationResponse = field(default_factory=lambda: ApplicationResponse(fin=False))


@dataclass(frozen=True, slots=True, kw_only=True)
class LastFragment:
    """A solicited response fragment as expected, with FIN."""

    response: ApplicationResponse = field(default_factory=ApplicationResponse)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnexpectedResponse:
    """A solicited response with the wrong FIR or SEQ (4.2.2.4.3, 4.2.2.4.5)."""

    response: ApplicationResponse = field(default_factory=ApplicationResponse)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsolicited:
    """An unsolicited response (function 130)."""

    response: ApplicationResponse = field(default_factory=lambda: ApplicationResponse(
        function=FunctionCode.UNSOLICITED_RESPONSE, uns=True))
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class Malformed:
    """A fragment that does not decode, or that is no response."""

    reason: str = ""


_I, _F, _M = ExchangeState.IDLE, ExchangeState.AWAITING_FIRST, ExchangeState.AWAITING_MORE
_SEQ_CLAUSE = "IEEE 1815 4.2.2.4.5: a solicited response answers the outstanding request (its SEQ)"

EXCHANGE: Final = TransitionTable(
    name="DNP3 master request/response exchange", protocol=PROTOCOL, states=ExchangeState,
    events=(Submit, SubmitNoAck, Timeout, LinkFailure, MoreFragment, LastFragment, UnexpectedResponse,
            Unsolicited, Malformed),
    local=(Submit, SubmitNoAck, Timeout, LinkFailure),
    rules={
        (_I, Submit): Transition(_F, "send"),
        (_I, SubmitNoAck): Transition(_I, "send, no response"),
        (_I, Timeout): Transition(_I, "ignore"),
        (_I, LinkFailure): Transition(_I, "report"),
        (_F, LinkFailure): Transition(_I, "fail"),
        (_M, LinkFailure): Transition(_I, "fail"),
        (_I, UnexpectedResponse): Transition(_I, "discard"),
        (_I, Unsolicited): Transition(_I, "accept"),
        (_I, Malformed): Transition(_I, "report"),
        (_F, Timeout): Transition(_I, "fail"),
        (_F, MoreFragment): Transition(_M, "collect"),
        (_F, LastFragment): Transition(_I, "complete"),
        (_F, UnexpectedResponse): Transition(_F, "discard"),
        (_F, Unsolicited): Transition(_F, "accept"),
        (_F, Malformed): Transition(_F, "report"),
        (_M, Timeout): Transition(_I, "fail"),
        (_M, MoreFragment): Transition(_M, "collect"),
        (_M, LastFragment): Transition(_I, "complete"),
        (_M, UnexpectedResponse): Transition(_M, "discard"),
        (_M, Unsolicited): Transition(_M, "accept"),
        (_M, Malformed): Transition(_M, "report"),
    },
    clause=_SEQ_CLAUSE,
    clauses={
        (None, Submit): "IEEE 1815 4.2.2.4.5: a master has one solicited request outstanding at a time",
        (None, SubmitNoAck): "IEEE 1815 4.2.2.4.5: a master has one solicited request outstanding at a time",
        (_I, MoreFragment): _SEQ_CLAUSE + "; none is outstanding",
        (_I, LastFragment): _SEQ_CLAUSE + "; none is outstanding",
    },
)


# ----------------------------------------------------------------------------- points


_KINDS: Final[dict[int, tuple[str, bool]]] = {
    1: ("binary", False), 2: ("binary", True), 3: ("double_bit", False), 4: ("double_bit", True),
    10: ("binary_output", False), 11: ("binary_output", True), 13: ("binary_output_command", True),
    20: ("counter", False), 22: ("counter", True),
    21: ("frozen_counter", False), 23: ("frozen_counter", True),
    30: ("analog", False), 32: ("analog", True), 31: ("frozen_analog", False), 33: ("frozen_analog", True),
    34: ("analog_deadband", False), 40: ("analog_output", False), 42: ("analog_output", True),
    43: ("analog_output_command", True), 50: ("time", False),
    110: ("octet_string", False), 111: ("octet_string", True),
}
_BINARY: Final = frozenset({1, 2, 10, 11, 13})
_DOUBLE: Final = frozenset({3, 4})


def points_of(response: ApplicationResponse, *, unsolicited: bool = False) -> list[PointUpdate]:
    """The point values a response carries (static and event objects), in order.

    Binary states come from the packed bit or from bit 7 of the flags octet (11.9.2),
    double-bit states (0..3) from the two bits or bits 7..6 of the flags (11.9.4);
    relative times (g2v3, g4v3) are added to the preceding g51 common time of occurrence.
    """
    out: list[PointUpdate] = []
    cto: int | None = None
    for header in response.objects:
        g, v = header.group, header.variation
        if g == 51:
            cto = next((int(p.values["time"]) for p in header.points if "time" in p.values), cto)
            continue
        known = _KINDS.get(g)
        if known is None:
            continue
        kind, event = known
        for k, p in enumerate(header.points):
            values = p.values
            flags = values.get("flags")
            flags = int(flags) if flags is not None else None
            if g in _BINARY:
                value: Any = bool(values["state"]) if "state" in values else bool((flags or 0) & 0x80)
            elif g in _DOUBLE:
                value = int(values["state"]) if "state" in values else ((flags or 0) >> 6) & 3
            elif g == 50:
                value = values.get("time")
            else:
                value = values.get("value")
            t = values.get("time") if g != 50 else None
            if t is not None and v == 3 and g in (2, 4):
                t = None if cto is None else cto + int(t)
            index = p.index if p.index is not None else k
            out.append(PointUpdate(kind=kind, index=index, value=value, flags=flags,
                                   time=None if t is None else int(t), group=g, variation=v, event=event,
                                   unsolicited=unsolicited))
    return out


def _statuses(response: ApplicationResponse) -> tuple[int, ...]:
    return tuple(int(p.values.get("status", 0)) for h in response.objects if h.group in (12, 41)
                 for p in h.points)


def _status_names(statuses: tuple[int, ...]) -> str:
    """The non-SUCCESS command statuses, by name."""
    return ", ".join(CommandStatus(s).name if s in CommandStatus._value2member_map_ else str(s)
                     for s in statuses if s)


def _echoes(request: ApplicationRequest, response: ApplicationResponse) -> bool:
    """Whether a control response echoes the request's objects (status aside; 4.4.3)."""
    def strip(headers: tuple[ObjectHeader, ...]) -> list[Any]:
        return [(h.group, h.variation, h.qualifier, h.start, h.stop, h.count,
                 [(p.index, {k: x for k, x in p.values.items() if k != "status"}) for p in h.points])
                for h in headers]
    return strip(request.objects) == strip(response.objects)


_REQUEST_ERRORS: Final = (
    (Iin.NO_FUNC_CODE_SUPPORT, "IIN2.0 NO_FUNC_CODE_SUPPORT: function code not supported"),
    (Iin.OBJECT_UNKNOWN, "IIN2.1 OBJECT_UNKNOWN: an object, variation or range is not known"),
    (Iin.PARAMETER_ERROR, "IIN2.2 PARAMETER_ERROR: a qualifier, range or data field is wrong"),
    (Iin.ALREADY_EXECUTING, "IIN2.4 ALREADY_EXECUTING: the operation is already executing"),
)


# ----------------------------------------------------------------------------- the master


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterConfig:
    """What the master does on its own. ``response_timeout`` in seconds; ``utc_offset`` is added
    to ``now`` to get seconds since 1970 UTC (for the time write); ``lan`` picks the time
    synchronization procedure; ``unsolicited_classes`` are enabled at startup (empty: none, and
    unsolicited responses are left disabled); ``disable_unsolicited_at_startup`` as the name says."""

    response_timeout: float = 5.0
    utc_offset: float = 0.0
    lan: bool = True
    unsolicited_classes: tuple[int, ...] = ()
    disable_unsolicited_at_startup: bool = True
    integrity_on_restart: bool = True
    integrity_retries: int = 3  # integrity polls re-issued in a row after a response timeout
    max_queue: int = MAX_QUEUE


@dataclass(slots=True)
class _Running:
    id: int
    task: Task
    request: ApplicationRequest | None = None  # the request outstanding (or last answered)
    sent_at: float = 0.0
    step: int = 0  # 0: the first request; 1: the second (OPERATE, the time write)
    statuses: tuple[int, ...] = ()
    failure: str = ""
    next_request: ApplicationRequest | None = None  # to send once the exchange is idle
    done: bool = False


class Dnp3Master(Machine[ExchangeState]):
    """The application master on :data:`EXCHANGE` (see the module docstring)."""

    TABLE = EXCHANGE

    def __init__(self, config: MasterConfig | None = None) -> None:
        self.config = config or MasterConfig()
        self.state = ExchangeState.IDLE
        self.iin = 0  # the IIN of the last response
        self._seq = 0  # the next solicited request's SEQ
        self._expect_seq = 0  # the SEQ of the next fragment of the response under way
        self._deadline: float | None = None
        self._queue: list[tuple[int, int, int, Task]] = []  # (priority, order, id, task)
        self._order = itertools.count()
        self._ids = itertools.count(1)
        self._current: _Running | None = None
        self._last_id = 0
        self._last_unsolicited: tuple[int, bytes] | None = None
        self._streak: dict[Iin, int] = {}
        self._integrity_retries = 0  # integrity polls re-issued since the last one answered
        self.stats: dict[str, int] = {"sent": 0, "fragments": 0, "unsolicited": 0, "discarded": 0,
                                      "malformed": 0, "timeouts": 0, "link_failures": 0}

    # --- the table's contract ---------------------------------------------------------

    @classmethod
    def in_state(cls, state: ExchangeState) -> Dnp3Master:
        master = cls()
        if state is not ExchangeState.IDLE:
            master._current = _Running(id=0, task=integrity_poll(), request=ApplicationRequest())
            master._deadline = 1.0
        master.state = state
        return master

    def handle(self, event: object, role: Role, now: float = 0.0) -> list[Effect]:
        """One event of :data:`EXCHANGE`, the table deciding; its effects (no next task is started)."""
        rule = self._step(event, role)
        out: list[Effect] = []
        action = rule.action
        if isinstance(event, Submit):
            self._transmit_request(event.request, now, out)
        elif isinstance(event, SubmitNoAck):
            self._transmit_request(event.request, now, out, answered=False)
            run = self._current
            if run is not None and not run.done:
                run.done = True
                out.append(TaskResult(id=run.id, task=run.task, ok=True,
                                      reason=f"{FunctionCode(event.request.function).name}: no response "
                                             "is expected (IEEE 1815 4.4.6)"))
        elif isinstance(event, Timeout):
            if action == "fail":
                self.stats["timeouts"] += 1
                self._deadline = None
                if not self._retry_integrity(out):
                    self._fail(f"no response within {self.config.response_timeout:g} s "
                               "(response timeout, IEEE 1815 4.2.2.4.5)", out, FailureCause.TIMEOUT)
        elif isinstance(event, LinkFailure):
            self.stats["link_failures"] += 1
            if action == "fail":
                self._deadline = None
                self._fail(f"link layer: {event.reason} (IEEE 1815-2012 9.2.6.2)", out, FailureCause.LINK)
            else:
                out.append(Notice(kind="link", clause="IEEE 1815-2012 9.2.6.2",
                                  message=f"link layer: {event.reason} (no request was awaiting a response)"))
        elif isinstance(event, MoreFragment | LastFragment):
            self._fragment(event.response, now, out, last=isinstance(event, LastFragment))
        elif isinstance(event, UnexpectedResponse):
            self.stats["discarded"] += 1
            r = event.response
            out.append(Notice(kind="unexpected", clause="IEEE 1815 4.2.2.4.3-4.2.2.4.5",
                              message=f"solicited response FIR={int(r.fir)} SEQ={r.seq} discarded: expected "
                                      f"{'FIR, ' if self.state is _F else 'no FIR, '}SEQ {self._expect_seq}"))
        elif isinstance(event, Unsolicited):
            self._unsolicited(event.response, event.data, out)
        elif isinstance(event, Malformed):
            self.stats["malformed"] += 1
            out.append(Notice(kind="malformed", message=event.reason, clause="IEEE 1815 4.2"))
        else:
            raise TypeError(f"not a master exchange event: {event!r}")
        return out

    # --- the driver's interface -------------------------------------------------------

    @property
    def busy(self) -> bool:
        """Whether a task is running or waiting."""
        return self._current is not None or bool(self._queue)

    @property
    def queued(self) -> tuple[Task, ...]:
        return tuple(t for *_, t in sorted(self._queue))

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has something to do (the response timeout), or None."""
        return self._deadline

    def start(self, now: float) -> list[Effect]:
        """Queue the startup tasks (disable unsolicited, integrity poll, enable unsolicited) and go."""
        c = self.config
        if c.disable_unsolicited_at_startup:
            self._enqueue(disable_unsolicited(auto=True))
        self._enqueue(integrity_poll(auto=True))
        if c.unsolicited_classes:
            self._enqueue(enable_unsolicited(c.unsolicited_classes, auto=True))
        return self._pump(now, [])

    def send(self, task: Task, now: float) -> list[Effect]:
        """Queue ``task``; the request to send when the master is free. Its :class:`TaskResult`
        comes later (``TaskResult.id`` is the value of :attr:`last_id`)."""
        out: list[Effect] = []
        if len(self._queue) >= self.config.max_queue:
            self._last_id = next(self._ids)
            out.append(TaskResult(id=self._last_id, task=task, ok=False,
                                  reason=f"task queue full ({self.config.max_queue} tasks)",
                                  cause=FailureCause.QUEUE))
            return out
        self._enqueue(task)
        return self._pump(now, out)

    @property
    def last_id(self) -> int:
        """The id given to the task :meth:`send` queued last."""
        return self._last_id

    def receive(self, fragment: bytes | ApplicationResponse, now: float) -> list[Effect]:
        """One whole application fragment from the outstation; never raises for what it contains."""
        out: list[Effect] = []
        data = b""
        if isinstance(fragment, bytes | bytearray | memoryview):
            data = bytes(fragment)
            try:
                decoded = decode_fragment(data)
            except DecodeError as err:
                out += self.handle(Malformed(reason=f"fragment does not decode: {err}"), Role.REMOTE, now)
                return self._pump(now, out)
            if not isinstance(decoded, ApplicationResponse):
                reason = f"{decoded.function.name} request from the outstation (a master takes responses)"
                out += self.handle(Malformed(reason=reason), Role.REMOTE, now)
                return self._pump(now, out)
            response = decoded
        else:
            response = fragment
        event = self._classify(response, data)
        try:
            out += self.handle(event, Role.REMOTE, now)
        except ProtocolViolation as err:
            self.stats["discarded"] += 1
            out.append(Notice(kind="stray", message=f"solicited response SEQ={response.seq} discarded: {err}",
                              clause=err.clause))
        return self._pump(now, out)

    def link_failed(self, reason: str, now: float) -> list[Effect]:
        """The link layer gave up delivering what was sent (:class:`LinkFailure`): the request
        outstanding fails at once (cause :attr:`FailureCause.LINK`), without waiting for its
        response timeout; the next task starts."""
        out = self.handle(LinkFailure(reason=reason), Role.LOCAL, now)
        return self._pump(now, out)

    def transmitted(self, now: float) -> None:
        """The lower layer finished delivering what was sent at ``now`` (a confirmed link took the
        last frame): the response timeout of the request outstanding counts from here, as a master
        starts its response timer once the request is out (IEEE 1815 4.2.2.4.5)."""
        if self.state is not ExchangeState.IDLE and self._deadline is not None:
            self._deadline = now + self.config.response_timeout

    def tick(self, now: float) -> list[Effect]:
        """The time is ``now``: a response timeout that has passed fails its task."""
        out: list[Effect] = []
        if self._deadline is not None and now >= self._deadline:
            out += self.handle(Timeout(), Role.LOCAL, now)
        return self._pump(now, out)

    # --- internals ----------------------------------------------------------------------

    def _enqueue(self, task: Task) -> None:
        if task.auto and any(t.auto and t.kind is task.kind and t.objects == task.objects
                             for *_, t in self._queue):
            return
        if len(self._queue) >= self.config.max_queue:
            return
        self._last_id = next(self._ids)
        heapq.heappush(self._queue, (int(task.kind), next(self._order), self._last_id, task))

    def _classify(self, r: ApplicationResponse, data: bytes) -> object:
        if r.function == FunctionCode.UNSOLICITED_RESPONSE:
            return Unsolicited(response=r, data=data)
        if r.function != FunctionCode.RESPONSE:
            return Malformed(reason=f"{FunctionCode(r.function).name} is not supported by this master")
        if self.state is ExchangeState.IDLE:
            return LastFragment(response=r) if r.fin else MoreFragment(response=r)
        first = self.state is ExchangeState.AWAITING_FIRST
        if r.fir != first or r.seq != self._expect_seq or r.uns:
            return UnexpectedResponse(response=r)
        return LastFragment(response=r) if r.fin else MoreFragment(response=r)

    def _pump(self, now: float, out: list[Effect]) -> list[Effect]:
        """While the exchange is idle: send the running task's next request, or start the next task."""
        while self.state is ExchangeState.IDLE:
            run = self._current
            if run is not None and run.next_request is not None:
                request, run.next_request = run.next_request, None
                try:
                    encode_fragment(request, PROTOCOL)
                except EncodeError as err:
                    # A request that cannot be encoded (a bad command object): nothing is sent.
                    self._fail(f"request does not encode: {err}", out, FailureCause.ENCODE)
                    continue
                submit = SubmitNoAck if request.function in NO_RESPONSE else Submit
                out += self.handle(submit(request=request), Role.LOCAL, now)
                continue
            if run is not None:
                self._current = None
            if not self._queue:
                break
            _, _, tid, task = heapq.heappop(self._queue)
            self._current = _Running(id=tid, task=task)
            self._current.next_request = self._request(task.function, task.objects)
        return out

    def _request(self, function: FunctionCode, objects: tuple[ObjectHeader, ...]) -> ApplicationRequest:
        return ApplicationRequest(fir=True, fin=True, seq=0, function=function, objects=objects)

    def _transmit_request(self, request: ApplicationRequest, now: float, out: list[Effect], *,
                          answered: bool = True) -> None:
        request = replace(request, seq=self._seq)
        self._seq = (self._seq + 1) % 16
        self._expect_seq = request.seq
        self._deadline = now + self.config.response_timeout if answered else None
        run = self._current
        if run is not None:
            run.request, run.sent_at = request, now
        data = encode_fragment(request, PROTOCOL)  # _pump checked that it encodes
        self.stats["sent"] += 1
        out.append(Transmit(data=data, fragment=request))

    def _fail(self, reason: str, out: list[Effect], cause: FailureCause) -> None:
        run = self._current
        if run is None:
            return
        out.append(TaskResult(id=run.id, task=run.task, ok=False, reason=reason, iin=self.iin,
                              statuses=run.statuses, cause=cause))
        run.done, run.next_request = True, None

    def _retry_integrity(self, out: list[Effect]) -> bool:
        """After a response timeout: whether the running integrity poll is asked again (module docstring).

        The same request goes out again (with the next sequence number) once the exchange is idle;
        the task ends once, with the answer or with the last timeout.
        """
        run = self._current
        if run is None or run.request is None or run.task.kind is not TaskKind.INTEGRITY:
            return False
        if self._integrity_retries >= self.config.integrity_retries:
            self._integrity_retries = 0  # the task fails; the next integrity poll starts afresh
            return False
        self._integrity_retries += 1
        run.next_request = run.request
        out.append(Notice(kind="timeout", clause="IEEE 1815 4.2.2.4.5",
                          message=f"no response to the integrity poll within "
                                  f"{self.config.response_timeout:g} s; asking again "
                                  f"({self._integrity_retries} of {self.config.integrity_retries})"))
        return True

    def _confirm(self, r: ApplicationResponse, out: list[Effect], *, unsolicited: bool) -> None:
        """CONFIRM with the response's SEQ when it asks for one (4.2.2.4.4)."""
        if not r.con:
            return
        confirm = ApplicationRequest(fir=True, fin=True, con=False, uns=unsolicited, seq=r.seq,
                                     function=FunctionCode.CONFIRM)
        out.append(Transmit(data=encode_fragment(confirm, PROTOCOL), fragment=confirm))

    def _fragment(self, r: ApplicationResponse, now: float, out: list[Effect], *, last: bool) -> None:
        self.stats["fragments"] += 1
        self._confirm(r, out, unsolicited=False)
        self._expect_seq = (r.seq + 1) % 16
        self._deadline = None if last else now + self.config.response_timeout
        self.iin = r.iin
        out += points_of(r)
        run = self._current
        if run is not None and run.request is not None:
            run.statuses += _statuses(r)
            for bit, text in _REQUEST_ERRORS:
                if r.iin & bit and text not in run.failure:
                    run.failure = f"{run.failure}; {text}" if run.failure else text
        self._indications(r.iin, out)
        if last and run is not None and not run.done:
            self._finish(run, r, now, out)

    def _finish(self, run: _Running, r: ApplicationResponse, now: float, out: list[Effect]) -> None:
        task, request = run.task, run.request
        if task.kind is TaskKind.INTEGRITY:
            self._integrity_retries = 0
        if task.kind is TaskKind.DISABLE_UNSOLICITED and task.auto and r.iin & Iin.NO_FUNC_CODE_SUPPORT:
            # At startup: an outstation without unsolicited responses has nothing to disable.
            run.done = True
            out.append(TaskResult(id=run.id, task=task, ok=True, iin=r.iin, reason=(
                "IIN2.0: the outstation does not support unsolicited responses; nothing to disable")))
            return
        if run.failure:
            bad = _status_names(_statuses(r))
            status = f"; command status {bad}" if bad else ""
            self._fail(f"{run.failure} (IEEE 1815 4.2.2.7.2){status}", out, FailureCause.IIN)
            return
        if task.kind is TaskKind.CLEAR_RESTART and r.iin & Iin.DEVICE_RESTART:
            self._fail("IIN1.7 DEVICE_RESTART still set in the response to its clearing write "
                       "(IEEE 1815 4.2.2.7.1)", out, FailureCause.IIN)
            return
        if task.kind in (TaskKind.SELECT_OPERATE, TaskKind.DIRECT_OPERATE) and request is not None:
            bad = _status_names(_statuses(r))
            if bad or not _echoes(request, r):
                what = "SELECT" if request.function == FunctionCode.SELECT else request.function.name
                self._fail(f"{what} answered with status {bad} (IEEE 1815 4.4.3, 11.9.7)" if bad
                           else f"{what} response does not echo the request's objects (IEEE 1815 4.4.3)", out,
                           FailureCause.STATUS)
                return
            if request.function == FunctionCode.SELECT:
                run.step, run.statuses = 1, ()
                run.next_request = self._request(FunctionCode.OPERATE, request.objects)
                return
        if task.kind is TaskKind.TIME_SYNC and run.step == 0:
            run.step = 1
            if task.lan:
                # LAN procedure: the write carries the time the RECORD_CURRENT_TIME request left.
                ms = self._utc_ms(run.sent_at)
                header = ObjectHeader(group=50, variation=3, qualifier=0x07, count=1,
                                      points=(Point(values={"time": ms}),))
            else:
                delay = next((int(p.values["delay"]) * (1000 if h.variation == 1 else 1)
                              for h in r.objects if h.group == 52 for p in h.points), None)
                if delay is None:
                    self._fail("DELAY_MEASURE response carries no g52 time delay object", out,
                               FailureCause.RESPONSE)
                    return
                rtt = (now - run.sent_at) * 1000.0
                propagation = max(0.0, (rtt - delay) / 2)
                ms = self._utc_ms(now) + round(propagation)
                header = ObjectHeader(group=50, variation=1, qualifier=0x07, count=1,
                                      points=(Point(values={"time": ms}),))
            run.next_request = self._request(FunctionCode.WRITE, (header,))
            return
        run.done = True
        out.append(TaskResult(id=run.id, task=task, ok=True, iin=r.iin, statuses=run.statuses))

    def _utc_ms(self, now: float) -> int:
        return max(0, min((1 << 48) - 1, round((now + self.config.utc_offset) * 1000)))

    def _unsolicited(self, r: ApplicationResponse, data: bytes, out: list[Effect]) -> None:
        self.stats["unsolicited"] += 1
        self._confirm(r, out, unsolicited=True)
        key = (r.seq, data or encode_fragment(r, PROTOCOL))
        if key == self._last_unsolicited:
            out.append(Notice(kind="duplicate", clause="IEEE 1815 4.2.2.4.5",
                              message=f"unsolicited response SEQ={r.seq} repeated (its confirm was lost?); "
                                      "confirmed again, not reported twice"))
            return
        self._last_unsolicited = key
        if not (r.fir and r.fin and r.uns):
            out.append(Notice(kind="unexpected", clause="IEEE 1815 4.2.2.4",
                              message=f"unsolicited response with FIR={int(r.fir)} FIN={int(r.fin)} "
                                      f"UNS={int(r.uns)} (expected all three set)"))
        self.iin = r.iin
        out += points_of(r, unsolicited=True)
        self._indications(r.iin, out)

    def _indications(self, iin: int, out: list[Effect]) -> None:
        """Queue what the IIN bits ask for (module docstring)."""
        c = self.config

        def auto(bit: Iin, *tasks: Task) -> None:
            if not iin & bit:
                self._streak.pop(bit, None)
                return
            pending = [t for t in tasks if not self._has(t)]
            if not pending:
                return
            streak = self._streak.get(bit, 0)
            if streak >= AUTO_STREAK:
                if streak == AUTO_STREAK:
                    out.append(Notice(kind="iin", clause="IEEE 1815 4.2.2.7.1",
                                      message=f"{bit.name} still set after {AUTO_STREAK} automatic "
                                              f"{'/'.join(t.name for t in tasks)} tasks; not queued again"))
                    self._streak[bit] = streak + 1
                return
            self._streak[bit] = streak + 1
            for t in pending:
                self._enqueue(t)

        restart = [clear_restart(auto=True)] + ([integrity_poll(auto=True)] if c.integrity_on_restart else [])
        auto(Iin.DEVICE_RESTART, *restart)
        auto(Iin.NEED_TIME, time_sync(lan=c.lan, auto=True))
        classes = tuple(n for n, bit in ((1, Iin.CLASS_1_EVENTS), (2, Iin.CLASS_2_EVENTS),
                                         (3, Iin.CLASS_3_EVENTS)) if iin & bit)
        if classes and not self._has(integrity_poll(auto=True)):
            auto(Iin(sum(b for n, b in ((1, Iin.CLASS_1_EVENTS), (2, Iin.CLASS_2_EVENTS),
                                         (3, Iin.CLASS_3_EVENTS)) if n in classes)),
                 event_poll(classes, auto=True))
        auto(Iin.EVENT_BUFFER_OVERFLOW, integrity_poll(auto=True))
        for bit, text in ((Iin.EVENT_BUFFER_OVERFLOW, "IIN2.3 EVENT_BUFFER_OVERFLOW: events were lost"),
                          (Iin.CONFIG_CORRUPT, "IIN2.5 CONFIG_CORRUPT: the outstation's configuration is "
                                               "corrupt")):
            if iin & bit:
                out.append(Notice(kind="iin", message=text, clause="IEEE 1815 4.2.2.7.2"))

    def _has(self, task: Task) -> bool:
        """Whether an automatic task like ``task`` is waiting or running (not yet answered)."""
        run = self._current
        key = (task.kind, task.objects)
        if run is not None and not run.done and (run.task.kind, run.task.objects) == key:
            return True
        return any(t.kind is task.kind and t.objects == task.objects for *_, t in self._queue)


# ----------------------------------------------------------------------------- on the wire


@dataclass(slots=True)
class MasterLink:
    """:class:`Dnp3Master` over FT3 link frames, the transport function and the link stations of
    :mod:`.link_machine` (module docstring).

    Every :class:`Transmit` of the master becomes one :class:`SendBytes` carrying the request (its
    ``data`` is empty when a confirmed link holds the frames back until the previous ones are
    acknowledged; they come in later :class:`SendBytes`); received octets are framed, handed to the
    link layer, and the user data it delivers reassembled and given to the master.
    """

    master: Dnp3Master = field(default_factory=Dnp3Master)
    address: int = 1
    outstation: int = 10
    max_fragment: int = DEFAULT_MAX_FRAGMENT
    max_buffer: int = 64 * 1024
    confirmed: bool = False  # CONFIRMED_USER_DATA (reset first, FCB, retries) instead of UNCONFIRMED
    link_timeout: float = 2.0  # the link response timeout, seconds (9.2.6.2)
    link_retries: int = 2  # retransmissions of an unanswered primary frame before giving up
    keep_alive: float | None = None  # REQUEST_LINK_STATUS after this many seconds without a frame
    link: LinkLayer = field(init=False)
    _framer: LinkFramer = field(init=False)
    _reassembler: Reassembler = field(init=False)
    _tseq: int = 0
    _delivering: bool = False  # confirmed user data of ours not yet acknowledged
    _last_heard: float | None = None

    def __post_init__(self) -> None:
        if self.link_retries < 0 or not self.link_timeout > 0:
            raise LocalProtocolError("the link response timeout must be > 0 and the retries >= 0",
                                     protocol="dnp3")
        self._framer = LinkFramer(max_buffer=self.max_buffer)
        self._reassembler = Reassembler(max_fragment=self.max_fragment, protocol="dnp3")
        self.link = LinkLayer(self.address, self.outstation, is_master=True, confirmed=self.confirmed,
                              response_timeout=self.link_timeout, retries=self.link_retries,
                              flush_on_failure=True)

    @property
    def busy(self) -> bool:
        """Whether the master has a task running or waiting, or the link frames not yet acknowledged."""
        return self.master.busy or self.link.primary.busy

    def next_deadline(self) -> float | None:
        """When :meth:`tick` has something to do: the link response timeout, the master's response
        timeout (not while its request is still being delivered), the next keep-alive."""
        times = [self.link.next_deadline]
        if not self._delivering:
            times.append(self.master.next_deadline())
        if self.keep_alive is not None and self._last_heard is not None and not self.link.primary.busy:
            times.append(self._last_heard + self.keep_alive)
        known = [t for t in times if t is not None]
        return min(known) if known else None

    def start(self, now: float) -> list[Effect]:
        self._heard(now, first=True)
        return self._wire(self.master.start(now), now)

    def send(self, task: Task, now: float) -> list[Effect]:
        self._heard(now, first=True)
        return self._wire(self.master.send(task, now), now)

    def tick(self, now: float) -> list[Effect]:
        """The time is ``now``: link retries and failures, the keep-alive, the master's timeout."""
        self._heard(now, first=True)
        out = self._link(self.link.tick(now), now)
        if (self.keep_alive is not None and self._last_heard is not None and not self.link.primary.busy
                and now >= self._last_heard + self.keep_alive):
            self._last_heard = now  # the next one a keep-alive period later, answered or not
            out += self._link(self.link.request_link_status(now), now)
        if not self._delivering:
            out += self._wire(self.master.tick(now), now)
        return out

    def receive_data(self, data: bytes, now: float) -> list[Effect]:
        """Octets from the outstation; never raises for what they contain."""
        out: list[Effect] = []
        try:
            self._framer.feed(bytes(data))
        except DecodeError as err:
            out.append(Notice(kind="link", message=str(err), clause="IEEE 1815 9.2.4.1"))
        while True:
            try:
                raw = self._framer.next_frame()
            except DecodeError as err:
                out.append(Notice(kind="link", message=str(err), clause="IEEE 1815 9.2.4.1"))
                continue
            if raw is NEED_DATA:
                break
            try:
                frame = decode_link(bytes(raw))
            except DecodeError as err:
                out.append(Notice(kind="link", message=f"frame dropped: {err}", clause="IEEE 1815 9.2.4.2"))
                continue
            out += self._frame(frame, now)
        return out

    # --- internals ----------------------------------------------------------------------

    def _heard(self, now: float, *, first: bool = False) -> None:
        if not first or self._last_heard is None:
            self._last_heard = now

    def _frame(self, frame: LinkFrame, now: float) -> list[Effect]:
        if frame.destination != self.address or frame.source != self.outstation or frame.dir:
            return [Notice(kind="link", clause="IEEE 1815 9.2.4.1.3.1, 9.2.4.1.4",
                           message=f"frame from {frame.source} to {frame.destination} (DIR={int(frame.dir)}) "
                                   f"dropped: this master is {self.address}, its outstation "
                                   f"{self.outstation}")]
        self._heard(now)
        out: list[Effect] = []
        if frame.prm:
            event = self.link.secondary.classify(frame)
            if isinstance(event, ConfirmedUserDataRepeat | TestLinkStatesRepeat):
                out.append(Notice(kind="link", clause="IEEE 1815-2012 9.2.6.3.3",
                                  message=f"{frame.function.name} FCB={int(frame.fcb)} repeats the frame "
                                          "already taken: acknowledged again, not delivered twice"))
            elif (isinstance(event, ConfirmedUserData | TestLinkStates)
                  and self.link.secondary.state is SecondaryState.UNRESET):
                out.append(Notice(kind="link", clause="IEEE 1815-2012 9.2.6.3.1",
                                  message=f"{frame.function.name} before RESET_LINK_STATES: not answered, "
                                          "not delivered"))
        return out + self._link(self.link.receive(frame, now), now)

    def _link(self, result: LinkOutput, now: float) -> list[Effect]:
        """What the link layer did: frames to send, user data for the transport, failures."""
        out: list[Effect] = []
        if result.frames:
            out.append(SendBytes(data=b"".join(encode_link(f) for f in result.frames)))
        for data, _broadcast in result.delivered:
            if not data:
                continue
            try:
                fragment = self._reassembler.feed(data)
            except DecodeError as err:
                out.append(Notice(kind="transport", message=str(err), clause="IEEE 1815 8.2.2"))
                continue
            if fragment is not None:
                out += self._wire(self.master.receive(fragment, now), now)
        for failure in result.failures:
            # Our user data failed when the link dropped it (flush_on_failure empties the queue);
            # a failed keep-alive leaves queued data going on.
            if self._delivering and not self.link.primary.queue:
                self._delivering = False
                out += self._wire(self.master.link_failed(failure, now), now)
            else:
                out.append(Notice(kind="link", clause="IEEE 1815-2012 9.2.6.2",
                                  message=f"link layer: {failure}"))
        self._delivered(now)
        return out

    def _delivered(self, now: float) -> None:
        if self._delivering and not self.link.primary.busy:
            self._delivering = False
            self.master.transmitted(now)

    def _wire(self, effects: list[Effect], now: float) -> list[Effect]:
        """The master's effects with each :class:`Transmit` handed to the link layer."""
        out: list[Effect] = []
        for effect in effects:
            if not isinstance(effect, Transmit):
                out.append(effect)
                continue
            frames: list[LinkFrame] = []
            segments = segment(effect.data, seq=self._tseq)
            self._tseq = (self._tseq + len(segments)) % 64
            for piece in segments:
                frames += self.link.send(piece, now).frames
            if self.confirmed:
                self._delivering = True
            out.append(SendBytes(data=b"".join(encode_link(f) for f in frames), fragment=effect.fragment))
        self._delivered(now)
        return out
