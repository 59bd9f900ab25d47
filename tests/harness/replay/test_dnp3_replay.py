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

import json
import os
import random
import shutil
import struct
import subprocess
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wireproof.codecs._analysis import Finding, FlowContext
from wireproof.codecs.dnp3.analyzer import Dnp3Analyzer, looks_like_dnp3, plausible_header
from wireproof.codecs.dnp3.app_analyzer import MAX_STATIONS, ApplicationAnalyzer, plain_request, scan_objects
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, Iin, PrimaryFunction
from wireproof.codecs.dnp3.library import LIBRARY
from wireproof.codecs.dnp3.link import encode_link
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    ObjectHeader,
    Point,
)
from wireproof.codecs.dnp3.transport import segment
from wireproof.errors import DecodeError
from wireproof.harness.cli import main
from wireproof.harness.replay.pcap import build_tcp_frame, build_udp_frame, write_pcap
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


# Application-layer warnings and infos (rule, severity -> count), each checked against the capture:
# - ITI cold_restart, zeek en_spon: the outstation answers COLD_RESTART / ENABLE_UNSOLICITED with IIN2.0;
# - ITI dnp3_test_data_part2: five SELECTs of CROB index 34463 answered NOT_SUPPORTED (with IIN2.2), five
#   reads answered with IIN2.1 and IIN2.2;
# - icsnpp dnp3_example: four unsolicited responses with CON (frames 422, 542, 667, 810) that the master
#   never confirms; the last one 0.03 s before the capture ends (info: not yet due);
# - zeek udp_read, udp_select_operate: the outstation reports IIN1.7 and IIN1.4 in every response; the
#   master neither clears the restart bit nor synchronises the time.
# The master of dnp3_example sends up to five requests before the first response (frames 491-495): each
# is answered in turn, which pairing by SEQ with a count per SEQ follows (no dnp3.response-sequence).
_RESTART_NEED_TIME = {("dnp3.iin-device-restart", "warning"): 1, ("dnp3.iin-need-time", "warning"): 1}
PINNED_APPLICATION: dict[str, dict[tuple[str, str], int]] = {
    "cold_restart_and_response.pcap": {("dnp3.iin-no-func-code-support", "info"): 1},
    "dnp3_udp_en_spon.pcap": {("dnp3.iin-no-func-code-support", "info"): 1},
    "dnp3_test_data_part2.pcap": {("dnp3.control-status", "warning"): 5,
                                  ("dnp3.iin-parameter-error", "info"): 10,
                                  ("dnp3.iin-object-unknown", "info"): 5},
    "dnp3_example.pcap": {("dnp3.unconfirmed-unsolicited", "warning"): 3,
                          ("dnp3.unconfirmed-unsolicited", "info"): 1},
    "dnp3_udp_read.pcap": _RESTART_NEED_TIME,
    "dnp3_udp_select_operate.pcap": _RESTART_NEED_TIME,
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
    others = Counter((f.rule, f.severity) for f in result.findings
                     if f.protocol == "dnp3" and f.severity != "error")
    assert others == PINNED_APPLICATION.get(path.name, {})
    assert result.decode_errors.get("dnp3", 0) == 0  # every link frame and every whole fragment decodes


# Application-layer findings on the packaged peer sessions (beside the UDP markers' dnp3.resync), and why.
# The yadnp3 outstations run without unsolicited support unless asked: the master's DISABLE_UNSOLICITED
# and ENABLE_UNSOLICITED get IIN2.0. dnp3py's master never clears IIN1.7 (no WRITE g80v1 index 7): the
# outstation keeps reporting it. The timesync sessions report IIN1.4 until the master synchronises
# (LAN: RECORD_CURRENT_TIME + WRITE g50v3; non-LAN: DELAY_MEASURE + WRITE g50v1): no dnp3.iin-need-time.
# The unsolicited session confirms each unsolicited response with CON: no dnp3.unconfirmed-unsolicited.
_IIN20 = {("dnp3.iin-no-func-code-support", "info"): 2}
FIXTURE_FINDINGS: dict[str, dict[tuple[str, str], int]] = {
    "dnp3py-master_yadnp3-outstation": {("dnp3.iin-device-restart", "warning"): 1},
    "yadnp3-master_dnp3py-outstation": {},
    "yadnp3-master_yadnp3-outstation_controls": _IIN20,
    "yadnp3-master_yadnp3-outstation_events": _IIN20,
    "yadnp3-master_yadnp3-outstation_integrity": _IIN20,
    "yadnp3-master_yadnp3-outstation_timesync-lan": _IIN20,
    "yadnp3-master_yadnp3-outstation_timesync-nonlan": _IIN20,
    "yadnp3-master_yadnp3-outstation_unsolicited": {},
}


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture_link_frames_match_the_sidecar(path: Path) -> None:
    meta = tomllib.loads(path.with_suffix(".toml").read_text())
    port = meta["server_port"]
    result = replay(path, ports={port: "dnp3"}, analytics=True, max_findings=100_000, workers=0)
    assert result.messages.get("dnp3", 0) == meta["tshark_link_frames"]
    resyncs = [f for f in result.findings if f.rule == "dnp3.resync"]  # the UDP marker probes
    assert all(f.severity == "info" for f in resyncs)
    others = Counter((f.rule, f.severity) for f in result.findings if f.rule != "dnp3.resync")
    assert others == FIXTURE_FINDINGS[path.stem]
    assert result.decode_errors.get("dnp3", 0) == 0
    # Every session reads the outstation's points (tests/peers/dnp3_points.py): they reach the analytics.
    assert result.analytics is not None
    series = result.analytics.summary()["series"]
    assert any(" o10 g1[" in name for name in series) and any(" o10 g30[" in name for name in series)


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


# Valid application fragments (the analyzer decodes them): a READ of class 0 data, 38 octets, and a
# longer one of 401 octets (four segments of 100).
FRAGMENT = bytes((0xC0, 1)) + bytes((60, 1, 6)) * 12
LONG = bytes((0xC0, 1)) + bytes((60, 1, 6)) * 133


def test_frames_split_anywhere_count_once_each() -> None:
    stream = b"".join(user_data(s) for s in segment(LONG, size=100))
    analyzer, sink = make()
    for i in range(0, len(stream), 7):
        analyzer.on_data(True, stream[i:i + 7], 1, 0.0)
    analyzer.on_close(2, 0.0, "fin")
    assert sink.messages == {"UNCONFIRMED_USER_DATA": 5}  # 401 octets in segments of 100
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
    first, _second, third = segment(LONG, size=150)
    analyzer, sink = make()
    analyzer.on_data(True, user_data(first), 1, 0.0)
    analyzer.on_data(True, user_data(third), 2, 0.0)  # the second segment skipped
    assert [(f.rule, f.frame, f.severity) for f in sink.findings] == [("dnp3.transport-sequence", 2, "error")]


def test_transport_sequence_after_a_gap_is_info() -> None:
    first, _second, third = segment(LONG, size=150)
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


def test_event_values_join_their_points_series() -> None:
    """The events session (two changes, each reported by g32/g22 events) against tests/peers/dnp3_points.py:
    analog 0 goes 100 -> 101 -> 102 and counter 0 10 -> 11 -> 12, in the series of g30[0] and g20[0]."""
    path = next(p for p in FIXTURES if p.stem.endswith("_events"))
    port = tomllib.loads(path.with_suffix(".toml").read_text())["server_port"]
    result = replay(path, ports={port: "dnp3"}, analytics=True, workers=0)
    assert result.analytics is not None
    series = {name.split(" ", 1)[1]: s for name, s in result.analytics.summary()["series"].items()}
    analog = series["o10 g30[0]"]
    assert (analog["min"], analog["max"], analog["last"]) == (100, 102, 102)
    assert analog["count"] == series["o10 g30[1]"]["count"] + 2  # two integrity polls, two events
    assert (series["o10 g30[1]"]["last"], series["o10 g30[2]"]["last"]) == (-5, 1234)
    assert (series["o10 g20[0]"]["min"], series["o10 g20[0]"]["last"]) == (10, 12)
    assert series["o10 g3[0]"]["last"] in (1, 2)  # double-bit: DETERMINED_OFF (1) / DETERMINED_ON (2)


# --- application-layer findings on synthetic captures built with the codec ----------------------------

MASTER, OUTSTATION = 1, 10
CLIENT = ("10.0.0.9", 40001)
SERVER = ("10.0.0.3", 20000)


def request(function: FunctionCode, seq: int, *objects: ObjectHeader, con: bool = False,
            uns: bool = False) -> tuple[bool, bytes]:
    return True, encode_fragment(ApplicationRequest(function=function, seq=seq, con=con, uns=uns,
                                                    objects=objects))


def response(seq: int, *objects: ObjectHeader, iin: int = 0, con: bool = False, unsolicited: bool = False,
             fir: bool = True, fin: bool = True) -> tuple[bool, bytes]:
    function = FunctionCode.UNSOLICITED_RESPONSE if unsolicited else FunctionCode.RESPONSE
    return False, encode_fragment(ApplicationResponse(function=function, seq=seq, con=con, uns=unsolicited,
                                                      iin=iin, fir=fir, fin=fin, objects=objects))


def confirm(seq: int, *, uns: bool = False) -> tuple[bool, bytes]:
    return request(FunctionCode.CONFIRM, seq, uns=uns)


def analogs(*values: int, start: int = 0) -> ObjectHeader:
    return ObjectHeader(group=30, variation=1, qualifier=0x00, start=start, stop=start + len(values) - 1,
                        points=tuple(Point(index=start + i, values={"flags": 1, "value": v})
                                     for i, v in enumerate(values)))


def crob(index: int, status: int = 0, code: int = 3) -> ObjectHeader:
    return ObjectHeader(group=12, variation=1, qualifier=0x17, count=1,
                        points=(Point(index=index, values={"control_code": code, "count": 1, "on_time": 100,
                                                           "off_time": 0, "status": status}),))


CLASS0 = ObjectHeader(group=60, variation=1, qualifier=0x06)


def link_frames(from_master: bool, fragment: bytes, tseq: int) -> bytes:
    """``fragment`` in transport segments, each in a link frame (UNCONFIRMED_USER_DATA, 9.2.4.1.3.6)."""
    source, destination = (MASTER, OUTSTATION) if from_master else (OUTSTATION, MASTER)
    return b"".join(encode_link(LinkFrame(dir=from_master, prm=True,
                                          function=PrimaryFunction.UNCONFIRMED_USER_DATA,
                                          destination=destination, source=source, user_data=s))
                    for s in segment(fragment, seq=tseq))


def session(path: Path, exchange: list[tuple[bool, bytes]], *, gap: float = 0.01, udp: bool = False) -> Path:
    """A pcap of ``exchange`` over TCP (handshake, FIN) or UDP, one frame every ``gap`` s."""
    frames: list[bytes] = []
    seq = {True: 1000, False: 5000}
    tseq = {True: 0, False: 0}
    if not udp:
        frames += [build_tcp_frame(b"", src=CLIENT, dst=SERVER, seq=999, flags=0x02),
                   build_tcp_frame(b"", src=SERVER, dst=CLIENT, seq=4999, ack=1000, flags=0x12),
                   build_tcp_frame(b"", src=CLIENT, dst=SERVER, seq=1000, ack=5000, flags=0x10)]
    for from_master, fragment in exchange:
        data = link_frames(from_master, fragment, tseq[from_master])
        tseq[from_master] = (tseq[from_master] + len(segment(fragment))) % 64
        src, dst = (CLIENT, SERVER) if from_master else (SERVER, CLIENT)
        if udp:
            frames.append(build_udp_frame(data, src=src, dst=dst))
        else:
            frames.append(build_tcp_frame(data, src=src, dst=dst, seq=seq[from_master],
                                          ack=seq[not from_master]))
            seq[from_master] += len(data)
    if not udp:
        fin = 0x11
        frames += [build_tcp_frame(b"", src=CLIENT, dst=SERVER, seq=seq[True], ack=seq[False], flags=fin),
                   build_tcp_frame(b"", src=SERVER, dst=CLIENT, seq=seq[False], ack=seq[True] + 1, flags=fin)]
    write_pcap(path, [(1_700_000_000 + i * gap, f) for i, f in enumerate(frames)])
    return path


def app_findings(tmp_path: Path, exchange: list[tuple[bool, bytes]], **kw: Any) -> list[Finding]:
    result = replay(session(tmp_path / "s.pcap", exchange, **kw), analytics=False, max_findings=10_000,
                    workers=0)
    assert result.messages.get("dnp3", 0) == sum(len(segment(f)) for _, f in exchange)
    return [f for f in result.findings if f.protocol == "dnp3"]


def rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, f.severity) for f in findings]


