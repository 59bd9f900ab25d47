"""The ``dnp3-master`` suite's scripted outstation (_station.py), driven by a hand-made master over TCP,
and a deliberately broken master run through ``certify``: its clauses fail (proof that they can)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.dnp3 import LinkFramer, decode_link, encode_link, link_frames
from wireproof.codecs.dnp3.application import decode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, Iin, PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    ObjectHeader,
    Point,
)
from wireproof.conformance.dnp3_master._station import Behaviour, Event, Station
from wireproof.errors import DecodeError
from wireproof.harness.client_dut import ClientConnection, Listener
from wireproof.harness.plugin import EvidenceRecorder


class Master:
    """A hand-made master on a blocking socket: sends requests, reads whole link frames."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.framer = LinkFramer()
        self.transport_seq = 0

    def send(self, request: ApplicationRequest) -> None:
        for frame in link_frames(request, destination=10, source=1, master=True,
                                 transport_seq=self.transport_seq):
            self.transport_seq = (self.transport_seq + 1) % 64
            self.sock.sendall(encode_link(frame))

    def link(self, function: PrimaryFunction) -> None:
        self.sock.sendall(encode_link(LinkFrame(dir=True, prm=True, function=function, destination=10,
                                                source=1)))

    def frame(self) -> LinkFrame:
        while (raw := self.framer.next_frame()) is NEED_DATA:
            data = self.sock.recv(4096)
            assert data, "the station closed"
            self.framer.feed(data)
        assert isinstance(raw, bytes | bytearray)
        return decode_link(bytes(raw))

    def response(self) -> ApplicationResponse:
        frame = self.frame()
        fragment = decode_fragment(frame.user_data[1:])
        assert isinstance(fragment, ApplicationResponse)
        return fragment


@pytest.fixture
def pair() -> Iterator[tuple[Master, ClientConnection, EvidenceRecorder]]:
    with Listener() as listener:
        sock = socket.create_connection(("127.0.0.1", listener.port), timeout=5)
        conn = ClientConnection(listener.accept(5))
        try:
            yield Master(sock), conn, EvidenceRecorder()
        finally:
            sock.close()
            conn.close()


def read(seq: int, *classes: int) -> ApplicationRequest:
    return ApplicationRequest(seq=seq, function=FunctionCode.READ, objects=tuple(
        ObjectHeader(group=60, variation=c + 1, qualifier=0x06) for c in classes))


def test_station_answers_by_policy_and_records_each_frame(pair: tuple[Master, ClientConnection,
                                                                      EvidenceRecorder]) -> None:
    master, conn, evidence = pair
    station = Station(conn, evidence, behaviour=Behaviour(restart=True, events=[Event(cls=2, index=4)]))
    master.link(PrimaryFunction.RESET_LINK_STATES)
    master.link(PrimaryFunction.REQUEST_LINK_STATUS)
    master.send(read(3, 1, 2, 3, 0))
    assert station.serve(lambda s: len(s.log) == 1, 5)
    links = [master.frame().function for _ in range(2)]
    assert links == [SecondaryFunction.ACK, SecondaryFunction.LINK_STATUS]
    answer = master.response()
    assert answer.seq == 3 and answer.con
    assert answer.iin & Iin.DEVICE_RESTART and answer.iin & Iin.CLASS_2_EVENTS
    assert [(h.group, h.variation) for h in answer.objects] == [(2, 1), (1, 2), (30, 1), (20, 1)]
    # A confirm with another sequence number clears nothing; the right one clears the events.
    master.send(ApplicationRequest(seq=4, function=FunctionCode.CONFIRM))
    master.send(ApplicationRequest(seq=3, function=FunctionCode.CONFIRM))
    assert station.serve(lambda s: len(s.confirms) == 2, 5)
    assert station.behaviour.events == [] and station.pending is None
    # Writing g80v1 index 7 = 0 clears the restart IIN.
    master.send(ApplicationRequest(seq=5, function=FunctionCode.WRITE, objects=(ObjectHeader(
        group=80, variation=1, qualifier=0x00, start=7, stop=7,
        points=(Point(index=7, values={"state": False}),)),)))
    assert station.serve(lambda s: len(s.log) == 4, 5)
    assert master.response().iin == 0 and station.behaviour.restart is False
    directions = [e["direction"] for e in evidence.entries]
    assert directions[0] == "connect"
    frames = [e for e in evidence.entries if e["direction"] in ("sent", "received")]
    assert len(frames) == 10 and all(e["hex"].startswith("0564") and e["decoded"] for e in frames)
    assert any("READ seq 3" in e["decoded"] for e in frames)


