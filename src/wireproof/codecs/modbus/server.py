"""Modbus server machine (sans-I/O): request PDUs in, response PDUs out.

Normative references: MB-AP 4.4 and figure 9 ("MODBUS Transaction state
diagram"), MB-AP 6.x (one clause per function code, each with its own state
diagram), MB-AP 7 (exception codes); MB-SL 2.1 (broadcast), MB-SL 6.1
(diagnostic counters); MB-TCP 3.1.3 (MBAP), 4.4.1.2 (unit identifier).

Theory of operation
-------------------
:class:`ModbusServer` is one device: a :class:`~.datamodel.DataModel` plus
the diagnostic state of MB-SL 6.1 (counters, the comm event counter and log of
MB-AP 6.9/6.10, listen-only mode). It never touches a socket or a clock:
:meth:`ModbusServer.handle_pdu` takes a unit id and a request PDU (bytes or an
already decoded message) and returns the response PDU, or ``None`` when the
spec says not to answer.

Checks follow MB-AP figure 9, in its order:

1. function code not supported (unknown, 0x00, 0x80 set, an MEI type other
   than 14) -> exception 01 ILLEGAL FUNCTION;
2. the PDU does not decode: a quantity, byte count or value outside the
   function's bounds (any ``DecodeError`` of a supported function code) ->
   03 ILLEGAL DATA VALUE; FC 05 with a value other than 0x0000/0xFF00 is
   such a case;
3. ``start_address + quantity`` past 65536 (the codec reports that on a
   ``*start_address`` path) or a range not wholly inside one block of the
   model -> 02 ILLEGAL DATA ADDRESS;
4. executing fails -> 04 SERVER DEVICE FAILURE (also the net for anything
   unforeseen, and for a response that would not fit a 253-byte PDU).

Unit ids (the choice, documented as the task asks):

- serial framings (``rtu``, ``ascii``): address 0 is a broadcast (MB-SL 2.1):
  the request is executed by every unit of the model and never answered. An
  address not in the model is another device's: no answer (by default).
- ``tcp``: MB-TCP 4.4.1.2 says a server that is not a gateway should accept
  0xFF and may ignore the unit id. The default fixture aliases 0xFF to unit 1.
  A unit id not in the model is answered with exception 0A GATEWAY PATH
  UNAVAILABLE by default (the server behaves as a gateway with no path to that
  unit), so a client learns something rather than timing out. Unit id 0 is
  not a broadcast on TCP.
- ``unknown_unit`` overrides that: ``"exception"`` (0A), ``"drop"`` (no
  answer), ``"default"`` (serve the first unit of the model: ignore unit ids).

Counters, the event log and listen-only mode are per server, not per unit
(MB-SL 6.1 counts per serial port). The serial-line-only function codes
(07, 08, 0B, 0C, 11) are served on every framing. Listen-only mode is the
server's state on :data:`MODE` (MB-AP 6.8.1 sub-functions 01 and 04, MB-SL
6.1): in listen only mode a request gets no action and no answer, except a
valid Restart Communications Option, which leaves the mode without
answering; a restart with invalid data is an ordinary request there (ignored).

:class:`ServerConnection` is one connection (or one serial line): bytes in,
:class:`ConnectionOutput` out (replies to send, and ``close``). On TCP a
framer error (MBAP length out of 2..254, buffer overflow) means the stream
cannot be resynchronised: ``close`` is set and the connection answers nothing
more. An MBAP protocol id other than 0 is not Modbus (MB-TCP 3.1.3): that ADU
is discarded silently and the connection goes on. On serial framings a framer
or checksum error counts a bus communication error and the frame is dropped
(MB-SL 2.5.1.2); the line keeps being served, and a serial driver calls
:meth:`ServerConnection.line_idle` when the line falls silent, which ends
any partial frame as t3.5 does (MB-SL 2.5.1.1). Nothing one connection receives
affects another, except through the shared data model and counters.

A driver keeps one client from holding up the others with what a connection
tells it, never with a clock in here: ``receive_data(data, max_frames=N)``
takes at most N frames and says ``more`` (call again with ``b""``);
:attr:`ServerConnection.buffered` is the incomplete frame held (for a frame
timeout) and :attr:`ServerConnection.garbage` the bytes discarded since the
last whole frame (for a garbage budget); see
:mod:`wireproof.harness.simulators.streams`.
"""

from __future__ import annotations

import binascii
import enum
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal

from wireproof.codecs._core import NEED_DATA
from wireproof.codecs._machine import Machine, Role, Transition, TransitionTable
from wireproof.codecs.modbus import constants as C
from wireproof.codecs.modbus import messages as M
from wireproof.codecs.modbus.adu import AsciiCodec, RtuCodec, TcpCodec, crc16, lrc
from wireproof.codecs.modbus.datamodel import DataModel, UnitData
from wireproof.codecs.modbus.framers import RtuFramer
from wireproof.codecs.modbus.pdu import decode_request_pdu, encode_pdu
from wireproof.errors import ChecksumError, DecodeError, EncodeError, TruncatedError

__all__ = [
    "CONNECTION",
    "MODE",
    "ConnectionOutput",
    "ConnectionState",
    "DiagnosticCounters",
    "Framing",
    "ModbusServer",
    "ServerConnection",
    "SerialLine",
    "ServerMode",
    "TcpConnection",
    "UnknownUnitPolicy",
]

