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
