"""A capture set's result: per-file outcomes merged into one ``wireproof.replay/1`` document.

Theory of operation
-------------------
Each file of a set is replayed alone (:mod:`.sets`) and comes back as a
:class:`FileOutcome`: its own ``wireproof.replay/1`` document, or why there
is none. :func:`merge` folds the documents, in the set's order, into one
document of the same schema, so whatever reads ``wireproof replay FILE
--json`` reads a set's too. The fold uses only sums, minima, maxima and
concatenation in the set's order, on integers and on timestamps copied as
they are: the merged numbers are exactly the same whichever process (or
cluster worker) replayed which file, and in whatever order they finished.

What merges, and how (the keys of :mod:`.summary`):

- sums: ``frames``, ``bytes``, ``messages``, ``message_frames``,
  ``functions``, ``statistics``, ``findings_total``, ``findings_by_severity``,
  ``findings_by_rule``, ``decode_errors`` (and by protocol),
  ``malformed_frames``, ``flows_total``, and every integer of ``stats``
  (the dissector's counters; a value that is not a count stays per file);
- ``first`` / ``last``: the earliest and latest frame time of any file;
  ``duration`` is their difference (the span the set covers);
- ``findings`` and ``flows``: the files' lists one after the other, each
  entry with a ``file`` key added (frame numbers count from 1 in each file),
  cut at ``max_findings`` / ``max_flows``; ``findings_dropped`` and
  ``flows_dropped`` count the rest;
- ``format``: the files' formats, sorted, comma-separated;
- ``damage``: the first damaged file's damage object with its ``file``, or
  null; ``truncation``: one sentence counting the damaged, unreadable and
  crashed files, or null.

What does not merge: ``analytics``. Its statistics are sequential in
capture time (EWMA bandwidths, inter-arrival z-score anomalies after a
warm-up, trends, change counts, bounded flow and series tables filled in
first-seen order): the same flow label in two captures would be one
series in a single replay of both, and its anomalies depend on which file
came first. Rather than print numbers that depend on the partition, a
set's ``analytics`` is null and each file's own summary is in
``files[i].analytics``.

Additions to the schema (additive: a single-file document has none of
them): ``files`` (one entry per member, in the set's order: ``file``,
``status`` (``ok``, ``fail``, ``incomplete``, ``unreadable``,
``crashed``), ``exit`` (what ``wireproof replay FILE`` exits with for it),
``format``, ``frames``, ``bytes``, ``first``, ``last``, ``messages`` (total),
``decode_errors``, ``malformed_frames``, ``findings_total``,
``findings_by_severity``, ``flows_total``, ``damage``, ``error``,
``analytics``), ``files_total``, ``skipped`` (``[{"file", "reason"}]``: what
the set's directories held that is not a capture) and ``file`` / ``flow``
entries' ``file``. ``file`` at the top is the set's inputs, space-separated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from wireproof.harness.exitcodes import FAIL, INCOMPLETE, OK, USAGE
from wireproof.harness.replay.findings import SEVERITIES
from wireproof.harness.replay.summary import SCHEMA, function_table, malformed_line

__all__ = ["STATUSES", "FileOutcome", "Skipped", "exit_code", "merge", "render_text"]

Status = Literal["ok", "fail", "incomplete", "unreadable", "crashed"]
STATUSES: Final[tuple[Status, ...]] = ("ok", "fail", "incomplete", "unreadable", "crashed")
_EXIT: Final[dict[Status, int]] = {"ok": OK, "fail": FAIL, "incomplete": INCOMPLETE, "unreadable": USAGE,
                                   "crashed": INCOMPLETE}


@dataclass(frozen=True, slots=True, kw_only=True)
class Skipped:
    """A file in a set's directory that is not replayed, and why."""

    file: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"file": self.file, "reason": self.reason}


@dataclass(frozen=True, slots=True, kw_only=True)
class FileOutcome:
    """One file of a set: its ``wireproof.replay/1`` document, or the error that left it without one.

    ``seconds`` is the wall time of the task (for the progress bar and the
    bench; it is not part of the merged document, which must not depend on
    the machine).
    """

    file: str
    status: Status
    document: dict[str, Any] | None = None
    error: str | None = None
    seconds: float = 0.0

    @classmethod
    def of(cls, file: str, document: dict[str, Any], *, seconds: float = 0.0) -> FileOutcome:
        """The outcome of a replayed file; its status as ``wireproof replay FILE``'s exit code says."""
        errors = document["findings_by_severity"].get("error", 0)
        status: Status = "fail" if errors else "incomplete" if document["damage"] is not None else "ok"
        return cls(file=file, status=status, document=document, seconds=seconds)

    @property
    def exit(self) -> int:
        return _EXIT[self.status]

    @property
    def frames(self) -> int:
        return 0 if self.document is None else int(self.document["frames"])


