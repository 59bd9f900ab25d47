"""IEC 104 codec benchmark: wireproof against Scapy's IEC 104 layer, one process.

What is compared, each library on the same APDUs (:func:`frame_set`):

- ``decode``: octets of one APDU to a message with every information
  object's elements: wireproof's :func:`~wireproof.codecs.iec104.decode_apdu`
  (the hand-written fast path), Scapy's ``IEC104_APDU(octets)``
  (``scapy.contrib.scada.iec104``: its dispatch picks the I (single or
  sequence IOA), S or U class and dissects every object's fields);
- ``encode``: a message back to octets: wireproof's
  :func:`~wireproof.codecs.iec104.encode_apdu`, Scapy's ``bytes(packet)``
  of a dissected packet whose cache is cleared (``clear_cache()``: Scapy
  builds from the field values, as it does for a packet made in code).

The frames are typical I frames of a station's traffic (interrogated
single points SQ=1, measured floats SQ=0 with and without time tags,
integrated totals, commands and their confirmations, interrogation and
clock sync), S and U frames, and the real APDUs of the packaged vectors
(``fixtures/iec104/vectors/apci.toml``, from the shared capture).

Before timing, every library's answer on every frame is compared with
wireproof's (a fingerprint: format, N(S)/N(R) or U function, type
identification, SQ, number of objects, cause, P/N, T, originator, common
address, object addresses); Scapy's encoded octets must equal the input.
A library that fails a check is reported and not timed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from wireproof.harness.bench import Case, Check, Goal, Report, measure

__all__ = ["GOALS", "OPERATIONS", "add_arguments", "command", "frame_set", "run"]

OPERATIONS = ("decode", "encode")
# The issue's goal: at least 10x Scapy's IEC 104 layer, decode and encode.
GOALS = (Goal(operation="decode", peer="scapy", minimum=10.0),
         Goal(operation="encode", peer="scapy", minimum=10.0))

Fingerprint = tuple[Any, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameSet:
    frames: tuple[bytes, ...]
    sources: dict[str, int]

    def describe(self) -> dict[str, Any]:
        sizes = [len(f) for f in self.frames]
        return {"frames": len(self.frames), "bytes_min": min(sizes), "bytes_max": max(sizes),
                "bytes_mean": round(sum(sizes) / len(sizes), 1), "sources": dict(self.sources)}


def _typical() -> list[bytes]:
    import datetime as dt

    from wireproof.codecs.iec104 import (
        Asdu,
        Cause,
        Cp56Time2a,
        IFrame,
        InformationObject,
        Quality,
        SFrame,
        TypeId,
        UFrame,
        UFunction,
        encode_apdu,
    )

    t = Cp56Time2a.from_datetime(dt.datetime(2026, 12, 2, 12, 30, 15, 250000))
    q = Quality(0)

    def obj(a: int, **e: Any) -> InformationObject:
        return InformationObject(address=a, elements=e)

    asdus = [
        Asdu(type_id=TypeId.M_SP_NA_1, cause=Cause.INTERROGATED_BY_STATION, common_address=1, sequence=True,
             objects=tuple(obj(1001 + i, value=bool(i % 2), quality=q) for i in range(16))),
        Asdu(type_id=TypeId.M_ME_NC_1, cause=Cause.SPONTANEOUS, common_address=1,
             objects=tuple(obj(3201 + i, value=230.5 + i, quality=q) for i in range(10))),
        Asdu(type_id=TypeId.M_ME_TF_1, cause=Cause.SPONTANEOUS, common_address=1,
             objects=tuple(obj(3201 + i, value=49.75 + i, quality=q, time=t) for i in range(4))),
        Asdu(type_id=TypeId.M_SP_TB_1, cause=Cause.SPONTANEOUS, common_address=1,
             objects=(obj(1001, value=True, quality=Quality.NT, time=t),)),
        Asdu(type_id=TypeId.M_ME_NA_1, cause=Cause.PERIODIC, common_address=1, sequence=True,
             objects=tuple(obj(3001 + i, value=i / 16, quality=q) for i in range(8))),
        Asdu(type_id=TypeId.M_IT_NA_1, cause=Cause.REQUESTED_BY_GENERAL_COUNTER, common_address=1,
             objects=tuple(obj(4001 + i, value=1000 * i, sequence=i, carry=False, adjusted=False,
                               invalid=False) for i in range(4))),
        Asdu(type_id=TypeId.C_SC_NA_1, cause=Cause.ACTIVATION, common_address=1,
             objects=(obj(5001, value=True, qualifier=0, select=True),)),
        Asdu(type_id=TypeId.C_SC_NA_1, cause=Cause.ACTIVATION_CON, common_address=1,
             objects=(obj(5001, value=True, qualifier=0, select=False),)),
        Asdu(type_id=TypeId.C_IC_NA_1, cause=Cause.ACTIVATION, common_address=1, objects=(obj(0, qoi=20),)),
        Asdu(type_id=TypeId.C_CS_NA_1, cause=Cause.ACTIVATION, common_address=1, objects=(obj(0, time=t),)),
    ]
    frames = [encode_apdu(IFrame(send_seq=100 + i, recv_seq=7, asdu=a)) for i, a in enumerate(asdus)]
    frames.append(encode_apdu(SFrame(recv_seq=110)))
    frames += [encode_apdu(UFrame(function=f)) for f in (UFunction.TESTFR_ACT, UFunction.TESTFR_CON)]
    return frames


def frame_set() -> FrameSet:
    """The benchmark's frames (deterministic): typical traffic, then the capture vectors."""
    from wireproof.harness.fixtures import load_vectors

    typical = _typical()
    folder = resources.files("wireproof.fixtures") / "iec104" / "vectors"
    captured = [v.data for v in load_vectors(folder / "apci.toml") if v.error is None]
    return FrameSet(frames=tuple(typical + captured),
                    sources={"typical": len(typical), "capture": len(captured)})


