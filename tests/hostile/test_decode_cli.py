"""``wireproof decode`` with a huge input: the error shows a window around its offset (issue 9)."""

from __future__ import annotations

import pytest

from wireproof.harness.cli import main
from wireproof.harness.exitcodes import FAIL


@pytest.mark.parametrize("codec", ["modbus-tcp", "modbus-rtu", "modbus-ascii"])
def test_megabytes_of_hex_are_not_echoed(codec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Before: every byte of the input came back in the error, 32 a line (3 MB of text for 1 MB)."""
    size = 1 << 20
    assert main(["decode", codec, "0001000000060103000a0002" + "ab" * size]) == FAIL
    err = capsys.readouterr().err
    assert len(err) < 2_000, f"{len(err)} characters of error for {size} bytes"
    lines = err.splitlines()
    offset = int(next(line for line in lines if line.startswith("  offset:")).split()[-1])
    assert "^^" in err and lines[-1].startswith("  … ") and "in all)" in lines[-1]
    assert lines[4].startswith(f"  {max(0, offset - 32):04x}  ") or lines[4].startswith("  … ")
