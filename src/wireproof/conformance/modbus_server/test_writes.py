"""Write function codes 05, 06, 15, 16, 23: values, bounds, echoes, read-back (MB-AP 6.5-6.17).

Clauses that write read the original values first (when the profile lists
the matching read function) and restore them afterwards, best effort, at the
profile's scratch address. A request whose ADU would exceed MB-TCP's 260
bytes (a 254-byte PDU is the only way to state quantity max + 1 for FC 16
and 23) may also be dropped or its connection closed: that is accepted, and
recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from wireproof.codecs.modbus.constants import (
    COIL_OFF,
    COIL_ON,
    MAX_PDU_SIZE,
    MAX_RW_READ,
    MAX_RW_WRITE,
    MAX_WRITE_COILS,
    MAX_WRITE_REGISTERS,
    ExceptionCode,
)
from wireproof.codecs.modbus.messages import (
    Pdu,
    ReadWriteMultipleRegistersRequest,
    ReadWriteMultipleRegistersResponse,
    WriteMultipleCoilsRequest,
    WriteMultipleCoilsResponse,
    WriteMultipleRegistersRequest,
    WriteMultipleRegistersResponse,
    WriteSingleCoilRequest,
    WriteSingleCoilResponse,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
)
from wireproof.conformance.modbus_server._checks import (
    expect_exceptions,
    past_end,
    read_coils,
    read_registers,
    require_fc,
    require_table,
    write_span,
)
from wireproof.conformance.modbus_server._connection import Connection, ConnectionClosed, NoResponse
from wireproof.conformance.modbus_server.profile import DeviceProfile
from wireproof.errors import WireproofError
from wireproof.harness.plugin import EvidenceRecorder

Connect = Callable[[], Connection]


def _restore(evidence: EvidenceRecorder, what: str, action: Callable[[], object]) -> None:
    evidence.note(f"restore {what}")
    # Restoring is a courtesy to the device owner; its failure must not hide the verdict.
    with contextlib.suppress(AssertionError, WireproofError):
        action()


def _exception_or_dropped(client: Connection, evidence: EvidenceRecorder, what: str, pdu: Pdu,
                          function_code: int) -> None:
    """An over-size request: exception 03, or dropped / connection closed (MB-TCP ADU <= 260)."""
    evidence.note(f"{what}: expect exception 03 (or the over-size ADU dropped)")
    body = client.codec.encode_pdu(pdu, strict=False)
    try:
        reply = client.request(body)
    except (NoResponse, ConnectionClosed) as err:
        if len(body) <= MAX_PDU_SIZE:
            raise
        evidence.note(f"{what}: the {len(body)}-byte PDU was not answered ({err}); accepted: its ADU "
                      "exceeds the 260 bytes of MB-TCP")
        return
    reply.expect_exception(function_code, ExceptionCode.ILLEGAL_DATA_VALUE, what)


@pytest.mark.conformance(clause="MB-AP-011", level="shall")
def test_write_single_coil_illegal_value(client: Connection, modbus_profile: DeviceProfile,
                                         evidence: EvidenceRecorder) -> None:
    """FC 05 with an output value other than 0x0000 or 0xFF00 is answered with exception 03.

    MB-AP 6.5: "A value of FF 00 hex requests the output to be ON. A value of
    00 00 requests it to be OFF. All other values are illegal and will not
    affect the output"; state diagram: "Output Value == 0x0000 OR 0xFF00"
    else exception code 03.
    """
    require_fc(modbus_profile, 0x05)
    table = require_table(modbus_profile, "coils", writable=True)
    address = table.write_address
    before = read_coils(client, address, 1) if modbus_profile.supports(0x01) else None
    try:
        expect_exceptions(client, evidence, [
            ("FC 05 value 0x1234", WriteSingleCoilRequest(address=address, value=0x1234)),
            ("FC 05 value 0x00FF", WriteSingleCoilRequest(address=address, value=0x00FF)),
        ], 0x05, ExceptionCode.ILLEGAL_DATA_VALUE)
        if before is not None:
            assert read_coils(client, address, 1) == before, (
                f"coil {address} changed after an illegal FC 05 value (MB-AP 6.5: illegal values "
                "will not affect the output)")
    finally:
        if before is not None:
            value = COIL_ON if before[0] else COIL_OFF
            _restore(evidence, f"coil {address}",
                     lambda: client.request(WriteSingleCoilRequest(address=address, value=value)))


@pytest.mark.conformance(clause="MB-AP-012", level="shall")
def test_write_single_coil_echo(client: Connection, modbus_profile: DeviceProfile,
                                evidence: EvidenceRecorder) -> None:
    """The FC 05 response is an echo of the request, and the coil takes the value (MB-AP 6.5).

    MB-AP 6.5: "The normal response is an echo of the request, returned after
    the coil state has been written." Read back with FC 01 when the profile has it.
    """
    require_fc(modbus_profile, 0x05)
    table = require_table(modbus_profile, "coils", writable=True)
    address = table.write_address
    can_read = modbus_profile.supports(0x01)
    before = read_coils(client, address, 1)[0] if can_read else False
    try:
        for on in (not before, before):
            request = WriteSingleCoilRequest(address=address, value=COIL_ON if on else COIL_OFF)
            reply = client.request(request)
            reply.expect(WriteSingleCoilResponse, "FC 05")
            sent = client.codec.encode_pdu(request)
            assert reply.adu.pdu == sent, (
                f"FC 05 response {reply.adu.pdu.hex()} is not an echo of {sent.hex()}")
            if can_read:
                got = read_coils(client, address, 1)[0]
                assert got == on, f"coil {address} reads {got} after FC 05 wrote {on}"
    finally:
        if can_read:
            _restore(evidence, f"coil {address}", lambda: client.request(
                WriteSingleCoilRequest(address=address, value=COIL_ON if before else COIL_OFF)))


@pytest.mark.conformance(clause="MB-AP-013", level="shall")
def test_write_single_register_echo(client: Connection, modbus_profile: DeviceProfile,
                                    evidence: EvidenceRecorder) -> None:
    """The FC 06 response is an echo of the request, and the register takes the value (MB-AP 6.6).

    MB-AP 6.6: "The normal response is an echo of the request, returned after
    the register contents have been written." Read back with FC 03 when listed.
    """
    require_fc(modbus_profile, 0x06)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    address = table.write_address
    can_read = modbus_profile.supports(0x03)
    before = read_registers(client, address, 1)[0] if can_read else 0
    value = before ^ 0xA55A
    try:
        request = WriteSingleRegisterRequest(address=address, value=value)
        reply = client.request(request)
        reply.expect(WriteSingleRegisterResponse, "FC 06")
        sent = client.codec.encode_pdu(request)
        assert reply.adu.pdu == sent, f"FC 06 response {reply.adu.pdu.hex()} is not an echo of {sent.hex()}"
        if can_read:
            got = read_registers(client, address, 1)[0]
            assert got == value, f"register {address} reads 0x{got:04X} after FC 06 wrote 0x{value:04X}"
    finally:
        if can_read:
            _restore(evidence, f"register {address}",
                     lambda: client.request(WriteSingleRegisterRequest(address=address, value=before)))


@pytest.mark.conformance(clause="MB-AP-014", level="shall")
def test_write_single_register_address_range(client: Connection, modbus_profile: DeviceProfile,
                                             evidence: EvidenceRecorder) -> None:
    """FC 06 to the first address past the holding registers gets exception 02 (MB-AP 6.6 state diagram)."""
    require_fc(modbus_profile, 0x06)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    end = past_end(table, "holding_registers")
    expect_exceptions(client, evidence, [
        (f"FC 06 at address {end}", WriteSingleRegisterRequest(address=end, value=0)),
    ], 0x06, ExceptionCode.ILLEGAL_DATA_ADDRESS)


@pytest.mark.conformance(clause="MB-AP-015", level="shall")
def test_write_multiple_coils_quantity_bounds(client: Connection, modbus_profile: DeviceProfile,
                                              evidence: EvidenceRecorder) -> None:
    """FC 15 with quantity 0 or 1969 is answered with exception 03.

    MB-AP 6.11 state diagram: "0x0001 <= Quantity of Outputs <= 0x07B0 AND
    Byte Count = N*" else exception code 03 (byte counts here are consistent).
    """
    require_fc(modbus_profile, 0x0F)
    table = require_table(modbus_profile, "coils", writable=True)
    expect_exceptions(client, evidence, [
        ("FC 15 quantity 0", WriteMultipleCoilsRequest(start_address=table.start, values=())),
        (f"FC 15 quantity {MAX_WRITE_COILS + 1}",
         WriteMultipleCoilsRequest(start_address=table.start, values=(False,) * (MAX_WRITE_COILS + 1))),
    ], 0x0F, ExceptionCode.ILLEGAL_DATA_VALUE)


@pytest.mark.conformance(clause="MB-AP-016", level="shall")
def test_write_multiple_coils_echo(client: Connection, modbus_profile: DeviceProfile,
                                   evidence: EvidenceRecorder) -> None:
    """The FC 15 response returns the starting address and quantity written; read-back agrees.

    MB-AP 6.11: "The normal response returns the function code, starting
    address, and quantity of outputs forced." 10 coils, crossing a byte boundary.
    """
    require_fc(modbus_profile, 0x0F)
    table = require_table(modbus_profile, "coils", writable=True)
    n = 10
    start = write_span(table, n)
    can_read = modbus_profile.supports(0x01)
    before = read_coils(client, start, n) if can_read else None
    pattern = tuple(not b for b in before) if before else tuple(bool(i % 3 == 0) for i in range(n))
    try:
        reply = client.request(WriteMultipleCoilsRequest(start_address=start, values=pattern))
        body = reply.expect(WriteMultipleCoilsResponse, "FC 15")
        assert (body.start_address, body.quantity) == (start, n), (
            f"FC 15 response says address {body.start_address} quantity {body.quantity}, "
            f"request was address {start} quantity {n}")
        if can_read:
            got = read_coils(client, start, n)
            assert got == pattern, f"coils {start}..{start + n - 1} read {got} after FC 15 wrote {pattern}"
    finally:
        if before is not None:
            _restore(evidence, f"coils {start}..{start + n - 1}",
                     lambda: client.request(WriteMultipleCoilsRequest(start_address=start, values=before)))


@pytest.mark.conformance(clause="MB-AP-017", level="shall")
def test_write_multiple_registers_quantity_bounds(client: Connection, modbus_profile: DeviceProfile,
                                                  evidence: EvidenceRecorder) -> None:
    """FC 16 with quantity 0 or 124 is answered with exception 03.

    MB-AP 6.12 state diagram: "0x0001 <= Quantity of Registers <= 0x007B AND
    Byte Count == Quantity of Registers x 2" else exception code 03. Quantity
    124 needs a 254-byte PDU; dropping that over-size ADU is accepted too.
    """
    require_fc(modbus_profile, 0x10)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    expect_exceptions(client, evidence, [
        ("FC 16 quantity 0", WriteMultipleRegistersRequest(start_address=table.start, values=())),
    ], 0x10, ExceptionCode.ILLEGAL_DATA_VALUE)
    _exception_or_dropped(client, evidence, f"FC 16 quantity {MAX_WRITE_REGISTERS + 1}",
                          WriteMultipleRegistersRequest(start_address=table.start,
                                                        values=(0,) * (MAX_WRITE_REGISTERS + 1)), 0x10)


@pytest.mark.conformance(clause="MB-AP-018", level="shall")
def test_write_multiple_registers_echo(client: Connection, modbus_profile: DeviceProfile,
                                       evidence: EvidenceRecorder) -> None:
    """The FC 16 response returns the starting address and quantity written; read-back agrees.

    MB-AP 6.12: "The normal response returns the function code, starting
    address, and quantity of registers written."
    """
    require_fc(modbus_profile, 0x10)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    n = 5
    start = write_span(table, n)
    can_read = modbus_profile.supports(0x03)
    before = read_registers(client, start, n) if can_read else None
    values = tuple((v ^ 0x5AA5) for v in before) if before else tuple(0x1100 + i for i in range(n))
    try:
        reply = client.request(WriteMultipleRegistersRequest(start_address=start, values=values))
        body = reply.expect(WriteMultipleRegistersResponse, "FC 16")
        assert (body.start_address, body.quantity) == (start, n), (
            f"FC 16 response says address {body.start_address} quantity {body.quantity}, "
            f"request was address {start} quantity {n}")
        if can_read:
            got = read_registers(client, start, n)
            assert got == values, f"registers at {start} read {got} after FC 16 wrote {values}"
    finally:
        if before is not None:
            restore = WriteMultipleRegistersRequest(start_address=start, values=before)
            _restore(evidence, f"registers {start}..{start + n - 1}", lambda: client.request(restore))


@pytest.mark.conformance(clause="MB-AP-019", level="shall")
def test_write_multiple_registers_address_range(client: Connection, modbus_profile: DeviceProfile,
                                                evidence: EvidenceRecorder) -> None:
    """FC 16 past the holding registers is answered with exception 02 (MB-AP 6.12 state diagram)."""
    require_fc(modbus_profile, 0x10)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    end = past_end(table, "holding_registers")
    expect_exceptions(client, evidence, [
        (f"FC 16 at address {end}", WriteMultipleRegistersRequest(start_address=end, values=(0,))),
        (f"FC 16 at {end - 1}..{end}", WriteMultipleRegistersRequest(start_address=end - 1, values=(0, 0))),
    ], 0x10, ExceptionCode.ILLEGAL_DATA_ADDRESS)


@pytest.mark.conformance(clause="MB-AP-020", level="shall")
def test_read_write_registers_quantity_bounds(client: Connection, modbus_profile: DeviceProfile,
                                              evidence: EvidenceRecorder) -> None:
    """FC 23 with read quantity 0 / 126 or write quantity 0 / 122 is answered with exception 03.

    MB-AP 6.17 state diagram: "0x0001 <= Quantity of Read <= 0x007D AND
    0x0001 <= Quantity of Write <= 0x0079 AND Byte Count == Quantity of Write
    x 2" else exception code 03. Write quantity 122 needs a 254-byte PDU;
    dropping that over-size ADU is accepted too.
    """
    require_fc(modbus_profile, 0x17)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    s, w = table.start, write_span(table, 1)

    def rw(read_quantity: int, values: tuple[int, ...]) -> ReadWriteMultipleRegistersRequest:
        return ReadWriteMultipleRegistersRequest(read_start_address=s, read_quantity=read_quantity,
                                                 write_start_address=w, values=values)

    expect_exceptions(client, evidence, [
        ("FC 23 read quantity 0", rw(0, (0,))),
        (f"FC 23 read quantity {MAX_RW_READ + 1}", rw(MAX_RW_READ + 1, (0,))),
        ("FC 23 write quantity 0", rw(1, ())),
    ], 0x17, ExceptionCode.ILLEGAL_DATA_VALUE)
    _exception_or_dropped(client, evidence, f"FC 23 write quantity {MAX_RW_WRITE + 1}",
                          rw(1, (0,) * (MAX_RW_WRITE + 1)), 0x17)


@pytest.mark.conformance(clause="MB-AP-021", level="shall")
def test_read_write_registers_write_before_read(client: Connection, modbus_profile: DeviceProfile,
                                                evidence: EvidenceRecorder) -> None:
    """FC 23 performs the write before the read: reading the range it writes returns the new values.

    MB-AP 6.17: "The write operation is performed before the read."
    """
    require_fc(modbus_profile, 0x17)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    n = 3
    start = write_span(table, n)
    can_read = modbus_profile.supports(0x03)
    before = read_registers(client, start, n) if can_read else None
    values = tuple((v ^ 0x3CC3) for v in before) if before else (0x2301, 0x2302, 0x2303)
    try:
        reply = client.request(ReadWriteMultipleRegistersRequest(
            read_start_address=start, read_quantity=n, write_start_address=start, values=values))
        body = reply.expect(ReadWriteMultipleRegistersResponse, "FC 23")
        assert reply.adu.pdu[1] == 2 * n, f"FC 23 byte count {reply.adu.pdu[1]}, expected {2 * n}"
        assert body.values == values, f"FC 23 read {body.values} from the range it wrote {values}"
    finally:
        if before is not None:
            restore = WriteMultipleRegistersRequest(start_address=start, values=before)
            _restore(evidence, f"registers {start}..{start + n - 1}", lambda: client.request(restore))


@pytest.mark.conformance(clause="MB-AP-026", level="shall")
def test_write_multiple_registers_byte_count(client: Connection, modbus_profile: DeviceProfile,
                                             evidence: EvidenceRecorder) -> None:
    """FC 16 whose byte count is not 2 x quantity is answered with exception 03.

    MB-AP 6.12 state diagram: "... AND Byte Count == Quantity of Registers x 2"
    else exception code 03. Sent: quantity 2, byte count 2, two data bytes.
    """
    require_fc(modbus_profile, 0x10)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    start = write_span(table, 2)
    pdu = bytes([0x10]) + start.to_bytes(2, "big") + (2).to_bytes(2, "big") + bytes([2, 0x12, 0x34])
    expect_exceptions(client, evidence, [("FC 16 quantity 2 with byte count 2", pdu)],
                      0x10, ExceptionCode.ILLEGAL_DATA_VALUE)
