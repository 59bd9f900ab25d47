"""The scripted controlled station the ``iec104-client`` suite judges a controlling station with.

Theory of operation. wireproof plays the controlled station (common address
1 by default) on one TCP connection the client under test opened. The
station is built on the codec only — :class:`~wireproof.codecs.iec104.ApduFramer`
cuts the stream into APDUs, :func:`~wireproof.codecs.iec104.decode_apdu` and
:func:`~wireproof.codecs.iec104.encode_apdu` read and write them — so that a
clause has exact control over every octet it answers with: when STARTDT con
comes, whether TESTFR act is answered, whether and when the client's
I-frames are acknowledged, a wrong N(S) or N(R) on purpose, negative
confirms, COT 44 answers, an ACT_TERM held back.

- :class:`Behaviour` is the station's standing policy (what the clause sets
  before the client talks).
- :meth:`Station.serve` runs the policy until a predicate holds or the time
  is up: STARTDT, STOPDT and TESTFR act are confirmed (104 5.2, 5.3); an
  I-frame from the client is acknowledged at once (the station's own w is
  1: allowed, 104 5.1) by the answer's N(R) or an S-frame; the client's
  activations are answered as a controlled station does (101 7.3 and the
  application functions of IEC 60870-5-5: interrogation with ACT_CON, the
  data with COT 20, ACT_TERM; counter interrogation with COT 37; clock
  synchronisation ACT_CON; select and execute of commands with ACT_CON and,
  for the execute, ACT_TERM; a type it does not know with COT 44, another
  common address with COT 46).
- Every APDU from the client is appended to :attr:`Station.log` with its
  arrival time and the station's sequence state then; every I-frame the
  station sends to :attr:`Station.sent`.

Evidence: one entry per APDU, each way, with the decoded view
(:func:`describe`), labelled with the connection; its opening and closing.

Verdicts: a client that sends octets that do not frame or decode is the
client's fault (``DecodeError``, verdict ``fail``); a client that closes the
connection ends :meth:`Station.serve` (``closed`` is then set; ``closed_at``
when), which the clause judges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.iec104.codec import decode_apdu, encode_apdu
from wireproof.codecs.iec104.constants import SEQ_MODULO, Cause, TypeId, UFunction
from wireproof.codecs.iec104.framers import ApduFramer
from wireproof.codecs.iec104.messages import Apdu, Asdu, IFrame, InformationObject, Quality, SFrame, UFrame
from wireproof.errors import DecodeError

__all__ = ["Behaviour", "Link", "Received", "Sent", "Sink", "Station", "describe", "is_command",
           "log_words"]

BROADCAST = 0xFFFF  # the global common address (101 7.2.4)
# Commands with a select/execute qualifier (101 7.2.6.26 S/E): process information in control direction.
COMMANDS = frozenset({TypeId.C_SC_NA_1, TypeId.C_DC_NA_1, TypeId.C_RC_NA_1, TypeId.C_SE_NA_1,
                      TypeId.C_SE_NB_1, TypeId.C_SE_NC_1, TypeId.C_SC_TA_1, TypeId.C_DC_TA_1,
                      TypeId.C_RC_TA_1, TypeId.C_SE_TA_1, TypeId.C_SE_TB_1, TypeId.C_SE_TC_1})
_SYSTEM = frozenset({TypeId.C_CS_NA_1, TypeId.C_TS_NA_1, TypeId.C_RP_NA_1, TypeId.C_CD_NA_1, TypeId.C_TS_TA_1,
                     TypeId.C_BO_NA_1, TypeId.C_BO_TA_1, TypeId.P_ME_NA_1, TypeId.P_ME_NB_1, TypeId.P_ME_NC_1,
                     TypeId.P_AC_NA_1})


def _never(received: Received) -> bool:
    return False


class Link(Protocol):
    """The connection the client opened (:class:`~wireproof.harness.client_dut.ClientConnection` is one)."""

    local: str
    remote: str

    def send(self, data: bytes) -> bool: ...
    def recv(self, timeout: float) -> bytes | None: ...
    def close(self) -> None: ...
    def monotonic(self) -> float: ...
    def wall_clock(self) -> float: ...


class Sink(Protocol):
    """Where the station's evidence goes (the plugin's ``EvidenceRecorder`` is one)."""

    def sent(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None: ...
    def received(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None: ...
    def connected(self, connection: str, *, local: str, remote: str, note: str = "") -> None: ...
    def closed(self, connection: str, note: str = "") -> None: ...
    def note(self, text: str) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """One APDU from the client: when it came (monotonic and wall clock), and the station's V(S) then
    (how many I-frames it had sent)."""

    apdu: Apdu
    at: float
    wall: float
    station_sent: int

    @property
    def asdu(self) -> Asdu | None:
        a = self.apdu.asdu if isinstance(self.apdu, IFrame) else None
        return a if isinstance(a, Asdu) else None

    def is_u(self, function: UFunction) -> bool:
        return isinstance(self.apdu, UFrame) and self.apdu.function == function

    def is_type(self, type_id: int) -> bool:
        a = self.asdu
        return a is not None and a.type_id == type_id


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    """One I-frame the station sent: its N(S) (not wrapped: the count before it) and when."""

    number: int
    at: float
    asdu: Asdu


def is_command(asdu: Asdu | None) -> bool:
    return asdu is not None and asdu.type_id in COMMANDS


@dataclass(slots=True, kw_only=True)
class Behaviour:
    """The station's standing policy (module docstring); a clause sets it before the client talks."""

    startdt_delay: float = 0.0  # STARTDT con this long after STARTDT act
    end_of_init: bool = True  # M_EI_NA_1 (COT 4, COI 0) after the first STARTDT con
    acknowledge: bool = True  # acknowledge the client's I-frames (else N(R) stays where it was)
    answer_testfr: bool = True  # TESTFR con to the client's TESTFR act
    negative: Callable[[Received], bool] = _never  # answer these activations with a negative ACT_CON
    unknown_type: Callable[[Received], bool] = _never  # answer these with COT 44 (unknown type id), P/N
    act_term_delay: float = 0.0  # an interrogation's ACT_TERM this long after its data


