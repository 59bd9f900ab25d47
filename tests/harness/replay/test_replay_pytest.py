"""``pytest --wireproof-replay FILE``: flows as items, sharded, deterministic under xdist."""

from __future__ import annotations

from pathlib import Path

import pytest

from wireproof.harness.replay.pcap import build_tcp_frame, write_pcap

REQUEST = bytes.fromhex("0001000000060103000a0002")
ANSWER = bytes.fromhex("00010000000701030400070008")
BAD_REQUEST = bytes.fromhex("0002000000060103000a0000")  # quantity 0 (MB-AP 6.3)
EXCEPTION = bytes.fromhex("000200000003018303")
STRAY = bytes.fromhex("00630000000701030400070008")  # transaction 99: never asked
RESET_LINK = bytes.fromhex("056405c00100000091f8")  # DNP3 RESET LINK STATES 0 -> 1 (IEEE 1815 9.2.4)
LINK_ACK = bytes.fromhex("0564050000000100f9c0")  # and its ACK


def connection(frames: list[tuple[float, bytes]], client: tuple[str, int],
               exchanges: list[tuple[bytes, bytes]], server: tuple[str, int] = ("10.0.0.3", 502)) -> None:
    seq = {True: 1000, False: 9000}

    def send(from_client: bool, payload: bytes = b"", flags: int = 0x18) -> None:
        src, dst = (client, server) if from_client else (server, client)
        t = 1000.0 + 0.01 * len(frames)
        frames.append((t, build_tcp_frame(payload, src=src, dst=dst, seq=seq[from_client],
                                          ack=seq[not from_client] if flags & 0x10 else 0, flags=flags)))
        seq[from_client] += len(payload) + (1 if flags & 0x03 else 0)

    send(True, flags=0x02)
    send(False, flags=0x12)
    send(True, flags=0x10)
    for request, response in exchanges:
        if request:
            send(True, request)
        send(False, response)
    send(True, flags=0x11)
    send(False, flags=0x11)
    send(True, flags=0x10)


@pytest.fixture
def plant(tmp_path: Path) -> Path:
    """Five flows: clean, a bounds violation, a response without request, clean (Modbus), and a clean
    DNP3 link reset (analysed since DNP3 has an analyzer)."""
    frames: list[tuple[float, bytes]] = []
    connection(frames, ("10.0.0.11", 40001), [(REQUEST, ANSWER)])
    connection(frames, ("10.0.0.12", 40002), [(REQUEST, ANSWER), (BAD_REQUEST, EXCEPTION)])
    connection(frames, ("10.0.0.13", 40003), [(REQUEST, ANSWER), (b"", STRAY)])
    connection(frames, ("fe80::14", 40004), [(REQUEST, ANSWER)], server=("fe80::3", 502))
    connection(frames, ("10.0.0.15", 40005), [(RESET_LINK, LINK_ACK)], server=("10.0.0.5", 20000))
    path = tmp_path / "plant.pcap"
    write_pcap(path, frames)
    return path


FLOW_ITEMS = [
    "flow[10.0.0.11:40001 -> 10.0.0.3:502]",
    "flow[10.0.0.12:40002 -> 10.0.0.3:502]",
    "flow[10.0.0.13:40003 -> 10.0.0.3:502]",
    "flow[[fe80:0000:0000:0000:0000:0000:0000:0014]:40004 -> [fe80:0000:0000:0000:0000:0000:0000:0003]:502]",
    "flow[10.0.0.15:40005 -> 10.0.0.5:20000]",
]


def names(reprec: pytest.HookRecorder) -> dict[str, str]:
    out = {}
    for rep in reprec.getreports("pytest_runtest_logreport"):
        if rep.when == "call":
            out[rep.nodeid.rsplit("::", 1)[-1]] = rep.outcome
    return out


def test_one_item_per_flow(pytester: pytest.Pytester, plant: Path) -> None:
    reprec = pytester.inline_run("--wireproof-replay", str(plant), "-p", "no:cacheprovider")
    assert len(reprec.getcalls("pytest_itemcollected")) == 6
    assert names(reprec) == {"[capture]": "passed", FLOW_ITEMS[0]: "passed", FLOW_ITEMS[1]: "failed",
                             FLOW_ITEMS[2]: "failed", FLOW_ITEMS[3]: "passed", FLOW_ITEMS[4]: "passed"}
    failed = {rep.nodeid.rsplit("::", 1)[-1]: str(rep.longrepr) for rep in reprec.getfailures()}
    assert "#14 error modbus.bounds [MB-AP 6.3]" in failed[FLOW_ITEMS[1]]
    assert "hex 0002000000060103000a0000 (offset 10)" in failed[FLOW_ITEMS[1]]
    assert "modbus.response-without-request" in failed[FLOW_ITEMS[2]]
    assert "bounds" not in failed[FLOW_ITEMS[2]]  # each item reports only its own flows
    props = {rep.nodeid.rsplit("::", 1)[-1]: dict(rep.user_properties)
             for rep in reprec.getreports("pytest_runtest_logreport") if rep.when == "call"}
    assert props[FLOW_ITEMS[1]]["wireproof.replay.errors"] == 1
    assert props[FLOW_ITEMS[0]]["wireproof.replay.messages"] == 2


