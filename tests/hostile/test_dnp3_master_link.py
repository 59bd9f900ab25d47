"""An outstation that withholds link ACKs, against wireproof's DNP3 master on a confirmed link.

The outstation is the reference session (wireproof.codecs.dnp3.session.OutstationSession,
link + transport + application) served by a thread on 127.0.0.1, with one
twist: a policy decides which of its ACK frames are never written (and
another which frames of the master it never hears, as if lost). The master
(MasterSession, ``link_confirmed=True``) must repeat an unacknowledged
CONFIRMED_USER_DATA with the same FCB (IEEE 1815-2012 9.2.6.2) — which the
outstation's secondary station takes as a repeat and acknowledges again
without delivering it twice (9.2.6.3.3) — and, when no ACK ever comes, end
the task with a FailureCause.LINK result within its retries, never hang.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from wireproof.codecs import NEED_DATA
from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.constants import PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.codecs.dnp3.session import OutstationSession
from wireproof.harness.simulators.dnp3_master import MasterSession
from wireproof.harness.simulators.dnp3_outstation import load_config

LINK_TIMEOUT = 0.3
P, S = PrimaryFunction, SecondaryFunction
Withhold = Callable[[int], bool]  # the n-th ACK (from 0) -> whether to drop it
Lose = Callable[[LinkFrame], bool]  # a frame from the master -> whether the outstation never hears it


class Outstation:
    """What the withholding outstation saw and did (read after the master is done)."""

    def __init__(self) -> None:
        self.received: list[LinkFrame] = []
        self.acks_dropped = 0
        self.sent: list[LinkFrame] = []  # the frames the outstation wrote


@contextmanager
def withholding_outstation(withhold: Withhold, lose: Lose = lambda frame: False) -> Iterator[tuple[str,
                                                                                                  Outstation]]:
    settings = load_config(text="[points.binary]\nvalues = [true, false]\n[points.analog]\nvalues = [7]\n")
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    seen = Outstation()

    def serve() -> None:
        server.settimeout(5.0)
        try:
            conn, _ = server.accept()
        except OSError:
            return
        session = OutstationSession(settings.database(), settings.outstation, now=time.monotonic())
        framer = LinkFramer()
        acks = 0
        with conn:
            conn.settimeout(0.02)
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    data = b""
                except OSError:
                    return
                framer.feed(data)
                replies = session.tick(time.monotonic()).replies
                while (raw := framer.next_frame()) is not NEED_DATA:
                    frame = decode_link(bytes(raw))
                    seen.received.append(frame)
                    if not lose(frame):
                        replies += session.receive_data(bytes(raw)).replies
                for reply in replies:
                    frame = decode_link(reply)
                    if not frame.prm and frame.function == S.ACK:
                        acks += 1
                        if withhold(acks - 1):
                            seen.acks_dropped += 1
                            continue
                    seen.sent.append(frame)
                    try:
                        conn.sendall(reply)
                    except OSError:
                        return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}", seen
    finally:
        stop.set()
        server.close()
        thread.join(5.0)
        assert not thread.is_alive()


def master(url: str, retries: int = 2) -> MasterSession:
    config = M.MasterConfig(response_timeout=2.0, disable_unsolicited_at_startup=False)
    return MasterSession(url, config=config, link_confirmed=True, link_timeout=LINK_TIMEOUT,
                         link_retries=retries)


def test_a_withheld_ack_gives_a_retry_with_the_same_fcb() -> None:
    # ACK 0 answers the reset; ACK 1 the first CONFIRMED_USER_DATA: withhold that one.
    with withholding_outstation(lambda n: n == 1) as (url, seen), master(url) as session:
        result = session.integrity_poll(timeout=10.0)
        assert result.ok, result
        assert session.values("binary") == {0: True, 1: False} and session.values("analog") == {0: 7}
        assert session.integrity_poll(timeout=10.0).ok
    data = [f for f in seen.received if f.prm and f.function == P.CONFIRMED_USER_DATA]
    assert seen.acks_dropped == 1
    # The first request twice (the retry: same FCB, same octets), then the next ones alternating.
    assert data[0] == data[1] and data[0].fcb is True
    assert [f.fcb for f in data[1:]] == [k % 2 == 0 for k in range(len(data) - 1)]
    assert len([f for f in seen.received if f.prm and f.function == P.RESET_LINK_STATES]) == 1
    # The outstation's secondary took the retry as a repeat: one response per distinct request.
    responses = [f for f in seen.sent if f.prm]
    assert len(responses) == len(data) - 1


def test_acks_never_come_the_task_fails_with_a_link_cause() -> None:
    retries = 2
    # The reset is acknowledged; every CONFIRMED_USER_DATA is lost on the way (no ACK, no response).
    lose = lambda frame: frame.function == P.CONFIRMED_USER_DATA and frame.prm  # noqa: E731
    with withholding_outstation(lambda n: False, lose) as (url, seen), master(url, retries) as session:
        began = time.monotonic()
        result = session.integrity_poll(timeout=10.0)
        elapsed = time.monotonic() - began
    assert not result.ok and result.cause is M.FailureCause.LINK, result
    assert "no answer to CONFIRMED_USER_DATA after 2 retries" in result.reason
    # 1 + retries attempts, one link response timeout each; well before the harness timeout
    assert LINK_TIMEOUT * (retries + 1) * 0.9 <= elapsed < LINK_TIMEOUT * (retries + 1) + 2.0
    data = [f for f in seen.received if f.prm and f.function == P.CONFIRMED_USER_DATA]
    assert len(data) == retries + 1 and len(set(data)) == 1  # the same frame, the same FCB, each time


def test_no_ack_to_the_reset_fails_the_task_and_the_master_goes_on() -> None:
    with withholding_outstation(lambda n: True) as (url, seen), master(url, retries=1) as session:
        first = session.integrity_poll(timeout=10.0)
        second = session.class_poll(1, timeout=10.0)
    assert first.cause is M.FailureCause.LINK and second.cause is M.FailureCause.LINK
    assert "RESET_LINK_STATES" in first.reason
    resets = [f for f in seen.received if f.prm and f.function == P.RESET_LINK_STATES]
    assert len(resets) == 4
    assert not [f for f in seen.received if f.function == P.CONFIRMED_USER_DATA and f.prm]
