"""Modbus/TCP request/answer correlation for ``replay --send`` (pure).

MB-TCP 3.1.3: "the MODBUS server copies in the response the transaction
identifier of the request" — the transaction id (the first two bytes of the
MBAP header) is the key; requests are re-keyed 1, 2, ..., 65535, 1, ...
(the contract: :mod:`wireproof.codecs._correlation`). Answers are compared
by unit id and PDU fields; an answer that does not decode is compared by
its bytes after the transaction id.
"""

from __future__ import annotations

from typing import Any

from wireproof.codecs._core import message_fields
from wireproof.codecs.modbus.adu import TcpCodec
from wireproof.codecs.modbus.framers import TcpFramer
from wireproof.errors import DecodeError

__all__ = ["TcpCorrelation"]


class TcpCorrelation:
    """Modbus/TCP: keyed by the MBAP transaction id."""

    protocol = "modbus-tcp"
    key_name = "transaction id"

    def __init__(self) -> None:
        self._codec = TcpCodec()

    def framer(self) -> TcpFramer:
        return TcpFramer()

    def request_key(self, frame: bytes) -> int:
        return frame[0] << 8 | frame[1]

    answer_key = request_key

    def first_key(self) -> int:
        return 1

    def following(self, key: int) -> int:
        return key % 0xFFFF + 1

    def rekey(self, frame: bytes, key: int) -> bytes:
        return key.to_bytes(2, "big") + frame[2:]

    def answer_fields(self, frame: bytes) -> dict[str, Any] | None:
        try:
            decoded = self._codec.decode_response(frame)
        except DecodeError:
            return None
        return {"unit_id": decoded.unit_id, "pdu": message_fields(decoded.pdu)}

    def without_key(self, frame: bytes) -> bytes:
        return frame[2:]

    def describe(self, frame: bytes) -> str:
        try:
            decoded = self._codec.decode_request(frame)
        except DecodeError as err:
            return f"undecodable request ({err.reason}): {frame.hex()}"
        fields = message_fields(decoded.pdu)
        name = fields.pop("type")
        args = ", ".join(f"{k}={v}" for k, v in fields.items())
        text = f"unit {decoded.unit_id} {name}({args})"
        return text if len(text) <= 160 else text[:157] + "..."
