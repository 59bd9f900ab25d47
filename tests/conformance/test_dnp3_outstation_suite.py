"""The ``dnp3-outstation`` conformance suite, run end to end through ``wireproof certify``.

Each run is a subprocess (``python -m wireproof certify dnp3-outstation``), as
a user runs it. Targets:

(a) the built-in reference outstation (the default target,
    :mod:`wireproof.harness.simulators.dnp3_outstation`): every clause passes
    or is not applicable;
(b) a real opendnp3 outstation (yadnp3, tests/peers/dnp3_outstation.py) with
    unsolicited reporting and NEED_TIME: every clause's verdict is pinned,
    with the reason for each deviation;
(c) the dnp3py outstation, pinned the same way;
(d) the device profile: TOML and the DNP3 XML device profile read into the
    same profile; a bad profile is a usage error (exit 2) before any clause.
(e) the reference outstation configured with unsolicited responses and
    NEED_TIME, as an explicit target stepped through the event trigger.

Events: the peers make a point change when ``change`` comes on their
standard input. The suite's ``event_trigger`` is a shell command; here it is
a small Python client (a script file) of a TCP control server in this test process
(:class:`ChangeServer`), which forwards ``change`` to the peer and answers
only once the peer said ``changed N``: the trigger returns after the change
is applied, with no sleep anywhere.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from wireproof.conformance.dnp3_outstation.profile import default_profile, load_profile, read_profile
from wireproof.errors import FixtureError

CERTIFY_TIMEOUT = 600
SUITE = "dnp3-outstation"
SUITE_PACKAGE = "wireproof.conformance.dnp3_outstation"


def certify(report: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run(
        [sys.executable, "-m", "wireproof", "certify", SUITE, "--report", str(report), *args],
        capture_output=True,
        text=True,
        timeout=CERTIFY_TIMEOUT,
        check=False,
    )
    path = report / "report.json"
    assert path.exists(), f"no report.json (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.returncode, json.loads(path.read_text()), proc.stdout + proc.stderr


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {case["clause"]: case["verdict"] for case in report["cases"]}


class ChangeServer:
    """A TCP control port on 127.0.0.1: each connection's ``change`` line makes the peer change; the answer
    (``changed N``) is written back once the peer applied it."""

    def __init__(self, outstation: Any) -> None:
        self.outstation = outstation
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.lock = threading.Lock()
        self.count = 0

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                if stream.readline().strip() == b"change":
                    with self.lock:
                        line = self.outstation.change()
                        self.count += 1
                    stream.write(line.encode() + b"\n")
                    stream.flush()

    def command(self, folder: Path) -> str:
        """The event_trigger: a script in ``folder`` that asks for one change and waits for ``changed N``."""
        script = folder / "trigger.py"
        script.write_text(
            "import socket\n"
            f"s = socket.create_connection(('127.0.0.1', {self.port}))\n"
            "s.sendall(b'change\\n')\n"
            "assert s.makefile().readline().startswith('changed')\n"
        )
        return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"

    def __enter__(self) -> ChangeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


@pytest.fixture
def dnp3_outstation() -> Iterator[Any]:
    """A factory of peer outstation subprocesses (tests/peers/dnp3_peers.py), stopped at teardown; skips
    when the peer's package is not installed."""
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
        outstation.stop()  # SIGTERM, exit status 0 checked, pipes closed


@contextlib.contextmanager
def peer(dnp3_outstation: Any, impl: str, *flags: str) -> Iterator[tuple[Any, ChangeServer]]:
    outstation = dnp3_outstation(impl, *flags)
    with ChangeServer(outstation) as server:
        yield outstation, server


# --------------------------------------------------------------------------- (b) yadnp3 (opendnp3)

YADNP3_PROFILE = """
[device]
name = "opendnp3 outstation (yadnp3), tests/peers/dnp3_outstation.py --unsolicited --need-time"
outstation_address = 10
master_address = 1
response_timeout = 2.0
select_timeout = 10.0     # opendnp3 OutstationParams.selectTimeout default
confirm_timeout = 5.0     # opendnp3 unsolConfirmTimeout default
need_time = true
unsolicited = true
event_buffer_size = 100   # dnp3_points.EVENT_BUFFER, per type
multi_fragment_events = true  # 400 events (4 types x 100) need more than one 2048-octet fragment
function_codes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 23]

[points]                  # DatabaseConfig(4): four of every type
binary_inputs = 4
double_bit_inputs = 4
analog_inputs = 4
counters = 4
binary_outputs = 4
analog_outputs = 4

[events]                  # the runner's `change`: binary 0, double-bit 0, analog 0, counter 0
binary = true
double_bit = true
analog = true
counter = true
"""

