"""Hypothesis: arbitrary bytes as a capture file or as a frame never raise anything unexpected.

A file gives frames or a FixtureError; a frame of any link type gives events
(Malformed among them), never an exception. Arbitrary and mutated traffic on
each registered analyzer's port, replayed by the engine, never makes an
analyzer raise: the engine would turn that into a ``replay.analyzer-error``
finding and go on, so the test looks for that finding (an analyzer crash is a
bug, whatever the traffic).
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wireproof.errors import FixtureError
from wireproof.harness.fixtures import load_vectors, vector_files
from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.dissector import Dissector
from wireproof.harness.replay.events import (
    CanMessage,
    Datagram,
    Event,
    FlowClosed,
    FlowOpened,
    Frame,
    Malformed,
    StreamAnomaly,
    StreamData,
    StreamGap,
)
from wireproof.harness.replay.pcap import (
    PCAP_MAGICS,
    PCAPNG_MAGIC,
    build_tcp_frame,
    pcapng_section,
    write_pcap,
)
from wireproof.harness.replay.result import ReplayResult
from wireproof.harness.replay.run import replay
from wireproof.protocol import REGISTRY, AnalyzerEntry

LINKTYPES = [0, 1, 101, 108, 113, 227, 228, 229, 276, 147]
GOOD_NG = pcapng_section([], [])
TEMPLATE = build_tcp_frame(b"\x00\x01\x00\x00\x00\x02\x01\x07", src=("10.0.0.1", 40000),
                           dst=("10.0.0.2", 502), seq=1)

prefixes = st.sampled_from([b"", *PCAP_MAGICS, PCAPNG_MAGIC, GOOD_NG, b"(1.0) can0 123#",
                            struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)])


EVENT_TYPES = (FlowOpened, StreamData, StreamGap, StreamAnomaly, FlowClosed, Datagram, CanMessage, Malformed)


def _check_events(events: list[Event], last_frame: int) -> None:
    """Events are the dissector's own types, each naming a frame that was read."""
    for ev in events:
        assert isinstance(ev, EVENT_TYPES), ev
        assert 1 <= ev.frame <= last_frame or (last_frame == 0 and ev.frame == 0), (ev, last_frame)


def _read(path: Path) -> None:
    try:
        reader = iter_capture(path, on_truncation="stop")
        d = Dissector(interface_names=reader.interface_names)
        numbers: list[int] = []

        def frames() -> Iterator[Frame]:
            for frame in reader:
                numbers.append(frame.number)
                yield frame

        events = list(d.dissect(frames()))
    except FixtureError:
        return
    assert numbers == list(range(1, len(numbers) + 1))  # numbered from 1, as Wireshark numbers them
    _check_events(events, len(numbers))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=prefixes, body=st.binary(max_size=600), suffix=st.sampled_from(["bin", "log", "pcapng"]))
def test_arbitrary_file(tmp_path: Path, prefix: bytes, body: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz.{suffix}"
    path.write_bytes(prefix + body)
    _read(path)


@settings(max_examples=400, deadline=None)
@given(linktype=st.sampled_from(LINKTYPES), data=st.binary(max_size=120))
def test_arbitrary_frame(linktype: int, data: bytes) -> None:
    d = Dissector()
    events = d.feed(Frame(number=1, timestamp=0.0, linktype=linktype, data=data, original_length=len(data)))
    _check_events(events + d.finish(), 1)


@settings(max_examples=400, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, len(TEMPLATE) - 1), st.integers(0, 255)), min_size=1,
                      max_size=6), cut=st.integers(0, len(TEMPLATE)))
def test_mutated_ethernet_ipv4_tcp_frame(flips: list[tuple[int, int]], cut: int) -> None:
    """Near-valid frames reach deep into the IP and TCP code (and the fast path)."""
    data = bytearray(TEMPLATE)
    for pos, value in flips:
        data[pos] = value
    d = Dissector()
    events: list[Event] = []
    for n in range(3):  # twice the same, then truncated: retransmission and fast-path state
        raw = bytes(data if n < 2 else data[:cut])
        frame = Frame(number=n + 1, timestamp=float(n), linktype=1, data=raw, original_length=len(raw))
        events += d.feed(frame)
    _check_events(events + d.finish(), 3)


