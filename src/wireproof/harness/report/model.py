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
``evidence``: ``[{direction, hex, note, t, connection, decoded, local,
remote}]``, ``started``: the wall-clock time the test began, seconds since the
epoch; ``cites``: the specification sentence the clause rests on) and
``not_run`` (the selected clauses that got no verdict: ``nodeid``,
``clause``, ``level``, ``title``; under pytest-xdist the clause of a test that
never ran may be unknown, then only ``nodeid`` is filled). ``complete``,
``interrupted`` and ``not_run`` were added within schema 1 (issue 9); a report
without them reads as complete.

What was tested and how (added within schema 1, issue 10; a report without
them has them empty): ``finished`` (ISO 8601, UTC), ``profile`` (``source``:
``"file"``, ``"built-in"`` or ``"none"``; ``path``, ``sha256`` of its bytes,
``text``: one sentence a reader can quote, e.g. "built-in reference profile
..."), ``parameters`` (``[{name, value, default, given}]``: every parameter
of the suite, the ones given and the defaults in force), ``environment``
(``wireproof``, ``python``, ``implementation``, ``platform``, ``pytest``,
``command``: the command line) and ``device`` (what the device says about
itself where the protocol can ask: ``{"method": ..., "fields": {name:
value}, "problem": ...}``, empty when the suite cannot ask).

