"""The stateful frame -> events pipeline: link, IP (with fragments), TCP reassembly, UDP, CAN.

Theory of operation: :meth:`Dissector.feed` takes one :class:`~.events.Frame`
and returns the events it causes (usually one :class:`~.events.StreamData`,
or none); :meth:`Dissector.finish` flushes what is still open at the end of
the capture. Parsing is in :mod:`.net`, TCP state in :mod:`.tcp`.

Fast path: an Ethernet II / IPv4 without options or fragmentation / TCP
segment without SYN, FIN or RST that continues its direction exactly where
it left off (the overwhelming majority of a polling capture) is handled
inline: one header unpack, one flow-table lookup keyed by the 12 raw
address and port bytes, one event. :meth:`Dissector.fast_tcp` is that path
on its own, for a caller that takes raw records (the replay engine's hot
loop): it returns the event's fields instead of the event, or ``None`` for
a frame the general path must take. Everything else takes the general
path, which dissects every layer and hands the segment to
:class:`~.tcp.TcpConnection`. Both paths give the same events.

Bounds: at most ``max_flows`` TCP connections and as many UDP flows are
tracked; when the table is full the least recently active eighth is evicted
(their buffers flushed, :class:`~.events.FlowClosed` ``"idle"`` for those
still open). Closed connections stay in the table until evicted, so their
last ACKs do not look like new flows. Out-of-order bytes are bounded per
direction and in total (:class:`~.tcp.Budget`), IP fragments by
:class:`~.net.Reassembler`.

``ports_of_interest``: TCP and UDP traffic that touches none of these ports
is counted (``stats["skipped_frames"]``) and otherwise ignored, so the
engine pays nothing for flows it does not analyze. The ports also pick the
server of a flow whose handshake was not captured (see :class:`~.events.FlowKey`).
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from wireproof.codecs._fast import fast_constructor
from wireproof.errors import DecodeError, FixtureError
from wireproof.harness.replay import net
from wireproof.harness.replay.events import (
    CanMessage,
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
    new_datagram,
    new_stream_data,
)
from wireproof.harness.replay.tcp import ACK, MASK, SYN, Budget, Direction, TcpConnection

__all__ = ["Dissector", "TcpStream", "tcp_streams"]

# From the IPv4 header: total length, flags+fragment offset, protocol; then (no IP options)
# the TCP ports, sequence and acknowledgment numbers, data offset and flags.
_FAST_IP_TCP = struct.Struct(">2xH2xHxB10xHHIIH").unpack_from
_HALF = 0x80000000
_new_can = fast_constructor(CanMessage)
_TcpEntry = tuple[TcpConnection, bool, Direction, Direction]  # connection, from client, sender, receiver


class _UdpFlow:
    __slots__ = ("flow", "last_frame")

    def __init__(self, flow: FlowKey, last_frame: int) -> None:
        self.flow = flow
        self.last_frame = last_frame


def _window(buf: bytes, offset: int) -> bytes:
    return buf[max(0, offset - 16):offset + 16]


class Dissector:
    """Frames in, events out (see the module docstring)."""

    def __init__(self, *, max_flows: int = 10_000, max_buffer_per_direction: int = 256 * 1024,
                 max_buffer_total: int = 64 * 1024 * 1024, ports_of_interest: Iterable[int] | None = None,
                 interface_names: Sequence[str] | None = None, max_fragmented_datagrams: int = 256,
                 fragment_timeout: float = 30.0) -> None:
        if max_flows < 1:
            raise ValueError("max_flows must be at least 1")
        self.max_flows = max_flows
        self.budget = Budget(per_direction=max_buffer_per_direction, total=max_buffer_total)
        self.ports_of_interest: frozenset[int] | None = \
            None if ports_of_interest is None else frozenset(ports_of_interest)
        self.interface_names: Sequence[str] = interface_names if interface_names is not None else ()
        self._reasm = net.Reassembler(max_datagrams=max_fragmented_datagrams, timeout=fragment_timeout)
        self._tcp: dict[bytes, _TcpEntry] = {}
        self._conns: dict[TcpConnection, tuple[bytes, bytes]] = {}
        self._udp: dict[bytes, tuple[_UdpFlow, bool]] = {}
        self._udp_flows: dict[_UdpFlow, tuple[bytes, bytes]] = {}
        self._can: dict[str, FlowKey] = {}
        self._can_seen: set[str] = set()  # every message-bus interface met (finish() empties _can)
        self._last_number, self._last_ts = 0, 0.0  # the last frame fed (finish() closes at it)
        self._frames = 0
        self._bytes = 0
        self._fast = 0  # Ethernet/IPv4/TCP frames the fast path finished
        self._fast_bytes = 0  # ... and the bytes of those and of the ones it skipped
        self._fast_skipped = 0  # ... and those it skipped as not of interest
        self._skipped = 0
        self._linktypes: Counter[int] = Counter()
        self._ethertypes: Counter[int] = Counter()
        self._protocols: Counter[int] = Counter()
        self._unsupported: Counter[str] = Counter()
        self._malformed = 0
        self._tcp_opened = 0
        self._udp_opened = 0
        self._evicted = 0

    # -- the pipeline ------------------------------------------------------------------

    def feed(self, frame: Frame) -> list[Event]:
        """The events one frame causes, in order (often none)."""
        self._last_number, self._last_ts = frame.number, frame.timestamp
        if frame.linktype == 1:
            hit = self.fast_tcp(frame.number, frame.timestamp, frame.data)
            if hit is not None:
                return [new_stream_data(hit[0], hit[1], hit[2], frame.number, frame.timestamp)] if hit else []
        self._frames += 1
        self._bytes += len(frame.data)
        return self._general(frame)

    def fast_tcp(self, number: int, ts: float, data: bytes) -> tuple[FlowKey, bool, bytes] | tuple[()] | None:
        """The fast path of an Ethernet frame (see the module docstring), without a Frame or an event.

        ``None``: not a fast-path frame, and not counted (give it to :meth:`feed`);
        ``()``: taken, no data (an ACK, or skipped as not of interest);
        ``(flow, from_client, payload)``: taken, one :class:`~.events.StreamData`'s worth.
        A caller that does not go through :meth:`feed` tells :meth:`finish` where the
        capture ended (``last``).
        """
        if len(data) >= 54 and data[12:15] == b"\x08\x00\x45":
            total, frag, proto, sport, dport, seq, ack, offflags = _FAST_IP_TCP(data, 14)
            if proto == 6 and not frag & 0x3FFF and 40 <= total <= len(data) - 14:
                poi = self.ports_of_interest
                if poi is not None and sport not in poi and dport not in poi:
                    self._fast_skipped += 1
                    self._fast_bytes += len(data)
                    return ()
                ent = self._tcp.get(data[26:38])
                if ent is not None and not offflags & 7 and offflags >= 0x5000:
                    conn, from_client, d, p = ent
                    if seq == d.next and not d.pending and d.fin_at is None and not conn.closed and (
                            p.next is None or not 0 < (ack - p.next) & MASK < _HALF or not offflags & ACK):
                        start = 34 + ((offflags >> 12) << 2)
                        end = 14 + total
                        if start <= end:
                            self._fast += 1
                            self._fast_bytes += len(data)
                            conn.last_frame = number
                            if start == end:
                                return ()
                            payload = data[start:end]
                            d.last_seq = seq
                            d.last_data = payload
                            d.next = (seq + end - start) & MASK
                            d.offset += end - start
                            return conn.flow, from_client, payload
        return None

    def finish(self, last: tuple[int, float] | None = None) -> list[Event]:
        """Flush everything still open: buffered bytes (with their gaps), flows (``"end"``), fragments.

        ``last`` is the (number, timestamp) of the capture's last frame, for a caller that
        fed frames through :meth:`fast_tcp`; by default, the last frame :meth:`feed` saw.
        """
        out: list[Event] = []
        number, ts = last if last is not None else (self._last_number, self._last_ts)
        for pf, pt, reason in self._reasm.flush():
            out.append(self._malformed_event(pf, pt, "ip-fragment", 0, reason, b""))
        for conn in list(self._conns):
            out += conn.flush(number, ts, "end")
        for flow in list(self._udp_flows):
            out.append(FlowClosed(flow=flow.flow, frame=number, timestamp=ts, how="end"))
        self._udp_flows.clear()
        self._udp.clear()
        for key in self._can.values():
            out.append(FlowClosed(flow=key, frame=number, timestamp=ts, how="end"))
        self._can.clear()
        return out

    def dissect(self, frames: Iterable[Frame]) -> Iterator[Event]:
        """Every event of a whole capture, :meth:`finish` included."""
        feed = self.feed
        for frame in frames:
            yield from feed(frame)
        yield from self.finish()

    @property
    def stats(self) -> dict[str, Any]:
        """Counters for the summary: frames, bytes, per link type / ethertype / IP protocol, and more."""
        fast = self._fast + self._fast_skipped
        linktypes = self._linktypes + Counter({1: fast} if fast else {})
        ethertypes = self._ethertypes + Counter({0x0800: fast} if fast else {})
        protocols = self._protocols + Counter({6: fast} if fast else {})
        return {
            "frames": self._frames + fast,
            "bytes": self._bytes + self._fast_bytes,
            "linktypes": {str(k): v for k, v in sorted(linktypes.items())},
            "ethertypes": {f"0x{k:04x}": v for k, v in sorted(ethertypes.items())},
            "ip_protocols": {str(k): v for k, v in sorted(protocols.items())},
            "unsupported": dict(sorted(self._unsupported.items())),
            "malformed": self._malformed,
            "skipped_frames": self._skipped + self._fast_skipped,
            "tcp_flows": self._tcp_opened,
            "udp_flows": self._udp_opened,
            "can_interfaces": len(self._can_seen),
            "evicted_flows": self._evicted,
            "fragments_reassembled": self._reasm.completed,
            "fragments_dropped": self._reasm.dropped,
        }

    # -- general path ------------------------------------------------------------------

    def _malformed_event(self, frame: int, ts: float, layer: str, offset: int, reason: str,
                         window: bytes) -> Malformed:
        self._malformed += 1
        return Malformed(frame=frame, timestamp=ts, layer=layer, offset=offset, reason=reason, window=window)

    def _general(self, frame: Frame) -> list[Event]:
        number, ts, data, lt = frame.number, frame.timestamp, frame.data, frame.linktype
        self._linktypes[lt] += 1
        out: list[Event] = []
        if self._reasm:  # time out stale fragments (the fast path never carries fragments)
            for pf, pt, reason in self._reasm.expire(ts):
                out.append(self._malformed_event(pf, pt, "ip-fragment", 0, reason, b""))
        buf = data
        try:
            if lt == 227:
                return out + self._can_frame(frame)
            ethertype, off = net.link_layer(lt, data)
            if ethertype == net.NO_NETWORK:
                self._unsupported[f"linktype {lt}"] += 1
                return out
            self._ethertypes[ethertype] += 1
            frag: tuple[int, bool, int] | None
            if ethertype == net.ETH_IPV4:
                src, dst, proto, ident, foff, more, start, end = net.ipv4(data, off)
                frag = (foff, more, ident) if foff or more else None
            elif ethertype == net.ETH_IPV6:
                src, dst, proto, start, end, frag = net.ipv6(data, off)
                if frag is not None and not frag[0] and not frag[1]:
                    frag = None  # an atomic fragment (RFC 6946): the whole packet
            else:
                self._unsupported[f"ethertype 0x{ethertype:04x}"] += 1
                return out
            self._protocols[proto] += 1
            if frag is not None:
                whole, problems = self._reasm.add((ethertype, src, dst, frag[2], proto), frag[0], frag[1],
                                                  data[start:end], number, ts)
                layer = "ipv4" if ethertype == net.ETH_IPV4 else "ipv6"
                for pf, pt, reason in problems:
                    out.append(self._malformed_event(pf, pt, layer, off, reason, _window(data, off)))
                if whole is None:
                    return out
                buf, start, end = whole, 0, len(whole)
            if proto == 6:
                out += self._tcp_segment(number, ts, src, dst, buf, start, end)
            elif proto == 17:
                out += self._udp_datagram(number, ts, src, dst, buf, start, end)
            else:
                self._unsupported[f"ip protocol {proto}"] += 1
            return out
        except DecodeError as exc:
            out.append(self._malformed_event(number, ts, exc.protocol, exc.offset, exc.reason,
                                             _window(buf, exc.offset)))
            return out

    def _of_interest(self, sport: int, dport: int) -> bool:
        poi = self.ports_of_interest
        if poi is None or sport in poi or dport in poi:
            return True
        self._skipped += 1
        return False

    def _sender_is_client(self, sport: int, dport: int) -> bool:
        poi = self.ports_of_interest or frozenset()
        if (dport in poi) != (sport in poi):
            return dport in poi
        return sport >= dport

    def _tcp_segment(self, number: int, ts: float, src: bytes, dst: bytes, buf: bytes, start: int,
                     end: int) -> list[Event]:
        sport, dport, seq, ack, flags, pstart = net.tcp(buf, start, end)
        if not self._of_interest(sport, dport):
            return []
        out: list[Event] = []
        key = src + dst + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
        ent = self._tcp.get(key)
        if ent is not None and flags & SYN and not flags & ACK:
            conn, from_client, d, _p = ent
            if conn.closed or not from_client or (d.next is not None and d.next != (seq + 1) & MASK):
                out += self._forget_tcp(conn, number, ts, "end")  # a new connection on the same ports
                ent = None
        if ent is None:
            ent = self._open_tcp(key, src, dst, sport, dport, flags, number, ts, out)
        conn, from_client, _d, _p = ent
        conn.last_frame = number
        out += conn.segment(from_client, seq, ack, flags, buf[pstart:end], number, ts)
        return out

    def _open_tcp(self, key: bytes, src: bytes, dst: bytes, sport: int, dport: int, flags: int, number: int,
                  ts: float, out: list[Event]) -> _TcpEntry:
        if flags & SYN:
            sender_is_client, handshake = not flags & ACK, True
        else:
            sender_is_client, handshake = self._sender_is_client(sport, dport), False
        a, b = (net.address_text(src), sport), (net.address_text(dst), dport)
        client, server = (a, b) if sender_is_client else (b, a)
        flow = FlowKey(transport="tcp", client=client, server=server)
        conn = TcpConnection(flow, self.budget, handshake=handshake)
        conn.last_frame = number
        rkey = dst + src + dport.to_bytes(2, "big") + sport.to_bytes(2, "big")
        c2s: _TcpEntry = (conn, True, conn.client, conn.server)
        s2c: _TcpEntry = (conn, False, conn.server, conn.client)
        self._tcp[rkey] = c2s if not sender_is_client else s2c
        self._tcp[key] = c2s if sender_is_client else s2c
        self._conns[conn] = (key, rkey)
        self._tcp_opened += 1
        out.append(FlowOpened(flow=flow, frame=number, timestamp=ts, handshake=handshake))
        if len(self._conns) > self.max_flows:
            victims = sorted(self._conns, key=lambda c: c.last_frame)[:max(1, len(self._conns) // 8)]
            for victim in victims:
                if victim is not conn:
                    out += self._forget_tcp(victim, number, ts, "idle")
                    self._evicted += 1
        return self._tcp[key]

    def _forget_tcp(self, conn: TcpConnection, number: int, ts: float, how: str) -> list[Event]:
        events = conn.flush(number, ts, how)
        for k in self._conns.pop(conn):
            if k in self._tcp and self._tcp[k][0] is conn:
                del self._tcp[k]
        return events

    def _udp_datagram(self, number: int, ts: float, src: bytes, dst: bytes, buf: bytes, start: int,
                      end: int) -> list[Event]:
        sport, dport, pstart, pend = net.udp(buf, start, end)
        if not self._of_interest(sport, dport):
            return []
        out: list[Event] = []
        key = src + dst + sport.to_bytes(2, "big") + dport.to_bytes(2, "big")
        ent = self._udp.get(key)
        if ent is None:
            sender_is_client = self._sender_is_client(sport, dport)
            a, b = (net.address_text(src), sport), (net.address_text(dst), dport)
            flow = FlowKey(transport="udp", client=a if sender_is_client else b,
                           server=b if sender_is_client else a)
            uf = _UdpFlow(flow, number)
            rkey = dst + src + dport.to_bytes(2, "big") + sport.to_bytes(2, "big")
            self._udp[rkey] = (uf, not sender_is_client)
            self._udp[key] = ent = (uf, sender_is_client)
            self._udp_flows[uf] = (key, rkey)
            self._udp_opened += 1
            out.append(FlowOpened(flow=flow, frame=number, timestamp=ts, handshake=False))
            if len(self._udp_flows) > self.max_flows:
                n_victims = max(1, len(self._udp_flows) // 8)
                victims = sorted(self._udp_flows, key=lambda f: f.last_frame)[:n_victims]
                for victim in victims:
                    if victim is not uf:
                        for k in self._udp_flows.pop(victim):
                            self._udp.pop(k, None)
                        out.append(FlowClosed(flow=victim.flow, frame=number, timestamp=ts, how="idle"))
                        self._evicted += 1
        uf, from_client = ent
        uf.last_frame = number
        out.append(new_datagram(uf.flow, from_client, buf[pstart:pend], number, ts))
        return out

    def _can_frame(self, frame: Frame) -> list[Event]:
        can_id, extended, remote, error, fd, brs, esi, dlc, payload = net.socketcan(frame.data)
        names = self.interface_names
        name = names[frame.interface] if frame.interface < len(names) else f"if{frame.interface}"
        out: list[Event] = []
        if name not in self._can:
            self._can_seen.add(name)
            key = self._can[name] = FlowKey(transport="can", client=(name, 0), server=(name, 0))
            out.append(FlowOpened(flow=key, frame=frame.number, timestamp=frame.timestamp, handshake=False))
        out.append(_new_can(name, can_id, extended, fd, payload, frame.number, frame.timestamp, remote, error,
                            brs, esi, dlc))
        return out


# -- a convenience for clean captures ----------------------------------------------------


@dataclass(slots=True, kw_only=True)
class TcpStream:
    """One direction of one TCP connection, reassembled: ``chunks`` keeps each delivery's timestamp."""

    src: Endpoint
    dst: Endpoint
    chunks: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return b"".join(c for _, c in self.chunks)


