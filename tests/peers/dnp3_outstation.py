"""A real DNP3 outstation on loopback TCP, from yadnp3 (opendnp3) or dnp3py: a peer target.

Run as a script: ``python dnp3_outstation.py --impl yadnp3|dnp3py [--port N]
[--unsolicited] [--need-time] [--keep-alive-ms N]``. It serves the database of
tests/peers/dnp3_points.py at link address 10 for master 1, prints one line
``listening on 127.0.0.1:PORT`` when the library's socket is listening, and
serves until SIGTERM or SIGINT (exit 0).

Control and observation are lines. On standard input, ``change`` applies the
next scripted change (dnp3_points.Points.change) through the library's own
update API, so the library makes the events (and, with ``--unsolicited``,
the unsolicited response); the runner answers ``changed N``. On standard
output the runner reports what the library handed its application:
``select crob index=I code=C``, ``operate crob index=I code=C type=T``,
``operate analog index=I value=V type=T``, ``time written MS``.

``--keep-alive-ms N`` (yadnp3 only) sets opendnp3's link keep-alive: after N
ms without a frame from the master, its link layer sends REQUEST_LINK_STATUS
(a primary frame the master's secondary station must answer LINK_STATUS,
IEEE 1815-2012 9.2.6.3). opendnp3 3.x has no option to make its outstation
send CONFIRMED_USER_DATA (its LinkConfig has no UseConfirms): its user data
is always unconfirmed, and REQUEST_LINK_STATUS is the primary frame it
sends.

Port 0 (the default). dnp3py binds what asyncio binds, so port 0 works and
the runner reads the kernel's choice back. opendnp3 takes an explicit port
and binds it later on its own thread, reporting no bind failure to the
caller, so the runner picks a port by binding 127.0.0.1:0 and closing, hands
it to ``AddTCPServer``, and only prints the listening line once
/proc/net/tcp shows a LISTEN socket on that port whose inode is one of this
process's descriptors. If another process took the port in between (the
race of every pick-then-bind scheme), no such socket appears within
BIND_WAIT, the channel is shut down and the runner tries a new port, up to
PICK_ATTEMPTS times. Nobody ever sees a port that is not ours.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import selectors
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import contextlib

import dnp3_points

HOST = "127.0.0.1"
BIND_WAIT = 5.0
PICK_ATTEMPTS = 5
STOP = (signal.SIGTERM, signal.SIGINT)
_print_lock = threading.Lock()


def say(line: str) -> None:
    """One line to stdout, whole and flushed (library callbacks run on other threads)."""
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def _own_socket_inodes() -> set[str]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listening_here(port: int) -> bool:
    """Whether this process holds a LISTEN socket on 127.0.0.1:port (/proc/net/tcp, state 0A)."""
    want = f"0100007F:{port:04X}"
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    inodes = _own_socket_inodes()
    return any(f[1] == want and f[3] == "0A" and f[9] in inodes for f in (line.split() for line in lines))


# ---------------------------------------------------------------- yadnp3 (opendnp3)


class YadnpOutstation:
    """An opendnp3 outstation on a TCP server channel; ``change`` and commands go through its Updates."""

    def __init__(self, *, unsolicited: bool, need_time: bool, keep_alive_ms: int | None = None) -> None:
        import opendnp3 as o

        self.o = o
        self.points = dnp3_points.initial()
        self.changes = 0
        self.time_written: int | None = None
        self.need_time = need_time
        self.unsolicited = unsolicited
        self.keep_alive_ms = keep_alive_ms
        self.manager = o.DNP3Manager(1)
        self.channel: Any = None
        self.outstation: Any = None

    def _config(self) -> Any:
        o = self.o
        # DatabaseConfig's per-type maps are not exposed to Python, only "n of every type":
        # so the database is dnp3_points' largest table, and start() writes each point.
        config = o.OutstationStackConfig(o.DatabaseConfig(4))
        config.outstation.eventBufferConfig = o.EventBufferConfig.AllTypes(dnp3_points.EVENT_BUFFER)
        config.outstation.params.allowUnsolicited = self.unsolicited
        config.link.LocalAddr = dnp3_points.OUTSTATION_ADDRESS
        config.link.RemoteAddr = dnp3_points.MASTER_ADDRESS
        if self.keep_alive_ms is not None:
            config.link.KeepAliveTimeout = o.TimeDuration.Milliseconds(self.keep_alive_ms)
        return config

    def start(self) -> int:
        o = self.o
        runner = self

        class Commands(o.ICommandHandler):  # type: ignore[misc,name-defined]
            def Begin(self) -> None:
                pass

            def End(self) -> None:
                pass

            def Select(self, command: Any, index: int) -> Any:
                if isinstance(command, o.ControlRelayOutputBlock):
                    if index >= len(runner.points.binary_output):
                        return o.CommandStatus.NOT_SUPPORTED
                    say(f"select crob index={index} code={command.opType.name}")
                    return o.CommandStatus.SUCCESS
                if index >= len(runner.points.analog_output):
                    return o.CommandStatus.NOT_SUPPORTED
                say(f"select analog index={index} value={command.value:g}")
                return o.CommandStatus.SUCCESS

            def Operate(self, command: Any, index: int, handler: Any, op_type: Any) -> Any:
                if isinstance(command, o.ControlRelayOutputBlock):
                    if index >= len(runner.points.binary_output):
                        return o.CommandStatus.NOT_SUPPORTED
                    say(f"operate crob index={index} code={command.opType.name} type={op_type.name}")
                    if command.opType in (o.OperationType.LATCH_ON, o.OperationType.LATCH_OFF):
                        value = command.opType == o.OperationType.LATCH_ON
                        runner.points.binary_output[index] = value
                        handler.Update(o.BinaryOutputStatus(value), index)
                    return o.CommandStatus.SUCCESS
                if index >= len(runner.points.analog_output):
                    return o.CommandStatus.NOT_SUPPORTED
                say(f"operate analog index={index} value={command.value:g} type={op_type.name}")
                runner.points.analog_output[index] = int(command.value)
                handler.Update(o.AnalogOutputStatus(float(command.value)), index)
                return o.CommandStatus.SUCCESS

        class Application(o.IOutstationApplication):  # type: ignore[misc,name-defined]
            def SupportsWriteAbsoluteTime(self) -> bool:
                return True

            def WriteAbsoluteTime(self, timestamp: Any) -> bool:
                runner.time_written = int(timestamp.msSinceEpoch)
                say(f"time written {runner.time_written}")
                return True

            def SupportsAssignClass(self) -> bool:
                return False

            def GetApplicationIIN(self) -> Any:
                iin = o.ApplicationIIN()
                iin.needTime = runner.need_time and runner.time_written is None
                return iin

            def ColdRestartSupport(self) -> Any:
                return o.RestartMode.UNSUPPORTED

            def WarmRestartSupport(self) -> Any:
                return o.RestartMode.UNSUPPORTED

            def ColdRestart(self) -> int:
                return 0

            def WarmRestart(self) -> int:
                return 0

            def Now(self) -> Any:
                return o.DNPTime(int(time.time() * 1000))

        # Keep the Python trampolines alive as long as the C++ stack holds them.
        self.commands, self.application = Commands(), Application()
        for _ in range(PICK_ATTEMPTS):
            port = free_port()
            self.channel = self.manager.AddTCPServer(
                "server", o.levels.NOTHING, o.ServerAcceptMode.CloseExisting, o.IPEndpoint(HOST, port), None
            )
            deadline = time.monotonic() + BIND_WAIT
            while time.monotonic() < deadline and not listening_here(port):
                time.sleep(0.01)
            if listening_here(port):
                break
            self.channel.Shutdown()
        else:
            raise OSError(f"opendnp3 could not listen on a free port in {PICK_ATTEMPTS} attempts")
        self.outstation = self.channel.AddOutstation(
            "outstation", self.commands, self.application, self._config()
        )
        self._apply(initial=True)
        self.outstation.Enable()
        return port

    def _apply(self, *, initial: bool) -> None:
        o, p = self.o, self.points
        builder = o.UpdateBuilder()
        # The initial values are the static database, not events a master must be told about.
        mode = o.EventMode.Suppress if initial else o.EventMode.Detect

        def online(value: Any) -> Any:
            # ONLINE (IEEE 1815-2012 11.9.1) clears the RESTART flag of a fresh point; the binding has
            # no (value, flags) constructor for every type, so the flag is or-ed in (opendnp3 keeps a
            # binary's state, and a double-bit's, in the flags octet: replacing it would lose the value).
            value.flags = o.Flags(value.flags.value | 0x01)
            return value

        dbits = {
            dnp3_points.DBI_ON: o.DoubleBit.DETERMINED_ON,
            dnp3_points.DBI_OFF: o.DoubleBit.DETERMINED_OFF,
        }
        for i, v in enumerate(p.binary):
            builder.Update(online(o.Binary(v)), i, mode)
        for i, d in enumerate(p.double_bit):
            builder.Update(online(o.DoubleBitBinary(dbits[d])), i, mode)
        for i, a in enumerate(p.analog):
            builder.Update(online(o.Analog(float(a))), i, mode)
        for i, c in enumerate(p.counter):
            builder.Update(online(o.Counter(c)), i, mode)
        if initial:
            for i, b in enumerate(p.binary_output):
                builder.Update(online(o.BinaryOutputStatus(b)), i, mode)
            for i, ao in enumerate(p.analog_output):
                builder.Update(online(o.AnalogOutputStatus(float(ao))), i, mode)
        self.outstation.Apply(builder.Build())

    def change(self) -> int:
        self.changes += 1
        self.points.change(self.changes)
        self._apply(initial=False)
        return self.changes

    def stop(self) -> None:
        self.manager.Shutdown()


# ---------------------------------------------------------------- dnp3py


def run_dnp3py(*, port: int, unsolicited: bool, need_time: bool) -> None:
    from dnp3.database import (
        AnalogInputConfig,
        BinaryInputConfig,
        CounterConfig,
        Database,
    )
    from dnp3.outstation import CommandResult, DefaultCommandHandler, Outstation, OutstationConfig
    from dnp3.outstation.config import UnsolicitedConfig
    from dnp3.outstation.tcp_runner import OutstationTcpRunner

    points = dnp3_points.initial()

    class Commands(DefaultCommandHandler):  # type: ignore[misc]
        def select_binary_output(self, index: int, code: Any, count: int, on_time: int, off_time: int) -> Any:
            say(f"select crob index={index} code={code.name}")
            return CommandResult.success()

        def operate_binary_output(
            self, index: int, code: Any, count: int, on_time: int, off_time: int, select_sequence: int
        ) -> Any:
            say(f"operate crob index={index} code={code.name} type=SelectBeforeOperate")
            return CommandResult.success()

        def direct_operate_binary_output(
            self, index: int, code: Any, count: int, on_time: int, off_time: int
        ) -> Any:
            say(f"operate crob index={index} code={code.name} type=DirectOperate")
            return CommandResult.success()

    database = Database()
    for i, v in enumerate(points.binary):
        database.add_binary_input(i, BinaryInputConfig(), value=v)
    for i, a in enumerate(points.analog):
        database.add_analog_input(i, AnalogInputConfig(), value=a)
    for i, c in enumerate(points.counter):
        database.add_counter(i, CounterConfig(), value=c)
    for i, b in enumerate(points.binary_output):
        database.add_binary_output(i, value=b)
    for i, ao in enumerate(points.analog_output):
        database.add_analog_output(i, value=ao)

    def on_time(written: Any) -> None:
        say(f"time written {int(written.timestamp() * 1000) if hasattr(written, 'timestamp') else written}")

    outstation = Outstation(
        database=database,
        config=OutstationConfig(
            address=dnp3_points.OUTSTATION_ADDRESS,
            master_address=dnp3_points.MASTER_ADDRESS,
            time_sync_required=need_time,
            unsolicited=UnsolicitedConfig(enabled=unsolicited),
        ),
        handler=Commands(),
        time_handler=on_time,
    )
    runner = OutstationTcpRunner(outstation=outstation, host=HOST, port=port)
    changes = 0

    async def main() -> None:
        nonlocal changes
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in STOP:
            loop.add_signal_handler(sig, stop.set)
        serving = asyncio.create_task(runner.run())
        while runner.local_address is None and not serving.done():
            await asyncio.sleep(0.01)
        if serving.done():
            serving.result()
        say(f"listening on {HOST}:{runner.local_address[1]}")  # type: ignore[index]

        def on_stdin() -> None:
            nonlocal changes
            line = sys.stdin.readline()
            if not line:
                loop.remove_reader(sys.stdin)
                return
            if line.strip() == "change":
                changes += 1
                points.change(changes)
                database.update_binary_input(0, value=points.binary[0])
                database.update_analog_input(0, value=points.analog[0])
                database.update_counter(0, value=points.counter[0])
                say(f"changed {changes}")

        # stdin may be /dev/null or a file (epoll refuses those): then nothing will ever come.
        with contextlib.suppress(PermissionError):
            loop.add_reader(sys.stdin, on_stdin)
        await stop.wait()
        await runner.stop()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    asyncio.run(main())


def run_yadnp3(*, unsolicited: bool, need_time: bool, keep_alive_ms: int | None = None) -> None:
    for sig in STOP:
        signal.signal(sig, lambda *_: None)
    wake_r, wake_w = socket.socketpair()
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    station = YadnpOutstation(unsolicited=unsolicited, need_time=need_time, keep_alive_ms=keep_alive_ms)
    port = station.start()
    say(f"listening on {HOST}:{port}")
    sel = selectors.DefaultSelector()
    sel.register(wake_r, selectors.EVENT_READ, "signal")
    # stdin may be /dev/null or a file (epoll refuses those): then nothing will ever come.
    with contextlib.suppress(PermissionError):
        sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    running = True
    while running:
        for key, _ in sel.select():
            if key.data == "signal":
                running = False
                break
            line = sys.stdin.readline()
            if not line:
                sel.unregister(sys.stdin)
            elif line.strip() == "change":
                say(f"changed {station.change()}")
    station.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("yadnp3", "dnp3py"), required=True)
    parser.add_argument("--port", type=int, default=0, help="dnp3py only; yadnp3 picks a free port")
    parser.add_argument("--unsolicited", action="store_true", help="allow unsolicited responses")
    parser.add_argument(
        "--need-time", action="store_true", help="set IIN1.4 NEED_TIME until a master writes time"
    )
    parser.add_argument("--keep-alive-ms", type=int, default=None,
                        help="yadnp3 only: REQUEST_LINK_STATUS after this many ms of silence (opendnp3 "
                             "default 60000)")
    args = parser.parse_args(argv)
    runners: dict[str, Callable[[], None]] = {
        "yadnp3": lambda: run_yadnp3(unsolicited=args.unsolicited, need_time=args.need_time,
                                     keep_alive_ms=args.keep_alive_ms),
        "dnp3py": lambda: run_dnp3py(port=args.port, unsolicited=args.unsolicited, need_time=args.need_time),
    }
    runners[args.impl]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
