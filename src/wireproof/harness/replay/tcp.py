"""TCP reassembly, one connection at a time, as a receiver would see it (RFC 9293 3.4, 3.10.7).

Theory of operation. Each direction keeps ``next`` (the sequence number it
expects, modulo 2**32) and ``offset`` (the same position as an unbounded
count of stream bytes, used to order buffered segments across wrap-around).
A segment whose sequence number is ``next`` is delivered at once as
:class:`~.events.StreamData`; one that starts later is held in a bounded
out-of-order buffer (``out_of_order`` anomaly) until the hole fills. Bytes
that were already delivered or buffered are never delivered twice: a
segment that repeats them is a ``retransmission``, or an ``overlap_conflict``
if its bytes differ; in both cases the bytes seen first win (what an RFC
9293 receiver that already accepted them keeps). Conflicts against delivered
bytes are checked against the last delivered segment; older bytes are
not kept (bounded memory) and their retransmissions are reported unverified.

Holes become :class:`~.events.StreamGap` events (the analyzer must resync)
when they are proven lost: the other side acknowledges bytes beyond the hole
(the receiver got them, the capture did not), the out-of-order buffer
overflows (``buffer_overflow``), the connection is reset, or the capture ends.
A direction first seen without its SYN starts at the first sequence number
seen (``midstream_start``); earlier bytes that show up later are dropped as
``out_of_order``. A keep-alive (one byte or none at ``next - 1``) is ignored.

FIN closes a direction once every byte before it is delivered; both
directions closed is :class:`~.events.FlowClosed` ``"fin"``. RST closes the
connection at once (``"rst"``) after flushing what was buffered. Payload
after the close is a ``data_after_close`` anomaly and is not delivered.
"""

from __future__ import annotations

from bisect import insort
from dataclasses import dataclass

from wireproof.harness.replay.events import (
    Event,
    FlowClosed,
    FlowKey,
    StreamAnomaly,
    StreamGap,
    new_stream_data,
)

__all__ = ["Budget", "Direction", "TcpConnection", "FIN", "SYN", "RST", "ACK"]

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
MASK = 0xFFFFFFFF
HALF = 0x80000000
WINDOW = 64  # bytes of a segment quoted in an anomaly


@dataclass(slots=True)
class Budget:
    """Bounds on buffered out-of-order bytes, per direction and over all connections."""

    per_direction: int = 256 * 1024
    total: int = 64 * 1024 * 1024
    used: int = 0


class Direction:
    """Receive state of the bytes one side sends."""

    __slots__ = (
        "closed",
        "fin_at",
        "last_data",
        "last_seq",
        "next",
        "offset",
        "pending",
        "pending_bytes",
        "started",
    )

    def __init__(self) -> None:
        self.next: int | None = None
        self.offset = 0
        self.pending: list[tuple[int, bytes, int, float]] = []  # (offset, data, frame, timestamp)
        self.pending_bytes = 0
        self.fin_at: int | None = None  # stream offset of the FIN
        self.closed = False
        self.last_seq = 0
        self.last_data = b""
        self.started = False


def _signed(d: int) -> int:
    d &= MASK
    return d - 0x100000000 if d & HALF else d


