"""Findings: the rules a capture's traffic breaks, as data, streamed with bounded memory.

A :class:`~wireproof.codecs._analysis.Finding` is one broken rule at one
place in a capture: the frame number (1-based, as Wireshark numbers them),
its timestamp, the flow, the protocol, the clause of the standard
(``"MB-TCP 3.1.3"``), a stable rule id (``"modbus.response-without-request"``),
a severity, a sentence, and a hex window of up to 16 bytes either side of
the byte that broke the rule, with that byte's offset inside the window.

Severities:

- ``error`` — the traffic breaks a rule of the standard (a device or client
  is at fault); ``wireproof replay`` exits 1 when there is one;
- ``warning`` — suspicious but not provably wrong from the capture alone (a
  late response, an unanswered request, a TCP gap);
- ``info`` — worth knowing (an exception response, a retransmission).

A capture may hold millions of findings: the engine hands each to a sink as
it is found. :class:`FindingCollector` is the default sink: it counts every
finding (per rule and per severity) and keeps only the first ``limit``;
``also`` is a callable that gets every finding (e.g. to write JSON lines).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

# The finding itself is the analyzers' contract (pure): re-exported here for the harness.
from wireproof.codecs._analysis import SEVERITIES, Finding, Severity, hex_window

__all__ = [
    "SEVERITIES",
    "Finding",
    "FindingCollector",
    "FindingSink",
    "Severity",
    "hex_window",
]

FindingSink = Callable[[Finding], None]


class FindingCollector:
    """The default sink: counts every finding, keeps the first ``limit`` of them.

    ``keep`` (optional) decides which findings are worth keeping (e.g. only
    errors); every finding is counted whatever it says.
    """

    def __init__(self, limit: int = 1000, *, also: FindingSink | None = None,
                 keep: Callable[[Finding], bool] | None = None) -> None:
        self.limit = limit
        self.also = also
        self.keep = keep
        self.findings: list[Finding] = []
        self.total = 0
        self.by_rule: Counter[str] = Counter()
        self.by_severity: Counter[str] = Counter()

    def __call__(self, finding: Finding) -> None:
        self.total += 1
        self.by_rule[finding.rule] += 1
        self.by_severity[finding.severity] += 1
        if len(self.findings) < self.limit and (self.keep is None or self.keep(finding)):
            self.findings.append(finding)
        if self.also is not None:
            self.also(finding)

    @property
    def dropped(self) -> int:
        """Findings counted but not kept."""
        return self.total - len(self.findings)
