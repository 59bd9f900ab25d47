"""Consensus wire format: MessagePack values with a type registry, length-prefixed frames."""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wireproof.codecs._core import NEED_DATA
from wireproof.consensus import paxos
from wireproof.consensus.api import Committed, Envelope, Reply
from wireproof.errors import DecodeError, EncodeError
from wireproof.harness.consensus.wire import (
    FrameDecoder,
    Registry,
    WireCodec,
    default_codec,
    frame,
    wire_name,
)


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class Inner:
    a: int
    b: Any = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Outer:
    inner: Inner
    items: tuple[Any, ...] = ()
    color: Color = Color.RED


CODEC = default_codec([Color, Level, Inner, Outer])


def typed(v: Any) -> Any:
    """A comparable form that also distinguishes types (True vs 1, IntEnum vs int, tuple vs list)."""
    if isinstance(v, tuple):
        return ("tuple", tuple(typed(x) for x in v))
    if isinstance(v, frozenset):
        return ("frozenset", frozenset(typed(x) for x in v))
    if isinstance(v, dict):
        return ("dict", frozenset((typed(k), typed(x)) for k, x in v.items()))
    if hasattr(v, "__dataclass_fields__"):
        return (type(v), tuple((f, typed(getattr(v, f))) for f in v.__dataclass_fields__))
    return (type(v), v)


hashables = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(1 << 70), max_value=1 << 70) | st.text(max_size=8)
    | st.binary(max_size=8) | st.sampled_from(list(Color) + list(Level)),
    lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3)
    | st.builds(Inner, a=st.integers(-5, 5), b=inner),
    max_leaves=8,
)
values = st.recursive(
    hashables | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4).map(tuple)
    | st.dictionaries(hashables, inner, max_size=3)
    | st.builds(Outer, inner=st.builds(Inner, a=st.integers(), b=inner),
                items=st.lists(inner, max_size=3).map(tuple))
    | st.builds(Envelope, src=st.integers(0, 4), dst=st.integers(0, 4), message=inner)
    | st.builds(Committed, slot=st.integers(0, 1 << 40), value=inner)
    | st.builds(Reply, request_id=hashables, result=inner),
    max_leaves=12,
)
ballots = st.builds(paxos.Ballot, round=st.integers(0, 1 << 40), node=st.integers(0, 6))
paxos_messages = st.one_of(
    st.builds(paxos.Prepare, ballot=ballots),
    st.builds(paxos.Accept, ballot=ballots, value=hashables),
    st.builds(paxos.Accepted, ballot=ballots, value=hashables),
    st.builds(paxos.Nack, ballot=ballots, promised=ballots),
)


@given(values)
def test_round_trip(value: Any) -> None:
    assert typed(CODEC.decode(CODEC.encode(value))) == typed(value)


@given(st.builds(Envelope, src=st.integers(0, 4), dst=st.integers(0, 4), message=paxos_messages))
def test_algorithm_messages_round_trip(env: Envelope) -> None:
    assert CODEC.decode(CODEC.encode(env)) == env


def test_multipaxos_and_kv_messages_round_trip() -> None:
    from wireproof.consensus import kv
    from wireproof.consensus import multipaxos as mp

    ballot = paxos.Ballot(round=3, node=1)
    cmd = kv.KvCommand(request_id=7, client=2, op="cas", key="x", value=4, expected=None)
    for msg in (mp.Prepare(ballot=ballot, from_slot=5),
                mp.Promise(ballot=ballot, from_slot=0, votes=(paxos.Vote(slot=0, ballot=ballot, value=cmd),)),
                mp.Accept(ballot=ballot, slot=9, value=cmd, commit=8),
                mp.Accept(ballot=ballot, slot=9, value=paxos.NOOP, commit=8),
                mp.Decided(entries=((1, cmd), (2, paxos.NOOP)))):
        assert CODEC.decode(CODEC.encode(Envelope(src=0, dst=1, message=msg))).message == msg
    # Two Prepare classes, two wire names.
    assert wire_name(mp.Prepare) != wire_name(paxos.Prepare)


