"""Link, network and transport headers: parsing, and IP fragment reassembly.

Normative references:

- Link types (tcpdump.org LINKTYPE_*): 0 NULL (4-byte address family in the
  capturing host's byte order), 1 Ethernet (IEEE 802.3 3.1.1; VLAN tags
  IEEE 802.1Q 9.6: TPID 0x8100, 802.1ad service tag 0x88A8 and the legacy
  0x9100, stacked in any number), 101 RAW (IPv4 or IPv6 by version), 108
  LOOP (address family in network byte order), 113 Linux cooked SLL
  (protocol at byte 14), 227 SocketCAN (Linux ``can_frame``/``canfd_frame``,
  id in network byte order), 228 IPv4, 229 IPv6, 276 SLL2 (protocol at byte 0).
- IPv4 (RFC 791 3.1; reassembly 3.2), IPv6 (RFC 8200 3, extension headers 4,
  fragment header 4.5), TCP (RFC 9293 3.1), UDP (RFC 768).

Every parser takes the frame bytes and an offset and returns plain tuples
(no objects per frame); anything inconsistent raises
:class:`~wireproof.errors.DecodeError` whose ``protocol`` is the layer name,
which the dissector turns into a :class:`~.events.Malformed` event.
Checksums are not verified: captures taken on the sending host carry
offloaded (unfilled) checksums, and Wireshark does not verify them by default.

Fragment reassembly (:class:`Reassembler`) keys datagrams by (version,
source, destination, identification, protocol), is bounded in the number of
datagrams in progress (the oldest is dropped) and their size (65,535 bytes),
and drops datagrams older than ``timeout`` seconds of capture time. Overlapping
fragments are reported (an evasion technique, RFC 5722 forbids them for IPv6)
and the bytes seen first win, as for TCP.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field

from wireproof.errors import DecodeError, TruncatedError

__all__ = [
    "ETH_IPV4",
    "ETH_IPV6",
    "NO_NETWORK",
    "Reassembler",
    "address_text",
    "ipv4",
    "ipv6",
    "link_layer",
    "socketcan",
    "tcp",
    "udp",
]

ETH_IPV4 = 0x0800
ETH_IPV6 = 0x86DD
NO_NETWORK = -1  # link_layer's answer for a link type it does not dissect
_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
_AF_INET6 = (10, 24, 28, 30)  # Linux, BSDs, FreeBSD, Darwin
_IPV6_EXT = (0, 43, 60, 135, 139, 140)  # hop-by-hop, routing, destination, mobility, HIP, shim6

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_IPV4 = struct.Struct(">BxHHHxB2x4s4s")
_IPV6 = struct.Struct(">4xHB1x16s16s")
_TCP = struct.Struct(">HHIIH")
_UDP = struct.Struct(">HHH")
_CAN = struct.Struct(">IBB")


def _short(layer: str, need: int, have: int, what: str) -> TruncatedError:
    return TruncatedError(layer, (what,), have, f"{what} needs {need} bytes, the frame has {have}")


def link_layer(linktype: int, data: bytes) -> tuple[int, int]:
    """(ethertype, offset) of the network packet in a frame; ``(NO_NETWORK, 0)`` for unknown link types.

    An Ethernet length field (<= 1500, IEEE 802.3 LLC) comes back as is.
    """
    n = len(data)
    if linktype == 1:
        if n < 14:
            raise _short("ethernet", 14, n, "header")
        off = 12
        ethertype = _U16.unpack_from(data, off)[0]
        while ethertype in _VLAN_TPIDS:
            off += 4
            if n < off + 2:
                raise _short("vlan", off + 2, n, "tag")
            ethertype = _U16.unpack_from(data, off)[0]
        return ethertype, off + 2
    if linktype == 113:
        if n < 16:
            raise _short("sll", 16, n, "header")
        return _U16.unpack_from(data, 14)[0], 16
    if linktype == 276:
        if n < 20:
            raise _short("sll2", 20, n, "header")
        return _U16.unpack_from(data, 0)[0], 20
    if linktype in (101, 228, 229):
        if n < 1:
            raise _short("raw", 1, n, "version")
        version = data[0] >> 4
        if version == 4 and linktype != 229:
            return ETH_IPV4, 0
        if version == 6 and linktype != 228:
            return ETH_IPV6, 0
        raise DecodeError("raw", ("version",), 0, f"IP version {version} on link type {linktype}")
    if linktype in (0, 108):
        if n < 4:
            raise _short("null", 4, n, "family")
        family = _U32.unpack_from(data)[0]
        if linktype == 0 and family > 0xFFFF:  # written in little-endian host order
            family = int.from_bytes(data[:4], "little")
        if family == 2:
            return ETH_IPV4, 4
        if family in _AF_INET6:
            return ETH_IPV6, 4
        return 0x10000 + family, 4  # outside the ethertype space: counted as unsupported
    return NO_NETWORK, 0


def address_text(raw: bytes) -> str:
    """Dotted quad or RFC 5952 text of a 4- or 16-byte address."""
    return socket.inet_ntoa(raw) if len(raw) == 4 else socket.inet_ntop(socket.AF_INET6, raw)


def ipv4(data: bytes, off: int) -> tuple[bytes, bytes, int, int, int, bool, int, int]:
    """(src, dst, protocol, identification, fragment offset in bytes, more fragments,
    payload start, payload end) of the IPv4 header at ``off`` (RFC 791 3.1)."""
    avail = len(data) - off
    if avail < 20:
        raise _short("ipv4", 20, avail, "header")
    vihl, total, ident, frag, proto, src, dst = _IPV4.unpack_from(data, off)
    if vihl >> 4 != 4:
        raise DecodeError("ipv4", ("version",), off, f"version {vihl >> 4}, expected 4")
    ihl = (vihl & 0x0F) * 4
    if ihl < 20:
        raise DecodeError("ipv4", ("ihl",), off, f"header length {ihl} below 20")
    if total < ihl:
        raise DecodeError("ipv4", ("total_length",), off + 2,
                          f"total length {total} below header length {ihl}")
    if total > avail:
        raise TruncatedError("ipv4", ("total_length",), off + 2,
                             f"total length {total} but {avail} bytes captured")
    return src, dst, proto, ident, (frag & 0x1FFF) * 8, bool(frag & 0x2000), off + ihl, off + total


def ipv6(data: bytes, off: int) -> tuple[bytes, bytes, int, int, int, tuple[int, bool, int] | None]:
    """(src, dst, upper-layer protocol, payload start, payload end, fragment) of the IPv6 packet at
    ``off``; ``fragment`` is (offset in bytes, more fragments, identification) when a fragment
    header was crossed (RFC 8200 4.5)."""
    avail = len(data) - off
    if avail < 40:
        raise _short("ipv6", 40, avail, "header")
    if data[off] >> 4 != 6:
        raise DecodeError("ipv6", ("version",), off, f"version {data[off] >> 4}, expected 6")
    plen, nh, src, dst = _IPV6.unpack_from(data, off)
    if plen == 0:
        raise DecodeError("ipv6", ("payload_length",), off + 4, "payload length 0 (jumbogram) unsupported")
    end = off + 40 + plen
    if end > len(data):
        raise TruncatedError("ipv6", ("payload_length",), off + 4,
                             f"payload length {plen} but {avail - 40} bytes captured")
    pos = off + 40
    frag: tuple[int, bool, int] | None = None
    while nh in _IPV6_EXT or nh in (44, 51):
        if pos + 8 > end:
            raise TruncatedError("ipv6", ("extension", nh), pos,
                                 f"extension header {nh} runs past the payload")
        if nh == 44:
            if frag is not None:
                raise DecodeError("ipv6", ("fragment",), pos, "two fragment headers")
            fo, ident = _U16.unpack_from(data, pos + 2)[0], _U32.unpack_from(data, pos + 4)[0]
            frag = (fo & 0xFFF8, bool(fo & 1), ident)
            nh, size = data[pos], 8
            if frag[0] or frag[1]:
                return src, dst, nh, pos + size, end, frag  # later headers live in the reassembled payload
        elif nh == 51:  # AH counts its length in 32-bit words minus 2 (RFC 4302 2.2)
            nh, size = data[pos], (data[pos + 1] + 2) * 4
        else:
            nh, size = data[pos], (data[pos + 1] + 1) * 8
        pos += size
        if pos > end:
            raise TruncatedError("ipv6", ("extension",), pos - size, "extension header runs past the payload")
    return src, dst, nh, pos, end, frag


def tcp(data: bytes, off: int, end: int) -> tuple[int, int, int, int, int, int]:
    """(source port, destination port, seq, ack, flags, payload start) of the TCP header at ``off``."""
    if end - off < 20:
        raise _short("tcp", 20, end - off, "header")
    sport, dport, seq, ack, offflags = _TCP.unpack_from(data, off)
    doff = (offflags >> 12) * 4
    if doff < 20 or off + doff > end:
        raise DecodeError("tcp", ("data_offset",), off + 12,
                          f"data offset {doff} outside a {end - off}-byte segment")
    return sport, dport, seq, ack, offflags & 0xFFF, off + doff


def udp(data: bytes, off: int, end: int) -> tuple[int, int, int, int]:
    """(source port, destination port, payload start, payload end) of the UDP header at ``off``."""
    if end - off < 8:
        raise _short("udp", 8, end - off, "header")
    sport, dport, length = _UDP.unpack_from(data, off)
    if length < 8 or off + length > end:
        raise DecodeError("udp", ("length",), off + 4, f"length {length} outside a {end - off}-byte datagram")
    return sport, dport, off + 8, off + length


def socketcan(data: bytes) -> tuple[int, bool, bool, bool, bool, bool, bool, int, bytes]:
    """(id, extended, remote, error, fd, brs, esi, length field, data) of a LINKTYPE_CAN_SOCKETCAN frame.

    A frame is CAN FD when it is ``canfd_frame``-sized (72 bytes) or has
    CANFD_FDF (0x04) in its flags byte.
    """
    if len(data) < 8:
        raise _short("socketcan", 8, len(data), "header")
    word, length, flags = _CAN.unpack_from(data)
    extended, remote, error = bool(word & 0x80000000), bool(word & 0x40000000), bool(word & 0x20000000)
    fd = len(data) == 72 or bool(flags & 0x04)
    if length > (64 if fd else 8) and not (remote and length <= 15):
        raise DecodeError("socketcan", ("len",), 4, f"length {length} too large for a "
                                                    f"{'CAN FD' if fd else 'classic CAN'} frame")
    payload = b""
    if not remote:
        if 8 + length > len(data):
            raise TruncatedError("socketcan", ("data",), len(data), f"length {length} but "
                                                                   f"{len(data) - 8} data bytes captured")
        payload = data[8:8 + length]
    can_id = word & (0x1FFFFFFF if extended else 0x7FF)
    return can_id, extended, remote, error, fd, bool(flags & 1), bool(flags & 2), length, payload


# -- fragments -------------------------------------------------------------------------

MAX_DATAGRAM = 65535


@dataclass(slots=True)
class _Partial:
    first_frame: int
    first_ts: float
    buf: bytearray = field(default_factory=bytearray)
    have: list[list[int]] = field(default_factory=list)  # merged [start, end) intervals, sorted
    total: int | None = None


class Reassembler:
    """IP fragment reassembly (RFC 791 3.2, RFC 8200 4.5), bounded in count, size and time.

    :meth:`add` returns the whole payload when the last hole is filled, and
    a list of problems to report as ``(frame, timestamp, reason)``: overlaps,
    datagrams dropped for age or for room.
    """

    def __init__(self, *, max_datagrams: int = 256, timeout: float = 30.0) -> None:
        self.max_datagrams = max_datagrams
        self.timeout = timeout
        self._pending: dict[tuple[object, ...], _Partial] = {}
        self.completed = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, key: tuple[object, ...], offset: int, more: bool, payload: bytes, frame: int,
            timestamp: float) -> tuple[bytes | None, list[tuple[int, float, str]]]:
        problems: list[tuple[int, float, str]] = []
        self._expire(timestamp, problems)
        end = offset + len(payload)
        if end > MAX_DATAGRAM:
            raise DecodeError("fragment", ("offset",), 0, f"fragment ends at byte {end} of the datagram, "
                                                          f"beyond the {MAX_DATAGRAM}-byte maximum")
        part = self._pending.get(key)
        if part is None:
            if len(self._pending) >= self.max_datagrams:
                old_key = next(iter(self._pending))
                self._drop(old_key, "dropped incomplete: too many datagrams in reassembly", problems)
            part = self._pending[key] = _Partial(frame, timestamp)
        if not more:
            if part.total is not None and part.total != end:
                problems.append((frame, timestamp,
                                 f"last fragment ends at {end}, an earlier one at {part.total}"))
            elif part.total is None:
                part.total = end
        if part.total is not None and end > part.total:
            problems.append((frame, timestamp, f"fragment ends at {end}, past the datagram end {part.total}"))
            end = part.total
            payload = payload[:max(0, end - offset)]
        if len(part.buf) < end:
            part.buf.extend(bytes(end - len(part.buf)))
        conflict = overlap = False
        pieces = [(offset, end)]
        for s, e in part.have:  # first-seen bytes win: write only what no earlier fragment covered
            if s < end and e > offset:
                overlap = True
                lo, hi = max(s, offset), min(e, end)
                conflict = conflict or part.buf[lo:hi] != payload[lo - offset:hi - offset]
                pieces = [(a, b) for a, b in _subtract(pieces, s, e)]
        for a, b in pieces:
            part.buf[a:b] = payload[a - offset:b - offset]
        if overlap:
            problems.append((frame, timestamp, "overlapping fragment" + (" with conflicting bytes; the bytes "
                             "seen first are kept" if conflict else " (same bytes)")))
        part.have = _merge(part.have, offset, end)
        if part.total is not None and part.have == [[0, part.total]]:
            del self._pending[key]
            self.completed += 1
            return bytes(part.buf), problems
        return None, problems

    def flush(self) -> list[tuple[int, float, str]]:
        """Drop every incomplete datagram (end of capture); the problems to report."""
        problems: list[tuple[int, float, str]] = []
        for key in list(self._pending):
            self._drop(key, "incomplete at the end of the capture", problems)
        return problems

    def expire(self, now: float) -> list[tuple[int, float, str]]:
        """Drop the datagrams older than the timeout at capture time ``now``; the problems to report."""
        problems: list[tuple[int, float, str]] = []
        self._expire(now, problems)
        return problems

    def _expire(self, now: float, problems: list[tuple[int, float, str]]) -> None:
        for key, part in list(self._pending.items()):
            if now - part.first_ts <= self.timeout:
                break  # insertion order is (nearly) time order
            self._drop(key, f"incomplete after {self.timeout:g} s", problems)

    def _drop(self, key: tuple[object, ...], why: str, problems: list[tuple[int, float, str]]) -> None:
        part = self._pending.pop(key)
        self.dropped += 1
        got = sum(e - s for s, e in part.have)
        size = "?" if part.total is None else str(part.total)
        problems.append((part.first_frame, part.first_ts,
                         f"fragmented datagram {why} ({got} of {size} bytes received)"))


def _subtract(pieces: list[tuple[int, int]], s: int, e: int) -> list[tuple[int, int]]:
    out = []
    for a, b in pieces:
        if b <= s or a >= e:
            out.append((a, b))
            continue
        if a < s:
            out.append((a, s))
        if b > e:
            out.append((e, b))
    return out


def _merge(have: list[list[int]], s: int, e: int) -> list[list[int]]:
    out: list[list[int]] = []
    for a, b in sorted([*have, [s, e]]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return out
