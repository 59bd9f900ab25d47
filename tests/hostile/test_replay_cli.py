"""``wireproof replay`` under faults (issue 9): bad option values, a killed analytics process, Ctrl-C."""

from __future__ import annotations

import json
import multiprocessing
import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from wireproof.harness.bench.modbus_traffic import write_modbus_capture
from wireproof.harness.cli import main
from wireproof.harness.exitcodes import FAIL, INTERRUPTED, OK, USAGE
from wireproof.harness.replay import analytics_process
from wireproof.harness.replay import run as replay_run
from wireproof.harness.replay.run import replay

DEADLINE = 60.0  # seconds any wait below may take before the test fails


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_modbus_capture(tmp_path_factory.mktemp("cap") / "modbus.pcap", 20_000).path


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e999", "soon"])
@pytest.mark.parametrize("send", [False, True], ids=["replay", "send"])
def test_timeout_must_be_finite_and_positive(capture: Path, value: str, send: bool,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Before: nan, inf and negative timeouts were taken (nan hides every late answer)."""
    argv = ["replay", str(capture), f"--timeout={value}"] + (["--send", "tcp://127.0.0.1:9"] if send else [])
    assert main(argv) == USAGE
    assert "--timeout" in capsys.readouterr().err


def test_plugin_timeout_must_be_finite(pytester: pytest.Pytester, capture: Path) -> None:
    result = pytester.runpytest("--wireproof-replay", str(capture), "--wireproof-replay-timeout=nan")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--wireproof-replay-timeout nan*finite*"])


class _Killed(analytics_process.AnalyticsProcess):
    """Its child is killed (SIGKILL) as soon as the first batch of frames is fed."""

    started: ClassVar[list[_Killed]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Killed.started.append(self)

    def frame_batch(self, *args: Any) -> None:
        if self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            self.process.join(DEADLINE)
            assert self.process.exitcode == -signal.SIGKILL
        super().frame_batch(*args)


@pytest.fixture
def killed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[_Killed]]:
    _Killed.started = []
    monkeypatch.setattr(analytics_process, "AnalyticsProcess", _Killed)
    monkeypatch.setattr(replay_run, "ANALYTICS_PROCESS_BYTES", 0)
    monkeypatch.setattr(replay_run, "_cores", lambda: 2)
    yield _Killed.started
    assert not multiprocessing.active_children()


def test_killed_analytics_process_the_replay_finishes_without_them(
        capture: Path, killed: list[_Killed], capsys: pytest.CaptureFixture[str]) -> None:
    """Before: a HarnessError traceback (exit 1, as if the capture had failed)."""
    code = main(["replay", str(capture), "--json"])
    out, err = capsys.readouterr()
    assert len(killed) == 1
    doc = json.loads(out)
    assert code == (FAIL if doc["findings_by_severity"]["error"] else OK)  # the capture's verdict, as ever
    assert doc["analytics"] is None and doc["frames"] == 20_000
    assert "killed by signal 9" in doc["stats"]["analytics_failed"]
    (line,) = err.splitlines()
    assert line.startswith("wireproof replay: warning: the analytics process") and "without analytics" in line


def test_killed_analytics_process_in_the_library(capture: Path, killed: list[_Killed]) -> None:
    result = replay(capture)
    assert result.analytics is None and "analytics_failed" in result.stats and result.frames == 20_000


def _children(pid: int) -> list[int]:
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children += [int(c) for c in text]
    return children


@pytest.mark.skipif(not sys.platform.startswith("linux") or not hasattr(os, "pidfd_open"),
                    reason="needs /proc and pidfd_open (Linux)")
def test_ctrl_c_during_replay_is_one_line_and_leaves_no_process(tmp_path: Path) -> None:
    """SIGINT to the process group (as a terminal sends it) while the analytics child runs."""
    big = write_modbus_capture(tmp_path / "big.pcap", 400_000).path
    script = ("import sys; from wireproof.harness.replay import run\n"
              "run.ANALYTICS_PROCESS_BYTES = 0; run._cores = lambda: 2\n"
              "from wireproof.harness.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, "replay", str(big), "--progress"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    assert proc.stderr is not None
    err = b""
    try:
        # Wait for the event "frames are flowing" (the first progress report), not for a time.
        while b"frames" not in err:
            ready, _, _ = select.select([proc.stderr], [], [], DEADLINE)
            assert ready, "no progress report"
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, f"replay ended before it was interrupted: {err!r}"
            err += chunk
        children = _children(proc.pid)
        assert children, "the analytics process did not start"
        pidfds = [os.pidfd_open(c) for c in children]
        os.killpg(proc.pid, signal.SIGINT)
        _, rest = proc.communicate(timeout=DEADLINE)
        err += rest
        for fd in pidfds:  # readable when that process has exited
            ready, _, _ = select.select([fd], [], [], DEADLINE)
            assert ready, "the analytics process lingers after Ctrl-C"
            os.close(fd)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == INTERRUPTED
    text = err.decode()
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    lines = [line for line in text.replace("\r", "\n").splitlines() if line and not line.startswith("[")]
    assert lines == ["wireproof replay: interrupted"]
