"""Golden interaction transcripts, in the style of etcd-io/raft's ``testdata/*.txt``.

Theory of operation
-------------------
A transcript file is a sequence of blocks::

    # optional comment lines
    propose 1 x
    ----
    1 persist Accepted(...)
    1->2 Prepare(...)

A block is a command, a ``----`` line and the output the command produced
(``ok`` when it produced nothing), ended by a blank line. Running a file
executes its commands against fresh nodes of one algorithm, renders what
happened, and compares the result with the file; with ``rewrite=True`` (the
tests set it from ``WIREPROOF_REWRITE=1``) the file is regenerated instead.

Messages are not delivered by themselves: they wait in one FIFO in-flight
list until a command delivers or drops them, so a transcript pins one exact
interleaving. Commands (node ids are integers)::

    propose N VALUE...      N proposes VALUE (an int if it parses, else the text)
    tick N [K]              tick node N K times (N may be * for every live node)
    deliver [A->B [W...]]   deliver what is in flight now (only A->B, and only messages
                            whose repr contains every word W, when given)
    drop [A->B [W...]]      drop what is in flight (same selection)
    stabilize               deliver until nothing is in flight (at most 100 rounds)
    crash N                 N loses everything not persisted; messages to it are lost
    restart N               N is restored from its persisted records
    partition 1 | 2 3       cut the links between the two sides (``->``: one way)
    heal                    restore every link
    state [N...]            print each node's inspect() view
    storage N               print N's persisted records
    inflight                print the in-flight messages

Output lines: ``N persist R``, ``A->B M`` (sent), ``N commit SLOT V``,
``N reply ID R``; what a delivered message causes is indented under it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wireproof.consensus.api import ClusterConfig, Envelope, Node, NodeFactory, NotLeader
from wireproof.consensus.sim.world import drain
from wireproof.errors import FixtureError

__all__ = ["Driver", "TranscriptResult", "parse_value", "rewrite_requested", "run_script", "run_transcript"]

NodeId = int
SEPARATOR = "----"


def parse_value(text: str) -> Any:
    """The default value parser: an int when it parses, else the text itself."""
    try:
        return int(text)
    except ValueError:
        return text


def rewrite_requested(environ: Mapping[str, str]) -> bool:
    """True when the environment asks to regenerate transcripts (``WIREPROOF_REWRITE=1``)."""
    return environ.get("WIREPROOF_REWRITE", "") not in ("", "0")


class Driver:
    """Nodes driven by hand: in-flight FIFO, durable storage, cut links, crashed nodes."""

    def __init__(self, factory: NodeFactory, config: ClusterConfig,
                 parse: Callable[[str], Any] = parse_value) -> None:
        self.factory = factory
        self.config = config
        self.parse = parse
        self.nodes: dict[NodeId, Node | None] = {}
        self.storage: dict[NodeId, list[Any]] = {n: [] for n in config.nodes}
        self.inflight: list[Envelope] = []
        self.cuts: set[tuple[NodeId, NodeId]] = set()
        self.out: list[str] = []
        for n in config.nodes:
            self.nodes[n] = factory.create(n, config)
        for n in config.nodes:
            self._flush(n, "")

    def _flush(self, n: NodeId, indent: str) -> None:
        node = self.nodes[n]
        if node is None:
            return
        for rd in drain(node, self.storage[n]):
            self.out += [f"{indent}{n} persist {r!r}" for r in rd.persist]
            for env in rd.messages:
                self.out.append(f"{indent}{env.src}->{env.dst} {env.message!r}")
                self.inflight.append(env)
            self.out += [f"{indent}{n} commit {c.slot} {c.value!r}" for c in rd.committed]
            self.out += [f"{indent}{n} reply {r.request_id!r} {r.result!r}" for r in rd.replies]

    def _node(self, word: str) -> NodeId:
        try:
            n = int(word)
        except ValueError:
            raise FixtureError(f"transcript: {word!r} is not a node id") from None
        if n not in self.nodes:
            raise FixtureError(f"transcript: no node {n}")
        return n

    def _select(self, args: list[str]) -> Callable[[Envelope], bool]:
        if not args:
            return lambda env: True
        a, _, b = args[0].partition("->")
        src, dst = self._node(a), self._node(b)
        words = args[1:]
        return lambda env: (env.src == src and env.dst == dst
                            and all(w in repr(env.message) for w in words))

    def run(self, command: str) -> list[str]:
        """Execute one command line; returns its output lines."""
        self.out = []
        words = command.split()
        verb, args = words[0], words[1:]
        handler = getattr(self, "cmd_" + verb.replace("-", "_"), None)
        if handler is None:
            raise FixtureError(f"transcript: unknown command {verb!r}")
        handler(args)
        return self.out or ["ok"]

    def cmd_propose(self, args: list[str]) -> None:
        n = self._node(args[0])
        node = self.nodes[n]
        if node is None:
            self.out.append(f"{n} is down")
            return
        try:
            node.propose(self.parse(" ".join(args[1:])))
        except NotLeader as e:
            self.out.append(f"{n} not leader (leader: {e.leader})")
            return
        self._flush(n, "")

    def cmd_tick(self, args: list[str]) -> None:
        live = [n for n in self.nodes if self.nodes[n] is not None]
        targets = live if args[0] == "*" else [self._node(args[0])]
        for _ in range(int(args[1]) if len(args) > 1 else 1):
            for n in targets:
                node = self.nodes[n]
                if node is not None:
                    node.tick()
                    self._flush(n, "")

    def _deliver_matching(self, args: list[str]) -> int:
        wanted = self._select(args)
        batch = [env for env in self.inflight if wanted(env)]
        self.inflight = [env for env in self.inflight if not wanted(env)]
        for env in batch:
            node = self.nodes[env.dst]
            if node is None:
                self.out.append(f"{env.src}->{env.dst} {env.message!r} (lost: {env.dst} is down)")
            elif (env.src, env.dst) in self.cuts:
                self.out.append(f"{env.src}->{env.dst} {env.message!r} (lost: link cut)")
            else:
                self.out.append(f"{env.src}->{env.dst} {env.message!r}")
                node.step(env)
                self._flush(env.dst, "  ")
        return len(batch)

    def cmd_deliver(self, args: list[str]) -> None:
        self._deliver_matching(args)

    def cmd_drop(self, args: list[str]) -> None:
        wanted = self._select(args)
        for env in self.inflight:
            if wanted(env):
                self.out.append(f"{env.src}->{env.dst} {env.message!r} (dropped)")
        self.inflight = [env for env in self.inflight if not wanted(env)]

    def cmd_stabilize(self, args: list[str]) -> None:
        for _ in range(100):
            if not self._deliver_matching([]):
                return
        raise FixtureError("transcript: stabilize did not settle in 100 rounds")

    def cmd_crash(self, args: list[str]) -> None:
        n = self._node(args[0])
        self.nodes[n] = None
        self.out.append(f"{n} crashed ({len(self.storage[n])} records persisted)")
        lost = [env for env in self.inflight if env.dst == n]
        self.out += [f"{env.src}->{env.dst} {env.message!r} (lost: {n} is down)" for env in lost]
        self.inflight = [env for env in self.inflight if env.dst != n]

    def cmd_restart(self, args: list[str]) -> None:
        n = self._node(args[0])
        self.nodes[n] = self.factory.restore(n, self.config, list(self.storage[n]))
        self.out.append(f"{n} restarted from {len(self.storage[n])} records")
        self._flush(n, "")

    def cmd_partition(self, args: list[str]) -> None:
        text = " ".join(args)
        one_way = "->" in text
        left, _, right = text.partition("->" if one_way else "|")
        side = [self._node(w) for w in left.split()]
        rest = [self._node(w) for w in right.split()]
        for a in side:
            for b in rest:
                self.cuts.add((a, b))
                if not one_way:
                    self.cuts.add((b, a))
        self.out.append("cut " + " ".join(f"{a}->{b}" for a, b in sorted(self.cuts)))

    def cmd_heal(self, args: list[str]) -> None:
        self.cuts.clear()

    def cmd_state(self, args: list[str]) -> None:
        for n in [self._node(a) for a in args] or sorted(self.nodes):
            node = self.nodes[n]
            self.out.append(f"{n}: {node.inspect()!r}" if node is not None else f"{n}: down")

    def cmd_storage(self, args: list[str]) -> None:
        n = self._node(args[0])
        self.out += [f"{n} [{i}] {r!r}" for i, r in enumerate(self.storage[n])]

    def cmd_inflight(self, args: list[str]) -> None:
        self.out += [f"{env.src}->{env.dst} {env.message!r}" for env in self.inflight]


def _blocks(text: str) -> list[tuple[list[str], str, list[str]]]:
    """(comment lines, command, expected output lines) per block."""
    lines = text.splitlines()
    blocks: list[tuple[list[str], str, list[str]]] = []
    i = 0
    comments: list[str] = []
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
        blocks.append((comments, line, expected))
        comments = []
    if comments:
        blocks.append((comments, "", []))
    return blocks


def run_script(text: str, factory: NodeFactory, config: ClusterConfig,
               parse: Callable[[str], Any] = parse_value) -> str:
    """Run every command of ``text``; the same text with the actual output in place."""
    driver = Driver(factory, config, parse)
    out: list[str] = []
    for comments, command, _ in _blocks(text):
        while comments and not comments[0] and out and not out[-1]:
            comments = comments[1:]  # one blank line between blocks is ours
        out += comments
        if command:
            out += [command, SEPARATOR, *driver.run(command), ""]
    while out and not out[-1]:
        out.pop()
    return "\n".join(out) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class TranscriptResult:
    path: Path
    expected: str
    actual: str
    rewritten: bool

    @property
    def ok(self) -> bool:
        return self.rewritten or self.expected == self.actual

    def diff(self) -> str:
        return "".join(difflib.unified_diff(
            self.expected.splitlines(keepends=True), self.actual.splitlines(keepends=True),
            fromfile=f"{self.path} (expected)", tofile=f"{self.path} (actual)"))


def run_transcript(path: Path, factory: NodeFactory, config: ClusterConfig, *,
                   parse: Callable[[str], Any] = parse_value, rewrite: bool = False) -> TranscriptResult:
    """Run a transcript file and compare (or, with ``rewrite``, regenerate it)."""
    expected = path.read_text(encoding="utf-8")
    actual = run_script(expected, factory, config, parse)
    if rewrite and actual != expected:
        path.write_text(actual, encoding="utf-8")
    return TranscriptResult(path=path, expected=expected, actual=actual, rewritten=rewrite)
