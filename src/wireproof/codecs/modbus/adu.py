"""Modbus ADUs (fast path) and the three codec objects.

Normative references:

- MB-TCP 3.1.3: MBAP header — transaction id (2), protocol id (2, always 0),
  length (2, counts unit id + PDU), unit id (1). MB-TCP 4.2: ADU <= 260 bytes,
  so length is 2..254.
- MB-SL 2.5.1: RTU frame — address, PDU, CRC-16 (poly 0xA001 reflected, init
  0xFFFF), low byte first; ADU <= 256 bytes. MB-SL 6.2.2 gives the CRC algorithm.
- MB-SL 2.5.2: ASCII frame — ':' then address, PDU and LRC as two uppercase
  hex characters per byte, then CR LF; <= 513 characters. MB-SL 6.2.1: the
  LRC is the two's complement of the 8-bit sum of the bytes.

Direction: a Modbus function code means the same in a request and in its
response, but the layouts differ. ``decode(data, direction=None)`` tries the
request layout first, then the response layout; so an echo (FC 05, 06, 08,
15/21, 22) decodes as a request unless ``direction="response"`` is given. A
function code with the 0x80 bit set is always an :class:`ExceptionResponse`.
"""

from __future__ import annotations

import binascii
import struct
from typing import Any, Literal

from wireproof.codecs._fast import fast_constructor
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.pdu import (
    ENCODERS,
    REQUEST_TABLE,
    RESPONSE_TABLE,
    Decoder,
    decode_pdu_at,
    encode_pdu,
)
from wireproof.errors import ChecksumError, DecodeError, EncodeError, TrailingDataError, TruncatedError

__all__ = [
    "AsciiCodec",
    "Direction",
    "RtuCodec",
    "TcpCodec",
    "crc16",
    "lrc",
]

Direction = Literal["request", "response"] | None

_MBAP = struct.Struct(">HHHB")
_pack_crc = struct.Struct("<H").pack


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = 0xFFFF) -> int:
    """CRC-16/MODBUS of ``data`` (MB-SL 6.2.2); sent low byte first."""
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def lrc(data: bytes | bytearray | memoryview) -> int:
    """LRC of ``data`` (MB-SL 6.2.1): two's complement of the 8-bit sum."""
    return -sum(data) & 0xFF


def _rename(err: DecodeError, protocol: str, shift: int = 0, scale: int = 1) -> DecodeError:
    return type(err)(protocol, err.path, shift + err.offset * scale, err.reason)


_TABLES: dict[Direction, tuple[dict[int, Decoder], ...]] = {
    None: (REQUEST_TABLE, RESPONSE_TABLE),
    "request": (REQUEST_TABLE,),
    "response": (RESPONSE_TABLE,),
}
_SINGLE: dict[Direction, dict[int, Decoder]] = {"request": REQUEST_TABLE, "response": RESPONSE_TABLE}
_make_tcp_adu = fast_constructor(M.TcpAdu)
_MAX_PDU = C.MAX_PDU_SIZE


def _tables(direction: Direction) -> tuple[dict[int, Decoder], ...]:
    tables = _TABLES.get(direction)
    if tables is None:
        raise ValueError(f"direction must be 'request', 'response' or None, not {direction!r}")
    return tables


def _decode_pdu(protocol: str, data: bytes, pos: int, end: int, direction: Direction) -> Any:
    """Decode ``data[pos:end]``; with no direction, request first then response."""
    tables = _tables(direction)
    try:
        return decode_pdu_at(tables[0], data, pos, end)
    except DecodeError as err:
        first = err
    if len(tables) > 1:
        try:
            return decode_pdu_at(tables[1], data, pos, end)
        except DecodeError:
            pass
    raise _rename(first, protocol) from None


