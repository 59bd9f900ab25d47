"""APCI clauses (IEC 60870-5-104 clause 5): framing, control field formats, transmission control, numbering.

TS 60870-5-604 topics: start character and length; control field formats;
STARTDT/STOPDT/TESTFR and data in the stopped state; send and receive
sequence numbers and their errors. A frame the station must refuse is one
whose only correct answer is closing the connection (104 5.1: the APCI has
no resynchronisation), so those clauses wait ``response_timeout`` for the
close.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wireproof.codecs.iec104.constants import Cause, UFunction
from wireproof.codecs.iec104.messages import Asdu, IFrame
from wireproof.conformance.iec104_server._checks import (
    closes,
    confirm_of,
    interrogation,
    started,
    stopped_state,
)
from wireproof.conformance.iec104_server._connection import Connection
from wireproof.conformance.iec104_server.conftest import Settings
from wireproof.conformance.iec104_server.profile import StationProfile
from wireproof.harness.clauses import setup_step

_START = "IEC 60870-5-104 5.1"
_U = "IEC 60870-5-104 5.3"


def _closes_on(station: Connection, settings: Settings, data: bytes, what: str) -> None:
    station.send_bytes(data, what)
    closes(station, settings.response_timeout + settings.tolerance, what)


# --------------------------------------------------------------------------- start character and length


@pytest.mark.conformance(
    clause="IEC104-S-001",
    level="shall",
    cites=f"{_START}: an APDU starts with the start character 68H; 604 topic: start character",
)
def test_bad_start_character_closes(station: Connection, settings: Settings) -> None:
    """An APDU with start character 0x67 instead of 0x68 makes the station close the connection."""
    _closes_on(station, settings, bytes((0x67, 4, 0x43, 0, 0, 0)), "a TESTFR act with start character 0x67")


@pytest.mark.conformance(
    clause="IEC104-S-002",
    level="shall",
    cites=f"{_START}: the length of the APDU is 4..253; 604 topic: APDU length",
)
def test_length_below_four_closes(station: Connection, settings: Settings) -> None:
    """An APDU whose length octet says 3 (less than the four control octets) makes the station close."""
    _closes_on(station, settings, bytes((0x68, 3, 0x43, 0, 0)), "an APDU with length 3")


@pytest.mark.conformance(
    clause="IEC104-S-003",
    level="shall",
    cites=f"{_START}: the maximum length of the APDU is 253; 604 topic: APDU length",
)
def test_length_above_253_closes(station: Connection, settings: Settings) -> None:
    """An APDU whose length octet says 254 makes the station close the connection."""
    _closes_on(station, settings, bytes((0x68, 254, 0, 0, 0, 0)) + bytes(252), "an APDU with length 254")


# --------------------------------------------------------------------------- control field formats


@pytest.mark.conformance(
    clause="IEC104-S-004",
    level="shall",
    cites=f"{_U}: a U format APDU activates exactly one of STARTDT, STOPDT, TESTFR; "
    "604 topic: control field formats",
)
def test_u_format_without_function_closes(station: Connection, settings: Settings) -> None:
    """A U format APDU naming no function (control octet 0x03) makes the station close the connection."""
    _closes_on(station, settings, bytes((0x68, 4, 0x03, 0, 0, 0)), "a U format APDU with no function bit")


@pytest.mark.conformance(
    clause="IEC104-S-005",
    level="shall",
    cites=f"{_U}: only one of the U functions may be active at a time; 604 topic: control field formats",
)
def test_u_format_two_functions_closes(station: Connection, settings: Settings) -> None:
    """A U format APDU with STARTDT act and TESTFR act both set (0x47) makes the station close."""
    _closes_on(
        station, settings, bytes((0x68, 4, 0x47, 0, 0, 0)), "a U format APDU with STARTDT act + TESTFR act"
    )


# --------------------------------------------------------------------------- STARTDT / STOPDT / TESTFR


@pytest.mark.conformance(
    clause="IEC104-S-006",
    level="shall",
    cites=f"{_U}: STARTDT act is answered by STARTDT con; 604 topic: STARTDT",
)
def test_startdt_confirmed(station: Connection) -> None:
    """STARTDT act is answered by STARTDT con."""
    station.send_u(UFunction.STARTDT_ACT)
    station.read_u(UFunction.STARTDT_CON, what="in answer to STARTDT act ")


@pytest.mark.conformance(
    clause="IEC104-S-007",
    level="shall",
    cites=f"{_U}: TESTFR act is answered by TESTFR con, also while data transfer is "
    "stopped; 604 topic: TESTFR",
)
def test_testfr_confirmed_when_stopped(station: Connection) -> None:
    """Before STARTDT (data transfer stopped), TESTFR act is answered by TESTFR con."""
    station.send_u(UFunction.TESTFR_ACT)
    station.read_u(UFunction.TESTFR_CON, what="in answer to TESTFR act ")


@pytest.mark.conformance(
    clause="IEC104-S-008",
    level="shall",
    cites=f"{_U}: TESTFR act is answered by TESTFR con; 604 topic: TESTFR",
)
def test_testfr_confirmed_when_started(station: Connection, iec104_profile: StationProfile) -> None:
    """After STARTDT, TESTFR act is answered by TESTFR con."""
    started(station, iec104_profile)
    station.send_u(UFunction.TESTFR_ACT)
    station.read_u(UFunction.TESTFR_CON, what="in answer to TESTFR act ")


@pytest.mark.conformance(
    clause="IEC104-S-009",
    level="shall",
    cites=f"{_U}: STOPDT act is answered by STOPDT con; 604 topic: STOPDT",
)
def test_stopdt_confirmed(station: Connection, iec104_profile: StationProfile) -> None:
    """After STARTDT, STOPDT act is answered by STOPDT con."""
    started(station, iec104_profile)
    station.stop()  # acknowledges what came first: STOPDT is confirmed once the station's I frames are


@pytest.mark.conformance(
    clause="IEC104-S-010",
    level="shall",
    cites=f"{_U}: data transfer starts only with STARTDT; 604 topic: data in STOPDT state",
)
def test_no_i_frames_before_startdt(station: Connection, settings: Settings) -> None:
    """After connecting, the station sends no I frame while data transfer is not started."""
    station.open()
    station.listen(settings.response_timeout)
    assert station.iframes_received == 0, (
        f"the station sent {station.iframes_received} I frame(s) before STARTDT (first: "
        f"{[str(a.type_id) for _, a in station.asdus][:3]})"
    )


@pytest.mark.conformance(
    clause="IEC104-S-011",
    level="shall",
    cites=f"{_U}: I frames are exchanged only after STARTDT; 604 topic: data in STOPDT "
    "state (an I frame while stopped closes the connection)",
)
def test_i_frame_before_startdt_closes(station: Connection, settings: Settings) -> None:
    """An I frame (a station interrogation) before STARTDT makes the station close the connection."""
    station.send_asdu(interrogation(settings.common_address), "C_IC_NA_1 before STARTDT")
    closes(station, settings.response_timeout + settings.tolerance, "an I frame before STARTDT")


@pytest.mark.conformance(
    clause="IEC104-S-012",
    level="shall",
    cites=f"{_U}: after STOPDT con the station sends no I frames; U frames go on; "
    "604 topic: data in STOPDT state",
)
def test_stopped_station_sends_no_data(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """After STOPDT con the station sends no I frame, and TESTFR act is still answered."""
    stopped_state(station, iec104_profile)
    before = station.iframes_received
    station.listen(settings.response_timeout)
    assert station.iframes_received == before, (
        f"the station sent I frame(s) after STOPDT con: {[str(a.type_id) for _, a in station.asdus][:3]}"
    )
    station.send_u(UFunction.TESTFR_ACT)
    station.read_u(UFunction.TESTFR_CON, what="in answer to TESTFR act after STOPDT ")


@pytest.mark.conformance(
    clause="IEC104-S-013",
    level="shall",
    cites=f"{_U}: in the stopped state I frames are not accepted; 604 topic: data in STOPDT state",
)
def test_i_frame_after_stopdt_closes(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """An I frame after STOPDT con makes the station close the connection."""
    stopped_state(station, iec104_profile)
    station.send_asdu(interrogation(settings.common_address), "C_IC_NA_1 after STOPDT con")
    closes(station, settings.response_timeout + settings.tolerance, "an I frame after STOPDT con")


@pytest.mark.conformance(
    clause="IEC104-S-014",
    level="shall",
    cites=f"{_U}: STARTDT after STOPDT restarts data transfer; 604 topic: STARTDT/STOPDT",
)
def test_restart_after_stopdt(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """STARTDT after STOPDT is confirmed and a station interrogation is then confirmed."""
    stopped_state(station, iec104_profile)
    station.start()
    request = interrogation(settings.common_address)
    station.send_asdu(request, "station interrogation after the restart")
    confirm_of(station, request, "station interrogation")


# --------------------------------------------------------------------------- sequence numbers


@pytest.mark.conformance(
    clause="IEC104-S-015",
    level="shall",
    cites=f"{_START}: the send sequence number starts at 0 and counts each I frame "
    "modulo 32768; 604 topic: sequence numbers",
)
def test_send_sequence_numbers(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """The station's first I frame on a connection has N(S)=0, each next one N(S)+1."""
    started(station)
    request = interrogation(settings.common_address)
    station.send_asdu(request, "station interrogation")
    station.wait_for(lambda: any(a.cause == Cause.ACTIVATION_TERMINATION for _, a in station.asdus))
    assert station.timeline, "no APDU received"
    first = next((apdu for _, apdu in station.timeline if isinstance(apdu, IFrame)), None)
    assert first is not None, "the station sent no I frame after a station interrogation"
    assert first.send_seq == 0, f"the first I frame has N(S)={first.send_seq}, not 0"
    assert not station.sequence_errors, "; ".join(station.sequence_errors)


