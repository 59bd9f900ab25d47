"""An in-process transport pair with explicit, reproducible faults.

Theory of operation
-------------------
:func:`memory_pair` returns two connected :class:`MemoryTransport` ends. Each
direction is a queue of *deliveries* guarded by a ``threading.Condition``:
``send`` appends, ``recv`` blocks (with a timeout) until a delivery or end of
file is there and returns one delivery (or its first ``max_bytes``). So unlike
a socket, deliveries are never coalesced: what a fault splits, the receiver
sees split.

A :class:`FaultPlan` sits on one direction and decides, per segment (one
``send`` call), what the "network" does with it: deliver it, split it into
several deliveries, merge it with the next segment (hold it back and deliver
both as one), drop it, or flip the bits of one byte. Decisions come from
``random.Random(seed)`` and are taken in the order segments are sent in that
direction, so a seed reproduces a run exactly; each decision is recorded in
``plan.actions`` for tests and failure reports. Each direction has its own
plan (``faults`` for a→b, ``reverse_faults`` for b→a), so the outcome does not
depend on how two threads interleave. A merged segment that is still held when
the sender closes is delivered before end of file.
"""

from __future__ import annotations

import errno
import itertools
import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

from wireproof.errors import HarnessError, TransportError, TransportTimeout
from wireproof.harness.transports.base import DEFAULT_TIMEOUT, Tap, Transport

__all__ = ["FaultAction", "FaultKind", "FaultPlan", "MemoryTransport", "memory_pair"]

