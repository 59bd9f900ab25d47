"""The replay engine's dispatch: flow events in, analyzers driven, counters and findings out.

Theory of operation
-------------------
:func:`run_loop` takes the reader's records through the
:class:`~.dissector.Dissector`, which turns frames into flow events, and
dispatches each event to the analyzer of its flow's protocol (framer ->
codec -> passive machine; :mod:`wireproof.codecs._analysis` is their
contract). :func:`~.run.replay` sets it up (the registry, the analytics,
a second process for them, the file) and returns the
:class:`~.result.ReplayResult` it fills. No protocol is named here: the
registry (:mod:`.registry`, built from the protocol descriptors) says
which protocol a flow speaks and which analyzer takes it. Memory stays flat:

- frames are never kept; the dissector bounds its flow table and buffers;
- findings go to a sink as they are found (by default a
  :class:`~.findings.FindingCollector` that counts them all and keeps the
  first ``max_findings``);
- the flows table keeps at most ``max_flows`` records; later flows are
  analysed and counted but not listed (``flows_dropped``);
- per-function and per-table statistics are dictionaries keyed by names the
  analyzers choose from small vocabularies;
- the analytics are fed in batches: each flow buffers its frames (time,
  payload size) and message times, up to 256, and hands them over when
  full, when the connection closes and at the end; register values go a
  block per message to :meth:`.Analytics.values`, which buffers them itself.
  Message counts are kept per flow and added to the result when it closes.

The hot loop takes the reader's record tuples and, for the dissector's fast
path (an in-order Ethernet/IPv4/TCP segment), passes the payload to
:meth:`Engine.on_stream` without building a Frame or an event.

A flow's protocol is decided once: by port (the registry, with the
``ports`` overrides), else by what it carries (the protocols' content
heuristics, asked in registration order), else it is ``unknown``. On a
byte stream the heuristics see the flow's first bytes per direction,
gathered over its first data events (up to ``_GUESS_BYTES``) while they
answer "need more" (None); the events held meanwhile are handed to the
analyzer once the protocol is decided, so no byte is lost to the guess. A
message transport (a CAN bus) is decided by its first message, else by a
protocol declaring the transport without a heuristic. When the port that
decided is the dissector's client side, the sides are swapped for the
analyzer (a capture that starts mid-flow leaves the dissector guessing).
Protocols registered without an analyzer are counted and listed as "not
yet available".

Resynchronisation (:mod:`wireproof.codecs._resync`): an analyzer that
offers ``plausible_header(from_client, data)`` has its lost stream
positions recovered here, the same way for every protocol. After a
``StreamGap`` (its ``on_gap`` is still called), and from the start on a
flow whose handshake the capture missed, the direction is *lost*: its
segments are counted and skipped until one starts with what
``plausible_header`` accepts, and decoding resumes there; the skipped span
is one ``replay.resync`` finding (when decoding resumes, or at the close if
it never does). A flow whose analyzer has no ``plausible_header`` gets every
byte, as before.

Byte streams reach an analyzer's ``on_data``/``on_gap``, datagrams its
``on_datagram``, messages its ``on_message``. The transport's own oddities
become findings too (``tcp.gap``, ``tcp.retransmission``, ...; RFC 9293 3.4
and 3.10.7.4), as do frames the dissector could not take apart
(``<layer>.malformed``).

``flow_filter`` limits the analysis (and the flows table, and the findings)
to the flows it accepts; frames outside them are still read and counted.
Capture-level findings (malformed frames, which belong to no flow) are
reported only when ``capture_findings`` says so. This is how pytest items
share a capture out (:mod:`.pytest_items`).

An analyzer that raises is a bug, not a verdict on the traffic: the engine
reports ``replay.analyzer-error`` and stops analysing that flow.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from wireproof.codecs._analysis import Direction, FlowAnalyzer, FlowContext
from wireproof.harness.replay.events import (
    CanMessage,
    Datagram,
    FlowClosed,
    FlowKey,
    FlowOpened,
    Malformed,
    StreamAnomaly,
    StreamData,
    StreamGap,
)
from wireproof.harness.replay.findings import Finding, FindingSink, Severity
from wireproof.harness.replay.registry import ProtocolSpec, Registry
from wireproof.harness.replay.result import UNKNOWN, FlowRecord, ReplayResult, endpoint_text, flow_label

if TYPE_CHECKING:
    from wireproof.harness.replay.capture import CaptureReader
    from wireproof.harness.replay.dissector import Dissector

__all__ = ["AnalyticsFeed", "Engine", "FlowFilter", "ProgressCallback", "run_loop"]

ProgressCallback = Callable[[int, int, int], None]  # (bytes read, file size, frames)
FlowFilter = Callable[[FlowKey], bool]

_HEURISTIC_TRIES = 4  # data events looked at before a flow on an unknown port is "unknown"
_GUESS_BYTES = 512  # a direction's first bytes the heuristics may see
_MAX_STAT_KEYS = 1000  # per statistics table
_PROGRESS_EVERY = 4096  # frames
_ANALYTICS_BATCH = 256  # frames (or messages) of a flow handed to the analytics at once


class AnalyticsFeed(Protocol):
    """What the engine feeds: an :class:`~.analytics.Analytics`, an
    :class:`~.analytics_process.AnalyticsProcess`, or a worker's recorder (:mod:`.workers`)."""

    def frame_batch(self, flow_label: str, protocol: str, timestamps: list[float],
                    sizes: list[int]) -> None: ...
    def message_batch(self, flow_label: str, timestamps: list[float]) -> None: ...
    def value(self, series: str, timestamp: float, value: float) -> None: ...
    def values(self, series_base: str, start: int, timestamp: float, values: Any) -> None: ...
    def flush(self) -> None: ...


