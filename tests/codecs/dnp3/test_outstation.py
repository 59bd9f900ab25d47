"""The DNP3 application outstation machine (IEEE 1815-2012 clause 4, 5.1.3, 5.2), driven fragment by fragment.

Every test feeds request fragments built with the codec and decodes what the
machine answers; time is an argument, never read.
"""

from __future__ import annotations

from typing import Any

import pytest

from wireproof.codecs._machine import Role
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode as F
from wireproof.codecs.dnp3.constants import Iin
from wireproof.codecs.dnp3.database import Database
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, ObjectHeader, Point
from wireproof.codecs.dnp3.outstation import (
    AppState,
    CommandStatus,
    Outstation,
    OutstationConfig,
    UnsolicitedSent,
)
from wireproof.errors import LocalProtocolError

POINTS = {
    "binary": {"values": [True, False, True, False], "class": 1},
    "double_bit": {"values": [2, 1], "class": 2},
    "analog": {"values": [100, -5, 1234, 0], "class": 3},
    "counter": {"values": [10, 20, 30, 40], "class": 1},
    "binary_output": {"values": [False, False], "class": 1},
    "analog_output": {"values": [0, 0], "class": 1},
}


def make(points: dict[str, Any] | None = None, **config: Any) -> Outstation:
    return Outstation(Database.from_mapping(points or POINTS), OutstationConfig(**config))


def request(function: F, *objects: ObjectHeader, seq: int = 0) -> bytes:
    return encode_fragment(ApplicationRequest(seq=seq, function=function, objects=objects))


def classes(*variations: int) -> tuple[ObjectHeader, ...]:
    return tuple(ObjectHeader(group=60, variation=v, qualifier=0x06) for v in variations)


def ask(o: Outstation, data: bytes, now: float = 0.0) -> list[ApplicationResponse]:
    out = o.receive(data, now)
    responses = [decode_fragment(f) for f in out.fragments]
    assert all(isinstance(r, ApplicationResponse) for r in responses)
    return responses  # type: ignore[return-value]


def one(o: Outstation, data: bytes, now: float = 0.0) -> ApplicationResponse:
    responses = ask(o, data, now)
    assert len(responses) == 1, responses
    return responses[0]


def confirm(seq: int, *, uns: bool = False) -> bytes:
    return bytes((0xC0 | (0x10 if uns else 0) | seq, 0))


def values(response: ApplicationResponse, group: int) -> dict[int, dict[str, Any]]:
    return {p.index: p.values for h in response.objects if h.group == group for p in h.points
            if p.index is not None}


def crob(index: int, code: int = 3, *, qualifier: int = 0x28) -> ObjectHeader:
    return ObjectHeader(group=12, variation=1, qualifier=qualifier, count=1, points=(
        Point(index=index, values={"control_code": code, "count": 1, "on_time": 100, "off_time": 0,
                                   "status": 0}),))


def status_of(response: ApplicationResponse) -> list[int]:
    return [p.values["status"] for h in response.objects for p in h.points]


# --- READ ------------------------------------------------------------------------------------------


def test_integrity_poll_reports_every_static_value_with_restart_iin() -> None:
    r = one(make(), request(F.READ, *classes(2, 3, 4, 1)))
    assert (r.fir, r.fin, r.con, r.seq) == (True, True, False, 0)
    assert r.iin == Iin.DEVICE_RESTART
    assert values(r, 1) == {0: {"flags": 0x81}, 1: {"flags": 0x01}, 2: {"flags": 0x81}, 3: {"flags": 0x01}}
    assert values(r, 3) == {0: {"flags": 0x81}, 1: {"flags": 0x41}}  # ON = 2, OFF = 1 in bits 7..6
    assert {i: v["value"] for i, v in values(r, 30).items()} == {0: 100, 1: -5, 2: 1234, 3: 0}
    assert {i: v["value"] for i, v in values(r, 20).items()} == {0: 10, 1: 20, 2: 30, 3: 40}
    assert [h.group for h in r.objects] == [1, 3, 10, 20, 21, 30, 40]