def _obj(o: InformationObject) -> str:
    parts = []
    for k, v in o.elements.items():
        if k == "quality":
            parts.append(f"q={int(v):02x}")
        elif k == "time":
            parts.append(f"time={v.to_datetime().isoformat(timespec='milliseconds') if _valid(v) else v}")
        else:
            parts.append(f"{k}={v}")
    return f"IOA {o.address}" + (f" {' '.join(parts)}" if parts else "")


def _valid(t: object) -> bool:
    try:
        t.to_datetime()  # type: ignore[attr-defined]
    except (ValueError, AttributeError):
        return False
    return True


def describe_asdu(asdu: Asdu | bytes) -> str:
    if isinstance(asdu, bytes):
        return f"ASDU {asdu.hex()}"
    try:
        name = TypeId(asdu.type_id).name
    except ValueError:
        name = f"type {asdu.type_id}"
    try:
        cause = Cause(asdu.cause).name
    except ValueError:
        cause = str(asdu.cause)
    flags = (" P/N" if asdu.negative else "") + (" T" if asdu.test else "") + (" SQ" if asdu.sequence else "")
    objs = "; ".join(_obj(o) for o in asdu.objects[:4]) + ("; ..." if len(asdu.objects) > 4 else "")
    if not asdu.known:
        objs = f"{asdu.raw_number} objects, {asdu.raw.hex()}"
    return f"{name} COT {asdu.cause} {cause}{flags} CA {asdu.common_address}: {objs}"


def describe(apdu: Apdu) -> str:
    """One line for an APDU: its format and numbers, the ASDU's type, cause, address and objects."""
    if isinstance(apdu, UFrame):
        return f"U {apdu.function.name}"
    if isinstance(apdu, SFrame):
        return f"S N(R)={apdu.recv_seq}"
    return f"I N(S)={apdu.send_seq} N(R)={apdu.recv_seq} {describe_asdu(apdu.asdu)}"


