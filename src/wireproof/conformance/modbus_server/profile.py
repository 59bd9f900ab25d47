"""The device profile of a Modbus TCP server: which clauses apply, and where.

A profile is a small TOML file (``default-profile.toml`` next to this module
describes the built-in reference server and is the worked example)::

    [device]
    name = "my PLC"
    unit_id = 1                     # optional; --wireproof-unit overrides it
    function_codes = [1, 2, 3, 4, 5, 6, 15, 16]
    max_pipelined = 4               # requests the server accepts outstanding (MB-TCP 4.2)
    response_timeout = 1.0          # seconds within which an answer must come
    accepts_unit_ff = true          # a direct (non-gateway) device answers unit 0xFF
    unsupported_function_code = 25  # optional; the FC the MB-AP 7 clause sends
    max_connections = 2             # optional; connections the server accepts at once
                                    #   (MB-TCP 4.2.1); default: no limit declared

    [tables.coils]                  # also discrete_inputs, holding_registers,
    start = 0                       #   input_registers; a table left out is
    count = 2000                    #   "not implemented": its clauses do not apply
    writable = true
    scratch = 0                     # where write clauses may write (restored after)

A clause for a function code the profile does not list is ``not_applicable``,
and so is one that needs more connections open at once than ``max_connections``
declares (a refusal within the declared limit is a ``fail``);
an address-out-of-range clause uses ``start + count``, the first address past
the table (MB-AP 4.4: a device implements some subset of 0..65535).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs.modbus.constants import ADDRESS_SPACE
from wireproof.errors import FixtureError
from wireproof.harness.fixtures import read_packaged_text

__all__ = ["TABLES", "AddressRange", "DeviceProfile", "default_profile", "load_profile"]

TABLES: Final = ("coils", "discrete_inputs", "holding_registers", "input_registers")
DEFAULT_PROFILE_FILE: Final = "default-profile.toml"

# Function codes that MB-AP 5.1 leaves unassigned in the public range: a
# server that does not implement them must answer ILLEGAL FUNCTION (MB-AP 7).
_UNASSIGNED_PUBLIC: Final = (0x19, 0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F, 0x30)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressRange:
    """One table's implemented addresses ``start .. start + count - 1`` (MB-AP 4.3)."""

    start: int
    count: int
    writable: bool = False
    scratch: int | None = None

    @property
    def end(self) -> int:
        """The first address past the range (may be 65536: nothing lies past it)."""
        return self.start + self.count

    @property
    def write_address(self) -> int:
        """Where write clauses write (``scratch``, else the first address)."""
        return self.start if self.scratch is None else self.scratch


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceProfile:
    """What a Modbus server implements, as far as the ``modbus-server`` suite asks."""

    name: str = "unnamed device"
    unit_id: int | None = None
    function_codes: frozenset[int] = frozenset()
    tables: Mapping[str, AddressRange | None] = field(default_factory=lambda: dict.fromkeys(TABLES))
    max_pipelined: int = 1
    response_timeout: float = 1.0
    accepts_unit_ff: bool = True
    unsupported_function_code: int | None = None
    max_connections: int | None = None  # None: the device declares no limit

    def supports(self, function_code: int) -> bool:
        return function_code in self.function_codes

    def table(self, name: str) -> AddressRange | None:
        return self.tables.get(name)

    def illegal_function_code(self) -> int:
        """A function code the device does not implement (MB-AP 7, code 01)."""
        if self.unsupported_function_code is not None:
            return self.unsupported_function_code
        for code in _UNASSIGNED_PUBLIC:
            if code not in self.function_codes:
                return code
        raise FixtureError("profile: every candidate function code is listed as supported; "
                           "set device.unsupported_function_code")


def _int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FixtureError(f"profile: {where} must be an integer in {lo}..{hi}, not {value!r}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FixtureError(f"profile: {where} must be true or false, not {value!r}")
    return value


def _table(name: str, doc: Any) -> AddressRange:
    if not isinstance(doc, Mapping):
        raise FixtureError(f"profile: [tables.{name}] must be a table")
    unknown = set(doc) - {"start", "count", "writable", "scratch"}
    if unknown:
        raise FixtureError(f"profile: [tables.{name}]: unknown key(s) {', '.join(sorted(unknown))}")
    start = _int(f"tables.{name}.start", doc.get("start", 0), 0, ADDRESS_SPACE - 1)
    count = _int(f"tables.{name}.count", doc.get("count"), 1, ADDRESS_SPACE - start)
    writable = _bool(f"tables.{name}.writable", doc.get("writable", name in ("coils", "holding_registers")))
    scratch = doc.get("scratch")
    if scratch is not None:
        scratch = _int(f"tables.{name}.scratch", scratch, start, start + count - 1)
    return AddressRange(start=start, count=count, writable=writable, scratch=scratch)


_DEVICE_KEYS: Final = frozenset({"name", "unit_id", "function_codes", "max_pipelined", "response_timeout",
                                 "accepts_unit_ff", "unsupported_function_code", "max_connections"})


def load_profile(doc: Mapping[str, Any]) -> DeviceProfile:
    """A :class:`DeviceProfile` from a parsed TOML document; :class:`FixtureError` if invalid."""
    unknown = set(doc) - {"device", "tables"}
    if unknown:
        raise FixtureError(f"profile: unknown top-level key(s) {', '.join(sorted(unknown))}")
    device = doc.get("device", {})
    tables_doc = doc.get("tables", {})
    if not isinstance(device, Mapping) or not isinstance(tables_doc, Mapping):
        raise FixtureError("profile: [device] and [tables] must be tables")
    bad = set(device) - _DEVICE_KEYS
    if bad:
        raise FixtureError(f"profile: [device]: unknown key(s) {', '.join(sorted(bad))}")
    bad = set(tables_doc) - set(TABLES)
    if bad:
        raise FixtureError(f"profile: unknown table(s) {', '.join(sorted(bad))}; known: {', '.join(TABLES)}")
    codes = device.get("function_codes", [])
    if not isinstance(codes, list):
        raise FixtureError("profile: device.function_codes must be a list of integers")
    unit = device.get("unit_id")
    timeout = device.get("response_timeout", 1.0)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 60:
        raise FixtureError(f"profile: device.response_timeout must be 0 < seconds <= 60, not {timeout!r}")
    illegal = device.get("unsupported_function_code")
    name = device.get("name", "unnamed device")
    if not isinstance(name, str):
        raise FixtureError("profile: device.name must be a string")
    return DeviceProfile(
        name=name,
        unit_id=None if unit is None else _int("device.unit_id", unit, 0, 255),
        function_codes=frozenset(_int("device.function_codes[]", c, 1, 127) for c in codes),
        tables={t: _table(t, tables_doc[t]) if t in tables_doc else None for t in TABLES},
        max_pipelined=_int("device.max_pipelined", device.get("max_pipelined", 1), 1, 65535),
        response_timeout=float(timeout),
        accepts_unit_ff=_bool("device.accepts_unit_ff", device.get("accepts_unit_ff", True)),
        unsupported_function_code=None if illegal is None
        else _int("device.unsupported_function_code", illegal, 1, 127),
        max_connections=None if device.get("max_connections") is None
        else _int("device.max_connections", device["max_connections"], 1, 65535),
    )


def default_profile() -> DeviceProfile:
    """The profile of the built-in reference server (``default-profile.toml``, read by the harness)."""
    return load_profile(tomllib.loads(read_packaged_text(__package__, DEFAULT_PROFILE_FILE)))
