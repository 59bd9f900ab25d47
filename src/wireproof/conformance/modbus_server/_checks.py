"""Helpers the clause files share: applicability, bounds probes, read-back.

Applicability is decided here, from the device profile, so every clause
says "not applicable" the same way (DESIGN.md, "Conformance").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from wireproof.codecs.modbus.constants import ADDRESS_SPACE, ExceptionCode
from wireproof.codecs.modbus.messages import (
    Pdu,
    ReadCoilsRequest,
    ReadCoilsResponse,
    ReadDiscreteInputsRequest,
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    ReadInputRegistersRequest,
)
from wireproof.conformance.modbus_server._connection import Connection, ConnectionClosed, NotAccepted, RawAdu
from wireproof.conformance.modbus_server.profile import AddressRange, DeviceProfile
from wireproof.harness.plugin import EvidenceRecorder, not_applicable

__all__ = ["Timing", "clause", "expect_exceptions", "expect_usable", "past_end", "pdu_bytes", "probe_request",
           "read_coils", "read_registers", "require_fc", "require_table", "write_span"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """How long to wait for an answer, and how long to listen when none is expected."""

    response_timeout: float
    silence: float


def clause(clause_id: str, *values: object, title: str, level: str = "shall") -> Any:
    """One row of a parametrized clause test, with its own stable id, level and one-line title.

    The id is the clause id, so ``-k MB-AP-003`` selects the row as it selects
    an unparametrized clause; the title stands in the reports where a clause
    test's docstring summary would.
    """
    return pytest.param(*values, marks=pytest.mark.conformance(clause=clause_id, level=level, title=title),
                        id=clause_id)


def require_fc(profile: DeviceProfile, *function_codes: int) -> None:
    """End the clause as not applicable unless the profile lists every function code."""
    missing = [fc for fc in function_codes if not profile.supports(fc)]
    if missing:
        names = ", ".join(f"{fc:02d} (0x{fc:02X})" for fc in missing)
        not_applicable(f"the device profile does not list function code {names}")


def require_table(profile: DeviceProfile, name: str, *, writable: bool = False) -> AddressRange:
    table = profile.table(name)
    if table is None:
        not_applicable(f"the device profile implements no {name.replace('_', ' ')}")
    if writable and not table.writable:
        not_applicable(f"the device profile marks the {name.replace('_', ' ')} read-only")
    return table


def past_end(table: AddressRange, name: str) -> int:
    """The first address past ``table``; not applicable if the table ends at 65535."""
    if table.end >= ADDRESS_SPACE:
        not_applicable(f"the profile's {name.replace('_', ' ')} reach address 65535: "
                       "there is no address past the range")
    return table.end


def write_span(table: AddressRange, n: int) -> int:
    """A start address where ``n`` values fit inside ``table``, at its scratch address if possible."""
    if table.count < n:
        not_applicable(f"the table has {table.count} addresses, the clause writes {n}")
    return min(table.write_address, table.end - n)


def expect_exceptions(client: Connection, evidence: EvidenceRecorder,
                      cases: Sequence[tuple[str, Pdu | bytes]], function_code: int,
                      code: ExceptionCode) -> None:
    """Send each (description, request); each must be answered with exception ``code``."""
    for what, pdu in cases:
        evidence.note(f"{what}: expect exception {int(code):02X}")
        reply = client.request(pdu, strict=False)
        reply.expect_exception(function_code, code, what)


def read_coils(client: Connection, start: int, n: int) -> tuple[bool, ...]:
    pdu = client.request(ReadCoilsRequest(start_address=start, quantity=n)).expect(
        ReadCoilsResponse, f"read-back of {n} coil(s) at {start}")
    values: tuple[bool, ...] = pdu.values[:n]
    return values


def read_registers(client: Connection, start: int, n: int) -> tuple[int, ...]:
    pdu = client.request(ReadHoldingRegistersRequest(start_address=start, quantity=n)).expect(
        ReadHoldingRegistersResponse, f"read-back of {n} holding register(s) at {start}")
    values: tuple[int, ...] = pdu.values
    return values


def probe_request(profile: DeviceProfile) -> Pdu | bytes:
    """A request the device answers normally: the first read its profile lists (quantity 1).

    Without any read, an unsupported function code (answered with exception
    01): MBAP-level clauses only need *an* answer.
    """
    reads = ((0x03, "holding_registers", ReadHoldingRegistersRequest),
             (0x04, "input_registers", ReadInputRegistersRequest),
             (0x01, "coils", ReadCoilsRequest),
             (0x02, "discrete_inputs", ReadDiscreteInputsRequest))
    for fc, name, cls in reads:
        table = profile.table(name)
        if profile.supports(fc) and table is not None:
            request: Pdu = cls(start_address=table.start, quantity=1)
            return request
    return bytes([profile.illegal_function_code(), 0x00, 0x00, 0x00, 0x01])


def pdu_bytes(client: Connection, pdu: Pdu | bytes) -> bytes:
    if isinstance(pdu, bytes):
        return pdu
    data: bytes = client.codec.encode_pdu(pdu, strict=False)
    return data


def expect_usable(connect: Callable[[], Connection], client: Connection, profile: DeviceProfile,
                  evidence: EvidenceRecorder, outcome: RawAdu | ConnectionClosed | None, what: str) -> None:
    """After ``what``: the same connection still answers, or (if the device closed it) a new one does.

    MB-TCP 4.2 / 4.4: a server that rejects one ADU keeps serving; closing the
    offending connection is allowed, stopping service is not.
    """
    probe = probe_request(profile)
    if isinstance(outcome, ConnectionClosed):
        evidence.note(f"after {what} the device closed the connection; checking a new connection")
        fresh = connect()
        try:
            fresh.request(probe)
        except NotAccepted as err:
            raise AssertionError(f"after {what} the device no longer accepts connections: {err}") from None
        return
    evidence.note(f"after {what}: the same connection must still answer")
    client.request(probe)
