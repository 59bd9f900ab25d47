"""Hostile outstations against wireproof's DNP3 master: a typed failure, never a crash, hang or blow-up.

Each outstation here is a scripted TCP server on 127.0.0.1 (a thread): it
frames what the master sends with the real codec (to learn each request's
SEQ) and answers it badly — garbage, wrong sequence numbers, nothing at all,
fragments that never end, a flood, IIN bits that never clear, a closed
socket. The master (wireproof.harness.simulators.dnp3_master.MasterSession
over the sans-I/O master) must end every task with a TaskResult whose reason
says what went wrong (or raise a TransportError when the peer goes away),
within its response timeout, holding bounded memory.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from wireproof.codecs import NEED_DATA
from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.application import decode_fragment, encode_fragment
from wireproof.codecs.dnp3.constants import FunctionCode, Iin, PrimaryFunction
from wireproof.codecs.dnp3.framers import FragmentFramer
from wireproof.codecs.dnp3.link import encode_link
from wireproof.codecs.dnp3.messages import (
    ApplicationRequest,
    ApplicationResponse,
    LinkFrame,
    ObjectHeader,
    Point,
)
from wireproof.codecs.dnp3.transport import segment
from wireproof.errors import TransportError
from wireproof.harness.simulators.dnp3_master import MasterSession

TIMEOUT = 0.5  # the master's response timeout in these tests
Answer = Callable[[ApplicationRequest], list[bytes]]  # a request -> the octets to send back


def frames(fragment: bytes, *, tseq: int = 0) -> bytes:
    return b"".join(encode_link(LinkFrame(dir=False, prm=True, function=PrimaryFunction.UNCONFIRMED_USER_DATA,
                                          destination=1, source=10, user_data=seg))
                    for seg in segment(fragment, seq=tseq))


def response(seq: int, *objects: ObjectHeader, iin: int = 0, fir: bool = True, fin: bool = True) -> bytes:
    return encode_fragment(ApplicationResponse(fir=fir, fin=fin, seq=seq, iin=iin, objects=objects))


@contextmanager
def outstation(answer: Answer, *, on_connect: Callable[[socket.socket], None] | None = None) -> Iterator[str]:
    """A TCP server that answers each request fragment with ``answer(request)``; yields its URL."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(5.0)
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(0.05)
            if on_connect is not None:
                on_connect(conn)
                return
            framer = FragmentFramer()
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    return
                if not data:
                    return
                framer.feed(data)
                while (raw := framer.next_frame()) is not NEED_DATA:
                    request = decode_fragment(bytes(raw))
                    if isinstance(request, ApplicationRequest) and request.function != FunctionCode.CONFIRM:
                        for chunk in answer(request):
                            try:
                                conn.sendall(chunk)
                            except OSError:
                                return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()
        thread.join(timeout=10)
        assert not thread.is_alive()


def session(url: str, timeout: float = TIMEOUT) -> MasterSession:
    return MasterSession(url, config=M.MasterConfig(response_timeout=timeout), connect_timeout=5.0)


def run_bounded(url: str, task: M.Task, timeout: float = TIMEOUT) -> tuple[M.TaskResult, MasterSession,
                                                                             float]:
    with session(url, timeout) as s:
        started = time.monotonic()
        result = s.run(task, timeout=10 * timeout)
        return result, s, time.monotonic() - started


def notices(s: MasterSession, kind: str) -> list[M.Notice]:
    return [e for e in s.effects if isinstance(e, M.Notice) and e.kind == kind]


def test_garbage_answers() -> None:
    # every octet value, then a start whose header CRC is wrong
    pattern = bytes(range(256)) * 4 + b"\x05\x64\xff\xc4" + b"\x00" * 50

    with outstation(lambda request: [pattern]) as url:
        result, s, elapsed = run_bounded(url, M.integrity_poll())
    assert not result.ok and "response timeout" in result.reason
    assert notices(s, "link") and elapsed < 10 * TIMEOUT


def test_wrong_sequence_numbers() -> None:
    with outstation(lambda r: [frames(response((r.seq + 3) % 16))]) as url:
        result, s, _ = run_bounded(url, M.class_poll(1))
    assert not result.ok and "response timeout" in result.reason
    [notice] = notices(s, "unexpected")
    assert "SEQ" in notice.message


def test_first_fragment_without_fir_and_a_fragment_that_never_ends() -> None:
    def answer(r: ApplicationRequest) -> list[bytes]:
        return [frames(response(r.seq, fir=False)), frames(response(r.seq, fin=False)),
                frames(response((r.seq + 1) % 16, fin=False, fir=False))]

    with outstation(answer) as url:
        result, s, _ = run_bounded(url, M.class_poll(1))
    assert not result.ok and "response timeout" in result.reason
    assert notices(s, "unexpected")


def test_never_answers() -> None:
    with outstation(lambda r: []) as url:
        result, _, elapsed = run_bounded(url, M.integrity_poll())
    assert not result.ok and "no response within 0.5 s" in result.reason
    assert TIMEOUT <= elapsed < 10 * TIMEOUT


