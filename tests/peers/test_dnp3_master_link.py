"""wireproof's DNP3 master on a confirmed link against real outstations: yadnp3 (opendnp3) and dnp3py.

The master (MasterSession, ``link_confirmed=True``) resets the outstation's
secondary station and sends every request as CONFIRMED_USER_DATA with the
FCB alternating (IEEE 1815-2012 9.2.6.2); the outstation's secondary station must
acknowledge each and hand the data up once. The checks are on the link
frames each way (the ``on_wire`` trace) and on the points the master read.

opendnp3 3.x outstations never send CONFIRMED_USER_DATA (their LinkConfig has
no confirm option), so the primary frame the real outstation sends towards
the master's secondary station here is its keep-alive, REQUEST_LINK_STATUS
(the runner's ``--keep-alive-ms``), which the master answers LINK_STATUS.
Confirmed frames from an outstation are checked against the reference
outstation (tests/harness/test_dnp3_master_link.py).

A dropped ACK against the real peers: a loopback relay between the master and
the outstation withholds its first ACK to a CONFIRMED_USER_DATA, so the
master repeats the frame with the same FCB; the outstation must take the repeat
as such (acknowledge it again, not hand the request up twice, 9.2.6.3.3), so
exactly one response comes per request. dnp3py 0.6.0 does no FCB check (its
TCP runner ACKs CONFIRMED_USER_DATA and hands every copy up), so there the
repeat is answered twice, and the master must discard the extra response.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.harness.dnp3_wire import LinkTrace
from tests.peers import dnp3_points

from wireproof.codecs import NEED_DATA
from wireproof.codecs.dnp3 import master as M
from wireproof.codecs.dnp3.constants import PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.framers import LinkFramer
from wireproof.codecs.dnp3.link import decode_link
from wireproof.codecs.dnp3.messages import LinkFrame
from wireproof.harness.simulators.dnp3_master import MasterSession

IMPLS = ["yadnp3", "dnp3py"]
TIMEOUT = 15.0
P, S = PrimaryFunction, SecondaryFunction


def confirmed_session(url: str, trace: LinkTrace, **kwargs: Any) -> MasterSession:
    return MasterSession(url, config=M.MasterConfig(response_timeout=5.0), link_confirmed=True,
                         link_timeout=1.0, link_retries=2, on_wire=trace, **kwargs)


@pytest.mark.parametrize("impl", IMPLS)
def test_integrity_poll_over_a_confirmed_link(dnp3_outstation: Any, impl: str) -> None:
    outstation = dnp3_outstation(impl)
    trace = LinkTrace()
    with confirmed_session(outstation.url, trace) as session:
        results = session.start(timeout=TIMEOUT)
        assert results and all(r.ok for r in results), results
        points = dnp3_points.initial()
        assert {i: v for i, v in session.values("analog").items() if i < len(points.analog)} == \
            dict(enumerate(points.analog))
        assert session.integrity_poll(TIMEOUT).ok
        outstation.change()
        session.points.clear()
        assert session.event_poll(TIMEOUT).ok
        assert session.points[("analog", 0)].value == dnp3_points.changed(1).analog[0]
        assert session.settle(TIMEOUT)  # the ACK of the last CONFIRM
    assert trace.frames["tx"][0].function == P.RESET_LINK_STATES
    assert len(trace.primary("tx", P.RESET_LINK_STATES)) == 1
    data = trace.primary("tx", P.CONFIRMED_USER_DATA)
    assert len(data) >= 5 and not trace.primary("tx", P.UNCONFIRMED_USER_DATA)
    assert [f.fcb for f in data] == [k % 2 == 0 for k in range(len(data))]
    # the outstation acknowledged the reset and every frame, once each (no retries were needed)
    assert trace.answers("rx").count(S.ACK) == len(data) + 1
    outstation.stop()


def test_the_outstations_keep_alive_goes_through_the_masters_secondary(dnp3_outstation: Any) -> None:
    outstation = dnp3_outstation("yadnp3", "--keep-alive-ms", "300")
    trace = LinkTrace()
    with confirmed_session(outstation.url, trace) as session:
        assert all(r.ok for r in session.start(timeout=TIMEOUT))
        assert session.pump(TIMEOUT, lambda: S.LINK_STATUS in trace.answers("tx"))
        assert trace.primary("rx", P.REQUEST_LINK_STATUS)
        assert session.integrity_poll(TIMEOUT).ok  # the link carries on after the keep-alive
    outstation.stop()


def test_the_masters_keep_alive_is_answered(dnp3_outstation: Any) -> None:
    outstation = dnp3_outstation("yadnp3")
    trace = LinkTrace()
    with MasterSession(outstation.url, keep_alive=0.2, link_timeout=1.0, on_wire=trace) as session:
        assert session.pump(TIMEOUT, lambda: S.LINK_STATUS in trace.answers("rx"))
        assert trace.primary("tx", P.REQUEST_LINK_STATUS)
        assert not [e for e in session.effects if isinstance(e, M.Notice) and e.kind == "link"]
    outstation.stop()


@contextmanager
def ack_withholding_relay(port: int) -> Iterator[tuple[str, list[LinkFrame]]]:
    """A TCP relay to 127.0.0.1:port that drops the outstation's first ACK to a CONFIRMED_USER_DATA
    (its second ACK overall: the first answers the reset); yields its URL and the frames relayed from
    the outstation."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(TIMEOUT)
    stop = threading.Event()
    relayed: list[LinkFrame] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            master, _ = server.accept()
            upstream = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        except OSError as err:
            errors.append(err)
            return
        framer = LinkFramer()
        acks = 0
        with master, upstream:
            for s in (master, upstream):
                s.settimeout(0.02)
            while not stop.is_set():
                try:
                    data = master.recv(65536)
                    if not data:
                        return
                    upstream.sendall(data)
                except TimeoutError:
                    pass
                except OSError:
                    return
                try:
                    data = upstream.recv(65536)
                    if not data:
                        return
                except TimeoutError:
                    continue
                except OSError:
                    return
                framer.feed(data)
                while (raw := framer.next_frame()) is not NEED_DATA:
                    frame = decode_link(bytes(raw))
                    if not frame.prm and frame.function == S.ACK:
                        acks += 1
                        if acks == 2:
                            continue
                    relayed.append(frame)
                    master.sendall(bytes(raw))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.getsockname()[1]}", relayed
    finally:
        stop.set()
        server.close()
        thread.join(TIMEOUT)
    assert not errors, errors


