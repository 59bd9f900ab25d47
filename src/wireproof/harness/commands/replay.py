"""``wireproof replay FILE``: decode a capture, check every rule its traffic breaks.

Prints the human summary (per-protocol and per-function counts, findings,
malformed frames, flows, analytics highlights), or with ``--json`` the
``wireproof.replay/1`` document (:mod:`wireproof.harness.replay.summary`).
``--port 5020=modbus-tcp`` (repeatable) maps a port to a protocol;
``--html OUT`` also writes the HTML report; ``--findings-jsonl OUT`` streams
every finding, one JSON object a line (the summary keeps only the first
``--max-findings``). A progress bar goes to stderr for large files when
stderr is a terminal, or always with ``--progress``.

``--send tcp://HOST:PORT`` replays the client side of each flow against a
live device instead (:mod:`wireproof.harness.replay.send`).

Several files, a directory, ``--jobs N`` or ``--dask ADDRESS`` replay a
capture set instead (:mod:`wireproof.harness.commands.replay_set`): one
merged summary, per-file results; one FILE alone is replayed as above.

Exit codes (:mod:`wireproof.harness.exitcodes`): 0 the whole capture read,
no finding of severity ``error``; 1 at least one (the traffic breaks a rule
of its protocol), in the part read; 2 usage errors and files that are not a
capture; 3 a damaged capture (:mod:`wireproof.harness.replay.damage`) whose
part before the damage has no error finding. If the analytics process dies,
the replay finishes without analytics and says so (one warning line on
stderr; ``analytics`` null and ``stats.analytics_failed`` in the JSON).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["add_arguments", "progress_bar", "run", "seconds"]

_BIG_FILE = 16 * 1024 * 1024  # below this a replay takes about a second: no bar


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = ("exit status: 0 no finding of severity error; 1 at least one; "
                     "2 usage error or unreadable capture; 3 damaged capture (analysed up to the damage)")
    parser.add_argument("file", metavar="FILE", nargs="+",
                        help="capture: pcap, pcapng, candump, ASC/BLF/TRC; several files or a directory "
                        "replay as a capture set (one merged summary, per-file results)")
    parser.add_argument("--json", action="store_true", help="print the wireproof.replay/1 JSON document")
    parser.add_argument("--port", metavar="P=NAME", action="append", default=[],
                        help="decode TCP/UDP port P as protocol NAME (e.g. 5020=modbus-tcp); repeatable")
    parser.add_argument("--html", metavar="OUT", help="also write the HTML report to OUT")
    parser.add_argument("--findings-jsonl", metavar="OUT", help="stream every finding to OUT as JSON lines")
    parser.add_argument("--max-findings", metavar="N", type=int, default=1000,
                        help="findings kept in the summary and the JSON (all are counted; default 1000)")
    parser.add_argument("--timeout", metavar="SECONDS", type=seconds, default=1.0,
                        help="capture time after which a response is late (default 1.0)")
    parser.add_argument("--no-analytics", action="store_true", help="skip the traffic and value analytics")
    parser.add_argument("--progress", action="store_true", help="show a progress bar even when not on a tty")
    parser.add_argument("--workers", metavar="N", type=int, default=None,
                        help="analyse the flows in N worker processes, merged to the numbers of one process "
                        "(default: one per usable core but one for a capture of 8 MiB or more on 3 or more "
                        "cores, else 1)")
    parser.add_argument("--send", metavar="URL",
                        help="replay the client side of each flow against tcp://HOST:PORT and compare")
    parser.add_argument("--jobs", metavar="N", type=int, default=None,
                        help="capture set: replay N files at once in worker processes (default: the "
                        "usable cores)")
    parser.add_argument("--dask", metavar="ADDRESS",
                        help="capture set: replay the files on a Dask cluster (tcp://SCHEDULER:8786; "
                        "needs wireproof[cluster], the same paths on the workers)")


def seconds(text: str) -> float:
    """A time in seconds for an option: a finite number > 0 (nan would hide every late answer)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, not {text}")
    return value


def progress_bar(stream: IO[str], width: int = 30) -> Callable[[int, int, int], None]:
    """A ``(bytes read, size, frames)`` callback drawing a one-line bar on ``stream``."""
    start = time.monotonic()

    def show(done: int, size: int, frames: int) -> None:
        fraction = min(1.0, done / size) if size else 1.0
        filled = int(width * fraction)
        rate = frames / max(time.monotonic() - start, 1e-9)
        stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {fraction:6.1%} {frames} frames "
                     f"({rate:,.0f}/s)")
        if fraction >= 1.0:
            stream.write("\n")
        stream.flush()
    return show


def _error(message: str) -> int:
    print(f"wireproof replay: error: {message}", file=sys.stderr)
    return 2


