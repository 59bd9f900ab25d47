"""CAN logs: candump (can-utils) text formats, and ASC/BLF/TRC through python-can.

Normative references: can-utils ``lib.c`` (``sprint_canframe`` and
``sprint_long_canframe``) define the two candump formats read here; Linux
``include/uapi/linux/can.h`` defines ``can_frame``/``canfd_frame`` and the
id flag bits (CAN_EFF_FLAG 0x80000000, CAN_RTR_FLAG 0x40000000,
CAN_ERR_FLAG 0x20000000) and the FD flags (CANFD_BRS 1, CANFD_ESI 2).

- ``-L`` (log) format: ``(1436509052.249713) vcan0 123#DEADBEEF``. Three hex
  digits are a standard id, eight an extended one (or an error frame, with
  CAN_ERR_FLAG set). ``123#R`` / ``123#R4`` is a remote frame (requesting 4
  bytes); ``123##1DEADBEEF`` is CAN FD, the digit after ``##`` its flags. A
  classic frame may end in ``_<dlc>`` (len8_dlc) and the line in a direction
  token (``T``/``R``); both are accepted and ignored.
- default format: ``  vcan0  123   [4]  DE AD BE EF``, optionally preceded by
  a ``(timestamp)``; ``[04]`` (two digits) marks CAN FD; ``remote request``
  in place of data is a remote frame; an ASCII column ``'....'`` is ignored.
  Lines without a timestamp get 0.0.

Theory of operation: every log record becomes a frame record (:data:`~.events.Record`) of
link type 227 (LINKTYPE_CAN_SOCKETCAN) carrying the SocketCAN structure, so
the dissector sees CAN the same way whether it came from a pcap or a log.
Interface names map to interface numbers in order of first appearance
(the reader's ``interface_names``). Blank lines are skipped; any other line
that does not parse is a :class:`~wireproof.errors.FixtureError` naming the
line (a text log has no length fields to lose sync on: a bad line is a bad
file, not a bad frame).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from wireproof.errors import FixtureError
from wireproof.harness.replay.events import Record
from wireproof.harness.replay.pcap import LINKTYPE_CAN_SOCKETCAN, socketcan_frame

__all__ = ["LOG_RE", "DEFAULT_RE", "looks_like_candump", "read_candump", "read_python_can"]

LOG_RE = re.compile(rb"^\((?P<ts>[0-9]+(?:\.[0-9]+)?)\)\s+(?P<iface>\S+)\s+"
                    rb"(?P<id>[0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})#(?P<body>\S*)(?:\s+[TR])?\s*$")
DEFAULT_RE = re.compile(rb"^\s*(?:\((?P<ts>[0-9]+(?:\.[0-9]+)?)\)\s+)?(?P<iface>\S+)\s+"
                        rb"(?P<id>[0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})\s+\[(?P<len>[0-9]{1,2})\]\s*"
                        rb"(?P<body>(?:[0-9A-Fa-f]{2}(?:\s+|$))*|remote request)\s*(?:'.*')?\s*$")
_MAX_LINE = 4096


class _Sink(Protocol):
    path: Path
    bytes_read: int
    interface_names: list[str]


def looks_like_candump(head: bytes) -> bool:
    """True if the first non-blank line of ``head`` parses as either candump format."""
    for line in head.splitlines():
        if line.strip():
            return bool(LOG_RE.match(line) or DEFAULT_RE.match(line))
    return False


def _parse_log(m: re.Match[bytes]) -> tuple[int, bool, bytes, dict[str, Any]]:
    word = int(m["id"], 16)
    extended = len(m["id"]) == 8
    body = m["body"]
    if body.startswith(b"#"):  # CAN FD: ##<flags><data>
        if len(body) < 2:
            raise ValueError("CAN FD frame without its flags digit")
        flags = int(body[1:2], 16)
        data = bytes.fromhex(body[2:].decode())
        if len(data) > 64:
            raise ValueError(f"CAN FD frame of {len(data)} bytes (at most 64)")
        return word, extended, data, {"fd": True, "brs": bool(flags & 1), "esi": bool(flags & 2)}
    if body[:1] in (b"R", b"r"):
        dlc = int(body[1:], 16) if len(body) > 1 else 0
        return word, extended, b"", {"remote": True, "dlc": dlc}
    if b"_" in body:  # len8_dlc suffix: the data length code of a classic frame with more than 8
        body = body.split(b"_", 1)[0]
    data = bytes.fromhex(body.decode())
    if len(data) > 8:
        raise ValueError(f"classic CAN frame of {len(data)} bytes (at most 8)")
    return word, extended, data, {}


def _parse_default(m: re.Match[bytes]) -> tuple[int, bool, bytes, dict[str, Any]]:
    word = int(m["id"], 16)
    extended = len(m["id"]) == 8
    fd = len(m["len"]) == 2
    length = int(m["len"])
    if m["body"] == b"remote request":
        return word, extended, b"", {"remote": True, "dlc": length}
    data = bytes.fromhex(m["body"].decode())
    if len(data) != length or len(data) > (64 if fd else 8):
        raise ValueError(f"length [{length}] but {len(data)} data bytes")
    return word, extended, data, {"fd": fd}


def read_candump(sink: _Sink, f: BinaryIO) -> Iterator[Record]:
    """Every frame of a candump log (either format, decided per line)."""
    ifaces: dict[bytes, int] = {}
    number = 0
    for lineno, line in enumerate(f, start=1):
        sink.bytes_read += len(line)
        if not line.strip():
            continue
        if len(line) > _MAX_LINE:
            raise FixtureError(f"{sink.path}: line {lineno} is {len(line)} bytes long: not a candump log")
        m = LOG_RE.match(line)
        parse = _parse_log
        if m is None:
            m = DEFAULT_RE.match(line)
            parse = _parse_default
        if m is None:
            raise FixtureError(f"{sink.path}: line {lineno} is not a candump record: {line[:80]!r}")
        try:
            word, extended, data, flags = parse(m)
        except ValueError as exc:
            raise FixtureError(f"{sink.path}: line {lineno}: {exc}") from None
        error = bool(word & 0x20000000)
        can_id = word & (0x1FFFFFFF if extended else 0x7FF)
        iface = m["iface"]
        if iface not in ifaces:
            ifaces[iface] = len(ifaces)
            sink.interface_names.append(iface.decode("utf-8", "replace"))
        raw = socketcan_frame(can_id, data, extended=extended and not error, error=error, **flags)
        number += 1
        ts = float(m["ts"]) if m["ts"] else 0.0
        yield number, ts, LINKTYPE_CAN_SOCKETCAN, raw, ifaces[iface], len(raw), None


def read_python_can(sink: _Sink) -> Iterator[Record]:
    """Every message of an ASC, BLF or TRC log read by python-can's readers.

    :class:`FixtureError` if python-can is not installed or cannot parse the file.
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
    # The reader classes get a file this function owns, so it is closed even when python-can fails.
    reader_class = can.BLFReader if is_blf else can.ASCReader if suffix == ".asc" else can.TRCReader
    f = sink.path.open("rb") if is_blf else sink.path.open("r", encoding="utf-8", errors="replace")
    try:
        for msg in reader_class(f):
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
            yield number, float(msg.timestamp), LINKTYPE_CAN_SOCKETCAN, raw, ifaces[name], len(raw), None
    except FixtureError:
        raise
    except Exception as exc:  # python-can raises assorted builtins on a bad file
        raise FixtureError(f"{sink.path}: python-can could not read the log: {exc!r}") from None
    finally:
        f.close()
        sink.bytes_read = sink.path.stat().st_size if sink.path.exists() else sink.bytes_read
