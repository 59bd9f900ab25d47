"""DNP3 codec benchmark: wireproof against dnp3py, Scapy and the Construct oracle, one process.

What is compared (one operation, ``decode``: a whole FT3 link frame, its
transport header and, when the segment is a whole fragment, the
application fragment with its object headers; IEEE 1815-2012 9.2, 8.2,
4.2), each library on the same frames (:func:`frame_set`):

- ``wireproof``: ``link_codec().decode(frame)`` (the hand-written fast
  path; object values decoded into points too);
- ``dnp3py``: ``DataLinkFrame.from_bytes`` (header and block CRCs),
  ``TransportSegment.from_bytes`` and ``parse_request`` /
  ``parse_response`` (application header, object blocks delimited, values
  left as octets): what dnp3py's master and outstation run per frame;
- ``scapy``: :class:`~wireproof.codecs.dnp3.scapy_layer.DNP3Link` (the
  ``scapy`` extra): Scapy's field machinery, link with CRCs, transport,
  application, object headers (object octets delimited, not interpreted);
- ``construct``: ``link_codec().decode_declarative(frame)``: the Construct
  definitions (:mod:`~wireproof.codecs.dnp3.formats`), the oracle.

Before timing, every library's answer on every frame is compared with the
oracle's (a fingerprint: link control, addresses, user data, transport
header, application control, function, IIN and each object header's
group, variation, qualifier and range); wireproof's whole decoded frame
must equal the oracle's. A library that fails a check is reported and not
timed.

The frames are the link frames of the packaged peer captures
(``wireproof.fixtures/dnp3/captures``: polls, events, controls, time
sync, unsolicited responses between yadnp3 and dnp3py) and the
application vectors (``vectors/app.toml``, ``qualifiers.toml``: one a
group/variation) in link frames, plus the link vectors.

``extra.replay`` times ``wireproof replay FILE`` (one worker, in this
process) against ``tshark -r FILE -q -z io,stat,0`` on the largest DNP3
capture in ``$WIREPROOF_SHARED/captures/dnp3`` (default ``../shared``
beside the repository; ``--capture FILE`` names another), best of
``--rounds`` rounds each; tshark's start-up (the same command on a
one-packet capture) is measured too, so both the wall-clock ratio and the
ratio after start-up are reported.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from wireproof.harness.bench import Case, Check, Goal, Report, measure

__all__ = ["GOALS", "LIBRARIES", "OPERATIONS", "FrameSet", "add_arguments", "build", "command", "fingerprint",
           "frame_set", "largest_shared_capture", "prepare", "profile", "replay_throughput", "run"]

OPERATIONS = ("decode",)
# The issue's goals: at least 10x dnp3py's parser and ahead of Scapy; the oracle for the record.
GOALS = (Goal(operation="decode", peer="dnp3py", minimum=10.0),
         Goal(operation="decode", peer="scapy", minimum=1.0),
         Goal(operation="decode", peer="construct", minimum=1.0))

Fingerprint = tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameSet:
    """The benchmark's link frames and where they came from."""

    frames: tuple[bytes, ...]
    sources: dict[str, int]

    def describe(self) -> dict[str, Any]:
        sizes = [len(f) for f in self.frames]
        return {"frames": len(self.frames), "bytes_min": min(sizes), "bytes_max": max(sizes),
                "bytes_mean": round(sum(sizes) / len(sizes), 1), "sources": dict(self.sources)}


def _capture_frames() -> list[bytes]:
    from wireproof.codecs._core import NEED_DATA
    from wireproof.codecs.dnp3.framers import LinkFramer
    from wireproof.errors import DecodeError
    from wireproof.harness.replay.capture import iter_capture
    from wireproof.harness.replay.dissector import tcp_streams

    folder = resources.files("wireproof.fixtures") / "dnp3" / "captures"
    out: list[bytes] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".pcapng"):
            continue
        with resources.as_file(entry) as path:
            streams = tcp_streams(iter_capture(path), strict=False)
        for stream in streams:
            framer = LinkFramer()
            framer.feed(stream.data)
            while True:
                try:
                    raw = framer.next_frame()
                except DecodeError:
                    continue
                if raw is NEED_DATA:
                    break
                out.append(bytes(raw))
    return out


