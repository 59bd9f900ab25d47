"""Start the DNP3 peer runners as subprocesses and drive a master session against an outstation.

Used by the fixtures in tests/peers/conftest.py and by
tools/record_dnp3_captures.py. Every wait is on a line from a pipe, through
a selector with a deadline, never a sleep: the outstation's first line is
``listening on HOST:PORT``; a master's ``{"step": "wait"}`` line is answered
by sending ``change`` to the outstation, waiting for its ``changed N`` line
and then releasing the master with a newline.
"""

from __future__ import annotations

import importlib.util
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
OUTSTATION = HERE / "dnp3_outstation.py"
MASTER = HERE / "dnp3_master.py"
MODULES = {"yadnp3": "opendnp3", "dnp3py": "dnp3"}
DISTRIBUTIONS = {"yadnp3": "yadnp3", "dnp3py": "dnp3py"}
START_TIMEOUT = 15.0
SESSION_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


def missing(impl: str) -> str | None:
    """Why the peer ``impl`` cannot run here (its package is not installed), or None."""
    if importlib.util.find_spec(MODULES[impl]) is None:
        return f"{DISTRIBUTIONS[impl]} is not installed (pip install 'wireproof[peers]')"
    return None


def version(impl: str) -> str:
    from importlib.metadata import version as dist_version

    return dist_version(DISTRIBUTIONS[impl])


class LineReader:
    """Lines of a pipe, read with os.read behind a selector: a buffered readline could swallow a
    second line the selector then never reports, so this keeps its own buffer."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.fd = stream.fileno()
        self.buffer = b""
        self.closed = False

    def line(self, timeout: float, what: str) -> str:
        """The next line within ``timeout`` seconds; TimeoutError or EOFError name ``what``."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.fd, selectors.EVENT_READ)
            while b"\n" not in self.buffer:
                if self.closed:
                    raise EOFError(f"stream closed while waiting for {what}")
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"no {what} within {timeout} s")
                chunk = os.read(self.fd, 65536)
                self.closed = not chunk
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    def rest(self) -> list[str]:
        """Every remaining line, to end of stream (call once the process has exited)."""
        while chunk := os.read(self.fd, 65536):
            self.buffer += chunk
        return [line for line in self.buffer.decode().splitlines() if line]


@dataclass
class Outstation:
    """A running dnp3_outstation.py: its port, and the lines it printed after the listening line."""

    impl: str
    process: subprocess.Popen[bytes]
    reader: LineReader
    port: int
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def change(self) -> str:
        """Apply the next scripted change; returns the ``changed N`` line."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"change\n")
        self.process.stdin.flush()
        while True:
            line = self.reader.line(START_TIMEOUT, "'changed' from the outstation")
            self.lines.append(line)
            if line.startswith("changed "):
                return line

    def stop(self) -> list[str]:
        """SIGTERM, wait, and return every line it printed (exit status checked: 0)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=STOP_TIMEOUT)
        self.lines.extend(self.reader.rest())
        assert self.process.stderr is not None
        err = self.process.stderr.read().decode(errors="replace")
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        if self.process.returncode != 0:
            raise RuntimeError(f"{self.impl} outstation exited {self.process.returncode}: {err[-2000:]}")
        return self.lines


def start_outstation(impl: str, *flags: str) -> Outstation:
    process = subprocess.Popen(
        [sys.executable, str(OUTSTATION), "--impl", impl, *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    reader = LineReader(process.stdout)
    try:
        line = reader.line(START_TIMEOUT, f"listening line from the {impl} outstation")
    except (TimeoutError, EOFError):
        process.kill()
        _, err = process.communicate(timeout=STOP_TIMEOUT)
        raise RuntimeError(
            f"{impl} outstation did not start: {err.decode(errors='replace')[-2000:]}"
        ) from None
    if not line.startswith("listening on "):
        process.kill()
        process.wait()
        raise RuntimeError(f"{impl} outstation printed {line!r} first")
    return Outstation(impl=impl, process=process, reader=reader, port=int(line.rsplit(":", 1)[1]))


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterRun:
    returncode: int
    records: list[dict[str, Any]]
    stderr: str

    def step(self, name: str) -> dict[str, Any]:
        return next(r for r in self.records if r.get("step") == name)


def run_master(impl: str, outstation: Outstation, script: str, *flags: str) -> MasterRun:
    """Run dnp3_master.py against ``outstation``; a ``wait`` step makes the outstation change."""
    process = subprocess.Popen(
        [sys.executable, str(MASTER), "--impl", impl, "--target", outstation.url, "--script", script, *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stdin is not None
    reader = LineReader(process.stdout)
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + SESSION_TIMEOUT
    try:
        while True:
            try:
                line = reader.line(max(0.0, deadline - time.monotonic()), f"{impl} master output")
            except EOFError:
                break
            record = json.loads(line)
            records.append(record)
            if record.get("step") == "wait":
                outstation.change()
                process.stdin.write(b"\n")
                process.stdin.flush()
        process.wait(timeout=STOP_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    return MasterRun(returncode=process.returncode, records=records, stderr=stderr)