def _add(into: dict[str, Any], counts: Mapping[str, Any]) -> None:
    for key, value in counts.items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            into[key] = into.get(key, 0) + value
        elif isinstance(value, Mapping):
            inner = into.setdefault(key, {})
            if isinstance(inner, dict):
                _add(inner, value)


def _sorted(counts: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _sorted(v) if isinstance(v, Mapping) else v for k, v in sorted(counts.items())}


def _file_entry(outcome: FileOutcome) -> dict[str, Any]:
    d = outcome.document
    if d is None:
        return {"file": outcome.file, "status": outcome.status, "exit": outcome.exit, "format": None,
                "frames": 0, "bytes": 0, "first": None, "last": None, "messages": 0, "decode_errors": 0,
                "malformed_frames": 0, "findings_total": 0,
                "findings_by_severity": dict.fromkeys(SEVERITIES, 0), "flows_total": 0, "damage": None,
                "error": outcome.error, "analytics": None}
    return {"file": outcome.file, "status": outcome.status, "exit": outcome.exit, "format": d["format"],
            "frames": d["frames"], "bytes": d["bytes"], "first": d["first"], "last": d["last"],
            "messages": sum(d["messages"].values()), "decode_errors": d["decode_errors"],
            "malformed_frames": d["malformed_frames"], "findings_total": d["findings_total"],
            "findings_by_severity": d["findings_by_severity"], "flows_total": d["flows_total"],
            "damage": d["damage"], "error": None, "analytics": d["analytics"]}


def merge(outcomes: Sequence[FileOutcome], *, inputs: Sequence[str] = (), skipped: Sequence[Skipped] = (),
          max_findings: int = 1000, max_flows: int = 10_000) -> dict[str, Any]:
    """The set's ``wireproof.replay/1`` document (see the module docstring for every key)."""
    docs = [(o.file, o.document) for o in outcomes if o.document is not None]
    sums: dict[str, Any] = {}
    stats: dict[str, Any] = {}
    findings: list[dict[str, Any]] = []
    flows: list[dict[str, Any]] = []
    firsts: list[float] = []
    lasts: list[float] = []
    damage: dict[str, Any] | None = None
    for file, d in docs:
        _add(sums, {key: d[key] for key in ("frames", "bytes", "messages", "message_frames", "functions",
                                            "statistics", "findings_total", "findings_by_severity",
                                            "findings_by_rule", "decode_errors", "decode_errors_by_protocol",
                                            "malformed_frames", "flows_total")})
        _add(stats, d["stats"])
        findings.extend({**f, "file": file} for f in d["findings"][:max(0, max_findings - len(findings))])
        flows.extend({**f, "file": file} for f in d["flows"][:max(0, max_flows - len(flows))])
        if d["first"] is not None:
            firsts.append(d["first"])
        if d["last"] is not None:
            lasts.append(d["last"])
        if damage is None and d["damage"] is not None:
            damage = {**d["damage"], "file": file}
    first = min(firsts) if firsts else None
    last = max(lasts) if lasts else None
    findings_total = sums.get("findings_total", 0)
    flows_total = sums.get("flows_total", 0)
    return {
        "schema": SCHEMA,
        "file": " ".join(inputs) if inputs else " ".join(o.file for o in outcomes),
        "format": ", ".join(sorted({str(d["format"]) for _f, d in docs})),
        "frames": sums.get("frames", 0),
        "bytes": sums.get("bytes", 0),
        "first": first,
        "last": last,
        "duration": 0.0 if first is None or last is None else last - first,
        "messages": _sorted(sums.get("messages", {})),
        "message_frames": _sorted(sums.get("message_frames", {})),
        "functions": _sorted(sums.get("functions", {})),
        "statistics": _sorted(sums.get("statistics", {})),
        "findings": findings,
        "findings_total": findings_total,
        "findings_dropped": findings_total - len(findings),
        "findings_by_severity": {s: sums.get("findings_by_severity", {}).get(s, 0) for s in SEVERITIES},
        "findings_by_rule": _sorted(sums.get("findings_by_rule", {})),
        "decode_errors": sums.get("decode_errors", 0),
        "decode_errors_by_protocol": _sorted(sums.get("decode_errors_by_protocol", {})),
        "malformed_frames": sums.get("malformed_frames", 0),
        "truncation": _truncation(outcomes),
        "damage": damage,
        "flows": flows,
        "flows_total": flows_total,
        "flows_dropped": flows_total - len(flows),
        "analytics": None,
        "stats": _sorted(stats),
        "files": [_file_entry(o) for o in outcomes],
        "files_total": len(outcomes),
        "skipped": [s.to_json() for s in skipped],
    }


