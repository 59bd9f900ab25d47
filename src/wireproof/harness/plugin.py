"""wireproof's pytest plugin: clause tests, verdicts, evidence, reports.

Theory of operation (DESIGN.md, "Conformance"; STYLE.md: the pytest-xdist and
Hypothesis habit):

- A clause test is marked ``@pytest.mark.conformance(clause="MB-TCP-013",
  level="shall", cites='MB-TCP 4.2: "..."')``: ``cites`` is the specification
  sentence the clause rests on (section and quoted words), shown beside its
  verdict in every report; ``level`` is "shall" only where that sentence is
  normative for the device. The marker is validated when its module is collected; a
  bad one turns that module into a collection error that names the test.
- Each test phase's report is classified into a verdict (:func:`classify`) in
  the process that ran it, and the clause, level, verdict, message and
  evidence are put on ``report.user_properties`` as ``wireproof.*`` entries.
  Those survive pytest-xdist's report serialisation and reach pytest's own
  ``--junitxml`` too; the teardown report carries the final verdict.
- With ``--wireproof-report DIR``, the process that is *not* an xdist worker
  rebuilds one :class:`~wireproof.harness.report.model.CaseResult` per test
  from those properties and writes DIR/report.json, junit.xml and
  report.html at session end. It also remembers which clause tests were
  selected; when the session ends early (Ctrl-C: pytest's exit status
  INTERRUPTED), the reports are written all the same, marked incomplete,
  with the clauses that got no verdict listed as not run.
- With ``--wireproof-replay FILE``, the capture's flows are added as test
  items (:mod:`wireproof.harness.replay.pytest_items`, imported only then),
  so pytest-xdist shards a big capture; with a directory, each capture in it
  is one item, so pytest-xdist spreads a capture set.
- ``not_applicable(reason)`` and ``inconclusive(reason)`` end a test as a
  pytest skip whose reason starts with ``[not_applicable]`` /
  ``[inconclusive]``; any other skip is ``inconclusive`` (the clause was not
  decided).

The module is imported by every pytest run in an environment that has
wireproof installed, so it imports nothing heavy at module level.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import pytest

if TYPE_CHECKING:
    from wireproof.harness.report.model import CaseResult, NotRun, RunResult

__all__ = [
    "INCONCLUSIVE_PREFIX",
    "LEVELS",
    "NOT_APPLICABLE_PREFIX",
    "PROP_CITES",
    "PROP_CLAUSE",
    "PROP_DEVICE",
    "PROP_EVIDENCE",
    "PROP_LEVEL",
    "PROP_MESSAGE",
    "PROP_VERDICT",
    "EvidenceRecorder",
    "case_from_report",
    "classify",
    "inconclusive",
    "not_applicable",
]

LEVELS: Final = ("shall", "should", "may")
NOT_APPLICABLE_PREFIX: Final = "[not_applicable] "
INCONCLUSIVE_PREFIX: Final = "[inconclusive] "

PROP_CLAUSE: Final = "wireproof.clause"
PROP_LEVEL: Final = "wireproof.level"
PROP_VERDICT: Final = "wireproof.verdict"
PROP_MESSAGE: Final = "wireproof.message"
PROP_EVIDENCE: Final = "wireproof.evidence"
# What the suite actually tested when no --wireproof-target was given (its
# built-in default); suites put it on the item's user_properties.
PROP_TARGET: Final = "wireproof.target"
PROP_TITLE: Final = "wireproof.title"  # the rule in one line: the clause test's docstring summary
# The specification sentence the clause rests on (the marker's ``cites``): section and quoted words.
PROP_CITES: Final = "wireproof.cites"
# What the device said about itself (a DeviceInfo as JSON); a suite puts it on its items' user_properties.
PROP_DEVICE: Final = "wireproof.device"
_PROPS: Final = frozenset({PROP_CLAUSE, PROP_LEVEL, PROP_VERDICT, PROP_MESSAGE, PROP_EVIDENCE, PROP_TITLE,
                           PROP_CITES})

_MAX_MESSAGE: Final = 4000
REPORTER_NAME: Final = "wireproof-report"


def not_applicable(reason: str) -> NoReturn:
    """End the current clause test with verdict ``not_applicable`` (the profile excludes it)."""
    pytest.skip(NOT_APPLICABLE_PREFIX + reason)


def inconclusive(reason: str) -> NoReturn:
    """End the current clause test with verdict ``inconclusive`` (it could not be decided)."""
    pytest.skip(INCONCLUSIVE_PREFIX + reason)


# --------------------------------------------------------------------------- evidence

_TAP_WORDS: Final = {"tx": "sent", "send": "sent", "sent": "sent", "out": "sent", "write": "sent",
                     "rx": "received", "recv": "received", "received": "received", "in": "received",
                     "read": "received"}


class EvidenceRecorder:
    """What a clause test sent and received, for the report (the ``evidence`` fixture).

    ``sent``/``received`` record one message each (a suite passes the codec's
    view as ``decoded`` and the connection it went over as ``connection``),
    ``connected``/``closed`` a connection's life (with both addresses: the
    evidence bundle rebuilds the TCP conversation from them), ``note`` a step
    in words; ``tap`` is a plain ``(direction, data)`` callable for transports
    (``"tx"``/``"send"`` are recorded as ``sent``, ``"rx"``/``"recv"`` as
    ``received``). ``started`` is the wall clock at the start; entries carry
    seconds since then.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._start = clock()
        self.started = wall_clock()
        self.entries: list[dict[str, Any]] = []
        self.tap: Callable[[str, bytes], None] = self._tap

    def _add(self, direction: str, data: bytes, note: str, **extra: str) -> None:
        t = round(self._clock() - self._start, 6)
        entry: dict[str, Any] = {"direction": direction, "hex": bytes(data).hex(), "note": note, "t": t}
        entry.update((k, v) for k, v in extra.items() if v)
        self.entries.append(entry)

    def sent(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None:
        self._add("sent", data, note, connection=connection, decoded=decoded)

    def received(self, data: bytes, note: str = "", *, connection: str = "", decoded: str = "") -> None:
        self._add("received", data, note, connection=connection, decoded=decoded)

    def connected(self, connection: str, *, local: str, remote: str, note: str = "") -> None:
        self._add("connect", b"", note, connection=connection, local=local, remote=remote)

    def closed(self, connection: str, note: str = "") -> None:
        self._add("close", b"", note, connection=connection)

    def note(self, text: str) -> None:
        self._add("note", b"", text)

    def _tap(self, direction: str, data: bytes) -> None:
        self._add(_TAP_WORDS.get(direction.lower(), direction), data, "")

    def to_json(self) -> str:
        import json

        return json.dumps({"started": self.started, "entries": self.entries}, separators=(",", ":"))


# --------------------------------------------------------------------------- options and fixtures

def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("wireproof", "wireproof conformance")
    group.addoption("--wireproof-target", metavar="URL", default=None,
                    help="target of the conformance suite (tcp://host:port, ...); default: the suite's own")
    # A suite whose device under test is a client (SuiteEntry.device_role == "client"): wireproof listens.
    group.addoption("--wireproof-bind", metavar="HOST:PORT", default=None,
                    help="client-role suites: listen there for the device under test (default 127.0.0.1:0)")
    group.addoption("--wireproof-command", metavar="CMD", default=None,
                    help="client-role suites: start the device under test with CMD for each clause "
                    "({host}, {port}, {url}, {python} substituted); default: the suite's reference client")
    group.addoption("--wireproof-profile", metavar="FILE", default=None,
                    help="device profile deciding which clauses apply (TOML, or the format the suite reads)")
    group.addoption("--wireproof-report", metavar="DIR", default=None,
                    help="write report.json, junit.xml and report.html into DIR")
    group.addoption("--wireproof-param", metavar="KEY=VALUE", action="append", default=[],
                    help="suite parameter (repeatable; `wireproof certify SUITE --help` lists a suite's)")
    group.addoption("--wireproof-option", metavar="KEY=VALUE", action="append", default=[],
                    help="the same as --wireproof-param (repeatable)")
    # A parameter a suite gives an alias has an option of its own (--wireproof-ALIAS VALUE).
    from wireproof.protocol import REGISTRY, each_param_alias

    for param, suite in each_param_alias(REGISTRY.suites()):
        group.addoption(f"--wireproof-{param.alias}", metavar=param.metavar or param.kind.upper(),
                        dest=f"wireproof_{param.alias.replace('-', '_')}", default=None,
                        help=f"{suite.name} parameter {param.name}: {param.help}")
    group.addoption("--wireproof-suite", metavar="NAME", default=None,
                    help="suite name recorded in the reports (default: the rootdir's name)")
    # Capture replay as test items (wireproof.harness.replay.pytest_items, imported only when used).
    group.addoption("--wireproof-replay", metavar="FILE-or-DIR", default=None,
                    help="replay a capture; its flows become test items (shardable with pytest-xdist); "
                    "a directory: one item per capture in it")
    group.addoption("--wireproof-replay-shards", metavar="N", type=int, default=64,
                    help="at most N replay items: flows are grouped beyond that (default 64)")
    group.addoption("--wireproof-replay-port", metavar="P=NAME", action="append", default=[],
                    help="decode port P as protocol NAME during --wireproof-replay (repeatable)")
    group.addoption("--wireproof-replay-timeout", metavar="SECONDS", type=float, default=1.0,
                    help="capture time after which a replayed response is late (default 1.0)")


_PROFILE: Final[pytest.StashKey[dict[str, Any] | None]] = pytest.StashKey()
_OPTIONS: Final[pytest.StashKey[dict[str, str]]] = pytest.StashKey()
_ALIASES: Final[pytest.StashKey[dict[str, Any]]] = pytest.StashKey()
_PARAMS: Final[pytest.StashKey[dict[str, str]]] = pytest.StashKey()


def _load_profile(path: str | None, suite: str | None) -> dict[str, Any] | None:
    """The ``--wireproof-profile`` file as a document: read by the suite's ``profile_reader`` when the suite
    declares one, else as TOML (:func:`wireproof.harness.suites.profile_document`)."""
    if path is None:
        return None
    from wireproof.errors import FixtureError
    from wireproof.harness import runinfo
    from wireproof.harness.suites import profile_document

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise pytest.UsageError(f"--wireproof-profile {path}: {err.strerror or err}") from None
    try:
        return profile_document(runinfo.suite_entry(suite) if suite else None, data)
    except FixtureError as err:
        raise pytest.UsageError(f"--wireproof-profile {path}: {err}") from None


def _parse_options(items: list[str], option: str = "--wireproof-option") -> dict[str, str]:
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise pytest.UsageError(f"{option} {item!r}: expected KEY=VALUE")
        options[key.strip()] = value
    return options


def _aliases(config: pytest.Config, params: dict[str, str]) -> dict[str, Any]:
    """Each aliased parameter's value (parsed; its default when not given); given ones go into ``params``."""
    from wireproof.protocol import REGISTRY, each_param_alias

    values: dict[str, Any] = {}
    for param, _suite in each_param_alias(REGISTRY.suites()):
        dest = f"wireproof_{param.alias.replace('-', '_')}"
        text = config.getoption(dest, None)
        given = f"--wireproof-{param.alias} {text}"
        if text is None and param.name in params:  # given as --wireproof-param NAME=VALUE
            text, given = params[param.name], f"--wireproof-param {param.name}={params[param.name]}"
        if text is None:
            values[param.alias] = param.default
            continue
        try:
            value = param.parse(str(text))
        except ValueError as err:
            raise pytest.UsageError(f"{given}: {err}") from None
        setattr(config.option, dest, value)  # suites reading the option get the parsed value
        values[param.alias] = value
        params[param.name] = str(text)
    return values


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance(clause, level[, title][, cites]): a conformance clause test "
        "(level: shall|should|may; cites: the specification sentence it rests on)"
    )
    from wireproof.protocol import REGISTRY

    for problem in REGISTRY.problems:  # a protocol package that failed to load: said, not hidden
        config.issue_config_time_warning(pytest.PytestConfigWarning(f"wireproof: {problem}"), stacklevel=2)
    suite = config.getoption("wireproof_suite") or config.rootpath.name
    config.stash[_PROFILE] = _load_profile(config.getoption("wireproof_profile"), suite)
    params = _parse_options(config.getoption("wireproof_option"))
    params.update(_parse_options(config.getoption("wireproof_param"), "--wireproof-param"))
    config.stash[_OPTIONS] = dict(params)
    config.stash[_ALIASES] = _aliases(config, params)
    config.stash[_PARAMS] = params
    if not config.pluginmanager.has_plugin(_ALIAS_FIXTURES):
        config.pluginmanager.register(_alias_fixtures(config.stash[_ALIASES]), _ALIAS_FIXTURES)
    report_dir = config.getoption("wireproof_report")
    # Reports are written once, by the controller; an xdist worker has ``workerinput``.
    if report_dir and not hasattr(config, "workerinput") and not config.getoption("collectonly"):
        config.pluginmanager.register(ReportWriter(config, Path(report_dir)), REPORTER_NAME)