Framing = Literal["tcp", "rtu", "ascii"]
UnknownUnitPolicy = Literal["exception", "drop", "default"]

E = C.ExceptionCode
D = C.DiagnosticSubFunction

_SUPPORTED: frozenset[int] = frozenset({
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0B, 0x0C,
    0x0F, 0x10, 0x11, 0x14, 0x15, 0x16, 0x17, 0x18, 0x2B,
})
# MB-AP 6.21: the last object id of each stream category.
_CATEGORY_END = {C.ReadDeviceIdCode.BASIC: 0x02, C.ReadDeviceIdCode.REGULAR: 0x7F,
                 C.ReadDeviceIdCode.EXTENDED: 0xFF}
_FILE_RECORDS = C.MAX_FILE_RECORD_NUMBER + 1


class _Exception(Exception):
    """Internal: abort a handler with an exception code."""

    def __init__(self, code: C.ExceptionCode) -> None:
        self.code = code


@dataclass(slots=True)
class DiagnosticCounters:
    """The counters of MB-SL 6.1 (sub-functions 0B..12) and MB-AP 6.9."""

    bus_message: int = 0
    bus_communication_error: int = 0
    bus_exception_error: int = 0
    server_message: int = 0
    server_no_response: int = 0
    server_nak: int = 0
    server_busy: int = 0
    bus_character_overrun: int = 0
    comm_event_counter: int = 0

    def clear(self, *, event_counter: bool) -> None:
        keep = self.comm_event_counter
        for name in self.__slots__:
            setattr(self, name, 0)
        if not event_counter:
            self.comm_event_counter = keep


class ServerMode(enum.Enum):
    """Whether the server answers (MB-SL 6.1: "Listen Only Mode")."""

    ONLINE = "online"
    LISTEN_ONLY = "listen only"


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestReceived:
    """Any request but the two below (or one of them with invalid data)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ForceListenOnly:
    """FC 08 sub-function 04 with data 0x0000 (MB-AP 6.8.1)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartCommunications:
    """FC 08 sub-function 01 with data 0x0000 or 0xFF00 (MB-AP 6.8.1)."""


_ON, _LISTEN = ServerMode.ONLINE, ServerMode.LISTEN_ONLY

MODE: Final = TransitionTable(
    name="Modbus server mode", protocol="modbus", states=ServerMode,
    events=(RequestReceived, ForceListenOnly, RestartCommunications),
    rules={
        (_ON, RequestReceived): Transition(_ON, "serve"),
        (_ON, ForceListenOnly): Transition(_LISTEN, "serve"),  # logged; "No response is returned"
        (_ON, RestartCommunications): Transition(_ON, "serve"),  # counters cleared, echoed
        (_LISTEN, RequestReceived): Transition(_LISTEN, "ignore"),  # MB-SL 6.1: no action, no response
        (_LISTEN, ForceListenOnly): Transition(_LISTEN, "ignore"),
        # MB-AP 6.8.1 sub-function 01: "If the port is currently in Listen Only Mode, no response is returned"
        (_LISTEN, RestartCommunications): Transition(_ON, "serve-silently"),
    },
    clause="MB-AP 6.8.1",
)


