"""Sampled mutation testing of the codecs: the ``tox -e mutation`` tier.

Theory of operation
-------------------
Cosmic Ray (``cosmic-ray``, the ``mutation`` extra) finds every single-point mutant of a
module: a comparison flipped (``<`` to ``<=``), a constant off by one, an operator swapped
(``+`` to ``-``), a condition negated, a loop that never runs. Running all of them takes
hours; this driver runs a *seeded sample* of them, so the tier takes minutes on two cores
and the same seed always picks the same mutants:

1. ``tools/mutation.toml`` names each codec's modules and the tests that guard them
   (a codec joins the tier with one ``[[codec]]`` table there), the operator families,
   the sample size, the seed and the goal (90 % killed per module).
2. For every module the driver lists Cosmic Ray's mutants (``cosmic_ray.commands.init``
   does the same walk) and draws ``sample`` of them with ``random.Random(seed:module)``:
   a module's sample does not change when another module is added or edited.
3. Each of ``--jobs`` workers owns a copy of ``src/`` in a temporary directory; a mutant
   is written into that copy only (the work tree is never touched), and the codec's tests
   run in a fresh ``pytest -x`` process with ``PYTHONPATH`` pointing at the copy, so code
   that runs at import time (decoder tables built by factories) is mutated too. A fresh
   process per mutant is what in-process tools (mutmut 3's trampolines) cannot give:
   they leave a decoder built at import time unmutated. The codec's ``quick`` tests run
   first in a process of their own; only a mutant they miss pays for the rest.
4. A mutant is *killed* when the tests fail (or time out), *survives* when they pass.
   A survivor listed in ``[[equivalent]]`` (a mutant that cannot change behaviour, with
   the reason) counts as neither. The score is killed / (sampled - equivalent).
5. The report prints the score per module and every survivor as ``file:line``, the
   operator and the line before and after, so a developer can write the missing test.

Exit status (as ``wireproof.harness.exitcodes``): 0 when every module reaches the goal, 1
when one does not, 2 for a bad configuration or when the unmutated tests fail (no verdict is
possible then), 130 when interrupted (every test run is ended first).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import fnmatch
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "tools" / "mutation.toml"
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130  # as in wireproof.harness.exitcodes


class Unusable(Exception):
    """No verdict is possible (bad configuration, tests that fail unmutated): exit 2."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutant:
    """One sampled mutant: Cosmic Ray's (operator, occurrence) in one module."""

    module: str  # path relative to ROOT, e.g. src/wireproof/codecs/modbus/pdu.py
    operator: str
    occurrence: int
    line: int
    before: str
    after: str
    mutated_source: str


@dataclass(slots=True, kw_only=True)
class ModuleScore:
    module: str
    population: int
    sampled: int = 0
    killed: int = 0
    equivalent: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # of the test runs: the time an idle machine would need, over the jobs
    survivors: list[Mutant] = field(default_factory=list)

    @property
    def score(self) -> float:
        judged = self.sampled - self.equivalent
        return self.killed / judged if judged else 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Codec:
    name: str
    modules: tuple[str, ...]
    tests: tuple[str, ...]
    quick: tuple[str, ...]  # run first; the rest of ``tests`` only for a mutant they miss


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    seed: int
    sample: int
    goal: float
    timeout_factor: float
    operators: tuple[str, ...]
    exclude_operators: tuple[str, ...]
    codecs: tuple[Codec, ...]
    # (module, operator, line before, line after) -> why the mutant cannot change behaviour
    equivalent: dict[tuple[str, str, str, str], str]


def load_config(path: Path) -> Config:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    codecs = tuple(Codec(name=c["name"], modules=tuple(c["modules"]), tests=tuple(c["tests"]),
                         quick=tuple(c.get("quick", ()))) for c in raw["codec"])
    for codec in codecs:
        for module in codec.modules:
            if not (ROOT / module).is_file():
                raise Unusable(f"{path.name}: codec {codec.name}: no module {module}")
    equivalent = {(e["module"], e["operator"], e["before"].strip(), e["after"].strip()): e["reason"]
                  for e in raw.get("equivalent", [])}
    return Config(seed=int(raw["seed"]), sample=int(raw["sample"]), goal=float(raw["goal"]),
                  timeout_factor=float(raw.get("timeout_factor", 4.0)),
                  operators=tuple(raw["operators"]),
                  exclude_operators=tuple(raw.get("exclude_operators", ())), codecs=codecs,
                  equivalent=equivalent)


