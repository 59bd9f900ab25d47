"""Unsolicited responses: confirmed with UNS and their own sequence; IIN bits in them acted on
(IEEE 1815-2012 4.2.2.4.4, 4.2.2.7).

The station sends an unsolicited response (function 130, UNS and CON set)
once the master's start-up is over and it is quiet, with a sequence number
that differs from the solicited ones, so a confirm with the wrong one shows.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.conformance.dnp3_master._checks import Timing, settle
from wireproof.conformance.dnp3_master._station import Behaviour, Event, Request, Station, log_words, summary
from wireproof.harness.plugin import inconclusive

Open = Callable[..., Station]


def _fresh_seq(station: Station) -> int:
    """A sequence number no recent solicited response used (so a confirm with the wrong one shows)."""
    used = {r.seq for _, r in station.sent[-4:]}
    return next(s for s in (9, 10, 11, 12, 13) if s not in used)


@pytest.mark.conformance(
    clause="DNP3-M-015", level="shall", title="The master confirms an unsolicited response with UNS set and "
    "the same sequence number",
    cites="IEEE 1815-2012 4.2.2.4.4 (UNS) and 4.6: a confirm of an unsolicited response has UNS set and the "
          "unsolicited response's sequence number (paraphrased)")
def test_confirms_unsolicited(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    settle(station, timing, connected=True)
    mark = len(station.log)
    sent = station.send_unsolicited([Event(cls=1, index=1)], seq=_fresh_seq(station))
    station.wait_confirm(sent.seq, uns=True, timeout=timing.response)
    later = station.log[mark:]
    confirms = [r for r in later if r.function == FunctionCode.CONFIRM]
    assert any(c.seq == sent.seq and c.fragment.uns for c in confirms), (
        f"unsolicited response #{sent.seq} (a class 1 event, CON set) was confirmed by "
        f"{summary(confirms) if confirms else 'nothing'} within {timing.response:g} s; a CONFIRM with UNS "
        "and "
        f"sequence {sent.seq} was due (requests after it: {summary(later)})")


@pytest.mark.conformance(
    clause="DNP3-M-016", level="should", title="The master confirms the outstation's initial null "
    "unsolicited response",
    cites="IEEE 1815-2012 4.2.2.4.4 (UNS) and 4.6: after a restart an outstation sends a null "
          "unsolicited response, which the master confirms before unsolicited reporting goes on "
          "(paraphrased)")
def test_confirms_initial_null_unsolicited(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=True))
    sent = station.send_unsolicited(seq=0)
    station.wait_confirm(sent.seq, uns=True, timeout=max(timing.response, timing.poll))
    confirms = station.requests(FunctionCode.CONFIRM)
    assert any(c.seq == sent.seq and c.fragment.uns for c in confirms), (
        f"the initial null unsolicited response #{sent.seq} (IIN1.7, CON set) got "
        f"{summary(confirms) if confirms else 'no CONFIRM'}; a CONFIRM with UNS and sequence {sent.seq} "
        "was due "
        f"(requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-017", level="should", title="The master reads the event classes the outstation reports "
    "with IIN1.1-1.3",
    cites="IEEE 1815-2012 4.2.2.7.1 (IIN1.1, IIN1.2, IIN1.3: class 1, 2, 3 events available): the master "
          "collects the events an outstation reports as available (paraphrased)")
def test_event_poll_on_class_iin(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    settle(station, timing, connected=True)
    station.behaviour.events.append(Event(cls=1, index=2))
    mark = len(station.log)
    sent = station.send_unsolicited(seq=_fresh_seq(station))  # null: only its IIN1.1 says events are there
    station.serve(lambda s: any(r.reads_class(1) for r in s.log[mark:]), timing.poll)
    later = station.log[mark:]
    assert any(r.reads_class(1) for r in later), (
        f"a null unsolicited response #{sent.seq} reported IIN1.1 (class 1 events); the master did not read "
        f"class 1 within {timing.poll:g} s (requests after it: {summary(later)})")


@pytest.mark.conformance(
    clause="DNP3-M-027", level="shall", title="The master confirms a repeated unsolicited response again",
    cites="IEEE 1815-2012 4.2.2.4.4 (UNS) and 4.2.2.4.3 (CON): an outstation whose unsolicited response is "
          "not confirmed sends it again with the same sequence number; each one with CON set is confirmed "
          "(paraphrased)")
def test_confirms_repeated_unsolicited(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    settle(station, timing, connected=True)
    seq = _fresh_seq(station)
    event = [Event(cls=1, index=3)]
    first = station.send_unsolicited(event, seq=seq)
    if not station.wait_confirm(first.seq, uns=True, timeout=timing.response):
        inconclusive(f"the first unsolicited response #{seq} was not confirmed (DNP3-M-015 judges that)")
    mark = len(station.confirms)
    station.send_unsolicited(event, seq=seq)  # as if the confirm had been lost
    station.wait_confirm(seq, uns=True, timeout=timing.response)
    again = [c for c in station.confirms[mark:] if c.seq == seq and c.fragment.uns]
    assert again, (f"the unsolicited response #{seq}, sent again with the same sequence number, got no "
                   f"CONFIRM within {timing.response:g} s (requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-028", level="should", title="The master performs an integrity poll on event buffer "
    "overflow (IIN2.3)",
    cites="IEEE 1815-2012 4.2.2.7.2 (IIN2.3 EVENT_BUFFER_OVERFLOW): events were lost, so the master's view "
          "is only made whole again by an integrity poll (paraphrased)")
def test_integrity_on_overflow(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    settle(station, timing, connected=True)
    station.behaviour.overflow = True
    mark = len(station.log)
    sent = station.send_unsolicited(seq=_fresh_seq(station))  # null: its IIN2.3 is the news
    station.serve(lambda s: any(r.reads_class(0) for r in s.log[mark:]), timing.poll)
    later = station.log[mark:]
    assert any(r.reads_class(0) for r in later), (
        f"a null unsolicited response #{sent.seq} reported IIN2.3 (event buffer overflow); the master did "
        "not "
        f"read class 0 within {timing.poll:g} s (requests after it: {summary(later)})")


@pytest.mark.conformance(
    clause="DNP3-M-031", level="shall",
    title="The master confirms an unsolicited response that arrives while its own request awaits its answer",
    cites="IEEE 1815-2012 4.2.2.4.4 (UNS) and 4.6: unsolicited and solicited exchanges are independent; an "
          "unsolicited response is confirmed whether or not a request is outstanding (paraphrased)")
def test_confirms_unsolicited_during_request(open_station: Open, timing: Timing) -> None:
    first = _once_class0()
    station = open_station(Behaviour(restart=False, withhold=first))
    station.serve(lambda s: any(r.reads_class(0) for r in s.log), timing.poll)
    read = next((r for r in station.log if r.reads_class(0)), None)
    if read is None:
        inconclusive(f"the master did not read class 0 within {timing.poll:g} s ({log_words(station)})")
    sent = station.send_unsolicited([Event(cls=2, index=5)], seq=(read.seq + 7) % 16)
    station.wait_confirm(sent.seq, uns=True, timeout=timing.response)
    station.answer(read)  # late, but within the master's response timeout as a rule
    confirms = [c for c in station.confirms if c.fragment.uns]
    assert any(c.seq == sent.seq for c in confirms), (
        f"while READ#{read.seq} awaited its answer, unsolicited response #{sent.seq} (CON set) got "
        f"{summary(confirms) if confirms else 'no CONFIRM'} within {timing.response:g} s "
        f"(requests: {log_words(station)})")


def _once_class0() -> Callable[[Request], bool]:
    """True for the first class 0 READ only (that one is left unanswered for a while)."""
    seen: list[Request] = []

    def check(request: Request) -> bool:
        if not seen and request.reads_class(0):
            seen.append(request)
            return True
        return False

    return check
