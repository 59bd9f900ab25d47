"""Control and freeze clauses (IEEE 1815-2012 4.4.3-4.4.8): CROB select/operate, direct operate, analog
output, counter freezes.

A control's response echoes the request's objects with a status code
(the CROB status codes of 11.9.5: 0 SUCCESS, 1 TIMEOUT, 2 NO_SELECT, 3 FORMAT_ERROR,
4 NOT_SUPPORTED). SELECT arms a control that a following OPERATE with the
same objects and the next sequence number executes within the select
timeout (4.4.3, 4.4.4).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.codecs.dnp3.messages import ObjectHeader
from wireproof.conformance.dnp3_outstation._checks import (
    LATCH_OFF,
    LATCH_ON,
    analog_output,
    crob,
    require_fc,
    require_points,
    status_of,
)
from wireproof.conformance.dnp3_outstation._connection import Connection
from wireproof.conformance.dnp3_outstation.conftest import Timing
from wireproof.conformance.dnp3_outstation.profile import DeviceProfile
from wireproof.harness.clauses import setup_step

SUCCESS, TIMEOUT, NO_SELECT, NOT_SUPPORTED = 0, 1, 2, 4
STATUS = {0: "SUCCESS", 1: "TIMEOUT", 2: "NO_SELECT", 3: "FORMAT_ERROR", 4: "NOT_SUPPORTED"}


def _status(code: int) -> str:
    return f"{code} ({STATUS.get(code, 'other')})"


def _select(station: Connection, header: ObjectHeader) -> None:
    with setup_step(station, "SELECT is answered with status SUCCESS"):
        status = status_of(station.request(FunctionCode.SELECT, (header,)), header.group, "SELECT")
        assert status == SUCCESS, f"SELECT answered status {_status(status)}"


@pytest.mark.conformance(
    clause="DNP-CTL-001",
    level="shall",
    cites="IEEE 1815-2012 4.4.3 (SELECT) and 4.4.4 (OPERATE): the response echoes the "
    "CROB with status SUCCESS",
)
def test_select_operate(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """CROB SELECT then OPERATE (same object, next sequence number) both answer SUCCESS."""
    require_fc(dnp3_profile, FunctionCode.SELECT, FunctionCode.OPERATE)
    require_points(dnp3_profile, "binary_outputs")
    _select(station, crob(0, LATCH_ON))
    status = status_of(station.request(FunctionCode.OPERATE, (crob(0, LATCH_ON),)), 12, "OPERATE")
    assert status == SUCCESS, f"OPERATE after SELECT answered status {_status(status)}"


@pytest.mark.conformance(
    clause="DNP-CTL-002",
    level="shall",
    cites="IEEE 1815-2012 4.4.4: an OPERATE after the select timeout is answered with "
    "status TIMEOUT (1) and not executed",
)
def test_select_timeout(station: Connection, dnp3_profile: DeviceProfile, timing: Timing) -> None:
    """An OPERATE later than the select timeout answers TIMEOUT."""
    require_fc(dnp3_profile, FunctionCode.SELECT, FunctionCode.OPERATE)
    require_points(dnp3_profile, "binary_outputs")
    _select(station, crob(0, LATCH_OFF))
    wait = timing.select_timeout + 0.5
    station.note(f"wait {wait:g} s (the select timeout + 0.5 s)")
    station.listen(wait)
    status = status_of(station.request(FunctionCode.OPERATE, (crob(0, LATCH_OFF),)), 12, "late OPERATE")
    assert status == TIMEOUT, f"OPERATE {wait:g} s after SELECT answered {_status(status)}, expected TIMEOUT"


@pytest.mark.conformance(
    clause="DNP-CTL-003",
    level="shall",
    cites="IEEE 1815-2012 4.4.4: an OPERATE whose objects differ from the SELECT's is answered NO_SELECT (2)",
)
def test_select_operate_mismatch(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """An OPERATE with another control code than its SELECT answers NO_SELECT."""
    require_fc(dnp3_profile, FunctionCode.SELECT, FunctionCode.OPERATE)
    require_points(dnp3_profile, "binary_outputs")
    _select(station, crob(0, LATCH_ON))
    status = status_of(station.request(FunctionCode.OPERATE, (crob(0, LATCH_OFF),)), 12, "mismatched OPERATE")
    assert status == NO_SELECT, f"OPERATE (LATCH_OFF) after SELECT (LATCH_ON) answered {_status(status)}"


@pytest.mark.conformance(
    clause="DNP-CTL-004",
    level="shall",
    cites="IEEE 1815-2012 4.4.4: an OPERATE without a preceding SELECT is answered NO_SELECT (2)",
)
def test_operate_without_select(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """An OPERATE without SELECT answers NO_SELECT."""
    require_fc(dnp3_profile, FunctionCode.OPERATE)
    require_points(dnp3_profile, "binary_outputs")
    status = status_of(station.request(FunctionCode.OPERATE, (crob(0, LATCH_ON),)), 12, "OPERATE")
    assert status == NO_SELECT, f"OPERATE without SELECT answered {_status(status)}"


@pytest.mark.conformance(
    clause="DNP-CTL-005",
    level="shall",
    cites="IEEE 1815-2012 4.4.3: SELECT of a point the outstation does not have is "
    "answered NOT_SUPPORTED (4)",
)
def test_select_missing_point(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """SELECT of a binary output past the last one answers NOT_SUPPORTED."""
    require_fc(dnp3_profile, FunctionCode.SELECT)
    index = dnp3_profile.count("binary_outputs") + 100
    status = status_of(station.request(FunctionCode.SELECT, (crob(index),)), 12, "SELECT")
    assert status == NOT_SUPPORTED, f"SELECT of binary output {index} answered {_status(status)}"


@pytest.mark.conformance(
    clause="DNP-CTL-006",
    level="shall",
    cites="IEEE 1815-2012 4.4.5 (DIRECT_OPERATE): executed at once; the response echoes "
    "the CROB with status SUCCESS",
)
def test_direct_operate(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """DIRECT_OPERATE of a CROB answers SUCCESS."""
    require_fc(dnp3_profile, FunctionCode.DIRECT_OPERATE)
    require_points(dnp3_profile, "binary_outputs")
    status = status_of(
        station.request(FunctionCode.DIRECT_OPERATE, (crob(1, LATCH_ON),)), 12, "DIRECT_OPERATE"
    )
    assert status == SUCCESS, f"DIRECT_OPERATE answered {_status(status)}"


def _binary_output(station: Connection, index: int) -> bool | None:
    response = station.request(
        FunctionCode.READ, (ObjectHeader(group=10, variation=2, qualifier=0x00, start=index, stop=index),)
    )
    points = response.points(10)
    return None if not points else bool(points[0].values.get("flags", 0) & 0x80)


@pytest.mark.conformance(
    clause="DNP-CTL-007",
    level="shall",
    cites="IEEE 1815-2012 4.4.6 (DIRECT_OPERATE_NR): executed, and not answered",
)
def test_direct_operate_no_ack(station: Connection, dnp3_profile: DeviceProfile, timing: Timing) -> None:
    """DIRECT_OPERATE_NR is not answered, and the device goes on answering.

    Whether the binary output status (g10) then shows the commanded state is
    the device application's feedback, not a protocol rule: it is read back
    and recorded as evidence, not judged.
    """
    require_fc(dnp3_profile, FunctionCode.DIRECT_OPERATE_NR)
    require_points(dnp3_profile, "binary_outputs", 3)
    with setup_step(station, "read binary output 2 (g10v2)"):
        before = _binary_output(station, 2)
    code = LATCH_OFF if before else LATCH_ON
    station.send_request(FunctionCode.DIRECT_OPERATE_NR, (crob(2, code),), note="DIRECT_OPERATE_NR")
    said = station.quiet(timing.response_timeout)
    assert not said, f"DIRECT_OPERATE_NR was answered: {said}"
    after = _binary_output(station, 2)
    station.note(
        f"binary output 2 read {before} before and {after} after DIRECT_OPERATE_NR "
        f"({'LATCH_OFF' if code == LATCH_OFF else 'LATCH_ON'}); recorded, not judged"
    )


@pytest.mark.conformance(
    clause="DNP-CTL-008",
    level="shall",
    cites="IEEE 1815-2012 4.4.5; Annex A g41v2 (analog output block, 16-bit): answered "
    "with the echo and status SUCCESS",
)
def test_analog_output(station: Connection, dnp3_profile: DeviceProfile) -> None:
    """DIRECT_OPERATE of a g41v2 analog output answers SUCCESS, and g40 reads the value back."""
    require_fc(dnp3_profile, FunctionCode.DIRECT_OPERATE)
    require_points(dnp3_profile, "analog_outputs")
    status = status_of(
        station.request(FunctionCode.DIRECT_OPERATE, (analog_output(0, 1234),)), 41, "DIRECT_OPERATE g41v2"
    )
    assert status == SUCCESS, f"analog output DIRECT_OPERATE answered {_status(status)}"
    back = station.request(
        FunctionCode.READ, (ObjectHeader(group=40, variation=0, qualifier=0x00, start=0, stop=0),)
    )
    values = [p.values.get("value") for p in back.points(40)]
    assert values and int(values[0]) == 1234, f"analog output status 0 reads {values}, expected 1234"


def _counters(station: Connection, group: int) -> list[int]:
    response = station.request(FunctionCode.READ, (ObjectHeader(group=group, variation=0, qualifier=0x06),))
    return [int(p.values.get("value", -1)) for p in response.points(group)]


def _freeze(station: Connection, function: FunctionCode, timing: Timing, freeze: Callable[[], None]) -> None:
    with setup_step(station, "read the counters (g20) and the frozen counters (g21)"):
        counters = _counters(station, 20)
        assert counters, "the device reports no counter"
    freeze()
    frozen = _counters(station, 21)
    assert frozen[: len(counters)] == counters, (
        f"after {function.name} the frozen counters read {frozen}, the counters {counters}"
    )


@pytest.mark.conformance(
    clause="DNP-CTL-009",
    level="shall",
    cites="IEEE 1815-2012 4.4.7 (IMMED_FREEZE): counters copied to frozen counters; a null response",
)
def test_immediate_freeze(station: Connection, dnp3_profile: DeviceProfile, timing: Timing) -> None:
    """IMMED_FREEZE of all counters is answered, and the frozen counters equal the counters."""
    require_fc(dnp3_profile, FunctionCode.IMMED_FREEZE)
    require_points(dnp3_profile, "counters")

    def freeze() -> None:
        station.request(FunctionCode.IMMED_FREEZE, (ObjectHeader(group=20, variation=0, qualifier=0x06),))

    _freeze(station, FunctionCode.IMMED_FREEZE, timing, freeze)


@pytest.mark.conformance(
    clause="DNP-CTL-010",
    level="shall",
    cites="IEEE 1815-2012 4.4.8 (IMMED_FREEZE_NR): counters frozen, no response",
)
def test_immediate_freeze_no_ack(station: Connection, dnp3_profile: DeviceProfile, timing: Timing) -> None:
    """IMMED_FREEZE_NR is not answered, and the frozen counters equal the counters."""
    require_fc(dnp3_profile, FunctionCode.IMMED_FREEZE_NR)
    require_points(dnp3_profile, "counters")

    def freeze() -> None:
        station.send_request(
            FunctionCode.IMMED_FREEZE_NR, (ObjectHeader(group=20, variation=0, qualifier=0x06),)
        )
        said = station.quiet(timing.response_timeout)
        assert not said, f"IMMED_FREEZE_NR was answered: {said}"

    _freeze(station, FunctionCode.IMMED_FREEZE_NR, timing, freeze)
