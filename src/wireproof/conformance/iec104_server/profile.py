"""The interoperability list of an IEC 104 controlled station as TOML: which clauses apply, with what numbers.

IEC 60870-5-104 clause 9 (and 101 clause 8) give the interoperability list
a vendor fills in: the system or device, the field sizes, the type
identifications in each direction, the basic application functions and the
protocol parameters k, w, t0..t3. This is that list as a small TOML file,
plus the points a run uses (``default-profile.toml`` describes the wireproof
reference server and is the worked example)::

    [station]
    name = "my RTU"
    common_address = 1             # the station's common address of the ASDU (101 7.2.4)
    ioa_size = 3                   # 104 clause 9: 3 (the suite speaks the 104 sizes: cause 2, CA 2)
    response_timeout = 2.0         # seconds within which an answer must come
    max_connections = 2            # connections the station serves at once (1: one)
    end_of_initialisation = true   # sends M_EI_NA_1 after the first STARTDT of a connection

    [apci]                         # 104 clause 9: "definition of time outs", k and w
    k = 12
    w = 8
    t0 = 30
    t1 = 15
    t2 = 10
    t3 = 20

    [monitor]                      # type id name -> the information object addresses it reports
    M_SP_NA_1 = [1001, 1002]
    M_IT_NA_1 = [4001]

    [control]
    types = ["C_IC_NA_1", "C_CI_NA_1", "C_CS_NA_1", "C_RD_NA_1", "C_TS_TA_1", "C_SC_NA_1"]
    interrogation_groups = []      # groups 1..16 answered (QOI 21..36)
    select_required = [5001]       # command IOAs that refuse execute without select
    command_termination = true     # commands end with ACT_TERM (101 7.4.7)

    [points]                       # which IOAs the command clauses use (0 or absent: not applicable)
    single_command = 5001
    single_command_feedback = 1001
    double_command = 5002
    double_command_feedback = 2001
    setpoint_float = 6001
    setpoint_float_feedback = 3201
    unused_ioa = 999               # an IOA the station does not have (COT 47)
    unused_common_address = 2      # a common address the station does not have (COT 46)
    spontaneous = 1001             # the point the change_trigger changes (reported with COT 3)

A clause needing something the list says the station lacks is
``not_applicable`` naming the key. :func:`load_profile` checks every key
and type and raises :class:`~wireproof.errors.FixtureError` naming the bad key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.codecs.iec104.constants import TypeId
from wireproof.errors import FixtureError
from wireproof.harness.fixtures import read_packaged_text

__all__ = ["APCI_KEYS", "POINT_KEYS", "StationProfile", "default_profile", "load_profile"]

DEFAULT_PROFILE_FILE: Final = "default-profile.toml"
_STATION_KEYS: Final = frozenset(
    {"name", "common_address", "ioa_size", "response_timeout", "max_connections", "end_of_initialisation"}
)
APCI_KEYS: Final = ("k", "w", "t0", "t1", "t2", "t3")
_APCI_DEFAULTS: Final = {"k": 12, "w": 8, "t0": 30.0, "t1": 15.0, "t2": 10.0, "t3": 20.0}
_CONTROL_KEYS: Final = frozenset({"types", "interrogation_groups", "select_required", "command_termination"})
POINT_KEYS: Final = (
    "single_command",
    "single_command_feedback",
    "double_command",
    "double_command_feedback",
    "setpoint_float",
    "setpoint_float_feedback",
    "unused_ioa",
    "unused_common_address",
    "spontaneous",
)
_DEFAULT_CONTROL: Final = ("C_IC_NA_1", "C_CI_NA_1", "C_RD_NA_1", "C_CS_NA_1", "C_TS_TA_1")


@dataclass(frozen=True, slots=True, kw_only=True)
class StationProfile:
    """What a controlled station implements, as far as the ``iec104-server`` suite asks."""

    name: str = "unnamed controlled station"
    common_address: int = 1
    ioa_size: int = 3
    response_timeout: float = 2.0
    max_connections: int = 1
    end_of_initialisation: bool = False
    k: int = 12
    w: int = 8
    t0: float = 30.0
    t1: float = 15.0
    t2: float = 10.0
    t3: float = 20.0
    monitor: Mapping[int, tuple[int, ...]] = field(default_factory=dict)
    control: frozenset[int] = frozenset(TypeId[n] for n in _DEFAULT_CONTROL)
    interrogation_groups: frozenset[int] = frozenset()
    select_required: frozenset[int] = frozenset()
    command_termination: bool = True
    points: Mapping[str, int] = field(default_factory=dict)

    def point(self, key: str) -> int:
        """The IOA of ``key`` in [points] (0: not given)."""
        return self.points.get(key, 0)

    def monitor_points(self) -> dict[int, int]:
        """Every monitored IOA -> its type identification."""
        return {ioa: type_id for type_id, ioas in self.monitor.items() for ioa in ioas}

    def supports(self, type_id: int) -> bool:
        return type_id in self.control


def _int(where: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise FixtureError(f"profile: {where} must be an integer in {lo}..{hi}, not {value!r}")
    return value


def _bool(where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise FixtureError(f"profile: {where} must be true or false, not {value!r}")
    return value


def _seconds(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 600:
        raise FixtureError(f"profile: {where} must be 0 < seconds <= 600, not {value!r}")
    return float(value)


def _table(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    table = doc.get(name, {})
    if not isinstance(table, Mapping):
        raise FixtureError(f"profile: [{name}] must be a table")
    return table


def _type_id(where: str, name: Any, prefix: str) -> int:
    if not isinstance(name, str) or name not in TypeId.__members__ or not name.startswith(prefix):
        raise FixtureError(
            f"profile: {where}: {name!r} is not a type identification {prefix}* "
            "(101 7.2.1.1 mnemonics, e.g. M_SP_NA_1)"
        )
    return int(TypeId[name])


def _list(where: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise FixtureError(f"profile: {where} must be a list")
    return value


def load_profile(doc: Mapping[str, Any]) -> StationProfile:
    """A :class:`StationProfile` from a parsed document; :class:`FixtureError` naming the bad key."""
    unknown = set(doc) - {"station", "apci", "monitor", "control", "points"}
    if unknown:
        raise FixtureError(f"profile: unknown top-level key(s) {', '.join(sorted(unknown))}")
    station, apci = _table(doc, "station"), _table(doc, "apci")
    monitor, control, points = _table(doc, "monitor"), _table(doc, "control"), _table(doc, "points")
    for where, table, known in (
        ("station", station, _STATION_KEYS),
        ("apci", apci, set(APCI_KEYS)),
        ("control", control, _CONTROL_KEYS),
        ("points", points, set(POINT_KEYS)),
    ):
        bad = set(table) - set(known)
        if bad:
            raise FixtureError(
                f"profile: [{where}]: unknown key(s) {', '.join(sorted(bad))}; "
                f"known: {', '.join(sorted(known))}"
            )
    name = station.get("name", "unnamed controlled station")
    if not isinstance(name, str):
        raise FixtureError("profile: station.name must be a string")
    ioa_size = _int("station.ioa_size", station.get("ioa_size", 3), 3, 3)
    ioa_max = (1 << (8 * ioa_size)) - 1
    timers = {
        key: _seconds(f"apci.{key}", apci.get(key, _APCI_DEFAULTS[key])) for key in ("t0", "t1", "t2", "t3")
    }
    k = _int("apci.k", apci.get("k", 12), 1, 32767)
    w = _int("apci.w", apci.get("w", 8), 1, 32767)
    if w > k:
        raise FixtureError(
            f"profile: apci.w ({w}) must not exceed apci.k ({k}) (104 clause 9 recommends at most 2k/3)"
        )
    if timers["t2"] >= timers["t1"]:
        raise FixtureError(
            f"profile: apci.t2 ({timers['t2']:g}) must be less than apci.t1 ({timers['t1']:g}) (104 clause 9)"
        )
    mon = {
        _type_id(f"monitor.{key}", key, "M_"): tuple(
            _int(f"monitor.{key}[]", ioa, 0, ioa_max) for ioa in _list(f"monitor.{key}", value)
        )
        for key, value in monitor.items()
    }
    types = frozenset(
        _type_id("control.types[]", n, "C_")
        for n in _list("control.types", control.get("types", list(_DEFAULT_CONTROL)))
    )
    groups = frozenset(
        _int("control.interrogation_groups[]", g, 1, 16)
        for g in _list("control.interrogation_groups", control.get("interrogation_groups", []))
    )
    select = frozenset(
        _int("control.select_required[]", i, 0, ioa_max)
        for i in _list("control.select_required", control.get("select_required", []))
    )
    return StationProfile(
        name=name,
        common_address=_int("station.common_address", station.get("common_address", 1), 1, 65534),
        ioa_size=ioa_size,
        response_timeout=_seconds("station.response_timeout", station.get("response_timeout", 2.0)),
        max_connections=_int("station.max_connections", station.get("max_connections", 1), 1, 1000),
        end_of_initialisation=_bool(
            "station.end_of_initialisation", station.get("end_of_initialisation", False)
        ),
        k=k,
        w=w,
        **timers,
        monitor=mon,
        control=types,
        interrogation_groups=groups,
        select_required=select,
        command_termination=_bool("control.command_termination", control.get("command_termination", True)),
        points={
            key: _int(f"points.{key}", points[key], 0, 65535 if key == "unused_common_address" else ioa_max)
            for key in POINT_KEYS
            if key in points
        },
    )


def default_profile() -> StationProfile:
    """The interoperability list of the reference server (``default-profile.toml``)."""
    import tomllib

    return load_profile(tomllib.loads(read_packaged_text(__package__, DEFAULT_PROFILE_FILE)))
