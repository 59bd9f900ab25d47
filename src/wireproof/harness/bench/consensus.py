"""``wireproof bench consensus``: message costs, simulator throughput, checker time.

Theory of operation
-------------------
Every algorithm of the registry (:mod:`wireproof.harness.consensus.registry`)
is asked for its numbers; this module names none.

*Message costs* are measured by simulation without faults, with every
message delayed by exactly :data:`DELAY` time units, by the algorithm's own
:meth:`~wireproof.consensus.algorithm.AlgorithmFactory.bench_cost` (the two
procedures, stable leader and one instance per command, are
:mod:`wireproof.consensus.sim.cost`), beside the theoretical minimum its
factory declares: e.g. Multi-Paxos ``Accept`` to and ``Accepted`` from n-1
followers = 2(n-1) messages and 2 delays; Classic Paxos ``Prepare``,
``Promise``, ``Accept``, ``Accepted`` = 4(n-1) and 4 delays, with the
``Chosen`` that tells the other learners reported apart (``learn_messages``).

*Simulator throughput* is delivered messages per wall-clock second of one
fixed seeded run under all fault kinds of each algorithm whose factory asks
for it (``bench_throughput``: the key-value store, whose runs exercise
clients, the log and the state machine;
:func:`wireproof.consensus.sim.run_simulation`); time is taken here, in the
harness, because the simulator is pure.

*Checker time* is :func:`wireproof.consensus.check.lincheck.check_linearizable`
over the Jepsen etcd histories (``$WIREPROOF_SHARED/histories/jepsen-etcd``,
else ``../shared/histories/jepsen-etcd`` beside the repository), with the
number of verdicts that match ``verdicts.tsv``; and its *scaling*: the same
check over generated linearizable single-key histories of 10,000, 100,000
and 1,000,000 operations (:func:`~wireproof.harness.consensus.histories.generate_history`,
five clients, 0.2% indefinite outcomes), each timed, with the check's peak
resident memory over what the process held before it (on Linux the kernel's
peak mark is reset before each check, ``/proc/self/clear_refs``; elsewhere it
is the growth of the process's peak, 0 when an earlier run already reached
it).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from wireproof.consensus.sim.cost import COMMANDS, DELAY, Cost

__all__ = [
    "COMMANDS",
    "DELAY",
    "Cost",
    "LINCHECK_SIZES",
    "LincheckScaling",
    "LincheckTiming",
    "SimThroughput",
    "jepsen_folder",
    "measure_costs",
    "render_text",
    "run",
    "sim_throughput",
    "time_lincheck",
    "time_lincheck_scaling",
]

SCHEMA: Final = "wireproof.bench.consensus/1"
LINCHECK_SIZES: Final = (10_000, 100_000, 1_000_000)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimThroughput:
    algorithm: str
    seed: int
    invariants: bool  # safety invariants checked after events (as ``consensus run`` does)
    delivered: int
    events: int
    seconds: float

    @property
    def messages_per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LincheckTiming:
    folder: str
    histories: int
    right: int
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LincheckScaling:
    operations: int
    verdict: str
    explored: int
    seconds: float
    peak_rss_growth_mb: float


def measure_costs(*, sizes: tuple[int, ...] = (3, 5), commands: int = COMMANDS) -> list[Cost]:
    """Each registered algorithm's measured cost per command, for each cluster size (name order)."""
    from wireproof.harness.consensus import registry

    costs: list[Cost] = []
    for algorithm in registry.algorithms().values():
        for n in sizes:
            cost = algorithm.bench_cost(n, commands=commands)
            if cost is None:
                break  # not benchmarked
            costs.append(cost)
    return costs


def sim_throughput(*, algorithm: str | None = None, seed: int = 7, duration: int = 2000, nodes: int = 3,
                   invariants: bool = True) -> list[SimThroughput]:
    """Delivered messages per wall-clock second of one fixed seeded run under all faults.

    For ``algorithm``, or for every registered algorithm whose factory asks for
    it (``bench_throughput``). With ``invariants`` False the run checks
    nothing: the simulator's own speed.
    """
    from wireproof.consensus.sim.runner import run_simulation
    from wireproof.harness.consensus import registry

    chosen = ([registry.get(algorithm)] if algorithm is not None
              else [a for a in registry.algorithms().values() if a.bench_throughput])
    out: list[SimThroughput] = []
    for factory in chosen:
        start = time.perf_counter()
        result = run_simulation(factory, nodes=nodes, seed=seed, faults="all", duration=duration,
                                adapter=factory.client_adapter(), check_linearizability=False,
                                record_trace=False, check_always=False, invariants=None if invariants else ())
        seconds = time.perf_counter() - start
        if not result.ok:
            raise RuntimeError(f"throughput run failed: {result.report()}")
        out.append(SimThroughput(algorithm=factory.name, seed=seed, invariants=invariants,
                                 delivered=sum(result.stats["delivered"].values()),
                                 events=result.stats["events"], seconds=seconds))
    return out


def jepsen_folder() -> Path:
    """Where the Jepsen etcd histories live (as tests/consensus/check/test_jepsen_etcd.py finds them)."""
    default = Path(__file__).resolve().parents[4].parent / "shared"
    return Path(os.environ.get("WIREPROOF_SHARED", default)) / "histories" / "jepsen-etcd"


