"""What the capture layer hands the replay engine: frames in, events out.

Theory of operation: a reader (:mod:`.capture`) yields :class:`Frame` values,
the :class:`~.dissector.Dissector` turns each one into zero or more events:
flows open and close, TCP byte streams arrive in order (:class:`StreamData`)
with their holes (:class:`StreamGap`) and oddities (:class:`StreamAnomaly`),
UDP payloads (:class:`Datagram`), CAN frames (:class:`CanMessage`) and frames
that could not be dissected (:class:`Malformed`). Every event names the frame
number (1-based, as Wireshark numbers them) and the capture timestamp.

All values are frozen slotted dataclasses. A replay builds millions of them,
and the ``__init__`` that ``dataclass(frozen=True)`` generates costs several
times a plain one (it goes through ``object.__setattr__`` per field), so the
hot paths build them with :func:`~wireproof.codecs._core.fast_constructor`
(the one the codecs' fast paths use, re-exported here), which stores through
the slot descriptors directly: same class, same immutability, about 2x faster.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from wireproof.codecs._fast import fast_constructor

__all__ = [
    "CanMessage",
    "Datagram",
    "Endpoint",
    "Event",
    "FlowClosed",
    "FlowKey",
    "FlowOpened",
    "Frame",
    "Malformed",
    "StreamAnomaly",
    "StreamData",
    "StreamGap",
    "ANOMALY_KINDS",
    "fast_constructor",
]

Endpoint = tuple[str, int]
"""(address text, port): ``("10.0.0.1", 502)``; for CAN ``("can0", 0)``."""

ANOMALY_KINDS = frozenset({"retransmission", "out_of_order", "overlap_conflict", "midstream_start",
                           "data_after_close", "buffer_overflow"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One captured frame.

    ``timestamp`` is seconds since the epoch (a float: nanosecond captures
    keep about 0.1 us of precision at today's epoch). ``interface`` numbers
    the capture's interfaces in file order across all pcapng sections
    (always 0 for pcap). ``data`` is the captured bytes, ``original_length``
    the length on the wire (larger when the capture was snapped).
    """

    number: int
    timestamp: float
    linktype: int
    data: bytes
    interface: int = 0
    original_length: int
    comment: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowKey:
    """A conversation: ``transport`` is ``"tcp"``, ``"udp"`` or ``"can"``.

    The client is the side that sent the SYN (or received the SYN-ACK).
    Without a handshake, and for UDP: the side whose port is one of the
    dissector's ``ports_of_interest`` is the server; failing that the side
    with the lower port (well-known and registered ports sit below the
    ephemeral range); on a tie the sender of the first frame is the client.
    CAN: ``FlowKey("can", (iface, 0), (iface, 0))``.
    """

    transport: Literal["tcp", "udp", "can"]
    client: Endpoint
    server: Endpoint

    def __str__(self) -> str:
        if self.transport == "can":
            return f"can {self.client[0]}"
        return f"{self.transport} {_ep(self.client)} -> {_ep(self.server)}"


def _ep(e: Endpoint) -> str:
    return f"[{e[0]}]:{e[1]}" if ":" in e[0] else f"{e[0]}:{e[1]}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowOpened:
    """First frame of a flow; ``handshake`` is False for a flow that starts mid-stream."""

    flow: FlowKey
    frame: int
    timestamp: float
    handshake: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamData:
    """New, in-order, deduplicated bytes of one TCP direction (RFC 9293 3.4)."""

    flow: FlowKey
    from_client: bool
    data: bytes
    frame: int
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamGap:
    """``missing`` bytes of one direction were never seen; the next StreamData starts after the hole.

    A framer must resynchronise: whatever it had buffered is incomplete.
    """

    flow: FlowKey
    from_client: bool
    missing: int
    frame: int
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamAnomaly:
    """Something a TCP receiver would have had to cope with (``kind`` in :data:`ANOMALY_KINDS`).

    ``window`` holds the segment bytes concerned (at most 64 bytes).
    """

    flow: FlowKey
    from_client: bool
    kind: str
    frame: int
    timestamp: float
    detail: str
    window: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FlowClosed:
    """The flow ended: ``how`` is ``"fin"`` (both directions), ``"rst"``, ``"idle"`` (evicted
    from the bounded flow table) or ``"end"`` (still open at the end of the capture)."""

    flow: FlowKey
    frame: int
    timestamp: float
    how: Literal["fin", "rst", "idle", "end"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Datagram:
    """One UDP payload (RFC 768), reassembled from IP fragments if it was fragmented."""

    flow: FlowKey
    from_client: bool
    data: bytes
    frame: int
    timestamp: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CanMessage:
    """One CAN or CAN FD frame (ISO 11898-1; Linux SocketCAN ``can_frame``/``canfd_frame``).

    ``can_id`` is the 11- or 29-bit identifier without flag bits; ``remote``
    is a remote transmission request, ``error`` a SocketCAN error frame;
    ``brs``/``esi`` the CAN FD bit-rate-switch and error-state flags; ``dlc``
    the length field (for a remote frame, the length requested; its ``data`` is empty).
    """

    interface: str
    can_id: int
    extended: bool
    fd: bool
    data: bytes
    frame: int
    timestamp: float
    remote: bool = False
    error: bool = False
    brs: bool = False
    esi: bool = False
    dlc: int = 0

    @property
    def flow(self) -> FlowKey:
        return FlowKey(transport="can", client=(self.interface, 0), server=(self.interface, 0))


@dataclass(frozen=True, slots=True, kw_only=True)
class Malformed:
    """A frame that could not be dissected at ``layer`` (``"ethernet"``, ``"ipv4"``, ``"tcp"``, ...).

    ``offset`` is the byte offset in the frame where the problem was proven,
    ``window`` up to 16 bytes either side of it.
    """

    frame: int
    timestamp: float
    layer: str
    offset: int
    reason: str
    window: bytes


Record = tuple[int, float, int, bytes, int, int, "str | None"]
"""A frame as the readers produce it: the fields of :class:`Frame`, in order (number,
timestamp, linktype, data, interface, original_length, comment). A tuple costs a
fraction of a :class:`Frame`; the replay engine's hot loop takes records."""

Event = FlowOpened | StreamData | StreamGap | StreamAnomaly | FlowClosed | Datagram | CanMessage | Malformed

new_frame = fast_constructor(Frame)
new_stream_data = fast_constructor(StreamData)
new_datagram = fast_constructor(Datagram)
