"""A real DNP3 master over TCP, from yadnp3 (opendnp3) or dnp3py: a peer driver.

Run as a script: ``python dnp3_master.py --impl yadnp3|dnp3py --target
tcp://HOST:PORT --script integrity,events,crob-sbo,...``. It connects as
master 1 to outstation 10 and runs the steps in order, printing one JSON
object a line per step: ``{"step": S, "ok": bool, ...}`` with what the
master got (point values by type and index, the command status, whether a
response was unsolicited). Exit 0 when every step was ok, 1 otherwise, 2 on
bad arguments.

Steps:
  integrity   READ class 0/1/2/3 (g60v1-v4): every static value
  events      READ class 1/2/3: the events since the last poll
  wait        print {"step": "wait"} and read one line from stdin (the caller
              changes the outstation meanwhile)
  crob-sbo    SELECT then OPERATE g12v1 LATCH_ON on binary output 0
  crob-do     DIRECT OPERATE g12v1 LATCH_ON on binary output 1
  analog-do   DIRECT OPERATE g41v1 1234 on analog output 0 (yadnp3 only)
  timesync    yadnp3: wait for the master's own time sync task (started when
              the outstation sets NEED_TIME; --timesync picks non-LAN (delay
              measure + write g50v1) or LAN (record current time + write
              g50v3)). dnp3py: DELAY MEASURE only (it builds no time write).
  unsol       wait for an unsolicited response carrying data (and confirm it:
              both libraries confirm on their own)

yadnp3's master runs its start-up tasks on connect (disable unsolicited,
integrity poll, time sync when asked, enable unsolicited); the runner waits
for the integrity poll and, with --unsolicited, the enable before the first
step. dnp3py's master does nothing on connect; with --unsolicited the runner
sends ENABLE UNSOLICITED for classes 1-3 before the first step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

STEPS = ("integrity", "events", "wait", "crob-sbo", "crob-do", "analog-do", "timesync", "unsol")
MASTER_ADDRESS = 1
OUTSTATION_ADDRESS = 10
TIMEOUT = 10.0


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, sort_keys=True) + "\n")
    sys.stdout.flush()


def wait_line() -> None:
    emit({"step": "wait", "ok": True})
    sys.stdin.readline()


# ---------------------------------------------------------------- yadnp3 (opendnp3)


def run_yadnp3(host: str, port: int, steps: list[str], *, unsolicited: bool, timesync: str) -> bool:
    import opendnp3 as o

    kinds = {
        o.Binary: "binary",
        o.DoubleBitBinary: "double_bit",
        o.Analog: "analog",
        o.Counter: "counter",
        o.BinaryOutputStatus: "binary_output",
        o.AnalogOutputStatus: "analog_output",
    }

    class Collector(o.ISOEHandler):  # type: ignore[misc,name-defined]
        """What one scan (or the unsolicited stream) delivered; ``done`` is set at a final fragment."""

        def __init__(self) -> None:
            super().__init__()
            self.values: dict[str, dict[str, Any]] = {}
            self.unsolicited_values: dict[str, dict[str, Any]] = {}
            self.in_unsolicited = False
            self.unsolicited = False
            # An unsolicited fragment with data has ended: its values are all in (Process runs once per
            # header, so "some unsolicited value seen" can be true half-way through a fragment).
            self.unsolicited_done = False
            self.done = threading.Event()
            self.lock = threading.Lock()

        def BeginFragment(self, info: Any) -> None:
            self.in_unsolicited = bool(info.unsolicited)
            if info.unsolicited:
                self.unsolicited = True

        def EndFragment(self, info: Any) -> None:
            if info.fin:
                with self.lock:
                    if self.in_unsolicited and self.unsolicited_values:
                        self.unsolicited_done = True
                self.done.set()

        def Process(self, info: Any, values: list[Any]) -> None:
            with self.lock:
                for item in values:
                    kind = kinds.get(type(item.value))
                    if kind is None:
                        continue
                    value = item.value.value
                    if kind == "double_bit":
                        value = int(value.value)
                    elif kind in ("analog", "analog_output"):
                        value = float(value)
                    self.values.setdefault(kind, {})[str(item.index)] = value
                    if self.in_unsolicited:
                        self.unsolicited_values.setdefault(kind, {})[str(item.index)] = value

    class Application(o.IMasterApplication):  # type: ignore[misc,name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.completed: dict[str, str] = {}
            self.user_tasks = 0
            self.changed = threading.Condition()

        def OnReceiveIIN(self, iin: Any) -> None:
            pass

        def OnTaskStart(self, kind: Any, task: Any) -> None:
            pass

        def OnTaskComplete(self, info: Any) -> None:
            with self.changed:
                self.completed[info.type.name] = info.result.name
                if info.type.name == "USER_TASK":
                    self.user_tasks += 1
                self.changed.notify_all()

        def OnOpen(self) -> None:
            pass

        def OnClose(self) -> None:
            pass

        def AssignClassDuringStartup(self) -> bool:
            return False

        def Now(self) -> Any:
            return o.UTCTimestamp(int(time.time() * 1000))

        def wait_user_task(self, before: int) -> bool:
            with self.changed:
                return self.changed.wait_for(lambda: self.user_tasks > before, TIMEOUT)

        def wait_task(self, name: str) -> str | None:
            with self.changed:
                self.changed.wait_for(lambda: name in self.completed, TIMEOUT)
                return self.completed.get(name)

    manager = o.DNP3Manager(1)
    try:
        channel = manager.AddTCPClient(
            "client", o.levels.NOTHING, o.ChannelRetry.Default(), [o.IPEndpoint(host, port)], "0.0.0.0", None
        )
        stream, application = Collector(), Application()
        config = o.MasterStackConfig()
        config.link.LocalAddr = MASTER_ADDRESS
        config.link.RemoteAddr = OUTSTATION_ADDRESS
        config.master.responseTimeout = o.TimeDuration.Seconds(5)
        config.master.timeSyncMode = {
            "none": o.TimeSyncMode.None_
            if hasattr(o.TimeSyncMode, "None_")
            else getattr(o.TimeSyncMode, "None"),
            "nonlan": o.TimeSyncMode.NonLAN,
            "lan": o.TimeSyncMode.LAN,
        }[timesync]
        master = channel.AddMaster("master", stream, application, config)
        master.Enable()
        ok = application.wait_task("STARTUP_INTEGRITY_POLL") == "SUCCESS"
        emit({"step": "startup", "ok": ok, **stream.values})
        if unsolicited:
            result = application.wait_task("ENABLE_UNSOLICITED")
            emit({"step": "enable-unsolicited", "ok": result == "SUCCESS", "result": result})
        all_ok = ok
        for step in steps:
            record = _yadnp3_step(o, master, application, stream, Collector, step, timesync)
            all_ok = all_ok and bool(record.get("ok"))
            if step != "wait":
                emit(record)
        return all_ok
    finally:
        manager.Shutdown()


def _yadnp3_step(
    o: Any, master: Any, application: Any, stream: Any, collector: Any, step: str, timesync: str
) -> dict[str, Any]:
    if step == "wait":
        wait_line()
        return {"ok": True}
    if step in ("integrity", "events"):
        scan = collector()
        field = o.ClassField.AllClasses() if step == "integrity" else o.ClassField.AllEventClasses()
        before = application.user_tasks
        master.ScanClasses(field, scan)
        # An empty response reaches no SOE callback: the task's completion is the signal.
        ok = application.wait_user_task(before) and application.completed.get("USER_TASK") == "SUCCESS"
        with scan.lock:
            return {"step": step, "ok": ok, **scan.values}
    if step in ("crob-sbo", "crob-do", "analog-do"):
        results: list[Any] = []
        finished = threading.Event()

        def on_result(result: Any) -> None:
            results.append(result)
            finished.set()

        if step == "analog-do":
            master.DirectOperate(o.AnalogOutputInt32(1234), 0, on_result)
        else:
            crob = o.ControlRelayOutputBlock(o.OperationType.LATCH_ON)
            operate = master.SelectAndOperate if step == "crob-sbo" else master.DirectOperate
            operate(crob, 0 if step == "crob-sbo" else 1, on_result)
        if not finished.wait(TIMEOUT):
            return {"step": step, "ok": False, "error": "no command result"}
        result = results[0]
        points = [
            {"index": p.index, "state": p.state.name, "status": p.status.name} for p in result.to_list()
        ]
        ok = result.summary.name == "SUCCESS" and all(p["state"] == "SUCCESS" for p in points)
        return {"step": step, "ok": ok, "summary": result.summary.name, "points": points}
    if step == "timesync":
        name = "NON_LAN_TIME_SYNC" if timesync == "nonlan" else "LAN_TIME_SYNC"
        result = application.wait_task(name)
        return {"step": step, "ok": result == "SUCCESS", "task": name, "result": result}
    if step == "unsol":
        ok = _wait(lambda: stream.unsolicited_done, TIMEOUT, stream)
        with stream.lock:
            return {"step": step, "ok": ok, "unsolicited": stream.unsolicited, **stream.unsolicited_values}
    raise ValueError(step)


def _wait(predicate: Any, timeout: float, collector: Any) -> bool:
    """Wait for ``predicate`` on a collector, woken by each final fragment it sees."""
    deadline = time.monotonic() + timeout
    while not predicate():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        collector.done.wait(remaining)
        collector.done.clear()
    return True


# ---------------------------------------------------------------- dnp3py


def run_dnp3py(host: str, port: int, steps: list[str], *, unsolicited: bool) -> bool:
    from dnp3.master import DefaultSOEHandler, Master, MasterConfig, MasterTcpRunner
    from dnp3.master.commands import ControlOperation, DirectOperateTask, OperateTask, SelectTask

    def values(handler: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for kind, table in (
            ("binary", handler.binary_inputs),
            ("analog", handler.analog_inputs),
            ("counter", handler.counters),
            ("double_bit", handler.double_bit_inputs),
            ("binary_output", handler.binary_outputs),
            ("analog_output", handler.analog_outputs),
        ):
            for index, point in table.items():
                if kind == "double_bit":
                    value: Any = int(point.state)
                else:
                    value = point.value
                if kind == "double_bit":
                    pass
                elif kind in ("analog", "analog_output"):
                    value = float(value)
                out.setdefault(kind, {})[str(index)] = value
        return out

    def iin_ok(infos: list[Any]) -> bool:
        # IIN2.0-2.2 (no function support, object unknown, parameter error): the request was refused.
        return bool(infos) and not any(int(info.iin) & 0x0700 for info in infos)

    async def main() -> bool:
        all_ok = True
        handler = DefaultSOEHandler()
        master = Master(
            handler=handler,
            config=MasterConfig(address=MASTER_ADDRESS, outstation_address=OUTSTATION_ADDRESS),
        )
        async with MasterTcpRunner(master=master, host=host, port=port) as runner:
            if unsolicited:
                infos = await runner.enable_unsolicited()
                emit({"step": "enable-unsolicited", "ok": iin_ok(infos)})
            for step in steps:
                record: dict[str, Any] = {"step": step}
                if step == "wait":
                    await asyncio.get_running_loop().run_in_executor(None, wait_line)
                    continue
                if step in ("integrity", "events"):
                    handler = DefaultSOEHandler()
                    master.handler = handler
                    infos = await (runner.integrity_poll() if step == "integrity" else runner.class_poll())
                    record.update(ok=iin_ok(infos), **values(handler))
                elif step in ("crob-sbo", "crob-do"):
                    op = ControlOperation(index=0 if step == "crob-sbo" else 1)
                    if step == "crob-sbo":
                        first = await runner.request(master.build_select(SelectTask(operations=[op])))
                        second = await runner.request(master.build_operate(OperateTask(operations=[op])))
                        record.update(ok=iin_ok(first) and iin_ok(second))
                    else:
                        infos = await runner.request(
                            master.build_direct_operate(DirectOperateTask(operations=[op]))
                        )
                        record.update(ok=iin_ok(infos))
                elif step == "timesync":
                    infos = await runner.request(master.build_delay_measure())
                    record.update(ok=iin_ok(infos), note="delay measure only: dnp3py builds no time write")
                elif step == "unsol":
                    handler = DefaultSOEHandler()
                    master.handler = handler
                    info = await runner.listen_unsolicited(timeout=TIMEOUT)
                    record.update(
                        ok=info is not None and info.is_unsolicited,
                        unsolicited=info is not None,
                        **values(handler),
                    )
                else:
                    record.update(ok=False, error="not supported by dnp3py's master runner")
                all_ok = all_ok and bool(record["ok"])
                emit(record)
        return all_ok

    return asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=("yadnp3", "dnp3py"), required=True)
    parser.add_argument("--target", required=True, help="tcp://HOST:PORT")
    parser.add_argument("--script", default="integrity", help=f"comma-separated steps: {', '.join(STEPS)}")
    parser.add_argument("--unsolicited", action="store_true", help="enable unsolicited responses at start-up")
    parser.add_argument(
        "--timesync",
        choices=("none", "nonlan", "lan"),
        default="none",
        help="yadnp3: time sync mode when the outstation asks (IIN1.4)",
    )
    args = parser.parse_args(argv)
    target = urlsplit(args.target)
    steps = [s for s in args.script.split(",") if s]
    bad = [s for s in steps if s not in STEPS]
    if target.scheme != "tcp" or target.hostname is None or target.port is None or bad:
        parser.error(f"bad --target or unknown steps {bad}")
    if args.impl == "yadnp3":
        ok = run_yadnp3(
            target.hostname, target.port, steps, unsolicited=args.unsolicited, timesync=args.timesync
        )
    else:
        ok = run_dnp3py(target.hostname, target.port, steps, unsolicited=args.unsolicited)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
