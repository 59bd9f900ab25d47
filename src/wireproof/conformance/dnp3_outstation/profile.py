"""The device profile of a DNP3 outstation: which clauses apply, and with what numbers.

Two forms are read, into one :class:`DeviceProfile`:

- a small TOML file (``default-profile.toml`` next to this module describes
  the reference outstation and is the worked example)::

      [device]
      name = "my RTU"
      outstation_address = 10        # link address of the device (IEEE 1815 9.2.4.1.4)
      master_address = 1             # the address it answers
      response_timeout = 2.0         # seconds within which an answer must come
      select_timeout = 5.0           # how long a SELECT stays armed (4.4.3)
      confirm_timeout = 5.0          # application confirm timeout (unsolicited retries, 4.6)
      need_time = true               # sets IIN1.4 until the master writes the time
      unsolicited = true             # reports unsolicited responses (4.6)
      event_buffer_size = 100        # events the device buffers (per type or per class: the
                                     #   buffer a triggered event lands in); omitted: the
                                     #   overflow clause does not apply
      multi_fragment = false         # a class 0 response spans several fragments
      multi_fragment_events = false  # a class poll of a full event buffer spans several fragments
      function_codes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 20, 21, 23]

      [points]                       # how many of each point type (0: none; its clauses do not apply)
      binary_inputs = 4
      double_bit_inputs = 4
      analog_inputs = 4
      counters = 4
      binary_outputs = 4
      analog_outputs = 2

      [events]                       # which point changes the event trigger produces events for
      binary = true
      double_bit = true
      analog = true
      counter = true

- the DNP3 XML device profile (IEEE 1815-2012 Annex A's
  ``DNP3DeviceProfileDocument``), read by :mod:`.xml_profile` into the same
  document shape (``wireproof certify --profile FILE.xml``).

A clause needing a feature the profile says the device lacks is
``not_applicable`` naming the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from wireproof.errors import FixtureError
from wireproof.harness.fixtures import read_packaged_text

__all__ = ["EVENT_KINDS", "POINT_KINDS", "DeviceProfile", "default_profile", "load_profile", "read_profile"]

DEFAULT_PROFILE_FILE: Final = "default-profile.toml"
POINT_KINDS: Final = (
    "binary_inputs",
    "double_bit_inputs",
    "analog_inputs",
    "counters",
    "binary_outputs",
    "analog_outputs",
)
EVENT_KINDS: Final = ("binary", "double_bit", "analog", "counter")
_DEVICE_KEYS: Final = frozenset(
    {
        "name",
        "outstation_address",
        "master_address",
        "response_timeout",
        "select_timeout",
        "confirm_timeout",
        "need_time",
        "unsolicited",
        "event_buffer_size",
        "multi_fragment",
        "multi_fragment_events",
        "function_codes",
    }
)
# Subset Level 2 outstation function codes (IEEE 1815-2012 Table 14-3 / the subset tables).
_LEVEL2_CODES: Final = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 20, 21, 23)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceProfile:
    """What a DNP3 outstation implements, as far as the ``dnp3-outstation`` suite asks."""

    name: str = "unnamed outstation"
    outstation_address: int = 10
    master_address: int = 1
    response_timeout: float = 2.0
    select_timeout: float = 10.0
    confirm_timeout: float = 5.0
    need_time: bool = False
    unsolicited: bool = False
    event_buffer_size: int | None = None
    multi_fragment: bool = False
    multi_fragment_events: bool = False
    function_codes: frozenset[int] = frozenset(_LEVEL2_CODES)
    points: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(POINT_KINDS, 0))
    events: Mapping[str, bool] = field(default_factory=lambda: dict.fromkeys(EVENT_KINDS, False))

    def count(self, kind: str) -> int:
        return self.points.get(kind, 0)

    def supports(self, function_code: int) -> bool:
        return function_code in self.function_codes


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


def load_profile(doc: Mapping[str, Any]) -> DeviceProfile:
    """A :class:`DeviceProfile` from a parsed document; :class:`FixtureError` naming the bad key."""
    unknown = set(doc) - {"device", "points", "events"}
    if unknown:
        raise FixtureError(f"profile: unknown top-level key(s) {', '.join(sorted(unknown))}")
    device, points, events = _table(doc, "device"), _table(doc, "points"), _table(doc, "events")
    for where, table, known in (
        ("device", device, _DEVICE_KEYS),
        ("points", points, set(POINT_KINDS)),
        ("events", events, set(EVENT_KINDS)),
    ):
        bad = set(table) - set(known)
        if bad:
            raise FixtureError(
                f"profile: [{where}]: unknown key(s) {', '.join(sorted(bad))}; "
                f"known: {', '.join(sorted(known))}"
            )
    name = device.get("name", "unnamed outstation")
    if not isinstance(name, str):
        raise FixtureError("profile: device.name must be a string")
    codes = device.get("function_codes", list(_LEVEL2_CODES))
    if not isinstance(codes, list):
        raise FixtureError("profile: device.function_codes must be a list of integers")
    buffer = device.get("event_buffer_size")
    return DeviceProfile(
        name=name,
        outstation_address=_int("device.outstation_address", device.get("outstation_address", 10), 0, 0xFFEF),
        master_address=_int("device.master_address", device.get("master_address", 1), 0, 0xFFEF),
        response_timeout=_seconds("device.response_timeout", device.get("response_timeout", 2.0)),
        select_timeout=_seconds("device.select_timeout", device.get("select_timeout", 10.0)),
        confirm_timeout=_seconds("device.confirm_timeout", device.get("confirm_timeout", 5.0)),
        need_time=_bool("device.need_time", device.get("need_time", False)),
        unsolicited=_bool("device.unsolicited", device.get("unsolicited", False)),
        event_buffer_size=None if buffer is None else _int("device.event_buffer_size", buffer, 1, 100000),
        multi_fragment=_bool("device.multi_fragment", device.get("multi_fragment", False)),
        multi_fragment_events=_bool(
            "device.multi_fragment_events", device.get("multi_fragment_events", False)
        ),
        function_codes=frozenset(_int("device.function_codes[]", c, 0, 255) for c in codes),
        points={k: _int(f"points.{k}", points.get(k, 0), 0, 65536) for k in POINT_KINDS},
        events={k: _bool(f"events.{k}", events.get(k, False)) for k in EVENT_KINDS},
    )


def read_profile(data: bytes) -> dict[str, Any]:
    """A profile file's octets as the document :func:`load_profile` reads: the DNP3 XML device profile
    (it starts with ``<``) or TOML. :class:`FixtureError` saying why it cannot be read.

    The suite's ``profile_reader`` (:class:`~wireproof.protocol.SuiteEntry`): ``certify`` and the plugin
    hand it the file's bytes.
    """
    if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"<":  # XML, maybe after a UTF-8 byte order mark
        from wireproof.conformance.dnp3_outstation.xml_profile import parse_xml_profile

        return parse_xml_profile(data)
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise FixtureError(f"profile: not UTF-8 text ({err.reason} at octet {err.start})") from None
    except tomllib.TOMLDecodeError as err:
        raise FixtureError(f"not valid TOML: {err}") from None


def default_profile() -> DeviceProfile:
    """The profile of the reference outstation (``default-profile.toml``)."""
    return load_profile(tomllib.loads(read_packaged_text(__package__, DEFAULT_PROFILE_FILE)))
