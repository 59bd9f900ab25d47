"""The IEC 60870-5-104 protocol descriptor: codecs, analyzer, suites, simulators, benches, by reference.

Registered in pyproject.toml's ``wireproof.protocols`` entry-point group
(:mod:`wireproof.protocol` explains the contract); this module imports
nothing but the descriptor types.
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

_ = (AnalyzerEntry, BenchEntry, CodecEntry, Param, SimulatorEntry, SuiteEntry)

DESCRIPTOR = ProtocolDescriptor(
    name="iec104",
    title="IEC 60870-5-104 (APCI over TCP; ASDUs of IEC 60870-5-101)",
    codecs=(
        CodecEntry(name="iec104", factory="wireproof.codecs.iec104:apdu_codec",
                   description="IEC 60870-5-104 APDU: I, S and U format, the ASDU and its information "
                               "objects (104 clause 5; 101 7.1-7.3)"),
        CodecEntry(name="iec104-asdu", factory="wireproof.codecs.iec104:asdu_codec",
                   description="IEC 60870-5-101/104 ASDU alone, 104 field sizes (101 7.1-7.3)"),
        # codec entries
    ),
    analyzers=(
        AnalyzerEntry(
            name="iec104", ports=(2404,), transports=("tcp",),
            analyzer="wireproof.codecs.iec104.analyzer:Iec104Analyzer",
            heuristic="wireproof.codecs.iec104.analyzer:looks_like_iec104",
            traffic="wireproof.harness.bench.iec104_traffic:TRAFFIC",
            description="IEC 104 APDUs over TCP (104 clause 5; port 2404, clause 10): numbering, "
                        "acknowledgement, k, t1-t3, STARTDT/STOPDT, negative confirms"),
        # analyzer entries
    ),
    suites=(
        SuiteEntry(
            name="iec104-server", package="wireproof.conformance.iec104_server", protocol="iec104",
            profile="wireproof.conformance.iec104_server.profile:load_profile",
            default_profile="wireproof.conformance.iec104_server:default-profile.toml",
            description=("an IEC 60870-5-104 controlled station (TS 60870-5-604 topics): APCI framing, "
                         "STARTDT/STOPDT/TESTFR, sequence numbers, k/w, t1/t2/t3, interrogation, clock, "
                         "commands, negative confirms"),
            params=(
                Param(name="common_address", kind="int", minimum=1, maximum=65534, metavar="CA",
                      what="a common address", clause="IEC 60870-5-101 7.2.4",
                      help="the station's common address of the ASDU (default: the profile's)"),
                Param(name="response_timeout", kind="float", minimum=0.01, maximum=60, metavar="S",
                      what="the response timeout", help="seconds within which an answer (a con, a close) "
                      "must come (default: the profile's)"),
                Param(name="k", kind="int", minimum=1, maximum=32767, metavar="N", what="k",
                      clause="IEC 60870-5-104 9", help="the station's k (default: the profile's apci.k)"),
                Param(name="w", kind="int", minimum=1, maximum=32767, metavar="N", what="w",
                      clause="IEC 60870-5-104 9", help="the station's w (default: the profile's apci.w)"),
                Param(name="t1", kind="float", minimum=0.1, maximum=600, metavar="S", what="t1",
                      help="the station's t1; the t1 clauses wait that long (default: the profile's)"),
                Param(name="t2", kind="float", minimum=0.1, maximum=600, metavar="S", what="t2",
                      help="the station's t2 (default: the profile's)"),
                Param(name="t3", kind="float", minimum=0.1, maximum=600, metavar="S", what="t3",
                      help="the station's t3; the t3 clauses wait that long (default: the profile's)"),
                Param(name="tolerance", kind="float", default=1.0, minimum=0.0, maximum=60, metavar="S",
                      what="the timer tolerance", help="how late (or early) a station's timer may act "
                      "(default 1.0)"),
                Param(name="max_wait", kind="float", default=60.0, minimum=1, maximum=3600, metavar="S",
                      what="the longest wait", help="a clause that would wait longer for a timer is "
                      "inconclusive (default 60)"),
                Param(name="attempts", kind="int", default=3, minimum=1, maximum=50, metavar="N",
                      what="the number of attempts", help="how often a clause whose outcome can vary "
                      "probes (default 3)"),
                Param(name="change_trigger", kind="str", metavar="COMMAND",
                      help="a shell command after which the station has a changed monitored point to "
                      "report spontaneously (the profile's points.spontaneous); without it the "
                      "spontaneous clauses are inconclusive (default: the reference server's own change "
                      "when it is the target)"),
            )),
        SuiteEntry(
            name="iec104-client", package="wireproof.conformance.iec104_client", protocol="iec104",
            description="an IEC 60870-5-104 controlling station (TS 60870-5-604 topics): wireproof plays the "
                        "controlled station and judges STARTDT, numbering, acknowledgement, test frames, "
                        "t1/t3, request forms, select/execute, negative confirms",
            device_role="client",
            # The reference client (wireproof.harness.simulators.iec104_client), its timers short so the
            # timer clauses run in seconds (the suite takes them as t1 4, t2 2, t3 4 then).
            default_command="{python} -m wireproof simulate iec104-client --target {url} --clock-sync "
                            "--counter-interrogate --command C_SC_NA_1:5001:1:select --duration 6 "
                            "--t1 4 --t2 2 --t3 4 --timeout 3",
            params=(
                Param(name="common_address", kind="int", default=1, minimum=0, maximum=65534,
                      help="the common address wireproof's station answers as (default 1)"),
                Param(name="connect_timeout", kind="float", default=20.0, minimum=0.1, maximum=600,
                      metavar="S", help="how long to wait for the client to connect, each clause "
                                        "(default 20)"),
                Param(name="response_timeout", kind="float", default=5.0, minimum=0.05, maximum=120,
                      metavar="S", help="how long the client gets to start and to answer (default 5)"),
                Param(name="t1", kind="float", default=15.0, minimum=0.1, maximum=255, metavar="S",
                      help="the client's t1 (default 15; 104 clause 9)"),
                Param(name="t2", kind="float", default=10.0, minimum=0.1, maximum=255, metavar="S",
                      help="the client's t2 (default 10)"),
                Param(name="t3", kind="float", default=20.0, minimum=0.1, maximum=172800, metavar="S",
                      help="the client's t3 (default 20)"),
                Param(name="k", kind="int", default=12, minimum=1, maximum=32767,
                      help="the client's k (default 12)"),
                Param(name="w", kind="int", default=8, minimum=1, maximum=32767,
                      help="the client's w (default 8)"),
                Param(name="tolerance", kind="float", default=1.0, minimum=0.0, maximum=60, metavar="S",
                      help="how far a timer may be off (default 1)"),
                Param(name="time_tolerance", kind="float", default=5.0, minimum=0.001, maximum=86400,
                      metavar="S", help="how far a clock synchronisation may be from the real time "
                                        "(default 5)"),
            ),
        ),
        # suite entries
    ),
    simulators=(
        SimulatorEntry(name="iec104-server", run="wireproof.harness.simulators.iec104_server:run",
                       add_arguments="wireproof.harness.simulators.iec104_server:add_arguments",
                       description="the IEC 104 reference controlled station: points and commands from TOML, "
                                   "interrogation, counters, clock sync, select/execute, spontaneous data"),
        SimulatorEntry(name="iec104-client", run="wireproof.harness.simulators.iec104_client:run",
                       add_arguments="wireproof.harness.simulators.iec104_client:add_arguments",
                       description="the IEC 104 reference controlling station: STARTDT, interrogations, "
                                   "clock sync, reads, commands with or without select, STOPDT"),
        # simulator entries
    ),
    machines=(
        "wireproof.codecs.iec104.apci_machine:ControlledApci",
        "wireproof.codecs.iec104.apci_machine:ControllingApci",
        "wireproof.codecs.iec104.controller:Controller",
        "wireproof.codecs.iec104.station:CommandPoint",
        # machine classes
    ),
    benches=(
        BenchEntry(name="iec104", run="wireproof.harness.bench.iec104:command",
                   add_arguments="wireproof.harness.bench.iec104:add_arguments",
                   description="IEC 104 APDU decode and encode against Scapy's IEC 104 layer"),
        # bench entries
    ),
    fixtures="wireproof.fixtures:iec104",
    compiled=(
        "wireproof.codecs.iec104.codec", "wireproof.codecs.iec104.objects",
        "wireproof.codecs.iec104.analyzer",
        # compiled modules
    ),
)
