"""Read function codes 01-04: quantity bounds, address range, byte counts (MB-AP 6.1-6.4).

Each function's state diagram in MB-AP 6.x checks, in order: the function
code is supported (else exception 01), the quantity is within its bounds
(else 03), the address range lies in the device (else 02).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from wireproof.codecs.modbus.constants import (
    MAX_READ_COILS,
    MAX_READ_DISCRETE_INPUTS,
    MAX_READ_REGISTERS,
    ExceptionCode,
)
from wireproof.codecs.modbus.messages import (
    Pdu,
    ReadCoilsRequest,
    ReadCoilsResponse,
    ReadDiscreteInputsRequest,
    ReadDiscreteInputsResponse,
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
    ReadInputRegistersResponse,
)
from wireproof.conformance.modbus_server._checks import (
    clause,
    expect_exceptions,
    past_end,
    require_fc,
    require_table,
)
from wireproof.conformance.modbus_server._connection import Connection
from wireproof.conformance.modbus_server.profile import DeviceProfile
from wireproof.harness.plugin import EvidenceRecorder, not_applicable

_READS: dict[int, tuple[Callable[..., Pdu], str, int]] = {
    0x01: (ReadCoilsRequest, "coils", MAX_READ_COILS),
    0x02: (ReadDiscreteInputsRequest, "discrete_inputs", MAX_READ_DISCRETE_INPUTS),
    0x03: (ReadHoldingRegistersRequest, "holding_registers", MAX_READ_REGISTERS),
    0x04: (ReadInputRegistersRequest, "input_registers", MAX_READ_REGISTERS),
}


@pytest.mark.parametrize("fc", [
    clause("MB-AP-001", 0x01,
           title="FC 01 with quantity 0 or 2001 is answered with exception 03 ILLEGAL DATA VALUE.",
           cites='MB-AP 6.1 state diagram (Figure 11): "0x0001 <= Quantity of Outputs <= 0x07D0" '
                 'else "ExceptionCode = 03"'),
    clause("MB-AP-002", 0x02,
           title="FC 02 with quantity 0 or 2001 is answered with exception 03 (MB-AP 6.2, state diagram).",
           cites='MB-AP 6.2 state diagram (Figure 12): "0x0001 <= Quantity of Inputs <= 0x07D0" '
                 'else "ExceptionCode = 03"'),
    clause("MB-AP-003", 0x03,
           title="FC 03 with quantity 0 or 126 is answered with exception 03 (MB-AP 6.3: 1..125).",
           cites='MB-AP 6.3 state diagram (Figure 13): "0x0001 <= Quantity of Registers <= 0x007D" '
                 'else "ExceptionCode = 03"'),
    clause("MB-AP-004", 0x04,
           title="FC 04 with quantity 0 or 126 is answered with exception 03 (MB-AP 6.4: 1..125).",
           cites='MB-AP 6.4 state diagram (Figure 14): "0x0001 <= Quantity of Registers <= 0x007D" '
                 'else "ExceptionCode = 03"'),
])
def test_read_quantity_bounds(fc: int, client: Connection, modbus_profile: DeviceProfile,
                              evidence: EvidenceRecorder) -> None:
    """A read (FC 01-04) with quantity 0 or its maximum + 1 is answered with exception 03.

    MB-AP 6.1-6.4: each state diagram checks "0x0001 <= Quantity <= max"
    (2000 bits, 125 registers) before the address, else exception code 03.
    """
    require_fc(modbus_profile, fc)
    cls, table_name, limit = _READS[fc]
    table = require_table(modbus_profile, table_name)
    expect_exceptions(client, evidence, [
        ("quantity 0", cls(start_address=table.start, quantity=0)),
        (f"quantity {limit + 1} (max {limit} + 1)", cls(start_address=table.start, quantity=limit + 1)),
    ], fc, ExceptionCode.ILLEGAL_DATA_VALUE)


@pytest.mark.parametrize("fc", [
    clause("MB-AP-005", 0x01,
           title="FC 01 past the implemented coils is answered with exception 02 ILLEGAL DATA ADDRESS.",
           cites='MB-AP 6.1 state diagram (Figure 11): "Starting Address == OK AND Starting Address + '
                 'Quantity of Outputs == OK" else "ExceptionCode = 02"'),
    clause("MB-AP-006", 0x02,
           title="FC 02 past the implemented discrete inputs is answered with exception 02 (MB-AP 6.2).",
           cites='MB-AP 6.2 state diagram (Figure 12): "Starting Address == OK AND Starting Address + '
                 'Quantity of Inputs == OK" else "ExceptionCode = 02"'),
    clause("MB-AP-007", 0x03,
           title="FC 03 past the implemented holding registers is answered with exception 02 (MB-AP 6.3).",
           cites='MB-AP 6.3 state diagram (Figure 13): "Starting Address == OK AND Starting Address + '
                 'Quantity of Registers == OK" else "ExceptionCode = 02"'),
    clause("MB-AP-008", 0x04,
           title="FC 04 past the implemented input registers is answered with exception 02 (MB-AP 6.4).",
           cites='MB-AP 6.4 state diagram (Figure 14): "Starting Address == OK AND Starting Address + '
                 'Quantity of Registers == OK" else "ExceptionCode = 02"'),
])
def test_read_address_range(fc: int, client: Connection, modbus_profile: DeviceProfile,
                            evidence: EvidenceRecorder) -> None:
    """A read (FC 01-04) past the implemented addresses is answered with exception 02 ILLEGAL DATA ADDRESS.

    MB-AP 6.1-6.4 state diagrams: "Starting Address == OK AND Starting Address
    + Quantity of Outputs == OK" (of Inputs, of Registers) else exception 02.
    Probed at the first address past the profile's range and with a range
    crossing its end.
    """
    require_fc(modbus_profile, fc)
    cls, table_name, _limit = _READS[fc]
    table = require_table(modbus_profile, table_name)
    end = past_end(table, table_name)
    expect_exceptions(client, evidence, [
        (f"address {end} (first past the {table_name})", cls(start_address=end, quantity=1)),
        (f"addresses {end - 1}..{end} (range crossing the end)", cls(start_address=end - 1, quantity=2)),
    ], fc, ExceptionCode.ILLEGAL_DATA_ADDRESS)


@pytest.mark.conformance(
    clause="MB-AP-009", level="shall",
    cites='MB-AP 6.1, 6.2: "N = Quantity of Outputs / 8, if the remainder is different of 0 => N = N+1"; '
          '"the remaining bits in the final data byte will be padded with zeros"')
def test_read_bits_byte_count(client: Connection, modbus_profile: DeviceProfile,
                              evidence: EvidenceRecorder) -> None:
    """FC 01/02 responses carry byte count = ceil(N / 8), the bytes it announces, and zero padding.

    MB-AP 6.1, 6.2: "Byte Count: N*" with "N = Quantity of Outputs / 8, if the
    remainder is different of 0 => N = N+1"; "the remaining bits in the final
    data byte will be padded with zeros". Probed with N = 1, 10 and 17 on every
    bit table the profile implements.
    """
    checked = 0
    for fc, (cls, table_name, _limit) in _READS.items():
        if fc > 0x02 or not modbus_profile.supports(fc) or modbus_profile.table(table_name) is None:
            continue
        table = require_table(modbus_profile, table_name)
        for n in (1, 10, 17):
            if n > table.count:
                continue
            reply = client.request(cls(start_address=table.start, quantity=n))
            what = f"FC {fc:02d} quantity {n}"
            reply.expect(ReadCoilsResponse if fc == 0x01 else ReadDiscreteInputsResponse, what)
            want = math.ceil(n / 8)
            pdu = reply.adu.pdu
            assert pdu[1] == want, f"{what}: byte count {pdu[1]}, expected ceil({n} / 8) = {want}"
            assert len(pdu) == 2 + want, f"{what}: {len(pdu) - 2} data bytes for byte count {pdu[1]}"
            if n % 8:
                padding = pdu[-1] >> (n % 8)
                assert padding == 0, f"{what}: padding bits of the last byte are {padding:#x}, not zero"
            checked += 1
    if not checked:
        not_applicable("the device profile implements neither FC 01 on coils nor FC 02 on discrete inputs")


@pytest.mark.conformance(
    clause="MB-AP-010", level="shall",
    cites='MB-AP 6.3, 6.4: Byte count "2 x N*", "*N = Quantity of Registers"; "The register data in the '
          'response message are packed as two bytes per register"')
def test_read_registers_byte_count(client: Connection, modbus_profile: DeviceProfile,
                                   evidence: EvidenceRecorder) -> None:
    """FC 03/04 responses carry byte count = 2 x N and exactly N registers (MB-AP 6.3, 6.4).

    Probed with N = 1, 7 and 125 (the maximum) where the table is that large.
    """
    checked = 0
    for fc, (cls, table_name, _limit) in _READS.items():
        if fc < 0x03 or not modbus_profile.supports(fc) or modbus_profile.table(table_name) is None:
            continue
        table = require_table(modbus_profile, table_name)
        for n in (1, 7, MAX_READ_REGISTERS):
            if n > table.count:
                continue
            reply = client.request(cls(start_address=table.start, quantity=n))
            what = f"FC {fc:02d} quantity {n}"
            body = reply.expect(ReadHoldingRegistersResponse if fc == 0x03 else ReadInputRegistersResponse,
                                what)
            assert reply.adu.pdu[1] == 2 * n, f"{what}: byte count {reply.adu.pdu[1]}, expected {2 * n}"
            assert len(body.values) == n, f"{what}: {len(body.values)} registers, expected {n}"
            checked += 1
    if not checked:
        not_applicable("the device profile implements neither FC 03 nor FC 04 on its register tables")
