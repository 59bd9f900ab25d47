"""The IEC 104 reference client against the reference server: every exchange, over real sockets."""

from __future__ import annotations

import json
import subprocess
import sys

from wireproof.harness.simulators.iec104_server import running_server


def client(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "wireproof", "simulate", "iec104-client", "--target", url,
                           *args], capture_output=True, text=True, timeout=60)


def test_every_exchange_is_confirmed_and_the_values_arrive() -> None:
    with running_server() as server:
        proc = client(server.url, "--clock-sync", "--counter-interrogate", "--read", "3101", "--test",
                      "--command", "C_SC_NA_1:5001:1:select", "--command", "C_DC_NA_1:5002:on",
                      "--command", "C_SE_NC_1:6001:49.5", "--json")
        values = {a: p.value for a, p in server.database.points.items()}
        lines = list(server.device.lines)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 0, (doc["errors"], proc.stderr)
    assert [(a["action"], a["outcome"]) for a in doc["actions"]] == [
        ("interrogation", "confirmed"), ("counter interrogation", "confirmed"),
        ("clock synchronisation", "confirmed"), ("read 3101", "confirmed"), ("test command", "confirmed"),
        ("select C_SC_NA_1 5001 = True", "confirmed"), ("execute C_SC_NA_1 5001 = True", "confirmed"),
        ("execute C_DC_NA_1 5002 = 2", "confirmed"), ("execute C_SE_NC_1 6001 = 49.5", "confirmed")]
    assert doc["actions"][0]["objects"] == 11 and doc["end_of_initialisation"] == 1
    # the commands changed their feedback points, and the client saw it (cause 11)
    assert (values[1001], values[2001], values[3201]) == (True, 2, 49.5)
    assert doc["points"]["1/1001"] == {"type": "M_SP_NA_1", "cause": 11,
                                       "elements": {"value": True, "quality": 0}}
    assert doc["points"]["1/4001"]["cause"] == 37
    assert "STARTDT" in lines and not any(line.startswith("closing") for line in lines)


def test_an_execute_without_select_is_refused_and_the_exit_says_so() -> None:
    with running_server() as server:
        proc = client(server.url, "--no-interrogate", "--command", "C_SC_NA_1:5001:1", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert doc["actions"] == [{"action": "execute C_SC_NA_1 5001 = True", "outcome": "refused",
                               "detail": "negative confirmation, cause 7 (ACTIVATION_CON)", "objects": 0,
                               "terminated": False}]


def test_an_unknown_point_is_refused_with_cause_47() -> None:
    with running_server() as server:
        proc = client(server.url, "--no-interrogate", "--read", "999", "--json")
    doc = json.loads(proc.stdout)
    assert proc.returncode == 1 and "cause 47 (UNKNOWN_IOA)" in doc["actions"][0]["detail"]


def test_an_unreachable_station_exits_2() -> None:
    with running_server() as server:
        url = server.url
    proc = client(url, "--connect-timeout", "2")
    assert proc.returncode == 2 and "cannot reach" in proc.stderr


def test_bad_arguments_are_refused_before_connecting() -> None:
    proc = client("tcp://127.0.0.1:1", "--command", "C_XX:1:1")
    assert proc.returncode == 1 and "is not a command type" in proc.stderr
