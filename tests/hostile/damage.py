"""Generators of damaged inputs: cuts, bit flips and crafted lengths.

Deterministic (seeded) so a failure names an input that can be rebuilt. Each
generator yields ``(label, data)``; the label goes into the test id or the
assertion message, so a failing case says what was done to the file.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

__all__ = ["bit_flips", "crafted_lengths", "cuts", "everything"]


def cuts(data: bytes, count: int = 24, *, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """``data`` cut short: at every small offset, then at ``count`` seeded offsets through the body."""
    rng = random.Random(seed)
    offsets = set(range(min(len(data), 8)))
    offsets.update(rng.randrange(len(data)) for _ in range(count) if data)
    offsets.update(o for o in (len(data) - 1, len(data) - 2) if o >= 0)
    for offset in sorted(offsets):
        yield f"cut at {offset}", data[:offset]


def bit_flips(data: bytes, count: int = 48, *, seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """``data`` with one bit flipped, at ``count`` seeded positions."""
    rng = random.Random(seed)
    for _ in range(count if data else 0):
        offset, bit = rng.randrange(len(data)), rng.randrange(8)
        flipped = bytearray(data)
        flipped[offset] ^= 1 << bit
        yield f"bit {bit} flipped at {offset}", bytes(flipped)


def crafted_lengths(data: bytes, fields: Sequence[tuple[int, int, str]],
                    values: Sequence[int] = ()) -> Iterator[tuple[str, bytes]]:
    """``data`` with each length field (``offset``, ``size``, ``byteorder``) set to hostile values.

    The values tried are 0, 1, the field's maximum, maximum - 1 and any
    ``values`` given (the codec's own limits, and limit - 1 / + 1).
    """
    for offset, size, byteorder in fields:
        top = (1 << (8 * size)) - 1
        for value in sorted({0, 1, top, top - 1, *(v for v in values if 0 <= v <= top)}):
            crafted = bytearray(data)
            crafted[offset:offset + size] = value.to_bytes(size, byteorder)  # type: ignore[arg-type]
            yield f"length at {offset} set to {value}", bytes(crafted)


def everything(data: bytes, fields: Sequence[tuple[int, int, str]] = (), *,
               seed: int = 0) -> Iterator[tuple[str, bytes]]:
    """Cuts, bit flips and crafted lengths of ``data``, one after another."""
    yield from cuts(data, seed=seed)
    yield from bit_flips(data, seed=seed)
    yield from crafted_lengths(data, fields)
