"""Records the IEC 104 peer sessions in src/wireproof/fixtures/iec104/captures (pcapng + a TOML sidecar).

Two sessions on loopback, captured by tshark on ``lo``:

- ``c104-client_wireproof-server``: c104's client (tests/peers/c104_interop_client.py: STARTDT,
  interrogation, clock sync, select-before-operate with return information, counter interrogation)
  against ``wireproof simulate iec104-server``;
- ``wireproof-client_c104-server``: ``wireproof simulate iec104-client`` (interrogation, counter
  interrogation, clock sync, a select/execute and a direct command) against a c104 server
  (tests/peers/c104_server_suite.py).

Run: python tools/record_iec104_captures.py (needs tshark with capture rights on lo, and c104).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "wireproof" / "fixtures" / "iec104" / "captures"
PY = sys.executable


def _start(command: list[str]) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on"):
        raise SystemExit(f"{command}: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def _tshark(port: int, path: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["tshark", "-i", "lo", "-f", f"tcp port {port}", "-w", str(path)],
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if "Capturing on" in line:
            time.sleep(1.0)  # (a tool, not a test) dumpcap's filter is live a moment after it says so
            return proc
    raise SystemExit("tshark did not start")


def _stop(proc: subprocess.Popen[str]) -> None:
    time.sleep(1.0)  # let the last segments reach the file
    proc.terminate()
    proc.wait(10)


def _count(path: Path, port: int) -> int:
    out = subprocess.run(["tshark", "-r", str(path), "-d", f"tcp.port=={port},iec60870_104", "-T", "fields",
                          "-e", "iec60870_104.type"],
                         capture_output=True, text=True, check=True).stdout
    return sum(len([v for v in line.split(",") if v]) for line in out.splitlines())


def record(name: str, description: str, server: list[str], client: list[str]) -> None:
    pcap = OUT / f"{name}.pcapng"
    srv, port = _start(server)
    shark = _tshark(port, pcap)
    try:
        done = subprocess.run([c.replace("PORT", str(port)) for c in client], capture_output=True, text=True,
                              timeout=120)
    finally:
        _stop(shark)
        if srv.stdin is not None:
            srv.stdin.write("quit\n")
            srv.stdin.close()
        srv.wait(20)
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    sha = hashlib.sha256(pcap.read_bytes()).hexdigest()
    (OUT / f"{name}.toml").write_text(
        f"# Sidecar of {name}.pcapng: a recorded IEC 104 peer session. Regenerate with "
        f"tools/record_iec104_captures.py.\n"
        f'capture = "{name}.pcapng"\n'
        f'description = "{description}"\n'
        f"server_port = {port}\n"
        f'client_exit = {done.returncode}\n'
        f'recorded_with = "tshark -i lo -f \'tcp port PORT\' -w FILE"\n'
        f'date = "{dt.date.today().isoformat()}"\n'
        f'sha256 = "{sha}"\n'
        f'tshark_version = "{version}"\n'
        f'tshark_decode_as = "tcp.port=={port},iec60870_104"\n'
        f"tshark_apdus = {_count(pcap, port)}\n", encoding="utf-8")
    print(name, done.returncode, _count(pcap, port))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    record("c104-client_wireproof-server",
           "c104 2.2.1's client against the wireproof reference server: STARTDT, station interrogation "
           "(broadcast common address), clock sync, select and execute C_SC_NA_1 5001 with its return "
           "information, clock sync, counter interrogation, then c104 closes.",
           [PY, "-m", "wireproof", "simulate", "iec104-server", "--bind", "127.0.0.1:0"],
           [PY, str(ROOT / "tests" / "peers" / "c104_interop_client.py"), "--port", "PORT"])
    record("wireproof-client_c104-server",
           "the wireproof reference client against a c104 2.2.1 server: STARTDT, station interrogation, "
           "counter interrogation, clock sync, select and execute C_SC_NA_1 5001, direct C_SE_NC_1 6001 "
           "(c104 sends no ACT_TERM after it: the client waits 2 s), STOPDT.",
           [PY, str(ROOT / "tests" / "peers" / "c104_server_suite.py")],
           [PY, "-m", "wireproof", "simulate", "iec104-client", "--target", "tcp://127.0.0.1:PORT",
            "--counter-interrogate", "--clock-sync", "--command", "C_SC_NA_1:5001:1:select",
            "--command", "C_SE_NC_1:6001:12.5", "--timeout", "2"])


if __name__ == "__main__":
    main()
