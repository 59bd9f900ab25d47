"""TCP reassembly scenarios (RFC 9293 3.4, 3.10.7): each produces exactly the expected events.

A conversation is written as segments (side, seq, flags, payload, ack); the
helper turns them into Ethernet/IPv4/TCP frames, feeds a Dissector and
reduces its events to short tuples: ("open", handshake), ("data", side,
bytes), ("gap", side, missing), (anomaly kind, side), ("close", how).
Client 10.0.0.1:40000 sends from sequence 100 (ISN 99), the server
10.0.0.2:502 from 500 (ISN 499).
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.harness.replay.dissector import Dissector
from wireproof.harness.replay.events import (
    FlowClosed,
    FlowOpened,
    Frame,
    StreamAnomaly,
    StreamData,
    StreamGap,
)
from wireproof.harness.replay.pcap import build_tcp_frame

C, S = ("10.0.0.1", 40000), ("10.0.0.2", 502)
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
HANDSHAKE = [("c", 99, SYN, b"", 0), ("s", 499, SYN | ACK, b"", 100), ("c", 100, ACK, b"", 500)]


def frames(segments: list[tuple[str, int, int, bytes, int]]) -> list[Frame]:
    out = []
    for n, (side, seq, flags, payload, ack) in enumerate(segments, start=1):
        src, dst = (C, S) if side == "c" else (S, C)
        data = build_tcp_frame(payload, src=src, dst=dst, seq=seq, ack=ack, flags=flags)
        out.append(Frame(number=n, timestamp=float(n), linktype=1, data=data, original_length=len(data)))
    return out


def summarize(events: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for ev in events:
        side = "c" if getattr(ev, "from_client", False) else "s"
        if isinstance(ev, FlowOpened):
            out.append(("open", ev.handshake))
        elif isinstance(ev, StreamData):
            out.append(("data", side, ev.data))
        elif isinstance(ev, StreamGap):
            out.append(("gap", side, ev.missing))
        elif isinstance(ev, StreamAnomaly):
            out.append((ev.kind, side))
        elif isinstance(ev, FlowClosed):
            out.append(("close", ev.how))
        else:
            out.append((type(ev).__name__,))
    return out


def as_sll(frame: Frame) -> Frame:
    """The same packet on Linux cooked capture (link type 113), which never takes the Ethernet fast path."""
    data = bytes(14) + frame.data[12:14] + frame.data[14:]
    return Frame(number=frame.number, timestamp=frame.timestamp, linktype=113, data=data,
                 original_length=len(data))


def run(segments: list[tuple[str, int, int, bytes, int]], **kwargs: Any) -> list[tuple[Any, ...]]:
    """The events of a conversation; the fast path (Ethernet) and the general path (SLL) must agree."""
    fast = list(Dissector(**kwargs).dissect(frames(segments)))
    general = list(Dissector(**kwargs).dissect(as_sll(f) for f in frames(segments)))
    assert fast == general
    return summarize(fast)


DATA = PSH | ACK


def test_clean_conversation() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("s", 500, DATA, b"xyz", 103)]) == [
        ("open", True), ("data", "c", b"abc"), ("data", "s", b"xyz"), ("close", "end")]


def test_reordered_segments() -> None:
    assert run([*HANDSHAKE, ("c", 103, DATA, b"def", 500), ("c", 100, DATA, b"abc", 500)]) == [
        ("open", True), ("out_of_order", "c"), ("data", "c", b"abc"), ("data", "c", b"def"), ("close", "end")]


def test_retransmission_is_reported_not_delivered_twice() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("c", 100, DATA, b"abc", 500)]) == [
        ("open", True), ("data", "c", b"abc"), ("retransmission", "c"), ("close", "end")]


def test_split_and_coalesced_segments_give_the_same_stream() -> None:
    split = run([*HANDSHAKE, ("c", 100, DATA, b"ab", 500), ("c", 102, DATA, b"cdef", 500)])
    coalesced = run([*HANDSHAKE, ("c", 100, DATA, b"abcdef", 500)])
    assert split == [("open", True), ("data", "c", b"ab"), ("data", "c", b"cdef"), ("close", "end")]
    assert coalesced == [("open", True), ("data", "c", b"abcdef"), ("close", "end")]


def test_overlap_with_conflicting_bytes_keeps_the_first_seen() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abcd", 500), ("c", 102, DATA, b"XYef", 500)]) == [
        ("open", True), ("data", "c", b"abcd"), ("overlap_conflict", "c"), ("data", "c", b"ef"),
        ("close", "end")]


def test_overlap_with_same_bytes_is_a_retransmission() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abcd", 500), ("c", 102, DATA, b"cdef", 500)]) == [
        ("open", True), ("data", "c", b"abcd"), ("retransmission", "c"), ("data", "c", b"ef"),
        ("close", "end")]


def test_overlap_conflict_inside_the_out_of_order_buffer() -> None:
    assert run([*HANDSHAKE, ("c", 103, DATA, b"def", 500), ("c", 104, DATA, b"XYZ", 500),
                ("c", 100, DATA, b"abc", 500)]) == [
        ("open", True), ("out_of_order", "c"), ("overlap_conflict", "c"), ("data", "c", b"abc"),
        ("data", "c", b"def"), ("data", "c", b"Z"), ("close", "end")]


def test_gap_proven_by_the_peers_ack() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("c", 106, DATA, b"ghi", 500),
                ("s", 500, ACK, b"", 109), ("c", 109, DATA, b"jkl", 500)]) == [
        ("open", True), ("data", "c", b"abc"), ("out_of_order", "c"), ("gap", "c", 3), ("data", "c", b"ghi"),
        ("data", "c", b"jkl"), ("close", "end")]


def test_gap_of_unseen_acked_bytes_without_anything_buffered() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("s", 500, ACK, b"", 110),
                ("c", 110, DATA, b"k", 500)]) == [
        ("open", True), ("data", "c", b"abc"), ("gap", "c", 7), ("data", "c", b"k"), ("close", "end")]


def test_gap_left_at_the_end_of_the_capture() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("c", 106, DATA, b"ghi", 500)]) == [
        ("open", True), ("data", "c", b"abc"), ("out_of_order", "c"), ("gap", "c", 3), ("data", "c", b"ghi"),
        ("close", "end")]


def test_buffer_overflow_gives_up_the_hole() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("c", 106, DATA, b"ghi", 500),
                ("c", 109, DATA, b"jkl", 500)], max_buffer_per_direction=4) == [
        ("open", True), ("data", "c", b"abc"), ("out_of_order", "c"), ("out_of_order", "c"),
        ("buffer_overflow", "c"), ("gap", "c", 3), ("data", "c", b"ghi"), ("data", "c", b"jkl"),
        ("close", "end")]


def test_midstream_start_in_both_directions() -> None:
    assert run([("c", 7000, DATA, b"abc", 9000), ("s", 9000, DATA, b"xyz", 7003),
                ("c", 7003, DATA, b"def", 9003)]) == [
        ("open", False), ("midstream_start", "c"), ("data", "c", b"abc"), ("midstream_start", "s"),
        ("data", "s", b"xyz"), ("data", "c", b"def"), ("close", "end")]


def test_midstream_bytes_from_before_the_first_segment_are_dropped() -> None:
    assert run([("c", 7003, DATA, b"def", 9000), ("c", 7000, DATA, b"abc", 9000)]) == [
        ("open", False), ("midstream_start", "c"), ("data", "c", b"def"), ("out_of_order", "c"),
        ("close", "end")]


def test_rst_flushes_and_closes_then_data_after_close() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("c", 106, DATA, b"ghi", 500),
                ("s", 500, RST | ACK, b"", 103), ("c", 109, DATA, b"jkl", 500)]) == [
        ("open", True), ("data", "c", b"abc"), ("out_of_order", "c"), ("gap", "c", 3), ("data", "c", b"ghi"),
        ("close", "rst"), ("data_after_close", "c")]


def test_fin_both_ways_closes_once() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA | FIN, b"abc", 500), ("s", 500, DATA | FIN, b"xy", 104),
                ("c", 104, ACK, b"", 503)]) == [
        ("open", True), ("data", "c", b"abc"), ("data", "s", b"xy"), ("close", "fin")]


def test_fin_before_the_data_it_follows() -> None:
    assert run([*HANDSHAKE, ("c", 103, ACK | FIN, b"", 500), ("c", 100, DATA, b"abc", 500),
                ("s", 500, ACK | FIN, b"", 104)]) == [
        ("open", True), ("data", "c", b"abc"), ("close", "fin")]


def test_keepalive_is_ignored() -> None:
    assert run([*HANDSHAKE, ("c", 100, DATA, b"abc", 500), ("c", 102, ACK, b"\x00", 500)]) == [
        ("open", True), ("data", "c", b"abc"), ("close", "end")]


def test_sequence_numbers_wrap_around() -> None:
    isn = 0xFFFFFFFE
    assert run([("c", isn, SYN, b"", 0), ("c", isn + 1, DATA, b"ab", 0),
                ("c", (isn + 3) & 0xFFFFFFFF, DATA, b"cd", 0)]) == [
        ("open", True), ("data", "c", b"ab"), ("data", "c", b"cd"),
        ("close", "end")]


def test_new_syn_on_closed_ports_opens_a_new_flow() -> None:
    events = run([*HANDSHAKE, ("c", 100, DATA | FIN, b"a", 500), ("s", 500, ACK | FIN, b"", 102),
                  ("c", 5000, SYN, b"", 0)])
    assert events == [("open", True), ("data", "c", b"a"), ("close", "fin"), ("open", True), ("close", "end")]


def test_syn_ack_without_syn_learns_the_client_sequence() -> None:
    assert run([("s", 499, SYN | ACK, b"", 100), ("c", 100, DATA, b"abc", 500)]) == [
        ("open", True), ("data", "c", b"abc"), ("close", "end")]


# -- property: any order of a lossless stream reassembles to the original -----------------


@st.composite
def shuffled_stream(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, bytes]]]:
    data = draw(st.binary(min_size=1, max_size=300))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, len(data) - 1)), max_size=12)) | {0, len(data)})
    segs = [(a, data[a:b]) for a, b in itertools.pairwise(cuts) if b > a]
    extra = draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 40)), max_size=5))
    segs += [(a, data[a:a + n]) for a, n in extra]  # retransmissions cut differently: same bytes
    return data, draw(st.permutations(segs))


@settings(max_examples=150, deadline=None)
@given(shuffled_stream(), st.integers(0, 0xFFFFFFFF))
def test_any_order_reassembles_to_the_original_bytes(case: tuple[bytes, list[tuple[int, bytes]]],
                                                     isn: int) -> None:
    data, segs = case
    segments = [("c", isn, SYN, b"", 0)] + [("c", (isn + 1 + off) & 0xFFFFFFFF, DATA, chunk, 0)
                                           for off, chunk in segs]
    events = list(Dissector().dissect(frames(segments)))
    assert b"".join(e.data for e in events if isinstance(e, StreamData)) == data
    kinds = {e.kind for e in events if isinstance(e, StreamAnomaly)}
    assert not any(isinstance(e, StreamGap) for e in events)
    assert "overlap_conflict" not in kinds
