"""Capture replay benchmark: ``wireproof replay`` against tshark and Scapy on one big Modbus capture.

What is compared, on the same capture (:func:`write_modbus_capture`, cached
in the temporary directory by frame count):

- ``wireproof``: :func:`wireproof.harness.replay.run.replay` in this
  process, analytics on, exactly as ``wireproof replay FILE`` runs it
  (reader, dissector with TCP reassembly, Modbus framing, decoding, the
  passive machine, analytics), then the JSON summary;
- ``tshark``: ``tshark -r FILE -q -z io,stat,0`` in a subprocess, wall time.
  The capture's server port is 502, so tshark dissects every frame down to
  Modbus/TCP (``mbtcp``) and its registers (``modbus``), reassembling TCP;
- ``scapy``: ``sniff(offline=FILE, session=TCPSession, prn=...)`` with
  ``scapy.contrib.modbus`` loaded (Modbus/TCP bound to port 502), streaming
  (``rdpcap`` would hold the capture in memory). Scapy dissects about two
  orders of magnitude slower, so it runs on the first ``scapy_frames`` frames
  (a prefix capture written alongside) and its rate is extrapolated: the
  report says so (``"sample_frames"``).

Rates are frames per second of wall time. wireproof and tshark run in
alternating rounds (three by default) and each keeps its best round: on a
shared machine a slow spell then hits both, and the best round is the one
least disturbed; the median rates are in the report too. The ratios
wireproof/peer are judged against the issue's goals (>= 1.0x tshark,
>= 10x Scapy).

The capture (Ethernet / IPv4 / TCP / Modbus, big-endian pcap) is written
with one precompiled :class:`struct.Struct` ``pack`` per frame over
per-flow constant header bytes, so a million frames take seconds: ``flows``
connections, ``concurrent`` at a time, each with a handshake, polls of four
holding registers (every 16th transaction a single register write), and a
FIN close. Deliberate defects, at fixed intervals: an exception response
(every 997th transaction), a response whose transaction id matches no
request (every 4999th: a ``modbus.response-without-request`` and an
unanswered request), a retransmitted request segment (every 7919th). The
file stops at exactly ``frames`` frames, wherever that falls.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import os
import pstats
import re
import shutil
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wireproof.harness.bench import Check, Goal, Report, Timing, format_rate, ratios
from wireproof.harness.replay.pcap import build_tcp_frame

__all__ = [
    "DEFAULT_FRAMES",
    "GOALS",
    "QUICK_FRAMES",
    "GeneratedCapture",
    "build",
    "cached_capture",
    "profile",
    "render_text",
    "run",
    "write_modbus_capture",
]

OPERATION = "replay"
DEFAULT_FRAMES = 1_000_000
QUICK_FRAMES = 50_000
SCAPY_FRAMES = 20_000
ROUNDS = 3  # alternating rounds of wireproof and tshark; each keeps its best
QUICK_SCAPY_FRAMES = 2_000
# The goals: at least as fast as tshark, at least 10x Scapy.
GOALS = (Goal(operation=OPERATION, peer="tshark", minimum=1.0),
         Goal(operation=OPERATION, peer="scapy", minimum=10.0))

SERVER_PORT = 502
_SYN, _ACK, _FIN, _PSH = 0x02, 0x10, 0x01, 0x08
_REC = ">IIII"  # pcap record header, big-endian file (one byte order for the whole frame)
_HEAD = 38  # Ethernet 14 + IPv4 20 + TCP ports 4: constant per flow and direction
_TAIL = 8  # TCP data offset/flags, window, checksum, urgent pointer
EXCEPTION_EVERY = 997
ORPHAN_EVERY = 4999
RETRANSMIT_EVERY = 7919
WRITE_EVERY = 16
_T0 = 1_700_000_000
_FRAME_STEP_US = 100  # capture time between frames


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneratedCapture:
    """What :func:`write_modbus_capture` wrote: the counts a replay of it must find."""

    path: Path
    frames: int
    bytes: int
    flows: int
    requests: int
    responses: int
    exceptions: int
    orphan_responses: int
    retransmissions: int

    @property
    def messages(self) -> int:
        return self.requests + self.responses

    def describe(self) -> dict[str, int | str]:
        return {"path": str(self.path), "frames": self.frames, "bytes": self.bytes, "flows": self.flows,
                "requests": self.requests, "responses": self.responses, "exceptions": self.exceptions,
                "orphan_responses": self.orphan_responses, "retransmissions": self.retransmissions}


# One Struct per frame kind: record header, then alternately per-flow constant bytes and fields.
_READ_REQ = struct.Struct(f"{_REC}{_HEAD}sII{_TAIL}sH10s")  # tid, then 00 00 00 06 u 03 aaaa 0004
_READ_RSP = struct.Struct(f"{_REC}{_HEAD}sII{_TAIL}sH7s4H")  # tid, 00 00 00 0b u 03 08, 4 registers
_WRITE = struct.Struct(f"{_REC}{_HEAD}sII{_TAIL}sH8sH")  # tid, 00 00 00 06 u 06 aaaa, value
_EXC_RSP = struct.Struct(f"{_REC}{_HEAD}sII{_TAIL}sH7s")  # tid, 00 00 00 03 u 83 02
_READ_REQ_LEN, _READ_RSP_LEN, _WRITE_LEN, _EXC_LEN = (s.size - 16 for s in (_READ_REQ, _READ_RSP, _WRITE,
                                                                              _EXC_RSP))
_UNIT = 1
_READ_ADDRESS, _WRITE_ADDRESS = 100, 200


class _Flow:
    """One connection's constant header bytes and sequence numbers."""

    __slots__ = ("c_seq", "client", "heads", "s_seq", "server", "tid")

    def __init__(self, index: int) -> None:
        self.client = (f"10.1.{index // 250 % 250}.{index % 250 + 1}", 40000 + index % 20000)
        self.server = (f"10.0.0.{index % 4 + 1}", SERVER_PORT)
        self.c_seq = 1000 + index * 7919
        self.s_seq = 5000 + index * 104729
        self.tid = index * 13 % 65536
        # Per (direction, total frame length): the Ethernet/IPv4/TCP-ports prefix and the TCP tail.
        self.heads: dict[tuple[bool, int], tuple[bytes, bytes]] = {}

    def frame(self, from_client: bool, payload: bytes, flags: int) -> bytes:
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        seq, ack = (self.c_seq, self.s_seq) if from_client else (self.s_seq, self.c_seq)
        if not flags & _ACK:
            ack = 0  # RFC 9293 3.1: the acknowledgment field is only meaningful with ACK
        return build_tcp_frame(payload, src=src, dst=dst, seq=seq, ack=ack, flags=flags)

    def parts(self, from_client: bool, length: int) -> tuple[bytes, bytes]:
        """The constant bytes around seq/ack of a data frame of ``length`` bytes in one direction."""
        key = (from_client, length)
        got = self.heads.get(key)
        if got is None:
            sample = self.frame(from_client, bytes(length - 54), _PSH | _ACK)
            got = self.heads[key] = (sample[:_HEAD], sample[_HEAD + 8:_HEAD + 8 + _TAIL])
        return got


