"""History files: read them for :mod:`wireproof.consensus.check` (which parses text, never files).

The formats (Jepsen's ``jepsen.util`` log, wireproof JSON lines) are
:mod:`wireproof.consensus.check.history`; this module adds the file around
them, and names the file in every error.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Hashable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from wireproof.consensus.check.history import (
    FORMATS,
    MAX_LINE,
    History,
    Operation,
    guess_format,
    parse_history,
)
from wireproof.errors import FixtureError

__all__ = ["generate_history", "guess_file_format", "load_history"]


def load_history(path: str | Path, format: str | None = "jepsen") -> History:
    """Read a history file; :class:`~wireproof.errors.FixtureError` if unreadable or malformed.

    ``format`` None guesses it from the first line that is not blank or a
    comment (:func:`~wireproof.consensus.check.history.guess_format`). The file
    is read as it streams, a line at a time (at most
    :data:`~wireproof.consensus.check.history.MAX_LINE` characters each: a
    longer line is an error as soon as it is read, not once it is in memory).
    """
    if format is not None and format not in FORMATS:
        raise FixtureError(f"unknown history format {format!r}; known: {', '.join(FORMATS)}")
    chosen = format or guess_file_format(path)
    try:
        with open(path, "rb") as file:
            return parse_history(_lines(file), chosen)
    except OSError as exc:
        raise FixtureError(f"{path}: cannot read: {exc}") from None
    except FixtureError as exc:
        raise FixtureError(f"{path}: {exc}") from None


def guess_file_format(path: str | Path) -> str:
    """The format :func:`load_history` would guess for ``path`` (``jepsen`` when unreadable or empty)."""
    try:
        with open(path, "rb") as file:
            for line in _lines(file):
                if line.strip("\ufeff \t\r\n") and not line.lstrip("\ufeff \t").startswith("#"):
                    return guess_format(line)
    except (OSError, FixtureError):
        pass  # load_history reports it
    return "jepsen"


def _lines(file: BinaryIO) -> Iterator[str]:
    """The file's lines as text (UTF-8), each read with a bound; FixtureError names a bad line."""
    for n in itertools.count(1):
        raw = file.readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE:
            raise FixtureError(f"line {n}: longer than {MAX_LINE} bytes")
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FixtureError(f"line {n}: not UTF-8 (byte {exc.start} of the line)") from None


def generate_history(operations: int, *, processes: int = 5, values: int = 5, key: Hashable = None,
                     indefinite: float = 0.002, seed: int = 0) -> History:
    """A linearizable register history of ``operations`` operations, from a seeded simulation.

    ``processes`` clients run read / write / cas against one real register,
    each operation taking effect at a random moment between its invocation
    and its completion; a cas whose expected value is not there fails. With
    probability ``indefinite`` an operation times out (``info``; it took
    effect or not, at random) and its client is replaced by a fresh process,
    as Jepsen does. For benchmarks and memory tests of the checker.
    """
    rng = random.Random(seed)
    register: Any = None
    now = 0
    next_process = processes
    # per client: [process, kind, value, invoke, phase (0 idle, 1 invoked, 2 applied), outcome, result]
    clients: list[list[Any]] = [[p, None, None, 0, 0, "ok", None] for p in range(processes)]
    ops: list[Operation] = []
    started = 0
    while len(ops) < operations:
        now += 1
        client = clients[rng.randrange(processes)]
        phase = client[4]
        if phase == 0:
            if started >= operations:
                continue
            started += 1
            kind = rng.choice(("read", "write", "cas"))
            value = (rng.randrange(values), rng.randrange(values)) if kind == "cas" else (
                rng.randrange(values) if kind == "write" else None)
            client[1:5] = [kind, value, now, 1]
        elif phase == 1:
            kind, value = client[1], client[2]
            client[5], client[6] = "ok", None
            if rng.random() < indefinite and rng.random() < 0.5:
                client[5] = "info"  # lost before it took effect
            elif kind == "read":
                client[6] = register
            elif kind == "write":
                register = value
            elif register == value[0]:
                register = value[1]
            else:
                client[5] = "fail"
            client[4] = 2
        else:
            process, kind, value, invoke, _phase, outcome, result = client
            if outcome == "ok" and rng.random() < indefinite:
                outcome = "info"  # took effect, but the client never heard
            if outcome == "info":
                client[0] = next_process  # Jepsen gives a crashed client a new process
                next_process += 1
            ops.append(Operation(process=process, kind=kind, key=key, value=value, invoke=invoke,
                                 complete=None if outcome == "info" else now, outcome=outcome,
                                 result=result if kind == "read" and outcome == "ok" else None))
            client[4] = 0
    ops.sort(key=lambda op: op.invoke)
    return tuple(ops)
