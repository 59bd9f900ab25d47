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

from wireproof.codecs.modbus.messages import ExceptionResponse, Pdu
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


@pytest.mark.conformance(
    clause="MB-TCP-001", level="shall",
    cites='MB-TCP 3.1.3: transaction identifier "Recopied by the server from the received request"; "the '
          'MODBUS server copies in the response the transaction identifier of the request"')
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


@pytest.mark.conformance(
    clause="MB-TCP-002", level="shall",
    cites='MB-TCP 3.1.3: protocol identifier "Recopied by the server from the received request"; length '
          '"a byte count of the following fields, including the Unit Identifier and data fields"')
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


@pytest.mark.conformance(
    clause="MB-TCP-003", level="shall",
    cites='MB-TCP 3.1.3: unit identifier "must be returned with the same value in the response by the '
          'server"')
def test_unit_id_echoed(client: Connection, modbus_profile: DeviceProfile, modbus_unit: int,
                        evidence: EvidenceRecorder) -> None:
    """The response carries the request's unit identifier (MB-TCP 3.1.3: "Recopied by the server")."""
    unsupported = bytes([modbus_profile.illegal_function_code(), 0, 0, 0, 1])
    for request in (probe_request(modbus_profile), unsupported):
        reply = client.request(request)
        assert reply.adu.unit_id == modbus_unit, (
            f"response unit identifier 0x{reply.adu.unit_id:02X}, request's was 0x{modbus_unit:02X}")


@pytest.mark.conformance(
    clause="MB-TCP-004", level="should",
    cites='MB-TCP 4.4.1.2: "On TCP/IP, the MODBUS server is addressed using its IP address; therefore, the '
          'MODBUS Unit Identifier is useless. The value 0xFF has to be used."')
