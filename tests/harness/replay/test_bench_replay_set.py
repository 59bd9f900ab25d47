"""``wireproof bench replay``'s capture-set part: files/s on 1 and N processes, and its check.

Speed is not asserted (it depends on the machine and its load); what is
asserted is the shape of the report, that both runs read every frame of
every file, and that their merged documents are identical.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.bench import replay, replay_set
from wireproof.harness.cli import main


@pytest.fixture(scope="module")
def quick() -> tuple[int, dict[str, Any], str]:
    out, text = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(["bench", "replay", "--quick", "--json", "--rounds", "1"])
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(io.StringIO()):
        main(["bench", "replay", "--quick", "--rounds", "1"])
    return code, json.loads(out.getvalue()), text.getvalue()


def test_json_reports_files_per_second_on_1_and_n_processes(quick: tuple[int, dict[str, Any], str]) -> None:
    code, report, _text = quick
    assert code == 0
    result = report["extra"]["capture_set"]
    assert (result["files"], result["frames_per_file"]) == (replay_set.QUICK_SET_FILES,
                                                            replay_set.QUICK_SET_FRAMES)
    assert result["runs"][0]["processes"] == 1 and result["runs"][1]["processes"] >= 2
    for run in result["runs"]:
        assert run["files_per_second"] > 0 and run["frames"] == result["files"] * result["frames_per_file"]
        assert run["statuses"] == ["ok"]
    assert result["merged_equal"] is True and result["ok"] is True
    check = next(c for c in report["checks"] if c["operation"] == replay_set.OPERATION)
    assert check["ok"] is True and "identical" in check["detail"]


def test_text_reports_the_set(quick: tuple[int, dict[str, Any], str]) -> None:
    text = quick[2]
    assert f"capture set: {replay_set.QUICK_SET_FILES} files x {replay_set.QUICK_SET_FRAMES:,} frames" in text
    assert " 1 process " in text and "files/s" in text and "merged documents identical" in text


def test_a_set_that_merges_differently_fails_its_check(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from wireproof.harness.replay import set_summary

    merged = set_summary.merge
    calls = iter(range(100))

    def unstable(*args: Any, **kwargs: Any) -> dict[str, Any]:
        document = merged(*args, **kwargs)
        document["frames"] += next(calls)  # the second merge differs from the first
        return document

    monkeypatch.setattr(set_summary, "merge", unstable)
    result = replay_set.measure(traffic=replay.load_traffic(), directory=tmp_path, files=2, frames=200,
                                jobs=2)
    assert result["merged_equal"] is False and result["ok"] is False
    check = replay_set.check(result)
    assert not check.ok and "DIFFER" in check.detail
