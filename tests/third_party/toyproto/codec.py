"""TOY codec, framer, correlation, a machine and a benchmark (all on wireproof's contracts)."""

from __future__ import annotations

import argparse
import enum
import json
import time
from dataclasses import dataclass
from typing import Any

from wireproof.codecs._core import NEED_DATA, BufferedFramer, NeedData
from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.errors import DecodeError, TrailingDataError, TruncatedError


@dataclass(frozen=True, slots=True, kw_only=True)
class ToyMessage:
    key: int
    payload: bytes


def frame(key: int, payload: bytes) -> bytes:
    return b"T" + bytes((key, len(payload))) + payload


class ToyFramer(BufferedFramer):
    protocol = "toy"

    def next_frame(self) -> bytes | NeedData:
        if not self._buf:
            return NEED_DATA
        if self._buf[0] != 0x54:
            self._buf.clear()
            raise DecodeError("toy", ("start",), 0, "a TOY message starts with 'T'")
        if len(self._buf) < 3 or len(self._buf) < 3 + self._buf[2]:
            return NEED_DATA
        return self._take(3 + self._buf[2])


class ToyCodec:
    name = "toy"

    def decode(self, data: bytes, direction: str | None = None) -> ToyMessage:
        if len(data) < 3:
            raise TruncatedError("toy", ("header",), len(data), "a TOY message has 3 header bytes")
        if data[0] != 0x54:
            raise DecodeError("toy", ("start",), 0, "a TOY message starts with 'T'")
        end = 3 + data[2]
        if len(data) < end:
            raise TruncatedError("toy", ("payload",), len(data), "input ends inside the payload")
        if len(data) > end:
            raise TrailingDataError("toy", (), end, "bytes after the message")
        return ToyMessage(key=data[1], payload=bytes(data[3:end]))

    def encode(self, message: ToyMessage) -> bytes:
        return frame(message.key, message.payload)

    def framer(self) -> ToyFramer:
        return ToyFramer()


class ToyCorrelation:
    protocol = "toy"
    key_name = "key"

    def framer(self) -> ToyFramer:
        return ToyFramer()

    def request_key(self, data: bytes) -> int:
        return data[1]

    answer_key = request_key

    def first_key(self) -> int:
        return 1

    def following(self, key: int) -> int:
        return key % 255 + 1

    def rekey(self, data: bytes, key: int) -> bytes:
        return data[:1] + bytes((key,)) + data[2:]

    def answer_fields(self, data: bytes) -> dict[str, Any] | None:
        try:
            return {"payload": ToyCodec().decode(data).payload.hex()}
        except DecodeError:
            return None

    def without_key(self, data: bytes) -> bytes:
        return data[:1] + data[2:]

    def describe(self, data: bytes) -> str:
        return f"TOY {data[3:].decode('ascii', 'replace')!r}"


class LinkState(enum.Enum):
    DOWN = "down"
    UP = "up"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """The local side opens the link."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Data:
    """The peer sends data (only on an open link)."""

    payload: bytes = b""


class ToyLink(Machine[LinkState]):
    TABLE = TransitionTable(name="TOY link", protocol="toy", states=LinkState, events=(Hello, Data),
                            rules={(LinkState.DOWN, Hello): Transition(LinkState.UP, "open"),
                                   (LinkState.UP, Data): Transition(LinkState.UP, "data")},
                            clause="TOY 1.1", local=(Hello,))

    def __init__(self) -> None:
        self.state = LinkState.DOWN

    @classmethod
    def in_state(cls, state: LinkState) -> ToyLink:
        link = cls()
        link.state = state
        return link

    def handle(self, event: object, role: Role) -> str:
        return self._step(event, role).action


def bench(args: argparse.Namespace) -> int:
    codec = ToyCodec()
    data = frame(1, b"hello")
    n = 2000 if args.quick else 200_000
    start = time.perf_counter()
    for _ in range(n):
        codec.decode(data)
    rate = n / (time.perf_counter() - start)
    print(json.dumps({"toy_decode_per_second": rate}) if args.json else f"TOY decode: {rate:,.0f}/s")
    return 0
