"""DNP3 data link layer, FT3 frame format (IEEE 1815-2012 clause 9.2), hand-written fast path.

A frame is a 10-octet header — start 0x05 0x64, LENGTH, CONTROL,
DESTINATION and SOURCE (little-endian), a CRC over those 8 octets — then the
user data in blocks of 16 octets (the last one shorter), each followed by
its own CRC (9.2.4.2). LENGTH counts control, addresses and user data but
no CRC, so 5..255. The CRC is CRC-16/DNP: polynomial 0x3D65, bit-reflected,
initial value 0, final complement, sent low octet first (9.2.4.1.5, Annex
E); its check value over "123456789" is 0xEA82.

Every failure is a typed :class:`~wireproof.errors.DecodeError` whose offset
is in the frame as received (CRCs included); a block CRC error names the
block and where its CRC sits.

Speed: the CRC runs two octets a step through a 65,536-entry table
(:func:`_table16`), unrolled for the 8-octet header and the 16-octet
block; :func:`link_parts` is the path of a valid frame (the codec builds
the :class:`~.messages.LinkFrame` once, with its transport and
application views), and the checks of an invalid one stay in wire order.
Pure Python reads the 16-bit words with one ``struct`` unpack per header or
block; the compiled wheel (mypyc) indexes the octets natively instead
(:func:`_crc_native`: no tuple, no method call), selected by
:data:`COMPILED`.
"""

from __future__ import annotations

import struct
from typing import Final

from wireproof.codecs.dnp3 import constants as C
from wireproof.codecs.dnp3.constants import PrimaryFunction, SecondaryFunction
from wireproof.codecs.dnp3.messages import LinkFrame, new_link_frame
from wireproof.errors import ChecksumError, DecodeError, EncodeError, TrailingDataError, TruncatedError

__all__ = ["crc16_dnp", "decode_link", "encode_link", "frame_size", "link_header_crc_ok", "link_parts",
           "user_data_frame_offset"]

PROTOCOL: Final = "dnp3"


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA6BC if crc & 1 else crc >> 1  # 0xA6BC: 0x3D65 bit-reversed
        out.append(crc)
    return tuple(out)


_CRC_TABLE: Final = _table()


def _table16(t8: tuple[int, ...]) -> list[int]:
    """The register after two octets, by the 16-bit value (register XOR the two octets, low first).

    Two steps of the octet-wise update, ``crc = (crc >> 8) ^ T[(crc ^ b) & 0xFF]``, leave a register
    that depends only on ``x = crc ^ (b0 | b1 << 8)``: ``(T[x & 0xFF] >> 8) ^ T[((x >> 8) ^
    T[x & 0xFF]) & 0xFF]``. Half the loop turns, at the price of a 65,536-entry table (built once).
    """
    return [(t8[x & 0xFF] >> 8) ^ t8[((x >> 8) ^ t8[x & 0xFF]) & 0xFF] for x in range(65536)]


_CRC16: Final = _table16(_CRC_TABLE)
_WORDS: Final = tuple(struct.Struct(f"<{k}H") for k in range(9))  # 0..8 little-endian 16-bit words
_HEADER_WORDS: Final = struct.Struct("<4H")
_BLOCK_WORDS: Final = struct.Struct("<8H")


COMPILED: Final = not __file__.endswith(".py")  # this module is a mypyc extension (the compiled wheel)


def _crc_native(data: bytes, pos: int, end: int) -> int:
    """CRC-16/DNP of ``data[pos:end]``, two octets a step by native indexing (the compiled path)."""
    crc = 0
    t16 = _CRC16
    last = end - 1
    while pos < last:
        crc = t16[crc ^ data[pos] ^ data[pos + 1] << 8]
        pos += 2
    if pos < end:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ data[pos]) & 0xFF]
    return crc ^ 0xFFFF


