"""Minimal pcap / pcapng reading and writing, and TCP stream extraction.

Normative references:

- pcap: the classic libpcap file format (draft-ietf-opsawg-pcap): a 24-byte
  global header whose magic 0xA1B2C3D4 (microseconds) or 0xA1B23C4D
  (nanoseconds) also gives the byte order, then records of a 16-byte header
  (seconds, fraction, captured length, original length) and the frame.
- pcapng (draft-ietf-opsawg-pcapng): blocks of type, total length, body,
  total length repeated. Section Header Block (0x0A0D0D0A, byte-order magic
  0x1A2B3C4D), Interface Description Block (1: link type, snap length,
  options incl. ``if_tsresol``), Enhanced Packet Block (6: interface id,
  timestamp high/low, captured and original length, data padded to 32 bits),
  Simple Packet Block (3). Other blocks are skipped.
- Link types (tcpdump.org LINKTYPE_*): 0 NULL/BSD loopback (4-byte address
  family in host order), 1 Ethernet, 101 RAW IPv4/IPv6, 113 Linux cooked
  SLL, 276 Linux cooked SLL2.
- IPv4 (RFC 791) and TCP (RFC 9293) headers, enough to find the payload.

This module is deliberately small: it reads clean captures (the recorded
peer fixtures) and writes synthetic ones (frames for tshark to dissect). The
full replay engine, with IP reassembly and out-of-order TCP, is a separate
piece. Every malformed file raises :class:`~wireproof.errors.FixtureError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wireproof.errors import FixtureError

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "Frame",
    "TcpSegment",
    "TcpStream",
    "build_tcp_frame",
    "parse_tcp_segment",
    "read_frames",
    "tcp_streams",
    "write_pcap",
]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_PCAPNG_SHB = 0x0A0D0D0A
_PCAPNG_BOM = 0x1A2B3C4D
_MAX_BLOCK = 16 * 1024 * 1024  # far above any sane snap length; refuses absurd lengths


@dataclass(frozen=True, slots=True, kw_only=True)
class Frame:
    """One captured frame: when, on which link type, and its bytes."""

    timestamp: float
    linktype: int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpSegment:
    """The TCP view of one frame (IPv4 only)."""

    timestamp: float
    src: tuple[str, int]
    dst: tuple[str, int]
    seq: int
    flags: int
    payload: bytes

    @property
    def syn(self) -> bool:
        return bool(self.flags & 0x02)

    @property
    def fin(self) -> bool:
        return bool(self.flags & 0x01)


@dataclass(slots=True, kw_only=True)
class TcpStream:
    """One direction of one TCP connection, reassembled in order.

    ``chunks`` keeps each segment's payload with its timestamp, so a reader
    can tell where the sender's writes fell.
    """

    src: tuple[str, int]
    dst: tuple[str, int]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    next_seq: int | None = None

    @property
    def data(self) -> bytes:
        return b"".join(c for _, c in self.chunks)


# -- reading -------------------------------------------------------------------


def read_frames(path: str | Path) -> Iterator[Frame]:
    """Every frame of a pcap or pcapng file, in file order.

    :class:`FixtureError` (naming the file and offset) on anything malformed.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise FixtureError(f"{p}: cannot read capture: {exc}") from exc
    if len(raw) < 4:
        raise FixtureError(f"{p}: too short to be a capture file ({len(raw)} bytes)")
    magic_le = struct.unpack_from("<I", raw)[0]
    if magic_le == _PCAPNG_SHB:
        yield from _read_pcapng(p, raw)
    elif magic_le in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) or struct.unpack_from(">I", raw)[0] in (
        _PCAP_MAGIC_US, _PCAP_MAGIC_NS
    ):
        yield from _read_pcap(p, raw)
    else:
        raise FixtureError(f"{p}: not a pcap or pcapng file (magic {raw[:4].hex()})")


def _read_pcap(p: Path, raw: bytes) -> Iterator[Frame]:
    if len(raw) < 24:
        raise FixtureError(f"{p}: pcap global header truncated")
    endian = "<" if struct.unpack_from("<I", raw)[0] in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) else ">"
    magic, _vmaj, _vmin, _zone, _sigfigs, _snap, linktype = struct.unpack_from(endian + "IHHiIII", raw)
    scale = 1e-9 if magic == _PCAP_MAGIC_NS else 1e-6
    linktype &= 0x0FFFFFFF  # the upper bits carry FCS information
    pos = 24
    while pos < len(raw):
        if pos + 16 > len(raw):
            raise FixtureError(f"{p}: record header truncated at byte {pos}")
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", raw, pos)
        pos += 16
        if incl > _MAX_BLOCK or pos + incl > len(raw):
            raise FixtureError(f"{p}: record of {incl} bytes at byte {pos - 16} runs past the end")
        yield Frame(timestamp=sec + frac * scale, linktype=linktype, data=raw[pos:pos + incl])
        pos += incl