def _vector_frames() -> tuple[list[bytes], list[bytes]]:
    from wireproof.codecs.dnp3.codec import link_frames
    from wireproof.codecs.dnp3.link import encode_link
    from wireproof.harness.fixtures import load_vectors

    folder = resources.files("wireproof.fixtures") / "dnp3" / "vectors"
    links = [v.data for v in load_vectors(folder / "link.toml") if v.error is None]
    apps: list[bytes] = []
    for name in ("app.toml", "qualifiers.toml"):
        for v in load_vectors(folder / name):
            if v.error is not None or len(v.data) > 249:
                continue
            master = v.data[1] < 129  # requests from the master, responses from the outstation
            frame = link_frames(v.data, destination=10 if master else 1, source=1 if master else 10,
                                master=master)[0]
            apps.append(encode_link(frame))
    return links, apps


def frame_set() -> FrameSet:
    """The benchmark's frames (deterministic): captures, then link vectors, then application vectors."""
    captured = _capture_frames()
    links, apps = _vector_frames()
    return FrameSet(frames=tuple(captured + links + apps),
                    sources={"captures": len(captured), "link_vectors": len(links), "app_vectors": len(apps)})


# --- what each library must have found: a fingerprint per frame -------------------------------


def fingerprint(frame: Any) -> Fingerprint:
    """(link, transport, application) of a wireproof :class:`~wireproof.codecs.dnp3.LinkFrame`."""
    link = (frame.dir, frame.prm, frame.fcb, frame.fcv, int(frame.function), frame.destination, frame.source,
            bytes(frame.user_data))
    t = frame.transport
    transport = None if t is None else (t.fin, t.fir, t.seq)
    a = frame.application
    app = None
    if a is not None:
        iin = getattr(a, "iin", None)
        app = (a.fir, a.fin, a.con, a.uns, a.seq, int(a.function), iin,
               tuple((h.group, h.variation, h.qualifier, h.start, h.stop, h.count) for h in a.objects))
    return (link, transport, app)


_START_STOP = {0: 1, 1: 2, 2: 4, 3: 1, 4: 2, 5: 4}
_COUNT = {7: 1, 8: 2, 9: 4, 0xB: 1}


def _range_of(qualifier: int, data: bytes) -> tuple[int | None, int | None, int | None]:
    code = qualifier & 0x0F
    if code in _START_STOP:
        w = _START_STOP[code]
        return int.from_bytes(data[:w], "little"), int.from_bytes(data[w:2 * w], "little"), None
    if code in _COUNT:
        return None, None, int.from_bytes(data[:_COUNT[code]], "little")
    return None, None, None


