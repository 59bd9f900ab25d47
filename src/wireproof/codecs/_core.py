"""Codec core: the contracts every protocol package implements.

- :data:`NEED_DATA` — what a framer returns when it holds no whole frame yet.
- :class:`Framer` — stream bytes in, whole frames out, bounded buffer; raises
  :class:`~wireproof.errors.DecodeError` as soon as a header proves the stream
  invalid ("incomplete" and "invalid" are different answers).
- :class:`Codec` — ``decode(bytes) -> message``, ``encode(message) -> bytes``.
- :func:`guarded` — runs a parser and turns every Construct/struct/builtin
  failure into a ``DecodeError`` with protocol, field path and byte offset.
- :func:`message_fields` — a message as plain data (for JSON, TOML vectors).
- :func:`fast_constructor` — a positional constructor for frozen slotted
  messages, for hand-written fast paths (defined in :mod:`._fast`, which the
  compiled wheel compiles; the fast paths import it from there, without
  Construct).
"""

from __future__ import annotations

import dataclasses
import enum
import io
import struct
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar, runtime_checkable

from wireproof.codecs._fast import fast_constructor
from wireproof.errors import DecodeError, TrailingDataError, TruncatedError

if TYPE_CHECKING:  # Construct is imported where it is used: a replay (fast paths only) never loads it
    import construct

__all__ = [
    "NEED_DATA",
    "Codec",
    "Framer",
    "NeedData",
    "construct_parse",
    "fast_constructor",
    "guarded",
    "message_fields",
]

T = TypeVar("T")


class NeedData(enum.Enum):
    """Sentinel type: the framer needs more bytes before it can say more."""

    NEED_DATA = "NEED_DATA"

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData.NEED_DATA


@runtime_checkable
class Framer(Protocol):
    """Stream bytes -> whole frames (DESIGN.md, layer 2).

    ``feed`` appends bytes (raising ``DecodeError`` if the buffer would pass
    ``max_buffer``); ``next_frame`` returns one whole frame as ``bytes`` or
    ``NEED_DATA``, and raises ``DecodeError`` as soon as the buffered bytes
    prove the stream invalid. After an error the offending bytes have been
    discarded, so the caller may go on (or close, as the protocol demands).
    """

    max_buffer: int

    def feed(self, data: bytes) -> None: ...

    def next_frame(self) -> bytes | NeedData: ...

    @property
    def buffered(self) -> int: ...


@runtime_checkable
class Codec(Protocol):
    """A named codec as the registry hands it out.

    ``decode`` takes a ``direction`` when the protocol's messages do not say
    which way they go (a Modbus PDU): the values it accepts are declared in
    the codec's descriptor entry (:attr:`wireproof.protocol.CodecEntry.directions`),
    and callers pass one only to a codec that declares them.
    """

    name: str

    def decode(self, data: bytes) -> Any: ...

    def encode(self, message: Any) -> bytes: ...

    def framer(self) -> Framer: ...


class BufferedFramer:
    """Shared buffer handling for framers: bounded, with a read cursor."""

    protocol: str = "?"

    def __init__(self, *, max_buffer: int = 64 * 1024) -> None:
        self.max_buffer = max_buffer
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        if len(self._buf) + len(data) > self.max_buffer:
            size = len(self._buf)
            self._buf.clear()
            raise DecodeError(
                self.protocol, ("stream",), size,
                f"framer buffer would exceed {self.max_buffer} bytes; buffer discarded",
            )
        self._buf += data

    def peek(self, n: int) -> bytes:
        """The first ``n`` buffered bytes (for evidence), left in the buffer."""
        return bytes(self._buf[:n])

    def clear(self) -> None:
        """Drop whatever is buffered."""
        self._buf.clear()

    def _take(self, n: int) -> bytes:
        frame = bytes(self._buf[:n])
        del self._buf[:n]
        return frame

    def _drop(self, n: int) -> None:
        del self._buf[:n]


def _construct_path(err: construct.ConstructError) -> tuple[str, ...]:
    path = getattr(err, "path", None) or ""
    parts = [p.strip() for p in str(path).split("->")]
    return tuple(p for p in parts if p and not p.startswith("("))


def construct_parse(protocol: str, fmt: construct.Construct, data: bytes, *, whole: bool = True,
                    path_prefix: tuple[str | int, ...] = (), base_offset: int = 0) -> Any:
    """Parse ``data`` with a Construct format; map every failure to DecodeError.

    The byte offset is the stream position when parsing stopped, the field path
    comes from Construct's own path. With ``whole`` true, unread bytes are a
    ``TrailingDataError``.
    """
    import construct

    stream = io.BytesIO(data)
    try:
        value = fmt.parse_stream(stream)
    except construct.StreamError as err:
        raise TruncatedError(protocol, path_prefix + _construct_path(err), base_offset + len(data),
                             "input ends before the message does") from None
    except construct.ConstructError as err:
        msg = str(err).split("\n", 1)[-1]
        raise DecodeError(protocol, path_prefix + _construct_path(err), base_offset + stream.tell(),
                          msg) from None
    if whole and stream.tell() != len(data):
        raise TrailingDataError(protocol, path_prefix, base_offset + stream.tell(),
                                f"{len(data) - stream.tell()} bytes after the end of the message")
    return value


def guarded(protocol: str, fn: Callable[[bytes], T], data: bytes) -> T:
    """Run decoder ``fn`` on ``data``; nothing but a ``DecodeError`` escapes.

    Decoders should raise precise ``DecodeError``s themselves; this is the net
    under them for the failures they did not foresee (struct.error,
    IndexError, ...), reported at offset 0 of the root.
    """
    try:
        return fn(data)
    except DecodeError:
        raise
    except Exception as err:
        import construct  # only now (see the imports)

        if isinstance(err, construct.ConstructError):
            raise DecodeError(protocol, _construct_path(err), 0, str(err).split("\n", 1)[-1]) from None
        if isinstance(err, (struct.error, IndexError, KeyError, ValueError, TypeError, OverflowError,
                            UnicodeDecodeError, AttributeError)):
            raise DecodeError(protocol, (), 0, f"{type(err).__name__}: {err}") from None
        raise


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return message_fields(value)
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def message_fields(message: Any) -> dict[str, Any]:
    """A message dataclass as plain data: ``{"type": ClassName, field: value, ...}``.

    Nested messages become dicts, enums their names, bytes hex strings. This is
    what ``wireproof decode --json`` prints and what TOML vectors compare with.
    """
    if not (dataclasses.is_dataclass(message) and not isinstance(message, type)):
        raise TypeError(f"not a message dataclass: {message!r}")
    out: dict[str, Any] = {"type": type(message).__name__}
    for f in dataclasses.fields(message):
        out[f.name] = _plain(getattr(message, f.name))
    return out
