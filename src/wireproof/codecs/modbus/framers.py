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
  and says so in ``resynced``. With ``oversize`` on (the passive analyzer), a
  length beyond 254 whose header is otherwise Modbus (protocol id 0, a
  function code) is believed when the bytes confirm it
  (:func:`wireproof.codecs._resync.consistent_end`: the ADU ends where a
  segment ends or where another header starts), as vendor extensions send
  it (function code 90, UMAS); ``oversized`` then holds its length, and
  resync accepts such a header too. This is the one MBAP framer: the client and
  server machines, the passive replay analyzer, ``replay --send`` and the
  conformance client all frame with it; :func:`~.formats.frames_declarative`
  is its declarative oracle.
- :class:`RtuFramer` — RTU on a plain byte stream, without timing. The frame
  length follows from the function code and, for variable PDUs, the byte
  count (MB-AP 6.x layouts), for requests, responses or (``direction=None``)
  both; where the layout does not fix the length (FC 08, FC 43, unknown
  codes) the shortest prefix whose CRC matches is the frame. After a CRC
  mismatch it *hunts*: the next frame starts at the first later offset where
  a length the header fixes and the CRC agree, and everything before it is
  dropped with one ``ChecksumError``. The hunt is linear in the bytes
  received (:mod:`.rtuscan`); a frame whose length the header does not fix
  is found at the front of a stream in sync (its start, after a frame, after
  :meth:`~RtuFramer.clear` at a line silence), not inside garbage.
- :class:`RtuTimedFramer` — RTU by the clock (MB-SL 2.5.1.1): a silence of
  more than t3.5 ends a frame, one of more than t1.5 inside a frame is an
  error. Character time is 11 bits; above 19200 baud t1.5 = 750 us and
  t3.5 = 1.75 ms.
- :class:`AsciiFramer` — ':' ... CR LF, at most 513 characters, hex and LRC
  checked (MB-SL 2.5.2).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from wireproof.codecs._core import NEED_DATA, BufferedFramer, NeedData
from wireproof.codecs._resync import consistent_end
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus.adu import Direction, _unhex, crc16
from wireproof.codecs.modbus.rtuscan import Spec, extend_states, find_frame, flat_specs, window_ok
from wireproof.errors import ChecksumError, DecodeError

__all__ = ["AsciiFramer", "RtuFramer", "RtuTimedFramer", "TcpFramer", "plausible_header", "rtu_timing",
           "segment_starts_adu"]

_MIN_LEN, _MAX_LEN = C.MIN_MBAP_LENGTH, C.MAX_MBAP_LENGTH
_PUBLIC_FCS: Final = frozenset(int(fc) for fc in C.FunctionCode)
_ZEROS: Final = b"\x00\x00\x00"  # protocol id 0, length < 256
_EVIDENCE: Final = 64  # bytes of a discarded buffer kept for a finding's hex window


def plausible_header(buf: bytes | bytearray, i: int = 0) -> bool:
    """Whether ``buf[i:i + 8]`` looks like an MBAP header and a public function code."""
    return (len(buf) - i >= 8 and buf[i + 2] == 0 and buf[i + 3] == 0 and buf[i + 4] == 0
            and _MIN_LEN <= buf[i + 5] <= _MAX_LEN and (buf[i + 7] & 0x7F) in _PUBLIC_FCS)


def _vendor_header(buf: bytes | bytearray, i: int, limit: int) -> bool:
    """``buf[i:i + 8]`` is an MBAP header but for the bounds of MB-TCP 3.1.3 and MB-AP 5.1: protocol
    id 0, a length of at least 2 and at most ``limit``, a function code other than 0 and 0x80
    (vendor codes, and lengths beyond 254, are what a vendor extension sends)."""
    return (len(buf) - i >= 8 and buf[i + 2] == 0 and buf[i + 3] == 0
            and _MIN_LEN <= (buf[i + 4] << 8 | buf[i + 5]) <= limit and buf[i + 7] & 0x7F != 0)


def _consistent(buf: bytes | bytearray, i: int, limit: int, segment_end: bool) -> bool | None:
    """A vendor header at ``i`` whose ADU ends where the bytes confirm it (``consistent_end``)."""
    if not _vendor_header(buf, i, limit):
        return False
    end = i + 6 + (buf[i + 4] << 8 | buf[i + 5])
    verdict = consistent_end(buf, end, segment_end=segment_end, header=8,
                             plausible=lambda b, j: plausible_header(b, j) or _vendor_header(b, j, limit))
    if verdict is None and segment_end and len(buf) < end and _header_in(buf, i + 8):
        return False  # it would swallow a plausible header of the segment that cuts it (``_resync`` rule 3)
    return verdict


