"""Target URL parsing and open_transport errors (wireproof.harness.transports.base)."""

from __future__ import annotations

import pytest

from wireproof.errors import HarnessError, TransportError
from wireproof.harness.transports import SerialSettings, TcpAddress, open_transport, parse_url


def test_tcp_url() -> None:
    assert parse_url("tcp://127.0.0.1:502") == TcpAddress(host="127.0.0.1", port=502)
    assert parse_url("tcp://[::1]:1502") == TcpAddress(host="::1", port=1502)
    assert TcpAddress(host="::1", port=1502).url == "tcp://[::1]:1502"


def test_serial_url_defaults_are_modbus_serial_line_defaults() -> None:
    s = parse_url("serial:///dev/ttyS0")
    assert s == SerialSettings(port="/dev/ttyS0", baudrate=19200, parity="E", bytesize=8, stopbits=1)


def test_serial_url_parameters() -> None:
    s = parse_url("serial:///dev/ttyUSB1?baudrate=9600&parity=n&bytesize=7&stopbits=2")
    assert s == SerialSettings(port="/dev/ttyUSB1", baudrate=9600, parity="N", bytesize=7, stopbits=2)
    assert isinstance(s, SerialSettings)
    assert parse_url(s.url) == s
    assert parse_url("serial:///dev/x?stopbits=1.5") == SerialSettings(port="/dev/x", stopbits=1.5)


def test_character_time_counts_start_parity_and_stop_bits() -> None:
    # MB-SL 2.5.1: 8E1 is 11 bits per character.
    assert SerialSettings(port="x", baudrate=11000).character_time == pytest.approx(1e-3)
    assert SerialSettings(port="x", baudrate=10000, parity="N").character_time == pytest.approx(1e-3)


@pytest.mark.parametrize("url", [
    "sctp://127.0.0.1:502",  # udp:// is a scheme now (a message transport)
    "127.0.0.1:502",
    "",
    "tcp://127.0.0.1",
    "tcp://:502",
    "tcp://h:0",
    "tcp://h:99999",
    "tcp://h:abc",
    "tcp://h:502/path",
    "tcp://h:502?x=1",
    "tcp://user@h:502",
    "tcp://[::1:502",
    "serial://",
    "serial:///dev/x?baudrate=fast",
    "serial:///dev/x?baudrate=0",
    "serial:///dev/x?parity=X",
    "serial:///dev/x?bytesize=9",
    "serial:///dev/x?stopbits=3",
    "serial:///dev/x?speed=9600",
    "serial:///dev/x?baudrate=9600&baudrate=19200",
    "serial:///dev/x?baudrate",
])
def test_bad_urls_raise_harness_error(url: str) -> None:
    with pytest.raises(HarnessError) as info:
        parse_url(url)
    assert not isinstance(info.value, TransportError)
    with pytest.raises(HarnessError):
        open_transport(url)


def test_open_missing_serial_device_is_transport_error() -> None:
    with pytest.raises(TransportError) as info:
        open_transport("serial:///dev/wireproof-no-such-tty", timeout=0.5)
    assert isinstance(info.value, OSError)
    assert "/dev/wireproof-no-such-tty" in str(info.value)
