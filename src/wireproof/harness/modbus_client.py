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
- :class:`~wireproof.errors.TransportError` when the peer closes or resets
  the connection;
- :class:`~wireproof.errors.RemoteProtocolError` when the bytes do not frame
  (an MBAP length outside 2..254: the message carries the bytes the framer
  discarded), or when a transaction's answer does not fit the request (other
  function code, unit id, echo, count) or does not decode.

What those mean for a device under test (a verdict) is the conformance
suite's business, not this client's. Events that belong to no request in
progress (unexpected, duplicate, late responses) are kept in
:attr:`BlockingModbusClient.strays` for a test to inspect; they never end a
wait. Serial broadcasts (MB-SL 2.1: address 0, no reply) go through
:meth:`BlockingModbusClient.broadcast`.
"""

from __future__ import annotations

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
from wireproof.errors import DecodeError, HarnessError, RemoteProtocolError, TransportError, TransportTimeout
from wireproof.harness.transports import Tap, TcpTransport, Transport, open_transport

__all__ = ["BlockingModbusClient", "Exchange", "Framing"]

DEFAULT_TIMEOUT = 2.0


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

    @classmethod
    def connect(cls, url: str, *, framing: Framing | None = None, timeout: float = DEFAULT_TIMEOUT,
                tap: Tap | None = None) -> BlockingModbusClient:
        """Open ``url`` (``tcp://...`` or ``serial://...``); framing defaults to tcp or rtu by scheme."""
        if framing is None:
            framing = "tcp" if url.startswith("tcp:") else "rtu"
        return cls(open_transport(url, timeout=timeout, tap=tap), framing=framing, timeout=timeout)

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
        self.transport.send(data)
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
        self.transport.send(data)

    def _outcome(self, event: Event, tid: int, limit: float) -> M.Pdu | None:
        protocol = self.machine.protocol
        if isinstance(event, ResponseReceived | ExceptionReceived) and event.transaction_id == tid:
            return event.response
        if isinstance(event, MismatchedResponse) and event.transaction_id == tid:
            raise RemoteProtocolError(f"transaction {tid}: {event.reason}: {event.response!r}",
                                      clause="MB-AP 4.1", protocol=protocol)
        if isinstance(event, Timeout) and event.transaction_id == tid:
            raise TransportTimeout(f"{self.transport.url}: no response to transaction {tid} "
                                   f"({type(event.request).__name__}) within {limit} s")
        if isinstance(event, MalformedResponse):
            raise RemoteProtocolError(f"undecodable response: {event.error}", protocol=protocol)
        self.strays.append(event)
        return None

    # -- raw ADUs ----------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Send ``data`` exactly as given (a whole ADU, part of one, several, or garbage)."""
        self.transport.send(data)

    def send_segments(self, chunks: Iterable[bytes]) -> None:
        """Each chunk as its own TCP segment, best effort (:meth:`TcpTransport.send_segments`)."""
        if not isinstance(self.transport, TcpTransport):
            raise HarnessError(f"{self.transport.url}: segment shaping needs a TCP transport")
        self.transport.send_segments(chunks)

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
        """The next whole ADU by ``deadline``; TransportTimeout after it (no message: callers word it)."""
        while True:
            frame = self._next_frame()
            if frame is not None:
                return frame
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransportTimeout(self.transport.url)
            chunk = self.transport.recv(timeout=remaining)
            if not chunk:
                got = f"; {len(self._unframed)} bytes of an ADU received" if self._unframed else ""
                raise TransportError(f"{self.transport.url}: peer closed while {waiting}{got}")
            self._unframed += chunk
            try:
                self._framer.feed(chunk)
            except DecodeError as err:
                raise self._unframeable(err) from None

    def _next_frame(self) -> bytes | None:
        try:
            frame = self._framer.next_frame()
        except DecodeError as err:
            raise self._unframeable(err) from None
        if frame is NEED_DATA:
            return None
        del self._unframed[:len(self._unframed) - self._framer.buffered]
        return bytes(frame)

    def _unframeable(self, err: DecodeError) -> RemoteProtocolError:
        dropped = bytes(self._unframed[:len(self._unframed) - self._framer.buffered])
        del self._unframed[:len(dropped)]
        clause = "MB-TCP 3.1.3" if self.framing == "tcp" else "MB-SL 2.5"
        return RemoteProtocolError(f"{self.transport.url}: bytes that do not frame as {err.protocol} ADUs "
                                   f"({dropped.hex()}): {err}", clause=clause, protocol=self.protocol)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> BlockingModbusClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
