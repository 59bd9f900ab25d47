"""Data link layer clauses (IEEE 1815-2012 clause 9): link services, frames the device must ignore, FCB.

Each clause sends link frames built by :mod:`._connection` (crafted ones
where the rule is about a bad frame) and judges what comes back. A frame
the device must ignore is followed by a valid request on the same
connection, which must be answered: ignoring a frame is not the same as
losing the link (9.2.4.1.1: the receiver resynchronises on the start octets).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction, SecondaryFunction
from wireproof.conformance.dnp3_outstation._checks import class_poll
from wireproof.conformance.dnp3_outstation._connection import Connection, corrupt, raw_frame
from wireproof.conformance.dnp3_outstation.conftest import Timing
from wireproof.harness.clauses import attempts, setup_step

LinkOp = Callable[[Connection], bytes]


def _expect_secondary(station: Connection, frame: bytes, want: SecondaryFunction, what: str) -> None:
    station.send_bytes(frame, what)
    got = station.read_secondary(what=what)
    assert got.function == want, f"{what}: answered {got.function.name}, expected {want.name}"
    assert not got.dir, f"{what}: the answer has DIR=1; an outstation's frames carry DIR=0 (9.2.4.1.3.1)"
    assert (got.destination, got.source) == (station.master, station.outstation), (
        f"{what}: answer addressed {got.source}->{got.destination}, expected {station.outstation}->"
        f"{station.master} (9.2.4.1.4)"
    )


def _still_answers(station: Connection, what: str) -> None:
    """After a frame the device had to ignore, a valid request on the same connection is answered."""
    station.note(f"after {what}: a valid class 0 read must be answered")
    try:
        station.request(FunctionCode.READ, class_poll(0))
    except AssertionError as err:
        raise AssertionError(f"after {what} the device no longer answers a valid request: {err}") from None


def _ignored(station: Connection, frame: bytes, what: str, timing: Timing) -> None:
    station.send_bytes(frame, what)
    said = station.quiet(timing.response_timeout)
    assert not said, f"{what}: the device answered ({'; '.join(said)}); the frame must be ignored"
    _still_answers(station, what)


@pytest.mark.conformance(
    clause="DNP-LNK-001",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.6, Table 9-1 (RESET_LINK_STATES) and Table 9-2 (ACK); 9.2.4.1.3.1 DIR",
)
def test_reset_link_states(station: Connection) -> None:
    """RESET_LINK_STATES is answered with ACK, DIR=0, addressed back to the master."""
    _expect_secondary(
        station,
        station.link_frame(PrimaryFunction.RESET_LINK_STATES),
        SecondaryFunction.ACK,
        "RESET_LINK_STATES",
    )


@pytest.mark.conformance(
    clause="DNP-LNK-002",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.6, Table 9-1 (REQUEST_LINK_STATUS, function 9) "
    "answered LINK_STATUS (Table 9-2, function 11)",
)
def test_request_link_status(station: Connection) -> None:
    """REQUEST_LINK_STATUS is answered with LINK_STATUS."""
    _expect_secondary(
        station,
        station.link_frame(PrimaryFunction.REQUEST_LINK_STATUS),
        SecondaryFunction.LINK_STATUS,
        "REQUEST_LINK_STATUS",
    )


@pytest.mark.conformance(
    clause="DNP-LNK-003",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.6 (TEST_LINK_STATES, FCV=1) answered ACK after a "
    "link reset; 9.2.4.1.3.3 FCB",
)
def test_test_link_states(station: Connection) -> None:
    """After a link reset, TEST_LINK_STATES with FCB=1 is answered with ACK."""
    with setup_step(station, "reset the link (RESET_LINK_STATES -> ACK)"):
        _expect_secondary(
            station,
            station.link_frame(PrimaryFunction.RESET_LINK_STATES),
            SecondaryFunction.ACK,
            "RESET_LINK_STATES",
        )
    _expect_secondary(
        station,
        station.link_frame(PrimaryFunction.TEST_LINK_STATES, fcb=True, fcv=True),
        SecondaryFunction.ACK,
        "TEST_LINK_STATES (FCB=1)",
    )


@pytest.mark.conformance(
    clause="DNP-LNK-004",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.1: a frame starts with 0x05 0x64; other octets are not a frame start",
)
def test_invalid_start_octets_ignored(station: Connection, timing: Timing) -> None:
    """A frame whose start octets are not 0x05 0x64 is ignored; the link keeps working."""
    good = station.link_frame(PrimaryFunction.REQUEST_LINK_STATUS)
    _ignored(station, b"\x05\x65" + good[2:], "a REQUEST_LINK_STATUS with start octets 05 65", timing)


@pytest.mark.conformance(
    clause="DNP-LNK-005",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.1: the receiver searches for the start octets "
    "0x05 0x64; octets before them are discarded",
)
def test_resync_after_garbage(station: Connection) -> None:
    """Octets before a frame's start are skipped and the frame is answered."""
    frame = station.link_frame(PrimaryFunction.REQUEST_LINK_STATUS)
    _expect_secondary(
        station,
        b"\x00\xff\x05\x12\x64" + frame,
        SecondaryFunction.LINK_STATUS,
        "REQUEST_LINK_STATUS after 5 octets of noise",
    )


