"""The TCP stream: split and merged ADUs, pipelining, connections, response time.

MB-TCP 3.1.2 / 3.1.3: TCP is a stream; the MBAP length field is how the
receiver finds the ADU boundaries, whatever the segments. MB-TCP 4.2:
connection management (several connections, many transactions per
connection); MB-TCP 4.4: a server may process several transactions at once,
pairing them by transaction identifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wireproof.conformance.modbus_server._checks import Timing, pdu_bytes, probe_request, require_connections
from wireproof.conformance.modbus_server._connection import Connection
from wireproof.conformance.modbus_server.profile import DeviceProfile
from wireproof.harness.clauses import attempts
from wireproof.harness.plugin import EvidenceRecorder, not_applicable

Connect = Callable[[], Connection]

_MAX_PIPELINE_PROBE = 8


def _read_answers(client: Connection, tids: list[int], what: str) -> None:
    """Read one answer per tid, in any order; each tid exactly once (MB-TCP 3.1.3 pairing)."""
    pending = set(tids)
    for i in range(len(tids)):
        try:
            adu = client.read_adu()
        except AssertionError as err:
            raise AssertionError(f"{what}: answer {i + 1} of {len(tids)}: {err}") from None
        assert adu.transaction_id in pending, (
            f"{what}: answer with transaction id 0x{adu.transaction_id:04X}, which is not outstanding "
            f"(outstanding: {', '.join(f'0x{t:04X}' for t in sorted(pending))})")
        pending.discard(adu.transaction_id)
        adu.decode()


def _each_on_a_new_connection(connect: Connect, evidence: EvidenceRecorder, n: int, what: str,
                               probe: Callable[[Connection, int], None]) -> None:
    """``n`` attempts of ``probe``, each on a connection of its own, closed after it (harness.clauses)."""
    def attempt(i: int) -> None:
        client = connect()
        try:
            probe(client, i)
        finally:
            client.close()
    attempts(evidence, n, attempt, what=what)


@pytest.mark.conformance(
    clause="MB-TCP-008", level="shall",
    cites='MB-TCP 3.1.2: "additional length information is carried in the MBAP header to allow the recipient '
          'to recognize message boundaries even if the message has been split into multiple packets"')
def test_adu_split_over_segments(connect: Connect, modbus_profile: DeviceProfile,
                                 modbus_params: dict[str, Any], evidence: EvidenceRecorder) -> None:
    """One ADU sent in four TCP segments is answered once, as if it came whole.

    MB-TCP 3.1.2: the MBAP length is there "to allow the recipient to
    recognize message boundaries even if the message has been split into
    multiple packets for transmission"; TCP segment boundaries carry no
    meaning. Segments: 3 bytes of MBAP, its other 4, the function code and
    the rest of the PDU (best effort:
    TCP_NODELAY plus waiting for each acknowledgement). Whether segments
    arrive apart depends on timing: the ``attempts`` parameter (default 5)
    says how often it is tried, each on a new connection.
    """
    def probe(client: Connection, i: int) -> None:
        tid = 0x5300 + i
        adu = client.raw_adu(pdu_bytes(client, probe_request(modbus_profile)), tid=tid)
        client.send_segments([adu[:3], adu[3:7], adu[7:8], adu[8:]])
        answer = client.read_adu()
        assert answer.transaction_id == tid, (
            f"answer transaction id 0x{answer.transaction_id:04X}, sent 0x{tid:04X}")
        answer.decode()
    _each_on_a_new_connection(connect, evidence, modbus_params["attempts"], "one ADU in 4 segments", probe)


@pytest.mark.conformance(
    clause="MB-TCP-009", level="should",
    cites='MB-TCP 3.1.2: length information in the MBAP header "to allow the recipient to recognize message '
          'boundaries"; MB-TCP 4.2.1 rule 6: "A TCP frame must transport only one MODBUS ADU."')
def test_two_adus_in_one_segment(connect: Connect, modbus_profile: DeviceProfile,
                                 modbus_params: dict[str, Any], evidence: EvidenceRecorder) -> None:
    """Two ADUs that arrive in one TCP segment are both answered, each with its transaction id.

    A robustness clause, hence "should": MB-TCP 4.2.1 (rule 6: "A TCP frame
    must transport only one MODBUS ADU") has a client send one ADU per TCP
    frame, so a conforming client never causes this; but TCP is
    a stream (MB-TCP 3.1.2) and the MBAP length is how a receiver finds the
    boundaries (3.1.3), so a server that finds only the first ADU of a
    segment stalls behind any stack that coalesces segments (Nagle,
    retransmission). Tried ``attempts`` times, each on a new connection.
    """
    def probe(client: Connection, i: int) -> None:
        pdu = pdu_bytes(client, probe_request(modbus_profile))
        tids = [0x4D00 + 2 * i, 0x4D01 + 2 * i]
        client.send(b"".join(client.raw_adu(pdu, tid=t) for t in tids))
        _read_answers(client, tids, "two ADUs in one segment")
    _each_on_a_new_connection(connect, evidence, modbus_params["attempts"], "two ADUs in one segment", probe)


@pytest.mark.conformance(
    clause="MB-TCP-010", level="shall",
    cites='MB-TCP 4.2.1 rule 4: "Several MODBUS transactions can be activated simultaneously on the same '
          'TCP Connection."; MB-TCP 4.4.2.2: out of transactions, "the server builds a MODBUS exception '
          'response"')
def test_pipelined_requests(connect: Connect, modbus_profile: DeviceProfile, modbus_params: dict[str, Any],
                            evidence: EvidenceRecorder) -> None:
    """Several requests outstanding on one connection are each answered, paired by transaction id.

    MB-TCP 3.1.3 ("used for transaction pairing"), 4.2.1 (rule 4: "Several
    MODBUS transactions can be activated simultaneously on the same TCP
    Connection") and 4.4.2.2 (a server out of transactions still answers, with
    exception 06 Server Busy): up to the profile's
    ``max_pipelined`` (at most 8) requests are sent back to back, each in its
    own send, before any answer is read. How many are in the device's buffer
    at once depends on timing: tried ``attempts`` times, each on a new
    connection.
    """
    n = min(modbus_profile.max_pipelined, _MAX_PIPELINE_PROBE)
    if n < 2:
        not_applicable("the device profile allows one outstanding request (max_pipelined = 1)")

    def probe(client: Connection, i: int) -> None:
        pdu = pdu_bytes(client, probe_request(modbus_profile))
        tids = [0x7000 + 0x10 * i + k for k in range(n)]
        for tid in tids:
            client.send(client.raw_adu(pdu, tid=tid))
        _read_answers(client, tids, f"{n} pipelined requests")
    _each_on_a_new_connection(connect, evidence, modbus_params["attempts"], f"{n} pipelined requests", probe)


@pytest.mark.conformance(
    clause="MB-TCP-012", level="should",
    cites='MB-TCP 4.4.1.4: "There is deliberately NO specification of required response time for a '
          'transaction over MODBUS/TCP."')
def test_response_time(client: Connection, modbus_profile: DeviceProfile, suite_timing: Timing,
                       evidence: EvidenceRecorder) -> None:
    """Requests are answered within the profile's response timeout.

    MB-TCP 4.4.1.4 (the client's time-out): a server that answers later than
    the client's timeout is, for the client, not answering. "should", not
    "shall": the same section says "There is deliberately NO specification of
    required response time", so the bound is the profile's, not the
    specification's. Five requests; the slowest must come within
    ``response_timeout``.
    """
    probe = probe_request(modbus_profile)
    times = [client.request(probe).elapsed for _ in range(5)]
    evidence.note("round trips: " + ", ".join(f"{t * 1000:.1f} ms" for t in times))
    assert max(times) <= suite_timing.response_timeout, (
        f"slowest answer took {max(times):.3f} s, more than {suite_timing.response_timeout:g} s")


@pytest.mark.conformance(
    clause="MB-TCP-013", level="shall",
    cites='MB-TCP 4.2.1.2: "The connection has to maintain open during all the MODBUS communications."')
def test_many_transactions_per_connection(client: Connection, modbus_profile: DeviceProfile,
                                          evidence: EvidenceRecorder) -> None:
    """One connection carries many transactions in sequence (MB-TCP 4.2.1.2: connections are long-lived).

    Twenty requests, each waiting for its answer, on the same connection.
    """
    probe = probe_request(modbus_profile)
    for i in range(20):
        client.request(probe, tid=0x2000 + i)


@pytest.mark.conformance(
    clause="MB-TCP-014", level="should",
    cites='MB-TCP 4.2.1.1: "Depending on the device capacities the number of TCP connections can be '
          'different."')
def test_concurrent_connections(connect: Connect, modbus_profile: DeviceProfile,
                                evidence: EvidenceRecorder) -> None:
    """Two connections open at once are both served, interleaved (MB-TCP 4.2.1: several connections).

    "should", not "shall": MB-TCP 4.2.1.1 leaves the number of connections to
    the device ("not on the scope of this document"). Not applicable when the
    profile declares ``max_connections = 1``; within the declared limit a
    refused connection is a fail.
    """
    require_connections(modbus_profile, 2)
    probe = probe_request(modbus_profile)
    first, second = connect(), connect()
    for i in range(3):
        first.request(probe, tid=0x3100 + i)
        second.request(probe, tid=0x3200 + i)