@pytest.fixture(scope="session")
def wireproof_target(pytestconfig: pytest.Config) -> str | None:
    """The ``--wireproof-target`` URL, or None (the suite then uses its own default)."""
    target: str | None = pytestconfig.getoption("wireproof_target")
    return target


@pytest.fixture(scope="session")
def wireproof_bind(pytestconfig: pytest.Config) -> str | None:
    """The ``--wireproof-bind HOST:PORT`` a client-role suite listens on, or None (127.0.0.1:0)."""
    bind: str | None = pytestconfig.getoption("wireproof_bind")
    return bind


@pytest.fixture(scope="session")
def wireproof_command(pytestconfig: pytest.Config) -> str | None:
    """The ``--wireproof-command`` that starts a client-role suite's device under test, or None."""
    command: str | None = pytestconfig.getoption("wireproof_command")
    return command


@pytest.fixture(scope="session")
def wireproof_listener(pytestconfig: pytest.Config, wireproof_bind: str | None) -> Generator[Any, None, None]:
    """A client-role suite's listening socket for the whole run
    (:class:`~wireproof.harness.client_dut.Listener`, on ``--wireproof-bind`` or 127.0.0.1:0)."""
    from wireproof.harness.client_dut import DEFAULT_BIND, Listener

    listener = Listener(wireproof_bind or DEFAULT_BIND)
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if wireproof_bind is not None and reporter is not None:
        reporter.write_line(f"listening on {listener.address}")
    try:
        yield listener
    finally:
        listener.close()


