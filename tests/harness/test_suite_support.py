"""wireproof.harness.suite_support: the deadline, the wall clock and the command a suite parameter names."""

from __future__ import annotations

import sys

import pytest

from wireproof.errors import HarnessError
from wireproof.harness.suite_support import Deadline, run_command, wall_clock_ms


def test_deadline() -> None:
    assert Deadline(0).expired and Deadline(0).remaining() == 0.0
    later = Deadline(60)
    assert not later.expired and 59 < later.remaining() <= 60


def test_wall_clock_ms() -> None:
    assert wall_clock_ms() > 1_700_000_000_000


def test_run_command_ok_and_failures() -> None:
    run_command(f"{sys.executable} -c pass", timeout=30)
    with pytest.raises(HarnessError, match=r"trigger .* exited 3: boom"):
        run_command(f"{sys.executable} -c \"import sys; sys.stderr.write('boom'); sys.exit(3)\"", timeout=30,
                    what="trigger")
    with pytest.raises(HarnessError, match=r"did not finish within 0\.2 s"):
        run_command(f"{sys.executable} -c \"import time; time.sleep(5)\"", timeout=0.2)
