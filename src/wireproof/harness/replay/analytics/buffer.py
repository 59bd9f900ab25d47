"""The value buffer of the replay analytics: register rows held per block, flushed a block at a time.

A replay hands :meth:`.Analytics.values` one register block of one message
at a time (``"10.0.0.5:502 u1 hr"``, start 40, the values of ``hr[40]``,
``hr[41]``, ...), millions of them. Statistics merged a row at a time would
cost a merge per register per message; a :class:`ValueBuffer` holds the rows
of each block and hands them on a block at a time, so each series merges a
whole column (see :mod:`.stats`).

Theory of operation
-------------------
Rows are kept per block key ``(series_base, start, count)``, up to ``batch``
messages per block; a block reaching ``batch`` rows is flushed alone. Memory
stays bounded: at most ``max_buffered`` values are held in all (beyond that
every block is flushed, in first-seen order), and at most ``max_keys``
blocks (the Analytics' ``max_series``): a new block beyond that flushes and
forgets the oldest. Whoever owns the buffer is told of a key when it is
first seen (``opened``), before its first row, so the Analytics creates a
block's series then and series are in first-seen order.

The same buffer, with the same parameters, runs in the replay's process
when the analytics run in another one (:mod:`..analytics_process`): it has
no other state and runs its callbacks at the same points, so the child
receives the same opens and flushes, in the same order, as an in-process
Analytics would run on itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["BlockKey", "ValueBuffer"]


BlockKey = tuple[str, int, int]
"""A register block of :meth:`Analytics.values`: ``(series_base, start, count)``."""


class _Block:
    """The buffered samples of one register block: one row of values per message."""

    __slots__ = ("rows", "times")

    def __init__(self) -> None:
        self.times: list[float] = []
        self.rows: list[Sequence[float]] = []


class ValueBuffer:
    """The buffer of :meth:`Analytics.values`: rows of register blocks, flushed a block at a time.

    Per block key ``(series_base, start, count)`` it holds the times and rows
    not yet processed. Flush triggers (the bounds of the module docstring): a
    block reaching ``batch`` rows is flushed; when ``max_buffered`` values are
    buffered in all, every block is (in first-seen order); at most
    ``max_keys`` keys are held (at least one): a new key beyond that flushes
    and forgets the oldest. A flush hands ``(key, times, rows)`` to ``flush``
    (the lists are handed over: the buffer starts new ones); ``opened(key)``
    is told of a key when it is first seen (again, after it was forgotten),
    before its first row. Both callbacks run after the buffer's state is
    updated, so an exception in one leaves the buffer consistent.
    """

    __slots__ = ("_flush", "_opened", "batch", "blocks", "buffered", "max_buffered", "max_keys")

    def __init__(self, flush: Callable[[BlockKey, list[float], list[Sequence[float]]], None], *,
                 batch: int, max_buffered: int, max_keys: int,
                 opened: Callable[[BlockKey], object] | None = None) -> None:
        self._flush = flush
        self._opened = opened
        self.batch = batch
        self.max_buffered = max_buffered
        self.max_keys = max_keys
        self.blocks: dict[BlockKey, _Block] = {}
        self.buffered = 0  # values (rows times count) held

    def add(self, series_base: str, start: int, timestamp: float, values: Sequence[float]) -> None:
        """Buffer one row (the caller has checked it is non-empty with a finite timestamp)."""
        key = (series_base, start, len(values))
        block = self.blocks.get(key)
        if block is None:
            block = self._open(key)
        block.times.append(timestamp)
        block.rows.append(values)
        self.buffered += len(values)
        if len(block.times) >= self.batch:
            self._flush_block(key, block)
        elif self.buffered >= self.max_buffered:
            self.flush()

    def _open(self, key: BlockKey) -> _Block:
        blocks = self.blocks
        if blocks and len(blocks) >= self.max_keys:  # bounded: give the oldest block up
            oldest = next(iter(blocks))
            self._flush_block(oldest, blocks.pop(oldest))
        if self._opened is not None:
            self._opened(key)
        block = blocks[key] = _Block()
        return block

    def flush(self) -> None:
        """Flush every block holding rows, in first-seen order of the keys."""
        for key, block in list(self.blocks.items()):
            self._flush_block(key, block)

    def _flush_block(self, key: BlockKey, block: _Block) -> None:
        times, rows = block.times, block.rows
        if not times:
            return
        block.times, block.rows = [], []
        self.buffered -= len(times) * key[2]
        self._flush(key, times, rows)