def test_station_withholds_and_numbers_wrongly_on_request(pair: tuple[Master, ClientConnection,
                                                                      EvidenceRecorder]) -> None:
    master, conn, evidence = pair
    seen: list[int] = []

    def once(request: object) -> bool:
        seen.append(1)
        return len(seen) == 1

    station = Station(conn, evidence, behaviour=Behaviour(restart=False, withhold=once,
                                                          wrong_seq=lambda r: True))
    master.send(read(1, 0))
    master.send(read(2, 0))
    assert station.serve(lambda s: len(s.log) == 2, 5)
    assert [r.seq for _, r in station.sent] == [3]  # the first withheld, the second numbered 2 + 1
    assert master.response().seq == 3


def test_station_sends_unsolicited_and_multi_fragment(pair: tuple[Master, ClientConnection,
                                                                  EvidenceRecorder]) -> None:
    master, conn, evidence = pair
    station = Station(conn, evidence, behaviour=Behaviour(restart=False, integrity_fragments=3))
    sent = station.send_unsolicited([Event(cls=1)], seq=9)
    got = master.response()
    assert got == sent and got.uns and got.con and got.function == FunctionCode.UNSOLICITED_RESPONSE
    master.send(read(6, 0))
    master.send(ApplicationRequest(seq=6, function=FunctionCode.CONFIRM))
    master.send(ApplicationRequest(seq=7, function=FunctionCode.CONFIRM))
    station.confirm_wait = 5
    assert station.serve(lambda s: len(s.sent) == 4, 5)
    fragments = [master.response() for _ in range(3)]
    assert [(f.fir, f.fin, f.seq) for f in fragments] == [(True, False, 6), (False, False, 7),
                                                           (False, True, 8)]


def test_station_judges_bytes_that_do_not_frame(pair: tuple[Master, ClientConnection,
                                                            EvidenceRecorder]) -> None:
    master, conn, evidence = pair
    station = Station(conn, evidence)
    master.sock.sendall(b"\x01\x02\x03")
    with pytest.raises(DecodeError, match="before a 0564 start"):
        station.serve(lambda s: False, 5)
    master.sock.close()
    assert not station.serve(lambda s: False, 5) and station.closed


# A master that breaks rules on purpose: it polls, takes (and confirms) any response whatever its
# sequence number or source address, never clears the restart IIN and numbers its requests 0, 0, 0.
BROKEN_MASTER = r'''
import socket, sys
from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.dnp3 import LinkFramer, decode_link, encode_link, link_frames
from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.codecs.dnp3.messages import ApplicationRequest, ObjectHeader
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port))
framer, tseq = LinkFramer(), 0
def send(req):
    global tseq
    for f in link_frames(req, destination=10, source=1, master=True, transport_seq=tseq):
        tseq = (tseq + 1) % 64
        s.sendall(encode_link(f))
def poll():
    send(ApplicationRequest(seq=0, function=FunctionCode.READ, objects=tuple(
        ObjectHeader(group=60, variation=v, qualifier=6) for v in (2, 3, 4, 1))))
poll()
polls = 1
while data := s.recv(4096):
    framer.feed(data)
    while (raw := framer.next_frame()) is not NEED_DATA:
        frame = decode_link(bytes(raw))
        if frame.user_data and frame.user_data[1] & 0x20:  # CON: confirmed, whoever sent it, any number
            shift = 1 if sys.argv[3:] == ["miscount"] else 0  # or, with "miscount", the wrong number
            send(ApplicationRequest(seq=(frame.user_data[1] + shift) & 15, function=FunctionCode.CONFIRM))
        polls += 1
        if polls < 4:
            poll()
'''


@pytest.mark.parametrize(("mode", "want"), [
    ("take", {"DNP3-M-001": "pass", "DNP3-M-005": "fail", "DNP3-M-010": "pass", "DNP3-M-018": "fail",
              "DNP3-M-019": "fail", "DNP3-M-029": "fail"}),
    ("miscount", {"DNP3-M-010": "fail", "DNP3-M-015": "fail"}),
])
def test_a_broken_master_fails_its_clauses(tmp_path: Path, mode: str, want: dict[str, str]) -> None:
    script = tmp_path / "broken_master.py"
    script.write_text(BROKEN_MASTER)
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "certify", "dnp3-master", "--report", str(tmp_path / "rep"),
         "--command", f"{{python}} {script} {{host}} {{port}} {mode}", "--param", "poll_timeout=2",
         "--param", "response_timeout=1", "-k", " or ".join(want)],
        capture_output=True, text=True, timeout=300, check=False)
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    got = {c["clause"]: c["verdict"] for c in report["cases"]}
    out = proc.stdout + proc.stderr
    assert got == want, out
    assert proc.returncode == 1, out
