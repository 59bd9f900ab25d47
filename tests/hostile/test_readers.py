"""Damaged and crafted captures for every reader (issue 9): one policy (``replay/damage.py``).

What every case holds: no traceback; the frames before the damage are all
reported, each identical to the undamaged file's; no frame beyond them (a
cut line is not a shorter frame); the damage is one ``capture.<kind>``
finding and the JSON ``damage`` object, with its byte offset (line and
column for candump); ``wireproof replay`` exits 3 (1 when the part read has
an error finding), 2 only when the file is not a capture at all, never 0
for a damaged file.
"""

from __future__ import annotations

import json
import re
import struct
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hostile.damage import bit_flips, cuts

from wireproof.errors import FixtureError
from wireproof.harness.cli import main
from wireproof.harness.exitcodes import FAIL, INCOMPLETE, OK, USAGE
from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.damage import CaptureDamaged
from wireproof.harness.replay.events import Record
from wireproof.harness.replay.pcap import LINKTYPE_ETHERNET, PcapngInterface, write_pcap, write_pcapng
from wireproof.harness.replay.run import replay

FIXTURES = Path(__file__).resolve().parents[2] / "src" / "wireproof" / "fixtures" / "modbus" / "captures"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "captures"

# A candump -L log as can-utils writes it: standard, extended, remote (with and without a
# length), CAN FD (with BRS), an error frame, len8_dlc, two interfaces.
CANDUMP = (b"(1700000000.000100) vcan7 123#DEADBEEF\n"
           b"(1700000000.000200) slcan3 18FEF100#0102030405060708\n"
           b"(1700000000.000300) vcan7 321#R\n"
           b"(1700000000.000400) vcan7 321#R4\n"
           b"(1700000000.000500) vcan7 123##1112233445566778899AABBCC\n"
           b"(1700000000.000600) slcan3 20000080#0000000000000000\n"
           b"(1700000000.000700) vcan7 124#1122334455667788_9\n"
           b"(1700000000.000800) vcan7 125#\n"
           b"(1700000000.000900) slcan3 0CF00400#F0FF7D7D00FF7DFF\n")


def _records(path: Path) -> tuple[list[Record], CaptureDamaged | None]:
    reader = iter_capture(path, on_damage="stop")
    got = list(reader.records())
    damage = reader.damage
    return got, None if damage is None else CaptureDamaged(path, damage)


def _frames(path: Path) -> list[tuple[object, ...]]:
    """What a frame is, for comparing: time, link type, bytes, interface, original length."""
    got, _ = _records(path)
    return [r[1:6] for r in got]


# -- where each record of an undamaged file ends (walked independently of the readers) --------------

Ends = tuple[list[int], set[int]]  # where each frame's record ends; where any record ends (a clean cut)


def _pcap_ends(data: bytes) -> Ends:
    ends, pos = [], 24
    while pos + 16 <= len(data):
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
        ends.append(pos)
    return ends, {24, *ends}


def _pcapng_ends(data: bytes) -> Ends:
    ends, pos, blocks = [], 0, set()
    while pos + 12 <= len(data):
        btype, blen = struct.unpack_from("<II", data, pos)
        pos += blen
        blocks.add(pos)
        if btype in (2, 3, 6):  # the packet blocks
            ends.append(pos)
    return ends, blocks


def _candump_ends(data: bytes) -> Ends:
    ends, pos, lines = [], 0, set()
    for line in data.splitlines(keepends=True):
        pos += len(line)
        lines.add(pos)
        if line.strip():
            ends.append(pos)
    return ends, lines


def _captures(tmp: Path) -> Iterator[tuple[str, Path, Ends]]:
    """Small real captures in each format, with the end offset of each record."""
    real = FIXTURES / "wireproof-client_pymodbus-server.pcapng"
    data = real.read_bytes()
    yield "pcapng", real, _pcapng_ends(data)
    frames = [(f.timestamp, f.data) for f in iter_capture(real)]
    pcap = tmp / "real.pcap"
    write_pcap(pcap, frames)  # the same real frames in a classic pcap
    yield "pcap", pcap, _pcap_ends(pcap.read_bytes())
    candump = tmp / "real.log"
    candump.write_bytes(CANDUMP)
    yield "candump", candump, _candump_ends(CANDUMP)
    for shared in (SHARED / "modbus" / "zeek" / "modbus-and-non-modbus-p502.pcap",
                   SHARED / "j1939" / "pretty_j1939" / "LocalStuff" / "multipacket_interleaved.txt"):
        if shared.is_file():
            raw = shared.read_bytes()
            yield shared.name, shared, _pcap_ends(raw) if shared.suffix == ".pcap" else _candump_ends(raw)


@pytest.fixture(scope="module")
def captures(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, Ends]]:
    return list(_captures(tmp_path_factory.mktemp("real")))


def _replay_cli(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object] | None, str]:
    code = main(["replay", str(path), "--json", "--no-analytics", "--max-findings", "5"])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else None, err


