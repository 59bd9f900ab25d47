"""The point database every DNP3 peer outstation serves, and the changes it makes on demand.

One table shared by the peer runners (tests/peers/dnp3_outstation.py), the
tests that assert on what a master read, and tools/record_dnp3_captures.py,
so a peer and a test can never disagree on a value. The database has every
static type a Subset Level 2 outstation reports (IEEE 1815-2012 Table 14-3):
binary inputs (g1), double-bit inputs (g3), analog inputs (g30), counters
(g20), binary output status (g10, commanded through CROB g12v1) and analog
output status (g40, commanded through g41).

``changed(n)`` is the n-th scripted change (n = 1, 2, ...): binary input 0
toggles, double-bit 0 flips between DETERMINED_ON and DETERMINED_OFF, analog
0 becomes 100 + n and counter 0 becomes 10 + n. Each is a change the
outstation turns into an event (class 1 by default in both libraries), so
a class poll after a change reads exactly these four points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MASTER_ADDRESS = 1
OUTSTATION_ADDRESS = 10
EVENT_BUFFER = 100  # per type; opendnp3 reports no event at all with the default 0

# Double-bit states (IEEE 1815-2012 11.9.3, g3v2): 0 intermediate, 1 off, 2 on, 3 indeterminate.
DBI_OFF = 1
DBI_ON = 2


@dataclass(slots=True, kw_only=True)
class Points:
    """Current values; a runner mutates a copy of ``INITIAL`` as changes and commands arrive."""

    binary: list[bool] = field(default_factory=lambda: [True, False, True, False])
    double_bit: list[int] = field(default_factory=lambda: [DBI_ON, DBI_OFF])
    analog: list[int] = field(default_factory=lambda: [100, -5, 1234, 0])
    counter: list[int] = field(default_factory=lambda: [10, 20, 30, 40])
    binary_output: list[bool] = field(default_factory=lambda: [False, False, False, False])
    analog_output: list[int] = field(default_factory=lambda: [0, 0])

    def change(self, n: int) -> None:
        """Apply the n-th scripted change (module docstring)."""
        self.binary[0] = not self.binary[0]
        self.double_bit[0] = DBI_OFF if self.double_bit[0] == DBI_ON else DBI_ON
        self.analog[0] = 100 + n
        self.counter[0] = 10 + n


def initial() -> Points:
    return Points()


def changed(n: int) -> Points:
    """The database after the first n scripted changes."""
    points = Points()
    for i in range(1, n + 1):
        points.change(i)
    return points
