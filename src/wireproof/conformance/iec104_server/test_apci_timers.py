"""Acknowledgement, the k window and the timers t1, t2, t3 (IEC 60870-5-104 clause 5).

TS 60870-5-604 topics: S frame acknowledgement within t2 or after w I
frames; the maximum number k of unacknowledged I frames; t1 expiry; t3 idle
test frames. These clauses wait for the station's timers: t1 and t3 come
from the interoperability list (or ``--param t1=`` / ``t3=``); a wait
longer than ``max_wait`` is ``inconclusive`` rather than a run of minutes.
The probe's own acknowledgements (``auto_ack``) and TESTFR answers
(``auto_test``) are turned off where the clause is about the station's
reaction to their absence.
"""

from __future__ import annotations

import pytest

from wireproof.codecs.iec104.constants import UFunction
from wireproof.conformance.iec104_server._checks import closes, probe_request, require_wait, started
from wireproof.conformance.iec104_server._connection import Connection
from wireproof.conformance.iec104_server.conftest import Settings
from wireproof.conformance.iec104_server.profile import StationProfile
from wireproof.harness.clauses import attempts, setup_step
from wireproof.harness.plugin import inconclusive

_ACK = "IEC 60870-5-104 9"  # the interoperability list: "maximum number of outstanding I format APDUs k
# and latest acknowledge APDUs w" (the APCI rules themselves: clause 5)
_TIMERS = "IEC 60870-5-104 9"  # the interoperability list: "definition of time outs" t0..t3


