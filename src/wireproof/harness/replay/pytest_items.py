"""``pytest --wireproof-replay FILE``: a capture's flows as pytest items.

Theory of operation (DESIGN.md, "Scale": everything heavy is a pytest item,
so pytest-xdist spreads it; no home-made scheduler):

- At collection, a pre-scan (:func:`~.engine.scan_flows`: dissection and
  protocol dispatch, no analysis) lists the flows the replay would analyse,
  in order of first appearance. Every xdist worker runs the same pre-scan on
  the same file and so builds the same items in the same order, which is
  what xdist requires.
- One item per flow; past ``--wireproof-replay-shards N`` flows, the flows
  are cut into N contiguous groups, one item each. A ``[capture]`` item
  carries what belongs to no flow (frames that could not be dissected) and
  the flows of protocols without an analyzer.
- An item replays the whole capture with a ``flow_filter`` for its own flows
  (:func:`~.run.replay`), and fails listing every finding of severity
  ``error``; the count per severity goes to ``user_properties`` (they
  survive xdist and reach ``--junitxml``).
- A damaged capture (:mod:`.damage`) is replayed up to the damage by every
  item; the ``[capture]`` item fails saying where and how it is damaged (a
  test that judged only part of its input must not pass), with its error
  findings if it has any.

``pytest --wireproof-replay DIR`` (a directory: its captures, as
``wireproof replay DIR`` finds them, :func:`~.sets.collect`) makes one item
per capture instead, ``<capture>::[replay]``, which replays the whole file
and fails on its error findings, its damage, or (a file that cannot be read)
the reason; collection lists the files without reading them, so every xdist
worker builds the same items, and ``--dist loadfile`` keeps each capture's
item on one worker. The set's files are spread over the workers as its
items are.

The plugin (:mod:`wireproof.harness.plugin`) only adds the options and calls
:func:`collect_replay_items` when ``--wireproof-replay`` is given, so a
plain pytest run imports none of this.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from wireproof.harness.replay.damage import Damage
from wireproof.harness.replay.events import FlowKey
from wireproof.harness.replay.findings import Finding
from wireproof.harness.replay.run import replay, scan_flows

__all__ = ["CaptureItem", "ReplayCapture", "ReplayFailure", "ReplayItem", "SetCapture",
           "collect_replay_items", "flow_node_name"]

_SHOWN = 50  # findings listed in a failure


class ReplayFailure(Exception):
    """Findings of severity ``error`` in an item's flows, or (the capture item) a damaged capture."""

    def __init__(self, findings: list[Finding], total: int, damage: Damage | None = None) -> None:
        self.findings = findings
        self.total = total
        self.damage = damage
        super().__init__(f"{total} error finding(s)" if damage is None else damage.describe())


def _host(host: str) -> str:
    # Node ids split on "::"; an IPv6 address is written out in full so it has none.
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    return address.exploded if address.version == 6 else str(address)


def flow_node_name(flow: FlowKey, label: str) -> str:
    """``flow[10.0.0.9:3082 -> 10.0.0.3:502]``, IPv6 exploded (no ``::`` in node ids)."""
    text = label
    for host in (flow.client[0], flow.server[0]):
        if ":" in host:
            text = text.replace(f"[{host}]", f"[{_host(host)}]")
    return f"flow[{text}]"


class ReplayItem(pytest.Item):
    """One shard of a capture: replays it for ``flows`` and fails on error findings."""

    def __init__(self, *, capture: Path, flows: frozenset[FlowKey] | None, labels: tuple[str, ...],
                 capture_level: bool, ports: dict[int, str], timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.capture = capture
        self.flows = flows
        self.labels = labels
        self.capture_level = capture_level
        self.ports = ports
        self.timeout = timeout

    def runtest(self) -> None:
        errors: list[Finding] = []
        flows = self.flows

        def keep(finding: Finding) -> None:
            if finding.severity == "error" and len(errors) < _SHOWN:
                errors.append(finding)

        # flows None: the whole capture (a capture of a --wireproof-replay DIR set).
        result = replay(self.capture, ports=self.ports, analytics=False,
                        flow_filter=None if flows is None else flows.__contains__,
                        capture_findings=self.capture_level, sink=keep, max_findings=0, timeout=self.timeout)
        by = result.collector.by_severity
        self.user_properties.extend([
            ("wireproof.replay.flows", len(self.labels) if flows is not None else result.flows_total),
            ("wireproof.replay.messages", sum(r.messages for r in result.flows)),
            ("wireproof.replay.findings", result.findings_total),
            ("wireproof.replay.errors", by["error"]),
            ("wireproof.replay.warnings", by["warning"]),
        ])
        damage = result.damage if self.capture_level else None
        if damage is not None:
            self.user_properties.append(("wireproof.replay.damage", damage.describe()))
        if by["error"] or damage is not None:
            raise ReplayFailure(errors, by["error"], damage)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ReplayFailure):
            failure = excinfo.value
            lines = []
            if failure.damage is not None:
                lines.append(f"{self.capture.name} is damaged, analysed only up to the damage: "
                             f"{failure.damage.describe()}")
            if failure.total or failure.damage is None:
                lines.append(f"{failure.total} finding(s) of severity error in {self.name} of "
                             f"{self.capture.name}:")
            lines += [f"  {f.describe()}" + (f"\n      hex {f.hex} (offset {f.offset})" if f.hex else "")
                      for f in failure.findings]
            if failure.total > len(failure.findings):
                lines.append(f"  ... and {failure.total - len(failure.findings)} more")
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.capture, None, f"replay {self.capture.name} {self.name}"


