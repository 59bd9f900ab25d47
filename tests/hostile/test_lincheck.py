"""Hostile histories for ``wireproof lincheck`` (issue 9).

A generator of crafted histories — cuts, bit flips, wrong types, huge and
non-finite numbers, deep nesting, duplicate and missing invocations,
completions before invocations, encodings, endless lines — in both formats.
Every one must give a verdict or an input error, never a traceback: exit 0, 1,
2 or 3, and 0 only for a file that is wholly a history (checked here by an
oracle independent of the parser). Then the two faults that need a real
process: Ctrl-C during a long check, and memory that grows linearly with the
history, not with its square.
"""

from __future__ import annotations

import json
import re
import selectors
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.hostile.damage import bit_flips, cuts

from wireproof.consensus.check.history import dump_wireproof
from wireproof.harness import cli
from wireproof.harness.consensus.histories import generate_history
from wireproof.harness.exitcodes import FAIL, INCOMPLETE, INTERRUPTED, OK, USAGE

TIMEOUT = 30.0


def wireproof_history() -> bytes:
    return dump_wireproof(generate_history(40, processes=4, indefinite=0.05, seed=3)).encode()


def _edn(value: object) -> str:
    if value is None:
        return "nil"
    if isinstance(value, list):
        return "[" + " ".join(_edn(v) for v in value) + "]"
    return str(value)


def jepsen_history() -> bytes:
    lines = []
    for line in wireproof_history().decode().splitlines():
        e = json.loads(line)
        lines.append(f"INFO  jepsen.util - {e['process']}\t:{e['type']}\t:{e['f']}\t{_edn(e['value'])}")
    return ("\n".join(lines) + "\n").encode()


def _with_line(data: bytes, index: int, line: bytes) -> bytes:
    lines = data.split(b"\n")
    lines[index] = line
    return b"\n".join(lines)


def _field(data: bytes, index: int, field: str, raw: str) -> bytes:
    """Line ``index`` of a wireproof history with ``field`` set to the raw JSON text ``raw``."""
    line = data.split(b"\n")[index].decode()
    event = json.loads(line)
    event[field] = "\x00placeholder"
    return _with_line(data, index, json.dumps(event).replace('"\\u0000placeholder"', raw).encode())


HOSTILE_VALUES = ["{}", '{"a": 1}', "[]", "[[1, 2], {}]", '"x"', "true", "null", "-0", "1e308", "1e400",
                  "-1e400", "NaN", "Infinity", "-Infinity", "1" + "0" * 5000, "1" + "0" * 400, "0.5",
                  "[" * 2000 + "]" * 2000, "[" * 40 + "]" * 40, '"' + "\\ud800" + '"', '"' + "x" * 5000 + '"']


def crafted_wireproof() -> Iterator[tuple[str, bytes]]:
    data = wireproof_history()
    lines = data.split(b"\n")
    yield "as generated", data
    yield from (("wireproof " + label, cut) for label, cut in cuts(data, seed=1))
    yield from (("wireproof " + label, flipped) for label, flipped in bit_flips(data, seed=1))
    for field in ("process", "type", "f", "key", "value", "time"):
        for raw in HOSTILE_VALUES:
            for index in (0, 1):  # an invocation, and the next line (a completion or another invocation)
                yield f"line {index + 1} {field} = {raw[:20]}", _field(data, index, field, raw)
    yield "an extra field nested 2,000 deep", _field(data, 0, "extra", "[" * 2000 + "]" * 2000)
    yield "an invocation twice", b"\n".join([lines[0], *lines])
    yield "a line twice", b"\n".join([*lines[:5], lines[4], *lines[5:]])
    yield "a line missing", b"\n".join(lines[:3] + lines[4:])
    yield "reversed", b"\n".join(reversed(lines))
    yield "completion before invocation", b"\n".join([lines[1], lines[0], *lines[2:]])
    first_done = next(i for i, line in enumerate(lines) if b'"invoke"' not in line)
    yield "completion time before its invocation", _field(data, first_done, "time", "-1")
    yield "a UTF-8 BOM", b"\xef\xbb\xbf" + data
    yield "two BOMs", b"\xef\xbb\xbf\xef\xbb\xbf" + data
    yield "CRLF", data.replace(b"\n", b"\r\n")
    yield "a comment and blank lines first", b"# provenance\n\n" + data
    yield "a NUL byte", data[:30] + b"\x00" + data[30:]
    yield "UTF-16", data.decode().encode("utf-16")
    yield "not UTF-8", data[:50] + b"\xff\xfe" + data[50:]
    yield "a 2 MB line", data + b"x" * 2_000_000 + b"\n"
    yield "as one JSON array", json.dumps([json.loads(x) for x in lines if x]).encode()
    yield "JSON scalars", b"1\n2\n"
    yield "empty", b""
    yield "only comments", b"# a\n# b\n\n"
    yield "a README", b"# wireproof\n\nwireproof is a protocol conformance test harness.\n"


