"""Resynchronisation and oversized ADUs on imperfect captures (issue 11, part 2).

Captures with frames missing, a start mid-stream, several ADUs per segment
and Schneider UMAS traffic (function code 90, MBAP lengths above 254) are
made by :mod:`tests.hostile.imperfect`; wireproof's message count must equal
the count tshark gives on the same file (pinned below, measured with tshark
4.x as ``tshark -r F -Y mbtcp -T fields -e mbtcp.trans_id``, one value per
ADU, several per frame when a segment carries several; when tshark is
installed the test also asks it). The count compared on wireproof's side is
``messages["modbus-tcp"]``: every ADU with a valid header framed, decoded or
not (tshark shows malformed ADUs too).

The engine drives the recovery for any analyzer that offers
``plausible_header`` (:mod:`wireproof.codecs._resync`): a test protocol
defined here, which names nothing Modbus, gets it the same way.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.hostile import imperfect as I

from wireproof.codecs._analysis import FlowContext, Sink
from wireproof.harness.replay.registry import ProtocolSpec, Registry
from wireproof.harness.replay.run import replay


def _merged(sends: list[I.Send], per: int = 6) -> list[I.Send]:
    """Three pipelined requests per send, their three responses in the next."""
    out: list[I.Send] = []
    for k in range(0, len(sends), per):
        group = sends[k:k + per]
        out += [(True, b"".join(p for c, p in group if c)), (False, b"".join(p for c, p in group if not c))]
    return out


POLL = I.modbus_polling(300, seed=1)
# name -> (frames, tshark's ADU count)
CASES: dict[str, tuple[Callable[[], list[tuple[float, bytes]]], int]] = {
    "clean": (lambda: I.frames(POLL), 600),
    "gap-every-7th-frame": (lambda: I.drop(I.frames(POLL), I.every(7)), 514),
    "gap-every-5th-with-pure-acks": (lambda: I.drop(I.frames(POLL, pure_acks=True), I.every(5)), 480),
    "gap-10-percent-seeded": (lambda: I.drop(I.frames(POLL), I.seeded(0.10, seed=3)), 545),
    "midstream": (lambda: I.frames(POLL, handshake=False)[5:], 595),
    "three-adus-per-send-cut-at-50-bytes-gaps": (lambda: I.drop(I.frames(_merged(POLL), mss=50), I.every(6)),
                                                 459),
    "server-side-only-with-gaps": (lambda: I.drop(I.frames(POLL)[1::2], I.every(9)), 267),
    "umas": (lambda: I.frames(I.umas_session(60)), 240),
    "umas-gaps": (lambda: I.drop(I.frames(I.umas_session(60)), I.every(8)), 210),
    "umas-midstream": (lambda: I.frames(I.umas_session(60), handshake=False)[7:], 233),
    "umas-2500-byte-responses": (lambda: I.frames(I.umas_session(40, big=2500)), 160),
    "umas-2500-byte-responses-gaps": (lambda: I.drop(I.frames(I.umas_session(40, big=2500)), I.every(9)),
                                      141),
    "umas-only-gaps": (lambda: I.drop(I.frames(I.umas_session(80, poll=False)), I.every(7)), 137),
    "umas-only-midstream": (lambda: I.frames(I.umas_session(80, poll=False), handshake=False)[3:], 157),
}


def tshark_adus(path: Path) -> int:
    out = subprocess.run(["tshark", "-r", str(path), "-Y", "mbtcp", "-T", "fields", "-e", "mbtcp.trans_id"],
                         capture_output=True, text=True, check=True, timeout=120).stdout
    return sum(len(line.split(",")) for line in out.splitlines() if line.strip())


@pytest.mark.parametrize("name", sorted(CASES))
def test_decodes_what_tshark_shows(name: str, tmp_path: Path) -> None:
    make, expected = CASES[name]
    path = I.write(tmp_path / f"{name}.pcap", make())
    result = replay(path, analytics=False)
    assert result.messages["modbus-tcp"] == expected, name
    assert result.decode_errors["modbus-tcp"] == 0, name
    if shutil.which("tshark"):
        assert tshark_adus(path) == expected, f"{name}: tshark's count moved; re-measure"


def test_oversized_adus_are_one_finding_per_flow(tmp_path: Path) -> None:
    path = I.write(tmp_path / "umas.pcap", I.frames(I.umas_session(60)))
    result = replay(path, analytics=False)
    oversized = [f for f in result.findings if f.rule == "modbus.oversized-adu"]
    assert len(oversized) == 1
    assert oversized[0].severity == "warning" and "MBAP length 904" in oversized[0].message
    assert "0x5A" in oversized[0].message
    assert not [f for f in result.findings if f.severity == "error"]
    assert result.functions["modbus-tcp"]["fc 0x5A response"] == 60  # opaque PDUs, counted


def test_garbage_lengths_are_still_garbage(tmp_path: Path) -> None:
    """A length beyond 254 that the bytes do not confirm is an error, and the stream resyncs after it."""
    sends = I.modbus_polling(4)
    junk = I.mbap(77, bytes([0x5A]) + bytes(40))[:4] + (600).to_bytes(2, "big") + bytes([0, 0x5A]) + bytes(40)
    sends.insert(2, (True, junk))  # length 600, 42 bytes follow: the segment ends inside it
    result = replay(I.write(tmp_path / "junk.pcap", I.frames(sends)), analytics=False)
    rules = [f.rule for f in result.findings]
    assert "modbus.oversized-adu" not in rules
    assert result.messages["modbus-tcp"] == 8
    # undecided at first (a 600-byte ADU may span segments), decided garbage when the next
    # segment starts with a plausible header inside the span it claims
    assert rules.count("modbus.mbap-length") == 1


def test_the_lost_span_is_one_finding(tmp_path: Path) -> None:
    items = I.drop(I.frames(I.umas_session(20, poll=False)), I.every(7))
    result = replay(I.write(tmp_path / "lost.pcap", items), analytics=False)
    gaps = [f for f in result.findings if f.rule == "tcp.gap"]
    spans = [f for f in result.findings if f.rule == "replay.resync"]
    assert gaps and len(spans) <= len(gaps)
    for span in spans:
        assert span.severity == "info" and "decoding resumes at frame" in span.message


# --- protocol neutrality: a protocol that is not Modbus gets the same recovery ---------------------


class LineAnalyzer:
    """A test protocol: ``'#' + one length byte + payload``; a message starts with '#'."""

    def __init__(self, flow: FlowContext, sink: Sink) -> None:
        self.sink, self.buf = sink, {True: b"", False: b""}

    def plausible_header(self, from_client: bool, data: bytes) -> bool:
        return data[:1] == b"#"

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        buf = self.buf[from_client] + data
        while len(buf) >= 2 and len(buf) >= 2 + buf[1]:
            if buf[0] != 0x23:  # out of step: the engine must never let this happen after a gap
                self.sink.decode_error("line")
                buf = b""
                break
            self.sink.message("line", "message", frame, ts)
            buf = buf[2 + buf[1]:]
        self.buf[from_client] = buf

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None:
        self.buf[from_client] = b""

    def on_datagram(self, *args: Any) -> None: ...

    def on_close(self, *args: Any) -> None: ...


def test_any_analyzer_with_plausible_header_resyncs(tmp_path: Path) -> None:
    sends: list[I.Send] = []
    for i in range(30):
        message = b"#" + bytes([5]) + b"%05d" % i
        sends.append((True, message[:3]))  # each message in two segments: a gap may cut one in half
        sends.append((True, message[3:]))
        sends.append((False, b"#\x02ok"))
    items = I.drop(I.frames(sends), I.every(5))
    path = I.write(tmp_path / "line.pcap", items)
    spec = ProtocolSpec(name="line", ports=(I.SERVER[1],), analyzer=f"{__name__}:LineAnalyzer")
    result = replay(path, analytics=False, registry=Registry([spec]))
    assert result.decode_errors["line"] == 0
    assert result.messages["line"] > 40
    assert any(f.rule == "replay.resync" for f in result.findings)
