"""report.html: the run for people — one self-contained page, no scripts.

A summary line; then "What was tested and how": the target, the device
profile in force (its file and SHA-256, or the built-in reference profile
said plainly, in a warning colour since it describes wireproof's own device,
not the target), every suite parameter (given or default), what the device
said about itself, when, and the versions and command line; then a table
(clause, level, verdict in colour, duration, and the rule, the specification
sentence it cites, the message) with each case's evidence in a
``<details>`` element — open for a clause that did not pass — as a table of
one row per message: time, connection, direction (-> to the device, <- from
it), the codec's view of the message, and its bytes in hex. An incomplete run (interrupted) gets a banner
above everything ("Interrupted after 4 of 40 clauses — this report is
incomplete"), the heading says INCOMPLETE, and the clauses that did not run
are listed as "not run" rows, so a page that was cut short cannot pass for a
short suite. Every string from the run (clause ids, messages,
notes, the suite and target) is HTML-escaped: messages quote device bytes and
exception text, which are not ours to trust.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from wireproof.harness.report.model import VERDICTS, CaseResult, EvidenceEntry, NotRun, RunResult

__all__ = ["render_html", "write_html"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
div.rule{color:#444;margin-bottom:.2em}
th{background:#f0f0f0}
td.clause,td.msg pre,details pre{font-family:ui-monospace,monospace}
td.msg pre{margin:0;white-space:pre-wrap;word-break:break-word}
details pre{margin:.3em 0;white-space:pre-wrap;word-break:break-all}
.v{font-weight:bold;padding:.1em .4em;border-radius:3px;white-space:nowrap}
.v-pass{background:#c8f0c8;color:#135213}
.v-fail{background:#f6c6c6;color:#7a1010}
.v-error{background:#f3d3a3;color:#6b3d00}
.v-not_applicable{background:#e4e4e4;color:#555}
.v-inconclusive{background:#f2eeb0;color:#5c5400}
.v-not_run{background:#fff;color:#555;border:1px dashed #888}
div.incomplete{background:#b00020;color:#fff;font-size:1.3em;font-weight:bold;padding:.6em 1em;
border-radius:4px;margin-bottom:1em}
tr.not-run td{color:#777;background:#fafafa}
div.cites{color:#555;font-size:.9em;font-style:italic;margin-bottom:.3em}
.warn{color:#8a4b00;font-weight:bold}
table.context{width:auto;margin-bottom:1.5em}
table.context th{text-align:right;white-space:nowrap}
table.ident{width:auto;margin-top:.3em}
table.ident td{border:none;padding:.05em .6em .05em 0}
div.how{color:#555;font-size:.9em}
table.ev{font-size:.8em;margin:.3em 0;table-layout:fixed;width:100%}
table.ev col.e-t{width:6.5em}table.ev col.e-conn{width:3em}table.ev col.e-dir{width:3em}
table.ev col.e-hex{width:30%}
table.ev td{border:none;border-bottom:1px solid #eee;padding:.1em .4em;overflow-wrap:anywhere}
table.cases{table-layout:fixed}
table.cases col.c-clause{width:8em}table.cases col.c-level{width:4em}
table.cases col.c-verdict{width:8.5em}table.cases col.c-time{width:4.5em}
table.ev th{background:none;border:none;border-bottom:1px solid #ccc;font-weight:normal;color:#555}
table.ev td.hex{font-family:ui-monospace,monospace;word-break:break-all;color:#333}
table.ev td.dec{font-family:ui-monospace,monospace}
table.ev td.dir{font-weight:bold;text-align:center;white-space:nowrap;overflow-wrap:normal}
table.ev td:first-child,table.ev td:nth-child(2){white-space:nowrap}
td.clause{white-space:nowrap}
tr.ev-sent td.dir{color:#1a4d8f}
tr.ev-received td.dir{color:#7a1f7a}
tr.ev-note td{color:#555;font-style:italic}
tr.ev-conn td{color:#777}
"""


_ARROWS = {"sent": "&rarr;", "received": "&larr;", "connect": "open", "close": "close", "note": ""}


def _conn(label: str) -> str:
    """A connection's label in the narrow column: "connection 2" is "2" under the heading "conn."."""
    return escape(label.removeprefix("connection "))


def _evidence_row(e: EvidenceEntry) -> str:
    if e.direction == "note":
        return f'<tr class="ev-note"><td>{e.t:.6f}</td><td colspan="4">{escape(e.note)}</td></tr>'
    if e.direction in ("connect", "close"):
        what = (f"{escape(e.local)} &rarr; {escape(e.remote)}" if e.local or e.remote else "")
        words = escape(e.note) if e.note else what
        return (f'<tr class="ev-conn"><td>{e.t:.6f}</td><td>{_conn(e.connection)}</td>'
                f'<td class="dir">{_ARROWS[e.direction]}</td><td colspan="2">{words}</td></tr>')
    arrow = _ARROWS.get(e.direction, escape(e.direction))
    decoded = escape(e.decoded) + (f" &middot; {escape(e.note)}" if e.note else "")
    spaced = " ".join(e.hex[i:i + 2] for i in range(0, len(e.hex), 2))
    return (f'<tr class="ev-{escape(e.direction)}"><td>{e.t:.6f}</td><td>{_conn(e.connection)}</td>'
            f'<td class="dir">{arrow}</td><td class="dec">{decoded}</td>'
            f'<td class="hex">{escape(spaced)}</td></tr>')


