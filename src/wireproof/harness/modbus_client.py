"""A small blocking Modbus client for the harness: one request, one response.

Theory of operation
-------------------
The protocol logic is the sans-I/O :class:`~wireproof.codecs.modbus.client.ModbusClient`
machine (transaction ids, pairing, mismatch checks, time-outs); this module
only drives it with a :class:`~wireproof.harness.transports.Transport` and
the monotonic clock: encode and send, then receive and feed bytes to the
machine until the event for *this* transaction arrives or its deadline passes.

What the caller sees:

- the response PDU (an :class:`~wireproof.codecs.modbus.messages.ExceptionResponse`
  is a response like any other: MB-AP 7 exceptions are data, not errors);
- :class:`~wireproof.errors.TransportTimeout` when no response arrives in
  time (MB-AP 4.1: the client's time-out); the machine has then forgotten
  the transaction, so a late answer becomes a ``LateResponse`` stray;
- :class:`~wireproof.errors.RemoteProtocolError` when the answer does not
  fit the request (other function code, unit id, echo, count) or does not
  decode; :class:`~wireproof.errors.TransportError` when the peer closes.

Events that belong to no request in progress (unexpected, duplicate, late
responses) are kept in :attr:`BlockingModbusClient.strays` for a test to
inspect; they never end a wait. Serial broadcasts (MB-SL 2.1: address 0, no
reply) go through :meth:`BlockingModbusClient.broadcast`.
"""

from __future__ import annotations

import time
from types import TracebackType

from wireproof.codecs.modbus import messages as M
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
from wireproof.errors import HarnessError, RemoteProtocolError, TransportError, TransportTimeout
from wireproof.harness.transports import Tap, Transport, open_transport

__all__ = ["BlockingModbusClient", "Framing"]

DEFAULT_TIMEOUT = 2.0


class BlockingModbusClient:
    """Blocking request/response over one transport (see the module docstring).

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

    @classmethod
    def connect(cls, url: str, *, framing: Framing | None = None, timeout: float = DEFAULT_TIMEOUT,
                tap: Tap | None = None) -> BlockingModbusClient:
        """Open ``url`` (``tcp://...`` or ``serial://...``); framing defaults to tcp or rtu by scheme."""
        if framing is None:
            framing = "tcp" if url.startswith("tcp:") else "rtu"
        return cls(open_transport(url, timeout=timeout, tap=tap), framing=framing, timeout=timeout)

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
            now = time.monotonic()
            if deadline is None or deadline <= now:
                events = self.machine.tick(now)
            else:
                try:
                    chunk = self.transport.recv(timeout=deadline - now)
                except TransportTimeout:
                    chunk = None
                if chunk == b"":
                    raise TransportError(f"{self.transport.url}: peer closed while transaction {tid} "
                                         "was awaiting its response")
                now = time.monotonic()
                events = self.machine.tick(now) if chunk is None else self.machine.receive_data(chunk, now)
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

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> BlockingModbusClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
