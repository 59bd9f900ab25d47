"""A golden-transcript driver for the Modbus client machine (pure; :mod:`wireproof.transcript`).

Commands (one a block)::

    framing tcp|rtu|ascii [window=N] [timeout=S]   a fresh client (default: tcp, window 16, timeout 1)
    request UNIT PDU-HEX [at=T] [timeout=S]        start a transaction at time T (default: the clock)
    receive HEX [at=T]                             bytes from the server arrive
    tick T                                         the clock reaches T
    state                                          outstanding transactions (and the serial line's state)

Output lines: ``send tid=N HEX`` for a request; one line per event the
machine returns (``ResponseReceived tid=1 unit=1 ReadHoldingRegistersResponse(...)``);
``violation [CLAUSE] ...`` when the machine refuses (a LocalProtocolError).
Times are whatever numbers the transcript uses; nothing here reads a clock.
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from wireproof.codecs.modbus.client import Event, Framing, ModbusClient
from wireproof.codecs.modbus.pdu import decode_request_pdu
from wireproof.errors import DecodeError, ProtocolViolation

__all__ = ["ClientDriver"]


def _options(words: list[str]) -> tuple[list[str], dict[str, str]]:
    plain = [w for w in words if "=" not in w]
    return plain, dict(w.split("=", 1) for w in words if "=" in w)


def render_event(event: Event) -> str:
    """One line for an event: its type, then its fields (bytes in hex, nested messages by repr)."""
    fields = []
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if f.name == "elapsed":
            value = round(value, 6)
        elif isinstance(value, bytes):
            value = value.hex()
        elif isinstance(value, DecodeError):
            value = f"{type(value).__name__}({value})"
        fields.append(f"{f.name}={value!r}" if isinstance(value, str) and f.name == "reason"
                      else f"{f.name}={value}")
    return f"{type(event).__name__} " + " ".join(fields)


class ClientDriver:
    """Drives one :class:`~wireproof.codecs.modbus.client.ModbusClient` through transcript commands."""

    def __init__(self) -> None:
        self.client = ModbusClient("tcp")
        self.now = 0.0

    def run(self, command: str) -> list[str]:
        verb, *words = command.split()
        handler = getattr(self, "cmd_" + verb, None)
        if handler is None:
            raise ValueError(f"unknown command {verb!r}")
        try:
            lines: list[str] = handler(words)
        except ProtocolViolation as err:
            return [f"violation [{err.clause}] {err.reason}"]
        return lines

    def _at(self, options: dict[str, str]) -> float:
        if "at" in options:
            self.now = float(options["at"])
        return self.now

    def cmd_framing(self, words: list[str]) -> list[str]:
        plain, options = _options(words)
        window = int(options["window"]) if "window" in options else None
        self.client = ModbusClient(cast(Framing, plain[0]), window=window,
                                   timeout=float(options.get("timeout", 1.0)))
        return []

    def cmd_request(self, words: list[str]) -> list[str]:
        plain, options = _options(words)
        unit, pdu = int(plain[0]), decode_request_pdu(bytes.fromhex("".join(plain[1:])))
        timeout = float(options["timeout"]) if "timeout" in options else None
        tid, data = self.client.request(pdu, unit_id=unit, now=self._at(options), timeout=timeout)
        return [f"send tid={tid} {data.hex(' ')}"]

    def cmd_receive(self, words: list[str]) -> list[str]:
        plain, options = _options(words)
        events = self.client.receive_data(bytes.fromhex("".join(plain)), self._at(options))
        return [render_event(e) for e in events]

    def cmd_tick(self, words: list[str]) -> list[str]:
        self.now = float(words[0])
        return [render_event(e) for e in self.client.tick(self.now)]

    def cmd_state(self, words: list[str]) -> list[str]:
        client: Any = self.client
        line = client._line  # the serial master's table state, when there is one
        out = [f"outstanding {list(client.outstanding)}"]
        if line is not None:
            out.append(f"line {line.state.name}")
        return out