Verdicts: ``pass``; ``fail`` (the implementation under test broke a rule);
``error`` (the harness broke); ``not_applicable`` (the device profile says the
clause does not apply); ``inconclusive`` (the run could not decide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.errors import FixtureError

__all__ = ["OK_VERDICTS", "SCHEMA", "VERDICTS", "CaseResult", "DeviceInfo", "EvidenceEntry", "NotRun",
           "ParameterInfo", "ProfileInfo", "RunResult", "clause_sort_key"]

SCHEMA: Final = "wireproof.report/1"
VERDICTS: Final = ("pass", "fail", "error", "not_applicable", "inconclusive")
# Verdicts that do not count against a certification run.
OK_VERDICTS: Final = frozenset({"pass", "not_applicable"})


@dataclass(frozen=True, slots=True, kw_only=True)
class EvidenceEntry:
    """One step of a clause's evidence: a message sent or received, a connection opened or closed, a note.

    ``direction`` is ``"sent"``, ``"received"``, ``"connect"``, ``"close"`` or
    ``"note"`` (a transport tap may use its own word); ``t`` is seconds since
    the test started. A suite records one entry per message (a whole ADU,
    say), with the codec's view in ``decoded``; bytes that make no message
    (garbage, an incomplete answer) are an entry of their own.
    """

    direction: str
    hex: str = ""
    note: str = ""
    t: float = 0.0
    connection: str = ""  # which of the test's connections ("connection 1"); "" for a note of the test
    decoded: str = ""  # the codec's view of the message, one line ("" for notes, or bytes it cannot read)
    local: str = ""  # on a "connect" entry: this side's address (host:port) ...
    remote: str = ""  # ... and the device's

    def to_json_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "hex": self.hex, "note": self.note, "t": self.t,
                "connection": self.connection, "decoded": self.decoded, "local": self.local,
                "remote": self.remote}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> EvidenceEntry:
        return cls(direction=str(data.get("direction", "")), hex=str(data.get("hex", "")),
                   note=str(data.get("note", "")), t=float(data.get("t", 0.0)),
                   connection=str(data.get("connection", "")), decoded=str(data.get("decoded", "")),
                   local=str(data.get("local", "")), remote=str(data.get("remote", "")))


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
    started: float = 0.0  # wall clock at the test's start (epoch seconds); evidence t counts from it
    cites: str = ""  # the specification sentence the clause rests on (section and quoted words)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise FixtureError(f"unknown verdict {self.verdict!r}; expected one of {', '.join(VERDICTS)}")

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "nodeid": self.nodeid, "clause": self.clause, "title": self.title, "level": self.level,
            "verdict": self.verdict,
            "duration": self.duration, "message": self.message,
            "evidence": [e.to_json_dict() for e in self.evidence], "started": self.started,
            "cites": self.cites,
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> CaseResult:
        return cls(nodeid=str(data["nodeid"]), clause=str(data.get("clause", "")),
                   level=str(data.get("level", "")), verdict=str(data["verdict"]),
                   duration=float(data.get("duration", 0.0)), message=str(data.get("message", "")),
                   title=str(data.get("title", "")), started=float(data.get("started", 0.0)),
                   cites=str(data.get("cites", "")),
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


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileInfo:
    """The device profile a run was judged by: a file (path and SHA-256), the suite's built-in one, or none.

    ``text`` is the sentence every report prints, so a run judged against the
    reference device's profile says so plainly.
    """

    source: str = "none"  # "file", "built-in" or "none"
    path: str = ""
    sha256: str = ""
    describes_target: bool = False  # built-in: the target is the built-in reference device it describes

    @property
    def warn(self) -> bool:
        """Whether a reader should be warned: no profile, or one written for another device."""
        return self.source != "file" and not self.describes_target

    @property
    def text(self) -> str:
        if self.source == "file":
            return f"{self.path} (sha256 {self.sha256})"
        if self.source == "built-in" and self.describes_target:
            return (f"built-in reference profile, which describes the built-in reference device under test: "
                    f"{self.path} (sha256 {self.sha256})")
        if self.source == "built-in":
            return (f"built-in reference profile, which describes wireproof's own reference device, not "
                    f"the target: {self.path} (sha256 {self.sha256})")
        return "no profile"

    def to_json_dict(self) -> dict[str, Any]:
        return {"source": self.source, "path": self.path, "sha256": self.sha256,
                "describes_target": self.describes_target, "text": self.text}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> ProfileInfo:
        return cls(source=str(data.get("source", "none")), path=str(data.get("path", "")),
                   sha256=str(data.get("sha256", "")), describes_target=bool(data.get("describes_target")))


@dataclass(frozen=True, slots=True, kw_only=True)
class ParameterInfo:
    """One suite parameter in force: its value (as text), its default, and whether it was given."""

    name: str
    value: str
    default: str = ""
    given: bool = False

    def to_json_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "default": self.default, "given": self.given}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> ParameterInfo:
        return cls(name=str(data.get("name", "")), value=str(data.get("value", "")),
                   default=str(data.get("default", "")), given=bool(data.get("given", False)))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceInfo:
    """What the device said about itself, asked the way its protocol allows (the suite decides how).

    ``method`` names how it was asked (with the standard's clause);
    ``fields`` are the answers in the device's words; ``problem`` says why
    there are none (the device refused, the suite cannot ask). Empty: the
    suite did not ask.
    """

    method: str = ""
    fields: tuple[tuple[str, str], ...] = ()
    problem: str = ""

    def to_json_dict(self) -> dict[str, Any]:
        return {"method": self.method, "fields": dict(self.fields), "problem": self.problem}

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        fields = data.get("fields") or {}
        return cls(method=str(data.get("method", "")), problem=str(data.get("problem", "")),
                   fields=tuple((str(k), str(v)) for k, v in fields.items()))


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
    finished: str = ""
    profile: ProfileInfo = field(default_factory=lambda: ProfileInfo())
    parameters: tuple[ParameterInfo, ...] = field(default=())
    environment: dict[str, str] = field(default_factory=dict)
    device: DeviceInfo = field(default_factory=lambda: DeviceInfo())

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
            "finished": self.finished, "profile": self.profile.to_json_dict(),
            "parameters": [p.to_json_dict() for p in self.parameters],
            "environment": dict(self.environment), "device": self.device.to_json_dict(),
        }

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> RunResult:
        if data.get("schema") != SCHEMA:
            raise FixtureError(f"not a {SCHEMA} report (schema {data.get('schema')!r})")
        return cls(suite=str(data["suite"]), target=data.get("target"), started=str(data["started"]),
                   duration=float(data["duration"]),
                   cases=tuple(CaseResult.from_json_dict(c) for c in data.get("cases", ())),
                   interrupted=bool(data.get("interrupted", False)),
                   not_run=tuple(NotRun.from_json_dict(n) for n in data.get("not_run", ())),
                   finished=str(data.get("finished", "")),
                   profile=ProfileInfo.from_json_dict(data.get("profile") or {}),
                   parameters=tuple(ParameterInfo.from_json_dict(p) for p in data.get("parameters", ())),
                   environment={str(k): str(v) for k, v in (data.get("environment") or {}).items()},
                   device=DeviceInfo.from_json_dict(data.get("device") or {}))