# Every clause passes against opendnp3 (found by this suite: no deviation).
YADNP3_VERDICTS: dict[str, str] = {}  # clause -> verdict other than "pass" (none)


def _check_report(report: dict[str, Any], code: int, out: str, deviations: dict[str, str]) -> None:
    got = verdicts(report)
    assert len(got) >= 35, got
    unexpected = {c: v for c, v in got.items() if v != deviations.get(c, "pass")}
    missing = {c: v for c, v in deviations.items() if got.get(c) != v}
    assert not unexpected and not missing, f"verdicts moved: {unexpected or missing}\n{out}"
    assert code == (
        1 if "fail" in deviations.values() else 0 if set(deviations.values()) <= {"not_applicable"} else 3
    ), out
    for case in report["cases"]:
        assert case["cites"].startswith("IEEE 1815-2012"), case["clause"]
        if case["verdict"] in ("pass", "fail") and case["clause"] != "DNP-APP-012":
            assert any(e["direction"] == "sent" and e["decoded"] for e in case["evidence"]), case["clause"]


@pytest.mark.suite_run
def test_yadnp3_outstation(dnp3_outstation: Any, tmp_path: Path) -> None:
    profile = tmp_path / "yadnp3.toml"
    profile.write_text(YADNP3_PROFILE)
    with peer(dnp3_outstation, "yadnp3", "--unsolicited", "--need-time") as (outstation, server):
        code, report, out = certify(
            tmp_path / "report",
            "--target",
            outstation.url,
            "--profile",
            str(profile),
            "--param",
            f"event_trigger={server.command(tmp_path)}",
        )
        assert server.count > 200  # the overflow and multi-fragment clauses filled the buffer
    _check_report(report, code, out, YADNP3_VERDICTS)
    assert report["profile"]["source"] == "file"


# --------------------------------------------------------------------------- (c) dnp3py

DNP3PY_PROFILE = """
[device]
name = "dnp3py outstation, tests/peers/dnp3_outstation.py --unsolicited --need-time"
response_timeout = 2.0
select_timeout = 10.0
confirm_timeout = 5.0
need_time = true
unsolicited = true
event_buffer_size = 100
function_codes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 23]

[points]                  # the runner's database: no double-bit inputs; its command handler
binary_inputs = 4         # implements no analog output command (analog_outputs = 0: not applicable)
analog_inputs = 4
counters = 4
binary_outputs = 4

[events]                  # the runner's `change`: binary 0, analog 0, counter 0
binary = true
analog = true
counter = true
"""

# Where dnp3py deviates (found by this suite), with what it does.
DNP3PY_VERDICTS = {
    # Function code 0x46: answered with IIN2.2 PARAMETER_ERROR, not IIN2.0 NO_FUNC_CODE_SUPPORT.
    "DNP-APP-008": "fail",
    # A read of g1v2 with range 0..1 returns all four binary inputs: the range is ignored.
    "DNP-APP-015": "fail",
    # A read of binary input 104 (there are 4) is answered IIN 00 00: no IIN2.2.
    "DNP-APP-016": "fail",
    # OPERATE 10.5 s after SELECT is answered NO_SELECT (2), not TIMEOUT (1): the expired
    # selection is forgotten instead of reported as timed out.
    "DNP-CTL-002": "fail",
    # SELECT of binary output 104 answers SUCCESS: dnp3py hands any index to the command
    # handler (the runner's says success) without checking its database.
    "DNP-CTL-005": "fail",
    # IMMED_FREEZE / IMMED_FREEZE_NR are accepted (no IIN2.0/2.1), but g21 then reports no
    # frozen counter at all.
    "DNP-CTL-009": "fail",
    "DNP-CTL-010": "fail",
    # Analog output commands: the runner's handler implements none (profile analog_outputs = 0).
    "DNP-CTL-008": "not_applicable",
    # The runner's database has no double-bit input.
    "DNP-EVT-002": "not_applicable",
    # A response carrying events has CON=0, and the events are gone from the next poll without
    # a confirm (and with a confirm of another sequence number): 4.2.2.4.3.
    "DNP-EVT-005": "fail",
    "DNP-EVT-007": "fail",
    "DNP-EVT-008": "fail",
    # A full buffer (100 events a type) fits one fragment: the profile does not claim more.
    "DNP-EVT-011": "not_applicable",
    # CONFIRMED_USER_DATA repeated with the same FCB: ACKed, and its data delivered again (the
    # class 0 read answered twice): 9.2.4.1.3.3.
    "DNP-LNK-011": "fail",
    # A segment skipping a transport sequence number: dnp3py closes the TCP connection instead
    # of discarding the fragment (8.2.2).
    "DNP-TRN-003": "fail",
    # With --unsolicited and classes enabled by ENABLE_UNSOLICITED, a point change is never
    # reported unsolicited (no null unsolicited response at connect either); the events wait
    # for a poll.
    "DNP-UNS-001": "fail",
    "DNP-UNS-003": "fail",
    "DNP-UNS-004": "fail",
}