class ModbusServer(Machine[ServerMode]):
    """One Modbus device over a data model (theory of operation in the module docstring)."""

    TABLE = MODE

    def __init__(self, datamodel: DataModel, *, framing: Framing = "tcp",
                 unknown_unit: UnknownUnitPolicy | None = None) -> None:
        if framing not in ("tcp", "rtu", "ascii"):
            raise ValueError(f"framing must be tcp, rtu or ascii, not {framing!r}")
        self.datamodel = datamodel
        self.framing: Framing = framing
        self.unknown_unit: UnknownUnitPolicy = unknown_unit or ("exception" if framing == "tcp" else "drop")
        self.counters = DiagnosticCounters()
        self.diagnostic_register = 0
        self.state = ServerMode.ONLINE
        self.ascii_delimiter = 0x0A  # MB-SL 2.5.2.1: LF; recorded only, framing uses CR LF
        # MB-AP 6.10: up to 64 event bytes, most recent first.
        self.event_log: deque[int] = deque(maxlen=C.MAX_COMM_EVENTS)
        self._handlers: dict[type[Any], Callable[[UnitData, Any], M.Pdu | None]] = {
            M.ReadCoilsRequest: self._read_coils,
            M.ReadDiscreteInputsRequest: self._read_discrete_inputs,
            M.ReadHoldingRegistersRequest: self._read_holding,
            M.ReadInputRegistersRequest: self._read_input,
            M.WriteSingleCoilRequest: self._write_single_coil,
            M.WriteSingleRegisterRequest: self._write_single_register,
            M.ReadExceptionStatusRequest: self._read_exception_status,
            M.DiagnosticsRequest: self._diagnostics,
            M.GetCommEventCounterRequest: self._comm_event_counter,
            M.GetCommEventLogRequest: self._comm_event_log,
            M.WriteMultipleCoilsRequest: self._write_multiple_coils,
            M.WriteMultipleRegistersRequest: self._write_multiple_registers,
            M.ReportServerIdRequest: self._report_server_id,
            M.ReadFileRecordRequest: self._read_file_record,
            M.WriteFileRecordRequest: self._write_file_record,
            M.MaskWriteRegisterRequest: self._mask_write,
            M.ReadWriteMultipleRegistersRequest: self._read_write,
            M.ReadFifoQueueRequest: self._read_fifo,
            M.ReadDeviceIdentificationRequest: self._read_device_id,
        }

    @property
    def listen_only(self) -> bool:
        """Whether the server is in listen only mode (MB-SL 6.1)."""
        return self.state is ServerMode.LISTEN_ONLY

    @classmethod
    def in_state(cls, state: ServerMode) -> ModbusServer:
        from wireproof.codecs.modbus.datamodel import DataModel

        server = cls(DataModel.from_toml("[[unit]]\nid = 1\n[[unit.holding_registers]]\nstart = 0\n"
                                         "count = 10\n"))
        server.state = state
        return server

    def handle(self, event: object, role: Role) -> M.Pdu | None:
        """The request each event type stands for, sent to unit 1."""
        sub = (D.FORCE_LISTEN_ONLY_MODE if isinstance(event, ForceListenOnly) else
               D.RESTART_COMMUNICATIONS_OPTION if isinstance(event, RestartCommunications) else None)
        if sub is None and not isinstance(event, RequestReceived):
            raise TypeError(f"not a server mode event: {event!r}")
        request: M.Pdu = (M.ReadHoldingRegistersRequest(start_address=0, quantity=1) if sub is None
                          else M.DiagnosticsRequest(sub_function=sub, data=b"\x00\x00"))
        return self.handle_pdu(1, request)

    # --- entry points -------------------------------------------------------------------

    def connection(self) -> ServerConnection:
        """A new per-connection machine sharing this server's data and counters."""
        return TcpConnection(self) if self.framing == "tcp" else SerialLine(self)

    def answered_addresses(self) -> frozenset[int] | None:
        """The serial addresses this server acts on (its units, broadcast 0); None: any address.

        None when an unknown unit is answered (``unknown_unit`` other than
        ``"drop"``), or on TCP where unit ids are not addresses.
        """
        if self.framing == "tcp" or self.unknown_unit != "drop":
            return None
        units = self.datamodel.unit
        return frozenset(a for a in range(256) if a == C.BROADCAST_ADDRESS or units(a) is not None)

    def note_communication_error(self) -> None:
        """A frame failed its checksum or framing (MB-SL 6.1, sub-function 0C; MB-AP 6.10 bit 1)."""
        self.counters.bus_communication_error += 1
        self._log(0x80 | 0x02 | (0x20 if self.listen_only else 0))

    def handle_pdu(self, unit_id: int, request: bytes | M.Pdu) -> M.Pdu | None:
        """The response PDU to ``request`` sent to ``unit_id``, or ``None`` for no answer."""
        self.counters.bus_message += 1
        broadcast = self.framing != "tcp" and unit_id == C.BROADCAST_ADDRESS
        unit = self.datamodel.unit(unit_id)
        if not broadcast and unit is None:
            if self.unknown_unit == "default" and self.datamodel.units:
                unit = next(iter(self.datamodel.units.values()))
            elif self.unknown_unit == "exception":
                fc = _function_code(request)
                if fc is None:
                    return None
                return M.ExceptionResponse(function_code=fc & 0x7F,
                                           exception_code=E.GATEWAY_PATH_UNAVAILABLE)
            else:
                return None
        self.counters.server_message += 1
        self._log(0x80 | (0x40 if broadcast else 0) | (0x20 if self.listen_only else 0))
        if broadcast:
            for target in {id(u): u for u in self.datamodel.units.values()}.values():
                self._process(target, request)
            self.counters.server_no_response += 1
            return None
        assert unit is not None
        response = self._process(unit, request)
        if response is None:
            self.counters.server_no_response += 1
        return response

    # --- the figure 9 pipeline ----------------------------------------------------------

    def _process(self, unit: UnitData, request: bytes | M.Pdu) -> M.Pdu | None:
        fc = _function_code(request)
        if fc is None:
            return None
        pdu: Any = request
        code: C.ExceptionCode | None = None
        if fc not in _SUPPORTED:
            code = E.ILLEGAL_FUNCTION
        elif isinstance(request, bytes | bytearray):
            try:
                pdu = decode_request_pdu(bytes(request))
            except DecodeError as err:
                code = E.ILLEGAL_DATA_ADDRESS if _is_address_error(err) else E.ILLEGAL_DATA_VALUE
        handler = None if code is not None else self._handlers.get(type(pdu))
        if code is None and handler is None:
            code = E.ILLEGAL_FUNCTION  # an MEI type we do not serve, or an UnknownPdu
        mode = self._step(_mode_event(pdu) if code is None else RequestReceived(), Role.REMOTE)
        if mode.action == "ignore":
            return None  # MB-SL 6.1 sub-function 04: no action, no response
        response: M.Pdu | None
        if code is not None:
            response = M.ExceptionResponse(function_code=fc & 0x7F, exception_code=code)
        else:
            assert handler is not None
            try:
                response = handler(unit, pdu)
                if response is not None and len(encode_pdu(response)) > C.MAX_PDU_SIZE:
                    raise _Exception(E.SERVER_DEVICE_FAILURE)
            except _Exception as exc:
                response = M.ExceptionResponse(function_code=fc, exception_code=exc.code)
            except (EncodeError, ValueError, TypeError, KeyError, IndexError, OverflowError):
                response = M.ExceptionResponse(function_code=fc, exception_code=E.SERVER_DEVICE_FAILURE)
            if mode.action == "serve-silently":
                response = None
        if isinstance(response, M.ExceptionResponse):
            self.counters.bus_exception_error += 1
            self._log(0x40 | _exception_event_bit(int(response.exception_code))
                      | (0x20 if self.listen_only else 0))
        elif response is not None:
            if fc not in (0x0B, 0x0C):  # MB-AP 6.9: fetch-event commands are not counted
                self.counters.comm_event_counter += 1
            self._log(0x40 | (0x20 if self.listen_only else 0))
        return response

    def _log(self, event: int) -> None:
        self.event_log.appendleft(event)

    # --- 01..06, 0F, 10, 16, 17: data access ---------------------------------------------

    @staticmethod
    def _read(table: Any, start: int, quantity: int) -> list[Any]:
        values = table.read(start, quantity)
        if values is None:
            raise _Exception(E.ILLEGAL_DATA_ADDRESS)
        return list(values)

    @staticmethod
    def _write(table: Any, start: int, values: Any) -> None:
        if not table.write(start, list(values)):
            raise _Exception(E.ILLEGAL_DATA_ADDRESS)

    @classmethod
    def _read_bits(cls, table: Any, start: int, quantity: int) -> tuple[bool, ...]:
        # The message holds byte_count * 8 bits (messages.py); padding bits are zero (MB-AP 6.1).
        values = cls._read(table, start, quantity)
        return tuple(values) + (False,) * (-quantity % 8)

    def _read_coils(self, unit: UnitData, pdu: M.ReadCoilsRequest) -> M.Pdu:
        return M.ReadCoilsResponse(values=self._read_bits(unit.coils, pdu.start_address, pdu.quantity))

    def _read_discrete_inputs(self, unit: UnitData, pdu: M.ReadDiscreteInputsRequest) -> M.Pdu:
        values = self._read_bits(unit.discrete_inputs, pdu.start_address, pdu.quantity)
        return M.ReadDiscreteInputsResponse(values=values)

    def _read_holding(self, unit: UnitData, pdu: M.ReadHoldingRegistersRequest) -> M.Pdu:
        values = self._read(unit.holding_registers, pdu.start_address, pdu.quantity)
        return M.ReadHoldingRegistersResponse(values=tuple(values))

    def _read_input(self, unit: UnitData, pdu: M.ReadInputRegistersRequest) -> M.Pdu:
        values = self._read(unit.input_registers, pdu.start_address, pdu.quantity)
        return M.ReadInputRegistersResponse(values=tuple(values))

    def _write_single_coil(self, unit: UnitData, pdu: M.WriteSingleCoilRequest) -> M.Pdu:
        if pdu.value not in (C.COIL_ON, C.COIL_OFF):  # MB-AP 6.5: a decoded message may skip the codec
            raise _Exception(E.ILLEGAL_DATA_VALUE)
        self._write(unit.coils, pdu.address, [pdu.value == C.COIL_ON])
        return M.WriteSingleCoilResponse(address=pdu.address, value=pdu.value)

    def _write_single_register(self, unit: UnitData, pdu: M.WriteSingleRegisterRequest) -> M.Pdu:
        self._write(unit.holding_registers, pdu.address, [pdu.value])
        return M.WriteSingleRegisterResponse(address=pdu.address, value=pdu.value)

    def _write_multiple_coils(self, unit: UnitData, pdu: M.WriteMultipleCoilsRequest) -> M.Pdu:
        self._write(unit.coils, pdu.start_address, [bool(v) for v in pdu.values])
        return M.WriteMultipleCoilsResponse(start_address=pdu.start_address, quantity=len(pdu.values))

    def _write_multiple_registers(self, unit: UnitData, pdu: M.WriteMultipleRegistersRequest) -> M.Pdu:
        self._write(unit.holding_registers, pdu.start_address, pdu.values)
        return M.WriteMultipleRegistersResponse(start_address=pdu.start_address, quantity=len(pdu.values))

    def _mask_write(self, unit: UnitData, pdu: M.MaskWriteRegisterRequest) -> M.Pdu:
        current = self._read(unit.holding_registers, pdu.address, 1)[0]
        # MB-AP 6.16: Result = (Current Contents AND And_Mask) OR (Or_Mask AND (NOT And_Mask)).
        result = (current & pdu.and_mask) | (pdu.or_mask & ~pdu.and_mask & 0xFFFF)
        self._write(unit.holding_registers, pdu.address, [result])
        return M.MaskWriteRegisterResponse(address=pdu.address, and_mask=pdu.and_mask, or_mask=pdu.or_mask)

    def _read_write(self, unit: UnitData, pdu: M.ReadWriteMultipleRegistersRequest) -> M.Pdu:
        regs = unit.holding_registers
        # Both ranges are checked before anything is written, so a 02 leaves the model unchanged.
        if not regs.contains(pdu.read_start_address, pdu.read_quantity) or not regs.contains(
                pdu.write_start_address, len(pdu.values)):
            raise _Exception(E.ILLEGAL_DATA_ADDRESS)
        self._write(regs, pdu.write_start_address, pdu.values)  # MB-AP 6.17: write before read
        return M.ReadWriteMultipleRegistersResponse(
            values=tuple(self._read(regs, pdu.read_start_address, pdu.read_quantity)))

    # --- 07, 08, 0B, 0C, 11: serial-line diagnostics -------------------------------------

    def _read_exception_status(self, unit: UnitData, pdu: M.ReadExceptionStatusRequest) -> M.Pdu:
        return M.ReadExceptionStatusResponse(status=unit.exception_status)

    def _diagnostics(self, unit: UnitData, pdu: M.DiagnosticsRequest) -> M.Pdu | None:
        sub, data = int(pdu.sub_function), pdu.data
        echo = M.DiagnosticsResponse(sub_function=pdu.sub_function, data=data)
        zero = b"\x00\x00"
        if sub == D.RETURN_QUERY_DATA:
            return echo
        if sub == D.RESTART_COMMUNICATIONS_OPTION:  # the mode table has left listen only mode
            if data not in _RESTART_DATA:
                raise _Exception(E.ILLEGAL_DATA_VALUE)
            self.counters.clear(event_counter=True)
            if data == b"\xff\x00":
                self.event_log.clear()
            self._log(0x00)  # MB-AP 6.10: communications restart event
            return echo
        if sub == D.CHANGE_ASCII_INPUT_DELIMITER:
            if len(data) != 2 or data[1] != 0:
                raise _Exception(E.ILLEGAL_DATA_VALUE)
            self.ascii_delimiter = data[0]
            return echo
        counters = {
            D.RETURN_BUS_MESSAGE_COUNT: self.counters.bus_message,
            D.RETURN_BUS_COMMUNICATION_ERROR_COUNT: self.counters.bus_communication_error,
            D.RETURN_BUS_EXCEPTION_ERROR_COUNT: self.counters.bus_exception_error,
            D.RETURN_SERVER_MESSAGE_COUNT: self.counters.server_message,
            D.RETURN_SERVER_NO_RESPONSE_COUNT: self.counters.server_no_response,
            D.RETURN_SERVER_NAK_COUNT: self.counters.server_nak,
            D.RETURN_SERVER_BUSY_COUNT: self.counters.server_busy,
            D.RETURN_BUS_CHARACTER_OVERRUN_COUNT: self.counters.bus_character_overrun,
            D.RETURN_DIAGNOSTIC_REGISTER: self.diagnostic_register,
        }
        known = set(counters) | {D.FORCE_LISTEN_ONLY_MODE, D.CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER,
                                 D.CLEAR_OVERRUN_COUNTER_AND_FLAG}
        if sub not in known:
            raise _Exception(E.ILLEGAL_FUNCTION)  # a sub-function this device does not implement
        if data != zero:
            raise _Exception(E.ILLEGAL_DATA_VALUE)
        if sub == D.FORCE_LISTEN_ONLY_MODE:  # the mode table has entered listen only mode
            self._log(0x04)  # MB-AP 6.10: entered listen only mode
            return None  # MB-SL 6.1: "No response is returned."
        if sub == D.CLEAR_COUNTERS_AND_DIAGNOSTIC_REGISTER:
            self.counters.clear(event_counter=False)
            self.diagnostic_register = 0
            return echo
        if sub == D.CLEAR_OVERRUN_COUNTER_AND_FLAG:
            self.counters.bus_character_overrun = 0
            return echo
        return M.DiagnosticsResponse(sub_function=pdu.sub_function,
                                     data=struct.pack(">H", counters[D(sub)] & 0xFFFF))

    def _comm_event_counter(self, unit: UnitData, pdu: M.GetCommEventCounterRequest) -> M.Pdu:
        # MB-AP 6.9: status 0x0000 = no previous command still in progress (never busy here).
        return M.GetCommEventCounterResponse(status=0, event_count=self.counters.comm_event_counter & 0xFFFF)

    def _comm_event_log(self, unit: UnitData, pdu: M.GetCommEventLogRequest) -> M.Pdu:
        return M.GetCommEventLogResponse(status=0, event_count=self.counters.comm_event_counter & 0xFFFF,
                                         message_count=self.counters.bus_message & 0xFFFF,
                                         events=bytes(self.event_log))

    def _report_server_id(self, unit: UnitData, pdu: M.ReportServerIdRequest) -> M.Pdu:
        run = b"\xff" if unit.run_indicator else b"\x00"  # MB-AP 6.13: 0x00 OFF, 0xFF ON
        return M.ReportServerIdResponse(data=unit.server_id + run + unit.additional_data)

    # --- 14, 15: file records (MB-AP 6.14, 6.15) ------------------------------------------

    @staticmethod
    def _file(unit: UnitData, number: int, record: int, length: int) -> Any:
        table = unit.files.get(number)
        if table is None or record + length > _FILE_RECORDS or not table.contains(record, length):
            raise _Exception(E.ILLEGAL_DATA_ADDRESS)
        return table

    def _read_file_record(self, unit: UnitData, pdu: M.ReadFileRecordRequest) -> M.Pdu:
        if any(r.record_length < 1 for r in pdu.records):
            raise _Exception(E.ILLEGAL_DATA_VALUE)
        # MB-AP 6.14: the response must fit a PDU: fc, length, then per record length, 6, data.
        if 2 + sum(2 + 2 * r.record_length for r in pdu.records) > C.MAX_PDU_SIZE:
            raise _Exception(E.ILLEGAL_DATA_VALUE)
        out = []
        for r in pdu.records:
            table = self._file(unit, r.file_number, r.record_number, r.record_length)
            out.append(tuple(table.read(r.record_number, r.record_length)))
        return M.ReadFileRecordResponse(records=tuple(out))

    def _write_file_record(self, unit: UnitData, pdu: M.WriteFileRecordRequest) -> M.Pdu:
        if any(not r.values for r in pdu.records):
            raise _Exception(E.ILLEGAL_DATA_VALUE)
        tables = [self._file(unit, r.file_number, r.record_number, len(r.values)) for r in pdu.records]
        for table, r in zip(tables, pdu.records, strict=True):
            table.write(r.record_number, list(r.values))
        return M.WriteFileRecordResponse(records=pdu.records)

    # --- 18: FIFO (MB-AP 6.18) -------------------------------------------------------------

    def _read_fifo(self, unit: UnitData, pdu: M.ReadFifoQueueRequest) -> M.Pdu:
        queue = unit.fifos.get(pdu.fifo_pointer_address)
        if queue is None:
            raise _Exception(E.ILLEGAL_DATA_ADDRESS)
        if len(queue) > C.MAX_FIFO_COUNT:
            raise _Exception(E.ILLEGAL_DATA_VALUE)  # MB-AP 6.18: "queue count exceeds 31"
        return M.ReadFifoQueueResponse(values=tuple(queue))

    # --- 2B / 0E: read device identification (MB-AP 6.21) ---------------------------------

    def _read_device_id(self, unit: UnitData, pdu: M.ReadDeviceIdentificationRequest) -> M.Pdu:
        objects = unit.device_identification
        if not objects:
            raise _Exception(E.ILLEGAL_FUNCTION)
        top = max(objects)
        level = (C.ConformityLevel.EXTENDED_STREAM_AND_INDIVIDUAL if top > 0x7F
                 else C.ConformityLevel.REGULAR_STREAM_AND_INDIVIDUAL if top > 0x02
                 else C.ConformityLevel.BASIC_STREAM_AND_INDIVIDUAL)
        code = pdu.read_device_id_code
        if code == C.ReadDeviceIdCode.SPECIFIC:
            if pdu.object_id not in objects:
                raise _Exception(E.ILLEGAL_DATA_ADDRESS)  # MB-AP 6.21: individual access, unknown id
            return M.ReadDeviceIdentificationResponse(
                read_device_id_code=code, conformity_level=level, more_follows=False, next_object_id=0,
                objects=((pdu.object_id, objects[pdu.object_id]),))
        end = _CATEGORY_END.get(C.ReadDeviceIdCode(code), 0xFF)
        stream = [oid for oid in sorted(objects) if oid <= end]
        # MB-AP 6.21: an object id that matches no object of the category restarts at object 0.
        start = pdu.object_id if pdu.object_id in stream else 0
        chosen: list[tuple[int, bytes]] = []
        size = 7  # fc, MEI type, code, conformity, more follows, next object id, number of objects
        more, next_id = False, 0
        for oid in (o for o in stream if o >= start):
            need = 2 + len(objects[oid])
            if size + need > C.MAX_PDU_SIZE:
                more, next_id = True, oid
                break
            chosen.append((oid, objects[oid]))
            size += need
        return M.ReadDeviceIdentificationResponse(
            read_device_id_code=code, conformity_level=level, more_follows=more,
            next_object_id=next_id, objects=tuple(chosen))


