"""The DNP3 reference outstation under abuse: damaged frames, random bytes, floods, half-open masters.

Pure first (the session machine takes mutated and random input without
raising, in bounded memory), then over loopback TCP and UDP: a master that
sends garbage, floods, or stops half-way through a frame is shed or
out-waited, and another master is served meanwhile. Waits are on sockets
with timeouts, never sleeps. Every randomized case prints its seed.
"""

from __future__ import annotations

import random
import select
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from tests.harness.dnp3_wire import Master, integrity, link_frame, request_bytes

from wireproof.codecs.dnp3.application import encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, PrimaryFunction
from wireproof.codecs.dnp3.database import Database
from wireproof.codecs.dnp3.messages import ApplicationRequest, ObjectHeader, Point
from wireproof.codecs.dnp3.outstation import Outstation, OutstationConfig
from wireproof.codecs.dnp3.session import OutstationSession
from wireproof.codecs.dnp3.transport import segment
from wireproof.harness.simulators.dnp3_outstation import OutstationHandle, running_outstation
from wireproof.harness.simulators.streams import Limits

TIMEOUT = 5.0
POINTS = {"binary": {"values": [True, False], "class": 1}, "analog": {"values": [1, 2, 3], "class": 2},
          "counter": {"values": [5], "class": 3}, "binary_output": {"values": [False]},
          "analog_output": {"values": [0]}}


def valid_requests() -> list[ApplicationRequest]:
    crob = ObjectHeader(group=12, variation=1, qualifier=0x28, count=1, points=(Point(index=0, values={
        "control_code": 3, "count": 1, "on_time": 0, "off_time": 0, "status": 0}),))
    return [integrity(0), ApplicationRequest(seq=1, function=FunctionCode.SELECT, objects=(crob,)),
            ApplicationRequest(seq=2, function=FunctionCode.OPERATE, objects=(crob,)),
            ApplicationRequest(seq=3, function=FunctionCode.IMMED_FREEZE,
                               objects=(ObjectHeader(group=20, variation=0, qualifier=6),)),
            ApplicationRequest(seq=4, function=FunctionCode.WRITE, objects=(ObjectHeader(
                group=50, variation=1, qualifier=7, count=1, points=(Point(values={"time": 5}),)),)),
            ApplicationRequest(seq=5, function=FunctionCode.CONFIRM)]


