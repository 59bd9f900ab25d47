"""Modbus framers: stream bytes -> whole ADUs (DESIGN.md layer 2; contract in ``_core``).

- :class:`TcpFramer` — frames by the MBAP length (MB-TCP 3.1.3); raises as
  soon as the 6 header bytes prove the stream unframeable (length outside
  2..254), after discarding what it buffered (the first bytes stay in
  ``discarded`` for evidence). A protocol id other than 0 does not stop
  framing: the length still delimits the ADU, so the frame is returned and
  the decoder rejects it — which lets a server skip it and go on serving the
  connection (MB-TCP 3.1.3), and a replay go on decoding. Out of sync (after
  a capture gap, or a capture that starts mid-stream: :meth:`TcpFramer.desync`),
  it first skips to the next plausible MBAP header (:func:`plausible_header`)
  and says so in ``resynced``. This is the one MBAP framer: the client and
  server machines, the passive replay analyzer, ``replay --send`` and the
  conformance client all frame with it; :func:`~.formats.frames_declarative`
  is its declarative oracle.
- :class:`RtuFramer` — RTU on a plain byte stream, without timing. The frame
  length follows from the function code and, for variable PDUs, the byte
  count (MB-AP 6.x layouts), for requests, responses or (``direction=None``)
  both; where the layout does not fix the length (FC 08, FC 43, unknown
  codes) the shortest prefix whose CRC matches is the frame. A CRC mismatch
  discards one byte and resynchronises on the next.
- :class:`RtuTimedFramer` — RTU by the clock (MB-SL 2.5.1.1): a silence of
  more than t3.5 ends a frame, one of more than t1.5 inside a frame is an
  error. Character time is 11 bits; above 19200 baud t1.5 = 750 us and
  t3.5 = 1.75 ms.
- :class:`AsciiFramer` — ':' ... CR LF, at most 513 characters, hex and LRC
  checked (MB-SL 2.5.2).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from wireproof.codecs._core import NEED_DATA, BufferedFramer, NeedData
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus.adu import Direction, _unhex, crc16
from wireproof.errors import ChecksumError, DecodeError

__all__ = ["AsciiFramer", "RtuFramer", "RtuTimedFramer", "TcpFramer", "plausible_header", "rtu_timing"]

_MIN_LEN, _MAX_LEN = C.MIN_MBAP_LENGTH, C.MAX_MBAP_LENGTH
_PUBLIC_FCS: Final = frozenset(int(fc) for fc in C.FunctionCode)
_ZEROS: Final = b"\x00\x00\x00"  # protocol id 0, length < 256
_EVIDENCE: Final = 64  # bytes of a discarded buffer kept for a finding's hex window


def plausible_header(buf: bytes | bytearray, i: int = 0) -> bool:
    """Whether ``buf[i:i + 8]`` looks like an MBAP header and a public function code."""
    return (len(buf) - i >= 8 and buf[i + 2] == 0 and buf[i + 3] == 0 and buf[i + 4] == 0
            and _MIN_LEN <= buf[i + 5] <= _MAX_LEN and (buf[i + 7] & 0x7F) in _PUBLIC_FCS)


class TcpFramer(BufferedFramer):
    """Frames Modbus TCP ADUs by the MBAP length field (MB-TCP 3.1.3).

    ``sync`` false (:meth:`desync`): bytes are skipped up to the first
    plausible header before framing resumes; ``skipped`` counts them, and
    when sync is regained ``resynced`` holds ``(bytes skipped, hex-window
    bytes, offset of the header in them)`` until the caller takes it.
    """

    protocol = "modbus-tcp"

    def __init__(self, *, max_buffer: int = 64 * 1024, sync: bool = True) -> None:
        super().__init__(max_buffer=max_buffer)
        self.sync = sync
        self.skipped = 0
        self.resynced: tuple[int, bytes, int] | None = None
        self.discarded = b""  # the first bytes the last framing error discarded
        self.discarded_count = 0

    def desync(self) -> None:
        """Forget what is buffered and skip to the next plausible header (after a gap)."""
        self._buf.clear()
        self.sync = False

    def clear(self) -> None:
        super().clear()
        self.skipped = 0

    def next_frame(self) -> bytes | NeedData:
        buf = self._buf
        if not self.sync and not self._resync():
            return NEED_DATA
        if len(buf) < 6:
            return NEED_DATA
        length = buf[4] << 8 | buf[5]
        if not _MIN_LEN <= length <= _MAX_LEN:
            n = len(buf)
            self.discarded, self.discarded_count = bytes(buf[:_EVIDENCE]), n
            buf.clear()
            raise DecodeError(self.protocol, ("mbap", "length"), 4,
                              f"length {length} not in 2..254; {n} buffered bytes discarded")
        if len(buf) < 6 + length:
            return NEED_DATA
        return self._take(6 + length)

    def _resync(self) -> bool:
        """Skip to the first plausible header; True when found (in sync again)."""
        buf = self._buf
        n = len(buf)
        # A header has protocol id 0 and a length below 256: bytes 2..4 are zero. Let
        # bytearray.find look for them (a non-Modbus flow on port 502 can be gigabytes).
        start = max(0, n - 7)  # none found: keep what could begin a header
        i = buf.find(_ZEROS, 2)
        while i >= 0:
            if n - (i - 2) < 8 or plausible_header(buf, i - 2):
                start = i - 2  # a header, or possibly one: wait for its other bytes
                break
            i = buf.find(_ZEROS, i + 1)
        self.skipped += start
        lo = max(0, start - 16)
        window, at = bytes(buf[lo:start + 16]), start - lo
        del buf[:start]
        if len(buf) < 8:
            return False
        self.sync = True
        if self.skipped:
            self.resynced = (self.skipped, window, at)
            self.skipped = 0
        return True


# --- RTU length rules -------------------------------------------------------------------
# A rule looks at the buffered frame (address at 0, FC at 1) and answers the whole
# frame length (CRC included), None when it needs more bytes, or SCAN when the
# layout does not fix the length.

SCAN = -1
Rule = Callable[[bytearray], int | None]


def _fixed(pdu_size: int) -> Rule:
    return lambda buf: pdu_size + 3


def _count_at(index: int, extra: int) -> Rule:
    """Length from a one-byte byte count at ``index`` (``extra`` bytes besides it)."""
    return lambda buf: buf[index] + extra if len(buf) > index else None


def _scan(buf: bytearray) -> int | None:
    return SCAN


def _mei_request(buf: bytearray) -> int | None:
    if len(buf) < 3:
        return None
    return 7 if buf[2] == C.MeiType.READ_DEVICE_IDENTIFICATION else SCAN


def _fifo_response(buf: bytearray) -> int | None:
    return (buf[2] << 8 | buf[3]) + 6 if len(buf) >= 4 else None


_REQUEST_RULES: dict[int, Rule] = {
    **{fc: _fixed(5) for fc in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06)},
    **{fc: _fixed(1) for fc in (0x07, 0x0B, 0x0C, 0x11)},
    0x08: _scan,
    0x0F: _count_at(6, 9), 0x10: _count_at(6, 9),
    0x14: _count_at(2, 5), 0x15: _count_at(2, 5),
    0x16: _fixed(7), 0x17: _count_at(10, 13), 0x18: _fixed(3),
    0x2B: _mei_request,
}
_RESPONSE_RULES: dict[int, Rule] = {
    **{fc: _count_at(2, 5) for fc in (0x01, 0x02, 0x03, 0x04, 0x0C, 0x11, 0x14, 0x15, 0x17)},
    0x05: _fixed(5), 0x06: _fixed(5), 0x07: _fixed(2), 0x08: _scan, 0x0B: _fixed(5),
    0x0F: _fixed(5), 0x10: _fixed(5), 0x16: _fixed(7), 0x18: _fifo_response, 0x2B: _scan,
}


class RtuFramer(BufferedFramer):
    """Frames Modbus RTU ADUs on a byte stream without timing (see module docstring)."""

    protocol = "modbus-rtu"

    def __init__(self, *, direction: Direction = None, max_buffer: int = 64 * 1024) -> None:
        super().__init__(max_buffer=max_buffer)
        if direction not in (None, "request", "response"):
            raise ValueError(f"direction must be 'request', 'response' or None, not {direction!r}")
        self.direction = direction
        self._tables = [t for d, t in (("request", _REQUEST_RULES), ("response", _RESPONSE_RULES))
                        if direction in (None, d)]
        self._scan_len = 0  # CRC of buf[:_scan_len] is _scan_crc
        self._scan_crc = 0xFFFF
        # Offsets 1.._later_from-1 are proven not to start a frame (every
        # candidate length fit in the buffer and failed): the next search for a
        # later frame resumes there instead of rescanning the whole buffer.
        self._later_from = 1

    def _lengths(self, buf: bytearray | memoryview | None = None) -> tuple[list[int], bool, bool]:
        """Candidate lengths, whether more bytes are needed to know, whether to scan."""
        if buf is None:
            buf = self._buf
        fc = buf[1]
        lengths: list[int] = []
        pending = scan = False
        for table in self._tables:
            rule = table.get(fc)
            n = 5 if fc & C.EXCEPTION_FLAG else (rule(buf) if rule is not None else SCAN)  # type: ignore[arg-type]
            if n is None:
                pending = True
            elif n == SCAN:
                scan = True
            elif n <= C.MAX_RTU_ADU_SIZE:
                lengths.append(n)
        return sorted(set(lengths)), pending, scan

    def _crc_ok(self, n: int) -> bool:
        buf = self._buf
        return crc16(memoryview(buf)[:n - 2]) == buf[n - 2] | buf[n - 1] << 8

    def _later_frame(self) -> int:
        """Offset of the first later whole frame whose length rule and CRC agree (0: none).

        While the bytes at the front cannot be framed yet, a complete valid frame
        further on proves them garbage: skip to it instead of waiting for 256 bytes.
        """
        buf = self._buf
        size = len(buf)
        view = memoryview(buf)
        decided = True  # every offset before i is proven not to start a frame
        try:
            for i in range(self._later_from, size - 3):
                lengths, pending, _ = self._lengths(view[i:])
                for n in lengths:
                    if i + n <= size and crc16(view[i:i + n - 2]) == buf[i + n - 2] | buf[i + n - 1] << 8:
                        return i
                decided = decided and not pending and all(i + n <= size for n in lengths)
                if decided:
                    self._later_from = i + 1
        finally:
            view.release()
        return 0

    def _skip_or_wait(self) -> NeedData:
        skip = self._later_frame()
        if skip:
            self._drop(skip)
            self._scan_len, self._scan_crc, self._later_from = 0, 0xFFFF, 1
            raise ChecksumError(self.protocol, ("crc",), 0,
                                f"{skip} bytes without a valid frame skipped to the next one")
        return NEED_DATA

    def _resync(self) -> DecodeError:
        self._drop(1)
        # What was proven about later offsets stays proven, one place earlier.
        self._scan_len, self._scan_crc, self._later_from = 0, 0xFFFF, max(1, self._later_from - 1)
        return ChecksumError(self.protocol, ("crc",), 0,
                             "no frame with a matching CRC starts here; one byte discarded")

    def _frame(self, n: int) -> bytes:
        self._scan_len, self._scan_crc, self._later_from = 0, 0xFFFF, max(1, self._later_from - n)
        return self._take(n)

    def next_frame(self) -> bytes | NeedData:
        buf = self._buf
        if len(buf) < 4:
            return NEED_DATA
        lengths, pending, scan = self._lengths()
        for n in lengths:
            if n <= len(buf) and self._crc_ok(n):
                return self._frame(n)
        if scan:
            # Incremental: the running CRC covers buf[:_scan_len]; try each new length.
            limit = min(len(buf), C.MAX_RTU_ADU_SIZE)
            crc, k = self._scan_crc, self._scan_len
            while k + 2 < limit:
                crc = crc16(buf[k:k + 1], crc)
                k += 1
                if k >= 2 and crc == buf[k] | buf[k + 1] << 8:
                    return self._frame(k + 2)
            self._scan_crc, self._scan_len = crc, k
            if len(buf) < C.MAX_RTU_ADU_SIZE:
                return self._skip_or_wait()
            raise self._resync()
        if pending or any(n > len(buf) for n in lengths):
            return self._skip_or_wait()
        raise self._resync()


def rtu_timing(baudrate: int) -> tuple[float, float]:
    """(t1.5, t3.5) in seconds for ``baudrate`` (MB-SL 2.5.1.1)."""
    if baudrate > 19200:
        return 0.000750, 0.001750
    char = 11.0 / baudrate
    return 1.5 * char, 3.5 * char


class RtuTimedFramer(BufferedFramer):
    """Frames Modbus RTU by inter-character silence (MB-SL 2.5.1.1).

    ``feed(data, timestamp)``: ``timestamp`` (seconds, any monotonic origin) is
    when the last byte of ``data`` was received; the bytes of one chunk are
    taken as back to back. A silence > t3.5 ends the frame being received;
    a silence > t1.5 but <= t3.5 inside a frame makes it invalid: the partial
    frame is discarded and ``DecodeError`` raised. ``tick(now)`` ends a frame
    once the line has been quiet for t3.5. Whole frames are CRC-checked
    (``ChecksumError``, frame discarded) and handed out by ``next_frame``.
    """

    protocol = "modbus-rtu"

    def __init__(self, baudrate: int = 19200, *, max_buffer: int = 64 * 1024) -> None:
        super().__init__(max_buffer=max_buffer)
        self.baudrate = baudrate
        self.t1_5, self.t3_5 = rtu_timing(baudrate)
        self.char_time = 11.0 / baudrate
        self._last: float | None = None  # receive time of the last byte
        self._frames: list[bytes] = []
        self._discarding = False  # after a t1.5 violation, until t3.5 of silence

    def _close(self) -> None:
        if not self._buf:
            return
        frame = self._take(len(self._buf))
        if len(frame) < 4 or len(frame) > C.MAX_RTU_ADU_SIZE:
            raise DecodeError(self.protocol, ("adu",), len(frame),
                              f"frame of {len(frame)} bytes between silences is not an RTU frame")
        if crc16(frame[:-2]) != frame[-2] | frame[-1] << 8:
            raise ChecksumError(self.protocol, ("crc",), len(frame) - 2, "CRC-16 does not match")
        self._frames.append(frame)

    def tick(self, now: float) -> None:
        """The line was observed at ``now``: a quiet t3.5 ends the current frame."""
        if self._last is not None and now - self._last > self.t3_5:
            self._discarding = False
            self._close()

    def feed(self, data: bytes, timestamp: float | None = None) -> None:
        if not data:
            return
        if timestamp is None:
            super().feed(data)
            return
        first = timestamp - (len(data) - 1) * self.char_time
        silence = None if self._last is None else first - self._last - self.char_time
        self._last = timestamp
        if silence is not None and silence > self.t3_5:
            self._discarding = False
            self._close_quietly_then_feed(data)
            return
        if self._discarding:  # MB-SL 2.5.1.1: the rest of a bad frame is dropped too
            return
        if silence is not None and self._buf and silence > self.t1_5:
            n = len(self._buf)
            self._buf.clear()
            self._discarding = True
            raise DecodeError(self.protocol, ("stream",), n,
                              f"{silence * 1e6:.0f} us silence inside a frame > t1.5; "
                              "frame discarded up to the next t3.5 silence")
        super().feed(data)

    def _close_quietly_then_feed(self, data: bytes) -> None:
        try:
            self._close()
        finally:
            super().feed(data)

    def next_frame(self) -> bytes | NeedData:
        if self._frames:
            return self._frames.pop(0)
        return NEED_DATA


class AsciiFramer(BufferedFramer):
    """Frames Modbus ASCII ADUs: ':' ... CR LF, <= 513 chars, hex and LRC checked (MB-SL 2.5.2)."""

    protocol = "modbus-ascii"

    def next_frame(self) -> bytes | NeedData:
        buf = self._buf
        if not buf:
            return NEED_DATA
        if buf[0] != 0x3A:
            start = buf.find(b":")
            n = len(buf) if start < 0 else start
            self._drop(n)
            raise DecodeError(self.protocol, ("start",), 0, f"{n} bytes before ':' discarded")
        # MB-SL 2.5.2.1: a ':' always starts a new frame, dropping a partial one.
        again = buf.find(b":", 1, C.MAX_ASCII_ADU_CHARS)
        end = buf.find(b"\n", 1, C.MAX_ASCII_ADU_CHARS)
        if again > 0 and (end < 0 or again < end):
            self._drop(again)
            raise DecodeError(self.protocol, ("end",), again, "':' inside a frame; partial frame discarded")
        if end < 0:
            if len(buf) >= C.MAX_ASCII_ADU_CHARS:
                nxt = buf.find(b":", 1)
                self._drop(nxt if nxt > 0 else len(buf))
                raise DecodeError(self.protocol, ("adu",), C.MAX_ASCII_ADU_CHARS,
                                  "no CR LF within 513 characters; frame discarded")
            return NEED_DATA
        frame = self._take(end + 1)
        _unhex(self.protocol, frame)  # hex, CR LF and LRC; the frame is already dropped
        return frame
