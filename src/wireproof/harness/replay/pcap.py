"""pcap and pcapng: streaming readers, writers, and frame builders for tests.

Normative references:

- pcap (draft-ietf-opsawg-pcap, "PCAP Capture File Format"): a 24-byte file
  header whose magic 0xA1B2C3D4 (microsecond) or 0xA1B23C4D (nanosecond)
  also gives the byte order; LinkType in the low 16 bits of the last field
  (the upper bits carry FCS information). Records: seconds, fraction,
  captured length, original length, then the captured bytes.
- pcapng (draft-ietf-opsawg-pcapng): blocks of type, total length, body,
  total length again. Section Header Block 0x0A0D0D0A (byte-order magic
  0x1A2B3C4D: each section has its own byte order and its own interfaces),
  Interface Description Block 1 (link type, snap length; options if_name 2,
  if_tsresol 9, if_tsoffset 14), Enhanced Packet Block 6, Simple Packet
  Block 3 (interface 0, no timestamp), obsolete Packet Block 2; option
  opt_comment 1 on packets (the writer also puts it, with shb_userappl 4,
  on a section header). Other blocks (name resolution, statistics,
  decryption secrets, custom) are skipped.

Theory of operation: the file is read in 1 MiB chunks and records are cut
out of the chunk with precompiled :class:`struct.Struct` objects, so memory
stays flat whatever the file size and the per-frame cost is one unpack, one
slice and one record tuple (:data:`~.events.Record`). A block that straddles two chunks is
completed by the next read.

Damaged files follow the one policy of :mod:`.damage`: a structural error
(a record or block length that is absurd or not a multiple of 4, a trailing
length that differs, a packet naming an undescribed interface) or a file
that ends in the middle of a record raises
:class:`~.damage.CaptureDamaged` with the byte offset of the record, after
every record before it was yielded; the reader's ``on_damage`` policy
decides whether that propagates or ends the iteration (see :mod:`.capture`).
Timestamps here are integers over a power of 10 or 2 up to 2^60 plus a
64-bit offset: always finite, so no timestamp check is needed.
SPB timestamps: the block has none; the frame gets the timestamp of the
previous frame (0.0 if it is the first), so inter-arrival times stay sane.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from wireproof.harness.replay.damage import CaptureDamaged, Damage, DamageKind
from wireproof.harness.replay.events import Record

__all__ = [
    "LINKTYPE_CAN_SOCKETCAN",
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "PCAPNG_MAGIC",
    "PCAP_MAGICS",
    "PcapngInterface",
    "PcapngPacket",
    "build_tcp_frame",
    "build_udp_frame",
    "ethernet",
    "fragment_ipv4",
    "ip_packet",
    "ipv6_fragments",
    "pcapng_section",
    "read_pcap",
    "read_pcapng",
    "socketcan_frame",
    "tcp_checksum",
    "tcp_segment",
    "udp_datagram",
    "write_pcap",
    "write_pcapng",
]

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_CAN_SOCKETCAN = 227
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276

PCAP_MAGICS = (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

CHUNK = 1 << 20
MAX_RECORD = 16 << 20  # far above any snap length; a larger claim is corruption, not a packet

_SHB, _IDB, _PB, _SPB, _EPB = 0x0A0D0D0A, 1, 2, 3, 6
_BOM_LE, _BOM_BE = b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"


class _Sink(Protocol):
    """What a reader reports to its :class:`~.capture.CaptureReader`."""

    path: Path
    bytes_read: int
    interface_names: list[str]


def _damaged(sink: _Sink, fmt: str, kind: DamageKind, offset: int, reason: str,
             frames: int) -> CaptureDamaged:
    return CaptureDamaged(sink.path, Damage(kind=kind, format=fmt, offset=offset, reason=reason,
                                            frames_before=frames))


# -- pcap ------------------------------------------------------------------------------


def read_pcap(sink: _Sink, f: BinaryIO) -> Iterator[Record]:
    """Every record of a classic pcap file open at its start."""
    head = f.read(24)
    sink.bytes_read = len(head)
    if len(head) < 24:
        raise _damaged(sink, "pcap", "truncated", 0,
                       f"the file header is cut short ({len(head)} of 24 bytes)", 0)
    if head[:4] not in PCAP_MAGICS:
        raise _damaged(sink, "pcap", "corrupt", 0, f"not a pcap file (magic {head[:4].hex()})", 0)
    endian = "<" if head[:4] in (PCAP_MAGICS[0], PCAP_MAGICS[2]) else ">"
    scale = 1e-9 if head[:4] in PCAP_MAGICS[2:] else 1e-6
    linktype = struct.unpack_from(endian + "I", head, 20)[0] & 0xFFFF
    if not sink.interface_names:
        sink.interface_names.append("if0")
    unpack = struct.Struct(endian + "IIII").unpack_from
    buf = f.read(CHUNK)
    sink.bytes_read += len(buf)
    base, pos, number = 24, 0, 0
    while True:
        end = len(buf)
        while pos + 16 <= end:
            sec, frac, incl, orig = unpack(buf, pos)
            start = pos + 16
            stop = start + incl
            if stop > end:
                if incl > MAX_RECORD:
                    raise _damaged(sink, "pcap", "corrupt", base + pos, f"the record claims {incl} bytes",
                                   number)
                break
            number += 1
            yield number, sec + frac * scale, linktype, buf[start:stop], 0, orig, None
            pos = stop
        more = f.read(CHUNK)
        if not more:
            break
        sink.bytes_read += len(more)
        base += pos
        buf = buf[pos:] + more
        pos = 0
    if pos < len(buf):
        raise _damaged(sink, "pcap", "truncated", base + pos,
                       f"the last record is cut short ({len(buf) - pos} bytes of it in the file)", number)


# -- pcapng ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Iface:
    linktype: int
    ticks_per_second: int
    ts_offset: int
    index: int  # across all sections, in file order
    snaplen: int


def _options(body: bytes, start: int, endian: str) -> Iterator[tuple[int, bytes]]:
    """(code, value) for each option from ``start`` to the end of ``body``; lenient on a ragged tail."""
    hdr = struct.Struct(endian + "HH")
    pos = start
    while pos + 4 <= len(body):
        code, olen = hdr.unpack_from(body, pos)
        if code == 0:
            return
        yield code, body[pos + 4:pos + 4 + olen]
        pos += 4 + olen + (-olen % 4)


def _comment(body: bytes, start: int, endian: str) -> str | None:
    texts = [v.decode("utf-8", "replace") for c, v in _options(body, start, endian) if c == 1]
    return "\n".join(texts) if texts else None


def _idb(sink: _Sink, body: bytes, pos: int, endian: str, index: int, frames: int) -> _Iface:
    if len(body) < 8:
        raise _damaged(sink, "pcapng", "corrupt", pos, "the interface description block is too short", frames)
    linktype, snaplen = struct.unpack_from(endian + "H2xI", body)
    ticks, offset, name = 1_000_000, 0, f"if{index}"
    for code, value in _options(body, 8, endian):
        if code == 9 and len(value) >= 1:  # if_tsresol: 10^-n, or 2^-n with the top bit set
            exp = value[0] & 0x7F
            if exp > 60:
                raise _damaged(sink, "pcapng", "invalid", pos, f"if_tsresol {value[0]:#x} is absurd", frames)
            ticks = 2 ** exp if value[0] & 0x80 else 10 ** exp
        elif code == 14 and len(value) == 8:
            offset = struct.unpack(endian + "q", value)[0]
        elif code == 2 and value:
            name = value.decode("utf-8", "replace").rstrip("\x00")
    sink.interface_names.append(name)
    return _Iface(linktype, ticks, offset, index, snaplen)


def read_pcapng(sink: _Sink, f: BinaryIO) -> Iterator[Record]:
    """Every packet (EPB, SPB, PB) of a pcapng file open at its start, in file order."""
    buf = f.read(CHUNK)
    sink.bytes_read = len(buf)
    base, pos, number = 0, 0, 0
    endian = "<"
    hdr = struct.Struct("<II").unpack_from
    epb = struct.Struct("<IIIII").unpack_from
    u32 = struct.Struct("<I").unpack_from
    ifaces: list[_Iface] = []
    n_ifaces = 0
    last_ts = 0.0

    def bad(kind: DamageKind, offset: int, reason: str) -> CaptureDamaged:
        return _damaged(sink, "pcapng", kind, offset, reason, number)
    while True:
        end = len(buf)
        while pos + 12 <= end:
            btype, blen = hdr(buf, pos)
            if btype == _SHB:
                bom = buf[pos + 8:pos + 12]
                if bom not in (_BOM_LE, _BOM_BE):
                    raise bad("corrupt", base + pos, f"bad byte-order magic {bom.hex()}")
                endian = "<" if bom == _BOM_LE else ">"
                hdr = struct.Struct(endian + "II").unpack_from
                epb = struct.Struct(endian + "IIIII").unpack_from
                u32 = struct.Struct(endian + "I").unpack_from
                btype, blen = hdr(buf, pos)
                ifaces = []  # interface ids are per section (pcapng 4.1)
            stop = pos + blen
            if blen < 12 or blen & 3 or blen > MAX_RECORD:
                raise bad("corrupt", base + pos, f"the block has a bad length ({blen})")
            if stop > end:
                break
            if u32(buf, stop - 4)[0] != blen:
                raise bad("corrupt", base + pos,
                          f"the block's trailing length {u32(buf, stop - 4)[0]} differs from {blen}")
            if btype == _EPB:
                if blen < 32:
                    raise bad("corrupt", base + pos, "the enhanced packet block is too short")
                ifid, hi, lo, caplen, orig = epb(buf, pos + 8)
                data_end = pos + 28 + caplen
                if data_end > stop - 4:
                    raise bad("corrupt", base + pos, f"captured length {caplen} runs past its block")
                if ifid >= len(ifaces):
                    raise bad("corrupt", base + pos, f"the packet names interface {ifid}, which is not "
                                                     "described")
                iface = ifaces[ifid]
                comment = None
                opt = pos + 28 + ((caplen + 3) & ~3)
                if opt < stop - 4:
                    comment = _comment(buf[opt:stop - 4], 0, endian)
                last_ts = ((hi << 32) | lo) / iface.ticks_per_second + iface.ts_offset
                number += 1
                yield number, last_ts, iface.linktype, buf[pos + 28:data_end], iface.index, orig, comment
            elif btype == _IDB:
                ifaces.append(_idb(sink, buf[pos + 8:stop - 4], base + pos, endian, n_ifaces, number))
                n_ifaces += 1
            elif btype == _SPB:
                if not ifaces or blen < 16:
                    raise bad("corrupt", base + pos, "simple packet block "
                                                     f"{'too short' if ifaces else 'before any interface'}")
                orig = u32(buf, pos + 8)[0]
                caplen = min(orig, blen - 16, ifaces[0].snaplen or orig)  # pcapng 4.4: no length field
                number += 1
                yield (number, last_ts, ifaces[0].linktype, buf[pos + 12:pos + 12 + caplen], ifaces[0].index,
                       orig, None)
            elif btype == _PB:
                if blen < 32:
                    raise bad("corrupt", base + pos, "the packet block is too short")
                ifid = struct.unpack_from(endian + "H", buf, pos + 8)[0]
                hi, lo, caplen, orig = struct.unpack_from(endian + "IIII", buf, pos + 12)
                if pos + 28 + caplen > stop - 4 or ifid >= len(ifaces):
                    raise bad("corrupt", base + pos, "the packet block is inconsistent")
                iface = ifaces[ifid]
                opt = pos + 28 + ((caplen + 3) & ~3)
                comment = _comment(buf[opt:stop - 4], 0, endian) if opt < stop - 4 else None
                last_ts = ((hi << 32) | lo) / iface.ticks_per_second + iface.ts_offset
                number += 1
                yield (number, last_ts, iface.linktype, buf[pos + 28:pos + 28 + caplen], iface.index, orig,
                       comment)
            pos = stop
        more = f.read(CHUNK)
        if not more:
            break
        sink.bytes_read += len(more)
        base += pos
        buf = buf[pos:] + more
        pos = 0
    if pos < len(buf):
        raise _damaged(sink, "pcapng", "truncated", base + pos,
                       f"the last block is cut short ({len(buf) - pos} bytes of it in the file)", number)


# -- writing ---------------------------------------------------------------------------


def write_pcap(path: str | Path, frames: Iterable[tuple[float, bytes]], *, linktype: int = LINKTYPE_ETHERNET,
               nanoseconds: bool = False, big_endian: bool = False, snaplen: int = 262144) -> None:
    """Write ``(timestamp, frame bytes)`` pairs as a classic pcap file."""
    e = ">" if big_endian else "<"
    magic, per_s = (0xA1B23C4D, 1_000_000_000) if nanoseconds else (0xA1B2C3D4, 1_000_000)
    rec = struct.Struct(e + "IIII").pack
    with open(path, "wb") as out:
        out.write(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))
        for ts, data in frames:
            ticks = round(ts * per_s)
            out.write(rec(ticks // per_s, ticks % per_s, len(data), len(data)))
            out.write(data)


@dataclass(frozen=True, slots=True, kw_only=True)
class PcapngInterface:
    """An Interface Description Block: ``tsresol`` is the raw if_tsresol byte (6 = microseconds)."""

    linktype: int = LINKTYPE_ETHERNET
    tsresol: int = 6
    name: str | None = None
    ts_offset: int = 0
    snaplen: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class PcapngPacket:
    """A packet to write: ``block`` is ``"epb"``, ``"spb"`` or the obsolete ``"pb"``."""

    timestamp: float
    data: bytes
    interface: int = 0
    comment: str | None = None
    block: str = "epb"
    original_length: int | None = None


def _block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\x00" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def _option(e: str, code: int, value: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(value)) + value + b"\x00" * (-len(value) % 4)


def pcapng_section(interfaces: Sequence[PcapngInterface],
                   packets: Iterable[PcapngPacket | tuple[float, bytes]], *,
                   big_endian: bool = False, comment: str | None = None,
                   application: str | None = None) -> bytes:
    """One pcapng section (SHB, IDBs, packets) as bytes; concatenate sections for a multi-section file.

    ``comment`` and ``application`` become the section header's opt_comment
    and shb_userappl options (pcapng 4.1): what the file is, and what wrote it.
    """
    e = ">" if big_endian else "<"
    shb_opts = b""
    if comment is not None:
        shb_opts += _option(e, 1, comment.encode())
    if application is not None:
        shb_opts += _option(e, 4, application.encode())
    if shb_opts:
        shb_opts += _option(e, 0, b"")
    out = [_block(e, _SHB, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1) + shb_opts)]
    ticks: list[int] = []
    for itf in interfaces:
        opts = b""
        if itf.name is not None:
            opts += _option(e, 2, itf.name.encode())
        opts += _option(e, 9, bytes([itf.tsresol]))
        if itf.ts_offset:
            opts += _option(e, 14, struct.pack(e + "q", itf.ts_offset))
        opts += _option(e, 0, b"")
        out.append(_block(e, _IDB, struct.pack(e + "HHI", itf.linktype, 0, itf.snaplen) + opts))
        exp = itf.tsresol & 0x7F
        ticks.append(2 ** exp if itf.tsresol & 0x80 else 10 ** exp)
    for p in packets:
        if not isinstance(p, PcapngPacket):
            p = PcapngPacket(timestamp=p[0], data=p[1])
        orig = len(p.data) if p.original_length is None else p.original_length
        itf_ticks = ticks[p.interface]
        t = round((p.timestamp - interfaces[p.interface].ts_offset) * itf_ticks)
        opts = b""
        if p.comment is not None:
            opts = _option(e, 1, p.comment.encode()) + _option(e, 0, b"")
        data = p.data + b"\x00" * (-len(p.data) % 4)
        if p.block == "spb":
            out.append(_block(e, _SPB, struct.pack(e + "I", orig) + data))
        elif p.block == "pb":
            out.append(_block(e, _PB, struct.pack(e + "HHIIII", p.interface, 0, t >> 32, t & 0xFFFFFFFF,
                                                   len(p.data), orig) + data + opts))
        else:
            out.append(_block(e, _EPB, struct.pack(e + "IIIII", p.interface, t >> 32, t & 0xFFFFFFFF,
                                                   len(p.data), orig) + data + opts))
    return b"".join(out)


def write_pcapng(path: str | Path, packets: Iterable[PcapngPacket | tuple[float, bytes]], *,
                 interfaces: Sequence[PcapngInterface] = (PcapngInterface(),),
                 big_endian: bool = False, comment: str | None = None,
                 application: str | None = None) -> None:
    """Write one pcapng section (``comment``, ``application``: see :func:`pcapng_section`)."""
    Path(path).write_bytes(pcapng_section(interfaces, packets, big_endian=big_endian, comment=comment,
                                          application=application))


# -- frame builders (tests, benchmarks, the tshark peer check) -------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f">{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def tcp_segment(payload: bytes, *, sport: int, dport: int, seq: int, ack: int = 0, flags: int = 0x18,
                options: bytes = b"") -> bytes:
    """A TCP header (RFC 9293 3.1) plus payload; ``options`` is padded to 32 bits; checksum left zero."""
    options += b"\x00" * (-len(options) % 4)
    offset = (20 + len(options)) // 4
    return struct.pack(">HHIIHHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       (offset << 12) | flags, 0xFFFF, 0, 0) + options + payload


def udp_datagram(payload: bytes, *, sport: int, dport: int) -> bytes:
    """A UDP header (RFC 768) plus payload; checksum left zero (allowed over IPv4)."""
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def ip_packet(payload: bytes, *, src: str, dst: str, proto: int, ident: int = 0, df: bool = True,
              frag_offset: int = 0, more_fragments: bool = False, ttl: int = 64, options: bytes = b"",
              total_length: int | None = None) -> bytes:
    """An IPv4 (RFC 791 3.1) or, for ``:`` addresses, IPv6 (RFC 8200 3) packet around ``payload``.

    IPv4 gets a correct header checksum; ``frag_offset`` is in bytes (a
    multiple of 8). The IPv6 variant takes no fragment arguments (see
    :func:`ipv6_fragments`).
    """
    if ":" in src:
        return struct.pack(">IHBB", 6 << 28, len(payload), proto, ttl) + \
            ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + payload
    options += b"\x00" * (-len(options) % 4)
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if more_fragments else 0) | (frag_offset >> 3)
    total = 4 * ihl + len(payload) if total_length is None else total_length
    header = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, flags, ttl, proto, 0,
                         ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed) + options
    return header[:10] + struct.pack(">H", _checksum(header)) + header[12:] + payload


def fragment_ipv4(packet: bytes, size: int) -> list[bytes]:
    """Split an unfragmented IPv4 packet into fragments carrying ``size`` payload bytes (a multiple of 8)."""
    ihl = (packet[0] & 0x0F) * 4
    header, payload = packet[:ihl], packet[ihl:]
    ident = struct.unpack_from(">H", header, 4)[0]
    src, dst = str(ipaddress.IPv4Address(header[12:16])), str(ipaddress.IPv4Address(header[16:20]))
    out = []
    for off in range(0, len(payload), size):
        out.append(ip_packet(payload[off:off + size], src=src, dst=dst, proto=header[9], ident=ident,
                             df=False, frag_offset=off, more_fragments=off + size < len(payload)))
    return out


def ipv6_fragments(payload: bytes, *, src: str, dst: str, proto: int, size: int, ident: int = 1,
                   extension: bytes = b"") -> list[bytes]:
    """IPv6 packets carrying ``payload`` in fragments of ``size`` bytes (RFC 8200 4.5).

    ``extension`` is a raw hop-by-hop options header placed before the
    fragment header (its first byte is overwritten with 44, the fragment header).
    """
    out = []
    for off in range(0, len(payload), size):
        more = off + size < len(payload)
        frag = struct.pack(">BBHI", proto, 0, off | int(more), ident)
        chain = (bytes([44]) + extension[1:] if extension else b"") + frag
        body = chain + payload[off:off + size]
        first = 0 if extension else 44
        out.append(ip_packet(body, src=src, dst=dst, proto=first))
    return out


def ethernet(packet: bytes, *, ethertype: int | None = None, vlans: Sequence[tuple[int, int]] = (),
             src_mac: bytes = b"\x02\x00\x00\x00\x00\x01",
             dst_mac: bytes = b"\x02\x00\x00\x00\x00\x02") -> bytes:
    """An Ethernet II frame (IEEE 802.3 3.1.1); ``vlans`` is ((tpid, vid), ...) outermost first
    (802.1ad service tag 0x88A8, 802.1Q customer tag 0x8100)."""
    if ethertype is None:
        ethertype = 0x86DD if packet[:1] and packet[0] >> 4 == 6 else 0x0800
    tags = b"".join(struct.pack(">HH", tpid, vid & 0x0FFF) for tpid, vid in vlans)
    return dst_mac + src_mac + tags + struct.pack(">H", ethertype) + packet


def tcp_checksum(segment: bytes, *, src: str, dst: str) -> int:
    """The TCP checksum of ``segment`` (its checksum field zero) over the IPv4 (RFC 9293 3.1) or IPv6
    (RFC 8200 8.1) pseudo-header."""
    if ":" in src:
        pseudo = ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + \
            struct.pack(">I3xB", len(segment), 6)
    else:
        pseudo = ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed + \
            struct.pack(">xBH", 6, len(segment))
    return _checksum(pseudo + segment)


def build_tcp_frame(payload: bytes, *, src: tuple[str, int], dst: tuple[str, int], seq: int, ack: int = 0,
                    flags: int = 0x18, vlans: Sequence[tuple[int, int]] = (), checksum: bool = False,
                    src_mac: bytes = b"\x02\x00\x00\x00\x00\x01",
                    dst_mac: bytes = b"\x02\x00\x00\x00\x00\x02") -> bytes:
    """An Ethernet / IPv4 (or IPv6) / TCP frame carrying ``payload`` (flags default PSH+ACK).

    ``checksum=True`` fills in the TCP checksum (left zero otherwise, as
    :func:`tcp_segment` leaves it).
    """
    seg = tcp_segment(payload, sport=src[1], dport=dst[1], seq=seq, ack=ack, flags=flags)
    if checksum:
        seg = seg[:16] + struct.pack(">H", tcp_checksum(seg, src=src[0], dst=dst[0])) + seg[18:]
    return ethernet(ip_packet(seg, src=src[0], dst=dst[0], proto=6), vlans=vlans, src_mac=src_mac,
                    dst_mac=dst_mac)


def build_udp_frame(payload: bytes, *, src: tuple[str, int], dst: tuple[str, int],
                    vlans: Sequence[tuple[int, int]] = ()) -> bytes:
    """An Ethernet / IPv4 (or IPv6) / UDP frame carrying ``payload``."""
    dgram = udp_datagram(payload, sport=src[1], dport=dst[1])
    return ethernet(ip_packet(dgram, src=src[0], dst=dst[0], proto=17), vlans=vlans)


def socketcan_frame(can_id: int, data: bytes, *, extended: bool | None = None, remote: bool = False,
                    error: bool = False, fd: bool = False, brs: bool = False, esi: bool = False,
                    dlc: int | None = None) -> bytes:
    """A LINKTYPE_CAN_SOCKETCAN frame: ``can_frame`` (16 bytes) or ``canfd_frame`` (72 bytes).

    The CAN id word is in network byte order, as the link type specifies;
    ``dlc`` overrides the length field (a remote frame requests ``dlc`` bytes).
    """
    length = len(data) if dlc is None else dlc
    if extended is None:
        extended = can_id > 0x7FF
    word = can_id | (0x80000000 if extended else 0) | (0x40000000 if remote else 0) | \
        (0x20000000 if error else 0)
    if fd:
        flags = 0x04 | (0x01 if brs else 0) | (0x02 if esi else 0)
        return struct.pack(">IBB2x", word, length, flags) + data.ljust(64, b"\x00")
    return struct.pack(">IBB2x", word, length, 0) + data.ljust(8, b"\x00")
