"""The DNP3 XML device profile (IEEE 1815-2012 Annex A, clause 14.8) read into the suite's profile document.

A vendor describes a device in a ``DNP3DeviceProfileDocument`` (schema
namespaces ``http://www.dnp3.org/DNP3/DeviceProfile/Jan2010``,
``.../November2014``, ``.../April2016`` and others: elements are matched by
local name, so any edition reads; the numbers below are the profile's
section numbers, as in opendnp3's published profile). Only what the suite
asks is read, each from the element's ``currentValue`` (its ``value``, or
the name of its one empty element, ``<on/>``), else its first ``value``:

- ``deviceConfig/deviceName`` (1.1.3) -> ``device.name``;
- ``linkConfig/dataLinkAddress`` (1.4.1) -> ``device.outstation_address``;
  ``unsolicitedConfig/masterDataLinkAddress`` (1.8.2) -> ``device.master_address``;
- ``unsolicitedResponseConfirmationTimeout`` (1.8.3, milliseconds), else
  ``outstationConfig/applicationLayerConfirmTimeout`` (1.7.1) -> ``device.confirm_timeout``;
  ``maxTimeBetweenSelectAndOperate`` (3.3.10, seconds) -> ``device.select_timeout``;
- ``supportsUnsolicitedReporting`` (1.8.1: ``<on/>``, "true", ...) -> ``device.unsolicited``;
  ``timeSyncRequired`` (1.7.2: anything but ``<never/>``) -> ``device.need_time``;
- the data points list: the number of ``binaryInput``, ``doubleBitInput``,
  ``analogInput``, ``counter``, ``binaryOutput``, ``analogOutput`` elements ->
  ``points``; a point type whose points have a ``changeEventClass`` other
  than "none" -> ``events``.

What is not there keeps the suite's default. The document is untrusted
input: at most :data:`MAX_SIZE` octets, and a DTD (``<!DOCTYPE``, hence any
entity declaration, internal or external) is refused before parsing, so no
entity is ever expanded or fetched; anything that is not well-formed XML or
not a device profile is a :class:`~wireproof.errors.FixtureError`.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any, Final

from wireproof.errors import FixtureError

__all__ = ["MAX_SIZE", "parse_xml_profile"]

MAX_SIZE: Final = 4 * 1024 * 1024
ROOT: Final = "DNP3DeviceProfileDocument"
_POINTS: Final = {
    "binaryInput": "binary_inputs",
    "doubleBitInput": "double_bit_inputs",
    "analogInput": "analog_inputs",
    "counter": "counters",
    "binaryOutput": "binary_outputs",
    "analogOutput": "analog_outputs",
}
_EVENTS: Final = {
    "binaryInput": "binary",
    "doubleBitInput": "double_bit",
    "analogInput": "analog",
    "counter": "counter",
}
_TRUE: Final = {"true", "yes", "enabled", "on", "1"}
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, *names: str) -> ET.Element | None:
    for element in root.iter():
        if _local(element.tag) in names:
            return element
    return None


def _value(element: ET.Element | None) -> str | None:
    """The text of an element's ``currentValue`` (its first leaf), else of its ``value``, else its own."""
    if element is None:
        return None
    for wanted in ("currentValue", "value"):
        for child in element.iter():
            if _local(child.tag) == wanted:
                leaf = next((e for e in child.iter() if (e.text or "").strip()), None)
                if leaf is not None:
                    text = (leaf.text or "").strip()
                    return text if _local(leaf.tag) in ("value", wanted) or text else _local(leaf.tag)
                kids = list(child)
                if kids:  # an enumerated choice given as an empty element (<enabled/>)
                    return _local(kids[0].tag)
    text = (element.text or "").strip()
    return text or None


def _number(where: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise FixtureError(f"profile (XML): {where} is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise FixtureError(f"profile (XML): {where} is {text!r}, not a finite number")
    return value


def _integer(where: str, value: float) -> int:
    if value != int(value):
        raise FixtureError(f"profile (XML): {where} is {value!r}, not an integer")
    return int(value)


def parse_xml_profile(data: bytes) -> dict[str, Any]:
    """The suite's profile document from a DNP3 XML device profile (module docstring)."""
    if len(data) > MAX_SIZE:
        raise FixtureError(f"profile (XML): {len(data)} octets; at most {MAX_SIZE} are read")
    if _DTD.search(data):
        raise FixtureError(
            "profile (XML): a document type declaration (<!DOCTYPE / <!ENTITY) is refused: "
            "a device profile needs none, and entities are not expanded"
        )
    try:
        root = ET.fromstring(data)
    except ET.ParseError as err:
        raise FixtureError(f"profile (XML): not well-formed: {err}") from None
    if _local(root.tag) != ROOT:
        raise FixtureError(f"profile (XML): the root element is {_local(root.tag)!r}, not {ROOT}")
    device: dict[str, Any] = {}
    name = _value(_find(root, "deviceName"))
    if name:
        device["name"] = name
    for tag, key in (("dataLinkAddress", "outstation_address"), ("masterDataLinkAddress", "master_address")):
        number = _number(tag, _value(_find(root, tag)))
        if number is not None:
            device[key] = _integer(tag, number)
    # Seconds the suite waits for the device's own timers: the unsolicited confirm timeout (1.8.3) is
    # what repeats an unsolicited response, else the solicited one (1.7.1); both in milliseconds.
    # The select-to-operate limit (3.3.10, binary outputs) is in seconds.
    for tags, key, scale in (
        (("unsolicitedResponseConfirmationTimeout",), "confirm_timeout", 0.001),
        (("applicationLayerConfirmTimeout",), "confirm_timeout", 0.001),
        (("maxTimeBetweenSelectAndOperate",), "select_timeout", 1.0),
    ):
        value = _number(tags[0], _value(_find(root, *tags)))
        if value is not None and value > 0 and key not in device:
            device[key] = value * scale
    unsolicited = _value(_find(root, "supportsUnsolicitedReporting"))
    if unsolicited is not None:
        device["unsolicited"] = unsolicited.strip().lower() in _TRUE
    need_time = _value(_find(root, "timeSyncRequired"))
    if need_time is not None:  # <never/>, else a period or "within N s of IIN1.4": the device asks for time
        device["need_time"] = need_time.strip().lower() not in ("never", "false", "no", "off")
    points: dict[str, int] = {}
    events: dict[str, bool] = {}
    for element in root.iter():
        kind = _POINTS.get(_local(element.tag))
        if kind is None or not any(_local(c.tag) == "index" for c in element):
            continue
        points[kind] = points.get(kind, 0) + 1
        event = _EVENTS.get(_local(element.tag))
        klass = next((c for c in element if _local(c.tag) in ("changeEventClass", "counterEventClass")), None)
        if event is not None and klass is not None:
            text = (_value(klass) or "").lower()
            events[event] = events.get(event, False) or text not in ("", "none", "0")
    document: dict[str, Any] = {"device": device}
    if points:
        document["points"] = points
    if events:
        document["events"] = events
    return document