def _operator_names(config: Config) -> list[str]:
    import cosmic_ray.plugins

    return sorted(n for n in cosmic_ray.plugins.operator_names()
                  if any(n == f or n.startswith(f + "_") for f in config.operators)
                  and not any(fnmatch.fnmatch(n, x) for x in config.exclude_operators))


def _annotation_spans(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the annotations are, when the module never evaluates them (PEP 563).

    A mutant there (``str | int`` to ``str % int``) cannot change behaviour: it is left out.
    """
    tree = ast.parse(source)
    if not any(isinstance(n, ast.ImportFrom) and n.module == "__future__"
               and any(a.name == "annotations" for a in n.names) for n in tree.body):
        return []
    found: list[ast.expr | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            found.append(node.annotation)
    return [((a.lineno, a.col_offset), (a.end_lineno or a.lineno, a.end_col_offset or 0))
            for a in found if a is not None]


def population(module: str, config: Config) -> Iterator[tuple[str, int, int]]:
    """Every mutant of ``module`` as (operator, occurrence, line), in Cosmic Ray's order."""
    import cosmic_ray.plugins
    from cosmic_ray.ast import ast_nodes, get_ast_from_path

    tree = get_ast_from_path(ROOT / module)
    annotations = _annotation_spans((ROOT / module).read_text(encoding="utf-8"))
    for name in _operator_names(config):
        operator = cosmic_ray.plugins.get_operator(name)()
        positions = (start for node in ast_nodes(tree) for start, _ in operator.mutation_positions(node))
        for occurrence, start in enumerate(positions):
            if not any(lo <= start < hi for lo, hi in annotations):
                yield name, occurrence, start[0]


def materialise(module: str, operator_name: str, occurrence: int) -> Mutant | None:
    import cosmic_ray.plugins
    from cosmic_ray.mutating import mutate_code

    source = (ROOT / module).read_text(encoding="utf-8")
    mutated = mutate_code(source, cosmic_ray.plugins.get_operator(operator_name)(), occurrence)
    if mutated is None or mutated == source:
        return None
    old, new = source.splitlines(), mutated.splitlines()
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            return Mutant(module=module, operator=operator_name, occurrence=occurrence, line=i1 + 1,
                          before=" ".join(s.strip() for s in old[i1:i2]),
                          after=" ".join(s.strip() for s in new[j1:j2]), mutated_source=mutated)
    return None


def draw(module: str, config: Config, sample: int) -> tuple[int, list[Mutant]]:
    """The seeded sample of ``module``'s mutants (and the size of the population)."""
    everyone = list(population(module, config))
    rng = random.Random(f"{config.seed}:{module}")
    order = rng.sample(everyone, len(everyone))
    picked: list[Mutant] = []
    for operator_name, occurrence, _line in order:
        if len(picked) == sample:
            break
        mutant = materialise(module, operator_name, occurrence)
        if mutant is not None:  # a position the operator declines to mutate is not a mutant
            picked.append(mutant)
    return len(everyone), picked


class Worker:
    """A private copy of ``src/`` and the pytest stages that import from it."""

    def __init__(self, base: Path, stages: Sequence[Sequence[str]]) -> None:
        self.src = base / "src"
        shutil.copytree(ROOT / "src", self.src, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
        self.env = dict(os.environ, PYTHONPATH=str(self.src), PYTHONDONTWRITEBYTECODE="1",
                        HYPOTHESIS_STORAGE_DIRECTORY=str(base / "hypothesis"))
        self.running: subprocess.Popen[bytes] | None = None
        self.stopped = False
        self.commands = [[sys.executable, "-m", "pytest", "-x", "-q", "--no-header", "-p", "no:cacheprovider",
                          "-p", "no:randomly", "-m", "not slow", "--hypothesis-seed=0", *tests]
                         for tests in stages]

    def check_isolation(self) -> None:
        probe = subprocess.run([sys.executable, "-c", "import wireproof; print(wireproof.__file__)"],
                               env=self.env, cwd=ROOT, capture_output=True, text=True, check=False)
        if not probe.stdout.strip().startswith(str(self.src)):
            raise Unusable(f"the tests would not import the mutated copy ({probe.stdout.strip()}"
                           f"{probe.stderr.strip()})")

    def run(self, timeouts: Sequence[float | None]) -> tuple[bool, list[float]]:
        """Run the stages until one fails: (every stage passed, seconds of each stage run)."""
        seconds = []
        for command, timeout in zip(self.commands, timeouts, strict=True):
            if self.stopped:
                raise KeyboardInterrupt
            started = time.monotonic()
            proc = subprocess.Popen(command, env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            self.running = proc
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:  # an endless loop is a kill
                self._kill()
                code = -signal.SIGKILL
            finally:
                self.running = None
            seconds.append(time.monotonic() - started)
            if code != 0:
                return False, seconds
        return True, seconds

    def _kill(self) -> None:
        proc = self.running
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and everything it started (its own session)
            proc.wait()

    def stop(self) -> None:
        """End the run under way and refuse new ones (Ctrl-C)."""
        self.stopped = True
        self._kill()

    def run_mutant(self, mutant: Mutant, timeouts: Sequence[float]) -> bool:
        """Whether ``mutant`` survives the tests."""
        target = self.src / Path(mutant.module).relative_to("src")
        original = target.read_text(encoding="utf-8")
        target.write_text(mutant.mutated_source, encoding="utf-8")
        try:
            return self.run(timeouts)[0]
        finally:
            target.write_text(original, encoding="utf-8")


def run_codec(codec: Codec, config: Config, args: argparse.Namespace) -> list[ModuleScore]:
    modules = [m for m in codec.modules if not args.module or any(fnmatch.fnmatch(m, g) for g in args.module)]
    if not modules:
        return []
    # Stage 1: the quick tests (most mutants die there, after a short collection); stage 2: the rest.
    rest = [t for t in codec.tests if t not in codec.quick]
    stages = [list(codec.quick), rest] if codec.quick else [rest]
    with tempfile.TemporaryDirectory(prefix="wireproof-mutation-") as tmp:
        workers = [Worker(Path(tmp) / f"w{i}", stages) for i in range(args.jobs)]
        try:
            return _run_modules(codec, modules, workers, config, args)
        finally:  # Ctrl-C included: no test run outlives the driver
            for worker in workers:
                worker.stop()


def _run_modules(codec: Codec, modules: Sequence[str], workers: list[Worker], config: Config,
                 args: argparse.Namespace) -> list[ModuleScore]:
    workers[0].check_isolation()
    passed, baseline = workers[0].run([None] * len(workers[0].commands))
    if not passed:
        raise Unusable(f"codec {codec.name}: the tests fail without any mutant: "
                       f"{' '.join(workers[0].commands[len(baseline) - 1])}")
    timeouts = [config.timeout_factor * b + 10 for b in baseline]
    print(f"codec {codec.name}: tests pass unmutated in {' + '.join(f'{b:.1f}' for b in baseline)} s; "
          f"seed {config.seed}, {args.sample} mutants a module, {len(workers)} jobs", flush=True)
    free = list(workers)
    lock = threading.Lock()

    def judge(mutant: Mutant) -> tuple[bool, float]:
        with lock:
            worker = free.pop()
        started = time.monotonic()
        try:
            return worker.run_mutant(mutant, timeouts), time.monotonic() - started
        finally:
            with lock:
                free.append(worker)

    scores = []
    for module in modules:
        size, sample = draw(module, config, args.sample)
        score = ModuleScore(module=module, population=size, sampled=len(sample))
        started, cpu = time.monotonic(), _children_cpu()
        pool = ThreadPoolExecutor(max_workers=len(workers))
        try:
            futures = {pool.submit(judge, m): m for m in sample}
            for i, future in enumerate(as_completed(futures), 1):
                mutant = futures[future]
                survived, seconds = future.result()
                key = (mutant.module, mutant.operator, mutant.before, mutant.after)
                if not survived:
                    score.killed += 1
                    verdict = "killed"
                elif key in config.equivalent:
                    score.equivalent += 1
                    verdict = "equivalent"
                else:
                    score.survivors.append(mutant)
                    verdict = "SURVIVED"
                if args.verbose:
                    print(f"  [{i}/{len(sample)}] {verdict:<10} {seconds:5.1f} s  "
                          f"{mutant.module}:{mutant.line}  {mutant.operator}", flush=True)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            for worker in workers:
                worker.stop()
            raise
        pool.shutdown()
        score.seconds, score.cpu_seconds = time.monotonic() - started, _children_cpu() - cpu
        score.survivors.sort(key=lambda m: (m.line, m.operator))
        report_module(score, config.goal)
        scores.append(score)
    return scores


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report_module(score: ModuleScore, goal: float) -> None:
    verdict = "ok" if score.score >= goal else f"UNDER {goal:.0%}"
    print(f"{score.module}: {score.killed}/{score.sampled - score.equivalent} killed ({score.score:.0%}), "
          f"{len(score.survivors)} survived, {score.equivalent} equivalent, "
          f"sampled {score.sampled} of {score.population}, {score.seconds:.0f} s "
          f"({score.cpu_seconds:.0f} s CPU)"
          f"  {verdict}", flush=True)
    for m in score.survivors:
        print(f"  survivor {m.module}:{m.line}  {m.operator}\n    - {m.before}\n    + {m.after}", flush=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--sample", type=int, help="mutants a module (default: the config's)")
    parser.add_argument("--seed", type=int, help="the sampling seed (default: the config's)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel test runs")
    parser.add_argument("--module", action="append", help="only modules matching this glob (repeatable)")
    parser.add_argument("--codec", action="append", help="only this codec (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="one line per mutant as it is judged")
    args = parser.parse_args(argv)
    try:
        import cosmic_ray.plugins  # noqa: F401
    except ImportError:
        print("mutation: Cosmic Ray is not installed: pip install -e '.[mutation]' (or tox -e mutation)",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        config = load_config(args.config)
    except (OSError, KeyError, ValueError, TypeError, tomllib.TOMLDecodeError, Unusable) as err:
        print(f"mutation: {args.config}: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_USAGE
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    args.sample = args.sample or config.sample
    args.jobs = max(1, args.jobs)
    scores: list[ModuleScore] = []
    started = time.monotonic()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        for codec in config.codecs:
            if not args.codec or codec.name in args.codec:
                scores.extend(run_codec(codec, config, args))
    except KeyboardInterrupt:
        print("mutation: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Unusable as err:
        print(f"mutation: {err}", file=sys.stderr)
        return EXIT_USAGE
    if not scores:
        print("mutation: no module selected", file=sys.stderr)
        return EXIT_USAGE
    print(f"\n{'module':<48} {'sampled':>7} {'killed':>6} {'survived':>8} {'equiv':>5} {'score':>6} "
          f"{'time':>6} {'CPU':>6}")
    for s in scores:
        print(f"{s.module:<48} {s.sampled:>7} {s.killed:>6} {len(s.survivors):>8} {s.equivalent:>5} "
              f"{s.score:>6.0%} {s.seconds:>5.0f}s {s.cpu_seconds:>5.0f}s")
    under = [s.module for s in scores if s.score < config.goal]
    print(f"seed {config.seed}; {time.monotonic() - started:.0f} s in all; "
          + (f"{len(under)} module(s) under {config.goal:.0%}: {', '.join(under)}" if under
             else f"every module at or above {config.goal:.0%}"))
    return EXIT_FAIL if under else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
