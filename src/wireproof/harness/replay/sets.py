"""Capture sets: many captures replayed one per task, in worker processes or on a Dask cluster.

Theory of operation (DESIGN.md, "Scale": capture sets replay per file in
worker processes and, past one machine, on a Dask distributed cluster; no
home-made scheduler):

- :func:`collect` turns the command line's FILE and DIR arguments into the
  set: a file is a member as given; a directory contributes, recursively and
  sorted by path, every file whose first bytes are a capture wireproof reads
  (:func:`~.capture.detect_format`, the test ``wireproof replay FILE``
  applies) or whose suffix names one (``.pcap``, ``.pcapng``, ``.cap``,
  ``.blf``, ``.asc``, ``.trc``: a damaged capture is a member and is reported
  as one, not skipped). Anything else in a directory (a README, a provenance
  sidecar, a file that cannot be read; a FIFO, socket or device, which is
  never opened: a FIFO would wait for a writer forever) is listed as skipped
  with the reason.
  Symbolic links to directories are not followed, so a link loop ends the
  walk instead of repeating it. The same file reached twice counts once.
- The unit of work is one file: :func:`replay_file` replays it exactly as
  ``wireproof replay FILE --json`` does (:func:`~.run.replay`, analytics in
  the same process: each file is already a process's whole task) and returns
  a :class:`~.set_summary.FileOutcome` holding its ``wireproof.replay/1``
  document. Nothing a file does stops the others: an unreadable file (a
  :class:`~wireproof.errors.FixtureError`, or one that vanished since it was
  listed) is an outcome with its error, a damaged one is replayed up to the
  damage (:mod:`.damage`), and a crash of the replay on one file is an
  outcome that says so.
- :func:`replay_set` runs the tasks: ``jobs == 1`` in this process, one file
  after the other (the reference numbers); ``jobs > 1`` in a
  :class:`concurrent.futures.ProcessPoolExecutor` (forked on Linux, so the
  workers have this process's protocols, even those registered in-process;
  spawned elsewhere); ``dask=`` an address
  (``tcp://scheduler:8786``) or a :class:`distributed.Client`-compatible
  cluster object, through ``distributed.Client.map``. The workers of a
  cluster must have wireproof and the protocols' packages installed (they
  find protocols by entry point) and see the files at the same absolute
  paths (a shared file system). Outcomes come back in the set's
  order whatever order the tasks finish in, so :func:`.set_summary.merge`
  gives the same document for every way of running them.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from wireproof.errors import FixtureError, TransportError
from wireproof.harness.replay.set_summary import FileOutcome, Skipped

__all__ = ["CAPTURE_SUFFIXES", "CaptureSet", "SetOptions", "collect", "replay_file", "replay_set",
           "usable_cores"]

CAPTURE_SUFFIXES: Final = frozenset({".pcap", ".pcapng", ".cap", ".blf", ".asc", ".trc"})
"""Suffixes that make a file in a directory a member even when its first bytes are not a capture
(so a damaged capture is reported, not skipped)."""

OnFile = Callable[[FileOutcome, int, int], None]
"""``on_file(outcome, done, total)``: called in the caller's process as each file finishes."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SetOptions:
    """What every file of a set is replayed with (``wireproof replay``'s options)."""

    ports: tuple[tuple[int, str], ...] = ()
    analytics: bool = True
    max_findings: int = 1000
    timeout: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CaptureSet:
    """The members of a set (in order) and what its directories held that is not a capture."""

    files: tuple[str, ...]
    skipped: tuple[Skipped, ...] = ()


