"""The APCI machine (104 clause 5): start/stop/test, numbering, acknowledgement, the k window, t1-t3."""

from __future__ import annotations

from typing import Any

import pytest

from wireproof.codecs.iec104 import Asdu, IFrame, InformationObject, SFrame, UFrame, UFunction
from wireproof.codecs.iec104.apci_machine import (
    ApciState,
    AsduReceived,
    Closed,
    ControlledApci,
    ControllingApci,
    Started,
    Stopped,
)
from wireproof.codecs.iec104.apci_machine import (
    TestConfirmed as FrameTestConfirmed,
)
from wireproof.errors import LocalProtocolError


def asdu(i: int = 0) -> Asdu:
    return Asdu(type_id=1, cause=3, common_address=1,
                objects=(InformationObject(address=i, elements={"value": True, "quality": 0}),))


def started_pair(**kw: Any) -> tuple[ControllingApci, ControlledApci]:
    client, server = ControllingApci(**kw), ControlledApci(**kw)
    client.start(0.0)
    [act] = client.outgoing()
    assert act == UFrame(function=UFunction.STARTDT_ACT) and client.state is ApciState.PENDING_START
    assert server.receive(act, 0.0) == [Started()]
    [con] = server.outgoing()
    assert client.receive(con, 0.0) == [Started()]
    assert client.state is server.state is ApciState.STARTED
    return client, server


def test_data_flows_and_is_acknowledged_after_w_frames() -> None:
    client, server = started_pair(w=3)
    for i in range(3):
        server.send_asdu(asdu(i), 1.0)
    frames = server.outgoing()
    assert [f.send_seq for f in frames if isinstance(f, IFrame)] == [0, 1, 2]
    events = [e for f in frames for e in client.receive(f, 1.0)]
    assert [e.asdu.objects[0].address for e in events if isinstance(e, AsduReceived)] == [0, 1, 2]
    assert client.outgoing() == [SFrame(recv_seq=3)]  # w frames: acknowledged at once
    server.receive(SFrame(recv_seq=3), 1.0)
    assert server.unacknowledged == 0


def test_t2_acknowledges_fewer_than_w() -> None:
    client, server = started_pair(w=8, t2=10.0)
    server.send_asdu(asdu(), 1.0)
    client.receive(server.outgoing()[0], 1.0)
    assert client.outgoing() == []
    assert client.next_deadline() == pytest.approx(11.0)
    client.timeout(11.0)
    assert client.outgoing() == [SFrame(recv_seq=1)]


def test_an_i_frame_carries_the_acknowledgement() -> None:
    client, server = started_pair()
    server.send_asdu(asdu(), 1.0)
    client.receive(server.outgoing()[0], 1.0)
    client.send_asdu(asdu(9), 2.0)
    [frame] = client.outgoing()
    assert isinstance(frame, IFrame) and (frame.send_seq, frame.recv_seq) == (0, 1)
    server.receive(frame, 2.0)
    assert server.unacknowledged == 0


def test_the_k_window_holds_frames_back() -> None:
    _client, server = started_pair(k=2)
    for i in range(5):
        server.send_asdu(asdu(i), 1.0)
    assert [f.send_seq for f in server.outgoing()] == [0, 1]  # type: ignore[union-attr]
    assert server.queued == 3
    server.receive(SFrame(recv_seq=1), 2.0)
    assert [f.send_seq for f in server.outgoing()] == [2]  # type: ignore[union-attr]
    server.receive(SFrame(recv_seq=3), 2.0)
    assert [f.send_seq for f in server.outgoing()] == [3, 4]  # type: ignore[union-attr]


def test_t1_closes_on_an_unacknowledged_frame() -> None:
    _, server = started_pair(t1=15.0, t2=10.0)
    server.send_asdu(asdu(), 1.0)
    server.outgoing()
    assert server.next_deadline() == pytest.approx(16.0)
    [closed] = server.timeout(16.0)
    assert isinstance(closed, Closed) and "N(S)=0 not acknowledged" in closed.reason
    assert closed.clause.startswith("104 5.5") and server.closed and server.next_deadline() is None