POLL = [request(FunctionCode.READ, 3, CLASS0), response(3, analogs(5, 6))]


def test_a_clean_session_gives_no_finding(tmp_path: Path) -> None:
    exchange = [*POLL,
                request(FunctionCode.SELECT, 4, crob(2)), response(4, crob(2)),
                request(FunctionCode.OPERATE, 5, crob(2)), response(5, crob(2)),
                request(FunctionCode.READ, 6, CLASS0), response(6, analogs(1), con=True), confirm(6),
                response(0, analogs(2), con=True, unsolicited=True), confirm(0, uns=True)]
    for udp in (False, True):
        assert app_findings(tmp_path, exchange, udp=udp) == []


def test_unconfirmed_unsolicited_response(tmp_path: Path) -> None:
    unsolicited = [response(0, analogs(1), con=True, unsolicited=True),
                   response(1, analogs(2), con=True, unsolicited=True), confirm(1, uns=True)]
    found = app_findings(tmp_path, unsolicited)
    assert rules(found) == [("dnp3.unconfirmed-unsolicited", "warning")]
    assert found[0].frame == 4 and found[0].clause == "IEEE 1815 4.2.2.4.3, 4.2.2.4.4"  # after the handshake
    assert "SEQ 0" in found[0].message and "next unsolicited response" in found[0].message
    # A CONFIRM without UNS does not confirm an unsolicited response; one with UNS and the SEQ does.
    wrong = [unsolicited[0], confirm(0), unsolicited[1], unsolicited[2]]
    assert rules(app_findings(tmp_path, wrong)) == [("dnp3.unconfirmed-unsolicited", "warning")]
    right = [unsolicited[0], confirm(0, uns=True), *unsolicited[1:]]
    assert app_findings(tmp_path, right) == []
    # Without CON nothing is awaited.
    assert app_findings(tmp_path, [response(0, analogs(1), unsolicited=True)] * 2) == []


