"""The APCI as a controlling station keeps it (IEC 60870-5-104 clause 5; TS 60870-5-604 topics: start of
data transfer, sequence numbers, acknowledgement, test frames, the timers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wireproof.codecs.iec104.constants import Cause, UFunction
from wireproof.codecs.iec104.messages import Asdu, IFrame, InformationObject, Quality, SFrame, UFrame
from wireproof.conformance.iec104_client._checks import QUIET, Timing, settled, started
from wireproof.conformance.iec104_client._station import Behaviour, Station, log_words
from wireproof.harness.plugin import inconclusive, not_applicable

Open = Callable[..., Station]


@pytest.fixture(scope="session")
def timing(c104_params: dict[str, Any]) -> Timing:
    return Timing.of(c104_params)


@pytest.mark.conformance(
    clause="IEC104-C-001", level="shall", title="After connecting, the client starts data transfer with "
    "STARTDT act, before any I frame",
    cites="IEC 60870-5-104 5.3: the controlling station starts data transfer with STARTDT act; "
          "604 topic: start of data transfer")
def test_startdt_first(open_station: Open, timing: Timing) -> None:
    station = open_station()
    station.serve(lambda s: bool(s.log), timing.response + 5)
    if not station.log:
        pytest.fail(f"the client sent nothing within {timing.response + 5:g} s of connecting"
                    + (" and closed the connection" if station.closed else ""))
    first = station.log[0]
    assert first.is_u(UFunction.STARTDT_ACT), (
        f"the client's first APDU is not STARTDT act: {log_words(station)}")


@pytest.mark.conformance(
    clause="IEC104-C-002", level="shall", title="The client sends no I frame before STARTDT con",
    cites="IEC 60870-5-104 5.3: I frames are exchanged only after STARTDT act has been confirmed; "
          "604 topic: data in STOPDT state")
def test_no_data_before_startdt_con(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(startdt_delay=1.5))
    station.serve(lambda s: s.data_started, timing.response + 5)
    early = [r for r in station.log if isinstance(r.apdu, IFrame)
             and (station.startdt_con_at is None or r.at < station.startdt_con_at)]
    assert not early, (f"{len(early)} I frame(s) before STARTDT con (it was held back 1.5 s): "
                       f"{log_words(station)}")


@pytest.mark.conformance(
    clause="IEC104-C-003", level="shall", title="The client answers TESTFR act with TESTFR con",
    cites="IEC 60870-5-104 5.3: TESTFR act is answered by TESTFR con; 604 topic: test frames")
def test_testfr_answered(open_station: Open, timing: Timing) -> None:
    station = open_station()
    settled(station, timing)
    station.send_apdu(UFrame(function=UFunction.TESTFR_ACT), "the station tests the connection")
    asked = station.clock()
    station.serve(lambda s: bool(s.u_frames(UFunction.TESTFR_CON)), timing.t1)
    con = station.u_frames(UFunction.TESTFR_CON)
    assert con, f"no TESTFR con within t1 = {timing.t1:g} s (the client sent: {log_words(station)})"
    assert con[0].at - asked <= timing.t1


@pytest.mark.conformance(
    clause="IEC104-C-004", level="shall", title="The client numbers its I frames from 0, one up each, "
    "modulo 32768",
    cites="IEC 60870-5-104 5.1: the send sequence number N(S) starts at 0 on a new connection and "
          "counts each I frame; 604 topic: sequence numbers")
def test_send_numbering(open_station: Open, timing: Timing) -> None:
    station = open_station()
    settled(station, timing, connected=False)
    if not station.i_frames():
        not_applicable(f"the client sent no I frame (it sent: {log_words(station)})")
    errors = [e for e in station.sequence_errors if "N(S)" in e]
    assert not errors, "; ".join(errors)


@pytest.mark.conformance(
    clause="IEC104-C-005", level="shall", title="The client's N(R) acknowledges only I frames the station "
    "sent, never going back",
    cites="IEC 60870-5-104 5.1, 5.2: N(R) is the number of the next I frame expected, acknowledging all "
          "before it; 604 topic: sequence numbers")
def test_receive_numbering(open_station: Open, timing: Timing) -> None:
    station = open_station()
    settled(station, timing, connected=False)
    errors = [e for e in station.sequence_errors if "N(R)" in e]
    assert not errors, "; ".join(errors)


@pytest.mark.conformance(
    clause="IEC104-C-006", level="shall", title="The client acknowledges at the latest after w I frames",
    cites="IEC 60870-5-104 5.2 and clause 9 (parameter w): the receiver acknowledges at the latest after "
          "w I frames; 604 topic: acknowledgement")
def test_ack_after_w(open_station: Open, timing: Timing) -> None:
    station = open_station()
    settled(station, timing)
    # frames the client has not acknowledged yet count towards w: fill up to exactly w
    pending = len(station.sent) - station.client_acked
    n = max(1, timing.w - pending)
    station.spontaneous(n, f"{n} spontaneous I frames: with the {pending} not yet acknowledged, "
                           f"w = {timing.w}")
    last = len(station.sent) - 1
    wait = timing.t2 / 2  # well before t2: the w rule, not the t2 timer, must make the acknowledgement
    station.serve(lambda s: s.acked_by(last) is not None, wait)
    ack = station.acked_by(last)
    assert ack is not None, (f"{timing.w} I frames unacknowledged and no acknowledgement within {wait:g} s "
                             f"(t2/2; the client sent: {log_words(station)})")


@pytest.mark.conformance(
    clause="IEC104-C-007", level="shall", title="The client acknowledges a single I frame within t2",
    cites="IEC 60870-5-104 5.5 (t2): received I frames are acknowledged at the latest t2 after the first "
          "unacknowledged one; 604 topic: acknowledgement, t2")
def test_ack_within_t2(open_station: Open, timing: Timing) -> None:
    station = open_station()
    settled(station, timing)
    [sent] = station.spontaneous(1, "one spontaneous I frame")
    station.serve(lambda s: s.acked_by(sent.number) is not None, timing.t2 + timing.tolerance)
    ack = station.acked_by(sent.number)
    assert ack is not None, (f"the I frame was not acknowledged within t2 = {timing.t2:g} s (+ "
                             f"{timing.tolerance:g} s) (the client sent: {log_words(station)})")


@pytest.mark.conformance(
    clause="IEC104-C-008", level="shall", title="The client sends TESTFR act after t3 without traffic",
    cites="IEC 60870-5-104 5.5 (t3): after t3 with no frame the connection is tested with TESTFR act; "
          "604 topic: test frames, t3")
def test_t3_test_frame(open_station: Open, timing: Timing) -> None:
    station = open_station()
    settled(station, timing)
    quiet_from = max([station.last_sent_at] + [r.at for r in station.log])
    station.serve(lambda s: bool(s.u_frames(UFunction.TESTFR_ACT)), timing.t3 + timing.tolerance + QUIET)
    acts = station.u_frames(UFunction.TESTFR_ACT)
    if not acts and station.closed:
        inconclusive(f"the client closed the connection {station.closed_at - quiet_from:.1f} s into the "
                     f"silence, before t3 = {timing.t3:g} s: nothing to judge (give it a longer session)"
                     if station.closed_at is not None else "the client closed the connection")
    assert acts, f"no TESTFR act within t3 = {timing.t3:g} s (+ {timing.tolerance:g} s) of silence"
    gap = acts[0].at - quiet_from
    assert gap >= timing.t3 - timing.tolerance, f"TESTFR act after {gap:.2f} s of silence, before t3"


@pytest.mark.conformance(
    clause="IEC104-C-009", level="shall", title="A wrong N(S) from the station makes the client close the "
    "connection",
    cites="IEC 60870-5-104 5.1: a sequence number error closes the connection; 604 topic: sequence "
          "number errors")
def test_sequence_error_closes(open_station: Open, timing: Timing) -> None:
    station = open_station()
    settled(station, timing)
    wrong = (len(station.sent) + 5) % 32768
    station.send_i(Asdu(type_id=1, cause=Cause.SPONTANEOUS, common_address=station.common_address,
                        objects=(InformationObject(address=1001, elements={"value": True,
                                                                          "quality": Quality(0)}),)),
                   f"N(S)={wrong}: out of sequence on purpose", send_seq=wrong)
    station.serve(lambda s: s.closed, timing.t1 + timing.tolerance)
    assert station.closed, (f"the client kept the connection open {timing.t1 + timing.tolerance:g} s after "
                            f"an I frame with N(S)={wrong} (it sent: {log_words(station)})")


@pytest.mark.conformance(
    clause="IEC104-C-010", level="shall", title="The client closes the connection when its I frames stay "
    "unacknowledged for t1",
    cites="IEC 60870-5-104 5.5 (t1): an I frame not acknowledged within t1 closes the connection; "
          "604 topic: t1")
def test_t1_closes(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(acknowledge=False, answer_testfr=True))
    started(station, timing)
    station.serve(lambda s: bool(s.i_frames()) or s.closed, timing.response + 5)
    frames = station.i_frames()
    if not frames:
        not_applicable(f"the client sent no I frame to leave unacknowledged (it sent: {log_words(station)})")
    station.serve(lambda s: s.closed, timing.t1 + timing.tolerance + timing.response)
    assert station.closed and station.closed_at is not None, (
        f"the client kept the connection {timing.t1 + timing.tolerance:g} s with its I frame unacknowledged "
        f"(it sent: {log_words(station)})")
    held = station.closed_at - frames[0].at
    if held < timing.t1 - timing.tolerance:
        # a client may close whenever it likes (its session ended): that says nothing about t1
        inconclusive(f"the client closed {held:.2f} s after its unacknowledged I frame, before t1 = "
                     f"{timing.t1:g} s (it ended its session for another reason); t1 could not be judged")


@pytest.mark.conformance(
    clause="IEC104-C-011", level="shall", title="The client has at most k I frames unacknowledged",
    cites="IEC 60870-5-104 5.6 and clause 9 (parameter k): the sender stops at k unacknowledged I frames; "
          "604 topic: the k window")
def test_k_window(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(acknowledge=False))
    started(station, timing)
    station.serve_quiet(QUIET, timing.response + 10)
    count = len(station.i_frames())
    if count == 0:
        not_applicable(f"the client sent no I frame (it sent: {log_words(station)})")
    assert count <= timing.k, f"{count} I frames sent with none acknowledged (k = {timing.k})"


@pytest.mark.conformance(
    clause="IEC104-C-012", level="shall", title="Before STOPDT act, the client acknowledges every I frame "
    "received",
    cites="IEC 60870-5-104 5.3: the controlling station acknowledges the received I frames before it "
          "stops data transfer; 604 topic: STOPDT")
def test_stopdt_after_acknowledging(open_station: Open, timing: Timing) -> None:
    station = open_station()
    started(station, timing)
    station.serve(lambda s: bool(s.u_frames(UFunction.STOPDT_ACT)) or s.closed, timing.response + 30)
    stops = station.u_frames(UFunction.STOPDT_ACT)
    if not stops:
        not_applicable(f"the client did not stop data transfer (it sent: {log_words(station)})")
    stop = stops[0]
    before = station.log[:station.log.index(stop)]
    acks = [r for r in before if isinstance(r.apdu, IFrame | SFrame)]
    sent = stop.station_sent
    acked = 0
    for r in acks:
        nr = r.apdu.recv_seq  # type: ignore[union-attr]
        acked = max(acked, r.station_sent - ((r.station_sent - nr) % 32768))
    assert acked >= sent, f"STOPDT act with {sent - acked} of the station's {sent} I frames unacknowledged"