def test_shards_group_flows(pytester: pytest.Pytester, plant: Path) -> None:
    reprec = pytester.inline_run("--wireproof-replay", str(plant), "--wireproof-replay-shards", "2",
                                 "-p", "no:cacheprovider")
    assert names(reprec) == {"[capture]": "passed", "flows[00001-00003]": "failed",
                             "flows[00004-00005]": "passed"}


def test_k_selects_flows(pytester: pytest.Pytester, plant: Path) -> None:
    reprec = pytester.inline_run("--wireproof-replay", str(plant), "-k", "10.0.0.11",
                                 "-p", "no:cacheprovider")
    assert names(reprec) == {FLOW_ITEMS[0]: "passed"}


def test_under_xdist(pytester: pytest.Pytester, plant: Path) -> None:
    result = pytester.runpytest_subprocess("--wireproof-replay", str(plant), "-n", "2",
                                           "-p", "no:cacheprovider", "-rf")
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(["*FAILED*flow?10.0.0.12:40002 -> 10.0.0.3:502?*",
                                 "*FAILED*flow?10.0.0.13:40003 -> 10.0.0.3:502?*"])


def test_bad_options_are_usage_errors(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result = pytester.runpytest("--wireproof-replay", str(tmp_path / "missing.pcap"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--wireproof-replay*no such file*"])
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"not a capture")
    result = pytester.runpytest("--wireproof-replay", str(junk))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*not a capture*"])


# --- pytest --wireproof-replay DIR: one item per capture (issue 11) -----------------------------


@pytest.fixture
def capture_dir(tmp_path: Path) -> Path:
    """Four captures (clean, a bounds violation, clean, damaged), one of them unreadable, and a note."""
    folder = tmp_path / "captures"
    folder.mkdir()
    for name, exchanges in (("a-clean", [(REQUEST, ANSWER)]), ("b-bounds", [(BAD_REQUEST, EXCEPTION)]),
                            ("c-clean", [(REQUEST, ANSWER)]), ("d-cut", [(REQUEST, ANSWER)] * 3)):
        frames: list[tuple[float, bytes]] = []
        connection(frames, ("10.0.0.11", 40001), exchanges)
        write_pcap(folder / f"{name}.pcap", frames)
    data = (folder / "d-cut.pcap").read_bytes()
    (folder / "d-cut.pcap").write_bytes(data[:-7])
    (folder / "e-junk.pcap").write_bytes(b"not a capture at all")
    (folder / "README.md").write_text("# plant captures\n")
    return folder


DIR_ITEMS = {"a-clean.pcap": "passed", "b-bounds.pcap": "failed", "c-clean.pcap": "passed",
             "d-cut.pcap": "failed", "e-junk.pcap": "failed"}


def by_file(reprec: pytest.HookRecorder) -> dict[str, str]:
    return {Path(rep.nodeid.split("::")[0]).name: rep.outcome
            for rep in reprec.getreports("pytest_runtest_logreport") if rep.when == "call"}


def test_a_directory_makes_one_item_per_capture(pytester: pytest.Pytester, capture_dir: Path) -> None:
    reprec = pytester.inline_run("--wireproof-replay", str(capture_dir), "-p", "no:cacheprovider")
    assert len(reprec.getcalls("pytest_itemcollected")) == 5
    assert by_file(reprec) == DIR_ITEMS
    assert {rep.nodeid.rsplit("::", 1)[-1] for rep in reprec.getreports("pytest_runtest_logreport")} == \
        {"[replay]"}
    failed = {Path(rep.nodeid.split("::")[0]).name: str(rep.longrepr) for rep in reprec.getfailures()}
    assert "error modbus.bounds [MB-AP 6.3]" in failed["b-bounds.pcap"]
    assert "d-cut.pcap is damaged, analysed only up to the damage: truncated capture" in failed["d-cut.pcap"]
    assert "e-junk.pcap cannot be replayed" in failed["e-junk.pcap"]
    assert "Traceback" not in failed["e-junk.pcap"]
    props = {Path(rep.nodeid.split("::")[0]).name: dict(rep.user_properties)
             for rep in reprec.getreports("pytest_runtest_logreport") if rep.when == "call"}
    assert props["a-clean.pcap"]["wireproof.replay.messages"] == 2
    assert props["a-clean.pcap"]["wireproof.replay.flows"] == 1


@pytest.mark.parametrize("dist", ["load", "loadfile"])
def test_a_directory_under_xdist(pytester: pytest.Pytester, capture_dir: Path, dist: str) -> None:
    result = pytester.runpytest_subprocess("--wireproof-replay", str(capture_dir), "-n", "2", "--dist", dist,
                                           "-p", "no:cacheprovider", "-rf", "-v")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(["*FAILED*b-bounds.pcap::?replay?*"])
    # Both workers took captures: the set is spread, one capture per item.
    workers = {line.split("]")[0] for line in result.outlines if "[gw" in line and "[replay]" in line}
    assert workers == {"[gw0", "[gw1"}, result.outlines


def test_an_empty_directory_is_a_usage_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = pytester.runpytest("--wireproof-replay", str(tmp_path / "empty"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--wireproof-replay*no capture in the directory*"])