class _Base:
    name: str = "modbus"

    def decode(self, data: bytes, direction: Direction = None) -> Any:
        raise NotImplementedError

    def decode_request(self, data: bytes) -> Any:
        """Decode an ADU whose PDU is a request (or an exception response)."""
        return self.decode(data, "request")

    def decode_response(self, data: bytes) -> Any:
        """Decode an ADU whose PDU is a response."""
        return self.decode(data, "response")

    def encode_pdu(self, pdu: M.Pdu, strict: bool = True) -> bytes:
        """Encode a bare PDU; ``strict=False`` skips the spec bounds (see :func:`encode_pdu`)."""
        try:
            return encode_pdu(pdu, strict)
        except EncodeError as err:
            raise EncodeError(self.name, err.path, err.reason) from None

    def decode_request_pdu(self, data: bytes) -> Any:
        return _decode_pdu(self.name, bytes(data), 0, len(data), "request")

    def decode_response_pdu(self, data: bytes) -> Any:
        return _decode_pdu(self.name, bytes(data), 0, len(data), "response")

    def decode_declarative(self, data: bytes, direction: Direction = None) -> Any:
        """Decode with the declarative Construct formats (the oracle; slow)."""
        from wireproof.codecs.modbus import formats
        return formats.decode_adu(self.name, bytes(data), direction)

    def encode_declarative(self, adu: Any) -> bytes:
        """Encode with the declarative Construct formats (the oracle; slow)."""
        from wireproof.codecs.modbus import formats
        out: bytes = formats.encode_adu(self.name, adu)
        return out


class TcpCodec(_Base):
    """Modbus TCP: MBAP header + PDU (MB-TCP 3.1.3)."""

    name = "modbus-tcp"

    def decode(self, data: bytes, direction: Direction = None) -> M.TcpAdu:
        data = bytes(data)
        n = len(data)
        if n < C.MBAP_HEADER_SIZE:
            raise TruncatedError(self.name, ("mbap",), n, "input ends inside the MBAP header")
        tid, pid, length, unit = _MBAP.unpack_from(data)
        if pid != C.MODBUS_PROTOCOL_ID:
            raise DecodeError(self.name, ("mbap", "protocol_id"), 2, f"protocol id {pid} != 0")
        if not C.MIN_MBAP_LENGTH <= length <= C.MAX_MBAP_LENGTH:
            raise DecodeError(self.name, ("mbap", "length"), 4, f"length {length} not in 2..254")
        end = 6 + length
        if n < end:
            raise TruncatedError(self.name, ("mbap", "length"), n,
                                 f"length {length} announces {end - n} more bytes than there are")
        if n > end:
            raise TrailingDataError(self.name, ("mbap", "length"), end,
                                    f"{n - end} bytes after the {length} bytes the length announces")
        # Hot path inlined: one table, a known function code, no error.
        table = _SINGLE.get(direction)
        decoder = table.get(data[7]) if table is not None else None
        if decoder is not None:
            try:
                pdu = decoder(data, 8, end)
            except DecodeError as err:
                raise _rename(err, self.name) from None
        else:
            pdu = _decode_pdu(self.name, data, 7, end, direction)
        return _make_tcp_adu(tid, unit, pdu, pid)

    def encode(self, adu: M.TcpAdu, strict: bool = True) -> bytes:
        encoder = ENCODERS.get(type(adu.pdu))
        if strict and encoder is not None and adu.protocol_id == 0:
            try:  # hot path: no bound violated, no size problem
                pdu = encoder(adu.pdu, True)
                if len(pdu) <= _MAX_PDU:
                    return _MBAP.pack(adu.transaction_id, 0, len(pdu) + 1, adu.unit_id) + pdu
            except (EncodeError, struct.error, ValueError, TypeError, OverflowError):
                pass  # redo the slow way for a precise error
        pdu = self.encode_pdu(adu.pdu, strict)
        if strict and adu.protocol_id != C.MODBUS_PROTOCOL_ID:
            raise EncodeError(self.name, ("mbap", "protocol_id"), f"protocol id {adu.protocol_id} != 0")
        try:
            return _MBAP.pack(adu.transaction_id, adu.protocol_id, len(pdu) + 1, adu.unit_id) + pdu
        except struct.error as err:
            raise EncodeError(self.name, ("mbap",), str(err)) from None

    def framer(self, direction: Direction = None) -> Any:
        from wireproof.codecs.modbus.framers import TcpFramer
        return TcpFramer()


