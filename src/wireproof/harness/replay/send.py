"""``wireproof replay FILE --send tcp://HOST:PORT``: a capture becomes a regression test.

Normative references: MB-TCP 3.1.3 (the transaction identifier pairs a
response with its request; "the MODBUS server copies in the response the
transaction identifier of the request"), MB-TCP 4.4.1 (the client manages
its response time-out; several requests may be outstanding on one
connection), MB-AP 4.1 (a response carries the request's function code).

Theory of operation
-------------------
The capture streams through the :class:`~.dissector.Dissector` (TCP
reassembly, both directions) in capture order. Each Modbus/TCP flow (server
port 502, or a port mapped to ``modbus-tcp`` with ``--port``) gets its own
connection to the target, opened at the flow's first request and closed when
the recorded flow closes, so per-connection state on the device (none, for
Modbus, but a gateway may keep some) is exercised as recorded.

Each direction is cut into ADUs by the codec's
:class:`~wireproof.codecs.modbus.framers.TcpFramer`. Every recorded request
is sent as recorded except its transaction id, which is re-sequenced per
connection (1, 2, 3, ...): a recorded id may repeat, and the device must not
be able to pass by echoing ids it saw in some other session. With
``window = 1`` (the default) a request is sent only once the previous
answer arrived or timed out (lock-step, so writes and reads stay in the
recorded global order); a larger window keeps up to ``window`` requests
outstanding per connection, as a pipelining client would (MB-TCP 4.4.1).

The device's answer is matched by its (fresh) transaction id, the recorded
answer by the recorded id; then each recorded request gets one verdict:

- ``identical``: both answers decode to the same unit id and PDU fields
  (:func:`~wireproof.codecs.message_fields`; the transaction id is ignored),
  or neither side answered;
- ``differs``: both answered, and the fields named in ``differences``
  (``pdu.values[3]``, ``pdu.function_code``, ``unit_id``; the raw bytes when
  an answer does not decode) are not the same;
- ``missing``: the recording has an answer, the device gave none within
  ``timeout`` seconds (or closed the connection);
- ``unexpected``: the device answered a request the recording shows
  unanswered, or sent an answer whose transaction id matches nothing
  outstanding (a late or invented answer).

Memory: a flow's state is its outstanding exchanges (at most
``max_pending`` recorded requests waiting for their recorded answer) and
the framers' buffers; the report keeps the first ``max_reported`` verdicts
other than ``identical`` and counts them all.

Errors: an unreadable capture is a :class:`~wireproof.errors.FixtureError`;
a target that cannot be reached at the first connection is a
:class:`~wireproof.errors.TransportError` naming the URL (``wireproof
replay`` exits 2); later connection failures make the affected requests
``missing``.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from wireproof.codecs import message_fields
from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.modbus import tcp_codec
from wireproof.codecs.modbus.framers import TcpFramer
from wireproof.errors import DecodeError, FixtureError, HarnessError, TransportError
from wireproof.harness.replay.events import Event, FlowClosed, FlowKey, StreamData, StreamGap
from wireproof.harness.transports import TcpAddress, TcpTransport, parse_url

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
PROTOCOL = "modbus-tcp"
Verdict = Literal["identical", "differs", "missing", "unexpected"]
VERDICTS: tuple[Verdict, ...] = ("identical", "differs", "missing", "unexpected")
_CODEC = tcp_codec()


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
    request); ``recorded_tid`` / ``sent_tid`` the transaction ids in the
    capture and on the wire; ``request`` a one-line description.
    """

    verdict: Verdict
    flow: str
    index: int
    frame: int
    request: str
    recorded_tid: int | None
    sent_tid: int | None
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

    @property
    def ok(self) -> bool:
        """Every request got the recorded answer (and nothing else came)."""
        return all(self.counts[v] == 0 for v in VERDICTS[1:])

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


# --- comparing two answers ----------------------------------------------------------------


def _plain(adu: bytes) -> dict[str, Any] | None:
    try:
        decoded = _CODEC.decode_response(adu)
    except DecodeError:
        return None
    return {"unit_id": decoded.unit_id, "pdu": message_fields(decoded.pdu)}