def test_unconfirmed_unsolicited_at_the_end_and_a_late_confirm(tmp_path: Path) -> None:
    last = [response(2, con=True, unsolicited=True)]
    assert rules(app_findings(tmp_path, last)) == [("dnp3.unconfirmed-unsolicited", "warning")]  # FIN: closed
    late = [response(2, con=True, unsolicited=True), confirm(2, uns=True)]
    assert rules(app_findings(tmp_path, late, gap=1.2)) == [("dnp3.late-confirm", "warning")]  # 1.2 s > 1 s
    assert app_findings(tmp_path, late, gap=0.3) == []


def test_unconfirmed_solicited_response(tmp_path: Path) -> None:
    exchange = [request(FunctionCode.READ, 3, CLASS0), response(3, analogs(1), con=True),
                request(FunctionCode.READ, 4, CLASS0), response(4, analogs(1))]
    found = app_findings(tmp_path, exchange)
    assert rules(found) == [("dnp3.unconfirmed-response", "warning")]
    assert "master's next request" in found[0].message and found[0].direction == "server -> client"
    exchange.insert(2, confirm(3))
    assert app_findings(tmp_path, exchange) == []
    exchange[2] = confirm(4)  # the wrong SEQ confirms nothing
    assert rules(app_findings(tmp_path, exchange)) == [("dnp3.unconfirmed-response", "warning")]


