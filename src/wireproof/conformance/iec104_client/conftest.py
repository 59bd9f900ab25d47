"""Fixtures of the ``iec104-client`` suite: the listener, the client under test, the scripted station.

- ``c104_params``: the suite's parameters (declared in the IEC 104 descriptor), parsed. Without
  ``--wireproof-command`` and ``--wireproof-bind`` the client is the built-in reference client, whose
  timers the default command sets short (t1 4 s, t2 2 s, t3 4 s): the timer clauses then take those
  unless a parameter says otherwise.
- ``open_station(behaviour)``: one clause's session. It starts the client under test, waits for its
  connection (``connect_timeout``) and returns a :class:`~._station.Station` with ``behaviour``. At
  teardown the connection is closed, the client stopped, and the tail of what it printed goes into the
  evidence. A client that does not connect is an ``error`` (the run's set-up, not a rule it broke).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wireproof.conformance.iec104_client._station import Behaviour, Station
from wireproof.errors import HarnessError, TransportTimeout
from wireproof.harness.client_dut import ClientUnderTest, Listener
from wireproof.harness.plugin import PROP_TARGET, EvidenceRecorder
from wireproof.harness.suites import suite, suite_params

SUITE = "iec104-client"
# The timers the default command gives the reference client (its --t1/--t2/--t3 below).
REFERENCE_TIMERS = {"t1": 4.0, "t2": 2.0, "t3": 4.0}


@pytest.fixture(scope="session")
def client_command(wireproof_command: str | None, wireproof_bind: str | None) -> str | None:
    if wireproof_command is not None:
        return wireproof_command
    if wireproof_bind is not None:
        return None
    return suite(SUITE).default_command


@pytest.fixture(scope="session")
def c104_params(wireproof_params: dict[str, str], client_command: str | None) -> dict[str, Any]:
    """This suite's parameters, parsed; the reference client's timers when it is the client."""
    params = suite_params(SUITE, wireproof_params)
    if client_command == suite(SUITE).default_command:
        for name, value in REFERENCE_TIMERS.items():
            if name not in wireproof_params:
                params[name] = value
    return params


@pytest.fixture
def open_station(request: pytest.FixtureRequest, wireproof_listener: Listener, client_command: str | None,
                 c104_params: dict[str, Any], evidence: EvidenceRecorder) -> Iterator[Callable[..., Station]]:
    client = ClientUnderTest(wireproof_listener, client_command)
    request.node.user_properties.append((PROP_TARGET, client.describe()))
    stations: list[Station] = []

    def start(behaviour: Behaviour | None = None) -> Station:
        if stations:
            raise HarnessError("one station per clause")
        evidence.note(f"waiting for the client under test on {wireproof_listener.address}"
                      + (f" (started by: {client_command})" if client_command else ""))
        try:
            link = client.connect(c104_params["connect_timeout"])
        except TransportTimeout as err:
            raise HarnessError(f"{err}: the client under test never connected, so nothing could be "
                               "judged") from None
        station = Station(link, evidence, common_address=c104_params["common_address"], behaviour=behaviour)
        stations.append(station)
        return station

    try:
        yield start
    finally:
        code = client.stop()
        for station in stations:
            station.close()
        output = client.output().strip()
        if client.command:
            evidence.note(f"client process ended ({code}); its last output:\n{output[-2000:] or '(none)'}")
