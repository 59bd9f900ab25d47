"""Golden interaction transcripts (tests/consensus/testdata/*.txt).

Regenerate them after an intended change with ``WIREPROOF_REWRITE=1 pytest tests/consensus/sim``
and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wireproof.consensus.api import ClusterConfig
from wireproof.consensus.sim.transcript import Driver, run_script
from wireproof.errors import FixtureError
from wireproof.harness.transcripts import check_transcript, rewrite_requested

from .conftest import GossipFactory, PrimaryFactory

TESTDATA = Path(__file__).parent.parent / "testdata"
CONFIG = ClusterConfig(nodes=(1, 2, 3), seed=0, election_ticks=3)


def factory_for(name: str):
    if name.startswith("toy_primary"):
        return PrimaryFactory()
    if name.startswith("toy_gossip"):
        return GossipFactory()
    if name.startswith("multipaxos"):
        from wireproof.consensus.multipaxos import MultiPaxosFactory

        return MultiPaxosFactory()
    if name.startswith("paxos"):
        from wireproof.consensus.paxos import PaxosFactory

        return PaxosFactory()
    raise AssertionError(f"no factory for transcript {name}")


def run_transcript(path: Path, factory, config: ClusterConfig, *, rewrite: bool = False):
    return check_transcript(path, lambda: Driver(factory, config), rewrite=rewrite)


@pytest.mark.parametrize("path", sorted(TESTDATA.glob("*.txt")), ids=lambda p: p.name)
def test_golden_transcript(path: Path):
    result = run_transcript(path, factory_for(path.name), CONFIG, rewrite=rewrite_requested())
    assert result.ok, f"transcript differs (WIREPROOF_REWRITE=1 regenerates):\n{result.diff()}"


def test_transcripts_exist():
    names = {p.name for p in TESTDATA.glob("*.txt")}
    assert {"toy_primary.txt", "toy_gossip.txt"} <= names


def test_a_changed_output_is_a_mismatch(tmp_path: Path):
    path = tmp_path / "t.txt"
    path.write_text("propose 1 x\n----\n1 persist something-else\n")
    result = run_transcript(path, PrimaryFactory(), CONFIG)
    assert not result.ok and "-1 persist something-else" in result.diff()
    assert path.read_text() == "propose 1 x\n----\n1 persist something-else\n"
    rewritten = run_transcript(path, PrimaryFactory(), CONFIG, rewrite=True)
    assert rewritten.ok and path.read_text() == rewritten.actual
    assert run_transcript(path, PrimaryFactory(), CONFIG).ok


def test_script_output_shape():
    out = run_script("# c\npropose 2 x\n\npropose 1 x\n", PrimaryFactory(), CONFIG)
    assert out.splitlines() == [
        "# c", "propose 2 x", "----", "2 not leader (leader: 1)", "",
        "propose 1 x", "----",
        "1 persist Entry(slot=0, value='x')",
        "1->2 Entry(slot=0, value='x')",
        "1->3 Entry(slot=0, value='x')",
        "1 commit 0 'x'",
    ]


def test_crash_drops_messages_in_flight_to_the_node():
    d = Driver(GossipFactory(), CONFIG)
    d.run("propose 1 a")
    assert d.run("crash 2") == ["2 crashed (0 records persisted)", "1->2 'a' (lost: 2 is down)"]
    d.run("restart 2")
    assert d.run("inflight") == ["1->3 'a'"]


def test_rewrite_flag_and_bad_commands():
    assert rewrite_requested({"WIREPROOF_REWRITE": "1"})
    assert not rewrite_requested({}) and not rewrite_requested({"WIREPROOF_REWRITE": "0"})
    d = Driver(GossipFactory(), CONFIG)
    with pytest.raises(FixtureError, match="unknown command"):
        d.run("explode 1")
    with pytest.raises(FixtureError, match="no node 9"):
        d.run("crash 9")
