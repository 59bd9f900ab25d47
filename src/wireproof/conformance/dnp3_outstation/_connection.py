"""One probe connection to the outstation under test: link frames in and out, exactly as a clause says.

The suite is its own DNP3 master at the wire level. It does not run a
master state machine: a clause decides every frame it sends, so it can send
what a master never would (IEEE 1815-2012 9.2.4: a bad header CRC, a bad
user-data block CRC, other start octets, a function code table 9-1 does not
define, another destination, an FCB that does not toggle; 8.2: a segment
without FIR, a sequence gap). The codec builds the frames
(:func:`~wireproof.codecs.dnp3.link.encode_link`, :func:`~wireproof.codecs.dnp3.transport.segment`,
:func:`~wireproof.codecs.dnp3.application.encode_fragment`); what it refuses to
build (an undefined link function) is assembled here from the header octets
with :func:`~wireproof.codecs.dnp3.link.crc16_dnp`, and corruption is applied
to encoded octets (:func:`corrupt`).

Receiving: the bytes of the TCP stream go through the codec's
:class:`~wireproof.codecs.dnp3.framers.LinkFramer`; each whole frame is
decoded (:func:`~wireproof.codecs.dnp3.link.decode_link`). Primary frames
with user data feed a transport :class:`~wireproof.codecs.dnp3.transport.Reassembler`
and whole fragments are decoded as responses; secondary frames (ACK, NACK,
LINK_STATUS, NOT_SUPPORTED) are kept apart for the link clauses.
Unsolicited responses (UNS set, 4.2.2.4.4) are queued apart from solicited
ones and, when they ask for it (CON), confirmed at once unless the clause
holds confirmations back (``auto_confirm_unsolicited``), so a device that
reports unsolicited does not disturb a clause about something else.

Verdicts: what the device failed to do is an ``AssertionError`` subclass
(``fail``): :class:`NoResponse` (nothing within the time allowed),
:class:`ConnectionClosed`; bytes that do not decode are the codec's
``DecodeError`` (also a ``fail``). Harness trouble stays a
``HarnessError`` (``error``).

Evidence (:class:`Transcript`): one entry per link frame, sent or received,
with the decoded view (link header, transport header, application control,
function, IIN and object headers, or the codec's error with field and
offset), labelled with the connection; octets that make no frame are one
entry of their own. Connects and closes are recorded with both addresses,
so the evidence bundle rebuilds the TCP conversation.
"""

from __future__ import annotations

import errno
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import crc16_dnp, decode_link, encode_link
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, LinkFrame, ObjectHeader
from wireproof.codecs.dnp3.transport import Reassembler, decode_transport_header, segment
from wireproof.errors import DecodeError, HarnessError, TransportError, TransportTimeout
from wireproof.harness.suite_support import Deadline
from wireproof.harness.transports import Transport, local_failure, open_transport

__all__ = [
    "Connection",
    "ConnectionClosed",
    "NoResponse",
    "Response",
    "Sink",
    "Transcript",
    "corrupt",
    "describe",
    "raw_frame",
]

_USER_DATA = (PrimaryFunction.CONFIRMED_USER_DATA, PrimaryFunction.UNCONFIRMED_USER_DATA)
MAX_RECEIVED_ENTRIES = 2000  # evidence entries of received frames a connection records
_RECV_CHUNK = 4096  # read at most this much at once: the framer never holds more than a chunk and a frame
MAX_QUEUED = 256  # frames or fragments a queue keeps (a flood drops the oldest)