@pytest.mark.parametrize(("header", "indexes"), [
    (ObjectHeader(group=30, variation=0, qualifier=0x06), [0, 1, 2, 3]),
    (ObjectHeader(group=30, variation=1, qualifier=0x00, start=1, stop=2), [1, 2]),
    (ObjectHeader(group=30, variation=2, qualifier=0x01, start=0, stop=1), [0, 1]),
    (ObjectHeader(group=30, variation=5, qualifier=0x07, count=3), [0, 1, 2]),
    (ObjectHeader(group=30, variation=0, qualifier=0x08, count=2), [0, 1]),
    (ObjectHeader(group=30, variation=0, qualifier=0x17, count=2, points=(Point(index=3), Point(index=1))),
     [3, 1]),
    (ObjectHeader(group=30, variation=0, qualifier=0x28, count=1, points=(Point(index=2),)), [2]),
])
def test_static_reads_by_every_qualifier(header: ObjectHeader, indexes: list[int]) -> None:
    r = one(make(), request(F.READ, header))
    assert r.iin & 0x00FF == 0
    assert [p.index for h in r.objects for p in h.points] == indexes
    assert all(h.variation == (header.variation or 1) for h in r.objects)


def test_packed_and_counter_variations() -> None:
    r = one(make(), request(F.READ, ObjectHeader(group=1, variation=1, qualifier=0x06),
                            ObjectHeader(group=20, variation=6, qualifier=0x06)))
    assert [p.values["state"] for p in r.objects[0].points] == [True, False, True, False]
    assert [p.values["value"] for p in r.objects[1].points] == [10, 20, 30, 40]


def test_iin2_bits_for_unknown_objects_bad_ranges_and_functions() -> None:
    o = make()
    assert one(o, request(F.READ, ObjectHeader(group=30, variation=0, qualifier=0x00, start=0, stop=9))).iin \
        & Iin.PARAMETER_ERROR
    unknown = ObjectHeader(group=99, variation=1, qualifier=0x06)
    assert one(o, request(F.READ, unknown)).iin & Iin.OBJECT_UNKNOWN
    assert one(o, request(F.ASSIGN_CLASS)).iin & Iin.NO_FUNC_CODE_SUPPORT
    assert one(o, bytes((0xC3, 0x70))).iin & Iin.NO_FUNC_CODE_SUPPORT  # function 112 is not defined
    r = one(o, bytes((0xC4, 0x02, 0x63, 0x01, 0x06)))  # WRITE g99v1: its objects cannot be delimited
    assert r.seq == 4 and r.iin & Iin.OBJECT_UNKNOWN


# --- events ------------------------------------------------------------------------------------------


def test_events_are_reported_with_con_and_cleared_only_on_confirm() -> None:
    o = make()
    o.database.change("binary", 0, False, 1.0)
    o.database.change("analog", 0, 101, 1.5)
    both = Iin.CLASS_1_EVENTS | Iin.CLASS_3_EVENTS
    assert one(o, request(F.READ, *classes(1), seq=1), 2.0).iin & both == both
    r = one(o, request(F.READ, *classes(2, 3, 4), seq=2), 2.0)
    assert r.con and o.state is AppState.SOLICITED_CONFIRM_WAIT
    assert values(r, 2) == {0: {"flags": 0x01, "time": 1000}}
    assert values(r, 32)[0]["value"] == 101
    assert one(o, request(F.READ, *classes(2, 3, 4), seq=3), 2.5).objects  # a new request: still there
    ask(o, confirm(2), 2.6)  # the old sequence number: discarded
    assert len(o.pending_events()) == 2
    ask(o, confirm(3), 2.7)
    assert o.state is AppState.IDLE and o.pending_events() == []
    assert one(o, request(F.READ, *classes(2, 3, 4), seq=4), 3.0).objects == ()


def test_confirm_timeout_releases_events_for_the_next_poll() -> None:
    o = make(confirm_timeout=2.0)
    o.database.change("counter", 1, 21, 0.0)
    assert one(o, request(F.READ, *classes(2), seq=5), 1.0).con
    assert o.next_deadline == 3.0
    assert o.tick(2.9).fragments == [] and o.state is AppState.SOLICITED_CONFIRM_WAIT
    o.tick(3.0)
    assert o.state is AppState.IDLE
    r = one(o, request(F.READ, *classes(2), seq=6), 4.0)
    assert values(r, 22) == {1: {"flags": 1, "value": 21}}


def test_event_buffer_overflow_sets_iin2_3_until_a_confirm_makes_room() -> None:
    o = make(event_buffer=(2, 2, 2))
    for n in range(3):
        o.database.change("counter", 0, 100 + n, float(n))
    r = one(o, request(F.READ, *classes(2), seq=1), 5.0)
    assert r.iin & Iin.EVENT_BUFFER_OVERFLOW
    assert [p.values["value"] for p in r.objects[0].points] == [101, 102]  # the oldest was dropped
    ask(o, confirm(1), 5.1)
    assert not one(o, request(F.READ, seq=2), 5.2).iin & Iin.EVENT_BUFFER_OVERFLOW