def crc16_dnp(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/DNP of ``data`` (IEEE 1815-2012 9.2.4.1.5): the value, to be sent low octet first."""
    crc = 0
    t16 = _CRC16
    n = len(data)
    pos = 0
    while n - pos >= 16:
        for w in _BLOCK_WORDS.unpack_from(data, pos):
            crc = t16[crc ^ w]
        pos += 16
    k = (n - pos) >> 1
    if k:
        for w in _WORDS[k].unpack_from(data, pos):
            crc = t16[crc ^ w]
    if (n - pos) & 1:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ data[n - 1]) & 0xFF]
    return crc ^ 0xFFFF


def _block_crc(data: bytes, pos: int) -> int:
    """CRC-16/DNP of the 16 octets at ``data[pos:]``, unrolled (the common block)."""
    t = _CRC16
    words: tuple[int, int, int, int, int, int, int, int] = _BLOCK_WORDS.unpack_from(data, pos)
    a, b, c, d, e, f, g, h = words
    return t[t[t[t[t[t[t[t[a] ^ b] ^ c] ^ d] ^ e] ^ f] ^ g] ^ h] ^ 0xFFFF


def frame_size(length: int) -> int:
    """Octets on the wire of a frame whose LENGTH field is ``length`` (>= 5): header, data, block CRCs."""
    data = length - C.MIN_LINK_LENGTH
    return C.LINK_HEADER_SIZE + data + C.CRC_SIZE * -(-data // C.BLOCK_SIZE)


def user_data_frame_offset(k: int) -> int:
    """Where user-data octet ``k`` sits in the frame (the block CRCs before it counted)."""
    return C.LINK_HEADER_SIZE + k + C.CRC_SIZE * (k // C.BLOCK_SIZE)


def link_header_crc_ok(header: bytes | bytearray) -> bool:
    """Whether the 10 header octets carry the right CRC."""
    return crc16_dnp(header[:8]) == header[8] | header[9] << 8


_PRIMARY: Final = {int(f): f for f in PrimaryFunction}
_SECONDARY: Final = {int(f): f for f in SecondaryFunction}


def link_parts(data: bytes, protocol: str = PROTOCOL) -> tuple[int, PrimaryFunction | SecondaryFunction,
                                                                  int, int, bytes]:
    """(control octet, function, destination, source, user data) of one whole FT3 frame: the fast
    path of :func:`decode_link` (valid frames), with its checks and errors, in wire order."""
    n = len(data)
    if n < C.LINK_HEADER_SIZE or data[0] != 0x05 or data[1] != 0x64 or data[2] < C.MIN_LINK_LENGTH:
        _check_start(data, protocol)
    if COMPILED:
        if _crc_native(data, 0, 8) != data[8] | data[9] << 8:
            _header_crc_error(data, protocol)
    else:
        t = _CRC16
        words: tuple[int, int, int, int] = _HEADER_WORDS.unpack_from(data, 0)
        a, b, c, d = words
        if t[t[t[t[a] ^ b] ^ c] ^ d] ^ 0xFFFF != data[8] | data[9] << 8:
            _header_crc_error(data, protocol)
    control = data[3]
    function = (_PRIMARY if control & 0x40 else _SECONDARY).get(control & 0x0F)
    if function is None:
        raise DecodeError(protocol, ("link", "function"), 3,
                          f"{'primary' if control & 0x40 else 'secondary'} function code {control & 0x0F} "
                          "is not defined (9.2.4.1.3.6)")
    size = frame_size(data[2])
    if n != size:
        if n < size:
            raise TruncatedError(protocol, ("link", "user_data"), n,
                                 f"LENGTH {data[2]} announces a {size}-octet frame; input has {n}")
        _check_blocks(data, size, protocol)
        raise TrailingDataError(protocol, ("link",), size, f"{n - size} octets after the frame")
    if size == C.LINK_HEADER_SIZE:
        user = b""
    elif COMPILED:
        end = size - C.CRC_SIZE
        if size <= C.LINK_HEADER_SIZE + C.BLOCK_SIZE + C.CRC_SIZE:  # one block
            if _crc_native(data, 10, end) != data[end] | data[end + 1] << 8:
                _check_blocks(data, size, protocol)
            user = data[10:end]
        else:
            user = _check_blocks(data, size, protocol)
    elif size <= C.LINK_HEADER_SIZE + C.BLOCK_SIZE + C.CRC_SIZE:  # one block
        user = data[10:size - 2]
        if crc16_dnp(user) != data[size - 2] | data[size - 1] << 8:
            _check_blocks(data, size, protocol)
        user = bytes(user)
    else:
        user = _check_blocks(data, size, protocol)
    return control, function, data[4] | data[5] << 8, data[6] | data[7] << 8, user


def _check_start(data: bytes, protocol: str) -> None:
    n = len(data)
    # Each field is judged as soon as it is there, in wire order: a short input that is already
    # proven wrong is invalid, not incomplete.
    if n >= 1 and data[0] != 0x05:
        raise DecodeError(protocol, ("link", "start"), 0, f"first start octet is 0x{data[0]:02x}, not 0x05 "
                          "(9.2.4.1.1)")
    if n >= 2 and data[1] != 0x64:
        raise DecodeError(protocol, ("link", "start"), 1, f"second start octet is 0x{data[1]:02x}, not 0x64 "
                          "(9.2.4.1.1)")
    if n >= 3 and data[2] < C.MIN_LINK_LENGTH:
        raise DecodeError(protocol, ("link", "length"), 2, f"LENGTH {data[2]} is less than 5 (9.2.4.1.2)")
    raise TruncatedError(protocol, ("link",), n, "input ends inside the 10-octet link header")


def _header_crc_error(data: bytes, protocol: str) -> None:
    crc = data[8] | data[9] << 8
    want = crc16_dnp(data[:8])
    raise ChecksumError(protocol, ("link", "header_crc"), 8,
                        f"header CRC is 0x{crc:04x}, computed 0x{want:04x} (9.2.4.1.5)")


def _check_blocks(data: bytes, size: int, protocol: str) -> bytes:
    """The user data of the frame's blocks (``size`` octets of frame), every block CRC checked: the
    full blocks unrolled in line; on a CRC that fails, :func:`_block_error` says which."""
    parts = []
    t = _CRC16
    unpack = _BLOCK_WORDS.unpack_from
    pos = C.LINK_HEADER_SIZE
    if COMPILED:
        while pos < size:
            end = min(pos + C.BLOCK_SIZE, size - C.CRC_SIZE)  # the last block is what is left
            if pos >= end or _crc_native(data, pos, end) != data[end] | data[end + 1] << 8:
                return _block_error(data, size, protocol)
            parts.append(data[pos:end])
            pos = end + C.CRC_SIZE
        return b"".join(parts)
    while size - pos >= C.BLOCK_SIZE + C.CRC_SIZE:
        words: tuple[int, int, int, int, int, int, int, int] = unpack(data, pos)
        a, b, c, d, e, f, g, h = words
        crc = t[t[t[t[t[t[t[t[a] ^ b] ^ c] ^ d] ^ e] ^ f] ^ g] ^ h] ^ 0xFFFF
        if crc != data[pos + 16] | data[pos + 17] << 8:
            return _block_error(data, size, protocol)
        parts.append(data[pos:pos + C.BLOCK_SIZE])
        pos += C.BLOCK_SIZE + C.CRC_SIZE
    if pos < size:
        end = size - C.CRC_SIZE
        if pos >= end or crc16_dnp(data[pos:end]) != data[end] | data[end + 1] << 8:
            return _block_error(data, size, protocol)
        parts.append(data[pos:end])
    return b"".join(parts)


def _block_error(data: bytes, size: int, protocol: str) -> bytes:
    """The blocks the plain way (9.2.4.2): raises the ChecksumError of the first block that fails."""
    parts = []
    pos = C.LINK_HEADER_SIZE
    block = 0
    while pos < size:
        end = min(pos + C.BLOCK_SIZE, size - C.CRC_SIZE)  # the last block is what is left
        crc = data[end] | data[end + 1] << 8
        want = _block_crc(data, pos) if end - pos == C.BLOCK_SIZE else crc16_dnp(data[pos:end])
        if crc != want:
            raise ChecksumError(protocol, ("link", "block", block, "crc"), end,
                                f"CRC of user-data block {block} (frame octets {pos}..{end - 1}) is "
                                f"0x{crc:04x}, computed 0x{want:04x} (9.2.4.2)")
        parts.append(data[pos:end])
        pos = end + C.CRC_SIZE
        block += 1
    return b"".join(parts)


def decode_link(data: bytes, protocol: str = PROTOCOL) -> LinkFrame:
    """One whole FT3 frame; transport and application are left undecoded (see :mod:`.codec`)."""
    control, function, destination, source, user = link_parts(data, protocol)
    return new_link_frame(bool(control & 0x80), bool(control & 0x40), bool(control & 0x20),
                          bool(control & 0x10), function, destination, source, user, None, None)


def _decode_link_reference(data: bytes, protocol: str = PROTOCOL) -> LinkFrame:
    """The straightforward reading of 9.2.4 that :func:`link_parts` speeds up (kept for the tests)."""
    n = len(data)
    # Each field is judged as soon as it is there, in wire order: a short input that is already
    # proven wrong is invalid, not incomplete.
    if n >= 1 and data[0] != 0x05:
        raise DecodeError(protocol, ("link", "start"), 0, f"first start octet is 0x{data[0]:02x}, not 0x05 "
                          "(9.2.4.1.1)")
    if n >= 2 and data[1] != 0x64:
        raise DecodeError(protocol, ("link", "start"), 1, f"second start octet is 0x{data[1]:02x}, not 0x64 "
                          "(9.2.4.1.1)")
    if n >= 3 and data[2] < C.MIN_LINK_LENGTH:
        raise DecodeError(protocol, ("link", "length"), 2, f"LENGTH {data[2]} is less than 5 (9.2.4.1.2)")
    if n < C.LINK_HEADER_SIZE:
        raise TruncatedError(protocol, ("link",), n, "input ends inside the 10-octet link header")
    length = data[2]
    crc = data[8] | data[9] << 8
    want = crc16_dnp(data[:8])
    if crc != want:
        raise ChecksumError(protocol, ("link", "header_crc"), 8,
                            f"header CRC is 0x{crc:04x}, computed 0x{want:04x} (9.2.4.1.5)")
    control = data[3]
    prm = bool(control & 0x40)
    code = control & 0x0F
    function: PrimaryFunction | SecondaryFunction
    try:
        function = PrimaryFunction(code) if prm else SecondaryFunction(code)
    except ValueError:
        raise DecodeError(protocol, ("link", "function"), 3,
                          f"{'primary' if prm else 'secondary'} function code {code} is not defined "
                          "(9.2.4.1.3.6)") from None
    size = frame_size(length)
    if n < size:
        raise TruncatedError(protocol, ("link", "user_data"), n,
                             f"LENGTH {length} announces a {size}-octet frame; input has {n}")
    user = bytearray()
    pos = C.LINK_HEADER_SIZE
    block = 0
    while pos < size:
        end = min(pos + C.BLOCK_SIZE, size - C.CRC_SIZE)  # the last block is what is left
        chunk = data[pos:end]
        crc = data[end] | data[end + 1] << 8
        want = crc16_dnp(chunk)
        if crc != want:
            raise ChecksumError(protocol, ("link", "block", block, "crc"), end,
                                f"CRC of user-data block {block} (frame octets {pos}..{end - 1}) is "
                                f"0x{crc:04x}, computed 0x{want:04x} (9.2.4.2)")
        user += chunk
        pos = end + C.CRC_SIZE
        block += 1
    # After the blocks: the CRCs of the frame LENGTH announces are judged before what follows it.
    if n > size:
        raise TrailingDataError(protocol, ("link",), size, f"{n - size} octets after the frame")
    return LinkFrame(dir=bool(control & 0x80), prm=prm, fcb=bool(control & 0x20), fcv=bool(control & 0x10),
                     function=function, destination=data[4] | data[5] << 8, source=data[6] | data[7] << 8,
                     user_data=bytes(user))


def encode_link(frame: LinkFrame, protocol: str = PROTOCOL) -> bytes:
    """The FT3 octets of ``frame`` (its ``user_data``; the decoded views are not consulted)."""
    user = bytes(frame.user_data)
    if len(user) > C.MAX_USER_DATA:
        raise EncodeError(protocol, ("link", "user_data"),
                          f"{len(user)} octets of user data; a frame carries at most {C.MAX_USER_DATA}")
    for name in ("destination", "source"):
        value = getattr(frame, name)
        if not 0 <= value <= 0xFFFF:
            raise EncodeError(protocol, ("link", name), f"{name} {value} not in 0..65535")
    code = int(frame.function)
    known = PrimaryFunction if frame.prm else SecondaryFunction
    if code not in known._value2member_map_:
        raise EncodeError(protocol, ("link", "function"),
                          f"{frame.function!r} is not a {'primary' if frame.prm else 'secondary'} function")
    control = (frame.dir << 7) | (frame.prm << 6) | (frame.fcb << 5) | (frame.fcv << 4) | code
    head = bytes((0x05, 0x64, C.MIN_LINK_LENGTH + len(user), control, frame.destination & 0xFF,
                  frame.destination >> 8, frame.source & 0xFF, frame.source >> 8))
    out = bytearray(head)
    crc = crc16_dnp(head)
    out += bytes((crc & 0xFF, crc >> 8))
    for i in range(0, len(user), C.BLOCK_SIZE):
        chunk = user[i:i + C.BLOCK_SIZE]
        crc = crc16_dnp(chunk)
        out += chunk
        out += bytes((crc & 0xFF, crc >> 8))
    return bytes(out)
