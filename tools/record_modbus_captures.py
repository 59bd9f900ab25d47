#!/usr/bin/env python3
"""Record the Modbus/TCP peer capture fixtures (src/wireproof/fixtures/modbus/captures/).

Each session runs on loopback between wireproof and an independent peer and
is captured with dumpcap (Debian package tshark; needs capture rights on
``lo``, e.g. root): ``dumpcap -i lo -f "tcp port PORT" -w FILE``. The server
is bound to 127.0.0.1:0 first, so the filter names the port it got. Every
capture gets a TOML sidecar: peer, peer version, the exact command or
script, date, wireproof version, and what the session does.

Sessions:

- ``pymodbus-client_wireproof-server``: pymodbus's ModbusTcpClient, every
  function code it can send, against ``wireproof simulate modbus-server``'s
  engine (running_server) with the default data model;
- ``wireproof-client_pymodbus-server``: wireproof's BlockingModbusClient
  against pymodbus's ModbusTcpServer, every function code it serves;
- ``mbpoll_wireproof-server``: mbpoll reads of each table and writes.

Run: ``python tools/record_modbus_captures.py [--out DIR] [--only NAME]``.
Regenerating changes timestamps and ports, not the Modbus content.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import tomli_w

from wireproof import codecs
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.harness.modbus_client import BlockingModbusClient
from wireproof.harness.replay.capture import iter_capture
from wireproof.harness.replay.dissector import tcp_streams
from wireproof.harness.simulators.modbus_server import running_server

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "src" / "wireproof" / "fixtures" / "modbus" / "captures"
TIMEOUT = 10.0
REFERENCE_SERVER = "server (wireproof.harness.simulators.modbus_server.running_server, default data model)"


# --- capture --------------------------------------------------------------------------


@contextlib.contextmanager
def capture(path: Path, port: int, *, connections: int) -> Iterator[None]:
    """Capture ``tcp port PORT`` on lo into ``path`` while the block runs.

    tshark (which runs dumpcap) prints one line per packet written (``-P -l``),
    so the recorder waits on events, not on guesses: "Capturing on" is printed
    before the filter is live, so UDP probes to PORT are sent until one shows
    up; at the end it waits until every connection's two FINs have been
    written (the ring buffer hands packets over in blocks, and SIGINT would
    drop what is still queued), then for the trailing ACKs, then stops tshark.
    The probes stay in the file; readers skip non-TCP frames.
    """
    tshark = shutil.which("tshark")
    if tshark is None:
        raise SystemExit("tshark not found (Debian package tshark)")
    path.unlink(missing_ok=True)
    proc = subprocess.Popen(
        [tshark, "-l", "-n", "-q", "-i", "lo", "-f", f"tcp port {port} or udp port {port}", "-w", str(path),
         "-P", "-T", "fields", "-e", "frame.number", "-e", "udp.dstport", "-e", "tcp.flags.fin"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    deadline = time.monotonic() + TIMEOUT
    try:
        while True:  # probe until the capture demonstrably sees traffic on PORT
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("tshark capture did not start")
            probe.sendto(b"wireproof capture probe", ("127.0.0.1", port))
            try:
                lines.get(timeout=0.5)
                break
            except queue.Empty:
                continue
        yield
        fins = 0
        while fins < 2 * connections:
            try:
                fields = lines.get(timeout=TIMEOUT).rstrip("\n").split("\t")
            except queue.Empty:
                raise SystemExit(f"capture: saw {fins} FINs of {2 * connections}") from None
            fins += fields[-1] in ("1", "True")
        with contextlib.suppress(queue.Empty):
            while True:  # the last ACKs: they follow within the next ring-buffer block
                lines.get(timeout=1.0)
    finally:
        probe.close()
        proc.send_signal(signal.SIGINT)
        proc.wait(TIMEOUT)


# --- sessions -------------------------------------------------------------------------


def session_pymodbus_client(out: Path) -> dict[str, Any]:
    import pymodbus
    from pymodbus.client import ModbusTcpClient
    from pymodbus.pdu.file_message import FileRecord

    script = [
        "read_coils(10, count=12)", "read_discrete_inputs(0, count=9)",
        "read_holding_registers(100, count=10)", "read_input_registers(7, count=3)",
        "write_coil(4, True)", "write_coils(40, [True, True, False, True, False, False, False, False, True])",
        "write_register(5, 0xCAFE)", "write_registers(50, [1, 2, 3, 0xFFFF])",
        "mask_write_register(address=0x12, and_mask=0x00F2, or_mask=0x0025)",
        "readwrite_registers(read_address=60, read_count=4, write_address=61, values=[0xAAAA, 0xBBBB])",
        "read_exception_status()", "diag_query_data(b'\\x12\\x34')", "diag_read_diagnostic_register()",
        "diag_change_ascii_input_delimeter(delimiter=0x0D00)", "diag_clear_counters()",
        "diag_read_bus_message_count()", "diag_read_bus_comm_error_count()",
        "diag_read_bus_exception_error_count()", "diag_read_device_message_count()",
        "diag_read_device_no_response_count()", "diag_read_device_nak_count()",
        "diag_read_device_busy_count()", "diag_read_bus_char_overrun_count()",
        "diag_read_iop_overrun_count()", "diag_clear_overrun_counter()", "diag_getclear_modbus_response()",
        "diag_restart_communication(toggle=False)", "diag_get_comm_event_counter()",
        "diag_get_comm_event_log()", "report_device_id()",
        "read_file_record([FileRecord(file_number=1, record_number=2, record_length=6)])",
        "write_file_record([FileRecord(file_number=1, record_number=2, record_data=REC)])",
        "read_fifo_queue(address=0x0400)", "read_fifo_queue(address=0x0401)",
        "read_device_information(read_code=1)", "read_device_information(read_code=3)",
        "read_device_information(read_code=4, object_id=4)", "read_holding_registers(1990, count=20)",
        "read_coils(0, count=1, device_id=7)",
    ]
    with running_server("127.0.0.1:0") as server, capture(out, server.port, connections=1):
        client = ModbusTcpClient(server.host, port=server.port, timeout=2, retries=0)
        assert client.connect()
        env = {"client": client, "FileRecord": FileRecord, "REC": bytes.fromhex("00010002")}
        for call in script:  # pymodbus's device_id defaults to 1
            eval(f"client.{call}", env)  # the script is this file's own literal list above
        client.close()
    return {
        "peer": "pymodbus", "peer_version": pymodbus.__version__, "peer_role": "client",
        "wireproof_role": REFERENCE_SERVER,
        "command": "tools/record_modbus_captures.py session pymodbus-client_wireproof-server: "
                   "pymodbus.client.ModbusTcpClient(host, port=PORT, timeout=2, retries=0) calling, "
                   "in order: "
                   + "; ".join(script),
        "description": "pymodbus client calls every function code its ModbusClientMixin offers (all "
                       "diagnostics sub-functions included) against the reference server; ends with two "
                       "exception responses (02 ILLEGAL DATA ADDRESS, 0A GATEWAY PATH UNAVAILABLE).",
        "server_port": server.port,
    }


def _pymodbus_server_thread(ready: threading.Event, state: dict[str, Any]) -> None:
    from pymodbus.pdu.device import ModbusDeviceIdentification
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    loop = asyncio.new_event_loop()

    async def main() -> None:
        device = SimDevice(id=1, simdata=(
            [SimData(0, values=[i % 3 == 0 for i in range(64)], datatype=DataType.BITS)],
            [SimData(0, values=[i % 2 == 1 for i in range(64)], datatype=DataType.BITS)],
            [SimData(0, values=[100 + i for i in range(64)], datatype=DataType.REGISTERS)],
            [SimData(0, values=[200 + i for i in range(64)], datatype=DataType.REGISTERS)],
        ))
        identity = ModbusDeviceIdentification(info_name={"VendorName": "pymodbus-peer", "ProductCode": "PMP",
                                                         "MajorMinorRevision": "3.16"})
        server = ModbusTcpServer(device, address=("127.0.0.1", 0), identity=identity)
        await server.serve_forever(background=True)
        state.update(server=server, loop=loop, port=server.transport.sockets[0].getsockname()[1])
        ready.set()
        await server.serving

    loop.run_until_complete(main())
    loop.close()


WIREPROOF_REQUESTS: list[M.Pdu] = [
    M.ReadCoilsRequest(start_address=3, quantity=19),
    M.ReadDiscreteInputsRequest(start_address=0, quantity=8),
    M.ReadHoldingRegistersRequest(start_address=5, quantity=10),
    M.ReadInputRegistersRequest(start_address=60, quantity=4),
    M.WriteSingleCoilRequest(address=1, value=C.COIL_ON),
    M.WriteSingleRegisterRequest(address=2, value=0xBEEF),
    M.ReadExceptionStatusRequest(),
    M.DiagnosticsRequest(sub_function=C.DiagnosticSubFunction.RETURN_QUERY_DATA, data=b"\x12\x34"),
    M.DiagnosticsRequest(sub_function=C.DiagnosticSubFunction.RETURN_BUS_MESSAGE_COUNT, data=b"\x00\x00"),
    M.GetCommEventCounterRequest(),
    M.GetCommEventLogRequest(),
    M.WriteMultipleCoilsRequest(start_address=20, values=(True, False, True, True, False, False, True, False,
                                                          True, True)),
    M.WriteMultipleRegistersRequest(start_address=10, values=(1, 2, 0xFFFF)),
    M.ReportServerIdRequest(),
    M.WriteFileRecordRequest(records=(M.FileRecord(file_number=4, record_number=1, values=(5, 6)),)),
    M.MaskWriteRegisterRequest(address=4, and_mask=0x00F2, or_mask=0x0025),
    M.ReadWriteMultipleRegistersRequest(read_start_address=30, read_quantity=4, write_start_address=31,
                                        values=(7, 8)),
    M.ReadFifoQueueRequest(fifo_pointer_address=0),
    M.ReadDeviceIdentificationRequest(read_device_id_code=C.ReadDeviceIdCode.BASIC, object_id=0),
    M.ReadHoldingRegistersRequest(start_address=60, quantity=10),
]


def session_wireproof_client(out: Path) -> dict[str, Any]:
    import pymodbus

    ready, state = threading.Event(), {}
    thread = threading.Thread(target=_pymodbus_server_thread, args=(ready, state), daemon=True)
    thread.start()
    if not ready.wait(TIMEOUT):
        raise SystemExit("pymodbus server did not start")
    try:
        with capture(out, state["port"], connections=1), \
                BlockingModbusClient.connect(f"tcp://127.0.0.1:{state['port']}", timeout=2) as client:
            for pdu in WIREPROOF_REQUESTS:
                client.request(pdu, 1)
    finally:
        asyncio.run_coroutine_threadsafe(state["server"].shutdown(), state["loop"]).result(TIMEOUT)
        thread.join(TIMEOUT)
    return {
        "peer": "pymodbus", "peer_version": pymodbus.__version__, "peer_role": "server",
        "wireproof_role": "client (wireproof.harness.modbus_client.BlockingModbusClient)",
        "command": "tools/record_modbus_captures.py session wireproof-client_pymodbus-server: "
                   "pymodbus.server.ModbusTcpServer(SimDevice(id=1, four 64-entry blocks), "
                   "address=('127.0.0.1', 0)); BlockingModbusClient.request(pdu, 1) for each of "
                   "WIREPROOF_REQUESTS in that script",
        "description": "wireproof client sends every function code pymodbus's server serves (FC 20 left out: "
                       "pymodbus 3.16 answers it with a fixed 10-register record); ends with an exception "
                       "response (02 ILLEGAL DATA ADDRESS).",
        "server_port": state["port"],
    }


MBPOLL_RUNS = [
    ["-t", "4", "-r", "100", "-c", "5"], ["-t", "3:hex", "-r", "7", "-c", "3"],
    ["-t", "0", "-r", "0", "-c", "10"],
    ["-t", "1", "-r", "0", "-c", "10"], ["-t", "4", "-r", "20", "+", "7", "8", "65535"],
    ["-t", "4", "-r", "30", "+", "4660"], ["-t", "0", "-r", "2", "+", "1"],
    ["-t", "0", "-r", "40", "+", "1", "1", "0", "1", "0"], ["-t", "4", "-r", "1995", "-c", "10"],
]


def session_mbpoll(out: Path) -> dict[str, Any]:
    mbpoll = shutil.which("mbpoll")
    if mbpoll is None:
        raise SystemExit("mbpoll not found (Debian package mbpoll)")
    version = subprocess.run([mbpoll, "-V"], capture_output=True, text=True, check=True).stdout.strip()
    commands = []
    with running_server("127.0.0.1:0") as server, capture(out, server.port, connections=len(MBPOLL_RUNS)):
        for run in MBPOLL_RUNS:
            opts, _, values = " ".join(run).partition(" + ")
            cmd = [mbpoll, "-m", "tcp", "-a", "1", "-0", "-1", "-o", "2", "-p", str(server.port),
                   *opts.split(), server.host, *values.split()]
            subprocess.run(cmd, capture_output=True, timeout=TIMEOUT, check=False)
            commands.append(" ".join(["mbpoll", *cmd[1:]]).replace(str(server.port), "PORT"))
    return {
        "peer": "mbpoll (libmodbus)", "peer_version": version, "peer_role": "client",
        "wireproof_role": REFERENCE_SERVER,
        "command": "; ".join(commands),
        "description": "mbpoll, one connection per run: reads of holding registers, input registers, coils "
                       "and discrete inputs, writes of registers (FC 16, FC 06) and coils (FC 05, FC 15), "
                       "and a read past the end answered with 02 ILLEGAL DATA ADDRESS.",
        "server_port": server.port,
    }


SESSIONS: dict[str, Callable[[Path], dict[str, Any]]] = {
    "pymodbus-client_wireproof-server": session_pymodbus_client,
    "wireproof-client_pymodbus-server": session_wireproof_client,
    "mbpoll_wireproof-server": session_mbpoll,
}


def check(path: Path, server_port: int) -> int:
    """Decode every ADU of the capture; the number of ADUs (raises on any error)."""
    tcp = codecs.get("modbus-tcp")
    count = 0
    for stream in tcp_streams(iter_capture(path), port=server_port):
        framer = tcp.framer()
        framer.feed(stream.data)
        while (frame := framer.next_frame()) is not codecs.NEED_DATA:
            assert isinstance(frame, bytes)
            if stream.dst[1] == server_port:
                tcp.decode_request(frame)
            else:
                tcp.decode_response(frame)
            count += 1
        if framer.buffered:
            raise SystemExit(f"{path}: {framer.buffered} bytes left over in {stream.src}->{stream.dst}")
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--only", choices=sorted(SESSIONS))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, session in SESSIONS.items():
        if args.only and name != args.only:
            continue
        pcap = args.out / f"{name}.pcapng"
        meta = session(pcap)
        meta["capture"] = pcap.name
        meta["date"] = dt.datetime.now(dt.UTC).date().isoformat()
        meta["wireproof_version"] = importlib.metadata.version("wireproof")
        meta["recorded_with"] = ("tools/record_modbus_captures.py; tshark -i lo -f "
                                 "'tcp port PORT or udp port PORT' -w FILE (UDP probes to PORT mark "
                                 "the start)")
        meta["framing"] = "tcp"
        meta["adus"] = check(pcap, meta["server_port"])
        (args.out / f"{name}.toml").write_text(
            f"# Sidecar of {pcap.name}: provenance of a recorded peer session (DESIGN.md, "
            "'Fixtures and peers').\n# Regenerate with tools/record_modbus_captures.py.\n"
            + tomli_w.dumps(dict(sorted(meta.items()))))
        print(f"{pcap.name}: {pcap.stat().st_size} bytes, {meta['adus']} ADUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
