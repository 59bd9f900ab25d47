"""A protocol from outside wireproof: one package plus one entry point, and every neutral command serves it.

The package is tests/third_party/toyproto (codec, framer, passive analyzer,
request/answer correlation, a machine, a conformance suite with parameters,
a reference server, a benchmark, a transport scheme). Each test installs it
as a distribution on a temporary path — the package and a ``dist-info``
whose ``entry_points.txt`` holds the one line
``toy = toyproto.protocol:DESCRIPTOR`` in the ``wireproof.protocols`` group —
and runs ``wireproof`` in a fresh process that finds it through
importlib.metadata, as it would find a package installed with pip. No
wireproof module names it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wireproof.harness.replay.pcap import build_tcp_frame, write_pcap

HERE = Path(__file__).parent
TOY = HERE / "third_party" / "toyproto"
SYN, FIN, ACK, PSH = 0x02, 0x01, 0x10, 0x08


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory that holds the toy package as an installed distribution."""
    root = tmp_path_factory.mktemp("site")
    shutil.copytree(TOY, root / "toyproto")
    info = root / "toyproto-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyproto\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[wireproof.protocols]\ntoy = toyproto.protocol:DESCRIPTOR\n")
    return root


def wireproof(site: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "wireproof", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=site)


@pytest.fixture
def toy_server(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The toy package's own reference server, on 127.0.0.1 (imported from the installed copy)."""
    monkeypatch.syspath_prepend(str(site))
    from toyproto.device import running

    with running() as address:
        yield f"{address.host}:{address.port}"


def toy(key: int, payload: bytes) -> bytes:
    return b"T" + bytes((key, len(payload))) + payload


def capture(path: Path, port: int, exchanges: list[tuple[bytes, bytes]]) -> Path:
    """A pcap of one TCP connection to ``port``: handshake, the exchanges, close."""
    client, server = ("10.0.0.9", 40000), ("10.0.0.3", port)
    seq = {True: 1000, False: 9000}
    frames: list[tuple[float, bytes]] = []

    def send(from_client: bool, payload: bytes = b"", flags: int = PSH | ACK) -> None:
        src, dst = (client, server) if from_client else (server, client)
        ack = seq[not from_client] if flags & ACK else 0
        data = build_tcp_frame(payload, src=src, dst=dst, seq=seq[from_client], ack=ack, flags=flags)
        frames.append((1000.0 + len(frames) / 100, data))
        seq[from_client] += len(payload) + (1 if flags & (SYN | FIN) else 0)

    send(True, flags=SYN)
    send(False, flags=SYN | ACK)
    send(True, flags=ACK)
    for request, answer in exchanges:
        send(True, request)
        send(False, answer)
    send(True, flags=FIN | ACK)
    send(False, flags=FIN | ACK)
    send(True, flags=ACK)
    write_pcap(path, frames)
    return path


def test_decode(site: Path) -> None:
    out = wireproof(site, "decode", "toy", "5401026869", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"type": "ToyMessage", "key": 1, "payload": "6869"}
    bad = wireproof(site, "decode", "toy", "5401056869")
    assert bad.returncode == 1 and "TruncatedError: toy" in bad.stderr


@pytest.mark.suite_run
def test_suites_and_certify(site: Path, toy_server: str) -> None:
    listed = wireproof(site, "suites")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split()[:4] for line in listed.stdout.splitlines()]
    assert ["toy-server", "2", "clauses", "toy"] in rows
    # against its own reference server (the suite starts it), then through its own toy:// scheme
    for args in ([], ["--toy-key", "9", "--param", "greeting=hi"], ["--target", f"toy://{toy_server}"]):
        run = wireproof(site, "certify", "toy-server", "--report", "rep", *args)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "toy-server: 2 clauses: 2 pass" in run.stdout
    bad = wireproof(site, "certify", "toy-server", "--param", "key=300")
    assert bad.returncode == 2 and "--param key=300: a TOY key is 0..255" in bad.stderr
    helped = wireproof(site, "certify", "toy-server", "--help")
    assert "parameters of toy-server" in helped.stdout and "--toy-key" in helped.stdout


def test_simulate_and_bench(site: Path) -> None:
    helped = wireproof(site, "simulate", "toy-server", "--help")
    assert helped.returncode == 0 and "--bind" in helped.stdout
    listed = wireproof(site, "simulate", "--help")
    assert "toy-server" in listed.stdout and "modbus-server" in listed.stdout
    bench = wireproof(site, "bench", "toy", "--quick", "--json")
    assert bench.returncode == 0, bench.stderr
    assert json.loads(bench.stdout)["toy_decode_per_second"] > 0


def test_replay_and_send(site: Path, tmp_path: Path, toy_server: str) -> None:
    good = [(toy(1, b"abc"), toy(1, b"ABC")), (toy(2, b"hi"), toy(2, b"HI"))]
    recorded = capture(tmp_path / "toy.pcap", 7777, good)
    out = wireproof(site, "replay", str(recorded), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["messages"] == {"toy": 4} and doc["flows"][0]["status"] == "analysed"
    # a wrong answer, on a port nobody registered: recognised by content, judged by the toy's rule
    wrong = capture(tmp_path / "wrong.pcap", 8888, [(toy(1, b"abc"), toy(1, b"xyz"))])
    out = wireproof(site, "replay", str(wrong), "--json")
    assert out.returncode == 1
    assert [f["rule"] for f in json.loads(out.stdout)["findings"]] == ["toy.wrong-answer"]
    # the recorded client side sent to the toy's live reference server: every answer identical
    sent = wireproof(site, "replay", str(recorded), "--send", f"tcp://{toy_server}", "--json")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    verdicts = json.loads(sent.stdout)["verdicts"]
    assert verdicts == {"identical": 2, "differs": 0, "missing": 0, "unexpected": 0}


def test_its_machine_is_driven_by_the_totality_test(site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("PYTEST_ADDOPTS", None)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                          str(HERE / "codecs" / "test_machines.py"), "-k", "ToyLink"],
                         capture_output=True, text=True, env=env, timeout=300, cwd=HERE.parent)
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout + run.stderr
