"""The scripted test outstation the ``dnp3-master`` suite judges a master with (IEEE 1815-2012).

Theory of operation. wireproof plays the outstation (address 10 by default)
on one TCP connection the master under test opened. The station is built
on the codec only — :class:`~wireproof.codecs.dnp3.LinkFramer` cuts the
stream into FT3 frames, :func:`~wireproof.codecs.dnp3.decode_link` and a
transport :class:`~wireproof.codecs.dnp3.Reassembler` give whole request
fragments, :func:`~wireproof.codecs.dnp3.link_frames` (which segments and
frames) sends the answers — so that a clause has exact control over every
octet it answers with: the IIN bits (IIN1.7 device restart, IIN1.4 need
time, IIN1.1-1.3 events available), CON, UNS, FIR/FIN over several
fragments, the sequence number (wrong on purpose), unsolicited responses,
and answers withheld.

- Link services the master asks for are answered as a secondary station
  does (IEEE 1815 9.2.4.1.3.6, Tables 9-1 and 9-2): RESET LINK STATES, TEST LINK STATES and CONFIRMED
  USER DATA with ACK, REQUEST LINK STATUS with LINK STATUS; each is counted
  in :attr:`Station.link_services`.
- :class:`Behaviour` is the station's standing policy (what the clause sets
  before the master talks): the IIN bits it starts with, the events it
  holds per class, whether every response asks for a confirm, how many
  fragments an integrity answer takes, which requests to leave unanswered
  and which answer to send with a wrong sequence number.
- :meth:`Station.serve` runs the policy until a predicate over the log of
  requests is true or the time is up: each request is answered as an
  outstation does (4.4: READ of class 0/1/2/3 and of static groups, WRITE
  of g80v1 index 7 and of g50v1/g50v3, DELAY MEASURE, RECORD CURRENT TIME,
  ENABLE/DISABLE UNSOLICITED, SELECT/OPERATE/DIRECT OPERATE echoed with
  status 0, anything else with IIN2.0), and each request is appended to
  :attr:`Station.log` with its arrival time.

Evidence: one entry per link frame, each way, with the decoded view
(:func:`describe`), labelled with the connection; the connection's opening
(both addresses) and closing are recorded too.

Verdicts: a master that sends octets that do not decode is the master's
fault (``DecodeError``, verdict ``fail``); a master that closes the
connection ends :meth:`Station.serve` (``closed`` is then set), which the
clause judges.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.dnp3.application import decode_fragment
from wireproof.codecs.dnp3.codec import link_frames
from wireproof.codecs.dnp3.constants import FunctionCode, Iin, PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    ObjectHeader,
    Point,
)
from wireproof.codecs.dnp3.transport import Reassembler, decode_transport_header
from wireproof.errors import DecodeError

__all__ = ["Behaviour", "Event", "Link", "Request", "Sink", "Station", "describe", "event_header",
           "log_words", "summary"]

_USER_DATA = (PrimaryFunction.CONFIRMED_USER_DATA, PrimaryFunction.UNCONFIRMED_USER_DATA)
_CLASS_BITS = {1: Iin.CLASS_1_EVENTS, 2: Iin.CLASS_2_EVENTS, 3: Iin.CLASS_3_EVENTS}
_CLASS_VARIATION = {1: 2, 2: 3, 3: 4}  # g60v2..v4 name classes 1..3 (A.32)
_ECHOED = (FunctionCode.SELECT, FunctionCode.OPERATE, FunctionCode.DIRECT_OPERATE)


class Link(Protocol):
    """The connection the master opened (:class:`~wireproof.harness.client_dut.ClientConnection` is one)."""

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
class Request:
    """One request fragment the master sent, when it arrived (monotonic seconds), and its octets."""

    fragment: ApplicationRequest
    at: float
    octets: bytes
    wall: float = 0.0  # the wall clock (seconds since the epoch) when it arrived

    @property
    def function(self) -> FunctionCode:
        return self.fragment.function

    @property
    def seq(self) -> int:
        return self.fragment.seq

    def reads_class(self, cls: int) -> bool:
        """Whether this is a READ naming class ``cls`` (0..3: g60v1..v4)."""
        return self.function == FunctionCode.READ and any(
            h.group == 60 and h.variation == cls + 1 for h in self.fragment.objects)

    def writes(self, group: int, variation: int | None = None) -> ObjectHeader | None:
        """The first WRITE header of ``group`` (and ``variation``), or None."""
        if self.function != FunctionCode.WRITE:
            return None
        return next((h for h in self.fragment.objects
                     if h.group == group and (variation is None or h.variation == variation)), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """An event the station holds, in ``cls`` (1..3): one binary input change (g2v1, 11.9.3)."""

    cls: int
    index: int = 0
    state: bool = True


def event_header(events: Iterable[Event]) -> ObjectHeader | None:
    """The events as one g2v1 header with 16-bit index prefixes (qualifier 0x28), or None."""
    points = tuple(Point(index=e.index, values={"flags": 0x01 | (0x80 if e.state else 0)}) for e in events)
    if not points:
        return None
    return ObjectHeader(group=2, variation=1, qualifier=0x28, count=len(points), points=points)


@dataclass(slots=True, kw_only=True)
class Behaviour:
    """The station's standing policy (module docstring); a clause sets it before the master talks."""

    restart: bool = True  # IIN1.7 until the master writes g80v1 index 7 = 0 (4.2.2.7.1, 4.4.2)
    need_time: bool = False  # IIN1.4 until the master writes the time (4.4.6)
    events: list[Event] = field(default_factory=list)
    confirm_every_response: bool = False  # CON in every solicited response, events or not
    integrity_fragments: int = 1  # a class 0 answer cut into this many fragments (FIR..FIN, 4.2.2.4.1)
    withhold: Callable[[Request], bool] = lambda request: False  # leave these unanswered
    wrong_seq: Callable[[Request], bool] = lambda request: False  # answer these with seq + 1 mod 16
    unsolicited_enabled: set[int] = field(default_factory=set)  # classes the master enabled (4.4.12)
    overflow: bool = False  # IIN2.3 event buffer overflow (4.2.2.7)
    wrong_source: Callable[[Request], bool] = lambda request: False  # answer these from another address