def _split_rtu(name: str, data: bytes) -> None:
    n = len(data)
    if n > C.MAX_RTU_ADU_SIZE:
        raise DecodeError(name, ("adu",), C.MAX_RTU_ADU_SIZE, f"RTU frame of {n} bytes > 256")
    if n < 4:
        raise TruncatedError(name, ("adu",), n, "an RTU frame has at least 4 bytes")
    if crc16(memoryview(data)[:-2]) != data[-2] | data[-1] << 8:
        raise ChecksumError(name, ("crc",), n - 2, "CRC-16 does not match the frame")


class RtuCodec(_Base):
    """Modbus RTU: address, PDU, CRC-16 (MB-SL 2.5.1)."""

    name = "modbus-rtu"

    def decode(self, data: bytes, direction: Direction = None) -> M.RtuAdu:
        data = bytes(data)
        _split_rtu(self.name, data)
        pdu = _decode_pdu(self.name, data, 1, len(data) - 2, direction)
        return M.RtuAdu(address=data[0], pdu=pdu)

    def encode(self, adu: M.RtuAdu, strict: bool = True) -> bytes:
        pdu = self.encode_pdu(adu.pdu, strict)
        if not 0 <= adu.address <= 0xFF:
            raise EncodeError(self.name, ("address",), f"address {adu.address} not in 0..255")
        body = bytes((adu.address,)) + pdu
        return body + _pack_crc(crc16(body))

    def framer(self, direction: Direction = None) -> Any:
        from wireproof.codecs.modbus.framers import RtuFramer
        return RtuFramer(direction=direction)


_HEX_DIGITS = frozenset(b"0123456789ABCDEF")


def _unhex(name: str, data: bytes) -> bytes:
    """The binary bytes of an ASCII frame (checks ':', hex, CR LF; not the LRC)."""
    n = len(data)
    if n > C.MAX_ASCII_ADU_CHARS:
        raise DecodeError(name, ("adu",), C.MAX_ASCII_ADU_CHARS, f"ASCII frame of {n} chars > 513")
    if n == 0:
        raise TruncatedError(name, ("start",), 0, "empty input")
    if data[0] != 0x3A:
        raise DecodeError(name, ("start",), 0, "an ASCII frame starts with ':'")
    if n < 3:
        raise TruncatedError(name, ("end",), n, "input ends before CR LF")
    body = data[1:-2]
    if len(body) & 1:
        raise DecodeError(name, ("adu",), n - 2, "odd number of hex characters")
    if not _HEX_DIGITS.issuperset(body):
        bad = next(i for i, c in enumerate(body) if c not in _HEX_DIGITS)
        raise DecodeError(name, ("adu",), 1 + bad, f"{chr(body[bad])!r} is not an uppercase hex digit")
    if data[-2:] != C.ASCII_END:
        raise DecodeError(name, ("end",), n - 2, "an ASCII frame ends with CR LF")
    raw = binascii.unhexlify(body)
    if len(raw) < 3:
        raise TruncatedError(name, ("adu",), n - 2, "an ASCII frame has address, PDU and LRC")
    if lrc(raw[:-1]) != raw[-1]:
        raise ChecksumError(name, ("lrc",), n - 4, "LRC does not match the frame")
    return raw


class AsciiCodec(_Base):
    """Modbus ASCII: ':' hex(address, PDU, LRC) CR LF (MB-SL 2.5.2)."""

    name = "modbus-ascii"

    def decode(self, data: bytes, direction: Direction = None) -> M.AsciiAdu:
        raw = _unhex(self.name, bytes(data))
        try:
            pdu = _decode_pdu(self.name, raw, 1, len(raw) - 1, direction)
        except DecodeError as err:  # offsets in the binary -> offsets of its first hex character
            raise _rename(err, self.name, 1, 2) from None
        return M.AsciiAdu(address=raw[0], pdu=pdu)

    def encode(self, adu: M.AsciiAdu, strict: bool = True) -> bytes:
        pdu = self.encode_pdu(adu.pdu, strict)
        if not 0 <= adu.address <= 0xFF:
            raise EncodeError(self.name, ("address",), f"address {adu.address} not in 0..255")
        body = bytes((adu.address,)) + pdu
        return b":" + binascii.hexlify(body + bytes((lrc(body),))).upper() + b"\r\n"

    def framer(self, direction: Direction = None) -> Any:
        from wireproof.codecs.modbus.framers import AsciiFramer
        return AsciiFramer()