@pytest.fixture(scope="session")
def wireproof_profile(pytestconfig: pytest.Config) -> dict[str, Any] | None:
    """The parsed ``--wireproof-profile`` document (TOML, or the suite's profile_reader's), or None."""
    return pytestconfig.stash[_PROFILE]


@pytest.fixture(scope="session")
def wireproof_params(pytestconfig: pytest.Config) -> dict[str, str]:
    """The suite parameters given (``--wireproof-param KEY=VALUE``, ``--wireproof-option``, aliases), as text.

    A suite parses them with its declared :class:`~wireproof.protocol.Param` list.
    """
    params: dict[str, str] = pytestconfig.stash[_PARAMS]
    return dict(params)


@pytest.fixture(scope="session")
def wireproof_options(pytestconfig: pytest.Config) -> dict[str, str]:
    """The ``--wireproof-option`` / ``--wireproof-param KEY=VALUE`` pairs (not the alias options)."""
    options: dict[str, str] = pytestconfig.stash[_OPTIONS]
    return dict(options)


_ALIAS_FIXTURES: Final = "wireproof-param-aliases"


def _alias_fixtures(values: dict[str, Any]) -> object:
    """A plugin module with a session fixture ``wireproof_ALIAS`` per aliased parameter."""
    import types

    module = types.ModuleType(_ALIAS_FIXTURES.replace("-", "_"), "Fixtures of the suite parameters that "
                              "have an alias (their value, or the default).")
    for alias, value in values.items():
        name = f"wireproof_{alias.replace('-', '_')}"

        def fixture(value: Any = value) -> Any:
            return value
        fixture.__doc__ = f"The --wireproof-{alias} parameter (its default when not given)."
        setattr(module, name, pytest.fixture(scope="session", name=name)(fixture))
    return module


