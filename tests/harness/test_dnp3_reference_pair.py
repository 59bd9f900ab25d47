"""wireproof's DNP3 reference master against wireproof's reference outstation, over loopback.

Both sides are this project's machines, so this is not interoperability
evidence (the peer tests are); it pins that the two agree on every exchange
the suites rely on: the startup sequence (disable unsolicited, integrity
poll, clear restart, time sync on NEED_TIME, enable unsolicited), event
polls after a scripted change, select/operate, direct operate, freeze,
time sync both ways, unsolicited responses confirmed, and a multi-fragment
integrity poll confirmed fragment by fragment.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.constants import Iin
from wireproof.harness.simulators.dnp3_master import CROB_CODES, MasterSession
from wireproof.harness.simulators.dnp3_outstation import OutstationHandle, running_outstation

TIMEOUT = 10.0
CONFIG = """
[outstation]
unsolicited = true
need_time_period = 3600
max_fragment_size = {size}
[points.binary]
values = [true, false, true, false]
class = 1
[points.double_bit]
values = [2, 1]
class = 1
[points.analog]
values = [{analogs}]
class = 2
[points.counter]
values = [10, 20, 30, 40]
class = 3
[points.binary_output]
values = [false, false]
class = 1
[points.analog_output]
values = [0, 0]
class = 1
[[script]]
changes = [{{ kind = "analog", index = 0, value = 101 }}, {{ kind = "binary", index = 1, value = true }}]
"""


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Any]:
    sessions: list[MasterSession] = []
    handles: list[Any] = []

    def start(*, size: int = 2048, analogs: int = 4, unsolicited: bool = False) -> tuple[OutstationHandle,
                                                                                         MasterSession]:
        config = tmp_path / f"outstation-{size}.toml"
        values = ", ".join(str(100 if i == 0 else -5 if i == 1 else i) for i in range(analogs))
        config.write_text(CONFIG.format(size=size, analogs=values))
        context = running_outstation(config=config)
        handle = context.__enter__()
        handles.append(context)
        session = MasterSession(handle.url, config=M.MasterConfig(
            response_timeout=5.0, unsolicited_classes=(1, 2, 3) if unsolicited else ()))
        sessions.append(session)
        results = session.start(timeout=TIMEOUT)
        assert results and all(r.ok for r in results), results
        return handle, session

    yield start
    for session in sessions:
        session.close()
    for context in handles:
        context.__exit__(None, None, None)


def test_startup_reads_the_database_and_syncs_time(pair: Any) -> None:
    outstation, session = pair()
    kinds = [r.task.kind for r in session.results.values()]
    assert M.TaskKind.DISABLE_UNSOLICITED in kinds and M.TaskKind.INTEGRITY in kinds
    assert M.TaskKind.CLEAR_RESTART in kinds and M.TaskKind.TIME_SYNC in kinds  # NEED_TIME answered
    assert not session.master.iin & (Iin.DEVICE_RESTART | Iin.NEED_TIME)
    assert session.values("binary") == {0: True, 1: False, 2: True, 3: False}
    assert session.values("double_bit") == {0: 2, 1: 1}
    assert session.values("analog") == {0: 100, 1: -5, 2: 2, 3: 3}
    assert session.values("counter") == {0: 10, 1: 20, 2: 30, 3: 40}
    assert any(line.startswith("time written ") for line in outstation.lines)


def test_event_poll_commands_and_freeze(pair: Any) -> None:
    outstation, session = pair()
    outstation.step()
    session.points.clear()
    assert session.event_poll(TIMEOUT).ok
    events = {(p.kind, p.index): p.value for p in session.points.values() if p.event}
    assert events == {("analog", 0): 101, ("binary", 1): True}
    sbo = session.operate(M.crob(0, CROB_CODES["LATCH_ON"]), select=True, timeout=TIMEOUT)
    direct = session.operate(M.analog_output(1, 42), select=False, timeout=TIMEOUT)
    assert sbo.ok and direct.ok and sbo.statuses == direct.statuses == (0,)
    assert outstation.database.points["binary_output"][0].value is True
    assert outstation.database.points["analog_output"][1].value == 42
    missing = session.operate(M.crob(9, CROB_CODES["LATCH_ON"]), select=False, timeout=TIMEOUT)
    assert not missing.ok and missing.statuses == (4,)  # NOT_SUPPORTED
    for lan in (True, False):
        assert session.time_sync(lan=lan, timeout=TIMEOUT).ok
    from wireproof.codecs.dnp3.messages import ObjectHeader

    counters = ObjectHeader(group=20, variation=0, qualifier=0x06)
    assert session.run(M.freeze(counters, clear=True), TIMEOUT).ok
    assert [p.value for p in outstation.database.points["frozen_counter"]] == [10, 20, 30, 40]
    assert [p.value for p in outstation.database.points["counter"]] == [0, 0, 0, 0]
    session.points.clear()
    assert session.event_poll(TIMEOUT).ok  # the counters' clearing made class 3 events
    assert {i: p.value for (k, i), p in session.points.items() if k == "counter" and p.event} == \
        {0: 0, 1: 0, 2: 0, 3: 0}


def test_unsolicited_responses_reach_the_master(pair: Any) -> None:
    outstation, session = pair(unsolicited=True)
    outstation.step()
    got: dict[tuple[str, int], Any] = {}

    def both(effect: M.Effect) -> bool:
        if isinstance(effect, M.PointUpdate) and effect.unsolicited:
            got[(effect.kind, effect.index)] = effect.value
        return len(got) == 2

    assert session.wait_for(both, TIMEOUT) is not None, got
    assert got == {("analog", 0): 101, ("binary", 1): True}


def test_multi_fragment_integrity_poll(pair: Any) -> None:
    _, session = pair(size=128, analogs=80)
    assert session.values("analog") == {i: (100 if i == 0 else -5 if i == 1 else i) for i in range(80)}
    session.points.clear()
    assert session.integrity_poll(TIMEOUT).ok
    assert len(session.values("analog")) == 80