@pytest.mark.parametrize("impl", IMPLS)
def test_a_dropped_ack_gives_a_retry_with_the_same_fcb(dnp3_outstation: Any, impl: str) -> None:
    outstation = dnp3_outstation(impl)
    trace = LinkTrace()
    with ack_withholding_relay(outstation.port) as (url, relayed), confirmed_session(url, trace) as session:
        result = session.integrity_poll(TIMEOUT)
        assert result.ok, result
        assert session.integrity_poll(TIMEOUT).ok
        notices = [e for e in session.effects if isinstance(e, M.Notice)]
    data = trace.primary("tx", P.CONFIRMED_USER_DATA)
    assert data[0] == data[1] and data[0].fcb is True  # the retry: the same frame, the same FCB
    assert [f.fcb for f in data[1:]] == [k % 2 == 0 for k in range(len(data) - 1)]
    # one response per distinct request: the outstation did not take the repeat as a new request
    responses = [f for f in relayed if f.prm and f.function == P.UNCONFIRMED_USER_DATA]
    if impl == "yadnp3":
        assert len(responses) == len(data) - 1
    else:
        # dnp3py 0.6.0 (dnp3/outstation/tcp_runner.py) ACKs CONFIRMED_USER_DATA without an FCB check:
        # the repeat is handed up and answered again. The master discards the second response (its
        # SEQ is no longer awaited) with a notice, and both polls still succeed.
        assert len(responses) == len(data)
        assert any(n.kind in ("unexpected", "stray") for n in notices), notices
    outstation.stop()