@pytest.mark.conformance(
    clause="DNP-LNK-006",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.6: function codes Table 9-1 does not define are "
    "answered NOT_SUPPORTED (function 15) or ignored",
)
def test_unknown_link_function(station: Connection, timing: Timing) -> None:
    """A primary frame with an undefined function code is answered NOT_SUPPORTED or ignored."""
    station.send_bytes(raw_frame(0xC0 | 0x05, station.outstation, station.master), "primary function code 5")
    station.listen(timing.response_timeout)
    frames = list(station.inbox.secondary)
    station.inbox.secondary.clear()
    assert all(f.function == SecondaryFunction.NOT_SUPPORTED for f in frames), (
        f"function code 5 answered {[f.function.name for f in frames]}; only NOT_SUPPORTED (or silence) "
        "is allowed"
    )
    _still_answers(station, "a frame with function code 5")


@pytest.mark.conformance(
    clause="DNP-LNK-007",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.4: a station accepts frames whose destination is its "
    "own address (or a broadcast address)",
)
def test_wrong_destination_ignored(station: Connection, timing: Timing) -> None:
    """A frame for another destination address is ignored."""
    other = (station.outstation + 1) % 0xFFF0
    _ignored(
        station,
        station.link_frame(PrimaryFunction.REQUEST_LINK_STATUS, destination=other),
        f"REQUEST_LINK_STATUS to address {other}",
        timing,
    )


@pytest.mark.conformance(
    clause="DNP-LNK-008",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.5 and 9.3: a frame whose header CRC fails is discarded",
)
def test_header_crc_error_ignored(station: Connection, timing: Timing) -> None:
    """A frame with a bad header CRC is discarded."""
    _ignored(
        station,
        corrupt(station.link_frame(PrimaryFunction.REQUEST_LINK_STATUS), 8),
        "REQUEST_LINK_STATUS with a bad header CRC",
        timing,
    )


@pytest.mark.conformance(
    clause="DNP-LNK-009",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.2: each user-data block carries a CRC; a frame with a "
    "bad block CRC is discarded",
)
def test_block_crc_error_ignored(station: Connection, timing: Timing) -> None:
    """A user-data frame with a bad block CRC is discarded: the request in it is not answered."""
    _, frames = station.request_frames(FunctionCode.READ, class_poll(0))
    _ignored(station, corrupt(frames[0], len(frames[0]) - 1), "a class 0 read with a bad block CRC", timing)


@pytest.mark.conformance(
    clause="DNP-LNK-010",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.6: CONFIRMED_USER_DATA (function 3) after a link "
    "reset is acknowledged (ACK) and its data delivered",
)
def test_confirmed_user_data(station: Connection) -> None:
    """After a link reset, CONFIRMED_USER_DATA is acknowledged and the request in it answered."""
    with setup_step(station, "reset the link (RESET_LINK_STATES -> ACK)"):
        _expect_secondary(
            station,
            station.link_frame(PrimaryFunction.RESET_LINK_STATES),
            SecondaryFunction.ACK,
            "RESET_LINK_STATES",
        )
    station.fcb = True
    seq, frames = station.request_frames(FunctionCode.READ, class_poll(0), confirmed=True)
    station.send_bytes(frames[0], "class 0 read in CONFIRMED_USER_DATA, FCB=1")
    ack = station.read_secondary(what="CONFIRMED_USER_DATA")
    assert ack.function == SecondaryFunction.ACK, f"CONFIRMED_USER_DATA answered {ack.function.name}, not ACK"
    response = station.read_response(what="the class 0 read")
    assert response.fragment.seq == seq, f"response sequence {response.fragment.seq}, request {seq}"


