"""The TOY protocol's descriptor: the one thing wireproof's entry point names."""

from wireproof.protocol import (
    AnalyzerEntry,
    BenchEntry,
    CodecEntry,
    Param,
    ProtocolDescriptor,
    SimulatorEntry,
    SuiteEntry,
)

DESCRIPTOR = ProtocolDescriptor(
    name="toy",
    title="TOY, a protocol from a third-party package",
    codecs=(CodecEntry(name="toy", factory="toyproto.codec:ToyCodec", directions=("request", "response"),
                       description="TOY messages"),),
    analyzers=(AnalyzerEntry(name="toy", ports=(7777,), analyzer="toyproto.analyzer:ToyAnalyzer",
                             heuristic="toyproto.analyzer:looks_like_toy",
                             correlation="toyproto.codec:ToyCorrelation", description="TOY over TCP"),),
    suites=(SuiteEntry(name="toy-server", package="toyproto.suite", protocol="toy",
                       description="a TOY server",
                       params=(Param(name="greeting", help="what the clause sends", default="hello"),
                               Param(name="key", kind="int", default=7, minimum=0, maximum=255,
                                     alias="toy-key", what="a TOY key", help="the key the clause uses")),),),
    simulators=(SimulatorEntry(name="toy-server", run="toyproto.device:run",
                               add_arguments="toyproto.device:add_arguments",
                               description="the TOY reference server"),),
    benches=(BenchEntry(name="toy", run="toyproto.codec:bench", description="TOY codec speed"),),
    machines=("toyproto.codec:ToyLink",),
    transports=(("toy", "toyproto.device:SCHEME"),),
)
