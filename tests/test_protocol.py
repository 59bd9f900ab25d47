"""The protocol descriptors and their registry (wireproof.protocol)."""

from __future__ import annotations

import importlib.metadata
import runpy
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness import cli
from wireproof.protocol import (
    REGISTRY,
    AnalyzerEntry,
    CodecEntry,
    Param,
    ProtocolDescriptor,
    ProtocolRegistry,
    SuiteEntry,
    resolve,
)

ROOT = Path(__file__).parent.parent


def test_the_installed_protocols_load_cleanly() -> None:
    names = [d.name for d in REGISTRY.descriptors()]
    assert "modbus" in names
    assert REGISTRY.problems == []


def test_every_reference_of_every_descriptor_resolves() -> None:
    for d in REGISTRY.descriptors():
        refs = [c.factory for c in d.codecs] + [s.run for s in d.simulators] + [b.run for b in d.benches]
        refs += [a for s in d.simulators + d.benches if (a := s.add_arguments)]  # type: ignore[operator]
        for entry in d.analyzers:
            refs += [r for r in (entry.analyzer, entry.heuristic, entry.correlation, entry.traffic) if r]
        refs += list(d.machines) + [ref for _, ref in d.transports]
        for ref in refs:
            assert resolve(ref) is not None, ref
        for module in d.compiled:
            assert resolve(module).__name__ == module
        for suite in d.suites:
            assert resolve(suite.package).__name__ == suite.package


def test_descriptors_load_without_their_codecs() -> None:
    # Every command and every pytest run loads the descriptors: they must not import the codec.
    code = ("import sys; from wireproof.protocol import REGISTRY; REGISTRY.descriptors(); "
            "print(sorted(m for m in sys.modules "
            "if m == 'construct' or m.startswith('wireproof.codecs.modbus.')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "['wireproof.codecs.modbus.protocol']"


def test_setup_compiles_the_neutral_hot_path_and_what_the_descriptors_list() -> None:
    namespace = runpy.run_path(str(ROOT / "setup.py"), run_name="not_main")
    files = namespace["compiled_modules"]()
    hot = ("pcap.py", "dissector.py", "tcp.py", "engine.py")
    neutral = ["src/wireproof/harness/replay/" + m for m in hot]
    assert set(neutral) <= set(files)
    listed = ["src/" + m.replace(".", "/") + ".py" for m in REGISTRY.compiled_modules()]
    assert files[-len(listed):] == listed
    assert all((ROOT / f).is_file() for f in files)


class _EntryPoint:
    """An importlib.metadata entry point, as a stub."""

    def __init__(self, name: str, value: str, load: Any) -> None:
        self.name, self.value, self._load = name, value, load

    def load(self) -> Any:
        return self._load()


def _registry(monkeypatch: pytest.MonkeyPatch, *eps: _EntryPoint) -> ProtocolRegistry:
    monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: list(eps))
    return ProtocolRegistry()


def _boom() -> Any:
    raise SyntaxError("invalid syntax (protocol.py, line 40)")


TOY = ProtocolDescriptor(name="toy", title="t", codecs=(CodecEntry(name="toy", factory="x:y"),),
                         suites=(SuiteEntry(name="toy-s", package="p", description="d", protocol="toy"),))


def test_a_broken_package_is_a_problem_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = _registry(monkeypatch, _EntryPoint("bad", "bad.protocol:DESCRIPTOR", _boom),
                         _EntryPoint("notone", "x:Y", lambda: 42), _EntryPoint("toy", "toy:D", lambda: TOY),
                         _EntryPoint("toy2", "toy2:D", lambda: TOY))
    assert [d.name for d in registry.descriptors()] == ["toy"]
    problems = "\n".join(registry.problems)
    assert "protocol 'bad' (bad.protocol:DESCRIPTOR) cannot be loaded: SyntaxError" in problems
    assert "protocol 'notone' (x:Y) is a int, not a ProtocolDescriptor" in problems
    assert "protocol 'toy' is registered twice" in problems
    assert registry.codec("toy").factory == "x:y"
    with pytest.raises(KeyError, match="no codec named 'nope'; known: toy"):
        registry.codec("nope")


