"""Writes src/wireproof/fixtures/dnp3/vectors/app.toml: one fragment a group/variation of the library.

The fragments are built here, encoded by wireproof, and are NOT self-confirming:
tests/peers/test_tshark_dnp3.py puts each one in link frames on port 20000 and
checks that tshark 4.0 dissects the same function code, objects, qualifiers
and indexes with no malformed packet. Run: python tools/dnp3_vectors.py > FILE
"""

from __future__ import annotations

import math
from typing import Any

from wireproof.codecs import message_fields
from wireproof.codecs.dnp3 import (
    ApplicationRequest,
    ApplicationResponse,
    FunctionCode,
    ObjectHeader,
    Point,
    encode_fragment,
)
from wireproof.codecs.dnp3.free_format import FREE_LAYOUTS
from wireproof.codecs.dnp3.library import LIBRARY, OCTET_STRING_GROUPS, ObjectSpec, lookup

F = FunctionCode
# Where tshark 4.0 cannot check a layout; each layout checked instead against the table of
# IEEE 1815-2012 11.9 and the opendnp3/stepfunc object model (the same sizes and field order).
TSHARK_GAPS = {
    (4, 3): "tshark 4.0 does not dissect g4v3 (flags, 16-bit relative time): 'Unknown Data Chunk'",
    (43, 1): "tshark 4.0 shows the first g43v1 object, then does not step over its 32-bit value",
    (43, 3): "tshark 4.0 shows the first g43v3 object, then does not step over its 32-bit value",
    **{(31, v): f"tshark 4.0 does not know g31v{v} (frozen analog input)" for v in range(1, 7)},
    **{(33, v): f"tshark 4.0 does not know g33v{v} (frozen analog input event)" for v in range(1, 5)},
    (112, 4): "tshark 4.0 does not know g112 (virtual terminal output block: variation = octets)",
    (113, 4): "tshark 4.0 does not know g113 (virtual terminal event data: variation = octets)",
    (51, 2): "tshark 4.0 does not know g51v2 (unsynchronized CTO, time48)",
    (52, 1): "tshark 4.0 does not know g52v1 (coarse time delay, uint16 seconds)",
    (50, 4): "tshark 4.0 does not know g50v4 (time48, interval uint32, units uint8)",
}
T0 = 1_700_000_000_123  # 2023-11-14T22:13:20.123Z in DNP3 time (ms since 1970)


def toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        assert math.isfinite(value)
        return repr(value)
    if isinstance(value, str):
        return '"' + value + '"'
    if value is None:
        raise ValueError("None has no TOML form")
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml(v)}" for k, v in value.items() if v is not None) + " }"
    raise TypeError(value)