def test_huge_fragments_are_refused_with_bounded_memory() -> None:
    # 2000 segments of one fragment that never ends: 500 kB, far past the 2048-octet limit. Built
    # before the master connects (its first request has SEQ 0): encoding takes longer than the timeout.
    payload = bytes(249)
    user_data = [bytes((0x40,)) + response(0)[:4] + payload[:245]]
    user_data += [bytes((i % 64,)) + payload for i in range(1, 2000)]
    unconfirmed = PrimaryFunction.UNCONFIRMED_USER_DATA
    flood = b"".join(encode_link(LinkFrame(dir=False, prm=True, function=unconfirmed, destination=1,
                                           source=10, user_data=u)) for u in user_data)

    def answer(r: ApplicationRequest) -> list[bytes]:
        return [flood]

    with outstation(answer) as url:
        tracemalloc.start()
        try:
            result, s, _ = run_bounded(url, M.integrity_poll())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert not result.ok
    assert notices(s, "transport")
    assert peak < 8 * 1024 * 1024
    assert len(s.effects) <= s.effects.maxlen  # type: ignore[operator]


def test_a_flood_of_unsolicited_responses_stays_bounded() -> None:
    analog = ObjectHeader(group=32, variation=1, qualifier=0x28, count=1,
                          points=(Point(index=7, values={"flags": 1, "value": 5}),))
    flood = b"".join(frames(encode_fragment(ApplicationResponse(
        fir=True, fin=True, con=True, uns=True, seq=i % 16, function=FunctionCode.UNSOLICITED_RESPONSE,
        objects=(analog,)))) for i in range(3000))

    def answer(r: ApplicationRequest) -> list[bytes]:
        return [flood, frames(response(r.seq))]

    with outstation(answer) as url:  # 3000 frames take a while in Python: a patient master
        result, s, _ = run_bounded(url, M.class_poll(1), timeout=20.0)
    assert result.ok
    assert s.master.stats["unsolicited"] == 3000
    assert len(s.points) == 1 and len(s.effects) <= 10_000


def test_iin_bits_that_never_clear_do_not_loop_the_master() -> None:
    stuck = Iin.DEVICE_RESTART | Iin.NEED_TIME | Iin.CLASS_1_EVENTS | Iin.NO_FUNC_CODE_SUPPORT

    with outstation(lambda r: [frames(response(r.seq, iin=stuck))]) as url, session(url) as s:
        s.start(timeout=10.0)
        assert s.settle(timeout=10.0)
        sent = s.master.stats["sent"]
        assert sent <= 4 * M.AUTO_STREAK + 4
        assert not s.master.busy
        failed = [r for r in s.results.values() if not r.ok]
        assert failed and all("IIN2.0" in r.reason for r in failed)


def test_peer_closes_the_connection() -> None:
    with outstation(lambda r: [], on_connect=lambda conn: conn.close()) as url, session(url) as s, \
            pytest.raises(TransportError, match=r"closed the connection|reset by peer"):
        s.run(M.integrity_poll(), timeout=5.0)


def test_malformed_application_fragments() -> None:
    bad = [b"\xc0\x81", b"\xc0\x81\x00\x00\x1e\x01\x00\x00\xff", b"\xc0\xff\x00\x00", b"\xc0\x01\x3c\x02\x06"]

    def answer(r: ApplicationRequest) -> list[bytes]:
        return [frames(bytes((0xC0 | r.seq,)) + b[1:]) for b in bad]

    with outstation(answer) as url:
        result, s, _ = run_bounded(url, M.integrity_poll())
    assert not result.ok  # the integrity poll is asked again after each timeout: each answer is refused
    assert len(notices(s, "malformed")) == len(bad) * (1 + M.MasterConfig().integrity_retries)


def test_cli_against_a_silent_outstation_fails_cleanly() -> None:
    with outstation(lambda r: []) as url:
        done = subprocess.run([sys.executable, "-m", "wireproof", "simulate", "dnp3-master", "--target", url,
                               "--count", "1", "--timeout", "0.3"],
                              capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "FAILED: no response within 0.3 s" in done.stdout
    assert "Traceback" not in done.stderr




@contextmanager
def udp_outstation(answer: Answer) -> Iterator[str]:
    """A UDP outstation: each datagram's request answered with ``answer(request)`` (one datagram each)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        framer = FragmentFramer()
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            framer.feed(data)
            while (raw := framer.next_frame()) is not NEED_DATA:
                request = decode_fragment(bytes(raw))
                if isinstance(request, ApplicationRequest) and request.function != FunctionCode.CONFIRM:
                    for chunk in answer(request):
                        sock.sendto(chunk, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"udp://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=10)
        sock.close()
        assert not thread.is_alive()


def test_udp_outstation_with_a_garbage_datagram_first() -> None:
    analog = ObjectHeader(group=30, variation=1, qualifier=0x00, start=0, stop=0,
                          points=(Point(index=0, values={"flags": 1, "value": 42}),))

    def answer(r: ApplicationRequest) -> list[bytes]:
        return [b"\x05\x64garbage", frames(response(r.seq, analog))]

    with udp_outstation(answer) as url:
        result, s, _ = run_bounded(url, M.integrity_poll(), timeout=5.0)
    assert result.ok and s.values("analog") == {0: 42}
    assert notices(s, "link")