class CaptureItem(ReplayItem):
    """A capture of a ``--wireproof-replay DIR`` set, whole: its findings, its damage, or why it is
    unreadable."""

    def runtest(self) -> None:
        from wireproof.errors import FixtureError

        try:
            super().runtest()
        except FixtureError as exc:
            self.user_properties.append(("wireproof.replay.unreadable", str(exc)))
            pytest.fail(f"{self.capture.name} cannot be replayed: {exc}", pytrace=False)


class SetCapture(pytest.File):
    """One capture of a ``--wireproof-replay DIR`` set: one :class:`CaptureItem`, not read at collection."""

    def __init__(self, *, ports: dict[int, str], timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ports = ports
        self.timeout = timeout

    def collect(self) -> Iterable[pytest.Item]:
        yield CaptureItem.from_parent(self, name="[replay]", capture=self.path, flows=None, labels=(),
                                      capture_level=True, ports=self.ports, timeout=self.timeout)


class ReplayCapture(pytest.File):
    """The capture file as a collector of :class:`ReplayItem` shards."""

    def __init__(self, *, shards: int, ports: dict[int, str], timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shards = shards
        self.ports = ports
        self.timeout = timeout

    def collect(self) -> Iterable[pytest.Item]:
        flows = scan_flows(self.path, ports=self.ports)
        common = {"capture": self.path, "ports": self.ports, "timeout": self.timeout}
        yield ReplayItem.from_parent(self, name="[capture]", flows=frozenset(), labels=(),
                                     capture_level=True, **common)
        n = len(flows)
        if n <= self.shards:
            groups = [[i] for i in range(n)]
        else:
            size = -(-n // self.shards)
            groups = [list(range(i, min(i + size, n))) for i in range(0, n, size)]
        for group in groups:
            keys = frozenset(flows[i][0] for i in group)
            labels = tuple(flows[i][1].flow for i in group)
            if len(group) == 1:
                key, record = flows[group[0]]
                name = flow_node_name(key, record.flow)
            else:
                name = f"flows[{group[0] + 1:05d}-{group[-1] + 1:05d}]"
            yield ReplayItem.from_parent(self, name=name, flows=keys, labels=labels, capture_level=False,
                                         **common)


def collect_replay_items(session: pytest.Session, config: pytest.Config) -> list[pytest.Item]:
    """The items of ``--wireproof-replay FILE`` (a usage error when FILE cannot be read) or ``DIR``."""
    from wireproof.errors import FixtureError
    from wireproof.harness.replay.registry import default_registry, parse_port_override

    path = Path(config.getoption("wireproof_replay")).resolve()
    shards = config.getoption("wireproof_replay_shards")
    if shards < 1:
        raise pytest.UsageError(f"--wireproof-replay-shards {shards}: must be >= 1")
    timeout = config.getoption("wireproof_replay_timeout")
    if not (math.isfinite(timeout) and timeout > 0):
        raise pytest.UsageError(f"--wireproof-replay-timeout {timeout}: "
                                "must be a finite number of seconds > 0")
    ports: dict[int, str] = {}
    known = default_registry()
    for item in config.getoption("wireproof_replay_port"):
        try:
            port, name = parse_port_override(item)
        except ValueError as exc:
            raise pytest.UsageError(f"--wireproof-replay-port {exc}") from None
        if name not in known:
            raise pytest.UsageError(f"--wireproof-replay-port {item}: no protocol named {name!r}")
        ports[port] = name
    if path.is_dir():
        return _set_items(session, config, path, ports=ports, timeout=timeout)
    if not path.is_file():
        raise pytest.UsageError(f"--wireproof-replay {path}: no such file")
    capture = ReplayCapture.from_parent(session, path=path, shards=shards, ports=ports,
                                        timeout=timeout)
    try:
        items = list(capture.collect())
    except FixtureError as exc:
        raise pytest.UsageError(f"--wireproof-replay: {exc}") from None
    # What normal collection would have announced (the terminal's "collected N items" counts these).
    for item in items:
        config.hook.pytest_itemcollected(item=item)
    config.hook.pytest_collectreport(report=pytest.CollectReport(capture.nodeid, "passed", None, list(items)))
    return items



def _set_items(session: pytest.Session, config: pytest.Config, directory: Path, *, ports: dict[int, str],
               timeout: float) -> list[pytest.Item]:
    """One :class:`CaptureItem` per capture of ``directory`` (module docstring)."""
    from wireproof.harness.replay.sets import collect

    members = collect([directory])
    if not members.files:
        raise pytest.UsageError(f"--wireproof-replay {directory}: no capture in the directory")
    items: list[pytest.Item] = []
    for file in members.files:
        capture = SetCapture.from_parent(session, path=Path(file), ports=ports, timeout=timeout)
        found: list[pytest.Item | pytest.Collector] = list(capture.collect())
        config.hook.pytest_collectreport(report=pytest.CollectReport(capture.nodeid, "passed", None, found))
        items.extend(item for item in found if isinstance(item, pytest.Item))
    for item in items:
        config.hook.pytest_itemcollected(item=item)
    return items
