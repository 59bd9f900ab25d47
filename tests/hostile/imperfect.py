"""Generators of imperfect TCP captures: conversations with frames missing, cut mid-message, oversized.

A conversation is a list of ``(from_client, payload)`` sends; :func:`frames`
turns it into Ethernet/IPv4/TCP frames with consistent sequence and
acknowledgement numbers (each side acknowledges what it has received so
far, as a real stack does, and optionally sends pure ACKs); the ``drop``
argument takes frames out by index, as a capture that lost them would. Every
generator is deterministic (seeded), so a failing case names an input that
can be rebuilt.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from wireproof.harness.replay.pcap import build_tcp_frame, write_pcap

__all__ = ["CLIENT", "SERVER", "Send", "drop", "every", "frames", "mbap", "modbus_polling", "seeded",
           "umas_session", "write"]

CLIENT = ("10.0.0.1", 40001)
SERVER = ("10.0.0.2", 502)
Send = tuple[bool, bytes]
SYN, ACK, PSH_ACK, FIN_ACK = 0x02, 0x10, 0x18, 0x11


def mbap(tid: int, pdu: bytes, unit: int = 1) -> bytes:
    """One Modbus/TCP ADU (MB-TCP 3.1.3); the length field counts the unit id and the PDU."""
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


def modbus_polling(n: int, *, seed: int = 0) -> list[Send]:
    """``n`` read-holding-registers transactions (MB-AP 6.3), one ADU per send, quantities seeded."""
    rng = random.Random(seed)
    sends: list[Send] = []
    for tid in range(1, n + 1):
        quantity = rng.randrange(1, 20)
        sends.append((True, mbap(tid, struct.pack(">BHH", 3, rng.randrange(100), quantity))))
        values = bytes(rng.randrange(256) for _ in range(2 * quantity))
        sends.append((False, mbap(tid, bytes([3, len(values)]) + values)))
    return sends


def umas_session(n: int, *, seed: int = 0, big_every: int = 3, big: int = 900,
                 poll: bool = True) -> list[Send]:
    """Schneider UMAS (function code 90 = 0x5A, a vendor extension in MB-AP's public range) traffic:
    requests of a few bytes; every ``big_every``-th response carries ``big`` bytes, so its MBAP length
    is beyond MB-TCP's 254, as such PLCs send it. A read-holding-registers poll is interleaved
    (``poll``)."""
    rng = random.Random(seed)
    sends: list[Send] = []
    tid = 0
    for i in range(n):
        tid += 1
        sends.append((True, mbap(tid, bytes([0x5A, 0x00, 0x03]) + bytes(rng.randrange(256) for _ in range(4)),
                                 unit=0)))
        size = big if i % big_every == 0 else rng.randrange(4, 40)
        sends.append((False, mbap(tid, bytes([0x5A, 0x00, 0xFE]) + bytes(rng.randrange(256)
                                                                          for _ in range(size)), unit=0)))
        if not poll:
            continue
        tid += 1
        sends.append((True, mbap(tid, struct.pack(">BHH", 3, 0, 2))))
        sends.append((False, mbap(tid, bytes([3, 4, 0, 1, 0, 2]))))
    return sends


def frames(sends: Sequence[Send], *, handshake: bool = True, mss: int = 1460, pure_acks: bool = False,
           start: float = 1_700_000_000.0, step: float = 0.001) -> list[tuple[float, bytes]]:
    """The frames of ``sends`` on one connection (CLIENT -> SERVER), segmented at ``mss`` bytes."""
    out: list[tuple[float, bytes]] = []
    seq = {True: 1000, False: 5000}
    ts = start

    def emit(from_client: bool, payload: bytes, flags: int) -> None:
        nonlocal ts
        src, dst = (CLIENT, SERVER) if from_client else (SERVER, CLIENT)
        out.append((ts, build_tcp_frame(payload, src=src, dst=dst, seq=seq[from_client],
                                        ack=seq[not from_client], flags=flags)))
        ts += step
        seq[from_client] = (seq[from_client] + len(payload) + (1 if flags & (SYN | 0x01) else 0)) & 0xFFFFFFFF

    if handshake:
        seq[True] -= 1
        seq[False] -= 1
        src, dst = CLIENT, SERVER
        out.append((ts, build_tcp_frame(b"", src=src, dst=dst, seq=seq[True], flags=SYN)))
        seq[True] += 1
        out.append((ts, build_tcp_frame(b"", src=dst, dst=src, seq=seq[False], ack=seq[True],
                                        flags=SYN | ACK)))
        seq[False] += 1
        emit(True, b"", ACK)
    for from_client, payload in sends:
        for i in range(0, len(payload), mss):
            emit(from_client, payload[i:i + mss], PSH_ACK)
        if pure_acks:
            emit(not from_client, b"", ACK)
    emit(True, b"", FIN_ACK)
    emit(False, b"", FIN_ACK)
    emit(True, b"", ACK)
    return out


def drop(items: Sequence[tuple[float, bytes]],
         lost: Callable[[int, bytes], bool]) -> list[tuple[float, bytes]]:
    """``items`` without those ``lost(index, frame)`` says the capture missed."""
    return [item for i, item in enumerate(items) if not lost(i, item[1])]


def every(k: int, *, offset: int = 0, keep_first: int = 3) -> Callable[[int, bytes], bool]:
    """Lose every ``k``-th frame (after the handshake's ``keep_first``)."""
    return lambda i, _frame: i >= keep_first and (i - offset) % k == 0


def seeded(rate: float, *, seed: int = 0, keep_first: int = 3) -> Callable[[int, bytes], bool]:
    """Lose each frame with probability ``rate`` (seeded)."""
    rng = random.Random(seed)
    return lambda i, _frame: i >= keep_first and rng.random() < rate


def write(path: Path, items: Iterable[tuple[float, bytes]]) -> Path:
    write_pcap(path, items)
    return path
