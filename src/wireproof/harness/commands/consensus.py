"""``wireproof consensus``: the consensus workbench (issue 4).

    wireproof consensus cluster ALGO [--nodes N] [--ops N] [--clients C] [--seconds S]
                                     [--kill leader|ID] [--tick S] [--fsync] [--seed N]
                                     [--history FILE] [--json]
    wireproof consensus run ALGO [--nodes N] [--seeds K] [--seed-start S] [--faults LIST]
                                 [--mutant NAME] [--duration T] [--no-shrink] [--json]

``cluster`` starts ALGO's nodes as processes over TCP on loopback
(:mod:`wireproof.harness.consensus.cluster`), drives them with concurrent
clients, optionally crashes and restarts a node mid-run, checks the recorded
history for linearizability and prints a summary. Exit 0 when the history is
linearizable, 1 when it is not or the run failed.

``run`` sweeps seeds S..S+K-1 of the deterministic simulator
(:func:`wireproof.consensus.sim.sweep`) for ALGO under the fault kinds LIST
(``all``, ``none`` or e.g. ``drop,crash``; see
:data:`wireproof.consensus.sim.KINDS`), optionally with a known-bad mutant
(:mod:`wireproof.consensus.mutants`). The algorithm's safety invariants are
checked after every event and, where its factory says so, the client history
for linearizability. It stops at the first failing seed and prints the seed, the
violation, the shrunk fault schedule and the tail of the trace. It prints the
summed run statistics and the simulator's wall-clock throughput (delivered
messages per second, timed here: the simulator itself is pure). Exit 0 when
every seed passed, 1 on a violation, 2 on usage errors.

ALGO is any algorithm of the registry (:mod:`wireproof.harness.consensus.registry`,
entry points ``wireproof.algorithms``), or ``package.module:FactoryClass``;
its factory (:class:`wireproof.consensus.algorithm.AlgorithmFactory`) gives the
invariants, the mutants, the simulation defaults and what real mode runs. This
module names no algorithm.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from wireproof.errors import HarnessError, WireproofError

__all__ = ["TRACE_TAIL", "add_arguments", "run", "sim_options"]

TRACE_TAIL = 30  # trace lines printed for a failing seed


def _algorithm(text: str) -> str:
    """argparse type of ALGO: a registered name, or ``package.module:FactoryClass``."""
    from wireproof.harness.consensus import registry

    known = registry.names()
    if text in known or ":" in text:
        return text
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r} (choose from {', '.join(known)}, or package.module:FactoryClass)")


def _run_epilog() -> str:
    import textwrap

    from wireproof.harness.consensus import registry

    def item(name: str, *paragraphs: str) -> list[str]:
        out: list[str] = []
        for i, text in enumerate(paragraphs):
            first = f"  {name:<12}" if i == 0 else " " * 14
            out += textwrap.wrap(text, 78, initial_indent=first, subsequent_indent=" " * 14)
        return out

    lines = ["algorithms (entry points of the group wireproof.algorithms):"]
    for name, algorithm in registry.algorithms().items():
        d = algorithm.simulation()
        checks = "invariants" + (f", linearizability ({d.lin_model})" if d.check_linearizability else "")
        lines += item(name, algorithm.description or algorithm.display(),
                      f"defaults: --duration {d.duration} --faults {d.faults}; checks: {checks}; "
                      f"mutants: {', '.join(algorithm.mutant_names()) or 'none'}")
    for name, why in registry.failures().items():
        lines += item(name, f"cannot load: {why}")
    return "\n".join(lines)


def _cluster_help() -> str:
    from wireproof.harness.consensus import registry

    able = [n for n, a in registry.algorithms().items() if a.real_mode() is not None]
    return f"{' | '.join(able)} (or package.module:FactoryClass)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wireproof.harness.consensus import registry

    sub = parser.add_subparsers(dest="consensus_command", metavar="SUBCOMMAND", required=True)

    c = sub.add_parser("cluster",
                       help="real nodes over TCP on loopback, with clients and a linearizability check")
    c.add_argument("algorithm", metavar="ALGO", help=_cluster_help())
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

    r = sub.add_parser("run", help="simulation runs under faults (seeded, reproducible)",
                       epilog=_run_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("algorithm", metavar="ALGO", type=_algorithm, help=" | ".join(registry.names()))
    r.add_argument("--nodes", type=int, default=3)
    r.add_argument("--seeds", type=int, default=20, metavar="K", help="seeds to run (default 20)")
    r.add_argument("--seed-start", type=int, default=0, metavar="S", help="first seed (default 0)")
    r.add_argument("--faults", default=None, metavar="LIST",
                   help="fault kinds, comma-separated, or all | none (default: the algorithm's, below)")
    r.add_argument("--mutant", default=None, metavar="NAME",
                   help="a known-bad variant (each algorithm's, below)")
    r.add_argument("--duration", type=int, default=None, metavar="T",
                   help="time units per run (default: the algorithm's, below)")
    r.add_argument("--no-shrink", action="store_true", help="do not shrink the failing fault plan")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args: argparse.Namespace) -> int:
    if args.consensus_command == "run":
        return _simulate(args)
    return _cluster(args)


def sim_options(algorithm: str, *, duration: int | None = None) -> tuple[Any, dict[str, Any]]:
    """The node factory and ``run_simulation`` options for ALGO, from its registered factory.

    Raises :class:`~wireproof.errors.HarnessError` for an unknown algorithm.
    """
    from wireproof.harness.consensus import registry

    factory = registry.get(algorithm)
    return factory, factory.sim_options(duration=duration)


def _simulate(args: argparse.Namespace) -> int:
    from wireproof.consensus.sim import SimResult, parse_kinds, run_simulation

    prog = "wireproof consensus run"
    try:
        factory, options = sim_options(args.algorithm, duration=args.duration)
    except HarnessError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    known = list(factory.mutant_names())
    if args.mutant is not None and args.mutant not in known:
        print(f"{prog}: unknown mutant {args.mutant!r}; known: {', '.join(known)}", file=sys.stderr)
        return 2
    if args.nodes < 1 or args.seeds < 1 or (args.duration is not None and args.duration < 1):
        print(f"{prog}: --nodes, --seeds and --duration must be at least 1", file=sys.stderr)
        return 2
    try:
        faults = parse_kinds(args.faults if args.faults is not None else factory.simulation().faults)
    except WireproofError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    seeds = range(args.seed_start, args.seed_start + args.seeds)
    totals: dict[str, Any] = {"delivered": 0, "sent": 0, "dropped": 0, "events": 0, "committed_slots": 0,
                              "crashes": 0, "restarts": 0, "operations": 0}
    failure: SimResult | None = None
    runs = 0
    start = time.perf_counter()
    # As sim.sweep (stop at the first failure, shrink it), but keeping every run's statistics.
    for seed in seeds:
        runs += 1
        res = run_simulation(factory, seed=seed, nodes=args.nodes, faults=faults, mutant=args.mutant,
                             shrink_failures=not args.no_shrink, **options)
        for name in ("delivered", "sent", "dropped"):
            totals[name] += sum(res.stats.get(name, {}).values())
        for name in ("events", "committed_slots", "crashes", "restarts"):
            totals[name] += res.stats.get(name, 0)
        totals["operations"] += len(res.history)
        if not res.ok:
            failure = res
            break
    seconds = time.perf_counter() - start
    stats = totals
    delivered = stats["delivered"]
    summary: dict[str, Any] = {
        "algorithm": args.algorithm, "nodes": args.nodes, "mutant": args.mutant,
        "faults": list(faults), "seeds": [seeds.start, seeds.start + runs - 1],
        "runs": runs, "ok": failure is None, "seconds": seconds,
        "delivered_per_second": delivered / seconds if seconds > 0 else 0.0, "stats": stats,
    }
    if failure is not None:
        summary["failure"] = {
            "seed": failure.seed,
            "violation": failure.violation.reason if failure.violation else None,
            "plan": failure.plan.describe(),
            "shrunk_plan": failure.shrunk_plan.describe() if failure.shrunk_plan is not None else None,
            "trace_tail": list(failure.trace[-TRACE_TAIL:]),
        }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_summary(summary)
    return 0 if failure is None else 1


def _print_summary(s: dict[str, Any]) -> None:
    st = s["stats"]
    mutant = f", mutant {s['mutant']}" if s["mutant"] else ""
    print(f"{s['algorithm']}: {s['nodes']} nodes, faults {','.join(s['faults']) or 'none'}{mutant}; "
          f"seeds {s['seeds'][0]}..{s['seeds'][1]} ({s['runs']} runs)")
    print(f"stats: {st['events']} events, {st['sent']} messages sent, {st['delivered']} delivered, "
          f"{st['dropped']} dropped; {st['committed_slots']} slots committed; {st['operations']} client "
          f"operations; {st['crashes']} crashes, {st['restarts']} restarts")
    print(f"simulator: {s['seconds']:.2f} s wall clock, "
          f"{s['delivered_per_second']:,.0f} delivered messages/s (with invariant checks and shrinking)")
    f = s.get("failure")
    if f is None:
        print(f"verdict: ok: no invariant or linearizability violation in {s['runs']} seeds")
        return
    print(f"verdict: FAILED at seed {f['seed']}: {f['violation']}")
    print("fault plan:\n" + f["plan"])
    if f["shrunk_plan"] is not None:
        print("shrunk fault plan:\n" + f["shrunk_plan"])
    print(f"trace (last {len(f['trace_tail'])} lines):")
    for line in f["trace_tail"]:
        print(f"  {line}")
    print(f"reproduce: wireproof consensus run {s['algorithm']} --nodes {s['nodes']} --seeds 1 "
          f"--seed-start {f['seed']} --faults {','.join(s['faults']) or 'none'}"
          + (f" --mutant {s['mutant']}" if s["mutant"] else ""))


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
            floor = _message_floor(args.algorithm, report.nodes)
            print(f"messages: {report.messages} for {report.committed} committed entries "
                  f"= {report.messages_per_command:.2f} per entry"
                  + (f" ({floor.label} = {floor.messages})" if floor is not None else ""))
        verdict = ("linearizable" if report.linearizable else "NOT linearizable"
                   if report.linearizable is not None else "not checked")
        print(f"verdict: {verdict} (checked in {report.check_seconds:.2f} s)")
        if report.witness:
            print(report.witness)
    return 0 if report.linearizable else 1


def _message_floor(algorithm: str, nodes: int) -> Any:
    """The algorithm's theoretical messages per committed entry, when it declares one."""
    from wireproof.harness.consensus import registry

    try:
        return registry.get(algorithm).message_floor(nodes)
    except HarnessError:  # a class only the node processes can import: no floor to print
        return None
