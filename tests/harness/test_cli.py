"""The CLI: the command table, `certify` (exit codes, isolation, reports), `suites`, `decode`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wireproof import codecs
from wireproof.errors import HarnessError, TruncatedError
from wireproof.harness import cli
from wireproof.harness.exitcodes import INCOMPLETE, USAGE
from wireproof.harness.suites import suite, suite_path
from wireproof.protocol import Param, ProtocolDescriptor, ProtocolRegistry, SuiteEntry

PASSING = '''
import pytest
from wireproof.harness.plugin import not_applicable

@pytest.mark.conformance(clause="FK-1", level="shall")
def test_one(evidence):
    evidence.sent(b"\\x01\\x02")

@pytest.mark.conformance(clause="FK-2", level="may")
def test_two():
    not_applicable("profile says no")
'''

FAILING = '''
import pytest
from wireproof.harness.plugin import inconclusive

@pytest.mark.conformance(clause="FK-4", level="should")
def test_undecided():
    inconclusive("the device never answered")

@pytest.mark.conformance(clause="FK-3", level="shall")
def test_three():
    assert 2 + 2 == 5, "device answered 5"
'''

OPTIONS = '''
import pytest

@pytest.mark.conformance(clause="FK-9", level="shall")
def test_options(wireproof_target, wireproof_unit, wireproof_params, wireproof_profile):
    assert wireproof_target.startswith("tcp://127.0.0.1:")
    assert wireproof_unit == 7
    assert wireproof_params == {"framing": "rtu", "unit": "7"}
    assert wireproof_profile == {"fcs": [3]}
'''

FAKE_PARAMS = (Param(name="unit", kind="int", default=1, minimum=0, maximum=255, alias="unit",
                     what="a unit identifier", help="the unit"),
               Param(name="framing", help="the framing"))


def register_suite(registry: ProtocolRegistry, name: str, package: str) -> None:
    """A protocol offering one suite ``name`` in ``package`` (as a third-party descriptor would)."""
    registry.register(ProtocolDescriptor(name=f"proto-{name}", title=f"fake {name}", suites=(
        SuiteEntry(name=name, package=package, description=f"fake {name}", protocol="fake",
                   params=FAKE_PARAMS),)))


def make_suite(pytester: pytest.Pytester, registry: ProtocolRegistry, name: str,
               files: dict[str, str]) -> Path:
    """A suite package under pytester's directory, registered as ``name`` for this test."""
    package = "wpfake_" + name.replace("-", "_")
    directory = pytester.mkpydir(package)
    for filename, text in files.items():
        (directory / filename).write_text(text)
    pytester.syspathinsert()
    register_suite(registry, name, package)
    return directory


def certify(*argv: str) -> int:
    return cli.main(["certify", *argv])


# --------------------------------------------------------------------------- the frame

def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("certify", "suites", "decode", "simulate", "bench"):
        assert name in out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert "required" in capsys.readouterr().err


