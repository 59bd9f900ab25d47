"""The RTU framer's hunt against an oracle: valid frames between garbage that cannot start one.

Garbage opens with a header of fixed length whose CRC is wrong (in sync,
an unknown function code would be scanned for any agreeing CRC: MB-SL
2.5.1.1 ambiguity, not a fault), then holds only bytes that, read as a
function code, have no length rule (and no exception bit); the frames'
unit addresses are such bytes too: no other offset inside the garbage, and
none straddling its end, can be taken for a frame. So whatever the chunking, the framer must deliver
exactly the embedded frames, in order, each as soon as its last byte has
arrived, and report the garbage before each as one error (issue 9:
resynchronisation must never lose or invent a frame, and must not wait for
bytes it does not need). Scanned function codes (08, 43 other than 14) are
left out: after garbage their length is not decidable (MB-SL 2.5.1.1).
"""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from wireproof.codecs.modbus import crc16
from wireproof.codecs.modbus.framers import RtuFramer
from wireproof.codecs.testing import drain

# Bytes with no RTU length rule as a function code, below 0x80 (MB-AP 5.1 leaves them
# unassigned or user-defined): neither garbage nor an address can start a frame.
NO_RULE = [0x00, 0x09, 0x0A, 0x0D, 0x0E, 0x12, 0x13, 0x19, 0x1A, 0x1F, 0x21, 0x30, 0x41, 0x64, 0x7F]


def _frame(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "little")


unit = st.sampled_from(NO_RULE)
word = st.binary(min_size=2, max_size=2)


@st.composite
def request(draw: st.DrawFn) -> bytes:
    a = draw(unit)
    kind = draw(st.sampled_from(["read", "write1", "write16", "write15", "rw23", "devid", "short"]))
    if kind == "read":
        return _frame(bytes([a, draw(st.sampled_from([1, 2, 3, 4]))]) + draw(word) + draw(word))
    if kind == "write1":
        return _frame(bytes([a, draw(st.sampled_from([5, 6]))]) + draw(word) + draw(word))
    if kind == "write16":
        n = draw(st.integers(0, 123))
        return _frame(
            bytes([a, 0x10])
            + draw(word)
            + draw(word)
            + bytes([2 * n])
            + draw(st.binary(min_size=2 * n, max_size=2 * n))
        )
    if kind == "write15":
        n = draw(st.integers(0, 246))
        return _frame(
            bytes([a, 0x0F]) + draw(word) + draw(word) + bytes([n]) + draw(st.binary(min_size=n, max_size=n))
        )
    if kind == "rw23":
        n = draw(st.integers(0, 121))
        return _frame(
            bytes([a, 0x17])
            + draw(st.binary(min_size=8, max_size=8))
            + bytes([2 * n])
            + draw(st.binary(min_size=2 * n, max_size=2 * n))
        )
    if kind == "devid":
        return _frame(bytes([a, 0x2B, 0x0E]) + draw(st.binary(min_size=2, max_size=2)))
    return _frame(bytes([a, draw(st.sampled_from([0x07, 0x0B, 0x0C, 0x11]))]))


REQUEST_FIXED = {1: 8, 2: 8, 3: 8, 4: 8, 5: 8, 6: 8, 7: 4, 0x0B: 4, 0x0C: 4, 0x11: 4}
RESPONSE_FIXED = {5: 8, 6: 8, 0x0F: 8, 0x10: 8, 7: 5, 0x0B: 8}


def _garbage(fixed: dict[int, int]) -> st.SearchStrategy[bytes]:
    head = st.tuples(unit, st.sampled_from(sorted(fixed))).map(bytes)
    return st.tuples(head, st.lists(st.sampled_from(NO_RULE), max_size=40).map(bytes)).map(b"".join)


def _no_false_head(parts: list[tuple[bytes, bytes]], fixed: dict[int, int]) -> bool:
    """No garbage head's fixed-length window ends in an agreeing CRC (1 in 65,536: left out)."""
    stream, at = b"".join(g + f for g, f in parts), 0
    for g, f in parts:
        if g:
            n = fixed[g[1]]
            window = stream[at:at + n]
            if len(window) == n and crc16(window[:-2]) == window[-2] | window[-1] << 8:
                return False
        at += len(g) + len(f)
    return True


@settings(max_examples=300)
@given(st.lists(st.tuples(st.one_of(st.just(b""), _garbage(REQUEST_FIXED)), request()),
                min_size=1, max_size=6), st.data())
def test_every_frame_after_garbage_arrives_whole_and_on_time(
    parts: list[tuple[bytes, bytes]], data: st.DataObject
) -> None:
    assume(_no_false_head(parts, REQUEST_FIXED))
    stream = b"".join(g + f for g, f in parts)
    ends, at = [], 0
    for g, f in parts:
        at += len(g) + len(f)
        ends.append(at)
    cuts = (
        sorted(set(data.draw(st.lists(st.integers(1, len(stream) - 1), max_size=12))))
        if len(stream) > 1
        else []
    )
    framer = RtuFramer(direction="request")
    got: list[tuple[bytes, int]] = []
    errors = 0
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        framer.feed(stream[a:b])
        frames, bad = drain(framer)
        got += [(frame, b) for frame in frames]
        errors += bad
    assert [f for f, _ in got] == [f for _, f in parts]
    for (_, when), end in zip(got, ends, strict=True):
        # delivered with the chunk that completed it
        assert when == min(c for c in [*cuts, len(stream)] if c >= end)
    runs = sum(1 for g, _ in parts if g)
    assert runs <= errors <= runs + len(cuts)  # each run said; a chunk boundary may split a report


@st.composite
def response(draw: st.DrawFn) -> bytes:
    a = draw(unit)
    kind = draw(st.sampled_from(["read", "fifo", "write", "exception"]))
    if kind == "read":
        n = draw(st.integers(0, 250))
        fc = draw(st.sampled_from([1, 2, 3, 4]))
        return _frame(bytes([a, fc, n]) + draw(st.binary(min_size=n, max_size=n)))
    if kind == "fifo":  # MB-AP 6.18: a 16-bit byte count, then the FIFO count and values
        n = draw(st.integers(0, 31))
        count = 2 + 2 * n
        return _frame(bytes([a, 0x18]) + count.to_bytes(2, "big") + n.to_bytes(2, "big")
                      + draw(st.binary(min_size=2 * n, max_size=2 * n)))
    if kind == "write":
        return _frame(bytes([a, draw(st.sampled_from([5, 6, 0x0F, 0x10]))]) + draw(word) + draw(word))
    return _frame(bytes([a, draw(st.sampled_from([0x81, 0x83, 0x90])), draw(st.integers(1, 11))]))


@settings(max_examples=200)
@given(st.lists(st.tuples(st.one_of(st.just(b""), _garbage(RESPONSE_FIXED)), response()),
                min_size=1, max_size=6), st.lists(st.integers(1, 64), max_size=12))
def test_every_response_after_garbage_arrives_whole(parts: list[tuple[bytes, bytes]],
                                                    sizes: list[int]) -> None:
    assume(_no_false_head(parts, RESPONSE_FIXED))
    stream = b"".join(g + f for g, f in parts)
    framer = RtuFramer(direction="response")
    got: list[bytes] = []
    errors, at = 0, 0
    for size in [*sizes, len(stream)]:
        framer.feed(stream[at:at + size])
        at += size
        frames, bad = drain(framer)
        got += frames
        errors += bad
    assert got == [f for _, f in parts]
    runs = sum(1 for g, _ in parts if g)
    assert runs <= errors <= runs + len(sizes)  # each run said; a chunk boundary may split a report