class _UnknownFunction:
    """dnp3py refused the fragment's function code (not in its table: secure authentication's 32, 33, 131)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _dnp3py_decode() -> Callable[[bytes], tuple[Any, Any, Any]]:
    from dnp3.application.parser import ParseError, parse_request, parse_response
    from dnp3.datalink.frame import DataLinkFrame
    from dnp3.transport.segment import TransportSegment

    from_bytes, segment_of = DataLinkFrame.from_bytes, TransportSegment.from_bytes

    def decode(raw: bytes) -> tuple[Any, Any, Any]:
        frame = from_bytes(raw)
        segment: Any = None
        app: Any = None
        c = frame.header.control
        if frame.user_data and c.prm and c.function_code in (3, 4):
            segment = segment_of(frame.user_data)
            h = segment.header
            if h.fir and h.fin:
                payload = segment.payload
                response = payload[1:2] and payload[1] >= 129
                try:
                    app = parse_response(payload) if response else parse_request(payload)
                except ParseError as err:
                    if not str(err).startswith("Unknown function code"):
                        raise
                    app = _UnknownFunction(str(err))
        return frame, segment, app
    return decode


_DNP3PY_GAPS = ("unknown_width", "unsupported_range")  # dnp3py's own library gaps (its TruncationReason)


def _dnp3py_fingerprint(answer: tuple[Any, Any, Any],
                        expected: Fingerprint) -> tuple[Fingerprint, str | None]:
    """dnp3py's answer as a fingerprint, and the library gap that explains a shorter answer, if any.

    dnp3py stops at an object header its library cannot size (g50v4, g70, g120, virtual-address
    ranges ...): the headers before it must match; the frame is listed as a known defect.
    """
    frame, segment, app = answer
    c = frame.header.control
    link = (c.dir_from_master, c.prm, c.fcb, c.fcv, c.function_code, frame.header.destination,
            frame.header.source, bytes(frame.user_data))
    transport = None if segment is None else (segment.header.fin, segment.header.fir, segment.header.seq)
    out = None
    gap = None
    if isinstance(app, _UnknownFunction) and expected[2] is not None:
        return (link, transport, expected[2]), f"dnp3py does not parse the fragment ({app.reason})"
    if app is not None:
        t = app.truncation
        if t is not None and t.reason.value not in _DNP3PY_GAPS:
            raise ValueError(f"dnp3py stopped: {t}")
        ac = app.header.control
        iin = getattr(app.header, "iin", None)
        if iin is not None:  # dnp3py holds IIN1 in the low octet; wireproof IIN1 in the high one
            iin = (int(iin) & 0xFF) << 8 | int(iin) >> 8
        headers = tuple((b.header.group, b.header.variation, b.header.qualifier,
                         *_range_of(b.header.qualifier, b.data)) for b in app.objects)
        if t is not None and expected[2] is not None:
            gap = (f"dnp3py cannot size g{t.group}v{t.variation} qualifier 0x{t.qualifier:02x} "
                   f"({t.reason.value}) and stops there; the {len(headers)} headers before it match")
            headers = headers + expected[2][7][len(headers):]
        out = (ac.fir, ac.fin, ac.con, ac.uns, ac.seq, int(app.header.function), iin, headers)
    return (link, transport, out), gap


def _scapy_fingerprint(pkt: Any) -> Fingerprint:
    from wireproof.codecs.dnp3.scapy_layer import DNP3Application, DNP3Transport

    user_data = bytes(pkt.payload)
    if pkt.block_crc_errors:
        raise ValueError(f"block CRC errors {pkt.block_crc_errors}")
    link = (bool(pkt.dir), bool(pkt.prm), bool(pkt.fcb), bool(pkt.fcv), pkt.function, pkt.destination,
            pkt.source, user_data)
    t = pkt.getlayer(DNP3Transport)
    transport = None if t is None else (bool(t.fin), bool(t.fir), t.seq)
    a = pkt.getlayer(DNP3Application)
    app = None
    if a is not None:
        if any(h.undelimited for h in a.headers):
            raise ValueError("an object header Scapy could not delimit")
        app = (bool(a.fir), bool(a.fin), bool(a.con), bool(a.uns), a.seq, a.function,
               a.iin if a.function >= 129 else None,
               tuple((h.group, h.variation, h.qualifier, h.start, h.stop, h.count) for h in a.headers))
    return (link, transport, app)


def _check(library: str, frames: Sequence[bytes],
           compare: Callable[[int], tuple[Any, Any] | tuple[Any, Any, str | None]]) -> Check:
    """``compare(i) -> (got, expected[, known defect])`` on every frame; the first mismatch fails.

    A third item names a documented gap of the library that made its answer shorter on that frame
    (already accounted for in ``got``); such frames are listed, not failed.
    """
    defects: list[str] = []
    for i in range(len(frames)):
        try:
            got, expected, *known = compare(i)
            problem = None if got == expected else f"got {got!r:.200}, expected {expected!r:.200}"
        except Exception as exc:  # a peer may raise anything; the check reports it
            problem, known = f"{type(exc).__name__}: {exc}", []
        if problem is not None:
            return Check(library=library, operation="decode", ok=False, frames=len(frames),
                         detail=f"frame {i} ({frames[i][:24].hex()}...): {problem}",
                         known_defects=tuple(defects))
        if known and known[0]:
            defects.append(f"frame {i}: {known[0]}")
    return Check(library=library, operation="decode", ok=True, frames=len(frames),
                 known_defects=tuple(defects))


# --- the libraries -------------------------------------------------------------------------------

Prepared = tuple[list[Check], list[Case]]


def _case(library: str, decode: Callable[[bytes], object], frames: tuple[bytes, ...]) -> Case:
    def one_pass() -> None:
        for f in frames:
            decode(f)
    return Case(library=library, operation="decode", run=one_pass, frames=len(frames))


def _reference(fs: FrameSet) -> list[Any]:
    from wireproof.codecs.dnp3 import link_codec

    oracle = link_codec().decode_declarative
    return [oracle(f) for f in fs.frames]


def _wireproof(fs: FrameSet, ref: list[Any]) -> Prepared:
    from wireproof.codecs.dnp3 import link_codec

    decode = link_codec().decode
    frames = fs.frames
    check = _check("wireproof", frames, lambda i: (decode(frames[i]), ref[i]))
    return [check], [_case("wireproof", decode, frames)]


def _construct(fs: FrameSet, ref: list[Any]) -> Prepared:
    from wireproof.codecs.dnp3 import link_codec

    decode = link_codec().decode_declarative
    frames = fs.frames
    check = _check("construct", frames, lambda i: (fingerprint(decode(frames[i])), fingerprint(ref[i])))
    return [check], [_case("construct", decode, frames)]


def _dnp3py(fs: FrameSet, ref: list[Any]) -> Prepared:
    decode = _dnp3py_decode()
    frames = fs.frames
    expected = [fingerprint(r) for r in ref]

    def compare(i: int) -> tuple[Any, Any, str | None]:
        got, gap = _dnp3py_fingerprint(decode(frames[i]), expected[i])
        return got, expected[i], gap
    check = _check("dnp3py", frames, compare)
    return [check], [_case("dnp3py", decode, frames)]


def _scapy(fs: FrameSet, ref: list[Any]) -> Prepared:
    from wireproof.codecs.dnp3.scapy_layer import DNP3Link

    frames = fs.frames
    check = _check("scapy", frames, lambda i: (_scapy_fingerprint(DNP3Link(frames[i])), fingerprint(ref[i])))
    return [check], [_case("scapy", DNP3Link, frames)]


LIBRARIES: dict[str, tuple[str, Callable[[FrameSet, list[Any]], Prepared]]] = {
    "wireproof": ("wireproof", _wireproof),
    "dnp3py": ("dnp3", _dnp3py),
    "scapy": ("scapy", _scapy),
    "construct": ("construct", _construct),
}


def _version(module: str) -> str:
    if module == "dnp3":
        from importlib.metadata import version

        return version("dnp3py")
    return str(getattr(importlib.import_module(module), "__version__", "?"))


def prepare(fs: FrameSet, libraries: Sequence[str] | None = None) -> tuple[
        dict[str, dict[str, Any]], list[Check], list[Case]]:
    """Import each library (default: all of :data:`LIBRARIES`), check it on every frame, make its case."""
    ref = _reference(fs)
    info: dict[str, dict[str, Any]] = {}
    checks: list[Check] = []
    cases: list[Case] = []
    for name in LIBRARIES if libraries is None else libraries:
        module, make = LIBRARIES[name]
        try:
            version = _version(module)
            lib_checks, lib_cases = make(fs, ref)
        except ImportError as exc:
            info[name] = {"available": False, "version": None,
                          "reason": f"not installed ({exc}); pip install 'wireproof[peers,scapy]'"}
            continue
        info[name] = {"available": True, "version": version}
        checks += lib_checks
        if all(c.ok for c in lib_checks):  # a wrong answer fast is no result
            cases += lib_cases
    return info, checks, cases


# --- replay throughput against tshark -------------------------------------------------------------


def largest_shared_capture() -> Path | None:
    """The largest file under ``$WIREPROOF_SHARED/captures/dnp3`` (default ``../shared`` beside the
    repository this module runs from, else beside the working directory, as in ``tox -e bench``),
    or ``None`` when there is no such folder."""
    if "WIREPROOF_SHARED" in os.environ:
        roots = [Path(os.environ["WIREPROOF_SHARED"])]
    else:
        roots = [Path(__file__).resolve().parents[4].parent / "shared", Path.cwd().parent / "shared"]
    folder = next((r / "captures" / "dnp3" for r in roots if (r / "captures" / "dnp3").is_dir()), None)
    files = [p for p in folder.rglob("*.pcap*") if p.is_file()] if folder is not None else []
    return max(files, key=lambda p: (p.stat().st_size, str(p))) if files else None


_IO_ROW = re.compile(r"\|\s*[\d.]+\s*<>\s*[\d.]+\s*\|\s*(\d+)\s*\|")


def _tshark_once(exe: str, path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run([exe, "-r", str(path), "-q", "-z", "io,stat,0"], capture_output=True, text=True,
                          timeout=300, check=False)
    seconds = time.perf_counter() - start
    rows = _IO_ROW.findall(done.stdout)
    return seconds, int(rows[-1]) if rows else 0


def _one_packet_capture(path: Path, directory: Path) -> Path | None:
    """A copy of the capture's first packet (pcap or pcapng, by the reader): tshark's start-up cost."""
    from wireproof.harness.replay.capture import iter_capture

    try:
        first = next(iter(iter_capture(path)))
    except (StopIteration, Exception):
        return None
    out = directory / "wireproof-bench-dnp3-one-packet.pcap"
    import struct

    linktype = getattr(first, "linktype", 1)
    data = bytes(getattr(first, "data", b""))
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    record = struct.pack("<IIII", 0, 0, len(data), len(data)) + data
    out.write_bytes(header + record)
    return out


def replay_throughput(path: Path | None = None, *, rounds: int = 3) -> dict[str, Any]:
    """Frames/s of ``wireproof replay`` (1 worker, in this process) and of tshark on ``path``."""
    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import to_json

    path = path or largest_shared_capture()
    if path is None or not path.is_file():
        return {"available": False, "reason": "no DNP3 capture: set WIREPROOF_SHARED or pass --capture"}
    out: dict[str, Any] = {"available": True, "capture": path.name, "bytes": path.stat().st_size,
                           "rounds": rounds}
    best = float("inf")
    document: dict[str, Any] = {}
    for _ in range(rounds):
        start = time.perf_counter()
        document = to_json(replay(path, workers=1))
        json.dumps(document, default=str)
        best = min(best, time.perf_counter() - start)
    frames = int(document.get("frames", 0))
    messages = document.get("messages", {})
    out["frames"] = frames
    out["dnp3_link_frames"] = messages.get("dnp3") if isinstance(messages, dict) else None
    out["wireproof_seconds"] = round(best, 4)
    out["wireproof_frames_per_second"] = round(frames / best, 1)
    exe = shutil.which("tshark")
    if exe is None:
        out["tshark"] = {"available": False, "reason": "tshark is not installed"}
        return out
    tbest, counted = float("inf"), 0
    for _ in range(rounds):
        seconds, counted = _tshark_once(exe, path)
        tbest = min(tbest, seconds)
    import tempfile

    startup = None
    one = _one_packet_capture(path, Path(tempfile.gettempdir()))
    if one is not None:
        startup = min(_tshark_once(exe, one)[0] for _ in range(rounds))
    tshark: dict[str, Any] = {"available": True, "frames_counted": counted, "seconds": round(tbest, 4),
                              "frames_per_second": round(counted / tbest, 1) if tbest > 0 else None}
    if startup is not None:
        tshark["startup_seconds"] = round(startup, 4)
        steady = tbest - startup
        tshark["frames_per_second_after_startup"] = round(counted / steady, 1) if steady > 0 else None
    out["tshark"] = tshark
    out["ratio_wall"] = round(tbest / best, 3)
    if tshark.get("frames_per_second_after_startup"):
        out["ratio_after_tshark_startup"] = round(out["wireproof_frames_per_second"]
                                                  / tshark["frames_per_second_after_startup"], 3)
    return out


# --- run, print ------------------------------------------------------------------------------------


def build() -> str:
    """``"mypyc"`` when the DNP3 decode path is compiled (see the descriptor's ``compiled``), else
    ``"python"``."""
    from wireproof.codecs.dnp3 import link

    return "python" if link.__file__.endswith(".py") else "mypyc"


def run(*, seconds: float = 1.0, quick: bool = False, libraries: Sequence[str] | None = None,
        capture: Path | None = None, replay: bool = True, rounds: int | None = None) -> Report:
    """Check, then time, every library on the frame set (``seconds`` per case, about); then the replay."""
    sample_seconds = 0.01 if quick else 0.05
    fs = frame_set()
    info, checks, cases = prepare(fs, libraries)
    timings = measure(cases, seconds=seconds, sample_seconds=sample_seconds, warmup_passes=2 if quick else 5)
    extra: dict[str, Any] = {}
    if replay:
        extra["replay"] = replay_throughput(capture, rounds=rounds or (1 if quick else 3))
    return Report(
        suite="dnp3",
        operations=OPERATIONS,
        libraries=info,
        checks=checks,
        timings=timings,
        goals=[g for g in GOALS if info.get(g.peer, {}).get("available")],
        settings={"seconds": seconds, "quick": quick, "sample_seconds": sample_seconds, "build": build(),
                  "rounds": timings[0].samples if timings else 0, "statistic": "best",
                  "timer": "time.perf_counter", "gc": "disabled during samples"},
        frames=fs.describe(),
        extra=extra,
    )


def profile(*, seconds: float = 2.0, top: int = 25) -> str:
    """cProfile of wireproof's decode case (``seconds``); the pstats text, by own time."""
    import cProfile
    import io
    import pstats

    fs = frame_set()
    _, cases = _wireproof(fs, _reference(fs))
    prof = cProfile.Profile()
    deadline = time.perf_counter() + seconds
    prof.enable()
    while time.perf_counter() < deadline:
        cases[0].run()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``wireproof bench dnp3``'s own options."""
    parser.add_argument("--capture", type=Path, default=None, metavar="FILE",
                        help="dnp3 suite: the capture for the replay comparison with tshark (default: the "
                             "largest in $WIREPROOF_SHARED/captures/dnp3)")
    parser.add_argument("--no-replay", action="store_true",
                        help="dnp3 suite: skip the replay comparison with tshark")


def _render_replay(r: dict[str, Any]) -> str:
    if not r.get("available"):
        return f"replay: not measured ({r.get('reason')})"
    lines = [f"replay of {r['capture']} ({r['bytes']:,} bytes, {r['frames']} frames, "
             f"{r['dnp3_link_frames']} DNP3 link frames), best of {r['rounds']}:",
             f"  wireproof replay (1 worker): {r['wireproof_seconds']:.3f} s, "
             f"{r['wireproof_frames_per_second']:,.0f} frames/s"]
    t = r.get("tshark", {})
    if not t.get("available"):
        lines.append(f"  tshark: not measured ({t.get('reason')})")
        return "\n".join(lines)
    lines.append(f"  tshark -q -z io,stat,0: {t['seconds']:.3f} s, {t['frames_per_second']:,.0f} frames/s "
                 f"(start-up {t.get('startup_seconds', '?')} s)")
    lines.append(f"  wireproof/tshark: {r['ratio_wall']:.2f}x wall clock"
                 + (f", {r['ratio_after_tshark_startup']:.2f}x after tshark's start-up"
                    if r.get("ratio_after_tshark_startup") else ""))
    return "\n".join(lines)


def command(args: argparse.Namespace) -> int:
    """``wireproof bench dnp3``: measure, print, exit code (0 done; 1 a wrong answer or, with
    ``--require-goals``, a missed goal)."""
    from wireproof.harness.bench import ratios, render_table, report_json

    seconds = args.seconds if args.seconds is not None else (0.1 if args.quick else 1.0)
    if args.profile:
        print(profile(seconds=seconds))
        return 0
    report = run(seconds=seconds, quick=args.quick, capture=getattr(args, "capture", None),
                 replay=not getattr(args, "no_replay", False), rounds=getattr(args, "rounds", None))
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        f = report.frames
        print(f"wireproof bench {args.suite}: {f['frames']} DNP3 link frames "
              f"({f['bytes_min']}..{f['bytes_max']} bytes, mean {f['bytes_mean']}; {f['sources']}), "
              f"link + transport + application decode; wireproof's {report.settings['build']} build\n")
        print(render_table(report))
        if "replay" in report.extra:
            print("\n" + _render_replay(report.extra["replay"]))
    if not report.checks_ok:
        return 1
    if args.require_goals and not all(r["met"] for r in ratios(report)):
        return 1
    return 0