# RFC 9293: the sequence space (3.4) and segment arrival (3.10.7.4).
_TCP_RULES: dict[str, tuple[Severity, str]] = {
    "gap": ("warning", "RFC 9293 3.4"),
    "retransmission": ("info", "RFC 9293 3.10.7.4"),
    "out_of_order": ("info", "RFC 9293 3.10.7.4"),
    "overlap_conflict": ("warning", "RFC 9293 3.10.7.4"),
    "midstream_start": ("info", "RFC 9293 3.5"),
    "data_after_close": ("warning", "RFC 9293 3.6"),
    "buffer_overflow": ("warning", "RFC 9293 3.10.7.4"),
}
_DIRECTION: dict[str, Direction] = {"client": "client -> server", "server": "server -> client"}


# The standard each layer the dissector takes apart is defined by.
_LAYER_CLAUSES: dict[str, str] = {
    "ethernet": "IEEE 802.3 3.1.1", "raw": "RFC 791 3.1", "ipv4": "RFC 791 3.1", "ipv6": "RFC 8200 3",
    "ip-fragment": "RFC 791 3.2", "fragment": "RFC 791 3.2", "tcp": "RFC 9293 3.1", "udp": "RFC 768",
    "socketcan": "ISO 11898-1",
}


# An event held while a flow's protocol is being guessed: (method, from_client, payload, frame, ts).
_Held = tuple[str, bool, Any, int, float]


@dataclass(slots=True)
class _Active:
    record: FlowRecord
    handshake: bool
    spec: ProtocolSpec | None = None
    swapped: bool = False
    decided: bool = False
    tries: int = 0
    analyzer: FlowAnalyzer | None = None
    sink: _FlowSink | None = None
    held: list[_Held] | None = None  # what came before the protocol was known
    prefix: dict[bool, bytes] | None = None  # each direction's first bytes, for the heuristics
    resync: Callable[[bool, bytes], bool] | None = None  # the analyzer's plausible_header, if any
    lost: dict[bool, _Lost] | None = None  # directions (the dissector's from_client) skipped to a header


@dataclass(slots=True)
class _Lost:
    """A direction out of step: what was missing, then skipped while no segment started a message."""

    missing: int = 0  # bytes the capture lost (0: it started mid-stream)
    skipped: int = 0
    segments: int = 0
    first: int = 0  # frame of the first segment skipped


def _no_values(series_base: str, start: int, timestamp: float, values: Any) -> None:
    """Values with the analytics off."""