def test_response_sequence(tmp_path: Path) -> None:
    found = app_findings(tmp_path, [request(FunctionCode.READ, 3, CLASS0), response(4, analogs(1))])
    assert rules(found) == [("dnp3.response-sequence", "error")]
    assert found[0].clause == "IEEE 1815 4.2.2.4.5" and "READ request" in found[0].message
    udp = app_findings(tmp_path, [request(FunctionCode.READ, 3, CLASS0), response(4, analogs(1))], udp=True)
    assert rules(udp) == [("dnp3.response-sequence", "error")]
    # A multi-fragment response counts up from the request's SEQ (confirming each fragment).
    multi = [request(FunctionCode.READ, 3, CLASS0), response(3, analogs(1), con=True, fin=False), confirm(3),
             response(4, analogs(2), con=True, fir=False, fin=False), confirm(4),
             response(5, analogs(3), fir=False)]
    assert app_findings(tmp_path, multi) == []
    multi[3] = response(6, analogs(2), con=True, fir=False, fin=False)
    multi[4] = confirm(6)
    found = app_findings(tmp_path, multi)
    assert rules(found) == [("dnp3.response-sequence", "error"), ("dnp3.response-sequence", "error")]
    assert "previous fragment" in found[0].message


def test_select_operate(tmp_path: Path) -> None:
    select = [request(FunctionCode.SELECT, 4, crob(2)), response(4, crob(2))]
    good = [*POLL, *select, request(FunctionCode.OPERATE, 5, crob(2)), response(5, crob(2))]
    assert app_findings(tmp_path, good) == []
    other = [*POLL, *select, request(FunctionCode.OPERATE, 5, crob(3)), response(5, crob(3))]
    found = app_findings(tmp_path, other)
    assert rules(found) == [("dnp3.operate-mismatch", "error")]
    assert found[0].clause == "IEEE 1815 4.4.4" and "differ" in found[0].message
    assert found[0].offset + found[0].window_start == 6  # control, function, g, v, qualifier, count, index
    skipped = [*POLL, *select, request(FunctionCode.OPERATE, 7, crob(2)), response(7, crob(2))]
    assert "not the SELECT's + 1" in app_findings(tmp_path, skipped)[0].message
    alone = [*POLL, request(FunctionCode.OPERATE, 5, crob(2)), response(5, crob(2, status=2))]
    assert rules(app_findings(tmp_path, alone)) == [("dnp3.operate-without-select", "error"),
                                                    ("dnp3.control-status", "warning")]
    # The first request of a flow may follow a SELECT before the capture: info.
    assert rules(app_findings(tmp_path, alone[2:]))[0] == ("dnp3.operate-without-select", "info")


