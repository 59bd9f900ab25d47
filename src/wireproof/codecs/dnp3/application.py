"""DNP3 application layer fragments (IEEE 1815-2012 clause 4.2), hand-written fast path.

A request fragment is the application control octet (FIR bit 7, FIN bit 6,
CON bit 5, UNS bit 4, SEQ bits 3..0; 4.2.2.4), the function code
(4.2.2.5) and object headers; a response (function codes 129..131) carries
the two IIN octets (4.2.2.7) before its object headers. Whether a request's
headers carry object values depends on its function code
(:data:`~.constants.HEADER_ONLY_REQUESTS`); a response's always do.
Error offsets are offsets in the fragment.
"""

from __future__ import annotations

from typing import Final

from wireproof.codecs.dnp3.constants import HEADER_ONLY_REQUESTS, FunctionCode
from wireproof.codecs.dnp3.messages import ApplicationRequest, ApplicationResponse, new_request, new_response
from wireproof.codecs.dnp3.objects import decode_objects, encode_objects
from wireproof.errors import DecodeError, EncodeError, TruncatedError

__all__ = ["decode_fragment", "encode_fragment"]

PROTOCOL: Final = "dnp3-app"


_FUNCTIONS: Final = {int(f): f for f in FunctionCode}
_HEADER_ONLY: Final = frozenset(int(f) for f in HEADER_ONLY_REQUESTS)


def decode_fragment(data: bytes, protocol: str = PROTOCOL) -> ApplicationRequest | ApplicationResponse:
    """One whole application fragment."""
    n = len(data)
    if n >= 2:
        code = data[1]
        function = _FUNCTIONS.get(code)
        if function is not None:
            c = data[0]
            if code < 129:
                objects = decode_objects(protocol, data, 2, values=code not in _HEADER_ONLY)
                return new_request(bool(c & 0x80), bool(c & 0x40), bool(c & 0x20), bool(c & 0x10), c & 0x0F,
                                   function, objects)
            if n >= 4:
                objects = decode_objects(protocol, data, 4, values=True)
                return new_response(bool(c & 0x80), bool(c & 0x40), bool(c & 0x20), bool(c & 0x10), c & 0x0F,
                                    function, data[2] << 8 | data[3], objects)
    return _decode_fragment(data, protocol)


def _decode_fragment(data: bytes, protocol: str = PROTOCOL) -> ApplicationRequest | ApplicationResponse:
    """:func:`decode_fragment` the plain way: every error of the fragment header."""
    n = len(data)
    if n < 2:
        raise TruncatedError(protocol, ("control",) if n == 0 else ("function",), n,
                             "a fragment has at least its control octet and function code (4.2.2)")
    control, code = data[0], data[1]
    try:
        function = FunctionCode(code)
    except ValueError:
        raise DecodeError(protocol, ("function",), 1,
                          f"function code {code} is not defined (4.2.2.5)") from None
    fir, fin = bool(control & 0x80), bool(control & 0x40)
    con, uns = bool(control & 0x20), bool(control & 0x10)
    if function.is_response:
        if n < 4:
            raise TruncatedError(protocol, ("iin",), n, "a response carries two IIN octets (4.2.2.7)")
        objects = decode_objects(protocol, data, 4, values=True)
        return ApplicationResponse(fir=fir, fin=fin, con=con, uns=uns, seq=control & 0x0F, function=function,
                                   iin=data[2] << 8 | data[3], objects=objects)
    objects = decode_objects(protocol, data, 2, values=function not in HEADER_ONLY_REQUESTS)
    return ApplicationRequest(fir=fir, fin=fin, con=con, uns=uns, seq=control & 0x0F, function=function,
                              objects=objects)


def encode_fragment(fragment: ApplicationRequest | ApplicationResponse, protocol: str = PROTOCOL) -> bytes:
    """The octets of ``fragment``."""
    if not 0 <= fragment.seq <= 15:
        raise EncodeError(protocol, ("seq",), f"sequence {fragment.seq} not in 0..15 (4.2.2.4.5)")
    try:
        function = FunctionCode(fragment.function)
    except ValueError:
        raise EncodeError(protocol, ("function",), f"function code {fragment.function!r} is not defined") \
            from None
    is_response = isinstance(fragment, ApplicationResponse)
    if function.is_response != is_response:
        raise EncodeError(protocol, ("function",), f"{function.name} in an {type(fragment).__name__}")
    f = fragment
    control = (f.fir << 7) | (f.fin << 6) | (f.con << 5) | (f.uns << 4) | f.seq
    head = bytes((control, function))
    if isinstance(fragment, ApplicationResponse):
        if not 0 <= fragment.iin <= 0xFFFF:
            raise EncodeError(protocol, ("iin",), f"IIN {fragment.iin} not in 0..0xffff")
        head += fragment.iin.to_bytes(2, "big")
        return head + encode_objects(protocol, fragment.objects, values=True)
    return head + encode_objects(protocol, fragment.objects, values=function not in HEADER_ONLY_REQUESTS)
