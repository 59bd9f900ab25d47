"""The DNP3 Scapy layer against the Construct definitions: every field of every benchmark frame,
building, CRCs, TCP/UDP port 20000 through a pcap round trip, and arbitrary bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("scapy", reason="scapy (extra 'scapy') is not installed")

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap
from tests.codecs.dnp3.strategies import fragments

from wireproof.codecs.dnp3 import (
    ApplicationRequest,
    FunctionCode,
    ObjectHeader,
    encode_fragment,
    link_codec,
    link_frames,
)
from wireproof.codecs.dnp3.link import encode_link
from wireproof.codecs.dnp3.scapy_layer import (
    DNP3_PORT,
    DNP3Application,
    DNP3Link,
    DNP3ObjectHeader,
    DNP3Transport,
    install,
    installed,
    uninstall,
)
from wireproof.codecs.dnp3.scapy_layer import link_frames as scapy_frames
from wireproof.errors import ChecksumError
from wireproof.harness.bench import dnp3 as bench

FRAMES = bench.frame_set().frames
CODEC = link_codec()


@pytest.mark.parametrize("frame", FRAMES, ids=[f"{i}:{f[:12].hex()}" for i, f in enumerate(FRAMES)])
def test_every_field_agrees_with_the_construct_definitions(frame: bytes) -> None:
    # Link control and addresses, user data (block CRCs out), transport header, application
    # control, function, IIN, and each object header's group, variation, qualifier and range.
    pkt = DNP3Link(frame)
    assert pkt.header_crc_ok and pkt.block_crc_errors == []
    assert bench._scapy_fingerprint(pkt) == bench.fingerprint(CODEC.decode_declarative(frame))
    assert pkt.message == CODEC.decode(frame)
    assert bytes(pkt) == frame  # rebuilding puts the CRCs back


def test_the_frames_cover_every_layer() -> None:
    pkts = [DNP3Link(f) for f in FRAMES]
    assert any(DNP3Application in p and p[DNP3Application].function >= 129 for p in pkts)
    assert any(DNP3Application in p and p[DNP3Application].function == 1 for p in pkts)
    assert any(DNP3Transport not in p for p in pkts)  # link services carry no user data
    headers = [h for p in pkts if DNP3Application in p for h in p[DNP3Application].headers]
    assert {h.range for h in headers} >= {0, 1, 2, 6, 7, 8, 0xB} - {0xB}
    assert any(h.prefix for h in headers) and all(not h.undelimited for h in headers)


def test_building_from_fields_gives_the_codec_s_octets() -> None:
    built = (DNP3Link(dir=1, prm=1, function=4, destination=10, source=1) / DNP3Transport(seq=3)
             / DNP3Application(seq=5, function=1, headers=[
                 DNP3ObjectHeader(group=60, variation=2, range=6),
                 DNP3ObjectHeader(group=1, variation=2, range=0, start8=3, stop8=9)]))
    request = ApplicationRequest(seq=5, function=FunctionCode.READ, objects=(
        ObjectHeader(group=60, variation=2, qualifier=0x06),
        ObjectHeader(group=1, variation=2, qualifier=0x00, start=3, stop=9)))
    want = encode_link(link_frames(request, destination=10, source=1, master=True, transport_seq=3)[0])
    assert bytes(built) == want
    assert CODEC.decode(bytes(built)).application == request


def test_long_user_data_is_cut_into_crc_blocks() -> None:
    payload = bytes(range(40))
    built = bytes(DNP3Link(dir=1, prm=1, function=4, destination=10, source=1) / Raw(payload))
    assert built[2] == 5 + 40 and len(built) == 10 + 40 + 3 * 2
    assert CODEC.decode(built).user_data == payload
    assert DNP3Link(built).block_crc_errors == []


def test_crc_errors_are_reported_with_their_block() -> None:
    frame = bytearray(next(f for f in FRAMES if len(f) > 40))
    frame[30] ^= 0xFF  # in block 1 (octets 28..43)
    pkt = DNP3Link(bytes(frame))
    assert pkt.block_crc_errors == [1] and pkt.header_crc_ok
    assert isinstance(pkt.decode_error, ChecksumError) and pkt.message is None
    frame[8] ^= 0x01
    assert not DNP3Link(bytes(frame)).header_crc_ok


def test_several_frames_in_one_segment() -> None:
    first, second = FRAMES[0], FRAMES[1]
    pkts = scapy_frames(first + second)
    assert [bytes(p) for p in pkts] == [first, second]
    assert bytes(DNP3Link(first + second).payload.lastlayer()) != b""  # the second frame is padding


def test_rdpcap_dissects_tcp_and_udp_port_20000(tmp_path: Path) -> None:
    assert installed()
    request, response = FRAMES[4], FRAMES[5]
    path = tmp_path / "dnp3.pcap"
    master, outstation = IP(src="10.0.0.1", dst="10.0.0.2"), IP(src="10.0.0.2", dst="10.0.0.1")
    wrpcap(str(path), [
        Ether() / master / TCP(sport=40000, dport=DNP3_PORT, flags="PA") / Raw(request),
        Ether() / outstation / TCP(sport=DNP3_PORT, dport=40000, flags="PA") / Raw(response),
        Ether() / master / UDP(sport=40001, dport=DNP3_PORT) / Raw(request),
    ])
    pkts = rdpcap(str(path))
    assert all(DNP3Link in p for p in pkts)
    assert [p[DNP3Link].message for p in pkts] == [CODEC.decode(f) for f in (request, response, request)]
    # Crafting: TCP()/DNP3Link() goes to the outstation's port.
    assert (TCP() / DNP3Link(prm=1, function=9)).dport == DNP3_PORT
    uninstall()
    try:
        assert not installed()
        assert DNP3Link not in rdpcap(str(path))[0]
    finally:
        install()
    assert installed() and DNP3Link in rdpcap(str(path))[0]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300),
                 st.sampled_from(FRAMES).flatmap(lambda f: st.tuples(st.just(f), st.integers(0, len(f) - 1),
                                                                    st.integers(1, 255))).map(
                     lambda t: t[0][:t[1]] + bytes((t[0][t[1]] ^ t[2],)) + t[0][t[1] + 1:])))
def test_arbitrary_bytes_dissect_without_an_exception(data: bytes) -> None:
    pkt = DNP3Link(data)
    pkt.summary()
    for h in (pkt[DNP3Application].headers if DNP3Application in pkt else []):
        # a header Scapy cannot even start (cut short) is Raw, as Scapy leaves any undissectable layer
        assert isinstance(h, DNP3ObjectHeader | Raw)
        assert len(bytes(h)) <= len(data)
    err = pkt.decode_error
    assert err is None or err.protocol == "dnp3"


@settings(max_examples=200, deadline=None)
@given(fragments.filter(lambda f: len(encode_fragment(f)) <= 249), st.booleans())
def test_generated_fragments_agree_with_the_construct_definitions(fragment: object, master: bool) -> None:
    # Every qualifier, the whole object library and free-format objects, in one link frame each.
    frame = encode_link(link_frames(fragment, destination=10, source=1, master=master)[0])  # type: ignore[arg-type]
    pkt = DNP3Link(frame)
    assert bench._scapy_fingerprint(pkt) == bench.fingerprint(CODEC.decode_declarative(frame))
    assert bytes(pkt) == frame