def test_control_status(tmp_path: Path) -> None:
    for status, name in ((2, "NO_SELECT"), (4, "NOT_SUPPORTED"), (7, "LOCAL")):
        exchange = [request(FunctionCode.DIRECT_OPERATE, 4, crob(1)), response(4, crob(1, status=status))]
        found = app_findings(tmp_path, exchange)
        assert rules(found) == [("dnp3.control-status", "warning")]
        assert name in found[0].message and found[0].clause == "IEEE 1815 11.9.8"
        assert found[0].offset + found[0].window_start == 19  # head, IIN, g12v1 0x17, count, index, 10 octets
    operate = request(FunctionCode.DIRECT_OPERATE, 4, crob(1))
    assert app_findings(tmp_path, [operate, response(4, crob(1))]) == []
    # The same judgement when the response is decoded by the codec (a device attribute is not scanned).
    attribute = ObjectHeader(group=0, variation=252, qualifier=0x00, start=0, stop=0,
                             points=(Point(index=0, values={"data_type": 1, "value": b"rtu"}),))
    scanned = app_findings(tmp_path, [operate, response(4, crob(1, status=4))])
    decoded = app_findings(tmp_path, [operate, response(4, crob(1, status=4), attribute)])
    assert [f.message for f in decoded] == [f.message for f in scanned] and len(scanned) == 1
    # Only responses to controls: a status octet in a read's answer is not judged.
    read = request(FunctionCode.READ, 4, CLASS0)
    assert app_findings(tmp_path, [read, response(4, crob(1, status=4))]) == []