def _header_in(buf: bytes | bytearray, start: int) -> bool:
    """Whether a plausible header starts anywhere in ``buf`` from ``start`` on."""
    i = buf.find(_ZEROS, start + 2)
    while i >= 0:
        if plausible_header(buf, i - 2):
            return True
        i = buf.find(_ZEROS, i + 1)
    return False


def segment_starts_adu(data: bytes | bytearray, limit: int = 0xFFFF) -> bool:
    """Whether a TCP segment whose bytes are ``data`` starts with a Modbus ADU.

    A plausible header (:func:`plausible_header`), or a vendor one
    (:func:`_vendor_header`: any function code, a length up to ``limit``) whose
    ADU ends exactly at the segment's end or right before another header, or
    runs on past the segment's end without swallowing a plausible header
    (an oversized ADU sent in several segments; the framer then waits for
    the bytes that confirm it).
    """
    return plausible_header(data) or _consistent(data, 0, limit, True) is not False


class TcpFramer(BufferedFramer):
    """Frames Modbus TCP ADUs by the MBAP length field (MB-TCP 3.1.3).

    ``sync`` false (:meth:`desync`): bytes are skipped up to the first
    plausible header before framing resumes; ``skipped`` counts them, and
    when sync is regained ``resynced`` holds ``(bytes skipped, hex-window
    bytes, offset of the header in them)`` until the caller takes it.
    """

    protocol = "modbus-tcp"

    def __init__(self, *, max_buffer: int = 64 * 1024, sync: bool = True, oversize: bool = False) -> None:
        super().__init__(max_buffer=max_buffer)
        self.sync = sync
        # Oversized ADUs: believed up to half the buffer, so that waiting for one never overflows it.
        self.oversize_limit = max_buffer // 2 if oversize else 0
        self.segment_end = False  # the buffer ends where a segment ended (feed(..., segment_end=True))
        self.oversized = 0  # the MBAP length of the oversized ADU next_frame just returned, else 0
        self.skipped = 0
        self.resynced: tuple[int, bytes, int] | None = None
        self.discarded = b""  # the first bytes the last framing error discarded
        self.discarded_count = 0

    def feed(self, data: bytes, *, segment_end: bool = False) -> None:
        """Buffer ``data``; ``segment_end``: a segment (a send) ends with it (oversize evidence)."""
        super().feed(data)
        self.segment_end = segment_end

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
        self.oversized = 0
        if not _MIN_LEN <= length <= _MAX_LEN:
            limit = self.oversize_limit
            if length > _MAX_LEN and limit and (len(buf) < 8 or _vendor_header(buf, 0, limit)):
                verdict = _consistent(buf, 0, limit, self.segment_end) if len(buf) >= 8 else None
                if verdict is None:
                    return NEED_DATA
                if verdict:
                    self.oversized = length
                    return self._take(6 + length)
                # Garbage after all; a plausible header may lie in what it claimed: resync there.
                self.discarded, self.discarded_count = bytes(buf[:_EVIDENCE]), 6
                del buf[:6]
                self.sync = False
                raise DecodeError(self.protocol, ("mbap", "length"), 4,
                                  f"length {length} not in 2..254 and not confirmed by the bytes that "
                                  "follow; the header's 6 bytes discarded")
            n = len(buf)
            self.discarded, self.discarded_count = bytes(buf[:_EVIDENCE]), n
            buf.clear()
            raise DecodeError(self.protocol, ("mbap", "length"), 4,
                              f"length {length} not in 2..254; {n} buffered bytes discarded")
        if len(buf) < 6 + length:
            return NEED_DATA
        return self._take(6 + length)

    def _judge(self, i: int) -> bool | None:
        """A header at ``i``: True (plausible, or a vendor one the bytes confirm), None (undecided), False."""
        buf = self._buf
        if len(buf) - i < 8:
            return None
        if plausible_header(buf, i):
            return True
        return _consistent(buf, i, self.oversize_limit, self.segment_end) if self.oversize_limit else False

    def _resync(self) -> bool:
        """Skip to the first plausible header; True when found (in sync again)."""
        buf = self._buf
        n = len(buf)
        # A header has protocol id 0 and a length below 256: bytes 2..4 are zero. Let
        # bytearray.find look for them (a non-Modbus flow on port 502 can be gigabytes).
        start, wait = max(0, n - 7), False  # none found: keep what could begin a header
        # With oversize on, a vendor header may lead (a segment's start); its bytes 4.. need not be 0.
        verdict = self._judge(0) if self.oversize_limit else False
        if verdict is not False:
            start, wait = 0, verdict is None
        else:
            i = buf.find(_ZEROS, 2)
            while i >= 0:
                verdict = self._judge(i - 2)
                if verdict is not False:
                    start, wait = i - 2, verdict is None  # a header, or possibly one: wait for its bytes
                    break
                i = buf.find(_ZEROS, i + 1)
        self.skipped += start
        lo = max(0, start - 16)
        window, at = bytes(buf[lo:start + 16]), start - lo
        del buf[:start]
        if len(buf) < 8 or wait:
            return False
        self.sync = True
        if self.skipped:
            self.resynced = (self.skipped, window, at)
            self.skipped = 0
        return True