_RESTART_DATA: Final = (b"\x00\x00", b"\xff\x00")


def _mode_event(pdu: Any) -> RequestReceived | ForceListenOnly | RestartCommunications:
    """The :data:`MODE` event a decoded request is (MB-AP 6.8.1: only valid data counts)."""
    if isinstance(pdu, M.DiagnosticsRequest):
        if pdu.sub_function == D.RESTART_COMMUNICATIONS_OPTION and pdu.data in _RESTART_DATA:
            return RestartCommunications()
        if pdu.sub_function == D.FORCE_LISTEN_ONLY_MODE and pdu.data == b"\x00\x00":
            return ForceListenOnly()
    return RequestReceived()


def _function_code(request: bytes | M.Pdu) -> int | None:
    if isinstance(request, bytes | bytearray):
        return request[0] if request else None
    return int(request.function_code)


def _is_address_error(err: DecodeError) -> bool:
    # The codec reports "start + quantity > 65536" on a *start_address path (pdu.py docstring).
    return bool(err.path) and str(err.path[-1]).endswith("start_address")


def _exception_event_bit(code: int) -> int:
    # MB-AP 6.10, "Remote device send event": bit 0 read exception (01-03), bit 1 server
    # abort (04), bit 2 busy (05-06), bit 3 program NAK (07).
    if code <= 3:
        return 0x01
    if code == 4:
        return 0x02
    if code in (5, 6):
        return 0x04
    return 0x08