def sample(spec: ObjectSpec, k: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, code in spec.fields:
        if name in ("flags", "status"):
            out[name] = 0x01 if name == "flags" else 0
        elif name == "time":
            out[name] = T0 + k if code == "T" else 100 + k
        elif code == "s":
            out[name] = bytes(range(65 + k, 65 + k + spec.octets))
        elif code in "fd":
            out[name] = 1.5 + k
        elif code in "hi":
            out[name] = -7 - k
        elif name == "control_code":
            out[name] = 0x41
        elif name == "count":
            out[name] = 1
        elif name in ("on_time", "off_time"):
            out[name] = 100
        elif name == "units":
            out[name] = 5  # milliseconds? no: 4.4.? units code; any octet is legal on the wire
        else:
            out[name] = 10 + k
    return out


def header_for(spec: ObjectSpec) -> tuple[ObjectHeader, Any]:
    g, v = spec.group, spec.variation
    if g == 120:  # A.45.3, A.45.4: fixed-size authentication objects, a count of one (0x07)
        pts = (Point(values=sample(spec, 0)),)
        return (ObjectHeader(group=g, variation=v, qualifier=0x07, count=1, points=pts),
                ApplicationRequest(function=F.AUTHENTICATE_REQ, seq=1))
    if g == 86:  # A.41.2: characteristics by data set identifier, a 1-octet index prefix (0x17)
        pts = (Point(index=1, values=sample(spec, 0)),)
        return ObjectHeader(group=g, variation=v, qualifier=0x17, count=1, points=pts), None
    if g == 60:
        return ObjectHeader(group=g, variation=v, qualifier=0x06), ApplicationRequest(function=F.READ)
    if g in (12, 41) and not spec.bits:  # commands: 2-octet index prefix and count (4.4.3)
        pts = (Point(index=3, values=sample(spec, 0)),)
        return (ObjectHeader(group=g, variation=v, qualifier=0x28, count=1, points=pts),
                ApplicationRequest(function=F.SELECT, seq=1))
    if g in (50, 51, 52) or g in (2, 4, 11, 13, 22, 23, 32, 33, 42, 43, 111, 113):
        if g in (50, 51, 52):  # a count, no index (4.4.14, 4.4.2)
            pts = (Point(values=sample(spec, 0)),)
            return ObjectHeader(group=g, variation=v, qualifier=0x07, count=1, points=pts), None
        pts = (Point(index=2, values=sample(spec, 0)), Point(index=5, values=sample(spec, 1)))  # events: 0x17
        return ObjectHeader(group=g, variation=v, qualifier=0x17, count=len(pts), points=pts), None
    if spec.bits:
        n = 10 if spec.bits == 1 else 5
        states = [bool(i % 3 == 0) if spec.bits == 1 else i % 4 for i in range(n)]
        pts = tuple(Point(index=i, values={"state": s}) for i, s in enumerate(states))
        return ObjectHeader(group=g, variation=v, qualifier=0x00, start=0, stop=n - 1, points=pts), None
    pts = (Point(index=0, values=sample(spec, 0)), Point(index=1, values=sample(spec, 1)))  # static: 0x01
    return ObjectHeader(group=g, variation=v, qualifier=0x01, start=0, stop=1, points=pts), None


# Free-format objects (Annex A.36, A.41-A.43, A.45): the function each travels with, and field values.
FREE_FUNCTIONS = {(70, 2): F.AUTHENTICATE_FILE, (70, 3): F.OPEN_FILE, (70, 5): F.WRITE,
                  (70, 8): F.GET_FILE_INFO,
                  **{(120, v): F.AUTHENTICATE_REQ for v in (2, 6, 8, 9, 10, 11, 13, 14, 15)},
                  **{(120, v): F.AUTHENTICATE_RESP for v in (1, 5, 7, 12)}}
FREE_SAMPLES: dict[str, Any] = {
    "username": b"operator", "password": b"secret", "file_name": b"/log/events.csv",
    "file_specification": b"/log/*.csv", "optional_text": b"ok", "file_data": bytes(range(16)),
    "error_text": b"unknown user", "challenge_data": bytes(range(4, 8)), "mac": bytes(range(0xA0, 0xAA)),
    "key_wrap_data": bytes(range(0x30, 0x48)), "certificate": bytes(range(0x60, 0x70)),
    "user_public_key": bytes(range(0x70, 0x78)), "certification_data": bytes(range(0x78, 0x80)),
    "master_challenge_data": bytes(range(8)), "outstation_challenge_data": bytes(range(8, 16)),
    "encrypted_update_key_data": bytes(range(0x40, 0x50)), "digital_signature": bytes(range(0x50, 0x60)),
    "created": T0, "time": T0, "time_of_error": T0, "permissions": 0o644, "operational_mode": 1,
    "maximum_block_size": 1024, "request_id": 7, "file_size": 4096, "file_handle": 0x1234,
    "block_number": 0x80000001,
    "status_code": 0, "file_type": 1, "authentication_key": 0xDEADBEEF,
    "elements": (b"\x01", b"\x10\x27\x00\x00"),
}


# tshark 4.0 dissects the function code of these requests and responses, not the object headers after it.
FUNCTION_GAPS = {f: f"tshark 4.0 dissects no object headers after function code {int(f)} ({f.name})"
                 for f in (F.GET_FILE_INFO, F.AUTHENTICATE_FILE, F.AUTHENTICATE_REQ, F.AUTHENTICATE_RESP)}
FREE_TSHARK_GAPS = {(70, 7): "tshark 4.0 does not know g70v7 (file descriptor): 'Unknown Object/Variation'"}


def free_sample(group: int, variation: int) -> dict[str, Any]:
    derived = {n for _, code in FREE_LAYOUTS[group, variation] if isinstance(code, tuple) for n in code[1:]}
    out: dict[str, Any] = {}
    for name, _ in FREE_LAYOUTS[group, variation]:
        if name in derived:
            continue
        if (group, variation) == (86, 1) and name == "elements":
            out[name] = ((1, 2, 4, b""), (5, 1, 8, b"kW"))  # A.41.1: ID, then a named UINT element
        else:
            out[name] = FREE_SAMPLES.get(name, 3)
    return out


def free_vectors() -> None:
    for g, v in sorted(FREE_LAYOUTS):
        header = ObjectHeader(group=g, variation=v, qualifier=0x5B, count=1,
                              points=(Point(values=free_sample(g, v)),))
        function = FREE_FUNCTIONS.get((g, v), F.RESPONSE)
        frag: Any
        if function.is_response:
            frag = ApplicationResponse(seq=3, function=function, iin=0, objects=(header,))
        else:
            frag = ApplicationRequest(seq=3, function=function, objects=(header,))
        print()
        print(f"# g{g}v{v}: free-format behind a 2-octet size prefix (0x5B), fields decoded")
        print("[[vector]]")
        print(f'name = "g{g}v{v}"')
        print("frame = false  # the dnp3-app framer takes link frames (tests/codecs/dnp3 checks it)")
        print(f'hex = "{encode_fragment(frag).hex()}"')
        print(f"fields = {toml(message_fields(frag))}")
        gap = FREE_TSHARK_GAPS.get((g, v)) or FUNCTION_GAPS.get(function)
        if gap:
            print('tags = ["tshark-gap"]')
            print(f'note = "{gap}"')


def main() -> None:
    print("# DNP3 application fragments, one a group/variation of the object library (IEEE 1815-2012 4.2,")
    print("# 4.3, clause 11). Provenance: built and encoded by tools/dnp3_vectors.py; each one cross-checked")
    print("# with tshark 4.0 in link frames on port 20000 (tests/peers/test_tshark_dnp3.py): same function,")
    print("# objects, qualifiers and indexes, no malformed packet; vectors tagged tshark-gap say why not.")
    print('codec = "dnp3-app"')
    octets = [s for g in OCTET_STRING_GROUPS if (s := lookup(g, 4)) is not None]
    for spec in sorted(LIBRARY.values(), key=lambda s: (s.group, s.variation)) + octets:
        g, v = spec.group, spec.variation
        header, request = header_for(spec)
        frag: Any
        if request is not None:
            frag = ApplicationRequest(fir=True, fin=True, seq=request.seq, function=request.function,
                                      objects=(header,))
        else:
            frag = ApplicationResponse(seq=2, iin=0x0110, objects=(header,))
        data = encode_fragment(frag)
        fields = message_fields(frag)
        print()
        print(f"# g{g}v{v}: {spec.name}")
        print("[[vector]]")
        print(f'name = "g{g}v{v}"')
        print("frame = false  # the dnp3-app framer takes link frames (tests/codecs/dnp3 checks it)")
        print(f'hex = "{data.hex()}"')
        print(f"fields = {toml(fields)}")
        gap = TSHARK_GAPS.get((g, v)) or (FUNCTION_GAPS.get(request.function) if request else None)
        if gap:
            print('tags = ["tshark-gap"]')
            print(f'note = "{gap}"')
    free_vectors()


if __name__ == "__main__":
    main()
