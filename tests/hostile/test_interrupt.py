"""Ctrl-C is one line and exit 130, never a traceback (issue 9)."""

from __future__ import annotations

import argparse

import pytest

from wireproof.harness import cli
from wireproof.harness.exitcodes import INTERRUPTED


def test_ctrl_c_in_any_command_is_one_line_and_130(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(args: argparse.Namespace) -> int:
        raise KeyboardInterrupt

    module = cli._load("lincheck")
    monkeypatch.setattr(module, "run", interrupted)
    assert cli.main(["lincheck", "history.jsonl"]) == INTERRUPTED
    err = capsys.readouterr().err
    assert err == "wireproof lincheck: interrupted\n"