def _records(frames: int, *, flows: int, concurrent: int, per_flow: int,
             counts: dict[str, int]) -> Iterator[bytes]:
    """Pcap records (header + frame) of the capture, in capture order; stops after ``frames``."""
    pack_rec = struct.Struct(_REC).pack
    emitted = 0
    transaction = 0
    usec = 0
    rsp_values = (0, 0, 0, 0)
    for batch_start in range(0, flows, concurrent):
        batch = [_Flow(i) for i in range(batch_start, min(flows, batch_start + concurrent))]
        counts["flows"] += len(batch)
        control: list[tuple[_Flow, bool, int, int, int]] = []  # handshake: (flow, from client, flags, dc, ds)
        for f in batch:
            control += [(f, True, _SYN, 1, 0), (f, False, _SYN | _ACK, 0, 1), (f, True, _ACK, 0, 0)]
        for f, from_client, flags, dc, ds in control:
            data = f.frame(from_client, b"", flags)
            f.c_seq += dc
            f.s_seq += ds
            usec += _FRAME_STEP_US
            yield pack_rec(_T0 + usec // 1_000_000, usec % 1_000_000, len(data), len(data)) + data
            emitted += 1
            if emitted == frames:
                return
        for _ in range(per_flow):
            for f in batch:
                transaction += 1
                tid = f.tid = (f.tid + 1) & 0xFFFF
                usec += _FRAME_STEP_US
                sec, us = _T0 + usec // 1_000_000, usec % 1_000_000
                c_seq, s_seq = f.c_seq & 0xFFFFFFFF, f.s_seq & 0xFFFFFFFF
                write = transaction % WRITE_EVERY == 0
                if write:
                    value = transaction & 0xFFFF
                    head, tail = f.parts(True, _WRITE_LEN)
                    request = _WRITE.pack(sec, us, _WRITE_LEN, _WRITE_LEN, head, c_seq, s_seq, tail, tid,
                                          b"\x00\x00\x00\x06\x01\x06\x00\xc8", value)
                    f.c_seq += _WRITE_LEN - 54
                else:
                    head, tail = f.parts(True, _READ_REQ_LEN)
                    request = _READ_REQ.pack(sec, us, _READ_REQ_LEN, _READ_REQ_LEN, head, c_seq, s_seq, tail,
                                             tid, b"\x00\x00\x00\x06\x01\x03\x00\x64\x00\x04")
                    f.c_seq += _READ_REQ_LEN - 54
                yield request
                counts["requests"] += 1
                emitted += 1
                if emitted == frames:
                    return
                if transaction % RETRANSMIT_EVERY == 0:
                    usec += _FRAME_STEP_US
                    rec = pack_rec(_T0 + usec // 1_000_000, usec % 1_000_000, len(request) - 16,
                                   len(request) - 16)
                    yield rec + request[16:]
                    counts["retransmissions"] += 1
                    emitted += 1
                    if emitted == frames:
                        return
                usec += _FRAME_STEP_US
                sec, us = _T0 + usec // 1_000_000, usec % 1_000_000
                c_seq = f.c_seq & 0xFFFFFFFF
                rtid = tid
                if transaction % ORPHAN_EVERY == 0:
                    rtid ^= 0x8000
                    counts["orphan_responses"] += 1
                if transaction % EXCEPTION_EVERY == 0:
                    head, tail = f.parts(False, _EXC_LEN)
                    code = b"\x86\x02" if write else b"\x83\x02"  # ILLEGAL DATA ADDRESS (MB-AP 7)
                    response = _EXC_RSP.pack(sec, us, _EXC_LEN, _EXC_LEN, head, s_seq, c_seq, tail, rtid,
                                             b"\x00\x00\x00\x03\x01" + code)
                    f.s_seq += _EXC_LEN - 54
                    counts["exceptions"] += 1
                elif write:
                    head, tail = f.parts(False, _WRITE_LEN)
                    response = _WRITE.pack(sec, us, _WRITE_LEN, _WRITE_LEN, head, s_seq, c_seq, tail, rtid,
                                           b"\x00\x00\x00\x06\x01\x06\x00\xc8", value)
                    f.s_seq += _WRITE_LEN - 54
                else:
                    # Registers that move: a slow ramp, a counter, a constant and a square wave.
                    rsp_values = (transaction // 1000 & 0xFFFF, transaction & 0xFFFF, 1234,
                                  500 if transaction // 5000 % 2 else 100)
                    head, tail = f.parts(False, _READ_RSP_LEN)
                    response = _READ_RSP.pack(sec, us, _READ_RSP_LEN, _READ_RSP_LEN, head, s_seq, c_seq, tail,
                                              rtid, b"\x00\x00\x00\x0b\x01\x03\x08", *rsp_values)
                    f.s_seq += _READ_RSP_LEN - 54
                yield response
                counts["responses"] += 1
                emitted += 1
                if emitted == frames:
                    return
        closing: list[tuple[_Flow, bool, int, int, int]] = []
        for f in batch:
            closing += [(f, True, _FIN | _ACK, 1, 0), (f, False, _ACK, 0, 0), (f, False, _FIN | _ACK, 0, 1),
                        (f, True, _ACK, 0, 0)]
        for f, from_client, flags, dc, ds in closing:
            data = f.frame(from_client, b"", flags)
            f.c_seq += dc
            f.s_seq += ds
            usec += _FRAME_STEP_US
            yield pack_rec(_T0 + usec // 1_000_000, usec % 1_000_000, len(data), len(data)) + data
            emitted += 1
            if emitted == frames:
                return


def write_modbus_capture(path: str | Path, frames: int = 1_000_000, *, concurrent: int = 32,
                         per_flow: int = 2000) -> GeneratedCapture:
    """Write a pcap of exactly ``frames`` frames of Modbus/TCP traffic (module docstring), streaming.

    ``concurrent`` connections are open at a time, each making ``per_flow``
    transactions; there are as many connections as it takes to reach ``frames``.
    """
    if frames < 1:
        raise ValueError("frames must be at least 1")
    per_batch = concurrent * (7 + 2 * per_flow)  # handshake and close, two frames a transaction
    flows = concurrent * (frames // per_batch + 1)
    counts = dict.fromkeys(("flows", "requests", "responses", "exceptions", "orphan_responses",
                            "retransmissions"), 0)
    out_path = Path(path)
    total = 24
    written = 0
    with open(out_path, "wb") as out:
        # Big-endian pcap (magic a1b2c3d4 as stored), microseconds, Ethernet.
        out.write(struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        chunk: list[bytes] = []
        for record in _records(frames, flows=flows, concurrent=concurrent, per_flow=per_flow, counts=counts):
            chunk.append(record)
            if len(chunk) >= 8192:
                data = b"".join(chunk)
                out.write(data)
                total += len(data)
                chunk.clear()
            written += 1
        data = b"".join(chunk)
        out.write(data)
        total += len(data)
    return GeneratedCapture(path=out_path, frames=written, bytes=total, **counts)



# --- the benchmark ------------------------------------------------------------------------------


def _directory(directory: str | Path | None) -> Path:
    if directory is not None:
        return Path(directory)
    return Path(tempfile.gettempdir()) / "wireproof-bench-replay"


def cached_capture(frames: int, directory: str | Path | None = None) -> GeneratedCapture:
    """The benchmark capture of ``frames`` frames, written once per temporary directory and reused.

    A sidecar JSON records what was written; a file whose size does not
    match it is written again (written to a temporary name, then renamed, so
    an interrupted run leaves no half capture behind).
    """
    base = _directory(directory)
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"modbus-{frames}.pcap"
    meta = path.with_suffix(".json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        info = json.loads(meta.read_text())
        if path.stat().st_size == info["bytes"] and info["frames"] == frames:
            return _from_json(path, info)
    partial = base / f".modbus-{frames}.{os.getpid()}.pcap"
    written = write_modbus_capture(partial, frames)
    os.replace(partial, path)
    info = written.describe()
    meta.write_text(json.dumps(info))
    return _from_json(path, info)


def _from_json(path: Path, info: dict[str, Any]) -> GeneratedCapture:
    return GeneratedCapture(path=path, **{k: int(v) for k, v in info.items() if k != "path"})


@dataclass(slots=True, kw_only=True)
class _Run:
    library: str
    frames: int = 0  # frames processed
    seconds: float = 0.0
    ok: bool = False
    detail: str = ""
    available: bool = True
    version: str = ""
    reason: str = ""
    extrapolated: bool = False

    @property
    def rate(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def build() -> str:
    """``"mypyc"`` when the replay's hot path is the compiled build (``setup.py``), else ``"python"``."""
    from wireproof.harness.replay import engine

    return "python" if engine.__file__.endswith(".py") else "mypyc"


def _wireproof(capture: GeneratedCapture) -> _Run:
    from wireproof import __version__
    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import to_json

    run = _Run(library="wireproof", version=f"{__version__} ({build()})")
    start = time.perf_counter()
    result = replay(capture.path)  # what `wireproof replay FILE --json` runs: analytics on
    document = to_json(result)
    json.dumps(document, default=str)
    run.seconds = time.perf_counter() - start
    run.frames = document["frames"]
    messages = document["messages"].get("modbus-tcp", 0)
    run.ok = run.frames == capture.frames and messages == capture.messages
    run.detail = (f"{run.frames} frames, {messages} Modbus messages "
                  f"(expected {capture.frames}, {capture.messages})")
    return run


_IO_ROW = re.compile(r"\|\s*[\d.]+\s*<>\s*[\d.]+\s*\|\s*(\d+)\s*\|")


def _tshark(capture: GeneratedCapture) -> _Run:
    run = _Run(library="tshark")
    exe = shutil.which("tshark")
    if exe is None:
        run.available, run.reason = False, "tshark is not installed"
        return run
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=60).stdout
        match = re.search(r"TShark \(Wireshark\) ([\w.\-]+)", head)
        run.version = match.group(1) if match else ""
    start = time.perf_counter()
    try:
        done = subprocess.run([exe, "-r", str(capture.path), "-q", "-z", "io,stat,0"], capture_output=True,
                              text=True, timeout=3600)
    except (OSError, subprocess.SubprocessError) as exc:
        run.available, run.reason = False, f"tshark failed to run: {exc}"
        return run
    run.seconds = time.perf_counter() - start
    rows = _IO_ROW.findall(done.stdout)
    run.frames = int(rows[-1]) if rows else 0
    run.ok = done.returncode == 0 and run.frames == capture.frames
    run.detail = f"exit {done.returncode}, io,stat counted {run.frames} frames (expected {capture.frames})"
    return run


def _scapy(capture: GeneratedCapture, sample_frames: int, directory: Path) -> _Run:
    run = _Run(library="scapy")
    try:
        import scapy
        import scapy.contrib.modbus as modbus
        from scapy.sendrecv import sniff
        from scapy.sessions import TCPSession
    except ImportError as exc:
        run.available, run.reason = False, f"scapy is not installed ({exc})"
        return run
    run.version = str(getattr(scapy, "VERSION", ""))
    sample = cached_capture(min(sample_frames, capture.frames), directory)
    seen = [0, 0]
    layers = (modbus.ModbusADURequest, modbus.ModbusADUResponse)

    def count(packet: Any) -> None:
        seen[0] += 1
        if packet.haslayer(layers[0]) or packet.haslayer(layers[1]):
            seen[1] += 1

    start = time.perf_counter()
    sniff(offline=str(sample.path), session=TCPSession, prn=count, store=False)
    run.seconds = time.perf_counter() - start
    run.frames = seen[0]
    run.extrapolated = sample.frames < capture.frames
    # Scapy sees the retransmitted request as a Modbus packet too: one more than the messages.
    expected = sample.messages + sample.retransmissions
    run.ok = seen[0] == sample.frames and seen[1] == expected
    run.detail = (f"first {sample.frames} frames of the capture: {seen[0]} packets, {seen[1]} with a Modbus "
                  f"layer (expected {sample.frames}, {expected})")
    return run


def run(*, frames: int = DEFAULT_FRAMES, quick: bool = False, scapy_frames: int | None = None,
        directory: str | Path | None = None, libraries: tuple[str, ...] = ("wireproof", "tshark", "scapy"),
        progress: Callable[[str], None] | None = None, rounds: int | None = None) -> Report:
    """Build (or reuse) the capture, time the libraries on it (``rounds`` alternating rounds of
    wireproof and tshark, best kept; default 3, 1 with ``quick``), and report (module docstring)."""
    if quick and frames == DEFAULT_FRAMES:
        frames = QUICK_FRAMES
    sample = scapy_frames if scapy_frames is not None else (QUICK_SCAPY_FRAMES if quick else SCAPY_FRAMES)
    base = _directory(directory)
    say = progress or (lambda text: None)
    say(f"capture: {frames} frames in {base}")
    capture = cached_capture(frames, base)
    for name in libraries:
        if name not in ("wireproof", "tshark", "scapy"):
            raise ValueError(f"unknown library {name!r}")
    rounds = max(1, rounds if rounds is not None else (1 if quick else ROUNDS))
    # wireproof and tshark take turns, round after round, so a slow spell of the machine
    # (a shared VM's neighbours) hits both; each keeps its best round. Scapy runs once.
    samples: dict[str, list[_Run]] = {}
    for round_number in range(rounds):
        for name in libraries:
            if name == "scapy" and round_number:
                continue
            say(f"timing {name} (round {round_number + 1} of {rounds})")
            one = (_wireproof(capture) if name == "wireproof" else _tshark(capture) if name == "tshark"
                   else _scapy(capture, sample, base))
            samples.setdefault(name, []).append(one)
    runs: list[_Run] = []
    medians: dict[str, float] = {}
    for name in libraries:
        tries = samples[name]
        good = [r for r in tries if r.available and r.ok]
        runs.append(min(good, key=lambda r: r.seconds) if good else tries[-1])
        rates = sorted(r.rate for r in good)
        medians[name] = rates[len(rates) // 2] if rates else 0.0
    measured = [r for r in runs if r.available]
    return Report(
        suite="replay",
        operations=(OPERATION,),
        libraries={r.library: {"available": r.available, "version": r.version,
                               **({"reason": r.reason} if r.reason else {}),
                               **({"seconds": round(r.seconds, 3), "frames": r.frames,
                                   "extrapolated": r.extrapolated} if r.available else {})}
                   for r in runs},
        checks=[Check(library=r.library, operation=OPERATION, ok=r.ok, frames=r.frames, detail=r.detail)
                for r in measured],
        timings=[Timing(library=r.library, operation=OPERATION, frames_per_second=r.rate,
                        median_frames_per_second=medians[r.library], samples=len(samples[r.library]),
                        passes_per_sample=1)
                 for r in measured if r.ok],
        goals=[g for g in GOALS if g.peer in libraries],
        settings={"quick": quick, "frames": frames, "scapy_sample_frames": min(sample, frames),
                  "runs": rounds, "build": build(),
                  "timing": "wall clock; wireproof and tshark alternate for the rounds and "
                  "each keeps its best; Scapy once; tshark as a subprocess"},
        frames=capture.describe(),
    )


def render_text(report: Report) -> str:
    """The report for people: seconds and frames/s per library, the ratios against the goals."""
    f = report.frames
    lines = [f"wireproof bench replay: {f['frames']:,} frames of Modbus/TCP ({f['bytes'] / 1e6:.1f} MB, "
             f"{f['flows']} connections, {f['requests']:,} requests) in {f['path']}", ""]
    for name, info in report.libraries.items():
        if not info.get("available"):
            lines.append(f"  {name:<10} not measured ({info.get('reason', 'unavailable')})")
            continue
        timing = next((t for t in report.timings if t.library == name), None)
        rate = format_rate(timing.frames_per_second if timing else None)
        note = " (extrapolated from the capture's first frames)" if info.get("extrapolated") else ""
        if timing is not None and timing.samples > 1:
            note += (f" (best of {timing.samples}; median "
                     f"{format_rate(timing.median_frames_per_second)} frames/s)")
        lines.append(f"  {name:<10} {info.get('version', ''):<15} {info['frames']:>10,} frames in "
                     f"{info['seconds']:8.2f} s = {rate:>10} frames/s{note}")
    lines.append("")
    for row in ratios(report):
        if row["ratio"] is None:
            lines.append(f"  wireproof/{row['peer']}: - (goal >= {row['goal']:g}x: not measured)")
        else:
            verdict = "met" if row["met"] else "NOT MET"
            lines.append(f"  wireproof/{row['peer']}: {row['ratio']:.2f}x "
                         f"(goal >= {row['goal']:g}x: {verdict})")
    for check in report.checks:
        if not check.ok:
            lines.append(f"CORRECTNESS CHECK FAILED: {check.library}: {check.detail}")
    if report.checks_ok:
        lines.append(f"checks passed: {', '.join(c.library for c in report.checks)} read every frame.")
    return "\n".join(lines)


# --- profiling ---------------------------------------------------------------------------------

# Where each module's own time goes (cProfile tottime, grouped by file).
_LAYERS = (
    ("reader", ("replay/capture.py", "replay/pcap.py", "replay/events.py", "<string>")),
    ("dissector + TCP reassembly", ("replay/dissector.py", "replay/tcp.py", "replay/net.py")),
    ("engine dispatch", ("replay/engine.py", "replay/findings.py")),
    ("passive analyzer (framing, pairing)", ("/analyzer.py", "/framers.py", "codecs/_pairing.py",
                                             "codecs/_analysis.py")),
    ("codec (decode)", ("codecs/",)),
    ("analytics", ("replay/analytics/",)),
    ("summary / JSON", ("replay/summary.py", "json/")),
)


def _layer(filename: str) -> str:
    name = filename.replace(os.sep, "/")
    for layer, parts in _LAYERS:
        if any(p in name for p in parts):
            return layer
    return "builtins and other" if name.startswith("~") or "/" not in name else "other Python"


def _staged(path: Path) -> list[tuple[str, float]]:
    """Wall time of the pipeline cut after each layer (no profiler overhead), as the engine runs it."""
    from wireproof.harness.replay.capture import iter_capture
    from wireproof.harness.replay.dissector import Dissector
    from wireproof.harness.replay.events import new_frame
    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import to_json

    stages: list[tuple[str, float]] = []
    start = time.perf_counter()
    for _ in iter_capture(path).records():
        pass
    stages.append(("reader only", time.perf_counter() - start))
    start = time.perf_counter()
    dissector = Dissector()
    fast, feed = dissector.fast_tcp, dissector.feed
    for record in iter_capture(path).records():
        if record[2] != 1 or fast(record[0], record[1], record[3]) is None:
            feed(new_frame(*record))
    stages.append(("reader + dissector", time.perf_counter() - start))
    start = time.perf_counter()
    replay(path, analytics=False)
    stages.append(("full replay, analytics off", time.perf_counter() - start))
    start = time.perf_counter()
    to_json(replay(path, analytics_process=False))
    stages.append(("full replay, analytics in this process", time.perf_counter() - start))
    start = time.perf_counter()
    to_json(replay(path, analytics_process=True))
    stages.append(("full replay, analytics in a second process", time.perf_counter() - start))
    return stages


def profile(*, frames: int = 200_000, top: int = 30, directory: str | Path | None = None) -> str:
    """Staged timings and a cProfile of ``wireproof replay`` on ``frames`` frames, per layer."""
    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import to_json

    capture = cached_capture(frames, directory)
    out = [f"wireproof replay profile: {frames:,} frames ({capture.path})", "",
           "staged wall time (no profiler):"]
    previous = 0.0
    for name, seconds in _staged(capture.path):
        out.append(f"  {name:<44} {seconds:7.3f} s  {frames / seconds:>10,.0f} frames/s  "
                   f"({seconds - previous:+.3f} s)")
        previous = seconds
    # The profile is of this process: analytics in-process, so their cost shows.
    profiler = cProfile.Profile()
    profiler.enable()
    to_json(replay(capture.path, analytics_process=False))
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    per_layer: dict[str, float] = {}
    total = 0.0
    for (filename, _line, _func), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        layer = _layer(filename)
        per_layer[layer] = per_layer.get(layer, 0.0) + tottime
        total += tottime
    out += ["", f"cProfile own time per layer (total {total:.2f} s under the profiler):"]
    for layer, seconds in sorted(per_layer.items(), key=lambda kv: -kv[1]):
        out.append(f"  {layer:<42} {seconds:7.3f} s  {100 * seconds / total:5.1f} %  "
                   f"{1e6 * seconds / frames:6.2f} us/frame")
    buffer = io.StringIO()
    pstats.Stats(profiler, stream=buffer).sort_stats("tottime").print_stats(top)
    out += ["", buffer.getvalue()]
    return "\n".join(out)
