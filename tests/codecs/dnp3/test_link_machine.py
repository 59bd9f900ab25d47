"""The DNP3 link stations (IEEE 1815-2012 9.2.6) and the outstation session that stacks every layer."""

from __future__ import annotations

import pytest

from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.database import Database
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.link_machine import LinkLayer, PrimaryState, PrimaryStation, SecondaryState
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, LinkFrame, ObjectHeader
from wireproof.codecs.dnp3.session import OutstationSession
from wireproof.codecs.dnp3.transport import segment

P = PrimaryFunction
S = SecondaryFunction


def primary(function: PrimaryFunction, *, fcb: bool = False, fcv: bool = False, data: bytes = b"",
            destination: int = 10) -> LinkFrame:
    return LinkFrame(dir=True, prm=True, fcb=fcb, fcv=fcv, function=function, destination=destination,
                     source=1, user_data=data)


def secondary(function: SecondaryFunction) -> LinkFrame:
    return LinkFrame(dir=False, prm=False, function=function, destination=10, source=1)


def test_reset_then_confirmed_user_data_checks_the_fcb() -> None:
    link = LinkLayer(10, 1)
    out = link.receive(primary(P.RESET_LINK_STATES), 0.0)
    assert [(f.function, f.prm, f.dir, f.destination) for f in out.frames] == [(S.ACK, False, False, 1)]
    assert link.secondary.state is SecondaryState.RESET
    first = link.receive(primary(P.CONFIRMED_USER_DATA, fcb=True, fcv=True, data=b"a"), 0.0)
    assert [f.function for f in first.frames] == [S.ACK] and first.delivered == [(b"a", False)]
    repeat = link.receive(primary(P.CONFIRMED_USER_DATA, fcb=True, fcv=True, data=b"a"), 0.0)
    assert [f.function for f in repeat.frames] == [S.ACK] and repeat.delivered == []  # 9.2.6.3.3
    second = link.receive(primary(P.CONFIRMED_USER_DATA, fcb=False, fcv=True, data=b"b"), 0.0)
    assert second.delivered == [(b"b", False)]
    link.receive(primary(P.RESET_LINK_STATES), 0.0)
    assert link.receive(primary(P.CONFIRMED_USER_DATA, fcb=True, fcv=True, data=b"c"), 0.0).delivered == \
        [(b"c", False)]


def test_unreset_secondary_ignores_confirmed_data_but_takes_unconfirmed() -> None:
    link = LinkLayer(10, 1)
    out = link.receive(primary(P.CONFIRMED_USER_DATA, fcb=True, fcv=True, data=b"x"), 0.0)
    assert out.frames == [] and out.delivered == []
    assert link.receive(primary(P.TEST_LINK_STATES, fcb=True, fcv=True), 0.0).frames == []
    assert link.receive(primary(P.UNCONFIRMED_USER_DATA, data=b"y"), 0.0).delivered == [(b"y", False)]


def test_link_status_test_link_and_addressing() -> None:
    link = LinkLayer(10, 1)
    status = link.receive(primary(P.REQUEST_LINK_STATUS), 0.0)
    assert [f.function for f in status.frames] == [S.LINK_STATUS]
    assert link.receive(primary(P.UNCONFIRMED_USER_DATA, data=b"z", destination=11), 0.0).delivered == []
    assert link.ignored == 1
    out = link.receive(primary(P.UNCONFIRMED_USER_DATA, data=b"b", destination=0xFFFF), 0.0)
    assert out.delivered == [(b"b", True)]
    out = link.receive(primary(P.CONFIRMED_USER_DATA, fcv=True, data=b"c", destination=0xFFFD), 0.0)
    assert out.frames == []  # a broadcast is never acknowledged
    link.receive(primary(P.RESET_LINK_STATES), 0.0)
    test = link.receive(primary(P.TEST_LINK_STATES, fcb=True, fcv=True), 0.0)
    assert [f.function for f in test.frames] == [S.ACK]
    assert link.secondary.expected_fcb is False


def test_primary_resets_the_link_before_confirmed_data_and_retries() -> None:
    station = PrimaryStation(10, 1, response_timeout=1.0, retries=1)
    out = station.send_user_data(b"d", 0.0, confirmed=True)
    assert [f.function for f in out.frames] == [P.RESET_LINK_STATES]
    assert station.state is PrimaryState.RESET_WAIT
    out = station.receive(secondary(S.ACK), 0.1)
    assert [(f.function, f.fcv, f.fcb, f.user_data) for f in out.frames] == \
        [(P.CONFIRMED_USER_DATA, True, True, b"d")]
    assert station.tick(1.1).frames == out.frames  # the retry repeats the frame, FCB unchanged
    failed = station.tick(2.1)
    assert failed.failures and station.state is PrimaryState.IDLE and not station.link_reset


