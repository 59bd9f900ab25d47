"""The transport scheme registry (wireproof.harness.transports.registry).

Third-party schemes are tested the way a user installs one: a distribution
(a ``*.dist-info`` with an ``entry_points.txt``) and its module in a temporary
directory put on ``sys.path``, read by a fresh registry through
``importlib.metadata``.
"""

from __future__ import annotations

import itertools
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult

import pytest

from wireproof.errors import HarnessError, TransportError
from wireproof.harness.transports import (
    ENTRY_POINT_GROUP,
    MemoryMessageTransport,
    MessageTransport,
    Scheme,
    SchemeRegistry,
    SerialSettings,
    Tap,
    TcpAddress,
    Transport,
    UdpAddress,
    memory_message_pair,
    memory_pair,
    open_message_transport,
    open_target,
    open_transport,
    parse_url,
    register_scheme,
    scheme_for,
    scheme_names,
)
from wireproof.harness.transports import registry as registry_module


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopTarget:
    name: str

    @property
    def url(self) -> str:
        return f"loop://{self.name}"


def parse_loop(url: str, parts: SplitResult) -> LoopTarget:
    if not parts.netloc:
        raise HarnessError(f"{url!r}: loop:// needs a name")
    return LoopTarget(name=parts.netloc)


PEERS: dict[str, MessageTransport] = {}


def open_loop(target: LoopTarget, timeout: float, tap: Tap | None) -> MemoryMessageTransport:
    ours, theirs = memory_message_pair(timeout=timeout)
    ours.tap = tap
    PEERS[target.name] = theirs
    return ours


LOOP = Scheme(name="loop", kind="message", parse=parse_loop, open=open_loop)


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> SchemeRegistry:
    """A fresh default registry, so registrations and entry points do not leak between tests."""
    registry = SchemeRegistry()
    monkeypatch.setattr(registry_module, "default_registry", registry)
    return registry


# -- built-ins ---------------------------------------------------------------


def test_builtin_schemes_and_their_kinds() -> None:
    assert scheme_names()[:3] == ["tcp", "serial", "udp"]
    assert scheme_for("tcp://h:1").kind == "stream"
    assert scheme_for("serial:///dev/x").kind == "stream"
    assert scheme_for("udp://h:1").kind == "message"
    assert isinstance(parse_url("tcp://h:1"), TcpAddress)
    assert isinstance(parse_url("serial:///dev/x"), SerialSettings)
    assert isinstance(parse_url("udp://h:1"), UdpAddress)


def test_transport_kinds_match_their_classes() -> None:
    a, _ = memory_pair()
    m, _ = memory_message_pair()
    assert isinstance(a, Transport) and a.kind == "stream"
    assert isinstance(m, MessageTransport) and m.kind == "message"
    assert not isinstance(m, Transport)


def test_unknown_scheme_lists_the_registered_ones() -> None:
    with pytest.raises(HarnessError) as info:
        parse_url("foo://bar")
    message = str(info.value)
    assert message.startswith("'foo://bar': unknown transport scheme 'foo'; known: ")
    for name in scheme_names():
        assert f"{name}://" in message
    with pytest.raises(HarnessError, match="unknown transport scheme ''"):
        scheme_for("127.0.0.1:502")


def test_open_of_the_wrong_kind_is_a_usage_error_before_any_connection() -> None:
    # Port 9 on loopback: nothing is sent or connected, so no TransportError can occur.
    with pytest.raises(HarnessError) as info:
        open_transport("udp://127.0.0.1:9")
    assert not isinstance(info.value, TransportError)
    assert "udp:// gives a message transport" in str(info.value)
    assert "open_message_transport" in str(info.value)
    with pytest.raises(HarnessError) as info:
        open_message_transport("tcp://127.0.0.1:9")
    assert not isinstance(info.value, TransportError)
    assert "tcp:// gives a stream transport" in str(info.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "TCP"}, "not a lower-case URL scheme"),
    ({"name": "1x"}, "not a lower-case URL scheme"),
    ({"name": ""}, "not a lower-case URL scheme"),
    ({"kind": "datagram"}, "kind must be 'stream' or 'message'"),
])
def test_scheme_fields_are_checked(kwargs: dict[str, str], message: str) -> None:
    fields = {"name": "ok", "kind": "message", **kwargs}
    with pytest.raises(HarnessError, match=message):
        Scheme(name=fields["name"], kind=fields["kind"], parse=parse_loop, open=open_loop)  # type: ignore[arg-type]


# -- register_scheme ---------------------------------------------------------


