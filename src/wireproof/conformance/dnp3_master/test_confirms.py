"""Application confirms: when the master confirms, with what (IEEE 1815-2012 4.2.2.4.3, 4.4.1).

A response with CON set asks the master for a CONFIRM (function 0) carrying
the response's sequence number; a response with CON clear must not be
confirmed. Each clause is one master session.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.conformance.dnp3_master._checks import QUIET, Timing, settle, start_up
from wireproof.conformance.dnp3_master._station import Behaviour, Event, Station, log_words, summary
from wireproof.harness.plugin import not_applicable

Open = Callable[..., Station]


def _confirmed_integrity(open_station: Open, timing: Timing) -> tuple[Station, int]:
    """A session whose integrity answer carries a class 1 event with CON; the answer's sequence."""
    station = open_station(Behaviour(restart=False, events=[Event(cls=1, index=0)]))
    read = start_up(station, timing)
    station.wait_confirm(read.seq, uns=False, timeout=timing.response)
    return station, read.seq


@pytest.mark.conformance(
    clause="DNP3-M-010", level="shall", title="The master confirms a response with CON set, with the "
    "response's sequence number",
    cites="IEEE 1815-2012 4.2.2.4.3 (CON) and 4.5.1: a response with CON set requires the master to send "
          "a CONFIRM "
          "whose sequence number is the response's (paraphrased)")
def test_confirms_con_response(open_station: Open, timing: Timing) -> None:
    station, seq = _confirmed_integrity(open_station, timing)
    confirms = station.requests(FunctionCode.CONFIRM)
    assert any(c.seq == seq and not c.fragment.uns for c in confirms), (
        f"the integrity answer #{seq} (events, CON set) got no CONFIRM #{seq} within {timing.response:g} s "
        f"(requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-011", level="shall", title="A CONFIRM is one fragment (FIR, FIN), CON clear, without "
    "object headers",
    cites="IEEE 1815-2012 4.5 (CONFIRM, function 0) and 4.2.2.4: a confirm carries only the application "
          "header; it is itself never confirmed (paraphrased)")
def test_confirm_form(open_station: Open, timing: Timing) -> None:
    station, _ = _confirmed_integrity(open_station, timing)
    confirms = station.requests(FunctionCode.CONFIRM)
    if not confirms:
        not_applicable("the master sent no CONFIRM (DNP3-M-010 judges that)")
    bad = [c for c in confirms
           if not (c.fragment.fir and c.fragment.fin) or c.fragment.con or c.fragment.objects]
    assert not bad, f"malformed CONFIRM(s): {summary(bad)} (octets {' '.join(c.octets.hex() for c in bad)})"


@pytest.mark.conformance(
    clause="DNP3-M-012", level="shall", title="The master does not confirm a response with CON clear",
    cites="IEEE 1815-2012 4.2.2.4.3 (CON): only a fragment with CON set is confirmed (paraphrased)")
def test_no_confirm_without_con(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    settle(station, timing)
    confirms = station.requests(FunctionCode.CONFIRM)
    assert not confirms, (f"no response had CON set, yet the master sent {summary(confirms)} "
                          f"(requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-013", level="shall", title="The master confirms any response with CON set, events or not",
    cites="IEEE 1815-2012 4.2.2.4.3 (CON): the master confirms a fragment whose CON bit is set, whatever it "
          "carries (paraphrased)")
def test_confirms_null_response_with_con(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False, confirm_every_response=True))
    station.serve(lambda s: bool(s.sent), timing.poll)
    if not station.sent:
        not_applicable(f"the master asked for nothing within {timing.poll:g} s")
    _, first = station.sent[0]
    station.wait_confirm(first.seq, uns=False, timeout=timing.response)
    assert any(c.seq == first.seq and not c.fragment.uns for c in station.confirms), (
        f"the response #{first.seq} ({len(first.objects)} object headers, CON set) got no CONFIRM within "
        f"{timing.response:g} s (requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-014", level="shall",
    title="The master confirms each fragment of a multi-fragment response "
    "with that fragment's sequence number",
    cites="IEEE 1815-2012 4.2.2.4.1, 4.2.2.4.2 (FIR, FIN) and 4.2.2.4.5 (SEQ): a response may span several "
          "fragments with consecutive sequence numbers, FIR on the first and FIN on the last; each with CON "
          "is confirmed (paraphrased)")
def test_multi_fragment_response(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False, integrity_fragments=3))
    read = start_up(station, timing)
    station.serve_quiet(QUIET, timing.response)
    responses = [r for _, r in station.sent if r.function == FunctionCode.RESPONSE]
    k = next((i for i, r in enumerate(responses) if r.seq == read.seq and r.fir), None)
    assert k is not None
    fragments = responses[k:k + 3]
    asked = [f.seq for f in fragments if f.con]
    confirmed = {c.seq for c in station.confirms if not c.fragment.uns}
    missing = [s for s in asked if s not in confirmed]
    assert len(fragments) == 3 and not missing, (
        f"the integrity answer went out in fragments #{', #'.join(str(f.seq) for f in fragments)} "
        f"(each CON); fragment(s) #{', #'.join(map(str, missing))} got no CONFIRM within "
        f"{timing.response:g} s, so the rest "
        f"was never sent (requests: {log_words(station)})")
