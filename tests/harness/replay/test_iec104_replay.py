"""IEC 104 replay: APDU counts against tshark on the shared capture, and each of the analyzer's rules.

What is compared: wireproof's ``messages["iec104"]`` (one per APDU the framer delimits, and one per
start whose length is outside 4..253) and tshark's ``iec60870_104`` protocol occurrences (several a
frame when a segment carries several APDUs; the shared capture also has short APDUs and garbage
between them, which both count the same way).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from wireproof.codecs._analysis import Finding, FlowContext
from wireproof.codecs.iec104 import (
    Asdu,
    Cause,
    IFrame,
    InformationObject,
    Quality,
    SFrame,
    TypeId,
    UFrame,
    UFunction,
    encode_apdu,
)
from wireproof.codecs.iec104.analyzer import Iec104Analyzer, looks_like_iec104, plausible_header
from wireproof.harness.replay.pcap import build_tcp_frame, write_pcap
from wireproof.harness.replay.run import replay

SHARED = Path(os.environ.get("WIREPROOF_SHARED", Path(__file__).resolve().parents[3].parent / "shared"))
CAPTURE = SHARED / "captures" / "iec104" / "ITI" / "TestDissectIec104.pcap"
EXPECTED = 69  # tshark 4.0.17's count on TestDissectIec104.pcap; the live comparison is the test
# Error findings on it, and why: the capture is a dissector test of short and damaged APDUs.
PINNED_ERRORS = {"iec104.apdu-length": 4,  # starts claiming 1..3 octets (tshark: "APDU less than 4 bytes")
                 "iec104.malformed": 8}  # an I format without ASDU, U/S formats of length 5/6, DUIs cut short


def tshark_apdus(path: Path) -> int:
    out = subprocess.run(["tshark", "-r", str(path), "-T", "json", "-Y", "iec60870_104"], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    count = 0

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal count
        count += sum(1 for key, _ in pairs if key == "iec60870_104")
        return dict(pairs)
    json.loads(out, object_pairs_hook=hook)
    return count


@pytest.mark.skipif(not CAPTURE.is_file(), reason=f"no shared capture {CAPTURE}")
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_shared_capture_counts_match_tshark() -> None:
    result = replay(CAPTURE, analytics=False, max_findings=100_000, workers=0)
    want = tshark_apdus(CAPTURE)
    assert want == EXPECTED
    assert result.messages.get("iec104", 0) == want
    errors = Counter(f.rule for f in result.findings if f.severity == "error")
    assert dict(errors) == PINNED_ERRORS
    assert result.decode_errors.get("iec104", 0) == sum(PINNED_ERRORS.values())


# --- the rules, on crafted flows ------------------------------------------------------------------


class Collect:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.messages: Counter[str] = Counter()
        self.values: list[tuple[str, float, float]] = []
        self.stats: Counter[tuple[str, str]] = Counter()
        self.errors = 0

    def finding(self, finding: Finding) -> None:
        self.findings.append(finding)

    def message(self, protocol: str, function: str, frame: int, timestamp: float) -> None:
        self.messages[function] += 1

    def decode_error(self, protocol: str) -> None:
        self.errors += 1

    def value(self, series: str, timestamp: float, value: float) -> None:
        self.values.append((series, timestamp, value))

    def statistic(self, protocol: str, table: str, key: str) -> None:
        self.stats[(table, key)] += 1

    def rules(self) -> Counter[str]:
        return Counter(f.rule for f in self.findings)


def flow(handshake: bool = True) -> FlowContext:
    return FlowContext(transport="tcp", client="10.0.0.1:40000", server="10.0.0.2:2404",
                       label="10.0.0.1:40000 -> 10.0.0.2:2404", protocol="iec104", handshake=handshake)


def asdu(ioa: int = 1001, value: float = 1.5, cause: int = Cause.SPONTANEOUS, negative: bool = False) -> Asdu:
    return Asdu(type_id=TypeId.M_ME_NC_1, cause=cause, common_address=1, negative=negative,
                objects=(InformationObject(address=ioa, elements={"value": value, "quality": Quality(0)}),))


def run(steps: list[tuple[float, bool, Any]], handshake: bool = True) -> Collect:
    """Feed (time, from_client, APDU or octets) steps to one analyzer."""
    sink = Collect()
    analyzer = Iec104Analyzer(flow(handshake), sink)
    for i, (ts, from_client, what) in enumerate(steps, 1):
        data = what if isinstance(what, bytes) else encode_apdu(what)
        analyzer.on_data(from_client, data, i, ts)
    analyzer.on_close(len(steps) + 1, steps[-1][0] + 0.1, "end")
    return sink


START = [(0.0, True, UFrame(function=UFunction.STARTDT_ACT)),
         (0.1, False, UFrame(function=UFunction.STARTDT_CON))]
NEGATIVE = asdu(cause=Cause.UNKNOWN_IOA, negative=True)
UNKNOWN = b"\xfa\x01\x03\x00\x01\x00\x01\x00\x00\x07"


def test_a_clean_exchange_has_no_findings_and_feeds_the_values() -> None:
    sink = run([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=asdu(value=2.5))),
                (1.1, False, IFrame(send_seq=1, recv_seq=0, asdu=asdu(value=3.5))),
                (2.0, True, SFrame(recv_seq=2)), (3.0, True, UFrame(function=UFunction.TESTFR_ACT)),
                (3.1, False, UFrame(function=UFunction.TESTFR_CON))])
    assert sink.findings == []
    assert sink.messages == Counter({"I": 2, "STARTDT_ACT": 1, "STARTDT_CON": 1, "S": 1, "TESTFR_ACT": 1,
                                     "TESTFR_CON": 1})
    assert sink.values == [("10.0.0.2:2404 ca1 ioa1001", 1.0, 2.5), ("10.0.0.2:2404 ca1 ioa1001", 1.1, 3.5)]


@pytest.mark.parametrize(("steps", "rule"), [
    ([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=asdu())),
      (1.1, False, IFrame(send_seq=2, recv_seq=0, asdu=asdu()))], "iec104.sequence"),
    ([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=asdu())), (1.5, True, SFrame(recv_seq=3))],
     "iec104.ack-unsent"),
    ([*START, *[(1.0 + i / 100, False, IFrame(send_seq=i, recv_seq=0, asdu=asdu())) for i in range(13)],
      (1.5, True, SFrame(recv_seq=13))], "iec104.window"),
    ([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=asdu())), (17.0, True, SFrame(recv_seq=1))],
     "iec104.t1"),
    ([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=asdu())), (12.5, True, SFrame(recv_seq=1))],
     "iec104.t2"),
    ([*START, (30.0, True, SFrame(recv_seq=0))], "iec104.t3"),
    ([(1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=asdu()))], "iec104.data-stopped"),
    ([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=NEGATIVE))], "iec104.negative-confirm"),
    ([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=UNKNOWN))], "iec104.unknown-type"),
    ([*START, (1.0, True, UFrame(function=UFunction.STOPDT_CON))], "iec104.u-unexpected"),
    ([*START, (1.0, True, b"\x00\x01" + encode_apdu(SFrame(recv_seq=0)))], "iec104.resync"),
    ([*START, (1.0, True, b"\x68\x02\x00\x00")], "iec104.apdu-length"),
    ([*START, (1.0, True, b"\x68\x04\x13\x01\x00\x00")], "iec104.malformed"),
    ([*START, (1.0, True, b"\x68\x04\x01")], "iec104.incomplete-apdu"),
    ([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0, asdu=asdu()))], "iec104.t1"),  # never acknowledged
], ids=lambda x: x if isinstance(x, str) else "")
def test_each_rule(steps: list[tuple[float, bool, Any]], rule: str) -> None:
    if rule == "iec104.t1" and len(steps) == 3:
        steps = [*steps, (20.0, True, UFrame(function=UFunction.TESTFR_ACT))]
    sink = run(steps)
    assert rule in sink.rules(), sink.findings
    # nothing else fires on these minimal flows but what the rule itself implies
    assert set(sink.rules()) - {rule, "iec104.t2", "iec104.t1", "iec104.t3"} == set(), sink.rules()


def test_a_flow_seen_mid_stream_learns_its_numbers() -> None:
    sink = run([(1.0, False, IFrame(send_seq=500, recv_seq=77, asdu=asdu())),
                (1.1, True, SFrame(recv_seq=501)),
                (1.2, False, IFrame(send_seq=501, recv_seq=77, asdu=asdu()))], handshake=False)
    assert sink.findings == []


def test_heuristic_and_header() -> None:
    s = encode_apdu(SFrame(recv_seq=4))
    assert looks_like_iec104(s, True) is True and plausible_header(s)
    assert looks_like_iec104(b"\x68", True) is None
    assert looks_like_iec104(b"\x05\x64\x05", True) is False  # DNP3
    assert looks_like_iec104(b"\x00\x01\x00\x00\x00\x06", True) is False  # Modbus MBAP
    assert not plausible_header(b"\x68\x04\x05\x00\x00\x00")


def test_replay_of_a_written_capture_on_another_port_by_content(tmp_path: Path) -> None:
    frames = []
    seq = {True: 1000, False: 5000}
    for _i, (ts, from_client, apdu) in enumerate([*START, (1.0, False, IFrame(send_seq=0, recv_seq=0,
                                                                                 asdu=asdu()))]):
        payload = encode_apdu(apdu)
        src, dst = (("10.0.0.1", 40000), ("10.0.0.2", 12404)) if from_client else \
            (("10.0.0.2", 12404), ("10.0.0.1", 40000))
        frames.append((ts, build_tcp_frame(payload, src=src, dst=dst, seq=seq[from_client])))
        seq[from_client] += len(payload)
    path = tmp_path / "moved.pcap"
    write_pcap(path, frames)
    result = replay(path, analytics=False, workers=0)
    assert result.messages.get("iec104") == 3


def test_mutated_captures_give_findings_not_crashes() -> None:
    base = b"".join(encode_apdu(a) for a in (UFrame(function=UFunction.STARTDT_ACT),
                                             IFrame(send_seq=0, recv_seq=0, asdu=asdu()), SFrame(recv_seq=1)))
    rng = random.Random(104)
    for _ in range(300):
        data = bytearray(base)
        for _ in range(rng.randint(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        sink = Collect()
        analyzer = Iec104Analyzer(flow(), sink)
        analyzer.on_data(True, bytes(data[:rng.randrange(len(data))]), 1, 0.0)
        analyzer.on_data(True, bytes(data), 2, 1.0)
        analyzer.on_close(3, 2.0, "end")
        assert sink.errors == sum(1 for f in sink.findings if f.malformed)