def test_every_reader_keeps_what_precedes_a_cut(captures: list[tuple[str, Path, Ends]], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    for name, path, (ends, clean) in captures:
        original = _frames(path)
        data = path.read_bytes()
        assert len(original) == len(ends) > 3, name
        for label, damaged in cuts(data, count=16, seed=9):
            case = tmp_path / f"cut{path.suffix}"
            case.write_bytes(damaged)
            complete = sum(1 for e in ends if e <= len(damaged))
            code, doc, err = _replay_cli(case, capsys)
            where = f"{name}, {label}"
            assert "Traceback" not in err, where
            if doc is None:  # not recognisable as a capture any more: a usage error naming the file
                assert code == USAGE and "error:" in err, where
                continue
            got = _frames(case)
            # all the frames before the cut, identical; none invented (a frame from the cut record
            # only if its text proves it whole, and then it is the original frame)
            assert got == original[:len(got)], where
            assert complete <= len(got) <= complete + 1, where
            assert doc["frames"] == len(got), where
            if doc["damage"] is None:  # a cut between records is a shorter capture, or the line is whole
                assert len(damaged) in clean or len(got) == complete + 1, where
                assert code in (OK, FAIL), where
            else:
                assert code in (FAIL, INCOMPLETE), where
                damage = doc["damage"]
                assert damage["kind"] == "truncated" and damage["frames_before"] == len(got), where
                assert damage["offset"] is not None and damage["offset"] <= len(damaged), where
                assert doc["findings_by_rule"]["capture.truncated"] == 1, where


def test_every_reader_keeps_what_precedes_a_bit_flip(captures: list[tuple[str, Path, Ends]],
                                                    tmp_path: Path) -> None:
    for name, path, (ends, _) in captures:
        original = _frames(path)
        for label, damaged in bit_flips(path.read_bytes(), count=40, seed=9):
            case = tmp_path / f"flip{path.suffix}"
            case.write_bytes(damaged)
            offset = int(label.rsplit(" ", 1)[1])
            before = sum(1 for e in ends if e <= offset)  # records wholly before the flipped byte
            where = f"{name}, {label}"
            try:
                result = replay(case, analytics=False)
            except FixtureError as exc:  # the magic was hit: not a capture any more
                assert not isinstance(exc, CaptureDamaged) and offset < 64, where
                continue
            got = _frames(case)
            assert got[:before] == original[:before], where
            assert result.frames == len(got) and result.frames >= before, where
            if result.damage is not None:
                assert result.damage.frames_before == len(got), where


@pytest.mark.parametrize("fmt", ["pcap", "pcapng", "candump"])
@pytest.mark.parametrize("where", ["appended", "inserted"])
def test_garbage_after_valid_records_loses_nothing_before_it(tmp_path: Path, fmt: str, where: str,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Before: a corrupt record after valid ones made replay exit 2 with no frame reported."""
    real = FIXTURES / "wireproof-client_pymodbus-server.pcapng"
    path = tmp_path / f"x.{fmt}"
    if fmt == "pcap":
        write_pcap(path, [(f.timestamp, f.data) for f in iter_capture(real)])
        ends = _pcap_ends(path.read_bytes())[0]
    elif fmt == "pcapng":
        write_pcapng(path, [(f.timestamp, f.data) for f in iter_capture(real)],
                     interfaces=[PcapngInterface(linktype=LINKTYPE_ETHERNET)])
        ends = _pcapng_ends(path.read_bytes())[0]
    else:
        path.write_bytes(CANDUMP)
        ends = _candump_ends(CANDUMP)[0]
    data = path.read_bytes()
    at = ends[4] if where == "inserted" else len(data)
    garbage = b"\xff\xff\xff\x7f" * 8 + b"\n"
    path.write_bytes(data[:at] + garbage + data[at:])
    code, doc, err = _replay_cli(path, capsys)
    assert doc is not None and "Traceback" not in err
    kept = 5 if where == "inserted" else len(ends)
    assert doc["frames"] == kept and _frames(path) == _frames_of(data, fmt, tmp_path)[:kept]
    assert doc["damage"]["kind"] == "corrupt" and doc["damage"]["offset"] == at
    assert doc["damage"]["line"] == (kept + 1 if fmt == "candump" else None)
    assert code in (FAIL, INCOMPLETE) and (code == FAIL) == (doc["findings_by_severity"]["error"] > 0)


def _frames_of(data: bytes, fmt: str, tmp_path: Path) -> list[tuple[object, ...]]:
    path = tmp_path / f"undamaged.{fmt}"
    path.write_bytes(data)
    return _frames(path)


# -- candump: crafted lines --------------------------------------------------------------------------

def _candump(tmp_path: Path, text: bytes) -> Path:
    path = tmp_path / "crafted.log"
    path.write_bytes(text)
    return path


@pytest.mark.parametrize(("line", "kind", "column"), [
    (b"(1.0) can0 123#R1FF", "corrupt", 17),  # before: struct.error (DLC 511 in a ubyte)
    (b"(1.0) can0 123#R9", "corrupt", 17),  # a remote frame asks for 0 to 8 bytes
    (b"(1.0) can0 123#1122_9", "corrupt", 20),  # len8_dlc says 8 bytes, the line gives 2
    (b"(1.0) can0 123##1112233445566778899", "corrupt", 18),  # 9 bytes: no CAN FD length code gives it
    (b"(" + b"9" * 400 + b".5) can0 123#11", "invalid", 2),  # before: inf, then a ValueError in --json
    (b"  can0  123   [9]  remote request", "corrupt", 16),
    (b"(1.0) can0 123#11 X", "corrupt", 1),
])
def test_crafted_candump_line_is_damage_with_line_and_column(tmp_path: Path, line: bytes, kind: str,
                                                             column: int,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    first = b"(1.0) can0 100#00\n"
    path = _candump(tmp_path, first + line + b"\n" + first)
    code, doc, err = _replay_cli(path, capsys)
    assert code == INCOMPLETE and "Traceback" not in err and doc is not None
    assert doc["frames"] == 1 and doc["duration"] == 0.0
    damage = doc["damage"]
    where = (damage["kind"], damage["line"], damage["column"], damage["offset"])
    assert where == (kind, 2, column, len(first))
    with pytest.raises(CaptureDamaged, match="line 2"):
        list(iter_capture(path))


def test_text_summary_says_the_damage_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _candump(tmp_path, b"(1.0) can0 100#00\n(" + b"9" * 400 + b".5) can0 123#11\n")
    assert main(["replay", str(path), "--no-analytics"]) == INCOMPLETE
    out = capsys.readouterr().out
    assert not re.search(r"\b(inf|nan)\b", out)
    (line,) = [x for x in out.splitlines() if "damaged input" in x]
    assert "line 2, column 2 (byte 18)" in line and "1 frame before it" in line


@pytest.mark.parametrize(("tail", "frames"), [
    (b"(2.0) can0 123#11223344", 1),  # cut at an even hex digit: before, a 4-byte frame
    (b"(2.0) can0 123#1122334455667788", 2),  # eight bytes: provably whole
    (b"(2.0) can0 123##1112233", 1),  # an FD frame cut short
    (b"(2.0) can0 123#R", 1),  # may be "#R4" cut short
    (b"(2.0) can0 123#R4", 2),
    (b"(2.0) can0 123#11 T", 2),  # the direction token ends the frame
    (b"  can0  123   [2]  11 22", 2),  # the default format states its length
    (b"(2.0) can0 123#1122_", 1),
    (b"(2.0) can0 12", 1),
])
def test_last_line_without_newline_is_a_frame_only_if_whole(tmp_path: Path, tail: bytes, frames: int,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = _candump(tmp_path, b"(1.0) can0 100#00\n" + tail)
    code, doc, _ = _replay_cli(path, capsys)
    assert doc is not None and doc["frames"] == frames
    if frames == 1:
        assert code == INCOMPLETE and doc["damage"]["kind"] == "truncated" and doc["damage"]["line"] == 2
    else:
        assert code == OK and doc["damage"] is None


def test_a_huge_line_is_not_read_whole(tmp_path: Path) -> None:
    """Before: a 200 MB line was read whole (417 MB) before the 4,096-byte limit was checked."""
    size = 32 << 20
    path = tmp_path / "huge.log"
    with path.open("wb") as f:
        f.write(b"(1.0) can0 100#00\n(2.0) can0 123#")
        chunk = b"11" * (1 << 19)
        for _ in range(size // len(chunk)):
            f.write(chunk)
        f.write(b"\n")
    tracemalloc.start()
    try:
        reader = iter_capture(path, on_damage="stop")
        frames = list(reader.records())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(frames) == 1 and reader.damage is not None
    assert (reader.damage.kind, reader.damage.line, reader.damage.offset) == ("corrupt", 2, 18)
    assert "longer than 4096 bytes" in reader.damage.reason
    assert peak < 1 << 20, f"peak {peak} bytes for a {size}-byte line"
    assert reader.bytes_read < 64 << 10  # it stopped at the limit, not at the end of the line


def test_candump_interfaces_are_named_and_counted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _candump(tmp_path, CANDUMP)
    assert main(["replay", str(path), "--json", "--no-analytics"]) == OK
    doc = json.loads(capsys.readouterr().out)
    assert [f["flow"] for f in doc["flows"]] == ["can vcan7", "can slcan3"]
    assert doc["stats"]["can_interfaces"] == 2


def test_damaged_capture_in_the_pytest_plugin_is_a_failure(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Before: INTERNALERROR (struct.error at collection)."""
    path = _candump(tmp_path, b"(1.0) can0 100#00\n(1.0) can0 123#R1FF\n")
    result = pytester.runpytest("--wireproof-replay", str(path), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*crafted.log is damaged*corrupt capture at line 2, column 17*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_damage_is_in_the_html_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _candump(tmp_path, b"(1.0) can0 100#00\n(1.0) can0 123#11")
    html = tmp_path / "r.html"
    assert main(["replay", str(path), "--html", str(html), "--no-analytics"]) == INCOMPLETE
    capsys.readouterr()
    page = html.read_text()
    assert 'class="damage"' in page and "truncated capture at line 2" in page and "1 frame before it" in page