def test_event_reads_by_group_and_count() -> None:
    o = make()
    for n in range(3):
        o.database.change("binary", 1, n % 2 == 0, float(n))
    r = one(o, request(F.READ, ObjectHeader(group=2, variation=1, qualifier=0x07, count=2)))
    assert [h.variation for h in r.objects] == [1] and len(r.objects[0].points) == 2


def test_multi_fragment_response_confirms_each_fragment_in_sequence() -> None:
    points = {"analog": {"values": list(range(100)), "class": 1}}
    o = make(points, max_fragment_size=128)
    first = one(o, request(F.READ, *classes(1), seq=14))
    got = [first]
    seq = first.seq
    assert (first.fir, first.fin, first.con, first.seq) == (True, False, True, 14)
    while not got[-1].fin:
        nxt = one(o, confirm(got[-1].seq))
        assert nxt.seq == (seq + 1) % 16 and not nxt.fir
        seq = nxt.seq
        got.append(nxt)
    assert not got[-1].con and o.state is AppState.IDLE
    assert all(len(encode_fragment(r)) <= 128 for r in got)
    assert [p.values["value"] for r in got for h in r.objects for p in h.points] == list(range(100))


# --- controls ------------------------------------------------------------------------------------------


def test_select_then_operate_executes_once() -> None:
    o = make()
    r = one(o, request(F.SELECT, crob(0), seq=3), 0.0)
    assert status_of(r) == [CommandStatus.SUCCESS] and o.database.points["binary_output"][0].value is False
    out = o.receive(request(F.OPERATE, crob(0), seq=4), 1.0)
    assert status_of(decode_fragment(out.fragments[0])) == [CommandStatus.SUCCESS]  # type: ignore[arg-type]
    assert [e.line for e in out.effects] == ["operate crob index=0 code=LATCH_ON type=SelectBeforeOperate"]
    assert o.database.points["binary_output"][0].value is True
    assert status_of(one(o, request(F.OPERATE, crob(0), seq=5), 1.5)) == [CommandStatus.NO_SELECT]


@pytest.mark.parametrize(("operate", "now", "status"), [
    (request(F.OPERATE, crob(0), seq=4), 6.0, CommandStatus.TIMEOUT),
    (request(F.OPERATE, crob(1), seq=4), 1.0, CommandStatus.NO_SELECT),  # other object
    (request(F.OPERATE, crob(0, code=4), seq=4), 1.0, CommandStatus.NO_SELECT),  # other control code
    (request(F.OPERATE, crob(0), seq=9), 1.0, CommandStatus.NO_SELECT),  # not the next sequence number
])
def test_operate_after_a_bad_select(operate: bytes, now: float, status: CommandStatus) -> None:
    o = make(select_timeout=5.0)
    one(o, request(F.SELECT, crob(0), seq=3), 0.0)
    assert status_of(one(o, operate, now)) == [status]
    assert o.database.points["binary_output"][0].value is False


def test_a_request_between_select_and_operate_cancels_the_select() -> None:
    o = make()
    one(o, request(F.SELECT, crob(0), seq=3))
    one(o, request(F.READ, seq=4))
    assert status_of(one(o, request(F.OPERATE, crob(0), seq=5))) == [CommandStatus.NO_SELECT]


def test_direct_operate_no_ack_and_unknown_points() -> None:
    o = make()
    assert o.receive(request(F.DIRECT_OPERATE_NR, crob(1)), 0.0).fragments == []
    assert o.database.points["binary_output"][1].value is True
    assert status_of(one(o, request(F.DIRECT_OPERATE, crob(7), seq=1))) == [CommandStatus.NOT_SUPPORTED]
    one(o, request(F.DIRECT_OPERATE, crob(1, code=0x81), seq=2))  # TRIP
    assert o.database.points["binary_output"][1].value is False


@pytest.mark.parametrize("variation", [1, 2, 3, 4])
def test_analog_output_direct_operate(variation: int) -> None:
    o = make()
    header = ObjectHeader(group=41, variation=variation, qualifier=0x17, count=1,
                          points=(Point(index=1, values={"value": 1234, "status": 0}),))
    out = o.receive(request(F.DIRECT_OPERATE, header), 0.0)
    assert status_of(decode_fragment(out.fragments[0])) == [0]  # type: ignore[arg-type]
    assert o.database.points["analog_output"][1].value == 1234
    assert out.effects[0].line == "operate analog index=1 value=1234 type=DirectOperate"


def test_too_many_controls() -> None:
    o = make(max_controls=1)
    two = ObjectHeader(group=12, variation=1, qualifier=0x28, count=2, points=tuple(
        Point(index=i, values={"control_code": 3, "count": 1, "on_time": 0, "off_time": 0, "status": 0})
        for i in (0, 1)))
    assert status_of(one(o, request(F.DIRECT_OPERATE, two))) == [CommandStatus.TOO_MANY_OBJS] * 2


