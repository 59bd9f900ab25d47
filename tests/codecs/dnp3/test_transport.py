"""DNP3 transport function (IEEE 1815-2012 8.2): segmentation and reassembly with limits."""

from __future__ import annotations

import pytest

from wireproof.codecs import NEED_DATA, get
from wireproof.codecs.dnp3 import (
    ApplicationResponse,
    ObjectHeader,
    Point,
    Reassembler,
    TransportSequenceError,
    encode_link,
    link_frames,
    segment,
)
from wireproof.errors import DecodeError, EncodeError


def test_segments_carry_at_most_249_octets_and_number_mod_64() -> None:
    segs = segment(bytes(600), seq=62)
    assert [len(s) - 1 for s in segs] == [249, 249, 102]
    assert [(s[0] >> 6 & 1, s[0] >> 7, s[0] & 0x3F) for s in segs] == [(1, 0, 62), (0, 0, 63), (0, 1, 0)]
    assert segment(b"") == [b"\xc0"]
    with pytest.raises(EncodeError):
        segment(b"x", size=250)


def test_reassembly_round_trip() -> None:
    r = Reassembler()
    data = bytes(range(256)) * 3
    out = [r.feed(s) for s in segment(data, seq=60)]
    assert out[:-1] == [None] * (len(out) - 1) and out[-1] == data and not r.in_progress


def test_sequence_gap_drops_the_fragment() -> None:
    r = Reassembler()
    a, _, c = segment(bytes(600), seq=5)
    assert r.feed(a) is None
    with pytest.raises(TransportSequenceError) as info:
        r.feed(c)
    assert info.value.path == ("transport", "seq") and not r.in_progress


def test_segment_without_fir_and_nothing_in_progress() -> None:
    with pytest.raises(TransportSequenceError) as info:
        Reassembler().feed(segment(bytes(300))[1])
    assert info.value.path == ("transport", "fir")


def test_a_new_fir_abandons_the_fragment_in_progress() -> None:
    r = Reassembler()
    first = segment(bytes(300), seq=1)
    r.feed(first[0])
    assert r.feed(b"\xc7" + b"abc") == b"abc"  # FIR+FIN, seq 7: a whole fragment of its own
    assert (r.abandoned, r.abandoned_octets) == (1, 249)


def test_fragment_and_segment_limits() -> None:
    r = Reassembler(max_fragment=300)
    segs = segment(bytes(400))
    r.feed(segs[0])
    with pytest.raises(DecodeError):
        r.feed(segs[1])
    assert not r.in_progress
    with pytest.raises(DecodeError):
        Reassembler().feed(b"\xc0" + bytes(250))
    with pytest.raises(DecodeError):
        Reassembler().feed(b"")


def test_fragment_framer_reassembles_link_frames() -> None:
    points = tuple(Point(index=i, values={"flags": 1, "value": i}) for i in range(60))
    frag = ApplicationResponse(seq=3, objects=(ObjectHeader(group=30, variation=1, qualifier=0x01, start=0,
                                                            stop=59, points=points),))
    frames = link_frames(frag, destination=1, source=10, master=False, transport_seq=63)
    assert len(frames) == 2 and frames[0].application is None
    wire = b"".join(encode_link(f) for f in frames)
    app = get("dnp3-app")
    framer = app.framer()
    framer.feed(b"\x05\x64\x05\xc9\x0a\x00\x01\x00\xfe\xda")  # a link service frame first: skipped
    framer.feed(wire[:100])
    assert framer.next_frame() is NEED_DATA
    framer.feed(wire[100:])
    whole = framer.next_frame()
    assert isinstance(whole, bytes) and app.decode(whole) == frag
    single = link_frames(ApplicationResponse(seq=1), destination=1, source=10, master=False)
    assert get("dnp3").decode(encode_link(single[0])) == single[0]