def test_registered_scheme_opens_through_every_function(fresh: SchemeRegistry) -> None:
    register_scheme(LOOP)
    assert "loop" in scheme_names()
    assert scheme_for("loop://x") is LOOP
    assert parse_url("loop://x") == LoopTarget(name="x")
    log: list[tuple[str, bytes]] = []
    with open_message_transport("loop://reg", tap=lambda d, m: log.append((d, m))) as t:
        t.send(b"hello")
        assert PEERS["reg"].recv() == b"hello"
    assert log == [("sent", b"hello")]
    with open_target("loop://reg2") as t2:
        assert isinstance(t2, MessageTransport)
    with pytest.raises(HarnessError, match="loop:// gives a message transport"):
        open_transport("loop://reg3")
    with pytest.raises(HarnessError, match="loop:// needs a name"):
        parse_url("loop://")


def test_a_bad_timeout_is_refused_before_any_scheme_opens(fresh: SchemeRegistry) -> None:
    calls: list[LoopTarget] = []

    def careless(target: LoopTarget, timeout: float, tap: Tap | None) -> MessageTransport:
        calls.append(target)  # a third-party opener that checks nothing
        return open_loop(target, 1.0, tap)

    register_scheme(Scheme(name="careless", kind="message", parse=parse_loop, open=careless))
    for bad in (0, -1.0, float("nan"), float("inf")):
        with pytest.raises(HarnessError, match="default timeout") as info:
            open_target("careless://x", timeout=bad)
        assert not isinstance(info.value, TransportError)
    assert calls == []


def test_register_is_idempotent_and_refuses_a_different_scheme_under_a_taken_name(
        fresh: SchemeRegistry) -> None:
    register_scheme(LOOP)
    register_scheme(LOOP)  # the same scheme again (a descriptor loaded twice): no-op
    other = Scheme(name="loop", kind="message", parse=parse_loop,
                   open=lambda target, timeout, tap: open_loop(target, 1.0, tap))
    with pytest.raises(HarnessError, match="'loop' is already defined \\(register_scheme\\)"):
        register_scheme(other)
    tcp_like = Scheme(name="tcp", kind="message", parse=parse_loop, open=open_loop)
    with pytest.raises(HarnessError, match="'tcp' is already defined \\(built in\\)"):
        register_scheme(tcp_like)
    register_scheme(other, replace=True)
    assert scheme_for("loop://x") is other
    with pytest.raises(HarnessError, match="needs a Scheme"):
        register_scheme("loop")  # type: ignore[arg-type]


def test_a_scheme_that_opens_the_wrong_kind_is_refused_and_closed(fresh: SchemeRegistry) -> None:
    opened: list[MessageTransport] = []

    def liar(target: LoopTarget, timeout: float, tap: Tap | None) -> MessageTransport:
        opened.append(open_loop(target, timeout, tap))
        return opened[-1]

    register_scheme(Scheme(name="liar", kind="stream", parse=parse_loop, open=liar))
    with pytest.raises(HarnessError, match="declares stream transports but opened a MemoryMessageTransport"):
        open_transport("liar://x")
    assert opened[0].closed


# -- entry points ------------------------------------------------------------

_dist_ids = itertools.count(1)


@dataclass
class Distributions:
    """Makes installed-looking distributions in one sys.path directory."""

    root: Path
    modules: list[str]

    def add(self, entry_points: dict[str, str], module_source: str = "", *,
            group: str = ENTRY_POINT_GROUP) -> str:
        """A distribution with these entry points and its module's name (``{module}`` in a value)."""
        n = next(_dist_ids)
        module = f"wp_test_transport_{n}"
        if module_source:
            (self.root / f"{module}.py").write_text(textwrap.dedent(module_source))
            self.modules.append(module)
        info = self.root / f"wp_test_transport_{n}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: wp-test-transport-{n}\nVersion: 1.0\n")
        lines = [f"[{group}]"] + [f"{k} = {v.format(module=module)}" for k, v in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        return module


@pytest.fixture
def dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Distributions]:
    monkeypatch.syspath_prepend(str(tmp_path))
    made = Distributions(tmp_path, [])
    yield made
    for module in made.modules:
        sys.modules.pop(module, None)


SCHEME_MODULE = """
    # A third-party scheme module, as a plugin would ship it: it knows wireproof's public API only.
    from wireproof.harness.transports import Scheme, memory_message_pair

    class Bus:
        def __init__(self, name):
            self.name = name

        @property
        def url(self):
            return f"fakecan://{self.name}"

    PEERS = {}

    def parse(url, parts):
        return Bus(parts.netloc)

    def open_bus(target, timeout, tap):
        ours, theirs = memory_message_pair(timeout=timeout)
        ours.tap = tap
        PEERS[target.name] = theirs
        return ours

    CAN = Scheme(name="fakecan", kind="message", parse=parse, open=open_bus)
    NOT_A_SCHEME = "fakecan"
"""


