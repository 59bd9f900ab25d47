"""``wireproof bench modbus``: the JSON report's shape and every library's correctness check.

Speed is not asserted (it depends on the machine); what is asserted is that
the benchmark compares like with like: every library decoded and encoded
every frame correctly before it was timed, and a library that answers wrongly
is caught, reported and left out of the ratios.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from wireproof.harness.bench import SCHEMA, Case, Check, modbus
from wireproof.harness.cli import main

OPERATIONS = {"decode_request", "decode_response", "encode"}


@pytest.fixture(scope="module")
def quick_json() -> tuple[int, dict[str, Any]]:
    # One in-process run for the module (capsys is function-scoped, so capture by hand).
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["bench", "modbus", "--quick", "--json"])
    return code, json.loads(out.getvalue())


def test_quick_json_schema(quick_json: tuple[int, dict[str, Any]]) -> None:
    code, report = quick_json
    assert code == 0
    assert report["schema"] == SCHEMA == "wireproof.bench/1"
    assert report["suite"] == "modbus"
    assert set(report["operations"]) == OPERATIONS
    assert report["settings"]["quick"] is True
    assert report["frames"]["requests"] == report["frames"]["responses"] > 20
    assert set(report["libraries"]) == {"wireproof", "pymodbus", "scapy"}
    for row in report["results"]:
        assert set(row) == {"library", "operation", "frames_per_second", "median_frames_per_second",
                            "samples", "passes_per_sample"}
        assert row["frames_per_second"] >= row["median_frames_per_second"] > 0
    for row in report["ratios"]:
        assert row["operation"] in OPERATIONS and row["peer"] in {"pymodbus", "scapy"}
        assert row["goal"] == {"pymodbus": 1.5, "scapy": 10.0}[row["peer"]]
        assert isinstance(row["ratio"], float) and isinstance(row["met"], bool)


def test_every_available_library_passed_every_check(quick_json: tuple[int, dict[str, Any]]) -> None:
    _, report = quick_json
    available = {name for name, info in report["libraries"].items() if info["available"]}
    assert "wireproof" in available
    checked = {(c["library"], c["operation"]) for c in report["checks"]}
    assert checked == {(lib, op) for lib in available for op in OPERATIONS}
    failed = [c for c in report["checks"] if not c["ok"]]
    assert not failed, failed
    assert report["checks_ok"] is True
    timed = {(r["library"], r["operation"]) for r in report["results"]}
    assert timed == checked
    # wireproof has no known defect to excuse.
    assert all(not c["known_defects"] for c in report["checks"] if c["library"] == "wireproof")


def test_peers_are_present_in_the_test_environment(quick_json: tuple[int, dict[str, Any]]) -> None:
    # The test extra installs the peers; a benchmark that silently measured nothing would pass otherwise.
    pytest.importorskip("pymodbus", reason="pymodbus (extra 'peers') is not installed")
    pytest.importorskip("scapy", reason="scapy (extra 'scapy') is not installed")
    _, report = quick_json
    assert all(info["available"] for info in report["libraries"].values())
    assert len(report["ratios"]) == 6


def test_text_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "modbus", "--quick", "--seconds", "0.02"]) == 0
    out = capsys.readouterr().out
    assert "decode request" in out and "decode response" in out and "encode" in out
    assert "correctness checks passed" in out


def test_frame_set_is_what_wireproof_decodes() -> None:
    from wireproof import codecs

    fs = modbus.frame_set()
    codec: Any = codecs.get("modbus-tcp")
    assert [codec.decode_request(f) for f in fs.request_frames] == list(fs.requests)
    assert [codec.decode_response(f) for f in fs.response_frames] == list(fs.responses)
    kinds = {type(a.pdu).__name__ for a in fs.all_adus}
    assert {"ReadCoilsRequest", "ReadDiscreteInputsResponse", "ReadInputRegistersResponse",
            "WriteSingleCoilRequest", "WriteMultipleCoilsRequest", "WriteMultipleRegistersRequest",
            "ExceptionResponse"} <= kinds
    assert modbus.frame_set() == fs  # deterministic


def test_check_catches_a_wrong_answer_and_a_crash() -> None:
    wrong = modbus._check("x", "decode_request", 3, lambda i: (i, 0))
    assert not wrong.ok and "frame 1" in wrong.detail

    def boom(i: int) -> tuple[int, int]:
        raise RuntimeError("peer exploded")

    crashed = modbus._check("x", "encode", 2, boom)
    assert not crashed.ok and "RuntimeError: peer exploded" in crashed.detail
    excused = modbus._check("x", "encode", 2, lambda i: (i, 0), known=lambda i: "documented bug")
    assert excused.ok and excused.known_defects == ("frame 1: documented bug",)


def test_a_library_with_wrong_answers_is_reported_and_not_timed(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def broken(fs: modbus.FrameSet) -> tuple[list[Check], list[Case]]:
        # Fast and wrong: "decodes" every request to the first one.
        checks = [modbus._check("broken", "decode_request", len(fs.requests),
                                lambda i: (fs.requests[0], fs.requests[i]))]
        return checks, [Case(library="broken", operation="decode_request", run=lambda: None, frames=1)]

    monkeypatch.setitem(modbus.LIBRARIES, "broken", ("wireproof", broken))
    report = modbus.run(seconds=0.02, quick=True, libraries=("wireproof", "broken"))
    assert not report.checks_ok
    assert not any(t.library == "broken" for t in report.timings)
    assert main(["bench", "modbus", "--quick", "--seconds", "0.02"]) == 1
    assert "CORRECTNESS CHECK FAILED: broken decode_request: frame 1" in capsys.readouterr().out


def test_missing_peer_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    def absent(module: str) -> str:
        if module == "scapy":
            raise ImportError("No module named 'scapy'")
        return "1"

    monkeypatch.setattr(modbus, "_version", absent)
    report = modbus.run(seconds=0.02, quick=True, libraries=("wireproof", "scapy"))
    assert report.libraries["scapy"]["available"] is False
    assert report.checks_ok
    assert all(g.peer != "scapy" for g in report.goals)


def test_usage_errors() -> None:
    assert main(["bench", "nosuch"]) == 2
    assert main(["bench", "modbus", "--seconds", "0"]) == 2
