"""Application layer clauses without events or controls (IEEE 1815-2012 clause 4): polls, IIN, sequence.

Class polls are reads of group 60 (class 0 = static data, classes 1-3 =
events); each response must echo the request's sequence number, carry FIR
and FIN when whole, and keep the reserved IIN bits 2.6 and 2.7 zero. The
IIN2 clauses send requests the device cannot honour and check the bit it
must set (4.2.2.7.2).
"""

from __future__ import annotations

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode, Iin
from wireproof.codecs.dnp3.messages import ObjectHeader, Point
from wireproof.conformance.dnp3_outstation._checks import class_poll, clause, iin_text, require_fc
from wireproof.conformance.dnp3_outstation._connection import Connection
from wireproof.conformance.dnp3_outstation.profile import POINT_KINDS, DeviceProfile
from wireproof.harness.clauses import setup_step
from wireproof.harness.plugin import EvidenceRecorder, inconclusive, not_applicable
from wireproof.harness.suite_support import wall_clock_ms

# Static groups a class 0 response may report each point type with (Annex A).
STATIC_GROUPS = {
    "binary_inputs": {1},
    "double_bit_inputs": {3},
    "analog_inputs": {30},
    "counters": {20},
    "binary_outputs": {10},
    "analog_outputs": {40},
}