_EVIDENCE: Final = pytest.StashKey[EvidenceRecorder]()


@pytest.fixture
def evidence(request: pytest.FixtureRequest) -> EvidenceRecorder:
    """A recorder of what this test sends and receives; it lands in the report."""
    recorder = EvidenceRecorder()
    request.node.stash[_EVIDENCE] = recorder
    return recorder


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, so they apply to the replay items too
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    if config.getoption("wireproof_replay", None):
        from wireproof.harness.replay.pytest_items import collect_replay_items

        items.extend(collect_replay_items(session, config))


# --------------------------------------------------------------------------- marker validation

def marker_problem(marker: pytest.Mark) -> str | None:
    """Why a ``conformance`` marker is invalid, or None if it is fine."""
    if marker.args:
        return "takes keyword arguments only: conformance(clause=..., level=...)"
    unknown = set(marker.kwargs) - {"clause", "level", "title", "cites"}
    if unknown:
        return f"unknown argument(s) {', '.join(sorted(unknown))}"
    clause = marker.kwargs.get("clause")
    if not isinstance(clause, str) or not clause.strip():
        return f"clause must be a non-empty string, got {clause!r}"
    level = marker.kwargs.get("level")
    if level not in LEVELS:
        return f"level must be one of {', '.join(LEVELS)}, got {level!r}"
    for key in ("title", "cites"):
        value = marker.kwargs.get(key)
        if key in marker.kwargs and (not isinstance(value, str) or not value.strip()):
            return f"{key} must be a non-empty string, got {value!r}"
    return None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, pytest.CollectReport,
                                                                          pytest.CollectReport]:
    report = yield
    problems = []
    for node in report.result if report.passed else ():
        if isinstance(node, pytest.Item):
            marker = node.get_closest_marker("conformance")
            problem = marker_problem(marker) if marker is not None else None
            if problem is not None:
                problems.append(f"{node.nodeid}: invalid @pytest.mark.conformance: {problem}")
            elif marker is not None:
                # `-k MB-TCP-005` (or `-k MB-TCP`) selects by clause id.
                node.extra_keyword_matches.add(marker.kwargs["clause"])
    if problems:
        report.outcome = "failed"
        report.longrepr = "\n".join(problems)
        report.result = []
    return report


