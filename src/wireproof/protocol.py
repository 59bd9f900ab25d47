"""Protocol descriptors: what a protocol package offers, and the registry that finds them.

Theory of operation (DESIGN.md, "Protocol descriptors")
-------------------------------------------------------
A protocol is a package of its own plus ONE entry point. The package exports
a :class:`ProtocolDescriptor` (conventionally ``DESCRIPTOR`` in a module
``protocol.py`` beside its codec) and registers it in the entry-point group
``wireproof.protocols``, the way python-can finds its interfaces and pytest
its plugins::

    [project.entry-points."wireproof.protocols"]
    modbus = "wireproof.codecs.modbus.protocol:DESCRIPTOR"

The descriptor is data: each part of the protocol is named by a dotted
reference (``"package.module:attribute"``, or a module path), resolved only
when that part is used. Loading every descriptor therefore imports nothing
but the descriptor modules, and the pure codec packages never import the
harness. What a descriptor declares, and who reads it:

- ``codecs`` (:class:`CodecEntry`): ``wireproof decode`` and
  :func:`wireproof.codecs.get`;
- ``analyzers`` (:class:`AnalyzerEntry`): the replay engine's protocol table
  (default ports, transports, content heuristic, passive analyzer), ``replay
  --send`` (the request/answer correlation) and the replay benchmark (the
  synthetic traffic);
- ``suites`` (:class:`SuiteEntry`, with their :class:`Param` list):
  ``wireproof certify``, ``wireproof suites`` and the pytest plugin's
  ``--wireproof-param`` / alias options;
- ``simulators`` (:class:`SimulatorEntry`): ``wireproof simulate``;
- ``benches`` (:class:`BenchEntry`): ``wireproof bench``;
- ``machines``: the sans-I/O machines whose transition tables the totality
  test drives (:mod:`wireproof.codecs._machine`);
- ``transports``: URL schemes the protocol brings (``can://``), as
  ``(scheme, "module:attr")`` of a :class:`~wireproof.harness.transports.Scheme`
  (:mod:`wireproof.harness.transports.registry` reads them beside its own);
- ``fixtures``: the package holding the protocol's vectors and captures;
- ``compiled``: the modules the mypyc build compiles (``setup.py``).

:class:`ProtocolRegistry` loads the entry points once, on first use, and
takes descriptors registered at run time (:meth:`ProtocolRegistry.register`,
for tests and embedding). A descriptor that cannot be loaded, or a name that
two descriptors claim, is recorded in :attr:`ProtocolRegistry.problems`
(the first claim wins) rather than breaking every command: one broken
third-party package must not take the others down. :data:`REGISTRY` is the
process-wide registry every neutral module reads.
"""

from __future__ import annotations

import contextlib
import importlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

__all__ = [
    "ENTRY_POINT_GROUP",
    "REGISTRY",
    "AnalyzerEntry",
    "BenchEntry",
    "CodecEntry",
    "Param",
    "ProtocolDescriptor",
    "ProtocolRegistry",
    "SimulatorEntry",
    "SuiteEntry",
    "each_param_alias",
    "resolve",
]

ENTRY_POINT_GROUP: Final = "wireproof.protocols"

Ref = str
"""A dotted reference: ``"package.module:attribute"`` (or a module path where a module is meant)."""

T = TypeVar("T")


def resolve(ref: Ref) -> Any:
    """Import what ``"package.module:attribute"`` names (the module itself without ``:attribute``).

    ``ImportError`` / ``AttributeError`` propagate: the caller says which part failed.
    """
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


# --------------------------------------------------------------------------- parameters

