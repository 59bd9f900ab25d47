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
from wireproof.conformance.modbus_server._connection import (
    Connection,
    ConnectionClosed,
    NoResponse,
    NotAccepted,
    RawAdu,
)
from wireproof.conformance.modbus_server.profile import AddressRange, DeviceProfile
from wireproof.harness.plugin import EvidenceRecorder, not_applicable

__all__ = ["Timing", "clause", "expect_exceptions", "expect_usable", "past_end", "pdu_bytes", "probe_request",
           "read_coils", "read_registers", "require_connections", "require_fc", "require_table", "write_span"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """How long to wait for an answer, and how long to listen when none is expected."""

    response_timeout: float
    silence: float


def clause(clause_id: str, *values: object, title: str, level: str = "shall", cites: str = "") -> Any:
    """One row of a parametrized clause test, with its own stable id, level and one-line title.

    The id is the clause id, so ``-k MB-AP-003`` selects the row as it selects
    an unparametrized clause; the title stands in the reports where a clause
    test's docstring summary would.
    """
    marker = {"clause": clause_id, "level": level, "title": title} | ({"cites": cites} if cites else {})
    return pytest.param(*values, marks=pytest.mark.conformance(**marker), id=clause_id)


def require_fc(profile: DeviceProfile, *function_codes: int) -> None:
    """End the clause as not applicable unless the profile lists every function code."""
    missing = [fc for fc in function_codes if not profile.supports(fc)]
    if missing:
        names = ", ".join(f"{fc:02d} (0x{fc:02X})" for fc in missing)
        not_applicable(f"the device profile does not list function code {names}")


def require_connections(profile: DeviceProfile, n: int) -> None:
    """End the clause as not applicable if it needs more connections at once than the profile allows."""
    if profile.max_connections is not None and profile.max_connections < n:
        not_applicable(f"the clause needs {n} connections open at once; the device profile declares "
                       f"max_connections = {profile.max_connections}")


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


def _fresh_connection_verdict(connect: Callable[[], Connection], stalled: Connection,
                              probe: Pdu | bytes) -> str:
    """Why a connection went silent after a rejected ADU: lost framing (a new connection is served) or
    no service at all. The stalled connection is closed first (a device may serve one at a time)."""
    stalled.close()
    fresh = connect()
    try:
        fresh.request(probe)
    except AssertionError:
        return "nor does a new connection get an answer: the device stopped serving"
    finally:
        fresh.close()
    return ("a new connection is served, so the device lost this stream's framing: it did not delimit the "
            "rejected ADU by its MBAP length (MB-TCP 3.1.3) and waits for bytes that will not come")


def expect_usable(connect: Callable[[], Connection], client: Connection, profile: DeviceProfile,
                  evidence: EvidenceRecorder, outcome: RawAdu | ConnectionClosed | None, what: str) -> None:
    """After ``what``: the same connection still answers a valid request, or (if the device closed it) a
    new one does.

    MB-TCP 4.2 / 4.4: a server that rejects one ADU keeps serving; closing the
    offending connection is allowed, stopping service is not. MB-TCP 3.1.3:
    the MBAP length delimits each ADU, so the next request is found where the
    rejected one ends: a device that answers it with another transaction id,
    or not at all, has lost the stream's framing, and the message says so.
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
    evidence.note(f"after {what}: the same connection must answer the next valid request")
    tid = 0x6E01
    client.send(client.raw_adu(pdu_bytes(client, probe), tid=tid))
    try:
        answer = client.read_adu()
    except NoResponse as err:
        raise AssertionError(f"after {what} the device did not answer the next valid request (transaction id "
                             f"0x{tid:04X}) on the same connection: {err}; "
                             + _fresh_connection_verdict(connect, client, probe)) from None
    if answer.transaction_id != tid:
        raise AssertionError(
            f"after {what} the device lost the stream's framing: the next valid request (transaction id "
            f"0x{tid:04X}) was answered with transaction id 0x{answer.transaction_id:04X} "
            f"({answer.raw.hex()}), "
            "i.e. the device read the bytes of the two ADUs together instead of by the MBAP length "
            "(MB-TCP 3.1.3)")
    answer.decode()