# --- per-connection machine -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOutput:
    """What :meth:`ServerConnection.receive_data` asks the driver to do.

    ``replies``: ADUs to send, in order. ``close``: close the connection after
    sending them (the stream cannot be resynchronised). ``errors``: what was
    wrong with the input, for logs and conformance evidence. ``frames``: how
    many whole frames were taken (answered or not). ``more``: the frame budget
    ran out with bytes still buffered; call again (with no data) for the rest.
    """

    replies: tuple[bytes, ...] = ()
    close: bool = False
    errors: tuple[DecodeError, ...] = field(default=())
    frames: int = 0
    more: bool = False


_MBAP = struct.Struct(">HHHB")


class ConnectionState(enum.Enum):
    """A connection (or serial line) of the server: served, or closed for good."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True, kw_only=True)
class DataReceived:
    """Bytes arrived on the connection."""

    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unframeable:
    """The framer proved the stream invalid (an MBAP length out of 2..254, an RTU/ASCII frame error)."""


_OPEN, _CLOSED = ConnectionState.OPEN, ConnectionState.CLOSED

CONNECTION: Final[dict[str, TransitionTable[ConnectionState]]] = {
    # MB-TCP 3.1.3: a bad MBAP length leaves no way to find the next ADU: the connection is closed.
    "tcp": TransitionTable(
        name="Modbus/TCP server connection", protocol="modbus-tcp", states=ConnectionState,
        events=(DataReceived, Unframeable),
        rules={(_OPEN, DataReceived): Transition(_OPEN, "frame"),
               (_OPEN, Unframeable): Transition(_CLOSED, "close"),
               (_CLOSED, DataReceived): Transition(_CLOSED, "ignore"),
               (_CLOSED, Unframeable): Transition(_CLOSED, "ignore")},
        clause="MB-TCP 3.1.3"),
    # MB-SL 2.5.1.2: a bad frame is counted and dropped; the line keeps being served.
    "serial": TransitionTable(
        name="Modbus serial line (server side)", protocol="modbus-rtu", states=ConnectionState,
        events=(DataReceived, Unframeable),
        rules={(_OPEN, DataReceived): Transition(_OPEN, "frame"),
               (_OPEN, Unframeable): Transition(_OPEN, "count")},
        clause="MB-SL 2.5.1.2"),
}
"""The connection's table by transport: ``"tcp"``, or ``"serial"`` (RTU and ASCII, also over TCP)."""


