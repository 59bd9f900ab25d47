"""Hypothesis: arbitrary bytes as a capture file or as a frame never raise anything unexpected.

A file gives frames or a FixtureError; a frame of any link type gives events
(Malformed among them), never an exception.
"""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wireproof.errors import FixtureError
from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.dissector import Dissector
from wireproof.harness.replay.events import Frame
from wireproof.harness.replay.pcap import PCAP_MAGICS, PCAPNG_MAGIC, build_tcp_frame, pcapng_section

LINKTYPES = [0, 1, 101, 108, 113, 227, 228, 229, 276, 147]
GOOD_NG = pcapng_section([], [])
TEMPLATE = build_tcp_frame(b"\x00\x01\x00\x00\x00\x02\x01\x07", src=("10.0.0.1", 40000),
                           dst=("10.0.0.2", 502), seq=1)

prefixes = st.sampled_from([b"", *PCAP_MAGICS, PCAPNG_MAGIC, GOOD_NG, b"(1.0) can0 123#",
                            struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)])


def _read(path: Path) -> None:
    try:
        reader = iter_capture(path, on_truncation="stop")
        d = Dissector(interface_names=reader.interface_names)
        for _ev in d.dissect(reader):
            pass
    except FixtureError:
        pass


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
    d.feed(Frame(number=1, timestamp=0.0, linktype=linktype, data=data, original_length=len(data)))
    d.finish()


@settings(max_examples=400, deadline=None)
@given(flips=st.lists(st.tuples(st.integers(0, len(TEMPLATE) - 1), st.integers(0, 255)), min_size=1,
                      max_size=6), cut=st.integers(0, len(TEMPLATE)))
def test_mutated_ethernet_ipv4_tcp_frame(flips: list[tuple[int, int]], cut: int) -> None:
    """Near-valid frames reach deep into the IP and TCP code (and the fast path)."""
    data = bytearray(TEMPLATE)
    for pos, value in flips:
        data[pos] = value
    d = Dissector()
    for n in range(3):  # twice the same, then truncated: retransmission and fast-path state
        raw = bytes(data if n < 2 else data[:cut])
        d.feed(Frame(number=n + 1, timestamp=float(n), linktype=1, data=raw, original_length=len(raw)))
    d.finish()
