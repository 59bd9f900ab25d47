"""Shared test configuration."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from tests.peers.libmodbus_server import LIBRARY, LibmodbusPeer, library_path

from wireproof.protocol import REGISTRY, ProtocolRegistry

pytest_plugins = ["pytester"]

# Timing deadlines make property tests flaky on a loaded 2-core CI machine;
# correctness, not speed, is what they check (speed has `tox -e bench`).
settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", parent=settings.get_profile("default"), max_examples=20_000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """tox runs the ``suite_run`` tests in a pytest call of their own (tox.ini); when its posargs
    narrow the run to files without any, that call selects nothing, which is not a failure."""
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and \
            session.config.getoption("markexpr", "").startswith("suite_run"):
        session.exitstatus = pytest.ExitCode.OK


@pytest.fixture
def protocol_registry() -> Iterator[ProtocolRegistry]:
    """The process-wide protocol registry; what a test registers is gone after it."""
    with REGISTRY.temporary() as registry:
        yield registry


PEERS = Path(__file__).parent / "peers"
PEER_START_TIMEOUT = 30.0


@pytest.fixture
def libmodbus_server() -> Iterator[LibmodbusPeer]:
    """libmodbus 3.1 (libmodbus.so.5 through ctypes) serving Modbus TCP on 127.0.0.1.

    Skips only when the library is not installed (Debian package libmodbus5;
    .ci/run installs it). A server that does not print its "listening on" line
    within the timeout, or does not exit cleanly on SIGTERM, fails the test.
    """
    if library_path() is None:
        pytest.skip(f"{LIBRARY} (Debian package libmodbus5) is not installed")
    profile = PEERS / "libmodbus.toml"
    proc = subprocess.Popen([sys.executable, str(PEERS / "libmodbus_server.py"), "--profile", str(profile)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout=PEER_START_TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("listening on "), f"libmodbus server did not start: {line!r}"
        yield LibmodbusPeer(url="tcp://" + line.removeprefix("listening on ").strip(), profile=profile,
                            process=proc)
    finally:
        if proc.poll() is None:
            proc.terminate()
        try:
            code = proc.wait(timeout=PEER_START_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        finally:
            _, err = proc.communicate()
        assert code == 0, f"libmodbus server did not exit cleanly on SIGTERM ({code}): {err}"

# tests/third_party holds a protocol package written as an outside project would write one;
# tests/test_third_party_protocol.py installs it in a temporary site and runs it there.
collect_ignore_glob = ["third_party/*"]
