"""The error tree's rendering: a DecodeError shows a window of its input, never all of it."""

from __future__ import annotations

import pickle

from wireproof.errors import DecodeError, TruncatedError, hex_excerpt


def test_short_input_is_shown_whole() -> None:
    assert hex_excerpt(bytes(range(4)), 1) == ["0000  00 01 02 03", "         ^^"]
    assert hex_excerpt(b"\x0a\x0b", 2) == ["0000  0a 0b", "            ^^ (end of input)"]
    assert hex_excerpt(b"", 0) == ["0000  ", "      ^^ (end of input)"]


def test_long_input_is_a_window_around_the_offset() -> None:
    data = bytes(range(256)) * 40  # 10,240 bytes
    lines = hex_excerpt(data, 5000, radius=32, width=32)
    assert lines[0] == "… 4968 bytes before"
    assert lines[1].startswith("1368  68 69")  # 4968 = 0x1368
    caret = next(i for i, line in enumerate(lines) if "^^" in line)
    row_start = int(lines[caret - 1].split()[0], 16)
    assert data[5000] == int(lines[caret - 1].split()[1 + (5000 - row_start)], 16)
    assert lines[-1] == f"… {10240 - 5033} bytes after (10240 in all)"
    rows = [line for line in lines if line[0] != "…" and "^" not in line]
    shown = sum(len(line.split()) - 1 for line in rows)
    assert shown == 65  # 32 either side and the byte itself


def test_offset_past_the_end_and_at_the_start() -> None:
    data = bytes(1000)
    lines = hex_excerpt(data, 5000)
    assert lines[0] == "… 968 bytes before" and lines[-1].endswith("^^ (end of input)")
    lines = hex_excerpt(data, 0)
    assert lines[0].startswith("0000  00") and lines[1] == "      ^^"
    assert lines[-1].startswith("… 967 bytes after")


def test_the_error_renders_its_excerpt_and_still_pickles() -> None:
    err = TruncatedError("p", ("a", 1), 3, "short")
    assert err.excerpt(b"\x01\x02\x03\x04") == ["0000  01 02 03 04", "               ^^"]
    assert str(err) == "p: a.1 at byte 3: short"
    again = pickle.loads(pickle.dumps(err))
    assert isinstance(again, DecodeError) and str(again) == str(err)
