"""The ``dnp3-outstation`` conformance suite, run end to end through ``wireproof certify``.

Each run is a subprocess (``python -m wireproof certify dnp3-outstation``), as
a user runs it. Targets:

(a) the built-in reference outstation (the default target; it is another
    helper's module, :mod:`wireproof.harness.simulators.dnp3_outstation`):
    every clause passes or is not applicable;
(b) a real opendnp3 outstation (yadnp3, tests/peers/dnp3_outstation.py) with
    unsolicited reporting and NEED_TIME: every clause's verdict is pinned,
    with the reason for each deviation;
(c) the dnp3py outstation, pinned the same way;
(d) the device profile: TOML and the DNP3 XML device profile read into the
    same profile; a bad profile is a usage error (exit 2) before any clause.

Events: the peers make a point change when ``change`` comes on their
standard input. The suite's ``event_trigger`` is a shell command; here it is
a one-line Python client of a small TCP control server in this test process
(:class:`ChangeServer`), which forwards ``change`` to the peer and answers
only once the peer said ``changed N``: the trigger returns after the change
is applied, with no sleep anywhere.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CERTIFY_TIMEOUT = 600
SUITE = "dnp3-outstation"


def certify(report: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "certify", SUITE, "--report", str(report), *args],
        capture_output=True, text=True, timeout=CERTIFY_TIMEOUT, check=False)
    path = report / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.returncode, json.loads(path.read_text()), proc.stdout + proc.stderr


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {case["clause"]: case["verdict"] for case in report["cases"]}


class ChangeServer:
    """A TCP control port on 127.0.0.1: each connection's ``change`` line makes the peer change; the answer
    (``changed N``) is written back once the peer applied it."""

    def __init__(self, outstation: Any) -> None:
        self.outstation = outstation
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.lock = threading.Lock()
        self.count = 0

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                if stream.readline().strip() == b"change":
                    with self.lock:
                        line = self.outstation.change()
                        self.count += 1
                    stream.write(line.encode() + b"\n")
                    stream.flush()

    @property
    def command(self) -> str:
        code = (f"import socket; s = socket.create_connection(('127.0.0.1', {self.port})); "
                "s.sendall(b'change\\n'); assert s.makefile().readline().startswith('changed')")
        return f"{shlex.quote(sys.executable)} -c {shlex.quote(code)}"

    def __enter__(self) -> ChangeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@contextlib.contextmanager
def peer(dnp3_outstation: Any, impl: str, *flags: str) -> Iterator[tuple[Any, ChangeServer]]:
    outstation = dnp3_outstation(impl, *flags)
    with ChangeServer(outstation) as server:
        yield outstation, server


# --------------------------------------------------------------------------- (b) yadnp3 (opendnp3)

YADNP3_PROFILE = """
[device]
name = "opendnp3 outstation (yadnp3), tests/peers/dnp3_outstation.py --unsolicited --need-time"
outstation_address = 10
master_address = 1
response_timeout = 2.0
select_timeout = 10.0     # opendnp3 OutstationParams.selectTimeout default
confirm_timeout = 5.0     # opendnp3 unsolConfirmTimeout default
need_time = true
unsolicited = true
event_buffer_size = 100   # dnp3_points.EVENT_BUFFER, per type
function_codes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 23]

[points]                  # DatabaseConfig(4): four of every type
binary_inputs = 4
double_bit_inputs = 4
analog_inputs = 4
counters = 4
binary_outputs = 4
analog_outputs = 4

[events]                  # the runner's `change`: binary 0, double-bit 0, analog 0, counter 0
binary = true
double_bit = true
analog = true
counter = true
"""
