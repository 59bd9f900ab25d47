"""Passive analysis: the contract between the replay engine and a protocol's analyzer (pure).

Theory of operation
-------------------
A protocol's passive analyzer is a machine that observes both sides of a
flow and judges; it never produces bytes (DESIGN.md, "Protocol
descriptors": it lives in the protocol's codec package, the replay engine in
:mod:`wireproof.harness.replay` drives it). For every flow whose protocol has
an analyzer the engine calls the protocol's factory once: ``factory(flow,
sink) -> FlowAnalyzer``. ``flow`` (:class:`FlowContext`) says who the client
and the server are (already corrected when the ports proved the dissector's
guess wrong), the flow's label, and whether the capture saw its handshake.
``sink`` (:class:`Sink`) is how the analyzer reports: findings, messages
decoded, decode errors, values seen (for the analytics).

The engine then feeds, per direction and in order:

- byte-stream transports (TCP): the reassembled bytes (``on_data``, one
  call per segment) and the holes reassembly could not fill (``on_gap``:
  the analyzer must resynchronise on the next plausible message boundary;
  an analyzer that offers ``plausible_header(from_client, data)`` has the
  engine do it, :mod:`wireproof.codecs._resync`);
- datagram transports (UDP): each payload (``on_datagram``);
- message transports (CAN): each message as the capture layer decoded it
  (``on_message``: for CAN an object with ``can_id``, ``extended``, ``fd``,
  ``data``, ...);

and the end (``on_close``: report what is still outstanding). Times are
capture times (seconds since the epoch); frame numbers are the capture's,
1-based. An analyzer never raises on bad traffic: bad traffic is a finding.
An analyzer of a byte-stream protocol may leave ``on_message`` out (and the
other way round); the engine only calls what the flow's transport carries.

A :class:`Finding` is one broken rule at one place in a capture: frame,
timestamp, flow, protocol, clause of the standard, a stable rule id
(``"modbus.response-without-request"``), a severity, a sentence, and a hex
window of up to 16 bytes either side of the byte that broke the rule, with
that byte's offset inside the window, and the direction of the message it
is about (``"client -> server"``, ``"server -> client"``, or ``""`` when it
is about no one message: a capture-level finding). Severities: ``error`` (the traffic
breaks a rule of the standard; ``wireproof replay`` exits 1), ``warning``
(suspicious, not provably wrong from the capture alone), ``info`` (worth
knowing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

__all__ = [
    "SEVERITIES",
    "AnalyzerFactory",
    "Direction",
    "Finding",
    "FlowAnalyzer",
    "FlowContext",
    "Severity",
    "Sink",
    "hex_window",
    "make_finding",
    "route",
]

Severity = Literal["error", "warning", "info"]
SEVERITIES: Final = ("error", "warning", "info")
WINDOW_RADIUS: Final = 16
Direction = Literal["", "client -> server", "server -> client"]
CLIENT_TO_SERVER: Final = "client -> server"
SERVER_TO_CLIENT: Final = "server -> client"


def hex_window(data: bytes | bytearray, at: int, radius: int = WINDOW_RADIUS) -> tuple[str, int]:
    """``data[at - radius : at + radius + 1]`` in hex, and ``at``'s offset inside it.

    An ``at`` past the end (a truncated message) is clamped to the end: the
    offset then points just after the last byte shown.
    """
    at = max(0, min(at, len(data)))
    start = max(0, at - radius)
    return bytes(data[start:at + radius + 1]).hex(), at - start


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One broken rule at one frame of a capture (see the module docstring)."""

    frame: int
    timestamp: float
    flow: str
    protocol: str
    clause: str
    severity: Severity
    rule: str
    message: str
    offset: int = 0
    hex: str = ""
    direction: Direction = ""
    window_start: int = 0  # where the hex window starts in the message (offset + window_start: in it)
    malformed: bool = False  # the message (or frame) did not decode: this finding is its one report

    def to_json(self) -> dict[str, Any]:
        return {"frame": self.frame, "timestamp": self.timestamp, "flow": self.flow,
                "direction": self.direction,
                "protocol": self.protocol, "clause": self.clause, "severity": self.severity,
                "rule": self.rule, "message": self.message, "offset": self.offset, "hex": self.hex,
                "window_start": self.window_start, "malformed": self.malformed}

    def route(self) -> str:
        """The flow in the order of the finding's frame: ``server -> client`` reverses the label."""
        return route(self.flow, self.direction)

    def describe(self) -> str:
        """One line for people: ``#12 error modbus.rule [MB-TCP 3.1.3] src -> dst (who): message``."""
        clause = f" [{self.clause}]" if self.clause else ""
        who = f" ({self.direction})" if self.direction else ""
        return f"#{self.frame} {self.severity} {self.rule}{clause} {self.route()}{who}: {self.message}"


