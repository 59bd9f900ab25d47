"""Capture replay benchmark: ``wireproof replay`` against tshark and Scapy on one big generated capture.

The capture is a protocol's synthetic traffic (:class:`~wireproof.harness.bench.traffic.Traffic`,
named by its descriptor's ``AnalyzerEntry.traffic``; ``--protocol NAME``,
by default the first registered protocol that has traffic), written once per
protocol and frame count and cached in the temporary directory
(:func:`cached_capture`). What is compared, on that capture:

- ``wireproof``: :func:`wireproof.harness.replay.run.replay` with one
  worker (the analysis in one process, the analytics in a second one, as
  ``wireproof replay FILE --workers 1`` runs it: reader, dissector with TCP
  reassembly, the protocol's framing, decoding and passive machine,
  analytics), then the JSON summary, which the traffic checks: every
  frame, message and expected finding;
- ``wireproof-workers``: the same with N worker processes
  (``--workers N``; default: the usable cores, at least 2), whose summary
  the traffic checks the same way (the numbers are those of one process:
  :mod:`wireproof.harness.replay.workers`);
- ``tshark``: ``tshark -r FILE -q -z io,stat,0`` in a subprocess, wall time.
  The statistic is protocol-independent, but tshark dissects every frame as
  deep as its dissectors go (the capture's servers are on the protocol's
  registered port), reassembling TCP;
- ``scapy``: ``sniff(offline=FILE, session=TCPSession, prn=...)`` with the
  traffic's Scapy layers loaded, streaming (``rdpcap`` would hold the
  capture in memory); not measured when Scapy has no layer for the protocol.
  Scapy dissects about two orders of magnitude slower, so it runs on the
  first ``scapy_frames`` frames (a prefix capture written alongside) and its
  rate is extrapolated: the report says so (``"sample_frames"``).

Rates are frames per second of wall time. wireproof (both ways) and
tshark run in alternating rounds (three by default) and each keeps its
best round: on a shared machine a slow spell then hits all, and the best
round is the one least disturbed; the median rates are in the report too.
Each wireproof round runs in a forked child of the bench, so its peak RSS
(``peak_rss_kib``: the largest of that child and the processes it starts,
the analytics process or the workers) is the replay's own; tshark's is
its process's. The ratios wireproof/peer are judged against the issue's
goals (>= 1.0x tshark, >= 10x Scapy); ``extra.ratio_to_tshark`` gives the
ratio of both wireproof ways. A peer that is not installed is reported,
with the reason, and not measured.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wireproof.harness.bench import Check, Goal, Report, Timing, format_rate, ratios
from wireproof.harness.bench.traffic import GeneratedCapture, Traffic

__all__ = [
    "DEFAULT_FRAMES",
    "GOALS",
    "LIBRARIES",
    "QUICK_FRAMES",
    "GeneratedCapture",
    "Traffic",
    "bench_workers",
    "build",
    "cached_capture",
    "load_traffic",
    "profile",
    "render_text",
    "run",
    "with_traffic",
]

OPERATION = "replay"
DEFAULT_FRAMES = 1_000_000
QUICK_FRAMES = 50_000
SCAPY_FRAMES = 20_000
ROUNDS = 3  # alternating rounds of wireproof and tshark; each keeps its best
LIBRARIES = ("wireproof", "wireproof-workers", "tshark", "scapy")
QUICK_SCAPY_FRAMES = 2_000
# The goals: at least as fast as tshark, at least 10x Scapy.
GOALS = (Goal(operation=OPERATION, peer="tshark", minimum=1.0),
         Goal(operation=OPERATION, peer="scapy", minimum=10.0))


# --- the protocols' traffic -------------------------------------------------------------------


def with_traffic() -> list[str]:
    """The protocols (analyzer entries) that declare synthetic traffic, in registry order.

    The first is the default of :func:`load_traffic` (and ``--protocol``).
    """
    from wireproof.protocol import REGISTRY

    return [entry.name for entry in REGISTRY.analyzers() if entry.traffic is not None]


def load_traffic(name: str | None = None) -> Traffic:
    """The traffic of protocol ``name`` (the first in :func:`with_traffic` when None).

    ``name`` is an analyzer entry's name (``replay --port``'s names) or a
    protocol's, when that protocol has exactly one entry with traffic.
    ``ValueError`` (for a usage error) when there is no such protocol, it
    has no traffic, or its traffic cannot be loaded or does not fit its entry.
    """
    from wireproof.protocol import REGISTRY, resolve

    entries = {e.name: e for e in REGISTRY.analyzers() if e.traffic is not None}
    have = ", ".join(entries) or "none"
    if name is None:
        if not entries:
            raise ValueError("no installed protocol declares traffic for the replay benchmark")
        name = next(iter(entries))
    entry = entries.get(name)
    if entry is None:
        owned = [e for e in entries.values() if REGISTRY.owner("analyzers", e.name).name == name]
        if len(owned) != 1:
            raise ValueError(f"no protocol {name!r} with traffic for the replay benchmark; "
                             f"protocols with traffic: {have}")
        entry = owned[0]
    assert entry.traffic is not None
    try:
        traffic = resolve(entry.traffic)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"the traffic of {entry.name!r} ({entry.traffic}) cannot be loaded: "
                         f"{type(exc).__name__}: {exc}") from None
    if not isinstance(traffic, Traffic) or traffic.name != entry.name or \
            (entry.ports and traffic.server_port not in entry.ports):
        raise ValueError(f"the traffic of {entry.name!r} ({entry.traffic}) does not fit its entry: it must "
                         f"be a Traffic named {entry.name!r} whose server port is one of {list(entry.ports)}")
    return traffic


# --- the capture --------------------------------------------------------------------------------


def _directory(directory: str | Path | None) -> Path:
    if directory is not None:
        return Path(directory)
    return Path(tempfile.gettempdir()) / "wireproof-bench-replay"


def cached_capture(frames: int, directory: str | Path | None = None, *,
                   traffic: Traffic | None = None) -> GeneratedCapture:
    """The capture of ``frames`` frames of ``traffic`` (default: :func:`load_traffic`'s), written once
    per temporary directory and reused.

    The file is named by protocol and frame count; a sidecar JSON records
    what was written, and a file whose size does not match it is written
    again (to a temporary name, then renamed, so an interrupted run leaves
    no half capture behind).
    """
    traffic = traffic if traffic is not None else load_traffic()
    base = _directory(directory)
    base.mkdir(parents=True, exist_ok=True)
    stem = f"{traffic.name}-{frames}"
    path = base / f"{stem}.pcap"
    meta = path.with_suffix(".json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
        cached = GeneratedCapture.from_json(json.loads(meta.read_text()), path)
        if (path.stat().st_size, cached.frames, cached.protocol) == (cached.bytes, frames, traffic.name):
            return cached
    partial = base / f".{stem}.{os.getpid()}.pcap"
    written = traffic.write(partial, frames)
    os.replace(partial, path)
    info = written.to_json()
    meta.write_text(json.dumps(info))
    return GeneratedCapture.from_json(info, path)


# --- the benchmark ------------------------------------------------------------------------------


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
    peak_rss_kib: int = 0

    @property
    def rate(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def build() -> str:
    """``"mypyc"`` when the replay's hot path is the compiled build (``setup.py``), else ``"python"``."""
    from wireproof.harness.replay import engine

    return "python" if engine.__file__.endswith(".py") else "mypyc"


def bench_workers() -> int:
    """The worker count the benchmark measures by default: the usable cores, at least 2."""
    from wireproof.harness.replay.run import _cores

    return max(2, _cores())


def _wireproof(traffic: Traffic, capture: GeneratedCapture, workers: int = 1) -> _Run:
    """A round of wireproof, in a forked child (its peak RSS is the replay's own; module docstring)."""
    from wireproof import __version__

    name = "wireproof" if workers == 1 else "wireproof-workers"
    run = _Run(library=name, version=f"{__version__} ({build()})")
    if sys.platform != "linux":  # no fork: in this process, RSS not measured
        run.seconds, run.frames, run.ok, run.detail = _replay_round(traffic, capture, workers)
        return run
    context: Any = multiprocessing.get_context("fork")
    mine, theirs = context.Pipe(duplex=False)
    # not a daemon: the replay starts processes of its own (the analytics process, the workers)
    child = context.Process(target=_round_child, args=(theirs, traffic, capture, workers))
    child.start()
    theirs.close()
    try:
        answer = mine.recv()
    except EOFError:
        answer = ("failed", f"the replay's process died (exit code {child.exitcode})")
    finally:
        mine.close()
        child.join(60)
    if answer[0] == "failed":
        run.detail = answer[1]
        return run
    run.seconds, run.frames, run.ok, run.detail, run.peak_rss_kib = answer[1]
    return run


def _replay_round(traffic: Traffic, capture: GeneratedCapture, workers: int) -> tuple[float, int, bool, str]:
    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import to_json

    start = time.perf_counter()
    result = replay(capture.path, workers=workers)  # `wireproof replay FILE --json --workers N`: analytics on
    document = to_json(result)
    json.dumps(document, default=str)
    seconds = time.perf_counter() - start
    check = traffic.check(capture, document)
    return seconds, document["frames"], check.ok, check.detail


def _round_child(conn: Any, traffic: Traffic, capture: GeneratedCapture, workers: int) -> None:
    try:
        seconds, frames, ok, detail = _replay_round(traffic, capture, workers)
        rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        conn.send(("done", (seconds, frames, ok, detail, rss)))
    except BaseException as exc:  # the bench reports it as a failed check
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


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
        # Popen and wait4 (not run): the exit status comes with tshark's own resource usage (peak RSS).
        with subprocess.Popen([exe, "-r", str(capture.path), "-q", "-z", "io,stat,0"], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as process:
            assert process.stdout is not None
            stdout = process.stdout.read()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
    except (OSError, subprocess.SubprocessError) as exc:
        run.available, run.reason = False, f"tshark failed to run: {exc}"
        return run
    run.seconds = time.perf_counter() - start
    run.peak_rss_kib = usage.ru_maxrss
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, "")
    rows = _IO_ROW.findall(done.stdout)
    run.frames = int(rows[-1]) if rows else 0
    run.ok = done.returncode == 0 and run.frames == capture.frames
    run.detail = f"exit {done.returncode}, io,stat counted {run.frames} frames (expected {capture.frames})"
    return run


def _scapy(traffic: Traffic, capture: GeneratedCapture, sample_frames: int, directory: Path) -> _Run:
    run = _Run(library="scapy")
    try:
        import scapy
        from scapy.sendrecv import sniff
        from scapy.sessions import TCPSession

        layers = traffic.scapy_layers()
    except ImportError as exc:
        run.available, run.reason = False, f"scapy is not installed ({exc})"
        return run
    if not layers:
        run.available, run.reason = False, f"Scapy has no layer for {traffic.title}"
        return run
    run.version = str(getattr(scapy, "VERSION", ""))
    sample = cached_capture(min(sample_frames, capture.frames), directory, traffic=traffic)
    seen = [0, 0]

    def count(packet: Any) -> None:
        seen[0] += 1
        for layer in layers:
            if packet.haslayer(layer):
                seen[1] += 1
                break

    start = time.perf_counter()
    sniff(offline=str(sample.path), session=TCPSession, prn=count, store=False)
    run.seconds = time.perf_counter() - start
    run.frames = seen[0]
    run.extrapolated = sample.frames < capture.frames
    check = traffic.scapy_check(sample, seen[0], seen[1])
    run.ok, run.detail = check.ok, check.detail
    return run


def run(*, frames: int = DEFAULT_FRAMES, quick: bool = False, scapy_frames: int | None = None,
        directory: str | Path | None = None, libraries: tuple[str, ...] = LIBRARIES,
        progress: Callable[[str], None] | None = None, rounds: int | None = None,
        traffic: Traffic | None = None, workers: int | None = None) -> Report:
    """Build (or reuse) the capture of ``traffic`` (default: :func:`load_traffic`'s), time the libraries
    on it (``rounds`` alternating rounds of wireproof and tshark, best kept; default 3, 1 with
    ``quick``), and report (module docstring). ``workers``: for ``wireproof-workers`` (default
    :func:`bench_workers`)."""
    if quick and frames == DEFAULT_FRAMES:
        frames = QUICK_FRAMES
    sample = scapy_frames if scapy_frames is not None else (QUICK_SCAPY_FRAMES if quick else SCAPY_FRAMES)
    base = _directory(directory)
    say = progress or (lambda text: None)
    traffic = traffic if traffic is not None else load_traffic()
    say(f"capture: {frames} frames in {base}")
    capture = cached_capture(frames, base, traffic=traffic)
    for name in libraries:
        if name not in LIBRARIES:
            raise ValueError(f"unknown library {name!r}")
    workers = workers if workers is not None else bench_workers()
    if workers < 2:
        raise ValueError("workers must be at least 2 (one worker is the 'wireproof' library)")
    rounds = max(1, rounds if rounds is not None else (1 if quick else ROUNDS))
    # wireproof and tshark take turns, round after round, so a slow spell of the machine
    # (a shared VM's neighbours) hits both; each keeps its best round. Scapy runs once.
    samples: dict[str, list[_Run]] = {}
    for round_number in range(rounds):
        for name in libraries:
            if name == "scapy" and round_number:
                continue
            say(f"timing {name} (round {round_number + 1} of {rounds})")
            one = (_wireproof(traffic, capture) if name == "wireproof" else
                   _wireproof(traffic, capture, workers) if name == "wireproof-workers" else
                   _tshark(capture) if name == "tshark" else _scapy(traffic, capture, sample, base))
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
                                   "extrapolated": r.extrapolated} if r.available else {}),
                               **({"peak_rss_kib": r.peak_rss_kib} if r.peak_rss_kib else {}),
                               **({"workers": workers} if r.library == "wireproof-workers" else {})}
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
                  "workers": workers,
                  "timing": "wall clock; wireproof (1 worker, N workers) and tshark alternate for the rounds "
                  "and each keeps its best; Scapy once; tshark as a subprocess; wireproof in a forked child"},
        frames=capture.describe(),
        extra=_extra(runs),
    )


