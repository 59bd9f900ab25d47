"""One MBAP framer, three ways of framing, one answer (DESIGN.md, "Fast paths").

The TCP framer (:class:`~wireproof.codecs.modbus.framers.TcpFramer`), the
passive replay analyzer's path through it (its whole-ADU fast path included)
and the declarative oracle (:func:`~wireproof.codecs.modbus.formats.frames_declarative`,
Construct's :data:`MBAP_FRAME`) must agree on any stream cut into any chunks:
the same ADUs in the same order, and the first unframeable header at the
same place. (After that first error each goes on its own way by design: the
framer drops what it held, the analyzer resynchronises — or, when the header
is otherwise Modbus and the bytes confirm a length beyond 254, frames it as an
oversized ADU: :mod:`wireproof.codecs._resync`.)
"""

from __future__ import annotations

import itertools
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs._analysis import Finding, FlowContext
from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.modbus.analyzer import ModbusTcpAnalyzer
from wireproof.codecs.modbus.formats import frames_declarative
from wireproof.codecs.modbus.framers import TcpFramer
from wireproof.errors import DecodeError

FLOW = FlowContext(transport="tcp", client="10.0.0.9:3082", server="10.0.0.3:502", label="c -> s",
                   protocol="modbus-tcp", values=False)


@st.composite
def adus(draw: st.DrawFn) -> bytes:
    """A whole ADU by its MBAP length (mostly protocol id 0, a plausible PDU or random bytes)."""
    pdus = [bytes.fromhex(h) for h in ("0300000001", "03006b0003", "0601000003", "8302", "2b0e0100")]
    body = draw(st.one_of(st.sampled_from(pdus), st.binary(min_size=1, max_size=12)))
    pid = draw(st.sampled_from([0, 0, 0, 0, 1]))
    tid, unit = draw(st.integers(0, 0xFFFF)), draw(st.integers(0, 255))
    return struct.pack(">HHHB", tid, pid, len(body) + 1, unit) + body


# A length outside 2..254 (MB-TCP 3.1.3), alone or followed by as many bytes as it announces.
bad_headers = st.builds(lambda tid, n, whole: struct.pack(">HHH", tid, 0, n) + bytes(n * whole),
                        st.integers(0, 0xFFFF), st.sampled_from([0, 1, 255, 256, 300]), st.booleans())
items = st.lists(st.one_of(adus(), adus(), adus(), bad_headers), max_size=8)


def cuts(data: bytes, draw: Any) -> list[bytes]:
    points = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=6))))
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def by_framer(chunks: list[bytes]) -> tuple[list[bytes], bool, int]:
    framer = TcpFramer()
    frames: list[bytes] = []
    for chunk in chunks:
        framer.feed(chunk)
        while True:
            try:
                frame = framer.next_frame()
            except DecodeError:
                return frames, True, 0
            if frame is NEED_DATA:
                break
            assert isinstance(frame, bytes)
            frames.append(frame)
    return frames, False, framer.buffered


class _Recorder:
    """A sink that keeps, in order, what the analyzer made of each ADU it framed.

    Every whole ADU becomes exactly one event: a counted message (its kind),
    or, for a foreign protocol id, a ``modbus.protocol-id`` finding. (The
    analyzer is a compiled class in the compiled build: it is observed
    through its sink, not subclassed.)
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []
        self.unframeable = False  # a length outside 2..254: rejected, or framed as oversized

    def finding(self, finding: Finding) -> None:
        if self.unframeable:
            return
        if finding.rule == "modbus.protocol-id":
            self.events.append(("protocol-id", finding.hex))
        elif finding.rule in ("modbus.mbap-length", "modbus.oversized-adu"):
            self.unframeable = True

    def message(self, protocol: str, function: str, frame: int, timestamp: float) -> None:
        if not self.unframeable:
            self.events.append(("message", function))

    def decode_error(self, protocol: str) -> None: ...

    def value(self, *args: Any) -> None: ...

    def statistic(self, *args: Any) -> None: ...


def by_analyzer(chunks: list[bytes]) -> tuple[list[tuple[str, str]], bool]:
    """The events of the analyzer fed ``chunks``, up to its first unframeable header."""
    sink = _Recorder()
    analyzer = ModbusTcpAnalyzer(FLOW, sink)
    for i, chunk in enumerate(chunks):
        analyzer.on_data(True, chunk, i + 1, float(i))
        if sink.unframeable:
            break
    return sink.events, sink.unframeable


def events_of(frames: list[bytes]) -> list[tuple[str, str]]:
    """What the analyzer makes of each ADU alone (a fresh analyzer each: framing is not in question)."""
    events: list[tuple[str, str]] = []
    for frame in frames:
        events += by_analyzer([frame])[0]
    return events


@settings(max_examples=400)
@given(parts=items, data=st.data())
def test_the_framer_the_analyzer_and_the_oracle_agree(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    # a segment per message (as most captures carry them), or cut anywhere
    chunks = [p for p in parts if p] if data.draw(st.booleans(), label="aligned") else cuts(stream, data.draw)
    oracle, error_at, tail = frames_declarative(stream)
    framed, framer_error, held = by_framer(chunks)
    assert framed == oracle
    assert framer_error == (error_at is not None)
    if error_at is None:
        assert held == tail
    analysed, analyzer_error = by_analyzer(chunks)
    assert analysed == events_of(oracle)
    # A length beyond 254 with protocol id 0 may be a vendor's oversized ADU: the analyzer frames it
    # when the bytes confirm it, and waits while they might (wireproof.codecs._resync).
    oversized = error_at is not None and stream[error_at + 2:error_at + 4] == b"\0\0" \
        and int.from_bytes(stream[error_at + 4:error_at + 6], "big") > 254
    assert analyzer_error == (error_at is not None) or oversized


def test_the_oracle_is_exact() -> None:
    one = bytes.fromhex("000100000006010300000001")
    assert frames_declarative(one + one[:5]) == ([one], None, 5)
    assert frames_declarative(one + bytes.fromhex("000200000100")) == ([one], 12, 0)
    assert frames_declarative(bytes.fromhex("0001000000")) == ([], None, 5)
