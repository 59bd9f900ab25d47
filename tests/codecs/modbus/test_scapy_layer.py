"""The Scapy adapter: wireproof's Modbus layer on TCP/502 through a pcap round trip."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("scapy", reason="scapy (extra 'scapy') is not installed")

from hypothesis import given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Raw
from scapy.utils import rdpcap, wrpcap

from wireproof.codecs.modbus import (
    ExceptionCode,
    ExceptionResponse,
    ReadHoldingRegistersRequest,
    ReadHoldingRegistersResponse,
    TcpAdu,
    WriteSingleRegisterRequest,
    WriteSingleRegisterResponse,
    tcp_codec,
)
from wireproof.codecs.modbus.scapy_layer import (
    WireproofModbusPDU,
    WireproofModbusTCP,
    install,
    installed,
    uninstall,
)
from wireproof.errors import DecodeError, TruncatedError

CODEC = tcp_codec()


@pytest.fixture
def layer_installed() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()


def segment(payload: bytes, *, to_server: bool = True) -> Any:
    ports = {"sport": 49152, "dport": 502} if to_server else {"sport": 502, "dport": 49152}
    return Ether() / IP(src="127.0.0.1", dst="127.0.0.1") / TCP(**ports) / Raw(payload)


def pcap_round_trip(tmp_path: Path, packets: list[Any]) -> list[Any]:
    path = tmp_path / "modbus.pcap"
    wrpcap(str(path), packets)
    return list(rdpcap(str(path)))


def test_importing_binds_nothing() -> None:
    # In a fresh interpreter: in this one, other tests install and uninstall.
    code = ("import wireproof.codecs.modbus.scapy_layer as s\n"
            "from scapy.layers.inet import TCP\n"
            "from scapy.packet import Raw\n"
            "pkt = TCP(bytes(TCP(dport=502) / Raw(bytes.fromhex('000100000006010300000001'))))\n"
            "print(s.installed(), s.WireproofModbusTCP in pkt)\n"
            "s.install()\n"
            "print(s.installed(), s.WireproofModbusTCP in TCP(bytes(pkt)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split() == ["False", "False", "True", "True"]


def test_pcap_requests_and_responses_decode(tmp_path: Path, layer_installed: None) -> None:
    # FC 06's response echoes the request byte for byte: only the direction (from the ports) tells them apart.
    adus = [
        (TcpAdu(transaction_id=1, unit_id=17, pdu=ReadHoldingRegistersRequest(start_address=107, quantity=3)),
         True),
        (TcpAdu(transaction_id=1, unit_id=17, pdu=ReadHoldingRegistersResponse(values=(0x022B, 0, 0x64))),
         False),
        (TcpAdu(transaction_id=2, unit_id=1, pdu=WriteSingleRegisterRequest(address=1, value=3)), True),
        (TcpAdu(transaction_id=2, unit_id=1, pdu=WriteSingleRegisterResponse(address=1, value=3)), False),
        (TcpAdu(transaction_id=3, unit_id=1, pdu=ExceptionResponse(
            function_code=3, exception_code=ExceptionCode.ILLEGAL_DATA_ADDRESS)), False),
    ]
    packets = pcap_round_trip(tmp_path, [segment(CODEC.encode(a), to_server=req) for a, req in adus])
    assert len(packets) == len(adus)
    for pkt, (adu, to_server) in zip(packets, adus, strict=True):
        assert WireproofModbusTCP in pkt, pkt.summary()
        layer = pkt[WireproofModbusTCP]
        assert layer.modbus_direction == ("request" if to_server else "response")
        assert layer.decode_error is None
        assert layer.message == adu
        assert (layer.transaction_id, layer.unit_id, layer.length) == (
            adu.transaction_id, adu.unit_id, len(CODEC.encode(adu)) - 6)
        assert pkt[WireproofModbusPDU].message == adu.pdu
        assert type(adu.pdu).__name__ in pkt.summary()


@pytest.mark.parametrize(("payload", "error"), [
    (bytes.fromhex("0001000000060103006b"), TruncatedError),   # length announces 2 bytes more than there are
    (bytes.fromhex("000100000006010300000000"), DecodeError),   # quantity 0 (MB-AP 6.3: 1..125)
    (bytes.fromhex("000100050006010300000001"), DecodeError),   # protocol id 5 (MB-TCP 3.1.3: 0)
    (bytes.fromhex("0001000000"), TruncatedError),              # inside the MBAP header
])
def test_malformed_payload_gives_a_layer_with_its_error(
        tmp_path: Path, layer_installed: None, payload: bytes, error: type[DecodeError]) -> None:
    (pkt,) = pcap_round_trip(tmp_path, [segment(payload)])
    assert WireproofModbusTCP in pkt
    layer = pkt[WireproofModbusTCP]
    assert layer.message is None
    err = layer.decode_error
    assert isinstance(err, error)
    assert err.protocol == "modbus-tcp"
    assert "DecodeError" in pkt.summary()


def test_trailing_bytes_are_not_part_of_the_adu(layer_installed: None) -> None:
    adu = TcpAdu(transaction_id=9, unit_id=1, pdu=ReadHoldingRegistersRequest(start_address=0, quantity=1))
    pkt = Ether(bytes(segment(CODEC.encode(adu) + b"\x00\x00\x00")))
    assert pkt[WireproofModbusTCP].message == adu


def test_building_sets_port_and_length(layer_installed: None) -> None:
    built = TCP(sport=49152) / WireproofModbusTCP(transaction_id=7, unit_id=1) / WireproofModbusPDU(
        function_code=3, data=bytes.fromhex("006b0003"))
    pkt = TCP(bytes(built))
    assert pkt.dport == 502
    assert pkt[WireproofModbusTCP].length == 6
    assert pkt[WireproofModbusTCP].message == TcpAdu(
        transaction_id=7, unit_id=1, pdu=ReadHoldingRegistersRequest(start_address=107, quantity=3))
    adu = TcpAdu(transaction_id=8, unit_id=2, pdu=WriteSingleRegisterRequest(address=4, value=5))
    assert WireproofModbusTCP.from_adu(adu).decode_modbus("request") == adu


def test_wins_over_scapy_contrib_modbus_and_uninstall_gives_it_back(layer_installed: None) -> None:
    contrib = pytest.importorskip("scapy.contrib.modbus", reason="scapy (extra 'scapy') is not installed")
    frame = bytes.fromhex("000100000006010300000001")
    wire = bytes(segment(frame))
    install()  # again, now that contrib's bindings exist too: still first, still once
    assert sum(cls is WireproofModbusTCP for _, cls in TCP.payload_guess) == 2
    assert WireproofModbusTCP in Ether(wire)
    assert contrib.ModbusADURequest not in Ether(wire)
    uninstall()
    assert not installed()
    assert contrib.ModbusADURequest in Ether(wire)
    assert WireproofModbusTCP not in Ether(wire)


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=40), to_server=st.booleans())
def test_any_payload_dissects_without_crashing(payload: bytes, to_server: bool) -> None:
    install()
    try:
        pkt = Ether(bytes(segment(payload, to_server=to_server)))
    finally:
        uninstall()
    if not payload:
        return
    layer = pkt[WireproofModbusTCP]
    message, error = layer.message, layer.decode_error
    assert (message is None) != (error is None)
    if message is not None:
        assert CODEC.encode(message) == layer.adu_bytes()
