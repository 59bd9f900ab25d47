"""Capture replay: read a capture, reassemble its flows, decode and check every message.

The capture layer (events, capture, pcap, candump, net, tcp, dissector) turns a
pcap/pcapng/candump file into a stream of protocol-independent events; the
engine dispatches them to protocol analyzers. A damaged capture is analysed
up to the damage, which is reported with its place (:mod:`.damage`).

    >>> from wireproof.harness.replay import replay
    >>> result = replay("plant.pcapng", ports={5020: "modbus-tcp"})  # doctest: +SKIP
    >>> result.messages, result.errors, result.findings[:3]  # doctest: +SKIP

The engine (:mod:`.engine`) streams the events to the analyzers registered
in :mod:`.registry` (:mod:`.analyzers`); :mod:`.summary` renders the result
for people and as the ``wireproof.replay/1`` JSON.
"""

from __future__ import annotations

from wireproof.harness.replay.capture import CaptureReader, iter_capture
from wireproof.harness.replay.damage import CaptureDamaged, Damage
from wireproof.harness.replay.dissector import Dissector
from wireproof.harness.replay.events import (
    CanMessage,
    Datagram,
    Endpoint,
    Event,
    FlowClosed,
    FlowKey,
    FlowOpened,
    Frame,
    Malformed,
    StreamAnomaly,
    StreamData,
    StreamGap,
)
from wireproof.harness.replay.findings import Finding, FindingCollector
from wireproof.harness.replay.registry import ProtocolSpec, Registry, default_registry
from wireproof.harness.replay.result import FlowRecord, ReplayResult
from wireproof.harness.replay.run import replay, scan_flows

__all__ = [
    "CanMessage",
    "CaptureDamaged",
    "CaptureReader",
    "Damage",
    "Datagram",
    "Dissector",
    "Endpoint",
    "Event",
    "Finding",
    "FindingCollector",
    "FlowClosed",
    "FlowKey",
    "FlowOpened",
    "FlowRecord",
    "Frame",
    "Malformed",
    "ProtocolSpec",
    "Registry",
    "ReplayResult",
    "StreamAnomaly",
    "StreamData",
    "StreamGap",
    "iter_capture",
    "default_registry",
    "replay",
    "scan_flows",
]
