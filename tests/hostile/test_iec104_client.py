"""The reference IEC 104 client against hostile stations: it ends with a typed verdict, never a traceback."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.hostile

STARTDT_CON = bytes.fromhex("68040b000000")


def _station(reply: bytes) -> Iterator[int]:
    """A one-shot station: accepts, reads the STARTDT act, answers ``reply``, then holds the line."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    done = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(10)
            conn.recv(64)
            conn.sendall(reply)
            done.wait(15)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        done.set()
        server.close()


@pytest.mark.parametrize("reply", [
    b"\x00\x01\x02\x03garbage",  # not an APDU at all
    STARTDT_CON + bytes.fromhex("680e05000000" "64010700010000000014"),  # I frame N(S)=2, expected 0
    STARTDT_CON + b"\x68\xff" + b"\x00" * 10,  # a length beyond 253
    STARTDT_CON + bytes.fromhex("680401000a00"),  # S frame acknowledging frames never sent
], ids=["garbage", "sequence", "length", "ack-unsent"])
def test_the_client_reports_a_hostile_station(reply: bytes) -> None:
    for port in _station(reply):
        command = [sys.executable, "-m", "wireproof", "simulate", "iec104-client", "--target",
                   f"tcp://127.0.0.1:{port}", "--json", "--timeout", "3", "--t1", "3", "--t2", "2"]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1, proc.stderr
        assert "Traceback" not in proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["errors"], doc
