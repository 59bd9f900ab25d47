"""The one exception tree of wireproof (DESIGN.md, "Contracts").

Every failure a caller can see is a :class:`WireproofError`.  Where a builtin
base class fits, the error also derives from it, so ``except ValueError`` or
``except TimeoutError`` in user code keeps working.  Errors are data: each
carries the fields a report needs (protocol, path, offset, reason, clause),
and ``str(err)`` renders them for people.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "ChecksumError",
    "DecodeError",
    "EncodeError",
    "FixtureError",
    "HarnessError",
    "InvariantViolation",
    "LocalProtocolError",
    "ProtocolViolation",
    "RemoteProtocolError",
    "TrailingDataError",
    "TransportError",
    "TransportTimeout",
    "TruncatedError",
    "WireproofError",
    "hex_excerpt",
]

EXCERPT_RADIUS = 32  # bytes shown either side of an error's offset: enough to see the fields around it

Path = tuple[str | int, ...]


def _render_path(path: Path) -> str:
    return ".".join(str(p) for p in path) if path else "<root>"


class WireproofError(Exception):
    """Base class of every error wireproof raises."""


class DecodeError(WireproofError, ValueError):
    """Bytes that are not a valid message.

    ``protocol`` is a codec name (``"modbus-tcp"``), ``path`` the field path
    inside the message (``("pdu", "quantity")``), ``offset`` the byte offset in
    the decoded buffer where the problem was proven, ``reason`` a sentence.
    """

    def __init__(self, protocol: str, path: Sequence[str | int], offset: int, reason: str) -> None:
        self.protocol = protocol
        self.path: Path = tuple(path)
        self.offset = offset
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.protocol}: {_render_path(self.path)} at byte {self.offset}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.protocol, self.path, self.offset, self.reason))

    def excerpt(self, data: bytes | bytearray, *, radius: int = EXCERPT_RADIUS, width: int = 32) -> list[str]:
        """The decoded bytes around :attr:`offset` for people: :func:`hex_excerpt` of ``data``.

        The error keeps no copy of its input (a megabyte message would make a
        megabyte error); a caller that has the input shows it with this, and
        sees a window, not the whole input.
        """
        return hex_excerpt(data, self.offset, radius=radius, width=width)


def hex_excerpt(data: bytes | bytearray, offset: int, *, radius: int = EXCERPT_RADIUS,
                width: int = 32) -> list[str]:
    """``data`` around byte ``offset`` as hex rows (``width`` bytes each, labelled with their
    offset), ``^^`` under that byte, and ``…`` lines counting the bytes left out.

    At most ``radius`` bytes either side of ``offset`` are shown, however
    long ``data`` is. An offset at or past the end (truncated input) puts the
    caret just after the last byte, marked ``(end of input)``.
    """
    n = len(data)
    pos = min(max(offset, 0), n)
    start = max(0, pos - radius)
    stop = min(n, pos + radius + 1)
    rows = range(start, max(stop, start + 1), width)
    lines = [f"… {start} byte{'s' if start != 1 else ''} before"] if start else []
    for row in rows:
        lines.append(f"{row:04x}  " + " ".join(f"{b:02x}" for b in data[row:min(row + width, stop)]))
        if (row <= pos < row + width and pos < n) or (pos >= n and row == rows[-1]):
            tail = " (end of input)" if offset >= n else ""
            lines.append(" " * (6 + 3 * (pos - row)) + "^^" + tail)
    if stop < n:
        lines.append(f"… {n - stop} byte{'s' if n - stop != 1 else ''} after ({n} in all)")
    return lines


class TruncatedError(DecodeError):
    """The input ends before the message does."""


class ChecksumError(DecodeError):
    """A CRC, LRC or checksum does not match the bytes it covers."""


class TrailingDataError(DecodeError):
    """A whole message was decoded and bytes are left over."""


class EncodeError(WireproofError, ValueError):
    """A message that cannot be encoded (a field out of its spec bounds, ...)."""

    def __init__(self, protocol: str, path: Sequence[str | int], reason: str) -> None:
        self.protocol = protocol
        self.path: Path = tuple(path)
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.protocol}: {_render_path(self.path)}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.protocol, self.path, self.reason))


class ProtocolViolation(WireproofError):
    """A protocol rule was broken; ``clause`` cites the rule."""

    def __init__(self, reason: str, *, clause: str = "", protocol: str = "") -> None:
        self.reason = reason
        self.clause = clause
        self.protocol = protocol
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"[{self.clause}] " if self.clause else ""
        proto = f"{self.protocol}: " if self.protocol else ""
        return f"{proto}{where}{self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_violation, (type(self), self.reason, self.clause, self.protocol))


def _rebuild_violation(
    cls: type[ProtocolViolation], reason: str, clause: str, protocol: str
) -> ProtocolViolation:
    return cls(reason, clause=clause, protocol=protocol)


class LocalProtocolError(ProtocolViolation):
    """We were asked to do something the protocol forbids."""


class RemoteProtocolError(ProtocolViolation):
    """The peer did something the protocol forbids."""


class InvariantViolation(WireproofError, AssertionError):
    """A safety invariant failed in a (seeded, reproducible) run."""

    def __init__(self, reason: str, *, seed: int | None = None, trace: Sequence[Any] = ()) -> None:
        self.reason = reason
        self.seed = seed
        self.trace = list(trace)
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.reason} (seed={self.seed}, {len(self.trace)} trace steps)"


class HarnessError(WireproofError):
    """The harness itself failed (not the implementation under test)."""


class TransportError(HarnessError, OSError):
    """A transport could not connect, read or write."""


class TransportTimeout(TransportError, TimeoutError):
    """A transport operation did not complete in time."""


class FixtureError(HarnessError, ValueError):
    """A fixture, vector, profile or capture file is unreadable or invalid."""
