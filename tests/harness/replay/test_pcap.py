"""pcap and pcapng reading: every header variant the writers produce, damaged files, the shared captures.

The writers are the readers' counterpart; the shared captures
(../shared/captures, skipped when absent) are real files from other tools,
cross-checked against tshark's frame count when tshark is installed.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from wireproof.errors import FixtureError
from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.dissector import Dissector
from wireproof.harness.replay.events import Frame, Malformed
from wireproof.harness.replay.pcap import (
    CHUNK,
    PcapngInterface,
    PcapngPacket,
    build_tcp_frame,
    pcapng_section,
    socketcan_frame,
    write_pcap,
    write_pcapng,
)

SHARED = Path(__file__).resolve().parents[4] / "shared" / "captures"
SHARED_PCAPS = sorted(SHARED.rglob("*.pcap")) + sorted(SHARED.rglob("*.pcapng")) if SHARED.is_dir() else []
TSHARK = shutil.which("tshark")
CAPINFOS = shutil.which("capinfos")  # Wireshark's counter: the same answer as tshark, without dissecting
FRAME = build_tcp_frame(b"\x00\x01\x00\x00\x00\x02\x01\x07", src=("10.0.0.1", 40000), dst=("10.0.0.2", 502),
                        seq=1)


@pytest.mark.parametrize("big_endian", [False, True], ids=["le", "be"])
@pytest.mark.parametrize("nanoseconds", [False, True], ids=["us", "ns"])
def test_pcap_variants(tmp_path: Path, nanoseconds: bool, big_endian: bool) -> None:
    path = tmp_path / "x.pcap"
    write_pcap(path, [(1_700_000_000.123456, FRAME), (1_700_000_001.5, FRAME[:20])], nanoseconds=nanoseconds,
               big_endian=big_endian, linktype=1)
    reader = iter_capture(path)
    frames = list(reader)
    assert reader.format == "pcap" and reader.bytes_read == reader.size == path.stat().st_size
    assert [(f.number, f.linktype, f.data) for f in frames] == [(1, 1, FRAME), (2, 1, FRAME[:20])]
    assert frames[0].timestamp == pytest.approx(1_700_000_000.123456, abs=1e-6)
    assert frames[0].original_length == len(FRAME)


def test_pcap_records_across_chunk_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "big.pcap"
    n = CHUNK // len(FRAME) * 3 // 2 + 7
    write_pcap(path, ((float(i), FRAME) for i in range(n)))
    frames = list(iter_capture(path))
    assert len(frames) == n and all(f.data == FRAME for f in frames)
    assert frames[-1].number == n


def test_pcapng_interfaces_resolutions_blocks_comments(tmp_path: Path) -> None:
    interfaces = [PcapngInterface(linktype=1, tsresol=6, name="eth0", snaplen=30),
                  PcapngInterface(linktype=227, tsresol=9, name="can0"),
                  PcapngInterface(linktype=101, tsresol=0x80 | 20, ts_offset=1_000_000)]
    can = socketcan_frame(0x123, b"\x11\x22")
    raw_ip = FRAME[14:]
    packets = [
        PcapngPacket(timestamp=10.25, data=FRAME, interface=0, comment="first"),
        PcapngPacket(timestamp=11.000000001, data=can, interface=1),
        PcapngPacket(timestamp=1_000_012.5, data=raw_ip, interface=2, comment="raw\u00e9"),
        PcapngPacket(timestamp=0, data=FRAME[:30], block="spb", original_length=len(FRAME)),
        PcapngPacket(timestamp=13.5, data=FRAME[:30], interface=0, block="pb", comment="old"),
    ]
    path = tmp_path / "x.pcapng"
    write_pcapng(path, packets, interfaces=interfaces)
    reader = iter_capture(path)
    frames = list(reader)
    assert reader.format == "pcapng" and reader.interface_names == ["eth0", "can0", "if2"]
    assert [(f.linktype, f.interface, f.comment) for f in frames] == [
        (1, 0, "first"), (227, 1, None), (101, 2, "raw\u00e9"), (1, 0, None), (1, 0, "old")]
    assert [f.timestamp for f in frames] == pytest.approx([10.25, 11.000000001, 1_000_012.5, 1_000_012.5,
                                                           13.5])
    assert frames[3].data == FRAME[:30] and frames[3].original_length == len(FRAME)
    assert frames[1].data == can and frames[2].data == raw_ip


def test_pcapng_sections_with_both_byte_orders(tmp_path: Path) -> None:
    a = pcapng_section([PcapngInterface(name="a")], [(1.0, FRAME)])
    b = pcapng_section([PcapngInterface(linktype=101, name="b0"), PcapngInterface(name="b1")],
                       [PcapngPacket(timestamp=2.0, data=FRAME[14:]), PcapngPacket(timestamp=3.0, data=FRAME,
                                                                                   interface=1)],
                       big_endian=True)
    path = tmp_path / "multi.pcapng"
    path.write_bytes(a + b + a)
    reader = iter_capture(path)
    frames = list(reader)
    assert [(f.number, f.linktype, f.interface, f.timestamp) for f in frames] == [
        (1, 1, 0, 1.0), (2, 101, 1, 2.0), (3, 1, 2, 3.0), (4, 1, 3, 1.0)]
    assert reader.interface_names == ["a", "b0", "b1", "a"]


def _pcap_bytes() -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1) + \
        struct.pack("<IIII", 1, 0, len(FRAME), len(FRAME)) + FRAME


@pytest.mark.parametrize("cut", [10, 3], ids=["record-data", "record-header"])
def test_truncated_pcap_yields_what_was_read(tmp_path: Path, cut: int) -> None:
    good = _pcap_bytes() * 1
    path = tmp_path / "cut.pcap"
    path.write_bytes(good + struct.pack("<IIII", 2, 0, len(FRAME), len(FRAME))[:cut] if cut < 16 else
                     good + struct.pack("<IIII", 2, 0, len(FRAME), len(FRAME)) + FRAME[:cut])
    got: list[Frame] = []
    with pytest.raises(FixtureError, match="truncated capture"):
        got.extend(iter_capture(path))
    assert len(got) == 1
    reader = iter_capture(path, on_truncation="stop")
    assert len(list(reader)) == 1 and reader.truncation is not None and "cut short" in reader.truncation


def test_truncated_pcapng_yields_what_was_read(tmp_path: Path) -> None:
    data = pcapng_section([PcapngInterface()], [(1.0, FRAME), (2.0, FRAME)])
    path = tmp_path / "cut.pcapng"
    path.write_bytes(data[:-10])
    reader = iter_capture(path, on_truncation="stop")
    assert [f.timestamp for f in reader] == [1.0] and reader.truncation


@pytest.mark.parametrize(("name", "mangle"), [
    ("block-length", lambda b: b[:28 + 4] + struct.pack("<I", 13) + b[36:]),
    ("trailing-length", lambda b: b[:-4] + b"\x00\x00\x00\x00"),
    ("byte-order", lambda b: b[:8] + b"\x00" * 4 + b[12:]),
    ("undescribed-interface", lambda b: b[:b.index(b"\x06\x00\x00\x00") + 8] + b"\x05\x00\x00\x00" +
     b[b.index(b"\x06\x00\x00\x00") + 12:]),
])
def test_corrupt_pcapng_is_a_fixture_error(tmp_path: Path, name: str, mangle: object) -> None:
    data = pcapng_section([PcapngInterface()], [(1.0, FRAME)])
    path = tmp_path / f"{name}.pcapng"
    path.write_bytes(mangle(data))  # type: ignore[operator]
    with pytest.raises(FixtureError):
        list(iter_capture(path))


@pytest.mark.parametrize("content", [b"", b"\x00" * 100, b"hello world\n"], ids=["empty", "zeros", "text"])
def test_not_a_capture(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(content)
    with pytest.raises(FixtureError):
        iter_capture(path)


def test_absurd_record_length_is_a_fixture_error(tmp_path: Path) -> None:
    path = tmp_path / "huge.pcap"
    path.write_bytes(_pcap_bytes()[:24] + struct.pack("<IIII", 0, 0, 0x7FFFFFFF, 0) + bytes(100))
    with pytest.raises(FixtureError, match="claims"):
        list(iter_capture(path))


@pytest.mark.skipif(not SHARED_PCAPS, reason="../shared/captures absent")
@pytest.mark.parametrize("path", SHARED_PCAPS, ids=lambda p: p.name)
def test_shared_captures_read_and_dissect(path: Path) -> None:
    frames = list(iter_capture(path))
    assert frames and [f.number for f in frames] == list(range(1, len(frames) + 1))
    events = list(Dissector().dissect(frames))
    malformed = [e for e in events if isinstance(e, Malformed)]
    assert len(malformed) <= len(frames)
    if CAPINFOS is not None:
        out = subprocess.run([CAPINFOS, "-c", "-M", "-T", "-r", str(path)], capture_output=True, text=True,
                             timeout=60, check=False).stdout
        assert int(out.split()[-1]) == len(frames)
    elif TSHARK is not None:
        out = subprocess.run([TSHARK, "-n", "-r", str(path), "-T", "fields", "-e", "frame.number"],
                             capture_output=True, text=True, timeout=60, check=False).stdout
        assert len(out.splitlines()) == len(frames)


def test_damage_in_stop_mode_keeps_the_frames_before_it(tmp_path: Path) -> None:
    from wireproof.harness.replay.damage import CaptureDamaged

    data = pcapng_section([PcapngInterface()], [(1.0, FRAME), (2.0, FRAME), (3.0, FRAME)])
    packets, pos = [], 0
    while pos < len(data):  # the enhanced packet blocks' offsets
        btype, blen = struct.unpack_from("<II", data, pos)
        packets += [pos] if btype == 6 else []
        pos += blen
    second = packets[1]
    path = tmp_path / "bad.pcapng"
    path.write_bytes(data[:second + 4] + struct.pack("<I", 13) + data[second + 8:])
    with pytest.raises(CaptureDamaged, match=f"corrupt capture at byte {second}: the block has a bad length"):
        list(iter_capture(path))
    reader = iter_capture(path, on_damage="stop")
    assert [f.timestamp for f in reader] == [1.0]
    assert reader.damage is not None
    assert (reader.damage.kind, reader.damage.offset, reader.damage.frames_before) == ("corrupt", second, 1)
    assert reader.truncation is not None and str(path) in reader.truncation


def test_pcapng_section_comment_and_application(tmp_path: Path) -> None:
    """The section header's options (issue 10: a capture says what it is) leave the packets as they were."""
    path = tmp_path / "c.pcapng"
    write_pcapng(path, [PcapngPacket(timestamp=1.0, data=FRAME, comment="step 1")], comment="clause MB-1",
                 application="wireproof test")
    frames = list(iter_capture(path))
    assert [(f.data, f.comment) for f in frames] == [(FRAME, "step 1")]
    plain = pcapng_section([PcapngInterface()], [(1.0, FRAME)])
    assert pcapng_section([PcapngInterface()], [(1.0, FRAME)], comment=None) == plain  # default unchanged
    if CAPINFOS is not None:
        out = subprocess.run([CAPINFOS, str(path)], capture_output=True, text=True, timeout=60,
                             check=False).stdout
        assert "clause MB-1" in out and "wireproof test" in out