def test_a_name_two_protocols_claim_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    other = ProtocolDescriptor(name="other", title="o", codecs=(CodecEntry(name="toy", factory="a:b"),))
    registry = _registry(monkeypatch, _EntryPoint("other", "o:D", lambda: other),
                         _EntryPoint("toy", "t:D", lambda: TOY))
    assert registry.codec("toy").factory == "a:b"  # the first (by entry point name) wins
    assert any("codec 'toy' of protocol 'toy' is already offered by 'other'" in p for p in registry.problems)


def test_the_cli_says_when_a_protocol_failed_to_load(protocol_registry: ProtocolRegistry,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    protocol_registry.problems.append("protocol 'bad' (bad:D) cannot be loaded: SyntaxError: x")
    assert cli.main(["decode", "modbus-tcp", "000100000006010300000001"]) == 0
    assert "wireproof: warning: protocol 'bad' (bad:D) cannot be loaded" in capsys.readouterr().err


def test_temporary_registrations_are_undone(protocol_registry: ProtocolRegistry) -> None:
    with REGISTRY.temporary():
        REGISTRY.register(TOY)
        assert REGISTRY.suite("toy-s").package == "p"
    with pytest.raises(KeyError):
        REGISTRY.suite("toy-s")


@pytest.mark.parametrize(("param", "text", "value"), [
    (Param(name="n", kind="int", minimum=0, maximum=255, what="a unit identifier", clause="MB-TCP 4.4.1.1",
           help=""), "0x10", 16),
    (Param(name="t", kind="float", minimum=0.001, maximum=60, help=""), "2.5", 2.5),
    (Param(name="b", kind="bool", help=""), "Yes", True),
    (Param(name="s", help=""), "anything", "anything"),
])
def test_param_parses(param: Param, text: str, value: Any) -> None:
    assert param.parse(text) == value


@pytest.mark.parametrize(("param", "text", "reason"), [
    (Param(name="n", kind="int", minimum=0, maximum=255, what="a unit identifier", clause="MB-TCP 4.4.1.1",
           help=""), "256", "a unit identifier is 0..255 (MB-TCP 4.4.1.1)"),
    (Param(name="n", kind="int", help=""), "x", "not an integer"),
    (Param(name="t", kind="float", minimum=0.001, help=""), "0", "t must be >= 0.001"),
    (Param(name="t", kind="float", help=""), "nan", "not a finite number"),
    (Param(name="b", kind="bool", help=""), "maybe", "expected true or false"),
])
def test_param_says_what_is_wrong(param: Param, text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        param.parse(text)
    assert str(info.value) == reason


def test_a_descriptor_may_bring_a_transport_scheme(protocol_registry: ProtocolRegistry,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from wireproof.harness.transports import Scheme, SchemeRegistry
    from wireproof.harness.transports.tcp import TCP_SCHEME

    module = types.ModuleType("wp_test_scheme")
    module.SCHEME = Scheme(name="tcp2", kind="stream", parse=TCP_SCHEME.parse,  # type: ignore[attr-defined]
                           open=TCP_SCHEME.open)
    monkeypatch.setitem(sys.modules, "wp_test_scheme", module)
    protocol_registry.register(ProtocolDescriptor(name="tcp2", title="t",
                                                  transports=(("tcp2", "wp_test_scheme:SCHEME"),)))
    schemes = SchemeRegistry()
    assert "tcp2" in schemes.names()
    assert schemes.for_url("tcp2://127.0.0.1:502").kind == "stream"
    assert schemes.parse("tcp2://127.0.0.1:502").url == "tcp://127.0.0.1:502"


def test_analyzer_entries_keep_registration_order(protocol_registry: ProtocolRegistry) -> None:
    zz = ProtocolDescriptor(name="zz", title="z", analyzers=(AnalyzerEntry(name="zz"),))
    protocol_registry.register(zz)
    assert [a.name for a in protocol_registry.analyzers()][-1] == "zz"
