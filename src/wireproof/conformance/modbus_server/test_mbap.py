"""MBAP header handling: transaction id, protocol id, length, unit id (MB-TCP 3.1.3, 4.4).

MB-TCP 3.1.3 defines the header: transaction identifier ("copied by the
server from the received request"), protocol identifier (0 = MODBUS, "copied
by the server"), length (the number of following bytes, unit identifier
included) and unit identifier ("copied by the server"). MB-TCP 4.4 has the
server check the MBAP header of every indication and reject one that is not
a MODBUS request, without giving up the service.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from wireproof.codecs.modbus.messages import ExceptionResponse
from wireproof.conformance.modbus_server._checks import (
    Timing,
    clause,
    expect_usable,
    pdu_bytes,
    probe_request,
)
from wireproof.conformance.modbus_server._connection import (
    Connection,
    ConnectionClosed,
    NotAccepted,
    RawAdu,
    decode_adu,
)
from wireproof.conformance.modbus_server.profile import DeviceProfile
from wireproof.harness.plugin import EvidenceRecorder, not_applicable

Connect = Callable[[], Connection]


def _describe(outcome: RawAdu | ConnectionClosed | None) -> str:
    if outcome is None:
        return "no answer"
    if isinstance(outcome, ConnectionClosed):
        return "connection closed"
    return f"answer {outcome.raw.hex()}"


@pytest.mark.conformance(clause="MB-TCP-001", level="shall")
def test_transaction_id_echoed(client: Connection, modbus_profile: DeviceProfile,
                               evidence: EvidenceRecorder) -> None:
    """Every response carries its request's transaction identifier, over the whole 16-bit range.

    MB-TCP 3.1.3: transaction identifier, "Initialized by the client",
    "Recopied by the server from the received request". Probed with 0x0000,
    0x0001, 0x1234, 0x8000 and 0xFFFF (request() asserts the copy).
    """
    probe = probe_request(modbus_profile)
    for tid in (0x0000, 0x0001, 0x1234, 0x8000, 0xFFFF):
        evidence.note(f"transaction id 0x{tid:04X}")
        client.request(probe, tid=tid)


@pytest.mark.conformance(clause="MB-TCP-002", level="shall")
def test_response_mbap_header(client: Connection, modbus_profile: DeviceProfile, suite_timing: Timing,
                              evidence: EvidenceRecorder) -> None:
    """A response's protocol identifier is 0 and its length counts exactly the bytes that follow.

    MB-TCP 3.1.3: protocol identifier 0 = MODBUS, "Recopied by the server";
    length "Number of following bytes" (unit identifier and PDU). Checked by
    decoding the whole ADU (no missing or trailing PDU bytes) and by finding no
    stray bytes after it.
    """
    reply = client.request(probe_request(modbus_profile))
    adu = reply.adu
    assert adu.protocol_id == 0, f"response protocol identifier {adu.protocol_id}, expected 0 (MODBUS)"
    decode_adu(adu.raw)  # a DecodeError here (length vs PDU) is the device's
    stray = client.silence(suite_timing.silence)
    assert not isinstance(stray, RawAdu), f"bytes after the response its length announced: {stray.raw.hex()}"


@pytest.mark.conformance(clause="MB-TCP-003", level="shall")
def test_unit_id_echoed(client: Connection, modbus_profile: DeviceProfile, modbus_unit: int,
                        evidence: EvidenceRecorder) -> None:
    """The response carries the request's unit identifier (MB-TCP 3.1.3: "Recopied by the server")."""
    unsupported = bytes([modbus_profile.illegal_function_code(), 0, 0, 0, 1])
    for request in (probe_request(modbus_profile), unsupported):
        reply = client.request(request)
        assert reply.adu.unit_id == modbus_unit, (
            f"response unit identifier 0x{reply.adu.unit_id:02X}, request's was 0x{modbus_unit:02X}")


@pytest.mark.conformance(clause="MB-TCP-004", level="should")
def test_unit_id_ff_addresses_device(client: Connection, modbus_profile: DeviceProfile,
                                     evidence: EvidenceRecorder) -> None:
    """A server reached directly on TCP answers unit identifier 0xFF as it answers its own unit.

    MB-TCP 4.4 (unit identifier): "On TCP/IP, the MODBUS server is addressed
    using its IP address; therefore, the MODBUS Unit Identifier is useless.
    The value 0xFF has to be used" — and recommended as the non-significant
    value. Applies when the profile says ``accepts_unit_ff`` (not a gateway).
    """
    if not modbus_profile.accepts_unit_ff:
        not_applicable("the device profile says unit identifier 0xFF does not address this device (gateway)")
    probe = probe_request(modbus_profile)
    own = client.request(probe)
    ff = client.request(probe, unit=0xFF)
    assert ff.adu.unit_id == 0xFF, f"response to unit 0xFF carries unit 0x{ff.adu.unit_id:02X}"
    if isinstance(ff.pdu, ExceptionResponse) and not isinstance(own.pdu, ExceptionResponse):
        raise AssertionError(f"unit 0xFF is answered with exception {int(ff.pdu.exception_code):02X} "
                             "where the device's own unit gets a normal response")
    assert type(ff.pdu) is type(own.pdu), (
        f"unit 0xFF answered with {type(ff.pdu).__name__}, own unit with {type(own.pdu).__name__}")


