"""Fixtures of the ``dnp3-master`` suite: the listener, the master under test, the scripted outstation.

- ``dnp3m_params``: the suite's parameters (declared in the DNP3 descriptor,
  :mod:`wireproof.codecs.dnp3.protocol`), parsed.
- ``wireproof_listener`` (the plugin's): one listening socket for the run.
- ``open_station(behaviour)``: one clause's session. It starts the master
  under test (``--wireproof-command``; without it and without
  ``--wireproof-bind``, the suite's default command, the reference master),
  waits for its connection (``connect_timeout``) and returns a
  :class:`~._station.Station` with ``behaviour`` on it. At teardown the
  connection is closed, the master stopped, and the tail of what it printed
  goes into the evidence as a note. A master that does not connect is an
  ``error`` (the run's set-up, not a rule the master broke).

With ``--wireproof-bind`` and no command, each clause takes the next
connection of a master started by hand: the station closes it at the end of
the clause and the master reconnects. Its start-up clauses then judge what it
does on each new connection; a master that starts over only when its process
starts is better tested with a command. A clause whose stimulus (an IIN bit,
CON) never reached the master, because it asked nothing, is ``inconclusive``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from wireproof.conformance.dnp3_master._checks import Timing
from wireproof.conformance.dnp3_master._station import Behaviour, Station
from wireproof.errors import HarnessError, TransportTimeout
from wireproof.harness.client_dut import ClientUnderTest, Listener
from wireproof.harness.plugin import PROP_TARGET, EvidenceRecorder
from wireproof.harness.suites import suite, suite_params

SUITE = "dnp3-master"


@pytest.fixture(scope="session")
def dnp3m_params(wireproof_params: dict[str, str]) -> dict[str, Any]:
    """This suite's parameters (declared in the DNP3 protocol descriptor), parsed."""
    return suite_params(SUITE, wireproof_params)


@pytest.fixture(scope="session")
def master_command(wireproof_command: str | None, wireproof_bind: str | None) -> str | None:
    """The command that starts the master under test: given, else (nothing bound) the reference master."""
    if wireproof_command is not None:
        return wireproof_command
    if wireproof_bind is not None:
        return None  # the master is started by hand and connects to --bind
    return suite(SUITE).default_command


@pytest.fixture
def open_station(request: pytest.FixtureRequest, wireproof_listener: Listener, master_command: str | None,
                 dnp3m_params: dict[str, Any],
                 evidence: EvidenceRecorder) -> Iterator[Callable[..., Station]]:
    client = ClientUnderTest(wireproof_listener, master_command)
    request.node.user_properties.append((PROP_TARGET, client.describe()))
    stations: list[Station] = []

    def start(behaviour: Behaviour | None = None) -> Station:
        if stations:
            raise HarnessError("one station per clause")
        evidence.note(f"waiting for the master under test on {wireproof_listener.address}"
                      + (f" (started by: {master_command})" if master_command else ""))
        try:
            sock = client.connect(dnp3m_params["connect_timeout"])
        except TransportTimeout as err:
            raise HarnessError(f"{err}: the master under test never connected, so nothing could be "
                               "judged") from None
        station = Station(sock, evidence, address=dnp3m_params["outstation_address"],
                          master=dnp3m_params["master_address"], behaviour=behaviour)
        station.confirm_wait = dnp3m_params["response_timeout"]
        stations.append(station)
        return station

    try:
        yield start
    finally:
        code = client.stop()  # the master first: closed, it would reconnect into the next clause
        for station in stations:
            station.close()
        output = client.output().strip()
        if client.command:
            evidence.note(f"master process ended ({code}); its last output:\n{output[-2000:] or '(none)'}")


@pytest.fixture(scope="session")
def timing(dnp3m_params: dict[str, Any]) -> Timing:
    """The suite's waits (``response_timeout``, ``poll_timeout``, ``time_tolerance``)."""
    return Timing.of(dnp3m_params)