FaultKind = Literal["deliver", "split", "merge", "drop", "corrupt"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultAction:
    """What a :class:`FaultPlan` did with one segment.

    ``segment`` is the 0-based index of the ``send`` call; ``size`` the number
    of bytes decided on (a segment merged into this one included). ``cuts``
    are the split offsets; ``offset`` and ``mask`` say which byte was XORed
    with what (``-1`` and ``0`` when not corrupted).
    """

    segment: int
    kind: FaultKind
    size: int
    cuts: tuple[int, ...] = ()
    offset: int = -1
    mask: int = 0


class FaultPlan:
    """Seeded per-segment fault decisions (see the module docstring).

    ``split``, ``merge``, ``drop`` and ``corrupt`` are probabilities (each in
    0..1, summing to at most 1; the rest is "deliver"). A split cuts a segment
    into 2..``max_split`` non-empty pieces; a one-byte segment cannot be split
    and is delivered. A corruption XORs one byte with a non-zero mask, so it
    always changes exactly one byte.
    """

    def __init__(self, seed: int, *, split: float = 0.0, merge: float = 0.0, drop: float = 0.0,
                 corrupt: float = 0.0, max_split: int = 4) -> None:
        rates = {"split": split, "merge": merge, "drop": drop, "corrupt": corrupt}
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise HarnessError(f"FaultPlan: {name} must be a probability in 0..1, not {rate!r}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise HarnessError(f"FaultPlan: probabilities sum to {sum(rates.values())}, more than 1")
        if max_split < 2:
            raise HarnessError(f"FaultPlan: max_split must be >= 2, not {max_split}")
        self.seed = seed
        self.split, self.merge, self.drop, self.corrupt = split, merge, drop, corrupt
        self.max_split = max_split
        self.actions: list[FaultAction] = []
        self._rng = random.Random(seed)
        self._held = b""
        self._segment = 0

    def __repr__(self) -> str:
        return (f"FaultPlan(seed={self.seed}, split={self.split}, merge={self.merge}, drop={self.drop}, "
                f"corrupt={self.corrupt}, max_split={self.max_split})")

    def apply(self, segment: bytes) -> list[bytes]:
        """Decide on one non-empty segment; the deliveries it produces now."""
        index = self._segment
        self._segment += 1
        data, self._held = self._held + segment, b""
        kind = self._decide(len(data))
        if kind == "drop":
            self.actions.append(FaultAction(segment=index, kind="drop", size=len(data)))
            return []
        if kind == "corrupt":
            offset = self._rng.randrange(len(data))
            mask = self._rng.randrange(1, 256)
            flipped = bytearray(data)
            flipped[offset] ^= mask
            self.actions.append(FaultAction(segment=index, kind="corrupt", size=len(data),
                                            offset=offset, mask=mask))
            return [bytes(flipped)]
        if kind == "split":
            pieces = self._rng.randint(2, min(self.max_split, len(data)))
            cuts = tuple(sorted(self._rng.sample(range(1, len(data)), pieces - 1)))
            self.actions.append(FaultAction(segment=index, kind="split", size=len(data), cuts=cuts))
            bounds = (0, *cuts, len(data))
            return [data[a:b] for a, b in itertools.pairwise(bounds)]
        if kind == "merge":
            self.actions.append(FaultAction(segment=index, kind="merge", size=len(data)))
            self._held = data
            return []
        self.actions.append(FaultAction(segment=index, kind="deliver", size=len(data)))
        return [data]

    def _decide(self, size: int) -> FaultKind:
        roll = self._rng.random()
        options: tuple[tuple[FaultKind, float], ...] = (
            ("drop", self.drop), ("corrupt", self.corrupt), ("split", self.split), ("merge", self.merge))
        for kind, rate in options:
            if roll < rate:
                # A single byte cannot be split: it is delivered.
                return "deliver" if kind == "split" and size == 1 else kind
            roll -= rate
        return "deliver"

    def flush(self) -> list[bytes]:
        """Deliveries still held back by a merge (called when the sender closes)."""
        held, self._held = self._held, b""
        return [held] if held else []


class _Pipe:
    """One direction: deliveries, end-of-file and reader-gone flags, one condition."""

    def __init__(self, plan: FaultPlan | None) -> None:
        self.cond = threading.Condition()
        self.deliveries: deque[bytes] = deque()
        self.eof = False
        self.reader_gone = False
        self.plan = plan

    def put(self, data: bytes) -> bool:
        with self.cond:
            if self.reader_gone:
                return False
            # Under the lock, so the plan sees segments in send order.
            self.deliveries.extend(self.plan.apply(data) if self.plan else [data])
            self.cond.notify_all()
            return True

    def get(self, max_bytes: int, timeout: float) -> bytes | None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.deliveries or self.eof, timeout):
                return None
            if not self.deliveries:
                return b""
            chunk = self.deliveries.popleft()
            if len(chunk) > max_bytes:
                self.deliveries.appendleft(chunk[max_bytes:])
                chunk = chunk[:max_bytes]
            return chunk

    def close_writer(self) -> None:
        with self.cond:
            if self.plan is not None:
                self.deliveries.extend(self.plan.flush())
            self.eof = True
            self.cond.notify_all()

    def close_reader(self) -> None:
        with self.cond:
            self.reader_gone = True
            self.deliveries.clear()


class MemoryTransport(Transport):
    """One end of a :func:`memory_pair`."""

    def __init__(self, inbound: _Pipe, outbound: _Pipe, *, url: str,
                 timeout: float = DEFAULT_TIMEOUT, tap: Tap | None = None) -> None:
        super().__init__(url=url, timeout=timeout, tap=tap)
        self._inbound = inbound
        self._outbound = outbound

    def _send(self, data: bytes, timeout: float) -> None:
        if not self._outbound.put(data):
            raise TransportError(errno.EPIPE, f"{self.url}: send failed: peer closed")

    def _recv(self, max_bytes: int, timeout: float) -> bytes:
        data = self._inbound.get(max_bytes, timeout)
        if data is None:
            raise TransportTimeout(f"{self.url}: recv timed out after {timeout} s")
        return data

    def _close(self) -> None:
        self._outbound.close_writer()
        self._inbound.close_reader()


_pair_ids = itertools.count(1)


def memory_pair(*, faults: FaultPlan | None = None, reverse_faults: FaultPlan | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-memory ends ``(a, b)``, usable from two threads.

    ``faults`` acts on what ``a`` sends to ``b``, ``reverse_faults`` on what
    ``b`` sends to ``a``; they must be distinct plans. URLs are
    ``memory://N/a`` and ``memory://N/b``. Set ``end.tap`` to record traffic.
    """
    if faults is not None and faults is reverse_faults:
        raise HarnessError("memory_pair: faults and reverse_faults must be separate FaultPlan objects")
    a_to_b, b_to_a = _Pipe(faults), _Pipe(reverse_faults)
    n = next(_pair_ids)
    a = MemoryTransport(b_to_a, a_to_b, url=f"memory://{n}/a", timeout=timeout)
    b = MemoryTransport(a_to_b, b_to_a, url=f"memory://{n}/b", timeout=timeout)
    return a, b
