"""RTU resynchronisation kernels: running CRC states and constant-time CRC checks of any window.

Normative reference: MB-SL 6.2.2 (CRC-16, polynomial 0xA001 reflected,
initial value 0xFFFF, sent low byte first).

Theory of operation
-------------------
The CRC register update is linear over GF(2). Write ``L`` for the update
by a zero byte; after ``n`` bytes the register is ``L^n(start) ^ g(bytes)``.
So with the running states ``S[k]`` of a whole stream (the register after
its first ``k`` bytes, from any start value), the CRC from 0xFFFF of the
bytes ``[i, i + n)`` is ``S[i + n] ^ L^n(S[i] ^ 0xFFFF)``; and a frame
followed by its own CRC leaves 0. One comparison checks a candidate frame
whatever its length (:func:`window_ok`), once the states are known
(:func:`extend_states`, two bytes per step with :func:`crc_pairs`).
``L^n`` for n <= 256 is two 256-entry tables per n (low and high byte of
the register, :func:`crc_power`).

``find_frame`` is the hunt's inner loop (used by
:class:`~.framers.RtuFramer`): it walks the offsets a C-level scan marked as
possible frame starts and judges those whose length the function code
fixes, alone or with a byte count. These functions take plain lists, bytes and ints so that the
compiled wheel can compile this module (the descriptor lists it).
"""

from __future__ import annotations

from array import array
from typing import Final

from wireproof.codecs.modbus.adu import _CRC_TABLE, crc16

__all__ = ["MAX_FRAME", "Spec", "crc_pairs", "crc_power", "extend_states", "find_frame", "flat_specs",
           "window_ok"]

MAX_FRAME: Final = 256  # MB-SL 2.5.1: an RTU frame is at most 256 bytes
_LITTLE: Final = array("H", b"\x01\x00")[0] == 1  # how array("H") reads two bytes
# Plain lists (not arrays): indexing them is what the compiled build does fastest.
_POWER: list[list[int]] = []
_PAIRS: list[list[int]] = []


def crc_power() -> list[int]:
    """``L^n`` for n in 0..256: entry ``n * 512 + b`` for the low byte b, ``+ 256`` for the high one."""
    if not _POWER:
        table = _CRC_TABLE
        power: list[int] = []
        row = list(range(256)) + [b << 8 for b in range(256)]
        for _ in range(MAX_FRAME + 1):
            power.extend(row)
            row = [(v >> 8) ^ table[v & 0xFF] for v in row]
        _POWER.append(power)
    return _POWER[0]


def crc_pairs() -> list[int]:
    """The register update by two bytes: ``s' = pairs[s ^ (b0 | b1 << 8)]``.

    Both bytes shift the whole 16-bit register out, so the result depends on
    ``s ^ word`` alone (65,536 entries).
    """
    if not _PAIRS:
        t = _CRC_TABLE
        _PAIRS.append([(t[v & 0xFF] >> 8) ^ t[((v >> 8) ^ t[v & 0xFF]) & 0xFF] for v in range(0x10000)])
    return _PAIRS[0]


def extend_states(states: list[int], data: bytearray, lo: int) -> None:
    """Append to ``states`` the register after each byte of ``data[lo:]`` (``states[-1]`` is before it)."""
    table, pairs = _CRC_TABLE, crc_pairs()
    s: int = states[-1]
    hi = lo + (len(data) - lo) // 2 * 2
    if hi > lo:
        words = array("H", data[lo:hi])
        if not _LITTLE:
            words.byteswap()
        for w in words:
            states.append((s >> 8) ^ table[(s ^ w) & 0xFF])
            s = pairs[s ^ w]
            states.append(s)
    if hi < len(data):
        states.append((s >> 8) ^ table[(s ^ data[hi]) & 0xFF])


def window_ok(states: list[int], at: int, n: int) -> bool:
    """Whether the ``n`` bytes from ``states`` index ``at`` end with their own CRC (n <= 256)."""
    power = crc_power()
    x, m = states[at] ^ 0xFFFF, n << 9
    return bool(states[at + n] == power[m | (x & 0xFF)] ^ power[m | 256 | x >> 8])


Spec = tuple[tuple[int, int], ...] | None
"""How the FC fixes a frame's length: (index, extra) pairs, the length being ``extra``
when index is 0, else the byte at ``index`` plus ``extra``; None: only the rules know."""


def flat_specs(specs: list[Spec]) -> list[int]:
    """``specs`` as 5 ints per FC for :func:`find_frame`: count (-1: rules), then two (index, extra)."""
    out: list[int] = []
    for spec in specs:
        pairs = list(spec or ())[:2]
        out.append(-1 if spec is None or len(spec) > 2 else len(pairs))
        for index, extra in pairs + [(0, 0)] * (2 - len(pairs)):
            out += (index, extra)
    return out


def find_frame(buf: bytes, start: int, marks: bytes, specs: list[int], states: list[int] | None,
               shift: int, waiting: list[tuple[int, int]], base: int) -> tuple[int, bool]:
    """Walk the marked offsets; stop at a valid frame or at an offset only the rules can judge.

    ``marks[k]`` (from ``start`` on) is 1 when offset ``k`` of ``buf`` may
    start a frame; ``specs`` (:func:`flat_specs`) says how each FC fixes the length;
    ``states[k + shift]`` is the register before ``buf[k]`` (``states`` None:
    few marks, each window's CRC is computed instead). Offsets whose
    frame does not fit yet go to ``waiting`` as (stream position, stream
    position needed), ``base`` being the stream position of ``buf[0]``.
    Returns ``(offset, True)`` for a valid frame, ``(offset, False)`` for an
    offset the rules must judge, ``(-1, False)`` when every marked offset
    was judged.
    """
    power = crc_power()
    size, end = len(buf), len(marks)
    j = marks.find(1, start)
    while 0 <= j < end:
        if not marks[j]:
            j += 1
            continue
        k = j
        at = buf[k + 1] * 5
        count = specs[at]
        if count < 0:
            return k, False
        short, pending = 0, False
        for p in range(at + 1, at + 1 + 2 * count, 2):
            index, n = specs[p], specs[p + 1]
            if index:
                if k + index >= size:
                    pending = True
                    continue
                n += buf[k + index]
                if n > MAX_FRAME:
                    continue
            if k + n > size:
                short = n if not short or n < short else short
                continue
            if states is None:
                if crc16(buf[k:k + n - 2]) == buf[k + n - 2] | buf[k + n - 1] << 8:
                    return k, True
                continue
            x, m = states[k + shift] ^ 0xFFFF, n << 9
            if states[k + n + shift] == power[m | (x & 0xFF)] ^ power[m | 256 | x >> 8]:
                return k, True
        if short:
            waiting.append((base + k, base + k + short))
        elif pending:
            waiting.append((base + k, base + size + 1))
        j += 1
        if j < end and not marks[j]:
            j = marks.find(1, j)  # a gap: let the C loop cross it
    return -1, False
