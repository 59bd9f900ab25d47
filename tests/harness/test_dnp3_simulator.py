"""The DNP3 reference outstation over real loopback sockets (TCP and UDP) and ``wireproof simulate``."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.harness.dnp3_wire import Master, integrity, link_frame
from tests.peers.dnp3_peers import LineReader

from wireproof.codecs.dnp3.constants import FunctionCode, Iin, PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, ObjectHeader, Point
from wireproof.errors import FixtureError
from wireproof.harness.simulators.dnp3_outstation import (
    OutstationHandle,
    default_config_path,
    load_config,
    running_outstation,
)

TIMEOUT = 5.0
UNSOLICITED = """
[outstation]
unsolicited = true
unsolicited_confirm_timeout = 0.5
[points.binary]
values = [true, false]
class = 1
[[script]]
changes = [{ kind = "binary", index = 1, value = true }]
"""


@pytest.fixture
def outstation() -> Iterator[OutstationHandle]:
    with running_outstation() as handle:
        yield handle


def static(response: ApplicationResponse, group: int) -> list[object]:
    return [p.values.get("value", p.values.get("flags")) for h in response.objects if h.group == group
            for p in h.points]


def test_handle_is_bound(outstation: OutstationHandle) -> None:
    assert outstation.host == "127.0.0.1" and outstation.port > 0
    assert outstation.url == f"tcp://127.0.0.1:{outstation.port}"


def test_integrity_poll_then_step_makes_events(outstation: OutstationHandle) -> None:
    master = Master((outstation.host, outstation.port))
    first = master.ask(integrity(0))
    assert first.iin & Iin.DEVICE_RESTART
    assert static(first, 30) == [100, -5, 1234, 0] and static(first, 20) == [10, 20, 30, 40]
    assert outstation.step() == 1
    events = master.ask(integrity(1))
    assert events.con
    assert [(h.group, [p.index for p in h.points]) for h in events.objects[:4]] == \
        [(2, [0]), (4, [0]), (32, [0]), (22, [0])]
    again = master.ask(ApplicationRequest(seq=2, objects=(ObjectHeader(group=60, variation=2, qualifier=6),)))
    assert again.objects == ()  # confirmed, so cleared
    master.close()


def test_every_master_has_its_own_events_and_sees_the_same_values(outstation: OutstationHandle) -> None:
    a, b = Master((outstation.host, outstation.port)), Master((outstation.host, outstation.port))
    a.ask(integrity(0))
    b.ask(integrity(0))
    outstation.change("analog", 1, 77)
    for master in (a, b):
        r = master.ask(ApplicationRequest(seq=1, objects=(ObjectHeader(group=60, variation=2, qualifier=6),)))
        assert [p.values["value"] for h in r.objects for p in h.points] == [77]
    crob = ObjectHeader(group=12, variation=1, qualifier=0x28, count=1, points=(Point(index=2, values={
        "control_code": 3, "count": 1, "on_time": 0, "off_time": 0, "status": 0}),))
    assert a.ask(ApplicationRequest(seq=2, function=FunctionCode.DIRECT_OPERATE, objects=(crob,))) \
        .objects[0].points[0].values["status"] == 0
    r = b.ask(ApplicationRequest(seq=2, objects=(ObjectHeader(group=10, variation=2, qualifier=6),)))
    assert [p.values["flags"] & 0x80 for p in r.objects[0].points] == [0, 0, 0x80, 0]
    assert "operate crob index=2 code=LATCH_ON type=DirectOperate" in outstation.lines
    a.close()
    b.close()


def test_link_services_over_tcp(outstation: OutstationHandle) -> None:
    master = Master((outstation.host, outstation.port))
    master.send(link_frame(function=PrimaryFunction.REQUEST_LINK_STATUS))
    assert master.link_answer().function == SecondaryFunction.LINK_STATUS
    master.send(link_frame(function=PrimaryFunction.RESET_LINK_STATES))
    assert master.link_answer().function == SecondaryFunction.ACK
    master.close()


def test_unsolicited_null_response_then_events_on_step(tmp_path: Path) -> None:
    config = tmp_path / "uns.toml"
    config.write_text(UNSOLICITED)
    with running_outstation(config=config) as outstation:
        master = Master((outstation.host, outstation.port))
        null = master.response(unsolicited=True, confirm=False)
        assert (null.uns, null.con, null.objects) == (True, True, ())
        retry = master.response(unsolicited=True, confirm=True)  # not confirmed in time: sent again
        assert retry.seq == null.seq
        master.ask(ApplicationRequest(seq=0, function=FunctionCode.ENABLE_UNSOLICITED, objects=tuple(
            ObjectHeader(group=60, variation=v, qualifier=6) for v in (2, 3, 4))))
        outstation.step()
        ur = master.response(unsolicited=True)
        assert ur.uns and [(h.group, [p.index for p in h.points]) for h in ur.objects] == [(2, [1])]
        master.close()


def test_udp(tmp_path: Path) -> None:
    with running_outstation(udp=True) as outstation:
        assert outstation.url.startswith("udp://127.0.0.1:")
        master = Master((outstation.host, outstation.port), udp=True)
        r = master.ask(integrity(3))
        assert r.seq == 3 and static(r, 30) == [100, -5, 1234, 0]
        outstation.step()
        assert master.ask(integrity(4)).con
        master.close()


def test_config_errors_name_the_problem(tmp_path: Path) -> None:
    assert load_config(default_config_path()).address == 10
    for text, words in (("[points.nope]\nvalues = [1]", "unknown point kind"),
                        ("[points.binary]\nvalues = [2]", "not a binary value"),
                        ("[outstation]\nunsolicited = 1", "not a bool"),
                        ("[link]\noutstation = 70000", "station address"),
                        ("[link]\nretry = 1", "unknown keys"),
                        ("[[script]]\nchanges = [{kind='binary', index=9, value=true}]", "no binary point 9"),
                        ("x = [", "not TOML")):
        with pytest.raises(FixtureError, match=words):
            load_config(tmp_path / "bad.toml", text=text)


def test_stop_with_masters_connected() -> None:
    with running_outstation() as outstation:
        masters = [Master((outstation.host, outstation.port)) for _ in range(3)]
        masters[0].ask(integrity(0))
    for master in masters:
        master.sock.settimeout(TIMEOUT)
        assert master.sock.recv(10) == b""  # closed by the stop
        master.close()


def test_wireproof_simulate_subprocess_with_step_on_stdin() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "wireproof", "simulate", "dnp3-outstation", "--bind", "127.0.0.1:0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    lines = LineReader(proc.stdout)  # its own buffer: a readline() could swallow the next line

    def readline(proc: object, timeout: float) -> str:
        return lines.line(timeout, "a line from the simulator")

    try:
        line = readline(proc, 20.0)
        assert line.startswith("listening on 127.0.0.1:"), line
        port = int(line.strip().rsplit(":", 1)[1])
        master = Master(("127.0.0.1", port))
        master.ask(integrity(0))
        proc.stdin.write(b"step\n")
        proc.stdin.flush()
        assert readline(proc, TIMEOUT).strip() == "stepped 1"
        proc.stdin.write(b"change analog 2 5.5\nbogus\n")
        proc.stdin.flush()
        assert readline(proc, TIMEOUT).strip() == "changed analog 2"
        assert readline(proc, TIMEOUT).startswith("error: unknown command")
        r = master.ask(integrity(1))
        analog_events = {p.index: p.values["value"] for h in r.objects if h.group == 32 for p in h.points}
        assert analog_events == {0: 101, 2: 6}  # 5.5 in a 32-bit integer variation
        crob = ObjectHeader(group=12, variation=1, qualifier=0x28, count=1, points=(Point(index=1, values={
            "control_code": 3, "count": 1, "on_time": 0, "off_time": 0, "status": 0}),))
        master.ask(ApplicationRequest(seq=2, function=FunctionCode.DIRECT_OPERATE, objects=(crob,)))
        assert readline(proc, TIMEOUT).strip() == "operate crob index=1 code=LATCH_ON type=DirectOperate"
        master.close()
        proc.terminate()
        assert proc.wait(TIMEOUT * 2) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_wireproof_simulate_bad_config() -> None:
    from wireproof.harness.cli import main

    args = ["simulate", "dnp3-outstation", "--bind", "127.0.0.1:0", "--config", "/nonexistent.toml"]
    assert main(args) == 2


def test_many_masters_at_once(outstation: OutstationHandle) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            master = Master((outstation.host, outstation.port))
            for seq in range(10):
                r = master.ask(ApplicationRequest(seq=seq, objects=(
                    ObjectHeader(group=30, variation=1, qualifier=0x00, start=n % 4, stop=n % 4),)))
                assert [p.index for p in r.objects[0].points] == [n % 4]
            master.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 4)
    assert not errors, errors


def test_link_confirmed_mode_resets_the_link_and_waits_for_acks(tmp_path: Path) -> None:
    """With ``[link] confirmed = true`` the outstation's primary station resets the link, then sends
    CONFIRMED_USER_DATA with FCB 1, 0, ... and resends a frame until it is acknowledged (9.2.6.2)."""
    from wireproof.codecs.dnp3.link import decode_link, encode_link
    from wireproof.codecs.dnp3.messages import LinkFrame

    config = tmp_path / "confirmed.toml"
    config.write_text("[link]\nconfirmed = true\nresponse_timeout = 1.0\n"
                      "[points.binary]\nvalues = [true]\n")
    ack = encode_link(LinkFrame(dir=True, prm=False, function=SecondaryFunction.ACK, destination=10,
                                source=1))
    with running_outstation(config=config) as outstation:
        master = Master((outstation.host, outstation.port))
        master.request(integrity(0))
        first = master._next_frame()
        assert first.function == PrimaryFunction.RESET_LINK_STATES
        master.send(ack)
        data = master._next_frame()
        assert (data.function, data.fcv, data.fcb) == (PrimaryFunction.CONFIRMED_USER_DATA, True, True)
        again = master._next_frame()  # no ACK within the response timeout: the same frame again
        assert again == data
        master.send(ack)
        master.request(integrity(1))
        nxt = master._next_frame()
        assert (nxt.function, nxt.fcb) == (PrimaryFunction.CONFIRMED_USER_DATA, False)
        assert decode_link(encode_link(nxt)).user_data[1] & 0x0F == 1  # the response to seq 1
        master.close()
