"""The evidence bundle of a run: per clause a capture and a step log, and a manifest hashing every file.

``write_bundle(result, directory)`` writes, for each case with evidence,

- ``evidence/<name>.pcapng``: the TCP conversation of exactly that clause's
  traffic, rebuilt from its evidence entries (Wireshark opens it);
- ``evidence/<name>.log``: the step log a person reads;

then ``manifest.json`` (schema ``wireproof.manifest/1``): the suite, target,
start and finish, the profile (source, path, SHA-256), and every file of the
report directory (the reports given, and the evidence files) with its
relative path, size and SHA-256. The manifest is written last, so it
describes files that are complete; ``wireproof verify-report DIR``
recomputes the hashes.

``<name>`` is the clause id, or the test's node id when it has none, with
every character outside ``[A-Za-z0-9._-]`` made ``_``; two cases that come
out the same (a parametrized test under one clause; names that differ only
in case, which a case-insensitive file system would merge) get the first 8
hex digits of their node id's SHA-256 appended, so a name does not depend on
which case ran first.

Theory of operation of the capture. The evidence holds one ``sent`` entry
per send call (one TCP segment the harness wrote), one ``received`` entry per
whole message read (or run of bytes that made no message), ``connect``
entries with both addresses and ``close`` entries (this side closing). From
them each connection is rebuilt as a real stack would have carried it
(RFC 9293 3.5, 3.6, 3.8.6.3):

- at ``connect``: SYN, SYN-ACK, ACK, with initial sequence numbers derived
  from the connection's addresses (so a rerun of the same report writes the
  same file);
- each ``sent``/``received`` entry: one PSH+ACK segment from that side, its
  sequence number the side's next byte, its acknowledgment everything the
  other side sent so far (payloads longer than :data:`MAX_PAYLOAD` go in
  several segments: an IP packet holds at most 65,535 bytes);
- after a data segment, a pure ACK from the receiver unless the receiver's
  own next segment on that connection (its answer, its FIN) carries the
  acknowledgment;
- at ``close``: this side's FIN, the device's FIN+ACK, this side's ACK.

Frames are Ethernet II with IPv4 or IPv6 as the addresses say, with correct
IP and TCP checksums; timestamps are the case's ``started`` plus the entry's
``t`` (never going backwards). Every packet has a comment naming the clause,
the step (the latest ``note`` entry before it) and what the packet is (the
codec's one-line view for data). A connection whose addresses are unknown
(the device reset it while connecting) or whose entries come without a
``connect`` cannot be put on the wire truthfully: its entries stay in the
step log, and the capture's section comment says which were left out.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from wireproof import __version__
from wireproof.errors import HarnessError
from wireproof.harness.replay.pcap import PcapngInterface, PcapngPacket, build_tcp_frame, write_pcapng
from wireproof.harness.report.model import CaseResult, EvidenceEntry, RunResult

__all__ = ["EVIDENCE_DIR", "MANIFEST", "MANIFEST_SCHEMA", "MAX_PAYLOAD", "case_file_names", "file_digest",
           "step_log", "tcp_packets", "write_bundle"]

MANIFEST: Final = "manifest.json"
MANIFEST_SCHEMA: Final = "wireproof.manifest/1"
EVIDENCE_DIR: Final = "evidence"
EVIDENCE_SUFFIXES: Final = (".pcapng", ".log")
MAX_PAYLOAD: Final = 65_000  # below 65,535 minus the IPv4/IPv6 and TCP headers
_CHUNK: Final = 1 << 20

_FIN, _SYN, _PSH, _ACK = 0x01, 0x02, 0x08, 0x10  # RFC 9293 3.1
_MAC_LOCAL: Final = b"\x02\x00\x00\x00\x00\x01"  # locally administered (IEEE 802 bit 1): not real hardware
_MAC_REMOTE: Final = b"\x02\x00\x00\x00\x00\x02"
_UNSAFE: Final = re.compile(r"[^A-Za-z0-9._-]+")
_RESERVED: Final = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                              *(f"LPT{i}" for i in range(10))})  # names Windows will not create
_MAX_NAME: Final = 96


# --------------------------------------------------------------------------- names

def _sanitize(text: str) -> str:
    name = re.sub(r"_{2,}", "_", re.sub(r"\.{2,}", "_", _UNSAFE.sub("_", text))).strip("._")
    name = name[:_MAX_NAME].rstrip("._")
    if not name:
        return "case"
    return f"_{name}" if name.split(".")[0].upper() in _RESERVED else name


def case_file_names(cases: Sequence[CaseResult]) -> list[str]:
    """The evidence file stem of each case (module docstring): unique, also on a case-insensitive disk."""
    bases = [_sanitize(c.clause or c.nodeid) for c in cases]
    counts: dict[str, int] = {}
    for base in bases:
        counts[base.lower()] = counts.get(base.lower(), 0) + 1
    names: list[str] = []
    taken: set[str] = set()
    for case, base in zip(cases, bases, strict=True):
        name = base
        if counts[base.lower()] > 1:
            name = f"{base}-{hashlib.sha256(case.nodeid.encode()).hexdigest()[:8]}"
        stem, n = name, 2
        while name.lower() in taken:  # two identical node ids: only a hand-built result can have them
            name, n = f"{stem}-{n}", n + 1
        taken.add(name.lower())
        names.append(name)
    return names


# --------------------------------------------------------------------------- the capture

def _endpoint(text: str) -> tuple[str, int] | None:
    """``"127.0.0.1:502"`` or ``"[::1]:502"`` as (address, port); None when it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 0xFFFF:
        return None
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        address = ipaddress.ip_address(host.split("%")[0])  # a scope (fe80::1%eth0) is not on the wire
    except ValueError:
        return None
    return str(address), int(port)