def route(flow: str, direction: str) -> str:
    """``flow`` (a ``"client -> server"`` label) with its ends in the order ``direction`` says."""
    client, sep, server = flow.partition(" -> ")
    if direction == SERVER_TO_CLIENT and sep:
        return f"{server} -> {client}"
    return flow


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowContext:
    """A flow as its analyzer sees it.

    ``client`` and ``server`` are ``"ip:port"`` texts (IPv6 in brackets; for a
    message transport the interface); ``label`` is ``"client -> server"`` and
    names the flow in findings. ``handshake`` is false when the capture
    starts mid-flow (the first bytes may be the middle of a message).
    ``timeout`` is how long (capture time, s) a response may take before it
    is late. ``values`` is false when nobody listens to :meth:`Sink.value`
    (no analytics): analyzers may skip the work.
    """

    transport: str
    client: str
    server: str
    label: str
    protocol: str
    handshake: bool = True
    timeout: float = 1.0
    values: bool = True


class Sink(Protocol):
    """What an analyzer reports to (the engine implements it)."""

    def finding(self, finding: Finding) -> None: ...

    def message(self, protocol: str, function: str, frame: int, timestamp: float) -> None:
        """One message decoded (or framed) in ``frame``; ``function`` names its kind."""

    def decode_error(self, protocol: str) -> None:
        """One message that did not frame or decode (it also got exactly one finding, made with
        ``malformed=True``: the report counts both and they must agree)."""

    def value(self, series: str, timestamp: float, value: float) -> None:
        """A point's value seen on the wire (a register read or written)."""

    def values(self, series_base: str, start: int, timestamp: float, values: Sequence[float]) -> None:
        """A block of consecutive points ``series_base[start]``, ``[start + 1]``, ... (optional)."""

    def statistic(self, protocol: str, table: str, key: str) -> None:
        """Count one ``key`` in the protocol's statistics ``table`` (e.g. exceptions)."""


class FlowAnalyzer(Protocol):
    """One flow's passive analyzer (see the module docstring)."""

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None: ...

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None: ...

    def on_datagram(self, from_client: bool, data: bytes, frame: int, ts: float) -> None: ...

    def on_close(self, frame: int, ts: float, how: str) -> None: ...


AnalyzerFactory = Callable[[FlowContext, Sink], Any]


def make_finding(flow: FlowContext, *, frame: int, ts: float, rule: str, clause: str, severity: Severity,
                 message: str, data: bytes | bytearray = b"", at: int = 0,
                 from_client: bool | None = None, malformed: bool = False) -> Finding:
    """A finding on ``flow`` with the hex window around ``data[at]``; ``from_client`` is the
    direction of the message it is about (None: about no one message); ``malformed``: the
    message did not decode and this is its finding (the analyzer also calls
    :meth:`Sink.decode_error`, once)."""
    window, offset = hex_window(data, at) if data else ("", 0)
    start = max(0, min(at, len(data))) - offset if data else 0
    direction: Direction = ("" if from_client is None else
                            CLIENT_TO_SERVER if from_client else SERVER_TO_CLIENT)
    return Finding(frame=frame, timestamp=ts, flow=flow.label, protocol=flow.protocol, clause=clause,
                   severity=severity, rule=rule, message=message, offset=offset, hex=window,
                   direction=direction, window_start=start, malformed=malformed)
