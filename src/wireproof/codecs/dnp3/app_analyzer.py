"""Passive DNP3 application-layer analysis: whole fragments of a flow in, findings and values out (pure).

Normative references: IEEE 1815-2012 4.2.2 (fragment: application control,
function code, IIN, object headers), 4.2.2.4.3 (CON: the receiver of a
fragment with CON set answers with an application CONFIRM carrying the
fragment's SEQ), 4.2.2.4.4 (UNS: set in unsolicited responses and in the
CONFIRMs that answer them), 4.2.2.4.5 (SEQ: a response carries the SEQ of
the request it answers, later fragments of a multi-fragment response count
up mod 16), 4.2.2.7 (internal indications IIN1 and IIN2), 4.4.3 and 4.4.4
(select-before-operate: an OPERATE repeats the objects of the SELECT before
it, with the next SEQ; the outstation reports each control's status),
11.9.8 and 11.9.21 (the status octet of control relay output blocks and
analog output blocks: 0 is SUCCESS).

Theory of operation
-------------------
:class:`~.analyzer.Dnp3Analyzer` reassembles transport segments per link
(source, destination) and hands every whole application fragment to one
:class:`ApplicationAnalyzer` per flow. Its function code says who sent it:
a request (0..33) comes from a master, a response (129..131) from an
outstation, whatever the TCP or UDP direction. The link addresses name the
association — (outstation, master) — and each association has one small
:class:`_Station`: the requests awaiting their responses, the last SELECT,
the solicited and the unsolicited response awaiting a CONFIRM, the last IIN
and the two IIN conditions watched across the capture (device restart, need
time). A master waits for the response before its next request, an
outstation for the CONFIRM before its next response, so one of each is
the rule; some masters do send several requests first (the icsnpp capture
has five in a row), so requests are awaited by SEQ, with a count per SEQ for
repeats (retries), at most :data:`_MAX_OUTSTANDING` SEQs. A station is thus
a handful of fields whatever the length of the flow; a fragment is kept only
while it is awaited (at most 2048 octets, the transport's limit), the
stations of a flow are bounded (:data:`MAX_STATIONS`, the oldest is
forgotten) and so is the series name cache. Nothing grows with the number
of frames.

Plain fragments — responses and requests with values whose object headers
all use the common qualifiers and fixed-size objects of the library, reads
of whole classes — are delimited by :func:`scan_objects` and
:func:`plain_request` without building their objects (the hot path: a poll
and its answer); every other fragment is decoded with the codec's
:func:`~.application.decode_fragment`, and a
:class:`~wireproof.errors.DecodeError` is one finding at the codec's offset
in the fragment (``malformed``: the analyzer's one report of it). The
control octet, the function code and the IIN are read from the octets even
then, so the pairing and IIN rules still run.

Values: the objects of every response (static and event objects alike) go
to the analytics, one series a point: ``"<outstation endpoint> o<address>
g<group>[<index>]"``, where the group is the point type's static group (an
analog input event, g32, feeds the series of g30 with the same index, so a
point's EWMA and trend see its every report). Binary points give their
state (the flags' bit 7, or the packed bit), double-bit points 0..3,
counters and analogs their value. A block with a start/stop range goes to
the analytics as one block (:meth:`Sink.values`), prefixed objects one by one.

Rules (``rule`` — clause — severity):

- ``dnp3.app-malformed`` — 4.2.2 / 4.3.3 — error: a fragment that does not
  decode (``dnp3.app-unknown-object`` — warning — when only the object library
  lacks a group/variation: its objects cannot be delimited);
- ``dnp3.unconfirmed-unsolicited`` — 4.2.2.4.3, 4.2.2.4.4 — warning: an
  unsolicited response with CON not confirmed (CONFIRM with UNS and its SEQ)
  before the next unsolicited response or the end (info when the capture ends
  before it was due or a gap may hold the CONFIRM); ``dnp3.late-confirm`` —
  warning: a CONFIRM after ``flow.timeout``;
- ``dnp3.unconfirmed-response`` — 4.2.2.4.3 — warning: a solicited response
  with CON not confirmed before the master's next request, the next response
  or the end (info as above);
- ``dnp3.response-sequence`` — 4.2.2.4.5 — error: a response whose SEQ is
  not its request's (or, in a multi-fragment response, not the previous
  fragment's + 1); info when a gap or the capture start makes it doubtful;
- ``dnp3.operate-without-select`` — 4.4.4 — error (info when the SELECT may
  precede the capture): an OPERATE with no SELECT before it on the association;
- ``dnp3.operate-mismatch`` — 4.4.4 — error: an OPERATE whose objects differ
  from its SELECT's, or whose SEQ is not the SELECT's + 1;
- ``dnp3.control-status`` — 11.9.8 / 11.9.21 — warning: a control status
  other than SUCCESS in the response to a SELECT, OPERATE or DIRECT_OPERATE
  (also counted in the ``control status`` statistics);
- ``dnp3.iin-no-func-code-support``, ``dnp3.iin-object-unknown``,
  ``dnp3.iin-parameter-error``, ``dnp3.iin-already-executing`` — 4.2.2.7 —
  info, each response (the outstation refused the request: DNP3's exception
  responses);
- ``dnp3.iin-event-buffer-overflow``, ``dnp3.iin-config-corrupt``,
  ``dnp3.iin-device-trouble`` — 4.2.2.7 — warning, when the bit rises;
- ``dnp3.iin-reserved`` — 4.2.2.7 — error: IIN2.6 or IIN2.7 set;
- ``dnp3.iin-device-restart`` — 4.2.2.7 — warning: IIN1.7 set again after it
  was cleared (the device restarted again), or still set when the capture
  ends (info if only one response carried it);
- ``dnp3.iin-need-time`` — 4.2.2.7 — warning: IIN1.4 set and no time
  synchronisation (WRITE of g50v1 or g50v3) after it within the capture
  (info if only one response carried it).

Every response with an anomalous IIN bit also counts the bit in the ``iin``
statistics table.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs._analysis import FlowContext, Severity, Sink
from wireproof.codecs.dnp3.application import decode_fragment
from wireproof.codecs.dnp3.constants import HEADER_ONLY_REQUESTS, CommandStatus, FunctionCode, Iin
from wireproof.codecs.dnp3.library import ObjectSpec, lookup
from wireproof.codecs.dnp3.messages import ApplicationResponse, ObjectHeader
from wireproof.errors import DecodeError

__all__ = ["MAX_STATIONS", "ApplicationAnalyzer", "Report", "plain_request", "scan_objects"]

MAX_STATIONS: Final = 256  # (outstation, master) associations kept per flow
_MAX_OUTSTANDING: Final = 4  # requests awaiting a response per association
_MAX_BASES: Final = 4096  # series-name prefixes cached per flow
_BROADCAST: Final = 0xFFFD  # link destinations 0xFFFD..0xFFFF are broadcast addresses: no response

Report = Callable[..., None]  # the analyzer's _report(frame=, ts=, rule=, ...)

_CONFIRM: Final = int(FunctionCode.CONFIRM)
_RESPONSE: Final = int(FunctionCode.RESPONSE)
_UNSOLICITED: Final = int(FunctionCode.UNSOLICITED_RESPONSE)
_SELECT: Final = int(FunctionCode.SELECT)
_OPERATE: Final = int(FunctionCode.OPERATE)
_WRITE: Final = int(FunctionCode.WRITE)
_CONTROLS: Final = frozenset((int(FunctionCode.SELECT), int(FunctionCode.OPERATE),
                              int(FunctionCode.DIRECT_OPERATE)))
# Requests answered by no response (4.4: the _NR functions; authentication without acknowledgement).
_NO_RESPONSE: Final = frozenset(int(f) for f in (
    FunctionCode.CONFIRM, FunctionCode.DIRECT_OPERATE_NR, FunctionCode.IMMED_FREEZE_NR,
    FunctionCode.FREEZE_CLEAR_NR, FunctionCode.FREEZE_AT_TIME_NR, FunctionCode.AUTH_REQ_NO_ACK))
_FUNCTION_NAMES: Final = {int(f): f.name for f in FunctionCode}

# IIN bits (IIN1 in the high octet, 4.2.2.7): reported with each response that carries them ...
_EACH: Final = {
    int(Iin.NO_FUNC_CODE_SUPPORT): ("dnp3.iin-no-func-code-support", "info", "IIN2.0 NO_FUNC_CODE_SUPPORT",
                                    "the outstation does not support the function code of the request"),
    int(Iin.OBJECT_UNKNOWN): ("dnp3.iin-object-unknown", "info", "IIN2.1 OBJECT_UNKNOWN",
                              "the outstation does not support an object or range of the request"),
    int(Iin.PARAMETER_ERROR): ("dnp3.iin-parameter-error", "info", "IIN2.2 PARAMETER_ERROR",
                               "a parameter of the request was not valid"),
    int(Iin.ALREADY_EXECUTING): ("dnp3.iin-already-executing", "info", "IIN2.4 ALREADY_EXECUTING",
                                 "the requested operation is already executing"),
    int(Iin.RESERVED_2): ("dnp3.iin-reserved", "error", "IIN2.6 (reserved)", "a reserved IIN bit is set"),
    int(Iin.RESERVED_1): ("dnp3.iin-reserved", "error", "IIN2.7 (reserved)", "a reserved IIN bit is set"),
}
# ... when they rise (conditions of the device, set until they go away) ...
_RISING: Final = {
    int(Iin.EVENT_BUFFER_OVERFLOW): ("dnp3.iin-event-buffer-overflow", "IIN2.3 EVENT_BUFFER_OVERFLOW",
                                     "events were lost: the outstation's event buffer overflowed"),
    int(Iin.CONFIG_CORRUPT): ("dnp3.iin-config-corrupt", "IIN2.5 CONFIG_CORRUPT",
                              "the outstation reports a corrupt configuration"),
    int(Iin.DEVICE_TROUBLE): ("dnp3.iin-device-trouble", "IIN1.6 DEVICE_TROUBLE",
                              "the outstation reports an abnormal condition (device trouble)"),
}
_RESTART: Final = int(Iin.DEVICE_RESTART)
_NEED_TIME: Final = int(Iin.NEED_TIME)
_EACH_MASK: Final = sum(_EACH)
_WATCHED: Final = sum(_RISING) | _RESTART | _NEED_TIME  # a change of these is looked at
_NAMES: Final = {**{bit: v[2] for bit, v in _EACH.items()}, **{bit: v[1] for bit, v in _RISING.items()},
                 _RESTART: "IIN1.7 DEVICE_RESTART", _NEED_TIME: "IIN1.4 NEED_TIME"}

# Control status codes of CROB and analog output block objects (11.9.8, 11.9.21: the status octet's
# bits 6..0; 0 is SUCCESS).
_STATUS: Final = {int(c): c.name for c in CommandStatus if c}
_STATUS_GROUPS: Final = {12: "IEEE 1815 11.9.8", 41: "IEEE 1815 11.9.21"}

# Point values for the analytics: group -> (static group of the point type, how its value is read).
_BIT, _DOUBLE, _VALUE = 0, 1, 2
_POINTS: Final = {1: (1, _BIT), 2: (1, _BIT), 3: (3, _DOUBLE), 4: (3, _DOUBLE),
                  10: (10, _BIT), 11: (10, _BIT),
                  20: (20, _VALUE), 21: (21, _VALUE), 22: (20, _VALUE), 23: (21, _VALUE),
                  30: (30, _VALUE), 31: (31, _VALUE), 32: (30, _VALUE), 33: (31, _VALUE),
                  40: (40, _VALUE), 42: (40, _VALUE)}


def _point_value(values: dict[str, Any], how: int) -> float | None:
    if how == _VALUE:
        v = values.get("value")
        return None if v is None else float(v)
    state = values.get("state")
    if state is not None:
        return float(state)
    flags = values.get("flags")
    if flags is None:
        return None
    return float(flags >> 7 & 1) if how == _BIT else float(flags >> 6 & 3)


# --- the response scanner ---------------------------------------------------------------------
#
# A response whose object headers all use the common qualifiers (0x00, 0x01 start/stop; 0x07, 0x08
# count; 0x17, 0x28 index-prefixed count) and fixed-size or packed objects of the library is
# delimited here without building its objects: the analyzer then needs only the positions (and
# the values, read with one struct per header). Anything else (an unknown object, a truncated
# header, another qualifier) returns None and goes to the codec's decode_fragment, which decodes it
# or says exactly what is wrong; the scanner accepts only what the codec decodes without error
# (tests/harness/replay/test_dnp3_replay.py holds the two to the same answer).

# qualifier -> (range kind, range octets, index prefix octets); 0: start/stop, 1: count.
_FAST_QUALIFIERS: Final = {0x00: (0, 1, 0), 0x01: (0, 2, 0), 0x07: (1, 1, 0), 0x08: (1, 2, 0),
                           0x17: (1, 1, 1), 0x28: (1, 2, 2)}
# One scanned header: (group, spec, qualifier, start or None, number of objects, position of the first).
_Scanned = tuple[int, ObjectSpec, int, "int | None", int, int]


def scan_objects(frag: bytes, pos: int) -> list[_Scanned] | None:
    """The object headers of ``frag`` from ``pos`` (4 in a response, after the IIN; 2 in a request
    whose headers carry values), or None when they are not all plain ones."""
    n = len(frag)
    out: list[_Scanned] = []
    while pos < n:
        if n - pos < 3:
            return None
        group, variation, q = frag[pos], frag[pos + 1], frag[pos + 2]
        how = _FAST_QUALIFIERS.get(q)
        spec = lookup(group, variation)
        if how is None or spec is None or spec.variable:
            return None
        kind, width, pwidth = how
        pos += 3
        start: int | None
        if kind == 0:
            if n - pos < 2 * width:
                return None
            if width == 1:
                start, stop = frag[pos], frag[pos + 1]
            else:
                start, stop = frag[pos] | frag[pos + 1] << 8, frag[pos + 2] | frag[pos + 3] << 8
            if start > stop:
                return None
            pos += 2 * width
            number = stop - start + 1
        else:
            if n - pos < width:
                return None
            start = None
            number = frag[pos] if width == 1 else frag[pos] | frag[pos + 1] << 8
            pos += width
        if spec.bits:
            if pwidth:
                return None
            size = -(-number * spec.bits // 8)
        else:
            if not spec.size:
                return None  # an object without values in a response: the codec's answer
            size = number * (pwidth + spec.size)
        if size > n - pos:
            return None
        out.append((group, spec, q, start, number, pos))
        pos += size
    return out


_HEADER_ONLY: Final = frozenset(int(f) for f in HEADER_ONLY_REQUESTS)


def plain_request(frag: bytes) -> bool:
    """Whether request ``frag`` (a defined function code) surely decodes and has nothing the analyzer
    reads in its objects: no objects at all, or a request without values (a READ, 4.4.1) whose headers
    all name every object (qualifier 0x06, 4.3.3.4.2: valid for any group and variation)."""
    n = len(frag)
    if n == 2:
        return True
    return frag[1] in _HEADER_ONLY and (n - 2) % 3 == 0 and frag[4::3].count(6) == (n - 2) // 3


# Polls and their answers repeat octet for octet (a class poll differs only in its SEQ, a static
# answer only when a value changes): the scans of the last fragments seen, whole (bounded; shared by the
# flows of a process, a scan depends on nothing but the octets).
_SCANS: dict[bytes, list[_Scanned] | None] = {}
_MAX_SCANS: Final = 512
_UNSEEN: Final[Any] = object()


@dataclass(frozen=True, slots=True)
class _Layout:
    codec: struct.Struct  # one object with its index prefix
    value_at: int  # where "value" is in a row (-1: none)
    flags_at: int  # where "flags" is in a row (-1: none)
    status_at: int  # where "status" is in a row (-1: none)
    status_octet: int  # the status octet's offset in an object with its prefix


_LAYOUTS: dict[tuple[int, int, int], _Layout] = {}
_PREFIX_CODE: Final = {0: "", 1: "B", 2: "H"}


def _layout(spec: ObjectSpec, prefix: int) -> _Layout:
    key = (spec.group, spec.variation, prefix)
    layout = _LAYOUTS.get(key)
    if layout is None:
        code = _PREFIX_CODE[prefix]
        at, octet = {}, {}
        i = 1 if code else 0
        before = "<" + code
        for name, kind in spec.fields:
            at[name], octet[name] = i, struct.calcsize(before)
            i += 2 if kind == "T" else 1
            before += "IH" if kind == "T" else f"{spec.octets}s" if kind == "s" else kind
        codec = struct.Struct("<" + code + spec.codec.format[1:])
        layout = _LAYOUTS[key] = _Layout(codec, at.get("value", -1), at.get("flags", -1),
                                         at.get("status", -1), octet.get("status", 0))
    return layout


@dataclass(slots=True)
class _Awaited:
    """A fragment waiting for its answer (a response, a CONFIRM), or an IIN condition since it rose."""

    seq: int
    function: int
    frame: int
    ts: float
    data: bytes
    gaps: int  # the flow's gap count when it was sent: a later gap may hold its answer
    from_client: bool | None = None  # its direction in the flow
    count: int = 1  # responses that carried the IIN condition
    done: bool = False  # the condition was handled (a time synchronisation came)


@dataclass(slots=True)
class _Station:
    """One (outstation, master) association's application state (bounded: see the module docstring)."""

    # Requests awaiting their responses by SEQ, oldest first: one, unless the master sends the next
    # request before the response comes (some do); at most _MAX_OUTSTANDING.
    outstanding: dict[int, _Awaited] = field(default_factory=dict)
    next_seq: int | None = None  # SEQ the next fragment of a multi-fragment response must carry
    select: _Awaited | None = None  # the last SELECT, until its OPERATE
    solicited: _Awaited | None = None  # a response with CON awaiting its CONFIRM
    unsolicited: _Awaited | None = None  # an unsolicited response with CON awaiting its CONFIRM
    iin: int = 0  # the last response's IIN
    restart: _Awaited | None = None  # IIN1.7 set since
    restarts: int = 0  # times IIN1.7 rose
    need_time: _Awaited | None = None  # IIN1.4 set since
    requests: int = 0  # requests seen (none: the flow may have begun before the capture)