@pytest.mark.conformance(
    clause="IEC104-S-016",
    level="shall",
    cites=f"{_START}: N(R) acknowledges the I frames received up to N(R)-1; 604 topic: sequence numbers",
)
def test_receive_sequence_numbers(station: Connection, settings: Settings) -> None:
    """The station's N(R) acknowledges our I frames: after one I frame, N(R)=1 (never more)."""
    started(station)
    request = interrogation(settings.common_address)
    station.send_asdu(request, "station interrogation (our N(S)=0)")
    confirm_of(station, request, "station interrogation")
    station.wait_for(lambda: station.acked >= 1, settings.t2 + settings.tolerance)
    assert not station.ack_errors, "; ".join(station.ack_errors)
    assert station.acked == 1, f"the station's N(R) is {station.acked} after our one I frame, not 1"


def _closes_after_i(station: Connection, settings: Settings, what: str, send: Callable[[], None]) -> None:
    started(station)
    send()
    closes(station, settings.response_timeout + settings.tolerance, what)


@pytest.mark.conformance(
    clause="IEC104-S-017",
    level="shall",
    cites=f"{_START}: an I frame whose N(S) is not the expected one is a sequence "
    "error: the connection is closed; 604 topic: sequence number errors",
)
def test_wrong_send_sequence_closes(station: Connection, settings: Settings) -> None:
    """An I frame with N(S)=5 as the first I frame makes the station close the connection."""
    _closes_after_i(
        station,
        settings,
        "an I frame with N(S)=5 where 0 is due",
        lambda: station.send_asdu(interrogation(settings.common_address), "N(S)=5, 0 is due", send_seq=5),
    )


