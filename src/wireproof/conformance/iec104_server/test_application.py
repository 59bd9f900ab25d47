"""Application functions (IEC 60870-5-101 7.4 as used by 104; 101 7.2.3 causes of transmission).

TS 60870-5-604 topics: station and group interrogation, counter
interrogation, clock synchronisation, read, test command, commands with
select/execute and direct execute, negative confirms (COT 44..47 with the
P/N bit), end of initialisation, several connections. Which type
identifications and points apply comes from the interoperability list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wireproof.codecs.iec104.constants import Cause, TypeId
from wireproof.codecs.iec104.messages import Asdu, InformationObject
from wireproof.conformance.iec104_server._checks import (
    QCC_GENERAL,
    asdu_text,
    confirm_of,
    interrogation,
    now_cp56,
    require_point,
    require_type,
    started,
    stopped_state,
)
from wireproof.conformance.iec104_server._connection import Connection
from wireproof.conformance.iec104_server.conftest import Settings
from wireproof.conformance.iec104_server.profile import StationProfile
from wireproof.harness.clauses import setup_step
from wireproof.harness.plugin import inconclusive, not_applicable

_GI = "IEC 60870-5-101 7.4.5"
_CLOCK = "IEC 60870-5-101 7.4.6"
_CMD = "IEC 60870-5-101 7.4.7"
_CI = "IEC 60870-5-101 7.4.8"
_TEST = "IEC 60870-5-101 7.4.10"
_COT = "IEC 60870-5-101 7.2.3"


def _terminated(station: Connection, request: Asdu, what: str) -> list[Asdu]:
    """The ASDUs up to the ACT_TERM of ``request`` (ACT_TERM included, last)."""
    out: list[Asdu] = []

    def done() -> bool:
        while station.asdus:
            _, asdu = station.asdus.popleft()
            out.append(asdu)
            if asdu.type_id == request.type_id and asdu.cause == Cause.ACTIVATION_TERMINATION:
                return True
        return False

    assert station.wait_for(done, station.timeout * 3), (
        f"no ACT_TERM of the {what} within {station.timeout * 3:g} s; received: "
        f"{[asdu_text(a) for a in out][:6]}"
    )
    return out


def _single(
    type_id: int, ioa: int, common_address: int, cause: int = Cause.ACTIVATION, **elements: Any
) -> Asdu:
    return Asdu(
        type_id=type_id,
        cause=cause,
        common_address=common_address,
        objects=(InformationObject(address=ioa, elements=elements),),
    )


# --------------------------------------------------------------------------- interrogation


@pytest.mark.conformance(
    clause="IEC104-S-028",
    level="shall",
    cites=f"{_GI}: station interrogation: ACT_CON, the objects with COT 20, ACT_TERM; "
    "604 topic: station interrogation",
)
def test_station_interrogation(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """A station interrogation (QOI 20) is confirmed, every monitored point of the list comes with COT 20,
    and it ends with ACT_TERM."""
    require_type(iec104_profile, TypeId.C_IC_NA_1)
    started(station, iec104_profile)
    request = interrogation(settings.common_address)
    station.send_asdu(request, "station interrogation, QOI 20")
    con = confirm_of(station, request, "station interrogation")
    assert con.objects and con.objects[0].elements.get("qoi") == 20, (
        f"ACT_CON does not echo QOI 20: {asdu_text(con)}"
    )
    got = _terminated(station, request, "station interrogation")
    data = [a for a in got if a.type_id < TypeId.C_SC_NA_1]
    bad = [asdu_text(a) for a in data if a.cause != Cause.INTERROGATED_BY_STATION]
    assert not bad, f"objects of the interrogation with a COT other than 20: {bad[:3]}"
    seen = {o.address: a.type_id for a in data for o in a.objects}
    # Integrated totals are not part of a station interrogation (101 7.4.5): counter interrogation's.
    missing = {
        ioa: TypeId(t).name
        for ioa, t in iec104_profile.monitor_points().items()
        if seen.get(ioa) != t and t not in (TypeId.M_IT_NA_1, TypeId.M_IT_TB_1)
    }
    assert not missing, f"monitored points of the list not reported (or with another type): {missing}"


@pytest.mark.conformance(
    clause="IEC104-S-029",
    level="shall",
    cites=f"{_GI}: group interrogation (QOI 21..36): ACT_CON, objects with COT 21..36, "
    "ACT_TERM; 604 topic: group interrogation",
)
def test_group_interrogation(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """Interrogation of the lowest group the list names is confirmed, its objects carry COT 20 + group, and
    it ends with ACT_TERM."""
    require_type(iec104_profile, TypeId.C_IC_NA_1)
    if not iec104_profile.interrogation_groups:
        not_applicable(
            "the interoperability list names no interrogation group (control.interrogation_groups)"
        )
    group = min(iec104_profile.interrogation_groups)
    started(station, iec104_profile)
    request = interrogation(settings.common_address, 20 + group)
    station.send_asdu(request, f"group {group} interrogation, QOI {20 + group}")
    confirm_of(station, request, f"group {group} interrogation")
    got = _terminated(station, request, f"group {group} interrogation")
    bad = [asdu_text(a) for a in got if a.type_id < TypeId.C_SC_NA_1 and a.cause != 20 + group]
    assert not bad, (
        f"objects of the group {group} interrogation with a COT other than {20 + group}: {bad[:3]}"
    )


@pytest.mark.conformance(
    clause="IEC104-S-030",
    level="shall",
    cites=f"{_CI}: counter interrogation: ACT_CON, integrated totals with COT 37, ACT_TERM; "
    "604 topic: counter interrogation",
)
def test_counter_interrogation(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """A general counter interrogation (QCC 5) is confirmed, the integrated totals come with COT 37, and it
    ends with ACT_TERM."""
    require_type(iec104_profile, TypeId.C_CI_NA_1)
    started(station, iec104_profile)
    request = _single(TypeId.C_CI_NA_1, 0, settings.common_address, qcc=QCC_GENERAL)
    station.send_asdu(request, "counter interrogation, QCC 5")
    confirm_of(station, request, "counter interrogation")
    got = _terminated(station, request, "counter interrogation")
    totals = [a for a in got if a.type_id in (TypeId.M_IT_NA_1, TypeId.M_IT_TB_1)]
    bad = [asdu_text(a) for a in totals if a.cause != Cause.REQUESTED_BY_GENERAL_COUNTER]
    assert not bad, f"integrated totals with a COT other than 37: {bad[:3]}"
    want = set(iec104_profile.monitor.get(TypeId.M_IT_NA_1, ()))
    seen = {o.address for a in totals for o in a.objects}
    assert want <= seen, f"integrated totals of the list not reported: {sorted(want - seen)}"


# --------------------------------------------------------------------------- clock, read, test


@pytest.mark.conformance(
    clause="IEC104-S-031",
    level="shall",
    cites=f"{_CLOCK}: clock synchronisation is confirmed (ACT_CON with a time); "
    "604 topic: clock synchronisation",
)
def test_clock_synchronisation(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """C_CS_NA_1 with the current time is answered by a positive ACT_CON carrying a CP56Time2a."""
    require_type(iec104_profile, TypeId.C_CS_NA_1)
    started(station, iec104_profile)
    request = _single(TypeId.C_CS_NA_1, 0, settings.common_address, time=now_cp56())
    station.send_asdu(request, "clock synchronisation, now")
    con = confirm_of(station, request, "clock synchronisation")
    assert con.objects and con.objects[0].time is not None, f"the ACT_CON carries no time: {asdu_text(con)}"


@pytest.mark.conformance(
    clause="IEC104-S-032",
    level="shall",
    cites="IEC 60870-5-101 7.2.3: a read command is answered with the object, COT 5 "
    "(requested); 604 topic: read command",
)
def test_read_command(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """C_RD_NA_1 for a monitored point is answered with that point, COT 5 (requested)."""
    require_type(iec104_profile, TypeId.C_RD_NA_1)
    points = iec104_profile.monitor_points()
    if not points:
        not_applicable("the interoperability list names no monitored point ([monitor])")
    ioa = min(points)
    started(station, iec104_profile)
    station.send_asdu(
        _single(TypeId.C_RD_NA_1, ioa, settings.common_address, cause=Cause.REQUEST), f"read IOA {ioa}"
    )
    got = station.read_asdu(
        lambda a: any(o.address == ioa for o in a.objects) and a.type_id != TypeId.C_RD_NA_1,
        what=f"IOA {ioa} in answer to the read command",
    )
    assert got.cause == Cause.REQUEST, f"the point comes with COT {got.cause}, not 5: {asdu_text(got)}"
    assert got.type_id == points[ioa], f"IOA {ioa} comes as type {got.type_id}, the list says {points[ioa]}"


@pytest.mark.conformance(
    clause="IEC104-S-033",
    level="shall",
    cites=f"{_TEST}: the test command C_TS_TA_1 is mirrored in a positive ACT_CON; 604 topic: test command",
)
def test_test_command(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """C_TS_TA_1 (TSC 0x1234) is answered by a positive ACT_CON echoing the test sequence counter."""
    require_type(iec104_profile, TypeId.C_TS_TA_1)
    started(station, iec104_profile)
    request = _single(TypeId.C_TS_TA_1, 0, settings.common_address, tsc=0x1234, time=now_cp56())
    station.send_asdu(request, "test command, TSC 0x1234")
    con = confirm_of(station, request, "test command")
    assert con.objects and con.objects[0].elements.get("tsc") == 0x1234, f"TSC not echoed: {asdu_text(con)}"


# --------------------------------------------------------------------------- commands


def _feedback(station: Connection, ioa: int, what: str) -> Asdu:
    got = station.read_asdu(
        lambda a: any(o.address == ioa for o in a.objects),
        station.timeout * 2,
        what=f"the feedback point IOA {ioa} after the {what}",
    )
    assert got.cause in (Cause.SPONTANEOUS, Cause.RETURN_REMOTE), (
        f"the feedback point comes with COT {got.cause}, not 3 (spontaneous) or 11 (return remote): "
        f"{asdu_text(got)}"
    )
    return got


@pytest.mark.conformance(
    clause="IEC104-S-034",
    level="shall",
    cites=f"{_CMD}: select and execute: ACT_CON of each, ACT_TERM of the execute; "
    "604 topic: select/execute commands",
)
def test_select_execute(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """C_SC_NA_1 select (S/E=1) then execute (S/E=0) of the single command point: both positively confirmed,
    the execute terminated, and the feedback point reported."""
    require_type(iec104_profile, TypeId.C_SC_NA_1)
    ioa = require_point(iec104_profile, "single_command")
    started(station, iec104_profile)
    select = _single(TypeId.C_SC_NA_1, ioa, settings.common_address, value=True, qualifier=0, select=True)
    station.send_asdu(select, f"select IOA {ioa} ON")
    con = confirm_of(station, select, "select")
    assert con.objects and con.objects[0].elements.get("select") is True, (
        f"ACT_CON of the select: {asdu_text(con)}"
    )
    execute = _single(TypeId.C_SC_NA_1, ioa, settings.common_address, value=True, qualifier=0, select=False)
    station.send_asdu(execute, f"execute IOA {ioa} ON")
    confirm_of(station, execute, "execute")
    if iec104_profile.command_termination:
        station.confirmation(
            TypeId.C_SC_NA_1, cause=Cause.ACTIVATION_TERMINATION, what="ACT_TERM of the execute"
        )
    feedback = iec104_profile.point("single_command_feedback")
    if feedback:
        _feedback(station, feedback, "execute")


@pytest.mark.conformance(
    clause="IEC104-S-035",
    level="shall",
    cites=f"{_CMD}: a command point that needs select refuses execute without it "
    "(negative ACT_CON, P/N=1); 604 topic: select/execute commands",
)
def test_execute_without_select_refused(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """An execute of a select-before-operate command point without a select is refused: negative ACT_CON."""
    require_type(iec104_profile, TypeId.C_SC_NA_1)
    ioa = require_point(iec104_profile, "single_command")
    if ioa not in iec104_profile.select_required:
        not_applicable(f"the list does not say IOA {ioa} needs select (control.select_required)")
    started(station, iec104_profile)
    execute = _single(TypeId.C_SC_NA_1, ioa, settings.common_address, value=True, qualifier=0, select=False)
    station.send_asdu(execute, f"execute IOA {ioa} without select")
    con = confirm_of(station, execute, "execute without select", positive=False)
    assert con.negative, f"the execute without select is confirmed positively: {asdu_text(con)}"


def _direct(
    station: Connection,
    settings: Settings,
    profile: StationProfile,
    type_id: int,
    key: str,
    value: Any,
    check: Callable[[Any], bool] | None = None,
) -> None:
    require_type(profile, type_id)
    ioa = require_point(profile, key)
    started(station, profile)
    command = _single(type_id, ioa, settings.common_address, value=value, qualifier=0, select=False)
    station.send_asdu(command, f"direct execute IOA {ioa} = {value}")
    confirm_of(station, command, "direct execute")
    if profile.command_termination:
        station.confirmation(
            type_id, cause=Cause.ACTIVATION_TERMINATION, what="ACT_TERM of the direct execute"
        )
    feedback = profile.point(f"{key}_feedback")
    if feedback:
        got = _feedback(station, feedback, "direct execute")
        value_seen = next(o.value for o in got.objects if o.address == feedback)
        assert check is None or check(value_seen), (
            f"the feedback point reports {value_seen!r} after {value!r}"
        )


@pytest.mark.conformance(
    clause="IEC104-S-036",
    level="shall",
    cites=f"{_CMD}: direct execute: ACT_CON, ACT_TERM; 604 topic: direct commands",
)
def test_direct_double_command(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """C_DC_NA_1 ON (2), direct execute: positive ACT_CON, ACT_TERM, the feedback point reported ON."""
    _direct(station, settings, iec104_profile, TypeId.C_DC_NA_1, "double_command", 2, lambda v: v == 2)


@pytest.mark.conformance(
    clause="IEC104-S-037",
    level="shall",
    cites=f"{_CMD}: set point command, direct execute: ACT_CON, ACT_TERM; 604 topic: set point commands",
)
def test_direct_setpoint(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """C_SE_NC_1 42.5, direct execute: positive ACT_CON, ACT_TERM, the feedback point reports 42.5."""
    _direct(
        station,
        settings,
        iec104_profile,
        TypeId.C_SE_NC_1,
        "setpoint_float",
        42.5,
        lambda v: abs(float(v) - 42.5) < 1e-3,
    )


# --------------------------------------------------------------------------- negative confirms


def _negative(station: Connection, request: Asdu | bytes, type_id: int, cot: int, what: str) -> Asdu:
    station.send_asdu(request, what)
    got = station.read_asdu(
        lambda a: a.type_id == type_id and a.cause == cot, what=f"a negative answer with COT {cot} to {what}"
    )
    assert got.negative, f"the COT {cot} answer has P/N=0 (a negative confirm sets P/N): {asdu_text(got)}"
    return got


@pytest.mark.conformance(
    clause="IEC104-S-038",
    level="shall",
    cites=f"{_COT}: COT 44, unknown type identification, mirrored with P/N=1; 604 topic: negative confirms",
)
def test_unknown_type_id(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """An ASDU of type identification 99 (unassigned) is answered mirrored with COT 44 and P/N=1."""
    started(station, iec104_profile)
    ca = settings.common_address.to_bytes(2, "little")
    raw = bytes((99, 1, Cause.ACTIVATION, 0)) + ca + bytes((0, 0, 0, 0))
    _negative(station, raw, 99, Cause.UNKNOWN_TYPE_ID, "an ASDU of type id 99")


@pytest.mark.conformance(
    clause="IEC104-S-039",
    level="shall",
    cites=f"{_COT}: COT 45, unknown cause of transmission, mirrored with P/N=1; 604 topic: negative confirms",
)
def test_unknown_cause(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """A station interrogation with COT 3 (spontaneous, not a cause a command has) is answered with COT 45,
    P/N=1."""
    require_type(iec104_profile, TypeId.C_IC_NA_1)
    started(station, iec104_profile)
    request = interrogation(settings.common_address, cause=Cause.SPONTANEOUS)
    _negative(station, request, TypeId.C_IC_NA_1, Cause.UNKNOWN_CAUSE, "C_IC_NA_1 with COT 3")


@pytest.mark.conformance(
    clause="IEC104-S-040",
    level="shall",
    cites=f"{_COT}: COT 46, unknown common address of ASDU, mirrored with P/N=1; "
    "604 topic: negative confirms",
)
def test_unknown_common_address(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """A station interrogation to a common address it lacks is answered with COT 46, P/N=1."""
    require_type(iec104_profile, TypeId.C_IC_NA_1)
    ca = require_point(iec104_profile, "unused_common_address")
    started(station, iec104_profile)
    got = _negative(
        station,
        interrogation(ca),
        TypeId.C_IC_NA_1,
        Cause.UNKNOWN_COMMON_ADDRESS,
        f"C_IC_NA_1 to common address {ca}",
    )
    assert got.common_address == ca, f"the answer carries common address {got.common_address}, not {ca}"


@pytest.mark.conformance(
    clause="IEC104-S-041",
    level="shall",
    cites=f"{_COT}: COT 47, unknown information object address, mirrored with P/N=1; "
    "604 topic: negative confirms",
)
def test_unknown_ioa(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """A single command to an IOA the station does not have is answered with COT 47, P/N=1, same IOA."""
    require_type(iec104_profile, TypeId.C_SC_NA_1)
    ioa = require_point(iec104_profile, "unused_ioa")
    started(station, iec104_profile)
    request = _single(TypeId.C_SC_NA_1, ioa, settings.common_address, value=True, qualifier=0, select=False)
    got = _negative(station, request, TypeId.C_SC_NA_1, Cause.UNKNOWN_IOA, f"C_SC_NA_1 to IOA {ioa}")
    assert got.objects and got.objects[0].address == ioa, f"the answer is not mirrored: {asdu_text(got)}"


# --------------------------------------------------------------------------- initialisation, connections


@pytest.mark.conformance(
    clause="IEC104-S-042",
    level="shall",
    cites="IEC 60870-5-101 7.4.1: after initialisation the station sends end of "
    "initialisation M_EI_NA_1, COT 4; 604 topic: end of initialisation",
)
def test_end_of_initialisation(station: Connection, iec104_profile: StationProfile) -> None:
    """After STARTDT the station sends M_EI_NA_1 with COT 4 (initialised)."""
    if not iec104_profile.end_of_initialisation:
        not_applicable(
            "the list does not say the station sends end of initialisation (station.end_of_initialisation)"
        )
    station.start()  # not started(): its clear() would drop an M_EI_NA_1 read along with the STARTDT con
    got = station.read_asdu(lambda a: a.type_id == TypeId.M_EI_NA_1, what="M_EI_NA_1 after STARTDT")
    assert got.cause == Cause.INITIALIZED, f"M_EI_NA_1 with COT {got.cause}, not 4: {asdu_text(got)}"


@pytest.mark.conformance(
    clause="IEC104-S-043",
    level="shall",
    cites="IEC 60870-5-104 5.3: each connection has its own transmission control; "
    "604 topic: several connections",
)
def test_two_connections(
    connect: Callable[[str], Connection], settings: Settings, iec104_profile: StationProfile
) -> None:
    """Two connections at once: both started, a station interrogation confirmed on each."""
    if iec104_profile.max_connections < 2:
        not_applicable("the list says the station serves one connection (station.max_connections)")
    first, second = connect("connection 1"), connect("connection 2")
    started(first, iec104_profile)
    started(second, iec104_profile)
    for conn in (first, second):
        request = interrogation(settings.common_address)
        conn.send_asdu(request, "station interrogation")
        confirm_of(conn, request, f"station interrogation on {conn.label}")


@pytest.mark.conformance(
    clause="IEC104-S-044",
    level="shall",
    cites="IEC 60870-5-104 5.1: a faulty frame closes its own connection, not the "
    "station; 604 topic: several connections",
)
def test_other_connection_survives(
    connect: Callable[[str], Connection], settings: Settings, iec104_profile: StationProfile
) -> None:
    """A connection closed for a bad frame leaves another connection working."""
    if iec104_profile.max_connections < 2:
        not_applicable("the list says the station serves one connection (station.max_connections)")
    good, bad = connect("connection 1"), connect("connection 2")
    started(good, iec104_profile)
    with setup_step(bad, "connection 2 is closed by the station for a bad start character"):
        bad.send_bytes(bytes((0x67, 4, 0x43, 0, 0, 0)), "start character 0x67")
        assert bad.closes_within(settings.response_timeout + settings.tolerance), "still open"
    request = interrogation(settings.common_address)
    good.send_asdu(request, "station interrogation on connection 1")
    confirm_of(good, request, "station interrogation on connection 1")


@pytest.mark.conformance(
    clause="IEC104-S-045",
    level="shall",
    cites="IEC 60870-5-101 7.2.4: the originator address of a command is returned in "
    "its confirmation; 604 topic: originator address",
)
def test_originator_address_returned(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """A station interrogation with originator address 7 is confirmed with originator address 7."""
    require_type(iec104_profile, TypeId.C_IC_NA_1)
    started(station, iec104_profile)
    request = interrogation(settings.common_address, originator=7)
    station.send_asdu(request, "station interrogation, originator address 7")
    con = confirm_of(station, request, "station interrogation")
    assert con.originator == 7, f"the ACT_CON carries originator address {con.originator}, not 7"


@pytest.mark.conformance(
    clause="IEC104-S-046",
    level="should",
    cites=f"{_CMD}: the confirmation and termination of a command mirror its information object "
    "(value, S/E); 604 topic: select/execute commands",
)
def test_execute_confirmations_mirror_the_execute(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """After a select, the execute's ACT_CON and ACT_TERM carry the execute's object: S/E=0, same value."""
    require_type(iec104_profile, TypeId.C_SC_NA_1)
    ioa = require_point(iec104_profile, "single_command")
    if not iec104_profile.command_termination:
        not_applicable("the list says commands end without ACT_TERM (control.command_termination)")
    started(station, iec104_profile)
    with setup_step(station, f"select IOA {ioa} ON, positively confirmed"):
        select = _single(TypeId.C_SC_NA_1, ioa, settings.common_address, value=True, qualifier=0, select=True)
        station.send_asdu(select, f"select IOA {ioa} ON")
        confirm_of(station, select, "select")
    execute = _single(TypeId.C_SC_NA_1, ioa, settings.common_address, value=True, qualifier=0, select=False)
    station.send_asdu(execute, f"execute IOA {ioa} ON")
    con = confirm_of(station, execute, "execute")
    term = station.confirmation(
        TypeId.C_SC_NA_1, cause=Cause.ACTIVATION_TERMINATION, what="ACT_TERM of the execute"
    )
    for name, got in (("ACT_CON", con), ("ACT_TERM", term)):
        obj = got.objects[0] if got.objects else None
        assert obj is not None and obj.address == ioa, f"the {name} names no IOA {ioa}: {asdu_text(got)}"
        assert obj.elements.get("select") is False and obj.value is True, (
            f"the {name} of the execute (S/E=0, ON) carries {asdu_text(got)}"
        )


# --------------------------------------------------------------------------- spontaneous transmission


def _require_trigger(trigger: Callable[[], None] | None) -> Callable[[], None]:
    if trigger is None:
        inconclusive(
            "the clause needs the station to change a monitored point and no way to make it is given: set "
            "--param change_trigger='COMMAND' (a shell command after which the station has a changed "
            "point, points.spontaneous in the profile)"
        )
    return trigger


def _spontaneous(asdu: Asdu, ioa: int) -> bool:
    return asdu.cause == Cause.SPONTANEOUS and (not ioa or any(o.address == ioa for o in asdu.objects))


@pytest.mark.conformance(
    clause="IEC104-S-047",
    level="shall",
    cites="IEC 60870-5-101 7.4.4: a change of a monitored point is transmitted spontaneously, COT 3; "
    "604 topic: spontaneous transmission",
)
def test_spontaneous_transmission(
    station: Connection, iec104_profile: StationProfile, trigger: Callable[[], None] | None
) -> None:
    """After STARTDT, a change of the point (the change_trigger) is reported with COT 3 (spontaneous)."""
    run = _require_trigger(trigger)
    ioa = iec104_profile.point("spontaneous")
    started(station, iec104_profile)
    station.note("change_trigger: make the station change its point")
    run()
    got = station.read_asdu(lambda a: _spontaneous(a, ioa), what=f"a spontaneous (COT 3) report of IOA {ioa}")
    station.note(f"reported: {asdu_text(got)}")


@pytest.mark.conformance(
    clause="IEC104-S-048",
    level="shall",
    cites="IEC 60870-5-104 5.3: after STOPDT con no I frame is sent, spontaneous data included; "
    "604 topic: data in STOPDT state",
)
def test_no_spontaneous_data_when_stopped(
    station: Connection,
    settings: Settings,
    iec104_profile: StationProfile,
    trigger: Callable[[], None] | None,
) -> None:
    """A point change while data transfer is stopped (STOPDT con) is not sent as an I frame while stopped."""
    run = _require_trigger(trigger)
    stopped_state(station, iec104_profile)
    before = station.iframes_received
    station.note("change_trigger: make the station change its point while stopped")
    run()
    station.listen(settings.response_timeout)
    sent = [asdu_text(a) for _, a in station.asdus]
    assert station.iframes_received == before, f"I frame(s) sent after STOPDT con: {sent[:3]}"
