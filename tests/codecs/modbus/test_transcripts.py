"""Golden transcripts of the Modbus client machine (testdata/client_*.txt).

The same transcript format and runner as the consensus workbench
(:mod:`wireproof.transcript`), driven by :class:`wireproof.codecs.modbus.transcript.ClientDriver`.
Regenerate after an intended change with
``WIREPROOF_REWRITE=1 pytest tests/codecs/modbus/test_transcripts.py`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wireproof.codecs.modbus.transcript import ClientDriver
from wireproof.harness.transcripts import check_transcript
from wireproof.transcript import check_script

TESTDATA = Path(__file__).parent / "testdata"
FILES = sorted(TESTDATA.glob("client_*.txt"))


def test_the_transcripts_exist() -> None:
    assert {p.name for p in FILES} >= {"client_tcp.txt", "client_rtu.txt"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_golden_transcript(path: Path) -> None:
    result = check_transcript(path, ClientDriver)
    assert result.ok, f"transcript differs (WIREPROOF_REWRITE=1 regenerates):\n{result.diff()}"


def test_a_changed_output_is_a_mismatch() -> None:
    result = check_script("request 1 03 0000 0001\n----\nsend tid=1 00\n", ClientDriver())
    assert not result.ok and "+send tid=1 00 01 00 00 00 06 01 03 00 00 00 01" in result.diff()
