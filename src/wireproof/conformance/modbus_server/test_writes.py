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
from dataclasses import dataclass
from typing import Any

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
    clause,
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
from wireproof.harness.clauses import setup_step
from wireproof.harness.plugin import EvidenceRecorder

Connect = Callable[[], Connection]


def _restore(evidence: EvidenceRecorder, what: str, action: Callable[[], object]) -> None:
    evidence.note(f"restore {what}")
    # Restoring is a courtesy to the device owner; its failure must not hide the verdict.
    with contextlib.suppress(AssertionError, WireproofError):
        action()


def _exception_or_dropped(client: Connection, evidence: EvidenceRecorder, what: str, pdu: Pdu,
                          function_code: int) -> None:
    """Exception 03; a request whose ADU exceeds MB-TCP's 260 bytes may also go unanswered or closed."""
    body = client.codec.encode_pdu(pdu, strict=False)
    if len(body) <= MAX_PDU_SIZE:
        expect_exceptions(client, evidence, [(what, pdu)], function_code, ExceptionCode.ILLEGAL_DATA_VALUE)
        return
    evidence.note(f"{what}: expect exception 03 (or the over-size ADU dropped)")
    try:
        reply = client.request(body)
    except (NoResponse, ConnectionClosed) as err:
        evidence.note(f"{what}: the {len(body)}-byte PDU was not answered ({err}); accepted: its ADU "
                      "exceeds the 260 bytes of MB-TCP")
        return
    reply.expect_exception(function_code, ExceptionCode.ILLEGAL_DATA_VALUE, what)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Writable:
    """A writable table as the write clauses use it: how to write, read back and change its values."""

    table: str
    noun: str  # one value, in messages
    read_fc: int
    read: Callable[[Connection, int, int], tuple[Any, ...]]
    write_one: Callable[[int, Any], Pdu]
    one_response: type[Any]
    write_many: Callable[[int, tuple[Any, ...]], Pdu]
    many_response: type[Any]
    zero: Any
    other: Callable[[Any], Any]  # a value that differs from the one given
    show: Callable[[Any], str]


COILS = _Writable(
    table="coils", noun="coil", read_fc=0x01, read=read_coils,
    write_one=lambda address, on: WriteSingleCoilRequest(address=address, value=COIL_ON if on else COIL_OFF),
    one_response=WriteSingleCoilResponse,
    write_many=lambda start, values: WriteMultipleCoilsRequest(start_address=start, values=values),
    many_response=WriteMultipleCoilsResponse, zero=False, other=lambda on: not on, show=str)
REGISTERS = _Writable(
    table="holding_registers", noun="register", read_fc=0x03, read=read_registers,
    write_one=lambda address, value: WriteSingleRegisterRequest(address=address, value=value),
    one_response=WriteSingleRegisterResponse,
    write_many=lambda start, values: WriteMultipleRegistersRequest(start_address=start, values=values),
    many_response=WriteMultipleRegistersResponse, zero=0, other=lambda value: value ^ 0xA55A,
    show=lambda value: f"0x{value:04X}")


@pytest.mark.conformance(
    clause="MB-AP-011", level="shall",
    cites='MB-AP 6.5: "All other values are illegal and will not affect the output"; state diagram '
          '(Figure 15): "Output Value == 0x0000 OR 0xFF00" else "ExceptionCode = 03"')
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
    before = None
    if modbus_profile.supports(0x01):
        with setup_step(evidence, f"read coil {address} before writing it (FC 01)"):
            before = read_coils(client, address, 1)
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