# --- the engine, with each registered stream analyzer behind it ------------------------------------------

ANALYZER_ERROR = "replay.analyzer-error"


def assert_no_analyzer_error(result: ReplayResult) -> None:
    """An analyzer that raised is a harness bug, not a verdict on the traffic (engine docstring)."""
    crashes = [f"frame {f.frame}: {f.message}" for f in result.findings if f.rule == ANALYZER_ERROR]
    assert result.collector.by_rule[ANALYZER_ERROR] == 0, crashes


def _stream_analyzers() -> list[tuple[AnalyzerEntry, list[bytes]]]:
    """Each analyzer of a TCP protocol on a known port, with its protocol's vectors as mutation seeds."""
    out = []
    for d in REGISTRY.descriptors():
        seeds = [v.data for f in vector_files(d) for v in load_vectors(f)]
        out += [(a, seeds) for a in d.analyzers if a.analyzer and a.ports and "tcp" in a.transports]
    return out


STREAM_ANALYZERS = _stream_analyzers()


@st.composite
def payloads(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """Arbitrary bytes, or a protocol vector cut, flipped and glued to another (near-valid traffic)."""
    if not seeds or draw(st.booleans()):
        return draw(st.binary(min_size=1, max_size=300))
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 3))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    data = data[:draw(st.integers(0, len(data)))] + draw(st.sampled_from([b"", *seeds]))
    return bytes(data) or b"\x00"


def test_stream_analyzers_registered() -> None:
    assert STREAM_ANALYZERS, "no registered protocol has a TCP analyzer on a known port"


@pytest.mark.parametrize(("entry", "seeds"), STREAM_ANALYZERS, ids=[a.name for a, _ in STREAM_ANALYZERS])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_analyzer_never_raises(entry: AnalyzerEntry, seeds: list[bytes], data: st.DataObject) -> None:
    client, server = ("10.0.0.9", 40000), ("10.0.0.3", entry.ports[0])
    seq = {True: 1000, False: 9000}
    frames: list[tuple[float, bytes]] = []
    t = 1000.0
    for from_client in (True, False, True):  # handshake: SYN, SYN+ACK, ACK
        flags = 0x10 if len(frames) == 2 else (0x02 if from_client else 0x12)
        src, dst = (client, server) if from_client else (server, client)
        frames.append((t, build_tcp_frame(b"", src=src, dst=dst, seq=seq[from_client] - (flags & 0x02 and 1),
                                          ack=seq[not from_client], flags=flags)))
    steps = data.draw(st.lists(st.tuples(st.booleans(), payloads(seeds), st.sampled_from([0.001, 0.01, 5.0])),
                               min_size=1, max_size=8))
    for from_client, payload, dt in steps:
        t += dt
        src, dst = (client, server) if from_client else (server, client)
        frames.append((t, build_tcp_frame(payload, src=src, dst=dst, seq=seq[from_client],
                                          ack=seq[not from_client])))
        seq[from_client] += len(payload)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "fuzz.pcap"
        write_pcap(path, frames)
        result = replay(path, analytics=False)
    assert [(f.protocol, f.status) for f in result.flows] == [(entry.name, "analysed")]
    assert_no_analyzer_error(result)


def test_an_analyzer_crash_is_caught() -> None:
    """The check above can fail: a finding with the analyzer-error rule trips it."""
    from wireproof.harness.replay.findings import Finding

    result = ReplayResult(file="x")
    result.collector(Finding(frame=4, timestamp=0.0, flow="f", protocol="p", rule=ANALYZER_ERROR,
                             clause="", severity="error", message="ZeroDivisionError: boom"))
    with pytest.raises(AssertionError, match="boom"):
        assert_no_analyzer_error(result)
