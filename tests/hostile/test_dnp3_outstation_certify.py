"""Hostile targets and hostile profiles for ``wireproof certify dnp3-outstation``.

Devices written here are loopback TCP servers on 127.0.0.1:0 that do one
hostile thing on every connection: reset at once, stay silent, answer every
frame with garbage, answer with link frames whose user-data CRC is wrong,
flood valid frames without end. What must hold: the device's behaviour is
judged (``fail``, or ``inconclusive`` when a setup step could not be done),
never a harness ``error`` or a traceback; the run ends in bounded time with
exit 1 and its reports written; a flood does not grow the evidence without
bound. Then profiles: a DNP3 XML device profile with a DTD (external or
internal entities, the "billion laughs") or too large is refused before any
clause (a ``FixtureError``, exit 2 from certify), as are TOML profiles with
wrong keys or types.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wireproof.codecs.dnp3.constants import SecondaryFunction
from wireproof.codecs.dnp3.link import encode_link
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.conformance.dnp3_outstation.profile import load_profile, read_profile
from wireproof.errors import FixtureError

RUN_TIMEOUT = 240
CLAUSES = "DNP-LNK-001 or DNP-LNK-004 or DNP-TRN-001 or DNP-APP-001 or DNP-EVT-006 or DNP-CTL-001"
FAST = (
    "--param",
    "response_timeout=0.3",
    "--param",
    "select_timeout=0.3",
    "--param",
    "confirm_timeout=0.3",
    "--param",
    "event_trigger=true",
)

Behaviour = Callable[[socket.socket], None]
_STATUS = encode_link(
    LinkFrame(dir=False, prm=False, function=SecondaryFunction.LINK_STATUS, destination=1, source=10)
)


def _bad_crc(conn: socket.socket) -> None:
    """Every chunk received is answered by a response frame whose user-data block CRC is wrong."""
    frame = bytearray(bytes.fromhex("05640a4401000a006e25c0f08280006b7d"))
    frame[-1] ^= 0xFF
    while conn.recv(4096):
        conn.sendall(bytes(frame))


def _garbage(conn: socket.socket) -> None:
    while conn.recv(4096):
        conn.sendall(b"\x05\x64\xff" + bytes(range(200)))


def _silent(conn: socket.socket) -> None:
    while conn.recv(4096):
        pass


def _reset(conn: socket.socket) -> None:
    import struct

    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def _flood(conn: socket.socket) -> None:
    """Valid LINK_STATUS frames, as fast as the socket takes them, until the client goes."""
    burst = _STATUS * 400
    conn.settimeout(30)
    while True:
        conn.sendall(burst)


class Device:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            self.behaviour(conn)
        with contextlib.suppress(OSError):
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(30)


@contextlib.contextmanager
def device(behaviour: Behaviour) -> Iterator[Device]:
    target = Device(behaviour)
    try:
        yield target
    finally:
        target.close()


def certify(report: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "certify", "dnp3-outstation", "--report", str(report), *args],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    path = report / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.returncode, json.loads(path.read_text()), proc.stdout + proc.stderr


@pytest.mark.suite_run
@pytest.mark.parametrize(
    ("behaviour", "says"),
    [
        (_reset, r"reset|closed"),
        (_silent, r"no (response|answer)"),
        (_garbage, ""),
        (_bad_crc, "CRC"),
        (_flood, ""),
    ],
    ids=["reset", "silent", "garbage", "bad-crc", "flood"],
)
def test_hostile_device_is_judged(behaviour: Behaviour, says: str, tmp_path: Path) -> None:
    with device(behaviour) as target:
        code, report, out = certify(tmp_path, "--target", target.url, "-k", CLAUSES, *FAST)
    verdicts = {c["clause"]: c["verdict"] for c in report["cases"]}
    assert len(verdicts) == 6, out
    assert "error" not in verdicts.values(), out
    assert "fail" in verdicts.values() and code == 1, out
    for case in report["cases"]:
        assert "Traceback" not in case["message"]
        assert len(case["evidence"]) <= 2 * 2000 + 200, (case["clause"], len(case["evidence"]))
        if case["verdict"] == "fail" and says:
            assert re.search(says, case["message"]), (case["clause"], case["message"])


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<DNP3DeviceProfileDocument>&x;</DNP3DeviceProfileDocument>",
            "document type declaration",
        ),
        (
            b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            b"<DNP3DeviceProfileDocument>&c;</DNP3DeviceProfileDocument>",
            "document type declaration",
        ),
        (b"<!doctype d><DNP3DeviceProfileDocument/>", "document type declaration"),
        (b"<DNP3DeviceProfileDocument><unclosed></DNP3DeviceProfileDocument>", "not well-formed"),
        (b"<other/>", "not DNP3DeviceProfileDocument"),
        (b"<" + b"a" * (5 * 1024 * 1024), "octets; at most"),
        (
            b"<DNP3DeviceProfileDocument><dataLinkAddress><currentValue><value>ten</value></currentValue>"
            b"</dataLinkAddress></DNP3DeviceProfileDocument>",
            "dataLinkAddress is 'ten'",
        ),
        (
            b"<DNP3DeviceProfileDocument><dataLinkAddress><currentValue><value>70000</value></currentValue>"
            b"</dataLinkAddress></DNP3DeviceProfileDocument>",
            "device.outstation_address must be an integer",
        ),
        (
            b"<DNP3DeviceProfileDocument><dataLinkAddress><currentValue><value>1e400</value></currentValue>"
            b"</dataLinkAddress></DNP3DeviceProfileDocument>",
            "not a finite number",
        ),
        (
            b"<DNP3DeviceProfileDocument><masterDataLinkAddress><currentValue><value>1.5</value></currentValue>"
            b"</masterDataLinkAddress></DNP3DeviceProfileDocument>",
            "not an integer",
        ),
        (b"[device]\nname = 3\n", "device.name"),
        (b"[device]\nresponse_timeout = 1e400\n", "device.response_timeout"),
        (b"[points]\nbinary_inputs = -1\n", "points.binary_inputs"),
        (b"[device\n", "not valid TOML"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_profiles_are_fixture_errors(data: bytes, says: str) -> None:
    with pytest.raises(FixtureError, match=says):
        load_profile(read_profile(data))
