"""Histories: the Operation record, the Jepsen log parser, the wireproof JSON-lines format."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wireproof.consensus.check.history import (
    MAX_LINE,
    Operation,
    dump_wireproof,
    format_operation,
    parse_history,
    parse_jepsen,
    parse_wireproof,
)
from wireproof.errors import FixtureError
from wireproof.harness.consensus.histories import load_history

LOG = """\
INFO  jepsen.util - 0\t:invoke\t:read\tnil
INFO  jepsen.util - 1\t:invoke\t:write\t2
INFO  jepsen.util - 0\t:ok\t:read\tnil
INFO  jepsen.util - 1\t:ok\t:write\t2
INFO  jepsen.core - some other logger line that is ignored
INFO  jepsen.util - 2\t:invoke\t:cas\t[2 4]
INFO  jepsen.util - 3\t:invoke\t:write\t1
INFO  jepsen.util - 2\t:fail\t:cas\t[2 4]
INFO  jepsen.util - 3   :info   :write  :timed-out
INFO  jepsen.util - 0\t:invoke\t:read\tnil
"""


def test_parse_jepsen_pairs_invocations_and_completions() -> None:
    ops = parse_jepsen(LOG)
    assert ops == (
        Operation(process=0, kind="read", invoke=1, complete=3, outcome="ok", result=None),
        Operation(process=1, kind="write", value=2, invoke=2, complete=4, outcome="ok"),
        Operation(process=2, kind="cas", value=(2, 4), invoke=6, complete=8, outcome="fail"),
        Operation(process=3, kind="write", value=1, invoke=7, complete=None, outcome="info"),
        # never completed in the file: indefinite
        Operation(process=0, kind="read", invoke=10, complete=None, outcome="info"),
    )


def test_parse_jepsen_read_result() -> None:
    ops = parse_jepsen("INFO  jepsen.util - 7\t:invoke\t:read\tnil\nINFO  jepsen.util - 7\t:ok\t:read\t3\n")
    assert ops[0].result == 3 and ops[0].value is None and ops[0].key is None


J = "INFO  jepsen.util - "


@pytest.mark.parametrize(("text", "line", "words"), [
    (J + "0\t:invoke\t:read\tnil\n" + J + "0\t:invoke\t:read\tnil\n", 2, "pending"),
    ("INFO  jepsen.util - 0\t:ok\t:read\t1\n", 1, "invoked nothing"),
    (J + "0\t:invoke\t:read\tnil\n" + J + "0\t:ok\t:write\t1\n", 2, "invoked :read"),
    ("\n\nINFO  jepsen.util - 0\t:invoke\t:append\t1\n", 3, "unknown operation"),
    ("INFO  jepsen.util - 0\t:invoke\t:cas\t4\n", 1, "[from to]"),
    ("INFO  jepsen.util - 0\t:invoke\t:write\t[1 2\n", 1, "unterminated"),
    ("INFO  jepsen.util - 0\t:crash\t:write\t1\n", 1, "unknown event"),
    ("INFO  jepsen.util - zero\n", 1, "not a jepsen.util operation line"),
    (J + "0\t:invoke\t:read\tnil\n" + J + "0\t:done\t:read\t1\n", 2, "unknown event"),
    ("INFO  jepsen.util - 0\t:invoke\t:write\t{1}\n", 1, "cannot read value"),
])
def test_parse_jepsen_rejects_malformed_lines_with_their_number(text: str, line: int, words: str) -> None:
    pattern = rf"line {line}: .*{words}" if "[" not in words else f"line {line}"
    with pytest.raises(FixtureError, match=pattern):
        parse_jepsen(text)


def test_operation_validates_itself() -> None:
    with pytest.raises(FixtureError):
        Operation(process=0, kind="append", invoke=0, complete=1)  # type: ignore[arg-type]
    with pytest.raises(FixtureError):
        Operation(process=0, kind="cas", value=3, invoke=0, complete=1)
    with pytest.raises(FixtureError):
        Operation(process=0, kind="read", invoke=0, outcome="ok")
    with pytest.raises(FixtureError):
        Operation(process=0, kind="read", invoke=5, complete=1)
    with pytest.raises(FixtureError):
        Operation(process=0, kind="read", invoke=0, complete=1, outcome="maybe")  # type: ignore[arg-type]


WIRE = """\
{"process": 1, "type": "invoke", "f": "write", "key": "x", "value": 5, "time": 1.5}
{"process": 2, "type": "invoke", "f": "cas", "key": "x", "value": [5, 6], "time": 2}

