"""``wireproof replay DIR-or-FILES... [--jobs N | --dask ADDRESS]``: a capture set.

Several files, a directory (its captures, recursively, sorted:
:func:`wireproof.harness.replay.sets.collect`), or ``--jobs`` / ``--dask``
make ``wireproof replay`` replay a set: each file alone, in ``--jobs N``
worker processes (default: the usable cores) or on a Dask cluster
(``--dask tcp://SCHEDULER:8786``), then one merged summary and a line per
file; ``--json`` prints the merged ``wireproof.replay/1`` document with its
per-file list (:mod:`wireproof.harness.replay.set_summary`). ``--html OUT``
writes the merged document's report. ``--findings-jsonl`` and ``--send`` take
one capture.

On a terminal (stderr a TTY, or with ``--progress``) a bar shows files done
of the total, frames and elapsed time; nothing is drawn on a pipe.

Exit codes (:func:`~wireproof.harness.replay.set_summary.exit_code`): 1 a
file has an error finding; 2 usage errors, or no file of the set could be
read; 3 some file was damaged, unreadable or crashed; 0 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import IO

from wireproof.harness.replay.set_summary import FileOutcome

__all__ = ["run_set", "set_progress"]


def _error(message: str) -> int:
    print(f"wireproof replay: error: {message}", file=sys.stderr)
    return 2


def set_progress(stream: IO[str], total: int, width: int = 30) -> Callable[[FileOutcome, int, int], None]:
    """An ``on_file(outcome, done, total)`` callback drawing ``[###...] 3/12 files, N frames, 1.2 s``."""
    start = time.monotonic()
    frames = [0]

    def show(outcome: FileOutcome, done: int, _total: int) -> None:
        frames[0] += outcome.frames
        filled = width * done // max(total, 1)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} files, "
                     f"{frames[0]:,} frames, {time.monotonic() - start:.1f} s")
        if done >= total:
            stream.write("\n")
        stream.flush()
    show(FileOutcome(file="", status="ok"), 0, total)
    return show


def run_set(args: argparse.Namespace) -> int:
    from wireproof.errors import TransportError
    from wireproof.harness.commands.replay import checked_ports, emit
    from wireproof.harness.replay.set_summary import exit_code, merge, render_text
    from wireproof.harness.replay.sets import SetOptions, collect, replay_set, usable_cores

    ports = checked_ports(args)
    if isinstance(ports, int):
        return ports
    if args.jobs is not None and args.jobs < 1:
        return _error(f"--jobs {args.jobs}: must be at least 1")
    for option in ("send", "findings_jsonl"):
        if getattr(args, option):
            return _error(f"--{option.replace('_', '-')} takes one capture, not a set")
    if args.jobs is not None and args.dask:
        return _error("--jobs and --dask: choose one (--dask runs on the cluster's workers)")
    try:
        members = collect(args.file)
    except OSError as exc:
        return _error(str(exc))
    if not members.files:
        return _error(f"no capture in {' '.join(args.file)}"
                      + (f" ({len(members.skipped)} files skipped: not captures)" if members.skipped else ""))
    options = SetOptions(ports=tuple(sorted(ports.items())), analytics=not args.no_analytics,
                         max_findings=args.max_findings, timeout=args.timeout)
    show = args.progress or sys.stderr.isatty()
    on_file = set_progress(sys.stderr, len(members.files)) if show else None
    jobs = args.jobs if args.jobs is not None else usable_cores()
    try:
        outcomes = replay_set(members.files, options=options, jobs=jobs, dask=args.dask, on_file=on_file)
    except ModuleNotFoundError as exc:
        if exc.name not in ("distributed", "dask"):
            raise
        return _error("--dask needs Dask distributed: pip install 'wireproof[cluster]'")
    except TransportError as exc:
        return _error(f"--dask: {exc}")
    except KeyboardInterrupt:
        if show:  # end the bar's line: cli.main's "interrupted" gets a line of its own
            sys.stderr.write("\n")
        raise
    document = merge(outcomes, inputs=args.file, skipped=members.skipped, max_findings=args.max_findings)
    problem = emit(args, document, None, lambda: render_text(document))
    return exit_code(document) if problem is None else problem
