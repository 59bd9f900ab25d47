"""``wireproof bench NAME``: speed against peer tools, one process, ratios printed.

The codec benchmarks are those the installed protocol descriptors declare
(:class:`~wireproof.protocol.BenchEntry`; e.g. ``wireproof bench modbus``:
the Modbus TCP codec against pymodbus and Scapy, see
:mod:`wireproof.harness.bench.modbus`); ``--json`` prints the results as JSON
(schema ``wireproof.bench/1``, :mod:`wireproof.harness.bench`). Two are the
harness's own:

``wireproof bench replay`` times ``wireproof replay`` on one large capture
of a protocol's synthetic traffic (``--protocol NAME``: one whose descriptor
declares traffic, by default the first; ``--frames N``, default 1,000,000;
50,000 with ``--quick``) against tshark and Scapy
(:mod:`wireproof.harness.bench.replay`; goals >= 1.0x tshark, >= 10x
Scapy), wireproof with one worker and with ``--workers N`` (default: the
usable cores, at least 2), with each one's peak RSS; ``--profile`` prints
where the replay's time goes.

``wireproof bench consensus`` prints the steady-state messages and message
delays per committed command of Multi-Paxos and Classic Paxos (n = 3, 5)
beside the theoretical minimum, the simulator's throughput and the
linearizability checker's time on the Jepsen etcd set
(:mod:`wireproof.harness.bench.consensus`).

Exit codes: 0 done (goals met or not: speed depends on the machine), 1 a
library gave a wrong answer (or, with ``--require-goals``, a goal was
missed), 2 usage errors.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["NEUTRAL", "add_arguments", "run"]

NEUTRAL = {"replay": "wireproof replay on a generated million-frame capture against tshark and Scapy",
           "consensus": "consensus message costs, simulator throughput, linearizability checker time"}


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:  # nan and inf fail too: a bench that never ends is not a default
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    from wireproof.harness.cli import chosen
    from wireproof.protocol import REGISTRY, resolve

    entries = {e.name: e.description for e in REGISTRY.benches()}
    listing = {**entries, **NEUTRAL}
    parser.add_argument("suite", metavar="NAME", help=f"which benchmark to run: {', '.join(listing)}")
    parser.epilog = "benchmarks:\n" + "\n".join(f"  {n:<10} {d}" for n, d in listing.items())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--json", action="store_true", help="print the results as JSON (wireproof.bench/1)")
    parser.add_argument("--seconds", type=_positive, default=None, metavar="S",
                        help="time per measured case, about (default 1.0; 0.1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="short samples, for tests (< 5 s in all)")
    parser.add_argument("--require-goals", action="store_true", help="exit 1 if a speed goal is missed")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of wireproof's own cases instead of comparing")
    parser.add_argument("--frames", type=int, default=None, metavar="N",
                        help="replay suite: frames in the capture (default 1,000,000; 50,000 with --quick)")
    parser.add_argument("--rounds", type=int, default=None, metavar="N",
                        help="replay suite: alternating rounds of wireproof and tshark, best kept "
                        "(default 3; 1 with --quick)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="replay suite: the worker count of the 'wireproof-workers' runs (default: the "
                        "usable cores, at least 2)")
    parser.add_argument("--protocol", default=None, metavar="NAME",
                        help="replay suite: the protocol whose synthetic traffic is replayed (default: the "
                        "first installed protocol that declares traffic)")
    name = chosen(argv, list(entries))
    if name is not None:
        entry = REGISTRY.bench(name)
        if entry.add_arguments is not None:
            resolve(entry.add_arguments)(parser)


def run(args: argparse.Namespace) -> int:
    from wireproof.protocol import REGISTRY, resolve

    if args.suite == "replay":
        return _replay(args)
    if args.suite == "consensus":
        from wireproof.harness.bench import consensus

        result = consensus.run(quick=args.quick)
        print(json.dumps(result, indent=2) if args.json else consensus.render_text(result))
        return 0
    try:
        entry = REGISTRY.bench(args.suite)
    except KeyError as exc:
        print(f"wireproof bench: error: {exc.args[0]}, {', '.join(NEUTRAL)}", file=sys.stderr)
        return 2
    code: int = resolve(entry.run)(args)
    return code


def _replay(args: argparse.Namespace) -> int:
    from wireproof.harness.bench import ratios, replay, replay_set, report_json

    if args.frames is not None and args.frames < 1:
        print("wireproof bench: error: --frames must be at least 1", file=sys.stderr)
        return 2
    try:
        traffic = replay.load_traffic(args.protocol)
    except ValueError as exc:
        print(f"wireproof bench: error: --protocol: {exc}", file=sys.stderr)
        return 2
    if args.profile:
        print(replay.profile(frames=args.frames or 200_000, traffic=traffic))
        return 0
    if args.rounds is not None and args.rounds < 1:
        print("wireproof bench: error: --rounds must be at least 1", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 2:
        print("wireproof bench: error: --workers must be at least 2", file=sys.stderr)
        return 2
    report = replay.run(frames=args.frames or replay.DEFAULT_FRAMES, quick=args.quick, rounds=args.rounds,
                        progress=lambda text: print(f"[bench replay] {text}", file=sys.stderr),
                        traffic=traffic, workers=args.workers)
    capture_set = _capture_set(args, traffic)
    text = replay.render_text(report, traffic) + "\n\n" + replay_set.render_text(capture_set)
    report.extra["capture_set"] = capture_set
    report.checks.append(replay_set.check(capture_set))  # a set that merges wrongly fails the bench
    print(json.dumps(report_json(report), indent=2) if args.json else text)
    if not report.checks_ok:
        return 1
    if args.require_goals and not all(r["met"] for r in ratios(report)):
        return 1
    return 0


def _capture_set(args: argparse.Namespace, traffic: Any) -> dict[str, Any]:
    """The capture-set part of ``bench replay``: files/s on 1 and N processes (.bench.replay_set)."""
    import tempfile
    from pathlib import Path

    from wireproof.harness.bench import replay_set

    files, frames = ((replay_set.QUICK_SET_FILES, replay_set.QUICK_SET_FRAMES) if args.quick
                     else (replay_set.SET_FILES, replay_set.SET_FRAMES))
    print(f"[bench replay] capture set: {files} files x {frames} frames, 1 and N processes", file=sys.stderr)
    directory = Path(tempfile.gettempdir()) / "wireproof-bench-replay"  # the single-file capture's too
    return replay_set.measure(traffic=traffic, directory=directory, files=files, frames=frames)