@pytest.mark.conformance(
    clause="IEC104-S-021",
    level="shall",
    cites=f"{_ACK} (k and w): the receiver acknowledges at the latest after w I frames; "
    "604 topic: acknowledgement after w",
)
def test_acknowledge_after_w(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """After w I frames from us sent back to back, all are acknowledged (S frame or piggy-backed N(R))
    within response_timeout (and before t2); probed ``attempts`` times on one connection."""
    started(station, iec104_profile)
    limit = min(settings.response_timeout, settings.t2)

    def attempt(i: int) -> None:
        want = station.vs + settings.w
        station.send_bytes(
            b"".join(
                _i_frame(station, probe_request(iec104_profile, settings, n)) for n in range(settings.w)
            ),
            f"{settings.w} I frames at once (N(S) {station.vs}..{want - 1})",
        )
        station.wait_for(lambda: station.acked >= want, limit)
        assert not station.ack_errors, "; ".join(station.ack_errors)
        assert station.acked >= want, (
            f"{limit:g} s after {settings.w} (w) I frames N(R) is {station.acked}, not {want}"
        )

    attempts(station, settings.attempts, attempt, what="w I frames acknowledged")


def _i_frame(station: Connection, asdu: object) -> bytes:
    from wireproof.codecs.iec104.codec import encode_apdu
    from wireproof.codecs.iec104.messages import Asdu, IFrame

    assert isinstance(asdu, Asdu)
    data = encode_apdu(IFrame(send_seq=station.vs, recv_seq=station.vr, asdu=asdu), sizes=station.sizes)
    station.vs += 1
    return data


@pytest.mark.conformance(
    clause="IEC104-S-022",
    level="shall",
    cites=f"{_TIMERS} (time outs): t2, the time-out for acknowledges when there are no data "
    "messages (t2 < t1); 604 topic: acknowledgement within t2",
)
def test_acknowledge_within_t2(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """One I frame from us is acknowledged within t2."""
    require_wait(settings, settings.t2, "the t2 clause")
    started(station, iec104_profile)
    station.send_asdu(probe_request(iec104_profile, settings), "one I frame")
    station.wait_for(lambda: station.acked >= 1, settings.t2 + settings.tolerance)
    assert station.acked >= 1, f"the I frame is not acknowledged within t2 = {settings.t2:g} s"


def _hold_acknowledgements(station: Connection, settings: Settings, profile: StationProfile) -> int:
    """Started, auto-acknowledgement off, k + 4 requests: the station's I frames taken in until it is quiet
    (at most t1 / 2): how many came."""
    started(station, profile)
    station.auto_ack = False
    count = settings.k + 4
    for n in range(count):
        station.send_asdu(
            probe_request(profile, settings, n), f"request {n + 1} of {count}, ours unacknowledged"
        )
    quiet = min(settings.response_timeout, settings.t1 / 4)
    budget = settings.t1 / 2
    from wireproof.harness.suite_support import Deadline

    deadline = Deadline(budget)
    seen = -1
    while station.iframes_received != seen and not deadline.expired:
        seen = station.iframes_received
        station.listen(min(quiet, deadline.remaining()))
    held = station.unacknowledged
    station.note(f"{held} I frame(s) received and not acknowledged (k = {settings.k})")
    return held


@pytest.mark.conformance(
    clause="IEC104-S-023",
    level="shall",
    cites=f"{_ACK} (k and w): a sender stops at k unacknowledged I frames; 604 topic: k window",
)
def test_k_window(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """With k + 4 requests outstanding unacknowledged, the station sends at most k I frames."""
    require_wait(settings, settings.t1 / 2, "holding acknowledgements back (up to t1 / 2)")
    got = _hold_acknowledgements(station, settings, iec104_profile)
    assert got <= settings.k, f"the station has {got} I frames unacknowledged; k = {settings.k}"
    if got < settings.k:
        inconclusive(
            f"the station sent only {got} I frames for {settings.k + 4} requests: the k = {settings.k} "
            "window was not reached"
        )


@pytest.mark.conformance(
    clause="IEC104-S-024",
    level="shall",
    cites=f"{_ACK} (k and w): an acknowledgement reopens the window; 604 topic: k window",
)
def test_k_window_reopens(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """After the station stopped at k, an S frame acknowledging all lets it send the I frames it held."""
    require_wait(settings, settings.t1 / 2, "holding acknowledgements back (up to t1 / 2)")
    with setup_step(station, f"the station stops at k = {settings.k} unacknowledged I frames"):
        got = _hold_acknowledgements(station, settings, iec104_profile)
        assert got == settings.k, f"the station sent {got} I frames, not k = {settings.k}, before our S frame"
    station.auto_ack = True
    total = station.iframes_received
    station.send_s(note=f"acknowledge all {got}")
    station.wait_for(lambda: station.iframes_received > total)
    assert station.iframes_received > total, (
        f"no further I frame within {settings.response_timeout:g} s of the S frame acknowledging all {got}"
    )


@pytest.mark.conformance(
    clause="IEC104-S-025",
    level="shall",
    cites=f"{_TIMERS} (time outs): t1, the time-out of send or test APDUs: an unacknowledged I frame "
    "closes the connection after t1; 604 topic: t1",
)
def test_t1_closes_on_unacknowledged_i_frames(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """The station closes the connection when its I frames stay unacknowledged for t1 (not before
    t1 - tolerance). The clause waits up to t1 + tolerance."""
    require_wait(settings, settings.t1, "the t1 clause")
    started(station, iec104_profile)
    station.auto_ack = False
    station.send_asdu(probe_request(iec104_profile, settings), "one request; its answer is not acknowledged")
    with setup_step(station, "the station answers with an I frame"):
        assert station.wait_for(lambda: station.iframes_received > 0), "no I frame in answer"
    first = next(t for t, apdu in station.timeline if type(apdu).__name__ == "IFrame")
    closes(
        station,
        max(0.0, first + settings.t1 + settings.tolerance - station.clock.elapsed()),
        f"its I frame unacknowledged for t1 = {settings.t1:g} s",
    )
    took = station.clock.elapsed() - first
    assert took >= settings.t1 - settings.tolerance, (
        f"the station closed {took:.1f} s after its unacknowledged I frame, before t1 = {settings.t1:g} s"
    )
    station.note(f"closed {took:.1f} s after the first unacknowledged I frame (t1 = {settings.t1:g} s)")


@pytest.mark.conformance(
    clause="IEC104-S-026",
    level="shall",
    cites=f"{_TIMERS} (time outs): t3, the time-out for sending test frames in case of a long idle "
    "state; 604 topic: t3 test frames",
)
def test_t3_test_frame(station: Connection, settings: Settings, iec104_profile: StationProfile) -> None:
    """After t3 with no frame from us, the station sends TESTFR act (not before t3 - tolerance)."""
    require_wait(settings, settings.t3, "the t3 clause")
    started(station, iec104_profile)
    station.auto_test = False
    if station.unacknowledged:  # an end of initialisation: acknowledged now, not in the middle of the wait
        station.send_s(note="acknowledge what came with the start")
    station.read_u(UFunction.TESTFR_ACT, settings.t3 + settings.tolerance, what="after t3 of silence ")
    idle = station.clock.elapsed() - station.last_sent
    station.send_u(UFunction.TESTFR_CON, "answer the TESTFR act")
    assert idle >= settings.t3 - settings.tolerance, (
        f"TESTFR act came {idle:.1f} s after our last frame, before t3 = {settings.t3:g} s"
    )
    station.note(f"TESTFR act {idle:.1f} s after our last frame (t3 = {settings.t3:g} s)")


@pytest.mark.conformance(
    clause="IEC104-S-027",
    level="shall",
    cites=f"{_TIMERS} (time outs): t1 applies to test APDUs: an unanswered TESTFR act closes the "
    "connection after t1; 604 topic: t1",
)
def test_unanswered_testfr_closes(
    station: Connection, settings: Settings, iec104_profile: StationProfile
) -> None:
    """A TESTFR act from the station left unanswered makes it close the connection t1 later."""
    require_wait(settings, settings.t3 + settings.t1, "the t3 + t1 clause")
    started(station, iec104_profile)
    station.auto_test = False
    if station.unacknowledged:  # an end of initialisation: acknowledged now, not in the middle of the wait
        station.send_s(note="acknowledge what came with the start")
    with setup_step(station, "the station sends TESTFR act after t3"):
        station.read_u(UFunction.TESTFR_ACT, settings.t3 + settings.tolerance, what="after t3 of silence ")
    sent_at = station.clock.elapsed()
    closes(station, settings.t1 + settings.tolerance, f"its TESTFR act unanswered for t1 = {settings.t1:g} s")
    took = station.clock.elapsed() - sent_at
    assert took >= settings.t1 - settings.tolerance, (
        f"the station closed {took:.1f} s after its TESTFR act, before t1 = {settings.t1:g} s"
    )
