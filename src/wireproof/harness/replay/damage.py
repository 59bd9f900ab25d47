"""Damaged captures: one policy for every reader (pcap, pcapng, candump, ASC/BLF/TRC).

A capture is *damaged* when its format was recognised (the magic, the first
record line) but something after that breaks it: the file ends inside a
record (its writer was killed), a length field or block structure is
impossible, a text line is not a record, or a record carries a value its
format does not allow (a timestamp that is not a finite number, a remote
frame asking for more than 8 bytes). A file whose format cannot be
recognised at all is not damaged but unreadable: a
:class:`~wireproof.errors.FixtureError` before anything is read (exit
``USAGE``).

The policy, the same for every reader:

1. **Everything before the damage is analysed and reported.** The reader
   yields every record that precedes the damaged one, exactly as it would
   from the undamaged file, and then stops.
2. **No frame is invented.** The damaged record, and everything after it,
   is not yielded: not a shortened frame from a cut line, not a frame
   re-synchronised from garbage. A candump line is a frame only if it is
   whole: a last line without its newline is taken only when its own text
   proves it complete (``[len]`` in the default format, eight data bytes
   of a classic frame, 64 of an FD frame, a remote frame's length digit, a
   direction token); anything else may be a longer line cut short.
3. **The damage is one finding with its place.** :class:`Damage` says what
   (``kind``: :data:`KINDS`), where (``offset``, the byte offset in the file
   of the damaged record or line; and for text formats ``line`` and
   ``column``, 1-based), why (``reason``), and how many frames came before
   it. The replay turns it into one ``capture.<kind>`` finding of severity
   ``warning``, ``ReplayResult.damage``, the ``damage`` object of the
   ``wireproof.replay/1`` JSON, a line of the text summary and a banner of
   the HTML report.
4. **The exit code says so.** ``wireproof replay`` exits ``FAIL`` (1) when
   the part read has a finding of severity error (a fault seen is a fault),
   otherwise ``INCOMPLETE`` (3) for a damaged capture, never ``OK``.

The readers report damage by raising :class:`CaptureDamaged` (a
``FixtureError`` carrying the :class:`Damage`) from their generator, which
ends it; :class:`~.capture.CaptureReader` either lets it through
(``on_damage="raise"``, for fixtures that must be clean) or records it on
``reader.damage`` and ends the iteration (``on_damage="stop"``, what replay
uses).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from wireproof.errors import FixtureError

__all__ = ["KINDS", "CaptureDamaged", "Damage", "DamageKind"]

DamageKind = Literal["truncated", "corrupt", "invalid"]
KINDS: Final[tuple[DamageKind, ...]] = ("truncated", "corrupt", "invalid")
"""``truncated``: the file ends inside a record; ``corrupt``: the structure is broken (a length,
a block, a line that is not a record); ``invalid``: a well-formed record with a value its format
does not allow."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Damage:
    """Where and how a capture is damaged (see the module docstring)."""

    kind: DamageKind
    format: str
    offset: int | None  # byte offset in the file of the damaged record or line (None: the reader cannot say)
    reason: str
    frames_before: int = 0  # frames yielded before the damage
    line: int | None = None  # text formats: 1-based line number ...
    column: int | None = None  # ... and 1-based column, when the reader can point at one

    def where(self) -> str:
        """``"line 3, column 12 (byte 57)"``, ``"byte 1024"``, or ``"after frame 7"``."""
        if self.line is not None:
            text = f"line {self.line}" + (f", column {self.column}" if self.column is not None else "")
            return text + (f" (byte {self.offset})" if self.offset is not None else "")
        if self.offset is not None:
            return f"byte {self.offset}"
        return f"after frame {self.frames_before}"

    def describe(self) -> str:
        """One line for people: ``"truncated capture at byte 1024: the last record is cut short"``."""
        return f"{self.kind} capture at {self.where()}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        """The ``damage`` object of ``wireproof.replay/1``."""
        return {"kind": self.kind, "format": self.format, "offset": self.offset, "line": self.line,
                "column": self.column, "reason": self.reason, "frames_before": self.frames_before,
                "message": self.describe()}


class CaptureDamaged(FixtureError):
    """A damaged capture (see the module docstring); ``damage`` says where and how."""

    def __init__(self, path: str | Path, damage: Damage) -> None:
        self.path = str(path)
        self.damage = damage
        super().__init__(f"{path}: {damage.describe()}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.damage))
