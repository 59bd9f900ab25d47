"""The neutral golden-transcript format (wireproof.transcript) and its files (wireproof.harness.transcripts).

The driver here is a toy machine: a running total driven by ``add N``,
``reset`` and ``show``, as a protocol machine's driver would be driven by
``request ...``, ``receive HEX`` and ``tick T``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wireproof.errors import FixtureError
from wireproof.harness.transcripts import check_transcript, rewrite_requested
from wireproof.transcript import Block, TranscriptResult, check_script, parse_blocks, run_script


class Counter:
    """A toy machine driver: ``run(command) -> lines``."""

    def __init__(self) -> None:
        self.total = 0

    def run(self, command: str) -> list[str]:
        verb, *args = command.split()
        if verb == "add":
            self.total += int(args[0])
            return [f"total {self.total}"] + (["overflow"] if self.total > 9 else [])
        if verb == "reset":
            self.total = 0
            return []
        if verb == "show":
            return [f"total {self.total}"]
        raise FixtureError(f"unknown command {verb!r}")


GOLDEN = """\
# a running total
add 2
----
total 2

add 9
----
total 11
overflow

# reset says nothing
reset
----
ok
"""


def test_blocks_are_comments_command_and_expected_output() -> None:
    blocks = parse_blocks(GOLDEN + "\n# trailing note\n")
    assert blocks[0] == Block(comments=("# a running total",), command="add 2", expected=("total 2",))
    assert blocks[1] == Block(comments=("",), command="add 9", expected=("total 11", "overflow"))
    assert blocks[2].command == "reset" and blocks[2].expected == ("ok",)
    assert blocks[3] == Block(comments=("", "# trailing note"), command="", expected=())


def test_a_golden_script_runs_to_itself() -> None:
    assert run_script(GOLDEN, Counter()) == GOLDEN
    result = check_script(GOLDEN, Counter())
    assert result.ok and result.diff() == ""


def test_commands_without_output_get_it_filled_in() -> None:
    # blocks are separated by exactly one blank line; "ok" stands for no output
    assert run_script("add 1\nshow\n\n\nreset\n", Counter()) == (
        "add 1\n----\ntotal 1\n\nshow\n----\ntotal 1\n\nreset\n----\nok\n")


def test_a_wrong_expected_output_is_reported_with_a_diff() -> None:
    wrong = GOLDEN.replace("total 11", "total 12")
    result = check_script(wrong, Counter(), name="counter.txt")
    assert not result.ok
    diff = result.diff()
    assert "--- counter.txt (expected)" in diff and "+++ counter.txt (actual)" in diff
    assert "-total 12" in diff and "+total 11" in diff
    assert result.actual == GOLDEN


def test_an_unknown_command_is_an_error_not_a_difference() -> None:
    with pytest.raises(FixtureError, match="unknown command"):
        run_script("explode\n", Counter())


def test_rewritten_counts_as_ok() -> None:
    assert TranscriptResult(name="t", expected="a\n", actual="b\n", rewritten=True).ok
    assert not TranscriptResult(name="t", expected="a\n", actual="b\n").ok


def test_file_checked_then_regenerated_on_request(tmp_path: Path) -> None:
    path = tmp_path / "counter.txt"
    wrong = GOLDEN.replace("total 2\n", "total 3\n")
    path.write_text(wrong)
    result = check_transcript(path, Counter, rewrite=False)
    assert not result.ok and "-total 3" in result.diff() and str(path) in result.diff()
    assert path.read_text() == wrong  # checking never writes
    rewritten = check_transcript(path, Counter, rewrite=True)
    assert rewritten.ok and path.read_text() == GOLDEN == rewritten.actual
    assert check_transcript(path, Counter, rewrite=False).ok


def test_rewrite_flag_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert rewrite_requested({"WIREPROOF_REWRITE": "1"})
    assert not rewrite_requested({}) and not rewrite_requested({"WIREPROOF_REWRITE": "0"})
    path = tmp_path / "t.txt"
    path.write_text("add 1\n----\nwrong\n")
    monkeypatch.delenv("WIREPROOF_REWRITE", raising=False)
    assert not check_transcript(path, Counter).ok
    monkeypatch.setenv("WIREPROOF_REWRITE", "1")
    assert check_transcript(path, Counter).ok
    assert path.read_text() == "add 1\n----\ntotal 1\n"


def test_an_unreadable_file_is_a_fixture_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="cannot read"):
        check_transcript(tmp_path / "missing.txt", Counter, rewrite=False)
