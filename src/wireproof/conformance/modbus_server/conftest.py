"""Fixtures of the ``modbus-server`` suite: target, profile, connections.

- ``modbus_target``: the ``--wireproof-target`` URL, or, when none is given,
  the built-in reference server started for the session on 127.0.0.1:0.
- ``modbus_profile``: the ``--wireproof-profile`` TOML as a
  :class:`~.profile.DeviceProfile`, else ``default-profile.toml``.
- ``modbus_unit``: ``--wireproof-unit`` (``wireproof certify --unit``) when
  given, else the profile's ``device.unit_id``, else 1: the command line wins
  over the file.
- ``suite_timing``: ``response_timeout`` (the profile's, or
  ``--wireproof-option response_timeout=S``) and ``silence`` (how long a
  clause that expects *no* answer listens; ``--wireproof-option silence=S``,
  default 0.3 s).
- ``connect()``: a new :class:`~._connection.Connection` whose traffic is
  recorded as evidence; ``client``: the first one. All are closed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wireproof.conformance.modbus_server._checks import Timing
from wireproof.conformance.modbus_server._connection import Connection
from wireproof.conformance.modbus_server.profile import DeviceProfile, default_profile, load_profile
from wireproof.errors import HarnessError
from wireproof.harness.plugin import PROP_TARGET, EvidenceRecorder


def _seconds(options: dict[str, str], key: str, default: float) -> float:
    if key not in options:
        return default
    try:
        value = float(options[key])
    except ValueError:
        raise HarnessError(f"--wireproof-option {key}={options[key]!r}: not a number of seconds") from None
    if not 0 < value <= 60:
        raise HarnessError(f"--wireproof-option {key}={value}: must be 0 < seconds <= 60")
    return value


@pytest.fixture(scope="session")
def modbus_profile(wireproof_profile: dict[str, Any] | None) -> DeviceProfile:
    return default_profile() if wireproof_profile is None else load_profile(wireproof_profile)


@pytest.fixture(scope="session")
def modbus_unit(pytestconfig: pytest.Config, modbus_profile: DeviceProfile, wireproof_unit: int) -> int:
    if pytestconfig.getoption("wireproof_unit") is not None:
        return wireproof_unit
    return wireproof_unit if modbus_profile.unit_id is None else modbus_profile.unit_id


@pytest.fixture(scope="session")
def suite_timing(modbus_profile: DeviceProfile, wireproof_options: dict[str, str]) -> Timing:
    timeout = _seconds(wireproof_options, "response_timeout", modbus_profile.response_timeout)
    return Timing(response_timeout=timeout, silence=_seconds(wireproof_options, "silence", 0.3))


@pytest.fixture(scope="session")
def modbus_target(wireproof_target: str | None) -> Iterator[str]:
    if wireproof_target is not None:
        yield wireproof_target
        return
    from wireproof.harness.simulators.modbus_server import running_server

    with running_server(bind="127.0.0.1:0") as server:
        yield server.url


@pytest.fixture
def connect(request: pytest.FixtureRequest, modbus_target: str, modbus_unit: int, suite_timing: Timing,
            wireproof_target: str | None,
            evidence: EvidenceRecorder) -> Iterator[Callable[[], Connection]]:
    clients: list[Connection] = []
    if wireproof_target is None:
        request.node.user_properties.append(
            (PROP_TARGET, f"{modbus_target} (wireproof reference server, built in)"))

    def record(direction: str, data: bytes, label: str) -> None:
        (evidence.sent if direction == "sent" else evidence.received)(data, label)

    def open_client() -> Connection:
        label = f"connection {len(clients) + 1}"
        evidence.note(f"{label}: connect to {modbus_target}")
        client = Connection.connect(modbus_target, unit=modbus_unit, timeout=suite_timing.response_timeout,
                                      record=record, label=label)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def client(connect: Callable[[], Connection]) -> Connection:
    return connect()