class Station:
    """The scripted controlled station on one connection (module docstring)."""

    def __init__(self, link: Link, evidence: Sink, *, common_address: int = 1,
                 behaviour: Behaviour | None = None, label: str = "connection 1") -> None:
        self.link = link
        self.evidence = evidence
        self.common_address = common_address
        self.behaviour = behaviour or Behaviour()
        self.label = label
        self.clock = link.monotonic
        self.started = self.clock()
        self.log: list[Received] = []
        self.sent: list[Sent] = []
        self.closed = False
        self.closed_at: float | None = None
        self.data_started = False  # STARTDT con sent, no STOPDT since
        self.startdt_con_at: float | None = None
        self.last_sent_at = self.started  # the last APDU the station sent (any format)
        self.received_i = 0  # the client's I-frames so far (V(R), not wrapped)
        self.acknowledged = 0  # how many of them the station has acknowledged
        self.client_acked = 0  # how many of the station's I-frames the client acknowledged (not wrapped)
        self.sequence_errors: list[str] = []  # the client's numbering faults, in words
        self._framer = ApduFramer()
        self._timers: list[tuple[float, Callable[[], None]]] = []
        self._eoi_sent = False
        evidence.connected(label, local=link.local, remote=link.remote,
                           note="the client under test connected")

    # ------------------------------------------------------------------ I/O

    def send_apdu(self, apdu: Apdu, note: str = "") -> None:
        raw = encode_apdu(apdu)
        self.evidence.sent(raw, note, connection=self.label, decoded=describe(apdu))
        self.last_sent_at = self.clock()
        if not self.link.send(raw):
            self._close("the client's connection failed while the station was sending")

    def send_i(self, asdu: Asdu, note: str = "", *, send_seq: int | None = None) -> Sent:
        """An I-frame with the station's next N(S) (or ``send_seq``, wrong on purpose: then it is not
        counted) and its N(R) as acknowledged so far."""
        number = len(self.sent)
        if self.behaviour.acknowledge:
            self.acknowledged = self.received_i
        seq = number % SEQ_MODULO if send_seq is None else send_seq
        self.send_apdu(IFrame(send_seq=seq, recv_seq=self.acknowledged % SEQ_MODULO, asdu=asdu), note)
        sent = Sent(number=number, at=self.clock(), asdu=asdu)
        if send_seq is None:
            self.sent.append(sent)
        return sent

    def _close(self, note: str) -> None:
        if not self.closed:
            self.closed = True
            self.closed_at = self.clock()
            self.evidence.closed(self.label, note)

    def close(self) -> None:
        self.link.close()
        self._close("the station closed the connection (end of the clause)")

    def after(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` ``delay`` s from now, while the station serves."""
        self._timers.append((self.clock() + delay, action))
        self._timers.sort(key=lambda t: t[0])

    def _run_timers(self) -> float | None:
        """Run the timers due; the time until the next one, or None."""
        while self._timers and self._timers[0][0] <= self.clock():
            _, action = self._timers.pop(0)
            if not self.closed:
                action()
        return self._timers[0][0] - self.clock() if self._timers else None

    def next_apdu(self, timeout: float) -> Received | None:
        """The next APDU within ``timeout`` s (timers run on the way), or None (time up, or the client
        closed: see :attr:`closed`)."""
        deadline = self.clock() + timeout
        while not self.closed:
            got = self._next_buffered()
            if got is not None:
                return got
            until_timer = self._run_timers()
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            data = self.link.recv(remaining if until_timer is None else max(0.0, min(remaining, until_timer)))
            if data is None:
                continue
            if not data:
                self._close("the client closed the connection")
                return None
            self._framer.feed(data)
        return None

    def _next_buffered(self) -> Received | None:
        try:
            raw = self._framer.next_frame()
        except DecodeError as err:
            self.evidence.received(self._framer.discarded, f"does not frame: {err}", connection=self.label)
            raise
        if raw is NEED_DATA:
            return None
        try:
            apdu = decode_apdu(bytes(raw))
        except DecodeError as err:
            self.evidence.received(bytes(raw), f"does not decode: {err}", connection=self.label)
            raise
        self.evidence.received(bytes(raw), connection=self.label, decoded=describe(apdu))
        got = Received(apdu=apdu, at=self.clock(), wall=self.link.wall_clock(), station_sent=len(self.sent))
        self.log.append(got)
        self._numbers(got)
        return got

    def _numbers(self, got: Received) -> None:
        """Track the client's N(S) and N(R) (104 5.1); faults are noted, the clauses judge them."""
        apdu = got.apdu
        if isinstance(apdu, IFrame):
            if apdu.send_seq != self.received_i % SEQ_MODULO:
                self.sequence_errors.append(f"I-frame #{self.received_i + 1} has N(S)={apdu.send_seq}, "
                                            f"expected {self.received_i % SEQ_MODULO}")
            self.received_i += 1
        if isinstance(apdu, IFrame | SFrame):
            # N(R) counts the station's I-frames modulo 2**15: unwrap it against what was sent.
            sent = len(self.sent)
            acked = sent - ((sent - apdu.recv_seq) % SEQ_MODULO)
            if acked < self.client_acked or acked < 0:
                self.sequence_errors.append(
                    f"N(R)={apdu.recv_seq} acknowledges I-frames the station never sent or goes back "
                    f"(the station had sent {sent}, the client had acknowledged {self.client_acked})")
            else:
                self.client_acked = acked

    # ------------------------------------------------------------------ the policy

    def serve(self, until: Callable[[Station], bool], timeout: float) -> bool:
        """Answer the client by the policy until ``until(self)`` holds (True) or ``timeout`` s pass, or the
        client closes the connection (False)."""
        deadline = self.clock() + timeout
        while not until(self):
            remaining = deadline - self.clock()
            if remaining <= 0 or self.closed:
                return False
            got = self.next_apdu(remaining)
            if got is not None:
                self.answer(got)
        return True

    def serve_quiet(self, quiet: float, timeout: float) -> bool:
        """Answer the client until it has been quiet for ``quiet`` s and no timer is pending (True), or
        ``timeout`` s pass or it closes the connection (False)."""
        deadline = self.clock() + timeout
        while not self.closed:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            wait = min(quiet, remaining)
            got = self.next_apdu(wait)
            if got is None:
                if self.closed:
                    return False
                if wait >= quiet and not self._timers:
                    return True
                continue
            self.answer(got)
        return False

    def serve_for(self, seconds: float) -> None:
        """Answer the client for ``seconds`` s (or until it closes)."""
        self.serve(lambda s: False, seconds)

    def answer(self, got: Received) -> None:
        """Answer ``got`` as the policy says."""
        apdu = got.apdu
        b = self.behaviour
        if isinstance(apdu, UFrame):
            if apdu.function == UFunction.STARTDT_ACT:
                if b.startdt_delay > 0:
                    self.after(b.startdt_delay, self._startdt_con)
                else:
                    self._startdt_con()
            elif apdu.function == UFunction.STOPDT_ACT:
                self._acknowledge()
                self.data_started = False
                self.send_apdu(UFrame(function=UFunction.STOPDT_CON))
            elif apdu.function == UFunction.TESTFR_ACT and b.answer_testfr:
                self.send_apdu(UFrame(function=UFunction.TESTFR_CON))
            return
        if not isinstance(apdu, IFrame):
            return
        asdu = got.asdu
        if asdu is None:
            self._acknowledge()
            return
        before = len(self.sent)
        self._application(got, asdu)
        if len(self.sent) == before:
            self._acknowledge()

    def _acknowledge(self) -> None:
        """An S-frame for the client's I-frames not yet acknowledged (if the policy acknowledges)."""
        if self.behaviour.acknowledge and self.acknowledged < self.received_i:
            self.acknowledged = self.received_i
            self.send_apdu(SFrame(recv_seq=self.acknowledged % SEQ_MODULO))

    def _startdt_con(self) -> None:
        self.send_apdu(UFrame(function=UFunction.STARTDT_CON))
        self.data_started = True
        if self.startdt_con_at is None:
            self.startdt_con_at = self.clock()
        if self.behaviour.end_of_init and not self._eoi_sent:
            self._eoi_sent = True
            eoi = InformationObject(address=0, elements={"coi": 0, "parameters_changed": False})
            self.send_i(Asdu(type_id=TypeId.M_EI_NA_1, cause=Cause.INITIALIZED,
                             common_address=self.common_address, objects=(eoi,)), "end of initialisation")

    def mirror(self, asdu: Asdu, cause: int, *, negative: bool = False, note: str = "") -> Sent:
        """``asdu`` sent back with ``cause`` (and P/N): a confirm or a termination (101 7.2.3)."""
        return self.send_i(replace(asdu, cause=cause, negative=negative, test=asdu.test), note)

    def _application(self, got: Received, asdu: Asdu) -> None:
        b = self.behaviour
        if asdu.common_address not in (self.common_address, BROADCAST):
            self.mirror(asdu, Cause.UNKNOWN_COMMON_ADDRESS, negative=True, note="unknown common address")
            return
        if b.unknown_type(got) or not asdu.known:
            self.mirror(asdu, Cause.UNKNOWN_TYPE_ID, negative=True, note="unknown type identification")
            return
        if asdu.cause == Cause.DEACTIVATION:
            self.mirror(asdu, Cause.DEACTIVATION_CON)
            return
        if asdu.type_id == TypeId.C_RD_NA_1 and asdu.cause == Cause.REQUEST:
            address = asdu.objects[0].address if asdu.objects else 0
            self.send_i(self._point(address, Cause.REQUEST))
            return
        if asdu.cause != Cause.ACTIVATION:
            self.mirror(asdu, Cause.UNKNOWN_CAUSE, negative=True, note="unknown cause of transmission")
            return
        if b.negative(got):
            self.mirror(asdu, Cause.ACTIVATION_CON, negative=True,
                        note="negative confirm (the clause's policy)")
            return
        self.mirror(asdu, Cause.ACTIVATION_CON)
        if asdu.type_id == TypeId.C_IC_NA_1:
            self._interrogation(asdu)
        elif asdu.type_id == TypeId.C_CI_NA_1:
            self.send_i(Asdu(type_id=TypeId.M_IT_NA_1, cause=Cause.REQUESTED_BY_GENERAL_COUNTER,
                             common_address=self.common_address, objects=tuple(
                                 InformationObject(address=4001 + k, elements={
                                     "value": 100 * (k + 1), "sequence": 0, "carry": False, "adjusted": False,
                                     "invalid": False}) for k in range(2))))
            self.mirror(asdu, Cause.ACTIVATION_TERMINATION)
        elif asdu.type_id in COMMANDS and asdu.objects and not asdu.objects[0].elements.get("select"):
            self.mirror(asdu, Cause.ACTIVATION_TERMINATION)
        elif asdu.type_id not in COMMANDS and asdu.type_id not in _SYSTEM:
            pass  # file transfer and the rest: the confirm only

    def _point(self, address: int, cause: int) -> Asdu:
        point = InformationObject(address=address, elements={"value": True, "quality": Quality(0)})
        return Asdu(type_id=TypeId.M_SP_NA_1, cause=cause, common_address=self.common_address,
                    objects=(point,))

    def _interrogation(self, asdu: Asdu) -> None:
        """The data of an interrogation (COT 20 + group), then ACT_TERM (101 7.2.3; IEC 60870-5-5)."""
        qoi = int(asdu.objects[0].elements.get("qoi", 20)) if asdu.objects else 20
        cause = qoi if 20 <= qoi <= 36 else Cause.INTERROGATED_BY_STATION
        self.send_i(Asdu(type_id=TypeId.M_SP_NA_1, cause=cause, common_address=self.common_address,
                         objects=tuple(InformationObject(address=1001 + k, elements={
                             "value": bool(k % 2), "quality": Quality(0)}) for k in range(4))))
        measured = InformationObject(address=3201, elements={"value": 1.5, "quality": Quality(0)})
        self.send_i(Asdu(type_id=TypeId.M_ME_NC_1, cause=cause, common_address=self.common_address,
                         objects=(measured,)))
        if self.behaviour.act_term_delay > 0:
            def terminate() -> None:
                self.mirror(asdu, Cause.ACTIVATION_TERMINATION, note="ACT_TERM held back")
            self.after(self.behaviour.act_term_delay, terminate)
        else:
            self.mirror(asdu, Cause.ACTIVATION_TERMINATION)

    def spontaneous(self, n: int, note: str = "") -> list[Sent]:
        """``n`` spontaneous single points (COT 3), one I-frame each."""
        return [self.send_i(self._point(1001 + k % 4, Cause.SPONTANEOUS), note) for k in range(n)]

    # ------------------------------------------------------------------ views

    def i_frames(self) -> list[Received]:
        return [r for r in self.log if isinstance(r.apdu, IFrame)]

    def asdus(self, type_id: int | None = None) -> list[tuple[Received, Asdu]]:
        return [(r, a) for r in self.log
                if (a := r.asdu) is not None and (type_id is None or a.type_id == type_id)]

    def u_frames(self, function: UFunction) -> list[Received]:
        return [r for r in self.log if r.is_u(function)]

    def acked_by(self, number: int) -> Received | None:
        """The first APDU of the client that acknowledges the station's I-frame ``number`` (0-based)."""
        sent = 0
        for r in self.log:
            apdu = r.apdu
            if isinstance(apdu, IFrame | SFrame):
                acked = r.station_sent - ((r.station_sent - apdu.recv_seq) % SEQ_MODULO)
                if acked > number:
                    return r
            sent = r.station_sent
        del sent
        return None

    def stopped_before_close(self) -> bool:
        """Whether the client sent STOPDT act at some point (a close after it is an orderly end)."""
        return bool(self.u_frames(UFunction.STOPDT_ACT))


def log_words(station: Station) -> str:
    """What the client sent, in short, and whether it then closed the connection."""
    words = []
    for r in station.log[:40]:
        a = r.apdu
        if isinstance(a, UFrame):
            words.append(a.function.name)
        elif isinstance(a, SFrame):
            words.append(f"S({a.recv_seq})")
        else:
            asdu = a.asdu
            if isinstance(asdu, Asdu):
                try:
                    name = TypeId(asdu.type_id).name
                except ValueError:
                    name = f"type{asdu.type_id}"
                words.append(f"I({a.send_seq},{a.recv_seq}){name}/{asdu.cause}")
            else:
                words.append(f"I({a.send_seq},{a.recv_seq})")
    more = f" ... ({len(station.log)} APDUs)" if len(station.log) > 40 else ""
    return (" ".join(words) or "(nothing)") + more + (
        "; then the client closed the connection" if station.closed else "")


__all__ += ["BROADCAST", "COMMANDS", "describe_asdu"]