@dataclass(slots=True)
class _Pending:
    """The last response sent that asked for a confirm: its sequence, and whether it was unsolicited."""

    seq: int
    uns: bool
    events: list[Event]


def describe(frame: LinkFrame) -> str:
    """One line for a link frame: link header, transport header, application summary."""
    kind = frame.function.name
    words = [f"{'PRM' if frame.prm else 'SEC'} {kind} {frame.source}->{frame.destination}"
             + (" DIR" if frame.dir else "") + (" FCB" if frame.fcb else "")
             + (" FCV/DFC" if frame.fcv else "")]
    if frame.transport is not None:
        t = frame.transport
        words.append(f"transport seq {t.seq}{' FIR' if t.fir else ''}{' FIN' if t.fin else ''}")
    app = frame.application
    if app is not None:
        flags = "".join(f" {n}" for n, v in (("FIR", app.fir), ("FIN", app.fin), ("CON", app.con),
                                             ("UNS", app.uns)) if v)
        text = f"{app.function.name} seq {app.seq}{flags}"
        if isinstance(app, ApplicationResponse):
            text += f" IIN {app.iin:04x}"
        heads = ", ".join(f"g{h.group}v{h.variation} q{h.qualifier:02x}" for h in app.objects)
        words.append(text + (f": {heads}" if heads else ""))
    return "; ".join(words)


def _decoded(frame: LinkFrame) -> LinkFrame:
    """``frame`` with its transport view (and application view, for a one-segment fragment)."""
    if not (frame.prm and frame.function in _USER_DATA and frame.user_data):
        return frame
    transport = decode_transport_header(frame.user_data[0])
    application = None
    if transport.fir and transport.fin:
        with contextlib.suppress(DecodeError):  # judged on the reassembled fragment, not here
            application = decode_fragment(frame.user_data[1:], "dnp3")
    return replace(frame, transport=transport, application=application)


