"""wireproof.codecs._core.fast_constructor: the one positional constructor of the fast paths.

The Modbus PDU/ADU decoders and the capture replay's events build their
frozen messages with it; whatever it builds must be indistinguishable from
what the class's own constructor builds.
"""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import FrozenInstanceError, dataclass, field
from typing import Any

import pytest

from wireproof.codecs._core import fast_constructor
from wireproof.codecs.modbus import messages as M
from wireproof.harness.replay import events


@dataclass(frozen=True, slots=True, kw_only=True)
class Base:
    a: int
    b: str = "b"


@dataclass(frozen=True, slots=True, kw_only=True)
class Derived(Base):
    c: tuple[int, ...] = ()
    d: frozenset[int] = field(default_factory=frozenset)


def _same(made: Any, expected: Any) -> None:
    _same_frozen(made, expected)
    assert pickle.loads(pickle.dumps(made)) == expected


def test_builds_what_the_class_builds() -> None:
    make = fast_constructor(Base)
    _same(make(1, "x"), Base(a=1, b="x"))
    # Inherited fields come first, as dataclasses.fields orders them; defaults are not applied.
    _same(fast_constructor(Derived)(1, "x", (2,), frozenset({3})),
          Derived(a=1, b="x", c=(2,), d=frozenset({3})))


@pytest.mark.parametrize("args", [(), (1,), (1, "x", 2)])
def test_every_field_positionally(args: tuple[Any, ...]) -> None:
    make = fast_constructor(Base)
    with pytest.raises(TypeError):
        make(*args)


def test_refuses_what_it_cannot_build_faithfully() -> None:
    @dataclass(frozen=True)
    class NotSlotted:
        a: int

    @dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            raise ValueError("checked")

    class Plain:
        __slots__ = ("a",)

    with pytest.raises(TypeError, match="not a slot"):
        fast_constructor(NotSlotted)
    with pytest.raises(TypeError, match="__post_init__"):
        fast_constructor(Checked)
    with pytest.raises(TypeError):
        fast_constructor(Plain)


@pytest.mark.parametrize("n", range(13))
def test_every_arity(n: int) -> None:
    # Some arities have an unrolled constructor of their own, the others the general one: all alike.
    cls = dataclasses.make_dataclass(f"F{n}", [(f"f{i}", int) for i in range(n)],
                                     frozen=True, slots=True, kw_only=True)
    values = list(range(100, 100 + n))
    made: Any = fast_constructor(cls)(*values)
    assert type(made) is cls and made == cls(**{f"f{i}": v for i, v in enumerate(values)})
    assert [getattr(made, f"f{i}") for i in range(n)] == values
    for wrong in ([*values, 0], values[:-1] if n else None):
        if wrong is not None:
            with pytest.raises(TypeError):
                fast_constructor(cls)(*wrong)


# The users: one shared copy, and what each of them builds is what the class builds.

def _example(cls: type, values: dict[str, Any]) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    made: Any = fast_constructor(cls)(*(values[n] for n in names))
    _same_frozen(made, cls(**values))


def _same_frozen(made: Any, expected: Any) -> None:
    assert type(made) is type(expected) and made == expected and repr(made) == repr(expected)
    assert hash(made) == hash(expected)
    name = dataclasses.fields(made)[0].name
    with pytest.raises(FrozenInstanceError):
        setattr(made, name, None)


def test_the_replay_events_use_the_shared_copy() -> None:
    assert events.fast_constructor is fast_constructor
    frame = (7, 1.5, 1, b"\x00\x01", 0, 2, None)
    _same_frozen(events.new_frame(*frame), events.Frame(number=7, timestamp=1.5, linktype=1, data=b"\x00\x01",
                                                        interface=0, original_length=2, comment=None))
    flow = events.FlowKey(transport="tcp", client=("10.0.0.1", 40000), server=("10.0.0.2", 502))
    _same_frozen(events.new_stream_data(flow, True, b"ab", 3, 2.0),
                 events.StreamData(flow=flow, from_client=True, data=b"ab", frame=3, timestamp=2.0))
    _same_frozen(events.new_datagram(flow, False, b"c", 4, 2.5),
                 events.Datagram(flow=flow, from_client=False, data=b"c", frame=4, timestamp=2.5))


def test_the_modbus_fast_path_builds_what_the_classes_build() -> None:
    from wireproof.codecs import get

    _example(M.ReadHoldingRegistersRequest, {"start_address": 107, "quantity": 3})
    _example(M.ReadHoldingRegistersResponse, {"values": (1, 2, 3)})
    tcp = get("modbus-tcp")
    adu = tcp.decode(bytes.fromhex("0001 0000 0006 11 03 006b 0003".replace(" ", "")),  # type: ignore[call-arg]
                     direction="request")
    expected = M.TcpAdu(transaction_id=1, unit_id=0x11, protocol_id=0,
                        pdu=M.ReadHoldingRegistersRequest(start_address=107, quantity=3))
    _same_frozen(adu, expected)
    _same_frozen(adu.pdu, expected.pdu)