@dataclass(slots=True)
class _Conn:
    local: tuple[str, int]
    remote: tuple[str, int]
    nxt: dict[str, int]  # "local"/"remote" -> that side's next sequence number
    open: bool = True


@dataclass(frozen=True, slots=True)
class _Seg:
    """One segment to write: ``side`` sent it; ``kind`` is syn, synack, ack, data or fin."""

    ts: float
    conn: _Conn
    side: str
    kind: str
    step: str  # "<clause> | step: <the latest note>", the start of every comment
    what: str
    payload: bytes = b""


def _other(side: str) -> str:
    return "remote" if side == "local" else "local"


def _isn(label: str, local: str, remote: str, side: str) -> int:
    digest = hashlib.sha256(f"{label}|{local}|{remote}|{side}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _plan(case: CaseResult) -> tuple[list[_Seg], dict[str, str]]:
    """The segments of a case's connections in evidence order, and the connections left out (why)."""
    segments: list[_Seg] = []
    left_out: dict[str, str] = {}
    conns: dict[str, _Conn] = {}
    step = f"{case.clause or case.nodeid} | step: (before the first step)"
    last = case.started

    def noted(what: str, note: str) -> str:
        return f"{what} | {note}" if note else what

    for entry in case.evidence:
        ts = last = max(last, case.started + entry.t)
        label = entry.connection or "(no connection)"
        if entry.direction == "note":
            step = f"{case.clause or case.nodeid} | step: {entry.note}" if entry.note else step
        elif entry.direction == "connect":
            local, remote = _endpoint(entry.local), _endpoint(entry.remote)
            if local is None or remote is None or (":" in local[0]) != (":" in remote[0]):
                why = entry.note or "its addresses are unknown"
                left_out[label] = f"{why} (local {entry.local or '?'}, remote {entry.remote or '?'})"
                conns.pop(label, None)
                continue
            conn = _Conn(local, remote, {"local": _isn(label, entry.local, entry.remote, "local"),
                                          "remote": _isn(label, entry.local, entry.remote, "remote")})
            conns[label] = conn
            left_out.pop(label, None)
            opened = f"{label} {entry.local} -> {entry.remote}"
            segments += [_Seg(ts, conn, "local", "syn", step, noted(f"{opened}: SYN", entry.note)),
                         _Seg(ts, conn, "remote", "synack", step, f"{opened}: SYN+ACK"),
                         _Seg(ts, conn, "local", "ack", step, f"{opened}: ACK")]
        elif entry.direction in ("sent", "received", "close"):
            found = conns.get(label)
            if found is None or not found.open:
                if entry.hex or entry.direction == "close":
                    left_out.setdefault(label, "traffic without a connect entry" if found is None else
                                        "traffic after its close")
                continue
            if entry.direction == "close":
                found.open = False
                closing = f"{label} closed by this side"
                segments += [_Seg(ts, found, "local", "fin", step, noted(f"{closing}: FIN+ACK", entry.note)),
                             _Seg(ts, found, "remote", "fin", step, f"{closing}: the device's FIN+ACK"),
                             _Seg(ts, found, "local", "ack", step, f"{closing}: ACK")]
                continue
            try:
                payload = bytes.fromhex(entry.hex)
            except ValueError:
                left_out.setdefault(label, f"an entry at t={entry.t} whose hex is not hex")
                continue
            side = "local" if entry.direction == "sent" else "remote"
            what = f"{label} {entry.direction}: {entry.decoded or f'{len(payload)} bytes'}"
            parts = [payload[i:i + MAX_PAYLOAD] for i in range(0, len(payload), MAX_PAYLOAD)]
            for i, part in enumerate(parts):
                of = f" (part {i + 1} of {len(parts)})" if len(parts) > 1 else ""
                segments.append(_Seg(ts, found, side, "data", step, noted(what + of, entry.note), part))
    return segments, left_out


_FLAGS: Final = {"syn": _SYN, "synack": _SYN | _ACK, "ack": _ACK, "fin": _FIN | _ACK, "data": _PSH | _ACK}


def tcp_packets(case: CaseResult) -> tuple[list[PcapngPacket], list[str]]:
    """The packets of a case's capture (module docstring) and the connections left out, with why."""
    segments, left_out = _plan(case)
    packets: list[PcapngPacket] = []

    def emit(seg: _Seg, side: str, flags: int, payload: bytes, what: str) -> None:
        conn = seg.conn
        seq = conn.nxt[side]
        # SYN and FIN take one sequence number, data its length (RFC 9293 3.4)
        conn.nxt[side] = (seq + len(payload) + (1 if flags & (_SYN | _FIN) else 0)) & 0xFFFFFFFF
        src, dst = (conn.local, conn.remote) if side == "local" else (conn.remote, conn.local)
        macs = (_MAC_LOCAL, _MAC_REMOTE) if side == "local" else (_MAC_REMOTE, _MAC_LOCAL)
        ack = conn.nxt[_other(side)] if flags & _ACK else 0
        frame = build_tcp_frame(payload, src=src, dst=dst, seq=seq, ack=ack, flags=flags, checksum=True,
                                src_mac=macs[0], dst_mac=macs[1])
        packets.append(PcapngPacket(timestamp=seg.ts, data=frame, comment=f"{seg.step} | {what}"))

    for i, seg in enumerate(segments):
        emit(seg, seg.side, _FLAGS[seg.kind], seg.payload, seg.what)
        if seg.kind != "data":
            continue
        following = next((s for s in segments[i + 1:] if s.conn is seg.conn), None)
        if following is None or following.side == seg.side:  # nothing of the receiver's carries the ACK
            receiver = _other(seg.side)
            emit(seg, receiver, _ACK, b"", f"ACK from the {'device' if receiver == 'remote' else 'harness'}"
                                           " (rebuilt: a stack acknowledges what it received)")
    return packets, [f"{label}: {why}" for label, why in left_out.items()]


# --------------------------------------------------------------------------- the step log

def _one_line(text: str) -> str:
    """Control characters (a newline in a note) escaped, so one entry stays one line."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)


def _entry_line(entry: EvidenceEntry) -> str:
    what, note = entry.decoded, entry.note
    if entry.direction == "connect":
        what = f"{entry.local or '?'} -> {entry.remote or '?'}"
    elif entry.direction == "note" and not what:
        what, note = note, ""
    parts = [f"{entry.t:10.6f}", f"{entry.connection or '-':<14}", f"{entry.direction:<9}", what or "-"]
    if entry.hex:
        parts.append(f"hex {entry.hex}")
    if note:
        parts.append(f"note: {note}")
    return _one_line("  ".join(parts))


def _iso(epoch: float) -> str:
    try:
        return datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(timespec="microseconds")
    except (OverflowError, OSError, ValueError):
        return "unknown"


def step_log(case: CaseResult, *, capture: str, packets: int, left_out: Sequence[str]) -> str:
    """The step log of one case: a header (clause, level, title, verdict, message), then a line an entry."""
    lines = [f"clause:   {case.clause or '(none)'}", f"level:    {case.level or '-'}",
             f"title:    {case.title or '-'}", f"test:     {case.nodeid}", f"verdict:  {case.verdict}"]
    message = case.message.splitlines() or ["-"]
    lines.append(f"message:  {_one_line(message[0])}")
    lines += [f"          {_one_line(m)}" for m in message[1:]]
    lines.append(f"started:  {_iso(case.started)} ({case.started:.6f} s since the epoch); times below are "
                 "seconds since then")
    lines.append(f"capture:  {capture} ({packets} packets, rebuilt from these entries)")
    lines += [f"          not in the capture: {_one_line(x)}" for x in left_out]
    lines += ["", f"{'t (s)':>10}  {'connection':<14}  {'direction':<9}  what (decoded)  hex  note"]
    lines += [_entry_line(e) for e in case.evidence]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the bundle

def file_digest(path: Path) -> tuple[int, str]:
    """(size, SHA-256 hex) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _remove_stale(evidence: Path) -> None:
    """Remove the evidence files of a previous run: only *.pcapng and *.log regular files, nothing else."""
    if evidence.is_symlink() or (evidence.exists() and not evidence.is_dir()):
        raise HarnessError(f"{evidence} is not a directory wireproof made (a file or a symbolic link); "
                           "refusing to write evidence there")
    if not evidence.exists():
        return
    for path in evidence.iterdir():
        if path.suffix in EVIDENCE_SUFFIXES and path.is_file() and not path.is_symlink():
            path.unlink()


def _manifest(result: RunResult, directory: Path, files: Iterable[Path]) -> dict[str, Any]:
    listed = []
    for path in files:
        size, digest = file_digest(path)
        listed.append({"path": path.relative_to(directory).as_posix(), "size": size, "sha256": digest})
    return {"schema": MANIFEST_SCHEMA, "suite": result.suite, "target": result.target,
            "started": result.started, "finished": result.finished,
            "profile": {"source": result.profile.source, "path": result.profile.path,
                        "sha256": result.profile.sha256},
            "files": listed}


def write_bundle(result: RunResult, directory: Path, *, reports: Sequence[Path] = ()) -> Path:
    """Write the evidence files and, last, the manifest (module docstring); returns the manifest's path.

    ``reports`` are files already in ``directory`` the manifest lists first
    (``write_reports`` passes report.json, junit.xml and report.html). Evidence
    files of a previous run in the same directory are removed first, and so
    is its manifest, so the manifest describes one run.
    """
    directory.mkdir(parents=True, exist_ok=True)
    manifest = directory / MANIFEST
    if not manifest.is_dir():
        manifest.unlink(missing_ok=True)  # a symbolic link is removed, not what it points to
    evidence = directory / EVIDENCE_DIR
    _remove_stale(evidence)
    cases = [c for c in result.cases if c.evidence]
    written: list[Path] = []
    if cases:
        evidence.mkdir(exist_ok=True)
    for case, name in zip(cases, case_file_names(cases), strict=True):
        packets, left_out = tcp_packets(case)
        capture = evidence / f"{name}.pcapng"
        comment = (f"wireproof evidence for {case.clause or case.nodeid} ({case.nodeid}), verdict "
                   f"{case.verdict}: the TCP conversation rebuilt from the clause's step log ({name}.log)")
        if left_out:
            comment += "; not in this capture: " + "; ".join(left_out)
        write_pcapng(capture, packets, interfaces=(PcapngInterface(name="wireproof-evidence"),),
                     comment=comment, application=f"wireproof {__version__}")
        log = evidence / f"{name}.log"
        log.write_text(step_log(case, capture=capture.name, packets=len(packets), left_out=left_out),
                       encoding="utf-8")
        written += [capture, log]
    data = _manifest(result, directory, [*reports, *written])
    tmp = directory / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    tmp.replace(manifest)
    return manifest
