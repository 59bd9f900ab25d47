"""The recorded peer captures (fixtures/modbus/captures) and the pcap reader.

Every capture is read with :mod:`wireproof.harness.replay.capture`, each TCP
direction reassembled (in order, sequence numbers continuous), framed with
the Modbus/TCP framer and every ADU decoded: requests client -> server,
responses server -> client, zero decode errors and no bytes left over. Each
capture has a TOML sidecar naming the peer, its version and the command.
"""

from __future__ import annotations

import struct
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wireproof import codecs
from wireproof.codecs.modbus import messages as M
from wireproof.errors import FixtureError
from wireproof.harness.replay.capture import iter_capture as read_frames
from wireproof.harness.replay.dissector import tcp_streams
from wireproof.harness.replay.pcap import LINKTYPE_ETHERNET, build_tcp_frame, write_pcap

CAPTURES = Path(str(resources.files("wireproof.fixtures") / "modbus" / "captures"))
PCAPS = sorted(CAPTURES.glob("*.pcapng"))
SIDECAR_KEYS = {"peer", "peer_version", "peer_role", "command", "date", "wireproof_version", "description",
                "server_port", "adus", "framing", "capture"}


def test_the_three_peer_sessions_are_there() -> None:
    assert {p.stem for p in PCAPS} >= {"pymodbus-client_wireproof-server", "wireproof-client_pymodbus-server",
                                       "mbpoll_wireproof-server"}


def _sidecar(pcap: Path) -> dict[str, Any]:
    side = pcap.with_suffix(".toml")
    assert side.is_file(), f"{pcap.name} has no sidecar {side.name}"
    return tomllib.loads(side.read_text())


@pytest.mark.parametrize("pcap", PCAPS, ids=[p.stem for p in PCAPS])
def test_sidecar_names_peer_version_command(pcap: Path) -> None:
    meta = _sidecar(pcap)
    assert set(meta) >= SIDECAR_KEYS, SIDECAR_KEYS - set(meta)
    assert meta["capture"] == pcap.name
    for key in ("peer", "peer_version", "command", "date", "wireproof_version"):
        assert isinstance(meta[key], str) and meta[key].strip(), key
    assert pcap.stat().st_size < 64 * 1024, "captures are committed: keep them small"


@pytest.mark.parametrize("pcap", PCAPS, ids=[p.stem for p in PCAPS])
def test_every_adu_decodes(pcap: Path) -> None:
    meta = _sidecar(pcap)
    port = meta["server_port"]
    tcp = codecs.get("modbus-tcp")
    streams = tcp_streams(read_frames(pcap), port=port)
    assert streams, "no TCP traffic on the server port"
    requests: dict[tuple[str, int], list[M.TcpAdu]] = {}
    responses: dict[tuple[str, int], list[M.TcpAdu]] = {}
    for stream in streams:
        to_server = stream.dst[1] == port
        client = stream.src if to_server else stream.dst
        framer = tcp.framer()
        framer.feed(stream.data)
        out = (requests if to_server else responses).setdefault(client, [])
        while (frame := framer.next_frame()) is not codecs.NEED_DATA:
            assert isinstance(frame, bytes)
            adu = tcp.decode_request(frame) if to_server else tcp.decode_response(frame)
            assert tcp.encode(adu) == frame  # re-encodes to the peer's exact bytes
            out.append(adu)
        assert framer.buffered == 0, f"{stream.src}->{stream.dst}: a partial ADU at the end"
    total = sum(map(len, requests.values())) + sum(map(len, responses.values()))
    assert total == meta["adus"]
    for client, reqs in requests.items():  # one response per request, same transaction and function
        resps = responses.get(client, [])
        assert [(r.transaction_id, r.pdu.function_code) for r in reqs] == \
            [(r.transaction_id, r.pdu.function_code) for r in resps]


# --- the reader itself ------------------------------------------------------------------


def _conversation(tmp_path: Path, seqs: list[int]) -> Path:
    c, s = ("127.0.0.1", 40000), ("127.0.0.1", 502)
    frames = [build_tcp_frame(b"", src=c, dst=s, seq=99, flags=0x02)]
    frames += [build_tcp_frame(bytes([i]) * 3, src=c, dst=s, seq=seq) for i, seq in enumerate(seqs)]
    path = tmp_path / "conv.pcap"
    write_pcap(path, [(1.5 + i, f) for i, f in enumerate(frames)])
    return path


def test_pcap_round_trip_and_reassembly(tmp_path: Path) -> None:
    path = _conversation(tmp_path, [100, 103, 106])
    frames = list(read_frames(path))
    assert [f.linktype for f in frames] == [LINKTYPE_ETHERNET] * 4
    assert frames[1].timestamp == pytest.approx(2.5)
    (stream,) = tcp_streams(frames)
    assert stream.data == b"\x00" * 3 + b"\x01" * 3 + b"\x02" * 3
    assert stream.src == ("127.0.0.1", 40000)


def test_retransmission_is_dropped(tmp_path: Path) -> None:
    c, s = ("127.0.0.1", 40000), ("127.0.0.1", 502)
    frame = build_tcp_frame(b"abc", src=c, dst=s, seq=1)
    path = tmp_path / "re.pcap"
    write_pcap(path, [(1.0, frame), (2.0, frame)])
    assert tcp_streams(read_frames(path))[0].data == b"abc"


@pytest.mark.parametrize("seqs", [[100, 104], [100, 102]], ids=["gap", "overlap"])
def test_sequence_discontinuity_is_a_fixture_error(tmp_path: Path, seqs: list[int]) -> None:
    with pytest.raises(FixtureError, match="expected"):
        tcp_streams(read_frames(_conversation(tmp_path, seqs)))


@pytest.mark.parametrize("mangle", [
    lambda b: b[:3],  # shorter than any magic
    lambda b: b"\x00\x00\x00\x00" + b[4:],  # unknown magic
    lambda b: b[:20],  # pcap global header truncated
    lambda b: b[:30],  # record header truncated
    lambda b: b[:24] + struct.pack("<IIII", 0, 0, 10_000, 10_000) + b[40:],  # record past the end
], ids=["tiny", "magic", "global-header", "record-header", "record-length"])
def test_bad_pcap_is_a_fixture_error(tmp_path: Path, mangle: Any) -> None:
    good = _conversation(tmp_path, [100]).read_bytes()
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(mangle(good))
    with pytest.raises(FixtureError):
        list(read_frames(bad))


def test_bad_pcapng_is_a_fixture_error(tmp_path: Path) -> None:
    good = PCAPS[0].read_bytes()
    for name, data in {
        "truncated": good[: len(good) - 10],
        "trailing-length": good[:8] + good[8:-4] + b"\x00\x00\x00\x00",
        "byte-order": good[:8] + b"\x00\x00\x00\x00" + good[12:],
    }.items():
        bad = tmp_path / f"{name}.pcapng"
        bad.write_bytes(data)
        with pytest.raises(FixtureError):
            list(read_frames(bad))


def test_missing_file_is_a_fixture_error(tmp_path: Path) -> None:
    with pytest.raises(FixtureError, match="cannot read"):
        list(read_frames(tmp_path / "absent.pcapng"))