@pytest.mark.parametrize(("bit", "rule", "severity"), [
    (Iin.NO_FUNC_CODE_SUPPORT, "dnp3.iin-no-func-code-support", "info"),
    (Iin.OBJECT_UNKNOWN, "dnp3.iin-object-unknown", "info"),
    (Iin.PARAMETER_ERROR, "dnp3.iin-parameter-error", "info"),
    (Iin.ALREADY_EXECUTING, "dnp3.iin-already-executing", "info"),
    (Iin.RESERVED_2, "dnp3.iin-reserved", "error"),
])
def test_iin_bits_reported_with_each_response(tmp_path: Path, bit: Iin, rule: str, severity: str) -> None:
    exchange = [request(FunctionCode.READ, 3, CLASS0), response(3, iin=bit),
                request(FunctionCode.READ, 4, CLASS0), response(4, iin=bit)]
    found = app_findings(tmp_path, exchange)
    assert rules(found) == [(rule, severity)] * 2
    assert found[0].clause == "IEEE 1815 4.2.2.7" and found[0].offset == 3  # IIN2
    assert "READ request of frame 4" in found[0].message
    assert app_findings(tmp_path, [request(FunctionCode.READ, 3, CLASS0), response(3)] * 2) == []


@pytest.mark.parametrize(("bit", "rule"), [
    (Iin.EVENT_BUFFER_OVERFLOW, "dnp3.iin-event-buffer-overflow"),
    (Iin.CONFIG_CORRUPT, "dnp3.iin-config-corrupt"),
    (Iin.DEVICE_TROUBLE, "dnp3.iin-device-trouble"),
])
def test_iin_conditions_reported_when_they_rise(tmp_path: Path, bit: Iin, rule: str) -> None:
    polls = [(request(FunctionCode.READ, s, CLASS0), response(s, iin=b)) for s, b in
             enumerate((0, bit, bit, 0, bit))]
    found = app_findings(tmp_path, [m for pair in polls for m in pair])
    assert rules(found) == [(rule, "warning")] * 2  # rises at the second and the fifth response
    assert [f.frame for f in found] == [7, 13]


def test_iin_device_restart(tmp_path: Path) -> None:
    def polls(*iins: int) -> list[tuple[bool, bytes]]:
        return [m for s, i in enumerate(iins)
                for m in (request(FunctionCode.READ, s, CLASS0), response(s, iin=i))]

    restart = int(Iin.DEVICE_RESTART)
    found = app_findings(tmp_path, polls(restart, restart))  # never cleared
    assert rules(found) == [("dnp3.iin-device-restart", "warning")]
    assert found[0].frame == 5 and "never cleared" in found[0].message
    assert rules(app_findings(tmp_path, polls(restart))) == [("dnp3.iin-device-restart", "info")]  # once
    assert app_findings(tmp_path, polls(restart, 0, 0)) == []  # cleared
    found = app_findings(tmp_path, polls(restart, 0, restart, 0))  # restarted again
    assert rules(found) == [("dnp3.iin-device-restart", "warning")] and "again" in found[0].message


def test_iin_need_time(tmp_path: Path) -> None:
    need = int(Iin.NEED_TIME)
    exchange = [request(FunctionCode.READ, 1, CLASS0), response(1, iin=need),
                request(FunctionCode.READ, 2, CLASS0), response(2, iin=need)]
    found = app_findings(tmp_path, exchange)
    assert rules(found) == [("dnp3.iin-need-time", "warning")] and found[0].frame == 5
    time = ObjectHeader(group=50, variation=1, qualifier=0x07, count=1,
                        points=(Point(index=None, values={"time": 1_700_000_000_000}),))
    synced = [*exchange[:2], request(FunctionCode.WRITE, 2, time), response(2, iin=need)]
    assert app_findings(tmp_path, synced) == []


