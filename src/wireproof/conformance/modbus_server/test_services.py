"""Diagnostics echo, device identification, unsupported functions, exception format.

MB-AP 6.8.1 (FC 08 sub-function 00), 6.21 (FC 43 / MEI 14), 7 (exception responses).
"""

from __future__ import annotations

import pytest

from wireproof.codecs.modbus.constants import (
    EXCEPTION_FLAG,
    ConformityLevel,
    DeviceIdObject,
    ExceptionCode,
)
from wireproof.codecs.modbus.messages import (
    DiagnosticsRequest,
    DiagnosticsResponse,
    ReadDeviceIdentificationRequest,
    ReadDeviceIdentificationResponse,
    ReadHoldingRegistersRequest,
)
from wireproof.conformance.modbus_server._checks import require_fc
from wireproof.conformance.modbus_server._connection import Connection
from wireproof.conformance.modbus_server.profile import DeviceProfile
from wireproof.harness.plugin import EvidenceRecorder

_BASIC = (DeviceIdObject.VENDOR_NAME, DeviceIdObject.PRODUCT_CODE, DeviceIdObject.MAJOR_MINOR_REVISION)


@pytest.mark.conformance(
    clause="MB-AP-022", level="shall",
    cites='MB-AP 6.8: "The normal response to the Return Query Data request is to loopback the same data. '
          'The function code and sub-function codes are also echoed."')
def test_diagnostics_return_query_data(client: Connection, modbus_profile: DeviceProfile,
                                       evidence: EvidenceRecorder) -> None:
    """FC 08 sub-function 00 (Return Query Data) echoes the request data (MB-AP 6.8.1).

    "The data passed in the request data field is to be returned (looped back)
    in the response. The entire response message should be identical to the
    request." Probed with 2 and with 6 bytes of data. MB-AP 6.8 marks
    Diagnostics "Serial Line only": the clause applies only to a device whose
    profile lists FC 08, and such a device is held to the loop-back.
    """
    require_fc(modbus_profile, 0x08)
    for data in (bytes.fromhex("A55A"), bytes.fromhex("0102FEFF8000")):
        request = DiagnosticsRequest(sub_function=0x00, data=data)
        reply = client.request(request)
        body = reply.expect(DiagnosticsResponse, f"FC 08/00 with data {data.hex()}")
        sent = client.codec.encode_pdu(request)
        assert reply.adu.pdu == sent, (
            f"FC 08/00 response {reply.adu.pdu.hex()} is not the request PDU {sent.hex()} looped back")
        assert body.sub_function == 0x00


@pytest.mark.conformance(
    clause="MB-AP-023", level="shall",
    cites='MB-AP 6.21: "Basic Device Identification. All objects of this category are mandatory : '
          'VendorName, Product code, and revision number."')
def test_read_device_identification_basic(client: Connection, modbus_profile: DeviceProfile,
                                          evidence: EvidenceRecorder) -> None:
    """FC 43 / MEI 14, code 01: VendorName, ProductCode, MajorMinorRevision and a valid conformity level.

    MB-AP 6.21: the basic category (objects 0x00-0x02) is mandatory; the
    conformity level is 0x01-0x03 or 0x81-0x83; a stream read follows
    "More Follows" / "Next Object Id" until all objects of the category are read.
    """
    require_fc(modbus_profile, 0x2B)
    objects: dict[int, bytes] = {}
    object_id = 0
    levels = {int(c) for c in ConformityLevel}
    for _ in range(8):  # the basic category is 3 objects: more rounds mean the device loops
        reply = client.request(ReadDeviceIdentificationRequest(read_device_id_code=0x01, object_id=object_id))
        body = reply.expect(ReadDeviceIdentificationResponse, "FC 43/14 read device id code 01")
        assert body.read_device_id_code == 0x01, (
            f"FC 43/14 response read device id code {body.read_device_id_code}, request was 01")
        assert body.conformity_level in levels, (
            f"conformity level 0x{body.conformity_level:02X} is not one of MB-AP 6.21's "
            f"{', '.join(f'0x{v:02X}' for v in sorted(levels))}")
        objects.update(body.objects)
        if not body.more_follows:
            break
        object_id = body.next_object_id
    else:
        raise AssertionError("FC 43/14: 'More Follows' still set after 8 responses for 3 basic objects")
    evidence.note("objects: " + ", ".join(f"0x{k:02X}={v!r}" for k, v in sorted(objects.items())))
    missing = [obj.name for obj in _BASIC if obj not in objects]
    assert not missing, f"FC 43/14 basic objects missing: {', '.join(missing)} (MB-AP 6.21: mandatory)"


