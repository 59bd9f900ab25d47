"""Fixtures of the ``modbus-server`` suite: target, profile, connections.

- ``modbus_target``: the ``--wireproof-target`` URL, or, when none is given,
  the built-in reference server started for the session on 127.0.0.1:0. A
  target given is connected to once, before any clause: if it is not there
  (refused, unreachable, no answer), every clause is an ``error`` saying so
  (``wireproof certify`` stops before the suite with exit 2), never a
  ``fail``; a device that resets that connection is there (its resets are
  judged by the clauses).
- ``modbus_profile``: the ``--wireproof-profile`` TOML as a
  :class:`~.profile.DeviceProfile`, else ``default-profile.toml``.
- ``modbus_params``: the suite's parameters (declared in the Modbus
  descriptor, :mod:`wireproof.codecs.modbus.protocol`), parsed.
- ``modbus_unit``: the ``unit`` parameter (``wireproof certify --unit`` or
  ``--param unit=N``; ``--wireproof-unit`` in pytest) when given, else the
  profile's ``device.unit_id``, else 1: the command line wins over the file.
- ``suite_timing``: ``response_timeout`` (the parameter, else the profile's)
  and ``silence`` (how long a clause that expects *no* answer listens;
  default: the response timeout).
- ``modbus_identity``: what the device says about itself (FC 43/14, asked
  once per run on a connection of its own: :mod:`._identity`), put on every
  clause's user properties for the report's ``device`` section.
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
from wireproof.harness.plugin import PROP_DEVICE, PROP_TARGET, EvidenceRecorder
from wireproof.harness.suites import suite_params, target_problem

SUITE = "modbus-server"


@pytest.fixture(scope="session")
def modbus_params(wireproof_params: dict[str, str]) -> dict[str, Any]:
    """This suite's parameters (declared in the Modbus protocol descriptor), parsed."""
    return suite_params(SUITE, wireproof_params)


@pytest.fixture(scope="session")
def modbus_profile(wireproof_profile: dict[str, Any] | None) -> DeviceProfile:
    return default_profile() if wireproof_profile is None else load_profile(wireproof_profile)


@pytest.fixture(scope="session")
def modbus_unit(modbus_profile: DeviceProfile, wireproof_params: dict[str, str],
                modbus_params: dict[str, Any]) -> int:
    if "unit" in wireproof_params:  # given: the command line wins over the profile
        return int(modbus_params["unit"])
    return 1 if modbus_profile.unit_id is None else modbus_profile.unit_id


@pytest.fixture(scope="session")
def suite_timing(modbus_profile: DeviceProfile, modbus_params: dict[str, Any]) -> Timing:
    timeout = modbus_params["response_timeout"]
    timeout = modbus_profile.response_timeout if timeout is None else timeout
    # Listening for "no answer" less long than an answer may take would read a late
    # rejection as the answer to the next request (libmodbus waits 0.5 s before some).
    silence = modbus_params["silence"]
    return Timing(response_timeout=timeout, silence=timeout if silence is None else silence)


@pytest.fixture(scope="session")
def modbus_target(wireproof_target: str | None) -> Iterator[str]:
    if wireproof_target is not None:
        problem = target_problem(wireproof_target)
        if problem is not None:
            raise HarnessError(problem)
        yield wireproof_target
        return
    from wireproof.harness.simulators.modbus_server import running_server

    with running_server(bind="127.0.0.1:0") as server:
        yield server.url


@pytest.fixture(scope="session")
def modbus_identity(modbus_target: str, modbus_unit: int, suite_timing: Timing) -> str:
    from wireproof.conformance.modbus_server._identity import identify

    return identify(modbus_target, unit=modbus_unit, timeout=suite_timing.response_timeout)


@pytest.fixture
def connect(request: pytest.FixtureRequest, modbus_target: str, modbus_unit: int, suite_timing: Timing,
            wireproof_target: str | None, modbus_identity: str,
            evidence: EvidenceRecorder) -> Iterator[Callable[[], Connection]]:
    clients: list[Connection] = []
    request.node.user_properties.append((PROP_DEVICE, modbus_identity))
    if wireproof_target is None:
        request.node.user_properties.append(
            (PROP_TARGET, f"{modbus_target} (wireproof reference server, built in)"))

    def open_client() -> Connection:
        label = f"connection {len(clients) + 1}"
        evidence.note(f"{label}: connect to {modbus_target}")
        client = Connection.connect(modbus_target, unit=modbus_unit, timeout=suite_timing.response_timeout,
                                      evidence=evidence, label=label)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture
def client(connect: Callable[[], Connection]) -> Connection:
    return connect()
