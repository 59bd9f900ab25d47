"""A replay's result for people (:func:`render_text`) and for programs (:func:`to_json`).

JSON schema ``wireproof.replay/1`` (``wireproof replay FILE --json``)::

    {"schema": "wireproof.replay/1",
     "file", "format", "frames", "bytes", "first", "last", "duration",
     "messages": {protocol: ADUs framed with a valid header, decoded or not},
     "message_frames": {protocol: frames in which at least one of them ends},
     "functions": {protocol: {"read_holding_registers request": count, ...}},
     "statistics": {protocol: {table: {key: count}}},     # e.g. exceptions
     "findings": [{"frame", "timestamp", "flow", "protocol", "clause", "severity",
                   "rule", "message", "offset", "hex"}, ...],   # the first max_findings
     "findings_total", "findings_dropped",
     "findings_by_severity": {severity: count}, "findings_by_rule": {rule: count},
     "decode_errors": total, "decode_errors_by_protocol": {protocol: count},
     "malformed_frames": frames the dissector could not take apart,
     "truncation": the damage as a sentence (why the frames end before the file), or null,
     "damage": null, or where and how the capture is damaged (.damage):
               {"kind": "truncated" | "corrupt" | "invalid", "format",
                "offset": byte offset of the damaged record or line (null if unknown),
                "line", "column": 1-based, text formats (else null),
                "reason", "frames_before", "message"},
     "flows": [{"flow", "transport", "protocol", "status", "frames", "bytes",
                "messages", "findings", "errors", "first", "last", "handshake",
                "connections", "closed"}, ...],
     "flows_total", "flows_dropped",
     "analytics": Analytics.summary() or null,
     "stats": the dissector's counters}

Counts in ``functions`` and ``statistics`` are sorted by key so the output
is deterministic. A damaged capture (``damage`` not null) was analysed up to
the damage only; ``wireproof replay`` then exits 3 (INCOMPLETE) unless the
part read has an error finding (exit 1). The text summary says it in one
``damaged input:`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from wireproof.harness.replay.findings import SEVERITIES, Finding
from wireproof.harness.replay.result import ReplayResult

__all__ = ["SCHEMA", "render_text", "to_json"]

SCHEMA: Final = "wireproof.replay/1"


def _sorted(counts: Any) -> dict[str, Any]:
    return {k: counts[k] for k in sorted(counts)}


def to_json(result: ReplayResult) -> dict[str, Any]:
    """The ``wireproof.replay/1`` document of ``result`` (see the module docstring)."""
    collector = result.collector
    return {
        "schema": SCHEMA,
        "file": result.file,
        "format": result.format,
        "frames": result.frames,
        "bytes": result.bytes,
        "first": result.first,
        "last": result.last,
        "duration": result.duration,
        "messages": _sorted(result.messages),
        "message_frames": _sorted(result.message_frames),
        "functions": {p: _sorted(c) for p, c in sorted(result.functions.items())},
        "statistics": {p: {t: _sorted(c) for t, c in sorted(tables.items())}
                       for p, tables in sorted(result.statistics.items())},
        "findings": [f.to_json() for f in collector.findings],
        "findings_total": collector.total,
        "findings_dropped": collector.dropped,
        "findings_by_severity": {s: collector.by_severity[s] for s in SEVERITIES},
        "findings_by_rule": _sorted(collector.by_rule),
        "decode_errors": sum(result.decode_errors.values()),
        "decode_errors_by_protocol": _sorted(result.decode_errors),
        "malformed_frames": result.malformed_frames,
        "truncation": result.truncation,
        "damage": result.damage.to_json() if result.damage is not None else None,
        "flows": [f.to_json() for f in result.flows],
        "flows_total": result.flows_total,
        "flows_dropped": result.flows_dropped,
        "analytics": result.analytics.summary() if result.analytics is not None else None,
        "stats": result.stats,
    }


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _finding_lines(f: Finding) -> list[str]:
    lines = [f"  {f.describe()}"]
    if f.hex:
        text = " ".join(f.hex[i:i + 2] for i in range(0, len(f.hex), 2))
        lines.append(f"      {text}")
        lines.append("      " + " " * (3 * f.offset) + "^^")
    return lines


def _top(counts: Mapping[str, int], indent: str, limit: int) -> list[str]:
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"{indent}{n:>8}  {name}" for name, n in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"{indent}     ...  {len(rows) - limit} more (see --json)")
    return lines


def render_text(result: ReplayResult, *, max_findings: int = 20, max_flows: int = 20,
                max_rows: int = 15) -> str:
    """The human summary: counts per protocol and function, findings, malformed frames, flows,
    analytics highlights."""
    c = result.collector
    out = [f"{result.file}: {result.format}, {_plural(result.frames, 'frame')}, {result.bytes} bytes, "
           f"{result.duration:.3f} s",
           f"findings: {c.total} ({', '.join(f'{c.by_severity[s]} {s}' for s in SEVERITIES)}); "
           f"decode errors: {sum(result.decode_errors.values())}; "
           f"malformed frames: {result.malformed_frames}"]
    if result.damage is not None:
        out.append(f"damaged input: {result.damage.describe()}; analysed the "
                   f"{_plural(result.damage.frames_before, 'frame')} before it, no verdict for the rest")
    elif result.truncation:
        out.append(f"warning: {result.truncation}; replayed up to the cut")
    out.append("")
    out.append("messages per protocol:")
    if not result.messages:
        out.append("  (none)")
    for protocol in sorted(result.messages):
        out.append(f"  {protocol}: {_plural(result.messages[protocol], 'message')} in "
                   f"{_plural(result.message_frames[protocol], 'frame')}")
        functions: dict[str, int] = dict(result.functions.get(protocol, {}))
        out.extend(_top(functions, "    ", max_rows))
        for table, counts in sorted(result.statistics.get(protocol, {}).items()):
            out.append(f"    {table}:")
            out.extend(_top(counts, "      ", max_rows))
    if c.total:
        out.append("")
        out.append("findings by rule:")
        out.extend(_top(c.by_rule, "  ", max_rows))
        shown = sorted(c.findings, key=lambda f: (SEVERITIES.index(f.severity), f.frame))[:max_findings]
        out.append("")
        out.append(f"findings (first {len(shown)} of {c.total}, errors first):")
        for f in shown:
            out.extend(_finding_lines(f))
    out.append("")
    out.append(f"flows: {result.flows_total}" + (f" ({result.flows_dropped} not listed)"
                                                  if result.flows_dropped else ""))
    busiest = sorted(result.flows, key=lambda r: (-r.errors, -r.findings, -r.bytes, r.flow))[:max_flows]
    for r in busiest:
        closed = f", {r.closed}" if r.closed else ""
        status = "" if r.status == "analysed" else f" [{r.status}]"
        out.append(f"  {r.flow}  {r.protocol}{status}: {_plural(r.frames, 'frame')}, {r.bytes} bytes, "
                   f"{_plural(r.messages, 'message')}, {_plural(r.findings, 'finding')}{closed}")
    if len(result.flows) > len(busiest):
        out.append(f"  ... {len(result.flows) - len(busiest)} more (see --json)")
    if result.analytics is not None:
        lines = result.analytics.text()
        if lines:
            out.append("")
            out.append("analytics:")
            out.extend(f"  {line}" for line in lines)
    return "\n".join(out) + "\n"