def _read_pcapng(p: Path, raw: bytes) -> Iterator[Frame]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []  # (link type, seconds per timestamp unit)
    pos = 0
    while pos < len(raw):
        if pos + 12 > len(raw):
            raise FixtureError(f"{p}: pcapng block header truncated at byte {pos}")
        btype = struct.unpack_from(endian + "I", raw, pos)[0]
        if btype == _PCAPNG_SHB:
            bom_le = struct.unpack_from("<I", raw, pos + 8)[0]
            if bom_le == _PCAPNG_BOM:
                endian = "<"
            elif struct.unpack_from(">I", raw, pos + 8)[0] == _PCAPNG_BOM:
                endian = ">"
            else:
                raise FixtureError(f"{p}: bad pcapng byte-order magic at byte {pos + 8}")
            interfaces = []  # interface ids are per section
        blen = struct.unpack_from(endian + "I", raw, pos + 4)[0]
        if blen < 12 or blen % 4 or blen > _MAX_BLOCK or pos + blen > len(raw):
            raise FixtureError(f"{p}: pcapng block at byte {pos} has bad length {blen}")
        if struct.unpack_from(endian + "I", raw, pos + blen - 4)[0] != blen:
            raise FixtureError(f"{p}: pcapng block at byte {pos}: trailing length does not match")
        body = raw[pos + 8:pos + blen - 4]
        if btype == 1:
            interfaces.append(_idb(p, pos, body, endian))
        elif btype == 6:
            yield _epb(p, pos, body, endian, interfaces)
        elif btype == 3:
            if not interfaces:
                raise FixtureError(f"{p}: simple packet block at byte {pos} before any interface")
            if len(body) < 4:
                raise FixtureError(f"{p}: simple packet block at byte {pos} truncated")
            orig = struct.unpack_from(endian + "I", body)[0]
            yield Frame(timestamp=0.0, linktype=interfaces[0][0], data=body[4:4 + orig])
        pos += blen


def _idb(p: Path, pos: int, body: bytes, endian: str) -> tuple[int, float]:
    if len(body) < 8:
        raise FixtureError(f"{p}: interface description block at byte {pos} truncated")
    linktype = struct.unpack_from(endian + "H", body)[0]
    resolution = 1e-6
    opt = 8
    while opt + 4 <= len(body):
        code, olen = struct.unpack_from(endian + "HH", body, opt)
        if code == 0:
            break
        value = body[opt + 4:opt + 4 + olen]
        if code == 9 and olen == 1:  # if_tsresol: power of 10, or of 2 if the top bit is set
            exp = value[0] & 0x7F
            resolution = 2.0 ** -exp if value[0] & 0x80 else 10.0 ** -exp
        opt += 4 + olen + (-olen % 4)
    return linktype, resolution


def _epb(p: Path, pos: int, body: bytes, endian: str, interfaces: list[tuple[int, float]]) -> Frame:
    if len(body) < 20:
        raise FixtureError(f"{p}: enhanced packet block at byte {pos} truncated")
    ifid, ts_hi, ts_lo, caplen, _orig = struct.unpack_from(endian + "IIIII", body)
    if ifid >= len(interfaces):
        raise FixtureError(f"{p}: packet at byte {pos} names interface {ifid}, which is not described")
    if 20 + caplen > len(body):
        raise FixtureError(f"{p}: packet at byte {pos} captured length {caplen} runs past its block")
    linktype, resolution = interfaces[ifid]
    return Frame(timestamp=((ts_hi << 32) | ts_lo) * resolution, linktype=linktype,
                 data=body[20:20 + caplen])


# -- link, IPv4, TCP -------------------------------------------------------------


def _ipv4_packet(frame: Frame) -> bytes | None:
    """The IPv4 packet inside a frame, or None for anything else (ARP, IPv6, ...)."""
    d = frame.data
    if frame.linktype == LINKTYPE_ETHERNET:
        pos, ethertype = 12, struct.unpack_from(">H", d, 12)[0] if len(d) >= 14 else 0
        while ethertype in (0x8100, 0x88A8) and len(d) >= pos + 6:  # VLAN tags
            pos += 4
            ethertype = struct.unpack_from(">H", d, pos)[0]
        return d[pos + 2:] if ethertype == 0x0800 else None
    if frame.linktype == LINKTYPE_NULL:
        if len(d) < 4:
            return None
        family = struct.unpack_from("<I", d)[0]
        if family not in (2, 0x02000000):  # AF_INET in either byte order
            return None
        return d[4:]
    if frame.linktype == LINKTYPE_RAW:
        return d if d[:1] and d[0] >> 4 == 4 else None
    if frame.linktype == LINKTYPE_LINUX_SLL:
        return d[16:] if len(d) >= 16 and struct.unpack_from(">H", d, 14)[0] == 0x0800 else None
    if frame.linktype == LINKTYPE_LINUX_SLL2:
        return d[20:] if len(d) >= 20 and struct.unpack_from(">H", d, 0)[0] == 0x0800 else None
    return None