class TcpConnection:
    """Reassembly state of one TCP connection; :meth:`segment` returns the events a segment causes."""

    __slots__ = ("budget", "client", "closed", "flow", "handshake", "last_frame", "server")

    def __init__(self, flow: FlowKey, budget: Budget, *, handshake: bool) -> None:
        self.flow = flow
        self.client = Direction()
        self.server = Direction()
        self.closed = False
        self.handshake = handshake
        self.last_frame = 0
        self.budget = budget

    def segment(self, from_client: bool, seq: int, ack: int, flags: int, payload: bytes, frame: int,
                ts: float) -> list[Event]:
        d, p = (self.client, self.server) if from_client else (self.server, self.client)
        out: list[Event] = []
        if self.closed:
            if payload and not (flags & RST):
                self._after_close(d, from_client, seq, payload, frame, ts, out)
            return out
        if flags & RST:
            self._flush(self.client, True, frame, ts, out)
            self._flush(self.server, False, frame, ts, out)
            self.closed = True
            out.append(FlowClosed(flow=self.flow, frame=frame, timestamp=ts, how="rst"))
            return out
        if flags & SYN:
            if d.next is None or not d.started:
                d.next = (seq + 1) & MASK
                d.started = True
                if flags & ACK and p.next is None:
                    p.next = ack  # the SYN-ACK tells where the client's data starts
                    p.started = True
            seq = (seq + 1) & MASK  # data on a SYN (TCP Fast Open) follows the SYN's sequence number
        if flags & ACK and p.next is not None and not p.closed:
            ahead = (ack - p.next) & MASK
            if 0 < ahead < HALF and not (p.fin_at is not None and ahead == 1 and p.offset == p.fin_at):
                self._force(p, not from_client, p.offset + ahead, frame, ts, out)
                self._maybe_close(p, frame, ts, out)
                if self.closed:
                    return out
        if d.next is None:
            d.next = seq
            d.started = True
            out.append(self._anomaly(from_client, "midstream_start", frame, ts,
                                     f"no SYN seen; the stream starts at sequence number {seq}", payload))
        if d.closed:
            if payload:
                self._after_close(d, from_client, seq, payload, frame, ts, out)
            return out
        if payload:
            self._data(d, from_client, seq, payload, frame, ts, out)
        if flags & FIN and d.fin_at is None:
            d.fin_at = d.offset + _signed(seq + len(payload) - d.next)
        self._maybe_close(d, frame, ts, out)
        return out

    def flush(self, frame: int, ts: float, how: str) -> list[Event]:
        """Deliver what is buffered (with its gaps) and close: ``how`` is ``"idle"`` or ``"end"``."""
        out: list[Event] = []
        if self.closed:
            return out
        self._flush(self.client, True, frame, ts, out)
        self._flush(self.server, False, frame, ts, out)
        self.closed = True
        out.append(FlowClosed(flow=self.flow, frame=frame, timestamp=ts,
                              how="idle" if how == "idle" else "end"))
        return out

    # -- internals -----------------------------------------------------------------

    def _anomaly(self, from_client: bool, kind: str, frame: int, ts: float, detail: str,
                 window: bytes) -> StreamAnomaly:
        return StreamAnomaly(flow=self.flow, from_client=from_client, kind=kind, frame=frame, timestamp=ts,
                             detail=detail, window=window[:WINDOW])

    def _after_close(self, d: Direction, from_client: bool, seq: int, payload: bytes, frame: int, ts: float,
                     out: list[Event]) -> None:
        if d.next is not None and _signed(seq + len(payload) - d.next) < 0:
            out.append(self._anomaly(from_client, "retransmission", frame, ts,
                                     f"{len(payload)} bytes resent after the close", payload))
        else:
            out.append(self._anomaly(from_client, "data_after_close", frame, ts,
                                     f"{len(payload)} bytes after the close; not delivered", payload))

    def _deliver(self, d: Direction, from_client: bool, seq: int, data: bytes, frame: int, ts: float,
                 out: list[Event]) -> None:
        out.append(new_stream_data(self.flow, from_client, data, frame, ts))
        d.last_seq, d.last_data = seq, data
        d.next = (seq + len(data)) & MASK
        d.offset += len(data)

    def _data(self, d: Direction, from_client: bool, seq: int, payload: bytes, frame: int, ts: float,
              out: list[Event]) -> None:
        assert d.next is not None
        dist = _signed(seq - d.next)
        if dist < 0:
            end = dist + len(payload)
            if end <= 0 and len(payload) <= 1 and dist == -1:
                return  # keep-alive probe (RFC 9293 3.8.4)
            old = payload[:min(len(payload), -dist)]
            conflict = self._differs_from_delivered(d, dist, old)
            if d.offset + dist < 0:
                kind, detail = "out_of_order", f"{len(old)} bytes from before the first byte seen; dropped"
            elif conflict:
                kind, detail = "overlap_conflict", f"{len(old)} bytes resent with different content; " \
                                                   "the bytes seen first are kept"
            else:
                kind, detail = "retransmission", f"{len(old)} bytes already delivered (or given up)"
            out.append(self._anomaly(from_client, kind, frame, ts, detail, old))
            if end <= 0:
                return
            payload, seq = payload[-dist:], d.next
            dist = 0
        if dist == 0:
            self._deliver(d, from_client, seq, payload, frame, ts, out)
            if d.pending:
                self._drain(d, from_client, out)
            return
        self._buffer(d, from_client, d.offset + dist, payload, frame, ts, out)

    def _differs_from_delivered(self, d: Direction, dist: int, old: bytes) -> bool:
        """True if ``old`` (``dist`` bytes before ``next``) contradicts the last delivered segment."""
        assert d.next is not None
        h = _signed(d.last_seq - d.next)  # where the last delivered segment starts, relative to next
        lo, hi = max(dist, h), min(dist + len(old), h + len(d.last_data))
        return lo < hi and old[lo - dist:hi - dist] != d.last_data[lo - h:hi - h]

    def _buffer(self, d: Direction, from_client: bool, start: int, data: bytes, frame: int, ts: float,
                out: list[Event]) -> None:
        pieces = [(start, data)]
        conflict = overlap = False
        for s, buffered, _f, _t in d.pending:  # first-seen bytes win: keep only what is not buffered yet
            e = s + len(buffered)
            kept: list[tuple[int, bytes]] = []
            for a, piece in pieces:
                b = a + len(piece)
                if b <= s or a >= e:
                    kept.append((a, piece))
                    continue
                overlap = True
                lo, hi = max(a, s), min(b, e)
                conflict = conflict or piece[lo - a:hi - a] != buffered[lo - s:hi - s]
                if a < s:
                    kept.append((a, piece[:s - a]))
                if b > e:
                    kept.append((e, piece[e - a:]))
            pieces = kept
        if overlap:
            kind = "overlap_conflict" if conflict else "retransmission"
            detail = "differs from bytes buffered earlier; the bytes seen first are kept" if conflict \
                else "repeats bytes already buffered"
            out.append(self._anomaly(from_client, kind, frame, ts, detail, data))
        if not pieces:
            return
        if not overlap:
            out.append(self._anomaly(from_client, "out_of_order", frame, ts,
                                     f"{len(data)} bytes arrive {start - d.offset} bytes ahead of the stream",
                                     data))
        budget = self.budget
        for a, piece in pieces:
            insort(d.pending, (a, piece, frame, ts))
            d.pending_bytes += len(piece)
            budget.used += len(piece)
        if d.pending_bytes > budget.per_direction or budget.used > budget.total:
            out.append(self._anomaly(from_client, "buffer_overflow", frame, ts,
                                     f"{d.pending_bytes} bytes wait behind a hole; the hole is given up",
                                     data))
            self._force(d, from_client, d.pending[0][0], frame, ts, out)

    def _drain(self, d: Direction, from_client: bool, out: list[Event]) -> None:
        """Deliver buffered segments that the stream has now reached."""
        while d.pending and d.pending[0][0] <= d.offset:
            start, data, frame, ts = d.pending.pop(0)
            d.pending_bytes -= len(data)
            self.budget.used -= len(data)
            skip = d.offset - start
            if skip < len(data):
                assert d.next is not None
                self._deliver(d, from_client, d.next, data[skip:], frame, ts, out)

    def _force(self, d: Direction, from_client: bool, upto: int, frame: int, ts: float,
               out: list[Event]) -> None:
        """Give up the holes below stream offset ``upto``: gaps, then whatever is buffered behind them."""
        while d.offset < upto:
            if d.pending and d.pending[0][0] <= d.offset:
                self._drain(d, from_client, out)
                continue
            hole_end = min(upto, d.pending[0][0]) if d.pending else upto
            if d.fin_at is not None:
                hole_end = min(hole_end, d.fin_at)
            missing = hole_end - d.offset
            if missing <= 0:
                break
            out.append(StreamGap(flow=self.flow, from_client=from_client, missing=missing, frame=frame,
                                 timestamp=ts))
            assert d.next is not None
            d.next = (d.next + missing) & MASK
            d.offset += missing
            d.last_data = b""
        self._drain(d, from_client, out)

    def _flush(self, d: Direction, from_client: bool, frame: int, ts: float, out: list[Event]) -> None:
        if d.next is None:
            return
        end = max([d.offset] + [s + len(data) for s, data, _f, _t in d.pending])
        if d.fin_at is not None:
            end = max(end, d.fin_at)
        self._force(d, from_client, end, frame, ts, out)

    def _maybe_close(self, d: Direction, frame: int, ts: float, out: list[Event]) -> None:
        if d.fin_at is not None and not d.closed and d.offset >= d.fin_at:
            d.closed = True
            assert d.next is not None
            d.next = (d.next + 1) & MASK  # the FIN occupies one sequence number
        if self.client.closed and self.server.closed and not self.closed:
            self.closed = True
            out.append(FlowClosed(flow=self.flow, frame=frame, timestamp=ts, how="fin"))