# --- RTU length rules -------------------------------------------------------------------
# A rule looks at the buffered bytes from offset ``i`` (address at i, FC at i + 1) and
# answers the whole frame length (CRC included), None when it needs more bytes, or SCAN
# when the layout does not fix the length. A rule is only asked with at least four bytes
# from ``i`` (the framer waits for them: no RTU frame is shorter), so only bytes beyond
# i + 3 need a check.

SCAN = -1
Rule = Callable[[bytes | bytearray, int], int | None]


@dataclass(frozen=True, slots=True)
class _Fixed:
    """A length the function code alone fixes (the hunt reads it from a table)."""

    length: int

    def __call__(self, buf: bytes | bytearray, i: int) -> int | None:
        return self.length


def _fixed(pdu_size: int) -> Rule:
    return _Fixed(pdu_size + 3)


@dataclass(frozen=True, slots=True)
class _CountAt:
    """Length from a one-byte byte count at ``index`` (``extra`` bytes besides it)."""

    index: int
    extra: int

    def __call__(self, buf: bytes | bytearray, i: int) -> int | None:
        return buf[i + self.index] + self.extra if len(buf) > i + self.index else None


def _count_at(index: int, extra: int) -> Rule:
    return _CountAt(index, extra)


def _scan(buf: bytes | bytearray, i: int) -> int | None:
    return SCAN


def _mei_request(buf: bytes | bytearray, i: int) -> int | None:
    return 7 if buf[i + 2] == C.MeiType.READ_DEVICE_IDENTIFICATION else SCAN


