"""Synthetic traffic for the replay benchmark: the contract a protocol fills, and the TCP capture builder.

Theory of operation
-------------------
``wireproof bench replay`` (:mod:`wireproof.harness.bench.replay`) times a
replay of one big generated capture. It knows no protocol: the capture's
application bytes, and what a replay of them must find, come from the
protocol's :class:`Traffic`, which its descriptor names
(:attr:`wireproof.protocol.AnalyzerEntry.traffic`, a ``"module:attribute"``
reference resolved only when the benchmark runs). A traffic object:

- knows its protocol (``name``: the analyzer entry's name, the key of the
  replay's ``"messages"``), a title for people, and the server port its
  flows use (one of the entry's ``ports``, so a replay recognises them by
  port as it would a real capture);
- writes a capture of exactly ``frames`` frames, streaming
  (:meth:`Traffic.write`), and returns a :class:`GeneratedCapture`: the
  counts a replay of it must find (frames, bytes, flows, messages, the
  protocol's own counts for the report, and findings per rule);
- judges a replay's JSON document (``wireproof replay FILE --json``)
  against those counts (:meth:`Traffic.check`);
- says how Scapy recognises its packets, if it can (:meth:`Traffic.scapy_layers`,
  :meth:`Traffic.scapy_check`).

What is neutral lives here, for every traffic to build on: the pcap file
and record layout (:func:`write_pcap`, :class:`Clock`), and Ethernet /
IPv4 / TCP connections (:class:`TcpFlow`: handshake, data frames, close).
A data frame is one precompiled :class:`struct.Struct` ``pack`` over
per-flow constant header bytes (:class:`DataLayout`), so a million frames
take a second or two. The TCP checksum and the IPv4 identification are the
ones of the flow's first frame of that length and direction, not
recomputed: capture readers (wireproof, tshark, Scapy) do not verify them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Final, Protocol, runtime_checkable

from wireproof.harness.bench import Check
from wireproof.harness.replay.pcap import build_tcp_frame

__all__ = [
    "RECORD",
    "SYN",
    "ACK",
    "FIN",
    "PSH",
    "Clock",
    "DataLayout",
    "GeneratedCapture",
    "TcpFlow",
    "Traffic",
    "write_pcap",
]

RECORD: Final = ">IIII"  # pcap record header (ts_sec, ts_usec, incl_len, orig_len), big-endian file
SYN, ACK, FIN, PSH = 0x02, 0x10, 0x01, 0x08  # RFC 9293 3.1 control bits
_HEAD: Final = 38  # Ethernet 14 + IPv4 20 + TCP ports 4: constant per flow and direction
_TAIL: Final = 8  # TCP data offset/flags, window, checksum, urgent pointer
_HEADERS: Final = 54  # Ethernet 14 + IPv4 20 + TCP 20 (no options)
_T0: Final = 1_700_000_000
_FRAME_STEP_US: Final = 100  # capture time between frames
_PCAP_HEADER: Final = struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)  # µs, Ethernet
_CHUNK: Final = 8192  # records joined per write


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedCapture:
    """What a :class:`Traffic` wrote: the counts a replay of it must find.

    ``counts`` are the protocol's own (``requests``, ``exceptions``, ...), in
    the order the report lists them after ``frames``, ``bytes`` and
    ``flows``; ``findings`` are the findings per rule a replay must report
    (rules with none left out, as the replay's ``findings_by_rule`` does).
    """

    path: Path
    protocol: str
    frames: int
    bytes: int
    flows: int
    messages: int
    counts: Mapping[str, int] = field(default_factory=dict)
    findings: Mapping[str, int] = field(default_factory=dict)

    def describe(self) -> dict[str, int | str]:
        """The report's ``"frames"`` object."""
        return {"path": str(self.path), "frames": self.frames, "bytes": self.bytes, "flows": self.flows,
                **self.counts}

    def to_json(self) -> dict[str, Any]:
        """Everything, for the cache's sidecar file (:meth:`from_json` reads it back)."""
        return {"path": str(self.path), "protocol": self.protocol, "frames": self.frames, "bytes": self.bytes,
                "flows": self.flows, "messages": self.messages, "counts": dict(self.counts),
                "findings": dict(self.findings)}

    @classmethod
    def from_json(cls, info: Mapping[str, Any], path: Path) -> GeneratedCapture:
        """The capture :meth:`to_json` described, at ``path``; KeyError/TypeError/ValueError if malformed."""
        return cls(path=path, protocol=str(info["protocol"]),
                   **{k: int(info[k]) for k in ("frames", "bytes", "flows", "messages")},
                   counts={str(k): int(v) for k, v in info["counts"].items()},
                   findings={str(k): int(v) for k, v in info["findings"].items()})


@runtime_checkable
class Traffic(Protocol):
    """A protocol's synthetic traffic for the replay benchmark (see the module docstring)."""

    @property
    def name(self) -> str:
        """The analyzer entry's name: the key of the replay's ``"messages"``."""
        ...

    @property
    def title(self) -> str:
        """For people: ``wireproof bench replay: 50,000 frames of TITLE (...)``."""
        ...

    @property
    def server_port(self) -> int:
        """The port the capture's servers listen on: one of the analyzer entry's ``ports``."""
        ...

    @property
    def headline(self) -> tuple[str, ...]:
        """Names of ``counts`` the report's first line shows (``("requests",)``: "24,951 requests")."""
        ...

    @property
    def analyzer_modules(self) -> tuple[str, ...]:
        """Modules (dotted) whose time ``--profile`` counts as "passive analyzer (framing, pairing)"."""
        ...

    def write(self, path: Path, frames: int) -> GeneratedCapture:
        """Write a capture of exactly ``frames`` frames to ``path``, streaming (never all in memory)."""
        ...

    def check(self, capture: GeneratedCapture, document: Mapping[str, Any]) -> Check:
        """Did a replay (its JSON ``document``) find what ``capture`` holds? library "wireproof"."""
        ...

    def scapy_layers(self) -> tuple[Any, ...]:
        """The Scapy layer classes that mark the protocol's packets, imported (which binds the port).

        Empty when Scapy has no layer for the protocol; ``ImportError`` when
        Scapy (or its layer) is not installed.
        """
        ...

    def scapy_check(self, sample: GeneratedCapture, packets: int, layered: int) -> Check:
        """Did Scapy read ``sample`` right: ``packets`` packets, ``layered`` with a layer? library "scapy"."""
        ...


class Clock:
    """Capture time: each frame ``_FRAME_STEP_US`` after the one before (frame n at ``T0 + n * step``)."""

    __slots__ = ("usec",)

    def __init__(self) -> None:
        self.usec = 0

    def tick(self) -> tuple[int, int]:
        """The next frame's (seconds, microseconds)."""
        self.usec += _FRAME_STEP_US
        return _T0 + self.usec // 1_000_000, self.usec % 1_000_000

    def record(self, frame: bytes) -> bytes:
        """``frame`` as the next pcap record (header and frame)."""
        sec, usec = self.tick()
        return _pack_record(sec, usec, len(frame), len(frame)) + frame

    def again(self, record: bytes) -> bytes:
        """``record``'s frame once more, as the next record: a retransmission (RFC 9293 3.8.1)."""
        return self.record(record[16:])


_pack_record = struct.Struct(RECORD).pack


class DataLayout:
    """The layout of one kind of TCP data frame: record header, headers, then ``payload`` fields.

    ``payload`` is a :mod:`struct` format without byte order (the whole
    record is big-endian, as the pcap header says); :meth:`TcpFlow.data`
    packs it. ``length`` is the frame's size, ``payload_length`` its TCP
    payload's.
    """

    __slots__ = ("length", "pack", "payload_length")

    def __init__(self, payload: str) -> None:
        layout = struct.Struct(f"{RECORD}{_HEAD}sII{_TAIL}s{payload}")
        self.pack = layout.pack
        self.length = layout.size - 16
        self.payload_length = self.length - _HEADERS


class TcpFlow:
    """One TCP connection of the capture: its addresses, sequence numbers and constant header bytes.

    Flow ``index`` gets its own client address and port and one of four
    server addresses, all on ``server_port``. A traffic may subclass it to
    keep per-connection state of its protocol (add ``__slots__``).
    """

    __slots__ = ("c_seq", "client", "heads", "s_seq", "server")

    def __init__(self, index: int, server_port: int) -> None:
        self.client = (f"10.1.{index // 250 % 250}.{index % 250 + 1}", 40000 + index % 20000)
        self.server = (f"10.0.0.{index % 4 + 1}", server_port)
        self.c_seq = 1000 + index * 7919
        self.s_seq = 5000 + index * 104729
        # Per (direction, frame length): the Ethernet/IPv4/TCP-ports prefix and the TCP tail.
        self.heads: dict[tuple[bool, int], tuple[bytes, bytes]] = {}

    def frame(self, from_client: bool, payload: bytes, flags: int) -> bytes:
        """A frame from one side with the current sequence numbers (they do not move)."""
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        seq, ack = (self.c_seq, self.s_seq) if from_client else (self.s_seq, self.c_seq)
        if not flags & ACK:
            ack = 0  # RFC 9293 3.1: the acknowledgment field is only meaningful with ACK
        return build_tcp_frame(payload, src=src, dst=dst, seq=seq, ack=ack, flags=flags)

    def control(self, clock: Clock, from_client: bool, flags: int) -> bytes:
        """A record of a segment without data; SYN and FIN take one sequence number (RFC 9293 3.4)."""
        record = clock.record(self.frame(from_client, b"", flags))
        if flags & (SYN | FIN):
            if from_client:
                self.c_seq += 1
            else:
                self.s_seq += 1
        return record

    def open(self, clock: Clock) -> Iterator[bytes]:
        """The three-way handshake (RFC 9293 3.5): SYN, SYN+ACK, ACK."""
        yield self.control(clock, True, SYN)
        yield self.control(clock, False, SYN | ACK)
        yield self.control(clock, True, ACK)

    def close(self, clock: Clock) -> Iterator[bytes]:
        """The client closes (RFC 9293 3.6): FIN+ACK, ACK, the server's FIN+ACK, ACK."""
        yield self.control(clock, True, FIN | ACK)
        yield self.control(clock, False, ACK)
        yield self.control(clock, False, FIN | ACK)
        yield self.control(clock, True, ACK)

    def parts(self, from_client: bool, length: int) -> tuple[bytes, bytes]:
        """The constant bytes around seq/ack of a data frame of ``length`` bytes in one direction."""
        key = (from_client, length)
        got = self.heads.get(key)
        if got is None:
            sample = self.frame(from_client, bytes(length - _HEADERS), PSH | ACK)
            got = self.heads[key] = (sample[:_HEAD], sample[_HEAD + 8:_HEAD + 8 + _TAIL])
        return got

    def data(self, clock: Clock, from_client: bool, layout: DataLayout, *fields: Any) -> bytes:
        """A record of a PSH+ACK data frame of ``layout`` carrying ``fields``; the sender's seq moves on."""
        # This runs once a frame: the clock's tick and parts() inlined.
        clock.usec = usec = clock.usec + _FRAME_STEP_US
        sec = _T0 + usec // 1_000_000
        usec %= 1_000_000
        length = layout.length
        got = self.heads.get((from_client, length))
        head, tail = got if got is not None else self.parts(from_client, length)
        c_seq, s_seq = self.c_seq & 0xFFFFFFFF, self.s_seq & 0xFFFFFFFF
        if from_client:
            self.c_seq += layout.payload_length
            return layout.pack(sec, usec, length, length, head, c_seq, s_seq, tail, *fields)
        self.s_seq += layout.payload_length
        return layout.pack(sec, usec, length, length, head, s_seq, c_seq, tail, *fields)


def write_pcap(path: Path, records: Iterable[bytes], frames: int) -> tuple[int, int]:
    """Write a big-endian pcap of the first ``frames`` of ``records``: (frames written, bytes written).

    ``records`` (pcap records: header and frame) is read no further than
    the last record written, so a generator's work, and any count it keeps,
    stops with it.
    """
    written = 0
    total = len(_PCAP_HEADER)
    with open(path, "wb") as out:
        out.write(_PCAP_HEADER)
        chunk: list[bytes] = []
        for record in islice(records, frames):
            chunk.append(record)
            if len(chunk) >= _CHUNK:
                data = b"".join(chunk)
                out.write(data)
                total += len(data)
                chunk.clear()
            written += 1
        data = b"".join(chunk)
        out.write(data)
        total += len(data)
    return written, total
