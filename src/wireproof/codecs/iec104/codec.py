"""The IEC 104 codec: APDUs (104 clause 5) and ASDUs (101 7.1, 7.2) to and from octets (pure, fast path).

An APDU is the start character 0x68, the length of the rest (4..253), four
control octets and, in the I format, an ASDU. Decoding is strict: every
reserved bit the standard fixes is checked, a length that disagrees with
the octets present is an error, and an ASDU whose objects do not fill its
octets exactly is an error naming the object and the offset. An ASDU of a
type identification this codec does not know decodes all the same, its
objects' octets kept (:attr:`~.messages.Asdu.raw`): the receiving station
answers it with cause 44 (101 7.2.3), it does not drop the connection.

Offsets in errors are in the octets given to the function: the APDU as
received for :func:`decode_apdu`, the ASDU for :func:`decode_asdu`.
"""

from __future__ import annotations

from typing import Any, Final

from wireproof.codecs.iec104.constants import (
    IEC104_SIZES,
    MAX_APDU_LENGTH,
    MIN_APDU_LENGTH,
    SEQ_MODULO,
    START,
    Cause,
    FieldSizes,
    TypeId,
    UFunction,
)
from wireproof.codecs.iec104.framers import ApduFramer
from wireproof.codecs.iec104.messages import Apdu, Asdu, IFrame, InformationObject, SFrame, UFrame
from wireproof.codecs.iec104.objects import LAYOUTS, SEGMENT_TYPE, SIZES, decode_elements, encode_elements
from wireproof.errors import DecodeError, EncodeError, TrailingDataError, TruncatedError

__all__ = ["Iec104AsduCodec", "Iec104Codec", "decode_apdu", "decode_asdu", "encode_apdu", "encode_asdu"]

PROTOCOL: Final = "iec104"
_U_FUNCTIONS: Final = {int(f): f for f in UFunction}
# Decoded type identifications and causes are the enums' members where the standard names them
# (JSON and reprs say M_SP_NA_1, SPONTANEOUS), else the plain numbers: looked up, not constructed.
# Typed as objects, not ints, and made through _named: compiled (mypyc), a value typed int is a native
# integer, and the enum member would be lost.
def _named(members: dict[Any, Any], value: int) -> object:
    return members.get(value, value)


_TYPE_IDS: Final[tuple[Any, ...]] = tuple([_named(TypeId._value2member_map_, t) for t in range(256)])
_CAUSES: Final[tuple[Any, ...]] = tuple([_named(Cause._value2member_map_, c) for c in range(64)])


def decode_asdu(data: bytes, *, sizes: FieldSizes = IEC104_SIZES, protocol: str = PROTOCOL,
                base: int = 0, path: tuple[str | int, ...] = ()) -> Asdu:
    """The ASDU in ``data`` (all of it). ``base`` and ``path`` place errors inside an enclosing APDU."""
    n_data = len(data)
    cot_size, ca_size, ioa_size = sizes.cause, sizes.common_address, sizes.ioa
    dui = 2 + cot_size + ca_size
    if n_data < dui:
        raise TruncatedError(protocol, (*path, "data_unit_identifier"), base + n_data,
                             f"the ASDU has {n_data} octets, its data unit identifier needs {dui} "
                             "(101 7.2)")
    type_id: Any = _TYPE_IDS[data[0]]
    vsq = data[1]
    sequence = bool(vsq & 0x80)
    number = vsq & 0x7F
    cot = data[2]
    cause: Any = _CAUSES[cot & 0x3F]
    negative = bool(cot & 0x40)
    test = bool(cot & 0x80)
    originator = data[3] if cot_size == 2 else 0
    at = 2 + cot_size
    common_address = data[at] | (data[at + 1] << 8 if ca_size == 2 else 0)
    at += ca_size
    fields = LAYOUTS.get(type_id)
    if fields is None:
        return Asdu(type_id=type_id, cause=cause, common_address=common_address, objects=(),
                    sequence=sequence, negative=negative, test=test, originator=originator,
                    raw=bytes(data[at:]), raw_number=number)
    if type_id == SEGMENT_TYPE:
        objects = _decode_segments(data, at, number, sequence, sizes, protocol, base, path)
    else:
        size = SIZES[type_id]
        want = (ioa_size + size * number) if sequence else (ioa_size + size) * number
        if sequence and number == 0:
            want = 0
        have = n_data - at
        if have != want:
            _size_error(protocol, path, base, at, have, want, type_id, number, sequence, ioa_size, size)
        objs: list[InformationObject] = []
        if sequence and number:
            address = _ioa(data, at, ioa_size)
            at += ioa_size
            for i in range(number):
                objs.append(InformationObject(address=address + i,
                                              elements=decode_elements(fields, data, at)))
                at += size
        else:
            for _ in range(number):
                address = _ioa(data, at, ioa_size)
                objs.append(InformationObject(address=address,
                                              elements=decode_elements(fields, data, at + ioa_size)))
                at += ioa_size + size
        objects = tuple(objs)
    return Asdu(type_id=type_id, cause=cause, common_address=common_address, objects=objects,
                sequence=sequence, negative=negative, test=test, originator=originator)


