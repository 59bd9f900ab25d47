"""Transport function clauses (IEEE 1815-2012 clause 8): FIR/FIN, sequence numbers, segment size.

A request fragment is cut into several segments (:func:`~wireproof.codecs.dnp3.transport.segment`
with a small segment size) and the segments' headers are then altered as
the clause says; each segment travels in its own UNCONFIRMED_USER_DATA frame.
"""

from __future__ import annotations

import itertools

import pytest

from wireproof.codecs.dnp3.application import encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction
from wireproof.codecs.dnp3.messages import ApplicationRequest
from wireproof.codecs.dnp3.transport import segment
from wireproof.conformance.dnp3_outstation._checks import class_poll
from wireproof.conformance.dnp3_outstation._connection import Connection
from wireproof.conformance.dnp3_outstation.conftest import Timing


def _read_segments(station: Connection, size: int = 2) -> tuple[int, list[bytes]]:
    """An integrity poll's fragment (4 object headers, 14 octets) in segments of ``size`` octets."""
    seq = station.next_app_seq()
    fragment = encode_fragment(
        ApplicationRequest(seq=seq, function=FunctionCode.READ, objects=class_poll(1, 2, 3, 0))
    )
    pieces = segment(fragment, seq=station.transport_seq, size=size)
    station.transport_seq = (station.transport_seq + len(pieces)) % 64
    return seq, pieces


def _send_segments(station: Connection, pieces: list[bytes], what: str) -> None:
    frames = b"".join(station.link_frame(PrimaryFunction.UNCONFIRMED_USER_DATA, user_data=p) for p in pieces)
    station.send_bytes(frames, what)


def _silent(station: Connection, timing: Timing, what: str) -> None:
    said = station.quiet(timing.response_timeout)
    assert not said, (
        f"{what}: the device answered ({'; '.join(said)}); the fragment must be discarded (8.2.2)"
    )


@pytest.mark.conformance(
    clause="DNP-TRN-001",
    level="shall",
    cites="IEEE 1815-2012 8.2.1, 8.2.2: FIR marks the first segment, FIN the last; the "
    "fragment is the segments' data in sequence",
)
def test_multi_segment_request(station: Connection) -> None:
    """A request in 7 segments (FIR on the first, FIN on the last) is reassembled and answered."""
    seq, pieces = _read_segments(station)
    _send_segments(station, pieces, f"integrity poll in {len(pieces)} segments")
    response = station.read_response(what="the segmented request")
    assert response.fragment.seq == seq, f"response sequence {response.fragment.seq}, request {seq}"
    if response.fragment.con:
        station.confirm(response.fragment.seq)


@pytest.mark.conformance(
    clause="DNP-TRN-002",
    level="shall",
    cites="IEEE 1815-2012 8.2.2: a segment without FIR when no fragment is in progress is discarded",
)
def test_segment_without_fir_discarded(station: Connection, timing: Timing) -> None:
    """A whole request sent with FIN but without FIR is discarded (not answered)."""
    seq = station.next_app_seq()
    fragment = encode_fragment(ApplicationRequest(seq=seq, function=FunctionCode.READ, objects=class_poll(0)))
    piece = bytes((0x80 | station.transport_seq,)) + fragment  # FIN, no FIR
    station.transport_seq = (station.transport_seq + 1) % 64
    _send_segments(station, [piece], "class 0 read in a segment with FIN and without FIR")
    _silent(station, timing, "a segment without FIR")
    station.request(FunctionCode.READ, class_poll(0))


@pytest.mark.conformance(
    clause="DNP-TRN-003",
    level="shall",
    cites="IEEE 1815-2012 8.2.2: a segment whose sequence number does not follow the "
    "previous one's discards the fragment in progress",
)
def test_out_of_sequence_segment(station: Connection, timing: Timing) -> None:
    """A fragment whose second segment skips a sequence number is discarded."""
    _, pieces = _read_segments(station)
    bad = [pieces[0], bytes((pieces[1][0] & 0xC0 | (pieces[1][0] + 1) & 0x3F,)) + pieces[1][1:], *pieces[2:]]
    _send_segments(station, bad, "integrity poll whose second segment skips a sequence number")
    _silent(station, timing, "a sequence gap")
    station.request(FunctionCode.READ, class_poll(0))


@pytest.mark.conformance(
    clause="DNP-TRN-004",
    level="shall",
    cites="IEEE 1815-2012 8.2.2: a segment with FIR starts a new fragment; the one in progress is discarded",
)
def test_new_fir_abandons_fragment(station: Connection) -> None:
    """A FIR segment in the middle of a fragment starts a new one: the new fragment is answered."""
    _, pieces = _read_segments(station)
    seq, whole = _read_segments(station, size=249)
    _send_segments(
        station, pieces[:3] + whole, "3 segments of a fragment, then a whole new fragment (FIR FIN)"
    )
    response = station.read_response(what="the new fragment")
    assert response.fragment.seq == seq, (
        f"response sequence {response.fragment.seq}: the device answered the abandoned fragment, not the "
        f"new one (seq {seq})"
    )
    assert not station.quiet(0.3), "the device answered twice"


@pytest.mark.conformance(
    clause="DNP-TRN-005",
    level="shall",
    cites="IEEE 1815-2012 8.2.1: the transport header's sequence number increments by "
    "one (mod 64) from segment to segment; FIR and FIN frame each fragment",
)
def test_response_segments(station: Connection) -> None:
    """The device's response segments carry FIR/FIN and a sequence number that increments mod 64."""
    seen: list[tuple[bool, bool, int]] = []
    for _ in range(4):
        for response in station.request_all(FunctionCode.READ, class_poll(0)):
            for frame in response.frames:
                head = frame.user_data[0]
                seen.append((bool(head & 0x40), bool(head & 0x80), head & 0x3F))
    assert seen[0][0], "the first response segment lacks FIR"
    for (_, fin, seq), (nfir, _, nseq) in itertools.pairwise(seen):
        assert nseq == (seq + 1) % 64, f"transport sequence {seq} followed by {nseq} (8.2.1: + 1 mod 64)"
        assert fin == nfir, "a segment after FIN lacks FIR, or one after a non-final segment has FIR"


@pytest.mark.conformance(
    clause="DNP-TRN-006",
    level="shall",
    cites="IEEE 1815-2012 8.2.1: a segment carries at most 249 octets of fragment; 9.2.4.1.2: LENGTH 5..255",
)
def test_segment_size(station: Connection) -> None:
    """Every response segment of an integrity poll carries at most 249 octets of fragment."""
    for response in station.request_all(FunctionCode.READ, class_poll(1, 2, 3, 0)):
        for frame in response.frames:
            assert len(frame.user_data) - 1 <= 249, f"a segment of {len(frame.user_data) - 1} octets"
