"""``wireproof consensus``: the consensus workbench (issue 4).

    wireproof consensus cluster ALGO [--nodes N] [--ops N] [--clients C] [--seconds S]
                                     [--kill leader|ID] [--tick S] [--fsync] [--seed N]
                                     [--history FILE] [--json]
    wireproof consensus run ALGO ...   (the simulator sweep: wireproof.consensus.sim.runner)

``cluster`` starts ALGO's nodes as processes over TCP on loopback
(:mod:`wireproof.harness.consensus.cluster`), drives them with concurrent
clients, optionally crashes and restarts a node mid-run, checks the recorded
history for linearizability and prints a summary. Exit 0 when the history is
linearizable, 1 when it is not or the run failed.

``run`` is an extension point: when ``wireproof.consensus.sim.runner`` exists
it provides ``add_arguments(parser)`` and ``run(args) -> int`` and this module
hands over to it; otherwise ``run`` says so and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
from pathlib import Path
from types import ModuleType

from wireproof.errors import WireproofError

__all__ = ["RUNNER", "add_arguments", "run"]

RUNNER = "wireproof.consensus.sim.runner"


def _runner() -> ModuleType | None:
    """The runner module if it exists and offers the command interface, else None."""
    try:
        module = importlib.import_module(RUNNER)
    except ModuleNotFoundError as err:
        if err.name is not None and RUNNER.startswith(err.name):
            return None
        raise
    return module if hasattr(module, "add_arguments") and hasattr(module, "run") else None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="consensus_command", metavar="SUBCOMMAND", required=True)

    c = sub.add_parser("cluster",
                       help="real nodes over TCP on loopback, with clients and a linearizability check")
    c.add_argument("algorithm", metavar="ALGO", help="multipaxos (or package.module:FactoryClass)")
    c.add_argument("--nodes", type=int, default=3)
    c.add_argument("--ops", type=int, default=None, help="operations in all (default 500 unless --seconds)")
    c.add_argument("--clients", type=int, default=3)
    c.add_argument("--seconds", type=float, default=None, help="stop invoking after this long")
    c.add_argument("--kill", metavar="leader|ID", default=None,
                   help="SIGKILL this node a third of the way in, then restart it from its file")
    c.add_argument("--tick", type=float, default=0.01, help="seconds per node tick (default 0.01)")
    c.add_argument("--timeout", type=float, default=2.0, help="client operation timeout in seconds")
    c.add_argument("--fsync", action="store_true", help="fsync every persisted record")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--data-dir", type=Path, default=None, help="node files (default: a temporary directory)")
    c.add_argument("--history", type=Path, default=None, help="write the history here (wireproof JSON lines)")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")

    r = sub.add_parser("run", help="simulation runs under faults (seeded, reproducible)")
    runner = _runner()
    if runner is not None:
        runner.add_arguments(r)
    else:
        r.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    if args.consensus_command == "run":
        runner = _runner()
        if runner is None:
            print(f"wireproof consensus run: not available yet ({RUNNER} does not provide "
                  "add_arguments/run in this installation)", file=sys.stderr)
            return 1
        code: int = runner.run(args)
        return code
    return _cluster(args)


def _cluster(args: argparse.Namespace) -> int:
    from wireproof.harness.consensus.load import LoadSpec, run_cluster

    if args.nodes < 1 or args.clients < 1:
        print("wireproof consensus cluster: --nodes and --clients must be at least 1", file=sys.stderr)
        return 2
    ops = args.ops if args.ops is not None else (None if args.seconds else 500)
    spec = LoadSpec(clients=args.clients, ops=ops, seconds=args.seconds, timeout=args.timeout, seed=args.seed)
    try:
        with tempfile.TemporaryDirectory(prefix="wireproof-cluster-") as tmp:
            data_dir = args.data_dir or Path(tmp)
            report, records = run_cluster(args.algorithm, args.nodes, spec, data_dir, kill=args.kill,
                                          tick=args.tick, fsync=args.fsync)
    except (WireproofError, ImportError) as err:
        print(f"wireproof consensus cluster: {err}", file=sys.stderr)
        return 1
    if args.history is not None:
        from wireproof.consensus.check.history import dump_wireproof
        from wireproof.harness.consensus.load import to_history

        args.history.write_text(dump_wireproof(to_history(records)))
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        c = report.counts
        print(f"{report.algorithm}: {report.nodes} nodes, {report.clients} clients, {report.elapsed:.2f} s"
              + (f", killed and restarted node(s) {report.killed}" if report.killed else ""))
        print(f"operations: {sum(c.values())} (ok {c['ok']}, fail {c['fail']}, info {c['info']}), "
              f"{report.retries} not-leader retries")
        print(f"throughput: {report.throughput:.0f} ops/s; latency p50 {report.latency_p50 * 1e3:.2f} ms, "
              f"p99 {report.latency_p99 * 1e3:.2f} ms")
        if report.messages_per_command is not None:
            print(f"messages: {report.messages} for {report.committed} committed entries "
                  f"= {report.messages_per_command:.2f} per entry "
                  f"(Multi-Paxos minimum 2(n-1) = {2 * (report.nodes - 1)})")
        verdict = ("linearizable" if report.linearizable else "NOT linearizable"
                   if report.linearizable is not None else "not checked")
        print(f"verdict: {verdict} (checked in {report.check_seconds:.2f} s)")
        if report.witness:
            print(report.witness)
    return 0 if report.linearizable else 1
