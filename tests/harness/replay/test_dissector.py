"""The Dissector as a whole: client/server roles, ports of interest, bounded flows, stats, tcp_streams."""

from __future__ import annotations

import pytest

from wireproof.errors import FixtureError
from wireproof.harness.replay.dissector import Dissector, tcp_streams
from wireproof.harness.replay.events import (
    Event,
    FlowClosed,
    FlowKey,
    FlowOpened,
    Frame,
    StreamAnomaly,
    StreamData,
)
from wireproof.harness.replay.pcap import build_tcp_frame, build_udp_frame


def frame(data: bytes, number: int = 1, ts: float = 1.0) -> Frame:
    return Frame(number=number, timestamp=ts, linktype=1, data=data, original_length=len(data))


def tcp(src: tuple[str, int], dst: tuple[str, int], payload: bytes = b"x", seq: int = 1, flags: int = 0x18,
        number: int = 1) -> Frame:
    return frame(build_tcp_frame(payload, src=src, dst=dst, seq=seq, flags=flags), number=number)


@pytest.mark.parametrize(("src", "dst", "poi", "client"), [
    (("10.0.0.2", 502), ("10.0.0.1", 40000), None, ("10.0.0.1", 40000)),  # lower port serves
    (("10.0.0.1", 40000), ("10.0.0.2", 502), None, ("10.0.0.1", 40000)),
    (("10.0.0.1", 80), ("10.0.0.2", 5020), {5020}, ("10.0.0.1", 80)),  # a port of interest serves
    (("10.0.0.1", 700), ("10.0.0.2", 700), None, ("10.0.0.1", 700)),  # tie: the first sender is the client
])
def test_client_without_handshake(src: tuple[str, int], dst: tuple[str, int], poi: set[int] | None,
                                  client: tuple[str, int]) -> None:
    (opened, *_rest) = Dissector(ports_of_interest=poi).feed(tcp(src, dst))
    assert isinstance(opened, FlowOpened) and not opened.handshake and opened.flow.client == client


def test_syn_sender_is_the_client_whatever_the_ports() -> None:
    (opened,) = Dissector().feed(tcp(("10.0.0.1", 80), ("10.0.0.2", 50000), b"", seq=9, flags=0x02))
    assert isinstance(opened, FlowOpened) and opened.handshake and opened.flow == FlowKey(
        transport="tcp", client=("10.0.0.1", 80), server=("10.0.0.2", 50000))


def test_ports_of_interest_skip_but_count() -> None:
    d = Dissector(ports_of_interest={502})
    assert d.feed(tcp(("10.0.0.1", 40000), ("10.0.0.2", 80))) == []
    assert d.feed(frame(build_udp_frame(b"x", src=("10.0.0.1", 1), dst=("10.0.0.2", 2)))) == []
    events = d.feed(tcp(("10.0.0.1", 40000), ("10.0.0.2", 502)))
    assert [type(e) for e in events] == [FlowOpened, StreamAnomaly, StreamData]  # a midstream start
    stats = d.stats
    assert stats["skipped_frames"] == 2 and stats["frames"] == 3 and stats["tcp_flows"] == 1
    assert stats["linktypes"] == {"1": 3} and stats["ip_protocols"] == {"6": 2, "17": 1}


def test_flow_table_is_bounded_and_evicts_the_least_recent() -> None:
    d = Dissector(max_flows=8)
    events: list[Event] = []
    for i in range(20):
        events += d.feed(tcp(("10.0.0.1", 40000 + i), ("10.0.0.2", 502), number=i + 1))
        # one flow stays busy throughout
        events += d.feed(tcp(("10.0.0.1", 40000), ("10.0.0.2", 502), seq=1 + i, number=100 + i))
    idle = [e for e in events if isinstance(e, FlowClosed) and e.how == "idle"]
    assert idle and all(e.flow.client[1] != 40000 for e in idle)
    assert len(d._conns) <= 8
    assert d.stats["evicted_flows"] == len(idle)
    streams = [e.data for e in events if isinstance(e, StreamData) and e.flow.client[1] == 40000]
    assert b"".join(streams) == b"x" * 20  # the busy flow survived every eviction


def test_finish_closes_every_open_flow_once() -> None:
    d = Dissector()
    d.feed(tcp(("10.0.0.1", 40000), ("10.0.0.2", 502)))
    d.feed(frame(build_udp_frame(b"x", src=("10.0.0.1", 1000), dst=("10.0.0.2", 20000)), number=2, ts=5.0))
    closed = d.finish()
    assert [(type(e), e.how, e.frame, e.timestamp) for e in closed if isinstance(e, FlowClosed)] == [
        (FlowClosed, "end", 2, 5.0), (FlowClosed, "end", 2, 5.0)]
    assert d.finish() == []


def test_events_are_frozen() -> None:
    (_opened, _midstream, data) = Dissector().feed(tcp(("10.0.0.1", 40000), ("10.0.0.2", 502)))
    assert isinstance(data, StreamData)
    with pytest.raises(AttributeError):
        data.data = b"y"  # type: ignore[misc]
    assert data == StreamData(flow=data.flow, from_client=True, data=b"x", frame=1, timestamp=1.0)


def test_tcp_streams_strict_and_lenient() -> None:
    c, s = ("10.0.0.1", 40000), ("10.0.0.2", 502)
    frames = [tcp(c, s, b"abc", seq=1, number=1), tcp(c, s, b"ghi", seq=7, number=2),
              tcp(s, c, b"ok", seq=50, number=3)]
    with pytest.raises(FixtureError, match="3 bytes missing"):
        tcp_streams(frames)
    streams = tcp_streams(frames, strict=False)
    assert [(st.src, st.dst, st.data) for st in streams] == [(c, s, b"abcghi"), (s, c, b"ok")]
    assert tcp_streams(frames, port=80, strict=False) == []


def test_can_interfaces_keep_their_names_and_are_counted_after_finish() -> None:
    from wireproof.harness.replay.pcap import socketcan_frame

    d = Dissector(interface_names=["vcan7", "slcan3"])
    for n, iface in enumerate((0, 1, 0), start=1):
        d.feed(Frame(number=n, timestamp=float(n), linktype=227, data=socketcan_frame(0x123, b"\x01"),
                     original_length=16, interface=iface))
    closed = d.finish()
    assert sorted(ev.flow.client[0] for ev in closed) == ["slcan3", "vcan7"]
    assert d.stats["can_interfaces"] == 2  # before: 0 (counted from the table finish() empties)
