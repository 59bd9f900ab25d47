"""Controls: select-before-operate (IEEE 1815-2012 4.4.2).

Only a master told to operate (``--command`` with a script that does) sends
a SELECT; otherwise the clause does not apply.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from wireproof.codecs.dnp3.constants import FunctionCode
from wireproof.conformance.dnp3_master._checks import Timing
from wireproof.conformance.dnp3_master._station import Behaviour, Station, log_words, summary
from wireproof.harness.plugin import not_applicable

Open = Callable[..., Station]


@pytest.mark.conformance(
    clause="DNP3-M-026", level="shall", title="OPERATE follows its SELECT with the same objects and the next "
    "sequence number",
    cites="IEEE 1815-2012 4.4.3 (SELECT) and 4.4.4 (OPERATE): the OPERATE carries the same object "
          "headers and values as "
          "the SELECT and the next sequence number, within the select timeout (paraphrased)")
def test_select_before_operate(open_station: Open, timing: Timing) -> None:
    station = open_station(Behaviour(restart=False))
    station.serve(lambda s: bool(s.requests(FunctionCode.SELECT)), timing.poll)
    selects = station.requests(FunctionCode.SELECT)
    if not selects:
        not_applicable(f"the master sent no SELECT within {timing.poll:g} s (requests: "
                       f"{log_words(station)}); "
                       "give a --command that makes it operate a control")
    select = selects[0]
    k = station.log.index(select)
    station.serve(lambda s: any(r.function == FunctionCode.OPERATE for r in s.log[k + 1:]), timing.response)
    operate = next((r for r in station.log[k + 1:] if r.function == FunctionCode.OPERATE), None)
    assert operate is not None, (f"SELECT#{select.seq} was answered with success; no OPERATE followed within "
                                 f"{timing.response:g} s (requests after it: {summary(station.log[k + 1:])})")
    assert operate.octets[2:] == select.octets[2:], (
        f"OPERATE#{operate.seq} objects {operate.octets[2:].hex()} differ from SELECT#{select.seq}'s "
        f"{select.octets[2:].hex()}")
    assert operate.seq == (select.seq + 1) % 16, (
        f"OPERATE#{operate.seq} after SELECT#{select.seq}: expected sequence {(select.seq + 1) % 16}")