@pytest.mark.parametrize(("fc", "kind"), [
    clause("MB-AP-012", 0x05, COILS,
           title="The FC 05 response is an echo of the request, and the coil takes the value (MB-AP 6.5).",
           cites='MB-AP 6.5: "The normal response is an echo of the request, returned after the coil state '
                 'has been written."'),
    clause("MB-AP-013", 0x06, REGISTERS, title="The FC 06 response is an echo of the request, "
           "and the register takes the value (MB-AP 6.6).",
           cites='MB-AP 6.6: "The normal response is an echo of the request, returned after the register '
                 'contents have been written."'),
])
def test_write_single_echo(fc: int, kind: _Writable, client: Connection, modbus_profile: DeviceProfile,
                           evidence: EvidenceRecorder) -> None:
    """The response to FC 05 / FC 06 is an echo of the request, and the coil or register takes the value.

    MB-AP 6.5, 6.6: "The normal response is an echo of the request, returned
    after the coil state / the register contents have been written." Another
    value is written, then the original one, each read back with FC 01 / FC 03
    when the profile lists it.
    """
    require_fc(modbus_profile, fc)
    table = require_table(modbus_profile, kind.table, writable=True)
    address = table.write_address
    can_read = modbus_profile.supports(kind.read_fc)
    before = kind.zero
    if can_read:
        with setup_step(evidence, f"read {kind.noun} {address} before writing it (FC {kind.read_fc:02d})"):
            before = kind.read(client, address, 1)[0]
    try:
        for value in (kind.other(before), before):
            request = kind.write_one(address, value)
            reply = client.request(request)
            reply.expect(kind.one_response, f"FC {fc:02d}")
            sent = client.codec.encode_pdu(request)
            assert reply.adu.pdu == sent, (
                f"FC {fc:02d} response {reply.adu.pdu.hex()} is not an echo of {sent.hex()}")
            if can_read:
                got = kind.read(client, address, 1)[0]
                assert got == value, (f"{kind.noun} {address} reads {kind.show(got)} "
                                      f"after FC {fc:02d} wrote {kind.show(value)}")
    finally:
        if can_read:
            restore = kind.write_one(address, before)
            _restore(evidence, f"{kind.noun} {address}", lambda: client.request(restore))


@pytest.mark.parametrize(("fc", "kind", "limit"), [
    # The byte counts sent are consistent with the quantity: only the quantity is out of bounds.
    clause("MB-AP-015", 0x0F, COILS, MAX_WRITE_COILS,
           title="FC 15 with quantity 0 or 1969 is answered with exception 03.",
           cites='MB-AP 6.11 state diagram (Figure 21): "0x0001 <= Quantity of Outputs <= 0x07B0 AND '
                 'Byte Count = N*" else "ExceptionCode = 03"'),
    # Quantity 124 needs a 254-byte PDU.
    clause("MB-AP-017", 0x10, REGISTERS, MAX_WRITE_REGISTERS,
           title="FC 16 with quantity 0 or 124 is answered with exception 03.",
           cites='MB-AP 6.12 state diagram (Figure 22): "0x0001 <= Quantity of Registers <= 0x007B AND '
                 'Byte Count == Quantity of Registers x 2" else "ExceptionCode = 03"'),
])
def test_write_multiple_quantity_bounds(fc: int, kind: _Writable, limit: int, client: Connection,
                                        modbus_profile: DeviceProfile, evidence: EvidenceRecorder) -> None:
    """FC 15 / FC 16 with quantity 0 or its maximum + 1 is answered with exception 03.

    MB-AP 6.11, 6.12 state diagrams: the quantity (1..1968 coils, 1..123
    registers) and a byte count that fits it, else exception code 03. A
    request that needs a PDU over 253 bytes may also be dropped (MB-TCP: ADU
    <= 260 bytes).
    """
    require_fc(modbus_profile, fc)
    table = require_table(modbus_profile, kind.table, writable=True)
    for quantity in (0, limit + 1):
        _exception_or_dropped(client, evidence, f"FC {fc:02d} quantity {quantity}",
                              kind.write_many(table.start, (kind.zero,) * quantity), fc)


