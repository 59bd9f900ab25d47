"""Which protocol a flow speaks: by port, by override, or by a look at its first bytes.

Theory of operation
-------------------
A :class:`ProtocolSpec` names a protocol (``"modbus-tcp"``), its transports,
its well-known ports, its analyzer (a ``"module:attribute"`` reference to a
factory, imported on first use so that registering a protocol costs nothing
until one of its flows shows up) and its content heuristic (``"module:attribute"`` of a
``(data, from_client) -> bool | None`` callable, the same lazy way; None:
"need more bytes").

:meth:`Registry.by_port` answers for a flow's server port, then its client
port (a capture that starts mid-flow may have guessed the sides wrong);
``--port 5020=modbus-tcp`` overrides (:meth:`Registry.with_ports`) win over
the defaults. A flow on no known port is decided by the first data it
carries: each protocol with a heuristic is asked in registration order
(:meth:`Registry.guess`); a message transport's flow (a CAN bus) by its
first message (:meth:`Registry.for_message`).

The specs come from the protocol descriptors (:mod:`wireproof.protocol`:
each protocol package's ``analyzers`` entries); :func:`default_registry`
builds the table from them, so this module names no protocol. A spec
without an analyzer is "not yet available": its flows are counted and
listed under its name, nothing more.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wireproof.protocol import AnalyzerEntry

__all__ = [
    "ProtocolSpec",
    "Registry",
    "default_registry",
    "parse_port_override",
]

Heuristic = Callable[[bytes, bool], bool]


def _resolve(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolSpec:
    """A protocol the replay engine knows (see the module docstring)."""

    name: str
    ports: tuple[int, ...] = ()
    transports: tuple[str, ...] = ("tcp",)
    analyzer: str | None = None  # "module:factory"; None: not yet available
    heuristic: str | None = None  # "module:callable"
    correlation: str | None = None  # "module:factory" of the --send correlation
    description: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_entry(cls, entry: AnalyzerEntry) -> ProtocolSpec:
        """The spec a protocol descriptor's analyzer entry describes."""
        return cls(name=entry.name, ports=entry.ports, transports=entry.transports, analyzer=entry.analyzer,
                   heuristic=entry.heuristic, correlation=entry.correlation, description=entry.description)

    @property
    def available(self) -> bool:
        """Whether flows of this protocol are analysed (not only counted)."""
        return self.analyzer is not None

    def factory(self) -> Any:
        """The analyzer factory (imported on first use), or None when not available."""
        if self.analyzer is None:
            return None
        if "factory" not in self._cache:
            self._cache["factory"] = _resolve(self.analyzer)
        return self._cache["factory"]

    def looks_like(self, data: Any, from_client: bool) -> bool | None:
        """The content heuristic's verdict on a flow's first bytes (or first message).

        True: this protocol; False: not this protocol; None: it cannot tell
        yet, more bytes needed. Without a heuristic: False.
        """
        if self.heuristic is None:
            return False
        if "heuristic" not in self._cache:
            self._cache["heuristic"] = _resolve(self.heuristic)
        verdict: bool | None = self._cache["heuristic"](data, from_client)
        return verdict


class Registry:
    """Protocol specs by name, and the port table built from them and the overrides."""

    def __init__(self, specs: Iterable[ProtocolSpec] = (), ports: Mapping[int, str] | None = None) -> None:
        self._specs: dict[str, ProtocolSpec] = {}
        self._overrides: dict[int, str] = {}
        for spec in specs:
            self.register(spec)
        for port, name in (ports or {}).items():
            self._override(port, name)

    def register(self, spec: ProtocolSpec) -> None:
        """Add a protocol, or replace the one of the same name (an analyzer landing)."""
        self._specs[spec.name] = spec

    def _override(self, port: int, name: str) -> None:
        if name not in self._specs:
            raise KeyError(f"no protocol named {name!r}; known: {', '.join(self.names())}")
        if not 0 < port < 65536:
            raise ValueError(f"port {port} not in 1..65535")
        self._overrides[port] = name

    def with_ports(self, ports: Mapping[int, str]) -> Registry:
        """A copy where ``ports`` (port -> protocol name) override the defaults."""
        copy = Registry(self._specs.values(), self._overrides)
        for port, name in ports.items():
            copy._override(port, name)
        return copy

    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, name: str) -> ProtocolSpec:
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def port_table(self) -> dict[int, str]:
        """Port -> protocol name: the defaults, then the overrides."""
        table = {port: spec.name for spec in self._specs.values() for port in spec.ports}
        table.update(self._overrides)
        return table

    def for_port(self, transport: str, port: int) -> ProtocolSpec | None:
        name = self._overrides.get(port)
        if name is None:
            for spec in self._specs.values():
                if port in spec.ports and transport in spec.transports:
                    return spec
            return None
        spec = self._specs[name]
        return spec if transport in spec.transports else None

    def by_port(self, transport: str, client_port: int, server_port: int) -> tuple[ProtocolSpec, bool] | None:
        """The spec for a flow's ports, and whether the flow's sides must be swapped.

        The server port is tried first; a match on the client port only means
        the flow's client/server guess was wrong (no handshake seen).
        """
        spec = self.for_port(transport, server_port)
        if spec is not None:
            return spec, False
        spec = self.for_port(transport, client_port)
        if spec is not None:
            return spec, True
        return None

    def guess(self, transport: str, data: bytes, from_client: bool) -> tuple[ProtocolSpec | None, bool]:
        """The first protocol whose heuristic recognises ``data`` (a flow's first bytes, or a
        datagram), and whether any heuristic that did not needs more bytes to tell."""
        more = False
        for spec in self._specs.values():
            if transport in spec.transports:
                verdict = spec.looks_like(data, from_client)
                if verdict:
                    return spec, False
                more = more or verdict is None
        return None, more

    def for_message(self, transport: str, message: Any) -> ProtocolSpec | None:
        """The protocol of a message transport's flow (a CAN bus), by its first message.

        The heuristics of the protocols declaring the transport are asked in
        registration order; failing them, the first such protocol without a
        heuristic takes the flow (a protocol that is the whole bus).
        """
        fallback: ProtocolSpec | None = None
        for spec in self._specs.values():
            if transport not in spec.transports:
                continue
            if spec.heuristic is None:
                fallback = fallback or spec
            elif spec.looks_like(message, True):
                return spec
        return fallback


def parse_port_override(text: str) -> tuple[int, str]:
    """``"5020=modbus-tcp"`` -> ``(5020, "modbus-tcp")``; ``ValueError`` saying what is wrong."""
    port_text, sep, name = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"{text!r}: expected PORT=PROTOCOL (e.g. 5020=modbus-tcp)")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r}: {port_text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise ValueError(f"{text!r}: port {port} not in 1..65535")
    return port, name.strip()


def default_registry() -> Registry:
    """The protocols the installed descriptors declare, in registration order."""
    from wireproof.protocol import REGISTRY

    return Registry(ProtocolSpec.from_entry(entry) for entry in REGISTRY.analyzers())

