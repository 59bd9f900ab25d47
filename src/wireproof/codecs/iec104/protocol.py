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
        # codec entries
    ),
    analyzers=(
        # analyzer entries
    ),
    suites=(
        # suite entries
    ),
    simulators=(
        # simulator entries
    ),
    machines=(
        # machine classes
    ),
    benches=(
        # bench entries
    ),
    compiled=(
        # compiled modules
    ),
)
