"""Codec benchmarks against peer libraries: timing, ratios, table and JSON.

Theory of operation
-------------------
A benchmark suite (e.g. :mod:`wireproof.harness.bench.modbus`) builds one set
of frames, then for each library and operation a :class:`Case`: a function
that runs the operation once over every frame (one *pass*). Before anything
is timed, the suite checks that every library gave the right answer on every
frame (:class:`Check`), so a library that fails quietly is reported as wrong,
not as fast.

:func:`measure` then times all cases in ONE process, interleaved:

1. warm-up: each case runs a few passes (imports, caches, adaptive
   interpreter specialisation), then is calibrated so that one *sample*
   (``passes_per_sample`` passes) lasts about ``sample_seconds``;
2. rounds: each round takes one sample of every case in turn, so drift of
   the machine (frequency scaling, a neighbour process) hits every library
   alike rather than whichever happened to run last;
3. each sample is timed with :func:`time.perf_counter` with the garbage
   collector off (as :mod:`timeit` does; a full collection runs between
   rounds), and gives frames per second.

The reported statistic is the best sample (the least disturbed run, as
:mod:`timeit` recommends); the median is reported beside it. Ratios compare
wireproof with each peer on the same operation and the same frames.

JSON output carries ``"schema": "wireproof.bench/1"`` (see :data:`SCHEMA`
and :func:`report_json`).
"""

from __future__ import annotations

import gc
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "SCHEMA",
    "Case",
    "Check",
    "Goal",
    "Report",
    "Timing",
    "format_rate",
    "measure",
    "ratios",
    "render_table",
    "report_json",
]

SCHEMA: Final = "wireproof.bench/1"


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    """Did ``library`` give the right answer for ``operation`` on every frame?"""

    library: str
    operation: str
    ok: bool
    frames: int
    detail: str = ""
    # Frames the library got wrong because of a documented defect of its own
    # (not counted as a failure, but printed and kept in the JSON).
    known_defects: tuple[str, ...] = ()


@dataclass(slots=True, kw_only=True)
class Case:
    """One timed thing: ``run()`` performs ``operation`` once on each of ``frames`` frames."""

    library: str
    operation: str
    run: Callable[[], object]
    frames: int
    passes_per_sample: int = 1
    samples: list[float] = field(default_factory=list)  # frames per second, one per sample


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """The measured speed of one case."""

    library: str
    operation: str
    frames_per_second: float  # best sample
    median_frames_per_second: float
    samples: int
    passes_per_sample: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Goal:
    """wireproof must be at least ``minimum`` times as fast as ``peer`` at ``operation``."""

    operation: str
    peer: str
    minimum: float


@dataclass(slots=True, kw_only=True)
class Report:
    """Everything one benchmark run found; :func:`report_json` is its JSON form."""

    suite: str
    operations: tuple[str, ...]
    libraries: dict[str, dict[str, Any]]  # name -> {"available", "version", "reason"}
    checks: list[Check]
    timings: list[Timing]
    goals: list[Goal]
    settings: dict[str, Any]
    frames: dict[str, Any]
    # Measurements of wireproof alone that have no peer to compare with (e.g. how fast a
    # framer resynchronises through garbage); in the JSON under "extra" when present.
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def checks_ok(self) -> bool:
        return all(c.ok for c in self.checks)


def _time_sample(case: Case) -> float:
    run = case.run
    passes = range(case.passes_per_sample)
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in passes:
            run()
        elapsed = time.perf_counter() - start
    finally:
        if enabled:
            gc.enable()
    return case.frames * case.passes_per_sample / max(elapsed, 1e-9)


def measure(cases: Sequence[Case], *, seconds: float, sample_seconds: float,
            warmup_passes: int = 3, min_rounds: int = 3) -> list[Timing]:
    """Time ``cases`` interleaved, about ``seconds`` each; returns one :class:`Timing` per case."""
    for case in cases:
        for _ in range(warmup_passes):
            case.run()
        start = time.perf_counter()
        case.run()
        one_pass = max(time.perf_counter() - start, 1e-7)
        case.passes_per_sample = max(1, round(sample_seconds / one_pass))
        case.samples.clear()
    rounds = max(min_rounds, round(seconds / sample_seconds))
    for _ in range(rounds):
        gc.collect()  # once a round, not per sample: a full collection of a big heap costs more than a sample
        for case in cases:
            case.samples.append(_time_sample(case))
    return [Timing(library=c.library, operation=c.operation, frames_per_second=max(c.samples),
                   median_frames_per_second=statistics.median(c.samples), samples=len(c.samples),
                   passes_per_sample=c.passes_per_sample) for c in cases]


