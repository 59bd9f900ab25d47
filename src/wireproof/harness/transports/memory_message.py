"""An in-process message transport pair with explicit, reproducible datagram faults.

Theory of operation
-------------------
:func:`memory_message_pair` returns two connected :class:`MemoryMessageTransport`
ends, the message counterpart of :func:`~wireproof.harness.transports.memory.memory_pair`.
Each direction is a queue of whole messages guarded by a
``threading.Condition``: ``send`` appends one message, ``recv`` blocks (with a
timeout) until one is there and returns it whole. When the sender has closed
and the queue is empty, ``recv`` raises TransportError (``ECONNRESET``); a
``send`` to an end that has closed raises TransportError (``EPIPE``).

A :class:`MessageFaultPlan` sits on one direction and decides, per message,
what a datagram network may do with it (RFC 768 promises none of delivery,
order or uniqueness): deliver it, drop it, duplicate it, flip the bits of one
byte (a corruption a checksum did not catch), or reorder it: hold it back
and deliver it right after the next message, whatever becomes of that one, so
the two swap places. Only one message is held at a time: a reorder decided
while one is held counts as a delivery. Decisions come from
``random.Random(seed)`` in send order, so a seed reproduces a run exactly;
each is recorded in ``plan.actions``. A held message is delivered when its
sender closes, before the queue runs dry.
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
from wireproof.harness.transports.base import DEFAULT_TIMEOUT, Tap
from wireproof.harness.transports.message import MessageTransport

__all__ = [
    "MemoryMessageTransport",
    "MessageFaultAction",
    "MessageFaultKind",
    "MessageFaultPlan",
    "memory_message_pair",
]

MessageFaultKind = Literal["deliver", "drop", "duplicate", "corrupt", "reorder"]


@dataclass(frozen=True, slots=True, kw_only=True)
class MessageFaultAction:
    """What a :class:`MessageFaultPlan` did with one message.

    ``message`` is the 0-based index of the ``send`` call, ``size`` its length;
    ``offset`` and ``mask`` say which byte was XORed with what (``-1`` and
    ``0`` when not corrupted).
    """

    message: int
    kind: MessageFaultKind
    size: int
    offset: int = -1
    mask: int = 0


class MessageFaultPlan:
    """Seeded per-message fault decisions (see the module docstring).

    ``drop``, ``duplicate``, ``corrupt`` and ``reorder`` are probabilities
    (each in 0..1, summing to at most 1; the rest is "deliver"). An empty
    message has no byte to corrupt and is delivered.
    """

    def __init__(self, seed: int, *, drop: float = 0.0, duplicate: float = 0.0, corrupt: float = 0.0,
                 reorder: float = 0.0) -> None:
        rates = {"drop": drop, "duplicate": duplicate, "corrupt": corrupt, "reorder": reorder}
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise HarnessError(f"MessageFaultPlan: {name} must be a probability in 0..1, not {rate!r}")
        if sum(rates.values()) > 1.0 + 1e-9:
            raise HarnessError(f"MessageFaultPlan: probabilities sum to {sum(rates.values())}, more than 1")
        self.seed = seed
        self.drop, self.duplicate, self.corrupt, self.reorder = drop, duplicate, corrupt, reorder
        self.actions: list[MessageFaultAction] = []
        self._rng = random.Random(seed)
        self._held: bytes | None = None
        self._count = 0

    def __repr__(self) -> str:
        return (f"MessageFaultPlan(seed={self.seed}, drop={self.drop}, duplicate={self.duplicate}, "
                f"corrupt={self.corrupt}, reorder={self.reorder})")

    def apply(self, message: bytes) -> list[bytes]:
        """Decide on one message; the deliveries it produces now (a released held one last)."""
        index = self._count
        self._count += 1
        held, self._held = self._held, None
        kind = self._decide(message, holding=held is not None)
        offset, mask = -1, 0
        out: list[bytes] = []
        if kind == "duplicate":
            out = [message, message]
        elif kind == "corrupt":
            offset = self._rng.randrange(len(message))
            mask = self._rng.randrange(1, 256)
            flipped = bytearray(message)
            flipped[offset] ^= mask
            out = [bytes(flipped)]
        elif kind == "reorder":
            self._held = message
        elif kind == "deliver":
            out = [message]
        self.actions.append(MessageFaultAction(message=index, kind=kind, size=len(message),
                                               offset=offset, mask=mask))
        if held is not None:
            out.append(held)
        return out

    def _decide(self, message: bytes, *, holding: bool) -> MessageFaultKind:
        roll = self._rng.random()
        options: tuple[tuple[MessageFaultKind, float], ...] = (
            ("drop", self.drop), ("duplicate", self.duplicate), ("corrupt", self.corrupt),
            ("reorder", self.reorder))
        for kind, rate in options:
            if roll < rate:
                if (kind == "corrupt" and not message) or (kind == "reorder" and holding):
                    return "deliver"
                return kind
            roll -= rate
        return "deliver"

    def flush(self) -> list[bytes]:
        """The message still held back for reordering, if any (called when the sender closes)."""
        held, self._held = self._held, None
        return [held] if held is not None else []


class _Queue:
    """One direction: whole messages, end-of-stream and reader-gone flags, one condition."""

    def __init__(self, plan: MessageFaultPlan | None) -> None:
        self.cond = threading.Condition()
        self.messages: deque[bytes] = deque()
        self.eof = False
        self.reader_gone = False
        self.plan = plan

    def put(self, message: bytes) -> bool:
        with self.cond:
            if self.reader_gone:
                return False
            # Under the lock, so the plan sees messages in send order.
            self.messages.extend(self.plan.apply(message) if self.plan else [message])
            self.cond.notify_all()
            return True

    def get(self, url: str, timeout: float) -> bytes:
        """The next message; TransportTimeout, or TransportError once the sender closed and none is left."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.messages or self.eof, timeout):
                raise TransportTimeout(f"{url}: recv timed out after {timeout} s")
            if not self.messages:
                raise TransportError(errno.ECONNRESET, f"{url}: recv failed: peer closed")
            return self.messages.popleft()

    def close_writer(self) -> None:
        with self.cond:
            if self.plan is not None:
                self.messages.extend(self.plan.flush())
            self.eof = True
            self.cond.notify_all()

    def close_reader(self) -> None:
        with self.cond:
            self.reader_gone = True
            self.messages.clear()


