"""Serial transport over a raw pseudo-terminal pair (wireproof.harness.transports.serial)."""

from __future__ import annotations

import itertools
import os
import sys
import threading
from collections.abc import Iterator

import pytest

from wireproof.errors import TransportError, TransportTimeout
from wireproof.harness.transports import PtyPair, SerialTransport, open_transport, pty_pair

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminals: Linux only")

ALL_BYTES = bytes(range(256))  # raw mode: no echo, no CR/LF or control-character processing


@pytest.fixture
def pair() -> Iterator[PtyPair]:
    with pty_pair(timeout=5.0) as p:
        yield p


def test_slave_is_a_tty_device(pair: PtyPair) -> None:
    assert pair.path.startswith("/dev/")
    assert os.path.exists(pair.path)
    assert pair.slave_url().startswith(f"serial://{pair.path}?")


def test_round_trip_both_directions_through_pyserial(pair: PtyPair) -> None:
    with open_transport(pair.slave_url(baudrate=9600, parity="N", stopbits=2), timeout=5.0) as slave:
        assert isinstance(slave, SerialTransport)
        assert slave.port.baudrate == 9600
        pair.master.send(ALL_BYTES)
        assert slave.recv_exactly(256) == ALL_BYTES
        slave.send(ALL_BYTES[::-1])
        assert pair.master.recv_exactly(256) == ALL_BYTES[::-1]
        with pytest.raises(TransportTimeout):
            pair.master.recv(timeout=0)  # no echo of what the master sent


def test_recv_returns_what_is_buffered(pair: PtyPair) -> None:
    with pair.open_slave() as slave:
        pair.master.send(b"\x01\x03\x00\x00")
        pair.master.send(b"\x00\x01\x84\x0a")
        got = slave.recv_exactly(8)
        assert got == b"\x01\x03\x00\x00\x00\x01\x84\x0a"
        pair.master.send(b"abcdef")
        assert slave.recv_exactly(6) == b"abcdef"


def test_timeouts(pair: PtyPair) -> None:
    with pair.open_slave(timeout=5.0) as slave:
        with pytest.raises(TransportTimeout) as info:
            slave.recv(timeout=0.05)
        assert isinstance(info.value, TimeoutError)
        assert pair.path in str(info.value)
        with pytest.raises(TransportTimeout):
            pair.master.recv(timeout=0.05)


def test_tap_records_both_sides(pair: PtyPair) -> None:
    log: list[tuple[str, bytes]] = []
    pair.master.tap = lambda d, b: log.append(("master-" + d, b))
    with pair.open_slave(tap=lambda d, b: log.append(("slave-" + d, b))) as slave:
        pair.master.send(b"Q")
        assert slave.recv() == b"Q"
        slave.send(b"R")
        assert pair.master.recv() == b"R"
    assert log == [("master-sent", b"Q"), ("slave-received", b"Q"), ("slave-sent", b"R"),
                   ("master-received", b"R")]


def test_recv_timed_separates_bursts(pair: PtyPair) -> None:
    """Two frames with a gap between them arrive as two timestamped chunks."""
    with pair.open_slave() as slave:
        seen = threading.Event()
        slave.tap = lambda d, b: seen.set()

        def writer() -> None:
            pair.master.send(b"frame-one")
            if seen.wait(5.0):  # the gap: the second frame waits until the first arrived
                pair.master.send(b"frame-two")

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        chunks = slave.recv_timed(idle=0.2, timeout=5.0)
        thread.join(5.0)
        if b"".join(c for _, c in chunks) == b"frame-one":  # the writer was slower than the idle limit
            chunks += slave.recv_timed(idle=0.2, timeout=5.0)
        rest = chunks
    assert b"".join(c for _, c in rest) == b"frame-oneframe-two"
    assert rest[0][1] == b"frame-one"
    assert all(t1 <= t2 for (t1, _), (t2, _) in itertools.pairwise(rest))


def test_slave_closing_and_reopening_keeps_master_usable(pair: PtyPair) -> None:
    with pair.open_slave() as slave:
        slave.send(b"1")
    assert pair.master.recv_exactly(1) == b"1"
    with pair.open_slave() as slave:
        pair.master.send(b"2")
        assert slave.recv_exactly(1) == b"2"


def test_master_hangup_is_eof_after_the_pair_closes() -> None:
    pair = pty_pair(timeout=1.0)
    with pair:
        slave = pair.open_slave()
        slave.close()
    assert pair.master.closed
    with pytest.raises(TransportError):
        pair.master.recv()
    pair.close()  # idempotent


def test_port_configuration_errors_never_escape_as_termios_errors(pair: PtyPair) -> None:
    # Some kernels refuse parity on a pty; then the failure is a TransportError naming the fix.
    try:
        slave = open_transport(pair.slave_url(parity="E"))
    except TransportError as exc:
        assert "parity=N" in str(exc)
    else:
        slave.close()
