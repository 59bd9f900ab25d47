"""The evidence bundle: per clause a rebuilt TCP capture and a step log, a manifest, ``verify-report``.

The captures are read back twice: with wireproof's own pcapng reader (every
segment's sequence and acknowledgment number checked against an independent
count of the bytes each side sent) and, when installed, with tshark (its TCP
analysis must find no gap and no unseen segment; with decode-as it must see
the Modbus function codes; the packet comments must come out as fields).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from wireproof.errors import HarnessError
from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.events import Frame
from wireproof.harness.replay.pcap import build_tcp_frame, tcp_checksum
from wireproof.harness.report import REPORT_FILES, write_reports
from wireproof.harness.report.bundle import MANIFEST_SCHEMA, case_file_names, tcp_packets, write_bundle
from wireproof.harness.report.model import CaseResult, EvidenceEntry, ProfileInfo, RunResult

TSHARK = shutil.which("tshark")
STARTED = 1_700_000_000.25
READ = "000100000006010300000001"  # tid 1, FC 03 read 1 holding register at 0
ANSWER = "0001000000050103020000"


def E(direction: str, t: float, data: str = "", **kw: str) -> EvidenceEntry:
    return EvidenceEntry(direction=direction, t=t, hex=data, **kw)


SPLIT = ("530100", "00000601", "03", "00000001")
TWO_CONNECTIONS = (
    E("note", 0.0001, note="connection 1: connect"),
    E("connect", 0.001, connection="connection 1", local="127.0.0.1:54358", remote="127.0.0.1:34889"),
    E("sent", 0.002, READ, connection="connection 1", decoded="tid 0x0001: FC 03 read"),
    E("received", 0.003, ANSWER, connection="connection 1", decoded="tid 0x0001: FC 03 answer"),
    E("note", 0.004, note="connection 2: one ADU in four segments"),
    E("connect", 0.005, connection="connection 2", local="127.0.0.1:54360", remote="127.0.0.1:34889"),
    *(E("sent", 0.006 + i / 1000, part, connection="connection 2", decoded=f"part {i + 1}")
      for i, part in enumerate(SPLIT)),
    E("received", 0.011, "5301000000050103020000", connection="connection 2", decoded="tid 0x5301 answer"),
    E("sent", 0.012, "0002000000060103000000", connection="connection 1", decoded="an ADU cut short"),
    E("note", 0.013, note="connection 3: the device resets it"),
    E("connect", 0.014, connection="connection 3", note="reset by the device while connecting"),
    E("close", 0.015, connection="connection 2"),
    E("received", 0.016, "ffff", connection="connection 1", decoded="2 bytes that make no whole ADU"),
    E("close", 0.017, connection="connection 1"),
)
IPV6 = (
    E("note", 0.0, note="over IPv6"),
    E("connect", 0.001, connection="connection 1", local="[::1]:40000", remote="[::1]:502"),
    E("sent", 0.002, READ, connection="connection 1", decoded="read"),
    E("received", 0.003, ANSWER, connection="connection 1", decoded="answer"),
    E("close", 0.004, connection="connection 1"),
)
CASES = (
    CaseResult(nodeid="test_stream.py::test_two[x]", clause="MB-TCP-008", level="shall", verdict="fail",
               message="first line\nsecond line", title="One ADU in four segments.", started=STARTED,
               evidence=TWO_CONNECTIONS),
    CaseResult(nodeid="test_v6.py::test_v6", clause="MB-TCP-100", level="should", verdict="pass",
               started=STARTED + 1, evidence=IPV6),
    CaseResult(nodeid="test_x.py::test_p[a/b c]", clause="", level="may", verdict="pass", started=STARTED,
               evidence=(E("note", 0.0, note="nothing sent"),)),
    # no evidence: no files
    CaseResult(nodeid="test_x.py::test_none", clause="MB-AP-001", level="shall", verdict="pass"),
)
RUN = RunResult(suite="modbus-server", target="tcp://127.0.0.1:34889", started="2023-11-14T22:13:20+00:00",
                finished="2023-11-14T22:13:22+00:00", duration=2.0, cases=CASES,
                profile=ProfileInfo(source="file", path="/p.toml", sha256="ab" * 32))


# --------------------------------------------------------------------------- reading a capture back

def _tcp(frame: Frame) -> tuple[tuple[str, int], tuple[str, int], int, int, int, bytes]:
    """(src, dst, seq, ack, flags, payload) of an Ethernet/IPv4-or-IPv6/TCP frame."""
    data = frame.data
    ethertype = struct.unpack_from(">H", data, 12)[0]
    ip = data[14:]
    if ethertype == 0x86DD:
        src, dst, tcp = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40])), ip[40:]
        assert struct.unpack_from(">H", ip, 4)[0] == len(tcp)
        pseudo_src, pseudo_dst = src, dst
    else:
        assert ethertype == 0x0800
        ihl = (ip[0] & 15) * 4
        src, dst, tcp = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20])), ip[ihl:]
        pseudo_src, pseudo_dst = src, dst
    assert tcp_checksum(tcp, src=pseudo_src, dst=pseudo_dst) == 0  # a correct checksum sums to zero
    sport, dport, seq, ack, off_flags = struct.unpack_from(">HHIIH", tcp)
    return (src, sport), (dst, dport), seq, ack, off_flags & 0x3F, tcp[(off_flags >> 12) * 4:]


def check_tcp_arithmetic(frames: list[Frame]) -> dict[tuple[tuple[str, int], tuple[str, int]], bytes]:
    """Each seq is its side's next byte, each ACK the other side's; returns the bytes of each direction."""
    nxt: dict[tuple[tuple[str, int], tuple[str, int]], int] = {}
    stream: dict[tuple[tuple[str, int], tuple[str, int]], bytes] = {}
    for frame in frames:
        src, dst, seq, ack, flags, payload = _tcp(frame)
        key, back = (src, dst), (dst, src)
        if flags & 0x02:  # SYN: the side's initial sequence number
            assert key not in nxt
            nxt[key] = seq
        assert seq == nxt[key], f"frame {frame.number}: seq {seq} != {nxt[key]}"
        if flags & 0x10:
            assert ack == nxt[back], f"frame {frame.number}: ack {ack} != {nxt[back]}"
        nxt[key] = (seq + len(payload) + (1 if flags & 0x03 else 0)) & 0xFFFFFFFF
        stream[key] = stream.get(key, b"") + payload
    return stream


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("bundle")
    write_reports(RUN, directory)
    return directory


def test_the_bundle_holds_a_capture_and_a_log_per_case_with_evidence(bundle: Path) -> None:
    names = sorted(p.name for p in (bundle / "evidence").iterdir())
    assert names == ["MB-TCP-008.log", "MB-TCP-008.pcapng", "MB-TCP-100.log", "MB-TCP-100.pcapng",
                     "test_x.py_test_p_a_b_c.log", "test_x.py_test_p_a_b_c.pcapng"]


def test_two_connections_a_split_adu_and_a_reset_rebuild_exactly(bundle: Path) -> None:
    frames = list(iter_capture(bundle / "evidence" / "MB-TCP-008.pcapng"))
    stream = check_tcp_arithmetic(frames)
    c1, c2, server = ("127.0.0.1", 54358), ("127.0.0.1", 54360), ("127.0.0.1", 34889)
    assert stream[(c1, server)].hex() == READ + "0002000000060103000000"
    assert stream[(server, c1)].hex() == ANSWER + "ffff"
    assert stream[(c2, server)].hex() == "".join(SPLIT)
    assert stream[(server, c2)].hex() == "5301000000050103020000"
    flags = [_tcp(f)[4] for f in frames]
    # per connection: SYN, SYN+ACK, ACK first; FIN+ACK, FIN+ACK, ACK last
    c2_flags = [fl for f, fl in zip(frames, flags, strict=True) if c2 in _tcp(f)[:2]]
    assert c2_flags[:3] == [0x02, 0x12, 0x10] and c2_flags[-3:] == [0x11, 0x11, 0x10]
    # the device ACKs each of the first three pieces at once; the fourth is acknowledged by its answer
    assert c2_flags[3:11] == [0x18, 0x10, 0x18, 0x10, 0x18, 0x10, 0x18, 0x18]
    # one data segment per sent/received entry
    assert sum(1 for f in frames if _tcp(f)[5]) == 9
    # timestamps: started + t, never going back
    times = [f.timestamp for f in frames]
    assert times == sorted(times) and times[0] == pytest.approx(STARTED + 0.001, abs=2e-6)
    comments = [f.comment or "" for f in frames]
    assert all(c.startswith("MB-TCP-008 | step: ") for c in comments)
    assert "MB-TCP-008 | step: connection 2: one ADU in four segments | connection 2 sent: part 3" in comments
    # no addresses: not put on the wire
    assert not any(c.split(" | ")[2].startswith("connection 3") for c in comments)


def test_the_reset_connection_is_named_in_the_log_and_the_section(bundle: Path) -> None:
    _packets, left_out = tcp_packets(CASES[0])
    assert left_out == ["connection 3: reset by the device while connecting (local ?, remote ?)"]
    log = (bundle / "evidence" / "MB-TCP-008.log").read_text()
    assert "not in the capture: connection 3: reset by the device while connecting" in log
    capture = (bundle / "evidence" / "MB-TCP-008.pcapng").read_bytes()
    assert capture.count(b"not in this capture: connection 3") == 1


def test_ipv6(bundle: Path) -> None:
    frames = list(iter_capture(bundle / "evidence" / "MB-TCP-100.pcapng"))
    stream = check_tcp_arithmetic(frames)
    assert stream[(("::1", 40000), ("::1", 502))].hex() == READ
    assert stream[(("::1", 502), ("::1", 40000))].hex() == ANSWER
    assert all(struct.unpack_from(">H", f.data, 12)[0] == 0x86DD for f in frames)


def test_the_step_log(bundle: Path) -> None:
    lines = (bundle / "evidence" / "MB-TCP-008.log").read_text().splitlines()
    assert lines[:6] == ["clause:   MB-TCP-008", "level:    shall", "title:    One ADU in four segments.",
                         "test:     test_stream.py::test_two[x]", "verdict:  fail", "message:  first line"]
    assert lines[6] == "          second line"
    entries = lines[lines.index("") + 2:]
    assert len(entries) == len(TWO_CONNECTIONS)
    assert entries[1].split() == ["0.001000", "connection", "1", "connect", "127.0.0.1:54358", "->",
                                  "127.0.0.1:34889"]
    assert entries[2].split()[-2:] == ["hex", READ] and "tid 0x0001: FC 03 read" in entries[2]
    assert "reset by the device while connecting" in entries[13]


def test_the_manifest_lists_every_file_with_its_hash(bundle: Path) -> None:
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["schema"] == MANIFEST_SCHEMA
    assert (manifest["suite"], manifest["target"]) == ("modbus-server", "tcp://127.0.0.1:34889")
    assert (manifest["started"], manifest["finished"]) == (RUN.started, RUN.finished)
    assert manifest["profile"]["sha256"] == "ab" * 32
    listed = {f["path"]: f for f in manifest["files"]}
    on_disk = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()} - {"manifest.json"}
    assert set(listed) == on_disk and [f["path"] for f in manifest["files"]][:3] == list(REPORT_FILES)
    for path, entry in listed.items():
        data = (bundle / path).read_bytes()
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_write_reports_returns_the_manifest_last(tmp_path: Path) -> None:
    paths = write_reports(RUN, tmp_path)
    assert [p.name for p in paths] == [*REPORT_FILES, "manifest.json"]


def test_a_rewrite_is_byte_identical(tmp_path: Path) -> None:
    """Sequence numbers come from the addresses, not a random source: the same report, the same bundle."""
    write_reports(RUN, tmp_path / "a")
    write_reports(RUN, tmp_path / "b")
    for name in ("MB-TCP-008.pcapng", "MB-TCP-100.pcapng"):
        a, b = (tmp_path / side / "evidence" / name for side in "ab")
        assert a.read_bytes() == b.read_bytes()


def test_stale_evidence_is_removed_and_nothing_else(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    (evidence / "MB-OLD-1.pcapng").write_bytes(b"old")
    (evidence / "MB-OLD-1.log").write_text("old")
    (evidence / "notes.txt").write_text("the user's")
    (evidence / "sub.log").mkdir()
    outside = tmp_path / "outside.log"
    outside.write_text("keep")
    (evidence / "link.log").symlink_to(outside)
    write_reports(RUN, tmp_path)
    left = sorted(p.name for p in evidence.iterdir())
    assert "MB-OLD-1.pcapng" not in left and "MB-OLD-1.log" not in left
    assert {"notes.txt", "sub.log", "link.log"} <= set(left) and outside.read_text() == "keep"


def test_an_evidence_symlink_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "precious.log").write_text("keep")
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "evidence").symlink_to(target)
    with pytest.raises(HarnessError, match="symbolic link"):
        write_bundle(RUN, tmp_path / "r")
    assert (target / "precious.log").read_text() == "keep"


def test_file_names_odd_characters_and_collisions() -> None:
    def case(nodeid: str, clause: str = "") -> CaseResult:
        return CaseResult(nodeid=nodeid, clause=clause, level="shall", verdict="pass")

    cases = [case("t.py::test[a]", "MB-1"), case("t.py::test[b]", "MB-1"), case("t.py::x", "mb-1"),
             case("t.py::test[../../etc/passwd]"), case("t.py::test[\x00\n ]"), case("", ""),
             case("t.py::nul", "NUL"), case("t.py::long", "A" * 300), case("t.py::dup", "MB-2"),
             case("t.py::dup", "MB-2")]
    names = case_file_names(cases)
    digest = hashlib.sha256(b"t.py::test[a]").hexdigest()[:8]
    assert names[0] == f"MB-1-{digest}" and names[1].startswith("MB-1-") and names[2].startswith("mb-1-")
    assert names[3] == "t.py_test_etc_passwd" and names[4] == "t.py_test" and names[5] == "case"
    assert names[6] == "_NUL" and len(names[7]) <= 96
    assert names[9] == names[8] + "-2"
    assert len({n.lower() for n in names}) == len(names)
    assert all(n and "/" not in n and not n.startswith(".") for n in names)


def test_a_payload_beyond_an_ip_packet_is_split() -> None:
    big = bytes(range(256)) * 600  # 153,600 bytes
    case = CaseResult(nodeid="n", clause="C", level="shall", verdict="pass", evidence=(
        E("connect", 0.0, connection="c", local="10.0.0.1:1000", remote="10.0.0.2:502"),
        E("received", 0.1, big.hex(), connection="c")))
    packets, _ = tcp_packets(case)
    frames = [Frame(number=i + 1, timestamp=p.timestamp, linktype=1, data=p.data, original_length=len(p.data))
              for i, p in enumerate(packets)]
    stream = check_tcp_arithmetic(frames)
    assert stream[(("10.0.0.2", 502), ("10.0.0.1", 1000))] == big
    assert max(len(p.data) for p in packets) < 65_535 + 14


def test_build_tcp_frame_checksum_default_unchanged() -> None:
    plain = build_tcp_frame(b"ab", src=("10.0.0.1", 1), dst=("10.0.0.2", 2), seq=5)
    summed = build_tcp_frame(b"ab", src=("10.0.0.1", 1), dst=("10.0.0.2", 2), seq=5, checksum=True)
    at = 14 + 20 + 16  # Ethernet, IPv4, then the TCP checksum field
    assert plain[at:at + 2] == b"\x00\x00" and summed[at:at + 2] != b"\x00\x00"
    assert plain[:50] == summed[:50] and plain[52:] == summed[52:]


# --------------------------------------------------------------------------- tshark, an independent reader

def _tshark(*args: str) -> str:
    assert TSHARK is not None
    out = subprocess.run([TSHARK, "-n", *args], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")
@pytest.mark.parametrize("name", ["MB-TCP-008", "MB-TCP-100"])
def test_tshark_sees_no_gap_and_decodes_modbus(bundle: Path, name: str) -> None:
    path = str(bundle / "evidence" / f"{name}.pcapng")
    expert = _tshark("-r", path, "-o", "tcp.analyze_sequence_numbers:TRUE", "-z", "expert", "-q")
    for warning in ("previous segment not captured", "ACKed unseen segment", "retransmission",
                    "Duplicate ACK", "out-of-order", "Malformed"):
        assert warning.lower() not in expert.lower(), expert
    port = "34889" if name == "MB-TCP-008" else "502"
    fields = _tshark("-r", path, "-o", "tcp.check_checksum:TRUE", "-d", f"tcp.port=={port},mbtcp",
                     "-o", f"mbtcp.tcp.port:{port}", "-T", "fields", "-e", "modbus.func_code",
                     "-e", "tcp.checksum.status", "-e", "frame.comment").splitlines()
    assert {line.split("\t")[0] for line in fields} >= {"3"}  # FC 03 decoded by Wireshark's own dissector
    assert {line.split("\t")[1] for line in fields} == {"1"}  # every TCP checksum good
    comments = [line.split("\t")[2] for line in fields]
    assert all(c.startswith(f"{name} | step: ") for c in comments) and len(comments) == len(
        list(iter_capture(Path(path))))


# --------------------------------------------------------------------------- end to end

def _wireproof(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wireproof", *args], capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def test_certify_then_verify_report(tmp_path: Path) -> None:
    report = tmp_path / "report"
    certify = _wireproof("certify", "modbus-server", "-k", "MB-TCP-008", "--report", str(report))
    assert certify.returncode == 0, certify.stdout + certify.stderr
    capture = report / "evidence" / "MB-TCP-008.pcapng"
    assert capture.is_file() and (report / "evidence" / "MB-TCP-008.log").is_file()

    ok = _wireproof("verify-report", str(report))
    digest = hashlib.sha256((report / "manifest.json").read_bytes()).hexdigest()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines() == [f"{report}: 5 files verified, manifest sha256 {digest}"]

    data = bytearray(capture.read_bytes())
    data[len(data) // 2] ^= 0x01
    capture.write_bytes(bytes(data))
    bad = _wireproof("verify-report", str(report))
    assert bad.returncode == 1 and not bad.stderr
    lines = bad.stdout.splitlines()
    assert lines[0].startswith(f"{capture}: modified: SHA-256 ") and len(lines) == 2
    assert lines[1] == f"{report}: NOT VERIFIED: 1 problem, manifest sha256 {digest}"

    (report / "manifest.json").unlink()
    gone = _wireproof("verify-report", str(report))
    assert gone.returncode == 2 and "manifest.json cannot be read" in gone.stderr
    assert "Traceback" not in gone.stderr
