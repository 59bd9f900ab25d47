"""wireproof's IEC 104 reference stations against c104 (lib60870-C), both ways, on loopback.

- c104's client (tests/peers/c104_interop_client.py, a process of its own) against the reference
  server: STARTDT, station interrogation, the built-in points' values, a select-before-operate
  command and its return information (cause 11), clock synchronisation, counter interrogation;
- ``wireproof simulate iec104-client`` (a subprocess) against a c104 server with the same points:
  every exchange confirmed, the values c104 serves read back.
"""

# (no `from __future__ import annotations`: c104 checks its callbacks' annotations as objects)

import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

c104 = pytest.importorskip("c104", reason="c104 (the peers extra) is not installed")

pytestmark = pytest.mark.peer


def test_c104_client_against_the_reference_server() -> None:
    from pathlib import Path

    from wireproof.harness.simulators.iec104_server import running_server

    script = Path(__file__).with_name("c104_interop_client.py")
    with running_server() as server:
        proc = subprocess.run([sys.executable, str(script), "--host", server.host, "--port",
                               str(server.port)], capture_output=True, text=True, timeout=60)
        lines = list(server.device.lines)
    result = json.loads(proc.stdout)
    result.pop("needed_unmute")  # c104's own start-up race (tests/peers/c104_interop_client.py)
    assert result == {"opened": True, "interrogation": True,
                      "values": {"1001": False, "3202": 230.5, "3101": 1234}, "command": True,
                      "return_information": True, "clock_sync": True,
                      "counter_interrogation": True}, proc.stderr
    assert "command 5001: selected True" in lines and "command 5001: executed True" in lines
    assert not any(line.startswith("closing") for line in lines), lines


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def c104_server() -> Iterator[int]:
    port = _free_port()
    server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=50)
    station = server.add_station(common_address=1)
    single = station.add_point(io_address=1001, type=c104.Type.M_SP_NA_1)
    single.value = True
    measured = station.add_point(io_address=3201, type=c104.Type.M_ME_NC_1)
    measured.value = 49.75
    station.add_point(io_address=4001, type=c104.Type.M_IT_NA_1)
    station.add_point(io_address=5001, type=c104.Type.C_SC_NA_1, related_io_address=1001,
                      command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
    station.add_point(io_address=6001, type=c104.Type.C_SE_NC_1, related_io_address=3201)
    server.start()
    try:
        yield port
    finally:
        server.stop()


def test_the_reference_client_against_a_c104_server(c104_server: int) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "simulate", "iec104-client", "--target",
         f"tcp://127.0.0.1:{c104_server}", "--clock-sync", "--counter-interrogate",
         "--command", "C_SC_NA_1:5001:1:select", "--command", "C_SE_NC_1:6001:12.5", "--json",
         "--timeout", "2"],  # c104 sends no ACT_TERM after a direct execute: wait 2 s, not 10
        capture_output=True, text=True, timeout=60)
    doc = json.loads(proc.stdout)
    outcomes = {a["action"]: a["outcome"] for a in doc["actions"]}
    assert outcomes == {"interrogation": "confirmed", "counter interrogation": "confirmed",
                        "clock synchronisation": "confirmed", "select C_SC_NA_1 5001 = True": "confirmed",
                        "execute C_SC_NA_1 5001 = True": "confirmed",
                        "execute C_SE_NC_1 6001 = 12.5": "confirmed"}, doc
    assert doc["points"]["1/3201"]["elements"]["value"] in (49.75, 12.5)
    assert doc["points"]["1/1001"]["type"] == "M_SP_NA_1"
    assert proc.returncode == 0, (doc["errors"], proc.stderr)