def test_repeated_request_is_answered_again_not_executed_again() -> None:
    o = make()
    data = request(F.DIRECT_OPERATE, ObjectHeader(group=41, variation=1, qualifier=0x17, count=1, points=(
        Point(index=0, values={"value": 5, "status": 0}),)), seq=7)
    first = o.receive(data, 0.0)
    second = o.receive(data, 0.1)
    assert first.fragments == second.fragments and second.effects == []


# --- freeze, write, time, restart -------------------------------------------------------------------


def test_freeze_and_freeze_clear() -> None:
    o = make()
    all_counters = ObjectHeader(group=20, variation=0, qualifier=0x06)
    one(o, request(F.IMMED_FREEZE, all_counters))
    assert [p.value for p in o.database.points["frozen_counter"]] == [10, 20, 30, 40]
    assert o.receive(request(F.FREEZE_CLEAR_NR, ObjectHeader(group=20, variation=0, qualifier=0x00, start=1,
                                                              stop=1), seq=1), 1.0).fragments == []
    assert [p.value for p in o.database.points["counter"]] == [10, 0, 30, 40]
    r = one(o, request(F.READ, ObjectHeader(group=21, variation=0, qualifier=0x06), seq=2))
    assert [p.values["value"] for p in r.objects[0].points] == [10, 20, 30, 40]


def test_frozen_counter_events_when_classed() -> None:
    points = dict(POINTS, frozen_counter={"values": [0, 0, 0, 0], "class": 2})
    o = make(points)
    one(o, request(F.IMMED_FREEZE, ObjectHeader(group=20, variation=0, qualifier=0x07, count=1)))
    r = one(o, request(F.READ, *classes(3), seq=1))
    assert [(h.group, h.variation) for h in r.objects] == [(23, 5)]


def test_clearing_the_restart_iin() -> None:
    o = make()
    bad = ObjectHeader(group=80, variation=1, qualifier=0x00, start=7, stop=7, points=(
        Point(index=7, values={"state": True}),))
    assert one(o, request(F.WRITE, bad)).iin & Iin.PARAMETER_ERROR
    good = ObjectHeader(group=80, variation=1, qualifier=0x00, start=7, stop=7, points=(
        Point(index=7, values={"state": False}),))
    assert one(o, request(F.WRITE, good, seq=1)).iin == 0


def test_need_time_and_time_write() -> None:
    o = make(need_time_period=10.0)
    assert one(o, request(F.READ), 0.0).iin & Iin.NEED_TIME
    assert one(o, request(F.DELAY_MEASURE, seq=1), 1.0).objects[0].points[0].values == {"delay": 0}
    write = ObjectHeader(group=50, variation=1, qualifier=0x07, count=1,
                         points=(Point(values={"time": 1_700_000_000_000}),))
    out = o.receive(request(F.WRITE, write, seq=2), 2.0)
    assert out.effects[0].line == "time written 1700000000000"
    assert not one(o, request(F.READ, seq=3), 5.0).iin & Iin.NEED_TIME
    assert o.database.time_ms(5.0) == 1_700_000_003_000
    assert one(o, request(F.READ, seq=4), 12.0).iin & Iin.NEED_TIME  # the period has passed


def test_lan_time_sync_uses_the_recorded_instant() -> None:
    o = make()
    lan = ObjectHeader(group=50, variation=3, qualifier=0x07, count=1, points=(Point(values={"time": 5000}),))
    assert one(o, request(F.WRITE, lan), 0.0).iin & Iin.PARAMETER_ERROR  # no RECORD_CURRENT_TIME first
    one(o, request(F.RECORD_CURRENT_TIME, seq=1), 10.0)
    one(o, request(F.WRITE, lan, seq=2), 10.5)
    assert o.database.time_ms(10.5) == 5500


def test_cold_restart_answers_the_delay_and_sets_restart_again() -> None:
    o = make(restart_delay=3)
    one(o, request(F.WRITE, ObjectHeader(group=80, variation=1, qualifier=0x00, start=7, stop=7, points=(
        Point(index=7, values={"state": False}),))))
    r = one(o, request(F.COLD_RESTART, seq=1))
    head = r.objects[0]
    assert (head.group, head.variation, head.points[0].values) == (52, 1, {"delay": 3})
    assert one(o, request(F.READ, seq=2)).iin & Iin.DEVICE_RESTART


