"""``wireproof bench replay``: the JSON report's shape, the checks, and the capture it builds.

Speed is not asserted (it depends on the machine); what is asserted is that
each tool read the whole capture (the correctness checks), that the report
names the goals, that the generated capture holds exactly what its
description says (frames, messages, findings) as the replay engine counts
them, and that a protocol of a third-party package is benchmarked through
its descriptor's traffic alone (``--protocol``).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from wireproof.codecs._analysis import FlowContext, Sink
from wireproof.harness.bench import SCHEMA, Check
from wireproof.harness.bench.modbus_traffic import TRAFFIC, write_modbus_capture
from wireproof.harness.bench.replay import cached_capture, load_traffic, render_text, run, with_traffic
from wireproof.harness.bench.traffic import Clock, DataLayout, GeneratedCapture, TcpFlow, write_pcap
from wireproof.harness.cli import main
from wireproof.harness.replay import engine
from wireproof.harness.replay.run import replay
from wireproof.harness.replay.summary import to_json
from wireproof.protocol import AnalyzerEntry, ProtocolDescriptor, ProtocolRegistry


@pytest.fixture(scope="module")
def quick_json() -> tuple[int, dict[str, Any]]:
    """The bench in a process of its own, as a user runs it: each replay round is a fork of it, whose
    peak RSS starts at what the forking process holds (a long-lived test worker: hundreds of MiB)."""
    done = subprocess.run([sys.executable, "-m", "wireproof", "bench", "replay", "--quick", "--json",
                           "--protocol", "modbus-tcp"], capture_output=True, text=True, timeout=300)
    return done.returncode, json.loads(done.stdout)


def test_quick_json_is_well_formed(quick_json: tuple[int, dict[str, Any]]) -> None:
    code, report = quick_json
    assert code == 0
    assert report["schema"] == SCHEMA
    assert report["suite"] == "replay" and report["operations"] == ["replay"]
    assert report["settings"]["quick"] is True and report["settings"]["frames"] == 50_000
    assert report["settings"]["build"] == ("python" if engine.__file__.endswith(".py") else "mypyc")
    assert report["libraries"]["wireproof"]["version"].endswith(f"({report['settings']['build']})")
    assert report["frames"]["frames"] == 50_000
    assert report["frames"]["requests"] + report["frames"]["responses"] < 50_000
    assert report["libraries"]["wireproof"]["available"] is True
    assert report["checks_ok"] is True
    results = {row["library"]: row for row in report["results"]}
    assert results["wireproof"]["frames_per_second"] > 0
    rows = {row["peer"]: row for row in report["ratios"]}
    assert {p: r["goal"] for p, r in rows.items()} == {"tshark": 1.0, "scapy": 10.0}
    for peer, row in rows.items():
        if report["libraries"][peer]["available"]:
            assert isinstance(row["ratio"], float) and isinstance(row["met"], bool)
        else:  # tshark or scapy absent: reported, not measured
            assert row["ratio"] is None and report["libraries"][peer]["reason"]


def test_quick_json_has_both_wireproof_ways_their_rss_and_ratios(
        quick_json: tuple[int, dict[str, Any]]) -> None:
    _, report = quick_json
    libraries = report["libraries"]
    workers = report["settings"]["workers"]
    assert workers >= 2 and libraries["wireproof-workers"]["workers"] == workers
    results = {row["library"]: row for row in report["results"]}
    for name in ("wireproof", "wireproof-workers"):
        assert libraries[name]["frames"] == 50_000 and results[name]["frames_per_second"] > 0
        # the replay's own peak RSS (a forked child and what it starts): tens of MiB, not the bench's
        assert 10 * 1024 < libraries[name]["peak_rss_kib"] < 200 * 1024
        assert report["extra"]["peak_rss_mib"][name] == round(libraries[name]["peak_rss_kib"] / 1024, 1)
    assert [c["ok"] for c in report["checks"] if c["library"] == "wireproof-workers"] == [True]
    if libraries["tshark"]["available"]:
        assert libraries["tshark"]["peak_rss_kib"] > 0
        ratios = report["extra"]["ratio_to_tshark"]
        tshark = results["tshark"]["frames_per_second"]
        for name in ("wireproof", "wireproof-workers"):
            assert ratios[name] == round(results[name]["frames_per_second"] / tshark, 3)
        assert ratios["wireproof"] == {r["peer"]: r for r in report["ratios"]}["tshark"]["ratio"]


def test_bench_workers_must_be_two_or_more() -> None:
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["bench", "replay", "--workers", "1"]) == 2
    assert "--workers must be at least 2" in err.getvalue()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_reads_every_frame(quick_json: tuple[int, dict[str, Any]]) -> None:
    _, report = quick_json
    (check,) = [c for c in report["checks"] if c["library"] == "tshark"]
    assert check["ok"] and check["frames"] == 50_000


def test_scapy_is_sampled_and_says_so(quick_json: tuple[int, dict[str, Any]]) -> None:
    _, report = quick_json
    scapy = report["libraries"]["scapy"]
    if not scapy["available"]:
        pytest.skip(scapy["reason"])
    assert scapy["extrapolated"] is True and scapy["frames"] == report["settings"]["scapy_sample_frames"]
    assert [c["ok"] for c in report["checks"] if c["library"] == "scapy"] == [True]


def test_generated_capture_is_what_it_says(tmp_path: Path) -> None:
    capture = write_modbus_capture(tmp_path / "c.pcap", 30_011, concurrent=4, per_flow=1500)
    assert capture.frames == 30_011 and capture.path.stat().st_size == capture.bytes
    counts = capture.counts
    assert counts["exceptions"] and counts["orphan_responses"] and counts["retransmissions"]
    assert capture.messages == counts["requests"] + counts["responses"]
    result = replay(capture.path, analytics=False)
    assert result.frames == capture.frames
    assert result.messages["modbus-tcp"] == capture.messages
    assert result.flows_total == capture.flows
    assert result.decode_errors == {} and result.malformed_frames == 0
    rules = {f.rule for f in result.findings}
    assert rules == set(capture.findings) == {"modbus.exception-response", "modbus.response-without-request",
                                              "modbus.unanswered-request", "tcp.retransmission"}
    document = to_json(result)
    assert TRAFFIC.check(capture, document).ok
    # the check can fail: one finding fewer than the capture holds
    fewer = {**document, "findings_by_rule": {**document["findings_by_rule"], "tcp.retransmission": 0}}
    failed = TRAFFIC.check(capture, fewer)
    assert not failed.ok and "tcp.retransmission" in failed.detail


def test_capture_is_cached(tmp_path: Path) -> None:
    first = cached_capture(1000, tmp_path, traffic=TRAFFIC)
    assert first.path.name == "modbus-tcp-1000.pcap" and first.protocol == "modbus-tcp"
    stamp = first.path.stat().st_mtime_ns
    again = cached_capture(1000, tmp_path, traffic=TRAFFIC)
    assert again == first and again.path.stat().st_mtime_ns == stamp
    first.path.write_bytes(b"")  # damaged: written again
    assert cached_capture(1000, tmp_path, traffic=TRAFFIC).path.stat().st_size == first.bytes


def test_render_text_without_peers(tmp_path: Path) -> None:
    report = run(frames=2000, directory=tmp_path, libraries=("wireproof",), traffic=TRAFFIC)
    text = render_text(report, traffic=TRAFFIC)
    assert "2,000 frames of Modbus/TCP" in text and "wireproof/" not in text
    assert report.checks_ok


def test_rounds_alternate_and_keep_the_best(tmp_path: Path) -> None:
    said: list[str] = []
    report = run(frames=2_000, directory=tmp_path, libraries=("wireproof",), rounds=3, progress=said.append)
    timings = [t for t in said if t.startswith("timing")]
    assert timings == [f"timing wireproof (round {i} of 3)" for i in (1, 2, 3)]
    (timing,) = report.timings
    assert timing.samples == 3 and report.settings["runs"] == 3
    assert timing.frames_per_second >= timing.median_frames_per_second > 0
    assert "best of 3" in render_text(report)


def test_rounds_must_be_positive() -> None:
    with contextlib.redirect_stderr(io.StringIO()) as err:
        assert main(["bench", "replay", "--rounds", "0"]) == 2
    assert "--rounds must be at least 1" in err.getvalue()


def test_profile_stages_and_layers(tmp_path: Path) -> None:
    from wireproof.harness.bench.replay import profile

    text = profile(frames=3_000, top=5, directory=tmp_path)
    for stage in ("reader only", "reader + dissector", "full replay, analytics off",
                  "full replay, analytics in this process", "full replay, analytics in a second process"):
        assert stage in text
    assert "cProfile own time per layer" in text and "passive analyzer" in text


# --- a third-party protocol's traffic -----------------------------------------------------------

TOY_PORT = 7777
_TOY = DataLayout("3sBI")  # "TOY", 1 from the client / 2 from the server, a counter: 8 bytes


class ToyAnalyzer:
    """A toy protocol's passive analyzer: every 8 bytes of a direction are one message."""

    def __init__(self, flow: FlowContext, sink: Sink) -> None:
        self.flow, self.sink = flow, sink
        self.pending = {True: 0, False: 0}

    def on_data(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        whole, self.pending[from_client] = divmod(self.pending[from_client] + len(data), 8)
        for _ in range(whole):
            self.sink.message("toy", "ping" if from_client else "pong", frame, ts)

    def on_gap(self, from_client: bool, missing: int, frame: int, ts: float) -> None:
        self.pending[from_client] = 0

    def on_datagram(self, from_client: bool, data: bytes, frame: int, ts: float) -> None:
        raise AssertionError("the toy protocol runs over TCP")

    def on_close(self, frame: int, ts: float, how: str) -> None:
        pass


class ToyTraffic:
    """Connections of 50 ping/pong exchanges, one after another, built on the neutral TCP frames."""

    name = "toy"
    title = "Toy/TCP"
    server_port = TOY_PORT
    headline = ("messages",)
    analyzer_modules = (__name__,)  # where ToyAnalyzer lives

    def write(self, path: Path, frames: int) -> GeneratedCapture:
        counts = {"flows": 0, "messages": 0}

        def records() -> Iterator[bytes]:
            clock = Clock()
            for index in itertools.count():
                flow = TcpFlow(index, TOY_PORT)
                counts["flows"] += 1
                yield from flow.open(clock)
                for n in range(50):
                    for side in (1, 2):
                        counts["messages"] += 1
                        yield flow.data(clock, side == 1, _TOY, b"TOY", side, n)
                yield from flow.close(clock)

        written, size = write_pcap(path, records(), frames)
        return GeneratedCapture(path=path, protocol=self.name, frames=written, bytes=size,
                                flows=counts["flows"], messages=counts["messages"],
                                counts={"messages": counts["messages"]})

    def check(self, capture: GeneratedCapture, document: Mapping[str, Any]) -> Check:
        messages = document["messages"].get(self.name, 0)
        ok = (document["frames"] == capture.frames and messages == capture.messages
              and document["findings_by_rule"] == capture.findings)
        return Check(library="wireproof", operation="replay", ok=ok, frames=document["frames"],
                     detail=f"{document['frames']} frames, {messages} toy messages "
                     f"(expected {capture.messages})")

    def scapy_layers(self) -> tuple[Any, ...]:
        return ()  # Scapy has no layer for it

    def scapy_check(self, sample: GeneratedCapture, packets: int, layered: int) -> Check:
        raise AssertionError("never called: Scapy has no layer")


TOY = ProtocolDescriptor(name="toy", title="a toy protocol of a third-party package", analyzers=(
    AnalyzerEntry(name="toy", ports=(TOY_PORT,), analyzer="wireproof_toy_bench:ToyAnalyzer",
                  traffic="wireproof_toy_bench:TRAFFIC", description="toy"),))


@pytest.fixture
def toy(protocol_registry: ProtocolRegistry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The toy protocol registered, as an installed package's entry point would; captures in tmp_path."""
    module = types.ModuleType("wireproof_toy_bench")
    module.ToyAnalyzer = ToyAnalyzer  # type: ignore[attr-defined]
    module.TRAFFIC = ToyTraffic()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the benchmark's default directory
    protocol_registry.register(TOY)


@pytest.mark.parametrize("tshark", ["as installed", "absent"])
def test_a_third_party_protocol_is_benchmarked(toy: None, tshark: str, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    if tshark == "absent":
        which = shutil.which
        monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "tshark" else which(name))
    frames = 1_234  # a handshake, 50 exchanges and a close per connection; cut in the middle of one
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["bench", "replay", "--protocol", "toy", "--quick", "--frames", str(frames), "--json"])
    assert code == 0, err.getvalue()
    report = json.loads(out.getvalue())
    described = report["frames"]
    assert described["path"] == str(tmp_path / "wireproof-bench-replay" / f"toy-{frames}.pcap")
    assert described["frames"] == frames and described["flows"] == 12  # 11 whole connections of 107 frames
    assert described["messages"] == 11 * 100 + (frames - 11 * 107 - 3)
    checks = {c["library"]: c for c in report["checks"]}
    assert checks["wireproof"]["ok"] and checks["wireproof"]["frames"] == frames
    assert f"{described['messages']} toy messages" in checks["wireproof"]["detail"]
    libraries = report["libraries"]
    assert libraries["scapy"] == {"available": False, "version": "",
                                  "reason": "Scapy has no layer for Toy/TCP"}
    if tshark == "absent" or shutil.which("tshark") is None:
        assert libraries["tshark"]["available"] is False
        assert libraries["tshark"]["reason"] == "tshark is not installed" and "tshark" not in checks
    else:  # tshark counts frames whatever their protocol
        assert checks["tshark"]["ok"] and checks["tshark"]["frames"] == frames
    assert report["checks_ok"] is True
    assert {r["peer"]: r["ratio"] is None for r in report["ratios"]} == {
        "tshark": tshark == "absent" or shutil.which("tshark") is None, "scapy": True}

    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(io.StringIO()):
        assert main(["bench", "replay", "--protocol", "toy", "--quick", "--frames", str(frames)]) == 0
    first = text.getvalue().splitlines()[0]
    assert first.startswith(f"wireproof bench replay: 1,234 frames of Toy/TCP (0.1 MB, 12 connections, "
                            f"{described['messages']:,} messages) in ")


def test_the_default_protocol_is_the_first_with_traffic(toy: None) -> None:
    # registry order (by protocol name): the first is the default
    assert with_traffic() == ["dnp3", "iec104", "modbus-tcp", "toy"]
    assert load_traffic() is load_traffic("dnp3")
    assert load_traffic("modbus") is TRAFFIC  # the protocol's name too
    assert isinstance(load_traffic("toy"), ToyTraffic)


def test_toy_profile_counts_its_analyzer(toy: None, tmp_path: Path) -> None:
    from wireproof.harness.bench.replay import profile

    text = profile(frames=2_000, top=5, directory=tmp_path, traffic=load_traffic("toy"))
    layers = text.split("cProfile own time per layer", 1)[1].split("\n\n", 1)[0]
    assert "passive analyzer (framing, pairing)" in layers


@pytest.mark.parametrize(("name", "why"), [
    ("nosuch", "no protocol 'nosuch' with traffic"),
    ("portonly", "no protocol 'portonly' with traffic"),  # registered, but no traffic
])
def test_protocol_without_traffic_is_a_usage_error(toy: None, protocol_registry: ProtocolRegistry,
                                                   name: str, why: str) -> None:
    protocol_registry.register(ProtocolDescriptor(name="portonly", title="known by its port", analyzers=(
        AnalyzerEntry(name="portonly", ports=(20000,)),)))
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()) as out:
        assert main(["bench", "replay", "--protocol", name, "--quick"]) == 2
    assert why in err.getvalue() and "protocols with traffic: dnp3, iec104, modbus-tcp, toy" in err.getvalue()
    assert out.getvalue() == ""


def test_traffic_that_does_not_fit_its_entry_is_refused(toy: None,
                                                        protocol_registry: ProtocolRegistry) -> None:
    misfit = AnalyzerEntry(name="misfit", ports=(20001,), traffic="wireproof_toy_bench:TRAFFIC")
    protocol_registry.register(ProtocolDescriptor(name="misfit", title="wrong port", analyzers=(misfit,)))
    with pytest.raises(ValueError, match="does not fit its entry"):
        load_traffic("misfit")