class ApplicationAnalyzer:
    """The application layer of one flow (see the module docstring)."""

    def __init__(self, flow: FlowContext, sink: Sink, report: Report) -> None:
        self.flow = flow
        self.sink = sink
        self._report = report
        self._timeout = flow.timeout
        self._stations: dict[tuple[int, int], _Station] = {}
        self._gaps = 0 if flow.handshake else 1  # a flow seen from its middle starts doubtful
        self._bases: dict[tuple[bool, int, int], str] = {}
        self._values: Any = None
        if flow.values:
            block = getattr(sink, "values", None)  # optional in the Sink protocol
            self._values = block if callable(block) else self._values_one_by_one

    # --- from the link/transport analyzer ---------------------------------------------------

    def gap(self) -> None:
        """Bytes were lost: what is awaited now may have been answered in the gap."""
        self._gaps += 1

    def fragment(self, from_client: bool, source: int, destination: int, frag: bytes, frame: int,
                 ts: float) -> None:
        """One whole application fragment from link ``source`` to ``destination``."""
        n = len(frag)
        code = frag[1] if n > 1 else -1
        scanned = _SCANS.get(frag, _UNSEEN)
        if scanned is _UNSEEN:
            if code not in _FUNCTION_NAMES:
                scanned = None  # the codec names the undefined function code
            elif code >= _RESPONSE:
                scanned = scan_objects(frag, 4) if n >= 4 else None
            elif code in _HEADER_ONLY:
                scanned = [] if plain_request(frag) else None
            else:
                scanned = scan_objects(frag, 2)
            if len(_SCANS) >= _MAX_SCANS:
                _SCANS.clear()
            _SCANS[frag] = scanned
        app: Any = None
        if scanned is None:
            # not a plain response or request: the codec decodes it (and says what is wrong)
            try:
                app = decode_fragment(frag)
            except DecodeError as err:
                self._decode_failed(from_client, err, frag, frame, ts)
            if code not in _FUNCTION_NAMES:
                return  # nothing to pair (the finding is made)
        if code >= _RESPONSE:
            if n >= 4:
                response = app if isinstance(app, ApplicationResponse) else None
                self._response(from_client, self._station(source, destination), code, frag, response, scanned,
                               source, frame, ts)
        else:
            self._request(from_client, self._station(destination, source), code, frag, app, scanned,
                          destination, frame, ts)

    def close(self, frame: int, ts: float, how: str) -> None:
        """The flow ended (``how``: ``end``/``idle`` the capture, ``fin``/``rst`` the connection)."""
        closed = how in ("fin", "rst")
        for (outstation, master), st in self._stations.items():
            where = f"outstation {outstation}, master {master}"
            if st.solicited is not None:
                self._unconfirmed(st.solicited, False, ts, "the end of the flow", where, ended=not closed)
            if st.unsolicited is not None:
                self._unconfirmed(st.unsolicited, True, ts, "the end of the flow", where, ended=not closed)
            if st.restart is not None:
                r = st.restart
                self._report(frame=r.frame, ts=r.ts, rule="dnp3.iin-device-restart",
                             clause="IEEE 1815 4.2.2.7", severity="warning" if r.count > 1 else "info",
                             from_client=r.from_client, data=r.data, at=2,
                             message=f"{where}: IIN1.7 DEVICE_RESTART set from this response to the end "
                             f"({r.count} response{'s' if r.count > 1 else ''}); the master never cleared it "
                             "(WRITE g80v1 index 7 = 0)")
            if st.need_time is not None and not st.need_time.done:
                r = st.need_time
                self._report(frame=r.frame, ts=r.ts, rule="dnp3.iin-need-time", clause="IEEE 1815 4.2.2.7",
                             severity="warning" if r.count > 1 else "info", from_client=r.from_client,
                             data=r.data, at=2,
                             message=f"{where}: IIN1.4 NEED_TIME set ({r.count} response"
                             f"{'s' if r.count > 1 else ''}) and no time synchronisation (WRITE g50v1/g50v3) "
                             "followed within the capture")
        self._stations.clear()

    # --- state --------------------------------------------------------------------------------

    def _station(self, outstation: int, master: int) -> _Station:
        key = (outstation, master)
        st = self._stations.get(key)
        if st is None:
            if len(self._stations) >= MAX_STATIONS:
                del self._stations[next(iter(self._stations))]
            st = self._stations[key] = _Station()
        return st

    def _decode_failed(self, from_client: bool, err: DecodeError, frag: bytes, frame: int, ts: float) -> None:
        path = ".".join(str(p) for p in err.path)
        unknown = err.path[-1:] == ("variation",) and "object library" in err.reason
        clause = "IEEE 1815 4.3.3" if err.path[:1] == ("objects",) else "IEEE 1815 4.2.2"
        name = _FUNCTION_NAMES.get(frag[1], "fragment") if len(frag) > 1 else "fragment"
        self._report(frame=frame, ts=ts, rule="dnp3.app-unknown-object" if unknown else "dnp3.app-malformed",
                     clause=clause, severity="warning" if unknown else "error", from_client=from_client,
                     message=f"application fragment ({name}, {len(frag)} octets): {path}: {err.reason}",
                     data=frag, at=err.offset, malformed=True)
        self.sink.decode_error("dnp3")

    # --- requests (master -> outstation) ----------------------------------------------------------

    def _request(self, from_client: bool, st: _Station, code: int, frag: bytes, app: Any,
                 scanned: list[_Scanned] | None, outstation: int, frame: int, ts: float) -> None:
        seq = frag[0] & 0x0F
        st.requests += 1
        if code == _CONFIRM:
            self._confirm(from_client, st, bool(frag[0] & 0x10), seq, frag, frame, ts)
            return
        if st.solicited is not None:  # the master moves on without confirming the response
            self._unconfirmed(st.solicited, False, ts, f"the master's next request (frame {frame})",
                              f"outstation {outstation}")
            st.solicited = None
        if code == _WRITE and st.need_time is not None:
            headers = [(h[0], h[1].variation) for h in scanned] if scanned is not None else \
                [] if app is None else [(h.group, h.variation) for h in app.objects]
            if (50, 1) in headers or (50, 3) in headers:
                st.need_time.done = True
        if code == _SELECT:
            st.select = _Awaited(seq, code, frame, ts, frag, self._gaps, from_client)
        elif code == _OPERATE:
            self._operate(from_client, st, seq, frag, outstation, frame, ts)
        st.next_seq = None
        if code not in _NO_RESPONSE and outstation < _BROADCAST:
            outstanding = st.outstanding
            old = outstanding.pop(seq, None)
            if old is None and len(outstanding) >= _MAX_OUTSTANDING:
                del outstanding[next(iter(outstanding))]
            new = outstanding[seq] = _Awaited(seq, code, frame, ts, frag, self._gaps, from_client)
            if old is not None:  # a retry (4.2.2.4.5), or a master that does not wait: one answer each
                new.count = min(old.count + 1, _MAX_OUTSTANDING)

    def _operate(self, from_client: bool, st: _Station, seq: int, frag: bytes, outstation: int, frame: int,
                 ts: float) -> None:
        select, st.select = st.select, None
        if select is None:
            doubtful = self._gaps > 0 or st.requests <= 1
            why = " (the SELECT may precede the capture or be in a gap)" if doubtful else ""
            self._report(frame=frame, ts=ts, rule="dnp3.operate-without-select", clause="IEEE 1815 4.4.4",
                         severity="info" if doubtful else "error", from_client=from_client, data=frag, at=1,
                         message=f"outstation {outstation}: OPERATE (SEQ {seq}) with no SELECT before "
                         f"it{why}")
            return
        problems = []
        at = 0
        if frag[2:] != select.data[2:]:
            mine, theirs = frag[2:], select.data[2:]
            first = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b),
                         min(len(mine), len(theirs)))
            at = 2 + first
            problems.append(f"its objects differ from the SELECT's at octet {at}")
        if seq != (select.seq + 1) & 0x0F:
            problems.append(f"SEQ {seq} is not the SELECT's + 1 ({(select.seq + 1) & 0x0F})")
        if problems:
            self._report(frame=frame, ts=ts, rule="dnp3.operate-mismatch", clause="IEEE 1815 4.4.4",
                         severity="error", from_client=from_client, data=frag, at=at,
                         message=f"outstation {outstation}: OPERATE does not repeat the SELECT of frame "
                         f"{select.frame}: {'; '.join(problems)}")

    def _confirm(self, from_client: bool, st: _Station, uns: bool, seq: int, frag: bytes, frame: int,
                 ts: float) -> None:
        awaited = st.unsolicited if uns else st.solicited
        if awaited is None or awaited.seq != seq:
            return
        if uns:
            st.unsolicited = None
        else:
            st.solicited = None
        elapsed = ts - awaited.ts
        if elapsed > self._timeout:
            self._report(frame=frame, ts=ts, rule="dnp3.late-confirm", clause="IEEE 1815 4.2.2.4.3",
                         severity="warning", from_client=from_client, data=frag, at=0,
                         message=f"CONFIRM of the {'unsolicited ' if uns else ''}response of frame "
                         f"{awaited.frame} after {elapsed:.3f} s (timeout {self._timeout:g} s)")

    # --- responses (outstation -> master) ----------------------------------------------------------

    def _response(self, from_client: bool, st: _Station, code: int, frag: bytes,
                  app: ApplicationResponse | None, scanned: list[_Scanned] | None, outstation: int,
                  frame: int, ts: float) -> None:
        control = frag[0]
        seq, fir, fin, con = control & 0x0F, control & 0x80, control & 0x40, control & 0x20
        iin = frag[2] << 8 | frag[3]
        where = f"outstation {outstation}"
        request = None
        if code == _UNSOLICITED:
            if st.unsolicited is not None:
                self._unconfirmed(st.unsolicited, True, ts, f"the next unsolicited response (frame {frame})",
                                  where)
                st.unsolicited = None
            if con:
                st.unsolicited = _Awaited(seq, code, frame, ts, frag, self._gaps, from_client)
        elif code == _RESPONSE:
            if st.solicited is not None:
                self._unconfirmed(st.solicited, False, ts, f"the next response (frame {frame})", where)
                st.solicited = None
            request = self._sequence(from_client, st, seq, fir, fin, frag, app, scanned, where, frame, ts)
            if con:
                st.solicited = _Awaited(seq, code, frame, ts, frag, self._gaps, from_client)
        if iin & _EACH_MASK or (iin ^ st.iin) & _WATCHED or st.restart or st.need_time:
            self._iin(from_client, st, iin, frag, where, request, frame, ts)
        st.iin = iin
        if self._values is not None:
            if scanned:
                self._feed_scanned(not from_client, outstation, frag, scanned, ts)
            elif app is not None and app.objects:
                self._feed(not from_client, outstation, app.objects, ts)

    def _sequence(self, from_client: bool, st: _Station, seq: int, fir: int, fin: int, frag: bytes,
                  app: ApplicationResponse | None, scanned: list[_Scanned] | None, where: str, frame: int,
                  ts: float) -> _Awaited | None:
        """Pair a response with its request by SEQ; the request it answers, if any."""
        request = None
        if fir:
            outstanding = st.outstanding
            if not outstanding:
                st.next_seq = None if fin else (seq + 1) & 0x0F
                return None
            request = outstanding.get(seq)
            if request is None:  # answers none of them: taken as the answer to the oldest
                request = outstanding[next(iter(outstanding))]
                want = request.seq
                what = f"the SEQ of the {_FUNCTION_NAMES[request.function]} request of frame {request.frame}"
                doubtful = request.gaps != self._gaps
            else:
                want = seq
            request.count -= 1
            if request.count <= 0:
                del outstanding[request.seq]
            if request.function in _CONTROLS:
                self._statuses(from_client, request, app, scanned, frag, where, frame, ts)
        else:
            if st.next_seq is None:
                return None
            want = st.next_seq
            what = "the previous fragment's SEQ + 1"
            doubtful = False
        st.next_seq = None if fin else (seq + 1) & 0x0F
        if seq != want:
            why = " (a gap may hold fragments between them)" if doubtful else ""
            self._report(frame=frame, ts=ts, rule="dnp3.response-sequence", clause="IEEE 1815 4.2.2.4.5",
                         severity="info" if doubtful else "error", from_client=from_client, data=frag, at=0,
                         message=f"{where}: response SEQ {seq} is not {what} ({want}){why}")
        return request

    def _statuses(self, from_client: bool, request: _Awaited, app: ApplicationResponse | None,
                  scanned: list[_Scanned] | None, frag: bytes, where: str, frame: int, ts: float) -> None:
        """Control statuses other than SUCCESS in the response to a control request."""
        found: list[tuple[int, int, int | None, int, int]] = []  # (group, variation, index, status, at)
        if scanned is not None:
            for group, spec, q, start, number, pos in scanned:
                if group not in _STATUS_GROUPS or spec.bits:
                    continue
                layout = _layout(spec, q >> 4)
                if layout.status_at < 0:
                    continue
                for k, r in enumerate(layout.codec.iter_unpack(frag[pos:pos + number * layout.codec.size])):
                    if r[layout.status_at]:
                        index = r[0] if q >> 4 else None if start is None else start + k
                        at = pos + k * layout.codec.size + layout.status_octet
                        found.append((group, spec.variation, index, r[layout.status_at], at))
        elif app is not None:
            for h in app.objects:
                if h.group in _STATUS_GROUPS:
                    found += [(h.group, h.variation, p.index, p.values["status"], 4) for p in h.points
                              if p.values.get("status")]  # (the objects begin at octet 4)
        for group, variation, index, status, at in found:
            status &= 0x7F
            name = _STATUS.get(status, f"status {status}")
            self.sink.statistic("dnp3", "control status", name)
            self._report(frame=frame, ts=ts, rule="dnp3.control-status", clause=_STATUS_GROUPS[group],
                         severity="warning", from_client=from_client, data=frag, at=at,
                         message=f"{where}: g{group}v{variation} index {index}: status {name} ({status}) "
                         f"in the response to the {_FUNCTION_NAMES[request.function]} of frame "
                         f"{request.frame}")

    def _iin(self, from_client: bool, st: _Station, iin: int, frag: bytes, where: str,
             request: _Awaited | None, frame: int, ts: float) -> None:
        statistic = self.sink.statistic
        to = "" if request is None else \
            f" (in the response to the {_FUNCTION_NAMES[request.function]} request of frame {request.frame})"
        for bit, (rule, severity, name, meaning) in _EACH.items():
            if iin & bit:
                statistic("dnp3", "iin", name)
                self._report(frame=frame, ts=ts, rule=rule, clause="IEEE 1815 4.2.2.7", severity=severity,
                             from_client=from_client, data=frag, at=3,
                             message=f"{where}: {name}: {meaning}{to}")
        rose = iin & ~st.iin
        for bit, (rule, name, meaning) in _RISING.items():
            if iin & bit:
                statistic("dnp3", "iin", name)
                if rose & bit:
                    self._report(frame=frame, ts=ts, rule=rule, clause="IEEE 1815 4.2.2.7",
                                 severity="warning", from_client=from_client, data=frag,
                                 at=2 if bit > 0xFF else 3,
                                 message=f"{where}: {name}: {meaning}")
        if iin & _RESTART:
            statistic("dnp3", "iin", _NAMES[_RESTART])
            if st.restart is None:
                st.restarts += 1
                st.restart = _Awaited(0, 0, frame, ts, frag, self._gaps, from_client)
                if st.restarts > 1:
                    self._report(frame=frame, ts=ts, rule="dnp3.iin-device-restart",
                                 clause="IEEE 1815 4.2.2.7", severity="warning", from_client=from_client,
                                 data=frag, at=2,
                                 message=f"{where}: IIN1.7 DEVICE_RESTART set again after it was cleared: "
                                 f"restart {st.restarts} in this capture")
            else:
                st.restart.count += 1
        else:
            st.restart = None
        if iin & _NEED_TIME:
            statistic("dnp3", "iin", _NAMES[_NEED_TIME])
            if st.need_time is None:
                st.need_time = _Awaited(0, 0, frame, ts, frag, self._gaps, from_client)
            elif not st.need_time.done:
                st.need_time.count += 1
        else:
            st.need_time = None

    def _unconfirmed(self, awaited: _Awaited, uns: bool, now: float, until: str, where: str, *,
                     ended: bool = False) -> None:
        """``ended``: the capture ended (not the connection, not a later fragment): maybe not yet due."""
        in_gap = awaited.gaps != self._gaps
        due = not ended or now - awaited.ts > self._timeout
        severity: Severity = "warning" if due and not in_gap else "info"
        why = (" (the CONFIRM may be in a capture gap)" if in_gap else
               "" if due else " (the capture ends before it was due)")
        kind = "unsolicited response" if uns else "response"
        self._report(frame=awaited.frame, ts=awaited.ts,
                     rule="dnp3.unconfirmed-unsolicited" if uns else "dnp3.unconfirmed-response",
                     clause="IEEE 1815 4.2.2.4.3, 4.2.2.4.4" if uns else "IEEE 1815 4.2.2.4.3",
                     severity=severity, from_client=awaited.from_client, data=awaited.data, at=0,
                     message=f"{where}: {kind} SEQ {awaited.seq} with CON got no CONFIRM"
                     f"{' with UNS' if uns else ''} before {until}{why}")

    # --- values for the analytics --------------------------------------------------------------

    def _values_one_by_one(self, base: str, start: int, ts: float, values: Any) -> None:
        """For a sink without ``values``: each point by :meth:`Sink.value`."""
        value = self.sink.value
        for i, v in enumerate(values, start):
            value(f"{base}[{i}]", ts, v)

    def _base(self, from_server: bool, outstation: int, static: int) -> str:
        key = (from_server, outstation, static)
        base = self._bases.get(key)
        if base is None:
            if len(self._bases) >= _MAX_BASES:
                self._bases.clear()
            endpoint = self.flow.server if from_server else self.flow.client
            base = self._bases[key] = f"{endpoint} o{outstation} g{static}"
        return base

    def _feed_scanned(self, from_server: bool, outstation: int, frag: bytes, scanned: list[_Scanned],
                      ts: float) -> None:
        """The values of a scanned response (the same as :meth:`_feed` of its decoded objects)."""
        for group, spec, q, start, number, pos in scanned:
            how = _POINTS.get(group)
            if how is None or not number:
                continue
            static, kind = how
            base = self._base(from_server, outstation, static)
            if spec.bits:
                bits = spec.bits
                mask = (1 << bits) - 1
                states = [float(frag[pos + k * bits // 8] >> (k * bits % 8) & mask) for k in range(number)]
                if start is not None:
                    self._values(base, start, ts, states)
                continue
            prefix = q >> 4
            layout = _layout(spec, prefix)
            field_at = layout.value_at if kind == _VALUE else layout.flags_at
            if field_at < 0:
                continue
            rows = layout.codec.iter_unpack(frag[pos:pos + number * layout.codec.size])
            if kind == _VALUE:
                got = [float(r[field_at]) for r in rows]
            elif kind == _BIT:
                got = [float(r[field_at] >> 7 & 1) for r in rows]
            else:
                got = [float(r[field_at] >> 6 & 3) for r in rows]
            if not prefix:
                if start is not None:
                    self._values(base, start, ts, got)
                continue
            value = self.sink.value
            for r, v in zip(layout.codec.iter_unpack(frag[pos:pos + number * layout.codec.size]), got,
                            strict=True):
                value(f"{base}[{r[0]}]", ts, v)

    def _feed(self, from_server: bool, outstation: int, objects: tuple[ObjectHeader, ...], ts: float) -> None:
        for h in objects:
            how = _POINTS.get(h.group)
            if how is None or not h.points:
                continue
            static, kind = how
            base = self._base(from_server, outstation, static)
            if h.start is not None and not h.qualifier & 0x70:  # a start/stop range: one block
                block = [_point_value(p.values, kind) for p in h.points]
                if None not in block:
                    self._values(base, h.start, ts, block)
                    continue
            value = self.sink.value
            for p in h.points:
                v = _point_value(p.values, kind)
                if v is not None and p.index is not None:
                    value(f"{base}[{p.index}]", ts, v)