@given(st.lists(values, max_size=4), st.integers(1, 7))
def test_frames_whole_and_in_pieces(messages: list[Any], piece: int) -> None:
    stream = b"".join(CODEC.frame(m) for m in messages)
    whole = [CODEC.decode(f) for f in FrameDecoder().frames(stream)]
    assert [typed(m) for m in whole] == [typed(m) for m in messages]
    framer = FrameDecoder()
    got: list[bytes] = []
    for i in range(0, len(stream), piece):
        got.extend(framer.frames(stream[i:i + piece]))
    assert [typed(CODEC.decode(f)) for f in got] == [typed(m) for m in messages]
    assert framer.buffered == 0


def test_int_enum_stays_an_enum_and_list_becomes_tuple() -> None:
    assert CODEC.decode(CODEC.encode(Level.HIGH)) is Level.HIGH
    assert CODEC.decode(CODEC.encode([1, [2]])) == (1, (2,))


def test_truncated_frame_needs_data() -> None:
    data = frame(b"\x01\x02\x03")
    framer = FrameDecoder()
    framer.feed(data[:5])
    assert framer.next_frame() is NEED_DATA
    framer.feed(data[5:])
    assert framer.next_frame() == b"\x01\x02\x03"


def test_oversized_frame_is_rejected_before_its_body_arrives() -> None:
    framer = FrameDecoder(max_frame=1000)
    framer.feed(struct.pack(">I", 1001))
    with pytest.raises(DecodeError, match="over the 1000 limit") as err:
        framer.next_frame()
    assert err.value.path == ("length",)
    assert framer.buffered == 0


def _ext(code: int, payload: Any) -> bytes:
    return msgpack.packb(msgpack.ExtType(code, msgpack.packb(payload, use_bin_type=True)), use_bin_type=True)


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "bad MessagePack"),
    (b"\xc1", "bad MessagePack"),  # never used
    (b"\x92\x01", "bad MessagePack"),  # array of 2, one item
    (b"\x01\x02", "1 bytes after the value"),
    (_ext(1, ["nowhere.Unknown", {}]), "unknown type 'nowhere.Unknown'"),
    (_ext(1, ["test_wire.Inner", {"a": 1, "c": 2}]), "fields do not match"),
    (_ext(1, ["test_wire.Inner", [1]]), "not a map of names"),
    (_ext(1, ["test_wire.Inner"]), "1 items, not 2"),
    (_ext(1, 5), "not an array"),
    (_ext(2, ["test_wire.Color", "green"]), "not a member"),
    (_ext(2, ["test_wire.Inner", 1]), "not an Enum"),
    (_ext(1, ["test_wire.Color", {}]), "not a dataclass"),
    (msgpack.packb(msgpack.ExtType(4, b"12x"), use_bin_type=True), "not a decimal integer"),
    (msgpack.packb(msgpack.ExtType(99, b""), use_bin_type=True), "unknown extension type 99"),
])
def test_bad_payloads_are_decode_errors(data: bytes, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason) as err:
        CODEC.decode(data)
    assert err.value.protocol == "consensus-wire"


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    try:
        CODEC.decode(data)
    except DecodeError as err:
        # Errors are data: the codec's name, and a byte offset inside the input.
        assert err.protocol == "consensus-wire" and 0 <= err.offset <= len(data), err


def test_unregistered_types_are_encode_errors() -> None:
    codec = WireCodec(Registry([Inner]))
    with pytest.raises(EncodeError, match="not in the wire registry"):
        codec.encode(Outer(inner=Inner(a=1)))
    with pytest.raises(EncodeError, match="cannot put a object"):
        codec.encode(object())
    with pytest.raises(EncodeError, match="limit"):
        WireCodec(Registry(), max_frame=10).encode(b"x" * 20)


def test_registry_refuses_two_classes_with_one_wire_name() -> None:
    @dataclass(frozen=True)
    class Inner:  # same module, same qualified name as the module-level Inner? no: "test_...<locals>.Inner"
        a: int

    reg = Registry([Inner])
    assert wire_name(Inner).endswith("<locals>.Inner")
    Clash = type("Inner", (), {"__module__": Inner.__module__, "__qualname__": Inner.__qualname__})
    with pytest.raises(TypeError):
        reg.register(Clash)
    with pytest.raises(ValueError, match="two classes"):
        reg.register(dataclass(frozen=True)(Clash))
