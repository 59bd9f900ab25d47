"""Operation histories of a register or key-value store, and their file formats.

Theory of operation
-------------------
A *history* is what concurrent clients saw: each :class:`Operation` was
invoked at some time and then completed ``ok`` (it took effect, and a read
returned ``result``), ``fail`` (it certainly did not take effect) or
``info`` (indefinite: a timeout or crash; it may take effect at any point
after its invocation, or never — its completion time is +infinity, shown as
``complete=None``). Times only need to be ordered; they are never compared
with a clock. This is the model of Herlihy & Wing, "Linearizability: A
Correctness Condition for Concurrent Objects" (TOPLAS 1990), with the
indefinite outcomes of Jepsen/Knossos.

Two file formats:

* **jepsen** — the text log of Jepsen's ``jepsen.util`` logger (the format of
  the etcd histories published with the Porcupine checker)::

      INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]
      INFO  jepsen.util - 3\t:ok\t:cas\t[1 4]

  A process's invocation and its next completion form one operation; the
  line number is the time. A value is an integer, a string, a keyword
  (``:timed-out``, kept as text), ``nil`` (None) or a vector of values
  (``[from to]`` for a cas). Lines of other loggers (``LEVEL logger - ...``)
  are skipped; any other line, or a ``jepsen.util`` line that does not parse,
  is a :class:`~wireproof.errors.FixtureError` naming the line. An invocation
  never completed in the file is indefinite.
* **wireproof** — JSON lines, one event each, as Jepsen's EDN history::

      {"process": 3, "type": "invoke", "f": "cas", "key": "x", "value": [1, 4], "time": 10}
      {"process": 3, "type": "ok", "f": "cas", "key": "x", "value": [1, 4], "time": 12}

  ``value`` of an ``ok`` read is what it read; ``time`` may be omitted (the
  line number is used) and is ignored for ``info`` events (null there). A
  register holds a JSON scalar or an array of them (read as a tuple): keys
  and values that are JSON objects are rejected rather than given an order
  of their own, as a Jepsen register holds scalars and ``[from to]`` pairs.

In both formats blank lines and lines whose first non-blank character is
``#`` (comments: provenance, say) are skipped, and a UTF-8 byte order mark
before the first line is ignored. Everything else must parse: a checker must
not pass what it did not read. Times, keys and values must be finite numbers
(``NaN``, ``Infinity``, ``1e400`` are errors: ``NaN`` equals nothing, so a
read of it could never be explained), values nest at most
:data:`MAX_DEPTH` arrays deep, and a line is at most :data:`MAX_LINE`
characters. A history with no operation at all is an error of
:func:`parse_history` (a file of something else, read as "nothing happened",
would be a false pass).
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from wireproof.errors import FixtureError

__all__ = [
    "FORMATS",
    "Flag",
    "History",
    "MAX_DEPTH",
    "MAX_LINE",
    "Kind",
    "Operation",
    "Outcome",
    "dump_wireproof",
    "format_operation",
    "guess_format",
    "parse_history",
    "parse_jepsen",
    "parse_wireproof",
]

Kind = Literal["read", "write", "cas"]
Outcome = Literal["ok", "fail", "info"]
KINDS: frozenset[str] = frozenset({"read", "write", "cas"})
OUTCOMES: frozenset[str] = frozenset({"ok", "fail", "info"})
_TYPES = OUTCOMES | {"invoke"}
FORMATS = ("jepsen", "wireproof")
MAX_DEPTH = 32
"""Arrays nest at most this deep in a key or value (a register holds scalars and pairs)."""
MAX_LINE = 1 << 20
"""The longest line (characters) of a history file; no event needs more."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """One client operation: invoked at ``invoke``, completed at ``complete`` (None: never/unknown).

    ``value`` is what a write writes and, for a cas, the pair ``(expected, new)``;
    ``result`` is what an ``ok`` read returned. ``key`` is None for a single register.
    """

    process: Hashable
    kind: Kind
    key: Hashable = None
    value: Any = None
    invoke: float
    complete: float | None = None
    outcome: Outcome = "ok"
    result: Any = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FixtureError(f"kind must be read, write or cas, not {self.kind!r}")
        if self.outcome not in OUTCOMES:
            raise FixtureError(f"outcome must be ok, fail or info, not {self.outcome!r}")
        if self.kind == "cas" and not (isinstance(self.value, tuple) and len(self.value) == 2):
            raise FixtureError(f"a cas value is an (expected, new) pair, not {self.value!r}")
        if self.outcome != "info" and self.complete is None:
            raise FixtureError(f"an {self.outcome} operation needs a completion time")
        if self.complete is not None and self.complete < self.invoke:
            raise FixtureError(f"completes ({self.complete}) before it is invoked ({self.invoke})")


History = tuple[Operation, ...]


def format_operation(op: Operation) -> str:
    """One line for people: ``p3 cas x 1->4 ok  [10, 12]``."""
    key = "" if op.key is None else f" {op.key}"
    if op.kind == "read":
        what = f"read{key} -> {_show(op.result)}" if op.outcome == "ok" else f"read{key}"
    elif op.kind == "write":
        what = f"write{key} {_show(op.value)}"
    else:
        what = f"cas{key} {_show(op.value[0])}->{_show(op.value[1])}"
    end = "..." if op.complete is None else _show_time(op.complete)
    return f"p{op.process} {what} {op.outcome}  [{_show_time(op.invoke)}, {end}]"


def _show(value: Any) -> str:
    return "nil" if value is None else repr(value)


def _show_time(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else str(t)


# --- lines ----------------------------------------------------------------------------------------

def _lines(text: str | Iterable[str]) -> Iterator[tuple[int, str]]:
    """(line number, line) for every line that is not blank or a comment; a leading BOM is dropped.

    ``text`` is a whole text or any iterable of lines (an open file: a history is
    read as it streams, never held whole).
    """
    lines = text.splitlines() if isinstance(text, str) else text
    for n, line in enumerate(lines, start=1):
        if n == 1 and line.startswith("\ufeff"):
            line = line[1:]
        if len(line) > MAX_LINE:
            raise FixtureError(f"line {n}: longer than {MAX_LINE} characters")
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield n, line


def guess_format(first_line: str) -> str:
    """``wireproof`` for a line that starts (after blanks and a BOM) with ``{`` or ``[``, else ``jepsen``.

    Give it the first line that is not blank or a comment; a JSON array is
    guessed as wireproof so that it is refused as such, not read as a log with
    no operation lines.
    """
    return "wireproof" if first_line.lstrip("\ufeff \t\r\n").startswith(("{", "[")) else "jepsen"


# --- Jepsen text log ------------------------------------------------------------------------------

_JEPSEN = re.compile(r"^\s*INFO\s+jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\w+)(?:\s+(.*?))?\s*$")
_OTHER_LOGGER = re.compile(r"^\s*(?:TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\s+\S+\s+-(?:\s|$)")
_TOKEN = re.compile(r'\s*(\[|\]|"[^"]*"|[^\s\[\]"]+)')
_INTEGER = re.compile(r"[+-]?[0-9]+")


def _jepsen_value(text: str, line: int) -> Any:
    """An EDN-ish value of a jepsen.util line: integer, "string", :keyword, nil, [vector ...]."""
    text = text.strip()
    if text == "":
        return None
    stack: list[list[Any]] = [[]]
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip():
                raise FixtureError(f"line {line}: cannot read value {_excerpt(text)}")
            break
        token, pos = m[1], m.end()
        if token == "[":
            if len(stack) > MAX_DEPTH:
                raise FixtureError(f"line {line}: value nested deeper than {MAX_DEPTH} vectors")
            stack.append([])
        elif token == "]":
            if len(stack) == 1:
                raise FixtureError(f"line {line}: unbalanced ] in value {_excerpt(text)}")
            items = tuple(stack.pop())
            stack[-1].append(items)
        else:
            stack[-1].append(_jepsen_atom(token, text, line))
    if len(stack) > 1:
        raise FixtureError(f"line {line}: unterminated vector {_excerpt(text)}")
    if len(stack[0]) != 1:
        raise FixtureError(f"line {line}: cannot read value {_excerpt(text)}")
    return stack[0][0]


def _jepsen_atom(token: str, text: str, line: int) -> Any:
    if token == "nil":
        return None
    if token.startswith(":") or (token.startswith('"') and token.endswith('"') and len(token) >= 2):
        return token if token.startswith(":") else token[1:-1]  # a keyword, e.g. :timed-out
    if _INTEGER.fullmatch(token) and len(token) <= 40:  # 128-bit integers and then some
        return int(token)
    raise FixtureError(f"line {line}: cannot read value {_excerpt(text)}")


def _process(text: str) -> Hashable:
    try:
        return int(text) if len(text) <= 40 else text
    except ValueError:
        return text


def parse_jepsen(text: str | Iterable[str]) -> History:
    """The operations of a Jepsen ``jepsen.util`` log (a text, or its lines), in invocation order."""
    pending: dict[Hashable, tuple[str, Any, int]] = {}
    ops: list[Operation] = []
    for n, line in _lines(text):
        if "jepsen.util" not in line:
            if _OTHER_LOGGER.match(line) is None:
                raise FixtureError(f"line {n}: not a line of a Jepsen log: {_excerpt(line)}")
            continue
        m = _JEPSEN.match(line)
        if m is None:
            raise FixtureError(f"line {n}: not a jepsen.util operation line: {_excerpt(line)}")
        process, event, f, raw = _process(m[1]), m[2], m[3], m[4] or ""
        if f not in KINDS:
            raise FixtureError(f"line {n}: unknown operation :{f} (expected read, write or cas)")
        value = _jepsen_value(raw, n)
        if event == "invoke":
            if process in pending:
                raise FixtureError(f"line {n}: process {process} invokes while its operation of line "
                                   f"{pending[process][2]} is pending")
            if f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
                raise FixtureError(f"line {n}: a cas value is [from to], not {_excerpt(raw)}")
            pending[process] = (f, value, n)
            continue
        if event not in OUTCOMES:
            raise FixtureError(f"line {n}: unknown event :{event} (expected invoke, ok, fail or info)")
        if process not in pending:
            raise FixtureError(f"line {n}: process {process} completes :{f} but invoked nothing")
        kind, invoked_value, start = pending.pop(process)
        if kind != f:
            raise FixtureError(f"line {n}: process {process} completes :{f} but invoked :{kind} "
                               f"on line {start}")
        ops.append(_operation(process, kind, None, invoked_value, start, n, event,
                              value if kind == "read" and event == "ok" else None))
    for process, (kind, value, start) in pending.items():
        ops.append(_operation(process, kind, None, value, start, None, "info", None))
    ops.sort(key=lambda o: o.invoke)
    return tuple(ops)


def _excerpt(text: str, limit: int = 80) -> str:
    """``text`` for an error message: quoted, and cut when long (a message never echoes a megabyte)."""
    text = text.strip()
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f" ... ({len(text)} characters)"


def _operation(process: Hashable, kind: str, key: Hashable, value: Any, invoke: float,
               complete: float | None, outcome: str, result: Any) -> Operation:
    if outcome == "info":
        complete = None
    return Operation(process=process, kind=kind, key=key, value=value, invoke=invoke,  # type: ignore[arg-type]
                     complete=complete, outcome=outcome, result=result)  # type: ignore[arg-type]


# --- wireproof JSON lines --------------------------------------------------------------------------

class _Reject(Exception):
    """A JSON constant or number a history may not hold (raised inside json.loads, caught around it)."""


def _no_constant(name: str) -> Any:
    raise _Reject(f"{name} is not a number a history may hold")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Reject(f"{text[:40]} overflows a float")
    return value


def _from_json(value: Any, line: int, field: str, depth: int = 0) -> Any:
    """A JSON key or value as a hashable register value: arrays become tuples; objects are refused."""
    if isinstance(value, list):
        if depth == MAX_DEPTH:
            raise FixtureError(f"line {line}: {field}: nested deeper than {MAX_DEPTH} arrays")
        return tuple(_from_json(v, line, f"{field}[{i}]", depth + 1) for i, v in enumerate(value))
    if isinstance(value, dict):
        raise FixtureError(f"line {line}: {field}: a JSON object is not a register key or value "
                           "(a number, string, boolean, null or an array of them)")
    if isinstance(value, bool):
        return Flag(value)
    return value


@dataclass(frozen=True, slots=True)
class Flag:
    """A JSON boolean as a register value, kept apart from the numbers 1 and 0.

    Python's ``True == 1`` (and equal hashes) would let a read of ``1`` after
    a write of ``true`` pass: a false verdict. A flag equals only a flag.
    """

    value: bool

    def __repr__(self) -> str:
        return "true" if self.value else "false"


_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite_float)


def _time(event: dict[str, Any], n: int, typ: str) -> Any:
    """The event's time: a finite number (the line number when absent; None allowed for ``info``)."""
    if "time" not in event:
        return n
    time = event["time"]
    if time is None and typ == "info":
        return None
    if isinstance(time, bool) or not isinstance(time, int | float):
        raise FixtureError(f"line {n}: time must be a number, not {_excerpt(json.dumps(time))}")
    try:
        finite = math.isfinite(time)
    except OverflowError:  # an integer beyond any float
        finite = False
    if not finite:
        raise FixtureError(f"line {n}: time must be a finite number, not {_excerpt(str(time))}")
    return time


def _load_event(line: str, n: int) -> dict[str, Any]:
    try:
        event = _DECODER.decode(line)
    except _Reject as exc:
        raise FixtureError(f"line {n}: {exc}") from None
    except RecursionError:
        raise FixtureError(f"line {n}: JSON nested too deep") from None
    except ValueError as exc:  # JSONDecodeError, and integers of more than 4,300 digits
        raise FixtureError(f"line {n}: not JSON: {_excerpt(str(exc))}") from None
    if not isinstance(event, dict):
        raise FixtureError(f"line {n}: an event is a JSON object, not {_json_type(event)} "
                           "(a wireproof history is JSON lines: one event object a line)")
    return event


def _json_type(value: Any) -> str:
    return {list: "an array", dict: "an object", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), "a number")


def parse_wireproof(text: str | Iterable[str]) -> History:
    """The operations of a wireproof JSON-lines history (a text, or its lines), in invocation order."""
    pending: dict[Hashable, tuple[str, Hashable, Any, float, int]] = {}
    ops: list[Operation] = []
    for n, line in _lines(text):
        event = _load_event(line, n)
        missing = [k for k in ("process", "type", "f") if k not in event]
        if missing:
            raise FixtureError(f"line {n}: missing {', '.join(missing)}")
        process, kind, typ = event["process"], event["f"], event["type"]
        if isinstance(process, bool) or not isinstance(process, int | float | str):
            raise FixtureError(f"line {n}: process must be a number or string")
        if not isinstance(kind, str) or kind not in KINDS:
            raise FixtureError(f"line {n}: f must be read, write or cas, not {_excerpt(json.dumps(kind))}")
        if not isinstance(typ, str) or typ not in _TYPES:
            raise FixtureError(f"line {n}: type must be invoke, ok, fail or info, not "
                               f"{_excerpt(json.dumps(typ))}")
        time = _time(event, n, typ)
        key = _from_json(event.get("key"), n, "key")
        value = _from_json(event.get("value"), n, "value")
        if typ == "invoke":
            if process in pending:
                raise FixtureError(f"line {n}: process {process} invokes while its operation of line "
                                   f"{pending[process][4]} is pending")
            if kind == "cas" and not (isinstance(value, tuple) and len(value) == 2):
                raise FixtureError(f"line {n}: a cas value is [expected, new], not "
                                   f"{_excerpt(json.dumps(event.get('value')))}")
            pending[process] = (kind, key, value, time, n)
            continue
        if process not in pending:
            raise FixtureError(f"line {n}: process {process} completes {kind} but invoked nothing")
        pkind, pkey, pvalue, start, start_line = pending.pop(process)
        if pkind != kind or pkey != key:
            raise FixtureError(f"line {n}: process {process} completes {kind} {_excerpt(repr(key))} but "
                               f"invoked {pkind} {_excerpt(repr(pkey))} on line {start_line}")
        if typ != "info" and time < start:
            raise FixtureError(f"line {n}: completes at {time}, before its invocation at {start}")
        ops.append(_operation(process, kind, key, pvalue, start, time, typ,
                              value if kind == "read" and typ == "ok" else None))
    for process, (kind, key, value, start, _line) in pending.items():
        ops.append(_operation(process, kind, key, value, start, None, "info", None))
    ops.sort(key=lambda o: o.invoke)
    return tuple(ops)


def _to_json(value: Any) -> Any:
    if isinstance(value, Flag):
        return value.value
    return [_to_json(v) for v in value] if isinstance(value, tuple) else value


def dump_wireproof(history: Iterable[Operation]) -> str:
    """The history as wireproof JSON lines, in time order (an ``info`` event's time is null).

    Each process's events keep their own order (invocation, completion, next
    invocation ...) even where times tie, so the file reads back as written.
    """
    queues: dict[Hashable, list[tuple[float, int, dict[str, Any]]]] = {}
    for op in sorted(history, key=lambda o: o.invoke):
        base = {"process": op.process, "f": op.kind, "key": _to_json(op.key)}
        queue = queues.setdefault(op.process, [])
        queue.append((op.invoke, 1, {**base, "type": "invoke", "value": _to_json(op.value),
                                     "time": op.invoke}))
        done = {**base, "type": op.outcome,
                "value": _to_json(op.result if op.kind == "read" else op.value), "time": op.complete}
        # at equal times a completion goes before other processes' invocations
        queue.append((op.invoke if op.complete is None else op.complete, 0, done))
    merged = heapq.merge(*queues.values(), key=lambda e: (e[0], e[1]))
    return "".join(json.dumps(e[2]) + "\n" for e in merged)


def parse_history(text: str | Iterable[str], format: str = "jepsen") -> History:
    """A history from a file's text (or its lines) in ``format`` (:data:`FORMATS`); FixtureError if malformed.

    A history without a single operation is malformed too: whatever the file
    held, it was not a history this checker read. Reading the file is the
    harness's job (:func:`wireproof.harness.consensus.histories.load_history`).
    """
    if format not in FORMATS:
        raise FixtureError(f"unknown history format {format!r}; known: {', '.join(FORMATS)}")
    history = parse_jepsen(text) if format == "jepsen" else parse_wireproof(text)
    if not history:
        raise FixtureError(f"no operations: not a {format} history (nothing to check)")
    return history