# --------------------------------------------------------------------------- verdicts

@dataclass(slots=True)
class _CaseState:
    verdict: str | None = None
    message: str = ""
    extra: list[str] = field(default_factory=list)


_STATE: Final = pytest.StashKey[_CaseState]()


def _skip_verdict(reason: str) -> tuple[str, str]:
    for prefix, verdict in ((NOT_APPLICABLE_PREFIX, "not_applicable"), (INCONCLUSIVE_PREFIX, "inconclusive")):
        if reason.startswith(prefix):
            return verdict, reason[len(prefix):]
    return "inconclusive", f"skipped: {reason}"


def _is_implementation_fault(exc: BaseException) -> bool:
    from wireproof.errors import DecodeError, LocalProtocolError, ProtocolViolation

    if isinstance(exc, LocalProtocolError):
        return False  # our own side refused to do something: a harness fault
    return isinstance(exc, AssertionError | ProtocolViolation | DecodeError | pytest.fail.Exception)


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE] + " ..."


def _exconly(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    # "ProtocolViolation: ..." reads better in a verdict table than "wireproof.errors.ProtocolViolation: ...".
    text = excinfo.exconly()
    cls = type(excinfo.value)
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    text = cls.__qualname__ + text[len(qualified):] if text.startswith(qualified + ":") else text
    return _without_pytest_noise(text) if isinstance(excinfo.value, AssertionError) else text


# What pytest's assertion rewriting says to a developer at a terminal, not to a report's reader.
_NOISE: Final = ("Use -v to get more diff", "Full diff:", "...Full output truncated")


def _without_pytest_noise(text: str) -> str:
    """An assertion's own message, without pytest's rewrite of the expression behind it.

    ``assert x == y, "device answered 5"`` reads "AssertionError: device
    answered 5"; a bare ``assert`` keeps the comparison pytest explains
    (the only reason there is), minus its advice to the terminal user.
    """
    lines = text.splitlines()
    if lines and not lines[0].startswith("AssertionError: assert "):
        # A message was given: it is the reason; pytest's explanation (from the first
        # unindented "assert " line on) restates the expression behind it.
        end = next((i for i, line in enumerate(lines[1:], 1) if line.startswith("assert ")), len(lines))
        lines = lines[:end]
    return "\n".join(line for line in lines if line.strip() and not line.strip().startswith(_NOISE))


def classify(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[str | None, str]:
    """The verdict (and message) that one phase's report gives, or None if it decides nothing.

    setup: a failure is ``error``; call: ``fail`` for AssertionError,
    ProtocolViolation (but not LocalProtocolError), DecodeError or
    ``pytest.fail``, ``error`` for anything else; teardown: a failure is
    ``error``. Skips map by reason prefix (see :func:`not_applicable`).
    """
    excinfo = call.excinfo
    if report.skipped:
        if hasattr(report, "wasxfail"):  # an expected failure happened: the rule is still broken
            return "fail", _clip(f"xfail: {report.wasxfail}")
        reason = str(getattr(excinfo.value, "msg", "")) if excinfo is not None else ""
        if not reason and isinstance(report.longrepr, tuple):
            reason = report.longrepr[2].removeprefix("Skipped: ")
        return _skip_verdict(reason)
    if report.passed:
        return ("pass", "") if report.when == "call" else (None, "")
    message = _clip(_exconly(excinfo)) if excinfo is not None else _clip(str(report.longrepr or ""))
    if report.when == "call" and (excinfo is None or _is_implementation_fault(excinfo.value)):
        return "fail", message
    return "error", f"{report.when}: {message}" if report.when != "call" else message


def _set_props(item: pytest.Item, props: dict[str, object]) -> None:
    kept = [(k, v) for k, v in item.user_properties if k not in props]
    item.user_properties[:] = kept + list(props.items())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
        None, pytest.TestReport, pytest.TestReport]:
    report = yield
    marker = item.get_closest_marker("conformance")
    if marker is None:
        return report
    state = item.stash.setdefault(_STATE, _CaseState())
    verdict, message = classify(report, call)
    if verdict is not None:
        if report.when == "teardown" and state.verdict not in (None, "pass"):
            state.extra.append(message)  # keep the earlier, more telling verdict
        else:
            state.verdict, state.message = verdict, message
    props: dict[str, object] = {PROP_CLAUSE: marker.kwargs.get("clause", ""),
                                PROP_LEVEL: marker.kwargs.get("level", ""),
                                PROP_TITLE: _title(item), PROP_CITES: marker.kwargs.get("cites", "")}
    if state.verdict is not None:
        props[PROP_VERDICT] = state.verdict
        props[PROP_MESSAGE] = "\n".join([state.message, *state.extra]).strip()
    recorder = item.stash.get(_EVIDENCE, None)
    if recorder is not None and recorder.entries:
        props[PROP_EVIDENCE] = recorder.to_json()
    _set_props(item, props)
    report.user_properties = list(item.user_properties)
    return report


def _title(item: pytest.Item) -> str:
    # A parametrized clause names its rule in its marker (title=...); else the docstring's summary.
    marker = item.get_closest_marker("conformance")
    title = marker.kwargs.get("title") if marker is not None else None
    doc = title if isinstance(title, str) else getattr(getattr(item, "obj", None), "__doc__", None) or ""
    return " ".join(doc.strip().split("\n\n", 1)[0].split())


# --------------------------------------------------------------------------- reports

def case_from_report(report: pytest.TestReport, duration: float | None = None) -> CaseResult | None:
    """The CaseResult a (teardown) report carries, or None if it carries no verdict."""
    import json

    from wireproof.harness.report.model import CaseResult, EvidenceEntry

    props = {str(k): v for k, v in report.user_properties if k in _PROPS}
    if PROP_VERDICT not in props:
        return None
    evidence = json.loads(str(props[PROP_EVIDENCE])) if PROP_EVIDENCE in props else {}
    entries = evidence.get("entries", []) if isinstance(evidence, dict) else evidence
    started = float(evidence.get("started", 0.0)) if isinstance(evidence, dict) else 0.0
    return CaseResult(started=started,
        nodeid=report.nodeid, clause=str(props.get(PROP_CLAUSE, "")), level=str(props.get(PROP_LEVEL, "")),
        verdict=str(props[PROP_VERDICT]),
        duration=round(report.duration if duration is None else duration, 6),
        message=str(props.get(PROP_MESSAGE, "")), title=str(props.get(PROP_TITLE, "")),
        cites=str(props.get(PROP_CITES, "")),
        evidence=tuple(EvidenceEntry.from_json_dict(e) for e in entries),
    )


def interrupted_by_user(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """Whether pytest's keyboard-interrupt hook saw a real Ctrl-C (not its own stop on collection errors,
    which pytest raises as a KeyboardInterrupt subclass)."""
    return not isinstance(excinfo.value, pytest.Session.Interrupted | pytest.Session.Failed)


def case_from_collect_error(report: pytest.CollectReport) -> CaseResult:
    """A collection error as an ``error`` case (a broken suite must show in the report)."""
    from wireproof.harness.report.model import CaseResult

    return CaseResult(nodeid=report.nodeid, clause="", level="", verdict="error",
                      message=_clip(f"collection: {report.longreprtext}"))


class ReportWriter:
    """Collects per-test reports on the controller and writes the reports at session end."""

    def __init__(self, config: pytest.Config, directory: Path) -> None:
        self.config = config
        self.directory = directory
        self.cases: list[CaseResult] = []
        self.result: RunResult | None = None
        self.paths: list[Path] = []
        self._durations: dict[str, float] = {}
        self._t0 = time.monotonic()
        self._started = ""
        self._target: str | None = None
        self._device: str | None = None
        self._selected: dict[str, NotRun] = {}  # nodeid -> what the reports say if it never runs
        self._ran: set[str] = set()  # node ids that finished (under xdist: clause or not)
        self.interrupted = False

    def pytest_sessionstart(self) -> None:
        import datetime

        self._t0 = time.monotonic()
        self._started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == PROP_TARGET:
                self._target = str(value)
            elif key == PROP_DEVICE:
                self._device = str(value)
        total = self._durations.get(report.nodeid, 0.0) + report.duration
        self._durations[report.nodeid] = total
        if report.when == "teardown":
            self._ran.add(report.nodeid)
            case = case_from_report(report, duration=self._durations.pop(report.nodeid))
            if case is not None:
                self.cases.append(case)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.cases.append(case_from_collect_error(report))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        from wireproof.harness.report.model import NotRun

        for item in session.items:
            marker = item.get_closest_marker("conformance")
            if marker is not None:
                clause, level = str(marker.kwargs.get("clause", "")), str(marker.kwargs.get("level", ""))
                self._selected[item.nodeid] = NotRun(nodeid=item.nodeid, clause=clause, level=level,
                                                     title=_title(item))

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: object, ids: list[str]) -> None:
        # Under xdist the controller collects nothing; the workers' node ids are all it learns
        # (clause or not: a test that never ran may be listed as not run without being a clause).
        from wireproof.harness.report.model import NotRun

        for nodeid in ids:
            self._selected.setdefault(nodeid, NotRun(nodeid=nodeid))

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.interrupted = interrupted_by_user(excinfo)

    def _params(self) -> dict[str, str]:
        params: dict[str, str] = self.config.stash[_PARAMS]
        return dict(params)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        import datetime
        import json

        from wireproof.harness import runinfo
        from wireproof.harness.report import DeviceInfo, RunResult, write_reports
        from wireproof.harness.report.model import clause_sort_key

        suite = self.config.getoption("wireproof_suite") or self.config.rootpath.name
        entry = runinfo.suite_entry(suite)
        decided = {case.nodeid for case in self.cases} | self._ran
        device = DeviceInfo.from_json_dict(json.loads(self._device)) if self._device else DeviceInfo()
        self.result = RunResult(
            finished=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            profile=runinfo.profile_info(self.config.getoption("wireproof_profile"), entry,
                                         builtin_target=not any(self.config.getoption(name) for name in (
                                             "wireproof_target", "wireproof_bind", "wireproof_command"))),
            parameters=runinfo.parameter_info(entry, self._params()),
            environment=runinfo.environment(), device=device,
            suite=suite, target=self.config.getoption("wireproof_target") or self._target,
            started=self._started,
            duration=round(time.monotonic() - self._t0, 6),
            cases=tuple(sorted(self.cases, key=clause_sort_key)),
            interrupted=self.interrupted,
            not_run=tuple(sorted((n for nodeid, n in self._selected.items() if nodeid not in decided),
                                 key=clause_sort_key)),
        )
        self.paths = write_reports(self.result, self.directory)