def _fifo_response(buf: bytes | bytearray, i: int) -> int | None:
    return (buf[i + 2] << 8 | buf[i + 3]) + 6


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
    """Frames Modbus RTU ADUs on a byte stream without timing (see module docstring).

    Resynchronisation (the *hunt*) is linear in the bytes received: each
    offset after a bad frame is judged once (again only when bytes it was
    waiting for arrive), a candidate's CRC is checked in constant time from
    running CRC states (:mod:`.rtuscan`), offsets whose function code
    cannot start a frame of known length are passed over by a C-level scan,
    and a run of garbage is dropped with one ``ChecksumError``, not one per
    byte.
    """

    protocol = "modbus-rtu"

    def __init__(self, *, direction: Direction = None, max_buffer: int = 64 * 1024,
                 addresses: frozenset[int] | None = None) -> None:
        super().__init__(max_buffer=max_buffer)
        if direction not in (None, "request", "response"):
            raise ValueError(f"direction must be 'request', 'response' or None, not {direction!r}")
        self.direction = direction
        self._tables = [t for d, t in (("request", _REQUEST_RULES), ("response", _RESPONSE_RULES))
                        if direction in (None, d)]
        # An exception response is 5 bytes (MB-AP 7); in a request an FC with bit 7 set is
        # no function code at all (MB-AP 4.1: 1..127), so its length is unknown.
        self._exceptions = direction != "request"
        self._hunt_fcs = _hunt_mask(self._tables, self._exceptions)
        self._specs = flat_specs(_specs(self._tables, self._exceptions))
        # A device that answers only some addresses (a server: its units and broadcast 0)
        # hunts only for frames to them: other bytes are garbage to it either way.
        self.addresses = addresses
        self._hunt_addresses = None if addresses is None else \
            bytes(1 if a in addresses else 0 for a in range(256))
        self._dense = False  # whether the last hunt checked CRCs from running states
        self._scan_len = 0  # CRC of buf[:_scan_len] is _scan_crc
        self._scan_crc = 0xFFFF
        self._synced = True  # the front follows a frame (or the stream's start): scan it if need be
        # The hunt's memory, in absolute stream positions (``_base`` is that of buf[0]):
        # offsets below ``_eval_to`` were judged; ``_waiting`` holds the undecided ones and
        # the stream position each needs; ``_states[k]`` is the CRC register after the
        # bytes up to position ``_states_at + k``.
        self._base = 0
        self._eval_to = 1
        self._waiting: list[tuple[int, int]] = []
        self._states: list[int] = []
        self._states_at = 0

    def clear(self) -> None:
        super().clear()
        self._restart(self._base + len(self._buf))

    def _restart(self, base: int) -> None:
        self._base, self._eval_to, self._waiting = base, base + 1, []
        self._states, self._states_at = [], base
        self._scan_len, self._scan_crc, self._synced = 0, 0xFFFF, True

    def _lengths(self, i: int = 0) -> tuple[list[int], bool, bool]:
        """Candidate lengths at buffer offset ``i``, whether more bytes are needed, whether to scan."""
        buf = self._buf
        fc = buf[i + 1]
        if fc & C.EXCEPTION_FLAG and self._exceptions:
            return [5], False, False
        lengths: list[int] = []
        pending = scan = False
        for table in self._tables:
            rule = table.get(fc)
            n = rule(buf, i) if rule is not None else SCAN
            if n is None:
                pending = True
            elif n == SCAN:
                scan = True
            elif n <= C.MAX_RTU_ADU_SIZE:
                lengths.append(n)
        if len(lengths) > 1:
            lengths = sorted(set(lengths))
        return lengths, pending, scan

    def _crc_ok(self, n: int) -> bool:
        buf = self._buf
        return crc16(memoryview(buf)[:n - 2]) == buf[n - 2] | buf[n - 1] << 8

    def _drop(self, n: int) -> None:
        super()._drop(n)
        self._base += n
        self._scan_len, self._scan_crc = 0, 0xFFFF
        dead = self._base - self._states_at
        if dead > 4096 and dead * 2 > len(self._states):
            del self._states[:dead]
            self._states_at = self._base  # (an empty list restarts at the next use)

    def _frame(self, n: int) -> bytes:
        frame = bytes(self._buf[:n])
        self._drop(n)
        self._synced = True
        if self._eval_to <= self._base:
            self._eval_to = self._base + 1
        return frame

    def _skip(self, n: int, why: str) -> ChecksumError:
        self._drop(n)
        self._synced = False
        if self._eval_to <= self._base:
            self._eval_to = self._base + 1
        return ChecksumError(self.protocol, ("crc",), 0, f"{n} bytes {why}")

    def next_frame(self) -> bytes | NeedData:
        buf = self._buf
        if len(buf) < 4:
            return NEED_DATA
        lengths, pending, scan = self._lengths()
        for n in lengths:
            if n <= len(buf) and self._crc_ok(n):
                return self._frame(n)
        decided = not pending and all(n <= len(buf) for n in lengths)
        if scan and self._synced:
            # Incremental: the running CRC covers buf[:_scan_len]; try each new length.
            limit = min(len(buf), C.MAX_RTU_ADU_SIZE)
            crc, k = self._scan_crc, self._scan_len
            while k + 2 < limit:
                crc = crc16(buf[k:k + 1], crc)
                k += 1
                if k >= 2 and crc == buf[k] | buf[k + 1] << 8:
                    return self._frame(k + 2)
            self._scan_crc, self._scan_len = crc, k
            decided = decided and len(buf) >= C.MAX_RTU_ADU_SIZE
        later, undecided = self._hunt()
        if later:
            raise self._skip(later, "without a valid frame skipped to the next one")
        if decided:
            raise self._skip(undecided, "with no frame that has a matching CRC discarded")
        return NEED_DATA

    # --- the hunt -----------------------------------------------------------------------

    def _hunt(self) -> tuple[int, int]:
        """(offset of the first later valid frame or 0, offset of the first undecided one).

        Judges the offsets that were waiting for bytes now here, then the new
        ones; stops at the first valid frame. Offsets whose length the header
        does not fix (SCAN) are not frame starts here: after garbage, only a
        frame whose header gives its length can be told from the garbage on a
        stream without silences (on a line, :meth:`clear` at t3.5 resynchronises).
        """
        base, end = self._base, self._base + len(self._buf)
        found = 0
        still: list[tuple[int, int]] = []  # kept in offset order, like _waiting
        for at, need in self._waiting:
            if at <= base:
                continue  # dropped, or now the front (next_frame judges that one)
            if found or need > end:
                still.append((at, need))
                continue
            verdict = self._judge(at - base)
            if verdict > 0:
                found = at - base
            elif verdict < 0:
                still.append((at, -verdict))
        self._waiting = still
        if not found:
            found = self._judge_new()
        first = self._waiting[0][0] if self._waiting else self._eval_to
        return found, min(first, self._eval_to) - base

    def _judge_new(self) -> int:
        """Judge offsets from ``_eval_to`` on; the offset of the first valid frame, or 0."""
        buf, base = self._buf, self._base
        i, size = self._eval_to - base, len(buf)
        stop = size - 3  # a frame has at least 4 bytes
        if i >= stop:
            return 0
        # Offsets whose FC byte cannot start a frame of known length are skipped by
        # bytes.translate + find (C loops), so plain garbage costs no Python per byte.
        # The kernel reads an immutable copy of the bytes from offset i (the compiled
        # build indexes bytes natively; each byte is copied about once).
        data = bytes(buf[i:])
        marks = data[1:stop + 1 - i].translate(self._hunt_fcs)
        if self._hunt_addresses is not None:
            to = data[:stop - i].translate(self._hunt_addresses)
            both = int.from_bytes(marks, "little") & int.from_bytes(to, "little")
            marks = both.to_bytes(len(marks), "little")
        # Many candidates: check each in O(1) from running CRC states (one step per byte
        # received). Few: compute their windows' CRCs and skip the states altogether.
        self._dense = marks.count(1) * 16 > len(marks)
        if self._dense:
            self._extend_states()
        states = self._states if self._dense else None
        shift, start = base + i - self._states_at, 0
        while True:
            j, valid = find_frame(data, start, marks, self._specs, states, shift, self._waiting, base + i)
            if j < 0:
                break
            k = i + j
            verdict = 1 if valid else self._judge(k)
            if verdict > 0:
                self._eval_to = base + k + 1
                return k
            if verdict < 0:
                self._waiting.append((base + k, -verdict))
            start = j + 1
        self._eval_to = base + stop
        return 0

    def _judge(self, i: int) -> int:
        """1 if a valid frame starts at offset ``i``, 0 if none can, -need if bytes are missing."""
        buf = self._buf
        size = len(buf)
        if size - i < 4:
            return -(self._base + i + 4)
        lengths, pending, _ = self._lengths(i)
        short = 0
        for n in lengths:
            if i + n > size:
                short = short or n
            elif self._window_ok(i, n):
                return 1
        if short:
            return -(self._base + i + short)
        return -(self._base + size + 1) if pending else 0

    def _window_ok(self, i: int, n: int) -> bool:
        if not self._dense:
            return crc16(self._buf[i:i + n - 2]) == self._buf[i + n - 2] | self._buf[i + n - 1] << 8
        self._extend_states()
        return window_ok(self._states, i + self._base - self._states_at, n)

    def _extend_states(self) -> None:
        """Running CRC states (:mod:`.rtuscan`) up to the end of the buffer."""
        states, base, buf = self._states, self._base, self._buf
        if not states or self._states_at + len(states) <= base:  # none yet, or all before buf[0]
            states.clear()
            self._states_at = base  # any start value will do: only differences count
            states.append(0xFFFF)
        lo = self._states_at + len(states) - 1 - base
        if lo < len(buf):
            extend_states(states, buf, lo)