@pytest.mark.conformance(
    clause="IEC104-S-018",
    level="shall",
    cites=f"{_START}: an N(R) acknowledging I frames never sent is a sequence error: "
    "the connection is closed; 604 topic: sequence number errors",
)
def test_i_frame_acknowledging_unsent_closes(station: Connection, settings: Settings) -> None:
    """An I frame with N(R)=100 (the station sent none) makes the station close the connection."""
    _closes_after_i(
        station,
        settings,
        "an I frame with N(R)=100 while the station sent no I frame",
        lambda: station.send_asdu(interrogation(settings.common_address), "N(R)=100", recv_seq=100),
    )


@pytest.mark.conformance(
    clause="IEC104-S-019",
    level="shall",
    cites=f"{_START}: an N(R) acknowledging I frames never sent is a sequence error: "
    "the connection is closed; 604 topic: sequence number errors",
)
def test_s_frame_acknowledging_unsent_closes(station: Connection, settings: Settings) -> None:
    """An S frame with N(R)=100 (the station sent none) makes the station close the connection."""
    _closes_after_i(
        station,
        settings,
        "an S frame with N(R)=100 while the station sent no I frame",
        lambda: station.send_s(100, "N(R)=100"),
    )


@pytest.mark.conformance(
    clause="IEC104-S-020",
    level="shall",
    cites=f"{_START}: sequence numbers start at 0 on each new connection; 604 topic: sequence numbers",
)
def test_new_connection_restarts_numbering(connect: Callable[[str], Connection], settings: Settings) -> None:
    """After a connection that exchanged I frames is closed, a new one's first I frame has N(S)=0 N(R)=1."""
    first = connect("connection 1")
    with setup_step(first, "a station interrogation on a first connection, then close it"):
        started(first)
        request = interrogation(settings.common_address)
        first.send_asdu(request, "station interrogation")
        confirm_of(first, request, "station interrogation")
        first.close()
    second = connect("connection 2")
    started(second)
    request = interrogation(settings.common_address)
    second.send_asdu(request, "station interrogation on the new connection (N(S)=0)")
    confirm_of(second, request, "station interrogation")
    frames = [apdu for _, apdu in second.timeline if isinstance(apdu, IFrame)]
    first_ns = frames[0].send_seq
    con = next(f for f in frames if isinstance(f.asdu, Asdu) and f.asdu.cause == Cause.ACTIVATION_CON)
    assert first_ns == 0, f"the first I frame on the new connection has N(S)={first_ns}, not 0"
    assert con.recv_seq == 1, f"the ACT_CON on the new connection has N(R)={con.recv_seq}, not 1"