@pytest.mark.conformance(
    clause="MB-AP-024", level="shall",
    cites='MB-AP 6 (every state diagram): "Function code supported" else "ExceptionCode = 01"; '
          'MB-TCP 4.4.2.2: "in case of invalidity a MODBUS exception response is built (Exception code 1 : '
          'Invalid function)"')
def test_unsupported_function_code(client: Connection, modbus_profile: DeviceProfile,
                                   evidence: EvidenceRecorder) -> None:
    """A function code the device does not implement is answered with exception 01 ILLEGAL FUNCTION.

    MB-AP 7: "The function code received in the query is not an allowable
    action for the server"; every state diagram of MB-AP 6 starts with
    "Function code supported" else exception code 01; MB-TCP 4.4.2.2: the
    function code is checked first, "in case of invalidity a MODBUS exception
    response is built (Exception code 1 : Invalid function)".
    """
    fc = modbus_profile.illegal_function_code()
    evidence.note(f"function code 0x{fc:02X} is not in the device profile")
    reply = client.request(bytes([fc, 0x00, 0x00, 0x00, 0x01]))
    reply.expect_exception(fc, ExceptionCode.ILLEGAL_FUNCTION, f"function code 0x{fc:02X}")


@pytest.mark.conformance(
    clause="MB-AP-025", level="shall",
    cites='MB-AP 7: "In an exception response, the server sets the MSB of the function code to 1"; "the '
          'server returns an exception code in the data field"; MB-TCP 3.1.3: length "a byte count of the '
          'following fields"')
def test_exception_response_format(client: Connection, modbus_profile: DeviceProfile,
                                   evidence: EvidenceRecorder) -> None:
    """An exception response is the function code with bit 7 set and one exception code byte.

    MB-AP 7: "In an exception response, the server sets the MSB of the
    function code to 1"; "In an exception response, the server returns an
    exception code in the data field"; so the PDU is exactly 2 bytes and the
    MBAP length 3 (MB-TCP 3.1.3).
    Probed with an unsupported function code and, if FC 03 is listed, quantity 0.
    """
    probes = [(modbus_profile.illegal_function_code(), b"\x00\x00\x00\x01", "unsupported function code")]
    table = modbus_profile.table("holding_registers")
    if modbus_profile.supports(0x03) and table is not None:
        pdu = client.codec.encode_pdu(
            ReadHoldingRegistersRequest(start_address=table.start, quantity=0), strict=False)
        probes.append((0x03, pdu[1:], "FC 03 quantity 0"))
    for fc, data, what in probes:
        reply = client.request(bytes([fc]) + data)
        raw = reply.adu
        assert raw.pdu[:1] == bytes([fc | EXCEPTION_FLAG]), (
            f"{what}: response function code 0x{raw.function_code:02X}, expected 0x{fc | EXCEPTION_FLAG:02X}")
        assert len(raw.pdu) == 2, (
            f"{what}: exception PDU is {len(raw.pdu)} bytes ({raw.pdu.hex()}), expected 2")
        assert raw.length == 3, f"{what}: MBAP length {raw.length} for an exception response, expected 3"
        assert raw.pdu[1] in {int(c) for c in ExceptionCode}, (
            f"{what}: exception code 0x{raw.pdu[1]:02X} is not one MB-AP 7 defines")
