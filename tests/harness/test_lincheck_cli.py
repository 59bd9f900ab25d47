"""``wireproof lincheck``: exit codes 0/1/2/3, the witness, JSON output, both formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wireproof.consensus.check.history import Operation, dump_wireproof
from wireproof.harness import cli

STALE = """\
INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:ok\t:read\t1
INFO  jepsen.util - 0\t:invoke\t:write\t2
INFO  jepsen.util - 0\t:ok\t:write\t2
INFO  jepsen.util - 1\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:ok\t:read\t1
"""
GOOD = "".join(STALE.splitlines(keepends=True)[:6])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["lincheck", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_listed_in_the_command_table() -> None:
    assert "lincheck" in cli.COMMANDS


def test_linearizable_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.log").write_text(GOOD)
    code, out, _ = run(capsys, str(tmp_path / "good.log"))
    assert code == 0 and "linearizable" in out and "not-linearizable" not in out


def test_violation_exits_1_with_the_witness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stale.log").write_text(STALE)
    code, out, _ = run(capsys, str(tmp_path / "stale.log"), "--format", "jepsen")
    assert code == 1
    assert "not-linearizable" in out
    assert "p0 write 1 ok  [1, 2]" in out and "p0 write 2 ok  [5, 6]" in out
    assert "p1 read -> 1 ok  [7, 8]" in out
    assert "p1 read -> 1 ok  [3, 4]" not in out  # not part of the minimal witness


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stale.log").write_text(STALE)
    code, out, _ = run(capsys, str(tmp_path / "stale.log"), "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "not-linearizable" and data["linearizable"] is False
    assert [(o["kind"], o["value"], o["result"]) for o in data["witness"]] == [
        ("write", 1, None), ("write", 2, None), ("read", None, 1)]
    assert data["keys"][0]["operations"] == 4


def test_wireproof_format_is_guessed_and_keys_split(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    history = [Operation(process=0, kind="write", key="a", value=1, invoke=0, complete=1),
               Operation(process=1, kind="read", key="b", invoke=2, complete=3, result=None),
               Operation(process=1, kind="cas", key="a", value=(1, 2), invoke=4, complete=5),
               Operation(process=0, kind="read", key="a", invoke=6, complete=7, result=1)]
    (tmp_path / "h.jsonl").write_text(dump_wireproof(history))
    code, out, _ = run(capsys, str(tmp_path / "h.jsonl"), "--json")
    data = json.loads(out)
    assert code == 1 and data["key"] == "a"
    assert {k["key"]: k["verdict"] for k in data["keys"]} == {"a": "not-linearizable", "b": "linearizable"}
    (tmp_path / "h.jsonl").write_text(dump_wireproof(history[:3]))
    assert run(capsys, str(tmp_path / "h.jsonl"), "--format", "wireproof")[0] == 0


def test_budget_exhausted_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = [f"INFO  jepsen.util - {p}\t:invoke\t:write\t{p}" for p in range(8)]
    lines += [f"INFO  jepsen.util - {p}\t:ok\t:write\t{p}" for p in range(8)]
    lines += ["INFO  jepsen.util - 9\t:invoke\t:read\tnil", "INFO  jepsen.util - 9\t:ok\t:read\t3",
              "INFO  jepsen.util - 9\t:invoke\t:read\tnil", "INFO  jepsen.util - 9\t:ok\t:read\t5"]
    (tmp_path / "big.log").write_text("\n".join(lines) + "\n")
    code, out, _ = run(capsys, str(tmp_path / "big.log"), "--budget", "10")
    assert code == 3 and "unknown" in out
    assert run(capsys, str(tmp_path / "big.log"), "--no-witness")[0] == 1


@pytest.mark.parametrize("argv", [["missing.log"], ["bad.log"], ["bad.log", "--format", "wireproof"],
                                  ["good.log", "--budget", "-1"], ["good.log", "--format", "edn"], []])
def test_usage_and_unreadable_exit_2(argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.log").write_text(GOOD)
    (tmp_path / "bad.log").write_text("INFO  jepsen.util - 0\t:ok\t:read\t1\n")
    code, _, err = run(capsys, *argv)
    assert code == 2
    if argv[:1] == ["bad.log"]:
        assert "line 1" in err


# --- issue 9: never a verdict on what was not read ------------------------------------------------

@pytest.mark.parametrize(("data", "line"), [
    (b"", None),
    (b"\n\n", None),
    (b"# only a comment\n", None),
    (b'[{"process": 0, "type": "invoke", "f": "write", "value": 1}]\n', 1),
    (b"# wireproof\n\nwireproof is an open, scriptable protocol conformance harness.\n", 3),
    (b'{"process": 0, "type": "invoke", "f": "write", "key": {"a": 1}, "value": 1}\n', 1),
    (b'{"process": 0, "type": "invoke", "f": "write", "value": ' + b"[" * 2000 + b"]" * 2000 + b"}\n", 1),
    (b'{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": NaN}\n', 1),
    (GOOD.encode() + b"\xff\xfe\n", 7),
])
def test_what_was_not_read_is_exit_2_naming_the_line(data: bytes, line: int | None, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "h").write_bytes(data)
    code, out, err = run(capsys, str(tmp_path / "h"))
    assert code == 2, (out, err)
    assert "Traceback" not in err and "linearizable" not in out
    assert f"line {line}:" in err if line is not None else "no operations" in err


@pytest.mark.parametrize("prefix", [b"\xef\xbb\xbf", b"# recorded by hand\n\n", b"\xef\xbb\xbf# comment\n"])
def test_bom_and_comments_are_read_through(prefix: bytes, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "good.log").write_bytes(prefix + GOOD.encode())
    code, out, _ = run(capsys, str(tmp_path / "good.log"))
    assert code == 0 and "3 operations (jepsen)" in out
    (tmp_path / "stale.log").write_bytes(prefix + STALE.encode())
    assert run(capsys, str(tmp_path / "stale.log"))[0] == 1
    wire = dump_wireproof([Operation(process=0, kind="write", value=1, invoke=0, complete=1)]).encode()
    (tmp_path / "h.jsonl").write_bytes(prefix + wire)
    code, out, _ = run(capsys, str(tmp_path / "h.jsonl"))
    assert code == 0 and "1 operations (wireproof)" in out


def test_guess_format_skips_bom_blanks_and_comments() -> None:
    from wireproof.harness.commands.lincheck import guess_format

    assert guess_format('\ufeff\n# c\n{"process": 1}\n') == "wireproof"
    assert guess_format("[1]\n") == "wireproof"
    assert guess_format("# {\nINFO  jepsen.util - 0\t:invoke\t:read\tnil\n") == "jepsen"