def test_primary_toggles_fcb_and_resets_on_nack() -> None:
    station = PrimaryStation(10, 1)
    station.send_user_data(b"1", 0.0, confirmed=True)
    station.receive(secondary(S.ACK), 0.0)
    out = station.send_user_data(b"2", 0.0, confirmed=True)
    assert out.frames == []  # queued behind the first
    out = station.receive(secondary(S.ACK), 0.0)
    assert [(f.fcb, f.user_data) for f in out.frames] == [(False, b"2")]
    out = station.receive(secondary(S.NACK), 0.0)
    assert [f.function for f in out.frames] == [P.RESET_LINK_STATES]
    out = station.receive(secondary(S.ACK), 0.0)
    assert [(f.fcb, f.user_data) for f in out.frames] == [(True, b"2")]


def test_primary_link_status_and_unconfirmed() -> None:
    station = PrimaryStation(10, 1)
    assert [f.function for f in station.request_link_status(0.0).frames] == [P.REQUEST_LINK_STATUS]
    assert [f.function for f in station.send_user_data(b"u", 0.0).frames] == [P.UNCONFIRMED_USER_DATA]
    station.receive(LinkFrame(dir=False, prm=False, function=S.LINK_STATUS, destination=10, source=1), 0.0)
    assert station.state is PrimaryState.IDLE


# --- the session: bytes in, bytes out -------------------------------------------------------------


def wire(request: ApplicationRequest, *, destination: int = 10) -> bytes:
    (piece,) = segment(encode_fragment(request))
    return encode_link(primary(P.UNCONFIRMED_USER_DATA, data=piece, destination=destination))


def responses(replies: list[bytes]) -> list[ApplicationResponse]:
    out = []
    for reply in replies:
        frame = decode_link(reply)
        assert (frame.dir, frame.prm, frame.source, frame.destination) == (False, True, 10, 1)
        fragment = decode_fragment(frame.user_data[1:])
        assert isinstance(fragment, ApplicationResponse)
        out.append(fragment)
    return out


def test_session_answers_a_read_split_any_way() -> None:
    db = Database.from_mapping({"analog": {"values": [1, 2, 3], "class": 1}})
    session = OutstationSession(db)
    data = wire(ApplicationRequest(seq=3, objects=(ObjectHeader(group=60, variation=1, qualifier=6),)))
    replies: list[bytes] = []
    for i in range(len(data)):  # byte by byte
        replies += session.receive_data(data[i:i + 1]).replies
    (r,) = responses(replies)
    assert r.seq == 3 and [p.values["value"] for p in r.objects[0].points] == [1, 2, 3]
    out = session.receive_data(data + data)
    assert out.frames == 2 and len(responses(out.replies)) == 2


@pytest.mark.parametrize("damage", [9, 12, -1])  # header CRC, user data, block CRC
def test_session_drops_damaged_frames_and_serves_the_next(damage: int) -> None:
    session = OutstationSession(Database.from_mapping({"binary": {"values": [True]}}))
    good = wire(ApplicationRequest(seq=1, function=FunctionCode.READ))
    bad = bytearray(good)
    bad[damage] ^= 0xFF
    out = session.receive_data(bytes(bad))
    assert out.replies == [] and out.errors and session.garbage > 0
    out = session.receive_data(good)
    assert len(responses(out.replies)) == 1 and session.garbage == 0


def test_session_ignores_other_destinations_and_answers_link_services() -> None:
    session = OutstationSession(Database.from_mapping({"binary": {"values": [True]}}))
    assert session.receive_data(wire(ApplicationRequest(), destination=11)).replies == []
    out = session.receive_data(encode_link(primary(P.REQUEST_LINK_STATUS)))
    assert [decode_link(r).function for r in out.replies] == [S.LINK_STATUS]


def test_session_max_frames_budget() -> None:
    session = OutstationSession(Database.from_mapping({"binary": {"values": [True]}}))
    data = wire(ApplicationRequest(seq=1)) * 3
    out = session.receive_data(data, max_frames=2)
    assert out.frames == 2 and out.more
    assert session.receive_data(b"", max_frames=2).frames == 1