def fingerprint(apdu: Any) -> Fingerprint:
    from wireproof.codecs.iec104 import IFrame, SFrame

    if isinstance(apdu, SFrame):
        return ("S", apdu.recv_seq)
    if not isinstance(apdu, IFrame):
        return ("U", int(apdu.function))
    a = apdu.asdu
    if isinstance(a, bytes):
        return ("I", apdu.send_seq, apdu.recv_seq, a)
    return ("I", apdu.send_seq, apdu.recv_seq, int(a.type_id), a.sequence, len(a.objects), int(a.cause),
            a.negative, a.test, a.originator, a.common_address, tuple(o.address for o in a.objects))


def _scapy() -> tuple[Callable[[bytes], Any], Callable[[Any], Fingerprint], str]:
    import scapy
    import scapy.contrib.scada.iec104 as iec

    decode = iec.IEC104_APDU
    u_codes = {0x01: 0x07, 0x02: 0x0B, 0x04: 0x13, 0x08: 0x23, 0x10: 0x43, 0x20: 0x83}

    def fp(p: Any) -> Fingerprint:
        name = type(p).__name__
        if name == "IEC104_S_Message":
            return ("S", p.rx_seq_num)
        if name == "IEC104_U_Message":
            bits = (p.startdt_act | p.startdt_con << 1 | p.stopdt_act << 2 | p.stopdt_con << 3
                    | p.testfr_act << 4 | p.testfr_con << 5)
            return ("U", u_codes.get(bits, -1))
        asdus = p.asdu if hasattr(p, "asdu") else None
        if asdus is None:
            io = list(p.io)
            seq = name.endswith("SeqIOA")
            if seq:
                first = p.information_object_address
                addresses = tuple(first + i for i in range(len(io)))
            else:
                addresses = tuple(o.information_object_address for o in io)
            return ("I", p.tx_seq_num, p.rx_seq_num, int(p.type_id), seq, int(p.num_io), int(p.cot),
                    bool(p.ack), bool(p.test), p.origin_address, p.common_asdu_address, addresses)
        return ("I?",)

    return decode, fp, scapy.VERSION


