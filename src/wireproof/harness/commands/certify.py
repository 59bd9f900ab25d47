"""``wireproof certify SUITE``: run a conformance suite, print verdicts, write reports.

The suite's test files run with pytest in this process, isolated from the
user's own setup: no ini file (``-c`` the null device), rootdir and confcutdir
at the suite's directory (no outside conftest), no plugin autoloading and no
``PYTEST_ADDOPTS`` (only the wireproof plugin, and xdist for ``-n``), no cache.
pytest's own terminal output is kept back and shown only when pytest itself
fails (usage or internal error); instead one line is printed as each clause
finishes, then the verdict table and the summary.

Suite parameters: each suite declares its parameters in its protocol's
descriptor (:class:`~wireproof.protocol.Param`); ``--param NAME=VALUE``
sets one (``--option`` is the same), a parameter with an alias has an
option of its own (``--unit 7`` for the Modbus suite), and ``wireproof
certify SUITE --help`` lists them. Values are checked here, before any
clause runs, and passed to pytest as ``--wireproof-param``.

Exit codes: 0 when every clause that applies passes (``not_applicable`` does
not count against), 1 when a clause fails, errors or is inconclusive, nothing
was selected, or the suite does not collect; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import pytest

    from wireproof.harness.report.model import CaseResult
    from wireproof.protocol import SuiteEntry

__all__ = ["LiveProgress", "add_arguments", "missing_runner", "pytest_args", "run", "run_pytest"]

_ISOLATED_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    from wireproof.harness.cli import chosen
    from wireproof.harness.suites import suite, suite_names

    names = suite_names()
    parser.add_argument("suite", metavar="SUITE", help=f"suite name: {', '.join(names) or 'none installed'}")
    parser.add_argument("--target", metavar="URL", help="device under test (default: the built-in reference)")
    parser.add_argument("--profile", metavar="FILE", type=Path, help="device profile (TOML)")
    parser.add_argument("--report", metavar="DIR", type=Path, default=Path("wireproof-report"),
                        help="directory for report.json, junit.xml, report.html (default ./wireproof-report)")
    parser.add_argument("-k", metavar="EXPR", dest="keyword", help="only clauses matching EXPR (pytest -k)")
    parser.add_argument("-n", metavar="WORKERS", dest="workers",
                        help="run clauses in parallel on WORKERS processes (pytest-xdist; 'auto' = cores)")
    parser.add_argument("--param", "--option", metavar="NAME=VALUE", action="append", default=[],
                        dest="param",
                        help="a suite parameter (repeatable; `wireproof certify SUITE --help` lists them)")
    name = chosen(argv, names)
    if name is None:
        return
    entry = suite(name)
    if entry.params:
        group = parser.add_argument_group(f"options of {entry.name}")
        for param in entry.params:
            if param.alias:
                kind = {"int": int, "float": float}.get(param.kind, str)
                group.add_argument(f"--{param.alias}", metavar=param.metavar or param.kind.upper(), type=kind,
                                   default=None, dest=f"alias_{param.name}",
                                   help=f"{param.help} (the same as --param {param.name}=VALUE)")
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        lines = [f"  {p.describe()}" for p in entry.params]
        parser.epilog = f"parameters of {entry.name} (--param NAME=VALUE):\n" + "\n".join(lines)


def suite_params(entry: SuiteEntry, args: argparse.Namespace) -> dict[str, str]:
    """The parameters given (``--param``, aliases), checked against the suite's.

    ``ValueError`` naming the first bad one.
    """
    given: dict[str, str] = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--param {item!r}: expected NAME=VALUE")
        try:
            entry.parse_param(key, value)
        except ValueError as err:
            raise ValueError(f"--param {item}: {err}") from None
        given[key] = value
    for param in entry.params:
        value = getattr(args, f"alias_{param.name}", None)
        if value is not None:
            try:
                param.parse(str(value))
            except ValueError as err:
                raise ValueError(f"--{param.alias} {value}: {err}") from None
            given[param.name] = str(value)
    return given


def pytest_args(suite_dir: Path, *, workers: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """pytest arguments that run the suite in ``suite_dir`` isolated from the user's configuration."""
    args = ["-c", os.devnull, "--rootdir", str(suite_dir), "--confcutdir", str(suite_dir),
            "-p", "no:cacheprovider", "-p", "wireproof.harness.plugin", "--import-mode=importlib",
            "--strict-markers"]
    if workers is not None:
        args += ["-p", "xdist.plugin", "-n", workers]
    return [*args, *extra, str(suite_dir)]


