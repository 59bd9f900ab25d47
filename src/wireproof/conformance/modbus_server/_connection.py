"""One connection to the device under test, as a clause test sees it (MB-TCP 3.1.3).

The I/O is the harness's :class:`~wireproof.harness.modbus_client.BlockingModbusClient`
(its raw operations: bytes out exactly as given, the next whole ADU back
through the codec's MBAP framer). This adapter adds what is conformance
knowledge:

- building the ADUs a clause sends (its own transaction ids and unit,
  protocol id other than 0, PDUs outside the spec bounds) with the codec;
- :class:`RawAdu`, an answer split by its MBAP header only, and
  :class:`Reply`, its PDU decoded (a ``DecodeError`` there is the device's);
- verdicts for what the device did: :class:`NoResponse` when an answer the
  spec demands did not come in time (silence, or part of an ADU and then
  silence: an incomplete answer), :class:`ConnectionClosed` when the device
  closed or reset the connection, :class:`NotAccepted` when it refused or
  did not accept a new connection, are ``AssertionError`` subclasses
  (verdict ``fail``), as are an answer with another transaction id or
  protocol id, and bytes after an answer that its MBAP length does not
  cover; bytes that do not frame (an MBAP length outside 2..254) are the
  harness's ``RemoteProtocolError``, also a ``fail``. Harness trouble (no
  file descriptors, bad arguments) stays a ``HarnessError`` (verdict
  ``error``).

A connection is opened when a clause first uses it, not when the fixture
hands it out, so that a device refusing or resetting it is judged in the
clause (a ``fail``), not in the fixture's setup (an ``error``). That the
target is there at all is checked once per run, before any clause
(``modbus_target``; ``wireproof certify`` checks it before starting): after
that, a refused connection is the device's doing. Reasons never depend on
which call noticed a reset (:mod:`wireproof.harness.modbus_client`,
"Connections the device drops"), so one device gets one verdict and one
reason per clause on every run.

Everything sent and received goes to the evidence recorder (:class:`Transcript`),
one entry per message: each send as it went out, and what came back cut into
whole ADUs by their MBAP length (bytes that make no ADU — garbage, an
incomplete answer — are one entry of their own), each with the codec's view
(:func:`describe`), labelled with the connection, whose opening records both
addresses and whose closing is recorded too: the evidence bundle rebuilds the
TCP conversation from it.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from wireproof import codecs
from wireproof.codecs._core import NEED_DATA, message_fields
from wireproof.codecs.modbus import TcpCodec
from wireproof.codecs.modbus.constants import EXCEPTION_FLAG
from wireproof.codecs.modbus.framers import TcpFramer
from wireproof.codecs.modbus.messages import ExceptionResponse, Pdu, TcpAdu, UnknownPdu
from wireproof.errors import DecodeError, HarnessError, TransportError, TransportTimeout
from wireproof.harness.modbus_client import BlockingModbusClient, PeerDropped
from wireproof.harness.transports import local_failure

__all__ = ["Connection", "ConnectionClosed", "NoResponse", "NotAccepted", "RawAdu", "Reply", "Sink",
           "Transcript", "decode_adu", "describe"]

T = TypeVar("T")


class Sink(Protocol):
    """Where a connection's evidence goes (the plugin's ``EvidenceRecorder`` is one)."""

    def sent(self, data: bytes, note: str = "", *, connection: str = "",
             decoded: str = "") -> None: ...
    def received(self, data: bytes, note: str = "", *, connection: str = "",
                 decoded: str = "") -> None: ...
    def connected(self, connection: str, *, local: str, remote: str, note: str = "") -> None: ...
    def closed(self, connection: str, note: str = "") -> None: ...


def _mbap(frame: bytes) -> str:
    if len(frame) < 7:
        return ""
    tid, proto, length, unit = struct.unpack(">HHHB", frame[:7])
    extra = f" protocol {proto}" if proto else ""
    return f"tid 0x{tid:04X}{extra} length {length} unit {unit}"


def describe(frame: bytes, direction: str) -> str:
    """The codec's view of one ADU in one line: MBAP fields, then the PDU's type and fields.

    ``direction`` is ``"sent"`` (a request) or ``"received"`` (a response);
    bytes the codec refuses are described by its error (field and byte offset).
    """
    codec = tcp_codec()
    try:
        adu = codec.decode_request(frame) if direction == "sent" else codec.decode_response(frame)
    except DecodeError as err:
        header = _mbap(frame)
        kind = "request" if direction == "sent" else "response"
        where = ".".join(map(str, err.path)) or "frame"
        head = f"{header}: " if header else ""
        return f"{head}not a valid {kind} ({err.reason}; {where} at byte {err.offset})"
    pdu = adu.pdu
    head = _mbap(frame)
    if isinstance(pdu, ExceptionResponse):
        code = pdu.exception_code
        name = code.name if hasattr(code, "name") else str(code)
        return f"{head}: exception {int(code):02X} {name} to FC {pdu.function_code:02d}"
    fields = message_fields(pdu)
    name = str(fields.pop("type", type(pdu).__name__))
    args = ", ".join(f"{k}={_short(v)}" for k, v in fields.items())
    fc = getattr(pdu, "function_code", frame[7] if len(frame) > 7 else -1)
    return f"{head}: FC {fc:02d} {name}({args})"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Transcript:
    """A connection's traffic as evidence, one entry per message (module docstring).

    Sends are recorded as they go; received bytes are cut into ADUs by their
    MBAP length; what is left over (bytes that do not frame, part of an ADU)
    is recorded before the next send, and when the connection closes.
    """

    def __init__(self, sink: Sink, label: str) -> None:
        self.sink = sink
        self.label = label
        self._framer = TcpFramer()
        self._pending = bytearray()  # received, not yet recorded (always the framer's buffer)

    def tap(self, direction: str, data: bytes) -> None:
        if direction == "sent":
            self.flush()
            adus = _adus(data)
            decoded = (" + ".join(describe(adu, "sent") for adu in adus) if adus
                       else f"part of an ADU, or bytes that frame as none ({len(data)} bytes)")
            if len(adus) > 1:
                decoded = f"{len(adus)} ADUs in one send: {decoded}"
            self.sink.sent(data, connection=self.label, decoded=decoded)
            return
        self._pending += data
        try:
            self._framer.feed(data)
            while (frame := self._framer.next_frame()) is not NEED_DATA:
                whole = bytes(frame)
                del self._pending[:len(whole)]
                self.sink.received(whole, connection=self.label, decoded=describe(whole, "received"))
        except DecodeError as err:  # the MBAP length cannot be: record everything held, as it came
            self._framer = TcpFramer()
            self._record_rest(f"bytes that do not frame as ADUs ({err.reason})")

    def flush(self) -> None:
        """Record the bytes held that make no whole ADU (before a send, at the end)."""
        if self._pending:
            self._framer = TcpFramer()
            self._record_rest(f"{len(self._pending)} bytes that make no whole ADU")

    def _record_rest(self, why: str) -> None:
        rest = bytes(self._pending)
        self._pending.clear()
        if rest:
            self.sink.received(rest, connection=self.label, decoded=why)


def _adus(data: bytes) -> list[bytes]:
    """``data`` cut into ADUs by their MBAP lengths, or [] unless it is exactly whole ADUs."""
    out, i = [], 0
    while i < len(data):
        if len(data) - i < 7:
            return []
        end = i + 6 + int.from_bytes(data[i + 4:i + 6], "big")
        if end > len(data) or end < i + 7:
            return []
        out.append(data[i:end])
        i = end
    return out


def tcp_codec() -> TcpCodec:
    """The registered ``modbus-tcp`` codec, typed (it also offers the PDU-level calls)."""
    codec = codecs.get("modbus-tcp")
    if not isinstance(codec, TcpCodec):
        raise HarnessError(f"codec 'modbus-tcp' is a {type(codec).__name__}, not the Modbus TCP codec")
    return codec


class NoResponse(AssertionError):
    """The device did not answer within the time allowed."""


class ConnectionClosed(AssertionError):
    """The device closed (or reset) the connection instead of answering."""


class NotAccepted(AssertionError):
    """The device refused a new connection, or did not accept it in time (it accepted one before)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RawAdu:
    """One ADU as the device sent it, split by its MBAP header only (MB-TCP 3.1.3)."""

    transaction_id: int
    protocol_id: int
    length: int
    unit_id: int
    pdu: bytes
    raw: bytes

    @classmethod
    def split(cls, frame: bytes) -> RawAdu:
        """A whole frame from the MBAP framer: 7 header bytes (its length is 2..254), then the PDU."""
        return cls(transaction_id=int.from_bytes(frame[0:2], "big"),
                   protocol_id=int.from_bytes(frame[2:4], "big"), length=int.from_bytes(frame[4:6], "big"),
                   unit_id=frame[6], pdu=frame[7:], raw=frame)

    @property
    def function_code(self) -> int:
        return self.pdu[0] if self.pdu else -1

    def decode(self) -> Any:
        """The PDU decoded as a response (a ``DecodeError`` here is the device's fault)."""
        return tcp_codec().decode_response_pdu(self.pdu)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A request's answer: the raw ADU, its decoded PDU and the round-trip time."""

    adu: RawAdu
    pdu: Any
    elapsed: float

    def expect_exception(self, function_code: int, code: int, what: str) -> None:
        """Assert this is exception ``code`` to ``function_code`` (MB-AP 7)."""
        wanted = f"exception {code:02X} (function code 0x{function_code | EXCEPTION_FLAG:02X})"
        if not isinstance(self.pdu, ExceptionResponse):
            raise AssertionError(f"{what}: expected {wanted}, got a normal response "
                                 f"{type(self.pdu).__name__} ({self.adu.pdu.hex()})")
        got = f"exception {int(self.pdu.exception_code):02X} to function code 0x{self.pdu.function_code:02X}"
        assert self.pdu.function_code == function_code and self.pdu.exception_code == code, (
            f"{what}: expected {wanted}, got {got}")

    def expect(self, cls: type[Any], what: str) -> Any:
        """Assert the PDU is a normal response of type ``cls``; return it."""
        if not isinstance(self.pdu, cls):
            raise AssertionError(f"{what}: expected {cls.__name__}, got {type(self.pdu).__name__} "
                                 f"({self.adu.pdu.hex()})")
        return self.pdu


