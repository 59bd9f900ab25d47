"""The client-role seam: a suite whose device under test connects to wireproof (harness.client_dut,
``certify --bind/--command``, the plugin's ``--wireproof-bind/--wireproof-command`` and fixtures)."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from wireproof.errors import HarnessError, TransportTimeout
from wireproof.harness import cli
from wireproof.harness.client_dut import ClientUnderTest, Listener, expand, parse_bind, reserve_port
from wireproof.harness.exitcodes import USAGE
from wireproof.protocol import ProtocolDescriptor, ProtocolRegistry, SuiteEntry

# A client that connects to {host}:{port}, says hello and waits for one octet back (or the close).
HELLO = ("{python} -c \"import socket; s = socket.create_connection(('{host}', {port})); "
         "s.sendall(b'hello'); s.recv(1)\"")

CLIENT_SUITE = '''
import pytest
from wireproof.harness.client_dut import ClientUnderTest
from wireproof.harness.plugin import PROP_TARGET

@pytest.mark.conformance(clause="CL-1", level="shall")
def test_hello(request, wireproof_listener, wireproof_command, evidence):
    client = ClientUnderTest(wireproof_listener, wireproof_command or "{default}")
    request.node.user_properties.append((PROP_TARGET, client.describe()))
    try:
        conn = client.connect(20)
        data = b""
        while len(data) < 5:
            chunk = conn.recv(10)
            assert chunk, "the client closed before saying hello"
            data += chunk
        evidence.received(data)
        assert data == b"hello", data
    finally:
        client.stop()
'''


def register_client_suite(pytester: pytest.Pytester, registry: ProtocolRegistry, name: str) -> None:
    package = "wpfake_" + name.replace("-", "_")
    directory = pytester.mkpydir(package)
    (directory / "test_hello.py").write_text(CLIENT_SUITE.replace("{default}", HELLO.replace('"', '\\"')))
    pytester.syspathinsert()
    registry.register(ProtocolDescriptor(name=f"proto-{name}", title=name, suites=(
        SuiteEntry(name=name, package=package, description="a fake client-role suite", protocol="fake",
                   device_role="client", default_command=HELLO),)))


def test_parse_bind_and_expand() -> None:
    assert parse_bind("127.0.0.1:20000") == ("127.0.0.1", 20000)
    assert parse_bind("[::1]:0") == ("::1", 0)
    for bad in ("nohost", "127.0.0.1:", "127.0.0.1:99999", ":5"):
        with pytest.raises(ValueError, match="expected HOST:PORT"):
            parse_bind(bad)
    argv = expand("run --target {url} --port {port} '{host} x' {python} {other}", "127.0.0.1", 5)
    assert argv == ["run", "--target", "tcp://127.0.0.1:5", "--port", "5", "127.0.0.1 x", sys.executable,
                    "{other}"]
    with pytest.raises(HarnessError, match="empty"):
        expand("  ", "h", 1)
    with pytest.raises(HarnessError, match="No closing quotation"):
        expand("run 'x", "h", 1)
    host, port = parse_bind(reserve_port("127.0.0.1:0"))
    assert host == "127.0.0.1" and port > 0
    assert reserve_port("127.0.0.1:4321") == "127.0.0.1:4321"


def test_listener_accepts_and_times_out() -> None:
    with Listener("127.0.0.1:0") as listener:
        assert listener.url == f"tcp://127.0.0.1:{listener.port}"
        with pytest.raises(TransportTimeout, match="no client connected"):
            listener.accept(0.05)
        with socket.create_connection(("127.0.0.1", listener.port)) as peer:
            conn = listener.accept(5)
            peer.sendall(b"x")
            conn.setblocking(True)
            assert conn.recv(1) == b"x"
            conn.close()
        with socket.create_connection(("127.0.0.1", listener.port)), \
                socket.create_connection(("127.0.0.1", listener.port)):
            assert listener.drain() == 2
    with Listener("127.0.0.1:0") as taken, pytest.raises(HarnessError, match="cannot listen"):
        Listener(taken.address)


def test_client_under_test_runs_the_command() -> None:
    with Listener() as listener:
        client = ClientUnderTest(listener, HELLO)
        described = client.describe()  # the command as run: placeholders filled in
        assert "started by" in described and "{" not in described.split("started by")[1], described
        conn = client.connect(20)
        assert conn.recv(10) == b"hello"
        assert conn.recv(0.01) is None  # nothing more, still connected
        assert conn.send(b"!")  # the client reads it and exits by itself
        assert client.process is not None and client.process.wait(20) == 0
        assert client.stop() == 0
        assert conn.closed


def test_client_that_exits_without_connecting_is_a_harness_error() -> None:
    with Listener() as listener:
        client = ClientUnderTest(listener, "{python} -c \"print('no server for me'); raise SystemExit(3)\"")
        with pytest.raises(HarnessError, match=r"exited \(3\) without connecting.*no server for me"):
            client.connect(20)
        client.stop()


def test_client_that_never_connects_is_stopped() -> None:
    with Listener() as listener:
        client = ClientUnderTest(listener, "{python} -c \"import sys; sys.stdin.read()\"")
        with pytest.raises(TransportTimeout):
            client.connect(0.3)
        assert client.stop() is not None  # stdin closed: it ended


def test_certify_client_suite_with_command_and_default(pytester: pytest.Pytester,
                                                       protocol_registry: ProtocolRegistry,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    register_client_suite(pytester, protocol_registry, "fake-client")
    report = pytester.path / "rep"
    assert cli.main(["certify", "fake-client", "--command", HELLO, "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "device under test: started by" in out and "-> PASSED" in out
    target = json.loads((report / "report.json").read_text())["target"]
    assert target.startswith("tcp://127.0.0.1:") and "the client is started by" in target
    # No --command and no --bind: the suite's default command.
    assert cli.main(["certify", "fake-client", "--report", str(pytester.path / "rep2")]) == 0
    assert "the built-in reference client" in capsys.readouterr().out


def test_certify_client_suite_with_bind(pytester: pytest.Pytester, protocol_registry: ProtocolRegistry,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    register_client_suite(pytester, protocol_registry, "fake-bound")
    bind = reserve_port("127.0.0.1:0")
    # --bind and --command together: listen on that address, start the client there.
    code = cli.main(["certify", "fake-bound", "--bind", bind, "--command", HELLO,
                     "--report", str(pytester.path / "rep")])
    assert code == 0, capsys.readouterr().out
    assert f"connecting to {bind}" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["fake-role", "--target", "tcp://127.0.0.1:1"], "tests a client"),
    (["fake-role", "--bind", "nohost"], "expected HOST:PORT"),
    (["fake-role", "--bind", "127.0.0.1:0", "-n", "2"], "-n: a device started by hand"),
    (["fake-role", "--command", " "], "--command is empty"),
    (["modbus-server", "--bind", "127.0.0.1:0"], "tests a server"),
    (["modbus-server", "--command", "x"], "--command is for suites that test a client"),
])
def test_certify_role_usage_errors(argv: list[str], message: str, pytester: pytest.Pytester,
                                   protocol_registry: ProtocolRegistry,
                                   capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    register_client_suite(pytester, protocol_registry, "fake-role")
    assert cli.main(["certify", *argv, "--report", str(tmp_path / "rep")]) == USAGE
    assert message in capsys.readouterr().err
    assert not (tmp_path / "rep").exists()