def crafted_jepsen() -> Iterator[tuple[str, bytes]]:
    data = jepsen_history()
    lines = data.split(b"\n")
    yield "jepsen as generated", data
    yield from (("jepsen " + label, cut) for label, cut in cuts(data, seed=2))
    yield from (("jepsen " + label, flipped) for label, flipped in bit_flips(data, seed=2))
    j = b"INFO  jepsen.util - 77\t"
    for value in (b"[1 2 3]", b"[1", b"1]", b"[" * 2000 + b"]" * 2000, b"1" * 5000, b"{:a 1}",
                  b'"unterminated', b"1.5", b"NaN", b"##Inf", b"nil nil", b"[nil [nil]]"):
        yield f"jepsen cas {value[:20]!r}", data + j + b":invoke\t:cas\t" + value + b"\n"
        yield f"jepsen write {value[:20]!r}", data + j + b":invoke\t:write\t" + value + b"\n" + \
            j + b":ok\t:write\t" + value + b"\n"
    yield "jepsen unknown event", data + j + b":crash\t:write\t1\n"
    yield "jepsen unknown f", data + j + b":invoke\t:append\t1\n"
    yield "jepsen a process of 5,000 digits", data.replace(b" - 0\t", b" - " + b"9" * 5000 + b"\t")
    yield "jepsen completion without invocation", j + b":ok\t:write\t1\n" + data
    yield "jepsen an invocation twice", b"\n".join([lines[0], *lines])
    yield "jepsen another logger", b"INFO  jepsen.core - starting\n" + data
    yield "jepsen free text", b"starting the test\n" + data
    yield "jepsen a BOM", b"\xef\xbb\xbf" + data


def _meaningful(data: bytes) -> list[str] | None:
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        return None
    return [x for x in text.split("\n") if x.strip() and not x.strip().startswith("#")]


