"""The dnp3-outstation suite's probe connection, offline: crafted frames, the evidence view, bounded input.

``raw_frame`` builds what the codec refuses to (an undefined link function)
with the right CRCs, and agrees with the codec where both can; ``describe``
(the decoded column of the evidence) says what any octets are, never
raising; ``Transcript`` records one entry per link frame.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.conformance.dnp3_outstation._connection import Transcript, corrupt, describe, raw_frame


class Sink:
    def __init__(self) -> None:
        self.entries: list[tuple[str, bytes, str]] = []

    def sent(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None:
        self.entries.append(("sent", data, decoded))

    def received(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None:
        self.entries.append(("received", data, decoded))

    def connected(self, connection: str, *, local: str, remote: str, note: str = "") -> None:
        pass

    def closed(self, connection: str, note: str = "") -> None:
        pass

    def note(self, text: str) -> None:
        self.entries.append(("note", b"", text))


@given(
    st.sampled_from(list(PrimaryFunction)),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.binary(max_size=250),
)
def test_raw_frame_agrees_with_the_codec(function: PrimaryFunction, dest: int, src: int, data: bytes) -> None:
    frame = LinkFrame(dir=True, prm=True, function=function, destination=dest, source=src, user_data=data)
    assert raw_frame(0xC0 | function, dest, src, data) == encode_link(frame)


def test_raw_frame_carries_an_undefined_function() -> None:
    frame = raw_frame(0xC5, 10, 1)
    assert "primary function code 5 is not defined" in describe(frame)
    assert "link.function at octet 3" in describe(frame)


def test_corrupt_breaks_exactly_one_crc() -> None:
    frame = encode_link(
        LinkFrame(
            dir=True,
            prm=True,
            function=PrimaryFunction.UNCONFIRMED_USER_DATA,
            destination=10,
            source=1,
            user_data=bytes(20),
        )
    )
    assert "header CRC" in describe(corrupt(frame, 8))
    assert "user-data block 1" in describe(corrupt(frame, len(frame) - 1))
    decode_link(frame)


@given(st.binary(max_size=400))
def test_describe_never_raises(data: bytes) -> None:
    assert isinstance(describe(data), str)


def test_transcript_one_entry_per_frame() -> None:
    sink: Any = Sink()
    transcript = Transcript(sink, "connection 1")
    a = raw_frame(0xC9, 10, 1)
    b = raw_frame(0xC0, 10, 1)
    transcript.sent(a + b)
    transcript.sent(b"\x05\x65junk")
    assert [e[1] for e in sink.entries] == [a, b, b"\x05\x65junk"]
    assert "REQUEST_LINK_STATUS" in sink.entries[0][2] and "RESET_LINK_STATES" in sink.entries[1][2]
    assert "frame as no link frame" in sink.entries[2][2]


def test_transcript_bounds_received_entries() -> None:
    from wireproof.conformance.dnp3_outstation._connection import MAX_RECEIVED_ENTRIES

    sink: Any = Sink()
    transcript = Transcript(sink, "c")
    for _ in range(MAX_RECEIVED_ENTRIES + 500):
        transcript.received(b"\x05\x64", "x")
    received = [e for e in sink.entries if e[0] == "received"]
    assert len(received) == MAX_RECEIVED_ENTRIES
    notes = [e[2] for e in sink.entries if e[0] == "note"]
    assert len(notes) == 1 and notes[0].startswith("[c] more than")
    assert transcript.unrecorded == 1000