@pytest.mark.parametrize(("fc", "kind", "n"), [
    # 10 coils, crossing a byte boundary.
    clause("MB-AP-016", 0x0F, COILS, 10,
           title="The FC 15 response returns the starting address and quantity written; read-back agrees.",
           cites='MB-AP 6.11: "The normal response returns the function code, starting address, and '
                 'quantity of coils forced."'),
    clause("MB-AP-018", 0x10, REGISTERS, 5,
           title="The FC 16 response returns the starting address and quantity written; read-back agrees.",
           cites='MB-AP 6.12: "The normal response returns the function code, starting address, and '
                 'quantity of registers written."'),
])
def test_write_multiple_echo(fc: int, kind: _Writable, n: int, client: Connection,
                             modbus_profile: DeviceProfile, evidence: EvidenceRecorder) -> None:
    """The FC 15 / FC 16 response returns the starting address and quantity written; read-back agrees.

    MB-AP 6.11, 6.12. Each value is changed, and read back with FC 01 / FC 03
    when the profile lists it.
    """
    require_fc(modbus_profile, fc)
    table = require_table(modbus_profile, kind.table, writable=True)
    start = write_span(table, n)
    can_read = modbus_profile.supports(kind.read_fc)
    before = None
    if can_read:
        step = f"read {n} {kind.noun}s at {start} before writing them (FC {kind.read_fc:02d})"
        with setup_step(evidence, step):
            before = kind.read(client, start, n)
    values = tuple(kind.other(v) for v in (before or (kind.zero,) * n))
    span = f"{kind.noun}s {start}..{start + n - 1}"
    try:
        reply = client.request(kind.write_many(start, values))
        body = reply.expect(kind.many_response, f"FC {fc:02d}")
        assert (body.start_address, body.quantity) == (start, n), (
            f"FC {fc:02d} response says address {body.start_address} quantity {body.quantity}, "
            f"request was address {start} quantity {n}")
        if can_read:
            got = kind.read(client, start, n)
            assert got == values, f"{span} read {got} after FC {fc:02d} wrote {values}"
    finally:
        if before is not None:
            restore = kind.write_many(start, before)
            _restore(evidence, span, lambda: client.request(restore))


Probes = Callable[[int], list[tuple[str, Pdu]]]


@pytest.mark.parametrize(("fc", "probes"), [
    clause("MB-AP-014", 0x06, lambda end: [
        (f"FC 06 at address {end}", WriteSingleRegisterRequest(address=end, value=0)),
    ], title="FC 06 to the first address past the holding registers gets exception 02 "
             "(MB-AP 6.6 state diagram).",
       cites='MB-AP 6.6 state diagram (Figure 16): "Register Address == OK" else "ExceptionCode = 02"'),
    clause("MB-AP-019", 0x10, lambda end: [
        (f"FC 16 at address {end}", WriteMultipleRegistersRequest(start_address=end, values=(0,))),
        (f"FC 16 at {end - 1}..{end}", WriteMultipleRegistersRequest(start_address=end - 1, values=(0, 0))),
    ], title="FC 16 past the holding registers is answered with exception 02 (MB-AP 6.12 state diagram).",
       cites='MB-AP 6.12 state diagram (Figure 22): "Starting Address == OK AND Starting Address + '
             'Quantity of Registers == OK" else "ExceptionCode = 02"'),
])
def test_write_registers_address_range(fc: int, probes: Probes, client: Connection,
                                       modbus_profile: DeviceProfile, evidence: EvidenceRecorder) -> None:
    """FC 06 / FC 16 past the holding registers is answered with exception 02 ILLEGAL DATA ADDRESS.

    MB-AP 6.6 state diagram: "Register Address == OK"; 6.12: "Starting Address
    == OK AND Starting Address + Quantity of Registers == OK"; else exception
    02. Probed at the first address past the profile's range and (FC 16) with
    a range crossing its end.
    """
    require_fc(modbus_profile, fc)
    table = require_table(modbus_profile, "holding_registers", writable=True)
    end = past_end(table, "holding_registers")
    expect_exceptions(client, evidence, probes(end), fc, ExceptionCode.ILLEGAL_DATA_ADDRESS)


@pytest.mark.conformance(
    clause="MB-AP-020", level="shall",
    cites='MB-AP 6.17 state diagram (Figure 27): "0x0001 <= Quantity of Read <= 0x007D AND 0x0001 <= '
          'Quantity of Write <= 0x0079 AND Byte Count == Quantity of Write x 2" else "ExceptionCode = 03"')
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


@pytest.mark.conformance(
    clause="MB-AP-021", level="shall",
    cites='MB-AP 6.17: "The write operation is performed before the read."')
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
    before = None
    if can_read:
        with setup_step(evidence, f"read {n} holding registers at {start} before writing them (FC 03)"):
            before = read_registers(client, start, n)
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


@pytest.mark.conformance(
    clause="MB-AP-026", level="shall",
    cites='MB-AP 6.12 state diagram (Figure 22): "... AND Byte Count == Quantity of Registers x 2" '
          'else "ExceptionCode = 03"')
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
