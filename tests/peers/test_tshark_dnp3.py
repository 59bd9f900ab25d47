"""tshark as an independent dissector of DNP3: the dnp3 vectors are not self-confirming.

Every decodable vector of ``wireproof.fixtures:dnp3`` (a ``dnp3`` link frame
as it is, a ``dnp3-app`` fragment in the link frames wireproof builds for
it) goes in a UDP datagram to port 20000, where tshark 4.0 dissects DNP3 by
default (IEEE 1815-2012 Annex: the registered port), each from its own link
address so that tshark's reassembly never mixes two of them. tshark must
report the same link control, addresses, application function, IIN, object
groups/variations, qualifier codes and point indexes, and no malformed
packet or expert error. Vectors tagged ``tshark-gap`` are layouts tshark 4.0
gets wrong or does not know (g4v3, g43v3, g50v4; each vector's note says
which): only their link header, function and IIN are compared.
The shared DNP3 captures are compared the same way, packet by packet, with
wireproof's fragment framer; tshark's own reassembly faults there are pinned.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wireproof.codecs import get
from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.dnp3 import (
    ApplicationResponse,
    FragmentFramer,
    decode_fragment,
    encode_link,
    link_frames,
)
from wireproof.codecs.dnp3.library import OCTET_STRING_GROUPS
from wireproof.codecs.vectors import Vector
from wireproof.errors import DecodeError
from wireproof.harness.fixtures import load_vectors, vector_files
from wireproof.harness.replay.pcap import build_udp_frame, write_pcap
from wireproof.protocol import REGISTRY

pytestmark = pytest.mark.peer

TSHARK = shutil.which("tshark")
FIELDS = ["frame.number", "dnp3.ctl", "dnp3.dst", "dnp3.src", "dnp3.al.func", "dnp3.al.iin", "dnp3.al.obj",
          "dnp3.al.objq.prefix", "dnp3.al.objq.range", "dnp3.al.index", "dnp3.al.point_index",
          "_ws.malformed", "_ws.expert.severity", "_ws.expert.message"]
PI_ERROR = 0x00800000  # Wireshark's expert severity PI_ERROR (epan/proto.h)
CAPTURES = Path(__file__).resolve().parents[3] / "shared" / "captures" / "dnp3"


def _vectors() -> list[Vector]:
    out: list[Vector] = []
    for f in vector_files(REGISTRY.descriptor("dnp3")):
        out += [v for v in load_vectors(f) if v.error is None]
    return out


def _tshark(path: Path, fields: list[str]) -> list[dict[str, str]]:
    assert TSHARK is not None
    cmd = [TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=;"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True).stdout
    return [dict(zip(fields, line.split("\t"), strict=True)) for line in out.splitlines()]


def _ints(cell: str) -> list[int]:
    return [int(v, 0) for v in cell.split(";") if v]


@pytest.fixture(scope="module")
def dissected(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Vector, Any, bytes, dict[str, str]]]:
    if TSHARK is None:
        pytest.skip("tshark not installed (Debian package tshark)")
    link = get("dnp3")
    frames: list[tuple[float, bytes]] = []
    cases: list[tuple[Vector, Any, bytes]] = []
    for i, vec in enumerate(_vectors()):
        if vec.codec == "dnp3":
            wire = [vec.data]
            message = link.decode(vec.data).application
        else:
            message = get("dnp3-app").decode(vec.data)
            is_response = isinstance(message, ApplicationResponse)
            wire = [encode_link(f) for f in link_frames(vec.data, destination=1 if is_response else 10,
                                                         source=1000 + i, master=not is_response)]
            assert len(wire) == 1, f"{vec.id}: keep dnp3-app vectors to one segment"
        src, dst = ("10.0.0.2", 20000), ("10.0.0.1", 40000 + i)
        frames.append((1_700_000_000 + i / 1000, build_udp_frame(wire[0], src=src, dst=dst)))
        cases.append((vec, message, wire[0]))
    path = Path(tmp_path_factory.mktemp("tshark")) / "wireproof-dnp3.pcap"
    write_pcap(path, frames)
    rows = _tshark(path, FIELDS)
    assert len(rows) == len(cases)
    return [(*case, row) for case, row in zip(cases, rows, strict=True)]


def test_link_headers_agree(dissected: list[tuple[Vector, Any, bytes, dict[str, str]]]) -> None:
    for vec, _, wire, row in dissected:
        frame = get("dnp3").decode(wire)
        assert int(row["dnp3.ctl"], 0) == wire[3], (vec.id, row)
        assert (int(row["dnp3.dst"]), int(row["dnp3.src"])) == (frame.destination, frame.source), vec.id


def test_application_agrees(dissected: list[tuple[Vector, Any, bytes, dict[str, str]]]) -> None:
    checked = 0
    for vec, message, _, row in dissected:
        if message is None:
            # A segment that is not a whole fragment: tshark reassembles it with its neighbour vector
            # (the two segments of one fragment), wireproof's link codec leaves it to the reassembler.
            continue
        assert _ints(row["dnp3.al.func"]) == [int(message.function)], (vec.id, row)
        # tshark 4.0 dissects nothing after the function code of an AUTHENTICATE_RESP (131), its
        # IIN included: those vectors are tagged tshark-gap and say so.
        if isinstance(message, ApplicationResponse) and not (int(message.function) == 131
                                                             and "tshark-gap" in vec.tags):
            assert _ints(row["dnp3.al.iin"]) == [message.iin], (vec.id, row)
        # tshark shows octet strings (groups 110-113, whose variation is a length) as variation 0.
        objs = [h.group << 8 | (0 if h.group in OCTET_STRING_GROUPS else h.variation)
                for h in message.objects]
        if "tshark-gap" in vec.tags:  # the vector's note says what tshark 4.0 gets wrong
            continue
        # tshark shows no object headers of an ASSIGN_CLASS request (4.4.13): a tshark 4.0 gap.
        if int(message.function) == 22:
            continue
        assert _ints(row["dnp3.al.obj"]) == objs, (vec.id, row)
        assert _ints(row["dnp3.al.objq.prefix"]) == [h.qualifier >> 4 & 7 for h in message.objects], vec.id
        assert _ints(row["dnp3.al.objq.range"]) == [h.qualifier & 0xF for h in message.objects], vec.id
        prefixed = [p.index for h in message.objects if h.qualifier >> 4 & 7 in (1, 2, 3) for p in h.points]
        assert _ints(row["dnp3.al.index"]) == prefixed, (vec.id, prefixed, row["dnp3.al.index"])
        # tshark numbers the objects of a count without prefix from 0; wireproof gives them no index.
        ranged = [p.index if p.index is not None else k for h in message.objects if h.qualifier >> 4 & 7 == 0
                  for k, p in enumerate(h.points)]
        assert _ints(row["dnp3.al.point_index"]) == ranged, (vec.id, ranged, row["dnp3.al.point_index"])
        checked += 1
    assert checked >= 60


def test_no_malformed_or_expert_error(dissected: list[tuple[Vector, Any, bytes, dict[str, str]]]) -> None:
    bad = []
    for vec, _, _, row in dissected:
        if "tshark-gap" in vec.tags:
            continue
        severities = _ints(row["_ws.expert.severity"])
        if row["_ws.malformed"] or any(s >= PI_ERROR for s in severities):
            bad.append((vec.id, row["_ws.expert.message"]))
    assert not bad


# --- the shared captures, packet by packet ------------------------------------------------------------

CAPTURE_FIELDS = ["frame.number", "tcp.stream", "udp.stream", "ip.src", "tcp.srcport", "udp.srcport",
                  "tcp.payload", "udp.payload", "dnp3.al.func", "dnp3.al.obj", "dnp3.al.iin"]
# Where tshark 4.0 and wireproof differ, and why (each checked by hand with tshark -V).
PINNED = {
    # ASSIGN_CLASS: tshark dissects the function code, not the object headers after it.
    ("assign_class.pcap", 1): "tshark shows no objects of ASSIGN_CLASS",
    # Transport sequence 63 -> 0 (8.2.2: mod 64): tshark does not reassemble across the wrap.
    ("dnp3_example.pcap", 18): "tshark: no reassembly across transport seq 63 -> 0",
    ("dnp3_example.pcap", 114): "tshark: no reassembly across transport seq 63 -> 0",
    ("dnp3_example.pcap", 210): "tshark: no reassembly across transport seq 63 -> 0",
    ("dnp3_example.pcap", 810): "tshark: no reassembly across transport seq 63 -> 0",
    # tshark glues this FIR+FIN segment to an earlier fragment with the same transport sequence
    # ("conflicting data in fragment overlap") and shows a CONFIRM; it is a RESPONSE with g12v1.
    ("dnp3_example.pcap", 311): "tshark: reassembly overlap with an older fragment",
}


def test_shared_captures_agree() -> None:
    if TSHARK is None:
        pytest.skip("tshark not installed (Debian package tshark)")
    pcaps = sorted(CAPTURES.glob("*/*.pcap"))
    if not pcaps:
        pytest.skip(f"no DNP3 captures in {CAPTURES}")
    compared = 0
    mismatches = []
    for pcap in pcaps:
        framers: dict[tuple[str, ...], FragmentFramer] = {}
        for row in _tshark(pcap, CAPTURE_FIELDS):
            payload = row["tcp.payload"] or row["udp.payload"]
            if not payload:
                continue
            key = (row["tcp.stream"], row["udp.stream"], row["ip.src"],
                   row["tcp.srcport"] or row["udp.srcport"])
            framer = framers.setdefault(key, FragmentFramer())
            framer.feed(bytes.fromhex(payload))
            funcs: list[int] = []
            objs: list[int] = []
            iins: list[int] = []
            while True:
                try:
                    fragment = framer.next_frame()
                except DecodeError:
                    continue  # the zeek overflow capture: a fragment past the limit, then orphans
                if fragment is NEED_DATA:
                    break
                assert isinstance(fragment, bytes)
                message = decode_fragment(fragment)
                funcs.append(int(message.function))
                iins += [message.iin] if isinstance(message, ApplicationResponse) else []
                objs += [h.group << 8 | h.variation for h in message.objects]
            compared += 1
            theirs = (_ints(row["dnp3.al.func"]), _ints(row["dnp3.al.obj"]), _ints(row["dnp3.al.iin"]))
            if (funcs, objs, iins) != theirs and (pcap.name, int(row["frame.number"])) not in PINNED:
                mismatches.append((pcap.name, row["frame.number"], (funcs, objs, iins), theirs))
    assert compared > 500
    assert not mismatches
