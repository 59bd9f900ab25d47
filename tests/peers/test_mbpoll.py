"""mbpoll (libmodbus's command-line master, Debian package ``mbpoll``) against
wireproof's reference server: reads of every table and writes, values parsed
from mbpoll's output and checked against the server's data model.

mbpoll numbers references from 1 by default; the tests pass ``-0`` so that a
reference is the PDU address (MB-AP 4.4). Default data model: coils[a] = a
odd, discrete_inputs[a] = a % 3 == 0, holding_registers[a] = a,
input_registers[a] = 0x8000 + a.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.peer

MBPOLL = shutil.which("mbpoll")
_VALUE = re.compile(r"^\[(\d+)\]:\s+(0x[0-9A-Fa-f]+|-?\d+)", re.MULTILINE)


def mbpoll(server: Any, *options: str, write: tuple[str, ...] = ()) -> str:
    """Run mbpoll once (``-1``) against ``server``; its stdout (asserts a zero exit)."""
    if MBPOLL is None:
        pytest.skip("mbpoll not installed (Debian package mbpoll)")
    cmd = [MBPOLL, "-m", "tcp", "-a", "1", "-0", "-1", "-o", "2", "-p", str(server.port), *options,
           server.host, *write]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=15, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def values(out: str) -> dict[int, int]:
    """``[ref]: value`` lines of mbpoll's output as {ref: value}."""
    return {int(ref): int(val, 0) for ref, val in _VALUE.findall(out)}


def test_read_holding_registers(reference_server: Any) -> None:
    assert values(mbpoll(reference_server, "-t", "4", "-r", "100", "-c", "5")) == \
        {a: a for a in range(100, 105)}


def test_read_holding_registers_hex(reference_server: Any) -> None:
    assert values(mbpoll(reference_server, "-t", "4:hex", "-r", "0", "-c", "3")) == {0: 0, 1: 1, 2: 2}


def test_read_input_registers(reference_server: Any) -> None:
    assert values(mbpoll(reference_server, "-t", "3:hex", "-r", "7", "-c", "3")) == \
        {a: 0x8000 + a for a in range(7, 10)}


def test_read_coils(reference_server: Any) -> None:
    assert values(mbpoll(reference_server, "-t", "0", "-r", "0", "-c", "10")) == \
        {a: a % 2 for a in range(10)}


def test_read_discrete_inputs(reference_server: Any) -> None:
    assert values(mbpoll(reference_server, "-t", "1", "-r", "0", "-c", "10")) == \
        {a: int(a % 3 == 0) for a in range(10)}


def test_write_registers(reference_server: Any) -> None:
    unit = reference_server.server.datamodel.unit(1)
    out = mbpoll(reference_server, "-t", "4", "-r", "20", write=("7", "8", "65535"))
    assert "Written 3 references" in out
    assert unit.holding_registers.read(20, 3) == [7, 8, 0xFFFF]
    mbpoll(reference_server, "-t", "4", "-r", "30", write=("4660",))  # one value: FC 06
    assert unit.holding_registers.read(30, 1) == [0x1234]
    assert values(mbpoll(reference_server, "-t", "4", "-r", "20", "-c", "3")) == {20: 7, 21: 8, 22: 65535}


def test_write_coils(reference_server: Any) -> None:
    unit = reference_server.server.datamodel.unit(1)
    mbpoll(reference_server, "-t", "0", "-r", "2", write=("1",))  # one value: FC 05
    assert unit.coils.read(2, 1) == [True]
    mbpoll(reference_server, "-t", "0", "-r", "40", write=("1", "1", "0", "1", "0"))  # FC 15
    assert unit.coils.read(40, 5) == [True, True, False, True, False]


def test_exception_is_reported(reference_server: Any) -> None:
    """A read past the end of the holding registers (2000 of them): 02 ILLEGAL DATA ADDRESS."""
    if MBPOLL is None:
        pytest.skip("mbpoll not installed (Debian package mbpoll)")
    proc = subprocess.run([MBPOLL, "-m", "tcp", "-a", "1", "-0", "-1", "-o", "2", "-p",
                           str(reference_server.port), "-t", "4", "-r", "1995", "-c", "10",
                           reference_server.host], capture_output=True, text=True, timeout=15, check=False)
    assert "Illegal data address" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


# --- RTU over a pseudo-terminal -----------------------------------------------------------


@pytest.fixture
def rtu_server_on_pty() -> Iterator[tuple[str, Any]]:
    """The reference server's RTU machine on a pty's master side; yields (slave path, server).

    mbpoll opens the slave device as a serial port; a pty carries bytes, not a
    line, so baud rate and parity are only recorded. A receive time-out marks
    the end of a frame (MB-SL 2.5.1.1's t3.5 silence) for the connection.
    """
    from wireproof.errors import TransportTimeout
    from wireproof.harness.simulators.modbus_server import load_server
    from wireproof.harness.transports import pty_pair

    server = load_server(framing="rtu")
    conn = server.connection()
    stop = threading.Event()
    with pty_pair(timeout=2.0) as pair:

        def serve() -> None:
            while not stop.is_set():
                try:
                    data = pair.master.recv(timeout=0.05)
                except TransportTimeout:
                    conn.line_idle()
                    continue
                if not data:
                    return
                for reply in conn.receive_data(data).replies:
                    pair.master.send(reply)

        thread = threading.Thread(target=serve, name="rtu-pty-server", daemon=True)
        thread.start()
        try:
            yield pair.path, server
        finally:
            stop.set()
            thread.join(5)


def mbpoll_rtu(path: str, *options: str, write: tuple[str, ...] = ()) -> str:
    if MBPOLL is None:
        pytest.skip("mbpoll not installed (Debian package mbpoll)")
    cmd = [MBPOLL, "-m", "rtu", "-b", "19200", "-P", "even", "-a", "1", "-0", "-1", "-o", "2", *options,
           path, *write]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=15, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_rtu_over_pty(rtu_server_on_pty: tuple[str, Any]) -> None:
    path, server = rtu_server_on_pty
    assert values(mbpoll_rtu(path, "-t", "4", "-r", "100", "-c", "4")) == {a: a for a in range(100, 104)}
    assert values(mbpoll_rtu(path, "-t", "1", "-r", "0", "-c", "6")) == {a: int(a % 3 == 0) for a in range(6)}
    mbpoll_rtu(path, "-t", "4", "-r", "20", write=("7", "8"))
    assert server.datamodel.unit(1).holding_registers.read(20, 2) == [7, 8]
