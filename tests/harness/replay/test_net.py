"""Link types, VLAN stacks, IPv4/IPv6 (fragments, extension headers), UDP and SocketCAN dissection.

Each link type carries the same TCP segment and must give the same
StreamData; fragments reassemble in and out of order; overlaps, bad
lengths and short frames are Malformed events, never exceptions.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from wireproof.harness.replay import net
from wireproof.harness.replay.dissector import Dissector
from wireproof.harness.replay.events import CanMessage, Datagram, Event, Frame, Malformed, StreamData
from wireproof.harness.replay.pcap import (
    build_tcp_frame,
    build_udp_frame,
    ethernet,
    fragment_ipv4,
    ip_packet,
    ipv6_fragments,
    socketcan_frame,
    tcp_segment,
    udp_datagram,
)

C4, S4 = ("10.0.0.1", 40000), ("10.0.0.2", 502)
C6, S6 = ("fd00::1", 40000), ("fd00::2", 502)
PAYLOAD = bytes.fromhex("000100000006010300000002")


def frame(data: bytes, linktype: int = 1, number: int = 1, ts: float = 1.0, interface: int = 0) -> Frame:
    return Frame(number=number, timestamp=ts, linktype=linktype, data=data, original_length=len(data),
                 interface=interface)


def feed_all(frames: list[Frame], **kwargs: object) -> list[Event]:
    return list(Dissector(**kwargs).dissect(frames))  # type: ignore[arg-type]


def tcp_ip(src: tuple[str, int], dst: tuple[str, int], payload: bytes = PAYLOAD) -> bytes:
    return ip_packet(tcp_segment(payload, sport=src[1], dport=dst[1], seq=1), src=src[0], dst=dst[0], proto=6)


def stream_data(events: list[Event]) -> list[bytes]:
    return [e.data for e in events if isinstance(e, StreamData)]


LINKS: dict[str, tuple[int, Callable[[bytes], bytes]]] = {
    "ethernet": (1, lambda ip: ethernet(ip)),
    "sll": (113, lambda ip: struct.pack(">HHH8sH", 0, 1, 6, bytes(8),
                                        0x0800 if ip[0] >> 4 == 4 else 0x86DD) + ip),
    "sll2": (276, lambda ip: struct.pack(">HHIHBB8s", 0x0800 if ip[0] >> 4 == 4 else 0x86DD, 0, 1, 1, 0, 6,
                                         bytes(8)) + ip),
    "raw": (101, lambda ip: ip),
    "ipv4-or-6": (228, lambda ip: ip),
    "null-le": (0, lambda ip: struct.pack("<I", 2 if ip[0] >> 4 == 4 else 30) + ip),
    "null-be": (0, lambda ip: struct.pack(">I", 2 if ip[0] >> 4 == 4 else 30) + ip),
    "loop": (108, lambda ip: struct.pack(">I", 2 if ip[0] >> 4 == 4 else 24) + ip),
}


@pytest.mark.parametrize("version", [4, 6])
@pytest.mark.parametrize("link", sorted(LINKS))
def test_every_link_type_carries_tcp(link: str, version: int) -> None:
    linktype, wrap = LINKS[link]
    if link == "ipv4-or-6":
        linktype = 228 if version == 4 else 229
    ip = tcp_ip(C4, S4) if version == 4 else tcp_ip(C6, S6)
    events = feed_all([frame(wrap(ip), linktype)])
    assert stream_data(events) == [PAYLOAD]
    flow = events[0].flow  # type: ignore[union-attr]
    assert flow.server == (S4 if version == 4 else S6)


@pytest.mark.parametrize("vlans", [[(0x8100, 5)], [(0x88A8, 100), (0x8100, 5)],
                                   [(0x9100, 1), (0x88A8, 2), (0x8100, 3)]], ids=["dot1q", "qinq", "triple"])
def test_vlan_stacks(vlans: list[tuple[int, int]]) -> None:
    events = feed_all([frame(build_tcp_frame(PAYLOAD, src=C4, dst=S4, seq=1, vlans=vlans))])
    assert stream_data(events) == [PAYLOAD]


def test_vlan_tag_cut_short_is_malformed() -> None:
    (ev,) = feed_all([frame(bytes(12) + b"\x81\x00\x00")])
    assert isinstance(ev, Malformed) and ev.layer == "vlan"


def _fragments(order: list[int]) -> list[Frame]:
    packet = ip_packet(udp_datagram(bytes(range(200)), sport=40000, dport=20000), src=C4[0], dst=S4[0],
                       proto=17, ident=7, df=False)
    frags = fragment_ipv4(packet, 64)
    assert len(frags) == 4
    return [frame(ethernet(frags[i]), number=n) for n, i in enumerate(order, start=1)]


@pytest.mark.parametrize("order", [[0, 1, 2, 3], [3, 1, 0, 2], [2, 3, 1, 0]])
def test_ipv4_fragments_in_and_out_of_order(order: list[int]) -> None:
    d = Dissector()
    events = [e for f in _fragments(order) for e in d.feed(f)]
    datagrams = [e for e in events if isinstance(e, Datagram)]
    assert [g.data for g in datagrams] == [bytes(range(200))]
    assert datagrams[0].frame == 4  # the frame that completed the datagram
    assert d.stats["fragments_reassembled"] == 1
    assert not [e for e in events if isinstance(e, Malformed)]


def test_overlapping_fragments_are_flagged_and_first_bytes_win() -> None:
    ident = 9
    payload = udp_datagram(b"A" * 40, sport=1000, dport=2000)
    first = ip_packet(payload[:24], src=C4[0], dst=S4[0], proto=17, ident=ident, df=False,
                      more_fragments=True)
    evil = ip_packet(b"B" * 16, src=C4[0], dst=S4[0], proto=17, ident=ident, df=False, frag_offset=16,
                     more_fragments=True)
    last = ip_packet(payload[24:], src=C4[0], dst=S4[0], proto=17, ident=ident, df=False, frag_offset=24)
    events = feed_all([frame(ethernet(p), number=n) for n, p in enumerate([first, evil, last], start=1)])
    bad = [e for e in events if isinstance(e, Malformed)]
    assert [e.frame for e in bad] == [2, 3] and all("conflicting" in e.reason for e in bad)
    (dgram,) = [e for e in events if isinstance(e, Datagram)]
    assert dgram.data == b"A" * 16 + b"B" * 8 + b"A" * 16  # the B fragment's new bytes came before "last"


def test_incomplete_fragments_are_reported_at_the_end_and_after_the_timeout() -> None:
    frags = _fragments([0, 1])
    late = frame(build_udp_frame(b"x", src=C4, dst=S4), number=3, ts=100.0)
    d = Dissector(fragment_timeout=30.0)
    events = [e for f in [*frags, late] for e in d.feed(f)]
    (timed_out,) = [e for e in events if isinstance(e, Malformed)]
    assert timed_out.frame == 1 and "incomplete after 30 s" in timed_out.reason
    d2 = Dissector()
    for f in frags:
        d2.feed(f)
    assert any(isinstance(e, Malformed) and "end of the capture" in e.reason for e in d2.finish())


def test_fragment_reassembly_is_bounded() -> None:
    d = Dissector(max_fragmented_datagrams=4)
    for ident in range(10):
        p = ip_packet(b"x" * 16, src=C4[0], dst=S4[0], proto=17, ident=ident, df=False, more_fragments=True)
        d.feed(frame(ethernet(p), number=ident + 1))
    assert d.stats["fragments_dropped"] == 6


def test_fragment_beyond_64k_is_malformed() -> None:
    p = ip_packet(b"x" * 16, src=C4[0], dst=S4[0], proto=17, ident=1, df=False, frag_offset=65528)
    (ev,) = feed_all([frame(ethernet(p))])
    assert isinstance(ev, Malformed) and ev.layer == "fragment"


def test_ipv6_extension_headers_and_fragments() -> None:
    hop_by_hop = bytes([0, 0, 1, 4, 0, 0, 0, 0])  # next header patched by the builder; PadN
    dgram = udp_datagram(bytes(range(100)), sport=40000, dport=20000)
    frags = ipv6_fragments(dgram, src=C6[0], dst=S6[0], proto=17, size=48, extension=hop_by_hop)
    events = feed_all([frame(ethernet(p), number=n) for n, p in enumerate(reversed(frags), start=1)])
    (g,) = [e for e in events if isinstance(e, Datagram)]
    assert g.data == bytes(range(100)) and g.flow.server == ("fd00::2", 20000)


def test_ipv6_destination_options_before_tcp() -> None:
    seg = tcp_segment(PAYLOAD, sport=40000, dport=502, seq=1)
    dest_opts = bytes([6, 0, 1, 4, 0, 0, 0, 0])  # next header TCP
    packet = ip_packet(dest_opts + seg, src=C6[0], dst=S6[0], proto=60)
    assert stream_data(feed_all([frame(ethernet(packet))])) == [PAYLOAD]


def test_udp_datagrams_both_ways() -> None:
    events = feed_all([frame(build_udp_frame(b"q", src=C4, dst=("10.0.0.2", 20000))),
                       frame(build_udp_frame(b"r", src=("10.0.0.2", 20000), dst=C4), number=2)])
    grams = [(e.from_client, e.data) for e in events if isinstance(e, Datagram)]
    assert grams == [(True, b"q"), (False, b"r")]


@pytest.mark.parametrize(("data", "layer"), [
    (b"\x00" * 10, "ethernet"),
    (ethernet(b"\x45" + bytes(10)), "ipv4"),
    (ethernet(b"\x46" + bytes(19)), "ipv4"),  # IHL 24 but total length 0
    (ethernet(ip_packet(b"", src="1.2.3.4", dst="5.6.7.8", proto=6, total_length=400)), "ipv4"),
    (ethernet(ip_packet(b"\x00" * 10, src="1.2.3.4", dst="5.6.7.8", proto=6)), "tcp"),
    (ethernet(ip_packet(tcp_segment(b"", sport=1, dport=2, seq=0)[:12] + b"\xf0" + bytes(7),
                        src="1.2.3.4", dst="5.6.7.8", proto=6)), "tcp"),
    (ethernet(ip_packet(struct.pack(">HHHH", 1, 2, 99, 0), src="1.2.3.4", dst="5.6.7.8", proto=17)), "udp"),
    (ethernet(b"\x60" + bytes(20), ethertype=0x86DD), "ipv6"),
], ids=["short-ethernet", "short-ipv4", "ihl-vs-total", "total-past-end", "short-tcp", "tcp-offset",
        "udp-length", "short-ipv6"])
def test_malformed_layers(data: bytes, layer: str) -> None:
    events = feed_all([frame(data)])
    assert [(type(e).__name__, getattr(e, "layer", None)) for e in events] == [("Malformed", layer)]
    assert isinstance(events[0], Malformed) and events[0].window


def test_unsupported_traffic_is_counted() -> None:
    arp = ethernet(bytes(28), ethertype=0x0806)
    icmp = ethernet(ip_packet(bytes(8), src="1.2.3.4", dst="5.6.7.8", proto=1))
    d = Dissector()
    assert d.feed(frame(arp)) == [] and d.feed(frame(icmp, number=2)) == [] and d.feed(frame(b"x", 147)) == []
    assert d.stats["unsupported"] == {"ethertype 0x0806": 1, "ip protocol 1": 1, "linktype 147": 1}


@pytest.mark.parametrize(("raw", "expected"), [
    (socketcan_frame(0x123, b"\xde\xad\xbe\xef"), (0x123, False, False, False, b"\xde\xad\xbe\xef")),
    (socketcan_frame(0x18FEF100, b"\x01" * 8), (0x18FEF100, True, False, False, b"\x01" * 8)),
    (socketcan_frame(0x123, b"\x01" * 12, fd=True, brs=True), (0x123, False, True, False, b"\x01" * 12)),
    (socketcan_frame(0x123, b"", remote=True, dlc=4), (0x123, False, False, True, b"")),
], ids=["classic", "extended", "fd", "remote"])
def test_socketcan(raw: bytes, expected: tuple[int, bool, bool, bool, bytes]) -> None:
    events = feed_all([frame(raw, 227)], interface_names=["vcan0"])
    (msg,) = [e for e in events if isinstance(e, CanMessage)]
    assert (msg.can_id, msg.extended, msg.fd, msg.remote, msg.data) == expected
    assert msg.interface == "vcan0" and msg.flow.client == ("vcan0", 0)
    if msg.remote:
        assert msg.dlc == 4
    if msg.fd:
        assert msg.brs and not msg.esi


def test_socketcan_bad_length_is_malformed() -> None:
    raw = bytearray(socketcan_frame(0x123, b"\x00" * 8))
    raw[4] = 15
    (ev,) = feed_all([frame(bytes(raw), 227)])
    assert isinstance(ev, Malformed) and ev.layer == "socketcan"


def test_address_text() -> None:
    assert net.address_text(bytes([10, 0, 0, 1])) == "10.0.0.1"
    assert net.address_text(bytes(15) + b"\x01") == "::1"