def test_broadcast_requests_get_no_answer_and_set_iin1_0() -> None:
    o = make()
    assert o.receive(request(F.DIRECT_OPERATE, crob(0)), 0.0, broadcast=True).fragments == []
    assert o.database.points["binary_output"][0].value is True
    assert one(o, request(F.READ, seq=1)).iin & Iin.BROADCAST
    assert not one(o, request(F.READ, seq=2)).iin & Iin.BROADCAST


# --- unsolicited ------------------------------------------------------------------------------------


def test_null_unsolicited_response_is_retried_until_confirmed() -> None:
    o = make(unsolicited=True, unsolicited_confirm_timeout=1.0, unsolicited_retries=1,
             unsolicited_retry_delay=10.0)
    null = decode_fragment(o.tick(0.0).fragments[0])
    assert isinstance(null, ApplicationResponse)
    assert (null.function, null.uns, null.con, null.objects) == (F.UNSOLICITED_RESPONSE, True, True, ())
    assert o.tick(1.0).fragments == [encode_fragment(null)]  # the retry: same octets
    assert o.tick(2.0).fragments == [] and o.state is AppState.IDLE  # retries exhausted: wait
    assert o.next_deadline == 12.0
    again = decode_fragment(o.tick(12.0).fragments[0])
    assert again.seq == null.seq
    ask(o, confirm(again.seq, uns=True), 12.5)
    assert o.state is AppState.IDLE and o.next_deadline is None


def test_unsolicited_events_after_enable_and_a_read_while_waiting() -> None:
    o = make(unsolicited=True)
    ask(o, confirm(decode_fragment(o.tick(0.0).fragments[0]).seq, uns=True), 0.1)
    o.database.change("binary", 2, False, 1.0)
    assert o.tick(1.0).fragments == []  # not enabled yet
    one(o, request(F.ENABLE_UNSOLICITED, *classes(2, 3, 4), seq=1), 1.5)
    ur = decode_fragment(o.tick(1.6).fragments[0])
    assert isinstance(ur, ApplicationResponse) and ur.uns and ur.con and ur.seq == 1
    assert values(ur, 2) == {2: {"flags": 0x01, "time": 1000}}
    assert o.state is AppState.UNSOLICITED_CONFIRM_WAIT
    o.database.change("counter", 0, 11, 1.7)
    r = one(o, request(F.READ, *classes(2), seq=2), 1.8)  # 4.6.2.4: answered meanwhile, only the new event
    assert values(r, 22) == {0: {"flags": 1, "value": 11}} and values(r, 2) == {}
    assert o.state is AppState.BOTH_CONFIRM_WAIT
    ask(o, confirm(1, uns=True), 1.9)
    assert o.state is AppState.SOLICITED_CONFIRM_WAIT
    ask(o, confirm(2), 2.0)
    assert o.state is AppState.IDLE and o.pending_events() == []


def test_unsolicited_not_allowed_and_disable() -> None:
    assert one(make(), request(F.ENABLE_UNSOLICITED, *classes(2))).iin & Iin.NO_FUNC_CODE_SUPPORT
    o = make(unsolicited=True)
    o.tick(0.0)
    one(o, request(F.ENABLE_UNSOLICITED, *classes(2, 3, 4)))
    one(o, request(F.DISABLE_UNSOLICITED, *classes(2), seq=1))
    assert o.unsolicited_classes == {2, 3}


def test_the_table_refuses_a_second_unsolicited_response() -> None:
    o = Outstation.in_state(AppState.UNSOLICITED_CONFIRM_WAIT)
    with pytest.raises(LocalProtocolError, match="one unsolicited response outstanding"):
        o.handle(UnsolicitedSent(), Role.LOCAL)


def test_events_over_several_fragments_leave_as_each_fragment_is_confirmed() -> None:
    o = make({"analog": {"values": [0] * 40, "class": 2}}, max_fragment_size=96, confirm_timeout=1.0)
    for i in range(40):
        o.database.change("analog", i, i + 1, 0.0)
    first = one(o, request(F.READ, *classes(3), seq=2), 1.0)
    assert first.con and not first.fin
    in_first = sum(len(h.points) for h in first.objects)
    second = one(o, confirm(2), 1.1)
    assert len(o.pending_events()) == 40 - in_first
    assert second.seq == 3 and second.con
    o.tick(2.2)  # the second fragment is never confirmed: the response is abandoned
    assert o.state is AppState.IDLE and len(o.pending_events()) == 40 - in_first
    again = one(o, request(F.READ, *classes(3), seq=4), 3.0)
    assert again.objects[0].points[0].values["value"] == in_first + 1  # oldest unconfirmed first
