"""Every bound of the Modbus PDU codec at limit - 1, limit and limit + 1 (MB-AP = MODBUS Application
Protocol Specification V1.1b3; the test id names the clause).

Each case is decoded by the fast path (:mod:`.pdu`), bare and inside a Modbus/TCP ADU (where the
PDU starts at byte 7), and by the declarative oracle (:mod:`.formats`). On the passing side all give
the same message and re-encode it to the same bytes, and the RTU framer finds the frame's length
from its layout; on the failing side the fast path raises exactly the error class, field path and
byte offset given (offset + 7 in the ADU), and the oracle the same error class. Encode cases check
the failing side raises ``EncodeError`` on the field's path (and that ``strict=False`` still builds
it, for conformance tests), the passing side round-trips. A mutant that moves any bound by one
(``<`` to ``<=``, 125 to 126) fails here; ``tox -e mutation`` checks that it does.
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from typing import Any

import pytest

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import formats, tcp_codec
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import crc16
from wireproof.codecs.modbus.framers import RtuFramer
from wireproof.codecs.modbus.pdu import decode_request_pdu, decode_response_pdu, encode_pdu
from wireproof.errors import ChecksumError, DecodeError, EncodeError, TrailingDataError, TruncatedError

REQ, RSP = "request", "response"
TCP = tcp_codec()


@dataclass(frozen=True, slots=True)
class Bad:
    """The exact error the fast path raises (the oracle raises the same class)."""

    cls: type[DecodeError]
    path: tuple[str | int, ...]
    offset: int


OK = None


def w(fmt: str, *values: Any) -> bytes:
    return struct.pack(">" + fmt, *values)


def regs(n: int) -> bytes:
    return bytes(range(2 * n)) if 2 * n <= 256 else bytes(i & 0xFF for i in range(2 * n))


def _fast(direction: str, wire: bytes) -> Any:
    return (decode_request_pdu if direction == REQ else decode_response_pdu)(wire)


def _in_tcp(wire: bytes) -> bytes:
    return struct.pack(">HHHB", 0x1234, 0, len(wire) + 1, 0x11) + wire


def check_decode(direction: str, wire: bytes, expect: Bad | None) -> Any:
    """Decode bare and inside a Modbus/TCP ADU, where the PDU starts at byte 7, not 0."""
    if expect is None:
        msg = _fast(direction, wire)
        assert not isinstance(msg, M.UnknownPdu)
        assert formats.decode_pdu("modbus", wire, direction) == msg
        assert encode_pdu(msg) == wire
        assert formats.encode_pdu("modbus", msg) == wire
        assert type(msg).function_code == wire[0] & 0x7F or isinstance(msg, M.ExceptionResponse)
        assert TCP.decode(_in_tcp(wire), direction).pdu == msg  # type: ignore[arg-type]
        return msg
    with pytest.raises(DecodeError) as info:
        _fast(direction, wire)
    err = info.value
    assert (type(err), err.path, err.offset) == (expect.cls, expect.path, expect.offset), str(err)
    with pytest.raises(DecodeError) as oracle:
        formats.decode_pdu("modbus", wire, direction)
    assert type(oracle.value) is expect.cls, str(oracle.value)
    if len(wire) > C.MAX_PDU_SIZE:
        return None  # no ADU carries it
    with pytest.raises(DecodeError) as framed:
        TCP.decode(_in_tcp(wire), direction)  # type: ignore[arg-type]
    err = framed.value
    assert (type(err), err.path, err.offset) == (expect.cls, expect.path, expect.offset + 7), str(err)
    return None


def bad(field: str | tuple[str | int, ...], offset: int) -> Bad:
    path = ("pdu", field) if isinstance(field, str) else ("pdu", *field)
    return Bad(DecodeError, path, offset)


def short(field: str | tuple[str | int, ...], offset: int) -> Bad:
    path = ("pdu", field) if isinstance(field, str) else ("pdu", *field)
    return Bad(TruncatedError, path, offset)


def trailing(offset: int) -> Bad:
    return Bad(TrailingDataError, ("pdu",), offset)


# --- decode cases: (id citing the clause, direction, wire, expected) ------------------------------

DECODE: list[Any] = []


def case(id_: str, direction: str, wire: bytes, expect: Bad | None) -> None:
    DECODE.append(pytest.param(direction, wire, expect, id=id_))


# MB-AP 6.1-6.4: quantity 1..limit, start + quantity <= 65536 (4.4), 4 bytes after the FC.
for fc, limit, clause in ((1, C.MAX_READ_COILS, "6.1"), (2, C.MAX_READ_DISCRETE_INPUTS, "6.2"),
                          (3, C.MAX_READ_REGISTERS, "6.3"), (4, C.MAX_READ_REGISTERS, "6.4")):
    case(f"{clause}-quantity-0", REQ, w("BHH", fc, 0, 0), bad("quantity", 3))
    case(f"{clause}-quantity-1", REQ, w("BHH", fc, 0, 1), OK)
    case(f"{clause}-quantity-{limit - 1}", REQ, w("BHH", fc, 0, limit - 1), OK)
    case(f"{clause}-quantity-{limit}", REQ, w("BHH", fc, 0, limit), OK)
    case(f"{clause}-quantity-{limit + 1}", REQ, w("BHH", fc, 0, limit + 1), bad("quantity", 3))
    case(f"{clause}-end-65535", REQ, w("BHH", fc, 0x10000 - limit, limit), OK)
    case(f"{clause}-end-65536", REQ, w("BHH", fc, 0x10001 - limit, limit), bad("start_address", 1))
    case(f"{clause}-last-address", REQ, w("BHH", fc, 0xFFFF, 1), OK)
    case(f"{clause}-last-address-plus-one", REQ, w("BHH", fc, 0xFFFF, 2), bad("start_address", 1))
    case(f"{clause}-request-one-byte-short", REQ, w("BHB", fc, 0, 0), short("quantity", 4))
    case(f"{clause}-request-one-byte-trailing", REQ, w("BHHB", fc, 0, 1, 0), trailing(5))

# MB-AP 6.1 / 6.2 responses: byte count 1..250 (ceil(2000 / 8)).
for fc, clause in ((1, "6.1"), (2, "6.2")):
    case(f"{clause}-byte-count-0", RSP, w("BB", fc, 0), bad("byte_count", 1))
    case(f"{clause}-byte-count-1", RSP, w("BBB", fc, 1, 0x5A), OK)
    case(f"{clause}-byte-count-249", RSP, w("BB", fc, 249) + bytes(249), OK)
    case(f"{clause}-byte-count-250", RSP, w("BB", fc, 250) + bytes(250), OK)
    case(f"{clause}-byte-count-251", RSP, w("BB", fc, 251) + bytes(251), bad("byte_count", 1))
    case(f"{clause}-values-one-byte-short", RSP, w("BBB", fc, 2, 1), short("values", 3))
    case(f"{clause}-values-one-byte-trailing", RSP, w("BBBB", fc, 1, 1, 0), trailing(3))
    case(f"{clause}-response-empty", RSP, w("B", fc), short("byte_count", 1))

# MB-AP 6.3 / 6.4 / 6.17 responses: byte count even, 2..250 (2 x 125).
for fc, clause in ((3, "6.3"), (4, "6.4"), (0x17, "6.17")):
    for count, ok in ((0, False), (1, False), (2, True), (3, False), (248, True), (249, False),
                      (250, True), (251, False), (252, False)):
        case(f"{clause}-byte-count-{count}", RSP, w("BB", fc, count) + regs(count // 2) + bytes(count % 2),
             OK if ok else bad("byte_count", 1))
    case(f"{clause}-values-one-byte-short", RSP, w("BB", fc, 4) + bytes(3), short("values", 5))
    case(f"{clause}-values-one-byte-trailing", RSP, w("BB", fc, 2) + bytes(3), trailing(4))
    case(f"{clause}-response-empty", RSP, w("B", fc), short("byte_count", 1))

# MB-AP 6.5: a coil is 0x0000 or 0xFF00, nothing in between or around.
for direction in (REQ, RSP):
    for value, ok in ((0x0000, True), (0x0001, False), (0xFEFF, False), (0xFF00, True), (0xFF01, False),
                      (0xFFFF, False)):
        case(f"6.5-{direction}-value-{value:04X}", direction, w("BHH", 5, 1, value),
             OK if ok else bad("value", 3))
    case(f"6.5-{direction}-one-byte-short", direction, w("BHB", 5, 1, 0xFF), short("value", 4))
    case(f"6.5-{direction}-one-byte-trailing", direction, w("BHHB", 5, 1, 0xFF00, 0), trailing(5))
    # MB-AP 6.6: any register value.
    case(f"6.6-{direction}-value-FFFF", direction, w("BHH", 6, 0xFFFF, 0xFFFF), OK)
    case(f"6.6-{direction}-one-byte-short", direction, w("BHB", 6, 1, 0), short("value", 4))
    case(f"6.6-{direction}-one-byte-trailing", direction, w("BHHB", 6, 1, 2, 0), trailing(5))
    # MB-AP 6.8: a sub-function (2 bytes) and any data.
    case(f"6.8-{direction}-sub-function-whole", direction, w("BH", 8, 0), OK)
    case(f"6.8-{direction}-sub-function-one-byte-short", direction, w("BB", 8, 0), short("sub_function", 2))
    # MB-AP 6.16: address, AND mask, OR mask (6 bytes).
    case(f"6.16-{direction}-whole", direction, w("BHHH", 0x16, 4, 0xF2, 0x25), OK)
    case(f"6.16-{direction}-one-byte-short", direction, w("BHHB", 0x16, 4, 0xF2, 0), short("or_mask", 6))
    case(f"6.16-{direction}-one-byte-trailing", direction, w("BHHHB", 0x16, 4, 0xF2, 0x25, 0), trailing(7))

# MB-AP 6.7, 6.9, 6.10, 6.13: requests with no data.
for fc, clause in ((7, "6.7"), (0x0B, "6.9"), (0x0C, "6.10"), (0x11, "6.13")):
    case(f"{clause}-request-empty", REQ, w("B", fc), OK)
    case(f"{clause}-request-one-byte-trailing", REQ, w("BB", fc, 0), trailing(1))
case("6.7-response-status", RSP, w("BB", 7, 0x6D), OK)
case("6.7-response-empty", RSP, w("B", 7), short("status", 1))
case("6.7-response-one-byte-trailing", RSP, w("BBB", 7, 0x6D, 0), trailing(2))
case("6.9-response-whole", RSP, w("BHH", 0x0B, 0xFFFF, 0x108), OK)
case("6.9-response-one-byte-short", RSP, w("BHB", 0x0B, 0xFFFF, 1), short("event_count", 4))
case("6.9-response-one-byte-trailing", RSP, w("BHHB", 0x0B, 0, 1, 0), trailing(5))

# MB-AP 6.10: byte count 6..70 (6 + up to 64 events).
for count, ok in ((5, False), (6, True), (7, True), (69, True), (70, True), (71, False)):
    body = w("HHH", 0, 1, 2) + bytes(max(0, count - 6))
    case(f"6.10-byte-count-{count}", RSP, w("BB", 0x0C, count) + body[:count],
         OK if ok else bad("byte_count", 1))
case("6.10-events-one-byte-short", RSP, w("BBHHH", 0x0C, 8, 0, 1, 2) + b"\x01", short("events", 9))
case("6.10-events-one-byte-trailing", RSP, w("BBHHH", 0x0C, 6, 0, 1, 2) + b"\x01", trailing(8))
case("6.10-response-empty", RSP, w("B", 0x0C), short("byte_count", 1))

# MB-AP 6.11: quantity 1..1968, byte count = ceil(N / 8), start + quantity <= 65536.
for qty, ok in ((0, False), (1, True), (8, True), (9, True), (1967, True), (1968, True), (1969, False)):
    count = (qty + 7) // 8
    case(f"6.11-quantity-{qty}", REQ, w("BHHB", 0x0F, 0, qty, count) + b"\xFF" * (count - 1)
         + bytes([(1 << (qty - 8 * (count - 1))) - 1]) * (count > 0),
         OK if ok else bad("quantity", 3))
for count in (1, 3):
    case(f"6.11-byte-count-{count}-for-9", REQ, w("BHHB", 0x0F, 0, 9, count) + bytes(count),
         bad("byte_count", 5))
case("6.11-end-65535", REQ, w("BHHB", 0x0F, 0x10000 - 1968, 1968, 246) + bytes(246), OK)
case("6.11-end-65536", REQ, w("BHHB", 0x0F, 0x10001 - 1968, 1968, 246) + bytes(246), bad("start_address", 1))
case("6.11-values-one-byte-short", REQ, w("BHHBB", 0x0F, 0, 9, 2, 0), short("values", 7))
case("6.11-values-one-byte-trailing", REQ, w("BHHBBB", 0x0F, 0, 1, 1, 1, 0), trailing(7))
case("6.11-header-one-byte-short", REQ, w("BHH", 0x0F, 0, 1), short("byte_count", 5))

# MB-AP 6.12: quantity 1..123, byte count = 2 x N, start + quantity <= 65536.
for qty, ok in ((0, False), (1, True), (122, True), (123, True), (124, False)):
    case(f"6.12-quantity-{qty}", REQ, w("BHHB", 0x10, 0, qty, (2 * qty) & 0xFF) + regs(qty),
         OK if ok else bad("quantity", 3))
for count in (3, 5):
    case(f"6.12-byte-count-{count}-for-2", REQ, w("BHHB", 0x10, 0, 2, count) + bytes(count),
         bad("byte_count", 5))
case("6.12-end-65535", REQ, w("BHHB", 0x10, 0x10000 - 123, 123, 246) + regs(123), OK)
case("6.12-end-65536", REQ, w("BHHB", 0x10, 0x10001 - 123, 123, 246) + regs(123), bad("start_address", 1))
case("6.12-values-one-byte-short", REQ, w("BHHB", 0x10, 0, 2, 4) + bytes(3), short("values", 9))
case("6.12-values-one-byte-trailing", REQ, w("BHHB", 0x10, 0, 1, 2) + bytes(3), trailing(8))
case("6.12-header-one-byte-short", REQ, w("BHH", 0x10, 0, 1), short("byte_count", 5))

# MB-AP 6.11 / 6.12 responses: quantity 1..limit, start + quantity <= 65536.
for fc, limit, clause in ((0x0F, C.MAX_WRITE_COILS, "6.11"), (0x10, C.MAX_WRITE_REGISTERS, "6.12")):
    case(f"{clause}-response-quantity-0", RSP, w("BHH", fc, 0, 0), bad("quantity", 3))
    case(f"{clause}-response-quantity-1", RSP, w("BHH", fc, 0, 1), OK)
    case(f"{clause}-response-quantity-{limit}", RSP, w("BHH", fc, 0, limit), OK)
    case(f"{clause}-response-quantity-{limit + 1}", RSP, w("BHH", fc, 0, limit + 1), bad("quantity", 3))
    case(f"{clause}-response-end-65535", RSP, w("BHH", fc, 0x10000 - limit, limit), OK)
    case(f"{clause}-response-end-65536", RSP, w("BHH", fc, 0x10001 - limit, limit), bad("start_address", 1))
    case(f"{clause}-response-one-byte-short", RSP, w("BHB", fc, 0, 1), short("quantity", 4))
    case(f"{clause}-response-one-byte-trailing", RSP, w("BHHB", fc, 0, 1, 0), trailing(5))

# MB-AP 6.13: the byte count announces the data exactly.
case("6.13-response-whole", RSP, w("BB", 0x11, 2) + b"\x11\xFF", OK)
case("6.13-response-one-byte-short", RSP, w("BB", 0x11, 3) + b"\x11\xFF", short("data", 4))
case("6.13-response-one-byte-trailing", RSP, w("BB", 0x11, 1) + b"\x11\xFF", trailing(3))
case("6.13-response-empty", RSP, w("B", 0x11), short("byte_count", 1))


def sub_request(ref: int = 6, length: int = 2) -> bytes:
    return w("BHHH", ref, 4, 1, length)


# MB-AP 6.14 request: byte count 0x07..0xF5 in steps of 7, reference type 6.
for count, ok in ((0, False), (6, False), (7, True), (8, False), (14, True), (0xF4, False), (0xF5, True),
                  (0xF6, False), (0xFC, False)):
    body = sub_request() * (count // 7) + bytes(count % 7)
    case(f"6.14-request-byte-count-{count}", REQ, w("BB", 0x14, count) + body,
         OK if ok else bad("byte_count", 1))
for ref in (5, 7):
    case(f"6.14-request-reference-type-{ref}", REQ, w("BB", 0x14, 14) + sub_request() + sub_request(ref),
         bad(("records", 1, "reference_type"), 9))
case("6.14-request-records-one-byte-short", REQ, w("BB", 0x14, 7) + sub_request()[:6], short("records", 8))
case("6.14-request-one-byte-trailing", REQ, w("BB", 0x14, 7) + sub_request() + b"\x00", trailing(9))
case("6.14-request-empty", REQ, w("B", 0x14), short("byte_count", 1))


def sub_response(n: int, length: int | None = None, ref: int = 6) -> bytes:
    return w("BB", 1 + 2 * n if length is None else length, ref) + regs(n)


# MB-AP 6.14 response: byte count <= 0xF5; each sub-response length 1 + 2N, reference type 6.
case("6.14-response-byte-count-0", RSP, w("BB", 0x14, 0), OK)
case("6.14-response-byte-count-244", RSP, w("BB", 0x14, 244) + sub_response(121), OK)
case("6.14-response-byte-count-246", RSP, w("BB", 0x14, 246) + sub_response(122), bad("byte_count", 1))
case("6.14-response-length-0", RSP, w("BB", 0x14, 2) + sub_response(0, length=0),
     bad(("records", 0, "file_response_length"), 2))
case("6.14-response-length-1", RSP, w("BB", 0x14, 2) + sub_response(0), OK)
case("6.14-response-length-2", RSP, w("BB", 0x14, 3) + sub_response(0, length=2) + b"\x00",
     bad(("records", 0, "file_response_length"), 2))
case("6.14-response-length-3", RSP, w("BB", 0x14, 4) + sub_response(1), OK)
case("6.14-response-two-records", RSP, w("BB", 0x14, 6) + sub_response(1) + sub_response(0), OK)
for ref in (5, 7):
    case(f"6.14-response-reference-type-{ref}", RSP, w("BB", 0x14, 4) + sub_response(1, ref=ref),
         bad(("records", 0, "reference_type"), 3))
case("6.14-response-record-one-byte-past-count", RSP, w("BB", 0x14, 3) + sub_response(1)[:3],
     short(("records", 0, "values"), 5))
case("6.14-response-record-header-one-byte", RSP, w("BB", 0x14, 5) + sub_response(1) + b"\x01",
     short(("records", 1), 7))
case("6.14-response-records-one-byte-short", RSP, w("BB", 0x14, 4) + sub_response(1)[:3],
     short("records", 5))
case("6.14-response-one-byte-trailing", RSP, w("BB", 0x14, 4) + sub_response(1) + b"\x00", trailing(6))


def record(n: int, ref: int = 6, length: int | None = None) -> bytes:
    return w("BHHH", ref, 4, 7, n if length is None else length) + regs(n)


# MB-AP 6.15 (request and response are alike): byte count 0x09..0xFB, reference type 6,
# each record's data within the byte count.
for direction in (REQ, RSP):
    d = direction
    case(f"6.15-{d}-byte-count-8", d, w("BB", 0x15, 8) + record(0) + b"\x00", bad("byte_count", 1))
    case(f"6.15-{d}-byte-count-9", d, w("BB", 0x15, 9) + record(1), OK)
    case(f"6.15-{d}-byte-count-10", d, w("BB", 0x15, 10) + record(1) + b"\x00", short(("records", 1), 12))
    case(f"6.15-{d}-byte-count-251", d, w("BB", 0x15, 251) + record(122), OK)
    case(f"6.15-{d}-byte-count-252", d, w("BB", 0x15, 252) + record(122) + b"\x00", bad("byte_count", 1))
    case(f"6.15-{d}-two-records", d, w("BB", 0x15, 16) + record(1) + record(0), OK)
    case(f"6.15-{d}-record-length-exact", d, w("BB", 0x15, 11) + record(2), OK)
    case(f"6.15-{d}-record-length-one-past", d, w("BB", 0x15, 11) + record(2, length=3),
         short(("records", 0, "values"), 13))
    case(f"6.15-{d}-record-header-one-byte-short", d, w("BB", 0x15, 15) + record(1) + record(0)[:6],
         short(("records", 1), 17))
    for ref in (5, 7):
        case(f"6.15-{d}-reference-type-{ref}", d, w("BB", 0x15, 9) + record(1, ref=ref),
             bad(("records", 0, "reference_type"), 2))
    case(f"6.15-{d}-records-one-byte-short", d, w("BB", 0x15, 9) + record(1)[:8], short("records", 10))
    case(f"6.15-{d}-one-byte-trailing", d, w("BB", 0x15, 9) + record(1) + b"\x00", trailing(11))
    case(f"6.15-{d}-empty", d, w("B", 0x15), short("byte_count", 1))

# MB-AP 6.17: read quantity 1..125, write quantity 1..121, byte count 2 x write quantity,
# each range within 65536.
for rqty, ok in ((0, False), (1, True), (124, True), (125, True), (126, False)):
    case(f"6.17-read-quantity-{rqty}", REQ, w("BHHHHB", 0x17, 0, rqty, 0, 1, 2) + regs(1),
         OK if ok else bad("read_quantity", 3))
for wqty, ok in ((0, False), (1, True), (120, True), (121, True), (122, False)):
    case(f"6.17-write-quantity-{wqty}", REQ, w("BHHHHB", 0x17, 0, 1, 0, wqty, 2 * wqty) + regs(wqty),
         OK if ok else bad("write_quantity", 7))
case("6.17-read-end-65535", REQ, w("BHHHHB", 0x17, 0x10000 - 125, 125, 0, 1, 2) + regs(1), OK)
case("6.17-read-end-65536", REQ, w("BHHHHB", 0x17, 0x10001 - 125, 125, 0, 1, 2) + regs(1),
     bad("read_start_address", 1))
case("6.17-write-end-65535", REQ, w("BHHHHB", 0x17, 0, 1, 0x10000 - 121, 121, 242) + regs(121), OK)
case("6.17-write-end-65536", REQ, w("BHHHHB", 0x17, 0, 1, 0x10001 - 121, 121, 242) + regs(121),
     bad("write_start_address", 5))
for count in (3, 5):
    case(f"6.17-byte-count-{count}-for-2", REQ, w("BHHHHB", 0x17, 0, 1, 0, 2, count) + bytes(count),
         bad("byte_count", 9))
case("6.17-values-one-byte-short", REQ, w("BHHHHB", 0x17, 0, 1, 0, 2, 4) + bytes(3), short("values", 13))
case("6.17-values-one-byte-trailing", REQ, w("BHHHHB", 0x17, 0, 1, 0, 1, 2) + bytes(3), trailing(12))
case("6.17-header-one-byte-short", REQ, w("BHHHH", 0x17, 0, 1, 0, 1), short("byte_count", 9))

# MB-AP 6.18: FIFO count 0..31, byte count = 2 + 2 x FIFO count.
case("6.18-request-whole", REQ, w("BH", 0x18, 0x4DE), OK)
case("6.18-request-one-byte-short", REQ, w("BB", 0x18, 4), short("fifo_pointer_address", 2))
case("6.18-request-one-byte-trailing", REQ, w("BHB", 0x18, 0x4DE, 0), trailing(3))
for n, ok in ((0, True), (1, True), (30, True), (31, True), (32, False)):
    case(f"6.18-fifo-count-{n}", RSP, w("BHH", 0x18, 2 + 2 * n, n) + regs(n),
         OK if ok else bad("fifo_count", 3))
for count in (3, 5):
    case(f"6.18-byte-count-{count}-for-1", RSP, w("BHH", 0x18, count, 1) + regs(1), bad("byte_count", 1))
case("6.18-values-one-byte-short", RSP, w("BHH", 0x18, 6, 2) + bytes(3), short("values", 8))
case("6.18-values-one-byte-trailing", RSP, w("BHH", 0x18, 4, 1) + bytes(3), trailing(7))
case("6.18-response-one-byte-short", RSP, w("BHB", 0x18, 2, 0), short("fifo_count", 4))

# MB-AP 6.21: Read Device ID code 1..4; more follows 0x00 or 0xFF.
for code, ok in ((0, False), (1, True), (2, True), (3, True), (4, True), (5, False)):
    case(f"6.21-request-code-{code}", REQ, w("BBBB", 0x2B, 0x0E, code, 0),
         OK if ok else bad("read_device_id_code", 2))
    case(f"6.21-response-code-{code}", RSP, w("BBBBBBB", 0x2B, 0x0E, code, 1, 0, 0, 0),
         OK if ok else bad("read_device_id_code", 2))
case("6.21-request-one-byte-short", REQ, w("BBB", 0x2B, 0x0E, 1), short("object_id", 3))
case("6.21-request-one-byte-trailing", REQ, w("BBBBB", 0x2B, 0x0E, 1, 0, 0), trailing(4))
case("6.21-request-mei-missing", REQ, w("B", 0x2B), short("mei_type", 1))
for more, ok in ((0x00, True), (0x01, False), (0xFE, False), (0xFF, True)):
    case(f"6.21-more-follows-{more:02X}", RSP, w("BBBBBBB", 0x2B, 0x0E, 1, 0x81, more, 3 * (more == 0xFF), 0),
         OK if ok else bad("more_follows", 4))
OBJECT = w("BB", 0, 3) + b"abc"
case("6.21-response-one-object", RSP, w("BBBBBBB", 0x2B, 0x0E, 1, 1, 0, 0, 1) + OBJECT, OK)
case("6.21-response-two-objects", RSP, w("BBBBBBB", 0x2B, 0x0E, 1, 1, 0, 0, 2) + OBJECT + OBJECT, OK)
case("6.21-response-header-one-byte-short", RSP, w("BBBBBB", 0x2B, 0x0E, 1, 1, 0, 0),
     short("number_of_objects", 6))
case("6.21-response-object-header-one-byte", RSP, w("BBBBBBB", 0x2B, 0x0E, 1, 1, 0, 0, 2) + OBJECT + b"\x01",
     short(("objects", 1), 13))
case("6.21-response-object-one-byte-short", RSP, w("BBBBBBB", 0x2B, 0x0E, 1, 1, 0, 0, 1) + OBJECT[:-1],
     short(("objects", 0, "value"), 11))
case("6.21-response-one-byte-trailing", RSP, w("BBBBBBB", 0x2B, 0x0E, 1, 1, 0, 0, 1) + OBJECT + b"\x00",
     trailing(12))

# MB-AP 7: an exception response is the FC with 0x80 and one exception code.
for direction in (REQ, RSP):
    case(f"7-{direction}-exception-whole", direction, w("BB", 0x83, 2), OK)
    case(f"7-{direction}-exception-empty", direction, w("B", 0x83), short("exception_code", 1))
    case(f"7-{direction}-exception-one-byte-trailing", direction, w("BBB", 0x83, 2, 0), trailing(2))
    case(f"7-{direction}-exception-of-fc-7F", direction, w("BB", 0xFF, 0x0B), OK)


@pytest.mark.parametrize(("direction", "wire", "expect"), DECODE)
def test_decode_at_the_limit(direction: str, wire: bytes, expect: Bad | None) -> None:
    check_decode(direction, wire, expect)


def test_an_empty_pdu_is_truncated_at_the_function_code() -> None:
    for decode in (decode_request_pdu, decode_response_pdu):
        with pytest.raises(TruncatedError) as info:
            decode(b"")
        assert (info.value.path, info.value.offset) == (("pdu", "function_code"), 0)


# --- encode cases: (id citing the clause, message at the limit, message past it, failing path) ------

def coils(n: int) -> tuple[bool, ...]:
    return tuple(bool(i % 3) for i in range(n))


def registers(n: int) -> tuple[int, ...]:
    return tuple(range(0xFFFF - n + 1, 0x10000))


def file_records(n: int) -> tuple[M.FileSubRequest, ...]:
    return tuple(M.FileSubRequest(file_number=4, record_number=i, record_length=1) for i in range(n))


def write_file(cls: type[Any], n: int) -> Any:
    return cls(records=(M.FileRecord(file_number=4, record_number=7, values=registers(n)),))


def device_id_response(code: int) -> M.ReadDeviceIdentificationResponse:
    return M.ReadDeviceIdentificationResponse(read_device_id_code=code, conformity_level=0x81,
                                              more_follows=False, next_object_id=0, objects=((0, b"ab"),))


ENCODE: list[Any] = []


def enc(id_: str, good: Any, past: Any, field: str) -> None:
    ENCODE.append(pytest.param(good, past, ("pdu", field), id=id_))


for cls, limit, clause in ((M.ReadCoilsRequest, 2000, "6.1"), (M.ReadDiscreteInputsRequest, 2000, "6.2"),
                           (M.ReadHoldingRegistersRequest, 125, "6.3"),
                           (M.ReadInputRegistersRequest, 125, "6.4")):
    enc(f"{clause}-quantity-{limit}", cls(start_address=0, quantity=limit),
        cls(start_address=0, quantity=limit + 1), "quantity")
    enc(f"{clause}-quantity-1", cls(start_address=0, quantity=1), cls(start_address=0, quantity=0),
        "quantity")
    enc(f"{clause}-end-65535", cls(start_address=0x10000 - limit, quantity=limit),
        cls(start_address=0x10001 - limit, quantity=limit), "start_address")
for cls in (M.WriteSingleCoilRequest, M.WriteSingleCoilResponse):
    enc(f"6.5-{cls.__name__}-FF00", cls(address=1, value=0xFF00), cls(address=1, value=0xFF01), "value")
    enc(f"6.5-{cls.__name__}-0000", cls(address=1, value=0x0000), cls(address=1, value=0x0001), "value")
enc("6.11-quantity-1968", M.WriteMultipleCoilsRequest(start_address=0, values=coils(1968)),
    M.WriteMultipleCoilsRequest(start_address=0, values=coils(1969)), "values")
enc("6.11-quantity-1", M.WriteMultipleCoilsRequest(start_address=0, values=coils(1)),
    M.WriteMultipleCoilsRequest(start_address=0, values=()), "values")
enc("6.11-end-65535", M.WriteMultipleCoilsRequest(start_address=0x10000 - 1968, values=coils(1968)),
    M.WriteMultipleCoilsRequest(start_address=0x10001 - 1968, values=coils(1968)), "start_address")
enc("6.12-quantity-123", M.WriteMultipleRegistersRequest(start_address=0, values=registers(123)),
    M.WriteMultipleRegistersRequest(start_address=0, values=registers(124)), "values")
enc("6.12-quantity-1", M.WriteMultipleRegistersRequest(start_address=0, values=registers(1)),
    M.WriteMultipleRegistersRequest(start_address=0, values=()), "values")
enc("6.12-end-65535", M.WriteMultipleRegistersRequest(start_address=0x10000 - 123, values=registers(123)),
    M.WriteMultipleRegistersRequest(start_address=0x10001 - 123, values=registers(123)), "start_address")
for cls, limit, clause in ((M.WriteMultipleCoilsResponse, 1968, "6.11"),
                           (M.WriteMultipleRegistersResponse, 123, "6.12")):
    enc(f"{clause}-response-quantity-{limit}", cls(start_address=0, quantity=limit),
        cls(start_address=0, quantity=limit + 1), "quantity")
    enc(f"{clause}-response-quantity-1", cls(start_address=0, quantity=1),
        cls(start_address=0, quantity=0), "quantity")
    enc(f"{clause}-response-end-65535", cls(start_address=0x10000 - limit, quantity=limit),
        cls(start_address=0x10001 - limit, quantity=limit), "start_address")
enc("6.1-response-byte-count-250", M.ReadCoilsResponse(values=coils(2000)),
    M.ReadCoilsResponse(values=coils(2001)), "values")
enc("6.2-response-byte-count-1", M.ReadDiscreteInputsResponse(values=coils(1)),
    M.ReadDiscreteInputsResponse(values=()), "values")
for cls, clause in ((M.ReadHoldingRegistersResponse, "6.3"), (M.ReadInputRegistersResponse, "6.4"),
                    (M.ReadWriteMultipleRegistersResponse, "6.17")):
    enc(f"{clause}-response-125-registers", cls(values=registers(125)), cls(values=registers(126)), "values")
    enc(f"{clause}-response-1-register", cls(values=registers(1)), cls(values=()), "values")
enc("6.10-64-events", M.GetCommEventLogResponse(status=0, event_count=1, message_count=2, events=bytes(64)),
    M.GetCommEventLogResponse(status=0, event_count=1, message_count=2, events=bytes(65)), "events")
enc("6.14-request-35-sub-requests", M.ReadFileRecordRequest(records=file_records(35)),
    M.ReadFileRecordRequest(records=file_records(36)), "records")
enc("6.14-request-1-sub-request", M.ReadFileRecordRequest(records=file_records(1)),
    M.ReadFileRecordRequest(records=()), "records")
# Each sub-response takes 2 + 2N bytes, so 244 is the largest byte count under 0xF5.
enc("6.14-response-byte-count-244", M.ReadFileRecordResponse(records=(registers(121),)),
    M.ReadFileRecordResponse(records=(registers(122),)), "records")
for cls in (M.WriteFileRecordRequest, M.WriteFileRecordResponse):
    enc(f"6.15-{cls.__name__}-byte-count-251", write_file(cls, 122), write_file(cls, 123), "records")
    enc(f"6.15-{cls.__name__}-byte-count-9", write_file(cls, 1), write_file(cls, 0), "records")
rw = M.ReadWriteMultipleRegistersRequest
enc("6.17-read-quantity-125", rw(read_start_address=0, read_quantity=125, write_start_address=0, values=(1,)),
    rw(read_start_address=0, read_quantity=126, write_start_address=0, values=(1,)), "read_quantity")
enc("6.17-read-quantity-1", rw(read_start_address=0, read_quantity=1, write_start_address=0, values=(1,)),
    rw(read_start_address=0, read_quantity=0, write_start_address=0, values=(1,)), "read_quantity")
enc("6.17-read-end-65535",
    rw(read_start_address=0x10000 - 125, read_quantity=125, write_start_address=0, values=(1,)),
    rw(read_start_address=0x10001 - 125, read_quantity=125, write_start_address=0, values=(1,)),
    "read_start_address")
enc("6.17-write-quantity-121",
    rw(read_start_address=0, read_quantity=1, write_start_address=0, values=registers(121)),
    rw(read_start_address=0, read_quantity=1, write_start_address=0, values=registers(122)), "values")
enc("6.17-write-quantity-1",
    rw(read_start_address=0, read_quantity=1, write_start_address=0, values=registers(1)),
    rw(read_start_address=0, read_quantity=1, write_start_address=0, values=()), "values")
enc("6.17-write-end-65535",
    rw(read_start_address=0, read_quantity=1, write_start_address=0x10000 - 121, values=registers(121)),
    rw(read_start_address=0, read_quantity=1, write_start_address=0x10001 - 121, values=registers(121)),
    "write_start_address")
enc("6.18-fifo-count-31", M.ReadFifoQueueResponse(values=registers(31)),
    M.ReadFifoQueueResponse(values=registers(32)), "values")
for good, past in ((1, 0), (4, 5)):
    enc(f"6.21-request-code-{good}", M.ReadDeviceIdentificationRequest(read_device_id_code=good, object_id=0),
        M.ReadDeviceIdentificationRequest(read_device_id_code=past, object_id=0), "read_device_id_code")
    enc(f"6.21-response-code-{good}", device_id_response(good), device_id_response(past),
        "read_device_id_code")


@pytest.mark.parametrize(("good", "past", "path"), ENCODE)
def test_encode_at_the_limit(good: Any, past: Any, path: tuple[str, ...]) -> None:
    wire = encode_pdu(good)
    assert formats.encode_pdu("modbus", good) == wire
    direction = REQ if type(good).__name__.endswith("Request") else RSP
    decoded = _fast(direction, wire)
    assert type(decoded) is type(good)
    assert encode_pdu(decoded) == wire  # read-bits responses come back padded to whole bytes
    with pytest.raises(EncodeError) as info:
        encode_pdu(past)
    assert info.value.path == path, str(info.value)
    with pytest.raises(EncodeError) as oracle:
        formats.encode_pdu("modbus", past)
    # Construct's message without its first line (the path inside the format, not the field's).
    assert oracle.value.path == ("pdu",) and not oracle.value.reason.startswith("Error in path")
    assert encode_pdu(past, strict=False)  # a conformance test can still send it


QUERY = C.DiagnosticSubFunction.RETURN_QUERY_DATA


# MB-AP 4.1: a PDU is at most 253 bytes, on every path; the exception FC fits 7 bits (MB-AP 7).
@pytest.mark.parametrize(("good", "past"), [
    pytest.param(M.ReportServerIdResponse(data=bytes(251)), M.ReportServerIdResponse(data=bytes(252)),
                 id="4.1-report-server-id-253-bytes"),
    pytest.param(M.DiagnosticsRequest(sub_function=QUERY, data=bytes(250)),
                 M.DiagnosticsRequest(sub_function=QUERY, data=bytes(251)), id="4.1-diagnostics-253-bytes"),
    pytest.param(M.UnknownPdu(function_code=0x41, data=bytes(252)),
                 M.UnknownPdu(function_code=0x41, data=bytes(253)), id="4.1-unknown-253-bytes"),
])
def test_pdu_size_limit(good: Any, past: Any) -> None:
    assert len(encode_pdu(good)) == C.MAX_PDU_SIZE
    with pytest.raises(EncodeError) as info:
        encode_pdu(past)
    assert info.value.path == ("pdu",)
    assert len(encode_pdu(past, strict=False)) == C.MAX_PDU_SIZE + 1


def test_exception_function_code_limit() -> None:
    # MB-AP 7: FC 0x7F is the last one an exception can name; 0x80 would collide with the flag.
    ok = M.ExceptionResponse(function_code=0x7F, exception_code=C.ExceptionCode.ILLEGAL_FUNCTION)
    assert encode_pdu(ok) == b"\xFF\x01"
    for fc in (0x80, -1):
        for strict in (True, False):
            with pytest.raises(EncodeError) as info:
                encode_pdu(M.ExceptionResponse(function_code=fc, exception_code=1), strict=strict)
            assert info.value.path == ("pdu", "function_code")


def test_message_classes_carry_their_wire_codes() -> None:
    # MB-AP 5.1 / Annex A: the FC (and MEI type) each class declares is the one on its wire.
    for direction, wire, expect in (p.values for p in DECODE):
        if expect is None:
            msg = _fast(direction, wire)
            if isinstance(msg, M.ExceptionResponse):
                assert msg.wire_function_code == wire[0]
                continue
            assert type(msg).function_code == wire[0] == C.FunctionCode(wire[0])
            if hasattr(type(msg), "mei_type"):
                assert type(msg).mei_type == wire[1] == C.MeiType(wire[1])


# --- RTU framing by length rules: every function code, each direction (MB-SL 2.5.1) ---------------

def _valid_pdus() -> list[Any]:
    """The passing side of every PDU bound whose length the layout fixes (not FC 08, 43)."""
    out = []
    for param in DECODE:
        direction, wire, expect = param.values
        if expect is None and len(wire) <= 253 and not wire[0] & 0x80 and wire[0] not in (0x08, 0x2B):
            out.append(pytest.param(direction, wire, id=param.id))
    return out


@pytest.mark.parametrize(("direction", "pdu"), _valid_pdus())
def test_rtu_framer_knows_each_length(direction: str, pdu: bytes) -> None:
    # The length follows from the FC and the byte count: the frame is whole at its last byte, not
    # before, and a whole frame whose CRC is wrong is rejected at once instead of waited on.
    frame = b"\x11" + pdu + struct.pack("<H", crc16(b"\x11" + pdu))
    framer = RtuFramer(direction=direction)  # type: ignore[arg-type]
    for byte in frame[:-1]:
        framer.feed(bytes((byte,)))
        assert framer.next_frame() is NEED_DATA
    framer.feed(frame[-1:])
    assert framer.next_frame() == frame
    bad = RtuFramer(direction=direction)  # type: ignore[arg-type]
    bad.feed(frame[:-1] + bytes((frame[-1] ^ 0xFF,)))
    with pytest.raises(ChecksumError):
        bad.next_frame()


# --- the spec's tables and bounds, pinned -------------------------------------------------------

def test_spec_tables() -> None:
    # MB-AP 5.1 "Public Function Code Definition".
    assert {m.name: m.value for m in C.FunctionCode} == {
        "READ_COILS": 1, "READ_DISCRETE_INPUTS": 2, "READ_HOLDING_REGISTERS": 3, "READ_INPUT_REGISTERS": 4,
        "WRITE_SINGLE_COIL": 5, "WRITE_SINGLE_REGISTER": 6, "READ_EXCEPTION_STATUS": 7, "DIAGNOSTICS": 8,
        "GET_COMM_EVENT_COUNTER": 11, "GET_COMM_EVENT_LOG": 12, "WRITE_MULTIPLE_COILS": 15,
        "WRITE_MULTIPLE_REGISTERS": 16, "REPORT_SERVER_ID": 17, "READ_FILE_RECORD": 20,
        "WRITE_FILE_RECORD": 21, "MASK_WRITE_REGISTER": 22, "READ_WRITE_MULTIPLE_REGISTERS": 23,
        "READ_FIFO_QUEUE": 24, "ENCAPSULATED_INTERFACE_TRANSPORT": 43}
    # MB-AP Annex A (MEI types) and 7 ("MODBUS Exception Codes"; 07 from PI-MBUS-300).
    assert {m.name: m.value for m in C.MeiType} == {"CANOPEN_GENERAL_REFERENCE": 13,
                                                    "READ_DEVICE_IDENTIFICATION": 14}
    assert [m.value for m in C.ExceptionCode] == [1, 2, 3, 4, 5, 6, 7, 8, 10, 11]
    # MB-AP 6.8.1 / MB-SL 6.1 diagnostic sub-functions.
    assert [m.value for m in C.DiagnosticSubFunction] == [0, 1, 2, 3, 4, *range(10, 19), 20]
    # MB-AP 6.21: read device id codes, conformity levels, object ids.
    assert [m.value for m in C.ReadDeviceIdCode] == [1, 2, 3, 4]
    assert [m.value for m in C.ConformityLevel] == [1, 2, 3, 0x81, 0x82, 0x83]
    assert [m.value for m in C.DeviceIdObject] == list(range(7))


def test_spec_bounds() -> None:
    bounds = {
        "MAX_READ_COILS": 2000, "MAX_READ_DISCRETE_INPUTS": 2000, "MAX_READ_REGISTERS": 125,  # 6.1-6.4
        "MAX_WRITE_COILS": 1968, "MAX_WRITE_REGISTERS": 123,  # 6.11, 6.12
        "MAX_RW_READ": 125, "MAX_RW_WRITE": 121,  # 6.17
        "MAX_FIFO_COUNT": 31, "MAX_COMM_EVENTS": 64,  # 6.18, 6.10
        "FILE_RECORD_REFERENCE_TYPE": 6, "MAX_FILE_RECORD_NUMBER": 9999,  # 6.14 / 6.15
        "MIN_READ_FILE_BYTE_COUNT": 7, "MAX_READ_FILE_BYTE_COUNT": 245,
        "MIN_WRITE_FILE_BYTE_COUNT": 9, "MAX_WRITE_FILE_BYTE_COUNT": 251,
        "COIL_ON": 0xFF00, "COIL_OFF": 0, "ADDRESS_SPACE": 65536, "EXCEPTION_FLAG": 0x80,  # 6.5, 4.4, 7
        "MAX_PDU_SIZE": 253,  # 4.1
        # MB-TCP 3.1.3 / 4.2
        "MBAP_HEADER_SIZE": 7, "MAX_TCP_ADU_SIZE": 260, "MAX_MBAP_LENGTH": 254, "MIN_MBAP_LENGTH": 2,
        "MODBUS_PROTOCOL_ID": 0, "MODBUS_TCP_PORT": 502,
        "BROADCAST_ADDRESS": 0, "MAX_UNICAST_ADDRESS": 247, "MAX_RTU_ADU_SIZE": 256,  # MB-SL 2.2, 2.5
        "MAX_ASCII_ADU_CHARS": 513,
    }
    assert {name: getattr(C, name) for name in bounds} == bounds
    assert (C.ASCII_START, C.ASCII_END) == (b":", b"\r\n")


def _message_classes() -> list[type[Any]]:
    return [c for c in (getattr(M, n) for n in M.__all__) if dataclasses.is_dataclass(c)]


def test_messages_are_frozen_slotted_keyword_values() -> None:
    # A decoded message is a value: it cannot be changed, holds no stray attributes, and is built
    # by field name only (house style; messages.py).
    classes = _message_classes()
    assert len(classes) == 47
    for cls in classes:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen and params.eq, cls
        assert "__slots__" in cls.__dict__, cls
        assert all(f.kw_only for f in dataclasses.fields(cls)), cls
        fields = dataclasses.fields(cls)
        instance = cls(**{f.name: _sample(f.type) for f in fields})
        if fields:
            with pytest.raises(dataclasses.FrozenInstanceError):
                instance.__setattr__(fields[0].name, None)
            with pytest.raises(TypeError):
                cls(*(_sample(f.type) for f in fields))


def _sample(annotation: object) -> Any:
    text = str(annotation)
    if text.startswith("tuple"):
        return ()
    if text == "bytes":
        return b""
    if text == "bool":
        return False
    if text == "Pdu":
        return M.ReadExceptionStatusRequest()
    return 1


def test_single_coil_messages_say_whether_on() -> None:
    # MB-AP 6.5: 0xFF00 is ON, 0x0000 OFF.
    for cls in (M.WriteSingleCoilRequest, M.WriteSingleCoilResponse):
        assert cls(address=0, value=0xFF00).is_on
        assert not cls(address=0, value=0x0000).is_on
        assert not cls(address=0, value=0x00FF).is_on
        assert not cls(address=0, value=0xFFFF).is_on
