"""Fixtures of the ``iec104-server`` suite: target, interoperability list, parameters, connections.

- ``iec104_target``: the ``--wireproof-target`` URL (checked once before any
  clause: a target that is not there makes every clause an ``error``), or,
  without one, the reference server
  (:func:`wireproof.harness.simulators.iec104_server.running_server`)
  started for the session on 127.0.0.1:0 with its built-in database and the
  short APCI timers ``default-profile.toml`` gives (:func:`builtin_apci`), so
  that the t1 and t3 clauses take seconds, not minutes.
- ``iec104_profile``: the ``--wireproof-profile`` interoperability list as a
  :class:`~.profile.StationProfile`, else ``default-profile.toml``.
- ``settings``: the profile's numbers with the suite's parameters laid over
  them (``common_address``, ``response_timeout``, ``k``, ``w``, ``t1``,
  ``t2``, ``t3``, ``attempts``, ``tolerance``, ``max_wait``).
- ``trigger``: how the station is made to change a monitored point (the
  profile's ``points.spontaneous``): the ``change_trigger`` shell command,
  or the reference server's own ``change(ioa, value)``; None when neither is
  there (the spontaneous clauses are then ``inconclusive`` saying how to set it).
- ``connect(label)``: a new :class:`~._connection.Connection` recording its
  APDUs as evidence; ``station``: the first one; all closed after the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from wireproof.conformance.iec104_server._connection import Connection
from wireproof.conformance.iec104_server.profile import StationProfile, default_profile, load_profile
from wireproof.errors import HarnessError
from wireproof.harness.plugin import PROP_TARGET, EvidenceRecorder
from wireproof.harness.suite_support import run_command
from wireproof.harness.suites import suite_params, target_problem

SUITE = "iec104-server"
TRIGGER_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The numbers a run goes by: the profile's, each replaced by its parameter when one is given."""

    common_address: int
    response_timeout: float
    k: int
    w: int
    t1: float
    t2: float
    t3: float
    attempts: int
    tolerance: float  # seconds a timer may run late (scheduling, a station's tick)
    max_wait: float  # the longest a clause may wait for a timer; longer: inconclusive


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    url: str
    builtin: Any = None  # the reference server's handle when it is the target


@pytest.fixture(scope="session")
def iec104_params(wireproof_params: dict[str, str]) -> dict[str, Any]:
    return suite_params(SUITE, wireproof_params)


@pytest.fixture(scope="session")
def iec104_profile(wireproof_profile: dict[str, Any] | None) -> StationProfile:
    return default_profile() if wireproof_profile is None else load_profile(wireproof_profile)


@pytest.fixture(scope="session")
def settings(iec104_profile: StationProfile, iec104_params: dict[str, Any]) -> Settings:
    def pick(name: str) -> Any:
        value = iec104_params.get(name)
        return getattr(iec104_profile, name) if value is None else value

    return Settings(
        common_address=int(pick("common_address")),
        response_timeout=float(pick("response_timeout")),
        k=int(pick("k")),
        w=int(pick("w")),
        t1=float(pick("t1")),
        t2=float(pick("t2")),
        t3=float(pick("t3")),
        attempts=int(iec104_params.get("attempts") or 3),
        tolerance=float(iec104_params.get("tolerance") or 1.0),
        max_wait=float(iec104_params.get("max_wait") or 60.0),
    )


def builtin_apci(profile: StationProfile) -> dict[str, Any]:
    """The APCI parameters the built-in reference server is started with: the default profile's."""
    return {"k": profile.k, "w": profile.w, "t1": profile.t1, "t2": profile.t2, "t3": profile.t3}


@pytest.fixture(scope="session")
def iec104_target(wireproof_target: str | None) -> Iterator[Target]:
    if wireproof_target is not None:
        problem = target_problem(wireproof_target)
        if problem is not None:
            raise HarnessError(problem)
        yield Target(url=wireproof_target)
        return
    import dataclasses

    from wireproof.harness.simulators.iec104_server import load_config, running_server

    config = dataclasses.replace(load_config(), **builtin_apci(default_profile()))
    with running_server(bind="127.0.0.1:0", config=config) as server:
        yield Target(url=server.url, builtin=server)


@pytest.fixture(scope="session")
def trigger(
    iec104_target: Target, iec104_params: dict[str, Any], iec104_profile: StationProfile
) -> Callable[[], None] | None:
    command = iec104_params.get("change_trigger")
    if command:

        def run() -> None:
            run_command(command, timeout=TRIGGER_TIMEOUT, what="change_trigger")

        return run
    change = getattr(iec104_target.builtin, "change", None)
    ioa = iec104_profile.point("spontaneous")
    if change is None or not ioa:
        return None
    values = iter(range(1, 1 << 30))

    def toggle() -> None:
        change(ioa, next(values) % 2)  # 1, 0, 1, ...: each call a change

    return toggle


@pytest.fixture
def connect(
    request: pytest.FixtureRequest,
    iec104_target: Target,
    settings: Settings,
    iec104_profile: StationProfile,
    evidence: EvidenceRecorder,
) -> Iterator[Callable[[str], Connection]]:
    opened: list[Connection] = []
    if iec104_target.builtin is not None:
        request.node.user_properties.append(
            (PROP_TARGET, f"{iec104_target.url} (wireproof reference server, built in)")
        )

    def open_connection(label: str = "") -> Connection:
        label = label or f"connection {len(opened) + 1}"
        evidence.note(f"{label}: connect to {iec104_target.url}")
        conn = Connection(
            iec104_target.url, timeout=settings.response_timeout, sink=evidence, label=label, w=settings.w
        )
        conn.ack_delay = min(settings.t2, settings.t1 / 2)  # our t2: acknowledge before the station's t1
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        conn.close()


@pytest.fixture
def station(connect: Callable[[str], Connection]) -> Connection:
    return connect("connection 1")
