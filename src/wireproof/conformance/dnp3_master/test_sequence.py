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
    _judge_foreign_answer(station, timing, read, f"with sequence {bad_seq}")


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
    _judge_foreign_answer(station, timing, read, f"from address {station.address + 1}")


def _judge_foreign_answer(station: Station, timing: Timing, read: Request, what: str) -> None:
    """Whether the master took the answer just sent, which it had to discard (``what`` says how it
    was wrong).

    The answer carried a class 1 event with CON set, so a master that took it would confirm it (a
    CONFIRM with its sequence number, before any later response with that number went out): that is
    a ``fail``. The event stays pending, so the master's next read of class 1 gets it again in a
    proper response with CON: a master that confirms that one, but not the foreign one, discarded it
    (``pass``); so did a master that asked nothing more (it gave the request up). A master that went
    on without confirming anything leaves it undecided.
    """
    k = station.log.index(read)
    foreign_at = len(station.sent) - 1
    foreign = station.sent[foreign_at][1]

    def taken(r: Request) -> bool:
        return r.function == FunctionCode.CONFIRM and r.seq == foreign.seq and not any(
            t < r.at and resp.seq == foreign.seq for t, resp in station.sent[foreign_at + 1:])

    def proper_confirm(s: Station) -> Request | None:
        seqs = {r.seq for _, r in s.sent[foreign_at + 1:] if r.con and not r.uns}
        return next((r for r in s.log[k + 1:] if r.function == FunctionCode.CONFIRM and r.seq in seqs
                     and not taken(r)), None)

    station.serve(lambda s: any(taken(r) for r in s.log[k + 1:]) or proper_confirm(s) is not None,
                  timing.response + timing.poll)
    later = station.log[k + 1:]
    accepted = [r for r in later if taken(r)]
    assert not accepted, (f"READ#{read.seq} was answered {what} (CON set) and the master confirmed it "
                          f"({summary(accepted)}): it took a response that was not its answer")
    confirm = proper_confirm(station)
    if confirm is not None:
        station.evidence.note(f"the master confirmed a proper response (CONFIRM#{confirm.seq}) but not the "
                              f"one answered {what}: it discarded that one")
        return
    others = [r for r in later if r.function != FunctionCode.CONFIRM]
    if not others:
        station.evidence.note(f"READ#{read.seq} was answered {what} (CON set); the master neither confirmed "
                              "it nor went on: it discarded it"
                              + (" and closed the connection" if station.closed else ""))
        return
    inconclusive(f"READ#{read.seq} was answered {what} (CON set); the master did not confirm it, but went on "
                 f"with {summary(others)} and confirmed no later response either: whether it took the answer "
                 "cannot be told")
