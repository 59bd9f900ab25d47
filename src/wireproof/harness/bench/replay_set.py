"""Capture-set benchmark (part of ``wireproof bench replay``): files/s on 1 and N processes.

A set of ``files`` captures of a protocol's synthetic traffic, ``frames``
frames each (the single-file benchmark's generator, :func:`.replay.cached_capture`,
written once and copied under numbered names in the temporary directory),
is replayed as ``wireproof replay DIR --json`` does
(:func:`wireproof.harness.replay.sets.replay_set`, then the merge): once in
this process (``--jobs 1``), once in N worker processes (N: the usable
cores, at least 2). Reported: wall seconds, files/s and frames/s of each,
the speed-up, and the check that both merged documents are identical and
hold every frame of every file (a set that is fast but merges wrongly is a
failed check, not a result).

Rates include everything the command does for a set: starting the worker
processes, pickling each file's document back, merging. They
depend on the machine (and on its other load): nothing asserts them.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from wireproof.harness.bench import Check
from wireproof.harness.bench.traffic import Traffic

__all__ = ["OPERATION", "QUICK_SET_FILES", "QUICK_SET_FRAMES", "SET_FILES", "SET_FRAMES", "check",
           "measure", "render_text", "write_set"]

OPERATION = "replay-set"
SET_FILES = 48
SET_FRAMES = 5_000
QUICK_SET_FILES = 8
QUICK_SET_FRAMES = 1_000


def write_set(files: int, frames: int, directory: Path, traffic: Traffic) -> list[Path]:
    """``files`` copies of the ``frames``-frame capture of ``traffic`` in ``directory``/set-..., reused."""
    from wireproof.harness.bench.replay import cached_capture

    source = cached_capture(frames, directory, traffic=traffic)
    folder = directory / f"set-{traffic.name}-{files}x{frames}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:04d}.pcap" for i in range(files)]
    for path in paths:
        if not path.is_file() or path.stat().st_size != source.path.stat().st_size:
            shutil.copyfile(source.path, path)
    return paths


def measure(*, traffic: Traffic, directory: Path, files: int = SET_FILES, frames: int = SET_FRAMES,
            jobs: int | None = None) -> dict[str, Any]:
    """Time the set on 1 and ``jobs`` processes (default: the usable cores, at least 2); see above."""
    from wireproof.harness.replay.set_summary import merge
    from wireproof.harness.replay.sets import replay_set, usable_cores

    paths = [str(p) for p in write_set(files, frames, directory, traffic)]
    many = jobs if jobs is not None else max(2, usable_cores())
    runs: list[dict[str, Any]] = []
    documents: list[str] = []
    for processes in (1, many):
        start = time.perf_counter()
        document = merge(replay_set(paths, jobs=processes), inputs=[str(Path(paths[0]).parent)])
        text = json.dumps(document, sort_keys=True, default=str)
        seconds = time.perf_counter() - start
        documents.append(text)
        statuses = {f["status"] for f in document["files"]}
        runs.append({"processes": processes, "seconds": round(seconds, 3),
                     "files_per_second": round(files / seconds, 2),
                     "frames_per_second": round(document["frames"] / seconds, 1),
                     "frames": document["frames"], "statuses": sorted(statuses)})
    equal = documents[0] == documents[1]
    complete = all(r["frames"] == files * frames for r in runs)
    return {"files": files, "frames_per_file": frames, "usable_cores": usable_cores(), "runs": runs,
            "speedup": round(runs[0]["seconds"] / runs[1]["seconds"], 2) if runs[1]["seconds"] else None,
            "merged_equal": equal, "ok": equal and complete,
            "timing": "wall clock, one run each; includes worker start-up, pickling and the merge"}


def check(result: dict[str, Any]) -> Check:
    """The correctness check of a set measurement: both merges equal, every frame of every file."""
    frames = result["files"] * result["frames_per_file"]
    got = [r["frames"] for r in result["runs"]]
    detail = (f"{result['files']} files x {result['frames_per_file']} frames; merged frames {got} "
              f"(expected {frames}); 1-process and {result['runs'][-1]['processes']}-process merges "
              + ("identical" if result["merged_equal"] else "DIFFER"))
    return Check(library="wireproof (capture set)", operation=OPERATION, ok=bool(result["ok"]), frames=frames,
                 detail=detail)


def render_text(result: dict[str, Any]) -> str:
    """The capture-set lines of the bench's text report."""
    lines = [f"capture set: {result['files']} files x {result['frames_per_file']:,} frames "
             f"({result['usable_cores']} usable cores)"]
    for r in result["runs"]:
        lines.append(f"  {r['processes']:>2} process{'es' if r['processes'] > 1 else '  '} "
                     f"{r['seconds']:8.2f} s = {r['files_per_second']:8.2f} files/s "
                     f"({r['frames_per_second']:,.0f} frames/s)")
    lines.append(f"  speed-up {result['speedup']}x; merged documents "
                 + ("identical" if result["merged_equal"] else "DIFFER (check failed)"))
    return "\n".join(lines)
