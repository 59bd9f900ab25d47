"""The sans-I/O DNP3 master (wireproof.codecs.dnp3.master): tasks, fragments, confirms, IIN, time.

Each test plays the outstation by hand: it reads the master's Transmit
effects (decoding them) and answers with response fragments.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.codecs.dnp3.strategies import responses

from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, Iin, PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.link import decode_link, encode_link
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    ObjectHeader,
    Point,
)
from wireproof.codecs.dnp3.transport import segment
from wireproof.errors import LocalProtocolError


def sent(effects: list[M.Effect]) -> list[ApplicationRequest]:
    out = []
    for e in effects:
        if isinstance(e, M.Transmit):
            decoded = decode_fragment(e.data)
            assert isinstance(decoded, ApplicationRequest)
            assert decoded == e.fragment
            out.append(decoded)
    return out


def of(effects: list[M.Effect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def response(seq: int, *objects: ObjectHeader, iin: int = 0, fir: bool = True, fin: bool = True,
             con: bool = False) -> bytes:
    return encode_fragment(ApplicationResponse(fir=fir, fin=fin, con=con, seq=seq, iin=iin, objects=objects))


def unsolicited(seq: int, *objects: ObjectHeader, iin: int = 0, con: bool = True) -> bytes:
    return encode_fragment(ApplicationResponse(fir=True, fin=True, con=con, uns=True, seq=seq, iin=iin,
                                               function=FunctionCode.UNSOLICITED_RESPONSE, objects=objects))


BINARIES = ObjectHeader(group=1, variation=2, qualifier=0x00, start=0, stop=1,
                        points=(Point(index=0, values={"flags": 0x81}),
                                Point(index=1, values={"flags": 0x01})))
ANALOG = ObjectHeader(group=30, variation=1, qualifier=0x00, start=0, stop=0,
                      points=(Point(index=0, values={"flags": 0x01, "value": 100}),))
COUNTER_EVENT = ObjectHeader(group=22, variation=1, qualifier=0x28, count=1,
                             points=(Point(index=3, values={"flags": 0x01, "value": 11}),))


def test_startup_sequence_disable_integrity_enable() -> None:
    master = M.Dnp3Master(M.MasterConfig(unsolicited_classes=(1, 2, 3)))
    out = master.start(0.0)
    [req] = sent(out)
    assert req.function == FunctionCode.DISABLE_UNSOLICITED and req.seq == 0
    assert [h.variation for h in req.objects] == [2, 3, 4]
    out = master.receive(response(0), 0.1)
    [req] = sent(out)
    assert req.function == FunctionCode.READ and req.seq == 1
    assert [(h.group, h.variation, h.qualifier) for h in req.objects] == [(60, 2, 6), (60, 3, 6), (60, 4, 6),
                                                                         (60, 1, 6)]
    out = master.receive(response(1, BINARIES, ANALOG), 0.2)
    points = of(out, M.PointUpdate)
    assert [(p.kind, p.index, p.value) for p in points] == [("binary", 0, True), ("binary", 1, False),
                                                            ("analog", 0, 100)]
    [req] = sent(out)
    assert req.function == FunctionCode.ENABLE_UNSOLICITED and req.seq == 2
    out = master.receive(response(2), 0.3)
    results = [r for r in out if isinstance(r, M.TaskResult)]
    assert results and results[-1].task.kind is M.TaskKind.ENABLE_UNSOLICITED and results[-1].ok
    assert not master.busy and master.state is M.ExchangeState.IDLE


def test_multi_fragment_response_confirms_each_fragment() -> None:
    master = M.Dnp3Master()
    [req] = sent(master.send(M.integrity_poll(), 0.0))
    out = master.receive(response(req.seq, BINARIES, fin=False, con=True), 0.1)
    [confirm] = sent(out)
    assert confirm.function == FunctionCode.CONFIRM and confirm.seq == req.seq and not confirm.uns
    assert master.state is M.ExchangeState.AWAITING_MORE
    assert master.next_deadline() == pytest.approx(0.1 + master.config.response_timeout)
    out = master.receive(response((req.seq + 1) % 16, ANALOG, fir=False, con=True), 0.2)
    [confirm] = sent(out)
    assert confirm.seq == (req.seq + 1) % 16
    [result] = of(out, M.TaskResult)
    assert result.ok and [p.kind for p in of(out, M.PointUpdate)] == ["analog"]
    assert master.next_deadline() is None


def test_wrong_sequence_is_discarded_and_the_master_keeps_waiting() -> None:
    master = M.Dnp3Master()
    [req] = sent(master.send(M.class_poll(1), 0.0))
    out = master.receive(response((req.seq + 5) % 16, ANALOG), 0.1)
    [notice] = of(out, M.Notice)
    assert notice.kind == "unexpected" and not of(out, M.PointUpdate)
    assert master.state is M.ExchangeState.AWAITING_FIRST
    # a middle fragment without FIR where the first is awaited: discarded too
    out = master.receive(response(req.seq, ANALOG, fir=False), 0.1)
    assert of(out, M.Notice)[0].kind == "unexpected"
    out = master.receive(response(req.seq, ANALOG), 0.2)
    assert of(out, M.TaskResult)[0].ok


def test_a_response_while_idle_is_a_stray_notice() -> None:
    master = M.Dnp3Master()
    out = master.receive(response(3, ANALOG, con=True), 0.0)
    [notice] = of(out, M.Notice)
    assert notice.kind == "stray" and "4.2.2.4.5" in notice.clause
    assert not sent(out) and not of(out, M.PointUpdate)


def test_response_timeout_fails_the_task_and_the_next_one_starts() -> None:
    master = M.Dnp3Master(M.MasterConfig(response_timeout=2.0, integrity_retries=0))
    master.send(M.integrity_poll(), 0.0)
    master.send(M.class_poll(1), 0.0)
    assert master.tick(1.9) == []
    out = master.tick(2.0)
    [result] = of(out, M.TaskResult)
    assert not result.ok and "response timeout" in result.reason
    [req] = sent(out)
    assert req.function == FunctionCode.READ and [h.variation for h in req.objects] == [2]
    # the late answer to the timed-out request is not taken for the new one
    out = master.receive(response(0, ANALOG), 2.1)
    assert of(out, M.Notice)[0].kind == "unexpected"


def test_an_unanswered_integrity_poll_is_asked_again_then_fails_once() -> None:
    """IEEE 1815 4.2.2.4.5: the integrity poll is re-issued (new SEQ) up to integrity_retries times;
    its task ends once; an answer to a retry completes it; the count starts afresh after."""
    master = M.Dnp3Master(M.MasterConfig(response_timeout=1.0, integrity_retries=2))
    [first] = sent(master.send(M.integrity_poll(), 0.0))
    seqs = [first.seq]
    for k, now in enumerate((1.0, 2.0), start=1):
        out = master.tick(now)
        assert of(out, M.TaskResult) == [] and f"asking again ({k} of 2)" in of(out, M.Notice)[0].message
        [again] = sent(out)
        assert again.objects == first.objects
        seqs.append(again.seq)
    assert seqs == [first.seq, (first.seq + 1) % 16, (first.seq + 2) % 16]
    [result] = of(master.tick(3.0), M.TaskResult)
    assert not result.ok and result.cause is M.FailureCause.TIMEOUT
    # a second poll: one retry, then answered -> ok, exactly one result
    [poll] = sent(master.send(M.integrity_poll(), 4.0))
    [retry] = sent(master.tick(5.0))
    [done] = of(master.receive(response(retry.seq, ANALOG), 5.1), M.TaskResult)
    assert done.ok and poll.objects == retry.objects


def test_event_buffer_overflow_queues_an_integrity_poll() -> None:
    """IIN2.3: events were lost; the master reads the static data again (and says so)."""
    master = M.Dnp3Master()
    [req] = sent(master.send(M.class_poll(1), 0.0))
    out = master.receive(response(req.seq, iin=Iin.EVENT_BUFFER_OVERFLOW), 0.1)
    assert any("IIN2.3" in n.message for n in of(out, M.Notice))
    [read] = sent(out)
    assert read.function == FunctionCode.READ and [h.variation for h in read.objects] == [2, 3, 4, 1]


def test_restart_iin_clears_it_then_integrity_polls() -> None:
    master = M.Dnp3Master()
    [req] = sent(master.send(M.class_poll(1), 0.0))
    out = master.receive(response(req.seq, iin=Iin.DEVICE_RESTART), 0.1)
    [write] = sent(out)
    assert write.function == FunctionCode.WRITE
    [header] = write.objects
    assert (header.group, header.variation, header.start, header.stop) == (80, 1, 7, 7)
    assert header.points[0].values["state"] is False
    out = master.receive(response(write.seq), 0.2)
    [read] = sent(out)
    assert read.function == FunctionCode.READ and len(read.objects) == 4


def test_restart_iin_that_never_clears_stops_after_a_few_attempts() -> None:
    master = M.Dnp3Master(M.MasterConfig(integrity_on_restart=False))
    writes, notices = 0, []
    for step in range(6):
        [req] = sent(master.send(M.class_poll(1), float(step)))
        out = master.receive(response(req.seq, iin=Iin.DEVICE_RESTART), float(step))
        notices += [n for n in of(out, M.Notice) if n.kind == "iin"]
        for write in sent(out):
            assert write.function == FunctionCode.WRITE
            writes += 1
            answer = master.receive(response(write.seq, iin=Iin.DEVICE_RESTART), float(step))
            [result] = of(answer, M.TaskResult)
            assert not result.ok and "still set" in result.reason
    assert writes == M.AUTO_STREAK
    assert len(notices) == 1 and "DEVICE_RESTART" in notices[0].message
    assert not master.busy


def test_need_time_lan_procedure_writes_the_time_the_record_request_left() -> None:
    master = M.Dnp3Master(M.MasterConfig(utc_offset=1_700_000_000.0, lan=True))
    [req] = sent(master.send(M.class_poll(1), 10.0))
    [record] = sent(master.receive(response(req.seq, iin=Iin.NEED_TIME), 10.5))
    assert record.function == FunctionCode.RECORD_CURRENT_TIME
    [write] = sent(master.receive(response(record.seq, iin=Iin.NEED_TIME), 10.9))
    assert write.function == FunctionCode.WRITE
    [header] = write.objects
    assert (header.group, header.variation, header.qualifier, header.count) == (50, 3, 0x07, 1)
    assert header.points[0].values["time"] == (1_700_000_000 + 10.5) * 1000
    [result] = of(master.receive(response(write.seq), 11.0), M.TaskResult)
    assert result.ok and result.task.kind is M.TaskKind.TIME_SYNC


def test_non_lan_time_sync_compensates_half_the_round_trip_less_the_turnaround() -> None:
    master = M.Dnp3Master(M.MasterConfig(utc_offset=1_000.0))
    [measure] = sent(master.send(M.time_sync(lan=False), 0.0))
    assert measure.function == FunctionCode.DELAY_MEASURE
    delay = ObjectHeader(group=52, variation=2, qualifier=0x07, count=1,
                         points=(Point(values={"delay": 100}),))
    [write] = sent(master.receive(response(measure.seq, delay), 0.3))
    [header] = write.objects
    assert (header.group, header.variation) == (50, 1)
    assert header.points[0].values["time"] == 1_000_300 + 100  # (300 - 100) / 2 ms of propagation


def test_non_lan_time_sync_without_a_delay_object_fails() -> None:
    master = M.Dnp3Master()
    [measure] = sent(master.send(M.time_sync(lan=False), 0.0))
    [result] = of(master.receive(response(measure.seq), 0.1), M.TaskResult)
    assert not result.ok and "g52" in result.reason


def test_class_event_iin_queues_an_event_poll() -> None:
    master = M.Dnp3Master()
    [req] = sent(master.send(M.direct_operate(M.crob(0, 3)), 0.0))
    echo = M.crob(0, 3)
    out = master.receive(response(req.seq, echo, iin=Iin.CLASS_1_EVENTS | Iin.CLASS_3_EVENTS), 0.1)
    assert of(out, M.TaskResult)[0].ok
    [poll] = sent(out)
    assert poll.function == FunctionCode.READ and [h.variation for h in poll.objects] == [2, 4]
    out = master.receive(response(poll.seq, COUNTER_EVENT), 0.2)
    [point] = of(out, M.PointUpdate)
    assert (point.kind, point.index, point.value, point.event) == ("counter", 3, 11, True)


def test_iin2_errors_fail_the_task_with_the_reason() -> None:
    master = M.Dnp3Master()
    [req] = sent(master.send(M.freeze(), 0.0))
    assert req.function == FunctionCode.IMMED_FREEZE
    [result] = of(master.receive(response(req.seq, iin=Iin.OBJECT_UNKNOWN | Iin.PARAMETER_ERROR), 0.1),
                  M.TaskResult)
    assert not result.ok and "IIN2.1 OBJECT_UNKNOWN" in result.reason and "IIN2.2" in result.reason


def test_select_then_operate() -> None:
    master = M.Dnp3Master()
    command = M.crob(2, 0x03, on_ms=100)
    [select] = sent(master.send(M.select_operate(command), 0.0))
    assert select.function == FunctionCode.SELECT and select.objects == (command,)
    out = master.receive(response(select.seq, command), 0.1)
    assert not of(out, M.TaskResult)
    [operate] = sent(out)
    assert operate.function == FunctionCode.OPERATE and operate.seq == (select.seq + 1) % 16
    assert operate.objects == (command,)
    [result] = of(master.receive(response(operate.seq, command), 0.2), M.TaskResult)
    assert result.ok and result.statuses == (0,)


def test_no_ack_requests_end_their_task_once_sent() -> None:
    master = M.Dnp3Master()
    out = master.send(M.direct_operate(M.crob(1, 0x03), ack=False), 0.0)
    out += master.send(M.freeze(clear=True, ack=False), 0.0)
    requests = sent(out)
    assert [r.function for r in requests] == [FunctionCode.DIRECT_OPERATE_NR, FunctionCode.FREEZE_CLEAR_NR]
    assert [r.seq for r in requests] == [0, 1]
    results = of(out, M.TaskResult)
    assert [r.ok for r in results] == [True, True] and "no response" in results[0].reason
    assert master.state is M.ExchangeState.IDLE and master.next_deadline() is None and not master.busy


def test_a_refused_select_is_not_operated() -> None:
    master = M.Dnp3Master()
    command = M.analog_output(1, 1234)
    [select] = sent(master.send(M.select_operate(command), 0.0))
    refused = ObjectHeader(group=41, variation=1, qualifier=0x28, count=1,
                           points=(Point(index=1, values={"value": 1234, "status": 4}),))
    out = master.receive(response(select.seq, refused), 0.1)
    [result] = of(out, M.TaskResult)
    assert not result.ok and "NOT_SUPPORTED" in result.reason and not sent(out)


def test_a_response_that_does_not_echo_the_command_fails() -> None:
    master = M.Dnp3Master()
    [req] = sent(master.send(M.direct_operate(M.crob(2, 0x03)), 0.0))
    [result] = of(master.receive(response(req.seq, M.crob(3, 0x03)), 0.1), M.TaskResult)
    assert not result.ok and "echo" in result.reason


def test_unsolicited_is_confirmed_and_a_duplicate_is_not_reported_twice() -> None:
    master = M.Dnp3Master()
    data = unsolicited(5, COUNTER_EVENT)
    out = master.receive(data, 0.0)
    [confirm] = sent(out)
    assert confirm.function == FunctionCode.CONFIRM and confirm.uns and confirm.seq == 5
    [point] = of(out, M.PointUpdate)
    assert point.unsolicited and point.value == 11
    out = master.receive(data, 0.1)
    assert sent(out)[0].seq == 5 and not of(out, M.PointUpdate)
    assert of(out, M.Notice)[0].kind == "duplicate"


def test_unsolicited_while_a_request_is_outstanding() -> None:
    master = M.Dnp3Master()
    [req] = sent(master.send(M.class_poll(1), 0.0))
    out = master.receive(unsolicited(0, ANALOG), 0.1)
    assert of(out, M.PointUpdate) and master.state is M.ExchangeState.AWAITING_FIRST
    assert of(master.receive(response(req.seq), 0.2), M.TaskResult)[0].ok


@pytest.mark.parametrize("data", [b"", b"\xc0", b"\xc0\x81\x00", b"\xc0\x01\x3c\x02\x06",
                                  b"\xc0\x81\x00\x00\x01\x02\x00\x00\x05"])
def test_malformed_fragments_are_notices(data: bytes) -> None:
    master = M.Dnp3Master()
    master.send(M.class_poll(1), 0.0)
    out = master.receive(data, 0.1)
    [notice] = of(out, M.Notice)
    assert notice.kind == "malformed" and master.state is M.ExchangeState.AWAITING_FIRST


def test_two_requests_at_once_is_a_local_violation() -> None:
    master = M.Dnp3Master.in_state(M.ExchangeState.AWAITING_FIRST)
    from wireproof.codecs._machine import Role
    with pytest.raises(LocalProtocolError, match="one solicited request"):
        master.handle(M.Submit(), Role.LOCAL)


def test_queue_is_bounded() -> None:
    master = M.Dnp3Master(M.MasterConfig(max_queue=3))
    for _ in range(3):
        master.send(M.class_poll(1), 0.0)
    out = master.send(M.class_poll(1), 0.0)
    assert of(out, M.TaskResult) == [] or not of(out, M.TaskResult)[0].ok
    out = master.send(M.class_poll(1), 0.0)
    [result] = of(out, M.TaskResult)
    assert not result.ok and "queue full" in result.reason


def test_points_of_packed_double_bit_and_relative_time() -> None:
    r = ApplicationResponse(objects=(
        ObjectHeader(group=1, variation=1, qualifier=0x00, start=4, stop=5,
                     points=(Point(index=4, values={"state": True}),
                             Point(index=5, values={"state": False}))),
        ObjectHeader(group=3, variation=2, qualifier=0x00, start=0, stop=0,
                     points=(Point(index=0, values={"flags": 0x81}),)),
        ObjectHeader(group=51, variation=1, qualifier=0x07, count=1, points=(Point(values={"time": 5000}),)),
        ObjectHeader(group=2, variation=3, qualifier=0x28, count=1,
                     points=(Point(index=7, values={"flags": 0x81, "time": 25}),)),
    ))
    got = [(p.kind, p.index, p.value, p.time) for p in M.points_of(r)]
    assert got == [("binary", 4, True, None), ("binary", 5, False, None), ("double_bit", 0, 2, None),
                   ("binary", 7, True, 5025)]


# ------------------------------------------------------------------------------- MasterLink


def frames_to(fragment: bytes, *, master: int = 1, outstation: int = 10, prm_function: PrimaryFunction =
              PrimaryFunction.UNCONFIRMED_USER_DATA) -> bytes:
    return b"".join(encode_link(LinkFrame(dir=False, prm=True, function=prm_function, destination=master,
                                          source=outstation, user_data=seg))
                    for seg in segment(fragment, seq=7))


def test_link_carries_requests_and_reassembles_responses() -> None:
    link = M.MasterLink()
    [out] = link.send(M.integrity_poll(), 0.0)
    assert isinstance(out, M.SendBytes) and out.fragment is not None
    frame = decode_link(out.data)
    assert (frame.dir, frame.prm, frame.function, frame.destination, frame.source) == \
        (True, True, PrimaryFunction.UNCONFIRMED_USER_DATA, 10, 1)
    big = ObjectHeader(group=30, variation=1, qualifier=0x00, start=0, stop=99,
                       points=tuple(Point(index=i, values={"flags": 1, "value": i}) for i in range(100)))
    data = frames_to(response(out.fragment.seq, big))
    effects: list[M.Effect] = []
    for i in range(0, len(data), 7):  # in small pieces
        effects += link.receive_data(data[i:i + 7], 0.1)
    assert len(of(effects, M.PointUpdate)) == 100 and of(effects, M.TaskResult)[0].ok


def test_link_answers_link_requests_and_drops_foreign_frames() -> None:
    link = M.MasterLink()
    status = encode_link(LinkFrame(dir=False, prm=True, function=PrimaryFunction.REQUEST_LINK_STATUS,
                                   destination=1, source=10))
    [reply] = link.receive_data(status, 0.0)
    assert isinstance(reply, M.SendBytes)
    assert decode_link(reply.data).function == SecondaryFunction.LINK_STATUS
    foreign = frames_to(response(0), master=2)
    [notice] = link.receive_data(foreign, 0.0)
    assert isinstance(notice, M.Notice) and notice.kind == "link"
    # Confirmed user data goes through the secondary station (link_machine): not answered before a
    # reset (9.2.6.3.1), then acknowledged and delivered once per FCB (9.2.6.3.3).
    (piece,) = segment(unsolicited(1, ANALOG), seq=7)

    def confirmed(fcb: bool) -> bytes:
        return encode_link(LinkFrame(dir=False, prm=True, fcv=True, fcb=fcb, destination=1, source=10,
                                     function=PrimaryFunction.CONFIRMED_USER_DATA, user_data=piece))
    out = link.receive_data(confirmed(True), 0.0)
    assert not of(out, M.SendBytes) and not of(out, M.PointUpdate) and of(out, M.Notice)
    reset = encode_link(LinkFrame(dir=False, prm=True, function=PrimaryFunction.RESET_LINK_STATES,
                                  destination=1, source=10))
    [ack] = link.receive_data(reset, 0.0)
    assert isinstance(ack, M.SendBytes) and decode_link(ack.data).function == SecondaryFunction.ACK
    out = link.receive_data(confirmed(True), 0.0)
    ack_frame = decode_link(next(e for e in out if isinstance(e, M.SendBytes)).data)
    assert ack_frame.function == SecondaryFunction.ACK and of(out, M.PointUpdate)
    out = link.receive_data(confirmed(True), 0.0)  # the same FCB again: a retransmission
    assert of(out, M.SendBytes) and not of(out, M.PointUpdate)


def test_link_reports_garbage_and_oversized_fragments() -> None:
    link = M.MasterLink(max_fragment=300)
    out = link.receive_data(b"\x00garbage" + b"\x05\x64\x05\xc0\x01\x00\x0a\x00\xff\xff", 0.0)
    assert {n.kind for n in of(out, M.Notice)} == {"link"}
    big = ObjectHeader(group=30, variation=1, qualifier=0x00, start=0, stop=99,
                       points=tuple(Point(index=i, values={"flags": 1, "value": i}) for i in range(100)))
    out = link.receive_data(frames_to(response(0, big)), 0.0)
    notices = of(out, M.Notice)
    assert {n.kind for n in notices} == {"transport"} and "limit of 300" in notices[0].message
    assert not of(out, M.PointUpdate)


# ------------------------------------------------------------------------------- properties

TASKS = [M.integrity_poll(), M.class_poll(1), M.select_operate(M.crob(0, 3)), M.time_sync(lan=False),
         M.time_sync(lan=True), M.direct_operate(M.analog_output(1, 5)), M.freeze(),
         M.direct_operate(M.crob(1, 4), ack=False), M.freeze(ack=False)]
_steps = st.lists(st.one_of(
    st.tuples(st.just("task"), st.sampled_from(TASKS)),
    st.tuples(st.just("response"), responses),
    st.tuples(st.just("bytes"), st.binary(max_size=64)),
    st.tuples(st.just("tick"), st.floats(min_value=0, max_value=20)),
), max_size=30)


def _invariants(master: M.Dnp3Master) -> None:
    awaiting = master.state is not M.ExchangeState.IDLE
    assert (master.next_deadline() is not None) == awaiting
    assert len(master.queued) <= master.config.max_queue


@settings(max_examples=200, deadline=None)
@given(steps=_steps)
def test_any_sequence_of_inputs_keeps_the_master_consistent(steps: list[tuple[str, Any]]) -> None:
    master = M.Dnp3Master(M.MasterConfig(response_timeout=1.0))
    now = 0.0
    started = finished = 0
    for kind, value in steps:
        if kind == "task":
            out = master.send(value, now)
            started += 1
        elif kind == "response" or kind == "bytes":
            out = master.receive(value, now)
        else:
            now += value
            out = master.tick(now)
        finished += sum(1 for e in out if isinstance(e, M.TaskResult) and not e.task.auto)
        for e in out:
            if isinstance(e, M.Transmit):
                assert decode_fragment(e.data) == e.fragment
        _invariants(master)
    # whatever happened, time alone ends every task the caller queued
    for _ in range(4 * (started + 12)):
        if not master.busy:
            break
        now += 1.0
        finished += sum(1 for e in master.tick(now) if isinstance(e, M.TaskResult) and not e.task.auto)
    assert not master.busy and finished == started


@settings(max_examples=200, deadline=None)
@given(chunks=st.lists(st.binary(max_size=300), max_size=10))
def test_any_octets_on_the_link_are_reported_never_raised(chunks: list[bytes]) -> None:
    link = M.MasterLink()
    link.send(M.integrity_poll(), 0.0)
    for chunk in chunks:
        for effect in link.receive_data(b"\x05\x64" + chunk, 0.0):
            assert isinstance(effect, M.Notice | M.SendBytes | M.PointUpdate | M.TaskResult)
