"""CAN logs: candump (can-utils) text formats, and ASC/BLF/TRC through python-can.

Normative references: can-utils ``lib.c`` (``sprint_canframe`` and
``sprint_long_canframe``) define the two candump formats read here; Linux
``include/uapi/linux/can.h`` defines ``can_frame``/``canfd_frame`` and the
id flag bits (CAN_EFF_FLAG 0x80000000, CAN_RTR_FLAG 0x40000000,
CAN_ERR_FLAG 0x20000000) and the FD flags (CANFD_BRS 1, CANFD_ESI 2).

- ``-L`` (log) format: ``(1436509052.249713) vcan0 123#DEADBEEF``. Three hex
  digits are a standard id, eight an extended one (or an error frame, with
  CAN_ERR_FLAG set). A classic frame has 0 to 8 data bytes, and after
  exactly 8 an optional ``_<dlc>`` (len8_dlc, a raw DLC of 9 to F, as
  ``parse_canframe`` reads it). ``123#R`` / ``123#R4`` is a remote frame
  (one length digit, 0 to 8; after ``8`` an optional ``_<dlc>``).
  ``123##1DEADBEEF`` is CAN FD: the digit after ``##`` is its flags, the
  data one of the lengths a CAN FD DLC can give (0-8, 12, 16, 20, 24, 32,
  48, 64; ISO 11898-1:2015 Table 5). The line may end in a direction token
  (``T``/``R``), accepted and ignored.
- default format: ``  vcan0  123   [4]  DE AD BE EF``, optionally preceded by
  a ``(timestamp)``; ``[04]`` (two digits) marks CAN FD; ``remote request``
  in place of data is a remote frame (length 0 to 8); an ASCII column
  ``'....'`` is ignored. Lines without a timestamp get 0.0.

Theory of operation: every log record becomes a frame record (:data:`~.events.Record`) of
link type 227 (LINKTYPE_CAN_SOCKETCAN) carrying the SocketCAN structure, so
the dissector sees CAN the same way whether it came from a pcap or a log.
Interface names map to interface numbers in order of first appearance
(the reader's ``interface_names``), so the flows keep the log's names.
Blank lines are skipped. A line is read with a bound (:data:`MAX_LINE`
bytes): a longer one is damage found after reading that many bytes, not
after reading the whole line into memory.

Damaged logs follow :mod:`.damage`: the first line that is not a record, or
a record with a value its format does not allow (a timestamp that is not a
finite number, a length the line contradicts), ends the log with a
:class:`~.damage.CaptureDamaged` naming its line, column and byte offset;
every frame before it has been yielded. A log's lines have no length field,
so a line cut at an even hex digit would read as a shorter frame: the last
line of a file without its newline (the writer was stopped in the middle of
it) is a frame only if its own text proves it whole (see
:func:`_complete`); otherwise it is ``truncated`` damage.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

from wireproof.errors import FixtureError
from wireproof.harness.replay.damage import CaptureDamaged, Damage, DamageKind
from wireproof.harness.replay.events import Record
from wireproof.harness.replay.pcap import LINKTYPE_CAN_SOCKETCAN, socketcan_frame

__all__ = ["DEFAULT_RE", "LOG_RE", "MAX_LINE", "looks_like_candump", "read_candump", "read_python_can"]

LOG_RE = re.compile(rb"^\((?P<ts>[0-9]+(?:\.[0-9]+)?)\)\s+(?P<iface>\S+)\s+"
                    rb"(?P<id>[0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})#(?P<body>\S*)(?:\s+(?P<dir>[TR]))?\s*$")
DEFAULT_RE = re.compile(rb"^\s*(?:\((?P<ts>[0-9]+(?:\.[0-9]+)?)\)\s+)?(?P<iface>\S+)\s+"
                        rb"(?P<id>[0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})\s+\[(?P<len>[0-9]{1,2})\]\s*"
                        rb"(?P<body>(?:[0-9A-Fa-f]{2}(?:\s+|$))*|remote request)\s*(?:'.*')?\s*$")
MAX_LINE: Final = 4096
"""The longest line read (without its newline); can-utils' own limit for a -L line is far below it."""

# The data lengths a CAN FD data length code can give (ISO 11898-1:2015, Table 5).
_FD_LENGTHS = frozenset((0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64))
_HEX = frozenset(b"0123456789abcdefABCDEF")
_REMOTE = re.compile(rb"(?P<len>[0-8])(?:_(?P<raw>[9A-Fa-f]))?")
_Parsed = tuple[int, bool, bytes, dict[str, Any], bool]  # word, extended, data, flags, provably complete


class _Sink(Protocol):
    path: Path
    bytes_read: int
    interface_names: list[str]


