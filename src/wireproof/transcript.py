"""Golden transcripts: data-driven tests for any machine, in the style of etcd-io/raft's ``testdata``.

Theory of operation
-------------------
A transcript is text made of blocks::

    # optional comment lines
    request read-holding-registers unit=1 address=0 count=2
    ----
    send 00 01 00 00 00 06 01 03 00 00 00 02

A block is a command line, a ``----`` line and the output lines the command
produced (``ok`` when it produced nothing), ended by a blank line. Comment
lines (``#``) and blank lines between blocks are kept as they are.

The commands mean whatever a :class:`Driver` makes of them: an object with one
method, ``run(command) -> list[str]``, that executes one command line against
the machine under test and renders what happened as lines. The consensus
workbench drives pure nodes with ``propose``/``deliver``/``crash`` commands
(:mod:`wireproof.consensus.sim.transcript`); a protocol machine's driver can
take ``request ...``, ``receive HEX`` and ``tick T`` and print the effects.

:func:`run_script` runs every command of a transcript through a fresh driver
and returns the same text with the actual output in place of the expected
one, so checking a transcript is comparing two strings (:func:`check_script`),
and regenerating it after an intended change is writing the actual text back.
This module is pure: reading and writing transcript files, and the
``WIREPROOF_REWRITE`` flag, live in :mod:`wireproof.harness.transcripts`.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Protocol

__all__ = ["SEPARATOR", "Block", "Driver", "TranscriptResult", "check_script", "parse_blocks", "run_script"]

SEPARATOR = "----"


class Driver(Protocol):
    """Runs one command line of a transcript; returns its output lines (``[]`` renders as ``ok``)."""

    def run(self, command: str) -> list[str]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Block:
    """One block: the comment (and blank) lines before it, its command, the expected output.

    A trailing block with comments and no command has ``command == ""``.
    """

    comments: tuple[str, ...]
    command: str
    expected: tuple[str, ...]


def parse_blocks(text: str) -> list[Block]:
    """The blocks of ``text``, in order (a command without ``----`` expects nothing)."""
    lines = text.splitlines()
    blocks: list[Block] = []
    comments: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if not line or line.startswith("#"):
            comments.append(line)
            continue
        expected: list[str] = []
        if i < len(lines) and lines[i].rstrip() == SEPARATOR:
            i += 1
            while i < len(lines) and lines[i].strip():
                expected.append(lines[i].rstrip())
                i += 1
        blocks.append(Block(comments=tuple(comments), command=line, expected=tuple(expected)))
        comments = []
    if comments:
        blocks.append(Block(comments=tuple(comments), command="", expected=()))
    return blocks


def run_script(text: str, driver: Driver) -> str:
    """Run every command of ``text`` through ``driver``; the same text with the actual output in place.

    Exceptions of the driver (an unknown command, say) propagate: a transcript
    that cannot run is an error, not a difference.
    """
    out: list[str] = []
    for block in parse_blocks(text):
        comments = list(block.comments)
        while comments and not comments[0] and out and not out[-1]:
            comments = comments[1:]  # one blank line between blocks is ours
        out += comments
        if block.command:
            out += [block.command, SEPARATOR, *(driver.run(block.command) or ["ok"]), ""]
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptResult:
    """A transcript run: the text as written (``expected``) and as produced (``actual``).

    ``name`` labels the diff (a file's path, for files); ``rewritten`` says the
    expected text was replaced by the actual one, which then counts as a pass.
    """

    name: str
    expected: str
    actual: str
    rewritten: bool = False

    @property
    def ok(self) -> bool:
        return self.rewritten or self.expected == self.actual

    def diff(self) -> str:
        """A unified diff from the expected text to the actual one (empty when they agree)."""
        return "".join(difflib.unified_diff(
            self.expected.splitlines(keepends=True), self.actual.splitlines(keepends=True),
            fromfile=f"{self.name} (expected)", tofile=f"{self.name} (actual)"))


def check_script(text: str, driver: Driver, *, name: str = "transcript") -> TranscriptResult:
    """Run ``text`` through ``driver`` and compare the output with the text's own."""
    return TranscriptResult(name=name, expected=text, actual=run_script(text, driver))