@pytest.mark.conformance(
    clause="DNP-APP-001",
    level="shall",
    cites="IEEE 1815-2012 4.4.1 (READ), Annex A group 60 variation 1: a class 0 poll "
    "returns the static data of every point assigned to class 0",
)
def test_class0_poll(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """A class 0 poll returns the static data of the point types the profile declares."""
    fragments = station.request_all(FunctionCode.READ, class_poll(0))
    groups = set().union(*(r.groups() for r in fragments))
    missing = [kind for kind in POINT_KINDS if dnp3_profile.count(kind) and not groups & STATIC_GROUPS[kind]]
    assert not missing, (
        f"the class 0 response reports no {', '.join(missing)} (groups reported: "
        f"{sorted(groups)}); the profile declares them"
    )
    assert fragments[0].fragment.fir and fragments[-1].fragment.fin, "the response lacks FIR or FIN"


@pytest.mark.parametrize(
    "classes",
    [
        clause(
            "DNP-APP-002",
            (1, 2, 3, 0),
            title="An integrity poll (classes 1, 2, 3, 0 in one request) is answered.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 60 variations 1-4 (the integrity poll)",
        ),
        clause(
            "DNP-APP-003",
            (1,),
            title="A class 1 poll is answered with a valid response.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 60 variation 2",
        ),
        clause(
            "DNP-APP-004",
            (2,),
            title="A class 2 poll is answered with a valid response.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 60 variation 3",
        ),
        clause(
            "DNP-APP-005",
            (3,),
            title="A class 3 poll is answered with a valid response.",
            cites="IEEE 1815-2012 4.4.1; Annex A group 60 variation 4",
        ),
    ],
)
def test_class_polls(classes: tuple[int, ...], station: Connection) -> None:
    """A class poll is answered (events, if any, confirmed as asked)."""
    fragments = station.request_all(FunctionCode.READ, class_poll(*classes))
    assert fragments[-1].fragment.fin


@pytest.mark.conformance(
    clause="DNP-APP-006",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.4.5: a response carries the sequence number of the request it answers",
)
def test_sequence_numbers(station: Connection) -> None:
    """Responses echo the request's sequence number, through a wrap of 0..15."""
    for i in range(17):
        station.request(FunctionCode.READ, class_poll(0), seq=(i * 7) % 16)


@pytest.mark.conformance(
    clause="DNP-APP-007",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.7.2: IIN2.6 and IIN2.7 are reserved and shall be 0",
)
def test_reserved_iin_zero(station: Connection) -> None:
    """Reserved bits IIN2.6 and IIN2.7 are zero in every response."""
    for request in (class_poll(0), class_poll(1, 2, 3), ()):
        response = station.request(FunctionCode.READ, request)
        assert not response.iin & (Iin.RESERVED_1 | Iin.RESERVED_2), (
            f"reserved IIN bits set: {iin_text(response.iin)}"
        )


@pytest.mark.conformance(
    clause="DNP-APP-008",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.7.2: IIN2.0 NO_FUNC_CODE_SUPPORT: the function code is not implemented",
)
def test_unknown_function_code(station: Connection) -> None:
    """A request with an undefined function code (0x46) is answered with IIN2.0 set."""
    seq = station.next_app_seq()
    fragment = bytes((0xC0 | seq, 0x46))
    station.send_bytes(b"".join(station.fragment_frames(fragment)), "function code 0x46 (undefined)")
    response = station.read_response(what="function code 0x46")
    assert response.iin & Iin.NO_FUNC_CODE_SUPPORT, f"IIN2.0 not set: {iin_text(response.iin)}"


@pytest.mark.conformance(
    clause="DNP-APP-009",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.7.2: IIN2.1 OBJECT_UNKNOWN: an object group or variation "
    "the outstation does not support",
)
def test_unknown_object(station: Connection) -> None:
    """A read of an object the device does not know (group 99 variation 1) is answered with IIN2.1."""
    response = station.request(FunctionCode.READ, (ObjectHeader(group=99, variation=1, qualifier=0x06),))
    assert response.iin & Iin.OBJECT_UNKNOWN, f"IIN2.1 not set: {iin_text(response.iin)}"


@pytest.mark.conformance(
    clause="DNP-APP-010",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.7.2: IIN2.2 PARAMETER_ERROR: a parameter in the request "
    "(qualifier, range) is not valid",
)
def test_parameter_error(station: Connection) -> None:
    """A read whose object header ends inside its range field is answered with IIN2.2."""
    response = station.request(FunctionCode.READ, raw_objects=bytes((1, 2, 0x01, 0x00)))
    assert response.iin & Iin.PARAMETER_ERROR, f"IIN2.2 not set: {iin_text(response.iin)}"


@pytest.mark.conformance(
    clause="DNP-APP-011",
    level="shall",
    cites="IEEE 1815-2012 4.4.2 (WRITE), Annex A g50v1; 4.2.2.7.1: IIN1.4 NEED_TIME is "
    "cleared once the time is written",
)
def test_time_sync(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """Writing the time (g50v1) is answered without error, and IIN1.4 NEED_TIME is then clear."""
    require_fc(dnp3_profile, FunctionCode.WRITE)
    if not dnp3_profile.need_time:
        not_applicable("the device profile says the device does not ask for the time (device.need_time)")
    now = wall_clock_ms()
    response = station.request(
        FunctionCode.WRITE,
        (
            ObjectHeader(
                group=50, variation=1, qualifier=0x07, count=1, points=(Point(values={"time": now}),)
            ),
        ),
    )
    bad = response.iin & (Iin.NO_FUNC_CODE_SUPPORT | Iin.OBJECT_UNKNOWN | Iin.PARAMETER_ERROR)
    assert not bad, f"the time write was refused: {iin_text(response.iin)}"
    after = station.request(FunctionCode.READ, ())
    assert not after.iin & Iin.NEED_TIME, (
        f"IIN1.4 NEED_TIME still set after the time was written: {iin_text(after.iin)}"
    )


@pytest.mark.conformance(
    clause="DNP-APP-012",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.7.1: IIN1.7 DEVICE_RESTART is set after a restart until the master clears it",
)
def test_restart_iin(first_iin: int | None, evidence: EvidenceRecorder) -> None:
    """The run's first response carries IIN1.7 DEVICE_RESTART (a device fresh from a restart)."""
    evidence.note(
        "the run's first response (read on a connection of its own before any clause) had "
        + ("no answer" if first_iin is None else iin_text(first_iin))
    )
    if first_iin is None:
        inconclusive("the device did not answer the run's first request")
    if not first_iin & Iin.DEVICE_RESTART:
        inconclusive(
            f"the run's first response ({iin_text(first_iin)}) has IIN1.7 clear: an earlier master "
            "may have cleared it; restart the device before the run to test this rule"
        )


@pytest.mark.conformance(
    clause="DNP-APP-013",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.7.1 and Annex A g80v1: the master clears IIN1.7 by "
    "writing 0 to g80v1 index 7",
)
def test_clear_restart(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """Writing 0 to g80v1 index 7 clears IIN1.7 DEVICE_RESTART."""
    require_fc(dnp3_profile, FunctionCode.WRITE)
    write = (
        ObjectHeader(
            group=80,
            variation=1,
            qualifier=0x00,
            start=7,
            stop=7,
            points=(Point(index=7, values={"state": False}),),
        ),
    )
    response = station.request(FunctionCode.WRITE, write)
    bad = response.iin & (Iin.NO_FUNC_CODE_SUPPORT | Iin.OBJECT_UNKNOWN | Iin.PARAMETER_ERROR)
    assert not bad, f"the write of g80v1 index 7 was refused: {iin_text(response.iin)}"
    after = station.request(FunctionCode.READ, ())
    assert not after.iin & Iin.DEVICE_RESTART, f"IIN1.7 still set after the write: {iin_text(after.iin)}"


@pytest.mark.conformance(
    clause="DNP-APP-014",
    level="shall",
    cites="IEEE 1815-2012 4.2.2.5, Table 4-2 DELAY_MEASURE (function 23): answered with one g52v2 "
    "time delay fine object",
)
def test_delay_measure(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """DELAY_MEASURE is answered with one g52v2 object (the outstation's processing delay)."""
    require_fc(dnp3_profile, FunctionCode.DELAY_MEASURE)
    response = station.request(FunctionCode.DELAY_MEASURE)
    points = response.points(52)
    assert len(points) == 1, (
        f"expected one g52 object, got {[f'g{h.group}v{h.variation}' for h in response.objects]}"
    )


@pytest.mark.conformance(
    clause="DNP-APP-015",
    level="shall",
    cites="IEEE 1815-2012 4.4.1: a read of one static point by index range returns that point",
)
def test_read_range(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """A read of binary inputs 0..1 (qualifier 0x00) returns exactly those points."""
    if dnp3_profile.count("binary_inputs") < 2:
        not_applicable("the device profile declares fewer than 2 binary inputs (points.binary_inputs)")
    response = station.request(
        FunctionCode.READ, (ObjectHeader(group=1, variation=2, qualifier=0x00, start=0, stop=1),)
    )
    indexes = [p.index for p in response.points(1)]
    assert indexes == [0, 1], f"read of g1v2 0..1 returned indexes {indexes}"


@pytest.mark.conformance(
    clause="DNP-APP-016",
    level="should",
    cites="IEEE 1815-2012 4.2.2.7.2: IIN2.2 PARAMETER_ERROR for points the outstation does not have",
)
def test_read_beyond_points(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """A read of binary inputs past the last one is answered with IIN2.2 set."""
    n = dnp3_profile.count("binary_inputs")
    if not n:
        not_applicable("the device profile declares no binary inputs")
    with setup_step(station, "a class 0 read answers"):
        station.request(FunctionCode.READ, class_poll(0))
    response = station.request(
        FunctionCode.READ, (ObjectHeader(group=1, variation=2, qualifier=0x01, start=n + 100, stop=n + 100),)
    )
    assert response.iin & Iin.PARAMETER_ERROR, f"IIN2.2 not set: {iin_text(response.iin)}"
