"""Scapy layers for Modbus TCP that decode with wireproof (the ``scapy`` extra).

Normative references: MB-TCP 3.1.3 (MBAP header: transaction id, protocol
id, length, unit id), MB-TCP 4.2 (length 2..254, port 502), MB-AP 4.1 (PDU:
function code + data).

Two layers, written against Scapy's public Packet API (no Scapy code is
copied; Scapy is GPL):

- :class:`WireproofModbusTCP` — the MBAP header as Scapy fields (``length``
  is computed on build when left ``None``), with the properties ``message``
  (the :class:`~wireproof.codecs.modbus.TcpAdu` decoded by wireproof, or
  ``None``) and ``decode_error`` (the :class:`~wireproof.errors.DecodeError`,
  or ``None``). Dissecting never fails: malformed bytes give a layer that
  carries its ``DecodeError``.
- :class:`WireproofModbusPDU` — the PDU: ``function_code`` and raw ``data``;
  its ``message`` is the typed PDU.

Direction: a Modbus PDU does not say whether it is a request or a response
(MB-AP 4.1). The layer takes it from the TCP ports under it — destination
502 is a request, source 502 a response — and otherwise decodes as the
codec does with no direction (request layout first).

Binding is explicit: importing this module binds nothing, so a program that
merely imports wireproof does not see its pcaps dissected differently.
:func:`install` puts these layers on TCP port 502 (both ways) *ahead* of any
other binding, including ``scapy.contrib.modbus`` whether it was loaded
before or after; :func:`uninstall` takes them off again, after which
``scapy.contrib.modbus`` (if loaded) dissects port 502 as before. The class
and field names differ from ``scapy.contrib.modbus``'s, so both can be
loaded in one program.

    >>> from wireproof.codecs.modbus.scapy_layer import install, WireproofModbusTCP
    >>> install()
    >>> pkts = rdpcap("plant.pcap")                    # doctest: +SKIP
    >>> pkts[0][WireproofModbusTCP].message            # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from scapy.fields import ByteField, ShortField, StrField, XByteField
from scapy.layers.inet import TCP
from scapy.packet import Packet, bind_top_down, split_top_down

from wireproof.codecs.modbus.adu import Direction, TcpCodec
from wireproof.codecs.modbus.constants import MBAP_HEADER_SIZE
from wireproof.codecs.modbus.messages import TcpAdu
from wireproof.errors import DecodeError

__all__ = [
    "MODBUS_TCP_PORT",
    "WireproofModbusPDU",
    "WireproofModbusTCP",
    "install",
    "installed",
    "uninstall",
]

MODBUS_TCP_PORT = 502  # MB-TCP 4.2 (IANA "mbap")

_CODEC = TcpCodec()


class _HeaderShort(ShortField):
    """A 16-bit MBAP field that takes what is there when the header is cut short.

    Scapy gives up on a layer whose fixed fields run past the data and leaves
    the bytes as Raw; a truncated MBAP header must instead give this layer,
    carrying wireproof's ``TruncatedError``. Missing fields dissect as ``None``.
    """

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if len(s) < 2:
            return b"", None
        return super().getfield(pkt, s)


class _HeaderByte(ByteField):
    """An 8-bit MBAP field, ``None`` when the header is cut short (see :class:`_HeaderShort`)."""

    def getfield(self, pkt: Packet, s: bytes) -> tuple[bytes, Any]:
        if not s:
            return b"", None
        return super().getfield(pkt, s)


class WireproofModbusTCP(Packet):
    """MBAP header (MB-TCP 3.1.3); decodes the whole ADU with wireproof's codec."""

    name = "Modbus/TCP (wireproof)"
    fields_desc = [  # noqa: RUF012 - Scapy's API: a class-level list
        _HeaderShort("transaction_id", 0),
        _HeaderShort("protocol_id", 0),
        _HeaderShort("length", None),  # unit id + PDU; None: computed on build
        _HeaderByte("unit_id", 0),
    ]

    def post_build(self, pkt: bytes, pay: bytes) -> bytes:
        if self.length is None:
            pkt = pkt[:4] + (len(pay) + 1).to_bytes(2, "big") + pkt[6:]
        return pkt + pay

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        # The PDU is length - 1 bytes (MB-TCP 3.1.3); anything after it (a
        # second pipelined ADU, Ethernet padding) is not this PDU's.
        if self.length is None:
            return s, b""
        n = max(int(self.length) - 1, 0)
        return s[:n], s[n:]

    def guess_payload_class(self, payload: bytes) -> type[Packet]:
        return WireproofModbusPDU

    @property
    def modbus_direction(self) -> Direction:
        """``"request"`` or ``"response"`` from the TCP ports under this layer; ``None`` if unknown."""
        tcp = self.underlayer
        if not isinstance(tcp, TCP):
            return None
        to_server, from_server = tcp.dport == MODBUS_TCP_PORT, tcp.sport == MODBUS_TCP_PORT
        if to_server and not from_server:
            return "request"
        if from_server and not to_server:
            return "response"
        return None

    def adu_bytes(self) -> bytes:
        """The ADU's bytes: the header and the ``length - 1`` PDU bytes it announces (no padding)."""
        raw = bytes(self)
        if len(raw) < MBAP_HEADER_SIZE:
            return raw
        return raw[:6 + int.from_bytes(raw[4:6], "big")]

    def decode_modbus(self, direction: Direction | str = "auto") -> TcpAdu:
        """Decode with wireproof; ``direction`` ``"auto"`` uses the TCP ports. Raises ``DecodeError``."""
        chosen: Any = self.modbus_direction if direction == "auto" else direction
        return _CODEC.decode(self.adu_bytes(), chosen)

    @property
    def message(self) -> TcpAdu | None:
        """The decoded ADU, or ``None`` when the bytes do not decode (see :attr:`decode_error`)."""
        try:
            return self.decode_modbus()
        except DecodeError:
            return None

    @property
    def decode_error(self) -> DecodeError | None:
        """Why the bytes do not decode, or ``None`` when they do."""
        try:
            self.decode_modbus()
        except DecodeError as err:
            return err
        return None

    def mysummary(self) -> str:
        err = self.decode_error
        if err is not None:
            return f"Modbus/TCP tid={self.transaction_id} unit={self.unit_id} DecodeError: {err.reason}"
        adu = self.message
        pdu = type(adu.pdu).__name__ if adu is not None else "?"
        return f"Modbus/TCP tid={self.transaction_id} unit={self.unit_id} {pdu}"

    @classmethod
    def from_adu(cls, adu: TcpAdu) -> WireproofModbusTCP:
        """A dissected layer holding ``adu`` encoded by wireproof."""
        return cls(_CODEC.encode(adu))