class _FlowSink:
    """The :class:`~wireproof.codecs._analysis.Sink` one flow's analyzer reports to.

    Messages of the flow's own protocol are counted here, per function, and
    added to the result's counters by :meth:`settle` (when the flow closes,
    and at the end): one small dictionary update per message instead of four
    counters. A frame is one flow's, so counting the frames with messages per
    flow counts them per protocol.
    """

    __slots__ = ("_counts", "_engine", "_frames", "_last_frame", "_protocol", "_record", "values")

    def __init__(self, engine: Engine, record: FlowRecord, protocol: str) -> None:
        self._engine = engine
        self._record = record
        self._protocol = protocol
        self._counts: dict[str, int] = {}
        self._frames = 0
        self._last_frame = -1
        # Registers ``start``, ``start + 1``, ... of one message (:meth:`.Analytics.values`):
        # the analytics' own method, so a message's values take no call through here.
        self.values: Callable[[str, int, float, Any], None] = \
            engine.analytics.values if engine.analytics is not None else _no_values

    def finding(self, finding: Finding) -> None:
        self._engine.emit(finding, self._record)

    def settle(self) -> None:
        """Add the messages counted so far to the result."""
        if not self._counts:
            return
        result, protocol = self._engine.result, self._protocol
        result.messages[protocol] += sum(self._counts.values())
        result.message_frames[protocol] += self._frames
        functions = result.functions.get(protocol)
        if functions is None:
            functions = result.functions[protocol] = Counter()
        for function, n in self._counts.items():
            if function in functions or len(functions) < _MAX_STAT_KEYS:
                functions[function] += n
        self._counts = {}
        self._frames = 0

    def message(self, protocol: str, function: str, frame: int, timestamp: float) -> None:
        engine = self._engine
        if protocol == self._protocol:
            counts = self._counts
            n = counts.get(function)
            if n is not None:
                counts[function] = n + 1
            elif len(counts) < _MAX_STAT_KEYS:
                counts[function] = 1
            else:  # an analyzer with a big vocabulary: the result's table decides what is kept
                self.settle()
                counts[function] = 1
            if frame != self._last_frame:
                self._last_frame = frame
                self._frames += 1
        else:
            result = engine.result
            result.messages[protocol] += 1
            if engine.last_message_frame.get(protocol) != frame:
                engine.last_message_frame[protocol] = frame
                result.message_frames[protocol] += 1
            functions = result.functions.setdefault(protocol, Counter())
            if function in functions or len(functions) < _MAX_STAT_KEYS:
                functions[function] += 1
        record = self._record
        record.messages += 1
        if engine.analytics is not None:
            times = record._message_times
            if not times and not record._frame_times:
                engine.buffered[id(record)] = record
            times.append(timestamp)
            if len(times) >= _ANALYTICS_BATCH:
                engine.flush(record)

    def decode_error(self, protocol: str) -> None:
        self._engine.result.decode_errors[protocol] += 1

    def value(self, series: str, timestamp: float, value: float) -> None:
        if self._engine.analytics is not None:
            self._engine.analytics.value(series, timestamp, value)

    def statistic(self, protocol: str, table: str, key: str) -> None:
        tables = self._engine.result.statistics.setdefault(protocol, {})
        counts = tables.setdefault(table, Counter())
        if key in counts or len(counts) < _MAX_STAT_KEYS:
            counts[key] += 1


