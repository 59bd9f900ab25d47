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
  line number is the time. A cas value is ``[from to]``, ``nil`` is None.
  Lines of other loggers are ignored; a ``jepsen.util`` line that does not
  parse is a :class:`~wireproof.errors.FixtureError` naming the line.
  An invocation never completed in the file is indefinite.
* **wireproof** — JSON lines, one event each, as Jepsen's EDN history::

      {"process": 3, "type": "invoke", "f": "cas", "key": "x", "value": [1, 4], "time": 10}
      {"process": 3, "type": "ok", "f": "cas", "key": "x", "value": [1, 4], "time": 12}

  ``value`` of an ``ok`` read is what it read; ``time`` may be omitted (the
  line number is used) and is ignored for ``info`` events.
"""

from __future__ import annotations

import heapq
import json
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from wireproof.errors import FixtureError

__all__ = [
    "FORMATS",
    "History",
    "Kind",
    "Operation",
    "Outcome",
    "dump_wireproof",
    "format_operation",
    "parse_history",
    "parse_jepsen",
    "parse_wireproof",
]

Kind = Literal["read", "write", "cas"]
Outcome = Literal["ok", "fail", "info"]
KINDS: frozenset[str] = frozenset({"read", "write", "cas"})
OUTCOMES: frozenset[str] = frozenset({"ok", "fail", "info"})
FORMATS = ("jepsen", "wireproof")


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


# --- Jepsen text log ------------------------------------------------------------------------------

_JEPSEN = re.compile(r"^\s*INFO\s+jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\w+)(?:\s+(.*?))?\s*$")
_TOKEN = re.compile(r"\[[^\]]*\]|[^\s\[\]]+")


def _jepsen_value(text: str, line: int) -> Any:
    text = text.strip()
    if text in ("", "nil"):
        return None
    if text.startswith("["):
        if not text.endswith("]"):
            raise FixtureError(f"line {line}: unterminated vector {text!r}")
        return tuple(_jepsen_value(t, line) for t in _TOKEN.findall(text[1:-1]))
    if text.startswith(":"):
        return text  # a keyword, e.g. :timed-out
    try:
        return int(text)
    except ValueError:
        pass
    if text.startswith('"') and text.endswith('"') and len(text) >= 2:
        return text[1:-1]
    raise FixtureError(f"line {line}: cannot read value {text!r}")


def _process(text: str) -> Hashable:
    try:
        return int(text)
    except ValueError:
        return text


def parse_jepsen(text: str) -> History:
    """The operations of a Jepsen ``jepsen.util`` log, in invocation order."""
    pending: dict[Hashable, tuple[str, Any, int]] = {}
    ops: list[Operation] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if "jepsen.util" not in line:
            continue
        m = _JEPSEN.match(line)
        if m is None:
            raise FixtureError(f"line {n}: not a jepsen.util operation line: {line.strip()!r}")
        process, event, f, raw = _process(m[1]), m[2], m[3], m[4] or ""
        if f not in KINDS:
            raise FixtureError(f"line {n}: unknown operation :{f} (expected read, write or cas)")
        value = _jepsen_value(raw, n)
        if event == "invoke":
            if process in pending:
                raise FixtureError(f"line {n}: process {process} invokes while its operation of line "
                                   f"{pending[process][2]} is pending")
            if f == "cas" and not (isinstance(value, tuple) and len(value) == 2):
                raise FixtureError(f"line {n}: a cas value is [from to], not {raw!r}")
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


def _operation(process: Hashable, kind: str, key: Hashable, value: Any, invoke: float,
               complete: float | None, outcome: str, result: Any) -> Operation:
    if outcome == "info":
        complete = None
    return Operation(process=process, kind=kind, key=key, value=value, invoke=invoke,  # type: ignore[arg-type]
                     complete=complete, outcome=outcome, result=result)  # type: ignore[arg-type]


# --- wireproof JSON lines --------------------------------------------------------------------------

def _from_json(value: Any) -> Any:
    return tuple(_from_json(v) for v in value) if isinstance(value, list) else value


def parse_wireproof(text: str) -> History:
    """The operations of a wireproof JSON-lines history, in invocation order."""
    pending: dict[Hashable, tuple[str, Hashable, Any, float, int]] = {}
    ops: list[Operation] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise FixtureError(f"line {n}: not JSON: {exc}") from None
        if not isinstance(event, dict):
            raise FixtureError(f"line {n}: an event is a JSON object, not {type(event).__name__}")
        missing = [k for k in ("process", "type", "f") if k not in event]
        if missing:
            raise FixtureError(f"line {n}: missing {', '.join(missing)}")
        process, kind, typ = event["process"], event["f"], event["type"]
        if isinstance(process, list | dict):
            raise FixtureError(f"line {n}: process must be a number or string")
        if kind not in KINDS:
            raise FixtureError(f"line {n}: f must be read, write or cas, not {kind!r}")
        time = event.get("time", n)
        if typ != "info" and (isinstance(time, bool) or not isinstance(time, int | float)):
            raise FixtureError(f"line {n}: time must be a number, not {time!r}")
        key = _from_json(event.get("key"))
        value = _from_json(event.get("value"))
        if typ == "invoke":
            if process in pending:
                raise FixtureError(f"line {n}: process {process} invokes while its operation of line "
                                   f"{pending[process][4]} is pending")
            if kind == "cas" and not (isinstance(value, tuple) and len(value) == 2):
                raise FixtureError(f"line {n}: a cas value is [expected, new], not {event.get('value')!r}")
            pending[process] = (kind, key, value, time, n)
            continue
        if typ not in OUTCOMES:
            raise FixtureError(f"line {n}: type must be invoke, ok, fail or info, not {typ!r}")
        if process not in pending:
            raise FixtureError(f"line {n}: process {process} completes {kind} but invoked nothing")
        pkind, pkey, pvalue, start, start_line = pending.pop(process)
        if pkind != kind or pkey != key:
            raise FixtureError(f"line {n}: process {process} completes {kind} {key!r} but invoked "
                               f"{pkind} {pkey!r} on line {start_line}")
        if typ != "info" and time < start:
            raise FixtureError(f"line {n}: completes at {time}, before its invocation at {start}")
        ops.append(_operation(process, kind, key, pvalue, start, time, typ,
                              value if kind == "read" and typ == "ok" else None))
    for process, (kind, key, value, start, _line) in pending.items():
        ops.append(_operation(process, kind, key, value, start, None, "info", None))
    ops.sort(key=lambda o: o.invoke)
    return tuple(ops)


def _to_json(value: Any) -> Any:
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


def parse_history(text: str, format: str = "jepsen") -> History:
    """A history from the text of a file in ``format`` (:data:`FORMATS`); FixtureError if malformed.

    Reading the file is the harness's job (:func:`wireproof.harness.consensus.histories.load_history`).
    """
    if format not in FORMATS:
        raise FixtureError(f"unknown history format {format!r}; known: {', '.join(FORMATS)}")
    return parse_jepsen(text) if format == "jepsen" else parse_wireproof(text)
