"""The controlled station's application (IEC 101 7.4 as 104 selects it), without sockets."""

from __future__ import annotations

import datetime as dt

import pytest

from wireproof.codecs._machine import Role
from wireproof.codecs.iec104 import Asdu, Cause, Cp56Time2a, InformationObject, TypeId
from wireproof.codecs.iec104.station import (
    CommandPoint,
    ExecuteCommand,
    SelectCommand,
    SelectExpired,
    StationApplication,
)
from wireproof.harness.simulators.iec104_server import load_config


def app() -> StationApplication:
    return StationApplication(load_config().database())


def req(type_id: int, address: int, cause: int = Cause.ACTIVATION, ca: int = 1, **elements: object) -> Asdu:
    return Asdu(type_id=type_id, cause=cause, common_address=ca,
                objects=(InformationObject(address=address, elements=dict(elements)),))


def causes(answers: list[Asdu]) -> list[tuple[int, int, bool]]:
    return [(int(a.type_id), int(a.cause), a.negative) for a in answers]


def test_station_and_group_interrogation() -> None:
    station = app()
    answers = station.handle(req(TypeId.C_IC_NA_1, 0, qoi=20), 0.0)
    assert causes(answers)[0] == (100, 7, False) and causes(answers)[-1] == (100, 10, False)
    data = answers[1:-1]
    assert sum(len(a.objects) for a in data) == 11 and {int(a.cause) for a in data} == {20}
    group2 = station.handle(req(TypeId.C_IC_NA_1, 0, qoi=22), 0.0)[1:-1]
    assert {o.address for a in group2 for o in a.objects} == {3001, 3002, 3101, 3201, 3202}
    assert {int(a.cause) for a in group2} == {22}


def test_counter_interrogation_and_read_and_clock() -> None:
    station = app()
    answers = station.handle(req(TypeId.C_CI_NA_1, 0, qcc=5), 0.0)
    assert causes(answers) == [(101, 7, False), (15, 37, False), (101, 10, False)]
    assert causes(station.handle(req(TypeId.C_RD_NA_1, 3101, cause=Cause.REQUEST), 0.0)) == [(11, 5, False)]
    when = Cp56Time2a.from_datetime(dt.datetime(2030, 1, 2, 3, 4, 5))
    assert causes(station.handle(req(TypeId.C_CS_NA_1, 0, time=when), 0.0)) == [(103, 7, False)]
    assert station.time(0.0).year == 2030


@pytest.mark.parametrize(("asdu", "cause"), [
    (req(TypeId.C_IC_NA_1, 0, ca=7, qoi=20), 46),
    (req(TypeId.C_IC_NA_1, 0, cause=Cause.SPONTANEOUS, qoi=20), 45),
    (req(TypeId.C_IC_NA_1, 5, qoi=20), 47),
    (req(TypeId.C_RD_NA_1, 999, cause=Cause.REQUEST), 47),
    (req(TypeId.C_SC_NA_1, 9999, value=True, qualifier=0, select=False), 47),
    (req(TypeId.M_SP_NA_1, 1001, value=True, quality=0), 44),
    (Asdu(type_id=250, cause=6, common_address=1, raw=b"\x00\x00\x00", raw_number=1), 44),
])
def test_negative_confirms(asdu: Asdu, cause: int) -> None:
    [answer] = app().handle(asdu, 0.0)
    assert answer.negative and int(answer.cause) == cause


def test_select_before_operate() -> None:
    station = app()
    execute = req(TypeId.C_SC_NA_1, 5001, value=True, qualifier=0, select=False)
    assert causes(station.handle(execute, 0.0)) == [(45, 7, True)]  # not selected
    select = req(TypeId.C_SC_NA_1, 5001, value=True, qualifier=0, select=True)
    assert causes(station.handle(select, 0.0)) == [(45, 7, False)]
    assert causes(station.handle(execute, 1.0)) == [(45, 7, False), (45, 10, False)]
    assert station.db.points[1001].value is True
    station.handle(select, 2.0)
    assert causes(station.handle(execute, 20.0)) == [(45, 7, True)]  # the select timed out (10 s)
    station.handle(select, 30.0)
    other = req(TypeId.C_SC_NA_1, 5001, value=False, qualifier=0, select=False)
    assert causes(station.handle(other, 31.0)) == [(45, 7, True)]  # not the value selected
    direct = req(TypeId.C_SE_NC_1, 6001, value=12.5, qualifier=0, select=False)
    assert causes(station.handle(direct, 40.0)) == [(50, 7, False), (50, 10, False)]


def test_command_point_machine() -> None:
    point = CommandPoint(select_required=True)
    assert point.handle(ExecuteCommand(True, 0.0), Role.REMOTE) == "not selected"
    point.handle(SelectCommand(True, 5.0), Role.REMOTE)
    point.handle(SelectExpired(), Role.LOCAL)
    assert point.handle(ExecuteCommand(True, 1.0), Role.REMOTE) == "not selected"
    point.handle(SelectCommand(1, 5.0), Role.REMOTE)
    assert point.handle(ExecuteCommand(1, 1.0), Role.REMOTE) is None