def test_unit_id_ff_addresses_device(client: Connection, modbus_profile: DeviceProfile,
                                     evidence: EvidenceRecorder) -> None:
    """A server reached directly on TCP answers unit identifier 0xFF as it answers its own unit.

    MB-TCP 4.4.1.2 (building a request): "On TCP/IP, the MODBUS server is
    addressed using its IP address; therefore, the MODBUS Unit Identifier is
    useless. The value 0xFF has to be used" — and recommended as the
    non-significant value. "should", not "shall": the sentence tells a client
    what to send, and no sentence says how a server answers it (the same
    section accepts 0 too). Applies when the profile says ``accepts_unit_ff``
    (not a gateway).
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


# The ADUs MB-TCP-005, -006, -007 and -015 send: each is framed correctly by its MBAP
# length (the bytes the length announces are sent, no more), so a device that delimits
# ADUs by the length field is still in step with the stream afterwards.
def _protocol_id_1(client: Connection, pdu: bytes) -> bytes:
    return client.raw_adu(pdu, protocol_id=0x0001)


def _two_bytes_after_pdu(client: Connection, pdu: bytes) -> bytes:
    return client.raw_adu(pdu + b"\xde\xad")  # the length covers the 2 trailing bytes


def _pdu_cut_short(client: Connection, pdu: bytes) -> bytes:
    return client.raw_adu(pdu[:3])  # function code and 2 of the 4 request bytes


Malformation = Callable[[Connection, bytes], bytes]
# What MB-TCP-016 and -017 rest on: the request after a rejected ADU starts where its MBAP length says.
_FRAMED_BY_LENGTH = ('MB-TCP 3.1.2: length information in the MBAP header "to allow the recipient to '
                     'recognize message boundaries"; MB-TCP 3.1.3: length "a byte count of the following '
                     'fields"')
_MALFORMED: list[tuple[Malformation, str]] = [
    (_protocol_id_1, "an ADU with protocol identifier 1"),
    (_two_bytes_after_pdu, "an ADU whose MBAP length covers 2 bytes after the PDU"),
    (_pdu_cut_short, "an ADU whose MBAP length ends inside the PDU"),
]


@pytest.mark.conformance(
    clause="MB-TCP-005", level="shall",
    cites='MB-TCP 4.4.2.2: Protocol Identifier "If it is different from MODBUS protocol type, the indication '
          'is simply discarded."')
def test_protocol_id_not_modbus(client: Connection, modbus_profile: DeviceProfile,
                                suite_timing: Timing, evidence: EvidenceRecorder) -> None:
    """An ADU whose protocol identifier is not 0 is not answered.

    MB-TCP 3.1.3: protocol identifier "0 = MODBUS protocol"; MB-TCP 4.4.2.2:
    the server checks the protocol identifier first: "If it is different from
    MODBUS protocol type, the indication is simply discarded." Allowed: no
    answer, or the connection closed.
    Whether the device then still serves is MB-TCP-015's rule.
    """
    client.send(_protocol_id_1(client, pdu_bytes(client, probe_request(modbus_profile))))
    outcome = client.silence(suite_timing.silence)
    evidence.note(f"protocol id 1: {_describe(outcome)}")
    assert not isinstance(outcome, RawAdu), (
        f"the device answered an ADU with protocol identifier 1: {outcome.raw.hex()}")


@pytest.mark.parametrize(("malformed", "what"), [
    clause("MB-TCP-006", *_MALFORMED[1], level="should",
           title="An ADU whose MBAP length covers 2 bytes more than the PDU holds is not answered as valid.",
           cites='MB-TCP 3.1.3: length "a byte count of the following fields, including the Unit Identifier '
                 'and data fields"'),
    clause("MB-TCP-007", *_MALFORMED[2],
           title="An ADU whose MBAP length cuts the PDU short is not answered as valid (MB-TCP 3.1.3, 4.4).",
           cites='MB-TCP 3.1.2: "All MODBUS requests and responses are designed in such a way that the '
                 'recipient can verify that a message is finished"; MB-TCP 3.1.3: length "a byte count of '
                 'the following fields"'),
])
def test_length_disagrees_with_pdu(malformed: Malformation, what: str, client: Connection,
                                   modbus_profile: DeviceProfile, suite_timing: Timing,
                                   evidence: EvidenceRecorder) -> None:
    """An ADU whose MBAP length does not fit its PDU is not answered as valid.

    MB-TCP 3.1.3: the length is the number of following bytes; MB-AP 6.x gives
    each request's exact size. Cut short (MB-TCP-007, "shall"), the PDU lacks
    fields the function needs: the device cannot have read a valid request.
    With 2 bytes too many (MB-TCP-006, "should": no sentence says what a server
    does with surplus bytes, but answering as if they were not there hides a
    client's framing bug). Allowed: no answer, an exception response, closing
    the connection. An exception's own format is MB-AP-025's rule: here any
    exception counts as a rejection, and a malformed one is noted. Whether the
    device then still serves is MB-TCP-015's rule.
    """
    client.send(malformed(client, pdu_bytes(client, probe_request(modbus_profile))))
    outcome = client.silence(suite_timing.silence)
    evidence.note(f"{what}: {_describe(outcome)}")
    if isinstance(outcome, RawAdu):
        if outcome.function_code >= 0x80:  # an exception, well formed or not, is a rejection
            evidence.note(f"rejected with exception PDU {outcome.pdu.hex()} (its format is MB-AP-025's "
                          "to judge)")
            return
        pdu = outcome.decode()
        assert isinstance(pdu, ExceptionResponse), (
            f"the device answered {what} as if it were valid: {outcome.raw.hex()} "
            "(expected no answer, an exception response, or the connection closed)")


@pytest.mark.parametrize(("malformed", "what"), [
    clause("MB-TCP-015", *_MALFORMED[0], title="After an ADU with protocol identifier 1, the device answers "
           "the next valid request on that connection (or closes it and serves a new one).",
           cites='MB-TCP 4.4.2.2: Protocol Identifier "If it is different from MODBUS protocol type, the '
                 'indication is simply discarded."'),
    clause("MB-TCP-016", *_MALFORMED[1], title="After an ADU whose MBAP length covers 2 bytes after the "
           "PDU, the device answers the next valid request on that connection (or closes it and serves a "
           "new one).", cites=_FRAMED_BY_LENGTH),
    clause("MB-TCP-017", *_MALFORMED[2], title="After an ADU whose MBAP length ends inside the PDU, the "
           "device answers the next valid request on that connection (or closes it and serves a new "
           "one).", cites=_FRAMED_BY_LENGTH),
])
def test_service_goes_on_after_rejected_adu(malformed: Malformation, what: str, client: Connection,
                                            connect: Connect, modbus_profile: DeviceProfile,
                                            suite_timing: Timing, evidence: EvidenceRecorder) -> None:
    """After an ADU it rejects, the device answers the next valid request (or closes and serves anew).

    MB-TCP 3.1.3: the MBAP length delimits each ADU, so the request after a
    rejected one starts where the length says; MB-TCP 4.4.2.2: an indication
    that is not MODBUS "is simply discarded" and the server goes on serving. The
    device may close the offending connection; then a new connection must be
    served. Sent on the same connection: one malformed ADU, a pause of the
    silence window, then a valid read.
    """
    client.send(malformed(client, pdu_bytes(client, probe_request(modbus_profile))))
    outcome = client.silence(suite_timing.silence)
    evidence.note(f"{what}: {_describe(outcome)}")
    expect_usable(connect, client, modbus_profile, evidence, outcome, what)


@pytest.mark.conformance(
    clause="MB-TCP-011", level="shall",
    cites='MB-TCP 4.2.1.2: "The MODBUS messaging service must provide a listening socket on Port 502, which '
          'permits to accept new connection"; MB-TCP 4.4.2.2: a non-MODBUS indication "is simply discarded"')
def test_malformed_adu_does_not_stop_server(client: Connection, connect: Connect,
                                            modbus_profile: DeviceProfile, suite_timing: Timing,
                                            evidence: EvidenceRecorder) -> None:
    """Malformed ADUs on one connection do not stop the server: other connections are served.

    MB-TCP 4.2.1.2 (the service "must provide a listening socket ... which
    permits to accept new connection") and 4.4.2.2 (a non-MODBUS indication
    "is simply discarded"): the server may close the offending connection,
    but keeps serving. Sent: an MBAP length of 0 (cannot hold the unit identifier), an
    MBAP length of 1 (no function code), and 40 bytes of garbage; each on a
    connection of its own while another connection stays open and is probed.
    """
    probe = probe_request(modbus_profile)
    # A device that declares one connection at a time is checked with a new connection after
    # each offender instead of a bystander held open beside it.
    bystander = client if modbus_profile.max_connections != 1 else None
    if bystander is not None:
        bystander.request(probe)
    garbage = bytes((i * 37 + 11) & 0xFF for i in range(40))
    for payload, what in ((struct.pack(">HHHB", 0x0101, 0, 0, 1) + b"\x03\x00", "MBAP length 0"),
                          (struct.pack(">HHHB", 0x0102, 0, 1, 1), "MBAP length 1"),
                          (garbage, "40 bytes of garbage")):
        offender = connect()
        offender.send(payload)
        evidence.note(f"{what}: {_describe(offender.silence(suite_timing.silence))}")
        offender.close()
        if bystander is not None:
            evidence.note(f"after {what}: the open bystander connection must still answer")
            bystander.request(probe)
        else:
            evidence.note(f"after {what}: a new connection must be served (max_connections = 1)")
            _served(connect(), probe, what)
    evidence.note("and a new connection must be served")
    _served(connect(), probe, "malformed ADUs")


def _served(fresh: Connection, probe: Pdu | bytes, after: str) -> None:
    try:
        fresh.request(probe)
    except NotAccepted as err:
        raise AssertionError(f"after {after} the device accepts no connection: {err}") from None
    fresh.close()
