"""The ``iec104-client`` conformance suite, run end to end through ``wireproof certify``.

wireproof plays the controlled station; the client under test is started by the suite for each
clause: the built-in reference client (no --command), and c104's client (lib60870-C) through
tests/peers/c104_interop_client.py, its timers set short (t1 4 s, t2 2 s, t3 4 s, told to the suite
with --param) and kept connected (--stay) so the APCI clauses can be judged. Every verdict is pinned
with its reason.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.suites import suite

ALL = {f"IEC104-C-{n:03d}" for n in range(1, 22)}
SCRIPT = Path(__file__).resolve().parents[1] / "peers" / "c104_interop_client.py"


def certify(report: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    command = [sys.executable, "-m", "wireproof", "certify", "iec104-client", "--report", str(report), *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    path = report / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.returncode, json.loads(path.read_text()), proc.stdout + proc.stderr


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {case["clause"]: case["verdict"] for case in report["cases"]}


def test_clauses_cite_104_or_101() -> None:
    from wireproof.harness.suites import suite_path

    text = "".join(p.read_text() for p in Path(suite_path("iec104-client")).glob("test_*.py"))
    clauses = {c for c in ALL if f'clause="{c}"' in text}
    assert clauses == ALL
    assert text.count("cites=\"IEC 60870-5-10") == len(ALL)
    assert suite("iec104-client").device_role == "client"


@pytest.mark.suite_run
def test_reference_client(tmp_path: Path) -> None:
    code, report, out = certify(tmp_path)
    got = verdicts(report)
    assert set(got) == ALL
    # it runs one interrogation a session: the rule about a second one does not apply
    assert {c for c, v in got.items() if v != "pass"} == {"IEC104-C-015"}, out
    assert got["IEC104-C-015"] == "not_applicable"
    assert code == 0


# c104 2.2.1's client (lib60870-C), through the interop script: STARTDT (unmuted by hand when c104 leaves
# the connection muted), interrogation (Init.ALL's own, to the broadcast address, and the script's), clock
# sync, select and execute, clock sync, counter interrogation, then connected for --stay seconds.
C104_COMMAND = (f"{{python}} {SCRIPT} --host {{host}} --port {{port}} --timeout 2 --t1 4 --t2 2 --t3 4 "
                "--stay 30")
C104_NOT_APPLICABLE = {
    "IEC104-C-012",  # the script stops c104's client without STOPDT act: nothing to judge
}
# IEC104-C-015 (wait for ACT_TERM before another interrogation) depends on c104's timing: its
# interrogation() returns on ACT_CON, and whether the script's second interrogation goes out before the
# first one's (held back) ACT_TERM depends on when Init.ALL's completes; both verdicts have been seen.
C104_EITHER = {"IEC104-C-015"}
# The application clauses judge the requests of the client's whole session, taken to be over after 4 s
# without an APDU. The interop script's pace varies (c104 sometimes needs unmuting after 3 s; it waits up
# to --timeout for a return information the scripted station does not send): under a loaded CI machine a
# request may come after the session was judged over, and the clause says "not applicable" (seen once for
# C-017 and C-018). A pass or that: never a fail.
C104_PACED = {"IEC104-C-013", "IEC104-C-014", "IEC104-C-016", "IEC104-C-017", "IEC104-C-018", "IEC104-C-019"}


@pytest.mark.peer
@pytest.mark.suite_run
def test_c104_client(tmp_path: Path) -> None:
    pytest.importorskip("c104", reason="c104 (the peers extra) is not installed")
    _, report, out = certify(tmp_path, "--command", C104_COMMAND, "--param", "t1=4", "--param", "t2=2",
                             "--param", "t3=4")
    got = verdicts(report)
    assert set(got) == ALL
    assert {c for c, v in got.items() if v == "not_applicable"} >= C104_NOT_APPLICABLE, out
    assert {c for c, v in got.items() if v == "not_applicable"} <= C104_NOT_APPLICABLE | C104_PACED, out
    assert {c for c, v in got.items() if v not in ("pass", "not_applicable")} <= C104_EITHER, out
    assert got["IEC104-C-015"] in ("pass", "fail")
