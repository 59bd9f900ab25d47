"""A small synchronous Modbus TCP client for clause tests (MB-TCP 3.1.3).

Built on the ``modbus-tcp`` codec and a harness transport, it does what a
conformance test needs and a production client must not: send bytes exactly
as given (wrong protocol id, wrong length, split or merged segments), read
*one* ADU by its MBAP length without judging it, and tell "no answer" from
"the connection was closed".

Failures of the device are ``AssertionError`` subclasses (verdict ``fail``):
:class:`NoResponse` when an answer the spec demands did not come in time,
:class:`ConnectionClosed` when the device closed or reset the connection.
Harness trouble (cannot connect, bad arguments) stays a ``HarnessError``
(verdict ``error``). Everything sent and received goes to the evidence
recorder, labelled with the connection it belongs to.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from wireproof import codecs
from wireproof.codecs.modbus import TcpCodec
from wireproof.codecs.modbus.constants import EXCEPTION_FLAG
from wireproof.codecs.modbus.messages import ExceptionResponse, Pdu, TcpAdu
from wireproof.errors import HarnessError, TransportError, TransportTimeout
from wireproof.harness.transports import TcpTransport, Transport, open_transport

__all__ = ["ConnectionClosed", "ModbusClient", "NoResponse", "RawAdu", "Reply"]

_MBAP: Final = struct.Struct(">HHHB")
MBAP_SIZE: Final = 7

Recorder = Callable[[str, bytes, str], None]


def tcp_codec() -> TcpCodec:
    """The registered ``modbus-tcp`` codec, typed (it also offers the PDU-level calls)."""
    codec = codecs.get("modbus-tcp")
    if not isinstance(codec, TcpCodec):
        raise HarnessError(f"codec 'modbus-tcp' is a {type(codec).__name__}, not the Modbus TCP codec")
    return codec


class NoResponse(AssertionError):
    """The device did not answer within the time allowed."""


class ConnectionClosed(AssertionError):
    """The device closed (or reset) the connection instead of answering."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RawAdu:
    """One ADU as the device sent it, split by its MBAP header only (MB-TCP 3.1.3)."""

    transaction_id: int
    protocol_id: int
    length: int
    unit_id: int
    pdu: bytes
    raw: bytes

    @property
    def function_code(self) -> int:
        return self.pdu[0] if self.pdu else -1

    def decode(self) -> Any:
        """The PDU decoded as a response (a ``DecodeError`` here is the device's fault)."""
        return tcp_codec().decode_response_pdu(self.pdu)


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """A request's answer: the raw ADU, its decoded PDU and the round-trip time."""

    adu: RawAdu
    pdu: Any
    elapsed: float

    def expect_exception(self, function_code: int, code: int, what: str) -> None:
        """Assert this is exception ``code`` to ``function_code`` (MB-AP 7)."""
        wanted = f"exception {code:02X} (function code 0x{function_code | EXCEPTION_FLAG:02X})"
        if not isinstance(self.pdu, ExceptionResponse):
            raise AssertionError(f"{what}: expected {wanted}, got a normal response "
                                 f"{type(self.pdu).__name__} ({self.adu.pdu.hex()})")
        got = f"exception {int(self.pdu.exception_code):02X} to function code 0x{self.pdu.function_code:02X}"
        assert self.pdu.function_code == function_code and self.pdu.exception_code == code, (
            f"{what}: expected {wanted}, got {got}")

    def expect(self, cls: type[Any], what: str) -> Any:
        """Assert the PDU is a normal response of type ``cls``; return it."""
        if not isinstance(self.pdu, cls):
            raise AssertionError(f"{what}: expected {cls.__name__}, got {type(self.pdu).__name__} "
                                 f"({self.adu.pdu.hex()})")
        return self.pdu


