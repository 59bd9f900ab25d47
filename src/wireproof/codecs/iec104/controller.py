"""The IEC 104 controlling station's application (the client): requests and their confirmations (sans-I/O).

Normative references: IEC 60870-5-101:2003 7.4 (the application
functions) as 104 clause 9 selects them; 101 7.2.3 (causes of transmission).

:class:`Controller` sends one request at a time and follows it through its
exchange: station or group interrogation (ACT_CON, the data with cause 20
plus the group, ACT_TERM), counter interrogation (ACT_CON, integrated totals
with cause 37 plus the group, ACT_TERM), clock synchronisation, read, test,
reset process (ACT_CON), commands (select: ACT_CON; execute: ACT_CON then
ACT_TERM). A negative confirmation (P/N set; cause 44, 45, 46 or 47 for an
unknown type identification, cause, common address or object address) ends
the exchange as refused. Data that arrives outside an exchange (spontaneous,
cause 3; return information, cause 11) is kept as the latest value of its
point, as is the end of initialisation.

The rules are one :class:`~wireproof.codecs._machine.TransitionTable`. An
ASDU is first classified by its fields against the request outstanding
(:meth:`Controller.classify`); the table decides by the type alone. A
confirmation with no request outstanding, or of a request not sent, is a
:class:`~wireproof.errors.RemoteProtocolError` naming the rule (the driver
reports it). Time is an input: :meth:`Controller.timeout` ends an exchange
that has waited ``timeout`` seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs.iec104.constants import Cause, TypeId
from wireproof.codecs.iec104.messages import Asdu, InformationObject

__all__ = ["CONTROLLER", "Controller", "ControllerState", "Exchange", "PointValue", "request_asdu"]

# Requests after whose ACT_CON an ACT_TERM follows (101 7.4.5, 7.4.8, 7.4.7).
_TERMINATED: Final = frozenset({TypeId.C_IC_NA_1, TypeId.C_CI_NA_1})
COMMANDS: Final = frozenset({45, 46, 47, 48, 49, 50, 51, 58, 59, 60, 61, 62, 63, 64})
_NEGATIVE_CAUSES: Final = frozenset({44, 45, 46, 47})


class ControllerState(enum.Enum):
    IDLE = "idle"
    WAIT_CON = "wait_con"  # a request sent, its confirmation awaited
    WAIT_TERM = "wait_term"  # confirmed positively, its termination awaited


@dataclass(frozen=True)
class Request:
    """Local: send a request (one at a time)."""

    asdu: Asdu | None = None


@dataclass(frozen=True)
class Confirmed:
    """The outstanding request's positive confirmation, the exchange's last ASDU (or a read's answer)."""

    asdu: Asdu | None = None


@dataclass(frozen=True)
class Accepted:
    """The outstanding request's positive ACT_CON, after which an ACT_TERM follows."""

    asdu: Asdu | None = None


@dataclass(frozen=True)
class Refused:
    """A negative confirmation (P/N set) of the outstanding request."""

    asdu: Asdu | None = None


@dataclass(frozen=True)
class Terminated:
    """The outstanding request's ACT_TERM."""

    asdu: Asdu | None = None


@dataclass(frozen=True)
class Stray:
    """A confirmation or termination of no request outstanding (101 7.2.3)."""

    asdu: Asdu | None = None


@dataclass(frozen=True)
class Data:
    """Monitor-direction data: interrogated, spontaneous, return information."""

    asdu: Asdu | None = None


@dataclass(frozen=True)
class EndOfInit:
    asdu: Asdu | None = None


@dataclass(frozen=True)
class ExchangeTimeout:
    """Local: the exchange waited its timeout."""


IDLE, WAIT_CON, WAIT_TERM = ControllerState.IDLE, ControllerState.WAIT_CON, ControllerState.WAIT_TERM

CONTROLLER: Final = TransitionTable(
    name="IEC 104 controlling station application", protocol="iec104", states=ControllerState,
    events=(Request, Confirmed, Accepted, Refused, Terminated, Stray, Data, EndOfInit, ExchangeTimeout),
    local=(Request, ExchangeTimeout), clause="101 7.4",
    rules={
        (IDLE, Request): Transition(WAIT_CON, "send"),
        (WAIT_CON, Confirmed): Transition(IDLE, "done"),
        (WAIT_CON, Accepted): Transition(WAIT_TERM, "accepted"),
        (WAIT_CON, Refused): Transition(IDLE, "refused"),
        (WAIT_TERM, Terminated): Transition(IDLE, "done"),
        (WAIT_TERM, Refused): Transition(IDLE, "refused"),
        (WAIT_CON, ExchangeTimeout): Transition(IDLE, "timed_out"),
        (WAIT_TERM, ExchangeTimeout): Transition(IDLE, "timed_out"),
        **{(s, Data): Transition(s, "data") for s in ControllerState},
        **{(s, EndOfInit): Transition(s, "end_of_init") for s in ControllerState},
    },
    clauses={
        (None, Request): "101 7.4: one request at a time (the reference client's rule)",
        (None, Stray): "101 7.2.3: a confirmation or termination of a request not sent",
        (IDLE, Confirmed): "101 7.2.3: a confirmation with no request outstanding",
        (IDLE, Accepted): "101 7.2.3: a confirmation with no request outstanding",
        (IDLE, Refused): "101 7.2.3: a negative confirmation with no request outstanding",
        (IDLE, Terminated): "101 7.2.3: a termination with no request outstanding",
        (WAIT_CON, Terminated): "101 7.4.5: ACT_TERM before ACT_CON",
        (WAIT_TERM, Confirmed): "101 7.4.5: a second confirmation",
        (WAIT_TERM, Accepted): "101 7.4.5: a second confirmation",
        (None, ExchangeTimeout): "101 7.4: a timeout with no exchange running",
    },
)


@dataclass
class PointValue:
    """The latest value of a point: its type, elements and the cause it came with."""

    type_id: int
    elements: dict[str, Any]
    cause: int


@dataclass
class Exchange:
    """One request and what came of it: ``outcome`` is ``confirmed``, ``refused`` or ``timeout``."""

    request: Asdu
    sent_at: float
    outcome: str = ""
    detail: str = ""
    confirmation: Asdu | None = None
    objects: int = 0  # information objects received during the exchange (interrogations, read)
    terminated: bool = False

    @property
    def positive(self) -> bool:
        return self.outcome == "confirmed"


class Controller(Machine[ControllerState]):
    """The controlling station's application (see the module docstring)."""

    TABLE: ClassVar[TransitionTable[ControllerState]] = CONTROLLER

    def __init__(self, *, timeout: float = 10.0) -> None:
        self.state = ControllerState.IDLE
        self.timeout_s = timeout
        self.current: Exchange | None = None
        self.exchanges: list[Exchange] = []
        self.points: dict[tuple[int, int], PointValue] = {}  # (common address, IOA) -> latest value
        self.end_of_init: list[Asdu] = []
        self.now = 0.0

    @classmethod
    def in_state(cls, state: ControllerState) -> Controller:
        machine = cls()
        machine.state = state
        if state is not ControllerState.IDLE:
            machine.current = Exchange(Asdu(type_id=100, cause=6, common_address=1), 0.0)
        return machine

    def handle(self, event: object, role: Role) -> Any:
        rule = self._step(event, role)
        getattr(self, "_do_" + rule.action)(event)
        return None

    # --- the driver's calls --------------------------------------------------------------------

    def request(self, asdu: Asdu, now: float) -> Asdu:
        """Start the exchange of ``asdu`` (send it); LocalProtocolError while one is running."""
        self.now = now
        self.handle(Request(asdu), Role.LOCAL)
        return asdu

    def receive(self, asdu: Asdu | bytes, now: float) -> object:
        """An ASDU from the station: the event it made (RemoteProtocolError for a stray confirmation)."""
        self.now = now
        if isinstance(asdu, bytes):
            return None
        event = self.classify(asdu)
        self.handle(event, Role.REMOTE)
        return event

    def next_deadline(self) -> float | None:
        return None if self.current is None else self.current.sent_at + self.timeout_s

    def timeout(self, now: float) -> Exchange | None:
        """End the running exchange if it has waited its timeout; the exchange ended."""
        self.now = now
        due = self.next_deadline()
        if due is None or now < due:
            return None
        ended = self.current
        self.handle(ExchangeTimeout(), Role.LOCAL)
        return ended

    @property
    def busy(self) -> bool:
        return self.state is not ControllerState.IDLE

    def classify(self, asdu: Asdu) -> object:
        """The table's event type for ``asdu`` given the request outstanding."""
        if asdu.type_id == TypeId.M_EI_NA_1:
            return EndOfInit(asdu)
        cause = int(asdu.cause)
        request = self.current.request if self.current is not None else None
        control = asdu.type_id >= 45 and asdu.type_id != TypeId.M_EI_NA_1
        reading = request is not None and request.type_id == TypeId.C_RD_NA_1
        if reading and not control and cause == Cause.REQUEST:
            return Confirmed(asdu)
        if not control:
            return Data(asdu)
        if request is None or asdu.type_id != request.type_id:
            return Stray(asdu)
        if asdu.negative or cause in _NEGATIVE_CAUSES:
            return Refused(asdu)
        if cause == Cause.ACTIVATION_TERMINATION:
            return Terminated(asdu)
        if cause in (Cause.ACTIVATION_CON, Cause.DEACTIVATION_CON):
            if cause == Cause.ACTIVATION_CON and _terminated(request):
                return Accepted(asdu)
            return Confirmed(asdu)
        return Stray(asdu)

    # --- actions --------------------------------------------------------------------------------

    def _do_send(self, event: object) -> None:
        assert isinstance(event, Request)
        if event.asdu is not None:
            self.current = Exchange(event.asdu, self.now)

    def _finish(self, outcome: str, asdu: Asdu | None, detail: str = "") -> None:
        if self.current is None:
            return
        self.current.outcome = outcome
        self.current.detail = detail
        if asdu is not None and self.current.confirmation is None:
            self.current.confirmation = asdu
        self.exchanges.append(self.current)
        self.current = None

    def _do_done(self, event: object) -> None:
        asdu = getattr(event, "asdu", None)
        if isinstance(event, Terminated) and self.current is not None:
            self.current.terminated = True
            self._finish("confirmed", None)
            return
        if isinstance(asdu, Asdu) and asdu.type_id == TypeId.C_RD_NA_1:
            pass
        elif isinstance(asdu, Asdu) and asdu.cause == Cause.REQUEST:
            self._keep(asdu)
            if self.current is not None:
                self.current.objects += len(asdu.objects)
        self._finish("confirmed", asdu)

    def _do_accepted(self, event: object) -> None:
        assert isinstance(event, Accepted)
        if self.current is not None:
            self.current.confirmation = event.asdu

    def _do_refused(self, event: object) -> None:
        assert isinstance(event, Refused)
        asdu = event.asdu
        detail = ""
        if asdu is not None:
            cause = int(asdu.cause)
            detail = (f"negative confirmation, cause {cause}"
                      + (f" ({Cause(cause).name})" if cause in Cause._value2member_map_ else ""))
        self._finish("refused", asdu, detail)

    def _do_timed_out(self, event: object) -> None:
        current = self.current
        if current is not None and current.confirmation is not None and current.request.type_id in COMMANDS:
            # 101 7.4.7: the termination of a command is the station's to send; its absence is noted
            self._finish("confirmed", None, f"no ACT_TERM within {self.timeout_s:g} s")
            return
        confirmed = current is not None and current.confirmation is not None
        waiting = "ACT_TERM" if confirmed else "the confirmation"
        self._finish("timeout", None, f"no answer within {self.timeout_s:g} s (waiting for {waiting})")

    def _do_data(self, event: object) -> None:
        assert isinstance(event, Data)
        if event.asdu is None:
            return
        self._keep(event.asdu)
        if self.current is not None:
            self.current.objects += len(event.asdu.objects)

    def _do_end_of_init(self, event: object) -> None:
        assert isinstance(event, EndOfInit)
        if event.asdu is not None:
            self.end_of_init.append(event.asdu)

    def _keep(self, asdu: Asdu) -> None:
        for obj in asdu.objects:
            value = PointValue(int(asdu.type_id), dict(obj.elements), int(asdu.cause))
            self.points[(asdu.common_address, obj.address)] = value


def _terminated(request: Asdu) -> bool:
    if request.type_id in _TERMINATED:
        return True
    if request.type_id in COMMANDS and request.objects:
        return not request.objects[0].elements.get("select", False)
    return False


def request_asdu(type_id: int, common_address: int, address: int, elements: dict[str, Any], *,
                 cause: int = Cause.ACTIVATION) -> Asdu:
    """A one-object request ASDU."""
    return Asdu(type_id=type_id, cause=cause, common_address=common_address,
                objects=(InformationObject(address=address, elements=elements),))

