#!/usr/bin/env python3
"""Record the DNP3 peer capture fixtures (src/wireproof/fixtures/dnp3/captures/).

Each session runs on loopback between two real DNP3 stacks, yadnp3
(opendnp3's C++ stack) and dnp3py (pure Python), through the peer runners of
tests/peers (dnp3_outstation.py, dnp3_master.py, driven by dnp3_peers.py),
and is captured with tshark (which runs dumpcap; Debian package tshark; needs
capture rights on ``lo``, e.g. root). The outstation listens first, so the
filter names the port it got; Capture (below) brackets the session with UDP
probes to that port, so each capture holds the whole TCP session, handshake
to the last ACK. (dumpcap's "Capturing on" line comes before its filter is
live, and a SIGTERM right after the session loses packets still queued in
the ring buffer: the first version of this tool wrote empty files so.)

Every capture gets a TOML sidecar: the peers and their versions, the exact
runner commands, the port, the date, what the session shows, and tshark's own
numbers for it (version, packets it calls dnp3, link frames = occurrences of
``dnp3.start``, malformed-packet expert items) so replay tests can compare
with tshark. tshark 4.0 does not know g50v4 (time and interval), which
opendnp3's default database serves in a class 0 response: tshark flags those
responses' objects as it can, the sidecar's ``tshark_malformed`` says how many.

Run: ``python tools/record_dnp3_captures.py [--out DIR] [--only NAME]``.
Regenerating changes timestamps, ports and time-sync values, not the shape.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "peers"))
import dnp3_peers  # noqa: E402

DEFAULT_OUT = ROOT / "src" / "wireproof" / "fixtures" / "dnp3" / "captures"
START_TIMEOUT = 15.0
PROBE_INTERVAL = 0.2


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    name: str
    outstation: str
    outstation_flags: tuple[str, ...]
    master: str
    master_flags: tuple[str, ...]
    script: str
    description: str


SESSIONS = (
    Session(
        name="yadnp3-master_yadnp3-outstation_integrity",
        outstation="yadnp3",
        outstation_flags=(),
        master="yadnp3",
        master_flags=(),
        script="integrity",
        description=(
            "opendnp3 master start-up: DISABLE UNSOLICITED (answered IIN1.7 restart + IIN2.0 no function "
            "support: the outstation allows no unsolicited), WRITE g80v1 clearing the restart IIN, READ "
            "class 1/2/3/0 (g1v2 g3v2 g30v1 g20v1 g21v1 g10v2 g40v1 g50v4), ENABLE UNSOLICITED (IIN2.0 "
            "again); then the runner's own class 0/1/2/3 read."
        ),
    ),
    Session(
        name="yadnp3-master_yadnp3-outstation_events",
        outstation="yadnp3",
        outstation_flags=(),
        master="yadnp3",
        master_flags=(),
        script="integrity,wait,events,wait,events",
        description="integrity poll, then twice: a scripted change at the outstation (binary 0, "
        "double-bit 0, "
        "analog 0, counter 0) and a class 1/2/3 poll answered with g2, g4, g32, g22 events and CON set, "
        "which the master confirms.",
    ),
    Session(
        name="yadnp3-master_yadnp3-outstation_controls",
        outstation="yadnp3",
        outstation_flags=(),
        master="yadnp3",
        master_flags=(),
        script="crob-sbo,crob-do,analog-do",
        description="start-up, then SELECT + OPERATE g12v1 LATCH_ON index 0, DIRECT OPERATE g12v1 LATCH_ON "
        "index 1, DIRECT OPERATE g41v1 1234 index 0; every status SUCCESS.",
    ),
    Session(
        name="yadnp3-master_yadnp3-outstation_timesync-nonlan",
        outstation="yadnp3",
        outstation_flags=("--need-time",),
        master="yadnp3",
        master_flags=("--timesync", "nonlan"),
        script="timesync",
        description="the outstation sets IIN1.4 NEED_TIME; the master measures the delay (DELAY MEASURE, "
        "g52v2) and writes g50v1; NEED_TIME clears.",
    ),
    Session(
        name="yadnp3-master_yadnp3-outstation_timesync-lan",
        outstation="yadnp3",
        outstation_flags=("--need-time",),
        master="yadnp3",
        master_flags=("--timesync", "lan"),
        script="timesync",
        description="the outstation sets IIN1.4 NEED_TIME; the master sends RECORD CURRENT TIME and writes "
        "g50v3 (last recorded time); NEED_TIME clears.",
    ),
    Session(
        name="yadnp3-master_yadnp3-outstation_unsolicited",
        outstation="yadnp3",
        outstation_flags=("--unsolicited",),
        master="yadnp3",
        master_flags=("--unsolicited",),
        script="wait,unsol",
        description="the outstation starts with an empty unsolicited response (UNS, CON) that the master "
        "confirms; the master enables unsolicited classes 1-3; a scripted change is reported unsolicited "
        "(g2, g4, g32, g22 events) and confirmed (CONFIRM with UNS).",
    ),
    Session(
        name="dnp3py-master_yadnp3-outstation",
        outstation="yadnp3",
        outstation_flags=(),
        master="dnp3py",
        master_flags=(),
        script="integrity,wait,events,crob-sbo,crob-do,timesync",
        description="dnp3py's master against opendnp3's outstation: link RESET LINK STATES and its ACK "
        "first (link frames with no user data), integrity poll (dnp3py stops decoding at the g50v4 block), a "
        "change and a class 1/2/3 poll (events with CON, confirmed), CROB select/operate and direct operate, "
        "DELAY MEASURE (g52v2).",
    ),
    Session(
        name="yadnp3-master_dnp3py-outstation",
        outstation="dnp3py",
        outstation_flags=(),
        master="yadnp3",
        master_flags=(),
        script="integrity,wait,events,crob-sbo,crob-do",
        description="opendnp3's master against dnp3py's outstation (no double-bit inputs; class 0 is g1v2 "
        "g10v2 g30v1 g40v2 g20v1; counter events g22v5): start-up (dnp3py accepts DISABLE/ENABLE "
        "UNSOLICITED), integrity poll, a change and a class 1/2/3 poll, CROB select/operate and direct "
        "operate.",
    ),
)


def _command(session: Session) -> str:
    outstation = " ".join(
        ["tests/peers/dnp3_outstation.py", "--impl", session.outstation, *session.outstation_flags]
    )
    master = " ".join(
        [
            "tests/peers/dnp3_master.py",
            "--impl",
            session.master,
            "--target",
            "tcp://127.0.0.1:PORT",
            "--script",
            session.script,
            *session.master_flags,
        ]
    )
    return f"{outstation}; {master}"


class Capture:
    """tshark capturing ``tcp port PORT or udp port PORT`` on lo into a file, one line a packet written.

    Waits on events, never on guesses: "Capturing on" is printed before the filter is live, so UDP
    probes to PORT are sent until tshark reports one; at the end one more probe is sent and awaited:
    packets leave the loopback ring in order, so when tshark has written the probe it has written the
    whole TCP session before it (a bare SIGTERM right after the session loses what is still queued).
    The probes stay in the file (two or more UDP frames); readers skip non-TCP frames.
    """

    def __init__(self, path: Path, port: int) -> None:
        tshark = shutil.which("tshark")
        if tshark is None:
            raise SystemExit("record_dnp3_captures: tshark not found (apt-get install tshark)")
        path.unlink(missing_ok=True)
        self.port = port
        self.process = subprocess.Popen(
            [
                tshark,
                "-l",
                "-n",
                "-q",
                "-i",
                "lo",
                "-f",
                f"tcp port {port} or udp port {port}",
                "-w",
                str(path),
                "-P",
                "-T",
                "fields",
                "-e",
                "udp.dstport",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self.process.stdout is not None
        self.reader = dnp3_peers.LineReader(self.process.stdout)
        self.probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = self.seen = 0

    def _probe_until_seen(self) -> None:
        """Send probes until tshark has reported the first one sent now, TCP lines skipped.

        tshark gets packets from the ring buffer in blocks, so one probe may sit unreported until
        more traffic comes: the later probes push it out. Counting matters too: a start probe
        reported late must not pass for the end probe."""
        target = self.sent + 1
        for _ in range(int(START_TIMEOUT / PROBE_INTERVAL)):
            self.probe.sendto(b"wireproof capture probe", ("127.0.0.1", self.port))
            self.sent += 1
            try:
                while self.seen < target:
                    line = self.reader.line(PROBE_INTERVAL, "tshark packet line")
                    self.seen += line.strip() == str(self.port)
                return
            except TimeoutError:
                continue
        raise SystemExit("record_dnp3_captures: tshark reported no probe")

    def start(self) -> None:
        self._probe_until_seen()

    def stop(self) -> None:
        try:
            self._probe_until_seen()
        finally:
            self.probe.close()
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=START_TIMEOUT)
            assert self.process.stdout is not None
            self.process.stdout.close()


def record(session: Session, out: Path) -> dict[str, Any]:
    path = out / f"{session.name}.pcapng"
    outstation = dnp3_peers.start_outstation(session.outstation, *session.outstation_flags)
    capture = None
    try:
        capture = Capture(path, outstation.port)
        capture.start()
        run = dnp3_peers.run_master(session.master, outstation, session.script, *session.master_flags)
    finally:
        lines = outstation.stop()
        if capture is not None:
            capture.stop()  # after the outstation closed: the FINs and last ACKs are in the file
    if run.returncode != 0:
        raise SystemExit(
            f"{session.name}: master exited {run.returncode}: {run.records} {run.stderr[-1000:]}"
        )
    return {"port": outstation.port, "records": run.records, "outstation_lines": lines}


def tshark_numbers(path: Path, port: int) -> dict[str, Any]:
    """tshark's view of a capture: packets it decodes as dnp3, link frames, malformed items.

    tshark decodes DNP3 on TCP port 20000 only, so the session's port is given as DNP3
    (``-d tcp.port==PORT,dnp3``); the sidecar records that option for the replay tests.
    """

    def tshark(*args: str) -> str:
        return subprocess.run(
            ["tshark", "-r", str(path), "-d", f"tcp.port=={port},dnp3", *args],
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    starts = tshark("-T", "fields", "-e", "dnp3.start").split()
    frames = sum(len(field.split(",")) for field in starts)
    version = subprocess.run(["tshark", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    return {
        "tshark_version": version,
        "tshark_packets": len(tshark("-Y", "tcp").splitlines()),
        "tshark_dnp3_packets": len(tshark("-Y", "dnp3").splitlines()),
        "tshark_link_frames": frames,
        # Packets tshark flags malformed (its expert "Malformed Packet"); with opendnp3's outstation these
        # are the class 0 responses, whose g50v4 block tshark 4.0 does not know ("Unknown Object\\Variation").
        "tshark_malformed": len(tshark("-Y", "_ws.malformed").splitlines()),
        "tshark_unknown_object": len(
            tshark("-Y", '_ws.expert.message contains "Unknown Object"').splitlines()
        ),
    }


def sidecar(session: Session, result: dict[str, Any], path: Path) -> dict[str, Any]:
    return {
        "capture": path.name,
        "description": session.description,
        "outstation": session.outstation,
        "outstation_version": dnp3_peers.version(session.outstation),
        "master": session.master,
        "master_version": dnp3_peers.version(session.master),
        "outstation_address": 10,
        "master_address": 1,
        "server_port": result["port"],
        "script": session.script,
        "command": _command(session),
        "recorded_with": "tools/record_dnp3_captures.py; "
        "tshark -i lo -f 'tcp port PORT or udp port PORT' -w FILE "
        "(UDP probes to PORT mark the start and the end)",
        "date": dt.date.today().isoformat(),
        "wireproof_version": importlib.metadata.version("wireproof"),
        "outstation_saw": result["outstation_lines"],
        "tshark_decode_as": f"tcp.port=={result['port']},dnp3",
        **tshark_numbers(path, result["port"]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", choices=[s.name for s in SESSIONS], action="append")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for session in SESSIONS:
        if args.only and session.name not in args.only:
            continue
        result = record(session, args.out)
        path = args.out / f"{session.name}.pcapng"
        path.chmod(0o644)  # tshark writes 0600 as root; the fixture ships in the wheel
        meta = sidecar(session, result, path)
        header = (
            f"# Sidecar of {path.name}: provenance of a recorded DNP3 peer session.\n"
            "# Regenerate with tools/record_dnp3_captures.py.\n"
        )
        (args.out / f"{session.name}.toml").write_text(header + tomli_w.dumps(meta))
        print(
            f"{path.name}: {meta['tshark_link_frames']} link frames, "
            f"{meta['tshark_dnp3_packets']} dnp3 packets, "
            f"{meta['tshark_malformed']} malformed"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