ParamKind = Literal["str", "int", "float", "bool"]
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    """A suite parameter: ``--param NAME=VALUE`` (and ``--wireproof-param`` in pytest).

    ``alias`` gives it an option of its own as well: ``--ALIAS`` in ``wireproof
    certify`` and ``--wireproof-ALIAS`` (fixture ``wireproof_ALIAS``) in the
    pytest plugin. ``minimum``/``maximum`` bound numbers; ``what`` names the
    value in error messages ("a unit identifier") and ``clause`` cites the
    bound. ``default`` is what the alias fixture gives when the parameter is
    not set (the suite may still prefer its device profile's value).
    """

    name: str
    help: str
    kind: ParamKind = "str"
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    alias: str = ""
    what: str = ""
    clause: str = ""
    metavar: str = ""

    def parse(self, text: str) -> Any:
        """The value ``text`` stands for; ``ValueError`` saying what is wrong with it.

        The message is the reason alone (``"a unit identifier is 0..255 (MB-TCP
        4.4.1.1)"``): the caller says how the value was given.
        """
        value: Any
        if self.kind == "str":
            return text
        if self.kind == "bool":
            low = text.strip().lower()
            if low not in _TRUE | _FALSE:
                raise ValueError("expected true or false")
            return low in _TRUE
        try:
            value = int(text, 0) if self.kind == "int" else float(text)
        except ValueError:
            raise ValueError("not an integer" if self.kind == "int" else "not a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("not a finite number")
        if (self.minimum is not None and value < self.minimum) or \
                (self.maximum is not None and value > self.maximum):
            raise ValueError(self.bounds_text())
        return value

    def bounds_text(self) -> str:
        """``"a unit identifier is 0..255 (MB-TCP 4.4.1.1)"``, for errors and help."""
        what = f"{self.what} is" if self.what else f"{self.name} must be"
        if self.minimum is not None and self.maximum is not None:
            span = f"{_num(self.minimum)}..{_num(self.maximum)}"
        elif self.minimum is not None:
            span = f">= {_num(self.minimum)}"
        elif self.maximum is not None:
            span = f"<= {_num(self.maximum)}"
        else:
            span = f"a {self.kind}"
        cite = f" ({self.clause})" if self.clause else ""
        return f"{what} {span}{cite}"

    def describe(self) -> str:
        """One line for ``--help``: name, kind and bounds, alias, what it is for."""
        bits: list[str] = [self.kind]
        if self.minimum is not None or self.maximum is not None:
            bits.append(self.bounds_text().split(" is ", 1)[-1].split(" must be ", 1)[-1])
        if self.alias:
            bits.append(f"also --{self.alias}")
        return f"{self.name} ({'; '.join(bits)}): {self.help}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


# --------------------------------------------------------------------------- the parts

@dataclass(frozen=True, slots=True, kw_only=True)
class CodecEntry:
    """A codec by name (``modbus-tcp``): ``factory`` is a zero-argument callable returning it.

    ``directions`` lists the values its ``decode(data, direction=...)`` takes
    (empty: the codec takes no direction).
    """

    name: str
    factory: Ref
    description: str = ""
    directions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AnalyzerEntry:
    """A protocol as capture replay sees it (flows of ``transports`` on ``ports``).

    ``analyzer``: ``factory(flow, sink) -> FlowAnalyzer`` (None: recognised,
    not analysed). ``heuristic``: ``(data, from_client) -> bool | None`` on a
    flow's first bytes (None: needs more bytes) or, for a message transport,
    on its first message. ``correlation``: how ``replay --send`` pairs a
    request with its answer and compares answers. ``traffic``: the synthetic
    capture the replay benchmark writes.
    """

    name: str
    ports: tuple[int, ...] = ()
    transports: tuple[str, ...] = ("tcp",)
    analyzer: Ref | None = None
    heuristic: Ref | None = None
    correlation: Ref | None = None
    traffic: Ref | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteEntry:
    """A conformance suite: the package of its clause test files, and its parameters.

    ``profile`` (``check(document) -> profile``) reads a parsed device
    profile (TOML) and raises :class:`~wireproof.errors.FixtureError` naming
    the key that is unknown or of the wrong type: ``certify`` calls it before
    any clause runs, so a bad profile is a usage error, not a clause error.
    ``default_profile`` (``"package:file"``) is the profile a run without
    ``--profile`` is judged against; ``certify SUITE --help`` shows where.
    ``profile_reader`` (``read(data: bytes) -> document``) turns a profile
    file's octets into the document ``profile`` checks, for a suite whose
    profiles are not (only) TOML (an XML device profile, say); it raises
    :class:`~wireproof.errors.FixtureError` saying why the file cannot be
    read. Without one, the file is read as TOML
    (:func:`wireproof.harness.suites.profile_document`).

    ``device_role`` says what the device under test is. ``"server"`` (the
    default): wireproof connects to it (``certify --target URL``).
    ``"client"``: wireproof listens and the device connects to it (a master,
    a client): ``certify --bind HOST:PORT`` waits for it, ``certify --command
    CMD`` starts it (``{host}``, ``{port}``, ``{url}`` and ``{python}``
    substituted), and without either the suite runs ``default_command``
    (its own reference client) the same way.
    """

    name: str
    package: str
    description: str
    protocol: str
    params: tuple[Param, ...] = ()
    profile: Ref | None = None
    default_profile: str = ""
    profile_reader: Ref | None = None
    device_role: Literal["server", "client"] = "server"
    default_command: str = ""

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def parse_param(self, name: str, text: str) -> Any:
        """The value of parameter ``name`` given as ``text``; ``ValueError`` for an undeclared
        name (listing the declared ones) or a bad value (:meth:`Param.parse`)."""
        param = self.param(name)
        if param is None:
            known = ", ".join(p.name for p in self.params) or "none"
            raise ValueError(f"suite {self.name} has no parameter {name!r}; known: {known}")
        return param.parse(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatorEntry:
    """A reference device for ``wireproof simulate NAME``.

    ``run`` is ``run(args) -> exit code``; ``add_arguments`` (``add_arguments(parser)``)
    adds the device's own options, which ``wireproof simulate NAME --help`` shows.
    """

    name: str
    run: Ref
    add_arguments: Ref | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BenchEntry:
    """A benchmark for ``wireproof bench NAME``: ``run(args) -> exit code``.

    Every benchmark gets the common options (``--json``, ``--seconds``,
    ``--quick``, ``--require-goals``, ``--profile``); ``add_arguments`` may add its own.
    """

    name: str
    run: Ref
    add_arguments: Ref | None = None
    description: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolDescriptor:
    """Everything a protocol package offers (see the module docstring)."""

    name: str
    title: str
    codecs: tuple[CodecEntry, ...] = ()
    analyzers: tuple[AnalyzerEntry, ...] = ()
    suites: tuple[SuiteEntry, ...] = ()
    simulators: tuple[SimulatorEntry, ...] = ()
    benches: tuple[BenchEntry, ...] = ()
    machines: tuple[Ref, ...] = ()
    transports: tuple[tuple[str, Ref], ...] = ()
    fixtures: str | None = None  # "package:folder" holding vectors/*.toml and captures/
    compiled: tuple[str, ...] = ()


# --------------------------------------------------------------------------- the registry

_KINDS: Final = ("codecs", "analyzers", "suites", "simulators", "benches")


class ProtocolRegistry:
    """The descriptors of the installed protocols (see the module docstring)."""

    def __init__(self, descriptors: Iterable[ProtocolDescriptor] | None = None, *,
                 group: str = ENTRY_POINT_GROUP) -> None:
        self.group = group
        self.problems: list[str] = []
        self._descriptors: dict[str, ProtocolDescriptor] = {}
        self._loaded = descriptors is not None
        self._index: dict[str, dict[str, tuple[ProtocolDescriptor, Any]]] | None = None
        for d in descriptors or ():
            self.register(d)

    # -- loading ---------------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """Whether the entry points have been read (by anything that asked)."""
        return self._loaded

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        from importlib.metadata import entry_points

        for ep in sorted(entry_points(group=self.group), key=lambda e: e.name):
            try:
                made = ep.load()
                descriptor = made() if callable(made) else made
            except Exception as exc:  # a broken package is reported, not fatal to the others
                self.problems.append(f"protocol {ep.name!r} ({ep.value}) cannot be loaded: "
                                     f"{type(exc).__name__}: {exc}")
                continue
            if not isinstance(descriptor, ProtocolDescriptor):
                self.problems.append(f"protocol {ep.name!r} ({ep.value}) is a {type(descriptor).__name__}, "
                                     "not a ProtocolDescriptor")
                continue
            self._add(descriptor, replace=False)

    def register(self, descriptor: ProtocolDescriptor) -> None:
        """Add ``descriptor`` (replacing one of the same name): for tests and embedding."""
        self._load()
        self._add(descriptor, replace=True)

    @contextlib.contextmanager
    def temporary(self) -> Iterator[ProtocolRegistry]:
        """Registrations made inside the ``with`` block are undone at its end (tests)."""
        self._load()
        saved = dict(self._descriptors), list(self.problems)
        try:
            yield self
        finally:
            self._descriptors, self.problems = dict(saved[0]), list(saved[1])
            self._index = None

    def unregister(self, name: str) -> None:
        """Remove the descriptor called ``name`` (no error if there is none)."""
        self._load()
        self._descriptors.pop(name, None)
        self._index = None

    def _add(self, descriptor: ProtocolDescriptor, *, replace: bool) -> None:
        if descriptor.name in self._descriptors and not replace:
            self.problems.append(f"protocol {descriptor.name!r} is registered twice; the first is used")
            return
        self._descriptors[descriptor.name] = descriptor
        self._index = None

    def _indexed(self) -> dict[str, dict[str, tuple[ProtocolDescriptor, Any]]]:
        self._load()
        if self._index is None:
            index: dict[str, dict[str, tuple[ProtocolDescriptor, Any]]] = {k: {} for k in _KINDS}
            for d in self._descriptors.values():
                for kind in _KINDS:
                    for entry in getattr(d, kind):
                        taken = index[kind].get(entry.name)
                        if taken is not None:
                            self.problems.append(f"{kind[:-1]} {entry.name!r} of protocol {d.name!r} is "
                                                 f"already offered by {taken[0].name!r}; ignored")
                            continue
                        index[kind][entry.name] = (d, entry)
            self._index = index
        return self._index

    # -- reading ---------------------------------------------------------------------

    def descriptors(self) -> list[ProtocolDescriptor]:
        """Every descriptor, by name."""
        self._load()
        return [self._descriptors[n] for n in sorted(self._descriptors)]

    def descriptor(self, name: str) -> ProtocolDescriptor:
        self._load()
        try:
            return self._descriptors[name]
        except KeyError:
            raise KeyError(f"no protocol named {name!r}; known: {', '.join(sorted(self._descriptors))}") \
                from None

    def _entries(self, kind: str) -> dict[str, tuple[ProtocolDescriptor, Any]]:
        return self._indexed()[kind]

    def codecs(self) -> list[CodecEntry]:
        return _values(self._entries("codecs"))

    def analyzers(self) -> list[AnalyzerEntry]:
        """In registration order of their protocols (the order heuristics are tried in)."""
        return [entry for _, entry in self._entries("analyzers").values()]

    def suites(self) -> list[SuiteEntry]:
        return _values(self._entries("suites"))

    def simulators(self) -> list[SimulatorEntry]:
        return _values(self._entries("simulators"))

    def benches(self) -> list[BenchEntry]:
        return _values(self._entries("benches"))

    def codec(self, name: str) -> CodecEntry:
        entry: CodecEntry = self._one("codecs", "codec", name)
        return entry

    def suite(self, name: str) -> SuiteEntry:
        entry: SuiteEntry = self._one("suites", "suite", name)
        return entry

    def simulator(self, name: str) -> SimulatorEntry:
        entry: SimulatorEntry = self._one("simulators", "device", name)
        return entry

    def bench(self, name: str) -> BenchEntry:
        entry: BenchEntry = self._one("benches", "benchmark", name)
        return entry

    def owner(self, kind: str, name: str) -> ProtocolDescriptor:
        """The descriptor that offers the ``kind`` entry (``"suites"``, ...) called ``name``."""
        return self._entries(kind)[name][0]

    def _one(self, kind: str, noun: str, name: str) -> Any:
        entries = self._entries(kind)
        try:
            return entries[name][1]
        except KeyError:
            raise KeyError(f"no {noun} named {name!r}; known: {', '.join(sorted(entries)) or 'none'}") \
                from None

    def machines(self) -> Iterator[tuple[str, Ref]]:
        """(protocol, reference) of every declared machine."""
        for d in self.descriptors():
            for ref in d.machines:
                yield d.name, ref

    def compiled_modules(self) -> list[str]:
        """Every module a protocol asks the compiled build to compile, dotted, in order."""
        return [m for d in self.descriptors() for m in d.compiled]


def _values(entries: dict[str, tuple[ProtocolDescriptor, T]]) -> list[T]:
    return [entries[n][1] for n in sorted(entries)]


def each_param_alias(suites: Iterable[SuiteEntry]) -> Iterator[tuple[Param, SuiteEntry]]:
    """Every parameter with an alias, the first suite to claim an alias winning."""
    seen: set[str] = set()
    for suite in suites:
        for p in suite.params:
            if p.alias and p.alias not in seen:
                seen.add(p.alias)
                yield p, suite


REGISTRY: Final = ProtocolRegistry()
"""The process-wide registry (entry points, loaded on first use)."""
