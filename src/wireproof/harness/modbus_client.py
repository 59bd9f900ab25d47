"""The harness's blocking Modbus client: machine-driven transactions, and raw ADUs for clause tests.

Theory of operation
-------------------
One connection (a :class:`~wireproof.harness.transports.Transport`), one
framer (the codec's: :class:`~wireproof.codecs.modbus.framers.TcpFramer` for
MBAP, the RTU or ASCII framer on a serial line), and the monotonic clock.
Every byte received goes through that framer, which hands out whole ADUs;
two kinds of caller take them:

- **Transactions** (:meth:`BlockingModbusClient.request`,
  :meth:`~BlockingModbusClient.broadcast`): the protocol logic is the
  sans-I/O :class:`~wireproof.codecs.modbus.client.ModbusClient` machine
  (transaction ids, pairing, mismatch checks, time-outs). This client
  encodes and sends through it, then hands it each whole ADU until the event
  for *this* transaction arrives or its deadline passes.
- **Raw ADUs** (:meth:`~BlockingModbusClient.send`,
  :meth:`~BlockingModbusClient.send_segments`,
  :meth:`~BlockingModbusClient.read_frame`,
  :meth:`~BlockingModbusClient.exchange`,
  :meth:`~BlockingModbusClient.silence`): what a conformance test needs and a
  production client must not do. Bytes go out exactly as given (a wrong
  protocol id or length, one ADU split over TCP segments, two in one), and
  the next whole ADU comes back as bytes, unjudged: only the framer has
  looked at it (MB-TCP 3.1.3: the MBAP length delimits it).

Both kinds share the framer, so a test may mix them on one connection: an
ADU read raw never reaches the machine, and bytes that arrived behind an ADU
wait in the framer for the next read of either kind.

What the caller sees:

- the response PDU from :meth:`~BlockingModbusClient.request` (an
  :class:`~wireproof.codecs.modbus.messages.ExceptionResponse` is a response
  like any other: MB-AP 7 exceptions are data, not errors); whole ADUs as
  bytes from the raw reads;
- :class:`~wireproof.errors.TransportTimeout` when no response (no whole
  ADU) arrives in time (MB-AP 4.1: the client's time-out); the machine has
  then forgotten the transaction, so a late answer becomes a
  ``LateResponse`` stray; :meth:`~BlockingModbusClient.silence` returns
  ``None`` instead;
- :class:`PeerDropped` (a :class:`~wireproof.errors.TransportError`) when
  the device closes or resets the connection, with what was at stake: the
  request bytes sent since the last whole answer and the part of an answer
  received (see "Connections the device drops" below);
- :class:`~wireproof.errors.RemoteProtocolError` when the bytes do not frame
  (an MBAP length outside 2..254: the message names the header field, the
  limit, the byte offset and carries the bytes the framer discarded), or when
  a transaction's answer does not fit the request (other function code, unit
  id, echo, count) or does not decode.

Connections the device drops
----------------------------
When the device resets a connection, which call of this side notices it is
a race of the two TCP stacks: ``connect`` itself may fail with ECONNRESET, or
a ``send`` (the reset arrived first), or the next ``recv`` (the request was
already in the kernel's buffer). So that the same device gets the same
verdict and the same words on every run, the outcome does not depend on the
call: a reset seen while connecting or sending is held, the bytes the caller
asked to send are counted as sent (they were, as far as the caller can know),
and the next read reports it, after any bytes that had arrived before it. A
failure of anything else (no file descriptors, no buffers, a network
error: not :func:`~wireproof.harness.transports.peer_dropped`) is raised at
once, as a harness error.

What those mean for a device under test (a verdict) is the conformance
suite's business, not this client's. Events that belong to no request in
progress (unexpected, duplicate, late responses) are kept in
:attr:`BlockingModbusClient.strays` for a test to inspect; they never end a
wait. Serial broadcasts (MB-SL 2.1: address 0, no reply) go through
:meth:`BlockingModbusClient.broadcast`.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import AsciiCodec, RtuCodec, TcpCodec
from wireproof.codecs.modbus.client import (
    Event,
    ExceptionReceived,
    Framing,
    MalformedResponse,
    MismatchedResponse,
    ModbusClient,
    ResponseReceived,
    Timeout,
)
from wireproof.codecs.modbus.constants import MAX_MBAP_LENGTH, MIN_MBAP_LENGTH
from wireproof.errors import DecodeError, HarnessError, RemoteProtocolError, TransportError, TransportTimeout
from wireproof.harness.transports import Tap, TcpTransport, Transport, open_transport, peer_dropped

__all__ = ["BlockingModbusClient", "Exchange", "Framing", "PeerDropped", "reset_transport"]

DEFAULT_TIMEOUT = 2.0
_MAX_STRAYS = 64  # events kept for inspection; a device streaming answers must not fill memory
_HEX_SHOWN = 64  # bytes of a request or a partial answer quoted in a message
_RESETS = frozenset({errno.ECONNRESET, errno.ECONNABORTED})


class PeerDropped(TransportError):
    """The device closed (``reset`` False) or reset the connection instead of answering.

    ``request_size`` counts the bytes sent since the last whole ADU came back
    (what the device dropped the connection on; 0 when it did so unprompted),
    ``request`` holds the first of them; ``partial`` the bytes of an ADU
    received before the end.
    """

    def __init__(self, url: str, *, reset: bool, request: bytes, request_size: int, partial: bytes,
                 waiting: str = "") -> None:
        self.url = url
        self.reset = reset
        self.request = request
        self.request_size = request_size
        self.partial = partial
        while_ = f" (while {waiting})" if waiting else ""
        super().__init__(f"{url}: {self.reason}{while_}")

    @property
    def reason(self) -> str:
        """What the device did, in words that do not depend on which call noticed it."""
        how = "reset" if self.reset else "closed"
        shown = self.request.hex() + ("..." if self.request_size > len(self.request) else "")
        before = (f"after {self.request_size} bytes of request ({shown})" if self.request_size
                  else "with no request outstanding")
        got = (f"after {len(self.partial)} bytes of an answer ({_hex(self.partial)})" if self.partial
               else "before any answer")
        return f"connection {how} by the device {before}, {got}"


def _hex(data: bytes) -> str:
    shown = data[:_HEX_SHOWN].hex()
    return shown if len(data) <= _HEX_SHOWN else f"{shown}... ({len(data)} bytes)"


class _ResetTransport(Transport):
    """A connection the device reset while it was being opened (see "Connections the device drops").

    Sends are taken and lost, as the kernel would take them had the reset
    come a moment later; every receive reports the reset.
    """

    def __init__(self, url: str, timeout: float, tap: Tap | None) -> None:
        super().__init__(url=url, timeout=timeout, tap=tap)

    def _send(self, data: bytes, timeout: float) -> None:
        pass

    def _recv(self, max_bytes: int, timeout: float) -> bytes:
        raise TransportError(errno.ECONNRESET, f"{self.url}: connection reset by the peer while connecting")

    def _close(self) -> None:
        pass


def reset_transport(url: str, *, timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> Transport:
    """A transport standing for a connection the device reset while ``connect`` ran."""
    return _ResetTransport(url, timeout, tap)


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """Raw bytes sent, the whole ADU that came back next, and the seconds in between."""

    sent: bytes
    frame: bytes
    elapsed: float


def _framer(framing: Framing) -> Any:
    # The machine's framers, by framing; an RTU client reads responses only (MB-SL 2.5.1).
    if framing == "tcp":
        return TcpCodec().framer()
    return RtuCodec().framer("response") if framing == "rtu" else AsciiCodec().framer()


def _mbap_problem(err: DecodeError, data: bytes) -> str:
    """An unframeable MBAP stream in words: the field, its value, the limit and where (MB-TCP 3.1.3)."""
    if err.path == ("mbap", "length") and len(data) >= 6:
        length = int.from_bytes(data[4:6], "big")
        if length > MAX_MBAP_LENGTH:
            why = (f"length {length} exceeds the maximum {MAX_MBAP_LENGTH} (MB-AP 4.1: a PDU is at most "
                   f"{MAX_MBAP_LENGTH - 1} bytes; the length adds the unit identifier)")
        else:
            why = (f"length {length} is below the minimum {MIN_MBAP_LENGTH} (the unit identifier and a "
                   "function code)")
        return f"invalid MBAP header: {why}; at byte offset {err.offset} of {_hex(data)}"
    return f"bytes that do not frame as {err.protocol} ADUs ({_hex(data)}): {err}"


class BlockingModbusClient:
    """Blocking transactions and raw ADUs over one transport (see the module docstring).

    The client owns the transport: closing the client closes it.
    """

    def __init__(self, transport: Transport, *, framing: Framing = "tcp",
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        if not timeout > 0:
            raise HarnessError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.transport = transport
        self.framing: Framing = framing
        self.timeout = timeout
        # A window of one: this client waits for each answer before the next request.
        self.machine = ModbusClient(framing, window=1, timeout=timeout)
        self.strays: list[Event] = []
        self._framer = _framer(framing)
        # The bytes the framer holds, kept only to name them in messages: the framer's
        # buffer is always a suffix of what was fed (framers take and drop at the front).
        self._unframed = bytearray()
        self.strays_dropped = 0  # strays beyond the first _MAX_STRAYS, counted only
        # Bytes sent since the last whole ADU was taken (what a dropped connection dropped),
        # and a reset seen while sending, held for the next read (module docstring).
        self._outgoing = bytearray()
        self._outgoing_count = 0
        self._held: TransportError | None = None

    @classmethod
    def connect(cls, url: str, *, framing: Framing | None = None, timeout: float = DEFAULT_TIMEOUT,
                tap: Tap | None = None, connect_timeout: float | None = None) -> BlockingModbusClient:
        """Open ``url`` (``tcp://...`` or ``serial://...``); framing defaults to tcp or rtu by scheme.

        A connection the device resets while it is being opened is not an
        error here: the first read reports it (module docstring). ``connect_timeout``
        (default ``timeout``) bounds the connect and is the transport's default.
        """
        if framing is None:
            framing = "tcp" if url.startswith("tcp:") else "rtu"
        limit = timeout if connect_timeout is None else connect_timeout
        try:
            transport = open_transport(url, timeout=limit, tap=tap)
        except TransportError as err:
            if not peer_dropped(err):
                raise
            transport = reset_transport(url, timeout=limit, tap=tap)
        return cls(transport, framing=framing, timeout=timeout)

    @property
    def protocol(self) -> str:
        return self.machine.protocol

    @property
    def unframed(self) -> bytes:
        """Bytes received that do not make a whole ADU yet."""
        return bytes(self._unframed)

    # -- transactions (the machine) --------------------------------------------------

    def request(self, pdu: M.Pdu, unit_id: int = 1, *, timeout: float | None = None,
                strict: bool = True) -> M.Pdu:
        """Send ``pdu`` to ``unit_id`` and return the response PDU (see the module docstring).

        ``strict=False`` lets a conformance test send a PDU outside the spec bounds.
        """
        if self.framing != "tcp" and unit_id == 0:
            raise HarnessError("unit id 0 on a serial line is a broadcast with no reply: use broadcast()")
        limit = self.timeout if timeout is None else timeout
        tid, data = self.machine.request(pdu, unit_id=unit_id, now=time.monotonic(), timeout=limit,
                                         strict=strict)
        self._send(data)
        while True:
            deadline = self.machine.next_deadline()
            if deadline is None or deadline <= time.monotonic():
                events = self.machine.tick(time.monotonic())
            else:
                try:
                    frame = self._await_frame(deadline, f"transaction {tid} was awaiting its response")
                except TransportTimeout:
                    events = self.machine.tick(time.monotonic())
                else:
                    events = self.machine.receive_data(frame, time.monotonic())
            for event in events:
                answer = self._outcome(event, tid, limit)
                if answer is not None:
                    return answer

    def broadcast(self, pdu: M.Pdu, *, strict: bool = True) -> None:
        """Send ``pdu`` to serial address 0 (MB-SL 2.1); nothing comes back."""
        if self.framing == "tcp":
            raise HarnessError("Modbus/TCP has no broadcast (MB-TCP 4.4.1.2: unit id 0 is an ordinary id)")
        _, data = self.machine.request(pdu, unit_id=0, now=time.monotonic(), strict=strict)
        self._send(data)

    def _outcome(self, event: Event, tid: int, limit: float) -> M.Pdu | None:
        protocol = self.machine.protocol
        if isinstance(event, ResponseReceived | ExceptionReceived) and event.transaction_id == tid:
            return event.response
        if isinstance(event, MismatchedResponse) and event.transaction_id == tid:
            raise RemoteProtocolError(f"transaction {tid}: {event.reason}: {event.response!r}",
                                      clause="MB-AP 4.1", protocol=protocol)
        if isinstance(event, Timeout) and event.transaction_id == tid:
            raise TransportTimeout(f"{self.transport.url}: no response to transaction {tid} "
                                   f"({type(event.request).__name__}) within {limit} s{self._strays_said()}")
        if isinstance(event, MalformedResponse):
            raise RemoteProtocolError(f"undecodable response: {event.error}", protocol=protocol)
        if len(self.strays) < _MAX_STRAYS:
            self.strays.append(event)
        else:
            self.strays_dropped += 1
        return None

    def _strays_said(self) -> str:
        # A device that answered, but not this transaction, did not stay silent: say what came.
        if not self.strays:
            return ""
        n = len(self.strays) + self.strays_dropped
        first = self.strays[0]
        tid = getattr(first, "transaction_id", None)
        which = f"the first {type(first).__name__}" + (f", transaction id {tid}" if tid is not None else "")
        return f"; meanwhile {n} answer(s) that belong to no outstanding request ({which})"

    # -- raw ADUs ----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send ``data`` exactly as given (a whole ADU, part of one, several, or garbage)."""
        self._send(data)

    def send_segments(self, chunks: Iterable[bytes]) -> None:
        """Each chunk as its own TCP segment, best effort (:meth:`TcpTransport.send_segments`)."""
        transport = self.transport
        if not isinstance(transport, TcpTransport):
            if isinstance(transport, _ResetTransport):  # reset while connecting: nothing to shape
                for chunk in chunks:
                    self._send(chunk)
                return
            raise HarnessError(f"{transport.url}: segment shaping needs a TCP transport")
        items = [bytes(c) for c in chunks]
        if self._held is not None:
            self._count_outgoing(b"".join(items))
            return
        self._count_outgoing(b"".join(items))
        try:
            transport.send_segments(items)
        except TransportTimeout:
            raise
        except TransportError as err:
            self._hold(err)

    def _send(self, data: bytes) -> None:
        """Send, or hold a drop by the device for the next read (module docstring)."""
        self._count_outgoing(data)
        if self._held is not None:
            return
        try:
            self.transport.send(data)
        except TransportTimeout:
            raise
        except TransportError as err:
            self._hold(err)

    def _count_outgoing(self, data: bytes) -> None:
        self._outgoing_count += len(data)
        if len(self._outgoing) < _HEX_SHOWN:
            self._outgoing += data[:_HEX_SHOWN - len(self._outgoing)]

    def _hold(self, err: TransportError) -> None:
        if not peer_dropped(err) or self.transport.closed:
            raise err  # this side's failure (or a send on a closed transport): a harness error
        self._held = err

    def read_frame(self, timeout: float | None = None) -> bytes:
        """The next whole ADU the peer sends, as bytes, within ``timeout`` seconds (module docstring)."""
        limit = self.timeout if timeout is None else timeout
        try:
            return self._await_frame(time.monotonic() + limit, "an ADU was awaited")
        except TransportTimeout:
            got = self._unframed
            part = f" ({len(got)} bytes of one: {got.hex()})" if got else ""
            raise TransportTimeout(f"{self.transport.url}: no whole ADU within {limit:g} s{part}") from None

    def exchange(self, data: bytes, *, timeout: float | None = None) -> Exchange:
        """Send ``data`` raw, then :meth:`read_frame`; the round trip is timed."""
        t0 = time.monotonic()
        self.send(data)
        frame = self.read_frame(timeout)
        return Exchange(sent=bytes(data), frame=frame, elapsed=time.monotonic() - t0)

    def silence(self, window: float) -> bytes | None:
        """The first whole ADU within ``window`` seconds, or None if none comes (closing still raises)."""
        try:
            return self._await_frame(time.monotonic() + window, "listening for an ADU")
        except TransportTimeout:
            return None

    # -- the one receive path ------------------------------------------------------------

    def _await_frame(self, deadline: float, waiting: str) -> bytes:
        """The next whole ADU by ``deadline``; TransportTimeout after it (no message: callers word it).

        Bytes that arrived before a drop are framed first; a drop (held from a
        send, or seen now) is a :class:`PeerDropped`.
        """
        while True:
            frame = self._next_frame()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0 and self._held is None:
                raise TransportTimeout(self.transport.url)
            try:
                # After a held drop the socket answers at once (queued bytes, end of file or the error).
                chunk = self.transport.recv(self._room(), timeout=max(remaining, 0.0))
            except TransportTimeout:
                if self._held is None:
                    raise
                chunk = b""
            except TransportError as err:
                if not peer_dropped(err):
                    raise
                raise self._dropped(err, waiting) from None
            if not chunk:
                raise self._dropped(None, waiting)
            self._unframed += chunk
            try:
                self._framer.feed(chunk)
            except DecodeError as err:
                raise self._unframeable(err) from None

    def _room(self) -> int:
        # Never more than the framer can hold: a device streaming valid ADUs faster than
        # they are read must not look like an overflow of garbage.
        limit: int = getattr(self._framer, "max_buffer", 65536)
        buffered: int = self._framer.buffered
        return max(1, min(65536, limit - buffered))

    def _next_frame(self) -> bytes | None:
        try:
            frame = self._framer.next_frame()
        except DecodeError as err:
            raise self._unframeable(err) from None
        if frame is NEED_DATA:
            return None
        del self._unframed[:len(self._unframed) - self._framer.buffered]
        self._outgoing.clear()
        self._outgoing_count = 0
        return bytes(frame)

    def _dropped(self, seen: TransportError | None, waiting: str) -> PeerDropped:
        """The device's drop: reset if a reset was held or is seen now, else an orderly close."""
        held, self._held = self._held, None
        cause = held if held is not None else seen
        # EPIPE on a send means the device had closed its side first (FIN) and then
        # refused our bytes: an orderly close. A reset shows as ECONNRESET.
        reset = cause is not None and cause.errno in _RESETS
        dropped = PeerDropped(self.transport.url, reset=reset, request=bytes(self._outgoing),
                              request_size=self._outgoing_count, partial=bytes(self._unframed),
                              waiting=waiting)
        self._outgoing.clear()
        self._outgoing_count = 0
        return dropped

    def _unframeable(self, err: DecodeError) -> RemoteProtocolError:
        dropped = bytes(self._unframed[:len(self._unframed) - self._framer.buffered])
        del self._unframed[:len(dropped)]
        if self.framing == "tcp":
            return RemoteProtocolError(f"{self.transport.url}: {_mbap_problem(err, dropped)}",
                                       clause="MB-TCP 3.1.3", protocol=self.protocol)
        return RemoteProtocolError(f"{self.transport.url}: bytes that do not frame as {err.protocol} ADUs "
                                   f"({_hex(dropped)}): {err}", clause="MB-SL 2.5", protocol=self.protocol)

    # -- lifetime ------------------------------------------------------------------------

    def shutdown(self, timeout: float) -> str:
        """Close our side (FIN), wait up to ``timeout`` s for the device to close its own; say what happened.

        A device that serves a limited number of connections frees this one
        only when it sees the close: waiting for its FIN before opening the next
        connection keeps a run's verdicts independent of how fast it notices.
        Bytes the device still sends pass through the transport's tap. The
        transport stays open: :meth:`close` closes it.
        """
        sock = getattr(self.transport, "socket", None)
        if sock is None or self.transport.closed:
            return ""
        deadline = time.monotonic() + timeout
        try:
            sock.shutdown(socket.SHUT_WR)
            while (remaining := deadline - time.monotonic()) > 0:
                if not self.transport.recv(4096, timeout=remaining):
                    return "closed by this side; the device closed its side"
        except TransportTimeout:
            pass
        except (TransportError, OSError) as err:
            return f"closed by this side; the connection ended with {getattr(err, 'strerror', None) or err}"
        return f"closed by this side; the device had not closed its side {timeout:g} s later"

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> BlockingModbusClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