def test_missing_command_module_fails_alone(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(cli.COMMANDS, "ghost", ("wireproof.harness.commands.ghost", "not written yet"))
    assert cli.main(["ghost", "x"]) == 1
    assert "command 'ghost' is not available" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0  # the others still work


def test_python_dash_m() -> None:
    out = subprocess.run([sys.executable, "-m", "wireproof", "--version"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stdout.startswith("wireproof ")


# --------------------------------------------------------------------------- suite registry

def test_suite_registry() -> None:
    assert suite("modbus-server").package == "wireproof.conformance.modbus_server"
    with pytest.raises(KeyError, match=r"no suite named 'nope'; known: .*modbus-server"):
        suite_path("nope")


def test_suite_path_of_missing_package(protocol_registry: ProtocolRegistry) -> None:
    register_suite(protocol_registry, "gone", "wireproof.conformance.gone_xyz")
    with pytest.raises(HarnessError, match="not installed"):
        suite_path("gone")


# --------------------------------------------------------------------------- certify

def test_certify_passing_suite(pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
                               capsys: pytest.CaptureFixture[str]) -> None:
    make_suite(pytester, protocol_registry, "fake-ok", {"test_ok.py": PASSING})
    report_dir = pytester.path / "rep"
    assert certify("fake-ok", "--report", str(report_dir)) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert any(line.split()[:3] == ["FK-1", "shall", "PASS"] for line in lines)
    assert any(line.split()[:3] == ["FK-2", "may", "NOT_APPLICABLE"] and "profile says no" in line
               for line in lines)
    assert "fake-ok: 2 clauses: 1 pass, 0 fail, 0 error, 1 not_applicable, 0 inconclusive -> PASSED" in out
    for name in ("report.json", "junit.xml", "report.html"):
        assert f"report: {report_dir / name}" in out
    report = json.loads((report_dir / "report.json").read_text())
    assert report["suite"] == "fake-ok" and report["summary"]["total"] == 2
    assert report["cases"][0]["evidence"][0]["hex"] == "0102"
    assert "session starts" not in out  # pytest's own terminal output is held back


def test_certify_failing_suite_and_k(pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    make_suite(pytester, protocol_registry, "fake-mixed", {"test_ok.py": PASSING, "test_bad.py": FAILING})
    assert certify("fake-mixed", "--report", str(pytester.path / "r1")) == 1
    out = capsys.readouterr().out
    assert any(line.split()[:3] == ["FK-3", "shall", "FAIL"] and "device answered 5" in line
               for line in out.splitlines())
    assert "-> NOT PASSED" in out
    assert certify("fake-mixed", "-k", "test_one", "--report", str(pytester.path / "r2")) == 0
    # Nothing selected is a usage error (2); only inconclusive is no verdict (3): neither blames the device.
    assert certify("fake-mixed", "-k", "nothing_matches", "--report", str(pytester.path / "r3")) == USAGE
    assert "no clause selected" in capsys.readouterr().out
    assert certify("fake-mixed", "-k", "test_undecided", "--report", str(pytester.path / "r4")) == INCOMPLETE
    out = capsys.readouterr().out
    assert "0 pass, 0 fail, 0 error, 0 not_applicable, 1 inconclusive -> NOT PASSED" in out


def test_certify_bad_suite_option_is_a_usage_error(pytester: pytest.Pytester,
                                                   protocol_registry: ProtocolRegistry,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    make_suite(pytester, protocol_registry, "fake-use", {"test_ok.py": PASSING})
    assert certify("fake-use", "--option", "novalue", "--report", str(pytester.path / "rep")) == 2
    assert "--param 'novalue': expected NAME=VALUE" in capsys.readouterr().err
    assert certify("fake-use", "--param", "colour=red", "--report", str(pytester.path / "rep")) == 2
    assert "suite fake-use has no parameter 'colour'; known: unit, framing" in capsys.readouterr().err
    assert certify("fake-use", "--param", "unit=300", "--report", str(pytester.path / "rep")) == 2
    assert "--param unit=300: a unit identifier is 0..255" in capsys.readouterr().err
    assert certify("fake-use", "--unit", "300", "--report", str(pytester.path / "rep")) == 2
    assert "--unit 300: a unit identifier is 0..255" in capsys.readouterr().err


def test_certify_passes_options(pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
                                capsys: pytest.CaptureFixture[str]) -> None:
    make_suite(pytester, protocol_registry, "fake-opts", {"test_opts.py": OPTIONS})
    profile = pytester.path / "profile.toml"
    profile.write_text("fcs = [3]\n")
    with socket.create_server(("127.0.0.1", 0)) as listener:  # certify checks the target is there first
        target = f"tcp://127.0.0.1:{listener.getsockname()[1]}"
        code = certify("fake-opts", "--target", target, "--unit", "7", "--option", "framing=rtu",
                       "--profile", str(profile), "--report", str(pytester.path / "rep"))
    assert code == 0, capsys.readouterr().out
    assert json.loads((pytester.path / "rep" / "report.json").read_text())["target"] == target


def test_certify_is_isolated_from_the_users_setup(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                  protocol_registry: ProtocolRegistry,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    make_suite(pytester, protocol_registry, "fake-iso", {"test_ok.py": PASSING})
    # cwd is pytester.path, the parent of the suite: its ini, conftest and PYTEST_ADDOPTS must not apply.
    pytester.makeini("[pytest]\naddopts = --no-such-option\n")
    pytester.makeconftest("raise RuntimeError('user conftest loaded')\n")
    monkeypatch.setenv("PYTEST_ADDOPTS", "--also-no-such-option")
    assert certify("fake-iso", "--report", "rep") == 0, capsys.readouterr().out
    assert (pytester.path / "rep" / "report.json").is_file()  # --report is relative to the cwd


def test_certify_under_xdist(pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
                             capsys: pytest.CaptureFixture[str]) -> None:
    make_suite(pytester, protocol_registry, "fake-par", {"test_ok.py": PASSING, "test_bad.py": FAILING})
    assert certify("fake-par", "-n", "2", "--report", str(pytester.path / "rep")) == 1
    out = capsys.readouterr().out
    assert "4 clauses: 1 pass, 1 fail, 0 error, 1 not_applicable, 1 inconclusive" in out
    report = json.loads((pytester.path / "rep" / "report.json").read_text())
    assert sorted(c["clause"] for c in report["cases"]) == ["FK-1", "FK-2", "FK-3", "FK-4"]


def test_certify_suite_that_does_not_collect(pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = '@__import__("pytest").mark.conformance(clause="", level="shall")\ndef test_x():\n    pass\n'
    make_suite(pytester, protocol_registry, "fake-broken", {"test_ok.py": PASSING, "test_x.py": bad})
    assert certify("fake-broken", "--report", str(pytester.path / "rep")) == INCOMPLETE  # no verdict
    out = capsys.readouterr().out
    assert "collection error in" in out and "clause must be a non-empty string" in out
    report = json.loads((pytester.path / "rep" / "report.json").read_text())
    assert report["summary"]["error"] == 1


@pytest.mark.parametrize(("argv", "message"), [
    (["no-such-suite"], "no suite named 'no-such-suite'"),
    (["modbus-server", "--profile", "/nonexistent/p.toml"], "--profile /nonexistent/p.toml: no such file"),
    (["modbus-server", "-n", "many"], "-n many: expected a number or 'auto'"),
    (["modbus-server", "--unit", "x"], "invalid int value"),
    (["modbus-server", "--target", "foo://bar"], "--target: 'foo://bar': unknown transport scheme"),
    (["modbus-server", "--target", "tcp://127.0.0.1"], "needs a port"),
])
def test_certify_usage_errors(argv: list[str], message: str, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert certify(*argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("profile", "message"), [
    ('[device]\nmax_pipelinde = 4\n', "[device]: unknown key(s) max_pipelinde"),
    ('[device]\nmax_pipelined = "four"\n', "device.max_pipelined must be an integer in 1..65535"),
    ('[tables.coils]\nstart = 0\ncount = "2000"\n', "tables.coils.count must be an integer"),
    ('[tables.coil]\nstart = 0\ncount = 10\n', "unknown table(s) coil"),
    ('[devic\n', "not valid TOML"),
    ('\udcff', "cannot read"),
])
def test_certify_checks_the_profile_before_any_clause(profile: str, message: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """Unknown keys and wrong types in a profile are usage errors naming the key (issue 10), exit 2."""
    path = tmp_path / "profile.toml"
    path.write_bytes(profile.encode("utf-8", "surrogateescape"))
    assert certify("modbus-server", "--profile", str(path), "--report", str(tmp_path / "rep")) == 2
    err = capsys.readouterr().err
    assert f"--profile {path}: " in err and message in err
    assert not (tmp_path / "rep").exists()  # nothing ran, nothing written


# --------------------------------------------------------------------------- suites

def test_suites_lists_clause_counts(pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    for descriptor in protocol_registry.descriptors():
        protocol_registry.unregister(descriptor.name)
    make_suite(pytester, protocol_registry, "fake-a", {"test_ok.py": PASSING, "test_bad.py": FAILING})
    make_suite(pytester, protocol_registry, "fake-b", {"test_opts.py": OPTIONS})
    assert cli.main(["suites"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in lines] == [["fake-a", "4", "clauses"], ["fake-b", "1", "clauses"]]
    register_suite(protocol_registry, "gone", "wpfake_gone_xyz")
    assert cli.main(["suites"]) == 1
    assert "gone    (not installed" in capsys.readouterr().out


# --------------------------------------------------------------------------- decode

@dataclass(frozen=True, slots=True, kw_only=True)
class Inner:
    value: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Outer:
    kind: str
    payload: bytes
    inner: Inner
    items: tuple[Inner, ...]


class FakeCodec:
    name = "fake"

    def __init__(self) -> None:
        self.directions: list[str | None] = []

    def decode(self, data: bytes, direction: str | None = None) -> Outer:
        self.directions.append(direction)
        if len(data) < 3:
            raise TruncatedError("fake", ("inner", "value"), len(data), "input ends before the message does")
        return Outer(kind="x", payload=data[:2], inner=Inner(value=data[2]), items=(Inner(value=1),))

    def encode(self, message: Any) -> bytes:
        raise NotImplementedError

    def framer(self) -> Any:
        raise NotImplementedError


class PlainCodec(FakeCodec):
    name = "plain"

    def decode(self, data: bytes) -> Outer:  # type: ignore[override]
        return super().decode(data)


@pytest.fixture
def fake_codec(monkeypatch: pytest.MonkeyPatch) -> FakeCodec:
    codec = FakeCodec()
    factories = {**codecs._FACTORIES, "fake": (lambda: codec, ("request", "response")),
                 "plain": (PlainCodec, ())}
    monkeypatch.setattr(codecs, "_FACTORIES", factories)
    monkeypatch.setattr(codecs, "_CACHE", {})
    return codec


def test_decode_pretty(fake_codec: FakeCodec, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["decode", "fake", "0a0b", "0c"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Outer", "  kind: 'x'", "  payload: '0a0b'", "  inner: Inner", "    value: 12", "  items:",
        "    [0] Inner", "      value: 1",
    ]
    assert fake_codec.directions == [None]


def test_decode_json_and_direction(fake_codec: FakeCodec, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["decode", "fake", "0x0a:0b:0c", "--json", "--direction", "response"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "type": "Outer", "kind": "x", "payload": "0a0b", "inner": {"type": "Inner", "value": 12},
        "items": [{"type": "Inner", "value": 1}]}
    assert fake_codec.directions == ["response"]


def test_decode_error_shows_where(fake_codec: FakeCodec, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["decode", "fake", "0a 0b"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[:4] == ["TruncatedError: fake", "  path:   inner.value", "  offset: 2",
                       "  reason: input ends before the message does"]
    assert err[4:] == ["  0000  0a 0b", "              ^^ (end of input)"]
    assert cli.main(["decode", "fake", "0a", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"] == {
        "type": "TruncatedError", "protocol": "fake", "path": ["inner", "value"], "offset": 1,
        "reason": "input ends before the message does"}


@pytest.mark.parametrize(("argv", "message"), [
    (["decode", "nope", "00"], "no codec named 'nope'; known: "),
    (["decode", "fake", "0g"], "'g' is not a hex digit"),
    (["decode", "fake", "abc"], "odd number of hex digits (3)"),
    (["decode", "plain", "000102", "--direction", "request"], "codec plain does not take --direction"),
    (["decode", "fake", "00", "--direction", "sideways"],
     "codec fake does not take --direction sideways (it takes: request, response)"),
])
def test_decode_usage_errors(fake_codec: FakeCodec, argv: list[str], message: str,
                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_decode_with_the_modbus_codec(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["decode", "modbus-tcp", "000100000006010300000001", "--json"]) == 0
    fields = json.loads(capsys.readouterr().out)
    assert fields["transaction_id"] == 1 and fields["pdu"]["quantity"] == 1
    assert cli.main(["decode", "modbus-tcp", "0001000000060103"]) == 1
    err = capsys.readouterr().err
    assert "TruncatedError: modbus-tcp" in err and "^^ (end of input)" in err


def test_certify_suite_help_says_where_the_default_profile_lives(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --profile a foreign device is judged by the reference profile: --help says so, and where."""
    from wireproof.conformance.modbus_server import profile

    assert cli.main(["certify", "modbus-server", "--help"]) == 0
    out = capsys.readouterr().out
    assert "without --profile, clauses are judged against the built-in reference profile" in out
    where = Path(out.split("reference profile,\n", 1)[1].splitlines()[0].strip())
    assert where.is_file() and where.name == profile.DEFAULT_PROFILE_FILE
    assert profile.load_profile(tomllib.loads(where.read_text(encoding="utf-8"))) == profile.default_profile()


LONG_REASON = ("the device answered exception 02 ILLEGAL DATA ADDRESS for address 9999, which the profile "
               "declares implemented (holding_registers 0..9999); MB-AP 6.3 says a request inside the "
               "implemented range is answered with the registers")

LONG = f'''
import pytest

@pytest.mark.conformance(clause="FK-5", level="shall")
def test_long():
    raise AssertionError({LONG_REASON!r})

@pytest.mark.conformance(clause="FK-6", level="shall")
def test_fine():
    pass
'''


def test_certify_prints_the_clause_list_once_and_each_reason_whole(
        pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 10: the live lines are the clause list; the reasons of what did not pass follow, uncut."""
    make_suite(pytester, protocol_registry, "fake-long", {"test_long.py": LONG})
    assert certify("fake-long", "--report", str(pytester.path / "rep")) == 1
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert sum(line.split()[:1] == ["FK-6"] for line in lines) == 1  # the clause list, once
    assert "not passed (1):" in out
    reason = " ".join(out.split("not passed (1):", 1)[1].split("\n\n", 1)[0].split()[3:])
    assert LONG_REASON in reason
    assert "Use -v to get more diff" not in out


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    # `wireproof decode ... | head -1`: the pipe breaks; exit 141 (128 + SIGPIPE), no traceback
    from wireproof.harness import cli

    real = cli._load

    class Broken:
        @staticmethod
        def add_arguments(parser: object) -> None:
            real("suites").add_arguments(parser)

        @staticmethod
        def run(args: object) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "_load", lambda name: Broken)
    assert cli.main(["suites"]) == 141
    assert "Traceback" not in capsys.readouterr().err
