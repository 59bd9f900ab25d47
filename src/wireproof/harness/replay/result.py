"""What a replay found: the result model (flows table, counters, findings, analytics).

:class:`ReplayResult` is what :func:`~.run.replay` returns and what
:mod:`.summary` renders (``wireproof.replay/1`` JSON, text, HTML);
:class:`FlowRecord` is one line of its flows table. The engine
(:mod:`.engine`) fills them as it dispatches the capture's events.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from wireproof.harness.replay.events import FlowKey
from wireproof.harness.replay.findings import Finding, FindingCollector

if TYPE_CHECKING:
    from wireproof.harness.replay.analytics import Analytics
    from wireproof.harness.replay.damage import Damage

__all__ = ["UNKNOWN", "FlowRecord", "ReplayResult", "endpoint_text", "flow_label"]

UNKNOWN = "unknown"


def endpoint_text(endpoint: tuple[str, int]) -> str:
    """``"10.0.0.1:502"``; IPv6 in brackets: ``"[fe80::1]:502"``."""
    host, port = endpoint
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def flow_label(flow: FlowKey, swapped: bool = False) -> str:
    """``"10.0.0.9:3082 -> 10.0.0.3:502"`` (client first); a message bus: ``"can can0"``.

    A bus (a message transport such as CAN) has one endpoint, the interface:
    its flow key names it as both client and server.
    """
    if flow.client == flow.server:
        return f"{flow.transport} {flow.client[0]}"
    client, server = (flow.server, flow.client) if swapped else (flow.client, flow.server)
    return f"{endpoint_text(client)} -> {endpoint_text(server)}"


@dataclass(slots=True)
class FlowRecord:
    """One line of the flows table."""

    flow: str
    transport: str
    protocol: str
    status: str  # "analysed" | "not yet available" | "unknown"
    first: float
    last: float
    handshake: bool = True
    frames: int = 0
    bytes: int = 0
    messages: int = 0
    findings: int = 0
    errors: int = 0
    connections: int = 1
    closed: str = ""
    _last_frame: int = 0
    # Buffered for the analytics (frame times and payload sizes, message times): see _flush.
    _frame_times: list[float] = field(default_factory=list, repr=False)
    _frame_sizes: list[int] = field(default_factory=list, repr=False)
    _message_times: list[float] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"flow": self.flow, "transport": self.transport, "protocol": self.protocol,
                "status": self.status, "frames": self.frames, "bytes": self.bytes, "messages": self.messages,
                "findings": self.findings, "errors": self.errors, "first": self.first, "last": self.last,
                "handshake": self.handshake, "connections": self.connections, "closed": self.closed}


@dataclass(slots=True, kw_only=True)
class ReplayResult:
    """What a replay found; :func:`wireproof.harness.replay.summary.to_json` is its JSON."""

    file: str
    format: str = ""
    frames: int = 0
    bytes: int = 0
    first: float | None = None
    last: float | None = None
    messages: Counter[str] = field(default_factory=Counter)
    message_frames: Counter[str] = field(default_factory=Counter)
    functions: dict[str, Counter[str]] = field(default_factory=dict)
    statistics: dict[str, dict[str, Counter[str]]] = field(default_factory=dict)
    decode_errors: Counter[str] = field(default_factory=Counter)
    malformed_frames: int = 0
    collector: FindingCollector = field(default_factory=FindingCollector)
    flows: list[FlowRecord] = field(default_factory=list)
    flows_total: int = 0
    flows_dropped: int = 0
    analytics: Analytics | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    truncation: str | None = None  # why the frames end before the file does (the damage, as a sentence)
    damage: Damage | None = None  # where and how the capture is damaged (.damage), if it is

    @property
    def duration(self) -> float:
        return 0.0 if self.first is None or self.last is None else self.last - self.first

    @property
    def findings(self) -> list[Finding]:
        """The findings kept (the first ``max_findings``); ``findings_total`` counts them all."""
        return self.collector.findings

    @property
    def findings_total(self) -> int:
        return self.collector.total

    @property
    def errors(self) -> int:
        """Findings of severity ``error`` (``wireproof replay`` exits 1 when there is one)."""
        return self.collector.by_severity["error"]
