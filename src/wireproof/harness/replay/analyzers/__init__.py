"""The contract between the replay engine and a protocol's passive analyzer.

Theory of operation
-------------------
For every flow whose protocol has an analyzer, the engine calls the
protocol's factory once: ``factory(flow, sink) -> FlowAnalyzer``. ``flow``
(:class:`FlowContext`) says who the client and the server are (already
corrected when the ports proved the dissector's guess wrong), the flow's
label, and whether the capture saw its handshake. ``sink`` (:class:`Sink`)
is how the analyzer reports: findings, messages decoded, decode errors,
values seen (for the analytics).

The engine then feeds the flow's reassembled bytes, in order, per direction
(``on_data``), the holes TCP reassembly could not fill (``on_gap``: the
analyzer must resynchronise, with its framer, on the next plausible message
boundary), UDP payloads (``on_datagram``) and the end (``on_close``: report
what is still outstanding). Times are capture times (seconds since the
epoch); frame numbers are the capture's, 1-based. An analyzer never raises
on bad traffic: bad traffic is a finding.

Analyzers are passive machines in the sense of DESIGN.md: they observe both
sides and judge, they never produce bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from wireproof.harness.replay.findings import Finding, Severity, hex_window

__all__ = [
    "AnalyzerFactory",
    "FlowAnalyzer",
    "FlowContext",
    "Sink",
    "make_finding",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowContext:
    """A flow as its analyzer sees it.

    ``client`` and ``server`` are ``"ip:port"`` texts (IPv6 in brackets);
    ``label`` is ``"client -> server"`` and names the flow in findings.
    ``handshake`` is false when the capture starts mid-flow (the first bytes
    may be the middle of a message). ``timeout`` is how long (capture time, s)
    a response may take before it is late. ``values`` is false when nobody
    listens to :meth:`Sink.value` (no analytics): analyzers may skip the work.
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
        """One message that did not frame or decode (it also got a finding)."""

    def value(self, series: str, timestamp: float, value: float) -> None:
        """A point's value seen on the wire (a register read or written)."""

    def statistic(self, protocol: str, table: str, key: str) -> None:
        """Count one ``key`` in the protocol's statistics ``table`` (e.g. exceptions)."""


class FlowAnalyzer(Protocol):
    """One flow's passive analyzer (see the module docstring)."""

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None: ...

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None: ...

    def on_datagram(self, from_client: bool, data: bytes, frame: int, ts: float) -> None: ...

    def on_close(self, frame: int, ts: float, how: str) -> None: ...


AnalyzerFactory = Callable[[FlowContext, Sink], FlowAnalyzer]


def make_finding(flow: FlowContext, *, frame: int, ts: float, rule: str, clause: str, severity: Severity,
                 message: str, data: bytes = b"", at: int = 0) -> Finding:
    """A finding on ``flow`` with the hex window around ``data[at]``."""
    window, offset = hex_window(data, at) if data else ("", 0)
    return Finding(frame=frame, timestamp=ts, flow=flow.label, protocol=flow.protocol, clause=clause,
                   severity=severity, rule=rule, message=message, offset=offset, hex=window)