class _BadLine(ValueError):
    """A line that is not a record: ``column`` (1-based) points at the first thing wrong."""

    def __init__(self, column: int, reason: str, kind: DamageKind = "corrupt") -> None:
        super().__init__(reason)
        self.column = column
        self.reason = reason
        self.kind: DamageKind = kind


def looks_like_candump(head: bytes) -> bool:
    """True if the first non-blank line of ``head`` parses as either candump format."""
    for line in head.splitlines():
        if line.strip():
            return bool(LOG_RE.match(line) or DEFAULT_RE.match(line))
    return False


def _hex(text: bytes, column: int) -> bytes:
    """The bytes written as hex digits in ``text`` (no spaces: a field), which starts at ``column``."""
    try:
        return bytes.fromhex(text.decode("ascii"))
    except ValueError:  # also UnicodeDecodeError: say where (the slow path, once per damaged file)
        pass
    for i, c in enumerate(text):
        if c not in _HEX:
            raise _BadLine(column + i, f"{chr(c)!r} is not a hex digit")
    raise _BadLine(column + len(text), f"odd number of hex digits ({len(text)})")


def _parse_log(m: re.Match[bytes]) -> _Parsed:
    word = int(m["id"], 16)
    extended = len(m["id"]) == 8
    body = m["body"]
    col = m.start("body") + 1
    # A trailing direction token proves that the frame before it is whole.
    whole = m["dir"] is not None
    if body.startswith(b"#"):  # CAN FD: ##<flags><data>
        if len(body) < 2 or body[1] not in _HEX:
            raise _BadLine(col + 1, "CAN FD frame without its flags digit")
        flags = int(body[1:2], 16)
        data = _hex(body[2:], col + 2)
        if len(data) not in _FD_LENGTHS:
            raise _BadLine(col + 2, f"CAN FD frame of {len(data)} bytes: no CAN FD length code gives it "
                                    "(0-8, 12, 16, 20, 24, 32, 48 or 64)")
        return (word, extended, data, {"fd": True, "brs": bool(flags & 1), "esi": bool(flags & 2)},
                whole or len(data) == 64)
    if body[:1] in (b"R", b"r"):
        rest = body[1:]
        dlc = 0
        if rest:
            r = _REMOTE.fullmatch(rest)
            if r is None or (r["raw"] is not None and r["len"] != b"8"):
                raise _BadLine(col + 1, f"remote frame length {rest[:16].decode('ascii', 'replace')!r}: "
                                        "one digit, 0 to 8 (after 8 a raw DLC _9 to _F)")
            dlc = int(r["len"])
        return word, extended, b"", {"remote": True, "dlc": dlc}, whole or bool(rest)
    text, raw, raw_dlc = body.partition(b"_")
    data = _hex(text, col)
    if len(data) > 8:
        raise _BadLine(col + 16, f"classic CAN frame of {len(data)} bytes (at most 8)")
    if raw and (len(data) != 8 or len(raw_dlc) != 1 or raw_dlc not in b"9ABCDEFabcdef"):
        # len8_dlc: a raw DLC of 9..15 says "8 data bytes"; anything else contradicts the data
        raise _BadLine(col + len(text), "a raw DLC (_9 to _F) may only follow exactly 8 data bytes")
    return word, extended, data, {}, whole or len(data) == 8


def _parse_default(m: re.Match[bytes]) -> _Parsed:
    word = int(m["id"], 16)
    extended = len(m["id"]) == 8
    fd = len(m["len"]) == 2
    length = int(m["len"])
    if m["body"] == b"remote request":
        if fd or length > 8:
            raise _BadLine(m.start("len") + 1, f"remote frame of length [{m['len'].decode()}] "
                                               "(classic CAN only, 0 to 8)")
        return word, extended, b"", {"remote": True, "dlc": length}, True
    data = bytes.fromhex(m["body"].decode())
    if len(data) != length:
        raise _BadLine(m.start("body") + 1, f"length [{length}] but {len(data)} data bytes")
    if (fd and length not in _FD_LENGTHS) or (not fd and length > 8):
        raise _BadLine(m.start("len") + 1, f"length [{m['len'].decode()}] is not a "
                                           f"{'CAN FD' if fd else 'classic CAN'} length")
    return word, extended, data, {"fd": fd}, True  # the line states its length: a cut shows


