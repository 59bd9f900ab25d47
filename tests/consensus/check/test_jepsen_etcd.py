"""The Jepsen etcd histories (../shared/histories/jepsen-etcd): every known verdict, in seconds.

The folder is ``$WIREPROOF_SHARED/histories/jepsen-etcd`` or, by default,
``../shared/histories/jepsen-etcd`` next to the repository; the tests skip
when it is absent. ``verdicts.tsv`` lists each file and its verdict, as
published with the Porcupine checker's test data.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wireproof.consensus.check.lincheck import check_linearizable
from wireproof.harness.consensus.histories import load_history

SHARED = Path(os.environ.get("WIREPROOF_SHARED", Path(__file__).resolve().parents[4] / "shared"))
FOLDER = SHARED / "histories" / "jepsen-etcd"
VERDICTS_FILE = FOLDER / "verdicts.tsv"
VERDICTS: dict[str, str] = (
    dict(line.split("\t") for line in VERDICTS_FILE.read_text().splitlines() if line.strip())
    if VERDICTS_FILE.is_file() else {}
)
needs_set = pytest.mark.skipif(not VERDICTS, reason=f"no Jepsen etcd histories in {FOLDER}")


@needs_set
@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_known_verdict(name: str) -> None:
    result = check_linearizable(load_history(FOLDER / name))
    assert result.verdict == VERDICTS[name]
    if result.linearizable is False:
        # the witness is a small history that is itself not linearizable
        assert 0 < len(result.witness) <= 40
        assert check_linearizable(result.witness).linearizable is False


@needs_set
def test_whole_set_in_seconds() -> None:
    histories = {name: load_history(FOLDER / name) for name in sorted(VERDICTS)}
    start = time.perf_counter()
    right = sum(check_linearizable(h, witness=False).verdict == VERDICTS[name]
                for name, h in histories.items())
    checking = time.perf_counter() - start
    start = time.perf_counter()
    for h in histories.values():
        check_linearizable(h)
    with_witness = time.perf_counter() - start
    print(f"\njepsen-etcd: {right}/{len(histories)} verdicts right; checking {checking:.2f} s, "
          f"with witnesses {with_witness:.2f} s")
    assert right == len(histories)
    assert checking < 10 and with_witness < 20
