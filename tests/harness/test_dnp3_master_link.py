"""wireproof's DNP3 reference master with a confirmed link, against the reference outstation (loopback).

The master (MasterSession, ``link_confirmed=True``) resets the link, then
sends its requests as CONFIRMED_USER_DATA with the FCB alternating (IEEE
1815-2012 9.2.6.2); the outstation's secondary station checks the FCBs and
acknowledges. With the outstation's link confirmed too (``[link] confirmed =
true``), its responses come as CONFIRMED_USER_DATA, which the master's
secondary station acknowledges. Every check is on the frames on the wire
(MasterSession's ``on_wire`` trace) and on what the master read.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.harness.dnp3_wire import LinkTrace

from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.constants import PrimaryFunction, SecondaryFunction
from wireproof.harness.simulators.dnp3_master import AsyncMasterSession, MasterSession, connect
from wireproof.harness.simulators.dnp3_outstation import running_outstation

TIMEOUT = 10.0
P, S = PrimaryFunction, SecondaryFunction
POINTS = """
[points.binary]
values = [true, false, true]
class = 1
[points.analog]
values = [11, 22]
class = 2
[[script]]
changes = [{ kind = "analog", index = 0, value = 101 }]
"""


@pytest.fixture
def confirmed_master(tmp_path: Path) -> Iterator[Any]:
    sessions: list[MasterSession] = []
    stack: list[Any] = []

    def start(*, outstation_confirmed: bool = False) -> tuple[Any, MasterSession, LinkTrace]:
        config = tmp_path / "outstation.toml"
        link = "[link]\nconfirmed = true\nresponse_timeout = 1.0\n" if outstation_confirmed else ""
        config.write_text(link + POINTS)
        cm = running_outstation(config=config)
        outstation = cm.__enter__()
        stack.append(cm)
        wire = LinkTrace()
        session = MasterSession(outstation.url, config=M.MasterConfig(response_timeout=5.0),
                                link_confirmed=True, link_timeout=1.0, link_retries=2, on_wire=wire)
        sessions.append(session)
        return outstation, session, wire

    yield start
    for session in sessions:
        session.close()
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


def test_integrity_poll_over_a_confirmed_link(confirmed_master: Any) -> None:
    _, session, wire = confirmed_master()
    results = session.start(timeout=TIMEOUT)
    assert results and all(r.ok for r in results), results
    assert session.values("binary") == {0: True, 1: False, 2: True}
    assert session.values("analog") == {0: 11, 1: 22}
    assert session.integrity_poll(TIMEOUT).ok
    assert session.settle(TIMEOUT)  # the last frames acknowledged
    tx = wire.frames["tx"]
    assert tx[0].function == P.RESET_LINK_STATES and tx[0].dir and not tx[0].fcv
    assert len(wire.primary("tx", P.RESET_LINK_STATES)) == 1  # reset once, then the link stays reset
    assert not wire.primary("tx", P.UNCONFIRMED_USER_DATA)
    data = wire.primary("tx", P.CONFIRMED_USER_DATA)
    assert len(data) >= 4 and all(f.fcv for f in data)
    assert [f.fcb for f in data] == [k % 2 == 0 for k in range(len(data))]  # 1, 0, 1, 0 ...
    # one ACK from the outstation for the reset and for every confirmed frame
    assert wire.answers("rx").count(S.ACK) == len(data) + 1


def test_both_links_confirmed(confirmed_master: Any) -> None:
    """The outstation sends CONFIRMED_USER_DATA too: the master's secondary station takes its reset,
    checks its FCBs and acknowledges every frame once."""
    outstation, session, wire = confirmed_master(outstation_confirmed=True)
    assert all(r.ok for r in session.start(timeout=TIMEOUT))
    outstation.step()
    session.points.clear()
    assert session.event_poll(TIMEOUT).ok
    assert session.values("analog") == {0: 101}
    assert session.settle(TIMEOUT)
    assert wire.primary("rx", P.RESET_LINK_STATES)
    theirs = wire.primary("rx", P.CONFIRMED_USER_DATA)
    assert theirs and [f.fcb for f in theirs] == [k % 2 == 0 for k in range(len(theirs))]
    assert wire.answers("tx").count(S.ACK) == len(theirs) + len(wire.primary("rx", P.RESET_LINK_STATES))
    assert not [n for n in session.effects if isinstance(n, M.Notice) and n.kind == "link"]


def test_keep_alive_is_answered_by_the_outstation(tmp_path: Path) -> None:
    config = tmp_path / "o.toml"
    config.write_text(POINTS)
    wire = LinkTrace()
    with running_outstation(config=config) as outstation, \
            connect(outstation.url, keep_alive=0.2, link_timeout=1.0, on_wire=wire) as session:
        assert session.pump(TIMEOUT, lambda: S.LINK_STATUS in wire.answers("rx"))
        assert wire.primary("tx", P.REQUEST_LINK_STATUS)


def test_simulate_dnp3_master_link_confirmed(tmp_path: Path) -> None:
    config = tmp_path / "o.toml"
    config.write_text(POINTS)
    with running_outstation(config=config) as outstation:
        proc = subprocess.run(
            [sys.executable, "-m", "wireproof", "simulate", "dnp3-master", "--target", outstation.url,
             "--count", "1", "--link-confirmed", "--link-retries", "1", "--link-timeout", "1",
             "--timeout", "2"],
            capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "task integrity: ok" in proc.stdout and "analog[1] = 22" in proc.stdout


def test_simulate_dnp3_master_rejects_bad_link_retries() -> None:
    proc = subprocess.run([sys.executable, "-m", "wireproof", "simulate", "dnp3-master", "--target",
                           "tcp://127.0.0.1:1", "--link-retries", "x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--link-retries" in proc.stderr


def test_async_session_over_a_confirmed_link(tmp_path: Path) -> None:
    config = tmp_path / "o.toml"
    config.write_text(POINTS)

    async def main(url: str) -> M.TaskResult:
        session = await AsyncMasterSession.open(url, link_confirmed=True, link_timeout=1.0, link_retries=1)
        try:
            assert all(r.ok for r in await session.start(TIMEOUT))
            return await session.run(M.integrity_poll(), TIMEOUT)
        finally:
            await session.close()

    with running_outstation(config=config) as outstation:
        assert asyncio.run(main(outstation.url)).ok
