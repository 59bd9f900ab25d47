"""wireproof: protocol conformance test harness and codec library."""

from wireproof.errors import (
    DecodeError,
    EncodeError,
    HarnessError,
    ProtocolViolation,
    WireproofError,
)

__all__ = ["DecodeError", "EncodeError", "HarnessError", "ProtocolViolation", "WireproofError", "__version__"]

__version__ = "0.1.0"
