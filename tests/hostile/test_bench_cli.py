"""``wireproof bench`` options that would make a benchmark never end are usage errors (exit 2)."""

from __future__ import annotations

import pytest

from wireproof.harness import cli
from wireproof.harness.exitcodes import USAGE


@pytest.mark.parametrize("seconds", ["inf", "nan", "-1", "0", "1e400"])
def test_seconds_must_be_finite_and_positive(seconds: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bench", "modbus", "--seconds", seconds]) == USAGE
    assert "--seconds: must be a finite number > 0" in capsys.readouterr().err
