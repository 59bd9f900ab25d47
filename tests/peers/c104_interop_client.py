"""c104's client (lib60870-C) against a controlled station, as a script: prints one JSON document.

``python tests/peers/c104_interop_client.py --host H --port P`` connects (c104.Init.ALL: STARTDT,
station interrogation, clock synchronisation), waits for the connection to open, reads the built-in
station's points, sends a select-before-operate single command to 5001 (value on) and waits for the
return information on 1001, then a clock synchronisation and a counter interrogation. It runs in a
process of its own: c104's threads and callbacks are not at ease inside pytest's process.
"""

# (no `from __future__ import annotations`: c104 checks its callbacks' annotations as objects)
import argparse
import json
import sys
import threading

import c104


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--t1", type=int, default=15, help="c104's message_timeout (t1), s")
    parser.add_argument("--t2", type=int, default=10, help="c104's confirm_interval (t2), s")
    parser.add_argument("--t3", type=int, default=20, help="c104's keep_alive_interval (t3), s")
    parser.add_argument("--stay", type=float, default=0.0,
                        help="stay connected this long after the exchanges (for the client suite's clauses)")
    args = parser.parse_args()
    client = c104.Client(tick_rate_ms=50, command_timeout_ms=int(args.timeout * 1000))
    conn = client.add_connection(ip=args.host, port=args.port, init=c104.Init.ALL)
    params = conn.protocol_parameters
    params.message_timeout, params.confirm_interval, params.keep_alive_interval = args.t1, args.t2, args.t3
    station = conn.add_station(common_address=1)
    single = station.add_point(io_address=1001, type=c104.Type.M_SP_NA_1)
    floating = station.add_point(io_address=3202, type=c104.Type.M_ME_NC_1)
    scaled = station.add_point(io_address=3101, type=c104.Type.M_ME_NB_1)
    command = station.add_point(io_address=5001, type=c104.Type.C_SC_NA_1,
                                command_mode=c104.CommandMode.SELECT_AND_EXECUTE)
    opened, fed_back = threading.Event(), threading.Event()

    def on_state(connection: c104.Connection, state: c104.ConnectionState) -> None:
        if state == c104.ConnectionState.OPEN:
            opened.set()

    def on_single(point: c104.Point, previous_info: c104.Information,
                  message: c104.IncomingMessage) -> c104.ResponseState:
        if message.cot == c104.Cot.RETURN_INFO_REMOTE and point.value:
            fed_back.set()
        return c104.ResponseState.SUCCESS

    conn.on_state_change(callable=on_state)
    single.on_receive(callable=on_single)
    result: dict[str, object] = {}
    client.start()
    try:
        # c104 2.2.1 now and then leaves a new connection muted (no STARTDT act; its next command then
        # goes out as an I frame before STARTDT, which a 104 station must refuse): unmute it by hand then
        result["needed_unmute"] = not opened.wait(3.0)
        if result["needed_unmute"]:
            conn.unmute()
        result["opened"] = opened.wait(args.timeout)
        result["interrogation"] = conn.interrogation(common_address=1)
        result["values"] = {"1001": bool(single.value), "3202": float(floating.value),
                            "3101": int(scaled.value)}
        command.value = True
        result["command"] = command.transmit(cause=c104.Cot.ACTIVATION)
        result["return_information"] = fed_back.wait(args.timeout)
        result["clock_sync"] = conn.clock_sync(common_address=1)
        result["counter_interrogation"] = conn.counter_interrogation(common_address=1)
        print(json.dumps(result), flush=True)
        threading.Event().wait(args.stay)
    finally:
        client.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
