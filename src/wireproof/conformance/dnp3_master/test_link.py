"""The master's link and transport layers (IEEE 1815-2012 9.2, 8.2).

The station answers the link services a master uses (RESET LINK STATES,
TEST LINK STATES, REQUEST LINK STATUS, CONFIRMED USER DATA) as a
secondary station; these clauses judge the frames the master sent during
its start-up.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import PrimaryFunction
from wireproof.conformance.dnp3_master._checks import Timing, settle
from wireproof.conformance.dnp3_master._station import Behaviour, Station, describe
from wireproof.harness.plugin import inconclusive, not_applicable

Open = Callable[..., Station]


def _session(open_station: Open, timing: Timing) -> Station:
    station = open_station(Behaviour(restart=True))
    settle(station, timing)
    return station


@pytest.mark.conformance(
    clause="DNP3-M-022", level="shall", title="The master's frames have DIR set and carry its address and "
    "the outstation's",
    cites="IEEE 1815-2012 9.2.4.1.3.1 (DIR: 1 in frames from the master) and 9.2.4.1.4 (destination, "
          "source addresses) (paraphrased)")
def test_frames_direction_and_addresses(open_station: Open, timing: Timing) -> None:
    station = _session(open_station, timing)
    if not station.frames_in:
        inconclusive("the master sent no frame")
    bad = [f for f in station.frames_in
           if not f.dir or f.destination != station.address or f.source != station.master]
    assert not bad, (f"{len(bad)} of {len(station.frames_in)} frames do not go from master {station.master} "
                     "to "
                     f"outstation {station.address} with DIR set: " + "; ".join(describe(f) for f in bad[:3]))


@pytest.mark.conformance(
    clause="DNP3-M-023", level="shall", title="The master's transport segments count on by 1 (mod 64), FIR "
    "starting each fragment",
    cites="IEEE 1815-2012 8.2.1, 8.2.2: each segment's sequence number is the previous one's plus 1 "
          "modulo 64; "
          "the first segment of a fragment has FIR, the last FIN (paraphrased)")
def test_transport_sequence(open_station: Open, timing: Timing) -> None:
    station = _session(open_station, timing)
    heads = [f.transport for f in station.frames_in if f.transport is not None]
    if not heads:
        inconclusive("the master sent no user data")
    bad = [(a.seq, b.seq) for a, b in itertools.pairwise(heads) if b.seq != (a.seq + 1) % 64]
    first = [h for h in heads[:1] if not h.fir]
    assert not bad and not first, (
        f"transport sequence numbers {[h.seq for h in heads]}: "
        + ("; ".join(f"{b} after {a}" for a, b in bad) or "the first segment lacks FIR"))


@pytest.mark.conformance(
    clause="DNP3-M-024", level="shall", title="A master that resets the link goes on once the outstation "
    "acknowledges",
    cites="IEEE 1815-2012 9.2.4.1.3.6, Table 9-1 (RESET LINK STATES answered with ACK; then CONFIRMED "
          "USER DATA with FCV and "
          "FCB 1 first) (paraphrased)")
def test_link_reset(open_station: Open, timing: Timing) -> None:
    station = _session(open_station, timing)
    resets = [k for k, f in enumerate(station.frames_in)
              if f.prm and f.function == PrimaryFunction.RESET_LINK_STATES]
    if not resets:
        not_applicable("the master did not use RESET LINK STATES (it sends UNCONFIRMED USER DATA: "
                       "no link reset is needed)")
    later = [f for f in station.frames_in[resets[0] + 1:] if f.transport is not None]
    assert later, "after the outstation acknowledged RESET LINK STATES the master sent no user data"


@pytest.mark.conformance(
    clause="DNP3-M-025", level="shall", title="CONFIRMED USER DATA has FCV set and FCB alternating, 1 after "
    "a link reset",
    cites="IEEE 1815-2012 9.2.4.1.3.3, 9.2.4.1.3.4 (FCB, FCV): the frame count bit alternates with each new "
          "confirmed frame, starting at 1 after RESET LINK STATES (paraphrased)")
def test_confirmed_user_data_fcb(open_station: Open, timing: Timing) -> None:
    station = _session(open_station, timing)
    frames = [f for f in station.frames_in if f.prm and f.function in
              (PrimaryFunction.CONFIRMED_USER_DATA, PrimaryFunction.RESET_LINK_STATES)]
    if not any(f.function == PrimaryFunction.CONFIRMED_USER_DATA for f in frames):
        not_applicable("the master sent no CONFIRMED USER DATA (it uses UNCONFIRMED USER DATA)")
    expected: bool | None = None
    for f in frames:
        if f.function == PrimaryFunction.RESET_LINK_STATES:
            expected = True
            continue
        assert f.fcv, f"CONFIRMED USER DATA without FCV: {describe(f)}"
        if expected is not None:
            assert f.fcb == expected, f"FCB {int(f.fcb)}, expected {int(expected)}: {describe(f)}"
        expected = not f.fcb
