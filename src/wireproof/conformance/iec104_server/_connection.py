"""One probe connection to the controlled station under test: APDUs in and out, exactly as a clause says.

The suite is its own controlling station at the wire level. It runs no
APCI machine: a clause decides every APDU it sends, so it can send what a
controlling station never would (104 5.1: a bad start character, a length
out of 4..253, an N(S) out of sequence, an N(R) acknowledging frames never
sent; 104 5.3: a U format control octet naming no function or two). The
codec (:func:`~wireproof.codecs.iec104.codec.encode_apdu`) builds the
frames; crafted octets are assembled here.

What a controlling station must do so that the station can go on, the
connection does unless the clause turns it off: it acknowledges the
station's I frames with an S frame once ``w`` of them are unacknowledged
(``auto_ack``; the k-window and t1 clauses hold acknowledgements back) and
answers TESTFR act with TESTFR con (``auto_test``; the t3 clauses hold
it back). Its own I frames carry N(S) = V(S) and N(R) = V(R), the count
of the station's I frames received (104 5.1).

Receiving: the TCP stream goes through the codec's
:class:`~wireproof.codecs.iec104.framers.ApduFramer` and each APDU is
decoded. I frames are checked as they come: the station's N(S) must be
V(R) (:attr:`Connection.sequence_errors`), its N(R) must not acknowledge
more than was sent (:attr:`Connection.ack_errors`). The highest N(R) the
station gave (in an I or S frame) is :attr:`Connection.acked`.

Verdicts: what the station failed to do is an ``AssertionError`` subclass
(``fail``): :class:`NoResponse`, :class:`ConnectionClosed`; octets that do
not decode are the codec's ``DecodeError`` (also a ``fail``). Harness
trouble stays a ``HarnessError`` (``error``).

Evidence: one entry per APDU, sent or received, with the decoded view
(format, sequence numbers, type identification, cause with P/N and T,
common address, objects), labelled with the connection; connects and
closes with both addresses.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.iec104.codec import decode_apdu, encode_apdu
from wireproof.codecs.iec104.constants import IEC104_SIZES, SEQ_MODULO, Cause, FieldSizes, TypeId, UFunction
from wireproof.codecs.iec104.framers import ApduFramer
from wireproof.codecs.iec104.messages import Apdu, Asdu, IFrame, InformationObject, SFrame, UFrame
from wireproof.errors import DecodeError, TransportError, TransportTimeout
from wireproof.harness.suite_support import Deadline
from wireproof.harness.transports import Transport, local_failure, open_transport

__all__ = ["Connection", "ConnectionClosed", "NoResponse", "Sink", "Stopwatch", "describe"]

MAX_RECEIVED_ENTRIES = 2000  # evidence entries of received APDUs a connection records
MAX_QUEUED = 512  # APDUs a queue keeps (a flood drops the oldest)
_RECV_CHUNK = 4096
_FOREVER = 1e9


class Sink(Protocol):
    """Where a connection's evidence goes (the plugin's ``EvidenceRecorder`` is one)."""

    def sent(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None: ...
    def received(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None: ...
    def connected(self, connection: str, *, local: str, remote: str, note: str = "") -> None: ...
    def closed(self, connection: str, note: str = "") -> None: ...
    def note(self, text: str) -> None: ...


class NoResponse(AssertionError):
    """The station did not answer within the time allowed."""


class ConnectionClosed(AssertionError):
    """The station closed (or reset) the connection."""


class Stopwatch:
    """Seconds since it was made (on the monotonic clock, through :class:`Deadline`)."""

    def __init__(self) -> None:
        self._deadline = Deadline(_FOREVER)

    def elapsed(self) -> float:
        return _FOREVER - self._deadline.remaining()


def _name(enum_type: Any, value: int) -> str:
    try:
        return str(enum_type(value).name)
    except ValueError:
        return str(value)


def describe_asdu(asdu: Asdu) -> str:
    cause = _name(Cause, asdu.cause) + (" negative" if asdu.negative else "") + (" test" if asdu.test else "")
    head = f"{_name(TypeId, asdu.type_id)} {cause} CA {asdu.common_address}"
    if asdu.originator:
        head += f" OA {asdu.originator}"
    if not asdu.known:
        return f"{head}, {asdu.raw_number} object(s) of an unknown type ({len(asdu.raw)} octets)"
    shown = []
    for obj in asdu.objects[:8]:
        values = ", ".join(f"{k}={v}" for k, v in obj.elements.items() if k != "time")
        shown.append(f"IOA {obj.address}" + (f" {values}" if values else ""))
    more = f" (+{len(asdu.objects) - 8} more)" if len(asdu.objects) > 8 else ""
    return f"{head}: {'; '.join(shown)}{more}"


def describe(data: bytes, sizes: FieldSizes = IEC104_SIZES) -> str:
    """The codec's view of one APDU in one line (or its error, with field and offset)."""
    try:
        apdu = decode_apdu(data, sizes=sizes)
    except DecodeError as err:
        return (
            f"not a valid APDU ({err.reason}; {'.'.join(map(str, err.path)) or 'apdu'} at octet {err.offset})"
        )
    if isinstance(apdu, UFrame):
        return f"U {apdu.function.name}"
    if isinstance(apdu, SFrame):
        return f"S N(R)={apdu.recv_seq}"
    body = apdu.asdu if isinstance(apdu.asdu, Asdu) else None
    text = f"I N(S)={apdu.send_seq} N(R)={apdu.recv_seq}"
    return f"{text} | {describe_asdu(body)}" if body is not None else text


