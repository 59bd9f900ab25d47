"""What several ``dnp3-master`` clauses share: the suite's timing and the start-up phase.

A master's start-up (IEEE 1815-2012: disable unsolicited, clear the restart
IIN, integrity poll, time sync, enable unsolicited — each as configured) is
served by the policy until the master has read class 0 and then been quiet
for :data:`QUIET` s: the state in which a clause sends what it tests the
master with (an unsolicited response, a new IIN bit). Waiting is on the
connection, with a deadline; nothing sleeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wireproof.conformance.dnp3_master._station import Request, Station, log_words
from wireproof.harness.plugin import inconclusive

__all__ = ["QUIET", "Timing", "heard", "integrity_read", "settle", "start_up"]

QUIET = 1.0  # seconds without a request after which the master is taken to be idle


@dataclass(frozen=True, slots=True, kw_only=True)
class Timing:
    """The suite's waits: ``response`` for a confirm or an answer, ``poll`` for what a clause waits for,
    ``tolerance`` for a time the master writes."""

    response: float
    poll: float
    tolerance: float

    @classmethod
    def of(cls, params: dict[str, Any]) -> Timing:
        return cls(response=params["response_timeout"], poll=params["poll_timeout"],
                   tolerance=params["time_tolerance"])


def integrity_read(station: Station) -> Request | None:
    """The master's first READ of class 0 (g60v1), or None."""
    return next((r for r in station.log if r.reads_class(0)), None)


def start_up(station: Station, timing: Timing) -> Request:
    """Serve the master's start-up until it reads class 0; ``inconclusive`` if it never does (clause
    DNP3-M-001 judges that): the clause's rule cannot be tested without it."""
    if not station.serve(lambda s: integrity_read(s) is not None, timing.poll):
        inconclusive(f"the master did not read class 0 within {timing.poll:g} s of connecting "
                     f"(requests: {log_words(station)}); the rule could not be tested")
    read = integrity_read(station)
    assert read is not None
    return read


def settle(station: Station, timing: Timing, *, connected: bool = False) -> None:
    """Serve the start-up, then until the master is quiet for :data:`QUIET` s (or ``timing.poll`` passes).

    ``connected``: the clause goes on to send the master something, so a master that closed the
    connection by then leaves the clause ``inconclusive`` (its session ended: a ``--command`` whose
    script ran out; give it a step that waits).
    """
    start_up(station, timing)
    station.serve_quiet(QUIET, timing.poll)
    if connected and station.closed:
        inconclusive(f"the master closed the connection after its start-up (requests: {log_words(station)}), "
                     "before the clause could send it what it tests; keep it connected longer (a --command "
                     "script that waits)")


def heard(station: Station, timing: Timing, what: str) -> None:
    """``inconclusive`` when the station never answered anything: the master never saw ``what`` (the IIN
    bit, the flag the clause tests it with), so it cannot have broken the rule (with ``--bind``, a master
    that does not start over on a new connection asks nothing)."""
    if not station.sent:
        inconclusive(f"the master asked nothing within {timing.poll:g} s ({log_words(station)}), so it never "
                     f"saw {what}")
