"""Start-up: integrity poll, unsolicited disable/enable, the restart IIN (IEEE 1815-2012 4.2.2.7, 4.4).

Each clause is one master session from its connection: the scripted
outstation answers by its policy and the clause judges what the master
asked for, in what order.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.conformance.dnp3_master._checks import QUIET, Timing, heard, integrity_read, settle, start_up
from wireproof.conformance.dnp3_master._station import Behaviour, Station, log_words, summary
from wireproof.harness.plugin import not_applicable

Open = Callable[..., Station]


@pytest.mark.conformance(
    clause="DNP3-M-001", level="should", title="The master performs an integrity poll (class 0) at start-up",
    cites="IEEE 1815-2012 4.4.1 (READ of g60v1, class 0 data): a master learns every static value with an "
          "integrity poll when it starts communicating with an outstation (paraphrased)")
def test_integrity_poll_at_start_up(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    station.serve(lambda s: integrity_read(s) is not None, timing.poll)
    assert integrity_read(station) is not None, (
        f"no READ of class 0 (g60v1) within {timing.poll:g} s of connecting; the master asked for: "
        f"{log_words(station)}")


@pytest.mark.conformance(
    clause="DNP3-M-002", level="should", title="The start-up integrity poll reads the event classes 1, 2, 3 "
    "with class 0",
    cites="IEEE 1815-2012 4.4.1 (READ) and 11.9.27 (g60v1-v4): an integrity poll is a READ of classes 1, "
          "2, 3 and 0, "
          "so that events queued before start-up are collected too (paraphrased)")
def test_integrity_poll_reads_event_classes(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    read = start_up(station, timing)
    missing = [c for c in (1, 2, 3) if not read.reads_class(c)]
    assert not missing, (f"the integrity poll READ#{read.seq} names class 0 but not class "
                         f"{', '.join(map(str, missing))} (requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-003", level="should",
    title="A master that uses unsolicited responses disables them before "
    "its integrity poll",
    cites="IEEE 1815-2012 4.6 and Table 4-2 (DISABLE UNSOLICITED, function 21): a master that uses "
          "unsolicited "
          "reporting disables it at start-up, reads the integrity data, then enables it (paraphrased)")
def test_disables_unsolicited_before_integrity(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    read = start_up(station, timing)
    station.serve_quiet(QUIET, timing.poll)
    uses = [r for r in station.log
            if r.function in (FunctionCode.ENABLE_UNSOLICITED, FunctionCode.DISABLE_UNSOLICITED)]
    if not uses:
        not_applicable(f"the master neither enabled nor disabled unsolicited responses (requests: "
                       f"{log_words(station)}): it does not use them")
    before = station.log[:station.log.index(read)]
    assert any(r.function == FunctionCode.DISABLE_UNSOLICITED for r in before), (
        f"the master uses unsolicited responses but sent no DISABLE UNSOLICITED before its integrity poll "
        f"(requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-004", level="should", title="A master enables unsolicited responses only after its "
    "integrity poll",
    cites="IEEE 1815-2012 4.6 and Table 4-2 (ENABLE UNSOLICITED, function 20): unsolicited reporting of "
          "events is "
          "enabled "
          "once the master holds the integrity data, so no event is reported before it (paraphrased)")
def test_enables_unsolicited_after_integrity(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    station.serve(lambda s: bool(s.requests(FunctionCode.ENABLE_UNSOLICITED)), timing.poll)
    enables = station.requests(FunctionCode.ENABLE_UNSOLICITED)
    if not enables:
        not_applicable(f"the master did not enable unsolicited responses within {timing.poll:g} s (requests: "
                       f"{log_words(station)})")
    read = integrity_read(station)
    assert read is not None and station.log.index(read) < station.log.index(enables[0]), (
        f"ENABLE UNSOLICITED#{enables[0].seq} came before any integrity poll (requests: "
        f"{log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-005", level="shall", title="The master clears the device restart IIN1.7 by writing g80v1 "
    "index 7 = 0",
    cites="IEEE 1815-2012 4.2.2.7.1 (IIN1.7 DEVICE_RESTART) and 4.4.2 (WRITE of g80v1): the master "
          "clears the restart "
          "indication by writing 0 to index 7 of the internal indications object (paraphrased)")
def test_clears_restart_iin(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=True))
    station.serve(lambda s: any(r.writes(80) for r in s.log), timing.poll)
    write = next((r for r in station.log if r.writes(80)), None)
    if write is None:
        heard(station, timing, "IIN1.7")
    assert write is not None, (f"every response carried IIN1.7 (device restart) and the master never wrote "
                               f"g80v1 within {timing.poll:g} s (requests: {log_words(station)})")
    head = write.writes(80)
    assert head is not None
    assert head.variation == 1, (f"the master wrote g80v{head.variation}; the restart IIN is cleared with "
                                 "g80v1")
    indexes = [p.index if p.index is not None else (head.start or 0) + k for k, p in enumerate(head.points)]
    values = [bool(p.values.get("state")) for p in head.points]
    assert indexes == [7] and values == [False], (
        f"WRITE#{write.seq} g80v1 q{head.qualifier:02x} sets indexes {indexes} to {values}; only index 7 "
        "(device restart) may be written, with 0")
    assert station.behaviour.restart is False


@pytest.mark.conformance(
    clause="DNP3-M-006", level="should", title="A restart seen later (IIN1.7 in an unsolicited response) is "
    "cleared and followed by a new integrity poll",
    cites="IEEE 1815-2012 4.2.2.7.1 (IIN1.7): after an outstation restarts, its data are those of a restart; "
          "the master clears IIN1.7 and performs an integrity poll again (paraphrased)")
def test_restart_later_gets_integrity(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    settle(station, timing, connected=True)
    station.behaviour.restart = True
    mark = len(station.log)
    sent = station.send_unsolicited()
    station.serve(lambda s: any(r.reads_class(0) for r in s.log[mark:]), timing.poll)
    later = station.log[mark:]
    assert any(r.writes(80) for r in later), (
        f"after an unsolicited response #{sent.seq} with IIN1.7 set the master did not clear it within "
        f"{timing.poll:g} s (requests after it: {summary(later)})")
    assert any(r.reads_class(0) for r in later), (
        f"after IIN1.7 the master cleared it but did not read class 0 again within {timing.poll:g} s "
        f"(requests after it: {summary(later)})")


@pytest.mark.conformance(
    clause="DNP3-M-007", level="should", title="The master synchronises the outstation's time when it sets "
    "need-time IIN1.4",
    cites="IEEE 1815-2012 4.2.2.7.1 (IIN1.4 NEED_TIME), 4.4.14, 4.4.15: an outstation asks for time with "
          "IIN1.4; "
          "the master then writes the time (g50v1 after DELAY MEASURE, or g50v3 after RECORD CURRENT TIME) "
          "(paraphrased)")
def test_time_sync_on_need_time(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False, need_time=True))
    station.serve(lambda s: any(r.writes(50) for r in s.log), timing.poll)
    write = next((r for r in station.log if r.writes(50)), None)
    if write is None:
        heard(station, timing, "IIN1.4")
    assert write is not None, (f"every response carried IIN1.4 (need time) and the master wrote no time "
                               f"(g50) within {timing.poll:g} s (requests: {log_words(station)})")
    assert station.behaviour.need_time is False


def _time_write(open_station: Open, timing: Timing) -> tuple[Station, int]:
    station = open_station(Behaviour(restart=False, need_time=True))
    station.serve(lambda s: any(r.writes(50) for r in s.log), timing.poll)
    write = next((r for r in station.log if r.writes(50)), None)
    if write is None:
        not_applicable(f"the master wrote no time within {timing.poll:g} s of IIN1.4 "
                       "(DNP3-M-007 judges that)")
    return station, station.log.index(write)


@pytest.mark.conformance(
    clause="DNP3-M-008", level="shall", title="The time the master writes is the real time (within the "
    "tolerance)",
    cites="IEEE 1815-2012 4.4.2 (WRITE) and 4.4.15 (g50v1, g50v3: milliseconds since 1970-01-01 UTC): "
          "the time written "
          "is the master's time at the moment it stands for (paraphrased)")
def test_time_written_is_close(open_station: Open, timing: Timing) -> None:
    station, k = _time_write(open_station, timing)
    write = station.log[k]
    head = write.writes(50)
    assert head is not None and head.points, f"WRITE#{write.seq} g50 carries no time"
    written = int(head.points[0].values["time"]) / 1000.0
    if head.variation == 3:  # LAN: the time at which RECORD CURRENT TIME arrived (4.4.6)
        record = next((r for r in reversed(station.log[:k])
                       if r.function == FunctionCode.RECORD_CURRENT_TIME), None)
        if record is None:
            not_applicable("g50v3 without RECORD CURRENT TIME: DNP3-M-009 judges that")
        reference, what = record.wall, "when RECORD CURRENT TIME arrived"
    else:
        reference, what = write.wall, "when the write arrived"
    off = written - reference
    assert abs(off) <= timing.tolerance, (
        f"the master wrote g50v{head.variation} time {written:.3f}, {off:+.3f} s from the real time {what} "
        f"(tolerance {timing.tolerance:g} s)")


@pytest.mark.conformance(
    clause="DNP3-M-009", level="should",
    title="A time sync follows its procedure: g50v3 after RECORD CURRENT "
    "TIME (LAN), g50v1 after DELAY MEASURE (non-LAN)",
    cites="IEEE 1815-2012 4.4.14 (DELAY MEASURE) and 4.4.15 (RECORD CURRENT TIME): RECORD CURRENT TIME "
          "(function 24) precedes the write of g50v3; DELAY MEASURE (function 23) precedes the write of "
          "g50v1 (paraphrased)")
def test_time_sync_procedure(open_station: Open, timing: Timing) -> None:
    station, k = _time_write(open_station, timing)
    write = station.log[k]
    head = write.writes(50)
    assert head is not None
    before = [r.function for r in station.log[:k] if r.function != FunctionCode.CONFIRM]
    want = FunctionCode.RECORD_CURRENT_TIME if head.variation == 3 else FunctionCode.DELAY_MEASURE
    assert before and before[-1] == want, (
        f"WRITE#{write.seq} g50v{head.variation} was preceded by "
        f"{before[-1].name if before else 'nothing'}, not {want.name} (requests: {log_words(station)})")


@pytest.mark.conformance(
    clause="DNP3-M-030", level="shall", title="A time write is one g50 object, qualifier 0x07, count 1",
    cites="IEEE 1815-2012 4.4.2 (WRITE of g50v1/g50v3 with qualifier code 0x07, quantity 1) "
          "(paraphrased)")
def test_time_write_form(open_station: Open, timing: Timing) -> None:
    station, k = _time_write(open_station, timing)
    write = station.log[k]
    heads = write.fragment.objects
    assert len(heads) == 1 and heads[0].qualifier == 0x07 and heads[0].count == 1, (
        f"WRITE#{write.seq}: " + ", ".join(f"g{h.group}v{h.variation} q{h.qualifier:02x} count {h.count}"
                                           for h in heads) + " (expected one g50 object, q07, count 1)")