class Connection:
    """One TCP connection to the station, opened on first use (module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        sink: Sink | None = None,
        label: str = "connection 1",
        w: int = 8,
        sizes: FieldSizes = IEC104_SIZES,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.sink = sink
        self.label = label
        self.w = w
        self.sizes = sizes
        self._transport: Transport | None = None
        self._framer = ApduFramer()
        self.vs = 0  # our next N(S)
        self.vr = 0  # the station's I frames received (its next N(S))
        self.our_ack = 0  # the N(R) we last sent
        self.acked = 0  # the highest N(R) the station sent
        self.auto_ack = True
        self.ack_delay = 1.0  # seconds after which a received I frame is acknowledged (our t2), with auto_ack
        self._unacked_since: float | None = None  # when the oldest unacknowledged I frame came (self.clock)
        self.auto_test = True
        self.closed = False
        self.asdus: deque[tuple[IFrame, Asdu]] = deque(maxlen=MAX_QUEUED)
        self.uframes: deque[UFrame] = deque(maxlen=MAX_QUEUED)
        self.sframes: deque[SFrame] = deque(maxlen=MAX_QUEUED)
        self.iframes_received = 0
        self.sequence_errors: list[str] = []
        self.ack_errors: list[str] = []
        self.received_entries = 0
        self.clock = Stopwatch()
        self.last_sent = 0.0  # when we last sent, on self.clock
        self.timeline: list[tuple[float, Apdu]] = []  # every APDU received, with its time on self.clock

    # -- connection ---------------------------------------------------------

    @property
    def transport(self) -> Transport:
        if self.closed:
            raise ConnectionClosed(f"[{self.label}] the station closed the connection")
        if self._transport is None:
            try:
                self._transport = open_transport(self.url, timeout=max(self.timeout, 1.0))
            except TransportTimeout:
                raise ConnectionClosed(f"[{self.label}] the station did not accept the connection") from None
            except TransportError as err:
                if local_failure(err) or err.errno is None:
                    raise
                how = "refused" if err.errno == errno.ECONNREFUSED else "could not take"
                raise ConnectionClosed(f"[{self.label}] the station {how} the connection ({err})") from None
            self.clock = Stopwatch()
            if self.sink is not None:
                sock: Any = getattr(self._transport, "socket", None)
                try:
                    local, remote = _address(sock.getsockname()), _address(sock.getpeername())
                except (AttributeError, OSError):
                    local = remote = ""
                self.sink.connected(self.label, local=local, remote=remote)
        return self._transport

    def open(self) -> None:
        _ = self.transport

    def close(self) -> None:
        if self._transport is not None:
            if self.sink is not None:
                self.sink.closed(self.label)
            self._transport.close()
            self._transport = None

    def note(self, text: str) -> None:
        if self.sink is not None:
            self.sink.note(text)

    # -- sending ------------------------------------------------------------

    def send_bytes(self, data: bytes, note: str = "", *, decoded: str = "") -> None:
        transport = self.transport
        self.last_sent = self.clock.elapsed()
        if self.sink is not None:
            self.sink.sent(data, note, connection=self.label, decoded=decoded or describe(data, self.sizes))
        try:
            transport.send(data)
        except TransportError as err:
            if local_failure(err):
                raise
            self._lost()
            raise ConnectionClosed(f"[{self.label}] the station closed the connection ({err})") from None

    def send_apdu(self, apdu: Apdu, note: str = "") -> None:
        self.send_bytes(encode_apdu(apdu, sizes=self.sizes), note)
        if isinstance(apdu, IFrame | SFrame):
            self.our_ack = apdu.recv_seq
            if self.unacknowledged == 0:
                self._unacked_since = None

    def send_u(self, function: UFunction, note: str = "") -> None:
        self.send_apdu(UFrame(function=function), note)

    def send_s(self, recv_seq: int | None = None, note: str = "") -> None:
        self.send_apdu(SFrame(recv_seq=self.vr if recv_seq is None else recv_seq), note)

    def send_asdu(
        self, asdu: Asdu | bytes, note: str = "", *, send_seq: int | None = None, recv_seq: int | None = None
    ) -> None:
        """One I frame: N(S) = V(S) (then V(S) + 1) and N(R) = V(R) unless given."""
        ns = self.vs if send_seq is None else send_seq
        self.send_apdu(
            IFrame(send_seq=ns, recv_seq=self.vr if recv_seq is None else recv_seq, asdu=asdu), note
        )
        if send_seq is None:
            self.vs = (self.vs + 1) % SEQ_MODULO

    # -- receiving ----------------------------------------------------------

    def _lost(self) -> None:
        self.closed = True
        if self._transport is not None:
            if self.sink is not None:
                self.sink.closed(self.label, "closed by the station")
            self._transport.close()
            self._transport = None

    def _pump(self, deadline: Deadline) -> bool:
        """Read what arrives until ``deadline``; False once it has passed, True while it has not.

        With ``auto_ack`` the station's I frames are acknowledged by an S frame ``ack_delay`` after the
        oldest unacknowledged one came (a controlling station's t2, 104 5.2), so a clause that listens
        for a while does not make the station's t1 run out.
        """
        remaining = deadline.remaining()
        if remaining <= 0:
            return False
        transport = self.transport
        wait = remaining
        if self.auto_ack and self._unacked_since is not None:
            due = self._unacked_since + self.ack_delay - self.clock.elapsed()
            if due <= 0:
                self.send_s(note=f"acknowledge within our t2 ({self.ack_delay:g} s)")
                return True
            wait = min(wait, due)
        try:
            data = transport.recv(_RECV_CHUNK, timeout=wait)
        except TransportTimeout:
            return not deadline.expired
        except TransportError as err:
            if local_failure(err):
                raise
            self._lost()
            raise ConnectionClosed(f"[{self.label}] the station reset the connection ({err})") from None
        if not data:
            self._lost()
            raise ConnectionClosed(f"[{self.label}] the station closed the connection")
        self._framer.feed(data)
        while True:
            try:
                raw = self._framer.next_frame()
            except DecodeError as err:
                self._record(self._framer.discarded, f"octets that make no APDU ({err.reason})")
                raise
            if raw is NEED_DATA:
                return True
            self._take(bytes(raw))

    def _record(self, data: bytes, decoded: str) -> None:
        self.received_entries += 1
        if self.sink is not None and self.received_entries <= MAX_RECEIVED_ENTRIES:
            self.sink.received(data, connection=self.label, decoded=decoded)

    def _take(self, raw: bytes) -> None:
        self._record(raw, describe(raw, self.sizes))
        apdu = decode_apdu(raw, sizes=self.sizes)  # a malformed APDU from the station: DecodeError, a fail
        self.timeline.append((self.clock.elapsed(), apdu))
        del self.timeline[:-MAX_QUEUED]
        if isinstance(apdu, UFrame):
            self.uframes.append(apdu)
            if apdu.function == UFunction.TESTFR_ACT and self.auto_test:
                self.send_u(UFunction.TESTFR_CON, "answer TESTFR act")
            return
        self._check_ack(apdu.recv_seq)
        if isinstance(apdu, SFrame):
            self.sframes.append(apdu)
            return
        if apdu.send_seq != self.vr:
            self.sequence_errors.append(f"I frame N(S)={apdu.send_seq}, expected {self.vr}")
        self.vr = (apdu.send_seq + 1) % SEQ_MODULO
        self.iframes_received += 1
        if self._unacked_since is None:
            self._unacked_since = self.clock.elapsed()
        if isinstance(apdu.asdu, Asdu):
            self.asdus.append((apdu, apdu.asdu))
        if self.auto_ack and self.unacknowledged >= self.w:
            self.send_s(note=f"acknowledge after w={self.w} I frames")

    def _check_ack(self, nr: int) -> None:
        if (self.vs - nr) % SEQ_MODULO > (self.vs - self.acked) % SEQ_MODULO:
            self.ack_errors.append(
                f"N(R)={nr} while we had sent {self.vs} I frame(s) and it had acknowledged {self.acked}"
            )
            return
        self.acked = nr

    @property
    def unacknowledged(self) -> int:
        """The station's I frames we have not acknowledged yet."""
        return (self.vr - self.our_ack) % SEQ_MODULO

    def listen(self, window: float) -> None:
        """Take in everything the station sends for ``window`` seconds."""
        deadline = Deadline(window)
        while self._pump(deadline):
            pass

    def wait_for(self, found: Callable[[], bool], timeout: float | None = None) -> bool:
        """Read until ``found()`` or ``timeout`` (the response timeout by default); whether it was found."""
        deadline = Deadline(self.timeout if timeout is None else timeout)
        while not found():
            if not self._pump(deadline):
                return found()
        return True

    def read_u(self, function: UFunction, timeout: float | None = None, *, what: str = "") -> UFrame:
        """The next U frame with ``function`` (others before it are dropped)."""
        limit = self.timeout if timeout is None else timeout

        def found() -> bool:
            while self.uframes and self.uframes[0].function != function:
                self.uframes.popleft()
            return bool(self.uframes)

        if not self.wait_for(found, limit):
            raise NoResponse(
                f"[{self.label}] no {function.name} {what or ''}within {limit:g} s".replace("  ", " ")
            )
        return self.uframes.popleft()

    def read_asdu(
        self,
        match: Callable[[Asdu], bool] | None = None,
        timeout: float | None = None,
        *,
        what: str = "an ASDU",
    ) -> Asdu:
        """The first queued (or next arriving) ASDU for which ``match`` holds; it is taken off the queue."""
        limit = self.timeout if timeout is None else timeout
        hit: list[Asdu] = []

        def found() -> bool:
            for item in self.asdus:
                if match is None or match(item[1]):
                    self.asdus.remove(item)
                    hit.append(item[1])
                    return True
            return False

        if not self.wait_for(found, limit):
            raise NoResponse(f"[{self.label}] no {what} within {limit:g} s")
        return hit[0]

    def closes_within(self, timeout: float) -> bool:
        """Whether the station closes the connection within ``timeout`` seconds (reading meanwhile)."""
        if self.closed:
            return True
        try:
            self.listen(timeout)
        except ConnectionClosed:
            return True
        except DecodeError:
            return False
        return self.closed

    def clear(self) -> None:
        self.asdus.clear()
        self.uframes.clear()
        self.sframes.clear()

    # -- procedures ---------------------------------------------------------

    def start(self) -> None:
        """STARTDT act, then its con (104 5.3)."""
        self.send_u(UFunction.STARTDT_ACT)
        self.read_u(UFunction.STARTDT_CON, what="in answer to STARTDT act ")

    def stop(self) -> None:
        """STOPDT act, then its con; I frames received before the con are acknowledged at once (the
        station confirms STOPDT once its I frames are acknowledged, 104 5.3)."""
        if self.unacknowledged:
            self.send_s(note="acknowledge before STOPDT")
        self.send_u(UFunction.STOPDT_ACT)

        def confirmed() -> bool:
            if self.unacknowledged:
                self.send_s(note="acknowledge (STOPDT pending)")
            return any(u.function == UFunction.STOPDT_CON for u in self.uframes)

        if not self.wait_for(confirmed):
            raise NoResponse(
                f"[{self.label}] no STOPDT_CON in answer to STOPDT act within {self.timeout:g} s"
            )
        self.read_u(UFunction.STOPDT_CON)

    def command(
        self,
        type_id: int,
        cause: int,
        common_address: int,
        objects: tuple[InformationObject, ...],
        *,
        note: str = "",
        originator: int = 0,
    ) -> Asdu:
        asdu = Asdu(
            type_id=type_id,
            cause=cause,
            common_address=common_address,
            objects=objects,
            originator=originator,
        )
        self.send_asdu(asdu, note)
        return asdu

    def confirmation(
        self, type_id: int, *, cause: int = Cause.ACTIVATION_CON, timeout: float | None = None, what: str = ""
    ) -> Asdu:
        """The station's next ASDU of ``type_id`` with ``cause`` (P/N either way)."""
        return self.read_asdu(
            lambda a: a.type_id == type_id and a.cause == cause,
            timeout,
            what=what or f"{_name(TypeId, type_id)} {_name(Cause, cause)}",
        )


def _address(sockaddr: Any) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