def tcp_streams(frames: Iterable[Frame], *, port: int | None = None, strict: bool = True) -> list[TcpStream]:
    """Every TCP direction that carried data (optionally only those touching ``port``), in order of
    their first byte, reassembled by a :class:`Dissector`.

    With ``strict`` (for recorded fixtures, which must be clean) a gap or an
    overlap with conflicting bytes raises :class:`~wireproof.errors.FixtureError`;
    retransmissions and reordering are repaired silently. A malformed frame
    is a FixtureError either way.
    """
    dissector = Dissector(ports_of_interest=None if port is None else (port,))
    streams: dict[tuple[FlowKey, bool], TcpStream] = {}
    for ev in dissector.dissect(frames):
        if isinstance(ev, Malformed):
            raise FixtureError(f"frame {ev.frame}: malformed {ev.layer} at byte {ev.offset}: {ev.reason}")
        if strict and isinstance(ev, StreamGap):
            raise FixtureError(f"frame {ev.frame}: {ev.flow}: {ev.missing} bytes missing from the "
                               f"{'client' if ev.from_client else 'server'} side, where data was expected")
        if strict and isinstance(ev, StreamAnomaly) and ev.kind == "overlap_conflict":
            raise FixtureError(f"frame {ev.frame}: {ev.flow}: overlapping bytes differ from those expected "
                               f"({ev.detail})")
        if isinstance(ev, StreamData):
            key = (ev.flow, ev.from_client)
            stream = streams.get(key)
            if stream is None:
                ends = (ev.flow.client, ev.flow.server)
                stream = streams[key] = TcpStream(src=ends[not ev.from_client], dst=ends[ev.from_client])
            stream.chunks.append((ev.timestamp, ev.data))
    return list(streams.values())