def test_fragments_that_do_not_decode(tmp_path: Path) -> None:
    good = response(3, analogs(1, 2))[1]
    truncated = good[:-2]  # the second analog loses two octets
    unknown = encode_fragment(ApplicationResponse(seq=3)) + bytes((99, 1, 0x00, 0, 0))  # g99v1: not defined
    undefined = bytes((0xC3, 77))  # function code 77
    undefined_response = good[:1] + bytes((200,)) + good[2:]  # function code 200, a plain body
    for fragment, rule, severity in ((truncated, "dnp3.app-malformed", "error"),
                                     (unknown, "dnp3.app-unknown-object", "warning"),
                                     (undefined, "dnp3.app-malformed", "error"),
                                     (undefined_response, "dnp3.app-malformed", "error")):
        exchange = [request(FunctionCode.READ, 3, CLASS0), (False, fragment)]
        result = replay(session(tmp_path / "s.pcap", exchange), analytics=False, workers=0)
        found = [f for f in result.findings if f.protocol == "dnp3"]
        assert rules(found) == [(rule, severity)]
        assert found[0].malformed and result.decode_errors["dnp3"] == 1
        where = {truncated: len(truncated), unknown: 5, undefined: 1, undefined_response: 1}[fragment]
        assert found[0].offset + found[0].window_start == where
    assert app_findings(tmp_path, [request(FunctionCode.READ, 3, CLASS0), (False, good)]) == []


def test_values_reach_the_analytics(tmp_path: Path) -> None:
    event = ObjectHeader(group=32, variation=1, qualifier=0x17, count=1,
                         points=(Point(index=1, values={"flags": 1, "value": 70}),))
    binaries = ObjectHeader(group=1, variation=1, qualifier=0x00, start=0, stop=2,
                            points=tuple(Point(index=i, values={"state": s})
                                         for i, s in enumerate((1, 0, 1))))
    counter = ObjectHeader(group=22, variation=1, qualifier=0x28, count=1,
                           points=(Point(index=300, values={"flags": 1, "value": 12345}),))
    exchange = [request(FunctionCode.READ, 1, CLASS0), response(1, analogs(5, 6), binaries),
                request(FunctionCode.READ, 2, CLASS0), response(2, event, counter)]
    result = replay(session(tmp_path / "s.pcap", exchange), analytics=True, workers=0)
    assert result.analytics is not None
    series = result.analytics.summary()["series"]
    base = f"{SERVER[0]}:{SERVER[1]} o{OUTSTATION}"
    assert series[f"{base} g30[0]"]["last"] == 5
    assert (series[f"{base} g30[1]"]["count"], series[f"{base} g30[1]"]["last"]) == (2, 70)  # static + event
    assert [series[f"{base} g1[{i}]"]["last"] for i in range(3)] == [1, 0, 1]
    assert series[f"{base} g20[300]"]["last"] == 12345
    assert len(series) == 6


def test_cli_json_has_the_findings_and_the_point_series(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    exchange = [*POLL, response(0, analogs(9), con=True, unsolicited=True),
                request(FunctionCode.READ, 4, CLASS0), response(5, analogs(8))]
    path = session(tmp_path / "cli.pcap", exchange)
    assert main(["replay", str(path), "--json"]) == 1  # the SEQ mismatch is an error
    doc = json.loads(capsys.readouterr().out)
    assert {"dnp3.unconfirmed-unsolicited", "dnp3.response-sequence"} <= set(doc["findings_by_rule"])
    found = {f["rule"]: f for f in doc["findings"]}
    assert found["dnp3.response-sequence"]["clause"] == "IEEE 1815 4.2.2.4.5"
    assert found["dnp3.unconfirmed-unsolicited"]["frame"] == 6
    series = doc["analytics"]["series"]
    assert series[f"{SERVER[0]}:{SERVER[1]} o{OUTSTATION} g30[0]"]["count"] == 3


# --- the scanner and the codec agree ----------------------------------------------------------------------


class ValueSink(FakeSink):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, bytes]] = []

    def value(self, series: str, timestamp: float, value: float) -> None:
        self.seen.append((series, struct.pack("<d", value)))  # NaN-safe comparison


_SPECS = [s for s in LIBRARY.values() if s.bits or (s.size and not s.variable)]
_QUALIFIERS = [0x00, 0x01, 0x07, 0x08, 0x17, 0x28, 0x06, 0x5B, 0x39, 0x02]


