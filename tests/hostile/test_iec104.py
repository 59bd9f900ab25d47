"""Hostile input to the IEC 104 codec, framer and reference server: typed errors, bounded work."""

from __future__ import annotations

import random
import socket
import time

import pytest

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.iec104 import ApduFramer, SFrame, UFrame, UFunction, decode_apdu, encode_apdu
from wireproof.errors import DecodeError
from wireproof.harness.simulators.iec104_server import running_server

pytestmark = pytest.mark.hostile

HOSTILE = [b"", b"\x68", b"\x68\xff" + b"\x00" * 255, b"\x68\x00", b"\x68\x04", b"\x68\x04\x00\x00\x00",
           b"\x68\xfd" + b"\xff" * 253, b"\x68\x0e\x00\x00\x00\x00\x01\xff\x03\x00\x01\x00\x00\x00\x00\x00",
           b"\x68\x0a\x00\x00\x00\x00\x7d\x01\x06\x00\x01\x00", bytes(range(256))]


@pytest.mark.parametrize("data", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_apdus_give_typed_errors(data: bytes) -> None:
    try:
        decode_apdu(data)
    except DecodeError as err:
        assert err.protocol == "iec104" and err.path is not None and 0 <= err.offset <= len(data)


def test_the_framer_stays_bounded_on_a_flood_of_garbage() -> None:
    framer = ApduFramer(max_buffer=4096)
    rng = random.Random(7)
    errors = 0
    for _ in range(2000):
        framer.feed(bytes(rng.randrange(256) for _ in range(64)))
        while True:
            try:
                frame = framer.next_frame()
            except DecodeError:
                errors += 1
                continue
            if frame is NEED_DATA:
                break
        assert framer.buffered <= 257  # at most one APDU's worth waits for the rest
    assert errors > 0


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    return sock


def _closed(sock: socket.socket, within: float = 5.0) -> bool:
    """Whether the peer closes the connection (reads until EOF, bounded by ``within``)."""
    deadline = time.monotonic() + within
    sock.settimeout(within)
    try:
        while time.monotonic() < deadline:
            if not sock.recv(4096):
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return False


def _alive(url: str) -> bool:
    with _connect(url) as sock:
        sock.sendall(encode_apdu(UFrame(function=UFunction.TESTFR_ACT)))
        sock.settimeout(5)
        return sock.recv(6) == encode_apdu(UFrame(function=UFunction.TESTFR_CON))


@pytest.mark.parametrize("attack", [
    b"\x69\x04\x07\x00\x00\x00",  # bad start character
    b"\x68\x02\x00\x00",  # length below 4
    b"\x68\xfe",  # length above 253: closed without waiting for 254 octets
    b"\x68\x04\x0f\x00\x00\x00",  # two U functions at once
    encode_apdu(SFrame(recv_seq=5)),  # acknowledges I frames never sent
], ids=["start", "short", "long", "u-function", "ack-unsent"])
def test_the_server_closes_on_malformed_apdus_and_serves_the_others(attack: bytes) -> None:
    with running_server() as server, _connect(server.url) as bystander:
        bystander.sendall(encode_apdu(UFrame(function=UFunction.STARTDT_ACT)))
        bystander.settimeout(5)
        assert bystander.recv(6) == encode_apdu(UFrame(function=UFunction.STARTDT_CON))
        with _connect(server.url) as attacker:
            attacker.sendall(attack)
            assert _closed(attacker)
        assert _alive(server.url)
        bystander.sendall(encode_apdu(UFrame(function=UFunction.TESTFR_ACT)))
        data = b""
        while UFrame(function=UFunction.TESTFR_CON) != _last(data):
            chunk = bystander.recv(4096)
            assert chunk, "the bystander was disconnected"
            data += chunk


def _last(data: bytes) -> object:
    framer = ApduFramer()
    framer.feed(data)
    last = None
    while (frame := framer.next_frame()) is not NEED_DATA:
        last = decode_apdu(frame)
    return last