def parse_tcp_segment(frame: Frame) -> TcpSegment | None:
    """The TCP segment a frame carries over IPv4, or None if it carries none.

    :class:`FixtureError` when the IPv4 or TCP header is inconsistent.
    """
    ip = _ipv4_packet(frame)
    if ip is None:
        return None
    if len(ip) < 20 or ip[0] >> 4 != 4:
        raise FixtureError("IPv4 header truncated or wrong version")
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack_from(">H", ip, 2)[0]
    if ihl < 20 or total < ihl or total > len(ip):
        raise FixtureError(f"IPv4 header lengths inconsistent (ihl {ihl}, total {total}, have {len(ip)})")
    frag = struct.unpack_from(">H", ip, 6)[0]
    if ip[9] != 6:
        return None
    if frag & 0x3FFF:  # more-fragments or an offset: fragments are the replay engine's job
        raise FixtureError("fragmented IPv4 packet: not supported by this minimal reader")
    src_ip = ".".join(str(b) for b in ip[12:16])
    dst_ip = ".".join(str(b) for b in ip[16:20])
    tcp = ip[ihl:total]
    if len(tcp) < 20:
        raise FixtureError("TCP header truncated")
    sport, dport, seq, _ack, off_flags = struct.unpack_from(">HHIIH", tcp)
    doff = (off_flags >> 12) * 4
    if doff < 20 or doff > len(tcp):
        raise FixtureError(f"TCP data offset {doff} inconsistent with a {len(tcp)}-byte segment")
    return TcpSegment(timestamp=frame.timestamp, src=(src_ip, sport), dst=(dst_ip, dport), seq=seq,
                      flags=off_flags & 0x1FF, payload=bytes(tcp[doff:]))


def tcp_streams(frames: Iterable[Frame], *, port: int | None = None) -> list[TcpStream]:
    """Reassemble every TCP direction (optionally only those touching ``port``).

    For clean captures only: each segment must start exactly where the
    previous one ended (a retransmission of bytes already seen is dropped);
    a gap or an overlap raises :class:`FixtureError`. Directions are returned
    in the order their first segment appears.
    """
    streams: dict[tuple[tuple[str, int], tuple[str, int]], TcpStream] = {}
    for n, frame in enumerate(frames):
        seg = parse_tcp_segment(frame)
        if seg is None or (port is not None and port not in (seg.src[1], seg.dst[1])):
            continue
        key = (seg.src, seg.dst)
        stream = streams.get(key)
        if stream is None:
            stream = streams[key] = TcpStream(src=seg.src, dst=seg.dst)
        if seg.syn:
            if stream.chunks:
                raise FixtureError(f"frame {n + 1}: {seg.src}->{seg.dst} reused after data: one "
                                   "connection per address pair is all this reader handles")
            stream.next_seq = (seg.seq + 1) & 0xFFFFFFFF
            continue
        if stream.next_seq is None:  # capture began mid-connection: trust the first segment
            stream.next_seq = seg.seq
        if not seg.payload:
            continue
        if seg.seq == (stream.next_seq - len(seg.payload)) & 0xFFFFFFFF and stream.chunks \
                and stream.chunks[-1][1] == seg.payload:
            continue  # retransmission of the last segment
        if seg.seq != stream.next_seq:
            raise FixtureError(
                f"frame {n + 1}: {seg.src}->{seg.dst} seq {seg.seq} but {stream.next_seq} expected "
                "(gap or overlap; this reader needs clean in-order captures)"
            )
        stream.chunks.append((seg.timestamp, seg.payload))
        stream.next_seq = (seg.seq + len(seg.payload)) & 0xFFFFFFFF
    return list(streams.values())


# -- writing ---------------------------------------------------------------------


def _ip_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f">{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def build_tcp_frame(payload: bytes, *, src: tuple[str, int], dst: tuple[str, int], seq: int,
                    ack: int = 0, flags: int = 0x18) -> bytes:
    """An Ethernet II / IPv4 / TCP frame carrying ``payload`` (flags default PSH+ACK).

    Lengths and the IPv4 header checksum are correct; the TCP checksum is
    left zero (dissectors do not verify it by default).
    """
    tcp = struct.pack(">HHIIHHHH", src[1], dst[1], seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      (5 << 12) | flags, 0xFFFF, 0, 0) + payload
    addrs = bytes(int(x) for x in src[0].split(".")) + bytes(int(x) for x in dst[0].split("."))
    header = struct.pack(">BBHHHBBH", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0) + addrs
    header = header[:10] + struct.pack(">H", _ip_checksum(header)) + header[12:]
    eth = bytes.fromhex("020000000002" "020000000001") + b"\x08\x00"
    return eth + header + tcp


def write_pcap(path: str | Path, frames: Iterable[tuple[float, bytes]], *,
               linktype: int = LINKTYPE_ETHERNET) -> None:
    """Write ``(timestamp, frame bytes)`` pairs as a classic little-endian pcap."""
    out = [struct.pack("<IHHiIII", _PCAP_MAGIC_US, 2, 4, 0, 0, 65535, linktype)]
    for ts, data in frames:
        usec = round(ts * 1e6)
        out.append(struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(data), len(data)))
        out.append(data)
    Path(path).write_bytes(b"".join(out))
