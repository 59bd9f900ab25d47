"""``wireproof replay FILE --send URL``: a capture becomes a regression test.

Theory of operation
-------------------
The capture streams through the :class:`~.dissector.Dissector` (TCP
reassembly, both directions) in capture order. Each flow of a protocol whose
descriptor gives a request/answer correlation
(:class:`~wireproof.codecs._correlation.Correlation`; the flow's protocol is
decided by its port, with the ``--port`` overrides) gets its own connection
to the target, opened at the flow's first request and closed when the
recorded flow closes, so per-connection state on the device is exercised as
recorded. This module names no protocol: what a request's key is, how it is
re-keyed and how two answers compare is the correlation's.

Each direction is cut into messages by the correlation's framer (for
Modbus/TCP the one MBAP framer). Every recorded request is sent as recorded
except its key (the Modbus transaction id), which is re-sequenced per
connection (1, 2, 3, ...): a recorded key may repeat, and the device must
not be able to pass by echoing keys it saw in some other session. With
``window = 1`` (the default) a request is sent only once the previous
answer arrived or timed out (lock-step, so writes and reads stay in the
recorded global order); a larger window keeps up to ``window`` requests
outstanding per connection, as a pipelining client would (MB-TCP 4.4.1).

The device's answer is paired by its (fresh) key, the recorded answer by
the recorded key, both by the shared pairing machine
(:class:`~wireproof.codecs._pairing.Pairing`); then each recorded request
gets one verdict:

- ``identical``: both answers decode to the same fields (the correlation's
  :meth:`answer_fields`, e.g. unit id and PDU fields; the key is ignored),
  or neither side answered;
- ``differs``: both answered, and the fields named in ``differences``
  (``pdu.values[3]``, ``pdu.function_code``, ``unit_id``; the raw bytes when
  an answer does not decode) are not the same;
- ``missing``: the recording has an answer, the device gave none within
  ``timeout`` seconds (or closed the connection);
- ``unexpected``: the device answered a request the recording shows
  unanswered, or sent an answer whose key matches nothing outstanding (a
  late or invented answer).

Memory: a flow's state is its outstanding exchanges (at most
``max_pending`` recorded requests waiting for their recorded answer) and
the framers' buffers; the report keeps the first ``max_reported`` verdicts
other than ``identical`` and counts them all.

Errors: an unreadable capture is a :class:`~wireproof.errors.FixtureError`;
a damaged one (:mod:`.damage`) is sent up to the damage, which is a note
and ``SendResult.damage`` (``damage`` in the JSON): exit 1 if the answers
differ, else 3 (INCOMPLETE);
a target that cannot be reached at the first connection is a
:class:`~wireproof.errors.TransportError` naming the URL (``wireproof
replay`` exits 2); later connection failures make the affected requests
``missing``. The target is any byte-stream URL the transport registry
knows (``tcp://HOST:PORT``, ``serial://...``).
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs._correlation import Correlation
from wireproof.codecs._pairing import PAIR, Pairing
from wireproof.errors import DecodeError, FixtureError, HarnessError, TransportError
from wireproof.harness.replay.damage import Damage
from wireproof.harness.replay.events import Event, FlowClosed, FlowKey, StreamData, StreamGap
from wireproof.harness.transports import Transport, open_transport, parse_url, scheme_for

__all__ = [
    "SCHEMA",
    "Exchange",
    "FieldDifference",
    "SendResult",
    "compare_answers",
    "render_send_text",
    "run_send",
    "send_json",
    "send_replay",
]

SCHEMA = "wireproof.replay-send/1"
Verdict = Literal["identical", "differs", "missing", "unexpected"]
VERDICTS: tuple[Verdict, ...] = ("identical", "differs", "missing", "unexpected")


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldDifference:
    """One field whose value differs: ``path`` like ``pdu.values[3]``; values as plain data."""

    path: str
    recorded: Any
    device: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Exchange:
    """The verdict on one recorded request (see the module docstring).

    ``index`` numbers the requests of the flow from 1; ``frame`` is the
    recorded request's frame (0 for an unexpected answer that matches no
    request); ``recorded_tid`` / ``sent_tid`` the keys (transaction ids) in
    the capture and on the wire; ``request`` a one-line description.
    """

    verdict: Verdict
    flow: str
    index: int
    frame: int
    request: str
    recorded_tid: Hashable | None
    sent_tid: Hashable | None
    differences: tuple[FieldDifference, ...] = ()
    detail: str = ""
    recorded: bytes | None = None
    device: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "flow": self.flow, "index": self.index, "frame": self.frame,
                "request": self.request, "recorded_tid": self.recorded_tid, "sent_tid": self.sent_tid,
                "differences": [{"path": d.path, "recorded": d.recorded, "device": d.device}
                                for d in self.differences],
                "detail": self.detail,
                "recorded": None if self.recorded is None else self.recorded.hex(),
                "device": None if self.device is None else self.device.hex()}


@dataclass(slots=True, kw_only=True)
class SendResult:
    """What a ``--send`` run found: counts per verdict, the first non-identical exchanges."""

    file: str
    target: str
    flows: int = 0
    requests: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    exchanges: list[Exchange] = field(default_factory=list)  # the first max_reported non-identical
    notes: list[str] = field(default_factory=list)  # gaps, unframeable bytes: what was not replayed
    seconds: float = 0.0
    damage: Damage | None = None  # the capture is damaged (.damage): sent up to the damage only

    @property
    def ok(self) -> bool:
        """Every request got the recorded answer (and nothing else came)."""
        return all(self.counts[v] == 0 for v in VERDICTS[1:])

    @property
    def exit_code(self) -> int:
        """FAIL (1) for a difference seen, else INCOMPLETE (3) for a damaged capture, else OK (0)."""
        return 1 if not self.ok else 3 if self.damage is not None else 0


# --- comparing two answers ----------------------------------------------------------------


def _diff(path: str, a: Any, b: Any, out: list[FieldDifference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            _diff(f"{path}.{key}" if path else str(key), a.get(key), b.get(key), out)
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(f"{path}[{i}]", x, y, out)
    elif a != b:
        out.append(FieldDifference(path=path, recorded=a, device=b))


def compare_answers(recorded: bytes, device: bytes, correlation: Correlation) -> tuple[FieldDifference, ...]:
    """The fields in which two answers differ, their key ignored.

    Both decoded (the correlation's ``answer_fields``): field by field,
    element by element in sequences of equal length (``pdu.values[2]``),
    whole otherwise. When either does not decode, the bytes without the key
    are compared (``adu``, hex).
    """
    a, b = correlation.answer_fields(recorded), correlation.answer_fields(device)
    if a is None or b is None:
        raw_a, raw_b = correlation.without_key(recorded), correlation.without_key(device)
        if raw_a == raw_b:
            return ()
        return (FieldDifference(path="adu", recorded=raw_a.hex(), device=raw_b.hex()),)
    out: list[FieldDifference] = []
    _diff("", a, b, out)
    return tuple(out)


# --- the replay ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    index: int
    frame: int
    recorded_tid: Hashable
    request: bytes
    sent_tid: Hashable | None = None
    device: bytes | None = None
    device_done: bool = False
    recorded: bytes | None = None
    recorded_done: bool = False
    detail: str = ""
    sent_at: float = 0.0


class _Connection:
    """One connection to the target, standing for one recorded flow."""

    def __init__(self, run: _Run, flow: _Flow) -> None:
        self.run = run
        self.flow = flow
        self.correlation = flow.correlation
        self.transport: Transport | None = None
        self.framer = self.correlation.framer()
        self.next_key = self.correlation.first_key()
        # The device's answers, paired by the key each request was sent with.
        self.pairing: Pairing[Hashable, _Pending] = Pairing(max_pending=0x10000, history=0)
        self.outstanding = self.pairing.pending

    def _connect(self) -> bool:
        run = self.run
        try:
            self.transport = open_transport(run.target, timeout=run.connect_timeout)
        except TransportError:
            if not run.connected_once:
                raise
            return False
        run.connected_once = True
        self.framer = self.correlation.framer()
        return True

    def send(self, p: _Pending) -> None:
        if self.transport is None and not self._connect():
            p.device_done, p.detail = True, f"could not connect to {self.run.target}"
            self.flow.complete(p)
            return
        assert self.transport is not None
        key = self.next_key
        while key in self.outstanding:
            key = self.correlation.following(key)
        self.next_key = self.correlation.following(key)
        p.sent_tid = key
        p.sent_at = time.monotonic()
        try:
            self.transport.send(self.correlation.rekey(p.request, key))
        except TransportError as exc:
            self._lost(f"the device closed the connection ({exc})")
            p.device_done, p.detail = True, f"not sent: {exc}"
            self.flow.complete(p)
            return
        self.pairing.open(key, p)
        if len(self.outstanding) >= self.run.window:
            self.wait(self.run.window - 1)

    def wait(self, most: int) -> None:
        """Receive until at most ``most`` requests are outstanding; the oldest times out first."""
        while len(self.outstanding) > most:
            oldest = next(iter(self.outstanding.values()))
            assert oldest.sent_tid is not None
            deadline = oldest.sent_at + self.run.timeout
            if not self._receive(deadline) and self.outstanding.get(oldest.sent_tid) is oldest:
                self.pairing.expire(oldest.sent_tid)
                oldest.device_done = True
                oldest.detail = oldest.detail or f"no answer within {self.run.timeout:g} s"
                self.flow.complete(oldest)

    def _receive(self, deadline: float) -> bool:
        """One receive before ``deadline``; False on time-out or a closed connection."""
        transport = self.transport
        if transport is None:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        try:
            data = transport.recv(65536, remaining)
        except TimeoutError:
            return False
        except TransportError as exc:
            self._lost(f"the device reset the connection ({exc})")
            return False
        if not data:
            self._lost("the device closed the connection")
            return False
        try:
            self.framer.feed(data)
            while (answer := self.framer.next_frame()) is not NEED_DATA:
                assert isinstance(answer, bytes)
                self._answer(answer)
        except DecodeError as err:
            self.flow.run.note(f"{self.flow.label}: the device sent unframeable bytes ({err.reason})")
        return True

    def _answer(self, answer: bytes) -> None:
        key = self.correlation.answer_key(answer)
        action, p = self.pairing.answer(key)
        if action != PAIR or p is None:  # late (timed out), a second answer, or invented
            self.flow.run.verdict(Exchange(verdict="unexpected", flow=self.flow.label, index=0, frame=0,
                                           request="", recorded_tid=None, sent_tid=key, device=answer,
                                           detail=f"an answer with {self.correlation.key_name} {key}, which "
                                           "matches no request outstanding (late or unsolicited)"))
            return
        p.device, p.device_done = answer, True
        self.flow.complete(p)

    def _lost(self, why: str) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        for key in list(self.outstanding):
            p = self.pairing.expire(key)
            p.device_done, p.detail = True, why
            self.flow.complete(p)

    def close(self) -> None:
        self.wait(0)
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class _Flow:
    """One recorded flow: its two framers, its exchanges, its connection."""

    def __init__(self, run: _Run, key: FlowKey, swapped: bool, correlation: Correlation) -> None:
        self.run = run
        client, server = (key.server, key.client) if swapped else (key.client, key.server)
        self.label = f"{client[0]}:{client[1]} -> {server[0]}:{server[1]}"
        self.swapped = swapped
        self.correlation = correlation
        self.framers = {True: correlation.framer(), False: correlation.framer()}
        # Recorded requests waiting for their recorded answer, paired by the recorded key.
        self.recorded: Pairing[Hashable, _Pending] = Pairing(max_pending=run.max_pending, history=0)
        self.requests = 0
        self.connection = _Connection(run, self)

    def data(self, from_client: bool, data: bytes, frame: int) -> None:
        framer = self.framers[from_client]
        try:
            framer.feed(data)
            while (message := framer.next_frame()) is not NEED_DATA:
                assert isinstance(message, bytes)
                if from_client:
                    self.request(message, frame)
                else:
                    self.recorded_answer(message)
        except DecodeError as err:
            side = "client" if from_client else "server"
            self.run.note(f"{self.label}: frame {frame}: recorded {side} bytes not framed ({err.reason}); "
                          "skipped")

    def gap(self, from_client: bool, missing: int, frame: int) -> None:
        self.framers[from_client] = self.correlation.framer()
        side = "client" if from_client else "server"
        self.run.note(f"{self.label}: frame {frame}: {missing} recorded {side} bytes missing from the capture"
                      + ("; requests in the gap were not replayed" if from_client else ""))

    def request(self, message: bytes, frame: int) -> None:
        self.requests += 1
        self.run.result.requests += 1
        key = self.correlation.request_key(message)
        p = _Pending(self.requests, frame, key, message)
        # A reused outstanding key, or one request too many: the displaced one got no recorded answer.
        for _why, _key, old in self.recorded.open(key, p):
            old.recorded_done = True
            self.complete(old)
        self.connection.send(p)

    def recorded_answer(self, message: bytes) -> None:
        action, p = self.recorded.answer(self.correlation.answer_key(message))
        if action != PAIR or p is None:
            return  # a recorded answer to no recorded request: nothing was sent for it
        p.recorded, p.recorded_done = message, True
        self.complete(p)

    def complete(self, p: _Pending) -> None:
        if not (p.device_done and p.recorded_done):
            return
        rec, dev = p.recorded, p.device
        differences: tuple[FieldDifference, ...] = ()
        verdict: Verdict
        if rec is None and dev is None:
            verdict = "identical"
        elif rec is None:
            verdict = "unexpected"
            p.detail = "the device answered; the recording has no answer to this request"
        elif dev is None:
            verdict = "missing"
        else:
            differences = compare_answers(rec, dev, self.correlation)
            verdict = "differs" if differences else "identical"
        self.run.verdict(Exchange(verdict=verdict, flow=self.label, index=p.index, frame=p.frame,
                                  request=self.correlation.describe(p.request), recorded_tid=p.recorded_tid,
                                  sent_tid=p.sent_tid, differences=differences, detail=p.detail,
                                  recorded=rec, device=dev))

    def close(self) -> None:
        self.connection.close()
        for key in list(self.recorded):
            p = self.recorded.forget(key)
            assert p is not None
            p.recorded_done = True
            self.complete(p)


class _Run:
    def __init__(self, result: SendResult, target: str, *, timeout: float, window: int,
                 max_pending: int, max_reported: int) -> None:
        self.result = result
        self.target = target
        self.timeout = timeout
        self.connect_timeout = max(timeout, 1.0)
        self.window = window
        self.max_pending = max_pending
        self.max_reported = max_reported
        self.connected_once = False

    def verdict(self, ex: Exchange) -> None:
        self.result.counts[ex.verdict] += 1
        if ex.verdict != "identical" and len(self.result.exchanges) < self.max_reported:
            self.result.exchanges.append(ex)

    def note(self, text: str) -> None:
        if len(self.result.notes) < self.max_reported:
            self.result.notes.append(text)


def correlated_ports(ports: Mapping[int, str] | None, scheme: str = "tcp") -> dict[int, Correlation]:
    """Port -> the correlation of its protocol, for the protocols that have one and run over
    ``scheme`` (a transport they declare), ``--port`` overrides applied."""
    from wireproof.harness.replay.registry import default_registry
    from wireproof.protocol import resolve

    registry = default_registry().with_ports(ports or {})
    made: dict[str, Correlation] = {}
    out: dict[int, Correlation] = {}
    for port, name in registry.port_table().items():
        spec = registry.get(name)
        if spec.correlation is None or "tcp" not in spec.transports or scheme not in spec.transports:
            continue
        if name not in made:
            made[name] = resolve(spec.correlation)()
        out[port] = made[name]
    return out


def run_send(path: str | Path, target_url: str, *, ports: Mapping[int, str] | None = None,
             timeout: float = 1.0, window: int = 1, max_pending: int = 1024,
             max_reported: int = 1000) -> SendResult:
    """Replay the client side of every correlated flow of the capture at ``path`` against ``target_url``.

    See the module docstring. ``timeout`` is how long to wait for each answer
    (seconds); ``window`` how many requests may be outstanding per
    connection. Raises :class:`~wireproof.errors.FixtureError` (capture),
    :class:`~wireproof.errors.HarnessError` (not a byte-stream target URL,
    or no protocol that can be sent) or
    :class:`~wireproof.errors.TransportError` (the first connection failed).
    """
    from wireproof.harness.replay.capture import iter_capture
    from wireproof.harness.replay.dissector import Dissector

    if window < 1:
        raise HarnessError(f"the send window must be at least 1, not {window}")
    if not timeout > 0:
        raise HarnessError(f"the answer timeout must be positive, not {timeout}")
    target = parse_url(target_url)
    scheme = scheme_for(target_url)
    by_port = correlated_ports(ports, scheme.name) if scheme.kind == "stream" else {}
    if not by_port:
        known = sorted({n for t in correlated_ports(ports, "tcp").values() for n in [t.protocol]})
        raise HarnessError(f"{target_url!r}: --send needs a target its protocols run over "
                           f"(tcp://HOST:PORT for {', '.join(known) or 'none registered'})")
    started = time.monotonic()
    result = SendResult(file=str(path), target=target.url)
    run = _Run(result, target.url, timeout=timeout, window=window, max_pending=max_pending,
               max_reported=max_reported)
    dissector = Dissector(ports_of_interest=frozenset(by_port))
    flows: dict[FlowKey, _Flow] = {}

    def flow_of(key: FlowKey) -> _Flow | None:
        f = flows.get(key)
        if f is None and key.transport == "tcp":
            swapped = key.server[1] not in by_port and key.client[1] in by_port
            if key.server[1] in by_port or swapped:
                correlation = by_port[key.client[1] if swapped else key.server[1]]
                f = flows[key] = _Flow(run, key, swapped, correlation)
                result.flows += 1
        return f

    def handle(ev: Event) -> None:
        if isinstance(ev, StreamData | StreamGap):
            f = flow_of(ev.flow)
            if f is None:
                return
            if isinstance(ev, StreamData):
                f.data(ev.from_client ^ f.swapped, ev.data, ev.frame)
            else:
                f.gap(ev.from_client ^ f.swapped, ev.missing, ev.frame)
        elif isinstance(ev, FlowClosed):
            f = flows.pop(ev.flow, None)
            if f is not None:
                f.close()

    reader = iter_capture(path, on_damage="stop")
    try:
        for frame in reader:
            for ev in dissector.feed(frame):
                handle(ev)
        for ev in dissector.finish():
            handle(ev)
        while flows:
            flows.popitem()[1].close()
    finally:
        for f in flows.values():
            if f.connection.transport is not None:
                f.connection.transport.close()
    result.seconds = time.monotonic() - started
    if reader.damage is not None:
        result.damage = reader.damage
        result.notes.append(f"damaged input: {reader.damage.describe()}; sent what came before it")
    return result


# --- reports -------------------------------------------------------------------------------


def send_json(result: SendResult) -> dict[str, Any]:
    """The ``wireproof.replay-send/1`` document."""
    return {"schema": SCHEMA, "file": result.file, "target": result.target, "flows": result.flows,
            "requests": result.requests, "verdicts": {v: result.counts[v] for v in VERDICTS},
            "ok": result.ok, "exchanges": [e.to_json() for e in result.exchanges],
            "notes": list(result.notes), "seconds": round(result.seconds, 3),
            "damage": None if result.damage is None else result.damage.to_json()}


def _value(v: Any) -> str:
    return json.dumps(v) if isinstance(v, str) else repr(v)


def render_send_text(result: SendResult) -> str:
    """The human report: counts, then each exchange that is not identical, field by field."""
    c = result.counts
    lines = [f"{result.file} sent to {result.target}: {result.flows} flows, {result.requests} requests "
             f"in {result.seconds:.2f} s",
             f"  {c['identical']} identical, {c['differs']} differ, {c['missing']} missing answers, "
             f"{c['unexpected']} unexpected answers"]
    for ex in result.exchanges:
        where = (f"request #{ex.index} (frame {ex.frame}, recorded tid {ex.recorded_tid}, sent as tid "
                 f"{ex.sent_tid})" if ex.frame else f"sent tid {ex.sent_tid}")
        lines.append(f"{ex.verdict.upper()}: {ex.flow}: {where}")
        if ex.request:
            lines.append(f"    request: {ex.request}")
        for d in ex.differences:
            lines.append(f"    {d.path}: recorded {_value(d.recorded)}, device {_value(d.device)}")
        if ex.detail:
            lines.append(f"    {ex.detail}")
        if ex.verdict == "unexpected" and ex.device is not None:
            lines.append(f"    device answer: {ex.device.hex(' ')}")
    shown = sum(c[v] for v in VERDICTS[1:])
    if shown > len(result.exchanges):
        lines.append(f"({shown - len(result.exchanges)} more not shown; --json lists the first "
                     f"{len(result.exchanges)})")
    for note in result.notes:
        lines.append(f"note: {note}")
    lines.append("all answers identical to the recording" if result.ok else
                 "the device's answers differ from the recording")
    return "\n".join(lines) + "\n"


def send_replay(path: str | Path, target_url: str, *, ports: Mapping[int, str] | None = None,
                timeout: float = 1.0, json_output: bool = False, window: int = 1,
                out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """``wireproof replay FILE --send URL``: run, print the report, return the exit code.

    0: every answer identical; 1: differences (or missing / unexpected
    answers); 2: the capture or the target could not be used (message on ``err``);
    3: a damaged capture, every answer before the damage identical.
    """
    stdout = out if out is not None else sys.stdout
    stderr = err if err is not None else sys.stderr
    try:
        result = run_send(path, target_url, ports=ports, timeout=timeout, window=window)
    except (FixtureError, HarnessError) as exc:
        print(f"wireproof replay: error: {exc}", file=stderr)
        return 2
    except OSError as exc:
        print(f"wireproof replay: error: {exc.filename or path}: {exc.strerror or exc}", file=stderr)
        return 2
    if json_output:
        stdout.write(json.dumps(send_json(result), indent=2, default=str) + "\n")
    else:
        stdout.write(render_send_text(result))
    return result.exit_code
