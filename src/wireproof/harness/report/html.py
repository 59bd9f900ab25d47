"""report.html: the run for people — one self-contained page, no scripts.

A summary line, then a table (clause, level, verdict in colour, duration,
message) with each case's evidence folded in a ``<details>`` element: one
line per step, bytes in hex. An incomplete run (interrupted) gets a banner
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

from wireproof.harness.report.model import VERDICTS, CaseResult, NotRun, RunResult

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
"""


def _evidence(case: CaseResult) -> str:
    if not case.evidence:
        return ""
    lines = []
    for e in case.evidence:
        note = f"  # {e.note}" if e.note else ""
        lines.append(escape(f"{e.t:9.6f} {e.direction:<8} {e.hex}{note}".rstrip()))
    return (f"<details><summary>evidence ({len(case.evidence)})</summary>"
            f"<pre>{chr(10).join(lines)}</pre></details>")


def _row(case: CaseResult) -> str:
    v = escape(case.verdict)
    message = f"<pre>{escape(case.message)}</pre>" if case.message else ""
    rule = f'<div class="rule">{escape(case.title)}</div>' if case.title else ""
    return (f'<tr><td class="clause" title="{escape(case.nodeid)}">{escape(case.clause or case.nodeid)}</td>'
            f"<td>{escape(case.level)}</td>"
            f'<td><span class="v v-{v}">{v}</span></td>'
            f"<td>{case.duration:.3f}s</td>"
            f'<td class="msg">{rule}{message}{_evidence(case)}</td></tr>')


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
<p>target: <code>{escape(result.target or "(suite default: built-in reference device)")}</code>
&middot; started {escape(result.started)} &middot; {result.duration:.2f}s &middot; {s["total"]} cases</p>
<p>{counts}</p>
<table>
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