class Station:
    """The scripted outstation on one connection (module docstring)."""

    def __init__(self, link: Link, evidence: Sink, *, address: int = 10, master: int = 1,
                 behaviour: Behaviour | None = None, label: str = "connection 1") -> None:
        self.link = link
        self.evidence = evidence
        self.address = address
        self.master = master
        self.behaviour = behaviour or Behaviour()
        self.label = label
        self.clock = link.monotonic
        self.started = self.clock()
        self.log: list[Request] = []
        self.sent: list[tuple[float, ApplicationResponse]] = []
        self.link_services: list[LinkFrame] = []
        self.other_addresses: list[LinkFrame] = []  # frames for another destination, or from another source
        self.closed = False
        self._framer = LinkFramer()
        self._transport = Reassembler(protocol="dnp3")
        self._transport_seq = 0
        self._unsolicited_seq = 0
        self.pending: _Pending | None = None
        self.confirm_wait = 5.0  # how long a fragment of a multi-fragment response waits for its confirm
        self.confirms: list[Request] = []
        self.frames_in: list[LinkFrame] = []
        evidence.connected(label, local=link.local, remote=link.remote,
                           note="the master under test connected")

    # ------------------------------------------------------------------ I/O

    def _send_frame(self, frame: LinkFrame, note: str = "") -> None:
        raw = encode_link(frame)
        self.evidence.sent(raw, note, connection=self.label, decoded=describe(frame))
        if not self.link.send(raw):
            self._close("the master's connection failed while the station was sending")

    def _close(self, note: str) -> None:
        if not self.closed:
            self.closed = True
            self.evidence.closed(self.label, note)

    def close(self) -> None:
        self.link.close()
        self._close("the station closed the connection (end of the clause)")

    def send_fragment(self, response: ApplicationResponse, note: str = "", *,
                      source: int | None = None) -> None:
        """One response fragment, segmented and framed (DIR clear: from the outstation, 9.2.4.1.3.1);
        from ``source`` instead of the station's address when given."""
        frames = link_frames(response, destination=self.master,
                             source=self.address if source is None else source, master=False,
                             transport_seq=self._transport_seq)
        self._transport_seq = (self._transport_seq + len(frames)) % 64
        for frame in frames:
            self._send_frame(frame, note)
        self.sent.append((self.clock(), response))
        if response.con:
            events = list(self.behaviour.events) if any(h.group == 2 for h in response.objects) else []
            self.pending = _Pending(seq=response.seq, uns=response.uns, events=events)

    def next_request(self, timeout: float) -> Request | None:
        """The next whole request fragment within ``timeout`` s (link services answered on the way),
        or None (time up, or the master closed: see :attr:`closed`)."""
        deadline = self.clock() + timeout
        while not self.closed:
            request = self._next_buffered()
            if request is not None:
                return request
            remaining = deadline - self.clock()
            if remaining <= 0:
                return None
            data = self.link.recv(remaining)
            if data is None:
                continue
            if not data:
                self._close("the master closed the connection")
                return None
            self._framer.feed(data)
        return None

    def _next_buffered(self) -> Request | None:
        while True:
            try:
                raw = self._framer.next_frame()
            except DecodeError as err:
                self.evidence.received(self._framer.discarded, f"does not frame: {err}",
                                       connection=self.label)
                raise
            if raw is NEED_DATA:
                return None
            frame = decode_link(bytes(raw))
            frame = _decoded(frame)
            self.evidence.received(bytes(raw), connection=self.label, decoded=describe(frame))
            self.frames_in.append(frame)
            if frame.destination != self.address or frame.source != self.master:
                self.other_addresses.append(frame)
            if not frame.prm:
                continue  # a secondary frame from the master (an ACK to nothing we asked): ignored
            if frame.function in (PrimaryFunction.RESET_LINK_STATES, PrimaryFunction.TEST_LINK_STATES,
                                  PrimaryFunction.CONFIRMED_USER_DATA):
                if frame.function != PrimaryFunction.CONFIRMED_USER_DATA:
                    self.link_services.append(frame)
                self._send_frame(LinkFrame(dir=False, prm=False, function=SecondaryFunction.ACK,
                                           destination=frame.source, source=self.address),
                                 "link ACK (9.2.4.1.3.6)")
            elif frame.function == PrimaryFunction.REQUEST_LINK_STATUS:
                self.link_services.append(frame)
                self._send_frame(LinkFrame(dir=False, prm=False, function=SecondaryFunction.LINK_STATUS,
                                           destination=frame.source, source=self.address),
                                 "LINK STATUS (9.2.4.1.3.6)")
            if frame.function not in _USER_DATA or not frame.user_data:
                continue
            octets = self._transport.feed(frame.user_data)
            if octets is None:
                continue
            fragment = decode_fragment(octets, "dnp3")
            if not isinstance(fragment, ApplicationRequest):
                raise DecodeError("dnp3", ("application", "function"), 1,
                                  f"the master sent a response ({fragment.function.name}); a master sends "
                                  "requests (4.2.2.5)")
            request = Request(fragment=fragment, at=self.clock(), octets=octets, wall=self.link.wall_clock())
            self.log.append(request)
            return request

    # ------------------------------------------------------------------ the policy

    def iin(self) -> int:
        """The IIN bits the station reports now (4.2.2.7)."""
        b = self.behaviour
        value = (Iin.DEVICE_RESTART if b.restart else 0) | (Iin.NEED_TIME if b.need_time else 0) \
            | (Iin.EVENT_BUFFER_OVERFLOW if b.overflow else 0)
        for event in b.events:
            value |= _CLASS_BITS[event.cls]
        return int(value)

    def serve(self, until: Callable[[Station], bool], timeout: float) -> bool:
        """Answer requests by the policy until ``until(self)`` holds (True) or ``timeout`` s pass, or the
        master closes the connection (False)."""
        deadline = self.clock() + timeout
        while not until(self):
            remaining = deadline - self.clock()
            if remaining <= 0 or self.closed:
                return False
            request = self.next_request(remaining)
            if request is not None:
                self.answer(request)
        return True

    def serve_quiet(self, quiet: float, timeout: float) -> bool:
        """Answer requests until the master has been quiet for ``quiet`` s (True), or ``timeout`` s pass
        or it closes the connection (False)."""
        deadline = self.clock() + timeout
        while not self.closed:
            remaining = deadline - self.clock()
            if remaining <= 0:
                return False
            request = self.next_request(min(quiet, remaining))
            if request is None:
                if self.closed:
                    return False
                if min(quiet, remaining) >= quiet:
                    return True
                continue
            self.answer(request)
        return False

    def answer(self, request: Request) -> None:
        """Answer ``request`` as the policy says."""
        f = request.fragment
        if f.function == FunctionCode.CONFIRM:
            self.confirms.append(request)
            if self.pending is not None and f.seq == self.pending.seq and f.uns == self.pending.uns:
                for event in self.pending.events:  # confirmed events are cleared (4.5.1, 4.6)
                    if event in self.behaviour.events:
                        self.behaviour.events.remove(event)
                self.pending = None
            return
        if self.behaviour.withhold(request) or f.function == FunctionCode.DIRECT_OPERATE_NR:
            return
        seq = (f.seq + 1) % 16 if self.behaviour.wrong_seq(request) else f.seq
        if f.function == FunctionCode.READ:
            self._answer_read(request, seq)
            return
        objects: tuple[ObjectHeader, ...] = ()
        iin_extra = 0
        if f.function == FunctionCode.WRITE:
            iin_extra = self._write(f)
        elif f.function == FunctionCode.DELAY_MEASURE:
            objects = (ObjectHeader(group=52, variation=2, qualifier=0x07, count=1,
                                    points=(Point(values={"delay": 0}),)),)
        elif f.function in (FunctionCode.ENABLE_UNSOLICITED, FunctionCode.DISABLE_UNSOLICITED):
            classes = {h.variation - 1 for h in f.objects if h.group == 60 and h.variation in (2, 3, 4)}
            if f.function == FunctionCode.ENABLE_UNSOLICITED:
                self.behaviour.unsolicited_enabled |= classes
            else:
                self.behaviour.unsolicited_enabled -= classes
        elif f.function in _ECHOED:
            objects = f.objects
        elif f.function != FunctionCode.RECORD_CURRENT_TIME:
            iin_extra = Iin.NO_FUNC_CODE_SUPPORT
        self.send_fragment(ApplicationResponse(seq=seq, con=self.behaviour.confirm_every_response,
                                               iin=self.iin() | iin_extra, objects=objects))

    def _write(self, f: ApplicationRequest) -> int:
        extra = 0
        for h in f.objects:
            if h.group == 80 and h.variation == 1:
                # Only index 7 (device restart) may be cleared by a write, to 0 (4.2.2.7.1, 4.4.2).
                for k, point in enumerate(h.points):
                    index = point.index if point.index is not None else (h.start or 0) + k
                    if index == 7 and not point.values.get("state"):
                        self.behaviour.restart = False
                    else:
                        extra |= Iin.PARAMETER_ERROR
            elif h.group == 50 and h.variation in (1, 3):
                self.behaviour.need_time = False
            else:
                extra |= Iin.OBJECT_UNKNOWN
        return int(extra)

    def static_headers(self) -> list[ObjectHeader]:
        """Class 0: binary inputs 0..3 (g1v2), analog inputs 0..1 (g30v1), counters 0..1 (g20v1)."""
        return [
            ObjectHeader(group=1, variation=2, qualifier=0x00, start=0, stop=3,
                         points=tuple(Point(index=i, values={"flags": 0x01 | (0x80 if i % 2 else 0)})
                                      for i in range(4))),
            ObjectHeader(group=30, variation=1, qualifier=0x00, start=0, stop=1,
                         points=tuple(Point(index=i, values={"flags": 0x01, "value": 100 * (i + 1)})
                                      for i in range(2))),
            ObjectHeader(group=20, variation=1, qualifier=0x00, start=0, stop=1,
                         points=tuple(Point(index=i, values={"flags": 0x01, "value": 7 + i})
                                      for i in range(2))),
        ]

    def _answer_read(self, request: Request, seq: int) -> None:
        f = request.fragment
        classes = {h.variation - 1 for h in f.objects if h.group == 60 and 1 <= h.variation <= 4}
        unknown = any(h.group != 60 for h in f.objects)
        events = [e for e in self.behaviour.events if e.cls in classes]
        heads: list[ObjectHeader] = []
        head = event_header(events)
        if head is not None:
            heads.append(head)
        statics = self.static_headers() if 0 in classes else []
        iin = self.iin() | (Iin.OBJECT_UNKNOWN if unknown else 0)
        con = self.behaviour.confirm_every_response or bool(events)
        parts = max(1, min(self.behaviour.integrity_fragments, len(statics))) if statics else 1
        if parts == 1:
            other = (self.address + 1) % 0xFFF0 if self.behaviour.wrong_source(request) else None
            self.send_fragment(ApplicationResponse(seq=seq, con=con, iin=iin, objects=(*heads, *statics)),
                               "" if other is None else f"from address {other}, not {self.address}",
                               source=other)
            return
        # A multi-fragment response: FIR on the first, FIN on the last, consecutive sequence numbers
        # (4.2.2.4.1, 4.2.2.4.2, 4.2.2.4.5); CON on every fragment but the last (and on the last too
        # when it carries events), each confirmed before the next is sent (4.2.2.4.3).
        chunks = [statics[i::parts] for i in range(parts)]
        chunks[0] = [*heads, *chunks[0]]
        for k, chunk in enumerate(chunks):
            last = k == parts - 1
            response = ApplicationResponse(fir=k == 0, fin=last, con=con or not last, seq=(seq + k) % 16,
                                           iin=iin, objects=tuple(chunk))
            self.send_fragment(response, f"fragment {k + 1} of {parts}")
            if not last:
                got = self.wait_confirm(response.seq, uns=False, timeout=self.confirm_wait)
                if not got:
                    return

    def wait_confirm(self, seq: int, *, uns: bool, timeout: float) -> bool:
        """Whether the master confirms ``seq`` (with UNS as given) within ``timeout`` s; other requests
        that arrive meanwhile are logged and answered."""
        before = len(self.confirms)

        def confirmed(station: Station) -> bool:
            return any(c.seq == seq and c.fragment.uns == uns for c in station.confirms[before:])

        return self.serve(confirmed, timeout)

    def send_unsolicited(self, events: list[Event] | None = None, *,
                         seq: int | None = None) -> ApplicationResponse:
        """An unsolicited response (UNS, CON set: 4.2.2.4.4, 4.6) with ``events`` (none: a null one);
        returns it."""
        head = event_header(events or [])
        useq = self._unsolicited_seq if seq is None else seq
        self._unsolicited_seq = (useq + 1) % 16
        response = ApplicationResponse(function=FunctionCode.UNSOLICITED_RESPONSE, uns=True, con=True,
                                       seq=useq,
                                       iin=self.iin(), objects=() if head is None else (head,))
        self.send_fragment(response, "unsolicited response")
        return response

    def requests(self, function: FunctionCode | None = None) -> list[Request]:
        """The requests logged (of ``function``), oldest first, confirms included."""
        return [r for r in self.log if function is None or r.function == function]

    def elapsed(self) -> float:
        return self.clock() - self.started


def log_words(station: Station) -> str:
    """Every request the station got, and whether the master then closed the connection."""
    return summary(station.log) + ("; then the master closed the connection" if station.closed else "")


def summary(requests: Iterable[Request]) -> str:
    """The requests as a short list for a verdict's message."""
    out = []
    for r in requests:
        heads = ",".join(f"g{h.group}v{h.variation}" for h in r.fragment.objects)
        flags = "(UNS)" if r.fragment.uns else ""
        out.append(f"{r.function.name}#{r.seq}{flags}" + (f"[{heads}]" if heads else ""))
    return " ".join(out) or "(none)"