def _evidence(case: CaseResult) -> str:
    if not case.evidence:
        return ""
    messages = sum(1 for e in case.evidence if e.direction in ("sent", "received"))
    rows = "".join(_evidence_row(e) for e in case.evidence)
    opened = " open" if case.verdict not in ("pass", "not_applicable") else ""
    return (f"<details{opened}><summary>evidence: {messages} message{'' if messages == 1 else 's'}</summary>"
            '<table class="ev"><colgroup><col class="e-t"><col class="e-conn"><col class="e-dir"><col>'
            '<col class="e-hex"></colgroup><thead><tr><th>t (s)</th><th>conn.</th><th></th>'
            f"<th>decoded</th><th>bytes</th></tr></thead><tbody>{rows}</tbody></table></details>")


def _row(case: CaseResult) -> str:
    v = escape(case.verdict)
    message = f"<pre>{escape(case.message)}</pre>" if case.message else ""
    rule = f'<div class="rule">{escape(case.title)}</div>' if case.title else ""
    cites = f'<div class="cites">{escape(case.cites)}</div>' if case.cites else ""
    anchor = f' id="{escape(case.clause)}"' if case.clause else ""
    return (f'<tr class="case"{anchor}><td class="clause" title="{escape(case.nodeid)}">'
            f"{escape(case.clause or case.nodeid)}</td>"
            f"<td>{escape(case.level)}</td>"
            f'<td><span class="v v-{v}">{v}</span></td>'
            f"<td>{case.duration:.3f}s</td>"
            f'<td class="msg">{rule}{cites}{message}{_evidence(case)}</td></tr>')


def _context(result: RunResult) -> str:
    """What was tested and how: target, profile, parameters, device identity, times, versions."""
    profile = result.profile
    warn = ' class="warn"' if profile.warn else ""
    rows = [("target", escape(result.target or "the suite's built-in reference device")),
            ("profile", f"<span{warn}>{escape(profile.text)}</span>")]
    if result.parameters:
        params = ", ".join(f"{escape(p.name)} = {escape(p.value)}" + ("" if p.given else " <i>(default)</i>")
                           if p.value else f"{escape(p.name)}: <i>{escape(p.default)}</i>"
                           for p in result.parameters)
        rows.append(("parameters", params))
    device = result.device
    if device.fields:
        table = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in device.fields)
        rows.append(("device says", f'<div class="how">{escape(device.method)}</div>'
                     f'<table class="ident">{table}</table>'))
    elif device.problem or device.method:
        rows.append(("device says", f'<span class="warn">{escape(device.problem or "nothing")}</span>'))
    when = f"{escape(result.started)} &ndash; {escape(result.finished or '?')} ({result.duration:.2f} s)"
    rows.append(("run", when))
    env = result.environment
    if env:
        versions = ", ".join(f"{escape(k)} {escape(v)}" for k, v in env.items() if k != "command")
        rows.append(("software", versions))
        if env.get("command"):
            rows.append(("command", f"<code>{escape(env['command'])}</code>"))
    body = "".join(f'<tr><th scope="row">{k}</th><td>{v}</td></tr>' for k, v in rows)
    return f'<h2>What was tested and how</h2>\n<table class="context">{body}</table>\n'


def _not_run_row(item: NotRun) -> str:
    rule = f'<div class="rule">{escape(item.title)}</div>' if item.title else ""
    return (f'<tr class="not-run"><td class="clause" title="{escape(item.nodeid)}">'
            f"{escape(item.clause or item.nodeid)}</td><td>{escape(item.level)}</td>"
            f'<td><span class="v v-not_run">not run</span></td><td></td><td class="msg">{rule}</td></tr>')


def render_html(result: RunResult) -> str:
    """The report page for ``result``."""
    s = result.summary
    counts = " ".join(f'<span class="v v-{v}">{v} {s[v]}</span>' for v in VERDICTS)
    if result.not_run:
        counts += f' <span class="v v-not_run">not run {len(result.not_run)}</span>'
    verdict = "PASSED" if result.passed else "NOT PASSED" if result.complete else "INCOMPLETE"
    title = escape(f"wireproof: {result.suite}")
    banner = (f'<div class="incomplete" role="alert">{escape(result.incomplete_note)}</div>\n'
              if not result.complete else "")
    rows = "\n".join([*(_row(c) for c in result.cases), *(_not_run_row(n) for n in result.not_run)])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_STYLE}</style></head>
<body>
{banner}<h1>{title}: {verdict}</h1>
<p>{s["total"]} clauses: {counts}</p>
{_context(result)}<h2>Clauses</h2>
<table class="cases">
<colgroup><col class="c-clause"><col class="c-level"><col class="c-verdict"><col class="c-time"><col>
</colgroup>
<thead><tr><th>clause</th><th>level</th><th>verdict</th><th>time</th>
<th>rule / message / evidence</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
</body></html>
"""


def write_html(result: RunResult, path: Path) -> Path:
    """Write ``result`` to ``path`` as a self-contained HTML page; returns ``path``."""
    path.write_text(render_html(result), encoding="utf-8")
    return path
