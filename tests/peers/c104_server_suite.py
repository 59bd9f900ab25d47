"""A c104 (lib60870-C) controlled station for the ``iec104-server`` suite's peer run (a script).

``python tests/peers/c104_server_suite.py [--t1 S] [--t2 S] [--t3 S] [--k N] [--w N]``
prints ``listening on 127.0.0.1:PORT`` once the server runs, then serves
until ``quit`` (or end of input) on standard input, and exits 0 after
stopping the c104 server. ``change`` on standard input toggles single point
1001 and reports it spontaneously (COT 3) to the connections in data
transfer; the answer ``changed N`` (N changes so far) comes once it is sent.

Its database is the wireproof reference server's built-in one (common
address 1): single points 1001-1004, double points 2001-2002, normalized
3001-3002, scaled 3101, short float 3201-3202, integrated totals
4001-4002; commands C_SC_NA_1 5001 (select and execute, feedback 1001),
C_DC_NA_1 5002 (direct, feedback 2001), C_SE_NC_1 6001 (direct, feedback
3201). c104 cannot bind port 0 and report the port, so a free one is picked
first (bind, read, close: loopback only).

Written by the serversuite helper as a stop-gap until the client helper's
``tests/peers/c104_server.py`` exists; the suite tests only need the
``listening on`` line and the database above.
"""

from __future__ import annotations

import argparse
import socket
import sys

import c104


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--t1", type=int, default=15)
    parser.add_argument("--t2", type=int, default=10)
    parser.add_argument("--t3", type=int, default=20)
    parser.add_argument("--k", type=int, default=12)
    parser.add_argument("--w", type=int, default=8)
    parser.add_argument("--select-timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    port = free_port()
    server = c104.Server(
        ip="127.0.0.1", port=port, tick_rate_ms=50, select_timeout_ms=int(args.select_timeout * 1000)
    )
    params = server.protocol_parameters
    params.message_timeout = args.t1
    params.confirm_interval = args.t2
    params.keep_alive_interval = args.t3
    params.send_window_size = args.k
    params.receive_window_size = args.w
    station = server.add_station(common_address=1)
    points = {}
    for first, count, kind in (
        (1001, 4, c104.Type.M_SP_NA_1),
        (2001, 2, c104.Type.M_DP_NA_1),
        (3001, 2, c104.Type.M_ME_NA_1),
        (3101, 1, c104.Type.M_ME_NB_1),
        (3201, 2, c104.Type.M_ME_NC_1),
        (4001, 2, c104.Type.M_IT_NA_1),
    ):
        for ioa in range(first, first + count):
            points[ioa] = station.add_point(io_address=ioa, type=kind)
    station.add_point(
        io_address=5001,
        type=c104.Type.C_SC_NA_1,
        related_io_address=1001,
        related_io_autoreturn=True,
        command_mode=c104.CommandMode.SELECT_AND_EXECUTE,
    )
    station.add_point(
        io_address=5002, type=c104.Type.C_DC_NA_1, related_io_address=2001, related_io_autoreturn=True
    )
    station.add_point(
        io_address=6001, type=c104.Type.C_SE_NC_1, related_io_address=3201, related_io_autoreturn=True
    )
    server.start()
    try:
        print(f"listening on 127.0.0.1:{port}", flush=True)
        changes = 0
        for line in sys.stdin:
            if line.strip() == "quit":
                break
            if line.strip() == "change":
                point = points[1001]
                point.value = not point.value
                point.transmit(cause=c104.Cot.SPONTANEOUS)
                changes += 1
                print(f"changed {changes}", flush=True)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