def test_t3_sends_a_test_frame_and_t1_bounds_its_answer() -> None:
    client, server = started_pair(t3=20.0)
    assert server.timeout(20.0) == []
    assert server.outgoing() == [UFrame(function=UFunction.TESTFR_ACT)]
    assert client.receive(UFrame(function=UFunction.TESTFR_ACT), 20.5) == []
    [con] = client.outgoing()
    assert server.receive(con, 21.0) == [FrameTestConfirmed()]
    server2 = started_pair(t3=20.0)[1]
    server2.timeout(20.0)
    assert isinstance(server2.timeout(35.0)[0], Closed)


@pytest.mark.parametrize("ns", [1, 5, 32767])
def test_an_i_frame_out_of_sequence_closes(ns: int) -> None:
    _, server = started_pair()
    [closed] = server.receive(IFrame(send_seq=ns, recv_seq=0, asdu=asdu()), 1.0)
    assert isinstance(closed, Closed) and f"N(S)={ns}, expected 0" in closed.reason
    assert server.state is ApciState.CLOSED


def test_an_acknowledgement_of_unsent_frames_closes() -> None:
    _, server = started_pair()
    server.send_asdu(asdu(), 1.0)
    server.outgoing()
    assert server.receive(SFrame(recv_seq=1), 1.0) == []
    [closed] = server.receive(SFrame(recv_seq=2), 1.0)
    assert isinstance(closed, Closed) and "never sent" in closed.reason


def test_data_before_startdt_closes_and_data_waits_for_it() -> None:
    server = ControlledApci()
    server.send_asdu(asdu(), 0.0)
    assert server.outgoing() == [] and server.queued == 1
    [closed] = server.receive(IFrame(send_seq=0, recv_seq=0, asdu=asdu()), 0.0)
    assert isinstance(closed, Closed) and "STARTDT" in closed.clause


def test_stopdt_is_confirmed_once_the_controlled_stations_frames_are_acknowledged() -> None:
    client, server = started_pair()
    server.send_asdu(asdu(), 1.0)
    [frame] = server.outgoing()
    client.stop(1.0)
    [act] = client.outgoing()
    assert act == UFrame(function=UFunction.STOPDT_ACT) and client.state is ApciState.PENDING_STOP
    assert server.receive(act, 1.0) == [Stopped()]
    assert server.outgoing() == []  # its I frame is not acknowledged yet
    client.receive(frame, 1.1)  # data after STOPDT act is still delivered ...
    with pytest.raises(LocalProtocolError):
        client.send_asdu(asdu(), 1.2)  # ... but the controlling station sends none
    server.receive(SFrame(recv_seq=1), 1.2)
    assert server.outgoing() == [UFrame(function=UFunction.STOPDT_CON)]
    assert client.receive(UFrame(function=UFunction.STOPDT_CON), 1.3) == [Stopped()]
    server.send_asdu(asdu(), 2.0)
    assert server.outgoing() == []  # stopped: queued


def test_sequence_numbers_wrap_at_32768() -> None:
    client, server = started_pair(k=32767, w=32767, t1=1e9, t2=1e8, t3=1e9)
    server.send_seq = server.acked = 32766
    client.recv_seq = 32766
    for i in range(3):
        server.send_asdu(asdu(i), 1.0)
    frames = server.outgoing()
    assert [f.send_seq for f in frames] == [32766, 32767, 0]  # type: ignore[union-attr]
    for f in frames:
        client.receive(f, 1.0)
    client.timeout(1e8 + 2)
    [ack] = client.outgoing()
    assert ack == SFrame(recv_seq=1)
    assert server.receive(ack, 2.0) == [] and server.unacknowledged == 0


def test_unexpected_u_frames_close() -> None:
    client, server = started_pair()
    [closed] = server.receive(UFrame(function=UFunction.STARTDT_CON), 1.0)
    assert isinstance(closed, Closed)
    [closed] = client.receive(UFrame(function=UFunction.STARTDT_ACT), 1.0)
    assert isinstance(closed, Closed)


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="t2"):
        ControlledApci(t1=5, t2=10)
    with pytest.raises(ValueError, match="k and w"):
        ControlledApci(k=0)