def _hunt_mask(tables: list[dict[int, Rule]], exceptions: bool) -> bytes:
    """A translate table: 1 for a byte that, as an FC, may start a frame of known length."""
    ok = {fc for table in tables for fc, rule in table.items() if rule is not _scan}
    return bytes(1 if fc in ok or (exceptions and fc & C.EXCEPTION_FLAG) else 0 for fc in range(256))


def _specs(tables: list[dict[int, Rule]], exceptions: bool) -> list[Spec]:
    """Per FC byte, how the hunt's kernel computes the length (:data:`.rtuscan.Spec`)."""
    out: list[Spec] = []
    for fc in range(256):
        rules = [t[fc] for t in tables if fc in t and t[fc] is not _scan]
        if exceptions and fc & C.EXCEPTION_FLAG:
            out.append(((0, 5),))
        elif all(isinstance(r, _Fixed | _CountAt) for r in rules):
            out.append(tuple(sorted({(0, r.length) if isinstance(r, _Fixed) else (r.index, r.extra)
                                     for r in rules if isinstance(r, _Fixed | _CountAt)})))
        else:
            out.append(None)
    return out


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
        # MB-SL 2.5.2.1: a ':' always starts a new frame, dropping a partial one. The last
        # ':' before the end (not the first) is where the frame starts: a run of them is
        # dropped with one error, not one per character.
        end = buf.find(b"\n", 1, C.MAX_ASCII_ADU_CHARS)
        again = buf.rfind(b":", 1, end if end > 0 else C.MAX_ASCII_ADU_CHARS)
        if again > 0:
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