def _diff(path: str, a: Any, b: Any, out: list[FieldDifference]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            _diff(f"{path}.{key}" if path else str(key), a.get(key), b.get(key), out)
    elif isinstance(a, list | tuple) and isinstance(b, list | tuple) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(f"{path}[{i}]", x, y, out)
    elif a != b:
        out.append(FieldDifference(path=path, recorded=a, device=b))


def compare_answers(recorded: bytes, device: bytes) -> tuple[FieldDifference, ...]:
    """The fields in which two response ADUs differ, the transaction id ignored (MB-TCP 3.1.3).

    Both decoded: unit id and PDU fields, element by element in sequences of
    equal length (``pdu.values[2]``), whole otherwise. When either does not
    decode, the bytes after the transaction id are compared (``adu``, hex).
    """
    a, b = _plain(recorded), _plain(device)
    if a is None or b is None:
        if recorded[2:] == device[2:]:
            return ()
        return (FieldDifference(path="adu", recorded=recorded[2:].hex(), device=device[2:].hex()),)
    out: list[FieldDifference] = []
    _diff("", a, b, out)
    return tuple(out)


def _describe(adu: bytes) -> str:
    try:
        decoded = _CODEC.decode_request(adu)
    except DecodeError as err:
        return f"undecodable request ({err.reason}): {adu.hex()}"
    fields = message_fields(decoded.pdu)
    name = fields.pop("type")
    args = ", ".join(f"{k}={v}" for k, v in fields.items())
    text = f"unit {decoded.unit_id} {name}({args})"
    return text if len(text) <= 160 else text[:157] + "..."


# --- the replay ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Pending:
    index: int
    frame: int
    recorded_tid: int
    request: bytes
    sent_tid: int | None = None
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
        self.transport: TcpTransport | None = None
        self.framer = TcpFramer()
        self.next_tid = 1
        self.outstanding: dict[int, _Pending] = {}

    def _connect(self) -> bool:
        run = self.run
        try:
            self.transport = TcpTransport.connect(run.address.host, run.address.port,
                                                  timeout=run.connect_timeout)
        except TransportError:
            if not run.connected_once:
                raise
            return False
        run.connected_once = True
        self.framer = TcpFramer()
        return True

    def send(self, p: _Pending) -> None:
        if self.transport is None and not self._connect():
            p.device_done, p.detail = True, f"could not connect to {self.run.address.url}"
            self.flow.complete(p)
            return
        assert self.transport is not None
        tid = self.next_tid
        while tid in self.outstanding:
            tid = tid % 0xFFFF + 1
        self.next_tid = tid % 0xFFFF + 1
        p.sent_tid = tid
        p.sent_at = time.monotonic()
        try:
            self.transport.send(tid.to_bytes(2, "big") + p.request[2:])
        except TransportError as exc:
            self._lost(f"the device closed the connection ({exc})")
            p.device_done, p.detail = True, f"not sent: {exc}"
            self.flow.complete(p)
            return
        self.outstanding[tid] = p
        if len(self.outstanding) >= self.run.window:
            self.wait(self.run.window - 1)

    def wait(self, most: int) -> None:
        """Receive until at most ``most`` requests are outstanding; the oldest times out first."""
        while len(self.outstanding) > most:
            oldest = next(iter(self.outstanding.values()))
            assert oldest.sent_tid is not None
            deadline = oldest.sent_at + self.run.timeout
            if not self._receive(deadline) and self.outstanding.get(oldest.sent_tid) is oldest:
                del self.outstanding[oldest.sent_tid]
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
            while (adu := self.framer.next_frame()) is not NEED_DATA:
                assert isinstance(adu, bytes)
                self._answer(adu)
        except DecodeError as err:
            self.flow.run.note(f"{self.flow.label}: the device sent unframeable bytes ({err.reason})")
        return True

    def _answer(self, adu: bytes) -> None:
        tid = int.from_bytes(adu[:2], "big")
        p = self.outstanding.pop(tid, None)
        if p is None:
            self.flow.run.verdict(Exchange(verdict="unexpected", flow=self.flow.label, index=0, frame=0,
                                           request="", recorded_tid=None, sent_tid=tid, device=adu,
                                           detail=f"an answer with transaction id {tid}, which matches no "
                                           "request outstanding (late or unsolicited)"))
            return
        p.device, p.device_done = adu, True
        self.flow.complete(p)

    def _lost(self, why: str) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        for p in list(self.outstanding.values()):
            p.device_done, p.detail = True, why
            self.flow.complete(p)
        self.outstanding.clear()

    def close(self) -> None:
        self.wait(0)
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class _Flow:
    """One recorded Modbus/TCP flow: its two framers, its exchanges, its connection."""

    def __init__(self, run: _Run, key: FlowKey, swapped: bool) -> None:
        self.run = run
        client, server = (key.server, key.client) if swapped else (key.client, key.server)
        self.label = f"{client[0]}:{client[1]} -> {server[0]}:{server[1]}"
        self.swapped = swapped
        self.framers = {True: TcpFramer(), False: TcpFramer()}
        self.by_recorded: OrderedDict[int, _Pending] = OrderedDict()  # waiting for the recorded answer
        self.requests = 0
        self.connection = _Connection(run, self)

    def data(self, from_client: bool, data: bytes, frame: int) -> None:
        framer = self.framers[from_client]
        try:
            framer.feed(data)
            while (adu := framer.next_frame()) is not NEED_DATA:
                assert isinstance(adu, bytes)
                if from_client:
                    self.request(adu, frame)
                else:
                    self.recorded_answer(adu)
        except DecodeError as err:
            side = "client" if from_client else "server"
            self.run.note(f"{self.label}: frame {frame}: recorded {side} bytes not framed ({err.reason}); "
                          "skipped")

    def gap(self, from_client: bool, missing: int, frame: int) -> None:
        self.framers[from_client] = TcpFramer()
        side = "client" if from_client else "server"
        self.run.note(f"{self.label}: frame {frame}: {missing} recorded {side} bytes missing from the capture"
                      + ("; requests in the gap were not replayed" if from_client else ""))

    def request(self, adu: bytes, frame: int) -> None:
        self.requests += 1
        self.run.result.requests += 1
        tid = int.from_bytes(adu[:2], "big")
        p = _Pending(self.requests, frame, tid, adu)
        old = self.by_recorded.pop(tid, None)
        if old is not None:  # the recording reuses an outstanding id: the old one got no recorded answer
            old.recorded_done = True
            self.complete(old)
        self.by_recorded[tid] = p
        if len(self.by_recorded) > self.run.max_pending:
            _, oldest = self.by_recorded.popitem(last=False)
            oldest.recorded_done = True
            self.complete(oldest)
        self.connection.send(p)

    def recorded_answer(self, adu: bytes) -> None:
        p = self.by_recorded.pop(int.from_bytes(adu[:2], "big"), None)
        if p is None:
            return  # a recorded answer to no recorded request: nothing was sent for it
        p.recorded, p.recorded_done = adu, True
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
            differences = compare_answers(rec, dev)
            verdict = "differs" if differences else "identical"
        self.run.verdict(Exchange(verdict=verdict, flow=self.label, index=p.index, frame=p.frame,
                                  request=_describe(p.request), recorded_tid=p.recorded_tid,
                                  sent_tid=p.sent_tid, differences=differences, detail=p.detail,
                                  recorded=rec, device=dev))

    def close(self) -> None:
        self.connection.close()
        for p in list(self.by_recorded.values()):
            p.recorded_done = True
            self.complete(p)
        self.by_recorded.clear()


class _Run:
    def __init__(self, result: SendResult, address: TcpAddress, *, timeout: float, window: int,
                 max_pending: int, max_reported: int) -> None:
        self.result = result
        self.address = address
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


def _modbus_ports(ports: Mapping[int, str] | None) -> frozenset[int]:
    from wireproof.harness.replay.registry import default_registry

    table = default_registry().with_ports(ports or {}).port_table()
    return frozenset(p for p, name in table.items() if name == PROTOCOL)


def run_send(path: str | Path, target_url: str, *, ports: Mapping[int, str] | None = None,
             timeout: float = 1.0, window: int = 1, max_pending: int = 1024,
             max_reported: int = 1000) -> SendResult:
    """Replay the client side of every Modbus/TCP flow of the capture at ``path`` against ``target_url``.

    See the module docstring. ``timeout`` is how long to wait for each answer
    (seconds); ``window`` how many requests may be outstanding per
    connection. Raises :class:`~wireproof.errors.FixtureError` (capture),
    :class:`~wireproof.errors.HarnessError` (not a ``tcp://`` URL) or
    :class:`~wireproof.errors.TransportError` (the first connection failed).
    """
    from wireproof.harness.replay.capture import iter_capture
    from wireproof.harness.replay.dissector import Dissector

    if window < 1:
        raise HarnessError(f"the send window must be at least 1, not {window}")
    if not timeout > 0:
        raise HarnessError(f"the answer timeout must be positive, not {timeout}")
    address = parse_url(target_url)
    if not isinstance(address, TcpAddress):
        raise HarnessError(f"{target_url!r}: --send needs a tcp://HOST:PORT target (Modbus/TCP)")
    started = time.monotonic()
    result = SendResult(file=str(path), target=address.url)
    run = _Run(result, address, timeout=timeout, window=window, max_pending=max_pending,
               max_reported=max_reported)
    modbus = _modbus_ports(ports)
    dissector = Dissector(ports_of_interest=modbus)
    flows: dict[FlowKey, _Flow] = {}

    def flow_of(key: FlowKey) -> _Flow | None:
        f = flows.get(key)
        if f is None and key.transport == "tcp":
            swapped = key.server[1] not in modbus and key.client[1] in modbus
            if key.server[1] in modbus or swapped:
                f = flows[key] = _Flow(run, key, swapped)
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

    try:
        for frame in iter_capture(path):
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
    return result


# --- reports -------------------------------------------------------------------------------


def send_json(result: SendResult) -> dict[str, Any]:
    """The ``wireproof.replay-send/1`` document."""
    return {"schema": SCHEMA, "file": result.file, "target": result.target, "flows": result.flows,
            "requests": result.requests, "verdicts": {v: result.counts[v] for v in VERDICTS},
            "ok": result.ok, "exchanges": [e.to_json() for e in result.exchanges],
            "notes": list(result.notes), "seconds": round(result.seconds, 3)}


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
    answers); 2: the capture or the target could not be used (message on ``err``).
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