def time_lincheck(folder: Path | None = None) -> LincheckTiming | None:
    """Check every history of the Jepsen etcd set; None when the set is absent."""
    from wireproof.consensus.check.lincheck import check_linearizable
    from wireproof.harness.consensus.histories import load_history

    folder = folder or jepsen_folder()
    verdicts_file = folder / "verdicts.tsv"
    if not verdicts_file.is_file():
        return None
    verdicts = dict(line.split("\t") for line in verdicts_file.read_text().splitlines() if line.strip())
    histories = {name: load_history(folder / name) for name in sorted(verdicts)}
    start = time.perf_counter()
    right = sum(check_linearizable(h, witness=False).verdict == verdicts[name]
                for name, h in histories.items())
    return LincheckTiming(folder=str(folder), histories=len(histories), right=right,
                          seconds=time.perf_counter() - start)


def time_lincheck_scaling(sizes: tuple[int, ...] = LINCHECK_SIZES, *, seed: int = 0) -> list[LincheckScaling]:
    """Time the checker on generated single-key histories of ``sizes`` operations (smallest first)."""
    from wireproof.consensus.check.lincheck import check_linearizable
    from wireproof.harness.consensus.histories import generate_history

    out: list[LincheckScaling] = []
    for n in sorted(sizes):
        history = generate_history(n, seed=seed)
        before, reset = _reset_peak_mb()
        start = time.perf_counter()
        result = check_linearizable(history, witness=False)
        seconds = time.perf_counter() - start
        out.append(LincheckScaling(operations=n, verdict=result.verdict, explored=result.explored,
                                   seconds=seconds, peak_rss_growth_mb=max(0.0, _peak_mb(reset) - before)))
        del history, result
    return out


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":")) / 1024


def _reset_peak_mb() -> tuple[float, bool]:
    """(memory now, True) after resetting the kernel's peak mark (Linux); else (the peak so far, False)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # 5: reset the peak resident set size (proc(5))
        return _status_mb("VmRSS"), True
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, False  # kilobytes on Linux


def _peak_mb(reset: bool) -> float:
    return _status_mb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(*, quick: bool = False) -> dict[str, Any]:
    """Everything ``wireproof bench consensus`` reports, as JSON-ready data."""
    commands = 10 if quick else COMMANDS
    costs = measure_costs(commands=commands)
    duration = 600 if quick else 4000
    tps = [tp for checked in (True, False) for tp in sim_throughput(duration=duration, invariants=checked)]
    lin = None if quick else time_lincheck()
    scaling = time_lincheck_scaling(LINCHECK_SIZES[:1] if quick else LINCHECK_SIZES)
    return {
        "schema": SCHEMA,
        "delay_units": DELAY,
        "costs": [asdict(c) for c in costs],
        "sim_throughput": [{**asdict(tp), "messages_per_second": tp.messages_per_second} for tp in tps],
        "lincheck": asdict(lin) if lin is not None else None,
        "lincheck_scaling": [asdict(row) for row in scaling],
        "lincheck_note": ("skipped with --quick" if quick else
                          None if lin is not None else f"no Jepsen etcd histories in {jepsen_folder()}"),
    }


def render_text(report: dict[str, Any]) -> str:
    lines = ["steady-state cost per committed command (no faults; at the leader/proposer)",
             f"{'algorithm':<12}{'n':>3}{'messages':>10}{'minimum':>9}{'delays':>8}{'minimum':>9}  by type"]
    for c in report["costs"]:
        types = ", ".join(f"{t} {v:g}" for t, v in c["by_type"].items())
        if c["learn_messages"]:
            types += f" (Chosen after the decision, not counted: {c['learn_messages']:g})"
        lines.append(f"{c['algorithm']:<12}{c['nodes']:>3}{c['messages_per_command']:>10.2f}"
                     f"{c['min_messages']:>9}{c['delays_per_command']:>8.2f}{c['min_delays']:>9}  {types}")
    lines.append("")
    for tp in report["sim_throughput"]:
        checked = "with invariants" if tp["invariants"] else "no checks"
        lines.append(f"simulator ({checked}): {tp['delivered']} messages delivered ({tp['events']} events) "
                     f"in {tp['seconds']:.2f} s = {tp['messages_per_second']:,.0f} delivered messages/s "
                     f"({_display(tp.get('algorithm'))}, 3 nodes, all faults, seed {tp['seed']})")
    lin = report["lincheck"]
    if lin is not None:
        lines.append(f"lincheck: Jepsen etcd set {lin['right']}/{lin['histories']} verdicts right "
                     f"in {lin['seconds']:.2f} s")
    else:
        lines.append(f"lincheck: {report['lincheck_note']}")
    for row in report.get("lincheck_scaling", ()):
        lines.append(f"lincheck: {row['operations']:,} operations (generated, one key) {row['verdict']} "
                     f"in {row['seconds']:.2f} s, {row['explored']:,} states, "
                     f"peak memory +{row['peak_rss_growth_mb']:.0f} MB")
    return "\n".join(lines)


def _display(name: str | None) -> str:
    """The algorithm's name for people (its factory's ``title``)."""
    from wireproof.harness.consensus import registry

    if name is None:
        return "?"
    try:
        return registry.get(name).display()
    except Exception:  # a report from elsewhere may name an algorithm not installed here
        return name