@pytest.mark.conformance(clause="MB-TCP-005", level="shall")
def test_protocol_id_not_modbus(client: Connection, connect: Connect, modbus_profile: DeviceProfile,
                                suite_timing: Timing, evidence: EvidenceRecorder) -> None:
    """An ADU whose protocol identifier is not 0 is not answered, and the service goes on.

    MB-TCP 3.1.3: protocol identifier "0 = MODBUS protocol"; MB-TCP 4.4: the
    server checks the MBAP header and an indication that is not MODBUS is
    rejected, not processed. Afterwards the connection must still answer a
    valid request (or, if the device closed it, a new connection must).
    """
    pdu = pdu_bytes(client, probe_request(modbus_profile))
    client.send(client.raw_adu(pdu, protocol_id=0x0001))
    outcome = client.silence(suite_timing.silence)
    evidence.note(f"protocol id 1: {_describe(outcome)}")
    assert not isinstance(outcome, RawAdu), (
        f"the device answered an ADU with protocol identifier 1: {outcome.raw.hex()}")
    expect_usable(connect, client, modbus_profile, evidence, outcome, "an ADU with protocol identifier 1")


@pytest.mark.parametrize(("reshape", "what"), [
    # The whole ADU the length announces is sent; the PDU inside it carries 2 trailing bytes.
    clause("MB-TCP-006", lambda pdu: pdu + b"\xde\xad", "an ADU whose length includes 2 bytes after the PDU",
           title="An ADU whose MBAP length covers 2 bytes more than the PDU holds is not answered as valid."),
    # Only the bytes the length announces are sent (function code and 2 of the 4 request
    # bytes), so the stream stays in step.
    clause("MB-TCP-007", lambda pdu: pdu[:3], "an ADU whose length ends inside the PDU",
           title="An ADU whose MBAP length cuts the PDU short is not answered as valid (MB-TCP 3.1.3, 4.4)."),
])
def test_length_disagrees_with_pdu(reshape: Callable[[bytes], bytes], what: str, client: Connection,
                                   connect: Connect, modbus_profile: DeviceProfile, suite_timing: Timing,
                                   evidence: EvidenceRecorder) -> None:
    """An ADU whose MBAP length does not fit its PDU is not answered as valid, and the service goes on.

    MB-TCP 3.1.3 (length = the following bytes) and 4.4 (MBAP / PDU checks).
    Allowed: no answer, an exception, closing the connection; afterwards the
    connection (or, if the device closed it, a new one) must still answer.
    """
    client.send(client.raw_adu(reshape(pdu_bytes(client, probe_request(modbus_profile)))))
    outcome = client.silence(suite_timing.silence)
    evidence.note(f"{what}: {_describe(outcome)}")
    if isinstance(outcome, RawAdu):
        pdu = outcome.decode()
        assert isinstance(pdu, ExceptionResponse), (
            f"the device answered {what} as if it were valid: {outcome.raw.hex()} "
            "(expected no answer, an exception response, or the connection closed)")
    expect_usable(connect, client, modbus_profile, evidence, outcome, what)


@pytest.mark.conformance(clause="MB-TCP-011", level="shall")
def test_malformed_adu_does_not_stop_server(client: Connection, connect: Connect,
                                            modbus_profile: DeviceProfile, suite_timing: Timing,
                                            evidence: EvidenceRecorder) -> None:
    """Malformed ADUs on one connection do not stop the server: other connections are served.

    MB-TCP 4.2 (connection management) and 4.4 (an invalid indication is
    rejected): the server may close the offending connection, but keeps
    serving. Sent: an MBAP length of 0 (cannot hold the unit identifier), an
    MBAP length of 1 (no function code), and 40 bytes of garbage; each on a
    connection of its own while another connection stays open and is probed.
    """
    probe = probe_request(modbus_profile)
    bystander = client
    bystander.request(probe)
    garbage = bytes((i * 37 + 11) & 0xFF for i in range(40))
    for payload, what in ((struct.pack(">HHHB", 0x0101, 0, 0, 1) + b"\x03\x00", "MBAP length 0"),
                          (struct.pack(">HHHB", 0x0102, 0, 1, 1), "MBAP length 1"),
                          (garbage, "40 bytes of garbage")):
        offender = connect()
        offender.send(payload)
        evidence.note(f"{what}: {_describe(offender.silence(suite_timing.silence))}")
        offender.close()
        evidence.note(f"after {what}: the open bystander connection must still answer")
        bystander.request(probe)
    evidence.note("and a new connection must be served")
    fresh = connect()
    try:
        fresh.request(probe)
    except NotAccepted as err:
        raise AssertionError(f"after malformed ADUs the device accepts no connection: {err}") from None
