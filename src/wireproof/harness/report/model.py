"""The report model: what one certification run found, independent of format.

A :class:`RunResult` holds one :class:`CaseResult` per clause test; the writers
(:mod:`.json_report`, :mod:`.junit`, :mod:`.html`) are pure functions of it.
The JSON form (:meth:`RunResult.to_json_dict`) *is* the versioned schema
``wireproof.report/1`` (DESIGN.md, "Conformance"):

``schema``, ``suite``, ``target`` (the URL given, or null: the suite's
built-in reference device), ``started`` (ISO 8601, UTC), ``duration``
(seconds), ``complete`` (false when some selected clause has no verdict),
``interrupted`` (true when the run was stopped, e.g. by Ctrl-C), ``summary``
(a count per verdict and ``total``, of the clauses that ran), ``cases``
(``nodeid``, ``clause``, ``level``, ``verdict``, ``duration``, ``message``,
``evidence``: ``[{direction, hex, note, t}]``) and ``not_run`` (the selected
clauses that got no verdict: ``nodeid``, ``clause``, ``level``, ``title``;
under pytest-xdist the clause of a test that never ran may be unknown, then
only ``nodeid`` is filled). ``complete``, ``interrupted`` and ``not_run``
were added within schema 1 (issue 9); a report without them reads as complete.

Verdicts: ``pass``; ``fail`` (the implementation under test broke a rule);
``error`` (the harness broke); ``not_applicable`` (the device profile says the
clause does not apply); ``inconclusive`` (the run could not decide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.errors import FixtureError

__all__ = ["OK_VERDICTS", "SCHEMA", "VERDICTS", "CaseResult", "EvidenceEntry", "NotRun", "RunResult",
           "clause_sort_key"]

SCHEMA: Final = "wireproof.report/1"
VERDICTS: Final = ("pass", "fail", "error", "not_applicable", "inconclusive")
# Verdicts that do not count against a certification run.
OK_VERDICTS: Final = frozenset({"pass", "not_applicable"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceEntry:
    """One step of a clause's evidence: bytes sent or received, or a note.

    ``direction`` is ``"sent"``, ``"received"`` or ``"note"`` (a transport tap
    may use its own word); ``t`` is seconds since the test started.
    """

    direction: str
    hex: str = ""
    note: str = ""
    t: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "hex": self.hex, "note": self.note, "t": self.t}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> EvidenceEntry:
        return cls(direction=str(data.get("direction", "")), hex=str(data.get("hex", "")),
                   note=str(data.get("note", "")), t=float(data.get("t", 0.0)))


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResult:
    """The verdict on one clause test (one pytest item)."""

    nodeid: str
    clause: str
    level: str
    verdict: str
    duration: float = 0.0
    message: str = ""
    evidence: tuple[EvidenceEntry, ...] = ()
    title: str = ""  # the rule the clause checks, in one sentence

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise FixtureError(f"unknown verdict {self.verdict!r}; expected one of {', '.join(VERDICTS)}")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid, "clause": self.clause, "title": self.title, "level": self.level,
            "verdict": self.verdict,
            "duration": self.duration, "message": self.message,
            "evidence": [e.to_json_dict() for e in self.evidence],
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> CaseResult:
        return cls(nodeid=str(data["nodeid"]), clause=str(data.get("clause", "")),
                   level=str(data.get("level", "")), verdict=str(data["verdict"]),
                   duration=float(data.get("duration", 0.0)), message=str(data.get("message", "")),
                   title=str(data.get("title", "")),
                   evidence=tuple(EvidenceEntry.from_json_dict(e) for e in data.get("evidence", ())))


@dataclass(frozen=True, slots=True, kw_only=True)
class NotRun:
    """A selected clause test that got no verdict (the run was interrupted before or during it)."""

    nodeid: str
    clause: str = ""
    level: str = ""
    title: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {"nodeid": self.nodeid, "clause": self.clause, "title": self.title, "level": self.level}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> NotRun:
        return cls(nodeid=str(data["nodeid"]), clause=str(data.get("clause", "")),
                   level=str(data.get("level", "")), title=str(data.get("title", "")))


def clause_sort_key(case: CaseResult | NotRun) -> tuple[Any, ...]:
    """Order cases by clause id with numbers compared as numbers (MB-TCP-2 < MB-TCP-10)."""
    parts = re.split(r"(\d+)", case.clause)
    key = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)
    return (case.clause == "", key, case.nodeid)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """A whole run: the suite, its target, when, how long, and every case."""

    suite: str
    target: str | None
    started: str
    duration: float
    cases: tuple[CaseResult, ...] = field(default=())
    interrupted: bool = False
    not_run: tuple[NotRun, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """True when every selected clause got a verdict and the run was not stopped."""
        return not self.interrupted and not self.not_run

    @property
    def incomplete_note(self) -> str:
        """One sentence for an incomplete run ("" when complete), the same in every report."""
        if self.complete:
            return ""
        ran, total = len(self.cases), len(self.cases) + len(self.not_run)
        why = "Interrupted" if self.interrupted else "Stopped"
        return f"{why} after {ran} of {total} clauses — this report is incomplete"

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for case in self.cases:
            counts[case.verdict] += 1
        counts["total"] = len(self.cases)
        return counts

    @property
    def passed(self) -> bool:
        """True when the run is complete, has a case, and every case is pass or not_applicable."""
        return self.complete and bool(self.cases) and all(c.verdict in OK_VERDICTS for c in self.cases)

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA, "suite": self.suite, "target": self.target, "started": self.started,
            "duration": self.duration, "complete": self.complete, "interrupted": self.interrupted,
            "summary": self.summary, "cases": [c.to_json_dict() for c in self.cases],
            "not_run": [n.to_json_dict() for n in self.not_run],
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> RunResult:
        if data.get("schema") != SCHEMA:
            raise FixtureError(f"not a {SCHEMA} report (schema {data.get('schema')!r})")
        return cls(suite=str(data["suite"]), target=data.get("target"), started=str(data["started"]),
                   duration=float(data["duration"]),
                   cases=tuple(CaseResult.from_json_dict(c) for c in data.get("cases", ())),
                   interrupted=bool(data.get("interrupted", False)),
                   not_run=tuple(NotRun.from_json_dict(n) for n in data.get("not_run", ())))
