"""The DNP3 protocol descriptor (IEEE 1815-2012): the codecs, by reference.

Registered in pyproject.toml's ``wireproof.protocols`` entry-point group
(:mod:`wireproof.protocol` explains the contract). Suites, simulators
and benches come with later work; this module imports nothing but
the descriptor types.
"""

from __future__ import annotations

from wireproof.protocol import (
    AnalyzerEntry,
    BenchEntry,
    CodecEntry,
    Param,
    ProtocolDescriptor,
    SimulatorEntry,
    SuiteEntry,
)

__all__ = ["DESCRIPTOR"]

DESCRIPTOR = ProtocolDescriptor(
    name="dnp3",
    title="DNP3 (IEEE 1815-2012; FT3 link frames, transport, application)",
    codecs=(
        CodecEntry(name="dnp3", factory="wireproof.codecs.dnp3:link_codec",
                   description="DNP3 FT3 link frame; transport and application decoded when complete "
                               "(IEEE 1815 9.2, 8.2, 4.2)"),
        CodecEntry(name="dnp3-app", factory="wireproof.codecs.dnp3:app_codec",
                   description="DNP3 application fragment: control, function, IIN, object headers "
                               "(IEEE 1815 4.2)"),
    ),
    analyzers=(
        AnalyzerEntry(
            name="dnp3", ports=(20000,), transports=("tcp", "udp"),
            analyzer="wireproof.codecs.dnp3.analyzer:Dnp3Analyzer",
            heuristic="wireproof.codecs.dnp3.analyzer:looks_like_dnp3",
            traffic="wireproof.harness.bench.dnp3_traffic:TRAFFIC",
            description="DNP3 link frames over TCP and UDP (IEEE 1815 9.2, 8.2; Annex E port 20000)"),
    ),
    suites=(
        SuiteEntry(
            name="dnp3-master", package="wireproof.conformance.dnp3_master", protocol="dnp3",
            description="a DNP3 master (IEEE 1815-2012): wireproof plays the outstation and judges start-up, "
                        "confirms, restart and need-time IIN, unsolicited responses, sequence numbers, "
                        "retries",
            device_role="client",
            # The reference master (wireproof.harness.simulators.dnp3_master): unsolicited responses on, and
            # one select-before-operate so that the control clauses apply.
            default_command="{python} -m wireproof simulate dnp3-master --target {url} --unsolicited "
                            "--operate crob:0:LATCH_ON",
            params=(
                Param(name="master_address", kind="int", default=1, minimum=0, maximum=65519,
                      help="link address of the master under test (default 1; IEEE 1815 9.2.4.1.4)"),
                Param(name="outstation_address", kind="int", default=10, minimum=0, maximum=65519,
                      help="link address wireproof's outstation answers as (default 10)"),
                Param(name="response_timeout", kind="float", default=5.0, minimum=0.05, maximum=120,
                      metavar="S",
                      help="how long the master gets to confirm or answer a fragment (default 5.0)"),
                Param(name="connect_timeout", kind="float", default=20.0, minimum=0.1, maximum=600,
                      metavar="S",
                      help="how long to wait for the master to connect, each clause (default 20.0)"),
                Param(name="poll_timeout", kind="float", default=12.0, minimum=0.1, maximum=600, metavar="S",
                      help="how long to wait for the master to do what a clause waits for (a poll, a time "
                           "write, a retry; default 12.0)"),
                Param(name="time_tolerance", kind="float", default=2.0, minimum=0.001, maximum=3600,
                      metavar="S", help="how far a time the master writes may be from the real time "
                                        "(default 2.0)"),
            ),
        ),
        SuiteEntry(
            name="dnp3-outstation", package="wireproof.conformance.dnp3_outstation", protocol="dnp3",
            profile="wireproof.conformance.dnp3_outstation.profile:load_profile",
            profile_reader="wireproof.conformance.dnp3_outstation.profile:read_profile",
            default_profile="wireproof.conformance.dnp3_outstation:default-profile.toml",
            description=("a DNP3 outstation (IEEE 1815-2012, Subset Level 2 test areas): link, transport, "
                         "polls, events, controls, unsolicited"),
            params=(
                Param(name="master", kind="int", minimum=0, maximum=0xFFEF, metavar="ADDR",
                      what="a master link address", clause="IEEE 1815 9.2.4.1.4",
                      help="the suite's link address as master (default: the profile's master_address, "
                      "else 1)"),
                Param(name="outstation", kind="int", minimum=0, maximum=0xFFEF, metavar="ADDR",
                      what="an outstation link address", clause="IEEE 1815 9.2.4.1.4",
                      help="the device's link address (default: the profile's outstation_address, else 10)"),
                Param(name="response_timeout", kind="float", minimum=0.001, maximum=60, metavar="S",
                      what="the response timeout", help="seconds within which an answer must come "
                      "(default: the profile's response_timeout)"),
                Param(name="select_timeout", kind="float", minimum=0.001, maximum=600, metavar="S",
                      what="the select timeout", help="how long the device keeps a SELECT armed "
                      "(default: the profile's select_timeout)"),
                Param(name="confirm_timeout", kind="float", minimum=0.001, maximum=600, metavar="S",
                      what="the confirm timeout", help="the device's application confirm timeout, after "
                      "which it repeats an unsolicited response (default: the profile's confirm_timeout)"),
                Param(name="event_trigger", kind="str", metavar="COMMAND",
                      help="a shell command after which the device has a point change (it makes events); "
                      "without it the event clauses are inconclusive (default: the reference outstation's "
                      "own step when it is the target)"),
                Param(name="attempts", kind="int", default=3, minimum=1, maximum=50, metavar="N",
                      what="the number of attempts", help="how often a clause whose outcome can vary "
                      "between runs probes (default 3)"),
            )),
    ),
    simulators=(
        SimulatorEntry(name="dnp3-master", run="wireproof.harness.simulators.dnp3_master:run",
                       add_arguments="wireproof.harness.simulators.dnp3_master:add_arguments",
                       description="the DNP3 reference master: startup, integrity and class polls, "
                                   "commands, time sync (TCP or UDP)"),
        SimulatorEntry(name="dnp3-outstation", run="wireproof.harness.simulators.dnp3_outstation:run",
                       add_arguments="wireproof.harness.simulators.dnp3_outstation:add_arguments",
                       description="the DNP3 reference outstation (TCP or UDP; points, events, controls, "
                                   "unsolicited responses from a TOML configuration)"),
    ),
    machines=(
        "wireproof.codecs.dnp3.master:Dnp3Master",
        "wireproof.codecs.dnp3.link_machine:SecondaryStation",
        "wireproof.codecs.dnp3.link_machine:PrimaryStation",
        "wireproof.codecs.dnp3.outstation:Outstation",
    ),
    benches=(
        BenchEntry(name="dnp3", run="wireproof.harness.bench.dnp3:command",
                   add_arguments="wireproof.harness.bench.dnp3:add_arguments",
                   description="DNP3 link+transport+application decode against dnp3py, Scapy and the "
                               "Construct oracle; replay against tshark"),
    ),
    fixtures="wireproof.fixtures:dnp3",
    # The decode path and the passive analyzer (mypyc, setup.py), the messages too (native classes).
    # mypyc types an except variable once per function (mypyc/mypyc#620): two handlers of different
    # exception types in one function need names of their own (the compiled analyzer once counted 9
    # link frames instead of 17 on dnp3-flowbuffer-overflow-assert.pcap through this).
    compiled=("wireproof.codecs.dnp3.messages", "wireproof.codecs.dnp3.link",
              "wireproof.codecs.dnp3.transport", "wireproof.codecs.dnp3.objects",
              "wireproof.codecs.dnp3.application", "wireproof.codecs.dnp3.codec",
              "wireproof.codecs.dnp3.free_format", "wireproof.codecs.dnp3.analyzer",
              "wireproof.codecs.dnp3.app_analyzer"),
)
