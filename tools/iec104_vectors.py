"""Writes src/wireproof/fixtures/iec104/vectors/asdu.toml: one APDU a type identification of 104.

The objects are the sample objects of tests/codecs/iec104/test_codec.py, encoded by wireproof; they
are NOT self-confirming: tests/peers/test_tshark_iec104.py puts each one on TCP port 2404 and checks
that tshark dissects it the same way. Run: python tools/iec104_vectors.py > FILE
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "codecs" / "iec104"))

from test_codec import sample_object

from wireproof.codecs import message_fields
from wireproof.codecs.iec104 import ELEMENTS, Asdu, Cause, IFrame, TypeId, encode_apdu
from wireproof.codecs.iec104.constants import IEC101_ONLY


def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(type(v))


def main() -> None:
    iec101 = sys.argv[1:] == ["--iec101"]
    if iec101:
        print("# IEC 101's type identifications with a CP24Time2a time tag (101 7.3.1; not used with 104),")
        print("# inside 104 APDUs, two objects each. Provenance: tools/iec104_vectors.py --iec101; each")
        print("# cross-checked with the Construct oracle (tests/codecs/iec104/test_declarative.py).")
        print('codec = "iec104"')
        body(True)
        return
    body(False)


def body(iec101: bool) -> None:
    if not iec101:
        print("# One I-format APDU per type identification of IEC 60870-5-104 (104 clause 9; 101 7.3), two")
        print("# objects each (SQ=0), the sample values of tests/codecs/iec104/test_codec.py. Provenance: "
              "built")
        print("# and encoded by tools/iec104_vectors.py; cross-checked with tshark "
              "(tests/peers/test_tshark_iec104.py).")
        print('codec = "iec104"')
    for type_id in sorted(t for t in ELEMENTS if (t in IEC101_ONLY) == iec101):
        cause = Cause.SPONTANEOUS if type_id < 45 else Cause.ACTIVATION
        asdu = Asdu(type_id=type_id, cause=cause, common_address=1, originator=0,
                    objects=(sample_object(type_id, 1001), sample_object(type_id, 1002)))
        frame = IFrame(send_seq=5, recv_seq=3, asdu=asdu)
        print()
        print(f"# {TypeId(type_id).name}")
        print("[[vector]]")
        print(f'name = "{TypeId(type_id).name}"')
        print(f'hex = "{encode_apdu(frame).hex()}"')
        print(f"fields = {toml_value(message_fields(frame))}")


if __name__ == "__main__":
    main()