def usable_cores() -> int:
    """The cores this process may run on (its affinity where the OS tells it, as in a container)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1


def _is_capture(path: Path) -> str | None:
    """None if ``path`` in a directory is a member, else why it is skipped."""
    from wireproof.harness.replay.capture import detect_format

    if path.suffix.lower() in CAPTURE_SUFFIXES:
        return None
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        return f"cannot be read: {exc.strerror or exc}"
    if not head:
        return "empty file"
    try:
        detect_format(head, path)
    except FixtureError:
        return "not a capture wireproof reads"
    return None


def _exists(path: Path) -> bool:
    try:
        path.stat()
    except OSError:
        return False  # absent, a dangling link, or a link loop
    return True


def _walk(directory: Path, skipped: list[Skipped]) -> Iterable[Path]:
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        skipped.append(Skipped(file=str(directory), reason=f"cannot be listed: {exc.strerror or exc}"))
        return
    for entry in entries:
        path = directory / entry.name
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(path, skipped)
        elif entry.is_symlink() and os.path.isdir(path):  # DirEntry.is_dir raises on a link loop
            skipped.append(Skipped(file=str(path), reason="symbolic link to a directory, not followed"))
        elif not os.path.isfile(path) and _exists(path):
            # A FIFO, socket or device: opening a FIFO to sniff it would wait for a writer forever.
            skipped.append(Skipped(file=str(path), reason="not a regular file"))
        else:
            why = _is_capture(path)
            if why is None:
                yield path
            else:
                skipped.append(Skipped(file=str(path), reason=why))


def collect(inputs: Sequence[str | Path]) -> CaptureSet:
    """The set named by ``inputs`` (files and directories; see the module docstring).

    Raises :class:`FileNotFoundError` for an input that does not exist; an
    empty result is the caller's to judge (``wireproof replay`` says so and
    exits ``USAGE``).
    """
    files: list[str] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            members: Iterable[Path] = _walk(path, skipped)
        elif path.is_file() or (path.is_symlink() and not _exists(path)):
            members = (path,)  # a dangling link is a member: its replay says it cannot be read
        elif _exists(path):
            skipped.append(Skipped(file=str(path), reason="not a regular file"))
            continue
        else:
            raise FileNotFoundError(f"{item}: no such file or directory")
        for member in members:
            try:
                key = os.path.realpath(member)
            except OSError:  # a link loop (ELOOP): the file is its own; its replay says it is unreadable
                key = os.path.abspath(member)
            if key not in seen:
                seen.add(key)
                files.append(str(member))
    return CaptureSet(files=tuple(files), skipped=tuple(skipped))


def replay_file(path: str, options: SetOptions) -> FileOutcome:
    """One file of a set, replayed as ``wireproof replay FILE --json`` does (the task a worker runs).

    ``path`` is read as an absolute path (a cluster worker's directory is not
    ours) and reported as given.
    """
    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import to_json

    start = time.perf_counter()
    try:
        result = replay(os.path.abspath(path), ports=dict(options.ports), analytics=options.analytics,
                        max_findings=options.max_findings, timeout=options.timeout,
                        analytics_process=False)
        document = to_json(result)
    except FixtureError as exc:
        return FileOutcome(file=path, error=str(exc), status="unreadable",
                           seconds=time.perf_counter() - start)
    except OSError as exc:
        return FileOutcome(file=path, error=f"{path}: {exc.strerror or exc}", status="unreadable",
                           seconds=time.perf_counter() - start)
    except Exception as exc:  # a crash on one file must not take the set down; it is reported as one
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return FileOutcome(file=path, status="crashed", seconds=time.perf_counter() - start,
                           error=f"wireproof crashed on {path}: {type(exc).__name__}: {exc} "
                                 f"({Path(where.filename).name}:{where.lineno})")
    document["file"] = path
    return FileOutcome.of(path, document, seconds=time.perf_counter() - start)


def replay_set(files: Sequence[str], *, options: SetOptions | None = None, jobs: int = 1,
               dask: Any = None, on_file: OnFile | None = None) -> list[FileOutcome]:
    """The outcome of every file of ``files``, in that order (module docstring).

    ``jobs``: worker processes on this machine (1: this process); ``dask``: a
    scheduler address or a cluster object, instead of local processes.
    ``ValueError`` for ``jobs < 1``; :class:`~wireproof.errors.TransportError`
    when the Dask scheduler cannot be reached.
    """
    options = options or SetOptions()
    if jobs < 1:
        raise ValueError(f"jobs must be >= 1, not {jobs}")
    if dask is not None:
        return _on_dask(files, options, dask, on_file)
    if jobs == 1 or len(files) <= 1:
        outcomes = []
        for i, path in enumerate(files):
            outcomes.append(replay_file(path, options))
            if on_file is not None:
                on_file(outcomes[-1], i + 1, len(files))
        return outcomes
    return _in_processes(files, options, min(jobs, len(files)), on_file)


def _quiet_worker() -> None:
    # Ctrl-C reaches the whole process group: the parent handles it (and stops the workers).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _in_processes(files: Sequence[str], options: SetOptions, jobs: int,
                  on_file: OnFile | None) -> list[FileOutcome]:
    import multiprocessing

    # fork on Linux (as .analytics_process does): a worker is a copy of this process, with its
    # protocols, those registered in-process included, so N workers replay exactly as this
    # process would. Elsewhere fork is unsafe: spawn, and only installed protocols (entry points)
    # reach the workers, as on a Dask cluster.
    context = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    outcomes: list[FileOutcome | None] = [None] * len(files)
    executor = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_quiet_worker)
    try:
        index: dict[Future[FileOutcome], int] = {executor.submit(replay_file, path, options): i
                                                 for i, path in enumerate(files)}
        for done, future in enumerate(as_completed(index), start=1):
            i = index[future]
            try:
                outcome = future.result()
            except BrokenProcessPool as exc:  # a worker was killed (out of memory, a signal)
                outcome = FileOutcome(file=files[i], status="crashed",
                                      error=f"{files[i]}: the worker process replaying it died ({exc})")
            outcomes[i] = outcome
            if on_file is not None:
                on_file(outcome, done, len(files))
    except BaseException:
        # Interrupted (or the caller's callback failed): stop the workers now rather than let them
        # finish every queued file. ProcessPoolExecutor has no public terminate before 3.14.
        executor.shutdown(wait=False, cancel_futures=True)
        for process in list(getattr(executor, "_processes", {}).values()):
            process.terminate()
        raise
    executor.shutdown()
    return [o for o in outcomes if o is not None]


def _connect(dask: Any) -> Any:
    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        if isinstance(dask, str):  # checked first: a Client given a bad address hangs on its way out
            parse_host_port(parse_address(dask)[1])
        return Client(dask, timeout="10s", set_as_default=False)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError, ValueError) as exc:  # refused, nobody there, not an address
        raise TransportError(f"cannot reach the Dask scheduler at {dask}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no answer'}") from None


def _on_dask(files: Sequence[str], options: SetOptions, dask: Any,
             on_file: OnFile | None) -> list[FileOutcome]:
    from distributed import as_completed as dask_completed

    outcomes: list[FileOutcome | None] = [None] * len(files)
    with _connect(dask) as client:
        # pure=False: a file's content may change between runs, its path would make the same key.
        futures = client.map(replay_file, list(files), options=options, pure=False)
        index = {future.key: i for i, future in enumerate(futures)}
        completed = dask_completed(futures, loop=client.loop)  # type: ignore[no-untyped-call]
        for done, future in enumerate(completed, start=1):
            i = index[future.key]
            try:
                outcome = future.result()
            except Exception as exc:  # the task failed on the worker (wireproof missing there, ...)
                outcome = FileOutcome(file=files[i], status="crashed",
                                      error=f"{files[i]}: the Dask task failed: {type(exc).__name__}: {exc}")
            outcomes[i] = outcome
            if on_file is not None:
                on_file(outcome, done, len(files))
    return [o for o in outcomes if o is not None]
