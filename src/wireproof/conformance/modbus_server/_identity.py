"""What the device says about itself, for the report: FC 43 / MEI 14 Read Device Identification (MB-AP 6.21).

Asked once per run, on a connection of its own, before the first clause's
evidence starts: the basic category (code 01: VendorName, ProductCode,
MajorMinorRevision), then the regular one (code 02: VendorUrl, ProductName,
ModelName, UserApplicationName), each read as a stream following "More
Follows" / "Next Object Id". A device that refuses FC 43/14 is asked FC 17
Report Server ID (MB-AP 6.13: server id, run indicator, device-specific data,
e.g. libmodbus's "LMB3.1.6"), given as hex and, where printable, as text.
It never decides a verdict (MB-AP-023 judges FC 43/14): a device that
answers neither gives a ``problem`` sentence instead of fields, and a
regular category it does not implement leaves the basic one.
"""

from __future__ import annotations

import json

from wireproof.codecs.modbus.constants import DeviceIdObject, ReadDeviceIdCode
from wireproof.codecs.modbus.messages import (
    ExceptionResponse,
    ReadDeviceIdentificationRequest,
    ReadDeviceIdentificationResponse,
    ReportServerIdRequest,
    ReportServerIdResponse,
)
from wireproof.errors import WireproofError
from wireproof.harness.modbus_client import BlockingModbusClient

__all__ = ["METHOD", "identify"]

METHOD = "Modbus FC 43 / MEI 14 Read Device Identification, basic and regular categories (MB-AP 6.21)"
FALLBACK = "Modbus FC 17 Report Server ID (MB-AP 6.13), after FC 43/14 was refused"
_MAX_ROUNDS = 8  # a category has at most 4 objects here; more rounds mean the device loops


def _name(object_id: int) -> str:
    try:
        return "".join(part.capitalize() for part in DeviceIdObject(object_id).name.split("_"))
    except ValueError:
        return f"object 0x{object_id:02X}"


def _text(value: bytes) -> str:
    return value.decode("latin-1") if value.isascii() else f"{value.decode('latin-1')!r} ({value.hex()})"


def _category(client: BlockingModbusClient, unit: int, code: ReadDeviceIdCode) -> dict[str, str]:
    fields: dict[str, str] = {}
    object_id = 0
    for _ in range(_MAX_ROUNDS):
        answer = client.request(ReadDeviceIdentificationRequest(read_device_id_code=int(code),
                                                                object_id=object_id), unit)
        if isinstance(answer, ExceptionResponse):
            code_ = answer.exception_code
            raise LookupError(f"exception {int(code_):02X} {getattr(code_, 'name', '')} to FC 43/14 "
                              f"read device id code {int(code):02X}".replace("  ", " "))
        if not isinstance(answer, ReadDeviceIdentificationResponse):
            raise LookupError(f"FC 43/14 answered with {type(answer).__name__}")
        fields["ConformityLevel"] = f"0x{answer.conformity_level:02X}"
        for oid, value in answer.objects:
            fields[_name(oid)] = _text(value)
        if not answer.more_follows:
            return fields
        object_id = answer.next_object_id
    return fields


def _server_id(client: BlockingModbusClient, unit: int, refused: str) -> dict[str, str]:
    answer = client.request(ReportServerIdRequest(), unit)
    if not isinstance(answer, ReportServerIdResponse):
        what = (f"exception {int(answer.exception_code):02X}" if isinstance(answer, ExceptionResponse)
                else type(answer).__name__)
        raise LookupError(f"{refused}; FC 17 answered with {what}")
    data = answer.data
    fields = {"FC 43/14": refused, "ServerIdData": data.hex()}
    printable = bytes(b for b in data if 0x20 <= b < 0x7F).decode("ascii")
    if len(printable) >= 3:
        fields["ServerIdText"] = printable
    return fields


def identify(url: str, *, unit: int, timeout: float) -> str:
    """The device's identity as the report's ``device`` JSON object (see the module docstring)."""
    fields: dict[str, str] = {}
    problem = ""
    method = METHOD
    try:
        with BlockingModbusClient.connect(url, framing="tcp", timeout=timeout,
                                          connect_timeout=max(timeout, 1.0)) as client:
            try:
                fields = _category(client, unit, ReadDeviceIdCode.BASIC)
            except (LookupError, WireproofError) as err:
                method = FALLBACK
                fields = _server_id(client, unit, str(err))
            else:
                try:
                    fields.update(_category(client, unit, ReadDeviceIdCode.REGULAR))
                except (LookupError, WireproofError) as err:
                    fields["regular category"] = f"not given: {err}"
            client.shutdown(min(timeout, 1.0))  # let the device free the connection before the clauses
    except (LookupError, WireproofError) as err:
        problem = f"the device did not identify itself: {err}"
    except OSError as err:
        problem = f"the device could not be asked: {err.strerror or err}"
    return json.dumps({"method": method, "fields": fields, "problem": problem})