class MemoryMessageTransport(MessageTransport):
    """One end of a :func:`memory_message_pair`."""

    def __init__(self, inbound: _Queue, outbound: _Queue, *, url: str, timeout: float = DEFAULT_TIMEOUT,
                 tap: Tap | None = None, max_message: int | None = None) -> None:
        super().__init__(url=url, timeout=timeout, tap=tap, max_message=max_message)
        self._inbound = inbound
        self._outbound = outbound

    def _send(self, message: bytes, timeout: float) -> None:
        if not self._outbound.put(message):
            raise TransportError(errno.EPIPE, f"{self.url}: send failed: peer closed")

    def _recv(self, timeout: float) -> bytes:
        return self._inbound.get(self.url, timeout)

    def _close(self) -> None:
        self._outbound.close_writer()
        self._inbound.close_reader()


_pair_ids = itertools.count(1)


def memory_message_pair(
    *, faults: MessageFaultPlan | None = None, reverse_faults: MessageFaultPlan | None = None,
    timeout: float = DEFAULT_TIMEOUT, max_message: int | None = None,
) -> tuple[MemoryMessageTransport, MemoryMessageTransport]:
    """Two connected in-memory message ends ``(a, b)``, usable from two threads.

    ``faults`` acts on what ``a`` sends to ``b``, ``reverse_faults`` on what
    ``b`` sends to ``a``; they must be distinct plans. ``max_message`` limits
    what either end may send (as a datagram's size does). URLs are
    ``memory-message://N/a`` and ``memory-message://N/b``.
    """
    if faults is not None and faults is reverse_faults:
        raise HarnessError("memory_message_pair: faults and reverse_faults must be separate "
                           "MessageFaultPlan objects")
    a_to_b, b_to_a = _Queue(faults), _Queue(reverse_faults)
    n = next(_pair_ids)
    a = MemoryMessageTransport(b_to_a, a_to_b, url=f"memory-message://{n}/a", timeout=timeout,
                               max_message=max_message)
    b = MemoryMessageTransport(a_to_b, b_to_a, url=f"memory-message://{n}/b", timeout=timeout,
                               max_message=max_message)
    return a, b