{"process": 1, "type": "ok", "f": "write", "key": "x", "value": 5, "time": 3}
{"process": 2, "type": "info", "f": "cas", "key": "x", "value": [5, 6], "time": null}
{"process": 3, "type": "invoke", "f": "read", "key": "y", "value": null}
{"process": 3, "type": "ok", "f": "read", "key": "y", "value": 7}
"""


def test_parse_wireproof() -> None:
    assert parse_wireproof(WIRE) == (
        Operation(process=1, kind="write", key="x", value=5, invoke=1.5, complete=3, outcome="ok"),
        Operation(process=2, kind="cas", key="x", value=(5, 6), invoke=2, complete=None, outcome="info"),
        Operation(process=3, kind="read", key="y", invoke=6, complete=7, outcome="ok", result=7),
    )


@pytest.mark.parametrize(("text", "line", "words"), [
    ('{"process": 1, "type": "invoke", "f": "read"}\n{oops\n', 2, "not JSON"),
    ('[1, 2]\n', 1, "JSON object"),
    ('{"process": 1, "type": "invoke"}\n', 1, "missing f"),
    ('{"process": 1, "type": "invoke", "f": "incr"}\n', 1, "f must be"),
    ('{"process": 1, "type": "invoke", "f": "read", "time": "noon"}\n', 1, "time must be a number"),
    ('{"process": 1, "type": "ok", "f": "read", "value": 1}\n', 1, "invoked nothing"),
    ('{"process": 1, "type": "invoke", "f": "read"}\n{"process": 1, "type": "invoke", "f": "read"}\n',
     2, "pending"),
    ('{"process": 1, "type": "invoke", "f": "read", "key": "a"}\n'
     '{"process": 1, "type": "ok", "f": "read", "key": "b"}\n', 2, "completes read"),
    ('{"process": 1, "type": "invoke", "f": "cas", "value": 3}\n', 1, "expected, new"),
    ('{"process": 1, "type": "invoke", "f": "read", "time": 5}\n'
     '{"process": 1, "type": "ok", "f": "read", "time": 4}\n', 2, "before its invocation"),
    ('{"process": 1, "type": "invoke", "f": "read"}\n{"process": 1, "type": "done", "f": "read"}\n',
     2, "type must be"),
    ('{"process": [1], "type": "invoke", "f": "read"}\n', 1, "process must be"),
])
def test_parse_wireproof_rejects_malformed_lines(text: str, line: int, words: str) -> None:
    with pytest.raises(FixtureError, match=rf"line {line}: .*{words}"):
        parse_wireproof(text)


values = st.one_of(st.none(), st.integers(-3, 3), st.text("ab", max_size=2))


@st.composite
def histories(draw: st.DrawFn) -> tuple[Operation, ...]:
    ops = []
    for process in range(draw(st.integers(0, 4))):
        t = draw(st.integers(0, 5))
        for _ in range(draw(st.integers(0, 4))):
            kind = draw(st.sampled_from(["read", "write", "cas"]))
            outcome = draw(st.sampled_from(["ok", "fail", "info"]))
            start = t + draw(st.integers(0, 3))
            end = start + draw(st.integers(0, 3))
            value = ((draw(values), draw(values)) if kind == "cas"
                     else None if kind == "read" else draw(values))
            ops.append(Operation(process=process, kind=kind,  # type: ignore[arg-type]
                                 key=draw(st.sampled_from([None, "k", 1])),
                                 value=value, invoke=start, complete=None if outcome == "info" else end,
                                 outcome=outcome,  # type: ignore[arg-type]
                                 result=draw(values) if kind == "read" and outcome == "ok" else None))
            t = end
            if outcome == "info":
                break  # Jepsen retires a process after an indefinite outcome
    return tuple(sorted(ops, key=lambda o: o.invoke))


@given(histories())
def test_wireproof_format_round_trips(history: tuple[Operation, ...]) -> None:
    text = dump_wireproof(history)
    for line in text.splitlines():
        assert set(json.loads(line)) == {"process", "type", "f", "key", "value", "time"}
    back = parse_wireproof(text)
    assert sorted(back, key=repr) == sorted(history, key=repr)


def test_parse_history_by_format() -> None:
    assert parse_history(LOG) == parse_jepsen(LOG)
    assert parse_history(WIRE, "wireproof") == parse_wireproof(WIRE)
    with pytest.raises(FixtureError, match="unknown history format"):
        parse_history(LOG, "edn")


def test_load_history(tmp_path: Path) -> None:
    (tmp_path / "h.log").write_text(LOG)
    (tmp_path / "h.jsonl").write_text(WIRE)
    assert load_history(tmp_path / "h.log") == parse_jepsen(LOG)
    assert load_history(tmp_path / "h.jsonl", format="wireproof") == parse_wireproof(WIRE)
    with pytest.raises(FixtureError, match="cannot read"):
        load_history(tmp_path / "missing.log")
    with pytest.raises(FixtureError, match=r"h\.log: line 1: not JSON"):
        load_history(tmp_path / "h.log", format="wireproof")
    with pytest.raises(FixtureError, match="unknown history format"):
        load_history(tmp_path / "h.log", format="edn")


def test_format_operation() -> None:
    assert format_operation(Operation(process=3, kind="cas", key="x", value=(1, 4), invoke=10, complete=12)) \
        == "p3 cas x 1->4 ok  [10, 12]"
    assert format_operation(Operation(process=1, kind="read", invoke=0.5, complete=2, result=None)) \
        == "p1 read -> nil ok  [0.5, 2]"
    assert format_operation(Operation(process=1, kind="write", value=2, invoke=4, outcome="info")) \
        == "p1 write 2 info  [4, ...]"


# --- issue 9: whatever is not read is an error, never an empty (passing) history ------------------

GOOD_JEPSEN = "INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t1\n"
GOOD_WIRE = ('{"process": 0, "type": "invoke", "f": "write", "value": 1, "time": 1}\n'
             '{"process": 0, "type": "ok", "f": "write", "value": 1, "time": 2}\n')


@pytest.mark.parametrize(("text", "format"), [(GOOD_JEPSEN, "jepsen"), (GOOD_WIRE, "wireproof")])
def test_bom_comments_and_blank_lines_are_skipped(text: str, format: str) -> None:
    plain = parse_history(text, format)
    assert len(plain) == 1
    assert parse_history("\ufeff" + text, format) == plain
    commented = parse_history("# recorded by hand\n\n  # indented comment\n" + text, format)
    shift = 3 if format == "jepsen" else 0  # a jepsen time is the line number
    assert commented == tuple(dataclasses.replace(op, invoke=op.invoke + shift,
                                                  complete=op.complete + shift) for op in plain)


@pytest.mark.parametrize(("text", "format", "words"), [
    ("", "jepsen", "no operations"),
    ("\n\n# only a comment\n", "wireproof", "no operations"),
    ("# wireproof\n\nwireproof is a protocol conformance harness.\n", "jepsen",
     "line 3: not a line of a Jepsen log"),
    ("hello\n" + GOOD_JEPSEN, "jepsen", "line 1: not a line of a Jepsen log"),
    (GOOD_JEPSEN + "garbage after the operations\n", "jepsen", "line 3: not a line of a Jepsen log"),
    ("\ufeff\ufeff" + GOOD_JEPSEN, "jepsen", "line 1: not a"),
    ('[{"process": 0, "type": "invoke", "f": "read"}]\n', "wireproof", "line 1: an event is a JSON object"),
])
def test_parse_history_refuses_what_it_cannot_read(text: str, format: str, words: str) -> None:
    with pytest.raises(FixtureError, match=words):
        parse_history(text, format)


def event(**fields: object) -> str:
    return json.dumps({"process": 1, "type": "invoke", "f": "write", "value": 1, **fields})


@pytest.mark.parametrize(("line", "words"), [
    (event(key={"a": 1}), "key: a JSON object"),
    (event(value={"a": 1}), "value: a JSON object"),
    (event(value=[1, [2, {"a": 1}]]), r"value\[1\]\[1\]: a JSON object"),
    (event(f="cas", value=[{}, 1]), r"value\[0\]: a JSON object"),
    (event(f={"x": 1}), "f must be"),
    (event(f=["write"]), "f must be"),
    (event(type={"x": 1}), "type must be"),
    (event(process={"x": 1}), "process must be"),
    (event(process=True), "process must be"),
    (event(value="[" * 2000), None),  # a string of brackets is a value like any other
    ('{"process": 1, "type": "invoke", "f": "write", "value": ' + "[" * 2000 + "]" * 2000 + "}",
     "nested too deep"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": ' + "[" * 40 + "]" * 40 + "}",
     "nested deeper than 32"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": 1, "time": NaN}', "NaN"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": 1, "time": Infinity}', "Infinity"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": 1, "time": -Infinity}', "Infinity"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": 1, "time": 1e400}', "overflows"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": NaN, "time": 1}', "NaN"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": 1, "time": 1' + "0" * 400 + "}",
     "finite number"),
    ('{"process": 1, "type": "invoke", "f": "write", "value": 1, "time": null}', "time must be a number"),
])
def test_wireproof_hostile_fields_are_input_errors_naming_the_line(line: str, words: str | None) -> None:
    text = GOOD_WIRE + line + "\n"
    if words is None:
        assert parse_history(text + '{"process": 1, "type": "ok", "f": "write", "value": 1}\n', "wireproof")
        return
    with pytest.raises(FixtureError, match=rf"line 3: .*{words}"):
        parse_history(text, "wireproof")


def test_nan_in_an_info_completion_is_an_error_too() -> None:
    text = GOOD_WIRE + event(process=2) + "\n" + event(process=2, type="info", time=None) + "\n"
    assert len(parse_history(text, "wireproof")) == 2
    bad = GOOD_WIRE + event(process=2) + "\n" + '{"process": 2, "type": "info", "f": "write", "time": NaN}\n'
    with pytest.raises(FixtureError, match="line 4: NaN"):
        parse_history(bad, "wireproof")


@pytest.mark.parametrize(("value", "expected"), [
    ("[1 [2 3]]", (1, (2, 3))), ("[[1] [2]]", ((1,), (2,))), ('"a b"', "a b"), (":timed-out", ":timed-out"),
    ("[]", ()), ("-7", -7),
])
def test_jepsen_values_nest(value: str, expected: object) -> None:
    ops = parse_jepsen(f"{J}0\t:invoke\t:write\t{value}\n{J}0\t:ok\t:write\t{value}\n")
    assert ops[0].value == expected


@pytest.mark.parametrize("value", ["[[[1]]", "[1]]", "1 2", "[" * 40 + "]" * 40, "1" * 5000, "{:a 1}"])
def test_jepsen_values_that_do_not_parse_whole_are_errors(value: str) -> None:
    with pytest.raises(FixtureError, match="line 1: "):
        parse_jepsen(f"{J}0\t:invoke\t:write\t{value}\n")


def test_load_history_streams_and_guesses(tmp_path: Path) -> None:
    (tmp_path / "h.jsonl").write_bytes(b"\xef\xbb\xbf# provenance\n\n" + GOOD_WIRE.encode())
    assert load_history(tmp_path / "h.jsonl", format=None) == parse_history(GOOD_WIRE, "wireproof")
    bad = GOOD_JEPSEN.encode() + b"INFO  jepsen.util - 1\t:invoke\t:write\t\xff\n"
    (tmp_path / "bad.log").write_bytes(bad)
    with pytest.raises(FixtureError, match=r"bad\.log: line 3: not UTF-8"):
        load_history(tmp_path / "bad.log")
    (tmp_path / "long.log").write_bytes(GOOD_JEPSEN.encode() + b"x" * (MAX_LINE + 10))
    with pytest.raises(FixtureError, match=r"line 3: longer than"):
        load_history(tmp_path / "long.log")