def _strict_json(line: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(name)
    return json.loads(line, parse_constant=refuse)


LOG_LINE = re.compile(r"^\s*(?:TRACE|DEBUG|INFO|WARN|ERROR|FATAL)\s+\S+\s+-")


def wholly_a_history(data: bytes) -> bool:
    """The oracle: every line that is not blank or a comment is an event (parser-independent)."""
    lines = _meaningful(data)
    if not lines:
        return False
    if lines[0].lstrip().startswith(("{", "[")):
        try:
            events = [_strict_json(x) for x in lines]
        except (ValueError, RecursionError):
            return False
        return all(isinstance(e, dict) and {"process", "type", "f"} <= set(e) for e in events)
    return all(LOG_LINE.match(x) for x in lines) and any(":invoke" in x for x in lines)


CASES = [*crafted_wireproof(), *crafted_jepsen()]


@pytest.mark.parametrize(("label", "data"), CASES, ids=[label for label, _ in CASES])
def test_crafted_history(label: str, data: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "history"
    path.write_bytes(data)
    code = cli.main(["lincheck", str(path)])  # an exception here is the traceback this tier forbids
    out, err = capsys.readouterr()
    assert code in (OK, FAIL, USAGE, INCOMPLETE), (label, code, err)
    assert "Traceback" not in err + out
    if code == OK:
        assert wholly_a_history(data), f"{label}: exit 0 for a file that is not wholly a history"
    if code == USAGE:
        assert err.count("\n") == 1 and ("line " in err or "no operations" in err), (label, err)
        assert len(err) < 1000, (label, "the error echoes the input")


def test_the_generator_covers_both_outcomes() -> None:
    """The oracle is not vacuous: some crafted files pass whole, most do not."""
    verdicts = [wholly_a_history(data) for _label, data in CASES]
    assert verdicts.count(True) >= 10 and verdicts.count(False) >= 100


# --- Ctrl-C during a long check -------------------------------------------------------------------

def long_history() -> str:
    """24 concurrent writes, then reads of 1, 2, 1 in turn: not linearizable, but only an
    exhaustive search of the writes' orders can tell (about 2**24 states)."""
    events = [{"process": p, "type": "invoke", "f": "write", "value": p, "time": p} for p in range(24)]
    events += [{"process": p, "type": "ok", "f": "write", "value": p, "time": 100 + p} for p in range(24)]
    for k, v in enumerate((1, 2, 1)):
        events += [{"process": 99, "type": "invoke", "f": "read", "value": None, "time": 200 + 2 * k},
                   {"process": 99, "type": "ok", "f": "read", "value": v, "time": 201 + 2 * k}]
    return "".join(json.dumps(e) + "\n" for e in events)


# A shell gives a foreground command SIGINT's default action (a test runner's process may have
# inherited "ignore"): restore it as an interactive Ctrl-C would find it, then run the command.
RUN_WIREPROOF = textwrap.dedent("""\
    import signal, sys
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from wireproof.harness.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def test_ctrl_c_during_a_long_check_is_one_line_and_130(tmp_path: Path) -> None:
    (tmp_path / "long.jsonl").write_text(long_history())
    proc = subprocess.Popen([sys.executable, "-c", RUN_WIREPROOF, "lincheck", str(tmp_path / "long.jsonl"),
                             "--budget", str(10**12), "--no-witness"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:  # the event: the header, printed as the search starts
            sel.register(proc.stdout, selectors.EVENT_READ)
            assert sel.select(TIMEOUT), "lincheck printed nothing"
        header = proc.stdout.readline()
        assert header.endswith("27 operations (wireproof)\n"), header
        assert proc.poll() is None, "the check ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == INTERRUPTED, (out, err)
        assert err == "wireproof lincheck: interrupted\n"
        assert out == ""  # no verdict after the header
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# --- memory: linear in the history ----------------------------------------------------------------

MEASURE = textwrap.dedent("""\
    import gc, json, sys
    from wireproof.consensus.check.history import Operation
    from wireproof.consensus.check.lincheck import check_linearizable
    from wireproof.harness.consensus.histories import generate_history

    def status_kb(field):
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))

    history = generate_history(int(sys.argv[1]), seed=1)
    if sys.argv[2] == "slow-read":  # one read of the initial value spanning the whole history
        history += (Operation(process=-1, kind="read", invoke=-1, complete=10**9, result=None),)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak mark (VmHWM): building the history may have peaked higher
    before = status_kb("VmRSS")
    result = check_linearizable(history, witness=False)
    print(json.dumps({"verdict": result.verdict, "growth_kb": status_kb("VmHWM") - before}))
""")


def check_growth_kb(operations: int, shape: str) -> int:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(operations), shape], capture_output=True,
                          text=True, timeout=120, check=True)
    report = json.loads(done.stdout)
    assert report["verdict"] == "linearizable"
    return int(report["growth_kb"])


@pytest.mark.skipif(not Path("/proc/self/clear_refs").is_file(), reason="Linux: resets VmHWM in /proc")
@pytest.mark.parametrize("shape", ["plain", "slow-read"])
def test_checker_memory_grows_linearly(shape: str) -> None:
    """A bitset per cached state made this quadratic: 40k ops took ~200 MB more, 80k ~500 MB more.

    ``slow-read`` adds one operation that is linearized first and returns last,
    which kept the window of linearized ranks as wide as the history.
    """
    n = 40_000
    small, large = check_growth_kb(n, shape), check_growth_kb(2 * n, shape)
    print(f"check memory growth ({shape}): {small} KB for {n} operations, {large} KB for {2 * n}")
    # linear: well under 1 KB per operation, and doubling the history at most about doubles it
    assert large <= 2 * n, f"{large} KB for {2 * n} operations"
    assert large <= 2.5 * small + 8 * 1024, f"{small} KB for {n} operations, {large} KB for {2 * n}"


def test_a_json_true_is_not_the_number_1(tmp_path: Path) -> None:
    """Python's True == 1 must not let a read of 1 after a write of true pass (issue 9, false verdicts)."""
    history = tmp_path / "flags.jsonl"
    history.write_text(
        '{"process": 0, "type": "invoke", "f": "write", "key": "x", "value": true, "time": 1}\n'
        '{"process": 0, "type": "ok", "f": "write", "key": "x", "value": true, "time": 2}\n'
        '{"process": 1, "type": "invoke", "f": "read", "key": "x", "value": null, "time": 3}\n'
        '{"process": 1, "type": "ok", "f": "read", "key": "x", "value": 1, "time": 4}\n', encoding="utf-8")
    assert cli.main(["lincheck", str(history)]) == FAIL
    history.write_text(history.read_text(encoding="utf-8").replace('"value": 1,', '"value": true,'),
                       encoding="utf-8")
    assert cli.main(["lincheck", str(history)]) == OK