def _extra(runs: list[_Run]) -> dict[str, Any]:
    """Each wireproof way's ratio to tshark (best rounds) and every measured peak RSS, in MiB."""
    by_name = {r.library: r for r in runs if r.available and r.ok}
    tshark = by_name.get("tshark")
    extra: dict[str, Any] = {}
    if tshark is not None and tshark.rate > 0:
        extra["ratio_to_tshark"] = {name: round(by_name[name].rate / tshark.rate, 3)
                                    for name in ("wireproof", "wireproof-workers") if name in by_name}
    rss = {r.library: round(r.peak_rss_kib / 1024, 1) for r in runs if r.peak_rss_kib}
    if rss:
        extra["peak_rss_mib"] = rss
    return extra


def render_text(report: Report, traffic: Traffic | None = None) -> str:
    """The report for people: seconds and frames/s per library, the ratios against the goals.

    ``traffic`` is the one the report measured (default: :func:`load_traffic`'s): it names the protocol.
    """
    traffic = traffic if traffic is not None else load_traffic()
    f = report.frames
    counts = "".join(f", {f[name]:,} {name}" for name in traffic.headline if name in f)
    lines = [f"wireproof bench replay: {f['frames']:,} frames of {traffic.title} ({f['bytes'] / 1e6:.1f} MB, "
             f"{f['flows']} connections{counts}) in {f['path']}", ""]
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
        if info.get("peak_rss_kib"):
            note += f", peak RSS {info['peak_rss_kib'] / 1024:.0f} MiB"
        label = f"{name} ({info['workers']})" if "workers" in info else name
        lines.append(f"  {label:<20} {info.get('version', ''):<15} {info['frames']:>10,} frames in "
                     f"{info['seconds']:8.2f} s = {rate:>10} frames/s{note}")
    lines.append("")
    for row in ratios(report):
        if row["ratio"] is None:
            lines.append(f"  wireproof/{row['peer']}: - (goal >= {row['goal']:g}x: not measured)")
        else:
            verdict = "met" if row["met"] else "NOT MET"
            lines.append(f"  wireproof/{row['peer']}: {row['ratio']:.2f}x "
                         f"(goal >= {row['goal']:g}x: {verdict})")
    workers_ratio = report.extra.get("ratio_to_tshark", {}).get("wireproof-workers")
    if workers_ratio is not None:
        lines.append(f"  wireproof ({report.settings['workers']} workers)/tshark: {workers_ratio:.2f}x")
    for check in report.checks:
        if not check.ok:
            lines.append(f"CORRECTNESS CHECK FAILED: {check.library}: {check.detail}")
    if report.checks_ok:
        lines.append(f"checks passed: {', '.join(c.library for c in report.checks)} read every frame.")
    return "\n".join(lines)