class Sink(Protocol):
    """Where a connection's evidence goes (the plugin's ``EvidenceRecorder`` is one)."""

    def sent(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None: ...
    def received(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None: ...
    def connected(self, connection: str, *, local: str, remote: str, note: str = "") -> None: ...
    def closed(self, connection: str, note: str = "") -> None: ...
    def note(self, text: str) -> None: ...


class NoResponse(AssertionError):
    """The device did not answer within the time allowed."""


class ConnectionClosed(AssertionError):
    """The device closed (or reset) the connection."""


# --------------------------------------------------------------------------- building


def raw_frame(control: int, destination: int, source: int, user_data: bytes = b"") -> bytes:
    """An FT3 frame from its control octet, whatever it says (9.2.4): right CRCs, any function code."""
    head = bytes(
        (
            0x05,
            0x64,
            5 + len(user_data),
            control & 0xFF,
            destination & 0xFF,
            destination >> 8 & 0xFF,
            source & 0xFF,
            source >> 8 & 0xFF,
        )
    )
    crc = crc16_dnp(head)
    out = bytearray(head + bytes((crc & 0xFF, crc >> 8)))
    for i in range(0, len(user_data), 16):
        chunk = user_data[i : i + 16]
        crc = crc16_dnp(chunk)
        out += chunk + bytes((crc & 0xFF, crc >> 8))
    return bytes(out)


def corrupt(frame: bytes, offset: int) -> bytes:
    """``frame`` with the octet at ``offset`` inverted (a CRC that no longer checks)."""
    out = bytearray(frame)
    out[offset] ^= 0xFF
    return bytes(out)


# --------------------------------------------------------------------------- describing


def _objects(headers: Iterable[ObjectHeader]) -> str:
    parts = []
    for h in headers:
        rng = (
            f" {h.start}..{h.stop}"
            if h.start is not None
            else f" count {h.count}"
            if h.count is not None
            else ""
        )
        parts.append(
            f"g{h.group}v{h.variation} q0x{h.qualifier:02X}{rng}"
            + (f" ({len(h.points)} points)" if h.points else "")
        )
    return ", ".join(parts)


def describe_fragment(fragment: ApplicationRequest | ApplicationResponse) -> str:
    f = fragment
    flags = "".join(
        name for name, on in (("FIR ", f.fir), ("FIN ", f.fin), ("CON ", f.con), ("UNS ", f.uns)) if on
    )
    head = f"app {flags}seq {f.seq} {FunctionCode(f.function).name}"
    if isinstance(f, ApplicationResponse):
        head += f" IIN {f.iin >> 8:02X} {f.iin & 0xFF:02X}"
    objects = _objects(f.objects)
    return f"{head}{': ' + objects if objects else ''}"


def describe(data: bytes) -> str:
    """The codec's view of one link frame in one line (or its error, with field and offset)."""
    try:
        frame = decode_link(data)
    except DecodeError as err:
        where = ".".join(map(str, err.path)) or "frame"
        head = ""
        if len(data) >= 8:
            head = f"control 0x{data[3]:02X} {data[6] | data[7] << 8}->{data[4] | data[5] << 8}: "
        return f"{head}not a valid link frame ({err.reason}; {where} at octet {err.offset})"
    bits = "".join(
        name
        for name, on in (
            ("DIR ", frame.dir),
            ("PRM ", frame.prm),
            ("FCB ", frame.fcb),
            ("FCV " if frame.prm else "DFC ", frame.fcv),
        )
        if on
    )
    text = f"link {bits}{frame.function.name} {frame.source}->{frame.destination}"
    if frame.user_data:
        t = decode_transport_header(frame.user_data[0])
        text += f" | transport {'FIR ' if t.fir else ''}{'FIN ' if t.fin else ''}seq {t.seq}"
        if t.fir and t.fin:
            try:
                text += " | " + describe_fragment(decode_fragment(frame.user_data[1:]))
            except DecodeError as err:
                text += (
                    f" | not a valid fragment ({err.reason}; {'.'.join(map(str, err.path))} at {err.offset})"
                )
        else:
            text += f" ({len(frame.user_data) - 1} octets of a fragment)"
    return text


class Transcript:
    """A connection's traffic as evidence: one entry per link frame (module docstring)."""

    def __init__(self, sink: Sink, label: str) -> None:
        self.sink = sink
        self.label = label
        self.received_entries = 0
        self.unrecorded = 0  # octets received after the cap, counted, not kept

    def sent(self, data: bytes, note: str = "") -> None:
        frames = _split_frames(data)
        if frames is None:
            self.sink.sent(
                data, note, connection=self.label, decoded=f"{len(data)} octets that frame as no link frame"
            )
            return
        for frame in frames:
            self.sink.sent(frame, note, connection=self.label, decoded=describe(frame))

    def received(self, data: bytes, decoded: str) -> None:
        """One received frame (or run of octets that make none); past :data:`MAX_RECEIVED_ENTRIES` on a
        connection only counted, so a device that floods cannot grow the evidence without bound."""
        self.received_entries += 1
        if self.received_entries <= MAX_RECEIVED_ENTRIES:
            self.sink.received(data, connection=self.label, decoded=decoded)
            return
        if self.unrecorded == 0:
            self.sink.note(
                f"[{self.label}] more than {MAX_RECEIVED_ENTRIES} frames received: the rest are "
                "counted, not recorded"
            )
        self.unrecorded += len(data)


def _split_frames(data: bytes) -> list[bytes] | None:
    """``data`` cut at the link frames its headers announce, or None if that does not add up."""
    from wireproof.codecs.dnp3.link import frame_size

    out, i = [], 0
    while i < len(data):
        if len(data) - i < 10 or data[i : i + 2] != b"\x05\x64" or data[i + 2] < 5:
            return None
        end = i + frame_size(data[i + 2])
        if end > len(data):
            return None
        out.append(data[i:end])
        i = end
    return out


# --------------------------------------------------------------------------- receiving


@dataclass(frozen=True, slots=True, kw_only=True)
class Response:
    """One application fragment from the device: decoded, with the link frames it came in."""

    fragment: ApplicationResponse
    raw: bytes
    frames: tuple[LinkFrame, ...]

    @property
    def iin(self) -> int:
        return self.fragment.iin

    @property
    def objects(self) -> tuple[ObjectHeader, ...]:
        return self.fragment.objects

    def groups(self) -> set[int]:
        return {h.group for h in self.fragment.objects}

    def points(self, group: int) -> list[Any]:
        return [p for h in self.fragment.objects if h.group == group for p in h.points]


@dataclass(slots=True)
class _Inbox:
    secondary: deque[LinkFrame] = field(default_factory=lambda: deque(maxlen=MAX_QUEUED))
    solicited: deque[Response] = field(default_factory=lambda: deque(maxlen=MAX_QUEUED))
    unsolicited: deque[Response] = field(default_factory=lambda: deque(maxlen=MAX_QUEUED))
    other: deque[LinkFrame] = field(
        default_factory=lambda: deque(maxlen=MAX_QUEUED)
    )  # primary frames without a whole fragment yet


class Connection:
    """One TCP connection to the outstation, opened on first use (module docstring)."""

    def __init__(
        self,
        url: str,
        *,
        master: int,
        outstation: int,
        timeout: float,
        sink: Sink | None = None,
        label: str = "connection 1",
        settle: float = 0.0,
    ) -> None:
        self.url = url
        self.settle = settle  # seconds to take in what the device sends on connecting, before the first send
        self.master = master
        self.outstation = outstation
        self.timeout = timeout
        self.label = label
        self.transcript = None if sink is None else Transcript(sink, label)
        self.sink = sink
        self._transport: Transport | None = None
        self._framer = LinkFramer()
        self._reassembler = Reassembler()
        self.inbox = _Inbox()
        self.app_seq = 0
        self.transport_seq = 0
        self.fcb = True  # the next confirmed frame's FCB (the first after a reset is 1, 9.2.4.1.3.3)
        self.auto_confirm_unsolicited = True
        self.decode_errors: list[DecodeError] = []
        self._segments: list[LinkFrame] = []

    # -- connection ---------------------------------------------------------

    @property
    def transport(self) -> Transport:
        if self._transport is None:
            try:
                self._transport = open_transport(self.url, timeout=max(self.timeout, 1.0))
            except TransportTimeout:
                raise ConnectionClosed(f"[{self.label}] the device did not accept the connection") from None
            except TransportError as err:
                if local_failure(err) or err.errno is None:
                    raise
                how = "refused" if err.errno == errno.ECONNREFUSED else "could not take"
                raise ConnectionClosed(f"[{self.label}] the device {how} the connection ({err})") from None
            if self.transcript is not None:
                sock: Any = getattr(self._transport, "socket", None)
                try:
                    local, remote = _address(sock.getsockname()), _address(sock.getpeername())
                except (AttributeError, OSError):
                    local = remote = ""
                self.transcript.sink.connected(self.label, local=local, remote=remote)
        return self._transport

    def close(self) -> None:
        if self._transport is not None:
            if self.transcript is not None:
                self.transcript.sink.closed(self.label)
            self._transport.close()
            self._transport = None

    def note(self, text: str) -> None:
        if self.sink is not None:
            self.sink.note(text)

    # -- sending ------------------------------------------------------------

    def send_bytes(self, data: bytes, note: str = "") -> None:
        """Octets exactly as given (each link frame in them is one evidence entry).

        Before the first send, what the device sends on connecting (a null
        unsolicited response, 4.6) is taken in for ``settle`` seconds, confirmed
        and forgotten: in the clause, so a device that misbehaves then is judged.
        """
        if self.settle > 0:
            settle, self.settle = self.settle, 0.0
            self.drain(settle)
        transport = self.transport
        if self.transcript is not None:
            self.transcript.sent(data, note)
        try:
            transport.send(data)
        except TransportError as err:
            if local_failure(err):
                raise
            raise ConnectionClosed(f"[{self.label}] the device closed the connection ({err})") from None

    def link_frame(
        self,
        function: PrimaryFunction,
        *,
        user_data: bytes = b"",
        fcb: bool = False,
        fcv: bool = False,
        destination: int | None = None,
        source: int | None = None,
    ) -> bytes:
        """A primary frame from the master (DIR=1, PRM=1; 9.2.4.1.3)."""
        return encode_link(
            LinkFrame(
                dir=True,
                prm=True,
                fcb=fcb,
                fcv=fcv,
                function=function,
                destination=self.outstation if destination is None else destination,
                source=self.master if source is None else source,
                user_data=user_data,
            )
        )

    def next_app_seq(self) -> int:
        seq = self.app_seq
        self.app_seq = (self.app_seq + 1) % 16
        return seq

    def request_frames(
        self,
        function: FunctionCode,
        objects: tuple[ObjectHeader, ...] = (),
        *,
        seq: int | None = None,
        confirmed: bool = False,
        destination: int | None = None,
        segment_size: int = 249,
        raw_objects: bytes | None = None,
    ) -> tuple[int, list[bytes]]:
        """The link frames of a request fragment (seq, frames); ``raw_objects`` replaces the object octets."""
        seq = self.next_app_seq() if seq is None else seq
        fragment = encode_fragment(ApplicationRequest(seq=seq, function=function, objects=objects))
        if raw_objects is not None:
            fragment = fragment[:2] + raw_objects
        return seq, self.fragment_frames(
            fragment, confirmed=confirmed, destination=destination, segment_size=segment_size
        )

    def fragment_frames(
        self,
        fragment: bytes,
        *,
        confirmed: bool = False,
        destination: int | None = None,
        segment_size: int = 249,
    ) -> list[bytes]:
        frames = []
        for piece in segment(fragment, seq=self.transport_seq, size=segment_size):
            self.transport_seq = (self.transport_seq + 1) % 64
            if confirmed:
                frames.append(
                    self.link_frame(
                        PrimaryFunction.CONFIRMED_USER_DATA,
                        user_data=piece,
                        fcb=self.fcb,
                        fcv=True,
                        destination=destination,
                    )
                )
                self.fcb = not self.fcb
            else:
                frames.append(
                    self.link_frame(
                        PrimaryFunction.UNCONFIRMED_USER_DATA, user_data=piece, destination=destination
                    )
                )
        return frames

    def send_request(
        self,
        function: FunctionCode,
        objects: tuple[ObjectHeader, ...] = (),
        *,
        seq: int | None = None,
        note: str = "",
        raw_objects: bytes | None = None,
    ) -> int:
        seq, frames = self.request_frames(function, objects, seq=seq, raw_objects=raw_objects)
        self.send_bytes(b"".join(frames), note)
        return seq

    def request(
        self,
        function: FunctionCode,
        objects: tuple[ObjectHeader, ...] = (),
        *,
        seq: int | None = None,
        timeout: float | None = None,
        raw_objects: bytes | None = None,
        confirm: bool = True,
    ) -> Response:
        """Send a request and read its (first) response fragment, which must echo its sequence number.

        A response asking for confirmation (CON) is confirmed when ``confirm``.
        """
        seq = self.send_request(function, objects, seq=seq, raw_objects=raw_objects)
        response = self.read_response(timeout, what=f"{function.name} (seq {seq})")
        assert response.fragment.seq == seq, (
            f"[{self.label}] the response to {function.name} carries sequence {response.fragment.seq}, the "
            f"request {seq} (IEEE 1815 4.2.2.4.5: a response echoes the request's sequence number)"
        )
        if confirm and response.fragment.con:
            self.confirm(response.fragment.seq)
        return response

    def request_all(
        self,
        function: FunctionCode,
        objects: tuple[ObjectHeader, ...] = (),
        *,
        timeout: float | None = None,
        max_fragments: int = 64,
    ) -> list[Response]:
        """A request and every fragment of its response (FIR .. FIN), each one confirmed as it asks."""
        first = self.request(function, objects, timeout=timeout)
        out = [first]
        while not out[-1].fragment.fin:
            if len(out) >= max_fragments:
                raise AssertionError(
                    f"[{self.label}] more than {max_fragments} response fragments without FIN"
                )
            out.append(
                self.read_response(timeout, what=f"fragment {len(out) + 1} of the {function.name} response")
            )
            if out[-1].fragment.con:
                self.confirm(out[-1].fragment.seq)
        return out

    def confirm(self, seq: int, *, uns: bool = False) -> None:
        """An application CONFIRM (4.2.2.4.3) for the response with sequence ``seq``."""
        fragment = encode_fragment(ApplicationRequest(seq=seq, uns=uns, function=FunctionCode.CONFIRM))
        self.send_bytes(b"".join(self.fragment_frames(fragment)), "confirm")

    # -- receiving ----------------------------------------------------------

    def _pump(self, deadline: Deadline) -> bool:
        """Read what arrives until ``deadline``; True if anything was read, False on a timeout."""
        remaining = deadline.remaining()
        if remaining <= 0:
            return False
        try:
            data = self.transport.recv(_RECV_CHUNK, timeout=remaining)
        except TransportTimeout:
            return False
        except TransportError as err:
            if local_failure(err):
                raise
            raise ConnectionClosed(f"[{self.label}] the device reset the connection ({err})") from None
        if not data:
            raise ConnectionClosed(f"[{self.label}] the device closed the connection")
        try:
            self._framer.feed(data)
        except DecodeError as err:  # cannot happen with chunks this small; kept bounded all the same
            self._framer = LinkFramer()
            self.decode_errors = [*self.decode_errors[-(MAX_QUEUED - 1) :], err]
            return True
        while True:
            try:
                raw = self._framer.next_frame()
            except DecodeError as err:
                self.decode_errors = [*self.decode_errors[-(MAX_QUEUED - 1) :], err]
                if self.transcript is not None:
                    self.transcript.received(
                        self._framer.discarded, f"octets that make no link frame ({err.reason})"
                    )
                continue
            if raw is NEED_DATA:
                return True
            self._take(bytes(raw))

    def _take(self, raw: bytes) -> None:
        if self.transcript is not None:
            self.transcript.received(raw, describe(raw))
        frame = decode_link(raw)  # a bad block CRC from the device is its fault: DecodeError, a fail
        if not frame.prm:
            self.inbox.secondary.append(frame)
            return
        if frame.function not in _USER_DATA or not frame.user_data:
            self.inbox.other.append(frame)
            return
        if frame.function == PrimaryFunction.CONFIRMED_USER_DATA:  # acknowledge at the link (9.2.6)
            self.send_bytes(
                encode_link(
                    LinkFrame(
                        dir=True,
                        prm=False,
                        function=SecondaryFunction.ACK,
                        destination=self.outstation,
                        source=self.master,
                    )
                ),
                "link ACK",
            )
        if frame.user_data[0] & 0x40:  # FIR: a new fragment's first segment (8.2.1)
            self._segments = []
        self._segments.append(frame)
        fragment_octets = self._reassembler.feed(frame.user_data)
        if fragment_octets is None:
            return
        fragment = decode_fragment(fragment_octets)
        if not isinstance(fragment, ApplicationResponse):
            raise AssertionError(
                f"[{self.label}] the device sent a request ({FunctionCode(fragment.function).name}) "
                "to the master"
            )
        response = Response(fragment=fragment, raw=fragment_octets, frames=tuple(self._segments))
        self._segments = []
        if fragment.function == FunctionCode.UNSOLICITED_RESPONSE:
            self.inbox.unsolicited.append(response)
            if fragment.con and self.auto_confirm_unsolicited:
                self.confirm(fragment.seq, uns=True)
        else:
            self.inbox.solicited.append(response)

    def read_response(self, timeout: float | None = None, *, what: str = "a response") -> Response:
        """The next solicited response fragment; :class:`NoResponse` if none comes in time."""
        limit = self.timeout if timeout is None else timeout
        deadline = Deadline(limit)
        while not self.inbox.solicited:
            if not self._pump(deadline):
                raise NoResponse(f"[{self.label}] no response to {what} within {limit:g} s")
        return self.inbox.solicited.popleft()

    def read_unsolicited(self, timeout: float) -> Response | None:
        deadline = Deadline(timeout)
        while not self.inbox.unsolicited:
            if not self._pump(deadline):
                return None
        return self.inbox.unsolicited.popleft()

    def read_secondary(self, timeout: float | None = None, *, what: str = "a link frame") -> LinkFrame:
        limit = self.timeout if timeout is None else timeout
        deadline = Deadline(limit)
        while not self.inbox.secondary:
            if not self._pump(deadline):
                raise NoResponse(f"[{self.label}] no answer to {what} within {limit:g} s")
        return self.inbox.secondary.popleft()

    def listen(self, window: float) -> None:
        """Take in everything the device sends for ``window`` seconds."""
        deadline = Deadline(window)
        while self._pump(deadline):
            pass

    def quiet(self, window: float) -> list[str]:
        """What the device sent in ``window`` seconds that answers a request or a link service (as text);
        unsolicited responses are left in their queue."""
        self.listen(window)
        said = [f"link {f.function.name}" for f in self.inbox.secondary]
        said += [describe_fragment(r.fragment) for r in self.inbox.solicited]
        self.inbox.secondary.clear()
        self.inbox.solicited.clear()
        return said

    def drain(self, window: float = 0.2) -> None:
        """Forget whatever is queued or arrives within ``window`` (before a clause's own exchange)."""
        self.listen(window)
        self.inbox = _Inbox()


def _address(sockaddr: Any) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def opener(
    url: str, *, master: int, outstation: int, timeout: float, sink: Sink | None
) -> Callable[[str], Connection]:
    """A factory of labelled connections to ``url`` (the suite's ``connect`` fixture uses one)."""
    if timeout <= 0:
        raise HarnessError("a response timeout is positive")

    def connect(label: str) -> Connection:
        return Connection(url, master=master, outstation=outstation, timeout=timeout, sink=sink, label=label)

    return connect
