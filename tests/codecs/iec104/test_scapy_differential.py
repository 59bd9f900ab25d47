"""wireproof's IEC 104 codec against Scapy's IEC 104 layer (scapy.contrib.scada.iec104), frame by frame.

Every vector (one APDU per type identification, and the real APDUs of the shared capture) is decoded
by both; format, sequence numbers, type identification, SQ, number of objects, cause, P/N, T,
originator, common address, object addresses and each object's main value and time tag must agree.
Where Scapy is wrong, the deviation is pinned in :data:`SCAPY_DEVIATIONS` (the test fails if Scapy is
fixed, so the table stays true).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

iec = pytest.importorskip("scapy.contrib.scada.iec104", reason="Scapy (the scapy extra) is not installed")

from wireproof.codecs.iec104 import IFrame, SFrame, decode_apdu  # noqa: E402
from wireproof.harness.bench.iec104 import _scapy, fingerprint  # noqa: E402
from wireproof.harness.fixtures import load_vectors  # noqa: E402

FOLDER = resources.files("wireproof.fixtures") / "iec104" / "vectors"
VECTORS = [v for name in ("asdu.toml", "apci.toml") for v in load_vectors(FOLDER / name) if v.error is None]

# type identification -> (what Scapy gives for the vectors' values, why wireproof is right)
SCAPY_DEVIATIONS: dict[str, tuple[int, str]] = {
    # BSI, 101 7.2.6.13: bit 1 of the bitstring is bit 1 of its first octet, so the first octet is the
    # least significant of the 32-bit value. lib60870-C (c104) agrees with wireproof: a c104 server's
    # Byte32(b"\x12\x34\x56\x78") is 0x78563412 to both (tests/peers/test_iec104_c104.py); Scapy (and
    # Wireshark's display) read the four octets big-endian.
    "M_BO_NA_1": (0xEFBEADDE, "BSI read big-endian"), "M_BO_TB_1": (0xEFBEADDE, "BSI read big-endian"),
    "C_BO_NA_1": (0x01000000, "BSI read big-endian"), "C_BO_TA_1": (0x01000000, "BSI read big-endian"),
}
_VALUE_FIELDS = ("spi_value", "dpi_value", "value", "bsi", "normed_value", "scaled_value", "counter_value",
                 "scs", "dcs", "rcs", "qoi", "coi")


def scapy_value(obj: Any) -> Any:
    names = [f.name for f in obj.fields_desc]
    for name in _VALUE_FIELDS:
        if name in names:
            return name, obj.getfieldval(name)
    return None, None


@pytest.mark.parametrize("vec", VECTORS, ids=lambda v: v.name)
def test_scapy_decodes_the_same(vec: Any) -> None:
    decode, scapy_fingerprint, _ = _scapy()
    ours = decode_apdu(vec.data)
    packet = decode(vec.data)
    assert scapy_fingerprint(packet) == fingerprint(ours)
    if not isinstance(ours, IFrame) or isinstance(ours, SFrame) or isinstance(ours.asdu, bytes):
        return
    for mine, theirs in zip(ours.asdu.objects, packet.io, strict=True):
        name, value = scapy_value(theirs)
        if name is None:
            continue
        want = mine.elements.get("value", mine.elements.get("qoi", mine.elements.get("coi")))
        if name == "normed_value":
            want = round(want * 32768)
        if isinstance(want, bool):
            want = int(want)
        deviation = SCAPY_DEVIATIONS.get(vec.name)
        if deviation is not None:
            assert value == deviation[0] != want, f"Scapy no longer deviates on {vec.name}: {value!r}"
            continue
        assert value == pytest.approx(want), (vec.name, name)
        time = mine.elements.get("time")
        if time is not None:
            got = (theirs.sec_milli, theirs.minutes, theirs.hours, theirs.day_of_month, theirs.month,
                   theirs.year, bool(theirs.iv_time), bool(theirs.su))
            assert got == (time.milliseconds, time.minute, time.hour, time.day, time.month, time.year,
                           time.invalid, time.summer)


def test_every_deviation_is_exercised() -> None:
    assert set(SCAPY_DEVIATIONS) <= {v.name for v in VECTORS}