# --- profiling ---------------------------------------------------------------------------------

# Where each module's own time goes (cProfile tottime, grouped by file; the first layer that matches).
_ANALYZER = "passive analyzer (framing, pairing)"
_LAYERS = (
    ("reader", ("replay/capture.py", "replay/pcap.py", "replay/events.py", "<string>")),
    ("dissector + TCP reassembly", ("replay/dissector.py", "replay/tcp.py", "replay/net.py")),
    ("engine dispatch", ("replay/engine.py", "replay/findings.py")),
    (_ANALYZER, ("codecs/_pairing.py", "codecs/_analysis.py")),  # and the traffic's analyzer_modules
    ("codec (decode)", ("codecs/",)),
    ("analytics", ("replay/analytics/",)),
    ("summary / JSON", ("replay/summary.py", "json/")),
)


def _layers(traffic: Traffic) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """:data:`_LAYERS` with the protocol's analyzer modules (as file paths) in the analyzer layer."""
    own = tuple(module.replace(".", "/") + ".py" for module in traffic.analyzer_modules)
    return tuple((layer, own + parts if layer == _ANALYZER else parts) for layer, parts in _LAYERS)


def _layer(filename: str, layers: tuple[tuple[str, tuple[str, ...]], ...] = _LAYERS) -> str:
    name = filename.replace(os.sep, "/")
    for layer, parts in layers:
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


def profile(*, frames: int = 200_000, top: int = 30, directory: str | Path | None = None,
            traffic: Traffic | None = None) -> str:
    """Staged timings and a cProfile of ``wireproof replay`` on ``frames`` frames of ``traffic``
    (default: :func:`load_traffic`'s), per layer."""
    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import to_json

    traffic = traffic if traffic is not None else load_traffic()
    capture = cached_capture(frames, directory, traffic=traffic)
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
    layers = _layers(traffic)
    for (filename, _line, _func), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        layer = _layer(filename, layers)
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