def read_candump(sink: _Sink, f: BinaryIO) -> Iterator[Record]:
    """Every frame of a candump log (either format, decided per line); damage ends it (module docstring)."""
    ifaces: dict[bytes, int] = {}
    number = 0
    lineno = 0
    offset = 0
    readline = f.readline

    def damaged(kind: DamageKind, reason: str, column: int | None) -> CaptureDamaged:
        return CaptureDamaged(sink.path, Damage(kind=kind, format="candump", offset=start, reason=reason,
                                                frames_before=number, line=lineno, column=column))

    while True:
        line = readline(MAX_LINE + 1)  # bounded: a huge line costs MAX_LINE bytes, not its length
        if not line:
            return
        lineno += 1
        start = offset
        offset += len(line)
        sink.bytes_read = offset
        ended = line.endswith(b"\n")
        if not ended and len(line) > MAX_LINE:
            raise damaged("corrupt", f"the line is longer than {MAX_LINE} bytes: not a candump record",
                          MAX_LINE + 1)
        if not line.strip():
            continue
        m = LOG_RE.match(line)
        parse = _parse_log
        if m is None:
            m = DEFAULT_RE.match(line)
            parse = _parse_default
        try:
            if m is None:
                raise _BadLine(1, "not a candump record")
            word, extended, data, flags, whole = parse(m)
            ts = 0.0
            if m["ts"]:
                ts = float(m["ts"])
                if not math.isfinite(ts):
                    raise _BadLine(m.start("ts") + 1, f"the timestamp ({len(m['ts'])} characters) is not a "
                                                      "finite number", "invalid")
        except _BadLine as exc:
            if not ended:
                raise damaged("truncated", f"the file ends inside this line, which is not a whole record "
                                           f"({exc.reason})", exc.column) from None
            raise damaged(exc.kind, exc.reason, exc.column) from None
        if not ended and not whole:
            raise damaged("truncated", "the file ends inside this line, without its newline, and the line "
                                       "does not prove the frame whole (it may be a longer line cut short)",
                          len(line.rstrip()) + 1)
        error = bool(word & 0x20000000)
        can_id = word & (0x1FFFFFFF if extended else 0x7FF)
        iface = m["iface"]
        if iface not in ifaces:
            ifaces[iface] = len(ifaces)
            sink.interface_names.append(iface.decode("utf-8", "replace"))
        raw = socketcan_frame(can_id, data, extended=extended and not error, error=error, **flags)
        number += 1
        yield number, ts, LINKTYPE_CAN_SOCKETCAN, raw, ifaces[iface], len(raw), None


def read_python_can(sink: _Sink) -> Iterator[Record]:
    """Every message of an ASC, BLF or TRC log read by python-can's readers.

    :class:`FixtureError` if python-can is not installed or cannot read the
    log's first message (not a log it reads); a failure after that, or a
    timestamp that is not a finite number, is damage (:mod:`.damage`; python-can
    does not say where in the file it was, so the damage counts the frames
    before it).
    """
    try:
        can = importlib.import_module("can")  # optional: imported by name so type checking does not need it
    except ImportError:
        raise FixtureError(f"{sink.path}: reading this format needs python-can (pip install python-can)") \
            from None
    ifaces: dict[str, int] = {}
    number = 0
    suffix = sink.path.suffix.lower()
    is_blf = suffix != ".asc" and suffix != ".trc"
    fmt = "blf" if is_blf else suffix.lstrip(".")
    # The reader classes get a file this function owns, so it is closed even when python-can fails.
    reader_class = can.BLFReader if is_blf else can.ASCReader if suffix == ".asc" else can.TRCReader
    f = sink.path.open("rb") if is_blf else sink.path.open("r", encoding="utf-8", errors="replace")
    try:
        for msg in reader_class(f):
            ts = float(msg.timestamp)
            if not math.isfinite(ts):
                raise CaptureDamaged(sink.path, Damage(
                    kind="invalid", format=fmt, offset=None, frames_before=number,
                    reason=f"message {number + 1}: timestamp {ts} is not a finite number"))
            name = "can" if msg.channel is None else str(msg.channel)
            if name not in ifaces:
                ifaces[name] = len(ifaces)
                sink.interface_names.append(name)
            data = bytes(msg.data) if not msg.is_remote_frame else b""
            raw = socketcan_frame(msg.arbitration_id, data, extended=bool(msg.is_extended_id),
                                  remote=bool(msg.is_remote_frame), error=bool(msg.is_error_frame),
                                  fd=bool(msg.is_fd), brs=bool(msg.bitrate_switch),
                                  esi=bool(msg.error_state_indicator),
                                  dlc=int(msg.dlc) if msg.is_remote_frame else None)
            number += 1
            yield number, ts, LINKTYPE_CAN_SOCKETCAN, raw, ifaces[name], len(raw), None
    except FixtureError:
        raise
    except Exception as exc:  # python-can raises assorted builtins on a bad file
        if not number:
            raise FixtureError(f"{sink.path}: python-can could not read the log: {exc!r}") from None
        raise CaptureDamaged(sink.path, Damage(
            kind="corrupt", format=fmt, offset=None, frames_before=number,
            reason=f"python-can could not read on: {exc!r}"[:300])) from None
    finally:
        f.close()
        sink.bytes_read = sink.path.stat().st_size if sink.path.exists() else sink.bytes_read
