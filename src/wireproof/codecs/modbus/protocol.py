"""The Modbus protocol descriptor: everything the neutral layers need to know, by reference.

Registered in pyproject.toml's ``wireproof.protocols`` entry-point group
(:mod:`wireproof.protocol` explains the contract). This module imports
nothing but the descriptor types: the parts it names load when used.
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

_DIRECTIONS = ("request", "response")

DESCRIPTOR = ProtocolDescriptor(
    name="modbus",
    title="Modbus (MODBUS Application Protocol V1.1b3; TCP, RTU and ASCII)",
    codecs=(
        CodecEntry(name="modbus-tcp", factory="wireproof.codecs.modbus:tcp_codec", directions=_DIRECTIONS,
                   description="Modbus TCP: MBAP header + PDU (MB-TCP 3.1.3)"),
        CodecEntry(name="modbus-rtu", factory="wireproof.codecs.modbus:rtu_codec", directions=_DIRECTIONS,
                   description="Modbus RTU: address, PDU, CRC-16 (MB-SL 2.5.1)"),
        CodecEntry(name="modbus-ascii", factory="wireproof.codecs.modbus:ascii_codec", directions=_DIRECTIONS,
                   description="Modbus ASCII: ':' hex(address, PDU, LRC) CR LF (MB-SL 2.5.2)"),
    ),
    analyzers=(
        AnalyzerEntry(
            name="modbus-tcp", ports=(502,), transports=("tcp",),
            analyzer="wireproof.codecs.modbus.analyzer:ModbusTcpAnalyzer",
            heuristic="wireproof.codecs.modbus.analyzer:looks_like_modbus_tcp",
            correlation="wireproof.codecs.modbus.correlation:TcpCorrelation",
            traffic="wireproof.harness.bench.modbus_traffic:TRAFFIC",
            description="Modbus/TCP (MB-TCP)"),
    ),
    suites=(
        SuiteEntry(
            name="modbus-server", package="wireproof.conformance.modbus_server", protocol="modbus-tcp",
            profile="wireproof.conformance.modbus_server.profile:load_profile",
            default_profile="wireproof.conformance.modbus_server:default-profile.toml",
            description=("a Modbus TCP server (MB-AP, MB-TCP): function codes, bounds, exceptions, MBAP, "
                         "framing"),
            params=(
                Param(name="unit", kind="int", default=1, minimum=0, maximum=255, alias="unit",
                      what="a unit identifier", clause="MB-TCP 4.4.1.1", metavar="N",
                      help="Modbus unit identifier to address (default: the profile's unit_id, else 1)"),
                Param(name="response_timeout", kind="float", minimum=0.001, maximum=60, metavar="S",
                      what="the response timeout", help="seconds within which an answer must come "
                      "(default: the profile's response_timeout)"),
                Param(name="silence", kind="float", minimum=0.001, maximum=60, metavar="S",
                      what="the silence window", help="how long a clause that expects no answer listens "
                      "(default: the response timeout)"),
                Param(name="attempts", kind="int", default=5, minimum=1, maximum=50, metavar="N",
                      what="the number of attempts", help="how often a clause whose outcome can vary "
                      "between runs (segmentation, pipelining) probes, each on a new connection (default 5)"),
            )),
    ),
    simulators=(
        SimulatorEntry(name="modbus-server", run="wireproof.harness.simulators.modbus_server:run",
                       add_arguments="wireproof.harness.simulators.modbus_server:add_arguments",
                       description="the Modbus reference server (TCP, RTU/ASCII over TCP, serial line)"),
    ),
    benches=(
        BenchEntry(name="modbus", run="wireproof.harness.bench.modbus:command",
                   description="the Modbus TCP codec against pymodbus and Scapy (decode, encode)"),
    ),
    machines=("wireproof.codecs.modbus.client:SerialMaster", "wireproof.codecs.modbus.server:ModbusServer",
              "wireproof.codecs.modbus.server:TcpConnection", "wireproof.codecs.modbus.server:SerialLine"),
    fixtures="wireproof.fixtures:modbus",
    compiled=("wireproof.codecs.modbus.adu", "wireproof.codecs.modbus.pdu",
              "wireproof.codecs.modbus.analyzer", "wireproof.codecs.modbus.rtuscan"),
)