def _ports(items: list[str]) -> dict[int, str]:
    from wireproof.harness.replay.registry import default_registry, parse_port_override

    known = default_registry()

    ports: dict[int, str] = {}
    for item in items:
        port, name = parse_port_override(item)
        if name not in known:
            raise ValueError(f"--port {item}: no protocol named {name!r}; "
                             f"known: {', '.join(known.names())}")
        ports[port] = name
    return ports


def _send(args: argparse.Namespace, ports: dict[int, str]) -> int:
    try:
        send = importlib.import_module("wireproof.harness.replay.send")
    except ModuleNotFoundError as err:
        if err.name not in ("wireproof.harness.replay.send",):
            raise
        return _error("--send is not available in this installation (wireproof.harness.replay.send "
                      "is missing)")
    code: int = send.send_replay(args.file, args.send, ports=ports, timeout=args.timeout,
                                 json_output=args.json)
    return code


def run(args: argparse.Namespace) -> int:
    from wireproof.errors import FixtureError, HarnessError
    from wireproof.harness.exitcodes import FAIL, INCOMPLETE, OK

    if isinstance(args.file, list):  # several files, a directory, --jobs or --dask: a capture set
        if len(args.file) > 1 or Path(args.file[0]).is_dir() or args.jobs is not None or args.dask:
            if args.workers is not None:
                return _error("--workers shards the flows of one capture; a capture set is spread with "
                              "--jobs N (one file per process) or --dask")
            from wireproof.harness.commands.replay_set import run_set

            return run_set(args)
        args.file = args.file[0]
    ports = checked_ports(args)
    if isinstance(ports, int):
        return ports
    if args.workers is not None and args.workers < 1:
        return _error("--workers must be >= 1")
    if not Path(args.file).is_file():
        return _error(f"{args.file}: no such file")
    if args.send:
        return _send(args, ports)

    from wireproof.harness.replay.run import replay
    from wireproof.harness.replay.summary import render_text, to_json

    show = args.progress or (sys.stderr.isatty() and Path(args.file).stat().st_size >= _BIG_FILE)
    on_progress = progress_bar(sys.stderr) if show else None
    jsonl: IO[str] | None = None
    try:
        if args.findings_jsonl:
            jsonl = open(args.findings_jsonl, "w", encoding="utf-8")  # noqa: SIM115 (closed below)
        sink = None if jsonl is None else _jsonl_sink(jsonl)
        result = replay(args.file, ports=ports, on_progress=on_progress, analytics=not args.no_analytics,
                        sink=sink, max_findings=args.max_findings, timeout=args.timeout, workers=args.workers)
    except FixtureError as exc:
        return _error(str(exc))
    except HarnessError as exc:  # a worker failed: no verdict for the capture
        print(f"wireproof replay: error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return INCOMPLETE
    except OSError as exc:
        return _error(f"{exc.filename or args.file}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        if show:  # end the progress bar's line: cli.main's "interrupted" gets a line of its own
            sys.stderr.write("\n")
        raise
    finally:
        if jsonl is not None:
            jsonl.close()
    plots = result.analytics.plots() if result.analytics is not None else None
    problem = emit(args, to_json(result), plots, lambda: render_text(result))
    if problem is not None:
        return problem
    failed = result.stats.get("analytics_failed")
    if failed:
        print(f"wireproof replay: warning: {failed}; the replay finished without analytics", file=sys.stderr)
    # A fault seen is a fault; otherwise a damaged capture is no verdict for all of it (exitcodes).
    return FAIL if result.errors else INCOMPLETE if result.damage is not None else OK


def checked_ports(args: argparse.Namespace) -> dict[int, str] | int:
    """The ``--port`` map, after the checks a capture and a capture set share; a usage exit code if bad."""
    try:
        ports = _ports(args.port)
    except ValueError as exc:
        return _error(str(exc))
    if args.max_findings < 0:
        return _error("--max-findings must be >= 0")
    return ports


def emit(args: argparse.Namespace, document: dict[str, Any], plots: Any,
         text: Callable[[], str]) -> int | None:
    """Write ``--html`` and print the JSON (``--json``) or the text; a usage exit code if the page
    cannot be written, else None. One place for a single capture and a capture set."""
    if args.html:
        from wireproof.harness.replay.html import render_html

        try:
            Path(args.html).write_text(render_html(document, plots), encoding="utf-8")
        except OSError as exc:
            return _error(f"--html {args.html}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(document, indent=2, allow_nan=False, default=_jsonable))
    else:
        sys.stdout.write(text())
        if args.html:
            print(f"HTML report: {args.html}")
    return None


def _jsonl_sink(out: IO[str]) -> Callable[[Any], None]:
    def write(finding: Any) -> None:
        out.write(json.dumps(finding.to_json()) + "\n")
    return write


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    return str(value)