@contextlib.contextmanager
def _isolated_env() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in (*_ISOLATED_ENV, "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    for k in _ISOLATED_ENV:
        os.environ.pop(k, None)
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_pytest(args: list[str], plugins: Sequence[object] = ()) -> tuple[int, str]:
    """Run pytest in-process with its terminal output kept back; returns (exit code, that output)."""
    import pytest

    held = io.StringIO()
    with _isolated_env(), contextlib.redirect_stdout(held):
        code = pytest.main(args, plugins=list(plugins))
    return int(code), held.getvalue()


def missing_runner(workers: str | None = None) -> str | None:
    """What is missing to run suites (pytest; pytest-xdist for ``-n``), or None."""
    import importlib.util

    if importlib.util.find_spec("pytest") is None:
        return "running a suite needs pytest (pip install 'pytest>=8')"
    if workers is not None and importlib.util.find_spec("xdist") is None:
        return "-n needs pytest-xdist (pip install pytest-xdist)"
    return None


def _short(message: str, width: int = 90) -> str:
    line = message.strip().splitlines()[0] if message.strip() else ""
    return line if len(line) <= width else line[: width - 3] + "..."


def _line(case: CaseResult, clause_width: int = 18) -> str:
    clause = case.clause or case.nodeid
    verdict = case.verdict.upper()
    text = f"{case.title} -- {case.message}" if case.title and case.message else case.title or case.message
    return f"{clause:<{clause_width}} {case.level:<6} {verdict:<14} {_short(text)}".rstrip()


class LiveProgress:
    """Prints one line per clause as it finishes and keeps the cases for the table."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.cases: list[CaseResult] = []
        self._durations: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from wireproof.harness.plugin import case_from_report

        self._durations[report.nodeid] = self._durations.get(report.nodeid, 0.0) + report.duration
        if report.when != "teardown":
            return
        case = case_from_report(report, duration=self._durations.pop(report.nodeid))
        if case is not None:
            self.cases.append(case)
            print(_line(case), file=self.out, flush=True)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        from wireproof.harness.plugin import case_from_collect_error

        if report.failed:
            case = case_from_collect_error(report)
            self.cases.append(case)
            print(f"collection error in {report.nodeid or 'the suite'}:", file=self.out)
            print("  " + report.longreprtext.strip().replace("\n", "\n  "), file=self.out, flush=True)


def _table(cases: Sequence[CaseResult], out: TextIO) -> None:
    from wireproof.harness.report.model import clause_sort_key

    ordered = sorted(cases, key=clause_sort_key)
    width = max([len("clause"), *(len(c.clause or c.nodeid) for c in ordered)])
    print(f"\n{'clause':<{width}} {'level':<6} {'verdict':<14} rule / message", file=out)
    print(f"{'-' * width} {'-' * 6} {'-' * 14} {'-' * 7}", file=out)
    for case in ordered:
        print(_line(case, width), file=out)


def run(args: argparse.Namespace) -> int:
    from wireproof.errors import HarnessError
    from wireproof.harness.report import REPORT_FILES, VERDICTS, RunResult
    from wireproof.harness.suites import suite, suite_path

    out, err = sys.stdout, sys.stderr
    try:
        info = suite(args.suite)
        suite_dir = suite_path(info)
        params = suite_params(info, args)
    except KeyError as exc:
        print(f"wireproof certify: error: {exc.args[0]}", file=err)
        return 2
    except (HarnessError, ValueError) as exc:
        print(f"wireproof certify: error: {exc}", file=err)
        return 2
    missing = missing_runner(args.workers)
    if missing is not None:
        print(f"wireproof certify: error: {missing}", file=err)
        return 2
    if args.target:
        from wireproof.harness.transports import parse_url

        try:
            parse_url(args.target)  # a malformed URL is a usage error, not 40 clause errors
        except HarnessError as exc:
            print(f"wireproof certify: error: --target: {exc}", file=err)
            return 2
    if args.profile is not None and not args.profile.is_file():
        print(f"wireproof certify: error: --profile {args.profile}: no such file", file=err)
        return 2
    if args.workers is not None and args.workers != "auto" and not args.workers.isdigit():
        print(f"wireproof certify: error: -n {args.workers}: expected a number or 'auto'", file=err)
        return 2

    report_dir = args.report.resolve()
    extra = ["--wireproof-report", str(report_dir), "--wireproof-suite", args.suite]
    for key, value in params.items():
        extra += ["--wireproof-param", f"{key}={value}"]
    if args.target:
        extra += ["--wireproof-target", args.target]
    if args.profile is not None:
        extra += ["--wireproof-profile", str(args.profile.resolve())]
    if args.keyword:
        extra += ["-k", args.keyword]

    print(f"wireproof certify {info.name}: {info.description}", file=out)
    print(f"target: {args.target or '(built-in reference device)'}\n", file=out, flush=True)
    progress = LiveProgress(out)
    code, held = run_pytest(pytest_args(suite_dir, workers=args.workers, extra=extra), [progress])
    if code in (3, 4):  # INTERNAL_ERROR, USAGE_ERROR: pytest's own words explain it
        print(held.rstrip(), file=err)
        print(f"wireproof certify: pytest could not run the suite (exit {code})", file=err)
        return 2 if code == 4 else 1

    cases = progress.cases
    if code == 5 or not cases:
        print("no clause selected", file=out)
    else:
        _table(cases, out)
    summary = RunResult(suite=info.name, target=args.target, started="", duration=0.0,
                        cases=tuple(cases)).summary
    counts = ", ".join(f"{summary[v]} {v}" for v in VERDICTS)
    passed = code == 0 and bool(cases) and summary["pass"] + summary["not_applicable"] == summary["total"]
    print(f"\n{info.name}: {summary['total']} clauses: {counts} -> {'PASSED' if passed else 'NOT PASSED'}",
          file=out)
    for name in REPORT_FILES:
        path = report_dir / name
        if path.exists():
            print(f"report: {path}", file=out)
    return 0 if passed else 1