def mutate(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(4)
        if op == 0 and out:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif op == 1:
            out.insert(rng.randrange(len(out) + 1), rng.randrange(256))
        elif op == 2 and out:
            del out[rng.randrange(len(out))]
        else:
            out[rng.randrange(len(out) + 1):] = b""
    return bytes(out)


# --- pure: the machines never raise ----------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_application_fragments_never_raise(seed: int) -> None:
    """Fragments with valid link and transport framing but random or mutated application octets."""
    rng = random.Random(seed)
    o = Outstation(Database.from_mapping(POINTS), OutstationConfig(unsolicited=True))
    seeds = [encode_fragment(r) for r in valid_requests()]
    for n in range(3000):
        data = rng.randbytes(rng.randrange(40)) if n % 3 == 0 else mutate(rng.choice(seeds), rng)
        try:
            o.receive(data, n * 0.01)
            o.tick(n * 0.01)
        except Exception as exc:  # pragma: no cover - the failure report
            raise AssertionError(f"seed {seed}, case {n}: {data.hex()} raised {exc!r}") from exc
    assert len(o.pending_events()) <= sum(o.config.event_buffer)


@pytest.mark.parametrize("seed", [4, 5])
def test_mutated_link_frames_never_raise_and_the_stream_recovers(seed: int) -> None:
    rng = random.Random(seed)
    session = OutstationSession(Database.from_mapping(POINTS))
    frames = [request_bytes(r) for r in valid_requests()]
    for n in range(2000):
        data = rng.randbytes(rng.randrange(300)) if n % 4 == 0 else mutate(rng.choice(frames), rng)
        try:
            session.tick(n * 0.01)
            session.receive_data(data)
        except Exception as exc:  # pragma: no cover
            raise AssertionError(f"seed {seed}, case {n}: {data.hex()} raised {exc!r}") from exc
        assert session.buffered <= 64 * 1024
    # Whatever came before, a frame after 300 octets of 0x05 0x64 resynchronisation is answered:
    session.receive_data(b"\x05\x64" * 150)
    replies: list[bytes] = []
    for _ in range(3):  # what is left of a false start may swallow one frame's worth
        replies += session.receive_data(request_bytes(integrity(7))).replies
    assert replies, f"seed {seed}: no answer after the noise"


# --- over TCP ---------------------------------------------------------------------------------------


def closed_by_server(sock: socket.socket, timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return False
        try:
            if not sock.recv(65536):
                return True
        except ConnectionError:
            return True
    return False


@pytest.fixture
def outstation() -> Iterator[OutstationHandle]:
    with running_outstation(limits=Limits(max_garbage=0, idle_timeout=30.0)) as handle:
        yield handle


def test_bad_crcs_and_malformed_frames_are_dropped_and_the_next_answered(
        outstation: OutstationHandle) -> None:
    master = Master((outstation.host, outstation.port))
    analogs = ObjectHeader(group=30, variation=1, qualifier=6)
    good = request_bytes(ApplicationRequest(seq=1, objects=(analogs,)))
    damaged = []
    for where in (8, 9, 12, len(good) - 1):  # header CRC, data, block CRC
        bad = bytearray(good)
        bad[where] ^= 0x5A
        damaged.append(bytes(bad))
    damaged += [b"\x05\x64\x02" + good[3:], good[:7], b"\x05\x64\x05\xc7\x0a\x00\x01\x00\x00\x00",
                # confirmed user data before a link reset: ignored
                link_frame(b"\xc0", PrimaryFunction.CONFIRMED_USER_DATA, fcv=True, fcb=True),
                link_frame(segment(b"\xc5\x01\x1e\x02\x00\x00\x05")[0]),  # qualifier 0x00 range 0..5: IIN2.2
                link_frame(b"\x01\xc0\x01")]  # a segment without FIR
    for bad in damaged:
        master.send(bad)
    master.send(good)
    r = master.response()
    while r.seq != 1:
        r = master.response()
    assert [p.values["value"] for p in r.objects[0].points] == [100, -5, 1234, 0]
    master.close()


class Flood:
    """A client that sends ``payload`` over and over from a thread until stopped (never reads)."""

    def __init__(self, port: int, payload: bytes) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.payload = payload
        self.flowing = threading.Event()
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        try:
            while not self.done.is_set():
                self.sock.sendall(self.payload)
                self.flowing.set()
        except OSError:
            pass

    def stop(self) -> None:
        self.done.set()
        self.sock.close()
        self.thread.join(TIMEOUT)


@pytest.mark.parametrize("kind", ["random", "false-starts", "requests"])
def test_a_flood_does_not_starve_another_master(outstation: OutstationHandle, kind: str) -> None:
    rng = random.Random(11)
    payload = {"random": rng.randbytes(65536), "false-starts": b"\x05\x64" * 32768,
               "requests": request_bytes(integrity(0)) * 512}[kind]
    flood = Flood(outstation.port, payload)
    try:
        assert flood.flowing.wait(TIMEOUT), "the flood never got going"
        master = Master((outstation.host, outstation.port))
        for seq in range(15):
            asked = time.monotonic()
            binaries = ObjectHeader(group=1, variation=2, qualifier=6)
            r = master.ask(ApplicationRequest(seq=seq, objects=(binaries,)))
            assert r.seq == seq
            assert time.monotonic() - asked < 2.0, f"request {seq} waited behind the flood"
        master.close()
    finally:
        flood.stop()


def test_a_garbage_flooder_is_disconnected_after_the_budget() -> None:
    with running_outstation(limits=Limits(max_garbage=8192)) as handle:
        bad = socket.create_connection((handle.host, handle.port), timeout=TIMEOUT)
        try:
            bad.sendall(random.Random(6).randbytes(32768))
            assert closed_by_server(bad)
            master = Master((handle.host, handle.port))
            assert master.ask(integrity(2)).seq == 2
            master.close()
        finally:
            bad.close()


def test_half_open_masters_are_timed_out_and_others_served() -> None:
    with running_outstation(limits=Limits(frame_timeout=0.5, idle_timeout=1.5)) as handle:
        half = socket.create_connection((handle.host, handle.port), timeout=TIMEOUT)
        half.sendall(request_bytes(integrity(0))[:7])  # half a header, then silence
        silent = socket.create_connection((handle.host, handle.port), timeout=TIMEOUT)
        master = Master((handle.host, handle.port))
        open_ones = {half, silent}
        deadline = time.monotonic() + 2 * TIMEOUT
        seq = 0
        while open_ones and time.monotonic() < deadline:
            assert master.ask(integrity(seq)).seq == seq  # an active master is served and kept
            seq = (seq + 1) % 16
            for sock in list(open_ones):
                if closed_by_server(sock, timeout=0.1):
                    open_ones.discard(sock)
        assert not open_ones, "a half-open or silent connection was never closed"
        for sock in (half, silent):
            sock.close()
        master.close()


def test_connect_disconnect_storm_leaves_no_session_behind(outstation: OutstationHandle) -> None:
    for i in range(200):
        sock = socket.create_connection((outstation.host, outstation.port), timeout=TIMEOUT)
        if i % 2:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        if i % 3 == 0:
            sock.sendall(request_bytes(integrity(0))[:12])
        sock.close()
    master = Master((outstation.host, outstation.port))
    assert master.ask(integrity(3)).seq == 3
    master.close()
    # Each closed connection's session unsubscribed from the database: events are not kept for it.
    deadline = time.monotonic() + TIMEOUT
    while len(outstation.database.subscribers) > 0 and time.monotonic() < deadline:
        select.select([], [], [], 0.05)  # the server closes its side on its own loop; poll, bounded
    assert len(outstation.database.subscribers) == 0


def test_udp_random_datagrams_then_a_request() -> None:
    """500 random datagrams at once; then a master's request is answered. UDP may drop datagrams
    while the outstation's receive buffer is full of junk, so the master retries, as masters do."""
    with running_outstation(udp=True) as handle:
        rng = random.Random(8)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect((handle.host, handle.port))
        for _ in range(500):
            sock.send(rng.randbytes(rng.randrange(1, 300)))
        sock.close()
        master = Master((handle.host, handle.port), udp=True)
        master.sock.settimeout(0.5)
        answered = None
        for attempt in range(10):
            try:
                answered = master.ask(integrity(attempt))
                break
            except TimeoutError:
                continue
        assert answered is not None and answered.seq == attempt
        master.close()
