"""``wireproof bench SUITE``: codec speed against peer libraries, one process.

``wireproof bench modbus`` checks, then times, Modbus TCP decode (requests,
responses) and encode in wireproof, pymodbus and Scapy on the same frames,
and prints frames/s, the ratios wireproof/peer and whether the project's
goals (>= 1.5x pymodbus, >= 10x Scapy) are met; ``--json`` prints the same as
JSON (schema ``wireproof.bench/1``). See :mod:`wireproof.harness.bench`.

``wireproof bench replay`` times ``wireproof replay`` on one large Modbus
capture (``--frames N``, default 1,000,000; 50,000 with ``--quick``) against
tshark and Scapy (:mod:`wireproof.harness.bench.replay`; goals >= 1.0x
tshark, >= 10x Scapy); ``--profile`` prints where the replay's time goes.

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

__all__ = ["SUITES", "add_arguments", "run"]

SUITES = ("modbus", "replay", "consensus")


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, not {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", choices=SUITES, help="which codec benchmark to run")
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


def run(args: argparse.Namespace) -> int:
    from wireproof.harness.bench import modbus, ratios, render_table, report_json

    if args.suite == "replay":
        return _replay(args)
    if args.suite == "consensus":
        from wireproof.harness.bench import consensus

        result = consensus.run(quick=args.quick)
        print(json.dumps(result, indent=2) if args.json else consensus.render_text(result))
        return 0
    seconds = args.seconds if args.seconds is not None else (0.1 if args.quick else 1.0)
    if args.profile:
        print(modbus.profile(seconds=seconds))
        return 0
    report = modbus.run(seconds=seconds, quick=args.quick)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        print(f"wireproof bench {args.suite}: {report.frames['requests']} request and "
              f"{report.frames['responses']} response Modbus TCP ADUs "
              f"({report.frames['bytes_min']}..{report.frames['bytes_max']} bytes)\n")
        print(render_table(report))
    if not report.checks_ok:
        return 1
    if args.require_goals and not all(r["met"] for r in ratios(report)):
        return 1
    return 0


def _replay(args: argparse.Namespace) -> int:
    import sys

    from wireproof.harness.bench import ratios, replay, report_json

    if args.frames is not None and args.frames < 1:
        print("wireproof bench: error: --frames must be at least 1", file=sys.stderr)
        return 2
    if args.profile:
        print(replay.profile(frames=args.frames or 200_000))
        return 0
    if args.rounds is not None and args.rounds < 1:
        print("wireproof bench: error: --rounds must be at least 1", file=sys.stderr)
        return 2
    report = replay.run(frames=args.frames or replay.DEFAULT_FRAMES, quick=args.quick, rounds=args.rounds,
                        progress=lambda text: print(f"[bench replay] {text}", file=sys.stderr))
    print(json.dumps(report_json(report), indent=2) if args.json else replay.render_text(report))
    if not report.checks_ok:
        return 1
    if args.require_goals and not all(r["met"] for r in ratios(report)):
        return 1
    return 0