def _truncation(outcomes: Sequence[FileOutcome]) -> str | None:
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("unreadable", "crashed")}
    counts["damaged"] = sum(1 for o in outcomes if o.document is not None and o.document["damage"])
    parts = [f"{n} {what}" for what, n in (("damaged (analysed up to the damage)", counts["damaged"]),
                                          ("unreadable", counts["unreadable"]),
                                          ("crashed", counts["crashed"])) if n]
    return f"{', '.join(parts)} of {len(outcomes)} captures (see files)" if parts else None


def exit_code(document: Mapping[str, Any]) -> int:
    """The set's exit code (:mod:`wireproof.harness.exitcodes`): ``FAIL`` when a file has an error
    finding (a fault seen is a fault); else ``USAGE`` when no file could be read at all;
    ``INCOMPLETE`` when some file was damaged, unreadable or crashed; else ``OK``."""
    files = document["files"]
    if document["findings_by_severity"].get("error", 0):
        return FAIL
    if files and all(f["status"] == "unreadable" for f in files):
        return USAGE
    return OK if all(f["status"] == "ok" for f in files) else INCOMPLETE


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_text(document: Mapping[str, Any], *, max_findings: int = 20, max_rows: int = 15,
                max_files: int = 50) -> str:
    """The set's summary for people, from its merged document: totals, per protocol and function,
    findings, then one line per file (the worst first)."""
    files = document["files"]
    by_status = {s: sum(1 for f in files if f["status"] == s) for s in STATUSES}
    sev = document["findings_by_severity"]
    out = [f"{_plural(len(files), 'capture')} ({document['format'] or 'none read'}): "
           f"{_plural(document['frames'], 'frame')}, {document['bytes']} bytes; "
           + ", ".join(f"{n} {s}" for s, n in by_status.items() if n),
           f"findings: {document['findings_total']} ({', '.join(f'{sev[s]} {s}' for s in SEVERITIES)}); "
           + malformed_line(document["decode_errors_by_protocol"], document["malformed_frames"])]
    if document["truncation"]:
        out.append(f"incomplete input: {document['truncation']}; no verdict for what was not read")
    if document["skipped"]:
        out.append(f"skipped: {_plural(len(document['skipped']), 'file')} that are not captures "
                   f"(see --json)")
    out += ["", "messages per protocol:"]
    if not document["messages"]:
        out.append("  (none)")
    for protocol, n in document["messages"].items():
        bad = document["decode_errors_by_protocol"].get(protocol, 0)
        out.append(f"  {protocol}: {_plural(n, 'message')} in "
                   f"{_plural(document['message_frames'].get(protocol, 0), 'frame')}, {bad} malformed")
        columns, rows = function_table(document["functions"].get(protocol, {}))
        if rows:
            width = max(len(name) for name, _v in rows[:max_rows])
            out.append(f"    {'function':<{width}}  " + "  ".join(f"{c:>10}" for c in columns))
            out += [f"    {name:<{width}}  " + "  ".join(f"{v if v else '':>10}" for v in values)
                    for name, values in rows[:max_rows]]
    if document["findings_total"]:
        out += ["", "findings by rule:"]
        rules = sorted(document["findings_by_rule"].items(), key=lambda kv: (-kv[1], kv[0]))
        out += [f"  {n:>8}  {rule}" for rule, n in rules[:max_rows]]
        shown = document["findings"][:max_findings]
        out += ["", f"findings ({len(shown)} of {document['findings_total']}, in file and frame order):"]
        out += [f"  {f['file']} #{f['frame']} {f['severity']} {f['rule']}: {f['message']}" for f in shown]
    out += ["", "captures:"]
    order = {s: i for i, s in enumerate(("crashed", "unreadable", "fail", "incomplete", "ok"))}
    worst = sorted(files, key=lambda f: (order[f["status"]], -f["findings_total"]))
    for f in worst[:max_files]:
        if f["format"] is None:
            out.append(f"  {f['file']}  [{f['status']}] {f['error']}")
            continue
        errors = f["findings_by_severity"].get("error", 0)
        line = (f"  {f['file']}  {f['format']}, {_plural(f['frames'], 'frame')}, "
                f"{_plural(f['messages'], 'message')}, {_plural(f['findings_total'], 'finding')} "
                f"({errors} error)")
        if f["damage"] is not None:
            line += f"  [damaged: {f['damage']['message']}]"
        elif f["status"] != "ok":
            line += f"  [{f['status']}]"
        out.append(line)
    if len(files) > max_files:
        out.append(f"  ... {len(files) - max_files} more (see --json)")
    return "\n".join(out) + "\n"
