"""Sequence numbers, retries and the form of requests (IEEE 1815-2012 4.2.2.4, 4.2.2.4.5).

A master numbers its requests 0..15, each one more than the last (mod
16), matches a response to its request by that number (a response with
another is not its answer), and asks again when no answer comes.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.conformance.dnp3_master._checks import Timing, integrity_read, settle
from wireproof.conformance.dnp3_master._station import Behaviour, Event, Request, Station, log_words, summary
from wireproof.harness.plugin import inconclusive

Open = Callable[..., Station]


def _once(predicate: Callable[[Request], bool]) -> Callable[[Request], bool]:
    """``predicate`` for its first match only."""
    hit: list[Request] = []

    def check(request: Request) -> bool:
        if not hit and predicate(request):
            hit.append(request)
            return True
        return False

    return check


@pytest.mark.conformance(
    clause="DNP3-M-018", level="shall", title="Each new request's sequence number is the last one's plus 1, "
    "mod 16",
    cites="IEEE 1815-2012 4.2.2.4.5 (SEQ): a master increments the sequence number of each request it "
          "sends, modulo 16 (paraphrased)")
def test_request_sequence_increments(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=True, need_time=False))
    settle(station, timing)
    requests = [r for r in station.log if r.function != FunctionCode.CONFIRM]
    if len(requests) < 3:
        inconclusive(f"the master sent only {len(requests)} requests ({summary(requests)}); at least 3 are "
                     "needed to see the numbering")
    # Every request here was answered: none is a retry that could keep its number.
    bad = [(a, b) for a, b in itertools.pairwise(requests) if b.seq != (a.seq + 1) % 16]
    assert not bad, "; ".join(f"{b.function.name}#{b.seq} followed {a.function.name}#{a.seq} (expected "
                              f"#{(a.seq + 1) % 16})" for a, b in bad) + f" (requests: {summary(requests)})"


@pytest.mark.conformance(
    clause="DNP3-M-019", level="shall", title="The master ignores a response whose sequence number is not "
    "its request's",
    cites="IEEE 1815-2012 4.2.2.4.5 (SEQ): a response carries the sequence number of the request it answers; "
          "a master discards a response that does not match its outstanding request (paraphrased)")
def test_ignores_wrong_sequence(open_station: Open, timing: Timing) -> None:
    wrong = _once(lambda r: r.reads_class(0))
    station = open_station(Behaviour(restart=False, events=[Event(cls=1)], wrong_seq=wrong))
    station.serve(lambda s: integrity_read(s) is not None, timing.poll)
    read = integrity_read(station)
    if read is None:
        inconclusive(f"the master did not read class 0 within {timing.poll:g} s (requests: "
                     f"{log_words(station)})")
    bad_seq = (read.seq + 1) % 16
    k = station.log.index(read)

    def decided(s: Station) -> bool:
        return any(r.reads_class(0) or (r.function == FunctionCode.CONFIRM and r.seq == bad_seq)
                   for r in s.log[k + 1:])

    station.serve(decided, timing.response + timing.poll)
    later = station.log[k + 1:]
    accepted = [r for r in later if r.function == FunctionCode.CONFIRM and r.seq == bad_seq]
    assert not accepted, (f"READ#{read.seq} was answered with sequence {bad_seq} (CON set) and the master "
                          f"confirmed it ({summary(accepted)}): it took a response that was not its answer")
    again = [r for r in later if r.reads_class(0)]
    if not again:
        others = [r for r in later if r.function != FunctionCode.CONFIRM]
        assert not others, (f"READ#{read.seq} was answered with sequence {bad_seq}; the master went on with "
                            f"{summary(others)} without asking for class 0 again: it took the response as "
                            "its answer")
        # Neither confirmed (CON was set: a master that took it would have) nor followed by the master's
        # next request: it discarded the response and, asking no more, gave the request up.
        station.evidence.note(f"READ#{read.seq} was answered with sequence {bad_seq} (CON set); the master "
                              "neither confirmed it nor went on: it discarded it"
                              + (" and closed the connection" if station.closed else ""))


@pytest.mark.conformance(
    clause="DNP3-M-020", level="should", title="The master asks again when a response does not come",
    cites="IEEE 1815-2012 4.2.2.4.5 and 4.4.1: a master that gets no response within its response timeout "
          "abandons the request and issues it again (as a new request) (paraphrased)")
def test_reissues_after_response_timeout(open_station: Open, timing: Timing) -> None:
    withhold = _once(lambda r: r.reads_class(0))
    station = open_station(Behaviour(restart=False, withhold=withhold))
    station.serve(lambda s: integrity_read(s) is not None, timing.poll)
    read = integrity_read(station)
    if read is None:
        inconclusive(f"the master did not read class 0 within {timing.poll:g} s (requests: "
                     f"{log_words(station)})")
    k = station.log.index(read)
    wait = timing.response + timing.poll
    station.serve(lambda s: any(r.reads_class(0) for r in s.log[k + 1:]), wait)
    again = next((r for r in station.log[k + 1:] if r.reads_class(0)), None)
    assert again is not None, (f"READ#{read.seq} of class 0 was left unanswered; the master did not ask "
                               "again "
                               f"within {wait:g} s (requests after it: {summary(station.log[k + 1:])})")
    station.evidence.note(f"READ#{again.seq} re-issued {again.at - read.at:.2f} s after READ#{read.seq}")


@pytest.mark.conformance(
    clause="DNP3-M-021", level="shall",
    title="Requests are single fragments: FIR and FIN set, CON clear; UNS "
    "only in a confirm of an unsolicited response",
    cites="IEEE 1815-2012 4.2.2.4.1-4.2.2.4.4: a master's request is one fragment (FIR and FIN), never asks "
          "for a confirm (CON), and sets UNS only when confirming an unsolicited response (paraphrased)")
def test_request_control_octet(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=True, need_time=False))
    settle(station, timing)
    bad = [r for r in station.log
           if not (r.fragment.fir and r.fragment.fin) or r.fragment.con
           or (r.fragment.uns and r.function != FunctionCode.CONFIRM)]
    assert not bad, ", ".join(f"{r.function.name}#{r.seq} control 0x{r.octets[0]:02x}" for r in bad)


@pytest.mark.conformance(
    clause="DNP3-M-029", level="shall", title="The master ignores a response from another link address",
    cites="IEEE 1815-2012 9.2.4.1.4 (source address): a frame's source is the station that sent it; a "
          "master takes its answers from the outstation it addressed only (paraphrased)")
def test_ignores_other_source(open_station: Open, timing: Timing) -> None:
    other = _once(lambda r: r.reads_class(0))
    station = open_station(Behaviour(restart=False, events=[Event(cls=1)], wrong_source=other))
    station.serve(lambda s: integrity_read(s) is not None, timing.poll)
    read = integrity_read(station)
    if read is None:
        inconclusive(f"the master did not read class 0 within {timing.poll:g} s (requests: "
                     f"{log_words(station)})")
    k = station.log.index(read)

    def decided(s: Station) -> bool:
        return any(r.reads_class(0) or (r.function == FunctionCode.CONFIRM and r.seq == read.seq)
                   for r in s.log[k + 1:])

    station.serve(decided, timing.response + timing.poll)
    later = station.log[k + 1:]
    accepted = [r for r in later if r.function == FunctionCode.CONFIRM and r.seq == read.seq]
    assert not accepted, (f"READ#{read.seq} was answered from address {station.address + 1} (CON set), not "
                          f"{station.address}, and the master confirmed it: it took another station's answer")
    if not any(r.reads_class(0) for r in later):
        others = [r for r in later if r.function != FunctionCode.CONFIRM]
        assert not others, (f"READ#{read.seq} was answered from address {station.address + 1}; the master "
                            "went "
                            f"on with {summary(others)} without asking again: it took the answer")
