"""Transports: byte streams the harness drives (in-memory with faults, TCP, serial/pty).

One interface, :class:`Transport` (``send``, ``recv``, ``close``, ``url``, an
optional ``tap``), protocol-independent: framing belongs to the codecs. Open
a target by URL with :func:`open_transport` (``tcp://HOST:PORT``,
``serial://PATH?baudrate=...``); build test fixtures with :func:`memory_pair`
(seeded :class:`FaultPlan`) and :func:`pty_pair`.
"""

from __future__ import annotations

from wireproof.harness.transports.base import (
    DEFAULT_TIMEOUT,
    SerialSettings,
    Tap,
    TcpAddress,
    Transport,
    open_transport,
    parse_url,
)
from wireproof.harness.transports.memory import (
    FaultAction,
    FaultKind,
    FaultPlan,
    MemoryTransport,
    memory_pair,
)
from wireproof.harness.transports.serial import PtyMasterTransport, PtyPair, SerialTransport, pty_pair
from wireproof.harness.transports.tcp import TcpTransport

__all__ = [
    "DEFAULT_TIMEOUT",
    "FaultAction",
    "FaultKind",
    "FaultPlan",
    "MemoryTransport",
    "PtyMasterTransport",
    "PtyPair",
    "SerialSettings",
    "SerialTransport",
    "Tap",
    "TcpAddress",
    "TcpTransport",
    "Transport",
    "memory_pair",
    "open_transport",
    "parse_url",
    "pty_pair",
]
