"""``wireproof bench dnp3``: the JSON report's shape, every library's correctness check, the replay.

Speed is not asserted (it depends on the machine); what is asserted is that
the benchmark compares like with like: every library decoded every frame as
the Construct oracle did before it was timed, and a library that answers
wrongly is caught, reported and left out of the ratios.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wireproof.codecs.dnp3 import link_codec
from wireproof.harness.bench import SCHEMA, Case, Check
from wireproof.harness.bench import dnp3 as bench
from wireproof.harness.cli import main


@pytest.fixture(scope="module")
def quick_json() -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["bench", "dnp3", "--quick", "--json", "--no-replay"])
    return code, json.loads(out.getvalue())


def test_quick_json_schema(quick_json: tuple[int, dict[str, Any]]) -> None:
    code, report = quick_json
    assert code == 0
    assert report["schema"] == SCHEMA and report["suite"] == "dnp3"
    assert report["operations"] == ["decode"]
    assert report["frames"]["frames"] > 200 and report["frames"]["sources"]["captures"] > 100
    assert set(report["libraries"]) == {"wireproof", "dnp3py", "scapy", "construct"}
    for row in report["ratios"]:
        assert row["peer"] in {"dnp3py", "scapy", "construct"}
        assert row["goal"] == {"dnp3py": 10.0, "scapy": 1.0, "construct": 1.0}[row["peer"]]
        assert isinstance(row["ratio"], float) and isinstance(row["met"], bool)
    assert "replay" not in report.get("extra", {})


def test_every_library_passed_every_check(quick_json: tuple[int, dict[str, Any]]) -> None:
    pytest.importorskip("dnp3", reason="dnp3py (extra 'peers') is not installed")
    pytest.importorskip("scapy", reason="scapy (extra 'scapy') is not installed")
    _, report = quick_json
    assert all(info["available"] for info in report["libraries"].values())
    assert report["checks_ok"] is True, [c for c in report["checks"] if not c["ok"]]
    assert {r["library"] for r in report["results"]} == {"wireproof", "dnp3py", "scapy", "construct"}
    # wireproof, Scapy and the oracle have nothing to excuse; dnp3py's gaps are its library's.
    for c in report["checks"]:
        if c["library"] != "dnp3py":
            assert c["known_defects"] == []
        for defect in c["known_defects"]:
            assert "dnp3py cannot size" in defect or "dnp3py does not parse the fragment" in defect


def test_frame_set_is_deterministic_and_valid() -> None:
    fs = bench.frame_set()
    assert bench.frame_set() == fs
    codec = link_codec()
    decoded = [codec.decode(f) for f in fs.frames]
    assert decoded == [codec.decode_declarative(f) for f in fs.frames]
    assert sum(d.application is not None for d in decoded) > 200


def test_a_library_with_wrong_answers_is_reported_and_not_timed(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(fs: bench.FrameSet, ref: list[Any]) -> tuple[list[Check], list[Case]]:
        first = bench.fingerprint(ref[0])
        check = bench._check("broken", fs.frames, lambda i: (first, bench.fingerprint(ref[i])))
        return [check], [Case(library="broken", operation="decode", run=lambda: None, frames=1)]

    monkeypatch.setitem(bench.LIBRARIES, "broken", ("wireproof", broken))
    report = bench.run(seconds=0.02, quick=True, libraries=("wireproof", "broken"), replay=False)
    assert not report.checks_ok
    assert not any(t.library == "broken" for t in report.timings)
    failed = next(c for c in report.checks if c.library == "broken")
    assert "frame 1" in failed.detail


def test_a_crash_is_a_failed_check() -> None:
    def boom(i: int) -> tuple[int, int]:
        raise RuntimeError("peer exploded")

    crashed = bench._check("x", (b"\x05\x64",), boom)
    assert not crashed.ok and "RuntimeError: peer exploded" in crashed.detail


def test_missing_peer_is_reported_not_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    real = bench._version

    def absent(module: str) -> str:
        if module == "dnp3":
            raise ImportError("No module named 'dnp3'")
        return real(module)

    monkeypatch.setattr(bench, "_version", absent)
    report = bench.run(seconds=0.02, quick=True, libraries=("wireproof", "dnp3py"), replay=False)
    assert report.libraries["dnp3py"]["available"] is False and report.checks_ok
    assert all(g.peer != "dnp3py" for g in report.goals)


def test_replay_against_tshark_on_a_packaged_capture() -> None:
    folder = resources.files("wireproof.fixtures") / "dnp3" / "captures"
    with resources.as_file(folder / "yadnp3-master_yadnp3-outstation_events.pcapng") as path:
        result = bench.replay_throughput(Path(path), rounds=1)
    assert result["available"] and result["frames"] > 0 and result["wireproof_frames_per_second"] > 0
    assert result["dnp3_link_frames"] is None or result["dnp3_link_frames"] >= 0
    if shutil.which("tshark") is None:
        assert result["tshark"]["available"] is False
        return
    assert result["tshark"]["frames_counted"] == result["frames"]  # both saw every frame
    assert result["ratio_wall"] > 0


def test_replay_without_a_capture_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WIREPROOF_SHARED", str(tmp_path))
    assert bench.largest_shared_capture() is None
    assert bench.replay_throughput(None)["available"] is False


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "dnp3", "--quick", "--seconds", "0.02", "--no-replay"]) == 0
    out = capsys.readouterr().out
    assert "DNP3 link frames" in out and "wireproof/dnp3py" in out
    assert "correctness checks passed" in out