@pytest.mark.conformance(
    clause="DNP-LNK-011",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.3 and 9.2.6: a frame repeating the last FCB is a retry: it is "
    "acknowledged again and its data is not delivered twice",
)
def test_fcb_duplicate(station: Connection, timing: Timing) -> None:
    """A CONFIRMED_USER_DATA retry with the same FCB is ACKed again but not answered twice."""
    with setup_step(station, "reset the link (RESET_LINK_STATES -> ACK)"):
        _expect_secondary(
            station,
            station.link_frame(PrimaryFunction.RESET_LINK_STATES),
            SecondaryFunction.ACK,
            "RESET_LINK_STATES",
        )
    station.fcb = True
    _, frames = station.request_frames(FunctionCode.READ, class_poll(0), confirmed=True)
    with setup_step(station, "a class 0 read in CONFIRMED_USER_DATA (FCB=1) is ACKed and answered"):
        station.send_bytes(frames[0], "first transmission")
        station.read_secondary(what="CONFIRMED_USER_DATA")
        station.read_response(what="the class 0 read")
    station.send_bytes(frames[0], "retry: the same frame, the same FCB (as if the ACK had been lost)")
    ack = station.read_secondary(what="the retried CONFIRMED_USER_DATA")
    assert ack.function == SecondaryFunction.ACK, f"the retry was answered {ack.function.name}, not ACK"
    said = station.quiet(timing.response_timeout)
    assert not [s for s in said if s.startswith("app")], (
        f"the retry's data was delivered again: the device answered {said} "
        "(9.2.4.1.3.3: the same FCB = a duplicate)"
    )


@pytest.mark.conformance(
    clause="DNP-LNK-012",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.3: the FCB alternates; after a reset the expected FCB is 1, then 0, ...",
)
def test_fcb_alternation(station: Connection) -> None:
    """Consecutive CONFIRMED_USER_DATA frames with alternating FCB are each ACKed and answered."""
    with setup_step(station, "reset the link (RESET_LINK_STATES -> ACK)"):
        _expect_secondary(
            station,
            station.link_frame(PrimaryFunction.RESET_LINK_STATES),
            SecondaryFunction.ACK,
            "RESET_LINK_STATES",
        )
    station.fcb = True
    for i in range(4):
        fcb = station.fcb
        seq, frames = station.request_frames(FunctionCode.READ, class_poll(0), confirmed=True)
        station.send_bytes(frames[0], f"request {i + 1}, FCB={int(fcb)}")
        ack = station.read_secondary(what=f"request {i + 1} (FCB={int(fcb)})")
        assert ack.function == SecondaryFunction.ACK, f"request {i + 1}: answered {ack.function.name}"
        response = station.read_response(what=f"request {i + 1}")
        assert response.fragment.seq == seq


@pytest.mark.conformance(
    clause="DNP-LNK-013",
    level="shall",
    cites="IEEE 1815-2012 9.2.4.1.3.6: UNCONFIRMED_USER_DATA (function 4, FCV=0) is "
    "delivered without a link reset",
)
def test_unconfirmed_user_data_repeated(station: Connection, dnp3_params: dict[str, object]) -> None:
    """UNCONFIRMED_USER_DATA is delivered every time, without a link reset (several requests in a row)."""
    n = int(str(dnp3_params["attempts"]))

    def attempt(_: int) -> None:
        station.request(FunctionCode.READ, class_poll(0))

    attempts(station, n, attempt, what="class 0 read in UNCONFIRMED_USER_DATA")


@pytest.mark.conformance(
    clause="DNP-LNK-014",
    level="should",
    cites="IEEE 1815-2012 9.2.4.1.4: frames from a source that is not the configured "
    "master may be ignored; they must not disturb the link",
)
def test_other_source_does_not_disturb(station: Connection, timing: Timing) -> None:
    """A frame from another source address does not disturb the link with the master.

    Whether the device answers another master is its configuration; the
    rule checked is that the link with the configured master still works.
    """
    station.send_bytes(
        station.link_frame(PrimaryFunction.REQUEST_LINK_STATUS, source=station.master + 1),
        f"REQUEST_LINK_STATUS from source {station.master + 1}",
    )
    station.listen(timing.response_timeout)
    station.inbox.secondary.clear()
    _still_answers(station, f"a frame from source {station.master + 1}")
