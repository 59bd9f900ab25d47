"""TOY passive analyzer: counts messages; an answer that is not the upper-cased request is a finding."""

from __future__ import annotations

from toyproto.codec import ToyCodec, ToyFramer
from wireproof.codecs._analysis import FlowContext, Sink, make_finding
from wireproof.codecs._pairing import PAIR, Pairing
from wireproof.errors import DecodeError


def looks_like_toy(data: bytes, from_client: bool) -> bool | None:
    if not data:
        return None
    return data[:1] == b"T"


class ToyAnalyzer:
    def __init__(self, flow: FlowContext, sink: Sink) -> None:
        self.flow, self.sink = flow, sink
        self.framers = {True: ToyFramer(), False: ToyFramer()}
        self.pairing: Pairing[int, bytes] = Pairing()
        self.codec = ToyCodec()

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        framer = self.framers[from_client]
        framer.feed(data)
        while True:
            try:
                message = framer.next_frame()
            except DecodeError as err:
                self.sink.finding(make_finding(self.flow, frame=frame, ts=ts, rule="toy.framing",
                                               clause="TOY 1", severity="error", message=err.reason))
                return
            if not isinstance(message, bytes):
                return
            decoded = self.codec.decode(message)
            self.sink.message("toy", "request" if from_client else "answer", frame, ts)
            if from_client:
                self.pairing.open(decoded.key, decoded.payload)
                continue
            action, asked = self.pairing.answer(decoded.key)
            if action == PAIR and asked is not None and decoded.payload != asked.upper():
                self.sink.finding(make_finding(self.flow, frame=frame, ts=ts, rule="toy.wrong-answer",
                                               clause="TOY 2", severity="error",
                                               message=f"{asked!r} answered with {decoded.payload!r}"))

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None:
        self.framers[from_client].clear()

    def on_datagram(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        self.on_data(from_client, data, frame, ts)

    def on_close(self, frame: int, ts: float, how: str) -> None:
        for key in list(self.pairing):
            self.sink.finding(make_finding(self.flow, frame=frame, ts=ts, rule="toy.unanswered",
                                           clause="TOY 2", severity="warning",
                                           message=f"key {key} never answered"))