@st.composite
def response_fragments(draw: st.DrawFn) -> bytes:
    """Responses whose headers are mostly plain, with sizes that are often right and sometimes not."""
    octet = st.integers(0, 255)
    out = bytearray((0xC0 | draw(st.integers(0, 15)), 129, draw(octet), draw(octet)))
    for _ in range(draw(st.integers(0, 4))):
        spec = draw(st.sampled_from(_SPECS))
        q = draw(st.sampled_from(_QUALIFIERS))
        number = draw(st.integers(0, 6))
        start = draw(st.integers(0, 300))
        header = bytearray((spec.group, spec.variation, q))
        width = {0x00: 1, 0x01: 2, 0x07: 1, 0x08: 2, 0x17: 1, 0x28: 2}.get(q, 1)
        if q in (0x00, 0x01):
            mask = 0xFF if width == 1 else 0xFFFF
            start &= mask
            stop = (start + number - 1) & mask
            header += start.to_bytes(width, "little") + stop.to_bytes(width, "little")
        else:
            header += number.to_bytes(width, "little")
        prefix = {0x17: 1, 0x28: 2}.get(q, 0)
        body = -(-number * spec.bits // 8) if spec.bits else number * (prefix + spec.size)
        body += draw(st.sampled_from((0, 0, 0, -1, 1)))
        out += header + draw(st.binary(min_size=max(body, 0), max_size=max(body, 0)))
    return bytes(out)


@settings(max_examples=400, deadline=None)
@given(response_fragments())
def test_the_scanner_accepts_only_what_the_codec_decodes_and_feeds_the_same_values(frag: bytes) -> None:
    scanned = scan_objects(frag, 4)
    try:
        decoded = decode_fragment(frag)
    except DecodeError:
        assert scanned is None
        return
    if scanned is None:
        return
    assert isinstance(decoded, ApplicationResponse)
    assert [(h[0], h[1].variation) for h in scanned] == [(h.group, h.variation) for h in decoded.objects]
    flow = FlowContext(transport="tcp", client="c:1", server="s:20000", label="c:1 -> s:20000",
                       protocol="dnp3")
    fast, slow = ValueSink(), ValueSink()
    ApplicationAnalyzer(flow, fast, lambda **kw: None)._feed_scanned(True, 10, frag, scanned, 0.0)
    ApplicationAnalyzer(flow, slow, lambda **kw: None)._feed(True, 10, decoded.objects, 0.0)
    assert fast.seen == slow.seen


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)), max_size=5),
       st.sampled_from([f for f in FunctionCode if f < 129]))
def test_plain_requests_decode(headers: list[tuple[int, int]], function: FunctionCode) -> None:
    frag = bytes((0xC0, function)) + b"".join(bytes((g, v, 6)) for g, v in headers)
    if plain_request(frag):
        decode_fragment(frag)  # no DecodeError


def test_state_stays_bounded_on_a_long_flow() -> None:
    """Millions of frames must not grow a flow's state: stations, outstanding requests and series names
    are bounded whatever the addresses and SEQs (driven directly, 60 000 fragments)."""
    analyzer, _sink = make()
    app = analyzer._app
    rng = random.Random(7)
    for i in range(20_000):
        outstation, master = rng.randrange(1000), rng.randrange(4)
        seq = rng.randrange(16)
        read = encode_fragment(ApplicationRequest(function=FunctionCode.READ, seq=seq, objects=(CLASS0,)))
        app.fragment(True, master, outstation, read, i, float(i))
        answer = encode_fragment(ApplicationResponse(seq=rng.randrange(16), con=True,
                                                     iin=rng.randrange(0x10000),
                                                     objects=(analogs(1, start=rng.randrange(250)),)))
        app.fragment(False, outstation, master, answer, i, float(i))
        unsolicited = encode_fragment(ApplicationResponse(function=FunctionCode.UNSOLICITED_RESPONSE, seq=seq,
                                                          con=True, uns=True, iin=0x8000))
        app.fragment(False, outstation, master, unsolicited, i, float(i))
    assert len(app._stations) <= MAX_STATIONS
    assert all(len(s.outstanding) <= 4 for s in app._stations.values())
    assert len(app._bases) <= 4096
    analyzer.on_close(20_001, 20_001.0, "end")
    assert not app._stations
