"""wireproof's DNP3 reference master against real outstations: yadnp3 (opendnp3) and dnp3py.

The master (wireproof.harness.simulators.dnp3_master over the sans-I/O
wireproof.codecs.dnp3.master) talks to the peer runners of
tests/peers/dnp3_outstation.py on loopback TCP. Every assertion is on what
the master got (values by type and index, task results) or on what the
outstation's application was handed (the runner's lines: ``select crob ...``,
``operate ...``, ``time written MS``).

Known peer limits (tests/peers/test_dnp3_peers.py): dnp3py has no double-bit
inputs, and its runner has no analog output handler (a g41 command is
answered NOT_SUPPORTED, which the master must report as a failed task), and no
freeze functions (IMMED_FREEZE is answered IIN2.0, again a failed task).
dnp3py 0.6.0's OutstationTcpRunner never calls ``Outstation.generate_unsolicited``
(nothing in dnp3/outstation/tcp_runner.py does), so it sends no unsolicited
response at all: the unsolicited test runs against yadnp3 only.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from tests.peers import dnp3_points

from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.constants import Iin
from wireproof.codecs.dnp3.messages import ObjectHeader
from wireproof.harness.simulators.dnp3_master import CROB_CODES, MasterSession

IMPLS = ["yadnp3", "dnp3py"]
LATCH_ON = CROB_CODES["LATCH_ON"]
TIMEOUT = 15.0


@pytest.fixture
def session_to(dnp3_outstation: Any) -> Iterator[Any]:
    """``session_to(impl, *flags, unsolicited=False)``: (outstation, started master session)."""
    sessions: list[MasterSession] = []

    def start(impl: str, *flags: str, unsolicited: bool = False) -> tuple[Any, MasterSession]:
        outstation = dnp3_outstation(impl, *flags)
        config = M.MasterConfig(response_timeout=5.0, unsolicited_classes=(1, 2, 3) if unsolicited else ())
        session = MasterSession(outstation.url, config=config)
        sessions.append(session)
        results = session.start(timeout=TIMEOUT)
        assert results and all(r.ok for r in results), results
        return outstation, session

    yield start
    for session in sessions:
        session.close()


def _assert_database(session: MasterSession, points: dnp3_points.Points, *, double_bit: bool) -> None:
    def first(kind: str, n: int) -> dict[int, Any]:
        return {i: v for i, v in session.values(kind).items() if i < n}

    assert first("binary", len(points.binary)) == dict(enumerate(points.binary))
    assert first("analog", len(points.analog)) == dict(enumerate(points.analog))
    assert first("counter", len(points.counter)) == dict(enumerate(points.counter))
    assert first("binary_output", len(points.binary_output)) == dict(enumerate(points.binary_output))
    assert first("analog_output", len(points.analog_output)) == dict(enumerate(points.analog_output))
    if double_bit:
        assert first("double_bit", len(points.double_bit)) == dict(enumerate(points.double_bit))


def _written_times(lines: list[str]) -> list[int]:
    # yadnp3's runner prints milliseconds; dnp3py's prints DNP3Timestamp(milliseconds=N)
    return [int(m.group(1)) for line in lines if (m := re.search(r"time written .*?(\d+)\)?$", line))]


@pytest.mark.parametrize("impl", IMPLS)
def test_startup_integrity_poll_reads_the_database(session_to: Any, impl: str) -> None:
    outstation, session = session_to(impl)
    _assert_database(session, dnp3_points.initial(), double_bit=impl == "yadnp3")
    # the restart IIN the outstation starts with was cleared by the startup sequence
    assert not session.master.iin & Iin.DEVICE_RESTART
    kinds = [r.task.kind for r in session.results.values()]
    assert kinds.index(M.TaskKind.DISABLE_UNSOLICITED) < kinds.index(M.TaskKind.INTEGRITY)
    assert M.TaskKind.CLEAR_RESTART in kinds
    # a second integrity poll reads the same values
    session.points.clear()
    assert session.integrity_poll(TIMEOUT).ok
    _assert_database(session, dnp3_points.initial(), double_bit=impl == "yadnp3")
    outstation.stop()


@pytest.mark.parametrize("impl", IMPLS)
def test_event_poll_after_a_change(session_to: Any, impl: str) -> None:
    outstation, session = session_to(impl)
    outstation.change()
    session.points.clear()
    assert session.event_poll(TIMEOUT).ok
    after = dnp3_points.changed(1)
    events = {(p.kind, p.index): p for p in session.points.values() if p.event}
    assert events[("binary", 0)].value is after.binary[0]
    assert events[("analog", 0)].value == after.analog[0]
    assert events[("counter", 0)].value == after.counter[0]
    if impl == "yadnp3":
        assert events[("double_bit", 0)].value == after.double_bit[0]
    # nothing else changed: the events are the scripted points only
    assert {index for _, index in events} == {0}
    outstation.stop()


@pytest.mark.parametrize("impl", IMPLS)
def test_class_event_iin_makes_the_master_poll_events(session_to: Any, impl: str) -> None:
    outstation, session = session_to(impl)
    outstation.change()
    session.points.clear()
    # a class 0 read only: its response says class 1 events wait (IIN1.1), and the master polls them
    assert session.run(M.class_poll(0), TIMEOUT).ok
    assert session.settle(TIMEOUT)
    polls = [r for r in session.results.values() if r.task.kind is M.TaskKind.EVENT_POLL]
    assert polls and polls[-1].ok and polls[-1].task.auto
    events = {(p.kind, p.index): p.value for p in session.points.values() if p.event}
    assert events[("analog", 0)] == dnp3_points.changed(1).analog[0]
    assert not session.master.iin & Iin.CLASS_1_EVENTS
    outstation.stop()


@pytest.mark.parametrize("impl", IMPLS)
def test_crob_select_operate_and_direct_operate(session_to: Any, impl: str) -> None:
    outstation, session = session_to(impl)
    sbo = session.operate(M.crob(0, LATCH_ON), select=True, timeout=TIMEOUT)
    assert sbo.ok and sbo.statuses == (0,), sbo
    direct = session.operate(M.crob(1, LATCH_ON), select=False, timeout=TIMEOUT)
    assert direct.ok and direct.statuses == (0,), direct
    lines = outstation.stop()
    assert "select crob index=0 code=LATCH_ON" in lines
    assert "operate crob index=0 code=LATCH_ON type=SelectBeforeOperate" in lines
    assert "operate crob index=1 code=LATCH_ON type=DirectOperate" in lines


def test_direct_operate_and_freeze_without_acknowledgment(session_to: Any) -> None:
    outstation, session = session_to("yadnp3")
    result = session.run(M.direct_operate(M.crob(2, LATCH_ON), ack=False), TIMEOUT)
    assert result.ok and "no response" in result.reason
    assert session.run(M.freeze(ack=False), TIMEOUT).ok
    # the outstation answers requests in order: once this read is answered, both were processed
    read = session.run(M.read(ObjectHeader(group=21, variation=0, qualifier=0x06),
                              ObjectHeader(group=10, variation=0, qualifier=0x06)), TIMEOUT)
    assert read.ok
    counters = dnp3_points.initial().counter
    assert {i: v for i, v in session.values("frozen_counter").items() if i < len(counters)} == \
        dict(enumerate(counters))
    assert session.values("binary_output")[2] is True
    assert "operate crob index=2 code=LATCH_ON type=DirectOperateNoAck" in outstation.stop()


def test_crob_on_a_missing_point_is_a_failed_task(session_to: Any) -> None:
    outstation, session = session_to("yadnp3")
    result = session.operate(M.crob(99, LATCH_ON), select=False, timeout=TIMEOUT)
    assert not result.ok and "NOT_SUPPORTED" in result.reason and result.statuses == (4,)
    assert not any("index=99" in line for line in outstation.stop())


def test_analog_output_direct_and_select(session_to: Any) -> None:
    outstation, session = session_to("yadnp3")
    assert session.operate(M.analog_output(0, 1234), select=False, timeout=TIMEOUT).ok
    assert session.operate(M.analog_output(1, -7, variation=2), select=True, timeout=TIMEOUT).ok
    session.settle(TIMEOUT)
    assert session.integrity_poll(TIMEOUT).ok
    assert session.values("analog_output")[0] == 1234
    assert session.values("analog_output")[1] == -7
    lines = outstation.stop()
    assert "operate analog index=0 value=1234 type=DirectOperate" in lines
    assert "select analog index=1 value=-7" in lines
    assert "operate analog index=1 value=-7 type=SelectBeforeOperate" in lines


def test_analog_output_refused_by_dnp3py_is_reported(session_to: Any) -> None:
    outstation, session = session_to("dnp3py")
    result = session.operate(M.analog_output(0, 1234), select=False, timeout=TIMEOUT)
    assert not result.ok and result.statuses and result.statuses[0] != 0
    outstation.stop()


@pytest.mark.parametrize("impl", IMPLS)
def test_freeze_then_read_frozen_counters(session_to: Any, impl: str) -> None:
    outstation, session = session_to(impl)
    frozen = session.run(M.freeze(), TIMEOUT)
    if impl == "dnp3py":  # no freeze functions: IIN2.0, which the master reports as the task's failure
        assert not frozen.ok and "IIN2.0 NO_FUNC_CODE_SUPPORT" in frozen.reason
        outstation.stop()
        return
    assert frozen.ok, frozen
    session.settle(TIMEOUT)
    read = session.run(M.read(ObjectHeader(group=21, variation=0, qualifier=0x06)), TIMEOUT)
    assert read.ok, read
    counters = dnp3_points.initial().counter
    got = {i: v for i, v in session.values("frozen_counter").items() if i < len(counters)}
    assert got == dict(enumerate(counters))
    outstation.stop()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("lan", [True, False], ids=["lan", "non-lan"])
def test_time_sync(session_to: Any, impl: str, lan: bool) -> None:
    outstation, session = session_to(impl)
    before = time.time() * 1000
    result = session.time_sync(lan=lan, timeout=TIMEOUT)
    after = time.time() * 1000
    assert result.ok, result
    [written] = _written_times(outstation.stop())
    assert before - 1000 <= written <= after + 1000


@pytest.mark.parametrize("impl", IMPLS)
def test_need_time_makes_the_master_synchronize_at_startup(session_to: Any, impl: str) -> None:
    outstation, session = session_to(impl, "--need-time")
    assert M.TaskKind.TIME_SYNC in [r.task.kind for r in session.results.values()]
    assert not session.master.iin & Iin.NEED_TIME
    assert len(_written_times(outstation.stop())) == 1


@pytest.mark.parametrize("impl", ["yadnp3"])  # dnp3py's runner sends none (module docstring)
def test_unsolicited_responses_are_confirmed_and_reported(session_to: Any, impl: str) -> None:
    outstation, session = session_to(impl, "--unsolicited", unsolicited=True)
    assert M.TaskKind.ENABLE_UNSOLICITED in [r.task.kind for r in session.results.values()]
    outstation.change()
    after = dnp3_points.changed(1)
    got: dict[tuple[str, int], Any] = {}

    def unsolicited_analog(effect: M.Effect) -> bool:
        if isinstance(effect, M.PointUpdate) and effect.unsolicited:
            got[(effect.kind, effect.index)] = effect.value
        return ("analog", 0) in got and ("counter", 0) in got and ("binary", 0) in got

    assert session.wait_for(unsolicited_analog, TIMEOUT) is not None, got
    assert got[("analog", 0)] == after.analog[0]
    assert got[("counter", 0)] == after.counter[0]
    assert got[("binary", 0)] is after.binary[0]
    # confirmed: the outstation does not repeat it (a repeat would be a duplicate notice)
    session.pump(1.0)
    assert not [e for e in session.effects if isinstance(e, M.Notice) and e.kind == "duplicate"]
    outstation.stop()


def test_asyncio_session(dnp3_outstation: Any) -> None:
    import asyncio

    from wireproof.harness.simulators.dnp3_master import AsyncMasterSession

    outstation = dnp3_outstation("yadnp3")

    async def main() -> tuple[list[M.TaskResult], M.TaskResult, dict[int, Any]]:
        session = await AsyncMasterSession.open(outstation.url)
        try:
            startup = await session.start(TIMEOUT)
            operated = await session.run(M.direct_operate(M.crob(3, LATCH_ON)), TIMEOUT)
            return startup, operated, session.values("analog")
        finally:
            await session.close()

    startup, operated, analog = asyncio.run(main())
    assert startup and all(r.ok for r in startup)
    assert operated.ok and analog == dict(enumerate(dnp3_points.initial().analog))
    assert "operate crob index=3 code=LATCH_ON type=DirectOperate" in outstation.stop()


def test_simulate_dnp3_master_cli(dnp3_outstation: Any) -> None:
    import subprocess
    import sys

    outstation = dnp3_outstation("yadnp3")
    done = subprocess.run(
        [sys.executable, "-m", "wireproof", "simulate", "dnp3-master", "--target", outstation.url,
         "--count", "1", "--json", "--operate", "crob:2:LATCH_ON", "--time-sync", "--timeout", "5"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    points = {(r["kind"], r["index"]): r["value"] for r in records if r["type"] == "point" and not r["event"]}
    assert points[("analog", 2)] == 1234 and points[("binary", 0)] is True
    tasks = [r for r in records if r["type"] == "task"]
    assert {t["task"] for t in tasks} >= {"integrity", "select-operate", "time-sync lan", "class-poll 1,2,3"}
    assert all(t["ok"] for t in tasks)
    lines = outstation.stop()
    assert "operate crob index=2 code=LATCH_ON type=SelectBeforeOperate" in lines


def test_simulate_dnp3_master_cli_text_lines(dnp3_outstation: Any) -> None:
    import subprocess
    import sys

    outstation = dnp3_outstation("dnp3py")
    done = subprocess.run(
        [sys.executable, "-m", "wireproof", "simulate", "dnp3-master", "--target", outstation.url,
         "--count", "2", "--poll-interval", "0.1", "--time-sync", "--non-lan"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "analog[2] = 1234 flags=0x02 (g30v1)" in lines
    assert "counter[3] = 40 flags=0x02 (g20v1)" in lines
    assert lines.count("task class-poll 1,2,3: ok (IIN 0x0000)") == 2
    assert "task time-sync non-lan: ok (IIN 0x0000)" in lines
    assert len(_written_times(outstation.stop())) == 1


def test_simulate_dnp3_master_unreachable_target_exits_2() -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:  # a port nobody listens on: bound, never listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "wireproof", "simulate", "dnp3-master", "--target", f"tcp://127.0.0.1:{port}",
             "--count", "1"], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "not reachable" in done.stderr and "Traceback" not in done.stderr


def test_simulate_dnp3_master_polls_until_sigterm(dnp3_outstation: Any) -> None:
    import signal
    import subprocess
    import sys

    from tests.peers.dnp3_peers import LineReader

    outstation = dnp3_outstation("yadnp3")
    process = subprocess.Popen(
        [sys.executable, "-m", "wireproof", "simulate", "dnp3-master", "--target", outstation.url,
         "--poll-interval", "0.1", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        reader = LineReader(process.stdout)
        polls = 0
        while polls < 3:
            record = json.loads(reader.line(TIMEOUT, "a line from the master"))
            polls += record.get("task") == "class-poll 1,2,3" and record["ok"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    outstation.stop()


def test_multi_fragment_responses_are_confirmed_fragment_by_fragment() -> None:
    """opendnp3 with 64-octet fragments: the integrity poll comes in several fragments, each with CON,
    and opendnp3 sends the next only once the master confirmed the last (IEEE 1815 4.2.2.4.4)."""
    from tests.peers import dnp3_outstation as runner
    from tests.peers import dnp3_peers

    reason = dnp3_peers.missing("yadnp3")
    if reason is not None:
        pytest.skip(reason)

    class SmallFragments(runner.YadnpOutstation):
        def _config(self) -> Any:
            config = super()._config()
            config.outstation.params.maxTxFragSize = 64
            return config

    station = SmallFragments(unsolicited=False, need_time=False)
    port = station.start()
    try:
        with MasterSession(f"tcp://127.0.0.1:{port}") as session:
            results = session.start(timeout=TIMEOUT)
            assert results and all(r.ok for r in results), results
            assert session.master.stats["fragments"] >= 5  # disable, clear restart, 3+ for the poll
            assert session.master.stats["discarded"] == 0
            _assert_database(session, dnp3_points.initial(), double_bit=True)
            session.points.clear()
            assert session.integrity_poll(TIMEOUT).ok
            _assert_database(session, dnp3_points.initial(), double_bit=True)
    finally:
        station.stop()
