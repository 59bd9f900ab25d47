"""The Modbus vector files: what they must cover, and checks only Modbus has.

Every vector is checked every way by wireproof.codecs.testing.check_vector in
tests/test_protocol_fixtures.py, which does it for every registered protocol.
"""

from __future__ import annotations

import pytest

from wireproof.codecs.modbus import crc16, lrc
from wireproof.harness.fixtures import load_vectors, vector_files
from wireproof.protocol import REGISTRY

FILES = vector_files(REGISTRY.descriptor("modbus"))
VECTORS = [v for f in FILES for v in load_vectors(f)]


def test_vector_files_present() -> None:
    names = {f.name for f in FILES}
    assert {"tcp.toml", "rtu.toml", "ascii.toml", "tcp_errors.toml", "rtu_errors.toml",
            "ascii_errors.toml"} <= names
    assert len(VECTORS) > 100


def test_every_function_code_has_a_request_and_a_response() -> None:
    types = {v.fields["pdu"]["type"] for v in VECTORS if v.codec == "modbus-tcp" and v.error is None}
    for name in ("ReadCoils", "ReadDiscreteInputs", "ReadHoldingRegisters", "ReadInputRegisters",
                 "ReadExceptionStatus", "GetCommEventCounter", "GetCommEventLog", "WriteMultipleCoils",
                 "WriteMultipleRegisters", "ReportServerId", "ReadFileRecord",
                 "ReadWriteMultipleRegisters", "ReadFifoQueue", "ReadDeviceIdentification"):
        assert f"{name}Request" in types and f"{name}Response" in types, name
    assert {"ExceptionResponse", "UnknownPdu", "CanopenGeneralReferenceRequest"} <= types


def test_spec_worked_examples() -> None:
    # MB-SL 6.2.1: LRC of 11 03 00 6B 00 03 is 0x7E.
    assert lrc(bytes.fromhex("1103006B0003")) == 0x7E
    # CRC-16/MODBUS check value (catalogue of parametrised CRCs: "123456789" -> 0x4B37).
    assert crc16(b"123456789") == 0x4B37


def test_crc_and_lrc_agree_with_pymodbus() -> None:
    pytest.importorskip("pymodbus", reason="pymodbus (extra 'peers') is not installed")
    from pymodbus.framer.ascii import FramerAscii
    from pymodbus.framer.rtu import FramerRTU

    checked = 0
    for v in VECTORS:
        if v.codec == "modbus-rtu" and v.error is None:
            body = v.data[:-2]
            assert FramerRTU.compute_CRC(body) == int.from_bytes(v.data[-2:], "big"), v.id
            assert crc16(body) == int.from_bytes(v.data[-2:], "little"), v.id
            checked += 1
        if v.codec == "modbus-ascii" and v.error is None:
            raw = bytes.fromhex(v.data[1:-2].decode())
            assert FramerAscii.compute_LRC(raw[:-1]) == raw[-1], v.id
            checked += 1
    assert checked > 20
