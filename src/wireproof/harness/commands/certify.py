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

The target: before any clause runs, ``--target`` is opened once and closed
(:func:`~wireproof.harness.suites.target_problem`). A target that is not
there (refused, unreachable, no answer to the connect, no such device) is
one error line and exit 2, with no report written: there is nothing to give
a verdict on, and forty "fail" verdicts would blame a device that was never
reached. A target that accepts and then resets is there: its resets are the
clauses' to judge (``fail``, with the bytes sent as evidence).

Ctrl-C: the clauses that finished keep their verdicts; the reports asked for
are written, marked incomplete (JSON ``"complete": false, "interrupted":
true`` and a ``not_run`` list; JUnit properties and a skipped ``not_run``
test case per clause left; an HTML banner), one line says so, and the exit
status is 130.

Exit codes (:mod:`wireproof.harness.exitcodes`; also in ``--help``):

- 0 ``OK``: every clause ran and passed or was not applicable;
- 1 ``FAIL``: at least one clause failed (the device broke a rule), whatever
  else happened;
- 2 ``USAGE``: bad arguments, an unknown suite or parameter, a profile that is
  missing, no clause selected (``-k`` matched nothing), or a target that is
  not there;
- 3 ``INCOMPLETE``: no clause failed, but not every clause has a verdict: an
  ``error`` (the harness broke), ``inconclusive``, a suite that does not
  collect, or pytest itself failing; a crash is never 1;
- 130 ``INTERRUPTED``: Ctrl-C (reports written, marked incomplete).
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

from wireproof.harness.exitcodes import FAIL, INCOMPLETE, INTERRUPTED, OK, USAGE

if TYPE_CHECKING:
    import pytest

    from wireproof.harness.report.model import CaseResult, RunResult
    from wireproof.protocol import SuiteEntry

__all__ = ["LiveProgress", "add_arguments", "missing_runner", "pytest_args", "run", "run_pytest"]

_ISOLATED_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")

EXIT_CODES_HELP = f"""exit codes:
  {OK:<4} every clause ran and passed (or is not applicable)
  {FAIL:<4} at least one clause failed: the device broke a rule
  {USAGE:<4} bad arguments, no clause selected, or the target is not there (nothing was run)
  {INCOMPLETE:<4} no failure, but a clause has no verdict (error, inconclusive, suite broken)
  {INTERRUPTED:<4} interrupted (Ctrl-C); the reports are written, marked incomplete"""


def add_arguments(parser: argparse.ArgumentParser, argv: Sequence[str] = ()) -> None:
    from wireproof.harness.cli import chosen
    from wireproof.harness.suites import suite, suite_names

    names = suite_names()
    parser.add_argument("suite", metavar="SUITE", help=f"suite name: {', '.join(names) or 'none installed'}")
    parser.add_argument("--target", metavar="URL", help="device under test (default: the built-in reference)")
    parser.add_argument("--bind", metavar="HOST:PORT",
                        help="suites that test a client: listen there and wait for the device under test "
                        "to connect (default 127.0.0.1:0, printed)")
    parser.add_argument("--command", metavar="CMD", dest="client_command",  # args.command: the subcommand
                        help="suites that test a client: start the device under test with CMD for each "
                        "clause ({host}, {port}, {url}, {python} are substituted); stopped after it")
    parser.add_argument("--profile", metavar="FILE", type=Path,
                        help="device profile (TOML, or what the suite reads)")
    parser.add_argument("--report", metavar="DIR", type=Path, default=Path("wireproof-report"),
                        help="directory for report.json, junit.xml, report.html (default ./wireproof-report)")
    parser.add_argument("-k", metavar="EXPR", dest="keyword", help="only clauses matching EXPR (pytest -k)")
    parser.add_argument("-n", metavar="WORKERS", dest="workers",
                        help="run clauses in parallel on WORKERS processes (pytest-xdist; 'auto' = cores)")
    parser.add_argument("--param", "--option", metavar="NAME=VALUE", action="append", default=[],
                        dest="param",
                        help="a suite parameter (repeatable; `wireproof certify SUITE --help` lists them)")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EXIT_CODES_HELP
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
        lines = [f"  {p.describe()}" for p in entry.params]
        parser.epilog = (f"parameters of {entry.name} (--param NAME=VALUE):\n" + "\n".join(lines)
                         + "\n\n" + _profile_help(entry) + EXIT_CODES_HELP)


