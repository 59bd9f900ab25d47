"""One helper that checks a codec vector every way (STYLE.md, rule 6).

:func:`check_vector` decodes the vector and compares the fields, re-encodes
and compares the bytes, frames it whole / byte by byte / followed by trailing
data, and — where the codec has a declarative oracle beside a fast path —
checks that both paths give the same message or the same error class.
It raises ``AssertionError`` with a precise message on the first mismatch.
"""

from __future__ import annotations

from typing import Any

from wireproof import errors
from wireproof.codecs import get
from wireproof.codecs._core import NEED_DATA, Codec, Framer, message_fields
from wireproof.codecs.vectors import Vector
from wireproof.errors import DecodeError

__all__ = ["assert_fields", "check_vector", "drain", "frames_of"]


def assert_fields(actual: Any, expected: Any, where: str = "") -> None:
    """``expected`` must be a subset of ``actual`` (dicts recursively, lists exactly)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key}: missing (have {sorted(actual)})"
            assert_fields(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{where}: {len(actual)} items, expected {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_fields(a, e, f"{where}[{i}]")
    elif isinstance(expected, float) and isinstance(actual, float):
        both_nan = actual != actual and expected != expected
        assert actual == expected or both_nan, f"{where}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def frames_of(codec: Codec, chunks: list[bytes]) -> list[bytes]:
    """Feed ``chunks`` to a fresh framer; return every whole frame it yields."""
    framer = codec.framer()
    out: list[bytes] = []
    for chunk in chunks:
        framer.feed(chunk)
        while (frame := framer.next_frame()) is not NEED_DATA:
            assert isinstance(frame, bytes)
            out.append(frame)
    return out


def drain(framer: Framer) -> tuple[list[bytes], int]:
    """Every frame ``framer`` yields from what it holds now, and how many framing errors it raised.

    A framer reports discarded bytes by raising and stays usable (the
    :class:`~wireproof.codecs._core.Framer` contract), so a caller that
    resynchronises keeps asking until it needs data.
    """
    frames: list[bytes] = []
    errors_seen = 0
    while True:
        try:
            frame = framer.next_frame()
        except DecodeError:
            errors_seen += 1
            continue
        if frame is NEED_DATA:
            return frames, errors_seen
        assert isinstance(frame, bytes)
        frames.append(frame)


def _error_class(name: str) -> type[DecodeError]:
    cls = getattr(errors, name, None)
    assert isinstance(cls, type) and issubclass(cls, DecodeError), f"unknown error class {name!r}"
    return cls


def _decode_outcome(fn: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "ok", fn(data)
    except DecodeError as err:
        return "error", err


def check_vector(vec: Vector) -> Any:
    """Check ``vec`` every way; return the decoded message (``None`` for error vectors)."""
    codec = get(vec.codec)
    declarative = getattr(codec, "decode_declarative", None)
    if vec.error is not None:
        cls = _error_class(vec.error)
        kind, err = _decode_outcome(codec.decode, vec.data)
        assert kind == "error", f"{vec.id}: decoded to {err!r}, expected {vec.error}"
        assert isinstance(err, cls), f"{vec.id}: raised {type(err).__name__}, expected {vec.error}: {err}"
        assert err.protocol == vec.codec or err.protocol.startswith(vec.codec.split("-")[0]), (
            f"{vec.id}: error names protocol {err.protocol!r}")
        if vec.offset is not None:
            assert err.offset == vec.offset, f"{vec.id}: offset {err.offset}, expected {vec.offset}: {err}"
        if vec.path is not None:
            assert err.path == vec.path, f"{vec.id}: path {err.path}, expected {vec.path}: {err}"
        if declarative is not None:
            kind2, err2 = _decode_outcome(declarative, vec.data)
            assert kind2 == "error" and type(err2) is type(err), (
                f"{vec.id}: declarative path gave {err2!r}, fast path {err!r}")
        return None

    msg = codec.decode(vec.data)
    assert_fields(message_fields(msg), vec.fields, vec.id)
    if vec.reencode:
        again = codec.encode(msg)
        assert again == vec.data, f"{vec.id}: re-encoded {again.hex()} != {vec.data.hex()}"
    if declarative is not None:
        assert declarative(vec.data) == msg, f"{vec.id}: declarative decode differs from fast path"
        enc_decl = getattr(codec, "encode_declarative", None)
        if enc_decl is not None and vec.reencode:
            assert enc_decl(msg) == vec.data, f"{vec.id}: declarative encode differs"
    if vec.frame:
        data = vec.data
        assert frames_of(codec, [data]) == [data], f"{vec.id}: whole-buffer framing"
        assert frames_of(codec, [data[i:i + 1] for i in range(len(data))]) == [data], (
            f"{vec.id}: byte-at-a-time framing")
        assert frames_of(codec, [data + data[:1]]) == [data], f"{vec.id}: framing with trailing data"
        assert frames_of(codec, [data + data]) == [data, data], f"{vec.id}: two frames in one chunk"
        _check_trailing(codec, vec)
    return msg


def _check_trailing(codec: Codec, vec: Vector) -> None:
    kind, err = _decode_outcome(codec.decode, vec.data + b"\x00")
    # One more byte after a whole message must never be silently accepted as
    # the same message: it is TrailingData, or (for self-checking frames such
    # as RTU/ASCII) another precise DecodeError.
    if kind == "ok":
        assert codec.encode(err) != vec.data, f"{vec.id}: trailing byte silently ignored"