def test_entry_point_scheme_is_found_lazily_and_opens(dists: Distributions,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    module = dists.add({"fakecan": "{module}:CAN"}, SCHEME_MODULE)
    registry = SchemeRegistry()
    monkeypatch.setattr(registry_module, "default_registry", registry)
    assert "fakecan" in scheme_names()
    with pytest.raises(HarnessError, match=r"known: tcp://, serial://, udp://, .*fakecan://"):
        parse_url("nope://x")
    assert module not in sys.modules  # listing and unknown-scheme errors import nothing
    with open_message_transport("fakecan://bus0") as t:
        t.send(b"\x12\x34")
        assert sys.modules[module].PEERS["bus0"].recv() == b"\x12\x34"
    assert registry.get("fakecan").kind == "message"


def test_uppercase_entry_point_name_is_the_lowercase_scheme(dists: Distributions) -> None:
    dists.add({"FakeCan": "{module}:CAN"}, SCHEME_MODULE)
    assert SchemeRegistry().get("fakecan").name == "fakecan"


def test_other_groups_are_ignored(dists: Distributions) -> None:
    dists.add({"fakecan": "{module}:CAN"}, SCHEME_MODULE, group="wireproof.protocols")
    assert "fakecan" not in SchemeRegistry().names()


@pytest.mark.parametrize(("value", "source", "message"), [
    ("wp_no_such_module_xyz:CAN", "", "cannot be loaded: ModuleNotFoundError"),
    ("{module}:MISSING", SCHEME_MODULE, "cannot be loaded: AttributeError"),
    ("{module}:NOT_A_SCHEME", SCHEME_MODULE, "is a str, not a wireproof Scheme"),
    ("{module}:CAN", "raise RuntimeError('broken')\n", "cannot be loaded: RuntimeError: broken"),
])
def test_a_broken_entry_point_fails_only_its_own_scheme(dists: Distributions, value: str, source: str,
                                                        message: str) -> None:
    dists.add({"fakecan": value}, source)
    registry = SchemeRegistry()
    with pytest.raises(HarnessError) as info:
        registry.parse("fakecan://x")
    assert message in str(info.value)
    assert str(info.value).startswith("'fakecan://x': transport scheme 'fakecan' (entry point fakecan = ")
    assert "wp-test-transport-" in str(info.value)  # names the distribution to blame
    assert registry.parse("tcp://h:1") == TcpAddress(host="h", port=1)


def test_entry_point_whose_scheme_has_another_name_is_refused(dists: Distributions) -> None:
    dists.add({"othercan": "{module}:CAN"}, SCHEME_MODULE)
    with pytest.raises(HarnessError, match=r"'othercan' .* is a Scheme named 'fakecan'"):
        SchemeRegistry().get("othercan")


def test_two_definitions_of_one_name_make_it_unusable_not_silently_one(dists: Distributions) -> None:
    dists.add({"tcp": "{module}:CAN"}, SCHEME_MODULE)  # claims a built-in scheme
    dists.add({"fakecan": "{module}:CAN"}, SCHEME_MODULE)
    dists.add({"fakecan": "{module}:CAN"}, SCHEME_MODULE)  # a second, different, module
    registry = SchemeRegistry()
    with pytest.raises(HarnessError) as info:
        registry.parse("tcp://h:1")
    assert "'tcp' is defined 2 times (built in; entry point tcp = " in str(info.value)
    with pytest.raises(HarnessError, match="'fakecan' is defined 2 times"):
        registry.get("fakecan")
    assert registry.parse("udp://h:1") == UdpAddress(host="h", port=1)
    with pytest.raises(HarnessError, match="'fakecan' is defined 2 times"):  # not silently replaced
        registry.register(Scheme(name="fakecan", kind="message", parse=parse_loop, open=open_loop))
    registry.register(Scheme(name="fakecan", kind="message", parse=parse_loop, open=open_loop), replace=True)
    assert registry.get("fakecan").open is open_loop


def test_the_same_definition_twice_is_one(dists: Distributions) -> None:
    dists.add({"udp": "wireproof.harness.transports.udp:UDP_SCHEME"})  # identical to the built-in
    registry = SchemeRegistry()
    assert registry.names().count("udp") == 1
    assert registry.get("udp").kind == "message"


def test_a_registry_without_entry_points_or_builtins(dists: Distributions) -> None:
    dists.add({"fakecan": "{module}:CAN"}, SCHEME_MODULE)
    assert SchemeRegistry(group=None).names() == ["tcp", "serial", "udp"]
    empty = SchemeRegistry(builtins={}, group=None)
    assert empty.names() == []
    with pytest.raises(HarnessError, match=r"unknown transport scheme 'tcp'; known: $"):
        empty.parse("tcp://h:1")