class Connection:
    """One TCP connection to the device under test, opened on first use (see the module docstring)."""

    def __init__(self, link: BlockingModbusClient | Callable[[], BlockingModbusClient], *, unit: int,
                 timeout: float | None = None, label: str = "") -> None:
        self._link = link if isinstance(link, BlockingModbusClient) else None
        self._opener = None if isinstance(link, BlockingModbusClient) else link
        self.unit = unit
        if timeout is None:
            if self._link is None:
                raise HarnessError("a connection opened on first use needs its timeout")
            timeout = self._link.timeout
        self.timeout = timeout
        self.label = label
        self.codec = tcp_codec()
        self._tid = 0
        self.transcript: Transcript | None = None

    @classmethod
    def connect(cls, url: str, *, unit: int, timeout: float, evidence: Sink | None = None,
                label: str = "") -> Connection:
        """A connection to ``url``, opened on first use; its traffic goes to ``evidence``
        (one entry per message, :class:`Transcript`)."""
        transcript = None if evidence is None else Transcript(evidence, label)

        def opener() -> BlockingModbusClient:
            link = BlockingModbusClient.connect(url, framing="tcp", timeout=timeout,
                                                tap=None if transcript is None else transcript.tap,
                                                connect_timeout=max(timeout, 1.0))
            if transcript is not None:
                sock: Any = getattr(link.transport, "socket", None)
                try:
                    local, remote = _address(sock.getsockname()), _address(sock.getpeername())
                except (AttributeError, OSError):  # reset while connecting: no socket left to ask
                    local = remote = ""
                transcript.sink.connected(label, local=local, remote=remote,
                                          note="" if remote else "reset by the device while connecting")
            return link
        connection = cls(opener, unit=unit, timeout=timeout, label=label)
        connection.transcript = transcript
        return connection

    @property
    def link(self) -> BlockingModbusClient:
        """The harness client, connecting first if need be (:class:`NotAccepted` if the device refuses)."""
        if self._link is None:
            assert self._opener is not None
            try:
                self._link = self._opener()
            except TransportTimeout:
                raise NotAccepted(f"{self._who()}the device did not accept the connection within "
                                  f"{max(self.timeout, 1.0):g} s") from None
            except TransportError as err:
                if local_failure(err) or err.errno is None:
                    raise  # this side could not connect: a harness error
                how = "refused the connection" if err.errno == errno.ECONNREFUSED else "could not be reached"
                raise NotAccepted(f"{self._who()}the device {how} ({err.strerror or err})") from None
        return self._link

    def close(self) -> None:
        """Close gracefully: our FIN, then wait (at most the response timeout, capped at 1 s) for the
        device's, so a device with a connection limit has let this one go before the next opens."""
        if self._link is not None:
            how = self._shutdown()
            if self.transcript is not None:
                self.transcript.flush()
                self.transcript.sink.closed(self.label, note=how)
            self._link.close()
            self._link = None
            self._opener = None

    def _shutdown(self) -> str:
        return self._link.shutdown(min(self.timeout, 1.0)) if self._link is not None else ""

    # -- building -----------------------------------------------------------

    def next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    def adu(self, pdu: Pdu, *, tid: int | None = None, unit: int | None = None, strict: bool = True,
            protocol_id: int = 0) -> bytes:
        """The bytes of an ADU; ``strict=False`` lets a clause build an out-of-bounds request."""
        tid = self.next_tid() if tid is None else tid
        unit = self.unit if unit is None else unit
        adu = TcpAdu(transaction_id=tid, unit_id=unit, pdu=pdu, protocol_id=protocol_id)
        return self.codec.encode(adu, strict and protocol_id == 0)

    def raw_adu(self, pdu: bytes, *, tid: int | None = None, unit: int | None = None,
                protocol_id: int = 0) -> bytes:
        """An ADU around raw PDU bytes (function code first), carried opaque and unchecked."""
        if not pdu:
            raise HarnessError("a PDU has at least its function code byte")
        opaque = UnknownPdu(function_code=pdu[0], data=bytes(pdu[1:]))
        return self.adu(opaque, tid=tid, unit=unit, strict=False, protocol_id=protocol_id)

    # -- I/O ----------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._stale()
        self._device(lambda: self.link.send(data), None)

    def send_segments(self, chunks: Iterable[bytes]) -> None:
        """Each chunk as its own TCP segment, best effort."""
        self._stale()
        self._device(lambda: self.link.send_segments(chunks), None)

    def _stale(self) -> None:
        """Bytes already received before a request goes out answer nothing: the device's (MB-TCP 3.1.3)."""
        if self._link is not None and self._link.unframed:
            got = self._link.unframed
            raise AssertionError(f"{self._who()}{len(got)} bytes arrived that answer no request "
                                 f"({got[:64].hex()}): bytes after an answer its MBAP length does not cover, "
                                 "or a stray (MB-TCP 3.1.3)")

    def read_adu(self, timeout: float | None = None) -> RawAdu:
        """The next ADU the device sends; NoResponse / ConnectionClosed if none comes."""
        return RawAdu.split(self._device(lambda: self.link.read_frame(timeout), timeout))

    def request(self, pdu: Pdu | bytes, *, tid: int | None = None, unit: int | None = None,
                strict: bool = True, timeout: float | None = None) -> Reply:
        """Send one request and read its answer, which must carry the same transaction id.

        ``pdu`` may be raw PDU bytes for requests the codec cannot build.
        """
        tid = self.next_tid() if tid is None else tid
        data = (self.raw_adu(pdu, tid=tid, unit=unit) if isinstance(pdu, bytes)
                else self.adu(pdu, tid=tid, unit=unit, strict=strict))
        self._stale()
        exchange = self._device(lambda: self.link.exchange(data, timeout=timeout), timeout)
        adu = RawAdu.split(exchange.frame)
        assert adu.transaction_id == tid, (
            f"{self._who()}response transaction id 0x{adu.transaction_id:04X} != request's 0x{tid:04X} "
            f"(MB-TCP 3.1.3: the server copies the transaction identifier); answer {adu.raw.hex()}")
        assert adu.protocol_id == 0, (
            f"{self._who()}response protocol identifier 0x{adu.protocol_id:04X}, expected 0 "
            f"(MB-TCP 3.1.3: 0 = MODBUS, copied by the server); answer {adu.raw.hex()}")
        trailing = self.link.unframed
        assert not trailing, (
            f"{self._who()}{len(trailing)} bytes follow the answer its MBAP length announced "
            f"(length {adu.length}; MB-TCP 3.1.3): answer {adu.raw.hex()}, then {trailing[:64].hex()}")
        return Reply(adu=adu, pdu=adu.decode(), elapsed=exchange.elapsed)

    def silence(self, window: float) -> RawAdu | ConnectionClosed | None:
        """What the device does in ``window`` seconds: an ADU, nothing (None), or closing."""
        try:
            frame = self._device(lambda: self.link.silence(window), window)
        except ConnectionClosed as closed:
            return closed
        if frame is None and self.transcript is not None:
            self.transcript.flush()  # part of an ADU and then silence: recorded where it happened
        return None if frame is None else RawAdu.split(frame)

    def _device(self, operation: Callable[[], T], timeout: float | None) -> T:
        """Run a harness operation; what the device failed to do becomes a verdict.

        A connection the device closed or reset is its fault whether the harness
        notices it while sending or while receiving.
        """
        try:
            return self._judged(operation, timeout)
        except BaseException:
            if self.transcript is not None:  # what came before the trouble is its evidence: record it now
                self.transcript.flush()
            raise

    def _judged(self, operation: Callable[[], T], timeout: float | None) -> T:
        try:
            return operation()
        except TransportTimeout:
            limit = self.timeout if timeout is None else timeout
            got = self.link.unframed
            if not got:
                raise NoResponse(f"{self._who()}no response within {limit:g} s") from None
            announced = (f"its MBAP header announces {6 + int.from_bytes(got[4:6], 'big')} bytes, "
                         if len(got) >= 6 else "")
            raise NoResponse(f"{self._who()}incomplete answer: {announced}{len(got)} received within "
                             f"{limit:g} s, then silence ({got[:64].hex()})") from None
        except PeerDropped as dropped:
            raise ConnectionClosed(f"{self._who()}{dropped.reason}") from None

    def _who(self) -> str:
        return f"[{self.label}] " if self.label else ""


def _address(sockaddr: Any) -> str:
    host, port = sockaddr[0], sockaddr[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def decode_adu(data: bytes) -> TcpAdu:
    """A whole response ADU decoded by the codec (MBAP checks included)."""
    adu: TcpAdu = tcp_codec().decode_response(data)
    return adu