@pytest.mark.suite_run
def test_dnp3py_outstation(dnp3_outstation: Any, tmp_path: Path) -> None:
    profile = tmp_path / "dnp3py.toml"
    profile.write_text(DNP3PY_PROFILE)
    with peer(dnp3_outstation, "dnp3py", "--unsolicited", "--need-time") as (outstation, server):
        code, report, out = certify(
            tmp_path / "report",
            "--target",
            outstation.url,
            "--profile",
            str(profile),
            "--param",
            f"event_trigger={server.command(tmp_path)}",
        )
    _check_report(report, code, out, DNP3PY_VERDICTS)


# --------------------------------------------------------------------------- (a) reference outstation


@pytest.mark.suite_run
def test_reference_outstation_passes(tmp_path: Path) -> None:
    """The default target: wireproof's reference outstation with unsolicited responses and NEED_TIME on
    (conftest.builtin_config), judged by the default profile: every clause applies and passes but the
    multi-fragment one (a full event buffer fits one 2048-octet fragment)."""
    code, report, out = certify(tmp_path)
    assert "reference outstation, built in" in report["target"]
    assert report["profile"]["source"] == "built-in"
    _check_report(report, code, out, {"DNP-EVT-011": "not_applicable"})


@pytest.mark.suite_run
def test_reference_outstation_packaged_default_as_a_foreign_target(tmp_path: Path) -> None:
    """The reference outstation on its packaged default configuration (unsolicited responses off, no
    NEED_TIME) as a foreign target stepped through the event trigger, with a profile that says so: the
    unsolicited and time clauses do not apply, everything else passes."""
    from importlib import resources

    from wireproof.harness.simulators.dnp3_outstation import running_outstation

    profile_text = resources.files(SUITE_PACKAGE).joinpath("default-profile.toml").read_text()
    foreign = profile_text.replace("unsolicited = true", "unsolicited = false").replace(
        "need_time = true", "need_time = false")
    assert foreign.count("= false") == profile_text.count("= false") + 2
    profile = tmp_path / "profile.toml"
    profile.write_text(foreign)

    class Stepper:
        def change(self) -> str:
            return f"changed {handle.step()}"

    with running_outstation() as handle, ChangeServer(Stepper()) as server:
        code, report, out = certify(
            tmp_path / "report",
            "--target",
            handle.url,
            "--profile",
            str(profile),
            "--param",
            f"event_trigger={server.command(tmp_path)}",
        )
    _check_report(report, code, out, dict.fromkeys(
        ("DNP-APP-011", "DNP-UNS-001", "DNP-UNS-002", "DNP-UNS-003", "DNP-UNS-004", "DNP-EVT-011"),
        "not_applicable"))


def test_no_trigger_makes_event_clauses_inconclusive(dnp3_outstation: Any, tmp_path: Path) -> None:
    """Without event_trigger, a foreign device's event clauses are inconclusive, saying how to set it."""
    profile = tmp_path / "yadnp3.toml"
    profile.write_text(YADNP3_PROFILE)
    outstation = dnp3_outstation("yadnp3")
    code, report, out = certify(
        tmp_path / "report",
        "--target",
        outstation.url,
        "--profile",
        str(profile),
        "-k",
        "DNP-EVT-001 or DNP-EVT-006 or DNP-APP-001",
    )
    assert code == 3, out
    cases = {c["clause"]: c for c in report["cases"]}
    assert cases["DNP-APP-001"]["verdict"] == "pass"
    for clause in ("DNP-EVT-001", "DNP-EVT-006"):
        assert cases[clause]["verdict"] == "inconclusive"
        assert "event_trigger" in cases[clause]["message"]


# --------------------------------------------------------------------------- (d) profiles

