"""tshark as an independent dissector: what wireproof encodes, Wireshark's
Modbus/TCP dissector decodes, with the same function code and no malformed
packet or expert error (DESIGN.md, "Fixtures and peers").

Every function code's request and response, a diagnostics sub-function other
than echo, both MEI types of FC 43 and exception responses are encoded with
the codec, put in fake Ethernet/IPv4/TCP frames on port 502 (MB-TCP 4.1: the
well-known port, which is how the dissector finds Modbus) and dissected.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from wireproof import codecs
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.harness.replay.pcap import build_tcp_frame, write_pcap

pytestmark = pytest.mark.peer

TSHARK = shutil.which("tshark")
CLIENT = ("10.0.0.1", 50123)  # never contacted: the addresses only live inside the file
SERVER = ("10.0.0.2", C.MODBUS_TCP_PORT)

_F = M.FileRecord
PAIRS: list[tuple[Any, Any]] = [
    (M.ReadCoilsRequest(start_address=19, quantity=19),
     M.ReadCoilsResponse(values=tuple(bool(i % 3 == 0) for i in range(24)))),
    (M.ReadDiscreteInputsRequest(start_address=196, quantity=22),
     M.ReadDiscreteInputsResponse(values=tuple(bool(i % 2) for i in range(24)))),
    (M.ReadHoldingRegistersRequest(start_address=107, quantity=3),
     M.ReadHoldingRegistersResponse(values=(0x022B, 0x0000, 0x0064))),
    (M.ReadInputRegistersRequest(start_address=8, quantity=1),
     M.ReadInputRegistersResponse(values=(0x000A,))),
    (M.WriteSingleCoilRequest(address=172, value=C.COIL_ON),
     M.WriteSingleCoilResponse(address=172, value=C.COIL_ON)),
    (M.WriteSingleRegisterRequest(address=1, value=3),
     M.WriteSingleRegisterResponse(address=1, value=3)),
    (M.ReadExceptionStatusRequest(), M.ReadExceptionStatusResponse(status=0x6D)),
    (M.DiagnosticsRequest(sub_function=C.DiagnosticSubFunction.RETURN_QUERY_DATA, data=b"\xa5\x37"),
     M.DiagnosticsResponse(sub_function=C.DiagnosticSubFunction.RETURN_QUERY_DATA, data=b"\xa5\x37")),
    (M.DiagnosticsRequest(sub_function=C.DiagnosticSubFunction.RETURN_BUS_MESSAGE_COUNT, data=b"\x00\x00"),
     M.DiagnosticsResponse(sub_function=C.DiagnosticSubFunction.RETURN_BUS_MESSAGE_COUNT,
                           data=b"\x01\x08")),
    (M.GetCommEventCounterRequest(), M.GetCommEventCounterResponse(status=0xFFFF, event_count=0x0108)),
    (M.GetCommEventLogRequest(),
     M.GetCommEventLogResponse(status=0, event_count=0x0108, message_count=0x0121, events=b"\x20\x00")),
    (M.WriteMultipleCoilsRequest(start_address=19, values=(True, False, True, True, False, False, True, True,
                                                           True, False)),
     M.WriteMultipleCoilsResponse(start_address=19, quantity=10)),
    (M.WriteMultipleRegistersRequest(start_address=1, values=(0x000A, 0x0102)),
     M.WriteMultipleRegistersResponse(start_address=1, quantity=2)),
    (M.ReportServerIdRequest(), M.ReportServerIdResponse(data=b"\x2a\xffwireproof")),
    (M.ReadFileRecordRequest(records=(M.FileSubRequest(file_number=4, record_number=1, record_length=2),
                                      M.FileSubRequest(file_number=3, record_number=9, record_length=2))),
     M.ReadFileRecordResponse(records=((0x0DFE, 0x0020), (0x33CD, 0x0040)))),
    (M.WriteFileRecordRequest(records=(_F(file_number=4, record_number=7, values=(0x06AF, 0x04BE, 0x100D)),)),
     M.WriteFileRecordResponse(records=(_F(file_number=4, record_number=7,
                                           values=(0x06AF, 0x04BE, 0x100D)),))),
    (M.MaskWriteRegisterRequest(address=4, and_mask=0x00F2, or_mask=0x0025),
     M.MaskWriteRegisterResponse(address=4, and_mask=0x00F2, or_mask=0x0025)),
    (M.ReadWriteMultipleRegistersRequest(read_start_address=3, read_quantity=6, write_start_address=14,
                                         values=(0x00FF, 0x00FF, 0x00FF)),
     M.ReadWriteMultipleRegistersResponse(values=(0x00FE, 0x0ACD, 0x0001, 0x0003, 0x000D, 0x00FF))),
    (M.ReadFifoQueueRequest(fifo_pointer_address=0x04DE),
     M.ReadFifoQueueResponse(values=(0x01B8, 0x1284))),
    (M.ReadDeviceIdentificationRequest(read_device_id_code=C.ReadDeviceIdCode.BASIC, object_id=0),
     M.ReadDeviceIdentificationResponse(read_device_id_code=C.ReadDeviceIdCode.BASIC,
                                        conformity_level=C.ConformityLevel.BASIC_STREAM_AND_INDIVIDUAL,
                                        more_follows=False, next_object_id=0,
                                        objects=((0, b"wireproof"), (1, b"WP-1"), (2, b"0.1.0")))),
    (M.CanopenGeneralReferenceRequest(data=b"\x00\x01\x02"),
     M.CanopenGeneralReferenceResponse(data=b"\x00\x01\x02")),
]


def _request_for(fc: int) -> Any:
    """The valid request of function code ``fc`` in PAIRS."""
    return next(req for req, _ in PAIRS if req.function_code == fc)


# Every exception code (MB-AP 7), each on a function code a server may refuse with it.
EXCEPTIONS = [(0x01, 0x01), (0x03, 0x02), (0x06, 0x03), (0x10, 0x04), (0x14, 0x05), (0x15, 0x06),
              (0x16, 0x07), (0x17, 0x08), (0x2B, 0x0A), (0x04, 0x0B)]
PAIRS += [(_request_for(fc), M.ExceptionResponse(function_code=fc, exception_code=code))
          for fc, code in EXCEPTIONS]


def _frames() -> tuple[list[tuple[float, bytes]], list[tuple[int, int, int]]]:
    """The whole conversation as frames, and per data frame (tid, fc, is_response)."""
    tcp = codecs.get("modbus-tcp")
    cseq, sseq = 1000, 5000
    frames = [  # a handshake, so the TCP dissector sees a clean stream from its start
        build_tcp_frame(b"", src=CLIENT, dst=SERVER, seq=cseq - 1, flags=0x02),
        build_tcp_frame(b"", src=SERVER, dst=CLIENT, seq=sseq - 1, ack=cseq, flags=0x12),
        build_tcp_frame(b"", src=CLIENT, dst=SERVER, seq=cseq, ack=sseq, flags=0x10),
    ]
    expected: list[tuple[int, int, int]] = [(-1, -1, -1)] * 3
    for tid, (req, resp) in enumerate(PAIRS, start=1):
        q = tcp.encode(M.TcpAdu(transaction_id=tid, unit_id=1, pdu=req))
        r = tcp.encode(M.TcpAdu(transaction_id=tid, unit_id=1, pdu=resp))
        frames.append(build_tcp_frame(q, src=CLIENT, dst=SERVER, seq=cseq, ack=sseq))
        cseq += len(q)
        frames.append(build_tcp_frame(r, src=SERVER, dst=CLIENT, seq=sseq, ack=cseq))
        sseq += len(r)
        wire_fc = resp.wire_function_code if isinstance(resp, M.ExceptionResponse) else resp.function_code
        expected += [(tid, req.function_code, 0), (tid, wire_fc, 1)]
    return [(1_700_000_000 + i / 1000, f) for i, f in enumerate(frames)], expected


FIELDS = ["frame.number", "frame.protocols", "mbtcp.trans_id", "modbus.func_code", "_ws.malformed",
          "_ws.expert.severity", "_ws.expert.message", "modbus.exception_code", "modbus.reference_num",
          "modbus.regval_uint16", "modbus.diagnostic_code", "modbus.object_str_value", "modbus.mei",
          "modbus.data"]
Dissected = tuple[list[dict[str, str]], list[tuple[int, int, int]]]
# Wireshark's expert severities (epan/proto.h): PI_ERROR is 0x00800000.
PI_ERROR = 0x00800000


@pytest.fixture(scope="module")
def dissected(tmp_path_factory: pytest.TempPathFactory) -> Dissected:
    if TSHARK is None:
        pytest.skip("tshark not installed (Debian package tshark)")
    frames, expected = _frames()
    path = Path(tmp_path_factory.mktemp("tshark")) / "wireproof-modbus.pcap"
    write_pcap(path, frames)
    cmd = [TSHARK, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
           "-E", "aggregator=;"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout
    rows = [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]
    return rows, expected


def test_every_frame_is_modbus(dissected: Dissected) -> None:
    rows, expected = dissected
    assert len(rows) == len(expected)
    for row, (tid, _, _) in zip(rows, expected, strict=True):
        if tid < 0:
            continue
        assert row["frame.protocols"].endswith("tcp:mbtcp:modbus"), row
        assert int(row["mbtcp.trans_id"]) == tid, row


def test_function_codes_agree(dissected: Dissected) -> None:
    rows, expected = dissected
    for row, (tid, fc, _) in zip(rows, expected, strict=True):
        if tid < 0:
            continue
        assert int(row["modbus.func_code"], 0) == fc & 0x7F, (row, fc)
        if fc & C.EXCEPTION_FLAG:
            assert row["modbus.exception_code"], row


def _ints(cell: str) -> list[int]:
    return [int(v, 0) for v in cell.split(";") if v]


def test_field_values_agree(dissected: Dissected) -> None:
    """Beyond the function code: addresses, register values, sub-functions, MEI objects, exception codes."""
    rows, expected = dissected
    checked = 0
    for row, (tid, _, is_resp) in zip(rows, expected, strict=True):
        if tid < 0:
            continue
        req, resp = PAIRS[tid - 1]
        pdu = resp if is_resp else req
        if isinstance(pdu, M.ExceptionResponse):
            assert _ints(row["modbus.exception_code"]) == [pdu.exception_code], row
        elif isinstance(pdu, M.ReadHoldingRegistersResponse | M.ReadInputRegistersResponse):
            assert _ints(row["modbus.regval_uint16"]) == list(pdu.values), row
        elif isinstance(pdu, M.ReadWriteMultipleRegistersResponse | M.ReadFifoQueueResponse):
            # tshark 4.0 shows these registers as raw data only
            wire = b"".join(v.to_bytes(2, "big") for v in pdu.values).hex()
            assert row["modbus.data"].replace(":", "") == wire, row
        elif hasattr(pdu, "start_address"):
            assert _ints(row["modbus.reference_num"]) == [pdu.start_address], row
        elif isinstance(pdu, M.DiagnosticsRequest | M.DiagnosticsResponse):
            assert _ints(row["modbus.diagnostic_code"]) == [pdu.sub_function], row
        elif isinstance(pdu, M.ReadDeviceIdentificationResponse):
            assert row["modbus.object_str_value"].split(";") == [v.decode() for _, v in pdu.objects], row
            assert _ints(row["modbus.mei"]) == [C.MeiType.READ_DEVICE_IDENTIFICATION], row
        else:
            continue
        checked += 1
    assert checked >= 25


def test_no_malformed_or_expert_error(dissected: Dissected) -> None:
    rows, _ = dissected
    bad = []
    for row in rows:
        severities = [int(s, 0) for s in row["_ws.expert.severity"].split(";") if s]
        if row["_ws.malformed"] or any(s >= PI_ERROR for s in severities):
            bad.append(row)
    assert not bad, "\n".join(str(b) for b in bad)


def test_every_function_code_covered() -> None:
    covered = {req.function_code for req, _ in PAIRS}
    assert covered == {int(fc) for fc in C.FunctionCode}
    assert {resp.exception_code for _, resp in PAIRS if isinstance(resp, M.ExceptionResponse)} == \
        {int(e) for e in C.ExceptionCode}


def test_detector_sees_a_malformed_pdu(tmp_path: Path) -> None:
    """Control: the same pipeline flags a truncated PDU, so a pass above means something."""
    if TSHARK is None:
        pytest.skip("tshark not installed (Debian package tshark)")
    bad = bytes.fromhex("000100000003012b0e")  # FC 43 / MEI 14 with no Read Device ID code
    path = tmp_path / "bad.pcap"
    write_pcap(path, [(1.0, build_tcp_frame(bad, src=CLIENT, dst=SERVER, seq=1))])
    out = subprocess.run([TSHARK, "-n", "-r", str(path), "-T", "fields", "-e", "_ws.malformed"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert "_ws.malformed" in out


CAPTURES = Path(str(resources.files("wireproof.fixtures") / "modbus" / "captures"))


@pytest.mark.parametrize("pcap", sorted(CAPTURES.glob("*.pcapng")), ids=lambda p: p.stem)
def test_recorded_captures_dissect_cleanly(pcap: Path) -> None:
    """The peer sessions (both sides' bytes) dissect as Modbus with no malformed frame,
    and tshark counts as many Modbus PDUs as the sidecar says."""
    if TSHARK is None:
        pytest.skip("tshark not installed (Debian package tshark)")
    meta = tomllib.loads(pcap.with_suffix(".toml").read_text())
    out = subprocess.run([TSHARK, "-n", "-r", str(pcap), "-d", f"tcp.port=={meta['server_port']},mbtcp",
                          "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=;",
                          "-e", "modbus.func_code", "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert sum(1 for fc, _, _ in rows if fc) == meta["adus"]
    bad = [r for r in rows if r[1] or any(int(s, 0) >= PI_ERROR for s in r[2].split(";") if s)]
    assert not bad, bad
