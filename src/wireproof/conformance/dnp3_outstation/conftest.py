"""Fixtures of the ``dnp3-outstation`` suite: target, profile, parameters, event trigger, connections.

- ``dnp3_target``: the ``--wireproof-target`` URL (checked once before any
  clause: a target that is not there makes every clause an ``error``), or,
  without one, the reference outstation
  (:func:`wireproof.harness.simulators.dnp3_outstation.running_outstation`)
  started for the session on 127.0.0.1:0 with its default points and every
  optional behaviour the suite can judge turned on (:func:`builtin_config`:
  unsolicited responses, NEED_TIME), as ``default-profile.toml`` describes it.
- ``dnp3_profile``: the ``--wireproof-profile`` document (TOML or the DNP3 XML
  device profile, read by the suite's ``profile_reader``) as a
  :class:`~.profile.DeviceProfile`, else ``default-profile.toml``.
- ``dnp3_params``: the suite's parameters, parsed; ``timing``: the response,
  select and confirm timeouts (the parameter, else the profile's);
  ``addresses``: (master, outstation) link addresses (the parameter, else the
  profile's).
- ``trigger``: how the device is made to produce a point change (an event):
  the ``event_trigger`` shell command, or the reference outstation's
  ``step()``; None when neither is there (event clauses are then
  ``inconclusive`` saying how to set it).
- ``first_iin``: the IIN of the first response of the run, read on a
  connection of its own before any clause (the restart clause judges it).
- ``connect(label)``: a new :class:`~._connection.Connection` recording its
  link frames as evidence; ``station``: the first one, with whatever the
  device sends on connecting (a null unsolicited response) taken in and
  confirmed. All are closed after the test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from wireproof.conformance.dnp3_outstation._connection import Connection
from wireproof.conformance.dnp3_outstation.profile import DeviceProfile, default_profile, load_profile
from wireproof.errors import DecodeError, HarnessError
from wireproof.harness.plugin import PROP_TARGET, EvidenceRecorder
from wireproof.harness.suite_support import run_command
from wireproof.harness.suites import suite_params, target_problem

if TYPE_CHECKING:
    from wireproof.harness.simulators.dnp3_outstation import DeviceConfig

SUITE = "dnp3-outstation"
BUILTIN_NEED_TIME_PERIOD = 3600.0  # s after a time write before the built-in target asks again
TRIGGER_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    response_timeout: float
    select_timeout: float
    confirm_timeout: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    url: str
    builtin: Any = None  # the reference outstation's handle when it is the target


@pytest.fixture(scope="session")
def dnp3_params(wireproof_params: dict[str, str]) -> dict[str, Any]:
    return suite_params(SUITE, wireproof_params)


@pytest.fixture(scope="session")
def dnp3_profile(wireproof_profile: dict[str, Any] | None) -> DeviceProfile:
    return default_profile() if wireproof_profile is None else load_profile(wireproof_profile)


@pytest.fixture(scope="session")
def timing(dnp3_profile: DeviceProfile, dnp3_params: dict[str, Any]) -> Timing:
    def pick(name: str) -> float:
        value = dnp3_params.get(name)
        return float(getattr(dnp3_profile, name) if value is None else value)

    return Timing(
        response_timeout=pick("response_timeout"),
        select_timeout=pick("select_timeout"),
        confirm_timeout=pick("confirm_timeout"),
    )


@pytest.fixture(scope="session")
def addresses(dnp3_profile: DeviceProfile, dnp3_params: dict[str, Any]) -> tuple[int, int]:
    master, outstation = dnp3_params.get("master"), dnp3_params.get("outstation")
    return (
        dnp3_profile.master_address if master is None else int(master),
        dnp3_profile.outstation_address if outstation is None else int(outstation),
    )


def builtin_config() -> DeviceConfig:
    """The built-in target's configuration: the reference outstation's packaged default with
    unsolicited responses allowed (IEEE 1815 4.6) and NEED_TIME set at start and an hour after each
    time write (4.2.2.7.1, IIN1.4), so that the unsolicited and time clauses apply to it."""
    from wireproof.harness.simulators.dnp3_outstation import load_config

    config = load_config()
    return dataclasses.replace(config, outstation=dataclasses.replace(
        config.outstation, unsolicited=True, need_time_period=BUILTIN_NEED_TIME_PERIOD))


@pytest.fixture(scope="session")
def dnp3_target(wireproof_target: str | None) -> Iterator[Target]:
    if wireproof_target is not None:
        problem = target_problem(wireproof_target)
        if problem is not None:
            raise HarnessError(problem)
        yield Target(url=wireproof_target)
        return
    from wireproof.harness.simulators.dnp3_outstation import running_outstation

    with running_outstation(bind="127.0.0.1:0", config=builtin_config()) as outstation:
        yield Target(url=outstation.url, builtin=outstation)


@pytest.fixture(scope="session")
def trigger(dnp3_target: Target, dnp3_params: dict[str, Any]) -> Callable[[], None] | None:
    command = dnp3_params.get("event_trigger")
    if command:

        def run() -> None:
            run_command(command, timeout=TRIGGER_TIMEOUT, what="event_trigger")

        return run
    if dnp3_target.builtin is not None:
        step: Callable[[], None] = dnp3_target.builtin.step
        return step
    return None


@pytest.fixture(scope="session")
def first_iin(dnp3_target: Target, addresses: tuple[int, int], timing: Timing) -> int | None:
    """The IIN of the run's first response (None if the device did not answer)."""
    from wireproof.codecs.dnp3.constants import FunctionCode

    master, outstation = addresses
    conn = Connection(dnp3_target.url, master=master, outstation=outstation, timeout=timing.response_timeout)
    try:
        conn.listen(0.3)
        unsolicited = list(conn.inbox.unsolicited)
        if unsolicited:
            return unsolicited[0].iin
        return conn.request(FunctionCode.READ, ()).iin
    except (AssertionError, DecodeError):  # judged by the clauses; this only records the first IIN
        return None
    finally:
        conn.close()


@pytest.fixture
def connect(
    request: pytest.FixtureRequest,
    dnp3_target: Target,
    addresses: tuple[int, int],
    timing: Timing,
    evidence: EvidenceRecorder,
    first_iin: int | None,
) -> Iterator[Callable[[str], Connection]]:
    opened: list[Connection] = []
    if dnp3_target.builtin is not None:
        request.node.user_properties.append(
            (PROP_TARGET, f"{dnp3_target.url} (wireproof reference outstation, built in)")
        )
    master, outstation = addresses

    def open_connection(label: str = "") -> Connection:
        label = label or f"connection {len(opened) + 1}"
        evidence.note(f"{label}: connect to {dnp3_target.url} as master {master}, outstation {outstation}")
        conn = Connection(
            dnp3_target.url,
            master=master,
            outstation=outstation,
            timeout=timing.response_timeout,
            sink=evidence,
            label=label,
        )
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


@pytest.fixture
def station(connect: Callable[[str], Connection]) -> Connection:
    conn = connect("connection 1")
    conn.settle = 0.3  # a null unsolicited response on connecting (4.6) is confirmed and forgotten
    return conn
