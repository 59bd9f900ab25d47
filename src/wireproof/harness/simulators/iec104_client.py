"""``wireproof simulate iec104-client``: the IEC 104 reference controlling station (the client).

It connects to a controlled station, starts data transfer (STARTDT),
runs the requested exchanges one after the other — station interrogation
(on by default), counter interrogation, clock synchronisation, reads, the
test command, commands with or without select — stays connected for
``--duration`` seconds (acknowledging what comes, answering TESTFR, sending
its own after t3), then stops data transfer (STOPDT) and closes.

The APCI is :class:`~wireproof.codecs.iec104.apci_machine.ControllingApci`
(k, w, t1..t3 as given), the application
:class:`~wireproof.codecs.iec104.controller.Controller`; this module only
moves bytes and time between them and a socket.

Exit status: 0 when every exchange was confirmed positively, 1 on a
negative confirmation, a timeout or a protocol error (the station broke a
rule: the connection is closed, 104 5.1), 2 when the station cannot be
reached.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import select
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.iec104.apci_machine import AsduReceived, Closed, ControllingApci, Started, Stopped
from wireproof.codecs.iec104.codec import decode_apdu, encode_apdu
from wireproof.codecs.iec104.constants import Cause, TypeId
from wireproof.codecs.iec104.controller import COMMANDS, Controller, Exchange, request_asdu
from wireproof.codecs.iec104.framers import ApduFramer
from wireproof.codecs.iec104.messages import Asdu, Cp56Time2a, Quality
from wireproof.errors import DecodeError, EncodeError, RemoteProtocolError
from wireproof.harness.exitcodes import OK

__all__ = ["add_arguments", "run"]

FAILED = 1
UNREACHABLE = 2
_TIMED_TWIN = {45: 58, 46: 59, 47: 60, 48: 61, 49: 62, 50: 63, 51: 64}


@dataclass
class Action:
    name: str
    asdu: Asdu


@dataclass
class Outcome:
    actions: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", required=True, metavar="URL", help="the station: tcp://HOST:PORT (port "
                        "2404 when left out, 104 clause 10)")
    parser.add_argument("--common-address", type=int, default=1, metavar="CA",
                        help="the station's common address (default 1)")
    parser.add_argument("--no-interrogate", dest="interrogate", action="store_false",
                        help="skip the station interrogation (done by default, first)")
    parser.add_argument("--group", type=int, default=0, metavar="N", choices=range(17),
                        help="interrogate group N (1..16) instead of the whole station")
    parser.add_argument("--counter-interrogate", action="store_true", help="a general counter interrogation")
    parser.add_argument("--clock-sync", action="store_true", help="a clock synchronisation with this host's "
                        "UTC time")
    parser.add_argument("--read", type=int, action="append", default=[], metavar="IOA",
                        help="a read command for the point IOA (repeatable)")
    parser.add_argument("--test", action="store_true", help="a test command (C_TS_TA_1)")
    parser.add_argument("--command", dest="commands", action="append", default=[],
                        metavar="TYPE:IOA:VALUE[:select]",
                        help="a command, e.g. C_SC_NA_1:5001:1:select (select, then execute) or "
                             "C_SE_NC_1:6001:49.5 (direct execute); repeatable, in order")
    parser.add_argument("--duration", type=float, default=0.0, metavar="S",
                        help="stay connected this long after the exchanges (default 0)")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S",
                        help="how long an exchange may wait for its confirmation/termination (default 10)")
    parser.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                        help="how long to try to connect (default 10)")
    apci = parser.add_argument_group("APCI parameters (104 5.5, 5.6)")
    apci.add_argument("--k", type=int, default=12, metavar="N")
    apci.add_argument("--w", type=int, default=8, metavar="N")
    apci.add_argument("--t1", type=float, default=15.0, metavar="S")
    apci.add_argument("--t2", type=float, default=10.0, metavar="S")
    apci.add_argument("--t3", type=float, default=20.0, metavar="S")
    parser.add_argument("--json", action="store_true", help="print what happened and what was received "
                        "as one JSON document")


def _usage(message: str) -> int:
    print(f"wireproof simulate iec104-client: error: {message}", file=sys.stderr)
    return FAILED


def parse_command(text: str, ca: int, now: _dt.datetime) -> list[Action]:
    """``TYPE:IOA:VALUE[:select]`` -> the ASDUs to send (select first when asked); ValueError if bad."""
    parts = text.split(":")
    if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] != "select"):
        raise ValueError(f"--command {text!r}: TYPE:IOA:VALUE[:select]")
    name, ioa_text, value_text = parts[:3]
    type_id = TypeId.__members__.get(name)
    if type_id is None or type_id not in COMMANDS:
        raise ValueError(f"--command {text!r}: {name} is not a command type (C_SC_NA_1 .. C_BO_TA_1)")
    if not ioa_text.isdigit() or not 0 <= int(ioa_text) <= 0xFFFFFF:
        raise ValueError(f"--command {text!r}: IOA must be 0..16777215")
    base = {v: k for k, v in _TIMED_TWIN.items()}.get(type_id, type_id)
    value: Any
    if base == TypeId.C_SC_NA_1:
        if value_text.lower() not in ("1", "0", "on", "off", "true", "false"):
            raise ValueError(f"--command {text!r}: a single command's value is 1/0 (on/off)")
        value = value_text.lower() in ("1", "on", "true")
    elif base in (TypeId.C_DC_NA_1, TypeId.C_RC_NA_1):
        value = {"on": 2, "off": 1, "higher": 2, "lower": 1}.get(value_text.lower())
        if value is None:
            if not value_text.isdigit() or not 0 <= int(value_text) <= 3:
                raise ValueError(f"--command {text!r}: the value is 0..3 (on = 2, off = 1)")
            value = int(value_text)
    elif base in (TypeId.C_SE_NA_1, TypeId.C_SE_NC_1):
        value = float(value_text)
    else:
        value = int(value_text, 0)
    select_first = len(parts) == 4
    if base == TypeId.C_BO_NA_1 and select_first:
        raise ValueError(f"--command {text!r}: a bitstring command has no select")
    actions = []
    for sel in ((True, False) if select_first else (False,)):
        elements: dict[str, Any] = {"value": value}
        if base != TypeId.C_BO_NA_1:
            elements |= {"qualifier": 0, "select": sel}
        if type_id != base:
            elements["time"] = Cp56Time2a.from_datetime(now)
        what = f"{'select' if sel else 'execute'} {name} {ioa_text} = {value!r}"
        actions.append(Action(what, request_asdu(type_id, ca, int(ioa_text), elements)))
    return actions


def _actions(args: argparse.Namespace, now: _dt.datetime) -> list[Action]:
    ca = args.common_address
    actions = []
    if args.interrogate:
        qoi = 20 + args.group
        actions.append(Action("interrogation" if qoi == 20 else f"group {args.group} interrogation",
                              request_asdu(TypeId.C_IC_NA_1, ca, 0, {"qoi": qoi})))
    if args.counter_interrogate:
        actions.append(Action("counter interrogation", request_asdu(TypeId.C_CI_NA_1, ca, 0, {"qcc": 5})))
    if args.clock_sync:
        actions.append(Action("clock synchronisation", request_asdu(
            TypeId.C_CS_NA_1, ca, 0, {"time": Cp56Time2a.from_datetime(now)})))
    for ioa in args.read:
        read = request_asdu(TypeId.C_RD_NA_1, ca, ioa, {}, cause=Cause.REQUEST)
        actions.append(Action(f"read {ioa}", read))
    if args.test:
        actions.append(Action("test command", request_asdu(
            TypeId.C_TS_TA_1, ca, 0, {"tsc": 1, "time": Cp56Time2a.from_datetime(now)})))
    for text in args.commands:
        actions += parse_command(text, ca, now)
    return actions


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    if parts.scheme != "tcp" or not parts.hostname:
        raise ValueError(f"--target must be tcp://HOST:PORT, not {url!r}")
    return parts.hostname, parts.port or 2404


class _Link:
    """The socket, the framer, the APCI and the controller of one connection."""

    def __init__(self, sock: socket.socket, args: argparse.Namespace, out: Outcome, say: Any) -> None:
        self.sock = sock
        self.framer = ApduFramer()
        self.apci = ControllingApci(k=args.k, w=args.w, t1=args.t1, t2=args.t2, t3=args.t3,
                                    now=time.monotonic())
        self.controller = Controller(timeout=args.timeout)
        self.out = out
        self.say = say
        self.started = False
        self.stopped = False
        self.closed = False

    def flush(self) -> None:
        for apdu in self.apci.outgoing():
            try:
                self.sock.sendall(encode_apdu(apdu))
            except EncodeError as err:
                self.out.errors.append(str(err))
            except OSError as err:
                self._lost(f"sending failed: {err}")
                return

    def _lost(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            self.out.errors.append(reason)
            self.say(f"connection closed: {reason}")

    def events(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, Started):
                self.started = True
                self.say("STARTDT confirmed")
            elif isinstance(event, Stopped):
                self.stopped = True
                self.say("STOPDT confirmed")
            elif isinstance(event, Closed):
                self._lost(f"{event.reason} [{event.clause}]")
            elif isinstance(event, AsduReceived):
                self._asdu(event.asdu)

    def _asdu(self, asdu: Asdu | bytes) -> None:
        if isinstance(asdu, bytes):
            return
        now = time.monotonic()
        try:
            self.controller.receive(asdu, now)
        except RemoteProtocolError as err:
            self.out.errors.append(f"{err.reason} [{err.clause}]")
            self.say(f"protocol error: {err.reason} [{err.clause}]")
            return
        if asdu.type_id < 45 or asdu.type_id == TypeId.M_EI_NA_1:
            for obj in asdu.objects:
                cause = Cause(asdu.cause).name if int(asdu.cause) in Cause._value2member_map_ else asdu.cause
                shown = ", ".join(f"{k}={_shown(v)}" for k, v in obj.elements.items() if k != "time")
                self.say(f"{_name(asdu.type_id)} {asdu.common_address}/{obj.address}: {shown} ({cause})")

    def pump(self, until: Any, deadline: float) -> bool:
        """Move bytes and time until ``until()`` holds (True) or ``deadline`` passes (False)."""
        while not self.closed:
            self.flush()
            if until():
                return True
            now = time.monotonic()
            if now >= deadline:
                return False
            wake = min(x for x in (deadline, self.apci.next_deadline(), self.controller.next_deadline())
                       if x is not None)
            readable, _, _ = select.select([self.sock], [], [], max(0.0, wake - now))
            now = time.monotonic()
            if readable:
                try:
                    data = self.sock.recv(65536)
                except OSError as err:
                    self._lost(f"receiving failed: {err}")
                    break
                if not data:
                    self._lost("the station closed the connection")
                    break
                self.feed(data, now)
            due = self.apci.next_deadline()
            if due is not None and now >= due:
                self.events(self.apci.timeout(now))
            self.controller.timeout(now)  # the exchange's line says how it ended
        self.flush()
        return bool(until())

    def feed(self, data: bytes, now: float) -> None:
        try:
            self.framer.feed(data)
        except DecodeError as err:
            self.events(self.apci.close(str(err), "104 5.1"))
            return
        while not self.closed:
            head = self.framer.peek(2)
            if len(head) == 2 and head[0] == 0x68 and not 4 <= head[1] <= 253:
                # a bad length closes at once (104 5.1), without waiting for the octets it claims
                self.events(self.apci.close(f"iec104: APDU length {head[1]} is outside 4..253", "104 5.1"))
                return
            try:
                raw = self.framer.next_frame()
            except DecodeError as err:  # a bad start or length: the connection is closed (104 5.1)
                self.events(self.apci.close(str(err), "104 5.1"))
                return
            if raw is NEED_DATA:
                return
            try:
                apdu = decode_apdu(bytes(raw))
            except DecodeError as err:
                self.events(self.apci.close(str(err), "104 5.1"))
                return
            self.events(self.apci.receive(apdu, now))


def _shown(value: Any) -> str:
    if isinstance(value, Quality):
        return "|".join(q.name or "" for q in Quality if q in value) or "good"
    return repr(value)


def _name(type_id: int) -> str:
    return TypeId(type_id).name if type_id in TypeId._value2member_map_ else str(type_id)


def run(args: argparse.Namespace) -> int:
    try:
        host, port = _address(args.target)
        actions = _actions(args, _dt.datetime.now(_dt.UTC).replace(tzinfo=None))
    except ValueError as err:
        return _usage(str(err))
    if not 0 < args.t2 < args.t1 or args.t3 <= 0 or not 1 <= args.k <= 32767 or not 1 <= args.w <= 32767:
        return _usage("APCI parameters: k and w in 1..32767, timeouts > 0 with t2 < t1 (104 5.5)")
    out = Outcome()

    def say(line: str) -> None:
        out.lines.append(line)
        if not args.json:
            print(line, flush=True)

    try:
        sock = socket.create_connection((host, port), timeout=args.connect_timeout)
    except OSError as err:
        print(f"wireproof simulate iec104-client: cannot reach {host}:{port}: {err}", file=sys.stderr)
        return UNREACHABLE
    sock.settimeout(None)
    code = OK
    with sock:
        say(f"connected to {host}:{port}")
        link = _Link(sock, args, out, say)
        link.apci.start(time.monotonic())
        if not link.pump(lambda: link.started, time.monotonic() + args.t1 + 1):
            out.errors.append("STARTDT was not confirmed")
        refused_select: Asdu | None = None
        for action in actions:
            if link.closed or not link.started:
                break
            if refused_select is not None and _same_command(refused_select, action.asdu):
                # 101 7.4.7: a select confirmed negatively is not followed by its execute
                out.actions.append({"action": action.name, "outcome": "skipped",
                                    "detail": "its select was refused", "objects": 0})
                say(f"{action.name}: skipped (its select was refused)")
                refused_select = None
                continue
            refused_select = None
            _exchange(link, action, args, out, say)
            if _is_select(action.asdu) and out.actions[-1]["outcome"] != "confirmed":
                refused_select = action.asdu
        if not link.closed and args.duration > 0:
            link.pump(lambda: False, time.monotonic() + args.duration)
        if not link.closed and link.started:
            link.apci.stop(time.monotonic())
            if not link.pump(lambda: link.stopped, time.monotonic() + args.t1 + 1):
                out.errors.append("STOPDT was not confirmed")
        if out.errors or any(a["outcome"] not in ("confirmed",) for a in out.actions):
            code = FAILED
    if args.json:
        points = {f"{ca}/{ioa}": {"type": _name(p.type_id), "cause": p.cause,
                                  "elements": {k: _plain(v) for k, v in p.elements.items()}}
                  for (ca, ioa), p in sorted(link.controller.points.items())}
        print(json.dumps({"target": f"tcp://{host}:{port}", "actions": out.actions, "points": points,
                          "end_of_initialisation": len(link.controller.end_of_init),
                          "errors": out.errors, "lines": out.lines}, indent=2))
    return code


def _exchange(link: _Link, action: Action, args: argparse.Namespace, out: Outcome, say: Any) -> None:
    controller = link.controller
    controller.request(action.asdu, time.monotonic())
    link.apci.send_asdu(action.asdu, time.monotonic())
    done = link.pump(lambda: not controller.busy, time.monotonic() + args.timeout + 1)
    ex: Exchange | None = controller.exchanges[-1] if controller.exchanges and done else None
    if ex is None or ex.request is not action.asdu:
        record = {"action": action.name, "outcome": "timeout" if not link.closed else "connection closed",
                  "detail": "", "objects": 0}
    else:
        record = {"action": action.name, "outcome": ex.outcome, "detail": ex.detail, "objects": ex.objects,
                  "terminated": ex.terminated}
    out.actions.append(record)
    detail = f": {record['detail']}" if record["detail"] else ""
    objects = f", {record['objects']} objects" if record["objects"] else ""
    say(f"{action.name}: {record['outcome']}{objects}{detail}")


def _is_select(asdu: Asdu) -> bool:
    return asdu.type_id in COMMANDS and bool(asdu.objects) and bool(asdu.objects[0].elements.get("select"))


def _same_command(select: Asdu, asdu: Asdu) -> bool:
    return (asdu.type_id == select.type_id and bool(asdu.objects)
            and asdu.objects[0].address == select.objects[0].address)


def _plain(value: Any) -> Any:
    if isinstance(value, Cp56Time2a):
        try:
            return value.to_datetime().isoformat(timespec="milliseconds")
        except ValueError:
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else value