def _profile_help(entry: SuiteEntry) -> str:
    """Where the profile a run without ``--profile`` uses lives (a foreign device is judged by it)."""
    if not entry.default_profile:
        return ""
    from importlib import resources

    package, _, name = entry.default_profile.partition(":")
    where = resources.files(package) / name
    return (f"profile of {entry.name}:\n  without --profile, clauses are judged against the built-in "
            f"reference profile,\n  {where}\n  (it describes wireproof's reference device: copy it and "
            "describe yours)\n\n")


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
        self.interrupted = False
        self.config: pytest.Config | None = None
        self._durations: dict[str, float] = {}

    def pytest_configure(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        from wireproof.harness.plugin import interrupted_by_user

        self.interrupted = interrupted_by_user(excinfo)

    @property
    def result(self) -> RunResult | None:
        """The run as the reports give it (None when no report was written)."""
        from wireproof.harness.plugin import REPORTER_NAME

        writer = self.config.pluginmanager.get_plugin(REPORTER_NAME) if self.config is not None else None
        result: RunResult | None = getattr(writer, "result", None)
        return result

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


def _not_passed(cases: Sequence[CaseResult], out: TextIO) -> None:
    """The clauses that did not pass, in clause order, each reason whole (the live lines cut them short).

    The live lines are the clause list (printed once); this is what a
    reader needs after it: why each failed, erred or stayed inconclusive.
    """
    import textwrap

    from wireproof.harness.report.model import clause_sort_key

    ordered = [c for c in sorted(cases, key=clause_sort_key) if c.verdict not in ("pass", "not_applicable")]
    if not ordered:
        return
    print(f"\nnot passed ({len(ordered)}):", file=out)
    for case in ordered:
        print(f"  {case.clause or case.nodeid} {case.level} {case.verdict.upper()}"
              + (f": {case.title}" if case.title else ""), file=out)
        for paragraph in (case.message or "(no reason given)").strip().splitlines():
            for line in textwrap.wrap(paragraph, 100, break_on_hyphens=False) or [""]:
                print(f"      {line}", file=out)


def _profile_problem(info: SuiteEntry, path: Path) -> str | None:
    """Why the profile at ``path`` cannot be used for suite ``info``, or None (read before any clause).

    The file is read by the suite's ``profile_reader`` if it declares one, else as TOML
    (:func:`~wireproof.harness.suites.profile_document`).
    """
    from wireproof.errors import FixtureError
    from wireproof.harness.suites import profile_document
    from wireproof.protocol import resolve

    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    try:
        document = profile_document(info, data)
    except FixtureError as exc:
        return str(exc)
    if info.profile is not None:
        try:
            resolve(info.profile)(document)
        except FixtureError as exc:
            return str(exc)
    return None


def run(args: argparse.Namespace) -> int:
    from wireproof.errors import HarnessError
    from wireproof.harness.report import REPORT_FILES, VERDICTS, RunResult
    from wireproof.harness.suites import suite, suite_path, target_problem

    out, err = sys.stdout, sys.stderr
    try:
        info = suite(args.suite)
        suite_dir = suite_path(info)
        params = suite_params(info, args)
    except KeyError as exc:
        print(f"wireproof certify: error: {exc.args[0]}", file=err)
        return USAGE
    except (HarnessError, ValueError) as exc:
        print(f"wireproof certify: error: {exc}", file=err)
        return USAGE
    missing = missing_runner(args.workers)
    if missing is not None:
        print(f"wireproof certify: error: {missing}", file=err)
        return USAGE
    problem = _role_problem(info, args)
    if problem is not None:
        print(f"wireproof certify: error: {problem}", file=err)
        return USAGE
    if args.target:
        from wireproof.harness.transports import parse_url

        try:
            parse_url(args.target)  # a malformed URL is a usage error, not 40 clause errors
        except HarnessError as exc:
            print(f"wireproof certify: error: --target: {exc}", file=err)
            return USAGE
    if args.profile is not None:
        problem = _profile_problem(info, args.profile)
        if problem is not None:
            print(f"wireproof certify: error: --profile {args.profile}: {problem}", file=err)
            return USAGE
    if args.workers is not None and args.workers != "auto" and not args.workers.isdigit():
        print(f"wireproof certify: error: -n {args.workers}: expected a number or 'auto'", file=err)
        return USAGE
    if args.target:
        problem = target_problem(args.target)  # not there: one error, not a "fail" per clause
        if problem is not None:
            print(f"wireproof certify: error: {problem}", file=err)
            return USAGE

    bind = args.bind
    if info.device_role == "client" and bind is not None and args.client_command is None:
        from wireproof.harness.client_dut import reserve_port

        bind = reserve_port(bind)  # printed below: the device under test is started by hand

    report_dir = args.report.resolve()
    extra = ["--wireproof-report", str(report_dir), "--wireproof-suite", args.suite]
    if bind is not None:
        extra += ["--wireproof-bind", bind]
    if args.client_command is not None:
        extra += ["--wireproof-command", args.client_command]
    for key, value in params.items():
        extra += ["--wireproof-param", f"{key}={value}"]
    if args.target:
        extra += ["--wireproof-target", args.target]
    if args.profile is not None:
        extra += ["--wireproof-profile", str(args.profile.resolve())]
    if args.keyword:
        extra += ["-k", args.keyword]

    print(f"wireproof certify {info.name}: {info.description}", file=out)
    if info.device_role == "client":
        print(f"device under test: {_client_words(info, bind, args.client_command)}", file=out)
    else:
        print(f"target: {args.target or '(built-in reference device)'}", file=out)
    if args.profile is not None:
        print(f"profile: {args.profile}", file=out)
    elif args.target and info.default_profile:
        # A foreign device judged against the reference device's profile: said before anything runs.
        print("profile: the built-in reference profile, which describes wireproof's own device, not this "
              "target: clauses may not apply as they would to it (--profile FILE describes yours; "
              f"`wireproof certify {info.name} --help` says where the reference one is)", file=out)
    print(file=out, flush=True)
    progress = LiveProgress(out)
    try:
        code, held = run_pytest(pytest_args(suite_dir, workers=args.workers, extra=extra), [progress])
    except KeyboardInterrupt:  # before pytest's session began (or after it ended): nothing to mark
        progress.interrupted, code, held = True, INTERRUPTED, ""
    if progress.interrupted:
        return _interrupted(progress.result, report_dir, err)
    if code in (3, 4):  # INTERNAL_ERROR, USAGE_ERROR: pytest's own words explain it
        print(held.rstrip(), file=err)
        print(f"wireproof certify: pytest could not run the suite (exit {code})", file=err)
        return USAGE if code == 4 else INCOMPLETE

    cases = progress.cases
    if code == 5 or not cases:
        print("no clause selected", file=out)
    else:
        _not_passed(cases, out)
    result = progress.result
    summary = RunResult(suite=info.name, target=args.target, started="", duration=0.0,
                        cases=tuple(cases)).summary
    counts = ", ".join(f"{summary[v]} {v}" for v in VERDICTS)
    complete = result is None or result.complete
    all_ok = summary["pass"] + summary["not_applicable"] == summary["total"]
    passed = code == 0 and bool(cases) and complete and all_ok
    verdict = "PASSED" if passed else "NOT PASSED" if complete else "INCOMPLETE"
    print(f"\n{info.name}: {summary['total']} clauses: {counts} -> {verdict}", file=out)
    if result is not None:
        _run_context(result, out)
    if result is not None and not result.complete:
        print(f"{result.incomplete_note}", file=out)
    for name in REPORT_FILES:
        path = report_dir / name
        if path.exists():
            print(f"report: {path}", file=out)
    _bundle_lines(report_dir, out)
    return exit_code(cases, passed=passed, selected=bool(cases) and code != 5)


def _role_problem(info: SuiteEntry, args: argparse.Namespace) -> str | None:
    """Why the options do not fit the suite's device role (``--target`` for a server, ``--bind`` /
    ``--command`` for a client), or None."""
    from wireproof.harness.client_dut import parse_bind

    if info.device_role == "client":
        if args.target:
            return (f"suite {info.name} tests a client (wireproof listens and the device connects): "
                    "use --bind HOST:PORT or --command CMD, not --target")
        if args.bind is not None:
            try:
                parse_bind(args.bind)
            except ValueError as exc:
                return f"--bind {exc}"
            if args.workers is not None and args.client_command is None:
                return "-n: a device started by hand connects to one address; run its clauses in one process"
        if args.client_command is not None and not args.client_command.strip():
            return "--command is empty"
        return None
    given = [name for name, dest in (("bind", "bind"), ("command", "client_command"))
             if getattr(args, dest, None) is not None]
    if given:
        return (f"suite {info.name} tests a server (wireproof connects to it): --{given[0]} is for suites "
                "that test a client; use --target URL")
    return None


def _client_words(info: SuiteEntry, bind: str | None, command: str | None) -> str:
    """The client-role device under test, in one line (before anything runs)."""
    where = bind or "127.0.0.1 (a free port)"
    if command is not None:
        return f"started by `{command}` for each clause, connecting to {where}"
    if bind is not None:
        return f"listening on {bind}: start the device under test so that it connects there"
    return f"the built-in reference client (`{info.default_command}`), connecting to {where}"


def _bundle_lines(report_dir: Path, out: TextIO) -> None:
    """Where the evidence bundle is, and the manifest's own hash (what a lab writes down)."""
    import hashlib

    from wireproof.harness.report import MANIFEST

    manifest = report_dir / MANIFEST
    if not manifest.is_file():
        return
    captures = len(list((report_dir / "evidence").glob("*.pcapng")))
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()
    print(f"evidence: {report_dir / 'evidence'} ({captures} captures, one per clause, and their step logs)",
          file=out)
    print(f"manifest: {manifest} (sha256 {digest}); check it with: wireproof verify-report {report_dir}",
          file=out)


def _run_context(result: RunResult, out: TextIO) -> None:
    """The profile that judged the device and what the device said it is, under the summary."""
    print(f"profile: {result.profile.text}", file=out)
    device = result.device
    if device.fields:
        said = ", ".join(f"{k} {v}" for k, v in device.fields if k[:1].isalpha() and " " not in k)
        print(f"device: {said}", file=out)
    elif device.problem:
        print(f"device: {device.problem}", file=out)


def exit_code(cases: Sequence[CaseResult], *, passed: bool, selected: bool) -> int:
    """The exit status of a run that finished (module docstring, "Exit codes")."""
    if passed:
        return OK
    if any(case.verdict == "fail" for case in cases):
        return FAIL  # a fault seen is a fault, whatever else went wrong
    if not selected:
        return USAGE
    return INCOMPLETE


def _interrupted(result: RunResult | None, report_dir: Path, err: TextIO) -> int:
    """Ctrl-C: one line; the reports (if the session got far enough to write them) are marked incomplete."""
    if result is None:
        print("wireproof certify: interrupted before the reports were written; no report", file=err)
    else:
        total = len(result.cases) + len(result.not_run)
        print(f"wireproof certify: interrupted after {len(result.cases)} of {total} clauses; "
              f"the reports in {report_dir} are marked incomplete", file=err)
    return INTERRUPTED
