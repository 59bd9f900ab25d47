"""Peer fixtures: pymodbus's server on loopback, wireproof's reference server.

The pymodbus server runs in a background thread with its own asyncio loop,
bound to 127.0.0.1:0; the fixture waits for the listening socket (an event,
never a sleep) and reads the port the kernel chose. Its data is four
separate blocks (coils, discrete inputs, holding and input registers, each
64 entries from address 0) filled with the patterns below, so a test can
predict every value and read the block back after a write.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

SIZE = 64
COILS = [i % 3 == 0 for i in range(SIZE)]
DISCRETE_INPUTS = [i % 2 == 1 for i in range(SIZE)]
HOLDING_REGISTERS = [100 + i for i in range(SIZE)]
INPUT_REGISTERS = [200 + i for i in range(SIZE)]
UNIT = 1
IDENTITY = {"VendorName": "pymodbus-peer", "ProductCode": "PMP", "MajorMinorRevision": "3.16"}
START_TIMEOUT = 10.0


@dataclass
class PymodbusServer:
    """A running pymodbus ModbusTcpServer; ``get_values`` reads its data store."""

    host: str
    port: int
    version: str
    loop: asyncio.AbstractEventLoop
    server: Any
    thread: threading.Thread
    errors: list[BaseException] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    def get_values(self, function_code: int, address: int, count: int) -> list[Any]:
        """The server's values as it would serve them for ``function_code`` (1, 2, 3 or 4)."""
        values = self._call(self.server.context.async_getValues(UNIT, function_code, address, count))
        return list(values)


def _pymodbus_thread(ready: threading.Event, out: dict[str, Any]) -> None:
    from pymodbus.pdu.device import ModbusDeviceIdentification
    from pymodbus.server import ModbusTcpServer
    from pymodbus.simulator import DataType, SimData, SimDevice

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    async def main() -> None:
        device = SimDevice(id=UNIT, simdata=(
            [SimData(0, values=list(COILS), datatype=DataType.BITS)],
            [SimData(0, values=list(DISCRETE_INPUTS), datatype=DataType.BITS)],
            [SimData(0, values=list(HOLDING_REGISTERS), datatype=DataType.REGISTERS)],
            [SimData(0, values=list(INPUT_REGISTERS), datatype=DataType.REGISTERS)],
        ))
        server = ModbusTcpServer(device, address=("127.0.0.1", 0),
                                 identity=ModbusDeviceIdentification(info_name=dict(IDENTITY)))
        await server.serve_forever(background=True)
        out["server"] = server
        out["loop"] = loop
        out["port"] = server.transport.sockets[0].getsockname()[1]
        ready.set()
        await server.serving

    try:
        loop.run_until_complete(main())
    except BaseException as exc:  # reported to the test thread, which raises it
        out["error"] = exc
        ready.set()
    finally:
        loop.close()


@pytest.fixture
def pymodbus_server() -> Iterator[PymodbusServer]:
    """A pymodbus 3.x TCP server on 127.0.0.1:0 (skips if pymodbus is absent)."""
    pymodbus = pytest.importorskip("pymodbus", reason="pymodbus (extra 'peers') is not installed")
    ready = threading.Event()
    out: dict[str, Any] = {}
    thread = threading.Thread(target=_pymodbus_thread, args=(ready, out), name="pymodbus-server",
                              daemon=True)
    thread.start()
    if not ready.wait(START_TIMEOUT):
        raise TimeoutError("pymodbus server did not start listening in time")
    if "error" in out:
        raise out["error"]
    peer = PymodbusServer(host="127.0.0.1", port=out["port"], version=pymodbus.__version__,
                          loop=out["loop"], server=out["server"], thread=thread)
    try:
        yield peer
    finally:
        peer._call(peer.server.shutdown())
        thread.join(START_TIMEOUT)
        assert not thread.is_alive(), "pymodbus server thread did not stop"


@pytest.fixture
def reference_server() -> Iterator[Any]:
    """wireproof's reference Modbus/TCP server (default data model) on 127.0.0.1:0."""
    from wireproof.harness.simulators.modbus_server import running_server

    with running_server("127.0.0.1:0") as handle:
        yield handle


@pytest.fixture
def pymodbus_client(reference_server: Any) -> Iterator[Any]:
    """A connected pymodbus ModbusTcpClient aimed at the reference server."""
    client_mod = pytest.importorskip("pymodbus.client", reason="pymodbus (extra 'peers') is not installed")
    client = client_mod.ModbusTcpClient(reference_server.host, port=reference_server.port, timeout=2,
                                        retries=0)
    assert client.connect(), "pymodbus could not connect to the reference server"
    try:
        yield client
    finally:
        client.close()


# --- DNP3 peers (tests/peers/dnp3_peers.py) -------------------------------------------------


@pytest.fixture
def dnp3_outstation(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A factory: ``dnp3_outstation("yadnp3", "--unsolicited")`` starts a peer outstation subprocess
    (waits on its listening line) and stops it at teardown; skips when the package is missing."""
    from tests.peers import dnp3_peers

    started: list[Any] = []

    def start(impl: str, *flags: str) -> Any:
        reason = dnp3_peers.missing(impl)
        if reason is not None:
            pytest.skip(reason)
        outstation = dnp3_peers.start_outstation(impl, *flags)
        started.append(outstation)
        return outstation

    yield start
    for outstation in started:
        if outstation.process.poll() is None:
            outstation.process.kill()
            outstation.process.wait()


@pytest.fixture
def dnp3_master() -> Any:
    """A function: ``dnp3_master("dnp3py", outstation, "integrity,wait,events")`` runs a peer master
    session to its end (a ``wait`` step makes the outstation change); skips when the package is missing."""
    from tests.peers import dnp3_peers

    def run(impl: str, outstation: Any, script: str, *flags: str) -> Any:
        reason = dnp3_peers.missing(impl)
        if reason is not None:
            pytest.skip(reason)
        return dnp3_peers.run_master(impl, outstation, script, *flags)

    return run
