"""The application functions as a controlling station uses them (IEC 60870-5-101 7.2-7.4 as 104 clause 9
selects them; TS 60870-5-604 topics: interrogation, clock synchronisation, counter interrogation,
commands, negative confirmations, end of initialisation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from wireproof.codecs.iec104.constants import Cause, TypeId
from wireproof.codecs.iec104.messages import Asdu, Cp56Time2a
from wireproof.conformance.iec104_client._checks import QUIET, Timing, started
from wireproof.conformance.iec104_client._station import BROADCAST, COMMANDS, Behaviour, Station, log_words
from wireproof.harness.plugin import not_applicable

Open = Callable[..., Station]


@pytest.fixture(scope="session")
def timing(c104_params: dict[str, Any]) -> Timing:
    return Timing.of(c104_params)


def _requests(station: Station, type_id: int) -> list[Asdu]:
    return [a for _, a in station.asdus(type_id)]


def _session(station: Station, timing: Timing) -> None:
    """Serve the whole session the client runs (until it is quiet, closes, or stops data transfer)."""
    started(station, timing)
    # a client may pause between its requests (waiting for a confirmation or its own timer): the session
    # is over after 4 s without an APDU
    station.serve_quiet(QUIET + 3.0, timing.response + 40)


@pytest.mark.conformance(
    clause="IEC104-C-013", level="shall", title="A station interrogation is C_IC_NA_1 with cause 6, "
    "object address 0 and QOI 20..36",
    cites="IEC 60870-5-101 7.3.4.1 and 7.4.5 (interrogation command: activation, IOA 0, QOI 20 station, "
          "21..36 groups); 604 topic: station interrogation")
def test_interrogation_form(open_station: Open, timing: Timing) -> None:
    station = open_station()
    _session(station, timing)
    asks = _requests(station, TypeId.C_IC_NA_1)
    if not asks:
        not_applicable(f"the client sent no interrogation (it sent: {log_words(station)})")
    for a in asks:
        assert int(a.cause) in (Cause.ACTIVATION, Cause.DEACTIVATION), f"cause {int(a.cause)}"
        assert len(a.objects) == 1 and a.objects[0].address == 0, "not one object at address 0"
        assert 20 <= a.objects[0].elements["qoi"] <= 36, f"QOI {a.objects[0].elements['qoi']}"


@pytest.mark.conformance(
    clause="IEC104-C-014", level="shall", title="The client's requests carry the station's common address "
    "(or the broadcast address)",
    cites="IEC 60870-5-101 7.2.4: the common address of the ASDU names the station; 65535 is the "
          "broadcast address; 604 topic: common address")
def test_common_address(open_station: Open, timing: Timing) -> None:
    station = open_station()
    _session(station, timing)
    asks = [a for _, a in station.asdus()]
    if not asks:
        not_applicable(f"the client sent no ASDU (it sent: {log_words(station)})")
    wrong = [a for a in asks if a.common_address not in (station.common_address, BROADCAST)]
    assert not wrong, (f"{len(wrong)} request(s) to common address {wrong[0].common_address}, the station "
                       f"is {station.common_address}")


@pytest.mark.conformance(
    clause="IEC104-C-015", level="shall", title="The client waits for an interrogation's ACT_TERM before "
    "it starts another",
    cites="IEC 60870-5-101 7.4.5: an interrogation ends with ACT_TERM; 604 topic: station interrogation")
def test_waits_for_act_term(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(act_term_delay=1.5))
    _session(station, timing)
    asks = [(r, a) for r, a in station.asdus(TypeId.C_IC_NA_1) if int(a.cause) == Cause.ACTIVATION]
    if len(asks) < 2:
        not_applicable(f"the client sent {len(asks)} interrogation(s); the rule is about a second one")
    terms = [s.at for s in station.sent if s.asdu.type_id == TypeId.C_IC_NA_1
             and int(s.asdu.cause) == Cause.ACTIVATION_TERMINATION]
    assert terms and asks[1][0].at >= terms[0], "a second interrogation before the first one's ACT_TERM"


@pytest.mark.conformance(
    clause="IEC104-C-016", level="shall", title="A clock synchronisation is C_CS_NA_1 with cause 6, address "
    "0 and a valid CP56Time2a near the real time",
    cites="IEC 60870-5-101 7.3.4.4 and 7.4.6 (clock synchronisation command, CP56Time2a, IEC 60870-5-4 "
          "6.8); 604 topic: clock synchronisation")
def test_clock_sync_form(open_station: Open, timing: Timing) -> None:
    station = open_station()
    _session(station, timing)
    syncs = [(r, a) for r, a in station.asdus(TypeId.C_CS_NA_1)]
    if not syncs:
        not_applicable(f"the client sent no clock synchronisation (it sent: {log_words(station)})")
    got, asdu = syncs[0]
    assert int(asdu.cause) == Cause.ACTIVATION and len(asdu.objects) == 1 and asdu.objects[0].address == 0
    stamp = asdu.objects[0].elements["time"]
    assert isinstance(stamp, Cp56Time2a) and not stamp.invalid, f"time {stamp}"
    when = stamp.to_datetime()
    utc = dt.datetime.fromtimestamp(got.wall, dt.UTC).replace(tzinfo=None)
    local = dt.datetime.fromtimestamp(got.wall)
    off = min(abs((when - utc).total_seconds()), abs((when - local).total_seconds()))
    assert off <= timing.time_tolerance, (f"the time {when.isoformat()} is {off:.1f} s from the real time "
                                          f"(UTC or local), more than {timing.time_tolerance:g} s")


@pytest.mark.conformance(
    clause="IEC104-C-017", level="shall", title="A counter interrogation is C_CI_NA_1 with cause 6, address "
    "0 and a request qualifier 1..5",
    cites="IEC 60870-5-101 7.2.6.23 (QCC: RQT 1..4 groups, 5 general) and 7.4.8; 604 topic: counter "
          "interrogation")
def test_counter_interrogation_form(open_station: Open, timing: Timing) -> None:
    station = open_station()
    _session(station, timing)
    asks = _requests(station, TypeId.C_CI_NA_1)
    if not asks:
        not_applicable(f"the client sent no counter interrogation (it sent: {log_words(station)})")
    for a in asks:
        assert int(a.cause) == Cause.ACTIVATION and len(a.objects) == 1 and a.objects[0].address == 0
        assert 1 <= a.objects[0].elements["qcc"] & 0x3F <= 5, f"QCC 0x{a.objects[0].elements['qcc']:02x}"


@pytest.mark.conformance(
    clause="IEC104-C-018", level="shall", title="An execute follows its select: same type, address and "
    "value, after a positive ACT_CON",
    cites="IEC 60870-5-101 7.4.7 (select and execute command, S/E): the execute repeats the selected "
          "command; 604 topic: select and execute")
def test_select_then_execute(open_station: Open, timing: Timing) -> None:
    station = open_station()
    _session(station, timing)
    commands = [(r, a) for r, a in station.asdus() if a.type_id in COMMANDS and a.objects
                and int(a.cause) == Cause.ACTIVATION]
    selects = [(r, a) for r, a in commands if a.objects[0].elements.get("select")]
    if not selects:
        not_applicable(f"the client selected no command (it sent: {log_words(station)})")
    for r, select in selects:
        later = [a for rr, a in commands if rr.at > r.at]
        assert later, f"select of {TypeId(select.type_id).name} {select.objects[0].address} with no execute"
        execute = later[0]
        assert not execute.objects[0].elements.get("select"), "a second select instead of an execute"
        assert (execute.type_id, execute.objects[0].address, execute.objects[0].elements.get("value")) == (
            select.type_id, select.objects[0].address, select.objects[0].elements.get("value")), (
            "the execute names another type, address or value than its select")


@pytest.mark.conformance(
    clause="IEC104-C-019", level="shall", title="After a negative confirmation of a select, the client does "
    "not execute, and keeps the connection",
    cites="IEC 60870-5-101 7.2.3 (P/N: negative confirmation) and 7.4.7; 604 topic: negative confirmation")
def test_negative_select(open_station: Open, timing: Timing) -> None:
    def refuse(got: Any) -> bool:
        a = got.asdu
        return a is not None and a.type_id in COMMANDS and bool(a.objects) and bool(
            a.objects[0].elements.get("select"))

    station = open_station(Behaviour(negative=refuse))
    _session(station, timing)
    commands = [(r, a) for r, a in station.asdus() if a.type_id in COMMANDS and a.objects
                and int(a.cause) == Cause.ACTIVATION]
    selects = [(r, a) for r, a in commands if a.objects[0].elements.get("select")]
    if not selects:
        not_applicable(f"the client selected no command (it sent: {log_words(station)})")
    first = selects[0]
    executes = [a for r, a in commands if r.at > first[0].at and not a.objects[0].elements.get("select")
                and a.objects[0].address == first[1].objects[0].address]
    assert not executes, "the client executed a command whose select was refused"
    assert not station.sequence_errors, "; ".join(station.sequence_errors)


@pytest.mark.conformance(
    clause="IEC104-C-020", level="shall", title="An answer with cause 44 (unknown type) does not break the "
    "client's numbering or session",
    cites="IEC 60870-5-101 7.2.3 (cause 44, P/N); IEC 60870-5-104 5.1; 604 topic: unknown type "
          "identification")
def test_cause_44_handled(open_station: Open, timing: Timing) -> None:
    seen: list[int] = []

    def first_only(got: Any) -> bool:
        if got.asdu is not None and not seen:
            seen.append(1)
            return True
        return False

    station = open_station(Behaviour(unknown_type=first_only))
    _session(station, timing)
    if not seen:
        not_applicable(f"the client sent no ASDU to refuse (it sent: {log_words(station)})")
    assert not station.sequence_errors, "; ".join(station.sequence_errors)
    closed_early = station.closed and not station.stopped_before_close() and len(station.i_frames()) < 2
    assert not closed_early, f"the client dropped the connection after cause 44: {log_words(station)}"


@pytest.mark.conformance(
    clause="IEC104-C-021", level="should", title="The client acknowledges the end of initialisation and goes "
    "on with its requests",
    cites="IEC 60870-5-101 7.4.2 (M_EI_NA_1, cause 4): the station's end of initialisation is data like "
          "any other; 604 topic: end of initialisation")
def test_end_of_initialisation(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(end_of_init=True))
    started(station, timing)
    station.serve(lambda s: s.acked_by(0) is not None or s.closed, timing.t2 + timing.tolerance + 1)
    assert station.acked_by(0) is not None, (
        f"the end of initialisation (the station's I frame 0) was not acknowledged within t2 "
        f"(the client sent: {log_words(station)})")
