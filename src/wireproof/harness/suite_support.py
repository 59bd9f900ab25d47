"""What a suite's clauses need from the outside world, through the harness: time and a device-side command.

Suite modules do no I/O of their own (tests/test_layering.py: no ``time``,
``subprocess``, files); the few things a protocol-neutral clause needs from
outside the conversation with the device live here:

- :class:`Deadline`: "until N seconds from now", on the monotonic clock, for
  a clause that listens for a while (how long to wait for an answer, how
  long silence must last);
- :func:`wall_clock_ms`: the wall clock in milliseconds since the Unix epoch
  (a clause that writes the time to a device);
- :func:`run_command`: a shell command a suite parameter names, run to make
  the device do something the suite cannot ask for over the wire (a point
  change, say): its failure or timeout is a :class:`~wireproof.errors.HarnessError`
  (verdict ``error``: the set-up, not the device, broke).
"""

from __future__ import annotations

import subprocess
import time

from wireproof.errors import HarnessError

__all__ = ["Deadline", "run_command", "wall_clock_ms"]


class Deadline:
    """A point ``seconds`` from now on the monotonic clock."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left (0 once passed)."""
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at


def wall_clock_ms() -> int:
    """Milliseconds since 1970-01-01 UTC, now."""
    return int(time.time() * 1000)


def run_command(command: str, *, timeout: float, what: str = "command") -> None:
    """Run ``command`` through the shell; :class:`HarnessError` if it fails or outlasts ``timeout`` s."""
    try:
        done = subprocess.run(command, shell=True, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{what} {command!r} did not finish within {timeout:g} s") from None
    except OSError as err:
        raise HarnessError(f"{what} {command!r} could not run: {err.strerror or err}") from None
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip()[-500:]
        raise HarnessError(f"{what} {command!r} exited {done.returncode}" + (f": {tail}" if tail else ""))
