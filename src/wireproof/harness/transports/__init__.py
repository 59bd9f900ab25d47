"""Transports: byte streams and message transports the harness drives, opened by URL scheme.

Two interfaces, both protocol-independent (framing belongs to the codecs):

- :class:`Transport`, a byte stream: ``send(data)``, ``recv(max_bytes)``
  returning whatever bytes arrived (a framer reassembles), ``b""`` at end of
  file;
- :class:`MessageTransport`, whole messages: ``send(message)`` sends one,
  ``recv()`` returns exactly one, never split or merged (datagrams, CAN
  frames).

Both have ``close``, ``url``, a default ``timeout``, an optional ``tap``, the
same errors (:class:`~wireproof.errors.TransportTimeout`,
:class:`~wireproof.errors.TransportError` naming the URL) and the context
manager (:class:`TransportBase`), and say which they are in ``kind``:
``"stream"`` or ``"message"``.

Open a target by URL: the URL's scheme picks a :class:`Scheme` from the
registry (:mod:`~wireproof.harness.transports.registry`), and the scheme's
``kind`` says what it gives:

=============================================  ========  ============================
URL                                            kind      transport
=============================================  ========  ============================
``tcp://HOST:PORT``                            stream    :class:`TcpTransport`
``serial://PATH?baudrate=...&parity=...``      stream    :class:`SerialTransport`
``udp://HOST:PORT``                            message   :class:`UdpTransport`
=============================================  ========  ============================

More schemes (``can://``, ``dicom://``, ...) come from the entry-point group
``wireproof.transports`` or :func:`register_scheme`, with no change here.
:func:`open_transport` opens a stream (a message scheme is a HarnessError),
:func:`open_message_transport` a message transport, :func:`open_target`
either; :func:`scheme_for` tells a URL's kind without opening it, and
:func:`parse_url` checks a URL; :func:`peer_dropped` and :func:`local_failure`
say whose failure a transport error is.

For tests: :func:`memory_pair` (a stream pair, seeded :class:`FaultPlan`:
split, merge, drop, corrupt), :func:`memory_message_pair` (a message pair,
seeded :class:`MessageFaultPlan`: drop, duplicate, corrupt, reorder),
:func:`pty_pair`, and :class:`UdpEndpoint` for the serving side of UDP.
"""

from __future__ import annotations

from wireproof.harness.transports.base import (
    DEFAULT_TIMEOUT,
    SerialSettings,
    Tap,
    Target,
    TcpAddress,
    Transport,
    TransportBase,
    TransportKind,
    local_failure,
    peer_dropped,
)
from wireproof.harness.transports.memory import (
    FaultAction,
    FaultKind,
    FaultPlan,
    MemoryTransport,
    memory_pair,
)
from wireproof.harness.transports.memory_message import (
    MemoryMessageTransport,
    MessageFaultAction,
    MessageFaultKind,
    MessageFaultPlan,
    memory_message_pair,
)
from wireproof.harness.transports.message import MessageTransport
from wireproof.harness.transports.registry import (
    ENTRY_POINT_GROUP,
    AnyTransport,
    Scheme,
    SchemeRegistry,
    open_message_transport,
    open_target,
    open_transport,
    parse_url,
    register_scheme,
    scheme_for,
    scheme_names,
)
from wireproof.harness.transports.serial import PtyMasterTransport, PtyPair, SerialTransport, pty_pair
from wireproof.harness.transports.tcp import TcpTransport
from wireproof.harness.transports.udp import Peer, UdpAddress, UdpEndpoint, UdpTransport

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "AnyTransport",
    "FaultAction",
    "FaultKind",
    "FaultPlan",
    "MemoryMessageTransport",
    "MemoryTransport",
    "MessageFaultAction",
    "MessageFaultKind",
    "MessageFaultPlan",
    "MessageTransport",
    "Peer",
    "PtyMasterTransport",
    "PtyPair",
    "Scheme",
    "SchemeRegistry",
    "SerialSettings",
    "SerialTransport",
    "Tap",
    "Target",
    "TcpAddress",
    "TcpTransport",
    "Transport",
    "TransportBase",
    "TransportKind",
    "UdpAddress",
    "UdpEndpoint",
    "UdpTransport",
    "local_failure",
    "memory_message_pair",
    "memory_pair",
    "open_message_transport",
    "open_target",
    "open_transport",
    "parse_url",
    "peer_dropped",
    "pty_pair",
    "register_scheme",
    "scheme_for",
    "scheme_names",
]
