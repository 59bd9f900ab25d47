"""A replay's result for people (:func:`render_text`) and for programs (:func:`to_json`).

JSON schema ``wireproof.replay/1`` (``wireproof replay FILE --json``)::

    {"schema": "wireproof.replay/1",
     "file", "format", "frames", "bytes", "first", "last", "duration",
     "messages": {protocol: ADUs framed with a valid header, decoded or not},
     "message_frames": {protocol: frames in which at least one of them ends},
     "functions": {protocol: {"read_holding_registers request": count, ...}},
     "statistics": {protocol: {table: {key: count}}},     # e.g. exceptions
     "findings": [{"frame", "timestamp", "flow", "direction", "protocol", "clause", "severity",
                   "rule", "message", "offset", "hex", "window_start", "malformed"}, ...],
                   # the first max_findings; "direction": "client -> server", "server -> client"
                   # or "" (the finding's frame's way; "flow" is always "client -> server");
                   # "window_start": where "hex" starts in the message; "malformed": the one
                   # finding of a message or frame that did not decode
     "findings_total", "findings_dropped",
     "findings_by_severity": {severity: count}, "findings_by_rule": {rule: count},
     "decode_errors": total, "decode_errors_by_protocol": {protocol: count},
     "malformed_frames": frames the dissector could not take apart (link, IP, TCP, UDP);
          with decode_errors, what the summaries call "malformed" (one finding each),
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

A capture set (``wireproof replay DIR``) has the same keys, merged, plus
``files``, ``files_total`` and ``skipped`` (:mod:`.set_summary`).

Counts in ``functions`` and ``statistics`` are sorted by key so the output
is deterministic. A damaged capture (``damage`` not null) was analysed up to
the damage only; ``wireproof replay`` then exits 3 (INCOMPLETE) unless the
part read has an error finding (exit 1). The text summary says it in one
``damaged input:`` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from wireproof.harness.replay.findings import SEVERITIES, Finding
from wireproof.harness.replay.result import ReplayResult

__all__ = ["SCHEMA", "function_table", "malformed_line", "render_text", "to_json"]

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


_KINDS = ("request", "response", "exception")
_MALFORMED_SUFFIX = " (malformed)"


def function_table(counts: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, list[int]]]]:
    """A protocol's function counts (``"<function> <kind>"``: ``kind`` request, response or
    exception, ``" (malformed)"`` appended when the message did not decode) as columns and rows:
    one row per function, most messages first. Keys of another shape count in an ``other`` column.
    """
    table: dict[str, dict[str, int]] = {}
    for key, n in counts.items():
        if not isinstance(n, int) or isinstance(n, bool):
            continue
        name, column = str(key), "other"
        bare = name.removesuffix(_MALFORMED_SUFFIX)
        function, _sp, kind = bare.rpartition(" ")
        if function and kind in _KINDS:
            name, column = function, ("malformed" if bare != name else kind)
        row = table.setdefault(name, {})
        row[column] = row.get(column, 0) + n
    columns = [c for c in (*_KINDS, "malformed", "other") if any(c in r for r in table.values())]
    rows = [(name, [r.get(c, 0) for c in columns]) for name, r in table.items()]
    rows.sort(key=lambda nr: (-sum(nr[1]), nr[0]))
    return columns, rows


def malformed_line(decode_errors: Mapping[str, int], malformed_frames: int) -> str:
    """``malformed: N (...)``: the one count of what did not decode, said the same way everywhere:
    messages of a protocol that did not decode, and frames the capture layers (link, IP, TCP, UDP)
    could not take apart. Each of them has exactly one finding (marked ``malformed``)."""
    parts = [f"{n} {p} {'message' if n == 1 else 'messages'}" for p, n in sorted(decode_errors.items()) if n]
    if malformed_frames or not parts:
        parts.append(f"{_plural(malformed_frames, 'frame')} below the protocols")
    return f"malformed: {sum(decode_errors.values()) + malformed_frames} ({', '.join(parts)})"


def _finding_lines(f: Finding, origin: float | None) -> list[str]:
    clause = f" [{f.clause}]" if f.clause else ""
    at = "" if origin is None else f" t={f.timestamp - origin:.6f} s"
    who = f" ({f.direction})" if f.direction else ""
    tag = " [malformed]" if f.malformed else ""
    lines = [f"  #{f.frame} {f.severity} {f.rule}{clause}{at} {f.route()}{who}: {f.message}{tag}"]
    if f.hex:
        text = " ".join(f.hex[i:i + 2] for i in range(0, len(f.hex), 2))
        lines.append(f"      {text}")
        where = f.window_start + f.offset
        lines.append("      " + " " * (3 * f.offset) + ("^^" if 2 * f.offset < len(f.hex) else "^")
                     + f" byte {where}" + ("" if 2 * f.offset < len(f.hex) else " (the message ends)"))
    return lines


def _top(counts: Mapping[str, int], indent: str, limit: int) -> list[str]:
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    lines = [f"{indent}{n:>8}  {name}" for name, n in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"{indent}     ...  {len(rows) - limit} more (see --json)")
    return lines


def _function_lines(counts: Mapping[str, int], indent: str, limit: int) -> list[str]:
    columns, rows = function_table(counts)
    if not rows:
        return []
    width = max(len(name) for name, _v in rows[:limit])
    heads = [f"{c}s" if c in _KINDS else c for c in columns]
    lines = [f"{indent}{'function':<{width}}  " + "  ".join(f"{h:>10}" for h in heads)]
    for name, values in rows[:limit]:
        cells = "  ".join(f"{v if v else '':>10}" for v in values)
        lines.append(f"{indent}{name:<{width}}  {cells}".rstrip())
    if len(rows) > limit:
        lines.append(f"{indent}... {len(rows) - limit} more functions (see --json)")
    return lines


def render_text(result: ReplayResult, *, max_findings: int = 20, max_flows: int = 20,
                max_rows: int = 15) -> str:
    """The human summary: counts per protocol and function, findings, malformed messages and frames,
    flows, analytics highlights. Times are seconds since the capture's first frame (said once)."""
    c = result.collector
    origin = result.first
    out = [f"{result.file}: {result.format}, {_plural(result.frames, 'frame')}, {result.bytes} bytes, "
           f"{result.duration:.3f} s",
           f"findings: {c.total} ({', '.join(f'{c.by_severity[s]} {s}' for s in SEVERITIES)}); "
           + malformed_line(result.decode_errors, result.malformed_frames)]
    if origin is not None:
        out.append(f"times: seconds since the first frame, {_utc(origin)}")
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
        bad = result.decode_errors.get(protocol, 0)
        out.append(f"  {protocol}: {_plural(result.messages[protocol], 'message')} in "
                   f"{_plural(result.message_frames[protocol], 'frame')}, {bad} malformed")
        out.extend(_function_lines(result.functions.get(protocol, {}), "    ", max_rows))
        for table, counts in sorted(result.statistics.get(protocol, {}).items()):
            out.append(f"    {table}:")
            out.extend(_top(counts, "      ", max_rows))
    if c.total:
        out.append("")
        out.append("findings by rule:")
        out.extend(_top(c.by_rule, "  ", max_rows))
        chosen = sorted(c.findings, key=lambda f: (SEVERITIES.index(f.severity), f.frame))[:max_findings]
        shown = sorted(chosen, key=lambda f: (f.frame, f.timestamp))
        out.append("")
        out.append(f"findings ({len(shown)} of {c.total}, the most severe first chosen, in frame order):")
        for f in shown:
            out.extend(_finding_lines(f, origin))
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
        lines = result.analytics.text(origin=origin)
        if lines:
            out.append("")
            out.append("analytics:")
            out.extend(f"  {line}" for line in lines)
    return "\n".join(out) + "\n"


def _utc(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return f"{t}"