XML_PROFILE = b"""\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>
<DNP3DeviceProfileDocument xmlns="http://www.dnp3.org/DNP3/DeviceProfile/November2014"
 schemaVersion="2.10.00">
 <referenceDevice>
  <configuration>
   <deviceConfig><deviceName><currentValue><value>RTU-7</value></currentValue></deviceName></deviceConfig>
   <linkConfig>
    <dataLinkAddress><capabilities><range><minimum>0</minimum><maximum>65519</maximum></range></capabilities>
     <currentValue><value>1024</value></currentValue></dataLinkAddress>
   </linkConfig>
   <outstationConfig>
    <applicationLayerConfirmTimeout><currentValue><value>3000</value></currentValue>
    </applicationLayerConfirmTimeout>
    <timeSyncRequired><capabilities><never /></capabilities><currentValue><periodically /></currentValue>
    </timeSyncRequired>
   </outstationConfig>
   <unsolicitedConfig>
    <supportsUnsolicitedReporting><capabilities><configurable /></capabilities>
     <currentValue><on /></currentValue></supportsUnsolicitedReporting>
    <masterDataLinkAddress><currentValue><value>3</value></currentValue></masterDataLinkAddress>
   </unsolicitedConfig>
  </configuration>
  <database><binaryOutputGroup><maxTimeBetweenSelectAndOperate><currentValue><value>2.5</value></currentValue>
  </maxTimeBetweenSelectAndOperate></binaryOutputGroup></database>
  <dataPointsList>
   <binaryInputPoints><dataPoints>
    <binaryInput><index>0</index><name>A</name><changeEventClass>one</changeEventClass></binaryInput>
    <binaryInput><index>1</index><name>B</name><changeEventClass>one</changeEventClass></binaryInput>
   </dataPoints></binaryInputPoints>
   <analogInputPoints><dataPoints>
    <analogInput><index>0</index><name>V</name><changeEventClass>none</changeEventClass></analogInput>
   </dataPoints></analogInputPoints>
   <counterPoints><dataPoints>
    <counter><index>0</index><name>E</name><counterEventClass>two</counterEventClass></counter>
   </dataPoints></counterPoints>
  </dataPointsList>
 </referenceDevice>
</DNP3DeviceProfileDocument>
"""


def test_xml_profile_is_read() -> None:
    profile = load_profile(read_profile(XML_PROFILE))
    assert profile.name == "RTU-7"
    assert profile.outstation_address == 1024
    assert profile.confirm_timeout == 3.0 and profile.select_timeout == 2.5
    assert profile.unsolicited and profile.need_time and profile.master_address == 3
    assert profile.count("binary_inputs") == 2 and profile.count("analog_inputs") == 1
    assert profile.count("counters") == 1 and profile.count("double_bit_inputs") == 0
    assert profile.events["binary"] and profile.events["counter"] and not profile.events["analog"]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<DNP3DeviceProfileDocument>&x;</DNP3DeviceProfileDocument>",
            "document type declaration",
        ),
        (
            b'<!DOCTYPE d [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><DNP3DeviceProfileDocument/>',
            "document type declaration",
        ),
        (b"<DNP3DeviceProfileDocument><unclosed></DNP3DeviceProfileDocument>", "not well-formed"),
        (b"<other/>", "not DNP3DeviceProfileDocument"),
        (b"<" + b"a" * (5 * 1024 * 1024), "octets; at most"),
        (b"[device]\nname = 3\n", "device.name"),
        (b"[device\n", "not valid TOML"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_profiles_are_fixture_errors(data: bytes, says: str) -> None:
    with pytest.raises(FixtureError, match=says):
        load_profile(read_profile(data))


def test_default_profile_is_the_reference_outstation() -> None:
    profile = default_profile()
    assert (profile.outstation_address, profile.master_address) == (10, 1)
    assert profile.count("binary_inputs") == 4 and profile.unsolicited and profile.need_time


def test_bad_profile_is_a_usage_error(tmp_path: Path) -> None:
    """certify reads the profile (XML through the suite's profile_reader) before anything runs: exit 2."""
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b'<!DOCTYPE d [<!ENTITY x "y">]><DNP3DeviceProfileDocument/>')
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "wireproof",
            "certify",
            SUITE,
            "--profile",
            str(bad),
            "--target",
            "tcp://127.0.0.1:9",
            "--report",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "document type declaration" in proc.stderr
    assert not (tmp_path / "r").exists()


def test_xml_profile_drives_a_run(dnp3_outstation: Any, tmp_path: Path) -> None:
    """An XML profile given to certify decides applicability: no binary output declared: CROB clauses n/a."""
    xml = tmp_path / "profile.xml"
    xml.write_bytes(XML_PROFILE.replace(b"<value>1024<", b"<value>10<").replace(b"<value>3<", b"<value>1<"))
    outstation = dnp3_outstation("yadnp3")
    code, report, out = certify(
        tmp_path / "report",
        "--target",
        outstation.url,
        "--profile",
        str(xml),
        "-k",
        "DNP-CTL-001 or DNP-APP-001 or DNP-LNK-001",
    )
    assert code == 0, out
    got = verdicts(report)
    assert got == {"DNP-CTL-001": "not_applicable", "DNP-APP-001": "pass", "DNP-LNK-001": "pass"}, out