def prepare(fs: FrameSet, libraries: Sequence[str] | None = None
            ) -> tuple[dict[str, dict[str, Any]], list[Check], list[Case]]:
    from wireproof import __version__
    from wireproof.codecs.iec104 import decode_apdu, encode_apdu

    frames = fs.frames
    ours = [decode_apdu(f) for f in frames]
    want = [fingerprint(m) for m in ours]
    info: dict[str, dict[str, Any]] = {"wireproof": {"available": True, "version": __version__}}
    checks: list[Check] = []
    cases: list[Case] = []
    ok = all(encode_apdu(m) == f for m, f in zip(ours, frames, strict=True))
    checks.append(Check(library="wireproof", operation="decode", ok=ok, frames=len(frames),
                        detail="" if ok else "a decoded frame does not encode back to its octets"))

    def decode_all() -> None:
        for f in frames:
            decode_apdu(f)

    def encode_all() -> None:
        for m in ours:
            encode_apdu(m)

    cases += [Case(library="wireproof", operation="decode", run=decode_all, frames=len(frames)),
              Case(library="wireproof", operation="encode", run=encode_all, frames=len(frames))]
    if libraries is None or "scapy" in libraries:
        try:
            sdecode, sfp, version = _scapy()
        except ImportError as err:
            info["scapy"] = {"available": False, "reason": f"not installed ({err})"}
        else:
            info["scapy"] = {"available": True, "version": version}
            packets = [sdecode(f) for f in frames]
            bad = [i for i, (p, w) in enumerate(zip(packets, want, strict=True)) if sfp(p) != w]
            templates = []
            for p in packets:
                t = p.copy()
                t.clear_cache()
                templates.append(t)
            wrong_bytes = [i for i, (t, f) in enumerate(zip(templates, frames, strict=True)) if bytes(t) != f]
            checks.append(Check(library="scapy", operation="decode", ok=not bad, frames=len(frames),
                                detail=f"frames {bad} differ" if bad else ""))
            checks.append(Check(library="scapy", operation="encode", ok=not wrong_bytes, frames=len(frames),
                                detail=f"frames {wrong_bytes} encode to other octets" if wrong_bytes else ""))
            if not bad:
                def scapy_decode() -> None:
                    for f in frames:
                        sdecode(f)
                cases.append(Case(library="scapy", operation="decode", run=scapy_decode, frames=len(frames)))
            if not wrong_bytes:
                def scapy_encode() -> None:
                    for t in templates:
                        bytes(t)
                cases.append(Case(library="scapy", operation="encode", run=scapy_encode, frames=len(frames)))
    return info, checks, cases


def build() -> str:
    from wireproof.codecs.iec104 import codec

    return "python" if codec.__file__.endswith(".py") else "mypyc"


def run(*, seconds: float = 1.0, quick: bool = False, libraries: Sequence[str] | None = None) -> Report:
    sample_seconds = 0.01 if quick else 0.05
    fs = frame_set()
    info, checks, cases = prepare(fs, libraries)
    timings = measure(cases, seconds=seconds, sample_seconds=sample_seconds, warmup_passes=2 if quick else 5)
    return Report(suite="iec104", operations=OPERATIONS, libraries=info, checks=checks, timings=timings,
                  goals=[g for g in GOALS if info.get(g.peer, {}).get("available")],
                  settings={"seconds": seconds, "quick": quick, "sample_seconds": sample_seconds,
                            "build": build(), "rounds": timings[0].samples if timings else 0,
                            "statistic": "best", "timer": "time.perf_counter",
                            "gc": "disabled during samples"},
                  frames=fs.describe())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``wireproof bench iec104`` has no options of its own."""


def command(args: argparse.Namespace) -> int:
    """``wireproof bench iec104``: measure, print, exit code (0 done; 1 a wrong answer or, with
    ``--require-goals``, a missed goal)."""
    from wireproof.harness.bench import ratios, render_table, report_json

    seconds = args.seconds if args.seconds is not None else (0.1 if args.quick else 1.0)
    report = run(seconds=seconds, quick=args.quick)
    if args.json:
        print(json.dumps(report_json(report), indent=2))
    else:
        f = report.frames
        print(f"wireproof bench {args.suite}: {f['frames']} IEC 104 APDUs ({f['bytes_min']}.."
              f"{f['bytes_max']} bytes, mean {f['bytes_mean']}; {f['sources']}); wireproof's "
              f"{report.settings['build']} build\n")
        print(render_table(report))
    if not report.checks_ok:
        return 1
    if args.require_goals and not all(r["met"] for r in ratios(report)):
        return 1
    return 0