class ServerConnection(Machine[ConnectionState]):
    """One connection to a :class:`ModbusServer` (sans-I/O; see the module docstring).

    :class:`TcpConnection` and :class:`SerialLine` differ in their table only
    (:data:`CONNECTION`); :meth:`ModbusServer.connection` picks by framing.
    """

    FRAMING: ClassVar[Framing] = "tcp"

    def __init__(self, server: ModbusServer) -> None:
        self.server = server
        self.state = ConnectionState.OPEN
        self._since_frame = 0  # bytes received since the last whole frame
        self._codec: TcpCodec | RtuCodec | AsciiCodec
        self._framer: Any
        if server.framing == "tcp":
            self._codec = TcpCodec()
            self._framer = self._codec.framer()
        elif server.framing == "rtu":
            self._codec = RtuCodec()
            self._framer = RtuFramer(direction="request", addresses=server.answered_addresses())
        else:
            self._codec = AsciiCodec()
            self._framer = self._codec.framer()

    @property
    def closed(self) -> bool:
        return self.state is ConnectionState.CLOSED

    @classmethod
    def in_state(cls, state: ConnectionState) -> ServerConnection:
        server = ModbusServer.in_state(ServerMode.ONLINE)
        server.framing = cls.FRAMING
        connection = cls(server)
        connection.state = state
        return connection

    def handle(self, event: object, role: Role) -> ConnectionOutput:
        """``DataReceived`` feeds its bytes; ``Unframeable`` acts as if the framer had raised."""
        if isinstance(event, Unframeable):
            err = DecodeError(self.server.framing, ("stream",), 0, "unframeable (a test of the table)")
            return self._framing_error([], [], err)
        if isinstance(event, DataReceived):
            return self.receive_data(event.data)
        raise TypeError(f"not a connection event: {event!r}")

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held (a driver's frame timeout runs while this is > 0)."""
        return int(self._framer.buffered)

    @property
    def garbage(self) -> int:
        """Bytes received and discarded since the last whole frame (a driver's garbage budget)."""
        return self._since_frame - self.buffered

    def receive_data(self, data: bytes, *, max_frames: int | None = None) -> ConnectionOutput:
        """Feed received bytes; returns the replies to send and whether to close.

        ``max_frames`` bounds the frames taken in this call (a driver's
        per-turn budget, so one client cannot hold the others up); ``more``
        in the output says frames may remain: call again with ``b""``.
        """
        if self._step(DataReceived(), Role.REMOTE).action == "ignore":
            return ConnectionOutput(close=True)
        replies: list[bytes] = []
        errors: list[DecodeError] = []
        frames = 0
        self._since_frame += len(data)
        try:
            self._framer.feed(bytes(data))
        except DecodeError as err:
            return self._framing_error(replies, errors, err)
        while True:
            if max_frames is not None and frames >= max_frames:
                return ConnectionOutput(replies=tuple(replies), errors=tuple(errors), frames=frames,
                                        more=self.buffered > 0)
            try:
                frame = self._framer.next_frame()
            except DecodeError as err:
                out = self._framing_error(replies, errors, err, frames)
                if out.close:
                    return out
                continue
            if frame is NEED_DATA:
                break
            assert isinstance(frame, bytes)
            frames += 1
            self._since_frame = self.buffered
            try:
                reply = self._handle_frame(frame)
            except DecodeError as err:
                errors.append(err)
                self.server.note_communication_error()
                continue
            if reply is not None:
                replies.append(reply)
        return ConnectionOutput(replies=tuple(replies), errors=tuple(errors), frames=frames)

    def line_idle(self) -> int:
        """The line has been silent for longer than t3.5: drop any partial frame (MB-SL 2.5.1.1).

        The RTU byte-stream framer cannot always tell where a frame ends after
        garbage (an unknown function code is scanned for a matching CRC); on a
        real line, silence ends a frame. Serial drivers call this when a read
        times out. Returns the number of bytes dropped (counted as one bus
        communication error if any).
        """
        dropped = int(self._framer.buffered)
        if dropped and self.server.framing != "tcp":
            self._framer.clear()
            self._since_frame = 0
            self.server.note_communication_error()
            return dropped
        return 0

    def _framing_error(self, replies: list[bytes], errors: list[DecodeError],
                       err: DecodeError, frames: int = 0) -> ConnectionOutput:
        errors.append(err)
        self.server.note_communication_error()
        if self._step(Unframeable(), Role.REMOTE).action == "close":
            return ConnectionOutput(replies=tuple(replies), close=True, errors=tuple(errors), frames=frames)
        return ConnectionOutput(replies=tuple(replies), errors=tuple(errors), frames=frames)

    def _handle_frame(self, frame: bytes) -> bytes | None:
        name = self._codec.name
        if self.server.framing == "tcp":
            if len(frame) < C.MBAP_HEADER_SIZE + 1:
                raise TruncatedError(name, ("mbap",), len(frame), "ADU shorter than MBAP + function code")
            tid, pid, _length, unit = _MBAP.unpack_from(frame)
            if pid != C.MODBUS_PROTOCOL_ID:
                return None  # MB-TCP 3.1.3: not a Modbus ADU; discarded silently
            response = self.server.handle_pdu(unit, frame[C.MBAP_HEADER_SIZE:])
            if response is None:
                return None
            return self._encode(M.TcpAdu(transaction_id=tid, unit_id=unit, pdu=response))
        if self.server.framing == "rtu":
            if len(frame) < 4:
                raise TruncatedError(name, ("adu",), len(frame), "an RTU frame has at least 4 bytes")
            if crc16(frame[:-2]) != frame[-2] | frame[-1] << 8:
                raise ChecksumError(name, ("crc",), len(frame) - 2, "CRC-16 does not match the frame")
            address, pdu = frame[0], frame[1:-2]
            response = self.server.handle_pdu(address, pdu)
            return None if response is None else self._encode(M.RtuAdu(address=address, pdu=response))
        raw = _unhex_ascii(name, frame)
        address, pdu = raw[0], raw[1:-1]
        response = self.server.handle_pdu(address, pdu)
        return None if response is None else self._encode(M.AsciiAdu(address=address, pdu=response))

    def _encode(self, adu: Any) -> bytes:
        try:
            return self._codec.encode(adu)
        except EncodeError:
            # handle_pdu already checked the size; only a data model value out of range gets here.
            fc = adu.pdu.function_code & 0x7F
            failure = M.ExceptionResponse(function_code=fc, exception_code=E.SERVER_DEVICE_FAILURE)
            return self._codec.encode(type(adu)(**{**_adu_fields(adu), "pdu": failure}))


class TcpConnection(ServerConnection):
    """A Modbus/TCP connection (MBAP framing; closed when the stream cannot be framed)."""

    TABLE = CONNECTION["tcp"]


class SerialLine(ServerConnection):
    """A serial line, or RTU/ASCII carried over TCP (bad frames counted and dropped)."""

    TABLE = CONNECTION["serial"]
    FRAMING = "rtu"


def _adu_fields(adu: Any) -> dict[str, Any]:
    return {name: getattr(adu, name) for name in adu.__slots__}


def _unhex_ascii(name: str, frame: bytes) -> bytes:
    """The binary address, PDU and LRC of an ASCII frame, LRC checked (MB-SL 2.5.2, 6.2.1)."""
    body = frame[1:-2] if frame[:1] == C.ASCII_START and frame[-2:] == C.ASCII_END else b""
    if len(body) < 6 or len(body) % 2:
        raise DecodeError(name, ("adu",), 0, "not a ':' ... CR LF frame of address, PDU and LRC")
    try:
        raw = binascii.unhexlify(body)
    except binascii.Error:
        raise DecodeError(name, ("adu",), 1, "characters that are not hex digits") from None
    if lrc(raw[:-1]) != raw[-1]:
        raise ChecksumError(name, ("lrc",), len(frame) - 4, "LRC does not match the frame")
    return raw
