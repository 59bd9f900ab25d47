"""What several ``iec104-client`` clauses share: the waits, and the start of a session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wireproof.codecs.iec104.constants import UFunction
from wireproof.conformance.iec104_client._station import Station, log_words
from wireproof.harness.plugin import inconclusive

__all__ = ["QUIET", "Timing", "started", "settled"]

QUIET = 1.0  # seconds without an APDU after which the client is taken to be idle


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """The suite's waits and the client's configured APCI parameters."""

    response: float
    t1: float
    t2: float
    t3: float
    k: int
    w: int
    tolerance: float
    time_tolerance: float

    @classmethod
    def of(cls, p: dict[str, Any]) -> Timing:
        return cls(response=p["response_timeout"], t1=p["t1"], t2=p["t2"], t3=p["t3"], k=p["k"], w=p["w"],
                   tolerance=p["tolerance"], time_tolerance=p["time_tolerance"])


def started(station: Station, timing: Timing) -> None:
    """Serve until the client has started data transfer (STARTDT con sent); ``inconclusive`` if it never
    does (IEC104-C-001 judges that)."""
    if not station.serve(lambda s: s.data_started, timing.response + 5):
        inconclusive(f"the client did not start data transfer (STARTDT act) within {timing.response + 5:g} s "
                     f"(it sent: {log_words(station)}); the rule could not be tested")


def settled(station: Station, timing: Timing, *, connected: bool = True) -> None:
    """Serve the start-up until the client has been quiet for :data:`QUIET` s; ``connected``: the clause
    goes on to send the client something, so a client that closed by then leaves it inconclusive."""
    started(station, timing)
    station.serve_quiet(QUIET, timing.response + 15)
    if connected and station.closed:
        inconclusive(f"the client closed the connection before the clause could test it (it sent: "
                     f"{log_words(station)})")


def stopdt_sent(station: Station) -> bool:
    return bool(station.u_frames(UFunction.STOPDT_ACT))