def _timing(report: Report, library: str, operation: str) -> Timing | None:
    return next((t for t in report.timings if t.library == library and t.operation == operation), None)


def ratios(report: Report) -> list[dict[str, Any]]:
    """wireproof / peer for each goal, on best and on median samples; ``met`` is judged on best."""
    out: list[dict[str, Any]] = []
    for goal in report.goals:
        ours = _timing(report, "wireproof", goal.operation)
        theirs = _timing(report, goal.peer, goal.operation)
        row: dict[str, Any] = {"operation": goal.operation, "peer": goal.peer, "goal": goal.minimum,
                               "ratio": None, "ratio_median": None, "met": None}
        if ours is not None and theirs is not None:
            row["ratio"] = round(ours.frames_per_second / theirs.frames_per_second, 3)
            row["ratio_median"] = round(ours.median_frames_per_second / theirs.median_frames_per_second, 3)
            row["met"] = row["ratio"] >= goal.minimum
        out.append(row)
    return out


def report_json(report: Report) -> dict[str, Any]:
    """The report as plain data (schema :data:`SCHEMA`)."""
    return {
        "schema": SCHEMA,
        "suite": report.suite,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "settings": report.settings,
        "frames": report.frames,
        "operations": list(report.operations),
        "libraries": report.libraries,
        "checks": [{"library": c.library, "operation": c.operation, "ok": c.ok, "frames": c.frames,
                    "detail": c.detail, "known_defects": list(c.known_defects)} for c in report.checks],
        "checks_ok": report.checks_ok,
        "results": [{"library": t.library, "operation": t.operation,
                     "frames_per_second": round(t.frames_per_second, 1),
                     "median_frames_per_second": round(t.median_frames_per_second, 1),
                     "samples": t.samples, "passes_per_sample": t.passes_per_sample}
                    for t in report.timings],
        "ratios": ratios(report),
        **({"extra": report.extra} if report.extra else {}),
    }


def format_rate(value: float | None) -> str:
    """Frames per second for people: ``1,234,567``; ``-`` when not measured."""
    return "-" if value is None else f"{value:,.0f}"


def render_table(report: Report) -> str:
    """The report as a text table for people."""
    libs = [name for name, info in report.libraries.items() if info.get("available")]
    heads = ["operation"] + [f"{n} {report.libraries[n].get('version', '')}".strip() + " f/s" for n in libs]
    peers = [n for n in libs if n != "wireproof"]
    heads += [f"wireproof/{p}" for p in peers]
    goal_rows = {(r["operation"], r["peer"]): r for r in ratios(report)}
    rows: list[list[str]] = []
    for op in report.operations:
        row = [op.replace("_", " ")]
        for lib in libs:
            t = _timing(report, lib, op)
            row.append(format_rate(t.frames_per_second if t else None))
        for peer in peers:
            r = goal_rows.get((op, peer))
            if r is None or r["ratio"] is None:
                row.append("-")
            else:
                verdict = "met" if r["met"] else "NOT MET"
                row.append(f"{r['ratio']:.2f}x (goal >= {r['goal']:g}x: {verdict})")
        rows.append(row)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

    lines = [line(heads), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
    s = report.settings
    lines.append("")
    lines.append(f"frames/s: best of {s.get('rounds', '?')} interleaved samples "
                 f"(~{s.get('sample_seconds')} s each, GC off); median in --json. "
                 f"Python {platform.python_version()}.")
    for name, info in report.libraries.items():
        if not info.get("available"):
            lines.append(f"{name}: not measured ({info.get('reason', 'unavailable')})")
    bad = [c for c in report.checks if not c.ok]
    if bad:
        for c in bad:
            lines.append(f"CORRECTNESS CHECK FAILED: {c.library} {c.operation}: {c.detail}")
    else:
        done = sorted({c.library for c in report.checks})
        known = any(c.known_defects for c in report.checks)
        lines.append(f"correctness checks passed for {', '.join(done)} on every frame and operation"
                     + (", except the known peer defects below." if known else "."))
    for c in report.checks:
        for defect in c.known_defects:
            lines.append(f"known defect: {c.library} {c.operation}: {defect}")
    return "\n".join(lines)