def _ioa(data: bytes, at: int, size: int) -> int:
    if size == 3:
        return data[at] | data[at + 1] << 8 | data[at + 2] << 16
    if size == 2:
        return data[at] | data[at + 1] << 8
    return data[at]


def _size_error(protocol: str, path: tuple[str | int, ...], base: int, at: int, have: int, want: int,
                type_id: int, number: int, sequence: bool, ioa_size: int, size: int) -> None:
    """Raise the error for objects that do not fill the ASDU: the first object that is cut short,
    or the octets left over."""
    what = (f"{number} objects of type {type_id} with SQ={int(sequence)} take {want} octets, "
            f"the ASDU has {have} after its data unit identifier (101 7.2.2)")
    if have > want:
        raise TrailingDataError(protocol, (*path, "objects"), base + at + want, what)
    if sequence:
        index = max(0, (have - ioa_size) // size) if have >= ioa_size else 0
    else:
        index = have // (ioa_size + size)
    raise TruncatedError(protocol, (*path, "objects", index), base + at + have, what)


def _decode_segments(data: bytes, at: int, number: int, sequence: bool, sizes: FieldSizes, protocol: str,
                     base: int, path: tuple[str | int, ...]) -> tuple[InformationObject, ...]:
    """F_SG_NA_1 objects: NOF, NOS, LOS and LOS octets of segment each (101 7.3.6.5)."""
    fields = LAYOUTS[SEGMENT_TYPE]
    n_data = len(data)
    ioa_size = sizes.ioa
    objs: list[InformationObject] = []
    address = 0
    for i in range(number):
        if i == 0 or not sequence:
            if at + ioa_size > n_data:
                raise TruncatedError(protocol, (*path, "objects", i, "address"), base + n_data,
                                     "the ASDU ends inside an information object address")
            address = _ioa(data, at, ioa_size)
            at += ioa_size
        else:
            address += 1
        if at + 4 > n_data:
            raise TruncatedError(protocol, (*path, "objects", i), base + n_data,
                                 "the ASDU ends inside a segment's NOF, NOS and LOS (101 7.3.6.5)")
        elements = decode_elements(fields, data, at)
        los = data[at + 3]
        at += 4
        if at + los > n_data:
            raise TruncatedError(protocol, (*path, "objects", i, "segment"), base + n_data,
                                 f"LOS says {los} octets of segment, {n_data - at} are left")
        elements["segment"] = bytes(data[at:at + los])
        at += los
        objs.append(InformationObject(address=address, elements=elements))
    if at != n_data:
        raise TrailingDataError(protocol, (*path, "objects"), base + at,
                                f"{n_data - at} octets after the last of {number} objects (101 7.2.2)")
    return tuple(objs)


def encode_asdu(asdu: Asdu, *, sizes: FieldSizes = IEC104_SIZES, protocol: str = PROTOCOL) -> bytes:
    """The octets of ``asdu``; EncodeError naming the field that does not fit."""
    bad = _bad
    type_id = _check(protocol, "type_id", asdu.type_id, 255)  # 0 is undefined (101 7.2.1.1), kept as raw
    cause = _check(protocol, "cause", asdu.cause, 63)
    out = bytearray((type_id, 0, cause | asdu.negative << 6 | asdu.test << 7))
    if sizes.cause == 2:
        out.append(_check(protocol, "originator", asdu.originator, 255))
    elif asdu.originator:
        raise bad(protocol, ("originator",), "an originator address needs a two-octet cause of transmission")
    ca_max = 0xFFFF if sizes.common_address == 2 else 0xFF
    ca = _check(protocol, "common_address", asdu.common_address, ca_max)
    out += ca.to_bytes(sizes.common_address, "little")
    ioa_max = (1 << (8 * sizes.ioa)) - 1
    if type_id not in LAYOUTS:
        out[1] = _check(protocol, "raw_number", asdu.raw_number, 127) | asdu.sequence << 7
        out += asdu.raw
        return bytes(out)
    objects = asdu.objects
    if len(objects) > 127:
        raise bad(protocol, ("objects",),
                  f"{len(objects)} objects; the variable structure qualifier counts 127 at most (101 7.2.2)")
    out[1] = len(objects) | asdu.sequence << 7
    ioa_size = sizes.ioa
    sequence = asdu.sequence
    fields = LAYOUTS[type_id]
    single = fields[0].encode if len(fields) == 1 and type_id != SEGMENT_TYPE else None
    parts = [bytes(out)]
    append = parts.append
    first_address = objects[0].address if objects else 0
    for i, obj in enumerate(objects):
        address = obj.address
        if type(address) is not int or not 0 <= address <= ioa_max:
            raise bad(protocol, ("objects", i, "address"), f"{address!r} is not an address in 0..{ioa_max}")
        if not sequence or i == 0:
            append(address.to_bytes(ioa_size, "little"))
        elif address != first_address + i:
            raise bad(protocol, ("objects", i, "address"),
                      f"address {address} with SQ=1 must be {first_address + i} (consecutive; 101 7.2.2.1)")
        try:
            append(single(obj.elements) if single is not None else encode_elements(type_id, obj))
        except KeyError as missing:
            raise bad(protocol, ("objects", i), f"element {missing.args[0]!r} is missing") from None
        except ValueError as err:
            raise bad(protocol, ("objects", i), str(err)) from None
    return b"".join(parts)


def _bad(protocol: str, path: tuple[str | int, ...], reason: str) -> EncodeError:
    return EncodeError(protocol, ("asdu", *path), reason)


def _check(protocol: str, name: str, value: Any, hi: int, lo: int = 0) -> int:
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
        raise _bad(protocol, (name,), f"{value!r} is not an int in {lo}..{hi}")
    if not lo <= value <= hi:
        raise _bad(protocol, (name,), f"{value!r} is not an int in {lo}..{hi}")
    return int(value)


def decode_apdu(data: bytes, *, sizes: FieldSizes = IEC104_SIZES, protocol: str = PROTOCOL) -> Apdu:
    """Exactly one APDU: start, length, control field and (I format) the ASDU (104 5.1-5.3)."""
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    if n == 0:
        raise TruncatedError(protocol, ("start",), 0, "no octets")
    if data[0] != START:
        raise DecodeError(protocol, ("start",), 0, f"start character is 0x{data[0]:02x}, not 0x68 (104 5.1)")
    if n < 2:
        raise TruncatedError(protocol, ("length",), 1, "the APDU ends before its length octet")
    length = data[1]
    if length < MIN_APDU_LENGTH or length > MAX_APDU_LENGTH:
        raise DecodeError(protocol, ("length",), 1,
                          f"length {length} is outside {MIN_APDU_LENGTH}..{MAX_APDU_LENGTH} (104 5.1)")
    if n < 2 + length:
        raise TruncatedError(protocol, ("control",) if n < 6 else ("asdu",), n,
                             f"the length says {length} octets follow, {n - 2} do")
    if n > 2 + length:
        raise TrailingDataError(protocol, (), 2 + length,
                                f"{n - 2 - length} octets after the APDU its length delimits (104 5.1)")
    c1 = data[2]
    if not c1 & 1:  # I format
        if data[4] & 1:
            raise DecodeError(protocol, ("control", "recv_seq"), 4,
                              "bit 1 of control octet 3 must be 0 in the I format (104 5.1, figure 6)")
        send_seq = (c1 | data[3] << 8) >> 1
        recv_seq = (data[4] | data[5] << 8) >> 1
        if length == 4:
            raise TruncatedError(protocol, ("asdu",), 6, "an I-format APDU without an ASDU (104 5.1)")
        asdu = decode_asdu(data[6:], sizes=sizes, protocol=protocol, base=6, path=("asdu",))
        return IFrame(send_seq=send_seq, recv_seq=recv_seq, asdu=asdu)
    if length != 4:
        fmt = "S" if c1 & 3 == 1 else "U"
        raise DecodeError(protocol, ("length",), 1,
                          f"an {fmt}-format APDU has length 4, not {length} (104 5.2, 5.3)")
    if c1 & 3 == 1:  # S format
        if c1 != 0x01 or data[3]:
            raise DecodeError(protocol, ("control",), 2 if c1 != 0x01 else 3,
                              "control octets 1 and 2 of the S format are 0x01 0x00 (104 5.2, figure 7)")
        if data[4] & 1:
            raise DecodeError(protocol, ("control", "recv_seq"), 4,
                              "bit 1 of control octet 3 must be 0 in the S format (104 5.2, figure 7)")
        return SFrame(recv_seq=(data[4] | data[5] << 8) >> 1)
    function = _U_FUNCTIONS.get(c1)
    if function is None:
        raise DecodeError(protocol, ("control", "function"), 2,
                          f"U-format control octet 0x{c1:02x} is not exactly one of STARTDT, STOPDT, "
                          "TESTFR act or con (104 5.3, figure 8)")
    if data[3] or data[4] or data[5]:
        raise DecodeError(protocol, ("control",), 3 if data[3] else 4 if data[4] else 5,
                          "control octets 2 to 4 of the U format are 0 (104 5.3, figure 8)")
    return UFrame(function=function)


def encode_apdu(apdu: Apdu, *, sizes: FieldSizes = IEC104_SIZES, protocol: str = PROTOCOL) -> bytes:
    """The octets of one APDU; EncodeError for a sequence number out of 0..32767, an ASDU too long."""
    if isinstance(apdu, IFrame):
        ns, nr = apdu.send_seq, apdu.recv_seq
        for name, v in (("send_seq", ns), ("recv_seq", nr)):
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < SEQ_MODULO:
                raise EncodeError(protocol, (name,), f"{v!r} is not a sequence number in 0..32767")
        body = apdu.asdu if isinstance(apdu.asdu, bytes) else encode_asdu(apdu.asdu, sizes=sizes,
                                                                           protocol=protocol)
        if len(body) + 4 > MAX_APDU_LENGTH:
            raise EncodeError(protocol, ("asdu",), f"the ASDU has {len(body)} octets; an APDU carries 249 "
                                                   "at most (104 5.1)")
        return bytes((START, len(body) + 4, (ns << 1) & 0xFE, ns >> 7, (nr << 1) & 0xFE, nr >> 7)) + body
    if isinstance(apdu, SFrame):
        nr = apdu.recv_seq
        if isinstance(nr, bool) or not isinstance(nr, int) or not 0 <= nr < SEQ_MODULO:
            raise EncodeError(protocol, ("recv_seq",), f"{nr!r} is not a sequence number in 0..32767")
        return bytes((START, 4, 0x01, 0x00, (nr << 1) & 0xFE, nr >> 7))
    if isinstance(apdu, UFrame):
        if apdu.function not in _U_FUNCTIONS:
            raise EncodeError(protocol, ("function",), f"{apdu.function!r} is not a U-format function")
        return bytes((START, 4, int(apdu.function), 0, 0, 0))
    raise EncodeError(protocol, (), f"{type(apdu).__name__} is not an APDU (IFrame, SFrame, UFrame)")


class Iec104Codec:
    """``iec104``: one APDU (104 clause 5) with its ASDU; ``sizes`` for other field sizes."""

    name = PROTOCOL

    def __init__(self, *, sizes: FieldSizes = IEC104_SIZES) -> None:
        self.sizes = sizes

    def decode(self, data: bytes) -> Apdu:
        return decode_apdu(data, sizes=self.sizes, protocol=self.name)

    def encode(self, message: Apdu) -> bytes:
        return encode_apdu(message, sizes=self.sizes, protocol=self.name)

    def decode_declarative(self, data: bytes) -> Apdu:
        """The same by the Construct definitions (:mod:`.formats`): the oracle."""
        from wireproof.codecs.iec104.formats import decode_apdu_declarative

        return decode_apdu_declarative(bytes(data), sizes=self.sizes)

    def encode_declarative(self, message: Apdu) -> bytes:
        """The same by the Construct definitions (:mod:`.formats`): the oracle of :meth:`encode`."""
        from wireproof.codecs.iec104.formats import encode_apdu_declarative

        return encode_apdu_declarative(message, sizes=self.sizes)

    def framer(self) -> ApduFramer:
        return ApduFramer()


class Iec104AsduCodec:
    """``iec104-asdu``: an ASDU alone (101 7.1), field sizes from ``sizes`` (IEC 101 profiles)."""

    name = "iec104-asdu"

    def __init__(self, *, sizes: FieldSizes = IEC104_SIZES) -> None:
        self.sizes = sizes

    def decode(self, data: bytes) -> Asdu:
        return decode_asdu(bytes(data), sizes=self.sizes, protocol=self.name)

    def encode(self, message: Asdu) -> bytes:
        return encode_asdu(message, sizes=self.sizes, protocol=self.name)

    def framer(self) -> ApduFramer:
        return ApduFramer()
