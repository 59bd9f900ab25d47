"""Which protocol a flow speaks: by port, by override, or by a look at its first bytes.

Theory of operation
-------------------
A :class:`ProtocolSpec` names a protocol (``"modbus-tcp"``), its transports,
its well-known ports, its analyzer (a ``"module:attribute"`` reference to a
factory, imported on first use so that registering DNP3 costs nothing until
a DNP3 flow shows up) and its content heuristic (``"module:attribute"`` of a
``(data, from_client) -> bool`` callable, the same lazy way).

:meth:`Registry.by_port` answers for a flow's server port, then its client
port (a capture that starts mid-flow may have guessed the sides wrong);
``--port 5020=modbus-tcp`` overrides (:meth:`Registry.with_ports`) win over
the defaults. A flow on no known port is decided by the first data it
carries: each protocol with a heuristic is asked in registration order
(:meth:`Registry.guess`).

A spec without an analyzer is registered but "not yet available": its flows
are counted and listed under its name, nothing more. DNP3, IEC 104, HL7/MLLP,
DICOM and OPC UA are registered that way until their analyzers land; they
plug in by registering a spec with the same name (:meth:`Registry.register`).

Default ports: 502 Modbus/TCP (MB-TCP 4.1), 20000 DNP3 (IEEE 1815 TCP/UDP),
2404 IEC 60870-5-104, 2575 HL7 over MLLP, 104 and 11112 DICOM, 4840 OPC UA.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_REGISTRY",
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
    description: str = ""
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

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

    def looks_like(self, data: bytes, from_client: bool) -> bool:
        """The content heuristic's verdict on a flow's first bytes (False without one)."""
        if self.heuristic is None:
            return False
        if "heuristic" not in self._cache:
            self._cache["heuristic"] = _resolve(self.heuristic)
        verdict: bool = self._cache["heuristic"](data, from_client)
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

    def guess(self, transport: str, data: bytes, from_client: bool) -> ProtocolSpec | None:
        """The first protocol whose heuristic recognises ``data`` (a flow's first bytes)."""
        for spec in self._specs.values():
            if transport in spec.transports and spec.looks_like(data, from_client):
                return spec
        return None


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


_ANALYZERS = "wireproof.harness.replay.analyzers"


def default_registry() -> Registry:
    """The built-in protocols; only Modbus/TCP has an analyzer so far."""
    return Registry([
        ProtocolSpec(name="modbus-tcp", ports=(502,), analyzer=f"{_ANALYZERS}.modbus:ModbusTcpAnalyzer",
                     heuristic=f"{_ANALYZERS}.modbus:looks_like_modbus_tcp",
                     description="Modbus/TCP (MB-TCP)"),
        ProtocolSpec(name="dnp3", ports=(20000,), transports=("tcp", "udp"), description="DNP3 (IEEE 1815)"),
        ProtocolSpec(name="iec104", ports=(2404,), description="IEC 60870-5-104"),
        ProtocolSpec(name="hl7-mllp", ports=(2575,), description="HL7 v2 over MLLP"),
        ProtocolSpec(name="dicom", ports=(104, 11112), description="DICOM upper layer (PS3.8)"),
        ProtocolSpec(name="opcua", ports=(4840,), description="OPC UA binary (IEC 62541-6)"),
    ])


DEFAULT_REGISTRY = default_registry()