class WireproofModbusPDU(Packet):
    """Modbus PDU (MB-AP 4.1): function code and data; ``message`` is the typed PDU."""

    name = "Modbus PDU (wireproof)"
    fields_desc = [  # noqa: RUF012 - Scapy's API: a class-level list
        XByteField("function_code", 0),
        StrField("data", b""),
    ]

    def extract_padding(self, s: bytes) -> tuple[bytes, bytes]:
        return s, b""

    @property
    def message(self) -> Any:
        """The typed PDU decoded by wireproof, or ``None`` (see the MBAP layer's ``decode_error``)."""
        mbap = self.underlayer
        if isinstance(mbap, WireproofModbusTCP):
            adu = mbap.message
            return adu.pdu if adu is not None else None
        return None


def installed() -> bool:
    """Are the layers bound on TCP port 502?"""
    return any(cls is WireproofModbusTCP for _, cls in TCP.payload_guess)


def install() -> None:
    """Dissect TCP port 502 (either way) as :class:`WireproofModbusTCP`, ahead of any other binding.

    Idempotent. Building ``TCP()/WireproofModbusTCP()`` sets ``dport=502``
    (a client's request, the common case when crafting).
    """
    uninstall()
    # First match wins in Scapy's payload guessing, so ours go first; other
    # bindings (scapy.contrib.modbus) stay in the list, just behind ours.
    ours = [({"dport": MODBUS_TCP_PORT}, WireproofModbusTCP),
            ({"sport": MODBUS_TCP_PORT}, WireproofModbusTCP)]
    TCP.payload_guess = ours + [g for g in TCP.payload_guess if g[1] is not WireproofModbusTCP]
    bind_top_down(TCP, WireproofModbusTCP, dport=MODBUS_TCP_PORT)


def uninstall() -> None:
    """Undo :func:`install` (idempotent)."""
    TCP.payload_guess = [g for g in TCP.payload_guess if g[1] is not WireproofModbusTCP]
    split_top_down(TCP, WireproofModbusTCP, dport=MODBUS_TCP_PORT)
