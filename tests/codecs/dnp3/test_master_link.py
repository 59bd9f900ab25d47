"""The DNP3 master on the link-layer machine (MasterLink over link_machine), sans-I/O.

Each test plays the outstation's link end by hand: it decodes the link frames
the master writes and answers them (ACK, NACK, nothing), with the time as an
input, and checks the frames (function, FCB, FCV) and the task results.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs import NEED_DATA
from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    ObjectHeader,
    Point,
)
from wireproof.codecs.dnp3.transport import Reassembler, segment
from wireproof.errors import LocalProtocolError

P, S = PrimaryFunction, SecondaryFunction
ANALOG = ObjectHeader(group=30, variation=1, qualifier=0x00, start=0, stop=0,
                      points=(Point(index=0, values={"flags": 0x01, "value": 100}),))


def frames(effects: list[M.Effect]) -> list[LinkFrame]:
    framer = LinkFramer()
    for e in effects:
        if isinstance(e, M.SendBytes):
            framer.feed(e.data)
    out = []
    while (raw := framer.next_frame()) is not NEED_DATA:
        out.append(decode_link(bytes(raw)))
    return out


def of(effects: list[M.Effect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def answer(function: SecondaryFunction) -> bytes:
    return encode_link(LinkFrame(dir=False, prm=False, function=function, destination=1, source=10))


def from_outstation(fragment: bytes, *, function: PrimaryFunction = P.UNCONFIRMED_USER_DATA,
                    fcb: bool = False, tseq: int = 0) -> bytes:
    fcv = function == P.CONFIRMED_USER_DATA
    return b"".join(encode_link(LinkFrame(dir=False, prm=True, fcv=fcv, fcb=fcb and fcv, function=function,
                                          destination=1, source=10, user_data=piece))
                    for piece in segment(fragment, seq=tseq))


def request_of(frame: LinkFrame) -> ApplicationRequest:
    fragment = Reassembler().feed(frame.user_data)
    assert fragment is not None
    decoded = decode_fragment(fragment)
    assert isinstance(decoded, ApplicationRequest)
    return decoded


def response(seq: int, *objects: ObjectHeader, uns: bool = False, con: bool = False) -> bytes:
    function = FunctionCode.UNSOLICITED_RESPONSE if uns else FunctionCode.RESPONSE
    return encode_fragment(ApplicationResponse(fir=True, fin=True, seq=seq, uns=uns, con=con,
                                               function=function, objects=objects))


def confirmed_link(**kwargs: Any) -> M.MasterLink:
    return M.MasterLink(master=M.Dnp3Master(M.MasterConfig(response_timeout=5.0)), confirmed=True,
                        link_timeout=1.0, link_retries=2, **kwargs)


def test_unconfirmed_by_default_and_no_link_reset() -> None:
    link = M.MasterLink()
    [frame] = frames(link.send(M.integrity_poll(), 0.0))
    assert (frame.function, frame.fcv, frame.dir, frame.prm) == (P.UNCONFIRMED_USER_DATA, False, True, True)
    assert link.next_deadline() == 5.0  # the application response timeout only: no link timer


def test_confirmed_link_resets_first_then_alternates_the_fcb() -> None:
    link = confirmed_link()
    out = link.send(M.integrity_poll(), 0.0)
    [reset] = frames(out)
    assert reset.function == P.RESET_LINK_STATES and reset.dir and not reset.fcv
    [carrier] = of(out, M.SendBytes)
    assert carrier.fragment is not None and carrier.fragment.function == FunctionCode.READ
    assert link.next_deadline() == 1.0  # the link response timeout; the master's timer waits
    [data] = frames(link.receive_data(answer(S.ACK), 0.1))
    assert (data.function, data.fcv, data.fcb) == (P.CONFIRMED_USER_DATA, True, True)
    seq = request_of(data).seq
    assert link.receive_data(answer(S.ACK), 0.2) == []
    assert link.next_deadline() == pytest.approx(5.2)  # the response timer starts once the ACK came
    out = link.receive_data(from_outstation(response(seq, ANALOG)), 0.3)
    [result] = of(out, M.TaskResult)
    assert result.ok and of(out, M.PointUpdate)
    fcbs = []
    for k in range(3):
        [data] = frames(link.send(M.class_poll(1), 1.0 + k))
        fcbs.append(data.fcb)
        assert data.function == P.CONFIRMED_USER_DATA  # the link stays reset: no second reset
        link.receive_data(answer(S.ACK), 1.1 + k)
        link.receive_data(from_outstation(response(request_of(data).seq), tseq=k + 1), 1.2 + k)
    assert fcbs == [False, True, False]


def test_unanswered_frame_is_repeated_with_the_same_fcb_then_the_task_fails() -> None:
    link = confirmed_link()
    link.send(M.integrity_poll(), 0.0)
    [first] = frames(link.receive_data(answer(S.ACK), 0.0))
    [again] = frames(link.tick(1.0))  # the link response timeout: the same frame, FCB unchanged
    assert again == first and again.fcb is True
    assert frames(link.tick(1.5)) == []
    [third] = frames(link.tick(2.0))
    assert third == first
    assert not of(link.tick(2.5), M.TaskResult)  # the master's own timeout does not run meanwhile
    out = link.tick(3.0)  # retries exhausted
    [result] = of(out, M.TaskResult)
    assert not result.ok and result.cause is M.FailureCause.LINK
    assert "CONFIRMED_USER_DATA" in result.reason and "2 retries" in result.reason
    assert "9.2.6.2" in result.reason
    assert not link.master.busy and link.next_deadline() is None
    # the next task starts over with a link reset
    [reset] = frames(link.send(M.class_poll(1), 4.0))
    assert reset.function == P.RESET_LINK_STATES


def test_unanswered_reset_fails_the_task_and_the_next_task_runs() -> None:
    link = confirmed_link()
    link.send(M.integrity_poll(), 0.0)
    link.send(M.class_poll(1), 0.0)
    resets = [f.function for t in (1.0, 2.0) for f in frames(link.tick(t))]
    assert resets == [P.RESET_LINK_STATES] * 2
    out = link.tick(3.0)
    [result] = of(out, M.TaskResult)
    assert result.task.kind is M.TaskKind.INTEGRITY and result.cause is M.FailureCause.LINK
    assert [f.function for f in frames(out)] == [P.RESET_LINK_STATES]  # the class poll's turn


def test_nack_resets_the_link_and_sends_the_frame_again() -> None:
    link = confirmed_link()
    link.send(M.integrity_poll(), 0.0)
    [data] = frames(link.receive_data(answer(S.ACK), 0.0))
    [reset] = frames(link.receive_data(answer(S.NACK), 0.1))
    assert reset.function == P.RESET_LINK_STATES
    [again] = frames(link.receive_data(answer(S.ACK), 0.2))
    assert again.function == P.CONFIRMED_USER_DATA and again.fcb is True and again.user_data == data.user_data


def test_multi_segment_request_waits_for_each_ack() -> None:
    link = confirmed_link()
    big = tuple(M.crob(i, 3) for i in range(30))  # > one 249-octet segment
    out = link.send(M.direct_operate(*big), 0.0)
    assert [f.function for f in frames(out)] == [P.RESET_LINK_STATES]
    segments = []
    for t in (0.1, 0.2, 0.3):
        got = frames(link.receive_data(answer(S.ACK), t))
        segments += got
        if not got:
            break
    assert len(segments) >= 2 and [f.fcb for f in segments] == [k % 2 == 0 for k in range(len(segments))]


def test_segments_behind_a_failed_one_are_dropped() -> None:
    link = confirmed_link()
    big = tuple(M.crob(i, 3) for i in range(30))
    link.send(M.direct_operate(*big), 0.0)
    link.receive_data(answer(S.ACK), 0.0)  # the reset; the first segment goes
    for t in (1.0, 2.0):
        link.tick(t)
    out = link.tick(3.0)
    assert of(out, M.TaskResult)[0].cause is M.FailureCause.LINK
    assert frames(out) == [] and not link.link.primary.busy


def test_outstation_confirmed_frames_go_through_the_secondary_station() -> None:
    link = M.MasterLink()
    reset = encode_link(LinkFrame(dir=False, prm=True, function=P.RESET_LINK_STATES, destination=1,
                                  source=10))
    [ack] = frames(link.receive_data(reset, 0.0))
    assert (ack.function, ack.prm, ack.dir, ack.destination) == (S.ACK, False, True, 10)
    unsol = from_outstation(response(3, ANALOG, uns=True, con=True), function=P.CONFIRMED_USER_DATA, fcb=True)
    out = link.receive_data(unsol, 0.1)
    link_frames = frames(out)
    assert [f.function for f in link_frames] == [S.ACK, P.UNCONFIRMED_USER_DATA]  # ACK, then the app CONFIRM
    assert len(of(out, M.PointUpdate)) == 1
    out = link.receive_data(unsol, 0.2)  # the ACK was lost: the same FCB again
    assert [f.function for f in frames(out)] == [S.ACK] and not of(out, M.PointUpdate)
    assert any("9.2.6.3.3" in n.clause for n in of(out, M.Notice))
    other = from_outstation(response(4, ANALOG, uns=True), function=P.CONFIRMED_USER_DATA, fcb=False, tseq=1)
    assert len(of(link.receive_data(other, 0.3), M.PointUpdate)) == 1


def test_test_link_states_and_link_status_are_answered() -> None:
    link = M.MasterLink()
    status = encode_link(LinkFrame(dir=False, prm=True, function=P.REQUEST_LINK_STATUS, destination=1,
                                   source=10))
    assert [f.function for f in frames(link.receive_data(status, 0.0))] == [S.LINK_STATUS]
    test = encode_link(LinkFrame(dir=False, prm=True, fcv=True, fcb=True, function=P.TEST_LINK_STATES,
                                 destination=1, source=10))
    out = link.receive_data(test, 0.0)
    assert frames(out) == [] and of(out, M.Notice)  # before a reset: not answered (9.2.6.3.1)


def test_keep_alive_after_silence_and_a_notice_when_unanswered() -> None:
    link = M.MasterLink(keep_alive=10.0, link_timeout=1.0, link_retries=1)
    assert link.tick(0.0) == []
    assert link.next_deadline() == 10.0
    [status] = frames(link.tick(10.0))
    assert status.function == P.REQUEST_LINK_STATUS and status.dir and status.prm
    link.receive_data(answer(S.LINK_STATUS), 10.5)
    assert link.next_deadline() == 20.5  # heard at 10.5
    link.tick(20.5)
    assert [f.function for f in frames(link.tick(21.5))] == [P.REQUEST_LINK_STATUS]
    out = link.tick(22.5)
    [notice] = of(out, M.Notice)
    assert notice.kind == "link" and "REQUEST_LINK_STATUS" in notice.message and not of(out, M.TaskResult)


def test_link_failure_while_idle_is_a_notice() -> None:
    master = M.Dnp3Master()
    [notice] = master.link_failed("no answer", 0.0)
    assert isinstance(notice, M.Notice) and notice.kind == "link"


def test_bad_link_settings_are_refused() -> None:
    with pytest.raises(LocalProtocolError):
        M.MasterLink(link_timeout=0.0)
    with pytest.raises(LocalProtocolError):
        M.MasterLink(link_retries=-1)


# --- property: whatever the outstation's link end does, the master never hangs ---------------------

_TASKS = [M.integrity_poll(), M.class_poll(1), M.direct_operate(*(M.crob(i, 3) for i in range(30))),
          M.direct_operate(M.crob(0, 3), ack=False), M.time_sync(lan=True)]
_ANSWERS = [answer(S.ACK), answer(S.NACK), answer(S.LINK_STATUS), answer(S.NOT_SUPPORTED),
            encode_link(LinkFrame(dir=False, prm=True, function=P.RESET_LINK_STATES, destination=1,
                                  source=10)),
            from_outstation(response(0, ANALOG, uns=True, con=True), function=P.CONFIRMED_USER_DATA,
                            fcb=True)]
_steps = st.lists(st.one_of(
    st.tuples(st.just("task"), st.sampled_from(_TASKS)),
    st.tuples(st.just("answer"), st.sampled_from(_ANSWERS)),
    st.just(("answer", answer(S.ACK))),  # the common answer, drawn often
    st.just(("answer", answer(S.ACK))),
    st.tuples(st.just("response"), st.integers(0, 15)),
    st.tuples(st.just("bytes"), st.binary(max_size=40)),
    st.tuples(st.just("wait"), st.floats(min_value=0, max_value=3)),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(steps=_steps, confirmed=st.booleans(), keep_alive=st.sampled_from([None, 2.5]))
def test_the_master_link_always_has_a_deadline_while_busy_and_drains(steps: list[tuple[str, Any]],
                                                                      confirmed: bool,
                                                                      keep_alive: float | None) -> None:
    link = M.MasterLink(master=M.Dnp3Master(M.MasterConfig(response_timeout=2.0)), confirmed=confirmed,
                        link_timeout=1.0, link_retries=1, keep_alive=keep_alive)
    now = 0.0
    results: list[M.TaskResult] = []
    for kind, value in steps:
        if kind == "task":
            out = link.send(value, now)
        elif kind == "answer":
            out = link.receive_data(value, now)
        elif kind == "response":
            out = link.receive_data(from_outstation(response(value, ANALOG), tseq=value), now)
        elif kind == "bytes":
            out = link.receive_data(b"\x05\x64" + value, now)
        else:
            now += value
            out = link.tick(now)
        results += of(out, M.TaskResult)
        if link.busy:
            assert link.next_deadline() is not None, "busy with nothing to wait for: a hang"
    for _ in range(200):  # the outstation falls silent: every deadline passes, everything ends
        if not link.busy:
            break
        deadline = link.next_deadline()
        assert deadline is not None
        now = max(now, deadline)
        results += of(link.tick(now), M.TaskResult)
    assert not link.busy
    for result in results:
        assert result.ok or result.cause is not None


def test_a_failed_keep_alive_does_not_fail_the_request_queued_behind_it() -> None:
    link = M.MasterLink(master=M.Dnp3Master(M.MasterConfig(response_timeout=5.0)), confirmed=True,
                        keep_alive=1.0, link_timeout=1.0, link_retries=0)
    link.tick(0.0)
    [status] = frames(link.tick(1.0))
    assert status.function == P.REQUEST_LINK_STATUS
    assert frames(link.send(M.integrity_poll(), 1.5)) == []  # waits for the keep-alive's answer
    out = link.tick(2.0)  # the keep-alive is not answered: a notice, and the request's turn comes
    assert not of(out, M.TaskResult) and [n.kind for n in of(out, M.Notice)] == ["link"]
    assert [f.function for f in frames(out)] == [P.RESET_LINK_STATES]
    [data] = frames(link.receive_data(answer(S.ACK), 2.1))
    link.receive_data(answer(S.ACK), 2.2)
    [result] = of(link.receive_data(from_outstation(response(request_of(data).seq)), 2.3), M.TaskResult)
    assert result.ok
