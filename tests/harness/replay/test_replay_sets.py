"""Capture sets (issue 11): ``wireproof replay DIR-or-FILES... [--jobs N | --dask ADDRESS]``.

The merged document must be exactly the same however the files were spread
(one process, worker processes, a Dask cluster), and its numbers exactly the
sums of the files' own ``wireproof replay FILE --json`` documents.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.bench.modbus_traffic import write_modbus_capture
from wireproof.harness.cli import main
from wireproof.harness.commands.replay_set import set_progress
from wireproof.harness.exitcodes import FAIL, INCOMPLETE, OK
from wireproof.harness.replay.run import replay
from wireproof.harness.replay.set_summary import FileOutcome, merge
from wireproof.harness.replay.sets import SetOptions, collect, replay_file, replay_set
from wireproof.harness.replay.summary import to_json

PACKAGED = Path(__file__).parents[3] / "src" / "wireproof" / "fixtures" / "modbus" / "captures"
SHARED = Path(os.environ.get("WIREPROOF_SHARED",
                             Path(__file__).resolve().parents[3].parent / "shared")) / "captures"


@pytest.fixture(scope="module")
def capture_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory tree: the packaged captures (with their TOML sidecars), a generated capture, the
    same cut short (damaged), a text file, and the public Modbus and J1939 captures when present."""
    root = tmp_path_factory.mktemp("set")
    shutil.copytree(PACKAGED, root / "packaged")
    generated = root / "generated"
    generated.mkdir()
    whole = write_modbus_capture(generated / "plant.pcap", 3000, concurrent=4, per_flow=100).path
    data = whole.read_bytes()
    (generated / "plant-cut.pcap").write_bytes(data[:len(data) * 2 // 3 + 5])
    (generated / "notes.txt").write_text("not a capture\n")
    for name in ("modbus", "j1939"):
        if (SHARED / name).is_dir():
            shutil.copytree(SHARED / name, root / "public" / name,
                            ignore=shutil.ignore_patterns("*.dbc", "*.md", "*.txt", "*.tsv"))
    return root


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A small Dask LocalCluster in this process (threads), on a loopback TCP port."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://",
                                  host="127.0.0.1", dashboard_address=None) as local:
        yield local


def _cli_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    code = main(["replay", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_collect_walks_sorted_and_skips_what_is_not_a_capture(capture_set: Path) -> None:
    members = collect([capture_set])
    names = [Path(f).relative_to(capture_set).as_posix() for f in members.files]
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert "generated/plant.pcap" in names and "generated/plant-cut.pcap" in names
    assert {"packaged/mbpoll_wireproof-server.pcapng", "packaged/wireproof-client_pymodbus-server.pcapng"} \
        <= set(names)
    skipped = {Path(s.file).relative_to(capture_set).as_posix(): s.reason for s in members.skipped}
    assert skipped["generated/notes.txt"] == "not a capture wireproof reads"
    assert all(name.endswith(".toml") for name in skipped if name.startswith("packaged/"))
    # The same file named twice (and through its directory) counts once.
    again = collect([capture_set / "generated" / "plant.pcap", capture_set])
    assert len(again.files) == len(members.files)


def test_jobs_and_dask_merge_to_the_same_document(capture_set: Path, cluster: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's test: one set, replayed in one process, in 2 worker processes and on a LocalCluster."""
    one_code, one = _cli_json([str(capture_set), "--jobs", "1"], capsys)
    two_code, two = _cli_json([str(capture_set), "--jobs", "2"], capsys)
    dask_code, on_dask = _cli_json([str(capture_set), "--dask", cluster.scheduler_address], capsys)
    assert one == two == on_dask
    assert one_code == two_code == dask_code
    assert one["files_total"] >= 5 and one["frames"] > 3000


def test_merged_numbers_are_the_sums_of_the_single_file_replays(capture_set: Path) -> None:
    members = collect([capture_set])
    merged = merge(replay_set(members.files, jobs=2), inputs=[str(capture_set)], skipped=members.skipped)
    singles = [to_json(replay(f)) for f in members.files]
    assert merged["frames"] == sum(d["frames"] for d in singles)
    assert merged["bytes"] == sum(d["bytes"] for d in singles)
    for key in ("messages", "message_frames", "findings_by_rule", "decode_errors_by_protocol"):
        assert Counter(merged[key]) == sum((Counter(d[key]) for d in singles), Counter()), key
    for protocol, counts in merged["functions"].items():
        assert Counter(counts) == sum((Counter(d["functions"].get(protocol, {})) for d in singles),
                                      Counter())
    assert merged["findings_total"] == sum(d["findings_total"] for d in singles)
    assert merged["flows_total"] == sum(d["flows_total"] for d in singles)
    assert merged["stats"]["frames"] == sum(d["stats"]["frames"] for d in singles)
    assert merged["first"] == min(d["first"] for d in singles if d["first"] is not None)
    assert merged["last"] == max(d["last"] for d in singles if d["last"] is not None)
    # Findings and flows: the files' lists in order, each entry naming its file.
    expected = [{**f, "file": d["file"]} for d in singles for f in d["findings"]][:1000]
    assert merged["findings"] == expected
    # Analytics do not merge across captures (set_summary docstring): per file only.
    assert merged["analytics"] is None
    assert [f["analytics"] for f in merged["files"]] == [d["analytics"] for d in singles]


def test_per_file_results_and_exit_code(capture_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, document = _cli_json([str(capture_set / "generated"), str(capture_set / "packaged")], capsys)
    by_name = {Path(f["file"]).name: f for f in document["files"]}
    assert by_name["plant.pcap"]["status"] == "ok" and by_name["plant.pcap"]["exit"] == OK
    cut = by_name["plant-cut.pcap"]
    assert cut["status"] == "incomplete" and cut["exit"] == INCOMPLETE
    assert cut["damage"]["kind"] == "truncated"
    assert document["damage"]["file"].endswith("plant-cut.pcap")
    assert "1 damaged" in document["truncation"]
    assert code == INCOMPLETE  # no error finding anywhere, one file damaged
    assert [s["file"] for s in document["skipped"] if s["file"].endswith(".txt")]
    assert document["schema"] == "wireproof.replay/1"


def test_a_fault_in_any_file_fails_the_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.harness.replay.test_replay_cli import ANSWER, BAD_REQUEST, EXCEPTION, REQUEST, capture

    capture(tmp_path / "good.pcap", [(REQUEST, ANSWER)])
    capture(tmp_path / "bad.pcap", [(BAD_REQUEST, EXCEPTION)])
    code, document = _cli_json([str(tmp_path), "--jobs", "2"], capsys)
    assert code == FAIL
    assert [(Path(f["file"]).name, f["status"]) for f in document["files"]] == [("bad.pcap", "fail"),
                                                                                ("good.pcap", "ok")]
    errors = {f["file"] for f in document["findings"] if f["severity"] == "error"}
    assert errors == {str(tmp_path / "bad.pcap")}


def test_single_file_output_is_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    path = PACKAGED / "mbpoll_wireproof-server.pcapng"
    code, document = _cli_json([str(path)], capsys)
    assert code == OK
    assert "files" not in document and document["file"] == str(path)
    assert document == json.loads(json.dumps(to_json(replay(path)), default=str))


def test_text_summary_names_every_file(capture_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(capture_set / "generated"), "--jobs", "1"]) == INCOMPLETE
    out, err = capsys.readouterr()
    assert "2 captures (pcap)" in out and "plant-cut.pcap" in out and "damaged:" in out
    assert err == ""  # stderr is not a terminal: no progress bar


def test_progress_bar_counts_files_and_frames() -> None:
    stream = io.StringIO()
    show = set_progress(stream, 2, width=10)
    show(FileOutcome(file="a", status="unreadable"), 1, 2)
    show(FileOutcome.of("b", to_json(replay(PACKAGED / "mbpoll_wireproof-server.pcapng"))), 2, 2)
    lines = stream.getvalue().split("\r")
    assert lines[1].startswith("[..........] 0/2 files, 0 frames")
    assert lines[2].startswith("[#####.....] 1/2 files, 0 frames")
    assert lines[3].startswith("[##########] 2/2 files, 92 frames") and lines[3].endswith("s\n")


def test_replay_file_is_the_single_file_replay() -> None:
    path = str(PACKAGED / "pymodbus-client_wireproof-server.pcapng")
    outcome = replay_file(path, SetOptions(analytics=False, max_findings=2))
    assert outcome.document == to_json(replay(path, analytics=False, max_findings=2))
    assert outcome.status == "ok"


def test_options_apply_to_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.harness.replay.test_replay_cli import BAD_REQUEST, EXCEPTION, capture

    for name in ("a", "b"):
        capture(tmp_path / f"{name}.pcap", [(BAD_REQUEST, EXCEPTION)], port=5020)
    _code, plain = _cli_json([str(tmp_path)], capsys)
    _code, mapped = _cli_json([str(tmp_path), "--port", "5020=modbus-tcp", "--no-analytics",
                               "--max-findings", "1"], capsys)
    assert plain["findings_total"] == mapped["findings_total"] > 2
    assert len(plain["findings"]) == plain["findings_total"] and len(mapped["findings"]) == 1
    assert mapped["findings_dropped"] == mapped["findings_total"] - 1
    assert all(f["analytics"] is None for f in mapped["files"])
    assert all(f["analytics"] is not None for f in plain["files"])


@pytest.mark.parametrize("argv", [["--jobs", "0"], ["--findings-jsonl", "x.jsonl"], ["--send", "tcp://h:1"],
                                  ["--jobs", "2", "--dask", "tcp://127.0.0.1:8786"]])
def test_set_usage_errors(argv: list[str], capture_set: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(capture_set / "generated"), *argv]) == 2
    assert "wireproof replay: error:" in capsys.readouterr().err


def test_workers_is_refused_for_a_set(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "wireproof", "replay", str(tmp_path), "--workers", "2"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "--workers shards the flows of one capture" in proc.stderr
