"""candump logs (can-utils ``-L`` and default formats) and python-can formats (ASC, BLF, TRC).

Every record becomes a SocketCAN frame and, through the Dissector, one
CanMessage with the identifier, flags and data of the line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from wireproof.errors import FixtureError
from wireproof.harness.replay.candump import LOG_RE
from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.dissector import Dissector
from wireproof.harness.replay.events import CanMessage

J1939 = Path(__file__).resolve().parents[4] / "shared" / "captures" / "j1939" / "pretty_j1939"
J1939_LOGS = sorted(p for p in J1939.rglob("*") if p.suffix in (".log", ".txt")) if J1939.is_dir() else []
HAVE_PYTHON_CAN = importlib.util.find_spec("can") is not None


def messages(path: Path) -> list[CanMessage]:
    reader = iter_capture(path)
    d = Dissector(interface_names=reader.interface_names)
    return [e for e in d.dissect(reader) if isinstance(e, CanMessage)]


def summary(m: CanMessage) -> tuple[object, ...]:
    return (m.interface, m.can_id, m.extended, m.fd, m.remote, m.error, m.brs, m.esi, m.data)


def test_log_format(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_text("(1436509052.249713) vcan0 123#DEADBEEF\n"
                    "\n"
                    "(1436509052.250000) vcan1 18FEF100#0102030405060708\n"
                    "(1436509052.3) vcan0 321#R\n"
                    "(1436509052.4) vcan0 321#R4\n"
                    "(1436509052.5) vcan0 123##3112233445566778899AABBCC\n"
                    "(1436509052.6) vcan0 20000080#0000000000000000\n"
                    "(1436509052.7) vcan0 123#1122334455667788_9 T\n")
    msgs = messages(path)
    assert [summary(m) for m in msgs] == [
        ("vcan0", 0x123, False, False, False, False, False, False, bytes.fromhex("DEADBEEF")),
        ("vcan1", 0x18FEF100, True, False, False, False, False, False, bytes(range(1, 9))),
        ("vcan0", 0x321, False, False, True, False, False, False, b""),
        ("vcan0", 0x321, False, False, True, False, False, False, b""),
        ("vcan0", 0x123, False, True, False, False, True, True, bytes.fromhex("112233445566778899AABBCC")),
        ("vcan0", 0x080, False, False, False, True, False, False, bytes(8)),
        ("vcan0", 0x123, False, False, False, False, False, False, bytes.fromhex("1122334455667788")),
    ]
    assert msgs[0].timestamp == pytest.approx(1436509052.249713) and msgs[3].dlc == 4
    assert [m.frame for m in msgs] == list(range(1, 8))


def test_default_format(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("  vcan0  123   [4]  DE AD BE EF\n"
                    " (1436509052.249713)  can1  1F334455   [8]  01 02 03 04 05 06 07 08   '........'\n"
                    "  vcan0  321   [2]  remote request\n"
                    "  vcan0  123  [12]  00 11 22 33 44 55 66 77 88 99 AA BB\n")
    msgs = messages(path)
    assert [summary(m) for m in msgs] == [
        ("vcan0", 0x123, False, False, False, False, False, False, bytes.fromhex("DEADBEEF")),
        ("can1", 0x1F334455, True, False, False, False, False, False, bytes(range(1, 9))),
        ("vcan0", 0x321, False, False, True, False, False, False, b""),
        ("vcan0", 0x123, False, True, False, False, False, False, bytes.fromhex("00112233445566778899AABB")),
    ]
    assert msgs[0].timestamp == 0.0 and msgs[2].dlc == 2


@pytest.mark.parametrize("bad", ["(1.0) vcan0 123#DEADBEE", "(1.0) vcan0 123#001122334455667788",
                                 "  vcan0  123   [4]  DE AD", "garbage"],
                         ids=["odd-hex", "too-long", "length-mismatch", "garbage"])
def test_bad_line_is_a_fixture_error_naming_it(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "x.log"
    path.write_text("(1.0) vcan0 123#00\n" + bad + "\n")
    with pytest.raises(FixtureError, match="line 2"):
        list(iter_capture(path))


@pytest.mark.skipif(not J1939_LOGS, reason="../shared/captures absent")
@pytest.mark.parametrize("path", J1939_LOGS, ids=lambda p: p.name)
def test_shared_j1939_logs(path: Path) -> None:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    if not LOG_RE.match(lines[0].encode()):  # truckdevil's format, or candump lines with a count prefixed
        with pytest.raises(FixtureError):
            iter_capture(path)
        return
    msgs = messages(path)
    assert len(msgs) == len(lines)
    assert all(m.extended for m in msgs)  # J1939 uses 29-bit identifiers only


@pytest.mark.skipif(not HAVE_PYTHON_CAN, reason="python-can not installed")
@pytest.mark.parametrize("suffix", [".asc", ".blf", ".trc"])
def test_python_can_formats(tmp_path: Path, suffix: str) -> None:
    import can

    path = tmp_path / f"x{suffix}"
    sent = [can.Message(timestamp=1_700_000_000.0 + i, arbitration_id=0x100 + i, is_extended_id=bool(i % 2),
                        data=bytes([i] * (i + 1)), channel=1) for i in range(4)]
    with can.Logger(str(path)) as log:
        for m in sent:
            log.on_message_received(m)
    msgs = messages(path)
    assert [(m.can_id, m.extended, m.data) for m in msgs] == [(0x100 + i, bool(i % 2), bytes([i] * (i + 1)))
                                                             for i in range(4)]


def test_python_can_missing_or_broken_is_a_fixture_error(tmp_path: Path) -> None:
    path = tmp_path / "x.blf"
    path.write_bytes(b"LOGG" + bytes(40))
    with pytest.raises(FixtureError):
        list(iter_capture(path))


@pytest.mark.parametrize(("line", "reason"), [
    ("  vcan0  123  [10]  00 11 22 33 44 55 66 77 88 99", "not a CAN FD length"),
    ("  vcan0  123   [9]  00 11 22 33 44 55 66 77 88", "not a classic CAN length"),
    ("  vcan0  123  [04]  remote request", "classic CAN only"),
    ("(1.0) vcan0 123#R8_3", "remote frame length"),
    ("(1.0) vcan0 123#1122334455667788_", "raw DLC"),
    ("(1.0) vcan0 123##", "flags digit"),
])
def test_lengths_the_format_does_not_allow_are_damage(tmp_path: Path, line: str, reason: str) -> None:
    path = tmp_path / "x.log"
    path.write_text("(1.0) vcan0 123#00\n" + line + "\n")
    reader = iter_capture(path, on_damage="stop")
    assert len(list(reader)) == 1
    assert reader.damage is not None and reader.damage.line == 2 and reason in reader.damage.reason
    assert (reader.damage.offset, reader.damage.frames_before, reader.damage.format) == (19, 1, "candump")


def test_remote_frames_with_a_raw_dlc_and_crlf_lines(tmp_path: Path) -> None:
    path = tmp_path / "x.log"
    path.write_bytes(b"(1.0) vcan0 123#R8_F\r\n(2.0) vcan0 123#R0\r\n")
    msgs = messages(path)
    assert [(m.remote, m.dlc) for m in msgs] == [(True, 8), (True, 0)]