class ModbusClient:
    """One TCP connection to the device under test (see the module docstring)."""

    def __init__(self, transport: Transport, *, unit: int, timeout: float, label: str = "") -> None:
        self.transport = transport
        self.unit = unit
        self.timeout = timeout
        self.label = label
        self.codec = tcp_codec()
        self._tid = 0

    @classmethod
    def connect(cls, url: str, *, unit: int, timeout: float, record: Recorder | None = None,
                label: str = "") -> ModbusClient:
        """Open ``url``; each chunk sent/received is passed to ``record(direction, data, label)``."""
        tap = None if record is None else (lambda direction, data: record(direction, data, label))
        return cls(open_transport(url, timeout=max(timeout, 1.0), tap=tap), unit=unit, timeout=timeout,
                   label=label)

    def close(self) -> None:
        self.transport.close()

    # -- building -----------------------------------------------------------

    def next_tid(self) -> int:
        self._tid = (self._tid + 1) & 0xFFFF
        return self._tid

    def adu(self, pdu: Pdu, *, tid: int | None = None, unit: int | None = None, strict: bool = True,
            protocol_id: int = 0) -> bytes:
        """The bytes of an ADU; ``strict=False`` lets a clause build an out-of-bounds request."""
        body = self.codec.encode_pdu(pdu, strict=strict)
        return self.raw_adu(body, tid=tid, unit=unit, protocol_id=protocol_id)

    def raw_adu(self, pdu: bytes, *, tid: int | None = None, unit: int | None = None, protocol_id: int = 0,
                length: int | None = None) -> bytes:
        """An ADU around raw PDU bytes; ``length`` overrides the MBAP length field."""
        tid = self.next_tid() if tid is None else tid
        unit = self.unit if unit is None else unit
        length = len(pdu) + 1 if length is None else length
        return _MBAP.pack(tid, protocol_id, length, unit) + pdu

    # -- I/O ----------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self.transport.send(data)

    def send_segments(self, chunks: Iterable[bytes]) -> None:
        """Each chunk as its own TCP segment, best effort (TcpTransport.send_segments)."""
        if not isinstance(self.transport, TcpTransport):
            raise HarnessError(f"{self.transport.url}: segment shaping needs a TCP transport")
        self.transport.send_segments(chunks)

    def read_adu(self, timeout: float | None = None) -> RawAdu:
        """The next ADU the device sends; NoResponse / ConnectionClosed if none comes."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        header = self._read(MBAP_SIZE, deadline, limit)
        tid, pid, length, unit = _MBAP.unpack(header)
        # A length below 1 cannot even hold the unit id: nothing to read past the header.
        body = self._read(length - 1, deadline, limit) if length > 1 else b""
        return RawAdu(transaction_id=tid, protocol_id=pid, length=length, unit_id=unit, pdu=body,
                      raw=header + body)

    def _read(self, n: int, deadline: float, limit: float) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoResponse(self._no_response(limit, buf, n))
            try:
                chunk = self.transport.recv(n - len(buf), timeout=remaining)
            except TransportTimeout:
                raise NoResponse(self._no_response(limit, buf, n)) from None
            except TransportError as err:
                raise ConnectionClosed(f"{self._who()}the device reset the connection: {err}") from None
            if not chunk:
                raise ConnectionClosed(f"{self._who()}the device closed the connection "
                                       f"({len(buf)} bytes of an ADU received)")
            buf += chunk
        return bytes(buf)

    def _who(self) -> str:
        return f"[{self.label}] " if self.label else ""

    def _no_response(self, limit: float, buf: bytearray, n: int) -> str:
        got = f" ({len(buf)} of {n} bytes: {bytes(buf).hex()})" if buf else ""
        return f"{self._who()}no response within {limit:g} s{got}"

    def request(self, pdu: Pdu | bytes, *, tid: int | None = None, unit: int | None = None,
                strict: bool = True, timeout: float | None = None) -> Reply:
        """Send one request and read its answer, which must carry the same transaction id.

        ``pdu`` may be raw PDU bytes for requests the codec cannot build.
        """
        tid = self.next_tid() if tid is None else tid
        data = (self.raw_adu(pdu, tid=tid, unit=unit) if isinstance(pdu, bytes)
                else self.adu(pdu, tid=tid, unit=unit, strict=strict))
        t0 = time.monotonic()
        self.send(data)
        adu = self.read_adu(timeout)
        elapsed = time.monotonic() - t0
        assert adu.transaction_id == tid, (
            f"{self._who()}response transaction id 0x{adu.transaction_id:04X} != request's 0x{tid:04X} "
            "(MB-TCP 3.1.3: the server copies the transaction identifier)")
        return Reply(adu=adu, pdu=adu.decode(), elapsed=elapsed)

    def silence(self, window: float) -> RawAdu | ConnectionClosed | None:
        """What the device does in ``window`` seconds: an ADU, nothing (None), or closing."""
        try:
            return self.read_adu(window)
        except NoResponse:
            return None
        except ConnectionClosed as closed:
            return closed


def decode_adu(data: bytes) -> TcpAdu:
    """A whole response ADU decoded by the codec (MBAP checks included)."""
    adu: TcpAdu = tcp_codec().decode_response(data)
    return adu
