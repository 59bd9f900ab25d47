"""Capture sets under hostile inputs: what is not a capture, nothing at all, files that vanish,
link loops, FIFOs, damaged members. One bad file never stops the others, and never hangs the set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.hostile.damage import bit_flips, cuts

from wireproof.harness.cli import main
from wireproof.harness.exitcodes import INCOMPLETE, OK, USAGE
from wireproof.harness.replay import sets
from wireproof.harness.replay.set_summary import merge
from wireproof.harness.replay.sets import collect, replay_set

PACKAGED = Path(__file__).parents[2] / "src" / "wireproof" / "fixtures" / "modbus" / "captures"
GOOD = PACKAGED / "mbpoll_wireproof-server.pcapng"
DEADLINE = 60.0


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object]]:
    code = main(["replay", *argv, "--json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, json.loads(out) if out else {}


def test_a_non_capture_file_is_skipped_and_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.pcapng").write_bytes(GOOD.read_bytes())
    (tmp_path / "README").write_text("captures from the plant\n")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)) * 4)
    code, document = _json([str(tmp_path)], capsys)
    assert code == OK
    assert [f["file"] for f in document["files"]] == [str(tmp_path / "a.pcapng")]  # type: ignore[index]
    assert {Path(s["file"]).name: s["reason"] for s in document["skipped"]} == {  # type: ignore[attr-defined]
        "README": "not a capture wireproof reads", "empty": "empty file",
        "blob.bin": "not a capture wireproof reads"}


def test_a_capture_suffix_makes_a_damaged_file_a_member(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.pcapng").write_bytes(GOOD.read_bytes())
    (tmp_path / "b.pcap").write_bytes(b"this was a capture once")
    code, document = _json([str(tmp_path), "--jobs", "2"], capsys)
    files = document["files"]
    assert [(Path(f["file"]).name, f["status"]) for f in files] == [  # type: ignore[attr-defined]
        ("a.pcapng", "ok"), ("b.pcap", "unreadable")]
    assert "not a capture" in files[1]["error"]  # type: ignore[index]
    assert code == INCOMPLETE


@pytest.mark.parametrize("content", [None, "README.md"], ids=["empty", "only-non-captures"])
def test_a_directory_without_captures_is_a_usage_error(tmp_path: Path, content: str | None,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    if content:
        (tmp_path / content).write_text("# nothing here\n")
    assert main(["replay", str(tmp_path)]) == USAGE
    err = capsys.readouterr().err
    assert f"no capture in {tmp_path}" in err and "Traceback" not in err
    assert ("1 files skipped" in err) == bool(content)


def test_a_missing_input_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(GOOD), str(tmp_path / "gone.pcap")]) == USAGE
    assert "gone.pcap: no such file or directory" in capsys.readouterr().err


def test_every_file_unreadable_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a.pcap", "b.pcapng"):
        (tmp_path / name).write_bytes(b"\x00" * 64)
    code, document = _json([str(tmp_path)], capsys)
    assert code == USAGE
    assert [f["status"] for f in document["files"]] == ["unreadable", "unreadable"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_that_vanishes_is_reported_and_the_others_replay(tmp_path: Path, jobs: int,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.pcapng").write_bytes(GOOD.read_bytes())
    listed = collect

    def collect_then_delete(inputs: list[str]) -> sets.CaptureSet:
        members = listed(inputs)
        (tmp_path / "b.pcapng").unlink()  # gone between the listing and its replay
        return members

    monkeypatch.setattr(sets, "collect", collect_then_delete)
    code, document = _json([str(tmp_path), "--jobs", str(jobs)], capsys)
    statuses = [(Path(f["file"]).name, f["status"]) for f in document["files"]]  # type: ignore[attr-defined]
    assert statuses == [("a.pcapng", "ok"), ("b.pcapng", "unreadable"), ("c.pcapng", "ok")]
    assert "cannot read capture" in document["files"][1]["error"]  # type: ignore[index]
    assert document["frames"] == 2 * 92
    assert "1 unreadable of 3 captures" in str(document["truncation"])
    assert code == INCOMPLETE


def test_symlink_loops_end_the_walk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.pcapng").write_bytes(GOOD.read_bytes())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "up").symlink_to("..")  # a directory loop
    (tmp_path / "self.pcap").symlink_to("self.pcap")  # a file link to itself
    (tmp_path / "x").symlink_to("y")
    (tmp_path / "y").symlink_to("x")
    (tmp_path / "dangling.pcap").symlink_to("nowhere.pcap")
    (tmp_path / "link.pcapng").symlink_to("a.pcapng")  # the same file again: counted once
    code, document = _json([str(tmp_path)], capsys)
    statuses = {Path(f["file"]).name: f["status"] for f in document["files"]}  # type: ignore[attr-defined]
    assert statuses == {"a.pcapng": "ok", "dangling.pcap": "unreadable", "self.pcap": "unreadable"}
    skipped = {Path(s["file"]).name: s["reason"] for s in document["skipped"]}  # type: ignore[attr-defined]
    assert skipped["up"] == "symbolic link to a directory, not followed"
    assert skipped["x"].startswith("cannot be read") and skipped["y"].startswith("cannot be read")
    assert code == INCOMPLETE


def test_a_fifo_in_the_directory_does_not_hang_the_set(tmp_path: Path) -> None:
    """Before: sniffing the directory's files opened the FIFO, which waits for a writer forever."""
    (tmp_path / "a.pcapng").write_bytes(GOOD.read_bytes())
    os.mkfifo(tmp_path / "pipe.pcap")
    os.mkfifo(tmp_path / "pipe")
    done = subprocess.run([sys.executable, "-m", "wireproof", "replay", str(tmp_path), "--json"],
                          capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == OK, done.stderr
    document = json.loads(done.stdout)
    assert [Path(f["file"]).name for f in document["files"]] == ["a.pcapng"]
    assert {Path(s["file"]).name: s["reason"] for s in document["skipped"]} == {
        "pipe": "not a regular file", "pipe.pcap": "not a regular file"}


def test_a_fifo_named_on_the_command_line_is_skipped(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "pipe.pcap")
    code, document = _json([str(GOOD), str(tmp_path / "pipe.pcap")], capsys)
    assert code == OK
    assert document["skipped"] == [{"file": str(tmp_path / "pipe.pcap"), "reason": "not a regular file"}]


def test_damaged_members_are_replayed_up_to_the_damage(tmp_path: Path) -> None:
    """Every cut and bit flip of a capture in one set: each file alone, as the damage policy says."""
    data = GOOD.read_bytes()
    damaged = [*cuts(data, 12, seed=11), *bit_flips(data, 12, seed=11)]
    for i, (_how, variant) in enumerate(damaged):
        (tmp_path / f"{i:03d}.pcapng").write_bytes(variant)
    members = collect([tmp_path])
    assert len(members.files) == len(damaged)  # the suffix keeps even the unrecognisable ones
    outcomes = replay_set(members.files, jobs=2)
    assert {o.status for o in outcomes} <= {"ok", "fail", "incomplete", "unreadable"}  # never "crashed"
    document = merge(outcomes, inputs=[str(tmp_path)])
    assert document["frames"] == sum(f["frames"] for f in document["files"])
    for entry, (how, _variant) in zip(document["files"], damaged, strict=True):
        if entry["status"] == "incomplete":
            assert entry["damage"] is not None, how
        if entry["status"] == "unreadable":
            assert entry["error"], how
    assert any(f["status"] == "incomplete" for f in document["files"])


@pytest.mark.parametrize("address", ["nonsense", "tcp://host", "tcp://127.0.0.1:87x6"])
def test_a_bad_dask_address_is_a_usage_error(address: str, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("distributed")
    assert main(["replay", str(PACKAGED), "--dask", address]) == USAGE
    err = capsys.readouterr().err
    assert f"cannot reach the Dask scheduler at {address}" in err and "Traceback" not in err