class Engine:
    """One replay's dispatch state: the flows open, their analyzers and sinks (module docstring)."""

    def __init__(self, result: ReplayResult, registry: Registry, sink: FindingSink, *,
                 analytics: AnalyticsFeed | None, flow_filter: FlowFilter | None,
                 capture_findings: bool,
                 max_flows: int, timeout: float, analyze: bool = True) -> None:
        self.result = result
        self.analyze = analyze
        self.registry = registry
        self.sink = sink
        self.analytics = analytics
        self.flow_filter = flow_filter
        self.capture_findings = capture_findings
        self.max_flows = max_flows
        self.timeout = timeout
        self.active: dict[FlowKey, _Active | None] = {}  # None: filtered out
        self.last_key: FlowKey | None = None  # on_data's one-entry cache of self.active
        self.last_state: _Active | None = None
        self.records: dict[FlowKey, FlowRecord] = {}
        self.buffered: dict[int, FlowRecord] = {}  # records holding frames for the analytics
        self.last_message_frame: dict[str, int] = {}
        self.handlers: dict[type, Callable[[Any], None]] = {
            StreamData: self.on_data, StreamGap: self.on_gap, StreamAnomaly: self.on_anomaly,
            FlowOpened: self.on_opened, FlowClosed: self.on_closed, Datagram: self.on_datagram,
            CanMessage: self.on_message, Malformed: self.on_malformed,
        }

    # --- findings ------------------------------------------------------------------------

    def emit(self, finding: Finding, record: FlowRecord | None) -> None:
        if record is not None:
            record.findings += 1
            if finding.severity == "error":
                record.errors += 1
        self.sink(finding)

    # --- flows ---------------------------------------------------------------------------

    def _open(self, flow: FlowKey, ts: float, handshake: bool) -> _Active | None:
        self.last_key = None
        if self.flow_filter is not None and not self.flow_filter(flow):
            self.active[flow] = None
            return None
        record = self.records.get(flow)
        if record is None:
            self.result.flows_total += 1
            record = FlowRecord(flow=flow_label(flow), transport=flow.transport, protocol=UNKNOWN,
                                status=UNKNOWN, first=ts, last=ts, handshake=handshake)
            if len(self.records) < self.max_flows:
                self.records[flow] = record
                self.result.flows.append(record)
            else:
                self.result.flows_dropped += 1
        else:
            record.connections += 1
        state = _Active(record, handshake)
        self.active[flow] = state
        self.last_key = None
        # A bus (one endpoint: the interface) has no ports; its first message decides.
        found = self.registry.by_port(flow.transport, flow.client[1], flow.server[1]) \
            if flow.client != flow.server else None
        if found is not None:
            self._decide(flow, state, found[0], found[1])
        return state

    def _state(self, flow: FlowKey, ts: float) -> _Active | None:
        try:
            return self.active[flow]
        except KeyError:
            pass
        record = self.records.get(flow)
        if record is not None:  # an event after the flow closed: counted on its record, not analysed
            return _Active(record, False, decided=True)
        return self._open(flow, ts, False)  # a flow the dissector never opened

    def _decide(self, flow: FlowKey, state: _Active, spec: ProtocolSpec | None, swapped: bool) -> None:
        state.decided = True
        record = state.record
        if spec is None:
            return
        state.spec, state.swapped = spec, swapped
        record.protocol = spec.name
        record.flow = flow_label(flow, swapped)
        if not spec.available:
            record.status = "not yet available"
            return
        record.status = "analysed"
        if not self.analyze:
            return
        client, server = (flow.server, flow.client) if swapped else (flow.client, flow.server)
        context = FlowContext(transport=flow.transport, client=endpoint_text(client),
                              server=endpoint_text(server), label=record.flow, protocol=spec.name,
                              handshake=state.handshake, timeout=self.timeout,
                              values=self.analytics is not None)
        state.sink = _FlowSink(self, record, spec.name)
        state.analyzer = spec.factory()(context, state.sink)
        state.resync = getattr(state.analyzer, "plausible_header", None)
        if state.resync is not None and not state.handshake:  # mid-stream: find where messages start
            state.lost = {True: _Lost(), False: _Lost()}

    def _guess(self, flow: FlowKey, state: _Active, held: _Held) -> None:
        """Ask the heuristics about a flow on no known port; ``held`` waits for their answer.

        A byte stream's heuristics see each direction's first bytes so far (up
        to ``_GUESS_BYTES``), a datagram's or a message's the payload alone.
        Once decided, what was held goes to the analyzer in order.
        """
        method, from_client, payload, frame, ts = held
        state.tries += 1
        if state.held is None:
            state.held, state.prefix = [], {}
        state.held.append(held)
        if method == "on_data":
            assert state.prefix is not None
            seen = state.prefix[from_client] = (state.prefix.get(from_client, b"") + payload)[:_GUESS_BYTES]
        elif method == "on_gap":
            seen = b""
        else:
            seen = payload
        guess = self.registry.guess
        spec, more = (None, True) if method == "on_gap" else guess(flow.transport, seen, from_client)
        if spec is None and more and state.tries < _HEURISTIC_TRIES and len(seen) < _GUESS_BYTES:
            return
        self._decide(flow, state, spec, False)
        waiting, state.held, state.prefix = state.held, None, None
        if state.analyzer is not None:
            for method, from_client, payload, frame, ts in waiting:
                if method == "on_gap":
                    self._lose(state, from_client, payload)
                elif method == "on_data" and state.lost is not None and from_client in state.lost \
                        and not self._resume(state, from_client, payload, frame, ts):
                    continue
                self._call(state, frame, ts, method, from_client ^ state.swapped, payload, frame, ts)

    def _count(self, record: FlowRecord, frame: int, ts: float, nbytes: int) -> None:
        if record._last_frame != frame:
            record._last_frame = frame
            record.frames += 1
        record.bytes += nbytes
        record.last = ts
        if self.analytics is not None:
            times = record._frame_times
            if not times and not record._message_times:
                self.buffered[id(record)] = record
            times.append(ts)
            record._frame_sizes.append(nbytes)
            if len(times) >= _ANALYTICS_BATCH:
                self.flush(record)

    def flush(self, record: FlowRecord) -> None:
        """Hand a flow's buffered frames and messages to the analytics, under its current label.

        Buffers are bounded: a flow's are flushed when full and when it closes, and all
        of them when too many flows hold some (and at the end).
        """
        self.buffered.pop(id(record), None)
        analytics = self.analytics
        if analytics is None:
            return
        if record._frame_times:
            analytics.frame_batch(record.flow, record.protocol, record._frame_times, record._frame_sizes)
            record._frame_times, record._frame_sizes = [], []
        if record._message_times:
            analytics.message_batch(record.flow, record._message_times)
            record._message_times = []
        if len(self.buffered) > self.max_flows:
            self.flush_all()

    def flush_all(self) -> None:
        for record in list(self.buffered.values()):
            self.flush(record)

    def _call(self, state: _Active, frame: int, ts: float, method: str, *args: Any) -> None:
        try:
            getattr(state.analyzer, method)(*args)
        except Exception as exc:  # a bug in an analyzer must not end the replay
            self._failed(state, frame, ts, exc)

    def _failed(self, state: _Active, frame: int, ts: float, exc: Exception) -> None:
        record = state.record
        state.analyzer = None
        self.emit(Finding(frame=frame, timestamp=ts, flow=record.flow, protocol=record.protocol,
                          clause="", severity="error", rule="replay.analyzer-error",
                          message=f"the {record.protocol} analyzer failed ({type(exc).__name__}: {exc}); "
                          "the rest of this flow is not analysed"), record)

    # --- events --------------------------------------------------------------------------

    def on_opened(self, ev: FlowOpened) -> None:
        old = self.active.get(ev.flow)
        if old is not None and old.analyzer is not None:  # same ports, new connection
            self._call(old, ev.frame, ev.timestamp, "on_close", ev.frame, ev.timestamp, "end")
        if old is not None and old.sink is not None:
            old.sink.settle()
        self._open(ev.flow, ev.timestamp, ev.handshake)

    def on_data(self, ev: StreamData) -> None:
        self.on_stream(ev.flow, ev.from_client, ev.data, ev.frame, ev.timestamp)

    def on_stream(self, flow: FlowKey, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        """A :class:`~.events.StreamData`, taken apart (the hot loop calls this without the event)."""
        # The dissector hands out one FlowKey object per connection: an identity check
        # spares hashing the key for consecutive events of one flow (a polling capture).
        if flow is self.last_key:
            state = self.last_state
        else:
            state = self._state(flow, ts)
            self.last_key, self.last_state = flow, state
        if state is None:
            return
        # the hot path: _count inlined, no getattr, no argument tuple
        record = state.record
        if record._last_frame != frame:
            record._last_frame = frame
            record.frames += 1
        record.bytes += len(data)
        record.last = ts
        if self.analytics is not None:
            times = record._frame_times
            if not times and not record._message_times:
                self.buffered[id(record)] = record
            times.append(ts)
            record._frame_sizes.append(len(data))
            if len(times) >= _ANALYTICS_BATCH:
                self.flush(record)
        if not state.decided:
            self._guess(flow, state, ("on_data", from_client, data, frame, ts))
            return
        analyzer = state.analyzer
        if analyzer is not None:
            if state.lost is not None and from_client in state.lost \
                    and not self._resume(state, from_client, data, frame, ts):
                return
            try:
                analyzer.on_data(from_client ^ state.swapped, data, frame, ts)
            except Exception as exc:
                self._failed(state, frame, ts, exc)

    def on_datagram(self, ev: Datagram) -> None:
        state = self._state(ev.flow, ev.timestamp)
        if state is None:
            return
        self._count(state.record, ev.frame, ev.timestamp, len(ev.data))
        if not state.decided:
            self._guess(ev.flow, state, ("on_datagram", ev.from_client, ev.data, ev.frame, ev.timestamp))
        elif state.analyzer is not None:
            self._call(state, ev.frame, ev.timestamp, "on_datagram", ev.from_client ^ state.swapped, ev.data,
                       ev.frame, ev.timestamp)

    def on_gap(self, ev: StreamGap) -> None:
        state = self._state(ev.flow, ev.timestamp)
        if state is None:
            return
        record = state.record
        who = "client" if ev.from_client ^ state.swapped else "server"
        severity, clause = _TCP_RULES["gap"]
        self.emit(Finding(frame=ev.frame, timestamp=ev.timestamp, flow=record.flow, protocol="tcp",
                          clause=clause, severity=severity, rule="tcp.gap", direction=_DIRECTION[who],
                          message=f"{ev.missing} bytes from the {who} missing from the capture"), record)
        if state.held is not None:  # still guessing: the analyzer gets the gap in its place
            state.held.append(("on_gap", ev.from_client, ev.missing, ev.frame, ev.timestamp))
        elif state.analyzer is not None:
            self._lose(state, ev.from_client, ev.missing)
            self._call(state, ev.frame, ev.timestamp, "on_gap", ev.from_client ^ state.swapped, ev.missing,
                       ev.frame, ev.timestamp)

    # --- resynchronisation (module docstring; wireproof.codecs._resync) -----------------------

    def _lose(self, state: _Active, from_client: bool, missing: int) -> None:
        """A gap: the direction skips to the next segment that starts with a plausible header."""
        if state.resync is None:
            return
        if state.lost is None:
            state.lost = {}
        lost = state.lost.get(from_client)
        if lost is None:
            lost = state.lost[from_client] = _Lost()
        lost.missing += missing

    def _resume(self, state: _Active, from_client: bool, data: bytes, frame: int, ts: float) -> bool:
        """Whether a lost direction's segment starts a message (then it is no longer lost)."""
        assert state.lost is not None and state.resync is not None
        lost = state.lost[from_client]
        try:
            found = state.resync(from_client ^ state.swapped, data)
        except Exception as exc:  # a bug in an analyzer must not end the replay
            self._failed(state, frame, ts, exc)
            return False
        if not found:
            if not lost.segments:
                lost.first = frame
            lost.segments += 1
            lost.skipped += len(data)
            return False
        del state.lost[from_client]
        if not state.lost:
            state.lost = None
        if lost.skipped:
            self._lost_span(state, from_client, lost, frame, ts, f"decoding resumes at frame {frame}", data)
        return True

    def _lost_span(self, state: _Active, from_client: bool, lost: _Lost, frame: int, ts: float, how: str,
                   window: bytes = b"") -> None:
        record = state.record
        who = "client" if from_client ^ state.swapped else "server"
        after = f"after {lost.missing} bytes missing from the capture" if lost.missing \
            else "the capture starts mid-stream"
        self.emit(Finding(frame=frame, timestamp=ts, flow=record.flow, protocol=record.protocol, clause="",
                          severity="info", rule="replay.resync", direction=_DIRECTION[who],
                          message=f"{after}: {lost.skipped} {who} bytes in {lost.segments} segments from "
                          f"frame {lost.first} skipped, none starting with a plausible {record.protocol} "
                          f"header; {how}", hex=window[:16].hex()), record)

    def _still_lost(self, state: _Active, frame: int, ts: float) -> None:
        """At the close: the span skipped to the end."""
        if state.lost is not None:
            for from_client, lost in state.lost.items():
                if lost.skipped:
                    self._lost_span(state, from_client, lost, frame, ts, "the flow ends first")
            state.lost = None

    def on_anomaly(self, ev: StreamAnomaly) -> None:
        state = self._state(ev.flow, ev.timestamp)
        if state is None:
            return
        record = state.record
        severity, clause = _TCP_RULES.get(ev.kind, ("warning", "RFC 9293 3.10.7.4"))
        who = "client" if ev.from_client ^ state.swapped else "server"
        self.emit(Finding(frame=ev.frame, timestamp=ev.timestamp, flow=record.flow, protocol="tcp",
                          clause=clause, severity=severity, rule=f"tcp.{ev.kind.replace('_', '-')}",
                          message=f"{who}: {ev.detail}", offset=0, hex=bytes(ev.window).hex(),
                          direction=_DIRECTION[who]), record)

    def on_closed(self, ev: FlowClosed) -> None:
        self.last_key = None
        state = self.active.pop(ev.flow, None)
        if state is None:
            return
        state.record.closed = ev.how
        self._still_lost(state, ev.frame, ev.timestamp)
        if state.analyzer is not None:
            self._call(state, ev.frame, ev.timestamp, "on_close", ev.frame, ev.timestamp, ev.how)
        if state.sink is not None:
            state.sink.settle()
        self.flush(state.record)

    def on_message(self, ev: CanMessage) -> None:
        """One message of a message transport (a CAN bus): to the analyzer's ``on_message``."""
        flow = ev.flow
        state = self._state(flow, ev.timestamp)
        if state is None:
            return
        self._count(state.record, ev.frame, ev.timestamp, len(ev.data))
        if not state.decided:
            spec = self.registry.for_message(flow.transport, ev)
            self._decide(flow, state, spec, False)
        if state.analyzer is not None:
            self._call(state, ev.frame, ev.timestamp, "on_message", True, ev, ev.frame, ev.timestamp)

    def on_malformed(self, ev: Malformed) -> None:
        self.result.malformed_frames += 1
        if not self.capture_findings:
            return
        window = bytes(ev.window)
        self.emit(Finding(frame=ev.frame, timestamp=ev.timestamp, flow="", protocol=ev.layer,
                          clause=_LAYER_CLAUSES.get(ev.layer, ""), severity="warning",
                          rule=f"{ev.layer}.malformed", message=ev.reason,
                          offset=min(ev.offset, 16), hex=window.hex(),
                          window_start=max(0, ev.offset - 16), malformed=True), None)

    def finish(self) -> None:
        # The dissector's finish() closes what is open; anything still here was never closed.
        for flow, state in list(self.active.items()):
            if state is not None:
                self._still_lost(state, state.record._last_frame, state.record.last)
            if state is not None and state.analyzer is not None:
                last = state.record
                self._call(state, last._last_frame, last.last, "on_close", last._last_frame, last.last, "end")
            if state is not None and state.sink is not None:
                state.sink.settle()
            self.active.pop(flow, None)
        self.flush_all()
        if self.analytics is not None:
            self.analytics.flush()


def run_loop(engine: Engine, reader: CaptureReader, dissector: Dissector,
          on_progress: ProgressCallback | None) -> None:
    """Every record of ``reader`` through ``dissector`` and ``engine``; the result's totals filled."""
    from wireproof.harness.replay.events import new_frame

    result = engine.result
    handlers = engine.handlers
    feed = dissector.feed
    fast_tcp = dissector.fast_tcp
    on_stream = engine.on_stream
    frames = nbytes = number = 0
    first: float | None = None
    ts = 0.0
    # The hot loop: records, not Frames; the dissector's fast path hands its payload
    # straight to on_stream (no event object). Anything else takes feed() and the handlers.
    for record in reader.records():
        if on_progress is not None and frames and frames % _PROGRESS_EVERY == 0:  # frames done so far
            on_progress(reader.bytes_read, reader.size, frames)
        number, ts, linktype, data = record[0], record[1], record[2], record[3]
        frames += 1
        nbytes += len(data)
        if first is None:
            first = ts
        if linktype == 1:
            hit = fast_tcp(number, ts, data)
            if hit is not None:
                if hit:
                    on_stream(hit[0], hit[1], hit[2], number, ts)
                continue
        for ev in feed(new_frame(*record)):
            handlers[type(ev)](ev)
    for ev in dissector.finish((number, ts) if frames else None):
        handlers[type(ev)](ev)
    engine.finish()
    if on_progress is not None:
        on_progress(reader.bytes_read, reader.size, frames)
    result.frames, result.bytes = frames, nbytes
    result.first, result.last = first, (ts if first is not None else None)
    result.stats = dict(dissector.stats)
    damage = reader.damage
    if damage is not None:  # a damaged capture (.damage): what came before it is analysed, it is a finding
        result.damage = damage
        result.truncation = reader.truncation
        if engine.capture_findings:
            engine.emit(Finding(frame=frames, timestamp=ts, flow="", protocol="capture", clause="",
                                severity="warning", rule=f"capture.{damage.kind}", message=damage.describe()),
                        None)
