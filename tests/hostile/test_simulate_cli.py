"""A reference device that cannot start says why in one line and exits 2 (usage), never 1 (a verdict)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from wireproof.harness import cli
from wireproof.harness.exitcodes import USAGE


def _in_use() -> tuple[socket.socket, str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    host, port = sock.getsockname()
    return sock, f"{host}:{port}"


@pytest.mark.parametrize("args", [
    ["--bind", "127.0.0.1:99999"],
    ["--bind", "nohost"],
    ["--config", "/nonexistent/model.toml"],
    ["--config", "README"],  # replaced by a file that is not TOML
    ["--serial", "/nonexistent/ttyUSB9"],
])
def test_a_device_that_cannot_start_exits_2(args: list[str], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    if args[-1] == "README":
        (tmp_path / "README").write_text("# not a data model\n", encoding="utf-8")
        args = ["--config", str(tmp_path / "README")]
    assert cli.main(["simulate", "modbus-server", *args]) == USAGE
    err = capsys.readouterr().err
    assert err.startswith("wireproof simulate: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_a_port_in_use_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    sock, address = _in_use()
    with sock:
        assert cli.main(["simulate", "modbus-server", "--bind", address]) == USAGE
    assert "address already in use" in capsys.readouterr().err.lower()
