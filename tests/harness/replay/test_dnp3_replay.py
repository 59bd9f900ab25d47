"""DNP3 replay: link-frame counts against tshark, and the analyzer's findings.

What is compared, per capture: wireproof's ``messages["dnp3"]`` (one per FT3
link frame the framer delimits under a valid header CRC) and tshark's
``dnp3.start`` occurrences (``-Y dnp3 -T fields -e dnp3.start``, several per
frame when a segment carries several link frames). The public captures in
``$WIREPROOF_SHARED/captures/dnp3`` (default ``../shared`` next to the
repository; skipped when absent, or when tshark is) are compared live; the
packaged peer sessions (``wireproof.fixtures/dnp3/captures``) against their
sidecars' ``tshark_link_frames``, recorded with ``-d tcp.port==PORT,dnp3``.
Their UDP marker probes on the same port are not DNP3: each is a
``dnp3.resync`` info finding and no message.

Every error finding is pinned with its reason (:data:`PINNED_ERRORS`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pytest

from wireproof.codecs._analysis import Finding, FlowContext
from wireproof.codecs.dnp3.analyzer import Dnp3Analyzer, looks_like_dnp3, plausible_header
from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.codecs.dnp3.link import encode_link
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.codecs.dnp3.transport import segment
from wireproof.harness.replay.run import replay

SHARED = Path(os.environ.get("WIREPROOF_SHARED", Path(__file__).resolve().parents[3].parent / "shared"))
FOLDER = SHARED / "captures" / "dnp3"
CAPTURES = sorted(FOLDER.glob("*/*.pcap*")) if FOLDER.is_dir() else []
FIXTURES = sorted(Path(str(resources.files("wireproof.fixtures") / "dnp3" / "captures")).glob("*.pcapng"))

# tshark's count, measured with TShark 4.0.17; the live comparison is the test, these are the record.
EXPECTED_COUNTS = {
    "assign_class.pcap": 2, "cold_restart_and_response.pcap": 2, "direct_operate_analog_output.pcap": 1,
    "directoperate_and_response.pcap": 2, "disable_unsolcited_and_response.pcap": 2,
    "dnp3_test_data_part2.pcap": 22, "enable_unsolicited_and_response.pcap": 2, "full_exchange.pcap": 11,
    "immediate_freeze.pcap": 2, "lan_time_sync.pcap": 4, "read_and_response.pcap": 3,
    "select_operate_and_responses.pcap": 4, "unsolcited_response_and_confirm.pcap": 2,
    "write_iin_and_response.pcap": 2, "dnp3_example.pcap": 834, "dnp3-flowbuffer-overflow-assert.pcap": 17,
    "dnp3_udp_en_spon.pcap": 4, "dnp3_udp_read.pcap": 23, "dnp3_udp_select_operate.pcap": 10,
    "dnp3_udp_write.pcap": 2,
}

# Error findings (rule -> count) and why wireproof is right. Zeek's flow-buffer-overflow capture is
# crafted to overflow a reassembly buffer: its segments skip sequence numbers (8.2.2) and one
# fragment passes 2048 octets (4.2.1's default limit); tshark reassembles without these checks.
PINNED_ERRORS: dict[str, dict[str, int]] = {
    "dnp3-flowbuffer-overflow-assert.pcap": {"dnp3.transport-sequence": 8, "dnp3.transport-fragment": 1},
}


def tshark_link_frames(path: Path, *extra: str) -> int:
    command = ["tshark", "-r", str(path), *extra, "-Y", "dnp3", "-T", "fields", "-e", "dnp3.start"]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    return sum(len([v for v in line.split(",") if v]) for line in out.splitlines())


def errors(findings: list[Finding]) -> dict[str, int]:
    return dict(Counter(f.rule for f in findings if f.severity == "error"))


@pytest.mark.skipif(not CAPTURES, reason=f"no shared captures in {FOLDER}")
@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
@pytest.mark.parametrize("path", CAPTURES, ids=[p.name for p in CAPTURES])
def test_shared_link_frames_match_tshark(path: Path) -> None:
    result = replay(path, analytics=False, max_findings=100_000, workers=0)
    want = tshark_link_frames(path)
    assert result.messages.get("dnp3", 0) == want
    if path.name in EXPECTED_COUNTS:
        assert want == EXPECTED_COUNTS[path.name]
    assert errors(list(result.findings)) == PINNED_ERRORS.get(path.name, {})


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_link_frames_match_the_sidecar(path: Path) -> None:
    meta = tomllib.loads(path.with_suffix(".toml").read_text())
    port = meta["server_port"]
    result = replay(path, ports={port: "dnp3"}, analytics=False, max_findings=100_000, workers=0)
    assert result.messages.get("dnp3", 0) == meta["tshark_link_frames"]
    assert {f.rule for f in result.findings} <= {"dnp3.resync"}  # the UDP marker probes only
    assert all(f.severity == "info" for f in result.findings)


# --- the analyzer on crafted frames ----------------------------------------------------------


@dataclass
class FakeSink:
    findings: list[Finding] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)
    errors: int = 0

    def finding(self, finding: Finding) -> None:
        self.findings.append(finding)

    def message(self, protocol: str, function: str, frame: int, timestamp: float) -> None:
        assert protocol == "dnp3"
        self.messages[function] += 1

    def decode_error(self, protocol: str) -> None:
        self.errors += 1

    def value(self, series: str, timestamp: float, value: float) -> None:
        pass

    def statistic(self, protocol: str, table: str, key: str) -> None:
        pass


def make(handshake: bool = True) -> tuple[Dnp3Analyzer, FakeSink]:
    flow = FlowContext(transport="tcp", client="10.0.0.9:3082", server="10.0.0.3:20000",
                       label="10.0.0.9:3082 -> 10.0.0.3:20000", protocol="dnp3", handshake=handshake)
    sink = FakeSink()
    return Dnp3Analyzer(flow, sink), sink


def user_data(payload: bytes) -> bytes:
    return encode_link(LinkFrame(dir=True, prm=True, function=PrimaryFunction.UNCONFIRMED_USER_DATA,
                                 destination=10, source=1, user_data=payload))


FRAGMENT = bytes(range(40))


def test_frames_split_anywhere_count_once_each() -> None:
    stream = b"".join(user_data(s) for s in segment(FRAGMENT * 10, size=100))
    analyzer, sink = make()
    for i in range(0, len(stream), 7):
        analyzer.on_data(True, stream[i:i + 7], 1, 0.0)
    analyzer.on_close(2, 0.0, "fin")
    assert sink.messages == {"UNCONFIRMED_USER_DATA": 4}
    assert sink.findings == [] and sink.errors == 0


def test_header_and_block_crc_failures_name_which() -> None:
    good = user_data(segment(FRAGMENT)[0])
    bad_block = bytearray(good)
    bad_block[12] ^= 0xFF  # an octet of user-data block 0
    bad_header = bytearray(good)
    bad_header[8] ^= 0xFF  # the header CRC
    analyzer, sink = make()
    analyzer.on_data(True, bytes(bad_block), 1, 0.0)
    analyzer.on_data(True, bytes(bad_header) + good, 2, 0.0)
    rules = [(f.rule, f.frame, f.malformed) for f in sink.findings]
    assert ("dnp3.link-block-crc", 1, True) in rules
    assert ("dnp3.link-header-crc", 2, True) in rules
    assert "block 0" in next(f.message for f in sink.findings if f.rule == "dnp3.link-block-crc")
    assert sink.errors == 2  # one decode error per malformed finding
    assert sum(sink.messages.values()) == 2  # the block-CRC frame was delimited; the bad header was not


def test_transport_sequence_error() -> None:
    first, _second, third = segment(FRAGMENT * 10, size=150)
    analyzer, sink = make()
    analyzer.on_data(True, user_data(first), 1, 0.0)
    analyzer.on_data(True, user_data(third), 2, 0.0)  # the second segment skipped
    assert [(f.rule, f.frame, f.severity) for f in sink.findings] == [("dnp3.transport-sequence", 2, "error")]


def test_transport_sequence_after_a_gap_is_info() -> None:
    first, _second, third = segment(FRAGMENT * 10, size=150)
    analyzer, sink = make()
    analyzer.on_data(True, user_data(first), 1, 0.0)
    analyzer.on_gap(True, 100, 2, 0.0)
    analyzer.on_data(True, user_data(third), 3, 0.0)
    assert [(f.rule, f.severity) for f in sink.findings] == [("dnp3.transport-sequence", "info")]


def test_heuristic_and_plausible_header() -> None:
    frame = user_data(segment(FRAGMENT)[0])
    assert looks_like_dnp3(frame, True) is True
    assert looks_like_dnp3(frame[:5], True) is None
    assert looks_like_dnp3(b"\x05\x65", True) is False
    broken = bytearray(frame)
    broken[9] ^= 1
    assert looks_like_dnp3(bytes(broken), True) is False
    assert plausible_header(frame) and not plausible_header(bytes(broken)) and not plausible_header(frame[:9])
    analyzer, _sink = make()
    assert analyzer.plausible_header(False, frame)
