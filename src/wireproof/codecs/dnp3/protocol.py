"""The DNP3 protocol descriptor (IEEE 1815-2012): the codecs, by reference.

Registered in pyproject.toml's ``wireproof.protocols`` entry-point group
(:mod:`wireproof.protocol` explains the contract). Suites, simulators
and benches come with later work; this module imports nothing but
the descriptor types.
"""

from __future__ import annotations

from wireproof.protocol import AnalyzerEntry, BenchEntry, CodecEntry, ProtocolDescriptor

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
            description="DNP3 link frames over TCP and UDP (IEEE 1815 9.2, 8.2; Annex E port 20000)"),
    ),
    benches=(
        BenchEntry(name="dnp3", run="wireproof.harness.bench.dnp3:command",
                   add_arguments="wireproof.harness.bench.dnp3:add_arguments",
                   description="DNP3 link+transport+application decode against dnp3py, Scapy and the "
                               "Construct oracle; replay against tshark"),
    ),
    fixtures="wireproof.fixtures:dnp3",
    compiled=(),
)
